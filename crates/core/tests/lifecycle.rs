//! The task lifecycle table (`baton_core::lifecycle`), edge by edge: each scenario drives
//! instances through the transition function and states the rule it shows, and the edges their
//! histories took are gathered. The table must hold every edge a scenario takes (the core
//! refuses one it does not), and every edge of the table must be taken by some scenario, as
//! Temporal's sdk-core records the transitions its tests cover. Commands on ended tasks are
//! refused and change nothing. The README's "Task lifecycle" section is the table's.

mod support;

use std::collections::{BTreeSet, HashMap};

use baton_core::lifecycle::{self, Cause, Edge};
use baton_core::status::TaskStatusKind as K;
use baton_core::user_task::{
    Actor, Caller, EscalationAction, FollowOnSpec, HumanTaskId, PotentialOwners, UserTaskCommand,
};
use baton_core::{
    Command, Event, EventKind, JobOutcome, Knowledge, Reason, TaskStatus, TimerKind,
    TransitionError, WorkerEndStatus, WorkerReport,
};
use serde_json::json;
use support::*;

// ---------------------------------------------------------------------------------------
// Gathering edges

/// The edges the instances of the scenarios took.
#[derive(Default)]
struct Taken(BTreeSet<Edge>);

impl Taken {
    /// Adds the edges of a flow's history, from the instance's start.
    fn add(&mut self, flow: &Flow) {
        self.0.extend(edges_of(&flow.history));
    }
}

/// The lifecycle edges a history took. A change the table does not hold fails the test here
/// (the core would have refused it already).
fn edges_of(history: &[Event]) -> Vec<Edge> {
    let mut status: HashMap<&str, TaskStatus> = HashMap::new();
    let mut edges = Vec::new();
    for event in history {
        if let (Some(task), EventKind::TaskStatusChanged { to, reason }) =
            (&event.task, &event.kind)
        {
            let from = status
                .get(task.as_str())
                .cloned()
                .unwrap_or(TaskStatus::WaitingForPredecessor);
            edges.push(
                lifecycle::edge(&from, to, reason.as_ref())
                    .unwrap_or_else(|e| panic!("task `{task}`: {e}")),
            );
            status.insert(task, to.clone());
        }
    }
    edges
}

