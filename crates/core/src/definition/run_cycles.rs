//! Postconditions whose `run` actions start each other whatever the data: a loop that would
//! never end, refused at deploy. (Loops that depend on data are capped at run time instead:
//! a task runs at most `max_runs` times without an operator's say.)
//!
//! Automic's postconditions are checked once each time a task ends; a `{run: TASK}` action
//! starts the named task, which ends, and whose own postconditions are checked. When task A's
//! postconditions certainly run B and B's certainly run A, each end starts the other again.
//! "Certainly" means the condition reads nothing (`true`, `1 < 2`), so its value is known at
//! deploy, and no earlier postcondition of the task can stop the evaluation (by `block`,
//! `abort` or `restart`) before it is reached. A loop is refused when it goes through a task
//! that ends in a later step (a job, a human task, …): a loop of in-engine tasks alone stops
//! inside its step, where each task is started by an action at most once.

use super::{Action, Postcondition, TaskDef, TaskKind};

/// A `run` action that is taken each time `from` ends: postcondition `index` of task `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CertainRun {
    pub from: usize,
    pub to: usize,
    pub index: usize,
    /// Whether the action is the postcondition's `then` (else its `else`).
    pub then: bool,
}

/// The `run` actions of `task`'s postconditions that are taken each time it ends.
fn certain_runs(from: usize, postconditions: &[Postcondition]) -> Vec<CertainRun> {
    let mut runs = Vec::new();
    for (index, post) in postconditions.iter().enumerate() {
        let taken = match post.when.constant() {
            Some(serde_json::Value::Bool(true)) => Some((post.then, true)),
            Some(serde_json::Value::Bool(false)) => Some((post.otherwise, false)),
            _ if post.then == post.otherwise => Some((post.then, true)),
            _ => None,
        };
        if let Some((Action::Run(to), then)) = taken {
            runs.push(CertainRun {
                from,
                to,
                index,
                then,
            });
        }
        // Past an action that may stop the evaluation, nothing is certain any more.
        let may_stop = |a: Action| matches!(a, Action::Block | Action::Abort | Action::Restart);
        match taken {
            Some((action, _)) if may_stop(action) => break,
            None if may_stop(post.then) || may_stop(post.otherwise) => break,
            _ => {}
        }
    }
    runs
}

/// Can the task end in a later transition than the one that starts it? A job, a human task or
/// a ForEach always does; an in-engine task (`set`, `decision`, `end`) only when a control makes
/// it wait. A loop of in-engine tasks alone ends inside one transition, where a task is started
/// by an action at most once; a loop through a task that waits starts again in every
/// transition, forever.
fn may_wait(task: &TaskDef) -> bool {
    let c = &task.controls;
    !matches!(
        task.kind,
        TaskKind::Set(_) | TaskKind::Decision(_) | TaskKind::End { .. }
    ) || c.breakpoint
        || c.earliest_start.is_some()
        || c.preconditions.is_some()
        || !c.prompts.is_empty()
}

/// A loop of certain runs through a task that waits, as its edges in order, if there is one.
pub(super) fn find(tasks: &[TaskDef]) -> Option<Vec<CertainRun>> {
    let edges: Vec<Vec<CertainRun>> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| certain_runs(i, &t.controls.postconditions))
        .collect();
    if edges.iter().all(Vec::is_empty) {
        return None;
    }
    let component = components(&edges);
    // A task that waits and has a certain run back to itself: a loop through it. (Within one
    // strongly connected component every task reaches every other.)
    let start = (0..tasks.len()).find(|&w| {
        may_wait(&tasks[w]) && edges[w].iter().any(|e| component[e.to] == component[w])
    })?;
    Some(path_back(start, &edges, &component))
}

/// The strongly connected components of the certain-run graph (Kosaraju's two passes, with
/// explicit stacks: no recursion however many tasks there are): a component id per task.
fn components(edges: &[Vec<CertainRun>]) -> Vec<usize> {
    let n = edges.len();
    let mut finished = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    for root in 0..n {
        if seen[root] {
            continue;
        }
        seen[root] = true;
        let mut stack = vec![(root, 0usize)];
        while let Some((task, next)) = stack.last_mut() {
            if let Some(edge) = edges[*task].get(*next) {
                *next += 1;
                if !seen[edge.to] {
                    seen[edge.to] = true;
                    stack.push((edge.to, 0));
                }
            } else {
                finished.push(*task);
                stack.pop();
            }
        }
    }
    let mut reverse = vec![Vec::new(); n];
    for e in edges.iter().flatten() {
        reverse[e.to].push(e.from);
    }
    let mut component = vec![usize::MAX; n];
    for (id, &root) in finished.iter().rev().enumerate() {
        if component[root] != usize::MAX {
            continue;
        }
        component[root] = id;
        let mut stack = vec![root];
        while let Some(task) = stack.pop() {
            for &from in &reverse[task] {
                if component[from] == usize::MAX {
                    component[from] = id;
                    stack.push(from);
                }
            }
        }
    }
    component
}

/// The shortest loop of certain runs from `start` back to itself, inside its component.
fn path_back(start: usize, edges: &[Vec<CertainRun>], component: &[usize]) -> Vec<CertainRun> {
    let mut via: Vec<Option<CertainRun>> = vec![None; edges.len()];
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(task) = queue.pop_front() {
        for &edge in &edges[task] {
            if component[edge.to] != component[start] {
                continue;
            }
            if edge.to == start {
                let mut path = vec![edge];
                let mut at = task;
                while at != start {
                    let Some(step) = via[at] else { break };
                    path.push(step);
                    at = step.from;
                }
                path.reverse();
                return path;
            }
            if via[edge.to].is_none() {
                via[edge.to] = Some(edge);
                queue.push_back(edge.to);
            }
        }
    }
    Vec::new()
}
