//! Baton's store on PostgreSQL, for several engine nodes sharing one database.
//!
//! PostgreSQL is the coordination point; the nodes share nothing else. Each commit of engine
//! steps is one transaction: an instance's update names the `seq` it was computed from (the
//! optimistic check: a lost race is a [`StoreError::Conflict`] the engine retries), and a
//! step fenced by a lease locks the leased row and checks its owner, lease number and expiry
//! in the same transaction. Jobs and timers are claimed with `FOR UPDATE SKIP LOCKED`, so
//! racing nodes never wait on each other and never take the same row. Commits are announced
//! with `NOTIFY` on one channel; every store listens on it and tells its subscribers (see
//! [`ChangeNotifier`]), so a node wakes for work another node queued.
//!
//! The schema is migrated on connect by the embedded migrations (`migrations/`); a database
//! that a newer Baton migrated is refused, naming the migration this Baton does not know.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Row};
use tokio::sync::broadcast;

use baton_core::instance::{LinkKind, OLDEST_STATE_FORMAT, STATE_FORMAT};
use baton_core::{Event, Instance, InstanceStatus};
use baton_store::{
    BackendKind, CalendarStore, ChangeNotifier, Changed, DefinitionStore, DeployedVersion,
    Deployment, DeploymentKind, InstanceQuery, InstanceReader, InstanceSummary, OpenCounts, Result,
    RuntimeStats, StepRecord, StepWriter, StoreError, StoredDefinition,
};

mod correlation;
mod document;
mod identity;
mod inbox;
mod interactive;
mod queue;
mod records;
mod schedule;
mod step;
#[cfg(feature = "testkit")]
pub mod testkit;

/// The channel commits are announced on.
const CHANNEL: &str = "baton_changes";

/// How many change notifications a subscriber may fall behind by before it is told it lagged.
const CHANGE_BACKLOG: usize = 256;

/// The embedded schema migrations.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Settings of the connection pool.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Most connections this store holds open.
    pub max_connections: u32,
    /// How long a request waits for a free connection before it fails as unavailable.
    pub acquire_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// A handle to the PostgreSQL store; cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    changes: broadcast::Sender<Changed>,
    schema: Schema,
}

/// Where the schema stood when the store connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schema {
    /// How many migrations this connect applied (0: the schema was up to date).
    pub applied: usize,
    /// The version of the newest migration the database holds now.
    pub version: i64,
}

/// A PostgreSQL error as a store error, the one place this store classifies them: a
/// serialization failure (40001), a deadlock (40P01) or a unique violation (23505: a
/// concurrent writer took the same key first) is a [`StoreError::Conflict`], the transaction
/// lost a race and, retried, may win; a lost or refused connection is unavailable; a full disk
/// or a read-only server needs an operator. A caller for whom a taken key means something to
/// its user (a user or group name that exists) looks at the error before it comes here.
pub fn db_err(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    let kind = match &e {
        E::Database(db) => match db.code().as_deref() {
            Some(code @ ("40001" | "40P01" | "23505")) => {
                let race = match code {
                    "40001" => "a transaction it raced was serialized first",
                    "40P01" => "it deadlocked with another transaction",
                    _ => "a concurrent write took the same key",
                };
                return StoreError::Conflict(format!("{race}: {}", db.message()));
            }
            Some(code) if code.starts_with("08") || code.starts_with("57") || code == "53300" => {
                BackendKind::Unavailable
            }
            Some("53100" | "25006" | "42501") => BackendKind::Storage,
            _ => BackendKind::Internal,
        },
        E::Io(_)
        | E::PoolTimedOut
        | E::PoolClosed
        | E::WorkerCrashed
        | E::Tls(_)
        | E::Protocol(_) => BackendKind::Unavailable,
        E::Configuration(_) => BackendKind::Storage,
        _ => BackendKind::Internal,
    };
    StoreError::backend(kind, format!("PostgreSQL: {e}"))
}

/// An error from outside PostgreSQL (JSON encoding).
pub(crate) fn other_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::internal(e.to_string())
}

