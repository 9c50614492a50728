//! The identity conformance suite against SQLite, one test per check on a fresh database; then
//! what only a file database has to show: people survive reopening, and the identity migration
//! upgrades a database made before it without touching what it held.

use baton_core::user_task::PotentialOwners;
use baton_store::{DefinitionStore, IdentityStore, NewUser};
use baton_store_sqlite::{Durability, SqliteStore};
use tempfile::TempDir;

async fn fresh() -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Full)
        .expect("a fresh database opens");
    (store, dir)
}

baton_store::identity_conformance_tests!(fresh);

fn t0() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-01-01T09:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc)
}

#[tokio::test(flavor = "multi_thread")]
async fn users_groups_and_members_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    {
        let store = SqliteStore::open(&path, Durability::Full).unwrap();
        store
            .add_user(NewUser::named("sarah").in_department("legal"), t0())
            .await
            .unwrap();
        store
            .add_user(NewUser::named("root").admin(), t0())
            .await
            .unwrap();
        store.add_group("legal", t0()).await.unwrap();
        store.add_member("legal", "sarah").await.unwrap();
    }
    let store = SqliteStore::open(&path, Durability::Full).unwrap();
    assert_eq!(
        store
            .user("sarah")
            .await
            .unwrap()
            .unwrap()
            .department
            .as_deref(),
        Some("legal")
    );
    assert!(store.is_admin("root").await.unwrap());
    assert_eq!(store.groups_of("sarah").await.unwrap(), ["legal"]);
    assert_eq!(
        store
            .resolve_potential_owners(&PotentialOwners::group("legal"))
            .await
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        ["sarah"]
    );
}

/// A database at schema version 2 (before identity) is upgraded in place when opened.
#[tokio::test(flavor = "multi_thread")]
async fn the_identity_migration_upgrades_an_existing_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../migrations/20261125_0001_initial.sql"))
            .unwrap();
        conn.execute_batch(include_str!("../migrations/20261125_0002_automic.sql"))
            .unwrap();
        conn.execute_batch("PRAGMA user_version = 2").unwrap();
        conn.execute(
            "INSERT INTO definitions (id, version, file, source, deployed_at) VALUES ('etl', 1, 'etl.yaml', 'id: etl', '2026-01-01T09:00:00.000000Z')",
            [],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path, Durability::Full).unwrap();
    assert_eq!(
        store
            .definition("etl", None)
            .await
            .unwrap()
            .map(|d| d.version),
        Some(1),
        "what the database held is kept"
    );
    store.add_user(NewUser::named("john"), t0()).await.unwrap();
    let names: Vec<String> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(
        names,
        ["john", "operator"],
        "john, and the built-in operator the migrations add"
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert!(
        version >= 3,
        "the identity migration ran (user_version {version})"
    );
}

/// "Groups of a user" runs on every task operation; it must use its index, not scan members.
#[tokio::test(flavor = "multi_thread")]
async fn groups_of_a_user_reads_an_index() {
    let (store, dir) = fresh().await;
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("baton.db")).unwrap();
    let plan: Vec<String> = conn
        .prepare("EXPLAIN QUERY PLAN SELECT group_name FROM group_members WHERE user_name = ?1 ORDER BY group_name")
        .unwrap()
        .query_map(["sarah"], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter()
            .any(|step| step.contains("group_members_by_user")),
        "{plan:?}"
    );
}
