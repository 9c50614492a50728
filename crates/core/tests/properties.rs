//! Property tests of the transition function: random acyclic definitions (written as YAML, as
//! a user would) driven by random worker and operator commands. After every step the instance
//! must be in a legal state, and no task may be lost; a run in which every job succeeds
//! always completes. The seed is fixed so that every run of the suite is the same.

use std::collections::BTreeMap;

use baton_core::definition::{Definition, DependencyMatch};
use baton_core::{
    apply, parse_definition, start, Command, Effect, Event, Instance, InstanceStatus, JobOutcome,
    TaskStatus, TransitionError,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use serde_json::{json, Map};

// ---------------------------------------------------------------------------------------
// Random definitions

/// The random choices behind one task; turned into YAML by [`definition_yaml`].
#[derive(Debug, Clone)]
struct TaskSpec {
    /// 0 job, 1 set, 2 decision, 3 end.
    kind: u8,
    /// Bit j: the task runs after task j (only earlier tasks count, so the graph has no cycle).
    after: u8,
    /// Two bits per predecessor: 0-1 the default `any_ok`, 2 `any_end`, 3 `ended_not_ok`.
    statuses: u16,
    /// 0 block, 1 skip, 2 abort.
    else_action: u8,
    match_one: bool,
    terminate: bool,
    /// Conditions and targets of a decision.
    decision: u16,
}

fn task_spec() -> impl Strategy<Value = TaskSpec> {
    let kind = prop::sample::select(vec![0u8, 0, 0, 1, 2, 2, 3]);
    (
        kind,
        any::<u8>(),
        any::<u16>(),
        0..3u8,
        any::<bool>(),
        prop::bool::weighted(0.1),
        any::<u16>(),
    )
        .prop_map(
            |(kind, after, statuses, else_action, match_one, terminate, decision)| TaskSpec {
                kind,
                after,
                statuses,
                else_action,
                match_one,
                terminate,
                decision,
            },
        )
}

const CONDITIONS: &[&str] = &[
    "data.n > 2",
    "data.n % 2 == 0",
    "true",
    "false",
    "tasks.t0.status == 'ended_ok'",
];

/// Writes the definition. Dependencies are chosen so that a run in which nothing fails can
/// always finish: a dependency that waits for a failure (`ended_not_ok`) is skipped when
/// there is none, and every decision has an `otherwise`.
fn definition_yaml(specs: &[TaskSpec]) -> String {
    let n = specs.len();
    let mut y = String::from("id: random\ndata:\n  n: {type: integer, default: 0}\ntasks:\n");
    for (i, spec) in specs.iter().enumerate() {
        let mut kind = spec.kind;
        if kind == 2 && i + 1 == n {
            kind = 1; // a decision needs a later task to lead to
        }
        y += &format!("  - id: t{i}\n");
        let preds: Vec<usize> = (0..i)
            .filter(|j| spec.after & (1 << (j % 8)) != 0)
            .collect();
        let mut expects_failure = false;
        if !preds.is_empty() {
            y += "    after:\n";
            for (k, &p) in preds.iter().enumerate() {
                match (spec.statuses >> (2 * (k % 8))) & 3 {
                    2 => y += &format!("      - {{task: t{p}, status: any_end}}\n"),
                    3 => {
                        expects_failure = true;
                        y += &format!("      - {{task: t{p}, status: ended_not_ok}}\n");
                    }
                    _ => y += &format!("      - t{p}\n"),
                }
            }
            let else_action = if expects_failure {
                "skip"
            } else {
                ["block", "skip", "abort"][spec.else_action as usize]
            };
            let matching = if spec.match_one { "one" } else { "all" };
            y += &format!("    dependencies: {{match: {matching}, else: {else_action}}}\n");
        }
        match kind {
            0 => {
                y += &format!(
                    "    kind: job\n    command: [./t{i}.sh]\n    env: {{N: string(data.n)}}\n"
                )
            }
            1 => y += "    kind: set\n    set: {n: data.n + 1}\n",
            2 => {
                let later = n - i - 1;
                let target = |bits: u16| format!("t{}", i + 1 + (bits as usize % later));
                let d = spec.decision;
                y += &format!(
                    "    kind: decision\n    mode: {}\n    branches:\n",
                    if d & 1 == 0 { "first" } else { "all" }
                );
                y += &format!(
                    "      - when: \"{}\"\n        to: [{}]\n",
                    CONDITIONS[(d >> 1) as usize % CONDITIONS.len()],
                    target(d >> 4)
                );
                if d & 2 == 0 {
                    y += &format!(
                        "      - when: \"{}\"\n        to: [{}]\n",
                        CONDITIONS[(d >> 2) as usize % CONDITIONS.len()],
                        target(d >> 8)
                    );
                }
                y += &format!("    otherwise: [{}]\n", target(d >> 12));
            }
            _ => y += &format!("    kind: end\n    terminate: {}\n", spec.terminate),
        }
    }
    y
}

// ---------------------------------------------------------------------------------------
// Random commands

#[derive(Debug, Clone, Copy)]
enum Op {
    /// Finish one running job with this exit code (and some output on success).
    Finish {
        pick: u16,
        code: i32,
    },
    /// A result for an attempt that is not running.
    Stale {
        pick: u16,
    },
    Redispatch {
        pick: u16,
    },
    Retry {
        pick: u16,
    },
    Skip {
        pick: u16,
    },
    Abort,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<u16>(), prop::sample::select(vec![0, 0, 1, 2])).prop_map(|(pick, code)| Op::Finish { pick, code }),
        1 => any::<u16>().prop_map(|pick| Op::Stale { pick }),
        2 => any::<u16>().prop_map(|pick| Op::Redispatch { pick }),
        2 => any::<u16>().prop_map(|pick| Op::Retry { pick }),
        2 => any::<u16>().prop_map(|pick| Op::Skip { pick }),
        1 => Just(Op::Abort),
    ]
}

