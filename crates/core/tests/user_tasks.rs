//! `user` tasks in a process (the IBM follow-on tasks seed), through the transition
//! function: the human task is created when the start pipeline lets the task start, the process
//! task shows the human status, the instance waits for people, and the chain's end (its last
//! task's output) ends the process task so the flow goes on. One rule per test, named after it.

mod support;

use baton_core::user_task::{
    Actor, Caller, EscalationAction, FollowOnSpec, HumanTaskId, HumanTaskStatus, PotentialOwners,
    UserTaskCommand, UserTaskError,
};
use baton_core::{Command, EventKind, InstanceStatus, Reason, TaskStatus, TransitionError};
use serde_json::{json, Value};
use support::*;

const ORIGINAL: HumanTaskId = HumanTaskId::ORIGINAL;

fn john() -> Actor {
    Actor::User(Caller::new("john").in_group("editors"))
}

fn sarah() -> Actor {
    Actor::User(Caller::new("sarah").in_group("legal"))
}

fn eve() -> Actor {
    Actor::User(Caller::new("eve"))
}

fn chief() -> Actor {
    Actor::User(Caller::new("chief").admin())
}

fn op(task: &str, actor: Actor, command: UserTaskCommand) -> Command {
    Command::UserTask {
        task: task.into(),
        actor,
        command,
    }
}

fn claim(task: u32) -> UserTaskCommand {
    UserTaskCommand::Claim {
        task: HumanTaskId(task),
    }
}

fn complete(task: u32, output: Value) -> UserTaskCommand {
    UserTaskCommand::Complete {
        task: HumanTaskId(task),
        output: object(output),
    }
}

fn forward(task: u32, title: &str, to: PotentialOwners, notes: &str) -> UserTaskCommand {
    UserTaskCommand::StartFollowOn {
        task: HumanTaskId(task),
        spec: FollowOnSpec::new(title, to).with_notes(notes),
    }
}

/// The seed's publishing process: a review by the editors, then publishing with its output.
const ARTICLE: &[&str] = &[
    "id: article-publishing",
    "data:",
    "  article: {type: string, default: Competitor collaboration}",
    "  reviewer: {type: string, default: mike}",
    "  approved: boolean",
    "  comments: string",
    "tasks:",
    "  - id: review",
    "    kind: user",
    "    title: Review Article",
    "    description: =\"Review '\" + data.article + \"'\"",
    "    owners: [group:editors, =data.reviewer]",
    "    administrators: [chief]",
    "    priority: 3",
    "    due: 2 days",
    "    form:",
    "      approved: boolean",
    "      comments: {type: string, required: false}",
    "  - id: publish",
    "    kind: job",
    "    after: [review]",
    "    command: ./publish.sh",
    "    env: {COMMENTS: data.comments}",
];

fn human_status(flow: &Flow, task: &str, id: u32) -> HumanTaskStatus {
    flow.task(task)
        .user_task
        .as_ref()
        .expect("the user task started")
        .task(HumanTaskId(id))
        .expect("the human task exists")
        .status
        .clone()
}

#[test]
fn a_user_task_is_created_ready_for_its_potential_owners_and_the_instance_waits_for_people() {
    let (flow, _) = Flow::start(ARTICLE);
    assert_eq!(flow.status("review"), TaskStatus::Ready);
    assert_eq!(flow.inst.status, InstanceStatus::Waiting);
    let ut = flow.task("review").user_task.as_ref().unwrap();
    let original = ut.original();
    assert_eq!(original.title, "Review Article");
    assert_eq!(
        original.description, "Review 'Competitor collaboration'",
        "a description built from process data"
    );
    assert_eq!(
        original.potential_owners,
        PotentialOwners::group("editors").and_user("mike"),
        "owners from names and expressions"
    );
    assert_eq!(original.administrators, PotentialOwners::user("chief"));
    assert_eq!(
        (original.priority, original.due),
        (3, Some(t0() + chrono::Duration::days(2)))
    );
    assert_eq!(
        original.input["article"], "Competitor collaboration",
        "the input is a copy of the process data"
    );
    assert_eq!(original.output_fields.len(), 2);
    assert!(matches!(
        flow.reason("review"),
        Some(Reason::OfferedTo { .. })
    ));
    let created = task_events(&flow.history, "review").into_iter().any(|e| {
        matches!(
            e,
            EventKind::HumanTask {
                change: baton_core::user_task::UserTaskEventKind::Created { .. },
                ..
            }
        )
    });
    assert!(created, "the history records the human task's creation");
}

