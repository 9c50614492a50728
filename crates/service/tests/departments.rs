//! Stardust's department scoping through the service: an instance's department comes from its
//! data, what it starts inherits it, and a user of another department can neither see nor act
//! on it, its tasks, documents, history or case, unless an administrator. A user of no
//! department sees the unscoped instances only.

mod support;
use support::file;

use baton_api_model as api;
use baton_api_model::ErrorKind;
use baton_service::{EventFilter, HumanTaskAction, HumanTaskRef, TaskOperation, Upload};
use baton_store::NewUser;
use serde_json::{json, Map, Value};

/// A claim for the clerks, scoped to the department its data names.
const CLAIM: &str = include_str!("../../core/tests/fixtures/claim-by-department.yaml");
/// A follow-up that declares a department of its own, which an instance started from another
/// does not use: it inherits that one's.
const FOLLOW_UP: &str = "id: follow-up
department: \"'sales'\"
tasks:
  - {id: handle, kind: user, title: Follow up, owners: [group:clerks]}
";

fn data(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    service: support::SqliteService,
    legal: api::Instance,
    sales: api::Instance,
    open: api::Instance,
}

/// lena (legal) and sam (sales) are clerks, nora is a clerk of no department, chief
/// administers; one claim of each department and one unscoped.
async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let service = support::service(&dir);
    let people = [
        NewUser::named("lena").in_department("legal"),
        NewUser::named("sam").in_department("sales"),
        NewUser::named("nora"),
        NewUser::named("chief").admin(),
    ];
    service.add_group("operator", "clerks").await.unwrap();
    for user in people {
        let name = user.name.clone();
        service.add_user("operator", user).await.unwrap();
        service
            .add_member("operator", "clerks", &name)
            .await
            .unwrap();
    }
    service
        .deploy(
            "operator",
            vec![file("claim.yaml", CLAIM), file("follow-up.yaml", FOLLOW_UP)],
        )
        .await
        .unwrap();
    let legal = service
        .start("chief", "claim", data(json!({"dept": "legal"})))
        .await
        .unwrap();
    let sales = service
        .start("chief", "claim", data(json!({"dept": "sales"})))
        .await
        .unwrap();
    let open = service.start("chief", "claim", Map::new()).await.unwrap();
    Setup {
        _dir: dir,
        service,
        legal,
        sales,
        open,
    }
}

