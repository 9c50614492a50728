//! Siebel's interactive workflows in user sessions: login, logout and the idle timeout; the
//! session's in-memory cache of the workflows its user drives (at most
//! [`DEFAULT_CACHE_SIZE`], Siebel's eight, unless configured); explicit suspension into the
//! owner's inbox and resumption from it; and the cache's part in implicit resumption (events).
//!
//! A session belongs to one user and lives in the server process that holds it. Each workflow
//! the user starts or resumes enters the cache as its most recently used one; the user
//! navigates out of it by going to another, and back by resuming it. When a workflow must
//! enter a full cache, the least recently used one leaves: with Auto Persist it is saved in
//! its owner's inbox (implicit suspension), without it is deleted (the instance is aborted
//! with the reason). Logging out (or the idle timeout, or the server stopping) empties the
//! cache the same way. Each session is recorded with the node that holds it, and a node that
//! is gone has its sessions logged out the same way ([`Service::recover_sessions`]): by
//! itself when it starts again, or, on a store shared by several nodes, by one live node
//! once its lease as a node expired.
//!
//! Durability: every step the user makes (a start, a submission) is committed as it happens,
//! like any other step; "in the cache" only means listed in the session, and is recorded so
//! that a restart can log the session out. A session's requests run one at a time (its lock),
//! so two tabs of one user never interleave their changes to the cache; each move between a
//! cache and the inbox is one conditional write in the store, and resuming a workflow by an
//! event is a step of the engine's, so nothing is resumed twice.
//!
//! Events: the sessions are the engine's [`EventReceivers`], asked first (Siebel's order): each
//! cached workflow whose last seen state waits for the event's name and key is named. A stale
//! state only costs a refused delivery; every `wait` step also has its stored subscription,
//! which the engine looks up next, so a workflow in an inbox is found there.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use baton_api_model as api;
use baton_core::correlation::ReceivedEvent;
use baton_core::definition::TaskKind;
use baton_core::user_task::Caller;
use baton_core::{Command, Definition, Instance, Reason, TaskStatus};
use baton_engine::correlation::EventReceivers;
use baton_store::{InteractiveWorkflow, Orphans, Place, SessionRecord, Suspension};

use crate::{view, Result, Service, ServiceError, ServiceStore};

/// The most workflows a session's cache holds unless configured: Siebel's eight.
pub const DEFAULT_CACHE_SIZE: usize = 8;
/// The largest cache a server may be configured with.
pub const MAX_CACHE_SIZE: usize = 256;
/// How long a session may be idle before it is logged out, unless configured.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The longest idle timeout a server may be configured with: 7 days.
pub const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// The most sessions one user may have open at once.
pub const MAX_SESSIONS_PER_USER: usize = 32;
/// The most suspended workflows an inbox lists.
pub const MAX_SUSPENDED_LISTED: usize = 1_000;

/// A server's settings for sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOptions {
    /// The most workflows a session's cache holds (1 to [`MAX_CACHE_SIZE`]).
    pub cache_size: usize,
    /// How long a session may be idle before it is logged out (up to [`MAX_IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            cache_size: DEFAULT_CACHE_SIZE,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

impl SessionOptions {
    /// Why these settings cannot be used, if they cannot.
    pub fn problem(&self) -> Option<String> {
        if !(1..=MAX_CACHE_SIZE).contains(&self.cache_size) {
            return Some(format!(
                "a session's cache holds 1 to {MAX_CACHE_SIZE} workflows, not {}",
                self.cache_size
            ));
        }
        if self.idle_timeout.is_zero() || self.idle_timeout > MAX_IDLE_TIMEOUT {
            return Some(format!(
                "the idle timeout of a session is more than 0 and at most {}",
                humantime::format_duration(MAX_IDLE_TIMEOUT)
            ));
        }
        None
    }
}

/// Why a workflow left a session's cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaving {
    /// The cache was full: the least recently used one.
    Evicted,
    Logout,
    IdleTimeout,
    /// The server stopped or crashed with the session open.
    ServerRestart,
}

