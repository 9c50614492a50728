//! `baton definition graph`: a definition's flow drawn as text for the terminal, as Graphviz
//! DOT or as a Mermaid flowchart, from the API's [`DefinitionGraph`].

use std::fmt::Write;

use clap::ValueEnum;

use baton_api_model::{DefinitionGraph, EdgeKind, GraphEdge};

/// How `baton definition graph` draws the flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Each task with the tasks it leads to, for the terminal.
    Text,
    /// Graphviz DOT (`| dot -Tsvg > flow.svg`).
    Dot,
    /// A Mermaid flowchart (Markdown renderers on GitHub and GitLab draw it).
    Mermaid,
    /// The graph as the API returns it.
    Json,
}

pub fn render(graph: &DefinitionGraph, format: GraphFormat) -> String {
    match format {
        GraphFormat::Text => text(graph),
        GraphFormat::Dot => dot(graph),
        GraphFormat::Mermaid => mermaid(graph),
        GraphFormat::Json => format!("{}\n", crate::render::json(graph)),
    }
}

/// What an edge says beside its target: `when COND`, `otherwise`, `if it ends STATUS`, `if
/// its dependencies do not hold`; nothing for a plain `after`.
fn caption(edge: &GraphEdge) -> Option<String> {
    match (edge.kind, &edge.label) {
        (EdgeKind::Branch, Some(when)) => Some(format!("when {when}")),
        (EdgeKind::Otherwise, _) => Some("otherwise".to_owned()),
        (EdgeKind::After, Some(statuses)) => Some(format!("if it ends {statuses}")),
        (EdgeKind::OnUnmet, _) => Some("if its dependencies do not hold".to_owned()),
        (EdgeKind::Branch | EdgeKind::After, None) => None,
    }
}

fn text(graph: &DefinitionGraph) -> String {
    let mut out = format!("process {} v{}\n", graph.id, graph.version);
    for node in &graph.nodes {
        let name = node
            .name
            .as_deref()
            .map(|n| format!("  \"{n}\""))
            .unwrap_or_default();
        let _ = writeln!(out, "\n{} ({}){name}", node.id, node.kind);
        let outgoing: Vec<&GraphEdge> = graph.edges.iter().filter(|e| e.from == node.id).collect();
        let width = outgoing
            .iter()
            .map(|e| e.to.chars().count())
            .max()
            .unwrap_or(0);
        for (n, edge) in outgoing.iter().enumerate() {
            let branch = if n + 1 == outgoing.len() {
                "└─▶"
            } else {
                "├─▶"
            };
            match caption(edge) {
                Some(caption) => _ = writeln!(out, "  {branch} {:width$}  {caption}", edge.to),
                None => _ = writeln!(out, "  {branch} {}", edge.to),
            }
        }
    }
    out
}

/// A DOT string literal: quotes and backslashes escaped, line breaks kept as `\n`.
fn dot_quoted(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '\n' => quoted.push_str("\\n"),
            '\r' => {}
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn dot_shape(kind: &str) -> &'static str {
    match kind {
        "decision" => "diamond",
        "end" => "doublecircle",
        "user" => "box, style=rounded",
        "wait" => "hexagon",
        _ => "box",
    }
}

fn dot(graph: &DefinitionGraph) -> String {
    let mut out = format!(
        "digraph {} {{\n  rankdir=LR;\n",
        dot_quoted(&format!("{} v{}", graph.id, graph.version))
    );
    for node in &graph.nodes {
        let label = format!(
            "{}\n{}",
            node.name.as_deref().unwrap_or(&node.id),
            node.kind
        );
        let _ = writeln!(
            out,
            "  {} [label={}, shape={}];",
            dot_quoted(&node.id),
            dot_quoted(&label),
            dot_shape(&node.kind)
        );
    }
    for edge in &graph.edges {
        let mut attributes = Vec::new();
        if let Some(caption) = caption(edge) {
            attributes.push(format!("label={}", dot_quoted(&caption)));
        }
        if edge.kind == EdgeKind::OnUnmet {
            attributes.push("style=dashed".to_owned());
        }
        let attributes = if attributes.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attributes.join(", "))
        };
        let _ = writeln!(
            out,
            "  {} -> {}{attributes};",
            dot_quoted(&edge.from),
            dot_quoted(&edge.to)
        );
    }
    out.push_str("}\n");
    out
}

