//! What happens while and after a task runs (seed 004, "Processes After the Task is
//! Generated"), one test per rule: the maximum runtime on a durable timer and its actions,
//! the minimum runtime checked at the end, postconditions evaluated once after the end, and
//! the runtimes recorded for the learned expected runtime.

mod support;

use std::time::Duration as StdDuration;

use baton_core::{
    Command, Effect, EventKind, InstanceStatus, JobOutcome, Reason, TaskStatus, TimerKind,
    TransitionError,
};
use serde_json::json;
use support::*;

fn max_runtime_fired(task: &str, attempt: u32) -> Command {
    Command::TimerFired {
        task: task.into(),
        timer: TimerKind::MaxRuntime { attempt },
    }
}

fn secs(n: u64) -> StdDuration {
    StdDuration::from_secs(n)
}

/// `slow` has a 10 minute maximum runtime with `action`; `side` runs beside it, `next` follows
/// it whatever its end, and `page_ops` is on demand.
fn watched(action: &str) -> (Flow, baton_core::Transition) {
    Flow::start(&[
        "id: p",
        "tasks:",
        &job("slow"),
        &format!("    max_runtime: {{after: 10m, action: {action}}}"),
        &job("side"),
        &job("next"),
        "    after: [{task: slow, status: any_end}]",
        &on_demand("page_ops"),
    ])
}

fn exceeded(action: &str) -> Reason {
    Reason::MaxRuntimeExceeded {
        limit_ms: 600_000,
        action: action.into(),
    }
}

// ---------------------------------------------------------------------------------------
// Maximum runtime

#[test]
fn max_runtime_cancel_stops_the_job_and_the_workflow_goes_on() {
    let (mut flow, tr) = watched("cancel");
    assert_eq!(dispatched(&tr), ["slow", "side"]);
    assert_eq!(
        tr.effects
            .iter()
            .find(|e| matches!(e, Effect::SetTimer { .. })),
        Some(&Effect::SetTimer {
            key: "slow/max_runtime".into(),
            due_at: t0() + mins(10),
            command: Command::TimerFired {
                task: "slow".into(),
                timer: TimerKind::MaxRuntime { attempt: 1 }
            },
        })
    );

    // Not yet at 9:59.
    assert!(flow
        .run_until(t0() + mins(10) - chrono::Duration::seconds(1))
        .is_empty());
    let fired = flow.run_until(t0() + mins(10));
    assert_eq!(fired.len(), 1);
    assert_eq!(canceled(&fired[0]), [("slow", 1)], "the job is stopped");
    assert_eq!(flow.status("slow"), TaskStatus::Canceled);
    assert_eq!(flow.reason("slow"), Some(exceeded("cancel")));
    // "The following Workflow tasks are processed as usual."
    assert_eq!(dispatched(&fired[0]), ["next"]);
    assert_eq!(
        flow.status("side").name(),
        "running",
        "a task beside it is not touched"
    );

    // The stopped job's report comes later and is refused as stale.
    let late = Command::JobFinished {
        task: "slow".into(),
        attempt: 1,
        outcome: JobOutcome::TimedOut {
            after_ms: 600_000,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
        },
    };
    assert_eq!(
        flow.try_apply(late).unwrap_err(),
        TransitionError::StaleJobResult {
            task: "slow".into(),
            attempt: 1
        }
    );
    flow.exit("side", 0);
    flow.exit("next", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);

    // A bare duration means cancel.
    let (mut flow, _) = Flow::start(&["id: p", "tasks:", &job("slow"), "    max_runtime: 1h"]);
    let fired = flow.run_until(t0() + mins(60));
    assert_eq!(canceled(&fired[0]), [("slow", 1)]);
    assert_eq!(
        flow.reason("slow"),
        Some(Reason::MaxRuntimeExceeded {
            limit_ms: 3_600_000,
            action: "cancel".into()
        })
    );
}

