//! Siebel's interactive workflows in user sessions, through the service as a server offers it:
//! views and submissions, the cache of eight and its least-recently-used eviction with and
//! without Auto Persist, logout, the idle timeout, a server restart taken for a logout,
//! explicit suspension and resumption from the inbox, the inbox item leaving when the
//! workflow ends, implicit resumption by events (cached and in the inbox), and concurrent
//! requests in one session.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};
use tempfile::TempDir;

use baton_api_model as api;
use baton_api_model::ErrorKind;
use baton_core::correlation::ReceivedEvent;
use baton_engine::correlation::{EventReceivers, Publication};
use baton_engine::{Engine, EngineOptions, ManualClock};
use baton_service::{Service, SessionOptions, SourceFile};
use baton_store::Orphans;
use baton_store::{InteractiveStore, NewUser};
use baton_store_sqlite::{Durability, SqliteStore};

type SqliteService = Service<SqliteStore>;

/// A note the user writes in one view; kept in the inbox when it leaves the cache.
const KEPT: &str = "id: kept
interactive: true
auto_persist: true
data:
  text: string
tasks:
  - id: write
    kind: view
    title: Write the note
    form:
      text: string
";

/// The same without Auto Persist: deleted when it leaves the cache.
const DROPPED: &str = "id: dropped
interactive: true
data:
  text: string
tasks:
  - id: write
    kind: view
    form:
      text: string
";

/// Waits for the spouse's social security number for its customer, then shows a confirmation.
const ASK_SSN: &str = "id: ask-ssn
interactive: true
auto_persist: true
data:
  customer_id: string
  ssn: string
tasks:
  - id: wait
    kind: wait
    event: ssn-received
    key: data.customer_id
    output: {ssn: event.ssn}
  - id: confirm
    kind: view
    after: [wait]
    form:
      ok: boolean
";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn file(name: &str, text: &str) -> SourceFile {
    SourceFile {
        name: name.into(),
        bytes: text.as_bytes().to_vec(),
    }
}

fn data(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

/// A server's service on the database in `dir` (made with the people and the definitions
/// the first time), with `options`, its clock at `clock`.
async fn server(dir: &TempDir, clock: Arc<ManualClock>, options: SessionOptions) -> SqliteService {
    server_as(dir, clock, options, "test-node").await
}

/// [`server`] as the node named `node`.
async fn server_as(
    dir: &TempDir,
    clock: Arc<ManualClock>,
    options: SessionOptions,
    node: &str,
) -> SqliteService {
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal)
        .expect("the database opens");
    let engine = Engine::new(
        store,
        clock,
        EngineOptions {
            node: node.into(),
            ..EngineOptions::default()
        },
    );
    let local = Service::local(engine.clone());
    if local
        .users("operator")
        .await
        .unwrap()
        .iter()
        .all(|u| u.name != "agnes")
    {
        for user in [
            NewUser::named("agnes"),
            NewUser::named("bert"),
            NewUser::named("publisher").admin(),
        ] {
            local.add_user("operator", user).await.unwrap();
        }
        local
            .deploy(
                "operator",
                vec![
                    file("kept.yaml", KEPT),
                    file("dropped.yaml", DROPPED),
                    file("ask-ssn.yaml", ASK_SSN),
                ],
            )
            .await
            .unwrap();
    }
    Service::with_sessions(engine, options)
}

async fn ready() -> (TempDir, Arc<ManualClock>, SqliteService) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let service = server(&dir, clock.clone(), SessionOptions::default()).await;
    (dir, clock, service)
}

/// The instance's status, and the reason its last status change gave.
async fn status(service: &SqliteService, id: &str) -> (api::InstanceStatus, Option<String>) {
    let instance = service.instance("agnes", id).await.unwrap();
    let history = service.history("agnes", id).await.unwrap();
    let reason = history.iter().rev().find_map(|e| match &e.event {
        api::Event::InstanceStatusChanged { reason, .. } => {
            Some(reason.as_ref().map(|r| r.message.clone()))
        }
        _ => None,
    });
    (instance.status, reason.flatten())
}

