//! Stardust's spawn and abort-and-start from the command line, and the spawn menu
//! (`baton processes --startable`): on the database file and through `baton serve`, with the
//! same answers. Only a startable process the user may start is spawned or started.

mod support;
use support::modes::{Baton, Mode};

use serde_json::Value;

crate::in_both_modes!(
    spawn_starts_a_subprocess_of_the_root_with_the_instances_data,
    a_spawn_the_user_may_not_make_is_refused_and_creates_nothing,
    abort_and_start_moves_an_instance_into_the_right_process,
    the_spawn_menu_lists_what_a_user_may_start,
);

/// A claim whose review waits for john; a request only clerks may start; a helper nobody
/// starts by hand.
const CLAIM: &str = "id: claim\ndata:\n  client: {type: string, default: ACME}\ntasks:\n  - {id: review, kind: user, title: Review, owners: [john]}\n";
const REQUEST: &str = "id: request\nstartable_by: [group:clerks]\ndata:\n  client: {type: string, default: ''}\n  topic: {type: string, default: ''}\ntasks:\n  - {id: handle, kind: user, title: Handle, owners: [john]}\n";
const HELPER: &str = "id: helper\nstartable: false\ntasks:\n  - {id: done, kind: end}\n";

fn deployed(mode: Mode) -> Baton {
    let b = Baton::new(mode);
    b.local(&["user", "add", "john"]);
    b.local(&["user", "add", "eve"]);
    b.local(&["group", "add", "clerks"]);
    b.local(&["group", "add-member", "clerks", "john"]);
    b.ok(&[
        "deploy",
        &b.file("claim.yaml", CLAIM.as_bytes()),
        &b.file("request.yaml", REQUEST.as_bytes()),
        &b.file("helper.yaml", HELPER.as_bytes()),
    ]);
    b
}

fn json(b: &Baton, args: &[&str]) -> Value {
    let out = b.ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {out}"))
}

fn spawn_starts_a_subprocess_of_the_root_with_the_instances_data(mode: Mode) {
    let b = deployed(mode);
    let claim = b.ok(&["start", "claim"]).trim().to_owned();
    let spawned = b
        .ok(&[
            "spawn",
            &claim,
            "request",
            "--data",
            r#"{"topic": "refund"}"#,
            "--as",
            "john",
        ])
        .trim()
        .to_owned();
    let shown = json(&b, &["show", &spawned, "--json"]);
    let instance = &shown["instance"];
    assert_eq!(instance["parent"]["instance"], Value::from(claim.clone()));
    assert_eq!(instance["parent"]["link"], "spawned");
    assert_eq!(
        (
            instance["case"].clone(),
            instance["data"]["client"].clone(),
            instance["data"]["topic"].clone()
        ),
        (
            Value::from(claim.clone()),
            Value::from("ACME"),
            Value::from("refund")
        )
    );
    assert_eq!(
        json(&b, &["show", &claim, "--json"])["instance"]["spawned"][0],
        Value::from(spawned.clone())
    );
    let case = b.ok(&["case", "show", &claim]);
    assert!(case.contains(&spawned), "{case}");
}

fn a_spawn_the_user_may_not_make_is_refused_and_creates_nothing(mode: Mode) {
    let b = deployed(mode);
    let claim = b.ok(&["start", "claim"]).trim().to_owned();
    let said = b.refused(&["spawn", &claim, "request", "--as", "eve"]);
    assert!(
        said.contains("eve may not start process `request`"),
        "{said}"
    );
    let said = b.refused(&["spawn", &claim, "helper", "--as", "john"]);
    assert!(said.contains("not startable"), "{said}");
    let said = b.refused(&[
        "spawn",
        &claim,
        "request",
        "--data",
        r#"{"topic": 7}"#,
        "--as",
        "john",
    ]);
    assert!(said.contains("`topic` must be string"), "{said}");
    assert_eq!(
        b.ok(&["instances"]).lines().count(),
        2,
        "only the claim exists"
    );
}

fn abort_and_start_moves_an_instance_into_the_right_process(mode: Mode) {
    let b = deployed(mode);
    let claim = b.ok(&["start", "claim"]).trim().to_owned();
    let peer = b
        .ok(&["abort-and-start", &claim, "request", "--as", "john"])
        .trim()
        .to_owned();
    let old = json(&b, &["show", &claim, "--json"]);
    assert_eq!(
        (
            old["instance"]["status"].clone(),
            old["instance"]["replaced_by"].clone()
        ),
        (Value::from("aborted"), Value::from(peer.clone()))
    );
    let new = json(&b, &["show", &peer, "--json"]);
    assert_eq!(
        (
            new["instance"]["parent"]["link"].clone(),
            new["instance"]["data"]["client"].clone()
        ),
        (Value::from("peer"), Value::from("ACME"))
    );
    assert!(
        b.ok(&["show", &peer]).contains(&claim),
        "show names the instance it replaced"
    );
}

fn the_spawn_menu_lists_what_a_user_may_start(mode: Mode) {
    let b = deployed(mode);
    let ids = |user: &str| -> Vec<String> {
        let listed = json(&b, &["processes", "--startable", "--as", user, "--json"]);
        let mut ids: Vec<String> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids("john"), ["claim", "request"]);
    assert_eq!(ids("eve"), ["claim"]);
    assert!(b
        .refused(&["start", "request", "--as", "eve"])
        .contains("may not start"));
}
