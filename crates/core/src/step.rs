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
use serde_json::{Map, Value};

use crate::data_type::json_type_name;
use crate::definition::{Definition, ProcessRef, TaskKind};
use crate::event::EventKind;
use crate::instance::{Instance, Placement, TaskState};
use crate::lifecycle::{self, Cause};
use crate::machine::{Machine, NO_KNOWLEDGE};
use crate::status::{InstanceStatus, Reason, TaskStatus};

pub use crate::command::{Command, JobOutcome, TimerKind, WorkerEndStatus, WorkerReport};
pub use crate::effect::{Effect, JobRequest};
pub use crate::machine::{Callee, Callees, Knowledge, Transition, TransitionError};

/// Starts a new instance of `def` with id `id` and input `data`.
pub fn start(
    def: &Definition,
    id: String,
    data: Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Transition, TransitionError> {
    start_with(def, id, data, now, &NO_KNOWLEDGE)
}

/// [`start`] with what the driver knows (expected runtimes, calendars).
pub fn start_with(
    def: &Definition,
    id: String,
    data: Map<String, Value>,
    now: DateTime<Utc>,
    knowledge: &Knowledge,
) -> Result<Transition, TransitionError> {
    let data = start_data(def, data, &knowledge.limits)?;
    let department = crate::department::department_of(def, &id, &data, now)
        .map_err(|problem| TransitionError::InvalidData(vec![problem]))?;
    let budget = std::rc::Rc::new(std::cell::Cell::new(knowledge.max_children_per_step));
    Ok(start_placed(
        def,
        id,
        data,
        Placement {
            department,
            ..Placement::default()
        },
        now,
        knowledge,
        None,
        budget,
    ))
}

/// Checks start data against `def`'s declarations and the limits, and completes it with the
/// declared defaults (null for a variable without one).
pub(crate) fn start_data(
    def: &Definition,
    data: Map<String, Value>,
    limits: &crate::limits::DataLimits,
) -> Result<Map<String, Value>, TransitionError> {
    limits
        .check_object(&data)
        .map_err(|error| TransitionError::DataLimit {
            what: "the start data".into(),
            error,
        })?;
    let mut problems = Vec::new();
    for (key, value) in &data {
        match def.data.get(key) {
            None if !def.data.is_empty() => {
                let declared: Vec<&str> = def.data.keys().map(String::as_str).collect();
                problems.push(format!(
                    "`{key}` is not declared by process `{}` (it declares {})",
                    def.id,
                    declared.join(", ")
                ));
            }
            Some(decl) if !decl.ty.admits(value) => {
                problems.push(format!(
                    "`{key}` must be {}, got {}",
                    decl.ty.described(),
                    json_type_name(value)
                ));
            }
            _ => {}
        }
    }
    if !problems.is_empty() {
        return Err(TransitionError::InvalidData(problems));
    }
    let mut full = Map::new();
    for (key, decl) in &def.data {
        full.insert(
            key.clone(),
            data.get(key)
                .cloned()
                .or_else(|| decl.default.clone())
                .unwrap_or(Value::Null),
        );
    }
    for (key, value) in data {
        full.entry(key).or_insert(value);
    }
    Ok(full)
}

/// The first step of a new instance of `def` with checked start `data` (its own, all of it),
/// placed in a hierarchy. A handed-off instance runs inline seeing its parent's data as
/// `offer`; `budget` counts the children the whole step may still start.
#[allow(clippy::too_many_arguments)]
pub(crate) fn start_placed(
    def: &Definition,
    id: String,
    data: Map<String, Value>,
    placement: Placement,
    now: DateTime<Utc>,
    knowledge: &Knowledge,
    offer: Option<&Map<String, Value>>,
    budget: std::rc::Rc<std::cell::Cell<usize>>,
) -> Transition {
    let case = if placement.case.is_empty() {
        id.clone()
    } else {
        placement.case
    };
    let instance = Instance {
        id,
        definition_id: def.id.clone(),
        definition_version: def.version,
        status: InstanceStatus::Running,
        data: data.clone(),
        tasks: vec![TaskState::new(); def.tasks.len()],
        created_at: now,
        updated_at: now,
        ended_at: None,
        next_seq: 1,
        parent: placement.parent,
        root: placement.root,
        case,
        depth: placement.depth,
        department: placement.department,
        work_status: None,
        referenced_instances: Vec::new(),
        spawned: Vec::new(),
        replaced_by: None,
        iteration: None,
        deleted_at: None,
    };
    let mut m = Machine::new(def, instance, now, knowledge);
    m.offer = offer;
    m.budget = budget;
    m.emit(
        None,
        EventKind::InstanceStarted {
            definition: def.id.clone(),
            version: def.version,
            data,
        },
    );
    m.emit(
        None,
        EventKind::InstanceStatusChanged {
            to: InstanceStatus::Running,
            reason: None,
        },
    );
    m.generate_at_activation();
    m.advance();
    m.finish()
}

/// Starts iteration `index` of a ForEach body: a child instance, placed under its parent by
/// `placement`, that reads its parent's data through the snapshot of attempt `attempt` of the
/// ForEach task, which `knowledge` must hold as its `iteration_data`. Its own data starts
/// empty and holds only what it writes.
pub fn start_iteration(
    body: &Definition,
    id: String,
    placement: Placement,
    item: Value,
    attempt: u32,
    now: DateTime<Utc>,
    knowledge: &Knowledge,
) -> Transition {
    let index = placement.parent.as_ref().map_or(0, |p| p.index);
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
        parent: placement.parent,
        root: placement.root,
        case: placement.case,
        depth: placement.depth,
        department: placement.department,
        work_status: None,
        referenced_instances: Vec::new(),
        spawned: Vec::new(),
        replaced_by: None,
        iteration: Some(crate::instance::Iteration {
            index,
            item,
            snapshot: Some(attempt),
        }),
        deleted_at: None,
    };
    let mut m = Machine::new(body, instance, now, knowledge);
    m.emit(
        None,
        EventKind::InstanceStarted {
            definition: body.id.clone(),
            version: body.version,
            data,
        },
    );
    m.emit(
        None,
        EventKind::InstanceStatusChanged {
            to: InstanceStatus::Running,
            reason: None,
        },
    );
    m.generate_at_activation();
    m.advance();
    m.finish()
}

