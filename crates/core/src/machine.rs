//! The machine every transition runs on, and its primitive operations.
//!
//! A [`Machine`] holds one instance while a command is applied to it: the definition, the
//! state as it changes, the history events and the effects the transition produced so far,
//! the time and what the driver knows. Its primitives are what every rule is written with:
//! [`Machine::set_status`] (the one place a task's status changes, held to the lifecycle
//! table of [`crate::lifecycle`]), [`Machine::emit`] (a history event), durable timers, and
//! the data and expression scope a task sees.
//!
//! The rules themselves live in the transition modules, each adding methods to `Machine` for
//! one part of a task's life: `step` (the entry points, the flow through the graph, retry,
//! skip, abort and the instance's status), `start_pipeline` (Automic's start pipeline), `job`
//! (dispatching jobs and their results), `runtime_monitor` (runtime limits and
//! postconditions), `foreach` and `user_task_flow`. They call each other's rules (a task that
//! ends runs its postconditions, which may start another task's pipeline), but they depend on
//! this module and on the type modules only, and this module on none of them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::command::{Command, TimerKind};
use crate::data_type::json_type_name;
use crate::definition::Definition;
use crate::effect::Effect;
use crate::event::{Event, EventKind};
use crate::expr::Scope;
use crate::instance::{ForEachSnapshot, Instance};
use crate::lifecycle;
use crate::status::{InstanceStatus, Reason, TaskStatus};

/// The result of applying a command.
#[derive(Debug, Clone)]
pub struct Transition {
    pub instance: Instance,
    pub events: Vec<Event>,
    pub effects: Vec<Effect>,
    /// The first steps of the child instances this transition started (`call` and `handoff`
    /// tasks), to commit with it, each with its own children.
    pub children: Vec<Transition>,
}

/// Why a command was refused. A refused command changes nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransitionError {
    #[error("instance has ended ({0}); it takes no more commands")]
    InstanceEnded(InstanceStatus),
    #[error("there is no task `{0}` in this process")]
    UnknownTask(String),
    #[error(
        "task `{task}` is not running attempt {attempt}; this job result is stale and was ignored"
    )]
    StaleJobResult { task: String, attempt: u32 },
    #[error(
        "task `{task}` is {status}; only a task that ended not OK or was skipped can be retried"
    )]
    NotRetryable { task: String, status: String },
    #[error("task `{task}` cannot be retried: its successor `{successor}` is already {status}")]
    SuccessorMoved {
        task: String,
        successor: String,
        status: String,
    },
    /// A `task back` to a task that does not come before the task sent back.
    #[error("task `{earlier}` does not come before task `{task}`; a task goes back only to a task it follows (through `after` or branches)")]
    NotBefore { task: String, earlier: String },
    /// A `task back` of a task the flow has not reached yet.
    #[error("task `{task}` has not started yet (it is waiting for its predecessors); send back a task the flow has reached")]
    NotReached { task: String },
    /// A `task back` by someone who is neither an administrator nor an owner of the task.
    #[error("user `{user}` may not send task `{task}` back: an administrator may, and for a user task its potential owners and administrators")]
    NotAllowedToSendBack { task: String, user: String },
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
    UserTask {
        task: String,
        error: crate::user_task::UserTaskError,
    },
    #[error("instance {0} was deleted")]
    InstanceDeleted(String),
    #[error("the sub-process cannot be started: {0}")]
    ChildNotStarted(Reason),
    #[error("the instance is {status}; only an instance that failed, or is blocked by a failure, can be recovered")]
    NotRecoverable { status: String },
    #[error("the instance is {status}, but no task of it ended not OK that could run again")]
    NothingToRecover { status: String },
    /// A payload from outside (start data, input, a human task's output) is past the limits.
    #[error("{what} {error}")]
    DataLimit {
        what: String,
        error: crate::limits::DataLimitError,
    },
    /// No `wait` task of the instance takes the event: none waits for its name and key, or
    /// their conditions do not hold. Nothing changed; the event was not received.
    #[error("no task of this instance waits for event `{event}`{}", key.as_ref().map(|k| format!(" with key `{k}`")).unwrap_or_default())]
    NoWaitingTask { event: String, key: Option<String> },
    /// A submission to a task that is not a `view`.
    #[error("task `{task}` is a {kind} task; only `view` tasks take a submission")]
    NotAView { task: String, kind: &'static str },
    /// A submission to a view that is not showing (it has not started, or it was submitted).
    #[error("view `{task}` is {status}; it is not waiting for a submission")]
    ViewNotShown { task: String, status: String },
    /// A submission that does not fit the view's form. Nothing changed.
    #[error("the submission of view `{task}` does not fit its form: {}", problems.join("; "))]
    InvalidSubmission { task: String, problems: Vec<String> },
    /// Input for a `view` task, whose user submits it in their session instead.
    #[error(
        "task `{task}` is a view: its user submits it in their session (`baton session submit`)"
    )]
    IsAView { task: String },
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
    /// The processes the definition's `call` and `handoff` tasks start (and the ones those
    /// start, transitively), resolved by the driver before the step; the error says why one
    /// cannot be started.
    pub callees: Arc<Callees>,
    /// The deepest a hierarchy of instances may nest (a `call` or `handoff` below it fails).
    pub max_depth: u32,
    /// The most child instances (`call` and `handoff`) one step may start.
    pub max_children_per_step: usize,
}

