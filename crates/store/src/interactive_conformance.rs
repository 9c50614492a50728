//! The interactive conformance suite: what every [`InteractiveStore`] must do with sessions and
//! Siebel's interactive workflows, written once and run against each store on a fresh database
//! per check, with [`interactive_conformance_tests!`](crate::interactive_conformance_tests).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use baton_core::InstanceStatus;

use crate::conformance::{instance, t0};
use crate::{
    InteractiveStore, InteractiveWorkflow, Orphans, Place, SessionRecord, StepRecord, Store,
    Suspension,
};

/// Generates one `#[test]` per interactive check, each on a fresh store from `$fresh`.
#[macro_export]
macro_rules! interactive_conformance_tests {
    ($fresh:path) => {
        $crate::interactive_conformance_tests!($fresh, if $crate::conformance::always);
    };
    // Each test first asks `$ready`, and passes without running the check when it says no.
    ($fresh:path, if $ready:path) => {
        $crate::interactive_conformance_tests!(@tests $ready, $fresh;
            open_sessions_are_listed_oldest_first_until_closed,
            a_workflow_moves_between_its_sessions_cache_and_its_owners_inbox,
            racing_moves_of_one_workflow_move_it_once,
            the_sessions_of_a_node_whose_lease_expired_are_taken_over_once,
            a_node_that_starts_takes_over_its_own_names_sessions,
            a_workflow_leaves_with_the_step_that_completes_its_instance,
        );
    };
    (@tests $ready:path, $fresh:path; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                if $ready() {
                    $crate::conformance::run_one($fresh, $crate::interactive_conformance::$check);
                }
            }
        )*
    };
}

fn t(seconds: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(seconds)
}

fn session(id: &str, user: &str, created_at: DateTime<Utc>, node: &str) -> SessionRecord {
    SessionRecord {
        id: id.into(),
        user: user.into(),
        created_at,
        node: node.into(),
    }
}

fn cached(instance: &str, session: &str) -> InteractiveWorkflow {
    InteractiveWorkflow {
        instance: instance.into(),
        owner: "john".into(),
        process: "order".into(),
        auto_persist: true,
        place: Place::Cached {
            session: session.into(),
        },
    }
}

pub async fn open_sessions_are_listed_oldest_first_until_closed<S: InteractiveStore>(store: S) {
    for (id, user, at) in [
        ("s-2", "mike", t(2)),
        ("s-1", "john", t(1)),
        ("s-3", "john", t(2)),
    ] {
        store
            .open_session(&session(id, user, at, "n-1"))
            .await
            .unwrap();
    }
    let ids = |sessions: Vec<SessionRecord>| sessions.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.open_sessions().await.unwrap()),
        ["s-1", "s-2", "s-3"]
    );
    assert_eq!(
        store.open_sessions().await.unwrap()[0],
        session("s-1", "john", t(1), "n-1")
    );
    store.close_session("s-2").await.unwrap();
    assert_eq!(ids(store.open_sessions().await.unwrap()), ["s-1", "s-3"]);
}

pub async fn a_workflow_moves_between_its_sessions_cache_and_its_owners_inbox<
    S: InteractiveStore,
>(
    store: S,
) {
    assert!(store.add_workflow(&cached("i-1", "s-1")).await.unwrap());
    assert!(
        !store.add_workflow(&cached("i-1", "s-2")).await.unwrap(),
        "an instance is recorded once"
    );
    assert!(store.add_workflow(&cached("i-2", "s-1")).await.unwrap());
    assert_eq!(
        store.cached_workflows("s-1").await.unwrap(),
        [cached("i-1", "s-1"), cached("i-2", "s-1")]
    );

    assert!(
        !store
            .put_in_inbox("i-1", "s-2", Suspension::Explicit, None, t(5))
            .await
            .unwrap(),
        "not in that session's cache"
    );
    assert!(store
        .put_in_inbox("i-1", "s-1", Suspension::Explicit, None, t(5))
        .await
        .unwrap());
    assert!(store
        .put_in_inbox(
            "i-2",
            "s-1",
            Suspension::Implicit,
            Some("the session timed out"),
            t(9)
        )
        .await
        .unwrap());
    assert!(store.cached_workflows("s-1").await.unwrap().is_empty());
    let inbox = store.suspended_workflows("john", 10).await.unwrap();
    let places: Vec<(String, Place)> = inbox.into_iter().map(|w| (w.instance, w.place)).collect();
    assert_eq!(
        places,
        [
            (
                "i-2".to_owned(),
                Place::Inbox {
                    since: t(9),
                    why: Suspension::Implicit,
                    note: Some("the session timed out".into())
                }
            ),
            (
                "i-1".to_owned(),
                Place::Inbox {
                    since: t(5),
                    why: Suspension::Explicit,
                    note: None
                }
            ),
        ],
        "the most recently suspended first"
    );
    assert_eq!(store.suspended_workflows("john", 1).await.unwrap().len(), 1);
    assert!(store
        .suspended_workflows("mike", 10)
        .await
        .unwrap()
        .is_empty());

    assert!(
        !store.take_from_inbox("i-1", "mike", "s-9").await.unwrap(),
        "only its owner takes it"
    );
    assert!(store.take_from_inbox("i-1", "john", "s-9").await.unwrap());
    assert!(
        !store.take_from_inbox("i-1", "john", "s-9").await.unwrap(),
        "it is no longer in the inbox"
    );
    assert_eq!(
        store.interactive_workflow("i-1").await.unwrap(),
        Some(cached("i-1", "s-9"))
    );

    assert!(
        !store.forget_workflow("i-1", "s-1").await.unwrap(),
        "not in that session's cache"
    );
    assert!(store.forget_workflow("i-1", "s-9").await.unwrap());
    assert_eq!(store.interactive_workflow("i-1").await.unwrap(), None);
}

