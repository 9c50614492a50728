//! The events of a change stream (`GET /api/events`): one for each instance step committed,
//! one for each human task a step changed, and a notice that events were missed.

use serde::{Deserialize, Serialize};

use crate::human_task::HumanTaskStatus;
use crate::instance::InstanceStatus;
use crate::task::TaskStatus;

/// One event of a change stream. On the wire (server-sent events) its `event` names the
/// event's type and its `data` is this object, `event` included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ChangeEvent {
    /// A step of an instance was committed.
    Instance(InstanceChanged),
    /// A step changed a human task.
    HumanTask(HumanTaskChanged),
    /// The stream fell behind and `missed` events were dropped: read the current state again.
    Lagged { missed: u64 },
}

impl ChangeEvent {
    /// The event's type: `instance`, `human_task` or `lagged`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Instance(_) => "instance",
            Self::HumanTask(_) => "human_task",
            Self::Lagged { .. } => "lagged",
        }
    }
}

/// An instance after one committed step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstanceChanged {
    /// The instance id.
    pub instance: String,
    /// The process (definition id; `PROCESS/TASK` for a ForEach iteration).
    pub process: String,
    /// The instance's status after the step.
    pub status: InstanceStatus,
    /// Did the step start the instance or change its status?
    pub status_changed: bool,
    /// The `seq` of the instance's latest history event after the step: its history up to
    /// here can be read with `GET /api/instances/{id}/history`.
    pub history_seq: u64,
    /// The tasks whose status the step changed, each with its new status.
    pub tasks: Vec<TaskChanged>,
}

/// A task whose status a step changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskChanged {
    /// The task's id.
    pub task: String,
    /// Its new status.
    pub status: TaskStatus,
}

/// A human task after a step changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HumanTaskChanged {
    /// The instance id.
    pub instance: String,
    /// The process (definition id).
    pub process: String,
    /// The `user` task's id in the process.
    pub task: String,
    /// The human task's number within it.
    pub human_task: u32,
    /// Its status after the step.
    pub status: HumanTaskStatus,
    /// Who has it claimed; `null` if nobody.
    pub owner: Option<String>,
}
