//! `baton show INSTANCE --follow`: prints the instance, then its history as a worker in
//! another process commits it, until the instance ends.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use support::{ok, refused};

const TWO_JOBS: &str = "id: two-jobs
tasks:
  - id: first
    kind: job
    command: [sh, -c, 'true']
  - id: second
    kind: job
    after: [first]
    command: [sh, -c, 'exit 3']
";

#[test]
fn show_follow_prints_what_a_worker_commits_until_the_instance_ends_and_exits_1_when_it_failed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    std::fs::write(dir.path().join("two-jobs.yaml"), TWO_JOBS).unwrap();
    ok(
        &db,
        &["deploy", dir.path().join("two-jobs.yaml").to_str().unwrap()],
    );
    let id = ok(&db, &["start", "two-jobs"]).trim().to_owned();

    let mut follow = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["--db", db.to_str().unwrap(), "show", &id, "--follow"])
        .env_remove("BATON_DB")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(follow.stdout.take().unwrap());
    // The instance as it was, before any job ran: up to its history's first line.
    let mut before = String::new();
    while !before.contains("history:") {
        assert!(
            stdout.read_line(&mut before).unwrap() > 0,
            "follow ended early: {before}"
        );
    }
    assert!(!before.contains("job attempt 1 finished"), "{before}");

    ok(&db, &["worker", "--until-idle"]);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = follow.wait().unwrap();
    assert_eq!(status.code(), Some(1), "a failed instance: {before}{rest}");
    let finished: Vec<&str> = rest
        .lines()
        .filter(|l| l.contains("job attempt 1 finished"))
        .collect();
    assert_eq!(finished.len(), 2, "both jobs' ends, once each:\n{rest}");
    assert!(
        finished[0].contains("first")
            && finished[1].contains("second")
            && finished[1].contains("exit 3"),
        "{rest}"
    );
    assert!(
        rest.trim_end()
            .ends_with(&format!("instance {id} is failed")),
        "{rest}"
    );
}

#[test]
fn show_follow_with_json_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = refused(
        &dir.path().join("baton.db"),
        &["show", "some-id", "--follow", "--json"],
    );
    assert!(
        stderr.contains("--follow") && stderr.contains("--json"),
        "{stderr}"
    );
}
