//! Baton's embedded default store: SQLite in WAL mode.
//!
//! All writes go through one writer thread that drains its queue and commits everything it
//! found in one transaction (group commit): with `synchronous=FULL` a commit costs one fsync,
//! so many engine steps share it. Each request runs in its own savepoint, so one bad request
//! fails alone; callers hear back only after the commit is durable. Reads use a separate
//! connection, which WAL lets run beside the writer.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use baton_core::instance::{LinkKind, OLDEST_STATE_FORMAT, STATE_FORMAT};
use baton_core::{Event, Instance, InstanceStatus, JobRequest};
use baton_store::{
    BackendKind, CalendarStore, ChangeNotifier, Changed, ClaimedJob, ClaimedTimer, DefinitionStore,
    DeployedVersion, Deployment, DeploymentKind, ExpiredLease, InstanceQuery, InstanceReader,
    InstanceSummary, JobKey, JobProcess, JobQueue, OpenCounts, Result, RuntimeStats, StepRecord,
    StepWriter, StoreError, StoredDefinition, Timer, TimerQueue, WorkScope,
};

mod correlation;
mod document;
mod external_job;
mod inbox;
mod incident;
mod interactive;
mod migrations;
mod queue_stats;
mod schedule;
mod snapshot;
mod stored_json;
mod token;
mod writer;

use stored_json::{StoredJson, EVENTS_COMPRESS_FROM, STATE_COMPRESS_FROM};
pub use writer::WriterCounts;
use writer::{Failure, WriteFn};

/// How hard SQLite works to keep a commit across a power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: a committed step survives a power cut (the default).
    Full,
    /// `synchronous=NORMAL`: survives a crash of the process, may lose the last commits on power loss.
    Normal,
}

/// A handle to the SQLite store; cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<mpsc::Sender<WriteFn>>,
    reader: Mutex<Connection>,
    path: PathBuf,
    /// Where documents' content is kept (see [`SqliteStore::document_dir`]).
    documents: PathBuf,
    stats: Arc<writer::WriterStats>,
    /// What commits changed, for the waiters of this process (see [`ChangeNotifier`]).
    changes: tokio::sync::broadcast::Sender<Changed>,
}

/// How many change notifications a subscriber may fall behind by before it is told it lagged.
const CHANGE_BACKLOG: usize = 256;

/// What kind of failure a SQLite error is: a busy or locked database is worth trying again;
/// a full disk, a read-only file or missing permissions need an operator; a damaged file or
/// one that is not a database cannot be used.
pub(crate) fn db_kind(e: &rusqlite::Error) -> BackendKind {
    use rusqlite::ErrorCode as Code;
    match e.sqlite_error_code() {
        Some(Code::DatabaseBusy | Code::DatabaseLocked) => BackendKind::Unavailable,
        Some(
            Code::DiskFull
            | Code::ReadOnly
            | Code::CannotOpen
            | Code::PermissionDenied
            | Code::SystemIoFailure,
        ) => BackendKind::Storage,
        Some(Code::NotADatabase | Code::DatabaseCorrupt) => BackendKind::Incompatible,
        _ => BackendKind::Internal,
    }
}

/// A SQLite error as a store error. The failures a user can fix (a full disk, a read-only
/// file or folder, a file that is not a database) get a sentence that says so, ahead of
/// SQLite's own words.
pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as Code;
    let kind = db_kind(&e);
    let hint = match e.sqlite_error_code() {
        Some(Code::DiskFull) => "the disk is full; free some space and try again (the failed write stored nothing)",
        Some(Code::ReadOnly) => "the database is read-only: Baton needs to write the file and, beside it, its -wal and -shm files",
        Some(Code::NotADatabase) => "the file is not a Baton database (it is not an SQLite database)",
        Some(Code::CannotOpen) => "the file cannot be opened: check that its folder exists and that Baton may read and write the file and the folder",
        Some(Code::PermissionDenied) => "permission denied: Baton may not read or write the file",
        Some(Code::DatabaseCorrupt) => "the database file is damaged",
        _ => return StoreError::backend(kind, e.to_string()),
    };
    StoreError::backend(kind, format!("{hint} (SQLite: {e})"))
}

/// An error from outside SQLite (JSON encoding, a thread that could not start).
pub(crate) fn other_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::internal(e.to_string())
}

