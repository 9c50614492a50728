//! Each route's success: it calls the service and answers with its view.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;

use support::{api, code};

#[tokio::test]
async fn a_deploy_stores_the_next_version_and_the_definition_routes_read_it() {
    let api = api().await;
    let same = api
        .post(
            "/api/definitions",
            &api.john,
            json!({"files": [{"name": "review2.yaml", "source": support::REVIEW}]}),
        )
        .await;
    assert_eq!(
        (same.status, same.body),
        (
            StatusCode::OK,
            json!([{"file": "review2.yaml", "id": "review", "version": 1, "unchanged": true}])
        ),
        "the same source stores nothing"
    );
    let changed = format!("{}# changed\n", support::REVIEW);
    let answer = api
        .post(
            "/api/definitions",
            &api.john,
            json!({"files": [{"name": "review2.yaml", "source": changed}]}),
        )
        .await;
    assert_eq!(
        (answer.status, answer.body),
        (
            StatusCode::OK,
            json!([{"file": "review2.yaml", "id": "review", "version": 2, "unchanged": false}])
        )
    );
    assert_eq!(
        api.get("/api/definitions/review", &api.john).await.body["version"],
        2
    );
    assert_eq!(
        api.get("/api/definitions/review?version=1", &api.john)
            .await
            .body["file"],
        "review.yaml"
    );
    let versions: Vec<u64> = api
        .get("/api/definitions/review/versions", &api.john)
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2]);
    let source = api
        .get("/api/definitions/review/source?version=1", &api.john)
        .await;
    assert_eq!(source.body["source"], support::REVIEW);
    let graph = api
        .get("/api/definitions/review/graph?version=1", &api.john)
        .await;
    assert_eq!(
        (graph.status, graph.body),
        (
            StatusCode::OK,
            json!({"id": "review", "version": 1,
                "nodes": [{"id": "check", "kind": "user", "name": null}, {"id": "done", "kind": "end", "name": null}],
                "edges": [{"from": "check", "to": "done", "kind": "after", "label": null}]})
        )
    );
    assert_eq!(
        api.get("/api/definitions/nope/graph", &api.john)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_instance_is_started_listed_shown_and_its_history_read() {
    let api = api().await;
    let id = api.start_review().await;
    let listed = api
        .get("/api/instances?status=waiting&limit=5", &api.eve)
        .await;
    assert_eq!(
        listed.body["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [id.as_str()]
    );
    assert_eq!(listed.body["next_cursor"], serde_json::Value::Null);
    let shown = api.get(&format!("/api/instances/{id}"), &api.eve).await;
    assert_eq!(
        (
            shown.body["status"].as_str(),
            shown.body["tasks"]["check"]["status"].as_str()
        ),
        (Some("waiting"), Some("ready"))
    );
    let history = api
        .get(&format!("/api/instances/{id}/history"), &api.eve)
        .await;
    assert_eq!(history.status, StatusCode::OK);
    assert!(!history.body.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_human_task_is_claimed_and_completed_and_the_instance_completes() {
    let api = api().await;
    let id = api.start_review().await;
    let inbox = api.get("/api/inbox?status=ready", &api.john).await;
    assert_eq!(
        inbox.body["rows"][0]["instance"].as_str(),
        Some(id.as_str())
    );
    let path = format!("/api/instances/{id}/tasks/check/human-tasks");
    let claimed = api
        .post(&path, &api.john, json!({"operation": "claim"}))
        .await;
    assert_eq!(
        (
            claimed.body["human_task_id"].as_u64(),
            claimed.body["human_task"]["status"].as_str()
        ),
        (Some(0), Some("claimed"))
    );
    let done = api
        .post(
            &path,
            &api.john,
            json!({"operation": "complete", "output": {"approved": true}}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["instance"]["status"], "completed");
    assert_eq!(done.body["instance"]["data"], json!({"approved": true}));
}

#[tokio::test]
async fn an_administrator_suspends_and_resumes_a_chain() {
    let api = api().await;
    let id = api.start_review().await;
    let path = format!("/api/instances/{id}/tasks/check/human-tasks?number=0");
    assert_eq!(
        api.post(&path, &api.chief, json!({"operation": "suspend"}))
            .await
            .body["human_task"]["status"],
        "suspended"
    );
    assert_eq!(
        api.post(&path, &api.chief, json!({"operation": "resume"}))
            .await
            .body["human_task"]["status"],
        "ready"
    );
}

#[tokio::test]
async fn a_breakpoint_is_set_and_cleared_and_an_instance_aborted_then_deleted() {
    let api = api().await;
    let id = api.start_review().await;
    let set = api
        .post(
            &format!("/api/instances/{id}/tasks/done/breakpoint"),
            &api.john,
            json!({}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let cleared = api
        .call(
            Method::DELETE,
            &format!("/api/instances/{id}/tasks/done/breakpoint"),
            Some(&api.john),
            None,
        )
        .await;
    assert_eq!(cleared.status, StatusCode::OK);
    let aborted = api
        .post(&format!("/api/instances/{id}/abort"), &api.john, json!({}))
        .await;
    assert_eq!(aborted.body["status"], "aborted");
    let again = api
        .post(&format!("/api/instances/{id}/abort"), &api.john, json!({}))
        .await;
    assert_eq!(
        (again.status, code(&again)),
        (StatusCode::CONFLICT, "conflict")
    );
    let deleted = api
        .call(
            Method::DELETE,
            &format!("/api/instances/{id}"),
            Some(&api.john),
            None,
        )
        .await;
    assert!(deleted.body["deleted_at"].is_string(), "{}", deleted.body);
    // Still there to read, and it takes no more commands: deleting it again is a conflict.
    assert_eq!(
        api.get(&format!("/api/instances/{id}"), &api.john)
            .await
            .status,
        StatusCode::OK
    );
    let twice = api
        .call(
            Method::DELETE,
            &format!("/api/instances/{id}"),
            Some(&api.john),
            None,
        )
        .await;
    assert_eq!(
        (twice.status, code(&twice)),
        (StatusCode::CONFLICT, "conflict")
    );
}

#[tokio::test]
async fn skipping_or_retrying_a_task_that_is_not_ready_for_it_is_409() {
    let api = api().await;
    let id = api.start_review().await;
    let retry = api
        .post(
            &format!("/api/instances/{id}/tasks/check/retry"),
            &api.john,
            json!({}),
        )
        .await;
    assert_eq!(
        (retry.status, code(&retry)),
        (StatusCode::CONFLICT, "conflict")
    );
    let input = api
        .post(
            &format!("/api/instances/{id}/tasks/check/input"),
            &api.john,
            json!({"values": {}}),
        )
        .await;
    assert_eq!(
        (input.status, code(&input)),
        (StatusCode::CONFLICT, "conflict")
    );
    let skip = api
        .post(
            &format!("/api/instances/{id}/tasks/done/skip"),
            &api.john,
            json!({}),
        )
        .await;
    assert_eq!(skip.status, StatusCode::OK, "{}", skip.body);
    assert_eq!(skip.body["tasks"]["done"]["status"], "ended_skipped");
}

#[tokio::test]
async fn a_task_is_sent_back_to_an_earlier_one_by_its_owners_and_refused_otherwise() {
    let api = api().await;
    let source = "id: rework\ntasks:\n  - id: draft\n    kind: end\n  - id: review\n    kind: user\n    title: Review\n    owners: [group:editors]\n    after: [draft]\n  - id: done\n    kind: end\n    after: [review]\n";
    let deployed = api
        .post(
            "/api/definitions",
            &api.john,
            json!({"files": [{"name": "rework.yaml", "source": source}]}),
        )
        .await;
    assert_eq!(deployed.status, StatusCode::OK, "{}", deployed.body);
    let started = api
        .post("/api/instances", &api.john, json!({"process": "rework"}))
        .await;
    let id = started.body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/instances/{id}/tasks/review/back");
    // Eve is neither an owner of the review nor an administrator.
    let eve = api.post(&path, &api.eve, json!({"to": "draft"})).await;
    assert_eq!(
        (eve.status, code(&eve)),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    // `done` comes after the review.
    let forward = api.post(&path, &api.john, json!({"to": "done"})).await;
    assert_eq!(
        (forward.status, code(&forward)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        "{}",
        forward.body
    );
    let back = api.post(&path, &api.john, json!({"to": "draft"})).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert_eq!(
        (
            back.body["tasks"]["draft"]["attempts"].as_u64(),
            back.body["tasks"]["review"]["status"].as_str()
        ),
        (Some(2), Some("ready"))
    );
    let history = api
        .get(&format!("/api/instances/{id}/history"), &api.john)
        .await;
    let went_back: Vec<&serde_json::Value> = history
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "went_back")
        .collect();
    assert_eq!(went_back.len(), 1, "{}", history.body);
    assert_eq!(
        (went_back[0]["to"].as_str(), went_back[0]["by"].as_str()),
        (Some("draft"), Some("john"))
    );
    api.post(&format!("/api/instances/{id}/abort"), &api.chief, json!({}))
        .await;
    let ended = api.post(&path, &api.chief, json!({"to": "draft"})).await;
    assert_eq!(
        (ended.status, code(&ended)),
        (StatusCode::CONFLICT, "conflict")
    );
}

#[tokio::test]
async fn an_administrator_manages_people() {
    let api = api().await;
    let user = api
        .post(
            "/api/users",
            &api.chief,
            json!({"name": "ann", "department": "sales"}),
        )
        .await;
    assert_eq!(
        (user.status, user.body),
        (
            StatusCode::CREATED,
            json!({"name": "ann", "department": "sales", "admin": false, "groups": []})
        )
    );
    let group = api
        .post("/api/groups", &api.chief, json!({"name": "sellers"}))
        .await;
    assert_eq!(group.status, StatusCode::CREATED);
    assert_eq!(
        api.post(
            "/api/groups/sellers/members",
            &api.chief,
            json!({"user": "ann"})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let groups = api.get("/api/groups", &api.eve).await.body;
    assert_eq!(groups[1], json!({"name": "sellers", "members": ["ann"]}));
    assert_eq!(
        api.call(
            Method::DELETE,
            "/api/groups/sellers/members/ann",
            Some(&api.chief),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.get("/api/departments", &api.eve).await.body,
        json!(["sales"])
    );
}

#[tokio::test]
async fn a_token_is_made_with_its_secret_once_and_listed_without_it() {
    let api = api().await;
    let made = api
        .post(
            "/api/tokens",
            &api.eve,
            json!({"name": "ci", "lifetime": "30d"}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    assert!(made.body["secret"].as_str().unwrap().starts_with("baton_"));
    let listed = api.get("/api/tokens", &api.eve).await.body;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t.get("secret").is_none()));
    let bad = api
        .post("/api/tokens", &api.eve, json!({"lifetime": "forever"}))
        .await;
    assert_eq!(
        (bad.status, code(&bad)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    let other = api
        .post("/api/tokens", &api.eve, json!({"user": "john"}))
        .await;
    assert_eq!(
        (other.status, code(&other)),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    assert_eq!(
        api.get("/api/tokens", &api.john)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn me_is_the_user_the_token_acts_as_with_their_groups() {
    let api = api().await;
    let me = api.get("/api/me", &api.john).await;
    assert_eq!(
        (me.status, me.body),
        (
            StatusCode::OK,
            json!({"name": "john", "department": null, "admin": false, "groups": ["editors"]})
        )
    );
    assert_eq!(
        api.get("/api/me", &api.chief).await.body,
        json!({"name": "chief", "department": null, "admin": true, "groups": []})
    );
}

#[tokio::test]
async fn incidents_are_listed() {
    let api = api().await;
    let answer = api.get("/api/incidents?limit=10", &api.john).await;
    assert_eq!((answer.status, answer.body), (StatusCode::OK, json!([])));
    let id = api.start_review().await;
    let of_instance = api
        .get(&format!("/api/instances/{id}/incidents"), &api.john)
        .await;
    assert_eq!(
        (of_instance.status, of_instance.body),
        (StatusCode::OK, json!([]))
    );
    let unknown = api.get("/api/instances/nope/incidents", &api.john).await;
    assert_eq!(
        (unknown.status, code(&unknown)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let retry = api
        .post("/api/incidents/7/retry", &api.john, json!({}))
        .await;
    assert_eq!(
        (retry.status, code(&retry)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn a_forward_carries_the_follow_on_tasks_own_escalations() {
    let clock = std::sync::Arc::new(baton_engine::ManualClock::new(chrono::Utc::now()));
    let api = support::api_on(clock.clone()).await;
    let id = api.start_review().await;
    let path = format!("/api/instances/{id}/tasks/check/human-tasks");
    api.post(&path, &api.john, json!({"operation": "claim"}))
        .await;
    let escalation = json!({"name": "urgent", "after": "2h", "from": "creation", "unless": "ended", "action": {"type": "raise_priority", "by": 5}});
    let bad = json!({"name": "remind", "after": "soon", "action": {"type": "notify", "to": {"users": ["chief"]}}});
    let refused = api
        .post(
            &path,
            &api.john,
            json!({"operation": "forward", "to": {"users": ["eve"]}, "escalations": [bad]}),
        )
        .await;
    assert_eq!(
        (refused.status, code(&refused)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        "{}",
        refused.body
    );
    let forwarded = api
        .post(
            &path,
            &api.john,
            json!({"operation": "forward", "to": {"users": ["eve"]}, "escalations": [escalation]}),
        )
        .await;
    assert_eq!(forwarded.status, StatusCode::OK, "{}", forwarded.body);
    assert_eq!(
        forwarded.body["human_task"]["follow_on"], 1,
        "{}",
        forwarded.body
    );
    // The follow-on's own escalation fires two hours on.
    clock.advance(chrono::Duration::hours(2));
    assert!(api.engine.fire_due_timers(10).await.unwrap() >= 1);
    let follow_on = api.get(&format!("{path}?number=1"), &api.eve).await.body;
    let follow_on = follow_on["human_tasks"]
        .as_array()
        .map_or(&follow_on, |all| all.iter().find(|t| t["id"] == 1).unwrap());
    assert_eq!(follow_on["priority"], 5, "{follow_on}");
}

#[tokio::test]
async fn a_start_with_an_idempotency_key_starts_one_instance_however_often_it_is_sent() {
    let api = api().await;
    let body =
        json!({"process": "review", "data": {"approved": false}, "idempotency_key": "req-42"});
    let first = api.post("/api/instances", &api.john, body.clone()).await;
    let again = api.post("/api/instances", &api.eve, body).await;
    assert_eq!(
        (first.status, again.status),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(first.body["id"], again.body["id"]);
    assert_eq!(
        (
            first.headers["idempotent-replayed"].to_str().unwrap(),
            again.headers["idempotent-replayed"].to_str().unwrap()
        ),
        ("false", "true")
    );
    let other = api
        .post(
            "/api/instances",
            &api.john,
            json!({"process": "review", "data": {"approved": true}, "idempotency_key": "req-42"}),
        )
        .await;
    assert_eq!(
        (other.status, code(&other)),
        (StatusCode::CONFLICT, "conflict"),
        "{}",
        other.body
    );
    let bad = api
        .post(
            "/api/instances",
            &api.john,
            json!({"process": "review", "idempotency_key": "has space"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let listed = api.get("/api/instances", &api.john).await.body;
    assert_eq!(listed["instances"].as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test]
async fn instances_are_listed_by_process_and_start_time_a_page_at_a_time() {
    let api = api().await;
    let mut started = Vec::new();
    for _ in 0..5 {
        started.push(api.start_review().await);
    }
    started.reverse(); // newest first
    let mut seen = Vec::new();
    let mut path = "/api/instances?process=review&limit=2".to_owned();
    loop {
        let page = api.get(&path, &api.john).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen.extend(
            page.body["instances"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/instances?process=review&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, started);
    assert!(api
        .get("/api/instances?process=nothing", &api.john)
        .await
        .body["instances"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(api
        .get(
            "/api/instances?started_before=2000-01-01T00:00:00Z",
            &api.john
        )
        .await
        .body["instances"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        api.get(
            "/api/instances?started_after=2000-01-01T00:00:00Z",
            &api.john
        )
        .await
        .body["instances"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let bad = api.get("/api/instances?cursor=nonsense", &api.john).await;
    assert_eq!(
        (bad.status, code(&bad)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
}

#[tokio::test]
async fn a_history_is_read_a_page_at_a_time() {
    let api = api().await;
    let id = api.start_review().await;
    let all = api
        .get(&format!("/api/instances/{id}/history"), &api.john)
        .await
        .body;
    let all: Vec<u64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert!(all.len() >= 3);
    let page = api
        .get(
            &format!("/api/instances/{id}/history?after=1&limit=2"),
            &api.john,
        )
        .await
        .body;
    let page: Vec<u64> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(page, all[1..3]);
    assert_eq!(
        api.get(&format!("/api/instances/{id}/history?limit=0"), &api.john)
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn a_definition_names_its_declared_data_for_a_start_form_and_whether_it_is_interactive() {
    let api = api().await;
    let source = "id: quote\ninteractive: true\ndata:\n  customer: {type: string, description: Who asks}\n  premium: {type: number, default: 12.5}\n  urgent: boolean\ntasks:\n  - id: enter\n    kind: view\n    form: {premium: number}\n";
    let deployed = api
        .post(
            "/api/definitions",
            &api.john,
            json!({"files": [{"name": "quote.yaml", "source": source}]}),
        )
        .await;
    assert_eq!(deployed.status, StatusCode::OK, "{}", deployed.body);
    for path in ["/api/definitions/quote", "/api/definitions/review"] {
        let shown = api.get(path, &api.eve).await;
        assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
        let expected = if path.ends_with("quote") {
            json!({"interactive": true, "data": [
                {"name": "customer", "type": "string", "default": null, "description": "Who asks"},
                {"name": "premium", "type": "number", "default": 12.5, "description": null},
                {"name": "urgent", "type": "boolean", "default": null, "description": null},
            ]})
        } else {
            json!({"interactive": false, "data": [
                {"name": "approved", "type": "boolean", "default": null, "description": null},
            ]})
        };
        assert_eq!(
            json!({"interactive": shown.body["interactive"], "data": shown.body["data"]}),
            expected
        );
    }
}
