//! Deployed process definitions: their versions, tasks and source.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One version of a deployed process definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Definition {
    /// The process id.
    pub id: String,
    /// The version (1 for the first deploy of the id, N+1 for each later one).
    pub version: u32,
    /// Its `name`; `null` if it has none.
    pub name: Option<String>,
    /// Its `description`; `null` if it has none.
    pub description: Option<String>,
    /// The file it was deployed from, as it was named then.
    pub file: String,
    /// When this version was deployed.
    pub deployed_at: DateTime<Utc>,
    /// Is it an interactive workflow (Siebel), started in a user session rather than by a
    /// plain start?
    pub interactive: bool,
    /// Its declared process data, in the order written: what a start form asks for. Every
    /// variable may be left out (it is then its default, or `null`).
    pub data: Vec<DataField>,
    /// Its tasks, each after its predecessors.
    pub tasks: Vec<DefinitionTask>,
}

/// One declared process data variable of a definition (its `data:`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DataField {
    /// The variable's name.
    pub name: String,
    /// Its type: `string`, `integer`, `number`, `boolean`, `object`, `list`, `any`, or a
    /// document type (`document`, `document_list`, `attachments`, `folder`, `folder_list`,
    /// `entity`, `notes`).
    #[serde(rename = "type")]
    pub ty: String,
    /// Its `default` (a value of its type); `null` if it has none.
    pub default: Option<serde_json::Value>,
    /// Its `description`; `null` if it has none.
    pub description: Option<String>,
}

/// One task of a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DefinitionTask {
    /// The task id.
    pub id: String,
    /// `job`, `set`, `decision`, `foreach`, `user` or `end`.
    pub kind: String,
    /// Its `name`; `null` if it has none.
    pub name: Option<String>,
    /// Its direct predecessors.
    pub after: Vec<String>,
}

/// One deployed version of a process id, without its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DefinitionVersion {
    /// The version.
    pub version: u32,
    /// The file it was deployed from.
    pub file: String,
    /// When it was deployed.
    pub deployed_at: DateTime<Utc>,
}

/// The source of one deployed version, exactly as it was deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DefinitionSource {
    /// The process id.
    pub id: String,
    /// The version.
    pub version: u32,
    /// The file it was deployed from.
    pub file: String,
    /// The YAML (or JSON) text.
    pub source: String,
}

/// What one deployed file became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deployed {
    /// The file, as it was named.
    pub file: String,
    /// The id of the process (or calendar) it holds.
    pub id: String,
    /// The version it is: the one it was stored as, or, when `unchanged`, the latest
    /// version, whose source was exactly this file's.
    pub version: u32,
    /// `true` when nothing was stored: the file's source is that of the latest version.
    pub unchanged: bool,
    /// What it names that does not exist yet, which it may once it is created: a group among a
    /// user task's owners, a calendar a task runs on. The deploy went on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A version's flow as a graph: its tasks and what leads from one to the next (what
/// `baton definition graph` draws as DOT, Mermaid or text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DefinitionGraph {
    /// The process id.
    pub id: String,
    /// The version.
    pub version: u32,
    /// Every task, each after its predecessors.
    pub nodes: Vec<GraphNode>,
    /// What leads from one task to another, grouped by the task they lead to.
    pub edges: Vec<GraphEdge>,
}

/// A task of a [`DefinitionGraph`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GraphNode {
    /// The task id.
    pub id: String,
    /// Its kind: `job`, `set`, `decision`, `user`, `end`…
    pub kind: String,
    /// Its `name`; `null` if it has none.
    pub name: Option<String>,
}

/// What leads from task `from` to task `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    /// For `after`, the end statuses `from` must end with when they are not the default
    /// (`any_ok`); for `branch`, the branch conditions (several joined by ` | `); else `null`.
    pub label: Option<String>,
}

/// Why one task leads to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// `to` runs after `from` (its `after:`), when `from` ends as the label says.
    After,
    /// A decision's branch: `to` runs when the condition in the label holds.
    Branch,
    /// A decision's `otherwise`: `to` runs when no branch condition holds.
    Otherwise,
    /// `to` (an `on_demand` task) runs when `from`'s dependencies do not hold (Automic's Else).
    OnUnmet,
}
