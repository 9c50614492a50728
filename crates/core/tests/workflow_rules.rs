//! Scenario tests of the transition function, one workflow rule each (Automic's workflow
//! logic, seed 004, plus the operator commands and the engine's at-least-once job handling).
//! Time is injected and ids are plain strings, so every run is the same.

use baton_core::definition::Definition;
use baton_core::{
    apply, parse_definition, start, Command, Effect, Event, EventKind, Instance, InstanceStatus,
    JobOutcome, JobRequest, Reason, TaskState, TaskStatus, Transition, TransitionError,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Map, Value};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 2, 0, 0).unwrap()
}

fn definition(lines: &[&str]) -> Definition {
    let src = lines.join("\n");
    parse_definition("flow.yaml", &src)
        .unwrap_or_else(|e| panic!("test definition does not deploy:\n{e}"))
}

fn object(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("a JSON object")
}

/// An instance driven through the transition function, with its whole history kept.
struct Flow {
    def: Definition,
    inst: Instance,
    history: Vec<Event>,
    now: DateTime<Utc>,
}

impl Flow {
    fn start(lines: &[&str]) -> (Self, Transition) {
        Self::start_with(lines, json!({}))
    }

    fn start_with(lines: &[&str], data: Value) -> (Self, Transition) {
        let def = definition(lines);
        let tr = start(&def, "i-1".into(), object(data), t0()).expect("the instance starts");
        let flow = Flow {
            def,
            inst: tr.instance.clone(),
            history: tr.events.clone(),
            now: t0(),
        };
        (flow, tr)
    }

    /// Applies a command one second after the previous one; on success the flow moves on.
    fn try_apply(&mut self, command: Command) -> Result<Transition, TransitionError> {
        self.now += Duration::seconds(1);
        let tr = apply(&self.def, &self.inst, command, self.now)?;
        self.inst = tr.instance.clone();
        self.history.extend(tr.events.iter().cloned());
        Ok(tr)
    }

    #[track_caller]
    fn apply(&mut self, command: Command) -> Transition {
        let c = format!("{command:?}");
        self.try_apply(command)
            .unwrap_or_else(|e| panic!("{c} was refused: {e}"))
    }

    /// A worker reports that the running attempt of `task` exited with `code`.
    #[track_caller]
    fn exit(&mut self, task: &str, code: i32) -> Transition {
        let attempt = self.attempt(task);
        self.apply(exited(task, attempt, code, None))
    }

    #[track_caller]
    fn exit_with_output(&mut self, task: &str, output: Value) -> Transition {
        let attempt = self.attempt(task);
        self.apply(exited(task, attempt, 0, Some(object(output))))
    }

    #[track_caller]
    fn attempt(&self, task: &str) -> u32 {
        match self.status(task) {
            TaskStatus::Running { attempt, .. } => attempt,
            other => panic!("`{task}` is not running but {other}"),
        }
    }

    #[track_caller]
    fn task(&self, id: &str) -> &TaskState {
        let i = self
            .def
            .task_index(id)
            .unwrap_or_else(|| panic!("no task `{id}`"));
        &self.inst.tasks[i]
    }

    #[track_caller]
    fn status(&self, id: &str) -> TaskStatus {
        self.task(id).status.clone()
    }

    #[track_caller]
    fn reason(&self, id: &str) -> Option<Reason> {
        self.task(id).reason.clone()
    }

    /// Every status name, for compact assertions.
    fn statuses(&self) -> Vec<(&str, &'static str)> {
        self.def
            .tasks
            .iter()
            .zip(&self.inst.tasks)
            .map(|(d, s)| (d.id.as_str(), s.status.name()))
            .collect()
    }
}

fn exited(task: &str, attempt: u32, code: i32, output: Option<Map<String, Value>>) -> Command {
    Command::JobFinished {
        task: task.into(),
        attempt,
        outcome: JobOutcome::Exited {
            code,
            output,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            duration_ms: 1000,
        },
    }
}

fn ops(action: &str) -> Reason {
    Reason::Operator {
        action: action.into(),
        by: "ops".into(),
    }
}

fn run_jobs(tr: &Transition) -> Vec<&JobRequest> {
    tr.effects
        .iter()
        .filter_map(|e| match e {
            Effect::RunJob(job) => Some(job),
            _ => None,
        })
        .collect()
}

fn dispatched(tr: &Transition) -> Vec<&str> {
    run_jobs(tr).into_iter().map(|j| j.task.as_str()).collect()
}

fn canceled(tr: &Transition) -> Vec<(&str, u32)> {
    tr.effects
        .iter()
        .filter_map(|e| match e {
            Effect::CancelJob { task, attempt } => Some((task.as_str(), *attempt)),
            _ => None,
        })
        .collect()
}

/// The events of one task, in order.
fn task_events<'e>(events: &'e [Event], task: &str) -> Vec<&'e EventKind> {
    events
        .iter()
        .filter(|e| e.task.as_deref() == Some(task))
        .map(|e| &e.kind)
        .collect()
}

