//! Durable timers, learned expected runtimes and deployed calendars through the engine and a
//! real SQLite store in a temp dir. Time comes from a `ManualClock`, so nothing sleeps for the
//! hours a nightly batch waits.

mod support;
use support::start_worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map};
use tempfile::TempDir;

use baton_core::{Command, EventKind, Instance, InstanceStatus, JobOutcome, Reason, TaskStatus};
use baton_engine::{Engine, EngineOptions, ManualClock};
use baton_store::{
    InstanceReader, JobQueue, RuntimeSample, RuntimeStats, StepRecord, StepWriter, TimerQueue,
};
use baton_store_sqlite::{Durability, SqliteStore};

/// Friday 2024-03-01, 12:00 UTC (13:00 in Berlin).
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap()
}

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

fn task<'i>(
    instance: &'i Instance,
    engine_def: &baton_core::Definition,
    id: &str,
) -> &'i baton_core::TaskState {
    &instance.tasks[engine_def
        .task_index(id)
        .unwrap_or_else(|| panic!("no task {id}"))]
}

async fn state_of(
    engine: &Engine<SqliteStore>,
    instance: &Instance,
    id: &str,
) -> (TaskStatus, Option<Reason>) {
    let instance = engine.instance(&instance.id).await.unwrap();
    let def = engine
        .definition(&instance.definition_id, Some(instance.definition_version))
        .await
        .unwrap();
    let t = task(&instance, &def, id);
    (t.status.clone(), t.reason.clone())
}

