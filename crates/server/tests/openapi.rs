//! The OpenAPI document lists every route the router serves, and `/docs` renders it.

mod support;

use std::str::FromStr;

use axum::http::{Method, StatusCode};

use support::api;

#[tokio::test]
async fn every_documented_operation_is_served_and_asks_for_a_token() {
    let api = api().await;
    let document = api.call(Method::GET, "/openapi.json", None, None).await.body;
    assert_eq!(document["openapi"], "3.1.0");
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations += 1;
            let concrete = path.replace("{id}", "1").replace(['{', '}'], "");
            let answer = api.call(Method::from_str(&method.to_uppercase()).unwrap(), &concrete, None, None).await;
            let open = path == "/healthz" || path == "/readyz";
            let expected = if open { StatusCode::OK } else { StatusCode::UNAUTHORIZED };
            assert_eq!(answer.status, expected, "{method} {path}");
        }
    }
    assert_eq!(operations, 43);
}

#[tokio::test]
async fn the_document_holds_every_route_of_the_api() {
    let document = serde_json::to_value(baton_server::openapi_document()).unwrap();
    let paths: Vec<&str> = document["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    let routes = [
        "/api/definitions", "/api/definitions/{id}", "/api/definitions/{id}/versions", "/api/definitions/{id}/source",
        "/api/instances", "/api/instances/{id}", "/api/instances/{id}/history", "/api/instances/{id}/abort",
        "/api/instances/{id}/tasks/{task}/retry", "/api/instances/{id}/tasks/{task}/skip", "/api/instances/{id}/tasks/{task}/breakpoint",
        "/api/instances/{id}/tasks/{task}/input", "/api/instances/{id}/tasks/{task}/human-tasks", "/api/instances/{id}/incidents", "/api/inbox",
        "/api/me", "/api/users", "/api/groups", "/api/groups/{group}/members", "/api/groups/{group}/members/{member}", "/api/departments",
        "/api/tokens", "/api/tokens/{id}", "/api/incidents", "/api/incidents/{id}/retry", "/api/incidents/{id}/resolve",
        "/api/external-jobs/fetch-and-lock", "/api/external-jobs/{instance}/{task}/{attempt}/complete",
        "/api/external-jobs/{instance}/{task}/{attempt}/fail", "/api/external-jobs/{instance}/{task}/{attempt}/end",
        "/api/external-jobs/{instance}/{task}/{attempt}/extend-lock",
        "/api/events", "/metrics", "/healthz", "/readyz",
    ];
    let mut expected = routes.to_vec();
    expected.sort_unstable();
    assert_eq!(paths, expected);
}

#[tokio::test]
async fn docs_is_an_html_page_of_every_operation_with_nothing_from_elsewhere() {
    let api = api().await;
    let page = api.call(Method::GET, "/docs", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.body.as_str().unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<code>POST /api/instances/{id}/tasks/{task}/human-tasks</code>"));
    assert!(html.contains("id=\"schema-HumanTaskOperation\""));
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"));
}
