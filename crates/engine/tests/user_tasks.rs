//! Human tasks through the engine and a real SQLite store (the IBM follow-on tasks
//! seed): the article-publishing example end to end, acting users resolved from the identity
//! store, the inbox kept in the same commit as every step, escalation and expiration timers
//! fired from the durable timer table across a restart, and the rules that make a chain of
//! follow-on tasks act as one task. Time comes from a `ManualClock`.

mod support;
use support::start_worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};
use tempfile::TempDir;

use baton_core::user_task::{
    FollowOnSpec, HumanTaskId, HumanTaskStatus, PotentialOwners, UserTask, UserTaskCommand,
    UserTaskError,
};
use baton_core::{EventKind, Instance, InstanceStatus, TaskStatus, TransitionError};
use baton_engine::{Engine, EngineError, EngineOptions, ManualClock};
use baton_store::{
    IdentityError, IdentityStore, InboxFilter, InboxReader, InboxRow, InboxStatus, InstanceReader,
    NewUser, Page, TimerQueue,
};
use baton_store_sqlite::{Durability, SqliteStore};

type SqliteEngine = Engine<SqliteStore>;

const ORIGINAL: HumanTaskId = HumanTaskId::ORIGINAL;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn open(dir: &TempDir, clock: &Arc<ManualClock>) -> SqliteEngine {
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal)
        .expect("the database opens");
    Engine::new(
        store,
        clock.clone(),
        EngineOptions {
            node: "test-node".into(),
            ..EngineOptions::default()
        },
    )
}

/// john is an editor, sarah is in legal, eve is nobody in particular, chief administers.
async fn people(engine: &SqliteEngine) {
    let store = engine.store();
    for user in [
        NewUser::named("john"),
        NewUser::named("sarah"),
        NewUser::named("eve"),
        NewUser::named("chief").admin(),
    ] {
        store.add_user(user, t0()).await.unwrap();
    }
    for (group, members) in [("editors", &["john"][..]), ("legal", &["sarah"][..])] {
        store.add_group(group, t0()).await.unwrap();
        for m in members {
            store.add_member(group, m).await.unwrap();
        }
    }
}

async fn setup(source: &str) -> (TempDir, Arc<ManualClock>, SqliteEngine) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let engine = open(&dir, &clock);
    people(&engine).await;
    engine
        .deploy("flow.yaml", source)
        .await
        .unwrap_or_else(|e| panic!("the definition deploys: {e}"));
    (dir, clock, engine)
}

fn example(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn user_task<'i>(
    engine_def: &baton_core::Definition,
    instance: &'i Instance,
    task: &str,
) -> &'i UserTask {
    instance.tasks[engine_def.task_index(task).unwrap()]
        .user_task
        .as_ref()
        .expect("the user task started")
}

async fn state(engine: &SqliteEngine, id: &str, task: &str) -> (Instance, TaskStatus, UserTask) {
    let instance = engine.instance(id).await.unwrap();
    let def = engine
        .definition(&instance.definition_id, Some(instance.definition_version))
        .await
        .unwrap();
    let i = def.task_index(task).unwrap();
    let status = instance.tasks[i].status.clone();
    let ut = user_task(&def, &instance, task).clone();
    (instance, status, ut)
}

fn human(ut: &UserTask, n: u32) -> &HumanTaskStatus {
    &ut.task(HumanTaskId(n))
        .expect("the human task exists")
        .status
}

async fn inbox(engine: &SqliteEngine, user: &str) -> Vec<InboxRow> {
    inbox_with(engine, user, InboxFilter::default(), Page::default()).await
}

async fn inbox_with(
    engine: &SqliteEngine,
    user: &str,
    filter: InboxFilter,
    page: Page,
) -> Vec<InboxRow> {
    let caller = engine.store().caller(user).await.unwrap();
    let groups: Vec<String> = caller.groups.into_iter().collect();
    engine
        .store()
        .inbox(user, &groups, &filter, page)
        .await
        .unwrap()
        .rows
}

fn titles(rows: &[InboxRow]) -> Vec<String> {
    rows.iter()
        .map(|r| format!("{}#{} {} {}", r.task, r.human_task.0, r.title, r.status))
        .collect()
}

