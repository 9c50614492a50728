//! Reading a definition file: its text, the YAML, ids and the data declarations.

use indexmap::IndexMap;
use marked_yaml::{Node, Spanned};
use serde_json::{Map, Value};

use super::compile::compile_graph;
use super::diagnostics::load_error_position;
use super::raw::{RawAfter, RawAfterFull, RawBranch, RawDataDeclFull, RawDefinition};
use super::{
    document, json_type_name, pos_of, DataDecl, DataType, Definition, DefinitionError, Diagnostic,
    Diagnostics, Pos,
};

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
/// are not held to [`MAX_DURATION`](super::MAX_DURATION) (one stored before that bound still loads).
pub fn parse(file: &str, source: &str) -> Result<Definition, DefinitionError> {
    parse_checked(file, source, &crate::limits::DataLimits::CEILING, false)
}

/// Parses and validates a definition as a deploy does: data defaults held to `limits`, and
/// durations to [`MAX_DURATION`](super::MAX_DURATION).
pub fn parse_with(
    file: &str,
    source: &str,
    limits: &crate::limits::DataLimits,
) -> Result<Definition, DefinitionError> {
    parse_checked(file, source, limits, true)
}

pub(super) fn parse_checked(
    file: &str,
    source: &str,
    limits: &crate::limits::DataLimits,
    bound_durations: bool,
) -> Result<Definition, DefinitionError> {
    document::check(file, source)?;
    let mut diags = Diagnostics::new(source);
    diags.bound_durations = bound_durations;
    let definition = parse_inner(source, &mut diags, limits);
    match definition {
        Some(d) if diags.items.is_empty() => Ok(d),
        _ => {
            let mut diagnostics = diags.finish();
            document::keep_inside(source, &mut diagnostics);
            Err(DefinitionError {
                file: file.to_owned(),
                diagnostics,
            })
        }
    }
}

pub(super) fn parse_inner(
    source: &str,
    diags: &mut Diagnostics,
    limits: &crate::limits::DataLimits,
) -> Option<Definition> {
    // Duplicate keys are mistakes (the last one would win silently), and quoted scalars are
    // strings: `default: "12"` is the text 12, not a number.
    let options = marked_yaml::LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .prevent_coercion(true);
    let root = match marked_yaml::parse_yaml_with_options(0, source, options) {
        Ok(node) => node,
        Err(e) => {
            let (pos, message) = load_error_position(&e);
            let hint = match e {
                marked_yaml::LoadError::DuplicateKey(_) => {
                    "each key may appear once in a mapping; remove or rename one"
                }
                _ => "check the indentation and quoting around this place",
            };
            diags.error(pos, message, Some(hint.into()));
            return None;
        }
    };
    let Some(root_map) = root.as_mapping() else {
        diags.error(
            pos_of(root.span()),
            "a definition must be a mapping with `id` and `tasks`",
            None,
        );
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
    // A deploy holds expressions to the declared data (a stored definition loads as it was).
    if diags.bound_durations && !data.is_empty() {
        diags.declared_data = Some(diags.data_candidates(&data));
    }

    let task_nodes = root_map
        .get_sequence("tasks")
        .map(|s| s.iter().collect::<Vec<_>>())
        .unwrap_or_default();
    if task_nodes.is_empty() {
        let pos = root_map
            .get_node("tasks")
            .map_or(Pos { line: 1, column: 1 }, |n| pos_of(n.span()));
        diags.error(
            pos,
            "a definition needs at least one task under `tasks`",
            None,
        );
        return None;
    }
    let startable_by = raw
        .startable_by
        .as_ref()
        .map(|entries| starters(entries, diags));
    let department = raw
        .department
        .as_ref()
        .and_then(|expr| diags.expr(expr, "department"));
    let mut definition = compile_graph(raw.id.as_str(), &task_nodes, data, diags)?;
    definition.department = department;
    definition.name = raw.name.clone();
    definition.description = raw.description.clone();
    definition.startable = raw.startable.unwrap_or(true);
    definition.startable_by = startable_by.flatten();
    definition.interactive = raw.interactive.as_ref().is_some_and(|b| **b);
    definition.auto_persist = raw.auto_persist.as_ref().is_some_and(|b| **b);
    definition.schedule = root_map
        .get_node("schedule")
        .and_then(|node| super::schedule_field::parse_schedule(node, diags));
    interactive_checks(&raw, &definition, &task_nodes, diags);
    Some(definition)
}

/// `auto_persist` and `view` tasks belong to interactive workflows (`interactive: true`).
fn interactive_checks(
    raw: &RawDefinition,
    definition: &Definition,
    task_nodes: &[&marked_yaml::Node],
    diags: &mut Diagnostics,
) {
    if definition.interactive {
        return;
    }
    if let Some(flag) = raw.auto_persist.as_ref().filter(|b| ***b) {
        diags.error(
            pos_of(flag.span()),
            "`auto_persist` is for interactive workflows",
            Some("add `interactive: true`, or remove `auto_persist`".into()),
        );
    }
    for (task, node) in definition.tasks.iter().zip(task_nodes) {
        if matches!(task.kind, super::TaskKind::View(_)) {
            let at = node
                .as_mapping()
                .and_then(|m| m.get_node("kind"))
                .map_or_else(|| pos_of(node.span()), |n| pos_of(n.span()));
            diags.error(at, format!("task `{}` is a view, which only interactive workflows have: a user in a session submits it", task.id), Some("add `interactive: true` to the definition".into()));
        }
    }
}

/// `startable_by`: user names and `group:NAME` entries.
fn starters(
    entries: &[marked_yaml::Spanned<String>],
    diags: &mut Diagnostics,
) -> Option<crate::people::PotentialOwners> {
    let mut who = crate::people::PotentialOwners::default();
    let mut ok = true;
    for entry in entries {
        let (group, name) = match entry.as_str().strip_prefix("group:") {
            Some(group) => (true, group.trim()),
            None => (false, entry.as_str().trim()),
        };
        if name.is_empty()
            || name.len() > MAX_ID_LEN
            || name.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            diags.error(
                pos_of(entry.span()),
                format!(
                    "`{}` is not a user or `group:NAME`",
                    entry.as_str().escape_default()
                ),
                Some("for example `startable_by: [mary, group:clerks]`".into()),
            );
            ok = false;
        } else if group {
            who.groups.insert(name.to_owned());
        } else {
            who.users.insert(name.to_owned());
        }
    }
    ok.then_some(who)
}

