//! Process instances: start, list, show, history, an instance's children, and an operator's
//! commands (abort, recover, delete, retry or skip a task, give prompt input, set or clear a
//! breakpoint).

use baton_api_model as api;
use baton_core::{Command, Instance, InstanceStatus};
use serde_json::{Map, Value};

use baton_core::definition::wire_name_problem;
use baton_store::{DepartmentScope, InstanceCursor, InstanceQuery};

use crate::{view, Result, Service, ServiceError, ServiceStore};

/// The most rows one listing returns (`baton instances --limit`, `baton incidents --limit`).
pub const MAX_LIMIT: usize = 10_000;

/// An operator's command on one task of an instance.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOperation {
    /// Run a task that ended not OK (or was skipped) again.
    Retry { task: String },
    /// End a blocked or waiting task `ended_skipped`.
    Skip { task: String },
    /// Give the values the task's prompts ask for.
    Input {
        task: String,
        values: Map<String, Value>,
    },
    /// Set (`true`) or clear a breakpoint on the task.
    Breakpoint { task: String, enabled: bool },
    /// Return the flow from the task to `to`, a task before it, which runs again with the tasks
    /// after it (administrators, and for a user task its potential owners and administrators).
    Back { task: String, to: String },
}

impl<S: ServiceStore> Service<S> {
    /// Starts an instance of the latest version of `process` with `data`; returns it once its
    /// first step is committed (jobs are queued for a worker).
    pub async fn start(
        &self,
        user: &str,
        process: &str,
        data: Map<String, Value>,
    ) -> Result<api::Instance> {
        self.start_once(user, process, data, None)
            .await
            .map(|(instance, _)| instance)
    }

    /// Starts an instance as [`start`](Self::start) does; with an idempotency `key` (1 to 200
    /// letters, digits, `.`, `_`, `-`, `:`), a repeat of the first start that named it (same
    /// process and data) returns that instance instead of starting another, and the same key
    /// with another process or data is refused as a conflict. Returns whether this call
    /// started the instance.
    pub async fn start_once(
        &self,
        user: &str,
        process: &str,
        data: Map<String, Value>,
        key: Option<&str>,
    ) -> Result<(api::Instance, bool)> {
        let caller = self.authenticate(user).await?;
        if let Some(problem) = key.and_then(|k| wire_name_problem("idempotency key", k)) {
            return Err(ServiceError::InvalidRequest {
                field: "idempotency_key",
                problem,
            });
        }
        self.may_start(&caller, process, None).await?;
        self.check_documents_in(user, &data).await?;
        let (state, started) = self.engine.start_once(process, data, key).await?;
        Ok((self.view_of(&state).await?, started))
    }

    /// Instances, newest first: at most `limit` (1 to [`MAX_LIMIT`]), only those in `status`
    /// if given, and only those with an open incident if `with_open_incident`.
    pub async fn instances(
        &self,
        user: &str,
        status: Option<api::InstanceStatus>,
        with_open_incident: bool,
        limit: usize,
    ) -> Result<Vec<api::InstanceSummary>> {
        let filter = api::InstanceFilter {
            status,
            with_open_incident,
            limit,
            ..api::InstanceFilter::default()
        };
        Ok(self.list_instances(user, &filter).await?.instances)
    }

    /// A page of the instances `filter` selects, newest first, with the cursor of the next
    /// page. A listing of instances with an open incident is one page.
    pub async fn list_instances(
        &self,
        user: &str,
        filter: &api::InstanceFilter,
    ) -> Result<api::InstancePage> {
        let viewer = self.viewer(user).await?;
        check_limit(filter.limit)?;
        if let Some(prefix) = &filter.id_prefix {
            if !(1..=MAX_ID_PREFIX).contains(&prefix.len()) {
                return Err(ServiceError::OutOfBounds {
                    what: "the id prefix's length",
                    value: prefix.len(),
                    max: MAX_ID_PREFIX,
                });
            }
        }
        if filter.with_open_incident {
            let instances = self
                .with_open_incident(
                    &viewer.scope,
                    filter.status,
                    filter.case.as_deref(),
                    filter.limit,
                )
                .await?;
            return Ok(api::InstancePage {
                instances,
                next_cursor: None,
            });
        }
        let after = filter.cursor.as_deref().map(parse_cursor).transpose()?;
        let query = InstanceQuery {
            status: filter.status.map(core_status),
            process: filter.process.clone(),
            created_after: filter.started_after,
            created_before: filter.started_before,
            case: filter.case.clone(),
            id_prefix: filter.id_prefix.clone(),
            after,
            scope: viewer.scope,
            limit: filter.limit,
        };
        let rows = self.engine.store().list_instances(&query).await?;
        let next_cursor = (rows.len() == filter.limit)
            .then(|| rows.last().map(|last| cursor(last.created_at, &last.id)))
            .flatten();
        Ok(api::InstancePage {
            instances: rows.iter().map(view::instance_summary).collect(),
            next_cursor,
        })
    }