#[track_caller]
fn assert_took(flow: &Flow, from: K, cause: Cause, to: K) {
    let edge = Edge { from, cause, to };
    let taken = edges_of(&flow.history);
    assert!(
        taken.contains(&edge),
        "expected {edge}; the history took {}",
        taken
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
}

// ---------------------------------------------------------------------------------------
// Instances with task `t` in a chosen status

/// Data every scenario may use, and `keep`, a human task nobody works, which keeps the
/// instance open whatever `t` does.
const HEAD: &str = "id: life
interactive: true
data:
  go: {type: boolean, default: false}
  answer: string
  x: {type: integer, default: 0}
tasks:
  - id: keep
    kind: user
    title: Keeps the instance open
    owners: [nobody]";

/// A user task `t` for sarah, administered by chief.
const USER_T: &str = "  - id: t
    kind: user
    title: Review
    owners: [sarah]
    administrators: [chief]";

fn weekend() -> std::sync::Arc<baton_core::calendar::Calendar> {
    calendar(&["calendar: weekend", "include:", "  - weekdays: [sat, sun]"])
}

/// Starts an instance of `HEAD` and `tasks` at t0 (a Friday), with a deployed `weekend` calendar.
fn start(tasks: &str) -> Flow {
    let source = format!("{HEAD}\n{tasks}");
    let lines: Vec<&str> = source.lines().collect();
    Flow::start_full(&lines, json!({}), t0(), knowledge(&[weekend()], &[])).0
}

/// Starts the process without `keep`: it can complete.
fn start_bare(tasks: &str) -> Flow {
    let source = format!("id: life\ntasks:\n{tasks}");
    let lines: Vec<&str> = source.lines().collect();
    Flow::start_full(&lines, json!({}), t0(), Knowledge::default()).0
}

fn sarah() -> Actor {
    Actor::User(Caller::new("sarah"))
}

fn paul() -> Actor {
    Actor::User(Caller::new("paul"))
}

fn chief() -> Actor {
    Actor::User(Caller::new("chief").admin())
}

const ORIGINAL: HumanTaskId = HumanTaskId::ORIGINAL;
const FOLLOW_ON: HumanTaskId = HumanTaskId(1);

fn human(flow: &mut Flow, actor: Actor, command: UserTaskCommand) {
    flow.apply(Command::UserTask {
        task: "t".into(),
        actor,
        command,
    });
}

fn claim(flow: &mut Flow, actor: Actor, task: HumanTaskId) {
    human(flow, actor, UserTaskCommand::Claim { task });
}

fn complete(flow: &mut Flow, actor: Actor, task: HumanTaskId) {
    human(
        flow,
        actor,
        UserTaskCommand::Complete {
            task,
            output: Default::default(),
        },
    );
}

fn fail(flow: &mut Flow, actor: Actor, task: HumanTaskId) {
    human(
        flow,
        actor,
        UserTaskCommand::Fail {
            task,
            reason: "no".into(),
        },
    );
}

fn forward(flow: &mut Flow) {
    human(
        flow,
        sarah(),
        UserTaskCommand::StartFollowOn {
            task: ORIGINAL,
            spec: FollowOnSpec::new("Check", PotentialOwners::user("paul")),
        },
    );
}

fn escalate(flow: &mut Flow) {
    human(
        flow,
        chief(),
        UserTaskCommand::Escalate {
            task: ORIGINAL,
            name: "late".into(),
            action: EscalationAction::RaisePriority { by: 1 },
        },
    );
}

fn by_chief(flow: &mut Flow, command: UserTaskCommand) {
    human(flow, chief(), command);
}

/// User task `t` (with `extra` lines) in `kind`: a human-task status, or the end of its chain.
fn user_task_in(kind: K, extra: &str, more: &str) -> Flow {
    let expires = if kind == K::Expired && !extra.contains("expires_after") {
        "\n    expires_after: 1h"
    } else {
        ""
    };
    let mut flow = start(&format!(
        "{USER_T}{expires}{}{extra}\n{more}",
        if extra.is_empty() { "" } else { "\n" }
    ));
    match kind {
        K::Ready => {}
        K::Claimed => claim(&mut flow, sarah(), ORIGINAL),
        K::Forwarded => {
            claim(&mut flow, sarah(), ORIGINAL);
            forward(&mut flow);
        }
        K::Suspended => by_chief(&mut flow, UserTaskCommand::Suspend { task: ORIGINAL }),
        K::Escalated => escalate(&mut flow),
        K::EndedOk => {
            claim(&mut flow, sarah(), ORIGINAL);
            complete(&mut flow, sarah(), ORIGINAL);
        }
        K::EndedNotOk => {
            claim(&mut flow, sarah(), ORIGINAL);
            fail(&mut flow, sarah(), ORIGINAL);
        }
        K::EndedSkipped => {
            flow.apply(Command::SkipTask {
                task: "t".into(),
                by: "olivia".into(),
            });
        }
        K::Terminated => by_chief(&mut flow, UserTaskCommand::Terminate { task: ORIGINAL }),
        K::Expired => {
            let until = flow.now + mins(120);
            flow.run_until(until);
        }
        other => panic!("a user task is not {other}"),
    }
    assert_eq!(flow.status("t").kind(), kind, "the fixture reaches {kind}");
    flow
}

/// A job `t` in `kind` (with `more` tasks beside it).
fn job_in(kind: K, more: &str) -> Flow {
    job_in_behind(kind, "", more)
}

/// A job `t` in `kind`, with `after` lines (its predecessors) and `more` tasks beside it.
fn job_in_behind(kind: K, after_lines: &str, more: &str) -> Flow {
    let controls = match kind {
        K::WaitingForStartTime => "\n    earliest_start: +1h",
        K::WaitingForPrecondition => "\n    preconditions: {conditions: [{when: data.go}]}",
        K::WaitingForUserInput => "\n    prompts: [{name: answer}]",
        K::Blocked | K::EndedSkipped => "\n    breakpoint: true",
        K::WaitingForRetry => "\n    retry: {max: 2, delay: 1m}",
        K::EndedInactive => "\n    active: false",
        K::EndedTimeout => "\n    earliest_start: +2h\n    latest_start: +1h",
        K::Canceled => "\n    max_runtime: {after: 1m}",
        _ => "",
    };
    let (pre, after) = if kind == K::WaitingForPredecessor {
        (format!("\n{}", job("pre")), "\n    after: [pre]")
    } else {
        (String::new(), after_lines)
    };
    let mut flow = start(&format!("{}{after}{controls}{pre}\n{more}", job("t")));
    match kind {
        K::WaitingForRetry | K::EndedNotOk => {
            flow.exit("t", 1);
        }
        K::EndedOk => {
            flow.exit("t", 0);
        }
        K::EndedSkipped => {
            flow.apply(Command::SkipTask {
                task: "t".into(),
                by: "olivia".into(),
            });
        }
        K::EndedTimeout | K::Canceled => {
            let until = flow.now + mins(120);
            flow.run_until(until);
        }
        _ => {}
    }
    assert_eq!(flow.status("t").kind(), kind, "the fixture reaches {kind}");
    flow
}

/// A `wait` task `t` waiting for event `e` with key `k`, and its timeout of an hour.
const WAIT_T: &str = "  - id: t\n    kind: wait\n    event: e\n    key: \"'k'\"\n    condition: event.n > 0\n    output: {x: event.n}\n    timeout: 1h";

/// Event `e` with key `k` and payload `n`.
fn event_e(n: serde_json::Value) -> Command {
    Command::EventReceived {
        event: baton_core::correlation::ReceivedEvent {
            id: "e-1".into(),
            name: "e".into(),
            key: Some("k".into()),
            data: object(json!({"n": n})),
        },
    }
}

/// Task `t` in any status: a user task for the statuses of people, a wait task waiting for its
/// event, a job for the others.
fn task_in(kind: K) -> Flow {
    match kind {
        K::WaitingForEvent => start(WAIT_T),
        K::Ready
        | K::Claimed
        | K::Forwarded
        | K::Suspended
        | K::Escalated
        | K::Terminated
        | K::Expired => user_task_in(kind, "", ""),
        _ => job_in(kind, ""),
    }
}

fn is_end(kind: K) -> bool {
    matches!(
        kind,
        K::EndedOk
            | K::EndedNotOk
            | K::EndedSkipped
            | K::EndedInactive
            | K::EndedTimeout
            | K::Canceled
            | K::Terminated
            | K::Expired
    )
}

fn attempt(flow: &Flow) -> u32 {
    flow.task("t").attempts
}

// ---------------------------------------------------------------------------------------
// Scenarios

mod scenarios {
    use super::*;

    /// Retry is allowed in exactly the statuses the table gives a `retry` edge; elsewhere it is
    /// refused and changes nothing.
    pub fn an_operator_retries_a_task_in_exactly_the_statuses_the_table_allows(taken: &mut Taken) {
        operator_follows_the_table(
            taken,
            Cause::Retry,
            |by| Command::RetryTask {
                task: "t".into(),
                by,
            },
            |e| matches!(e, TransitionError::NotRetryable { .. }),
        );
    }

    /// Skip is allowed in exactly the statuses the table gives a `skip` edge; elsewhere it is
    /// refused and changes nothing.
    pub fn an_operator_skips_a_task_in_exactly_the_statuses_the_table_allows(taken: &mut Taken) {
        operator_follows_the_table(
            taken,
            Cause::Skip,
            |by| Command::SkipTask {
                task: "t".into(),
                by,
            },
            |e| matches!(e, TransitionError::NotSkippable { .. }),
        );
    }

    /// Gives task `t` in every status the operator's command for `cause`: applied where the
    /// table has an edge for it, and there it takes that edge; refused (as `refusal`) and
    /// changing nothing everywhere else.
    fn operator_follows_the_table(
        taken: &mut Taken,
        cause: Cause,
        command: fn(String) -> Command,
        refusal: fn(&TransitionError) -> bool,
    ) {
        for kind in K::ALL {
            let mut flow = task_in(kind);
            let before = flow.inst.clone();
            match flow.try_apply(command("olivia".into())) {
                Ok(_) => {
                    let to = lifecycle::edges()
                        .find(|e| e.from == kind && e.cause == cause)
                        .map(|e| e.to);
                    assert!(to.is_some(), "{cause} was applied to a task that is {kind}");
                    assert_took(&flow, kind, cause, to.unwrap_or(kind));
                }
                Err(e) => {
                    assert!(
                        !lifecycle::accepts(kind, cause),
                        "{cause} was refused for a task that is {kind}: {e}"
                    );
                    assert!(refusal(&e), "{e}");
                    assert_eq!(flow.inst, before);
                }
            }
            taken.add(&flow);
        }
    }

    /// Aborting the instance cancels every task that has not ended, and leaves ended ones as they are.
    pub fn aborting_cancels_every_task_that_has_not_ended(taken: &mut Taken) {
        for kind in K::ALL {
            let mut flow = task_in(kind);
            flow.apply(Command::Abort {
                by: "olivia".into(),
                abort_parent: false,
            });
            if is_end(kind) {
                assert_eq!(flow.status("t").kind(), kind);
            } else {
                assert_eq!(flow.status("t"), TaskStatus::Canceled);
                assert_took(&flow, kind, Cause::InstanceEnded, K::Canceled);
            }
            taken.add(&flow);
        }
    }

    /// A task that ended takes no command that would move it: skip, input, a job's result or
    /// its redispatch, an operation on its human task, and (but from the statuses it allows)
    /// a retry are refused and change nothing; a timer of its is stale and changes nothing.
    pub fn a_command_on_an_ended_task_is_refused_and_changes_nothing(taken: &mut Taken) {
        for kind in K::ALL.into_iter().filter(|&k| is_end(k)) {
            let mut flow = task_in(kind);
            let before = flow.inst.clone();
            let mut commands = vec![
                Command::SkipTask {
                    task: "t".into(),
                    by: "olivia".into(),
                },
                Command::ProvideInput {
                    task: "t".into(),
                    values: object(json!({"answer": "yes"})),
                    by: "olivia".into(),
                },
                exited(
                    "t",
                    attempt(&flow),
                    0,
                    std::time::Duration::from_secs(1),
                    None,
                ),
                Command::RedispatchJob {
                    task: "t".into(),
                    attempt: attempt(&flow),
                },
                Command::UserTask {
                    task: "t".into(),
                    actor: sarah(),
                    command: UserTaskCommand::Claim { task: ORIGINAL },
                },
            ];
            if !lifecycle::accepts(kind, Cause::Retry) {
                commands.push(Command::RetryTask {
                    task: "t".into(),
                    by: "olivia".into(),
                });
            }
            for command in commands {
                let shown = format!("{command:?}");
                assert!(
                    flow.try_apply(command).is_err(),
                    "{kind}: {shown} was applied"
                );
                assert_eq!(flow.inst, before, "{kind}: {shown} changed the instance");
            }
            for timer in [
                TimerKind::EarliestStart,
                TimerKind::PreconditionCheck,
                TimerKind::JobRetry,
                TimerKind::MaxRuntime {
                    attempt: attempt(&flow),
                },
            ] {
                let tr = flow.apply(Command::TimerFired {
                    task: "t".into(),
                    timer,
                });
                assert!(
                    tr.events.is_empty() && tr.effects.is_empty(),
                    "{kind}: a stale {timer:?} timer did something"
                );
                assert_eq!(flow.inst.tasks, before.tasks);
            }
            taken.add(&flow);
        }
    }

    /// An instance that ended takes no command but its deletion: the task's status stays.
    pub fn an_ended_instance_refuses_every_command(taken: &mut Taken) {
        let mut flow = job_in(K::Running, "");
        flow.apply(Command::Abort {
            by: "olivia".into(),
            abort_parent: false,
        });
        let before = flow.inst.clone();
        for command in [
            Command::RetryTask {
                task: "t".into(),
                by: "olivia".into(),
            },
            Command::Abort {
                by: "olivia".into(),
                abort_parent: false,
            },
            Command::TimerFired {
                task: "t".into(),
                timer: TimerKind::JobRetry,
            },
            exited("t", 1, 0, std::time::Duration::from_secs(1), None),
        ] {
            assert!(matches!(
                flow.try_apply(command),
                Err(TransitionError::InstanceEnded(_))
            ));
            assert_eq!(flow.inst, before);
        }
        taken.add(&flow);
    }

    /// The start pipeline resumes at the stage a task waited at (after its predecessors, a
    /// breakpoint, its earliest start, a precondition, a prompt) and goes on to every outcome
    /// the table gives that status: the later stages' waits and ends, and the start of each kind.
    pub fn the_start_pipeline_resumes_at_the_stage_a_task_waited_at_and_reaches_every_later_outcome(
        taken: &mut Taken,
    ) {
        const PIPELINE: &[Cause] = &[
            Cause::Breakpoint,
            Cause::Calendar,
            Cause::EarliestStart,
            Cause::Inactive,
            Cause::PreconditionPending,
            Cause::ElseAction,
            Cause::LatestTime,
            Cause::Prompt,
            Cause::Dispatched,
            Cause::HumanTask,
            Cause::WaitForEvent,
            Cause::ShowView,
            Cause::Completed,
            Cause::Failed,
        ];
        let starts = [
            K::WaitingForPredecessor,
            K::Blocked,
            K::WaitingForStartTime,
            K::WaitingForPrecondition,
            K::WaitingForUserInput,
        ];
        for edge in
            lifecycle::edges().filter(|e| PIPELINE.contains(&e.cause) && starts.contains(&e.from))
        {
            let flow = through_pipeline(edge);
            assert_eq!(flow.status("t").kind(), edge.to, "{edge}");
            assert_took(&flow, edge.from, edge.cause, edge.to);
            taken.add(&flow);
        }
    }

    /// Runs task `t` to status `edge.from` of its start pipeline, then on to `edge.to`.
    fn through_pipeline(edge: Edge) -> Flow {
        // What `t` is and which controls lead to the outcome.
        let mut controls = match (edge.cause, edge.to) {
            (Cause::Breakpoint, _) => "breakpoint: true",
            (Cause::Calendar, K::EndedInactive) => "calendar: weekend",
            (Cause::Calendar, _) => "calendar: missing",
            (Cause::EarliestStart, _) => "earliest_start: +2h",
            (Cause::Inactive, _) => "active: false",
            (Cause::PreconditionPending, _) => {
                "preconditions: {check_interval: 1h, conditions: [{when: data.x > 5}]}"
            }
            (Cause::ElseAction, K::EndedSkipped) => "dependencies: {else: skip}",
            (Cause::ElseAction, _) => "dependencies: {else: block}",
            (Cause::LatestTime, K::EndedTimeout) => "latest_start: +10m",
            (Cause::LatestTime, _) => "latest_start: +10m\n    on_timeout: block",
            (Cause::Prompt, _) => "prompts: [{name: answer}]",
            (
                Cause::Dispatched
                | Cause::HumanTask
                | Cause::WaitForEvent
                | Cause::ShowView
                | Cause::Completed
                | Cause::Failed,
                _,
            ) => "",
            other => panic!("no scenario for {other:?}"),
        };
        let kind = match edge.cause {
            Cause::HumanTask => "kind: user\n    title: Review\n    owners: [sarah]",
            Cause::WaitForEvent => "kind: wait\n    event: e",
            // (The process is interactive, so that it may have a view.)
            Cause::ShowView => "kind: view\n    form: {answer: string}",
            Cause::Completed => "kind: set\n    set: {x: \"1\"}",
            Cause::Failed => "kind: set\n    set: {x: \"1 / data.x\"}",
            _ => "kind: job\n    command: ./t.sh",
        };
        let after = if edge.cause == Cause::ElseAction {
            "[{task: pre, status: ended_not_ok}]"
        } else {
            "[pre]"
        };
        // A precondition that waits again is the one `t` already waits at.
        let waits_again =
            edge.from == K::WaitingForPrecondition && edge.cause == Cause::PreconditionPending;
        if waits_again {
            controls = "";
        }
        let park = match edge.from {
            K::Blocked => "breakpoint: true",
            K::WaitingForStartTime => "earliest_start: +30m",
            K::WaitingForPrecondition => {
                "preconditions: {check_interval: 30m, conditions: [{when: data.go}]}"
            }
            K::WaitingForUserInput => "prompts: [{name: answer}]",
            _ => "",
        };
        let mut t = format!("  - id: t\n    {kind}\n    after: {after}");
        for line in [park, controls].into_iter().filter(|l| !l.is_empty()) {
            t.push_str(&format!("\n    {line}"));
        }
        let flip = "  - id: flip\n    kind: job\n    command: ./flip.sh";
        let mut flow = start(&format!("{}\n{t}\n{flip}", job("pre")));
        let release = flow.now + mins(30);
        if edge.from != K::WaitingForPredecessor {
            flow.exit("pre", 0);
            assert_eq!(flow.status("t").kind(), edge.from, "{edge}: t waits");
        }
        if edge.from == K::WaitingForPrecondition && !waits_again {
            flow.exit_after(
                "flip",
                0,
                std::time::Duration::from_secs(1),
                Some(json!({"go": true})),
            );
        }
        match edge.from {
            K::WaitingForPredecessor => {
                flow.wait(mins(30));
                flow.exit("pre", 0);
            }
            K::Blocked => {
                flow.wait(mins(30));
                flow.apply(Command::SetBreakpoint {
                    task: "t".into(),
                    enabled: false,
                    by: "olivia".into(),
                });
            }
            K::WaitingForUserInput => {
                flow.wait(mins(30));
                flow.apply(Command::ProvideInput {
                    task: "t".into(),
                    values: object(json!({"answer": "yes"})),
                    by: "olivia".into(),
                });
            }
            _ => {
                flow.run_until(release);
            }
        }
        flow
    }

    /// A task's run limit blocks it when its start comes round again, from wherever it starts:
    /// after its predecessors, a breakpoint, a precondition or a prompt.
    pub fn the_run_limit_blocks_a_task_at_its_start_from_every_status_it_starts_from(
        taken: &mut Taken,
    ) {
        let restart = "\n    max_runs: 1\n    postconditions: [{if: \"true\", then: restart}]";
        // After its predecessors: the restart waits for none.
        let mut flow = start(&format!("{}{restart}", job("t")));
        flow.exit("t", 0);
        assert_eq!(
            (flow.status("t"), flow.reason("t")),
            (TaskStatus::Blocked, Some(Reason::RunLimit { limit: 1 }))
        );
        assert_took(&flow, K::WaitingForPredecessor, Cause::RunLimit, K::Blocked);
        taken.add(&flow);
        // A breakpoint set while it ran stops the restart; cleared, the start meets the limit.
        let mut flow = start(&format!("{}{restart}", job("t")));
        flow.apply(Command::SetBreakpoint {
            task: "t".into(),
            enabled: true,
            by: "olivia".into(),
        });
        flow.exit("t", 0);
        flow.apply(Command::SetBreakpoint {
            task: "t".into(),
            enabled: false,
            by: "olivia".into(),
        });
        assert_took(&flow, K::Blocked, Cause::RunLimit, K::Blocked);
        taken.add(&flow);
        // Its own output makes the precondition fail; another job's makes it hold again.
        let mut flow = start(&format!("{}{restart}\n    preconditions: {{check_interval: 10m, conditions: [{{when: data.x == 0}}]}}\n{}", job("t"), job("flip")));
        flow.exit_after(
            "t",
            0,
            std::time::Duration::from_secs(1),
            Some(json!({"x": 1})),
        );
        assert_eq!(flow.status("t").kind(), K::WaitingForPrecondition);
        flow.exit_after(
            "flip",
            0,
            std::time::Duration::from_secs(1),
            Some(json!({"x": 0})),
        );
        let until = flow.now + mins(10);
        flow.run_until(until);
        assert_took(
            &flow,
            K::WaitingForPrecondition,
            Cause::RunLimit,
            K::Blocked,
        );
        taken.add(&flow);
        // Its own output clears the prompt's value; the input given again meets the limit.
        let mut flow = start(&format!(
            "{}{restart}\n    prompts: [{{name: answer}}]",
            job("t")
        ));
        flow.apply(Command::ProvideInput {
            task: "t".into(),
            values: object(json!({"answer": "a"})),
            by: "olivia".into(),
        });
        flow.exit_after(
            "t",
            0,
            std::time::Duration::from_secs(1),
            Some(json!({"answer": null})),
        );
        assert_eq!(flow.status("t").kind(), K::WaitingForUserInput);
        flow.apply(Command::ProvideInput {
            task: "t".into(),
            values: object(json!({"answer": "b"})),
            by: "olivia".into(),
        });
        assert_took(&flow, K::WaitingForUserInput, Cause::RunLimit, K::Blocked);
        taken.add(&flow);
    }

    /// A waiting `wait` task ends `ended_ok` when its event comes, `ended_not_ok` when its
    /// expressions refuse the payload, and `ended_timeout` when the event does not come in time.
    pub fn a_wait_task_ends_by_its_event_its_expressions_or_its_timeout(taken: &mut Taken) {
        for (n, to) in [(json!(3), K::EndedOk), (json!("three"), K::EndedNotOk)] {
            let mut flow = task_in(K::WaitingForEvent);
            flow.apply(event_e(n));
            assert_eq!(flow.status("t").kind(), to);
            assert_took(
                &flow,
                K::WaitingForEvent,
                if to == K::EndedOk {
                    Cause::Completed
                } else {
                    Cause::Failed
                },
                to,
            );
            taken.add(&flow);
        }
        let mut flow = task_in(K::WaitingForEvent);
        let until = flow.now + mins(61);
        flow.run_until(until);
        assert_took(
            &flow,
            K::WaitingForEvent,
            Cause::EventTimeout,
            K::EndedTimeout,
        );
        taken.add(&flow);
    }

    /// A decision's branch not taken ends its target skipped.
    pub fn a_branch_not_taken_skips_its_target(taken: &mut Taken) {
        let mut flow = start("  - id: d\n    kind: decision\n    branches: [{when: \"true\", to: [a]}]\n    otherwise: [b]\n  - id: a\n    kind: end\n  - id: b\n    kind: end");
        assert_eq!(flow.status("b"), TaskStatus::EndedSkipped);
        assert_took(
            &flow,
            K::WaitingForPredecessor,
            Cause::DeadPath,
            K::EndedSkipped,
        );
        flow.apply(Command::Abort {
            by: "olivia".into(),
            abort_parent: false,
        });
        taken.add(&flow);
    }

    /// An on-demand task nothing started ends `ended_inactive` with the instance.
    pub fn an_on_demand_task_nothing_started_ends_inactive_with_the_instance(taken: &mut Taken) {
        let mut flow = start_bare(&format!("{}\n{}", job("w"), on_demand("spare")));
        flow.exit("w", 0);
        assert_eq!(flow.status("spare"), TaskStatus::EndedInactive);
        assert_took(
            &flow,
            K::WaitingForPredecessor,
            Cause::NotTriggered,
            K::EndedInactive,
        );
        taken.add(&flow);
    }

    /// A successor blocked by a failed predecessor waits for it again when the predecessor is retried.
    pub fn retrying_a_failed_predecessor_makes_its_blocked_successor_wait_again(taken: &mut Taken) {
        let mut flow = start(&format!("{}\n{}", job("pre"), job_after("s", "pre")));
        flow.exit("pre", 1);
        assert_eq!(flow.status("s"), TaskStatus::Blocked);
        flow.apply(Command::RetryTask {
            task: "pre".into(),
            by: "olivia".into(),
        });
        assert_eq!(flow.status("s"), TaskStatus::WaitingForPredecessor);
        assert_took(
            &flow,
            K::Blocked,
            Cause::PredecessorRetried,
            K::WaitingForPredecessor,
        );
        taken.add(&flow);
    }

    /// A `{run: TASK}` action starts its task again from any end, and an on-demand task from its wait.
    pub fn an_action_starts_a_task_again_from_any_end(taken: &mut Taken) {
        let kick = "  - id: kick\n    kind: job\n    command: ./kick.sh\n    postconditions: [{if: \"true\", then: {run: t}}]";
        for kind in [
            K::EndedOk,
            K::EndedNotOk,
            K::EndedSkipped,
            K::EndedInactive,
            K::EndedTimeout,
            K::Canceled,
            K::Terminated,
            K::Expired,
        ] {
            let mut flow = match kind {
                K::Terminated | K::Expired => user_task_in(kind, "", kick),
                _ => job_in(kind, kick),
            };
            flow.exit("kick", 0);
            assert_took(&flow, kind, Cause::Triggered, K::WaitingForPredecessor);
            taken.add(&flow);
        }
        let mut flow = start(&format!("{}\n{kick}", on_demand("t")));
        flow.exit("kick", 0);
        assert!(matches!(flow.status("t"), TaskStatus::Running { .. }));
        assert_took(
            &flow,
            K::WaitingForPredecessor,
            Cause::Triggered,
            K::WaitingForPredecessor,
        );
        taken.add(&flow);
    }

    /// Sent back to a task before it (`task back`), a task goes back to waiting for its
    /// predecessors from every status it can be in once the flow reached it, its work stopped.
    pub fn a_task_sent_back_waits_again_from_every_status_the_flow_reached(taken: &mut Taken) {
        const PRE: &str = "  - id: pre\n    kind: end";
        const AFTER_PRE: &str = "\n    after: [pre]";
        let reached: Vec<K> = K::ALL
            .into_iter()
            .filter(|&k| lifecycle::allows(k, Cause::Rework, K::WaitingForPredecessor))
            .collect();
        assert!(
            !reached.contains(&K::WaitingForPredecessor),
            "a task the flow has not reached is not sent back"
        );
        for kind in reached {
            let mut flow = match kind {
                K::WaitingForEvent => start(&format!("{WAIT_T}{AFTER_PRE}\n{PRE}")),
                K::Ready
                | K::Claimed
                | K::Forwarded
                | K::Suspended
                | K::Escalated
                | K::Terminated
                | K::Expired => user_task_in(kind, AFTER_PRE.trim_start_matches('\n'), PRE),
                _ => job_in_behind(kind, AFTER_PRE, PRE),
            };
            flow.apply(Command::SendBack {
                task: "t".into(),
                to: "pre".into(),
                by: baton_core::people::Caller::new("chief").admin(),
            });
            assert_took(&flow, kind, Cause::Rework, K::WaitingForPredecessor);
            taken.add(&flow);
        }
    }

    /// A postcondition after any end a task's run can have (OK, not OK, timed out, skipped by
    /// its dependencies) may change the status, block the task or restart it.
    pub fn a_postcondition_changes_blocks_or_restarts_a_task_after_each_kind_of_end(
        taken: &mut Taken,
    ) {
        for action in ["{end: ended_ok}", "{end: ended_not_ok}", "block", "restart"] {
            let post = format!("\n    postconditions: [{{if: \"true\", then: {action}}}]");
            for from in [K::EndedOk, K::EndedNotOk, K::EndedTimeout, K::EndedSkipped] {
                let mut flow = match from {
                    K::EndedOk | K::EndedNotOk => {
                        let mut flow = start(&format!("{}{post}", job("t")));
                        flow.exit("t", if from == K::EndedOk { 0 } else { 1 });
                        flow
                    }
                    K::EndedTimeout => {
                        let mut flow = start(&format!(
                            "{}\n    earliest_start: +2h\n    latest_start: +1h{post}",
                            job("t")
                        ));
                        let until = flow.now + mins(120);
                        flow.run_until(until);
                        flow
                    }
                    _ => {
                        let mut flow = start(&format!("{}\n{}\n    after: [{{task: pre, status: ended_not_ok}}]\n    dependencies: {{else: skip}}{post}", job("pre"), job("t")));
                        flow.exit("pre", 0);
                        flow
                    }
                };
                let to = match action {
                    "{end: ended_ok}" => K::EndedOk,
                    "{end: ended_not_ok}" => K::EndedNotOk,
                    "block" => K::Blocked,
                    _ => K::WaitingForPredecessor,
                };
                assert_took(&flow, from, Cause::Postcondition, to);
                flow.apply(Command::Abort {
                    by: "olivia".into(),
                    abort_parent: false,
                });
                taken.add(&flow);
            }
        }
    }

    /// A job attempt that fails with retries left waits on a timer, runs again, and ends as
    /// its last attempt does; one whose environment cannot be computed at its retry ends not OK.
    pub fn a_failed_attempt_with_retries_left_waits_and_runs_again(taken: &mut Taken) {
        let mut flow = start(&format!("{}\n    retry: {{max: 1, delay: 1m}}", job("t")));
        flow.exit("t", 1);
        assert_eq!(flow.status("t").kind(), K::WaitingForRetry);
        let until = flow.now + mins(1);
        flow.run_until(until);
        assert_eq!(flow.status("t").kind(), K::Running);
        flow.exit("t", 1);
        assert_eq!(flow.status("t"), TaskStatus::EndedNotOk);
        assert_took(&flow, K::Running, Cause::RetryPending, K::WaitingForRetry);
        assert_took(&flow, K::WaitingForRetry, Cause::Dispatched, K::Running);
        assert_took(&flow, K::Running, Cause::Failed, K::EndedNotOk);
        taken.add(&flow);

        let mut flow = start(&format!("{}\n    retry: {{max: 1, delay: 1m}}\n    env: {{N: \"string(10 / (2 - task.attempts))\"}}", job("t")));
        flow.exit("t", 1);
        let until = flow.now + mins(1);
        flow.run_until(until);
        assert_eq!(flow.status("t"), TaskStatus::EndedNotOk);
        assert_took(&flow, K::WaitingForRetry, Cause::Failed, K::EndedNotOk);
        taken.add(&flow);

        let mut flow = job_in(K::Running, "");
        flow.exit("t", 0);
        assert_took(&flow, K::Running, Cause::Completed, K::EndedOk);
        taken.add(&flow);
    }

    /// A job whose worker was lost runs again as a new attempt.
    pub fn a_job_whose_worker_was_lost_runs_again_as_a_new_attempt(taken: &mut Taken) {
        let mut flow = job_in(K::Running, "");
        flow.apply(Command::RedispatchJob {
            task: "t".into(),
            attempt: 1,
        });
        assert!(matches!(
            flow.status("t"),
            TaskStatus::Running { attempt: 2, .. }
        ));
        assert_took(&flow, K::Running, Cause::Dispatched, K::Running);
        taken.add(&flow);
    }

    /// An external worker may end its job `ended_ok`, `ended_not_ok` or `ended_skipped`.
    pub fn an_external_worker_ends_a_job_with_the_status_it_chose(taken: &mut Taken) {
        for (status, to) in [
            (WorkerEndStatus::EndedOk, K::EndedOk),
            (WorkerEndStatus::EndedNotOk, K::EndedNotOk),
            (WorkerEndStatus::EndedSkipped, K::EndedSkipped),
        ] {
            let mut flow = start("  - id: t\n    kind: job\n    topic: checks");
            let report = WorkerReport::Ended {
                status,
                message: None,
                output: None,
            };
            flow.apply(Command::JobFinished {
                task: "t".into(),
                attempt: 1,
                outcome: JobOutcome::Reported {
                    worker: "w1".into(),
                    report,
                },
            });
            assert_took(&flow, K::Running, Cause::EndedByWorker, to);
            taken.add(&flow);
        }
    }

    /// The maximum runtime cancels the job or ends it with the status its action names.
    pub fn the_maximum_runtime_cancels_the_job_or_ends_it(taken: &mut Taken) {
        for (action, to) in [
            ("cancel", K::Canceled),
            ("{end: ended_ok}", K::EndedOk),
            ("{end: ended_not_ok}", K::EndedNotOk),
        ] {
            let mut flow = start(&format!(
                "{}\n    max_runtime: {{after: 1m, action: {action}}}",
                job("t")
            ));
            let until = flow.now + mins(2);
            flow.run_until(until);
            assert_took(&flow, K::Running, Cause::MaxRuntime, to);
            taken.add(&flow);
        }
    }

    /// A job that ends OK sooner than its minimum runtime ends as its action says, or is blocked.
    pub fn a_job_that_ends_before_its_minimum_runtime_takes_the_limits_action(taken: &mut Taken) {
        for (action, to) in [
            ("{end: ended_ok}", K::EndedOk),
            ("{end: ended_not_ok}", K::EndedNotOk),
            ("block", K::Blocked),
        ] {
            let mut flow = start(&format!(
                "{}\n    min_runtime: {{after: 1m, action: {action}}}",
                job("t")
            ));
            flow.exit("t", 0);
            assert_took(&flow, K::Running, Cause::MinRuntime, to);
            taken.add(&flow);
        }
    }

    /// The task shows each change of its human task: claimed, given back, forwarded, the
    /// follow-on claimed, suspended and resumed to where it was, escalated, restarted.
    pub fn the_task_follows_every_change_of_its_human_task(taken: &mut Taken) {
        let mut step = |from: K, act: &dyn Fn(&mut Flow), to: K| {
            let mut flow = user_task_in(from, "", "");
            act(&mut flow);
            assert_eq!(flow.status("t").kind(), to, "{from} -> {to}");
            assert_took(&flow, from, Cause::HumanTask, to);
            taken.add(&flow);
        };
        let suspend = |f: &mut Flow| by_chief(f, UserTaskCommand::Suspend { task: ORIGINAL });
        let restart = |f: &mut Flow| by_chief(f, UserTaskCommand::Restart { task: ORIGINAL });
        step(K::Ready, &|f| claim(f, sarah(), ORIGINAL), K::Claimed);
        step(K::Ready, &escalate, K::Escalated);
        step(K::Ready, &suspend, K::Suspended);
        step(
            K::Claimed,
            &|f| human(f, sarah(), UserTaskCommand::CancelClaim { task: ORIGINAL }),
            K::Ready,
        );
        step(K::Claimed, &forward, K::Forwarded);
        step(K::Claimed, &suspend, K::Suspended);
        step(K::Claimed, &escalate, K::Escalated);
        step(K::Forwarded, &|f| claim(f, paul(), FOLLOW_ON), K::Forwarded);
        step(K::Forwarded, &suspend, K::Suspended);
        step(K::Forwarded, &restart, K::Ready);
        step(
            K::Forwarded,
            &|f| {
                escalate(f);
                restart(f);
            },
            K::Escalated,
        );
        step(K::Escalated, &|f| claim(f, sarah(), ORIGINAL), K::Escalated);
        step(
            K::Escalated,
            &|f| {
                claim(f, sarah(), ORIGINAL);
                forward(f);
            },
            K::Forwarded,
        );
        step(K::Escalated, &suspend, K::Suspended);
        // Resumed, the chain is where it was suspended.
        for was in [K::Ready, K::Claimed, K::Forwarded, K::Escalated] {
            let mut flow = user_task_in(was, "", "");
            suspend(&mut flow);
            by_chief(&mut flow, UserTaskCommand::Resume { task: ORIGINAL });
            assert_eq!(flow.status("t").kind(), was);
            assert_took(&flow, K::Suspended, Cause::HumanTask, was);
            taken.add(&flow);
        }
    }

    /// The chain's end ends the task: completed or failed by the owner of its last task,
    /// whether the original was claimed, forwarded or escalated.
    pub fn the_end_of_the_human_task_chain_ends_the_task(taken: &mut Taken) {
        for from in [K::Claimed, K::Forwarded, K::Escalated] {
            for ok in [true, false] {
                let mut flow = user_task_in(from, "", "");
                let (who, task) = match from {
                    K::Forwarded => {
                        claim(&mut flow, paul(), FOLLOW_ON);
                        (paul(), FOLLOW_ON)
                    }
                    K::Escalated => {
                        claim(&mut flow, sarah(), ORIGINAL);
                        (sarah(), ORIGINAL)
                    }
                    _ => (sarah(), ORIGINAL),
                };
                if ok {
                    complete(&mut flow, who, task);
                    assert_took(&flow, from, Cause::Completed, K::EndedOk);
                } else {
                    fail(&mut flow, who, task);
                    assert_took(&flow, from, Cause::Failed, K::EndedNotOk);
                }
                taken.add(&flow);
            }
        }
    }

    /// The chain expires wherever it is (but suspended, when its timers wait): the task
    /// ends `expired`, or as `on_expiry` says.
    pub fn an_expired_chain_ends_the_task_as_on_expiry_says(taken: &mut Taken) {
        for (on_expiry, to) in [
            ("continue", K::Expired),
            ("{end: ended_ok}", K::EndedOk),
            ("{end: ended_not_ok}", K::EndedNotOk),
        ] {
            for from in [K::Ready, K::Claimed, K::Forwarded, K::Escalated] {
                let mut flow = user_task_in(
                    from,
                    &format!("    expires_after: 1h\n    on_expiry: {on_expiry}"),
                    "",
                );
                let until = flow.now + mins(120);
                flow.run_until(until);
                assert_eq!(flow.status("t").kind(), to);
                assert_took(&flow, from, Cause::Expired, to);
                taken.add(&flow);
            }
        }
    }

    /// Terminating the chain, or deleting its human task, ends the task `terminated` from every
    /// status of its human task; deleting the human task of a chain that already ended does too.
    pub fn terminating_or_deleting_the_human_task_ends_the_task_terminated(taken: &mut Taken) {
        for from in [
            K::Ready,
            K::Claimed,
            K::Forwarded,
            K::Suspended,
            K::Escalated,
        ] {
            let mut flow = user_task_in(from, "", "");
            by_chief(&mut flow, UserTaskCommand::Terminate { task: ORIGINAL });
            assert_took(&flow, from, Cause::Terminate, K::Terminated);
            taken.add(&flow);
        }
        for from in [
            K::Ready,
            K::Claimed,
            K::Forwarded,
            K::Suspended,
            K::Escalated,
            K::EndedOk,
            K::EndedNotOk,
            K::EndedSkipped,
            K::Terminated,
            K::Expired,
        ] {
            let mut flow = user_task_in(from, "", "");
            by_chief(&mut flow, UserTaskCommand::Delete { task: ORIGINAL });
            assert_eq!(flow.status("t"), TaskStatus::Terminated);
            assert_took(&flow, from, Cause::Delete, K::Terminated);
            taken.add(&flow);
        }
    }
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                scenarios::$name(&mut Taken::default());
            }
        )*
        /// Every scenario, for the coverage test.
        const ALL: &[(&str, fn(&mut Taken))] = &[$((stringify!($name), scenarios::$name)),*];
    };
}

