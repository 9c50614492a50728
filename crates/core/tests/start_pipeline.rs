//! Automic's start pipeline (seed 004, "Processes until the Task Starts"), one test per rule:
//! breakpoint, calendar, earliest start, active flag, preconditions, dependencies with their
//! else actions, latest start / latest end with the expected runtime, prompt sets and
//! generation at activation or at runtime. Time is injected; timers are fired the way the
//! engine fires them, at their due time.

mod support;

use std::time::Duration as StdDuration;

use baton_core::{
    Command, EventKind, InstanceStatus, Reason, TaskStatus, TimerKind, TransitionError,
};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use support::*;

fn breakpoint(task: &str, enabled: bool) -> Command {
    Command::SetBreakpoint {
        task: task.into(),
        enabled,
        by: "ops".into(),
    }
}

fn input(task: &str, values: Value) -> Command {
    Command::ProvideInput {
        task: task.into(),
        values: object(values),
        by: "ops".into(),
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

// ---------------------------------------------------------------------------------------
// The order

/// The task `t` with a control at every stage: the stages before `first_stop` let it through,
/// the stage `first_stop` and every later one would stop it.
fn staged(first_stop: usize) -> Vec<String> {
    let stop = |stage: usize| stage >= first_stop;
    let pick = |stage: usize, stopping: &str, passing: &str| {
        if stop(stage) {
            stopping.to_owned()
        } else {
            passing.to_owned()
        }
    };
    vec![
        "id: p".into(),
        "data:".into(),
        "  who: string".into(),
        "tasks:".into(),
        "  - id: pre".into(),
        "    kind: end".into(),
        "  - id: t".into(),
        "    kind: job".into(),
        "    command: ./t.sh".into(),
        pick(0, "    breakpoint: true", "    breakpoint: false"),
        pick(1, "    calendar: never", "    calendar: always"),
        pick(
            2,
            "    earliest_start: \"2030-01-01T00:00:00Z\"",
            "    earliest_start: \"2000-01-01T00:00:00Z\"",
        ),
        pick(3, "    active: false", "    active: true"),
        pick(
            4,
            "    preconditions: {check_interval: 5m, conditions: [{when: \"false\", else: wait}]}",
            "    preconditions: {conditions: [{when: \"true\"}]}",
        ),
        pick(
            5,
            "    after: [{task: pre, status: ended_not_ok}]",
            "    after: [pre]",
        ),
        "    dependencies: {else: skip}".into(),
        pick(
            6,
            "    latest_end: \"2000-01-01T00:00:00Z\"",
            "    latest_end: \"2100-01-01T00:00:00Z\"",
        ),
        "    prompts: [{name: who}]".into(),
    ]
}

#[test]
fn the_pipeline_checks_run_in_the_seed_order() {
    let calendars = || {
        knowledge(
            &[
                calendar(&["calendar: never", "include:", "  - dates: [1999-01-01]"]),
                calendar(&["calendar: always"]),
            ],
            &[],
        )
    };
    // Every later check would stop the task too; the first one in the seed's order wins.
    let expected = [
        ("blocked", "breakpoint"),
        ("ended_inactive", "not_in_calendar"),
        ("waiting_for_start_time", "earliest_start"),
        ("ended_inactive", "inactive"),
        ("waiting_for_precondition", "precondition_not_met"),
        ("ended_skipped", "dependency_not_met"),
        ("ended_timeout", "would_end_too_late"),
        ("waiting_for_user_input", "waiting_for_input"),
        ("running", "-"),
    ];
    for (first_stop, (status, why)) in expected.into_iter().enumerate() {
        let lines = staged(first_stop);
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        // The prompt's value is given at start once the prompts stage passes.
        let data = if first_stop > 7 {
            json!({"who": "ops"})
        } else {
            json!({})
        };
        let (flow, tr) = Flow::start_full(&lines, data, t0(), calendars());
        assert_eq!(
            (flow.status("t").name(), rule(&flow.reason("t")).as_str()),
            (status, why),
            "with every check from stage {first_stop} on stopping the task"
        );
        assert_eq!(
            dispatched(&tr) == ["t"],
            status == "running",
            "only a task through the whole pipeline runs"
        );
    }

    // One instance walks through the stages that wait, and each resumes at the next stage.
    let (mut flow, _) = Flow::start_full(
        &[
            "id: p",
            "data:",
            "  who: string",
            "tasks:",
            "  - id: t",
            "    kind: job",
            "    command: ./t.sh",
            "    breakpoint: true",
            "    earliest_start: +1h",
            "    preconditions:",
            "      check_interval: 10m",
            "      conditions:",
            "        - when: now >= timestamp('2024-03-01T13:25:00Z')",
            "    prompts: [{name: who}]",
        ],
        json!({}),
        t0(),
        knowledge(&[], &[]),
    );
    assert_eq!(flow.status("t"), TaskStatus::Blocked);
    flow.wait(mins(5));
    flow.apply(breakpoint("t", false));
    assert_eq!(
        flow.status("t"),
        TaskStatus::WaitingForStartTime {
            until: t0() + mins(60)
        }
    );
    flow.run_until(t0() + mins(60));
    assert_eq!(
        flow.status("t"),
        TaskStatus::WaitingForPrecondition {
            next_check: t0() + mins(70)
        }
    );
    flow.run_until(t0() + mins(90));
    assert_eq!(
        flow.status("t"),
        TaskStatus::WaitingForUserInput,
        "the precondition held at the 13:30 check"
    );
    let tr = flow.apply(input("t", json!({"who": "ops"})));
    assert_eq!(dispatched(&tr), ["t"]);
    assert_eq!(
        status_trail(&flow.history, "t"),
        [
            "blocked",
            "waiting_for_start_time",
            "waiting_for_precondition",
            "waiting_for_precondition",
            "waiting_for_precondition",
            "waiting_for_user_input",
            "running"
        ]
    );
    assert!(
        flow.timers.is_empty(),
        "no timer is left behind: {:?}",
        flow.timers
    );
}

// ---------------------------------------------------------------------------------------
// Breakpoints

#[test]
fn a_breakpoint_blocks_the_workflow_until_it_is_cleared() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("a"),
        &job_after("b", "a"),
        "    breakpoint: true",
        &job_after("c", "b"),
    ]);
    let tr = flow.exit("a", 0);
    assert!(dispatched(&tr).is_empty(), "b stops at its breakpoint");
    assert_eq!(flow.status("b"), TaskStatus::Blocked);
    assert_eq!(flow.reason("b"), Some(Reason::Breakpoint));
    assert_eq!(flow.status("c"), TaskStatus::WaitingForPredecessor);
    assert_eq!(flow.inst.status, InstanceStatus::Blocked);
    assert_eq!(
        instance_status_events(&tr.events),
        [(InstanceStatus::Blocked, Some(Reason::Breakpoint))]
    );

    // Other commands leave it where it is.
    flow.wait(mins(30));
    assert!(flow.run_until(t0() + mins(60)).is_empty());
    assert_eq!(flow.status("b"), TaskStatus::Blocked);

    let tr = flow.apply(breakpoint("b", false));
    assert_eq!(dispatched(&tr), ["b"]);
    assert_eq!(
        task_events(&tr.events, "b")[0],
        &EventKind::BreakpointChanged {
            enabled: false,
            by: "ops".into()
        }
    );
    assert_eq!(flow.inst.status, InstanceStatus::Running);
    flow.exit("b", 0);
    flow.exit("c", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
}

