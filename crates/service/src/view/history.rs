//! History events as views.

use baton_api_model as api;
use baton_core::user_task::UserTaskEventKind;
use baton_core::{Event, EventKind};

use super::human_task::{human_task_state, people, role};
use super::instance::{instance_status, reason, task_state};

/// The view of one history event.
pub fn history_event(event: &Event) -> api::HistoryEvent {
    use api::Event as V;
    let kind = match &event.kind {
        EventKind::InstanceStarted {
            definition,
            version,
            data,
        } => V::InstanceStarted {
            process: definition.clone(),
            version: *version,
            data: data.clone(),
        },
        EventKind::InstanceStatusChanged { to, reason: r } => V::InstanceStatusChanged {
            to: instance_status(*to),
            reason: r.as_ref().map(reason),
        },
        EventKind::TaskStatusChanged { to, reason: r } => V::TaskStatusChanged {
            to: task_state(to),
            reason: r.as_ref().map(reason),
        },
        EventKind::DataChanged { values } => V::DataChanged {
            values: values.clone(),
        },
        EventKind::JobDispatched {
            attempt,
            command,
            topic,
        } => V::JobDispatched {
            attempt: *attempt,
            command: command.clone(),
            topic: topic.clone(),
        },
        EventKind::JobReported {
            attempt,
            worker,
            report,
            message,
            duration_ms,
        } => V::JobReported {
            attempt: *attempt,
            worker: worker.clone(),
            report: report.clone(),
            message: message.clone(),
            duration_ms: *duration_ms,
        },
        EventKind::JobFinished {
            attempt,
            exit_code,
            duration_ms,
            stdout_tail,
            stderr_tail,
        } => V::JobFinished {
            attempt: *attempt,
            exit_code: *exit_code,
            duration_ms: *duration_ms,
            stdout_tail: stdout_tail.clone(),
            stderr_tail: stderr_tail.clone(),
        },
        EventKind::JobRetried { attempt, reason: r } => V::JobRetried {
            attempt: *attempt,
            reason: reason(r),
        },
        EventKind::BranchesTaken { tasks } => V::BranchesTaken {
            tasks: tasks.clone(),
        },
        EventKind::WentBack { to, tasks, by } => V::WentBack {
            to: to.clone(),
            tasks: tasks.clone(),
            by: by.clone(),
        },
        EventKind::BreakpointChanged { enabled, by } => V::BreakpointChanged {
            enabled: *enabled,
            by: by.clone(),
        },
        EventKind::InputProvided { values, by } => V::InputProvided {
            values: values.clone(),
            by: by.clone(),
        },
        EventKind::Alert { reason: r } => V::Alert { reason: reason(r) },
        EventKind::IterationsStarted { first, count } => V::IterationsStarted {
            first: *first,
            count: *count,
        },
        EventKind::IterationsEnded {
            completed,
            not_completed,
        } => V::IterationsEnded {
            completed: *completed,
            not_completed: not_completed
                .iter()
                .map(|e| api::IterationOutcome {
                    index: e.index,
                    status: instance_status(e.status),
                })
                .collect(),
        },
        EventKind::IterationStarted { index } => V::IterationStarted { index: *index },
        EventKind::IterationEnded { index, status } => V::IterationEnded {
            index: *index,
            status: instance_status(*status),
        },
        EventKind::PostconditionEvaluated {
            condition,
            held,
            action,
        } => V::PostconditionEvaluated {
            condition: condition.clone(),
            held: *held,
            action: action.clone(),
        },
        EventKind::HumanTask {
            human_task,
            by,
            change,
        } => V::HumanTask {
            human_task: human_task.0,
            by: by.clone(),
            change: human_task_change(change),
        },
        EventKind::PeopleNotified {
            human_task,
            escalation,
            to,
        } => V::PeopleNotified {
            human_task: human_task.0,
            escalation: escalation.clone(),
            to: people(to),
        },
        EventKind::InstanceDeleted { by } => V::InstanceDeleted { by: by.clone() },
        EventKind::ChildStarted {
            child,
            process,
            version,
            link,
            by,
        } => V::ChildStarted {
            child: child.clone(),
            process: process.clone(),
            version: *version,
            link: super::instance::link_kind(*link),
            by: by.clone(),
        },
        EventKind::ChildRecovered { child } => V::ChildRecovered {
            child: child.clone(),
        },
        EventKind::WorkStatusChanged { to } => V::WorkStatusChanged { to: to.clone() },
        EventKind::Recovered { by, tasks } => V::Recovered {
            by: by.clone(),
            tasks: tasks.clone(),
        },
    };
    api::HistoryEvent {
        seq: event.seq,
        at: event.at,
        task: event.task.clone(),
        event: kind,
    }
}

fn human_task_change(change: &UserTaskEventKind) -> api::HumanTaskChange {
    use api::HumanTaskChange as V;
    match change {
        UserTaskEventKind::Created {
            role: r,
            title,
            potential_owners,
        } => {
            let (role, of) = role(*r);
            V::Created {
                role,
                of,
                title: title.clone(),
                potential_owners: people(potential_owners),
            }
        }
        UserTaskEventKind::StatusChanged { to } => V::StatusChanged {
            to: human_task_state(to),
        },
        UserTaskEventKind::Escalated { name, origin } => V::Escalated {
            name: name.clone(),
            origin: origin.0,
        },
        UserTaskEventKind::PriorityChanged { to } => V::PriorityChanged { to: *to },
        UserTaskEventKind::Reassigned { to } => V::Reassigned { to: people(to) },
        UserTaskEventKind::SubtaskEnded { subtask, status } => V::SubtaskEnded {
            subtask: subtask.0,
            status: status.clone(),
        },
    }
}
