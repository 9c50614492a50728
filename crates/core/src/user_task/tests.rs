//! One test per rule of the IBM follow-on tasks seed and the human-task lifecycle, named after the rule.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};

use super::*;

// ---------------------------------------------------------------------------------------
// Fixtures

/// Minutes after a fixed start of time.
fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .expect("a valid time")
        + chrono::Duration::minutes(minutes)
}

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

fn john() -> Actor {
    Actor::User(Caller::new("john").in_group("reviewers"))
}

fn mike() -> Actor {
    Actor::User(Caller::new("mike").in_group("reviewers"))
}

fn sarah() -> Actor {
    Actor::User(Caller::new("sarah").in_group("legal"))
}

fn paul() -> Actor {
    Actor::User(Caller::new("paul").in_group("legal"))
}

/// Nobody in particular: no group, no admin.
fn eve() -> Actor {
    Actor::User(Caller::new("eve"))
}

fn admin() -> Actor {
    Actor::User(Caller::new("root").admin())
}

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

const ORIGINAL: HumanTaskId = HumanTaskId::ORIGINAL;

fn id(n: u32) -> HumanTaskId {
    HumanTaskId(n)
}

/// The seed's Review Article task: offered to the reviewers, expiring after three days.
fn review_article() -> UserTaskSpec {
    UserTaskSpec {
        process_task: "review_article".into(),
        title: "Review Article".into(),
        description: "Review the article before it is published".into(),
        input: obj(json!({"article": "Our collaboration with a competitor", "author": "ann"})),
        potential_owners: PotentialOwners::group("reviewers"),
        administrators: PotentialOwners::user("chief"),
        originator: Some("publisher".into()),
        priority: 0,
        due: None,
        output_fields: vec![
            FormField::required("approved", FieldType::Boolean),
            FormField::optional("comments", FieldType::String),
        ],
        expires_after: Some(hours(72)),
        escalations: Vec::new(),
        subtask_policy: SubtaskPolicy::WaitForSubtasks,
    }
}

fn created(spec: UserTaskSpec) -> UserTask {
    create(spec, t(0)).expect("the task is created").state
}

fn ok(
    state: &UserTask,
    actor: &Actor,
    command: UserTaskCommand,
    at: DateTime<Utc>,
) -> UserTaskTransition {
    apply(state, actor, command.clone(), at)
        .unwrap_or_else(|e| panic!("{command:?} by {} was refused: {e}", actor.name()))
}

/// Applies a command that must be refused, and checks that nothing changed.
fn refused(
    state: &UserTask,
    actor: &Actor,
    command: UserTaskCommand,
    at: DateTime<Utc>,
) -> UserTaskError {
    let before = state.clone();
    let error = apply(state, actor, command.clone(), at)
        .expect_err(&format!("{command:?} by {} must be refused", actor.name()));
    assert_eq!(state, &before, "a refused operation changes nothing");
    error
}

fn claim(task: HumanTaskId) -> UserTaskCommand {
    UserTaskCommand::Claim { task }
}

fn complete(task: HumanTaskId, output: Value) -> UserTaskCommand {
    UserTaskCommand::Complete {
        task,
        output: obj(output),
    }
}

fn follow_on(task: HumanTaskId, title: &str, to: PotentialOwners) -> UserTaskCommand {
    UserTaskCommand::StartFollowOn {
        task,
        spec: FollowOnSpec::new(title, to),
    }
}

fn subtask(parent: HumanTaskId, title: &str, to: PotentialOwners) -> UserTaskCommand {
    UserTaskCommand::CreateSubtask {
        parent,
        spec: SubtaskSpec {
            title: title.into(),
            description: String::new(),
            to,
            input: Map::new(),
            output_fields: Vec::new(),
            expires_after: None,
            escalations: Vec::new(),
        },
    }
}

fn status(state: &UserTask, task: HumanTaskId) -> &'static str {
    state.task(task).expect("the task exists").status.name()
}

fn set_timers(tr: &UserTaskTransition) -> Vec<TimerRequest> {
    tr.effects
        .iter()
        .filter_map(|e| match e {
            UserTaskEffect::SetTimer(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn cleared_timers(tr: &UserTaskTransition) -> Vec<String> {
    tr.effects
        .iter()
        .filter_map(|e| match e {
            UserTaskEffect::ClearTimer { key } => Some(key.clone()),
            _ => None,
        })
        .collect()
}

fn ended(tr: &UserTaskTransition) -> Option<&Outcome> {
    tr.effects.iter().find_map(|e| match e {
        UserTaskEffect::Ended(outcome) => Some(outcome),
        _ => None,
    })
}

/// John claims the original and forwards it to Sarah (#1); Sarah claims it and forwards it to
/// the legal group (#2). Returns the state at minute 30.
fn chain_of_three() -> UserTask {
    let s = created(review_article());
    let s = ok(&s, &john(), claim(ORIGINAL), t(1)).state;
    let s = ok(
        &s,
        &john(),
        follow_on(ORIGINAL, "Legal Review", PotentialOwners::user("sarah")),
        t(2),
    )
    .state;
    let s = ok(&s, &sarah(), claim(id(1)), t(3)).state;
    ok(
        &s,
        &sarah(),
        follow_on(
            id(1),
            "Second Legal Opinion",
            PotentialOwners::group("legal"),
        ),
        t(30),
    )
    .state
}

fn escalation(
    name: &str,
    after: Duration,
    from: EscalationStart,
    unless: ExpectedState,
    action: EscalationAction,
) -> EscalationSpec {
    EscalationSpec {
        name: name.into(),
        after,
        from,
        unless,
        action,
    }
}

// ---------------------------------------------------------------------------------------
// Creation, claim, cancel claim, complete, fail

#[test]
fn a_user_task_is_created_ready_with_its_potential_owners() {
    let tr = create(review_article(), t(0)).unwrap();
    let original = tr.state.original();
    assert_eq!(original.status, HumanTaskStatus::Ready);
    assert_eq!(
        original.potential_owners,
        PotentialOwners::group("reviewers")
    );
    assert_eq!(original.originator.as_deref(), Some("publisher"));
    assert_eq!(tr.created, vec![ORIGINAL]);
    assert!(matches!(
        tr.events[0].kind,
        UserTaskEventKind::Created {
            role: HumanTaskRole::Original,
            ..
        }
    ));
    assert_eq!(tr.state.status_name(), "ready");
}

#[test]
fn a_user_task_needs_a_potential_owner() {
    let spec = UserTaskSpec {
        potential_owners: PotentialOwners::default(),
        ..review_article()
    };
    assert_eq!(
        create(spec, t(0)).unwrap_err(),
        UserTaskError::NoPotentialOwners {
            title: "Review Article".into()
        }
    );
}

#[test]
fn the_expiration_is_returned_as_a_timer_request_not_read_from_a_clock() {
    let tr = create(review_article(), t(0)).unwrap();
    let timers = set_timers(&tr);
    assert_eq!(timers.len(), 1);
    assert_eq!(timers[0].fires, TimerFires::Expire { task: ORIGINAL });
    assert_eq!(timers[0].due, t(72 * 60));
    assert!(timers[0].key.starts_with("user_task:review_article:"));
}

#[test]
fn a_listed_user_may_claim_a_ready_task() {
    let spec = UserTaskSpec {
        potential_owners: PotentialOwners::user("eve"),
        ..review_article()
    };
    let tr = ok(&created(spec), &eve(), claim(ORIGINAL), t(1));
    assert_eq!(
        tr.state.original().status,
        HumanTaskStatus::Claimed {
            by: "eve".into(),
            since: t(1)
        }
    );
}

#[test]
fn a_member_of_a_candidate_group_may_claim_a_ready_task() {
    let tr = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1));
    assert_eq!(tr.state.original().status.claimed_by(), Some("john"));
}

#[test]
fn an_administrator_may_claim_a_ready_task() {
    ok(&created(review_article()), &admin(), claim(ORIGINAL), t(1));
    let chief = Actor::User(Caller::new("chief"));
    ok(&created(review_article()), &chief, claim(ORIGINAL), t(1));
}

#[test]
fn only_a_potential_owner_may_claim_and_a_denied_claim_changes_nothing() {
    let s = created(review_article());
    assert_eq!(
        refused(&s, &eve(), claim(ORIGINAL), t(1)),
        UserTaskError::NotPotentialOwner {
            task: ORIGINAL,
            user: "eve".into()
        }
    );
    assert_eq!(
        refused(&s, &sarah(), claim(ORIGINAL), t(1)),
        UserTaskError::NotPotentialOwner {
            task: ORIGINAL,
            user: "sarah".into()
        }
    );
}

#[test]
fn a_claimed_task_cannot_be_claimed_again() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    assert_eq!(
        refused(&s, &mike(), claim(ORIGINAL), t(2)),
        UserTaskError::AlreadyClaimed {
            task: ORIGINAL,
            by: "john".into()
        }
    );
}

#[test]
fn the_engine_cannot_claim_a_task() {
    let s = created(review_article());
    assert!(matches!(
        refused(&s, &Actor::Engine, claim(ORIGINAL), t(1)),
        UserTaskError::UserOnly { .. }
    ));
}

#[test]
fn cancel_claim_returns_the_task_to_ready() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let s = ok(
        &s,
        &john(),
        UserTaskCommand::CancelClaim { task: ORIGINAL },
        t(2),
    )
    .state;
    assert_eq!(s.original().status, HumanTaskStatus::Ready);
    ok(&s, &mike(), claim(ORIGINAL), t(3));
}