/// How often task `task` ended OK in the instance's history.
async fn ended_ok(service: &SqliteService, id: &str, task: &str) -> usize {
    let history = service.history("agnes", id).await.unwrap();
    history.iter().filter(|e| e.task.as_deref() == Some(task) && matches!(&e.event, api::Event::TaskStatusChanged { to, .. } if to.status == api::TaskStatus::EndedOk)).count()
}

fn ids(workflows: &[api::SessionWorkflow]) -> Vec<String> {
    workflows.iter().map(|w| w.instance.clone()).collect()
}

async fn inbox(
    service: &SqliteService,
    user: &str,
) -> Vec<(String, api::SuspendedWhy, Option<String>)> {
    service
        .suspended_workflows(user)
        .await
        .unwrap()
        .into_iter()
        .map(|w| (w.instance, w.why, w.note))
        .collect()
}

#[tokio::test]
async fn a_view_waits_for_its_user_and_a_submission_that_does_not_fit_its_form_changes_nothing() {
    let (_dir, _, service) = ready().await;
    let session = service.login("agnes").await.unwrap();
    let started = service
        .session_start("agnes", &session.id, "kept", Map::new())
        .await
        .unwrap();
    let workflow = started.workflow;
    assert_eq!(
        (workflow.status, workflow.step.as_deref()),
        (api::InstanceStatus::Waiting, Some("write"))
    );
    let view = workflow.view.clone().unwrap();
    assert_eq!(
        (view.task.as_str(), view.title.as_str(), view.fields.len()),
        ("write", "Write the note", 1)
    );
    assert_eq!(
        service
            .instance("agnes", &workflow.instance)
            .await
            .unwrap()
            .tasks["write"]
            .state
            .status,
        api::TaskStatus::WaitingForUserInput
    );

    let refused = service
        .session_submit(
            "agnes",
            &session.id,
            &workflow.instance,
            None,
            data(json!({"text": 7, "extra": 1})),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Invalid);
    let message = refused.to_string();
    assert!(
        message.contains("`extra` is not a field") && message.contains("`text` must be"),
        "{message}"
    );
    assert_eq!(
        status(&service, &workflow.instance).await.0,
        api::InstanceStatus::Waiting,
        "nothing changed"
    );

    let done = service
        .session_submit(
            "agnes",
            &session.id,
            &workflow.instance,
            None,
            data(json!({"text": "hello"})),
        )
        .await
        .unwrap();
    assert_eq!(
        (done.workflow.status, done.workflow.step),
        (api::InstanceStatus::Completed, None)
    );
    assert_eq!(
        service
            .instance("agnes", &workflow.instance)
            .await
            .unwrap()
            .data["text"],
        json!("hello")
    );
    assert!(
        service
            .session_workflows("agnes", &session.id)
            .await
            .unwrap()
            .is_empty(),
        "an ended workflow leaves the cache"
    );
}

