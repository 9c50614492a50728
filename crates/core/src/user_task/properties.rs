//! Property test: random sequences of operations, by random people (allowed or not), with
//! timers firing in between, never break the invariants of a user task:
//! - every chain has at most one live (ready or claimed) task, and it is the last one; an open
//!   chain has exactly one; every task before the last was forwarded to the next one;
//! - a forwarded task never becomes live again (until an administrator restarts its chain);
//! - a chain is suspended as a whole or not at all, and only a suspended chain has paused timers;
//! - an escalation reaches every follow-on after the task that escalated;
//! - only the first task of a chain ever has an expiration; an ended chain has no timers;
//! - the process's outcome is there exactly when the original chain ended, and its output is
//!   the output of the chain's last task;
//! - a task whose work ended has no open subtasks; no task is ever lost (ids only grow,
//!   deleted tasks stay as tombstones);
//! - a refused operation changes nothing, and every transition is deterministic.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{json, Map};

use super::*;

fn actors() -> Vec<Actor> {
    vec![
        Actor::User(Caller::new("john").in_group("reviewers")),
        Actor::User(Caller::new("mike").in_group("reviewers")),
        Actor::User(Caller::new("sarah").in_group("legal")),
        Actor::User(Caller::new("paul").in_group("legal")),
        Actor::User(Caller::new("eve")),
        Actor::User(Caller::new("root").admin()),
        Actor::Engine,
    ]
}

fn owners(n: u8) -> PotentialOwners {
    match n % 5 {
        0 => PotentialOwners::user("sarah"),
        1 => PotentialOwners::group("legal"),
        2 => PotentialOwners::user("john"),
        3 => PotentialOwners::group("reviewers"),
        _ => PotentialOwners::user("paul").and_group("reviewers"),
    }
}

fn spec(policy: SubtaskPolicy) -> UserTaskSpec {
    UserTaskSpec {
        process_task: "review".into(),
        title: "Review".into(),
        description: String::new(),
        input: Map::from_iter([("doc".to_owned(), json!("d1"))]),
        potential_owners: PotentialOwners::group("reviewers"),
        administrators: PotentialOwners::default(),
        originator: Some("starter".into()),
        priority: 0,
        due: None,
        output_fields: vec![FormField::required("ok", FieldType::Boolean)],
        expires_after: Some(Duration::from_secs(48 * 3600)),
        escalations: vec![
            EscalationSpec {
                name: "unclaimed".into(),
                after: Duration::from_secs(3600),
                from: EscalationStart::Creation,
                unless: ExpectedState::Claimed,
                action: EscalationAction::RaisePriority { by: 1 },
            },
            EscalationSpec {
                name: "held too long".into(),
                after: Duration::from_secs(8 * 3600),
                from: EscalationStart::Claim,
                unless: ExpectedState::Ended,
                action: EscalationAction::Reassign {
                    to: PotentialOwners::group("legal"),
                },
            },
        ],
        subtask_policy: policy,
    }
}

/// One random step: an operation kind, who, on which task, a parameter, and minutes that pass before it.
type Step = (u8, u8, u8, u8, u16);

/// The task a step acts on: mostly a live one (so walks get deep), sometimes any id, even an unknown one.
fn pick_task(state: &UserTask, task: u8) -> HumanTaskId {
    let live: Vec<HumanTaskId> = state.live_tasks().map(|t| t.id).collect();
    if task & 3 != 0 && !live.is_empty() {
        live[usize::from(task / 4) % live.len()]
    } else {
        HumanTaskId(u32::from(task) % (state.tasks.len() as u32 + 1))
    }
}

/// Who acts: mostly someone the task fits (its owner, or a potential owner), sometimes anyone.
fn pick_actor(state: &UserTask, actors: &[Actor], task: HumanTaskId, who: u8) -> Actor {
    let any = actors[usize::from(who) % actors.len()].clone();
    let Some(t) = state.task(task).filter(|_| who & 3 != 0) else {
        return any;
    };
    let named = |name: &str| actors.iter().find(|a| a.name() == name).cloned();
    if let Some(owner) = t.status.claimed_by() {
        return named(owner).unwrap_or(any);
    }
    let fitting: Vec<&Actor> = actors
        .iter()
        .filter(|a| matches!(a, Actor::User(c) if t.potential_owners.includes(c)))
        .collect();
    if fitting.is_empty() {
        any
    } else {
        fitting[usize::from(who / 4) % fitting.len()].clone()
    }
}

