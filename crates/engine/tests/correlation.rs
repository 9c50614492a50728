//! Published events and `wait` tasks through the engine and a real SQLite store: keyed
//! matching by a lookup, conditions, every matching instance resumed, idempotent ids,
//! buffering and its expiry, and the races of a publication with a subscription and with
//! itself, each resolved exactly once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{json, Map, Value};
use tempfile::TempDir;

use baton_core::{Instance, InstanceStatus, TaskStatus};
use baton_engine::correlation::{EventReceivers, Publication, Published};
use baton_engine::{Clock, Engine, EngineError, EngineOptions, ManualClock};
use baton_store::{CorrelationStore, EventState};
use baton_store_sqlite::{Durability, SqliteStore};

const ORDER: &str = "
id: order
data:
  order_id: string
  limit: {type: integer, default: 100}
  paid: integer
tasks:
  - id: payment
    kind: wait
    event: payment-received
    key: data.order_id
    condition: event.amount <= data.limit
    output: {paid: event.amount}
  - id: done
    kind: end
    after: [payment]
";

fn open(dir: &TempDir) -> (Engine<SqliteStore>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap(),
    ));
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal)
        .expect("the database opens");
    (
        Engine::new(
            store,
            clock.clone(),
            EngineOptions {
                node: "test-node".into(),
                ..EngineOptions::default()
            },
        ),
        clock,
    )
}

async fn deployed(dir: &TempDir) -> (Engine<SqliteStore>, Arc<ManualClock>) {
    let (engine, clock) = open(dir);
    engine.deploy("order.yaml", ORDER).await.expect("deploys");
    (engine, clock)
}

async fn order(engine: &Engine<SqliteStore>, id: &str) -> Arc<Instance> {
    let data = Map::from_iter([("order_id".to_owned(), Value::from(id))]);
    engine.start("order", data).await.expect("starts")
}

fn payment(key: &str, amount: i64) -> Publication {
    Publication {
        name: "payment-received".into(),
        key: Some(key.into()),
        data: Map::from_iter([("amount".to_owned(), json!(amount))]),
        id: None,
        ttl: None,
    }
}

async fn status(engine: &Engine<SqliteStore>, id: &str) -> InstanceStatus {
    engine.instance(id).await.unwrap().status
}

#[tokio::test]
async fn a_keyed_event_resumes_only_the_instance_waiting_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = deployed(&dir).await;
    let a = order(&engine, "A-1").await;
    let b = order(&engine, "B-2").await;
    assert_eq!(a.status, InstanceStatus::Waiting);
    let published = engine.publish(payment("A-1", 40)).await.unwrap();
    assert_eq!(
        (
            published.resumed.clone(),
            published.state,
            published.duplicate
        ),
        (vec![a.id.clone()], EventState::Delivered, false)
    );
    let a = engine.instance(&a.id).await.unwrap();
    assert_eq!(
        (a.status, &a.data["paid"]),
        (InstanceStatus::Completed, &json!(40))
    );
    assert_eq!(status(&engine, &b.id).await, InstanceStatus::Waiting);
    // The subscription went with the step that resumed it; b's is still there.
    assert!(engine
        .store()
        .subscribers("payment-received", Some("A-1"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        engine
            .store()
            .subscribers("payment-received", Some("B-2"))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_condition_that_does_not_hold_leaves_the_instance_waiting_and_the_event_is_buffered() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = deployed(&dir).await;
    let a = order(&engine, "A-1").await;
    let published = engine.publish(payment("A-1", 500)).await.unwrap();
    assert!(published.resumed.is_empty());
    assert_eq!(published.state, EventState::Buffered);
    assert_eq!(status(&engine, &a.id).await, InstanceStatus::Waiting);
}

#[tokio::test]
async fn every_instance_waiting_for_an_event_is_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = deployed(&dir).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(order(&engine, "SAME").await.id.clone());
    }
    let published = engine.publish(payment("SAME", 1)).await.unwrap();
    let mut resumed = published.resumed.clone();
    resumed.sort();
    ids.sort();
    assert_eq!(resumed, ids);
    assert_eq!(published.received, 5);
    for id in &ids {
        assert_eq!(status(&engine, id).await, InstanceStatus::Completed);
    }
}

