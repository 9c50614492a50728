//! Human tasks (IBM's follow-on tasks) and the inbox: showing a user task's human tasks, every
//! operation on one of them, and a user's inbox page.
//!
//! A human task is named by its instance, its `user` task and optionally its number. Without
//! a number an operation acts on the task the chain waits for (the last follow-on), except
//! `delete` and `restart`, which act on the task the process created (`0`).

use std::sync::Arc;
use std::time::Duration;

use baton_api_model as api;
use baton_core::user_task::{
    EscalationAction, EscalationSpec, FollowOnSpec, HumanTaskId, PotentialOwners, SubtaskSpec,
    UserTask, UserTaskCommand,
};
use baton_store::{InboxFilter, InboxStatus, Page};
use serde_json::{Map, Value};

use crate::{view, Result, Service, ServiceError, ServiceStore};

/// The largest inbox page (`--per-page`).
pub const MAX_PER_PAGE: usize = 1_000;
/// The highest inbox page number (`--page`).
pub const MAX_PAGE: usize = 1_000_000;

/// Names a human task: the instance, the `user` task's id, and the human task's number
/// (`None`: see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HumanTaskRef {
    pub instance: String,
    pub task: String,
    pub number: Option<u32>,
}

/// An operation on a human task, as its actor gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum HumanTaskAction {
    /// Claim a ready task (a potential owner or an administrator).
    Claim,
    /// Give a claimed task back (its owner).
    Unclaim,
    /// Complete a claimed task with output that fits its form (its owner).
    Complete { output: Map<String, Value> },
    /// End a claimed task `ended_not_ok` (its owner).
    Fail { note: String },
    /// Start a follow-on task for `to` (its owner); title and description default to the task's.
    Forward {
        to: PotentialOwners,
        title: Option<String>,
        description: Option<String>,
        note: Option<String>,
        /// Laid over a copy of the task's input.
        input: Map<String, Value>,
        escalations: Vec<EscalationSpec>,
    },
    /// Create a subtask for `to` (the owner of the claimed task).
    Subtask {
        to: PotentialOwners,
        title: String,
        description: String,
        input: Map<String, Value>,
        expires_after: Option<Duration>,
    },
    /// Suspend the whole chain.
    Suspend,
    /// Resume the whole chain.
    Resume,
    /// Terminate the whole chain (an administrator).
    Terminate,
    /// Escalate by hand (an administrator).
    Escalate {
        name: String,
        action: EscalationAction,
    },
    /// Delete a first task with its follow-ons and subtasks (an administrator).
    Delete,
    /// Start a first task over (an administrator).
    Restart,
}

impl<S: ServiceStore> Service<S> {
    /// The human tasks of a user task (or only number `number`), with how its chain ended.
    pub async fn user_task(
        &self,
        user: &str,
        instance: &str,
        task: &str,
        number: Option<u32>,
    ) -> Result<api::UserTask> {
        self.visible_to(user, instance).await?;
        let user_task = self.user_task_of(instance, task).await?;
        let user_task = user_task.ok_or_else(|| ServiceError::UserTaskNotStarted {
            instance: instance.to_owned(),
            task: task.to_owned(),
        })?;
        Ok(view::user_task(instance, &user_task, number))
    }

    /// Applies `action` to a human task as `user`; returns the instance afterwards and the
    /// human task acted on.
    pub async fn human_task(
        &self,
        user: &str,
        target: &HumanTaskRef,
        action: HumanTaskAction,
    ) -> Result<api::HumanTaskUpdate> {
        self.visible_to(user, &target.instance).await?;
        if let HumanTaskAction::Complete { output } = &action {
            self.check_documents_in(user, output).await?;
        }
        let user_task = self.user_task_of(&target.instance, &target.task).await?;
        let first_task = matches!(action, HumanTaskAction::Delete | HumanTaskAction::Restart);
        let id = match (target.number, &user_task) {
            (Some(n), _) => HumanTaskId(n),
            (None, Some(ut)) if !first_task => ut.last_in_chain(HumanTaskId::ORIGINAL),
            (None, _) => HumanTaskId::ORIGINAL,
        };
        let command = command(action, id, &target.task, user_task.as_deref());
        let state = self
            .engine
            .user_task(&target.instance, &target.task, user, command)
            .await?;
        let human_task = state
            .tasks
            .iter()
            .filter_map(|t| t.user_task.as_ref())
            .find(|ut| ut.process_task == target.task)
            .and_then(|ut| ut.task(id))
            .map(view::human_task);
        Ok(api::HumanTaskUpdate {
            instance: self.view_of(&state).await?,
            human_task_id: id.0,
            human_task,
        })
    }

