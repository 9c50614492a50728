//! The storage capabilities Baton's engine uses, as small traits (restate's per-table traits,
//! apalis' `Backend`): each engine operation asks only for what it needs. A store commits a
//! step's new instance state, its history events, and its job and timer changes in one
//! transaction, so a crash never separates a state from the events and jobs that led to it.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use baton_core::instance::ForEachSnapshot;
use baton_core::{Event, Instance, InstanceStatus, JobRequest};

#[cfg(feature = "testkit")]
pub mod conformance;
#[cfg(feature = "testkit")]
mod lease_conformance;

/// Everything that can go wrong in a store.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database failed; `kind` says why, and so whether trying again may help.
    #[error("database error: {message}")]
    Backend { kind: BackendKind, message: String },
    #[error("the stored state of instance {instance} cannot be read: {message}")]
    CorruptState { instance: String, message: String },
    #[error("instance {0} already exists")]
    DuplicateInstance(String),
    /// Another writer changed the instance since it was read, or the database gave up a
    /// transaction that raced another (a serialization failure): read it again and retry.
    #[error("instance {0} was changed concurrently")]
    Conflict(String),
    /// A step fenced by a worker's lock on an external job attempt was refused: the lock
    /// expired, is another worker's, or the attempt is no longer the one queued.
    /// A start named an idempotency key that an earlier start took.
    #[error("idempotency key `{key}` already started instance {instance}")]
    StartKeyTaken {
        key: String,
        instance: String,
        fingerprint: String,
    },
    #[error("worker `{owner}` does not hold the lock of job {job}: it expired, another worker holds it, or the attempt is over")]
    LockNotHeld { job: String, owner: String },
    /// A step that fires a timer was refused: the timer's lease expired and another node took
    /// it, or the timer was set again or cleared meanwhile.
    #[error("node `{owner}` no longer holds the lease of timer {key} of instance {instance}")]
    TimerLeaseLost {
        instance: String,
        key: String,
        owner: String,
    },
    /// A step that consumes a buffered event was refused: the event is no longer buffered
    /// (another instance took it, or its time to live ran out).
    #[error("event {0} is no longer buffered")]
    EventGone(String),
    #[error("the store has shut down")]
    Closed,
}

/// What kind of database failure a [`StoreError::Backend`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// The database could not be reached or did not answer in time (a lost connection, a lock
    /// held too long by another writer): trying again later may succeed.
    Unavailable,
    /// The database refuses the write for a reason an operator must fix: a full disk, a
    /// read-only file, missing permissions.
    Storage,
    /// The database is not one this Baton can use: damaged, not a Baton database, or migrated
    /// by a newer Baton.
    Incompatible,
    /// Anything else: a statement or an encoding Baton got wrong.
    Internal,
}

impl StoreError {
    /// A backend failure of `kind`.
    pub fn backend(kind: BackendKind, message: impl Into<String>) -> Self {
        Self::Backend {
            kind,
            message: message.into(),
        }
    }

    /// An internal failure (a statement or an encoding Baton got wrong).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::backend(BackendKind::Internal, message)
    }

    /// Whether the same request may succeed if sent again unchanged: a lost race
    /// ([`StoreError::Conflict`]) or a database that was briefly unavailable. Everything else
    /// would fail again the same way.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Conflict(_)
                | Self::Backend {
                    kind: BackendKind::Unavailable,
                    ..
                }
        )
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A deployed definition's source, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDefinition {
    pub id: String,
    pub version: u32,
    pub file: String,
    pub source: String,
    pub deployed_at: DateTime<Utc>,
}

/// One deployed version of an id, without its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedVersion {
    pub version: u32,
    pub file: String,
    pub deployed_at: DateTime<Utc>,
}

/// One row of an instance listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceSummary {
    pub id: String,
    pub definition_id: String,
    pub definition_version: u32,
    pub status: InstanceStatus,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The instance that started this one, if any.
    pub parent: Option<String>,
    /// How it is linked to that parent.
    pub link: Option<baton_core::instance::LinkKind>,
    /// The case the instance belongs to.
    pub case: String,
    /// The work status a hand-off recorded on it (Pega's Work Status).
    pub work_status: Option<String>,
    /// Its department scope, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

