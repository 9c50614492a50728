//! The schedule conformance suite: what every [`ScheduleStore`] must do, written once and run
//! against each store on a fresh database per check, with
//! [`schedule_conformance_tests!`](crate::schedule_conformance_tests).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use baton_core::schedule::ScheduleSpec;

use crate::conformance::t0;
use crate::schedule::{SchedulePlace, SlotOutcome, SlotRecord, StoredSchedule};
use crate::Store;

/// Generates one `#[test]` per schedule check, each on a fresh store from `$fresh`.
#[macro_export]
macro_rules! schedule_conformance_tests {
    ($fresh:path) => {
        $crate::schedule_conformance_tests!($fresh, if $crate::conformance::always);
    };
    ($fresh:path, if $ready:path) => {
        $crate::schedule_conformance_tests!(@tests $ready, $fresh;
            a_schedule_is_created_once_listed_and_deleted,
            a_definition_schedule_is_replaced_and_keeps_its_slots,
            a_place_moves_only_from_where_it_is,
            a_slot_is_taken_once_by_racing_nodes,
            paused_schedules_are_not_due,
        );
    };
    (@tests $ready:path, $fresh:path; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                if $ready() {
                    $crate::conformance::run_one($fresh, $crate::schedule_conformance::$check);
                }
            }
        )*
    };
}

