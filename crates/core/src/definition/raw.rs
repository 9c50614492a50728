//! The raw form of a definition, as written: what serde reads before the checks.

use indexmap::IndexMap;
use marked_yaml::Spanned;
use serde::Deserialize;

use super::Pos;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefinition {
    pub(super) id: Spanned<String>,
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
    /// May people start it (`baton start`, a Stardust spawn)? Without, yes.
    pub(super) startable: Option<bool>,
    /// Who may start it: user names and `group:NAME`; without, every user.
    pub(super) startable_by: Option<Vec<Spanned<String>>>,
    /// Where an instance's department scope comes from: a CEL expression over its start data.
    pub(super) department: Option<Spanned<String>>,
    /// Siebel's interactive workflow: one user drives it step by step in a user session.
    pub(super) interactive: Option<Spanned<bool>>,
    /// Siebel's Auto Persist: leaving the session's cache puts it in the owner's inbox.
    pub(super) auto_persist: Option<Spanned<bool>>,
    #[allow(dead_code)] // read from the node, field by field, for precise positions
    pub(super) schedule: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)] // read from the node, entry by entry, for precise positions
    pub(super) data: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)] // read from the node, task by task, for precise positions
    pub(super) tasks: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDataDeclFull {
    #[serde(rename = "type")]
    pub(super) ty: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // read from the node, to type YAML scalars
    pub(super) default: Option<serde::de::IgnoredAny>,
    pub(super) description: Option<String>,
    /// For a `document` or `document_list`: the type of its documents (`invoice`), which
    /// Stardust's mapping heuristics match on.
    pub(super) document_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTask {
    pub(super) id: Spanned<String>,
    pub(super) kind: Spanned<String>,
    pub(super) name: Option<String>,
    // `after` and `branches` are read from the node entry by entry, so that a mistake in one
    // entry is reported at that entry (serde's untagged enums lose the position and the cause).
    #[allow(dead_code)]
    pub(super) after: Option<serde::de::IgnoredAny>,
    pub(super) dependencies: Option<RawDependencies>,
    // job
    pub(super) command: Option<Spanned<RawCommand>>,
    pub(super) topic: Option<Spanned<String>>,
    pub(super) workdir: Option<String>,
    #[serde(default)]
    pub(super) env: IndexMap<Spanned<String>, Spanned<String>>,
    pub(super) timeout: Option<Spanned<String>>,
    #[allow(dead_code)] // read from the node: a number or a mapping
    pub(super) retry: Option<serde::de::IgnoredAny>,
    // set
    pub(super) set: Option<IndexMap<Spanned<String>, Spanned<String>>>,
    // decision
    pub(super) branches: Option<serde::de::IgnoredAny>,
    pub(super) otherwise: Option<Vec<Spanned<String>>>,
    pub(super) mode: Option<Spanned<String>>,
    // end
    pub(super) terminate: Option<bool>,
    // foreach
    pub(super) items: Option<Spanned<String>>,
    pub(super) parallel: Option<Spanned<u32>>,
    #[allow(dead_code)] // the body, compiled from the node
    pub(super) tasks: Option<serde::de::IgnoredAny>,
    // user: read from the node by `user_kind`'s `ControlParser::user_task`
    pub(super) title: Option<serde::de::IgnoredAny>,
    pub(super) description: Option<serde::de::IgnoredAny>,
    pub(super) owners: Option<serde::de::IgnoredAny>,
    pub(super) administrators: Option<serde::de::IgnoredAny>,
    pub(super) priority: Option<serde::de::IgnoredAny>,
    pub(super) due: Option<serde::de::IgnoredAny>,
    pub(super) form: Option<serde::de::IgnoredAny>,
    pub(super) input: Option<serde::de::IgnoredAny>,
    pub(super) output: Option<serde::de::IgnoredAny>,
    pub(super) expires_after: Option<serde::de::IgnoredAny>,
    pub(super) on_expiry: Option<serde::de::IgnoredAny>,
    pub(super) escalations: Option<serde::de::IgnoredAny>,
    pub(super) subtasks: Option<serde::de::IgnoredAny>,
    // call and handoff: read from the node by `subprocess_kind` (`input` above is theirs too)
    pub(super) process: Option<serde::de::IgnoredAny>,
    pub(super) version: Option<serde::de::IgnoredAny>,
    pub(super) abort_parent: Option<serde::de::IgnoredAny>,
    pub(super) work_status: Option<serde::de::IgnoredAny>,
    // wait: read from the node by `wait_kind` (`output` and `timeout` above are its too)
    pub(super) event: Option<serde::de::IgnoredAny>,
    pub(super) key: Option<serde::de::IgnoredAny>,
    pub(super) condition: Option<serde::de::IgnoredAny>,
    // Automic controls, read from the node by `controls::ControlParser`.
    #[allow(dead_code)]
    pub(super) breakpoint: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) calendar: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) timezone: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) earliest_start: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) active: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) preconditions: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) latest_start: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) latest_end: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) expected_runtime: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) on_timeout: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) prompts: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) generate: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) max_runtime: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) min_runtime: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) postconditions: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) max_restarts: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) max_runs: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    pub(super) on_demand: Option<serde::de::IgnoredAny>,
}

