//! The lease checks of the conformance suite: what several engine nodes on one database rely
//! on. A claimed job or timer has an owner and an expiry; the owner renews it; an expired lease
//! is taken over (and then claimable again as a new attempt), a live one is not; a result under
//! a lost lease or of an old attempt is refused; a stale step is a conflict that a retry from
//! the stored state resolves; commits are announced to subscribers.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::conformance::{external_job, instance, job, t0};
use crate::{
    Changed, ExpiredLease, JobKey, JobLock, StepRecord, Store, StoreError, Timer, TimerLock,
    WorkScope,
};

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(seconds)
}

fn key(instance: &str, task: &str, attempt: u32) -> JobKey {
    JobKey {
        instance: instance.to_owned(),
        task: task.to_owned(),
        attempt,
    }
}

const TEN_SECONDS: Duration = Duration::from_secs(10);

/// Stores instance `id` with the given jobs queued.
async fn with_jobs<S: Store>(store: &S, id: &str, jobs: Vec<baton_core::JobRequest>) {
    with_jobs_queued_at(store, id, 0, jobs).await;
}

/// Stores instance `id` with the given jobs, queued `seconds` after [`t0`].
async fn with_jobs_queued_at<S: Store>(
    store: &S,
    id: &str,
    seconds: i64,
    jobs: Vec<baton_core::JobRequest>,
) {
    let state = baton_core::Instance {
        updated_at: at(seconds),
        ..instance(id)
    };
    let step = StepRecord {
        instance: Some(state.into()),
        new: true,
        enqueue: jobs,
        ..StepRecord::default()
    };
    store
        .commit(vec![step])
        .await
        .expect("the instance is stored");
}

/// A step on the stored instance `id` (moving its seq on by one), fenced by `fence`, that ends
/// the attempt `job` and queues the next attempt.
async fn next_attempt_step<S: Store>(store: &S, job: &JobKey, fence: JobLock) -> StepRecord {
    let mut state = store
        .instance(&job.instance)
        .await
        .unwrap()
        .expect("stored");
    let expected_seq = state.next_seq;
    state.next_seq += 1;
    StepRecord {
        instance: Some(state.into()),
        expected_seq,
        complete: vec![job.clone()],
        enqueue: vec![crate::conformance::job(
            &job.instance,
            &job.task,
            job.attempt + 1,
        )],
        fence: Some(fence),
        ..StepRecord::default()
    }
}

/// A live lease is neither claimed nor taken over; its owner renews it; once it expired,
/// exactly one of several racing nodes takes it over, under a new lease, naming who held it.
pub async fn an_expired_lease_is_taken_over_once_and_a_live_one_is_not<S: Store>(store: S) {
    with_jobs(
        &store,
        "i-1",
        vec![
            job("i-1", "a", 1),
            job("i-1", "b", 1),
            external_job("i-1", "c", 1, "t"),
        ],
    )
    .await;
    let claimed = store
        .claim_jobs("node-a", 10, TEN_SECONDS, t0())
        .await
        .unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|j| (j.request.task.as_str(), j.lease_until))
            .collect::<HashSet<_>>(),
        HashSet::from([("a", at(10)), ("b", at(10))])
    );
    let first_lease = claimed[0].lease;
    assert!(
        claimed.iter().all(|j| j.lease == first_lease),
        "{claimed:?}"
    );
    let locked = store
        .lock_external_jobs("bot/w1", &["t".to_owned()], 1, TEN_SECONDS, t0())
        .await
        .unwrap();
    assert_eq!(locked.len(), 1);

    assert!(
        store
            .claim_jobs("node-b", 10, TEN_SECONDS, at(5))
            .await
            .unwrap()
            .is_empty(),
        "a live lease is not claimed"
    );
    assert!(
        store
            .take_over_expired("node-b", 10, TEN_SECONDS, at(9))
            .await
            .unwrap()
            .is_empty(),
        "a live lease is not taken over"
    );
    // The owner renews `a` before it expires; `b` it lets run out.
    let renewed = store
        .renew_leases("node-a", &[key("i-1", "a", 1)], at(19), at(9))
        .await
        .unwrap();
    assert_eq!(renewed, [key("i-1", "a", 1)]);
    assert!(
        store
            .renew_leases("node-b", &[key("i-1", "b", 1)], at(19), at(9))
            .await
            .unwrap()
            .is_empty(),
        "only the owner renews"
    );

    let racers: Vec<_> = ["node-b", "node-c", "node-d"]
        .into_iter()
        .map(|node| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .take_over_expired(node, 10, TEN_SECONDS, at(10))
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|l| (node, l))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut taken: Vec<(&str, ExpiredLease)> = Vec::new();
    for racer in racers {
        taken.extend(racer.await.unwrap());
    }
    let mut what: Vec<(JobKey, String, bool)> = taken
        .iter()
        .map(|(_, l)| (l.job.clone(), l.previous_owner.clone(), l.external))
        .collect();
    what.sort_by(|a, b| {
        (&a.0.instance, &a.0.task, a.0.attempt).cmp(&(&b.0.instance, &b.0.task, b.0.attempt))
    });
    assert_eq!(
        what,
        [
            (key("i-1", "b", 1), "node-a".to_owned(), false),
            (key("i-1", "c", 1), "bot/w1".to_owned(), true)
        ],
        "each expired lease taken once"
    );
    assert!(
        taken.iter().all(|(_, l)| l.lease > first_lease),
        "a takeover is a new lease: {taken:?}"
    );
    assert!(
        store
            .renew_leases("node-a", &[key("i-1", "b", 1)], at(30), at(10))
            .await
            .unwrap()
            .is_empty(),
        "an expired lease is not revived"
    );
    assert!(
        store
            .take_over_expired("node-e", 10, TEN_SECONDS, at(12))
            .await
            .unwrap()
            .is_empty(),
        "the leases taken over are live"
    );
    // The renewed lease lasts until its new expiry.
    let late = store
        .take_over_expired("node-e", 10, TEN_SECONDS, at(19))
        .await
        .unwrap();
    assert_eq!(
        late.iter()
            .map(|l| (l.job.clone(), l.previous_owner.as_str()))
            .collect::<Vec<_>>(),
        [(key("i-1", "a", 1), "node-a")]
    );
}

