//! Sub-processes through the engine and a real SQLite store: the `call` task (a synchronous
//! sub-process) and the `handoff` task (Pega's Hand Off), and Stardust's table "Behavior of
//! Subprocesses in Process Instance Hierarchy" for both, one test per cell. A child's first
//! steps commit with its parent's; its end reaches its parent through a durable timer, which
//! the tests fire as the worker would.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};
use tempfile::TempDir;

use baton_core::instance::LinkKind;
use baton_core::user_task::{HumanTaskId, UserTaskCommand};
use baton_core::{Command, EventKind, Instance, InstanceStatus, Reason, TaskStatus};
use baton_engine::{Engine, EngineOptions, ManualClock};
use baton_store::{IdentityStore, InstanceQuery, InstanceReader, NewUser, TimerQueue};
use baton_store_sqlite::{Durability, SqliteStore};

type SqliteEngine = Engine<SqliteStore>;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

struct Harness {
    engine: SqliteEngine,
    _dir: TempDir,
}

impl Harness {
    async fn new(sources: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal)
            .expect("the database opens");
        let engine = Engine::new(
            store,
            Arc::new(ManualClock::new(t0())),
            EngineOptions {
                node: "test-node".into(),
                ..EngineOptions::default()
            },
        );
        engine
            .store()
            .add_user(NewUser::named("mary"), t0())
            .await
            .unwrap();
        for (n, source) in sources.iter().enumerate() {
            engine
                .deploy(&format!("flow-{n}.yaml"), source)
                .await
                .unwrap_or_else(|e| panic!("the definition deploys: {e}"));
        }
        Self { engine, _dir: dir }
    }

    async fn start(&self, process: &str, data: Value) -> Instance {
        let data: Map<String, Value> = data.as_object().cloned().unwrap();
        Instance::clone(
            &self
                .engine
                .start(process, data)
                .await
                .unwrap_or_else(|e| panic!("{process} starts: {e}")),
        )
    }

    async fn get(&self, id: &str) -> Instance {
        self.engine.instance(id).await.unwrap()
    }

    /// The status of `task` of instance `id` now.
    async fn task(&self, id: &str, task: &str) -> (TaskStatus, Option<Reason>) {
        let instance = self.get(id).await;
        let def = self
            .engine
            .definition(&instance.definition_id, Some(instance.definition_version))
            .await
            .unwrap();
        let state = &instance.tasks[def.task_index(task).unwrap()];
        (state.status.clone(), state.reason.clone())
    }

    /// The child task `task` of `parent` started.
    async fn child_of(&self, parent: &str, task: &str) -> Instance {
        let instance = self.get(parent).await;
        let def = self
            .engine
            .definition(&instance.definition_id, Some(instance.definition_version))
            .await
            .unwrap();
        let child = instance.tasks[def.task_index(task).unwrap()]
            .child
            .clone()
            .expect("the task started a child");
        self.get(&child.instance).await
    }

    /// mary claims and completes (or fails) the human task of user task `task`.
    async fn human(&self, id: &str, task: &str, outcome: Result<Value, &str>) {
        let original = HumanTaskId::ORIGINAL;
        self.engine
            .user_task(id, task, "mary", UserTaskCommand::Claim { task: original })
            .await
            .unwrap();
        let command = match outcome {
            Ok(output) => UserTaskCommand::Complete {
                task: original,
                output: output.as_object().cloned().unwrap(),
            },
            Err(reason) => UserTaskCommand::Fail {
                task: original,
                reason: reason.into(),
            },
        };
        self.engine
            .user_task(id, task, "mary", command)
            .await
            .unwrap();
    }

    /// Fires due timers until none is left: what the worker does.
    async fn settle(&self) {
        while self.engine.fire_due_timers(1000).await.unwrap() > 0 {}
    }

    async fn abort(&self, id: &str, abort_parent: bool) {
        self.engine
            .apply(
                id,
                Command::Abort {
                    by: "ops".into(),
                    abort_parent,
                },
            )
            .await
            .unwrap();
        self.settle().await;
    }
}

const CHILD_WITH_APPROVAL: &str = "
id: child
data:
  amount: {type: integer}
  total: {type: integer, default: 0}
