//! Pega's offer-fulfilment example (`examples/offer-fulfilment/`) end to end with the real
//! binary: both definitions deployed together, an offer the customer accepts hands off
//! FulfillOffer (`baton show` records the hand-off, the Work Status and the reference code),
//! the fulfilment waits in the `fulfilment` workbasket (`baton tasks --as`) and is resolved upon
//! approval; a declined offer hands off nothing. Each scenario runs on the database file and
//! again through `baton serve` (`--server`).

use std::path::PathBuf;

use serde_json::Value;

mod support;
use support::modes::{Baton, Mode};

crate::in_both_modes!(
    an_accepted_offer_is_fulfilled_from_the_workbasket,
    a_declined_offer_hands_off_nothing
);

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/offer-fulfilment")
        .join(name)
        .display()
        .to_string()
}

/// The people (an agent in `agents`, a clerk in `fulfilment`, set up on the database file)
/// and both definitions, deployed with one command.
fn set_up(b: &Baton) {
    for (user, group) in [("ann", "agents"), ("bob", "fulfilment")] {
        b.local(&["user", "add", user]);
        b.local(&["group", "add", group]);
        b.local(&["group", "add-member", group, user]);
    }
    let deployed = b.ok(&[
        "deploy",
        &example("offer.yaml"),
        &example("fulfil-offer.yaml"),
    ]);
    assert!(
        deployed.contains("deployed offer version 1")
            && deployed.contains("deployed fulfil-offer version 1"),
        "{deployed}"
    );
    let refused = b.refused(&["start", "fulfil-offer"]);
    assert!(
        refused.contains("only `call` and `handoff` tasks start it"),
        "FulfillOffer is started by the hand-off alone: {refused}"
    );
}

/// Starts an offer and lets the agent record the customer's answer; returns the offer's id.
fn answered_offer(b: &Baton, accepted: bool) -> String {
    let id = b.ok(&["start", "offer"]).trim().to_owned();
    let inbox = b.ok(&["tasks", "--as", "ann"]);
    assert!(
        inbox.contains("present_offer#0") && inbox.contains("Offer Fibre 500 to Ann Example"),
        "{inbox}"
    );
    b.ok(&["task", "claim", &id, "present_offer", "--as", "ann"]);
    let answer = format!(r#"{{"accepted": {accepted}}}"#);
    let out = b.ok(&[
        "task",
        "complete",
        &id,
        "present_offer",
        "--as",
        "ann",
        "--data",
        &answer,
    ]);
    assert!(
        out.contains(&format!("instance {id} is completed")),
        "the offer ends in the same step: {out}"
    );
    id
}

fn instance_json(b: &Baton, id: &str) -> Value {
    let shown: Value = serde_json::from_str(&b.ok(&["show", id, "--json"])).unwrap();
    shown["instance"].clone()
}

fn an_accepted_offer_is_fulfilled_from_the_workbasket(mode: Mode) {
    let b = Baton::new(mode);
    set_up(&b);
    let offer_id = answered_offer(&b, true);

    let offer = instance_json(&b, &offer_id);
    assert_eq!(offer["status"], "completed");
    assert_eq!(offer["work_status"], "Pending-Fulfillment");
    let fulfilment = offer["referenced_instances"][0]
        .as_str()
        .expect("the hand-off is referenced")
        .to_owned();
    assert_eq!(offer["data"]["reference_code"], format!("OF-{fulfilment}"));
    let shown = b.ok(&["show", &offer_id]);
    assert!(
        shown.contains(&format!(
            "handoff sub-process {fulfilment} started (fulfil-offer v1)"
        )),
        "{shown}"
    );
    assert!(shown.contains("work status Pending-Fulfillment"), "{shown}");

    let handed = instance_json(&b, &fulfilment);
    assert_eq!(handed["status"], "waiting");
    assert_eq!(
        (
            &handed["parent"]["instance"],
            &handed["parent"]["link"],
            &handed["case"]
        ),
        (
            &Value::from(offer_id.as_str()),
            &Value::from("handoff"),
            &Value::from(offer_id.as_str())
        )
    );
    assert_eq!(
        handed["data"]["work_parties"]["Customer"]["email"],
        "ann@example.com"
    );
    assert!(
        handed["data"].get("accepted").is_none(),
        "only what the hand-off copied: {}",
        handed["data"]
    );

    // The workbasket: the clerk sees the Approve task, the agent does not and may not take it.
    let basket = b.ok(&["tasks", "--as", "bob"]);
    assert!(
        basket.contains(&fulfilment)
            && basket.contains("approve#0")
            && basket.contains("Fulfil Fibre 500 for Ann Example"),
        "{basket}"
    );
    assert!(b
        .ok(&["tasks", "--as", "ann"])
        .starts_with("no tasks for ann"));
    let refused = b.refused(&["task", "claim", &fulfilment, "approve", "--as", "ann"]);
    assert!(refused.contains("`ann` may not claim task #0"), "{refused}");
    let task = b.ok(&["task", "show", &fulfilment, "approve"]);
    assert!(task.contains("Customer CUST-1001 (Ann Example, ann@example.com) accepted Sales/Broadband/Fibre 500 on the Web channel"), "the description shows the copied data: {task}");

    b.ok(&["task", "claim", &fulfilment, "approve", "--as", "bob"]);
    b.ok(&[
        "task",
        "complete",
        &fulfilment,
        "approve",
        "--as",
        "bob",
        "--data",
        r#"{"comments": "Shipped"}"#,
    ]);
    let resolved = b.ok(&["show", &fulfilment]);
    assert!(
        resolved.contains("completed")
            && resolved.contains(r#"resolution = "Resolved-Completed""#)
            && resolved.contains(r#"comments = "Shipped""#),
        "{resolved}"
    );
    assert!(b
        .ok(&["tasks", "--as", "bob"])
        .starts_with("no tasks for bob"));
}

fn a_declined_offer_hands_off_nothing(mode: Mode) {
    let b = Baton::new(mode);
    set_up(&b);
    let offer_id = answered_offer(&b, false);
    let offer = instance_json(&b, &offer_id);
    assert_eq!(
        (
            &offer["status"],
            &offer["work_status"],
            &offer["referenced_instances"]
        ),
        (
            &Value::from("completed"),
            &Value::Null,
            &serde_json::json!([])
        )
    );
    assert_eq!(offer["tasks"]["fulfil"]["status"], "ended_skipped");
    let listed = b.ok(&["instances"]);
    assert_eq!(
        listed.lines().count(),
        2,
        "a header and the offer alone: {listed}"
    );
    assert!(b
        .ok(&["tasks", "--as", "bob"])
        .starts_with("no tasks for bob"));
}
