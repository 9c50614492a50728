//! Schedules through the engine and a real SQLite store: slots fire on the manual clock, once
//! each however many engines fire them, with the overlap and catch-up policies, on the days of
//! a calendar. Nothing sleeps: the tests move the clock and fire the due schedules.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use tempfile::TempDir;

use baton_core::schedule::{CatchUp, Overlap, ScheduleSpec};
use baton_core::{Command, InstanceStatus};
use baton_engine::{Engine, EngineError, EngineOptions, ManualClock};
use baton_store::{InstanceReader, ScheduleStore, SlotOutcome};
use baton_store_sqlite::{Durability, SqliteStore};

/// Monday 2026-12-07, 00:30 UTC.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 0, 30, 0).unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// A job that nobody runs here: the instance stays running until it is aborted.
const BATCH: &str = "
id: batch
data:
  region: {type: string}
tasks:
  - id: load
    kind: job
    command: \"true\"
";

struct Setup {
    _dir: TempDir,
    clock: Arc<ManualClock>,
    engine: Engine<SqliteStore>,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
    let engine = Engine::new(
        store,
        clock.clone(),
        EngineOptions {
            node: "test-node".into(),
            ..EngineOptions::default()
        },
    );
    engine.deploy("batch.yaml", BATCH).await.unwrap();
    Setup {
        _dir: dir,
        clock,
        engine,
    }
}

fn hourly(overlap: Overlap, catch_up: CatchUp) -> ScheduleSpec {
    ScheduleSpec {
        data: serde_json::Map::from_iter([("region".to_owned(), json!("emea"))]),
        overlap,
        catch_up,
        ..ScheduleSpec::new("0 * * * *")
    }
}

async fn instances(engine: &Engine<SqliteStore>) -> Vec<baton_store::InstanceSummary> {
    let mut all = engine.store().instances(None, 100).await.unwrap();
    all.reverse();
    all
}

