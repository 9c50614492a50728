//! Expressions: conditions, assignments and mappings in process definitions.
//!
//! Baton uses CEL (the Common Expression Language, via the `cel` crate) rather than a
//! home-made language: it is sandboxed (no I/O, no loops, always terminates) and well known
//! from Kubernetes and Google's APIs. An expression sees these variables:
//! `data` (the process data), `tasks` (each task's `status`), `task` (the task itself: `id`,
//! `status`, `attempts`, `duration_ms`, `exit_code`), `instance` (`id`), `now`, and in a ForEach
//! body `item` and `index`. A user task's `output` mapping also sees `output`, the output of
//! the human task that ended the task's chain.
//!
//! Every expression is bounded, so that no definition can overflow a stack, exhaust memory or
//! hold a thread: at deploy its source length ([`MAX_SOURCE_BYTES`]), syntax depth
//! ([`MAX_DEPTH`]) and comprehension nesting ([`MAX_COMPREHENSION_NESTING`]) are checked (parsing
//! itself runs on a stack of its own, large enough for the longest source); at run time each
//! evaluation has a cost budget and a result size ([`EvalLimits`], see `budget`).

mod budget;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr as AstExpr, IdedExpr, SourceInfo};
use cel::objects::{Key, Map as CelMap};
use cel::{Context, Value as CelValue};
use serde_json::{Map, Value};

pub use budget::EvalLimits;

/// The variables an expression may refer to; anything else is a deploy error.
pub const ROOT_VARIABLES: &[&str] = &[
    "data", "tasks", "task", "instance", "now", "item", "index", "offer",
];

/// Where a variable only some expressions see is allowed: `output` in a user task's `output` mapping.
pub const OUTPUT_VARIABLE: &str = "output";

/// The payload of the event a `wait` task received, in its `condition` and `output` mapping.
pub const EVENT_VARIABLE: &str = "event";

/// Longest expression source, in bytes.
pub const MAX_SOURCE_BYTES: usize = 4096;
/// Deepest syntax tree: operands nested in operators, calls, lists, maps and macros. A chain
/// `a + b + c` nests once per operator; `&&` and `||` chains are balanced, so they nest by the
/// logarithm of their length.
pub const MAX_DEPTH: usize = 100;
/// Most comprehensions (`all`, `exists`, `exists_one`, `map`, `filter`) nested in one another.
pub const MAX_COMPREHENSION_NESTING: usize = 3;

/// The stack parsing and checking run on: enough for the deepest tree a source of
/// [`MAX_SOURCE_BYTES`] can make before the depth check refuses it.
const PARSE_STACK: usize = 64 << 20;

/// A compiled CEL expression together with its source text.
#[derive(Clone)]
pub struct Expr {
    source: String,
    ast: Arc<IdedExpr>,
    uses_tasks: bool,
    iterates: bool,
    /// The `data.NAME` fields it reads: NAME, and the byte offset of NAME in the source.
    data_fields: Arc<[(usize, String)]>,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

/// Why an expression could not be compiled; `line`/`column` are 1-based inside the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Expr {
    /// Parses `source` and checks that it only names known variables.
    pub fn compile(source: &str) -> Result<Self, CompileError> {
        Self::compile_with(source, &[])
    }

    /// [`Expr::compile`], allowing `extra` variables beside the root ones (e.g. [`OUTPUT_VARIABLE`]).
    pub fn compile_with(source: &str, extra: &[&str]) -> Result<Self, CompileError> {
        if source.len() > MAX_SOURCE_BYTES {
            return Err(CompileError {
                line: 1,
                column: 1,
                message: format!(
                    "the expression is {} bytes long; expressions are limited to {MAX_SOURCE_BYTES} bytes (split the work over several `set` assignments)",
                    source.len()
                ),
            });
        }
        // The parser and the tree's drop recurse once per nesting level: give them a stack
        // of their own, so even a refused source cannot overflow the caller's.
        stacker::grow(PARSE_STACK, || compile_checked(source, extra))
    }