fn instance_status_events(events: &[Event]) -> Vec<(InstanceStatus, Option<Reason>)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::InstanceStatusChanged { to, reason } => Some((*to, reason.clone())),
            _ => None,
        })
        .collect()
}

fn job(id: &str) -> String {
    format!("  - id: {id}\n    kind: job\n    command: ./{id}.sh")
}

fn job_after(id: &str, after: &str) -> String {
    format!("{}\n    after: [{after}]", job(id))
}

// ---------------------------------------------------------------------------------------
// Start pipeline: predecessors

#[test]
fn a_task_waits_until_all_direct_predecessors_have_ended() {
    let (mut flow, tr) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("a"),
        &job("b"),
        &job_after("c", "a, b"),
    ]);
    assert_eq!(dispatched(&tr), ["a", "b"]);
    assert_eq!(flow.status("c"), TaskStatus::WaitingForPredecessor);
    assert_eq!(
        flow.reason("c"),
        Some(Reason::PredecessorsPending {
            tasks: vec!["a".into(), "b".into()]
        })
    );

    let tr = flow.exit("a", 0);
    assert!(
        run_jobs(&tr).is_empty(),
        "c must wait for b too: {:?}",
        tr.effects
    );
    assert_eq!(flow.status("c"), TaskStatus::WaitingForPredecessor);
    assert_eq!(
        flow.reason("c"),
        Some(Reason::PredecessorsPending {
            tasks: vec!["b".into()]
        })
    );
    assert_eq!(flow.inst.status, InstanceStatus::Running);

    let tr = flow.exit("b", 0);
    assert_eq!(dispatched(&tr), ["c"]);
    assert!(matches!(
        flow.status("c"),
        TaskStatus::Running { attempt: 1, .. }
    ));
}

#[test]
fn parallel_branches_dispatch_together_and_the_join_waits_for_both() {
    let (mut flow, tr) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        &job_after("left", "extract"),
        &job_after("right", "extract"),
        &job_after("join", "left, right"),
    ]);
    assert_eq!(dispatched(&tr), ["extract"]);

    let tr = flow.exit("extract", 0);
    assert_eq!(
        dispatched(&tr),
        ["left", "right"],
        "both branches go out in one transition"
    );

    let tr = flow.exit("right", 0);
    assert!(dispatched(&tr).is_empty());
    assert_eq!(flow.status("join"), TaskStatus::WaitingForPredecessor);

    let tr = flow.exit("left", 0);
    assert_eq!(dispatched(&tr), ["join"]);
    let tr = flow.exit("join", 0);
    assert_eq!(tr.instance.status, InstanceStatus::Completed);
    assert_eq!(tr.instance.ended_at, Some(flow.now));
}

// ---------------------------------------------------------------------------------------
// Task kinds

#[test]
fn set_tasks_run_inside_the_transition_and_write_process_data() {
    let (flow, tr) = Flow::start(&[
        "id: p",
        "data:",
        "  n: {type: integer, default: 20}",
        "  doubled: integer",
        "  label: string",
        "tasks:",
        "  - id: compute",
        "    kind: set",
        "    set:",
        "      doubled: data.n * 2 + 2",
        "      label: \"'total=' + string(data.doubled)\"", // sees the assignment before it
        "  - id: report",
        "    kind: job",
        "    after: [compute]",
        "    command: [./report.sh]",
        "    env:",
        "      LABEL: data.label",
        "      DOUBLED: data.doubled",
    ]);
    // The set task ran and the job after it went out, all in the start transition.
    assert_eq!(flow.status("compute"), TaskStatus::EndedOk);
    assert_eq!(flow.inst.data["doubled"], json!(42));
    assert_eq!(flow.inst.data["label"], json!("total=42"));
    assert_eq!(
        task_events(&tr.events, "compute"),
        [
            &EventKind::DataChanged {
                values: object(json!({"doubled": 42, "label": "total=42"}))
            },
            &EventKind::TaskStatusChanged {
                to: TaskStatus::EndedOk,
                reason: None
            },
        ]
    );
    let jobs = run_jobs(&tr);
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].env,
        [
            ("LABEL".to_owned(), "total=42".to_owned()),
            ("DOUBLED".to_owned(), "42".to_owned())
        ]
    );
    assert_eq!(flow.task("compute").attempts, 1);
}