#[test]
fn max_runtime_end_with_status() {
    let (mut flow, _) = watched("{end: ended_ok}");
    let fired = flow.run_until(t0() + mins(10));
    assert_eq!(canceled(&fired[0]), [("slow", 1)]);
    assert_eq!(flow.status("slow"), TaskStatus::EndedOk);
    assert_eq!(flow.reason("slow"), Some(exceeded("end ended_ok")));
    assert_eq!(dispatched(&fired[0]), ["next"]);

    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("slow"),
        "    max_runtime: {after: 10m, action: {end: ended_not_ok}}",
        &job_after("report", "slow"),
    ]);
    let fired = flow.run_until(t0() + mins(10));
    assert_eq!(canceled(&fired[0]), [("slow", 1)]);
    assert_eq!(flow.status("slow"), TaskStatus::EndedNotOk);
    assert_eq!(flow.reason("slow"), Some(exceeded("end ended_not_ok")));
    assert_eq!(
        flow.status("report"),
        TaskStatus::Blocked,
        "its successor expected it to end OK"
    );
}

#[test]
fn max_runtime_alert_only_records() {
    let (mut flow, _) = watched("alert");
    let fired = flow.run_until(t0() + mins(30));
    assert_eq!(fired.len(), 1);
    assert!(canceled(&fired[0]).is_empty() && dispatched(&fired[0]).is_empty());
    assert_eq!(alerts(&fired[0].events, "slow"), [&exceeded("alert")]);
    assert!(fired[0].events.iter().all(|e| !matches!(
        e.kind,
        EventKind::TaskStatusChanged { .. } | EventKind::InstanceStatusChanged { .. }
    )));
    assert_eq!(
        flow.status("slow"),
        TaskStatus::Running {
            attempt: 1,
            since: t0()
        }
    );
    // The job goes on and ends as usual.
    let tr = flow.exit_after("slow", 0, secs(1800), None);
    assert_eq!(flow.status("slow"), TaskStatus::EndedOk);
    assert_eq!(dispatched(&tr), ["next"]);
}

