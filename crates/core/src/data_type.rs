//! The types of process data: what a `data` declaration (and a form field) may say a variable
//! holds, and the names of JSON values' types in messages.
//!
//! Besides JSON's own types, Stardust's data types for documents and records outside Baton,
//! each with a JSON shape chosen so that its copy semantics (Stardust's data copy table) fall
//! out of copying JSON values when an instance is spawned or started in place of another:
//!
//! | type | JSON shape | copied |
//! | --- | --- | --- |
//! | `document` | `{"document": "ID"}`, a reference to a stored document | by reference |
//! | `document_list` | `[{"document": "ID"}, …]` | shallow: the list, its documents by reference |
//! | `attachments` | a document list: the process attachments | as a document list |
//! | `folder` | `{"folder": "ID"}`, a reference to a folder of a document repository | by reference |
//! | `folder_list` | `[{"folder": "ID"}, …]` | shallow |
//! | `notes` | `[{"text": "…", …}, …]`, the notes themselves | by value |
//! | `entity` | `{"entity": "TYPE", "id": KEY}`, a record outside Baton (KEY a string or integer) | by reference |
//! | `xml` | a string holding a well-formed XML document | by value |
//!
//! A reference names what it refers to and holds nothing of it, so a change to the document
//! (its metadata) is seen through every copy of the reference; a list is a JSON value, so a
//! copy of it is a new list; notes are values, so a copy is the notes themselves.

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
    /// A reference to a stored document.
    Document,
    /// A list of references to stored documents.
    DocumentList,
    /// A reference to a folder of a document repository.
    Folder,
    /// A list of references to folders.
    FolderList,
    /// Notes: a list of `{"text": …}` objects, kept by value.
    Notes,
    /// The process attachments: a list of references to stored documents.
    Attachments,
    /// A reference to a record outside Baton: `{"entity": TYPE, "id": KEY}`.
    Entity,
    /// An XML document, kept by value: a string that parses as well-formed XML (no DTD, so no
    /// entity expansion; its size is bounded by the data limits like any other value).
    Xml,
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
        ("document", DataType::Document),
        ("document_list", DataType::DocumentList),
        ("folder", DataType::Folder),
        ("folder_list", DataType::FolderList),
        ("notes", DataType::Notes),
        ("attachments", DataType::Attachments),
        ("entity", DataType::Entity),
        ("xml", DataType::Xml),
    ];

    /// The type with this name (`string`, `integer`, …).
    pub fn parse(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
    }

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("any", |(n, _)| n)
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
            (Self::Document, value) => document_id(value).is_some(),
            (Self::Folder, value) => folder_id(value).is_some(),
            (Self::Entity, value) => is_entity(value),
            (Self::DocumentList | Self::Attachments, Value::Array(items)) => {
                items.iter().all(|v| document_id(v).is_some())
            }
            (Self::FolderList, Value::Array(items)) => items.iter().all(|v| folder_id(v).is_some()),
            (Self::Notes, Value::Array(items)) => items.iter().all(is_note),
            (Self::Xml, Value::String(text)) => roxmltree::Document::parse(text).is_ok(),
            _ => false,
        }
    }

    /// Does a variable of this type hold documents (one, or a list of them)? What Stardust's
    /// mapping heuristics and the store's index of references look at.
    pub fn holds_documents(self) -> bool {
        matches!(
            self,
            Self::Document | Self::DocumentList | Self::Attachments
        )
    }

    /// The type's name, with its JSON shape for a type that has one, for messages:
    /// `integer`, `document ({"document": "ID"})`.
    pub fn described(self) -> String {
        match self.shape() {
            Some(shape) => format!("{} ({shape})", self.name()),
            None => self.name().to_owned(),
        }
    }

    /// The JSON shape a value of this type has, for messages (none for JSON's own types).
    pub fn shape(self) -> Option<&'static str> {
        Some(match self {
            Self::Document => r#"{"document": "ID"}"#,
            Self::DocumentList | Self::Attachments => r#"a list of {"document": "ID"}"#,
            Self::Folder => r#"{"folder": "ID"}"#,
            Self::FolderList => r#"a list of {"folder": "ID"}"#,
            Self::Notes => r#"a list of {"text": "..."}"#,
            Self::Entity => r#"{"entity": "TYPE", "id": KEY}"#,
            Self::Xml => "a string holding a well-formed XML document",
            _ => return None,
        })
    }
}

/// The id a document reference (`{"document": "ID"}`) names; none for another value.
pub fn document_id(value: &Value) -> Option<&str> {
    reference(value, "document")
}

/// The id a folder reference (`{"folder": "ID"}`) names; none for another value.
pub fn folder_id(value: &Value) -> Option<&str> {
    reference(value, "folder")
}

/// `{key: "ID"}` and nothing else, with a non-empty id.
fn reference<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    let Value::Object(map) = value else {
        return None;
    };
    match (map.len(), map.get(key)) {
        (1, Some(Value::String(id))) if !id.is_empty() => Some(id),
        _ => None,
    }
}

/// `{"entity": TYPE, "id": KEY}`: a non-empty type, and a key that is a non-empty string or
/// an integer.
fn is_entity(value: &Value) -> bool {
    let Value::Object(map) = value else {
        return false;
    };
    let ty = matches!(map.get("entity"), Some(Value::String(t)) if !t.is_empty());
    let key = match map.get("id") {
        Some(Value::String(k)) => !k.is_empty(),
        Some(Value::Number(n)) => n.is_i64() || n.is_u64(),
        _ => false,
    };
    map.len() == 2 && ty && key
}

/// A note: an object with a string `text` (and whatever else a note records: its author, when).
fn is_note(value: &Value) -> bool {
    matches!(value, Value::Object(map) if map.get("text").is_some_and(Value::is_string))
}

/// The documents a value refers to: a document reference's id, or the ids of a list's
/// document references (a document list, the process attachments).
pub fn documents_in(value: &Value) -> Vec<&str> {
    match value {
        Value::Array(items) => items.iter().filter_map(document_id).collect(),
        other => document_id(other).into_iter().collect(),
    }
}

/// The documents the data of an instance refers to, each once: what a store indexes
/// so that who may read a document can be decided without reading instances. Declared or not,
/// a value with a document's shape counts (a spawned instance carries values its definition
/// does not declare). A list is looked into only if its first item is a document reference,
/// so that the look costs a glance per variable, not a walk of every list.
pub fn referenced_documents(
    data: &serde_json::Map<String, Value>,
) -> std::collections::BTreeSet<String> {
    let mut ids = std::collections::BTreeSet::new();
    for value in data.values() {
        let found = match value {
            Value::Array(items) if items.first().and_then(document_id).is_none() => continue,
            Value::Object(map) if map.len() != 1 => continue,
            Value::Array(_) | Value::Object(_) => documents_in(value),
            _ => continue,
        };
        ids.extend(found.into_iter().map(str::to_owned));
    }
    ids
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