/// One `after` entry: a task id, or `{task: id, status: name or [names]}`.
pub(super) struct RawAfter {
    pub(super) task: Spanned<String>,
    /// The status names and the position of the `status` value.
    pub(super) status: Option<(Pos, Vec<String>)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAfterFull {
    pub(super) task: Spanned<String>,
    #[allow(dead_code)] // read from the node: a name or a list of names
    pub(super) status: serde::de::IgnoredAny,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawCommand {
    Shell(String),
    Argv(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDependencies {
    #[serde(rename = "match")]
    pub(super) match_: Option<Spanned<String>>,
    #[serde(rename = "else")]
    #[allow(dead_code)] // read from the node: a word or `{run: TASK}`
    pub(super) else_: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBranch {
    pub(super) when: Spanned<String>,
    pub(super) to: Option<Vec<Spanned<String>>>,
    /// A rework loop: the flow goes back to this earlier task, which runs again with the
    /// tasks after it.
    pub(super) back_to: Option<Spanned<String>>,
    /// How often the loop may go back in one pass of the tasks around it.
    pub(super) max_loops: Option<Spanned<u32>>,
}

pub(super) const KINDS: &[&str] = &[
    "job", "set", "decision", "foreach", "user", "call", "handoff", "wait", "view", "end",
];

/// Which fields belong to which kinds, for "field X is only for Y tasks" messages.
pub(super) const KIND_FIELDS: &[(&str, &[&str])] = &[
    ("command", &["job"]),
    ("topic", &["job"]),
    ("workdir", &["job"]),
    ("env", &["job"]),
    ("timeout", &["job", "wait"]),
    ("retry", &["job"]),
    ("set", &["set"]),
    ("branches", &["decision"]),
    ("otherwise", &["decision"]),
    ("mode", &["decision"]),
    ("terminate", &["end"]),
    ("items", &["foreach"]),
    ("parallel", &["foreach"]),
    ("tasks", &["foreach"]),
    ("title", &["user", "view"]),
    ("description", &["user", "view"]),
    ("owners", &["user"]),
    ("administrators", &["user"]),
    ("priority", &["user"]),
    ("due", &["user"]),
    ("form", &["user", "view"]),
    ("input", &["user", "call", "handoff"]),
    ("output", &["user", "call", "wait", "view"]),
    ("expires_after", &["user"]),
    ("on_expiry", &["user"]),
    ("escalations", &["user"]),
    ("subtasks", &["user"]),
    ("process", &["call", "handoff"]),
    ("version", &["call", "handoff"]),
    ("abort_parent", &["call"]),
    ("work_status", &["handoff"]),
    ("event", &["wait"]),
    ("key", &["wait"]),
    ("condition", &["wait"]),
];
