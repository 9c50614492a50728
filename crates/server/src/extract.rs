//! What handlers take from a request: the acting user (from the bearer token), and the
//! body (required or optional), query and path, whose rejections become [`ApiError`]s so that
//! every refusal is the JSON error body.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;

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

/// A JSON body that may be left out: an empty body, or JSON `null`, is `None`; any other is
/// read as [`Json`] reads it (it needs `Content-Type: application/json`), so a body without
/// that type is refused with 415, one that does not parse with 400, and one of the wrong shape
/// with 422.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let headers = parts.headers.clone();
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state).await?;
        if bytes.is_empty() {
            return Ok(Self(None));
        }
        let mut again = Request::new(Body::from(bytes));
        *again.headers_mut() = headers;
        let Json(value) = Json::<Option<T>>::from_request(again, state).await?;
        Ok(Self(value))
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

/// The user the request acts as: the user of its `Authorization: Bearer` token or, from a
/// signed-in browser, of its sign-in cookie. A request that changes something by the cookie
/// alone must also carry the [`UI_HEADER`] the web UI sends: another site's page can make a
/// browser send the cookie, but not a header of its own.
pub struct Acting(pub String);

/// The header every changing request of the web UI carries (see [`Acting`]).
pub const UI_HEADER: &str = "x-baton-ui";

/// The value of the cookie `name` a request carries, if it carries one.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}

impl FromRequestParts<AppState> for Acting {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let secret = match header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(secret) => secret.to_owned(),
            None => {
                let Some(secret) =
                    cookie_value(&parts.headers, crate::routes::sign_in::AUTH_COOKIE)
                else {
                    return Err(ApiError::Unauthenticated);
                };
                if !parts.method.is_safe() && !parts.headers.contains_key(UI_HEADER) {
                    return Err(ApiError::CrossSite);
                }
                secret
            }
        };
        match state.service.token_user(&secret).await {
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