#[test]
fn job_exit_zero_ends_ok_and_merges_json_output() {
    let (mut flow, tr) = Flow::start_with(
        &[
            "id: p",
            "data:",
            "  rows: integer",
            "  source: {type: string, default: crm}",
            "tasks:",
            "  - id: extract",
            "    kind: job",
            "    command: ./extract.sh --since yesterday",
            "    workdir: /srv/etl",
            "    timeout: 5m",
            "    env:",
            "      SOURCE: data.source",
            "      RUN: \"instance.id + '/' + string(data.rows)\"",
        ],
        json!({"rows": 7}),
    );
    assert_eq!(
        tr.effects,
        [Effect::RunJob(JobRequest {
            instance: "i-1".into(),
            task: "extract".into(),
            attempt: 1,
            command: vec![
                "sh".into(),
                "-c".into(),
                "./extract.sh --since yesterday".into()
            ],
            workdir: Some("/srv/etl".into()),
            env: vec![
                ("SOURCE".into(), "crm".into()),
                ("RUN".into(), "i-1/7".into())
            ],
            timeout_ms: Some(300_000),
            topic: None,
            data: serde_json::Map::new(),
        })]
    );
    assert_eq!(
        flow.status("extract"),
        TaskStatus::Running {
            attempt: 1,
            since: t0()
        }
    );
    assert_eq!(flow.task("extract").started_at, Some(t0()));

    let tr = flow.apply(Command::JobFinished {
        task: "extract".into(),
        attempt: 1,
        outcome: JobOutcome::Exited {
            code: 0,
            output: Some(object(json!({"rows": 42}))),
            stdout_tail: "{\"rows\": 42}".into(),
            stderr_tail: String::new(),
            duration_ms: 1234,
        },
    });
    assert_eq!(flow.status("extract"), TaskStatus::EndedOk);
    assert_eq!(flow.task("extract").ended_at, Some(flow.now));
    assert_eq!(flow.inst.data["rows"], json!(42));
    assert_eq!(
        task_events(&tr.events, "extract"),
        [
            &EventKind::JobFinished {
                attempt: 1,
                exit_code: Some(0),
                duration_ms: 1234,
                stdout_tail: "{\"rows\": 42}".into(),
                stderr_tail: String::new()
            },
            &EventKind::DataChanged {
                values: object(json!({"rows": 42}))
            },
            &EventKind::TaskStatusChanged {
                to: TaskStatus::EndedOk,
                reason: None
            },
        ]
    );
    assert_eq!(
        instance_status_events(&tr.events),
        [(InstanceStatus::Completed, None)]
    );
    // The only effect: the run time, for the learned expected runtime (ERT).
    assert_eq!(
        tr.effects,
        [Effect::RecordRuntime {
            task: "extract".into(),
            duration_ms: 1234
        }]
    );
}

#[test]
fn job_nonzero_exit_ends_not_ok() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "data:",
        "  rows: integer",
        "tasks:",
        &job("extract"),
    ]);
    let attempt = flow.attempt("extract");
    // Output of a failed job is not merged.
    flow.apply(exited(
        "extract",
        attempt,
        3,
        Some(object(json!({"rows": 1}))),
    ));
    assert_eq!(flow.status("extract"), TaskStatus::EndedNotOk);
    assert_eq!(flow.reason("extract"), Some(Reason::Exited { code: 3 }));
    assert_eq!(flow.inst.data["rows"], Value::Null);
    assert_eq!(flow.inst.status, InstanceStatus::Failed);
}

#[test]
fn a_job_that_times_out_or_cannot_start_ends_not_ok() {
    let (mut flow, _) = Flow::start(&["id: p", "tasks:", &job("slow"), &job("missing")]);
    let tr = flow.apply(Command::JobFinished {
        task: "slow".into(),
        attempt: 1,
        outcome: JobOutcome::TimedOut {
            after_ms: 60_000,
            stdout_tail: "working".into(),
            stderr_tail: String::new(),
        },
    });
    assert_eq!(
        flow.reason("slow"),
        Some(Reason::TimedOut { after_ms: 60_000 })
    );
    assert!(tr.events.iter().any(|e| matches!(
        &e.kind,
        EventKind::JobFinished {
            exit_code: None,
            duration_ms: 60_000,
            ..
        }
    )));

    flow.apply(Command::JobFinished {
        task: "missing".into(),
        attempt: 1,
        outcome: JobOutcome::CouldNotStart {
            message: "No such file or directory".into(),
        },
    });
    assert_eq!(flow.status("missing"), TaskStatus::EndedNotOk);
    assert_eq!(
        flow.reason("missing"),
        Some(Reason::CouldNotStart {
            message: "No such file or directory".into()
        })
    );
    assert_eq!(flow.inst.status, InstanceStatus::Failed);
}

// ---------------------------------------------------------------------------------------
// Dependencies and their else actions

#[test]
fn a_failed_job_blocks_its_successor_by_default_as_automic_does() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        &job_after("load", "extract"),
    ]);
    let tr = flow.exit("extract", 1);
    let expected = Reason::DependencyNotMet {
        task: "extract".into(),
        status: "ended_not_ok".into(),
        expected: "any_ok".into(),
        action: "block".into(),
    };
    assert_eq!(flow.status("load"), TaskStatus::Blocked);
    assert_eq!(flow.reason("load"), Some(expected.clone()));
    assert!(tr.effects.is_empty());
    assert_eq!(flow.inst.status, InstanceStatus::Blocked);
    assert_eq!(
        instance_status_events(&tr.events),
        [(InstanceStatus::Blocked, Some(expected))]
    );
    assert_eq!(flow.inst.ended_at, None);
}