#[test]
fn a_breakpoint_can_be_set_on_a_running_instance() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("a"),
        &job_after("b", "a"),
        &job_after("c", "b"),
        "    breakpoint: true",
    ]);
    // Set on b while a runs; the definition's breakpoint on c is cleared before c's turn.
    let tr = flow.apply(breakpoint("b", true));
    assert_eq!(
        task_events(&tr.events, "b"),
        [&EventKind::BreakpointChanged {
            enabled: true,
            by: "ops".into()
        }]
    );
    assert_eq!(
        flow.status("b"),
        TaskStatus::WaitingForPredecessor,
        "setting a breakpoint does not move the task"
    );
    flow.apply(breakpoint("c", false));
    assert_eq!(flow.task("b").breakpoint, Some(true));
    assert_eq!(flow.task("c").breakpoint, Some(false));

    flow.exit("a", 0);
    assert_eq!(flow.status("b"), TaskStatus::Blocked);
    assert_eq!(flow.reason("b"), Some(Reason::Breakpoint));
    assert_eq!(flow.inst.status, InstanceStatus::Blocked);

    let tr = flow.apply(breakpoint("b", false));
    assert_eq!(dispatched(&tr), ["b"]);
    let tr = flow.exit("b", 0);
    assert_eq!(
        dispatched(&tr),
        ["c"],
        "c's breakpoint from the definition was cleared while the instance ran"
    );

    assert_eq!(
        flow.try_apply(breakpoint("nope", true)).unwrap_err(),
        TransitionError::UnknownTask("nope".into())
    );
    flow.exit("c", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
    assert!(matches!(
        flow.try_apply(breakpoint("a", true)),
        Err(TransitionError::InstanceEnded(InstanceStatus::Completed))
    ));
}

// ---------------------------------------------------------------------------------------
// Calendars

fn weekend() -> std::sync::Arc<baton_core::calendar::Calendar> {
    calendar(&["calendar: weekend", "include:", "  - weekdays: [sat, sun]"])
}

fn business_days() -> std::sync::Arc<baton_core::calendar::Calendar> {
    calendar(&[
        "calendar: business-days",
        "include:",
        "  - weekdays: [mon, tue, wed, thu, fri]",
        "exclude:",
        "  - dates: [2024-12-25]",
    ])
}

#[test]
fn a_task_outside_its_calendar_ends_inactive_without_running() {
    // t0 is a Friday.
    let (mut flow, tr) = Flow::start_full(
        &[
            "id: p",
            "tasks:",
            &job("weekly_cleanup"),
            "    calendar: weekend",
            &job("either"),
            "    calendar: [weekend, business-days]",
            &job_after("report", "weekly_cleanup"),
        ],
        json!({}),
        t0(),
        knowledge(&[weekend(), business_days()], &[]),
    );
    assert_eq!(flow.status("weekly_cleanup"), TaskStatus::EndedInactive);
    assert_eq!(
        flow.reason("weekly_cleanup"),
        Some(Reason::NotInCalendar {
            calendars: vec!["weekend".into()],
            day: "2024-03-01".into()
        })
    );
    assert!(task_events(&tr.events, "weekly_cleanup")
        .iter()
        .all(|e| !matches!(e, EventKind::JobDispatched { .. })));
    assert_eq!(flow.task("weekly_cleanup").attempts, 0, "it never ran");
    // A day of any of its calendars is enough; an inactive predecessor counts as OK.
    assert_eq!(dispatched(&tr), ["either", "report"]);
    flow.exit("either", 0);
    flow.exit("report", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);

    // On a Saturday the same task runs.
    let saturday = Utc.with_ymd_and_hms(2024, 3, 2, 9, 0, 0).unwrap();
    let (_, tr) = Flow::start_full(
        &[
            "id: p",
            "tasks:",
            &job("weekly_cleanup"),
            "    calendar: weekend",
        ],
        json!({}),
        saturday,
        knowledge(&[weekend()], &[]),
    );
    assert_eq!(dispatched(&tr), ["weekly_cleanup"]);
}

#[test]
fn calendar_days_are_read_in_the_calendar_time_zone() {
    let tokyo = calendar(&[
        "calendar: tokyo-mondays",
        "timezone: Asia/Tokyo",
        "include:",
        "  - weekdays: [mon]",
    ]);
    let utc = calendar(&["calendar: utc-mondays", "include:", "  - weekdays: [mon]"]);
    // Sunday 23:30 UTC is Monday 08:30 in Tokyo.
    let sunday_night = Utc.with_ymd_and_hms(2024, 3, 3, 23, 30, 0).unwrap();
    let (flow, tr) = Flow::start_full(
        &[
            "id: p",
            "tasks:",
            &job("tokyo"),
            "    calendar: tokyo-mondays",
            &job("london"),
            "    calendar: utc-mondays",
        ],
        json!({}),
        sunday_night,
        knowledge(&[tokyo.clone(), utc.clone()], &[]),
    );
    assert_eq!(dispatched(&tr), ["tokyo"]);
    assert_eq!(flow.status("london"), TaskStatus::EndedInactive);
    assert_eq!(
        flow.reason("london"),
        Some(Reason::NotInCalendar {
            calendars: vec!["utc-mondays".into()],
            day: "2024-03-03".into()
        })
    );

    // Monday 16:00 UTC is already Tuesday 01:00 in Tokyo.
    let monday_evening = Utc.with_ymd_and_hms(2024, 3, 4, 16, 0, 0).unwrap();
    let (flow, tr) = Flow::start_full(
        &[
            "id: p",
            "tasks:",
            &job("tokyo"),
            "    calendar: tokyo-mondays",
            &job("london"),
            "    calendar: utc-mondays",
        ],
        json!({}),
        monday_evening,
        knowledge(&[tokyo, utc], &[]),
    );
    assert_eq!(dispatched(&tr), ["london"]);
    assert_eq!(
        flow.reason("tokyo"),
        Some(Reason::NotInCalendar {
            calendars: vec!["tokyo-mondays".into()],
            day: "2024-03-05".into()
        })
    );
}

