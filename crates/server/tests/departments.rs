//! Stardust's department scoping through the API: listings leave out the instances of other
//! departments (and their inbox rows), and naming one answers 403 with the error body, whose
//! message says why. An administrator sees every instance.

mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};

use support::{api, code};

fn ids(page: &Value, key: &str) -> Vec<String> {
    let mut ids: Vec<String> = page[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r[if key == "rows" { "instance" } else { "id" }]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn an_instance_of_another_department_is_left_out_of_listings_and_forbidden_by_name() {
    let api = api().await;
    let archive = "id: archive\ndepartment: data.dept\ndata:\n  dept: string\ntasks:\n  - {id: check, kind: user, title: File it, owners: [group:editors]}\n";
    let deployed = api
        .post(
            "/api/definitions",
            &api.chief,
            json!({"files": [{"name": "archive.yaml", "source": archive}]}),
        )
        .await;
    assert_eq!(deployed.status, StatusCode::OK, "{}", deployed.body);
    let scoped = api
        .post(
            "/api/instances",
            &api.chief,
            json!({"process": "archive", "data": {"dept": "archive"}}),
        )
        .await;
    assert_eq!(scoped.body["department"], "archive", "{}", scoped.body);
    let scoped = scoped.body["id"].as_str().unwrap().to_owned();
    let open = api
        .post(
            "/api/instances",
            &api.chief,
            json!({"process": "archive", "data": {}}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut both = vec![scoped.clone(), open.clone()];
    both.sort();

    assert_eq!(
        ids(
            &api.get("/api/instances", &api.john).await.body,
            "instances"
        ),
        [open.clone()],
        "john belongs to no department"
    );
    assert_eq!(
        ids(
            &api.get("/api/instances", &api.chief).await.body,
            "instances"
        ),
        both,
        "an administrator sees every instance"
    );
    assert_eq!(
        ids(&api.get("/api/inbox", &api.john).await.body, "rows"),
        [open.clone()],
        "john, an editor, is offered the unscoped task only"
    );

    let refused = api
        .get(&format!("/api/instances/{scoped}"), &api.john)
        .await;
    assert_eq!(
        (refused.status, code(&refused)),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert_eq!(message, format!("john may not see or act on instance {scoped}: it belongs to another department than theirs (only that department's users and administrators may)"));
    let case = api.get(&format!("/api/cases/{scoped}"), &api.john).await;
    assert_eq!(case.status, StatusCode::FORBIDDEN, "{}", case.body);
    assert_eq!(
        api.get("/api/instances/nope", &api.john).await.status,
        StatusCode::NOT_FOUND,
        "an unknown instance is not found"
    );
}
