//! What the service refuses, and the kind of each refusal, the one thing a surface answers
//! from (an exit code, an HTTP status): an unknown acting user is unauthenticated, an unknown
//! instance, process or task is not found, a user who may not act is forbidden, bad input is
//! invalid, an operation the state does not allow is a conflict. A refusal changes nothing.

mod support;
use support::{file, ready, SqliteService};

use serde_json::json;

use baton_api_model::{ErrorKind, InboxQuery};
use baton_service::{HumanTaskAction, HumanTaskRef, ServiceError, TaskOperation};

fn kind<T: std::fmt::Debug>(result: Result<T, ServiceError>) -> ErrorKind {
    result.expect_err("the call is refused").kind()
}

async fn waiting_review(service: &SqliteService) -> String {
    service
        .start("operator", "review", serde_json::Map::new())
        .await
        .unwrap()
        .id
}

fn page(per_page: usize) -> InboxQuery {
    InboxQuery {
        status: None,
        process: None,
        due_before: None,
        min_priority: None,
        page: 1,
        per_page,
    }
}

#[tokio::test]
async fn an_unknown_acting_user_is_unauthenticated_for_operations_and_queries_alike() {
    let (_dir, service) = ready().await;
    let id = waiting_review(&service).await;
    let before = service.instance("operator", &id).await.unwrap();
    let target = HumanTaskRef {
        instance: id.clone(),
        task: "check".into(),
        number: None,
    };
    assert_eq!(
        kind(
            service
                .start("ghost", "review", serde_json::Map::new())
                .await
        ),
        ErrorKind::Unauthenticated
    );
    assert_eq!(
        kind(service.abort("ghost", &id, false).await),
        ErrorKind::Unauthenticated
    );
    assert_eq!(
        kind(service.recover("ghost", &id).await),
        ErrorKind::Unauthenticated
    );
    assert_eq!(
        kind(service.case("ghost", &id).await),
        ErrorKind::Unauthenticated
    );
    assert_eq!(
        kind(service.children("ghost", &id).await),
        ErrorKind::Unauthenticated
    );
    assert_eq!(
        kind(
            service
                .human_task("ghost", &target, HumanTaskAction::Claim)
                .await
        ),
        ErrorKind::Unauthenticated
    );
    assert_eq!(
        kind(service.instance("ghost", &id).await),
        ErrorKind::Unauthenticated
    );
    assert_eq!(
        kind(service.inbox("ghost", &page(20)).await),
        ErrorKind::Unauthenticated
    );
    assert_eq!(
        kind(service.add_group("ghost", "others").await),
        ErrorKind::Unauthenticated
    );
    let refused = service.delete("ghost", &id).await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "there is no user `ghost`; add it with `baton user add ghost`"
    );
    assert_eq!(
        service.instance("operator", &id).await.unwrap(),
        before,
        "nothing changed"
    );
    assert_eq!(service.groups("operator").await.unwrap().len(), 1);
}

