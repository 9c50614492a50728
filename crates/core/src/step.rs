//! The transition function: `(definition, state, command, now) -> (state, events, effects)`.
//!
//! Implements Automic's workflow rules for the task kinds of the foundation:
//! - a task waits (`waiting_for_predecessor`) until all its direct predecessors reached an
//!   end status ("such as Skipped or Ended");
//! - each predecessor must have ended with a status the dependency accepts (default
//!   `any_ok`); if not, the else action applies: skip the task, block the workflow, or abort it;
//! - a decision's branches that are not taken end `ended_skipped`, and skipping runs down a
//!   path until it meets a join that another, live path reaches.
//!
//! Consecutive in-engine steps (`set`, `decision`, `end`) run inside one transition, so an
//! instance advances as far as it can before anything is persisted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use std::collections::HashMap;
use std::time::Duration;

use crate::definition::{json_type_name, Definition, TaskKind};
use crate::event::{Event, EventKind};
use crate::expr::Scope;
use crate::instance::{Instance, TaskState};
use crate::status::{InstanceStatus, Reason, TaskStatus};

/// Something an operator, a worker or the engine asks of an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// A worker reports the end of a job attempt.
    JobFinished { task: String, attempt: u32, outcome: JobOutcome },
    /// The job's worker died (the engine restarted); run the job again as a new attempt.
    RedispatchJob { task: String, attempt: u32 },
    /// The lock an external worker held on a job attempt expired before it reported: the job
    /// is offered again as a new attempt, and a late report of the old one is refused.
    JobLockExpired { task: String, attempt: u32, worker: String },
    /// Run an ended task again (its blocked successors wait for it again).
    RetryTask { task: String, by: String },
    /// End a blocked or waiting task `ended_skipped` so the workflow goes on.
    SkipTask { task: String, by: String },
    /// Abort the instance: open tasks are canceled, running jobs are stopped.
    Abort { by: String },
    /// A durable timer the instance set came due.
    TimerFired { task: String, timer: TimerKind },
    /// Set or clear a breakpoint on a task of the running instance; clearing the breakpoint of a
    /// task blocked at it lets its start pipeline go on.
    SetBreakpoint { task: String, enabled: bool, by: String },
    /// Values for a task's prompts (Automic PromptSets); they go into process data.
    ProvideInput { task: String, values: Map<String, Value>, by: String },
    /// An iteration (child instance) of a ForEach task ended.
    IterationEnded { task: String, index: usize, status: InstanceStatus },
    /// Several iterations of a ForEach task ended: applied as one step (the driver gathers the
    /// ends due together), each end counted once however often it is delivered.
    IterationsEnded { task: String, ends: Vec<crate::event::IterationEnd> },
    /// An operation on one of the human tasks of `user` task `task`, for `actor` (a user the
    /// driver authenticated, or the engine itself, e.g. when a human task's timer fires).
    UserTask {
        task: String,
        actor: crate::user_task::Actor,
        #[serde(rename = "operation")]
        command: crate::user_task::UserTaskCommand,
    },
    /// Delete the instance, finished or not: an open instance is aborted first, and every
    /// human task is deleted. The instance keeps its history and takes no more commands.
    Delete { by: String },
}

impl Command {
    /// The task the command is about, if it is about one.
    pub fn task(&self) -> Option<&str> {
        match self {
            Self::JobFinished { task, .. }
            | Self::RedispatchJob { task, .. }
            | Self::JobLockExpired { task, .. }
            | Self::RetryTask { task, .. }
            | Self::SkipTask { task, .. }
            | Self::TimerFired { task, .. }
            | Self::SetBreakpoint { task, .. }
            | Self::ProvideInput { task, .. }
            | Self::IterationEnded { task, .. }
            | Self::IterationsEnded { task, .. }
            | Self::UserTask { task, .. } => Some(task),
            Self::Abort { .. } | Self::Delete { .. } => None,
        }
    }

    /// The user who gives this command, for the commands a person gives by name (an operator's
    /// retry, skip, abort, breakpoint, input or delete).
    pub fn by(&self) -> Option<&str> {
        match self {
            Self::RetryTask { by, .. } | Self::SkipTask { by, .. } | Self::Abort { by } | Self::SetBreakpoint { by, .. } | Self::ProvideInput { by, .. } | Self::Delete { by } => {
                Some(by)
            }
            _ => None,
        }
    }
}

/// What a durable timer was set for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimerKind {
    /// The task's earliest start time.
    EarliestStart,
    /// Check the task's preconditions again.
    PreconditionCheck,
    /// The job's maximum runtime, for this attempt.
    MaxRuntime { attempt: u32 },
    /// The wait of the job's retry policy after a failed attempt.
    JobRetry,
    /// A ForEach task may start more iterations than one step starts: start the next ones.
    LaunchIterations,
}

impl TimerKind {
    /// The timer's key within the instance: one timer per task and kind.
    pub fn key(self, task: &str) -> String {
        let kind = match self {
            Self::EarliestStart => "earliest_start",
            Self::PreconditionCheck => "precondition_check",
            Self::MaxRuntime { .. } => "max_runtime",
            Self::JobRetry => "job_retry",
            Self::LaunchIterations => "launch_iterations",
        };
        format!("{task}/{kind}")
    }
}

/// How a job attempt ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum JobOutcome {
    Exited {
        code: i32,
        /// A JSON object the job printed (or wrote to `$BATON_OUTPUT`), merged into process data on success.
        #[serde(default)]
        output: Option<Map<String, Value>>,
        #[serde(default)]
        stdout_tail: String,
        #[serde(default)]
        stderr_tail: String,
        duration_ms: u64,
    },
    TimedOut {
        after_ms: u64,
        #[serde(default)]
        stdout_tail: String,
        #[serde(default)]
        stderr_tail: String,
    },
    CouldNotStart { message: String },
    /// An external worker that held the attempt's lock reported on it.
    Reported {
        worker: String,
        report: WorkerReport,
    },
}