/// Applies `command` to `instance`. On error the instance is unchanged.
pub fn apply(
    def: &Definition,
    instance: &Instance,
    command: Command,
    now: DateTime<Utc>,
) -> Result<Transition, TransitionError> {
    apply_with(def, instance, command, now, &NO_KNOWLEDGE)
}

/// [`apply`] with what the driver knows (expected runtimes, calendars).
pub fn apply_with(
    def: &Definition,
    instance: &Instance,
    command: Command,
    now: DateTime<Utc>,
    knowledge: &Knowledge,
) -> Result<Transition, TransitionError> {
    if let Command::Delete { by, reason } = &command {
        let mut m = Machine::new(def, instance.clone(), now, knowledge);
        crate::user_task_flow::delete(&mut m, by, reason.clone())?;
        return Ok(m.finish());
    }
    if let Command::Recover { by, attempt } = &command {
        let mut m = Machine::new(def, instance.clone(), now, knowledge);
        m.recover(by, *attempt)?;
        m.advance();
        return Ok(m.finish());
    }
    if instance.status.is_terminal() {
        return Err(TransitionError::InstanceEnded(instance.status));
    }
    check_payload(&command, &knowledge.limits)?;
    let mut m = Machine::new(def, instance.clone(), now, knowledge);
    match command {
        Command::JobFinished {
            task,
            attempt,
            outcome,
        } => m.job_finished(&task, attempt, outcome)?,
        Command::RedispatchJob { task, attempt } => {
            m.redispatch(&task, attempt, Reason::EngineRestarted)?
        }
        Command::JobLockExpired {
            task,
            attempt,
            worker,
        } => m.redispatch(&task, attempt, Reason::LockExpired { worker })?,
        Command::RetryTask { task, by } => m.retry(&task, &by)?,
        Command::SkipTask { task, by } => m.skip(&task, &by)?,
        Command::SendBack { task, to, by } => m.send_back(&task, &to, &by)?,
        Command::Abort { by, abort_parent } => {
            if abort_parent {
                m.aborted_by = Some(by.clone());
            }
            m.end_instance(
                InstanceStatus::Aborted,
                Some(Reason::Operator {
                    action: "abort".into(),
                    by,
                }),
            )
        }
        Command::ChildEnded {
            task,
            attempt,
            child,
            status,
            reason,
            data,
            aborted_by,
        } => m.child_ended(
            &task,
            attempt,
            crate::subprocess::ChildEnd {
                child,
                status,
                reason,
                data,
                aborted_by,
            },
        )?,
        Command::Recover { .. } => unreachable!("handled above"),
        Command::Spawn {
            process,
            version,
            data,
            carried,
            origin_documents,
            by,
        } => m.spawn(
            &ProcessRef { process, version },
            carried,
            &origin_documents,
            data,
            &by,
        )?,
        Command::SpawnedEnded {
            child,
            status,
            aborted_by,
            ..
        } => m.spawned_ended(&child, status, aborted_by),
        Command::AbortAndStart {
            process,
            version,
            by,
        } => m.abort_and_start(&ProcessRef { process, version }, &by)?,
        Command::TimerFired { task, timer } => m.timer_fired(&task, timer)?,
        Command::SetBreakpoint { task, enabled, by } => m.set_breakpoint(&task, enabled, &by)?,
        Command::ProvideInput { task, values, by } => m.provide_input(&task, values, &by)?,
        Command::IterationEnded {
            task,
            index,
            status,
        } => m.iterations_ended(&task, &[crate::event::IterationEnd { index, status }])?,
        Command::IterationsEnded { task, ends } => m.iterations_ended(&task, &ends)?,
        Command::UserTask {
            task,
            actor,
            command,
        } => m.user_task_command(&task, actor, command)?,
        Command::EventReceived { event } => m.event_received(&event)?,
        Command::Submit { task, data, by } => m.submit_view(&task, data, &by)?,
        Command::Delete { .. } => unreachable!("handled above"),
    }
    m.advance();
    Ok(m.finish())
}

