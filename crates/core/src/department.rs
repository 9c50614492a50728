//! Stardust's department scoping: an instance's department scope comes from its data. A
//! definition declares where (`department: data.dept`, a CEL expression checked at deploy);
//! a root instance evaluates it once, on its start data, and keeps the answer
//! ([`Instance::department`](crate::Instance::department)). Every instance started from
//! another (a spawned sub-process, a peer started by abort-and-start, a `call`ed or
//! handed-off process, a ForEach iteration) inherits that one's department as it is, whatever
//! its own definition declares, so one case is one department's work.
//!
//! The expression gives a department name (text) or `null` (no department: the instance is
//! unscoped, as is every instance of a definition that declares none). Who may see what is
//! the service's to decide.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::definition::Definition;
use crate::expr::Scope;

/// The longest department name an instance may carry, in characters (a user's department has
/// the same bound).
pub const MAX_DEPARTMENT_CHARS: usize = 64;

/// The department of a new root instance `id` of `def` with start `data`: the value of the
/// definition's `department` expression. Refused, with a sentence saying why, when the
/// expression fails or gives something that is not a department name or `null`.
pub(crate) fn department_of(
    def: &Definition,
    id: &str,
    data: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Option<String>, String> {
    let Some(expr) = &def.department else {
        return Ok(None);
    };
    let tasks = def
        .tasks
        .iter()
        .map(|t| (t.id.as_str(), "waiting_for_predecessor"));
    let value = expr.eval(&Scope::new(data, tasks, id, now)).map_err(|e| {
        format!(
            "`department: {}` cannot be evaluated on the start data: {e}",
            expr.source()
        )
    })?;
    match value {
        Value::Null => Ok(None),
        Value::String(name) if (1..=MAX_DEPARTMENT_CHARS).contains(&name.chars().count()) && !name.chars().any(char::is_control) => Ok(Some(name)),
        other => Err(format!(
            "`department: {}` gave {other}; a department is a name of 1 to {MAX_DEPARTMENT_CHARS} characters, or null for none",
            expr.source()
        )),
    }
}
