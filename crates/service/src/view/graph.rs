//! A definition's flow as a graph of tasks and edges.

use baton_api_model as api;
use baton_core::definition::{Action, TaskKind};
use baton_core::status::StatusCondition;
use baton_core::Definition;

/// The graph of `definition` (deployed as `version`): a node per task, in the order tasks
/// run, and for each task the edges that lead to it. A decision's implied dependency is shown
/// as its branches (`branch`, labelled with their conditions, or `otherwise`), not also as
/// `after`.
pub fn definition_graph(definition: &Definition, version: u32) -> api::DefinitionGraph {
    let tasks = &definition.tasks;
    let nodes = definition
        .order
        .iter()
        .map(|&i| api::GraphNode {
            id: tasks[i].id.clone(),
            kind: tasks[i].kind.name().to_owned(),
            name: tasks[i].name.clone(),
        })
        .collect();
    let edge = |from: usize, to: usize, kind, label| api::GraphEdge {
        from: tasks[from].id.clone(),
        to: tasks[to].id.clone(),
        kind,
        label,
    };
    let mut edges = Vec::new();
    for &to in &definition.order {
        for dependency in &tasks[to].predecessors {
            let from = dependency.task;
            if let TaskKind::Decision(spec) = &tasks[from].kind {
                let conditions: Vec<&str> = spec
                    .branches
                    .iter()
                    .filter(|b| b.to.contains(&to))
                    .map(|b| b.when.source())
                    .collect();
                if !conditions.is_empty() {
                    edges.push(edge(
                        from,
                        to,
                        api::EdgeKind::Branch,
                        Some(conditions.join(" | ")),
                    ));
                }
                if spec.otherwise.contains(&to) {
                    edges.push(edge(from, to, api::EdgeKind::Otherwise, None));
                }
                if !conditions.is_empty() || spec.otherwise.contains(&to) {
                    continue;
                }
            }
            let label = (dependency.condition != StatusCondition::AnyOk)
                .then(|| dependency.condition.to_string());
            edges.push(edge(from, to, api::EdgeKind::After, label));
        }
    }
    for &from in &definition.order {
        if let Action::Run(to) = tasks[from].on_unmet {
            edges.push(edge(from, to, api::EdgeKind::OnUnmet, None));
        }
    }
    api::DefinitionGraph {
        id: definition.id.clone(),
        version,
        nodes,
        edges,
    }
}
