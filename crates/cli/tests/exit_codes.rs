//! One table of exit codes for every command: 0 done, 1 the instance failed, was aborted or is
//! blocked (`run`), 2 refused (nothing changed), 3 waiting (`run`). Each refusal goes through
//! the real binary, on the database file and again through `baton serve` (`--server`), with
//! the same codes and reasons.

mod support;
use support::modes::{Baton, Mode};

crate::in_both_modes!(
    every_refusal_exits_2_with_its_reason,
    a_refused_task_retry_exits_2_and_a_blocked_run_exits_1,
    run_exits_0_completed_1_failed_3_waiting
);

fn every_refusal_exits_2_with_its_reason(mode: Mode) {
    let b = Baton::new(mode);
    let flow = b.file(
        "flow.yaml",
        b"id: flow\ntasks:\n  - id: only\n    kind: end\n",
    );
    let asks = b.file("asks.yaml", b"id: asks\ndata:\n  day: string\ntasks:\n  - id: ask\n    kind: end\n    prompts: [{name: day}]\n");
    b.ok(&["deploy", &flow, &asks]);
    let ended = b.ok(&["start", "flow"]).trim().to_owned();
    let waiting = b.ok(&["start", "asks"]).trim().to_owned();
    let utf = b.file("latin1.yaml", b"id: caf\xe9\ntasks: []\n");

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
        let run = b.run(&args);
        assert_eq!(
            (run.code, run.stderr.as_str()),
            (2, stderr.as_str()),
            "baton {args:?}"
        );
    }
}

fn a_refused_task_retry_exits_2_and_a_blocked_run_exits_1(mode: Mode) {
    let b = Baton::new(mode);
    let flow = b.file("flow.yaml",
        b"id: flow\ntasks:\n  - id: work\n    kind: job\n    command: [\"false\"]\n  - id: next\n    kind: end\n    after: [work]\n  - id: last\n    kind: end\n    after: [next]\n",
    );
    assert_eq!(b.run(&["run", &flow]).code, 1, "a blocked instance");
    let id = b
        .run(&["instances"])
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let refused = b.run(&["task", "retry", &id, "last"]);
    assert_eq!(
        (refused.code, refused.stderr.as_str()),
        (2, "baton: task `last` is waiting_for_predecessor; only a task that ended not OK or was skipped can be retried\n")
    );
}

fn run_exits_0_completed_1_failed_3_waiting(mode: Mode) {
    let b = Baton::new(mode);
    let done = b.file(
        "done.yaml",
        b"id: done\ntasks:\n  - id: only\n    kind: end\n",
    );
    let failed = b.file(
        "failed.yaml",
        b"id: failed\ntasks:\n  - id: work\n    kind: job\n    command: [\"false\"]\n",
    );
    let waiting = b.file("waiting.yaml",
        b"id: waiting\ndata:\n  day: string\ntasks:\n  - id: ask\n    kind: end\n    prompts: [{name: day}]\n",
    );
    let codes: Vec<i32> = [done, failed, waiting]
        .iter()
        .map(|f| b.run(&["run", f]).code)
        .collect();
    assert_eq!(codes, vec![0, 1, 3]);
}