#[test]
fn only_the_owner_may_cancel_a_claim() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let e = refused(
        &s,
        &mike(),
        UserTaskCommand::CancelClaim { task: ORIGINAL },
        t(2),
    );
    assert!(
        matches!(e, UserTaskError::NotOwner { ref owner, .. } if owner == "john"),
        "{e}"
    );
    let ready = created(review_article());
    assert!(matches!(
        refused(
            &ready,
            &john(),
            UserTaskCommand::CancelClaim { task: ORIGINAL },
            t(2)
        ),
        UserTaskError::NotClaimed { .. }
    ));
}

#[test]
fn complete_ends_the_task_ok_and_the_process_gets_its_output() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let tr = ok(
        &s,
        &john(),
        complete(ORIGINAL, json!({"approved": true, "comments": "fine"})),
        t(5),
    );
    assert_eq!(
        tr.state.original().status,
        HumanTaskStatus::EndedOk {
            by: "john".into(),
            at: t(5)
        }
    );
    let outcome = ended(&tr).expect("the process hears of the end");
    assert_eq!(outcome.status, OutcomeStatus::EndedOk);
    assert_eq!(
        outcome.output,
        obj(json!({"approved": true, "comments": "fine"}))
    );
    assert_eq!(tr.state.outcome(), Some(outcome));
}

#[test]
fn only_the_owner_may_complete() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let e = refused(
        &s,
        &mike(),
        complete(ORIGINAL, json!({"approved": true})),
        t(2),
    );
    assert_eq!(
        e,
        UserTaskError::NotOwner {
            task: ORIGINAL,
            user: "mike".into(),
            action: "complete",
            owner: "john".into()
        }
    );
    assert!(matches!(
        refused(
            &s,
            &admin(),
            complete(ORIGINAL, json!({"approved": true})),
            t(2)
        ),
        UserTaskError::NotOwner { .. }
    ));
    let ready = created(review_article());
    assert!(matches!(
        refused(
            &ready,
            &john(),
            complete(ORIGINAL, json!({"approved": true})),
            t(2)
        ),
        UserTaskError::NotClaimed { .. }
    ));
}

#[test]
fn complete_validates_the_output_against_the_typed_form() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let e = refused(
        &s,
        &john(),
        complete(ORIGINAL, json!({"approved": "yes", "rating": 5})),
        t(2),
    );
    let UserTaskError::InvalidOutput { task, problems } = e else {
        panic!("expected InvalidOutput, got {e}")
    };
    assert_eq!(task, ORIGINAL);
    assert_eq!(
        problems,
        vec![
            "`rating` is not a field of this task's form (it has approved, comments)".to_owned(),
            "`approved` must be boolean, got string".to_owned(),
        ]
    );
    let e = refused(
        &s,
        &john(),
        complete(ORIGINAL, json!({"comments": "no verdict"})),
        t(2),
    );
    assert!(e.to_string().contains("`approved` is required"), "{e}");
}

#[test]
fn fail_ends_the_task_not_ok_with_the_reason() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let tr = ok(
        &s,
        &john(),
        UserTaskCommand::Fail {
            task: ORIGINAL,
            reason: "article withdrawn".into(),
        },
        t(2),
    );
    assert_eq!(status(&tr.state, ORIGINAL), "ended_not_ok");
    let outcome = ended(&tr).unwrap();
    assert_eq!(
        (outcome.status, outcome.reason.as_deref()),
        (OutcomeStatus::EndedNotOk, Some("article withdrawn"))
    );
    assert_eq!(
        cleared_timers(&tr).len(),
        1,
        "the expiration timer is cleared"
    );
    assert!(tr.state.timers.is_empty());
}

