//! The instance hierarchy through the service, as every surface reaches it: a case listed
//! oldest first with each instance's link and work status, an instance's children, an abort
//! that goes up to the parent when asked, and recovering a failed caller with its child.

mod support;
use support::{file, ready, SqliteService};

use baton_api_model as api;
use baton_api_model::{InstanceStatus, LinkKind};
use baton_service::{HumanTaskAction, HumanTaskRef};

/// A child that waits for john, a `call` of it, and a hand-off of it (Pega's Hand Off).
const CHILD: &str =
    "id: child\ntasks:\n  - id: approve\n    kind: user\n    title: Approve\n    owners: [john]\n";
const CALLER: &str = "id: caller\ntasks:\n  - id: sub\n    kind: call\n    process: child\n";
const HANDS: &str = "id: hands\ntasks:\n  - id: hand\n    kind: handoff\n    process: child\n    work_status: Pending-Approval\n  - id: sub\n    kind: call\n    process: child\n    after: [hand]\n";

async fn deployed() -> (tempfile::TempDir, SqliteService) {
    let (dir, service) = ready().await;
    service
        .deploy(
            "operator",
            vec![
                file("child.yaml", CHILD),
                file("caller.yaml", CALLER),
                file("hands.yaml", HANDS),
            ],
        )
        .await
        .unwrap();
    (dir, service)
}

/// Delivers what children told their parents (the worker's timers).
async fn settle(service: &SqliteService) {
    while service.engine().fire_due_timers(100).await.unwrap() > 0 {}
}

/// john claims and completes (`Ok`) or fails (`Err`) the child's approval.
async fn approve(service: &SqliteService, child: &str, approved: bool) {
    let target = HumanTaskRef {
        instance: child.to_owned(),
        task: "approve".into(),
        number: None,
    };
    service
        .human_task("john", &target, HumanTaskAction::Claim)
        .await
        .unwrap();
    let action = if approved {
        HumanTaskAction::Complete {
            output: serde_json::Map::new(),
        }
    } else {
        HumanTaskAction::Fail { note: "no".into() }
    };
    service.human_task("john", &target, action).await.unwrap();
}

fn row(
    summary: &api::InstanceSummary,
) -> (&str, Option<&str>, Option<LinkKind>, &str, Option<&str>) {
    (
        summary.process.as_str(),
        summary.parent.as_deref(),
        summary.link,
        summary.case.as_str(),
        summary.work_status.as_deref(),
    )
}

#[tokio::test]
async fn a_case_lists_its_instances_oldest_first_with_their_links_and_work_status() {
    let (_dir, service) = deployed().await;
    let root = service
        .start("operator", "hands", serde_json::Map::new())
        .await
        .unwrap();
    let handed = root.referenced_instances[0].clone();
    let called = root.tasks["sub"]
        .child
        .clone()
        .expect("the call started its child");
    service
        .start("operator", "caller", serde_json::Map::new())
        .await
        .unwrap();

    let case = service.case("eve", &root.id).await.unwrap();
    assert_eq!(case.id, root.id);
    let ids: Vec<&str> = case.instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        ids,
        [root.id.as_str(), handed.as_str(), called.as_str()],
        "oldest first, and nothing of another case"
    );
    let rows: Vec<_> = case.instances.iter().map(row).collect();
    let r = root.id.as_str();
    assert_eq!(
        rows,
        [
            ("hands", None, None, r, Some("Pending-Approval")),
            ("child", Some(r), Some(LinkKind::Handoff), r, None),
            ("child", Some(r), Some(LinkKind::Call), r, None)
        ]
    );

    let children = service.children("eve", &root.id).await.unwrap();
    assert_eq!(
        children,
        case.instances[1..],
        "its children are the rest of its case"
    );
    assert!(service.children("eve", &called).await.unwrap().is_empty());
    let listed = service
        .list_instances(
            "eve",
            &api::InstanceFilter {
                case: Some(root.id.clone()),
                limit: 10,
                ..api::InstanceFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        listed.instances.iter().rev().cloned().collect::<Vec<_>>(),
        case.instances,
        "the listing by case is the case, newest first"
    );
    let refused = service.case("eve", &called).await.unwrap_err();
    assert_eq!(
        (refused.kind(), refused.to_string()),
        (
            api::ErrorKind::NotFound,
            format!("there is no case `{called}`")
        ),
        "a sub-process names no case of its own"
    );
}

