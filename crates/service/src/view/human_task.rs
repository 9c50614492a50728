//! Human tasks as views: a status by its name, with who claimed, suspended or ended it in
//! fields of their own.

use baton_api_model as api;
use baton_core::user_task::{
    EscalationAction, HumanTask, HumanTaskRole, HumanTaskStatus, PotentialOwners, UserTask,
};

/// The human tasks of `user_task` of `instance`: all of them, or only number `only`.
pub fn user_task(instance: &str, user_task: &UserTask, only: Option<u32>) -> api::UserTask {
    api::UserTask {
        instance: instance.to_owned(),
        task: user_task.process_task.clone(),
        human_tasks: user_task
            .tasks
            .iter()
            .filter(|t| only.is_none_or(|n| n == t.id.0))
            .map(human_task)
            .collect(),
        outcome: user_task.outcome.as_ref().map(|o| api::Outcome {
            status: o.status.name().to_owned(),
            task: o.task.0,
            output: o.output.clone(),
            reason: o.reason.clone(),
        }),
    }
}

/// The view of one human task.
pub fn human_task(task: &HumanTask) -> api::HumanTask {
    let (role, of) = role(task.role);
    api::HumanTask {
        id: task.id.0,
        role,
        of,
        title: task.title.clone(),
        description: task.description.clone(),
        state: human_task_state(&task.status),
        potential_owners: people(&task.potential_owners),
        administrators: people(&task.administrators),
        originator: task.originator.clone(),
        priority: task.priority,
        due: task.due,
        form: task.output_fields.iter().map(form_field).collect(),
        input: task.input.clone(),
        output: task.output.clone(),
        notes: task
            .notes
            .iter()
            .map(|n| api::Note {
                by: n.by.clone(),
                at: n.at,
                text: n.text.clone(),
            })
            .collect(),
        escalations: task
            .escalations
            .iter()
            .map(|e| api::Escalation {
                name: e.name.clone(),
                at: e.at,
                origin: e.origin.0,
                action: escalation_action(&e.action).to_owned(),
            })
            .collect(),
        follow_on: task.follow_on.map(|t| t.0),
        subtasks: task.subtasks.iter().map(|t| t.0).collect(),
        created_at: task.created_at,
        updated_at: task.updated_at,
    }
}

fn escalation_action(action: &EscalationAction) -> &'static str {
    match action {
        EscalationAction::RaisePriority { .. } => "raise_priority",
        EscalationAction::Notify { .. } => "notify",
        EscalationAction::Reassign { .. } => "reassign",
    }
}

/// A role and the task it relates to.
pub(super) fn role(role: HumanTaskRole) -> (api::HumanTaskRole, Option<u32>) {
    match role {
        HumanTaskRole::Original => (api::HumanTaskRole::Original, None),
        HumanTaskRole::FollowOn { predecessor } => {
            (api::HumanTaskRole::FollowOn, Some(predecessor.0))
        }
        HumanTaskRole::Subtask { parent } => (api::HumanTaskRole::Subtask, Some(parent.0)),
    }
}

/// A status with what it names. A suspended task keeps the values of the status it resumes to.
pub fn human_task_state(status: &HumanTaskStatus) -> api::HumanTaskState {
    use api::HumanTaskStatus as V;
    let state = |status| api::HumanTaskState {
        status,
        claimed_by: None,
        forwarded_to: None,
        suspended: None,
        ended: None,
    };
    let ended = |status, by: Option<&String>, at, reason: Option<&String>| api::HumanTaskState {
        ended: Some(api::Ending {
            by: by.cloned(),
            at,
            reason: reason.cloned(),
        }),
        ..state(status)
    };
    match status {
        HumanTaskStatus::Ready => state(V::Ready),
        HumanTaskStatus::Claimed { by, .. } => api::HumanTaskState {
            claimed_by: Some(by.clone()),
            ..state(V::Claimed)
        },
        HumanTaskStatus::Forwarded { to, .. } => api::HumanTaskState {
            forwarded_to: Some(to.0),
            ..state(V::Forwarded)
        },
        HumanTaskStatus::Suspended { was, since, by } => {
            let mut suspended = human_task_state(was);
            suspended.suspended = Some(api::Suspension {
                by: by.clone(),
                since: *since,
                resumes_to: suspended.status,
            });
            suspended.status = V::Suspended;
            suspended
        }
        HumanTaskStatus::EndedOk { by, at } => ended(V::EndedOk, Some(by), *at, None),
        HumanTaskStatus::EndedNotOk { by, reason, at } => {
            ended(V::EndedNotOk, Some(by), *at, Some(reason))
        }
        HumanTaskStatus::Expired { at } => ended(V::Expired, None, *at, None),
        HumanTaskStatus::Terminated { by, at } => ended(V::Terminated, Some(by), *at, None),
        HumanTaskStatus::Deleted { by, at } => ended(V::Deleted, Some(by), *at, None),
    }
}

pub fn people(owners: &PotentialOwners) -> api::People {
    api::People {
        users: owners.users.clone(),
        groups: owners.groups.clone(),
    }
}

/// One field of a form (a human task's or a view's).
pub fn form_field(f: &baton_core::user_task::FormField) -> api::FormField {
    api::FormField {
        name: f.name.clone(),
        ty: f.ty.name().to_owned(),
        required: f.required,
        description: f.description.clone(),
    }
}
