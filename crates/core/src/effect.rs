//! What a driver must do after persisting a transition ([`Effect`]), and the job it hands to a
//! worker ([`JobRequest`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::command::Command;
use crate::status::InstanceStatus;

/// What a driver must do after persisting a transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    RunJob(JobRequest),
    CancelJob {
        task: String,
        attempt: u32,
    },
    /// Persist a durable timer (replacing one with the same key); at `due_at` the driver
    /// applies `command` to the instance.
    SetTimer {
        key: String,
        #[serde(with = "crate::timestamp")]
        due_at: DateTime<Utc>,
        command: Command,
    },
    ClearTimer {
        key: String,
    },
    /// A task of this process ran this long: input for its learned expected runtime (ERT).
    RecordRuntime {
        task: String,
        duration_ms: u64,
    },
    /// Store the snapshot that the iterations of attempt `attempt` of ForEach task `task` read
    /// their data through (and that later steps start iterations from), once, with this step.
    ShareSnapshot {
        task: String,
        attempt: u32,
        snapshot: std::sync::Arc<crate::instance::ForEachSnapshot>,
    },
    /// The run of ForEach task `task` ended: its snapshot is no longer read.
    DropSnapshot {
        task: String,
        attempt: u32,
    },
    /// Start iteration `index` of attempt `attempt` of ForEach task `task` as a child instance of
    /// the body definition (`process/task`) that reads its data through that run's snapshot.
    StartIteration {
        task: String,
        attempt: u32,
        index: usize,
        item: Value,
    },
    /// Abort the open child instances task `task` started (a ForEach's iterations, a `call`'s
    /// sub-process), in the same commit.
    AbortChildren {
        task: String,
    },
    /// A `call` task runs again and recovers its failed child (see [`crate::hierarchy`]):
    /// recover it in the same commit, its parent link now naming attempt `attempt`.
    RecoverChild {
        task: String,
        attempt: u32,
        child: String,
        by: String,
    },
    /// Task `task` reached its run limit and is blocked: raise an incident for an operator.
    RunLimitReached {
        task: String,
        limit: u32,
    },
    /// Decision `task` took a loop branch back to `to` that went back `limit` times already (`max_loops`)
    /// and is blocked: raise an incident for an operator.
    LoopLimitReached {
        task: String,
        to: String,
        limit: u32,
    },
    /// This instance is a child its parent waits for (an iteration, a `call`ed sub-process)
    /// and it just ended: tell its parent (durably). A `call`'s child tells its data (for the
    /// call's `output` mapping), why it did not complete, and who aborted it asking for its
    /// parent to be aborted too.
    NotifyParent {
        parent: crate::instance::ParentLink,
        status: InstanceStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<crate::status::Reason>,
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        data: Map<String, Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        aborted_by: Option<String>,
    },
    /// Copy the record of document `from` as document `to`, without its metadata, with this
    /// step (Stardust's one-document rule passes a document without its metadata): same
    /// content, a record of its own, made by `by`.
    CopyDocument {
        from: String,
        to: String,
        by: String,
    },
    /// `wait` task `task` began waiting for event `event` with correlation key `key`: store
    /// its subscription with this step, so a publisher finds the instance by the pair.
    Subscribe {
        task: String,
        event: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// `wait` task `task` stopped waiting (it received its event, timed out, was skipped or
    /// canceled): remove its subscription with this step.
    Unsubscribe {
        task: String,
    },
    /// An escalation of human task `human_task` of user task `task` asks to tell these people.
    NotifyPeople {
        task: String,
        human_task: crate::user_task::HumanTaskId,
        escalation: String,
        to: crate::user_task::PotentialOwners,
    },
}

/// A fully resolved job: everything a worker needs, computed from process data at start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRequest {
    pub instance: String,
    pub task: String,
    pub attempt: u32,
    /// The program and its arguments; empty for an external job.
    pub command: Vec<String>,
    #[serde(default)]
    pub workdir: Option<String>,
    #[serde(default)]
    pub env: Vec<(String, String)>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// An external job's topic: a worker that fetches it does the work, not Baton's worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// For an external job: the process data the instance saw when the job was dispatched
    /// (what the worker is given).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
}

impl JobRequest {
    /// Is the job done by an external worker (it has a topic)?
    pub fn is_external(&self) -> bool {
        self.topic.is_some()
    }
}