#[test]
fn an_unknown_calendar_ends_the_task_not_ok() {
    let (flow, tr) = Flow::start_full(
        &[
            "id: p",
            "tasks:",
            &job("load"),
            "    calendar: [weekend, holidays]",
            &job_after("report", "load"),
        ],
        json!({}),
        t0(),
        knowledge(&[weekend()], &[]),
    );
    assert!(dispatched(&tr).is_empty());
    assert_eq!(flow.status("load"), TaskStatus::EndedNotOk);
    assert_eq!(
        flow.reason("load"),
        Some(Reason::UnknownCalendar {
            calendar: "holidays".into()
        })
    );
    assert_eq!(
        flow.reason("load").unwrap().to_string(),
        "calendar `holidays` is not deployed"
    );
    // Its successor expects it to end OK: the default else blocks it.
    assert_eq!(flow.status("report"), TaskStatus::Blocked);

    // A calendar that refers to one that is not deployed fails the same way, naming the missing one.
    let office = calendar(&[
        "calendar: office",
        "include:",
        "  - calendar: business-days",
    ]);
    let (flow, _) = Flow::start_full(
        &["id: p", "tasks:", &job("load"), "    calendar: office"],
        json!({}),
        t0(),
        knowledge(&[office], &[]),
    );
    assert_eq!(flow.status("load"), TaskStatus::EndedNotOk);
    assert_eq!(flow.inst.status, InstanceStatus::Failed);
    assert_eq!(rule(&flow.reason("load")), "unknown_calendar");
    assert_eq!(
        flow.reason("load"),
        Some(Reason::UnknownCalendar {
            calendar: "business-days".into()
        })
    );

    // Calendars that refer to each other in a cycle cannot say whether a day is in them.
    let a = calendar(&["calendar: a", "include:", "  - calendar: b"]);
    let b = calendar(&["calendar: b", "include:", "  - calendar: a"]);
    let (flow, _) = Flow::start_full(
        &["id: p", "tasks:", &job("load"), "    calendar: a"],
        json!({}),
        t0(),
        knowledge(&[a, b], &[]),
    );
    assert_eq!(flow.status("load"), TaskStatus::EndedNotOk);
    assert_eq!(rule(&flow.reason("load")), "calendar_problem");
    let shown = flow.reason("load").unwrap().to_string();
    assert!(shown.contains("a -> b -> a"), "{shown}");
}

// ---------------------------------------------------------------------------------------
// Earliest start

#[test]
fn earliest_start_waits_on_a_durable_timer() {
    let berlin = calendar(&["calendar: berlin", "timezone: Europe/Berlin"]);
    let lines = [
        "id: p",
        "tasks:",
        &job("nightly"),
        "    calendar: berlin",
        "    earliest_start: today 22:00",
        &job_after("report", "nightly"),
    ];
    // 12:00 UTC is 13:00 in Berlin; 22:00 in Berlin is 21:00 UTC.
    let due = Utc.with_ymd_and_hms(2024, 3, 1, 21, 0, 0).unwrap();
    let (mut flow, tr) = Flow::start_full(
        &lines,
        json!({}),
        t0(),
        knowledge(std::slice::from_ref(&berlin), &[]),
    );
    assert!(dispatched(&tr).is_empty());
    assert_eq!(
        flow.status("nightly"),
        TaskStatus::WaitingForStartTime { until: due }
    );
    assert_eq!(
        flow.reason("nightly"),
        Some(Reason::EarliestStart { at: due })
    );
    assert_eq!(flow.inst.status, InstanceStatus::Waiting);
    assert_eq!(
        instance_status_events(&tr.events).last(),
        Some(&(
            InstanceStatus::Waiting,
            Some(Reason::EarliestStart { at: due })
        ))
    );
    assert_eq!(
        tr.effects,
        [baton_core::Effect::SetTimer {
            key: "nightly/earliest_start".into(),
            due_at: due,
            command: Command::TimerFired {
                task: "nightly".into(),
                timer: TimerKind::EarliestStart
            },
        }]
    );

    // Nothing happens a second early; at the due time the timer lets it run.
    assert!(flow
        .run_until(due - chrono::Duration::seconds(1))
        .is_empty());
    assert_eq!(
        flow.status("nightly"),
        TaskStatus::WaitingForStartTime { until: due }
    );
    let fired = flow.run_until(due);
    assert_eq!(dispatched_all(&fired), ["nightly"]);
    assert_eq!(
        flow.status("nightly"),
        TaskStatus::Running {
            attempt: 1,
            since: due
        }
    );
    assert!(flow.timers.is_empty());
    // A timer delivered again (at-least-once) changes nothing.
    let again = flow.apply(Command::TimerFired {
        task: "nightly".into(),
        timer: TimerKind::EarliestStart,
    });
    assert!(
        again.effects.is_empty() && again.events.iter().all(|e| e.task.is_none()),
        "{:?}",
        again.events
    );
    let tr = flow.exit("nightly", 0);
    assert_eq!(dispatched(&tr), ["report"]);

    // "today" is the day of activation in the zone: 23:30 UTC is already the next day in Berlin.
    let late = Utc.with_ymd_and_hms(2024, 3, 1, 23, 30, 0).unwrap();
    let (flow, _) = Flow::start_full(&lines, json!({}), late, knowledge(&[berlin], &[]));
    assert_eq!(
        flow.timer_due("nightly/earliest_start"),
        Some(Utc.with_ymd_and_hms(2024, 3, 2, 21, 0, 0).unwrap())
    );

    // The task's own time zone; and a start time already passed does not wait.
    let ny = [
        "id: p",
        "tasks:",
        &job("nightly"),
        "    timezone: America/New_York",
        "    earliest_start: today 22:00",
    ];
    let (flow, _) = Flow::start_full(&ny, json!({}), t0(), knowledge(&[], &[]));
    assert_eq!(
        flow.timer_due("nightly/earliest_start"),
        Some(at("2024-03-02T03:00:00Z")),
        "22:00 EST is 03:00 UTC"
    );
    let (_, tr) = Flow::start_full(
        &[
            "id: p",
            "tasks:",
            &job("nightly"),
            "    earliest_start: \"06:00\"",
        ],
        json!({}),
        t0(),
        knowledge(&[], &[]),
    );
    assert_eq!(dispatched(&tr), ["nightly"]);
    assert!(timers_set(&tr).is_empty());

    // An operator who skips the waiting task removes its timer.
    let (mut flow, _) = Flow::start_full(
        &lines,
        json!({}),
        t0(),
        knowledge(
            &[calendar(&["calendar: berlin", "timezone: Europe/Berlin"])],
            &[],
        ),
    );
    let tr = flow.apply(Command::SkipTask {
        task: "nightly".into(),
        by: "ops".into(),
    });
    assert_eq!(timers_cleared(&tr), ["nightly/earliest_start"]);
    assert_eq!(dispatched(&tr), ["report"]);
    assert!(flow.timers.is_empty());
}

