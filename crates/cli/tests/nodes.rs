//! Several `baton serve` nodes on one PostgreSQL database: three nodes run many instances with
//! a job each, and every job runs once (the job counts its runs into a file); a node killed
//! with SIGKILL while it holds leases has its work taken over by the others once the leases
//! expire; an event published through one node resumes an instance another started; an
//! external worker's long-poll on one node is answered with a job queued through another; the
//! user sessions of a killed node are logged out, once, by one of the live nodes once its
//! lease as a node expired.
//! Skipped, saying so, when `BATON_TEST_POSTGRES_URL` is unset (a failure under `CI`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::modes::{Baton, Mode};
use support::ok;
use support::server::Server;

/// How long the test waits for the nodes to finish the work (a guard against a hang, not a
/// measure: the wait ends as soon as the work is done).
const PATIENCE: Duration = Duration::from_secs(120);

/// A definition whose one job appends the instance's `n` to `runs` (one line per run).
fn counted(runs: &Path, pause: &str) -> String {
    format!(
        "id: counted
data:
  n: integer
tasks:
  - id: count
    kind: job
    command: [\"sh\", \"-c\", \"sleep {pause}; echo $N >> {runs}\"]
    env:
      N: string(data.n)
  - id: done
    kind: end
    after: [count]
",
        runs = runs.display()
    )
}

/// Three nodes named a, b and c on the scenario's database, with `lease`.
fn nodes(b: &Baton, lease: &str) -> Vec<Server> {
    ["a", "b", "c"]
        .iter()
        .map(|name| {
            Server::start_with(
                &b.db,
                &[],
                &["--node", name, "--lease", lease, "--concurrency", "4"],
            )
        })
        .collect()
}

/// Runs `query` (one number) on the scenario's database.
fn count(b: &Baton, query: &str) -> i64 {
    let url = b.db.to_str().unwrap().to_owned();
    let query = query.to_owned();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async move {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query))
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            n
        })
}

