//! [`InboxReader`] on PostgreSQL. A page is the user's claimed tasks (`inbox_tasks_by_owner`),
//! then the tasks offered to a name they answer to (`u:ME`, `g:GROUP`, …: `inbox_candidates`,
//! whose key is in inbox order), each part in inbox order; a task offered to the user twice
//! is listed once. The rows are written with each step (`records::write_inbox`).

use sqlx::postgres::PgRow;
use sqlx::Row;

use baton_core::user_task::HumanTaskId;
use baton_store::inbox::{due_key, due_of_key};
use baton_store::{
    InboxFilter, InboxPage, InboxReader, InboxRow, InboxStatus, Page, Result, StoreError,
};

use crate::{db_err, PgStore};

const ORDER: &str = "ORDER BY priority DESC, due_key, created_at, instance_id, task, human_task";

/// The filter's conditions beside the status, on parameters `$2` to `$7` (see [`bind_filter`]).
const CONDITIONS: &str = "($2::TEXT IS NULL OR process_id = $2) AND ($3::TEXT IS NULL OR due_key < $3) AND ($4::INTEGER IS NULL OR priority >= $4)
     AND (NOT $5 OR escalated) AND ($6 = 0 OR department IS NULL OR ($6 = 2 AND department = $7::TEXT))";

type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_filter<'q>(query: Query<'q>, filter: &'q InboxFilter) -> Query<'q> {
    let (scope, department) = filter.scope.sql_params();
    query
        .bind(filter.process.as_deref())
        .bind(filter.due_before.map(|t| due_key(Some(t))))
        .bind(filter.min_priority)
        .bind(filter.status == Some(InboxStatus::Escalated))
        .bind(scope)
        .bind(department)
}

type Key = (String, String, i32);

const ROW_COLUMNS: &str = "instance_id, task, human_task, process_id, title, status, owner, priority, due_key, created_at, escalated";

fn inbox_row(row: &PgRow) -> Result<InboxRow> {
    let get = |e: sqlx::Error| db_err(e);
    let due: String = row.try_get(8).map_err(get)?;
    Ok(InboxRow {
        instance: row.try_get(0).map_err(get)?,
        task: row.try_get(1).map_err(get)?,
        human_task: HumanTaskId(row.try_get::<i32, _>(2).map_err(get)? as u32),
        process: row.try_get(3).map_err(get)?,
        title: row.try_get(4).map_err(get)?,
        status: row.try_get(5).map_err(get)?,
        owner: row.try_get(6).map_err(get)?,
        priority: row.try_get(7).map_err(get)?,
        due: due_of_key(&due).map_err(|e| {
            StoreError::internal(format!(
                "an inbox row's due key `{due}` cannot be read: {e}"
            ))
        })?,
        created_at: row.try_get(9).map_err(get)?,
        escalated: row.try_get(10).map_err(get)?,
    })
}

impl PgStore {
    /// The user's own tasks (claimed, or suspended while claimed): how many, and the keys of a slice.
    async fn mine(
        &self,
        user: &str,
        filter: &InboxFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Key>)> {
        let status = match filter.status {
            None | Some(InboxStatus::Escalated) => "",
            Some(InboxStatus::Claimed) => " AND status = 'claimed'",
            Some(InboxStatus::Suspended) => " AND status = 'suspended'",
            Some(InboxStatus::Ready) => return Ok((0, Vec::new())),
        };
        let count_sql =
            format!("SELECT COUNT(*) FROM inbox_tasks WHERE owner = $1{status} AND {CONDITIONS}");
        let count: i64 = bind_filter(
            sqlx::query(sqlx::AssertSqlSafe(count_sql)).bind(user),
            filter,
        )
        .fetch_one(self.pool())
        .await
        .map_err(db_err)?
        .get(0);
        let count = count as usize;
        if offset >= count || limit == 0 {
            return Ok((count, Vec::new()));
        }
        let sql = format!("SELECT instance_id, task, human_task FROM inbox_tasks WHERE owner = $1{status} AND {CONDITIONS} {ORDER} LIMIT $8 OFFSET $9");
        let rows = bind_filter(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user), filter)
            .bind(limit as i64)
            .bind(offset as i64)
            .fetch_all(self.pool())
            .await
            .map_err(db_err)?;
        let keys = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<sqlx::Result<_>>()
            .map_err(db_err)?;
        Ok((count, keys))
    }

    /// A slice of the tasks offered to the user, a group of theirs, or that they administer.
    async fn claimable(
        &self,
        user: &str,
        groups: &[String],
        filter: &InboxFilter,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Key>> {
        let status = match filter.status {
            None | Some(InboxStatus::Ready) | Some(InboxStatus::Escalated) => "ready",
            Some(InboxStatus::Suspended) => "suspended",
            Some(InboxStatus::Claimed) => return Ok(Vec::new()),
        };
        let mut names = vec![format!("u:{user}"), format!("au:{user}")];
        for g in groups {
            names.push(format!("g:{g}"));
            names.push(format!("ag:{g}"));
        }
        // `DISTINCT`: a task offered to the user and to their group is listed once.
        let sql = format!(
            "SELECT DISTINCT instance_id, task, human_task, priority, due_key, created_at FROM inbox_candidates
             WHERE who = ANY($1) AND status = '{status}' AND {CONDITIONS} {ORDER} LIMIT $8 OFFSET $9"
        );
        let rows = bind_filter(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&names), filter)
            .bind(limit as i64)
            .bind(offset as i64)
            .fetch_all(self.pool())
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<sqlx::Result<_>>()
            .map_err(db_err)
    }
}

impl InboxReader for PgStore {
    async fn inbox(
        &self,
        user: &str,
        groups: &[String],
        filter: &InboxFilter,
        page: Page,
    ) -> Result<InboxPage> {
        // One row more than the page, to tell whether there is a next page.
        let (offset, want) = (page.offset(), page.per_page + 1);
        let (mine_count, mut keys) = self.mine(user, filter, offset, want).await?;
        if keys.len() < want {
            let from = offset.saturating_sub(mine_count);
            keys.extend(
                self.claimable(user, groups, filter, from, want - keys.len())
                    .await?,
            );
        }
        let more = keys.len() > page.per_page;
        keys.truncate(page.per_page);
        let (instances, tasks, humans): (Vec<String>, Vec<String>, Vec<i32>) =
            keys.into_iter().fold(
                (Vec::new(), Vec::new(), Vec::new()),
                |(mut i, mut t, mut h), (a, b, c)| {
                    i.push(a);
                    t.push(b);
                    h.push(c);
                    (i, t, h)
                },
            );
        // The rows of the page's keys, in the page's order.
        let sql = format!(
            "SELECT {} FROM UNNEST($1::TEXT[], $2::TEXT[], $3::INTEGER[]) WITH ORDINALITY AS k(instance_id, task, human_task, n)
             JOIN inbox_tasks t USING (instance_id, task, human_task) ORDER BY k.n",
            ROW_COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&instances)
            .bind(&tasks)
            .bind(&humans)
            .fetch_all(self.pool())
            .await
            .map_err(db_err)?;
        let rows = rows.iter().map(inbox_row).collect::<Result<_>>()?;
        Ok(InboxPage { rows, page, more })
    }

    async fn inbox_of_instance(&self, instance: &str) -> Result<Vec<InboxRow>> {
        let sql = format!("SELECT {ROW_COLUMNS} FROM inbox_tasks WHERE instance_id = $1 ORDER BY task, human_task");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(instance)
            .fetch_all(self.pool())
            .await
            .map_err(db_err)?;
        rows.iter().map(inbox_row).collect()
    }
}
