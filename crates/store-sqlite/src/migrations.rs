//! Embedded, timestamped schema migrations. A released migration is never edited; the
//! migrator records how many ran (`user_version`) and refuses a database newer than itself.

use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};

use baton_store::{BackendKind, StoreError};

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../migrations/20261125_0001_initial.sql")),
    M::up(include_str!("../migrations/20261125_0002_automic.sql")),
    M::up(include_str!("../migrations/20261125_0003_identity.sql")),
    M::up(include_str!("../migrations/20261126_0004_inbox.sql")),
    M::up(include_str!("../migrations/20261126_0005_step_layout.sql")),
    M::up(include_str!(
        "../migrations/20261127_0006_job_processes.sql"
    )),
    M::up(include_str!("../migrations/20261201_0007_incidents.sql")),
    M::up(include_str!("../migrations/20261201_0008_operator.sql")),
    M::up(include_str!("../migrations/20261202_0009_tokens.sql")),
    M::up(include_str!(
        "../migrations/20261202_0010_foreach_snapshots.sql"
    )),
    M::up(include_str!(
        "../migrations/20261202_0011_external_jobs.sql"
    )),
    M::up(include_str!(
        "../migrations/20261202_0012_listing_and_start_keys.sql"
    )),
    M::up(include_str!("../migrations/20261203_0013_hierarchy.sql")),
    M::up(include_str!("../migrations/20261204_0014_link_kind.sql")),
    M::up(include_str!("../migrations/20261205_0015_documents.sql")),
    M::up(include_str!(
        "../migrations/20261206_0017_event_correlation.sql"
    )),
    M::up(include_str!("../migrations/20261207_0019_sessions.sql")),
    // Applied after 0019, which databases already ran: migrations run by their place here.
    M::up(include_str!("../migrations/20261207_0018_departments.sql")),
    M::up(include_str!("../migrations/20261207_0020_leases.sql")),
    M::up(include_str!("../migrations/20261208_0021_schedules.sql")),
    M::up(include_str!("../migrations/20261208_0023_passwords.sql")),
    M::up(include_str!(
        "../migrations/20261209_0024_session_nodes.sql"
    )),
];

pub(crate) fn run(conn: &mut Connection) -> Result<(), StoreError> {
    Migrations::from_slice(MIGRATIONS)
        .to_latest(conn)
        .map_err(|e| {
            let kind = match e {
                // The database was migrated by a newer Baton, or holds a schema this one cannot read.
                rusqlite_migration::Error::MigrationDefinition(_)
                | rusqlite_migration::Error::InvalidUserVersion => BackendKind::Incompatible,
                rusqlite_migration::Error::RusqliteError { ref err, .. } => crate::db_kind(err),
                _ => BackendKind::Internal,
            };
            StoreError::backend(kind, format!("migrating the schema: {e}"))
        })
}