impl PgStore {
    /// Whether `url` is a PostgreSQL URL this store can connect with; if not, why.
    pub fn check_url(url: &str) -> std::result::Result<(), String> {
        url.parse::<PgConnectOptions>()
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Connects to the database at `url` (`postgres://…`) and brings its schema up to date.
    pub async fn connect(url: &str, options: PgOptions) -> Result<Self> {
        let connect: PgConnectOptions = url.parse().map_err(|e| {
            StoreError::backend(
                BackendKind::Storage,
                format!("the PostgreSQL URL is not valid: {e}"),
            )
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(db_err)?;
        let schema = migrate(&pool).await?;
        let changes = broadcast::channel(CHANGE_BACKLOG).0;
        let listener = Self::listen(&pool, changes.clone()).await?;
        tokio::spawn(listener);
        Ok(Self {
            pool,
            changes,
            schema,
        })
    }

    /// Where the schema stood when this store connected: how many migrations it applied.
    pub fn schema(&self) -> Schema {
        self.schema
    }

    /// The pool, for tests and tools that look at the tables.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Listens for the commits of every node and passes them to this store's subscribers, for
    /// as long as the runtime runs. A lost connection is taken up again by the listener;
    /// notifications sent meanwhile are lost, so subscribers are told everything changed.
    async fn listen(
        pool: &PgPool,
        changes: broadcast::Sender<Changed>,
    ) -> Result<impl std::future::Future<Output = ()> + Send + 'static> {
        let mut listener = sqlx::postgres::PgListener::connect_with(pool)
            .await
            .map_err(db_err)?;
        listener.listen(CHANNEL).await.map_err(db_err)?;
        Ok(async move {
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => {
                        let _ = changes.send(decode_changed(notification.payload()));
                    }
                    // The connection was lost and is taken up again on the next call.
                    Ok(None) => {
                        let _ = changes.send(Changed::ALL);
                    }
                    Err(e) => {
                        tracing::warn!("listening for the commits of other nodes failed: {e}");
                        let _ = changes.send(Changed::ALL);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        })
    }

    /// Announces a commit's changes to every node, inside its transaction (so it is sent only
    /// if the commit lands).
    pub(crate) async fn notify(conn: &mut PgConnection, changed: Changed) -> Result<()> {
        if changed.any() {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(encode_changed(changed))
                .execute(conn)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }
}

fn encode_changed(c: Changed) -> String {
    [
        (c.instances, 'i'),
        (c.jobs, 'j'),
        (c.external_jobs, 'e'),
        (c.timers, 't'),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, l)| *l)
    .collect()
}

fn decode_changed(payload: &str) -> Changed {
    Changed {
        instances: payload.contains('i'),
        jobs: payload.contains('j'),
        external_jobs: payload.contains('e'),
        timers: payload.contains('t'),
    }
}

/// The migrations the database has applied, oldest first (none in a new database).
async fn applied_migrations(pool: &PgPool) -> Result<Vec<i64>> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await
        .map_err(db_err)?;
    if !exists {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(pool)
        .await
        .map_err(db_err)
}

/// Runs the embedded migrations; a database with a migration this Baton does not have (a newer
/// Baton's) is refused before anything changes. Says where the schema stands after.
async fn migrate(pool: &PgPool) -> Result<Schema> {
    use sqlx::migrate::MigrateError;
    let before = applied_migrations(pool).await?.len();
    MIGRATOR.run(pool).await.map_err(|e| match e {
        MigrateError::VersionMissing(version) => StoreError::backend(
            BackendKind::Incompatible,
            format!("migrating the schema: the database was migrated by a newer Baton (migration {version} is unknown to this one); use that Baton or a newer one"),
        ),
        MigrateError::VersionMismatch(version) => {
            StoreError::backend(BackendKind::Incompatible, format!("migrating the schema: migration {version} in the database differs from this Baton's"))
        }
        MigrateError::Execute(e) => db_err(e),
        other => StoreError::backend(BackendKind::Incompatible, format!("migrating the schema: {other}")),
    })?;
    let after = applied_migrations(pool).await?;
    Ok(Schema {
        applied: after.len().saturating_sub(before),
        version: after.last().copied().unwrap_or(0),
    })
}

impl ChangeNotifier for PgStore {
    fn subscribe_changes(&self) -> broadcast::Receiver<Changed> {
        self.changes.subscribe()
    }
}

impl StepWriter for PgStore {
    async fn commit(&self, steps: Vec<StepRecord>) -> Result<()> {
        let changed = Changed::of(&steps);
        let encoded = steps
            .into_iter()
            .map(step::EncodedStep::new)
            .collect::<Result<Vec<_>>>()?;
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        for step in &encoded {
            step::write_step(&mut tx, step).await?;
        }
        Self::notify(&mut tx, changed).await?;
        tx.commit().await.map_err(db_err)
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

/// Inserts `source` as the next version of `id` in `kind`'s table; returns the version. The
/// row lock of an `INSERT … SELECT MAX` does not keep two racing deploys from taking the same
/// number, so the primary key does: the loser's insert fails and it takes the next one.
async fn insert_next_version(
    conn: &mut PgConnection,
    kind: Versioned,
    id: &str,
    file: &str,
    source: &str,
    now: DateTime<Utc>,
) -> Result<u32> {
    let table = kind.table();
    // Serializes deploys of one id (a transaction-scoped lock on its hash), so versions are consecutive.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("{table}/{id}"))
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    let version: i32 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM {table} WHERE id = $1"
    )))
    .bind(id)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {table} (id, version, file, source, deployed_at) VALUES ($1, $2, $3, $4, $5)"
    )))
    .bind(id)
    .bind(version)
    .bind(file)
    .bind(source)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(version as u32)
}