// ---------------------------------------------------------------------------------------
// Active flag

#[test]
fn inactive_tasks_end_inactive_and_successors_continue() {
    let (mut flow, tr) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        &job_after("archive", "extract"),
        "    active: false",
        &job_after("report", "archive"),
    ]);
    assert_eq!(dispatched(&tr), ["extract"]);
    let tr = flow.exit("extract", 0);
    assert_eq!(flow.status("archive"), TaskStatus::EndedInactive);
    assert_eq!(flow.reason("archive"), Some(Reason::Inactive));
    assert_eq!(flow.task("archive").attempts, 0);
    assert_eq!(
        dispatched(&tr),
        ["report"],
        "ended_inactive satisfies any_ok"
    );
    flow.exit("report", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
    assert_eq!(status_trail(&flow.history, "archive"), ["ended_inactive"]);
}

// ---------------------------------------------------------------------------------------
// Preconditions

#[test]
fn preconditions_wait_and_are_rechecked_every_check_interval() {
    let (mut flow, tr) = Flow::start(&[
        "id: p",
        "data:",
        "  ready: {type: boolean, default: false}",
        "tasks:",
        &job("feed"),
        &job("load"),
        "    preconditions:",
        "      check_interval: 5m",
        "      conditions:",
        "        - {when: data.ready, else: wait}",
    ]);
    assert_eq!(dispatched(&tr), ["feed"]);
    assert_eq!(
        flow.status("load"),
        TaskStatus::WaitingForPrecondition {
            next_check: t0() + mins(5)
        }
    );
    assert_eq!(
        flow.reason("load"),
        Some(Reason::PreconditionNotMet {
            condition: "data.ready".into(),
            action: "wait".into()
        })
    );
    assert_eq!(
        timers_set(&tr),
        [("load/precondition_check", t0() + mins(5))]
    );
    assert_eq!(
        flow.inst.status,
        InstanceStatus::Running,
        "feed runs meanwhile"
    );

    // Checked again at +5m: still not ready; the next check is another interval later.
    let fired = flow.run_until(t0() + mins(5));
    assert_eq!(
        timers_set(&fired[0]),
        [("load/precondition_check", t0() + mins(10))]
    );
    assert_eq!(
        flow.status("load"),
        TaskStatus::WaitingForPrecondition {
            next_check: t0() + mins(10)
        }
    );

    // The data changes at +7m, but the precondition is only read at the next check.
    flow.wait(mins(2));
    let tr = flow.exit_after(
        "feed",
        0,
        StdDuration::from_secs(420),
        Some(json!({"ready": true})),
    );
    assert!(dispatched(&tr).is_empty());
    assert_eq!(flow.inst.status, InstanceStatus::Waiting);
    let fired = flow.run_until(t0() + mins(20));
    assert_eq!(fired.len(), 1, "one check at +10m, then no more timers");
    assert_eq!(dispatched_all(&fired), ["load"]);
    assert_eq!(
        flow.status("load"),
        TaskStatus::Running {
            attempt: 1,
            since: t0() + mins(10)
        }
    );
    assert!(flow.timers.is_empty());

    // Without `check_interval`, conditions are checked every minute.
    let (flow, tr) = Flow::start(&[
        "id: p",
        "data:",
        "  ready: boolean",
        "tasks:",
        &job("load"),
        "    preconditions: [{when: data.ready == true}]",
    ]);
    assert_eq!(
        timers_set(&tr),
        [("load/precondition_check", t0() + mins(1))]
    );
    assert_eq!(flow.status("load").name(), "waiting_for_precondition");
}

fn guarded(otherwise: &str) -> (Flow, baton_core::Transition) {
    Flow::start_with(
        &[
            "id: p",
            "data:",
            "  go: {type: boolean, default: false}",
            "tasks:",
            &job("side"),
            &job("t"),
            &format!("    preconditions: [{{when: data.go, else: {otherwise}}}]"),
            &job_after("next", "t"),
            &on_demand("fallback"),
        ],
        json!({}),
    )
}

