//! The shared store conformance suite against PostgreSQL, one test per check, each in a
//! database of its own on the server at `BATON_TEST_POSTGRES_URL` (created for the test and
//! dropped after it), and the identity, document, inbox and interactive suites; then what only
//! PostgreSQL has to show. Without the variable every test
//! passes without running, saying so on stderr.

mod support;

use baton_store::{BackendKind, StoreError};
use baton_store_postgres::{PgOptions, PgStore};
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
    PgStore::connect(&db.url, PgOptions::default()).await.expect("a fresh database migrates");
    let admin = db.connect().await;
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (999999999999, 'from a newer Baton', TRUE, '\\x00', 0)")
        .execute(&admin)
        .await
        .unwrap();
    match PgStore::connect(&db.url, PgOptions::default()).await {
        Err(StoreError::Backend { kind, message }) => {
            assert_eq!(kind, BackendKind::Incompatible);
            assert!(message.contains("newer Baton") && message.contains("999999999999"), "{message}");
        }
        Err(other) => panic!("expected the database to be refused as incompatible, got {other}"),
        Ok(_) => panic!("a database newer than this Baton must be refused"),
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&admin).await.unwrap();
    assert_eq!(count, 4, "nothing was migrated or removed: this Baton's three and the newer one");
    admin.close().await;
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_server_is_unavailable_and_retryable() {
    // A port nothing listens on (the discard port, closed on any test machine).
    let options = PgOptions { acquire_timeout: std::time::Duration::from_secs(2), ..PgOptions::default() };
    match PgStore::connect("postgres://baton@127.0.0.1:9/baton", options).await {
        Err(e @ StoreError::Backend { kind: BackendKind::Unavailable, .. }) => assert!(e.is_retryable()),
        Err(other) => panic!("expected the server to be unavailable, got {other:?}"),
        Ok(_) => panic!("nothing listens there"),
    }
}
