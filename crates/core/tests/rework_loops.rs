//! Rework loops and sending a task back: a decision's `back_to` branch, and a person's `task
//! back`, return the flow to an earlier task, which runs again with the tasks after it. Each
//! run is a new attempt, history keeps every run, data stays as the loop left it; the loop
//! limit blocks the decision; joins and the predecessor-status rules hold on every pass.

mod support;

use baton_core::people::Caller;
use baton_core::user_task::{Actor, HumanTaskId, UserTaskCommand};
use baton_core::{Command, Effect, EventKind, InstanceStatus, Reason, TaskStatus, TransitionError};
use serde_json::json;
use support::*;

/// draft → review → check: approved goes on to publish, else back to draft (at most `max`).
fn review_loop(max: u32) -> Vec<String> {
    let text = format!(
        "id: paper
data:
  approved: {{type: boolean, default: false}}
  drafts: {{type: integer, default: 0}}
tasks:
  - id: draft
    kind: set
    set: {{drafts: data.drafts + 1}}
{}
    after: [draft]
  - id: check
    kind: decision
    after: [review]
    branches:
      - when: data.approved
        to: [publish]
      - when: '!data.approved'
        back_to: draft
        max_loops: {max}
{}",
        job("review"),
        job("publish")
    );
    text.lines().map(str::to_owned).collect()
}

fn start(lines: &[String]) -> Flow {
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    Flow::start(&lines).0
}

fn review(flow: &mut Flow, approved: bool) -> baton_core::Transition {
    flow.exit_after(
        "review",
        0,
        std::time::Duration::from_secs(1),
        Some(json!({"approved": approved})),
    )
}

