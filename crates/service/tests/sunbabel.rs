//! Stardust's SunBabel business scenarios through the service, on the store, with the
//! definitions of `examples/sunbabel/`: a scanned document entered into the wrong process is
//! moved into the right one by abort-and-start, with its data and document; one scanned
//! document holding three requests for one client becomes one spawned instance per request,
//! each referring to the one document, all one case.

mod support;
use support::file;

use baton_api_model as api;
use baton_service::{HumanTaskAction, HumanTaskRef, Upload};
use baton_store::NewUser;
use serde_json::{json, Map, Value};

const EXAMPLES: [&str; 4] = [
    "change-of-address.yaml",
    "claim.yaml",
    "policy-copy.yaml",
    "client-mail.yaml",
];

fn data(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

/// The four definitions deployed; kim, a clerk of the claims department, and otto, one of
/// pensions.
async fn sunbabel() -> (tempfile::TempDir, support::SqliteService) {
    let dir = tempfile::tempdir().unwrap();
    let service = support::service(&dir);
    service.add_group("operator", "clerks").await.unwrap();
    for (name, department) in [("kim", "claims"), ("otto", "pensions")] {
        service
            .add_user("operator", NewUser::named(name).in_department(department))
            .await
            .unwrap();
        service
            .add_member("operator", "clerks", name)
            .await
            .unwrap();
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sunbabel");
    let files = EXAMPLES
        .iter()
        .map(|name| file(name, &std::fs::read_to_string(root.join(name)).unwrap()))
        .collect();
    service.deploy("operator", files).await.unwrap();
    (dir, service)
}

/// The scan client stores a scan of `pages` pages; returns its id.
async fn scan(service: &support::SqliteService, text: &str, pages: u32) -> String {
    let upload = Upload {
        name: "scan.txt".into(),
        content_type: "text/plain".into(),
        document_type: Some("scan".into()),
        metadata: data(json!({"pages": pages})),
        content: text.into(),
    };
    service
        .upload_document("operator", upload)
        .await
        .unwrap()
        .id
}

/// Kim claims and completes a task; what a child's end tells its parent is delivered (the
/// worker's timers).
async fn work(service: &support::SqliteService, instance: &str, task: &str, output: Value) {
    let target = HumanTaskRef {
        instance: instance.into(),
        task: task.into(),
        number: None,
    };
    service
        .human_task("kim", &target, HumanTaskAction::Claim)
        .await
        .unwrap();
    service
        .human_task(
            "kim",
            &target,
            HumanTaskAction::Complete {
                output: data(output),
            },
        )
        .await
        .unwrap();
    while service.engine().fire_due_timers(100).await.unwrap() > 0 {}
}

#[tokio::test]
async fn sunbabel_scenario_1_a_scan_in_the_wrong_process_moves_to_the_right_one_with_its_data_and_document(
) {
    let (_dir, service) = sunbabel().await;
    let form = scan(&service, "claim form of C-1001", 1).await;
    let wrong = service
        .start(
            "operator",
            "change-of-address",
            data(json!({"client": "C-1001", "dept": "claims", "letter": {"document": form}})),
        )
        .await
        .unwrap();

    let right = service
        .abort_and_start("kim", &wrong.id, "claim", None)
        .await
        .unwrap();
    assert_eq!(right.process, "claim");
    assert_eq!(
        (&right.data["client"], &right.data["dept"]),
        (&json!("C-1001"), &json!("claims"))
    );
    assert_eq!(
        right.data["claim_form"],
        json!({"document": form}),
        "the same document (same-type rule, with its metadata)"
    );
    assert_eq!(right.department.as_deref(), Some("claims"));
    let wrong = service.instance("kim", &wrong.id).await.unwrap();
    assert_eq!(
        (wrong.status, wrong.replaced_by.as_deref()),
        (api::InstanceStatus::Aborted, Some(right.id.as_str()))
    );
    let case = service.case("kim", &wrong.case).await.unwrap();
    let members: Vec<(String, Option<api::LinkKind>)> = case
        .instances
        .iter()
        .map(|i| (i.id.clone(), i.link))
        .collect();
    assert_eq!(
        members,
        [
            (wrong.id.clone(), None),
            (right.id.clone(), Some(api::LinkKind::Peer))
        ]
    );
    assert_eq!(
        service.document("kim", &form).await.unwrap().metadata,
        data(json!({"pages": 1}))
    );

    // The claim is the claims department's work: otto neither sees it nor its document.
    assert!(service.instance("otto", &right.id).await.is_err());
    assert!(service.document("otto", &form).await.is_err());
    work(&service, &right.id, "assess", json!({"amount": 1250})).await;
    assert_eq!(
        service.instance("kim", &right.id).await.unwrap().status,
        api::InstanceStatus::Completed
    );
}

#[tokio::test]
async fn sunbabel_scenario_2_one_scan_with_three_requests_spawns_one_instance_per_request_in_one_case(
) {
    let (_dir, service) = sunbabel().await;
    let letter = scan(&service, "three requests of C-2002", 3).await;
    let mail = service
        .start(
            "operator",
            "client-mail",
            data(json!({"client": "C-2002", "dept": "claims", "scan": {"document": letter}})),
        )
        .await
        .unwrap();
    let address = service
        .spawn(
            "kim",
            &mail.id,
            "change-of-address",
            None,
            data(json!({"new_address": "12 Harbour Road, Leith"})),
        )
        .await
        .unwrap();
    let claim = service
        .spawn("kim", &mail.id, "claim", None, data(json!({"amount": 480})))
        .await
        .unwrap();
    let copy = service
        .spawn("kim", &mail.id, "policy-copy", None, Map::new())
        .await
        .unwrap();

    for (spawned, variable) in [
        (&address, "letter"),
        (&claim, "claim_form"),
        (&copy, "scan"),
    ] {
        assert_eq!(
            spawned.data[variable],
            json!({"document": letter}),
            "{} refers to the one original document",
            spawned.process
        );
        assert_eq!(
            (spawned.case.as_str(), spawned.department.as_deref()),
            (mail.id.as_str(), Some("claims")),
            "{}",
            spawned.process
        );
    }
    let case = service.case("kim", &mail.id).await.unwrap();
    let ids: Vec<&str> = case.instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            mail.id.as_str(),
            address.id.as_str(),
            claim.id.as_str(),
            copy.id.as_str()
        ]
    );
    assert!(case.instances[1..]
        .iter()
        .all(|i| i.link == Some(api::LinkKind::Spawned)));

    work(&service, &mail.id, "sort", json!({})).await;
    assert_eq!(
        service.instance("kim", &mail.id).await.unwrap().status,
        api::InstanceStatus::Waiting,
        "the mail waits for its requests"
    );
    work(
        &service,
        &address.id,
        "update_address",
        json!({"new_address": "12 Harbour Road, Leith"}),
    )
    .await;
    work(&service, &claim.id, "assess", json!({"amount": 480})).await;
    assert_eq!(
        service.instance("kim", &mail.id).await.unwrap().status,
        api::InstanceStatus::Waiting
    );
    work(&service, &copy.id, "send_copy", json!({})).await;
    assert_eq!(
        service.instance("kim", &mail.id).await.unwrap().status,
        api::InstanceStatus::Completed
    );
}
