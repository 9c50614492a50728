//! Automic's ForEach in the pure core: iterations read the process data through one snapshot
//! per run instead of a copy each, an iteration's end counts once however often it is
//! delivered, a list past the item limit is refused, iterations start in bounded batches, and
//! states stored by a Baton that copied the data and kept the list in the parent go on.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};

use baton_core::event::IterationEnd;
use baton_core::instance::{ForEachSnapshot, ParentLink, Placement};
use baton_core::{
    apply_with, parse_definition, start_iteration, start_with, Command, Definition, Effect,
    EventKind, Instance, InstanceStatus, Knowledge, Reason, TaskStatus, TimerKind, Transition,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

/// A process whose `each` task runs `body` (YAML task lines) over `data.items`.
fn process(parallel: usize, body: &str) -> Definition {
    let source = format!(
        "id: fan\ndata:\n  items: list\n  prefix: {{type: string, default: ''}}\n  greeting: string\n  n: {{type: integer, default: 0}}\ntasks:\n  - id: each\n    kind: foreach\n    items: data.items\n    parallel: {parallel}\n    tasks:\n{body}  - id: done\n    kind: end\n    after: [each]\n"
    );
    parse_definition("fan.yaml", &source).unwrap_or_else(|e| panic!("{e}\n{source}"))
}

const END_BODY: &str = "      - id: work\n        kind: end\n";

fn items(n: usize) -> Value {
    Value::Array((0..n).map(|i| json!(format!("file-{i}.csv"))).collect())
}

fn start(def: &Definition, data: Value, knowledge: &Knowledge) -> Transition {
    start_with(def, "parent".into(), object(data), t0(), knowledge).expect("the instance starts")
}

/// The indices of the iterations a transition starts.
fn started(t: &Transition) -> Vec<usize> {
    t.effects
        .iter()
        .filter_map(|e| {
            if let Effect::StartIteration { index, .. } = e {
                Some(*index)
            } else {
                None
            }
        })
        .collect()
}

/// The snapshot a transition shares, if it shares one.
fn shared(t: &Transition) -> Option<Arc<ForEachSnapshot>> {
    t.effects.iter().find_map(|e| {
        if let Effect::ShareSnapshot { snapshot, .. } = e {
            Some(snapshot.clone())
        } else {
            None
        }
    })
}

fn ended(
    def: &Definition,
    inst: &Instance,
    ends: &[(usize, InstanceStatus)],
    knowledge: &Knowledge,
) -> Transition {
    let ends = ends
        .iter()
        .map(|&(index, status)| IterationEnd { index, status })
        .collect();
    apply_with(
        def,
        inst,
        Command::IterationsEnded {
            task: "each".into(),
            ends,
        },
        t0(),
        knowledge,
    )
    .expect("ends apply")
}

/// What the engine knows for a step of the parent: the run's snapshot, to start iterations from.
fn parent_knowledge(snapshot: &Arc<ForEachSnapshot>) -> Knowledge {
    let mut knowledge = Knowledge::default();
    knowledge
        .foreach_snapshots
        .insert("each".into(), snapshot.clone());
    knowledge
}

#[test]
fn an_iteration_end_delivered_twice_counts_once() {
    let def = process(2, END_BODY);
    let first = start(&def, json!({"items": items(3)}), &Knowledge::default());
    assert_eq!(started(&first), [0, 1]);
    let knowledge = parent_knowledge(&shared(&first).unwrap());

    let once = ended(
        &def,
        &first.instance,
        &[(0, InstanceStatus::Completed)],
        &knowledge,
    );
    assert_eq!(started(&once), [2], "the end made room for the last item");
    let twice = ended(
        &def,
        &once.instance,
        &[(0, InstanceStatus::Completed)],
        &knowledge,
    );
    assert_eq!(twice.events, [], "the second delivery changes nothing");
    assert_eq!(twice.effects, []);
    assert_eq!(
        twice.instance.tasks[0].foreach,
        once.instance.tasks[0].foreach
    );

    // Duplicates inside one batch, and an index that never started, count nothing either.
    let rest = ended(
        &def,
        &twice.instance,
        &[
            (1, InstanceStatus::Completed),
            (1, InstanceStatus::Failed),
            (9, InstanceStatus::Failed),
            (2, InstanceStatus::Completed),
        ],
        &knowledge,
    );
    let progress = rest.instance.tasks[0].foreach.clone().unwrap();
    assert_eq!(
        (progress.completed, progress.failed, progress.running),
        (3, 0, 0)
    );
    assert_eq!(rest.instance.tasks[0].status, TaskStatus::EndedOk);
    assert_eq!(rest.instance.status, InstanceStatus::Completed);
    let recorded: Vec<&EventKind> = rest
        .events
        .iter()
        .map(|e| &e.kind)
        .filter(|k| matches!(k, EventKind::IterationsEnded { .. }))
        .collect();
    assert_eq!(
        recorded,
        [&EventKind::IterationsEnded {
            completed: 2,
            not_completed: vec![]
        }]
    );
}

#[test]
fn a_foreach_over_more_items_than_the_limit_ends_not_ok_naming_the_limit() {
    let def = process(10, END_BODY);
    let knowledge = Knowledge {
        max_foreach_items: 3,
        ..Knowledge::default()
    };
    let over = start(&def, json!({"items": items(4)}), &knowledge);
    let task = &over.instance.tasks[0];
    assert_eq!(task.status, TaskStatus::EndedNotOk);
    assert_eq!(
        task.reason,
        Some(Reason::TooManyItems { count: 4, limit: 3 })
    );
    assert_eq!(
        task.reason.as_ref().unwrap().to_string(),
        "`items` gave 4 items, more than the ForEach item limit of 3"
    );
    assert_eq!(
        over.instance.status,
        InstanceStatus::Blocked,
        "its successor waits for an operator (else: block)"
    );
    assert_eq!(started(&over), Vec::<usize>::new());
    assert_eq!(shared(&over), None, "nothing is stored for a refused list");

    let at_limit = start(&def, json!({"items": items(3)}), &knowledge);
    assert_eq!(started(&at_limit), [0, 1, 2]);
}

#[test]
fn a_step_starts_at_most_a_batch_of_iterations_and_a_timer_due_now_starts_the_next() {
    let batch = baton_core::FOREACH_LAUNCH_BATCH;
    let def = process(10 * batch, END_BODY);
    let total = 2 * batch + 7;
    let first = start(&def, json!({"items": items(total)}), &Knowledge::default());
    assert_eq!(started(&first), (0..batch).collect::<Vec<_>>());
    let launch_timer = |t: &Transition| {
        t.effects.iter().any(|e| matches!(e, Effect::SetTimer { key, due_at, command: Command::TimerFired { timer: TimerKind::LaunchIterations, .. } } if key == "each/launch_iterations" && *due_at == t0()))
    };
    assert!(launch_timer(&first));
    let started_events: Vec<&EventKind> = first
        .events
        .iter()
        .map(|e| &e.kind)
        .filter(|k| matches!(k, EventKind::IterationsStarted { .. }))
        .collect();
    assert_eq!(
        started_events,
        [&EventKind::IterationsStarted {
            first: 0,
            count: batch
        }],
        "one event for the batch"
    );

    let knowledge = parent_knowledge(&shared(&first).unwrap());
    let fire = |inst: &Instance| {
        apply_with(
            &def,
            inst,
            Command::TimerFired {
                task: "each".into(),
                timer: TimerKind::LaunchIterations,
            },
            t0(),
            &knowledge,
        )
        .unwrap()
    };
    let second = fire(&first.instance);
    assert_eq!(started(&second), (batch..2 * batch).collect::<Vec<_>>());
    assert!(launch_timer(&second));
    let third = fire(&second.instance);
    assert_eq!(started(&third), (2 * batch..total).collect::<Vec<_>>());
    assert!(!launch_timer(&third), "everything started: no timer");
    let progress = third.instance.tasks[0].foreach.clone().unwrap();
    assert_eq!(
        (
            progress.next,
            progress.running,
            progress.open.iter().count()
        ),
        (total, total, 1)
    );
}

#[test]
fn an_iteration_reads_its_parents_data_through_the_snapshot_and_keeps_only_its_own_writes() {
    let body = "      - id: greet\n        kind: set\n        set: {greeting: \"data.prefix + item\", n: \"data.n + index\"}\n";
    let def = process(1, body);
    let parent = start(
        &def,
        json!({"items": items(2), "prefix": "loading ", "n": 40}),
        &Knowledge::default(),
    );
    let snapshot = shared(&parent).expect("the run shares a snapshot");
    assert_eq!(
        snapshot.data, parent.instance.data,
        "the parent's data when the task started"
    );
    assert_eq!(snapshot.items, items(2).as_array().unwrap().clone());

    let body_def = def.body("fan/each").unwrap();
    let knowledge = Knowledge {
        iteration_data: Some(snapshot),
        ..Knowledge::default()
    };
    let link = ParentLink::iteration("parent", "each", 1);
    let child = start_iteration(
        &body_def,
        "child-1".into(),
        Placement::linked(link.clone()),
        json!("file-1.csv"),
        1,
        t0(),
        &knowledge,
    );
    assert_eq!(child.instance.status, InstanceStatus::Completed);
    assert_eq!(
        Value::Object(child.instance.data.clone()),
        json!({"greeting": "loading file-1.csv", "n": 41}),
        "its own writes, no copy of the rest"
    );
    assert!(
        matches!(&child.events[0].kind, EventKind::InstanceStarted { data, .. } if data.is_empty()),
        "history holds no copy either"
    );
    assert_eq!(
        child.instance.iteration.as_ref().and_then(|it| it.snapshot),
        Some(1)
    );
}

#[test]
fn a_parent_stored_with_its_item_list_goes_on_and_moves_the_list_into_a_snapshot() {
    let def = process(1, END_BODY);
    let new = start(
        &def,
        json!({"items": items(3), "prefix": "p"}),
        &Knowledge::default(),
    );
    // The state as an older Baton stored it: the list and the finished indices in the parent.
    let mut stored = serde_json::to_value(&new.instance).unwrap();
    stored["tasks"][0]["foreach"] = json!({"items": items(3), "next": 1, "running": 1, "completed": 0, "failed": 0, "finished": []});
    let old: Instance = serde_json::from_value(stored).expect("the old format reads");

    let step = ended(
        &def,
        &old,
        &[(0, InstanceStatus::Completed)],
        &Knowledge::default(),
    );
    let snapshot = shared(&step).expect("the list moves into a snapshot");
    assert_eq!(snapshot.items, items(3).as_array().unwrap().clone());
    assert_eq!(snapshot.data, old.data);
    let starts: Vec<(usize, Value)> = step
        .effects
        .iter()
        .filter_map(|e| {
            if let Effect::StartIteration { index, item, .. } = e {
                Some((*index, item.clone()))
            } else {
                None
            }
        })
        .collect();
    assert_eq!(starts, [(1, json!("file-1.csv"))]);
    let state = serde_json::to_value(&step.instance).unwrap();
    assert_eq!(
        state["tasks"][0]["foreach"],
        json!({"total": 3, "next": 2, "running": 1, "completed": 1, "failed": 0, "open": [[1, 2]]}),
        "counters only from now on"
    );
}

#[test]
fn an_iteration_stored_with_a_copy_of_the_data_reads_its_copy() {
    let body = "      - id: greet\n        kind: set\n        earliest_start: +1h\n        set: {greeting: \"data.prefix + item\"}\n";
    let def = process(1, body);
    let body_def = def.body("fan/each").unwrap();
    let link = ParentLink::iteration("parent", "each", 0);
    let waiting = start_iteration(
        &body_def,
        "child-0".into(),
        Placement::linked(link.clone()),
        json!("a.csv"),
        1,
        t0(),
        &Knowledge::default(),
    );
    // As an older Baton stored it: a copy of the data and no snapshot named.
    let mut stored = serde_json::to_value(&waiting.instance).unwrap();
    stored["data"] = json!({"items": ["a.csv"], "prefix": "copied ", "greeting": null, "n": 0});
    stored["iteration"] = json!({"index": 0, "item": "a.csv"});
    let old: Instance = serde_json::from_value(stored).unwrap();

    let later = t0() + chrono::Duration::hours(1);
    let fired = apply_with(
        &body_def,
        &old,
        Command::TimerFired {
            task: "greet".into(),
            timer: TimerKind::EarliestStart,
        },
        later,
        &Knowledge::default(),
    )
    .unwrap();
    assert_eq!(fired.instance.status, InstanceStatus::Completed);
    assert_eq!(fired.instance.data["greeting"], json!("copied a.csv"));
}