#[test]
fn precondition_else_skip_block_abort_and_run() {
    let why = |action: &str| {
        Some(Reason::PreconditionNotMet {
            condition: "data.go".into(),
            action: action.into(),
        })
    };

    // skip: the task ends skipped and the workflow goes on.
    let (flow, tr) = guarded("skip");
    assert_eq!(flow.status("t"), TaskStatus::EndedSkipped);
    assert_eq!(flow.reason("t"), why("skip"));
    assert_eq!(dispatched(&tr), ["side", "next"]);

    // block: the task and the workflow are blocked until an operator acts.
    let (mut flow, tr) = guarded("block");
    assert_eq!(flow.status("t"), TaskStatus::Blocked);
    assert_eq!(flow.reason("t"), why("block"));
    assert_eq!(dispatched(&tr), ["side"]);
    flow.exit("side", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Blocked);
    assert_eq!(
        instance_status_events(&flow.history).last(),
        Some(&(InstanceStatus::Blocked, why("block")))
    );
    assert!(
        flow.timers.is_empty(),
        "a block is no wait: nothing re-checks it"
    );

    // abort: the workflow ends aborted; the running job is stopped.
    let (flow, tr) = guarded("abort");
    assert_eq!(flow.inst.status, InstanceStatus::Aborted);
    assert_eq!(
        instance_status_events(&tr.events).last(),
        Some(&(InstanceStatus::Aborted, why("abort")))
    );
    assert_eq!(canceled(&tr), [("side", 1)]);
    assert_eq!(flow.status("t"), TaskStatus::Canceled);
    assert_eq!(flow.status("next"), TaskStatus::Canceled);

    // run: the task is skipped and the on-demand task starts; the successors go on.
    let (mut flow, tr) = guarded("{run: fallback}");
    assert_eq!(flow.status("t"), TaskStatus::EndedSkipped);
    assert_eq!(flow.reason("t"), why("run"));
    assert_eq!(dispatched(&tr), ["side", "fallback", "next"]);
    assert_eq!(flow.reason("fallback"), None);
    assert!(
        task_events(&tr.events, "fallback").contains(&&EventKind::TaskStatusChanged {
            to: TaskStatus::WaitingForPredecessor,
            reason: Some(Reason::Triggered {
                by: "t".into(),
                via: "else".into()
            })
        })
    );
    for task in ["side", "next", "fallback"] {
        flow.exit(task, 0);
    }
    assert_eq!(flow.inst.status, InstanceStatus::Completed);

    // When the condition holds, none of this happens.
    let (flow, tr) = Flow::start_with(
        &[
            "id: p",
            "data:",
            "  go: boolean",
            "tasks:",
            &job("t"),
            "    preconditions: [{when: data.go, else: abort}]",
        ],
        json!({"go": true}),
    );
    assert_eq!(dispatched(&tr), ["t"]);
    assert_eq!(flow.inst.status, InstanceStatus::Running);
}

#[test]
fn waiting_preconditions_end_timeout_once_the_latest_start_passed() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "data:",
        "  ready: {type: boolean, default: false}",
        "tasks:",
        &job("load"),
        "    latest_start: +12m",
        "    preconditions: {check_interval: 5m, conditions: [{when: data.ready}]}",
        &job_after("report", "load"),
        "    dependencies: {else: skip}",
    ]);
    flow.run_until(t0() + mins(10));
    // Checked at +5m and +10m; the next check is just after the latest start, not a whole
    // interval later.
    let just_after = t0() + mins(12) + chrono::Duration::milliseconds(1);
    assert_eq!(
        flow.status("load"),
        TaskStatus::WaitingForPrecondition {
            next_check: just_after
        }
    );

    // The check after the latest start ends the waiting.
    let fired = flow.run_until(just_after);
    assert_eq!(fired.len(), 1);
    assert_eq!(flow.status("load"), TaskStatus::EndedTimeout);
    assert_eq!(
        flow.reason("load"),
        Some(Reason::LatestStartPassed {
            latest_start: t0() + mins(12)
        })
    );
    assert_eq!(flow.task("load").attempts, 0);
    assert!(
        timers_set(&fired[0]).is_empty() && flow.timers.is_empty(),
        "no further check"
    );
    // ended_timeout is not OK: the successor's else (skip) applies, and the instance ends.
    assert_eq!(flow.status("report"), TaskStatus::EndedSkipped);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);

    // A latest start that passed before the first check ends the task at once.
    let (flow, tr) = Flow::start(&[
        "id: p",
        "data:",
        "  ready: {type: boolean, default: false}",
        "tasks:",
        &job("load"),
        "    latest_start: \"2024-03-01T11:00:00Z\"",
        "    preconditions: [{when: data.ready}]",
    ]);
    assert_eq!(flow.status("load"), TaskStatus::EndedTimeout);
    assert!(timers_set(&tr).is_empty());
}

// ---------------------------------------------------------------------------------------
// Dependencies

#[test]
fn dependency_else_run_starts_the_on_demand_task() {
    let (mut flow, tr) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        &job("load"),
        "    after: [{task: extract, status: ended_ok}]",
        "    dependencies: {else: {run: repair}}",
        &job_after("report", "load"),
        &on_demand("repair"),
    ]);
    // An on-demand task waits for an action to start it, and does not keep the instance open.
    assert_eq!(dispatched(&tr), ["extract"]);
    assert_eq!(flow.status("repair"), TaskStatus::WaitingForPredecessor);

    let tr = flow.exit("extract", 4);
    assert_eq!(flow.status("load"), TaskStatus::EndedSkipped);
    assert_eq!(
        flow.reason("load"),
        Some(Reason::DependencyNotMet {
            task: "extract".into(),
            status: "ended_not_ok".into(),
            expected: "ended_ok".into(),
            action: "run".into()
        })
    );
    assert_eq!(dispatched(&tr), ["report", "repair"]);
    assert!(flow.task("repair").triggered);
    assert!(
        task_events(&tr.events, "repair").contains(&&EventKind::TaskStatusChanged {
            to: TaskStatus::WaitingForPredecessor,
            reason: Some(Reason::Triggered {
                by: "load".into(),
                via: "else".into()
            })
        })
    );
    flow.exit("report", 0);
    assert_eq!(
        flow.inst.status,
        InstanceStatus::Running,
        "the started task is waited for"
    );
    flow.exit("repair", 0);
    assert_eq!(flow.status("repair"), TaskStatus::EndedOk);
    assert!(flow.inst.status.is_terminal());

    // When the dependency holds the on-demand task never runs.
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        &job_after("load", "extract"),
        "    dependencies: {else: {run: repair}}",
        &on_demand("repair"),
    ]);
    flow.exit("extract", 0);
    let tr = flow.exit("load", 0);
    assert!(dispatched(&tr).is_empty());
    assert_eq!(
        flow.statuses(),
        [
            ("extract", "ended_ok"),
            ("load", "ended_ok"),
            ("repair", "ended_inactive")
        ]
    );
    assert_eq!(flow.inst.status, InstanceStatus::Completed);

    // A task that is under way is left alone (an alert says so), also one that is not on
    // demand: it is not dispatched a second time beside its running attempt.
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("side"),
        &job("extract"),
        &job_after("load", "extract"),
        "    dependencies: {else: {run: side}}",
    ]);
    let tr = flow.exit("extract", 1);
    assert!(dispatched(&tr).is_empty(), "{:?}", tr.effects);
    assert_eq!(
        flow.status("side"),
        TaskStatus::Running {
            attempt: 1,
            since: t0()
        }
    );
    assert_eq!(
        alerts(&tr.events, "side"),
        [&Reason::Triggered {
            by: "load".into(),
            via: "else".into()
        }]
    );
    flow.exit("side", 0);
    assert_eq!(flow.status("side"), TaskStatus::EndedOk);
}