/// Checks the data a command brings in from outside against the driver's limits: past them the
/// command is refused, changing nothing. (A command job's output is checked where the job's end
/// is applied: past the limits, it ends the task, since its process cannot be asked again; an
/// external worker can, so its report is refused instead.)
fn check_payload(
    command: &Command,
    limits: &crate::limits::DataLimits,
) -> Result<(), TransitionError> {
    use crate::user_task::UserTaskCommand as U;
    let (what, payload) = match command {
        Command::ProvideInput { task, values, .. } => {
            (format!("the input for task `{task}`"), values)
        }
        Command::Submit { task, data, .. } => (format!("the submission of view `{task}`"), data),
        Command::UserTask {
            task,
            command: U::Complete { output, .. },
            ..
        } => (format!("the output of user task `{task}`"), output),
        Command::UserTask {
            task,
            command: U::StartFollowOn { spec, .. },
            ..
        } => (
            format!("the input of the follow-on task of `{task}`"),
            &spec.input,
        ),
        Command::UserTask {
            task,
            command: U::CreateSubtask { spec, .. },
            ..
        } => (format!("the input of the subtask of `{task}`"), &spec.input),
        Command::JobFinished {
            task,
            outcome: JobOutcome::Reported { report, .. },
            ..
        } => match report.output() {
            Some(output) => (
                format!("the output a worker reported for job `{task}`"),
                output,
            ),
            None => return Ok(()),
        },
        _ => return Ok(()),
    };
    limits
        .check_object(payload)
        .map_err(|error| TransitionError::DataLimit { what, error })
}

