//! The types of process data: what a `data` declaration (and a form field) may say a variable
//! holds, and the names of JSON values' types in messages.

use serde_json::Value;

/// The type of a data variable (and of a form field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataType {
    String,
    Integer,
    Number,
    Boolean,
    Object,
    List,
    Any,
}

impl DataType {
    pub(crate) const NAMES: &'static [(&'static str, DataType)] = &[
        ("string", DataType::String),
        ("integer", DataType::Integer),
        ("number", DataType::Number),
        ("boolean", DataType::Boolean),
        ("object", DataType::Object),
        ("list", DataType::List),
        ("any", DataType::Any),
    ];

    /// The type with this name (`string`, `integer`, …).
    pub fn parse(name: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    pub fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, t)| *t == self).map_or("any", |(n, _)| n)
    }

    /// Does `value` have this type? `null` is accepted for every type (an unset variable).
    pub fn admits(self, value: &Value) -> bool {
        match (self, value) {
            (_, Value::Null) | (Self::Any, _) => true,
            (Self::String, Value::String(_)) | (Self::Boolean, Value::Bool(_)) => true,
            (Self::Object, Value::Object(_)) | (Self::List, Value::Array(_)) => true,
            (Self::Number, Value::Number(_)) => true,
            // CEL's `int` is 64-bit signed: a larger whole number is not an integer here.
            (Self::Integer, Value::Number(n)) => n.is_i64(),
            _ => false,
        }
    }
}

/// The JSON type name of a value, for messages.
pub fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(n) if !n.is_i64() => "a whole number above 9223372036854775807",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}