#[tokio::test]
async fn an_id_published_again_resumes_nothing_until_it_is_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock) = deployed(&dir).await;
    let a = order(&engine, "A-1").await;
    let with_id = |n| Publication {
        id: Some("pay-1".into()),
        ..payment("A-1", n)
    };
    let first = engine.publish(with_id(1)).await.unwrap();
    assert_eq!(first.resumed, vec![a.id.clone()]);
    let b = order(&engine, "A-1").await;
    let again = engine.publish(with_id(2)).await.unwrap();
    assert!(again.duplicate && again.resumed.is_empty());
    assert_eq!(
        (again.received, again.state, again.remember_until),
        (1, EventState::Delivered, first.remember_until)
    );
    assert_eq!(status(&engine, &b.id).await, InstanceStatus::Waiting);
    // Remembered for 24 hours (longer than the default hour of buffering); then a new event.
    clock.advance(chrono::Duration::seconds(24 * 3600 + 1));
    engine.sweep_events().await.unwrap();
    let later = engine.publish(with_id(3)).await.unwrap();
    assert!(!later.duplicate);
    assert_eq!(later.resumed, vec![b.id.clone()]);
}

#[tokio::test]
async fn a_buffered_event_is_received_by_the_first_instance_that_begins_waiting_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = deployed(&dir).await;
    let published = engine.publish(payment("LATE", 7)).await.unwrap();
    assert_eq!(published.state, EventState::Buffered);
    let a = order(&engine, "LATE").await;
    let a = engine.instance(&a.id).await.unwrap();
    assert_eq!(
        (a.status, &a.data["paid"]),
        (InstanceStatus::Completed, &json!(7))
    );
    assert_eq!(
        engine
            .published_event(&published.id)
            .await
            .unwrap()
            .map(|e| (e.state, e.resumed)),
        Some((EventState::Delivered, 1))
    );
    // Consumed: the next instance waits.
    let b = order(&engine, "LATE").await;
    assert_eq!(b.status, InstanceStatus::Waiting);
}

#[tokio::test]
async fn a_buffered_event_expires_after_its_time_to_live() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock) = deployed(&dir).await;
    let published = engine
        .publish(Publication {
            ttl: Some(Duration::from_secs(60)),
            ..payment("EXP", 7)
        })
        .await
        .unwrap();
    assert_eq!(
        published.buffered_until,
        Some(clock.now() + chrono::Duration::seconds(60))
    );
    clock.advance(chrono::Duration::seconds(61));
    let a = order(&engine, "EXP").await;
    assert_eq!(status(&engine, &a.id).await, InstanceStatus::Waiting);
    engine.sweep_events().await.unwrap();
    assert_eq!(
        engine
            .published_event(&published.id)
            .await
            .unwrap()
            .map(|e| e.state),
        Some(EventState::Expired)
    );
    assert_eq!(engine.store().buffered_count(clock.now()).await.unwrap(), 0);
}

#[tokio::test]
async fn an_event_with_no_time_to_live_is_not_buffered() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = deployed(&dir).await;
    let published = engine
        .publish(Publication {
            ttl: Some(Duration::ZERO),
            ..payment("NONE", 7)
        })
        .await
        .unwrap();
    assert_eq!(
        (published.state, published.received),
        (EventState::Delivered, 0)
    );
    let a = order(&engine, "NONE").await;
    assert_eq!(a.status, InstanceStatus::Waiting);
}

