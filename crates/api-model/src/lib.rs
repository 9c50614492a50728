//! The view types every Baton surface returns: what `baton … --json` prints and what the HTTP
//! API answers with; and, in [`requests`], the bodies and query strings the HTTP API takes,
//! which its server reads and its client writes. They are plain serde types with a documented
//! field each; the persisted state (`baton-core`'s `Instance`, the store's rows) stays private
//! and free to change, and the service converts it into these.
//!
//! Conventions, the same in every type:
//! - names are `snake_case`, statuses are the seeds' names (`ended_ok`, `claimed`, …);
//! - every time is RFC 3339 in UTC with a `Z` (`2026-03-01T09:30:00.123Z`), the fraction
//!   written only when it is not zero (3, 6 or 9 digits);
//! - a field that does not apply is `null` (or an empty list or object), never left out, so
//!   every object of a type has the same keys;
//! - a human task is named by its number within its user task: `0` is the task the process
//!   created, follow-ons and subtasks are numbered in the order they were made.
//!
//! With the `openapi` feature every type derives `utoipa::ToSchema` (a query string
//! `utoipa::IntoParams`), for a server's OpenAPI document. This crate depends on nothing of Baton's: the conversions live in the service.

mod changes;
mod correlation;
mod definition;
mod document;
mod error;
mod history;
mod human_task;
mod identity;
mod inbox;
mod incident;
mod instance;
mod job;
mod names;
mod people;
mod reason;
pub mod requests;
mod schedule;
mod session;
mod task;
mod token;

pub use changes::{ChangeEvent, HumanTaskChanged, InstanceChanged, TaskChanged};
pub use correlation::{PublishedEvent, PublishedEventState};
pub use definition::{
    DataField, Definition, DefinitionGraph, DefinitionSource, DefinitionTask, DefinitionVersion,
    Deployed, EdgeKind, GraphEdge, GraphNode,
};
pub use document::Document;
pub use error::{Error, ErrorKind};
pub use history::{Event, HistoryEvent, HumanTaskChange, IterationOutcome};
pub use human_task::{
    Ending, Escalation, FormField, HumanTask, HumanTaskRole, HumanTaskState, HumanTaskStatus,
    HumanTaskUpdate, Note, Outcome, Suspension, UserTask,
};
pub use identity::{Group, SignedIn, User};
pub use inbox::{InboxPage, InboxQuery, InboxRow, InboxStatus};
pub use incident::{Incident, IncidentKind};
pub use instance::{
    Case, Instance, InstanceFilter, InstancePage, InstanceStatus, InstanceSummary, LinkKind,
    ParentLink,
};
pub use job::{ExternalJob, Job, JobLock, Jobs, TopicJobs};
pub use names::UnknownName;
pub use people::People;
pub use reason::Reason;
pub use schedule::{CreateSchedule, Schedule, ScheduleSlot};
pub use session::{
    LeftTo, LeftWorkflow, Logout, Session, SessionStep, SessionWorkflow, SuspendedWhy,
    SuspendedWorkflow, View,
};
pub use task::{Task, TaskState, TaskStatus};
pub use token::{NewToken, Token, TokenState};

/// Process data, a human task's input or output: a JSON object.
pub type Data = serde_json::Map<String, serde_json::Value>;