pub async fn racing_moves_of_one_workflow_move_it_once<S: InteractiveStore + 'static>(store: S) {
    let store = Arc::new(store);
    assert!(store.add_workflow(&cached("i-1", "s-1")).await.unwrap());
    let racers: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .put_in_inbox("i-1", "s-1", Suspension::Implicit, None, t(n))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut moved = 0;
    for racer in racers {
        moved += usize::from(racer.await.unwrap());
    }
    assert_eq!(
        moved, 1,
        "one request moved it, the others found it gone from the cache"
    );
}

pub async fn a_workflow_leaves_with_the_step_that_completes_its_instance<
    S: Store + InteractiveStore,
>(
    store: S,
) {
    for id in ["i-1", "i-2"] {
        store
            .commit(vec![StepRecord {
                instance: Some(instance(id).into()),
                new: true,
                ..StepRecord::default()
            }])
            .await
            .unwrap();
        assert!(store.add_workflow(&cached(id, "s-1")).await.unwrap());
    }
    assert!(store
        .put_in_inbox("i-2", "s-1", Suspension::Explicit, None, t(1))
        .await
        .unwrap());
    for (id, status) in [
        ("i-1", InstanceStatus::Completed),
        ("i-2", InstanceStatus::Aborted),
    ] {
        let mut ended = instance(id);
        ended.status = status;
        ended.next_seq = 4;
        store
            .commit(vec![StepRecord {
                instance: Some(ended.into()),
                expected_seq: 3,
                ..StepRecord::default()
            }])
            .await
            .unwrap();
    }
    assert_eq!(
        store.interactive_workflow("i-1").await.unwrap(),
        None,
        "a completed workflow leaves its cache"
    );
    assert!(
        store
            .suspended_workflows("john", 10)
            .await
            .unwrap()
            .is_empty(),
        "an aborted one leaves the inbox"
    );
}

/// The ids of the sessions taken over, each with the node that held it.
fn taken(sessions: Vec<SessionRecord>) -> Vec<(String, String)> {
    let mut taken: Vec<_> = sessions.into_iter().map(|s| (s.id, s.node)).collect();
    taken.sort();
    taken
}

pub async fn the_sessions_of_a_node_whose_lease_expired_are_taken_over_once<
    S: InteractiveStore + 'static,
>(
    store: S,
) {
    let store = Arc::new(store);
    store.renew_node("n-1", t(30)).await.unwrap();
    store.renew_node("n-2", t(30)).await.unwrap();
    store
        .open_session(&session("s-1", "john", t(1), "n-1"))
        .await
        .unwrap();
    store
        .open_session(&session("s-2", "mike", t(2), "n-1"))
        .await
        .unwrap();
    store
        .open_session(&session("s-3", "john", t(3), "n-2"))
        .await
        .unwrap();
    store
        .open_session(&session("s-4", "john", t(3), ""))
        .await
        .unwrap();
    assert_eq!(
        taken(
            store
                .take_over_sessions("n-3", Orphans::OfExpiredNodes, t(10))
                .await
                .unwrap()
        ),
        [("s-4".to_owned(), String::new())],
        "live nodes keep their sessions; one recorded without a node has none alive"
    );

    // n-2 renews its lease, n-1 does not: at 40 s n-1 is gone, and of the live nodes that
    // look at once, one takes each of its sessions.
    store.renew_node("n-2", t(60)).await.unwrap();
    store.renew_node("n-3", t(60)).await.unwrap();
    let racers: Vec<_> = ["n-2", "n-3", "n-2", "n-3"]
        .into_iter()
        .map(|node| {
            let store = store.clone();
            tokio::spawn(async move {
                let taken = store
                    .take_over_sessions(node, Orphans::OfExpiredNodes, t(40))
                    .await
                    .unwrap();
                (node, taken)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut holders = std::collections::HashMap::new();
    for racer in racers {
        let (node, sessions) = racer.await.unwrap();
        for s in &sessions {
            holders.insert(s.id.clone(), node.to_owned());
        }
        all.extend(sessions);
    }
    assert_eq!(
        taken(all),
        [
            ("s-1".to_owned(), "n-1".to_owned()),
            ("s-2".to_owned(), "n-1".to_owned())
        ],
        "each session of the dead node is taken over once"
    );
    let recorded: std::collections::HashMap<_, _> = store
        .open_sessions()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.id, s.node))
        .collect();
    assert_eq!(recorded["s-1"], holders["s-1"], "its taker holds it now");
    assert_eq!(recorded["s-3"], "n-2");
    assert!(store
        .take_over_sessions("n-2", Orphans::OfExpiredNodes, t(41))
        .await
        .unwrap()
        .is_empty());

    assert_eq!(
        taken(
            store
                .take_over_sessions("n-9", Orphans::All, t(41))
                .await
                .unwrap()
        )
        .len(),
        4,
        "with every other process gone, every session is taken"
    );
}

pub async fn a_node_that_starts_takes_over_its_own_names_sessions<S: InteractiveStore>(store: S) {
    store.renew_node("n-1", t(30)).await.unwrap();
    store
        .open_session(&session("s-1", "john", t(1), "n-1"))
        .await
        .unwrap();
    assert!(store
        .take_over_sessions("n-1", Orphans::OfExpiredNodes, t(5))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        taken(
            store
                .take_over_sessions("n-1", Orphans::AlsoOwn, t(5))
                .await
                .unwrap()
        ),
        [("s-1".to_owned(), "n-1".to_owned())]
    );
}