scenarios! {
    an_operator_retries_a_task_in_exactly_the_statuses_the_table_allows,
    an_operator_skips_a_task_in_exactly_the_statuses_the_table_allows,
    aborting_cancels_every_task_that_has_not_ended,
    a_command_on_an_ended_task_is_refused_and_changes_nothing,
    an_ended_instance_refuses_every_command,
    the_start_pipeline_resumes_at_the_stage_a_task_waited_at_and_reaches_every_later_outcome,
    the_run_limit_blocks_a_task_at_its_start_from_every_status_it_starts_from,
    a_branch_not_taken_skips_its_target,
    an_on_demand_task_nothing_started_ends_inactive_with_the_instance,
    retrying_a_failed_predecessor_makes_its_blocked_successor_wait_again,
    an_action_starts_a_task_again_from_any_end,
    a_postcondition_changes_blocks_or_restarts_a_task_after_each_kind_of_end,
    a_task_sent_back_waits_again_from_every_status_the_flow_reached,
    a_failed_attempt_with_retries_left_waits_and_runs_again,
    a_job_whose_worker_was_lost_runs_again_as_a_new_attempt,
    an_external_worker_ends_a_job_with_the_status_it_chose,
    the_maximum_runtime_cancels_the_job_or_ends_it,
    a_job_that_ends_before_its_minimum_runtime_takes_the_limits_action,
    the_task_follows_every_change_of_its_human_task,
    the_end_of_the_human_task_chain_ends_the_task,
    an_expired_chain_ends_the_task_as_on_expiry_says,
    terminating_or_deleting_the_human_task_ends_the_task_terminated,
    a_wait_task_ends_by_its_event_its_expressions_or_its_timeout,
}

