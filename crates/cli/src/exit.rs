//! Baton's exit codes, the same for every command, and the command line's error: each error
//! has an [`ErrorKind`], and [`code`] is the one place a kind becomes an exit code.

use baton_api_model::ErrorKind;
use baton_engine::{store_kind, EngineError};
use baton_service::ServiceError;
use baton_store::StoreError;

/// Done (for `run`: the instance completed).
pub const DONE: u8 = 0;
/// `run`: the instance failed, was aborted or is blocked. Any command: Baton or its database
/// failed (nothing was refused; trying again may work).
pub const FAILED: u8 = 1;
/// The request was refused and nothing changed: bad input, an unknown instance, task,
/// process or user, an operation the state or the user's rights do not allow.
pub const REFUSED: u8 = 2;
/// `run`: the instance waits (for a time, a precondition, input or people).
pub const WAITING: u8 = 3;

/// The exit code for an error of `kind`: a refusal exits 2, a failure 1.
pub fn code(kind: ErrorKind) -> u8 {
    if kind.is_refusal() {
        REFUSED
    } else {
        FAILED
    }
}

/// Everything a command can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The service refused or failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// Running jobs failed (the worker's own work, not a request).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Input the user must correct: bad `--data`, a bad status name, a `--db` URL of no store.
    #[error("{0}")]
    Input(String),
    /// A file could not be read, or the OS refused (a lock file, signals).
    #[error("{what}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error("opening the database {path}")]
    Open { path: String, source: StoreError },
    /// Another process holds the lock on running the database's jobs.
    #[error("another baton process is already running the jobs of {0}")]
    JobsLocked(String),
    /// Ctrl-C or SIGTERM stopped `baton run` before its instance settled.
    #[error("interrupted; instance {instance} goes on with {goes_on_with}")]
    Interrupted {
        instance: String,
        goes_on_with: &'static str,
    },
    /// A benchmark failed.
    #[error(transparent)]
    Bench(anyhow::Error),
    /// The server (`--server`) refused or failed the request, or could not be reached.
    #[error(transparent)]
    Remote(#[from] baton_client::ClientError),
    /// `--server` without a token to send.
    #[error("--server needs an API token: set BATON_TOKEN (or --token) to one that `baton token create --user USER` made")]
    NoToken,
    /// `--as` names someone else than the user of the `--server` token.
    #[error("--as {given}: with --server every command acts as the user of its API token, {token_user}; to act as {given}, use a token of theirs")]
    NotTokenUser { given: String, token_user: String },
    /// A command that works on the database file itself was given `--server`.
    #[error("`baton {command}` works on the database file itself and cannot go through --server; run it where the database is, without --server and BATON_SERVER")]
    NeedsDatabase { command: &'static str },
}

impl CliError {
    /// The kind of this error; see [`ErrorKind`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Service(e) => e.kind(),
            Self::Engine(e) => e.kind(),
            Self::Input(_) | Self::NotTokenUser { .. } | Self::NeedsDatabase { .. } => {
                ErrorKind::Invalid
            }
            Self::Remote(e) => e.kind(),
            Self::NoToken => ErrorKind::Unauthenticated,
            Self::Open { source, .. } => store_kind(source),
            Self::JobsLocked(_) | Self::Interrupted { .. } => ErrorKind::Unavailable,
            Self::Io { .. } | Self::Bench(_) => ErrorKind::Internal,
        }
    }

    /// The error and each of its causes, `: ` between them (`opening the database x: database
    /// error: …`).
    pub fn with_causes(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(e) = cause {
            text.push_str(": ");
            text.push_str(&e.to_string());
            cause = e.source();
        }
        text
    }

    /// Wraps a failure to read or lock `what`.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

/// A command's result: its exit code, or why it failed.
pub type Result<T, E = CliError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_kind_exits_2_and_unavailable_and_internal_exit_1() {
        let codes: Vec<(ErrorKind, u8)> =
            ErrorKind::ALL.into_iter().map(|k| (k, code(k))).collect();
        assert_eq!(
            codes,
            [
                (ErrorKind::Invalid, REFUSED),
                (ErrorKind::Unauthenticated, REFUSED),
                (ErrorKind::Forbidden, REFUSED),
                (ErrorKind::NotFound, REFUSED),
                (ErrorKind::Conflict, REFUSED),
                (ErrorKind::Unavailable, FAILED),
                (ErrorKind::Internal, FAILED),
            ]
        );
    }

    #[test]
    fn an_error_prints_with_each_of_its_causes() {
        let open = CliError::Open {
            path: "x.db".into(),
            source: StoreError::backend(baton_store::BackendKind::Storage, "disk I/O error"),
        };
        assert_eq!(
            open.with_causes(),
            "opening the database x.db: database error: disk I/O error"
        );
        assert_eq!(open.kind(), ErrorKind::Unavailable);
    }
}