#[test]
fn else_skip_skips_the_task_and_the_workflow_goes_on() {
    // `cleanup` only runs when `extract` fails; otherwise it is skipped and `report` runs.
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        &job("cleanup"),
        "    after:",
        "      - {task: extract, status: ended_not_ok}",
        "    dependencies: {else: skip}",
        &job_after("report", "cleanup"),
    ]);
    let tr = flow.exit("extract", 0);
    assert_eq!(flow.status("cleanup"), TaskStatus::EndedSkipped);
    assert_eq!(
        flow.reason("cleanup"),
        Some(Reason::DependencyNotMet {
            task: "extract".into(),
            status: "ended_ok".into(),
            expected: "ended_not_ok".into(),
            action: "skip".into(),
        })
    );
    assert_eq!(
        dispatched(&tr),
        ["report"],
        "a skipped task counts as ended for its successors"
    );
    flow.exit("report", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
}

#[test]
fn skipping_around_a_failure_goes_on_but_does_not_hide_it() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        &job_after("enrich", "extract"),
        "    dependencies: {else: skip}",
        &job_after("load", "enrich"),
    ]);
    let tr = flow.exit("extract", 1);
    assert_eq!(flow.status("enrich"), TaskStatus::EndedSkipped);
    assert_eq!(dispatched(&tr), ["load"]);
    flow.exit("load", 0);
    // Nothing expected extract's failure, so the instance reports it.
    assert_eq!(flow.inst.status, InstanceStatus::Failed);
    assert_eq!(
        instance_status_events(&flow.history).last(),
        Some(&(InstanceStatus::Failed, Some(Reason::Exited { code: 1 })))
    );
}

#[test]
fn else_abort_aborts_the_workflow_and_cancels_open_tasks() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        &job("side"),
        &job_after("load", "extract"),
        "    dependencies: {else: abort}",
        &job_after("report", "load"),
    ]);
    let tr = flow.exit("extract", 2);
    let why = Reason::DependencyNotMet {
        task: "extract".into(),
        status: "ended_not_ok".into(),
        expected: "any_ok".into(),
        action: "abort".into(),
    };
    assert_eq!(flow.inst.status, InstanceStatus::Aborted);
    assert_eq!(
        instance_status_events(&tr.events),
        [(InstanceStatus::Aborted, Some(why))]
    );
    assert_eq!(flow.inst.ended_at, Some(flow.now));
    assert_eq!(canceled(&tr), [("side", 1)], "the running job is stopped");
    let ended = Some(Reason::InstanceEnded {
        status: "aborted".into(),
    });
    for task in ["side", "load", "report"] {
        assert_eq!(flow.status(task), TaskStatus::Canceled, "{task}");
        assert_eq!(flow.reason(task), ended, "{task}");
    }
    assert_eq!(flow.status("extract"), TaskStatus::EndedNotOk);
}

#[test]
fn a_dependency_on_ended_not_ok_handles_the_failure() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        &job("alert"),
        "    after:",
        "      - {task: extract, status: any_not_ok}",
        "    dependencies: {else: skip}",
    ]);
    let tr = flow.exit("extract", 1);
    assert_eq!(dispatched(&tr), ["alert"]);
    flow.exit("alert", 0);
    assert_eq!(
        flow.statuses(),
        [("extract", "ended_not_ok"), ("alert", "ended_ok")]
    );
    assert_eq!(
        flow.inst.status,
        InstanceStatus::Completed,
        "the failure was expected and handled"
    );
}

#[test]
fn dependency_match_one_starts_when_any_predecessor_is_as_expected() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("primary"),
        &job("mirror"),
        &job_after("load", "primary, mirror"),
        "    dependencies: {match: one}",
    ]);
    flow.exit("primary", 1);
    let tr = flow.exit("mirror", 0);
    assert_eq!(dispatched(&tr), ["load"]);
}

// ---------------------------------------------------------------------------------------
// Decisions

fn routing(amount: i64, mode: &str) -> (Flow, Transition) {
    Flow::start_with(
        &[
            "id: p",
            "data:",
            "  amount: integer",
            "tasks:",
            "  - id: route",
            "    kind: decision",
            &format!("    mode: {mode}"),
            "    branches:",
            "      - when: data.amount > 100",
            "        to: [approve]",
            "      - when: data.amount > 10",
            "        to: [review]",
            "    otherwise: [auto]",
            &job("approve"),
            &job("review"),
            &job("auto"),
            &job_after("archive", "approve, review, auto"),
        ],
        json!({ "amount": amount }),
    )
}

#[test]
fn decision_branches_not_taken_end_skipped() {
    let (flow, tr) = routing(50, "first");
    assert_eq!(flow.status("route"), TaskStatus::EndedOk);
    assert_eq!(
        flow.task("route").taken,
        [flow.def.task_index("review").unwrap()]
    );
    assert_eq!(dispatched(&tr), ["review"]);
    for task in ["approve", "auto"] {
        assert_eq!(flow.status(task), TaskStatus::EndedSkipped, "{task}");
        assert_eq!(
            flow.reason(task),
            Some(Reason::BranchNotTaken {
                decision: "route".into()
            }),
            "{task}"
        );
    }
    assert!(
        task_events(&tr.events, "route").contains(&&EventKind::BranchesTaken {
            tasks: vec!["review".into()]
        })
    );

    let (_, tr) = routing(5, "first");
    assert_eq!(
        dispatched(&tr),
        ["auto"],
        "otherwise is taken when no branch holds"
    );
}

