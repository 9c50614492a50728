//! `baton run`: it drives only the instance it started (and the instances under it), shows
//! each task as it starts and ends, shows the stderr of a job that failed, and does not store
//! a definition again whose source is unchanged.

mod support;

use support::{baton, ok};

#[test]
fn run_drives_only_its_own_instance_and_leaves_the_others_queued() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let marker = dir.path().join("other-ran");
    let other = dir.path().join("other.yaml");
    std::fs::write(
        &other,
        format!(
            "id: other\ntasks:\n  - id: touch\n    kind: job\n    command: [\"touch\", \"{}\"]\n",
            marker.display()
        ),
    )
    .unwrap();
    ok(&db, &["deploy", other.to_str().unwrap()]);
    let queued = ok(&db, &["start", "other"]).trim().to_owned();

    let mine = dir.path().join("mine.yaml");
    std::fs::write(&mine, "id: mine\ntasks:\n  - id: hello\n    kind: job\n    command: [\"true\"]\n  - id: child\n    kind: call\n    process: leaf\n    after: [hello]\n").unwrap();
    let leaf = dir.path().join("leaf.yaml");
    std::fs::write(
        &leaf,
        "id: leaf\ntasks:\n  - id: work\n    kind: job\n    command: [\"true\"]\n",
    )
    .unwrap();
    ok(&db, &["deploy", leaf.to_str().unwrap()]);
    let run = baton(&db, &["run", mine.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("completed in"), "{}", run.stdout);
    assert!(
        !marker.exists(),
        "the other instance's job was not run by `baton run`"
    );
    let shown = ok(&db, &["show", &queued, "--json"]);
    let view: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        view["instance"]["status"], "running",
        "the other instance still waits for a worker"
    );

    // `baton worker` runs it.
    ok(&db, &["worker", "--until-idle"]);
    assert!(marker.exists());
}

#[test]
fn worker_until_idle_waits_for_an_earliest_start_and_a_retry_delay_but_not_for_a_person() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let flow = dir.path().join("timed.yaml");
    let tries = dir.path().join("tries");
    std::fs::write(
        &flow,
        format!(
            "id: timed\ntasks:\n  - id: later\n    kind: job\n    command: [\"true\"]\n    earliest_start: \"+1s\"\n  - id: flaky\n    kind: job\n    after: [later]\n    retry: {{max: 1, delay: 1s}}\n    command: [\"sh\", \"-c\", \"echo x >> {0}; test $(wc -l < {0}) -ge 2\"]\n",
            tries.display()
        ),
    )
    .unwrap();
    let run = baton(&db, &["run", flow.to_str().unwrap()]);
    assert_eq!(
        run.code, 3,
        "the run waits for the start time: {}{}",
        run.stdout, run.stderr
    );
    ok(&db, &["worker", "--until-idle"]);
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&db, &["instances", "--json"])).unwrap();
    assert_eq!(
        shown["instances"][0]["status"], "completed",
        "the worker waited for the start and for the retry: {shown}"
    );
    assert_eq!(std::fs::read_to_string(&tries).unwrap().lines().count(), 2);

    // A human task waits for a person: the worker does not wait for it.
    let asks = dir.path().join("asks.yaml");
    std::fs::write(&asks, "id: asks\ntasks:\n  - id: review\n    kind: user\n    title: Review\n    owners: [operator]\n").unwrap();
    ok(&db, &["deploy", asks.to_str().unwrap()]);
    ok(&db, &["start", "asks"]);
    ok(&db, &["worker", "--until-idle"]);
}

#[test]
fn run_prints_each_task_as_it_starts_and_ends_and_the_stderr_of_a_failed_job() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let flow = dir.path().join("flow.yaml");
    std::fs::write(
        &flow,
        "id: flow\ntasks:\n  - id: first\n    kind: job\n    command: [\"true\"]\n  - id: broken\n    kind: job\n    command: [\"sh\", \"-c\", \"echo one >&2; echo two >&2; echo 'disk full' >&2; exit 4\"]\n    after: [first]\n",
    )
    .unwrap();
    let run = baton(&db, &["run", flow.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    // Piped, progress is plain lines on stderr: no carriage return, no escape codes.
    assert!(
        !run.stderr.contains('\r') && !run.stderr.contains('\x1b'),
        "{:?}",
        run.stderr
    );
    let progress: Vec<(&str, &str)> = run
        .stderr
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace().skip(1);
            Some((words.next()?, words.next()?))
        })
        .filter(|(task, _)| ["first", "broken"].contains(task))
        .collect();
    assert_eq!(
        progress,
        [
            ("first", "running"),
            ("first", "ended_ok"),
            ("broken", "running"),
            ("broken", "ended_not_ok")
        ],
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.lines().any(|l| l.ends_with("Z  first  running")),
        "each line carries its UTC time: {}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains("stderr of broken (attempt 1, exit 4):\n  | one\n  | two\n  | disk full\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_unchanged_source_is_not_deployed_again_and_deploy_start_and_run_print_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let flow = dir.path().join("flow.yaml");
    std::fs::write(&flow, "id: flow\ntasks:\n  - id: only\n    kind: end\n").unwrap();
    let file = flow.to_str().unwrap();

    let first: serde_json::Value =
        serde_json::from_str(&ok(&db, &["deploy", file, "--json"])).unwrap();
    assert_eq!(
        first,
        serde_json::json!([{"file": file, "id": "flow", "version": 1, "unchanged": false}])
    );
    let again = ok(&db, &["deploy", file]);
    assert_eq!(
        again,
        format!(
            "flow version 1 is unchanged ({file}): the same source as deployed, nothing stored\n"
        )
    );
    let run = baton(&db, &["run", file, "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("flow version 1 is unchanged"),
        "{}",
        run.stderr
    );
    let view: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("run --json prints one JSON document");
    assert_eq!(
        (
            view["process"].as_str(),
            view["version"].as_u64(),
            view["status"].as_str()
        ),
        (Some("flow"), Some(1), Some("completed"))
    );
    assert!(
        view["tasks"]["only"].is_object(),
        "tasks keyed by id: {view}"
    );

    std::fs::write(
        &flow,
        "id: flow\ntasks:\n  - id: only\n    kind: end\n    name: The one\n",
    )
    .unwrap();
    assert_eq!(
        ok(&db, &["deploy", file]),
        format!("deployed flow version 2 ({file})\n")
    );
    let started: serde_json::Value =
        serde_json::from_str(&ok(&db, &["start", "flow", "--json"])).unwrap();
    assert_eq!(
        (started["version"].as_u64(), started["status"].as_str()),
        (Some(2), Some("completed"))
    );
    let versions = ok(&db, &["definition", "versions", "flow"]);
    assert_eq!(
        versions
            .lines()
            .filter(|l| l.trim_start().starts_with(['1', '2']))
            .count(),
        2,
        "two versions, not three: {versions}"
    );
}
