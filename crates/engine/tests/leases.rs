//! Several engine nodes on one store: a job whose node stopped renewing its lease runs again as
//! a new attempt on another node, a late result of the old attempt is refused, and steps that
//! race on one instance from two nodes all land (a conflict is recomputed, never lost). Two
//! engines share one SQLite store here, each with its own node id, caches and locks, as two
//! processes on a shared database would; time comes from a `ManualClock`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::Map;

use baton_core::{Command, EventKind, JobOutcome, Reason, TaskStatus};
use baton_engine::{Engine, EngineError, EngineOptions, ManualClock, TakenOver};
use baton_store::{InstanceReader, JobKey, JobQueue};
use baton_store_sqlite::{Durability, SqliteStore};

const TWO_STEPS: &str = "
id: two-steps
tasks:
  - id: work
    kind: job
    command: [sh, -c, 'echo working']
  - id: later
    kind: job
    command: [sh, -c, 'echo later']
    after: [work]
";

const LEASE: Duration = Duration::from_secs(60);

struct Nodes {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    a: Engine<SqliteStore>,
    b: Engine<SqliteStore>,
}

async fn two_nodes() -> Nodes {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).unwrap(),
    ));
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
    let node = |name: &str| {
        Engine::new(
            store.clone(),
            clock.clone(),
            EngineOptions {
                node: name.into(),
                ..EngineOptions::default()
            },
        )
    };
    let (a, b) = (node("node-a"), node("node-b"));
    a.deploy("two-steps.yaml", TWO_STEPS).await.unwrap();
    Nodes {
        _dir: dir,
        clock,
        a,
        b,
    }
}

#[tokio::test]
async fn a_job_whose_node_stopped_renewing_its_lease_runs_again_as_a_new_attempt_on_another_node() {
    let n = two_nodes().await;
    let instance = n.a.start("two-steps", Map::new()).await.unwrap();
    // Node a's worker takes the job, then the node stalls or dies: its lease is never renewed.
    let claimed =
        n.a.store()
            .claim_jobs("node-a", 10, LEASE, n.a.now())
            .await
            .unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|j| JobKey::of(&j.request))
            .collect::<Vec<_>>(),
        [JobKey {
            instance: instance.id.clone(),
            task: "work".into(),
            attempt: 1
        }]
    );

    n.clock.advance(chrono::Duration::seconds(59));
    assert_eq!(
        n.b.take_over_expired_leases().await.unwrap(),
        TakenOver::default(),
        "a live lease is not taken over"
    );
    n.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(
        n.b.take_over_expired_leases().await.unwrap(),
        TakenOver {
            rerun: 1,
            reoffered: 0
        }
    );
    assert_eq!(
        n.b.take_over_expired_leases().await.unwrap(),
        TakenOver::default(),
        "taken over once"
    );

    let state = n.b.store().instance(&instance.id).await.unwrap().unwrap();
    assert!(
        matches!(
            state.tasks[0].status,
            TaskStatus::Running { attempt: 2, .. }
        ),
        "{:?}",
        state.tasks[0].status
    );
    let history = n.b.store().history(&instance.id).await.unwrap();
    assert!(
        history.iter().any(|e| matches!(
            &e.kind,
            EventKind::JobRetried {
                attempt: 2,
                reason: Reason::EngineRestarted
            }
        )),
        "the new attempt is recorded: {history:?}"
    );
    let again =
        n.b.store()
            .claim_jobs("node-b", 10, LEASE, n.b.now())
            .await
            .unwrap();
    assert_eq!(
        again
            .iter()
            .map(|j| (j.request.task.as_str(), j.request.attempt))
            .collect::<Vec<_>>(),
        [("work", 2)],
        "the new attempt is claimable"
    );

    // Node a comes back and reports the old attempt: refused, nothing changes.
    let late = Command::JobFinished {
        task: "work".into(),
        attempt: 1,
        outcome: JobOutcome::Exited {
            code: 0,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            output: None,
            duration_ms: 5,
        },
    };
    assert!(matches!(
        n.a.apply(&instance.id, late).await,
        Err(EngineError::Transition(_))
    ));
    let after = n.b.store().instance(&instance.id).await.unwrap().unwrap();
    assert_eq!(
        after.next_seq, state.next_seq,
        "the late result changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn steps_that_two_nodes_race_on_one_instance_all_land() {
    let n = two_nodes().await;
    let instance = n.a.start("two-steps", Map::new()).await.unwrap();
    let before = n.a.store().history(&instance.id).await.unwrap().len();
    let mut racing = tokio::task::JoinSet::new();
    for i in 0..24 {
        let (engine, id) = (
            if i % 2 == 0 { n.a.clone() } else { n.b.clone() },
            instance.id.clone(),
        );
        racing.spawn(async move {
            engine
                .apply(
                    &id,
                    Command::SetBreakpoint {
                        task: "later".into(),
                        enabled: i % 3 == 0,
                        by: format!("user-{i}"),
                    },
                )
                .await
                .map(|_| ())
        });
    }
    while let Some(step) = racing.join_next().await {
        step.unwrap()
            .expect("a step that lost a race is recomputed and lands");
    }
    let history = n.a.store().history(&instance.id).await.unwrap();
    let set: Vec<&str> = history
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::BreakpointChanged { by, .. } => Some(by.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(set.len(), 24, "every step landed once: {set:?}");
    assert_eq!(history.len(), before + 24);
}
