//! The store conformance suite: the behaviour every store must show, written once and run
//! against each store on a fresh database per check (as apalis runs one suite against its
//! memory, SQLite and Postgres backends).
//!
//! Each check is a `pub async fn` taking a fresh, empty store. A store's tests get one test
//! function per check, named after it, with [`conformance_tests!`](crate::conformance_tests):
//!
//! ```ignore
//! async fn fresh() -> (SqliteStore, tempfile::TempDir) { /* a new database in a temp dir */ }
//! baton_store::conformance_tests!(fresh);
//! ```
//!
//! `fresh` returns the store and a guard that must outlive it (a temp dir, a database to drop).
//! [`run_all`] runs every check in one test instead.
//!
//! The checks build instances and events from `baton_core` types directly; they do not need
//! a definition or the engine. Timestamps are whole seconds, so a store may keep microseconds.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map};

use baton_core::instance::{ForEachSnapshot, Iteration, ParentLink};
use baton_core::{Event, EventKind, Instance, InstanceStatus, JobRequest, TaskState, TaskStatus};

pub use crate::lease_conformance::*;
use crate::{
    InstanceCursor, InstanceQuery, JobKey, JobLock, JobProcess, RuntimeSample, StartKey,
    StepRecord, Store, StoreError, StoredDefinition, Timer, WorkScope, ERT_RUNS,
};

/// Generates one `#[test]` per conformance check, each on a fresh store from `$fresh`
/// (a path to an `async fn() -> (S, Guard)`). Adding a check here adds it to every store.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:path) => {
        $crate::conformance_tests!(@checks tests $fresh);
    };
    // Each test first asks `$ready` (a `fn() -> bool`), and passes without running the check
    // when it says no (a store whose server is not configured; `$ready` says why).
    ($fresh:path, if $ready:path) => {
        $crate::conformance_tests!(@checks tests_if $ready, $fresh);
    };
    // The list of checks, once; `@tests`, `@tests_if` and `@run_all` expand it.
    (@checks $mode:ident $($args:tt)*) => {
        $crate::conformance_tests!(@$mode $($args)*;
            deploy_assigns_consecutive_versions_per_id,
            concurrent_deploys_of_one_id_get_distinct_versions,
            definitions_lists_latest_versions,
            versions_lists_every_version_of_one_id_oldest_first,
            deploy_calendar_assigns_consecutive_versions_and_calendars_lists_latest,
            deploy_all_stores_definitions_and_calendars_together_as_next_versions,
            a_committed_step_is_readable_with_its_events,
            instance_seq_is_the_stored_next_seq,
            open_counts_count_instances_by_open_status,
            history_is_ordered_by_seq,
            duplicate_history_seq_is_refused_and_the_whole_step_rolls_back,
            a_refused_step_does_not_disturb_concurrent_ones,
            a_commit_of_several_steps_lands_whole_or_not_at_all,
            inserting_an_existing_instance_is_refused,
            a_stale_update_is_a_conflict_and_changes_nothing,
            enqueued_jobs_are_claimed_once_even_by_racing_claimers,
            jobs_are_claimed_oldest_first,
            claims_of_a_case_or_an_instance_take_only_their_jobs_and_timers,
            completing_a_job_removes_it_from_the_queue,
            a_new_attempt_replaces_the_old_queue_row,
            leased_jobs_lists_claimed_jobs,
            queue_depths_count_queued_and_leased_jobs_by_topic_and_the_timers_due,
            a_job_process_stays_recorded_until_forgotten_whatever_happens_to_its_queue_row,
            timers_come_due_in_order_and_can_be_cleared,
            open_instances_excludes_terminal_ones,
            instances_filter_by_status,
            a_department_scope_lists_the_unscoped_instances_and_its_departments_only,
            instances_filter_by_process_and_start_time_and_page_by_cursor,
            a_history_page_holds_the_events_after_a_seq,
            an_idempotency_key_starts_one_instance,
            external_jobs_are_locked_once_by_racing_workers_and_never_claimed_by_the_engines_worker,
            a_fenced_step_commits_only_while_its_worker_holds_the_lock,
            an_expired_lock_is_taken_over_and_cannot_be_extended,
            children_lists_the_iterations_of_an_instance,
            a_case_lists_its_instances_with_their_parents_and_work_status,
            latest_version_is_the_newest_deployment,
            a_foreach_snapshot_is_stored_once_with_its_step_and_dropped_with_another,
            expected_runtimes_average_the_last_runs_of_each_task,
            concurrent_commits_from_many_tasks_all_land,
            an_expired_lease_is_taken_over_once_and_a_live_one_is_not,
            a_result_under_a_lost_lease_or_of_an_old_attempt_is_refused,
            due_timers_are_leased_once_and_claimable_again_when_the_lease_expires,
            ending_the_leases_of_others_leaves_external_locks_and_the_callers_own,
            a_conflict_is_retried_from_the_stored_state_and_lands,
            a_commit_tells_subscribers_what_it_changed,
        );
    };
    (@tests $fresh:path; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::conformance::run_one($fresh, $crate::conformance::$check);
            }
        )*
    };
    (@tests_if $ready:path, $fresh:path; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                if $ready() {
                    $crate::conformance::run_one($fresh, $crate::conformance::$check);
                }
            }
        )*
    };
    (@run_all $fresh:path; $($check:ident),* $(,)?) => {
        $(
            {
                let (store, guard) = $fresh().await;
                $crate::conformance::$check(store).await;
                drop(guard);
            }
        )*
    };
}

/// Runs every check, each on a fresh store from `fresh`.
pub async fn run_all<S, G, F, Fut>(fresh: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = (S, G)>,
{
    crate::conformance_tests!(@checks run_all fresh);
}

/// The readiness of a store that needs nothing set up: always ready.
pub fn always() -> bool {
    true
}

/// Runs one check on a fresh store, on a multi-threaded runtime of its own (the checks race
/// tasks against each other). Shared by every conformance suite.
pub fn run_one<S, G, F, Fut, C, CFut>(fresh: F, check: C)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = (S, G)>,
    C: FnOnce(S) -> CFut,
    CFut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let (store, guard) = fresh().await;
        check(store).await;
        drop(guard);
    });
}

// ---------------------------------------------------------------------------------------
// Fixtures

/// A fixed start of time, so checks do not depend on the clock.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0)
        .single()
        .expect("a valid time")
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(seconds)
}

/// A running instance of a two-task process, as the core would persist it right after start
/// (two events written, so `next_seq` is 3).
pub fn instance(id: &str) -> Instance {
    Instance {
        id: id.to_owned(),
        definition_id: "conformance".into(),
        definition_version: 1,
        status: InstanceStatus::Running,
        data: Map::from_iter([("region".to_owned(), json!("emea"))]),
        tasks: vec![
            TaskState {
                status: TaskStatus::Running {
                    attempt: 1,
                    since: t0(),
                },
                attempts: 1,
                started_at: Some(t0()),
                ..TaskState::new()
            },
            TaskState::new(),
        ],
        created_at: t0(),
        updated_at: t0(),
        ended_at: None,
        next_seq: 3,
        parent: None,
        root: None,
        case: id.to_owned(),
        depth: 0,
        department: None,
        work_status: None,
        referenced_instances: Vec::new(),
        spawned: Vec::new(),
        replaced_by: None,
        iteration: None,
        deleted_at: None,
    }
}

pub fn event(seq: u64, task: Option<&str>, kind: EventKind) -> Event {
    Event {
        seq,
        at: at(seq as i64),
        task: task.map(str::to_owned),
        kind,
    }
}

fn status_event(seq: u64, to: InstanceStatus) -> Event {
    event(
        seq,
        None,
        EventKind::InstanceStatusChanged { to, reason: None },
    )
}

fn started_events() -> Vec<Event> {
    vec![
        event(
            1,
            None,
            EventKind::InstanceStarted {
                definition: "conformance".into(),
                version: 1,
                data: Map::new(),
            },
        ),
        status_event(2, InstanceStatus::Running),
    ]
}

pub fn job(instance: &str, task: &str, attempt: u32) -> JobRequest {
    JobRequest {
        instance: instance.to_owned(),
        task: task.to_owned(),
        attempt,
        command: vec!["sh".into(), "-c".into(), format!("echo {task}")],
        workdir: None,
        env: vec![("REGION".into(), "emea".into())],
        timeout_ms: Some(30_000),
        topic: None,
        data: Map::new(),
    }
}

/// An external job of `topic` (for workers outside the engine).
pub fn external_job(instance: &str, task: &str, attempt: u32, topic: &str) -> JobRequest {
    JobRequest {
        command: Vec::new(),
        timeout_ms: None,
        topic: Some(topic.to_owned()),
        data: Map::from_iter([("n".to_owned(), json!(1))]),
        ..job(instance, task, attempt)
    }
}

/// The step that inserts `instance` with its start events.
fn insert(instance: Instance) -> StepRecord {
    StepRecord {
        instance: Some(instance.into()),
        new: true,
        events: started_events(),
        ..StepRecord::default()
    }
}

