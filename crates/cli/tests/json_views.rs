//! `--json` prints the view types every surface shares: an instance with its tasks keyed by
//! id and no persisted internals (`next_seq`, `post_checked`, …), a human task with its
//! number; every time RFC 3339 in UTC with `Z`; every key present. On the database file and
//! again through `baton serve` (`--server`), which prints the same views.

mod support;
use support::modes::{Baton, Mode};

crate::in_both_modes!(
    show_json_prints_the_instance_view_with_tasks_keyed_by_id_and_no_internal_fields,
    task_show_json_prints_each_human_task_with_its_number_state_and_people
);

use serde_json::Value;

const REVIEW: &str = "id: review\ndata:\n  approved: boolean\ntasks:\n  - id: check\n    kind: user\n    title: Check it\n    owners: [john]\n    priority: 2\n  - id: done\n    kind: end\n    after: [check]\n";

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// An RFC 3339 time in UTC, written with `Z`.
fn is_utc_time(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|t| t.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(t).is_ok())
}

fn claimed_review(b: &Baton) -> String {
    let flow = b.file("review.yaml", REVIEW.as_bytes());
    b.local(&["user", "add", "john"]);
    b.ok(&["deploy", &flow]);
    let id = b.ok(&["start", "review"]).trim().to_owned();
    b.ok(&["task", "claim", &id, "check", "--as", "john"]);
    id
}

fn show_json_prints_the_instance_view_with_tasks_keyed_by_id_and_no_internal_fields(mode: Mode) {
    let b = Baton::new(mode);
    let id = claimed_review(&b);
    let shown: Value = serde_json::from_str(&b.ok(&["show", &id, "--json"])).unwrap();
    assert_eq!(
        keys(&shown),
        ["children", "history", "incidents", "instance"]
    );
    assert_eq!(shown["children"], serde_json::json!([]));
    let instance = &shown["instance"];
    assert_eq!(
        keys(instance),
        [
            "case",
            "created_at",
            "data",
            "deleted_at",
            "department",
            "ended_at",
            "id",
            "parent",
            "process",
            "referenced_instances",
            "replaced_by",
            "root",
            "spawned",
            "status",
            "tasks",
            "updated_at",
            "version",
            "work_status"
        ]
    );
    assert_eq!(
        (&instance["case"], &instance["root"], &instance["parent"]),
        (&Value::from(id.as_str()), &Value::Null, &Value::Null),
        "a root is its own case"
    );
    assert_eq!(
        (
            instance["id"].as_str(),
            &instance["process"],
            &instance["version"],
            &instance["status"]
        ),
        (
            Some(id.as_str()),
            &Value::from("review"),
            &Value::from(1),
            &Value::from("waiting")
        )
    );
    assert!(
        is_utc_time(&instance["created_at"]) && is_utc_time(&instance["updated_at"]),
        "{instance}"
    );
    let tasks = instance["tasks"].as_object().unwrap();
    assert_eq!(tasks.keys().collect::<Vec<_>>(), ["check", "done"]);
    let check = &tasks["check"];
    assert_eq!(
        keys(check),
        [
            "attempt",
            "attempts",
            "child",
            "claimed_by",
            "correlation_key",
            "ended_at",
            "escalation",
            "event",
            "forwarded_to",
            "kind",
            "reason",
            "started_at",
            "status",
            "status_since",
            "suspended_by",
            "waiting_until"
        ]
    );
    assert_eq!(
        (
            &check["kind"],
            &check["status"],
            &check["claimed_by"],
            &check["attempts"]
        ),
        (
            &Value::from("user"),
            &Value::from("claimed"),
            &Value::from("john"),
            &Value::from(1)
        )
    );
    assert!(is_utc_time(&check["started_at"]) && is_utc_time(&check["status_since"]));
    assert_eq!(tasks["done"]["status"], "waiting_for_predecessor");
    let text = serde_json::to_string(&shown).unwrap();
    for internal in [
        "next_seq",
        "post_checked",
        "user_task",
        "restarts",
        "triggered",
    ] {
        assert!(
            !text.contains(internal),
            "`{internal}` is persisted state, not part of the view"
        );
    }
    let first = &shown["history"][0];
    assert_eq!(
        (
            first["seq"].as_u64(),
            &first["event"],
            &first["process"],
            &first["task"]
        ),
        (
            Some(1),
            &Value::from("instance_started"),
            &Value::from("review"),
            &Value::Null
        )
    );
    assert!(is_utc_time(&first["at"]));
}

fn task_show_json_prints_each_human_task_with_its_number_state_and_people(mode: Mode) {
    let b = Baton::new(mode);
    let id = claimed_review(&b);
    let shown: Value =
        serde_json::from_str(&b.ok(&["task", "show", &id, "check", "--json"])).unwrap();
    assert_eq!(keys(&shown), ["human_tasks", "instance", "outcome", "task"]);
    assert_eq!(
        (
            shown["instance"].as_str(),
            &shown["task"],
            &shown["outcome"]
        ),
        (Some(id.as_str()), &Value::from("check"), &Value::Null)
    );
    let task = &shown["human_tasks"][0];
    assert_eq!(
        keys(task),
        [
            "administrators",
            "claimed_by",
            "created_at",
            "description",
            "due",
            "ended",
            "escalations",
            "follow_on",
            "form",
            "forwarded_to",
            "id",
            "input",
            "notes",
            "of",
            "originator",
            "output",
            "potential_owners",
            "priority",
            "role",
            "status",
            "subtasks",
            "suspended",
            "title",
            "updated_at"
        ]
    );
    assert_eq!(
        (
            &task["id"],
            &task["role"],
            &task["status"],
            &task["claimed_by"],
            &task["title"],
            &task["priority"]
        ),
        (
            &Value::from(0),
            &Value::from("original"),
            &Value::from("claimed"),
            &Value::from("john"),
            &Value::from("Check it"),
            &Value::from(2)
        )
    );
    assert_eq!(
        task["potential_owners"],
        serde_json::json!({"users": ["john"], "groups": []})
    );
    assert!(is_utc_time(&task["created_at"]) && is_utc_time(&task["updated_at"]));
}