#[test]
fn operations_on_an_ended_task_are_refused() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let s = ok(
        &s,
        &john(),
        complete(ORIGINAL, json!({"approved": true})),
        t(2),
    )
    .state;
    for command in [
        claim(ORIGINAL),
        UserTaskCommand::Suspend { task: ORIGINAL },
        UserTaskCommand::Terminate { task: ORIGINAL },
        UserTaskCommand::Restart { task: ORIGINAL },
        UserTaskCommand::Escalate {
            task: ORIGINAL,
            name: "late".into(),
            action: EscalationAction::RaisePriority { by: 1 },
        },
    ] {
        let e = refused(&s, &admin(), command, t(3));
        assert!(
            matches!(
                e,
                UserTaskError::ChainEnded {
                    status: "ended_ok",
                    ..
                }
            ),
            "{e}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Subtasks

#[test]
fn the_owner_may_create_subtasks_for_other_users() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let tr = ok(
        &s,
        &john(),
        subtask(ORIGINAL, "Check the figures", PotentialOwners::user("paul")),
        t(2),
    );
    assert_eq!(tr.created, vec![id(1)]);
    let sub = tr.state.task(id(1)).unwrap();
    assert_eq!(sub.role, HumanTaskRole::Subtask { parent: ORIGINAL });
    assert_eq!(
        (sub.status.name(), sub.originator.as_deref()),
        ("ready", Some("john"))
    );
    assert_eq!(tr.state.original().subtasks, vec![id(1)]);
    assert_eq!(
        status(&tr.state, ORIGINAL),
        "claimed",
        "the parent stays claimed"
    );
    let s = ok(&tr.state, &paul(), claim(id(1)), t(3)).state;
    assert_eq!(s.task(id(1)).unwrap().status.claimed_by(), Some("paul"));
}

#[test]
fn only_the_owner_of_a_claimed_task_may_create_subtasks() {
    let ready = created(review_article());
    assert!(matches!(
        refused(
            &ready,
            &john(),
            subtask(ORIGINAL, "x", PotentialOwners::user("paul")),
            t(1)
        ),
        UserTaskError::NotClaimed { .. }
    ));
    let s = ok(&ready, &john(), claim(ORIGINAL), t(1)).state;
    assert!(matches!(
        refused(
            &s,
            &mike(),
            subtask(ORIGINAL, "x", PotentialOwners::user("paul")),
            t(2)
        ),
        UserTaskError::NotOwner { .. }
    ));
    assert!(matches!(
        refused(
            &s,
            &john(),
            subtask(ORIGINAL, "x", PotentialOwners::default()),
            t(2)
        ),
        UserTaskError::NoPotentialOwners { .. }
    ));
}

#[test]
fn the_parent_completes_only_when_its_subtasks_ended() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let s = ok(
        &s,
        &john(),
        subtask(ORIGINAL, "Check the figures", PotentialOwners::user("paul")),
        t(2),
    )
    .state;
    let e = refused(
        &s,
        &john(),
        complete(ORIGINAL, json!({"approved": true})),
        t(3),
    );
    assert_eq!(
        e,
        UserTaskError::OpenSubtasks {
            task: ORIGINAL,
            subtasks: vec![id(1)]
        }
    );
    let s = ok(&s, &paul(), claim(id(1)), t(4)).state;
    let tr = ok(&s, &paul(), complete(id(1), json!({"figures": "ok"})), t(5));
    assert!(
        ended(&tr).is_none(),
        "a subtask's end is not the process's business"
    );
    assert!(tr.events.iter().any(|e| e.task == ORIGINAL && matches!(&e.kind, UserTaskEventKind::SubtaskEnded { subtask, .. } if *subtask == id(1))));
    let tr = ok(
        &tr.state,
        &john(),
        complete(ORIGINAL, json!({"approved": true})),
        t(6),
    );
    assert_eq!(status(&tr.state, ORIGINAL), "ended_ok");
}

#[test]
fn with_end_open_subtasks_completing_the_parent_terminates_its_open_subtasks() {
    let spec = UserTaskSpec {
        subtask_policy: SubtaskPolicy::EndOpenSubtasks,
        ..review_article()
    };
    let s = ok(&created(spec), &john(), claim(ORIGINAL), t(1)).state;
    let s = ok(
        &s,
        &john(),
        subtask(ORIGINAL, "Check the figures", PotentialOwners::user("paul")),
        t(2),
    )
    .state;
    let tr = ok(
        &s,
        &john(),
        complete(ORIGINAL, json!({"approved": true})),
        t(3),
    );
    assert_eq!(
        (status(&tr.state, ORIGINAL), status(&tr.state, id(1))),
        ("ended_ok", "terminated")
    );
}

#[test]
fn ending_the_parent_otherwise_terminates_its_open_subtasks() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let s = ok(
        &s,
        &john(),
        subtask(ORIGINAL, "Check the figures", PotentialOwners::user("paul")),
        t(2),
    )
    .state;
    let tr = ok(
        &s,
        &john(),
        UserTaskCommand::Fail {
            task: ORIGINAL,
            reason: "withdrawn".into(),
        },
        t(3),
    );
    assert_eq!(status(&tr.state, id(1)), "terminated");
}

// ---------------------------------------------------------------------------------------
// Follow-on tasks

#[test]
fn starting_a_follow_on_forwards_the_predecessor_and_ends_its_work() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let tr = ok(
        &s,
        &john(),
        follow_on(ORIGINAL, "Legal Review", PotentialOwners::user("sarah")),
        t(2),
    );
    assert_eq!(tr.created, vec![id(1)]);
    assert_eq!(
        tr.state.original().status,
        HumanTaskStatus::Forwarded {
            to: id(1),
            at: t(2)
        }
    );
    assert_eq!(tr.state.original().follow_on, Some(id(1)));
    let next = tr.state.task(id(1)).unwrap();
    assert_eq!(
        (next.role, next.status.name(), next.originator.as_deref()),
        (
            HumanTaskRole::FollowOn {
                predecessor: ORIGINAL
            },
            "ready",
            Some("john")
        )
    );
    assert!(ended(&tr).is_none(), "the chain goes on: the process waits");
    assert_eq!(tr.state.status_name(), "forwarded");
    assert_eq!(tr.state.chain(ORIGINAL), vec![ORIGINAL, id(1)]);
}

#[test]
fn a_forwarded_task_takes_no_more_work() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let s = ok(
        &s,
        &john(),
        follow_on(ORIGINAL, "Legal Review", PotentialOwners::user("sarah")),
        t(2),
    )
    .state;
    for command in [
        claim(ORIGINAL),
        complete(ORIGINAL, json!({"approved": true})),
        UserTaskCommand::CancelClaim { task: ORIGINAL },
        follow_on(ORIGINAL, "again", PotentialOwners::user("mike")),
        subtask(ORIGINAL, "more", PotentialOwners::user("mike")),
    ] {
        let e = refused(&s, &john(), command, t(3));
        assert!(
            matches!(e, UserTaskError::Forwarded { task: ORIGINAL, to, .. } if to == id(1)),
            "{e}"
        );
    }
}