#[tokio::test]
async fn unknown_instances_processes_tasks_and_versions_are_not_found() {
    let (_dir, service) = ready().await;
    let id = waiting_review(&service).await;
    assert_eq!(
        kind(service.instance("operator", "no-such-instance").await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(service.history("operator", "no-such-instance").await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(service.abort("operator", "no-such-instance", true).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(service.recover("operator", "no-such-instance").await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(service.children("operator", "no-such-instance").await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(service.case("operator", "no-such-case").await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(
            service
                .start("operator", "no-such-process", serde_json::Map::new())
                .await
        ),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(service.versions("operator", "no-such-process").await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(service.source("operator", "review", Some(9)).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(
            service
                .user_task("operator", &id, "no-such-task", None)
                .await
        ),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(
            service
                .task_operation(
                    "operator",
                    &id,
                    TaskOperation::Skip {
                        task: "no-such-task".into()
                    }
                )
                .await
        ),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(service.add_member("operator", "editors", "nobody").await),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn a_user_who_may_not_act_on_a_human_task_is_forbidden_and_nothing_changes() {
    let (_dir, service) = ready().await;
    let id = waiting_review(&service).await;
    let before = service.instance("operator", &id).await.unwrap();
    let target = HumanTaskRef {
        instance: id.clone(),
        task: "check".into(),
        number: None,
    };
    let refused = service
        .human_task("eve", &target, HumanTaskAction::Claim)
        .await
        .unwrap_err();
    assert_eq!((refused.kind(), refused.to_string().as_str()), (ErrorKind::Forbidden, "user task `check`: `eve` may not claim task #0: they are not one of its potential owners"));
    assert_eq!(
        kind(
            service
                .human_task("john", &target, HumanTaskAction::Terminate)
                .await
        ),
        ErrorKind::Forbidden,
        "only an administrator"
    );
    assert_eq!(service.instance("operator", &id).await.unwrap(), before);
    assert_eq!(
        service
            .human_task("chief", &target, HumanTaskAction::Claim)
            .await
            .unwrap()
            .human_task_id,
        0,
        "an administrator may claim"
    );
}

#[tokio::test]
async fn bad_input_is_invalid_and_an_operation_the_state_does_not_allow_is_a_conflict() {
    let (_dir, service) = ready().await;
    let id = waiting_review(&service).await;
    let bad = service
        .deploy(
            "operator",
            vec![file(
                "bad.yaml",
                "id: bad\ntasks:\n  - id: a\n    kind: end\n    after: [b]\n",
            )],
        )
        .await;
    assert_eq!(kind(bad), ErrorKind::Invalid);
    let not_text = service
        .deploy(
            "operator",
            vec![baton_service::SourceFile {
                name: "latin1.yaml".into(),
                bytes: b"id: caf\xe9\n".to_vec(),
            }],
        )
        .await;
    assert_eq!(kind(not_text), ErrorKind::Invalid);
    assert_eq!(
        kind(
            service
                .start(
                    "operator",
                    "review",
                    json!({"approved": "yes"}).as_object().unwrap().clone()
                )
                .await
        ),
        ErrorKind::Invalid
    );
    assert_eq!(
        kind(
            service
                .human_task(
                    "john",
                    &HumanTaskRef {
                        instance: id.clone(),
                        task: "done".into(),
                        number: None
                    },
                    HumanTaskAction::Claim
                )
                .await
        ),
        ErrorKind::Invalid
    );
    assert_eq!(
        kind(service.inbox("john", &page(0)).await),
        ErrorKind::Invalid
    );
    assert_eq!(
        kind(
            service
                .inbox("john", &page(baton_service::MAX_PER_PAGE + 1))
                .await
        ),
        ErrorKind::Invalid
    );
    assert_eq!(
        kind(
            service
                .instances("operator", None, false, baton_service::MAX_LIMIT + 1)
                .await
        ),
        ErrorKind::Invalid
    );

    let target = HumanTaskRef {
        instance: id.clone(),
        task: "check".into(),
        number: None,
    };
    assert_eq!(
        kind(
            service
                .human_task(
                    "john",
                    &target,
                    HumanTaskAction::Complete {
                        output: serde_json::Map::new()
                    }
                )
                .await
        ),
        ErrorKind::Conflict,
        "not claimed"
    );
    assert_eq!(
        kind(
            service
                .task_operation(
                    "operator",
                    &id,
                    TaskOperation::Retry {
                        task: "done".into()
                    }
                )
                .await
        ),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(
            service
                .add_user("operator", baton_store::NewUser::named("john"))
                .await
        ),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(service.recover("operator", &id).await),
        ErrorKind::Conflict,
        "nothing of it failed"
    );
    service.abort("operator", &id, false).await.unwrap();
    assert_eq!(
        kind(service.abort("operator", &id, false).await),
        ErrorKind::Conflict,
        "an ended instance takes no more commands"
    );
    assert_eq!(
        kind(service.recover("operator", &id).await),
        ErrorKind::Conflict,
        "an aborted instance is not recovered"
    );
    assert_eq!(
        service.definitions("operator").await.unwrap().len(),
        2,
        "no refused deploy stored anything"
    );
}

#[tokio::test]
async fn a_user_task_whose_turn_has_not_come_has_no_human_tasks_to_show() {
    let (_dir, service) = ready().await;
    let two_steps = "id: later\ntasks:\n  - id: first\n    kind: user\n    title: First\n    owners: [john]\n  - id: second\n    kind: user\n    title: Second\n    owners: [john]\n    after: [first]\n";
    service
        .deploy("operator", vec![file("later.yaml", two_steps)])
        .await
        .unwrap();
    let id = service
        .start("operator", "later", serde_json::Map::new())
        .await
        .unwrap()
        .id;
    let refused = service
        .user_task("operator", &id, "second", None)
        .await
        .unwrap_err();
    assert_eq!(
        (refused.kind(), refused.to_string()),
        (
            ErrorKind::Conflict,
            format!("user task `second` of instance {id} has not started")
        )
    );
}

#[test]
fn an_internal_error_is_shown_to_a_client_as_its_kind_and_a_generic_sentence() {
    let corrupt = ServiceError::Store(baton_store::StoreError::CorruptState {
        instance: "i-1".into(),
        message: "bad JSON at line 3".into(),
    });
    assert_eq!(
        corrupt.to_view(),
        baton_api_model::Error {
            kind: ErrorKind::Internal,
            message: "Baton failed to carry out the request; its log says why".into()
        }
    );
    let refused = ServiceError::UnknownTask {
        process: "p".into(),
        task: "t".into(),
    };
    assert_eq!(
        refused.to_view(),
        baton_api_model::Error {
            kind: ErrorKind::NotFound,
            message: "there is no task `t` in process `p`".into()
        }
    );
}

/// The service a server offers (not the local command line's): people and others' tokens are
/// an administrator's to manage.
fn served(service: &SqliteService) -> SqliteService {
    baton_service::Service::new(service.engine().clone())
}

#[tokio::test]
async fn on_a_server_only_administrators_manage_people_and_other_users_tokens() {
    let (_dir, local) = ready().await;
    let service = served(&local);
    assert_eq!(
        kind(
            service
                .add_user("john", baton_store::NewUser::named("mallory"))
                .await
        ),
        ErrorKind::Forbidden
    );
    assert_eq!(
        kind(service.add_group("john", "admins").await),
        ErrorKind::Forbidden
    );
    assert_eq!(
        kind(service.add_member("john", "editors", "eve").await),
        ErrorKind::Forbidden
    );
    assert_eq!(
        kind(service.remove_member("john", "editors", "john").await),
        ErrorKind::Forbidden
    );
    assert_eq!(
        kind(service.create_token("john", "eve", None, None).await),
        ErrorKind::Forbidden
    );
    assert_eq!(
        kind(service.tokens("john", None).await),
        ErrorKind::Forbidden
    );
    let names: Vec<String> = service
        .users("john")
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert!(!names.contains(&"mallory".to_owned()), "nothing changed");

    // A user manages their own tokens; an administrator anyone's.
    let own = service
        .create_token("john", "john", Some("laptop"), None)
        .await
        .unwrap();
    assert_eq!(service.token_user(&own.secret).await.unwrap(), "john");
    let eves = service
        .create_token("chief", "eve", None, None)
        .await
        .unwrap();
    assert_eq!(
        kind(service.revoke_token("john", &eves.token.id).await),
        ErrorKind::Forbidden
    );
    let listed: Vec<String> = service
        .tokens("john", Some("john"))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, [own.token.id.clone()]);
    assert_eq!(service.tokens("chief", None).await.unwrap().len(), 2);
    assert_eq!(
        service
            .revoke_token("john", &own.token.id)
            .await
            .unwrap()
            .state,
        baton_api_model::TokenState::Revoked
    );
    assert_eq!(
        kind(service.token_user(&own.secret).await),
        ErrorKind::Unauthenticated
    );
    service
        .add_user("chief", baton_store::NewUser::named("mallory"))
        .await
        .unwrap();
}
