//! The denial matrix: every operation of the OpenAPI document (read from the document, so a
//! new route is covered as soon as it is served) refuses a request without a valid token
//! with 401, and every operation that needs a role (it documents 403: administrators manage
//! people and others' tokens, workers work external jobs, the human-task rules name owners,
//! potential owners and administrators, an instance of a department is its department's)
//! refuses a user without it with 403; and a refused request changes nothing the API lists.

mod support;

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;

use axum::http::{header, Method, StatusCode};
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use baton_engine::ManualClock;
use support::{api_on, code, Answer, Api};

/// The instances, the token and the document the requests name: `ready` has its human task
/// ready, `claimed` has john's claim on it (both unscoped); `archived` is an instance of
/// department `archive`, which nobody but administrators belongs to, with the open incident
/// `1`; `johns_token` is the id of a token of john's, `johns_document` a document john
/// uploaded that no instance refers to.
struct Targets {
    ready: String,
    claimed: String,
    archived: String,
    johns_token: String,
    johns_document: String,
    johns_session: String,
}

/// A request for an operation: its path with the document's parameters filled in (and a
/// query, if it needs one) and its body, one that the operation would carry out if the
/// acting user may (JSON, or a multipart form's text).
struct Request {
    path: String,
    body: Option<Value>,
    form: Option<String>,
}

/// `template` with each `{parameter}` named by `targets`: on the `claimed` instance where
/// a rule beside the department scope refuses eve (spawning and aborting-and-starting a
/// process she may not start; the human-task operations name theirs), else on the `archived` one, which her
/// department scope hides from her.
fn fill(template: &str, targets: &Targets) -> String {
    let other_rule = template.ends_with("/spawn") || template.ends_with("/abort-and-start");
    let id = match template.split('/').nth(2) {
        Some("definitions") => "review",
        Some("tokens") => &targets.johns_token,
        Some("documents") => &targets.johns_document,
        Some("incidents") => "1",
        Some("sessions") => &targets.claimed,
        Some("schedules") => "johns-nightly",
        Some("instances") if other_rule => &targets.claimed,
        _ => &targets.archived,
    };
    template
        .replace("{id}", id)
        .replace("{instance}", &targets.claimed)
        .replace("{task}", "check")
        .replace("{attempt}", "1")
        .replace("{group}", "editors")
        .replace("{member}", "john")
        .replace("{user}", "john")
        .replace("{session}", &targets.johns_session)
}

