//! The command line on PostgreSQL (`--db postgres://…`): a definition deployed, run and listed,
//! a human task through the inbox, on the database itself and through a `baton serve` on it;
//! the schema migrated on first use with a message, and a database that a newer Baton migrated
//! refused before anything changes. Skipped, saying so, when `BATON_TEST_POSTGRES_URL` is unset
//! (a failure under `CI`).

use std::path::PathBuf;

mod support;
use support::modes::{Baton, Mode};
use support::{baton, baton_env};

crate::in_both_modes!(deploy_run_list_and_a_human_task_on_postgres);

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}

fn deploy_run_list_and_a_human_task_on_postgres(mode: Mode) {
    let Some(b) = Baton::on_postgres(mode) else {
        return;
    };
    // A run with jobs and a join, to its end.
    let run = b.run(&["run", &example("parallel-etl.yaml")]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("completed"), "{}", run.stdout);

    for user in ["john", "sarah"] {
        b.local(&["user", "add", user]);
    }
    b.local(&["group", "add", "editors"]);
    b.local(&["group", "add-member", "editors", "john"]);
    let run = b.run(&["run", &example("article-publishing.yaml")]);
    assert_eq!(
        run.code, 3,
        "the instance waits for a human: {}\n{}",
        run.stdout, run.stderr
    );
    let waiting = b.ok(&["instances", "--status", "waiting"]);
    let id = waiting
        .lines()
        .nth(1)
        .expect("one waiting instance")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let listed = b.ok(&["instances"]);
    assert_eq!(
        listed.lines().count(),
        3,
        "a heading and both instances: {listed}"
    );
    assert!(
        listed.contains("parallel-etl") && listed.contains("article-publishing"),
        "{listed}"
    );

    let inbox = b.ok(&["tasks", "--as", "john"]);
    assert!(
        inbox.contains("review_article#0") && inbox.contains("ready"),
        "{inbox}"
    );
    b.ok(&["task", "claim", &id, "review_article", "--as", "john"]);
    // Claimed: a second claim, by another, is refused and changes nothing.
    let refused = b.refused(&["task", "claim", &id, "review_article", "--as", "sarah"]);
    assert!(!refused.is_empty());
    b.ok(&[
        "task",
        "complete",
        &id,
        "review_article",
        "--as",
        "john",
        "--data",
        r#"{"approved": true, "comments": "fine"}"#,
    ]);
    b.settle();
    let shown = b.ok(&["show", &id, "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_ne!(
        shown["status"], "waiting",
        "the review was completed: {shown}"
    );
    assert_eq!(
        b.ok(&["tasks", "--as", "john"]).lines().next().unwrap(),
        "no tasks for john"
    );
}

#[test]
fn the_schema_is_migrated_on_first_use_and_a_newer_database_is_refused() {
    let Some(b) = Baton::on_postgres(Mode::Embedded) else {
        return;
    };
    let first = baton(&b.db, &["definitions"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stderr.contains("baton: applied ")
            && first
                .stderr
                .contains("schema migration(s) to the PostgreSQL database"),
        "{}",
        first.stderr
    );
    assert!(
        !first.stderr.contains("postgres://postgres:"),
        "no password is printed: {}",
        first.stderr
    );
    let again = baton(&b.db, &["definitions"]);
    assert_eq!(
        (again.code, again.stderr.as_str()),
        (0, ""),
        "an up-to-date schema is not migrated again"
    );

    // A newer Baton's migration in the database: refused, and nothing is stored.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = b.db.to_str().unwrap().to_owned();
    runtime.block_on(async {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99991231000000, 'from the future', TRUE, '\\x00', 0)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let newer = baton(&b.db, &["deploy", &example("parallel-etl.yaml")]);
    assert_eq!(newer.code, 1, "{}", newer.stderr);
    assert!(
        newer.stderr.contains(
            "migrated by a newer Baton (migration 99991231000000 is unknown to this one)"
        ),
        "{}",
        newer.stderr
    );
    let definitions: i64 = runtime.block_on(async {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM definitions")
            .fetch_one(&pool)
            .await
            .unwrap()
    });
    assert_eq!(definitions, 0, "nothing was deployed");
}

#[test]
fn a_name_taken_on_postgres_is_said_to_exist_not_retried() {
    let Some(b) = Baton::on_postgres(Mode::Embedded) else {
        return;
    };
    // PostgreSQL reports both as a unique violation, which is otherwise a race to retry.
    for (what, add) in [
        ("user", ["user", "add", "john"]),
        ("group", ["group", "add", "editors"]),
    ] {
        b.local(&add);
        let again = baton(&b.db, &add);
        assert_eq!(again.code, 2, "{what}: {}", again.stderr);
        assert!(
            again.stderr.contains("already exists"),
            "{what}: {}",
            again.stderr
        );
    }
}

#[test]
fn a_postgres_url_in_baton_db_is_taken_and_a_bad_one_refused() {
    let Some(b) = Baton::on_postgres(Mode::Embedded) else {
        return;
    };
    let url = b.db.to_str().unwrap().to_owned();
    let other = b.dir.path().join("ignored.db");
    // BATON_DB names the database when --db is not given.
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["deploy", &example("parallel-etl.yaml")])
        .env("BATON_DB", &url)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(baton(&b.db, &["definitions"])
        .stdout
        .contains("parallel-etl"));
    assert!(!other.exists());
    let bad = baton_env(
        std::path::Path::new("postgres://u:secret@127.0.0.1:5432/db?sslmode=nonsense"),
        &["definitions"],
        &[],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains(
            "--db postgres://u:***@127.0.0.1:5432/db?sslmode=nonsense: not a PostgreSQL URL"
        ) && !bad.stderr.contains("secret"),
        "{}",
        bad.stderr
    );
}