/// Identifies one job attempt.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobKey {
    pub instance: String,
    pub task: String,
    pub attempt: u32,
}

impl JobKey {
    pub fn of(request: &JobRequest) -> Self {
        Self {
            instance: request.instance.clone(),
            task: request.task.clone(),
            attempt: request.attempt,
        }
    }
}

/// The process a job attempt runs as: the leader of the attempt's own process group, and what
/// tells that leader apart from a later process given the same pid. A worker records it before
/// the job's command starts and forgets it once no process of the group is left, so after a
/// crash the next worker can stop what is left of the attempt before it runs the job again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProcess {
    pub pid: u32,
    /// The job's process group (the leader's pid when it was started).
    pub pgid: u32,
    /// Opaque to the store: the engine's identification of the leader against pid reuse (on
    /// Linux the boot id and the process's start time).
    pub identity: String,
}

/// A durable timer: at `due_at` the engine is told `payload` for `instance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timer {
    pub instance: String,
    /// Unique per instance; setting a timer with the same key replaces it.
    pub key: String,
    pub due_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

/// Everything one engine step changes, committed atomically.
#[derive(Debug, Clone, Default)]
pub struct StepRecord {
    /// The instance's new state (inserted if `new`, else updated). Shared, so the engine can
    /// keep it for the next step without copying it.
    pub instance: Option<std::sync::Arc<Instance>>,
    pub new: bool,
    /// For an update: the `next_seq` of the state the step was computed from. The write fails
    /// with [`StoreError::Conflict`] if the stored instance moved on meanwhile.
    pub expected_seq: u64,
    /// For an update: the status of the state the step was computed from, if known. A store
    /// may then leave the status (and what is indexed on it) alone when it did not change.
    pub status_before: Option<InstanceStatus>,
    /// History events to append, in order.
    pub events: Vec<Event>,
    /// Jobs to queue (one outstanding attempt per task: a new attempt replaces the old row).
    pub enqueue: Vec<JobRequest>,
    /// Job attempts whose result this step applied (or found stale), removed from the queue.
    pub complete: Vec<JobKey>,
    pub set_timers: Vec<Timer>,
    /// `(instance, key)` of timers to remove.
    pub clear_timers: Vec<(String, String)>,
    /// Run times of tasks that ended, for their learned expected runtime.
    pub runtimes: Vec<RuntimeSample>,
    /// Inbox rows to replace: one update per user task whose human tasks changed.
    pub inbox: Vec<InboxUpdate>,
    /// Incidents raised by this step.
    pub raise_incidents: Vec<NewIncident>,
    /// Incidents this step closes or counts a failed retry on.
    pub incident_updates: Vec<IncidentUpdate>,
    /// ForEach snapshots to store (a run started), each once.
    pub share_snapshots: Vec<(SnapshotKey, std::sync::Arc<ForEachSnapshot>)>,
    /// ForEach snapshots to remove (their run ended).
    pub drop_snapshots: Vec<SnapshotKey>,
    /// Commit the step only while this lease on a job attempt is held (fencing): else it is
    /// refused with [`StoreError::LockNotHeld`] and changes nothing.
    pub fence: Option<JobLock>,
    /// Commit the step only while these timer leases are held (the timers it fires): else it
    /// is refused with [`StoreError::TimerLeaseLost`] and changes nothing.
    pub timer_fence: Vec<TimerLock>,
    /// For an update: the step changed the instance's work status (so a store that keeps it
    /// beside the state writes it).
    pub work_status_changed: bool,
    /// For the first step of a new instance: the idempotency key its start named. Refused with
    /// [`StoreError::StartKeyTaken`], changing nothing, if an earlier start took the key.
    pub start_key: Option<StartKey>,
    /// The documents the instance's data refers to after this step, when they changed (or,
    /// for a new instance, when there are any): they replace the instance's rows in the
    /// index of references ([`DocumentStore::referencing_instances`]).
    pub documents: Option<Vec<String>>,
    /// Document records to copy with this step (Stardust's one-document rule).
    pub copy_documents: Vec<DocumentCopy>,
    /// Subscriptions of `wait` tasks that began waiting (replacing one of the same task).
    pub subscribe: Vec<Subscription>,
    /// `(instance, task)` of subscriptions to remove: the task stopped waiting.
    pub unsubscribe: Vec<(String, String)>,
    /// A buffered event this step consumes: refused with [`StoreError::EventGone`], changing
    /// nothing, unless the event is still buffered (and alive at `now`) when it commits.
    pub consume_event: Option<(String, DateTime<Utc>)>,
}