    /// The process data fields it reads as `data.NAME`: each NAME with its byte offset in the
    /// source (for a deploy to check them against the declared data).
    pub fn data_fields(&self) -> &[(usize, String)] {
        &self.data_fields
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the expression iterates (uses a comprehension): its cost then depends on the
    /// data, up to the evaluation budget, and the engine evaluates it off the async threads.
    pub fn iterates(&self) -> bool {
        self.iterates
    }

    /// The expression's value when it reads no variable at all (`true`, `1 < 2`), so that it
    /// is the same whatever the data; `None` when it depends on anything.
    pub fn constant(&self) -> Option<Value> {
        if !self.ast.references().variables().is_empty() {
            return None;
        }
        let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        self.eval(&Scope::new(&Map::new(), std::iter::empty(), "", epoch))
            .ok()
    }

    /// Evaluates the expression and converts the result to JSON.
    pub fn eval(&self, scope: &Scope) -> Result<Value, EvalError> {
        let value = scope.execute(self)?;
        let mut room = scope.limits.max_result_bytes;
        match to_json_within(&value, &mut room) {
            Ok(json) => Ok(json),
            Err(Unfit::TooLarge) => Err(EvalError(format!(
                "`{}` produced a result larger than {} bytes (the result size limit)",
                self.source, scope.limits.max_result_bytes
            ))),
            Err(Unfit::NotData) => Err(EvalError(format!(
                "`{}` produced a value that is not data: {value:?}",
                self.source
            ))),
        }
    }

    /// Evaluates the expression, which must produce a boolean.
    pub fn eval_bool(&self, scope: &Scope) -> Result<bool, EvalError> {
        match self.eval(scope)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError(format!(
                "`{}` must be true or false but gave {other}",
                self.source
            ))),
        }
    }
}

