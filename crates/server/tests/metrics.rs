//! `GET /metrics`: it takes a token like every API route, and its counts move with what the
//! engine and the API do; routes are labelled by their template, never by the path asked for.

mod support;

use axum::http::{header, Method, StatusCode};
use serde_json::json;

use baton_service::SourceFile;
use baton_store::JobQueue;
use support::api;

/// The value of the sample `series` (its name and labels, exactly as written) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn scrape(api: &support::Api, token: &str) -> String {
    let answer = api.get("/metrics", token).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    answer.body.as_str().expect("a text body").to_owned()
}

#[tokio::test]
async fn metrics_without_a_valid_token_are_refused_with_401() {
    let api = api().await;
    for token in [None, Some("baton_nobody_secret")] {
        let answer = api.call(Method::GET, "/metrics", token, None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(support::code(&answer), "unauthenticated");
    }
}

#[tokio::test]
async fn starting_an_instance_moves_its_process_counter_the_step_count_and_the_route_counter() {
    let api = api().await;
    let before = scrape(&api, &api.eve).await;
    assert_eq!(
        sample(&before, "baton_instances_started_total{process=\"review\"}"),
        None,
        "nothing started yet"
    );
    let steps_before = sample(&before, "baton_engine_steps_total").unwrap();

    let id = api.start_review().await;
    assert_eq!(
        api.get(&format!("/api/instances/{id}"), &api.john)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        api.get("/api/instances/no-such-instance", &api.john)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let after = scrape(&api, &api.eve).await;
    assert_eq!(
        sample(&after, "baton_instances_started_total{process=\"review\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &after,
            "baton_instances_ended_total{process=\"review\",status=\"completed\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(&after, "baton_engine_steps_total"),
        Some(steps_before + 1.0)
    );
    assert_eq!(
        sample(&after, "baton_engine_step_duration_seconds_count"),
        Some(1.0)
    );
    assert!(sample(&after, "baton_engine_commit_duration_seconds_count").unwrap() >= 1.0);
    assert_eq!(
        sample(
            &after,
            "baton_http_requests_total{method=\"POST\",route=\"/api/instances\",status=\"200\"}"
        ),
        Some(1.0)
    );
    assert_eq!(sample(&after, "baton_http_requests_total{method=\"GET\",route=\"/api/instances/{id}\",status=\"200\"}"), Some(1.0));
    assert_eq!(sample(&after, "baton_http_requests_total{method=\"GET\",route=\"/api/instances/{id}\",status=\"404\"}"), Some(1.0));
    assert_eq!(sample(&after, "baton_http_request_duration_seconds_count{method=\"GET\",route=\"/api/instances/{id}\"}"), Some(2.0));
    assert!(
        !after.contains(&id) && !after.contains("no-such-instance"),
        "paths asked for are no labels:\n{after}"
    );
}

#[tokio::test]
async fn finishing_an_instance_counts_it_under_how_it_ended() {
    let api = api().await;
    let id = api.start_review().await;
    let claim = api
        .post(
            &format!("/api/instances/{id}/tasks/check/human-tasks"),
            &api.john,
            json!({"operation": "claim"}),
        )
        .await;
    assert_eq!(claim.status, StatusCode::OK, "{}", claim.body);
    let complete = api
        .post(
            &format!("/api/instances/{id}/tasks/check/human-tasks"),
            &api.john,
            json!({"operation": "complete", "output": {"approved": true}}),
        )
        .await;
    assert_eq!(complete.status, StatusCode::OK, "{}", complete.body);
    let aborted = api.start_review().await;
    assert_eq!(
        api.post(
            &format!("/api/instances/{aborted}/abort"),
            &api.chief,
            json!({})
        )
        .await
        .status,
        StatusCode::OK
    );

    let text = scrape(&api, &api.john).await;
    assert_eq!(
        sample(&text, "baton_instances_started_total{process=\"review\"}"),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            "baton_instances_ended_total{process=\"review\",status=\"completed\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "baton_instances_ended_total{process=\"review\",status=\"aborted\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "baton_instances_ended_total{process=\"review\",status=\"failed\"}"
        ),
        Some(0.0)
    );
}

#[tokio::test]
async fn a_request_no_route_matches_is_counted_as_unmatched() {
    let api = api().await;
    assert_eq!(
        api.get("/api/nothing/here/12345", &api.john).await.status,
        StatusCode::NOT_FOUND
    );
    let text = scrape(&api, &api.john).await;
    assert_eq!(
        sample(
            &text,
            "baton_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}"
        ),
        Some(1.0)
    );
    assert!(!text.contains("12345"));
}

const ONE_JOB: &str = "id: one-job
tasks:
  - id: work
    kind: job
    command: [sh, -c, 'true']
  - id: wait
    kind: job
    after: [work]
    command: [sh, -c, 'true']
";

#[tokio::test]
async fn the_queue_gauges_count_queued_and_leased_command_jobs_from_the_store() {
    let api = api().await;
    let local = baton_service::Service::local(api.engine.clone());
    local
        .deploy(
            "operator",
            vec![SourceFile {
                name: "one-job.yaml".into(),
                bytes: ONE_JOB.as_bytes().to_vec(),
            }],
        )
        .await
        .unwrap();
    let text = scrape(&api, &api.john).await;
    assert_eq!(sample(&text, "baton_jobs_queued{topic=\"\"}"), Some(0.0));
    assert_eq!(sample(&text, "baton_jobs_locked{topic=\"\"}"), Some(0.0));
    assert_eq!(sample(&text, "baton_timers_due"), Some(0.0));

    for _ in 0..3 {
        let started = api
            .post("/api/instances", &api.john, json!({"process": "one-job"}))
            .await;
        assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    }
    let leased = api
        .engine
        .store()
        .claim_jobs(
            "a-worker",
            1,
            std::time::Duration::from_secs(60),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);

    let text = scrape(&api, &api.john).await;
    assert_eq!(sample(&text, "baton_jobs_queued{topic=\"\"}"), Some(2.0));
    assert_eq!(sample(&text, "baton_jobs_locked{topic=\"\"}"), Some(1.0));
}