#[test]
fn skipping_propagates_down_a_dead_path_until_a_live_join() {
    let (mut flow, tr) = Flow::start_with(
        &[
            "id: p",
            "data:",
            "  urgent: boolean",
            "tasks:",
            "  - id: triage",
            "    kind: decision",
            "    branches:",
            "      - when: data.urgent",
            "        to: [page]",
            "    otherwise: [ticket]",
            &job("page"),
            &job_after("escalate", "page"),
            "  - id: log",
            "    kind: end",
            "    after: [escalate]",
            &job("ticket"),
            &job_after("close", "log, ticket"),
        ],
        json!({"urgent": false}),
    );
    assert_eq!(
        flow.reason("page"),
        Some(Reason::BranchNotTaken {
            decision: "triage".into()
        })
    );
    assert_eq!(flow.status("escalate"), TaskStatus::EndedSkipped);
    assert_eq!(flow.reason("escalate"), Some(Reason::PredecessorsSkipped));
    assert_eq!(flow.status("log"), TaskStatus::EndedSkipped);
    assert_eq!(flow.reason("log"), Some(Reason::PredecessorsSkipped));
    assert_eq!(dispatched(&tr), ["ticket"]);
    // The join is reached by a live path, so it waits for it and then runs.
    assert_eq!(flow.status("close"), TaskStatus::WaitingForPredecessor);
    let tr = flow.exit("ticket", 0);
    assert_eq!(dispatched(&tr), ["close"]);
    flow.exit("close", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
}

#[test]
fn decision_mode_all_takes_every_matching_branch() {
    let (mut flow, tr) = routing(500, "all");
    assert_eq!(dispatched(&tr), ["approve", "review"]);
    assert_eq!(flow.status("auto"), TaskStatus::EndedSkipped);
    flow.exit("approve", 0);
    let tr = flow.exit("review", 0);
    assert_eq!(dispatched(&tr), ["archive"]);

    let (_, tr) = routing(500, "first");
    assert_eq!(
        dispatched(&tr),
        ["approve"],
        "`first` stops at the first branch that holds"
    );
}

#[test]
fn decision_without_a_matching_branch_ends_not_ok() {
    let (flow, tr) = Flow::start_with(
        &[
            "id: p",
            "data:",
            "  amount: integer",
            "tasks:",
            "  - id: route",
            "    kind: decision",
            "    branches:",
            "      - when: data.amount > 100",
            "        to: [approve]",
            &job("approve"),
        ],
        json!({"amount": 1}),
    );
    assert_eq!(flow.status("route"), TaskStatus::EndedNotOk);
    assert_eq!(flow.reason("route"), Some(Reason::NoBranchMatched));
    assert!(tr.effects.is_empty());
    // Its targets stop as after any failed predecessor.
    assert_eq!(flow.status("approve"), TaskStatus::Blocked);
    assert_eq!(flow.inst.status, InstanceStatus::Blocked);
}

// ---------------------------------------------------------------------------------------
// Expressions and data at run time

#[test]
fn a_faulty_expression_at_run_time_ends_the_task_not_ok_with_the_message() {
    let (flow, tr) = Flow::start_with(
        &[
            "id: p",
            "data:",
            "  n: integer",
            "  zero: integer",
            "  ratio: integer",
            "tasks:",
            "  - id: divide",
            "    kind: set",
            "    set: {ratio: data.n / data.zero}",
            "  - id: route",
            "    kind: decision",
            "    branches:",
            "      - when: data.n", // an integer, not a boolean
            "        to: [never]",
            &job("never"),
            &job("send"),
            "    env: {MISSING: data.nothing.here}",
        ],
        json!({"n": 10, "zero": 0}),
    );
    assert_eq!(flow.status("divide"), TaskStatus::EndedNotOk);
    let Some(Reason::ExpressionFailed { field, message }) = flow.reason("divide") else {
        panic!("{:?}", flow.reason("divide"))
    };
    assert_eq!(field, "set.ratio");
    assert!(message.contains("Division by zero"), "{message}");
    assert_eq!(flow.inst.data["ratio"], Value::Null, "nothing is written");

    let Some(Reason::ExpressionFailed { field, message }) = flow.reason("route") else {
        panic!("{:?}", flow.reason("route"))
    };
    assert_eq!(field, "branches[0].when");
    assert!(message.contains("must be true or false"), "{message}");

    // A job whose environment cannot be computed is not dispatched.
    assert!(dispatched(&tr).is_empty());
    let Some(Reason::ExpressionFailed { field, message }) = flow.reason("send") else {
        panic!("{:?}", flow.reason("send"))
    };
    assert_eq!(field, "env.MISSING");
    assert!(message.contains("nothing"), "{message}");
    assert_eq!(flow.status("send"), TaskStatus::EndedNotOk);
}

#[test]
fn type_mismatch_in_set_ends_not_ok() {
    let (flow, _) = Flow::start_with(
        &[
            "id: p",
            "data:",
            "  total: integer",
            "tasks:",
            "  - id: sum",
            "    kind: set",
            "    set: {total: \"'many'\"}",
        ],
        json!({"total": 1}),
    );
    assert_eq!(flow.status("sum"), TaskStatus::EndedNotOk);
    assert_eq!(
        flow.reason("sum"),
        Some(Reason::TypeMismatch {
            variable: "total".into(),
            expected: "integer".into(),
            found: "string".into()
        })
    );
    assert_eq!(flow.inst.data["total"], json!(1), "the old value stays");
    assert!(!flow
        .history
        .iter()
        .any(|e| matches!(e.kind, EventKind::DataChanged { .. })));
}

#[test]
fn type_mismatch_in_job_output_ends_not_ok() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "data:",
        "  rows: integer",
        "tasks:",
        &job("extract"),
    ]);
    flow.exit_with_output("extract", json!({"rows": "forty"}));
    assert_eq!(
        flow.reason("extract"),
        Some(Reason::TypeMismatch {
            variable: "rows".into(),
            expected: "integer".into(),
            found: "string".into()
        })
    );
    assert_eq!(flow.inst.data["rows"], Value::Null);
}

