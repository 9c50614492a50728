//! Baton's HTTP/JSON API: axum routes over the service. [`app`] builds the whole app (its
//! routes, the bearer-token authentication every `/api/...` route asks for, the body limit,
//! request ids and tracing, the OpenAPI document at `/openapi.json` and its reference page at
//! `/docs`, and the web UI at `/`), so tests drive it without a socket and `baton serve` puts it on one.
//!
//! Every route is registered through `utoipa-axum`'s `routes!`, which adds it to the router
//! and to the OpenAPI document at once: a route cannot be served and left undocumented.

mod docs;
pub mod error;
mod extract;
pub mod metrics;
mod openapi;
pub mod requests;
mod routes;
mod state;
mod ui;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{Method, Request, Uri};
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorBody};
pub use state::{AppState, SecureCookies, Store, MAX_EVENT_STREAMS};

/// The largest request body the API reads (16 MiB): room for a deploy of a definition at its
/// own limit (8 MiB) with JSON escaping; a larger body is refused with 413.
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// The app: every route, with its layers, on `state`.
pub fn app(state: AppState) -> Router {
    let (router, document) = api_parts();
    let document = Arc::new(document);
    router
        .merge(docs::router(document))
        .merge(ui::router())
        .fallback(|uri: Uri| async move { ApiError::NoRoute(uri.path().to_owned()) })
        .method_not_allowed_fallback(|method: Method| async move {
            ApiError::MethodNotAllowed(method.to_string())
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// The span every log line of a request is in: its method, its route's template and its
/// request id (the `x-request-id` its answer carries), so a log can be searched by either.
fn request_span<B>(request: &Request<B>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!("request", method = %request.method(), route, request_id)
}

/// The documented routes, registered with the OpenAPI document.
fn api_router() -> OpenApiRouter<AppState> {
    use routes::{
        cases, definitions, documents, events, external_jobs, health, human_tasks, incidents,
        instances, people, schedules, sessions, sign_in, tokens,
    };
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(metrics::metrics))
        .routes(routes!(events::events, events::publish))
        .routes(routes!(definitions::deploy, definitions::list))
        .routes(routes!(definitions::show))
        .routes(routes!(definitions::versions))
        .routes(routes!(definitions::graph))
        .routes(routes!(definitions::source))
        .routes(routes!(instances::start, instances::list))
        .routes(routes!(instances::show, instances::delete))
        .routes(routes!(instances::history))
        .routes(routes!(instances::children))
        .routes(routes!(instances::abort))
        .routes(routes!(instances::recover))
        .routes(routes!(instances::spawn))
        .routes(routes!(instances::abort_and_start))
        .routes(routes!(cases::show))
        .routes(routes!(instances::retry))
        .routes(routes!(instances::back))
        .routes(routes!(instances::skip))
        .routes(routes!(
            instances::set_breakpoint,
            instances::clear_breakpoint
        ))
        .routes(routes!(instances::input))
        .routes(routes!(documents::upload))
        .routes(routes!(documents::show))
        .routes(routes!(documents::content))
        .routes(routes!(documents::set_metadata))
        .routes(routes!(human_tasks::inbox))
        .routes(routes!(human_tasks::show, human_tasks::operate))
        .routes(routes!(sessions::login))
        .routes(routes!(sessions::show, sessions::logout))
        .routes(routes!(sessions::workflows, sessions::start))
        .routes(routes!(sessions::resume))
        .routes(routes!(sessions::submit))
        .routes(routes!(sessions::suspend))
        .routes(routes!(people::me))
        .routes(routes!(sign_in::sign_in))
        .routes(routes!(sign_in::sign_out))
        .routes(routes!(people::set_password))
        .routes(routes!(people::users, people::add_user))
        .routes(routes!(people::groups, people::add_group))
        .routes(routes!(people::add_member))
        .routes(routes!(people::remove_member))
        .routes(routes!(people::departments))
        .routes(routes!(tokens::create, tokens::list))
        .routes(routes!(tokens::revoke))
        .routes(routes!(schedules::create, schedules::list))
        .routes(routes!(schedules::show, schedules::delete))
        .routes(routes!(schedules::pause))
        .routes(routes!(schedules::resume))
        .routes(routes!(schedules::trigger))
        .routes(routes!(incidents::list))
        .routes(routes!(incidents::of_instance))
        .routes(routes!(incidents::retry))
        .routes(routes!(incidents::resolve))
        .routes(routes!(external_jobs::fetch_and_lock))
        .routes(routes!(external_jobs::complete))
        .routes(routes!(external_jobs::fail))
        .routes(routes!(external_jobs::end))
        .routes(routes!(external_jobs::extend_lock))
}

/// The documented routes and their OpenAPI document, with the answers every operation shares.
fn api_parts() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut document) = api_router().split_for_parts();
    openapi::add_shared_answers(&mut document);
    (router, document)
}

/// The OpenAPI document of the API, as `/openapi.json` serves it.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    api_parts().1
}

/// Serves the app on `listener` until `shutdown` resolves; then it takes no new connections,
/// ends the open event streams and finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let closing = state.clone();
    let shutdown = async move {
        shutdown.await;
        closing.close_streams();
    };
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