/// Longest process or task id.
pub const MAX_ID_LEN: usize = 128;

/// Process and task ids are what commands, history and expressions (`tasks.ID.status`) name:
/// 1 to [`MAX_ID_LEN`] ASCII letters, digits, `_`, `.` and `-`, starting with a letter or `_`.
/// (So `/`, which joins a process and its foreach bodies, and `#`, which picks a human task
/// in `baton task` commands, never appear in one.) Returns the message and a hint.
pub fn check_id(kind: &str, id: &str) -> Result<(), (String, String)> {
    let rule =
        "use 1 to 128 letters, digits, `_`, `.` and `-`, starting with a letter or `_`".to_owned();
    let shown: String = id.chars().take(40).collect();
    let shown = if shown.len() < id.len() {
        format!("{shown}…")
    } else {
        shown
    };
    if id.is_empty() {
        return Err((format!("a {kind} `id` must not be empty"), rule));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        let why = match bad {
            '/' => " (`/` joins a process and its foreach bodies)",
            '#' => " (`#N` after a task id picks a human task)",
            _ => "",
        };
        return Err((
            format!("the {kind} id `{shown}` contains `{bad}`{why}"),
            rule,
        ));
    }
    if id.len() > MAX_ID_LEN {
        return Err((
            format!(
                "the {kind} id `{shown}` is {} characters long, more than {MAX_ID_LEN}",
                id.len()
            ),
            rule,
        ));
    }
    if !id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return Err((
            format!("the {kind} id `{shown}` must start with a letter or `_`"),
            rule,
        ));
    }
    Ok(())
}

pub(super) fn parse_data(
    root: &marked_yaml::types::MarkedMappingNode,
    diags: &mut Diagnostics,
    limits: &crate::limits::DataLimits,
) -> IndexMap<String, DataDecl> {
    let mut data = IndexMap::new();
    let Some(data_node) = root.get_node("data") else {
        return data;
    };
    let Some(entries) = data_node.as_mapping() else {
        if !data_node.as_scalar().is_some_and(|s| s.as_str().is_empty()) {
            diags.error(node_pos(data_node), "`data` must map variable names to types", Some("for example `data: {amount: integer, customer: {type: string, default: \"ACME\"}}`".into()));
        }
        return data;
    };
    for (name, decl) in entries.iter() {
        let (ty_name, description, document_type) = match decl {
            Node::Scalar(t) => (Some(t.as_str().to_owned()), None, None),
            Node::Mapping(_) => match marked_yaml::from_node::<RawDataDeclFull>(decl) {
                Ok(full) => (full.ty, full.description, full.document_type),
                Err(e) => {
                    diags.report_from_node_error(&e, decl);
                    continue;
                }
            },
            Node::Sequence(_) => {
                diags.error(node_pos(decl), format!("`{}` must be a type name or a mapping with `type`, `default`, `description` (and `document_type`)", name.as_str()), None);
                continue;
            }
        };
        let ty = match ty_name.as_deref() {
            None => DataType::Any,
            Some(t) => match DataType::parse(t) {
                Some(ty) => ty,
                None => {
                    let names: Vec<&str> = DataType::NAMES.iter().map(|(n, _)| *n).collect();
                    diags.error(
                        type_pos(decl),
                        format!("unknown data type `{t}` for `{}`", name.as_str()),
                        Some(format!("use one of: {}", names.join(", "))),
                    );
                    continue;
                }
            },
        };
        if let Some(document_type) = &document_type {
            let node = decl
                .as_mapping()
                .and_then(|m| m.get_node("document_type"))
                .map_or_else(|| node_pos(decl), node_pos);
            if !matches!(ty, DataType::Document | DataType::DocumentList) {
                diags.error(
                    node,
                    format!(
                        "`{}` is {}: only a `document` or a `document_list` has a `document_type`",
                        name.as_str(),
                        ty.name()
                    ),
                    Some(
                        "remove `document_type`, or make the type `document` or `document_list`"
                            .into(),
                    ),
                );
                continue;
            }
            if let Some(problem) = super::wire_name_problem("document type", document_type) {
                diags.error(
                    node,
                    format!("the `document_type` of `{}`: {problem}", name.as_str()),
                    None,
                );
                continue;
            }
        }
        if ty == DataType::Attachments {
            if let Some((other, _)) = data
                .iter()
                .find(|(_, d): &(&String, &DataDecl)| d.ty == DataType::Attachments)
            {
                diags.error(
                    type_pos(decl),
                    format!("`{}` and `{other}` are both `attachments`: a process has one set of process attachments", name.as_str()),
                    Some(format!("make `{}` a `document_list`, or remove it", name.as_str())),
                );
                continue;
            }
        }
        let default_node = decl.as_mapping().and_then(|m| m.get_node("default"));
        let default = default_node.map(node_to_json);
        if let (Some(value), Some(node)) = (&default, default_node) {
            if let Err(e) = limits.check_member(value) {
                diags.error(
                    node_pos(node),
                    format!("the default of `{}` {e}", name.as_str()),
                    Some(
                        "a default is held to the limits of data given at start; make it smaller"
                            .into(),
                    ),
                );
            } else if !ty.admits(value) {
                diags.error(
                    node_pos(node),
                    format!(
                        "the default of `{}` is {} but its type is {}",
                        name.as_str(),
                        json_type_name(value),
                        ty.described()
                    ),
                    Some(format!(
                        "write a value of type {}, or change `type`",
                        ty.name()
                    )),
                );
            }
        }
        data.insert(
            name.as_str().to_owned(),
            DataDecl {
                ty,
                default,
                description,
                document_type,
            },
        );
    }
    data
}