/// The step that moves a stored instance (at `next_seq`) on by one event to `status`.
fn advance(mut instance: Instance, status: InstanceStatus, seconds: i64) -> StepRecord {
    let expected_seq = instance.next_seq;
    let events = vec![status_event(expected_seq, status)];
    instance.status = status;
    instance.next_seq += 1;
    instance.updated_at = at(seconds);
    if status.is_terminal() {
        instance.ended_at = Some(at(seconds));
    }
    StepRecord {
        instance: Some(instance.into()),
        expected_seq,
        events,
        ..StepRecord::default()
    }
}

fn timer(instance: &str, key: &str, seconds: i64) -> Timer {
    Timer {
        instance: instance.to_owned(),
        key: key.to_owned(),
        due_at: at(seconds),
        payload: json!({ "fire": key }),
    }
}

async fn commit<S: Store>(store: &S, step: StepRecord) {
    store.commit(vec![step]).await.expect("the step commits");
}

async fn stored<S: Store>(store: &S, id: &str) -> Instance {
    store
        .instance(id)
        .await
        .expect("the instance reads")
        .unwrap_or_else(|| panic!("instance {id} is stored"))
}

fn keys(mut keys: Vec<JobKey>) -> Vec<JobKey> {
    keys.sort_by(|a, b| (&a.instance, &a.task, a.attempt).cmp(&(&b.instance, &b.task, b.attempt)));
    keys
}

fn key(instance: &str, task: &str, attempt: u32) -> JobKey {
    JobKey {
        instance: instance.to_owned(),
        task: task.to_owned(),
        attempt,
    }
}

const LEASE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// Definitions

/// The first deploy of an id is version 1, each later one the next; ids count separately.
pub async fn deploy_assigns_consecutive_versions_per_id<S: Store>(store: S) {
    assert_eq!(
        store.deploy("etl", "etl.yaml", "v1", at(0)).await.unwrap(),
        1
    );
    assert_eq!(
        store.deploy("etl", "etl.yaml", "v2", at(1)).await.unwrap(),
        2
    );
    assert_eq!(
        store
            .deploy("other", "other.yaml", "o1", at(2))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .deploy("etl", "etl-new.yaml", "v3", at(3))
            .await
            .unwrap(),
        3
    );

    let v2 = store
        .definition("etl", Some(2))
        .await
        .unwrap()
        .expect("version 2 is stored");
    assert_eq!(
        v2,
        StoredDefinition {
            id: "etl".into(),
            version: 2,
            file: "etl.yaml".into(),
            source: "v2".into(),
            deployed_at: at(1)
        }
    );
    let latest = store
        .definition("etl", None)
        .await
        .unwrap()
        .expect("etl is stored");
    assert_eq!(
        (latest.version, latest.file.as_str(), latest.source.as_str()),
        (3, "etl-new.yaml", "v3")
    );
    assert_eq!(store.definition("etl", Some(4)).await.unwrap(), None);
    assert_eq!(store.definition("missing", None).await.unwrap(), None);
}

/// Deploys racing for one id never get the same version.
pub async fn concurrent_deploys_of_one_id_get_distinct_versions<S: Store>(store: S) {
    let deploys: Vec<_> = (0..20)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .deploy("raced", "raced.yaml", &format!("source {n}"), at(n))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut versions = Vec::new();
    for d in deploys {
        versions.push(d.await.unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=20).collect::<Vec<u32>>());
}

/// `definitions()` lists each id once, at its latest version.
pub async fn definitions_lists_latest_versions<S: Store>(store: S) {
    assert!(store.definitions().await.unwrap().is_empty());
    store.deploy("b", "b.yaml", "b1", at(0)).await.unwrap();
    store.deploy("a", "a.yaml", "a1", at(1)).await.unwrap();
    store.deploy("a", "a.yaml", "a2", at(2)).await.unwrap();
    let mut listed = store.definitions().await.unwrap();
    listed.sort_by(|x, y| x.id.cmp(&y.id));
    let summary: Vec<(&str, u32, &str)> = listed
        .iter()
        .map(|d| (d.id.as_str(), d.version, d.source.as_str()))
        .collect();
    assert_eq!(summary, [("a", 2, "a2"), ("b", 1, "b1")]);
}

/// `versions(id)` lists every version of that id alone, oldest first, without sources.
pub async fn versions_lists_every_version_of_one_id_oldest_first<S: Store>(store: S) {
    assert_eq!(store.versions("a").await.unwrap(), []);
    store.deploy("a", "a.yaml", "a1", at(0)).await.unwrap();
    store.deploy("b", "b.yaml", "b1", at(1)).await.unwrap();
    store.deploy("a", "a2.yaml", "a2", at(2)).await.unwrap();
    let versions: Vec<(u32, String, DateTime<Utc>)> = store
        .versions("a")
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.version, v.file, v.deployed_at))
        .collect();
    assert_eq!(
        versions,
        [
            (1, "a.yaml".to_owned(), at(0)),
            (2, "a2.yaml".to_owned(), at(2))
        ]
    );
}

/// Calendars are versioned like definitions, separately from them.
pub async fn deploy_calendar_assigns_consecutive_versions_and_calendars_lists_latest<S: Store>(
    store: S,
) {
    assert!(store.calendars().await.unwrap().is_empty());
    store
        .deploy("business-days", "process.yaml", "a process", at(0))
        .await
        .unwrap();
    assert_eq!(
        store
            .deploy_calendar("business-days", "bd.yaml", "bd1", at(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .deploy_calendar("business-days", "bd.yaml", "bd2", at(2))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .deploy_calendar("month-end", "me.yaml", "me1", at(3))
            .await
            .unwrap(),
        1
    );
    let mut listed = store.calendars().await.unwrap();
    listed.sort_by(|x, y| x.id.cmp(&y.id));
    let summary: Vec<(&str, u32, &str)> = listed
        .iter()
        .map(|d| (d.id.as_str(), d.version, d.source.as_str()))
        .collect();
    assert_eq!(
        summary,
        [("business-days", 2, "bd2"), ("month-end", 1, "me1")]
    );
    assert_eq!(listed[0].deployed_at, at(2));
    // A definition with the same id is a different thing.
    assert_eq!(
        store
            .definition("business-days", None)
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    assert_eq!(store.definitions().await.unwrap().len(), 1);
}

pub async fn deploy_all_stores_definitions_and_calendars_together_as_next_versions<S: Store>(
    store: S,
) {
    use crate::{Deployment, DeploymentKind};
    store
        .deploy("etl", "etl.yaml", "etl1", at(0))
        .await
        .unwrap();
    let deployment = |kind, id: &str, source: &str| Deployment {
        kind,
        id: id.into(),
        file: format!("{id}.yaml"),
        source: source.into(),
    };
    let versions = store
        .deploy_all(
            vec![
                deployment(DeploymentKind::Definition, "etl", "etl2"),
                deployment(DeploymentKind::Calendar, "business-days", "bd1"),
                deployment(DeploymentKind::Definition, "report", "report1"),
                deployment(DeploymentKind::Definition, "etl", "etl3"),
            ],
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(versions, vec![2, 1, 1, 3]);
    let stored = store.definition("etl", Some(2)).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.file.as_str(),
            stored.source.as_str(),
            stored.deployed_at
        ),
        ("etl.yaml", "etl2", at(1))
    );
    let latest: Vec<(String, u32, String)> = store
        .definitions()
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.id, d.version, d.source))
        .collect();
    assert_eq!(
        latest,
        vec![
            ("etl".into(), 3, "etl3".into()),
            ("report".into(), 1, "report1".into())
        ]
    );
    let calendars: Vec<(String, u32)> = store
        .calendars()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c.version))
        .collect();
    assert_eq!(calendars, vec![("business-days".into(), 1)]);
    assert_eq!(
        store.deploy_all(Vec::new(), at(2)).await.unwrap(),
        Vec::<u32>::new()
    );
}

// ---------------------------------------------------------------------------------------
// Steps and history

/// What a step wrote reads back as written: the state, its events, its job and its timer.
pub async fn a_committed_step_is_readable_with_its_events<S: Store>(store: S) {
    let inst = instance("i-1");
    let step = StepRecord {
        enqueue: vec![job("i-1", "extract", 1)],
        set_timers: vec![timer("i-1", "deadline", 30)],
        ..insert(inst.clone())
    };
    commit(&store, step).await;

    assert_eq!(stored(&store, "i-1").await, inst);
    assert_eq!(store.history("i-1").await.unwrap(), started_events());
    assert_eq!(store.queued_jobs().await.unwrap(), 1);
    assert_eq!(store.next_timer_due().await.unwrap(), Some(at(30)));

    assert_eq!(store.instance("missing").await.unwrap(), None);
    assert!(store.history("missing").await.unwrap().is_empty());
}

/// `instance_seq` reports the `next_seq` of the stored state after every commit, and none for
/// an unknown instance (the engine reuses a state it holds only while this still matches).
pub async fn instance_seq_is_the_stored_next_seq<S: Store>(store: S) {
    let inst = instance("i-1");
    commit(&store, insert(inst.clone())).await;
    assert_eq!(
        store.instance_seq("i-1").await.unwrap(),
        Some(inst.next_seq)
    );
    commit(&store, advance(inst.clone(), InstanceStatus::Completed, 5)).await;
    assert_eq!(
        store.instance_seq("i-1").await.unwrap(),
        Some(inst.next_seq + 1)
    );
    assert_eq!(store.instance_seq("missing").await.unwrap(), None);
}

