//! `/api/definitions`: deploying definitions and reading what was deployed.

use baton_api_model as api;
use baton_service::SourceFile;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Acting, Json, Path, Query};
use crate::requests::{DefinitionsQuery, Deploy, VersionQuery};
use crate::state::AppState;
use axum::extract::State;

/// Deploy one or several files: every file is checked, then all are stored together as the
/// next version of each id, or, on any problem in any file, none (422 with every problem in
/// `details`).
#[utoipa::path(post, path = "/api/definitions", tag = "definitions", request_body = Deploy,
    responses((status = 200, body = Vec<api::Deployed>), (status = 422, body = ErrorBody)))]
pub async fn deploy(
    State(state): State<AppState>,
    Acting(user): Acting,
    Json(body): Json<Deploy>,
) -> ApiResult<Json<Vec<api::Deployed>>> {
    let files = body
        .files
        .into_iter()
        .map(|f| SourceFile {
            name: f.name,
            bytes: f.source.into_bytes(),
        })
        .collect();
    Ok(Json(state.service.deploy(&user, files).await?))
}

/// The latest version of every deployed definition; with `startable=true`, only the
/// processes the acting user may start.
#[utoipa::path(get, path = "/api/definitions", tag = "definitions", params(DefinitionsQuery),
    responses((status = 200, body = Vec<api::Definition>), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Acting(user): Acting,
    Query(q): Query<DefinitionsQuery>,
) -> ApiResult<Json<Vec<api::Definition>>> {
    Ok(Json(if q.startable {
        state.service.startable(&user).await?
    } else {
        state.service.definitions(&user).await?
    }))
}

/// One version of a definition (the latest unless `version` says).
#[utoipa::path(get, path = "/api/definitions/{id}", tag = "definitions", params(("id" = String, Path), VersionQuery),
    responses((status = 200, body = api::Definition), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Json<api::Definition>> {
    Ok(Json(state.service.definition(&user, &id, q.version).await?))
}

/// One version's flow as a graph: its tasks, and what leads from one to the next (the latest
/// version unless `version` says).
#[utoipa::path(get, path = "/api/definitions/{id}/graph", tag = "definitions", params(("id" = String, Path), VersionQuery),
    responses((status = 200, body = api::DefinitionGraph), (status = 404, body = ErrorBody)))]
pub async fn graph(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Json<api::DefinitionGraph>> {
    Ok(Json(
        state
            .service
            .definition_graph(&user, &id, q.version)
            .await?,
    ))
}

/// Every deployed version of a definition, oldest first.
#[utoipa::path(get, path = "/api/definitions/{id}/versions", tag = "definitions", params(("id" = String, Path)),
    responses((status = 200, body = Vec<api::DefinitionVersion>), (status = 404, body = ErrorBody)))]
pub async fn versions(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<api::DefinitionVersion>>> {
    Ok(Json(state.service.versions(&user, &id).await?))
}

/// The source of one version, as it was deployed (the latest unless `version` says).
#[utoipa::path(get, path = "/api/definitions/{id}/source", tag = "definitions", params(("id" = String, Path), VersionQuery),
    responses((status = 200, body = api::DefinitionSource), (status = 404, body = ErrorBody)))]
pub async fn source(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Json<api::DefinitionSource>> {
    Ok(Json(state.service.source(&user, &id, q.version).await?))
}
