//! The routes of the instance hierarchy: a case, an instance's children, recovering an
//! instance, and aborting one with or without a body asking to abort its parent; each with
//! its refusals (an unknown id, a body that is not what the route takes, a state that allows
//! no recovery).

mod support;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};

use support::{code, Answer, Api};

/// A child that waits for john, and a process that calls it.
const CHILD: &str =
    "id: child\ntasks:\n  - id: approve\n    kind: user\n    title: Approve\n    owners: [john]\n";
const CALLER: &str = "id: caller\ntasks:\n  - id: sub\n    kind: call\n    process: child\n";

async fn api() -> Api {
    let api = support::api().await;
    let files = json!({"files": [{"name": "child.yaml", "source": CHILD}, {"name": "caller.yaml", "source": CALLER}]});
    assert_eq!(
        api.post("/api/definitions", &api.chief, files).await.status,
        StatusCode::OK
    );
    api
}

/// Starts a caller; its id and its child's.
async fn start_caller(api: &Api) -> (String, String) {
    let started = api
        .post("/api/instances", &api.john, json!({"process": "caller"}))
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let id = started.body["id"].as_str().unwrap().to_owned();
    let child = started.body["tasks"]["sub"]["child"]
        .as_str()
        .expect("the call started its child")
        .to_owned();
    (id, child)
}

/// Delivers what children told their parents (the worker's timers).
async fn settle(api: &Api) {
    while api.engine.fire_due_timers(100).await.unwrap() > 0 {}
}

async fn status(api: &Api, id: &str) -> Value {
    api.get(&format!("/api/instances/{id}"), &api.eve)
        .await
        .body["status"]
        .clone()
}

/// A POST of `body` as it is, with `content_type` if any.
async fn post_raw(api: &Api, path: &str, content_type: Option<&str>, body: &'static str) -> Answer {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {}", api.john));
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    api.send(request.body(Body::from(body)).unwrap()).await
}

