//! Stardust's run-time operations on the hierarchy, through the engine and a real SQLite
//! store: spawning a sub-process under a running instance (the "Spawned Subprocess" row of
//! Stardust's table "Behavior of Subprocesses in Process Instance Hierarchy", one test per
//! cell) and aborting an instance started in the wrong process to start a peer in the right
//! one. Data passes by value.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};
use tempfile::TempDir;

use baton_core::instance::LinkKind;
use baton_core::user_task::{HumanTaskId, UserTaskCommand};
use baton_core::{
    Command, EventKind, Instance, InstanceStatus, Reason, TaskStatus, TransitionError,
};
use baton_engine::{Engine, EngineError, EngineOptions, ManualClock};
use baton_store::{IdentityStore, InstanceQuery, InstanceReader, NewUser};
use baton_store_sqlite::{Durability, SqliteStore};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

struct Harness {
    engine: Engine<SqliteStore>,
    _dir: TempDir,
}

impl Harness {
    async fn new(sources: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
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
        Instance::clone(
            &self
                .engine
                .start(process, data.as_object().cloned().unwrap())
                .await
                .unwrap(),
        )
    }

    async fn spawn(&self, from: &str, process: &str, data: Value) -> Instance {
        let data: Map<String, Value> = data.as_object().cloned().unwrap();
        Instance::clone(
            &self
                .engine
                .spawn(from, process, None, data, "mary")
                .await
                .unwrap_or_else(|e| panic!("the spawn: {e}")),
        )
    }

    async fn get(&self, id: &str) -> Instance {
        self.engine.instance(id).await.unwrap()
    }

    async fn task(&self, id: &str, task: &str) -> TaskStatus {
        let instance = self.get(id).await;
        let def = self
            .engine
            .definition(&instance.definition_id, Some(instance.definition_version))
            .await
            .unwrap();
        instance.tasks[def.task_index(task).unwrap()].status.clone()
    }

