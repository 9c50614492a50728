//! The transitions of a user task: [`create`] and [`apply`], and the state machine they run on.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{
    form_problems, EscalationAction, EscalationRecord, EscalationSpec, EscalationStart,
    ExpectedState, FollowOnSpec, HumanTask, HumanTaskId, HumanTaskRole, HumanTaskStatus, Note,
    Outcome, OutcomeStatus, PendingTimer, SubtaskPolicy, SubtaskSpec, TimerFires, TimerRequest,
    TimerState, UserTask, UserTaskCommand, UserTaskEffect, UserTaskError, UserTaskEvent,
    UserTaskEventKind, UserTaskSpec, UserTaskTransition,
};
use crate::people::{Actor, Caller, PotentialOwners};

/// Creates the user task: its original task `ready` for its potential owners, with its
/// expiration and escalation timers.
pub fn create(spec: UserTaskSpec, now: DateTime<Utc>) -> Result<UserTaskTransition, UserTaskError> {
    if spec.potential_owners.is_empty() {
        return Err(UserTaskError::NoPotentialOwners { title: spec.title });
    }
    check_escalations(&spec.escalations)?;
    let state = UserTask {
        process_task: spec.process_task,
        tasks: Vec::new(),
        subtask_policy: spec.subtask_policy,
        timers: Vec::new(),
        outcome: None,
        deleted: false,
        next_timer: 0,
    };
    let actor = Actor::Engine;
    let mut m = Machine {
        st: state,
        events: Vec::new(),
        effects: Vec::new(),
        created: Vec::new(),
        now,
        actor: &actor,
    };
    let id = m.add_task(HumanTask {
        id: HumanTaskId::ORIGINAL,
        role: HumanTaskRole::Original,
        title: spec.title,
        description: spec.description,
        input: spec.input,
        output: None,
        notes: Vec::new(),
        potential_owners: spec.potential_owners,
        administrators: spec.administrators,
        originator: spec.originator,
        priority: spec.priority,
        due: spec.due,
        output_fields: spec.output_fields,
        status: HumanTaskStatus::Ready,
        follow_on: None,
        subtasks: Vec::new(),
        expires_after: spec.expires_after,
        escalation_specs: spec.escalations,
        escalations: Vec::new(),
        created_at: now,
        updated_at: now,
    });
    m.schedule_start_timers(id);
    Ok(m.finish())
}

/// Applies `command` for `actor` at `now`. On error nothing changed.
pub fn apply(
    state: &UserTask,
    actor: &Actor,
    command: UserTaskCommand,
    now: DateTime<Utc>,
) -> Result<UserTaskTransition, UserTaskError> {
    if state.deleted {
        return Err(UserTaskError::UserTaskDeleted(state.process_task.clone()));
    }
    let mut m = Machine {
        st: state.clone(),
        events: Vec::new(),
        effects: Vec::new(),
        created: Vec::new(),
        now,
        actor,
    };
    match command {
        UserTaskCommand::Claim { task } => m.claim(task)?,
        UserTaskCommand::CancelClaim { task } => m.cancel_claim(task)?,
        UserTaskCommand::Complete { task, output } => m.complete(task, output)?,
        UserTaskCommand::Fail { task, reason } => m.fail(task, reason)?,
        UserTaskCommand::CreateSubtask { parent, spec } => m.create_subtask(parent, spec)?,
        UserTaskCommand::StartFollowOn { task, spec } => m.start_follow_on(task, spec)?,
        UserTaskCommand::Suspend { task } => m.suspend(task)?,
        UserTaskCommand::Resume { task } => m.resume(task)?,
        UserTaskCommand::Escalate { task, name, action } => {
            m.escalate_by_hand(task, name, action)?
        }
        UserTaskCommand::Terminate { task } => m.terminate(task)?,
        UserTaskCommand::Delete { task } => m.delete(task)?,
        UserTaskCommand::Restart { task } => m.restart(task)?,
        UserTaskCommand::FireTimer { key } => m.fire_timer(&key)?,
    }
    Ok(m.finish())
}

