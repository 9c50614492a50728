//! The compiled form of a definition: the process, its tasks and what each kind does.

use std::collections::HashMap;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

use super::{Action, DataType, RetryPolicy, TaskControls, UserTaskDef};
use crate::expr::Expr;
use crate::status::StatusCondition;

/// A compiled, validated process definition.
#[derive(Debug, Clone)]
pub struct Definition {
    pub id: String,
    /// Assigned at deploy: the first deploy of an id is version 1, each later one N+1.
    pub version: u32,
    pub name: Option<String>,
    pub description: Option<String>,
    /// May people start it, by `baton start` or a Stardust spawn (`startable: false` leaves it
    /// to `call` and `handoff` tasks)? Yes by default.
    pub startable: bool,
    /// Who may start it (administrators always may); `None`: every user.
    pub startable_by: Option<crate::people::PotentialOwners>,
    /// Where a root instance's department scope comes from (Stardust's department scoping):
    /// evaluated once on its start data, see [`crate::department`]. `None`: unscoped.
    pub department: Option<Expr>,
    /// Siebel's interactive workflow (`interactive: true`): one user drives it step by step in
    /// a user session, and its `view` tasks show that user a form. It is started in a session
    /// (`baton session start`), not by `baton start`.
    pub interactive: bool,
    /// Siebel's Auto Persist flag (`auto_persist: true`, interactive workflows only): when it
    /// must leave a session's cache (the cache is full, the user logs out, the session times
    /// out, the server stops) it is saved in its owner's inbox (implicit suspension); without
    /// it, it is deleted.
    pub auto_persist: bool,
    /// When the process is started on a schedule (`schedule:`): deploying the definition
    /// creates or updates its schedule, whose id is the process id.
    pub schedule: Option<crate::schedule::ScheduleSpec>,
    pub data: IndexMap<String, DataDecl>,
    pub tasks: Vec<TaskDef>,
    /// Task indices in an order where every task comes after its predecessors.
    pub order: Vec<usize>,
    /// For each task, the tasks that name it as a predecessor.
    pub successors: Vec<Vec<usize>>,
    /// Whether any of its expressions iterates (a comprehension): steps of such a definition
    /// may take up to the evaluation budget, so the engine runs them off its async threads.
    pub iterates: bool,
    pub(super) index: HashMap<String, usize>,
}

impl Definition {
    /// May `caller` start this process (Stardust: a startable process they are authorized to
    /// start)? Administrators may start every startable process.
    pub fn may_start(&self, caller: &crate::people::Caller) -> bool {
        self.startable
            && (caller.admin
                || self
                    .startable_by
                    .as_ref()
                    .is_none_or(|who| who.includes(caller)))
    }

    /// The index of the task with this id.
    pub fn task_index(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }
}

/// A declared process data variable.
#[derive(Debug, Clone, PartialEq)]
pub struct DataDecl {
    pub ty: DataType,
    pub default: Option<Value>,
    pub description: Option<String>,
    /// For a `document` or `document_list`: the type of its documents (`invoice`), which
    /// Stardust's mapping heuristics match on (see [`crate::spawn`]).
    pub document_type: Option<String>,
}

/// One task of a definition.
#[derive(Debug, Clone)]
pub struct TaskDef {
    pub id: String,
    pub name: Option<String>,
    pub kind: TaskKind,
    /// Direct predecessors and the end statuses this task needs from each.
    pub predecessors: Vec<Dependency>,
    /// All dependencies must hold, or one is enough.
    pub dependency_match: DependencyMatch,
    /// What happens when the dependencies do not hold (Automic's Else): skip, block
    /// (the default), abort, or run another task.
    pub on_unmet: Action,
    /// Automic's start-pipeline and runtime-monitoring settings.
    pub controls: TaskControls,
}

