//! `baton --server URL` (or `BATON_SERVER`, with `BATON_TOKEN`): every command a client of the
//! HTTP API, printing what the same command prints on the database file and exiting with the
//! same code; and what only a client meets: a token the server refuses, a server that does
//! not answer, commands that need the database itself, `--as` naming someone else.

mod support;

use std::path::PathBuf;

use support::baton;
use support::modes::{Baton, Mode};

fn example() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/article-publishing.yaml")
        .display()
        .to_string()
}

/// A served scenario with people, the article example run and forwarded, and one instance
/// that failed; returns the article's instance id.
fn forwarded_article(b: &Baton) -> String {
    for user in ["john", "sarah", "eve"] {
        b.local(&["user", "add", user]);
    }
    b.local(&["group", "add", "editors"]);
    b.local(&["group", "add-member", "editors", "john"]);
    assert_eq!(b.run(&["run", &example()]).code, 3);
    let id = b
        .ok(&["instances"])
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    b.ok(&["task", "claim", &id, "review_article", "--as", "john"]);
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
        "--note",
        "Check",
    ]);
    let failing = b.file(
        "failing.yaml",
        b"id: failing\ntasks:\n  - id: work\n    kind: job\n    command: [\"false\"]\n",
    );
    assert_eq!(b.run(&["run", &failing]).code, 1);
    id
}

#[test]
fn every_command_prints_the_same_through_the_server_as_on_the_database_file() {
    let b = Baton::new(Mode::Served);
    let id = forwarded_article(&b);
    let id = id.as_str();
    let commands: Vec<Vec<&str>> = vec![
        vec!["show", id, "--json"],
        vec!["show", id],
        vec!["instances"],
        vec!["instances", "--status", "failed", "--limit", "5"],
        vec!["task", "show", id, "review_article", "--json"],
        vec!["task", "show", id, "review_article#1"],
        vec!["tasks", "--as", "sarah", "--json"],
        vec!["tasks", "--as", "john", "--status", "ready"],
        vec!["definitions", "--json"],
        vec!["definitions"],
        vec!["definition", "show", "article-publishing", "--json"],
        vec!["definition", "versions", "failing"],
        vec!["definition", "source", "failing"],
        vec!["user", "list", "--json"],
        vec!["group", "list"],
        vec!["incidents"],
        // Refusals: the same code and the same reason.
        vec!["show", "no-such-instance"],
        vec!["definition", "show", "no-such-process"],
        vec!["task", "claim", id, "review_article", "--as", "eve"],
        vec!["task", "complete", id, "review_article", "--as", "sarah"],
        vec!["task", "claim", id, "publish", "--as", "john"],
        vec!["tasks", "--as", "john", "--per-page", "5000"],
    ];
    for args in commands {
        let on_file = baton(&b.db, &args);
        let served = b.run(&args);
        assert_eq!(
            (served.code, &served.stdout, &served.stderr),
            (on_file.code, &on_file.stdout, &on_file.stderr),
            "baton {args:?}"
        );
    }
}

#[test]
fn an_operation_through_the_server_is_recorded_as_the_tokens_user() {
    let b = Baton::new(Mode::Served);
    let id = forwarded_article(&b);
    b.ok(&["task", "claim", &id, "review_article", "--as", "sarah"]);
    b.ok(&[
        "task",
        "complete",
        &id,
        "review_article",
        "--as",
        "sarah",
        "--data",
        r#"{"approved": false, "comments": "no"}"#,
    ]);
    b.settle();
    assert_eq!(
        b.ok(&["delete", &id]),
        format!("instance {id} deleted (completed)\n")
    );
    let shown = b.local(&["show", &id]);
    assert!(
        shown.contains("#1 ended_ok by sarah") && shown.contains("instance deleted by operator"),
        "{shown}"
    );
}

#[test]
fn as_naming_another_user_than_the_tokens_is_refused_with_exit_2_and_changes_nothing() {
    let b = Baton::new(Mode::Served);
    let id = forwarded_article(&b);
    let before = b.local(&["show", &id, "--json"]);
    let sarah = b.token("sarah");
    for args in [
        vec![
            "task",
            "claim",
            id.as_str(),
            "review_article",
            "--as",
            "john",
        ],
        vec!["abort", id.as_str(), "--as", "john"],
        vec!["tasks", "--as", "john"],
    ] {
        let run = b.client(&args, &[("BATON_TOKEN", &sarah)]);
        assert_eq!(
            (run.code, run.stderr.as_str()),
            (2, "baton: --as john: with --server every command acts as the user of its API token, sarah; to act as john, use a token of theirs\n"),
            "baton {args:?}"
        );
    }
    assert_eq!(b.local(&["show", &id, "--json"]), before, "nothing changed");
    // Naming the token's own user is what acting without --as does.
    assert_eq!(
        b.client(&["abort", &id, "--as", "sarah"], &[("BATON_TOKEN", &sarah)])
            .stdout,
        format!("instance {id} is aborted\n")
    );
}

#[test]
fn a_token_the_server_refuses_exits_2_saying_to_set_baton_token_and_is_never_printed() {
    let b = Baton::new(Mode::Served);
    let secret = b.token("operator");
    let revoke = baton(&b.db, &["token", "list"])
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    baton(&b.db, &["token", "revoke", &revoke]);
    let expected = format!(
        "baton: the Baton server at {} refused the API token (it is unknown, revoked or expired); set BATON_TOKEN (or --token) to a valid one, which `baton token create --user USER` makes\n",
        b.url()
    );
    for token in [secret.as_str(), "baton_0000_not-a-secret-anyone-made"] {
        let by_env = b.client(&["instances"], &[("BATON_TOKEN", token)]);
        let by_flag = b.client(&["--token", token, "instances"], &[]);
        for run in [by_env, by_flag] {
            assert_eq!(
                (run.code, run.stdout.as_str(), run.stderr.as_str()),
                (2, "", expected.as_str())
            );
        }
    }
    let missing = b.client(&["instances"], &[]);
    assert_eq!(
        (missing.code, missing.stderr.as_str()),
        (2, "baton: --server needs an API token: set BATON_TOKEN (or --token) to one that `baton token create --user USER` made\n")
    );
    let help = b.client(&["--help"], &[("BATON_TOKEN", &secret)]);
    assert!(
        help.stdout.contains("[env: BATON_TOKEN]") && !help.stdout.contains(&secret),
        "the help names the variable, not its value: {}",
        help.stdout
    );
}

