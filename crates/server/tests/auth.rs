//! Authentication: every `/api/...` request needs a valid bearer token, and acts as its user.

mod support;

use axum::http::{header, Method, StatusCode};
use serde_json::json;

use support::{api, code};

#[tokio::test]
async fn a_request_without_a_token_bad_token_or_revoked_token_gets_the_same_401() {
    let api = api().await;
    let revoked = api
        .post("/api/tokens", &api.eve, json!({"name": "short-lived"}))
        .await;
    let id = revoked.body["token"]["id"].as_str().unwrap().to_owned();
    let secret = revoked.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        api.get("/api/definitions", &secret).await.status,
        StatusCode::OK
    );
    assert_eq!(
        api.call(
            Method::DELETE,
            &format!("/api/tokens/{id}"),
            Some(&api.eve),
            None
        )
        .await
        .status,
        StatusCode::OK
    );

    let answers = [
        api.call(Method::GET, "/api/definitions", None, None).await,
        api.get("/api/definitions", "baton_0000_nope").await,
        api.get("/api/definitions", "not-a-token").await,
        api.get("/api/definitions", &secret).await,
    ];
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.headers[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(answer.body, answers[0].body);
    }
    assert_eq!(code(&answers[0]), "unauthenticated");
    assert_eq!(answers[0].body["error"]["details"], json!(null));
}

#[tokio::test]
async fn healthz_and_readyz_need_no_token() {
    let api = api().await;
    let health = api.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((health.status, health.body), (StatusCode::OK, json!("ok")));
    let ready = api.call(Method::GET, "/readyz", None, None).await;
    assert_eq!((ready.status, ready.body), (StatusCode::OK, json!("ready")));
}

#[tokio::test]
async fn a_request_acts_as_its_tokens_user() {
    let api = api().await;
    let tokens = api.get("/api/tokens", &api.john).await;
    assert_eq!(tokens.status, StatusCode::OK);
    let users: Vec<&str> = tokens
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["user"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["john"]);
}

#[tokio::test]
async fn only_an_administrator_lists_everyones_tokens() {
    let api = api().await;
    let refused = api.get("/api/tokens?user=*", &api.john).await;
    assert_eq!(
        (refused.status, code(&refused)),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let all = api.get("/api/tokens?user=*", &api.chief).await;
    assert_eq!(all.body.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let api = api().await;
    let answer = api.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(answer.headers["x-request-id"].to_str().unwrap().len(), 36);
}
