//! A database made by the previous release (schema 12, instance state format 1) keeps working:
//! `fixtures/state-format-1.db` was written by that release running `fixtures/state-format-1.yaml`
//! (a user task waiting, and a ForEach whose two iterations wait on user tasks). Opened here,
//! it is migrated (cases and roots computed from the ForEach links), its waiting instances
//! read as format 2 and run to their end.

use std::sync::Arc;

use baton_core::user_task::{HumanTaskId, UserTaskCommand};
use baton_core::InstanceStatus;
use baton_engine::{Engine, EngineOptions, SystemClock};
use baton_store::{InstanceQuery, InstanceReader};
use baton_store_sqlite::{Durability, SqliteStore};
use serde_json::{json, Map};

#[tokio::test]
async fn instances_waiting_in_a_database_of_the_previous_release_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/state-format-1.db"
        ),
        &path,
    )
    .unwrap();
    let store =
        SqliteStore::open(&path, Durability::Normal).expect("the old database opens and migrates");
    let engine = Engine::new(
        store,
        Arc::new(SystemClock),
        EngineOptions {
            node: "test-node".into(),
            ..EngineOptions::default()
        },
    );

    let rows = engine
        .store()
        .list_instances(&InstanceQuery {
            limit: 10,
            ..InstanceQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let root = rows
        .iter()
        .find(|r| r.parent.is_none())
        .expect("the root")
        .id
        .clone();
    let iterations: Vec<String> = rows
        .iter()
        .filter(|r| r.parent.is_some())
        .map(|r| r.id.clone())
        .collect();
    assert!(
        rows.iter().all(|r| r.case == root),
        "the migration put every instance in the root's case"
    );
    let links: Vec<_> = rows
        .iter()
        .filter(|r| r.parent.is_some())
        .map(|r| r.link)
        .collect();
    assert_eq!(
        links,
        [Some(baton_core::instance::LinkKind::Iteration); 2],
        "and listed each iteration as one"
    );

    let state = engine.instance(&root).await.unwrap();
    assert_eq!(
        (state.case.as_str(), state.root.as_deref()),
        (root.as_str(), None)
    );
    for id in &iterations {
        let it = engine.instance(id).await.unwrap();
        assert_eq!(
            (
                it.case.as_str(),
                it.root.as_deref(),
                it.parent.as_ref().map(|p| p.kind)
            ),
            (
                root.as_str(),
                Some(root.as_str()),
                Some(baton_core::instance::LinkKind::Iteration)
            )
        );
    }

    let original = HumanTaskId::ORIGINAL;
    let act = |id: String, task: &'static str, output: serde_json::Value| {
        let engine = engine.clone();
        async move {
            engine
                .user_task(&id, task, "mary", UserTaskCommand::Claim { task: original })
                .await
                .unwrap();
            let output: Map<String, serde_json::Value> = output.as_object().cloned().unwrap();
            engine
                .user_task(
                    &id,
                    task,
                    "mary",
                    UserTaskCommand::Complete {
                        task: original,
                        output,
                    },
                )
                .await
                .unwrap();
        }
    };
    act(root.clone(), "approve", json!({"approved": true})).await;
    for id in iterations {
        act(id, "check", json!({})).await;
    }
    while engine.fire_due_timers(100).await.unwrap() > 0 {}
    let done = engine.instance(&root).await.unwrap();
    assert_eq!(done.status, InstanceStatus::Completed, "{done:#?}");
    assert_eq!(done.data["approved"], json!(true));
}
