//! Process definitions: the YAML (or JSON) format, its validation and the compiled form.
//!
//! A definition is checked completely at deploy: YAML syntax, unknown fields, duplicate task
//! ids, unknown predecessors, cycles, unknown kinds, expressions that do not compile and data
//! defaults of the wrong type. Every problem is reported with `file:line:column`, a sentence
//! and, where one helps, a hint; nothing is stored when there is any problem.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use indexmap::IndexMap;
use marked_yaml::{Node, Spanned};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::expr::Expr;

mod controls;
pub mod document;
mod retry;
mod run_cycles;
mod user_task;
pub use controls::{Action, Condition, EndAs, Postcondition, Preconditions, Prompt, RuntimeLimit, TaskControls, TimeSpec, MAX_RESTARTS};
pub use crate::data_type::{json_type_name, DataType};
pub use crate::duration::{self, DurationError, MAX_DURATION};
pub use retry::{RetryPolicy, MAX_BACKOFF, MAX_RETRIES, MAX_RETRY_DELAY};
pub use user_task::{Assignee, Priority, Text, UserTaskDef};
use crate::status::StatusCondition;

/// A compiled, validated process definition.
#[derive(Debug, Clone)]
pub struct Definition {
    pub id: String,
    /// Assigned at deploy: the first deploy of an id is version 1, each later one N+1.
    pub version: u32,
    pub name: Option<String>,
    pub description: Option<String>,
    pub data: IndexMap<String, DataDecl>,
    pub tasks: Vec<TaskDef>,
    /// Task indices in an order where every task comes after its predecessors.
    pub order: Vec<usize>,
    /// For each task, the tasks that name it as a predecessor.
    pub successors: Vec<Vec<usize>>,
    /// Whether any of its expressions iterates (a comprehension): steps of such a definition
    /// may take up to the evaluation budget, so the engine runs them off its async threads.
    pub iterates: bool,
    index: HashMap<String, usize>,
}

impl Definition {
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
        .map(|c| format!("`{}` may not be in a {what}: use letters, digits, `.`, `_`, `-` or `:`", c.escape_default()))
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
    pub to: Vec<usize>,
}

impl DecisionSpec {
    /// Every task that some branch (or `otherwise`) leads to.
    pub fn targets(&self) -> impl Iterator<Item = usize> + '_ {
        self.branches.iter().flat_map(|b| b.to.iter().copied()).chain(self.otherwise.iter().copied())
    }
}

// ---------------------------------------------------------------------------------------
// Diagnostics

/// One problem in a definition file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// Every problem found in a definition file; `Display` prints `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DefinitionError {
    pub file: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_problems(std::slice::from_ref(self)))
    }
}

/// The problems of several files, one `file:line:column: message` (and hint) after the other:
/// the first [`MAX_SHOWN`] of them, then how many more there are.
pub fn format_problems(errors: &[DefinitionError]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let all = errors.iter().flat_map(|e| e.diagnostics.iter().map(move |d| (e.file.as_str(), d)));
    for (file, d) in all.clone().take(MAX_SHOWN) {
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = write!(out, "{file}:{}:{}: {}", d.line, d.column, d.message);
        if let Some(hint) = &d.hint {
            let _ = write!(out, "\n  hint: {hint}");
        }
    }
    let more = all.count().saturating_sub(MAX_SHOWN);
    if more > 0 {
        let _ = write!(out, "\n… and {more} more problem{} (fix these first)", if more == 1 { "" } else { "s" });
    }
    out
}

#[derive(Clone, Copy, Debug, Default)]
struct Pos {
    line: usize,
    column: usize,
}

fn pos_of(span: &marked_yaml::Span) -> Pos {
    span.start().map_or(Pos { line: 1, column: 1 }, |m| Pos { line: m.line(), column: m.column() })
}

/// Looks a task id up while reporting an unknown one (`what` says which reference it is).
type Resolve<'a> = &'a dyn Fn(&mut Diagnostics, &Spanned<String>, &str) -> Option<usize>;

/// The problems found so far. Work whose cost grows with the size of the file is done once
/// or only for the problems that are shown, so refusing a file with many problems takes time
/// in proportion to the file: a "did you mean" hint, which compares a name with every
/// candidate, is worked out only for the first [`MAX_SHOWN`] problems (in the order they are
/// printed), and positions inside scalars are found from an index of line starts.
struct Diagnostics<'s> {
    source: &'s str,
    items: Vec<Diagnostic>,
    /// Set once an expression with a comprehension was compiled.
    iterates: bool,
    /// For each item, the hint to work out if it is shown: `(name, candidate list, fallback)`.
    pending: Vec<Option<(String, usize, Option<String>)>>,
    /// Names a mistyped name may have meant: the task ids of each graph, the data variables.
    candidate_lists: Vec<Vec<String>>,
    /// The candidate list of the declared data variables, once registered.
    data_names: Option<usize>,
    /// Where each line of `source` starts (a char index and a byte offset), built when first needed.
    line_starts: Option<Vec<(usize, usize)>>,
    /// Hold durations to [`MAX_DURATION`], `max_restarts` to [`controls::MAX_RESTARTS`] and
    /// `parallel` to [`MAX_PARALLEL`] (a deploy), or not (a stored definition read back: a
    /// restart count or `parallel` past its bound is capped).
    bound_durations: bool,
}

/// How many problems are printed; the rest are counted.
pub const MAX_SHOWN: usize = 100;

impl<'s> Diagnostics<'s> {
    fn new(source: &'s str) -> Self {
        Self { source, items: Vec::new(), pending: Vec::new(), candidate_lists: Vec::new(), data_names: None, line_starts: None, iterates: false, bound_durations: true }
    }

    fn error(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        self.items.push(Diagnostic { line: pos.line, column: pos.column, message: message.into(), hint });
        self.pending.push(None);
    }

    /// An unknown name: the hint is "did you mean" the closest of `candidates` (a list from
    /// [`Diagnostics::candidates`]), else `fallback`; worked out only if the problem is shown.
    fn unknown_name(&mut self, pos: Pos, message: impl Into<String>, name: &str, candidates: usize, fallback: Option<String>) {
        self.items.push(Diagnostic { line: pos.line, column: pos.column, message: message.into(), hint: None });
        self.pending.push(Some((name.to_owned(), candidates, fallback)));
    }

    /// Registers a list of names for [`Diagnostics::unknown_name`].
    fn candidates(&mut self, names: Vec<String>) -> usize {
        self.candidate_lists.push(names);
        self.candidate_lists.len() - 1
    }