/// An error of the operating system around the database (its folder, its documents).
pub(crate) fn io_err(e: std::io::Error) -> StoreError {
    StoreError::backend(BackendKind::Storage, e.to_string())
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_ts(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
}

fn open_connection(path: &Path, durability: Durability) -> Result<Connection> {
    let conn = Connection::open(path).map_err(db_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(db_err)?;
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.execute_batch(&format!("PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536;")).map_err(db_err)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// Documents' content is kept in `documents/` beside the file.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<Self> {
        let documents = document::default_document_dir(path.as_ref());
        Self::open_with_document_dir(path, durability, documents)
    }

    /// [`open`](Self::open), keeping documents' content in `documents` (made when the first
    /// document is stored).
    pub fn open_with_document_dir(
        path: impl AsRef<Path>,
        durability: Durability,
        documents: impl Into<PathBuf>,
    ) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_err)?;
        }
        // SQLite takes an empty file for a new database; an empty file where a database was
        // expected is far more often a mistake (a truncated copy, a wrong path) than a wish.
        if path.is_dir() {
            return Err(StoreError::backend(
                BackendKind::Storage,
                "it is a folder; give the path of a database file (it is made if missing)",
            ));
        }
        if std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == 0) {
            return Err(StoreError::backend(
                BackendKind::Incompatible,
                "the file is empty, so it is not a Baton database; remove it to start a new database there, or give the right path",
            ));
        }
        let mut writer = open_connection(&path, durability)?;
        migrations::run(&mut writer)?;
        let reader = open_connection(&path, durability)?;
        let (tx, rx) = mpsc::channel::<WriteFn>();
        let stats = Arc::new(writer::WriterStats::default());
        std::thread::Builder::new()
            .name("baton-sqlite-writer".into())
            .spawn({
                let stats = stats.clone();
                move || writer::writer_loop(writer, rx, &stats)
            })
            .map_err(other_err)?;
        let changes = tokio::sync::broadcast::channel(CHANGE_BACKLOG).0;
        Ok(Self {
            inner: Arc::new(Inner {
                writer: Mutex::new(tx),
                reader: Mutex::new(reader),
                path,
                documents: documents.into(),
                stats,
                changes,
            }),
        })
    }

    /// Where documents' content is kept: one file per distinct content, named by its SHA-256.
    pub fn document_dir(&self) -> &Path {
        &self.inner.documents
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// What the writer thread did so far: transactions, the requests in them, and the time
    /// spent running them and committing.
    pub fn write_stats(&self) -> WriterCounts {
        self.inner.stats.read()
    }

    /// Copies everything committed from the write-ahead log into the database file and empties
    /// the log, so the file's size is what the database holds (for measurements).
    /// Run from the reader connection: the writer's requests run inside its transactions,
    /// where a checkpoint cannot finish.
    pub fn checkpoint(&self) -> Result<()> {
        self.read(|conn| conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())))
    }

    /// Runs a read on the reader connection. SQLite reads here take microseconds, so they run
    /// inline rather than on a blocking pool.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = self.inner.reader.lock().map_err(|_| StoreError::Closed)?;
        f(&conn).map_err(db_err)
    }
}

/// A step with its JSON already written, so the writer thread (which every commit waits for)
/// only runs SQL; the encoding happens on the committing task's thread.
struct EncodedStep {
    record: StepRecord,
    state: Option<StoredJson>,
    /// The step's events as one JSON array (one history row per step).
    events: Option<StoredJson>,
    jobs: Vec<String>,
    timer_payloads: Vec<String>,
    /// The snapshots shared, compressed whatever their size (a list of items compresses well).
    snapshots: Vec<StoredJson>,
}

impl EncodedStep {
    fn new(record: StepRecord) -> Result<Self> {
        let state = record
            .instance
            .as_deref()
            .map(|i| StoredJson::encode(i, STATE_COMPRESS_FROM))
            .transpose()?;
        let events = (!record.events.is_empty())
            .then(|| StoredJson::encode(&record.events, EVENTS_COMPRESS_FROM))
            .transpose()?;
        let jobs = record
            .enqueue
            .iter()
            .map(serde_json::to_string)
            .collect::<std::result::Result<_, _>>()
            .map_err(other_err)?;
        let timer_payloads = record
            .set_timers
            .iter()
            .map(|t| serde_json::to_string(&t.payload))
            .collect::<std::result::Result<_, _>>()
            .map_err(other_err)?;
        let snapshots = record
            .share_snapshots
            .iter()
            .map(|(_, s)| StoredJson::encode(&**s, 0))
            .collect::<Result<_>>()?;
        Ok(Self {
            record,
            state,
            events,
            jobs,
            timer_payloads,
            snapshots,
        })
    }
}

/// What would refuse a step, checked without writing: its event seqs, and for a new instance
/// that the id is free, for an update that the stored instance is still at `expected_seq`.
fn check_step(conn: &Connection, step: &StepRecord) -> Result<()> {
    step.check_event_seqs()?;
    check_fence(conn, step)?;
    correlation::check_consumed(conn, step)?;
    check_start_key(conn, step)?;
    let Some(instance) = &step.instance else {
        return Ok(());
    };
    let seq: Option<i64> = conn
        .prepare_cached("SELECT seq FROM instances WHERE id = ?1")
        .and_then(|mut s| s.query_row([&instance.id], |r| r.get(0)).optional())
        .map_err(db_err)?;
    match (step.new, seq) {
        (true, Some(_)) => Err(StoreError::DuplicateInstance(instance.id.clone())),
        (false, seq) if seq != Some(step.expected_seq as i64) => {
            Err(StoreError::Conflict(instance.id.clone()))
        }
        _ => Ok(()),
    }
}

/// A step fenced by a worker's lock commits only while the worker holds it (see
/// [`StepRecord::fence`]); checked before the step's first write.
fn check_fence(conn: &Connection, step: &StepRecord) -> Result<()> {
    for lock in &step.timer_fence {
        let held = conn
            .prepare_cached("SELECT 1 FROM timers WHERE instance_id = ?1 AND key = ?2 AND owner = ?3 AND lease = ?4 AND lease_until > ?5")
            .and_then(|mut s| s.exists(params![lock.instance, lock.key, lock.owner, lock.lease as i64, ts(lock.now)]))
            .map_err(db_err)?;
        if !held {
            return Err(StoreError::TimerLeaseLost {
                instance: lock.instance.clone(),
                key: lock.key.clone(),
                owner: lock.owner.clone(),
            });
        }
    }
    let Some(lock) = &step.fence else {
        return Ok(());
    };
    let held = conn
        .prepare_cached(
            "SELECT 1 FROM jobs WHERE instance_id = ?1 AND task = ?2 AND attempt = ?3 AND owner = ?4 AND lease_until > ?5 AND (?6 IS NULL OR lease = ?6)",
        )
        .and_then(|mut s| s.exists(params![lock.job.instance, lock.job.task, lock.job.attempt, lock.owner, ts(lock.now), lock.lease.map(|l| l as i64)]))
        .map_err(db_err)?;
    if held {
        Ok(())
    } else {
        Err(StoreError::LockNotHeld {
            job: lock.job.to_string(),
            owner: lock.owner.clone(),
        })
    }
}

