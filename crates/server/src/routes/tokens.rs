//! `/api/tokens`: API tokens. A user makes, lists and revokes their own; an administrator
//! anyone's. The secret is in the answer that makes a token, and never again.

use axum::extract::State;
use axum::http::StatusCode;

use baton_api_model as api;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Acting, Json, Path, Query};
use crate::requests::{FieldError, TokenRequest, TokensQuery};
use crate::state::AppState;

/// Make a token; the answer holds its secret, shown this once.
#[utoipa::path(post, path = "/api/tokens", tag = "tokens", request_body = TokenRequest,
    responses((status = 201, body = api::NewToken), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Acting(user): Acting,
    Json(body): Json<TokenRequest>,
) -> ApiResult<(StatusCode, Json<api::NewToken>)> {
    let lifetime = body
        .lifetime
        .map(|text| {
            humantime::parse_duration(&text).map_err(|e| FieldError {
                field: "lifetime",
                message: e.to_string(),
            })
        })
        .transpose()?;
    let for_user = body.user.unwrap_or_else(|| user.clone());
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .service
                .create_token(&user, &for_user, body.name.as_deref(), lifetime)
                .await?,
        ),
    ))
}

/// Tokens, oldest first, without secrets: the acting user's, or (an administrator) `user`'s
/// or, with `user=*`, everyone's.
#[utoipa::path(get, path = "/api/tokens", tag = "tokens", params(TokensQuery),
    responses((status = 200, body = Vec<api::Token>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Acting(user): Acting,
    Query(q): Query<TokensQuery>,
) -> ApiResult<Json<Vec<api::Token>>> {
    let of = match q.user.as_deref() {
        None => Some(user.as_str()),
        Some("*") => None,
        Some(other) => Some(other),
    };
    Ok(Json(state.service.tokens(&user, of).await?))
}

/// Revoke a token for good: the acting user's own, or (an administrator) anyone's.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 200, body = api::Token), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(id): Path<String>,
) -> ApiResult<Json<api::Token>> {
    Ok(Json(state.service.revoke_token(&user, &id).await?))
}