    /// The declared data variables as a candidate list (one data map per definition).
    fn data_candidates(&mut self, data: &IndexMap<String, DataDecl>) -> usize {
        match self.data_names {
            Some(list) => list,
            None => {
                let list = self.candidates(data.keys().cloned().collect());
                self.data_names = Some(list);
                list
            }
        }
    }

    /// Forgets the problems after the first `len`.
    fn truncate(&mut self, len: usize) {
        self.items.truncate(len);
        self.pending.truncate(len);
    }

    /// The problems in the order they are printed, with the hints of the shown ones.
    fn finish(self) -> Vec<Diagnostic> {
        let Self { items, pending, candidate_lists, .. } = self;
        let mut all: Vec<(Diagnostic, Option<(String, usize, Option<String>)>)> = items.into_iter().zip(pending).collect();
        all.sort_by_key(|(d, _)| (d.line, d.column));
        all.into_iter()
            .enumerate()
            .map(|(n, (mut d, pending))| {
                if let Some((name, list, fallback)) = pending {
                    let candidates: Vec<&str> = if n < MAX_SHOWN { candidate_lists[list].iter().map(String::as_str).collect() } else { Vec::new() };
                    d.hint = did_you_mean(&name, &candidates).or(fallback);
                }
                d
            })
            .collect()
    }

    /// Where character `target` (a char index into the source) is: its line and the char
    /// index its line starts at, from the index of line starts.
    fn line_of(&mut self, target: usize) -> (usize, usize, usize) {
        let source = self.source;
        let starts = self.line_starts.get_or_insert_with(|| {
            let mut starts = vec![(0, 0)];
            for (chars, (byte, c)) in source.char_indices().enumerate() {
                if c == '\n' {
                    starts.push((chars + 1, byte + 1));
                }
            }
            starts
        });
        let line = starts.partition_point(|&(chars, _)| chars <= target).max(1) - 1;
        let (chars, byte) = starts[line];
        (line + 1, chars, byte)
    }

    /// Reads a duration field (see [`duration`]) written at `pos`; `None` after reporting
    /// why it is not one (`text` is `None` when the field is not a scalar).
    fn duration(&mut self, pos: Pos, text: Option<&str>, field: &str) -> Option<Duration> {
        let Some(text) = text else {
            self.error(pos, format!("`{field}` must be a duration"), Some(duration::HINT.into()));
            return None;
        };
        let parsed = duration::parse_unbounded(text).and_then(|d| if self.bound_durations { duration::check(d) } else { Ok(d) });
        match parsed {
            Ok(d) => Some(d),
            Err(e @ DurationError::TooLong) => {
                let hint = "a timer, timeout or deadline further away than that is not supported; use a shorter one";
                self.error(pos, format!("`{field}` {e}"), Some(hint.into()));
                None
            }
            Err(e) => {
                self.error(pos, format!("`{field}` is not a duration: {e}"), Some(duration::HINT.into()));
                None
            }
        }
    }

    /// Compiles an expression written in a YAML scalar, placing errors inside the scalar.
    fn expr(&mut self, scalar: &Spanned<String>, field: &str) -> Option<Expr> {
        self.expr_with(scalar, field, &[])
    }

    /// [`Diagnostics::expr`] for an expression that may also use the `extra` variables.
    fn expr_with(&mut self, scalar: &Spanned<String>, field: &str, extra: &[&str]) -> Option<Expr> {
        match Expr::compile_with(scalar, extra) {
            Ok(e) => {
                self.iterates |= e.iterates();
                Some(e)
            }
            Err(e) => {
                // The error's character offset inside the expression…
                let value = scalar.as_str();
                let line_start: usize = value.split('\n').take(e.line.saturating_sub(1)).map(|l| l.chars().count() + 1).sum();
                let offset = line_start + e.column.saturating_sub(1);
                // …and where that character is in the file.
                let pos = match scalar.span().start() {
                    Some(m) => {
                        // The source from the scalar's start, found from the line index (not
                        // by counting characters from the top of the file for each error).
                        let (_, line_chars, line_byte) = self.line_of(m.character());
                        let from: usize = self.source[line_byte..].chars().take(m.character() - line_chars).map(char::len_utf8).sum();
                        locate_in_scalar(&self.source[line_byte + from..], pos_of(scalar.span()), value, offset)
                    }
                    None => Pos { line: 1, column: 1 },
                };
                self.error(pos, format!("{field}: {}", e.message), Some(format!("in the CEL expression `{value}`")));
                None
            }
        }
    }
}

/// Finds where character `target` of a scalar's value is written in `source` (the file from
/// the scalar's start, at `start`), walking the source alongside the value. Quotes, escapes,
/// folded line breaks and indentation change the text between the two, but not the order of
/// the characters, so skipping what does not match keeps them aligned.
fn locate_in_scalar(source: &str, start: Pos, value: &str, target: usize) -> Pos {
    let mut src = source.chars().peekable();
    let mut at = start;
    let step = |c: char, at: &mut Pos| {
        if c == '\n' {
            at.line += 1;
            at.column = 1;
        } else {
            at.column += 1;
        }
    };
    let mut chars = value.chars();
    for c in chars.by_ref().take(target) {
        while let Some(&s) = src.peek() {
            if s == c {
                step(s, &mut at);
                src.next();
                break;
            }
            if c.is_whitespace() && !s.is_whitespace() {
                break; // an escape such as `\n` in the source: stay put
            }
            step(s, &mut at);
            src.next();
        }
    }
    if let Some(c) = chars.next() {
        while let Some(&s) = src.peek() {
            if s == c || !(s.is_whitespace() || s == '"' || s == '\'' || s == '\\') {
                break;
            }
            step(s, &mut at);
            src.next();
        }
    }
    at
}