/// A start that names an idempotency key an earlier start took is refused, naming that start.
fn check_start_key(conn: &Connection, step: &StepRecord) -> Result<()> {
    let Some(start) = &step.start_key else {
        return Ok(());
    };
    let taken: Option<(String, String)> = conn
        .prepare_cached("SELECT instance_id, fingerprint FROM start_keys WHERE key = ?1")
        .and_then(|mut s| {
            s.query_row([&start.key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(db_err)?;
    match taken {
        Some((instance, fingerprint)) => Err(StoreError::StartKeyTaken {
            key: start.key.clone(),
            instance,
            fingerprint,
        }),
        None => Ok(()),
    }
}

/// Writes one step. It is refused ([`Failure::Refused`]) only before its first write: by its
/// event seqs, or by the instance's insert or update, which comes first and changes nothing
/// when it finds the id taken or the instance moved on.
fn write_step(conn: &Connection, encoded: &EncodedStep) -> std::result::Result<(), Failure> {
    let step = &encoded.record;
    step.check_event_seqs().map_err(Failure::Refused)?;
    check_fence(conn, step).map_err(Failure::Refused)?;
    correlation::check_consumed(conn, step).map_err(Failure::Refused)?;
    check_start_key(conn, step).map_err(Failure::Refused)?;
    // The instance's integer key, which its history rows are filed under.
    let mut key: Option<i64> = None;
    if let (Some(instance), Some(state)) = (&step.instance, &encoded.state) {
        let ended = instance.ended_at.map(ts);
        if step.new {
            key = conn
                .prepare_cached(
                    "INSERT INTO instances (id, definition_id, definition_version, status, created_at, updated_at, ended_at, seq, state_format, state, parent_id, case_id, root_id, work_status, link_kind, department)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) ON CONFLICT (id) DO NOTHING RETURNING key",
                )
                .and_then(|mut s| {
                    s.query_row(params![
                        instance.id,
                        instance.definition_id,
                        instance.definition_version,
                        instance.status.name(),
                        ts(instance.created_at),
                        ts(instance.updated_at),
                        ended,
                        instance.next_seq as i64,
                        STATE_FORMAT,
                        state,
                        instance.parent.as_ref().map(|p| p.instance.as_str()),
                        instance.case_id(),
                        instance.root.as_deref(),
                        instance.work_status.as_deref(),
                        instance.parent.as_ref().map(|p| p.kind.name()),
                        instance.department.as_deref()
                    ], |r| r.get(0))
                    .optional()
                })
                .map_err(db_err)?;
            if key.is_none() {
                return Err(Failure::Refused(StoreError::DuplicateInstance(
                    instance.id.clone(),
                )));
            }
        } else if step.status_before == Some(instance.status) && !step.work_status_changed {
            // Most steps keep the status: leaving it (and `ended_at`, which changes with it)
            // out of the SET spares SQLite rewriting the status index entry.
            key = conn
                .prepare_cached("UPDATE instances SET updated_at = ?2, seq = ?3, state = ?4, state_format = ?6 WHERE id = ?1 AND seq = ?5 RETURNING key")
                .and_then(|mut s| {
                    let args = params![instance.id, ts(instance.updated_at), instance.next_seq as i64, state, step.expected_seq as i64, STATE_FORMAT];
                    s.query_row(args, |r| r.get(0)).optional()
                })
                .map_err(db_err)?;
        } else {
            key = conn
                .prepare_cached(
                    "UPDATE instances SET status = ?2, updated_at = ?3, ended_at = ?4, seq = ?5, state_format = ?6, state = ?7, work_status = ?9
                     WHERE id = ?1 AND seq = ?8 RETURNING key",
                )
                .and_then(|mut s| {
                    s.query_row(
                        params![
                            instance.id,
                            instance.status.name(),
                            ts(instance.updated_at),
                            ended,
                            instance.next_seq as i64,
                            STATE_FORMAT,
                            state,
                            step.expected_seq as i64,
                            instance.work_status.as_deref()
                        ],
                        |r| r.get(0),
                    )
                    .optional()
                })
                .map_err(db_err)?;
        }
        if !step.new && key.is_none() {
            return Err(Failure::Refused(StoreError::Conflict(instance.id.clone())));
        }
    }
    if let (Some(start), Some(instance)) = (&step.start_key, &step.instance) {
        conn.prepare_cached("INSERT INTO start_keys (key, instance_id, fingerprint, created_at) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![start.key, instance.id, start.fingerprint, ts(instance.created_at)]))
            .map_err(db_err)?;
    }
    if let (Some(events), Some(first), Some(key)) = (&encoded.events, step.events.first(), key) {
        conn.prepare_cached(
            "INSERT INTO history (instance_key, first_seq, events) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut s| s.execute(params![key, first.seq as i64, events]))
        .map_err(db_err)?;
    }
    for key in &step.complete {
        conn.prepare_cached(
            "DELETE FROM jobs WHERE instance_id = ?1 AND task = ?2 AND attempt = ?3",
        )
        .and_then(|mut s| s.execute(params![key.instance, key.task, key.attempt]))
        .map_err(db_err)?;
    }
    for (job, request) in step.enqueue.iter().zip(&encoded.jobs) {
        let queued_at = step
            .instance
            .as_ref()
            .map_or_else(|| ts(Utc::now()), |i| ts(i.updated_at));
        conn.prepare_cached(
            "INSERT OR REPLACE INTO jobs (instance_id, task, attempt, request, queued_at, owner, lease_until, topic) VALUES (?1, ?2, ?3, ?4, ?5, NULL, NULL, ?6)",
        )
        .and_then(|mut s| s.execute(params![job.instance, job.task, job.attempt, request, queued_at, job.topic]))
        .map_err(db_err)?;
    }
    for (instance, key) in &step.clear_timers {
        conn.prepare_cached("DELETE FROM timers WHERE instance_id = ?1 AND key = ?2")
            .and_then(|mut s| s.execute(params![instance, key]))
            .map_err(db_err)?;
    }
    for sample in &step.runtimes {
        // Keep the last ERT_RUNS runs per task: number them and drop the oldest.
        let n: i64 = conn
            .prepare_cached("SELECT COALESCE(MAX(n), 0) + 1 FROM task_runtimes WHERE process_id = ?1 AND task = ?2")
            .and_then(|mut s| s.query_row(params![sample.process, sample.task], |r| r.get(0)))
            .map_err(db_err)?;
        conn.prepare_cached(
            "INSERT INTO task_runtimes (process_id, task, n, duration_ms) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| {
            s.execute(params![
                sample.process,
                sample.task,
                n,
                sample.duration_ms as i64
            ])
        })
        .map_err(db_err)?;
        conn.prepare_cached(
            "DELETE FROM task_runtimes WHERE process_id = ?1 AND task = ?2 AND n <= ?3",
        )
        .and_then(|mut s| {
            s.execute(params![
                sample.process,
                sample.task,
                n - baton_store::ERT_RUNS as i64
            ])
        })
        .map_err(db_err)?;
    }
    for (timer, payload) in step.set_timers.iter().zip(&encoded.timer_payloads) {
        conn.prepare_cached("INSERT OR REPLACE INTO timers (instance_id, key, due_at, payload) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![timer.instance, timer.key, ts(timer.due_at), payload]))
            .map_err(db_err)?;
    }
    for update in &step.inbox {
        inbox::write_inbox(conn, update)?;
    }
    incident::write_incidents(conn, &step.raise_incidents, &step.incident_updates)?;
    document::write_document_changes(conn, step)?;
    snapshot::write_snapshots(
        conn,
        &step.share_snapshots,
        &encoded.snapshots,
        &step.drop_snapshots,
    )?;
    correlation::write_subscriptions(conn, step)?;
    Ok(())
}

impl ChangeNotifier for SqliteStore {
    fn subscribe_changes(&self) -> tokio::sync::broadcast::Receiver<Changed> {
        self.inner.changes.subscribe()
    }
}

impl StepWriter for SqliteStore {
    async fn commit(&self, steps: Vec<StepRecord>) -> Result<()> {
        let changed = Changed::of(&steps);
        let encoded = steps
            .into_iter()
            .map(EncodedStep::new)
            .collect::<Result<Vec<_>>>()?;
        let committed = self
            .write_checked(move |conn| {
                if let [step] = &encoded[..] {
                    return write_step(conn, step);
                }
                // Several steps land together: all are checked before the first writes.
                for step in &encoded {
                    check_step(conn, &step.record).map_err(Failure::Refused)?;
                }
                for step in &encoded {
                    write_step(conn, step)
                        .map_err(|(Failure::Refused(e) | Failure::Broken(e))| Failure::Broken(e))?;
                }
                Ok(())
            })
            .await;
        if committed.is_ok() && changed.any() {
            // No subscriber is no error: nobody waits.
            let _ = self.inner.changes.send(changed);
        }
        committed
    }
}

impl DefinitionStore for SqliteStore {
    async fn deploy(&self, id: &str, file: &str, source: &str, now: DateTime<Utc>) -> Result<u32> {
        self.store_next_version(Versioned::Definitions, id, file, source, now)
            .await
    }

    async fn deploy_all(
        &self,
        deployments: Vec<Deployment>,
        now: DateTime<Utc>,
    ) -> Result<Vec<u32>> {
        // One request in its own savepoint: an insert that fails takes the others back with it.
        self.write(move |conn| {
            deployments
                .iter()
                .map(|d| {
                    let kind = match d.kind {
                        DeploymentKind::Definition => Versioned::Definitions,
                        DeploymentKind::Calendar => Versioned::Calendars,
                    };
                    insert_next_version(conn, kind, &d.id, &d.file, &d.source, now)
                })
                .collect()
        })
        .await
    }

    async fn definition(&self, id: &str, version: Option<u32>) -> Result<Option<StoredDefinition>> {
        self.read(|conn| {
            let sql = "SELECT id, version, file, source, deployed_at FROM definitions WHERE id = ?1 AND (?2 IS NULL OR version = ?2) ORDER BY version DESC LIMIT 1";
            conn.prepare_cached(sql)?.query_row(params![id, version], stored_definition).optional()
        })
    }

    async fn definitions(&self) -> Result<Vec<StoredDefinition>> {
        self.latest_versions(Versioned::Definitions)
    }

    async fn versions(&self, id: &str) -> Result<Vec<DeployedVersion>> {
        self.read(|conn| {
            let sql =
                "SELECT version, file, deployed_at FROM definitions WHERE id = ?1 ORDER BY version";
            let row = |row: &rusqlite::Row| {
                Ok(DeployedVersion {
                    version: row.get(0)?,
                    file: row.get(1)?,
                    deployed_at: parse_ts(&row.get::<_, String>(2)?)?,
                })
            };
            conn.prepare_cached(sql)?
                .query_map(params![id], row)?
                .collect()
        })
    }

    async fn latest_version(&self, id: &str) -> Result<Option<u32>> {
        self.read(|conn| {
            conn.prepare_cached("SELECT MAX(version) FROM definitions WHERE id = ?1")?
                .query_row(params![id], |r| r.get(0))
        })
    }
}

/// The tables that keep every deployed version of a source file.
#[derive(Clone, Copy)]
enum Versioned {
    Definitions,
    Calendars,
}

impl Versioned {
    fn table(self) -> &'static str {
        match self {
            Self::Definitions => "definitions",
            Self::Calendars => "calendars",
        }
    }
}

impl SqliteStore {
    /// Stores `source` as the next version of `id` in `kind`'s table; returns the version.
    async fn store_next_version(
        &self,
        kind: Versioned,
        id: &str,
        file: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<u32> {
        let (id, file, source) = (id.to_owned(), file.to_owned(), source.to_owned());
        self.write(move |conn| insert_next_version(conn, kind, &id, &file, &source, now))
            .await
    }

    /// The latest version of every id in `kind`'s table.
    fn latest_versions(&self, kind: Versioned) -> Result<Vec<StoredDefinition>> {
        let table = kind.table();
        self.read(|conn| {
            let sql = format!(
                "SELECT d.id, d.version, d.file, d.source, d.deployed_at FROM {table} d
                 WHERE d.version = (SELECT MAX(version) FROM {table} WHERE id = d.id) ORDER BY d.id"
            );
            conn.prepare_cached(&sql)?
                .query_map([], stored_definition)?
                .collect()
        })
    }
}

/// Inserts `source` as the next version of `id` in `kind`'s table; returns the version.
fn insert_next_version(
    conn: &Connection,
    kind: Versioned,
    id: &str,
    file: &str,
    source: &str,
    now: DateTime<Utc>,
) -> Result<u32> {
    let table = kind.table();
    let version: u32 = conn
        .query_row(
            &format!("SELECT COALESCE(MAX(version), 0) + 1 FROM {table} WHERE id = ?1"),
            [id],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    conn.execute(&format!("INSERT INTO {table} (id, version, file, source, deployed_at) VALUES (?1, ?2, ?3, ?4, ?5)"), params![id, version, file, source, ts(now)])
        .map_err(db_err)?;
    Ok(version)
}

fn stored_definition(row: &rusqlite::Row) -> rusqlite::Result<StoredDefinition> {
    Ok(StoredDefinition {
        id: row.get(0)?,
        version: row.get(1)?,
        file: row.get(2)?,
        source: row.get(3)?,
        deployed_at: parse_ts(&row.get::<_, String>(4)?)?,
    })
}

impl RuntimeStats for SqliteStore {
    async fn expected_runtimes(
        &self,
        process: &str,
    ) -> Result<std::collections::HashMap<String, std::time::Duration>> {
        self.read(|conn| {
            conn.prepare_cached("SELECT task, AVG(duration_ms) FROM task_runtimes WHERE process_id = ?1 GROUP BY task")?
                .query_map([process], |r| Ok((r.get::<_, String>(0)?, std::time::Duration::from_millis(r.get::<_, f64>(1)? as u64))))?
                .collect()
        })
    }
}

impl CalendarStore for SqliteStore {
    async fn deploy_calendar(
        &self,
        id: &str,
        file: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<u32> {
        self.store_next_version(Versioned::Calendars, id, file, source, now)
            .await
    }

    async fn calendars(&self) -> Result<Vec<StoredDefinition>> {
        self.latest_versions(Versioned::Calendars)
    }
}

impl InstanceReader for SqliteStore {
    async fn instance(&self, id: &str) -> Result<Option<Instance>> {
        type Row = (u32, StoredJson, Option<String>, Option<String>);
        let sql = "SELECT state_format, state, case_id, root_id FROM instances WHERE id = ?1";
        let row: Option<Row> = self.read(|conn| {
            conn.prepare_cached(sql)?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional()
        })?;
        let Some((format, state, case, root)) = row else {
            return Ok(None);
        };
        if !(OLDEST_STATE_FORMAT..=STATE_FORMAT).contains(&format) {
            return Err(StoreError::CorruptState {
                instance: id.to_owned(),
                message: format!("state format {format} is not known to this version of Baton"),
            });
        }
        let mut instance: Instance =
            state.decode().map_err(|message| StoreError::CorruptState {
                instance: id.to_owned(),
                message,
            })?;
        if format == 1 {
            instance.upgrade_from_v1(case, root);
        }
        Ok(Some(instance))
    }

    async fn instance_seq(&self, id: &str) -> Result<Option<u64>> {
        self.read(|conn| {
            conn.prepare_cached("SELECT seq FROM instances WHERE id = ?1")?
                .query_row([id], |r| r.get::<_, i64>(0))
                .optional()
        })
        .map(|seq| seq.map(|s| s as u64))
    }

    async fn instance_department(&self, id: &str) -> Result<Option<Option<String>>> {
        self.read(|conn| {
            conn.prepare_cached("SELECT department FROM instances WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()
        })
    }

    async fn list_instances(&self, query: &InstanceQuery) -> Result<Vec<InstanceSummary>> {
        self.read(|conn| {
            let sql = "SELECT id, definition_id, definition_version, status, created_at, ended_at, parent_id, case_id, work_status, link_kind, department FROM instances
                       WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR definition_id = ?2)
                         AND (?3 IS NULL OR created_at >= ?3) AND (?4 IS NULL OR created_at < ?4)
                         AND (?5 IS NULL OR (created_at, id) < (?5, ?6))
                         AND (?8 IS NULL OR case_id = ?8)
                         AND (?9 = 0 OR department IS NULL OR (?9 = 2 AND department = ?10))
                         AND (?11 IS NULL OR substr(id, 1, length(?11)) = ?11)
                       ORDER BY created_at DESC, id DESC LIMIT ?7";
            let after = query.after.as_ref();
            let (scope, department) = query.scope.sql_params();
            let args = params![
                query.status.map(|s| s.name()),
                query.process,
                query.created_after.map(ts),
                query.created_before.map(ts),
                after.map(|c| ts(c.created_at)),
                after.map(|c| c.id.as_str()),
                query.limit as i64,
                query.case,
                scope,
                department,
                query.id_prefix
            ];
            conn.prepare_cached(sql)?
                .query_map(args, |r| {
                    let status: String = r.get(3)?;
                    Ok(InstanceSummary {
                        id: r.get(0)?,
                        definition_id: r.get(1)?,
                        definition_version: r.get(2)?,
                        status: InstanceStatus::parse(&status).unwrap_or(InstanceStatus::Running),
                        created_at: parse_ts(&r.get::<_, String>(4)?)?,
                        ended_at: r.get::<_, Option<String>>(5)?.map(|s| parse_ts(&s)).transpose()?,
                        parent: r.get(6)?,
                        case: r.get::<_, Option<String>>(7)?.unwrap_or_else(|| r.get(0).unwrap_or_default()),
                        work_status: r.get(8)?,
                        link: r.get::<_, Option<String>>(9)?.as_deref().and_then(LinkKind::parse),
                        department: r.get(10)?,
                    })
                })?
                .collect()
        })
    }

    async fn started_by_key(&self, key: &str) -> Result<Option<(String, String)>> {
        self.read(|conn| {
            conn.prepare_cached("SELECT instance_id, fingerprint FROM start_keys WHERE key = ?1")?
                .query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
    }

    async fn open_instances(&self) -> Result<Vec<String>> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT id FROM instances WHERE status IN ('running', 'waiting', 'blocked')",
            )?
            .query_map([], |r| r.get(0))?
            .collect()
        })
    }

    async fn open_counts(&self) -> Result<OpenCounts> {
        self.read(|conn| {
            let mut counts = OpenCounts::default();
            let sql = "SELECT status, COUNT(*) FROM instances WHERE status IN ('running', 'waiting', 'blocked') GROUP BY status";
            for row in conn.prepare_cached(sql)?.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize)))? {
                let (status, n) = row?;
                match status.as_str() {
                    "running" => counts.running = n,
                    "waiting" => counts.waiting = n,
                    _ => counts.blocked = n,
                }
            }
            Ok(counts)
        })
    }

    async fn children(&self, parent: &str) -> Result<Vec<String>> {
        self.read(|conn| {
            conn.prepare_cached("SELECT id FROM instances WHERE parent_id = ?1 ORDER BY id")?
                .query_map([parent], |r| r.get(0))?
                .collect()
        })
    }

    async fn history(&self, id: &str) -> Result<Vec<Event>> {
        self.history_page(id, 0, usize::MAX).await
    }

    async fn history_page(&self, id: &str, after_seq: u64, limit: usize) -> Result<Vec<Event>> {
        // Each row holds the events of one step, from `first_seq` on: start at the row holding
        // the first event wanted, and read rows only until the page is full.
        let sql = "SELECT events FROM history WHERE instance_key = (SELECT key FROM instances WHERE id = ?1)
                   AND first_seq >= COALESCE((SELECT MAX(first_seq) FROM history
                       WHERE instance_key = (SELECT key FROM instances WHERE id = ?1) AND first_seq <= ?2), 0)
                   ORDER BY first_seq";
        let want = after_seq.saturating_add(1) as i64;
        let mut events = Vec::new();
        let rows: Vec<StoredJson> = self.read(|conn| {
            let mut statement = conn.prepare_cached(sql)?;
            let mut rows = statement.query(params![id, want])?;
            let mut out = Vec::new();
            let mut counted = 0usize;
            while let Some(row) = rows.next()? {
                let json: StoredJson = row.get(0)?;
                // A step holds at least one event: stop once the rows read hold enough.
                counted += 1;
                out.push(json);
                if counted > limit {
                    break;
                }
            }
            Ok(out)
        })?;
        for row in &rows {
            let step: Vec<Event> = row.decode().map_err(|message| StoreError::CorruptState {
                instance: id.to_owned(),
                message,
            })?;
            events.extend(step.into_iter().filter(|e| e.seq > after_seq));
            if events.len() >= limit {
                events.truncate(limit);
                break;
            }
        }
        Ok(events)
    }
}

impl JobQueue for SqliteStore {
    async fn claim_jobs_in(
        &self,
        owner: &str,
        scope: WorkScope<'_>,
        limit: usize,
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedJob>> {
        let owner = owner.to_owned();
        let (instance, case) = (
            scope.instance().map(str::to_owned),
            scope.case().map(str::to_owned),
        );
        let lease_until = baton_core::timestamp::after(now, lease);
        self.write(move |conn| {
            // One UPDATE … RETURNING in the single writer: no job can be leased twice.
            let sql = "UPDATE jobs SET owner = ?1, lease_until = ?2, lease = lease + 1
                       WHERE (instance_id, task) IN (SELECT instance_id, task FROM jobs WHERE owner IS NULL AND topic IS NULL
                           AND (?4 IS NULL OR instance_id = ?4) AND (?5 IS NULL OR instance_id IN (SELECT id FROM instances WHERE case_id = ?5))
                           ORDER BY queued_at LIMIT ?3)
                       RETURNING request, lease";
            let rows: Vec<(String, i64)> = conn
                .prepare_cached(sql)
                .and_then(|mut s| s.query_map(params![owner, ts(lease_until), limit as i64, instance, case], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
                .map_err(db_err)?;
            claimed_jobs(rows, lease_until)
        })
        .await
    }

    async fn renew_leases(
        &self,
        owner: &str,
        jobs: &[JobKey],
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<JobKey>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let owner = owner.to_owned();
        let keys = serde_json::to_string(
            &jobs
                .iter()
                .map(|j| (&j.instance, &j.task, j.attempt))
                .collect::<Vec<_>>(),
        )
        .map_err(other_err)?;
        self.write(move |conn| {
            let sql = "UPDATE jobs SET lease_until = ?2
                       WHERE (instance_id, task, attempt) IN (SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?3)) AND owner = ?1 AND lease_until > ?4
                       RETURNING instance_id, task, attempt";
            conn.prepare_cached(sql)
                .and_then(|mut s| s.query_map(params![owner, ts(until), keys, ts(now)], job_key_row)?.collect())
                .map_err(db_err)
        })
        .await
    }

    async fn take_over_expired(
        &self,
        owner: &str,
        limit: usize,
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<ExpiredLease>> {
        let owner = owner.to_owned();
        let lease_until = baton_core::timestamp::after(now, lease);
        self.write(move |conn| {
            // Read and taken in one request of the single writer: no lease is taken twice.
            let expired: Vec<(JobKey, String, bool)> = conn
                .prepare_cached("SELECT instance_id, task, attempt, owner, topic IS NOT NULL FROM jobs WHERE owner IS NOT NULL AND lease_until <= ?1 ORDER BY lease_until LIMIT ?2")
                .and_then(|mut s| s.query_map(params![ts(now), limit as i64], |r| Ok((job_key_row(r)?, r.get(3)?, r.get(4)?)))?.collect())
                .map_err(db_err)?;
            let mut take = conn
                .prepare_cached("UPDATE jobs SET owner = ?4, lease_until = ?5, lease = lease + 1 WHERE instance_id = ?1 AND task = ?2 AND attempt = ?3 RETURNING lease")
                .map_err(db_err)?;
            expired
                .into_iter()
                .map(|(job, previous_owner, external)| {
                    let lease: i64 = take.query_row(params![job.instance, job.task, job.attempt, owner, ts(lease_until)], |r| r.get(0)).map_err(db_err)?;
                    Ok(ExpiredLease { job, previous_owner, external, lease: lease as u64 })
                })
                .collect()
        })
        .await
    }

    async fn end_leases_of_others(&self, owner: &str, now: DateTime<Utc>) -> Result<usize> {
        let owner = owner.to_owned();
        self.write(move |conn| {
            let jobs = conn
                .prepare_cached("UPDATE jobs SET lease_until = ?2 WHERE owner IS NOT NULL AND owner <> ?1 AND topic IS NULL AND lease_until > ?2")
                .and_then(|mut s| s.execute(params![owner, ts(now)]))
                .map_err(db_err)?;
            let timers = conn
                .prepare_cached("UPDATE timers SET lease_until = ?2 WHERE owner IS NOT NULL AND owner <> ?1 AND lease_until > ?2")
                .and_then(|mut s| s.execute(params![owner, ts(now)]))
                .map_err(db_err)?;
            Ok(jobs + timers)
        })
        .await
    }

    async fn leased_jobs(&self) -> Result<Vec<JobKey>> {
        self.read(|conn| {
            conn.prepare_cached("SELECT instance_id, task, attempt FROM jobs WHERE owner IS NOT NULL AND topic IS NULL")?
                .query_map([], |r| Ok(JobKey { instance: r.get(0)?, task: r.get(1)?, attempt: r.get(2)? }))?
                .collect()
        })
    }

    async fn queued_jobs(&self) -> Result<usize> {
        self.read(|conn| {
            conn.query_row(
                "SELECT COUNT(*) FROM jobs WHERE owner IS NULL AND topic IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as usize)
        })
    }

    async fn record_job_process(&self, job: &JobKey, process: &JobProcess) -> Result<()> {
        let (job, process) = (job.clone(), process.clone());
        self.write(move |conn| {
            conn.prepare_cached("INSERT OR REPLACE INTO job_processes (instance_id, task, attempt, pid, pgid, identity) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .and_then(|mut s| s.execute(params![job.instance, job.task, job.attempt, process.pid, process.pgid, process.identity]))
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn forget_job_process(&self, job: &JobKey) -> Result<()> {
        let job = job.clone();
        self.write(move |conn| {
            conn.prepare_cached(
                "DELETE FROM job_processes WHERE instance_id = ?1 AND task = ?2 AND attempt = ?3",
            )
            .and_then(|mut s| s.execute(params![job.instance, job.task, job.attempt]))
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn job_processes(&self) -> Result<Vec<(JobKey, JobProcess)>> {
        self.read(|conn| {
            conn.prepare_cached("SELECT instance_id, task, attempt, pid, pgid, identity FROM job_processes ORDER BY instance_id, task, attempt")?
                .query_map([], |r| {
                    Ok((JobKey { instance: r.get(0)?, task: r.get(1)?, attempt: r.get(2)? }, JobProcess { pid: r.get(3)?, pgid: r.get(4)?, identity: r.get(5)? }))
                })?
                .collect()
        })
    }
}

impl TimerQueue for SqliteStore {
    async fn due_timers(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Timer>> {
        self.read(|conn| {
            conn.prepare_cached("SELECT instance_id, key, due_at, payload FROM timers WHERE due_at <= ?1 ORDER BY due_at LIMIT ?2")?
                .query_map(params![ts(now), limit as i64], timer_row)?
                .collect()
        })
    }

    async fn due_timers_of(
        &self,
        instance: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Timer>> {
        self.read(|conn| {
            conn.prepare_cached("SELECT instance_id, key, due_at, payload FROM timers WHERE instance_id = ?1 AND due_at <= ?2 ORDER BY due_at LIMIT ?3")?
                .query_map(params![instance, ts(now), limit as i64], timer_row)?
                .collect()
        })
    }

    async fn next_timer_due_in(&self, scope: WorkScope<'_>) -> Result<Option<DateTime<Utc>>> {
        let sql = "SELECT MIN(due_at) FROM timers WHERE (?1 IS NULL OR instance_id = ?1) AND (?2 IS NULL OR instance_id IN (SELECT id FROM instances WHERE case_id = ?2))";
        self.read(|conn| {
            conn.prepare_cached(sql)?
                .query_row(params![scope.instance(), scope.case()], |r| {
                    r.get::<_, Option<String>>(0)
                })?
                .map(|s| parse_ts(&s))
                .transpose()
        })
    }

    async fn claim_timers(
        &self,
        owner: &str,
        scope: WorkScope<'_>,
        limit: usize,
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedTimer>> {
        let (owner, instance, case) = (
            owner.to_owned(),
            scope.instance().map(str::to_owned),
            scope.case().map(str::to_owned),
        );
        let lease_until = baton_core::timestamp::after(now, lease);
        // Looked at first on the reader: a driver asks often, and mostly nothing is due, which
        // need not wait for the writer.
        let any = "SELECT 1 FROM timers WHERE due_at <= ?1 AND (?2 IS NULL OR instance_id = ?2) AND (owner IS NULL OR lease_until <= ?1)
                   AND (?3 IS NULL OR instance_id IN (SELECT id FROM instances WHERE case_id = ?3)) LIMIT 1";
        if !self.read(|conn| {
            conn.prepare_cached(any)?
                .exists(params![ts(now), instance, case])
        })? {
            return Ok(Vec::new());
        }
        self.write(move |conn| {
            let sql = "UPDATE timers SET owner = ?1, lease_until = ?2, lease = lease + 1
                       WHERE (instance_id, key) IN (SELECT instance_id, key FROM timers
                           WHERE due_at <= ?3 AND (?5 IS NULL OR instance_id = ?5) AND (owner IS NULL OR lease_until <= ?3)
                               AND (?6 IS NULL OR instance_id IN (SELECT id FROM instances WHERE case_id = ?6)) ORDER BY due_at LIMIT ?4)
                       RETURNING instance_id, key, due_at, payload, lease";
            let mut claimed: Vec<ClaimedTimer> = conn
                .prepare_cached(sql)
                .and_then(|mut s| {
                    s.query_map(params![owner, ts(lease_until), ts(now), limit as i64, instance, case], |r| Ok(ClaimedTimer { timer: timer_row(r)?, lease: r.get::<_, i64>(4)? as u64 }))?
                        .collect()
                })
                .map_err(db_err)?;
            // RETURNING gives no order: earliest first, as a driver fires them.
            claimed.sort_by(|a, b| (a.timer.due_at, &a.timer.instance, &a.timer.key).cmp(&(b.timer.due_at, &b.timer.instance, &b.timer.key)));
            Ok(claimed)
        })
        .await
    }
}

/// A row starting with `instance_id, task, attempt` as a job key.
fn job_key_row(r: &rusqlite::Row) -> rusqlite::Result<JobKey> {
    Ok(JobKey {
        instance: r.get(0)?,
        task: r.get(1)?,
        attempt: r.get(2)?,
    })
}

/// Rows of `request, lease` as the jobs a claim leased until `lease_until`.
pub(crate) fn claimed_jobs(
    rows: Vec<(String, i64)>,
    lease_until: DateTime<Utc>,
) -> Result<Vec<ClaimedJob>> {
    rows.iter()
        .map(|(r, lease)| {
            serde_json::from_str::<JobRequest>(r)
                .map(|request| ClaimedJob {
                    request,
                    lease_until,
                    lease: *lease as u64,
                })
                .map_err(other_err)
        })
        .collect()
}

/// A row of `instance_id, key, due_at, payload` as a timer.
fn timer_row(r: &rusqlite::Row) -> rusqlite::Result<Timer> {
    let payload: String = r.get(3)?;
    Ok(Timer {
        instance: r.get(0)?,
        key: r.get(1)?,
        due_at: parse_ts(&r.get::<_, String>(2)?)?,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
    })
}

mod identity;
