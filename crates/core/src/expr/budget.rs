//! The evaluation budget: how much work one evaluation of an expression may do.
//!
//! CEL has no loops, but its macros (`all`, `exists`, `exists_one`, `map`, `filter`) iterate
//! over lists and maps, and nest: `[..1000].all(a, [..1000].all(b, …))` is 10^6 steps, and four
//! nested `map`s over 100 items build 10^8 values. The `cel` interpreter has no cost hook, so
//! Baton expands those macros itself (through the crate's public macro API), exactly as the
//! standard ones expand, except that each iteration passes a value through `@cost`, a function
//! that charges the evaluation one unit plus the value's size (elements of a list or map,
//! 64-byte blocks of a string) and stops it once the budget is spent: the mapped value of a
//! `map`, the predicate of a `filter`, the accumulator in the loop condition of the others. `@cost` cannot
//! be written in an expression (`@` starts no CEL identifier), and the expanded shapes are the
//! ones the interpreter's fast paths recognise (`@result + [x]`, `@result && x`), so `map` and
//! `filter` stay linear.
//!
//! Outside comprehensions the work of an expression is bounded by its size (see
//! [`super::MAX_SOURCE_BYTES`] and [`super::MAX_DEPTH`]) and the size of the data it reads.

use std::cell::Cell;
use std::sync::Arc;

use cel::common::ast::{
    operators, CallExpr, ComprehensionExpr, Expr, IdedExpr, ListExpr, LiteralValue,
};
use cel::parser::{Macro, MacroExprHelper, ParseError};
use cel::{Env, ExecutionError, Value};

/// How much one evaluation may do; the defaults are documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalLimits {
    /// Cost units one evaluation may spend: one per comprehension iteration, plus the size of
    /// the value the iteration produces.
    pub max_cost: u64,
    /// Largest result, in bytes of its JSON form.
    pub max_result_bytes: usize,
}

impl EvalLimits {
    /// The default budget: 1,000,000 cost units, 1 MiB results.
    pub const DEFAULT: Self = Self {
        max_cost: 1_000_000,
        max_result_bytes: 1 << 20,
    };
}

impl Default for EvalLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The function every comprehension iteration's value passes through.
pub(super) const COST_FUNCTION: &str = "@cost";

thread_local! {
    /// Cost units left to the evaluation running on this thread (one at a time per thread).
    static LEFT: Cell<u64> = const { Cell::new(u64::MAX) };
    /// Set when the running evaluation ran out of budget.
    static EXHAUSTED: Cell<bool> = const { Cell::new(false) };
}

/// Gives the next evaluation on this thread `budget` cost units.
pub(super) fn arm(budget: u64) {
    LEFT.with(|l| l.set(budget));
    EXHAUSTED.with(|e| e.set(false));
}

/// Whether the last evaluation on this thread stopped because its budget was spent.
pub(super) fn exhausted() -> bool {
    EXHAUSTED.with(Cell::get)
}

/// `@cost(value)`: charges one unit plus the value's size, and returns the value.
fn charge(value: Value) -> Result<Value, ExecutionError> {
    let size = match &value {
        Value::List(items) => items.len() as u64,
        Value::Map(map) => map.map.len() as u64,
        Value::String(s) => s.len() as u64 / 64,
        Value::Bytes(b) => b.len() as u64 / 64,
        _ => 0,
    };
    let left = LEFT.with(Cell::get);
    match left.checked_sub(1 + size) {
        Some(rest) => {
            LEFT.with(|l| l.set(rest));
            Ok(value)
        }
        None => {
            EXHAUSTED.with(|e| e.set(true));
            Err(ExecutionError::function_error(
                COST_FUNCTION,
                "evaluation budget exhausted",
            ))
        }
    }
}

/// CEL's standard functions, Baton's budgeted macros and `@cost`.
pub(super) fn environment() -> Env {
    let mut env = Env::default().with_stdlib();
    for m in macros() {
        env.add_macro(m).expect("each macro is added once");
    }
    env
}