fn check_escalations(escalations: &[EscalationSpec]) -> Result<(), UserTaskError> {
    escalations.iter().try_for_each(|e| {
        check_duration(e.after, || {
            format!("the `after` of escalation `{}`", e.name)
        })?;
        check_escalation(&e.name, &e.action)
    })
}

/// Durations given with a command are held to the bound a definition's are.
fn check_duration(d: Duration, what: impl FnOnce() -> String) -> Result<(), UserTaskError> {
    crate::duration::check(d)
        .map(|_| ())
        .map_err(|_| UserTaskError::DurationTooLong { what: what() })
}

/// An escalation that notifies or reassigns must name someone.
fn check_escalation(name: &str, action: &EscalationAction) -> Result<(), UserTaskError> {
    match action {
        EscalationAction::Reassign { to } | EscalationAction::Notify { to } if to.is_empty() => {
            Err(UserTaskError::EscalationNamesNobody {
                escalation: name.to_owned(),
            })
        }
        _ => Ok(()),
    }
}

fn later(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    crate::timestamp::after(t, d)
}

struct Machine<'a> {
    st: UserTask,
    events: Vec<UserTaskEvent>,
    effects: Vec<UserTaskEffect>,
    created: Vec<HumanTaskId>,
    now: DateTime<Utc>,
    actor: &'a Actor,
}

impl<'a> Machine<'a> {
    fn finish(self) -> UserTaskTransition {
        UserTaskTransition {
            state: self.st,
            events: self.events,
            effects: self.effects,
            created: self.created,
        }
    }

    fn t(&self, id: HumanTaskId) -> &HumanTask {
        self.st.at(id)
    }

    fn t_mut(&mut self, id: HumanTaskId) -> &mut HumanTask {
        &mut self.st.tasks[id.index()]
    }

    fn by(&self) -> String {
        self.actor.name().to_owned()
    }

    fn emit(&mut self, task: HumanTaskId, kind: UserTaskEventKind) {
        let now = self.now;
        self.t_mut(task).updated_at = now;
        self.events.push(UserTaskEvent {
            at: now,
            task,
            by: self.actor.name().to_owned(),
            kind,
        });
    }

    fn set_status(&mut self, id: HumanTaskId, status: HumanTaskStatus) {
        self.t_mut(id).status = status.clone();
        self.emit(id, UserTaskEventKind::StatusChanged { to: status });
    }

    /// Replaces the status under the `suspended` substate, keeping the substate.
    fn set_base_status(&mut self, id: HumanTaskId, base: HumanTaskStatus) {
        let status = match self.t(id).status.clone() {
            HumanTaskStatus::Suspended { since, by, .. } => HumanTaskStatus::Suspended {
                was: Box::new(base),
                since,
                by,
            },
            _ => base,
        };
        self.set_status(id, status);
    }

    fn add_task(&mut self, task: HumanTask) -> HumanTaskId {
        let id = task.id;
        let event = UserTaskEventKind::Created {
            role: task.role,
            title: task.title.clone(),
            potential_owners: task.potential_owners.clone(),
        };
        self.st.tasks.push(task);
        self.created.push(id);
        self.emit(id, event);
        id
    }

    fn next_id(&self) -> HumanTaskId {
        HumanTaskId(self.st.tasks.len() as u32)
    }

    // --- lookups and checks -------------------------------------------------------------

    /// The task, if it exists and was not deleted.
    fn existing(&self, id: HumanTaskId) -> Result<&HumanTask, UserTaskError> {
        let task = self.st.task(id).ok_or(UserTaskError::UnknownTask(id))?;
        if matches!(task.status, HumanTaskStatus::Deleted { .. }) {
            return Err(UserTaskError::TaskDeleted(id));
        }
        Ok(task)
    }