// ---------------------------------------------------------------------------------------
// Latest start / latest end

fn late_flow(on_timeout: Option<&str>) -> Flow {
    let mut lines = vec![
        "id: p".to_owned(),
        "tasks:".to_owned(),
        job("extract"),
        job_after("load", "extract"),
        "    latest_start: +30m".into(),
    ];
    if let Some(action) = on_timeout {
        lines.push(format!("    on_timeout: {action}"));
    }
    lines.push(job("side"));
    lines.push(on_demand("page_ops"));
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (flow, _) = Flow::start(&lines);
    flow
}

#[test]
fn latest_start_passed_ends_timeout_and_on_timeout_applies() {
    let why = Some(Reason::LatestStartPassed {
        latest_start: t0() + mins(30),
    });

    // In time: the task starts.
    let mut flow = late_flow(None);
    flow.wait(mins(29));
    let tr = flow.exit("extract", 0);
    assert_eq!(dispatched(&tr), ["load"]);

    // Too late (default `continue`): ended_timeout without running.
    let mut flow = late_flow(None);
    flow.wait(mins(45));
    let tr = flow.exit("extract", 0);
    assert!(dispatched(&tr).is_empty());
    assert_eq!(flow.status("load"), TaskStatus::EndedTimeout);
    assert_eq!(flow.reason("load"), why);
    assert_eq!(
        flow.reason("load").unwrap().to_string(),
        "latest start 2024-03-01T12:30:00+00:00 has passed"
    );
    flow.exit("side", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);

    // block: the task is blocked (not ended) and the workflow with it.
    let mut flow = late_flow(Some("block"));
    flow.wait(mins(45));
    flow.exit("extract", 0);
    assert_eq!(flow.status("load"), TaskStatus::Blocked);
    assert_eq!(flow.reason("load"), why);
    flow.exit("side", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Blocked);

    // abort: the task ends ended_timeout and the workflow is aborted.
    let mut flow = late_flow(Some("abort"));
    flow.wait(mins(45));
    let tr = flow.exit("extract", 0);
    assert_eq!(flow.status("load"), TaskStatus::EndedTimeout);
    assert_eq!(flow.inst.status, InstanceStatus::Aborted);
    assert_eq!(
        instance_status_events(&tr.events).last(),
        Some(&(InstanceStatus::Aborted, why.clone()))
    );
    assert_eq!(canceled(&tr), [("side", 1)]);

    // run: the task ends ended_timeout and the on-demand task starts.
    let mut flow = late_flow(Some("{run: page_ops}"));
    flow.wait(mins(45));
    let tr = flow.exit("extract", 0);
    assert_eq!(flow.status("load"), TaskStatus::EndedTimeout);
    assert_eq!(dispatched(&tr), ["page_ops"]);
    assert!(flow.task("page_ops").triggered);
    assert!(
        task_events(&tr.events, "page_ops").contains(&&EventKind::TaskStatusChanged {
            to: TaskStatus::WaitingForPredecessor,
            reason: Some(Reason::Triggered {
                by: "load".into(),
                via: "on_timeout".into()
            })
        })
    );
}

#[test]
fn expected_runtime_past_latest_end_ends_timeout() {
    let lines = [
        "id: p",
        "tasks:",
        &job("extract"),
        &job_after("load", "extract"),
        "    latest_end: +1h",
        "    expected_runtime: 20m",
    ];
    let run = |ert: &[(&str, StdDuration)], extract_takes: i64| {
        let (mut flow, _) = Flow::start_full(&lines, json!({}), t0(), knowledge(&[], ert));
        flow.wait(mins(extract_takes));
        let tr = flow.exit("extract", 0);
        (flow, dispatched(&tr).len())
    };

    // The definition's ERT: starting at +30m it would end at +50m, in time.
    let (flow, started) = run(&[], 30);
    assert_eq!((started, flow.status("load").name()), (1, "running"));
    // Starting at +45m it would end at +65m, after the latest end: it does not run.
    let (flow, started) = run(&[], 45);
    assert_eq!(
        (started, flow.status("load")),
        (0, TaskStatus::EndedTimeout)
    );
    assert_eq!(
        flow.reason("load"),
        Some(Reason::WouldEndTooLate {
            expected_end: t0() + mins(65),
            latest_end: t0() + mins(60),
            expected_runtime_ms: 20 * 60_000
        })
    );

    // A learned ERT (the average of the last runs) overrides the definition's, both ways.
    let learned_long = [("load", StdDuration::from_secs(40 * 60))];
    let (flow, started) = run(&learned_long, 30);
    assert_eq!(
        (started, flow.status("load")),
        (0, TaskStatus::EndedTimeout)
    );
    assert_eq!(
        flow.reason("load"),
        Some(Reason::WouldEndTooLate {
            expected_end: t0() + mins(70),
            latest_end: t0() + mins(60),
            expected_runtime_ms: 40 * 60_000
        })
    );
    let learned_short = [("load", StdDuration::from_secs(5 * 60))];
    let (flow, started) = run(&learned_short, 45);
    assert_eq!((started, flow.status("load").name()), (1, "running"));
    // Another task's learned ERT does not count.
    let (_, started) = run(&[("extract", StdDuration::from_secs(5 * 60))], 45);
    assert_eq!(started, 0);

    // Without any ERT only the latest end itself counts.
    let bare = [
        "id: p",
        "tasks:",
        &job("extract"),
        &job_after("load", "extract"),
        "    latest_end: +1h",
    ];
    let (mut flow, _) = Flow::start(&bare);
    flow.wait(mins(59));
    assert_eq!(dispatched(&flow.exit("extract", 0)), ["load"]);
    let (mut flow, _) = Flow::start(&bare);
    flow.wait(mins(61));
    flow.exit("extract", 0);
    assert_eq!(flow.status("load"), TaskStatus::EndedTimeout);
}