#[test]
fn claim_shows_claimed_and_cancel_claim_makes_the_task_ready_again() {
    let (mut flow, _) = Flow::start(ARTICLE);
    flow.apply(op("review", john(), claim(0)));
    assert!(matches!(flow.status("review"), TaskStatus::Claimed { ref by, .. } if by == "john"));
    assert_eq!(flow.inst.status, InstanceStatus::Waiting);
    flow.apply(op(
        "review",
        john(),
        UserTaskCommand::CancelClaim { task: ORIGINAL },
    ));
    assert_eq!(flow.status("review"), TaskStatus::Ready);
}

#[test]
fn completing_maps_the_output_into_process_data_and_the_flow_goes_on() {
    let (mut flow, _) = Flow::start(ARTICLE);
    flow.apply(op("review", john(), claim(0)));
    let tr = flow.apply(op(
        "review",
        john(),
        complete(0, json!({"approved": true, "comments": "fine"})),
    ));
    assert_eq!(flow.status("review"), TaskStatus::EndedOk);
    assert_eq!(
        (
            flow.inst.data["approved"].clone(),
            flow.inst.data["comments"].clone()
        ),
        (json!(true), json!("fine"))
    );
    assert_eq!(
        env_of(&tr, "publish"),
        &[("COMMENTS".to_owned(), "fine".to_owned())],
        "the next task sees the output"
    );
    assert_eq!(flow.inst.status, InstanceStatus::Running);
}

#[test]
fn an_output_mapping_writes_process_data_from_the_output() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "data: {verdict: string, note: string}",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: john",
        "    form: {approved: boolean, comments: string}",
        "    output:",
        "      verdict: \"output.approved ? 'publish' : 'reject'\"",
        "      note: output.comments + '!'",
    ]);
    flow.apply(op("review", john(), claim(0)));
    flow.apply(op(
        "review",
        john(),
        complete(0, json!({"approved": true, "comments": "ok"})),
    ));
    assert_eq!(flow.inst.data["verdict"], "publish");
    assert_eq!(flow.inst.data["note"], "ok!");
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
}

#[test]
fn an_output_mapping_that_fails_ends_the_task_ended_not_ok_and_writes_nothing() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "data: {verdict: string, note: string}",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: john",
        "    output: {verdict: \"'publish'\", note: output.missing + 1}",
    ]);
    flow.apply(op("review", john(), claim(0)));
    flow.apply(op("review", john(), complete(0, json!({}))));
    assert_eq!(flow.status("review"), TaskStatus::EndedNotOk);
    assert!(
        matches!(flow.reason("review"), Some(Reason::ExpressionFailed { ref field, .. }) if field == "output.note")
    );
    assert_eq!(flow.inst.data["verdict"], Value::Null, "all or nothing");
}

