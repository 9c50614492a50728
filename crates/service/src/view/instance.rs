//! An instance and its tasks as views: statuses by their seed names, the status's own values
//! in fields of their own, tasks keyed by id in the order `baton show` prints them.

use baton_api_model as api;
use baton_core::definition::TaskDef;
use baton_core::instance::LinkKind;
use baton_core::{Definition, Instance, InstanceStatus, Reason, TaskState, TaskStatus};
use serde_json::Value;

/// The view of `state`, an instance of `definition`.
pub fn instance(definition: &Definition, state: &Instance) -> api::Instance {
    let tasks = definition
        .order
        .iter()
        .filter_map(|&i| Some((definition.tasks.get(i)?, state.tasks.get(i)?)))
        .map(|(def, task_state)| (def.id.clone(), task(def, task_state)))
        .collect();
    api::Instance {
        id: state.id.clone(),
        process: state.definition_id.clone(),
        version: state.definition_version,
        status: instance_status(state.status),
        data: state.data.clone(),
        tasks,
        created_at: state.created_at,
        updated_at: state.updated_at,
        ended_at: state.ended_at,
        deleted_at: state.deleted_at,
        parent: state.parent.as_ref().map(|p| api::ParentLink {
            instance: p.instance.clone(),
            task: p.task.clone(),
            link: link_kind(p.kind),
            index: (p.kind == LinkKind::Iteration).then_some(p.index),
        }),
        root: state.root.clone(),
        case: state.case_id().to_owned(),
        work_status: state.work_status.clone(),
        referenced_instances: state.referenced_instances.clone(),
        spawned: state.spawned.iter().map(|s| s.instance.clone()).collect(),
        replaced_by: state.replaced_by.clone(),
        department: state.department.clone(),
    }
}

/// A link kind by its name.
pub fn link_kind(kind: LinkKind) -> api::LinkKind {
    match kind {
        LinkKind::Iteration => api::LinkKind::Iteration,
        LinkKind::Call => api::LinkKind::Call,
        LinkKind::Handoff => api::LinkKind::Handoff,
        LinkKind::Spawned => api::LinkKind::Spawned,
        LinkKind::Peer => api::LinkKind::Peer,
    }
}

fn task(def: &TaskDef, state: &TaskState) -> api::Task {
    api::Task {
        kind: def.kind.name().to_owned(),
        state: task_state(&state.status),
        reason: state.reason.as_ref().map(reason),
        attempts: state.attempts,
        started_at: state.started_at,
        ended_at: state.ended_at,
        child: state.child.as_ref().map(|c| c.instance.clone()),
    }
}

/// A task status with the values it carries, each in its field.
pub fn task_state(status: &TaskStatus) -> api::TaskState {
    let mut state = api::TaskState {
        status: task_status(status),
        attempt: None,
        status_since: None,
        waiting_until: None,
        claimed_by: None,
        suspended_by: None,
        forwarded_to: None,
        escalation: None,
        event: None,
        correlation_key: None,
    };
    match status {
        TaskStatus::WaitingForStartTime { until: at }
        | TaskStatus::WaitingForPrecondition { next_check: at }
        | TaskStatus::WaitingForRetry { until: at } => state.waiting_until = Some(*at),
        TaskStatus::Running { attempt, since } => {
            (state.attempt, state.status_since) = (Some(*attempt), Some(*since))
        }
        TaskStatus::WaitingForEvent { event, key, since } => {
            (state.event, state.correlation_key, state.status_since) =
                (Some(event.clone()), key.clone(), Some(*since))
        }
        TaskStatus::Claimed { by, since } => {
            (state.claimed_by, state.status_since) = (Some(by.clone()), Some(*since))
        }
        TaskStatus::Forwarded { to } => state.forwarded_to = Some(to.0),
        TaskStatus::Suspended { since, by } => {
            (state.suspended_by, state.status_since) = (Some(by.clone()), Some(*since))
        }
        TaskStatus::Escalated {
            escalation,
            claimed_by,
        } => (state.escalation, state.claimed_by) = (Some(escalation.clone()), claimed_by.clone()),
        _ => {}
    }
    state
}

/// A task status by its name.
fn task_status(status: &TaskStatus) -> api::TaskStatus {
    use api::TaskStatus as V;
    match status {
        TaskStatus::WaitingForPredecessor => V::WaitingForPredecessor,
        TaskStatus::WaitingForStartTime { .. } => V::WaitingForStartTime,
        TaskStatus::WaitingForPrecondition { .. } => V::WaitingForPrecondition,
        TaskStatus::WaitingForUserInput => V::WaitingForUserInput,
        TaskStatus::WaitingForEvent { .. } => V::WaitingForEvent,
        TaskStatus::Blocked => V::Blocked,
        TaskStatus::WaitingForRetry { .. } => V::WaitingForRetry,
        TaskStatus::Running { .. } => V::Running,
        TaskStatus::Ready => V::Ready,
        TaskStatus::Claimed { .. } => V::Claimed,
        TaskStatus::Forwarded { .. } => V::Forwarded,
        TaskStatus::Suspended { .. } => V::Suspended,
        TaskStatus::Escalated { .. } => V::Escalated,
        TaskStatus::EndedOk => V::EndedOk,
        TaskStatus::EndedNotOk => V::EndedNotOk,
        TaskStatus::EndedSkipped => V::EndedSkipped,
        TaskStatus::EndedInactive => V::EndedInactive,
        TaskStatus::EndedTimeout => V::EndedTimeout,
        TaskStatus::Canceled => V::Canceled,
        TaskStatus::Terminated => V::Terminated,
        TaskStatus::Expired => V::Expired,
    }
}

pub fn instance_status(status: InstanceStatus) -> api::InstanceStatus {
    use api::InstanceStatus as V;
    match status {
        InstanceStatus::Running => V::Running,
        InstanceStatus::Waiting => V::Waiting,
        InstanceStatus::Blocked => V::Blocked,
        InstanceStatus::Completed => V::Completed,
        InstanceStatus::Failed => V::Failed,
        InstanceStatus::Aborted => V::Aborted,
    }
}

/// A reason: its rule's name, its sentence, and the rule's values (its own fields as the core
/// names them, without the tag).
pub fn reason(reason: &Reason) -> api::Reason {
    let mut details = match serde_json::to_value(reason) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let rule = match details.remove("rule") {
        Some(Value::String(rule)) => rule,
        _ => String::new(),
    };
    api::Reason {
        rule,
        message: reason.to_string(),
        details,
    }
}

/// One row of an instance listing.
pub fn instance_summary(row: &baton_store::InstanceSummary) -> api::InstanceSummary {
    api::InstanceSummary {
        id: row.id.clone(),
        process: row.definition_id.clone(),
        version: row.definition_version,
        status: instance_status(row.status),
        created_at: row.created_at,
        ended_at: row.ended_at,
        parent: row.parent.clone(),
        link: row.link.map(link_kind),
        case: row.case.clone(),
        work_status: row.work_status.clone(),
        department: row.department.clone(),
    }
}