#[test]
fn max_runtime_run_starts_another_task() {
    let (mut flow, _) = watched("{run: page_ops}");
    let fired = flow.run_until(t0() + mins(10));
    assert_eq!(dispatched(&fired[0]), ["page_ops"]);
    assert!(canceled(&fired[0]).is_empty(), "the long job keeps running");
    assert_eq!(alerts(&fired[0].events, "slow"), [&exceeded("run")]);
    assert_eq!(flow.status("slow").name(), "running");
    assert!(
        task_events(&fired[0].events, "page_ops").contains(&&EventKind::TaskStatusChanged {
            to: TaskStatus::WaitingForPredecessor,
            reason: Some(Reason::Triggered {
                by: "slow".into(),
                via: "max_runtime".into()
            })
        })
    );
    flow.exit("page_ops", 0);
    flow.exit("slow", 0);
    flow.exit("side", 0);
    flow.exit("next", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
}

#[test]
fn a_stale_max_runtime_timer_changes_nothing() {
    // The job ended before its maximum runtime; the timer is delivered anyway.
    let (mut flow, _) = watched("cancel");
    flow.wait(mins(2));
    flow.exit("slow", 0);
    let before = flow.inst.clone();
    flow.wait(mins(8));
    let tr = flow.apply(max_runtime_fired("slow", 1));
    assert!(
        tr.events.is_empty() && tr.effects.is_empty(),
        "{:?} {:?}",
        tr.events,
        tr.effects
    );
    assert_eq!(flow.inst.tasks, before.tasks);
    assert_eq!(flow.inst.status, before.status);

    // The timer of an earlier attempt does not touch the attempt running now.
    let (mut flow, _) = watched("cancel");
    flow.wait(mins(1));
    flow.apply(Command::RedispatchJob {
        task: "slow".into(),
        attempt: 1,
    });
    assert_eq!(flow.attempt("slow"), 2);
    assert_eq!(
        flow.timer_due("slow/max_runtime"),
        Some(t0() + mins(11)),
        "the new attempt has its own timer"
    );
    flow.wait(mins(9));
    let tr = flow.apply(max_runtime_fired("slow", 1));
    assert!(tr.events.is_empty() && tr.effects.is_empty());
    assert_eq!(flow.attempt("slow"), 2);
    let fired = flow.run_until(t0() + mins(11));
    assert_eq!(canceled(&fired[0]), [("slow", 2)]);

    // Timers of a task that is not waiting for them, or of an unknown task.
    let tr = flow.apply(Command::TimerFired {
        task: "next".into(),
        timer: TimerKind::EarliestStart,
    });
    assert!(tr.effects.is_empty() && tr.events.iter().all(|e| e.task.is_none()));
    assert_eq!(
        flow.try_apply(max_runtime_fired("ghost", 1)).unwrap_err(),
        TransitionError::UnknownTask("ghost".into())
    );
}

// ---------------------------------------------------------------------------------------
// Minimum runtime

#[test]
fn min_runtime_not_met_ends_not_ok() {
    let lines = [
        "id: p",
        "data:",
        "  rows: integer",
        "tasks:",
        &job("load"),
        "    min_runtime: 1m",
        &job_after("report", "load"),
    ];

    let (mut flow, _) = Flow::start(&lines);
    let tr = flow.exit_after("load", 0, secs(10), Some(json!({"rows": 0})));
    assert_eq!(flow.status("load"), TaskStatus::EndedNotOk);
    assert_eq!(
        flow.reason("load"),
        Some(Reason::MinRuntimeNotMet {
            ran_ms: 10_000,
            limit_ms: 60_000,
            action: "end ended_not_ok".into()
        })
    );
    assert_eq!(
        flow.inst.data["rows"],
        json!(null),
        "the output of a run that did not count is not merged"
    );
    assert!(dispatched(&tr).is_empty());
    assert_eq!(flow.status("report"), TaskStatus::Blocked);

    // Long enough: as usual.
    let (mut flow, _) = Flow::start(&lines);
    let tr = flow.exit_after("load", 0, secs(60), Some(json!({"rows": 5})));
    assert_eq!(flow.status("load"), TaskStatus::EndedOk);
    assert_eq!(dispatched(&tr), ["report"]);

    // A failed run is a failure, whatever its runtime.
    let (mut flow, _) = Flow::start(&lines);
    flow.exit_after("load", 2, secs(1), None);
    assert_eq!(flow.reason("load"), Some(Reason::Exited { code: 2 }));

    // Other actions: alert records and lets the task end OK; run starts another task.
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("load"),
        "    min_runtime: {after: 1m, action: alert}",
    ]);
    let tr = flow.exit_after("load", 0, secs(5), None);
    assert_eq!(flow.status("load"), TaskStatus::EndedOk);
    assert_eq!(
        alerts(&tr.events, "load"),
        [&Reason::MinRuntimeNotMet {
            ran_ms: 5_000,
            limit_ms: 60_000,
            action: "alert".into()
        }]
    );
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("load"),
        "    min_runtime: {after: 1m, action: {run: check}}",
        &on_demand("check"),
    ]);
    let tr = flow.exit_after("load", 0, secs(5), None);
    assert_eq!(flow.status("load"), TaskStatus::EndedOk);
    assert_eq!(dispatched(&tr), ["check"]);
}

// ---------------------------------------------------------------------------------------
// Postconditions