#[test]
fn output_that_does_not_fit_the_form_is_refused_and_changes_nothing() {
    let (mut flow, _) = Flow::start(ARTICLE);
    flow.apply(op("review", john(), claim(0)));
    let before = flow.inst.clone();
    let e = flow
        .try_apply(op(
            "review",
            john(),
            complete(0, json!({"approved": "yes"})),
        ))
        .unwrap_err();
    assert!(
        matches!(
            e,
            TransitionError::UserTask {
                error: UserTaskError::InvalidOutput { .. },
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(flow.inst, before);
}

#[test]
fn failing_a_task_ends_it_ended_not_ok_with_the_reason() {
    let (mut flow, _) = Flow::start(ARTICLE);
    flow.apply(op("review", john(), claim(0)));
    flow.apply(op(
        "review",
        john(),
        UserTaskCommand::Fail {
            task: ORIGINAL,
            reason: "plagiarised".into(),
        },
    ));
    assert_eq!(flow.status("review"), TaskStatus::EndedNotOk);
    assert_eq!(
        flow.reason("review"),
        Some(Reason::HumanTaskFailed {
            by: "john".into(),
            reason: "plagiarised".into()
        })
    );
    assert_eq!(
        flow.inst.status,
        InstanceStatus::Blocked,
        "`publish` needs any_ok: its dependency is not met, as after a failed job"
    );
}

#[test]
fn the_output_of_the_last_task_in_the_chain_is_the_output_the_process_gets() {
    let (mut flow, _) = Flow::start(ARTICLE);
    flow.apply(op("review", john(), claim(0)));
    flow.apply(op(
        "review",
        john(),
        forward(
            0,
            "Legal Review",
            PotentialOwners::user("sarah"),
            "check the legal side",
        ),
    ));
    assert_eq!(
        flow.status("review"),
        TaskStatus::Forwarded { to: HumanTaskId(1) },
        "the predecessor enters the forwarded state"
    );
    assert_eq!(flow.inst.status, InstanceStatus::Waiting);
    flow.apply(op("review", sarah(), claim(1)));
    flow.apply(op(
        "review",
        sarah(),
        complete(1, json!({"approved": false, "comments": "legal concerns"})),
    ));
    assert_eq!(flow.status("review"), TaskStatus::EndedOk);
    assert_eq!(flow.inst.data["comments"], "legal concerns");
    assert!(matches!(
        human_status(&flow, "review", 0),
        HumanTaskStatus::Forwarded { .. }
    ));
}

const EXPIRING: &[&str] = &[
    "id: p",
    "tasks:",
    "  - id: review",
    "    kind: user",
    "    owners: [group:editors]",
    "    expires_after: P3D",
    "  - id: publish",
    "    kind: job",
    "    after: [review]",
    "    dependencies: {else: skip}",
    "    command: ./publish.sh",
    "  - id: chase",
    "    kind: job",
    "    after: [{task: review, status: expired}]",
    "    dependencies: {else: skip}",
    "    command: ./chase.sh",
];

#[test]
fn an_expired_task_ends_expired_and_the_flow_follows_its_expiry_path() {
    let (mut flow, _) = Flow::start(EXPIRING);
    let fired = flow.run_until(t0() + chrono::Duration::days(3));
    assert_eq!(flow.status("review"), TaskStatus::Expired);
    assert_eq!(
        flow.statuses(),
        vec![
            ("review", "expired"),
            ("publish", "ended_skipped"),
            ("chase", "running")
        ]
    );
    assert_eq!(dispatched_all(&fired), vec!["chase"]);
}

#[test]
fn when_the_first_task_expires_the_last_task_of_the_chain_becomes_expired() {
    let (mut flow, _) = Flow::start(EXPIRING);
    flow.apply(op("review", john(), claim(0)));
    flow.apply(op(
        "review",
        john(),
        forward(0, "Legal Review", PotentialOwners::user("sarah"), ""),
    ));
    flow.run_until(t0() + chrono::Duration::days(3));
    assert!(matches!(
        human_status(&flow, "review", 0),
        HumanTaskStatus::Forwarded { .. }
    ));
    assert!(matches!(
        human_status(&flow, "review", 1),
        HumanTaskStatus::Expired { .. }
    ));
    assert_eq!(flow.status("review"), TaskStatus::Expired);
}

#[test]
fn on_expiry_may_end_the_task_with_another_status_or_abort_the_instance() {
    let lines = |action: &str| {
        [
            "id: p",
            "tasks:",
            "  - id: review",
            "    kind: user",
            "    owners: john",
            "    expires_after: 1h",
            &format!("    on_expiry: {action}"),
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let run = |action: &str| {
        let owned = lines(action);
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        let (mut flow, _) = Flow::start(&refs);
        flow.run_until(t0() + chrono::Duration::hours(1));
        (flow.status("review"), flow.inst.status)
    };
    assert_eq!(
        run("{end: ended_ok}"),
        (TaskStatus::EndedOk, InstanceStatus::Completed)
    );
    assert_eq!(
        run("{end: ended_not_ok}"),
        (TaskStatus::EndedNotOk, InstanceStatus::Failed)
    );
    assert_eq!(run("abort"), (TaskStatus::Expired, InstanceStatus::Aborted));
}

#[test]
fn an_escalation_timer_shows_escalated_and_raises_the_priority() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: [group:editors]",
        "    priority: 1",
        "    escalations:",
        "      - {name: unclaimed, after: PT2H, unless: claimed, action: raise_priority, by: 4}",
    ]);
    flow.run_until(t0() + chrono::Duration::hours(2));
    assert_eq!(
        flow.status("review"),
        TaskStatus::Escalated {
            escalation: "unclaimed".into(),
            claimed_by: None
        }
    );
    assert_eq!(
        flow.task("review")
            .user_task
            .as_ref()
            .unwrap()
            .original()
            .priority,
        5
    );
    flow.apply(op("review", john(), claim(0)));
    assert_eq!(
        flow.status("review"),
        TaskStatus::Escalated {
            escalation: "unclaimed".into(),
            claimed_by: Some("john".into())
        }
    );
}

#[test]
fn a_notify_escalation_is_recorded_and_asks_the_driver_to_notify() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: john",
        "    escalations: [{after: 1h, action: notify, to: [group:managers]}]",
    ]);
    let fired = flow.run_until(t0() + chrono::Duration::hours(1));
    let notified =
        fired.iter().flat_map(|t| &t.effects).any(|e| matches!(e, baton_core::Effect::NotifyPeople { to, .. } if to.groups.contains("managers")));
    assert!(notified);
    assert!(task_events(&flow.history, "review")
        .iter()
        .any(|e| matches!(e, EventKind::PeopleNotified { .. })));
}

