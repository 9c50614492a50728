//! Incidents on SQLite: written with the step that raises or closes them, read by id, by
//! instance, and open ones across instances (a partial index keeps that query off closed ones).

use rusqlite::{params, Connection, OptionalExtension};

use baton_store::{
    DepartmentScope, Incident, IncidentKind, IncidentReader, IncidentUpdate, NewIncident, Result,
};

use crate::writer::Failure;
use crate::{db_err, parse_ts, ts, SqliteStore};

pub(crate) fn write_incidents(
    conn: &Connection,
    raise: &[NewIncident],
    updates: &[IncidentUpdate],
) -> std::result::Result<(), Failure> {
    for incident in raise {
        let command = incident.command.as_ref().map(serde_json::Value::to_string);
        conn.prepare_cached("INSERT INTO incidents (instance_id, task, kind, reason, command, attempts, raised_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .and_then(|mut s| {
                s.execute(params![incident.instance, incident.task, incident.kind.name(), incident.reason, command, incident.attempts, ts(incident.at)])
            })
            .map_err(db_err)?;
    }
    for update in updates {
        match update {
            IncidentUpdate::Close { id, by, resolution, at } => conn
                .prepare_cached("UPDATE incidents SET resolved_at = ?2, resolved_by = ?3, resolution = ?4 WHERE id = ?1 AND resolved_at IS NULL")
                .and_then(|mut s| s.execute(params![id, ts(*at), by, resolution])),
            IncidentUpdate::Failed { id, reason, attempts } => conn
                .prepare_cached("UPDATE incidents SET attempts = attempts + ?3, reason = ?2 WHERE id = ?1 AND resolved_at IS NULL")
                .and_then(|mut s| s.execute(params![id, reason, attempts])),
        }
        .map_err(db_err)?;
    }
    Ok(())
}

const COLUMNS: &str = "id, instance_id, task, kind, reason, command, attempts, raised_at, resolved_at, resolved_by, resolution";

fn incident(row: &rusqlite::Row) -> rusqlite::Result<Incident> {
    let kind: String = row.get(3)?;
    let command: Option<String> = row.get(5)?;
    let resolved_at: Option<String> = row.get(8)?;
    let bad = |e: Box<dyn std::error::Error + Send + Sync>| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e)
    };
    Ok(Incident {
        id: row.get(0)?,
        instance: row.get(1)?,
        task: row.get(2)?,
        kind: IncidentKind::parse(&kind)
            .ok_or_else(|| bad(format!("unknown incident kind {kind}").into()))?,
        reason: row.get(4)?,
        command: command
            .map(|c| serde_json::from_str(&c))
            .transpose()
            .map_err(|e| bad(Box::new(e)))?,
        attempts: row.get(6)?,
        raised_at: parse_ts(&row.get::<_, String>(7)?)?,
        resolved_at: resolved_at.as_deref().map(parse_ts).transpose()?,
        resolved_by: row.get(9)?,
        resolution: row.get(10)?,
    })
}

impl IncidentReader for SqliteStore {
    async fn incident(&self, id: i64) -> Result<Option<Incident>> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1"))?
                .query_row([id], incident)
                .optional()
        })
    }

    async fn incidents(&self, instance: &str) -> Result<Vec<Incident>> {
        self.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM incidents WHERE instance_id = ?1 ORDER BY id"
            ))?
            .query_map([instance], incident)?
            .collect()
        })
    }

    async fn open_incidents_in(
        &self,
        scope: &DepartmentScope,
        limit: usize,
    ) -> Result<Vec<Incident>> {
        let (mode, department) = scope.sql_params();
        self.read(|conn| {
            // Unscoped (an administrator's), the open ones are read from their partial index
            // alone; scoped, each open one's instance is looked up by its id.
            let sql = if mode == 0 {
                format!("SELECT {COLUMNS} FROM incidents WHERE resolved_at IS NULL AND ?2 = 0 AND ?3 IS NULL ORDER BY id LIMIT ?1")
            } else {
                let columns = COLUMNS.split(", ").map(|c| format!("incidents.{c}")).collect::<Vec<_>>().join(", ");
                format!(
                    "SELECT {columns} FROM incidents JOIN instances ON instances.id = incidents.instance_id
                     WHERE incidents.resolved_at IS NULL AND (instances.department IS NULL OR (?2 = 2 AND instances.department = ?3))
                     ORDER BY incidents.id LIMIT ?1"
                )
            };
            conn.prepare_cached(&sql)?.query_map(params![limit as i64, mode, department], incident)?.collect()
        })
    }
}