/// A predecessor and the statuses it must end with.
#[derive(Debug, Clone)]
pub struct Dependency {
    pub task: usize,
    pub condition: StatusCondition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DependencyMatch {
    All,
    One,
}

/// What a task does.
#[derive(Debug, Clone)]
pub enum TaskKind {
    /// Runs a command.
    Job(JobSpec),
    /// Assigns process data from expressions (Pega's data transform); runs inside the engine.
    Set(Vec<(String, Expr)>),
    /// Picks outgoing branches by expressions.
    Decision(DecisionSpec),
    /// Marks the end of a path; with `terminate` it ends the instance at once.
    End { terminate: bool },
    /// Runs its body once per item of a list (Automic's ForEach workflow).
    ForEach(ForEachSpec),
    /// A human task: offered to people, claimed, completed, forwarded… (IBM follow-on tasks).
    User(Box<UserTaskDef>),
    /// Starts a deployed process as a synchronous sub-process and waits for it.
    Call(Box<CallSpec>),
    /// Pega's Hand Off: starts a deployed process that runs inline until its first stopping
    /// point, then lives on its own.
    Handoff(Box<HandoffSpec>),
    /// Waits for a published event whose correlation key and condition match (Siebel's
    /// implicit resumption, Camunda's message catch).
    Wait(Box<WaitSpec>),
    /// Shows a view (a form) to the user driving an interactive workflow and waits for their
    /// next action: a submission with data that fits the form (Siebel's interactive step).
    View(Box<ViewSpec>),
}

/// A `view` task: what the user driving the workflow is shown, and what their submission writes.
#[derive(Debug, Clone)]
pub struct ViewSpec {
    /// The view's title (the task's name or id when not given).
    pub title: String,
    pub description: Option<String>,
    /// The typed fields the user fills in; a submission is checked against them.
    pub form: Vec<crate::user_task::FormField>,
    /// Process data written from the submission: `variable: CEL` over `output` (the submitted
    /// data) and `data`. Without it, submitted fields named like declared data are copied.
    pub output: Option<Vec<(String, Expr)>>,
}

/// A `wait` task: the event it waits for and how it correlates.
#[derive(Debug, Clone)]
pub struct WaitSpec {
    /// The event's name (`payment-received`): a wire name, as a topic is.
    pub event: String,
    /// The correlation key, evaluated once when the task begins waiting (`data.order_id`); it
    /// must give a string or a whole number. Without it the task takes events published
    /// without a key.
    pub key: Option<Expr>,
    /// A further filter over `event` (the payload) and `data`, evaluated for each event of
    /// that name and key.
    pub condition: Option<Expr>,
    /// Data written when the event is received: `variable: CEL` over `event` and `data`.
    pub output: Vec<(String, Expr)>,
    /// How long to wait: then the task ends `ended_timeout` (a durable timer).
    pub timeout: Option<Duration>,
}

/// The process a `call` or `handoff` task starts: a deployed definition, the latest version or
/// a pinned one, resolved by the engine when the task starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessRef {
    pub process: String,
    pub version: Option<u32>,
}

impl std::fmt::Display for ProcessRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.version {
            Some(v) => write!(f, "{} version {v}", self.process),
            None => f.write_str(&self.process),
        }
    }
}

/// A `call` task: a synchronous sub-process.
#[derive(Debug, Clone)]
pub struct CallSpec {
    pub target: ProcessRef,
    /// The child's start data: `variable: CEL` over the parent (`data`…).
    pub input: Vec<(String, Expr)>,
    /// Parent data written when the child completes: `variable: CEL` over `output` (the
    /// child's data). Without it nothing comes back.
    pub output: Vec<(String, Expr)>,
    /// Aborting the child aborts this instance (else the call ends `ended_not_ok`).
    pub abort_parent: bool,
}

/// A `handoff` task (Pega's Hand Off shape).
#[derive(Debug, Clone)]
pub struct HandoffSpec {
    pub target: ProcessRef,
    /// What the new instance copies onto its own data (Pega's pyDefault data transform):
    /// `variable: CEL` over the parent.
    pub input: Vec<(String, Expr)>,
    /// The status label the parent records once the child is handed off (Pega's Work Status).
    pub work_status: Option<String>,
}

/// Most iterations of a ForEach task that run at once (`parallel`).
pub const MAX_PARALLEL: usize = 100_000;

