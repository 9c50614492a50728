//! Forms: the typed output fields of a human task, and how output is checked against them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::data_type::json_type_name;

/// The type of a form field: the same types as process data.
pub type FieldType = crate::data_type::DataType;

/// One typed output field of a task's form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl FormField {
    pub fn required(name: impl Into<String>, ty: FieldType) -> Self {
        Self {
            name: name.into(),
            ty,
            required: true,
            description: None,
        }
    }

    pub fn optional(name: impl Into<String>, ty: FieldType) -> Self {
        Self {
            name: name.into(),
            ty,
            required: false,
            description: None,
        }
    }
}

/// What is wrong with `output` for a form of `fields` (empty when it fits). A task without
/// fields takes any output.
pub fn form_problems(fields: &[FormField], output: &Map<String, Value>) -> Vec<String> {
    if fields.is_empty() {
        return Vec::new();
    }
    let mut problems = Vec::new();
    for key in output.keys() {
        if !fields.iter().any(|f| &f.name == key) {
            let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            problems.push(format!(
                "`{key}` is not a field of this task's form (it has {})",
                names.join(", ")
            ));
        }
    }
    for field in fields {
        match output.get(&field.name) {
            None | Some(Value::Null) if field.required => {
                problems.push(format!("`{}` is required", field.name))
            }
            None | Some(Value::Null) => {}
            Some(v) if !field.ty.admits(v) => problems.push(format!(
                "`{}` must be {}, got {}",
                field.name,
                field.ty.described(),
                json_type_name(v)
            )),
            Some(_) => {}
        }
    }
    problems
}