// ---------------------------------------------------------------------------------------
// A driver that plays the engine: it tracks the jobs it was asked to run.

struct Driver {
    def: Definition,
    inst: Instance,
    now: DateTime<Utc>,
    /// Outstanding jobs: task id -> attempt, from `RunJob` effects not yet finished or canceled.
    jobs: BTreeMap<String, u32>,
    history: Vec<Event>,
}

impl Driver {
    fn start(def: Definition) -> Result<Self, TestCaseError> {
        let now = Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap();
        let tr = start(&def, "i-1".into(), Map::new(), now)
            .map_err(|e| TestCaseError::fail(format!("start refused: {e}")))?;
        let mut d = Driver {
            def,
            inst: tr.instance.clone(),
            now,
            jobs: BTreeMap::new(),
            history: Vec::new(),
        };
        d.record(1, &tr.events, &tr.effects, None)?;
        d.check()?;
        Ok(d)
    }

    fn running(&self) -> Vec<(usize, u32)> {
        self.inst
            .tasks
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match t.status {
                TaskStatus::Running { attempt, .. } => Some((i, attempt)),
                _ => None,
            })
            .collect()
    }

    fn id(&self, i: usize) -> String {
        self.def.tasks[i].id.clone()
    }

    /// Applies a command; a refused command must change nothing and is reported as `Err`.
    fn step(&mut self, command: Command) -> Result<Result<(), TransitionError>, TestCaseError> {
        self.now += Duration::seconds(1);
        let first_seq = self.inst.next_seq;
        let redispatched = match &command {
            Command::RedispatchJob { task, .. } => Some(task.clone()),
            _ => None,
        };
        let finished = match &command {
            Command::JobFinished { task, attempt, .. } => Some((task.clone(), *attempt)),
            _ => None,
        };
        match apply(&self.def, &self.inst, command, self.now) {
            Err(e) => {
                if self.inst.status.is_terminal() {
                    prop_assert_eq!(
                        &e,
                        &TransitionError::InstanceEnded(self.inst.status),
                        "a terminal instance refuses with InstanceEnded"
                    );
                }
                Ok(Err(e))
            }
            Ok(tr) => {
                prop_assert!(
                    !self.inst.status.is_terminal(),
                    "a terminal instance accepted a command"
                );
                if let Some((task, attempt)) = finished {
                    prop_assert_eq!(
                        self.jobs.remove(&task),
                        Some(attempt),
                        "a finished job was one the driver ran"
                    );
                }
                self.inst = tr.instance.clone();
                self.record(first_seq, &tr.events, &tr.effects, redispatched)?;
                self.check()?;
                Ok(Ok(()))
            }
        }
    }

    fn record(
        &mut self,
        first_seq: u64,
        events: &[Event],
        effects: &[Effect],
        redispatched: Option<String>,
    ) -> Result<(), TestCaseError> {
        for (k, e) in events.iter().enumerate() {
            prop_assert_eq!(
                e.seq,
                first_seq + k as u64,
                "history seq is gap-free and increasing"
            );
            prop_assert_eq!(e.at, self.now, "events carry the injected time");
        }
        prop_assert_eq!(self.inst.next_seq, first_seq + events.len() as u64);
        self.history.extend(events.iter().cloned());
        for effect in effects {
            match effect {
                Effect::RunJob(job) => {
                    prop_assert_eq!(&job.instance, "i-1");
                    let previous = self.jobs.insert(job.task.clone(), job.attempt);
                    if let Some(previous) = previous {
                        prop_assert_eq!(
                            redispatched.as_deref(),
                            Some(job.task.as_str()),
                            "a second RunJob for a task only after a redispatch"
                        );
                        prop_assert!(job.attempt > previous, "a redispatch is a new attempt");
                    }
                }
                Effect::CancelJob { task, attempt } => {
                    prop_assert_eq!(
                        self.jobs.remove(task),
                        Some(*attempt),
                        "only an outstanding job is canceled"
                    );
                }
                // These definitions set no Automic controls, so no timers; runtimes are recorded.
                Effect::SetTimer { .. } | Effect::ClearTimer { .. } => {
                    prop_assert!(false, "no timer without a timed control")
                }
                Effect::RecordRuntime { .. } => {}
                Effect::StartIteration { .. }
                | Effect::AbortChildren { .. }
                | Effect::RecoverChild { .. }
                | Effect::NotifyParent { .. }
                | Effect::ShareSnapshot { .. }
                | Effect::DropSnapshot { .. } => {
                    prop_assert!(false, "no foreach in these definitions")
                }
                Effect::NotifyPeople { .. } => {
                    prop_assert!(false, "no user task in these definitions")
                }
                Effect::CopyDocument { .. } => prop_assert!(false, "no spawn in these definitions"),
                Effect::Subscribe { .. } | Effect::Unsubscribe { .. } => {
                    prop_assert!(false, "no wait task in these definitions")
                }
                // Only an operator's retry runs a task again here, and it restarts the count.
                Effect::RunLimitReached { .. } => {
                    prop_assert!(false, "no run limit without postconditions")
                }
                Effect::LoopLimitReached { .. } => {
                    prop_assert!(false, "no loop branch in these definitions")
                }
            }
        }
        Ok(())
    }

    /// The invariants of a legal instance.
    fn check(&self) -> Result<(), TestCaseError> {
        let def = &self.def;
        let inst = &self.inst;
        prop_assert_eq!(inst.tasks.len(), def.tasks.len(), "no task is lost");
        let ended = |i: usize| inst.tasks[i].status.is_end();
        for (i, t) in inst.tasks.iter().enumerate() {
            let task = &def.tasks[i];
            let preds_ended = task.predecessors.iter().all(|p| ended(p.task));
            match &t.status {
                TaskStatus::Running { attempt, .. } => {
                    prop_assert!(preds_ended, "t{} runs before its predecessors ended", i);
                    prop_assert!(
                        !inst.status.is_terminal(),
                        "a task runs in a {} instance",
                        inst.status
                    );
                    prop_assert_eq!(
                        self.jobs.get(&task.id),
                        Some(attempt),
                        "a running task has exactly its one outstanding job"
                    );
                    prop_assert_eq!(*attempt, t.attempts);
                }
                TaskStatus::WaitingForPredecessor if !inst.status.is_terminal() => {
                    prop_assert!(
                        !preds_ended,
                        "t{} waits although its predecessors ended: it is stuck",
                        i
                    );
                }
                TaskStatus::Blocked => {
                    prop_assert!(
                        preds_ended,
                        "t{} is blocked before its predecessors ended",
                        i
                    );
                    let accepted = |p: &baton_core::definition::Dependency| {
                        p.condition.accepts(&inst.tasks[p.task].status)
                    };
                    let met = match task.dependency_match {
                        DependencyMatch::All => task.predecessors.iter().all(accepted),
                        DependencyMatch::One => task.predecessors.iter().any(accepted),
                    };
                    prop_assert!(!met, "t{} is blocked although its dependencies hold", i);
                }
                _ => {}
            }
        }
        for (task, attempt) in &self.jobs {
            let i = def.task_index(task).expect("a task of the definition");
            prop_assert!(
                matches!(inst.tasks[i].status, TaskStatus::Running { attempt: a, .. } if a == *attempt),
                "job {} attempt {} is outstanding but the task is {}",
                task,
                attempt,
                inst.tasks[i].status
            );
        }
        let any_running = inst
            .tasks
            .iter()
            .any(|t| matches!(t.status, TaskStatus::Running { .. }));
        match inst.status {
            InstanceStatus::Completed | InstanceStatus::Failed | InstanceStatus::Aborted => {
                prop_assert!(
                    inst.tasks.iter().all(|t| t.status.is_end()),
                    "a {} instance has a task that has not ended",
                    inst.status
                );
                prop_assert!(inst.ended_at.is_some());
            }
            InstanceStatus::Blocked => {
                prop_assert!(!any_running);
                prop_assert!(
                    inst.tasks.iter().any(|t| t.status == TaskStatus::Blocked),
                    "blocked without a blocked task"
                );
            }
            InstanceStatus::Running | InstanceStatus::Waiting => {
                prop_assert!(inst.ended_at.is_none())
            }
        }
        if any_running {
            prop_assert_eq!(inst.status, InstanceStatus::Running);
        }
        Ok(())
    }

    fn finish(&mut self, pick: u16, code: i32) -> Result<(), TestCaseError> {
        let running = self.running();
        if running.is_empty() {
            return Ok(());
        }
        let (i, attempt) = running[pick as usize % running.len()];
        let output = (code == 0).then(|| {
            json!({"n": pick % 5})
                .as_object()
                .cloned()
                .unwrap_or_default()
        });
        let outcome = JobOutcome::Exited {
            code,
            output,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            duration_ms: 10,
        };
        let result = self.step(Command::JobFinished {
            task: self.id(i),
            attempt,
            outcome,
        })?;
        prop_assert!(
            result.is_ok(),
            "finishing a running job was refused: {:?}",
            result
        );
        Ok(())
    }

    fn play(&mut self, op: Op) -> Result<(), TestCaseError> {
        let n = self.def.tasks.len();
        match op {
            Op::Finish { pick, code } => self.finish(pick, code)?,
            Op::Stale { pick } => {
                let i = pick as usize % n;
                let attempt = self.inst.tasks[i].attempts + 1;
                let outcome = JobOutcome::Exited {
                    code: 0,
                    output: None,
                    stdout_tail: String::new(),
                    stderr_tail: String::new(),
                    duration_ms: 1,
                };
                let result = self.step(Command::JobFinished {
                    task: self.id(i),
                    attempt,
                    outcome,
                })?;
                prop_assert!(
                    matches!(
                        result,
                        Err(TransitionError::StaleJobResult { .. }
                            | TransitionError::InstanceEnded(_))
                    ),
                    "a result for an attempt never dispatched was not refused: {:?}",
                    result
                );
            }
            Op::Redispatch { pick } => {
                let running = self.running();
                if let Some(&(i, attempt)) = running.get(pick as usize % running.len().max(1)) {
                    let result = self.step(Command::RedispatchJob {
                        task: self.id(i),
                        attempt,
                    })?;
                    prop_assert!(
                        result.is_ok(),
                        "redispatching a running job was refused: {:?}",
                        result
                    );
                }
            }
            Op::Retry { pick } => {
                let result = self.step(Command::RetryTask {
                    task: self.id(pick as usize % n),
                    by: "prop".into(),
                })?;
                prop_assert!(
                    matches!(
                        result,
                        Ok(())
                            | Err(TransitionError::NotRetryable { .. }
                                | TransitionError::SuccessorMoved { .. }
                                | TransitionError::InstanceEnded(_))
                    ),
                    "{:?}",
                    result
                );
            }
            Op::Skip { pick } => {
                let result = self.step(Command::SkipTask {
                    task: self.id(pick as usize % n),
                    by: "prop".into(),
                })?;
                prop_assert!(
                    matches!(
                        result,
                        Ok(())
                            | Err(TransitionError::NotSkippable { .. }
                                | TransitionError::InstanceEnded(_))
                    ),
                    "{:?}",
                    result
                );
            }
            Op::Abort => {
                let was_terminal = self.inst.status.is_terminal();
                let result = self.step(Command::Abort {
                    by: "prop".into(),
                    abort_parent: false,
                })?;
                if !was_terminal {
                    prop_assert!(result.is_ok());
                    prop_assert_eq!(self.inst.status, InstanceStatus::Aborted);
                    prop_assert!(
                        self.jobs.is_empty(),
                        "an abort cancels every outstanding job"
                    );
                }
            }
        }
        Ok(())
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 400,
        rng_seed: RngSeed::Fixed(0x00ba_7015),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn deploy(yaml: &str) -> Result<Definition, TestCaseError> {
    parse_definition("random.yaml", yaml)
        .map_err(|e| TestCaseError::fail(format!("generated definition refused:\n{e}\n{yaml}")))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_commands_never_reach_an_illegal_state(
        specs in prop::collection::vec(task_spec(), 1..12),
        ops in prop::collection::vec(op(), 0..60),
    ) {
        let yaml = definition_yaml(&specs);
        let mut driver = Driver::start(deploy(&yaml)?)?;
        for op in ops {
            let was_terminal = driver.inst.status.is_terminal();
            driver.play(op)?;
            if was_terminal {
                break; // it refused one more command; that is all there is to see
            }
        }
        // Whatever happened, the history is one gap-free sequence from 1.
        let seqs: Vec<u64> = driver.history.iter().map(|e| e.seq).collect();
        prop_assert_eq!(seqs, (1..driver.inst.next_seq).collect::<Vec<_>>());
    }

    #[test]
    fn a_run_in_which_every_job_exits_zero_completes(
        specs in prop::collection::vec(task_spec(), 1..9),
        picks in prop::collection::vec((any::<u16>(), prop::bool::weighted(0.2)), 0..30),
    ) {
        let yaml = definition_yaml(&specs);
        let mut driver = Driver::start(deploy(&yaml)?)?;
        // Random order of completions, with the odd engine restart in between…
        for (pick, restart) in picks {
            if restart {
                driver.play(Op::Redispatch { pick })?;
            } else {
                driver.finish(pick, 0)?;
            }
        }
        // …then every job that is still out succeeds.
        let mut rounds = 0;
        while !driver.running().is_empty() {
            driver.finish(0, 0)?;
            rounds += 1;
            prop_assert!(rounds < 1000, "the run does not come to an end");
        }
        prop_assert_eq!(driver.inst.status, InstanceStatus::Completed, "statuses: {:?}\n{}", driver.inst.tasks.iter().map(|t| t.status.name()).collect::<Vec<_>>(), yaml);
        prop_assert!(driver.jobs.is_empty());
    }
}