fn compile_checked(source: &str, extra: &[&str]) -> Result<Expr, CompileError> {
    let parser = budget::ENV.parser().max_recursion_depth(MAX_DEPTH as u16);
    let (ast, info) = parser.parse_with_source_info(source).map_err(|errors| {
        let first = errors.errors.first();
        let (line, column) = first.map_or((1, 1), |e| {
            (e.pos.0.max(1) as usize, e.pos.1.max(1) as usize)
        });
        let message = first.map_or_else(|| errors.to_string(), |e| e.msg.clone());
        CompileError {
            line,
            column,
            message: tidy_parse_message(&message),
        }
    })?;
    let mut shape = Shape::default();
    measure(&ast, 1, 0, &mut shape);
    if let Some((id, problem)) = shape.violation {
        let offset = info.offset_for(id).map_or(0, |(start, _)| start as usize);
        let (line, column) = line_column(source, offset);
        let message = match problem {
            Violation::Depth => format!(
                "the expression nests deeper than {MAX_DEPTH} levels; split it over several `set` assignments (a long chain of `+` nests once per operator)"
            ),
            Violation::Nesting => format!(
                "comprehensions (`all`, `exists`, `exists_one`, `map`, `filter`) are nested more than {MAX_COMPREHENSION_NESTING} deep"
            ),
        };
        return Err(CompileError {
            line,
            column,
            message,
        });
    }
    let mut unknown = None;
    let mut bound: Vec<&str> = extra.to_vec();
    first_unknown_variable(&ast, &mut bound, &info, &mut unknown);
    if let Some((offset, unknown)) = unknown {
        let (line, column) = line_column(source, offset);
        return Err(CompileError {
            line,
            column,
            message: format!(
                "unknown variable `{unknown}`; expressions can use {} (process data is `data.{unknown}`)",
                ROOT_VARIABLES.iter().chain(extra).map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let uses_tasks = ast.references().variables().contains(&"tasks");
    let mut data_fields = Vec::new();
    collect_data_fields(&ast, source, &info, &mut data_fields);
    Ok(Expr {
        source: source.to_owned(),
        uses_tasks,
        iterates: shape.comprehensions > 0,
        ast: Arc::new(ast),
        data_fields: data_fields.into(),
    })
}

/// What [`measure`] found: the first limit passed, and how many comprehensions there are.
#[derive(Default)]
struct Shape {
    violation: Option<(u64, Violation)>,
    comprehensions: usize,
}

enum Violation {
    Depth,
    Nesting,
}

/// Checks depth and comprehension nesting, descending no deeper than one level past the limit.
fn measure(expr: &IdedExpr, depth: usize, nesting: usize, shape: &mut Shape) {
    if shape.violation.is_some() {
        return;
    }
    if depth > MAX_DEPTH {
        shape.violation = Some((expr.id, Violation::Depth));
        return;
    }
    let nesting = match &expr.expr {
        AstExpr::Comprehension(_) => {
            shape.comprehensions += 1;
            if nesting + 1 > MAX_COMPREHENSION_NESTING {
                shape.violation = Some((expr.id, Violation::Nesting));
                return;
            }
            nesting + 1
        }
        _ => nesting,
    };
    for_each_child(expr, &mut |child| measure(child, depth + 1, nesting, shape));
}

/// Calls `f` on each direct operand of `expr`.
fn for_each_child<'e>(expr: &'e IdedExpr, f: &mut dyn FnMut(&'e IdedExpr)) {
    let entries = |entries: &'e [cel::common::ast::IdedEntryExpr],
                   f: &mut dyn FnMut(&'e IdedExpr)| {
        for entry in entries {
            match &entry.expr {
                EntryExpr::MapEntry(e) => {
                    f(&e.key);
                    f(&e.value);
                }
                EntryExpr::StructField(field) => f(&field.value),
            }
        }
    };
    match &expr.expr {
        AstExpr::Call(call) => {
            if let Some(target) = &call.target {
                f(target);
            }
            call.args.iter().for_each(|a| f(a));
        }
        AstExpr::Comprehension(c) => {
            for e in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                f(e);
            }
        }
        AstExpr::List(list) => list.elements.iter().for_each(|e| f(e)),
        AstExpr::Map(map) => entries(&map.entries, f),
        AstExpr::Struct(s) => entries(&s.entries, f),
        AstExpr::Select(select) => f(&select.operand),
        AstExpr::Ident(_) | AstExpr::Literal(_) | AstExpr::Unspecified => {}
    }
}

/// Finds the unknown variable written first (by source offset): an identifier that is neither
/// a root variable nor bound by an enclosing macro such as `all(x, …)` or `map(i, …)`.
fn first_unknown_variable<'e>(
    expr: &'e IdedExpr,
    bound: &mut Vec<&'e str>,
    info: &SourceInfo,
    found: &mut Option<(usize, &'e str)>,
) {
    match &expr.expr {
        AstExpr::Ident(name) => {
            // Names starting with `@` are the macros' own accumulators.
            if !name.starts_with('@')
                && !ROOT_VARIABLES.contains(&name.as_str())
                && !bound.contains(&name.as_str())
            {
                let offset = info
                    .offset_for(expr.id)
                    .map_or(0, |(start, _)| start as usize);
                if found.is_none_or(|(o, _)| offset < o) {
                    *found = Some((offset, name));
                }
            }
        }
        AstExpr::Comprehension(c) => {
            first_unknown_variable(&c.iter_range, bound, info, found);
            first_unknown_variable(&c.accu_init, bound, info, found);
            let depth = bound.len();
            bound.push(&c.iter_var);
            bound.extend(c.iter_var2.as_deref());
            bound.push(&c.accu_var);
            for e in [&c.loop_cond, &c.loop_step, &c.result] {
                first_unknown_variable(e, bound, info, found);
            }
            bound.truncate(depth);
        }
        _ => for_each_child(expr, &mut |child| {
            first_unknown_variable(child, bound, info, found)
        }),
    }
}

/// Every `data.NAME` of the tree, with the byte offset of NAME in `source`.
fn collect_data_fields(
    expr: &IdedExpr,
    source: &str,
    info: &SourceInfo,
    found: &mut Vec<(usize, String)>,
) {
    if let AstExpr::Select(select) = &expr.expr {
        if matches!(&select.operand.expr, AstExpr::Ident(name) if name == "data") {
            let from = info
                .offset_for(select.operand.id)
                .map_or(0, |(start, _)| start as usize);
            let at = source
                .get(from..)
                .and_then(|rest| rest.find(select.field.as_str()))
                .map_or(from, |i| from + i);
            found.push((at, select.field.clone()));
            return;
        }
    }
    for_each_child(expr, &mut |child| {
        collect_data_fields(child, source, info, found)
    });
}

/// 1-based line and column (in characters) of a byte offset in `source`.
fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for c in source
        .char_indices()
        .take_while(|(i, _)| *i < offset)
        .map(|(_, c)| c)
    {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

/// An expression failed at run time (a missing key, a type mismatch, division by zero…).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

fn tidy_parse_message(message: &str) -> String {
    // ANTLR lists every acceptable token; the first clause says what is wrong.
    match message.split_once(" expecting ") {
        Some((head, _)) => head.to_owned(),
        None => message.to_owned(),
    }
}

/// The variables an expression is evaluated against. Built cheaply per step: `data` is
/// converted once, `tasks` only if an expression reads it.
pub struct Scope<'a> {
    data: CelValue,
    /// Data read through beneath `data` (what a ForEach iteration shares with its parent).
    base: Option<CelValue>,
    tasks: std::cell::OnceCell<CelValue>,
    task_source: Box<dyn Fn() -> CelValue + 'a>,
    instance: CelValue,
    task: CelValue,
    item: CelValue,
    index: CelValue,
    output: CelValue,
    /// The payload of the event a `wait` task received (its `condition` and `output`).
    event: CelValue,
    /// The data of the instance that handed this one off, while it runs inline (Pega's
    /// OfferWorkPage); an empty map otherwise.
    offer: CelValue,
    now: chrono::DateTime<chrono::Utc>,
    limits: EvalLimits,
}

thread_local! {
    /// CEL's standard library, registered once per thread rather than per evaluation.
    static ROOT: Context<'static, 'static> = {
        let mut root = Context::with_env(budget::ENV.clone());
        budget::register(&mut root);
        root
    };
}

impl<'a> Scope<'a> {
    /// Builds a scope from process data, task statuses (`task id -> status name`), instance id and time.
    pub fn new<I>(
        data: &Map<String, Value>,
        tasks: I,
        instance: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str)> + Clone + 'a,
    {
        let task_source = Box::new(move || {
            let tasks: HashMap<Key, CelValue> = tasks
                .clone()
                .into_iter()
                .map(|(id, status)| {
                    let entry: HashMap<Key, CelValue> = HashMap::from([(
                        key("status"),
                        CelValue::String(Arc::new(status.to_owned())),
                    )]);
                    (key(id), CelValue::Map(CelMap::from(entry)))
                })
                .collect();
            CelValue::Map(CelMap::from(tasks))
        });
        let instance: HashMap<Key, CelValue> =
            HashMap::from([(key("id"), CelValue::String(Arc::new(instance.to_owned())))]);
        Self {
            data: map_to_cel(data),
            base: None,
            tasks: std::cell::OnceCell::new(),
            task_source,
            instance: CelValue::Map(CelMap::from(instance)),
            task: CelValue::Null,
            item: CelValue::Null,
            index: CelValue::Null,
            output: CelValue::Null,
            event: CelValue::Null,
            offer: CelValue::Map(CelMap::from(HashMap::<Key, CelValue>::new())),
            now,
            limits: EvalLimits::DEFAULT,
        }
    }

    /// Sets `task`: the task the expression belongs to (`task.id`, `task.status`, …).
    pub fn with_task(mut self, task: &Value) -> Self {
        self.task = to_cel(task);
        self
    }

    /// Sets `item` and `index`: the current item of a ForEach iteration.
    pub fn with_iteration(mut self, item: &Value, index: usize) -> Self {
        self.item = to_cel(item);
        self.index = CelValue::Int(index as i64);
        self
    }

    /// Adds the instance's place in its hierarchy to `instance`: `instance.case`,
    /// `instance.work_status` (null when none was recorded) and `instance.referenced_instances`.
    pub fn with_hierarchy(
        mut self,
        case: &str,
        work_status: Option<&str>,
        referenced: &[String],
    ) -> Self {
        if let CelValue::Map(map) = &self.instance {
            let mut entries = HashMap::clone(&map.map);
            entries.insert(key("case"), CelValue::String(Arc::new(case.to_owned())));
            entries.insert(
                key("work_status"),
                work_status.map_or(CelValue::Null, |w| CelValue::String(Arc::new(w.to_owned()))),
            );
            let refs: Vec<CelValue> = referenced
                .iter()
                .map(|r| CelValue::String(Arc::new(r.clone())))
                .collect();
            entries.insert(key("referenced_instances"), CelValue::List(Arc::new(refs)));
            self.instance = CelValue::Map(CelMap::from(entries));
        }
        self
    }

    /// Sets `offer`: the data of the instance that hands this one off, while it runs inline.
    pub fn with_offer(mut self, offer: &Map<String, Value>) -> Self {
        self.offer = map_to_cel(offer);
        self
    }

    /// Sets `output`: the output a user task's chain ended with (for its `output` mapping).
    pub fn with_output(mut self, output: &Map<String, Value>) -> Self {
        self.output = map_to_cel(output);
        self
    }

    /// Sets `event`: the payload of the event a `wait` task received.
    pub fn with_event(mut self, payload: &Map<String, Value>) -> Self {
        self.event = map_to_cel(payload);
        self
    }

    /// Replaces `data`, so later assignments of the same task see earlier ones.
    pub fn set_data(&mut self, data: &Map<String, Value>) {
        self.data = map_to_cel(data);
        if let Some(base) = &self.base {
            self.data = overlay(base, &self.data);
        }
    }

    /// Reads `base` beneath the scope's data: `data.x` is the scope's own `x` if it has one, else
    /// `base`'s. Only the top-level keys are copied, so this costs the same for a base of any size.
    pub fn with_base(mut self, base: &PreparedData, data: &Map<String, Value>) -> Self {
        let base = base.cel(data).clone();
        self.data = overlay(&base, &self.data);
        self.base = Some(base);
        self
    }

    /// Sets the evaluation budget (the default is [`EvalLimits::DEFAULT`]).
    pub fn with_limits(mut self, limits: EvalLimits) -> Self {
        self.limits = limits;
        self
    }

    fn execute(&self, expr: &Expr) -> Result<CelValue, EvalError> {
        budget::arm(self.limits.max_cost);
        let result = ROOT.with(|root| {
            let mut context = root.new_inner_scope();
            context.add_variable_from_value("data", self.data.clone());
            if expr.uses_tasks {
                context.add_variable_from_value(
                    "tasks",
                    self.tasks.get_or_init(|| (self.task_source)()).clone(),
                );
            }
            context.add_variable_from_value("instance", self.instance.clone());
            context.add_variable_from_value("task", self.task.clone());
            context.add_variable_from_value("item", self.item.clone());
            context.add_variable_from_value("index", self.index.clone());
            context.add_variable_from_value("offer", self.offer.clone());
            if !matches!(self.output, CelValue::Null) {
                context.add_variable_from_value(OUTPUT_VARIABLE, self.output.clone());
            }
            if !matches!(self.event, CelValue::Null) {
                context.add_variable_from_value(EVENT_VARIABLE, self.event.clone());
            }
            context.add_variable_from_value("now", CelValue::Timestamp(self.now.fixed_offset()));
            CelValue::resolve(&expr.ast, &context)
        });
        result.map_err(|e| {
            if budget::exhausted() {
                EvalError(format!(
                    "`{}` exceeded its evaluation budget of {} cost units (one per comprehension iteration, plus the size of what it produces)",
                    expr.source, self.limits.max_cost
                ))
            } else {
                EvalError(e.to_string())
            }
        })
    }
}

fn key(s: &str) -> Key {
    Key::String(Arc::new(s.to_owned()))
}

/// `own`'s entries over `base`'s (both maps).
fn overlay(base: &CelValue, own: &CelValue) -> CelValue {
    match (base, own) {
        (CelValue::Map(base), CelValue::Map(own)) if !own.map.is_empty() => {
            let mut merged = HashMap::clone(&base.map);
            merged.extend(own.map.iter().map(|(k, v)| (k.clone(), v.clone())));
            CelValue::Map(CelMap::from(merged))
        }
        _ => base.clone(),
    }
}

/// Process data converted for expressions once, for the many scopes that read it (the data a
/// ForEach's iterations share) instead of once per evaluation.
#[derive(Default)]
pub struct PreparedData(std::sync::OnceLock<CelValue>);

impl PreparedData {
    /// `data` as CEL, converted on first use (always pass the same `data`).
    fn cel(&self, data: &Map<String, Value>) -> &CelValue {
        self.0.get_or_init(|| map_to_cel(data))
    }
}

impl fmt::Debug for PreparedData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "PreparedData(converted)"
        } else {
            "PreparedData(not yet)"
        })
    }
}

