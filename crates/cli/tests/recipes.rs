//! The README's recipes are real definitions: each deploys, and the approval one branches as
//! it says when a person completes the task.

mod support;

use support::ok;

/// The YAML of the README's recipe headed `title`.
fn recipe(title: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("the README");
    let section = readme
        .split(&format!("##### Recipe: {title}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("the recipe `{title}`"));
    section
        .split("```yaml\n")
        .nth(1)
        .and_then(|r| r.split("```").next())
        .expect("its YAML")
        .to_owned()
}

#[test]
fn the_retry_recipe_deploys_with_its_policy() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let file = dir.path().join("fetch-rates.yaml");
    std::fs::write(&file, recipe("retry with a delay")).unwrap();
    assert_eq!(
        ok(&db, &["deploy", file.to_str().unwrap()]),
        format!("deployed fetch-rates version 1 ({})\n", file.display())
    );
}

#[test]
fn the_approval_recipe_takes_the_path_the_person_chose() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let file = dir.path().join("purchase.yaml");
    std::fs::write(&file, recipe("branching on an approval")).unwrap();
    for args in [
        &["user", "add", "ann"][..],
        &["group", "add", "approvers"],
        &["group", "add-member", "approvers", "ann"],
        &["deploy", file.to_str().unwrap()],
    ] {
        ok(&db, args);
    }
    for (approved, taken, skipped) in [
        (true, "order", "tell_requester"),
        (false, "tell_requester", "order"),
    ] {
        let id = ok(
            &db,
            &["start", "purchase", "--data", r#"{"item": "chair"}"#],
        )
        .trim()
        .to_owned();
        ok(&db, &["task", "claim", &id, "approve", "--as", "ann"]);
        ok(
            &db,
            &[
                "task",
                "complete",
                &id,
                "approve",
                "--as",
                "ann",
                "--data",
                &format!(r#"{{"approved": {approved}}}"#),
            ],
        );
        ok(&db, &["worker", "--until-idle"]);
        let view: serde_json::Value =
            serde_json::from_str(&ok(&db, &["show", &id, "--json"])).unwrap();
        let tasks = &view["instance"]["tasks"];
        assert_eq!(view["instance"]["status"], "completed", "{view}");
        assert_eq!(
            (
                tasks[taken]["status"].as_str(),
                tasks[skipped]["status"].as_str()
            ),
            (Some("ended_ok"), Some("ended_skipped")),
            "approved: {approved}"
        );
    }
}