/// A process a `call` or `handoff` task starts, as the driver resolved it.
#[derive(Debug)]
pub struct Callee {
    pub definition: Arc<Definition>,
    /// Its learned expected runtimes (see [`Knowledge::expected_runtimes`]).
    pub expected_runtimes: HashMap<String, Duration>,
}

/// The callees of a step, by what the tasks name.
pub type Callees = HashMap<crate::definition::ProcessRef, Result<Arc<Callee>, String>>;

impl Knowledge {
    /// What a child instance of `callee` knows in the same step: the same, with the callee's
    /// expected runtimes, reading no parent's snapshots.
    pub(crate) fn for_callee(&self, callee: &Callee) -> Knowledge {
        Knowledge {
            expected_runtimes: callee.expected_runtimes.clone(),
            calendars: self.calendars.clone(),
            eval_limits: self.eval_limits,
            limits: self.limits,
            max_foreach_items: self.max_foreach_items,
            iteration_data: None,
            foreach_snapshots: HashMap::new(),
            callees: self.callees.clone(),
            max_depth: self.max_depth,
            max_children_per_step: self.max_children_per_step,
        }
    }
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
            callees: Arc::default(),
            max_depth: crate::limits::DEFAULT_MAX_DEPTH,
            max_children_per_step: crate::limits::DEFAULT_MAX_CHILDREN_PER_STEP,
        }
    }
}

pub(crate) static NO_KNOWLEDGE: std::sync::LazyLock<Knowledge> =
    std::sync::LazyLock::new(Knowledge::default);

pub(crate) struct Machine<'d> {
    pub(crate) def: &'d Definition,
    pub(crate) inst: Instance,
    pub(crate) events: Vec<Event>,
    pub(crate) effects: Vec<Effect>,
    pub(crate) now: DateTime<Utc>,
    pub(crate) knowledge: &'d Knowledge,
    /// Tasks an action started in this transition (each at most once).
    pub(crate) triggered: Vec<usize>,
    /// The first steps of the child instances started in this transition.
    pub(crate) children: Vec<Transition>,
    /// While a handed-off instance runs inline: its parent's data (`offer` in expressions).
    pub(crate) offer: Option<&'d Map<String, Value>>,
    /// How many more child instances this step (the whole tree of it) may start.
    pub(crate) budget: std::rc::Rc<std::cell::Cell<usize>>,
    /// Who aborted the instance asking for its parents to be aborted too.
    pub(crate) aborted_by: Option<String>,
}

impl<'d> Machine<'d> {
    /// A machine about to apply a command to `inst` at `now`.
    pub(crate) fn new(
        def: &'d Definition,
        inst: Instance,
        now: DateTime<Utc>,
        knowledge: &'d Knowledge,
    ) -> Self {
        let budget = std::rc::Rc::new(std::cell::Cell::new(knowledge.max_children_per_step));
        Machine {
            def,
            inst,
            events: Vec::new(),
            effects: Vec::new(),
            now,
            knowledge,
            triggered: Vec::new(),
            children: Vec::new(),
            offer: None,
            budget,
            aborted_by: None,
        }
    }
}

