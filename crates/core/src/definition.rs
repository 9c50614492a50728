//! Process definitions: the YAML (or JSON) format, its validation and the compiled form.
//!
//! A definition is checked completely at deploy: YAML syntax, unknown fields, duplicate task
//! ids, unknown predecessors, cycles, unknown kinds, expressions that do not compile and data
//! defaults of the wrong type. Every problem is reported with `file:line:column`, a sentence
//! and, where one helps, a hint; nothing is stored when there is any problem.
//!
//! Its files: the compiled form (`compiled`), problems and their positions (`diagnostics`),
//! the raw form as written (`raw`), reading a file (`parse`), compiling a task graph
//! (`compile`), the task controls of Automic's start pipeline and runtime monitoring
//! (`controls`), job retries (`retry`), the `user` kind's fields (`user_kind`), the `call` and
//! `handoff` kinds' (`subprocess_kind`), the `wait` kind's (`wait_kind`), the `view` kind's (`view_kind`), postconditions
//! that would run each other for ever (`run_cycles`) and the document checks (`document`).

mod compile;
mod compiled;
mod controls;
mod diagnostics;
pub mod document;
mod parse;
mod raw;
mod retry;
mod run_cycles;
mod schedule_field;
mod subprocess_kind;
mod user_kind;
mod view_kind;
mod wait_kind;

pub use crate::data_type::{json_type_name, DataType};
pub use crate::duration::{self, DurationError, MAX_DURATION};
pub use compiled::{
    precedes, topic_problem, wire_name_problem, Branch, CallSpec, DataDecl, DecisionSpec,
    Definition, Dependency, DependencyMatch, ForEachSpec, HandoffSpec, JobSpec, JobTarget,
    LoopBack, ProcessRef, TaskDef, TaskKind, ViewSpec, WaitSpec, DEFAULT_MAX_LOOPS,
    MAX_LOOPS_LIMIT, MAX_PARALLEL, MAX_TOPIC_LEN,
};
pub use controls::{
    Action, Condition, EndAs, Postcondition, Preconditions, Prompt, RuntimeLimit, TaskControls,
    TimeSpec, MAX_RESTARTS,
};
pub use diagnostics::{format_problems, DefinitionError, Diagnostic, MAX_SHOWN};
use diagnostics::{pos_of, Diagnostics, Pos, Resolve};
pub use parse::{check_id, decode_source, node_to_json, parse, parse_with, MAX_ID_LEN};
pub use retry::{RetryPolicy, MAX_BACKOFF, MAX_RETRIES, MAX_RETRY_DELAY};
pub use subprocess_kind::MAX_WORK_STATUS_LEN;
pub use user_kind::{Assignee, Priority, Text, UserTaskDef};