#[test]
fn postconditions_are_evaluated_once_after_the_end() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "data:",
        "  rows: integer",
        "tasks:",
        &job("load"),
        "    postconditions:",
        "      - {if: \"task.status == 'ended_ok' && data.rows > 0\", then: continue, else: {run: notify}}",
        "      - {if: \"task.duration_ms >= 120000\", then: alert}",
        &job("side"),
        &on_demand("notify"),
    ]);
    assert!(
        flow.history
            .iter()
            .all(|e| !matches!(e.kind, EventKind::PostconditionEvaluated { .. })),
        "not before the end"
    );
    flow.wait(mins(2));
    let tr = flow.exit_after("load", 0, secs(120), Some(json!({"rows": 0})));
    // Both were evaluated, in order, against the ended task and the data its output wrote.
    let evaluated: Vec<_> = task_events(&tr.events, "load")
        .into_iter()
        .filter_map(|e| match e {
            EventKind::PostconditionEvaluated {
                condition,
                held,
                action,
            } => Some((condition.as_str(), *held, action.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        evaluated,
        [
            ("task.status == 'ended_ok' && data.rows > 0", false, "run"),
            ("task.duration_ms >= 120000", true, "alert")
        ]
    );
    assert_eq!(dispatched(&tr), ["notify"]);
    assert_eq!(flow.status("load"), TaskStatus::EndedOk);

    // Later steps do not evaluate them again.
    flow.exit("side", 0);
    flow.exit("notify", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
    let count = flow
        .history
        .iter()
        .filter(|e| matches!(e.kind, EventKind::PostconditionEvaluated { .. }))
        .count();
    assert_eq!(count, 2);

    // A postcondition that cannot be evaluated ends the task not OK.
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("load"),
        "    postconditions: [{if: data.missing > 1, then: alert}]",
    ]);
    flow.exit("load", 0);
    assert_eq!(flow.status("load"), TaskStatus::EndedNotOk);
    assert_eq!(rule(&flow.reason("load")), "expression_failed");
}

#[test]
fn a_task_skipped_by_its_dependency_else_action_still_runs_its_postconditions() {
    // Automic: "the task is skipped but its postconditions are executed".
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        &job("cleanup"),
        "    after:",
        "      - {task: extract, status: ended_not_ok}",
        "    dependencies: {else: {run: notify}}",
        "    postconditions: [{if: \"task.status == 'ended_skipped'\", then: alert}]",
        &on_demand("notify"),
    ]);
    let tr = flow.exit("extract", 0);
    assert_eq!(flow.status("cleanup"), TaskStatus::EndedSkipped);
    let evaluated: Vec<_> = task_events(&tr.events, "cleanup")
        .into_iter()
        .filter_map(|e| match e {
            EventKind::PostconditionEvaluated {
                condition,
                held,
                action,
            } => Some((condition.as_str(), *held, action.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        evaluated,
        [("task.status == 'ended_skipped'", true, "alert")]
    );
    assert_eq!(
        dispatched(&tr),
        ["notify"],
        "the else action's task runs after the postconditions"
    );

    // A precondition's skip is not a dependency's: no postconditions there.
    let (flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("gate"),
        "    preconditions: {conditions: [{when: \"false\", else: skip}]}",
        "    postconditions: [{if: \"true\", then: alert}]",
    ]);
    assert_eq!(flow.status("gate"), TaskStatus::EndedSkipped);
    assert!(flow
        .history
        .iter()
        .all(|e| !matches!(e.kind, EventKind::PostconditionEvaluated { .. })));
}

#[test]
fn tasks_that_keep_running_each_other_stop_at_the_run_limit_until_an_operator_retries() {
    // The data keeps the loop going (each end is OK), so deploy cannot refuse it.
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("a"),
        "    max_runs: 3",
        "    postconditions: [{if: \"task.status == 'ended_ok'\", then: {run: b}}]",
        &on_demand("b"),
        "    postconditions: [{if: \"task.status == 'ended_ok'\", then: {run: a}}]",
    ]);
    for run in 1..=3 {
        assert_eq!((flow.task("a").runs, flow.attempt("a")), (run, run));
        flow.exit("a", 0);
        let tr = flow.exit("b", 0);
        if run < 3 {
            assert_eq!(dispatched(&tr), ["a"]);
        } else {
            // The fourth run of `a` is not started: blocked, and the driver is told.
            assert_eq!(dispatched(&tr), Vec::<&str>::new());
            let reached: Vec<_> = tr
                .effects
                .iter()
                .filter(|e| matches!(e, Effect::RunLimitReached { .. }))
                .collect();
            assert_eq!(
                reached,
                [&Effect::RunLimitReached {
                    task: "a".into(),
                    limit: 3
                }]
            );
        }
    }
    assert_eq!(flow.status("a"), TaskStatus::Blocked);
    assert_eq!(flow.reason("a"), Some(Reason::RunLimit { limit: 3 }));
    assert_eq!(flow.inst.status, InstanceStatus::Blocked);
    assert_eq!(flow.task("a").attempts, 3);

    // An operator's retry gives the limit a fresh count.
    let tr = flow.apply(Command::RetryTask {
        task: "a".into(),
        by: "ops".into(),
    });
    assert_eq!(dispatched(&tr), ["a"]);
    assert_eq!((flow.task("a").runs, flow.attempt("a")), (1, 4));
    // `b` has no limit of its own set: the default, 100, is far off.
    assert_eq!(flow.task("b").runs, 3);
}

