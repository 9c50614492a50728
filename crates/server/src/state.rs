//! What every handler shares: the service, on the embedded SQLite store.

use baton_service::Service;
use baton_store_sqlite::SqliteStore;

/// The store the server runs on. The server takes one concrete store so that its handlers
/// are plain functions the OpenAPI document can describe.
pub type Store = SqliteStore;

/// The state of the app: a handle on the service (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    pub service: Service<Store>,
}

impl AppState {
    /// The state for `service`, which should be a server's (`Service::new`): there, managing
    /// people and others' tokens takes an administrator.
    pub fn new(service: Service<Store>) -> Self {
        Self { service }
    }
}