#[test]
fn the_follow_on_input_is_a_copy_of_the_predecessor_input_plus_notes() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let command = UserTaskCommand::StartFollowOn {
        task: ORIGINAL,
        spec: FollowOnSpec {
            title: "Legal Review".into(),
            description: "Legal concerns: competitor collaboration".into(),
            to: PotentialOwners::user("sarah"),
            notes: Some("Please check the competitor section".into()),
            input: obj(json!({"section": 3})),
            escalations: Vec::new(),
        },
    };
    let s = ok(&s, &john(), command, t(2)).state;
    let next = s.task(id(1)).unwrap();
    assert_eq!(
        next.input,
        obj(
            json!({"article": "Our collaboration with a competitor", "author": "ann", "section": 3})
        )
    );
    assert_eq!(
        next.notes,
        vec![Note {
            by: "john".into(),
            at: t(2),
            text: "Please check the competitor section".into()
        }]
    );
    assert_eq!(
        next.output_fields,
        s.original().output_fields,
        "it fills in the form whose output the process gets"
    );
    // A second follow-on carries the notes along.
    let s = ok(&s, &sarah(), claim(id(1)), t(3)).state;
    let spec = FollowOnSpec {
        title: "Second opinion".into(),
        description: String::new(),
        to: PotentialOwners::user("paul"),
        notes: Some("Agree?".into()),
        input: Map::new(),
        escalations: Vec::new(),
    };
    let s = ok(
        &s,
        &sarah(),
        UserTaskCommand::StartFollowOn { task: id(1), spec },
        t(4),
    )
    .state;
    assert_eq!(s.task(id(2)).unwrap().notes.len(), 2);
}

#[test]
fn only_the_owner_may_start_a_follow_on() {
    let ready = created(review_article());
    assert!(matches!(
        refused(
            &ready,
            &john(),
            follow_on(ORIGINAL, "x", PotentialOwners::user("sarah")),
            t(1)
        ),
        UserTaskError::NotClaimed { .. }
    ));
    let s = ok(&ready, &john(), claim(ORIGINAL), t(1)).state;
    assert!(matches!(
        refused(
            &s,
            &mike(),
            follow_on(ORIGINAL, "x", PotentialOwners::user("sarah")),
            t(2)
        ),
        UserTaskError::NotOwner { .. }
    ));
    assert!(matches!(
        refused(
            &s,
            &john(),
            follow_on(ORIGINAL, "x", PotentialOwners::default()),
            t(2)
        ),
        UserTaskError::NoPotentialOwners { .. }
    ));
}

#[test]
fn a_follow_on_may_go_to_a_group() {
    let s = chain_of_three();
    assert_eq!(
        s.task(id(2)).unwrap().potential_owners,
        PotentialOwners::group("legal")
    );
    ok(&s, &paul(), claim(id(2)), t(31));
}

#[test]
fn follow_on_tasks_support_claim_cancel_claim_subtasks_and_further_follow_ons() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let s = ok(
        &s,
        &john(),
        follow_on(ORIGINAL, "Legal Review", PotentialOwners::group("legal")),
        t(2),
    )
    .state;
    let s = ok(&s, &sarah(), claim(id(1)), t(3)).state;
    let s = ok(
        &s,
        &sarah(),
        UserTaskCommand::CancelClaim { task: id(1) },
        t(4),
    )
    .state;
    let s = ok(&s, &paul(), claim(id(1)), t(5)).state;
    let s = ok(
        &s,
        &paul(),
        subtask(id(1), "Ask counsel", PotentialOwners::user("sarah")),
        t(6),
    )
    .state;
    assert_eq!(
        s.task(id(2)).unwrap().role,
        HumanTaskRole::Subtask { parent: id(1) }
    );
    let s = ok(&s, &sarah(), claim(id(2)), t(7)).state;
    let s = ok(
        &s,
        &sarah(),
        complete(id(2), json!({"counsel": "fine"})),
        t(8),
    )
    .state;
    let s = ok(
        &s,
        &paul(),
        follow_on(id(1), "Sign-off", PotentialOwners::user("mike")),
        t(9),
    )
    .state;
    assert_eq!(s.chain(id(3)), vec![ORIGINAL, id(1), id(3)]);
    assert_eq!(status(&s, id(1)), "forwarded");
}

#[test]
fn a_follow_on_with_open_subtasks_of_its_predecessor_is_refused_under_wait_for_subtasks() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let s = ok(
        &s,
        &john(),
        subtask(ORIGINAL, "figures", PotentialOwners::user("paul")),
        t(2),
    )
    .state;
    let e = refused(
        &s,
        &john(),
        follow_on(ORIGINAL, "Legal Review", PotentialOwners::user("sarah")),
        t(3),
    );
    assert_eq!(
        e,
        UserTaskError::OpenSubtasks {
            task: ORIGINAL,
            subtasks: vec![id(1)]
        }
    );
}

#[test]
fn the_output_of_the_last_task_in_the_chain_is_the_output_the_process_gets() {
    let s = chain_of_three();
    let s = ok(&s, &paul(), claim(id(2)), t(31)).state;
    let tr = ok(
        &s,
        &paul(),
        complete(id(2), json!({"approved": false, "comments": "too risky"})),
        t(40),
    );
    let outcome = ended(&tr).expect("the chain ended");
    assert_eq!(outcome.task, id(2));
    assert_eq!(
        outcome.output,
        obj(json!({"approved": false, "comments": "too risky"}))
    );
    assert_eq!(tr.state.outcome(), Some(outcome));
    assert_eq!(
        (status(&tr.state, ORIGINAL), status(&tr.state, id(1))),
        ("forwarded", "forwarded")
    );
}

// ---------------------------------------------------------------------------------------
// Suspend and resume

#[test]
fn suspending_any_task_in_the_chain_suspends_the_whole_chain() {
    for (task, actor) in [(ORIGINAL, admin()), (id(1), john()), (id(2), admin())] {
        let s = chain_of_three();
        let s = ok(&s, &actor, UserTaskCommand::Suspend { task }, t(31)).state;
        for t in s.chain(ORIGINAL) {
            assert!(
                s.task(t).unwrap().status.is_suspended(),
                "task {t} is suspended after suspending {task}"
            );
        }
    }
}

#[test]
fn each_suspended_task_remembers_the_status_it_was_in() {
    let s = chain_of_three();
    let s = ok(&s, &paul(), claim(id(2)), t(31)).state;
    let s = ok(
        &s,
        &admin(),
        UserTaskCommand::Suspend { task: id(1) },
        t(32),
    )
    .state;
    assert_eq!(
        s.original().status.base(),
        &HumanTaskStatus::Forwarded {
            to: id(1),
            at: t(2)
        }
    );
    assert_eq!(
        s.task(id(2)).unwrap().status.base(),
        &HumanTaskStatus::Claimed {
            by: "paul".into(),
            since: t(31)
        }
    );
    assert_eq!(s.status_name(), "suspended");
}

