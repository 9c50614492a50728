//! The task lifecycle table (`baton_core::lifecycle`): its rows hold each edge once, name every
//! status and cause, and the README's "Task lifecycle" section is the table's.

mod support;

use std::collections::BTreeSet;

use baton_core::lifecycle::{self, Cause};
use baton_core::status::TaskStatusKind as K;
use baton_core::{Reason, TaskStatus};
use support::t0;

#[test]
fn no_edge_is_written_twice_in_the_table() {
    let mut seen = BTreeSet::new();
    for edge in lifecycle::edges() {
        assert!(seen.insert(edge), "{edge} is in two rows");
    }
}

#[test]
fn every_status_and_every_cause_has_a_place_in_the_table() {
    for status in K::ALL {
        assert!(lifecycle::edges().any(|e| e.from == status || e.to == status), "{status} is in no edge");
    }
    for cause in Cause::ALL {
        assert!(lifecycle::edges().any(|e| e.cause == cause), "{cause} is in no edge");
    }
}

/// Nothing leaves `ended_ok` but an action or a postcondition of the task's own, or the
/// deletion of its human task: no operator retries it, and the instance's end leaves it.
#[test]
fn an_ended_ok_task_moves_only_by_its_own_rules() {
    let causes: BTreeSet<Cause> = lifecycle::edges().filter(|e| e.from == K::EndedOk).map(|e| e.cause).collect();
    assert_eq!(causes, BTreeSet::from([Cause::Postcondition, Cause::Triggered, Cause::Delete]));
}

#[test]
fn the_readme_lists_the_task_lifecycle_as_the_table_has_it() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).expect("the README");
    let (begin, end) = ("<!-- lifecycle table: generated from crates/core/src/lifecycle.rs -->\n", "<!-- end of lifecycle table -->");
    let start = readme.find(begin).map(|i| i + begin.len()).expect("the README has the lifecycle section's markers");
    let stop = readme[start..].find(end).map(|i| start + i).expect("the end marker");
    let expected = lifecycle::markdown();
    assert!(readme[start..stop] == expected, "the README's task lifecycle differs from the table; replace the text between the markers with:\n{expected}");
}

#[test]
fn the_cause_of_a_change_is_read_from_its_status_and_reason() {
    let retry = Reason::Operator { action: "retry".into(), by: "olivia".into() };
    assert_eq!(Cause::of(&TaskStatus::WaitingForPredecessor, Some(&retry)), Some(Cause::Retry));
    assert_eq!(Cause::of(&TaskStatus::WaitingForPredecessor, None), Some(Cause::PredecessorRetried));
    let not_met = Reason::PreconditionNotMet { condition: "data.go".into(), action: "wait".into() };
    assert_eq!(Cause::of(&TaskStatus::WaitingForPrecondition { next_check: t0() }, Some(&not_met)), Some(Cause::PreconditionPending));
    assert_eq!(Cause::of(&TaskStatus::EndedSkipped, Some(&not_met)), Some(Cause::ElseAction));
    let post = Reason::ExpressionFailed { field: "postconditions[0].if".into(), message: "no such key".into() };
    assert_eq!(Cause::of(&TaskStatus::EndedNotOk, Some(&post)), Some(Cause::Postcondition));
    let set = Reason::ExpressionFailed { field: "set.x".into(), message: "no such key".into() };
    assert_eq!(Cause::of(&TaskStatus::EndedNotOk, Some(&set)), Some(Cause::Failed));
    // Reasons that only waiting tasks, instances and history events carry are no cause.
    assert_eq!(Cause::of(&TaskStatus::Running { attempt: 2, since: t0() }, Some(&Reason::EngineRestarted)), None);
    assert_eq!(Cause::of(&TaskStatus::Blocked, None), None);
}

#[test]
fn a_change_the_table_does_not_hold_is_named_with_its_edge() {
    let skip = Reason::Operator { action: "skip".into(), by: "olivia".into() };
    let refused = lifecycle::edge(&TaskStatus::EndedOk, &TaskStatus::EndedSkipped, Some(&skip)).unwrap_err();
    assert_eq!(refused.to_string(), "the task lifecycle has no edge ended_ok --skip--> ended_skipped");
}