    async fn with_open_incident(
        &self,
        scope: &DepartmentScope,
        status: Option<api::InstanceStatus>,
        case: Option<&str>,
        limit: usize,
    ) -> Result<Vec<api::InstanceSummary>> {
        let status = status.map(core_status);
        let mut rows: Vec<api::InstanceSummary> = Vec::new();
        for incident in self
            .engine
            .store()
            .open_incidents_in(scope, usize::MAX)
            .await?
        {
            if rows.len() == limit {
                break;
            }
            if rows.iter().any(|r| r.id == incident.instance) {
                continue;
            }
            let state = self.engine.instance(&incident.instance).await?;
            if status.is_none_or(|s| s == state.status) && case.is_none_or(|c| c == state.case_id())
            {
                rows.push(summary(&state));
            }
        }
        Ok(rows)
    }

    /// An instance's current state.
    pub async fn instance(&self, user: &str, id: &str) -> Result<api::Instance> {
        self.visible_to(user, id).await?;
        let state = self.engine.instance(id).await?;
        self.view_of(&state).await
    }

    /// An instance's whole history, oldest first.
    pub async fn history(&self, user: &str, id: &str) -> Result<Vec<api::HistoryEvent>> {
        self.visible_to(user, id).await?;
        Ok(self
            .engine
            .store()
            .history(id)
            .await?
            .iter()
            .map(view::history_event)
            .collect())
    }

