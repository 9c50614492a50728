//! The change feed: after every commit the engine publishes a small record of each instance
//! step it committed (the instance's new status, the tasks whose status changed, the human
//! tasks that changed), so a server can stream them (`GET /api/events`) and a command line can
//! follow an instance without polling.
//!
//! The feed is a `tokio::sync::broadcast` channel with a bounded buffer
//! ([`CHANGE_FEED_CAPACITY`]). Publishing never waits: a subscriber that falls behind by more
//! than the buffer loses the oldest records and is told how many it missed (`Lagged`), and
//! should read the current state again. Records are built only while someone subscribes.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

use baton_core::user_task::{Caller, HumanTaskId, HumanTaskStatus, PotentialOwners};
use baton_core::{EventKind, Instance, InstanceStatus, TaskStatus};
use baton_store::StepRecord;

/// How many change records the feed holds for a subscriber that has not read them yet.
pub const CHANGE_FEED_CAPACITY: usize = 1024;

/// The feed's sending side. It counts its subscribers itself, so that a commit asks whether
/// anyone listens with one atomic load (the channel's own count takes its lock).
pub(crate) struct ChangeFeed {
    sender: broadcast::Sender<Arc<Change>>,
    subscribers: Arc<AtomicUsize>,
}

impl ChangeFeed {
    pub(crate) fn new() -> Self {
        Self {
            sender: broadcast::channel(CHANGE_FEED_CAPACITY).0,
            subscribers: Arc::default(),
        }
    }

    pub(crate) fn subscribe(&self) -> Subscription {
        // Counted first: a commit that comes after the subscription sees it.
        self.subscribers.fetch_add(1, SeqCst);
        Subscription {
            receiver: self.sender.subscribe(),
            subscribers: self.subscribers.clone(),
        }
    }

    /// Does anyone subscribe?
    pub(crate) fn listened(&self) -> bool {
        self.subscribers.load(SeqCst) > 0
    }

    /// Sends each record to every subscriber; never waits for them.
    pub(crate) fn publish(&self, changes: Vec<Arc<Change>>) {
        for change in changes {
            // No receiver left is no error: nobody listens any more.
            let _ = self.sender.send(change);
        }
    }
}

/// One subscriber's end of the change feed: the records committed since it subscribed.
pub struct Subscription {
    receiver: broadcast::Receiver<Arc<Change>>,
    subscribers: Arc<AtomicUsize>,
}

impl Subscription {
    /// The next record; `Lagged(n)` when `n` records were dropped before this subscriber read
    /// them (it goes on with the oldest still held).
    pub async fn recv(&mut self) -> Result<Arc<Change>, RecvError> {
        self.receiver.recv().await
    }

    /// The next record if one is there.
    pub fn try_recv(&mut self) -> Result<Arc<Change>, TryRecvError> {
        self.receiver.try_recv()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.subscribers.fetch_sub(1, SeqCst);
    }
}

/// One committed step of one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub instance: String,
    /// The process (definition id; `PROCESS/TASK` for a ForEach iteration).
    pub process: String,
    /// The instance's status after the step.
    pub status: InstanceStatus,
    /// Did the step change the instance's status (or start it)?
    pub status_changed: bool,
    /// The instance's `next_seq` after the step: its history holds the events before it.
    pub seq: u64,
    /// Each task whose status the step changed, with its new status, in the order they changed.
    pub tasks: Vec<(String, TaskStatus)>,
    /// Each human task the step changed, as it is after the step.
    pub human_tasks: Vec<HumanTaskChange>,
    /// The instance's department scope (who may see the change).
    pub department: Option<String>,
}

/// A human task after a step changed it, with who may see it.
#[derive(Debug, Clone, PartialEq)]
pub struct HumanTaskChange {
    /// The `user` task of the process.
    pub task: String,
    pub human_task: HumanTaskId,
    pub status: HumanTaskStatus,
    pub potential_owners: PotentialOwners,
    pub administrators: PotentialOwners,
    pub originator: Option<String>,
}

impl HumanTaskChange {
    /// May `caller` see this human task: an administrator, a potential owner or administrator
    /// of the task (listed, or through a group), its owner, or its originator?
    pub fn visible_to(&self, caller: &Caller) -> bool {
        caller.admin
            || self.potential_owners.includes(caller)
            || self.administrators.includes(caller)
            || self.status.claimed_by() == Some(caller.user.as_str())
            || self.originator.as_deref() == Some(caller.user.as_str())
    }
}

/// The change records of the instance steps among `steps`.
pub(crate) fn changes_of(steps: &[StepRecord]) -> Vec<Arc<Change>> {
    steps
        .iter()
        .filter_map(|step| Some(Arc::new(change_of(step, step.instance.as_deref()?))))
        .collect()
}

fn change_of(step: &StepRecord, instance: &Instance) -> Change {
    let mut tasks: Vec<(String, TaskStatus)> = Vec::new();
    let mut human: Vec<(String, HumanTaskId)> = Vec::new();
    for event in &step.events {
        let Some(task) = &event.task else { continue };
        match &event.kind {
            EventKind::TaskStatusChanged { to, .. } => {
                match tasks.iter_mut().find(|(t, _)| t == task) {
                    Some(seen) => seen.1 = to.clone(),
                    None => tasks.push((task.clone(), to.clone())),
                }
            }
            EventKind::HumanTask { human_task, .. }
                if !human.iter().any(|(t, h)| t == task && h == human_task) =>
            {
                human.push((task.clone(), *human_task))
            }
            _ => {}
        }
    }
    let human_tasks = human
        .into_iter()
        .filter_map(|(task, id)| {
            let user_task = instance
                .tasks
                .iter()
                .filter_map(|t| t.user_task.as_deref())
                .find(|ut| ut.process_task == task)?;
            let human = user_task.task(id)?;
            Some(HumanTaskChange {
                task,
                human_task: id,
                status: human.status.clone(),
                potential_owners: human.potential_owners.clone(),
                administrators: human.administrators.clone(),
                originator: human.originator.clone(),
            })
        })
        .collect();
    Change {
        instance: instance.id.clone(),
        process: instance.definition_id.clone(),
        status: instance.status,
        status_changed: step.status_before != Some(instance.status),
        seq: instance.next_seq,
        tasks,
        human_tasks,
        department: instance.department.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn human_task(status: HumanTaskStatus) -> HumanTaskChange {
        HumanTaskChange {
            task: "review".into(),
            human_task: HumanTaskId(0),
            status,
            potential_owners: PotentialOwners::group("editors"),
            administrators: PotentialOwners::user("chief"),
            originator: Some("starter".into()),
        }
    }

    #[test]
    fn a_human_task_is_visible_to_its_people_and_administrators_and_to_nobody_else() {
        let ready = human_task(HumanTaskStatus::Ready);
        assert!(
            ready.visible_to(&Caller::new("john").in_group("editors")),
            "a potential owner through a group"
        );
        assert!(
            ready.visible_to(&Caller::new("chief")),
            "the task's administrator"
        );
        assert!(ready.visible_to(&Caller::new("starter")), "the originator");
        assert!(
            ready.visible_to(&Caller::new("root").admin()),
            "an administrator of everything"
        );
        assert!(!ready.visible_to(&Caller::new("eve")));
        assert!(!ready.visible_to(&Caller::new("eve").in_group("sales")));

        let claimed = human_task(HumanTaskStatus::Claimed {
            by: "ann".into(),
            since: chrono::Utc::now(),
        });
        assert!(
            claimed.visible_to(&Caller::new("ann")),
            "its owner, even when no longer listed"
        );
    }
}