impl Leaving {
    fn name(self) -> &'static str {
        match self {
            Self::Evicted => "evicted",
            Self::Logout => "logout",
            Self::IdleTimeout => "idle_timeout",
            Self::ServerRestart => "server_restart",
        }
    }

    fn sentence(self, cache_size: usize) -> String {
        match self {
            Self::Evicted => format!(
                "the session's cache of {cache_size} was full and it was the least recently used"
            ),
            Self::Logout => "its user logged out".to_owned(),
            Self::IdleTimeout => "the session was idle past its timeout".to_owned(),
            Self::ServerRestart => "the server stopped with the session open".to_owned(),
        }
    }
}

/// A workflow listed in a session's cache.
#[derive(Debug, Clone)]
struct Cached {
    instance: String,
    process: String,
    auto_persist: bool,
}

#[derive(Debug)]
struct SessionState {
    open: bool,
    last_seen: DateTime<Utc>,
    /// The cache, the least recently used first.
    lru: Vec<Cached>,
}

#[derive(Debug)]
struct Session {
    id: String,
    user: String,
    created_at: DateTime<Utc>,
    /// Held for the whole of each request in the session: they run one at a time.
    state: tokio::sync::Mutex<SessionState>,
}

/// The open sessions of a server: see the [module](self).
#[derive(Debug, Default)]
pub struct Sessions {
    options: SessionOptions,
    open: std::sync::Mutex<HashMap<String, Arc<Session>>>,
    /// The state of every cached workflow as its session last saw it, for events.
    seen: RwLock<HashMap<String, Arc<Instance>>>,
}

