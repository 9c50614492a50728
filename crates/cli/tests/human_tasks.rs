//! Human tasks from the command line: the seed's article-publishing example with the real
//! binary on a temp database — `baton run` stops when the instance waits for a human, the
//! inbox (`baton tasks --as`), `baton task claim|forward|complete|show`, refusals that exit 2
//! and change nothing, and `baton delete`.

use std::path::{Path, PathBuf};

mod support;
use support::{baton, ok, refused};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/article-publishing.yaml")
}

fn people(db: &Path) {
    for user in ["john", "sarah", "eve"] {
        ok(db, &["user", "add", user]);
    }
    ok(db, &["group", "add", "editors"]);
    ok(db, &["group", "add-member", "editors", "john"]);
}

/// `baton run` on the example: it stops waiting for a human (exit 3); returns the instance id.
fn run_example(db: &Path) -> String {
    let run = baton(db, &["run", example().to_str().unwrap()]);
    assert_eq!(run.code, 3, "the instance waits for a human: {}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("review_article") && run.stdout.contains("ready") && run.stdout.contains("offered to group editors"),
        "{}",
        run.stdout
    );
    let list = ok(db, &["instances"]);
    list.lines().nth(1).expect("one instance").split_whitespace().next().unwrap().to_owned()
}

#[test]
fn the_article_publishing_example_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    people(&db);
    let id = run_example(&db);
    let id = id.as_str();

    let inbox = ok(&db, &["tasks", "--as", "john"]);
    assert!(inbox.contains("review_article#0") && inbox.contains("Review Article") && inbox.contains("ready"), "{inbox}");
    assert!(ok(&db, &["tasks", "--as", "sarah"]).starts_with("no tasks for sarah"));

    ok(&db, &["task", "claim", id, "review_article", "--as", "john"]);
    let out = ok(
        &db,
        &["task", "forward", id, "review_article", "--as", "john", "--to", "sarah", "--title", "Legal Review", "--note", "Check the legal side"],
    );
    assert!(out.contains("review_article#0 is forwarded to #1") && out.contains("task review_article is forwarded"), "{out}");
    let inbox = ok(&db, &["tasks", "--as", "sarah", "--json"]);
    let page: serde_json::Value = serde_json::from_str(&inbox).unwrap();
    assert_eq!(page["rows"][0]["title"], "Legal Review");
    assert_eq!(page["rows"][0]["human_task"], 1);

    ok(&db, &["task", "claim", id, "review_article", "--as", "sarah"]);
    let shown = ok(&db, &["task", "show", id, "review_article"]);
    assert!(shown.contains("#0  Review Article") && shown.contains("forwarded to #1"), "{shown}");
    assert!(
        shown.contains("#1  Legal Review  (follow-on of #0)")
            && shown.contains("claimed by sarah")
            && shown.contains("john")
            && shown.contains("Check the legal side"),
        "{shown}"
    );

    let bad = refused(&db, &["task", "complete", id, "review_article", "--as", "sarah", "--data", r#"{"approved": "yes"}"#]);
    assert!(bad.contains("`approved` must be boolean"), "{bad}");
    ok(&db, &["task", "complete", id, "review_article", "--as", "sarah", "--data", r#"{"approved": true, "comments": "Fine by legal"}"#]);
    ok(&db, &["worker", "--until-idle"]);
    let shown = ok(&db, &["show", id]);
    assert!(shown.contains("completed") && shown.contains(r#"comments = "Fine by legal""#) && shown.contains("published = true"), "{shown}");
    assert!(shown.contains("#1 `Legal Review` created (follow-on of #0) for sarah by john"), "the history records the human tasks: {shown}");

    let out = ok(&db, &["delete", id]);
    assert!(out.contains("deleted"), "{out}");
    let shown = ok(&db, &["task", "show", id, "review_article"]);
    assert_eq!(shown.matches("deleted by").count(), 2, "deleting the process instance deletes both tasks: {shown}");
    assert!(ok(&db, &["show", id]).contains("instance deleted by operator"));
}

#[test]
fn refused_operations_exit_2_with_a_reason_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    people(&db);
    let id = run_example(&db);
    let id = id.as_str();
    let before = ok(&db, &["show", id, "--json"]);

    let e = refused(&db, &["task", "claim", id, "review_article", "--as", "mallory"]);
    assert!(e.contains("there is no user `mallory`"), "{e}");
    let e = refused(&db, &["task", "claim", id, "review_article", "--as", "eve"]);
    assert!(e.contains("`eve` may not claim task #0"), "{e}");
    let e = refused(&db, &["task", "complete", id, "review_article", "--as", "john"]);
    assert!(e.contains("not claimed"), "{e}");
    let e = refused(&db, &["task", "claim", id, "publish", "--as", "john"]);
    assert!(e.contains("only `user` tasks"), "{e}");
    let e = refused(&db, &["tasks", "--as", "john", "--status", "sleeping"]);
    assert!(e.contains("unknown inbox status"), "{e}");
    assert_eq!(ok(&db, &["show", id, "--json"]), before, "nothing changed");

    ok(&db, &["task", "claim", id, "review_article", "--as", "john"]);
    ok(&db, &["task", "forward", id, "review_article", "--as", "john", "--to", "sarah"]);
    let e = refused(&db, &["task", "delete", id, "review_article#1", "--as", "john"]);
    assert!(e.contains("acts as one task"), "deleting one follow-on alone is refused: {e}");
    let e = refused(&db, &["task", "forward", id, "review_article", "--as", "sarah", "--to", "nobody"]);
    assert!(e.contains("there is no user `nobody`"), "{e}");
}

#[test]
fn the_inbox_pages_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    people(&db);
    let example = example();
    ok(&db, &["deploy", example.to_str().unwrap()]);
    for _ in 0..3 {
        ok(&db, &["start", "article-publishing"]);
    }
    let all = ok(&db, &["tasks", "--as", "john", "--per-page", "2"]);
    assert_eq!(all.lines().filter(|l| l.contains("review_article#0")).count(), 2, "{all}");
    assert!(all.contains("(more: --page 2)"), "{all}");
    let second = ok(&db, &["tasks", "--as", "john", "--per-page", "2", "--page", "2"]);
    assert_eq!(second.lines().filter(|l| l.contains("review_article#0")).count(), 1, "{second}");
    assert!(ok(&db, &["tasks", "--as", "john", "--min-priority", "3"]).starts_with("no tasks"));
    assert!(ok(&db, &["tasks", "--as", "john", "--status", "claimed"]).starts_with("no tasks"));
    assert!(ok(&db, &["tasks", "--as", "john", "--process", "other"]).starts_with("no tasks"));
    assert!(ok(&db, &["tasks", "--as", "john", "--due-before", "+1h"]).starts_with("no tasks"), "due in two days");
    assert_eq!(ok(&db, &["tasks", "--as", "john", "--due-before", "+3d"]).lines().count(), 4);
}

#[test]
fn a_follow_on_may_have_escalations_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    people(&db);
    let id = run_example(&db);
    ok(&db, &["task", "claim", &id, "review_article", "--as", "john"]);
    let escalation = r#"{"name": "slow legal review", "after": "1s", "action": "raise_priority", "by": 3}"#;
    ok(&db, &["task", "forward", &id, "review_article", "--as", "john", "--to", "sarah", "--title", "Legal Review", "--escalation", escalation]);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    // The worker fires the follow-on's own escalation timer: priority 2 + 3.
    ok(&db, &["worker", "--until-idle"]);
    let inbox = ok(&db, &["tasks", "--as", "sarah"]);
    let row = inbox.lines().find(|l| l.contains("Legal Review")).expect("sarah's follow-on");
    assert!(row.contains(" 5 "), "escalated priority: {row}");
    let history = ok(&db, &["show", &id]);
    assert!(history.contains("escalated: slow legal review"), "{history}");
    // A malformed escalation is refused.
    let err = refused(&db, &["task", "forward", &id, "review_article", "--as", "sarah", "--to", "john", "--escalation", "{\"after\": 3}"]);
    assert!(err.contains("--escalation"), "{err}");
}