#[tokio::test]
async fn interactive_processes_start_only_in_a_session_and_sessions_are_their_users_own() {
    let (_dir, _, service) = ready().await;
    let refused = service
        .start("agnes", "kept", Map::new())
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Invalid);
    let session = service.login("agnes").await.unwrap();
    let started = service
        .session_start("agnes", &session.id, "kept", Map::new())
        .await
        .unwrap();
    let other = service
        .session_workflows("bert", &session.id)
        .await
        .unwrap_err();
    assert_eq!(other.kind(), ErrorKind::Forbidden);
    let theirs = service.login("bert").await.unwrap();
    let taken = service
        .session_resume("bert", &theirs.id, &started.workflow.instance)
        .await
        .unwrap_err();
    assert_eq!(taken.kind(), ErrorKind::Forbidden);
    assert_eq!(
        service
            .session_workflows("nobody", &session.id)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Unauthenticated
    );
    assert_eq!(
        service
            .session_workflows("agnes", "no-such-session")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn the_ninth_workflow_evicts_the_least_recently_used_into_the_inbox_when_it_has_auto_persist()
{
    let (_dir, _, service) = ready().await;
    let session = service.login("agnes").await.unwrap();
    let mut started = Vec::new();
    for _ in 0..8 {
        let step = service
            .session_start("agnes", &session.id, "kept", Map::new())
            .await
            .unwrap();
        assert!(step.left.is_empty());
        started.push(step.workflow.instance);
    }
    // The first one is used again: the second is now the least recently used.
    service
        .session_resume("agnes", &session.id, &started[0])
        .await
        .unwrap();
    let ninth = service
        .session_start("agnes", &session.id, "kept", Map::new())
        .await
        .unwrap();
    assert_eq!(
        ninth.left,
        [api::LeftWorkflow {
            instance: started[1].clone(),
            process: "kept".into(),
            to: api::LeftTo::Inbox,
            why: "evicted".into()
        }]
    );
    let cached = ids(&service
        .session_workflows("agnes", &session.id)
        .await
        .unwrap());
    let mut expected = vec![ninth.workflow.instance.clone(), started[0].clone()];
    expected.extend(started[2..].iter().rev().cloned());
    assert_eq!(cached, expected, "most recently used first, eight of them");
    assert_eq!(
        inbox(&service, "agnes").await,
        [(
            started[1].clone(),
            api::SuspendedWhy::Implicit,
            Some("evicted".into())
        )]
    );
    assert_eq!(
        status(&service, &started[1]).await.0,
        api::InstanceStatus::Waiting,
        "saved, not ended"
    );
}

#[tokio::test]
async fn without_auto_persist_the_evicted_workflow_is_deleted_with_the_reason() {
    let (_dir, _, service) = ready().await;
    let session = service.login("agnes").await.unwrap();
    let first = service
        .session_start("agnes", &session.id, "dropped", Map::new())
        .await
        .unwrap()
        .workflow
        .instance;
    for _ in 0..7 {
        service
            .session_start("agnes", &session.id, "kept", Map::new())
            .await
            .unwrap();
    }
    let ninth = service
        .session_start("agnes", &session.id, "kept", Map::new())
        .await
        .unwrap();
    assert_eq!(
        ninth.left,
        [api::LeftWorkflow {
            instance: first.clone(),
            process: "dropped".into(),
            to: api::LeftTo::Deleted,
            why: "evicted".into()
        }]
    );
    let (ended, reason) = status(&service, &first).await;
    assert_eq!(ended, api::InstanceStatus::Aborted);
    let reason = reason.unwrap();
    assert!(
        reason.contains("cache of 8 was full") && reason.contains("no Auto Persist"),
        "{reason}"
    );
    assert!(inbox(&service, "agnes").await.is_empty());
}

#[tokio::test]
async fn the_cache_size_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let service = server(
        &dir,
        clock,
        SessionOptions {
            cache_size: 2,
            ..SessionOptions::default()
        },
    )
    .await;
    let session = service.login("agnes").await.unwrap();
    assert_eq!(session.cache_size, 2);
    let first = service
        .session_start("agnes", &session.id, "kept", Map::new())
        .await
        .unwrap()
        .workflow
        .instance;
    service
        .session_start("agnes", &session.id, "kept", Map::new())
        .await
        .unwrap();
    let third = service
        .session_start("agnes", &session.id, "kept", Map::new())
        .await
        .unwrap();
    assert_eq!(
        third
            .left
            .iter()
            .map(|l| l.instance.clone())
            .collect::<Vec<_>>(),
        [first]
    );
}