/// Once a lease is taken over, a result under the old lease is refused, changing nothing,
/// whether its owner names the lease or only itself; under the new lease it commits, and the
/// next attempt it queues is claimable again, while the old attempt's result stays refused.
pub async fn a_result_under_a_lost_lease_or_of_an_old_attempt_is_refused<S: Store>(store: S) {
    with_jobs(&store, "i-1", vec![job("i-1", "a", 1)]).await;
    let a1 = key("i-1", "a", 1);
    let old = store
        .claim_jobs("node-a", 1, TEN_SECONDS, t0())
        .await
        .unwrap()
        .remove(0)
        .lease;
    let lock = |owner: &str, lease: Option<u64>, now: DateTime<Utc>| JobLock {
        job: a1.clone(),
        owner: owner.to_owned(),
        lease,
        now,
    };
    // While live, its owner's result would commit; a stranger's is refused.
    let stranger = next_attempt_step(&store, &a1, lock("node-b", None, at(5))).await;
    assert!(matches!(
        store.commit(vec![stranger]).await,
        Err(StoreError::LockNotHeld { .. })
    ));
    let taken = store
        .take_over_expired("node-b", 10, TEN_SECONDS, at(10))
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    let new = taken[0].lease;
    for stale in [
        lock("node-a", Some(old), at(11)),
        lock("node-a", None, at(11)),
        lock("node-b", Some(old), at(11)),
    ] {
        let step = next_attempt_step(&store, &a1, stale.clone()).await;
        match store.commit(vec![step]).await {
            Err(StoreError::LockNotHeld { .. }) => {}
            other => panic!("expected {stale:?} to be refused, got {other:?}"),
        }
        assert_eq!(
            store.instance("i-1").await.unwrap().unwrap().next_seq,
            3,
            "a refused step changes nothing"
        );
    }
    let step = next_attempt_step(&store, &a1, lock("node-b", Some(new), at(11))).await;
    store
        .commit(vec![step])
        .await
        .expect("the step under the lease taken over commits");
    let again = store
        .claim_jobs("node-c", 10, TEN_SECONDS, at(11))
        .await
        .unwrap();
    assert_eq!(
        again
            .iter()
            .map(|j| JobKey::of(&j.request))
            .collect::<Vec<_>>(),
        [key("i-1", "a", 2)],
        "the next attempt is claimable"
    );
    let late = next_attempt_step(&store, &a1, lock("node-b", Some(new), at(12))).await;
    assert!(
        matches!(
            store.commit(vec![late]).await,
            Err(StoreError::LockNotHeld { .. })
        ),
        "the old attempt is over"
    );
}

fn due(instance: &str, key: &str, seconds: i64) -> Timer {
    Timer {
        instance: instance.to_owned(),
        key: key.to_owned(),
        due_at: at(seconds),
        payload: serde_json::json!({ "fire": key }),
    }
}