#[test]
fn a_suspended_chain_can_be_resumed_by_any_task_in_the_chain() {
    for task in [ORIGINAL, id(1), id(2)] {
        let before = chain_of_three();
        let s = ok(
            &before,
            &admin(),
            UserTaskCommand::Suspend { task: id(2) },
            t(31),
        )
        .state;
        let s = ok(&s, &admin(), UserTaskCommand::Resume { task }, t(32)).state;
        for t in s.chain(ORIGINAL) {
            assert_eq!(
                s.task(t).unwrap().status,
                before.task(t).unwrap().status,
                "task {t} is back as it was after resuming {task}"
            );
        }
    }
}

#[test]
fn a_suspended_chain_takes_no_work_until_resumed() {
    let s = chain_of_three();
    let s = ok(&s, &paul(), claim(id(2)), t(31)).state;
    let s = ok(&s, &paul(), UserTaskCommand::Suspend { task: id(2) }, t(32)).state;
    assert!(matches!(
        refused(
            &s,
            &paul(),
            complete(id(2), json!({"approved": true})),
            t(33)
        ),
        UserTaskError::Suspended { .. }
    ));
    assert!(matches!(
        refused(
            &s,
            &paul(),
            UserTaskCommand::Suspend { task: ORIGINAL },
            t(33)
        ),
        UserTaskError::AlreadySuspended { .. }
    ));
    let s = ok(
        &s,
        &paul(),
        UserTaskCommand::Resume { task: ORIGINAL },
        t(34),
    )
    .state;
    assert!(matches!(
        refused(
            &s,
            &paul(),
            UserTaskCommand::Resume { task: ORIGINAL },
            t(35)
        ),
        UserTaskError::NotSuspended { .. }
    ));
    ok(
        &s,
        &paul(),
        complete(id(2), json!({"approved": true})),
        t(35),
    );
}

#[test]
fn the_owner_the_originators_and_administrators_may_suspend_a_chain_and_nobody_else() {
    let s = chain_of_three();
    let s = ok(&s, &paul(), claim(id(2)), t(31)).state;
    for allowed in [
        paul(),
        john(),
        sarah(),
        admin(),
        Actor::User(Caller::new("chief")),
        Actor::User(Caller::new("publisher")),
        Actor::Engine,
    ] {
        ok(
            &s,
            &allowed,
            UserTaskCommand::Suspend { task: id(2) },
            t(32),
        );
    }
    let e = refused(&s, &mike(), UserTaskCommand::Suspend { task: id(2) }, t(32));
    assert!(matches!(e, UserTaskError::NotInvolved { .. }), "{e}");
}

#[test]
fn suspending_pauses_the_chain_timers_and_resuming_runs_them_for_the_time_they_had_left() {
    let s = created(review_article());
    let expire_key = s.timers[0].key.clone();
    let tr = ok(
        &s,
        &admin(),
        UserTaskCommand::Suspend { task: ORIGINAL },
        t(60),
    );
    assert_eq!(cleared_timers(&tr), vec![expire_key.clone()]);
    assert_eq!(
        tr.state.timers[0].state,
        TimerState::Paused {
            remaining: hours(71)
        }
    );
    assert_eq!(
        refused(
            &tr.state,
            &Actor::Engine,
            UserTaskCommand::FireTimer {
                key: expire_key.clone()
            },
            t(72 * 60)
        ),
        UserTaskError::StaleTimer(expire_key.clone())
    );
    let tr = ok(
        &tr.state,
        &admin(),
        UserTaskCommand::Resume { task: ORIGINAL },
        t(24 * 60),
    );
    let timers = set_timers(&tr);
    assert_eq!(timers.len(), 1);
    assert_eq!(timers[0].due, t(24 * 60) + chrono::Duration::hours(71));
    assert_ne!(
        timers[0].key, expire_key,
        "a resumed timer gets a new key, so a late fire of the old one is stale"
    );
}

// ---------------------------------------------------------------------------------------
// Escalation

#[test]
fn escalating_any_task_in_the_chain_escalates_every_follow_on() {
    let s = chain_of_three();
    let tr = ok(
        &s,
        &admin(),
        UserTaskCommand::Escalate {
            task: id(1),
            name: "slow".into(),
            action: EscalationAction::RaisePriority { by: 5 },
        },
        t(31),
    );
    let s = tr.state;
    assert!(
        !s.original().is_escalated(),
        "the task before the escalated one is not escalated"
    );
    for task in [id(1), id(2)] {
        let t = s.task(task).unwrap();
        assert!(t.is_escalated(), "task {task} is escalated");
        assert_eq!((t.escalations[0].origin, t.priority), (id(1), 5));
    }
    let s = ok(
        &s,
        &admin(),
        UserTaskCommand::Escalate {
            task: ORIGINAL,
            name: "late".into(),
            action: EscalationAction::RaisePriority { by: 1 },
        },
        t(32),
    )
    .state;
    assert!(s
        .chain(ORIGINAL)
        .iter()
        .all(|&t| s.task(t).unwrap().is_escalated()));
    assert_eq!(
        s.task(id(2)).unwrap().escalations.len(),
        2,
        "the escalation history keeps both"
    );
}

#[test]
fn an_escalation_timer_escalates_the_task_and_its_follow_ons() {
    let spec = UserTaskSpec {
        escalations: vec![escalation(
            "not done in 2h",
            hours(2),
            EscalationStart::Creation,
            ExpectedState::Ended,
            EscalationAction::RaisePriority { by: 10 },
        )],
        ..review_article()
    };
    let tr = create(spec, t(0)).unwrap();
    let timer = set_timers(&tr)
        .into_iter()
        .find(|t| matches!(t.fires, TimerFires::Escalate { .. }))
        .expect("an escalation timer");
    assert_eq!(timer.due, t(120));
    let s = ok(&tr.state, &john(), claim(ORIGINAL), t(1)).state;
    let s = ok(
        &s,
        &john(),
        follow_on(ORIGINAL, "Legal Review", PotentialOwners::user("sarah")),
        t(2),
    )
    .state;
    let tr = ok(
        &s,
        &Actor::Engine,
        UserTaskCommand::FireTimer { key: timer.key },
        t(120),
    );
    assert!(tr.state.original().is_escalated() && tr.state.task(id(1)).unwrap().is_escalated());
    assert_eq!(tr.state.task(id(1)).unwrap().priority, 10);
}