#[test]
fn postcondition_restart_reruns_the_task_up_to_max_restarts() {
    let lines = [
        "id: p",
        "tasks:",
        &job("flaky"),
        "    max_restarts: 2",
        "    postconditions: [{if: \"task.status == 'ended_not_ok'\", then: restart}]",
        &job_after("report", "flaky"),
    ];
    let (mut flow, _) = Flow::start(&lines);
    let tr = flow.exit("flaky", 1);
    assert_eq!(
        run_jobs(&tr)
            .iter()
            .map(|j| (j.task.as_str(), j.attempt))
            .collect::<Vec<_>>(),
        [("flaky", 2)]
    );
    assert_eq!(flow.task("flaky").restarts, 1);
    let tr = flow.exit("flaky", 1);
    assert_eq!(
        run_jobs(&tr)
            .iter()
            .map(|j| (j.task.as_str(), j.attempt))
            .collect::<Vec<_>>(),
        [("flaky", 3)]
    );
    // Two restarts were allowed; the third failure stays.
    let tr = flow.exit("flaky", 1);
    assert!(dispatched(&tr).is_empty());
    assert_eq!(flow.status("flaky"), TaskStatus::EndedNotOk);
    assert_eq!(flow.task("flaky").restarts, 2);
    assert_eq!(
        alerts(&tr.events, "flaky"),
        [&Reason::Postcondition {
            condition: "task.status == 'ended_not_ok' (restart limit 2 reached)".into(),
            action: "continue".into()
        }]
    );
    assert_eq!(flow.status("report"), TaskStatus::Blocked);
    assert_eq!(
        status_trail(&flow.history, "flaky"),
        [
            "running",
            "ended_not_ok",
            "waiting_for_predecessor",
            "running",
            "ended_not_ok",
            "waiting_for_predecessor",
            "running",
            "ended_not_ok"
        ]
    );

    // A restart that succeeds lets the workflow go on.
    let (mut flow, _) = Flow::start(&lines);
    flow.exit("flaky", 1);
    let tr = flow.exit("flaky", 0);
    assert_eq!(dispatched(&tr), ["report"]);
    flow.exit("report", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
}

#[test]
fn postcondition_abort_aborts_the_workflow() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "data:",
        "  rows: integer",
        "tasks:",
        &job("extract"),
        "    postconditions: [{if: data.rows > 0, else: abort}]",
        &job("side"),
        &job_after("load", "extract"),
    ]);
    let tr = flow.exit_after("extract", 0, secs(3), Some(json!({"rows": 0})));
    let why = Reason::Postcondition {
        condition: "data.rows > 0".into(),
        action: "abort".into(),
    };
    assert_eq!(flow.inst.status, InstanceStatus::Aborted);
    assert_eq!(
        instance_status_events(&tr.events),
        [(InstanceStatus::Aborted, Some(why))]
    );
    assert_eq!(canceled(&tr), [("side", 1)]);
    assert!(dispatched(&tr).is_empty());
    assert_eq!(
        flow.statuses(),
        [
            ("extract", "ended_ok"),
            ("side", "canceled"),
            ("load", "canceled")
        ]
    );
}