impl Sessions {
    pub(crate) fn new(options: SessionOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    fn session(&self, id: &str) -> Option<Arc<Session>> {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    fn all(&self) -> Vec<Arc<Session>> {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn remember(&self, state: &Instance) {
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        if state.status.is_terminal() {
            seen.remove(&state.id);
        } else {
            seen.insert(state.id.clone(), Arc::new(state.clone()));
        }
    }

    fn forget(&self, instance: &str) {
        self.seen
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(instance);
    }
}

impl EventReceivers for Sessions {
    fn receivers(&self, event: &ReceivedEvent) -> Vec<String> {
        let seen = self.seen.read().unwrap_or_else(|e| e.into_inner());
        seen.values()
            .filter(|state| state.tasks.iter().any(|t| matches!(&t.status, TaskStatus::WaitingForEvent { event: name, key, .. } if *name == event.name && *key == event.key)))
            .map(|state| state.id.clone())
            .collect()
    }
}

/// The open step of a workflow: the view it shows, else the first task that waits.
fn open_step<'d>(
    definition: &'d Definition,
    state: &Instance,
) -> (Option<&'d str>, Option<api::View>, Option<String>) {
    let mut step = None;
    let mut waiting_for = None;
    for (task, t) in definition.tasks.iter().zip(&state.tasks) {
        match (&task.kind, &t.status) {
            (TaskKind::View(spec), TaskStatus::WaitingForUserInput) => {
                let fields = spec.form.iter().map(view::form_field).collect();
                let shown = api::View {
                    task: task.id.clone(),
                    title: spec.title.clone(),
                    description: spec.description.clone(),
                    fields,
                };
                return (Some(&task.id), Some(shown), waiting_for);
            }
            (_, TaskStatus::WaitingForEvent { event, key, .. }) => {
                waiting_for.get_or_insert_with(|| {
                    key.as_ref()
                        .map_or_else(|| event.clone(), |k| format!("{event} key {k}"))
                });
                step.get_or_insert(task.id.as_str());
            }
            (_, status) if !status.is_end() && *status != TaskStatus::WaitingForPredecessor => {
                step.get_or_insert(task.id.as_str());
            }
            _ => {}
        }
    }
    (step, None, waiting_for)
}

impl<S: ServiceStore> Service<S> {
    fn sessions(&self) -> Result<&Arc<Sessions>> {
        self.sessions.as_ref().ok_or(ServiceError::NoSessions)
    }

    /// The open sessions, as the engine asks them for the receivers of an event (none on the
    /// command line).
    pub fn session_cache(&self) -> Option<Arc<Sessions>> {
        self.sessions.clone()
    }

    /// Logs `user` in: a new session, with an empty cache.
    pub async fn login(&self, user: &str) -> Result<api::Session> {
        let caller = self.authenticate(user).await?;
        let sessions = self.sessions()?;
        let theirs = sessions
            .all()
            .iter()
            .filter(|s| s.user == caller.user)
            .count();
        if theirs >= MAX_SESSIONS_PER_USER {
            return Err(ServiceError::TooManySessions {
                user: caller.user,
                max: MAX_SESSIONS_PER_USER,
            });
        }
        let now = self.engine.now();
        let record = SessionRecord {
            id: uuid::Uuid::now_v7().to_string(),
            user: caller.user.clone(),
            created_at: now,
            node: self.engine.node().to_owned(),
        };
        self.engine.store().open_session(&record).await?;
        let session = Arc::new(Session {
            id: record.id,
            user: record.user,
            created_at: now,
            state: tokio::sync::Mutex::new(SessionState {
                open: true,
                last_seen: now,
                lru: Vec::new(),
            }),
        });
        sessions
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(session.id.clone(), session.clone());
        let state = session.state.lock().await;
        Ok(self.session_view(sessions, &session, &state, Vec::new()))
    }

    /// The session `id` of `user`, with the workflows in its cache (the most recently used first).
    pub async fn session(&self, user: &str, id: &str) -> Result<api::Session> {
        let (sessions, session, caller) = self.own_session(user, id).await?;
        let mut state = self.enter(sessions, &session, &caller).await?;
        let workflows = self.cached_views(sessions, &mut state).await?;
        Ok(self.session_view(sessions, &session, &state, workflows))
    }

    /// The workflows in the cache of `user`'s session `id`, the most recently used first.
    pub async fn session_workflows(
        &self,
        user: &str,
        id: &str,
    ) -> Result<Vec<api::SessionWorkflow>> {
        Ok(self.session(user, id).await?.workflows)
    }

    /// Logs `user`'s session `id` out: each workflow of its cache goes to the inbox (Auto
    /// Persist) or is deleted.
    pub async fn logout(&self, user: &str, id: &str) -> Result<api::Logout> {
        let (sessions, session, caller) = self.own_session(user, id).await?;
        let mut state = self.enter(sessions, &session, &caller).await?;
        let left = self
            .end_session(sessions, &session, &mut state, Leaving::Logout)
            .await?;
        Ok(api::Logout {
            session: session.id.clone(),
            left,
        })
    }

    /// Starts interactive process `process` in `user`'s session `id`: it runs to its first
    /// view (or wait) and enters the cache as the most recently used.
    pub async fn session_start(
        &self,
        user: &str,
        id: &str,
        process: &str,
        data: Map<String, Value>,
    ) -> Result<api::SessionStep> {
        let (sessions, session, caller) = self.own_session(user, id).await?;
        let definition = self.engine.definition(process, None).await?;
        if !definition.interactive {
            return Err(ServiceError::NotInteractive {
                process: process.to_owned(),
            });
        }
        if !definition.may_start(&caller) {
            return Err(ServiceError::MayNotStart { user: caller.user.clone(), process: process.to_owned(), why: "it is not startable, or its `startable_by` names neither them nor a group of theirs" });
        }
        self.check_documents_in(user, &data).await?;
        let mut state = self.enter(sessions, &session, &caller).await?;
        let started = self.engine.start(process, data).await?;
        let mut left = Vec::new();
        if !started.status.is_terminal() {
            let cached = Cached {
                instance: started.id.clone(),
                process: definition.id.clone(),
                auto_persist: definition.auto_persist,
            };
            let place = Place::Cached {
                session: session.id.clone(),
            };
            let workflow = InteractiveWorkflow {
                instance: cached.instance.clone(),
                owner: caller.user.clone(),
                process: cached.process.clone(),
                auto_persist: cached.auto_persist,
                place,
            };
            self.engine.store().add_workflow(&workflow).await?;
            left = self
                .enter_cache(sessions, &session, &mut state, cached)
                .await?;
        }
        sessions.remember(&started);
        Ok(api::SessionStep {
            workflow: self
                .workflow_view(&started, definition.auto_persist)
                .await?,
            left,
        })
    }

    /// Brings workflow `instance` to the front of `user`'s session `id`: from its cache, or
    /// from the user's inbox (explicit resumption), at the step where the user left off.
    pub async fn session_resume(
        &self,
        user: &str,
        id: &str,
        instance: &str,
    ) -> Result<api::SessionStep> {
        let (sessions, session, caller) = self.own_session(user, id).await?;
        let mut state = self.enter(sessions, &session, &caller).await?;
        let mut left = Vec::new();
        if let Some(at) = state.lru.iter().position(|c| c.instance == instance) {
            let cached = state.lru.remove(at);
            state.lru.push(cached);
        } else {
            let workflow = self.suspended_of(&caller, instance).await?;
            if !self
                .engine
                .store()
                .take_from_inbox(instance, &caller.user, &session.id)
                .await?
            {
                // Between the read and the move it left the inbox: resumed elsewhere, or ended.
                return Err(ServiceError::NotSuspended {
                    instance: instance.to_owned(),
                });
            }
            let cached = Cached {
                instance: workflow.instance,
                process: workflow.process,
                auto_persist: workflow.auto_persist,
            };
            left = self
                .enter_cache(sessions, &session, &mut state, cached)
                .await?;
        }
        let current = self.engine.instance(instance).await?;
        let auto_persist = state.lru.last().is_some_and(|c| c.auto_persist);
        if current.status.is_terminal() {
            state.lru.retain(|c| c.instance != instance);
        }
        sessions.remember(&current);
        Ok(api::SessionStep {
            workflow: self.workflow_view(&current, auto_persist).await?,
            left,
        })
    }

    /// The user's next action in workflow `instance` of their session `id`: submits the view
    /// it shows (`task`, or the first shown) with `data`, which must fit the view's form.
    pub async fn session_submit(
        &self,
        user: &str,
        id: &str,
        instance: &str,
        task: Option<&str>,
        data: Map<String, Value>,
    ) -> Result<api::SessionStep> {
        let (sessions, session, caller) = self.own_session(user, id).await?;
        self.check_documents_in(user, &data).await?;
        let mut state = self.enter(sessions, &session, &caller).await?;
        let at = self.in_cache(&state, &caller, instance).await?;
        let cached = state.lru.remove(at);
        state.lru.push(cached.clone());
        let current = self.engine.instance(instance).await?;
        let definition = self
            .engine
            .definition(&current.definition_id, Some(current.definition_version))
            .await?;
        let task = match task {
            Some(task) => task.to_owned(),
            None => match open_step(&definition, &current).1 {
                Some(shown) => shown.task,
                None => {
                    return Err(ServiceError::NoViewShown {
                        instance: instance.to_owned(),
                    })
                }
            },
        };
        let after = self
            .engine
            .apply(
                instance,
                Command::Submit {
                    task,
                    data,
                    by: caller.user.clone(),
                },
            )
            .await?;
        if after.status.is_terminal() {
            state.lru.retain(|c| c.instance != instance);
        }
        sessions.remember(&after);
        Ok(api::SessionStep {
            workflow: self.workflow_view(&after, cached.auto_persist).await?,
            left: Vec::new(),
        })
    }

    /// Suspends workflow `instance` of `user`'s session `id` (the Suspend button): it leaves
    /// the cache for the user's inbox (explicit suspension).
    pub async fn session_suspend(
        &self,
        user: &str,
        id: &str,
        instance: &str,
    ) -> Result<api::SuspendedWorkflow> {
        let (sessions, session, caller) = self.own_session(user, id).await?;
        let mut state = self.enter(sessions, &session, &caller).await?;
        let at = self.in_cache(&state, &caller, instance).await?;
        let cached = state.lru.remove(at);
        sessions.forget(instance);
        let now = self.engine.now();
        if !self
            .engine
            .store()
            .put_in_inbox(instance, &session.id, Suspension::Explicit, None, now)
            .await?
        {
            // It ended meanwhile (an event ran it to its end): there is nothing to suspend.
            return Err(ServiceError::NotInSession {
                instance: instance.to_owned(),
            });
        }
        let workflow = InteractiveWorkflow {
            instance: cached.instance,
            owner: caller.user,
            process: cached.process,
            auto_persist: cached.auto_persist,
            place: Place::Inbox {
                since: now,
                why: Suspension::Explicit,
                note: None,
            },
        };
        self.suspended_view(&workflow).await
    }

    /// `user`'s suspended interactive workflows, the most recently suspended first (at most
    /// [`MAX_SUSPENDED_LISTED`]): the inbox lists them beside human tasks.
    pub async fn suspended_workflows(&self, user: &str) -> Result<Vec<api::SuspendedWorkflow>> {
        let caller = self.authenticate(user).await?;
        let mut views = Vec::new();
        for workflow in self
            .engine
            .store()
            .suspended_workflows(&caller.user, MAX_SUSPENDED_LISTED)
            .await?
        {
            views.push(self.suspended_view(&workflow).await?);
        }
        Ok(views)
    }

    /// Logs out every session idle past the timeout; returns how many. A server runs it now
    /// and then ([`Service::run_session_sweeper`]).
    pub async fn expire_idle_sessions(&self) -> Result<usize> {
        let Ok(sessions) = self.sessions() else {
            return Ok(0);
        };
        let mut expired = 0;
        for session in sessions.all() {
            let mut state = session.state.lock().await;
            if state.open && self.session_idle(sessions, &state) {
                self.end_session(sessions, &session, &mut state, Leaving::IdleTimeout)
                    .await?;
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// Logs out the sessions of servers that are gone, those `which` names (see [`Orphans`]):
    /// each cached workflow goes to its owner's inbox (Auto Persist) or is deleted. A server
    /// runs it when it starts, before it serves (for the sessions it left open when it stopped
    /// or crashed: [`Orphans::All`] on an embedded store, [`Orphans::AlsoOwn`] on a shared
    /// one), and then now and then ([`Service::run_node_lease`]) for the sessions of nodes
    /// whose lease expired. This node takes each session over first, so of several nodes
    /// looking at once, one logs it out. Returns how many sessions it logged out.
    pub async fn recover_sessions(&self, which: Orphans) -> Result<usize> {
        let store = self.engine.store();
        let orphaned = store
            .take_over_sessions(self.engine.node(), which, self.engine.now())
            .await?;
        for record in &orphaned {
            for workflow in store.cached_workflows(&record.id).await? {
                let cached = Cached {
                    instance: workflow.instance,
                    process: workflow.process,
                    auto_persist: workflow.auto_persist,
                };
                self.leave(&record.id, &record.user, &cached, Leaving::ServerRestart)
                    .await?;
            }
            store.close_session(&record.id).await?;
            tracing::info!(session = %record.id, user = %record.user, node = %record.node, "a session whose server is gone is logged out");
        }
        Ok(orphaned.len())
    }

    /// Records this node alive for `lease`: its sessions are its own while the lease lasts.
    pub async fn renew_node_lease(&self, lease: Duration) -> Result<()> {
        let until =
            self.engine.now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        Ok(self
            .engine
            .store()
            .renew_node(self.engine.node(), until)
            .await?)
    }

    /// Ends, in this node's memory only, the sessions another node took over (this node
    /// stalled past its lease and was taken for dead): their requests are refused from then on,
    /// as a logged-out session's are. Returns how many.
    pub async fn drop_lost_sessions(&self) -> Result<usize> {
        let Ok(sessions) = self.sessions() else {
            return Ok(0);
        };
        // Memory first: a session is recorded before it enters memory, so one read from
        // memory and then missing from the store was taken over (or is being logged out).
        let held = sessions.all();
        let node = self.engine.node();
        let recorded: std::collections::HashSet<String> = self
            .engine
            .store()
            .open_sessions()
            .await?
            .into_iter()
            .filter(|r| r.node == node)
            .map(|r| r.id)
            .collect();
        let mut lost = 0;
        for session in held.iter().filter(|s| !recorded.contains(&s.id)) {
            let mut state = session.state.lock().await;
            if !state.open {
                continue;
            }
            for cached in std::mem::take(&mut state.lru) {
                sessions.forget(&cached.instance);
            }
            state.open = false;
            sessions
                .open
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&session.id);
            tracing::warn!(session = %session.id, user = %session.user, "a session of this node was taken over by another node (this one was late renewing its lease)");
            lost += 1;
        }
        Ok(lost)
    }

    /// Until `stop` resolves, renews this node's lease three times per `lease` and logs out
    /// the sessions of nodes whose lease expired (a node that died: Siebel's rule for a
    /// server that stops, applied by a live node).
    pub async fn run_node_lease(
        &self,
        lease: Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(lease / 3) => {
                    if let Err(e) = self.renew_node_lease(lease).await {
                        tracing::warn!("this node's lease could not be renewed: {e}");
                    }
                    if let Err(e) = self.drop_lost_sessions().await {
                        tracing::warn!("this node's sessions could not be checked: {e}");
                    }
                    match self.recover_sessions(Orphans::OfExpiredNodes).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(sessions = n, "logged out the sessions of a node whose lease expired"),
                        Err(e) => tracing::warn!("the sessions of a node that is gone could not be logged out: {e}"),
                    }
                }
            }
        }
    }

    /// Logs out idle sessions every `every` until `stop` resolves.
    pub async fn run_session_sweeper(
        &self,
        every: Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(every) => {
                    if let Err(e) = self.expire_idle_sessions().await {
                        tracing::warn!("idle sessions could not be logged out: {e}");
                    }
                }
            }
        }
    }

    // ---- the parts

    /// The session `id`, which must be open and `user`'s own.
    async fn own_session(
        &self,
        user: &str,
        id: &str,
    ) -> Result<(&Arc<Sessions>, Arc<Session>, Caller)> {
        let caller = self.authenticate(user).await?;
        let sessions = self.sessions()?;
        let session = sessions
            .session(id)
            .ok_or_else(|| ServiceError::SessionNotFound(id.to_owned()))?;
        if session.user != caller.user {
            return Err(ServiceError::NotYourSession {
                user: caller.user,
                session: id.to_owned(),
            });
        }
        Ok((sessions, session, caller))
    }

    /// Takes the session's lock for a request: refused if it ended meanwhile, or if it was
    /// idle past its timeout (then it is logged out now).
    async fn enter<'s>(
        &self,
        sessions: &Sessions,
        session: &'s Session,
        _caller: &Caller,
    ) -> Result<tokio::sync::MutexGuard<'s, SessionState>> {
        let mut state = session.state.lock().await;
        if !state.open {
            return Err(ServiceError::SessionNotFound(session.id.clone()));
        }
        if self.session_idle(sessions, &state) {
            self.end_session(sessions, session, &mut state, Leaving::IdleTimeout)
                .await?;
            return Err(ServiceError::SessionNotFound(session.id.clone()));
        }
        state.last_seen = self.engine.now();
        Ok(state)
    }

    fn session_idle(&self, sessions: &Sessions, state: &SessionState) -> bool {
        let idle = self.engine.now() - state.last_seen;
        idle.to_std()
            .is_ok_and(|idle| idle > sessions.options.idle_timeout)
    }

    /// Where `instance` is in the cache; refused when it is not there (in the inbox: resume it first).
    async fn in_cache(
        &self,
        state: &SessionState,
        caller: &Caller,
        instance: &str,
    ) -> Result<usize> {
        if let Some(at) = state.lru.iter().position(|c| c.instance == instance) {
            return Ok(at);
        }
        match self.engine.store().interactive_workflow(instance).await? {
            Some(w) if w.owner == caller.user && matches!(w.place, Place::Inbox { .. }) => {
                Err(ServiceError::ResumeFirst {
                    instance: instance.to_owned(),
                })
            }
            Some(_) => Err(ServiceError::NotInSession {
                instance: instance.to_owned(),
            }),
            // An interactive workflow that ended has no row: say so (another tab ended it).
            None => match self.engine.store().instance(instance).await? {
                Some(state) if state.status.is_terminal() => Err(ServiceError::WorkflowEnded {
                    instance: instance.to_owned(),
                    status: state.status.name(),
                }),
                _ => Err(ServiceError::NotInSession {
                    instance: instance.to_owned(),
                }),
            },
        }
    }

    /// `caller`'s suspended workflow `instance`, in their inbox.
    async fn suspended_of(&self, caller: &Caller, instance: &str) -> Result<InteractiveWorkflow> {
        match self.engine.store().interactive_workflow(instance).await? {
            None => Err(ServiceError::NotSuspended {
                instance: instance.to_owned(),
            }),
            Some(w) if w.owner != caller.user => Err(ServiceError::NotTheirWorkflow {
                user: caller.user.clone(),
                instance: instance.to_owned(),
            }),
            Some(InteractiveWorkflow {
                place: Place::Cached { .. },
                ..
            }) => Err(ServiceError::InAnotherSession {
                instance: instance.to_owned(),
            }),
            Some(w) => Ok(w),
        }
    }

    /// `cached` enters the cache as the most recently used; the least recently used leave
    /// while it holds too many. Returns those that left.
    async fn enter_cache(
        &self,
        sessions: &Sessions,
        session: &Session,
        state: &mut SessionState,
        cached: Cached,
    ) -> Result<Vec<api::LeftWorkflow>> {
        state.lru.push(cached);
        let mut left = Vec::new();
        while state.lru.len() > sessions.options.cache_size {
            let oldest = state.lru.remove(0);
            sessions.forget(&oldest.instance);
            left.push(
                self.leave(&session.id, &session.user, &oldest, Leaving::Evicted)
                    .await?,
            );
        }
        Ok(left)
    }

    /// Empties the session's cache (`why`) and ends it.
    async fn end_session(
        &self,
        sessions: &Sessions,
        session: &Session,
        state: &mut SessionState,
        why: Leaving,
    ) -> Result<Vec<api::LeftWorkflow>> {
        let mut left = Vec::new();
        for cached in std::mem::take(&mut state.lru).into_iter().rev() {
            sessions.forget(&cached.instance);
            left.push(self.leave(&session.id, &session.user, &cached, why).await?);
        }
        state.open = false;
        sessions
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&session.id);
        self.engine.store().close_session(&session.id).await?;
        tracing::info!(session = %session.id, user = %session.user, why = why.name(), "session logged out");
        Ok(left)
    }

    /// Workflow `cached` leaves the cache of session `session` (of `owner`): with Auto
    /// Persist into the inbox, else deleted.
    async fn leave(
        &self,
        session: &str,
        owner: &str,
        cached: &Cached,
        why: Leaving,
    ) -> Result<api::LeftWorkflow> {
        let store = self.engine.store();
        let now = self.engine.now();
        let to = if cached.auto_persist {
            if store
                .put_in_inbox(
                    &cached.instance,
                    session,
                    Suspension::Implicit,
                    Some(why.name()),
                    now,
                )
                .await?
            {
                api::LeftTo::Inbox
            } else {
                api::LeftTo::Ended
            }
        } else {
            match self.engine.instance(&cached.instance).await {
                Ok(state) if !state.status.is_terminal() => {
                    // Deleting aborts it, and the store forgets its row in the same step.
                    let reason = Reason::Discarded {
                        why: why.sentence(
                            self.sessions
                                .as_ref()
                                .map_or(DEFAULT_CACHE_SIZE, |s| s.options.cache_size),
                        ),
                    };
                    self.engine
                        .delete_because(&cached.instance, owner, Some(reason))
                        .await?;
                    api::LeftTo::Deleted
                }
                Ok(_) | Err(baton_engine::EngineError::InstanceNotFound(_)) => {
                    store.forget_workflow(&cached.instance, session).await?;
                    api::LeftTo::Ended
                }
                Err(e) => return Err(e.into()),
            }
        };
        Ok(api::LeftWorkflow {
            instance: cached.instance.clone(),
            process: cached.process.clone(),
            to,
            why: why.name().to_owned(),
        })
    }

    /// The views of the cached workflows, the most recently used first; one that ended
    /// meanwhile (an event ran it to its end) leaves the cache.
    async fn cached_views(
        &self,
        sessions: &Sessions,
        state: &mut SessionState,
    ) -> Result<Vec<api::SessionWorkflow>> {
        let mut views = Vec::new();
        let mut ended = Vec::new();
        for cached in state.lru.iter().rev() {
            let current = self.engine.instance(&cached.instance).await?;
            sessions.remember(&current);
            if current.status.is_terminal() {
                ended.push(cached.instance.clone());
                continue;
            }
            views.push(self.workflow_view(&current, cached.auto_persist).await?);
        }
        state.lru.retain(|c| !ended.contains(&c.instance));
        Ok(views)
    }

    fn session_view(
        &self,
        sessions: &Sessions,
        session: &Session,
        state: &SessionState,
        workflows: Vec<api::SessionWorkflow>,
    ) -> api::Session {
        api::Session {
            id: session.id.clone(),
            user: session.user.clone(),
            created_at: session.created_at,
            last_seen: state.last_seen,
            idle_timeout_ms: u64::try_from(sessions.options.idle_timeout.as_millis())
                .unwrap_or(u64::MAX),
            cache_size: sessions.options.cache_size,
            workflows,
        }
    }

    async fn workflow_view(
        &self,
        state: &Instance,
        auto_persist: bool,
    ) -> Result<api::SessionWorkflow> {
        let definition = self
            .engine
            .definition(&state.definition_id, Some(state.definition_version))
            .await?;
        let (step, shown, waiting_for) = open_step(&definition, state);
        Ok(api::SessionWorkflow {
            instance: state.id.clone(),
            process: state.definition_id.clone(),
            status: view::instance_status(state.status),
            step: step.map(str::to_owned),
            view: shown,
            waiting_for,
            auto_persist,
        })
    }

    async fn suspended_view(
        &self,
        workflow: &InteractiveWorkflow,
    ) -> Result<api::SuspendedWorkflow> {
        let Place::Inbox { since, why, note } = &workflow.place else {
            unreachable!("only a workflow in the inbox is shown as suspended")
        };
        let state = self.engine.instance(&workflow.instance).await?;
        let definition = self
            .engine
            .definition(&state.definition_id, Some(state.definition_version))
            .await?;
        let why = match why {
            Suspension::Explicit => api::SuspendedWhy::Explicit,
            Suspension::Implicit => api::SuspendedWhy::Implicit,
        };
        Ok(api::SuspendedWorkflow {
            instance: workflow.instance.clone(),
            owner: workflow.owner.clone(),
            process: workflow.process.clone(),
            step: open_step(&definition, &state).0.map(str::to_owned),
            suspended_at: *since,
            why,
            note: note.clone(),
        })
    }
}