pub(super) fn type_pos(node: &Node) -> Pos {
    node.as_mapping()
        .and_then(|m| m.get_node("type"))
        .map_or_else(|| node_pos(node), node_pos)
}

/// Where a node starts as a reader sees it. The YAML parser starts a block mapping at the
/// `:` of its first key, so a mapping is placed at its first key instead.
pub(super) fn node_pos(node: &Node) -> Pos {
    match node {
        Node::Mapping(map) => map
            .keys()
            .next()
            .map_or_else(|| pos_of(node.span()), |k| pos_of(k.span())),
        _ => pos_of(node.span()),
    }
}

/// Reads a task's `after` list: task ids, or `{task, status}` mappings.
pub(super) fn read_after(task: &Node, diags: &mut Diagnostics) -> Option<Vec<RawAfter>> {
    let Some(after) = task.as_mapping().and_then(|m| m.get_node("after")) else {
        return Some(Vec::new());
    };
    let Some(items) = after.as_sequence() else {
        let example = after.as_scalar().map_or("extract", |s| s.as_str());
        diags.error(
            node_pos(after),
            "`after` must be a list of predecessors",
            Some(format!("write `after: [{example}]`")),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for item in items.iter() {
        match item {
            Node::Scalar(name) => out.push(RawAfter {
                task: Spanned::new(*name.span(), name.as_str().to_owned()),
                status: None,
            }),
            Node::Mapping(map) => match marked_yaml::from_node::<RawAfterFull>(item) {
                Ok(full) => {
                    let status = map.get_node("status").expect("`status` was read");
                    let names = match status {
                        Node::Scalar(s) => Some(vec![s.as_str().to_owned()]),
                        Node::Sequence(list) => list
                            .iter()
                            .map(|n| n.as_scalar().map(|s| s.as_str().to_owned()))
                            .collect(),
                        Node::Mapping(_) => None,
                    };
                    match names {
                        Some(names) => out.push(RawAfter {
                            task: full.task,
                            status: Some((node_pos(status), names)),
                        }),
                        None => {
                            diags.error(
                                node_pos(status),
                                "`status` must be a status name or a list of them",
                                Some("for example `status: [ended_ok, ended_skipped]`".into()),
                            );
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
                diags.error(
                    node_pos(item),
                    "an `after` entry is a task id or `{task: id, status: name}`",
                    None,
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// Reads a decision's `branches`, each `{when, to}`.
pub(super) fn read_branches(task: &Node, diags: &mut Diagnostics) -> Option<Vec<RawBranch>> {
    let Some(node) = task.as_mapping().and_then(|m| m.get_node("branches")) else {
        return Some(Vec::new());
    };
    let Some(items) = node.as_sequence() else {
        diags.error(
            node_pos(node),
            "`branches` must be a list of `{when: expression, to: [tasks]}`",
            None,
        );
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
                    .or_else(|| {
                        text.parse::<f64>()
                            .ok()
                            .and_then(serde_json::Number::from_f64)
                            .map(Value::Number)
                    })
                    .unwrap_or_else(|| Value::String(text.to_owned())),
            }
        }
        Node::Sequence(items) => Value::Array(items.iter().map(node_to_json).collect()),
        Node::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.as_str().to_owned(), node_to_json(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}
