//! The service's main operations, called directly as every surface calls them: each answers
//! with the view types (tasks keyed by id, statuses by name, the acting user in history).

mod support;
use support::{file, ready, t0, ASKS, REVIEW};

use serde_json::json;

use baton_api_model as api;
use baton_service::{HumanTaskAction, HumanTaskRef, PotentialOwners, TaskOperation};

fn inbox_query() -> api::InboxQuery {
    api::InboxQuery {
        status: None,
        process: None,
        due_before: None,
        min_priority: None,
        page: 1,
        per_page: 20,
    }
}

#[tokio::test]
async fn a_started_instance_is_a_view_with_its_tasks_keyed_by_id_in_the_order_they_run() {
    let (_dir, service) = ready().await;
    let started = service
        .start("john", "review", serde_json::Map::new())
        .await
        .unwrap();
    assert_eq!(started.status, api::InstanceStatus::Waiting);
    assert_eq!(started.tasks.keys().collect::<Vec<_>>(), ["check", "done"]);
    let check = serde_json::to_value(&started.tasks["check"]).unwrap();
    assert_eq!(
        check,
        json!({
            "kind": "user", "status": "ready", "attempt": null, "status_since": null, "waiting_until": null,
            "claimed_by": null, "suspended_by": null, "forwarded_to": null, "escalation": null, "event": null, "correlation_key": null,
            "reason": {"rule": "offered_to", "message": "offered to group editors", "details": {"owners": "group editors"}},
            "attempts": 1, "started_at": "2026-03-02T09:00:00Z", "ended_at": null, "child": null
        })
    );
    assert_eq!(
        service.instance("eve", &started.id).await.unwrap(),
        started,
        "any user may read it back unchanged"
    );
}

#[tokio::test]
async fn an_operators_command_is_recorded_in_history_with_the_acting_user() {
    let (_dir, service) = ready().await;
    let id = service
        .start("operator", "asks", serde_json::Map::new())
        .await
        .unwrap()
        .id;
    let input = TaskOperation::Input {
        task: "ask".into(),
        values: json!({"day": "mon"}).as_object().unwrap().clone(),
    };
    let done = service.task_operation("eve", &id, input).await.unwrap();
    assert_eq!(
        (done.status, done.data.clone()),
        (
            api::InstanceStatus::Completed,
            json!({"day": "mon"}).as_object().unwrap().clone()
        )
    );
    let history = service.history("operator", &id).await.unwrap();
    let given: Vec<&api::Event> = history
        .iter()
        .filter(|e| matches!(e.event, api::Event::InputProvided { .. }))
        .map(|e| &e.event)
        .collect();
    assert_eq!(
        given,
        [&api::Event::InputProvided {
            values: json!({"day": "mon"}).as_object().unwrap().clone(),
            by: "eve".into()
        }]
    );
    assert_eq!(
        history.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=history.len() as u64).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_human_task_operation_without_a_number_acts_on_the_task_the_chain_waits_for() {
    let (_dir, service) = ready().await;
    let id = service
        .start("operator", "review", serde_json::Map::new())
        .await
        .unwrap()
        .id;
    let target = HumanTaskRef {
        instance: id.clone(),
        task: "check".into(),
        number: None,
    };

    let claimed = service
        .human_task("john", &target, HumanTaskAction::Claim)
        .await
        .unwrap();
    assert_eq!(
        (
            claimed.human_task_id,
            claimed.instance.tasks["check"].state.claimed_by.as_deref()
        ),
        (0, Some("john"))
    );
    let forward = HumanTaskAction::Forward {
        to: PotentialOwners::user("eve"),
        title: None,
        description: None,
        note: Some("have a look".into()),
        input: serde_json::Map::new(),
        escalations: Vec::new(),
    };
    let forwarded = service.human_task("john", &target, forward).await.unwrap();
    assert_eq!(
        (
            forwarded.human_task_id,
            forwarded.instance.tasks["check"].state.forwarded_to
        ),
        (0, Some(1))
    );

    let page = service.inbox("eve", &inbox_query()).await.unwrap();
    assert_eq!(
        page.rows
            .iter()
            .map(|r| (r.human_task, r.title.as_str(), r.status))
            .collect::<Vec<_>>(),
        [(1, "Check it", api::HumanTaskStatus::Ready)]
    );
    let claimed = service
        .human_task("eve", &target, HumanTaskAction::Claim)
        .await
        .unwrap();
    assert_eq!(
        claimed.human_task_id, 1,
        "the follow-on, which the chain now waits for"
    );
    let shown = service
        .user_task("operator", &id, "check", None)
        .await
        .unwrap();
    let states: Vec<(u32, api::HumanTaskStatus, Option<&str>)> = shown
        .human_tasks
        .iter()
        .map(|t| (t.id, t.state.status, t.state.claimed_by.as_deref()))
        .collect();
    assert_eq!(
        states,
        [
            (0, api::HumanTaskStatus::Forwarded, None),
            (1, api::HumanTaskStatus::Claimed, Some("eve"))
        ]
    );
    assert_eq!(
        shown.human_tasks[1]
            .notes
            .iter()
            .map(|n| (n.by.as_str(), n.text.as_str(), n.at))
            .collect::<Vec<_>>(),
        [("john", "have a look", t0())]
    );
}

#[tokio::test]
async fn a_group_that_does_not_exist_and_a_calendar_not_deployed_are_warnings_and_the_deploy_goes_on(
) {
    let (_dir, service) = ready().await;
    let source = "id: later\ntasks:\n  - id: ask\n    kind: user\n    title: Ask\n    owners: [group:auditors, mary]\n  - id: close\n    kind: job\n    command: ./close.sh\n    calendar: month-end\n    after: [ask]\n";
    let deployed = service
        .deploy("operator", vec![file("later.yaml", source)])
        .await
        .unwrap();
    assert_eq!((deployed[0].id.as_str(), deployed[0].version), ("later", 1));
    assert_eq!(
        deployed[0].warnings,
        [
            "task `ask`: there is no group `auditors` yet; its members are offered the task once it is created",
            "task `close`: calendar `month-end` is not deployed; until it is, the task ends `ended_not_ok` at its calendar check",
        ]
    );
    service.add_group("operator", "auditors").await.unwrap();
    let calendar = "calendar: month-end\ninclude:\n  - weekdays: [mon]\n";
    service
        .deploy("operator", vec![file("month-end.yaml", calendar)])
        .await
        .unwrap();
    let again = service
        .deploy(
            "operator",
            vec![file(
                "later.yaml",
                &source.replace("title: Ask", "title: Ask again"),
            )],
        )
        .await
        .unwrap();
    assert_eq!(again[0].warnings, Vec::<String>::new());
}

#[tokio::test]
async fn definitions_list_their_latest_version_and_every_version_and_source_reads_back() {
    let (_dir, service) = ready().await;
    let again = REVIEW.replace("title: Check it", "title: Check it again");
    let deployed = service
        .deploy("operator", vec![file("review2.yaml", &again)])
        .await
        .unwrap();
    assert_eq!(
        deployed,
        [api::Deployed {
            file: "review2.yaml".into(),
            id: "review".into(),
            version: 2,
            unchanged: false,
            warnings: Vec::new()
        }]
    );
    // The same source again, under any file name, stores nothing: it is version 2.
    let same = service
        .deploy("operator", vec![file("copy.yaml", &again)])
        .await
        .unwrap();
    assert_eq!(
        same,
        [api::Deployed {
            file: "copy.yaml".into(),
            id: "review".into(),
            version: 2,
            unchanged: true,
            warnings: Vec::new()
        }]
    );

    let latest: Vec<(String, u32)> = service
        .definitions("operator")
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.id, d.version))
        .collect();
    assert_eq!(latest, [("asks".to_owned(), 1), ("review".to_owned(), 2)]);
    let versions = service.versions("operator", "review").await.unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version, v.file.as_str(), v.deployed_at))
            .collect::<Vec<_>>(),
        [(1, "review.yaml", t0()), (2, "review2.yaml", t0())]
    );
    assert_eq!(
        service
            .source("operator", "review", Some(1))
            .await
            .unwrap()
            .source,
        REVIEW
    );
    let shown = service
        .definition("operator", "review", None)
        .await
        .unwrap();
    let tasks: Vec<(&str, &str, Vec<String>)> = shown
        .tasks
        .iter()
        .map(|t| (t.id.as_str(), t.kind.as_str(), t.after.clone()))
        .collect();
    assert_eq!(
        tasks,
        [
            ("check", "user", vec![]),
            ("done", "end", vec!["check".to_owned()])
        ]
    );
    assert_eq!(
        service
            .source("operator", "asks", None)
            .await
            .unwrap()
            .source,
        ASKS
    );
}

