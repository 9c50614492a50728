//! `wait` tasks (Siebel's implicit resumption, Camunda's message catch): a task waits for an
//! event by name and correlation key, a condition over `event` and `data` filters further, its
//! `output` maps the payload into data, and its `timeout` ends it `ended_timeout`.

mod support;

use baton_core::correlation::ReceivedEvent;
use baton_core::{Command, Effect, Reason, TaskStatus, TimerKind, TransitionError};
use serde_json::json;
use support::*;

const ORDER: &[&str] = &[
    "id: order",
    "data:",
    "  order_id: string",
    "  limit: {type: integer, default: 100}",
    "  paid: integer",
    "tasks:",
    "  - id: payment",
    "    kind: wait",
    "    event: payment-received",
    "    key: data.order_id",
    "    condition: event.amount <= data.limit",
    "    output: {paid: event.amount}",
    "    timeout: 2h",
    "  - id: ship",
    "    kind: set",
    "    after: [payment]",
    "    set: {limit: data.paid}",
];

fn event(name: &str, key: Option<&str>, data: serde_json::Value) -> Command {
    Command::EventReceived {
        event: ReceivedEvent {
            id: "e-1".into(),
            name: name.into(),
            key: key.map(str::to_owned),
            data: object(data),
        },
    }
}

fn start() -> (Flow, baton_core::Transition) {
    Flow::start_with(ORDER, json!({"order_id": "A-7"}))
}

#[test]
fn a_wait_task_evaluates_its_key_when_it_begins_waiting_and_subscribes_with_it() {
    let (flow, tr) = start();
    assert!(
        matches!(flow.status("payment"), TaskStatus::WaitingForEvent { ref event, key: Some(ref key), .. } if event == "payment-received" && key == "A-7")
    );
    assert_eq!(flow.inst.status, baton_core::InstanceStatus::Waiting);
    let subscribed: Vec<&Effect> = tr
        .effects
        .iter()
        .filter(|e| matches!(e, Effect::Subscribe { .. }))
        .collect();
    assert_eq!(
        subscribed,
        vec![&Effect::Subscribe {
            task: "payment".into(),
            event: "payment-received".into(),
            key: Some("A-7".into())
        }]
    );
    assert_eq!(
        timers_set(&tr),
        vec![("payment/event_timeout", t0() + mins(120))]
    );
}

#[test]
fn the_event_with_the_tasks_key_is_received_its_payload_mapped_and_the_subscription_dropped() {
    let (mut flow, _) = start();
    let tr = flow.apply(event(
        "payment-received",
        Some("A-7"),
        json!({"amount": 40}),
    ));
    assert_eq!(flow.status("payment"), TaskStatus::EndedOk);
    assert_eq!(
        flow.reason("payment"),
        Some(Reason::EventReceived {
            event: "payment-received".into(),
            id: "e-1".into()
        })
    );
    assert_eq!(flow.inst.data["paid"], json!(40));
    assert_eq!(
        flow.inst.data["limit"],
        json!(40),
        "the successor ran with the mapped data"
    );
    assert!(tr.effects.contains(&Effect::Unsubscribe {
        task: "payment".into()
    }));
    assert_eq!(timers_cleared(&tr), vec!["payment/event_timeout"]);
    assert_eq!(flow.inst.status, baton_core::InstanceStatus::Completed);
}

#[test]
fn an_event_with_another_key_or_name_or_without_a_key_is_refused_and_changes_nothing() {
    let (mut flow, _) = start();
    let before = flow.inst.clone();
    for command in [
        event("payment-received", Some("B-1"), json!({"amount": 1})),
        event("payment-received", None, json!({"amount": 1})),
        event("refund", Some("A-7"), json!({"amount": 1})),
    ] {
        assert!(matches!(
            flow.try_apply(command),
            Err(TransitionError::NoWaitingTask { .. })
        ));
        assert_eq!(flow.inst, before);
    }
}

#[test]
fn a_condition_that_does_not_hold_leaves_the_task_waiting() {
    let (mut flow, _) = start();
    let before = flow.inst.clone();
    assert!(matches!(
        flow.try_apply(event(
            "payment-received",
            Some("A-7"),
            json!({"amount": 500})
        )),
        Err(TransitionError::NoWaitingTask { .. })
    ));
    assert_eq!(flow.inst, before);
    flow.apply(event(
        "payment-received",
        Some("A-7"),
        json!({"amount": 100}),
    ));
    assert_eq!(flow.status("payment"), TaskStatus::EndedOk);
}

#[test]
fn a_condition_that_cannot_be_evaluated_takes_the_event_and_fails_the_task() {
    let (mut flow, _) = start();
    flow.apply(event("payment-received", Some("A-7"), json!({"total": 5})));
    assert_eq!(flow.status("payment"), TaskStatus::EndedNotOk);
    assert!(
        matches!(flow.reason("payment"), Some(Reason::ExpressionFailed { ref field, .. }) if field == "condition")
    );
}