fn ids<'a>(rows: impl IntoIterator<Item = &'a api::InstanceSummary>) -> Vec<String> {
    let mut ids: Vec<String> = rows.into_iter().map(|r| r.id.clone()).collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn an_instance_takes_its_department_from_its_data_and_what_it_starts_inherits_it() {
    let s = setup().await;
    assert_eq!(
        (
            s.legal.department.as_deref(),
            s.sales.department.as_deref(),
            s.open.department.as_deref()
        ),
        (Some("legal"), Some("sales"), None)
    );
    let spawned = s
        .service
        .spawn("lena", &s.legal.id, "follow-up", None, Map::new())
        .await
        .unwrap();
    assert_eq!(
        spawned.department.as_deref(),
        Some("legal"),
        "a spawned sub-process inherits the root's department, not its own definition's"
    );
    let peer = s
        .service
        .abort_and_start("lena", &spawned.id, "claim", None)
        .await
        .unwrap();
    assert_eq!(
        peer.department.as_deref(),
        Some("legal"),
        "a peer inherits it too"
    );
    let moved = s
        .service
        .abort_and_start("sam", &s.sales.id, "follow-up", None)
        .await
        .unwrap();
    assert_eq!(moved.department.as_deref(), Some("sales"));
    let listed = s
        .service
        .list_instances(
            "lena",
            &api::InstanceFilter {
                limit: 100,
                ..api::InstanceFilter::default()
            },
        )
        .await
        .unwrap();
    let spawned_row = listed
        .instances
        .iter()
        .find(|r| r.id == spawned.id)
        .unwrap();
    assert_eq!(spawned_row.department.as_deref(), Some("legal"));
}

#[tokio::test]
async fn a_listing_holds_the_unscoped_instances_and_those_of_the_users_department_only() {
    let s = setup().await;
    let list = |user: &'static str| {
        let service = s.service.clone();
        async move {
            ids(&service
                .list_instances(
                    user,
                    &api::InstanceFilter {
                        limit: 100,
                        ..api::InstanceFilter::default()
                    },
                )
                .await
                .unwrap()
                .instances)
        }
    };
    assert_eq!(
        list("lena").await,
        sorted(vec![s.legal.id.clone(), s.open.id.clone()])
    );
    assert_eq!(
        list("sam").await,
        sorted(vec![s.sales.id.clone(), s.open.id.clone()])
    );
    assert_eq!(
        list("nora").await,
        vec![s.open.id.clone()],
        "a user of no department sees only the unscoped instances"
    );
    assert_eq!(
        list("chief").await,
        sorted(vec![
            s.legal.id.clone(),
            s.sales.id.clone(),
            s.open.id.clone()
        ])
    );
    assert_eq!(
        list("operator").await.len(),
        3,
        "the local command line's operator holds the database file: it sees everything"
    );

    // A page is filled from what the user may see: one row, and its cursor leads on.
    let first = s
        .service
        .list_instances(
            "lena",
            &api::InstanceFilter {
                limit: 1,
                ..api::InstanceFilter::default()
            },
        )
        .await
        .unwrap();
    let cursor = first.next_cursor.clone().expect("a full page has a cursor");
    let second = s
        .service
        .list_instances(
            "lena",
            &api::InstanceFilter {
                limit: 1,
                cursor: Some(cursor),
                ..api::InstanceFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        ids(first.instances.iter().chain(&second.instances)),
        sorted(vec![s.legal.id.clone(), s.open.id.clone()])
    );

    let inbox = |user: &'static str| {
        let service = s.service.clone();
        async move {
            let page = service
                .inbox(
                    user,
                    &api::InboxQuery {
                        status: None,
                        process: None,
                        due_before: None,
                        min_priority: None,
                        page: 1,
                        per_page: 100,
                    },
                )
                .await
                .unwrap();
            sorted(page.rows.into_iter().map(|r| r.instance).collect())
        }
    };
    assert_eq!(
        inbox("lena").await,
        sorted(vec![s.legal.id.clone(), s.open.id.clone()]),
        "the inbox offers a clerk only the tasks of instances they may see"
    );
    assert_eq!(inbox("nora").await, vec![s.open.id.clone()]);

    let case = s.service.case("lena", &s.legal.case).await.unwrap();
    assert_eq!(ids(&case.instances), vec![s.legal.id.clone()]);
    let refused = s.service.case("lena", &s.sales.case).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Forbidden, "{refused}");
}