tasks:
  - id: sum
    kind: set
    set: {total: \"data.amount + 1\"}
  - id: approve
    kind: user
    after: [sum]
    title: Approve
    owners: [mary]
";

const PARENT_CALLING: &str = "
id: parent
data:
  amount: {type: integer, default: 20}
  result: {type: integer, default: 0}
tasks:
  - id: sub
    kind: call
    process: child
    input: {amount: \"data.amount * 2\"}
    output: {result: \"output.total\"}
";

// ---- call ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_call_starts_its_child_with_the_input_and_maps_the_output_back_when_it_completes() {
    let h = Harness::new(&[CHILD_WITH_APPROVAL, PARENT_CALLING]).await;
    let parent = h.start("parent", json!({})).await;
    assert!(matches!(
        h.task(&parent.id, "sub").await.0,
        TaskStatus::Running { .. }
    ));
    let child = h.child_of(&parent.id, "sub").await;
    assert_eq!(
        child.data["amount"],
        json!(40),
        "the input mapping gave the child its data"
    );
    let link = child.parent.clone().expect("the child names its parent");
    assert_eq!(
        (link.instance.as_str(), link.task.as_str(), link.kind),
        (parent.id.as_str(), "sub", LinkKind::Call)
    );
    assert_eq!(
        (child.root.as_deref(), child.case.as_str(), child.depth),
        (Some(parent.id.as_str()), parent.id.as_str(), 1)
    );

    // Stardust: the child must complete before its root completes.
    assert_eq!(h.get(&parent.id).await.status, InstanceStatus::Running);
    h.human(&child.id, "approve", Ok(json!({}))).await;
    assert_eq!(h.get(&child.id).await.status, InstanceStatus::Completed);
    h.settle().await;
    let parent = h.get(&parent.id).await;
    assert_eq!(parent.status, InstanceStatus::Completed);
    assert_eq!(
        parent.data["result"],
        json!(41),
        "the output mapping read the child's data"
    );
    let history = h.engine.store().history(&parent.id).await.unwrap();
    assert!(history.iter().any(|e| matches!(&e.kind, EventKind::ChildStarted { child: c, link: LinkKind::Call, .. } if *c == child.id)));
}

#[tokio::test]
async fn a_child_that_completes_in_its_first_step_ends_the_call_in_the_same_step() {
    let child = "
id: quick
data: {n: {type: integer}, doubled: {type: integer, default: 0}}
tasks:
  - {id: double, kind: set, set: {doubled: \"data.n * 2\"}}
";
    let parent = "
id: caller
data: {got: {type: integer, default: 0}}
tasks:
  - {id: sub, kind: call, process: quick, input: {n: \"21\"}, output: {got: \"output.doubled\"}}
";
    let h = Harness::new(&[child, parent]).await;
    let started = h.start("caller", json!({})).await;
    assert_eq!(
        started.status,
        InstanceStatus::Completed,
        "nothing waited: one step did it all"
    );
    assert_eq!(started.data["got"], json!(42));
    assert_eq!(
        h.child_of(&started.id, "sub").await.status,
        InstanceStatus::Completed
    );
}

#[tokio::test]
async fn a_call_to_a_process_that_is_not_deployed_ends_not_ok_and_starts_nothing() {
    let parent = "
id: lonely
tasks:
  - {id: sub, kind: call, process: nowhere}
  - {id: pinned, kind: call, process: lonely, version: 7}
";
    let h = Harness::new(&[parent]).await;
    let started = h.start("lonely", json!({})).await;
    let (status, reason) = h.task(&started.id, "sub").await;
    assert_eq!(status, TaskStatus::EndedNotOk);
    assert_eq!(
        reason.unwrap().to_string(),
        "process `nowhere` cannot be started: it is not deployed"
    );
    let (_, reason) = h.task(&started.id, "pinned").await;
    assert_eq!(
        reason.unwrap().to_string(),
        "process `lonely` cannot be started: version 7 is not deployed"
    );
    assert!(h
        .engine
        .store()
        .children(&started.id)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_process_that_calls_itself_stops_at_the_depth_limit() {
    let recursive = "
id: again
tasks:
  - {id: deeper, kind: call, process: again}
";
    let h = Harness::new(&[recursive]).await;
    let root = h.start("again", json!({})).await;
    // Every level's call started the next one in the same step, down to the limit, where the
    // call fails; each failure goes up one level per delivered end.
    h.settle().await;
    let rows = h
        .engine
        .store()
        .list_instances(&InstanceQuery {
            case: Some(root.id.clone()),
            limit: 1000,
            ..InstanceQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        rows.len() as u32,
        baton_core::limits::DEFAULT_MAX_DEPTH + 1,
        "the root and one instance per level"
    );
    let deepest = rows
        .iter()
        .find(|r| r.status == InstanceStatus::Failed && r.id != root.id)
        .map(|r| r.id.clone())
        .unwrap();
    let deepest = h.get(&deepest).await;
    assert_eq!(h.get(&root.id).await.status, InstanceStatus::Failed);
    let (_, reason) = h.task(&root.id, "deeper").await;
    assert!(
        matches!(reason, Some(Reason::ChildEnded { .. })),
        "{reason:?}"
    );
    assert!(deepest.depth <= baton_core::limits::DEFAULT_MAX_DEPTH);
}

#[tokio::test]
async fn a_child_that_fails_ends_the_call_not_ok_with_the_childs_reason() {
    let h = Harness::new(&[CHILD_WITH_APPROVAL, PARENT_CALLING]).await;
    let parent = h.start("parent", json!({})).await;
    let child = h.child_of(&parent.id, "sub").await;
    h.human(&child.id, "approve", Err("the amount is wrong"))
        .await;
    h.settle().await;
    let (status, reason) = h.task(&parent.id, "sub").await;
    assert_eq!(status, TaskStatus::EndedNotOk);
    let said = reason.unwrap().to_string();
    assert!(
        said.starts_with(&format!("sub-process {} failed", child.id))
            && said.contains("the amount is wrong"),
        "{said}"
    );
    assert_eq!(h.get(&parent.id).await.status, InstanceStatus::Failed);
}

// ---- Stardust's table, synchronous sub-process (`call`) ----------------------------------------

const MIDDLE: &str = "
id: middle
tasks:
  - {id: inner, kind: call, process: leaf}
";
const LEAF: &str = "
id: leaf
tasks:
  - {id: wait, kind: user, title: Wait, owners: [mary]}
";
const TOP: &str = "
id: top
tasks:
  - {id: outer, kind: call, process: middle}
";

#[tokio::test]
async fn stardust_call_is_a_subprocess_of_the_root() {
    let h = Harness::new(&[LEAF, MIDDLE, TOP]).await;
    let top = h.start("top", json!({})).await;
    let middle = h.child_of(&top.id, "outer").await;
    let leaf = h.child_of(&middle.id, "inner").await;
    assert_eq!(
        leaf.root.as_deref(),
        Some(top.id.as_str()),
        "the root of a call's call is the root"
    );
    assert_eq!(leaf.parent.as_ref().unwrap().instance, middle.id);
    assert_eq!((leaf.case.as_str(), leaf.depth), (top.id.as_str(), 2));
    let rows = h
        .engine
        .store()
        .list_instances(&InstanceQuery {
            case: Some(top.id.clone()),
            limit: 10,
            ..InstanceQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 3, "the case holds the whole hierarchy");
}

#[tokio::test]
async fn stardust_call_must_complete_before_the_root_completes() {
    let h = Harness::new(&[LEAF, MIDDLE, TOP]).await;
    let top = h.start("top", json!({})).await;
    let middle = h.child_of(&top.id, "outer").await;
    let leaf = h.child_of(&middle.id, "inner").await;
    h.settle().await;
    assert!(
        !h.get(&top.id).await.status.is_terminal(),
        "the root waits for its sub-processes"
    );
    h.human(&leaf.id, "wait", Ok(json!({}))).await;
    h.settle().await;
    assert_eq!(h.get(&middle.id).await.status, InstanceStatus::Completed);
    assert_eq!(h.get(&top.id).await.status, InstanceStatus::Completed);
}

#[tokio::test]
async fn stardust_aborting_the_root_aborts_a_call_not_ended_yet() {
    let done = "
id: done-quickly
tasks:
  - {id: nothing, kind: end}
";
    let top = "
id: top2
tasks:
  - {id: quick, kind: call, process: done-quickly}
  - {id: outer, kind: call, process: middle}
";
    let h = Harness::new(&[LEAF, MIDDLE, done, top]).await;
    let top = h.start("top2", json!({})).await;
    let finished = h.child_of(&top.id, "quick").await;
    let middle = h.child_of(&top.id, "outer").await;
    let leaf = h.child_of(&middle.id, "inner").await;
    h.abort(&top.id, false).await;
    assert_eq!(h.get(&top.id).await.status, InstanceStatus::Aborted);
    assert_eq!(
        h.get(&middle.id).await.status,
        InstanceStatus::Aborted,
        "aborted with its root"
    );
    assert_eq!(
        h.get(&leaf.id).await.status,
        InstanceStatus::Aborted,
        "and its own sub-process too"
    );
    assert_eq!(
        h.get(&finished.id).await.status,
        InstanceStatus::Completed,
        "an ended child stays as it ended"
    );
}

#[tokio::test]
async fn stardust_aborting_a_call_does_not_abort_its_parent_unless_the_user_decides_so() {
    // By default the call ends not OK: the parent decides what that means.
    let h = Harness::new(&[LEAF, MIDDLE, TOP]).await;
    let top = h.start("top", json!({})).await;
    let middle = h.child_of(&top.id, "outer").await;
    let leaf = h.child_of(&middle.id, "inner").await;
    h.abort(&leaf.id, false).await;
    let (status, reason) = h.task(&middle.id, "inner").await;
    assert_eq!(status, TaskStatus::EndedNotOk);
    assert!(
        matches!(reason, Some(Reason::ChildEnded { ref status, .. }) if status == "aborted"),
        "{reason:?}"
    );
    assert_ne!(h.get(&top.id).await.status, InstanceStatus::Aborted);

    // The user decides on the abort: every instance above it is aborted.
    let h = Harness::new(&[LEAF, MIDDLE, TOP]).await;
    let top = h.start("top", json!({})).await;
    let middle = h.child_of(&top.id, "outer").await;
    let leaf = h.child_of(&middle.id, "inner").await;
    h.abort(&leaf.id, true).await;
    assert_eq!(h.get(&middle.id).await.status, InstanceStatus::Aborted);
    let top = h.get(&top.id).await;
    assert_eq!(
        top.status,
        InstanceStatus::Aborted,
        "the abort went up to the root"
    );
    let reason = h
        .engine
        .store()
        .history(&top.id)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .find_map(|e| match e.kind {
            EventKind::InstanceStatusChanged {
                to: InstanceStatus::Aborted,
                reason,
            } => reason,
            _ => None,
        });
    assert!(
        matches!(reason, Some(Reason::ChildAborted { ref by, .. }) if by == "ops"),
        "{reason:?}"
    );
}

#[tokio::test]
async fn stardust_a_call_with_abort_parent_aborts_its_parent_when_the_child_is_aborted() {
    let middle = "
id: middle
tasks:
  - {id: inner, kind: call, process: leaf, abort_parent: true}
";
    let h = Harness::new(&[LEAF, middle, TOP]).await;
    let top = h.start("top", json!({})).await;
    let middle = h.child_of(&top.id, "outer").await;
    let leaf = h.child_of(&middle.id, "inner").await;
    h.abort(&leaf.id, false).await;
    assert_eq!(
        h.get(&middle.id).await.status,
        InstanceStatus::Aborted,
        "the call's own setting aborts its parent"
    );
    // The root's call (without the setting) decides for itself: it ends not OK.
    assert_eq!(h.task(&top.id, "outer").await.0, TaskStatus::EndedNotOk);
    assert_eq!(h.get(&top.id).await.status, InstanceStatus::Failed);
}

#[tokio::test]
async fn stardust_recovering_the_root_recovers_its_failed_call_instead_of_starting_another() {
    let h = Harness::new(&[CHILD_WITH_APPROVAL, PARENT_CALLING]).await;
    let parent = h.start("parent", json!({})).await;
    let child = h.child_of(&parent.id, "sub").await;
    h.human(&child.id, "approve", Err("not yet")).await;
    h.settle().await;
    assert_eq!(h.get(&parent.id).await.status, InstanceStatus::Failed);
    assert_eq!(h.get(&child.id).await.status, InstanceStatus::Failed);

    h.engine
        .apply(
            &parent.id,
            Command::Recover {
                by: "ops".into(),
                attempt: None,
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        h.task(&parent.id, "sub").await.0,
        TaskStatus::Running { attempt: 2, .. }
    ));
    assert_eq!(
        h.child_of(&parent.id, "sub").await.id,
        child.id,
        "the same child, recovered"
    );
    assert_eq!(
        h.engine.store().children(&parent.id).await.unwrap(),
        [child.id.clone()],
        "no new child"
    );
    let recovered = h.get(&child.id).await;
    assert_eq!(recovered.status, InstanceStatus::Waiting);
    assert_eq!(
        h.task(&child.id, "approve").await.0,
        TaskStatus::Ready,
        "its failed task runs again"
    );

    h.human(&child.id, "approve", Ok(json!({}))).await;
    h.settle().await;
    let parent = h.get(&parent.id).await;
    assert_eq!(
        parent.status,
        InstanceStatus::Completed,
        "the recovered child's end reached the recovered call"
    );
    assert_eq!(parent.data["result"], json!(41));
}

#[tokio::test]
async fn recovering_an_instance_with_nothing_to_recover_is_refused() {
    let h = Harness::new(&[CHILD_WITH_APPROVAL, PARENT_CALLING]).await;
    let parent = h.start("parent", json!({})).await;
    let refused = h
        .engine
        .apply(
            &parent.id,
            Command::Recover {
                by: "ops".into(),
                attempt: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("no task of it ended not OK"),
        "{refused}"
    );
    h.abort(&parent.id, false).await;
    let refused = h
        .engine
        .apply(
            &parent.id,
            Command::Recover {
                by: "ops".into(),
                attempt: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("only an instance that failed"),
        "{refused}"
    );
}

// ---- handoff (Pega's Hand Off) -------------------------------------------------------------

const FULFIL: &str = "
id: fulfil
data:
  channel: {type: string}
  customer: {type: string}
  copied_inline: {type: string, default: ''}
  late: {type: string, default: ''}
tasks:
  - id: copy
    kind: set
    set: {copied_inline: \"offer.OfferName\"}
  - id: approve
    kind: user
    after: [copy]
    title: Approve
    owners: [mary]
  - id: read-late
    kind: set
    after: [approve]
    set: {late: \"offer.OfferName\"}
";

const OFFER: &str = "
id: offer
data:
  Channel: {type: string, default: web}
  CustomerID: {type: string, default: C-7}
  OfferName: {type: string, default: Gold}
  reference: {type: string, default: ''}
  seen_status: {type: string, default: ''}
tasks:
  - id: hand
    kind: handoff
    process: fulfil
    work_status: Pending-Fulfillment
    input: {channel: \"data.Channel\", customer: \"data.CustomerID\"}
  - id: tell
    kind: set
    after: [hand]
    set:
      reference: \"'REF-' + instance.referenced_instances[0]\"
      seen_status: \"instance.work_status\"
";

#[tokio::test]
async fn a_handoff_runs_the_child_inline_to_its_first_stopping_point_then_the_parent_goes_on() {
    let h = Harness::new(&[FULFIL, OFFER]).await;
    let offer = h.start("offer", json!({})).await;
    assert_eq!(
        offer.status,
        InstanceStatus::Completed,
        "the parent's flow resumed after the hand-off, in the same step"
    );
    let child_id = offer
        .referenced_instances
        .first()
        .cloned()
        .expect("the hand-off is referenced (Pega's pyReferencedInsKeys)");
    assert_eq!(offer.work_status.as_deref(), Some("Pending-Fulfillment"));
    assert_eq!(
        offer.data["reference"],
        json!(format!("REF-{child_id}")),
        "later expressions read the reference"
    );
    assert_eq!(
        offer.data["seen_status"],
        json!("Pending-Fulfillment"),
        "and the work status"
    );

    let child = h.get(&child_id).await;
    assert_eq!(
        child.status,
        InstanceStatus::Waiting,
        "the child stopped at its human task and lives on"
    );
    assert_eq!(
        child.data["copied_inline"],
        json!("Gold"),
        "inline, the child saw the whole parent data as `offer`"
    );
    assert_eq!(
        (
            child.data["channel"].clone(),
            child.data["customer"].clone()
        ),
        (json!("web"), json!("C-7")),
        "the input mapping copied onto its data"
    );
    assert!(
        !child.data.contains_key("OfferName"),
        "nothing else of the parent's data is the child's"
    );
}

#[tokio::test]
async fn a_handoff_commits_in_its_parents_step_and_adds_no_commit_of_its_own() {
    let h = Harness::new(&[FULFIL, OFFER]).await;
    let (commits, writes) = (
        h.engine.metrics().commit_latency().count,
        h.engine.store().write_stats().requests,
    );
    let offer = h.start("offer", json!({})).await;
    assert_eq!(
        offer.status,
        InstanceStatus::Completed,
        "the parent's one step handed off and went on to its end"
    );
    assert_eq!(
        h.engine.metrics().commit_latency().count - commits,
        1,
        "the engine committed the parent's step, once"
    );
    assert_eq!(
        h.engine.store().write_stats().requests - writes,
        1,
        "and the store took one write: the child's inline steps went with it"
    );
    assert_eq!(
        h.get(&offer.referenced_instances[0]).await.status,
        InstanceStatus::Waiting
    );
}

#[tokio::test]
async fn after_its_stopping_point_a_handed_off_child_sees_only_what_it_copied() {
    let h = Harness::new(&[FULFIL, OFFER]).await;
    let offer = h.start("offer", json!({})).await;
    let child = offer.referenced_instances[0].clone();
    h.human(&child, "approve", Ok(json!({}))).await;
    let (status, reason) = h.task(&child, "read-late").await;
    assert_eq!(
        status,
        TaskStatus::EndedNotOk,
        "the offer data is gone once the child lives on its own"
    );
    assert!(
        matches!(reason, Some(Reason::ExpressionFailed { ref field, .. }) if field == "set.late"),
        "{reason:?}"
    );
    assert_eq!(
        h.get(&child).await.data["copied_inline"],
        json!("Gold"),
        "what it copied inline stays"
    );
}

#[tokio::test]
async fn a_handed_off_child_without_a_stopping_point_runs_to_its_end_before_the_parent_goes_on() {
    let straight = "
id: straight
data: {stamp: {type: string, default: ''}}
tasks:
  - {id: stamp, kind: set, set: {stamp: \"'seen ' + offer.OfferName\"}}
";
    let offer = OFFER
        .replace("process: fulfil", "process: straight")
        .replace(
            "input: {channel: \"data.Channel\", customer: \"data.CustomerID\"}",
            "input: {}",
        );
    let h = Harness::new(&[straight, &offer]).await;
    let parent = h.start("offer", json!({})).await;
    let child = h.get(&parent.referenced_instances[0]).await;
    assert_eq!(child.status, InstanceStatus::Completed);
    assert_eq!(child.data["stamp"], json!("seen Gold"));
    let history = h.engine.store().history(&parent.id).await.unwrap();
    let handed = history
        .iter()
        .position(|e| matches!(e.kind, EventKind::ChildStarted { .. }))
        .unwrap();
    let told = history
        .iter()
        .position(|e| {
            e.task.as_deref() == Some("tell") && matches!(e.kind, EventKind::DataChanged { .. })
        })
        .unwrap();
    assert!(handed < told, "the child ran before the parent went on");
}

#[tokio::test]
async fn a_handoff_whose_inline_part_fails_hands_nothing_off_and_leaves_the_parent_data_alone() {
    let failing = "
id: failing
data: {x: {type: integer, default: 0}}
tasks:
  - {id: broken, kind: set, set: {x: \"offer.missing + 1\"}}
  - {id: wait, kind: user, after: [broken], title: Wait, owners: [mary]}
";
    let offer = OFFER
        .replace("process: fulfil", "process: failing")
        .replace(
            "input: {channel: \"data.Channel\", customer: \"data.CustomerID\"}",
            "input: {}",
        );
    let h = Harness::new(&[failing, &offer]).await;
    let parent = h.start("offer", json!({})).await;
    let (status, reason) = h.task(&parent.id, "hand").await;
    assert_eq!(status, TaskStatus::EndedNotOk);
    let said = reason.unwrap().to_string();
    assert!(said.starts_with("nothing was handed off: the inline part of `failing` failed: task `broken` ended not OK"), "{said}");
    assert!(
        h.engine
            .store()
            .children(&parent.id)
            .await
            .unwrap()
            .is_empty(),
        "no child exists"
    );
    let parent = h.get(&parent.id).await;
    assert!(parent.referenced_instances.is_empty() && parent.work_status.is_none());
    assert_eq!(
        parent.data["reference"],
        json!(""),
        "the parent's data is unchanged"
    );
    let all = h
        .engine
        .store()
        .list_instances(&InstanceQuery {
            limit: 10,
            ..InstanceQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "only the parent is stored");
}

#[tokio::test]
async fn a_handoff_to_a_process_that_is_not_deployed_or_refuses_its_input_ends_not_ok() {
    let h = Harness::new(&[OFFER]).await;
    let parent = h.start("offer", json!({})).await;
    let (status, reason) = h.task(&parent.id, "hand").await;
    assert_eq!(status, TaskStatus::EndedNotOk);
    assert_eq!(
        reason.unwrap().to_string(),
        "process `fulfil` cannot be started: it is not deployed"
    );

    let h = Harness::new(&[
        FULFIL,
        &OFFER.replace("customer: \"data.CustomerID\"", "customer: \"42\""),
    ])
    .await;
    let parent = h.start("offer", json!({})).await;
    let (_, reason) = h.task(&parent.id, "hand").await;
    assert!(
        matches!(&reason, Some(Reason::ChildRefused { process, problem }) if process == "fulfil" && problem.contains("`customer` must be string")),
        "{reason:?}"
    );
    assert!(h
        .engine
        .store()
        .children(&parent.id)
        .await
        .unwrap()
        .is_empty());
}

// ---- Stardust's table, asynchronous sub-process (`handoff`) ------------------------------------

#[tokio::test]
async fn stardust_handoff_is_not_a_subprocess_of_the_root_but_is_in_its_case() {
    let h = Harness::new(&[FULFIL, OFFER]).await;
    let offer = h.start("offer", json!({})).await;
    let child = h.get(&offer.referenced_instances[0]).await;
    assert_eq!(child.root, None, "it is a root of its own");
    assert_eq!(
        child.parent.as_ref().map(|p| (p.instance.clone(), p.kind)),
        Some((offer.id.clone(), LinkKind::Handoff))
    );
    assert_eq!(child.case, offer.id, "users track both as one case");
}

#[tokio::test]
async fn stardust_a_handoff_need_not_complete_before_the_root_completes() {
    let h = Harness::new(&[FULFIL, OFFER]).await;
    let offer = h.start("offer", json!({})).await;
    assert_eq!(offer.status, InstanceStatus::Completed);
    assert_eq!(
        h.get(&offer.referenced_instances[0]).await.status,
        InstanceStatus::Waiting
    );
}

#[tokio::test]
async fn stardust_aborting_the_root_does_not_abort_a_handoff() {
    let waiting_offer = format!(
        "{OFFER}  - {{id: hold, kind: user, after: [tell], title: Hold, owners: [mary]}}\n"
    );
    let h = Harness::new(&[FULFIL, &waiting_offer]).await;
    let offer = h.start("offer", json!({})).await;
    h.abort(&offer.id, false).await;
    assert_eq!(h.get(&offer.id).await.status, InstanceStatus::Aborted);
    assert_eq!(
        h.get(&offer.referenced_instances[0]).await.status,
        InstanceStatus::Waiting,
        "it lives on its own"
    );
}

#[tokio::test]
async fn stardust_aborting_a_handoff_does_not_abort_the_root_even_when_asked() {
    let waiting_offer = format!(
        "{OFFER}  - {{id: hold, kind: user, after: [tell], title: Hold, owners: [mary]}}\n"
    );
    let h = Harness::new(&[FULFIL, &waiting_offer]).await;
    let offer = h.start("offer", json!({})).await;
    h.abort(&offer.referenced_instances[0], true).await;
    assert_eq!(
        h.get(&offer.referenced_instances[0]).await.status,
        InstanceStatus::Aborted
    );
    assert_eq!(
        h.get(&offer.id).await.status,
        InstanceStatus::Waiting,
        "the parent heard nothing"
    );
    assert_eq!(
        h.engine
            .store()
            .due_timers_of(&offer.id, t0() + chrono::Duration::days(1), 10)
            .await
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn stardust_recovering_the_root_does_not_recover_a_handoff() {
    let failing_later = format!(
        "{OFFER}  - {{id: hold, kind: user, after: [tell], title: Hold, owners: [mary]}}\n"
    );
    let h = Harness::new(&[FULFIL, &failing_later]).await;
    let offer = h.start("offer", json!({})).await;
    let child = offer.referenced_instances[0].clone();
    // The child fails on its own (its next task is blocked by it); the parent fails on its own.
    h.human(&child, "approve", Err("no")).await;
    h.human(&offer.id, "hold", Err("no")).await;
    assert_eq!(h.task(&child, "approve").await.0, TaskStatus::EndedNotOk);
    assert_eq!(h.get(&offer.id).await.status, InstanceStatus::Failed);
    h.engine
        .apply(
            &offer.id,
            Command::Recover {
                by: "ops".into(),
                attempt: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        h.task(&offer.id, "hold").await.0,
        TaskStatus::Ready,
        "the root's own failure runs again"
    );
    assert_eq!(
        h.task(&child, "approve").await.0,
        TaskStatus::EndedNotOk,
        "the handed-off instance is not the root's to recover"
    );
    assert_eq!(
        h.get(&offer.id).await.referenced_instances,
        [child],
        "and no second hand-off happened"
    );
}

#[tokio::test]
async fn deleting_a_parent_deletes_its_calls_but_not_what_it_handed_off() {
    let both = "
id: both
data: {OfferName: {type: string, default: Silver}}
tasks:
  - {id: hand, kind: handoff, process: fulfil, input: {channel: \"'web'\", customer: \"'C-1'\"}}
  - {id: sub, kind: call, process: leaf}
";
    let h = Harness::new(&[FULFIL, LEAF, both]).await;
    let parent = h.start("both", json!({})).await;
    let called = h.child_of(&parent.id, "sub").await;
    let handed = parent.referenced_instances[0].clone();
    h.engine.delete_instance(&parent.id, "ops").await.unwrap();
    assert!(
        h.get(&called.id).await.deleted_at.is_some(),
        "a sub-process goes with its parent"
    );
    assert!(
        h.get(&handed).await.deleted_at.is_none(),
        "a hand-off lives on its own"
    );
}

#[tokio::test]
async fn a_call_starts_the_latest_version_of_its_process_or_the_one_it_pins() {
    let v1 = "
id: versioned
data: {v: {type: integer, default: 0}}
tasks:
  - {id: mark, kind: set, set: {v: \"1\"}}
";
    let v2 = v1.replace("set: {v: \"1\"}", "set: {v: \"2\"}");
    let caller = "
id: caller
data: {latest: {type: integer, default: 0}, pinned: {type: integer, default: 0}}
tasks:
  - {id: newest, kind: call, process: versioned, output: {latest: \"output.v\"}}
  - {id: first, kind: call, process: versioned, version: 1, output: {pinned: \"output.v\"}}
";
    let h = Harness::new(&[v1, &v2, caller]).await;
    let started = h.start("caller", json!({})).await;
    assert_eq!(
        (
            started.data["latest"].clone(),
            started.data["pinned"].clone()
        ),
        (json!(2), json!(1))
    );
    assert_eq!(h.child_of(&started.id, "first").await.definition_version, 1);
    assert_eq!(
        h.child_of(&started.id, "newest").await.definition_version,
        2
    );
}
