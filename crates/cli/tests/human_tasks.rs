//! Human tasks from the command line: the seed's article-publishing example with the real
//! binary on a temp database — `baton run` stops when the instance waits for a human, the
//! inbox (`baton tasks --as`), `baton task claim|forward|complete|show`, refusals that exit 2
//! and change nothing, and `baton delete`. Each scenario runs on the database file and again
//! through `baton serve` (`--server`), with the same answers.

use std::path::PathBuf;

mod support;
use support::modes::{Baton, Mode};

crate::in_both_modes!(
    the_article_publishing_example_from_the_command_line,
    refused_operations_exit_2_with_a_reason_and_change_nothing,
    the_inbox_pages_and_filters,
    a_follow_on_may_have_escalations_of_its_own,
);

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/article-publishing.yaml")
}

/// The people, set up on the database file.
fn people(b: &Baton) {
    for user in ["john", "sarah", "eve"] {
        b.local(&["user", "add", user]);
    }
    b.local(&["group", "add", "editors"]);
    b.local(&["group", "add-member", "editors", "john"]);
}

/// `baton run` on the example: it stops waiting for a human (exit 3); returns the instance id.
fn run_example(b: &Baton) -> String {
    let run = b.run(&["run", example().to_str().unwrap()]);
    assert_eq!(
        run.code, 3,
        "the instance waits for a human: {}\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stdout.contains("review_article")
            && run.stdout.contains("ready")
            && run.stdout.contains("offered to group editors"),
        "{}",
        run.stdout
    );
    let list = b.ok(&["instances"]);
    list.lines()
        .nth(1)
        .expect("one instance")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn the_article_publishing_example_from_the_command_line(mode: Mode) {
    let b = Baton::new(mode);
    people(&b);
    let id = run_example(&b);
    let id = id.as_str();

    let inbox = b.ok(&["tasks", "--as", "john"]);
    assert!(
        inbox.contains("review_article#0")
            && inbox.contains("Review Article")
            && inbox.contains("ready"),
        "{inbox}"
    );
    assert!(b
        .ok(&["tasks", "--as", "sarah"])
        .starts_with("no tasks for sarah"));

    b.ok(&["task", "claim", id, "review_article", "--as", "john"]);
    let out = b.ok(&[
        "task",
        "forward",
        id,
        "review_article",
        "--as",
        "john",
        "--to",
        "sarah",
        "--title",
        "Legal Review",
        "--note",
        "Check the legal side",
    ]);
    assert!(
        out.contains("review_article#0 is forwarded to #1")
            && out.contains("task review_article is forwarded"),
        "{out}"
    );
    let inbox = b.ok(&["tasks", "--as", "sarah", "--json"]);
    let page: serde_json::Value = serde_json::from_str(&inbox).unwrap();
    assert_eq!(page["rows"][0]["title"], "Legal Review");
    assert_eq!(page["rows"][0]["human_task"], 1);

    b.ok(&["task", "claim", id, "review_article", "--as", "sarah"]);
    let shown = b.ok(&["task", "show", id, "review_article"]);
    assert!(
        shown.contains("#0  Review Article") && shown.contains("forwarded to #1"),
        "{shown}"
    );
    assert!(
        shown.contains("#1  Legal Review  (follow-on of #0)")
            && shown.contains("claimed by sarah")
            && shown.contains("john")
            && shown.contains("Check the legal side"),
        "{shown}"
    );

    let bad = b.refused(&[
        "task",
        "complete",
        id,
        "review_article",
        "--as",
        "sarah",
        "--data",
        r#"{"approved": "yes"}"#,
    ]);
    assert!(bad.contains("`approved` must be boolean"), "{bad}");
    b.ok(&[
        "task",
        "complete",
        id,
        "review_article",
        "--as",
        "sarah",
        "--data",
        r#"{"approved": true, "comments": "Fine by legal"}"#,
    ]);
    b.settle();
    let shown = b.ok(&["show", id]);
    assert!(
        shown.contains("completed")
            && shown.contains(r#"comments = "Fine by legal""#)
            && shown.contains("published = true"),
        "{shown}"
    );
    assert!(
        shown.contains("#1 `Legal Review` created (follow-on of #0) for sarah by john"),
        "the history records the human tasks: {shown}"
    );

    let out = b.ok(&["delete", id]);
    assert!(out.contains("deleted"), "{out}");
    let shown = b.ok(&["task", "show", id, "review_article"]);
    assert_eq!(
        shown.matches("deleted by").count(),
        2,
        "deleting the process instance deletes both tasks: {shown}"
    );
    assert!(b.ok(&["show", id]).contains("instance deleted by operator"));
}

fn refused_operations_exit_2_with_a_reason_and_change_nothing(mode: Mode) {
    let b = Baton::new(mode);
    people(&b);
    let id = run_example(&b);
    let id = id.as_str();
    let before = b.ok(&["show", id, "--json"]);

    if mode == Mode::Embedded {
        // With a server the acting user is the token's, who exists.
        let e = b.refused(&["task", "claim", id, "review_article", "--as", "mallory"]);
        assert!(e.contains("there is no user `mallory`"), "{e}");
    }
    let e = b.refused(&["task", "claim", id, "review_article", "--as", "eve"]);
    assert!(e.contains("`eve` may not claim task #0"), "{e}");
    let e = b.refused(&["task", "complete", id, "review_article", "--as", "john"]);
    assert!(e.contains("not claimed"), "{e}");
    let e = b.refused(&["task", "claim", id, "publish", "--as", "john"]);
    assert!(e.contains("only `user` tasks"), "{e}");
    let e = b.refused(&["tasks", "--as", "john", "--status", "sleeping"]);
    assert!(e.contains("unknown inbox status"), "{e}");
    assert_eq!(b.ok(&["show", id, "--json"]), before, "nothing changed");

    b.ok(&["task", "claim", id, "review_article", "--as", "john"]);
    b.ok(&[
        "task",
        "forward",
        id,
        "review_article",
        "--as",
        "john",
        "--to",
        "sarah",
    ]);
    let e = b.refused(&["task", "delete", id, "review_article#1", "--as", "john"]);
    assert!(
        e.contains("acts as one task"),
        "deleting one follow-on alone is refused: {e}"
    );
    let e = b.refused(&[
        "task",
        "forward",
        id,
        "review_article",
        "--as",
        "sarah",
        "--to",
        "nobody",
    ]);
    assert!(e.contains("there is no user `nobody`"), "{e}");
}

fn the_inbox_pages_and_filters(mode: Mode) {
    let b = Baton::new(mode);
    people(&b);
    let example = example();
    b.ok(&["deploy", example.to_str().unwrap()]);
    for _ in 0..3 {
        b.ok(&["start", "article-publishing"]);
    }
    let all = b.ok(&["tasks", "--as", "john", "--per-page", "2"]);
    assert_eq!(
        all.lines()
            .filter(|l| l.contains("review_article#0"))
            .count(),
        2,
        "{all}"
    );
    assert!(all.contains("(more: --page 2)"), "{all}");
    let second = b.ok(&["tasks", "--as", "john", "--per-page", "2", "--page", "2"]);
    assert_eq!(
        second
            .lines()
            .filter(|l| l.contains("review_article#0"))
            .count(),
        1,
        "{second}"
    );
    assert!(b
        .ok(&["tasks", "--as", "john", "--min-priority", "3"])
        .starts_with("no tasks"));
    assert!(b
        .ok(&["tasks", "--as", "john", "--status", "claimed"])
        .starts_with("no tasks"));
    assert!(b
        .ok(&["tasks", "--as", "john", "--process", "other"])
        .starts_with("no tasks"));
    assert!(
        b.ok(&["tasks", "--as", "john", "--due-before", "+1h"])
            .starts_with("no tasks"),
        "due in two days"
    );
    assert_eq!(
        b.ok(&["tasks", "--as", "john", "--due-before", "+3d"])
            .lines()
            .count(),
        4
    );
}

fn a_follow_on_may_have_escalations_of_its_own(mode: Mode) {
    let b = Baton::new(mode);
    people(&b);
    let id = run_example(&b);
    b.ok(&["task", "claim", &id, "review_article", "--as", "john"]);
    let escalation =
        r#"{"name": "slow legal review", "after": "1s", "action": "raise_priority", "by": 3}"#;
    b.ok(&[
        "task",
        "forward",
        &id,
        "review_article",
        "--as",
        "john",
        "--to",
        "sarah",
        "--title",
        "Legal Review",
        "--escalation",
        escalation,
    ]);
    // The worker fires the follow-on's own escalation timer: priority 2 + 3.
    let escalated = || {
        b.ok(&["tasks", "--as", "sarah"])
            .lines()
            .any(|row| row.contains("Legal Review") && row.contains(" 5 "))
    };
    match mode {
        Mode::Embedded => {
            std::thread::sleep(std::time::Duration::from_millis(1200));
            b.ok(&["worker", "--until-idle"]);
            assert!(
                escalated(),
                "escalated priority: {}",
                b.ok(&["tasks", "--as", "sarah"])
            );
        }
        // The server's worker fires it when it is due.
        Mode::Served => b.wait_for("the escalation", escalated),
    }
    let history = b.ok(&["show", &id]);
    assert!(
        history.contains("escalated: slow legal review"),
        "{history}"
    );
    // A malformed escalation is refused.
    let err = b.refused(&[
        "task",
        "forward",
        &id,
        "review_article",
        "--as",
        "sarah",
        "--to",
        "john",
        "--escalation",
        "{\"after\": 3}",
    ]);
    assert!(err.contains("--escalation"), "{err}");
}