/// Due timers are leased once however many nodes race for them, earliest first; a leased one
/// is not claimed again until its lease expires; the step firing one commits only under the
/// live lease that claimed it last, and a timer set again meanwhile is not fired by the old claim.
pub async fn due_timers_are_leased_once_and_claimable_again_when_the_lease_expires<S: Store>(
    store: S,
) {
    let timers = vec![
        due("i-1", "x", 3),
        due("i-1", "y", 1),
        due("i-1", "z", 2),
        due("i-1", "later", 100),
    ];
    let step = StepRecord {
        instance: Some(instance("i-1").into()),
        new: true,
        set_timers: timers,
        ..StepRecord::default()
    };
    store.commit(vec![step]).await.unwrap();
    let racers: Vec<_> = (0..4)
        .map(|n| {
            let store = store.clone();
            let node = format!("node-{n}");
            tokio::spawn(async move {
                store
                    .claim_timers(&node, WorkScope::All, 10, TEN_SECONDS, at(5))
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|c| (node.clone(), c))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for racer in racers {
        let got = racer.await.unwrap();
        let dues: Vec<_> = got.iter().map(|(_, c)| c.timer.due_at).collect();
        assert!(
            dues.windows(2).all(|w| w[0] <= w[1]),
            "earliest first: {dues:?}"
        );
        claimed.extend(got);
    }
    let mut keys: Vec<&str> = claimed.iter().map(|(_, c)| c.timer.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["x", "y", "z"],
        "each due timer leased once, none that is not due"
    );
    assert!(
        store
            .claim_timers("node-9", WorkScope::All, 10, TEN_SECONDS, at(14))
            .await
            .unwrap()
            .is_empty(),
        "live leases"
    );

    let again = store
        .claim_timers("node-9", WorkScope::Instance("i-1"), 1, TEN_SECONDS, at(15))
        .await
        .unwrap();
    assert_eq!(
        again
            .iter()
            .map(|c| c.timer.key.as_str())
            .collect::<Vec<_>>(),
        ["y"],
        "expired: claimable again, earliest first"
    );
    let (old_owner, y_old) = claimed.iter().find(|(_, c)| c.timer.key == "y").unwrap();
    assert!(again[0].lease > y_old.lease, "a new claim is a new lease");
    let fire = |owner: &str, lease: u64, key: &str, now: DateTime<Utc>| StepRecord {
        clear_timers: vec![("i-1".to_owned(), key.to_owned())],
        timer_fence: vec![TimerLock {
            instance: "i-1".into(),
            key: key.to_owned(),
            owner: owner.to_owned(),
            lease,
            now,
        }],
        ..StepRecord::default()
    };
    for (owner, lease) in [(old_owner.as_str(), y_old.lease), ("node-9", y_old.lease)] {
        assert!(matches!(
            store.commit(vec![fire(owner, lease, "y", at(15))]).await,
            Err(StoreError::TimerLeaseLost { .. })
        ));
    }
    assert!(
        matches!(
            store
                .commit(vec![fire("node-9", again[0].lease, "y", at(25))])
                .await,
            Err(StoreError::TimerLeaseLost { .. })
        ),
        "the lease ran out"
    );
    store
        .commit(vec![fire("node-9", again[0].lease, "y", at(16))])
        .await
        .expect("fired under its live lease");
    let mut rest = store
        .claim_timers("node-9", WorkScope::All, 10, TEN_SECONDS, at(30))
        .await
        .unwrap();
    assert_eq!(
        rest.iter()
            .map(|c| c.timer.key.as_str())
            .collect::<Vec<_>>(),
        ["z", "x"],
        "a fired timer is gone"
    );

    // A timer set again after it was claimed is the new timer: the old claim does not fire it.
    let x = rest.remove(1);
    let mut state = store.instance("i-1").await.unwrap().unwrap();
    let expected_seq = state.next_seq;
    state.next_seq += 1;
    store
        .commit(vec![StepRecord {
            instance: Some(state.into()),
            expected_seq,
            set_timers: vec![due("i-1", &x.timer.key, 60)],
            ..StepRecord::default()
        }])
        .await
        .unwrap();
    assert!(matches!(
        store
            .commit(vec![fire("node-9", x.lease, "x", at(31))])
            .await,
        Err(StoreError::TimerLeaseLost { .. })
    ));
    assert!(store
        .due_timers_of("i-1", at(59), 10)
        .await
        .unwrap()
        .iter()
        .all(|t| t.key != "x"));
    let set_again = store.due_timers_of("i-1", at(60), 10).await.unwrap();
    assert_eq!(
        set_again
            .iter()
            .filter(|t| t.key == "x")
            .map(|t| t.due_at)
            .collect::<Vec<_>>(),
        [at(60)],
        "the timer set again stays"
    );
}

/// An embedded store's start-up ends every lease of a job Baton's worker runs or of a timer
/// that another owner holds, leaving its own and external workers' locks alone.
pub async fn ending_the_leases_of_others_leaves_external_locks_and_the_callers_own<S: Store>(
    store: S,
) {
    with_jobs(
        &store,
        "i-1",
        vec![job("i-1", "dead", 1), external_job("i-1", "ext", 1, "t")],
    )
    .await;
    with_jobs_queued_at(&store, "i-2", 1, vec![job("i-2", "mine", 1)]).await;
    let step = StepRecord {
        instance: None,
        set_timers: vec![due("i-1", "deadline", 1)],
        ..StepRecord::default()
    };
    store.commit(vec![step]).await.unwrap();
    store
        .claim_jobs("dead-node", 1, TEN_SECONDS, t0())
        .await
        .unwrap();
    store.claim_jobs("me", 1, TEN_SECONDS, t0()).await.unwrap();
    store
        .lock_external_jobs("bot/w1", &["t".to_owned()], 1, TEN_SECONDS, t0())
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_timers("dead-node", WorkScope::All, 1, TEN_SECONDS, at(1))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.end_leases_of_others("me", at(2)).await.unwrap(), 2);
    let taken = store
        .take_over_expired("me", 10, TEN_SECONDS, at(2))
        .await
        .unwrap();
    assert_eq!(
        taken
            .iter()
            .map(|l| (l.job.task.as_str(), l.previous_owner.as_str()))
            .collect::<Vec<_>>(),
        [("dead", "dead-node")]
    );
    assert_eq!(
        store
            .claim_timers("me", WorkScope::All, 1, TEN_SECONDS, at(2))
            .await
            .unwrap()
            .len(),
        1,
        "the timer is claimable at once"
    );
}

/// A stale step is a conflict; recomputed from the stored state, the retry lands. Of many
/// racing writers of one instance, each lands after retrying, none is lost.
pub async fn a_conflict_is_retried_from_the_stored_state_and_lands<S: Store>(store: S) {
    store
        .commit(vec![StepRecord {
            instance: Some(instance("i-1").into()),
            new: true,
            ..StepRecord::default()
        }])
        .await
        .unwrap();
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut conflicts = 0;
                loop {
                    let mut state = store.instance("i-1").await.unwrap().unwrap();
                    let expected_seq = state.next_seq;
                    state.next_seq += 1;
                    state
                        .data
                        .insert(format!("writer-{w}"), serde_json::json!(expected_seq));
                    match store
                        .commit(vec![StepRecord {
                            instance: Some(state.into()),
                            expected_seq,
                            ..StepRecord::default()
                        }])
                        .await
                    {
                        Ok(()) => return conflicts,
                        Err(e @ StoreError::Conflict(_)) => {
                            assert!(e.is_retryable());
                            conflicts += 1;
                            tokio::task::yield_now().await;
                        }
                        Err(e) => panic!("a racing step failed: {e:?}"),
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let state = store.instance("i-1").await.unwrap().unwrap();
    assert_eq!(state.next_seq, 3 + 6, "every writer's step landed once");
    assert!(
        (0..6).all(|w| state.data.contains_key(&format!("writer-{w}"))),
        "no write was lost: {:?}",
        state.data
    );
}

/// Subscribers hear what each commit changed: an instance, jobs, external jobs, timers.
pub async fn a_commit_tells_subscribers_what_it_changed<S: Store>(store: S) {
    let mut changes = store.subscribe_changes();
    with_jobs(&store, "i-1", vec![job("i-1", "a", 1)]).await;
    assert_eq!(
        changes.recv().await.unwrap(),
        Changed {
            instances: true,
            jobs: true,
            ..Changed::default()
        }
    );
    let step = StepRecord {
        set_timers: vec![due("i-1", "t", 5)],
        enqueue: vec![external_job("i-1", "b", 1, "t")],
        ..StepRecord::default()
    };
    store.commit(vec![step]).await.unwrap();
    assert_eq!(
        changes.recv().await.unwrap(),
        Changed {
            external_jobs: true,
            timers: true,
            ..Changed::default()
        }
    );
    assert!(changes.try_recv().is_err(), "one notification per commit");
}