fn stored_definition(row: &sqlx::postgres::PgRow) -> sqlx::Result<StoredDefinition> {
    Ok(StoredDefinition {
        id: row.try_get(0)?,
        version: row.try_get::<i32, _>(1)? as u32,
        file: row.try_get(2)?,
        source: row.try_get(3)?,
        deployed_at: row.try_get(4)?,
    })
}

impl PgStore {
    async fn store_next_version(
        &self,
        kind: Versioned,
        id: &str,
        file: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<u32> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let version = insert_next_version(&mut tx, kind, id, file, source, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(version)
    }

    async fn latest_versions(&self, kind: Versioned) -> Result<Vec<StoredDefinition>> {
        let table = kind.table();
        let sql = format!("SELECT DISTINCT ON (id) id, version, file, source, deployed_at FROM {table} ORDER BY id, version DESC");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(stored_definition)
            .collect::<sqlx::Result<_>>()
            .map_err(db_err)
    }
}

impl DefinitionStore for PgStore {
    async fn deploy(&self, id: &str, file: &str, source: &str, now: DateTime<Utc>) -> Result<u32> {
        self.store_next_version(Versioned::Definitions, id, file, source, now)
            .await
    }

    async fn deploy_all(
        &self,
        deployments: Vec<Deployment>,
        now: DateTime<Utc>,
    ) -> Result<Vec<u32>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let mut versions = Vec::with_capacity(deployments.len());
        for d in &deployments {
            let kind = match d.kind {
                DeploymentKind::Definition => Versioned::Definitions,
                DeploymentKind::Calendar => Versioned::Calendars,
            };
            versions
                .push(insert_next_version(&mut tx, kind, &d.id, &d.file, &d.source, now).await?);
        }
        tx.commit().await.map_err(db_err)?;
        Ok(versions)
    }

    async fn definition(&self, id: &str, version: Option<u32>) -> Result<Option<StoredDefinition>> {
        let sql = "SELECT id, version, file, source, deployed_at FROM definitions WHERE id = $1 AND ($2::INTEGER IS NULL OR version = $2) ORDER BY version DESC LIMIT 1";
        let row = sqlx::query(sql)
            .bind(id)
            .bind(version.map(|v| v as i32))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref()
            .map(stored_definition)
            .transpose()
            .map_err(db_err)
    }

    async fn definitions(&self) -> Result<Vec<StoredDefinition>> {
        self.latest_versions(Versioned::Definitions).await
    }

    async fn versions(&self, id: &str) -> Result<Vec<DeployedVersion>> {
        let rows: Vec<(i32, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT version, file, deployed_at FROM definitions WHERE id = $1 ORDER BY version",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(version, file, deployed_at)| DeployedVersion {
                version: version as u32,
                file,
                deployed_at,
            })
            .collect())
    }

    async fn latest_version(&self, id: &str) -> Result<Option<u32>> {
        let version: Option<i32> =
            sqlx::query_scalar("SELECT MAX(version) FROM definitions WHERE id = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(version.map(|v| v as u32))
    }
}

impl CalendarStore for PgStore {
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
        self.latest_versions(Versioned::Calendars).await
    }
}

impl RuntimeStats for PgStore {
    async fn expected_runtimes(
        &self,
        process: &str,
    ) -> Result<std::collections::HashMap<String, Duration>> {
        let rows: Vec<(String, f64)> = sqlx::query_as("SELECT task, AVG(duration_ms)::FLOAT8 FROM task_runtimes WHERE process_id = $1 GROUP BY task")
            .bind(process)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(task, ms)| (task, Duration::from_millis(ms as u64)))
            .collect())
    }
}

/// An instance summary from `id, definition_id, definition_version, status, created_at,
/// ended_at, parent_id, case_id, work_status, link_kind`.
fn summary(r: &sqlx::postgres::PgRow) -> sqlx::Result<InstanceSummary> {
    let status: String = r.try_get(3)?;
    Ok(InstanceSummary {
        id: r.try_get(0)?,
        definition_id: r.try_get(1)?,
        definition_version: r.try_get::<i32, _>(2)? as u32,
        status: InstanceStatus::parse(&status).unwrap_or(InstanceStatus::Running),
        created_at: r.try_get(4)?,
        ended_at: r.try_get(5)?,
        parent: r.try_get(6)?,
        case: r.try_get(7)?,
        work_status: r.try_get(8)?,
        link: r
            .try_get::<Option<String>, _>(9)?
            .as_deref()
            .and_then(LinkKind::parse),
        department: r.try_get(10)?,
    })
}