#[tokio::test]
async fn users_groups_and_departments_are_listed_with_what_they_hold() {
    let (_dir, service) = ready().await;
    service
        .add_user(
            "operator",
            baton_store::NewUser::named("sarah").in_department("legal"),
        )
        .await
        .unwrap();
    let users: Vec<(String, Vec<String>, bool)> = service
        .users("operator")
        .await
        .unwrap()
        .into_iter()
        .map(|u| (u.name, u.groups, u.admin))
        .collect();
    assert_eq!(
        users,
        [
            ("chief".to_owned(), vec![], true),
            ("eve".to_owned(), vec![], false),
            ("john".to_owned(), vec!["editors".to_owned()], false),
            ("operator".to_owned(), vec![], false),
            ("sarah".to_owned(), vec![], false)
        ]
    );
    assert_eq!(
        service.groups("operator").await.unwrap(),
        [api::Group {
            name: "editors".into(),
            members: vec!["john".into()]
        }]
    );
    assert_eq!(service.departments("operator").await.unwrap(), ["legal"]);
    service
        .remove_member("operator", "editors", "john")
        .await
        .unwrap();
    assert_eq!(
        service.groups("operator").await.unwrap()[0].members,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_started_job_is_queued_for_a_worker_and_a_worker_has_work_until_it_ran() {
    let (_dir, service) = ready().await;
    service
        .deploy(
            "operator",
            vec![file(
                "job.yaml",
                "id: job\ntasks:\n  - id: work\n    kind: job\n    command: ['true']\n",
            )],
        )
        .await
        .unwrap();
    assert!(service.idle().await.unwrap(), "nothing open yet");
    let id = service
        .start("operator", "job", serde_json::Map::new())
        .await
        .unwrap()
        .id;
    assert_eq!(
        service.jobs("operator").await.unwrap(),
        api::Jobs {
            queued: 1,
            leased: vec![],
            external: vec![]
        }
    );
    assert!(!service.idle().await.unwrap(), "a job waits for a worker");
    assert_eq!(
        service.instance("operator", &id).await.unwrap().tasks["work"]
            .state
            .status,
        api::TaskStatus::Running
    );
}
