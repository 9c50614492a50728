//! A step that keeps failing becomes an incident on its instance (Camunda's incidents), never
//! a crash or a loop: the command is kept with the incident, what delivered it (a timer, a
//! job's queue row) is removed, and the engine goes on with everyone else. An operator
//! retries the incident once the cause is fixed, or resolves it by hand.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::Map;
use tempfile::TempDir;

use baton_core::InstanceStatus;
use baton_engine::{Clock, Engine, EngineError, EngineOptions, ManualClock};
use baton_store::{IncidentKind, IncidentReader, TimerQueue};
use baton_store_sqlite::{Durability, SqliteStore};

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

/// A fresh database folder, the time the tests start at, and a clock set to it.
fn fresh() -> (TempDir, chrono::DateTime<Utc>, Arc<ManualClock>) {
    let t0 = Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap();
    (TempDir::new().unwrap(), t0, Arc::new(ManualClock::new(t0)))
}

/// Waits for its start time; the step its timer delivers is made to panic (see [`panicking`]).
const DOOMED: &str = "
id: doomed
tasks:
  - id: gate
    kind: set
    earliest_start: '+1h'
    set: {}
";

/// Makes every step of process `doomed` panic, as a defect in the core would, for as long
/// as the returned scenario lives (which also keeps other tests from configuring fail points
/// meanwhile).
fn panicking() -> fail::FailScenario<'static> {
    let scenario = fail::FailScenario::setup();
    fail::cfg(baton_engine::failpoints::STEP, "return(doomed)")
        .expect("the fail point is configured");
    scenario
}

const PLAIN: &str = "
id: plain
tasks:
  - id: later
    kind: set
    earliest_start: '+1h'
    set: {}
  - id: done
    kind: end
    after: [later]
";

#[tokio::test]
async fn a_step_that_panics_every_time_becomes_an_incident_and_the_other_instances_go_on() {
    let (dir, t0, clock) = fresh();
    let engine = open(&dir, &clock);
    engine.deploy("doomed.yaml", DOOMED).await.unwrap();
    engine.deploy("plain.yaml", PLAIN).await.unwrap();
    let doomed = engine.start("doomed", Map::new()).await.unwrap();
    let fine = engine.start("plain", Map::new()).await.unwrap();
    let _defect = panicking();
    clock.set(t0 + chrono::Duration::hours(2));
    let fired = engine
        .fire_due_timers(100)
        .await
        .expect("a panicking step does not stop the timers");
    assert_eq!(fired, 2);

    let incidents = engine.store().incidents(&doomed.id).await.unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    let incident = &incidents[0];
    assert_eq!(
        (incident.kind, incident.task.as_deref(), incident.attempts),
        (IncidentKind::StepFailed, Some("gate"), 3)
    );
    assert!(
        incident.reason.contains(
            "the engine hit a defect computing it: failpoint `engine::step` for process `doomed`"
        ),
        "{}",
        incident.reason
    );
    assert!(incident.is_open());
    assert!(incident.command.is_some());
    // The timer went with the incident: nothing fires again and again.
    assert_eq!(
        engine.store().due_timers(clock.now(), 100).await.unwrap(),
        vec![]
    );
    assert_eq!(engine.fire_due_timers(100).await.unwrap(), 0);
    // The other instance moved on.
    assert_eq!(
        engine.instance(&fine.id).await.unwrap().status,
        InstanceStatus::Completed
    );
    assert_eq!(engine.store().incidents(&fine.id).await.unwrap(), vec![]);
    assert_eq!(
        engine
            .store()
            .open_incidents(10)
            .await
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect::<Vec<_>>(),
        vec![incident.id]
    );

    // Retried while the cause is still there: still open, one more attempt.
    let again = engine
        .retry_incident(incident.id, "operator")
        .await
        .unwrap_err();
    assert!(
        matches!(again, EngineError::IncidentRaised { .. }),
        "{again}"
    );
    let incident = engine.store().incident(incident.id).await.unwrap().unwrap();
    assert_eq!((incident.attempts, incident.is_open()), (6, true));

    // The defect fixed, a retry applies the kept command and closes the incident. (The scenario
    // is kept to the end, so no other test configures the fail point meanwhile.)
    fail::remove(baton_engine::failpoints::STEP);
    let state = engine
        .retry_incident(incident.id, "operator")
        .await
        .unwrap();
    assert_eq!(state.status, InstanceStatus::Completed);
    let retried = engine.store().incident(incident.id).await.unwrap().unwrap();
    assert_eq!(
        (
            retried.resolution.as_deref(),
            retried.attempts,
            retried.is_open()
        ),
        (Some("retried"), 6, false)
    );
}