    async fn human(&self, id: &str, task: &str, outcome: Result<(), &str>) {
        let original = HumanTaskId::ORIGINAL;
        self.engine
            .user_task(id, task, "mary", UserTaskCommand::Claim { task: original })
            .await
            .unwrap();
        let command = match outcome {
            Ok(()) => UserTaskCommand::Complete {
                task: original,
                output: Map::new(),
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
        self.settle().await;
    }

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

/// A claim whose review waits for mary, calling a check that also waits for her.
const CLAIM: &str = "
id: claim
data:
  client: {type: string, default: ACME}
  amount: {type: integer, default: 100}
tasks:
  - {id: check, kind: call, process: check}
  - {id: review, kind: user, title: Review, owners: [mary]}
";
const CHECK: &str = "
id: check
tasks:
  - {id: look, kind: user, title: Look, owners: [mary]}
";
/// What users spawn: a request that waits for mary, then changes its copy of `amount`.
const REQUEST: &str = "
id: request
data:
  client: {type: string}
  amount: {type: integer, default: 0}
  topic: {type: string, default: ''}
tasks:
  - {id: handle, kind: user, title: Handle, owners: [mary]}
  - {id: bump, kind: set, after: [handle], set: {amount: \"data.amount + 1\"}}
";
const NOTE: &str = "
id: note
data: {client: {type: string, default: ''}}
tasks:
  - {id: noted, kind: end}
";

#[tokio::test]
async fn stardust_spawned_is_a_subprocess_of_the_root_whichever_instance_it_was_spawned_from() {
    let h = Harness::new(&[CHECK, CLAIM, REQUEST]).await;
    let claim = h.start("claim", json!({})).await;
    let check = h
        .get(&h.engine.store().children(&claim.id).await.unwrap()[0])
        .await;
    let spawned = h
        .spawn(&check.id, "request", json!({"topic": "refund"}))
        .await;
    let link = spawned.parent.clone().unwrap();
    assert_eq!(
        (link.instance.as_str(), link.kind),
        (claim.id.as_str(), LinkKind::Spawned),
        "spawned under the root, not under the call"
    );
    assert_eq!(
        (spawned.root.as_deref(), spawned.case.as_str()),
        (Some(claim.id.as_str()), claim.id.as_str())
    );
    assert_eq!(
        h.get(&claim.id)
            .await
            .spawned
            .iter()
            .map(|s| s.instance.clone())
            .collect::<Vec<_>>(),
        [spawned.id.clone()]
    );
    let history = h.engine.store().history(&claim.id).await.unwrap();
    assert!(history.iter().any(|e| matches!(&e.kind, EventKind::ChildStarted { link: LinkKind::Spawned, by: Some(by), .. } if by == "mary")));
}

#[tokio::test]
async fn a_spawned_instance_starts_with_the_data_of_the_instance_it_came_from_by_value() {
    let h = Harness::new(&[CHECK, CLAIM, REQUEST]).await;
    let claim = h.start("claim", json!({"amount": 7})).await;
    let spawned = h
        .spawn(&claim.id, "request", json!({"topic": "refund"}))
        .await;
    assert_eq!(
        (
            spawned.data["client"].clone(),
            spawned.data["amount"].clone(),
            spawned.data["topic"].clone()
        ),
        (json!("ACME"), json!(7), json!("refund"))
    );
    h.human(&spawned.id, "handle", Ok(())).await;
    assert_eq!(
        h.get(&spawned.id).await.data["amount"],
        json!(8),
        "the spawned instance changed its copy"
    );
    assert_eq!(
        h.get(&claim.id).await.data["amount"],
        json!(7),
        "the root does not see it: by value"
    );
}

#[tokio::test]
async fn stardust_spawned_must_complete_before_the_root_completes() {
    let h = Harness::new(&[CHECK, CLAIM, REQUEST]).await;
    let claim = h.start("claim", json!({})).await;
    let spawned = h.spawn(&claim.id, "request", json!({})).await;
    let check = h
        .engine
        .store()
        .children(&claim.id)
        .await
        .unwrap()
        .into_iter()
        .find(|c| *c != spawned.id)
        .unwrap();
    h.human(&check, "look", Ok(())).await;
    h.human(&claim.id, "review", Ok(())).await;
    let waiting = h.get(&claim.id).await;
    assert_eq!(
        waiting.status,
        InstanceStatus::Waiting,
        "every task of the root ended, but its spawned sub-process has not"
    );
    h.human(&spawned.id, "handle", Ok(())).await;
    assert_eq!(h.get(&claim.id).await.status, InstanceStatus::Completed);
}

#[tokio::test]
async fn stardust_aborting_the_root_aborts_spawned_subprocesses_not_ended_yet() {
    let h = Harness::new(&[CHECK, CLAIM, REQUEST, NOTE]).await;
    let claim = h.start("claim", json!({})).await;
    let open = h.spawn(&claim.id, "request", json!({})).await;
    let ended = h.spawn(&claim.id, "note", json!({})).await;
    assert_eq!(ended.status, InstanceStatus::Completed);
    h.abort(&claim.id, false).await;
    assert_eq!(h.get(&open.id).await.status, InstanceStatus::Aborted);
    assert_eq!(h.get(&ended.id).await.status, InstanceStatus::Completed);
}

#[tokio::test]
async fn stardust_aborting_a_spawned_subprocess_aborts_the_root_only_when_the_user_says_so() {
    let h = Harness::new(&[CHECK, CLAIM, REQUEST]).await;
    let claim = h.start("claim", json!({})).await;
    let spawned = h.spawn(&claim.id, "request", json!({})).await;
    h.abort(&spawned.id, false).await;
    assert_eq!(
        h.get(&claim.id).await.status,
        InstanceStatus::Running,
        "the root goes on"
    );

    let claim = h.start("claim", json!({})).await;
    let spawned = h.spawn(&claim.id, "request", json!({})).await;
    h.abort(&spawned.id, true).await;
    assert_eq!(
        h.get(&claim.id).await.status,
        InstanceStatus::Aborted,
        "the user chose to abort the root too"
    );
}

#[tokio::test]
async fn stardust_recovering_the_root_recovers_its_failed_spawned_subprocess() {
    let last_step_review = REQUEST.replace(
        "  - {id: bump, kind: set, after: [handle], set: {amount: \"data.amount + 1\"}}\n",
        "",
    );
    let h = Harness::new(&[CHECK, CLAIM, &last_step_review]).await;
    let claim = h.start("claim", json!({})).await;
    let spawned = h.spawn(&claim.id, "request", json!({})).await;
    let check = h
        .engine
        .store()
        .children(&claim.id)
        .await
        .unwrap()
        .into_iter()
        .find(|c| *c != spawned.id)
        .unwrap();
    h.human(&check, "look", Ok(())).await;
    h.human(&claim.id, "review", Ok(())).await;
    h.human(&spawned.id, "handle", Err("missing papers")).await;
    assert_eq!(h.get(&spawned.id).await.status, InstanceStatus::Failed);
    let failed = h.get(&claim.id).await;
    assert_eq!(
        failed.status,
        InstanceStatus::Failed,
        "a spawned sub-process that did not complete keeps the root from completing"
    );

    h.engine
        .apply(
            &claim.id,
            Command::Recover {
                by: "ops".into(),
                attempt: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(h.get(&claim.id).await.status, InstanceStatus::Waiting);
    assert_eq!(
        h.task(&spawned.id, "handle").await,
        TaskStatus::Ready,
        "the spawned sub-process was recovered with its root"
    );
    h.human(&spawned.id, "handle", Ok(())).await;
    assert_eq!(h.get(&claim.id).await.status, InstanceStatus::Completed);
}

#[tokio::test]
async fn a_spawn_under_an_ended_instance_or_of_an_unknown_process_is_refused_and_creates_nothing() {
    let h = Harness::new(&[CHECK, CLAIM, REQUEST]).await;
    let claim = h.start("claim", json!({})).await;
    let refused = h
        .engine
        .spawn(&claim.id, "nowhere", None, Map::new(), "mary")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, EngineError::ProcessNotFound(_)),
        "{refused}"
    );
    let bad = json!({"amount": "lots"}).as_object().cloned().unwrap();
    let refused = h
        .engine
        .spawn(&claim.id, "request", None, bad, "mary")
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("`amount` must be integer"),
        "{refused}"
    );
    h.abort(&claim.id, false).await;
    let refused = h
        .engine
        .spawn(&claim.id, "request", None, Map::new(), "mary")
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            EngineError::Transition(TransitionError::InstanceEnded(InstanceStatus::Aborted))
        ),
        "{refused}"
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
    assert_eq!(all.len(), 2, "only the claim and its check exist");
}

#[tokio::test]
async fn abort_and_start_replaces_an_instance_started_in_the_wrong_process_by_a_peer_with_its_data()
{
    let wrong = "
id: invoice
data:
  client: {type: string, default: ''}
  scan: {type: string, default: ''}
tasks:
  - {id: book, kind: user, title: Book, owners: [mary]}
";
    let right = "
id: complaint
data:
  client: {type: string, default: ''}
tasks:
  - {id: answer, kind: user, title: Answer, owners: [mary]}
";
    let h = Harness::new(&[wrong, right]).await;
    let started = h
        .start("invoice", json!({"client": "ACME", "scan": "scan-17.pdf"}))
        .await;
    let peer = Instance::clone(
        &h.engine
            .abort_and_start(&started.id, "complaint", None, "mary")
            .await
            .unwrap(),
    );
    let aborted = h.get(&started.id).await;
    assert_eq!(aborted.status, InstanceStatus::Aborted);
    assert_eq!(
        aborted.replaced_by.as_deref(),
        Some(peer.id.as_str()),
        "the aborted instance names its peer"
    );
    let link = peer.parent.clone().unwrap();
    assert_eq!(
        (link.instance.as_str(), link.kind),
        (started.id.as_str(), LinkKind::Peer),
        "and the peer names it"
    );
    assert_eq!(
        (peer.root.as_deref(), peer.case.as_str()),
        (None, started.id.as_str()),
        "a root of its own, in the same case"
    );
    assert_eq!(peer.data["client"], json!("ACME"));
    assert_eq!(
        peer.data["scan"],
        json!("scan-17.pdf"),
        "data the new process does not declare passes all the same"
    );
    assert_eq!(h.task(&peer.id, "answer").await, TaskStatus::Ready);
    let reason = h
        .engine
        .store()
        .history(&started.id)
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
        matches!(reason, Some(Reason::Operator { ref action, ref by }) if action == "abort-and-start" && by == "mary"),
        "{reason:?}"
    );
}

#[tokio::test]
async fn abort_and_start_into_a_process_that_refuses_changes_nothing() {
    let wrong = "
id: invoice
data: {client: {type: string, default: ''}}
tasks:
  - {id: book, kind: user, title: Book, owners: [mary]}
";
    let h = Harness::new(&[wrong]).await;
    let started = h.start("invoice", json!({})).await;
    assert!(matches!(
        h.engine
            .abort_and_start(&started.id, "nowhere", None, "mary")
            .await,
        Err(EngineError::ProcessNotFound(_))
    ));
    assert_eq!(
        h.get(&started.id).await.status,
        InstanceStatus::Waiting,
        "not aborted"
    );
}
