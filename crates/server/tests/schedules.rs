//! `/api/schedules` through the router: a schedule is made, listed with its next slots, shown,
//! paused, resumed, triggered and deleted; bad input is a 422 that stores nothing.

mod support;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use chrono::{TimeZone, Utc};
use serde_json::json;

use baton_engine::ManualClock;
use support::{api_on, code};

#[tokio::test]
async fn a_schedule_is_made_listed_paused_resumed_triggered_and_deleted() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2030, 1, 7, 9, 0, 0).unwrap(),
    ));
    let api = api_on(clock.clone()).await;
    let made = api.post("/api/schedules", &api.john, json!({"process": "review", "id": "nightly", "cron": "0 2 * * *", "timezone": "Europe/Berlin", "overlap": "buffer_one"})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["next_slots"][0], "2030-01-08T01:00:00Z");
    assert_eq!(made.body["overlap"], "buffer_one");
    assert_eq!(made.body["created_by"], "john");
    let listed = api.get("/api/schedules", &api.eve).await;
    assert_eq!(
        listed.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.body
    );
    let paused = api
        .post("/api/schedules/nightly/pause", &api.john, json!({}))
        .await;
    assert_eq!(
        (paused.status, &paused.body["paused"]),
        (StatusCode::OK, &json!(true)),
        "{}",
        paused.body
    );
    assert_eq!(paused.body["next_slots"], json!([]));
    let resumed = api
        .post("/api/schedules/nightly/resume", &api.john, json!({}))
        .await;
    assert_eq!(resumed.body["paused"], false);
    let triggered = api
        .post("/api/schedules/nightly/trigger", &api.john, json!({}))
        .await;
    assert_eq!(triggered.status, StatusCode::CREATED, "{}", triggered.body);
    assert_eq!(triggered.body["process"], "review");
    let shown = api.get("/api/schedules/nightly", &api.john).await;
    assert_eq!(shown.body["last_instance"], triggered.body["id"]);
    assert_eq!(shown.body["recent_slots"][0]["outcome"], "started");
    let deleted = api
        .call(
            Method::DELETE,
            "/api/schedules/nightly",
            Some(&api.john),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = api.get("/api/schedules/nightly", &api.john).await;
    assert_eq!(
        (gone.status, code(&gone)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn a_bad_schedule_is_refused_and_nothing_is_stored() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2030, 1, 7, 9, 0, 0).unwrap(),
    ));
    let api = api_on(clock).await;
    for body in [
        json!({"process": "review", "cron": "every night"}),
        json!({"process": "review", "cron": "0 2 * * *", "timezone": "Mars/Olympus"}),
        json!({"process": "review", "cron": "0 2 * * *", "overlap": "sometimes"}),
        json!({"process": "review", "cron": "0 2 * * *", "catch_up_window": "forever"}),
        json!({"process": "review", "cron": "0 2 * * *", "calendar": "not-deployed"}),
        json!({"process": "review", "cron": "0 2 * * *", "id": "has space"}),
    ] {
        let answer = api.post("/api/schedules", &api.john, body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            answer.body
        );
    }
    assert_eq!(api.get("/api/schedules", &api.john).await.body, json!([]));
    let missing = api
        .post(
            "/api/schedules",
            &api.john,
            json!({"process": "nope", "cron": "0 2 * * *"}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
}
