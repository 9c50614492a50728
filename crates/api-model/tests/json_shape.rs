//! The JSON every surface writes: RFC 3339 UTC times with `Z`, every key present (`null`
//! when it does not apply), statuses by their seed names, tasks keyed by id.

use baton_api_model::{
    HumanTaskState, HumanTaskStatus, Instance, InstanceStatus, LinkKind, ParentLink, Suspension,
    Task, TaskState, TaskStatus,
};
use chrono::TimeZone;
use serde_json::json;

fn at(h: u32, nanos: u32) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc.with_ymd_and_hms(2026, 3, 1, h, 30, 0).unwrap()
        + chrono::Duration::nanoseconds(nanos.into())
}

#[test]
fn an_instance_writes_its_tasks_keyed_by_id_with_every_key_and_utc_times() {
    let state = TaskState {
        status: TaskStatus::Claimed,
        attempt: None,
        status_since: Some(at(10, 123_000_000)),
        waiting_until: None,
        claimed_by: Some("john".into()),
        suspended_by: None,
        forwarded_to: None,
        escalation: None,
        event: None,
        correlation_key: None,
    };
    let task = Task {
        kind: "user".into(),
        state,
        reason: None,
        attempts: 1,
        started_at: Some(at(9, 0)),
        ended_at: None,
        child: None,
    };
    let instance = Instance {
        id: "i-1".into(),
        process: "review".into(),
        version: 2,
        status: InstanceStatus::Waiting,
        data: serde_json::Map::new(),
        tasks: [("check".to_owned(), task)].into_iter().collect(),
        created_at: at(9, 0),
        updated_at: at(10, 123_000_000),
        ended_at: None,
        deleted_at: None,
        parent: Some(ParentLink {
            instance: "i-0".into(),
            task: "review".into(),
            link: LinkKind::Call,
            index: None,
        }),
        root: Some("i-0".into()),
        case: "i-0".into(),
        work_status: None,
        referenced_instances: Vec::new(),
        spawned: Vec::new(),
        replaced_by: None,
        department: Some("legal".into()),
    };
    assert_eq!(
        serde_json::to_value(&instance).unwrap(),
        json!({
            "id": "i-1", "process": "review", "version": 2, "status": "waiting", "data": {},
            "tasks": {"check": {
                "kind": "user", "status": "claimed", "attempt": null, "status_since": "2026-03-01T10:30:00.123Z",
                "waiting_until": null, "claimed_by": "john", "suspended_by": null, "forwarded_to": null, "escalation": null,
                "event": null, "correlation_key": null, "reason": null, "attempts": 1, "started_at": "2026-03-01T09:30:00Z", "ended_at": null, "child": null
            }},
            "created_at": "2026-03-01T09:30:00Z", "updated_at": "2026-03-01T10:30:00.123Z",
            "ended_at": null, "deleted_at": null,
            "parent": {"instance": "i-0", "task": "review", "link": "call", "index": null},
            "root": "i-0", "case": "i-0", "work_status": null, "referenced_instances": [],
            "spawned": [], "replaced_by": null, "department": "legal"
        })
    );
}

#[test]
fn a_suspended_human_task_state_names_what_it_resumes_to() {
    let state = HumanTaskState {
        status: HumanTaskStatus::Suspended,
        claimed_by: Some("john".into()),
        forwarded_to: None,
        suspended: Some(Suspension {
            by: "root".into(),
            since: at(11, 0),
            resumes_to: HumanTaskStatus::Claimed,
        }),
        ended: None,
    };
    assert_eq!(
        serde_json::to_value(&state).unwrap(),
        json!({"status": "suspended", "claimed_by": "john", "forwarded_to": null,
               "suspended": {"by": "root", "since": "2026-03-01T11:30:00Z", "resumes_to": "claimed"}, "ended": null})
    );
    let back: HumanTaskState =
        serde_json::from_value(serde_json::to_value(&state).unwrap()).unwrap();
    assert_eq!(back, state, "a view reads back as it was written");
}

#[test]
fn a_status_shows_and_reads_as_its_json_name() {
    assert_eq!(
        TaskStatus::WaitingForStartTime.to_string(),
        "waiting_for_start_time"
    );
    assert_eq!(
        "ended_not_ok".parse::<TaskStatus>(),
        Ok(TaskStatus::EndedNotOk)
    );
    assert_eq!(
        "sleeping".parse::<InstanceStatus>(),
        Err(baton_api_model::UnknownName("sleeping".into()))
    );
    assert_eq!(
        baton_api_model::ErrorKind::NotFound.to_string(),
        "not_found"
    );
}

#[test]
fn a_case_writes_each_instance_with_its_parent_link_and_work_status() {
    let row = |id: &str,
               parent: Option<&str>,
               link: Option<LinkKind>,
               work_status: Option<&str>| baton_api_model::InstanceSummary {
        id: id.into(),
        process: "p".into(),
        version: 1,
        status: InstanceStatus::Running,
        created_at: at(9, 0),
        ended_at: None,
        parent: parent.map(Into::into),
        link,
        case: "i-0".into(),
        work_status: work_status.map(Into::into),
        department: None,
    };
    let case = baton_api_model::Case {
        id: "i-0".into(),
        instances: vec![
            row("i-0", None, None, Some("Pending")),
            row("i-1", Some("i-0"), Some(LinkKind::Handoff), None),
        ],
    };
    assert_eq!(
        serde_json::to_value(&case).unwrap(),
        json!({"id": "i-0", "instances": [
            {"id": "i-0", "process": "p", "version": 1, "status": "running", "created_at": "2026-03-01T09:30:00Z", "ended_at": null,
             "parent": null, "link": null, "case": "i-0", "work_status": "Pending", "department": null},
            {"id": "i-1", "process": "p", "version": 1, "status": "running", "created_at": "2026-03-01T09:30:00Z", "ended_at": null,
             "parent": "i-0", "link": "handoff", "case": "i-0", "work_status": null, "department": null}
        ]})
    );
}