impl StepRecord {
    /// History holds every seq once: a step's events must be numbered upwards from the seq the
    /// stored instance was at (which the instance's write checks) and below its new one.
    /// Every store checks this before a step's first write.
    pub fn check_event_seqs(&self) -> Result<()> {
        if self.events.is_empty() {
            return Ok(());
        }
        if self.instance.is_none() {
            return Err(StoreError::internal(
                "history: a step with events must carry its instance",
            ));
        }
        let seqs = || self.events.iter().map(|e| e.seq);
        let from = if self.new { 1 } else { self.expected_seq };
        let below = self.instance.as_ref().map_or(u64::MAX, |i| i.next_seq);
        let increasing = seqs().zip(seqs().skip(1)).all(|(a, b)| a < b);
        match (seqs().min(), seqs().max()) {
            (Some(first), Some(last)) if increasing && first >= from && last < below => Ok(()),
            _ => Err(StoreError::internal(format!(
                "history: the step's event seqs {:?} are not increasing within {from}..{below} (a seq would be stored twice)",
                seqs().collect::<Vec<_>>()
            ))),
        }
    }
}

/// The idempotency key of a start, and a fingerprint of what was started with it (so that
/// the same key sent with other data is told apart from a repeat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartKey {
    pub key: String,
    pub fingerprint: String,
}

/// Which instances a listing holds, newest first (by creation time, then id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceQuery {
    pub status: Option<InstanceStatus>,
    /// Only instances of this process.
    pub process: Option<String>,
    /// Only instances created at or after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Only instances created before this time.
    pub created_before: Option<DateTime<Utc>>,
    /// Only the instances of this case.
    pub case: Option<String>,
    /// Only instances whose id starts with this.
    pub id_prefix: Option<String>,
    /// Only instances listed after this one: the last row of the previous page.
    pub after: Option<InstanceCursor>,
    /// Only instances in this department scope.
    pub scope: DepartmentScope,
    pub limit: usize,
}

/// A position in an instance listing: the last row a page held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceCursor {
    pub created_at: DateTime<Utc>,
    pub id: String,
}

/// A lease on one job attempt (a node's, or an external worker's lock), as a step that applies
/// the attempt's result names it: the step commits only if, at `now`, the attempt is still
/// queued, leased by `owner` (under the lease `lease`, when given), and its lease has not
/// expired. Checked in the step's own transaction, so a result from a node or worker that lost
/// the lease, or of an older attempt, is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLock {
    pub job: JobKey,
    pub owner: String,
    /// The lease's fencing token; `None` for an external worker, which names only itself.
    pub lease: Option<u64>,
    pub now: DateTime<Utc>,
}

impl std::fmt::Display for JobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} attempt {}",
            self.instance, self.task, self.attempt
        )
    }
}

/// Names the snapshot of one run of a ForEach task: the parent instance, the task, the
/// task's attempt.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SnapshotKey {
    pub instance: String,
    pub task: String,
    pub attempt: u32,
}

/// Reading the snapshots ForEach runs share with their iterations (the data and items, stored
/// once per run).
pub trait SnapshotReader: Send + Sync {
    fn snapshot(
        &self,
        key: &SnapshotKey,
    ) -> impl Future<Output = Result<Option<ForEachSnapshot>>> + Send;
}

/// How long one run of a task took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeSample {
    pub process: String,
    pub task: String,
    pub duration_ms: u64,
}

/// How many recent runs of a task the expected runtime is averaged over.
pub const ERT_RUNS: usize = 10;

/// Learned expected runtimes (Automic's ERT): the average of a task's last [`ERT_RUNS`] runs.
pub trait RuntimeStats: Send + Sync {
    fn expected_runtimes(
        &self,
        process: &str,
    ) -> impl Future<Output = Result<std::collections::HashMap<String, std::time::Duration>>> + Send;
}

