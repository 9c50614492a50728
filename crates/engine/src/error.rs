//! The engine's error, and the kind of each error: what a surface (the CLI's exit code, an
//! HTTP status) is derived from, in one place per surface.

use baton_core::user_task::UserTaskError;
use baton_core::{DefinitionError, TransitionError};
use baton_store::{IdentityError, StoreError, TokenError};

/// What kind of error an [`EngineError`] is: one of the kinds every surface answers with
/// (defined beside the view types, so the engine, the service and the surfaces share it).
pub use baton_api_model::ErrorKind;

/// Everything the engine can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    /// Several files deployed together, with the problems of each that has any.
    #[error("{}", baton_core::definition::format_problems(.0))]
    Definitions(Vec<DefinitionError>),
    #[error("there is no process `{0}`; deploy it first")]
    ProcessNotFound(String),
    #[error("process `{id}` version {version} is missing from the store")]
    VersionNotFound { id: String, version: u32 },
    #[error("there is no instance `{0}`")]
    InstanceNotFound(String),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Calendar(#[from] baton_core::calendar::CalendarError),
    /// The acting user, or a person an operation names, is not known (or the identity store failed).
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// Computing a step panicked (a defect in Baton); the panic's message.
    #[error("the step of instance {instance} failed: {message}")]
    StepPanicked { instance: String, message: String },
    /// A command kept failing and was recorded as an incident instead.
    #[error("instance {instance}: recorded as incident{}: {reason}", id.map(|i| format!(" {i}")).unwrap_or_default())]
    IncidentRaised {
        instance: String,
        id: Option<i64>,
        reason: String,
    },
    #[error("there is no incident {0}")]
    IncidentNotFound(i64),
    #[error("incident {0} is already resolved")]
    IncidentClosed(i64),
    #[error("incident {id} has no step to retry: {hint}")]
    NothingToRetry { id: i64, hint: String },
    /// A start named an idempotency key that a start of another process or other data took.
    #[error("idempotency key `{key}` already started instance {instance} with another process or other data")]
    StartKeyReused { key: String, instance: String },
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A request's credentials do not let it in; `why` is for the log, not for the client
    /// (which hears only that it is not authenticated).
    #[error("not authenticated: {why}")]
    Unauthenticated { why: &'static str },
    #[error("a token lives from 1 second to {max_years} years")]
    TokenLifetime { max_years: u64 },
    /// The operating system gave no random bytes (for a token's secret).
    #[error("the system's random source failed: {0}")]
    Random(String),
    /// A publication past a bound: its name, key, id, payload or time to live.
    #[error("{0}")]
    InvalidEvent(String),
    /// Nothing took an event, and as many events as allowed are buffered already.
    #[error("nothing waits for this event, and it cannot be buffered: {limit} events are buffered already, the most allowed; publish it again later, or with a time to live of 0 if it need not wait for a taker")]
    EventBufferFull { limit: usize },
    #[error(transparent)]
    Schedule(#[from] baton_core::schedule::ScheduleError),
    #[error("{0}")]
    InvalidSchedule(String),
    #[error("there is no schedule `{0}`")]
    ScheduleNotFound(String),
    #[error("a schedule `{0}` exists already; pick another id or delete that one first")]
    ScheduleExists(String),
}

impl EngineError {
    /// A failure that retrying the same command on the same instance would meet again:
    /// the engine records an incident instead of looping.
    pub fn is_instance_fault(&self) -> bool {
        matches!(
            self,
            Self::StepPanicked { .. }
                | Self::Definition(_)
                | Self::Calendar(_)
                | Self::Store(StoreError::CorruptState { .. })
        )
    }
}

impl EngineError {
    /// The kind of this error; see [`ErrorKind`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Definition(_) | Self::Definitions(_) | Self::Calendar(_) => ErrorKind::Invalid,
            Self::ProcessNotFound(_) | Self::InstanceNotFound(_) => ErrorKind::NotFound,
            Self::VersionNotFound { .. } => ErrorKind::Internal,
            Self::Transition(e) => transition_kind(e),
            Self::Store(e) => store_kind(e),
            Self::Identity(e) => identity_kind(e),
            Self::IncidentNotFound(_) => ErrorKind::NotFound,
            Self::IncidentClosed(_) | Self::NothingToRetry { .. } | Self::StartKeyReused { .. } => {
                ErrorKind::Conflict
            }
            // The step failed inside the engine: not the caller's input.
            Self::StepPanicked { .. } | Self::IncidentRaised { .. } => ErrorKind::Internal,
            Self::Token(TokenError::UnknownToken(_)) => ErrorKind::NotFound,
            Self::Token(TokenError::AlreadyRevoked(_)) => ErrorKind::Conflict,
            Self::Token(TokenError::Identity(e)) => identity_kind(e),
            Self::Unauthenticated { .. } => ErrorKind::Unauthenticated,
            Self::TokenLifetime { .. } => ErrorKind::Invalid,
            Self::Random(_) => ErrorKind::Internal,
            Self::InvalidEvent(_) => ErrorKind::Invalid,
            Self::EventBufferFull { .. } => ErrorKind::Unavailable,
            Self::Schedule(_) | Self::InvalidSchedule(_) => ErrorKind::Invalid,
            Self::ScheduleNotFound(_) => ErrorKind::NotFound,
            Self::ScheduleExists(_) => ErrorKind::Conflict,
        }
    }
}