#[test]
fn an_output_of_the_wrong_type_fails_the_task() {
    let (mut flow, _) = start();
    flow.apply(event(
        "payment-received",
        Some("A-7"),
        json!({"amount": 5.5}),
    ));
    assert_eq!(flow.status("payment"), TaskStatus::EndedNotOk);
    assert!(matches!(
        flow.reason("payment"),
        Some(Reason::TypeMismatch { .. })
    ));
}

#[test]
fn the_timeout_ends_the_wait_ended_timeout_and_drops_the_subscription() {
    let (mut flow, _) = start();
    let trs = flow.run_until(t0() + mins(121));
    assert_eq!(flow.status("payment"), TaskStatus::EndedTimeout);
    assert_eq!(
        flow.reason("payment"),
        Some(Reason::EventTimedOut {
            event: "payment-received".into(),
            after_ms: 7_200_000
        })
    );
    assert!(trs.iter().flat_map(|t| &t.effects).any(|e| *e
        == Effect::Unsubscribe {
            task: "payment".into()
        }));
    // A later event finds nothing waiting.
    assert!(flow
        .try_apply(event("payment-received", Some("A-7"), json!({"amount": 1})))
        .is_err());
}

#[test]
fn a_stale_timeout_of_an_earlier_run_changes_nothing() {
    let (mut flow, _) = start();
    let before = flow.inst.clone();
    let tr = flow.apply(Command::TimerFired {
        task: "payment".into(),
        timer: TimerKind::EventTimeout { attempt: 7 },
    });
    assert!(tr.events.is_empty());
    assert_eq!(flow.inst.tasks, before.tasks);
}

#[test]
fn skipping_or_aborting_a_waiting_task_drops_its_subscription() {
    let (mut flow, _) = start();
    let tr = flow.apply(Command::SkipTask {
        task: "payment".into(),
        by: "olivia".into(),
    });
    assert!(tr.effects.contains(&Effect::Unsubscribe {
        task: "payment".into()
    }));
    let (mut flow, _) = start();
    let tr = flow.apply(Command::Abort {
        by: "olivia".into(),
        abort_parent: false,
    });
    assert_eq!(flow.status("payment"), TaskStatus::Canceled);
    assert!(tr.effects.contains(&Effect::Unsubscribe {
        task: "payment".into()
    }));
}

#[test]
fn a_key_that_is_not_a_string_or_a_whole_number_fails_the_task() {
    let lines = [
        "id: w",
        "data: {k: any}",
        "tasks:",
        "  - id: w",
        "    kind: wait",
        "    event: e",
        "    key: data.k",
    ];
    for (k, ok) in [
        (json!("x"), true),
        (json!(42), true),
        (json!(1.5), false),
        (json!(null), false),
        (json!(""), false),
        (json!("x".repeat(257)), false),
    ] {
        let (flow, _) = Flow::start_with(&lines, json!({"k": k}));
        match (ok, flow.status("w")) {
            (true, TaskStatus::WaitingForEvent { key: Some(_), .. }) => {}
            (false, TaskStatus::EndedNotOk) => assert!(matches!(
                flow.reason("w"),
                Some(Reason::BadCorrelationKey { .. })
            )),
            (_, other) => panic!("key {k}: {other:?}"),
        }
    }
}

#[test]
fn a_task_without_a_key_takes_events_published_without_one() {
    let lines = [
        "id: w",
        "tasks:",
        "  - id: w",
        "    kind: wait",
        "    event: e",
    ];
    let (mut flow, _) = Flow::start(&lines);
    assert!(flow.try_apply(event("e", Some("k"), json!({}))).is_err());
    flow.apply(event("e", None, json!({})));
    assert_eq!(flow.status("w"), TaskStatus::EndedOk);
}

#[test]
fn two_tasks_waiting_for_one_event_both_receive_it_in_one_step() {
    let lines = [
        "id: w",
        "tasks:",
        "  - {id: a, kind: wait, event: e, key: \"'k'\"}",
        "  - {id: b, kind: wait, event: e, key: \"'k'\"}",
    ];
    let (mut flow, _) = Flow::start(&lines);
    flow.apply(event("e", Some("k"), json!({})));
    assert_eq!(
        (flow.status("a"), flow.status("b")),
        (TaskStatus::EndedOk, TaskStatus::EndedOk)
    );
}

#[test]
fn wait_fields_are_checked_at_deploy_with_their_position() {
    let bad = |body: &str| {
        let source = format!("id: w\ntasks:\n  - id: w\n    kind: wait\n{body}");
        baton_core::parse_definition("w.yaml", &source)
            .expect_err("refused")
            .to_string()
    };
    assert!(bad("    key: data.x\n").contains("needs `event`"));
    assert!(bad("    event: \"has space\"\n").contains("w.yaml:5:12"));
    assert!(bad("    event: e\n    condition: nope.x\n").contains("unknown variable `nope`"));
    assert!(bad("    event: e\n    output: {missing: event.x}\n").contains("not declared"));
    assert!(bad("    event: e\n    timeout: soon\n").contains("timeout"));
    let misplaced = baton_core::parse_definition(
        "j.yaml",
        "id: j\ntasks:\n  - {id: j, kind: job, command: x, event: e}\n",
    )
    .expect_err("refused")
    .to_string();
    assert!(
        misplaced.contains("which only wait tasks have"),
        "{misplaced}"
    );
}