/// Deployable calendars (Automic Calendar Events), stored as their source like definitions.
pub trait CalendarStore: Send + Sync {
    /// Stores the next version of calendar `id`; returns the version.
    fn deploy_calendar(
        &self,
        id: &str,
        file: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<u32>> + Send;
    /// The latest version of every calendar.
    fn calendars(&self) -> impl Future<Output = Result<Vec<StoredDefinition>>> + Send;
}

/// A job taken from the queue by a worker, under a lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimedJob {
    pub request: JobRequest,
    pub lease_until: DateTime<Utc>,
    /// The lease's fencing token: it grows with every claim of the job's row, so a holder of an
    /// earlier lease of the same attempt is told apart from the current one.
    #[serde(default)]
    pub lease: u64,
}

/// A leased job whose lease expired, taken over by a node (see
/// [`JobQueue::take_over_expired`]): the node must now end the attempt, as a new attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredLease {
    pub job: JobKey,
    /// Who held the lease that expired (a node, or an external worker).
    pub previous_owner: String,
    /// Whether the job is an external one (a worker's lock) rather than one Baton's worker runs.
    pub external: bool,
    /// The lease the taking node now holds (its fencing token).
    pub lease: u64,
}

/// A due timer taken by a node to fire, under a lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimedTimer {
    pub timer: Timer,
    /// The lease's fencing token (see [`TimerLock`]).
    pub lease: u64,
}

/// A node's lease on a timer, as the step firing it names it: the step commits only if, at
/// `now`, the timer is still leased by `owner` under `lease` and the lease has not expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerLock {
    pub instance: String,
    pub key: String,
    pub owner: String,
    pub lease: u64,
    pub now: DateTime<Utc>,
}

/// One source file to store as the next version of its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub kind: DeploymentKind,
    pub id: String,
    pub file: String,
    pub source: String,
}

/// What a deployed file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentKind {
    Definition,
    Calendar,
}

