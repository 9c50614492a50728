//! External jobs through the engine and a real SQLite store: fetch and lock, reports fenced by
//! the lock, expired locks re-offered as new attempts, retries on a durable timer. Time comes
//! from a `ManualClock`, so a lock expires without waiting for it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{json, Map, Value};
use tempfile::TempDir;

use baton_core::{
    EventKind, Instance, InstanceStatus, Reason, TaskStatus, WorkerEndStatus, WorkerReport,
};
use baton_engine::{Engine, EngineError, EngineOptions, ManualClock};
use baton_store::{InstanceReader, JobKey, JobQueue, QueueStats, StoreError};
use baton_store_sqlite::{Durability, SqliteStore};

const CHECK: &str = "
id: invoice
data:
  amount: {type: number}
  approved: {type: boolean}
tasks:
  - id: check
    kind: job
    topic: invoice-check
    env:
      AMOUNT: data.amount
    retry: {max: 2, delay: 10s}
  - id: done
    kind: end
    after: [check]
";

const LOCK: Duration = Duration::from_secs(30);

fn open(dir: &TempDir, clock: &Arc<ManualClock>) -> Engine<SqliteStore> {
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal)
        .expect("the database opens");
    Engine::new(
        store,
        clock.clone(),
        EngineOptions {
            node: "test-node".into(),
            ..EngineOptions::default()
        },
    )
}

async fn setup() -> (TempDir, Arc<ManualClock>, Engine<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
    ));
    let engine = open(&dir, &clock);
    engine.deploy("invoice.yaml", CHECK).await.unwrap();
    (dir, clock, engine)
}

fn data(amount: f64) -> Map<String, Value> {
    json!({"amount": amount}).as_object().unwrap().clone()
}

async fn check_status(engine: &Engine<SqliteStore>, id: &str) -> (TaskStatus, Option<Reason>, u32) {
    let instance = engine.instance(id).await.unwrap();
    let t = &instance.tasks[0];
    (t.status.clone(), t.reason.clone(), t.attempts)
}

async fn fetch(engine: &Engine<SqliteStore>, owner: &str, max: usize) -> Vec<JobKey> {
    let jobs = engine
        .fetch_and_lock(
            owner,
            &["invoice-check".to_owned()],
            max,
            LOCK,
            Duration::ZERO,
        )
        .await
        .unwrap();
    jobs.iter().map(|j| JobKey::of(&j.request)).collect()
}

fn completed(approved: bool) -> WorkerReport {
    WorkerReport::Completed {
        output: Some(json!({"approved": approved}).as_object().unwrap().clone()),
    }
}

#[tokio::test]
async fn a_topic_job_waits_for_an_external_worker_and_its_completion_ends_the_task_with_the_output()
{
    let (_dir, _clock, engine) = setup().await;
    let instance = engine.start("invoice", data(120.0)).await.unwrap();
    // Not for Baton's own worker.
    assert_eq!(engine.store().queued_jobs().await.unwrap(), 0);
    assert!(engine
        .store()
        .claim_jobs("node", 10, LOCK, engine.now())
        .await
        .unwrap()
        .is_empty());

    let jobs = engine
        .fetch_and_lock(
            "bot/w1",
            &["invoice-check".to_owned()],
            10,
            LOCK,
            Duration::ZERO,
        )
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0].request;
    assert_eq!(job.topic.as_deref(), Some("invoice-check"));
    assert_eq!(job.data.get("amount"), Some(&json!(120.0)));
    assert_eq!(job.env, vec![("AMOUNT".to_owned(), "120.0".to_owned())]);
    assert_eq!(
        jobs[0].lease_until,
        engine.now() + chrono::Duration::seconds(30)
    );
    // A second fetch finds nothing: the job is locked.
    assert!(fetch(&engine, "bot/w2", 10).await.is_empty());

    let done = engine
        .report_external_job(&JobKey::of(job), "bot/w1", completed(true))
        .await
        .unwrap();
    assert_eq!(done.status, InstanceStatus::Completed);
    assert_eq!(done.data.get("approved"), Some(&json!(true)));
    assert_eq!(done.tasks[0].status, TaskStatus::EndedOk);
    let history = engine.store().history(&instance.id).await.unwrap();
    assert!(history.iter().any(|e| matches!(&e.kind, EventKind::JobReported { worker, report, .. } if worker == "bot/w1" && report == "completed")));
}