    fn caller(&self, action: &'static str) -> Result<&'a Caller, UserTaskError> {
        match self.actor {
            Actor::User(caller) => Ok(caller),
            Actor::Engine => Err(UserTaskError::UserOnly { action }),
        }
    }

    /// The task must be the one the chain waits for, and not suspended.
    fn live(&self, id: HumanTaskId, action: &'static str) -> Result<&HumanTask, UserTaskError> {
        let task = self.existing(id)?;
        if task.status.is_suspended() {
            return Err(UserTaskError::Suspended { task: id, action });
        }
        match &task.status {
            HumanTaskStatus::Forwarded { to, .. } => Err(UserTaskError::Forwarded {
                task: id,
                to: *to,
                action,
            }),
            s if s.is_end() => Err(UserTaskError::ChainEnded {
                task: id,
                status: s.name(),
            }),
            _ => Ok(task),
        }
    }

    /// The task must be live and claimed by the caller.
    fn owned(&self, id: HumanTaskId, action: &'static str) -> Result<&'a Caller, UserTaskError> {
        let caller = self.caller(action)?;
        let task = self.live(id, action)?;
        match task.status.claimed_by() {
            None => Err(UserTaskError::NotClaimed { task: id, action }),
            Some(owner) if owner != caller.user => Err(UserTaskError::NotOwner {
                task: id,
                user: caller.user.clone(),
                action,
                owner: owner.to_owned(),
            }),
            Some(_) => Ok(caller),
        }
    }

    /// The chain of `id` must not have ended.
    fn open_chain(&self, id: HumanTaskId) -> Result<Vec<HumanTaskId>, UserTaskError> {
        self.existing(id)?;
        let last = self.st.last_in_chain(id);
        let status = &self.t(last).status;
        if !status.is_live() {
            return Err(UserTaskError::ChainEnded {
                task: id,
                status: status.base().name(),
            });
        }
        Ok(self.st.chain(id))
    }

    fn is_admin_of(&self, caller: &Caller, id: HumanTaskId) -> bool {
        let head = self.st.head_of(id);
        caller.admin
            || self.t(id).administrators.includes(caller)
            || self.t(head).administrators.includes(caller)
    }

    /// The engine, or a user who administers `id`.
    fn require_admin(&self, id: HumanTaskId, action: &'static str) -> Result<(), UserTaskError> {
        match self.actor {
            Actor::Engine => Ok(()),
            Actor::User(caller) if self.is_admin_of(caller, id) => Ok(()),
            Actor::User(caller) => Err(UserTaskError::NotAdministrator {
                task: id,
                user: caller.user.clone(),
                action,
            }),
        }
    }

    /// The engine, an administrator, the owner of the chain's current task, or the originator
    /// of a task in the chain (the seed: "the owner of the predecessor task and the originator
    /// of the follow-on task can better control the progress").
    fn require_involved(
        &self,
        id: HumanTaskId,
        chain: &[HumanTaskId],
        action: &'static str,
    ) -> Result<(), UserTaskError> {
        let Actor::User(caller) = self.actor else {
            return Ok(());
        };
        let owner = chain
            .iter()
            .any(|&t| self.t(t).status.claimed_by() == Some(caller.user.as_str()));
        let originator = chain
            .iter()
            .any(|&t| self.t(t).originator.as_deref() == Some(caller.user.as_str()));
        if self.is_admin_of(caller, id) || owner || originator {
            Ok(())
        } else {
            Err(UserTaskError::NotInvolved {
                task: id,
                user: caller.user.clone(),
                action,
            })
        }
    }

    fn refuse_on_follow_on(
        &self,
        id: HumanTaskId,
        action: &'static str,
    ) -> Result<(), UserTaskError> {
        match self.t(id).role {
            HumanTaskRole::FollowOn { .. } => Err(UserTaskError::FollowOnAlone {
                task: id,
                head: self.st.head_of(id),
                action,
            }),
            _ => Ok(()),
        }
    }

    // --- timers -------------------------------------------------------------------------

    fn schedule(&mut self, fires: TimerFires, due: DateTime<Utc>) {
        let key = format!("user_task:{}:{}", self.st.process_task, self.st.next_timer);
        self.st.next_timer += 1;
        self.st.timers.push(PendingTimer {
            key: key.clone(),
            fires: fires.clone(),
            state: TimerState::Scheduled { due },
        });
        self.effects
            .push(UserTaskEffect::SetTimer(TimerRequest { key, due, fires }));
    }

    /// Removes the pending timers `which` selects; scheduled ones are cleared in the store too
    /// (paused ones already were).
    fn clear_timers(&mut self, which: impl Fn(&PendingTimer) -> bool) {
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.st.timers)
            .into_iter()
            .partition(|t| which(t));
        self.st.timers = kept;
        for timer in gone {
            if let TimerState::Scheduled { .. } = timer.state {
                self.effects
                    .push(UserTaskEffect::ClearTimer { key: timer.key });
            }
        }
    }

    fn clear_timers_of(&mut self, tasks: &[HumanTaskId]) {
        self.clear_timers(|t| tasks.contains(&t.fires.task()));
    }

    /// The expiration (first tasks only) and the escalations counted from creation or due date.
    fn schedule_start_timers(&mut self, id: HumanTaskId) {
        let now = self.now;
        let task = self.t(id);
        let mut timers = Vec::new();
        if let Some(after) = task.expires_after {
            timers.push((TimerFires::Expire { task: id }, later(now, after)));
        }
        for (n, e) in task.escalation_specs.iter().enumerate() {
            let start = match e.from {
                EscalationStart::Creation => now,
                EscalationStart::DueDate => task.due.unwrap_or(now),
                EscalationStart::Claim => continue,
            };
            timers.push((
                TimerFires::Escalate {
                    task: id,
                    escalation: n,
                },
                later(start, e.after),
            ));
        }
        for (fires, due) in timers {
            self.schedule(fires, due);
        }
    }

    fn claim_escalations(&self, id: HumanTaskId) -> Vec<usize> {
        self.t(id)
            .escalation_specs
            .iter()
            .enumerate()
            .filter(|(_, e)| e.from == EscalationStart::Claim)
            .map(|(n, _)| n)
            .collect()
    }

    fn clear_claim_timers(&mut self, id: HumanTaskId) {
        let claim = self.claim_escalations(id);
        self.clear_timers(|t| matches!(t.fires, TimerFires::Escalate { task, escalation } if task == id && claim.contains(&escalation)));
    }

    // --- ending chains ------------------------------------------------------------------

    /// Terminates the open subtask chains of the tasks in `chain`.
    fn terminate_open_subtasks(&mut self, chain: &[HumanTaskId]) {
        for &t in chain {
            for sub in self.st.open_subtasks(t) {
                self.terminate_chain(sub);
            }
        }
    }

    /// Every task of `id`'s chain becomes `terminated`, with its open subtasks.
    fn terminate_chain(&mut self, id: HumanTaskId) {
        let chain = self.st.chain(id);
        self.terminate_open_subtasks(&chain);
        let status = HumanTaskStatus::Terminated {
            by: self.by(),
            at: self.now,
        };
        for &t in &chain {
            self.set_status(t, status.clone());
        }
        self.chain_ended(id, OutcomeStatus::Terminated, None);
    }

    /// Bookkeeping once the last task of `id`'s chain ended: its timers go, and the process
    /// (for the original chain) or the parent (for a subtask chain) hears of it.
    fn chain_ended(&mut self, id: HumanTaskId, status: OutcomeStatus, reason: Option<String>) {
        let chain = self.st.chain(id);
        self.terminate_open_subtasks(&chain);
        self.clear_timers_of(&chain);
        let head = chain[0];
        let last = *chain.last().expect("a chain has a first task");
        match self.t(head).role {
            HumanTaskRole::Original => {
                let output = match status {
                    OutcomeStatus::EndedOk => self.t(last).output.clone().unwrap_or_default(),
                    _ => Map::new(),
                };
                let outcome = Outcome {
                    status,
                    task: last,
                    output,
                    reason,
                };
                self.st.outcome = Some(outcome.clone());
                self.effects.push(UserTaskEffect::Ended(outcome));
            }
            HumanTaskRole::Subtask { parent } => {
                self.emit(
                    parent,
                    UserTaskEventKind::SubtaskEnded {
                        subtask: head,
                        status: status.name().to_owned(),
                    },
                );
            }
            HumanTaskRole::FollowOn { .. } => {
                unreachable!("a chain starts with the original or a subtask")
            }
        }
    }

    /// Applies the subtask policy before `id`'s work ends (completed or forwarded).
    fn settle_subtasks(&mut self, id: HumanTaskId) -> Result<(), UserTaskError> {
        let open = self.st.open_subtasks(id);
        if open.is_empty() {
            return Ok(());
        }
        match self.st.subtask_policy {
            SubtaskPolicy::WaitForSubtasks => Err(UserTaskError::OpenSubtasks {
                task: id,
                subtasks: open,
            }),
            SubtaskPolicy::EndOpenSubtasks => {
                for sub in open {
                    self.terminate_chain(sub);
                }
                Ok(())
            }
        }
    }

    /// Every task of the subtree of `head` (its chain, their subtasks, recursively).
    fn subtree(&self, head: HumanTaskId) -> Vec<HumanTaskId> {
        let mut all = Vec::new();
        for t in self.st.chain(head) {
            all.push(t);
            for &sub in &self.t(t).subtasks {
                if !matches!(self.t(sub).status, HumanTaskStatus::Deleted { .. }) {
                    all.extend(self.subtree(sub));
                }
            }
        }
        all
    }

    fn mark_deleted(&mut self, tasks: &[HumanTaskId]) {
        self.clear_timers_of(tasks);
        let status = HumanTaskStatus::Deleted {
            by: self.by(),
            at: self.now,
        };
        for &t in tasks {
            self.set_status(t, status.clone());
        }
    }

    // --- operations ---------------------------------------------------------------------

    fn claim(&mut self, id: HumanTaskId) -> Result<(), UserTaskError> {
        let caller = self.caller("claim")?;
        let task = self.live(id, "claim")?;
        if let Some(by) = task.status.claimed_by() {
            return Err(UserTaskError::AlreadyClaimed {
                task: id,
                by: by.to_owned(),
            });
        }
        if !task.potential_owners.includes(caller) && !self.is_admin_of(caller, id) {
            return Err(UserTaskError::NotPotentialOwner {
                task: id,
                user: caller.user.clone(),
            });
        }
        let by = caller.user.clone();
        self.set_status(
            id,
            HumanTaskStatus::Claimed {
                by,
                since: self.now,
            },
        );
        for n in self.claim_escalations(id) {
            let after = self.t(id).escalation_specs[n].after;
            self.schedule(
                TimerFires::Escalate {
                    task: id,
                    escalation: n,
                },
                later(self.now, after),
            );
        }
        Ok(())
    }

    fn cancel_claim(&mut self, id: HumanTaskId) -> Result<(), UserTaskError> {
        self.owned(id, "cancel the claim of")?;
        self.set_status(id, HumanTaskStatus::Ready);
        self.clear_claim_timers(id);
        Ok(())
    }

    fn complete(
        &mut self,
        id: HumanTaskId,
        output: Map<String, Value>,
    ) -> Result<(), UserTaskError> {
        self.owned(id, "complete")?;
        let problems = form_problems(&self.t(id).output_fields, &output);
        if !problems.is_empty() {
            return Err(UserTaskError::InvalidOutput { task: id, problems });
        }
        self.settle_subtasks(id)?;
        self.t_mut(id).output = Some(output);
        self.set_status(
            id,
            HumanTaskStatus::EndedOk {
                by: self.by(),
                at: self.now,
            },
        );
        self.chain_ended(id, OutcomeStatus::EndedOk, None);
        Ok(())
    }

    fn fail(&mut self, id: HumanTaskId, reason: String) -> Result<(), UserTaskError> {
        self.owned(id, "fail")?;
        self.set_status(
            id,
            HumanTaskStatus::EndedNotOk {
                by: self.by(),
                reason: reason.clone(),
                at: self.now,
            },
        );
        self.chain_ended(id, OutcomeStatus::EndedNotOk, Some(reason));
        Ok(())
    }

    fn create_subtask(
        &mut self,
        parent: HumanTaskId,
        spec: SubtaskSpec,
    ) -> Result<(), UserTaskError> {
        let caller = self.owned(parent, "create a subtask of")?;
        if spec.to.is_empty() {
            return Err(UserTaskError::NoPotentialOwners { title: spec.title });
        }
        check_escalations(&spec.escalations)?;
        if let Some(d) = spec.expires_after {
            check_duration(d, || "the subtask's `expires_after`".into())?;
        }
        let originator = Some(caller.user.clone());
        let id = self.next_id();
        let mut task = self.derived_task(
            parent,
            id,
            HumanTaskRole::Subtask { parent },
            spec.title,
            spec.description,
            spec.to,
            originator,
        );
        task.input = spec.input;
        task.output_fields = spec.output_fields;
        task.expires_after = spec.expires_after;
        task.escalation_specs = spec.escalations;
        self.add_task(task);
        self.t_mut(parent).subtasks.push(id);
        self.schedule_start_timers(id);
        Ok(())
    }

    /// A new `ready` task made from task `from` (a subtask or a follow-on): it keeps `from`'s
    /// administrators, priority and due date; the caller fills in what differs.
    #[allow(clippy::too_many_arguments)]
    fn derived_task(
        &self,
        from: HumanTaskId,
        id: HumanTaskId,
        role: HumanTaskRole,
        title: String,
        description: String,
        potential_owners: PotentialOwners,
        originator: Option<String>,
    ) -> HumanTask {
        let p = self.t(from);
        HumanTask {
            id,
            role,
            title,
            description,
            input: Map::new(),
            output: None,
            notes: Vec::new(),
            potential_owners,
            administrators: p.administrators.clone(),
            originator,
            priority: p.priority,
            due: p.due,
            output_fields: Vec::new(),
            status: HumanTaskStatus::Ready,
            follow_on: None,
            subtasks: Vec::new(),
            expires_after: None,
            escalation_specs: Vec::new(),
            escalations: Vec::new(),
            created_at: self.now,
            updated_at: self.now,
        }
    }

    fn start_follow_on(
        &mut self,
        pred: HumanTaskId,
        spec: FollowOnSpec,
    ) -> Result<(), UserTaskError> {
        let caller = self.owned(pred, "start a follow-on task of")?;
        if spec.to.is_empty() {
            return Err(UserTaskError::NoPotentialOwners { title: spec.title });
        }
        check_escalations(&spec.escalations)?;
        let by = caller.user.clone();
        self.settle_subtasks(pred)?;
        let id = self.next_id();
        let p = self.t(pred);
        let mut input = p.input.clone();
        input.extend(spec.input);
        let mut notes = p.notes.clone();
        if let Some(text) = spec.notes.filter(|n| !n.trim().is_empty()) {
            notes.push(Note {
                by: by.clone(),
                at: self.now,
                text,
            });
        }
        let mut task = self.derived_task(
            pred,
            id,
            HumanTaskRole::FollowOn { predecessor: pred },
            spec.title,
            spec.description,
            spec.to,
            Some(by),
        );
        task.input = input;
        task.notes = notes;
        // Its output becomes the original's output, so it fills in the same form.
        task.output_fields = p.output_fields.clone();
        task.escalation_specs = spec.escalations;
        // The chain acts as one task: an escalated chain stays escalated in its new task.
        task.escalations = p.escalations.clone();
        self.add_task(task);
        self.t_mut(pred).follow_on = Some(id);
        self.set_status(
            pred,
            HumanTaskStatus::Forwarded {
                to: id,
                at: self.now,
            },
        );
        self.clear_claim_timers(pred);
        self.schedule_start_timers(id);
        Ok(())
    }

    fn suspend(&mut self, id: HumanTaskId) -> Result<(), UserTaskError> {
        let chain = self.open_chain(id)?;
        self.require_involved(id, &chain, "suspend")?;
        if self.st.is_chain_suspended(id) {
            return Err(UserTaskError::AlreadySuspended { task: id });
        }
        let (by, now) = (self.by(), self.now);
        for &t in &chain {
            let was = Box::new(self.t(t).status.clone());
            self.set_status(
                t,
                HumanTaskStatus::Suspended {
                    was,
                    since: now,
                    by: by.clone(),
                },
            );
        }
        // Suspension pauses the chain's deadlines too (DESIGN: suspend is first-class, timers included).
        let mut cleared = Vec::new();
        for timer in self
            .st
            .timers
            .iter_mut()
            .filter(|t| chain.contains(&t.fires.task()))
        {
            if let TimerState::Scheduled { due } = timer.state {
                let remaining = (due - now).to_std().unwrap_or(Duration::ZERO);
                timer.state = TimerState::Paused { remaining };
                cleared.push(timer.key.clone());
            }
        }
        self.effects.extend(
            cleared
                .into_iter()
                .map(|key| UserTaskEffect::ClearTimer { key }),
        );
        Ok(())
    }

    fn resume(&mut self, id: HumanTaskId) -> Result<(), UserTaskError> {
        let chain = self.open_chain(id)?;
        self.require_involved(id, &chain, "resume")?;
        if !self.st.is_chain_suspended(id) {
            return Err(UserTaskError::NotSuspended { task: id });
        }
        for &t in &chain {
            if let HumanTaskStatus::Suspended { was, .. } = self.t(t).status.clone() {
                self.set_status(t, *was);
            }
        }
        // Paused timers run on with the time they had left, under new keys.
        let (paused, running): (Vec<_>, Vec<_>) = std::mem::take(&mut self.st.timers)
            .into_iter()
            .partition(|t| {
                matches!(t.state, TimerState::Paused { .. }) && chain.contains(&t.fires.task())
            });
        self.st.timers = running;
        for timer in paused {
            let TimerState::Paused { remaining } = timer.state else {
                unreachable!("partitioned on paused timers")
            };
            self.schedule(timer.fires, later(self.now, remaining));
        }
        Ok(())
    }

    fn escalate_by_hand(
        &mut self,
        id: HumanTaskId,
        name: String,
        action: EscalationAction,
    ) -> Result<(), UserTaskError> {
        self.open_chain(id)?;
        self.require_admin(id, "escalate")?;
        check_escalation(&name, &action)?;
        self.escalate(id, name, action);
        Ok(())
    }

    /// `origin` escalates, and with it every follow-on task after it in the chain.
    fn escalate(&mut self, origin: HumanTaskId, name: String, action: EscalationAction) {
        let chain = self.st.chain(origin);
        let from = chain
            .iter()
            .position(|&t| t == origin)
            .expect("a task is in its own chain");
        let affected = chain[from..].to_vec();
        let last = *affected.last().expect("the origin is affected");
        for &t in &affected {
            let record = EscalationRecord {
                name: name.clone(),
                at: self.now,
                origin,
                action: action.clone(),
            };
            self.t_mut(t).escalations.push(record);
            self.emit(
                t,
                UserTaskEventKind::Escalated {
                    name: name.clone(),
                    origin,
                },
            );
        }
        match action {
            EscalationAction::RaisePriority { by } => {
                for &t in &affected {
                    let priority = self.t(t).priority.saturating_add(by);
                    self.t_mut(t).priority = priority;
                    self.emit(t, UserTaskEventKind::PriorityChanged { to: priority });
                }
            }
            EscalationAction::Notify { to } => self.effects.push(UserTaskEffect::Notify {
                task: last,
                escalation: name,
                to,
            }),
            EscalationAction::Reassign { to } => {
                self.t_mut(last).potential_owners = to.clone();
                self.emit(last, UserTaskEventKind::Reassigned { to });
                if self.t(last).status.claimed_by().is_some() {
                    self.clear_claim_timers(last);
                    self.set_base_status(last, HumanTaskStatus::Ready);
                }
            }
        }
    }

    fn terminate(&mut self, id: HumanTaskId) -> Result<(), UserTaskError> {
        self.open_chain(id)?;
        self.require_admin(id, "terminate")?;
        self.terminate_chain(id);
        Ok(())
    }

    fn delete(&mut self, id: HumanTaskId) -> Result<(), UserTaskError> {
        self.existing(id)?;
        self.refuse_on_follow_on(id, "delete")?;
        self.require_admin(id, "delete")?;
        match self.t(id).role {
            HumanTaskRole::Original => {
                let all: Vec<HumanTaskId> = self
                    .st
                    .tasks
                    .iter()
                    .filter(|t| !matches!(t.status, HumanTaskStatus::Deleted { .. }))
                    .map(|t| t.id)
                    .collect();
                self.mark_deleted(&all);
                self.st.timers.clear();
                self.st.deleted = true;
                self.effects.push(UserTaskEffect::Deleted);
            }
            HumanTaskRole::Subtask { parent } => {
                let open = self.st.is_chain_open(id);
                let subtree = self.subtree(id);
                self.mark_deleted(&subtree);
                if open {
                    self.emit(
                        parent,
                        UserTaskEventKind::SubtaskEnded {
                            subtask: id,
                            status: "deleted".into(),
                        },
                    );
                }
            }
            HumanTaskRole::FollowOn { .. } => unreachable!("refused above"),
        }
        Ok(())
    }

    fn restart(&mut self, id: HumanTaskId) -> Result<(), UserTaskError> {
        self.existing(id)?;
        self.refuse_on_follow_on(id, "restart")?;
        let chain = self.open_chain(id)?;
        self.require_admin(id, "restart")?;
        let mut gone: Vec<HumanTaskId> = chain[1..].to_vec();
        for &t in &chain {
            for &sub in &self.t(t).subtasks {
                if !matches!(self.t(sub).status, HumanTaskStatus::Deleted { .. }) {
                    gone.extend(self.subtree(sub));
                }
            }
        }
        self.mark_deleted(&gone);
        self.clear_timers_of(&[id]);
        let head = self.t_mut(id);
        head.follow_on = None;
        head.subtasks.clear();
        head.output = None;
        self.set_status(id, HumanTaskStatus::Ready);
        self.schedule_start_timers(id);
        Ok(())
    }

    fn fire_timer(&mut self, key: &str) -> Result<(), UserTaskError> {
        if !matches!(self.actor, Actor::Engine) {
            return Err(UserTaskError::EngineOnly {
                action: "fire timers",
            });
        }
        let position = self
            .st
            .timers
            .iter()
            .position(|t| t.key == key && matches!(t.state, TimerState::Scheduled { .. }))
            .ok_or_else(|| UserTaskError::StaleTimer(key.to_owned()))?;
        let timer = self.st.timers.remove(position);
        match timer.fires {
            TimerFires::Expire { task } => {
                // Follow-ons have no expiration of their own: the first task's timer expires the last task.
                let last = self.st.last_in_chain(task);
                self.set_status(last, HumanTaskStatus::Expired { at: self.now });
                self.chain_ended(task, OutcomeStatus::Expired, None);
            }
            TimerFires::Escalate { task, escalation } => {
                let spec = self.t(task).escalation_specs[escalation].clone();
                let reached = match spec.unless {
                    ExpectedState::Claimed => {
                        !matches!(self.t(task).status.base(), HumanTaskStatus::Ready)
                    }
                    ExpectedState::Ended => !self.st.is_chain_open(task),
                };
                if !reached {
                    self.escalate(task, spec.name, spec.action);
                }
            }
        }
        Ok(())
    }
}
