//! The service's error: every refusal and failure a surface can meet, each with the source it
//! came from and an [`ErrorKind`] that a surface derives its answer from (the CLI's exit
//! code, an HTTP status) in one function of its own.

use baton_api_model::ErrorKind;
use baton_engine::{identity_kind, store_kind, EngineError};
use baton_store::{DocumentError, IdentityError, StoreError};

/// Everything a service call can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The engine refused or failed (a bad definition, an unknown instance, a refused
    /// transition, a store failure, …).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The acting user is not known.
    #[error(transparent)]
    Unauthenticated(IdentityError),
    /// A user, group or membership the request names is refused (unknown, duplicate, bad name).
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An id that names no case (no instance carries it as its case).
    #[error("there is no case `{0}`")]
    CaseNotFound(String),
    /// A version of a process that was never deployed.
    #[error("there is no version {version} of process `{id}`")]
    VersionNotFound { id: String, version: u32 },
    /// A task id the instance's definition does not have.
    #[error("there is no task `{task}` in process `{process}`")]
    UnknownTask { process: String, task: String },
    /// A human-task operation on a task of another kind.
    #[error("task `{task}` is a {kind} task; only `user` tasks have human tasks")]
    NotAUserTask { task: String, kind: &'static str },
    /// A human-task query on a `user` task whose turn has not come.
    #[error("user task `{task}` of instance {instance} has not started")]
    UserTaskNotStarted { instance: String, task: String },
    /// The acting user may not do this (only an administrator may).
    #[error("{user} may not {what}: only an administrator may")]
    Forbidden { user: String, what: &'static str },
    /// The acting user may not work external jobs.
    #[error("{user} may not work external jobs: only administrators and members of group `workers` may (`baton group add-member workers {user}`)")]
    NotAWorker { user: String },
    /// The acting user may not publish events.
    #[error("{user} may not publish events: only administrators and members of group `event-publishers` may (`baton group add-member event-publishers {user}`)")]
    NotAPublisher { user: String },
    /// A field of a request is out of its documented bounds or badly formed.
    #[error("`{field}` is not allowed: {problem}")]
    InvalidRequest {
        field: &'static str,
        problem: String,
    },
    /// The acting user may not start (or spawn) this process: it is not startable, or its
    /// `startable_by` does not name them.
    #[error("{user} may not start process `{process}`: {why}")]
    MayNotStart {
        user: String,
        process: String,
        why: &'static str,
    },
    /// A document operation was refused (unknown, past a limit) or failed.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// The acting user may not read this document: they did not upload it, and no instance
    /// they may see refers to it.
    #[error("{user} may not read document `{document}`: they did not upload it and no instance they may see refers to it")]
    MayNotReadDocument { user: String, document: String },
    /// The instance is scoped to a department the acting user does not belong to (Stardust's
    /// department scoping): they may not see it or act on it, its tasks, documents or history.
    #[error("{user} may not see or act on instance {instance}: it belongs to another department than theirs (only that department's users and administrators may)")]
    OutOfScope { user: String, instance: String },
    /// A session request to a service without sessions (the command line without `--server`).
    #[error("user sessions live in a server (`baton serve`): use --server URL")]
    NoSessions,
    /// A login past the most sessions a user may have open.
    #[error("{user} has {max} sessions open, the most allowed: log one out first")]
    TooManySessions { user: String, max: usize },
    /// A session id that names no open session (never opened, logged out, timed out).
    #[error("there is no open session `{0}`: log in again (`baton session login`)")]
    SessionNotFound(String),
    /// Another user's session.
    #[error("{user} may not act in session `{session}`: it is another user's")]
    NotYourSession { user: String, session: String },
    /// A session start of a process that is not interactive.
    #[error("process `{process}` is not interactive: start it with `baton start`")]
    NotInteractive { process: String },
    /// An ordinary start of an interactive process.
    #[error("process `{process}` is interactive: one user drives it in a session (`baton session start`)")]
    Interactive { process: String },
    /// A workflow that is not in the session's cache.
    #[error("workflow {instance} is not in this session's cache")]
    NotInSession { instance: String },
    /// A workflow in the user's inbox that a request needs in the session's cache.
    #[error("workflow {instance} is suspended in the inbox: resume it first (`baton session resume {instance}`)")]
    ResumeFirst { instance: String },
    /// A resumption of a workflow that is not in the inbox (it ended, or is not interactive).
    #[error("there is no suspended interactive workflow {instance} in the inbox")]
    NotSuspended { instance: String },
    /// Another user's interactive workflow.
    #[error("{user} may not resume workflow {instance}: it is another user's")]
    NotTheirWorkflow { user: String, instance: String },
    /// A workflow open in another session.
    #[error("workflow {instance} is in the cache of another session")]
    InAnotherSession { instance: String },
    /// A session request about a workflow that ended.
    #[error("workflow {instance} has ended ({status})")]
    WorkflowEnded {
        instance: String,
        status: &'static str,
    },
    /// A submission to a workflow that shows no view.
    #[error("workflow {instance} shows no view: nothing to submit")]
    NoViewShown { instance: String },
    /// A sign-in whose user name and password (or token) do not match: which of them is
    /// wrong is not said.
    #[error("the user name or password (or the token) is not right")]
    SignInRefused,
    /// A failure inside Baton that is no request's fault (the log says what).
    #[error("{0}")]
    Internal(String),
    /// A count past its bound (a page size, a listing limit).
    #[error("{what} must be from 1 to {max}, not {value}")]
    OutOfBounds {
        what: &'static str,
        value: usize,
        max: usize,
    },
}

impl ServiceError {
    /// The kind of this error; see [`ErrorKind`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Engine(e) => e.kind(),
            Self::Unauthenticated(_) | Self::SignInRefused => ErrorKind::Unauthenticated,
            Self::Internal(_) => ErrorKind::Internal,
            Self::Identity(e) => identity_kind(e),
            Self::Store(e) => store_kind(e),
            Self::CaseNotFound(_) | Self::VersionNotFound { .. } | Self::UnknownTask { .. } => {
                ErrorKind::NotFound
            }
            Self::NotAUserTask { .. } | Self::OutOfBounds { .. } | Self::InvalidRequest { .. } => {
                ErrorKind::Invalid
            }
            Self::UserTaskNotStarted { .. }
            | Self::TooManySessions { .. }
            | Self::ResumeFirst { .. }
            | Self::InAnotherSession { .. }
            | Self::NoViewShown { .. }
            | Self::WorkflowEnded { .. } => ErrorKind::Conflict,
            Self::NoSessions | Self::NotInteractive { .. } | Self::Interactive { .. } => {
                ErrorKind::Invalid
            }
            Self::SessionNotFound(_) | Self::NotInSession { .. } | Self::NotSuspended { .. } => {
                ErrorKind::NotFound
            }
            Self::NotYourSession { .. } | Self::NotTheirWorkflow { .. } => ErrorKind::Forbidden,
            Self::Forbidden { .. }
            | Self::NotAWorker { .. }
            | Self::NotAPublisher { .. }
            | Self::MayNotStart { .. }
            | Self::MayNotReadDocument { .. }
            | Self::OutOfScope { .. } => ErrorKind::Forbidden,
            Self::Document(e) => match e {
                DocumentError::UnknownDocument(_) => ErrorKind::NotFound,
                DocumentError::ContentTooLarge { .. }
                | DocumentError::MetadataTooLarge { .. }
                | DocumentError::BadName(_) => ErrorKind::Invalid,
                DocumentError::CorruptContent { .. } => ErrorKind::Internal,
                DocumentError::Store(e) => store_kind(e),
            },
        }
    }

    /// The error as a surface shows it to a client: its kind and message, except for an
    /// internal error, whose text may name Baton's internals (it is logged instead).
    pub fn to_view(&self) -> baton_api_model::Error {
        let kind = self.kind();
        let message = match kind {
            ErrorKind::Internal => {
                "Baton failed to carry out the request; its log says why".to_owned()
            }
            _ => self.to_string(),
        };
        baton_api_model::Error { kind, message }
    }
}

/// The result of a service call.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;
