//! `/api/external-jobs`: fetch and lock, reports under the lock, who may work them, and that a
//! refused report changes nothing.

mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};

use support::{api, code, Api};

const INVOICE: &str = "id: invoice
data:
  amount: {type: number}
  approved: {type: boolean}
tasks:
  - id: check
    kind: job
    topic: invoice-check
    retry: 1
  - id: done
    kind: end
    after: [check]
";

/// The API with `invoice` deployed and a user `bot` in group `workers`; bot's token.
async fn with_worker() -> (Api, String) {
    let api = api().await;
    let deployed = api
        .post(
            "/api/definitions",
            &api.chief,
            json!({"files": [{"name": "invoice.yaml", "source": INVOICE}]}),
        )
        .await;
    assert_eq!(deployed.status, StatusCode::OK, "{}", deployed.body);
    assert_eq!(
        api.post("/api/users", &api.chief, json!({"name": "bot"}))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        api.post("/api/groups", &api.chief, json!({"name": "workers"}))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        api.post(
            "/api/groups/workers/members",
            &api.chief,
            json!({"user": "bot"})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let token = api
        .post(
            "/api/tokens",
            &api.chief,
            json!({"user": "bot", "name": "worker"}),
        )
        .await;
    assert_eq!(token.status, StatusCode::CREATED, "{}", token.body);
    let secret = token.body["secret"].as_str().unwrap().to_owned();
    (api, secret)
}

async fn start(api: &Api) -> String {
    let answer = api
        .post(
            "/api/instances",
            &api.john,
            json!({"process": "invoice", "data": {"amount": 12.5}}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["id"].as_str().unwrap().to_owned()
}

async fn fetch(api: &Api, token: &str, worker: &str) -> Value {
    let answer = api
        .post(
            "/api/external-jobs/fetch-and-lock",
            token,
            json!({"worker_id": worker, "topics": ["invoice-check"], "lock_duration_ms": 60000}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

fn job_path(job: &Value, action: &str) -> String {
    format!(
        "/api/external-jobs/{}/{}/{}/{action}",
        job["instance"].as_str().unwrap(),
        job["task"].as_str().unwrap(),
        job["attempt"]
    )
}

#[tokio::test]
async fn a_worker_fetches_a_job_with_its_data_and_completes_it() {
    let (api, bot) = with_worker().await;
    let id = start(&api).await;
    let jobs = fetch(&api, &bot, "w1").await;
    let job = &jobs[0];
    assert_eq!(
        (
            job["instance"].as_str(),
            job["task"].as_str(),
            job["attempt"].as_u64()
        ),
        (Some(id.as_str()), Some("check"), Some(1))
    );
    assert_eq!(
        (job["topic"].as_str(), job["worker"].as_str()),
        (Some("invoice-check"), Some("w1"))
    );
    assert_eq!(job["data"]["amount"], 12.5);
    assert!(job["lock_expires_at"].as_str().unwrap().ends_with('Z'));

    let lock = api
        .post(
            &job_path(job, "extend-lock"),
            &bot,
            json!({"worker_id": "w1", "duration_ms": 120000}),
        )
        .await;
    assert_eq!(lock.status, StatusCode::OK, "{}", lock.body);
    let done = api
        .post(
            &job_path(job, "complete"),
            &bot,
            json!({"worker_id": "w1", "data": {"approved": true}}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(
        (
            done.body["status"].as_str(),
            done.body["data"]["approved"].as_bool()
        ),
        (Some("completed"), Some(true))
    );
    let history = api
        .get(&format!("/api/instances/{id}/history"), &bot)
        .await
        .body;
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "job_reported" && e["worker"] == "bot/w1"),
        "{history}"
    );
}

#[tokio::test]
async fn a_report_by_another_worker_gets_409_and_changes_nothing() {
    let (api, bot) = with_worker().await;
    let id = start(&api).await;
    let job = fetch(&api, &bot, "w1").await[0].clone();
    let before = api.get(&format!("/api/instances/{id}"), &bot).await.body;
    for (action, body) in [
        (
            "complete",
            json!({"worker_id": "w2", "data": {"approved": true}}),
        ),
        ("fail", json!({"worker_id": "w2", "message": "no"})),
        ("end", json!({"worker_id": "w2", "status": "ended_ok"})),
        (
            "extend-lock",
            json!({"worker_id": "w2", "duration_ms": 5000}),
        ),
    ] {
        let refused = api.post(&job_path(&job, action), &bot, body).await;
        assert_eq!(
            (refused.status, code(&refused)),
            (StatusCode::CONFLICT, "conflict"),
            "{action}: {}",
            refused.body
        );
    }
    // The same worker id under another user does not hold the lock either.
    let refused = api
        .post(
            &job_path(&job, "complete"),
            &api.chief,
            json!({"worker_id": "w1"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(
        api.get(&format!("/api/instances/{id}"), &bot).await.body,
        before
    );
}

#[tokio::test]
async fn only_administrators_and_members_of_workers_may_work_external_jobs() {
    let (api, bot) = with_worker().await;
    start(&api).await;
    let refused = api
        .post(
            "/api/external-jobs/fetch-and-lock",
            &api.eve,
            json!({"worker_id": "w", "topics": ["invoice-check"]}),
        )
        .await;
    assert_eq!(
        (refused.status, code(&refused)),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{}",
        refused.body
    );
    // Nothing was locked by the refused fetch.
    let job = fetch(&api, &bot, "w1").await[0].clone();
    let refused = api
        .post(
            &job_path(&job, "complete"),
            &api.eve,
            json!({"worker_id": "w1"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let unauthenticated = api
        .call(
            axum::http::Method::POST,
            "/api/external-jobs/fetch-and-lock",
            None,
            Some(json!({"worker_id": "w", "topics": ["t"]})),
        )
        .await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_fetch_out_of_its_bounds_is_refused_with_422() {
    let (api, bot) = with_worker().await;
    for body in [
        json!({"worker_id": "w", "topics": []}),
        json!({"worker_id": "w", "topics": ["bad topic"]}),
        json!({"worker_id": "", "topics": ["t"]}),
        json!({"worker_id": "w/x", "topics": ["t"]}),
        json!({"worker_id": "w", "topics": ["t"], "max_jobs": 0}),
        json!({"worker_id": "w", "topics": ["t"], "max_jobs": 1001}),
        json!({"worker_id": "w", "topics": ["t"], "lock_duration_ms": 10}),
        json!({"worker_id": "w", "topics": ["t"], "timeout_ms": 300001}),
        json!({"worker_id": "w", "topics": ["t"], "surprise": 1}),
    ] {
        let refused = api
            .post("/api/external-jobs/fetch-and-lock", &bot, body.clone())
            .await;
        assert!(
            refused.status == StatusCode::UNPROCESSABLE_ENTITY
                || refused.status == StatusCode::BAD_REQUEST,
            "{body}: {} {}",
            refused.status,
            refused.body
        );
    }
}

#[tokio::test]
async fn a_failure_with_a_retry_left_waits_for_retry_and_a_business_error_ends_the_task() {
    let (api, bot) = with_worker().await;
    let id = start(&api).await;
    let job = fetch(&api, &bot, "w1").await[0].clone();
    let failed = api
        .post(
            &job_path(&job, "fail"),
            &bot,
            json!({"worker_id": "w1", "message": "ledger down", "retry_after_ms": 3600000}),
        )
        .await;
    assert_eq!(failed.status, StatusCode::OK, "{}", failed.body);
    assert_eq!(failed.body["tasks"]["check"]["status"], "waiting_for_retry");

    let other = start(&api).await;
    let job = fetch(&api, &bot, "w1").await[0].clone();
    assert_eq!(job["instance"].as_str(), Some(other.as_str()));
    let ended = api
        .post(
            &job_path(&job, "end"),
            &bot,
            json!({"worker_id": "w1", "status": "ended_not_ok", "message": "customer unknown"}),
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    assert_eq!(ended.body["tasks"]["check"]["status"], "ended_not_ok");
    assert_eq!(
        ended.body["tasks"]["check"]["reason"]["rule"],
        "ended_by_worker"
    );
    assert_ne!(id, other);
}
