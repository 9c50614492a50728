//! How `baton worker` and `baton run` treat the jobs they run, on the real binary: SIGTERM is
//! a shutdown like Ctrl-C (running jobs get the grace period, then their whole process
//! groups are stopped and the next worker runs them again, once), and a job's environment
//! holds only what it is given, whatever the worker's environment holds.
#![cfg(unix)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

fn baton() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_baton"));
    c.env_remove("BATON_DB")
        .env_remove("BATON_LOG")
        .env_remove("BATON_PASS_ENV")
        .env_remove("BATON_PASS_ENV_ALL");
    c
}

fn spawn(db: &Path, args: &[&str]) -> Child {
    baton()
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("baton starts")
}

fn wait_for_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("baton did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `file` holds `lines` lines; returns them.
fn wait_for_lines(file: &Path, lines: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.lines().count() >= lines {
            return text.lines().map(str::to_owned).collect();
        }
        assert!(
            Instant::now() < deadline,
            "{} never got {lines} lines: {text:?}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|line| {
        !line[line.rfind(')').unwrap() + 1..]
            .trim_start()
            .starts_with('Z')
    })
}

fn show(db: &Path, instance: &str) -> Value {
    serde_json::from_str(&support::ok(db, &["show", instance, "--json"]))
        .expect("show --json prints JSON")
}

/// The attempts named by the `kind` events of `task` in an instance's history.
fn attempts(shown: &Value, task: &str, kind: &str) -> Vec<u64> {
    shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["task"] == task && e["event"] == kind)
        .map(|e| e["attempt"].as_u64().unwrap())
        .collect()
}

/// A job whose first attempt starts a background `sleep 30` and sleeps 30 s itself, writing
/// `start ATTEMPT` and the pids of its processes first; later attempts end at once.
fn long_first_attempt(dir: &Path) -> (PathBuf, PathBuf) {
    let log = dir.join("attempts.log");
    let file = dir.join("nap.yaml");
    let script = format!(
        "if [ \"$BATON_ATTEMPT\" = 1 ]; then sleep 30 & echo \"start 1 $$ $!\" >> '{log}'; sleep 30; else echo \"start $BATON_ATTEMPT\" >> '{log}'; fi",
        log = log.display()
    );
    std::fs::write(
        &file,
        format!(
            "id: nap\ntasks:\n  - id: nap\n    kind: job\n    command: {}\n",
            serde_json::to_string(&["sh", "-c", &script]).unwrap()
        ),
    )
    .unwrap();
    (file, log)
}

/// After the shutdown: no process of the first attempt is alive, and the next worker
/// completes the instance with exactly one extra attempt.
fn assert_stopped_then_run_again_once(db: &Path, log: &Path, first: &str) {
    let pids: Vec<u32> = first
        .split(' ')
        .skip(2)
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(
        pids.iter().filter(|&&p| alive(p)).collect::<Vec<_>>(),
        Vec::<&u32>::new(),
        "no process of the stopped attempt is left"
    );

    support::ok(db, &["worker", "--until-idle"]);
    let id = support::ok(db, &["instances"])
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let shown = show(db, &id);
    assert_eq!(shown["instance"]["status"], "completed");
    assert_eq!(shown["instance"]["tasks"]["nap"]["attempts"], 2);
    assert_eq!(attempts(&shown, "nap", "job_dispatched"), [1, 2]);
    assert_eq!(attempts(&shown, "nap", "job_retried"), [2]);
    assert_eq!(attempts(&shown, "nap", "job_finished"), [2]);
    let lines: Vec<String> = std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, ["start 1", "start 2"]);
}

#[test]
fn sigterm_stops_a_worker_cleanly_and_the_next_worker_runs_its_job_again_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let (file, log) = long_first_attempt(dir.path());
    support::ok(&db, &["deploy", file.to_str().unwrap()]);
    support::ok(&db, &["start", "nap"]);

    let mut worker = spawn(&db, &["worker", "--grace", "500ms"]);
    let first = wait_for_lines(&log, 1).remove(0);
    kill(Pid::from_raw(worker.id() as i32), Signal::SIGTERM).unwrap();
    let status = wait_for_exit(&mut worker, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "the worker exits 0 after SIGTERM");
    assert_stopped_then_run_again_once(&db, &log, &first);
}