/// Text inside a Mermaid `"…"` label: Mermaid reads HTML entities there, so quotes and angle
/// brackets become entities and nothing can end the label early.
fn mermaid_text(text: &str) -> String {
    text.replace('&', "#amp;")
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
        .replace(['\n', '\r'], " ")
}

fn mermaid(graph: &DefinitionGraph) -> String {
    // Task ids may hold characters Mermaid gives a meaning to (`-`, `.`): nodes are named by
    // their position and labelled with the id.
    let position = |id: &str| {
        graph
            .nodes
            .iter()
            .position(|n| n.id == id)
            .unwrap_or(usize::MAX)
    };
    let mut out = format!(
        "flowchart LR\n  %% process {} v{}\n",
        graph.id, graph.version
    );
    for (n, node) in graph.nodes.iter().enumerate() {
        let label = mermaid_text(&format!(
            "{} ({})",
            node.name.as_deref().unwrap_or(&node.id),
            node.kind
        ));
        let (open, close) = match node.kind.as_str() {
            "decision" => ("{", "}"),
            "end" => ("((", "))"),
            "user" => ("(", ")"),
            "wait" => ("{{", "}}"),
            _ => ("[", "]"),
        };
        let _ = writeln!(out, "  t{n}{open}\"{label}\"{close}");
    }
    for edge in &graph.edges {
        let arrow = if edge.kind == EdgeKind::OnUnmet {
            "-.->"
        } else {
            "-->"
        };
        let (from, to) = (position(&edge.from), position(&edge.to));
        match caption(edge) {
            Some(caption) => {
                _ = writeln!(
                    out,
                    "  t{from} {arrow}|\"{}\"| t{to}",
                    mermaid_text(&caption)
                )
            }
            None => _ = writeln!(out, "  t{from} {arrow} t{to}"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_api_model::GraphNode;

    fn graph() -> DefinitionGraph {
        let node = |id: &str, kind: &str| GraphNode {
            id: id.to_owned(),
            kind: kind.to_owned(),
            name: None,
        };
        let edge = |from: &str, to: &str, kind, label: Option<&str>| GraphEdge {
            from: from.to_owned(),
            to: to.to_owned(),
            kind,
            label: label.map(str::to_owned),
        };
        DefinitionGraph {
            id: "approval".into(),
            version: 2,
            nodes: vec![
                node("check", "decision"),
                node("pay-out", "job"),
                node("reject", "end"),
            ],
            edges: vec![
                edge(
                    "check",
                    "pay-out",
                    EdgeKind::Branch,
                    Some(r#"data.note == "a \"b\"" && data.n < 3"#),
                ),
                edge("check", "reject", EdgeKind::Otherwise, None),
            ],
        }
    }

    #[test]
    fn dot_escapes_what_would_end_a_string() {
        let dot = dot(&graph());
        assert!(
            dot.contains(
                r#""check" -> "pay-out" [label="when data.note == \"a \\\"b\\\"\" && data.n < 3"];"#
            ),
            "{dot}"
        );
        assert!(
            dot.contains(r#""check" [label="check\ndecision", shape=diamond];"#),
            "{dot}"
        );
    }

    #[test]
    fn mermaid_names_nodes_by_position_and_escapes_labels() {
        let mermaid = mermaid(&graph());
        assert!(mermaid.contains("t1[\"pay-out (job)\"]"), "{mermaid}");
        assert!(mermaid.contains("t0 -->|\"when data.note == #quot;a \\#quot;b\\#quot;#quot; #amp;#amp; data.n #lt; 3\"| t1"), "{mermaid}");
        assert!(mermaid.contains("t0 -->|\"otherwise\"| t2"), "{mermaid}");
    }

    #[test]
    fn text_lists_where_each_task_leads() {
        let text = text(&graph());
        assert!(
            text.contains("check (decision)\n  ├─▶ pay-out  when data.note"),
            "{text}"
        );
        assert!(text.contains("  └─▶ reject   otherwise\n"), "{text}");
    }
}
