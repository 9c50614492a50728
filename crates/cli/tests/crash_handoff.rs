//! Crash test for hand-offs (Pega's Hand Off): `baton worker` is killed with SIGKILL again and
//! again while instances of `order` run: a short job, then a `handoff` whose child (`fulfil`)
//! runs inline to its user task. The step that applies the job's end is the one that hands
//! off: the parent's new state, the child's row and the child's inline steps commit in one
//! transaction, so a kill at any moment leaves all of them or none, and the job, run again
//! after a kill, hands off again only if its end was not applied. After a last
//! `baton worker --until-idle`:
//! - every parent completed and references exactly one instance (`referenced_instances`),
//!   named in one `child_started` event of its history;
//! - that instance exists, handed off by that parent, waiting at its user task, and it is the
//!   parent's only child in the store; no other instance of `fulfil` exists (none lost, none
//!   duplicated, none orphaned);
//! - some job was run again after a kill (the kills hit the work, not only idle workers).
//!
//! The kill times come from a seeded generator; the seed is printed, and
//! `BATON_CRASH_SEED=<seed>` replays the same kill schedule.
#![cfg(unix)] // jobs are `sh` scripts, and a kill is SIGKILL

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::crash::{count, seed, spawn_worker, Rng};
use support::ok;

/// Parents started at first; whenever the work runs out before the kills, twice as many as
/// the last time are started, up to [`MAX_BATCH`] (a fast machine gets through more).
const BATCH: usize = 24;
const MAX_BATCH: usize = 192;
/// Kills that must land while some parent is still open.
const MIN_KILLS: usize = 15;
/// Worker lifetimes before the kill, in milliseconds.
const LIFE_MS: (u64, u64) = (20, 300);
/// The whole test must finish within this (it takes seconds; the margin is for slow machines).
const OVERALL: Duration = Duration::from_secs(240);

const FULFIL: &str = "
id: fulfil
data:
  order: {type: string}
  seen: {type: string, default: ''}
