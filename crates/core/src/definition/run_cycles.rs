//! Postconditions whose `run` actions start each other whatever the data: a loop that would
//! never end, refused at deploy. (Loops that depend on data are capped at run time instead:
//! a task runs at most `max_runs` times without an operator's say.)
//!
//! Automic's postconditions are checked once each time a task ends; a `{run: TASK}` action
//! starts the named task, which ends, and whose own postconditions are checked. When task A's
//! postconditions certainly run B and B's certainly run A, each end starts the other again.
//! "Certainly" means the condition reads nothing (`true`, `1 < 2`), so its value is known at
//! deploy, and no earlier postcondition of the task can stop the evaluation (by `block`,
//! `abort` or `restart`) before it is reached.

use super::{Action, Postcondition, TaskDef};

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
            runs.push(CertainRun { from, to, index, then });
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

/// A cycle of certain runs, as its edges in order, if there is one.
pub(super) fn find(tasks: &[TaskDef]) -> Option<Vec<CertainRun>> {
    let edges: Vec<Vec<CertainRun>> = tasks.iter().enumerate().map(|(i, t)| certain_runs(i, &t.controls.postconditions)).collect();
    // Depth-first search with an explicit stack (no recursion: the task count is bounded, but
    // a graph of thousands of tasks should not need a deep call stack).
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut mark = vec![Mark::New; tasks.len()];
    for root in 0..tasks.len() {
        if mark[root] != Mark::New {
            continue;
        }
        // (task, next edge to follow); `path` holds the edge taken into each task but the root.
        let mut stack = vec![(root, 0usize)];
        let mut path: Vec<CertainRun> = Vec::new();
        mark[root] = Mark::OnPath;
        while let Some(&mut (task, ref mut next)) = stack.last_mut() {
            let Some(&edge) = edges[task].get(*next) else {
                mark[task] = Mark::Done;
                stack.pop();
                path.pop();
                continue;
            };
            *next += 1;
            match mark[edge.to] {
                Mark::OnPath => {
                    let start = path.iter().position(|e| e.from == edge.to).unwrap_or(path.len());
                    let mut cycle = path.split_off(start);
                    cycle.push(edge);
                    return Some(cycle);
                }
                Mark::New => {
                    mark[edge.to] = Mark::OnPath;
                    stack.push((edge.to, 0));
                    path.push(edge);
                }
                Mark::Done => {}
            }
        }
    }
    None
}
