//! `/api/documents` through the router, without a socket: upload (multipart), the record, the
//! content with its media type, metadata updates; bad forms and unknown documents.

mod support;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use support::{api, code, upload_form, upload_form_with};

#[tokio::test]
async fn an_uploaded_document_is_read_downloaded_with_its_media_type_and_its_metadata_set() {
    let api = api().await;
    let form = upload_form_with(
        "Rechnung März.pdf",
        "application/pdf",
        "%PDF-1.7",
        &[
            ("document_type", "invoice"),
            ("metadata", r#"{"client": "ACME"}"#),
        ],
    );
    let uploaded = api.upload("/api/documents", Some(&api.john), form).await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);
    let id = uploaded.body["id"].as_str().unwrap().to_owned();
    assert_eq!(uploaded.body["name"], "Rechnung März.pdf");
    assert_eq!(
        (
            uploaded.body["document_type"].clone(),
            uploaded.body["size"].clone(),
            uploaded.body["version"].clone()
        ),
        (json!("invoice"), json!(8), json!(1))
    );
    assert_eq!(uploaded.body["metadata"], json!({"client": "ACME"}));

    let shown = api.get(&format!("/api/documents/{id}"), &api.john).await;
    assert_eq!(
        (shown.status, shown.body.clone()),
        (StatusCode::OK, uploaded.body.clone())
    );

    let request = Request::get(format!("/api/documents/{id}/content"))
        .header(header::AUTHORIZATION, format!("Bearer {}", api.john))
        .body(Body::empty())
        .unwrap();
    let response = api.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(
        response.headers()[header::CONTENT_DISPOSITION],
        "attachment; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf"
    );
    assert_eq!(
        &response.into_body().collect().await.unwrap().to_bytes()[..],
        b"%PDF-1.7"
    );

    let updated = api
        .post(
            &format!("/api/documents/{id}/metadata"),
            &api.john,
            json!({"metadata": {"status": "paid", "client": null}}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(
        (
            updated.body["version"].clone(),
            updated.body["metadata"].clone()
        ),
        (json!(2), json!({"status": "paid"}))
    );
}

#[tokio::test]
async fn a_bad_form_is_refused_and_stores_nothing() {
    let api = api().await;
    let missing_file = format!("--{b}\r\nContent-Disposition: form-data; name=\"document_type\"\r\n\r\ninvoice\r\n--{b}--\r\n", b = support::BOUNDARY);
    let cases = [
        (missing_file, "`file`: is missing"),
        (
            upload_form_with("a.pdf", "application/pdf", "x", &[("metadata", "not json")]),
            "`metadata`: must be a JSON object",
        ),
        (
            upload_form_with("a.pdf", "application/pdf", "x", &[("colour", "red")]),
            "unknown part `colour`",
        ),
        (
            upload_form_with(
                "a.pdf",
                "application/pdf",
                "x",
                &[("document_type", "in voice")],
            ),
            "document type",
        ),
    ];
    for (form, needle) in cases {
        let answer = api.upload("/api/documents", Some(&api.john), form).await;
        assert_eq!(
            (answer.status, code(&answer)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            "{}",
            answer.body
        );
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(needle),
            "{}",
            answer.body
        );
    }
    let too_large = upload_form(
        "big.bin",
        "application/octet-stream",
        &"x".repeat(baton_store::documents::MAX_CONTENT_BYTES + 1),
    );
    let answer = api
        .upload("/api/documents", Some(&api.john), too_large)
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    let not_a_form = api
        .post("/api/documents", &api.john, json!({"file": "x"}))
        .await;
    assert_eq!(
        not_a_form.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        not_a_form.body
    );
    assert_eq!(
        api.get("/api/documents/nope", &api.john).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/api/documents/nope/content", &api.john)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let bad_metadata = api
        .post(
            "/api/documents/nope/metadata",
            &api.john,
            json!({"metadata": 7}),
        )
        .await;
    assert_eq!(
        bad_metadata.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad_metadata.body
    );
}

#[tokio::test]
async fn a_document_an_instance_refers_to_is_readable_by_whoever_may_see_the_instance() {
    let api = api().await;
    let claim = "id: claim\ndata:\n  scan: document\ntasks:\n  - {id: check, kind: user, title: Check, owners: [group:editors]}\n";
    let deployed = api
        .post(
            "/api/definitions",
            &api.chief,
            json!({"files": [{"name": "claim.yaml", "source": claim}]}),
        )
        .await;
    assert_eq!(deployed.status, StatusCode::OK, "{}", deployed.body);
    let uploaded = api
        .upload(
            "/api/documents",
            Some(&api.john),
            upload_form("scan.png", "image/png", "PNG"),
        )
        .await;
    let id = uploaded.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        api.get(&format!("/api/documents/{id}"), &api.eve)
            .await
            .status,
        StatusCode::FORBIDDEN,
        "not yet"
    );
    let refused = api
        .post(
            "/api/instances",
            &api.eve,
            json!({"process": "claim", "data": {"scan": {"document": id}}}),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "eve may not name a document she may not read: {}",
        refused.body
    );
    let started = api
        .post(
            "/api/instances",
            &api.john,
            json!({"process": "claim", "data": {"scan": {"document": id}}}),
        )
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let request = Request::builder()
        .method(Method::GET)
        .uri(format!("/api/documents/{id}/content"))
        .header(header::AUTHORIZATION, format!("Bearer {}", api.eve))
        .body(Body::empty())
        .unwrap();
    let answer = api.send(request).await;
    assert_eq!(
        (
            answer.status,
            answer.headers[header::CONTENT_TYPE].to_str().unwrap()
        ),
        (StatusCode::OK, "image/png")
    );
}