/// Registers `@cost` on a root context.
pub(super) fn register(context: &mut cel::Context<'_, '_>) {
    context
        .add_function(COST_FUNCTION, charge)
        .expect("`@cost` is no standard overload");
}

type Expansion = Result<Option<IdedExpr>, ParseError>;

/// The standard macros, each iteration's value charged: cel-go's and the `cel` crate's
/// expansions, with `@cost(…)` around the predicate or the mapped value.
fn macros() -> Vec<Macro> {
    vec![
        Macro::global(operators::HAS, 1, has),
        Macro::receiver(operators::ALL, 2, |h, t, a| fold(h, t, a, Fold::All)),
        Macro::receiver(operators::EXISTS, 2, |h, t, a| fold(h, t, a, Fold::Exists)),
        Macro::receiver(operators::EXISTS_ONE, 2, exists_one),
        Macro::receiver("existsOne", 2, exists_one),
        Macro::receiver(operators::MAP, 2, map),
        Macro::receiver(operators::MAP, 3, map),
        Macro::receiver(operators::FILTER, 2, filter),
    ]
}

const ACCU: &str = "@result";

fn call(h: &mut MacroExprHelper<'_>, function: &str, args: Vec<IdedExpr>) -> IdedExpr {
    h.next_expr(Expr::Call(CallExpr {
        func_name: function.to_owned(),
        target: None,
        args,
    }))
}

fn accu(h: &mut MacroExprHelper<'_>) -> IdedExpr {
    h.next_expr(Expr::Ident(ACCU.to_owned()))
}

fn literal(h: &mut MacroExprHelper<'_>, value: LiteralValue) -> IdedExpr {
    h.next_expr(Expr::Literal(value))
}

fn charged(h: &mut MacroExprHelper<'_>, e: IdedExpr) -> IdedExpr {
    call(h, COST_FUNCTION, vec![e])
}

/// The loop variable: the first argument, a plain name.
fn loop_variable(h: &mut MacroExprHelper<'_>, arg: IdedExpr) -> Result<String, ParseError> {
    match arg.expr {
        Expr::Ident(name) => Ok(name),
        _ => Err(h.new_error(
            arg.id,
            "the first argument must be a simple name (the loop variable)",
        )),
    }
}

#[allow(clippy::too_many_arguments)]
fn comprehension(
    h: &mut MacroExprHelper<'_>,
    range: IdedExpr,
    var: String,
    init: IdedExpr,
    cond: IdedExpr,
    step: IdedExpr,
    result: IdedExpr,
) -> IdedExpr {
    h.next_expr(Expr::Comprehension(Box::new(ComprehensionExpr {
        iter_range: range,
        iter_var: var,
        iter_var2: None,
        accu_var: ACCU.to_owned(),
        accu_init: init,
        loop_cond: cond,
        loop_step: step,
        result,
    })))
}

/// `has(a.b)`: a presence test of the field.
fn has(
    h: &mut MacroExprHelper<'_>,
    _target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    let arg = args.remove(0);
    match arg.expr {
        Expr::Select(mut select) => {
            select.test = true;
            Ok(Some(h.next_expr(Expr::Select(select))))
        }
        _ => Err(h.new_error(arg.id, "invalid argument to has() macro")),
    }
}

enum Fold {
    All,
    Exists,
}

