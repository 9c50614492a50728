//! One table of exit codes for every command: 0 done, 1 the instance failed, was aborted or is
//! blocked (`run`), 2 refused (nothing changed), 3 waiting (`run`). Each refusal goes through
//! the real binary.

mod support;
use support::{baton, ok};

fn write(dir: &std::path::Path, name: &str, text: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn every_refusal_exits_2_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let flow = write(dir.path(), "flow.yaml", b"id: flow\ntasks:\n  - id: only\n    kind: end\n");
    let asks = write(dir.path(), "asks.yaml", b"id: asks\ndata:\n  day: string\ntasks:\n  - id: ask\n    kind: end\n    prompts: [{name: day}]\n");
    ok(&db, &["deploy", &flow, &asks]);
    let ended = ok(&db, &["start", "flow"]).trim().to_owned();
    let waiting = ok(&db, &["start", "asks"]).trim().to_owned();
    let utf = write(dir.path(), "latin1.yaml", b"id: caf\xe9\ntasks: []\n");

    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["show", "no-such-instance"], "baton: there is no instance `no-such-instance`\n".into()),
        (vec!["abort", "no-such-instance"], "baton: there is no instance `no-such-instance`\n".into()),
        (vec!["delete", "no-such-instance"], "baton: there is no instance `no-such-instance`\n".into()),
        (vec!["task", "retry", "no-such-instance", "only"], "baton: there is no instance `no-such-instance`\n".into()),
        (vec!["start", "no-such-process"], "baton: there is no process `no-such-process`; deploy it first\n".into()),
        (vec!["task", "retry", &waiting, "no-such-task"], "baton: there is no task `no-such-task` in this process\n".into()),
        (
            vec!["task", "skip", &ended, "only"],
            "baton: instance has ended (completed); it takes no more commands\n".into(),
        ),
        (
            vec!["deploy", &utf],
            format!("baton: {utf}:1:8: the file is not UTF-8 text: the bytes from here on (0xE9 …) are not valid UTF-8\n  hint: save the file as UTF-8\n"),
        ),
        (vec!["start", "flow", "--data", "[1]"], "baton: --data must be a JSON object, got list\n".into()),
        (
            vec!["task", "input", &waiting, "ask", "--data", r#"{"day": 7}"#],
            "baton: invalid process data: `day` must be string, got integer\n".into(),
        ),
        (vec!["instances", "--status", "sleeping"], "baton: unknown status `sleeping`; use running, waiting, blocked, completed, failed, aborted or incident\n".into()),
    ];
    for (args, stderr) in cases {
        let run = baton(&db, &args);
        assert_eq!((run.code, run.stderr.as_str()), (2, stderr.as_str()), "baton {args:?}");
    }
}

#[test]
fn a_refused_task_retry_exits_2_and_a_blocked_run_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let flow = write(
        dir.path(),
        "flow.yaml",
        b"id: flow\ntasks:\n  - id: work\n    kind: job\n    command: [\"false\"]\n  - id: next\n    kind: end\n    after: [work]\n  - id: last\n    kind: end\n    after: [next]\n",
    );
    assert_eq!(baton(&db, &["run", &flow]).code, 1, "a blocked instance");
    let id = baton(&db, &["instances"]).stdout.lines().nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let refused = baton(&db, &["task", "retry", &id, "last"]);
    assert_eq!(
        (refused.code, refused.stderr.as_str()),
        (2, "baton: task `last` is waiting_for_predecessor; only a task that ended not OK or was skipped can be retried\n")
    );
}

#[test]
fn run_exits_0_completed_1_failed_3_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let done = write(dir.path(), "done.yaml", b"id: done\ntasks:\n  - id: only\n    kind: end\n");
    let failed = write(dir.path(), "failed.yaml", b"id: failed\ntasks:\n  - id: work\n    kind: job\n    command: [\"false\"]\n");
    let waiting = write(
        dir.path(),
        "waiting.yaml",
        b"id: waiting\ndata:\n  day: string\ntasks:\n  - id: ask\n    kind: end\n    prompts: [{name: day}]\n",
    );
    let codes: Vec<i32> = [done, failed, waiting].iter().map(|f| baton(&db, &["run", f]).code).collect();
    assert_eq!(codes, vec![0, 1, 3]);
}
