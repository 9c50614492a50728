//! What a call of the API can meet: the server's own refusals and failures, each with the
//! [`ErrorKind`] its error body names, and what happens on the way (no server at the address,
//! no answer in time, an answer that is not Baton's). [`ClientError::kind`] gives each its
//! kind, so a caller answers as it answers the service's errors.

use baton_api_model::ErrorKind;
use serde_json::Value;

/// Everything a call of the API can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server's address is not one to send requests to.
    #[error("the server address `{given}` {why}")]
    BadAddress { given: String, why: &'static str },
    /// The token cannot go in an HTTP header (a control character, a line break).
    #[error("the API token holds characters an HTTP header cannot carry; give the token exactly as `baton token create` printed it")]
    BadToken,
    /// Nothing answered at the address (refused, no route, a name that does not resolve).
    #[error("cannot reach the Baton server at {server}: {reason}")]
    Unreachable { server: String, reason: String },
    /// The server took longer than the time a call may take.
    #[error("the Baton server at {server} did not answer within {seconds} s")]
    TimedOut { server: String, seconds: u64 },
    /// The server refused the token: none was given, or it is unknown, revoked or expired.
    #[error(
        "the Baton server at {server} refused the API token (it is unknown, revoked or expired); set BATON_TOKEN (or --token) to a valid one, which `baton token create --user USER` makes"
    )]
    Unauthenticated { server: String },
    /// The server refused or failed the request and said why, in its error body.
    #[error("{message}")]
    Answered {
        kind: ErrorKind,
        message: String,
        /// The body's `details`: for a definition with problems, each problem; else mostly `null`.
        details: Value,
    },
    /// The answer is not one of Baton's API (a proxy's error page, another program's answer).
    #[error("the server at {server} answered {status} to {what}, which is not an answer of Baton's API; is it the address of `baton serve`?")]
    NotBaton {
        server: String,
        status: u16,
        what: String,
    },
    /// A successful answer that does not read as the view it should be.
    #[error("the answer of the server at {server} to {what} does not read as Baton's API answers it: {reason}")]
    Unreadable {
        server: String,
        what: String,
        reason: String,
    },
    /// An answer longer than [`crate::MAX_ANSWER_BYTES`].
    #[error("the answer of the server at {server} to {what} is larger than {limit} bytes")]
    TooLarge {
        server: String,
        what: String,
        limit: usize,
    },
}

impl ClientError {
    /// The kind of this error: the server's for its own answers; a bad address or token is
    /// the caller's to correct (`invalid`); a server that cannot be reached or answers as no
    /// Baton does is `unavailable`, or `invalid` for a 4xx (the address is likely wrong).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::BadAddress { .. } | Self::BadToken => ErrorKind::Invalid,
            Self::Unreachable { .. } | Self::TimedOut { .. } => ErrorKind::Unavailable,
            Self::Unauthenticated { .. } => ErrorKind::Unauthenticated,
            Self::Answered { kind, .. } => *kind,
            Self::NotBaton { status, .. } if (400..500).contains(status) => ErrorKind::Invalid,
            Self::NotBaton { .. } => ErrorKind::Unavailable,
            Self::Unreadable { .. } | Self::TooLarge { .. } => ErrorKind::Internal,
        }
    }
}
