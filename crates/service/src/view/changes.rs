//! The engine's change records as the events of a change stream.

use baton_api_model as api;
use baton_engine::{Change, HumanTaskChange};

use super::{human_task_state, instance_status, task_state};

/// The `instance` event of a committed step.
pub fn instance_changed(change: &Change) -> api::ChangeEvent {
    api::ChangeEvent::Instance(api::InstanceChanged {
        instance: change.instance.clone(),
        process: change.process.clone(),
        status: instance_status(change.status),
        status_changed: change.status_changed,
        history_seq: change.seq.saturating_sub(1),
        tasks: change
            .tasks
            .iter()
            .map(|(task, status)| api::TaskChanged {
                task: task.clone(),
                status: task_state(status).status,
            })
            .collect(),
    })
}

/// The `human_task` event of a human task a step changed.
pub fn human_task_changed(change: &Change, human: &HumanTaskChange) -> api::ChangeEvent {
    api::ChangeEvent::HumanTask(api::HumanTaskChanged {
        instance: change.instance.clone(),
        process: change.process.clone(),
        task: human.task.clone(),
        human_task: human.human_task.0,
        status: human_task_state(&human.status).status,
        owner: human.status.claimed_by().map(str::to_owned),
    })
}