// ---------------------------------------------------------------------------------------
// The table as a whole

#[test]
fn every_edge_of_the_lifecycle_table_is_taken_by_a_scenario() {
    let mut taken = Taken::default();
    for (_, scenario) in ALL {
        scenario(&mut taken);
    }
    let table: BTreeSet<Edge> = lifecycle::edges().collect();
    let untaken: Vec<String> = table
        .difference(&taken.0)
        .map(ToString::to_string)
        .collect();
    assert!(
        untaken.is_empty(),
        "{} of the table's {} edges are taken by no scenario:\n{}",
        untaken.len(),
        table.len(),
        untaken.join("\n")
    );
    // (Every edge a scenario took is in the table: `edges_of` refuses one that is not.)
}

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
        assert!(
            lifecycle::edges().any(|e| e.from == status || e.to == status),
            "{status} is in no edge"
        );
    }
    for cause in Cause::ALL {
        assert!(
            lifecycle::edges().any(|e| e.cause == cause),
            "{cause} is in no edge"
        );
    }
}

/// Nothing leaves `ended_ok` but an action or a postcondition of the task's own, the flow
/// returning to a task before it (a loop, `task back`), or the deletion of its human task: no
/// operator retries it, and the instance's end leaves it.
#[test]
fn an_ended_ok_task_moves_only_by_its_own_rules() {
    let causes: BTreeSet<Cause> = lifecycle::edges()
        .filter(|e| e.from == K::EndedOk)
        .map(|e| e.cause)
        .collect();
    assert_eq!(
        causes,
        BTreeSet::from([
            Cause::Postcondition,
            Cause::Triggered,
            Cause::Rework,
            Cause::Delete
        ])
    );
}

