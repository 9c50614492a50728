//! Baton's pure core: process definitions, instance state and the transitions between
//! states. Nothing here does I/O or reads a clock: time and ids come in as arguments, and
//! a transition returns its new state, the history events it produced and the effects a
//! driver must carry out (run a job, cancel one). Every seed rule is a unit test here.

pub mod definition;
pub mod expr;
pub mod status;
pub mod event;
pub mod instance;
pub mod limits;
pub mod step;
mod foreach;
pub use foreach::LAUNCH_BATCH as FOREACH_LAUNCH_BATCH;
mod runtime_monitor;
mod start_pipeline;

pub use definition::{parse as parse_definition, Definition, DefinitionError};
pub use event::{Event, EventKind};
pub use instance::{Instance, TaskState};
pub use limits::{DataLimitError, DataLimits};
pub use status::{InstanceStatus, Reason, TaskStatus};
pub use step::{apply, apply_with, start, start_iteration, start_with, Command, Effect, JobOutcome, JobRequest, Knowledge, TimerKind, Transition, TransitionError, WorkerEndStatus, WorkerReport};
pub use definition::JobTarget;
pub mod calendar;
pub mod user_task;
mod user_task_flow;
pub mod timestamp;
pub use user_task_flow::open_human_tasks;
