//! The OpenAPI document lists every route the router serves, and `/docs` renders it.

mod support;

use std::str::FromStr;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};

use support::{api, code};

#[tokio::test]
async fn every_documented_operation_is_served_and_asks_for_a_token() {
    let api = api().await;
    let document = api
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    assert_eq!(document["openapi"], "3.1.0");
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations += 1;
            let concrete = path.replace("{id}", "1").replace(['{', '}'], "");
            let answer = api
                .call(
                    Method::from_str(&method.to_uppercase()).unwrap(),
                    &concrete,
                    None,
                    None,
                )
                .await;
            // Signing in and out need no token: without a body the one is unreadable, the other
            // signs a browser out that was not signed in.
            let expected = match path.as_str() {
                "/healthz" | "/readyz" => StatusCode::OK,
                "/api/sign-in" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "/api/sign-out" => StatusCode::NO_CONTENT,
                _ => StatusCode::UNAUTHORIZED,
            };
            assert_eq!(answer.status, expected, "{method} {path}");
        }
    }
    assert_eq!(operations, 73);
}

#[tokio::test]
async fn the_document_holds_every_route_of_the_api() {
    let document = serde_json::to_value(baton_server::openapi_document()).unwrap();
    let paths: Vec<&str> = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let routes = [
        "/api/definitions",
        "/api/definitions/{id}",
        "/api/definitions/{id}/versions",
        "/api/definitions/{id}/source",
        "/api/definitions/{id}/graph",
        "/api/instances",
        "/api/instances/{id}",
        "/api/instances/{id}/history",
        "/api/instances/{id}/abort",
        "/api/instances/{id}/recover",
        "/api/instances/{id}/children",
        "/api/cases/{id}",
        "/api/instances/{id}/spawn",
        "/api/instances/{id}/abort-and-start",
        "/api/instances/{id}/tasks/{task}/retry",
        "/api/instances/{id}/tasks/{task}/skip",
        "/api/instances/{id}/tasks/{task}/breakpoint",
        "/api/instances/{id}/tasks/{task}/back",
        "/api/instances/{id}/tasks/{task}/input",
        "/api/instances/{id}/tasks/{task}/human-tasks",
        "/api/instances/{id}/incidents",
        "/api/inbox",
        "/api/me",
        "/api/sign-in",
        "/api/sign-out",
        "/api/users",
        "/api/users/{user}/password",
        "/api/groups",
        "/api/groups/{group}/members",
        "/api/groups/{group}/members/{member}",
        "/api/departments",
        "/api/tokens",
        "/api/tokens/{id}",
        "/api/incidents",
        "/api/incidents/{id}/retry",
        "/api/incidents/{id}/resolve",
        "/api/external-jobs/fetch-and-lock",
        "/api/external-jobs/{instance}/{task}/{attempt}/complete",
        "/api/external-jobs/{instance}/{task}/{attempt}/fail",
        "/api/external-jobs/{instance}/{task}/{attempt}/end",
        "/api/external-jobs/{instance}/{task}/{attempt}/extend-lock",
        "/api/documents",
        "/api/documents/{id}",
        "/api/documents/{id}/content",
        "/api/documents/{id}/metadata",
        "/api/sessions",
        "/api/sessions/{session}",
        "/api/sessions/{session}/workflows",
        "/api/sessions/{session}/workflows/{instance}/resume",
        "/api/sessions/{session}/workflows/{instance}/submit",
        "/api/sessions/{session}/workflows/{instance}/suspend",
        "/api/schedules",
        "/api/schedules/{id}",
        "/api/schedules/{id}/pause",
        "/api/schedules/{id}/resume",
        "/api/schedules/{id}/trigger",
        "/api/events",
        "/metrics",
        "/healthz",
        "/readyz",
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

/// Whether the document lists `status` among the answers of `method template`.
fn documented(document: &Value, method: &str, template: &str, status: StatusCode) -> bool {
    document["paths"][template][method]["responses"]
        .get(status.as_str())
        .is_some()
}

/// The schema `reference` (`#/components/schemas/NAME`) names.
fn schema<'a>(document: &'a Value, reference: &Value) -> &'a Value {
    let name = reference["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .unwrap_or_else(|| panic!("not a schema reference: {reference}"));
    &document["components"]["schemas"][name]
}

fn property_names(schema: &Value) -> Vec<&str> {
    schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn what_the_layers_before_a_handler_answer_is_in_the_document_of_every_operation() {
    let api = api().await;
    let document = api
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    let mut with_body = 0;
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let has_parameters = operation
                .get("parameters")
                .and_then(Value::as_array)
                .is_some_and(|p| !p.is_empty());
            if operation.get("requestBody").is_none() {
                assert!(
                    !has_parameters
                        || documented(&document, method, template, StatusCode::BAD_REQUEST),
                    "{method} {template}: 400"
                );
                continue;
            }
            with_body += 1;
            let path = template.replace("{attempt}", "1").replace(['{', '}'], "");
            let method_ = Method::from_str(&method.to_uppercase()).unwrap();
            if operation["requestBody"]["content"]
                .get("multipart/form-data")
                .is_some()
            {
                // A form: a body that is not one is 415 (JSON too), one with an unknown part 422.
                let form =
                    support::upload_form_with("a.txt", "text/plain", "x", &[("surprise", "1")]);
                let answers = [
                    (
                        api.send(
                            Request::builder()
                                .method(method_.clone())
                                .uri(&path)
                                .header(header::AUTHORIZATION, format!("Bearer {}", api.chief))
                                .body(Body::from("{}"))
                                .unwrap(),
                        )
                        .await,
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    ),
                    (
                        api.send(json_request(method_.clone(), &path, &api.chief, "{\""))
                            .await,
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    ),
                    (
                        api.upload(&path, Some(&api.chief), form).await,
                        StatusCode::UNPROCESSABLE_ENTITY,
                    ),
                ];
                for (answer, status) in answers {
                    assert_eq!(
                        answer.status, status,
                        "{method} {template}: {}",
                        answer.body
                    );
                    assert!(
                        documented(&document, method, template, status),
                        "{method} {template} answers {status} but does not document it"
                    );
                }
                assert!(
                    documented(&document, method, template, StatusCode::PAYLOAD_TOO_LARGE),
                    "{method} {template}: 413"
                );
                continue;
            }
            let unreadable = [
                (
                    Request::builder()
                        .method(method_.clone())
                        .uri(&path)
                        .body(Body::from("{}"))
                        .unwrap(),
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ),
                (
                    json_request(method_.clone(), &path, &api.chief, "{\""),
                    StatusCode::BAD_REQUEST,
                ),
                (
                    json_request(method_.clone(), &path, &api.chief, "{\"surprise\": 1}"),
                    StatusCode::UNPROCESSABLE_ENTITY,
                ),
            ];
            for (mut request, status) in unreadable {
                request.headers_mut().insert(
                    header::AUTHORIZATION,
                    format!("Bearer {}", api.chief).parse().unwrap(),
                );
                let answer = api.send(request).await;
                assert_eq!(
                    answer.status, status,
                    "{method} {template}: {}",
                    answer.body
                );
                assert!(
                    documented(&document, method, template, status),
                    "{method} {template} answers {status} but does not document it"
                );
            }
            assert!(
                documented(&document, method, template, StatusCode::PAYLOAD_TOO_LARGE),
                "{method} {template}: 413"
            );
            assert!(
                documented(
                    &document,
                    method,
                    template,
                    StatusCode::INTERNAL_SERVER_ERROR
                ),
                "{method} {template}: 500"
            );
        }
    }
    assert!(with_body >= 13, "{with_body}");
}

