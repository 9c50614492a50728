//! Siebel's interactive workflows in the store: the user sessions a server holds open, which
//! session's cache lists each interactive workflow, and the owner's inbox of suspended ones.
//!
//! One row per interactive workflow that has not ended: either *cached* (listed in one open
//! session's cache, and in no inbox) or *in the inbox* (suspended, with when and why). Each
//! move between the two is one conditional write, so two requests (or a request and an
//! event) that race to move the same workflow move it once. A workflow that completes or is
//! aborted (deleted) leaves its row in the step that ends it, so the inbox never lists an
//! ended workflow. The open sessions are stored, each with the node (server process) that holds
//! it in memory, so that they can be logged out when that node is gone: a server that stopped
//! or crashed does so when it starts again, and on a store shared by several nodes, another
//! node does so once the dead node's lease as a node expired ([`InteractiveStore::renew_node`],
//! [`InteractiveStore::take_over_sessions`]).

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Result;

/// An open user session, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: String,
    pub user: String,
    pub created_at: DateTime<Utc>,
    /// The node that holds it (its cache is in that node's memory); empty for a session
    /// recorded before sessions recorded their node.
    pub node: String,
}

/// Which recorded sessions a node takes over ([`InteractiveStore::take_over_sessions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orphans {
    /// Those of the nodes whose lease as a node expired, or that hold none: they are gone.
    OfExpiredNodes,
    /// Those too that are recorded under the taker's own name: for a node that just started,
    /// whose own name's sessions are its previous run's (a node's name is its own).
    AlsoOwn,
    /// Every session recorded open: for an embedded store, whose engine lock proves every
    /// other process gone.
    All,
}

impl Orphans {
    /// The number the stores' takeover queries test: 0, 1 and 2 take over more and more.
    pub fn code(self) -> i32 {
        match self {
            Self::OfExpiredNodes => 0,
            Self::AlsoOwn => 1,
            Self::All => 2,
        }
    }
}

/// Why a suspended interactive workflow is in the inbox (Siebel's two kinds of suspension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Suspension {
    /// Its user suspended it (the Suspend button).
    Explicit,
    /// It left its session's cache with Auto Persist (the cache was full, its user logged out,
    /// the session timed out, the server stopped).
    Implicit,
}

impl Suspension {
    pub fn name(self) -> &'static str {
        match self {
            Self::Explicit => "explicit",
            Self::Implicit => "implicit",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Explicit, Self::Implicit]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// Where an interactive workflow is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Place {
    /// Listed in the cache of this open session.
    Cached { session: String },
    /// In its owner's inbox since `since`; `note` says what made it leave a cache.
    Inbox {
        since: DateTime<Utc>,
        why: Suspension,
        note: Option<String>,
    },
}

impl Place {
    /// The place as every store keeps it: the session whose cache lists it, or when and why it
    /// was suspended and its note.
    pub fn columns(
        &self,
    ) -> (
        Option<&str>,
        Option<DateTime<Utc>>,
        Option<&'static str>,
        Option<&str>,
    ) {
        match self {
            Self::Cached { session } => (Some(session), None, None, None),
            Self::Inbox { since, why, note } => {
                (None, Some(*since), Some(why.name()), note.as_deref())
            }
        }
    }

    /// The place [`Place::columns`] stored; an error says what in them is wrong.
    pub fn from_columns(
        session: Option<String>,
        since: Option<DateTime<Utc>>,
        why: Option<String>,
        note: Option<String>,
    ) -> std::result::Result<Self, String> {
        if let Some(session) = session {
            return Ok(Self::Cached { session });
        }
        let since = since.ok_or("a suspended interactive workflow has no suspension time")?;
        let why = why.ok_or("a suspended interactive workflow has no kind of suspension")?;
        let why = Suspension::parse(&why).ok_or_else(|| format!("unknown suspension {why}"))?;
        Ok(Self::Inbox { since, why, note })
    }
}

/// An interactive workflow that has not ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractiveWorkflow {
    pub instance: String,
    /// The user who drives it (who started it in their session).
    pub owner: String,
    /// The process (definition id).
    pub process: String,
    /// Its definition's Auto Persist flag.
    pub auto_persist: bool,
    pub place: Place,
}

/// The store of sessions and interactive workflows: see the [module](self).
pub trait InteractiveStore: Send + Sync {
    /// Records an open session.
    fn open_session(&self, session: &SessionRecord) -> impl Future<Output = Result<()>> + Send;
    /// Records that node `node` is alive until `until` (its lease as a node): the sessions
    /// recorded under its name stay its own while the lease lasts. A node renews it well
    /// before it expires.
    fn renew_node(
        &self,
        node: &str,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Makes `node` the holder of the recorded sessions that `which` names at `now` (see
    /// [`Orphans`]) and returns them, each with the node that held it: `node` then logs them
    /// out. Of several nodes taking over at once, one takes each session.
    fn take_over_sessions(
        &self,
        node: &str,
        which: Orphans,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<SessionRecord>>> + Send;
    /// Forgets a session once its workflows have left its cache.
    fn close_session(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Every session recorded open, oldest first.
    fn open_sessions(&self) -> impl Future<Output = Result<Vec<SessionRecord>>> + Send;
    /// Records a new interactive workflow (its place is its session's cache). Returns false,
    /// changing nothing, if its instance is already recorded.
    fn add_workflow(
        &self,
        workflow: &InteractiveWorkflow,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Moves `instance` from `owner`'s inbox into `session`'s cache. Returns false, changing
    /// nothing, unless it was in that inbox.
    fn take_from_inbox(
        &self,
        instance: &str,
        owner: &str,
        session: &str,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Moves `instance` from `session`'s cache into its owner's inbox. Returns false, changing
    /// nothing, unless it was in that cache.
    fn put_in_inbox(
        &self,
        instance: &str,
        session: &str,
        why: Suspension,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Forgets `instance`, listed in `session`'s cache (it is about to be deleted). Returns
    /// false, changing nothing, unless it was in that cache.
    fn forget_workflow(
        &self,
        instance: &str,
        session: &str,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// The interactive workflow of `instance`, if it has not ended.
    fn interactive_workflow(
        &self,
        instance: &str,
    ) -> impl Future<Output = Result<Option<InteractiveWorkflow>>> + Send;
    /// The workflows listed in `session`'s cache.
    fn cached_workflows(
        &self,
        session: &str,
    ) -> impl Future<Output = Result<Vec<InteractiveWorkflow>>> + Send;
    /// `owner`'s suspended interactive workflows, the most recently suspended first, at most `limit`.
    fn suspended_workflows(
        &self,
        owner: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<InteractiveWorkflow>>> + Send;
}
