//! Expressions: conditions, assignments and mappings in process definitions.
//!
//! Baton uses CEL (the Common Expression Language, via the `cel` crate) rather than a
//! home-made language: it is sandboxed (no I/O, no loops, always terminates) and well known
//! from Kubernetes and Google's APIs. An expression sees these variables:
//! `data` (the process data), `tasks` (each task's `status`), `task` (the task itself: `id`,
//! `status`, `attempts`, `duration_ms`, `exit_code`), `instance` (`id`), `now`, and in a ForEach
//! body `item` and `index`. A user task's `output` mapping also sees `output`, the output of
//! the human task that ended the task's chain.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr as AstExpr, IdedExpr, SourceInfo};
use cel::objects::{Key, Map as CelMap};
use cel::{Context, Program, Value as CelValue};
use serde_json::{Map, Value};

/// The variables an expression may refer to; anything else is a deploy error.
pub const ROOT_VARIABLES: &[&str] = &["data", "tasks", "task", "instance", "now", "item", "index"];

/// Where a variable only some expressions see is allowed: `output` in a user task's `output` mapping.
pub const OUTPUT_VARIABLE: &str = "output";

/// A compiled CEL expression together with its source text.
#[derive(Clone)]
pub struct Expr {
    source: String,
    program: Arc<Program>,
    uses_tasks: bool,
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
        let program = Program::compile(source).map_err(|errors| {
            let first = errors.errors.first();
            let (line, column) = first.map_or((1, 1), |e| (e.pos.0.max(1) as usize, e.pos.1.max(1) as usize));
            let message = first.map_or_else(|| errors.to_string(), |e| e.msg.clone());
            CompileError { line, column, message: tidy_parse_message(&message) }
        })?;
        let mut unknown = None;
        let mut bound: Vec<&str> = extra.to_vec();
        first_unknown_variable(program.expression(), &mut bound, program.source_info(), &mut unknown);
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
        let uses_tasks = program.references().variables().contains(&"tasks");
        Ok(Self { source: source.to_owned(), program: Arc::new(program), uses_tasks })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the expression and converts the result to JSON.
    pub fn eval(&self, scope: &Scope) -> Result<Value, EvalError> {
        let value = scope.execute(self).map_err(|e| EvalError(e.to_string()))?;
        to_json(&value).ok_or_else(|| EvalError(format!("`{}` produced a value that is not data: {value:?}", self.source)))
    }

    /// Evaluates the expression, which must produce a boolean.
    pub fn eval_bool(&self, scope: &Scope) -> Result<bool, EvalError> {
        match self.eval(scope)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError(format!("`{}` must be true or false but gave {other}", self.source))),
        }
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
    let mut visit = |e: &'e IdedExpr, bound: &mut Vec<&'e str>| first_unknown_variable(e, bound, info, found);
    match &expr.expr {
        AstExpr::Ident(name) => {
            // Names starting with `@` are the macros' own accumulators.
            if !name.starts_with('@') && !ROOT_VARIABLES.contains(&name.as_str()) && !bound.contains(&name.as_str()) {
                let offset = info.offset_for(expr.id).map_or(0, |(start, _)| start as usize);
                if found.is_none_or(|(o, _)| offset < o) {
                    *found = Some((offset, name));
                }
            }
        }
        AstExpr::Call(call) => {
            if let Some(target) = &call.target {
                visit(target, bound);
            }
            for arg in &call.args {
                visit(arg, bound);
            }
        }
        AstExpr::Comprehension(c) => {
            visit(&c.iter_range, bound);
            visit(&c.accu_init, bound);
            let depth = bound.len();
            bound.push(&c.iter_var);
            bound.extend(c.iter_var2.as_deref());
            bound.push(&c.accu_var);
            visit(&c.loop_cond, bound);
            visit(&c.loop_step, bound);
            visit(&c.result, bound);
            bound.truncate(depth);
        }
        AstExpr::List(list) => list.elements.iter().for_each(|e| visit(e, bound)),
        AstExpr::Map(map) => {
            for entry in &map.entries {
                match &entry.expr {
                    EntryExpr::MapEntry(e) => {
                        visit(&e.key, bound);
                        visit(&e.value, bound);
                    }
                    EntryExpr::StructField(f) => visit(&f.value, bound),
                }
            }
        }
        AstExpr::Struct(s) => {
            for entry in &s.entries {
                match &entry.expr {
                    EntryExpr::MapEntry(e) => {
                        visit(&e.key, bound);
                        visit(&e.value, bound);
                    }
                    EntryExpr::StructField(f) => visit(&f.value, bound),
                }
            }
        }
        AstExpr::Select(select) => visit(&select.operand, bound),
        AstExpr::Literal(_) | AstExpr::Unspecified => {}
    }
}