fn json_request(method: Method, path: &str, token: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn every_reference_in_the_document_names_a_component_it_has() {
    let document = serde_json::to_value(baton_server::openapi_document()).unwrap();
    let mut references = Vec::new();
    collect_references(&document, &mut references);
    assert!(references.len() > 100, "{}", references.len());
    for reference in references {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference} is not within the document"));
        assert!(
            document.pointer(pointer).is_some(),
            "{reference} names nothing"
        );
    }
}

fn collect_references(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                into.push(reference.clone());
            }
            map.values().for_each(|v| collect_references(v, into));
        }
        Value::Array(values) => values.iter().for_each(|v| collect_references(v, into)),
        _ => {}
    }
}

#[tokio::test]
async fn a_refused_deploys_problems_are_the_details_the_error_schema_describes() {
    let api = api().await;
    let refused = api
        .post(
            "/api/definitions",
            &api.chief,
            json!({"files": [{"name": "x.yaml", "source": "tasks: []\n"}]}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let document = serde_json::to_value(baton_server::openapi_document()).unwrap();
    let schemas = &document["components"]["schemas"];
    let details = &schemas["ErrorDetail"]["properties"]["details"]["oneOf"];
    assert!(
        details
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["type"] == "null"),
        "{details}"
    );
    let variants = &schemas["ErrorDetails"]["oneOf"];
    let problems = variants
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["type"] == "array")
        .expect("details may be a list of problems");
    let mut fields = property_names(schema(&document, &problems["items"]));
    fields.sort_unstable();
    for problem in refused.body["error"]["details"].as_array().unwrap() {
        let mut keys: Vec<&str> = problem
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, fields, "{problem}");
    }
}