#[test]
fn expressions_see_task_statuses() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        "  - id: route",
        "    kind: decision",
        "    after:",
        "      - {task: extract, status: any_end}",
        "    branches:",
        "      - when: tasks.extract.status == 'ended_not_ok'",
        "        to: [repair]",
        "    otherwise: [load]",
        &job("repair"),
        &job("load"),
    ]);
    let tr = flow.exit("extract", 9);
    assert_eq!(dispatched(&tr), ["repair"]);
}

// ---------------------------------------------------------------------------------------
// Jobs at least once, and operator commands

#[test]
fn stale_job_results_are_refused_and_change_nothing() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        "  - id: note",
        "    kind: end",
    ]);
    let before = flow.inst.clone();
    for command in [
        exited("extract", 2, 0, None),
        Command::RedispatchJob {
            task: "extract".into(),
            attempt: 7,
        },
    ] {
        let err = flow.try_apply(command).unwrap_err();
        assert!(
            matches!(err, TransitionError::StaleJobResult { ref task, .. } if task == "extract"),
            "{err}"
        );
    }
    // A result for a task that is not a running job is stale too; an unknown task is named.
    assert!(matches!(
        flow.try_apply(exited("note", 1, 0, None)),
        Err(TransitionError::StaleJobResult { .. })
    ));
    assert_eq!(
        flow.try_apply(exited("nope", 1, 0, None)).unwrap_err(),
        TransitionError::UnknownTask("nope".into())
    );
    assert_eq!(flow.inst, before);

    // After a redispatch, the first attempt's late result is stale.
    flow.apply(Command::RedispatchJob {
        task: "extract".into(),
        attempt: 1,
    });
    let before = flow.inst.clone();
    let err = flow.try_apply(exited("extract", 1, 0, None)).unwrap_err();
    assert_eq!(
        err,
        TransitionError::StaleJobResult {
            task: "extract".into(),
            attempt: 1
        }
    );
    assert!(err.to_string().contains("stale"), "{err}");
    assert_eq!(flow.inst, before);
}

#[test]
fn redispatch_after_restart_runs_the_job_again_as_a_new_attempt_with_a_retry_event() {
    let (mut flow, _) = Flow::start(&["id: p", "tasks:", &job("extract")]);
    let tr = flow.apply(Command::RedispatchJob {
        task: "extract".into(),
        attempt: 1,
    });
    let now = flow.now;
    assert_eq!(
        task_events(&tr.events, "extract"),
        [
            &EventKind::JobRetried {
                attempt: 2,
                reason: Reason::EngineRestarted
            },
            &EventKind::TaskStatusChanged {
                to: TaskStatus::Running {
                    attempt: 2,
                    since: now
                },
                reason: None
            },
            &EventKind::JobDispatched {
                attempt: 2,
                command: vec!["sh".into(), "-c".into(), "./extract.sh".into()],
                topic: None
            },
        ]
    );
    let jobs = run_jobs(&tr);
    assert_eq!((jobs.len(), jobs[0].attempt), (1, 2));
    assert_eq!(flow.task("extract").attempts, 2);
    assert!(
        canceled(&tr).is_empty(),
        "the old worker is gone; nothing to cancel"
    );

    flow.apply(exited("extract", 2, 0, None));
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
}

#[test]
fn retry_task_reruns_a_failed_job_and_unblocks_its_successor() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        &job_after("load", "extract"),
    ]);
    flow.exit("extract", 1);
    assert_eq!(flow.inst.status, InstanceStatus::Blocked);

    let tr = flow.apply(Command::RetryTask {
        task: "extract".into(),
        by: "ops".into(),
    });
    let now = flow.now;
    assert_eq!(
        task_events(&tr.events, "extract"),
        [
            &EventKind::TaskStatusChanged {
                to: TaskStatus::WaitingForPredecessor,
                reason: Some(ops("retry"))
            },
            &EventKind::JobRetried {
                attempt: 2,
                reason: ops("retry")
            },
            &EventKind::TaskStatusChanged {
                to: TaskStatus::Running {
                    attempt: 2,
                    since: now
                },
                reason: None
            },
            &EventKind::JobDispatched {
                attempt: 2,
                command: vec!["sh".into(), "-c".into(), "./extract.sh".into()],
                topic: None
            },
        ]
    );
    assert_eq!(run_jobs(&tr)[0].attempt, 2);
    assert_eq!(
        flow.status("load"),
        TaskStatus::WaitingForPredecessor,
        "the blocked successor waits again"
    );
    assert_eq!(flow.inst.status, InstanceStatus::Running);

    let tr = flow.exit("extract", 0);
    assert_eq!(dispatched(&tr), ["load"]);
    flow.exit("load", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
}

