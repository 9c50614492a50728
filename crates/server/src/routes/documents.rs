//! `/api/documents`: stored documents (Stardust's Document data), which process data refers
//! to as `{"document": "ID"}`. Upload (multipart), read the record, download the content with
//! its media type, set metadata. Who may read a document is the service's rule: its uploader,
//! administrators, and whoever may see an instance whose data refers to it.

use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Map, Value};

use baton_api_model as api;
use baton_service::Upload;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Acting, Json, Path};
use crate::requests::{FieldError, SetMetadata};
use crate::state::AppState;

/// The form of an upload (`multipart/form-data`): these parts and no others.
#[allow(dead_code)] // the OpenAPI schema of the form; the handler reads the parts as they come
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentUpload {
    /// The content, with its file name and media type (`Content-Type` of the part;
    /// `application/octet-stream` if it has none).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The document's type (`invoice`): letters, digits, `.`, `_`, `-`, `:`.
    #[schema(pattern = "^[A-Za-z0-9._:-]{1,200}$")]
    document_type: Option<String>,
    /// Its metadata: a JSON object, as text.
    metadata: Option<String>,
}

/// Upload a document (at most 10 MiB of content, 64 KiB of metadata as JSON).
#[utoipa::path(post, path = "/api/documents", tag = "documents", request_body(content = DocumentUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = api::Document), (status = 422, body = ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    Acting(user): Acting,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<api::Document>)> {
    // Not a form (another media type, or a form without a boundary): 415, as a JSON route
    // answers a body that is not JSON.
    let mut form = form.map_err(|r| ApiError::Unreadable {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        message: format!(
            "{}: the body must be `multipart/form-data` with a boundary",
            r.body_text()
        ),
    })?;
    let mut upload = Upload {
        name: String::new(),
        content_type: String::new(),
        document_type: None,
        metadata: Map::new(),
        content: Vec::new(),
    };
    let mut file = false;
    while let Some(part) = form.next_field().await.map_err(unreadable)? {
        let field = |message: &str| FieldError {
            field: "multipart",
            message: message.to_owned(),
        };
        match part.name().unwrap_or_default() {
            "file" if file => {
                return Err(field("a second `file` part: upload one document at a time").into())
            }
            "file" => {
                file = true;
                upload.name = part
                    .file_name()
                    .filter(|n| !n.is_empty())
                    .unwrap_or("document")
                    .to_owned();
                upload.content_type = part
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                upload.content = part.bytes().await.map_err(unreadable)?.to_vec();
            }
            "document_type" => upload.document_type = Some(part.text().await.map_err(unreadable)?),
            "metadata" => {
                let text = part.text().await.map_err(unreadable)?;
                upload.metadata = match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(map)) => map,
                    _ => {
                        return Err(FieldError {
                            field: "metadata",
                            message: "must be a JSON object, as text".into(),
                        }
                        .into())
                    }
                };
            }
            other => {
                return Err(field(&format!(
                    "an unknown part `{}`: the form has `file`, `document_type` and `metadata`",
                    other.escape_default()
                ))
                .into())
            }
        }
    }
    if !file {
        return Err(FieldError {
            field: "file",
            message: "is missing: the form needs a `file` part with the content".into(),
        }
        .into());
    }
    Ok((
        StatusCode::CREATED,
        Json(state.service.upload_document(&user, upload).await?),
    ))
}

fn unreadable(e: MultipartError) -> ApiError {
    ApiError::Unreadable {
        status: e.status(),
        message: e.body_text(),
    }
}

/// A document's record.
#[utoipa::path(get, path = "/api/documents/{id}", tag = "documents", params(("id" = String, Path)),
    responses((status = 200, body = api::Document), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
) -> ApiResult<Json<api::Document>> {
    Ok(Json(state.service.document(&user, &id).await?))
}

/// A document's content, answered with its media type and file name.
#[utoipa::path(get, path = "/api/documents/{id}/content", tag = "documents", params(("id" = String, Path)),
    responses((status = 200, description = "The content, with the document's media type", content((Vec<u8> = "application/octet-stream"), (Vec<u8> = "*/*"))),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn content(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let (document, content) = state.service.document_content(&user, &id).await?;
    let media = HeaderValue::from_str(&document.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename*=UTF-8''{}",
        percent_encoded(&document.name)
    ))
    .unwrap_or(HeaderValue::from_static("attachment"));
    Ok((
        [
            (header::CONTENT_TYPE, media),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        content,
    ))
}

/// Set metadata keys of a document (`null` removes a key); its version goes up by one.
#[utoipa::path(post, path = "/api/documents/{id}/metadata", tag = "documents", params(("id" = String, Path)), request_body = SetMetadata,
    responses((status = 200, body = api::Document), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_metadata(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
    Json(body): Json<SetMetadata>,
) -> ApiResult<Json<api::Document>> {
    Ok(Json(
        state
            .service
            .set_document_metadata(&user, &id, body.metadata)
            .await?,
    ))
}

/// A file name for `filename*=UTF-8''…` (RFC 5987): every byte but letters, digits and
/// `.-_` percent-encoded.
fn percent_encoded(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
