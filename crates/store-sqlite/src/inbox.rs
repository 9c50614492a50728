//! [`InboxReader`] on SQLite (migration `20261126_0004_inbox.sql`), and the inbox part of
//! committing a step.
//!
//! A page is built without sorting every open task a user may see: the user's claimed tasks
//! come from one index scan (`inbox_tasks_by_owner`), and the claimable ones from one scan of
//! `inbox_candidates` per name the user answers to (`u:ME`, `g:GROUP`… ), each already in inbox
//! order, merged by SQLite's compound-select merge (`UNION` with `ORDER BY`), which also drops
//! a task offered to the user twice. `LIMIT` stops the merge after the page.

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection};

use baton_core::user_task::HumanTaskId;
use baton_store::inbox::{due_key, due_of_key};
use baton_store::{
    InboxFilter, InboxPage, InboxReader, InboxRow, InboxStatus, InboxUpdate, Page, Result,
};

use crate::{db_err, parse_ts, ts, SqliteStore};

/// Replaces the inbox rows of one user task.
pub(crate) fn write_inbox(conn: &Connection, update: &InboxUpdate) -> Result<()> {
    conn.prepare_cached("DELETE FROM inbox_tasks WHERE instance_id = ?1 AND task = ?2")
        .and_then(|mut s| s.execute(params![update.instance, update.task]))
        .map_err(db_err)?;
    conn.prepare_cached("DELETE FROM inbox_candidates WHERE instance_id = ?1 AND task = ?2")
        .and_then(|mut s| s.execute(params![update.instance, update.task]))
        .map_err(db_err)?;
    for e in &update.entries {
        let (due, created) = (due_key(e.due), ts(e.created_at));
        conn.prepare_cached(
            "INSERT INTO inbox_tasks (instance_id, task, human_task, process_id, title, status, owner, priority, due_key, created_at, escalated, department)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .and_then(|mut s| {
            s.execute(params![e.instance, e.task, e.human_task.0, e.process, e.title, e.status, e.owner, e.priority, due, created, e.escalated, e.department])
        })
        .map_err(db_err)?;
        // A claimed task is its owner's (found by `owner`); only unclaimed ones are offered, so
        // "mine" and "claimable" never overlap.
        if e.owner.is_some() {
            continue;
        }
        let mut insert = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO inbox_candidates (who, status, priority, due_key, created_at, instance_id, task, human_task, process_id, escalated, department)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .map_err(db_err)?;
        for who in baton_store::inbox::candidate_names(&e.potential_owners, &e.administrators) {
            insert
                .execute(params![
                    who,
                    e.status,
                    e.priority,
                    due,
                    created,
                    e.instance,
                    e.task,
                    e.human_task.0,
                    e.process,
                    e.escalated,
                    e.department
                ])
                .map_err(db_err)?;
        }
    }
    Ok(())
}

const ORDER: &str = "ORDER BY priority DESC, due_key, created_at, instance_id, task, human_task";

/// The filter's conditions (beside the status) as SQL and parameters.
fn conditions(filter: &InboxFilter, params: &mut Vec<SqlValue>) -> String {
    let mut sql = String::new();
    if let Some(process) = &filter.process {
        params.push(SqlValue::Text(process.clone()));
        sql.push_str(&format!(" AND process_id = ?{}", params.len()));
    }
    if let Some(before) = filter.due_before {
        params.push(SqlValue::Text(ts(before)));
        sql.push_str(&format!(" AND due_key < ?{}", params.len()));
    }
    if let Some(min) = filter.min_priority {
        params.push(SqlValue::Integer(i64::from(min)));
        sql.push_str(&format!(" AND priority >= ?{}", params.len()));
    }
    if filter.status == Some(InboxStatus::Escalated) {
        sql.push_str(" AND escalated = 1");
    }
    match filter.scope.sql_params() {
        (0, _) => {}
        (_, None) => sql.push_str(" AND department IS NULL"),
        (_, Some(department)) => {
            params.push(SqlValue::Text(department.to_owned()));
            sql.push_str(&format!(
                " AND (department IS NULL OR department = ?{})",
                params.len()
            ));
        }
    }
    sql
}

type Key = (String, String, u32);

fn key(row: &rusqlite::Row) -> rusqlite::Result<Key> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
}

/// The user's own tasks (claimed, or suspended while claimed): how many, and the keys of a slice.
fn mine(
    conn: &Connection,
    user: &str,
    filter: &InboxFilter,
    offset: usize,
    limit: usize,
) -> rusqlite::Result<(usize, Vec<Key>)> {
    let mut params = vec![SqlValue::Text(user.to_owned())];
    let status = match filter.status {
        None | Some(InboxStatus::Escalated) => "",
        Some(InboxStatus::Claimed) => " AND status = 'claimed'",
        Some(InboxStatus::Suspended) => " AND status = 'suspended'",
        Some(InboxStatus::Ready) => return Ok((0, Vec::new())),
    };
    let rest = conditions(filter, &mut params);
    let count_sql = format!("SELECT COUNT(*) FROM inbox_tasks WHERE owner = ?1{status}{rest}");
    let count: i64 = conn
        .prepare_cached(&count_sql)?
        .query_row(params_from_iter(params.iter()), |r| r.get(0))?;
    let count = count as usize;
    if offset >= count || limit == 0 {
        return Ok((count, Vec::new()));
    }
    params.push(SqlValue::Integer(limit as i64));
    params.push(SqlValue::Integer(offset as i64));
    let n = params.len();
    let sql = format!("SELECT instance_id, task, human_task FROM inbox_tasks WHERE owner = ?1{status}{rest} {ORDER} LIMIT ?{} OFFSET ?{n}", n - 1);
    let keys = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(params.iter()), key)?
        .collect::<rusqlite::Result<_>>()?;
    Ok((count, keys))
}