/// The requests made of `method template`: each is one the operation carries out for a user
/// who may (for a human task, one per operation the document's `HumanTaskOperation` names).
fn requests(method: &str, template: &str, targets: &Targets, document: &Value) -> Vec<Request> {
    let path = fill(template, targets);
    let one = |query: &str, body: Option<Value>| {
        vec![Request {
            path: format!("{path}{query}"),
            body,
            form: None,
        }]
    };
    match (method, template) {
        ("post", "/api/definitions") => one(
            "",
            Some(json!({"files": [{"name": "review.yaml", "source": support::REVIEW}]})),
        ),
        ("post", "/api/instances") => one("", Some(json!({"process": "review"}))),
        ("post", "/api/instances/{id}/tasks/{task}/input") => one("", Some(json!({"values": {}}))),
        ("post", "/api/instances/{id}/tasks/{task}/back") => one("", Some(json!({"to": "check"}))),
        ("post", "/api/instances/{id}/abort") => one("", Some(json!({"abort_parent": true}))),
        ("post", "/api/documents") => vec![Request {
            path,
            body: None,
            form: Some(support::upload_form("letter.txt", "text/plain", "Dear Sir")),
        }],
        ("post", "/api/documents/{id}/metadata") => {
            one("", Some(json!({"metadata": {"status": "stolen"}})))
        }
        // A process only john may start (Stardust: startable by the users it names).
        ("post", "/api/instances/{id}/spawn") => one("", Some(json!({"process": "johns"}))),
        ("post", "/api/instances/{id}/abort-and-start") => {
            one("", Some(json!({"process": "johns"})))
        }
        ("post", "/api/users") => one("", Some(json!({"name": "mallory", "admin": true}))),
        ("post", "/api/groups") => one("", Some(json!({"name": "cabal"}))),
        ("post", "/api/groups/{group}/members") => one("", Some(json!({"user": "eve"}))),
        ("post", "/api/tokens") => one("", Some(json!({"user": "john", "name": "stolen"}))),
        // John's password: his own, or an administrator's to set.
        ("put", "/api/users/{user}/password") => {
            one("", Some(json!({"password": "a stolen password"})))
        }
        // A schedule of a process only john may start.
        ("post", "/api/schedules") => {
            one("", Some(json!({"process": "johns", "cron": "0 2 * * *"})))
        }
        ("get", "/api/tokens") => one("?user=john", None),
        // Another user's human-task changes (without `user` the stream would be granted).
        ("get", "/api/events") => one("?user=john", None),
        // Eve is not an event publisher: the event would resume john's instances.
        ("post", "/api/events") => one(
            "",
            Some(json!({"name": "payment-received", "key": "A-1", "data": {"amount": 1}})),
        ),
        // In john's session (a session is its user's own).
        ("post", "/api/sessions/{session}/workflows") => {
            one("", Some(json!({"process": "review"})))
        }
        ("post", "/api/sessions/{session}/workflows/{instance}/submit") => {
            one("", Some(json!({"data": {}})))
        }
        ("post", "/api/external-jobs/fetch-and-lock") => one(
            "",
            Some(json!({"worker_id": "w1", "topics": ["invoice-check"]})),
        ),
        ("post", "/api/external-jobs/{instance}/{task}/{attempt}/complete") => {
            one("", Some(json!({"worker_id": "w1", "data": {}})))
        }
        ("post", "/api/external-jobs/{instance}/{task}/{attempt}/fail") => {
            one("", Some(json!({"worker_id": "w1", "message": "no"})))
        }
        ("post", "/api/external-jobs/{instance}/{task}/{attempt}/end") => {
            one("", Some(json!({"worker_id": "w1", "status": "ended_ok"})))
        }
        ("post", "/api/external-jobs/{instance}/{task}/{attempt}/extend-lock") => {
            one("", Some(json!({"worker_id": "w1", "duration_ms": 60000})))
        }
        ("post", "/api/instances/{id}/tasks/{task}/human-tasks") => human_task_operations(document)
            .into_iter()
            .map(|operation| {
                // Claiming takes a ready task; every other operation is refused on john's claim.
                let on = if operation == "claim" {
                    &targets.ready
                } else {
                    &targets.claimed
                };
                Request {
                    path: template.replace("{id}", on).replace("{task}", "check"),
                    body: Some(human_task_body(&operation)),
                    form: None,
                }
            })
            .collect(),
        (_, template) if requires_no_body(document, method, template) => one("", None),
        _ => panic!(
            "{method} {template} takes a body: add the request it carries out to the denial matrix"
        ),
    }
}

fn requires_no_body(document: &Value, method: &str, template: &str) -> bool {
    document["paths"][template][method]
        .get("requestBody")
        .is_none()
}

/// The `operation` of each variant of the document's `HumanTaskOperation`.
fn human_task_operations(document: &Value) -> Vec<String> {
    let variants = document["components"]["schemas"]["HumanTaskOperation"]["oneOf"]
        .as_array()
        .expect("HumanTaskOperation is a oneOf");
    variants
        .iter()
        .map(|v| {
            v["properties"]["operation"]["enum"][0]
                .as_str()
                .expect("each variant names its operation")
                .to_owned()
        })
        .collect()
}

/// A body for the human-task operation `operation` that its rules would let the right user do.
fn human_task_body(operation: &str) -> Value {
    match operation {
        "claim" | "unclaim" | "suspend" | "resume" | "terminate" | "delete" | "restart" => {
            json!({"operation": operation})
        }
        "complete" => json!({"operation": "complete", "output": {"approved": true}}),
        "fail" => json!({"operation": "fail", "note": "not mine"}),
        "forward" => json!({"operation": "forward", "to": {"users": ["eve"], "groups": []}}),
        "subtask" => {
            json!({"operation": "subtask", "to": {"users": ["eve"], "groups": []}, "title": "help"})
        }
        "escalate" => {
            json!({"operation": "escalate", "name": "by hand", "action": {"type": "raise_priority", "by": 5}})
        }
        other => panic!(
            "the human-task operation `{other}` is new: add a body for it to the denial matrix"
        ),
    }
}

