//! `/api/cases`: the instances users track as one entity (a root, its sub-processes and what
//! they handed off).

use axum::extract::State;

use baton_api_model as api;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Acting, Json, Path};
use crate::state::AppState;

/// Every instance of a case, oldest first. A case's id is the id of the instance that started
/// it; every instance it started, directly or not, carries it (`case` of an instance).
#[utoipa::path(get, path = "/api/cases/{id}", tag = "cases", params(("id" = String, Path)),
    responses((status = 200, body = api::Case), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
) -> ApiResult<Json<api::Case>> {
    Ok(Json(state.service.case(&user, &id).await?))
}