#[test]
fn a_server_that_does_not_answer_exits_1_naming_its_address() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: taken, then given back.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let run = baton(
        &dir.path().join("baton.db"),
        &[
            "--server",
            &url,
            "--token",
            "baton_x_y",
            "show",
            "some-instance",
        ],
    );
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
    assert!(
        run.stderr
            .starts_with(&format!("baton: cannot reach the Baton server at {url}: ")),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("baton_x_y"), "{}", run.stderr);
    assert!(
        !dir.path().join("baton.db").exists(),
        "a command for a server opens no database"
    );
}

#[test]
fn a_server_address_that_is_no_http_url_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    for (url, why) in [
        ("localhost:8080", "is not an http:// or https:// URL"),
        ("ftp://host", "is not an http:// or https:// URL"),
        ("http://ann:secret@host", "holds a user or password; the API token goes in BATON_TOKEN (or --token), never in the URL"),
        ("http://host/?x=1", "has a query or fragment (`?…`, `#…`); give only the server's address"),
        ("not a url", "is not a URL; give one like http://127.0.0.1:8080"),
    ] {
        let run = baton(&db, &["--server", url, "--token", "t", "instances"]);
        assert_eq!((run.code, run.stderr), (2, format!("baton: the server address `{url}` {why}\n")), "{url}");
    }
}

#[test]
fn commands_that_work_on_the_database_file_refuse_a_server_with_exit_2() {
    let b = Baton::new(Mode::Served);
    let token = b.token("operator");
    for (args, command) in [
        (vec!["worker", "--until-idle"], "worker"),
        (vec!["serve"], "serve"),
        (vec!["bench", "--instances", "1"], "bench"),
    ] {
        let run = b.client(&args, &[("BATON_TOKEN", &token)]);
        assert_eq!(
            (run.code, run.stderr),
            (2, format!("baton: `baton {command}` works on the database file itself and cannot go through --server; run it where the database is, without --server and BATON_SERVER\n")),
            "baton {args:?}"
        );
    }
    let flow = b.file("flow.yaml", b"id: flow\ntasks:\n  - id: t\n    kind: end\n");
    let run = b.client(
        &["run", &flow, "--pass-env", "HOME"],
        &[("BATON_TOKEN", &token)],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("with --server the server runs them"),
        "{}",
        run.stderr
    );
    assert_eq!(
        b.local(&["definitions"]).lines().count(),
        1,
        "nothing was deployed"
    );
}

#[test]
fn a_file_that_is_not_utf8_text_is_refused_before_anything_is_sent() {
    let b = Baton::new(Mode::Served);
    let good = b.file("good.yaml", b"id: good\ntasks:\n  - id: t\n    kind: end\n");
    let latin1 = b.file("latin1.yaml", b"id: caf\xe9\n");
    let run = b.run(&["deploy", &good, &latin1]);
    assert_eq!(
        (run.code, run.stderr),
        (2, format!("baton: {latin1}:1:8: the file is not UTF-8 text: the bytes from here on (0xE9 …) are not valid UTF-8\n  hint: save the file as UTF-8\n"))
    );
    assert_eq!(
        b.local(&["definitions"]).lines().count(),
        1,
        "neither file was stored"
    );
}

#[test]
fn baton_server_and_baton_token_in_the_environment_act_as_the_flags() {
    let b = Baton::new(Mode::Served);
    let token = b.token("operator");
    let flow = b.file("flow.yaml", b"id: flow\ntasks:\n  - id: t\n    kind: end\n");
    let dir = tempfile::tempdir().unwrap();
    let run = support::baton_env(
        &dir.path().join("baton.db"),
        &["deploy", &flow],
        &[("BATON_SERVER", b.url()), ("BATON_TOKEN", &token)],
    );
    assert_eq!(
        (run.code, run.stdout),
        (0, format!("deployed flow version 1 ({flow})\n")),
        "{}",
        run.stderr
    );
    assert!(
        !dir.path().join("baton.db").exists(),
        "the command went to the server"
    );
    assert!(b.local(&["definitions"]).contains("flow"));
}

#[test]
fn show_follow_through_the_server_prints_the_history_until_the_instance_ends() {
    let b = Baton::new(Mode::Served);
    let flow = b.file("slow.yaml", b"id: slow\ntasks:\n  - id: work\n    kind: job\n    command: [sh, -c, 'sleep 0.3; exit 3']\n");
    b.ok(&["deploy", &flow]);
    let id = b.ok(&["start", "slow"]).trim().to_owned();
    let follow = b.run(&["show", &id, "--follow"]);
    assert_eq!(
        follow.code, 1,
        "a failed instance: {}{}",
        follow.stdout, follow.stderr
    );
    assert_eq!(
        follow
            .stdout
            .lines()
            .filter(|l| l.contains("job attempt 1 finished: exit 3"))
            .count(),
        1,
        "{}",
        follow.stdout
    );
    assert!(
        follow
            .stdout
            .trim_end()
            .ends_with(&format!("instance {id} is failed")),
        "{}",
        follow.stdout
    );
}