/// A ForEach task: its body runs once per item, as a child instance that sees the item as
/// `item` and its position as `index`, and reads the process data through the run's snapshot.
#[derive(Debug, Clone)]
pub struct ForEachSpec {
    /// A CEL expression giving the list.
    pub items: Expr,
    /// Iterations run at once (1: one after the other).
    pub parallel: usize,
    /// The body, a task graph with its own id `process/task`.
    pub body: std::sync::Arc<Definition>,
}

impl TaskKind {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Job(_) => "job",
            Self::Set(_) => "set",
            Self::Decision(_) => "decision",
            Self::End { .. } => "end",
            Self::ForEach(_) => "foreach",
            Self::User(_) => "user",
            Self::Call(_) => "call",
            Self::Handoff(_) => "handoff",
            Self::Wait(_) => "wait",
            Self::View(_) => "view",
        }
    }
}

/// A job: a command Baton runs, or work an external worker fetches by topic.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub target: JobTarget,
    pub workdir: Option<String>,
    /// Environment variables computed from process data when the job starts.
    pub env: Vec<(String, Expr)>,
    pub timeout: Option<Duration>,
    /// Run a failed attempt again, after a wait (`retry:`).
    pub retry: Option<RetryPolicy>,
}

/// Who does a job's work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobTarget {
    /// Baton's worker runs this program with these arguments.
    Command(Vec<String>),
    /// An external worker that fetches jobs of this topic over the API does it (Camunda's
    /// external tasks, Zeebe's job workers).
    Topic(String),
}

impl JobTarget {
    /// The program and its arguments; empty for an external job.
    pub fn command(&self) -> &[String] {
        match self {
            Self::Command(argv) => argv,
            Self::Topic(_) => &[],
        }
    }

    /// The topic of an external job.
    pub fn topic(&self) -> Option<&str> {
        match self {
            Self::Command(_) => None,
            Self::Topic(topic) => Some(topic),
        }
    }
}

/// Longest topic name.
pub const MAX_TOPIC_LEN: usize = 200;

/// Why a topic name is not allowed, if it is not: see [`wire_name_problem`].
pub fn topic_problem(topic: &str) -> Option<String> {
    wire_name_problem("topic", topic)
}

/// Why `name`, the name of a `what` that travels in URLs, metric labels and shell words (a
/// topic, an external worker's id), is not allowed, if it is not: it has 1 to
/// [`MAX_TOPIC_LEN`] ASCII letters, digits, `.`, `_`, `-` or `:`.
pub fn wire_name_problem(what: &str, name: &str) -> Option<String> {
    if name.is_empty() || name.len() > MAX_TOPIC_LEN {
        return Some(format!("a {what} has 1 to {MAX_TOPIC_LEN} characters"));
    }
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')))
        .map(|c| {
            format!(
                "`{}` may not be in a {what}: use letters, digits, `.`, `_`, `-` or `:`",
                c.escape_default()
            )
        })
}

#[derive(Debug, Clone)]
pub struct DecisionSpec {
    pub branches: Vec<Branch>,
    /// Taken when no branch condition holds.
    pub otherwise: Vec<usize>,
    /// Take only the first branch whose condition holds, or every one.
    pub take_all: bool,
}

#[derive(Debug, Clone)]
pub struct Branch {
    pub when: Expr,
    /// The successors the branch leads to (empty for a loop branch).
    pub to: Vec<usize>,
    /// A loop branch goes back to an earlier task instead.
    pub back: Option<LoopBack>,
}

/// A decision branch that returns the flow to an earlier task (a rework loop): the target and
/// the tasks between it and the decision, and every task after the decision, run again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopBack {
    /// The task the flow goes back to: one that precedes the decision.
    pub target: usize,
    /// How often the branch may go back before the decision is blocked (an incident).
    pub max_loops: u32,
}

/// How often a loop branch may go back when it does not say (`max_loops`).
pub const DEFAULT_MAX_LOOPS: u32 = 10;
/// The most `max_loops` may be.
pub const MAX_LOOPS_LIMIT: u32 = 10_000;

impl DecisionSpec {
    /// Every task that some branch (or `otherwise`) leads to (a loop branch's target is not:
    /// it precedes the decision).
    pub fn targets(&self) -> impl Iterator<Item = usize> + '_ {
        self.branches
            .iter()
            .flat_map(|b| b.to.iter().copied())
            .chain(self.otherwise.iter().copied())
    }
}