async fn abort(engine: &Engine<SqliteStore>, id: &str) {
    engine
        .apply(
            id,
            Command::Abort {
                by: "operator".into(),
                abort_parent: false,
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_definition_schedule_starts_one_instance_per_slot_with_its_data() {
    let s = setup().await;
    let source = format!("{BATCH}schedule: {{cron: \"0 2 * * *\", timezone: Europe/Berlin, data: {{region: apac}}}}\n");
    s.engine.deploy("batch.yaml", &source).await.unwrap();
    let schedule = s.engine.schedule("batch").await.unwrap();
    assert!(schedule.from_definition);
    // 02:00 in Berlin is 01:00 UTC in December.
    assert_eq!(schedule.place.next_at, Some(at("2026-12-07T01:00:00Z")));
    assert_eq!(
        s.engine.fire_due_schedules(10).await.unwrap(),
        0,
        "nothing is due yet"
    );
    s.clock.set(at("2026-12-07T01:00:05Z"));
    assert_eq!(s.engine.fire_due_schedules(10).await.unwrap(), 1);
    assert_eq!(
        s.engine.fire_due_schedules(10).await.unwrap(),
        0,
        "a slot starts once"
    );
    let started = instances(&s.engine).await;
    assert_eq!(started.len(), 1);
    let instance = s.engine.instance(&started[0].id).await.unwrap();
    assert_eq!(instance.data["region"], json!("apac"));
    let schedule = s.engine.schedule("batch").await.unwrap();
    assert_eq!(schedule.place.next_at, Some(at("2026-12-08T01:00:00Z")));
    assert_eq!(
        schedule.place.last_instance.as_deref(),
        Some(started[0].id.as_str())
    );
    // Deploying it again unchanged keeps its place; without the schedule it is removed.
    s.engine.deploy("batch.yaml", &source).await.unwrap();
    assert_eq!(
        s.engine.schedule("batch").await.unwrap().place,
        schedule.place
    );
    s.engine.deploy("batch.yaml", BATCH).await.unwrap();
    assert!(matches!(
        s.engine.schedule("batch").await,
        Err(EngineError::ScheduleNotFound(_))
    ));
}

#[tokio::test]
async fn engines_firing_the_same_slot_at_once_start_one_instance() {
    let s = setup().await;
    s.engine
        .create_schedule(
            Some("hourly"),
            "batch",
            hourly(Overlap::Allow, CatchUp::Once),
            "mary",
        )
        .await
        .unwrap();
    s.clock.set(at("2026-12-07T01:00:01Z"));
    // Engines sharing one store, as nodes share a database.
    let nodes: Vec<_> = (0..4)
        .map(|n| {
            Engine::new(
                s.engine.store().clone(),
                s.clock.clone(),
                EngineOptions {
                    node: format!("node-{n}"),
                    ..EngineOptions::default()
                },
            )
        })
        .collect();
    let mut racing = tokio::task::JoinSet::new();
    for node in nodes {
        racing.spawn(async move { node.fire_due_schedules(10).await.unwrap() });
    }
    let mut started = 0;
    while let Some(n) = racing.join_next().await {
        started += n.unwrap();
    }
    assert_eq!(started, 1);
    assert_eq!(instances(&s.engine).await.len(), 1);
    assert_eq!(
        s.engine
            .store()
            .schedule_slots("hourly", 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn overlap_skip_skips_a_slot_while_the_last_instance_runs() {
    let s = setup().await;
    s.engine
        .create_schedule(
            Some("hourly"),
            "batch",
            hourly(Overlap::Skip, CatchUp::Once),
            "mary",
        )
        .await
        .unwrap();
    s.clock.set(at("2026-12-07T01:00:00Z"));
    assert_eq!(s.engine.fire_due_schedules(10).await.unwrap(), 1);
    s.clock.set(at("2026-12-07T02:00:00Z"));
    assert_eq!(
        s.engine.fire_due_schedules(10).await.unwrap(),
        0,
        "the 01:00 instance still runs"
    );
    let slots = s.engine.store().schedule_slots("hourly", 10).await.unwrap();
    assert_eq!(slots[0].slot, at("2026-12-07T02:00:00Z"));
    assert_eq!(slots[0].outcome, SlotOutcome::Skipped);
    abort(&s.engine, &instances(&s.engine).await[0].id).await;
    s.clock.set(at("2026-12-07T03:00:00Z"));
    assert_eq!(
        s.engine.fire_due_schedules(10).await.unwrap(),
        1,
        "it ended: the next slot starts"
    );
}

#[tokio::test]
async fn overlap_allow_starts_beside_the_running_instance() {
    let s = setup().await;
    s.engine
        .create_schedule(
            Some("hourly"),
            "batch",
            hourly(Overlap::Allow, CatchUp::Once),
            "mary",
        )
        .await
        .unwrap();
    for hour in ["01", "02"] {
        s.clock.set(at(&format!("2026-12-07T{hour}:00:00Z")));
        assert_eq!(s.engine.fire_due_schedules(10).await.unwrap(), 1);
    }
    let all = instances(&s.engine).await;
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|i| i.status == InstanceStatus::Running));
}

#[tokio::test]
async fn overlap_buffer_one_starts_one_waiting_slot_when_the_last_instance_ends() {
    let s = setup().await;
    s.engine
        .create_schedule(
            Some("hourly"),
            "batch",
            hourly(Overlap::BufferOne, CatchUp::Once),
            "mary",
        )
        .await
        .unwrap();
    s.clock.set(at("2026-12-07T01:00:00Z"));
    assert_eq!(s.engine.fire_due_schedules(10).await.unwrap(), 1);
    s.clock.set(at("2026-12-07T02:00:00Z"));
    assert_eq!(s.engine.fire_due_schedules(10).await.unwrap(), 0);
    assert_eq!(
        s.engine.schedule("hourly").await.unwrap().place.buffered,
        Some(at("2026-12-07T02:00:00Z")),
        "02:00 waits"
    );
    s.clock.set(at("2026-12-07T03:00:00Z"));
    assert_eq!(s.engine.fire_due_schedules(10).await.unwrap(), 0);
    let slots = s.engine.store().schedule_slots("hourly", 10).await.unwrap();
    assert_eq!(
        (slots[0].slot, &slots[0].outcome),
        (at("2026-12-07T03:00:00Z"), &SlotOutcome::Skipped),
        "one slot waits at most"
    );
    abort(&s.engine, &instances(&s.engine).await[0].id).await;
    s.clock.set(at("2026-12-07T03:10:00Z"));
    assert_eq!(
        s.engine.fire_due_schedules(10).await.unwrap(),
        1,
        "the waiting slot starts once the instance ended"
    );
    let slots = s.engine.store().schedule_slots("hourly", 10).await.unwrap();
    assert!(slots.iter().any(|r| r.slot == at("2026-12-07T02:00:00Z")
        && matches!(r.outcome, SlotOutcome::Started { .. })));
    assert_eq!(
        s.engine.schedule("hourly").await.unwrap().place.buffered,
        None
    );
}

/// Baton was down from 00:30 to 05:30: slots 01:00 to 05:00 were missed.
async fn after_downtime(catch_up: CatchUp, window: Duration) -> (Setup, usize) {
    let s = setup().await;
    let spec = ScheduleSpec {
        catch_up_window_secs: window.num_seconds() as u64,
        ..hourly(Overlap::Allow, catch_up)
    };
    s.engine
        .create_schedule(Some("hourly"), "batch", spec, "mary")
        .await
        .unwrap();
    s.clock.set(at("2026-12-07T05:30:00Z"));
    let started = s.engine.fire_due_schedules(10).await.unwrap();
    assert_eq!(
        s.engine.schedule("hourly").await.unwrap().place.next_at,
        Some(at("2026-12-07T06:00:00Z"))
    );
    (s, started)
}

#[tokio::test]
async fn catch_up_skip_runs_none_of_the_slots_missed_while_down() {
    let (s, started) = after_downtime(CatchUp::Skip, Duration::days(1)).await;
    assert_eq!(started, 0);
    s.clock.set(at("2026-12-07T06:00:10Z"));
    assert_eq!(
        s.engine.fire_due_schedules(10).await.unwrap(),
        1,
        "a slot on time runs"
    );
}

#[tokio::test]
async fn catch_up_once_runs_the_latest_missed_slot() {
    let (s, started) = after_downtime(CatchUp::Once, Duration::days(1)).await;
    assert_eq!(started, 1);
    let slots = s.engine.store().schedule_slots("hourly", 10).await.unwrap();
    assert_eq!(
        slots.iter().map(|r| r.slot).collect::<Vec<_>>(),
        [at("2026-12-07T05:00:00Z")]
    );
}

#[tokio::test]
async fn catch_up_all_runs_every_missed_slot_within_the_window() {
    let (s, started) = after_downtime(CatchUp::All, Duration::hours(3)).await;
    assert_eq!(
        started, 3,
        "03:00, 04:00 and 05:00; 01:00 and 02:00 are older than the window"
    );
    let mut slots: Vec<_> = s
        .engine
        .store()
        .schedule_slots("hourly", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.slot)
        .collect();
    slots.reverse();
    assert_eq!(
        slots,
        [
            at("2026-12-07T03:00:00Z"),
            at("2026-12-07T04:00:00Z"),
            at("2026-12-07T05:00:00Z")
        ]
    );
}

#[tokio::test]
async fn a_calendar_keeps_the_slots_to_its_days() {
    let s = setup().await;
    s.engine
        .deploy(
            "weekdays.yaml",
            "calendar: business-days\ninclude:\n  - weekdays: [mon, tue, wed, thu, fri]\n",
        )
        .await
        .unwrap();
    let spec = ScheduleSpec {
        calendar: Some("business-days".into()),
        ..ScheduleSpec::new("0 2 * * *")
    };
    let schedule = s
        .engine
        .create_schedule(Some("nightly"), "batch", spec, "mary")
        .await
        .unwrap();
    // From Friday 2026-12-11, the next slot is Monday's.
    let slots = s.engine.next_slots(&schedule, 6).await.unwrap();
    assert_eq!(slots[4], at("2026-12-11T02:00:00Z"));
    assert_eq!(slots[5], at("2026-12-14T02:00:00Z"));
    let unknown = ScheduleSpec {
        calendar: Some("holidays".into()),
        ..ScheduleSpec::new("0 2 * * *")
    };
    let err = s
        .engine
        .create_schedule(Some("other"), "batch", unknown, "mary")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("calendar `holidays` is not deployed"),
        "{err}"
    );
}

#[tokio::test]
async fn a_paused_schedule_starts_nothing_and_resumes_at_its_next_slot() {
    let s = setup().await;
    s.engine
        .create_schedule(
            Some("hourly"),
            "batch",
            hourly(Overlap::Allow, CatchUp::All),
            "mary",
        )
        .await
        .unwrap();
    assert!(s.engine.pause_schedule("hourly").await.unwrap().paused);
    s.clock.set(at("2026-12-07T03:30:00Z"));
    assert_eq!(s.engine.fire_due_schedules(10).await.unwrap(), 0);
    let resumed = s.engine.resume_schedule("hourly").await.unwrap();
    assert_eq!(
        resumed.place.next_at,
        Some(at("2026-12-07T04:00:00Z")),
        "the slots it was paused for are not run"
    );
    let instance = s.engine.trigger_schedule("hourly").await.unwrap();
    assert_eq!(instance.data["region"], json!("emea"));
    assert_eq!(
        s.engine
            .schedule("hourly")
            .await
            .unwrap()
            .place
            .last_instance
            .as_deref(),
        Some(instance.id.as_str())
    );
    s.engine.delete_schedule("hourly").await.unwrap();
    assert!(matches!(
        s.engine.delete_schedule("hourly").await,
        Err(EngineError::ScheduleNotFound(_))
    ));
}

#[tokio::test]
async fn a_schedule_id_is_taken_once_and_its_process_must_exist() {
    let s = setup().await;
    s.engine
        .create_schedule(
            Some("hourly"),
            "batch",
            hourly(Overlap::Skip, CatchUp::Once),
            "mary",
        )
        .await
        .unwrap();
    let again = s
        .engine
        .create_schedule(
            Some("hourly"),
            "batch",
            hourly(Overlap::Skip, CatchUp::Once),
            "mary",
        )
        .await;
    assert!(matches!(again, Err(EngineError::ScheduleExists(_))));
    let missing = s
        .engine
        .create_schedule(None, "nope", hourly(Overlap::Skip, CatchUp::Once), "mary")
        .await;
    assert!(matches!(missing, Err(EngineError::ProcessNotFound(_))));
    let bad = s
        .engine
        .create_schedule(None, "batch", ScheduleSpec::new("every day"), "mary")
        .await;
    assert!(matches!(bad, Err(EngineError::Schedule(_))));
}
