//! Bad requests get a 4xx JSON error body, and a refused request changes nothing stored.

mod support;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;

use support::{api, code};

#[tokio::test]
async fn a_deploy_with_a_problem_in_any_file_is_422_with_each_problem_and_stores_nothing() {
    let api = api().await;
    let files = json!({"files": [
        {"name": "good.yaml", "source": "id: good\ntasks:\n  - id: a\n    kind: end\n"},
        {"name": "bad.yaml", "source": "id: bad\ntasks:\n  - id: a\n    kind: nope\n"},
    ]});
    let answer = api.post("/api/definitions", &api.chief, files).await;
    assert_eq!(
        (answer.status, code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    let problems = answer.body["error"]["details"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{}", answer.body);
    assert_eq!(
        (
            problems[0]["file"].as_str(),
            problems[0]["line"].as_u64(),
            problems[0]["column"].as_u64()
        ),
        (Some("bad.yaml"), Some(4), Some(11))
    );
    let ids: Vec<String> = api
        .get("/api/definitions", &api.chief)
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["review"]);
}

#[tokio::test]
async fn json_that_does_not_parse_is_400_with_a_json_error_body() {
    let api = api().await;
    let request = Request::post("/api/instances")
        .header(header::AUTHORIZATION, format!("Bearer {}", api.john))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"process\": "))
        .unwrap();
    let answer = api.send(request).await;
    assert_eq!(
        (answer.status, code(&answer)),
        (StatusCode::BAD_REQUEST, "invalid")
    );
    assert_eq!(
        api.get("/api/instances", &api.john).await.body,
        json!({"instances": [], "next_cursor": null})
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_content_is_415() {
    let api = api().await;
    let request = Request::post("/api/instances")
        .header(header::AUTHORIZATION, format!("Bearer {}", api.john))
        .body(Body::from("process=review"))
        .unwrap();
    let answer = api.send(request).await;
    assert_eq!(
        (answer.status, code(&answer)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid")
    );
}

#[tokio::test]
async fn a_body_past_the_limit_is_413_and_deploys_nothing() {
    let api = api().await;
    let big = "#".repeat(baton_server::MAX_BODY_BYTES);
    let answer = api
        .post(
            "/api/definitions",
            &api.chief,
            json!({"files": [{"name": "big.yaml", "source": big}]}),
        )
        .await;
    assert_eq!(
        (answer.status, code(&answer)),
        (StatusCode::PAYLOAD_TOO_LARGE, "invalid")
    );
    assert_eq!(
        api.get("/api/definitions", &api.chief)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_field_the_api_does_not_take_is_refused_not_ignored() {
    let api = api().await;
    let answer = api
        .post(
            "/api/instances",
            &api.john,
            json!({"process": "review", "priority": "k1"}),
        )
        .await;
    assert_eq!(
        (answer.status, code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    assert_eq!(
        api.get("/api/instances", &api.john).await.body,
        json!({"instances": [], "next_cursor": null})
    );
}

#[tokio::test]
async fn data_that_fails_the_definitions_checks_is_422_and_starts_nothing() {
    let api = api().await;
    let answer = api
        .post(
            "/api/instances",
            &api.john,
            json!({"process": "review", "data": {"approved": "yes"}}),
        )
        .await;
    assert_eq!(
        (answer.status, code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        "{}",
        answer.body
    );
    assert_eq!(
        api.get("/api/instances", &api.john).await.body,
        json!({"instances": [], "next_cursor": null})
    );
}

#[tokio::test]
async fn unknown_things_are_404() {
    let api = api().await;
    for path in [
        "/api/instances/nope",
        "/api/definitions/nope",
        "/api/definitions/review/source?version=9",
        "/api/nothing-here",
    ] {
        let answer = api.get(path, &api.john).await;
        assert_eq!(
            (answer.status, code(&answer)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let answer = api
        .post("/api/incidents/99/resolve", &api.chief, json!({}))
        .await;
    assert_eq!(
        (answer.status, code(&answer)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn a_listing_limit_past_its_bound_is_422() {
    let api = api().await;
    let answer = api.get("/api/instances?limit=0", &api.john).await;
    assert_eq!(
        (answer.status, code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    let answer = api.get("/api/instances?limit=many", &api.john).await;
    assert_eq!(
        (answer.status, code(&answer)),
        (StatusCode::BAD_REQUEST, "invalid")
    );
}

#[tokio::test]
async fn a_method_a_route_does_not_take_is_405_json() {
    let api = api().await;
    let answer = api
        .call(Method::PUT, "/api/definitions", Some(&api.john), None)
        .await;
    assert_eq!(
        (answer.status, code(&answer)),
        (StatusCode::METHOD_NOT_ALLOWED, "invalid")
    );
}

#[tokio::test]
async fn only_an_administrator_adds_people_and_a_refusal_adds_no_one() {
    let api = api().await;
    let refused = api
        .post(
            "/api/users",
            &api.john,
            json!({"name": "mallory", "admin": true}),
        )
        .await;
    assert_eq!(
        (refused.status, code(&refused)),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let refused = api
        .post("/api/groups", &api.john, json!({"name": "cabal"}))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let users: Vec<String> = api
        .get("/api/users", &api.john)
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(users, ["chief", "eve", "john", "operator"]);
    assert_eq!(
        api.get("/api/groups", &api.john)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn adding_a_user_who_exists_is_409() {
    let api = api().await;
    let answer = api
        .post("/api/users", &api.chief, json!({"name": "eve"}))
        .await;
    assert_eq!(
        (answer.status, code(&answer)),
        (StatusCode::CONFLICT, "conflict")
    );
}

#[tokio::test]
async fn someone_who_may_not_claim_a_human_task_is_403_and_it_stays_ready() {
    let api = api().await;
    let id = api.start_review().await;
    let path = format!("/api/instances/{id}/tasks/check/human-tasks");
    let refused = api
        .post(&path, &api.eve, json!({"operation": "claim"}))
        .await;
    assert_eq!(
        (refused.status, code(&refused)),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let shown = api.get(&path, &api.eve).await;
    assert_eq!(shown.body["human_tasks"][0]["status"], "ready");
}

#[tokio::test]
async fn claiming_a_claimed_human_task_is_409() {
    let api = api().await;
    let id = api.start_review().await;
    let path = format!("/api/instances/{id}/tasks/check/human-tasks");
    assert_eq!(
        api.post(&path, &api.john, json!({"operation": "claim"}))
            .await
            .status,
        StatusCode::OK
    );
    let again = api
        .post(&path, &api.chief, json!({"operation": "claim"}))
        .await;
    assert_eq!(
        (again.status, code(&again)),
        (StatusCode::CONFLICT, "conflict")
    );
    assert_eq!(
        api.get(&path, &api.john).await.body["human_tasks"][0]["claimed_by"],
        "john"
    );
}

#[tokio::test]
async fn an_unknown_human_task_operation_is_422() {
    let api = api().await;
    let id = api.start_review().await;
    let answer = api
        .post(
            &format!("/api/instances/{id}/tasks/check/human-tasks"),
            &api.john,
            json!({"operation": "steal"}),
        )
        .await;
    assert_eq!(
        (answer.status, code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
}