/// `r.all(x, p)` / `r.exists(x, p)`: folds `p` with `&&` / `||`, stopping once decided. The
/// charge is in the loop condition: the interpreter defers an error of the step (`false` may
/// still decide an `all`), but fails at once on one of the condition.
fn fold(
    h: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
    kind: Fold,
) -> Expansion {
    let predicate = args.remove(1);
    let var = loop_variable(h, args.remove(0))?;
    let (init, connective) = match kind {
        Fold::All => (true, operators::LOGICAL_AND),
        Fold::Exists => (false, operators::LOGICAL_OR),
    };
    let init = literal(h, LiteralValue::Boolean(init.into()));
    let undecided = accu(h);
    let undecided = match kind {
        Fold::All => undecided,
        Fold::Exists => call(h, operators::LOGICAL_NOT, vec![undecided]),
    };
    // Outermost: `@not_strictly_false` turns an error into `true`.
    let cond = call(h, operators::NOT_STRICTLY_FALSE, vec![undecided]);
    let cond = charged(h, cond);
    let so_far = accu(h);
    let step = call(h, connective, vec![so_far, predicate]);
    let result = accu(h);
    let range = target.take().expect("a receiver macro has a target");
    Ok(Some(comprehension(h, range, var, init, cond, step, result)))
}

/// `r.exists_one(x, p)`: counts the items for which `p` holds; true when exactly one does.
fn exists_one(
    h: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    let predicate = args.remove(1);
    let var = loop_variable(h, args.remove(0))?;
    let init = literal(h, LiteralValue::Int(0.into()));
    let go_on = literal(h, LiteralValue::Boolean(true.into()));
    let cond = charged(h, go_on);
    let (count, one) = (accu(h), literal(h, LiteralValue::Int(1.into())));
    let counted = call(h, operators::ADD, vec![count, one]);
    let unchanged = accu(h);
    let step = call(
        h,
        operators::CONDITIONAL,
        vec![predicate, counted, unchanged],
    );
    let (count, one) = (accu(h), literal(h, LiteralValue::Int(1.into())));
    let result = call(h, operators::EQUALS, vec![count, one]);
    let range = target.take().expect("a receiver macro has a target");
    Ok(Some(comprehension(h, range, var, init, cond, step, result)))
}

/// `@result + [value]`: the step the interpreter appends in place.
fn append(h: &mut MacroExprHelper<'_>, value: IdedExpr) -> IdedExpr {
    let so_far = accu(h);
    let item = h.next_expr(Expr::List(ListExpr::new(vec![value])));
    call(h, operators::ADD, vec![so_far, item])
}

/// `cond ? step : @result`.
fn guarded(h: &mut MacroExprHelper<'_>, guard: IdedExpr, step: IdedExpr) -> IdedExpr {
    let guard = charged(h, guard);
    let unchanged = accu(h);
    call(h, operators::CONDITIONAL, vec![guard, step, unchanged])
}

/// `r.map(x, f)` and `r.map(x, p, f)`: the list of `f` for each item (for which `p` holds).
fn map(
    h: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    let value = args.pop().expect("map has a value argument");
    let var = loop_variable(h, args.remove(0))?;
    let guard = args.pop();
    let init = h.next_expr(Expr::List(ListExpr::new(Vec::new())));
    let cond = literal(h, LiteralValue::Boolean(true.into()));
    let value = charged(h, value);
    let step = append(h, value);
    let step = match guard {
        Some(guard) => guarded(h, guard, step),
        None => step,
    };
    let result = accu(h);
    let range = target.take().expect("a receiver macro has a target");
    Ok(Some(comprehension(h, range, var, init, cond, step, result)))
}

/// `r.filter(x, p)`: the items for which `p` holds.
fn filter(
    h: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    let predicate = args.remove(1);
    let var = loop_variable(h, args.remove(0))?;
    let init = h.next_expr(Expr::List(ListExpr::new(Vec::new())));
    let cond = literal(h, LiteralValue::Boolean(true.into()));
    let item = h.next_expr(Expr::Ident(var.clone()));
    let step = append(h, item);
    let step = guarded(h, predicate, step);
    let result = accu(h);
    let range = target.take().expect("a receiver macro has a target");
    Ok(Some(comprehension(h, range, var, init, cond, step, result)))
}

/// The shared environment: built once, read by every evaluation.
pub(super) static ENV: std::sync::LazyLock<Arc<Env>> =
    std::sync::LazyLock::new(|| Arc::new(environment()));