/// What an external worker reports on a job it fetched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "report", rename_all = "snake_case")]
pub enum WorkerReport {
    /// The work is done; `output` is merged into process data, like a command's JSON output.
    Completed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<Map<String, Value>>,
    },
    /// The work failed. With `retry` and a retry left in the task's `retry:` policy the job runs
    /// again after the policy's delay (or `retry_after_ms`); without, the task ends `ended_not_ok`.
    Failed {
        message: String,
        retry: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// End the task with a status the worker chose (a business error is `ended_not_ok` with no
    /// retry); `output` is merged into process data first.
    Ended {
        status: WorkerEndStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<Map<String, Value>>,
    },
}

impl WorkerReport {
    /// The output the report brings, if any.
    pub fn output(&self) -> Option<&Map<String, Value>> {
        match self {
            Self::Completed { output } | Self::Ended { output, .. } => output.as_ref(),
            Self::Failed { .. } => None,
        }
    }

    /// The report's name in history (`completed`, `failed`, `ended`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Completed { .. } => "completed",
            Self::Failed { .. } => "failed",
            Self::Ended { .. } => "ended",
        }
    }
}

/// The end statuses an external worker may give a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerEndStatus {
    EndedOk,
    EndedNotOk,
    EndedSkipped,
}

impl WorkerEndStatus {
    pub fn status(self) -> TaskStatus {
        match self {
            Self::EndedOk => TaskStatus::EndedOk,
            Self::EndedNotOk => TaskStatus::EndedNotOk,
            Self::EndedSkipped => TaskStatus::EndedSkipped,
        }
    }
}

