//! Baton's engine: the async driver around the pure core.
//!
//! For each command it loads the instance's state (never its history), asks the core for the
//! transition, commits state, events and job-queue changes in one store transaction, and only
//! then carries out the effects. Commands for one instance are serialized; commands for
//! different instances run concurrently and share commits (the store's group commit).

mod changes;
mod clock;
pub mod correlation;
mod engine;
mod error;
mod external_jobs;
pub mod failpoints;
mod job_environment;
pub mod metrics;
mod process_group;
mod schedules;
mod tokens;
mod user_tasks;
mod worker;

pub use changes::{Change, HumanTaskChange, Subscription, CHANGE_FEED_CAPACITY};
pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{Deployed, Engine, EngineOptions};
pub use error::{identity_kind, store_kind, EngineError, ErrorKind};
pub use external_jobs::TakenOver;
pub use job_environment::{PassEnv, ALWAYS_PASSED};
pub use metrics::EngineMetrics;
pub use tokens::TOKEN_PREFIX;
pub use worker::{run_job, JobRun, JobSettings, Stop, WorkerOptions, KILL_GRACE, SHUTDOWN_GRACE};