#[test]
fn sigterm_stops_baton_run_like_ctrl_c_and_the_next_worker_runs_its_job_again_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let (file, log) = long_first_attempt(dir.path());

    let mut run = spawn(&db, &["run", file.to_str().unwrap(), "--grace", "0s"]);
    let first = wait_for_lines(&log, 1).remove(0);
    kill(Pid::from_raw(run.id() as i32), Signal::SIGTERM).unwrap();
    let status = wait_for_exit(&mut run, Duration::from_secs(30));
    let mut stderr = String::new();
    std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.ends_with("goes on with the next `baton worker`\n"),
        "{stderr}"
    );
    assert_stopped_then_run_again_once(&db, &log, &first);
}

/// A job that ends within the grace period ends normally: one attempt, no retry.
#[test]
fn a_job_that_finishes_within_the_grace_period_is_not_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let log = dir.path().join("attempts.log");
    let file = dir.path().join("short.yaml");
    let script = format!(
        "echo \"start $BATON_ATTEMPT\" >> '{log}'; sleep 1; echo '{{\"slept\": true}}'",
        log = log.display()
    );
    std::fs::write(
        &file,
        format!(
            "id: short\ntasks:\n  - id: nap\n    kind: job\n    command: {}\n",
            serde_json::to_string(&["sh", "-c", &script]).unwrap()
        ),
    )
    .unwrap();
    support::ok(&db, &["deploy", file.to_str().unwrap()]);
    let id = support::ok(&db, &["start", "short"]).trim().to_owned();

    let mut worker = spawn(&db, &["worker", "--grace", "60s"]);
    wait_for_lines(&log, 1);
    kill(Pid::from_raw(worker.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(
        wait_for_exit(&mut worker, Duration::from_secs(30)).code(),
        Some(0)
    );
    let shown = show(&db, &id);
    assert_eq!(shown["instance"]["status"], "completed");
    assert_eq!(
        shown["instance"]["data"],
        serde_json::json!({"slept": true})
    );
    assert_eq!(attempts(&shown, "nap", "job_dispatched"), [1]);
    assert_eq!(attempts(&shown, "nap", "job_retried"), Vec::<u64>::new());
}

// ---------------------------------------------------------------------------------------
// The job's environment

/// Runs a job printing `SECRET_TOKEN` (or `absent`) with `SECRET_TOKEN=hunter2` in baton's
/// environment, plus `args` and `env`; returns what the job saw.
fn secret_seen(args: &[&str], env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let file = dir.path().join("peek.yaml");
    let script = "echo \"{\\\"seen\\\": \\\"${SECRET_TOKEN-absent}\\\"}\"";
    std::fs::write(
        &file,
        format!(
            "id: peek\ntasks:\n  - id: peek\n    kind: job\n    command: {}\n",
            serde_json::to_string(&["sh", "-c", script]).unwrap()
        ),
    )
    .unwrap();
    let out = baton()
        .arg("--db")
        .arg(&db)
        .arg("run")
        .arg(&file)
        .args(args)
        .env("SECRET_TOKEN", "hunter2")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = support::ok(&db, &["instances"])
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    show(&db, &id)["instance"]["data"]["seen"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_secret_in_the_workers_environment_reaches_a_job_only_when_the_operator_passes_it() {
    assert_eq!(secret_seen(&[], &[]), "absent");
    assert_eq!(
        secret_seen(&["--pass-env", "OTHER,SECRET_TOKEN"], &[]),
        "hunter2"
    );
    assert_eq!(secret_seen(&["--pass-env-all"], &[]), "hunter2");
    assert_eq!(
        secret_seen(&[], &[("BATON_PASS_ENV", "SECRET_TOKEN")]),
        "hunter2"
    );
    assert_eq!(secret_seen(&[], &[("BATON_PASS_ENV_ALL", "1")]), "hunter2");
    assert_eq!(
        secret_seen(&[], &[("BATON_PASS_ENV_ALL", "false")]),
        "absent"
    );
}
