//! What every handler shares: the service, on the store the server opened (SQLite or PostgreSQL), the app's HTTP
//! measurements, and what event streams need (a bound on how many, and the shutdown).

use std::sync::Arc;

use tokio::sync::{watch, Semaphore};

use baton_service::Service;
use baton_store_any::AnyStore;

use crate::metrics::HttpMetrics;

/// The store the server runs on: SQLite or PostgreSQL, chosen when it starts. The server takes
/// one concrete store so that its handlers are plain functions the OpenAPI document can describe.
pub type Store = AnyStore;

/// The most event streams (`GET /api/events`) one server keeps open at once; past it a new
/// one is refused with 503 until another closes.
pub const MAX_EVENT_STREAMS: usize = 1024;

/// When the web UI's sign-in cookies carry `Secure` (the browser then sends them only over
/// HTTPS). Baton itself serves plain HTTP; HTTPS is a proxy's in front of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SecureCookies {
    /// Never: people reach the server over plain HTTP (the default).
    #[default]
    Never,
    /// Always: people reach the server at an `https://` address (`--public-url`).
    Always,
    /// On requests whose `X-Forwarded-Proto` is `https`: a proxy in front of the server sets
    /// it, and is trusted to (`--trust-forwarded-proto`; a client could set it too).
    WhenForwardedHttps,
}

impl SecureCookies {
    /// Do the cookies of the answer to a request with `headers` carry `Secure`?
    pub fn apply_to(self, headers: &axum::http::HeaderMap) -> bool {
        match self {
            Self::Never => false,
            Self::Always => true,
            Self::WhenForwardedHttps => headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                // A proxy chain may list one protocol per hop: the first is the client's.
                .and_then(|v| v.split(',').next())
                .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https")),
        }
    }
}

/// The state of the app: a handle on the service and the app's shared parts (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    pub service: Service<Store>,
    pub(crate) metrics: Arc<HttpMetrics>,
    /// One permit per open event stream.
    pub(crate) streams: Arc<Semaphore>,
    /// Set once the server shuts down: open event streams end, so the shutdown can finish.
    pub(crate) closing: Arc<watch::Sender<bool>>,
    /// When the sign-in's cookies carry `Secure`.
    pub(crate) secure_cookies: SecureCookies,
}

impl AppState {
    /// The state for `service`, which should be a server's (`Service::new`): there, managing
    /// people and others' tokens takes an administrator.
    pub fn new(service: Service<Store>) -> Self {
        Self {
            service,
            metrics: Arc::default(),
            streams: Arc::new(Semaphore::new(MAX_EVENT_STREAMS)),
            closing: Arc::new(watch::channel(false).0),
            secure_cookies: SecureCookies::default(),
        }
    }

    /// The same state, its sign-in cookies `Secure` as `secure` says.
    pub fn with_secure_cookies(mut self, secure: SecureCookies) -> Self {
        self.secure_cookies = secure;
        self
    }

    /// Ends every open event stream (the server is shutting down).
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }
}