#[tokio::test]
async fn an_incident_can_be_resolved_by_hand_without_applying_its_command() {
    let (dir, t0, clock) = fresh();
    let engine = open(&dir, &clock);
    engine.deploy("doomed.yaml", DOOMED).await.unwrap();
    let doomed = engine.start("doomed", Map::new()).await.unwrap();
    let _defect = panicking();
    clock.set(t0 + chrono::Duration::hours(2));
    assert_eq!(engine.fire_due_timers(100).await.unwrap(), 1);
    let incident = engine
        .store()
        .incidents(&doomed.id)
        .await
        .unwrap()
        .remove(0);

    // Resolved by hand (say, after aborting the instance): closed, the command not applied.
    let resolved = engine
        .resolve_incident(incident.id, "operator")
        .await
        .unwrap();
    assert_eq!(
        (
            resolved.resolution.as_deref(),
            resolved.resolved_by.as_deref(),
            resolved.is_open()
        ),
        (Some("resolved"), Some("operator"), false)
    );
    assert!(matches!(
        engine.retry_incident(incident.id, "operator").await,
        Err(EngineError::IncidentClosed(_))
    ));
}

#[tokio::test]
async fn a_stored_definition_that_no_longer_loads_raises_an_incident_that_can_be_resolved_by_hand()
{
    let (dir, t0, clock) = fresh();
    let engine = open(&dir, &clock);
    engine.deploy("plain.yaml", PLAIN).await.unwrap();
    let instance = engine.start("plain", Map::new()).await.unwrap();
    drop(engine);
    // As after an upgrade whose checks refuse what an older release accepted.
    let db = rusqlite::Connection::open(dir.path().join("baton.db")).unwrap();
    db.execute(
        "UPDATE definitions SET source = 'id: plain\ntasks: [' WHERE id = 'plain'",
        [],
    )
    .unwrap();
    drop(db);
    let engine = open(&dir, &clock);
    clock.set(t0 + chrono::Duration::hours(2));
    assert_eq!(
        engine
            .fire_due_timers(100)
            .await
            .expect("the worker goes on"),
        1
    );
    let incidents = engine.store().incidents(&instance.id).await.unwrap();
    assert_eq!(incidents.len(), 1);
    assert_eq!(
        incidents[0].attempts, 1,
        "a definition that does not load is not tried again"
    );
    assert!(
        incidents[0].reason.contains("plain.yaml"),
        "{}",
        incidents[0].reason
    );

    // The cause fixed (the definition mended), the retry applies the kept command and closes
    // the incident in the same commit; the instance goes on to its end.
    let db = rusqlite::Connection::open(dir.path().join("baton.db")).unwrap();
    db.execute(
        "UPDATE definitions SET source = ?1 WHERE id = 'plain'",
        [PLAIN],
    )
    .unwrap();
    drop(db);
    let engine = open(&dir, &clock);
    let state = engine
        .retry_incident(incidents[0].id, "operator")
        .await
        .unwrap();
    assert_eq!(state.status, InstanceStatus::Completed);
    let retried = engine
        .store()
        .incident(incidents[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            retried.resolution.as_deref(),
            retried.resolved_by.as_deref(),
            retried.is_open()
        ),
        (Some("retried"), Some("operator"), false)
    );
    assert_eq!(engine.store().open_incidents(10).await.unwrap(), vec![]);
    assert!(matches!(
        engine.resolve_incident(retried.id, "operator").await,
        Err(EngineError::IncidentClosed(_))
    ));
    assert!(matches!(
        engine.resolve_incident(999, "operator").await,
        Err(EngineError::IncidentNotFound(999))
    ));
}