#[test]
fn follow_on_tasks_can_have_escalations_of_their_own() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let spec = FollowOnSpec {
        title: "Legal Review".into(),
        description: String::new(),
        to: PotentialOwners::user("sarah"),
        notes: None,
        input: Map::new(),
        escalations: vec![escalation(
            "sarah is slow",
            hours(4),
            EscalationStart::Creation,
            ExpectedState::Ended,
            EscalationAction::Notify {
                to: PotentialOwners::user("john"),
            },
        )],
    };
    let tr = ok(
        &s,
        &john(),
        UserTaskCommand::StartFollowOn {
            task: ORIGINAL,
            spec,
        },
        t(2),
    );
    let timer = set_timers(&tr)
        .pop()
        .expect("the follow-on's own escalation timer");
    assert_eq!(
        (timer.fires.clone(), timer.due),
        (
            TimerFires::Escalate {
                task: id(1),
                escalation: 0
            },
            t(2) + chrono::Duration::hours(4)
        )
    );
    let tr = ok(
        &tr.state,
        &Actor::Engine,
        UserTaskCommand::FireTimer { key: timer.key },
        timer.due,
    );
    assert!(tr.state.task(id(1)).unwrap().is_escalated());
    assert!(
        !tr.state.original().is_escalated(),
        "a follow-on's escalation does not reach back to its predecessor"
    );
    assert!(tr.effects.contains(&UserTaskEffect::Notify {
        task: id(1),
        escalation: "sarah is slow".into(),
        to: PotentialOwners::user("john")
    }));
}

#[test]
fn a_follow_on_started_after_an_escalation_is_escalated_too() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let s = ok(
        &s,
        &admin(),
        UserTaskCommand::Escalate {
            task: ORIGINAL,
            name: "late".into(),
            action: EscalationAction::RaisePriority { by: 3 },
        },
        t(2),
    )
    .state;
    let s = ok(
        &s,
        &john(),
        follow_on(ORIGINAL, "Legal Review", PotentialOwners::user("sarah")),
        t(3),
    )
    .state;
    let next = s.task(id(1)).unwrap();
    assert!(next.is_escalated());
    assert_eq!((next.escalations[0].origin, next.priority), (ORIGINAL, 3));
}

#[test]
fn an_escalation_does_not_fire_once_its_expected_state_was_reached() {
    let spec = UserTaskSpec {
        escalations: vec![escalation(
            "unclaimed",
            hours(2),
            EscalationStart::Creation,
            ExpectedState::Claimed,
            EscalationAction::RaisePriority { by: 1 },
        )],
        ..review_article()
    };
    let tr = create(spec.clone(), t(0)).unwrap();
    let key = tr
        .state
        .timers
        .iter()
        .find(|t| matches!(t.fires, TimerFires::Escalate { .. }))
        .unwrap()
        .key
        .clone();
    let claimed = ok(&tr.state, &john(), claim(ORIGINAL), t(1)).state;
    let fired = ok(
        &claimed,
        &Actor::Engine,
        UserTaskCommand::FireTimer { key: key.clone() },
        t(120),
    );
    assert!(!fired.state.original().is_escalated());
    assert!(fired.events.is_empty());
    // Still unclaimed at the deadline: it escalates.
    let fired = ok(
        &tr.state,
        &Actor::Engine,
        UserTaskCommand::FireTimer { key },
        t(120),
    );
    assert!(fired.state.original().is_escalated());
}

#[test]
fn an_escalation_from_claim_is_set_at_claim_and_cleared_when_the_claim_is_cancelled() {
    let spec = UserTaskSpec {
        escalations: vec![escalation(
            "claimed too long",
            hours(8),
            EscalationStart::Claim,
            ExpectedState::Ended,
            EscalationAction::RaisePriority { by: 1 },
        )],
        ..review_article()
    };
    let s = created(spec);
    assert_eq!(s.timers.len(), 1, "only the expiration runs before a claim");
    let tr = ok(&s, &john(), claim(ORIGINAL), t(10));
    let timer = set_timers(&tr).pop().expect("the claim escalation");
    assert_eq!(timer.due, t(10) + chrono::Duration::hours(8));
    let tr = ok(
        &tr.state,
        &john(),
        UserTaskCommand::CancelClaim { task: ORIGINAL },
        t(20),
    );
    assert_eq!(cleared_timers(&tr), vec![timer.key.clone()]);
    assert_eq!(
        refused(
            &tr.state,
            &Actor::Engine,
            UserTaskCommand::FireTimer {
                key: timer.key.clone()
            },
            timer.due
        ),
        UserTaskError::StaleTimer(timer.key)
    );
}

#[test]
fn an_escalation_from_the_due_date_counts_from_the_due_date() {
    let spec = UserTaskSpec {
        due: Some(t(600)),
        escalations: vec![escalation(
            "overdue",
            hours(1),
            EscalationStart::DueDate,
            ExpectedState::Ended,
            EscalationAction::RaisePriority { by: 1 },
        )],
        ..review_article()
    };
    let tr = create(spec, t(0)).unwrap();
    assert!(set_timers(&tr)
        .iter()
        .any(|timer| timer.due == t(660) && matches!(timer.fires, TimerFires::Escalate { .. })));
}

#[test]
fn an_escalation_may_reassign_the_current_task_to_a_group_releasing_its_claim() {
    let s = chain_of_three();
    let s = ok(&s, &paul(), claim(id(2)), t(31)).state;
    let action = EscalationAction::Reassign {
        to: PotentialOwners::group("reviewers"),
    };
    let s = ok(
        &s,
        &admin(),
        UserTaskCommand::Escalate {
            task: ORIGINAL,
            name: "stuck".into(),
            action,
        },
        t(32),
    )
    .state;
    let last = s.task(id(2)).unwrap();
    assert_eq!(
        (last.status.name(), &last.potential_owners),
        ("ready", &PotentialOwners::group("reviewers"))
    );
    assert!(matches!(
        refused(&s, &paul(), claim(id(2)), t(33)),
        UserTaskError::NotPotentialOwner { .. }
    ));
    ok(&s, &mike(), claim(id(2)), t(33));
}

#[test]
fn only_an_administrator_or_the_engine_may_escalate_by_hand() {
    let s = chain_of_three();
    let command = UserTaskCommand::Escalate {
        task: id(2),
        name: "x".into(),
        action: EscalationAction::RaisePriority { by: 1 },
    };
    assert!(matches!(
        refused(&s, &sarah(), command.clone(), t(31)),
        UserTaskError::NotAdministrator { .. }
    ));
    ok(&s, &Actor::Engine, command, t(31));
    let nobody = UserTaskCommand::Escalate {
        task: id(2),
        name: "x".into(),
        action: EscalationAction::Notify {
            to: PotentialOwners::default(),
        },
    };
    assert!(matches!(
        refused(&s, &admin(), nobody, t(31)),
        UserTaskError::EscalationNamesNobody { .. }
    ));
}

// ---------------------------------------------------------------------------------------
// Termination, expiration, deletion, restart