#[test]
fn the_readme_lists_the_task_lifecycle_as_the_table_has_it() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).expect("the README");
    let (begin, end) = (
        "<!-- lifecycle table: generated from crates/core/src/lifecycle.rs -->\n",
        "<!-- end of lifecycle table -->",
    );
    let start = readme
        .find(begin)
        .map(|i| i + begin.len())
        .expect("the README has the lifecycle section's markers");
    let stop = readme[start..]
        .find(end)
        .map(|i| start + i)
        .expect("the end marker");
    let expected = lifecycle::markdown();
    assert!(readme[start..stop] == expected, "the README's task lifecycle differs from the table; replace the text between the markers with:\n{expected}");
}

#[test]
fn the_cause_of_a_change_is_read_from_its_status_and_reason() {
    let retry = Reason::Operator {
        action: "retry".into(),
        by: "olivia".into(),
    };
    assert_eq!(
        Cause::of(&TaskStatus::WaitingForPredecessor, Some(&retry)),
        Some(Cause::Retry)
    );
    assert_eq!(
        Cause::of(&TaskStatus::WaitingForPredecessor, None),
        Some(Cause::PredecessorRetried)
    );
    let not_met = Reason::PreconditionNotMet {
        condition: "data.go".into(),
        action: "wait".into(),
    };
    assert_eq!(
        Cause::of(
            &TaskStatus::WaitingForPrecondition { next_check: t0() },
            Some(&not_met)
        ),
        Some(Cause::PreconditionPending)
    );
    assert_eq!(
        Cause::of(&TaskStatus::EndedSkipped, Some(&not_met)),
        Some(Cause::ElseAction)
    );
    let post = Reason::ExpressionFailed {
        field: "postconditions[0].if".into(),
        message: "no such key".into(),
    };
    assert_eq!(
        Cause::of(&TaskStatus::EndedNotOk, Some(&post)),
        Some(Cause::Postcondition)
    );
    let set = Reason::ExpressionFailed {
        field: "set.x".into(),
        message: "no such key".into(),
    };
    assert_eq!(
        Cause::of(&TaskStatus::EndedNotOk, Some(&set)),
        Some(Cause::Failed)
    );
    // Reasons that only waiting tasks, instances and history events carry are no cause.
    assert_eq!(
        Cause::of(
            &TaskStatus::Running {
                attempt: 2,
                since: t0()
            },
            Some(&Reason::EngineRestarted)
        ),
        None
    );
    assert_eq!(Cause::of(&TaskStatus::Blocked, None), None);
}

#[test]
fn a_change_the_table_does_not_hold_is_named_with_its_edge() {
    let skip = Reason::Operator {
        action: "skip".into(),
        by: "olivia".into(),
    };
    let refused =
        lifecycle::edge(&TaskStatus::EndedOk, &TaskStatus::EndedSkipped, Some(&skip)).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the task lifecycle has no edge ended_ok --skip--> ended_skipped"
    );
}