#[test]
fn suspending_any_task_shows_the_chain_suspended_and_pauses_its_timers() {
    let (mut flow, _) = Flow::start(EXPIRING);
    flow.apply(op("review", john(), claim(0)));
    flow.apply(op(
        "review",
        john(),
        forward(0, "Legal Review", PotentialOwners::user("sarah"), ""),
    ));
    flow.apply(op("review", sarah(), claim(1)));
    flow.wait(chrono::Duration::days(1));
    let tr = flow.apply(op(
        "review",
        sarah(),
        UserTaskCommand::Suspend {
            task: HumanTaskId(1),
        },
    ));
    assert!(matches!(flow.status("review"), TaskStatus::Suspended { ref by, .. } if by == "sarah"));
    assert!(
        !timers_cleared(&tr).is_empty(),
        "the expiration timer is paused"
    );
    assert_eq!(flow.inst.status, InstanceStatus::Waiting);
    flow.run_until(t0() + chrono::Duration::days(10));
    assert!(
        matches!(flow.status("review"), TaskStatus::Suspended { .. }),
        "a suspended chain does not expire"
    );
    flow.apply(op(
        "review",
        john(),
        UserTaskCommand::Resume { task: ORIGINAL },
    ));
    assert_eq!(
        flow.status("review"),
        TaskStatus::Forwarded { to: HumanTaskId(1) }
    );
    flow.run_until(flow.now + chrono::Duration::days(2));
    assert_eq!(
        flow.status("review"),
        TaskStatus::Expired,
        "the expiration runs on with the two days it had left"
    );
}

#[test]
fn aborting_the_instance_terminates_its_open_human_tasks() {
    let (mut flow, _) = Flow::start(EXPIRING);
    flow.apply(op("review", john(), claim(0)));
    let tr = flow.apply(Command::Abort {
        by: "operator".into(),
        abort_parent: false,
    });
    assert_eq!(flow.inst.status, InstanceStatus::Aborted);
    assert!(matches!(
        human_status(&flow, "review", 0),
        HumanTaskStatus::Terminated { .. }
    ));
    assert!(
        !timers_cleared(&tr).is_empty(),
        "the expiration timer is cleared"
    );
    assert_eq!(flow.status("review"), TaskStatus::Canceled);
}

