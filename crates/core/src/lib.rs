//! Baton's pure core: process definitions, instance state and the transitions between
//! states. Nothing here does I/O or reads a clock: time and ids come in as arguments, and
//! a transition returns its new state, the history events it produced and the effects a
//! driver must carry out (run a job, cancel one). Every seed rule is a unit test here.
//!
//! The modules form layers, each using only those above it:
//! - shared types that use nothing else of the crate: [`timestamp`], [`data_type`],
//!   [`duration`], [`people`], [`limits`], [`expr`], [`hierarchy`];
//! - human tasks as a state machine of their own: [`user_task`];
//! - statuses and the task lifecycle table: [`status`], [`lifecycle`];
//! - definitions and calendars: [`definition`], [`calendar`];
//! - instance state, history, commands and effects: [`instance`], [`event`], and the types
//!   [`step`] re-exports;
//! - the machine a transition runs on (`machine`), then the transition modules that add the
//!   rules to it: [`step`] (the entry points), `start_pipeline`, `job`, `runtime_monitor`,
//!   `foreach`, `subprocess` (`call`, `handoff`, recovery), `spawn` (Stardust's spawn and
//!   abort-and-start), `user_task_flow`, [`correlation`] (`wait` tasks and the events
//!   they receive), `interactive` (`view` tasks of interactive workflows) and `rework`
//!   (rework loops and sending a task back).

pub mod data_type;
pub mod department;
pub mod duration;
pub mod expr;
pub mod hierarchy;
pub mod limits;
pub mod people;
pub mod timestamp;

pub mod user_task;

pub mod lifecycle;
pub mod status;

pub mod calendar;
pub mod definition;
pub mod schedule;

mod command;
mod effect;
pub mod event;
pub mod instance;

pub mod correlation;
mod foreach;
mod interactive;
mod job;
mod machine;
mod rework;
mod runtime_monitor;
pub mod spawn;
mod start_pipeline;
pub mod step;
mod subprocess;
mod user_task_flow;

pub use definition::{parse as parse_definition, Definition, DefinitionError, JobTarget};
pub use event::{Event, EventKind};
pub use foreach::LAUNCH_BATCH as FOREACH_LAUNCH_BATCH;
pub use instance::{Instance, TaskState};
pub use limits::{DataLimitError, DataLimits};
pub use status::{InstanceStatus, Reason, TaskStatus};
pub use step::{
    apply, apply_with, start, start_iteration, start_with, Command, Effect, JobOutcome, JobRequest,
    Knowledge, TimerKind, Transition, TransitionError, WorkerEndStatus, WorkerReport,
};
pub use user_task_flow::open_human_tasks;
