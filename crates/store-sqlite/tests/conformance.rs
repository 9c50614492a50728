//! The shared store conformance suite against SQLite, one test per check, each on a fresh
//! database in its own temp dir; then what only a file database has to show: its data
//! survives reopening, migrations run once, and a state it cannot read is reported, not panicked on.

use baton_store::conformance::{instance, job};
use baton_store::{
    DefinitionStore, InstanceReader, JobQueue, StepRecord, StepWriter, StoreError, Timer,
    TimerQueue,
};
use baton_store_sqlite::{Durability, SqliteStore};
use tempfile::TempDir;

async fn fresh() -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Full)
        .expect("a fresh database opens");
    (store, dir)
}

baton_store::conformance_tests!(fresh);
baton_store::inbox_conformance_tests!(fresh);
baton_store::interactive_conformance_tests!(fresh);
baton_store::schedule_conformance_tests!(fresh);

/// The whole suite in one go, as another store without per-check tests would run it.
#[tokio::test(flavor = "multi_thread")]
async fn run_all_passes_on_fresh_databases_in_one_dir() {
    let dir = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    baton_store::conformance::run_all(|| {
        let path = dir.path().join(format!(
            "db-{}.db",
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        async move { (SqliteStore::open(path, Durability::Normal).unwrap(), ()) }
    })
    .await;
    assert!(counter.into_inner() > 10);
}

fn t(seconds: i64) -> chrono::DateTime<chrono::Utc> {
    baton_store::conformance::t0() + chrono::Duration::seconds(seconds)
}

/// Writes a definition, an instance with its job and a timer.
async fn populate(store: &SqliteStore) {
    store
        .deploy("etl", "etl.yaml", "id: etl", t(0))
        .await
        .unwrap();
    let step = StepRecord {
        instance: Some(instance("i-1").into()),
        new: true,
        enqueue: vec![job("i-1", "extract", 1)],
        set_timers: vec![Timer {
            instance: "i-1".into(),
            key: "deadline".into(),
            due_at: t(60),
            payload: serde_json::json!({"n": 1}),
        }],
        ..StepRecord::default()
    };
    store.commit(vec![step]).await.unwrap();
}

async fn assert_populated(store: &SqliteStore) {
    assert_eq!(store.definitions().await.unwrap().len(), 1);
    assert_eq!(
        store
            .definition("etl", None)
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    assert_eq!(store.instance("i-1").await.unwrap(), Some(instance("i-1")));
    assert_eq!(store.queued_jobs().await.unwrap(), 1);
    assert_eq!(store.next_timer_due().await.unwrap(), Some(t(60)));
}

fn user_version(path: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    {
        let store = SqliteStore::open(&path, Durability::Full).unwrap();
        populate(&store).await;
    }
    let store = SqliteStore::open(&path, Durability::Full).unwrap();
    assert_populated(&store).await;
    // And it takes writes where it left off.
    assert_eq!(
        store
            .deploy("etl", "etl.yaml", "id: etl", t(1))
            .await
            .unwrap(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reopening_an_existing_database_does_not_rerun_migrations_or_lose_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("baton.db");
    {
        let store = SqliteStore::open(&path, Durability::Normal).unwrap();
        populate(&store).await;
    }
    let migrated = user_version(&path);
    assert!(migrated >= 1, "the migrator records how far it got");
    for _ in 0..3 {
        let store =
            SqliteStore::open(&path, Durability::Full).expect("an up-to-date database opens again");
        assert_populated(&store).await;
    }
    assert_eq!(user_version(&path), migrated);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_from_a_newer_baton_is_refused_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    {
        let store = SqliteStore::open(&path, Durability::Full).unwrap();
        populate(&store).await;
    }
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 999")
        .unwrap();
    match SqliteStore::open(&path, Durability::Full) {
        Err(StoreError::Backend { kind, message }) => {
            assert!(message.contains("migrating"), "{message}");
            assert_eq!(
                kind,
                baton_store::BackendKind::Incompatible,
                "a newer database is not one this Baton can use"
            );
        }
        Err(other) => panic!("expected a database error, got {other}"),
        Ok(_) => panic!("a database newer than this Baton must be refused"),
    }
    assert_eq!(user_version(&path), 999);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_state_format_is_reported_as_corrupt_state() {
    let (store, _dir) = fresh().await;
    populate(&store).await;
    rusqlite::Connection::open(store.path())
        .unwrap()
        .execute(
            "UPDATE instances SET state_format = 99 WHERE id = 'i-1'",
            [],
        )
        .unwrap();
    match store.instance("i-1").await {
        Err(StoreError::CorruptState { instance, message }) => {
            assert_eq!(instance, "i-1");
            assert!(message.contains("99"), "{message}");
        }
        other => panic!("expected CorruptState, got {other:?}"),
    }
    // The listing still works, so an operator can find the instance.
    assert_eq!(store.instances(None, 10).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_state_or_event_is_reported_as_corrupt_state() {
    let (store, _dir) = fresh().await;
    populate(&store).await;
    let step = StepRecord {
        instance: Some(instance("i-2").into()),
        new: true,
        events: vec![baton_store::conformance::event(
            1,
            None,
            baton_core::EventKind::BranchesTaken { tasks: vec![] },
        )],
        ..StepRecord::default()
    };
    store.commit(vec![step]).await.unwrap();
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    conn.execute(
        "UPDATE instances SET state = '{\"id\": 7}' WHERE id = 'i-1'",
        [],
    )
    .unwrap();
    conn.execute("UPDATE history SET events = 'not json' WHERE instance_key = (SELECT key FROM instances WHERE id = 'i-2')", []).unwrap();
    assert!(
        matches!(store.instance("i-1").await, Err(StoreError::CorruptState { instance, .. }) if instance == "i-1")
    );
    assert!(
        matches!(store.history("i-2").await, Err(StoreError::CorruptState { instance, .. }) if instance == "i-2")
    );
}

/// When the writer cannot even begin its transaction (another process holds the write lock
/// past the busy timeout), every request of that group is refused and none of it is written:
/// a caller told "failed" must not find its step committed after all.
#[tokio::test(flavor = "multi_thread")]
async fn a_group_that_cannot_begin_is_refused_whole_and_writes_nothing() {
    let (store, _dir) = fresh().await;
    let blocker = rusqlite::Connection::open(store.path()).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let release = std::thread::spawn(move || {
        // Past the store's 10 s busy timeout for BEGIN, well before a second wait would end.
        std::thread::sleep(std::time::Duration::from_secs(12));
        blocker.execute_batch("ROLLBACK").unwrap();
    });
    assert!(
        store
            .deploy("etl", "etl.yaml", "id: etl", t(0))
            .await
            .is_err(),
        "the write lock was held by another connection"
    );
    release.join().unwrap();
    assert!(
        store.definitions().await.unwrap().is_empty(),
        "a refused deploy stored nothing"
    );
    assert_eq!(
        store
            .deploy("etl", "etl.yaml", "id: etl", t(1))
            .await
            .unwrap(),
        1
    );
}

/// Migration 0005 (one history row per step, instances in a rowid table) keeps what a
/// database written by the earlier layout holds: the instance reads back the same, its events
/// come back in seq order, and the next step appends after them.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_in_the_event_per_row_layout_keeps_its_history_through_migration_0005() {
    use baton_core::EventKind;
    use baton_store::conformance::event;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    let inst = baton_core::Instance {
        next_seq: 4,
        ..instance("i-1")
    };
    let events: Vec<_> = (1..=3)
        .map(|seq| {
            event(
                seq,
                Some("extract"),
                EventKind::BranchesTaken {
                    tasks: vec![format!("t{seq}")],
                },
            )
        })
        .collect();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in [
            include_str!("../migrations/20261125_0001_initial.sql"),
            include_str!("../migrations/20261125_0002_automic.sql"),
            include_str!("../migrations/20261125_0003_identity.sql"),
            include_str!("../migrations/20261126_0004_inbox.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch("PRAGMA user_version = 4").unwrap();
        conn.execute(
            "INSERT INTO instances (id, definition_id, definition_version, status, created_at, updated_at, seq, state_format, state)
             VALUES ('i-1', ?1, 1, 'running', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', ?2, 1, ?3)",
            rusqlite::params![inst.definition_id, inst.next_seq as i64, serde_json::to_string(&inst).unwrap()],
        )
        .unwrap();
        // Stored out of order on purpose: the migration orders them.
        for e in events.iter().rev() {
            conn.execute(
                "INSERT INTO history (instance_id, seq, event) VALUES ('i-1', ?1, ?2)",
                rusqlite::params![e.seq as i64, serde_json::to_string(e).unwrap()],
            )
            .unwrap();
        }
    }
    let store = SqliteStore::open(&path, Durability::Full).unwrap();
    assert_eq!(
        user_version(&path),
        22,
        "every migration ran, 0005 and the ones after it"
    );
    assert_eq!(store.instance("i-1").await.unwrap(), Some(inst.clone()));
    assert_eq!(store.history("i-1").await.unwrap(), events);

    let mut next = inst.clone();
    next.next_seq = 5;
    let fourth = event(4, None, EventKind::BranchesTaken { tasks: vec![] });
    store
        .commit(vec![StepRecord {
            instance: Some(next.into()),
            expected_seq: 4,
            events: vec![fourth.clone()],
            ..StepRecord::default()
        }])
        .await
        .unwrap();
    assert_eq!(store.history("i-1").await.unwrap().last(), Some(&fourth));
    assert_eq!(store.history("i-1").await.unwrap().len(), 4);
}

/// A state of 512 bytes or more is stored LZ4-compressed (a blob), a shorter one as JSON text;
/// both read back as written, and a blob that does not decompress is a corrupt state.
#[tokio::test(flavor = "multi_thread")]
async fn long_states_are_stored_compressed_and_read_back_unchanged() {
    let (store, _dir) = fresh().await;
    let short = instance("i-short");
    let mut long = instance("i-long");
    long.data.insert(
        "notes".into(),
        serde_json::json!(vec!["a long list of the same words"; 64]),
    );
    for inst in [&short, &long] {
        store
            .commit(vec![StepRecord {
                instance: Some(inst.clone().into()),
                new: true,
                ..StepRecord::default()
            }])
            .await
            .unwrap();
    }
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let kind = |id: &str| -> (String, i64) {
        conn.query_row(
            "SELECT typeof(state), length(state) FROM instances WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    assert_eq!(kind("i-short").0, "text");
    let (long_kind, long_len) = kind("i-long");
    assert_eq!(long_kind, "blob");
    assert!(
        (long_len as usize) < serde_json::to_string(&long).unwrap().len() / 4,
        "compressed to {long_len} bytes"
    );
    assert_eq!(store.instance("i-short").await.unwrap(), Some(short));
    assert_eq!(store.instance("i-long").await.unwrap(), Some(long));

    conn.execute(
        "UPDATE instances SET state = x'0badf00d' WHERE id = 'i-long'",
        [],
    )
    .unwrap();
    assert!(
        matches!(store.instance("i-long").await, Err(StoreError::CorruptState { instance, .. }) if instance == "i-long")
    );
}

/// Migration 0014 gives the children stored before it their link kind, from what the rows
/// already say: a child without a root was handed off, one running a ForEach body is an
/// iteration, any other was called.
#[tokio::test(flavor = "multi_thread")]
async fn children_stored_before_the_link_kind_column_get_theirs_from_their_rows() {
    use baton_core::instance::LinkKind;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let migrations = [
            include_str!("../migrations/20261125_0001_initial.sql"),
            include_str!("../migrations/20261125_0002_automic.sql"),
            include_str!("../migrations/20261125_0003_identity.sql"),
            include_str!("../migrations/20261126_0004_inbox.sql"),
            include_str!("../migrations/20261126_0005_step_layout.sql"),
            include_str!("../migrations/20261127_0006_job_processes.sql"),
            include_str!("../migrations/20261201_0007_incidents.sql"),
            include_str!("../migrations/20261201_0008_operator.sql"),
            include_str!("../migrations/20261202_0009_tokens.sql"),
            include_str!("../migrations/20261202_0010_foreach_snapshots.sql"),
            include_str!("../migrations/20261202_0011_external_jobs.sql"),
            include_str!("../migrations/20261202_0012_listing_and_start_keys.sql"),
            include_str!("../migrations/20261203_0013_hierarchy.sql"),
        ];
        for sql in migrations {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch("PRAGMA user_version = 13").unwrap();
        let rows = [
            ("root", "order", None, None, 0),
            ("called", "check", Some("root"), Some("root"), 1),
            ("handed", "fulfil", Some("root"), None, 2),
            ("iteration", "order/each", Some("root"), Some("root"), 3),
        ];
        for (id, process, parent, root, second) in rows {
            conn.execute(
                "INSERT INTO instances (id, definition_id, definition_version, status, created_at, updated_at, seq, state_format, state, parent_id, case_id, root_id)
                 VALUES (?1, ?2, 1, 'running', ?3, ?3, 1, 2, '{}', ?4, 'root', ?5)",
                rusqlite::params![id, process, format!("2026-01-01T00:00:0{second}Z"), parent, root],
            )
            .unwrap();
        }
    }
    let store = SqliteStore::open(&path, Durability::Full).unwrap();
    assert_eq!(user_version(&path), 22);
    let query = baton_store::InstanceQuery {
        case: Some("root".into()),
        limit: 10,
        ..baton_store::InstanceQuery::default()
    };
    let links: Vec<(String, Option<LinkKind>)> = store
        .list_instances(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.link))
        .collect();
    assert_eq!(
        links,
        [
            ("iteration".to_owned(), Some(LinkKind::Iteration)),
            ("handed".to_owned(), Some(LinkKind::Handoff)),
            ("called".to_owned(), Some(LinkKind::Call)),
            ("root".to_owned(), None)
        ]
    );
}

baton_store::document_conformance_tests!(fresh);

/// Content lives under the document directory, beside the database file by default, named by
/// its hash; another directory can be given.
#[tokio::test(flavor = "multi_thread")]
async fn document_content_is_a_file_named_by_its_hash_beside_the_database_or_where_told() {
    use baton_store::DocumentStore;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
    let stored = store
        .add_document(
            baton_store::document_conformance::new_document("d-1"),
            b"same".to_vec(),
        )
        .await
        .unwrap();
    let file = dir
        .path()
        .join("documents")
        .join(&stored.sha256[..2])
        .join(&stored.sha256);
    assert_eq!(std::fs::read(&file).unwrap(), b"same");

    let elsewhere = dir.path().join("elsewhere");
    let store = SqliteStore::open_with_document_dir(
        dir.path().join("other.db"),
        Durability::Normal,
        &elsewhere,
    )
    .unwrap();
    store
        .add_document(
            baton_store::document_conformance::new_document("d-1"),
            b"same".to_vec(),
        )
        .await
        .unwrap();
    assert!(elsewhere
        .join(&stored.sha256[..2])
        .join(&stored.sha256)
        .is_file());

    // Damaged content is reported, not served.
    std::fs::write(&file, b"s4me").unwrap();
    let first = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
    let refused = first.document_content("d-1").await.unwrap_err();
    assert!(
        matches!(refused, baton_store::DocumentError::CorruptContent { .. }),
        "{refused}"
    );
}