/// Every operation of the document that needs a token: (method, path template, documented statuses).
fn operations(document: &Value) -> Vec<(String, String, BTreeSet<String>)> {
    let mut all = Vec::new();
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            // `/healthz` and `/readyz` need none (`[]`); sign-in and sign-out take anyone (`[{}]`).
            let anyone = |r: &Value| r.as_object().is_some_and(|r| r.is_empty());
            if operation
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| s.is_empty() || s.iter().any(anyone))
            {
                continue;
            }
            let statuses = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            all.push((method.clone(), template.clone(), statuses));
        }
    }
    all
}

async fn send(api: &Api, method: &str, request: &Request, token: Option<&str>) -> Answer {
    if let Some(form) = &request.form {
        return api.upload(&request.path, token, form.clone()).await;
    }
    api.call(
        Method::from_str(&method.to_uppercase()).unwrap(),
        &request.path,
        token,
        request.body.clone(),
    )
    .await
}

/// What the API lists, as an administrator and each user sees it: definitions, instances with
/// their state, history and human tasks, people, tokens, incidents and each inbox.
async fn snapshot(api: &Api, document: &str) -> Value {
    let chief = &api.chief;
    let mut all = json!({
        "definitions": api.get("/api/definitions", chief).await.body,
        "instances": api.get("/api/instances?limit=10000", chief).await.body,
        "users": api.get("/api/users", chief).await.body,
        "groups": api.get("/api/groups", chief).await.body,
        "departments": api.get("/api/departments", chief).await.body,
        "tokens": api.get("/api/tokens?user=*", chief).await.body,
        "incidents": api.get("/api/incidents?limit=10000", chief).await.body,
        "document": api.get(&format!("/api/documents/{document}"), chief).await.body,
        "schedules": api.get("/api/schedules", chief).await.body,
    });
    for (name, token) in [("john", &api.john), ("eve", &api.eve), ("chief", chief)] {
        all[format!("inbox of {name}")] = api.get("/api/inbox?per_page=1000", token).await.body;
    }
    let ids: Vec<String> = all["instances"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    for id in ids {
        all[format!("instance {id}")] = api.get(&format!("/api/instances/{id}"), chief).await.body;
        all[format!("history of {id}")] = api
            .get(&format!("/api/instances/{id}/history"), chief)
            .await
            .body;
        all[format!("human tasks of {id}")] = api
            .get(
                &format!("/api/instances/{id}/tasks/check/human-tasks"),
                chief,
            )
            .await
            .body;
    }
    all
}

#[tokio::test]
async fn a_request_without_a_valid_token_is_401_one_without_the_role_is_403_and_neither_changes_anything(
) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2030, 1, 7, 9, 0, 0).unwrap(),
    ));
    let api = api_on(clock.clone()).await;
    let document = api
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .body;

    let johns = "id: johns\nstartable_by: [john]\ntasks:\n  - {id: a, kind: end}\n";
    let deployed = api
        .post(
            "/api/definitions",
            &api.chief,
            json!({"files": [{"name": "johns.yaml", "source": johns}]}),
        )
        .await;
    assert_eq!(deployed.status, StatusCode::OK, "{}", deployed.body);
    let archive = "id: archive\ndepartment: \"'archive'\"\ntasks:\n  - {id: check, kind: user, title: File it, owners: [group:editors]}\n";
    let deployed = api
        .post(
            "/api/definitions",
            &api.chief,
            json!({"files": [{"name": "archive.yaml", "source": archive}]}),
        )
        .await;
    assert_eq!(deployed.status, StatusCode::OK, "{}", deployed.body);
    let started = api
        .post("/api/instances", &api.chief, json!({"process": "archive"}))
        .await;
    assert_eq!(started.body["department"], "archive", "{}", started.body);
    let archived = started.body["id"].as_str().unwrap().to_owned();
    // An open incident on it: no route makes one, a step that fails does.
    let incident = baton_store::NewIncident {
        instance: archived.clone(),
        task: Some("check".into()),
        kind: baton_store::IncidentKind::StepFailed,
        reason: "the step failed".into(),
        command: None,
        attempts: 1,
        at: Utc.with_ymd_and_hms(2030, 1, 7, 9, 0, 0).unwrap(),
    };
    let raised = baton_store::StepRecord {
        raise_incidents: vec![incident],
        ..baton_store::StepRecord::default()
    };
    baton_store::StepWriter::commit(api.engine.store(), vec![raised])
        .await
        .unwrap();
    let schedule = api
        .post(
            "/api/schedules",
            &api.chief,
            json!({"process": "johns", "id": "johns-nightly", "cron": "0 2 * * *"}),
        )
        .await;
    assert_eq!(schedule.status, StatusCode::CREATED, "{}", schedule.body);
    let ready = api.start_review().await;
    let claimed = api.start_review().await;
    let claim = api
        .post(
            &format!("/api/instances/{claimed}/tasks/check/human-tasks"),
            &api.john,
            json!({"operation": "claim"}),
        )
        .await;
    assert_eq!(claim.status, StatusCode::OK, "{}", claim.body);
    let made = api
        .post("/api/tokens", &api.john, json!({"name": "laptop"}))
        .await;
    let johns_token = made.body["token"]["id"].as_str().unwrap().to_owned();
    // A revoked token and an expired one, each once valid.
    let revoked = api
        .post("/api/tokens", &api.john, json!({"name": "old"}))
        .await;
    let revoked_id = revoked.body["token"]["id"].as_str().unwrap();
    assert_eq!(
        api.call(
            Method::DELETE,
            &format!("/api/tokens/{revoked_id}"),
            Some(&api.john),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    let expired = api
        .post(
            "/api/tokens",
            &api.john,
            json!({"name": "short", "lifetime": "1h"}),
        )
        .await;
    let expired = expired.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        api.get("/api/definitions", &expired).await.status,
        StatusCode::OK
    );
    clock.advance(chrono::Duration::hours(2));
    let uploaded = api
        .upload(
            "/api/documents",
            Some(&api.john),
            support::upload_form("invoice.pdf", "application/pdf", "%PDF"),
        )
        .await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);
    let johns_document = uploaded.body["id"].as_str().unwrap().to_owned();
    let session = api.post("/api/sessions", &api.john, json!({})).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    let johns_session = session.body["id"].as_str().unwrap().to_owned();
    let targets = Targets {
        ready,
        claimed,
        archived,
        johns_token,
        johns_document: johns_document.clone(),
        johns_session,
    };

    let before = snapshot(&api, &johns_document).await;
    let bad_tokens = [
        None,
        Some("baton_000000000000_nope"),
        Some("not-a-token"),
        Some(revoked.body["secret"].as_str().unwrap()),
        Some(expired.as_str()),
    ];
    let mut needing_a_role = 0;
    for (method, template, statuses) in operations(&document) {
        let requests = requests(&method, &template, &targets, &document);
        for request in &requests {
            for token in bad_tokens {
                let answer = send(&api, &method, request, token).await;
                let what = format!("{method} {} with token {token:?}", request.path);
                assert_eq!(
                    answer.status,
                    StatusCode::UNAUTHORIZED,
                    "{what}: {}",
                    answer.body
                );
                assert_eq!(answer.headers[header::WWW_AUTHENTICATE], "Bearer", "{what}");
                assert_eq!(code(&answer), "unauthenticated", "{what}");
            }
        }
        assert_eq!(
            snapshot(&api, &johns_document).await,
            before,
            "a request to {method} {template} without a valid token changed something"
        );
        assert!(
            statuses.contains("401"),
            "{method} {template} does not document its 401"
        );

        if !statuses.contains("403") {
            continue;
        }
        for request in &requests {
            needing_a_role += 1;
            let answer = send(&api, &method, request, Some(&api.eve)).await;
            let what = format!(
                "{method} {} {} as eve",
                request.path,
                request
                    .body
                    .as_ref()
                    .map(Value::to_string)
                    .unwrap_or_default()
            );
            assert_eq!(
                (answer.status, code(&answer)),
                (StatusCode::FORBIDDEN, "forbidden"),
                "{what}: {}",
                answer.body
            );
            assert_eq!(
                snapshot(&api, &johns_document).await,
                before,
                "{what} was refused but changed something"
            );
        }
    }
    // Users, groups and members (4), tokens of others (3), another user's events (1), publishing
    // an event (1), external jobs (5), spawn and abort-and-start of a process eve may not start
    // (2), the twelve human-task operations, another user's document (3), another user's
    // session (7), and the instance of another department: shown, deleted, its history,
    // children, human tasks and incidents, aborted, recovered, a task retried, skipped, its
    // breakpoint set and cleared, input given, its case, its incident retried and resolved
    // (16), a task sent back on it (1), and a schedule of a process eve may not start: made, deleted, paused, resumed and
    // triggered (5): a route that stops documenting its 403 shows here.
    assert_eq!(needing_a_role, 61);
}
