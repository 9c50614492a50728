//! The store a Baton process opens, chosen at run time by the database it is given: the
//! embedded SQLite file or a PostgreSQL server shared by several nodes. [`AnyStore`] implements
//! every store trait by handing each call to the store it holds, so the engine, the service,
//! the CLI and the server have one code path for both.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tokio::sync::broadcast;

use baton_core::instance::ForEachSnapshot;
use baton_core::user_task::{Caller, PotentialOwners};
use baton_core::{Event, Instance, InstanceStatus};
use baton_store::{
    Buffering, CalendarStore, ChangeNotifier, Changed, ClaimedJob, ClaimedTimer, CorrelationStore,
    DefinitionStore, DepartmentScope, DeployedVersion, Deployment, Document, DocumentError,
    DocumentStore, ExpiredLease, ExternalJobQueue, Group, IdentityError, IdentityStore,
    InboxFilter, InboxPage, InboxReader, InboxRow, Incident, IncidentReader, InstanceQuery,
    InstanceReader, InstanceSummary, InteractiveStore, InteractiveWorkflow, JobKey, JobProcess,
    JobQueue, NewDocument, NewToken, NewUser, OpenCounts, Orphans, Page, PublishedEvent,
    QueueDepths, QueueStats, Recorded, Result, RuntimeStats, SchedulePlace, ScheduleStore,
    SessionRecord, SlotRecord, SnapshotKey, SnapshotReader, StepRecord, StepWriter,
    StoredDefinition, StoredSchedule, Subscriber, Suspension, Timer, TimerQueue, Token, TokenError,
    TokenStore, User, WorkScope,
};
use baton_store_postgres::PgStore;
use baton_store_sqlite::SqliteStore;

/// One of Baton's stores; cheap to clone (each variant is a handle).
#[derive(Clone)]
pub enum AnyStore {
    /// The embedded SQLite file: one process drives its jobs at a time (the engine lock).
    Sqlite(SqliteStore),
    /// A PostgreSQL database that several nodes share: work moves between them by leases.
    Postgres(PgStore),
}

impl AnyStore {
    /// Whether the store is an embedded file that one process at a time runs the jobs of (so
    /// that a file lock proves the previous holder of its leases gone), rather than a database
    /// several nodes share (where leases just run out).
    pub fn is_embedded(&self) -> bool {
        matches!(self, Self::Sqlite(_))
    }
}

impl From<SqliteStore> for AnyStore {
    fn from(store: SqliteStore) -> Self {
        Self::Sqlite(store)
    }
}

impl From<PgStore> for AnyStore {
    fn from(store: PgStore) -> Self {
        Self::Postgres(store)
    }
}

/// Implements each trait for [`AnyStore`] by calling the same method, with the same arguments,
/// on the store it holds.
macro_rules! delegate {
    ($($trait:ident { $(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)* })*) => {
        $(impl $trait for AnyStore {
            $(async fn $name(&self $(, $arg: $ty)*) -> $ret {
                match self {
                    Self::Sqlite(store) => store.$name($($arg),*).await,
                    Self::Postgres(store) => store.$name($($arg),*).await,
                }
            })*
        })*
    };
}

impl ChangeNotifier for AnyStore {
    fn subscribe_changes(&self) -> broadcast::Receiver<Changed> {
        match self {
            Self::Sqlite(store) => store.subscribe_changes(),
            Self::Postgres(store) => store.subscribe_changes(),
        }
    }
}

