//! The example external workers (`examples/workers/`, one in Python with the standard library
//! only, one in shell with curl and jq) against a real `baton serve`: each fetches the
//! `invoice-check` jobs, reports on them under their lock, and the instances go on.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{baton, ok};

fn example(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(path)
}

/// `baton serve` on a free port of a database with `invoice-check` deployed and a user `bot` in
/// group `workers`, and bot's token; stopped when dropped.
struct Server {
    _served: support::server::Server,
    url: String,
    token: String,
}

impl Server {
    fn start(db: &Path) -> Self {
        ok(
            db,
            &["deploy", example("invoice-check.yaml").to_str().unwrap()],
        );
        ok(db, &["user", "add", "bot"]);
        ok(db, &["group", "add", "workers"]);
        ok(db, &["group", "add-member", "workers", "bot"]);
        let token = baton(db, &["token", "create", "--user", "bot"])
            .stdout
            .trim()
            .to_owned();
        let served = support::server::Server::start(db, &[]);
        Self {
            url: format!("http://{}", served.address),
            _served: served,
            token,
        }
    }
}

fn start(db: &Path, amount: f64) -> String {
    ok(
        db,
        &[
            "start",
            "invoice-check",
            "--data",
            &format!("{{\"amount\": {amount}}}"),
        ],
    )
    .trim()
    .to_owned()
}

fn show(db: &Path, id: &str) -> Value {
    let shown: Value = serde_json::from_str(&ok(db, &["show", id, "--json"])).unwrap();
    shown["instance"].clone()
}

/// Runs a worker program until it has done `jobs` jobs; its stdout.
fn run_worker(server: &Server, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .env("BATON_SERVER", &server.url)
        .env("BATON_TOKEN", &server.token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn checks_invoices_with(program: &str, args: &[&str], checked_by: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let server = Server::start(&db);
    let small = start(&db, 120.0);
    let large = start(&db, 5000.0);
    let negative = start(&db, -3.0);

    let mut args = args.to_vec();
    args.push("3");
    let printed = run_worker(&server, program, &args);
    assert_eq!(printed.lines().count(), 3, "{printed}");

    let small = show(&db, &small);
    assert_eq!(
        (
            small["status"].as_str(),
            small["data"]["approved"].as_bool()
        ),
        (Some("completed"), Some(true)),
        "{small}"
    );
    assert_eq!(small["data"]["checked_by"], format!("{checked_by} (paid)"));
    let large = show(&db, &large);
    assert_eq!(
        (
            large["status"].as_str(),
            large["data"]["approved"].as_bool()
        ),
        (Some("completed"), Some(false)),
        "{large}"
    );
    let negative = show(&db, &negative);
    assert_eq!(
        negative["tasks"]["check"]["status"], "ended_not_ok",
        "{negative}"
    );
    assert_eq!(
        negative["tasks"]["check"]["reason"]["rule"],
        "ended_by_worker"
    );
}

#[test]
fn the_python_worker_checks_invoices_over_the_api() {
    checks_invoices_with(
        "python3",
        &[
            example("workers/invoice_worker.py").to_str().unwrap(),
            "--jobs",
        ],
        "python",
    );
}

#[test]
fn the_shell_worker_checks_invoices_over_the_api() {
    checks_invoices_with(
        "sh",
        &[example("workers/invoice_worker.sh").to_str().unwrap()],
        "shell",
    );
}

/// `curl` POSTing `body` to the server as bot; the answer's body.
fn post(server: &Server, path: &str, body: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-X",
            "POST",
            &format!("{}{path}", server.url),
            "-H",
            &format!("Authorization: Bearer {}", server.token),
        ])
        .args(["-H", "Content-Type: application/json", "--data", body])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_long_poll_waiting_on_the_server_answers_with_the_job_started_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let server = std::sync::Arc::new(Server::start(&db));
    let waiting = {
        let server = server.clone();
        std::thread::spawn(move || {
            post(
                &server,
                "/api/external-jobs/fetch-and-lock",
                r#"{"worker_id": "w", "topics": ["invoice-check"], "timeout_ms": 60000}"#,
            )
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    let started: Value = serde_json::from_str(&post(
        &server,
        "/api/instances",
        r#"{"process": "invoice-check", "data": {"amount": 7}}"#,
    ))
    .unwrap();
    let jobs: Value = serde_json::from_str(&waiting.join().unwrap()).unwrap();
    assert_eq!(jobs[0]["instance"], started["id"], "{jobs}");
    assert_eq!(jobs[0]["data"]["amount"], 7);
}