#[test]
fn postcondition_can_change_the_task_status() {
    // A known, harmless exit code is turned into success.
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("sync"),
        "    postconditions: [{if: task.exit_code == 3, then: {end: ended_ok}}]",
        &job_after("report", "sync"),
    ]);
    let tr = flow.exit("sync", 3);
    assert_eq!(flow.status("sync"), TaskStatus::EndedOk);
    assert_eq!(
        flow.reason("sync"),
        Some(Reason::Postcondition {
            condition: "task.exit_code == 3".into(),
            action: "end ended_ok".into()
        })
    );
    assert_eq!(dispatched(&tr), ["report"]);

    // A success that produced nothing is turned into a failure.
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "data:",
        "  rows: integer",
        "tasks:",
        &job("load"),
        "    postconditions: [{if: data.rows == 0, then: {end: ended_not_ok}}]",
    ]);
    flow.exit_after("load", 0, secs(1), Some(json!({"rows": 0})));
    assert_eq!(flow.status("load"), TaskStatus::EndedNotOk);
    assert_eq!(flow.inst.status, InstanceStatus::Failed);
    assert_eq!(
        instance_status_events(&flow.history).last(),
        Some(&(
            InstanceStatus::Failed,
            Some(Reason::Postcondition {
                condition: "data.rows == 0".into(),
                action: "end ended_not_ok".into()
            })
        ))
    );

    // Or the task is blocked for an operator.
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("load"),
        "    postconditions: [{if: \"true\", then: block}]",
    ]);
    flow.exit("load", 0);
    assert_eq!(flow.status("load"), TaskStatus::Blocked);
    assert_eq!(flow.inst.status, InstanceStatus::Blocked);
}

#[test]
fn postconditions_are_not_checked_for_ended_inactive() {
    let post =
        "    postconditions: [{if: \"task.status == 'ended_inactive'\", then: abort, else: abort}]";
    let weekend = calendar(&["calendar: weekend", "include:", "  - weekdays: [sat, sun]"]);
    let (mut flow, tr) = Flow::start_full(
        &[
            "id: p",
            "tasks:",
            &job("off"),
            "    active: false",
            post,
            &job("weekend_only"),
            "    calendar: weekend",
            post,
            &on_demand("spare"),
            post,
            &job("main"),
        ],
        json!({}),
        t0(),
        knowledge(&[weekend], &[]),
    );
    assert_eq!(flow.status("off"), TaskStatus::EndedInactive);
    assert_eq!(flow.status("weekend_only"), TaskStatus::EndedInactive);
    assert_eq!(dispatched(&tr), ["main"]);
    flow.exit("main", 0);
    assert_eq!(flow.status("spare"), TaskStatus::EndedInactive);
    assert_eq!(
        flow.inst.status,
        InstanceStatus::Completed,
        "no postcondition aborted it"
    );
    assert!(flow
        .history
        .iter()
        .all(|e| !matches!(e.kind, EventKind::PostconditionEvaluated { .. })));
}

