//! Automic's ForEach through the engine and a real SQLite store: iterations store no copy of
//! the process data (a ForEach over 1,000 items with 1 MiB of data stores about one copy, not
//! a thousand), ends due together are one parent step and count once however often they are
//! delivered, a list past the engine's item limit is refused, and a database written by a
//! Baton that copied the data into every iteration goes on.

mod support;
use support::start_worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use serde_json::{json, Map, Value};
use tempfile::TempDir;

use baton_core::{Command, EventKind, Instance, InstanceStatus, Reason, TaskStatus};
use baton_engine::{Clock, Engine, EngineOptions, ManualClock, SystemClock};
use baton_store::{InstanceReader, SnapshotKey, SnapshotReader};
use baton_store_sqlite::{Durability, SqliteStore};

/// An engine on a fresh database in a temp dir (kept as long as the harness).
struct Harness {
    engine: Engine<SqliteStore>,
    dir: TempDir,
}

impl Harness {
    fn new(options: EngineOptions, clock: Arc<dyn Clock>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
        Self {
            engine: Engine::new(store, clock, options),
            dir,
        }
    }

    fn default() -> Self {
        Self::new(EngineOptions::default(), Arc::new(SystemClock))
    }

    fn store(&self) -> &SqliteStore {
        self.engine.store()
    }

    /// The states of the instance's iterations, by index.
    async fn iterations(&self, parent: &str) -> Vec<Instance> {
        let mut states = Vec::new();
        for id in self.store().children(parent).await.unwrap() {
            states.push(self.engine.instance(&id).await.unwrap());
        }
        states.sort_by_key(|s| s.parent.as_ref().unwrap().index);
        states
    }
}

/// A process whose `each` task runs `body` (YAML task lines) over `data.items`.
fn process(parallel: usize, body: &str) -> String {
    format!(
        "id: fan\ndata:\n  items: list\n  prefix: {{type: string, default: ''}}\n  blob: {{type: string, default: ''}}\n  greeting: string\ntasks:\n  - id: each\n    kind: foreach\n    items: data.items\n    parallel: {parallel}\n    tasks:\n{body}  - id: done\n    kind: end\n    after: [each]\n"
    )
}

const GREET: &str = "      - id: greet\n        kind: set\n        set: {greeting: \"data.prefix + string(item)\"}\n";

fn data(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

async fn run_to_end(h: &Harness, data: Map<String, Value>) -> Instance {
    let worker = start_worker(&h.engine);
    let started = h.engine.start("fan", data).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        let state = h.engine.instance(&started.id).await.unwrap();
        if state.status.is_terminal() {
            break state;
        }
        assert!(
            Instant::now() < deadline,
            "the ForEach did not end: {:?}",
            state.tasks[0]
        );
        h.engine.wait_for_change(Duration::from_millis(20)).await;
    };
    worker.stop().await;
    done
}

