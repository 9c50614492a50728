//! `/api/sign-in` and `/api/sign-out`: the web UI's sign-in, by user name and password or by
//! an API token. The credential goes into an HttpOnly cookie (`baton_auth`, which scripts
//! cannot read, sent only to this site: `SameSite=Strict`) and the session the sign-in opened
//! into `baton_session`; every `/api/...` route then takes the cookie as it takes a bearer
//! token. Signing out logs that session out, ends a password sign-in's credential and clears
//! both cookies.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use cookie::{Cookie, SameSite};

use baton_api_model as api;
use baton_api_model::ErrorKind;
use baton_service::{ServiceError, SIGN_IN_LIFETIME};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{cookie_value, Json};
use crate::requests::SignIn;
use crate::state::AppState;

/// The cookie that keeps a signed-in browser's credential.
pub const AUTH_COOKIE: &str = "baton_auth";
/// The cookie that names the session a sign-in opened.
pub const SESSION_COOKIE: &str = "baton_session";

/// The sign-in's two cookies (the credential and the session), HttpOnly, this site's only,
/// for the whole app, `Secure` when `secure`; `max_age` in seconds (`None`: until the browser
/// closes; `Some(0)`: cleared).
fn sign_in_cookies(
    credential: String,
    session: String,
    max_age: Option<i64>,
    secure: bool,
) -> AppendHeaders<[(HeaderName, String); 2]> {
    let cookie = |name: &'static str, value: String| {
        let mut built = Cookie::build((name, value))
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(secure)
            .path("/");
        if let Some(seconds) = max_age {
            built = built.max_age(cookie::time::Duration::seconds(seconds));
        }
        (SET_COOKIE, built.build().to_string())
    };
    AppendHeaders([
        cookie(AUTH_COOKIE, credential),
        cookie(SESSION_COOKIE, session),
    ])
}

/// Sign in by `user` and `password`, or by `token`: the answer sets the cookies that sign the
/// browser in, and names the user session it opened.
#[utoipa::path(post, path = "/api/sign-in", tag = "people", request_body = SignIn, security(()),
    responses((status = 200, body = api::SignedIn, headers(("Set-Cookie" = String, description = "`baton_auth` (the credential, HttpOnly) and `baton_session`"))),
        (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<SignIn>,
) -> ApiResult<Response> {
    let secure = state.secure_cookies.apply_to(&headers);
    let (signed_in, lifetime) = match (body.user, body.password, body.token) {
        (Some(user), Some(password), None) => (
            state
                .service
                .sign_in_with_password(&user, &password)
                .await?,
            Some(SIGN_IN_LIFETIME.as_secs() as i64),
        ),
        (None, None, Some(token)) => (state.service.sign_in_with_token(token.trim()).await?, None),
        _ => {
            return Err(ServiceError::InvalidRequest {
                field: "sign-in",
                problem: "give `user` and `password`, or `token`".to_owned(),
            }
            .into())
        }
    };
    let cookies = sign_in_cookies(
        signed_in.secret,
        signed_in.view.session.id.clone(),
        lifetime,
        secure,
    );
    Ok((cookies, Json(signed_in.view)).into_response())
}

/// Sign out: logs the sign-in's session out (its cached workflows go to the inbox or are
/// deleted, as at any logout), ends a password sign-in's credential and clears the cookies.
/// A browser whose credential already ended is signed out all the same.
#[utoipa::path(post, path = "/api/sign-out", tag = "people", security(()), responses((status = 204, description = "Signed out; the cookies are cleared"), (status = 500, body = ErrorBody)))]
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(secret) = cookie_value(&headers, AUTH_COOKIE) {
        let session = cookie_value(&headers, SESSION_COOKIE);
        match state.service.sign_out(&secret, session.as_deref()).await {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Unauthenticated => {}
            Err(e) => return Err(ApiError::from(e)),
        }
    }
    let secure = state.secure_cookies.apply_to(&headers);
    let cleared = sign_in_cookies(String::new(), String::new(), Some(0), secure);
    Ok((StatusCode::NO_CONTENT, cleared).into_response())
}