// ---------------------------------------------------------------------------------------
// The raw (as written) form

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefinition {
    id: Spanned<String>,
    name: Option<String>,
    description: Option<String>,
    #[allow(dead_code)] // read from the node, entry by entry, for precise positions
    data: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)] // read from the node, task by task, for precise positions
    tasks: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataDeclFull {
    #[serde(rename = "type")]
    ty: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // read from the node, to type YAML scalars
    default: Option<serde::de::IgnoredAny>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    id: Spanned<String>,
    kind: Spanned<String>,
    name: Option<String>,
    // `after` and `branches` are read from the node entry by entry, so that a mistake in one
    // entry is reported at that entry (serde's untagged enums lose the position and the cause).
    #[allow(dead_code)]
    after: Option<serde::de::IgnoredAny>,
    dependencies: Option<RawDependencies>,
    // job
    command: Option<Spanned<RawCommand>>,
    topic: Option<Spanned<String>>,
    workdir: Option<String>,
    #[serde(default)]
    env: IndexMap<Spanned<String>, Spanned<String>>,
    timeout: Option<Spanned<String>>,
    #[allow(dead_code)] // read from the node: a number or a mapping
    retry: Option<serde::de::IgnoredAny>,
    // set
    set: Option<IndexMap<Spanned<String>, Spanned<String>>>,
    // decision
    branches: Option<serde::de::IgnoredAny>,
    otherwise: Option<Vec<Spanned<String>>>,
    mode: Option<Spanned<String>>,
    // end
    terminate: Option<bool>,
    // foreach
    items: Option<Spanned<String>>,
    parallel: Option<Spanned<u32>>,
    #[allow(dead_code)] // the body, compiled from the node
    tasks: Option<serde::de::IgnoredAny>,
    // user: read from the node by `user_task::ControlParser::user_task`
    title: Option<serde::de::IgnoredAny>,
    description: Option<serde::de::IgnoredAny>,
    owners: Option<serde::de::IgnoredAny>,
    administrators: Option<serde::de::IgnoredAny>,
    priority: Option<serde::de::IgnoredAny>,
    due: Option<serde::de::IgnoredAny>,
    form: Option<serde::de::IgnoredAny>,
    input: Option<serde::de::IgnoredAny>,
    output: Option<serde::de::IgnoredAny>,
    expires_after: Option<serde::de::IgnoredAny>,
    on_expiry: Option<serde::de::IgnoredAny>,
    escalations: Option<serde::de::IgnoredAny>,
    subtasks: Option<serde::de::IgnoredAny>,
    // Automic controls, read from the node by `controls::ControlParser`.
    #[allow(dead_code)]
    breakpoint: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    calendar: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    timezone: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    earliest_start: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    active: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    preconditions: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    latest_start: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    latest_end: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    expected_runtime: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    on_timeout: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    prompts: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    generate: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    max_runtime: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    min_runtime: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    postconditions: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    max_restarts: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    max_runs: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    on_demand: Option<serde::de::IgnoredAny>,
}