/// What a driver must do after persisting a transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    RunJob(JobRequest),
    CancelJob { task: String, attempt: u32 },
    /// Persist a durable timer (replacing one with the same key); at `due_at` the driver
    /// applies `command` to the instance.
    SetTimer { key: String, #[serde(with = "crate::timestamp")] due_at: DateTime<Utc>, command: Command },
    ClearTimer { key: String },
    /// A task of this process ran this long: input for its learned expected runtime (ERT).
    RecordRuntime { task: String, duration_ms: u64 },
    /// Store the snapshot that the iterations of attempt `attempt` of ForEach task `task` read
    /// their data through (and that later steps start iterations from), once, with this step.
    ShareSnapshot { task: String, attempt: u32, snapshot: std::sync::Arc<crate::instance::ForEachSnapshot> },
    /// The run of ForEach task `task` ended: its snapshot is no longer read.
    DropSnapshot { task: String, attempt: u32 },
    /// Start iteration `index` of attempt `attempt` of ForEach task `task` as a child instance of
    /// the body definition (`process/task`) that reads its data through that run's snapshot.
    StartIteration { task: String, attempt: u32, index: usize, item: Value },
    /// Abort the open iterations of ForEach task `task`.
    CancelIterations { task: String },
    /// Task `task` reached its run limit and is blocked: raise an incident for an operator.
    RunLimitReached { task: String, limit: u32 },
    /// This instance is an iteration that just ended: tell its parent (durably).
    NotifyParent { parent: crate::instance::ParentLink, status: InstanceStatus },
    /// An escalation of human task `human_task` of user task `task` asks to tell these people.
    NotifyPeople { task: String, human_task: crate::user_task::HumanTaskId, escalation: String, to: crate::user_task::PotentialOwners },
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

/// The result of applying a command.
#[derive(Debug, Clone)]
pub struct Transition {
    pub instance: Instance,
    pub events: Vec<Event>,
    pub effects: Vec<Effect>,
}

/// Why a command was refused. A refused command changes nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransitionError {
    #[error("instance has ended ({0}); it takes no more commands")]
    InstanceEnded(InstanceStatus),
    #[error("there is no task `{0}` in this process")]
    UnknownTask(String),
    #[error("task `{task}` is not running attempt {attempt}; this job result is stale and was ignored")]
    StaleJobResult { task: String, attempt: u32 },
    #[error("task `{task}` is {status}; only a task that ended not OK or was skipped can be retried")]
    NotRetryable { task: String, status: String },
    #[error("task `{task}` cannot be retried: its successor `{successor}` is already {status}")]
    SuccessorMoved { task: String, successor: String, status: String },
    #[error("task `{task}` is {status}; only a blocked or waiting task can be skipped")]
    NotSkippable { task: String, status: String },
    #[error("invalid process data: {}", .0.join("; "))]
    InvalidData(Vec<String>),
    #[error("task `{task}` is {status}; it is not waiting for input")]
    NotWaitingForInput { task: String, status: String },
    #[error("task `{task}` is a {kind} task; only `user` tasks have human tasks")]
    NotAUserTask { task: String, kind: &'static str },
    #[error("user task `{task}` has not started yet (it is {status})")]
    UserTaskNotStarted { task: String, status: String },
    #[error("user task `{task}`: {error}")]
    UserTask { task: String, error: crate::user_task::UserTaskError },
    #[error("instance {0} was deleted")]
    InstanceDeleted(String),
    /// A payload from outside (start data, input, a human task's output) is past the limits.
    #[error("{what} {error}")]
    DataLimit { what: String, error: crate::limits::DataLimitError },
}

/// What the driver knows beyond the instance: learned expected runtimes (Automic's ERT,
/// e.g. the average of a task's last runs), the deployed calendars, the limits it holds
/// data from outside to, and the ForEach snapshots the instance reads.
#[derive(Debug, Clone)]
pub struct Knowledge {
    pub expected_runtimes: HashMap<String, Duration>,
    pub calendars: HashMap<String, std::sync::Arc<crate::calendar::Calendar>>,
    /// The budget of each expression evaluation (the engine's setting).
    pub eval_limits: crate::expr::EvalLimits,
    pub limits: crate::limits::DataLimits,
    /// The most items one ForEach task may iterate over.
    pub max_foreach_items: usize,
    /// For an iteration that shares its parent's data: the snapshot it reads through.
    pub iteration_data: Option<std::sync::Arc<crate::instance::ForEachSnapshot>>,
    /// For an instance with running ForEach tasks that have items left to start: each one's
    /// snapshot, by task id.
    pub foreach_snapshots: HashMap<String, std::sync::Arc<crate::instance::ForEachSnapshot>>,
}

impl Default for Knowledge {
    fn default() -> Self {
        Self {
            expected_runtimes: HashMap::new(),
            calendars: HashMap::new(),
            eval_limits: crate::expr::EvalLimits::default(),
            limits: crate::limits::DataLimits::default(),
            max_foreach_items: crate::limits::DEFAULT_MAX_FOREACH_ITEMS,
            iteration_data: None,
            foreach_snapshots: HashMap::new(),
        }
    }
}

static NO_KNOWLEDGE: std::sync::LazyLock<Knowledge> = std::sync::LazyLock::new(Knowledge::default);

/// Starts a new instance of `def` with id `id` and input `data`.
pub fn start(def: &Definition, id: String, data: Map<String, Value>, now: DateTime<Utc>) -> Result<Transition, TransitionError> {
    start_with(def, id, data, now, &NO_KNOWLEDGE)
}

/// [`start`] with what the driver knows (expected runtimes, calendars).
pub fn start_with(def: &Definition, id: String, data: Map<String, Value>, now: DateTime<Utc>, knowledge: &Knowledge) -> Result<Transition, TransitionError> {
    knowledge.limits.check_object(&data).map_err(|error| TransitionError::DataLimit { what: "the start data".into(), error })?;
    let mut problems = Vec::new();
    for (key, value) in &data {
        match def.data.get(key) {
            None if !def.data.is_empty() => {
                let declared: Vec<&str> = def.data.keys().map(String::as_str).collect();
                problems.push(format!("`{key}` is not declared by process `{}` (it declares {})", def.id, declared.join(", ")));
            }
            Some(decl) if !decl.ty.admits(value) => {
                problems.push(format!("`{key}` must be {}, got {}", decl.ty.name(), json_type_name(value)));
            }
            _ => {}
        }
    }
    if !problems.is_empty() {
        return Err(TransitionError::InvalidData(problems));
    }
    let mut full = Map::new();
    for (key, decl) in &def.data {
        full.insert(key.clone(), data.get(key).cloned().or_else(|| decl.default.clone()).unwrap_or(Value::Null));
    }
    for (key, value) in data {
        full.entry(key).or_insert(value);
    }
    let instance = Instance {
        id,
        definition_id: def.id.clone(),
        definition_version: def.version,
        status: InstanceStatus::Running,
        data: full.clone(),
        tasks: vec![TaskState::new(); def.tasks.len()],
        created_at: now,
        updated_at: now,
        ended_at: None,
        next_seq: 1,
        parent: None,
        iteration: None,
        deleted_at: None,
    };
    let mut m = Machine { def, inst: instance, events: Vec::new(), effects: Vec::new(), now, knowledge, triggered: Vec::new() };
    m.emit(None, EventKind::InstanceStarted { definition: def.id.clone(), version: def.version, data: full });
    m.emit(None, EventKind::InstanceStatusChanged { to: InstanceStatus::Running, reason: None });
    m.generate_at_activation();
    m.advance();
    Ok(m.finish())
}

/// Starts iteration `index` of a ForEach body: a child instance that reads its parent's data
/// through the snapshot of attempt `attempt` of the ForEach task, which `knowledge` must hold
/// as its `iteration_data`. Its own data starts empty and holds only what it writes.
pub fn start_iteration(
    body: &Definition,
    id: String,
    parent: crate::instance::ParentLink,
    item: Value,
    attempt: u32,
    now: DateTime<Utc>,
    knowledge: &Knowledge,
) -> Transition {
    let index = parent.index;
    let data = Map::new();
    let instance = Instance {
        id,
        definition_id: body.id.clone(),
        definition_version: body.version,
        status: InstanceStatus::Running,
        data: data.clone(),
        tasks: vec![TaskState::new(); body.tasks.len()],
        created_at: now,
        updated_at: now,
        ended_at: None,
        next_seq: 1,
        parent: Some(parent),
        iteration: Some(crate::instance::Iteration { index, item, snapshot: Some(attempt) }),
        deleted_at: None,
    };
    let mut m = Machine { def: body, inst: instance, events: Vec::new(), effects: Vec::new(), now, knowledge, triggered: Vec::new() };
    m.emit(None, EventKind::InstanceStarted { definition: body.id.clone(), version: body.version, data });
    m.emit(None, EventKind::InstanceStatusChanged { to: InstanceStatus::Running, reason: None });
    m.generate_at_activation();
    m.advance();
    m.finish()
}

/// Applies `command` to `instance`. On error the instance is unchanged.
pub fn apply(def: &Definition, instance: &Instance, command: Command, now: DateTime<Utc>) -> Result<Transition, TransitionError> {
    apply_with(def, instance, command, now, &NO_KNOWLEDGE)
}

/// [`apply`] with what the driver knows (expected runtimes, calendars).
pub fn apply_with(def: &Definition, instance: &Instance, command: Command, now: DateTime<Utc>, knowledge: &Knowledge) -> Result<Transition, TransitionError> {
    if let Command::Delete { by } = &command {
        let mut m = Machine { def, inst: instance.clone(), events: Vec::new(), effects: Vec::new(), now, knowledge, triggered: Vec::new() };
        crate::user_task_flow::delete(&mut m, by)?;
        return Ok(m.finish());
    }
    if instance.status.is_terminal() {
        return Err(TransitionError::InstanceEnded(instance.status));
    }
    check_payload(&command, &knowledge.limits)?;
    let mut m = Machine { def, inst: instance.clone(), events: Vec::new(), effects: Vec::new(), now, knowledge, triggered: Vec::new() };
    match command {
        Command::JobFinished { task, attempt, outcome } => m.job_finished(&task, attempt, outcome)?,
        Command::RedispatchJob { task, attempt } => m.redispatch(&task, attempt, Reason::EngineRestarted)?,
        Command::JobLockExpired { task, attempt, worker } => m.redispatch(&task, attempt, Reason::LockExpired { worker })?,
        Command::RetryTask { task, by } => m.retry(&task, &by)?,
        Command::SkipTask { task, by } => m.skip(&task, &by)?,
        Command::Abort { by } => m.end_instance(InstanceStatus::Aborted, Some(Reason::Operator { action: "abort".into(), by })),
        Command::TimerFired { task, timer } => m.timer_fired(&task, timer)?,
        Command::SetBreakpoint { task, enabled, by } => m.set_breakpoint(&task, enabled, &by)?,
        Command::ProvideInput { task, values, by } => m.provide_input(&task, values, &by)?,
        Command::IterationEnded { task, index, status } => m.iterations_ended(&task, &[crate::event::IterationEnd { index, status }])?,
        Command::IterationsEnded { task, ends } => m.iterations_ended(&task, &ends)?,
        Command::UserTask { task, actor, command } => m.user_task_command(&task, actor, command)?,
        Command::Delete { .. } => unreachable!("handled above"),
    }
    m.advance();
    Ok(m.finish())
}

/// Checks the data a command brings in from outside against the driver's limits: past them the
/// command is refused, changing nothing. (A command job's output is checked where the job's end
/// is applied: past the limits, it ends the task, since its process cannot be asked again; an
/// external worker can, so its report is refused instead.)
fn check_payload(command: &Command, limits: &crate::limits::DataLimits) -> Result<(), TransitionError> {
    use crate::user_task::UserTaskCommand as U;
    let (what, payload) = match command {
        Command::ProvideInput { task, values, .. } => (format!("the input for task `{task}`"), values),
        Command::UserTask { task, command: U::Complete { output, .. }, .. } => (format!("the output of user task `{task}`"), output),
        Command::UserTask { task, command: U::StartFollowOn { spec, .. }, .. } => (format!("the input of the follow-on task of `{task}`"), &spec.input),
        Command::UserTask { task, command: U::CreateSubtask { spec, .. }, .. } => (format!("the input of the subtask of `{task}`"), &spec.input),
        Command::JobFinished { task, outcome: JobOutcome::Reported { report, .. }, .. } => match report.output() {
            Some(output) => (format!("the output a worker reported for job `{task}`"), output),
            None => return Ok(()),
        },
        _ => return Ok(()),
    };
    limits.check_object(payload).map_err(|error| TransitionError::DataLimit { what, error })
}

/// A `set` task's result: the new process data, and the values it wrote.
type SetResult = (Map<String, Value>, Map<String, Value>);

pub(crate) struct Machine<'d> {
    pub(crate) def: &'d Definition,
    pub(crate) inst: Instance,
    pub(crate) events: Vec<Event>,
    pub(crate) effects: Vec<Effect>,
    pub(crate) now: DateTime<Utc>,
    pub(crate) knowledge: &'d Knowledge,
    /// Tasks an action started in this transition (each at most once).
    pub(crate) triggered: Vec<usize>,
}