#[tokio::test]
async fn logout_saves_the_auto_persist_workflows_in_the_inbox_and_deletes_the_others() {
    let (_dir, _, service) = ready().await;
    let session = service.login("agnes").await.unwrap();
    let kept = service
        .session_start("agnes", &session.id, "kept", Map::new())
        .await
        .unwrap()
        .workflow
        .instance;
    let dropped = service
        .session_start("agnes", &session.id, "dropped", Map::new())
        .await
        .unwrap()
        .workflow
        .instance;
    let logout = service.logout("agnes", &session.id).await.unwrap();
    let mut left: Vec<(String, api::LeftTo)> = logout
        .left
        .iter()
        .map(|l| (l.instance.clone(), l.to))
        .collect();
    left.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![
        (kept.clone(), api::LeftTo::Inbox),
        (dropped.clone(), api::LeftTo::Deleted),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(left, expected);
    assert_eq!(
        inbox(&service, "agnes").await,
        [(
            kept.clone(),
            api::SuspendedWhy::Implicit,
            Some("logout".into())
        )]
    );
    assert_eq!(
        status(&service, &dropped).await.0,
        api::InstanceStatus::Aborted
    );
    assert_eq!(
        status(&service, &kept).await.0,
        api::InstanceStatus::Waiting
    );
    assert_eq!(
        service
            .session_workflows("agnes", &session.id)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound,
        "the session ended"
    );
}

#[tokio::test]
async fn a_session_idle_past_its_timeout_is_logged_out() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let service = server(
        &dir,
        clock.clone(),
        SessionOptions {
            idle_timeout: Duration::from_secs(600),
            ..SessionOptions::default()
        },
    )
    .await;
    let idle = service.login("agnes").await.unwrap();
    let busy = service.login("agnes").await.unwrap();
    let kept = service
        .session_start("agnes", &idle.id, "kept", Map::new())
        .await
        .unwrap()
        .workflow
        .instance;
    clock.advance(chrono::Duration::seconds(400));
    service.session_workflows("agnes", &busy.id).await.unwrap();
    assert_eq!(
        service.expire_idle_sessions().await.unwrap(),
        0,
        "neither is idle past ten minutes yet"
    );
    clock.advance(chrono::Duration::seconds(201));
    assert_eq!(service.expire_idle_sessions().await.unwrap(), 1);
    assert_eq!(
        service
            .session_workflows("agnes", &idle.id)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        inbox(&service, "agnes").await,
        [(
            kept,
            api::SuspendedWhy::Implicit,
            Some("idle_timeout".into())
        )]
    );
    service.session_workflows("agnes", &busy.id).await.unwrap();
    // A request after the timeout finds the session logged out, even before a sweep.
    clock.advance(chrono::Duration::seconds(601));
    assert_eq!(
        service
            .session_workflows("agnes", &busy.id)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn a_server_that_stopped_with_sessions_open_logs_them_out_when_it_starts_again() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let (kept, dropped, session) = {
        let service = server(&dir, clock.clone(), SessionOptions::default()).await;
        let session = service.login("agnes").await.unwrap();
        let kept = service
            .session_start("agnes", &session.id, "kept", Map::new())
            .await
            .unwrap()
            .workflow
            .instance;
        let dropped = service
            .session_start("agnes", &session.id, "dropped", Map::new())
            .await
            .unwrap()
            .workflow
            .instance;
        // What was entered is committed as it happens.
        (kept, dropped, session.id)
        // The server goes away without logging anyone out.
    };
    let restarted = server(&dir, clock, SessionOptions::default()).await;
    assert_eq!(restarted.recover_sessions(Orphans::All).await.unwrap(), 1);
    assert_eq!(
        inbox(&restarted, "agnes").await,
        [(
            kept.clone(),
            api::SuspendedWhy::Implicit,
            Some("server_restart".into())
        )]
    );
    let (dropped_status, reason) = status(&restarted, &dropped).await;
    assert_eq!(dropped_status, api::InstanceStatus::Aborted);
    assert!(reason.unwrap().contains("server stopped"));
    assert_eq!(
        restarted
            .session_workflows("agnes", &session)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        restarted.recover_sessions(Orphans::All).await.unwrap(),
        0,
        "once"
    );
    // The saved one resumes in a new session where its user left off.
    let again = restarted.login("agnes").await.unwrap();
    let resumed = restarted
        .session_resume("agnes", &again.id, &kept)
        .await
        .unwrap();
    assert_eq!(resumed.workflow.step.as_deref(), Some("write"));
}

#[tokio::test]
async fn a_node_whose_lease_expired_has_its_sessions_logged_out_by_a_live_node_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let lease = Duration::from_secs(30);
    let a = server_as(&dir, clock.clone(), SessionOptions::default(), "a").await;
    let b = server_as(&dir, clock.clone(), SessionOptions::default(), "b").await;
    a.renew_node_lease(lease).await.unwrap();
    b.renew_node_lease(lease).await.unwrap();
    let session = a.login("agnes").await.unwrap().id;
    let start = |process: &'static str| {
        let (a, session) = (&a, &session);
        async move {
            a.session_start("agnes", session, process, Map::new())
                .await
                .unwrap()
                .workflow
                .instance
        }
    };
    let (kept, dropped) = (start("kept").await, start("dropped").await);

    clock.advance(chrono::Duration::seconds(20));
    b.renew_node_lease(lease).await.unwrap();
    assert_eq!(
        b.recover_sessions(Orphans::OfExpiredNodes).await.unwrap(),
        0,
        "a's lease runs until 30 s"
    );
    // a stops renewing (it died, or stalled); b goes on.
    clock.advance(chrono::Duration::seconds(20));
    b.renew_node_lease(lease).await.unwrap();
    assert_eq!(
        b.recover_sessions(Orphans::OfExpiredNodes).await.unwrap(),
        1
    );
    assert_eq!(
        inbox(&b, "agnes").await,
        [(
            kept,
            api::SuspendedWhy::Implicit,
            Some("server_restart".into())
        )]
    );
    assert_eq!(status(&b, &dropped).await.0, api::InstanceStatus::Aborted);
    assert_eq!(
        b.recover_sessions(Orphans::OfExpiredNodes).await.unwrap(),
        0,
        "once"
    );

    // a wakes: the session is no longer its own.
    assert_eq!(a.drop_lost_sessions().await.unwrap(), 1);
    assert_eq!(
        a.session_workflows("agnes", &session)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(a.drop_lost_sessions().await.unwrap(), 0);
}