fn transition_kind(error: &TransitionError) -> ErrorKind {
    use TransitionError as T;
    match error {
        T::InvalidData(_)
        | T::NotAUserTask { .. }
        | T::DataLimit { .. }
        | T::ChildNotStarted(_)
        | T::NotAView { .. }
        | T::InvalidSubmission { .. }
        | T::IsAView { .. }
        | T::NotBefore { .. } => ErrorKind::Invalid,
        T::NotAllowedToSendBack { .. } => ErrorKind::Forbidden,
        T::UnknownTask(_) => ErrorKind::NotFound,
        // A deleted instance is still there to read (with its history); it takes no more commands.
        T::InstanceDeleted(_)
        | T::InstanceEnded(_)
        | T::StaleJobResult { .. }
        | T::NotRetryable { .. }
        | T::SuccessorMoved { .. }
        | T::NotSkippable { .. }
        | T::NotWaitingForInput { .. }
        | T::UserTaskNotStarted { .. }
        | T::NotRecoverable { .. }
        | T::NothingToRecover { .. }
        | T::NoWaitingTask { .. }
        | T::ViewNotShown { .. }
        | T::NotReached { .. } => ErrorKind::Conflict,
        T::UserTask { error, .. } => user_task_kind(error),
    }
}

fn user_task_kind(error: &UserTaskError) -> ErrorKind {
    use UserTaskError as U;
    match error {
        U::UnknownTask(_) | U::TaskDeleted(_) | U::UserTaskDeleted(_) => ErrorKind::NotFound,
        U::NotPotentialOwner { .. }
        | U::NotOwner { .. }
        | U::NotAdministrator { .. }
        | U::NotInvolved { .. }
        | U::EngineOnly { .. } => ErrorKind::Forbidden,
        U::UserOnly { .. } => ErrorKind::Unauthenticated,
        U::InvalidOutput { .. }
        | U::NoPotentialOwners { .. }
        | U::EscalationNamesNobody { .. }
        | U::DurationTooLong { .. }
        | U::InvalidPotentialOwners(_)
        | U::FollowOnAlone { .. } => ErrorKind::Invalid,
        U::NotClaimed { .. }
        | U::AlreadyClaimed { .. }
        | U::Forwarded { .. }
        | U::Suspended { .. }
        | U::AlreadySuspended { .. }
        | U::NotSuspended { .. }
        | U::ChainEnded { .. }
        | U::OpenSubtasks { .. }
        | U::StaleTimer(_) => ErrorKind::Conflict,
    }
}

/// The kind of a store error.
pub fn store_kind(error: &StoreError) -> ErrorKind {
    match error {
        StoreError::Backend { .. } | StoreError::Closed | StoreError::Conflict(_) => {
            ErrorKind::Unavailable
        }
        StoreError::CorruptState { .. } | StoreError::DuplicateInstance(_) => ErrorKind::Internal,
        StoreError::LockNotHeld { .. }
        | StoreError::TimerLeaseLost { .. }
        | StoreError::StartKeyTaken { .. }
        | StoreError::EventGone(_) => ErrorKind::Conflict,
    }
}

/// The kind of an identity error.
pub fn identity_kind(error: &IdentityError) -> ErrorKind {
    match error {
        IdentityError::UnknownUser(_) | IdentityError::UnknownGroup(_) => ErrorKind::NotFound,
        IdentityError::DuplicateUser(_)
        | IdentityError::DuplicateGroup(_)
        | IdentityError::AlreadyMember { .. }
        | IdentityError::NotMember { .. } => ErrorKind::Conflict,
        IdentityError::InvalidName { .. } => ErrorKind::Invalid,
        IdentityError::Store(e) => store_kind(e),
    }
}