// ---------------------------------------------------------------------------------------
// Prompt sets

const PROMPTED: &[&str] = &[
    "id: p",
    "data:",
    "  batch_date: string",
    "  region: string",
    "  retries: integer",
    "tasks:",
    "  - id: load",
    "    kind: job",
    "    command: ./load.sh",
    "    env:",
    "      DAY: data.batch_date",
    "      REGION: data.region",
    "    prompts:",
    "      - {name: batch_date, label: Which day to load?}",
    "      - {name: region, choices: [emea, apac]}",
    "      - {name: retries, required: false}",
    "  - id: report",
    "    kind: job",
    "    command: ./report.sh",
    "    after: [load]",
    "    prompts: [{name: region}]",
];

#[test]
fn prompts_wait_for_user_input_and_validate_types_and_choices() {
    let (mut flow, tr) = Flow::start(PROMPTED);
    assert!(dispatched(&tr).is_empty());
    assert_eq!(flow.status("load"), TaskStatus::WaitingForUserInput);
    let asked = Some(Reason::WaitingForInput {
        prompts: vec!["batch_date".into(), "region".into()],
    });
    assert_eq!(
        flow.reason("load"),
        asked,
        "the optional prompt is not asked for"
    );
    assert_eq!(flow.inst.status, InstanceStatus::Waiting);
    assert_eq!(
        instance_status_events(&tr.events).last(),
        Some(&(InstanceStatus::Waiting, asked))
    );

    let refused = |flow: &mut Flow, values: Value| match flow.try_apply(input("load", values)) {
        Err(TransitionError::InvalidData(problems)) => problems,
        other => panic!("expected invalid data, got {other:?}"),
    };
    assert_eq!(
        refused(&mut flow, json!({"batch_date": 20240301, "region": "mars"})),
        [
            "`batch_date` must be string, got integer",
            "`region` must be one of \"emea\", \"apac\""
        ]
    );
    assert_eq!(
        refused(&mut flow, json!({"region": "emea"})),
        ["`batch_date` is required (Which day to load?)"]
    );
    assert_eq!(
        refused(&mut flow, json!({"batch_date": null, "region": "emea"})),
        [
            "`batch_date` must be string, got null",
            "`batch_date` is required (Which day to load?)"
        ]
    );
    assert_eq!(
        refused(
            &mut flow,
            json!({"batch_date": "2024-03-01", "region": "emea", "colour": "red"})
        ),
        ["task `load` has no prompt `colour` (its prompts: batch_date, region, retries)"]
    );
    assert_eq!(
        refused(
            &mut flow,
            json!({"batch_date": "2024-03-01", "region": "emea", "retries": "3"})
        ),
        ["`retries` must be integer, got string"]
    );
    // Refusals changed nothing.
    assert_eq!(flow.status("load"), TaskStatus::WaitingForUserInput);
    assert_eq!(flow.inst.data["region"], Value::Null);
    assert_eq!(
        flow.try_apply(input("report", json!({"region": "emea"})))
            .unwrap_err(),
        TransitionError::NotWaitingForInput {
            task: "report".into(),
            status: "waiting_for_predecessor".into()
        }
    );

    let tr = flow.apply(input(
        "load",
        json!({"batch_date": "2024-03-01", "region": "apac"}),
    ));
    assert_eq!(flow.inst.data["batch_date"], json!("2024-03-01"));
    assert_eq!(flow.inst.data["region"], json!("apac"));
    assert_eq!(
        task_events(&tr.events, "load")[0],
        &EventKind::InputProvided {
            values: object(json!({"batch_date": "2024-03-01", "region": "apac"})),
            by: "ops".into()
        }
    );
    assert_eq!(
        env_of(&tr, "load"),
        [
            ("DAY".to_owned(), "2024-03-01".to_owned()),
            ("REGION".to_owned(), "apac".to_owned())
        ]
    );
    assert_eq!(flow.inst.status, InstanceStatus::Running);
}

#[test]
fn prompt_values_given_at_start_do_not_ask_again() {
    let (mut flow, tr) = Flow::start_with(
        PROMPTED,
        json!({"batch_date": "2024-03-01", "region": "emea"}),
    );
    assert_eq!(dispatched(&tr), ["load"]);
    assert!(task_events(&flow.history, "load").iter().all(|e| !matches!(
        e,
        EventKind::TaskStatusChanged {
            to: TaskStatus::WaitingForUserInput,
            ..
        }
    )));
    // `report` prompts for `region` too, which is in process data by now.
    let tr = flow.exit("load", 0);
    assert_eq!(dispatched(&tr), ["report"]);

    // Given in part, only the rest is asked for; a value given once is not asked again later.
    let (mut flow, _) = Flow::start_with(PROMPTED, json!({"region": "emea"}));
    assert_eq!(
        flow.reason("load"),
        Some(Reason::WaitingForInput {
            prompts: vec!["batch_date".into()]
        })
    );
    let tr = flow.apply(input("load", json!({"batch_date": "2024-03-02"})));
    assert_eq!(
        env_of(&tr, "load"),
        [
            ("DAY".to_owned(), "2024-03-02".to_owned()),
            ("REGION".to_owned(), "emea".to_owned())
        ]
    );
    let tr = flow.exit("load", 0);
    assert_eq!(dispatched(&tr), ["report"]);
}

// ---------------------------------------------------------------------------------------
// Generation

#[test]
fn generation_at_activation_uses_the_data_of_activation_time_and_at_runtime_the_data_of_start_time()
{
    let (mut flow, tr) = Flow::start(&[
        "id: p",
        "data:",
        "  target: {type: string, default: staging}",
        "tasks:",
        &job("prepare"),
        "  - id: switch",
        "    kind: set",
        "    after: [prepare]",
        "    set:",
        "      target: \"'production'\"",
        "  - id: early",
        "    kind: job",
        "    command: ./deploy.sh",
        "    after: [switch]",
        "    generate: activation",
        "    env:",
        "      TARGET: data.target",
        "      AT: string(now)",
        "  - id: late",
        "    kind: job",
        "    command: ./deploy.sh",
        "    after: [switch]",
        "    generate: runtime",
        "    env:",
        "      TARGET: data.target",
        "      AT: string(now)",
    ]);
    assert_eq!(dispatched(&tr), ["prepare"]);
    assert!(
        flow.task("early").generated.is_some(),
        "generated when the instance was activated"
    );
    assert!(flow.task("late").generated.is_none());

    flow.wait(mins(10));
    let tr = flow.exit("prepare", 0);
    assert_eq!(
        flow.inst.data["target"],
        json!("production"),
        "the set task changed the data before both jobs started"
    );
    assert_eq!(dispatched(&tr), ["early", "late"]);
    assert_eq!(
        env_of(&tr, "early"),
        [
            ("TARGET".to_owned(), "staging".to_owned()),
            ("AT".to_owned(), "2024-03-01T12:00:00Z".to_owned())
        ]
    );
    assert_eq!(
        env_of(&tr, "late"),
        [
            ("TARGET".to_owned(), "production".to_owned()),
            ("AT".to_owned(), "2024-03-01T12:10:00Z".to_owned())
        ]
    );
}

