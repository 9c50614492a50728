use baton_core::{DefinitionError, TransitionError};
use baton_store::{IdentityError, StoreError};

/// Everything the engine can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Definition(#[from] DefinitionError),
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
    IncidentRaised { instance: String, id: Option<i64>, reason: String },
    #[error("there is no incident {0}")]
    IncidentNotFound(i64),
    #[error("incident {0} is already resolved")]
    IncidentClosed(i64),
    #[error("incident {id} has no step to retry: {hint}")]
    NothingToRetry { id: i64, hint: String },
}

impl EngineError {
    /// A failure that retrying the same command on the same instance would meet again:
    /// the engine records an incident instead of looping.
    pub fn is_instance_fault(&self) -> bool {
        matches!(self, Self::StepPanicked { .. } | Self::Definition(_) | Self::Calendar(_) | Self::Store(StoreError::CorruptState { .. }))
    }
}