/// Does task `earlier` precede task `later`: does a path of `after` edges and decision
/// branches lead from it to `later`?
pub fn precedes(tasks: &[TaskDef], earlier: usize, later: usize) -> bool {
    let mut seen = vec![false; tasks.len()];
    let mut stack = vec![later];
    while let Some(t) = stack.pop() {
        for p in &tasks[t].predecessors {
            if p.task == earlier {
                return true;
            }
            if !std::mem::replace(&mut seen[p.task], true) {
                stack.push(p.task);
            }
        }
    }
    false
}

impl Definition {
    /// Does task `earlier` precede task `later` (see [`precedes`])?
    pub fn precedes(&self, earlier: usize, later: usize) -> bool {
        precedes(&self.tasks, earlier, later)
    }

    /// The tasks that run again when the flow goes back from task `from` to task `to`, an
    /// earlier one (a loop branch of decision `from`, or an operator's `task back`): `to` and
    /// the tasks on the paths from it to `from`, `from`, and every task after `from`. A task
    /// beside the loop (after `to` but not leading to `from`, or before `to`) is not among them.
    pub fn rework_range(&self, to: usize, from: usize) -> Vec<bool> {
        let n = self.tasks.len();
        let reach = |start: usize, next: &dyn Fn(usize) -> Vec<usize>| {
            let mut seen = vec![false; n];
            seen[start] = true;
            let mut stack = vec![start];
            while let Some(t) = stack.pop() {
                for s in next(t) {
                    if !std::mem::replace(&mut seen[s], true) {
                        stack.push(s);
                    }
                }
            }
            seen
        };
        let after_to = reach(to, &|t| self.successors[t].clone());
        let before_from = reach(from, &|t| {
            self.tasks[t].predecessors.iter().map(|p| p.task).collect()
        });
        let after_from = reach(from, &|t| self.successors[t].clone());
        (0..n)
            .map(|t| (after_to[t] && before_from[t]) || after_from[t])
            .collect()
    }
}

impl Definition {
    /// A foreach body inside this definition, by id (`process/task`, nested as
    /// `process/task/inner`).
    pub fn body(&self, id: &str) -> Option<std::sync::Arc<Definition>> {
        let rest = id.strip_prefix(&self.id)?.strip_prefix('/')?;
        let task = rest.split('/').next()?;
        match &self.tasks[self.task_index(task)?].kind {
            TaskKind::ForEach(spec) if spec.body.id == id => Some(spec.body.clone()),
            TaskKind::ForEach(spec) => spec.body.body(id),
            _ => None,
        }
    }

    /// Sets the version of this definition and of its foreach bodies.
    pub fn set_version(&mut self, version: u32) {
        self.version = version;
        for task in &mut self.tasks {
            if let TaskKind::ForEach(spec) = &mut task.kind {
                std::sync::Arc::make_mut(&mut spec.body).set_version(version);
            }
        }
    }

    /// The processes this definition's `call` and `handoff` tasks start (its foreach bodies'
    /// included), each once.
    pub fn callees(&self) -> Vec<ProcessRef> {
        let mut found = std::collections::BTreeSet::new();
        self.visit_tasks(&mut |t| match &t.kind {
            TaskKind::Call(spec) => {
                found.insert(spec.target.clone());
            }
            TaskKind::Handoff(spec) => {
                found.insert(spec.target.clone());
            }
            _ => {}
        });
        found.into_iter().collect()
    }

    fn visit_tasks(&self, f: &mut dyn FnMut(&TaskDef)) {
        for t in &self.tasks {
            f(t);
            if let TaskKind::ForEach(spec) = &t.kind {
                spec.body.visit_tasks(f);
            }
        }
    }

    /// Does any task here or in a foreach body satisfy `pred`?
    pub fn any_task(&self, pred: &dyn Fn(&TaskDef) -> bool) -> bool {
        self.tasks.iter().any(|t| {
            pred(t) || matches!(&t.kind, TaskKind::ForEach(spec) if spec.body.any_task(pred))
        })
    }
}