#[track_caller]
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts instances `0..n` of `counted`, spread over the nodes.
fn start_all(nodes: &[Server], token: &str, n: usize) {
    for i in 0..n {
        nodes[i % nodes.len()].post_ok(
            "/api/instances",
            token,
            &format!(r#"{{"process": "counted", "data": {{"n": {i}}}}}"#),
        );
    }
}

/// How many times each instance's job ran.
fn runs_of(runs: &Path) -> BTreeMap<usize, usize> {
    let mut counts = BTreeMap::new();
    for line in std::fs::read_to_string(runs).unwrap_or_default().lines() {
        *counts
            .entry(line.trim().parse::<usize>().unwrap())
            .or_default() += 1;
    }
    counts
}

#[test]
fn three_nodes_run_every_job_once() {
    let Some(b) = Baton::on_postgres(Mode::Embedded) else {
        return;
    };
    let runs = b.dir.path().join("runs");
    let definition = b.file("counted.yaml", counted(&runs, "0").as_bytes());
    ok(&b.db, &["deploy", &definition]);
    let token = ok(&b.db, &["token", "create", "--user", "operator"])
        .trim()
        .to_owned();
    let nodes = nodes(&b, "30s");
    let total = 300;
    start_all(&nodes, &token, total);
    wait_for("every instance completing", || {
        count(
            &b,
            "SELECT COUNT(*) FROM instances WHERE status = 'completed'",
        ) == total as i64
    });
    let counted = runs_of(&runs);
    assert_eq!(counted.len(), total, "every job ran");
    let twice: Vec<_> = counted.iter().filter(|(_, &n)| n != 1).collect();
    assert!(twice.is_empty(), "no job ran twice: {twice:?}");
    for node in nodes {
        let (code, _) = node.stop();
        assert_eq!(code, Some(0));
    }
}

#[test]
fn a_killed_node_s_work_is_taken_over_once_its_leases_expire() {
    let Some(b) = Baton::on_postgres(Mode::Embedded) else {
        return;
    };
    let runs = b.dir.path().join("runs");
    let definition = b.file("counted.yaml", counted(&runs, "0.2").as_bytes());
    ok(&b.db, &["deploy", &definition]);
    let token = ok(&b.db, &["token", "create", "--user", "operator"])
        .trim()
        .to_owned();
    let mut nodes = nodes(&b, "2s");
    let total = 60;
    start_all(&nodes, &token, total);
    // Node a dies while it holds leases on jobs.
    wait_for("node a leasing jobs", || {
        count(&b, "SELECT COUNT(*) FROM jobs WHERE owner = 'a'") > 0
    });
    nodes.remove(0).kill();
    wait_for("every instance completing", || {
        count(
            &b,
            "SELECT COUNT(*) FROM instances WHERE status = 'completed'",
        ) == total as i64
    });
    let counted = runs_of(&runs);
    assert_eq!(
        counted.len(),
        total,
        "every job ran, those of the dead node too"
    );
    // At least once: a job node a was running when it died may have run again elsewhere; no
    // more of them than node a ran at once.
    let again = counted.values().filter(|&&n| n > 1).count();
    assert!(
        again <= 4,
        "only jobs of the dead node ran again: {counted:?}"
    );
    assert_eq!(
        count(&b, "SELECT COUNT(*) FROM jobs WHERE owner = 'a'"),
        0,
        "no lease of the dead node is left"
    );
}

#[test]
fn an_event_and_a_long_poll_are_answered_across_nodes() {
    let Some(b) = Baton::on_postgres(Mode::Embedded) else {
        return;
    };
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    ok(
        &b.db,
        &[
            "deploy",
            examples.join("order-payment.yaml").to_str().unwrap(),
            examples.join("invoice-check.yaml").to_str().unwrap(),
        ],
    );
    ok(&b.db, &["user", "add", "bot"]);
    ok(&b.db, &["group", "add", "workers"]);
    ok(&b.db, &["group", "add-member", "workers", "bot"]);
    ok(&b.db, &["group", "add", "event-publishers"]);
    ok(
        &b.db,
        &["group", "add-member", "event-publishers", "operator"],
    );
    let operator = ok(&b.db, &["token", "create", "--user", "operator"])
        .trim()
        .to_owned();
    let bot = ok(&b.db, &["token", "create", "--user", "bot"])
        .trim()
        .to_owned();
    let nodes = nodes(&b, "30s");

    // Started on a, paid through b: a's instance resumes.
    let order: Value = serde_json::from_str(&nodes[0].post_ok(
        "/api/instances",
        &operator,
        r#"{"process": "order-payment", "data": {"order_id": "A-7", "total": 40}}"#,
    ))
    .unwrap();
    let id = order["id"].as_str().unwrap().to_owned();
    nodes[1].post_ok(
        "/api/events",
        &operator,
        r#"{"name": "payment-received", "key": "A-7", "data": {"amount": 40}}"#,
    );
    wait_for("the order completing", || {
        count(
            &b,
            &format!("SELECT COUNT(*) FROM instances WHERE id = '{id}' AND status = 'completed'"),
        ) == 1
    });
    let shown: Value = serde_json::from_str(&ok(&b.db, &["show", &id, "--json"])).unwrap();
    assert_eq!(shown["instance"]["data"]["paid"], 40, "{shown}");

    // A worker long-polls c; the job is queued through a.
    std::thread::scope(|scope| {
        let waiting = scope.spawn(|| {
            nodes[2].post_ok(
                "/api/external-jobs/fetch-and-lock",
                &bot,
                r#"{"worker_id": "w", "topics": ["invoice-check"], "timeout_ms": 60000}"#,
            )
        });
        let started: Value = serde_json::from_str(&nodes[0].post_ok(
            "/api/instances",
            &operator,
            r#"{"process": "invoice-check", "data": {"amount": 7}}"#,
        ))
        .unwrap();
        let jobs: Value = serde_json::from_str(&waiting.join().unwrap()).unwrap();
        assert_eq!(jobs[0]["instance"], started["id"], "{jobs}");
    });
}

/// A Siebel interactive workflow with Auto Persist: kept in the inbox when it leaves a cache.
const KEPT: &str = "id: kept
interactive: true
auto_persist: true
data:
  text: string
tasks:
  - id: write
    kind: view
    form:
      text: string
";

/// The same without Auto Persist: deleted when it leaves a cache.
const DROPPED: &str = "id: dropped
interactive: true
data:
  text: string
tasks:
  - id: write
    kind: view
    form:
      text: string
";

#[test]
fn a_killed_node_s_sessions_are_logged_out_once_by_a_live_node_when_its_lease_expires() {
    let Some(b) = Baton::on_postgres(Mode::Embedded) else {
        return;
    };
    let kept = b.file("kept.yaml", KEPT.as_bytes());
    let dropped = b.file("dropped.yaml", DROPPED.as_bytes());
    ok(&b.db, &["deploy", &kept, &dropped]);
    ok(&b.db, &["user", "add", "agnes"]);
    let token = ok(&b.db, &["token", "create", "--user", "agnes"])
        .trim()
        .to_owned();
    let mut nodes: Vec<Server> = ["a", "b", "c"]
        .iter()
        .map(|name| Server::start_with(&b.db, &["-v"], &["--node", name, "--lease", "2s"]))
        .collect();
    let session: Value =
        serde_json::from_str(&nodes[0].post_ok("/api/sessions", &token, "{}")).unwrap();
    let session = session["id"].as_str().unwrap().to_owned();
    let start = |process: &str| {
        let step: Value = serde_json::from_str(&nodes[0].post_ok(
            &format!("/api/sessions/{session}/workflows"),
            &token,
            &format!(r#"{{"process": "{process}", "data": {{}}}}"#),
        ))
        .unwrap();
        step["workflow"]["instance"].as_str().unwrap().to_owned()
    };
    let (kept, dropped) = (start("kept"), start("dropped"));
    let open = "SELECT COUNT(*) FROM interactive_sessions";
    assert_eq!(count(&b, open), 1);

    // Node a dies holding the session; b and c are alive and keep theirs.
    nodes.remove(0).kill();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        count(&b, open),
        1,
        "a's lease as a node has not expired yet"
    );
    wait_for("the dead node's session logged out", || {
        count(&b, open) == 0
    });
    assert_eq!(
        count(
            &b,
            &format!("SELECT COUNT(*) FROM interactive_workflows WHERE instance_id = '{kept}' AND session_id IS NULL AND why = 'implicit' AND note = 'server_restart'"),
        ),
        1,
        "the Auto Persist workflow is in its owner's inbox"
    );
    let shown: Value = serde_json::from_str(&ok(&b.db, &["show", &dropped, "--json"])).unwrap();
    assert_eq!(shown["instance"]["status"], "aborted", "{shown}");
    let inbox: Value =
        serde_json::from_str(&ok(&b.db, &["tasks", "--as", "agnes", "--json"])).unwrap();
    assert_eq!(inbox["workflows"][0]["instance"], kept.as_str(), "{inbox}");

    let mut loggers = 0;
    for node in nodes {
        let (code, stderr) = node.stop();
        assert_eq!(code, Some(0));
        loggers += stderr
            .lines()
            .filter(|l| l.contains("session whose server is gone") && l.contains(&session))
            .count();
    }
    assert_eq!(loggers, 1, "one live node logged the session out");
}
