//! `/api/sessions` over HTTP: a session's workflows driven through the routes, the JSON error
//! of a submission that does not fit the view, and concurrent requests in one session (two
//! tabs of one user) that never corrupt its cache or submit a view twice.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use support::{api, code, Api};

const NOTE: &str = "id: note\ninteractive: true\nauto_persist: true\ndata:\n  text: string\ntasks:\n  - id: write\n    kind: view\n    form:\n      text: string\n";

async fn with_note() -> Api {
    let api = api().await;
    let deployed = api
        .post(
            "/api/definitions",
            &api.chief,
            json!({"files": [{"name": "note.yaml", "source": NOTE}]}),
        )
        .await;
    assert_eq!(deployed.status, StatusCode::OK, "{}", deployed.body);
    api
}

async fn login(api: &Api) -> String {
    let session = api
        .call(Method::POST, "/api/sessions", Some(&api.john), None)
        .await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    assert_eq!(session.body["cache_size"], 8);
    session.body["id"].as_str().unwrap().to_owned()
}

async fn start(api: &Api, session: &str) -> Value {
    let started = api
        .post(
            &format!("/api/sessions/{session}/workflows"),
            &api.john,
            json!({"process": "note"}),
        )
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    started.body
}

#[tokio::test]
async fn a_workflow_is_started_submitted_and_listed_through_the_routes() {
    let api = with_note().await;
    let session = login(&api).await;
    let started = start(&api, &session).await;
    let id = started["workflow"]["instance"].as_str().unwrap().to_owned();
    assert_eq!(
        started["workflow"]["view"]["fields"][0],
        json!({"name": "text", "type": "string", "required": true, "description": null})
    );
    let listed = api
        .get(&format!("/api/sessions/{session}/workflows"), &api.john)
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);

    let bad = api
        .post(
            &format!("/api/sessions/{session}/workflows/{id}/submit"),
            &api.john,
            json!({"data": {"text": 1}}),
        )
        .await;
    assert_eq!(
        (bad.status, code(&bad)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        "{}",
        bad.body
    );
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`text` must be"),
        "{}",
        bad.body
    );

    let done = api
        .post(
            &format!("/api/sessions/{session}/workflows/{id}/submit"),
            &api.john,
            json!({"data": {"text": "hi"}}),
        )
        .await;
    assert_eq!(
        (done.status, &done.body["workflow"]["status"]),
        (StatusCode::OK, &json!("completed")),
        "{}",
        done.body
    );
    let out = api
        .call(
            Method::DELETE,
            &format!("/api/sessions/{session}"),
            Some(&api.john),
            None,
        )
        .await;
    assert_eq!(
        (out.status, &out.body["left"]),
        (StatusCode::OK, &json!([]))
    );
    let gone = api
        .get(&format!("/api/sessions/{session}"), &api.john)
        .await;
    assert_eq!(
        (gone.status, code(&gone)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_in_one_session_keep_its_cache_whole_and_submit_a_view_once() {
    let api = std::sync::Arc::new(with_note().await);
    let session = login(&api).await;
    // Twelve starts at once: eight stay, four leave for the inbox, each exactly once.
    let mut tabs = Vec::new();
    for _ in 0..12 {
        let (api, session) = (api.clone(), session.clone());
        tabs.push(tokio::spawn(async move { start(&api, &session).await }));
    }
    let mut left = Vec::new();
    let mut started = Vec::new();
    for tab in tabs {
        let step = tab.await.unwrap();
        started.push(step["workflow"]["instance"].as_str().unwrap().to_owned());
        left.extend(
            step["left"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["instance"].as_str().unwrap().to_owned()),
        );
    }
    let cached: Vec<String> = api
        .get(&format!("/api/sessions/{session}/workflows"), &api.john)
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["instance"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!((cached.len(), left.len()), (8, 4));
    let mut all: Vec<String> = cached.iter().chain(&left).cloned().collect();
    all.sort();
    started.sort();
    assert_eq!(all, started);
    let inbox = api.get("/api/inbox", &api.john).await.body;
    assert_eq!(inbox["workflows"].as_array().unwrap().len(), 4);

    // Two tabs submit the same view at once: one is taken, the other refused with 409.
    let id = cached[0].clone();
    let submit = |text: &'static str| {
        let (api, path) = (
            api.clone(),
            format!("/api/sessions/{session}/workflows/{id}/submit"),
        );
        tokio::spawn(async move {
            api.post(&path, &api.john, json!({"data": {"text": text}}))
                .await
        })
    };
    let (a, b) = (submit("a"), submit("b"));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{} {}",
        a.body,
        b.body
    );
    let history = api
        .get(&format!("/api/instances/{id}/history"), &api.john)
        .await
        .body;
    let written: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "data_changed")
        .collect();
    assert_eq!(written.len(), 1, "one submission wrote data");
}