/// The query for a slice of the tasks offered to the user, a group of theirs, or that they
/// administer: one arm per name, merged in inbox order. `None` when the filter rules them out.
fn claimable_query(
    user: &str,
    groups: &[String],
    filter: &InboxFilter,
    offset: usize,
    limit: usize,
) -> Option<(String, Vec<SqlValue>)> {
    let status = match filter.status {
        None | Some(InboxStatus::Ready) | Some(InboxStatus::Escalated) => "ready",
        Some(InboxStatus::Suspended) => "suspended",
        Some(InboxStatus::Claimed) => return None,
    };
    let mut names = vec![format!("u:{user}"), format!("au:{user}")];
    for g in groups {
        names.push(format!("g:{g}"));
        names.push(format!("ag:{g}"));
    }
    let mut params: Vec<SqlValue> = Vec::new();
    let mut arms = Vec::new();
    for name in names {
        params.push(SqlValue::Text(name));
        let who = params.len();
        let rest = conditions(filter, &mut params);
        arms.push(format!(
            "SELECT instance_id, task, human_task, priority, due_key, created_at FROM inbox_candidates WHERE who = ?{who} AND status = '{status}'{rest}"
        ));
    }
    params.push(SqlValue::Integer(limit as i64));
    params.push(SqlValue::Integer(offset as i64));
    let n = params.len();
    // `UNION` (not `UNION ALL`): a task offered to the user and to their group is listed once.
    let sql = format!(
        "{} ORDER BY 4 DESC, 5, 6, 1, 2, 3 LIMIT ?{} OFFSET ?{n}",
        arms.join(" UNION "),
        n - 1
    );
    Some((sql, params))
}

fn claimable(
    conn: &Connection,
    user: &str,
    groups: &[String],
    filter: &InboxFilter,
    offset: usize,
    limit: usize,
) -> rusqlite::Result<Vec<Key>> {
    let Some((sql, params)) = claimable_query(user, groups, filter, offset, limit) else {
        return Ok(Vec::new());
    };
    conn.prepare_cached(&sql)?
        .query_map(params_from_iter(params.iter()), key)?
        .collect()
}

impl SqliteStore {
    /// SQLite's plan for the claimable part of an inbox page (`EXPLAIN QUERY PLAN`), one line
    /// per step: shows that each name is one index scan and the page a merge, with no sort.
    pub fn inbox_plan(
        &self,
        user: &str,
        groups: &[String],
        filter: &InboxFilter,
    ) -> Result<Vec<String>> {
        let Some((sql, params)) = claimable_query(user, groups, filter, 0, 20) else {
            return Ok(Vec::new());
        };
        self.read(|conn| {
            let steps: Vec<(i64, i64, String)> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?
                .query_map(params_from_iter(params.iter()), |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(3)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            // Indent each step under its parent.
            let mut depth = std::collections::HashMap::from([(0, 0usize)]);
            Ok(steps
                .into_iter()
                .map(|(id, parent, detail)| {
                    let d = depth.get(&parent).copied().unwrap_or(0);
                    depth.insert(id, d + 1);
                    format!("{}{detail}", "  ".repeat(d))
                })
                .collect())
        })
    }
}

fn inbox_row(row: &rusqlite::Row) -> rusqlite::Result<InboxRow> {
    let due = due_of_key(&row.get::<_, String>(8)?).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(8, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(InboxRow {
        instance: row.get(0)?,
        task: row.get(1)?,
        human_task: HumanTaskId(row.get(2)?),
        process: row.get(3)?,
        title: row.get(4)?,
        status: row.get(5)?,
        owner: row.get(6)?,
        priority: row.get(7)?,
        due,
        created_at: parse_ts(&row.get::<_, String>(9)?)?,
        escalated: row.get(10)?,
    })
}

const ROW_COLUMNS: &str = "instance_id, task, human_task, process_id, title, status, owner, priority, due_key, created_at, escalated";

impl InboxReader for SqliteStore {
    async fn inbox(
        &self,
        user: &str,
        groups: &[String],
        filter: &InboxFilter,
        page: Page,
    ) -> Result<InboxPage> {
        self.read(|conn| {
            // One row more than the page, to tell whether there is a next page.
            let (offset, want) = (page.offset(), page.per_page + 1);
            let (mine_count, mut keys) = mine(conn, user, filter, offset, want)?;
            if keys.len() < want {
                let from = offset.saturating_sub(mine_count);
                keys.extend(claimable(conn, user, groups, filter, from, want - keys.len())?);
            }
            let more = keys.len() > page.per_page;
            keys.truncate(page.per_page);
            let mut lookup =
                conn.prepare_cached(&format!("SELECT {ROW_COLUMNS} FROM inbox_tasks WHERE instance_id = ?1 AND task = ?2 AND human_task = ?3"))?;
            let rows = keys.iter().map(|(i, t, h)| lookup.query_row(params![i, t, h], inbox_row)).collect::<rusqlite::Result<_>>()?;
            Ok(InboxPage { rows, page, more })
        })
    }

    async fn inbox_of_instance(&self, instance: &str) -> Result<Vec<InboxRow>> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {ROW_COLUMNS} FROM inbox_tasks WHERE instance_id = ?1 ORDER BY task, human_task"))?
                .query_map([instance], inbox_row)?
                .collect()
        })
    }
}