fn at(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

fn schedule(id: &str, next: i64) -> StoredSchedule {
    let spec = ScheduleSpec {
        data: serde_json::Map::from_iter([("region".to_owned(), serde_json::json!("emea"))]),
        ..ScheduleSpec::new("*/5 * * * *")
    };
    StoredSchedule {
        id: id.to_owned(),
        process: "nightly".into(),
        spec,
        from_definition: false,
        created_by: "mary".into(),
        created_at: t0(),
        paused: false,
        place: SchedulePlace {
            next_at: Some(at(next)),
            ..SchedulePlace::default()
        },
    }
}

fn started(slot: i64, instance: &str) -> SlotRecord {
    SlotRecord {
        slot: at(slot),
        outcome: SlotOutcome::Started {
            instance: instance.into(),
        },
        recorded_at: at(slot),
    }
}

pub async fn a_schedule_is_created_once_listed_and_deleted<S: Store>(store: S) {
    assert!(store.create_schedule(schedule("b", 5)).await.unwrap());
    assert!(store.create_schedule(schedule("a", 10)).await.unwrap());
    assert!(
        !store
            .create_schedule(StoredSchedule {
                process: "other".into(),
                ..schedule("a", 0)
            })
            .await
            .unwrap(),
        "an id is taken once"
    );
    let all = store.schedules().await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(all[0], schedule("a", 10), "stored as given");
    assert!(store
        .advance_schedule(
            "a",
            &all[0].place,
            &SchedulePlace {
                next_at: Some(at(15)),
                ..all[0].place.clone()
            },
            Some(started(10, "i1"))
        )
        .await
        .unwrap());
    assert!(store.delete_schedule("a").await.unwrap());
    assert!(!store.delete_schedule("a").await.unwrap());
    assert_eq!(store.schedule("a").await.unwrap(), None);
    assert!(
        store.schedule_slots("a", 10).await.unwrap().is_empty(),
        "its slots go with it"
    );
}

pub async fn a_definition_schedule_is_replaced_and_keeps_its_slots<S: Store>(store: S) {
    let first = StoredSchedule {
        from_definition: true,
        ..schedule("nightly", 5)
    };
    store
        .put_definition_schedule("nightly", Some(first.clone()))
        .await
        .unwrap();
    assert!(store
        .advance_schedule(
            "nightly",
            &first.place,
            &SchedulePlace {
                next_at: Some(at(10)),
                ..first.place.clone()
            },
            Some(started(5, "i1"))
        )
        .await
        .unwrap());
    let second = StoredSchedule {
        spec: ScheduleSpec::new("0 2 * * *"),
        ..StoredSchedule {
            from_definition: true,
            ..schedule("nightly", 120)
        }
    };
    store
        .put_definition_schedule("nightly", Some(second.clone()))
        .await
        .unwrap();
    assert_eq!(
        store.schedule("nightly").await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(
        store.schedule_slots("nightly", 10).await.unwrap(),
        vec![started(5, "i1")]
    );
    // The slot taken before is not taken again by the new schedule.
    let again = SchedulePlace {
        next_at: Some(at(125)),
        ..second.place.clone()
    };
    assert!(!store
        .advance_schedule("nightly", &second.place, &again, Some(started(5, "i2")))
        .await
        .unwrap());
    store
        .put_definition_schedule("nightly", None)
        .await
        .unwrap();
    assert_eq!(store.schedule("nightly").await.unwrap(), None);
}

pub async fn a_place_moves_only_from_where_it_is<S: Store>(store: S) {
    let s = schedule("s", 5);
    store.create_schedule(s.clone()).await.unwrap();
    let waiting = SchedulePlace {
        next_at: Some(at(10)),
        last_instance: Some("i1".into()),
        buffered: Some(at(5)),
    };
    assert!(store
        .advance_schedule("s", &s.place, &waiting, None)
        .await
        .unwrap());
    assert!(
        !store
            .advance_schedule("s", &s.place, &SchedulePlace::default(), None)
            .await
            .unwrap(),
        "not from a place it left"
    );
    assert_eq!(store.schedule("s").await.unwrap().unwrap().place, waiting);
    let slots = store.schedule_slots("s", 10).await.unwrap();
    assert!(slots.is_empty());
    let done = SchedulePlace {
        next_at: None,
        last_instance: Some("i2".into()),
        buffered: None,
    };
    assert!(store
        .advance_schedule("s", &waiting, &done, Some(started(5, "i2")))
        .await
        .unwrap());
    assert_eq!(store.schedule("s").await.unwrap().unwrap().place, done);
    assert!(!store
        .advance_schedule("missing", &SchedulePlace::default(), &done, None)
        .await
        .unwrap());
    let skipped = SlotRecord {
        slot: at(10),
        outcome: SlotOutcome::Skipped,
        recorded_at: at(11),
    };
    let failed = SlotRecord {
        slot: at(15),
        outcome: SlotOutcome::Failed {
            message: "gone".into(),
        },
        recorded_at: at(16),
    };
    assert!(store
        .advance_schedule("s", &done, &done, Some(skipped.clone()))
        .await
        .unwrap());
    assert!(store
        .advance_schedule("s", &done, &done, Some(failed.clone()))
        .await
        .unwrap());
    assert_eq!(
        store.schedule_slots("s", 2).await.unwrap(),
        vec![failed, skipped],
        "newest first, at most the limit"
    );
}

pub async fn a_slot_is_taken_once_by_racing_nodes<S: Store>(store: S) {
    let s = schedule("s", 5);
    store.create_schedule(s.clone()).await.unwrap();
    let store = Arc::new(store);
    let mut racers = tokio::task::JoinSet::new();
    for n in 0..8 {
        let (store, from) = (store.clone(), s.place.clone());
        racers.spawn(async move {
            let to = SchedulePlace {
                next_at: Some(at(10)),
                last_instance: Some(format!("i{n}")),
                buffered: None,
            };
            store
                .advance_schedule("s", &from, &to, Some(started(5, &format!("i{n}"))))
                .await
                .unwrap()
        });
    }
    let mut won = 0;
    while let Some(took) = racers.join_next().await {
        won += usize::from(took.unwrap());
    }
    assert_eq!(won, 1, "one node takes the slot");
    let slots = store.schedule_slots("s", 10).await.unwrap();
    assert_eq!(slots.len(), 1);
    let SlotOutcome::Started { instance } = &slots[0].outcome else {
        panic!("{slots:?}")
    };
    assert_eq!(
        store
            .schedule("s")
            .await
            .unwrap()
            .unwrap()
            .place
            .last_instance
            .as_ref(),
        Some(instance),
        "the place and the slot moved together"
    );
    // The same slot again, even from the place the schedule is at, is refused and changes nothing.
    let now = store.schedule("s").await.unwrap().unwrap().place;
    assert!(!store
        .advance_schedule(
            "s",
            &now,
            &SchedulePlace {
                next_at: Some(at(99)),
                ..now.clone()
            },
            Some(started(5, "late"))
        )
        .await
        .unwrap());
    assert_eq!(store.schedule("s").await.unwrap().unwrap().place, now);
}

pub async fn paused_schedules_are_not_due<S: Store>(store: S) {
    store.create_schedule(schedule("early", 5)).await.unwrap();
    store.create_schedule(schedule("late", 30)).await.unwrap();
    store
        .create_schedule(StoredSchedule {
            place: SchedulePlace {
                next_at: Some(at(90)),
                buffered: Some(at(1)),
                last_instance: Some("i".into()),
            },
            ..schedule("waiting", 0)
        })
        .await
        .unwrap();
    let ids = |v: Vec<StoredSchedule>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.due_schedules(at(10), 10).await.unwrap()),
        ["early", "waiting"],
        "due, or with a slot waiting"
    );
    assert_eq!(
        ids(store.due_schedules(at(10), 1).await.unwrap()),
        ["early"]
    );
    assert_eq!(store.next_schedule_due().await.unwrap(), Some(at(5)));
    assert!(store
        .set_schedule_paused("early", true, None)
        .await
        .unwrap());
    assert!(!store
        .set_schedule_paused("missing", true, None)
        .await
        .unwrap());
    assert_eq!(
        ids(store.due_schedules(at(40), 10).await.unwrap()),
        ["late", "waiting"]
    );
    assert_eq!(store.next_schedule_due().await.unwrap(), Some(at(30)));
    let early = store.schedule("early").await.unwrap().unwrap();
    assert!(
        !store
            .advance_schedule("early", &early.place, &SchedulePlace::default(), None)
            .await
            .unwrap(),
        "a paused schedule does not move"
    );
    let resumed = SchedulePlace {
        next_at: Some(at(45)),
        ..SchedulePlace::default()
    };
    assert!(store
        .set_schedule_paused("early", false, Some(resumed.clone()))
        .await
        .unwrap());
    let early = store.schedule("early").await.unwrap().unwrap();
    assert!(!early.paused);
    assert_eq!(early.place, resumed);
}
