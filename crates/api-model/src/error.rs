//! The error body every surface answers a failed request with, and the kinds of error: what
//! a surface derives its answer from (the CLI's exit code, an HTTP status), in one place each.

use serde::{Deserialize, Serialize};

/// What kind of error a request met. Every kind but `unavailable` and `internal` is a
/// refusal: the request was at fault, and nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request is malformed or breaks a rule: a bad definition, bad data, data past a limit.
    Invalid,
    /// The acting user is not known.
    Unauthenticated,
    /// The acting user is known but may not do this.
    Forbidden,
    /// What the request names (a process, an instance, a task, a person) does not exist.
    NotFound,
    /// The request does not fit the current state (retrying a task that is running, acting on
    /// an ended instance, adding a user who exists).
    Conflict,
    /// The store cannot serve the request now (read-only, disk full, busy, another process
    /// runs the jobs); trying again later, or after fixing the cause, may work.
    Unavailable,
    /// A fault in Baton or in stored data.
    Internal,
}

impl ErrorKind {
    /// Every kind, in the order above.
    pub const ALL: [Self; 7] = [
        Self::Invalid,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::NotFound,
        Self::Conflict,
        Self::Unavailable,
        Self::Internal,
    ];

    /// Was the request at fault (so the caller should correct it), rather than Baton or its store?
    pub fn is_refusal(self) -> bool {
        !matches!(self, Self::Unavailable | Self::Internal)
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Error {
    /// The kind of error; see [`ErrorKind`].
    pub kind: ErrorKind,
    /// What went wrong, as a sentence for a person (for `internal` errors a generic one).
    pub message: String,
}