/// Deploying and reading definitions.
pub trait DefinitionStore: Send + Sync {
    /// Stores `source` as the next version of `id` (1 for a new id) and returns that version.
    fn deploy(
        &self,
        id: &str,
        file: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<u32>> + Send;
    /// Stores definitions and calendars together, in one transaction: all of them or none.
    /// Each is the next version of its id (an id given twice gets two versions, in order).
    /// Returns the version of each, in order.
    fn deploy_all(
        &self,
        deployments: Vec<Deployment>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<u32>>> + Send;
    /// A given version, or the latest when `version` is `None`.
    fn definition(
        &self,
        id: &str,
        version: Option<u32>,
    ) -> impl Future<Output = Result<Option<StoredDefinition>>> + Send;
    /// The latest version of every definition.
    fn definitions(&self) -> impl Future<Output = Result<Vec<StoredDefinition>>> + Send;
    /// Every deployed version of definition `id`, oldest first (none for an unknown id).
    fn versions(&self, id: &str) -> impl Future<Output = Result<Vec<DeployedVersion>>> + Send;
    /// The latest version of definition `id`, without its source (none for an unknown id).
    fn latest_version(&self, id: &str) -> impl Future<Output = Result<Option<u32>>> + Send;
}

/// Reading instances and their history.
pub trait InstanceReader: Send + Sync {
    fn instance(&self, id: &str) -> impl Future<Output = Result<Option<Instance>>> + Send;
    /// The stored instance's `next_seq` (the optimistic-concurrency token every step must
    /// name), without reading its state: lets the engine reuse a state it holds in memory.
    fn instance_seq(&self, id: &str) -> impl Future<Output = Result<Option<u64>>> + Send;
    /// The stored instance's department scope, without reading its state: `None` for an
    /// unknown instance, `Some(None)` for an unscoped one.
    fn instance_department(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Option<String>>>> + Send;
    /// The instances `query` selects, newest first.
    fn list_instances(
        &self,
        query: &InstanceQuery,
    ) -> impl Future<Output = Result<Vec<InstanceSummary>>> + Send;
    /// Newest first, at most `limit`, optionally only with one status.
    fn instances(
        &self,
        status: Option<InstanceStatus>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<InstanceSummary>>> + Send {
        async move {
            self.list_instances(&InstanceQuery {
                status,
                limit,
                ..InstanceQuery::default()
            })
            .await
        }
    }
    /// The instance an idempotency key started, with the fingerprint of that start.
    fn started_by_key(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<(String, String)>>> + Send;
    /// Ids of instances that are not in a terminal status (what the engine resumes at start).
    fn open_instances(&self) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// How many instances are in each open status (`running`, `waiting`, `blocked`), without
    /// reading them.
    fn open_counts(&self) -> impl Future<Output = Result<OpenCounts>> + Send;
    fn history(&self, id: &str) -> impl Future<Output = Result<Vec<Event>>> + Send;
    /// At most `limit` events of an instance's history with a seq after `after_seq`, oldest first.
    fn history_page(
        &self,
        id: &str,
        after_seq: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Event>>> + Send;
    /// Ids of the child instances of an instance (ForEach iterations, `call`ed and handed-off
    /// instances), oldest first.
    fn children(&self, parent: &str) -> impl Future<Output = Result<Vec<String>>> + Send;
}

/// Instances by open status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenCounts {
    pub running: usize,
    pub waiting: usize,
    pub blocked: usize,
}

impl OpenCounts {
    pub fn total(&self) -> usize {
        self.running + self.waiting + self.blocked
    }
}

/// Committing engine steps. All steps of one call land together or not at all (a ForEach
/// step and the child instances it starts are one call). Stores may group the steps of
/// concurrent callers into one transaction (group commit); a call returns only after its
/// steps are durable.
pub trait StepWriter: Send + Sync {
    fn commit(&self, steps: Vec<StepRecord>) -> impl Future<Output = Result<()>> + Send;
}

/// Whose work a claim takes: every instance's, one instance's, or one case's (a root
/// instance with every instance under it: `baton run` drives only the instance it started).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkScope<'a> {
    All,
    Instance(&'a str),
    Case(&'a str),
}

impl<'a> WorkScope<'a> {
    /// The one instance, if the scope is one.
    pub fn instance(self) -> Option<&'a str> {
        match self {
            Self::Instance(id) => Some(id),
            _ => None,
        }
    }

    /// The case, if the scope is one.
    pub fn case(self) -> Option<&'a str> {
        match self {
            Self::Case(id) => Some(id),
            _ => None,
        }
    }
}

/// The durable job queue. Its jobs are the ones Baton's own worker runs (a `command`); the
/// jobs external workers fetch by topic are in the same queue but only [`ExternalJobQueue`]
/// hands them out or counts them.
///
/// Both kinds are held under the same leases: a claim gives the attempt an owner (a node, or
/// an external worker), an expiry and a new fencing token; the owner renews the lease while
/// the attempt runs; a result is applied only under a live lease of its owner (see
/// [`JobLock`]); and a lease that expired is taken over by a node
/// ([`take_over_expired`](Self::take_over_expired)), which ends the attempt so that the job
/// runs again as a new attempt. That is how the work of a node that died is taken over.
pub trait JobQueue: Send + Sync {
    /// Leases up to `limit` queued jobs (oldest first) to `owner` until `now + lease`.
    /// No job is leased to two owners at once.
    fn claim_jobs(
        &self,
        owner: &str,
        limit: usize,
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<ClaimedJob>>> + Send {
        self.claim_jobs_in(owner, WorkScope::All, limit, lease, now)
    }
    /// [`claim_jobs`](Self::claim_jobs) of the instances in `scope` only.
    fn claim_jobs_in(
        &self,
        owner: &str,
        scope: WorkScope<'_>,
        limit: usize,
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<ClaimedJob>>> + Send;
    /// Moves to `until` the leases `owner` holds at `now` on these attempts (those that are
    /// still live: an expired lease is not revived). Returns the attempts renewed; a missing
    /// one lost its lease (expired, taken over, or the attempt is over).
    fn renew_leases(
        &self,
        owner: &str,
        jobs: &[JobKey],
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<JobKey>>> + Send;
    /// Takes over up to `limit` leases (of either kind of job) that expired at or before
    /// `now`, earliest expiry first: each becomes `owner`'s until `now + lease`, under a new
    /// fencing token, so that however many nodes race, one takes each, and a result under the
    /// expired lease is refused from then on.
    fn take_over_expired(
        &self,
        owner: &str,
        limit: usize,
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<ExpiredLease>>> + Send;
    /// Ends at `now` every lease on a job Baton's worker runs, and on a timer, that an owner
    /// other than `owner` holds: for an embedded store, whose engine lock proves that the
    /// process holding them is gone, so their work need not wait for the leases to run out.
    /// External workers' locks are left alone. Returns how many leases ended.
    fn end_leases_of_others(
        &self,
        owner: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<usize>> + Send;
    /// Jobs currently leased (on an embedded store at start-up these were abandoned by a dead process).
    fn leased_jobs(&self) -> impl Future<Output = Result<Vec<JobKey>>> + Send;
    /// Number of jobs waiting to be claimed.
    fn queued_jobs(&self) -> impl Future<Output = Result<usize>> + Send;
    /// Durably records the process job attempt `job` runs as (replacing a record of the same
    /// attempt). The record is independent of the queue row: a step that cancels the job or
    /// queues its next attempt leaves it, because the process may still be stopping.
    fn record_job_process(
        &self,
        job: &JobKey,
        process: &JobProcess,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Removes the record of `job`'s process (none is no error): no process of it is left.
    fn forget_job_process(&self, job: &JobKey) -> impl Future<Output = Result<()>> + Send;
    /// Every recorded job process, by instance, task and attempt (on an embedded store at
    /// start-up: those a dead process left).
    fn job_processes(&self) -> impl Future<Output = Result<Vec<(JobKey, JobProcess)>>> + Send;
}

/// External jobs (a `topic` instead of a `command`), which workers outside Baton fetch and
/// lock (Camunda's fetch-and-lock), report on under their lock, and lose when the lock expires.
pub trait ExternalJobQueue: Send + Sync {
    /// Locks up to `limit` queued jobs of these topics (oldest first) to `owner` until
    /// `now + lock`. No job is locked by two owners at once.
    fn lock_external_jobs(
        &self,
        owner: &str,
        topics: &[String],
        limit: usize,
        lock: std::time::Duration,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<ClaimedJob>>> + Send;
    /// Moves the lock `owner` holds on attempt `job` to `until`. False (and nothing changed)
    /// when `owner` does not hold it at `now`: expired, another's, or the attempt is over.
    fn extend_lock(
        &self,
        job: &JobKey,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// When the earliest lock on an external job expires, so a driver knows when to look.
    fn next_lock_expiry(&self) -> impl Future<Output = Result<Option<DateTime<Utc>>>> + Send;
}

/// Durable timers.
pub trait TimerQueue: Send + Sync {
    /// Timers due at or before `now`, earliest first.
    fn due_timers(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Timer>>> + Send;
    /// Timers of one instance due at or before `now`, earliest first (a ForEach parent's
    /// iteration ends, taken together into one step).
    fn due_timers_of(
        &self,
        instance: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Timer>>> + Send;
    /// The earliest pending timer, so a driver knows how long it may sleep.
    fn next_timer_due(&self) -> impl Future<Output = Result<Option<DateTime<Utc>>>> + Send {
        self.next_timer_due_in(WorkScope::All)
    }
    /// [`next_timer_due`](Self::next_timer_due) of the instances in `scope`.
    fn next_timer_due_in(
        &self,
        scope: WorkScope<'_>,
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>>> + Send;
    /// Leases to `owner` until `now + lease` up to `limit` timers due at or before `now`
    /// (earliest first) that no one holds a live lease on, of the instances in `scope`.
    /// No timer is leased to two owners at once; the step that fires one names its lease
    /// ([`StepRecord::timer_fence`]), and a timer whose firing node died is claimable again
    /// once its lease expired.
    fn claim_timers(
        &self,
        owner: &str,
        scope: WorkScope<'_>,
        limit: usize,
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<ClaimedTimer>>> + Send;
}

/// What a commit changed, as far as waiters care: told to every waiter on every node that
/// shares the database (for an embedded store, those in its process).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changed {
    /// Some instance's state changed.
    pub instances: bool,
    /// Jobs that Baton's worker runs were queued.
    pub jobs: bool,
    /// External jobs were queued.
    pub external_jobs: bool,
    /// Timers were set (one may be due sooner than a sleeping driver planned to wake).
    pub timers: bool,
}

impl Changed {
    /// Everything: what a waiter assumes when it missed notifications.
    pub const ALL: Self = Self {
        instances: true,
        jobs: true,
        external_jobs: true,
        timers: true,
    };

    /// What committing `steps` changes.
    pub fn of(steps: &[StepRecord]) -> Self {
        let mut changed = Self::default();
        for step in steps {
            changed.instances |= step.instance.is_some();
            changed.jobs |= step.enqueue.iter().any(|j| j.topic.is_none());
            changed.external_jobs |= step.enqueue.iter().any(|j| j.topic.is_some());
            changed.timers |= !step.set_timers.is_empty();
        }
        changed
    }

    pub fn any(&self) -> bool {
        self.instances || self.jobs || self.external_jobs || self.timers
    }
}

/// Change notifications from the store: after each commit that changed something, every
/// subscriber hears what changed, so that waiters (a worker's sleep, an external worker's
/// long-poll, an event stream, a caller waiting on an instance) wake instead of polling. For
/// SQLite they are a broadcast within the process; a store shared by several nodes tells every
/// node (PostgreSQL's LISTEN/NOTIFY). A subscriber that falls behind is told it lagged, and
/// should take it as [`Changed::ALL`].
pub trait ChangeNotifier: Send + Sync {
    fn subscribe_changes(&self) -> tokio::sync::broadcast::Receiver<Changed>;
}

/// Everything the engine needs from one store.
pub trait Store:
    DefinitionStore
    + CalendarStore
    + InstanceReader
    + StepWriter
    + JobQueue
    + ExternalJobQueue
    + TimerQueue
    + RuntimeStats
    + IncidentReader
    + SnapshotReader
    + QueueStats
    + CorrelationStore
    + ScheduleStore
    + ChangeNotifier
    + Clone
    + 'static
{
}
impl<T> Store for T where
    T: DefinitionStore
        + CalendarStore
        + InstanceReader
        + StepWriter
        + JobQueue
        + ExternalJobQueue
        + TimerQueue
        + RuntimeStats
        + IncidentReader
        + SnapshotReader
        + QueueStats
        + CorrelationStore
        + ScheduleStore
        + ChangeNotifier
        + Clone
        + 'static
{
}

pub mod scope;
pub use scope::DepartmentScope;
pub mod identity;
pub use identity::{Group, IdentityError, IdentityStore, NewUser, User, OPERATOR};
pub mod token;
pub use token::{NewToken, Token, TokenError, TokenStore};
pub mod incident;
pub use incident::{Incident, IncidentKind, IncidentReader, IncidentUpdate, NewIncident};
pub mod queue_stats;
pub use queue_stats::{QueueDepths, QueueStats, TopicJobs};
pub mod documents;
pub use documents::{Document, DocumentCopy, DocumentError, DocumentStore, NewDocument};
pub mod correlation;
pub mod inbox;
pub mod interactive;
pub mod schedule;
pub use correlation::{
    Buffering, CorrelationStore, EventState, PublishedEvent, Recorded, Subscriber, Subscription,
};
pub use inbox::{
    inbox_updates, InboxEntry, InboxFilter, InboxPage, InboxReader, InboxRow, InboxStatus,
    InboxUpdate, Page,
};
pub use interactive::{
    InteractiveStore, InteractiveWorkflow, Orphans, Place, SessionRecord, Suspension,
};
pub use schedule::{SchedulePlace, ScheduleStore, SlotOutcome, SlotRecord, StoredSchedule};
#[cfg(feature = "testkit")]
pub mod document_conformance;
#[cfg(feature = "testkit")]
pub mod identity_conformance;
#[cfg(feature = "testkit")]
pub mod inbox_conformance;
#[cfg(feature = "testkit")]
pub mod interactive_conformance;
#[cfg(feature = "testkit")]
pub mod schedule_conformance;
