//! Every `--as` names an existing user; without `--as`, an operator command is given by the
//! built-in `operator`, which every database has.

mod support;
use support::{baton, ok};

#[test]
fn an_unknown_acting_user_is_refused_with_exit_2_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let flow = dir.path().join("flow.yaml");
    std::fs::write(&flow, "id: flow\ndata:\n  day: string\ntasks:\n  - id: ask\n    kind: end\n    prompts: [{name: day}]\n").unwrap();
    ok(&db, &["deploy", flow.to_str().unwrap()]);
    let id = ok(&db, &["start", "flow"]).trim().to_owned();
    let before = ok(&db, &["show", &id, "--json"]);
    let refusal = "baton: there is no user `ghost`; add it with `baton user add ghost`\n";
    for args in [
        vec!["abort", &id, "--as", "ghost"],
        vec!["delete", &id, "--as", "ghost"],
        vec!["task", "skip", &id, "ask", "--as", "ghost"],
        vec!["task", "retry", &id, "ask", "--as", "ghost"],
        vec![
            "task",
            "input",
            &id,
            "ask",
            "--data",
            r#"{"day": "mon"}"#,
            "--as",
            "ghost",
        ],
        vec!["breakpoint", "set", &id, "ask", "--as", "ghost"],
        vec!["breakpoint", "clear", &id, "ask", "--as", "ghost"],
        vec!["incident", "retry", "1", "--as", "ghost"],
        vec!["incident", "resolve", "1", "--as", "ghost"],
    ] {
        let run = baton(&db, &args);
        assert_eq!(
            (run.code, run.stderr.as_str()),
            (2, refusal),
            "baton {args:?}"
        );
    }
    assert_eq!(ok(&db, &["show", &id, "--json"]), before, "nothing changed");
}

#[test]
fn without_as_the_built_in_operator_acts_and_a_known_user_may_act_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let flow = dir.path().join("flow.yaml");
    std::fs::write(&flow, "id: flow\ndata:\n  day: string\ntasks:\n  - id: ask\n    kind: end\n    prompts: [{name: day}]\n").unwrap();
    ok(&db, &["deploy", flow.to_str().unwrap()]);
    let first = ok(&db, &["start", "flow"]).trim().to_owned();
    assert_eq!(
        ok(&db, &["abort", &first]),
        format!("instance {first} is aborted\n")
    );
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&db, &["show", &first, "--json"])).unwrap();
    assert_eq!(
        shown["instance"]["tasks"]["ask"]["reason"],
        serde_json::json!({"rule": "instance_ended", "message": "instance aborted", "details": {"status": "aborted"}})
    );
    let aborted: Vec<&serde_json::Value> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["to"] == "aborted")
        .collect();
    assert_eq!(
        aborted[0]["reason"],
        serde_json::json!({"rule": "operator", "message": "abort by operator", "details": {"action": "abort", "by": "operator"}})
    );

    ok(&db, &["user", "add", "ann"]);
    let second = ok(&db, &["start", "flow"]).trim().to_owned();
    ok(
        &db,
        &[
            "task",
            "input",
            &second,
            "ask",
            "--data",
            r#"{"day": "mon"}"#,
            "--as",
            "ann",
        ],
    );
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&db, &["show", &second, "--json"])).unwrap();
    assert_eq!(shown["instance"]["status"], "completed");
    let input: Vec<&serde_json::Value> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "input_provided")
        .collect();
    assert_eq!(input[0]["by"], "ann");
}