fn map_to_cel(map: &Map<String, Value>) -> CelValue {
    let entries: HashMap<Key, CelValue> = map.iter().map(|(k, v)| (key(k), to_cel(v))).collect();
    CelValue::Map(CelMap::from(entries))
}

/// JSON to CEL. Whole numbers become `int` so that `data.n + 1` works as users expect
/// (the `cel` crate's own conversion makes them `uint`, and CEL has no mixed arithmetic).
pub fn to_cel(value: &Value) -> CelValue {
    match value {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => CelValue::Int(i),
            None => n.as_u64().map_or_else(
                || CelValue::Float(n.as_f64().unwrap_or(f64::NAN)),
                CelValue::UInt,
            ),
        },
        Value::String(s) => CelValue::String(Arc::new(s.clone())),
        Value::Array(items) => CelValue::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(map) => map_to_cel(map),
    }
}

/// Why a CEL value has no JSON form within the room given.
enum Unfit {
    /// Functions, opaque values.
    NotData,
    /// Larger than the room left.
    TooLarge,
}

/// CEL to JSON; `None` for values that have no JSON form (functions, opaque values).
pub fn to_json(value: &CelValue) -> Option<Value> {
    let mut room = usize::MAX;
    to_json_within(value, &mut room).ok()
}

/// CEL to JSON, spending `room` (bytes of the JSON text, roughly) as it goes: a result far
/// larger than the data it came from (a list repeated by a comprehension) is refused before
/// it is built. Values are at most [`MAX_DEPTH`] plus the data's depth deep.
fn to_json_within(value: &CelValue, room: &mut usize) -> Result<Value, Unfit> {
    let mut spend = |bytes: usize| -> Result<(), Unfit> {
        *room = room.checked_sub(bytes).ok_or(Unfit::TooLarge)?;
        Ok(())
    };
    Ok(match value {
        CelValue::Null => {
            spend(4)?;
            Value::Null
        }
        CelValue::Bool(b) => {
            spend(5)?;
            Value::Bool(*b)
        }
        CelValue::Int(i) => {
            spend(8)?;
            Value::from(*i)
        }
        CelValue::UInt(u) => {
            spend(8)?;
            Value::from(*u)
        }
        CelValue::Float(f) => {
            spend(8)?;
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        CelValue::String(s) => {
            spend(s.len() + 2)?;
            Value::String(s.as_ref().clone())
        }
        CelValue::Bytes(b) => {
            spend(b.len() * 4)?;
            Value::Array(b.iter().map(|x| Value::from(*x)).collect())
        }
        CelValue::List(items) => {
            spend(2 + items.len())?;
            Value::Array(
                items
                    .iter()
                    .map(|item| to_json_within(item, room))
                    .collect::<Result<_, _>>()?,
            )
        }
        CelValue::Map(map) => {
            spend(2 + map.map.len())?;
            let mut object = Map::new();
            for (k, v) in map.map.iter() {
                let k = match k {
                    Key::String(s) => s.as_ref().clone(),
                    Key::Int(i) => i.to_string(),
                    Key::Uint(u) => u.to_string(),
                    Key::Bool(b) => b.to_string(),
                };
                *room = room.checked_sub(k.len() + 3).ok_or(Unfit::TooLarge)?;
                object.insert(k, to_json_within(v, room)?);
            }
            Value::Object(object)
        }
        CelValue::Timestamp(t) => {
            spend(32)?;
            Value::String(t.to_rfc3339())
        }
        CelValue::Duration(d) => {
            spend(16)?;
            Value::String(format!("{}s", d.num_milliseconds() as f64 / 1000.0))
        }
        _ => return Err(Unfit::NotData),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope(data: Value) -> Scope<'static> {
        Scope::new(
            data.as_object().unwrap(),
            [("a", "ended_ok")],
            "i-1",
            chrono::Utc::now(),
        )
    }

    #[test]
    fn whole_numbers_from_data_mix_with_integer_literals() {
        let e = Expr::compile("data.n * 2 + 1").unwrap();
        assert_eq!(e.eval(&scope(json!({"n": 20}))).unwrap(), json!(41));
    }

    #[test]
    fn task_statuses_are_visible() {
        let e = Expr::compile("tasks.a.status == 'ended_ok'").unwrap();
        assert!(e.eval_bool(&scope(json!({}))).unwrap());
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = Expr::compile("data.x +").unwrap_err();
        assert_eq!((err.line, err.column), (1, 9));
        assert!(err.message.contains("Syntax error"), "{}", err.message);
    }

    #[test]
    fn unknown_root_variables_are_rejected_at_compile_time() {
        let err = Expr::compile("amount > 3").unwrap_err();
        assert_eq!(err.column, 1);
        assert!(err.message.contains("data.amount"), "{}", err.message);
    }

    #[test]
    fn runtime_failures_are_errors_not_panics() {
        let e = Expr::compile("data.missing + 1").unwrap();
        assert!(e.eval(&scope(json!({}))).is_err());
        let e = Expr::compile("data.n").unwrap();
        assert!(e.eval_bool(&scope(json!({"n": 1}))).is_err());
    }

    fn chain(op: &str, terms: usize) -> String {
        vec!["1"; terms].join(op)
    }

    /// Compiles on a thread with the stack of a tokio worker (2 MiB), as the engine does.
    fn compile_on_worker_stack(source: String) -> Result<Expr, CompileError> {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || Expr::compile(&source))
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn no_source_within_the_length_limit_overflows_the_stack_when_compiled() {
        let longest = MAX_SOURCE_BYTES / 2;
        let sources = [
            chain("+", longest),
            chain("*", longest),
            chain("==", MAX_SOURCE_BYTES / 3),
            vec!["'a'"; MAX_SOURCE_BYTES / 4].join("+"),
            format!("data{}", ".a".repeat(MAX_SOURCE_BYTES / 2 - 3)),
            format!("data.l{}", "[0]".repeat(MAX_SOURCE_BYTES / 3 - 3)),
            format!(
                "{}1{}",
                "(".repeat(MAX_SOURCE_BYTES / 2 - 1),
                ")".repeat(MAX_SOURCE_BYTES / 2 - 1)
            ),
            format!(
                "{}1{}",
                "[".repeat(MAX_SOURCE_BYTES / 2 - 1),
                "]".repeat(MAX_SOURCE_BYTES / 2 - 1)
            ),
            format!("{}true", "!".repeat(MAX_SOURCE_BYTES - 4)),
            format!("{}1", "-".repeat(MAX_SOURCE_BYTES - 1)),
            format!("{}1", "true ? 1 : ".repeat(MAX_SOURCE_BYTES / 11)),
        ];
        for source in sources {
            assert!(source.len() <= MAX_SOURCE_BYTES, "{}", source.len());
            // Refused, or (`!!…!true` folds to one operator) evaluated: never a stack overflow.
            if let Ok(e) = compile_on_worker_stack(source.clone()) {
                std::thread::Builder::new()
                    .stack_size(2 << 20)
                    .spawn(move || e.eval(&scope(json!({}))).map(|_| ()))
                    .unwrap()
                    .join()
                    .unwrap()
                    .unwrap();
            }
        }
    }

    #[test]
    fn a_chain_deeper_than_the_depth_limit_is_refused_with_a_position() {
        // Long enough to overflow a worker's stack in the parser if it were parsed.
        for op in ["==", "+", "*"] {
            let err = compile_on_worker_stack(chain(op, 20_000)).unwrap_err();
            assert!(
                err.message
                    .contains("expressions are limited to 4096 bytes"),
                "{}",
                err.message
            );
        }
        let err = Expr::compile(&chain(" + ", 1500)).unwrap_err();
        assert!(err.message.contains("bytes"), "{}", err.message);
        let err = Expr::compile(&chain("+", 150)).unwrap_err();
        assert!(
            err.message
                .contains(&format!("deeper than {MAX_DEPTH} levels")),
            "{}",
            err.message
        );
        assert_eq!(err.line, 1);
        assert!(err.column > 1);
    }

    #[test]
    fn expressions_within_the_limits_compile_and_evaluate_on_a_worker_stack() {
        let sum = chain(" + ", MAX_DEPTH - 2);
        let expected = (MAX_DEPTH - 2) as i64;
        let value = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                Expr::compile(&sum)
                    .unwrap()
                    .eval(&scope(json!({})))
                    .unwrap()
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(value, json!(expected));
        // `&&` chains are balanced: a long one stays shallow.
        let all = vec!["true"; 500].join(" && ");
        assert_eq!(
            Expr::compile(&all)
                .unwrap()
                .eval(&scope(json!({})))
                .unwrap(),
            json!(true)
        );
    }

    #[test]
    fn comprehensions_nest_at_most_three_deep() {
        let three = "data.l.all(a, data.l.all(b, data.l.exists(c, a + b + c > 0)))";
        assert!(Expr::compile(three).is_ok());
        let four = "data.l.map(a, data.l.map(b, data.l.map(c, data.l.map(d, d))))";
        let err = Expr::compile(four).unwrap_err();
        assert!(
            err.message.contains("nested more than 3 deep"),
            "{}",
            err.message
        );
        // At the fourth `map`: the call's opening parenthesis.
        assert_eq!((err.line, err.column), (1, 53));
    }

    fn list(n: usize) -> Value {
        Value::Array((0..n as i64).map(Value::from).collect())
    }

    #[test]
    fn an_evaluation_past_its_cost_budget_stops_with_the_reason() {
        let e = Expr::compile("data.l.all(a, data.l.all(b, data.l.all(c, true)))").unwrap();
        let err = e.eval(&scope(json!({"l": list(1000)}))).unwrap_err();
        assert!(
            err.0
                .contains("exceeded its evaluation budget of 1000000 cost units"),
            "{}",
            err.0
        );
        // The same expression over fewer items fits.
        assert_eq!(e.eval(&scope(json!({"l": list(50)}))).unwrap(), json!(true));
        // A smaller budget stops sooner.
        let small = EvalLimits {
            max_cost: 100,
            ..EvalLimits::DEFAULT
        };
        let e = Expr::compile("data.l.map(x, x * 2)").unwrap();
        assert!(e
            .eval(&scope(json!({"l": list(99)})).with_limits(small))
            .is_ok());
        assert!(e
            .eval(&scope(json!({"l": list(101)})).with_limits(small))
            .is_err());
    }

    #[test]
    fn every_comprehension_macro_is_charged_and_keeps_its_meaning() {
        let data = json!({"l": [1, 2, 3, 4]});
        let cases = [
            ("data.l.all(x, x > 0)", json!(true)),
            ("data.l.exists(x, x > 3)", json!(true)),
            ("data.l.exists_one(x, x > 3)", json!(true)),
            ("data.l.existsOne(x, x > 2)", json!(false)),
            ("data.l.map(x, x * 10)", json!([10, 20, 30, 40])),
            ("data.l.map(x, x % 2 == 0, x)", json!([2, 4])),
            ("data.l.filter(x, x < 3)", json!([1, 2])),
            ("has(data.l)", json!(true)),
            ("has(data.missing)", json!(false)),
        ];
        let tight = EvalLimits {
            max_cost: 3,
            ..EvalLimits::DEFAULT
        };
        for (source, expected) in cases {
            let e = Expr::compile(source).unwrap();
            assert_eq!(e.eval(&scope(data.clone())).unwrap(), expected, "{source}");
            if source.contains('(') && !source.starts_with("has") {
                assert!(e.iterates(), "{source}");
                assert!(
                    e.eval(&scope(data.clone()).with_limits(tight)).is_err(),
                    "{source} is charged"
                );
            }
        }
    }

    #[test]
    fn a_result_larger_than_the_limit_is_refused() {
        let e = Expr::compile("data.l.map(x, data.s)").unwrap();
        let data = json!({"l": list(1000), "s": "x".repeat(10_000)});
        let err = e.eval(&scope(data)).unwrap_err();
        assert!(err.0.contains("larger than 1048576 bytes"), "{}", err.0);
    }
}
