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

/// The state of the app: a handle on the service and the app's shared parts (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    pub service: Service<Store>,
    pub(crate) metrics: Arc<HttpMetrics>,
    /// One permit per open event stream.
    pub(crate) streams: Arc<Semaphore>,
    /// Set once the server shuts down: open event streams end, so the shutdown can finish.
    pub(crate) closing: Arc<watch::Sender<bool>>,
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
        }
    }

    /// Ends every open event stream (the server is shutting down).
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }
}