// ---------------------------------------------------------------------------------------
// On-demand tasks

#[test]
fn on_demand_tasks_that_never_ran_end_inactive_with_the_instance() {
    let (mut flow, tr) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        &on_demand("repair"),
        &job_after("audit", "extract"),
        "    on_demand: true",
    ]);
    assert_eq!(dispatched(&tr), ["extract"]);
    assert_eq!(flow.inst.status, InstanceStatus::Running);
    let tr = flow.exit("extract", 0);
    assert!(dispatched(&tr).is_empty(), "nothing started them");
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
    for task in ["repair", "audit"] {
        assert_eq!(flow.status(task), TaskStatus::EndedInactive, "{task}");
        assert_eq!(flow.reason(task), Some(Reason::NotTriggered), "{task}");
        assert_eq!(flow.task(task).attempts, 0, "{task}");
    }

    // Also when a terminating end task ends the instance.
    let (flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        "  - id: stop",
        "    kind: end",
        "    terminate: true",
        &on_demand("repair"),
    ]);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
    assert_eq!(flow.status("repair"), TaskStatus::EndedInactive);
    assert_eq!(flow.reason("repair"), Some(Reason::NotTriggered));

    // An aborted instance cancels them like any open task.
    let (mut flow, _) = Flow::start(&["id: p", "tasks:", &job("extract"), &on_demand("repair")]);
    flow.apply(Command::Abort {
        by: "ops".into(),
        abort_parent: false,
    });
    assert_eq!(flow.status("repair"), TaskStatus::Canceled);
}

#[test]
fn actions_that_start_each_other_cannot_loop_inside_one_transition() {
    // `s` starts `a` after it ends, and `a` starts itself again after each end: in-engine
    // tasks would run forever inside the transition. Each task is started by an action at
    // most once per transition; the second start is recorded as an alert.
    let (flow, tr) = Flow::start(&[
        "id: p",
        "data:",
        "  n: {type: integer, default: 0}",
        "tasks:",
        "  - id: s",
        "    kind: set",
        "    set: {n: \"data.n + 1\"}",
        "    postconditions: [{if: \"true\", then: {run: a}}]",
        "  - id: a",
        "    kind: set",
        "    on_demand: true",
        "    set: {n: \"data.n + 10\"}",
        "    postconditions: [{if: \"true\", then: {run: a}}]",
    ]);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
    assert_eq!(flow.inst.data["n"], json!(11), "s once, a once");
    assert_eq!(alerts(&tr.events, "a").len(), 1);
}

#[test]
fn a_prompt_value_outside_its_choices_is_asked_again() {
    let (flow, _) = Flow::start_with(
        &[
            "id: p",
            "data:",
            "  region: string",
            "tasks:",
            &job("t"),
            "    prompts: [{name: region, choices: [emea, apac]}]",
        ],
        json!({"region": "mars"}),
    );
    assert_eq!(flow.status("t"), TaskStatus::WaitingForUserInput);
    assert_eq!(
        flow.reason("t"),
        Some(Reason::WaitingForInput {
            prompts: vec!["region".into()]
        })
    );
}

#[test]
fn a_learned_expected_runtime_too_long_for_the_calendar_ends_the_task_timeout_instead_of_overflowing(
) {
    // Runtimes are learned from what workers report: one of u64::MAX milliseconds passes any
    // latest end, and adding it to now saturates at the last instant Baton stores.
    let lines = [
        "id: p",
        "tasks:",
        &job("extract"),
        &job_after("load", "extract"),
        "    latest_end: +1h",
    ];
    let learned = [("load", StdDuration::from_millis(u64::MAX))];
    let (mut flow, _) = Flow::start_full(&lines, json!({}), t0(), knowledge(&[], &learned));
    let tr = flow.exit("extract", 0);
    assert_eq!(
        (dispatched(&tr).len(), flow.status("load")),
        (0, TaskStatus::EndedTimeout)
    );
    assert_eq!(
        flow.reason("load"),
        Some(Reason::WouldEndTooLate {
            expected_end: baton_core::timestamp::LATEST,
            latest_end: t0() + mins(60),
            expected_runtime_ms: u64::MAX
        })
    );
}

#[test]
fn a_timer_further_away_than_the_year_9999_is_set_at_its_end() {
    // Activated in 9950, an earliest start 100 years on (the longest duration) would be in 10050:
    // past what a store keeps as RFC 3339 text, so the timer waits until the end of 9999.
    let activated = Utc.with_ymd_and_hms(9950, 1, 1, 0, 0, 0).unwrap();
    let lines = [
        "id: p",
        "tasks:",
        &job("later"),
        "    earliest_start: '+100years'",
    ];
    let (flow, _) = Flow::start_full(&lines, json!({}), activated, knowledge(&[], &[]));
    let latest = baton_core::timestamp::LATEST;
    assert_eq!(
        flow.status("later"),
        TaskStatus::WaitingForStartTime { until: latest }
    );
    assert_eq!(
        flow.timer_due(&TimerKind::EarliestStart.key("later")),
        Some(latest)
    );
    // An instant written with an offset that puts it in year 10000 is read the same way.
    let lines = [
        "id: p",
        "tasks:",
        &job("later"),
        "    earliest_start: '9999-12-31T23:00:00-14:00'",
    ];
    let (flow, _) = Flow::start_full(&lines, json!({}), t0(), knowledge(&[], &[]));
    assert_eq!(
        flow.timer_due(&TimerKind::EarliestStart.key("later")),
        Some(latest)
    );
}