#[tokio::test]
async fn a_case_is_its_instances_oldest_first_and_an_unknown_case_is_404() {
    let api = api().await;
    let (id, child) = start_caller(&api).await;
    let case = api.get(&format!("/api/cases/{id}"), &api.eve).await;
    assert_eq!(case.status, StatusCode::OK, "{}", case.body);
    assert_eq!(case.body["id"], json!(id));
    let rows: Vec<Value> = case.body["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| json!([i["id"], i["parent"], i["link"], i["case"]]))
        .collect();
    assert_eq!(
        rows,
        [json!([id, null, null, id]), json!([child, id, "call", id])]
    );
    let unknown = api.get("/api/cases/no-such-case", &api.eve).await;
    assert_eq!(
        (unknown.status, code(&unknown)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let listed = api
        .get(&format!("/api/instances?case={child}"), &api.eve)
        .await;
    assert_eq!(
        (listed.status, listed.body["instances"].clone()),
        (StatusCode::OK, json!([])),
        "a sub-process's id names no case"
    );
}

#[tokio::test]
async fn an_instances_children_are_listed_and_an_unknown_instance_is_404() {
    let api = api().await;
    let (id, child) = start_caller(&api).await;
    let children = api
        .get(&format!("/api/instances/{id}/children"), &api.eve)
        .await;
    assert_eq!(children.status, StatusCode::OK);
    let rows: Vec<Value> = children
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| json!([c["id"], c["process"], c["status"], c["link"]]))
        .collect();
    assert_eq!(rows, [json!([child, "child", "waiting", "call"])]);
    assert_eq!(
        api.get(&format!("/api/instances/{child}/children"), &api.eve)
            .await
            .body,
        json!([])
    );
    let unknown = api
        .get("/api/instances/no-such-instance/children", &api.eve)
        .await;
    assert_eq!(
        (unknown.status, code(&unknown)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn recovering_a_failed_caller_runs_its_call_again_on_the_same_child_and_anything_else_is_refused(
) {
    let api = api().await;
    let (id, child) = start_caller(&api).await;
    let refused = api
        .post(
            &format!("/api/instances/{id}/recover"),
            &api.john,
            json!({}),
        )
        .await;
    assert_eq!(
        (refused.status, code(&refused)),
        (StatusCode::CONFLICT, "conflict"),
        "nothing of it failed: {}",
        refused.body
    );
    let path = format!("/api/instances/{child}/tasks/approve/human-tasks");
    assert_eq!(
        api.post(&path, &api.john, json!({"operation": "claim"}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        api.post(
            &path,
            &api.john,
            json!({"operation": "fail", "note": "not yet"})
        )
        .await
        .status,
        StatusCode::OK
    );
    settle(&api).await;
    assert_eq!(status(&api, &id).await, "failed");

    let recovered = api
        .call(
            Method::POST,
            &format!("/api/instances/{id}/recover"),
            Some(&api.john),
            None,
        )
        .await;
    assert_eq!(recovered.status, StatusCode::OK, "{}", recovered.body);
    assert_eq!(
        (
            recovered.body["status"].clone(),
            recovered.body["tasks"]["sub"]["child"].clone()
        ),
        (json!("running"), json!(child))
    );
    assert_eq!(
        status(&api, &child).await,
        "waiting",
        "its child was recovered, not replaced"
    );
    let unknown = api
        .post(
            "/api/instances/no-such-instance/recover",
            &api.john,
            json!({}),
        )
        .await;
    assert_eq!(
        (unknown.status, code(&unknown)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn an_abort_asking_for_it_aborts_the_callers_of_a_sub_process() {
    let api = api().await;
    let (id, child) = start_caller(&api).await;
    let aborted = api
        .post(
            &format!("/api/instances/{child}/abort"),
            &api.john,
            json!({"abort_parent": true}),
        )
        .await;
    assert_eq!(
        (aborted.status, aborted.body["status"].clone()),
        (StatusCode::OK, json!("aborted")),
        "{}",
        aborted.body
    );
    settle(&api).await;
    assert_eq!(status(&api, &id).await, "aborted");
}

#[tokio::test]
async fn an_abort_without_a_body_or_with_an_empty_one_leaves_the_caller_to_its_call() {
    let api = api().await;
    for body in [
        None,
        Some(Value::Null),
        Some(json!({})),
        Some(json!({"abort_parent": false})),
    ] {
        let (id, child) = start_caller(&api).await;
        let aborted = api
            .call(
                Method::POST,
                &format!("/api/instances/{child}/abort"),
                Some(&api.john),
                body.clone(),
            )
            .await;
        assert_eq!(aborted.status, StatusCode::OK, "{body:?}: {}", aborted.body);
        settle(&api).await;
        assert_eq!(
            status(&api, &id).await,
            "failed",
            "{body:?}: the call ended not OK and nothing handled it"
        );
    }
}

#[tokio::test]
async fn an_abort_with_a_body_it_does_not_take_is_refused_and_aborts_nothing() {
    let api = api().await;
    let (_, child) = start_caller(&api).await;
    let path = format!("/api/instances/{child}/abort");
    let refusals = [
        (
            Some("application/json"),
            r#"{"abort_parent": "yes"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Some("application/json"),
            r#"{"abort_parents": true}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Some("application/json"),
            r#"{"abort_parent": tru"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            None,
            r#"{"abort_parent": true}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Some("text/plain"),
            r#"{"abort_parent": true}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ];
    for (content_type, body, expected) in refusals {
        let answer = post_raw(&api, &path, content_type, body).await;
        assert_eq!(
            (answer.status, code(&answer)),
            (expected, "invalid"),
            "{content_type:?} {body}: {}",
            answer.body
        );
    }
    assert_eq!(status(&api, &child).await, "waiting");
    let unknown = api
        .post(
            "/api/instances/no-such-instance/abort",
            &api.john,
            json!({"abort_parent": true}),
        )
        .await;
    assert_eq!(
        (unknown.status, code(&unknown)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

/// A request only john may start, spawned under callers or started in their place.
const REQUEST: &str = "id: request\nstartable_by: [john]\ndata:\n  topic: {type: string, default: ''}\ntasks:\n  - {id: handle, kind: user, title: Handle, owners: [john]}\n";

async fn with_request() -> Api {
    let api = api().await;
    let files = json!({"files": [{"name": "request.yaml", "source": REQUEST}]});
    assert_eq!(
        api.post("/api/definitions", &api.chief, files).await.status,
        StatusCode::OK
    );
    api
}

#[tokio::test]
async fn spawn_answers_with_a_subprocess_of_the_root_and_refuses_what_may_not_start() {
    let api = with_request().await;
    let (caller, child) = start_caller(&api).await;
    let spawned = api
        .post(
            &format!("/api/instances/{child}/spawn"),
            &api.john,
            json!({"process": "request", "data": {"topic": "refund"}}),
        )
        .await;
    assert_eq!(spawned.status, StatusCode::OK, "{}", spawned.body);
    assert_eq!(
        (
            spawned.body["parent"]["instance"].clone(),
            spawned.body["parent"]["link"].clone()
        ),
        (Value::from(caller.clone()), Value::from("spawned"))
    );
    assert_eq!(spawned.body["data"]["topic"], "refund");

    let forbidden = api
        .post(
            &format!("/api/instances/{caller}/spawn"),
            &api.eve,
            json!({"process": "request"}),
        )
        .await;
    assert_eq!(
        (forbidden.status, code(&forbidden)),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let unknown = api
        .post(
            &format!("/api/instances/{caller}/spawn"),
            &api.john,
            json!({"process": "nowhere"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let no_instance = api
        .post(
            "/api/instances/nobody/spawn",
            &api.john,
            json!({"process": "request"}),
        )
        .await;
    assert_eq!(no_instance.status, StatusCode::NOT_FOUND);
    let bad_data = api
        .post(
            &format!("/api/instances/{caller}/spawn"),
            &api.john,
            json!({"process": "request", "data": {"topic": 1}}),
        )
        .await;
    assert_eq!(bad_data.status.as_u16() / 100, 4, "{}", bad_data.body);
    let misspelt = api
        .post(
            &format!("/api/instances/{caller}/spawn"),
            &api.john,
            json!({"proces": "request"}),
        )
        .await;
    assert_eq!(misspelt.status, StatusCode::UNPROCESSABLE_ENTITY);
    let aborted = api
        .post(
            &format!("/api/instances/{caller}/abort"),
            &api.john,
            json!({}),
        )
        .await;
    assert_eq!(aborted.status, StatusCode::OK);
    let ended = api
        .post(
            &format!("/api/instances/{caller}/spawn"),
            &api.john,
            json!({"process": "request"}),
        )
        .await;
    assert_eq!(ended.status, StatusCode::CONFLICT);
    let children = api
        .get(&format!("/api/instances/{caller}/children"), &api.john)
        .await;
    assert_eq!(
        children.body.as_array().unwrap().len(),
        2,
        "the call's child and the one spawned: no refused spawn left anything"
    );
}

#[tokio::test]
async fn abort_and_start_answers_with_the_peer_and_refuses_what_may_not_start() {
    let api = with_request().await;
    let (caller, _) = start_caller(&api).await;
    let forbidden = api
        .post(
            &format!("/api/instances/{caller}/abort-and-start"),
            &api.eve,
            json!({"process": "request"}),
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(
        status(&api, &caller).await,
        "running",
        "a refusal aborts nothing"
    );
    let peer = api
        .post(
            &format!("/api/instances/{caller}/abort-and-start"),
            &api.john,
            json!({"process": "request"}),
        )
        .await;
    assert_eq!(peer.status, StatusCode::OK, "{}", peer.body);
    assert_eq!(peer.body["parent"]["link"], "peer");
    settle(&api).await;
    let old = api
        .get(&format!("/api/instances/{caller}"), &api.john)
        .await
        .body;
    assert_eq!(
        (old["status"].clone(), old["replaced_by"].clone()),
        (Value::from("aborted"), peer.body["id"].clone())
    );
}

#[tokio::test]
async fn the_definitions_a_user_may_start_are_listed_with_startable() {
    let api = with_request().await;
    let ids = |answer: Answer| -> Vec<String> {
        answer
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut john = ids(api.get("/api/definitions?startable=true", &api.john).await);
    john.sort();
    assert_eq!(john, ["caller", "child", "request", "review"]);
    let mut eve = ids(api.get("/api/definitions?startable=true", &api.eve).await);
    eve.sort();
    assert_eq!(eve, ["caller", "child", "review"]);
    assert_eq!(
        api.get("/api/definitions?startable=maybe", &api.eve)
            .await
            .status
            .as_u16()
            / 100,
        4
    );
}