fn went_back(flow: &Flow, task: &str) -> Vec<(String, Vec<String>, Option<String>)> {
    task_events(&flow.history, task)
        .into_iter()
        .filter_map(|k| match k {
            EventKind::WentBack { to, tasks, by } => Some((to.clone(), tasks.clone(), by.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_loop_branch_runs_the_earlier_task_again_with_the_tasks_after_it() {
    let mut flow = start(&review_loop(3));
    assert_eq!(flow.inst.data["drafts"], json!(1));
    review(&mut flow, false);
    // The draft ran again (in the same step: a `set` task), and review is out again as attempt 2.
    assert_eq!(
        flow.inst.data["drafts"],
        json!(2),
        "data stays as the loop left it, and the draft adds to it"
    );
    assert_eq!(flow.attempt("review"), 2);
    assert_eq!(
        flow.status("publish"),
        TaskStatus::WaitingForPredecessor,
        "publish waits: the decision has not decided forward"
    );
    // Publish had not left its wait, so it is not among the tasks that run again.
    assert_eq!(
        went_back(&flow, "check"),
        [(
            "draft".into(),
            vec!["draft".into(), "review".into(), "check".into()],
            None
        )]
    );
    assert_eq!(flow.reason("draft"), None, "the draft ended OK again");
    assert_eq!(flow.task("check").loops, 1);
    review(&mut flow, true);
    assert!(matches!(flow.status("publish"), TaskStatus::Running { .. }));
    flow.exit("publish", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
    // History keeps every run.
    assert_eq!(
        status_trail(&flow.history, "review"),
        [
            "running",
            "ended_ok",
            "waiting_for_predecessor",
            "running",
            "ended_ok"
        ]
    );
    assert_eq!(
        status_trail(&flow.history, "check"),
        ["ended_ok", "waiting_for_predecessor", "ended_ok"]
    );
    assert_eq!(
        (
            flow.task("draft").attempts,
            flow.task("review").attempts,
            flow.task("publish").attempts
        ),
        (2, 2, 1)
    );
}

#[test]
fn the_tasks_a_loop_resets_record_the_loop_and_its_pass() {
    let mut flow = start(&review_loop(3));
    review(&mut flow, false);
    let reset: Vec<Option<Reason>> = flow
        .history
        .iter()
        .filter(|e| e.task.as_deref() == Some("review"))
        .filter_map(|e| match &e.kind {
            EventKind::TaskStatusChanged {
                to: TaskStatus::WaitingForPredecessor,
                reason,
            } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        reset,
        [Some(Reason::LoopedBack {
            decision: "check".into(),
            pass: 1,
            max: 3
        })]
    );
}

#[test]
fn beyond_its_max_loops_the_decision_is_blocked_with_an_incident() {
    let mut flow = start(&review_loop(2));
    review(&mut flow, false);
    review(&mut flow, false);
    let tr = review(&mut flow, false);
    assert_eq!(flow.status("check"), TaskStatus::Blocked);
    assert_eq!(
        flow.reason("check"),
        Some(Reason::LoopLimit {
            to: "draft".into(),
            limit: 2
        })
    );
    let reached: Vec<&Effect> = tr
        .effects
        .iter()
        .filter(|e| matches!(e, Effect::LoopLimitReached { .. }))
        .collect();
    assert_eq!(
        reached,
        [&Effect::LoopLimitReached {
            task: "check".into(),
            to: "draft".into(),
            limit: 2
        }]
    );
    assert_eq!(flow.inst.status, InstanceStatus::Blocked);
    assert_eq!(
        flow.task("draft").attempts,
        3,
        "the draft ran once and went back twice"
    );
    // An operator's retry gives the loop a fresh count: it goes back again.
    flow.apply(Command::RetryTask {
        task: "check".into(),
        by: "olivia".into(),
    });
    assert_eq!(flow.task("check").loops, 1);
    assert_eq!(flow.attempt("review"), 4);
}

#[test]
fn skipping_a_decision_its_loop_limit_blocked_goes_on_forward() {
    let mut flow = start(&review_loop(1));
    review(&mut flow, false);
    review(&mut flow, false);
    assert_eq!(flow.status("check"), TaskStatus::Blocked);
    flow.apply(Command::SkipTask {
        task: "check".into(),
        by: "olivia".into(),
    });
    assert!(
        matches!(flow.status("publish"), TaskStatus::Running { .. }),
        "an operator's skip is an end like any other: the successors run"
    );
}

#[test]
fn a_join_with_a_task_outside_the_loop_waits_only_for_the_loop_task_again() {
    let lines = [
        "id: joined",
        "data:",
        "  ok: {type: boolean, default: false}",
        "tasks:",
        &job("side"),
        &job("draft"),
        "  - id: join",
        "    kind: set",
        "    after: [draft, side]",
        "    set: {ok: data.ok}",
        "  - id: check",
        "    kind: decision",
        "    after: [join]",
        "    branches: [{when: '!data.ok', back_to: draft}]",
        "    otherwise: [done]",
        "  - id: done",
        "    kind: end",
    ];
    let (mut flow, _) = Flow::start(&lines);
    flow.exit("side", 0);
    flow.exit("draft", 0);
    // Back to draft: the join waits for the draft again, not for `side`, which keeps its end.
    assert_eq!(flow.attempt("draft"), 2);
    assert_eq!(flow.status("side"), TaskStatus::EndedOk);
    assert_eq!(flow.status("join"), TaskStatus::WaitingForPredecessor);
    assert_eq!(
        flow.reason("join"),
        Some(Reason::PredecessorsPending {
            tasks: vec!["draft".into()]
        })
    );
    flow.exit_after(
        "draft",
        0,
        std::time::Duration::from_secs(1),
        Some(json!({"ok": true})),
    );
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
    assert_eq!(
        (flow.task("side").attempts, flow.task("join").attempts),
        (1, 2)
    );
}

#[test]
fn a_task_beside_the_loop_runs_once() {
    let lines = [
        "id: beside",
        "data:",
        "  ok: {type: boolean, default: false}",
        "tasks:",
        &job("draft"),
        &job_after("notify", "draft"),
        "  - id: check",
        "    kind: decision",
        "    after: [draft]",
        "    branches: [{when: '!data.ok', back_to: draft}]",
        "    otherwise: [done]",
        "  - id: done",
        "    kind: end",
    ];
    let (mut flow, _) = Flow::start(&lines);
    flow.exit("draft", 0);
    flow.exit("notify", 0);
    assert_eq!(flow.attempt("draft"), 2);
    assert_eq!(
        flow.status("notify"),
        TaskStatus::EndedOk,
        "notify is after the draft but does not lead to the decision"
    );
    flow.exit_after(
        "draft",
        0,
        std::time::Duration::from_secs(1),
        Some(json!({"ok": true})),
    );
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
    assert_eq!(flow.task("notify").attempts, 1);
}

#[test]
fn a_dead_path_inside_the_loop_is_decided_again_on_each_pass() {
    let lines = [
        "id: paths",
        "data:",
        "  big: {type: boolean, default: true}",
        "  ok: {type: boolean, default: false}",
        "tasks:",
        &job("draft"),
        "  - id: size",
        "    kind: decision",
        "    after: [draft]",
        "    branches: [{when: data.big, to: [split]}]",
        "    otherwise: [small]",
        &job("split"),
        &job("small"),
        "  - id: check",
        "    kind: decision",
        "    after: [split, small]",
        "    branches: [{when: '!data.ok', back_to: draft}]",
        "    otherwise: [done]",
        "  - id: done",
        "    kind: end",
    ];
    let (mut flow, _) = Flow::start(&lines);
    flow.exit_after(
        "draft",
        0,
        std::time::Duration::from_secs(1),
        Some(json!({"big": true})),
    );
    assert_eq!(flow.status("small"), TaskStatus::EndedSkipped);
    flow.exit_after(
        "split",
        0,
        std::time::Duration::from_secs(1),
        Some(json!({"big": false})),
    );
    // Second pass: the other branch of `size`.
    assert_eq!(flow.status("small"), TaskStatus::WaitingForPredecessor);
    flow.exit_after(
        "draft",
        0,
        std::time::Duration::from_secs(1),
        Some(json!({"ok": true})),
    );
    assert_eq!(flow.status("split"), TaskStatus::EndedSkipped);
    flow.exit("small", 0);
    assert_eq!(flow.inst.status, InstanceStatus::Completed);
}

#[test]
fn a_loop_inside_a_loop_counts_its_loops_afresh_on_each_outer_pass() {
    let lines = [
        "id: nested",
        "data:",
        "  inner: {type: boolean, default: false}",
        "  outer: {type: boolean, default: false}",
        "tasks:",
        &job("plan"),
        &job_after("write", "plan"),
        "  - id: proof",
        "    kind: decision",
        "    after: [write]",
        "    branches: [{when: '!data.inner', back_to: write, max_loops: 1}]",
        "    otherwise: [sign]",
        &job("sign"),
        "  - id: approve",
        "    kind: decision",
        "    after: [sign]",
        "    branches: [{when: '!data.outer', back_to: plan, max_loops: 1}]",
        "    otherwise: [done]",
        "  - id: done",
        "    kind: end",
    ];
    let (mut flow, _) = Flow::start(&lines);
    flow.exit("plan", 0);
    flow.exit("write", 0);
    assert_eq!(flow.task("proof").loops, 1);
    flow.exit_after(
        "write",
        0,
        std::time::Duration::from_secs(1),
        Some(json!({"inner": true})),
    );
    flow.exit_after(
        "sign",
        0,
        std::time::Duration::from_secs(1),
        Some(json!({"inner": false})),
    );
    // The outer loop went back to plan: the inner decision may loop once more on this pass.
    assert_eq!(flow.task("proof").loops, 0);
    flow.exit("plan", 0);
    flow.exit("write", 0);
    assert_eq!(
        flow.task("proof").loops,
        1,
        "the inner loop went back once more"
    );
    assert_eq!(flow.attempt("write"), 4);
    flow.exit_after(
        "write",
        0,
        std::time::Duration::from_secs(1),
        Some(json!({"inner": true})),
    );
    flow.exit("sign", 0);
    // The outer loop went back its one time already.
    assert_eq!(
        flow.reason("approve"),
        Some(Reason::LoopLimit {
            to: "plan".into(),
            limit: 1
        })
    );
}

// ---------------------------------------------------------------------------------------
// Sending a task back

const SEND_BACK: &[&str] = &[
    "id: claim",
    "tasks:",
    "  - id: intake",
    "    kind: job",
    "    command: ./intake.sh",
    "  - id: draft",
    "    kind: job",
    "    command: ./draft.sh",
    "    after: [intake]",
    "  - id: review",
    "    kind: user",
    "    title: Review the draft",
    "    owners: [sarah]",
    "    administrators: [chief]",
    "    after: [draft]",
    "  - id: pay",
    "    kind: job",
    "    command: ./pay.sh",
    "    after: [review]",
];

fn at_review() -> Flow {
    let (mut flow, _) = Flow::start(SEND_BACK);
    flow.exit("intake", 0);
    flow.exit("draft", 0);
    assert_eq!(flow.status("review"), TaskStatus::Ready);
    flow
}

fn back(task: &str, to: &str, by: Caller) -> Command {
    Command::SendBack {
        task: task.into(),
        to: to.into(),
        by,
    }
}

#[test]
fn a_potential_owner_sends_a_review_back_to_the_draft() {
    let mut flow = at_review();
    flow.apply(back("review", "draft", Caller::new("sarah")));
    assert_eq!(flow.attempt("draft"), 2);
    assert_eq!(flow.status("review"), TaskStatus::WaitingForPredecessor);
    assert_eq!(
        flow.status("intake"),
        TaskStatus::EndedOk,
        "a task before the one sent back to is untouched"
    );
    assert_eq!(
        went_back(&flow, "review"),
        [(
            "draft".into(),
            vec!["draft".into(), "review".into()],
            Some("sarah".into())
        )]
    );
    // The review's human task was terminated with it; the next pass offers a new one.
    assert_eq!(
        status_trail(&flow.history, "review"),
        ["ready", "waiting_for_predecessor"]
    );
    flow.exit("draft", 0);
    assert_eq!(flow.status("review"), TaskStatus::Ready);
    flow.apply(Command::UserTask {
        task: "review".into(),
        actor: Actor::User(Caller::new("sarah")),
        command: UserTaskCommand::Claim {
            task: HumanTaskId::ORIGINAL,
        },
    });
    flow.apply(Command::UserTask {
        task: "review".into(),
        actor: Actor::User(Caller::new("sarah")),
        command: UserTaskCommand::Complete {
            task: HumanTaskId::ORIGINAL,
            output: Default::default(),
        },
    });
    assert!(matches!(flow.status("pay"), TaskStatus::Running { .. }));
}

#[test]
fn an_administrator_sends_a_job_back_and_its_running_attempt_is_canceled() {
    let mut flow = at_review();
    flow.apply(back("review", "draft", Caller::new("chief")));
    // The draft runs again: sent back from the draft itself to intake, its attempt is canceled.
    let tr = flow.apply(back("draft", "intake", Caller::new("root").admin()));
    assert_eq!(canceled(&tr), [("draft", 2)]);
    assert_eq!(dispatched(&tr), ["intake"]);
    assert_eq!(
        (flow.status("draft"), flow.status("review")),
        (
            TaskStatus::WaitingForPredecessor,
            TaskStatus::WaitingForPredecessor
        )
    );
}

#[test]
fn sending_back_is_refused_and_changes_nothing_when_the_rules_say_no() {
    let flow = at_review();
    let refused = |command: Command| {
        let mut copy = Flow {
            def: flow.def.clone(),
            inst: flow.inst.clone(),
            history: Vec::new(),
            now: flow.now,
            knowledge: flow.knowledge.clone(),
            timers: Default::default(),
        };
        let before = copy.inst.clone();
        let error = copy.try_apply(command).expect_err("refused");
        assert_eq!(copy.inst, before, "a refused command changes nothing");
        error
    };
    // `pay` comes after the review, not before it.
    assert!(matches!(
        refused(back("review", "pay", Caller::new("sarah"))),
        TransitionError::NotBefore { .. }
    ));
    // A task does not precede itself.
    assert!(matches!(
        refused(back("review", "review", Caller::new("sarah"))),
        TransitionError::NotBefore { .. }
    ));
    // `pay` has not been reached.
    assert!(matches!(
        refused(back("pay", "draft", Caller::new("root").admin())),
        TransitionError::NotReached { .. }
    ));
    // Neither an owner of the review nor an administrator.
    assert!(matches!(
        refused(back("review", "draft", Caller::new("paul"))),
        TransitionError::NotAllowedToSendBack { .. }
    ));
    // Only administrators send back a task that is not a user task.
    assert!(matches!(
        refused(back("draft", "intake", Caller::new("sarah"))),
        TransitionError::NotAllowedToSendBack { .. }
    ));
    assert!(matches!(
        refused(back("review", "nothing", Caller::new("sarah"))),
        TransitionError::UnknownTask(_)
    ));
}

#[test]
fn an_ended_instance_cannot_be_sent_back() {
    let mut flow = at_review();
    flow.apply(Command::Abort {
        by: "olivia".into(),
        abort_parent: false,
    });
    let error = flow
        .try_apply(back("review", "draft", Caller::new("root").admin()))
        .expect_err("refused");
    assert!(matches!(
        error,
        TransitionError::InstanceEnded(InstanceStatus::Aborted)
    ));
}

/// The README's rework-loop recipe deploys, and a rejection sends the draft back for revision.
#[test]
fn the_readmes_rework_loop_recipe_goes_back_on_a_rejection() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("the README");
    let recipe = readme
        .split("##### Recipe: a rework loop")
        .nth(1)
        .expect("the recipe");
    let yaml = recipe
        .split("```yaml\n")
        .nth(1)
        .and_then(|r| r.split("```").next())
        .expect("its YAML");
    let lines: Vec<&str> = yaml.lines().collect();
    let (mut flow, _) = Flow::start(&lines);
    flow.exit("revise", 0);
    let editor = || Actor::User(Caller::new("mary").in_group("editors"));
    flow.apply(Command::UserTask {
        task: "review".into(),
        actor: editor(),
        command: UserTaskCommand::Claim {
            task: HumanTaskId::ORIGINAL,
        },
    });
    let output = object(json!({"approved": false, "comments": "shorter, please"}));
    flow.apply(Command::UserTask {
        task: "review".into(),
        actor: editor(),
        command: UserTaskCommand::Complete {
            task: HumanTaskId::ORIGINAL,
            output,
        },
    });
    assert_eq!(flow.attempt("revise"), 2);
    assert_eq!(flow.inst.data["comments"], json!("shorter, please"));
}
