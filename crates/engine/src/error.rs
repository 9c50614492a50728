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
}
