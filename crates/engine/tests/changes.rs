//! The change feed: a subscriber hears of every committed step of every instance, in commit
//! order; one that does not keep up hears that it lagged, and the engine never waits for it.

use std::sync::Arc;

use serde_json::Map;
use tokio::sync::broadcast::error::RecvError;

use baton_core::user_task::HumanTaskStatus;
use baton_core::{InstanceStatus, TaskStatus};
use baton_engine::{Engine, EngineOptions, SystemClock, CHANGE_FEED_CAPACITY};
use baton_store_sqlite::{Durability, SqliteStore};

const TWO_SETS: &str = "id: two-sets
data:
  n: integer
tasks:
  - id: one
    kind: set
    set: {n: '1'}
  - id: two
    kind: set
    after: [one]
    set: {n: '2'}
";

const REVIEW: &str = "id: review
tasks:
  - id: check
    kind: user
    owners: [group:editors]
";

fn engine(dir: &tempfile::TempDir) -> Engine<SqliteStore> {
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
    Engine::new(store, Arc::new(SystemClock), EngineOptions::default())
}

#[tokio::test]
async fn a_subscriber_hears_each_committed_step_with_the_tasks_and_human_tasks_it_changed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir);
    engine.deploy("two-sets.yaml", TWO_SETS).await.unwrap();
    engine.deploy("review.yaml", REVIEW).await.unwrap();
    let mut feed = engine.changes();

    let sets = engine.start("two-sets", Map::new()).await.unwrap();
    let review = engine.start("review", Map::new()).await.unwrap();

    let first = feed.recv().await.unwrap();
    assert_eq!(
        (
            first.instance.as_str(),
            first.process.as_str(),
            first.status,
            first.status_changed
        ),
        (
            sets.id.as_str(),
            "two-sets",
            InstanceStatus::Completed,
            true
        )
    );
    assert_eq!(first.seq, sets.next_seq);
    assert_eq!(
        first.tasks,
        [
            ("one".to_owned(), TaskStatus::EndedOk),
            ("two".to_owned(), TaskStatus::EndedOk)
        ],
        "each task once, with its last status"
    );
    assert!(first.human_tasks.is_empty());

    let second = feed.recv().await.unwrap();
    assert_eq!(
        (second.instance.as_str(), second.status),
        (review.id.as_str(), InstanceStatus::Waiting)
    );
    assert_eq!(second.human_tasks.len(), 1);
    let human = &second.human_tasks[0];
    assert_eq!(
        (human.task.as_str(), human.human_task.0, &human.status),
        ("check", 0, &HumanTaskStatus::Ready)
    );
    assert!(human.potential_owners.groups.contains("editors"));
    assert!(
        matches!(
            feed.try_recv(),
            Err(tokio::sync::broadcast::error::TryRecvError::Empty)
        ),
        "nothing else was committed"
    );
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_hears_how_much_it_missed_and_the_engine_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir);
    engine.deploy("two-sets.yaml", TWO_SETS).await.unwrap();
    let mut feed = engine.changes();
    let extra = 5;
    for _ in 0..CHANGE_FEED_CAPACITY + extra {
        engine.start("two-sets", Map::new()).await.unwrap();
    }
    assert_eq!(feed.recv().await, Err(RecvError::Lagged(extra as u64)));
    let mut held = 0;
    while feed.try_recv().is_ok() {
        held += 1;
    }
    assert_eq!(
        held, CHANGE_FEED_CAPACITY,
        "the newest records are still there"
    );
}