#[tokio::test]
async fn a_report_from_a_worker_that_does_not_hold_the_lock_is_refused_and_changes_nothing() {
    let (_dir, _clock, engine) = setup().await;
    let instance = engine.start("invoice", data(5.0)).await.unwrap();
    let key = fetch(&engine, "bot/w1", 1).await.remove(0);
    let before = engine.instance(&instance.id).await.unwrap();

    let refused = engine
        .report_external_job(&key, "bot/w2", completed(false))
        .await;
    assert!(
        matches!(
            refused,
            Err(EngineError::Store(StoreError::LockNotHeld { .. }))
        ),
        "{refused:?}"
    );
    let after = engine.instance(&instance.id).await.unwrap();
    assert_eq!(after.next_seq, before.next_seq, "nothing was committed");
    assert_eq!(after.tasks[0].status, before.tasks[0].status);

    // The holder still reports.
    engine
        .report_external_job(&key, "bot/w1", completed(true))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_expired_lock_offers_the_job_again_as_a_new_attempt_and_the_stale_completion_gets_a_conflict(
) {
    let (_dir, clock, engine) = setup().await;
    let instance = engine.start("invoice", data(5.0)).await.unwrap();
    let first = fetch(&engine, "bot/slow", 1).await.remove(0);
    assert_eq!(first.attempt, 1);

    clock.advance(chrono::Duration::seconds(31));
    // Expired but not yet swept: the old holder is already refused.
    let late = engine
        .report_external_job(&first, "bot/slow", completed(true))
        .await;
    assert!(
        matches!(
            late,
            Err(EngineError::Store(StoreError::LockNotHeld { .. }))
        ),
        "{late:?}"
    );

    assert_eq!(
        engine.take_over_expired_leases().await.unwrap().reoffered,
        1
    );
    let (status, reason, attempts) = check_status(&engine, &instance.id).await;
    assert!(
        matches!(status, TaskStatus::Running { attempt: 2, .. }),
        "{status:?}"
    );
    assert_eq!(reason, None);
    assert_eq!(attempts, 2);
    let history = engine.store().history(&instance.id).await.unwrap();
    assert!(history.iter().any(|e| matches!(&e.kind, EventKind::JobRetried { attempt: 2, reason: Reason::LockExpired { worker } } if worker == "bot/slow")));

    let second = fetch(&engine, "bot/fast", 1).await.remove(0);
    assert_eq!(second.attempt, 2);
    // The first attempt's report stays refused, whoever sends it.
    let stale = engine
        .report_external_job(&first, "bot/slow", completed(false))
        .await;
    assert!(
        matches!(
            stale,
            Err(EngineError::Transition(_) | EngineError::Store(StoreError::LockNotHeld { .. }))
        ),
        "{stale:?}"
    );
    let done = engine
        .report_external_job(&second, "bot/fast", completed(true))
        .await
        .unwrap();
    assert_eq!(
        done.data.get("approved"),
        Some(&json!(true)),
        "only the new attempt's output counts"
    );
    assert_eq!(
        engine.take_over_expired_leases().await.unwrap().reoffered,
        0
    );
}

#[tokio::test]
async fn extending_the_lock_keeps_the_job_with_its_worker() {
    let (_dir, clock, engine) = setup().await;
    let instance = engine.start("invoice", data(5.0)).await.unwrap();
    let key = fetch(&engine, "bot/w1", 1).await.remove(0);
    clock.advance(chrono::Duration::seconds(20));
    let until = engine
        .extend_lock(&key, "bot/w1", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(until, engine.now() + chrono::Duration::seconds(60));
    // Only the holder may extend.
    assert!(matches!(
        engine.extend_lock(&key, "bot/w2", LOCK).await,
        Err(EngineError::Store(StoreError::LockNotHeld { .. }))
    ));

    clock.advance(chrono::Duration::seconds(40)); // past the first lock, within the extension
    assert_eq!(
        engine.take_over_expired_leases().await.unwrap().reoffered,
        0
    );
    assert!(matches!(
        check_status(&engine, &instance.id).await.0,
        TaskStatus::Running { attempt: 1, .. }
    ));
    engine
        .report_external_job(&key, "bot/w1", completed(true))
        .await
        .unwrap();

    // An expired lock cannot be extended back to life.
    let other = engine.start("invoice", data(1.0)).await.unwrap();
    let key = fetch(&engine, "bot/w1", 1).await.remove(0);
    assert_eq!(key.instance, other.id);
    clock.advance(chrono::Duration::seconds(31));
    assert!(matches!(
        engine.extend_lock(&key, "bot/w1", LOCK).await,
        Err(EngineError::Store(StoreError::LockNotHeld { .. }))
    ));
}

#[tokio::test]
async fn a_failure_with_retry_waits_on_a_durable_timer_that_survives_a_restart_and_offers_the_job_again(
) {
    let (dir, clock, engine) = setup().await;
    let instance = engine.start("invoice", data(5.0)).await.unwrap();
    let key = fetch(&engine, "bot/w1", 1).await.remove(0);
    let report = WorkerReport::Failed {
        message: "the ledger is down".into(),
        retry: true,
        retry_after_ms: Some(60_000),
    };
    engine
        .report_external_job(&key, "bot/w1", report)
        .await
        .unwrap();
    let (status, reason, _) = check_status(&engine, &instance.id).await;
    assert_eq!(
        status,
        TaskStatus::WaitingForRetry {
            until: engine.now() + chrono::Duration::seconds(60)
        },
        "retry_after replaces the policy's 10 s"
    );
    assert!(
        matches!(
            reason,
            Some(Reason::RetryPending {
                retry: 1,
                max: 2,
                ..
            })
        ),
        "{reason:?}"
    );
    drop(engine);

    let engine = open(&dir, &clock);
    clock.advance(chrono::Duration::seconds(59));
    assert_eq!(engine.fire_due_timers(10).await.unwrap(), 0);
    assert!(fetch(&engine, "bot/w1", 1).await.is_empty());
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(engine.fire_due_timers(10).await.unwrap(), 1);
    let again = fetch(&engine, "bot/w1", 1).await.remove(0);
    assert_eq!(again.attempt, 2);
}

#[tokio::test]
async fn a_failure_without_retry_ends_the_task_not_ok_at_once() {
    let (_dir, _clock, engine) = setup().await;
    let instance = engine.start("invoice", data(5.0)).await.unwrap();
    let key = fetch(&engine, "bot/w1", 1).await.remove(0);
    let report = WorkerReport::Failed {
        message: "no such customer".into(),
        retry: false,
        retry_after_ms: None,
    };
    let failed = engine
        .report_external_job(&key, "bot/w1", report)
        .await
        .unwrap();
    assert_eq!(failed.tasks[0].status, TaskStatus::EndedNotOk);
    assert_eq!(
        failed.status,
        InstanceStatus::Blocked,
        "its successor is blocked, as after any job ending not OK: {instance:?}"
    );
    assert!(
        matches!(&failed.tasks[0].reason, Some(Reason::WorkerFailed { message, .. }) if message == "no such customer")
    );
}

#[tokio::test]
async fn a_worker_may_end_the_job_with_a_status_of_its_choosing() {
    let (_dir, _clock, engine) = setup().await;
    engine.start("invoice", data(5.0)).await.unwrap();
    let key = fetch(&engine, "bot/w1", 1).await.remove(0);
    let output = json!({"approved": false}).as_object().unwrap().clone();
    let report = WorkerReport::Ended {
        status: WorkerEndStatus::EndedSkipped,
        message: Some("nothing to check".into()),
        output: Some(output),
    };
    let ended: Arc<Instance> = engine
        .report_external_job(&key, "bot/w1", report)
        .await
        .unwrap();
    assert_eq!(ended.tasks[0].status, TaskStatus::EndedSkipped);
    assert_eq!(ended.data.get("approved"), Some(&json!(false)));
    assert!(
        matches!(&ended.tasks[0].reason, Some(Reason::EndedByWorker { status, .. }) if status == "ended_skipped")
    );
}

#[tokio::test]
async fn output_past_the_data_limits_is_refused_and_the_job_stays_with_its_worker() {
    let (_dir, _clock, engine) = setup().await;
    let instance = engine.start("invoice", data(5.0)).await.unwrap();
    let key = fetch(&engine, "bot/w1", 1).await.remove(0);
    let huge = json!({"approved": "x".repeat(2 << 20)})
        .as_object()
        .unwrap()
        .clone();
    let refused = engine
        .report_external_job(
            &key,
            "bot/w1",
            WorkerReport::Completed { output: Some(huge) },
        )
        .await;
    assert!(
        matches!(&refused, Err(e) if e.kind() == baton_engine::ErrorKind::Invalid),
        "{refused:?}"
    );
    assert!(matches!(
        check_status(&engine, &instance.id).await.0,
        TaskStatus::Running { attempt: 1, .. }
    ));
    engine
        .report_external_job(&key, "bot/w1", completed(true))
        .await
        .unwrap();
}

#[tokio::test]
async fn aborting_the_instance_takes_the_job_from_its_worker() {
    let (_dir, _clock, engine) = setup().await;
    let instance = engine.start("invoice", data(5.0)).await.unwrap();
    let key = fetch(&engine, "bot/w1", 1).await.remove(0);
    engine
        .apply(
            &instance.id,
            baton_core::Command::Abort {
                by: "ops".into(),
                abort_parent: false,
            },
        )
        .await
        .unwrap();
    let refused = engine
        .report_external_job(&key, "bot/w1", completed(true))
        .await;
    assert!(refused.is_err());
    assert!(
        engine
            .store()
            .queue_depths(engine.now())
            .await
            .unwrap()
            .jobs
            .is_empty(),
        "the job's queue row went with the abort"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_racing_for_a_thousand_jobs_complete_each_exactly_once() {
    let (_dir, _clock, engine) = setup().await;
    let mut ids = HashSet::new();
    for n in 0..1000 {
        ids.insert(
            engine
                .start("invoice", data(f64::from(n)))
                .await
                .unwrap()
                .id
                .clone(),
        );
    }
    let work = |owner: &'static str| {
        let engine = engine.clone();
        tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let jobs = fetch(&engine, owner, 7).await;
                if jobs.is_empty() {
                    return done;
                }
                for key in jobs {
                    engine
                        .report_external_job(&key, owner, completed(true))
                        .await
                        .expect("a holder's completion is applied");
                    done.push(key.instance);
                }
            }
        })
    };
    let (a, b) = (work("bot/a"), work("bot/b"));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert!(
        !a.is_empty() && !b.is_empty(),
        "both workers got jobs: {} and {}",
        a.len(),
        b.len()
    );
    let mut all: Vec<String> = a.into_iter().chain(b).collect();
    assert_eq!(all.len(), 1000, "every job completed once");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 1000, "no job completed twice");
    for id in &ids {
        let instance = engine.store().instance(id).await.unwrap().unwrap();
        assert_eq!(instance.status, InstanceStatus::Completed);
        assert_eq!(instance.tasks[0].attempts, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_answers_with_the_job_queued_while_it_waits() {
    let (_dir, _clock, engine) = setup().await;
    let waiting = {
        let engine = engine.clone();
        tokio::spawn(async move {
            engine
                .fetch_and_lock(
                    "bot/w1",
                    &["invoice-check".to_owned()],
                    5,
                    LOCK,
                    Duration::from_secs(60),
                )
                .await
                .unwrap()
        })
    };
    tokio::task::yield_now().await;
    let instance = engine.start("invoice", data(5.0)).await.unwrap();
    let jobs = waiting.await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].request.instance, instance.id);
    // With nothing queued, a fetch answers empty at its timeout.
    assert!(engine
        .fetch_and_lock(
            "bot/w1",
            &["invoice-check".to_owned()],
            5,
            LOCK,
            Duration::from_millis(50)
        )
        .await
        .unwrap()
        .is_empty());
}
