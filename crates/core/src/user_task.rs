//! Human tasks (the `user` task kind): one task, its subtasks and its chain of follow-on tasks,
//! as a pure state machine. Implements the IBM follow-on tasks seed
//! (`seeds/001_*-ibm-follow-on-tasks.txt`) and the human-task lifecycle:
//!
//! - a task is created `ready` for its `potential_owners`; `claim` makes it `claimed` by one
//!   user, `cancel_claim` makes it `ready` again, `complete` (output checked against the typed
//!   form) ends it `ended_ok`, `fail` ends it `ended_not_ok`;
//! - the owner may create **subtasks** for other people; the parent completes only when its
//!   subtasks ended, or ends them first ([`SubtaskPolicy`]);
//! - the owner may start a **follow-on** task for someone else: the predecessor becomes
//!   `forwarded` and its work ends. "A chain of follow-on tasks is handled as though it were a
//!   single task": suspending or resuming any task of the chain suspends or resumes all of them
//!   (each gets the `suspended` substate, which remembers the status it was in); escalating any
//!   task escalates every follow-on after it; terminating any task terminates the chain; follow-ons
//!   have no expiration of their own ([`FollowOnSpec`] has no field for one): when the first task's
//!   expiration fires, the *last* task becomes `expired`; deleting or restarting the first task
//!   deletes its follow-ons, and deleting (or restarting) a follow-on on its own is refused;
//! - the output of the last task of the chain is the output the process gets ([`Outcome`]).
//!
//! Nothing here does I/O or reads a clock. [`create`] and [`apply`] take the time as an argument
//! and return the new state, the events that record what happened and the effects a driver must
//! carry out: durable timers to set or clear (escalation and expiration deadlines), people to
//! notify, and the end of the task for the process. The caller resolves identities: it passes a
//! [`Caller`] (user, groups, admin flag) and potential owners already evaluated from expressions.
//!
//! Its files follow its parts: resolving people (`people`), forms (`form`), specifications
//! (`spec`), state (`state`), operations with their events, effects and errors (`commands`),
//! and the transitions (`transitions`).

mod commands;
mod duration_text;
mod form;
mod people;
#[cfg(test)]
mod properties;
mod spec;
mod state;
#[cfg(test)]
mod tests;
mod transitions;

pub use crate::people::{Actor, Caller, PotentialOwners};
pub use commands::{
    UserTaskCommand, UserTaskEffect, UserTaskError, UserTaskEvent, UserTaskEventKind,
    UserTaskTransition,
};
pub use form::{form_problems, FieldType, FormField};
pub use spec::{
    EscalationAction, EscalationSpec, EscalationStart, ExpectedState, FollowOnSpec, SubtaskPolicy,
    SubtaskSpec, UserTaskSpec,
};
pub use state::{
    EscalationRecord, HumanTask, HumanTaskId, HumanTaskRole, HumanTaskStatus, Note, Outcome,
    OutcomeStatus, PendingTimer, TimerFires, TimerRequest, TimerState, UserTask,
};
pub use transitions::{apply, create};

/// Stored states leave out fields at their default (they are read back as the default).
fn is_zero<N: Default + PartialEq>(n: &N) -> bool {
    *n == N::default()
}