fn claim(n: u32) -> UserTaskCommand {
    UserTaskCommand::Claim {
        task: HumanTaskId(n),
    }
}

fn complete(n: u32, output: Value) -> UserTaskCommand {
    UserTaskCommand::Complete {
        task: HumanTaskId(n),
        output: output.as_object().cloned().unwrap(),
    }
}

fn follow_on(n: u32, title: &str, to: PotentialOwners, notes: &str) -> UserTaskCommand {
    UserTaskCommand::StartFollowOn {
        task: HumanTaskId(n),
        spec: FollowOnSpec::new(title, to).with_notes(notes),
    }
}

async fn wait_until(engine: &SqliteEngine, id: &str, done: impl Fn(&Instance) -> bool) -> Instance {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let instance = engine.instance(id).await.expect("the instance reads");
        if done(&instance) {
            return instance;
        }
        assert!(
            Instant::now() < deadline,
            "instance {id} did not get there; it is {}",
            instance.status
        );
        engine.wait_for_change(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------
// The seed's example

#[tokio::test(flavor = "multi_thread")]
async fn the_article_publishing_process_continues_with_the_output_of_the_legal_review_follow_on() {
    let (_dir, _clock, engine) = setup(&example("article-publishing.yaml")).await;
    let started = engine
        .start("article-publishing", Map::new())
        .await
        .unwrap();
    assert_eq!(
        started.status,
        InstanceStatus::Waiting,
        "the process waits for a human"
    );
    let id = started.id.clone();
    assert_eq!(
        titles(&inbox(&engine, "john").await),
        vec!["review_article#0 Review Article ready"],
        "offered to the editors"
    );
    assert!(inbox(&engine, "sarah").await.is_empty());

    // John claims Review Article…
    engine
        .user_task(&id, "review_article", "john", claim(0))
        .await
        .unwrap();
    assert_eq!(
        titles(&inbox(&engine, "john").await),
        vec!["review_article#0 Review Article claimed"]
    );
    // …and passes the legal aspects on to Sarah as a follow-on task with a note.
    let command = follow_on(
        0,
        "Legal Review",
        PotentialOwners::user("sarah"),
        "It describes a collaboration with a competitor: please check the legal side",
    );
    engine
        .user_task(&id, "review_article", "john", command)
        .await
        .unwrap();
    let (instance, status, ut) = state(&engine, &id, "review_article").await;
    assert_eq!(
        status,
        TaskStatus::Forwarded { to: HumanTaskId(1) },
        "Review Article is forwarded"
    );
    assert!(matches!(human(&ut, 0), HumanTaskStatus::Forwarded { .. }));
    assert_eq!(
        instance.status,
        InstanceStatus::Waiting,
        "the process waits for the follow-on"
    );
    assert!(
        inbox(&engine, "john").await.is_empty(),
        "the work on John's task ended"
    );
    let legal = ut.task(HumanTaskId(1)).unwrap();
    assert_eq!(
        legal.input["article"], "Our collaboration with a competitor product",
        "the article is the follow-on's input"
    );
    assert_eq!(legal.notes[0].by, "john");
    assert_eq!(
        titles(&inbox(&engine, "sarah").await),
        vec!["review_article#1 Legal Review ready"]
    );

    // Sarah claims her Legal Review and completes it with her comments.
    engine
        .user_task(&id, "review_article", "sarah", claim(1))
        .await
        .unwrap();
    let output =
        json!({"approved": true, "comments": "Legally fine once the competitor is not named"});
    engine
        .user_task(&id, "review_article", "sarah", complete(1, output))
        .await
        .unwrap();
    assert!(inbox(&engine, "sarah").await.is_empty());

    // The process continues with the output it associates with Review Article, from Sarah.
    let worker = start_worker(&engine);
    let done = wait_until(&engine, &id, |i| i.status.is_terminal()).await;
    worker.stop().await;
    assert_eq!(done.status, InstanceStatus::Completed);
    assert_eq!(
        done.data["comments"],
        "Legally fine once the competitor is not named"
    );
    assert_eq!(done.data["published"], true);
    let history = engine.store().history(&id).await.unwrap();
    let published = history.iter().find_map(|e| match &e.kind {
        EventKind::JobFinished { stdout_tail, .. } if e.task.as_deref() == Some("publish") => {
            Some(stdout_tail.clone())
        }
        _ => None,
    });
    assert!(
        published
            .unwrap()
            .contains("review: Legally fine once the competitor is not named"),
        "publish used Sarah's output"
    );

    // Deleting the process instance deletes both tasks.
    engine.delete_instance(&id, "operator").await.unwrap();
    let (instance, _, ut) = state(&engine, &id, "review_article").await;
    assert!(instance.deleted_at.is_some());
    assert!(matches!(human(&ut, 0), HumanTaskStatus::Deleted { .. }));
    assert!(matches!(human(&ut, 1), HumanTaskStatus::Deleted { .. }));
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_the_process_instance_deletes_both_tasks_and_empties_the_inboxes() {
    let (_dir, _clock, engine) = setup(&example("article-publishing.yaml")).await;
    let id = engine
        .start("article-publishing", Map::new())
        .await
        .unwrap()
        .id
        .clone();
    engine
        .user_task(&id, "review_article", "john", claim(0))
        .await
        .unwrap();
    engine
        .user_task(
            &id,
            "review_article",
            "john",
            follow_on(0, "Legal Review", PotentialOwners::user("sarah"), ""),
        )
        .await
        .unwrap();
    assert_eq!(
        engine.store().inbox_of_instance(&id).await.unwrap().len(),
        1
    );

    let deleted = engine.delete_instance(&id, "operator").await.unwrap();
    assert_eq!(deleted.status, InstanceStatus::Aborted);
    let (_, _, ut) = state(&engine, &id, "review_article").await;
    assert!(ut.deleted);
    assert!(
        matches!(human(&ut, 0), HumanTaskStatus::Deleted { .. })
            && matches!(human(&ut, 1), HumanTaskStatus::Deleted { .. })
    );
    assert!(engine
        .store()
        .inbox_of_instance(&id)
        .await
        .unwrap()
        .is_empty());
    assert!(inbox(&engine, "sarah").await.is_empty() && inbox(&engine, "john").await.is_empty());
    assert_eq!(
        engine.store().next_timer_due().await.unwrap(),
        None,
        "the task's escalation and expiration timers went too"
    );
    let e = engine
        .user_task(&id, "review_article", "sarah", claim(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            EngineError::Transition(TransitionError::InstanceEnded(_))
        ),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------
// Acting users and authorization

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_acting_user_is_refused_with_a_clear_error() {
    let (_dir, _clock, engine) = setup(&example("article-publishing.yaml")).await;
    let id = engine
        .start("article-publishing", Map::new())
        .await
        .unwrap()
        .id
        .clone();
    let e = engine
        .user_task(&id, "review_article", "mallory", claim(0))
        .await
        .unwrap_err();
    assert!(
        matches!(e, EngineError::Identity(IdentityError::UnknownUser(ref u)) if u == "mallory")
    );
    assert!(e.to_string().contains("baton user add mallory"), "{e}");
    engine
        .user_task(&id, "review_article", "john", claim(0))
        .await
        .unwrap();
    let e = engine
        .user_task(
            &id,
            "review_article",
            "john",
            follow_on(0, "Legal Review", PotentialOwners::user("saraah"), ""),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, EngineError::Identity(IdentityError::UnknownUser(ref u)) if u == "saraah"),
        "forwarding to nobody is refused: {e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_operation_returns_a_typed_error_and_changes_nothing() {
    let (_dir, _clock, engine) = setup(&example("article-publishing.yaml")).await;
    let id = engine
        .start("article-publishing", Map::new())
        .await
        .unwrap()
        .id
        .clone();
    let snapshot = |engine: SqliteEngine, id: String| async move {
        (
            engine.instance(&id).await.unwrap(),
            engine.store().history(&id).await.unwrap().len(),
            engine.store().inbox_of_instance(&id).await.unwrap(),
        )
    };
    let before = snapshot(engine.clone(), id.clone()).await;
    let e = engine
        .user_task(&id, "review_article", "eve", claim(0))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            EngineError::Transition(TransitionError::UserTask {
                error: UserTaskError::NotPotentialOwner { .. },
                ..
            })
        ),
        "{e}"
    );
    assert_eq!(
        snapshot(engine.clone(), id.clone()).await,
        before,
        "nothing changed: state, history and inbox"
    );

    engine
        .user_task(&id, "review_article", "john", claim(0))
        .await
        .unwrap();
    let before = snapshot(engine.clone(), id.clone()).await;
    let e = engine
        .user_task(
            &id,
            "review_article",
            "sarah",
            complete(0, json!({"approved": true})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            EngineError::Transition(TransitionError::UserTask {
                error: UserTaskError::NotOwner { .. },
                ..
            })
        ),
        "{e}"
    );
    let e = engine
        .user_task(
            &id,
            "review_article",
            "john",
            UserTaskCommand::Terminate { task: ORIGINAL },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            EngineError::Transition(TransitionError::UserTask {
                error: UserTaskError::NotAdministrator { .. },
                ..
            })
        ),
        "{e}"
    );
    let e = engine
        .user_task(
            &id,
            "review_article",
            "john",
            complete(0, json!({"approved": "yes"})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            EngineError::Transition(TransitionError::UserTask {
                error: UserTaskError::InvalidOutput { .. },
                ..
            })
        ),
        "{e}"
    );
    assert_eq!(snapshot(engine.clone(), id.clone()).await, before);

    // An administrator may act on every task.
    engine
        .user_task(
            &id,
            "review_article",
            "chief",
            UserTaskCommand::Terminate { task: ORIGINAL },
        )
        .await
        .unwrap();
    let (_, status, _) = state(&engine, &id, "review_article").await;
    assert_eq!(status, TaskStatus::Terminated);
}

// ---------------------------------------------------------------------------------------
// Durable timers

const TIMED: &str = "
id: timed-review
data:
  outcome: string
tasks:
  - id: review
    kind: user
    title: Review
    owners: [group:editors]
    priority: 1
    expires_after: 1 day
    escalations:
      - {name: unclaimed, after: PT2H, unless: claimed, action: raise_priority, by: 5}
  - id: reviewed
    kind: set
    after: [review]
    dependencies: {else: skip}
    set: {outcome: \"'reviewed'\"}
  - id: expired
    kind: set
    after: [{task: review, status: expired}]
    dependencies: {else: skip}
    set: {outcome: \"'expired'\"}
";

#[tokio::test(flavor = "multi_thread")]
async fn escalation_and_expiration_timers_fire_from_the_timer_table_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let id = {
        let engine = open(&dir, &clock);
        people(&engine).await;
        engine.deploy("timed.yaml", TIMED).await.unwrap();
        let id = engine
            .start("timed-review", Map::new())
            .await
            .unwrap()
            .id
            .clone();
        assert_eq!(
            engine.store().next_timer_due().await.unwrap(),
            Some(t0() + chrono::Duration::hours(2)),
            "the escalation is a durable timer"
        );
        assert_eq!(engine.fire_due_timers(10).await.unwrap(), 0, "not due yet");
        id
        // The engine and its store are dropped: the process stops.
    };

    clock.advance(chrono::Duration::hours(3));
    let engine = open(&dir, &clock);
    assert_eq!(
        engine.fire_due_timers(10).await.unwrap(),
        1,
        "the escalation fires after the restart"
    );
    let (_, status, ut) = state(&engine, &id, "review").await;
    assert_eq!(
        status,
        TaskStatus::Escalated {
            escalation: "unclaimed".into(),
            claimed_by: None
        }
    );
    assert_eq!(ut.original().priority, 6);
    let rows = inbox(&engine, "john").await;
    assert_eq!(
        (rows[0].priority, rows[0].escalated),
        (6, true),
        "the inbox shows the escalation in the same commit"
    );
    assert_eq!(
        engine.fire_due_timers(10).await.unwrap(),
        0,
        "it fires once"
    );
    drop(engine);

    clock.advance(chrono::Duration::days(1));
    let engine = open(&dir, &clock);
    assert_eq!(
        engine.fire_due_timers(10).await.unwrap(),
        1,
        "the expiration fires after another restart"
    );
    let instance = engine.instance(&id).await.unwrap();
    let (_, status, ut) = state(&engine, &id, "review").await;
    assert_eq!(status, TaskStatus::Expired);
    assert!(matches!(human(&ut, 0), HumanTaskStatus::Expired { .. }));
    assert_eq!(
        instance.data["outcome"], "expired",
        "the flow followed the expiry path"
    );
    assert_eq!(instance.status, InstanceStatus::Completed);
    assert!(inbox(&engine, "john").await.is_empty());
    assert_eq!(engine.store().next_timer_due().await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_first_task_expires_the_last_task_in_the_chain_is_expired() {
    let (_dir, clock, engine) = setup(TIMED).await;
    let id = engine
        .start("timed-review", Map::new())
        .await
        .unwrap()
        .id
        .clone();
    engine
        .user_task(&id, "review", "john", claim(0))
        .await
        .unwrap();
    engine
        .user_task(
            &id,
            "review",
            "john",
            follow_on(0, "Legal Review", PotentialOwners::group("legal"), ""),
        )
        .await
        .unwrap();
    clock.advance(chrono::Duration::days(1));
    engine.fire_due_timers(10).await.unwrap();
    let (instance, status, ut) = state(&engine, &id, "review").await;
    assert!(
        matches!(human(&ut, 0), HumanTaskStatus::Forwarded { .. }),
        "the first task stays forwarded"
    );
    assert!(
        matches!(human(&ut, 1), HumanTaskStatus::Expired { .. }),
        "the last task is expired"
    );
    assert_eq!(status, TaskStatus::Expired);
    assert_eq!(instance.data["outcome"], "expired");
}

// ---------------------------------------------------------------------------------------
// A chain of follow-on tasks acts as one task

async fn forwarded_chain() -> (TempDir, Arc<ManualClock>, SqliteEngine, String) {
    let (dir, clock, engine) = setup(TIMED).await;
    let id = engine
        .start("timed-review", Map::new())
        .await
        .unwrap()
        .id
        .clone();
    engine
        .user_task(&id, "review", "john", claim(0))
        .await
        .unwrap();
    engine
        .user_task(
            &id,
            "review",
            "john",
            follow_on(0, "Legal Review", PotentialOwners::user("sarah"), ""),
        )
        .await
        .unwrap();
    engine
        .user_task(&id, "review", "sarah", claim(1))
        .await
        .unwrap();
    (dir, clock, engine, id)
}

#[tokio::test(flavor = "multi_thread")]
async fn suspending_any_task_in_the_chain_suspends_the_whole_chain_and_any_task_resumes_it() {
    let (_dir, clock, engine, id) = forwarded_chain().await;
    engine
        .user_task(
            &id,
            "review",
            "sarah",
            UserTaskCommand::Suspend {
                task: HumanTaskId(1),
            },
        )
        .await
        .unwrap();
    let (instance, status, ut) = state(&engine, &id, "review").await;
    assert!(
        human(&ut, 0).is_suspended() && human(&ut, 1).is_suspended(),
        "each task is in the suspended substate"
    );
    assert!(matches!(status, TaskStatus::Suspended { .. }));
    assert_eq!(instance.status, InstanceStatus::Waiting);
    assert_eq!(
        engine.store().next_timer_due().await.unwrap(),
        None,
        "the chain's timers are paused"
    );
    let suspended = inbox_with(
        &engine,
        "sarah",
        InboxFilter {
            status: Some(InboxStatus::Suspended),
            ..InboxFilter::default()
        },
        Page::default(),
    )
    .await;
    assert_eq!(titles(&suspended), vec!["review#1 Legal Review suspended"]);

    clock.advance(chrono::Duration::days(3));
    assert_eq!(
        engine.fire_due_timers(10).await.unwrap(),
        0,
        "a suspended chain does not expire"
    );
    // John, who started the follow-on, resumes the chain from his own task.
    engine
        .user_task(
            &id,
            "review",
            "john",
            UserTaskCommand::Resume { task: ORIGINAL },
        )
        .await
        .unwrap();
    let (_, status, ut) = state(&engine, &id, "review").await;
    assert!(matches!(human(&ut, 1), HumanTaskStatus::Claimed { by, .. } if by == "sarah"));
    assert_eq!(status, TaskStatus::Forwarded { to: HumanTaskId(1) });
    let resumed = t0() + chrono::Duration::days(3);
    let mut due: Vec<DateTime<Utc>> = engine
        .store()
        .due_timers(t0() + chrono::Duration::days(30), 10)
        .await
        .unwrap()
        .iter()
        .map(|t| t.due_at)
        .collect();
    due.sort();
    let left = vec![
        resumed + chrono::Duration::hours(2),
        t0() + chrono::Duration::days(4),
    ];
    assert_eq!(
        due, left,
        "the escalation and the expiration run on with the time they had left"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn terminating_any_task_in_the_chain_terminates_the_whole_chain() {
    let (_dir, _clock, engine, id) = forwarded_chain().await;
    engine
        .user_task(
            &id,
            "review",
            "chief",
            UserTaskCommand::Terminate {
                task: HumanTaskId(1),
            },
        )
        .await
        .unwrap();
    let (instance, status, ut) = state(&engine, &id, "review").await;
    assert!(
        matches!(human(&ut, 0), HumanTaskStatus::Terminated { .. })
            && matches!(human(&ut, 1), HumanTaskStatus::Terminated { .. })
    );
    assert_eq!(status, TaskStatus::Terminated);
    assert_eq!(
        instance.status,
        InstanceStatus::Completed,
        "successors skip (else: skip); the flow goes on"
    );
    assert!(engine
        .store()
        .inbox_of_instance(&id)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_one_follow_on_task_alone_is_refused_and_changes_nothing() {
    let (_dir, _clock, engine, id) = forwarded_chain().await;
    let before = engine.instance(&id).await.unwrap();
    let e = engine
        .user_task(
            &id,
            "review",
            "chief",
            UserTaskCommand::Delete {
                task: HumanTaskId(1),
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            EngineError::Transition(TransitionError::UserTask {
                error: UserTaskError::FollowOnAlone { .. },
                ..
            })
        ),
        "{e}"
    );
    assert!(e.to_string().contains("acts as one task"), "{e}");
    assert_eq!(engine.instance(&id).await.unwrap(), before);
    // Deleting the first task deletes its follow-ons with it.
    engine
        .user_task(
            &id,
            "review",
            "chief",
            UserTaskCommand::Delete { task: ORIGINAL },
        )
        .await
        .unwrap();
    let (_, status, ut) = state(&engine, &id, "review").await;
    assert!(matches!(human(&ut, 1), HumanTaskStatus::Deleted { .. }));
    assert_eq!(status, TaskStatus::Terminated);
    assert!(engine
        .store()
        .inbox_of_instance(&id)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn when_any_task_escalates_every_follow_on_after_it_escalates() {
    let (_dir, _clock, engine, id) = forwarded_chain().await;
    let escalate = UserTaskCommand::Escalate {
        task: ORIGINAL,
        name: "late".into(),
        action: baton_core::user_task::EscalationAction::RaisePriority { by: 3 },
    };
    engine
        .user_task(&id, "review", "chief", escalate)
        .await
        .unwrap();
    let (_, _, ut) = state(&engine, &id, "review").await;
    assert!(ut.task(HumanTaskId(1)).unwrap().is_escalated());
    let rows = inbox(&engine, "sarah").await;
    assert_eq!((rows[0].priority, rows[0].escalated), (4, true));
}

// ---------------------------------------------------------------------------------------
// The inbox

const MANY: &str = "
id: many
data:
  p: integer
  who: any
tasks:
  - id: work
    kind: user
    title: =\"task \" + string(data.p)
    owners: =data.who
    administrators: [group:legal]
    priority: =data.p
";

#[tokio::test(flavor = "multi_thread")]
async fn the_inbox_lists_claimed_tasks_first_then_claimable_ones_by_priority_with_filters_and_paging(
) {
    let (_dir, clock, engine) = setup(MANY).await;
    let mut ids = Vec::new();
    for (p, who) in [
        (1, json!("group:editors")),
        (5, json!(["john", "group:editors"])),
        (3, json!("sarah")),
        (9, json!("group:editors")),
        (2, json!("eve")),
    ] {
        let data = json!({"p": p, "who": who}).as_object().cloned().unwrap();
        ids.push(engine.start("many", data).await.unwrap().id.clone());
        clock.advance(chrono::Duration::minutes(1));
    }
    engine
        .user_task(&ids[0], "work", "john", claim(0))
        .await
        .unwrap();

    let john = inbox(&engine, "john").await;
    assert_eq!(
        titles(&john),
        vec![
            "work#0 task 1 claimed",
            "work#0 task 9 ready",
            "work#0 task 5 ready"
        ],
        "claimed first, then by priority; offered twice, listed once"
    );
    let paged = inbox_with(
        &engine,
        "john",
        InboxFilter::default(),
        Page {
            number: 2,
            per_page: 2,
        },
    )
    .await;
    assert_eq!(titles(&paged), vec!["work#0 task 5 ready"]);
    let first = engine
        .store()
        .inbox(
            "john",
            &["editors".into()],
            &InboxFilter::default(),
            Page {
                number: 1,
                per_page: 2,
            },
        )
        .await
        .unwrap();
    assert!(first.more && first.rows.len() == 2);

    let ready = |min_priority: Option<i32>| InboxFilter {
        status: Some(InboxStatus::Ready),
        min_priority,
        ..InboxFilter::default()
    };
    assert_eq!(
        titles(&inbox_with(&engine, "john", ready(None), Page::default()).await),
        vec!["work#0 task 9 ready", "work#0 task 5 ready"]
    );
    assert_eq!(
        titles(&inbox_with(&engine, "john", ready(Some(6)), Page::default()).await),
        vec!["work#0 task 9 ready"]
    );
    let claimed = InboxFilter {
        status: Some(InboxStatus::Claimed),
        ..InboxFilter::default()
    };
    assert_eq!(
        titles(&inbox_with(&engine, "john", claimed, Page::default()).await),
        vec!["work#0 task 1 claimed"]
    );
    let other_process = InboxFilter {
        process: Some("other".into()),
        ..InboxFilter::default()
    };
    assert!(inbox_with(&engine, "john", other_process, Page::default())
        .await
        .is_empty());

    // Sarah is offered one task, and administers (through group legal) every open one.
    let sarah = inbox(&engine, "sarah").await;
    assert_eq!(
        titles(&sarah),
        vec![
            "work#0 task 9 ready",
            "work#0 task 5 ready",
            "work#0 task 3 ready",
            "work#0 task 2 ready"
        ]
    );
    assert_eq!(
        titles(&inbox(&engine, "eve").await),
        vec!["work#0 task 2 ready"]
    );

    // Only open tasks are kept.
    engine
        .user_task(&ids[0], "work", "john", complete(0, json!({})))
        .await
        .unwrap();
    assert!(engine
        .store()
        .inbox_of_instance(&ids[0])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        titles(&inbox(&engine, "john").await),
        vec!["work#0 task 9 ready", "work#0 task 5 ready"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_inbox_filters_on_the_due_date() {
    let source = format!("{MANY}    due: 1 day\n");
    let (_dir, clock, engine) = setup(&source).await;
    for p in [1, 2] {
        let data = json!({"p": p, "who": "john"}).as_object().cloned().unwrap();
        engine.start("many", data).await.unwrap();
        clock.advance(chrono::Duration::hours(12));
    }
    let due_before = |hours: i64| InboxFilter {
        due_before: Some(t0() + chrono::Duration::hours(hours)),
        ..InboxFilter::default()
    };
    assert_eq!(
        titles(&inbox_with(&engine, "john", due_before(30), Page::default()).await),
        vec!["work#0 task 1 ready"]
    );
    assert_eq!(
        inbox_with(&engine, "john", due_before(48), Page::default())
            .await
            .len(),
        2
    );
    assert_eq!(
        inbox(&engine, "john").await[1].due,
        Some(t0() + chrono::Duration::hours(24))
    );
}

// ---------------------------------------------------------------------------------------
// Subtasks

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_creates_subtasks_and_completes_only_once_they_ended() {
    let (_dir, _clock, engine) = setup(&example("article-publishing.yaml")).await;
    let id = engine
        .start("article-publishing", Map::new())
        .await
        .unwrap()
        .id
        .clone();
    engine
        .user_task(&id, "review_article", "john", claim(0))
        .await
        .unwrap();
    let subtask = UserTaskCommand::CreateSubtask {
        parent: ORIGINAL,
        spec: baton_core::user_task::SubtaskSpec {
            title: "Check the figures".into(),
            description: String::new(),
            to: PotentialOwners::user("sarah"),
            input: Map::new(),
            output_fields: Vec::new(),
            expires_after: None,
            escalations: Vec::new(),
        },
    };
    engine
        .user_task(&id, "review_article", "john", subtask)
        .await
        .unwrap();
    assert_eq!(
        titles(&inbox(&engine, "sarah").await),
        vec!["review_article#1 Check the figures ready"],
        "the subtask is in Sarah's inbox"
    );
    let e = engine
        .user_task(
            &id,
            "review_article",
            "john",
            complete(0, json!({"approved": true})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            EngineError::Transition(TransitionError::UserTask {
                error: UserTaskError::OpenSubtasks { .. },
                ..
            })
        ),
        "{e}"
    );

    engine
        .user_task(&id, "review_article", "sarah", claim(1))
        .await
        .unwrap();
    engine
        .user_task(
            &id,
            "review_article",
            "sarah",
            complete(1, json!({"figures": "ok"})),
        )
        .await
        .unwrap();
    let (_, status, _) = state(&engine, &id, "review_article").await;
    assert!(
        matches!(status, TaskStatus::Claimed { ref by, .. } if by == "john"),
        "a subtask does not end the process task"
    );
    engine
        .user_task(
            &id,
            "review_article",
            "john",
            complete(0, json!({"approved": true})),
        )
        .await
        .unwrap();
    let (instance, status, _) = state(&engine, &id, "review_article").await;
    assert_eq!(status, TaskStatus::EndedOk);
    assert_eq!(instance.data["approved"], true);
}

// ---------------------------------------------------------------------------------------
// Two engines on one database

const SHARED: &str = "
id: shared-review
tasks:
  - id: review
    kind: user
    title: Review
    owners: [john, sarah]
";

/// Each engine keeps the states it committed in memory for the next command; a state another
/// engine moved on since is never used. Engine A saw the task claimed by john; engine B lets
/// john cancel his claim; A must then let sarah claim it (on A's stale copy it would still be
/// john's and sarah would be refused), and must refuse john's completion after that.
#[tokio::test(flavor = "multi_thread")]
async fn an_engine_never_acts_on_a_state_another_engine_moved_on() {
    let (_dir, clock, a) = setup(SHARED).await;
    let b = Engine::new(
        a.store().clone(),
        clock.clone(),
        EngineOptions {
            node: "other-node".into(),
            ..EngineOptions::default()
        },
    );
    let id = a
        .start("shared-review", Map::new())
        .await
        .unwrap()
        .id
        .clone();
    a.user_task(
        &id,
        "review",
        "john",
        UserTaskCommand::Claim { task: ORIGINAL },
    )
    .await
    .unwrap();
    b.user_task(
        &id,
        "review",
        "john",
        UserTaskCommand::CancelClaim { task: ORIGINAL },
    )
    .await
    .unwrap();

    let claimed = a
        .user_task(
            &id,
            "review",
            "sarah",
            UserTaskCommand::Claim { task: ORIGINAL },
        )
        .await
        .unwrap();
    let task = claimed.tasks[0].user_task.as_ref().unwrap().original();
    assert!(
        matches!(&task.status, HumanTaskStatus::Claimed { by, .. } if by == "sarah"),
        "{:?}",
        task.status
    );
    let refused = b
        .user_task(
            &id,
            "review",
            "john",
            UserTaskCommand::Complete {
                task: ORIGINAL,
                output: Map::new(),
            },
        )
        .await;
    assert!(
        matches!(refused, Err(EngineError::Transition(_))),
        "{refused:?}"
    );
    let done = b
        .user_task(
            &id,
            "review",
            "sarah",
            UserTaskCommand::Complete {
                task: ORIGINAL,
                output: Map::new(),
            },
        )
        .await
        .unwrap();
    assert_eq!(done.status, InstanceStatus::Completed);
}