#[tokio::test]
async fn a_request_and_an_answer_of_the_same_name_each_keep_their_own_schema() {
    let document = serde_json::to_value(baton_server::openapi_document()).unwrap();
    let tokens = &document["paths"]["/api/tokens"]["post"];
    let request = schema(
        &document,
        &tokens["requestBody"]["content"]["application/json"]["schema"],
    );
    assert_eq!(property_names(request), ["lifetime", "name", "user"]);
    let answer = schema(
        &document,
        &tokens["responses"]["201"]["content"]["application/json"]["schema"],
    );
    assert_eq!(property_names(answer), ["secret", "token"]);

    let operations = document["components"]["schemas"]["HumanTaskOperation"]["oneOf"]
        .as_array()
        .unwrap();
    let escalate = operations
        .iter()
        .find(|o| o["properties"]["operation"]["enum"][0] == "escalate")
        .unwrap();
    let action = schema(&document, &escalate["properties"]["action"]);
    let types: Vec<&str> = action["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["properties"]["type"]["enum"][0].as_str().unwrap())
        .collect();
    assert_eq!(types, ["raise_priority", "notify", "reassign"]);
}

#[tokio::test]
async fn an_integer_field_takes_a_whole_number_however_it_is_written_and_nothing_else() {
    let api = api().await;
    let whole = api.post("/api/external-jobs/fetch-and-lock", &api.chief, json!({"worker_id": "w", "topics": ["t"], "max_jobs": 2.0, "lock_duration_ms": 60000.0, "timeout_ms": 0.0})).await;
    assert_eq!((whole.status, whole.body), (StatusCode::OK, json!([])));
    for max_jobs in [json!(2.5), json!("2"), json!(-1), json!(1e300)] {
        let refused = api
            .post(
                "/api/external-jobs/fetch-and-lock",
                &api.chief,
                json!({"worker_id": "w", "topics": ["t"], "max_jobs": max_jobs}),
            )
            .await;
        assert_eq!(
            (refused.status, code(&refused)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            "{max_jobs}: {}",
            refused.body
        );
    }
    let id = api.start_review().await;
    let path = format!("/api/instances/{id}/tasks/check/human-tasks");
    let raised = api.post(&path, &api.chief, json!({"operation": "escalate", "name": "by hand", "action": {"type": "raise_priority", "by": 3.0}})).await;
    assert_eq!(raised.status, StatusCode::OK, "{}", raised.body);
}

#[tokio::test]
async fn each_refusal_an_operation_gives_is_among_its_documented_answers() {
    let api = api().await;
    let document = api
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    let id = api.start_review().await;
    let keyed = json!({"process": "review", "idempotency_key": "k1"});
    assert_eq!(
        api.post("/api/instances", &api.john, keyed).await.status,
        StatusCode::OK
    );
    let refusals = [
        // A human-task query on a task of another kind.
        (
            "get",
            "/api/instances/{id}/tasks/{task}/human-tasks",
            api.get(
                &format!("/api/instances/{id}/tasks/done/human-tasks"),
                &api.john,
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        // A token for a user who does not exist.
        (
            "post",
            "/api/tokens",
            api.post("/api/tokens", &api.chief, json!({"user": "nobody"}))
                .await,
            StatusCode::NOT_FOUND,
        ),
        // An idempotency key used before with other data.
        (
            "post",
            "/api/instances",
            api.post(
                "/api/instances",
                &api.john,
                json!({"process": "review", "data": {"approved": true}, "idempotency_key": "k1"}),
            )
            .await,
            StatusCode::CONFLICT,
        ),
    ];
    for (method, template, answer, status) in refusals {
        assert_eq!(
            answer.status, status,
            "{method} {template}: {}",
            answer.body
        );
        assert!(
            documented(&document, method, template, status),
            "{method} {template} answers {status} but does not document it"
        );
    }
}

#[test]
fn the_bounds_in_the_document_are_the_ones_the_service_holds_requests_to() {
    let document = serde_json::to_value(baton_server::openapi_document()).unwrap();
    let parameter = |template: &str, name: &str| -> Value {
        let parameters = document["paths"][template]["get"]["parameters"]
            .as_array()
            .unwrap();
        parameters.iter().find(|p| p["name"] == name).unwrap()["schema"].clone()
    };
    let max_ms = |d: std::time::Duration| json!(u64::try_from(d.as_millis()).unwrap());
    for template in [
        "/api/instances",
        "/api/incidents",
        "/api/instances/{id}/history",
    ] {
        assert_eq!(
            (
                parameter(template, "limit")["minimum"].clone(),
                parameter(template, "limit")["maximum"].clone()
            ),
            (json!(1), json!(baton_service::MAX_LIMIT))
        );
    }
    assert_eq!(
        parameter("/api/inbox", "page")["maximum"],
        json!(baton_service::MAX_PAGE)
    );
    assert_eq!(
        parameter("/api/inbox", "per_page")["maximum"],
        json!(baton_service::MAX_PER_PAGE)
    );

    let schemas = &document["components"]["schemas"];
    let fetch = &schemas["FetchAndLock"]["properties"];
    assert_eq!(
        fetch["max_jobs"]["maximum"],
        json!(baton_service::MAX_FETCH)
    );
    assert_eq!(
        fetch["topics"]["maxItems"],
        json!(baton_service::MAX_TOPICS)
    );
    assert_eq!(
        (
            fetch["lock_duration_ms"]["minimum"].clone(),
            fetch["lock_duration_ms"]["maximum"].clone()
        ),
        (
            max_ms(baton_service::MIN_LOCK),
            max_ms(baton_service::MAX_LOCK)
        )
    );
    assert_eq!(
        schemas["ExtendLock"]["properties"]["duration_ms"]["maximum"],
        max_ms(baton_service::MAX_LOCK)
    );
    assert_eq!(
        fetch["timeout_ms"]["maximum"],
        max_ms(baton_service::MAX_WAIT)
    );
    let retry_after = &schemas["FailJob"]["properties"]["retry_after_ms"]["maximum"];
    assert_eq!(
        retry_after.as_f64(),
        Some(baton_service::MAX_RETRY_AFTER.as_millis() as f64)
    );
    let wire_name = format!(
        "^[A-Za-z0-9._:-]{{1,{}}}$",
        baton_core::definition::MAX_TOPIC_LEN
    );
    assert_eq!(fetch["worker_id"]["pattern"], json!(wire_name));
    assert_eq!(fetch["topics"]["items"]["pattern"], json!(wire_name));
    assert_eq!(
        schemas["Start"]["properties"]["idempotency_key"]["pattern"],
        json!(wire_name)
    );
    for (schema, field) in [
        ("NewUser", "name"),
        ("NewUser", "department"),
        ("NewGroup", "name"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["maxLength"],
            json!(baton_store::identity::MAX_NAME_LEN),
            "{schema}.{field}"
        );
    }
}

#[test]
fn an_abort_documents_its_body_as_optional_and_a_case_as_its_instances() {
    let document = serde_json::to_value(baton_server::openapi_document()).unwrap();
    let abort = &document["paths"]["/api/instances/{id}/abort"]["post"]["requestBody"];
    assert_ne!(
        abort["required"],
        json!(true),
        "a request without a body is an abort that leaves the parent alone: {abort}"
    );
    let body = abort["content"]["application/json"]["schema"]["oneOf"]
        .as_array()
        .unwrap();
    assert_eq!(
        body[0],
        json!({"type": "null"}),
        "JSON `null` is no body too"
    );
    assert_eq!(
        property_names(schema(&document, &body[1])),
        ["abort_parent"]
    );
    let case = &document["paths"]["/api/cases/{id}"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"];
    assert_eq!(property_names(schema(&document, case)), ["id", "instances"]);
    let summary = &document["components"]["schemas"]["InstanceSummary"];
    assert!(property_names(summary).contains(&"link"), "{summary}");
}
