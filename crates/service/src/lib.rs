//! Baton's service layer: every operation and query a surface offers — the CLI and the HTTP
//! server — as one async API, answered with the `baton-api-model` view types.
//!
//! Each method names the acting user, who must exist (an unknown one is refused as
//! [`ErrorKind::Unauthenticated`](baton_api_model::ErrorKind)); operations record them in
//! history, and human-task operations are authorized by the core's rules for them (potential
//! owner, owner, originator, administrator). Errors are [`ServiceError`]s, whose
//! [`kind`](ServiceError::kind) a surface maps to its own answer in one place.
//!
//! The layer sits on the engine (which applies commands and persists steps) and reads the
//! store through it; the persisted state never leaves it: [`view`] converts it.

mod cases;
mod definitions;
mod documents;
mod error;
mod events;
mod external_jobs;
mod human_tasks;
mod identity;
mod incidents;
mod instances;
mod jobs;
mod publishing;
mod requests;
mod schedules;
mod scope;
mod sessions;
mod sign_in;
mod spawn;
mod tokens;
pub mod view;

use baton_core::user_task::Caller;
use baton_engine::Engine;
use baton_store::{
    DocumentStore, IdentityError, IdentityStore, InboxReader, InteractiveStore, QueueDepths, Store,
    TokenStore,
};

pub use baton_core::user_task::{EscalationAction, EscalationSpec, PotentialOwners};
pub use definitions::SourceFile;
pub use documents::Upload;
pub use error::{Result, ServiceError};
pub use events::{EventFilter, Events};
pub use external_jobs::{
    FetchJobs, MAX_FETCH, MAX_LOCK, MAX_MESSAGE, MAX_RETRY_AFTER, MAX_TOPICS, MAX_WAIT, MIN_LOCK,
    WORKERS_GROUP,
};
pub use human_tasks::{HumanTaskAction, HumanTaskRef, MAX_PAGE, MAX_PER_PAGE};
pub use instances::{TaskOperation, MAX_ID_PREFIX, MAX_LIMIT};
pub use publishing::EVENT_PUBLISHERS_GROUP;
pub use schedules::MAX_SCHEDULE_DATA;
pub use sessions::{
    SessionOptions, Sessions, DEFAULT_CACHE_SIZE, DEFAULT_IDLE_TIMEOUT, MAX_CACHE_SIZE,
    MAX_IDLE_TIMEOUT, MAX_SESSIONS_PER_USER, MAX_SUSPENDED_LISTED,
};
pub use sign_in::{
    BrowserSignIn, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN, SIGN_IN_LIFETIME, SIGN_IN_TOKEN_NAME,
};

/// What the service needs of a store: the engine's capabilities, identity, the inbox,
/// documents and interactive sessions.
pub trait ServiceStore:
    Store + IdentityStore + InboxReader + TokenStore + DocumentStore + InteractiveStore
{
}
impl<T: Store + IdentityStore + InboxReader + TokenStore + DocumentStore + InteractiveStore>
    ServiceStore for T
{
}

/// The service: a handle on one engine; cheap to clone.
pub struct Service<S: Store> {
    engine: Engine<S>,
    /// Whoever calls holds the database file itself (the CLI without a server): they may do
    /// what an administrator may in managing people and tokens, since they could edit the
    /// file anyway. A server's service is not local: there, only administrators may.
    local: bool,
    /// The user sessions of a server (Siebel's interactive workflows); none on the command line.
    sessions: Option<std::sync::Arc<Sessions>>,
}

impl<S: Store> Clone for Service<S> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
            local: self.local,
            sessions: self.sessions.clone(),
        }
    }
}

impl<S: ServiceStore> Service<S> {
    /// The service a server offers: managing people and others' tokens takes an administrator.
    /// It holds user sessions with the default settings.
    pub fn new(engine: Engine<S>) -> Self {
        Self::with_sessions(engine, SessionOptions::default())
    }

    /// A server's service whose user sessions have these settings. Its sessions are the
    /// engine's first receivers of published events (Siebel's in-memory cache).
    pub fn with_sessions(engine: Engine<S>, options: SessionOptions) -> Self {
        let sessions = std::sync::Arc::new(Sessions::new(options));
        engine.set_event_receivers(sessions.clone());
        Self {
            engine,
            local: false,
            sessions: Some(sessions),
        }
    }

    /// The service of the local command line, which holds the database file: see `local`.
    /// It has no user sessions (they live in a server).
    pub fn local(engine: Engine<S>) -> Self {
        Self {
            engine,
            local: true,
            sessions: None,
        }
    }

    /// Refuses `caller` unless they are an administrator (or the call is local).
    fn require_admin(&self, caller: &Caller, what: &'static str) -> Result<()> {
        if self.local || caller.admin {
            return Ok(());
        }
        Err(ServiceError::Forbidden {
            user: caller.user.clone(),
            what,
        })
    }

    /// Does the store answer? (A server's readiness check; asked by no user.)
    pub async fn ready(&self) -> Result<()> {
        self.engine.store().open_counts().await?;
        Ok(())
    }

    /// What waits in the job queue (by topic) and how many timers are due now, for metrics.
    pub async fn queue_depths(&self) -> Result<QueueDepths> {
        Ok(self.engine.store().queue_depths(self.engine.now()).await?)
    }

    /// The engine under the service, for what is not a request: running a worker.
    pub fn engine(&self) -> &Engine<S> {
        &self.engine
    }

    /// The acting user as the core authorizes them; an unknown one is refused as
    /// unauthenticated.
    async fn authenticate(&self, user: &str) -> Result<Caller> {
        self.engine.store().caller(user).await.map_err(|e| match e {
            IdentityError::UnknownUser(_) => ServiceError::Unauthenticated(e),
            other => other.into(),
        })
    }
}