#[test]
fn deleting_the_process_instance_deletes_every_human_task() {
    let (mut flow, _) = Flow::start(ARTICLE);
    flow.apply(op("review", john(), claim(0)));
    flow.apply(op(
        "review",
        john(),
        forward(0, "Legal Review", PotentialOwners::user("sarah"), ""),
    ));
    flow.apply(Command::Delete {
        by: "operator".into(),
        reason: None,
    });
    assert_eq!(flow.inst.status, InstanceStatus::Aborted);
    assert!(flow.inst.deleted_at.is_some());
    let ut = flow.task("review").user_task.as_ref().unwrap();
    assert!(ut.deleted);
    assert!(
        ut.tasks
            .iter()
            .all(|t| matches!(t.status, HumanTaskStatus::Deleted { .. })),
        "both tasks are deleted"
    );
    assert!(flow
        .history
        .iter()
        .any(|e| matches!(e.kind, EventKind::InstanceDeleted { .. })));
    let again = flow
        .try_apply(Command::Delete {
            by: "operator".into(),
            reason: None,
        })
        .unwrap_err();
    assert!(matches!(again, TransitionError::InstanceDeleted(_)));
}

#[test]
fn a_completed_instance_can_be_deleted_and_its_human_tasks_go_with_it() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: john",
    ]);
    flow.apply(op("review", john(), claim(0)));
    flow.apply(op("review", john(), complete(0, json!({}))));
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
    flow.apply(Command::Delete {
        by: "operator".into(),
        reason: None,
    });
    assert_eq!(
        flow.inst.status,
        InstanceStatus::Completed,
        "a finished instance keeps its status"
    );
    assert!(matches!(
        human_status(&flow, "review", 0),
        HumanTaskStatus::Deleted { .. }
    ));
}

#[test]
fn skipping_an_open_user_task_terminates_its_human_tasks() {
    let (mut flow, _) = Flow::start(EXPIRING);
    flow.apply(Command::SkipTask {
        task: "review".into(),
        by: "operator".into(),
    });
    assert_eq!(flow.status("review"), TaskStatus::EndedSkipped);
    assert!(matches!(
        human_status(&flow, "review", 0),
        HumanTaskStatus::Terminated { .. }
    ));
    assert!(flow.timers.is_empty(), "its timers went with it");
}

#[test]
fn an_administrator_terminating_the_chain_ends_the_task_terminated_and_a_retry_offers_it_again() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: john",
        "  - id: after_review",
        "    kind: job",
        "    after: [{task: review, status: terminated}]",
        "    command: ./x.sh",
    ]);
    flow.apply(op(
        "review",
        chief(),
        UserTaskCommand::Terminate { task: ORIGINAL },
    ));
    assert_eq!(flow.status("review"), TaskStatus::Terminated);
    assert_eq!(
        flow.reason("review"),
        Some(Reason::Operator {
            action: "terminate".into(),
            by: "chief".into()
        })
    );
    assert!(
        matches!(flow.status("after_review"), TaskStatus::Running { .. }),
        "successors may depend on `terminated`"
    );

    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: john",
        "  - {id: next, kind: end, after: [review]}",
    ]);
    flow.apply(op(
        "review",
        chief(),
        UserTaskCommand::Terminate { task: ORIGINAL },
    ));
    assert_eq!(
        flow.inst.status,
        InstanceStatus::Blocked,
        "`next` needs any_ok: blocked, as for any unmet dependency"
    );
    flow.apply(Command::RetryTask {
        task: "review".into(),
        by: "operator".into(),
    });
    assert_eq!(flow.status("review"), TaskStatus::Ready);
    assert!(
        matches!(human_status(&flow, "review", 0), HumanTaskStatus::Ready),
        "a fresh human task"
    );
}