#[tokio::test]
async fn a_suspended_workflow_resumes_from_the_inbox_where_its_user_left_off_and_leaves_the_inbox_when_it_ends(
) {
    let (_dir, _, service) = ready().await;
    let session = service.login("agnes").await.unwrap();
    let id = service
        .session_start("agnes", &session.id, "dropped", Map::new())
        .await
        .unwrap()
        .workflow
        .instance;
    let suspended = service
        .session_suspend("agnes", &session.id, &id)
        .await
        .unwrap();
    assert_eq!(
        (
            suspended.owner.as_str(),
            suspended.process.as_str(),
            suspended.step.as_deref(),
            suspended.why
        ),
        (
            "agnes",
            "dropped",
            Some("write"),
            api::SuspendedWhy::Explicit
        )
    );
    assert_eq!(suspended.suspended_at, t0());
    assert!(
        service
            .session_workflows("agnes", &session.id)
            .await
            .unwrap()
            .is_empty(),
        "it left the cache"
    );
    let page = service
        .inbox(
            "agnes",
            &api::InboxQuery {
                status: None,
                process: None,
                due_before: None,
                min_priority: None,
                page: 1,
                per_page: 20,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        page.workflows,
        [suspended.clone()],
        "the inbox lists it beside the human tasks"
    );
    let refused = service
        .session_submit("agnes", &session.id, &id, None, data(json!({"text": "x"})))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict, "{refused}");
    // Explicit suspension keeps it whatever its Auto Persist: logging out does not delete it.
    service.logout("agnes", &session.id).await.unwrap();
    assert_eq!(status(&service, &id).await.0, api::InstanceStatus::Waiting);

    let later = service.login("agnes").await.unwrap();
    let resumed = service
        .session_resume("agnes", &later.id, &id)
        .await
        .unwrap();
    assert_eq!(
        (
            resumed.workflow.step.as_deref(),
            resumed.workflow.view.map(|v| v.task)
        ),
        (Some("write"), Some("write".to_owned()))
    );
    assert!(
        inbox(&service, "agnes").await.is_empty(),
        "resumed: in the cache, not the inbox"
    );
    service
        .session_suspend("agnes", &later.id, &id)
        .await
        .unwrap();
    service
        .session_resume("agnes", &later.id, &id)
        .await
        .unwrap();
    let done = service
        .session_submit("agnes", &later.id, &id, None, data(json!({"text": "done"})))
        .await
        .unwrap();
    assert_eq!(done.workflow.status, api::InstanceStatus::Completed);
    assert!(inbox(&service, "agnes").await.is_empty());
    assert!(
        service
            .engine()
            .store()
            .interactive_workflow(&id)
            .await
            .unwrap()
            .is_none(),
        "nothing is left of it"
    );
}