    /// A page of `user`'s inbox: the tasks they claimed, then those they may claim; beside
    /// them, the user's suspended interactive workflows.
    pub async fn inbox(&self, user: &str, query: &api::InboxQuery) -> Result<api::InboxPage> {
        let viewer = self.viewer(user).await?;
        let caller = viewer.caller;
        for (what, value, max) in [
            ("the page", query.page, MAX_PAGE),
            ("the page size", query.per_page, MAX_PER_PAGE),
        ] {
            if !(1..=max).contains(&value) {
                return Err(ServiceError::OutOfBounds { what, value, max });
            }
        }
        let filter = InboxFilter {
            status: query.status.map(|s| match s {
                api::InboxStatus::Ready => InboxStatus::Ready,
                api::InboxStatus::Claimed => InboxStatus::Claimed,
                api::InboxStatus::Suspended => InboxStatus::Suspended,
                api::InboxStatus::Escalated => InboxStatus::Escalated,
            }),
            process: query.process.clone(),
            due_before: query.due_before,
            min_priority: query.min_priority,
            scope: viewer.scope,
        };
        let groups: Vec<String> = caller.groups.iter().cloned().collect();
        let page = self
            .engine
            .store()
            .inbox(
                &caller.user,
                &groups,
                &filter,
                Page {
                    number: query.page,
                    per_page: query.per_page,
                },
            )
            .await?;
        let mut page = view::inbox_page(page)?;
        page.workflows = self.suspended_workflows(&caller.user).await?;
        Ok(page)
    }

    /// The user task `task` of `instance` (`None` before it started); refuses a task that
    /// does not exist or is not a `user` task.
    async fn user_task_of(&self, instance: &str, task: &str) -> Result<Option<Arc<UserTask>>> {
        let state = self.engine.instance(instance).await?;
        let definition = self
            .engine
            .definition(&state.definition_id, Some(state.definition_version))
            .await?;
        let i = definition
            .task_index(task)
            .ok_or_else(|| ServiceError::UnknownTask {
                process: definition.id.clone(),
                task: task.to_owned(),
            })?;
        let kind = definition.tasks[i].kind.name();
        if kind != "user" {
            return Err(ServiceError::NotAUserTask {
                task: task.to_owned(),
                kind,
            });
        }
        Ok(state.tasks.get(i).and_then(|t| t.user_task.clone()))
    }
}

/// The core's command for `action` on human task `id`; a follow-on's title and description
/// default to those of the task it follows (else the process task's id, and nothing).
fn command(
    action: HumanTaskAction,
    id: HumanTaskId,
    process_task: &str,
    user_task: Option<&UserTask>,
) -> UserTaskCommand {
    match action {
        HumanTaskAction::Claim => UserTaskCommand::Claim { task: id },
        HumanTaskAction::Unclaim => UserTaskCommand::CancelClaim { task: id },
        HumanTaskAction::Complete { output } => UserTaskCommand::Complete { task: id, output },
        HumanTaskAction::Fail { note } => UserTaskCommand::Fail {
            task: id,
            reason: note,
        },
        HumanTaskAction::Forward {
            to,
            title,
            description,
            note,
            input,
            escalations,
        } => {
            let current = user_task.and_then(|ut| ut.task(id));
            let spec = FollowOnSpec {
                title: title
                    .or_else(|| current.map(|t| t.title.clone()))
                    .unwrap_or_else(|| process_task.to_owned()),
                description: description
                    .or_else(|| current.map(|t| t.description.clone()))
                    .unwrap_or_default(),
                to,
                notes: note,
                input,
                escalations,
            };
            UserTaskCommand::StartFollowOn { task: id, spec }
        }
        HumanTaskAction::Subtask {
            to,
            title,
            description,
            input,
            expires_after,
        } => UserTaskCommand::CreateSubtask {
            parent: id,
            spec: SubtaskSpec {
                title,
                description,
                to,
                input,
                output_fields: Vec::new(),
                expires_after,
                escalations: Vec::new(),
            },
        },
        HumanTaskAction::Suspend => UserTaskCommand::Suspend { task: id },
        HumanTaskAction::Resume => UserTaskCommand::Resume { task: id },
        HumanTaskAction::Terminate => UserTaskCommand::Terminate { task: id },
        HumanTaskAction::Escalate { name, action } => UserTaskCommand::Escalate {
            task: id,
            name,
            action,
        },
        HumanTaskAction::Delete => UserTaskCommand::Delete { task: id },
        HumanTaskAction::Restart => UserTaskCommand::Restart { task: id },
    }
}