#[tokio::test]
async fn aborting_a_called_child_with_abort_parent_aborts_its_caller_and_without_it_fails_the_call()
{
    let (_dir, service) = deployed().await;
    let caller = service
        .start("operator", "caller", serde_json::Map::new())
        .await
        .unwrap();
    let child = caller.tasks["sub"].child.clone().unwrap();
    let aborted = service.abort("eve", &child, true).await.unwrap();
    assert_eq!(aborted.status, InstanceStatus::Aborted);
    settle(&service).await;
    assert_eq!(
        service.instance("eve", &caller.id).await.unwrap().status,
        InstanceStatus::Aborted,
        "the abort went up to the caller"
    );

    let caller = service
        .start("operator", "caller", serde_json::Map::new())
        .await
        .unwrap();
    let child = caller.tasks["sub"].child.clone().unwrap();
    service.abort("eve", &child, false).await.unwrap();
    settle(&service).await;
    let caller = service.instance("eve", &caller.id).await.unwrap();
    assert_eq!(
        (caller.status, caller.tasks["sub"].state.status),
        (InstanceStatus::Failed, api::TaskStatus::EndedNotOk),
        "the call decides"
    );
}

#[tokio::test]
async fn recovering_a_failed_caller_recovers_its_failed_child_instead_of_starting_another() {
    let (_dir, service) = deployed().await;
    let caller = service
        .start("operator", "caller", serde_json::Map::new())
        .await
        .unwrap();
    let child = caller.tasks["sub"].child.clone().unwrap();
    approve(&service, &child, false).await;
    settle(&service).await;
    assert_eq!(
        service.instance("eve", &caller.id).await.unwrap().status,
        InstanceStatus::Failed
    );

    let recovered = service.recover("eve", &caller.id).await.unwrap();
    assert_eq!(
        (recovered.status, recovered.tasks["sub"].child.as_deref()),
        (InstanceStatus::Running, Some(child.as_str()))
    );
    let children = service.children("eve", &caller.id).await.unwrap();
    assert_eq!(
        children
            .iter()
            .map(|c| (c.id.as_str(), c.status))
            .collect::<Vec<_>>(),
        [(child.as_str(), InstanceStatus::Waiting)],
        "the same child, waiting again"
    );
    approve(&service, &child, true).await;
    settle(&service).await;
    assert_eq!(
        service.instance("eve", &caller.id).await.unwrap().status,
        InstanceStatus::Completed
    );
    let history = service.history("eve", &caller.id).await.unwrap();
    assert!(
        history
            .iter()
            .any(|e| matches!(&e.event, api::Event::Recovered { by, .. } if by == "eve")),
        "the recovery names who did it"
    );
}

#[tokio::test]
async fn a_caller_waiting_for_a_child_that_waits_for_a_person_leaves_a_worker_idle_until_the_child_ends(
) {
    let (_dir, service) = deployed().await;
    let caller = service
        .start("operator", "caller", serde_json::Map::new())
        .await
        .unwrap();
    assert_eq!(
        caller.status,
        InstanceStatus::Running,
        "the call runs while its child waits"
    );
    assert!(
        service.idle().await.unwrap(),
        "nothing for a worker to do: the child waits for john"
    );
    approve(&service, &caller.tasks["sub"].child.clone().unwrap(), true).await;
    assert!(
        !service.idle().await.unwrap(),
        "the child's end is due to reach the caller"
    );
    settle(&service).await;
    assert_eq!(
        service.instance("eve", &caller.id).await.unwrap().status,
        InstanceStatus::Completed
    );
    assert!(service.idle().await.unwrap());
}
