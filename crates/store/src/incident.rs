//! Incidents: a step that cannot be applied to an instance, recorded instead of retried
//! forever (Camunda's incidents). A step whose computation panics, whose stored definition no
//! longer loads, or a run that a loop limit stopped, becomes an open incident on its instance;
//! the command that could not be applied is kept with it, so an operator can retry it once
//! the cause is fixed, or resolve the incident by hand. The engine goes on with every other
//! instance, and with the instance's other work.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What raised an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// A command could not be applied: the step failed the same way on every attempt.
    StepFailed,
    /// A task was started by `run` actions more often than the run limit allows.
    RunLimit,
    /// A decision's loop branch went back more often than its `max_loops` allows.
    LoopLimit,
}

impl IncidentKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::StepFailed => "step_failed",
            Self::RunLimit => "run_limit",
            Self::LoopLimit => "loop_limit",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::StepFailed, Self::RunLimit, Self::LoopLimit]
            .into_iter()
            .find(|k| k.name() == name)
    }
}

/// An incident to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewIncident {
    pub instance: String,
    pub task: Option<String>,
    pub kind: IncidentKind,
    pub reason: String,
    /// The command that could not be applied (a `baton_core::Command` as JSON), if any.
    pub command: Option<serde_json::Value>,
    pub attempts: u32,
    pub at: DateTime<Utc>,
}

/// A change to a recorded incident, committed with a step.
#[derive(Debug, Clone, PartialEq)]
pub enum IncidentUpdate {
    /// Retried and applied, or resolved by hand: the incident is closed.
    Close {
        id: i64,
        by: String,
        resolution: String,
        at: DateTime<Utc>,
    },
    /// Retried and failed again: `attempts` more attempts, with the latest reason.
    Failed {
        id: i64,
        reason: String,
        attempts: u32,
    },
}

/// A recorded incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: i64,
    pub instance: String,
    pub task: Option<String>,
    pub kind: IncidentKind,
    pub reason: String,
    pub command: Option<serde_json::Value>,
    pub attempts: u32,
    pub raised_at: DateTime<Utc>,
    /// `None` while open.
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    /// How it was closed: `retried` (the command applied) or `resolved` (by hand).
    pub resolution: Option<String>,
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.resolved_at.is_none()
    }
}

/// Reading incidents (they are written with steps: [`crate::StepRecord`]).
pub trait IncidentReader: Send + Sync {
    fn incident(
        &self,
        id: i64,
    ) -> impl std::future::Future<Output = crate::Result<Option<Incident>>> + Send;
    /// Every incident of an instance, oldest first.
    fn incidents(
        &self,
        instance: &str,
    ) -> impl std::future::Future<Output = crate::Result<Vec<Incident>>> + Send;
    /// Open incidents of every instance, oldest first, at most `limit`.
    fn open_incidents(
        &self,
        limit: usize,
    ) -> impl std::future::Future<Output = crate::Result<Vec<Incident>>> + Send {
        self.open_incidents_in(&crate::DepartmentScope::All, limit)
    }
    /// Open incidents of the instances in `scope`, oldest first, at most `limit`.
    fn open_incidents_in(
        &self,
        scope: &crate::DepartmentScope,
        limit: usize,
    ) -> impl std::future::Future<Output = crate::Result<Vec<Incident>>> + Send;
}