#[test]
fn only_an_ended_task_whose_successors_have_not_moved_can_be_retried() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        &job("alert"),
        "    after: [{task: extract, status: any_end}]",
        &job("other"),
    ]);
    let err = flow
        .try_apply(Command::RetryTask {
            task: "extract".into(),
            by: "ops".into(),
        })
        .unwrap_err();
    assert_eq!(
        err,
        TransitionError::NotRetryable {
            task: "extract".into(),
            status: "running".into()
        }
    );

    flow.exit("extract", 1);
    assert!(matches!(flow.status("alert"), TaskStatus::Running { .. }));
    // `alert` already acts on extract's failure: running extract again under it is refused.
    let before = flow.inst.clone();
    let err = flow
        .try_apply(Command::RetryTask {
            task: "extract".into(),
            by: "ops".into(),
        })
        .unwrap_err();
    assert_eq!(
        err,
        TransitionError::SuccessorMoved {
            task: "extract".into(),
            successor: "alert".into(),
            status: "running".into()
        }
    );
    assert_eq!(flow.inst, before);
}

#[test]
fn skip_task_unblocks_the_workflow() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        &job_after("load", "extract"),
        &job_after("report", "load"),
    ]);
    flow.exit("extract", 1);
    assert_eq!(flow.status("load"), TaskStatus::Blocked);

    let tr = flow.apply(Command::SkipTask {
        task: "load".into(),
        by: "ops".into(),
    });
    assert_eq!(flow.status("load"), TaskStatus::EndedSkipped);
    assert_eq!(flow.reason("load"), Some(ops("skip")));
    assert_eq!(
        dispatched(&tr),
        ["report"],
        "the workflow goes on after the skipped task"
    );
    assert_eq!(flow.inst.status, InstanceStatus::Running);

    flow.exit("report", 0);
    // extract's failure was skipped over, not handled.
    assert_eq!(flow.inst.status, InstanceStatus::Failed);
}

#[test]
fn only_blocked_or_waiting_tasks_can_be_skipped() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("extract"),
        &job_after("load", "extract"),
    ]);
    let err = flow
        .try_apply(Command::SkipTask {
            task: "extract".into(),
            by: "ops".into(),
        })
        .unwrap_err();
    assert_eq!(
        err,
        TransitionError::NotSkippable {
            task: "extract".into(),
            status: "running".into()
        }
    );

    // A waiting task can be skipped ahead of time; its predecessor's result then does not matter.
    flow.apply(Command::SkipTask {
        task: "load".into(),
        by: "ops".into(),
    });
    flow.exit("extract", 0);
    assert_eq!(flow.status("load"), TaskStatus::EndedSkipped);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
}

#[test]
fn abort_cancels_running_jobs() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("a"),
        &job("b"),
        &job_after("c", "a, b"),
    ]);
    flow.exit("b", 0);
    let tr = flow.apply(Command::Abort {
        by: "ops".into(),
        abort_parent: false,
    });
    assert_eq!(canceled(&tr), [("a", 1)]);
    assert_eq!(
        flow.statuses(),
        [("a", "canceled"), ("b", "ended_ok"), ("c", "canceled")]
    );
    assert_eq!(
        flow.reason("a"),
        Some(Reason::InstanceEnded {
            status: "aborted".into()
        })
    );
    assert_eq!(flow.inst.status, InstanceStatus::Aborted);
    assert_eq!(
        instance_status_events(&tr.events),
        [(InstanceStatus::Aborted, Some(ops("abort")))]
    );
    assert_eq!(flow.inst.ended_at, Some(flow.now));
}

#[test]
fn terminating_end_completes_the_instance_and_cancels_the_rest() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("long"),
        &job("quick"),
        "  - id: stop",
        "    kind: end",
        "    terminate: true",
        "    after: [quick]",
        &job_after("later", "long"),
    ]);
    let tr = flow.exit("quick", 0);
    assert_eq!(flow.status("stop"), TaskStatus::EndedOk);
    assert_eq!(canceled(&tr), [("long", 1)]);
    assert_eq!(flow.status("long"), TaskStatus::Canceled);
    assert_eq!(flow.status("later"), TaskStatus::Canceled);
    assert_eq!(
        flow.reason("later"),
        Some(Reason::InstanceEnded {
            status: "completed".into()
        })
    );
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
}