impl Machine<'_> {
    pub(crate) fn emit(&mut self, task: Option<usize>, kind: EventKind) {
        let seq = self.inst.next_seq;
        self.inst.next_seq += 1;
        let task = task.map(|i| self.def.tasks[i].id.clone());
        self.events.push(Event {
            seq,
            at: self.now,
            task,
            kind,
        });
    }

    /// Changes a task's status and records it, without running postconditions.
    pub(crate) fn set_status(&mut self, i: usize, status: TaskStatus, reason: Option<Reason>) {
        // The one place a task's status changes: held to the lifecycle table (see there why a
        // change it does not hold panics).
        if let Err(refused) = lifecycle::edge(&self.inst.tasks[i].status, &status, reason.as_ref())
        {
            panic!(
                "task `{}` of instance {}: {refused}",
                self.def.tasks[i].id, self.inst.id
            );
        }
        // A `wait` task that stops waiting, however it does, drops its subscription and timer.
        if matches!(
            self.inst.tasks[i].status,
            TaskStatus::WaitingForEvent { .. }
        ) && !matches!(status, TaskStatus::WaitingForEvent { .. })
        {
            self.stop_waiting(i);
        }
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
        self.def
            .task_index(task)
            .ok_or_else(|| TransitionError::UnknownTask(task.to_owned()))
    }

    pub(crate) fn scope(&self) -> Scope<'_> {
        let tasks = self
            .def
            .tasks
            .iter()
            .zip(&self.inst.tasks)
            .map(|(d, s)| (d.id.as_str(), s.status.name()));
        let scope = Scope::new(&self.inst.data, tasks, &self.inst.id, self.now)
            .with_limits(self.knowledge.eval_limits)
            .with_hierarchy(
                self.inst.case_id(),
                self.inst.work_status.as_deref(),
                &self.inst.referenced_instances,
            );
        let scope = self.share_into(scope);
        let scope = match self.offer {
            Some(offer) => scope.with_offer(offer),
            None => scope,
        };
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

    /// Values expressions produced, before they are stored (in process data, or as a human
    /// task's input): held to the data limits as one payload, as data from outside is. An
    /// expression can nest a value (`[[…[data.x]…]]`) far deeper than the data it reads.
    pub(crate) fn within_limits(
        &self,
        values: &Map<String, Value>,
        what: impl FnOnce() -> String,
    ) -> Result<(), Reason> {
        self.knowledge
            .limits
            .check_object(values)
            .map_err(|e| Reason::DataLimit {
                what: what(),
                problem: e.to_string(),
            })
    }

    /// The values an `output` mapping (`variable: CEL` over `output`) of task `i` (a `what`)
    /// writes: each of its declared type, all of them within the data limits.
    pub(crate) fn output_mapping(
        &self,
        i: usize,
        mapping: &[(String, crate::expr::Expr)],
        output: &Map<String, Value>,
        what: &str,
    ) -> Result<Map<String, Value>, Reason> {
        self.mapping_writes(
            i,
            mapping,
            || self.scope_for(i).with_output(output),
            output,
            what,
        )
    }

    /// The values a mapping (`variable: CEL`) of task `i` (a `what`) writes, evaluated in the
    /// scope `scope` builds: each of its declared type, all of them within the data limits.
    /// `source` is what the mapping reads (see [`Self::unreferenced_document`]).
    pub(crate) fn mapping_writes<'s>(
        &'s self,
        i: usize,
        mapping: &[(String, crate::expr::Expr)],
        scope: impl FnOnce() -> crate::expr::Scope<'s>,
        source: &Map<String, Value>,
        what: &str,
    ) -> Result<Map<String, Value>, Reason> {
        // No mapping writes nothing: the scope (this instance's data and the rest, converted
        // for CEL) would be built for no expression.
        if mapping.is_empty() {
            return Ok(Map::new());
        }
        let scope = scope();
        let mut writes = Map::new();
        for (name, expr) in mapping {
            let value = expr.eval(&scope).map_err(|e| Reason::ExpressionFailed {
                field: format!("output.{name}"),
                message: e.0,
            })?;
            if let Some(reason) = self.type_problem(name, &value) {
                return Err(reason);
            }
            writes.insert(name.clone(), value);
        }
        self.within_limits(&writes, || {
            format!("the output mapping of {what} `{}`", self.def.tasks[i].id)
        })?;
        if let Some(reason) =
            self.unreferenced_document(&writes, Some(source), |name| format!("output.{name}"))
        {
            return Err(reason);
        }
        Ok(writes)
    }

    /// Documents are reached through the instances that refer to them, so the values an
    /// expression or a command job writes may refer only to documents this instance already
    /// refers to, or that `source` does (the output, event or child data a mapping reads,
    /// which were checked as they came in): a reference is copied, never made up. The first
    /// reference that is neither, as the reason to refuse the writes (`field` names a write).
    pub(crate) fn unreferenced_document(
        &self,
        writes: &Map<String, Value>,
        source: Option<&Map<String, Value>>,
        field: impl Fn(&str) -> String,
    ) -> Option<Reason> {
        // The common case, no reference written, costs one look per value.
        if crate::data_type::referenced_documents(writes).is_empty() {
            return None;
        }
        let mut known = crate::data_type::referenced_documents(&self.visible_data());
        known.extend(
            source
                .map(crate::data_type::referenced_documents)
                .unwrap_or_default(),
        );
        writes.iter().find_map(|(name, value)| {
            let one = Map::from_iter([(name.clone(), value.clone())]);
            let document = crate::data_type::referenced_documents(&one)
                .into_iter()
                .find(|d| !known.contains(d))?;
            Some(Reason::DocumentNotReferenced {
                field: field(name),
                document,
            })
        })
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

    pub(crate) fn set_timer(&mut self, i: usize, kind: TimerKind, due_at: DateTime<Utc>) {
        let task = self.def.tasks[i].id.clone();
        self.effects.push(Effect::SetTimer {
            key: kind.key(&task),
            due_at,
            command: Command::TimerFired { task, timer: kind },
        });
    }

    pub(crate) fn clear_timer(&mut self, i: usize, kind: TimerKind) {
        self.effects.push(Effect::ClearTimer {
            key: kind.key(&self.def.tasks[i].id),
        });
    }

    /// Removes the timer a waiting task set, if it set one.
    pub(crate) fn clear_waiting_timer(&mut self, i: usize) {
        match self.inst.tasks[i].status {
            TaskStatus::WaitingForStartTime { .. } => self.clear_timer(i, TimerKind::EarliestStart),
            TaskStatus::WaitingForPrecondition { .. } => {
                self.clear_timer(i, TimerKind::PreconditionCheck)
            }
            TaskStatus::WaitingForRetry { .. } => self.clear_timer(i, TimerKind::JobRetry),
            _ => {}
        }
    }

    /// The snapshot this instance reads its data through: for an iteration that shares its
    /// parent's data, the one the driver supplied.
    pub(crate) fn shared(&self) -> Option<&Arc<ForEachSnapshot>> {
        self.inst.iteration.as_ref()?.snapshot?;
        self.knowledge.iteration_data.as_ref()
    }

    /// One variable of the data the instance sees: its own, else the shared one.
    pub(crate) fn data_value(&self, name: &str) -> Option<&Value> {
        self.inst
            .data
            .get(name)
            .or_else(|| self.shared()?.data.get(name))
    }

    /// All the data the instance sees, as one map (its own writes over the shared data).
    pub(crate) fn visible_data(&self) -> Map<String, Value> {
        match self.shared() {
            None => self.inst.data.clone(),
            Some(shared) => {
                let mut data = shared.data.clone();
                data.extend(self.inst.data.iter().map(|(k, v)| (k.clone(), v.clone())));
                data
            }
        }
    }

    /// `scope` reading through the shared data, if the instance shares any.
    pub(crate) fn share_into<'s>(
        &'s self,
        scope: crate::expr::Scope<'s>,
    ) -> crate::expr::Scope<'s> {
        match self.shared() {
            Some(shared) => scope.with_base(&shared.prepared, &shared.data),
            None => scope,
        }
    }
}
