//! Stardust's spawn and abort-and-start for a user: only a startable process the user is
//! authorized to start is spawned, started or started in place of another; a refusal creates
//! nothing. The spawn menu lists what a user may start.

mod support;
use support::{file, ready};

use baton_api_model as api;
use baton_api_model::ErrorKind;

/// Requests only editors (and administrators) may start; a helper process nobody starts by hand.
const REQUEST: &str = "id: request
startable_by: [group:editors]
data:
  topic: {type: string, default: ''}
tasks:
  - {id: handle, kind: user, title: Handle, owners: [group:editors]}
";
const HELPER: &str = "id: helper
startable: false
tasks:
  - {id: done, kind: end}
";

async fn setup() -> (tempfile::TempDir, support::SqliteService, api::Instance) {
    let (dir, service) = ready().await;
    service
        .deploy(
            "operator",
            vec![file("request.yaml", REQUEST), file("helper.yaml", HELPER)],
        )
        .await
        .unwrap();
    let review = service
        .start("john", "review", serde_json::Map::new())
        .await
        .unwrap();
    (dir, service, review)
}

fn kind_of(e: &baton_service::ServiceError) -> ErrorKind {
    e.kind()
}

#[tokio::test]
async fn an_authorized_user_spawns_a_startable_process_under_a_running_instance() {
    let (_dir, service, review) = setup().await;
    let data = serde_json::json!({"topic": "refund"})
        .as_object()
        .cloned()
        .unwrap();
    let spawned = service
        .spawn("john", &review.id, "request", None, data)
        .await
        .unwrap();
    assert_eq!(
        spawned
            .parent
            .as_ref()
            .map(|p| (p.instance.clone(), p.link)),
        Some((review.id.clone(), api::LinkKind::Spawned))
    );
    assert_eq!(spawned.case, review.case);
    assert_eq!(spawned.data["topic"], serde_json::json!("refund"));
    let root = service.instance("john", &review.id).await.unwrap();
    assert_eq!(root.spawned, [spawned.id.clone()]);
    assert!(
        service
            .spawn("chief", &review.id, "request", None, serde_json::Map::new())
            .await
            .is_ok(),
        "administrators may start every startable process"
    );
}

#[tokio::test]
async fn a_spawn_the_user_may_not_make_is_forbidden_and_creates_nothing() {
    let (_dir, service, review) = setup().await;
    let refused = service
        .spawn("eve", &review.id, "request", None, serde_json::Map::new())
        .await
        .unwrap_err();
    assert_eq!(kind_of(&refused), ErrorKind::Forbidden);
    assert_eq!(refused.to_string(), "eve may not start process `request`: its `startable_by` names neither them nor a group of theirs");
    let refused = service
        .spawn("chief", &review.id, "helper", None, serde_json::Map::new())
        .await
        .unwrap_err();
    assert_eq!(
        kind_of(&refused),
        ErrorKind::Forbidden,
        "not startable: not even for an administrator"
    );
    let refused = service
        .spawn(
            "john",
            "no-such-instance",
            "request",
            None,
            serde_json::Map::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(kind_of(&refused), ErrorKind::NotFound);
    service.abort("john", &review.id, false).await.unwrap();
    let refused = service
        .spawn("john", &review.id, "request", None, serde_json::Map::new())
        .await
        .unwrap_err();
    assert_eq!(
        kind_of(&refused),
        ErrorKind::Conflict,
        "the instance is not active"
    );
    let listed = service.instances("john", None, false, 100).await.unwrap();
    assert_eq!(listed.len(), 1, "nothing was spawned");
}

#[tokio::test]
async fn starting_a_process_needs_the_same_authorization() {
    let (_dir, service, _) = setup().await;
    let refused = service
        .start("eve", "request", serde_json::Map::new())
        .await
        .unwrap_err();
    assert_eq!(kind_of(&refused), ErrorKind::Forbidden);
    assert!(service
        .start("john", "request", serde_json::Map::new())
        .await
        .is_ok());
}

#[tokio::test]
async fn abort_and_start_moves_an_instance_into_the_right_process_for_an_authorized_user() {
    let (_dir, service, review) = setup().await;
    let refused = service
        .abort_and_start("eve", &review.id, "request", None)
        .await
        .unwrap_err();
    assert_eq!(kind_of(&refused), ErrorKind::Forbidden);
    assert_eq!(
        service.instance("john", &review.id).await.unwrap().status,
        api::InstanceStatus::Waiting,
        "a refusal aborts nothing"
    );
    let peer = service
        .abort_and_start("john", &review.id, "request", None)
        .await
        .unwrap();
    assert_eq!(
        peer.parent.as_ref().map(|p| p.link),
        Some(api::LinkKind::Peer)
    );
    let aborted = service.instance("john", &review.id).await.unwrap();
    assert_eq!(
        (aborted.status, aborted.replaced_by),
        (api::InstanceStatus::Aborted, Some(peer.id.clone()))
    );
}

#[tokio::test]
async fn the_spawn_menu_lists_the_processes_a_user_may_start() {
    let (_dir, service, _) = setup().await;
    let ids = |defs: Vec<api::Definition>| defs.into_iter().map(|d| d.id).collect::<Vec<_>>();
    let mut john = ids(service.startable("john").await.unwrap());
    john.sort();
    assert_eq!(john, ["asks", "request", "review"]);
    let mut eve = ids(service.startable("eve").await.unwrap());
    eve.sort();
    assert_eq!(
        eve,
        ["asks", "review"],
        "not the editors' request, and never the helper"
    );
}