#[test]
fn an_end_task_without_terminate_only_ends_its_path() {
    let (mut flow, _) = Flow::start(&[
        "id: p",
        "tasks:",
        &job("long"),
        &job("quick"),
        "  - id: done",
        "    kind: end",
        "    after: [quick]",
    ]);
    flow.exit("quick", 0);
    assert_eq!(flow.status("done"), TaskStatus::EndedOk);
    assert!(matches!(flow.status("long"), TaskStatus::Running { .. }));
    assert_eq!(flow.inst.status, InstanceStatus::Running);
}

#[test]
fn commands_on_an_ended_instance_are_refused() {
    let (mut completed, _) = Flow::start(&["id: p", "tasks:", &job("a")]);
    completed.exit("a", 0);
    let (mut aborted, _) = Flow::start(&["id: p", "tasks:", &job("a")]);
    aborted.apply(Command::Abort {
        by: "ops".into(),
        abort_parent: false,
    });
    let (mut failed, _) = Flow::start(&["id: p", "tasks:", &job("a")]);
    failed.exit("a", 1);

    for (flow, status) in [
        (&mut completed, InstanceStatus::Completed),
        (&mut aborted, InstanceStatus::Aborted),
        (&mut failed, InstanceStatus::Failed),
    ] {
        assert_eq!(flow.inst.status, status);
        let before = flow.inst.clone();
        for command in [
            exited("a", 1, 0, None),
            Command::RedispatchJob {
                task: "a".into(),
                attempt: 1,
            },
            Command::RetryTask {
                task: "a".into(),
                by: "ops".into(),
            },
            Command::SkipTask {
                task: "a".into(),
                by: "ops".into(),
            },
            Command::Abort {
                by: "ops".into(),
                abort_parent: false,
            },
        ] {
            let err = flow.try_apply(command).unwrap_err();
            assert_eq!(err, TransitionError::InstanceEnded(status));
        }
        assert_eq!(flow.inst, before);
    }
}

#[test]
fn undeclared_or_mistyped_input_data_is_refused() {
    let def = definition(&[
        "id: p",
        "data:",
        "  amount: integer",
        "  customer: {type: string, default: ACME}",
        "tasks:",
        "  - id: e",
        "    kind: end",
    ]);
    let err = start(
        &def,
        "i-1".into(),
        object(json!({"amount": "12", "custmer": "x"})),
        t0(),
    )
    .unwrap_err();
    let TransitionError::InvalidData(problems) = &err else {
        panic!("{err}")
    };
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`amount` must be integer, got string")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`custmer` is not declared") && p.contains("customer")),
        "{problems:?}"
    );

    // Declared and well typed: defaults fill in what is not given, `null` leaves a value unset.
    let tr = start(&def, "i-1".into(), object(json!({"amount": 12})), t0()).unwrap();
    assert_eq!(
        tr.instance.data,
        object(json!({"amount": 12, "customer": "ACME"}))
    );
    let tr = start(&def, "i-1".into(), object(json!({"amount": null})), t0()).unwrap();
    assert_eq!(tr.instance.data["amount"], Value::Null);
    assert_eq!(
        tr.events[0].kind,
        EventKind::InstanceStarted {
            definition: "p".into(),
            version: 0,
            data: object(json!({"amount": null, "customer": "ACME"}))
        }
    );
}

#[test]
fn history_sequence_numbers_are_gap_free() {
    let (mut flow, _) = routing(500, "all");
    flow.apply(Command::RedispatchJob {
        task: "approve".into(),
        attempt: 1,
    });
    flow.exit("approve", 1);
    flow.apply(Command::RetryTask {
        task: "approve".into(),
        by: "ops".into(),
    });
    flow.exit("approve", 0);
    flow.exit("review", 0);
    flow.exit("archive", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);

    let seqs: Vec<u64> = flow.history.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(flow.inst.next_seq, seqs.len() as u64 + 1);
    assert!(
        flow.history.windows(2).all(|w| w[0].at <= w[1].at),
        "event times never go back"
    );
    assert_eq!(
        flow.history[0].kind,
        EventKind::InstanceStarted {
            definition: "p".into(),
            version: 0,
            data: object(json!({"amount": 500}))
        }
    );
}

#[test]
fn an_unhandled_failure_fails_the_instance() {
    let (mut flow, _) = Flow::start(&["id: p", "tasks:", &job("a"), &job("b")]);
    flow.exit("a", 4);
    assert_eq!(
        flow.inst.status,
        InstanceStatus::Running,
        "b is still running"
    );
    let tr = flow.exit("b", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Failed);
    assert_eq!(
        instance_status_events(&tr.events),
        [(InstanceStatus::Failed, Some(Reason::Exited { code: 4 }))]
    );
    assert_eq!(flow.inst.ended_at, Some(flow.now));
}

#[test]
fn the_persisted_state_round_trips_through_json() {
    let (mut flow, _) = routing(50, "first");
    flow.exit("review", 1);
    let text = serde_json::to_string(&flow.inst).unwrap();
    let back: Instance = serde_json::from_str(&text).unwrap();
    assert_eq!(back, flow.inst);
    for e in &flow.history {
        let back: Event = serde_json::from_str(&serde_json::to_string(e).unwrap()).unwrap();
        assert_eq!(&back, e);
    }
}
