//! `/openapi.json` and `/docs`: the OpenAPI document, and an API reference the binary renders
//! from it as one plain HTML page (no script, no stylesheet or font from elsewhere: servers
//! are often offline).

use std::fmt::Write;
use std::sync::Arc;

use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use crate::state::AppState;

/// The routes serving the document and its reference page.
pub fn router(document: Arc<utoipa::openapi::OpenApi>) -> Router<AppState> {
    let json = Arc::new(serde_json::to_value(&*document).unwrap_or(Value::Null));
    let page = Arc::new(render(&json));
    Router::new()
        .route(
            "/openapi.json",
            get(move || async move { Json((*json).clone()) }),
        )
        .route("/docs", get(move || async move { Html((*page).clone()) }))
}

/// Escapes text for HTML.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn text<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A schema as one short phrase: a link to a named schema, or its type.
fn schema_name(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    if let Some(items) = schema.get("items") {
        return format!("list of {}", schema_name(items));
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(all) = schema.get(key).and_then(Value::as_array) {
            return all.iter().map(schema_name).collect::<Vec<_>>().join(" or ");
        }
    }
    match schema.get("type") {
        Some(Value::String(t)) => esc(t),
        Some(Value::Array(types)) => esc(&types
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or ")),
        _ => "any".to_owned(),
    }
}

/// The reference page: every operation by path, then every schema.
pub fn render(document: &Value) -> String {
    let info = &document["info"];
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} API reference</title>\
         <style>body{{font-family:sans-serif;max-width:60em;margin:auto;padding:1em}}code,pre{{background:#f4f4f4}}\
         h3{{border-top:1px solid #ccc;padding-top:.5em}}td,th{{text-align:left;padding:0 1em 0 0;vertical-align:top}}</style></head><body>\
         <h1>{title} API reference</h1><p>{description}</p><p>The machine-readable document: <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI {version}).</p><h2>Operations</h2>",
        title = esc(text(info, "title")),
        description = esc(text(info, "description")),
        version = esc(text(document, "openapi")),
    );
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            operation_section(
                &mut page,
                path,
                method,
                operation,
                &document["components"]["responses"],
            );
        }
    }
    page.push_str("<h2>Schemas</h2>");
    for (name, schema) in document["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        schema_section(&mut page, name, schema);
    }
    page.push_str("</body></html>\n");
    page
}

/// One operation; `shared` is the document's `components/responses`, which its answers may refer to.
fn operation_section(
    page: &mut String,
    path: &str,
    method: &str,
    operation: &Value,
    shared: &Value,
) {
    let _ = write!(
        page,
        "<h3><code>{} {}</code></h3><p>{}</p>",
        esc(&method.to_uppercase()),
        esc(path),
        esc(text(operation, "description"))
    );
    if operation
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        page.push_str("<p>Needs no token.</p>");
    }
    if let Some(params) = operation.get("parameters").and_then(Value::as_array) {
        page.push_str("<table><tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>");
        for p in params {
            let _ = write!(
                page,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(text(p, "name")),
                esc(text(p, "in")),
                schema_name(&p["schema"]),
                esc(text(p, "description"))
            );
        }
        page.push_str("</table>");
    }
    if let Some(body) = operation.pointer("/requestBody/content/application~1json/schema") {
        let _ = write!(page, "<p>Body: {}</p>", schema_name(body));
    }
    page.push_str("<p>Answers: ");
    for (status, response) in operation["responses"].as_object().into_iter().flatten() {
        let response = match response["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/responses/"))
        {
            Some(name) => &shared[name],
            None => response,
        };
        let body = response
            .pointer("/content/application~1json/schema")
            .map(schema_name)
            .unwrap_or_default();
        let _ = write!(page, "<code>{}</code> {} ", esc(status), body);
    }
    page.push_str("</p>");
}

fn schema_section(page: &mut String, name: &str, schema: &Value) {
    let _ = write!(
        page,
        "<h3 id=\"schema-{0}\">{0}</h3><p>{1}</p>",
        esc(name),
        esc(text(schema, "description"))
    );
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let names: Vec<String> = values
            .iter()
            .filter_map(Value::as_str)
            .map(|v| format!("<code>{}</code>", esc(v)))
            .collect();
        let _ = write!(page, "<p>One of: {}</p>", names.join(", "));
    }
    if let Some(variants) = schema.get("oneOf").and_then(Value::as_array) {
        page.push_str("<p>One of:</p><ul>");
        for variant in variants {
            let _ = write!(
                page,
                "<li>{} {}</li>",
                schema_name(variant),
                properties(variant)
            );
        }
        page.push_str("</ul>");
    }
    page.push_str(&properties(schema));
}

fn properties(schema: &Value) -> String {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return String::new();
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut table = String::from("<table><tr><th>field</th><th>type</th><th></th></tr>");
    for (field, property) in props {
        let mark = if required.contains(&field.as_str()) {
            " (required)"
        } else {
            ""
        };
        let _ = write!(
            table,
            "<tr><td><code>{}</code>{mark}</td><td>{}</td><td>{}</td></tr>",
            esc(field),
            schema_name(property),
            esc(text(property, "description"))
        );
    }
    table.push_str("</table>");
    table
}