/// `len` characters that LZ4 cannot squeeze (so stored sizes show copies, not compression).
fn incompressible(len: usize) -> String {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(
                b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    [(x % 62) as usize],
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_iterations_stored_state_and_history_hold_no_copy_of_the_process_data() {
    let h = Harness::default();
    h.engine
        .deploy("fan.yaml", &process(2, GREET))
        .await
        .unwrap();
    let blob = incompressible(2_000);
    let done = run_to_end(
        &h,
        data(json!({"items": [1, 2, 3], "prefix": "hello-", "blob": blob})),
    )
    .await;
    assert_eq!(done.status, InstanceStatus::Completed);
    let iterations = h.iterations(&done.id).await;
    assert_eq!(iterations.len(), 3);
    for (n, it) in iterations.iter().enumerate() {
        assert_eq!(
            Value::Object(it.data.clone()),
            json!({"greeting": format!("hello-{}", n + 1)}),
            "iteration {n}: only what it wrote"
        );
        let history = h.store().history(&it.id).await.unwrap();
        assert!(
            matches!(&history[0].kind, EventKind::InstanceStarted { data, .. } if data.is_empty())
        );
        let stored = serde_json::to_string(&(it, &history)).unwrap();
        assert!(
            !stored.contains(&blob[..100]),
            "iteration {n} stores none of the blob"
        );
    }
    assert_eq!(
        done.data["greeting"],
        Value::Null,
        "an iteration's writes stay its own"
    );
    let key = SnapshotKey {
        instance: done.id.clone(),
        task: "each".into(),
        attempt: 1,
    };
    assert_eq!(
        h.store().snapshot(&key).await.unwrap(),
        None,
        "the run's snapshot goes with the run"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreach_over_1000_items_with_1_mib_of_data_stores_about_one_copy_not_one_per_item() {
    let h = Harness::default();
    h.engine
        .deploy("fan.yaml", &process(1000, GREET))
        .await
        .unwrap();
    // 1 MiB of process data all told (the default data limit): the blob and the list.
    let items: Vec<usize> = (0..1000).collect();
    let room = (1 << 20)
        - serde_json::to_string(&json!({"items": items, "prefix": "", "blob": ""}))
            .unwrap()
            .len();
    let done = run_to_end(
        &h,
        data(json!({"items": items, "prefix": "", "blob": incompressible(room)})),
    )
    .await;
    assert_eq!(
        done.status,
        InstanceStatus::Completed,
        "{:?}",
        done.tasks[0]
    );
    let iterations = h.iterations(&done.id).await;
    assert_eq!(iterations.len(), 1000);

    // What the iterations hold: their states and histories, about a KiB each as plain JSON
    // (stored compressed), where a copy of the data was a MiB each.
    let mut iteration_bytes = 0;
    for it in &iterations {
        iteration_bytes += serde_json::to_string(it).unwrap().len()
            + serde_json::to_string(&h.store().history(&it.id).await.unwrap())
                .unwrap()
                .len();
    }
    assert!(
        iteration_bytes < 1000 * 2048,
        "1,000 iterations hold {iteration_bytes} bytes"
    );
    // The whole database: the data in the parent's state and history, the iterations, and
    // room the snapshot left — a few MiB, where a copy per iteration was a GiB.
    h.store().checkpoint().unwrap();
    let database = std::fs::metadata(h.dir.path().join("baton.db"))
        .unwrap()
        .len();
    assert!(
        database < 16 << 20,
        "the database holds {database} bytes for 1,000 items x 1 MiB of data"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn iteration_ends_due_together_are_one_parent_step_and_a_repeated_end_counts_once() {
    let h = Harness::default();
    h.engine
        .deploy(
            "fan.yaml",
            &process(300, "      - id: work\n        kind: end\n"),
        )
        .await
        .unwrap();
    // Every iteration ends in the commit that starts it; their ends wait as due timers.
    let started = h
        .engine
        .start("fan", data(json!({"items": (0..300).collect::<Vec<_>>()})))
        .await
        .unwrap();
    assert_eq!(h.store().children(&started.id).await.unwrap().len(), 300);
    assert_eq!(h.engine.fire_due_timers(1000).await.unwrap(), 300);
    let done = h.engine.instance(&started.id).await.unwrap();
    assert_eq!(done.status, InstanceStatus::Completed);
    let ends: Vec<EventKind> = h
        .store()
        .history(&started.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| matches!(k, EventKind::IterationsEnded { .. }))
        .collect();
    assert_eq!(
        ends,
        [EventKind::IterationsEnded {
            completed: 300,
            not_completed: vec![]
        }],
        "one step took all 300 ends"
    );

    // Delivered again (the engine's commands are public): it counts nothing.
    let again = h
        .engine
        .apply(
            &started.id,
            Command::IterationEnded {
                task: "each".into(),
                index: 7,
                status: InstanceStatus::Completed,
            },
        )
        .await;
    assert!(again.is_err(), "the instance has ended");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_end_delivered_twice_to_a_running_foreach_counts_once() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
    ));
    let h = Harness::new(EngineOptions::default(), clock.clone());
    let waits = "      - id: later\n        kind: set\n        earliest_start: +1h\n        set: {greeting: \"'x'\"}\n";
    h.engine
        .deploy("fan.yaml", &process(1, waits))
        .await
        .unwrap();
    let started = h
        .engine
        .start("fan", data(json!({"items": ["a", "b", "c"]})))
        .await
        .unwrap();
    let end = || Command::IterationEnded {
        task: "each".into(),
        index: 0,
        status: InstanceStatus::Completed,
    };
    let once = h.engine.apply(&started.id, end()).await.unwrap();
    let twice = h.engine.apply(&started.id, end()).await.unwrap();
    let progress = twice.tasks[0].foreach.clone().unwrap();
    assert_eq!(
        (progress.completed, progress.next, progress.running),
        (1, 2, 1)
    );
    assert_eq!(
        twice.next_seq, once.next_seq,
        "the second delivery recorded nothing"
    );
    assert_eq!(
        h.store().children(&started.id).await.unwrap().len(),
        2,
        "and started no iteration"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_list_longer_than_the_engines_item_limit_ends_the_foreach_not_ok_and_starts_nothing() {
    let h = Harness::new(
        EngineOptions {
            max_foreach_items: 5,
            ..EngineOptions::default()
        },
        Arc::new(SystemClock),
    );
    h.engine
        .deploy("fan.yaml", &process(10, GREET))
        .await
        .unwrap();
    let started = h
        .engine
        .start("fan", data(json!({"items": [1, 2, 3, 4, 5, 6]})))
        .await
        .unwrap();
    assert_eq!(started.status, InstanceStatus::Blocked);
    assert_eq!(started.tasks[0].status, TaskStatus::EndedNotOk);
    assert_eq!(
        started.tasks[0].reason,
        Some(Reason::TooManyItems { count: 6, limit: 5 })
    );
    assert_eq!(
        h.store().children(&started.id).await.unwrap(),
        Vec::<String>::new()
    );
    let key = SnapshotKey {
        instance: started.id.clone(),
        task: "each".into(),
        attempt: 1,
    };
    assert_eq!(h.store().snapshot(&key).await.unwrap(), None);
}

/// Rewrites an instance's stored state with raw SQL, as an older Baton wrote it.
fn store_raw_state(dir: &TempDir, id: &str, state: &Value) {
    let conn = rusqlite::Connection::open(dir.path().join("baton.db")).unwrap();
    let changed = conn
        .execute(
            "UPDATE instances SET state = ?2 WHERE id = ?1",
            rusqlite::params![id, state.to_string()],
        )
        .unwrap();
    assert_eq!(changed, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_from_before_snapshots_goes_on_with_its_copied_iteration_and_its_item_list() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
    ));
    let waits = "      - id: greet\n        kind: set\n        earliest_start: +1h\n        set: {greeting: \"data.prefix + string(item)\"}\n";
    let h = Harness::new(EngineOptions::default(), clock.clone());
    h.engine
        .deploy("fan.yaml", &process(1, waits))
        .await
        .unwrap();
    let parent = h
        .engine
        .start("fan", data(json!({"items": [1, 2, 3], "prefix": "old-"})))
        .await
        .unwrap();
    let first = h.iterations(&parent.id).await.remove(0);
    // The parent with its list and finished indices, the iteration with a copy of the data.
    let mut old_parent = serde_json::to_value(&*parent).unwrap();
    old_parent["tasks"][0]["foreach"] = json!({"items": [1, 2, 3], "next": 1, "running": 1, "completed": 0, "failed": 0, "finished": []});
    let mut old_first = serde_json::to_value(&first).unwrap();
    old_first["data"] = Value::Object(parent.data.clone());
    old_first["iteration"] = json!({"index": 0, "item": 1});
    store_raw_state(&h.dir, &parent.id, &old_parent);
    store_raw_state(&h.dir, &first.id, &old_first);
    rusqlite::Connection::open(h.dir.path().join("baton.db"))
        .unwrap()
        .execute("DELETE FROM foreach_snapshots", [])
        .unwrap();
    // A new engine on that database, with nothing of the old states in memory.
    let Harness { engine, dir } = h;
    drop(engine);
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
    let h = Harness {
        engine: Engine::new(store, clock.clone(), EngineOptions::default()),
        dir,
    };
    for _ in 0..3 {
        clock.advance(chrono::Duration::hours(1));
        while h.engine.fire_due_timers(100).await.unwrap() > 0 {}
    }
    let done = h.engine.instance(&parent.id).await.unwrap();
    assert_eq!(
        done.status,
        InstanceStatus::Completed,
        "{:?}",
        done.tasks[0]
    );
    let iterations = h.iterations(&parent.id).await;
    let greetings: Vec<&Value> = iterations.iter().map(|it| &it.data["greeting"]).collect();
    assert_eq!(
        greetings,
        [&json!("old-1"), &json!("old-2"), &json!("old-3")]
    );
    assert_eq!(
        iterations[0].data.len(),
        parent.data.len(),
        "the old iteration kept its copy"
    );
    assert_eq!(
        Value::Object(iterations[1].data.clone()),
        json!({"greeting": "old-2"}),
        "new iterations share the data"
    );
}