/// Waits (in real time, briefly) until `done` holds for the instance.
async fn wait_until(
    engine: &Engine<SqliteStore>,
    id: &str,
    done: impl Fn(&Instance) -> bool,
) -> Instance {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let instance = engine.instance(id).await.expect("the instance reads");
        if done(&instance) {
            return instance;
        }
        assert!(
            Instant::now() < deadline,
            "instance {id} did not get there; it is {} with tasks {:?}",
            instance.status,
            instance.tasks
        );
        engine.wait_for_change(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------
// Durable timers

const NIGHTLY: &str = "
id: nightly
data:
  stamp: string
tasks:
  - id: open_batch
    kind: set
    timezone: Europe/Berlin
    earliest_start: today 22:00
    set:
      stamp: string(now)
  - id: done
    kind: end
    after: [open_batch]
";

#[tokio::test(flavor = "multi_thread")]
async fn an_earliest_start_timer_survives_a_restart_and_fires_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let due = Utc.with_ymd_and_hms(2024, 3, 1, 21, 0, 0).unwrap(); // 22:00 in Berlin

    let started = {
        let engine = open(&dir, &clock);
        engine.deploy("nightly.yaml", NIGHTLY).await.unwrap();
        let started = engine.start("nightly", Map::new()).await.unwrap();
        assert_eq!(started.status, InstanceStatus::Waiting);
        assert_eq!(
            state_of(&engine, &started, "open_batch").await,
            (
                TaskStatus::WaitingForStartTime { until: due },
                Some(Reason::EarliestStart { at: due })
            )
        );
        assert_eq!(
            engine.store().next_timer_due().await.unwrap(),
            Some(due),
            "the timer is in the database"
        );
        assert_eq!(engine.fire_due_timers(10).await.unwrap(), 0, "not due yet");
        started
        // The engine and its store are dropped here: the process "stops".
    };

    // A new engine on the same database file, hours later.
    clock.advance(chrono::Duration::hours(9));
    let engine = open(&dir, &clock);
    assert_eq!(
        engine.instance(&started.id).await.unwrap().status,
        InstanceStatus::Waiting
    );
    assert_eq!(engine.store().next_timer_due().await.unwrap(), Some(due));
    assert_eq!(engine.fire_due_timers(10).await.unwrap(), 1);

    let instance = engine.instance(&started.id).await.unwrap();
    assert_eq!(instance.status, InstanceStatus::Completed);
    assert_eq!(
        instance.data["stamp"],
        json!("2024-03-01T21:00:00Z"),
        "it ran when the timer was fired (clock at {})",
        clock_now(&clock)
    );
    assert_eq!(
        engine.store().next_timer_due().await.unwrap(),
        None,
        "the fired timer was removed with its step"
    );
    assert_eq!(
        engine.fire_due_timers(10).await.unwrap(),
        0,
        "firing again does nothing"
    );

    let history = engine.store().history(&started.id).await.unwrap();
    let ran = history
        .iter()
        .filter(|e| {
            e.task.as_deref() == Some("open_batch")
                && matches!(e.kind, EventKind::DataChanged { .. })
        })
        .count();
    assert_eq!(ran, 1, "the task ran once");
    assert!(
        history.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "history is gap-free across the restart"
    );
}

fn clock_now(clock: &ManualClock) -> DateTime<Utc> {
    baton_engine::Clock::now(clock)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_worker_fires_due_timers_and_runs_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let engine = open(&dir, &clock);
    engine
        .deploy(
            "late.yaml",
            "id: late\ntasks:\n  - id: greet\n    kind: job\n    earliest_start: +2h\n    command: [\"sh\", \"-c\", \"echo '{\\\"said\\\": \\\"hi\\\"}'\"]\ndata:\n  said: string\n",
        )
        .await
        .unwrap();
    let started = engine.start("late", Map::new()).await.unwrap();
    let worker = start_worker(&engine);
    // The worker idles: nothing is due.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        engine.instance(&started.id).await.unwrap().status,
        InstanceStatus::Waiting
    );

    clock.advance(chrono::Duration::hours(2));
    let instance = wait_until(&engine, &started.id, |i| i.status.is_terminal()).await;
    worker.stop().await;
    assert_eq!(instance.status, InstanceStatus::Completed);
    assert_eq!(instance.data["said"], json!("hi"));
    assert_eq!(engine.store().next_timer_due().await.unwrap(), None);
    assert_eq!(engine.store().queued_jobs().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_max_runtime_timer_stops_a_running_job_and_the_workflow_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let engine = open(&dir, &clock);
    engine
        .deploy(
            "slow.yaml",
            "id: slow\ntasks:\n  - id: hang\n    kind: job\n    command: [\"sleep\", \"30\"]\n    max_runtime: {after: 10m, action: cancel}\n  - id: after\n    kind: end\n    after: [{task: hang, status: any_end}]\n",
        )
        .await
        .unwrap();
    let started = engine.start("slow", Map::new()).await.unwrap();
    let worker = start_worker(&engine);
    // Let the worker lease and start the job before time moves.
    let deadline = Instant::now() + Duration::from_secs(10);
    while engine.store().leased_jobs().await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the worker never took the job");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let wall = Instant::now();
    clock.advance(chrono::Duration::minutes(10));
    let instance = wait_until(&engine, &started.id, |i| i.status.is_terminal()).await;
    worker.stop().await;
    assert!(
        wall.elapsed() < Duration::from_secs(20),
        "the job was stopped, not waited for"
    );
    assert_eq!(instance.status, InstanceStatus::Completed);
    assert_eq!(
        state_of(&engine, &instance, "hang").await,
        (
            TaskStatus::Canceled,
            Some(Reason::MaxRuntimeExceeded {
                limit_ms: 600_000,
                action: "cancel".into()
            })
        )
    );
    assert_eq!(
        state_of(&engine, &instance, "after").await.0,
        TaskStatus::EndedOk
    );
    assert_eq!(engine.store().next_timer_due().await.unwrap(), None);
    assert_eq!(engine.store().queued_jobs().await.unwrap(), 0);
    assert!(engine.store().leased_jobs().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_job_retries_on_a_durable_timer_that_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("failed-once");
    let clock = Arc::new(ManualClock::new(t0()));
    // Fails on its first attempt (leaving a marker), succeeds on the next.
    let flaky = format!(
        "id: flaky\ntasks:\n  - id: fetch\n    kind: job\n    command: [\"sh\", \"-c\", \"test -e {0} || {{ touch {0}; exit 3; }}\"]\n    retry: {{max: 2, delay: 5m, backoff: 2}}\n",
        marker.display()
    );
    let due = t0() + chrono::Duration::minutes(5);
    let started = {
        let engine = open(&dir, &clock);
        engine.deploy("flaky.yaml", &flaky).await.unwrap();
        let started = engine.start("flaky", Map::new()).await.unwrap();
        let worker = start_worker(&engine);
        wait_until(&engine, &started.id, |i| {
            matches!(i.tasks[0].status, TaskStatus::WaitingForRetry { .. })
        })
        .await;
        worker.stop().await;
        let failure = "exit code 3".to_owned();
        assert_eq!(
            state_of(&engine, &started, "fetch").await,
            (
                TaskStatus::WaitingForRetry { until: due },
                Some(Reason::RetryPending {
                    retry: 1,
                    max: 2,
                    at: due,
                    failure
                })
            )
        );
        assert_eq!(
            engine.store().next_timer_due().await.unwrap(),
            Some(due),
            "the retry waits in the database"
        );
        started
    };

    // A new engine on the same file, after the wait: the retry runs once, as attempt 2.
    clock.advance(chrono::Duration::minutes(5));
    let engine = open(&dir, &clock);
    let worker = start_worker(&engine);
    let instance = wait_until(&engine, &started.id, |i| i.status.is_terminal()).await;
    worker.stop().await;
    assert_eq!(instance.status, InstanceStatus::Completed);
    assert_eq!(
        (instance.tasks[0].status.clone(), instance.tasks[0].attempts),
        (TaskStatus::EndedOk, 2)
    );
    assert_eq!(engine.store().next_timer_due().await.unwrap(), None);
    let history = engine.store().history(&started.id).await.unwrap();
    let retried: Vec<_> = history
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::JobRetried { attempt, reason } => Some((*attempt, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(retried, [(2, Reason::Retry { retry: 1, max: 2 })]);
}

// ---------------------------------------------------------------------------------------
// Learned expected runtimes

fn finished(task: &str, code: i32, minutes: u64) -> Command {
    Command::JobFinished {
        task: task.into(),
        attempt: 1,
        outcome: JobOutcome::Exited {
            code,
            output: None,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            duration_ms: minutes * 60_000,
        },
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_learned_expected_runtime_is_the_average_of_the_last_ten_runs_and_ends_a_late_task_timeout(
) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let engine = open(&dir, &clock);
    engine
        .deploy(
            "settle.yaml",
            "id: settle\ntasks:\n  - id: load\n    kind: job\n    command: ./load.sh\n",
        )
        .await
        .unwrap();

    // Twelve successful runs of 1, 2, …, 12 minutes (the worker's reports, applied directly).
    for minutes in 1..=12 {
        let instance = engine.start("settle", Map::new()).await.unwrap();
        let done = engine
            .apply(&instance.id, finished("load", 0, minutes))
            .await
            .unwrap();
        assert_eq!(done.status, InstanceStatus::Completed);
    }
    // A failed run says nothing about the usual runtime.
    let instance = engine.start("settle", Map::new()).await.unwrap();
    engine
        .apply(&instance.id, finished("load", 1, 500))
        .await
        .unwrap();

    // The average of the last ten: 3..=12 minutes, 7.5 minutes.
    let ert = engine.store().expected_runtimes("settle").await.unwrap();
    assert_eq!(ert.get("load"), Some(&Duration::from_secs(450)), "{ert:?}");
    assert!(engine
        .store()
        .expected_runtimes("other")
        .await
        .unwrap()
        .is_empty());

    // Samples committed directly count the same way: two more of 30 minutes push out 3 and 4.
    let sample = RuntimeSample {
        process: "settle".into(),
        task: "load".into(),
        duration_ms: 30 * 60_000,
    };
    engine
        .store()
        .commit(vec![StepRecord {
            runtimes: vec![sample.clone(), sample],
            ..StepRecord::default()
        }])
        .await
        .unwrap();
    let ert = engine.store().expected_runtimes("settle").await.unwrap();
    let expected_ms = ((5..=12).sum::<u64>() + 60) * 60_000 / 10; // 12.8 minutes
    assert_eq!(ert.get("load"), Some(&Duration::from_millis(expected_ms)));

    // Version 2 adds a latest end 10 minutes after activation. The definition's own ERT (1m)
    // would let the task run, but the learned 12.8 minutes win: it ends ended_timeout.
    engine
        .deploy("settle.yaml", "id: settle\ntasks:\n  - id: load\n    kind: job\n    command: ./load.sh\n    expected_runtime: 1m\n    latest_end: +10m\n")
        .await
        .unwrap();
    let late = engine.start("settle", Map::new()).await.unwrap();
    assert_eq!(late.definition_version, 2);
    assert_eq!(
        state_of(&engine, &late, "load").await,
        (
            TaskStatus::EndedTimeout,
            Some(Reason::WouldEndTooLate {
                expected_end: t0() + chrono::Duration::milliseconds(expected_ms as i64),
                latest_end: t0() + chrono::Duration::minutes(10),
                expected_runtime_ms: expected_ms
            })
        )
    );
    assert_eq!(
        engine.store().queued_jobs().await.unwrap(),
        0,
        "it was not run"
    );

    // With a latest end the learned ERT fits into, it runs.
    engine
        .deploy("settle.yaml", "id: settle\ntasks:\n  - id: load\n    kind: job\n    command: ./load.sh\n    latest_end: +15m\n")
        .await
        .unwrap();
    let in_time = engine.start("settle", Map::new()).await.unwrap();
    assert!(matches!(
        state_of(&engine, &in_time, "load").await.0,
        TaskStatus::Running { .. }
    ));
}

// ---------------------------------------------------------------------------------------
// Deployed calendars

#[tokio::test(flavor = "multi_thread")]
async fn calendars_deployed_through_the_engine_are_used_by_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0())); // a Friday
    let engine = open(&dir, &clock);
    let weekend = "calendar: office-days\ndescription: when the cleanup may run\ninclude:\n  - weekdays: [sat, sun]\n";
    assert_eq!(
        engine
            .deploy("calendars/office-days.yaml", weekend)
            .await
            .unwrap(),
        ("office-days".to_owned(), 1)
    );
    engine
        .deploy(
            "cleanup.yaml",
            "id: cleanup\ndata:\n  cleaned: boolean\ntasks:\n  - id: sweep\n    kind: set\n    calendar: office-days\n    set: {cleaned: \"true\"}\n  - id: done\n    kind: end\n    after: [sweep]\n  - id: strict\n    kind: set\n    calendar: holidays\n    set: {cleaned: \"false\"}\n",
        )
        .await
        .unwrap();

    // Friday is not in the calendar.
    let friday = engine.start("cleanup", Map::new()).await.unwrap();
    assert_eq!(
        state_of(&engine, &friday, "sweep").await,
        (
            TaskStatus::EndedInactive,
            Some(Reason::NotInCalendar {
                calendars: vec!["office-days".into()],
                day: "2024-03-01".into()
            })
        )
    );
    assert_eq!(
        state_of(&engine, &friday, "done").await.0,
        TaskStatus::EndedOk,
        "the workflow goes on"
    );
    // A calendar that was never deployed fails the task that names it.
    assert_eq!(
        state_of(&engine, &friday, "strict").await,
        (
            TaskStatus::EndedNotOk,
            Some(Reason::UnknownCalendar {
                calendar: "holidays".into()
            })
        )
    );
    assert_eq!(friday.status, InstanceStatus::Failed);

    // A redeployed calendar takes effect for the next instance.
    let fridays = "calendar: office-days\ninclude:\n  - weekdays: [fri]\n";
    assert_eq!(
        engine
            .deploy("calendars/office-days.yaml", fridays)
            .await
            .unwrap(),
        ("office-days".to_owned(), 2)
    );
    let holidays = "calendar: holidays\ntimezone: Asia/Tokyo\ninclude:\n  - dates: [2024-03-02]\n";
    engine
        .deploy("calendars/holidays.yaml", holidays)
        .await
        .unwrap();
    let again = engine.start("cleanup", Map::new()).await.unwrap();
    assert_eq!(
        state_of(&engine, &again, "sweep").await.0,
        TaskStatus::EndedOk
    );
    // 12:00 UTC on Friday is 21:00 in Tokyo, still Friday there.
    assert_eq!(
        state_of(&engine, &again, "strict").await.0,
        TaskStatus::EndedInactive
    );

    // Saturday 06:00 UTC, 15:00 in Tokyo.
    clock.advance(chrono::Duration::hours(18));
    let saturday = engine.start("cleanup", Map::new()).await.unwrap();
    assert_eq!(
        state_of(&engine, &saturday, "sweep").await.0,
        TaskStatus::EndedInactive
    );
    assert_eq!(
        state_of(&engine, &saturday, "strict").await.0,
        TaskStatus::EndedOk
    );
    assert_eq!(saturday.status, InstanceStatus::Completed);
    assert_eq!(saturday.data["cleaned"], json!(false));
    // Saturday 16:00 UTC is Sunday 01:00 in Tokyo: no longer the holiday there.
    clock.advance(chrono::Duration::hours(10));
    let late_saturday = engine.start("cleanup", Map::new()).await.unwrap();
    assert_eq!(
        state_of(&engine, &late_saturday, "strict").await,
        (
            TaskStatus::EndedInactive,
            Some(Reason::NotInCalendar {
                calendars: vec!["holidays".into()],
                day: "2024-03-03".into()
            })
        )
    );

    // A calendar file with a mistake is refused whole and stores nothing.
    let err = engine
        .deploy(
            "calendars/bad.yaml",
            "calendar: bad\ninclude:\n  - weekdays: [funday]\n",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("calendars/bad.yaml:3:"), "{err}");
}
