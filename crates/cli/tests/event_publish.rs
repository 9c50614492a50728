//! `baton event publish` and `wait` tasks from the command line: on the database file and
//! through `baton serve`, with the same answers. A keyed event resumes the instance waiting
//! with its key; an id published again does nothing; an event nothing waits for is buffered
//! and received by the wait that begins after it; on a server only publishers may publish.

mod support;
use support::modes::{Baton, Mode};

use serde_json::Value;

crate::in_both_modes!(
    a_keyed_event_resumes_the_instance_waiting_with_its_key_and_maps_its_payload,
    an_id_published_again_does_nothing,
    a_buffered_event_reaches_the_wait_that_begins_after_it,
    publishing_takes_a_publisher_and_bad_input_is_refused,
    the_order_payment_example_completes_when_its_payment_is_published,
);

const ORDER: &str = "id: order
data:
  order_id: string
  paid: integer
tasks:
  - id: payment
    kind: wait
    event: payment-received
    key: data.order_id
    condition: event.amount > 0
    output: {paid: event.amount}
  - {id: done, kind: end, after: [payment]}
";

fn deployed(mode: Mode) -> Baton {
    let b = Baton::new(mode);
    b.local(&["user", "add", "pat"]);
    b.local(&["user", "add", "eve"]);
    b.local(&["group", "add", "event-publishers"]);
    b.local(&["group", "add-member", "event-publishers", "pat"]);
    b.ok(&["deploy", &b.file("order.yaml", ORDER.as_bytes())]);
    b
}

fn json(b: &Baton, args: &[&str]) -> Value {
    let out = b.ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {out}"))
}

fn start(b: &Baton, key: &str) -> String {
    b.ok(&[
        "start",
        "order",
        "--data",
        &format!("{{\"order_id\": \"{key}\"}}"),
    ])
    .trim()
    .to_owned()
}

fn a_keyed_event_resumes_the_instance_waiting_with_its_key_and_maps_its_payload(mode: Mode) {
    let b = deployed(mode);
    let a = start(&b, "A-1");
    let other = start(&b, "B-2");
    let shown = json(&b, &["show", &a, "--json"]);
    assert_eq!(shown["instance"]["status"], "waiting");
    let out = b.ok(&[
        "event",
        "publish",
        "payment-received",
        "--key",
        "A-1",
        "--data",
        "{\"amount\": 12}",
        "--as",
        "pat",
    ]);
    assert_eq!(out.trim(), a, "the resumed instance is printed");
    let shown = json(&b, &["show", &a, "--json"]);
    assert_eq!(
        (
            &shown["instance"]["status"],
            &shown["instance"]["data"]["paid"]
        ),
        (&Value::from("completed"), &Value::from(12))
    );
    assert_eq!(
        json(&b, &["show", &other, "--json"])["instance"]["status"],
        "waiting"
    );
}

fn an_id_published_again_does_nothing(mode: Mode) {
    let b = deployed(mode);
    let a = start(&b, "A-1");
    let args = [
        "event",
        "publish",
        "payment-received",
        "--key",
        "A-1",
        "--data",
        "{\"amount\": 1}",
        "--id",
        "pay-1",
        "--as",
        "pat",
        "--json",
    ];
    let first = json(&b, &args);
    assert_eq!(
        (&first["duplicate"], &first["resumed"]),
        (&Value::from(false), &serde_json::json!([a]))
    );
    let second_waiter = start(&b, "A-1");
    let again = json(&b, &args);
    assert_eq!(
        (&again["duplicate"], &again["resumed"], &again["received"]),
        (&Value::from(true), &serde_json::json!([]), &Value::from(1))
    );
    assert_eq!(
        json(&b, &["show", &second_waiter, "--json"])["instance"]["status"],
        "waiting"
    );
}

fn a_buffered_event_reaches_the_wait_that_begins_after_it(mode: Mode) {
    let b = deployed(mode);
    let published = json(
        &b,
        &[
            "event",
            "publish",
            "payment-received",
            "--key",
            "LATE",
            "--data",
            "{\"amount\": 3}",
            "--ttl",
            "10m",
            "--as",
            "pat",
            "--json",
        ],
    );
    assert_eq!(published["state"], "buffered");
    assert!(published["buffered_until"].is_string());
    let a = start(&b, "LATE");
    let shown = json(&b, &["show", &a, "--json"]);
    assert_eq!(
        (
            &shown["instance"]["status"],
            &shown["instance"]["data"]["paid"]
        ),
        (&Value::from("completed"), &Value::from(3))
    );
}

fn publishing_takes_a_publisher_and_bad_input_is_refused(mode: Mode) {
    let b = deployed(mode);
    let a = start(&b, "A-1");
    // On the file whoever holds it may (as with external jobs); a server asks for a publisher.
    if mode == Mode::Served {
        let refused = b.refused(&[
            "event",
            "publish",
            "payment-received",
            "--key",
            "A-1",
            "--as",
            "eve",
        ]);
        assert!(refused.contains("event-publishers"), "{refused}");
    }
    for bad in [
        vec!["event", "publish", "bad name", "--as", "pat"],
        vec!["event", "publish", "e", "--key", "", "--as", "pat"],
        vec!["event", "publish", "e", "--ttl", "31days", "--as", "pat"],
        vec!["event", "publish", "e", "--data", "[1]", "--as", "pat"],
    ] {
        b.refused(&bad);
    }
    assert_eq!(
        json(&b, &["show", &a, "--json"])["instance"]["status"],
        "waiting",
        "nothing reached it"
    );
}

fn the_order_payment_example_completes_when_its_payment_is_published(mode: Mode) {
    let b = deployed(mode);
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/order-payment.yaml");
    b.ok(&["deploy", &example.display().to_string()]);
    let order = b
        .ok(&[
            "start",
            "order-payment",
            "--data",
            "{\"order_id\": \"A-7\", \"total\": 40}",
        ])
        .trim()
        .to_owned();
    // Too little is not taken: the condition does not hold (and, with no time to live, not kept).
    b.ok(&[
        "event",
        "publish",
        "payment-received",
        "--key",
        "A-7",
        "--data",
        "{\"amount\": 10}",
        "--ttl",
        "0s",
        "--as",
        "pat",
    ]);
    assert_eq!(
        json(&b, &["show", &order, "--json"])["instance"]["status"],
        "waiting"
    );
    b.ok(&[
        "event",
        "publish",
        "payment-received",
        "--key",
        "A-7",
        "--data",
        "{\"amount\": 40}",
        "--id",
        "pay-981",
        "--as",
        "pat",
    ]);
    let shown = json(&b, &["show", &order, "--json"]);
    assert_eq!(
        (
            &shown["instance"]["status"],
            &shown["instance"]["data"]["paid"]
        ),
        (&Value::from("completed"), &Value::from(40))
    );
    assert_eq!(
        shown["instance"]["tasks"]["cancel"]["status"],
        "ended_skipped"
    );
}