#[tokio::test]
async fn the_timeout_ends_a_wait_that_no_event_reached() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock) = open(&dir);
    engine
        .deploy(
            "t.yaml",
            "id: t\ntasks:\n  - {id: w, kind: wait, event: e, timeout: 5m}\n",
        )
        .await
        .unwrap();
    let i = engine.start("t", Map::new()).await.unwrap();
    clock.advance(chrono::Duration::seconds(301));
    engine.fire_due_timers(10).await.unwrap();
    let i = engine.instance(&i.id).await.unwrap();
    assert_eq!(i.tasks[0].status, TaskStatus::EndedTimeout);
    assert!(engine
        .store()
        .subscribers("e", None)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn publications_past_their_bounds_are_refused_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = deployed(&dir).await;
    for bad in [
        Publication {
            name: "has space".into(),
            ..payment("k", 1)
        },
        Publication {
            key: Some("k".repeat(257)),
            ..payment("k", 1)
        },
        Publication {
            id: Some(String::new()),
            ..payment("k", 1)
        },
        Publication {
            ttl: Some(Duration::from_secs(31 * 24 * 3600)),
            ..payment("k", 1)
        },
    ] {
        assert!(matches!(
            engine.publish(bad).await,
            Err(EngineError::InvalidEvent(_))
        ));
    }
    assert_eq!(
        engine.store().buffered_count(engine.now()).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn a_full_buffer_refuses_the_event_and_forgets_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap(),
    ));
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
    let mut options = EngineOptions::default();
    options.events.max_buffered = 2;
    let engine = Engine::new(store, clock, options);
    engine.publish(payment("a", 1)).await.unwrap();
    engine.publish(payment("b", 1)).await.unwrap();
    let refused = engine
        .publish(Publication {
            id: Some("third".into()),
            ..payment("c", 1)
        })
        .await;
    assert!(
        matches!(refused, Err(EngineError::EventBufferFull { limit: 2 })),
        "{refused:?}"
    );
    assert!(
        engine.published_event("third").await.unwrap().is_none(),
        "the id may be published again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_racing_the_wait_it_is_for_resumes_it_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = deployed(&dir).await;
    let rounds = 40;
    let mut races = tokio::task::JoinSet::new();
    for n in 0..rounds {
        let key = format!("R-{n}");
        let (e1, e2) = (engine.clone(), engine.clone());
        let k1 = key.clone();
        races.spawn(async move {
            let (started, published) =
                tokio::join!(async move { order(&e1, &k1).await }, async move {
                    e2.publish(payment(&key, 1)).await.unwrap()
                });
            (started.id.clone(), published)
        });
    }
    while let Some(done) = races.join_next().await {
        let (id, published): (String, Published) = done.unwrap();
        engine.sweep_events().await.unwrap();
        let instance = engine.instance(&id).await.unwrap();
        assert_eq!(
            instance.status,
            InstanceStatus::Completed,
            "the event reached the wait: {published:?}"
        );
        let event = engine
            .published_event(&published.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (event.state, event.resumed),
            (EventState::Delivered, 1),
            "received once"
        );
        assert_eq!(instance.data["paid"], json!(1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_id_published_twice_at_once_resumes_once() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = deployed(&dir).await;
    for n in 0..20 {
        let key = format!("D-{n}");
        let a = order(&engine, &key).await;
        let b = order(&engine, &key).await;
        let id = format!("dup-{n}");
        let publish = |engine: Engine<SqliteStore>| {
            let (key, id) = (key.clone(), id.clone());
            tokio::spawn(async move {
                engine
                    .publish(Publication {
                        id: Some(id),
                        ..payment(&key, 1)
                    })
                    .await
                    .unwrap()
            })
        };
        let (x, y) = (publish(engine.clone()), publish(engine.clone()));
        let (x, y) = (x.await.unwrap(), y.await.unwrap());
        assert!(
            x.duplicate != y.duplicate,
            "one of the two is the duplicate"
        );
        let first = if x.duplicate { y } else { x };
        assert_eq!(first.resumed.len(), 2);
        for i in [&a.id, &b.id] {
            assert_eq!(status(&engine, i).await, InstanceStatus::Completed);
        }
    }
}

struct Cache(Vec<String>);

impl EventReceivers for Cache {
    fn receivers(&self, _event: &baton_core::correlation::ReceivedEvent) -> Vec<String> {
        self.0.clone()
    }
}

#[tokio::test]
async fn instances_the_in_memory_holders_name_are_resumed_with_the_stores_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = deployed(&dir).await;
    let a = order(&engine, "S-1").await;
    let other = order(&engine, "S-2").await;
    // The cache names a (also subscribed) and another instance whose task waits for another key.
    engine.set_event_receivers(Arc::new(Cache(vec![
        a.id.clone(),
        other.id.clone(),
        "no-such-instance".into(),
    ])));
    let published = engine.publish(payment("S-1", 1)).await.unwrap();
    assert_eq!(published.resumed, vec![a.id.clone()]);
    assert_eq!(status(&engine, &other.id).await, InstanceStatus::Waiting);
}