/// `open_counts` counts running, waiting and blocked instances, and follows their steps.
pub async fn open_counts_count_instances_by_open_status<S: Store>(store: S) {
    assert_eq!(
        store.open_counts().await.unwrap(),
        crate::OpenCounts::default()
    );
    let running = instance("i-1");
    commit(&store, insert(running.clone())).await;
    commit(
        &store,
        insert(Instance {
            status: InstanceStatus::Waiting,
            ..instance("i-2")
        }),
    )
    .await;
    commit(
        &store,
        insert(Instance {
            status: InstanceStatus::Blocked,
            ..instance("i-3")
        }),
    )
    .await;
    commit(
        &store,
        insert(Instance {
            status: InstanceStatus::Completed,
            ..instance("i-4")
        }),
    )
    .await;
    assert_eq!(
        store.open_counts().await.unwrap(),
        crate::OpenCounts {
            running: 1,
            waiting: 1,
            blocked: 1
        }
    );
    commit(&store, advance(running, InstanceStatus::Waiting, 5)).await;
    let counts = store.open_counts().await.unwrap();
    assert_eq!(
        counts,
        crate::OpenCounts {
            running: 0,
            waiting: 2,
            blocked: 1
        }
    );
    assert_eq!(counts.total(), 3);
}

/// History comes back in `seq` order across steps, also past 9 (numbers, not text, are sorted).
pub async fn history_is_ordered_by_seq<S: Store>(store: S) {
    let mut inst = instance("i-1");
    commit(&store, insert(inst.clone())).await;
    let mut expected = started_events();
    for n in 0..6 {
        let seq = inst.next_seq;
        let events = vec![
            event(
                seq,
                Some("extract"),
                EventKind::DataChanged {
                    values: Map::from_iter([("n".to_owned(), json!(n))]),
                },
            ),
            event(
                seq + 1,
                Some("extract"),
                EventKind::JobRetried {
                    attempt: n + 2,
                    reason: baton_core::Reason::EngineRestarted,
                },
            ),
        ];
        expected.extend(events.clone());
        let mut next = inst.clone();
        next.next_seq += 2;
        commit(
            &store,
            StepRecord {
                instance: Some(next.clone().into()),
                expected_seq: seq,
                events,
                ..StepRecord::default()
            },
        )
        .await;
        inst = next;
    }
    let history = store.history("i-1").await.unwrap();
    assert_eq!(
        history.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=14).collect::<Vec<u64>>()
    );
    assert_eq!(history, expected);
}

/// A step whose events repeat a stored `seq` is refused, and nothing of it is kept: not its
/// state, not its other events, not its jobs or timers.
pub async fn duplicate_history_seq_is_refused_and_the_whole_step_rolls_back<S: Store>(store: S) {
    let inst = instance("i-1");
    commit(&store, insert(inst.clone())).await;

    let mut step = advance(inst.clone(), InstanceStatus::Completed, 5);
    step.events.push(status_event(2, InstanceStatus::Completed)); // seq 2 is stored already
    std::sync::Arc::make_mut(step.instance.as_mut().unwrap()).next_seq += 1;
    step.enqueue.push(job("i-1", "load", 1));
    step.set_timers.push(timer("i-1", "deadline", 30));
    assert!(
        store.commit(vec![step]).await.is_err(),
        "a duplicate seq must be refused"
    );

    assert_eq!(stored(&store, "i-1").await, inst);
    assert_eq!(store.history("i-1").await.unwrap(), started_events());
    assert_eq!(store.queued_jobs().await.unwrap(), 0);
    assert_eq!(store.next_timer_due().await.unwrap(), None);
    // The instance is not stuck: a correct step still applies.
    commit(&store, advance(inst, InstanceStatus::Completed, 6)).await;
    assert_eq!(
        stored(&store, "i-1").await.status,
        InstanceStatus::Completed
    );
}

/// A refused step fails alone: steps committed at the same time by other callers (which a
/// store may fold into the same transaction) still land.
pub async fn a_refused_step_does_not_disturb_concurrent_ones<S: Store>(store: S) {
    commit(&store, insert(instance("taken"))).await;
    let commits: Vec<_> = (0..40)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                // Every fifth caller tries to insert an instance that exists.
                let id = if n % 5 == 0 {
                    "taken".to_owned()
                } else {
                    format!("i-{n}")
                };
                let step = StepRecord {
                    enqueue: vec![job(&id, "extract", 1)],
                    ..insert(instance(&id))
                };
                (n, store.commit(vec![step]).await)
            })
        })
        .collect();
    for c in commits {
        let (n, result) = c.await.unwrap();
        match result {
            Err(StoreError::DuplicateInstance(id)) if n % 5 == 0 => assert_eq!(id, "taken"),
            Ok(()) if n % 5 != 0 => {}
            other => panic!("commit {n}: unexpected {other:?}"),
        }
    }
    for n in (0..40).filter(|n| n % 5 != 0) {
        assert_eq!(store.history(&format!("i-{n}")).await.unwrap().len(), 2);
    }
    assert_eq!(store.queued_jobs().await.unwrap(), 32);
    assert_eq!(store.history("taken").await.unwrap().len(), 2);
}

/// The steps of one `commit` call (an instance's step and the child instances it starts) are
/// kept together: if one is refused, none of them is stored.
pub async fn a_commit_of_several_steps_lands_whole_or_not_at_all<S: Store>(store: S) {
    let parent = instance("parent");
    commit(&store, insert(parent.clone())).await;
    commit(&store, insert(instance("taken"))).await;

    let together = |child_ids: [&str; 2]| {
        let mut steps = vec![StepRecord {
            enqueue: vec![job("parent", "each", 1)],
            ..advance(parent.clone(), InstanceStatus::Running, 5)
        }];
        steps.extend(child_ids.map(|id| StepRecord {
            enqueue: vec![job(id, "body", 1)],
            ..insert(instance(id))
        }));
        steps
    };
    // The last step inserts an instance that exists.
    assert!(store.commit(together(["child-1", "taken"])).await.is_err());
    assert_eq!(stored(&store, "parent").await, parent);
    assert_eq!(store.instance("child-1").await.unwrap(), None);
    assert_eq!(store.history("parent").await.unwrap().len(), 2);
    assert_eq!(store.queued_jobs().await.unwrap(), 0);

    store
        .commit(together(["child-1", "child-2"]))
        .await
        .unwrap();
    assert_eq!(stored(&store, "parent").await.next_seq, 4);
    assert!(store.instance("child-2").await.unwrap().is_some());
    assert_eq!(store.queued_jobs().await.unwrap(), 3);
}

/// Inserting an instance id that exists is refused as a duplicate; the stored one is kept.
pub async fn inserting_an_existing_instance_is_refused<S: Store>(store: S) {
    let inst = instance("i-1");
    commit(&store, insert(inst.clone())).await;

    let mut other = instance("i-1");
    other.data.insert("region".into(), json!("apac"));
    let step = StepRecord {
        enqueue: vec![job("i-1", "extract", 1)],
        ..insert(other)
    };
    match store.commit(vec![step]).await {
        Err(StoreError::DuplicateInstance(id)) => assert_eq!(id, "i-1"),
        other => panic!("expected DuplicateInstance, got {other:?}"),
    }
    assert_eq!(stored(&store, "i-1").await, inst);
    assert_eq!(store.history("i-1").await.unwrap(), started_events());
    assert_eq!(store.queued_jobs().await.unwrap(), 0);
}