#[test]
fn max_runtime_timer_is_cleared_when_the_job_ends() {
    let lines = [
        "id: p",
        "tasks:",
        &job("load"),
        "    max_runtime: 10m",
        &job("plain"),
    ];
    let ends = [
        JobOutcome::Exited {
            code: 0,
            output: None,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            duration_ms: 1000,
        },
        JobOutcome::Exited {
            code: 1,
            output: None,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            duration_ms: 1000,
        },
        JobOutcome::TimedOut {
            after_ms: 1000,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
        },
        JobOutcome::CouldNotStart {
            message: "no such file".into(),
        },
    ];
    for outcome in ends {
        let (mut flow, _) = Flow::start(&lines);
        assert_eq!(flow.timer_due("load/max_runtime"), Some(t0() + mins(10)));
        let what = format!("{outcome:?}");
        let tr = flow.apply(Command::JobFinished {
            task: "load".into(),
            attempt: 1,
            outcome,
        });
        assert_eq!(timers_cleared(&tr), ["load/max_runtime"], "{what}");
        assert!(flow.timers.is_empty(), "{what}");
        // A job without a maximum runtime has no timer to clear.
        let tr = flow.exit("plain", 0);
        assert!(timers_cleared(&tr).is_empty());
    }

    // Aborting the instance clears it too.
    let (mut flow, _) = Flow::start(&lines);
    let tr = flow.apply(Command::Abort {
        by: "ops".into(),
        abort_parent: false,
    });
    assert_eq!(timers_cleared(&tr), ["load/max_runtime"]);
    assert!(flow.timers.is_empty());
}

#[test]
fn record_runtime_is_emitted_for_successful_jobs() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "data:",
        "  n: integer",
        "tasks:",
        &job("ok"),
        &job("fails"),
        &job("hangs"),
        "  - id: compute",
        "    kind: set",
        "    set: {n: \"1\"}",
    ]);
    let records = |tr: &baton_core::Transition| {
        tr.effects
            .iter()
            .filter(|e| matches!(e, Effect::RecordRuntime { .. }))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(
        flow.history
            .iter()
            .any(|e| e.task.as_deref() == Some("compute")),
        "the set task ran"
    );
    let tr = flow.exit_after("ok", 0, StdDuration::from_millis(4321), None);
    assert_eq!(
        records(&tr),
        [Effect::RecordRuntime {
            task: "ok".into(),
            duration_ms: 4321
        }]
    );
    let tr = flow.exit_after("fails", 1, secs(2), None);
    assert!(
        records(&tr).is_empty(),
        "a failed run says nothing about the usual runtime"
    );
    let tr = flow.apply(Command::JobFinished {
        task: "hangs".into(),
        attempt: 1,
        outcome: JobOutcome::TimedOut {
            after_ms: 9000,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
        },
    });
    assert!(records(&tr).is_empty());
    assert!(flow.inst.status.is_terminal());

    // Exit code 0 is not enough: a run that fell short of its minimum runtime, or whose output
    // has the wrong type, did not end OK and does not count either.
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "data:",
        "  n: integer",
        "tasks:",
        &job("short"),
        "    min_runtime: 1m",
        &job("garbled"),
        &job("alerted"),
        "    min_runtime: {after: 1m, action: alert}",
    ]);
    let tr = flow.exit_after("short", 0, secs(5), None);
    assert_eq!(flow.status("short"), TaskStatus::EndedNotOk);
    assert!(records(&tr).is_empty(), "{:?}", tr.effects);
    let tr = flow.exit_after("garbled", 0, secs(5), Some(json!({"n": "many"})));
    assert_eq!(
        flow.reason("garbled"),
        Some(Reason::TypeMismatch {
            variable: "n".into(),
            expected: "integer".into(),
            found: "string".into()
        })
    );
    assert!(records(&tr).is_empty(), "{:?}", tr.effects);
    // Only alerted about, the short run ended OK and counts.
    let tr = flow.exit_after("alerted", 0, secs(5), None);
    assert_eq!(flow.status("alerted"), TaskStatus::EndedOk);
    assert_eq!(
        records(&tr),
        [Effect::RecordRuntime {
            task: "alerted".into(),
            duration_ms: 5000
        }]
    );
}