/// A `set` task's result: the new process data, and the values it wrote.
type SetResult = (Map<String, Value>, Map<String, Value>);

/// What a decision chose: the tasks its branches lead to, or a loop back to an earlier task.
enum Decided {
    To(Vec<usize>),
    Back(crate::definition::LoopBack),
}

impl Machine<'_> {
    /// Runs every task whose turn has come, until nothing more can move.
    pub(crate) fn advance(&mut self) {
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
        if !task.predecessors.is_empty()
            && task
                .predecessors
                .iter()
                .all(|p| self.edge_is_dead(p.task, i))
        {
            let reason = task
                .predecessors
                .iter()
                .find(|p| self.branch_not_taken(p.task, i))
                .map_or(Reason::PredecessorsSkipped, |p| Reason::BranchNotTaken {
                    decision: self.def.tasks[p.task].id.clone(),
                });
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
            && matches!(
                self.inst.tasks[from].reason,
                Some(Reason::BranchNotTaken { .. } | Reason::PredecessorsSkipped)
            );
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
                Ok(Decided::Back(back)) => self.loop_back(i, back),
                Ok(Decided::To(taken)) => {
                    let names: Vec<String> = taken
                        .iter()
                        .map(|&t| self.def.tasks[t].id.clone())
                        .collect();
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
            TaskKind::Call(spec) => self.start_call(i, spec),
            TaskKind::Handoff(spec) => self.start_handoff(i, spec),
            TaskKind::Wait(spec) => self.start_wait(i, spec),
            TaskKind::View(spec) => self.show_view(i, spec),
            TaskKind::Job(_) => {
                // An operator's retry runs the job again as a new attempt: the history says so.
                let retry = match &self.inst.tasks[i].reason {
                    Some(reason @ Reason::Operator { .. }) if self.inst.tasks[i].attempts > 1 => {
                        Some(reason.clone())
                    }
                    _ => None,
                };
                self.dispatch(i, retry)
            }
        }
    }

    /// A `set` task's assignments, in order, each seeing the ones before it. All or nothing:
    /// returns the new data and what was written.
    fn evaluate_set(
        &self,
        i: usize,
        assignments: &[(String, crate::expr::Expr)],
    ) -> Result<SetResult, Reason> {
        let mut scope = self.scope();
        let mut data = self.inst.data.clone();
        let mut written = Map::new();
        for (name, expr) in assignments {
            let value = expr.eval(&scope).map_err(|e| Reason::ExpressionFailed {
                field: format!("set.{name}"),
                message: e.0,
            })?;
            if let Some(reason) = self.type_problem(name, &value) {
                return Err(reason);
            }
            data.insert(name.clone(), value.clone());
            written.insert(name.clone(), value);
            if assignments.len() > 1 {
                scope.set_data(&data);
            }
        }
        self.within_limits(&written, || {
            format!("the values of set task `{}`", self.def.tasks[i].id)
        })?;
        if let Some(reason) =
            self.unreferenced_document(&written, None, |name| format!("set.{name}"))
        {
            return Err(reason);
        }
        Ok((data, written))
    }

    /// The tasks a decision's branches lead to: the first branch that holds (or all, in mode
    /// `all`), else `otherwise`.
    fn evaluate_decision(&self, spec: &crate::definition::DecisionSpec) -> Result<Decided, Reason> {
        let scope = self.scope();
        let mut taken: Vec<usize> = Vec::new();
        for (n, branch) in spec.branches.iter().enumerate() {
            let holds = branch
                .when
                .eval_bool(&scope)
                .map_err(|e| Reason::ExpressionFailed {
                    field: format!("branches[{n}].when"),
                    message: e.0,
                })?;
            if holds {
                // A loop branch is never in `mode: all` (deploy refuses it).
                if let Some(back) = branch.back {
                    return Ok(Decided::Back(back));
                }
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
        Ok(Decided::To(taken))
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
        self.effects.push(Effect::RunLimitReached {
            task: self.def.tasks[i].id.clone(),
            limit,
        });
        true
    }

    pub(crate) fn retry(&mut self, task: &str, by: &str) -> Result<(), TransitionError> {
        let i = self.index(task)?;
        let status = &self.inst.tasks[i].status;
        if !lifecycle::accepts(status.kind(), Cause::Retry) {
            return Err(TransitionError::NotRetryable {
                task: task.to_owned(),
                status: status.name().to_owned(),
            });
        }
        // A successor that already started or ended acted on this task's result; running the
        // task again under it would leave a successor ahead of its predecessor.
        if let Some(&s) = self.def.successors[i].iter().find(|&&s| {
            !matches!(
                self.inst.tasks[s].status,
                TaskStatus::WaitingForPredecessor | TaskStatus::Blocked
            )
        }) {
            return Err(TransitionError::SuccessorMoved {
                task: task.to_owned(),
                successor: self.def.tasks[s].id.clone(),
                status: self.inst.tasks[s].status.name().to_owned(),
            });
        }
        self.inst.tasks[i].post_checked = false;
        // An operator's retry gives the run limit and the loop limit a fresh count.
        self.inst.tasks[i].runs = 0;
        self.inst.tasks[i].loops = 0;
        self.set_task(
            i,
            TaskStatus::WaitingForPredecessor,
            Some(Reason::Operator {
                action: "retry".into(),
                by: by.to_owned(),
            }),
        );
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
        if !lifecycle::accepts(status.kind(), Cause::Skip) {
            return Err(TransitionError::NotSkippable {
                task: task.to_owned(),
                status: status.name().to_owned(),
            });
        }
        self.clear_waiting_timer(i);
        self.terminate_user_task(i);
        self.set_task(
            i,
            TaskStatus::EndedSkipped,
            Some(Reason::Operator {
                action: "skip".into(),
                by: by.to_owned(),
            }),
        );
        Ok(())
    }

    /// Ends the instance at once: open tasks are canceled and running jobs stopped.
    pub(crate) fn end_instance(&mut self, status: InstanceStatus, reason: Option<Reason>) {
        for i in 0..self.def.tasks.len() {
            if self.inst.tasks[i].status.is_end() {
                continue;
            }
            self.stop_work(i);
            let untriggered = self.def.tasks[i].controls.on_demand && !self.inst.tasks[i].triggered;
            if untriggered && status == InstanceStatus::Completed {
                self.set_status(i, TaskStatus::EndedInactive, Some(Reason::NotTriggered));
            } else {
                self.set_status(
                    i,
                    TaskStatus::Canceled,
                    Some(Reason::InstanceEnded {
                        status: status.name().to_owned(),
                    }),
                );
            }
        }
        if status == InstanceStatus::Aborted {
            // Stardust: aborting the root aborts its spawned sub-processes not ended yet.
            self.abort_spawned();
        }
        self.set_instance_status(status, reason);
    }

    /// Stops what task `i` has under way, leaving its status to the caller: a running job is
    /// canceled, a ForEach's iterations and a `call`'s sub-process are aborted, a waiting
    /// task's timer is cleared, an open human task is terminated.
    pub(crate) fn stop_work(&mut self, i: usize) {
        if let (Some(_), TaskKind::ForEach(_)) = (self.running_attempt(i), &self.def.tasks[i].kind)
        {
            self.effects.push(Effect::AbortChildren {
                task: self.def.tasks[i].id.clone(),
            });
            self.end_foreach_run(i);
        } else if let (Some(_), TaskKind::Call(_)) =
            (self.running_attempt(i), &self.def.tasks[i].kind)
        {
            // Stardust: aborting the root aborts a synchronous sub-process not ended yet.
            self.effects.push(Effect::AbortChildren {
                task: self.def.tasks[i].id.clone(),
            });
        } else if let Some(attempt) = self.running_attempt(i) {
            self.effects.push(Effect::CancelJob {
                task: self.def.tasks[i].id.clone(),
                attempt,
            });
            if self.def.tasks[i].controls.max_runtime.is_some() {
                self.clear_timer(i, TimerKind::MaxRuntime { attempt });
            }
        }
        self.clear_waiting_timer(i);
        self.terminate_user_task(i);
    }

    pub(crate) fn set_instance_status(&mut self, status: InstanceStatus, reason: Option<Reason>) {
        if self.inst.status == status {
            return;
        }
        self.inst.status = status;
        if status.is_terminal() {
            self.inst.ended_at = Some(self.now);
            self.notify_parent(status, reason.as_ref());
        } else {
            self.inst.ended_at = None;
        }
        self.emit(
            None,
            EventKind::InstanceStatusChanged { to: status, reason },
        );
    }

    /// A task that ended not OK is handled when a successor's dependency expects a failure.
    pub(crate) fn unhandled_failure(&self) -> Option<usize> {
        (0..self.def.tasks.len()).find(|&i| {
            self.inst.tasks[i].status == TaskStatus::EndedNotOk
                && !self.def.successors[i].iter().any(|&s| {
                    self.def.tasks[s]
                        .predecessors
                        .iter()
                        .any(|p| p.task == i && p.condition.expects_failure())
                })
        })
    }

    pub(crate) fn finish(mut self) -> Transition {
        if !self.inst.status.is_terminal() {
            let any = |pred: &dyn Fn(&TaskStatus) -> bool| {
                self.inst.tasks.iter().any(|t| pred(&t.status))
            };
            let on_hold =
                |i: usize| self.def.tasks[i].controls.on_demand && !self.inst.tasks[i].triggered;
            let open_done =
                (0..self.def.tasks.len()).all(|i| self.inst.tasks[i].status.is_end() || on_hold(i));
            let next = if any(&|s| matches!(s, TaskStatus::Running { .. })) {
                InstanceStatus::Running
            } else if any(&|s| *s == TaskStatus::Blocked) {
                InstanceStatus::Blocked
            } else if any(&TaskStatus::is_waiting) {
                InstanceStatus::Waiting
            } else if open_done {
                // Stardust: a spawned sub-process must complete before its root completes.
                let (open, failed) = self.spawned_holding();
                if self.unhandled_failure().is_some() || failed.is_some() {
                    InstanceStatus::Failed
                } else if !open.is_empty() {
                    InstanceStatus::Waiting
                } else {
                    InstanceStatus::Completed
                }
            } else {
                InstanceStatus::Running
            };
            let reason = match next {
                InstanceStatus::Blocked => self
                    .inst
                    .tasks
                    .iter()
                    .find(|t| t.status == TaskStatus::Blocked)
                    .and_then(|t| t.reason.clone()),
                InstanceStatus::Waiting => {
                    match self.inst.tasks.iter().find(|t| t.status.is_waiting()) {
                        Some(t) => t.reason.clone(),
                        None => Some(Reason::SpawnedOpen {
                            children: self.spawned_holding().0,
                        }),
                    }
                }
                InstanceStatus::Failed => match self.unhandled_failure() {
                    Some(i) => self.inst.tasks[i].reason.clone(),
                    None => self.spawned_holding().1.map(|c| Reason::ChildEnded {
                        child: c.instance.clone(),
                        status: c.ended.map_or("open", InstanceStatus::name).to_owned(),
                        reason: None,
                    }),
                },
                _ => None,
            };
            if next.is_terminal() {
                // On-demand tasks that nothing started end `ended_inactive` with the instance.
                for i in 0..self.def.tasks.len() {
                    if self.def.tasks[i].controls.on_demand
                        && !self.inst.tasks[i].triggered
                        && !self.inst.tasks[i].status.is_end()
                    {
                        self.set_status(i, TaskStatus::EndedInactive, Some(Reason::NotTriggered));
                    }
                }
            }
            self.set_instance_status(next, reason);
        }
        self.inst.updated_at = self.now;
        Transition {
            instance: self.inst,
            events: self.events,
            effects: self.effects,
            children: self.children,
        }
    }
}