impl InstanceReader for PgStore {
    async fn instance(&self, id: &str) -> Result<Option<Instance>> {
        let row: Option<(i32, String)> =
            sqlx::query_as("SELECT state_format, state FROM instances WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        let Some((format, state)) = row else {
            return Ok(None);
        };
        let format = format as u32;
        // Only formats from the one this store was born with on: it never held older ones.
        if !(OLDEST_STATE_FORMAT.max(STATE_FORMAT)..=STATE_FORMAT).contains(&format) {
            return Err(StoreError::CorruptState {
                instance: id.to_owned(),
                message: format!("state format {format} is not known to this version of Baton"),
            });
        }
        serde_json::from_str(&state)
            .map(Some)
            .map_err(|e| StoreError::CorruptState {
                instance: id.to_owned(),
                message: e.to_string(),
            })
    }

    async fn instance_department(&self, id: &str) -> Result<Option<Option<String>>> {
        sqlx::query_scalar("SELECT department FROM instances WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn instance_seq(&self, id: &str) -> Result<Option<u64>> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM instances WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(seq.map(|s| s as u64))
    }

    async fn list_instances(&self, query: &InstanceQuery) -> Result<Vec<InstanceSummary>> {
        let sql = "SELECT id, definition_id, definition_version, status, created_at, ended_at, parent_id, case_id, work_status, link_kind, department FROM instances
                   WHERE ($1::TEXT IS NULL OR status = $1) AND ($2::TEXT IS NULL OR definition_id = $2)
                     AND ($3::TIMESTAMPTZ IS NULL OR created_at >= $3) AND ($4::TIMESTAMPTZ IS NULL OR created_at < $4)
                     AND ($5::TIMESTAMPTZ IS NULL OR (created_at, id) < ($5, $6::TEXT))
                     AND ($8::TEXT IS NULL OR case_id = $8)
                     AND ($9 = 0 OR department IS NULL OR ($9 = 2 AND department = $10::TEXT))
                     AND ($11::TEXT IS NULL OR left(id, length($11)) = $11)
                   ORDER BY created_at DESC, id DESC LIMIT $7";
        let after = query.after.as_ref();
        let (scope, department) = query.scope.sql_params();
        let rows = sqlx::query(sql)
            .bind(query.status.map(|s| s.name()))
            .bind(query.process.as_deref())
            .bind(query.created_after)
            .bind(query.created_before)
            .bind(after.map(|c| c.created_at))
            .bind(after.map(|c| c.id.as_str()))
            .bind(query.limit.min(i64::MAX as usize) as i64)
            .bind(query.case.as_deref())
            .bind(scope)
            .bind(department)
            .bind(query.id_prefix.as_deref())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(summary)
            .collect::<sqlx::Result<_>>()
            .map_err(db_err)
    }

    async fn started_by_key(&self, key: &str) -> Result<Option<(String, String)>> {
        sqlx::query_as("SELECT instance_id, fingerprint FROM start_keys WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn open_instances(&self) -> Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT id FROM instances WHERE status IN ('running', 'waiting', 'blocked')",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)
    }

    async fn open_counts(&self) -> Result<OpenCounts> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT status, COUNT(*) FROM instances WHERE status IN ('running', 'waiting', 'blocked') GROUP BY status")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut counts = OpenCounts::default();
        for (status, n) in rows {
            match status.as_str() {
                "running" => counts.running = n as usize,
                "waiting" => counts.waiting = n as usize,
                _ => counts.blocked = n as usize,
            }
        }
        Ok(counts)
    }

    async fn children(&self, parent: &str) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT id FROM instances WHERE parent_id = $1 ORDER BY id")
            .bind(parent)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn history(&self, id: &str) -> Result<Vec<Event>> {
        self.history_page(id, 0, usize::MAX).await
    }

    async fn history_page(&self, id: &str, after_seq: u64, limit: usize) -> Result<Vec<Event>> {
        // Each row holds the events of one step, from `first_seq` on: start at the row holding
        // the first event wanted; a step holds at least one event, so `limit + 1` rows suffice.
        let sql = "SELECT events FROM history WHERE instance_id = $1
                   AND first_seq >= COALESCE((SELECT MAX(first_seq) FROM history WHERE instance_id = $1 AND first_seq <= $2), 0)
                   ORDER BY first_seq LIMIT $3";
        let want = after_seq.saturating_add(1).min(i64::MAX as u64) as i64;
        let rows: Vec<String> = sqlx::query_scalar(sql)
            .bind(id)
            .bind(want)
            .bind(limit.saturating_add(1).min(i64::MAX as usize) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut events = Vec::new();
        for row in &rows {
            let step: Vec<Event> =
                serde_json::from_str(row).map_err(|e| StoreError::CorruptState {
                    instance: id.to_owned(),
                    message: e.to_string(),
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
