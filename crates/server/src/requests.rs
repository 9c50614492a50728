//! The request bodies and query strings the API takes. Those a client of the API writes too
//! (`baton --server`, an external worker) are api-model's, so their wire format is defined
//! once; the event stream's are the server's own, with the error of a field that does not
//! hold what it should.

use serde::Deserialize;
use utoipa::IntoParams;

pub use baton_api_model::requests::*;

/// Which changes an event stream shows (both given: both must hold).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Only this instance's changes.
    pub instance: Option<String>,
    /// Only the changes of human tasks this user may see, and no `instance` events (a user
    /// other than the acting one takes an administrator).
    pub user: Option<String>,
}

/// A request field that does not hold what it should.
#[derive(Debug, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// The core's end status for the one a worker's request names.
pub fn end_status(
    status: baton_api_model::requests::WorkerEndStatus,
) -> baton_core::WorkerEndStatus {
    use baton_api_model::requests::WorkerEndStatus as W;
    match status {
        W::EndedOk => baton_core::WorkerEndStatus::EndedOk,
        W::EndedNotOk => baton_core::WorkerEndStatus::EndedNotOk,
        W::EndedSkipped => baton_core::WorkerEndStatus::EndedSkipped,
    }
}