tasks:
  - id: copy
    kind: set
    set: {seen: \"offer.customer\"}
  - id: approve
    kind: user
    after: [copy]
    title: Approve the order
    owners: [mary]
";

const ORDER: &str = "
id: order
data:
  order: {type: string, default: O-1}
  customer: {type: string, default: C-7}
tasks:
  - id: work
    kind: job
    command: [sh, -c, 'sleep 0.02']
  - id: hand
    kind: handoff
    after: [work]
    process: fulfil
    work_status: Pending-Fulfillment
    input: {order: \"data.order\"}
  - id: done
    kind: end
    after: [hand]
";

fn start_batch(db: &std::path::Path, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| ok(db, &["start", "order"]).trim().to_owned())
        .collect()
}

/// The instances whose parent is `id` in the store: `(id, process, status)`.
fn children(db: &std::path::Path, id: &str) -> Vec<(String, String, String)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut rows = conn
        .prepare("SELECT id, definition_id, status FROM instances WHERE parent_id = ?1")
        .unwrap();
    rows.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn killed_workers_neither_lose_nor_duplicate_a_handed_off_child() {
    let started = Instant::now();
    let deadline = started + OVERALL;
    let seed = seed();
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    for (name, source) in [("fulfil.yaml", FULFIL), ("order.yaml", ORDER)] {
        let file = dir.path().join(name);
        std::fs::write(&file, source).unwrap();
        ok(&db, &["deploy", file.to_str().unwrap()]);
    }
    let mut batch = BATCH;
    let mut parents = start_batch(&db, batch);

    let open = "SELECT COUNT(*) FROM instances WHERE definition_id = 'order' AND status IN ('running', 'blocked')";
    let (mut kills_during_work, mut kills_with_leased_jobs, mut life) = (0, 0, 0);
    while kills_during_work < MIN_KILLS {
        assert!(
            Instant::now() < deadline,
            "the kill loop ran past {OVERALL:?} (seed {seed})"
        );
        assert!(
            life < 300,
            "{life} workers killed and still not {MIN_KILLS} kills during the work (seed {seed})"
        );
        let (mut worker, err_path) = spawn_worker(&db, dir.path(), life, false);
        std::thread::sleep(Duration::from_millis(rng.range(LIFE_MS.0, LIFE_MS.1)));
        if let Some(status) = worker.try_wait().unwrap() {
            panic!(
                "worker {life} exited by itself ({status}, seed {seed}):\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        worker.kill().expect("SIGKILL to the worker");
        worker.wait().unwrap();
        life += 1;
        if count(&db, open, &[]) == 0 {
            // The work ran out first (a fast machine): more of it, so that the count of kills
            // depends on the kills, not on the machine's speed.
            batch = (batch * 2).min(MAX_BATCH);
            parents.extend(start_batch(&db, batch));
            continue;
        }
        kills_during_work += 1;
        if count(
            &db,
            "SELECT COUNT(*) FROM jobs WHERE owner IS NOT NULL",
            &[],
        ) > 0
        {
            kills_with_leased_jobs += 1;
        }
    }
    println!("{life} workers killed, {kills_during_work} during the work, {kills_with_leased_jobs} with jobs leased; {} parents; {:.1}s", parents.len(), started.elapsed().as_secs_f64());

    let (mut worker, err_path) = spawn_worker(&db, dir.path(), life, true);
    let status = loop {
        if let Some(status) = worker.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = worker.kill();
            let _ = worker.wait();
            panic!("the final worker did not finish within {OVERALL:?} (seed {seed})");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "the final worker failed ({status}, seed {seed}):\n{}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM jobs", &[]),
        0,
        "no job is left (seed {seed})"
    );

    let mut problems = Vec::new();
    let mut retried = 0;
    for id in &parents {
        let mut p = |m: String| problems.push(format!("parent {id}: {m}"));
        let shown: Value = serde_json::from_str(&ok(&db, &["show", id, "--json"]))
            .expect("show --json prints JSON");
        let (instance, history) = (
            &shown["instance"],
            shown["history"].as_array().expect("history is a list"),
        );
        if instance["status"] != "completed" {
            p(format!("status is {}, not completed", instance["status"]));
        }
        retried += history
            .iter()
            .filter(|e| e["event"] == "job_retried")
            .count();
        let referenced: Vec<String> = instance["referenced_instances"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let started_children: Vec<&Value> = history
            .iter()
            .filter(|e| e["event"] == "child_started")
            .map(|e| &e["child"])
            .collect();
        if referenced.len() != 1
            || started_children.len() != 1
            || started_children[0] != referenced[0].as_str()
        {
            p(format!(
                "references {referenced:?}; its history started {started_children:?}"
            ));
        }
        let stored = children(&db, id);
        match (&stored[..], referenced.first()) {
            ([(child, process, status)], Some(named)) if child == named => {
                if process != "fulfil" || status != "waiting" {
                    p(format!("its child {child} is a {process} {status}, not a fulfil waiting at its user task"));
                }
            }
            _ => p(format!(
                "the store holds children {stored:?} where it references {referenced:?}"
            )),
        }
    }
    let handed_off = count(
        &db,
        "SELECT COUNT(*) FROM instances WHERE definition_id = 'fulfil'",
        &[],
    );
    if handed_off != parents.len() as i64 {
        problems.push(format!(
            "{handed_off} instances of fulfil for {} parents",
            parents.len()
        ));
    }
    if let Some(child) = parents
        .first()
        .map(|id| children(&db, id))
        .and_then(|c| c.first().cloned())
    {
        let shown: Value = serde_json::from_str(&ok(&db, &["show", &child.0, "--json"])).unwrap();
        let link = &shown["instance"]["parent"];
        assert_eq!(
            (link["instance"].as_str(), link["link"].as_str()),
            (parents.first().map(String::as_str), Some("handoff")),
            "the child names its parent"
        );
        assert_eq!(
            shown["instance"]["data"]["seen"], "C-7",
            "the child ran inline, seeing the parent's data as `offer`"
        );
    }
    println!(
        "{retried} job retries across {} parents; {:.1}s in all",
        parents.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        problems.is_empty(),
        "{} problem(s) (seed {seed}):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        retried > 0,
        "no job was run again after a kill (seed {seed}); the kills did not hit the work"
    );
}