fn command(
    state: &UserTask,
    now: &mut DateTime<Utc>,
    (kind, _, task, extra, _): Step,
) -> Option<UserTaskCommand> {
    let task = pick_task(state, task);
    Some(match kind % 13 {
        0 => UserTaskCommand::Claim { task },
        1 => UserTaskCommand::CancelClaim { task },
        2 => UserTaskCommand::Complete {
            task,
            output: if extra % 4 == 0 {
                Map::from_iter([("ok".to_owned(), json!("yes"))])
            } else {
                Map::from_iter([("ok".to_owned(), json!(extra % 2 == 0))])
            },
        },
        3 => UserTaskCommand::Fail {
            task,
            reason: "no".into(),
        },
        4 => UserTaskCommand::CreateSubtask {
            parent: task,
            spec: SubtaskSpec {
                title: "sub".into(),
                description: String::new(),
                to: owners(extra),
                input: Map::new(),
                output_fields: Vec::new(),
                expires_after: (extra % 2 == 0)
                    .then(|| Duration::from_secs(3600 * u64::from(extra % 7 + 1))),
                escalations: Vec::new(),
            },
        },
        5 | 6 => UserTaskCommand::StartFollowOn {
            task,
            spec: FollowOnSpec {
                title: "follow-on".into(),
                description: String::new(),
                to: owners(extra),
                notes: Some(format!("note {extra}")),
                input: Map::new(),
                escalations: if extra % 3 == 0 {
                    vec![EscalationSpec {
                        name: "follow-on late".into(),
                        after: Duration::from_secs(2 * 3600),
                        from: EscalationStart::Creation,
                        unless: ExpectedState::Ended,
                        action: EscalationAction::Notify {
                            to: PotentialOwners::user("john"),
                        },
                    }]
                } else {
                    Vec::new()
                },
            },
        },
        7 => UserTaskCommand::Suspend { task },
        8 => UserTaskCommand::Resume { task },
        9 => UserTaskCommand::Escalate {
            task,
            name: format!("by hand {extra}"),
            action: EscalationAction::RaisePriority { by: 1 },
        },
        10 => UserTaskCommand::Terminate { task },
        11 => {
            if extra % 2 == 0 {
                UserTaskCommand::Delete { task }
            } else {
                UserTaskCommand::Restart { task }
            }
        }
        _ => {
            // The engine fires a scheduled timer once it is due.
            let scheduled: Vec<&PendingTimer> = state
                .timers
                .iter()
                .filter(|t| matches!(t.state, TimerState::Scheduled { .. }))
                .collect();
            let timer = scheduled.get(usize::from(extra) % scheduled.len().max(1))?;
            if let TimerState::Scheduled { due } = timer.state {
                *now = (*now).max(due);
            }
            UserTaskCommand::FireTimer {
                key: timer.key.clone(),
            }
        }
    })
}

fn acted_on(cmd: &UserTaskCommand) -> HumanTaskId {
    match cmd {
        UserTaskCommand::Claim { task }
        | UserTaskCommand::CancelClaim { task }
        | UserTaskCommand::Complete { task, .. }
        | UserTaskCommand::Fail { task, .. }
        | UserTaskCommand::StartFollowOn { task, .. }
        | UserTaskCommand::Suspend { task }
        | UserTaskCommand::Resume { task }
        | UserTaskCommand::Escalate { task, .. }
        | UserTaskCommand::Terminate { task }
        | UserTaskCommand::Delete { task }
        | UserTaskCommand::Restart { task } => *task,
        UserTaskCommand::CreateSubtask { parent, .. } => *parent,
        UserTaskCommand::FireTimer { .. } => HumanTaskId(u32::MAX),
    }
}

