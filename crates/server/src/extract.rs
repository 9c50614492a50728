//! What handlers take from a request: the acting user (from the bearer token), and the
//! body, query and path, whose rejections become [`ApiError`]s so that every refusal is
//! the JSON error body.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use baton_api_model::ErrorKind;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body (`Content-Type: application/json`, within the body limit).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// The query string.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// The path's parameters.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// The user the request acts as: the user of its `Authorization: Bearer` token.
pub struct Acting(pub String);

impl FromRequestParts<AppState> for Acting {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let Some(secret) = header.strip_prefix("Bearer ").map(str::trim).filter(|s| !s.is_empty()) else {
            return Err(ApiError::Unauthenticated);
        };
        match state.service.token_user(secret).await {
            Ok(user) => Ok(Self(user)),
            Err(e) if e.kind() == ErrorKind::Unauthenticated => {
                // Why it was refused is for the log only: the client hears the same answer for each.
                tracing::info!(reason = %e, "request refused");
                Err(ApiError::Unauthenticated)
            }
            Err(e) => Err(e.into()),
        }
    }
}