/// One `after` entry: a task id, or `{task: id, status: name or [names]}`.
struct RawAfter {
    task: Spanned<String>,
    /// The status names and the position of the `status` value.
    status: Option<(Pos, Vec<String>)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAfterFull {
    task: Spanned<String>,
    #[allow(dead_code)] // read from the node: a name or a list of names
    status: serde::de::IgnoredAny,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawCommand {
    Shell(String),
    Argv(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDependencies {
    #[serde(rename = "match")]
    match_: Option<Spanned<String>>,
    #[serde(rename = "else")]
    #[allow(dead_code)] // read from the node: a word or `{run: TASK}`
    else_: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBranch {
    when: Spanned<String>,
    to: Vec<Spanned<String>>,
}

const KINDS: &[&str] = &["job", "set", "decision", "foreach", "user", "end"];

/// Which fields belong to which kind, for "field X is only for Y tasks" messages.
const KIND_FIELDS: &[(&str, &str)] = &[
    ("command", "job"),
    ("topic", "job"),
    ("workdir", "job"),
    ("env", "job"),
    ("timeout", "job"),
    ("retry", "job"),
    ("set", "set"),
    ("branches", "decision"),
    ("otherwise", "decision"),
    ("mode", "decision"),
    ("terminate", "end"),
    ("items", "foreach"),
    ("parallel", "foreach"),
    ("tasks", "foreach"),
    ("title", "user"),
    ("description", "user"),
    ("owners", "user"),
    ("administrators", "user"),
    ("priority", "user"),
    ("due", "user"),
    ("form", "user"),
    ("input", "user"),
    ("output", "user"),
    ("expires_after", "user"),
    ("on_expiry", "user"),
    ("escalations", "user"),
    ("subtasks", "user"),
];

// ---------------------------------------------------------------------------------------
// Parsing

/// A definition (or calendar) file's text. It must be UTF-8: the first byte that is not is
/// reported at its line and column (counted in characters, as every position is).
/// A file larger than [`document::MAX_SOURCE_BYTES`] is refused as such (a reader need not
/// read more than one byte past it).
pub fn decode_source(file: &str, bytes: Vec<u8>) -> Result<String, DefinitionError> {
    if bytes.len() > document::MAX_SOURCE_BYTES {
        return Err(document::too_large(file));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        // The prefix is valid UTF-8 by construction.
        let valid = std::str::from_utf8(valid).unwrap_or_default();
        let line = valid.matches('\n').count() + 1;
        let column = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        let byte = e.as_bytes()[valid.len()];
        DefinitionError {
            file: file.to_owned(),
            diagnostics: vec![Diagnostic {
                line,
                column,
                message: format!("the file is not UTF-8 text: the bytes from here on (0x{byte:02X} …) are not valid UTF-8"),
                hint: Some("save the file as UTF-8".into()),
            }],
        }
    })
}

/// Parses and validates a definition as it was stored: this is how a stored definition is read
/// back, whatever the limits are now. `file` is used in messages only. Data defaults may be as
/// large as the [ceiling](crate::limits::DataLimits::CEILING) of the data limits, and durations
/// are not held to [`MAX_DURATION`] (one stored before that bound still loads).
pub fn parse(file: &str, source: &str) -> Result<Definition, DefinitionError> {
    parse_checked(file, source, &crate::limits::DataLimits::CEILING, false)
}

/// Parses and validates a definition as a deploy does: data defaults held to `limits`, and
/// durations to [`MAX_DURATION`].
pub fn parse_with(file: &str, source: &str, limits: &crate::limits::DataLimits) -> Result<Definition, DefinitionError> {
    parse_checked(file, source, limits, true)
}

fn parse_checked(file: &str, source: &str, limits: &crate::limits::DataLimits, bound_durations: bool) -> Result<Definition, DefinitionError> {
    document::check(file, source)?;
    let mut diags = Diagnostics::new(source);
    diags.bound_durations = bound_durations;
    let definition = parse_inner(source, &mut diags, limits);
    match definition {
        Some(d) if diags.items.is_empty() => Ok(d),
        _ => {
            let mut diagnostics = diags.finish();
            document::keep_inside(source, &mut diagnostics);
            Err(DefinitionError { file: file.to_owned(), diagnostics })
        }
    }
}

fn parse_inner(source: &str, diags: &mut Diagnostics, limits: &crate::limits::DataLimits) -> Option<Definition> {
    // Duplicate keys are mistakes (the last one would win silently), and quoted scalars are
    // strings: `default: "12"` is the text 12, not a number.
    let options = marked_yaml::LoaderOptions::default().error_on_duplicate_keys(true).prevent_coercion(true);
    let root = match marked_yaml::parse_yaml_with_options(0, source, options) {
        Ok(node) => node,
        Err(e) => {
            let (pos, message) = load_error_position(&e);
            let hint = match e {
                marked_yaml::LoadError::DuplicateKey(_) => "each key may appear once in a mapping; remove or rename one",
                _ => "check the indentation and quoting around this place",
            };
            diags.error(pos, message, Some(hint.into()));
            return None;
        }
    };
    let Some(root_map) = root.as_mapping() else {
        diags.error(pos_of(root.span()), "a definition must be a mapping with `id` and `tasks`", None);
        return None;
    };
    let raw: RawDefinition = match marked_yaml::from_node(&root) {
        Ok(raw) => raw,
        Err(e) => {
            diags.report_from_node_error(&e, &root);
            return None;
        }
    };
    if let Err((message, hint)) = check_id("process", &raw.id) {
        diags.error(pos_of(raw.id.span()), message, Some(hint));
    }

    let data = parse_data(root_map, diags, limits);

    let task_nodes = root_map.get_sequence("tasks").map(|s| s.iter().collect::<Vec<_>>()).unwrap_or_default();
    if task_nodes.is_empty() {
        let pos = root_map.get_node("tasks").map_or(Pos { line: 1, column: 1 }, |n| pos_of(n.span()));
        diags.error(pos, "a definition needs at least one task under `tasks`", None);
        return None;
    }
    let mut definition = compile_graph(raw.id.as_str(), &task_nodes, data, diags)?;
    definition.name = raw.name.clone();
    definition.description = raw.description.clone();
    Some(definition)
}

/// Longest process or task id.
pub const MAX_ID_LEN: usize = 128;

/// Process and task ids are what commands, history and expressions (`tasks.ID.status`) name:
/// 1 to [`MAX_ID_LEN`] ASCII letters, digits, `_`, `.` and `-`, starting with a letter or `_`.
/// (So `/`, which joins a process and its foreach bodies, and `#`, which picks a human task
/// in `baton task` commands, never appear in one.) Returns the message and a hint.
pub fn check_id(kind: &str, id: &str) -> Result<(), (String, String)> {
    let rule = "use 1 to 128 letters, digits, `_`, `.` and `-`, starting with a letter or `_`".to_owned();
    let shown: String = id.chars().take(40).collect();
    let shown = if shown.len() < id.len() { format!("{shown}…") } else { shown };
    if id.is_empty() {
        return Err((format!("a {kind} `id` must not be empty"), rule));
    }
    if let Some(bad) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        let why = match bad {
            '/' => " (`/` joins a process and its foreach bodies)",
            '#' => " (`#N` after a task id picks a human task)",
            _ => "",
        };
        return Err((format!("the {kind} id `{shown}` contains `{bad}`{why}"), rule));
    }
    if id.len() > MAX_ID_LEN {
        return Err((format!("the {kind} id `{shown}` is {} characters long, more than {MAX_ID_LEN}", id.len()), rule));
    }
    if !id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return Err((format!("the {kind} id `{shown}` must start with a letter or `_`"), rule));
    }
    Ok(())
}

/// Compiles a task graph: a process's `tasks`, or a foreach task's body.
fn compile_graph(id: &str, task_nodes: &[&Node], data: IndexMap<String, DataDecl>, diags: &mut Diagnostics) -> Option<Definition> {
    let mut raws: Vec<RawTask> = Vec::new();
    for node in task_nodes {
        match marked_yaml::from_node::<RawTask>(node) {
            Ok(t) => raws.push(t),
            Err(e) => diags.report_from_node_error(&e, node),
        }
    }
    if raws.len() != task_nodes.len() {
        return None;
    }

    // Task ids first, so that references can be checked in any order.
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, t) in raws.iter().enumerate() {
        if let Err((message, hint)) = check_id("task", &t.id) {
            diags.error(pos_of(t.id.span()), message, Some(hint));
        }
        if t.id.is_empty() {
            continue;
        }
        if let Some(&first) = index.get(t.id.as_str()) {
            let at = pos_of(raws[first].id.span());
            diags.error(
                pos_of(t.id.span()),
                format!("duplicate task id `{}`", t.id.as_str()),
                Some(format!("the first task with this id is at line {}; give each task its own id", at.line)),
            );
        } else {
            index.insert(t.id.as_str().to_owned(), i);
        }
    }
    let ids = diags.candidates(raws.iter().map(|t| t.id.as_str().to_owned()).collect());
    let resolve = |diags: &mut Diagnostics, name: &Spanned<String>, what: &str| -> Option<usize> {
        let found = index.get(name.as_str()).copied();
        if found.is_none() {
            diags.unknown_name(pos_of(name.span()), format!("{what} `{}` is not a task of this process", name.as_str()), name, ids, None);
        }
        found
    };

    let mut tasks = Vec::with_capacity(raws.len());
    for (raw_task, node) in raws.iter().zip(task_nodes) {
        if let Some(task) = compile_task(id, raw_task, node, &data, diags, &resolve) {
            tasks.push(task);
        }
    }
    if tasks.len() != raws.len() || !diags.items.is_empty() {
        return None;
    }

    // Decision branches are edges too: a branch target depends on its decision.
    for d in 0..tasks.len() {
        if let TaskKind::Decision(spec) = &tasks[d].kind {
            let targets: Vec<usize> = spec.targets().collect();
            for t in targets {
                if t == d {
                    continue;
                }
                if !tasks[t].predecessors.iter().any(|p| p.task == d) {
                    tasks[t].predecessors.push(Dependency { task: d, condition: StatusCondition::AnyOk });
                }
            }
        }
    }
    let mut successors = vec![Vec::new(); tasks.len()];
    for (i, t) in tasks.iter().enumerate() {
        for p in &t.predecessors {
            successors[p.task].push(i);
        }
    }
    let order = match topological_order(&tasks, &successors) {
        Ok(order) => order,
        Err(cycle) => {
            let names: Vec<&str> = cycle.iter().map(|&i| tasks[i].id.as_str()).collect();
            let first = &raws[cycle[0]];
            let first_after = read_after(task_nodes[cycle[0]], &mut Diagnostics::new(diags.source));
            let pos = first_after
                .and_then(|a| a.into_iter().next())
                .map_or_else(|| pos_of(first.id.span()), |a| pos_of(a.task.span()));
            diags.error(
                pos,
                format!("the tasks form a cycle: {} -> {}", names.join(" -> "), names[0]),
                Some("a workflow is a graph without loops; use a `foreach` task to repeat work".into()),
            );
            return None;
        }
    };
    if let Some(cycle) = run_cycles::find(&tasks).filter(|c| !c.is_empty()) {
        report_run_cycle(&cycle, &tasks, task_nodes, diags);
        return None;
    }

    Some(Definition {
        id: id.to_owned(),
        version: 0,
        name: None,
        description: None,
        data,
        tasks,
        order,
        successors,
        iterates: diags.iterates,
        index,
    })
}

/// Refuses postconditions whose `run` actions start each other whatever the data, at the
/// action that closes the loop.
fn report_run_cycle(cycle: &[run_cycles::CertainRun], tasks: &[TaskDef], task_nodes: &[&Node], diags: &mut Diagnostics) {
    let Some(first) = cycle.first() else { return };
    let branch = if first.then { "then" } else { "else" };
    let pos = task_nodes[first.from]
        .as_mapping()
        .and_then(|m| m.get_sequence("postconditions"))
        .and_then(|list| list.get(first.index))
        .and_then(|post| post.as_mapping().and_then(|m| m.get_node(branch)).or(Some(post)))
        .map_or_else(|| pos_of(task_nodes[first.from].span()), |n| pos_of(n.span()));
    let mut names: Vec<&str> = cycle.iter().map(|e| tasks[e.from].id.as_str()).collect();
    names.push(tasks[first.from].id.as_str());
    diags.error(
        pos,
        format!("these postconditions run each other whatever the data, so they would never stop: {}", names.join(" -> ")),
        Some("make a condition read the data or the task's status (e.g. `task.status == 'ended_not_ok'`), or use `restart` with `max_restarts`".into()),
    );
}

fn parse_data(root: &marked_yaml::types::MarkedMappingNode, diags: &mut Diagnostics, limits: &crate::limits::DataLimits) -> IndexMap<String, DataDecl> {
    let mut data = IndexMap::new();
    let Some(data_node) = root.get_node("data") else { return data };
    let Some(entries) = data_node.as_mapping() else {
        if !data_node.as_scalar().is_some_and(|s| s.as_str().is_empty()) {
            diags.error(node_pos(data_node), "`data` must map variable names to types", Some("for example `data: {amount: integer, customer: {type: string, default: \"ACME\"}}`".into()));
        }
        return data;
    };
    for (name, decl) in entries.iter() {
        let (ty_name, description) = match decl {
            Node::Scalar(t) => (Some(t.as_str().to_owned()), None),
            Node::Mapping(_) => match marked_yaml::from_node::<RawDataDeclFull>(decl) {
                Ok(full) => (full.ty, full.description),
                Err(e) => {
                    diags.report_from_node_error(&e, decl);
                    continue;
                }
            },
            Node::Sequence(_) => {
                diags.error(node_pos(decl), format!("`{}` must be a type name or a mapping with `type`, `default` and `description`", name.as_str()), None);
                continue;
            }
        };
        let ty = match ty_name.as_deref() {
            None => DataType::Any,
            Some(t) => match DataType::parse(t) {
                Some(ty) => ty,
                None => {
                    let names: Vec<&str> = DataType::NAMES.iter().map(|(n, _)| *n).collect();
                    diags.error(type_pos(decl), format!("unknown data type `{t}` for `{}`", name.as_str()), Some(format!("use one of: {}", names.join(", "))));
                    continue;
                }
            },
        };
        let default_node = decl.as_mapping().and_then(|m| m.get_node("default"));
        let default = default_node.map(node_to_json);
        if let (Some(value), Some(node)) = (&default, default_node) {
            if let Err(e) = limits.check_member(value) {
                diags.error(
                    node_pos(node),
                    format!("the default of `{}` {e}", name.as_str()),
                    Some("a default is held to the limits of data given at start; make it smaller".into()),
                );
            } else if !ty.admits(value) {
                diags.error(
                    node_pos(node),
                    format!("the default of `{}` is {} but its type is {}", name.as_str(), json_type_name(value), ty.name()),
                    Some(format!("write a value of type {}, or change `type`", ty.name())),
                );
            }
        }
        data.insert(name.as_str().to_owned(), DataDecl { ty, default, description });
    }
    data
}

fn type_pos(node: &Node) -> Pos {
    node.as_mapping().and_then(|m| m.get_node("type")).map_or_else(|| node_pos(node), node_pos)
}

/// Where a node starts as a reader sees it. The YAML parser starts a block mapping at the
/// `:` of its first key, so a mapping is placed at its first key instead.
fn node_pos(node: &Node) -> Pos {
    match node {
        Node::Mapping(map) => map.keys().next().map_or_else(|| pos_of(node.span()), |k| pos_of(k.span())),
        _ => pos_of(node.span()),
    }
}

/// Reads a task's `after` list: task ids, or `{task, status}` mappings.
fn read_after(task: &Node, diags: &mut Diagnostics) -> Option<Vec<RawAfter>> {
    let Some(after) = task.as_mapping().and_then(|m| m.get_node("after")) else { return Some(Vec::new()) };
    let Some(items) = after.as_sequence() else {
        let example = after.as_scalar().map_or("extract", |s| s.as_str());
        diags.error(node_pos(after), "`after` must be a list of predecessors", Some(format!("write `after: [{example}]`")));
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for item in items.iter() {
        match item {
            Node::Scalar(name) => out.push(RawAfter { task: Spanned::new(*name.span(), name.as_str().to_owned()), status: None }),
            Node::Mapping(map) => match marked_yaml::from_node::<RawAfterFull>(item) {
                Ok(full) => {
                    let status = map.get_node("status").expect("`status` was read");
                    let names = match status {
                        Node::Scalar(s) => Some(vec![s.as_str().to_owned()]),
                        Node::Sequence(list) => list.iter().map(|n| n.as_scalar().map(|s| s.as_str().to_owned())).collect(),
                        Node::Mapping(_) => None,
                    };
                    match names {
                        Some(names) => out.push(RawAfter { task: full.task, status: Some((node_pos(status), names)) }),
                        None => {
                            diags.error(node_pos(status), "`status` must be a status name or a list of them", Some("for example `status: [ended_ok, ended_skipped]`".into()));
                            ok = false;
                        }
                    }
                }
                Err(e) => {
                    diags.report_from_node_error(&e, item);
                    ok = false;
                }
            },
            Node::Sequence(_) => {
                diags.error(node_pos(item), "an `after` entry is a task id or `{task: id, status: name}`", None);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// Reads a decision's `branches`, each `{when, to}`.
fn read_branches(task: &Node, diags: &mut Diagnostics) -> Option<Vec<RawBranch>> {
    let Some(node) = task.as_mapping().and_then(|m| m.get_node("branches")) else { return Some(Vec::new()) };
    let Some(items) = node.as_sequence() else {
        diags.error(node_pos(node), "`branches` must be a list of `{when: expression, to: [tasks]}`", None);
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for item in items.iter() {
        match marked_yaml::from_node::<RawBranch>(item) {
            Ok(b) => out.push(b),
            Err(e) => {
                diags.report_from_node_error(&e, item);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn compile_task(
    scope_id: &str,
    raw: &RawTask,
    node: &Node,
    data: &IndexMap<String, DataDecl>,
    diags: &mut Diagnostics,
    resolve: Resolve<'_>,
) -> Option<TaskDef> {
    let kind_name = raw.kind.as_str();
    if !KINDS.contains(&kind_name) {
        diags.error(
            pos_of(raw.kind.span()),
            format!("unknown task kind `{kind_name}`"),
            Some(format!("use one of: {}", KINDS.join(", "))),
        );
        return None;
    }
    let present = [
        ("command", raw.command.is_some()),
        ("topic", raw.topic.is_some()),
        ("workdir", raw.workdir.is_some()),
        ("env", !raw.env.is_empty()),
        ("timeout", raw.timeout.is_some()),
        ("retry", raw.retry.is_some()),
        ("set", raw.set.is_some()),
        ("branches", raw.branches.is_some()),
        ("otherwise", raw.otherwise.is_some()),
        ("mode", raw.mode.is_some()),
        ("terminate", raw.terminate.is_some()),
        ("items", raw.items.is_some()),
        ("parallel", raw.parallel.is_some()),
        ("tasks", raw.tasks.is_some()),
        ("title", raw.title.is_some()),
        ("description", raw.description.is_some()),
        ("owners", raw.owners.is_some()),
        ("administrators", raw.administrators.is_some()),
        ("priority", raw.priority.is_some()),
        ("due", raw.due.is_some()),
        ("form", raw.form.is_some()),
        ("input", raw.input.is_some()),
        ("output", raw.output.is_some()),
        ("expires_after", raw.expires_after.is_some()),
        ("on_expiry", raw.on_expiry.is_some()),
        ("escalations", raw.escalations.is_some()),
        ("subtasks", raw.subtasks.is_some()),
    ];
    let mut misplaced = false;
    for (field, is_present) in present {
        let owner = KIND_FIELDS.iter().find(|(f, _)| *f == field).map_or("", |(_, k)| *k);
        if is_present && owner != kind_name {
            misplaced = true;
            let at = node.as_mapping().and_then(|m| m.keys().find(|k| k.as_str() == field)).map_or_else(|| pos_of(raw.id.span()), |k| pos_of(k.span()));
            diags.error(
                at,
                format!("task `{}` is {} {kind_name} task but sets `{field}`, which only {owner} tasks have", raw.id.as_str(), if kind_name.starts_with('e') { "an" } else { "a" }),
                Some(format!("remove `{field}` or change `kind` to {owner}")),
            );
        }
    }

    let mut predecessors = Vec::new();
    for entry in read_after(node, diags)? {
        let Some(task) = resolve(diags, &entry.task, "predecessor") else { continue };
        let condition = match &entry.status {
            None => StatusCondition::AnyOk,
            Some((at, names)) => match parse_condition(names) {
                Ok(c) => c,
                Err(bad) => return bad_status(diags, *at, &bad),
            },
        };
        if task == raw_index_of(raw, resolve, diags) {
            diags.error(pos_of(entry.task.span()), format!("task `{}` cannot be its own predecessor", raw.id.as_str()), None);
            continue;
        }
        predecessors.push(Dependency { task, condition });
    }

    let (dependency_match, on_unmet) = match &raw.dependencies {
        None => (DependencyMatch::All, Action::Block),
        Some(d) => {
            let m = match d.match_.as_ref().map(|s| s.as_str()) {
                None | Some("all") => DependencyMatch::All,
                Some("one") => DependencyMatch::One,
                Some(other) => {
                    diags.error(pos_of(d.match_.as_ref()?.span()), format!("unknown dependency match `{other}`"), Some("use `all` or `one`".into()));
                    return None;
                }
            };
            let else_node = node.as_mapping().and_then(|m| m.get_mapping("dependencies")).and_then(|m| m.get_node("else"));
            let e = match else_node {
                None => Action::Block,
                Some(n) => {
                    let mut parser = controls::ControlParser { diags: &mut *diags, resolve, data };
                    parser.action(n, "dependencies.else", &["skip", "block", "abort", "run"])?
                }
            };
            (m, e)
        }
    };

    let kind = match kind_name {
        "job" => {
            let mut job = compile_job(raw, diags)?;
            if let Some(n) = node.as_mapping().and_then(|m| m.get_node("retry")) {
                let mut parser = controls::ControlParser { diags: &mut *diags, resolve, data };
                job.retry = Some(parser.retry(n)?);
            }
            TaskKind::Job(job)
        }
        "set" => TaskKind::Set(compile_set(raw, data, diags)?),
        "decision" => TaskKind::Decision(compile_decision(raw, node, diags, resolve)?),
        "foreach" => TaskKind::ForEach(compile_foreach(scope_id, raw, node, data, diags)?),
        "user" => {
            let mut parser = controls::ControlParser { diags: &mut *diags, resolve, data };
            TaskKind::User(Box::new(parser.user_task(&raw.id, raw.name.as_deref(), node.as_mapping()?)?))
        }
        _ => TaskKind::End { terminate: raw.terminate.unwrap_or(false) },
    };
    let controls = {
        let mut parser = controls::ControlParser { diags: &mut *diags, resolve, data };
        parser.controls(node.as_mapping()?)?
    };
    if misplaced {
        return None;
    }
    Some(TaskDef {
        id: raw.id.as_str().to_owned(),
        name: raw.name.clone(),
        kind,
        predecessors,
        dependency_match,
        on_unmet,
        controls,
    })
}

/// The task's own index, found without reporting anything new (its id was checked already).
fn raw_index_of(raw: &RawTask, resolve: Resolve<'_>, diags: &mut Diagnostics) -> usize {
    let before = diags.items.len();
    let found = resolve(diags, &raw.id, "task");
    diags.truncate(before);
    found.unwrap_or(usize::MAX)
}

fn bad_status<T>(diags: &mut Diagnostics, at: Pos, bad: &str) -> Option<T> {
    diags.error(
        at,
        format!("unknown predecessor status `{bad}`"),
        Some(format!("use any_ok, any_not_ok, any_end or one of: {}", crate::status::END_STATUS_NAMES.join(", "))),
    );
    None
}

fn parse_condition(names: &[String]) -> Result<StatusCondition, String> {
    if let [one] = names {
        return StatusCondition::parse(one).ok_or_else(|| one.clone());
    }
    let mut all = Vec::new();
    for n in names {
        match StatusCondition::parse(n) {
            Some(StatusCondition::OneOf(v)) => all.extend(v),
            _ => return Err(n.clone()),
        }
    }
    Ok(StatusCondition::OneOf(all))
}

fn compile_job(raw: &RawTask, diags: &mut Diagnostics) -> Option<JobSpec> {
    let target = match (&raw.command, &raw.topic) {
        (Some(_), Some(topic)) => {
            diags.error(pos_of(topic.span()), format!("job task `{}` has both a `command` and a `topic`", raw.id.as_str()), Some("a job is run by Baton (`command`) or fetched by an external worker (`topic`): keep one".into()));
            return None;
        }
        (None, None) => {
            diags.error(
                pos_of(raw.id.span()),
                format!("job task `{}` needs a `command` or a `topic`", raw.id.as_str()),
                Some("for example `command: [\"./load.sh\", \"--all\"]`, or `topic: invoice-check` for an external worker".into()),
            );
            return None;
        }
        (None, Some(topic)) => {
            if let Some(problem) = topic_problem(topic.as_str()) {
                diags.error(pos_of(topic.span()), format!("topic `{}` is not allowed: {problem}", topic.as_str().escape_default()), None);
                return None;
            }
            if raw.workdir.is_some() || raw.timeout.is_some() {
                let field = if raw.workdir.is_some() { "workdir" } else { "timeout" };
                diags.error(
                    pos_of(topic.span()),
                    format!("`{field}` is for jobs Baton runs; job task `{}` is done by an external worker", raw.id.as_str()),
                    Some("an external worker's time is bounded by its lock; use `max_runtime` to bound the whole job".into()),
                );
                return None;
            }
            JobTarget::Topic(topic.as_str().to_owned())
        }
        (Some(command), None) => {
            let argv = match &**command {
                RawCommand::Shell(line) => vec!["sh".to_owned(), "-c".to_owned(), line.clone()],
                RawCommand::Argv(argv) => argv.clone(),
            };
            if argv.first().is_none_or(|a| a.is_empty()) {
                diags.error(pos_of(command.span()), "the `command` is empty", Some("give the program to run and its arguments".into()));
                return None;
            }
            JobTarget::Command(argv)
        }
    };
    let mut env = Vec::new();
    let mut ok = true;
    for (name, source) in &raw.env {
        match diags.expr(source, &format!("env.{}", name.as_str())) {
            Some(e) => env.push((name.as_str().to_owned(), e)),
            None => ok = false,
        }
    }
    let timeout = match &raw.timeout {
        None => None,
        Some(t) => Some(diags.duration(pos_of(t.span()), Some(t), "timeout")?),
    };
    ok.then(|| JobSpec { target, workdir: raw.workdir.clone(), env, timeout, retry: None })
}

fn compile_set(raw: &RawTask, data: &IndexMap<String, DataDecl>, diags: &mut Diagnostics) -> Option<Vec<(String, Expr)>> {
    let Some(set) = &raw.set else {
        diags.error(pos_of(raw.id.span()), format!("set task `{}` needs `set:` with at least one assignment", raw.id.as_str()), Some("for example `set: {total: \"data.a + data.b\"}`".into()));
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (name, source) in set {
        if !data.contains_key(name.as_str()) {
            let declared = diags.data_candidates(data);
            diags.unknown_name(
                pos_of(name.span()),
                format!("`{}` is not declared under `data`", name.as_str()),
                name,
                declared,
                Some(format!("declare it: `data: {{{}: {{type: any}}}}`", name.as_str())),
            );
            ok = false;
            continue;
        }
        match diags.expr(source, &format!("set.{}", name.as_str())) {
            Some(e) => out.push((name.as_str().to_owned(), e)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn compile_decision(
    raw: &RawTask,
    node: &Node,
    diags: &mut Diagnostics,
    resolve: Resolve<'_>,
) -> Option<DecisionSpec> {
    let branches_raw = read_branches(node, diags)?;
    if branches_raw.is_empty() {
        diags.error(pos_of(raw.id.span()), format!("decision `{}` needs `branches`", raw.id.as_str()), Some("for example `branches: [{when: \"data.amount > 100\", to: [approve]}]`".into()));
        return None;
    }
    let mut ok = true;
    let mut branches = Vec::new();
    for b in &branches_raw {
        let when = diags.expr(&b.when, "when");
        let to: Vec<Option<usize>> = b.to.iter().map(|t| resolve(diags, t, "branch target")).collect();
        match (when, to.into_iter().collect::<Option<Vec<_>>>()) {
            (Some(when), Some(to)) => branches.push(Branch { when, to }),
            _ => ok = false,
        }
    }
    let otherwise: Option<Vec<usize>> = raw.otherwise.iter().flatten().map(|t| resolve(diags, t, "branch target")).collect();
    let take_all = match raw.mode.as_ref().map(|m| m.as_str()) {
        None | Some("first") => false,
        Some("all") => true,
        Some(other) => {
            diags.error(pos_of(raw.mode.as_ref()?.span()), format!("unknown decision mode `{other}`"), Some("use `first` (the first branch that holds) or `all`".into()));
            return None;
        }
    };
    (ok && otherwise.is_some()).then(|| DecisionSpec { branches, otherwise: otherwise.unwrap_or_default(), take_all })
}

fn compile_foreach(scope_id: &str, raw: &RawTask, node: &Node, data: &IndexMap<String, DataDecl>, diags: &mut Diagnostics) -> Option<ForEachSpec> {
    let Some(items) = &raw.items else {
        diags.error(pos_of(raw.id.span()), format!("foreach task `{}` needs `items`", raw.id.as_str()), Some("a CEL expression giving a list, e.g. `items: data.files`".into()));
        return None;
    };
    let items = diags.expr(items, "items")?;
    let parallel = match &raw.parallel {
        None => 1,
        Some(p) if (1..=MAX_PARALLEL).contains(&(**p as usize)) => **p as usize,
        // A stored definition from before the bound still loads, running that many at most.
        Some(p) if **p >= 1 && !diags.bound_durations => MAX_PARALLEL,
        Some(p) if **p >= 1 => {
            diags.error(
                pos_of(p.span()),
                format!("`parallel` is {}, more than the limit of {MAX_PARALLEL}", **p),
                Some("each running iteration is an instance with its own jobs and timers; run fewer at once".into()),
            );
            return None;
        }
        Some(p) => {
            diags.error(pos_of(p.span()), "`parallel` must be at least 1", Some("1 runs the iterations one after the other".into()));
            return None;
        }
    };
    let body_nodes: Vec<&Node> = node.as_mapping().and_then(|m| m.get_sequence("tasks")).map(|s| s.iter().collect()).unwrap_or_default();
    if body_nodes.is_empty() {
        diags.error(pos_of(raw.id.span()), format!("foreach task `{}` needs `tasks`, the body run for each item", raw.id.as_str()), None);
        return None;
    }
    let body = compile_graph(&format!("{scope_id}/{}", raw.id.as_str()), &body_nodes, data.clone(), diags)?;
    Some(ForEachSpec { items, parallel, body: std::sync::Arc::new(body) })
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

    /// Does any task here or in a foreach body satisfy `pred`?
    pub fn any_task(&self, pred: &dyn Fn(&TaskDef) -> bool) -> bool {
        self.tasks.iter().any(|t| pred(t) || matches!(&t.kind, TaskKind::ForEach(spec) if spec.body.any_task(pred)))
    }
}

/// Kahn's algorithm in declaration order; on a cycle returns the tasks of one cycle.
fn topological_order(tasks: &[TaskDef], successors: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let mut indegree: Vec<usize> = tasks.iter().map(|t| t.predecessors.len()).collect();
    let mut ready: std::collections::VecDeque<usize> = (0..tasks.len()).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(tasks.len());
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for &s in &successors[i] {
            indegree[s] -= 1;
            if indegree[s] == 0 {
                ready.push_back(s);
            }
        }
    }
    if order.len() == tasks.len() {
        return Ok(order);
    }
    // Walk predecessors among the leftover tasks until one repeats: that is a cycle.
    let left: Vec<bool> = indegree.iter().map(|&d| d > 0).collect();
    let mut path = vec![left.iter().position(|&l| l).unwrap_or(0)];
    loop {
        let last = *path.last().unwrap_or(&0);
        let Some(next) = tasks[last].predecessors.iter().map(|p| p.task).find(|&p| left[p]) else { return Err(path) };
        if let Some(at) = path.iter().position(|&p| p == next) {
            let mut cycle = path.split_off(at);
            cycle.reverse();
            return Err(cycle);
        }
        path.push(next);
    }
}

pub(crate) fn did_you_mean(name: &str, candidates: &[&str]) -> Option<String> {
    // A close spelling, else another form of the same word (`retries` for `retry`, `owner`
    // for `owners`): all of the shorter word but its last letter begins the other.
    let same_stem = |c: &str| {
        let shorter = name.len().min(c.len());
        let common = name.bytes().zip(c.bytes()).take_while(|(a, b)| a == b).count();
        shorter >= 4 && common + 1 >= shorter
    };
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|(d, _)| *d <= 2.max(name.len() / 3))
        .min()
        .map(|(_, c)| *c)
        .or_else(|| candidates.iter().copied().find(|c| same_stem(c)))
        .map(|c| format!("did you mean `{c}`?"))
}

/// Converts a YAML node to JSON with YAML 1.2 core-schema scalars: unquoted `true`, `12`,
/// `1.5` and `null` are typed; quoted scalars are always strings.
pub fn node_to_json(node: &Node) -> Value {
    match node {
        Node::Scalar(s) => {
            let text = s.as_str();
            if !s.may_coerce() {
                return Value::String(text.to_owned());
            }
            match text {
                "null" | "~" | "" => Value::Null,
                "true" | "True" | "TRUE" => Value::Bool(true),
                "false" | "False" | "FALSE" => Value::Bool(false),
                _ => text
                    .parse::<i64>()
                    .map(Value::from)
                    .ok()
                    .or_else(|| text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number))
                    .unwrap_or_else(|| Value::String(text.to_owned())),
            }
        }
        Node::Sequence(items) => Value::Array(items.iter().map(node_to_json).collect()),
        Node::Mapping(map) => Value::Object(map.iter().map(|(k, v)| (k.as_str().to_owned(), node_to_json(v))).collect::<Map<_, _>>()),
    }
}

fn load_error_position(e: &marked_yaml::LoadError) -> (Pos, String) {
    use marked_yaml::LoadError as E;
    let (marker, message) = match e {
        E::TopLevelMustBeMapping(m) => (m, "the top level must be a mapping".to_owned()),
        E::TopLevelMustBeSequence(m) => (m, "the top level must be a sequence".to_owned()),
        E::UnexpectedAnchor(m) => (m, "YAML anchors are not supported in definitions".to_owned()),
        E::UnexpectedTag(m) => (m, "YAML tags are not supported in definitions".to_owned()),
        E::MappingKeyMustBeScalar(m) => (m, "mapping keys must be plain strings".to_owned()),
        E::DuplicateKey(k) => {
            let span = k.key.span();
            return (pos_of(span), format!("the key `{}` appears twice in this mapping", k.key.as_str()));
        }
        E::ScanError(m, err) => (m, format!("YAML syntax error: {}", err.info())),

    };
    (Pos { line: marker.line(), column: marker.column() }, message)
}

impl Diagnostics<'_> {
    /// serde errors from marked_yaml do not always carry a position: place them on the key
    /// they name, or on the mapping being read.
    fn report_from_node_error(&mut self, e: &marked_yaml::FromNodeError, node: &Node) {
        let text = e.to_string();
        let span_pos = e.start_mark().map(|m| Pos { line: m.line(), column: m.column() });
        let named_key = text.split('`').nth(1).map(str::to_owned);
        let missing = text.starts_with("missing field");
        // A missing field is missing from this mapping: a key of that name elsewhere is not it.
        let key_pos = if missing { None } else { named_key.as_deref().and_then(|k| find_key(node, k)) };
        let pos = span_pos.or(key_pos).unwrap_or_else(|| node_pos(node));
        // serde says "unknown field"; some versions of the YAML layer capitalise it.
        let hint = if text.get(..13).is_some_and(|start| start.eq_ignore_ascii_case("unknown field")) {
            // "Unknown field `x`, expected one of `a`, `b`, or `c`": the accepted names follow.
            let accepted: Vec<&str> = text.split('`').skip(3).step_by(2).collect();
            named_key.as_deref().and_then(|k| did_you_mean(k, &accepted)).or_else(|| Some("check the spelling; the fields this mapping accepts are listed above".into()))
        } else if missing {
            Some("add the field to this mapping".into())
        } else {
            None
        };
        let message = text.replacen("Unknown field", "unknown field", 1).replacen("Value was not a boolean", "expected `true` or `false`", 1);
        self.error(pos, message, hint);
    }
}

/// The position of a key named `key`: in this mapping if it has one, else in the nested ones.
fn find_key(node: &Node, key: &str) -> Option<Pos> {
    if let Some(k) = node.as_mapping().and_then(|m| m.keys().find(|k| k.as_str() == key)) {
        return Some(pos_of(k.span()));
    }
    match node {
        Node::Mapping(map) => map.iter().find_map(|(k, v)| if k.as_str() == key { Some(pos_of(k.span())) } else { find_key(v, key) }),
        Node::Sequence(items) => items.iter().find_map(|n| find_key(n, key)),
        Node::Scalar(_) => None,
    }
}