fn check(s: &UserTask) -> Result<(), String> {
    let deleted = |t: HumanTaskId| matches!(s.at(t).status, HumanTaskStatus::Deleted { .. });
    if s.deleted {
        prop_assert_all(
            s.tasks
                .iter()
                .all(|t| matches!(t.status, HumanTaskStatus::Deleted { .. })),
            "a deleted user task has only deleted tasks",
        )?;
        return prop_assert_all(s.timers.is_empty(), "a deleted user task has no timers");
    }
    prop_assert_all(
        !deleted(HumanTaskId::ORIGINAL),
        "the original is deleted only with the user task",
    )?;
    for (n, task) in s.tasks.iter().enumerate() {
        prop_assert_all(task.id == HumanTaskId(n as u32), "ids are positions")?;
        if let HumanTaskStatus::Suspended { was, .. } = &task.status {
            prop_assert_all(!was.is_suspended(), "suspended is never nested")?;
        }
        if let Some(by) = task.status.claimed_by() {
            prop_assert_all(!by.is_empty(), "a claim names its owner")?;
        }
        if task.is_follow_on() {
            prop_assert_all(
                task.expires_after.is_none(),
                "follow-ons have no expiration of their own",
            )?;
        }
        if !deleted(task.id) {
            if let HumanTaskRole::Subtask { parent } = task.role {
                prop_assert_all(
                    s.at(parent).subtasks.contains(&task.id),
                    "a parent lists its subtasks",
                )?;
            }
            if !task.status.is_live() {
                prop_assert_all(
                    s.open_subtasks(task.id).is_empty(),
                    &format!("task {} ended its work with open subtasks", task.id),
                )?;
            }
        }
    }
    let mut keys = HashSet::new();
    for timer in &s.timers {
        prop_assert_all(keys.insert(timer.key.clone()), "timer keys are unique")?;
        let task = timer.fires.task();
        prop_assert_all(!deleted(task), "no timer for a deleted task")?;
        prop_assert_all(s.is_chain_open(task), "an ended chain has no timers")?;
        let paused = matches!(timer.state, TimerState::Paused { .. });
        prop_assert_all(
            paused == s.is_chain_suspended(task),
            "a timer is paused exactly when its chain is suspended",
        )?;
        if let TimerFires::Expire { task } = timer.fires {
            prop_assert_all(
                s.head_of(task) == task,
                "only a first task has an expiration timer",
            )?;
        }
    }
    let heads = s
        .tasks
        .iter()
        .filter(|t| !deleted(t.id) && !t.is_follow_on())
        .map(|t| t.id);
    for head in heads {
        let chain = s.chain(head);
        let last = *chain.last().unwrap();
        for pair in chain.windows(2) {
            prop_assert_all(
                s.at(pair[1]).role
                    == HumanTaskRole::FollowOn {
                        predecessor: pair[0],
                    },
                "a follow-on names its predecessor",
            )?;
            match s.at(pair[0]).status.base() {
                HumanTaskStatus::Forwarded { to, .. } => {
                    prop_assert_all(*to == pair[1], "forwarded to the next task of the chain")?
                }
                HumanTaskStatus::Terminated { .. } => prop_assert_all(
                    matches!(s.at(last).status, HumanTaskStatus::Terminated { .. }),
                    "a chain terminates as a whole",
                )?,
                other => {
                    return Err(format!(
                        "task {} is {} but has a follow-on",
                        pair[0],
                        other.name()
                    ))
                }
            }
        }
        let live: Vec<HumanTaskId> = chain
            .iter()
            .copied()
            .filter(|&t| s.at(t).status.is_live())
            .collect();
        prop_assert_all(live.len() <= 1, "at most one live task per chain")?;
        prop_assert_all(
            live.iter().all(|&t| t == last),
            "the live task is the last of its chain",
        )?;
        let open = live.len() == 1;
        let suspended = chain
            .iter()
            .filter(|&&t| s.at(t).status.is_suspended())
            .count();
        prop_assert_all(
            suspended == 0 || suspended == chain.len(),
            "a chain is suspended as a whole",
        )?;
        prop_assert_all(suspended == 0 || open, "only an open chain is suspended")?;
        for (i, &t) in chain.iter().enumerate() {
            for record in &s.at(t).escalations {
                for &after in &chain[i + 1..] {
                    prop_assert_all(
                        s.at(after).escalations.contains(record),
                        "an escalation reaches every follow-on after it",
                    )?;
                }
            }
        }
        let expirations = s
            .timers
            .iter()
            .filter(|t| t.fires == TimerFires::Expire { task: head })
            .count();
        let expected = usize::from(open && s.at(head).expires_after.is_some());
        prop_assert_all(
            expirations == expected,
            "an open chain with an expiration has exactly one expiration timer",
        )?;
        if head == HumanTaskId::ORIGINAL {
            match &s.outcome {
                None => prop_assert_all(open, "an ended original chain has an outcome")?,
                Some(outcome) => {
                    prop_assert_all(!open, "an open chain has no outcome")?;
                    prop_assert_all(outcome.task == last, "the outcome comes from the last task")?;
                    if outcome.status == OutcomeStatus::EndedOk {
                        prop_assert_all(
                            Some(&outcome.output) == s.at(last).output.as_ref(),
                            "the output is the last task's",
                        )?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn prop_assert_all(holds: bool, rule: &str) -> Result<(), String> {
    if holds {
        Ok(())
    } else {
        Err(rule.to_owned())
    }
}

fn run(policy: SubtaskPolicy, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let actors = actors();
    let mut now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single().unwrap();
    let mut state = create(spec(policy), now).unwrap().state;
    check(&state).map_err(TestCaseError::fail)?;
    let mut ever_forwarded: BTreeSet<HumanTaskId> = BTreeSet::new();
    let mut applied = 0usize;
    for step in steps {
        now += chrono::Duration::minutes(i64::from(step.4 % 600));
        let Some(cmd) = command(&state, &mut now, step) else {
            continue;
        };
        let actor = &pick_actor(&state, &actors, acted_on(&cmd), step.1);
        let before = state.clone();
        let result = apply(&state, actor, cmd.clone(), now);
        prop_assert_eq!(
            &result,
            &apply(&state, actor, cmd.clone(), now),
            "transitions are deterministic"
        );
        let Ok(transition) = result else {
            prop_assert_eq!(&state, &before);
            continue;
        };
        applied += 1;
        let next = transition.state;
        prop_assert!(
            next.tasks.len() >= state.tasks.len(),
            "no task is ever lost"
        );
        if let UserTaskCommand::Restart { task } = cmd {
            ever_forwarded.remove(&task);
        }
        for task in &next.tasks {
            if ever_forwarded.contains(&task.id) {
                prop_assert!(
                    !task.status.is_live(),
                    "forwarded task {} became live again after {:?}",
                    task.id,
                    cmd
                );
            }
            if matches!(task.status.base(), HumanTaskStatus::Forwarded { .. }) {
                ever_forwarded.insert(task.id);
            }
        }
        if let Err(rule) = check(&next) {
            return Err(TestCaseError::fail(format!(
                "after {cmd:?} by {}: {rule}\nstate: {next:#?}",
                actor.name()
            )));
        }
        state = next;
    }
    prop_assert!(applied <= 120);
    Ok(())
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u16>(),
        ),
        1..120,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_operation_sequences_never_break_the_invariants(steps in steps(), end_open in any::<bool>()) {
        let policy = if end_open { SubtaskPolicy::EndOpenSubtasks } else { SubtaskPolicy::WaitForSubtasks };
        run(policy, steps)?;
    }
}

/// The random walks must reach the interesting states, or the property proves little.
#[test]
fn random_walks_reach_chains_suspensions_escalations_and_every_end() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut seen: BTreeSet<&'static str> = BTreeSet::new();
    let actors = actors();
    for _ in 0..400 {
        let steps = steps().new_tree(&mut runner).unwrap().current();
        let mut now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single().unwrap();
        let mut state = create(spec(SubtaskPolicy::WaitForSubtasks), now)
            .unwrap()
            .state;
        for step in steps {
            now += chrono::Duration::minutes(i64::from(step.4 % 600));
            let Some(cmd) = command(&state, &mut now, step) else {
                continue;
            };
            let actor = pick_actor(&state, &actors, acted_on(&cmd), step.1);
            if let Ok(tr) = apply(&state, &actor, cmd, now) {
                state = tr.state;
                for t in &state.tasks {
                    seen.insert(t.status.name());
                    seen.insert(t.status.base().name());
                    if t.is_escalated() {
                        seen.insert("escalated");
                    }
                    if t.is_follow_on() && t.follow_on.is_some() {
                        seen.insert("chain of three");
                    }
                }
            }
        }
    }
    for wanted in [
        "ready",
        "claimed",
        "forwarded",
        "suspended",
        "escalated",
        "ended_ok",
        "ended_not_ok",
        "expired",
        "terminated",
        "deleted",
        "chain of three",
    ] {
        assert!(
            seen.contains(wanted),
            "no random walk reached `{wanted}` (saw {seen:?})"
        );
    }
}
