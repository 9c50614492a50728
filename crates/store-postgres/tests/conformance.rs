//! The shared store conformance suite against PostgreSQL, one test per check, each in a
//! database of its own on the server at `BATON_TEST_POSTGRES_URL` (created for the test and
//! dropped after it), and the identity, document, inbox and interactive suites; then what only
//! PostgreSQL has to show. Without the variable every test
//! passes without running, saying so on stderr.

mod support;

use baton_store::{BackendKind, StoreError};
use baton_store_postgres::{db_err, PgOptions, PgStore};
use support::{fresh, server_configured, TestDatabase};

baton_store::conformance_tests!(fresh, if server_configured);
baton_store::identity_conformance_tests!(fresh, if server_configured);
baton_store::document_conformance_tests!(fresh, if server_configured);
baton_store::inbox_conformance_tests!(fresh, if server_configured);
baton_store::interactive_conformance_tests!(fresh, if server_configured);
baton_store::schedule_conformance_tests!(fresh, if server_configured);

#[tokio::test(flavor = "multi_thread")]
async fn a_database_from_a_newer_baton_is_refused_not_touched() {
    if !server_configured() {
        return;
    }
    let db = TestDatabase::create().await;
    PgStore::connect(&db.url, PgOptions::default())
        .await
        .expect("a fresh database migrates");
    let admin = db.connect().await;
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (999999999999, 'from a newer Baton', TRUE, '\\x00', 0)")
        .execute(&admin)
        .await
        .unwrap();
    match PgStore::connect(&db.url, PgOptions::default()).await {
        Err(StoreError::Backend { kind, message }) => {
            assert_eq!(kind, BackendKind::Incompatible);
            assert!(
                message.contains("newer Baton") && message.contains("999999999999"),
                "{message}"
            );
        }
        Err(other) => panic!("expected the database to be refused as incompatible, got {other}"),
        Ok(_) => panic!("a database newer than this Baton must be refused"),
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(
        count, 5,
        "nothing was migrated or removed: this Baton's four and the newer one"
    );
    admin.close().await;
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_server_is_unavailable_and_retryable() {
    // A port nothing listens on (the discard port, closed on any test machine).
    let options = PgOptions {
        acquire_timeout: std::time::Duration::from_secs(2),
        ..PgOptions::default()
    };
    match PgStore::connect("postgres://baton@127.0.0.1:9/baton", options).await {
        Err(
            e @ StoreError::Backend {
                kind: BackendKind::Unavailable,
                ..
            },
        ) => assert!(e.is_retryable()),
        Err(other) => panic!("expected the server to be unavailable, got {other:?}"),
        Ok(_) => panic!("nothing listens there"),
    }
}

/// A table of one keyed row per id, on the test database, for provoking races.
async fn race_table(pool: &sqlx::PgPool) {
    sqlx::query("CREATE TABLE race (id INT PRIMARY KEY, n INT NOT NULL)")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO race VALUES (1, 0), (2, 0)")
        .execute(pool)
        .await
        .unwrap();
}

#[track_caller]
fn assert_conflict(e: sqlx::Error, race: &str) {
    match db_err(e) {
        e @ StoreError::Conflict(_) => {
            assert!(e.is_retryable());
            assert!(e.to_string().contains(race), "{e}");
        }
        other => panic!("expected a conflict ({race}), got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_unique_violation_is_a_retryable_conflict() {
    if !server_configured() {
        return;
    }
    let db = TestDatabase::create().await;
    let pool = db.connect().await;
    race_table(&pool).await;
    let e = sqlx::query("INSERT INTO race VALUES (1, 5)")
        .execute(&pool)
        .await
        .unwrap_err();
    assert_conflict(e, "took the same key");
    pool.close().await;
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_serialization_failure_is_a_retryable_conflict() {
    if !server_configured() {
        return;
    }
    let db = TestDatabase::create().await;
    let pool = db.connect().await;
    race_table(&pool).await;
    // Two serializable transactions, each reading what the other writes (write skew): the
    // second to commit fails.
    let mut a = pool.begin().await.unwrap();
    let mut b = pool.begin().await.unwrap();
    for tx in [&mut a, &mut b] {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
            .execute(&mut **tx)
            .await
            .unwrap();
        sqlx::query("SELECT SUM(n) FROM race")
            .execute(&mut **tx)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE race SET n = 1 WHERE id = 1")
        .execute(&mut *a)
        .await
        .unwrap();
    sqlx::query("UPDATE race SET n = 1 WHERE id = 2")
        .execute(&mut *b)
        .await
        .unwrap();
    a.commit().await.unwrap();
    let e = b.commit().await.unwrap_err();
    assert_conflict(e, "serialized first");
    pool.close().await;
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadlock_is_a_retryable_conflict() {
    if !server_configured() {
        return;
    }
    let db = TestDatabase::create().await;
    let pool = db.connect().await;
    race_table(&pool).await;
    // Each transaction locks one row, then asks for the other's: PostgreSQL ends one of them.
    let mut a = pool.begin().await.unwrap();
    let mut b = pool.begin().await.unwrap();
    let lock = "UPDATE race SET n = n + 1 WHERE id = $1";
    sqlx::query(lock).bind(1).execute(&mut *a).await.unwrap();
    sqlx::query(lock).bind(2).execute(&mut *b).await.unwrap();
    let (first, second) = tokio::join!(
        sqlx::query(lock).bind(2).execute(&mut *a),
        sqlx::query(lock).bind(1).execute(&mut *b),
    );
    let e = match (first, second) {
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => e,
        other => panic!("expected one transaction to be ended, got {other:?}"),
    };
    assert_conflict(e, "deadlocked");
    drop((a, b));
    pool.close().await;
    db.drop().await;
}