/// An update computed from an older state (`expected_seq` no longer matches) is a conflict and
/// changes nothing; an update of an instance that was never stored is refused too.
pub async fn a_stale_update_is_a_conflict_and_changes_nothing<S: Store>(store: S) {
    let inst = instance("i-1");
    commit(&store, insert(inst.clone())).await;
    let first = advance(inst.clone(), InstanceStatus::Blocked, 5);
    let after_first = first.instance.clone().unwrap();
    commit(&store, first).await;

    // Computed from the same state as `first`, which won.
    let stale = StepRecord {
        enqueue: vec![job("i-1", "load", 1)],
        set_timers: vec![timer("i-1", "deadline", 30)],
        ..advance(inst, InstanceStatus::Completed, 6)
    };
    match store.commit(vec![stale]).await {
        Err(StoreError::Conflict(id)) => assert_eq!(id, "i-1"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(stored(&store, "i-1").await, *after_first);
    assert_eq!(store.history("i-1").await.unwrap().len(), 3);
    assert_eq!(store.queued_jobs().await.unwrap(), 0);
    assert_eq!(store.next_timer_due().await.unwrap(), None);

    let ghost = advance(instance("ghost"), InstanceStatus::Completed, 7);
    assert!(
        store.commit(vec![ghost]).await.is_err(),
        "updating an instance that is not stored must fail"
    );
    assert_eq!(store.instance("ghost").await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------
// The job queue

/// Many claimers racing for the queue never get the same job, and together they get all.
pub async fn enqueued_jobs_are_claimed_once_even_by_racing_claimers<S: Store>(store: S) {
    let mut all = Vec::new();
    for i in 0..5 {
        let id = format!("i-{i}");
        let jobs: Vec<JobRequest> = (0..10).map(|t| job(&id, &format!("task-{t}"), 1)).collect();
        all.extend(jobs.clone());
        commit(
            &store,
            StepRecord {
                enqueue: jobs,
                ..insert(instance(&id))
            },
        )
        .await;
    }
    assert_eq!(store.queued_jobs().await.unwrap(), 50);

    let claimers: Vec<_> = (0..8)
        .map(|c| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let batch = store
                        .claim_jobs(&format!("worker-{c}"), 3, LEASE, t0())
                        .await
                        .unwrap();
                    // More than there are means some were handed out twice; stop and report it.
                    if batch.is_empty() || got.len() > 50 {
                        return got;
                    }
                    got.extend(batch);
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for c in claimers {
        claimed.extend(c.await.unwrap());
    }
    let mut seen = HashSet::new();
    for c in &claimed {
        assert!(
            seen.insert(JobKey::of(&c.request)),
            "job {:?} was claimed twice",
            JobKey::of(&c.request)
        );
        assert_eq!(
            c.lease_until,
            t0() + chrono::Duration::from_std(LEASE).unwrap()
        );
    }
    assert_eq!(claimed.len(), 50);
    let mut requests: Vec<JobRequest> = claimed.into_iter().map(|c| c.request).collect();
    requests.sort_by(|a, b| (&a.instance, &a.task).cmp(&(&b.instance, &b.task)));
    all.sort_by(|a, b| (&a.instance, &a.task).cmp(&(&b.instance, &b.task)));
    assert_eq!(requests, all, "claimed jobs carry the requests as enqueued");
    assert_eq!(store.queued_jobs().await.unwrap(), 0);
    assert_eq!(store.leased_jobs().await.unwrap().len(), 50);
    assert!(store
        .claim_jobs("late", 10, LEASE, t0())
        .await
        .unwrap()
        .is_empty());
}

/// Jobs queued by earlier steps are claimed before jobs queued by later ones.
pub async fn jobs_are_claimed_oldest_first<S: Store>(store: S) {
    let inst = instance("i-1");
    commit(
        &store,
        StepRecord {
            enqueue: vec![job("i-1", "first", 1)],
            ..insert(inst.clone())
        },
    )
    .await;
    let second = StepRecord {
        enqueue: vec![job("i-1", "second", 1)],
        ..advance(inst, InstanceStatus::Running, 10)
    };
    let inst = Instance::clone(second.instance.as_ref().unwrap());
    commit(&store, second).await;
    commit(
        &store,
        StepRecord {
            enqueue: vec![job("i-1", "third", 1)],
            ..advance(inst, InstanceStatus::Running, 20)
        },
    )
    .await;

    let order: Vec<String> = [
        store.claim_jobs("w", 1, LEASE, at(30)).await.unwrap(),
        store.claim_jobs("w", 1, LEASE, at(30)).await.unwrap(),
        store.claim_jobs("w", 1, LEASE, at(30)).await.unwrap(),
    ]
    .into_iter()
    .flatten()
    .map(|c| c.request.task)
    .collect();
    assert_eq!(order, ["first", "second", "third"]);
}

/// A claim scoped to a case (a root and the instances under it) or to one instance takes only
/// their jobs and timers, and the next timer due is the scope's; the rest stays for others.
pub async fn claims_of_a_case_or_an_instance_take_only_their_jobs_and_timers<S: Store>(store: S) {
    use baton_core::instance::LinkKind;
    let mut child = instance("child");
    child.parent = Some(ParentLink {
        instance: "root".into(),
        task: "call".into(),
        index: 0,
        kind: LinkKind::Call,
        attempt: 1,
    });
    (child.root, child.case, child.depth) = (Some("root".into()), "root".into(), 1);
    commit(
        &store,
        StepRecord {
            enqueue: vec![job("other", "a", 1)],
            set_timers: vec![timer("other", "t", 5)],
            ..insert(instance("other"))
        },
    )
    .await;
    commit(
        &store,
        StepRecord {
            enqueue: vec![job("root", "a", 1)],
            set_timers: vec![timer("root", "t", 20)],
            ..insert(instance("root"))
        },
    )
    .await;
    commit(
        &store,
        StepRecord {
            enqueue: vec![job("child", "a", 1)],
            set_timers: vec![timer("child", "t", 10)],
            ..insert(child)
        },
    )
    .await;

    assert_eq!(store.next_timer_due().await.unwrap(), Some(at(5)));
    assert_eq!(
        store
            .next_timer_due_in(WorkScope::Case("root"))
            .await
            .unwrap(),
        Some(at(10)),
        "the other instance's timer is not the case's"
    );
    assert_eq!(
        store
            .next_timer_due_in(WorkScope::Instance("root"))
            .await
            .unwrap(),
        Some(at(20))
    );

    let mut claimed: Vec<String> = store
        .claim_jobs_in("run", WorkScope::Case("root"), 10, LEASE, t0())
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.request.instance)
        .collect();
    claimed.sort();
    assert_eq!(
        claimed,
        ["child", "root"],
        "the case's jobs, the child's too"
    );
    let timers: Vec<String> = store
        .claim_timers("run", WorkScope::Case("root"), 10, LEASE, at(30))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.timer.instance)
        .collect();
    assert_eq!(
        timers,
        ["child", "root"],
        "the case's timers, earliest first"
    );

    assert!(
        store
            .claim_jobs_in("run", WorkScope::Instance("root"), 10, LEASE, t0())
            .await
            .unwrap()
            .is_empty(),
        "taken already"
    );
    let rest = store.claim_jobs("any", 10, LEASE, t0()).await.unwrap();
    assert_eq!(
        rest.iter()
            .map(|c| c.request.instance.as_str())
            .collect::<Vec<_>>(),
        ["other"],
        "the other instance's job is left for others"
    );
    let rest = store
        .claim_timers("any", WorkScope::All, 10, LEASE, at(30))
        .await
        .unwrap();
    assert_eq!(
        rest.iter()
            .map(|c| c.timer.instance.as_str())
            .collect::<Vec<_>>(),
        ["other"]
    );
}

/// A step that names a job attempt in `complete` removes it, claimed or not.
pub async fn completing_a_job_removes_it_from_the_queue<S: Store>(store: S) {
    let inst = instance("i-1");
    let jobs = vec![job("i-1", "a", 1), job("i-1", "b", 1), job("i-1", "c", 1)];
    commit(
        &store,
        StepRecord {
            enqueue: jobs,
            ..insert(inst.clone())
        },
    )
    .await;
    let claimed = store.claim_jobs("w", 1, LEASE, t0()).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let claimed_key = JobKey::of(&claimed[0].request);
    let unclaimed = ["a", "b", "c"]
        .into_iter()
        .find(|t| *t != claimed_key.task)
        .unwrap();

    // The worker's result for the claimed job, and a cancel of one still waiting.
    let step = StepRecord {
        complete: vec![claimed_key.clone(), key("i-1", unclaimed, 1)],
        ..advance(inst, InstanceStatus::Running, 5)
    };
    commit(&store, step).await;

    assert!(store.leased_jobs().await.unwrap().is_empty());
    assert_eq!(store.queued_jobs().await.unwrap(), 1);
    let rest = store.claim_jobs("w", 10, LEASE, t0()).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert!(rest[0].request.task != claimed_key.task && rest[0].request.task != unclaimed);

    // A step that only completes a job (a stale result) needs no instance.
    commit(
        &store,
        StepRecord {
            complete: vec![JobKey::of(&rest[0].request)],
            ..StepRecord::default()
        },
    )
    .await;
    assert!(store.leased_jobs().await.unwrap().is_empty());
    assert_eq!(store.queued_jobs().await.unwrap(), 0);
}

/// A task has one outstanding attempt: queuing attempt 2 replaces attempt 1's row, even one
/// leased to a worker, and a late completion of attempt 1 leaves attempt 2 alone.
pub async fn a_new_attempt_replaces_the_old_queue_row<S: Store>(store: S) {
    let inst = instance("i-1");
    commit(
        &store,
        StepRecord {
            enqueue: vec![job("i-1", "extract", 1)],
            ..insert(inst.clone())
        },
    )
    .await;
    assert_eq!(
        store
            .claim_jobs("dead-worker", 10, LEASE, t0())
            .await
            .unwrap()
            .len(),
        1
    );

    let step = StepRecord {
        enqueue: vec![job("i-1", "extract", 2)],
        ..advance(inst, InstanceStatus::Running, 5)
    };
    commit(&store, step).await;
    assert!(
        store.leased_jobs().await.unwrap().is_empty(),
        "attempt 1's lease went with its row"
    );
    assert_eq!(store.queued_jobs().await.unwrap(), 1);

    commit(
        &store,
        StepRecord {
            complete: vec![key("i-1", "extract", 1)],
            ..StepRecord::default()
        },
    )
    .await;
    assert_eq!(
        store.queued_jobs().await.unwrap(),
        1,
        "completing attempt 1 must not remove attempt 2"
    );

    let claimed = store.claim_jobs("w", 10, LEASE, t0()).await.unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|c| JobKey::of(&c.request))
            .collect::<Vec<_>>(),
        [key("i-1", "extract", 2)]
    );
}

/// `leased_jobs` names exactly the claimed jobs; `queued_jobs` counts the rest.
pub async fn leased_jobs_lists_claimed_jobs<S: Store>(store: S) {
    assert!(store.leased_jobs().await.unwrap().is_empty());
    let jobs = vec![job("i-1", "a", 1), job("i-1", "b", 1), job("i-1", "c", 1)];
    commit(
        &store,
        StepRecord {
            enqueue: jobs,
            ..insert(instance("i-1"))
        },
    )
    .await;
    assert!(store.leased_jobs().await.unwrap().is_empty());

    let first = store.claim_jobs("w1", 1, LEASE, t0()).await.unwrap();
    let second = store.claim_jobs("w2", 1, LEASE, t0()).await.unwrap();
    let claimed = keys(
        first
            .iter()
            .chain(&second)
            .map(|c| JobKey::of(&c.request))
            .collect(),
    );
    assert_eq!(claimed.len(), 2);
    assert_eq!(keys(store.leased_jobs().await.unwrap()), claimed);
    assert_eq!(store.queued_jobs().await.unwrap(), 1);
}

/// `queue_depths` counts the jobs waiting and leased by topic (command jobs are topic `""`;
/// an empty queue has no entry) and the timers due at the moment asked about.
pub async fn queue_depths_count_queued_and_leased_jobs_by_topic_and_the_timers_due<S: Store>(
    store: S,
) {
    assert_eq!(
        store.queue_depths(at(0)).await.unwrap(),
        crate::QueueDepths::default()
    );
    let jobs = vec![job("i-1", "a", 1), job("i-1", "b", 1), job("i-1", "c", 1)];
    let timers = vec![timer("i-1", "soon", 10), timer("i-1", "later", 30)];
    commit(
        &store,
        StepRecord {
            enqueue: jobs,
            set_timers: timers,
            ..insert(instance("i-1"))
        },
    )
    .await;
    assert_eq!(
        store.claim_jobs("w", 1, LEASE, t0()).await.unwrap().len(),
        1
    );

    let depths = store.queue_depths(at(20)).await.unwrap();
    assert_eq!(
        depths.jobs,
        [crate::TopicJobs {
            topic: String::new(),
            queued: 2,
            leased: 1
        }]
    );
    assert_eq!(depths.timers_due, 1, "only the timer due by then");
    assert_eq!(store.queue_depths(at(30)).await.unwrap().timers_due, 2);
    assert_eq!(store.queue_depths(at(9)).await.unwrap().timers_due, 0);
}

fn process(pid: u32) -> JobProcess {
    JobProcess {
        pid,
        pgid: pid,
        identity: format!("boot-1 start-{pid}"),
    }
}

/// A recorded job process is listed until it is forgotten: a step that cancels the job
/// (removes its queue row) or queues its next attempt leaves the record, since the process may
/// still be stopping; recording an attempt again replaces its record, and forgetting one that
/// is not recorded is no error.
pub async fn a_job_process_stays_recorded_until_forgotten_whatever_happens_to_its_queue_row<
    S: Store,
>(
    store: S,
) {
    assert_eq!(store.job_processes().await.unwrap(), []);
    let inst = instance("i-1");
    commit(
        &store,
        StepRecord {
            enqueue: vec![job("i-1", "extract", 1), job("i-1", "load", 1)],
            ..insert(inst.clone())
        },
    )
    .await;
    assert_eq!(
        store.claim_jobs("w", 10, LEASE, t0()).await.unwrap().len(),
        2
    );
    store
        .record_job_process(&key("i-1", "extract", 1), &process(100))
        .await
        .unwrap();
    store
        .record_job_process(&key("i-1", "load", 1), &process(200))
        .await
        .unwrap();
    assert_eq!(
        store.job_processes().await.unwrap(),
        [
            (key("i-1", "extract", 1), process(100)),
            (key("i-1", "load", 1), process(200))
        ]
    );

    // A cancel of extract (its row goes), then its retry as attempt 2 (a new row).
    let cancel = StepRecord {
        complete: vec![key("i-1", "extract", 1)],
        ..advance(inst, InstanceStatus::Running, 5)
    };
    let inst = Instance::clone(cancel.instance.as_ref().unwrap());
    commit(&store, cancel).await;
    commit(
        &store,
        StepRecord {
            enqueue: vec![job("i-1", "extract", 2)],
            ..advance(inst, InstanceStatus::Running, 10)
        },
    )
    .await;
    assert_eq!(
        store.job_processes().await.unwrap(),
        [
            (key("i-1", "extract", 1), process(100)),
            (key("i-1", "load", 1), process(200))
        ]
    );

    store
        .record_job_process(&key("i-1", "extract", 2), &process(300))
        .await
        .unwrap();
    store
        .record_job_process(&key("i-1", "load", 1), &process(201))
        .await
        .unwrap();
    assert_eq!(
        store.job_processes().await.unwrap(),
        [
            (key("i-1", "extract", 1), process(100)),
            (key("i-1", "extract", 2), process(300)),
            (key("i-1", "load", 1), process(201))
        ]
    );

    store
        .forget_job_process(&key("i-1", "extract", 1))
        .await
        .unwrap();
    store
        .forget_job_process(&key("i-1", "extract", 1))
        .await
        .unwrap();
    store
        .forget_job_process(&key("i-9", "nothing", 1))
        .await
        .unwrap();
    assert_eq!(
        store.job_processes().await.unwrap(),
        [
            (key("i-1", "extract", 2), process(300)),
            (key("i-1", "load", 1), process(201))
        ]
    );
    store
        .forget_job_process(&key("i-1", "extract", 2))
        .await
        .unwrap();
    store
        .forget_job_process(&key("i-1", "load", 1))
        .await
        .unwrap();
    assert_eq!(store.job_processes().await.unwrap(), []);
}

// ---------------------------------------------------------------------------------------
// Timers

/// Timers come due earliest first, at or before `now`; setting a key again moves its timer,
/// and a cleared timer never comes due. (Keys sort differently from due times on purpose.)
pub async fn timers_come_due_in_order_and_can_be_cleared<S: Store>(store: S) {
    assert_eq!(store.next_timer_due().await.unwrap(), None);
    commit(&store, insert(instance("i-2"))).await;
    let step = StepRecord {
        set_timers: vec![
            timer("i-1", "alpha", 30),
            timer("i-1", "zulu", 10),
            timer("i-2", "mike", 20),
        ],
        ..insert(instance("i-1"))
    };
    commit(&store, step).await;

    assert_eq!(store.next_timer_due().await.unwrap(), Some(at(10)));
    assert!(store.due_timers(at(9), 10).await.unwrap().is_empty());
    assert_eq!(
        store.due_timers(at(20), 10).await.unwrap(),
        [timer("i-1", "zulu", 10), timer("i-2", "mike", 20)]
    );
    assert_eq!(
        store.due_timers(at(100), 1).await.unwrap(),
        [timer("i-1", "zulu", 10)]
    );
    assert_eq!(
        store.due_timers_of("i-1", at(100), 10).await.unwrap(),
        [timer("i-1", "zulu", 10), timer("i-1", "alpha", 30)]
    );
    assert_eq!(
        store.due_timers_of("i-1", at(20), 10).await.unwrap(),
        [timer("i-1", "zulu", 10)],
        "only those due"
    );
    assert_eq!(
        store.due_timers_of("i-1", at(100), 1).await.unwrap(),
        [timer("i-1", "zulu", 10)]
    );
    assert!(store
        .due_timers_of("i-3", at(100), 10)
        .await
        .unwrap()
        .is_empty());

    // Clear `zulu`, move `mike` later than `alpha`.
    let inst = stored(&store, "i-1").await;
    let step = StepRecord {
        clear_timers: vec![("i-1".into(), "zulu".into())],
        set_timers: vec![timer("i-2", "mike", 40)],
        ..advance(inst, InstanceStatus::Running, 5)
    };
    commit(&store, step).await;
    assert_eq!(store.next_timer_due().await.unwrap(), Some(at(30)));
    assert_eq!(
        store.due_timers(at(100), 10).await.unwrap(),
        [timer("i-1", "alpha", 30), timer("i-2", "mike", 40)]
    );

    let clear_all = StepRecord {
        clear_timers: vec![
            ("i-1".into(), "alpha".into()),
            ("i-2".into(), "mike".into()),
        ],
        ..StepRecord::default()
    };
    commit(&store, clear_all).await;
    assert_eq!(store.next_timer_due().await.unwrap(), None);
    assert!(store.due_timers(at(100), 10).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------
// Listing instances

fn with_status(id: &str, status: InstanceStatus, created: i64) -> Instance {
    let mut inst = instance(id);
    inst.status = status;
    inst.created_at = at(created);
    inst.updated_at = at(created);
    if status.is_terminal() {
        inst.ended_at = Some(at(created + 1));
    }
    inst
}

/// Stardust's department scoping, filtered in the listing's query: a scope of a department
/// holds the unscoped instances and that department's, the unscoped scope only the unscoped
/// ones, and a full page of a scope is full of what the scope holds. Open incidents follow
/// their instances' departments.
pub async fn a_department_scope_lists_the_unscoped_instances_and_its_departments_only<S: Store>(
    store: S,
) {
    use crate::DepartmentScope;
    for (n, department) in [Some("legal"), None, Some("sales"), Some("legal")]
        .into_iter()
        .enumerate()
    {
        let mut inst = with_status(&format!("i-{n}"), InstanceStatus::Running, n as i64 * 10);
        inst.department = department.map(str::to_owned);
        commit(&store, insert(inst)).await;
    }
    let list = |scope: DepartmentScope, limit: usize| {
        let store = store.clone();
        async move {
            let query = crate::InstanceQuery {
                scope,
                limit,
                ..crate::InstanceQuery::default()
            };
            store
                .list_instances(&query)
                .await
                .unwrap()
                .into_iter()
                .map(|s| (s.id, s.department))
                .collect::<Vec<_>>()
        }
    };
    let legal = || DepartmentScope::Department("legal".into());
    let row = |id: &str, department: Option<&str>| (id.to_owned(), department.map(str::to_owned));
    assert_eq!(
        list(legal(), 100).await,
        [
            row("i-3", Some("legal")),
            row("i-1", None),
            row("i-0", Some("legal"))
        ]
    );
    assert_eq!(
        list(legal(), 2).await,
        [row("i-3", Some("legal")), row("i-1", None)],
        "a page holds what the scope holds"
    );
    assert_eq!(
        list(DepartmentScope::Unscoped, 100).await,
        [row("i-1", None)]
    );
    assert_eq!(list(DepartmentScope::All, 100).await.len(), 4);
    assert_eq!(
        store.instance_department("i-2").await.unwrap(),
        Some(Some("sales".to_owned()))
    );
    assert_eq!(store.instance_department("i-1").await.unwrap(), Some(None));
    assert_eq!(store.instance_department("nope").await.unwrap(), None);

    let incidents: Vec<crate::NewIncident> = (0..4)
        .map(|n| crate::NewIncident {
            instance: format!("i-{n}"),
            task: None,
            kind: crate::IncidentKind::StepFailed,
            reason: "failed".into(),
            command: None,
            attempts: 1,
            at: at(50),
        })
        .collect();
    store
        .commit(vec![StepRecord {
            raise_incidents: incidents,
            ..StepRecord::default()
        }])
        .await
        .unwrap();
    let open = |scope: DepartmentScope| {
        let store = store.clone();
        async move {
            store
                .open_incidents_in(&scope, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|i| i.instance)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(open(legal()).await, ["i-0", "i-1", "i-3"]);
    assert_eq!(open(DepartmentScope::Unscoped).await, ["i-1"]);
    assert_eq!(
        open(DepartmentScope::All).await,
        ["i-0", "i-1", "i-2", "i-3"]
    );
}

fn every_status() -> Vec<InstanceStatus> {
    use InstanceStatus::*;
    let all = [Running, Waiting, Blocked, Completed, Failed, Aborted];
    for status in all {
        // A status added to the core stops this match compiling until it is listed above.
        match status {
            Running | Waiting | Blocked | Completed | Failed | Aborted => {}
        }
    }
    all.to_vec()
}

/// Open instances are those in a status that is not terminal (running, waiting, blocked);
/// an instance that ends leaves the list.
pub async fn open_instances_excludes_terminal_ones<S: Store>(store: S) {
    for (n, status) in every_status().into_iter().enumerate() {
        commit(&store, insert(with_status(status.name(), status, n as i64))).await;
    }
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    let open: Vec<String> = every_status()
        .into_iter()
        .filter(|s| !s.is_terminal())
        .map(|s| s.name().to_owned())
        .collect();
    assert_eq!(
        sorted(store.open_instances().await.unwrap()),
        sorted(open.clone())
    );

    let running = stored(&store, "running").await;
    commit(&store, advance(running, InstanceStatus::Completed, 10)).await;
    let still_open: Vec<String> = open.into_iter().filter(|id| id != "running").collect();
    assert_eq!(
        sorted(store.open_instances().await.unwrap()),
        sorted(still_open)
    );
}

/// `instances` lists newest first, up to `limit`, optionally only one status.
pub async fn instances_filter_by_status<S: Store>(store: S) {
    let statuses = [
        InstanceStatus::Completed,
        InstanceStatus::Running,
        InstanceStatus::Completed,
        InstanceStatus::Failed,
        InstanceStatus::Completed,
    ];
    for (n, status) in statuses.into_iter().enumerate() {
        commit(
            &store,
            insert(with_status(&format!("i-{n}"), status, n as i64 * 10)),
        )
        .await;
    }
    let ids =
        |list: Vec<crate::InstanceSummary>| list.into_iter().map(|s| s.id).collect::<Vec<_>>();

    assert_eq!(
        ids(store.instances(None, 100).await.unwrap()),
        ["i-4", "i-3", "i-2", "i-1", "i-0"]
    );
    assert_eq!(ids(store.instances(None, 2).await.unwrap()), ["i-4", "i-3"]);
    assert_eq!(
        ids(store
            .instances(Some(InstanceStatus::Completed), 100)
            .await
            .unwrap()),
        ["i-4", "i-2", "i-0"]
    );
    assert_eq!(
        ids(store
            .instances(Some(InstanceStatus::Completed), 1)
            .await
            .unwrap()),
        ["i-4"]
    );
    assert!(store
        .instances(Some(InstanceStatus::Aborted), 100)
        .await
        .unwrap()
        .is_empty());

    let failed = store
        .instances(Some(InstanceStatus::Failed), 100)
        .await
        .unwrap();
    assert_eq!(
        failed,
        [crate::InstanceSummary {
            id: "i-3".into(),
            definition_id: "conformance".into(),
            definition_version: 1,
            status: InstanceStatus::Failed,
            created_at: at(30),
            ended_at: Some(at(31)),
            parent: None,
            link: None,
            case: "i-3".into(),
            work_status: None,
            department: None,
        }]
    );
}

/// A listing by case holds every instance of the case (a root, its sub-processes and what it
/// handed off) and nothing else, each with its parent and link; a step that changes the work status
/// stores it where the listing reads it. The hierarchy reads back with the state.
pub async fn a_case_lists_its_instances_with_their_parents_and_work_status<S: Store>(store: S) {
    use baton_core::instance::LinkKind;
    commit(&store, insert(instance("root"))).await;
    commit(&store, insert(instance("elsewhere"))).await;
    let mut called = instance("called");
    called.parent = Some(ParentLink {
        instance: "root".into(),
        task: "call".into(),
        index: 0,
        kind: LinkKind::Call,
        attempt: 1,
    });
    (called.root, called.case, called.depth) = (Some("root".into()), "root".into(), 1);
    let mut handed = instance("handed");
    handed.parent = Some(ParentLink {
        instance: "root".into(),
        task: "hand".into(),
        index: 0,
        kind: LinkKind::Handoff,
        attempt: 1,
    });
    (handed.case, handed.depth) = ("root".into(), 1);
    commit(
        &store,
        StepRecord {
            instance: Some(called.clone().into()),
            new: true,
            events: started_events(),
            ..StepRecord::default()
        },
    )
    .await;
    commit(
        &store,
        StepRecord {
            instance: Some(handed.clone().into()),
            new: true,
            events: started_events(),
            ..StepRecord::default()
        },
    )
    .await;
    assert_eq!(
        stored(&store, "called").await,
        called,
        "the link, root, case and depth read back"
    );
    assert_eq!(stored(&store, "handed").await, handed);

    let mut root = stored(&store, "root").await;
    root.work_status = Some("Pending-Fulfillment".into());
    root.referenced_instances = vec!["handed".into()];
    let mut step = advance(root.clone(), InstanceStatus::Running, 5);
    step.status_before = Some(InstanceStatus::Running);
    step.work_status_changed = true;
    commit(&store, step).await;

    let query = InstanceQuery {
        case: Some("root".into()),
        limit: 10,
        ..InstanceQuery::default()
    };
    let mut case = store.list_instances(&query).await.unwrap();
    case.sort_by(|a, b| a.id.cmp(&b.id));
    let rows: Vec<(&str, Option<&str>, Option<LinkKind>, &str, Option<&str>)> = case
        .iter()
        .map(|r| {
            (
                r.id.as_str(),
                r.parent.as_deref(),
                r.link,
                r.case.as_str(),
                r.work_status.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("called", Some("root"), Some(LinkKind::Call), "root", None),
            (
                "handed",
                Some("root"),
                Some(LinkKind::Handoff),
                "root",
                None
            ),
            ("root", None, None, "root", Some("Pending-Fulfillment"))
        ]
    );
    assert_eq!(
        stored(&store, "root").await.referenced_instances,
        ["handed"]
    );
}

/// `latest_version` is the newest deployed version of an id, read without its source.
pub async fn latest_version_is_the_newest_deployment<S: Store>(store: S) {
    assert_eq!(store.latest_version("p").await.unwrap(), None);
    store.deploy("p", "p.yaml", "id: p", t0()).await.unwrap();
    store
        .deploy("p", "p.yaml", "id: p # 2", t0())
        .await
        .unwrap();
    store.deploy("q", "q.yaml", "id: q", t0()).await.unwrap();
    assert_eq!(store.latest_version("p").await.unwrap(), Some(2));
    assert_eq!(store.latest_version("q").await.unwrap(), Some(1));
}

/// `children` names the instances whose parent link points at the instance, and no others.
pub async fn children_lists_the_iterations_of_an_instance<S: Store>(store: S) {
    commit(&store, insert(instance("parent"))).await;
    commit(&store, insert(instance("other-parent"))).await;
    for (id, parent, index) in [
        ("iter-b", "parent", 1),
        ("iter-a", "parent", 0),
        ("iter-x", "other-parent", 0),
    ] {
        let mut child = instance(id);
        child.parent = Some(ParentLink::iteration(parent, "each", index));
        (child.root, child.case, child.depth) = (Some(parent.into()), parent.into(), 1);
        child.iteration = Some(Iteration {
            index,
            item: json!(format!("file-{index}.csv")),
            snapshot: Some(1),
        });
        commit(&store, insert(child.clone())).await;
        assert_eq!(
            stored(&store, id).await,
            child,
            "the parent link and item read back"
        );
    }
    let mut children = store.children("parent").await.unwrap();
    children.sort();
    assert_eq!(children, ["iter-a", "iter-b"]);
    assert!(store.children("iter-a").await.unwrap().is_empty());
    assert!(store.children("missing").await.unwrap().is_empty());
}

/// A ForEach run's snapshot lands with the step that shares it, reads back whole under its key
/// (instance, task, attempt), is replaced by sharing it again, and is gone once dropped.
pub async fn a_foreach_snapshot_is_stored_once_with_its_step_and_dropped_with_another<S: Store>(
    store: S,
) {
    let key = |attempt| crate::SnapshotKey {
        instance: "parent".into(),
        task: "each".into(),
        attempt,
    };
    let snapshot = |n: i64| {
        std::sync::Arc::new(ForEachSnapshot::new(
            json!({"region": "emea", "n": n})
                .as_object()
                .cloned()
                .unwrap(),
            vec![json!("a.csv"), json!(n)],
        ))
    };
    let mut step = insert(instance("parent"));
    step.share_snapshots = vec![(key(1), snapshot(1)), (key(2), snapshot(2))];
    commit(&store, step).await;
    assert_eq!(
        store.snapshot(&key(1)).await.unwrap().as_ref(),
        Some(&*snapshot(1))
    );
    assert_eq!(
        store.snapshot(&key(2)).await.unwrap().as_ref(),
        Some(&*snapshot(2))
    );
    assert_eq!(store.snapshot(&key(3)).await.unwrap(), None);
    assert_eq!(
        store
            .snapshot(&crate::SnapshotKey {
                instance: "other".into(),
                ..key(1)
            })
            .await
            .unwrap(),
        None
    );

    commit(
        &store,
        StepRecord {
            share_snapshots: vec![(key(1), snapshot(7))],
            drop_snapshots: vec![key(2)],
            ..StepRecord::default()
        },
    )
    .await;
    assert_eq!(
        store.snapshot(&key(1)).await.unwrap().as_ref(),
        Some(&*snapshot(7)),
        "shared again: replaced"
    );
    assert_eq!(store.snapshot(&key(2)).await.unwrap(), None, "dropped");
}

/// A task's expected runtime is the average of its last [`ERT_RUNS`] recorded runs, per
/// process and task.
pub async fn expected_runtimes_average_the_last_runs_of_each_task<S: Store>(store: S) {
    assert!(store.expected_runtimes("etl").await.unwrap().is_empty());
    let sample = |process: &str, task: &str, ms: u64| RuntimeSample {
        process: process.into(),
        task: task.into(),
        duration_ms: ms,
    };
    // Two more runs of `load` than are kept: the first two (100 and 200 ms) drop out.
    let runs = ERT_RUNS as u64 + 2;
    for n in 1..=runs {
        commit(
            &store,
            StepRecord {
                runtimes: vec![sample("etl", "load", n * 100)],
                ..StepRecord::default()
            },
        )
        .await;
    }
    // Several samples in one step count one by one.
    let step = StepRecord {
        runtimes: vec![
            sample("etl", "extract", 40),
            sample("etl", "extract", 60),
            sample("other", "load", 5),
        ],
        ..StepRecord::default()
    };
    commit(&store, step).await;

    let kept: Vec<u64> = (3..=runs).map(|n| n * 100).collect();
    let average = kept.iter().sum::<u64>() / kept.len() as u64;
    let expected = std::collections::HashMap::from([
        ("load".to_owned(), Duration::from_millis(average)),
        ("extract".to_owned(), Duration::from_millis(50)),
    ]);
    assert_eq!(store.expected_runtimes("etl").await.unwrap(), expected);
    assert_eq!(
        store.expected_runtimes("other").await.unwrap(),
        std::collections::HashMap::from([("load".to_owned(), Duration::from_millis(5))])
    );
}

// ---------------------------------------------------------------------------------------
// Group commit

/// Many tasks committing at once (which a store may group into shared transactions) each see
/// their own step land, whole.
pub async fn concurrent_commits_from_many_tasks_all_land<S: Store>(store: S) {
    const N: usize = 200;
    let commits: Vec<_> = (0..N)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let id = format!("i-{n:03}");
                let step = StepRecord {
                    enqueue: vec![job(&id, "extract", 1)],
                    ..insert(instance(&id))
                };
                store.commit(vec![step]).await.unwrap();
                // A follow-up step on the same instance, as the engine makes after a job.
                let next = advance(instance(&id), InstanceStatus::Completed, 5);
                store
                    .commit(vec![StepRecord {
                        complete: vec![key(&id, "extract", 1)],
                        ..next
                    }])
                    .await
                    .unwrap();
            })
        })
        .collect();
    for c in commits {
        c.await.unwrap();
    }
    for n in 0..N {
        let id = format!("i-{n:03}");
        assert_eq!(stored(&store, &id).await.status, InstanceStatus::Completed);
        assert_eq!(store.history(&id).await.unwrap().len(), 3);
    }
    assert_eq!(
        store
            .instances(Some(InstanceStatus::Completed), 1000)
            .await
            .unwrap()
            .len(),
        N
    );
    assert!(store.open_instances().await.unwrap().is_empty());
    assert_eq!(store.queued_jobs().await.unwrap(), 0);
}

/// `list_instances` filters by process and start time, and pages by the cursor of the last row.
pub async fn instances_filter_by_process_and_start_time_and_page_by_cursor<S: Store>(store: S) {
    for n in 0..6 {
        let mut inst = with_status(&format!("i-{n}"), InstanceStatus::Running, n * 10);
        if n % 2 == 1 {
            inst.definition_id = "other".into();
        }
        commit(&store, insert(inst)).await;
    }
    let ids =
        |list: Vec<crate::InstanceSummary>| list.into_iter().map(|s| s.id).collect::<Vec<_>>();
    let query = |q: InstanceQuery| {
        let store = store.clone();
        async move {
            ids(store
                .list_instances(&InstanceQuery { limit: 100, ..q })
                .await
                .unwrap())
        }
    };
    assert_eq!(
        query(InstanceQuery {
            process: Some("other".into()),
            ..InstanceQuery::default()
        })
        .await,
        ["i-5", "i-3", "i-1"]
    );
    assert_eq!(
        query(InstanceQuery {
            created_after: Some(at(20)),
            created_before: Some(at(40)),
            ..InstanceQuery::default()
        })
        .await,
        ["i-3", "i-2"]
    );
    assert_eq!(
        query(InstanceQuery {
            id_prefix: Some("i-4".into()),
            ..InstanceQuery::default()
        })
        .await,
        ["i-4"],
        "an id prefix"
    );
    assert_eq!(
        query(InstanceQuery {
            id_prefix: Some("i-".into()),
            process: Some("other".into()),
            ..InstanceQuery::default()
        })
        .await,
        ["i-5", "i-3", "i-1"]
    );
    assert!(
        query(InstanceQuery {
            id_prefix: Some("i-%".into()),
            ..InstanceQuery::default()
        })
        .await
        .is_empty(),
        "a prefix is no pattern"
    );

    let first = store
        .list_instances(&InstanceQuery {
            limit: 4,
            ..InstanceQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(first.clone()), ["i-5", "i-4", "i-3", "i-2"]);
    let last = first.last().unwrap();
    let after = Some(InstanceCursor {
        created_at: last.created_at,
        id: last.id.clone(),
    });
    assert_eq!(
        query(InstanceQuery {
            after,
            ..InstanceQuery::default()
        })
        .await,
        ["i-1", "i-0"]
    );
}

/// `history_page` returns at most `limit` events after a seq, across step boundaries.
pub async fn a_history_page_holds_the_events_after_a_seq<S: Store>(store: S) {
    let mut inst = instance("i-1");
    commit(&store, insert(inst.clone())).await;
    inst.next_seq = 3;
    // Steps of one, three and two events: seqs 3, 4-6, 7-8.
    for count in [1u64, 3, 2] {
        let expected_seq = inst.next_seq;
        let events: Vec<Event> = (0..count)
            .map(|k| {
                event(
                    expected_seq + k,
                    Some("t"),
                    EventKind::BranchesTaken { tasks: vec![] },
                )
            })
            .collect();
        inst.next_seq += count;
        commit(
            &store,
            StepRecord {
                instance: Some(inst.clone().into()),
                expected_seq,
                events,
                ..StepRecord::default()
            },
        )
        .await;
    }
    let seqs = |events: Vec<Event>| events.into_iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(store.history_page("i-1", 0, 3).await.unwrap()),
        [1, 2, 3]
    );
    assert_eq!(seqs(store.history_page("i-1", 3, 2).await.unwrap()), [4, 5]);
    assert_eq!(
        seqs(store.history_page("i-1", 5, 100).await.unwrap()),
        [6, 7, 8]
    );
    assert!(store.history_page("i-1", 8, 10).await.unwrap().is_empty());
    assert_eq!(
        seqs(store.history("i-1").await.unwrap()),
        (1..=8).collect::<Vec<_>>()
    );
}

/// A start naming an idempotency key an earlier start took is refused, naming that start,
/// and changes nothing.
pub async fn an_idempotency_key_starts_one_instance<S: Store>(store: S) {
    let key = |fingerprint: &str| {
        Some(StartKey {
            key: "order-17".into(),
            fingerprint: fingerprint.into(),
        })
    };
    commit(
        &store,
        StepRecord {
            start_key: key("fp-a"),
            ..insert(instance("i-1"))
        },
    )
    .await;
    assert_eq!(
        store.started_by_key("order-17").await.unwrap(),
        Some(("i-1".to_owned(), "fp-a".to_owned()))
    );
    let again = store
        .commit(vec![StepRecord {
            start_key: key("fp-b"),
            ..insert(instance("i-2"))
        }])
        .await;
    match again {
        Err(StoreError::StartKeyTaken {
            instance,
            fingerprint,
            ..
        }) => assert_eq!((instance.as_str(), fingerprint.as_str()), ("i-1", "fp-a")),
        other => panic!("expected the key to be taken, got {other:?}"),
    }
    assert!(
        store.instance("i-2").await.unwrap().is_none(),
        "the refused start stored nothing"
    );
    assert_eq!(store.started_by_key("order-18").await.unwrap(), None);
}

/// External jobs are locked by one worker each, even when workers race, and the engine's own
/// worker never claims them.
pub async fn external_jobs_are_locked_once_by_racing_workers_and_never_claimed_by_the_engines_worker<
    S: Store,
>(
    store: S,
) {
    for i in 0..4 {
        let id = format!("i-{i}");
        let jobs: Vec<JobRequest> = (0..10)
            .map(|t| {
                external_job(
                    &id,
                    &format!("task-{t}"),
                    1,
                    if t % 2 == 0 { "even" } else { "odd" },
                )
            })
            .collect();
        commit(
            &store,
            StepRecord {
                enqueue: jobs,
                ..insert(instance(&id))
            },
        )
        .await;
    }
    assert_eq!(
        store.queued_jobs().await.unwrap(),
        0,
        "the engine's queue holds no external job"
    );
    assert!(store
        .claim_jobs("node", 100, LEASE, t0())
        .await
        .unwrap()
        .is_empty());
    let counts = store.queue_depths(t0()).await.unwrap().jobs;
    assert_eq!(
        counts
            .iter()
            .map(|c| (c.topic.as_str(), c.queued, c.leased))
            .collect::<Vec<_>>(),
        [("even", 20, 0), ("odd", 20, 0)]
    );

    let workers: Vec<_> = (0..6)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let topics = ["even".to_owned(), "odd".to_owned()];
                    let batch = store
                        .lock_external_jobs(&format!("user/w{w}"), &topics, 4, LEASE, t0())
                        .await
                        .unwrap();
                    if batch.is_empty() || got.len() > 40 {
                        return got;
                    }
                    got.extend(batch.into_iter().map(|j| JobKey::of(&j.request)));
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut locked = Vec::new();
    for w in workers {
        locked.extend(w.await.unwrap());
    }
    assert_eq!(locked.len(), 40);
    assert_eq!(
        locked.iter().collect::<HashSet<_>>().len(),
        40,
        "no job was locked twice"
    );
    let counts = store.queue_depths(t0()).await.unwrap().jobs;
    assert!(
        counts.iter().all(|c| c.queued == 0 && c.leased == 20),
        "{counts:?}"
    );
    let only_odd = store
        .lock_external_jobs("user/w", &["none".to_owned()], 10, LEASE, t0())
        .await
        .unwrap();
    assert!(only_odd.is_empty());
}

/// A step fenced by a worker's lock commits while that worker holds it, and is refused,
/// changing nothing, for another owner, after the lock's expiry, or once the row is gone.
pub async fn a_fenced_step_commits_only_while_its_worker_holds_the_lock<S: Store>(store: S) {
    let inst = instance("i-1");
    commit(
        &store,
        StepRecord {
            enqueue: vec![external_job("i-1", "check", 1, "t")],
            ..insert(inst.clone())
        },
    )
    .await;
    let key = JobKey {
        instance: "i-1".into(),
        task: "check".into(),
        attempt: 1,
    };
    let locked = store
        .lock_external_jobs(
            "bot/w1",
            &["t".to_owned()],
            1,
            Duration::from_secs(30),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(locked.len(), 1);
    assert_eq!(locked[0].lease_until, t0() + chrono::Duration::seconds(30));
    let stored = store.instance("i-1").await.unwrap().unwrap();
    let fenced = |owner: &str, now: DateTime<Utc>| StepRecord {
        complete: vec![key.clone()],
        fence: Some(JobLock {
            job: key.clone(),
            owner: owner.to_owned(),
            lease: None,
            now,
        }),
        ..advance(stored.clone(), InstanceStatus::Completed, 5)
    };
    for (owner, now) in [
        ("bot/w2", t0()),
        ("bot/w1", t0() + chrono::Duration::seconds(30)),
    ] {
        match store.commit(vec![fenced(owner, now)]).await {
            Err(StoreError::LockNotHeld { .. }) => {}
            other => panic!("expected the fence to refuse {owner} at {now}, got {other:?}"),
        }
        assert_eq!(
            store.instance("i-1").await.unwrap().unwrap().status,
            InstanceStatus::Running,
            "a refused step changes nothing"
        );
    }
    store
        .commit(vec![fenced("bot/w1", t0() + chrono::Duration::seconds(29))])
        .await
        .unwrap();
    assert_eq!(
        store.instance("i-1").await.unwrap().unwrap().status,
        InstanceStatus::Completed
    );
    assert!(
        store.queue_depths(t0()).await.unwrap().jobs.is_empty(),
        "the job's row went with the step"
    );
}

/// An expired lock is taken over and can no longer be extended; a live one can.
pub async fn an_expired_lock_is_taken_over_and_cannot_be_extended<S: Store>(store: S) {
    let jobs = vec![
        external_job("i-1", "a", 1, "t"),
        external_job("i-1", "b", 1, "t"),
    ];
    commit(
        &store,
        StepRecord {
            enqueue: jobs,
            ..insert(instance("i-1"))
        },
    )
    .await;
    store
        .lock_external_jobs(
            "bot/w1",
            &["t".to_owned()],
            2,
            Duration::from_secs(10),
            t0(),
        )
        .await
        .unwrap();
    let a = JobKey {
        instance: "i-1".into(),
        task: "a".into(),
        attempt: 1,
    };
    let b = JobKey {
        instance: "i-1".into(),
        task: "b".into(),
        attempt: 1,
    };
    assert_eq!(
        store.next_lock_expiry().await.unwrap(),
        Some(t0() + chrono::Duration::seconds(10))
    );
    assert!(store
        .take_over_expired("node", 10, LEASE, t0() + chrono::Duration::seconds(9))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .extend_lock(
            &a,
            "bot/w1",
            t0() + chrono::Duration::seconds(60),
            t0() + chrono::Duration::seconds(9)
        )
        .await
        .unwrap());
    assert!(
        !store
            .extend_lock(
                &b,
                "bot/w2",
                t0() + chrono::Duration::seconds(60),
                t0() + chrono::Duration::seconds(9)
            )
            .await
            .unwrap(),
        "not the owner"
    );
    let later = t0() + chrono::Duration::seconds(10);
    let taken = store
        .take_over_expired("node", 10, LEASE, later)
        .await
        .unwrap();
    assert_eq!(
        taken
            .into_iter()
            .map(|l| (l.job, l.previous_owner, l.external))
            .collect::<Vec<_>>(),
        [(b.clone(), "bot/w1".to_owned(), true)]
    );
    assert!(
        !store
            .extend_lock(&b, "bot/w1", later + chrono::Duration::seconds(60), later)
            .await
            .unwrap(),
        "an expired lock stays expired"
    );
    let stale = JobKey {
        attempt: 2,
        ..a.clone()
    };
    assert!(
        !store
            .extend_lock(
                &stale,
                "bot/w1",
                later + chrono::Duration::seconds(60),
                later
            )
            .await
            .unwrap(),
        "another attempt"
    );
}
