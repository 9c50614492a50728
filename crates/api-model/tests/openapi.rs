//! With the `openapi` feature the view types make an OpenAPI 3.1 document's schemas
//! (`cargo test -p baton-api-model --features openapi`).
#![cfg(feature = "openapi")]

use baton_api_model as api;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(components(schemas(
    api::Instance,
    api::InstanceSummary,
    api::HistoryEvent,
    api::UserTask,
    api::InboxPage,
    api::Definition,
    api::DefinitionVersion,
    api::DefinitionSource,
    api::Deployed,
    api::User,
    api::Group,
    api::Jobs,
    api::Incident,
    api::Error
)))]
struct Doc;

#[test]
fn the_view_types_make_an_openapi_3_1_document_with_documented_fields() {
    let doc: serde_json::Value = serde_json::from_str(&Doc::openapi().to_json().unwrap()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = &doc["components"]["schemas"];
    let instance = &schemas["Instance"]["properties"];
    assert_eq!(
        instance["tasks"]["additionalProperties"]["$ref"],
        "#/components/schemas/Task"
    );
    assert_eq!(instance["created_at"]["format"], "date-time");
    assert_eq!(
        schemas["TaskState"]["properties"]["claimed_by"]["description"],
        "Who claimed it (`claimed`, or `escalated` while claimed); else `null`."
    );
    assert_eq!(
        schemas["ErrorKind"]["enum"],
        serde_json::json!([
            "invalid",
            "unauthenticated",
            "forbidden",
            "not_found",
            "conflict",
            "unavailable",
            "internal"
        ])
    );
}