#[test]
fn terminating_any_task_in_the_chain_terminates_the_whole_chain() {
    for task in [ORIGINAL, id(1), id(2)] {
        let tr = ok(
            &chain_of_three(),
            &admin(),
            UserTaskCommand::Terminate { task },
            t(31),
        );
        for t in tr.state.chain(ORIGINAL) {
            assert_eq!(
                status(&tr.state, t),
                "terminated",
                "task {t} after terminating {task}"
            );
        }
        assert_eq!(
            ended(&tr).map(|o| o.status),
            Some(OutcomeStatus::Terminated)
        );
        assert!(tr.state.timers.is_empty());
    }
}

#[test]
fn only_an_administrator_or_the_engine_may_terminate() {
    let s = chain_of_three();
    assert!(matches!(
        refused(
            &s,
            &sarah(),
            UserTaskCommand::Terminate { task: id(1) },
            t(31)
        ),
        UserTaskError::NotAdministrator { .. }
    ));
    ok(
        &s,
        &Actor::Engine,
        UserTaskCommand::Terminate { task: id(1) },
        t(31),
    );
    ok(
        &s,
        &Actor::User(Caller::new("chief")),
        UserTaskCommand::Terminate { task: id(2) },
        t(31),
    );
}

#[test]
fn a_suspended_chain_can_be_terminated() {
    let s = ok(
        &chain_of_three(),
        &admin(),
        UserTaskCommand::Suspend { task: id(2) },
        t(31),
    )
    .state;
    let s = ok(
        &s,
        &admin(),
        UserTaskCommand::Terminate { task: id(2) },
        t(32),
    )
    .state;
    assert!(s
        .chain(ORIGINAL)
        .iter()
        .all(|&t| status(&s, t) == "terminated"));
}

#[test]
fn follow_on_tasks_have_no_expiration_of_their_own() {
    let s = chain_of_three();
    let expirations: Vec<&PendingTimer> = s
        .timers
        .iter()
        .filter(|t| matches!(t.fires, TimerFires::Expire { .. }))
        .collect();
    assert_eq!(expirations.len(), 1);
    assert_eq!(expirations[0].fires, TimerFires::Expire { task: ORIGINAL });
    assert!(
        s.task(id(1)).unwrap().expires_after.is_none()
            && s.task(id(2)).unwrap().expires_after.is_none()
    );
}

#[test]
fn when_the_first_task_expires_the_last_task_in_the_chain_becomes_expired() {
    let s = chain_of_three();
    let key = s
        .timers
        .iter()
        .find(|t| t.fires == TimerFires::Expire { task: ORIGINAL })
        .unwrap()
        .key
        .clone();
    let tr = ok(
        &s,
        &Actor::Engine,
        UserTaskCommand::FireTimer { key },
        t(72 * 60),
    );
    assert_eq!(
        tr.state.task(id(2)).unwrap().status,
        HumanTaskStatus::Expired { at: t(72 * 60) }
    );
    assert_eq!(
        (status(&tr.state, ORIGINAL), status(&tr.state, id(1))),
        ("forwarded", "forwarded")
    );
    let outcome = ended(&tr).unwrap();
    assert_eq!(
        (outcome.status, outcome.task),
        (OutcomeStatus::Expired, id(2))
    );
}

#[test]
fn only_the_engine_fires_timers() {
    let s = created(review_article());
    let key = s.timers[0].key.clone();
    assert!(matches!(
        refused(
            &s,
            &admin(),
            UserTaskCommand::FireTimer { key: key.clone() },
            t(1)
        ),
        UserTaskError::EngineOnly { .. }
    ));
    assert_eq!(
        refused(
            &s,
            &Actor::Engine,
            UserTaskCommand::FireTimer { key: "nope".into() },
            t(1)
        ),
        UserTaskError::StaleTimer("nope".into())
    );
}

#[test]
fn deleting_the_parent_task_deletes_its_follow_ons() {
    let s = chain_of_three();
    let s = ok(&s, &paul(), claim(id(2)), t(31)).state;
    let s = ok(
        &s,
        &paul(),
        subtask(id(2), "Ask counsel", PotentialOwners::user("sarah")),
        t(32),
    )
    .state;
    let tr = ok(
        &s,
        &Actor::Engine,
        UserTaskCommand::Delete { task: ORIGINAL },
        t(33),
    );
    assert!(tr.state.tasks.iter().all(|t| t.status.name() == "deleted"));
    assert!(tr.state.deleted && tr.state.timers.is_empty());
    assert!(tr.effects.contains(&UserTaskEffect::Deleted));
    assert_eq!(
        apply(&tr.state, &admin(), claim(id(2)), t(34)).unwrap_err(),
        UserTaskError::UserTaskDeleted("review_article".into())
    );
}

#[test]
fn deleting_an_individual_follow_on_is_refused_with_a_clear_error() {
    let s = chain_of_three();
    let e = refused(&s, &admin(), UserTaskCommand::Delete { task: id(2) }, t(31));
    assert_eq!(
        e,
        UserTaskError::FollowOnAlone {
            task: id(2),
            head: ORIGINAL,
            action: "delete"
        }
    );
    assert_eq!(
        e.to_string(),
        "`delete` is not supported on follow-on task #2 on its own: a chain of follow-on tasks acts as one task; \
         delete its first task #0 instead, which deletes its follow-ons with it"
    );
}

#[test]
fn restarting_the_parent_task_deletes_its_follow_ons() {
    let s = chain_of_three();
    let tr = ok(
        &s,
        &admin(),
        UserTaskCommand::Restart { task: ORIGINAL },
        t(31),
    );
    let s = &tr.state;
    assert_eq!(s.original().status, HumanTaskStatus::Ready);
    assert_eq!((status(s, id(1)), status(s, id(2))), ("deleted", "deleted"));
    assert_eq!(s.chain(ORIGINAL), vec![ORIGINAL]);
    let expire = set_timers(&tr)
        .into_iter()
        .find(|t| t.fires == TimerFires::Expire { task: ORIGINAL })
        .expect("the expiration runs again");
    assert_eq!(expire.due, t(31) + chrono::Duration::hours(72));
    assert!(matches!(
        refused(s, &admin(), claim(id(1)), t(32)),
        UserTaskError::TaskDeleted(_)
    ));
    ok(s, &john(), claim(ORIGINAL), t(32));
}