#[test]
fn a_denied_operation_is_refused_and_changes_nothing() {
    let (mut flow, _) = Flow::start(ARTICLE);
    let before = flow.inst.clone();
    let e = flow.try_apply(op("review", eve(), claim(0))).unwrap_err();
    assert!(
        matches!(
            e,
            TransitionError::UserTask {
                error: UserTaskError::NotPotentialOwner { .. },
                ..
            }
        ),
        "{e}"
    );
    flow.apply(op("review", john(), claim(0)));
    let before_complete = flow.inst.clone();
    let e = flow
        .try_apply(op(
            "review",
            sarah(),
            complete(0, json!({"approved": true})),
        ))
        .unwrap_err();
    assert!(
        matches!(
            e,
            TransitionError::UserTask {
                error: UserTaskError::NotOwner { .. },
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(flow.inst, before_complete);
    assert_ne!(flow.inst, before);
    let e = flow
        .try_apply(op(
            "review",
            john(),
            UserTaskCommand::Terminate { task: ORIGINAL },
        ))
        .unwrap_err();
    assert!(
        matches!(
            e,
            TransitionError::UserTask {
                error: UserTaskError::NotAdministrator { .. },
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn deleting_one_follow_on_task_alone_is_refused() {
    let (mut flow, _) = Flow::start(ARTICLE);
    flow.apply(op("review", john(), claim(0)));
    flow.apply(op(
        "review",
        john(),
        forward(0, "Legal Review", PotentialOwners::user("sarah"), ""),
    ));
    let e = flow
        .try_apply(op(
            "review",
            chief(),
            UserTaskCommand::Delete {
                task: HumanTaskId(1),
            },
        ))
        .unwrap_err();
    assert!(
        matches!(
            e,
            TransitionError::UserTask {
                error: UserTaskError::FollowOnAlone { .. },
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn operations_on_a_task_that_is_not_a_started_user_task_are_refused() {
    let (mut flow, _) = Flow::start(ARTICLE);
    let e = flow.try_apply(op("publish", john(), claim(0))).unwrap_err();
    assert!(matches!(e, TransitionError::NotAUserTask { .. }), "{e}");
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        "  - {id: first, kind: job, command: x}",
        "  - {id: review, kind: user, owners: john, after: [first]}",
    ]);
    let e = flow.try_apply(op("review", john(), claim(0))).unwrap_err();
    assert!(
        matches!(e, TransitionError::UserTaskNotStarted { .. }),
        "{e}"
    );
}

#[test]
fn a_human_task_timer_that_is_no_longer_pending_changes_nothing() {
    let (mut flow, _) = Flow::start(EXPIRING);
    let stale = op(
        "review",
        Actor::Engine,
        UserTaskCommand::FireTimer {
            key: "user_task:review:99".into(),
        },
    );
    let tr = flow.apply(stale);
    assert!(tr.events.is_empty());
    assert_eq!(flow.status("review"), TaskStatus::Ready);
    let e = flow
        .try_apply(op(
            "review",
            john(),
            UserTaskCommand::FireTimer {
                key: "user_task:review:0".into(),
            },
        ))
        .unwrap_err();
    assert!(
        matches!(
            e,
            TransitionError::UserTask {
                error: UserTaskError::EngineOnly { .. },
                ..
            }
        ),
        "a user cannot fire timers"
    );
}

#[test]
fn owners_that_resolve_to_nobody_fail_the_task_with_the_reason() {
    let (flow, _) = Flow::start_with(
        &[
            "id: p",
            "data: {who: any}",
            "tasks:",
            "  - {id: review, kind: user, owners: =data.who}",
        ],
        json!({"who": []}),
    );
    assert_eq!(flow.status("review"), TaskStatus::EndedNotOk);
    assert!(matches!(
        flow.reason("review"),
        Some(Reason::UserTaskRefused { .. })
    ));
}

#[test]
fn reassigning_by_escalation_offers_the_task_to_the_new_people() {
    let (mut flow, _) = Flow::start(ARTICLE);
    flow.apply(op("review", john(), claim(0)));
    flow.apply(op(
        "review",
        chief(),
        UserTaskCommand::Escalate {
            task: ORIGINAL,
            name: "stuck".into(),
            action: EscalationAction::Reassign {
                to: PotentialOwners::group("legal"),
            },
        },
    ));
    assert_eq!(
        flow.status("review"),
        TaskStatus::Escalated {
            escalation: "stuck".into(),
            claimed_by: None
        }
    );
    flow.apply(op("review", sarah(), claim(0)));
    assert_eq!(
        flow.status("review"),
        TaskStatus::Escalated {
            escalation: "stuck".into(),
            claimed_by: Some("sarah".into())
        }
    );
}