fn ssn(customer: &str, id: &str) -> Publication {
    Publication {
        name: "ssn-received".into(),
        key: Some(customer.into()),
        data: data(json!({"ssn": "078-05-1120"})),
        id: Some(id.into()),
        ttl: None,
    }
}

#[tokio::test]
async fn an_event_resumes_a_cached_workflow_and_one_in_the_inbox_and_the_caches_are_asked_first() {
    let (_dir, _, service) = ready().await;
    let session = service.login("agnes").await.unwrap();
    let start = |customer: &str| {
        service.session_start(
            "agnes",
            &session.id,
            "ask-ssn",
            data(json!({"customer_id": customer})),
        )
    };
    let cached = start("C-1").await.unwrap().workflow;
    assert_eq!(cached.waiting_for.as_deref(), Some("ssn-received key C-1"));
    let saved = start("C-1").await.unwrap().workflow.instance;
    service
        .session_suspend("agnes", &session.id, &saved)
        .await
        .unwrap();
    let other = start("C-2").await.unwrap().workflow.instance;

    // The sessions name what their caches hold that waits for the event, and only that.
    let receivers = service.session_cache().unwrap();
    let event = ReceivedEvent {
        id: "e".into(),
        name: "ssn-received".into(),
        key: Some("C-1".into()),
        data: Map::new(),
    };
    assert_eq!(receivers.receivers(&event), [cached.instance.clone()]);

    let published = service.engine().publish(ssn("C-1", "ssn-1")).await.unwrap();
    let mut resumed = published.resumed.clone();
    resumed.sort();
    let mut expected = vec![cached.instance.clone(), saved.clone()];
    expected.sort();
    assert_eq!(
        resumed, expected,
        "the cached one and the one in the inbox, each once"
    );
    for id in [&cached.instance, &saved] {
        assert_eq!(
            service.instance("agnes", id).await.unwrap().data["ssn"],
            json!("078-05-1120")
        );
    }
    assert_eq!(
        service.instance("agnes", &other).await.unwrap().tasks["wait"]
            .state
            .status,
        api::TaskStatus::WaitingForEvent
    );
    // The one in the inbox waits there for its user, at its next view.
    let listed = service.suspended_workflows("agnes").await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|w| (w.instance.clone(), w.step.clone()))
            .collect::<Vec<_>>(),
        [(saved.clone(), Some("confirm".to_owned()))]
    );
    let workflows = service
        .session_workflows("agnes", &session.id)
        .await
        .unwrap();
    let shown = workflows
        .iter()
        .find(|w| w.instance == cached.instance)
        .unwrap();
    assert_eq!(
        shown.view.as_ref().map(|v| v.task.as_str()),
        Some("confirm")
    );
    // Published again: remembered, nothing resumed twice.
    assert!(service
        .engine()
        .publish(ssn("C-1", "ssn-1"))
        .await
        .unwrap()
        .resumed
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_tabs_submitting_one_view_at_once_submit_it_once() {
    let (_dir, _, service) = ready().await;
    let session = service.login("agnes").await.unwrap();
    for n in 0..10 {
        let id = service
            .session_start("agnes", &session.id, "kept", Map::new())
            .await
            .unwrap()
            .workflow
            .instance;
        let tab = |text: String| {
            let (service, session, id) = (service.clone(), session.id.clone(), id.clone());
            tokio::spawn(async move {
                service
                    .session_submit("agnes", &session, &id, None, data(json!({"text": text})))
                    .await
            })
        };
        let (a, b) = (tab(format!("a{n}")), tab(format!("b{n}")));
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        assert!(
            a.is_ok() != b.is_ok(),
            "one submission is taken: {a:?} {b:?}"
        );
        assert_eq!(ended_ok(&service, &id, "write").await, 1);
        assert!(service
            .session_workflows("agnes", &session.id)
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_starts_and_resumptions_in_one_session_keep_the_cache_whole() {
    let (_dir, _, service) = ready().await;
    let session = service.login("agnes").await.unwrap();
    let mut tabs = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (service, session) = (service.clone(), session.id.clone());
        tabs.spawn(async move {
            service
                .session_start("agnes", &session, "kept", Map::new())
                .await
                .unwrap()
        });
    }
    let mut started = Vec::new();
    let mut left = Vec::new();
    while let Some(step) = tabs.join_next().await {
        let step = step.unwrap();
        started.push(step.workflow.instance);
        left.extend(step.left.into_iter().map(|l| l.instance));
    }
    let cached = ids(&service
        .session_workflows("agnes", &session.id)
        .await
        .unwrap());
    assert_eq!(cached.len(), 8);
    assert_eq!(left.len(), 12, "every one beyond eight left once");
    let mut all: Vec<String> = cached.iter().chain(&left).cloned().collect();
    all.sort();
    started.sort();
    assert_eq!(all, started, "each is in the cache or left it, never both");
    assert_eq!(inbox(&service, "agnes").await.len(), 12);

    // Two tabs resume the same saved workflow at once: it enters the cache once.
    let saved = left[0].clone();
    let resume = || {
        let (service, session, saved) = (service.clone(), session.id.clone(), saved.clone());
        tokio::spawn(async move { service.session_resume("agnes", &session, &saved).await })
    };
    let (a, b) = (resume(), resume());
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert!(
        a.is_ok() && b.is_ok(),
        "the second finds it in the cache: {a:?} {b:?}"
    );
    let cached = ids(&service
        .session_workflows("agnes", &session.id)
        .await
        .unwrap());
    assert_eq!(
        (cached.len(), cached.iter().filter(|c| **c == saved).count()),
        (8, 1)
    );
    assert_eq!(
        inbox(&service, "agnes").await.len(),
        12,
        "one came in, one went out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_published_while_a_workflow_moves_from_the_cache_to_the_inbox_resumes_it_once() {
    let (_dir, _, service) = ready().await;
    let session = service.login("agnes").await.unwrap();
    for n in 0..20 {
        let customer = format!("R-{n}");
        let id = service
            .session_start(
                "agnes",
                &session.id,
                "ask-ssn",
                data(json!({"customer_id": customer})),
            )
            .await
            .unwrap()
            .workflow
            .instance;
        let suspend = {
            let (service, session, id) = (service.clone(), session.id.clone(), id.clone());
            tokio::spawn(async move { service.session_suspend("agnes", &session, &id).await })
        };
        let publish = {
            let (engine, customer) = (service.engine().clone(), customer.clone());
            tokio::spawn(async move {
                engine
                    .publish(ssn(&customer, &format!("race-{customer}")))
                    .await
            })
        };
        let (suspended, published) = (suspend.await.unwrap(), publish.await.unwrap().unwrap());
        suspended.unwrap();
        assert_eq!(published.resumed, [id.clone()], "resumed once");
        assert_eq!(ended_ok(&service, &id, "wait").await, 1);
        let listed = service.suspended_workflows("agnes").await.unwrap();
        let item = listed
            .iter()
            .find(|w| w.instance == id)
            .expect("in the inbox");
        assert_eq!(item.step.as_deref(), Some("confirm"));
        assert!(!ids(&service
            .session_workflows("agnes", &session.id)
            .await
            .unwrap())
        .contains(&id));
    }
}