impl Machine<'_> {
    pub(crate) fn emit(&mut self, task: Option<usize>, kind: EventKind) {
        let seq = self.inst.next_seq;
        self.inst.next_seq += 1;
        let task = task.map(|i| self.def.tasks[i].id.clone());
        self.events.push(Event { seq, at: self.now, task, kind });
    }

    pub(crate) fn set_task(&mut self, i: usize, status: TaskStatus, reason: Option<Reason>) {
        let ended_by_running = matches!(status, TaskStatus::EndedOk | TaskStatus::EndedNotOk | TaskStatus::EndedTimeout);
        self.set_status(i, status, reason);
        // Automic: "When a task has ended, you can verify further conditions … The complete
        // verification process takes place only once." Not for ENDED_INACTIVE.
        if ended_by_running {
            self.postconditions_once(i);
        }
    }

    /// Runs the task's postconditions unless they already ran for this run of the task.
    pub(crate) fn postconditions_once(&mut self, i: usize) {
        if !self.inst.tasks[i].post_checked && !self.def.tasks[i].controls.postconditions.is_empty() {
            self.inst.tasks[i].post_checked = true;
            self.postconditions(i);
        }
    }

    /// Changes a task's status and records it, without running postconditions.
    pub(crate) fn set_status(&mut self, i: usize, status: TaskStatus, reason: Option<Reason>) {
        let t = &mut self.inst.tasks[i];
        if matches!(status, TaskStatus::Running { .. }) {
            t.started_at = Some(self.now);
            t.ended_at = None;
        } else if status.is_end() {
            t.ended_at = Some(self.now);
        }
        t.status = status.clone();
        t.reason = reason.clone();
        self.emit(Some(i), EventKind::TaskStatusChanged { to: status, reason });
    }

    pub(crate) fn index(&self, task: &str) -> Result<usize, TransitionError> {
        self.def.task_index(task).ok_or_else(|| TransitionError::UnknownTask(task.to_owned()))
    }

    pub(crate) fn scope(&self) -> Scope<'_> {
        let tasks = self.def.tasks.iter().zip(&self.inst.tasks).map(|(d, s)| (d.id.as_str(), s.status.name()));
        let scope = self.share_into(Scope::new(&self.inst.data, tasks, &self.inst.id, self.now).with_limits(self.knowledge.eval_limits));
        match &self.inst.iteration {
            Some(it) => scope.with_iteration(&it.item, it.index),
            None => scope,
        }
    }

    /// A scope in which `task` is task `i`.
    pub(crate) fn scope_for(&self, i: usize) -> Scope<'_> {
        let t = &self.inst.tasks[i];
        let mut task = serde_json::json!({
            "id": self.def.tasks[i].id,
            "status": t.status.name(),
            "attempts": t.attempts,
        });
        if let (Some(start), Some(end)) = (t.started_at, t.ended_at) {
            task["duration_ms"] = Value::from((end - start).num_milliseconds().max(0));
        }
        if let Some(Reason::Exited { code }) = &t.reason {
            task["exit_code"] = Value::from(*code);
        }
        self.scope().with_task(&task)
    }

    /// Runs every task whose turn has come, until nothing more can move.
    fn advance(&mut self) {
        loop {
            let mut progressed = false;
            for &i in &self.def.order {
                if self.inst.status.is_terminal() {
                    return;
                }
                let on_hold = self.def.tasks[i].controls.on_demand && !self.inst.tasks[i].triggered;
                if self.inst.tasks[i].status != TaskStatus::WaitingForPredecessor {
                    continue;
                }
                if on_hold {
                    self.inst.tasks[i].reason = Some(Reason::NotTriggered);
                } else {
                    progressed |= self.consider(i);
                }
            }
            if !progressed {
                return;
            }
        }
    }

    /// The start pipeline of one waiting task; returns whether it moved.
    fn consider(&mut self, i: usize) -> bool {
        let task = &self.def.tasks[i];
        let pending: Vec<String> = task
            .predecessors
            .iter()
            .filter(|p| !self.inst.tasks[p.task].status.is_end())
            .map(|p| self.def.tasks[p.task].id.clone())
            .collect();
        if !pending.is_empty() {
            self.inst.tasks[i].reason = Some(Reason::PredecessorsPending { tasks: pending });
            return false;
        }
        if !task.predecessors.is_empty() && task.predecessors.iter().all(|p| self.edge_is_dead(p.task, i)) {
            let reason = task
                .predecessors
                .iter()
                .find(|p| self.branch_not_taken(p.task, i))
                .map_or(Reason::PredecessorsSkipped, |p| Reason::BranchNotTaken { decision: self.def.tasks[p.task].id.clone() });
            self.set_task(i, TaskStatus::EndedSkipped, Some(reason));
            return true;
        }
        self.pipeline(i, crate::start_pipeline::Stage::Breakpoint);
        true
    }

    fn branch_not_taken(&self, from: usize, to: usize) -> bool {
        match &self.def.tasks[from].kind {
            TaskKind::Decision(spec) => {
                self.inst.tasks[from].status == TaskStatus::EndedOk
                    && spec.targets().any(|t| t == to)
                    && !self.inst.tasks[from].taken.contains(&to)
            }
            _ => false,
        }
    }

    /// Is the edge `from -> to` on a dead path: a branch not taken, or a task skipped because
    /// its own path was dead? A task skipped by its else action or by an operator is an ended
    /// task like any other (Automic's `any_ok` accepts `ended_skipped`): its successors run.
    fn edge_is_dead(&self, from: usize, to: usize) -> bool {
        let skipped_on_dead_path = self.inst.tasks[from].status == TaskStatus::EndedSkipped
            && matches!(self.inst.tasks[from].reason, Some(Reason::BranchNotTaken { .. } | Reason::PredecessorsSkipped));
        skipped_on_dead_path || self.branch_not_taken(from, to)
    }

    pub(crate) fn start_task(&mut self, i: usize) {
        if self.run_limit_reached(i) {
            return;
        }
        self.inst.tasks[i].runs += 1;
        self.inst.tasks[i].retries = 0;
        self.inst.tasks[i].attempts += 1;
        self.inst.tasks[i].started_at = Some(self.now);
        match &self.def.tasks[i].kind {
            TaskKind::Set(assignments) => match self.evaluate_set(i, assignments) {
                Err(reason) => self.fail(i, reason),
                Ok((data, written)) => {
                    self.inst.data = data;
                    self.emit(Some(i), EventKind::DataChanged { values: written });
                    self.set_task(i, TaskStatus::EndedOk, None);
                }
            },
            TaskKind::Decision(spec) => match self.evaluate_decision(spec) {
                Err(reason) => self.fail(i, reason),
                Ok(taken) => {
                    let names: Vec<String> = taken.iter().map(|&t| self.def.tasks[t].id.clone()).collect();
                    self.inst.tasks[i].taken = taken;
                    self.emit(Some(i), EventKind::BranchesTaken { tasks: names });
                    self.set_task(i, TaskStatus::EndedOk, None);
                }
            },
            TaskKind::End { terminate } => {
                self.set_task(i, TaskStatus::EndedOk, None);
                if *terminate {
                    self.end_instance(InstanceStatus::Completed, None);
                }
            }
            TaskKind::ForEach(spec) => self.start_foreach(i, spec),
            TaskKind::User(_) => self.start_user_task(i),
            TaskKind::Job(_) => {
                // An operator's retry runs the job again as a new attempt: the history says so.
                let retry = match &self.inst.tasks[i].reason {
                    Some(reason @ Reason::Operator { .. }) if self.inst.tasks[i].attempts > 1 => Some(reason.clone()),
                    _ => None,
                };
                self.dispatch(i, retry)
            }
        }
    }

    /// A `set` task's assignments, in order, each seeing the ones before it. All or nothing:
    /// returns the new data and what was written.
    fn evaluate_set(&self, i: usize, assignments: &[(String, crate::expr::Expr)]) -> Result<SetResult, Reason> {
        let mut scope = self.scope();
        let mut data = self.inst.data.clone();
        let mut written = Map::new();
        for (name, expr) in assignments {
            let value = expr.eval(&scope).map_err(|e| Reason::ExpressionFailed { field: format!("set.{name}"), message: e.0 })?;
            if let Some(reason) = self.type_problem(name, &value) {
                return Err(reason);
            }
            data.insert(name.clone(), value.clone());
            written.insert(name.clone(), value);
            if assignments.len() > 1 {
                scope.set_data(&data);
            }
        }
        self.within_limits(&written, || format!("the values of set task `{}`", self.def.tasks[i].id))?;
        Ok((data, written))
    }

    /// Values expressions produced, before they are stored (in process data, or as a human
    /// task's input): held to the data limits as one payload, as data from outside is. An
    /// expression can nest a value (`[[…[data.x]…]]`) far deeper than the data it reads.
    pub(crate) fn within_limits(&self, values: &Map<String, Value>, what: impl FnOnce() -> String) -> Result<(), Reason> {
        self.knowledge.limits.check_object(values).map_err(|e| Reason::DataLimit { what: what(), problem: e.to_string() })
    }

    /// The tasks a decision's branches lead to: the first branch that holds (or all, in mode
    /// `all`), else `otherwise`.
    fn evaluate_decision(&self, spec: &crate::definition::DecisionSpec) -> Result<Vec<usize>, Reason> {
        let scope = self.scope();
        let mut taken: Vec<usize> = Vec::new();
        for (n, branch) in spec.branches.iter().enumerate() {
            let holds = branch.when.eval_bool(&scope).map_err(|e| Reason::ExpressionFailed { field: format!("branches[{n}].when"), message: e.0 })?;
            if holds {
                taken.extend(&branch.to);
                if !spec.take_all {
                    break;
                }
            }
        }
        if taken.is_empty() {
            taken.extend(&spec.otherwise);
        }
        if taken.is_empty() {
            return Err(Reason::NoBranchMatched);
        }
        Ok(taken)
    }

    /// A job's environment, computed from process data when it starts.
    pub(crate) fn evaluate_env(&self, i: usize, spec: &crate::definition::JobSpec) -> Result<Vec<(String, String)>, Reason> {
        let scope = self.scope_for(i);
        spec.env
            .iter()
            .map(|(name, expr)| match expr.eval(&scope) {
                Ok(Value::String(s)) => Ok((name.clone(), s)),
                Ok(Value::Null) => Ok((name.clone(), String::new())),
                Ok(other) => Ok((name.clone(), other.to_string())),
                Err(e) => Err(Reason::ExpressionFailed { field: format!("env.{name}"), message: e.0 }),
            })
            .collect()
    }

    /// Hands a job to a worker as a new attempt.
    fn dispatch(&mut self, i: usize, retry_reason: Option<Reason>) {
        let TaskKind::Job(spec) = &self.def.tasks[i].kind else { unreachable!("only jobs are dispatched") };
        // Generated at activation: the inputs resolved when the instance started.
        let env = match self.inst.tasks[i].generated.clone() {
            Some(generated) => generated,
            None => self.evaluate_env(i, spec),
        };
        let env = match env {
            Ok(env) => env,
            Err(reason) => return self.fail(i, reason),
        };
        let attempt = self.inst.tasks[i].attempts;
        if let Some(limit) = self.def.tasks[i].controls.max_runtime {
            let due_at = crate::timestamp::after(self.now, limit.limit);
            self.set_timer(i, TimerKind::MaxRuntime { attempt }, due_at);
        }
        if let Some(reason) = retry_reason {
            self.emit(Some(i), EventKind::JobRetried { attempt, reason });
        }
        self.set_task(i, TaskStatus::Running { attempt, since: self.now }, None);
        let topic = spec.target.topic().map(str::to_owned);
        let data = if topic.is_some() { self.visible_data() } else { Map::new() };
        self.emit(Some(i), EventKind::JobDispatched { attempt, command: spec.target.command().to_vec(), topic: topic.clone() });
        self.effects.push(Effect::RunJob(JobRequest {
            instance: self.inst.id.clone(),
            task: self.def.tasks[i].id.clone(),
            attempt,
            command: spec.target.command().to_vec(),
            workdir: spec.workdir.clone(),
            env,
            timeout_ms: spec.timeout.map(|d| d.as_millis() as u64),
            topic,
            data,
        }));
    }

    pub(crate) fn fail(&mut self, i: usize, reason: Reason) {
        self.set_task(i, TaskStatus::EndedNotOk, Some(reason));
    }

    pub(crate) fn type_problem(&self, name: &str, value: &Value) -> Option<Reason> {
        let decl = self.def.data.get(name)?;
        (!decl.ty.admits(value)).then(|| Reason::TypeMismatch {
            variable: name.to_owned(),
            expected: decl.ty.name().to_owned(),
            found: json_type_name(value).to_owned(),
        })
    }

    pub(crate) fn running_attempt(&self, i: usize) -> Option<u32> {
        match self.inst.tasks[i].status {
            TaskStatus::Running { attempt, .. } => Some(attempt),
            _ => None,
        }
    }

    fn job_finished(&mut self, task: &str, attempt: u32, outcome: JobOutcome) -> Result<(), TransitionError> {
        let i = self.index(task)?;
        if self.running_attempt(i) != Some(attempt) {
            return Err(TransitionError::StaleJobResult { task: task.to_owned(), attempt });
        }
        if self.def.tasks[i].controls.max_runtime.is_some() {
            self.clear_timer(i, TimerKind::MaxRuntime { attempt });
        }
        match outcome {
            JobOutcome::Exited { code, output, stdout_tail, stderr_tail, duration_ms } => {
                self.emit(Some(i), EventKind::JobFinished { attempt, exit_code: Some(code), duration_ms, stdout_tail, stderr_tail });
                if self.min_runtime_not_met(i, duration_ms, code) {
                    return Ok(());
                }
                if code != 0 {
                    self.job_failed(i, Reason::Exited { code }, None);
                    return Ok(());
                }
                self.job_succeeded(i, output, duration_ms);
            }
            JobOutcome::Reported { worker, report } => self.worker_reported(i, attempt, worker, report),
            JobOutcome::TimedOut { after_ms, stdout_tail, stderr_tail } => {
                self.emit(Some(i), EventKind::JobFinished { attempt, exit_code: None, duration_ms: after_ms, stdout_tail, stderr_tail });
                self.job_failed(i, Reason::TimedOut { after_ms }, None);
            }
            JobOutcome::CouldNotStart { message } => self.job_failed(i, Reason::CouldNotStart { message }, None),
        }
        Ok(())
    }

    /// Takes a job's output into process data, if it fits the limits and the declared types.
    /// Returns false when it does not: the task has ended `ended_not_ok` saying why.
    fn take_output(&mut self, i: usize, output: Option<Map<String, Value>>) -> bool {
        let Some(output) = output.filter(|o| !o.is_empty()) else { return true };
        if let Err(e) = self.knowledge.limits.check_object(&output) {
            self.fail(i, Reason::DataLimit { what: "the job's output".into(), problem: e.to_string() });
            return false;
        }
        if let Some(reason) = output.iter().find_map(|(k, v)| self.type_problem(k, v)) {
            self.fail(i, reason);
            return false;
        }
        self.inst.data.extend(output.clone());
        self.emit(Some(i), EventKind::DataChanged { values: output });
        true
    }

    fn job_succeeded(&mut self, i: usize, output: Option<Map<String, Value>>, duration_ms: u64) {
        if !self.take_output(i, output) {
            return;
        }
        // Only a run that ended OK counts for the learned expected runtime (ERT): not one
        // that failed, fell short of its minimum runtime or wrote output of the wrong type.
        self.effects.push(Effect::RecordRuntime { task: self.def.tasks[i].id.clone(), duration_ms });
        self.set_task(i, TaskStatus::EndedOk, None);
    }

    /// An external worker's report on the running attempt (its lock was checked by the
    /// driver: a report from a worker without the lock never gets here). The run's time is
    /// counted from the dispatch.
    fn worker_reported(&mut self, i: usize, attempt: u32, worker: String, report: WorkerReport) {
        let since = match self.inst.tasks[i].status {
            TaskStatus::Running { since, .. } => since,
            _ => self.now,
        };
        let duration_ms = (self.now - since).num_milliseconds().max(0) as u64;
        let message = match &report {
            WorkerReport::Failed { message, .. } => Some(message.clone()),
            WorkerReport::Ended { message, .. } => message.clone(),
            WorkerReport::Completed { .. } => None,
        };
        self.emit(Some(i), EventKind::JobReported { attempt, worker: worker.clone(), report: report.name().to_owned(), message: message.clone(), duration_ms });
        match report {
            WorkerReport::Completed { output } => {
                if !self.min_runtime_not_met(i, duration_ms, 0) {
                    self.job_succeeded(i, output, duration_ms);
                }
            }
            WorkerReport::Failed { message, retry, retry_after_ms } => {
                let failure = Reason::WorkerFailed { worker, message };
                if retry {
                    self.job_failed(i, failure, retry_after_ms.map(Duration::from_millis));
                } else {
                    self.fail(i, failure);
                }
            }
            WorkerReport::Ended { status, message, output } => {
                if self.take_output(i, output) {
                    let reason = Reason::EndedByWorker { worker, status: status.status().name().to_owned(), message };
                    self.set_task(i, status.status(), Some(reason));
                }
            }
        }
    }

    /// A job attempt failed: with retries left in its policy it waits and runs again, else the
    /// task ends `ended_not_ok`. (A result the process cannot take — output past the limits or
    /// of the wrong type, a minimum runtime not met — is not a failure of the run, and is not
    /// retried: running it again would give the same.)
    ///
    /// `delay` replaces the policy's wait before the retry (an external worker's `retry_after`).
    fn job_failed(&mut self, i: usize, failure: Reason, delay: Option<Duration>) {
        let TaskKind::Job(spec) = &self.def.tasks[i].kind else { return self.fail(i, failure) };
        let Some(policy) = spec.retry.filter(|p| self.inst.tasks[i].retries < p.max) else { return self.fail(i, failure) };
        let retry = self.inst.tasks[i].retries + 1;
        self.inst.tasks[i].retries = retry;
        let wait = chrono::Duration::from_std(delay.map_or_else(|| policy.delay_before(retry), |d| d.min(crate::definition::duration::MAX_DURATION))).unwrap_or(chrono::Duration::MAX);
        let at = self.now.checked_add_signed(wait).unwrap_or(DateTime::<Utc>::MAX_UTC);
        let reason = Reason::RetryPending { retry, max: policy.max, at, failure: failure.to_string() };
        self.set_status(i, TaskStatus::WaitingForRetry { until: at }, Some(reason));
        self.set_timer(i, TimerKind::JobRetry, at);
    }

    /// The retry wait is over: the job runs again as a new attempt.
    pub(crate) fn retry_job(&mut self, i: usize) {
        let TaskKind::Job(spec) = &self.def.tasks[i].kind else { return };
        let max = spec.retry.map_or(0, |p| p.max);
        self.inst.tasks[i].attempts += 1;
        let retry = self.inst.tasks[i].retries;
        self.dispatch(i, Some(Reason::Retry { retry, max }));
    }

    /// Every way a task runs again (a `run` action, a postcondition's restart, a loop of them
    /// that the data keeps going) is capped: a task runs at most `max_runs` times until an
    /// operator retries it. At the cap it is blocked instead, and the driver raises an incident.
    fn run_limit_reached(&mut self, i: usize) -> bool {
        let limit = self.def.tasks[i].controls.max_runs;
        if self.inst.tasks[i].runs < limit {
            return false;
        }
        self.set_status(i, TaskStatus::Blocked, Some(Reason::RunLimit { limit }));
        self.effects.push(Effect::RunLimitReached { task: self.def.tasks[i].id.clone(), limit });
        true
    }

    /// Runs the job again as a new attempt, because attempt `attempt` was lost (`why`).
    fn redispatch(&mut self, task: &str, attempt: u32, why: Reason) -> Result<(), TransitionError> {
        let i = self.index(task)?;
        if self.running_attempt(i) != Some(attempt) {
            return Err(TransitionError::StaleJobResult { task: task.to_owned(), attempt });
        }
        self.inst.tasks[i].attempts += 1;
        self.dispatch(i, Some(why));
        Ok(())
    }

    fn retry(&mut self, task: &str, by: &str) -> Result<(), TransitionError> {
        let i = self.index(task)?;
        let status = &self.inst.tasks[i].status;
        if !matches!(
            status,
            TaskStatus::EndedNotOk
                | TaskStatus::EndedSkipped
                | TaskStatus::EndedTimeout
                | TaskStatus::EndedInactive
                | TaskStatus::Canceled
                | TaskStatus::Blocked
                | TaskStatus::Terminated
                | TaskStatus::Expired
        ) {
            return Err(TransitionError::NotRetryable { task: task.to_owned(), status: status.name().to_owned() });
        }
        self.inst.tasks[i].post_checked = false;
        // An operator's retry gives the run limit a fresh count.
        self.inst.tasks[i].runs = 0;
        // A successor that already started or ended acted on this task's result; running the
        // task again under it would leave a successor ahead of its predecessor.
        if let Some(&s) = self.def.successors[i]
            .iter()
            .find(|&&s| !matches!(self.inst.tasks[s].status, TaskStatus::WaitingForPredecessor | TaskStatus::Blocked))
        {
            return Err(TransitionError::SuccessorMoved {
                task: task.to_owned(),
                successor: self.def.tasks[s].id.clone(),
                status: self.inst.tasks[s].status.name().to_owned(),
            });
        }
        self.set_task(i, TaskStatus::WaitingForPredecessor, Some(Reason::Operator { action: "retry".into(), by: by.to_owned() }));
        // Successors that stopped because of this task wait for it again.
        for &s in &self.def.successors[i] {
            if self.inst.tasks[s].status == TaskStatus::Blocked {
                self.set_task(s, TaskStatus::WaitingForPredecessor, None);
            }
        }
        Ok(())
    }

    fn skip(&mut self, task: &str, by: &str) -> Result<(), TransitionError> {
        let i = self.index(task)?;
        let status = &self.inst.tasks[i].status;
        if !matches!(status, TaskStatus::Blocked | TaskStatus::WaitingForPredecessor | TaskStatus::WaitingForRetry { .. }) && !status.is_waiting() {
            return Err(TransitionError::NotSkippable { task: task.to_owned(), status: status.name().to_owned() });
        }
        self.clear_waiting_timer(i);
        self.terminate_user_task(i);
        self.set_task(i, TaskStatus::EndedSkipped, Some(Reason::Operator { action: "skip".into(), by: by.to_owned() }));
        Ok(())
    }

    /// Ends the instance at once: open tasks are canceled and running jobs stopped.
    pub(crate) fn end_instance(&mut self, status: InstanceStatus, reason: Option<Reason>) {
        for i in 0..self.def.tasks.len() {
            if self.inst.tasks[i].status.is_end() {
                continue;
            }
            if let (Some(_), TaskKind::ForEach(_)) = (self.running_attempt(i), &self.def.tasks[i].kind) {
                self.effects.push(Effect::CancelIterations { task: self.def.tasks[i].id.clone() });
                self.end_foreach_run(i);
            } else if let Some(attempt) = self.running_attempt(i) {
                self.effects.push(Effect::CancelJob { task: self.def.tasks[i].id.clone(), attempt });
                if self.def.tasks[i].controls.max_runtime.is_some() {
                    self.clear_timer(i, TimerKind::MaxRuntime { attempt });
                }
            }
            self.clear_waiting_timer(i);
            self.terminate_user_task(i);
            let untriggered = self.def.tasks[i].controls.on_demand && !self.inst.tasks[i].triggered;
            if untriggered && status == InstanceStatus::Completed {
                self.set_status(i, TaskStatus::EndedInactive, Some(Reason::NotTriggered));
            } else {
                self.set_status(i, TaskStatus::Canceled, Some(Reason::InstanceEnded { status: status.name().to_owned() }));
            }
        }
        self.set_instance_status(status, reason);
    }

    fn set_instance_status(&mut self, status: InstanceStatus, reason: Option<Reason>) {
        if self.inst.status == status {
            return;
        }
        self.inst.status = status;
        if status.is_terminal() {
            self.inst.ended_at = Some(self.now);
            if let Some(parent) = self.inst.parent.clone() {
                self.effects.push(Effect::NotifyParent { parent, status });
            }
        }
        self.emit(None, EventKind::InstanceStatusChanged { to: status, reason });
    }

    /// A task that ended not OK is handled when a successor's dependency expects a failure.
    fn unhandled_failure(&self) -> Option<usize> {
        (0..self.def.tasks.len()).find(|&i| {
            self.inst.tasks[i].status == TaskStatus::EndedNotOk
                && !self.def.successors[i].iter().any(|&s| {
                    self.def.tasks[s].predecessors.iter().any(|p| p.task == i && p.condition.expects_failure())
                })
        })
    }

    fn finish(mut self) -> Transition {
        if !self.inst.status.is_terminal() {
            let any = |pred: &dyn Fn(&TaskStatus) -> bool| self.inst.tasks.iter().any(|t| pred(&t.status));
            let on_hold = |i: usize| self.def.tasks[i].controls.on_demand && !self.inst.tasks[i].triggered;
            let open_done = (0..self.def.tasks.len()).all(|i| self.inst.tasks[i].status.is_end() || on_hold(i));
            let next = if any(&|s| matches!(s, TaskStatus::Running { .. })) {
                InstanceStatus::Running
            } else if any(&|s| *s == TaskStatus::Blocked) {
                InstanceStatus::Blocked
            } else if any(&TaskStatus::is_waiting) {
                InstanceStatus::Waiting
            } else if open_done {
                if self.unhandled_failure().is_some() { InstanceStatus::Failed } else { InstanceStatus::Completed }
            } else {
                InstanceStatus::Running
            };
            let reason = match next {
                InstanceStatus::Blocked => self.inst.tasks.iter().find(|t| t.status == TaskStatus::Blocked).and_then(|t| t.reason.clone()),
                InstanceStatus::Waiting => self.inst.tasks.iter().find(|t| t.status.is_waiting()).and_then(|t| t.reason.clone()),
                InstanceStatus::Failed => self.unhandled_failure().and_then(|i| self.inst.tasks[i].reason.clone()),
                _ => None,
            };
            if next.is_terminal() {
                // On-demand tasks that nothing started end `ended_inactive` with the instance.
                for i in 0..self.def.tasks.len() {
                    if self.def.tasks[i].controls.on_demand && !self.inst.tasks[i].triggered && !self.inst.tasks[i].status.is_end() {
                        self.set_status(i, TaskStatus::EndedInactive, Some(Reason::NotTriggered));
                    }
                }
            }
            self.set_instance_status(next, reason);
        }
        self.inst.updated_at = self.now;
        Transition { instance: self.inst, events: self.events, effects: self.effects }
    }
}