#[test]
fn restarting_an_individual_follow_on_is_refused() {
    let e = refused(
        &chain_of_three(),
        &admin(),
        UserTaskCommand::Restart { task: id(1) },
        t(31),
    );
    assert!(
        matches!(
            e,
            UserTaskError::FollowOnAlone {
                action: "restart",
                head: ORIGINAL,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn only_an_administrator_or_the_engine_may_delete_or_restart() {
    let s = chain_of_three();
    assert!(matches!(
        refused(
            &s,
            &john(),
            UserTaskCommand::Delete { task: ORIGINAL },
            t(31)
        ),
        UserTaskError::NotAdministrator { .. }
    ));
    assert!(matches!(
        refused(
            &s,
            &john(),
            UserTaskCommand::Restart { task: ORIGINAL },
            t(31)
        ),
        UserTaskError::NotAdministrator { .. }
    ));
}

#[test]
fn deleting_a_subtask_deletes_its_own_follow_ons_and_leaves_the_parent_alone() {
    let s = ok(&created(review_article()), &john(), claim(ORIGINAL), t(1)).state;
    let s = ok(
        &s,
        &john(),
        subtask(ORIGINAL, "figures", PotentialOwners::user("paul")),
        t(2),
    )
    .state;
    let s = ok(&s, &paul(), claim(id(1)), t(3)).state;
    let s = ok(
        &s,
        &paul(),
        follow_on(id(1), "figures, again", PotentialOwners::user("mike")),
        t(4),
    )
    .state;
    assert!(
        matches!(refused(&s, &admin(), UserTaskCommand::Delete { task: id(2) }, t(5)), UserTaskError::FollowOnAlone { head, .. } if head == id(1))
    );
    let s = ok(&s, &admin(), UserTaskCommand::Delete { task: id(1) }, t(5)).state;
    assert_eq!(
        (status(&s, id(1)), status(&s, id(2)), status(&s, ORIGINAL)),
        ("deleted", "deleted", "claimed")
    );
    ok(
        &s,
        &john(),
        complete(ORIGINAL, json!({"approved": true})),
        t(6),
    );
}

// ---------------------------------------------------------------------------------------
// The seed's example, potential owners from expressions, persistence

/// The seed: "the Review Article task is claimed by John … He creates a Legal Review task … and
/// then assigns it to Sarah … His task enters the forwarded state … Sarah claims her Legal
/// Review follow-on task … and completes her task. … The article publishing process continues
/// with the output that it associates with the Review Article task, but that comes from the
/// Legal Review follow-on task. … it is deleted with the Legal Review task when the BPEL
/// process instance is deleted."
#[test]
fn article_publishing_review_forwarded_to_legal_review_by_sarah() {
    let s = created(review_article());
    let s = ok(&s, &john(), claim(ORIGINAL), t(10)).state;
    assert_eq!(s.original().status.claimed_by(), Some("john"));

    let legal_review = FollowOnSpec {
        title: "Legal Review".into(),
        description: "The article describes a collaboration with a competitor: please review its legal aspects".into(),
        to: PotentialOwners::user("sarah"),
        notes: Some("Informational aspects reviewed; legal concerns in section 3".into()),
        input: Map::new(),
        escalations: Vec::new(),
    };
    let tr = ok(
        &s,
        &john(),
        UserTaskCommand::StartFollowOn {
            task: ORIGINAL,
            spec: legal_review,
        },
        t(20),
    );
    let legal = tr.created[0];
    assert!(ended(&tr).is_none(), "the process waits for the response");
    let s = tr.state;
    assert_eq!(
        s.original().status.name(),
        "forwarded",
        "John's task enters the forwarded state"
    );
    assert_eq!(
        s.task(legal).unwrap().input["article"],
        json!("Our collaboration with a competitor"),
        "he includes the article as input"
    );

    let s = ok(&s, &sarah(), claim(legal), t(30)).state;
    let sarahs_output =
        json!({"approved": true, "comments": "Fine once section 3 names no prices"});
    let tr = ok(&s, &sarah(), complete(legal, sarahs_output.clone()), t(90));
    let outcome = ended(&tr).expect("the process continues");
    assert_eq!(
        (outcome.status, outcome.task, &outcome.output),
        (OutcomeStatus::EndedOk, legal, &obj(sarahs_output))
    );
    assert_eq!(
        tr.state.outcome(),
        Some(outcome),
        "the output the process associates with Review Article comes from Legal Review"
    );

    let tr = ok(
        &tr.state,
        &Actor::Engine,
        UserTaskCommand::Delete { task: ORIGINAL },
        t(100),
    );
    assert_eq!(
        (status(&tr.state, ORIGINAL), status(&tr.state, legal)),
        ("deleted", "deleted")
    );
}

#[test]
fn potential_owners_come_from_expression_values() {
    let mut owners = PotentialOwners::default();
    owners.add_resolved(&json!("sarah")).unwrap();
    owners
        .add_resolved(&json!(["group:legal", "user:paul"]))
        .unwrap();
    owners
        .add_resolved(&json!({"users": ["john"], "groups": ["reviewers"]}))
        .unwrap();
    assert_eq!(
        owners,
        PotentialOwners::user("sarah")
            .and_user("paul")
            .and_user("john")
            .and_group("legal")
            .and_group("reviewers")
    );
    assert!(matches!(
        owners.add_resolved(&json!(3)),
        Err(UserTaskError::InvalidPotentialOwners(_))
    ));
    assert!(matches!(
        owners.add_resolved(&json!("  ")),
        Err(UserTaskError::InvalidPotentialOwners(_))
    ));
}

#[test]
fn the_state_round_trips_through_json() {
    let spec = UserTaskSpec {
        escalations: vec![escalation(
            "late",
            hours(2),
            EscalationStart::Claim,
            ExpectedState::Claimed,
            EscalationAction::Notify {
                to: PotentialOwners::group("chiefs"),
            },
        )],
        ..review_article()
    };
    let s = create(spec, t(0)).unwrap().state;
    let s = ok(&s, &john(), claim(ORIGINAL), t(1)).state;
    let s = ok(
        &s,
        &john(),
        follow_on(ORIGINAL, "Legal Review", PotentialOwners::user("sarah")),
        t(2),
    )
    .state;
    let s = ok(
        &s,
        &admin(),
        UserTaskCommand::Escalate {
            task: ORIGINAL,
            name: "x".into(),
            action: EscalationAction::RaisePriority { by: 2 },
        },
        t(3),
    )
    .state;
    let s = ok(&s, &admin(), UserTaskCommand::Suspend { task: id(1) }, t(4)).state;
    let text = serde_json::to_string(&s).unwrap();
    let back: UserTask = serde_json::from_str(&text).unwrap();
    assert_eq!(back, s, "{text}");
    let tr = ok(
        &s,
        &admin(),
        UserTaskCommand::Resume { task: ORIGINAL },
        t(5),
    );
    for value in [
        serde_json::to_value(&tr.events).unwrap(),
        serde_json::to_value(&tr.effects).unwrap(),
    ] {
        assert!(value.is_array());
    }
    let effects: Vec<UserTaskEffect> =
        serde_json::from_value(serde_json::to_value(&tr.effects).unwrap()).unwrap();
    assert_eq!(effects, tr.effects);
    let events: Vec<UserTaskEvent> =
        serde_json::from_value(serde_json::to_value(&tr.events).unwrap()).unwrap();
    assert_eq!(events, tr.events);
}
