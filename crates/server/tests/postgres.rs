//! The API on PostgreSQL, served by two nodes sharing one database: an instance started
//! through one is read, and its human task claimed, through the other; the same human task
//! claimed at once through both is won by one, and the other is answered 409. Skipped, saying
//! so, when `BATON_TEST_POSTGRES_URL` is unset (a failure under `CI`).

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;

use baton_engine::SystemClock;
use baton_store_any::AnyStore;
use baton_store_postgres::testkit::{server_configured, TestDatabase};
use baton_store_postgres::{PgOptions, PgStore};

mod support;
use support::{api_in, code};

async fn store(db: &TestDatabase) -> AnyStore {
    PgStore::connect(&db.url, PgOptions::default())
        .await
        .expect("the test database opens")
        .into()
}

#[tokio::test]
async fn two_nodes_serve_one_database_and_one_of_two_concurrent_claims_wins() {
    if !server_configured() {
        return;
    }
    let db = TestDatabase::create().await;
    let a = api_in(None, store(&db).await, Arc::new(SystemClock)).await;
    let b = a.another_node(store(&db).await, "node-b");

    let id = a.start_review().await;
    let seen = b.get(&format!("/api/instances/{id}"), &b.john).await;
    assert_eq!(
        (seen.status, seen.body["status"].as_str()),
        (StatusCode::OK, Some("waiting")),
        "{}",
        seen.body
    );
    let inbox = b.get("/api/inbox?status=ready", &b.john).await;
    assert_eq!(
        inbox.body["rows"][0]["instance"].as_str(),
        Some(id.as_str()),
        "{}",
        inbox.body
    );

    for round in 0..5 {
        let id = if round == 0 {
            id.clone()
        } else {
            a.start_review().await
        };
        let path = format!("/api/instances/{id}/tasks/check/human-tasks");
        let claim = json!({"operation": "claim"});
        let (through_a, through_b) = tokio::join!(
            a.post(&path, &a.john, claim.clone()),
            b.post(&path, &b.john, claim.clone())
        );
        let mut statuses = [through_a.status, through_b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "one claim wins: {} / {}",
            through_a.body,
            through_b.body
        );
        let lost = if through_a.status == StatusCode::CONFLICT {
            &through_a
        } else {
            &through_b
        };
        assert_eq!(code(lost), "conflict", "{}", lost.body);
        let history = a
            .get(&format!("/api/instances/{id}/history"), &a.john)
            .await;
        let claims = history
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "human_task" && e["change"]["to"]["status"] == "claimed")
            .count();
        assert_eq!(claims, 1, "one claim is recorded: {}", history.body);

        let done = b
            .post(
                &path,
                &b.john,
                json!({"operation": "complete", "output": {"approved": true}}),
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        let read = a.get(&format!("/api/instances/{id}"), &a.john).await;
        assert_eq!(read.body["status"], "completed", "{}", read.body);
    }
    db.drop().await;
}