delegate! {
    DefinitionStore {
        fn deploy(&self, id: &str, file: &str, source: &str, now: DateTime<Utc>) -> Result<u32>;
        fn deploy_all(&self, deployments: Vec<Deployment>, now: DateTime<Utc>) -> Result<Vec<u32>>;
        fn definition(&self, id: &str, version: Option<u32>) -> Result<Option<StoredDefinition>>;
        fn definitions(&self) -> Result<Vec<StoredDefinition>>;
        fn versions(&self, id: &str) -> Result<Vec<DeployedVersion>>;
        fn latest_version(&self, id: &str) -> Result<Option<u32>>;
    }
    CalendarStore {
        fn deploy_calendar(&self, id: &str, file: &str, source: &str, now: DateTime<Utc>) -> Result<u32>;
        fn calendars(&self) -> Result<Vec<StoredDefinition>>;
    }
    InstanceReader {
        fn instance(&self, id: &str) -> Result<Option<Instance>>;
        fn instance_seq(&self, id: &str) -> Result<Option<u64>>;
        fn instance_department(&self, id: &str) -> Result<Option<Option<String>>>;
        fn list_instances(&self, query: &InstanceQuery) -> Result<Vec<InstanceSummary>>;
        fn instances(&self, status: Option<InstanceStatus>, limit: usize) -> Result<Vec<InstanceSummary>>;
        fn started_by_key(&self, key: &str) -> Result<Option<(String, String)>>;
        fn open_instances(&self) -> Result<Vec<String>>;
        fn open_counts(&self) -> Result<OpenCounts>;
        fn history(&self, id: &str) -> Result<Vec<Event>>;
        fn history_page(&self, id: &str, after_seq: u64, limit: usize) -> Result<Vec<Event>>;
        fn children(&self, parent: &str) -> Result<Vec<String>>;
    }
    StepWriter {
        fn commit(&self, steps: Vec<StepRecord>) -> Result<()>;
    }
    JobQueue {
        fn claim_jobs_in(&self, owner: &str, scope: WorkScope<'_>, limit: usize, lease: Duration, now: DateTime<Utc>) -> Result<Vec<ClaimedJob>>;
        fn renew_leases(&self, owner: &str, jobs: &[JobKey], until: DateTime<Utc>, now: DateTime<Utc>) -> Result<Vec<JobKey>>;
        fn take_over_expired(&self, owner: &str, limit: usize, lease: Duration, now: DateTime<Utc>) -> Result<Vec<ExpiredLease>>;
        fn end_leases_of_others(&self, owner: &str, now: DateTime<Utc>) -> Result<usize>;
        fn leased_jobs(&self) -> Result<Vec<JobKey>>;
        fn queued_jobs(&self) -> Result<usize>;
        fn record_job_process(&self, job: &JobKey, process: &JobProcess) -> Result<()>;
        fn forget_job_process(&self, job: &JobKey) -> Result<()>;
        fn job_processes(&self) -> Result<Vec<(JobKey, JobProcess)>>;
    }
    ExternalJobQueue {
        fn lock_external_jobs(&self, owner: &str, topics: &[String], limit: usize, lock: Duration, now: DateTime<Utc>) -> Result<Vec<ClaimedJob>>;
        fn extend_lock(&self, job: &JobKey, owner: &str, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool>;
        fn next_lock_expiry(&self) -> Result<Option<DateTime<Utc>>>;
    }
    TimerQueue {
        fn due_timers(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Timer>>;
        fn due_timers_of(&self, instance: &str, now: DateTime<Utc>, limit: usize) -> Result<Vec<Timer>>;
        fn next_timer_due_in(&self, scope: WorkScope<'_>) -> Result<Option<DateTime<Utc>>>;
        fn claim_timers(&self, owner: &str, scope: WorkScope<'_>, limit: usize, lease: Duration, now: DateTime<Utc>) -> Result<Vec<ClaimedTimer>>;
    }
    RuntimeStats {
        fn expected_runtimes(&self, process: &str) -> Result<HashMap<String, Duration>>;
    }
    IncidentReader {
        fn incident(&self, id: i64) -> Result<Option<Incident>>;
        fn incidents(&self, instance: &str) -> Result<Vec<Incident>>;
        fn open_incidents(&self, limit: usize) -> Result<Vec<Incident>>;
        fn open_incidents_in(&self, scope: &DepartmentScope, limit: usize) -> Result<Vec<Incident>>;
    }
    SnapshotReader {
        fn snapshot(&self, key: &SnapshotKey) -> Result<Option<ForEachSnapshot>>;
    }
    QueueStats {
        fn queue_depths(&self, now: DateTime<Utc>) -> Result<QueueDepths>;
    }
    CorrelationStore {
        fn record_event(&self, event: &PublishedEvent, now: DateTime<Utc>) -> Result<Recorded>;
        fn subscribers(&self, event: &str, key: Option<&str>) -> Result<Vec<Subscriber>>;
        fn buffer_event(&self, id: &str, until: DateTime<Utc>, seen: i64, limit: usize, now: DateTime<Utc>) -> Result<Buffering>;
        fn settle_event(&self, id: &str, resumed: u32) -> Result<()>;
        fn published_event(&self, id: &str) -> Result<Option<PublishedEvent>>;
        fn buffered_events(&self, event: &str, key: Option<&str>, now: DateTime<Utc>) -> Result<Vec<PublishedEvent>>;
        fn buffered_matches(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<(String, Option<String>)>>;
        fn stale_pending(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<PublishedEvent>>;
        fn purge_events(&self, now: DateTime<Utc>) -> Result<usize>;
        fn buffered_count(&self, now: DateTime<Utc>) -> Result<usize>;
    }
    IdentityStore {
        fn add_user(&self, user: NewUser, now: DateTime<Utc>) -> Result<User, IdentityError>;
        fn add_group(&self, name: &str, now: DateTime<Utc>) -> Result<Group, IdentityError>;
        fn add_member(&self, group: &str, user: &str) -> Result<(), IdentityError>;
        fn remove_member(&self, group: &str, user: &str) -> Result<(), IdentityError>;
        fn user(&self, name: &str) -> Result<Option<User>, IdentityError>;
        fn users(&self) -> Result<Vec<User>, IdentityError>;
        fn groups(&self) -> Result<Vec<Group>, IdentityError>;
        fn groups_of(&self, user: &str) -> Result<Vec<String>, IdentityError>;
        fn departments(&self) -> Result<Vec<String>, IdentityError>;
        fn is_admin(&self, user: &str) -> Result<bool, IdentityError>;
        fn resolve_potential_owners(&self, owners: &PotentialOwners) -> Result<BTreeSet<String>, IdentityError>;
        fn set_password_hash(&self, user: &str, hash: &str, now: DateTime<Utc>) -> Result<(), IdentityError>;
        fn password_hash(&self, user: &str) -> Result<Option<String>, IdentityError>;
        fn caller(&self, user: &str) -> Result<Caller, IdentityError>;
    }
    TokenStore {
        fn add_token(&self, token: NewToken) -> Result<Token, TokenError>;
        fn token_by_hash(&self, secret_hash: &str) -> Result<Option<Token>, TokenError>;
        fn tokens(&self, user: Option<&str>) -> Result<Vec<Token>, TokenError>;
        fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<Token, TokenError>;
    }
    DocumentStore {
        fn add_document(&self, new: NewDocument, content: Vec<u8>) -> Result<Document, DocumentError>;
        fn document(&self, id: &str) -> Result<Option<Document>, DocumentError>;
        fn document_content(&self, id: &str) -> Result<Option<Vec<u8>>, DocumentError>;
        fn update_document_metadata(&self, id: &str, changes: Map<String, Value>, at: DateTime<Utc>) -> Result<Document, DocumentError>;
        fn referencing_instances(&self, id: &str, limit: usize) -> Result<Vec<String>, DocumentError>;
        fn referencing_instances_in(&self, id: &str, scope: &DepartmentScope, limit: usize) -> Result<Vec<String>, DocumentError>;
    }
    InboxReader {
        fn inbox(&self, user: &str, groups: &[String], filter: &InboxFilter, page: Page) -> Result<InboxPage>;
        fn inbox_of_instance(&self, instance: &str) -> Result<Vec<InboxRow>>;
    }
    InteractiveStore {
        fn open_session(&self, session: &SessionRecord) -> Result<()>;
        fn renew_node(&self, node: &str, until: DateTime<Utc>) -> Result<()>;
        fn take_over_sessions(&self, node: &str, which: Orphans, now: DateTime<Utc>) -> Result<Vec<SessionRecord>>;
        fn close_session(&self, id: &str) -> Result<()>;
        fn open_sessions(&self) -> Result<Vec<SessionRecord>>;
        fn add_workflow(&self, workflow: &InteractiveWorkflow) -> Result<bool>;
        fn take_from_inbox(&self, instance: &str, owner: &str, session: &str) -> Result<bool>;
        fn put_in_inbox(&self, instance: &str, session: &str, why: Suspension, note: Option<&str>, now: DateTime<Utc>) -> Result<bool>;
        fn forget_workflow(&self, instance: &str, session: &str) -> Result<bool>;
        fn interactive_workflow(&self, instance: &str) -> Result<Option<InteractiveWorkflow>>;
        fn cached_workflows(&self, session: &str) -> Result<Vec<InteractiveWorkflow>>;
        fn suspended_workflows(&self, owner: &str, limit: usize) -> Result<Vec<InteractiveWorkflow>>;
    }
    ScheduleStore {
        fn create_schedule(&self, schedule: StoredSchedule) -> Result<bool>;
        fn put_definition_schedule(&self, id: &str, schedule: Option<StoredSchedule>) -> Result<()>;
        fn schedule(&self, id: &str) -> Result<Option<StoredSchedule>>;
        fn schedules(&self) -> Result<Vec<StoredSchedule>>;
        fn set_schedule_paused(&self, id: &str, paused: bool, place: Option<SchedulePlace>) -> Result<bool>;
        fn delete_schedule(&self, id: &str) -> Result<bool>;
        fn due_schedules(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<StoredSchedule>>;
        fn next_schedule_due(&self) -> Result<Option<DateTime<Utc>>>;
        fn advance_schedule(&self, id: &str, from: &SchedulePlace, to: &SchedulePlace, slot: Option<SlotRecord>) -> Result<bool>;
        fn schedule_slots(&self, id: &str, limit: usize) -> Result<Vec<SlotRecord>>;
    }
}