#[tokio::test]
async fn a_user_of_another_department_may_neither_see_nor_act_on_an_instance_and_nothing_changes() {
    let s = setup().await;
    let (service, id) = (&s.service, s.legal.id.clone());
    let history_before = service.history("chief", &id).await.unwrap().len();
    let task = HumanTaskRef {
        instance: id.clone(),
        task: "handle".into(),
        number: None,
    };
    let refusals = vec![
        ("show", service.instance("sam", &id).await.map(drop)),
        ("history", service.history("sam", &id).await.map(drop)),
        ("children", service.children("sam", &id).await.map(drop)),
        ("incidents", service.incidents("sam", &id).await.map(drop)),
        (
            "user task",
            service
                .user_task("sam", &id, "handle", None)
                .await
                .map(drop),
        ),
        (
            "claim",
            service
                .human_task("sam", &task, HumanTaskAction::Claim)
                .await
                .map(drop),
        ),
        (
            "spawn",
            service
                .spawn("sam", &id, "follow-up", None, Map::new())
                .await
                .map(drop),
        ),
        (
            "abort and start",
            service
                .abort_and_start("sam", &id, "follow-up", None)
                .await
                .map(drop),
        ),
        (
            "skip",
            service
                .task_operation(
                    "sam",
                    &id,
                    TaskOperation::Skip {
                        task: "handle".into(),
                    },
                )
                .await
                .map(drop),
        ),
        ("abort", service.abort("sam", &id, false).await.map(drop)),
        ("recover", service.recover("sam", &id).await.map(drop)),
        ("delete", service.delete("sam", &id).await.map(drop)),
        (
            "events",
            service
                .events(
                    "sam",
                    EventFilter {
                        instance: Some(id.clone()),
                        user: None,
                    },
                )
                .await
                .map(drop),
        ),
        (
            "show, of no department",
            service.instance("nora", &id).await.map(drop),
        ),
    ];
    for (what, answer) in refusals {
        let refused = answer.expect_err(what);
        assert_eq!(refused.kind(), ErrorKind::Forbidden, "{what}: {refused}");
        let who = if what.ends_with("of no department") {
            "nora"
        } else {
            "sam"
        };
        assert_eq!(
            refused.to_string(),
            format!("{who} may not see or act on instance {id}: it belongs to another department than theirs (only that department's users and administrators may)"),
            "{what}"
        );
    }
    let after = service.instance("chief", &id).await.unwrap();
    assert_eq!(
        (after.status, after.spawned.len()),
        (api::InstanceStatus::Waiting, 0),
        "nothing was aborted or spawned"
    );
    assert_eq!(
        service.history("chief", &id).await.unwrap().len(),
        history_before,
        "nothing was recorded"
    );
    assert!(
        service.instance("lena", &id).await.is_ok(),
        "its own department's users see it"
    );
    assert!(
        service
            .human_task("lena", &task, HumanTaskAction::Claim)
            .await
            .is_ok(),
        "and work its tasks"
    );
    let unknown = service
        .instance("sam", "no-such-instance")
        .await
        .unwrap_err();
    assert_eq!(
        unknown.kind(),
        ErrorKind::NotFound,
        "an unknown instance is not found, whoever asks"
    );
}

#[tokio::test]
async fn a_document_an_instance_refers_to_is_readable_by_those_who_may_see_the_instance_only() {
    let s = setup().await;
    let upload = Upload {
        name: "scan.pdf".into(),
        content_type: "application/pdf".into(),
        document_type: None,
        metadata: Map::new(),
        content: b"%PDF".to_vec(),
    };
    let document = s.service.upload_document("chief", upload).await.unwrap();
    let spawned = s
        .service
        .spawn(
            "chief",
            &s.legal.id,
            "follow-up",
            None,
            data(json!({"scan": {"document": document.id}})),
        )
        .await
        .unwrap();
    assert_eq!(spawned.department.as_deref(), Some("legal"));
    assert!(
        s.service.document("lena", &document.id).await.is_ok(),
        "lena may see the instance that refers to it"
    );
    for user in ["sam", "nora"] {
        let refused = s.service.document(user, &document.id).await.unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Forbidden, "{user}: {refused}");
        assert_eq!(
            s.service
                .document_content(user, &document.id)
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::Forbidden
        );
        let changes = data(json!({"status": "seen"}));
        assert_eq!(
            s.service
                .set_document_metadata(user, &document.id, changes)
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::Forbidden
        );
    }
    assert_eq!(
        s.service
            .document("chief", &document.id)
            .await
            .unwrap()
            .version,
        1,
        "the refused metadata change changed nothing"
    );
}

#[tokio::test]
async fn a_change_stream_shows_a_user_the_changes_of_instances_they_may_see_only() {
    let s = setup().await;
    let mut sams = s
        .service
        .events("sam", EventFilter::default())
        .await
        .unwrap();
    let mut lenas = s
        .service
        .events("lena", EventFilter::default())
        .await
        .unwrap();
    s.service.abort("chief", &s.legal.id, false).await.unwrap();
    s.service.abort("chief", &s.open.id, false).await.unwrap();
    let instance_of = |event: Option<api::ChangeEvent>| match event {
        Some(api::ChangeEvent::Instance(changed)) => changed.instance,
        other => panic!("expected an instance change, got {other:?}"),
    };
    assert_eq!(
        instance_of(sams.next().await),
        s.open.id,
        "sam's stream skips the legal instance's change"
    );
    assert_eq!(instance_of(lenas.next().await), s.legal.id);
}