/// 1-based line and column (in characters) of a byte offset in `source`.
fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for c in source.char_indices().take_while(|(i, _)| *i < offset).map(|(_, c)| c) {
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
    tasks: std::cell::OnceCell<CelValue>,
    task_source: Box<dyn Fn() -> CelValue + 'a>,
    instance: CelValue,
    task: CelValue,
    item: CelValue,
    index: CelValue,
    output: CelValue,
    now: chrono::DateTime<chrono::Utc>,
}

thread_local! {
    /// CEL's standard library, registered once per thread rather than per evaluation.
    static ROOT: Context<'static, 'static> = Context::default();
}

impl<'a> Scope<'a> {
    /// Builds a scope from process data, task statuses (`task id -> status name`), instance id and time.
    pub fn new<I>(data: &Map<String, Value>, tasks: I, instance: &str, now: chrono::DateTime<chrono::Utc>) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str)> + Clone + 'a,
    {
        let task_source = Box::new(move || {
            let tasks: HashMap<Key, CelValue> = tasks
                .clone()
                .into_iter()
                .map(|(id, status)| {
                    let entry: HashMap<Key, CelValue> = HashMap::from([(key("status"), CelValue::String(Arc::new(status.to_owned())))]);
                    (key(id), CelValue::Map(CelMap::from(entry)))
                })
                .collect();
            CelValue::Map(CelMap::from(tasks))
        });
        let instance: HashMap<Key, CelValue> = HashMap::from([(key("id"), CelValue::String(Arc::new(instance.to_owned())))]);
        Self { data: map_to_cel(data), tasks: std::cell::OnceCell::new(), task_source, instance: CelValue::Map(CelMap::from(instance)), task: CelValue::Null, item: CelValue::Null, index: CelValue::Null, output: CelValue::Null, now }
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

    /// Sets `output`: the output a user task's chain ended with (for its `output` mapping).
    pub fn with_output(mut self, output: &Map<String, Value>) -> Self {
        self.output = map_to_cel(output);
        self
    }

    /// Replaces `data`, so later assignments of the same task see earlier ones.
    pub fn set_data(&mut self, data: &Map<String, Value>) {
        self.data = map_to_cel(data);
    }

    fn execute(&self, expr: &Expr) -> Result<CelValue, cel::ExecutionError> {
        ROOT.with(|root| {
            let mut context = root.new_inner_scope();
            context.add_variable_from_value("data", self.data.clone());
            if expr.uses_tasks {
                context.add_variable_from_value("tasks", self.tasks.get_or_init(|| (self.task_source)()).clone());
            }
            context.add_variable_from_value("instance", self.instance.clone());
            context.add_variable_from_value("task", self.task.clone());
            context.add_variable_from_value("item", self.item.clone());
            context.add_variable_from_value("index", self.index.clone());
            if !matches!(self.output, CelValue::Null) {
                context.add_variable_from_value(OUTPUT_VARIABLE, self.output.clone());
            }
            context.add_variable_from_value("now", CelValue::Timestamp(self.now.fixed_offset()));
            expr.program.execute(&context)
        })
    }
}

fn key(s: &str) -> Key {
    Key::String(Arc::new(s.to_owned()))
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
            None => n.as_u64().map_or_else(|| CelValue::Float(n.as_f64().unwrap_or(f64::NAN)), CelValue::UInt),
        },
        Value::String(s) => CelValue::String(Arc::new(s.clone())),
        Value::Array(items) => CelValue::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(map) => map_to_cel(map),
    }
}

/// CEL to JSON; `None` for values that have no JSON form (functions, opaque values).
pub fn to_json(value: &CelValue) -> Option<Value> {
    Some(match value {
        CelValue::Null => Value::Null,
        CelValue::Bool(b) => Value::Bool(*b),
        CelValue::Int(i) => Value::from(*i),
        CelValue::UInt(u) => Value::from(*u),
        CelValue::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        CelValue::String(s) => Value::String(s.as_ref().clone()),
        CelValue::Bytes(b) => Value::Array(b.iter().map(|x| Value::from(*x)).collect()),
        CelValue::List(items) => Value::Array(items.iter().map(to_json).collect::<Option<_>>()?),
        CelValue::Map(map) => Value::Object(
            map.map
                .iter()
                .map(|(k, v)| {
                    let k = match k {
                        Key::String(s) => s.as_ref().clone(),
                        Key::Int(i) => i.to_string(),
                        Key::Uint(u) => u.to_string(),
                        Key::Bool(b) => b.to_string(),
                    };
                    Some((k, to_json(v)?))
                })
                .collect::<Option<_>>()?,
        ),
        CelValue::Timestamp(t) => Value::String(t.to_rfc3339()),
        CelValue::Duration(d) => Value::String(format!("{}s", d.num_milliseconds() as f64 / 1000.0)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope(data: Value) -> Scope<'static> {
        Scope::new(data.as_object().unwrap(), [("a", "ended_ok")], "i-1", chrono::Utc::now())
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
}