    /// At most `limit` (1 to [`MAX_LIMIT`]) events of an instance's history after event
    /// `after_seq` (0: from the first), oldest first: pass the last one's `seq` for the next page.
    pub async fn history_page(
        &self,
        user: &str,
        id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<api::HistoryEvent>> {
        self.visible_to(user, id).await?;
        check_limit(limit)?;
        Ok(self
            .engine
            .store()
            .history_page(id, after_seq, limit)
            .await?
            .iter()
            .map(view::history_event)
            .collect())
    }

    /// The child instances of an instance (its ForEach iterations, `call`ed and handed-off
    /// instances), oldest first.
    pub async fn children(&self, user: &str, id: &str) -> Result<Vec<api::InstanceSummary>> {
        let viewer = self.visible_to(user, id).await?;
        let mut children = Vec::new();
        for child in self.engine.store().children(id).await? {
            // Children inherit their parent's department: this leaves out none but is the
            // scope's rule all the same.
            let state = self.engine.instance(&child).await?;
            if viewer.scope.admits(state.department.as_deref()) {
                children.push(summary(&state));
            }
        }
        Ok(children)
    }

    /// Aborts an instance: open tasks are canceled, running jobs stopped, open human tasks
    /// terminated, and its sub-processes that have not ended aborted with it. With
    /// `abort_parent`, a `call`ed instance's abort also aborts the instances above it (Stardust:
    /// the user decides); a handed-off instance's parent is never aborted.
    pub async fn abort(&self, user: &str, id: &str, abort_parent: bool) -> Result<api::Instance> {
        self.operate(
            user,
            id,
            Command::Abort {
                by: user.to_owned(),
                abort_parent,
            },
        )
        .await
    }

    /// Recovers an instance that failed, or is blocked by a failure: every task of it that
    /// ended not OK runs again, and a `call` task among them recovers its failed child instead
    /// of starting another. Refused as a conflict when the instance is in no state to recover
    /// or nothing of it ended not OK.
    pub async fn recover(&self, user: &str, id: &str) -> Result<api::Instance> {
        self.operate(
            user,
            id,
            Command::Recover {
                by: user.to_owned(),
                attempt: None,
            },
        )
        .await
    }

    /// Deletes an instance (aborting it first if open) and its human tasks; its history stays.
    pub async fn delete(&self, user: &str, id: &str) -> Result<api::Instance> {
        self.visible_to(user, id).await?;
        let state = self.engine.delete_instance_by(id, user).await?;
        self.view_of(&state).await
    }

    /// Applies an operator's command to one task of an instance.
    pub async fn task_operation(
        &self,
        user: &str,
        id: &str,
        operation: TaskOperation,
    ) -> Result<api::Instance> {
        let viewer = self.visible_to(user, id).await?;
        let by = user.to_owned();
        if let TaskOperation::Input { values, .. } = &operation {
            self.check_documents_in(user, values).await?;
        }
        let command = match operation {
            TaskOperation::Retry { task } => Command::RetryTask { task, by },
            TaskOperation::Skip { task } => Command::SkipTask { task, by },
            TaskOperation::Input { task, values } => Command::ProvideInput { task, values, by },
            TaskOperation::Breakpoint { task, enabled } => {
                Command::SetBreakpoint { task, enabled, by }
            }
            TaskOperation::Back { task, to } => {
                // The local command line's operator holds the database: an administrator here.
                let mut caller = viewer.caller;
                caller.admin |= self.local && caller.user == baton_store::OPERATOR;
                Command::SendBack {
                    task,
                    to,
                    by: caller,
                }
            }
        };
        self.operate(user, id, command).await
    }

    async fn operate(&self, user: &str, id: &str, command: Command) -> Result<api::Instance> {
        self.visible_to(user, id).await?;
        let state = self.engine.operate(id, command).await?;
        self.view_of(&state).await
    }

    /// The view of an instance, with its definition's task kinds and order.
    pub(crate) async fn view_of(&self, state: &Instance) -> Result<api::Instance> {
        let definition = self
            .engine
            .definition(&state.definition_id, Some(state.definition_version))
            .await?;
        Ok(view::instance(&definition, state))
    }
}

/// Refuses a listing limit past its bounds.
/// The longest id prefix a listing takes: an instance id's length.
pub const MAX_ID_PREFIX: usize = 36;

pub(crate) fn check_limit(limit: usize) -> Result<()> {
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(())
    } else {
        Err(ServiceError::OutOfBounds {
            what: "the limit",
            value: limit,
            max: MAX_LIMIT,
        })
    }
}

fn summary(state: &Instance) -> api::InstanceSummary {
    api::InstanceSummary {
        id: state.id.clone(),
        process: state.definition_id.clone(),
        version: state.definition_version,
        status: view::instance_status(state.status),
        created_at: state.created_at,
        ended_at: state.ended_at,
        parent: state.parent.as_ref().map(|p| p.instance.clone()),
        link: state.parent.as_ref().map(|p| view::link_kind(p.kind)),
        case: state.case_id().to_owned(),
        work_status: state.work_status.clone(),
        department: state.department.clone(),
    }
}

fn core_status(status: api::InstanceStatus) -> InstanceStatus {
    use api::InstanceStatus as V;
    match status {
        V::Running => InstanceStatus::Running,
        V::Waiting => InstanceStatus::Waiting,
        V::Blocked => InstanceStatus::Blocked,
        V::Completed => InstanceStatus::Completed,
        V::Failed => InstanceStatus::Failed,
        V::Aborted => InstanceStatus::Aborted,
    }
}

/// The cursor after an instance row: opaque to clients (hex of its creation time and id).
fn cursor(created_at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    let position = serde_json::to_string(&InstanceCursor {
        created_at,
        id: id.to_owned(),
    })
    .unwrap_or_default();
    position.bytes().map(|b| format!("{b:02x}")).collect()
}

fn parse_cursor(text: &str) -> Result<InstanceCursor> {
    let bad = || ServiceError::InvalidRequest {
        field: "cursor",
        problem: "not a cursor this listing gave; pass `next_cursor` as it is".into(),
    };
    if text.len() % 2 != 0 || text.len() > 2048 {
        return Err(bad());
    }
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}
