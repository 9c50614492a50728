//! Compiling the tasks of a graph (a process or a foreach body): references, kinds,
//! dependencies and the order.

use std::collections::HashMap;

use indexmap::IndexMap;
use marked_yaml::{Node, Spanned};

use super::parse::{read_after, read_branches};
use super::raw::{RawBranch, RawCommand, RawTask, KINDS, KIND_FIELDS};
use super::{
    check_id, controls, pos_of, run_cycles, topic_problem, Action, Branch, DataDecl, DecisionSpec,
    Definition, Dependency, DependencyMatch, Diagnostics, ForEachSpec, JobSpec, JobTarget, Pos,
    Resolve, TaskDef, TaskKind, MAX_PARALLEL,
};
use super::{LoopBack, DEFAULT_MAX_LOOPS, MAX_LOOPS_LIMIT};
use crate::expr::Expr;
use crate::status::StatusCondition;

/// Compiles a task graph: a process's `tasks`, or a foreach task's body.
pub(super) fn compile_graph(
    id: &str,
    task_nodes: &[&Node],
    data: IndexMap<String, DataDecl>,
    diags: &mut Diagnostics,
) -> Option<Definition> {
    let mut raws: Vec<RawTask> = Vec::new();
    for node in task_nodes {
        match marked_yaml::from_node::<RawTask>(node) {
            Ok(t) => raws.push(t),
            Err(e) => diags.report_from_node_error(&e, node),
        }
    }
    if raws.len() != task_nodes.len() {
        return None;
    }

    // Task ids first, so that references can be checked in any order.
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, t) in raws.iter().enumerate() {
        if let Err((message, hint)) = check_id("task", &t.id) {
            diags.error(pos_of(t.id.span()), message, Some(hint));
        }
        if t.id.is_empty() {
            continue;
        }
        if let Some(&first) = index.get(t.id.as_str()) {
            let at = pos_of(raws[first].id.span());
            diags.error(
                pos_of(t.id.span()),
                format!("duplicate task id `{}`", t.id.as_str()),
                Some(format!(
                    "the first task with this id is at line {}; give each task its own id",
                    at.line
                )),
            );
        } else {
            index.insert(t.id.as_str().to_owned(), i);
        }
    }
    let ids = diags.candidates(raws.iter().map(|t| t.id.as_str().to_owned()).collect());
    let resolve = |diags: &mut Diagnostics, name: &Spanned<String>, what: &str| -> Option<usize> {
        let found = index.get(name.as_str()).copied();
        if found.is_none() {
            diags.unknown_name(
                pos_of(name.span()),
                format!("{what} `{}` is not a task of this process", name.as_str()),
                name,
                ids,
                None,
            );
        }
        found
    };

    let mut tasks = Vec::with_capacity(raws.len());
    for (raw_task, node) in raws.iter().zip(task_nodes) {
        if let Some(task) = compile_task(id, raw_task, node, &data, diags, &resolve) {
            tasks.push(task);
        }
    }
    if tasks.len() != raws.len() || !diags.items.is_empty() {
        return None;
    }

    // Decision branches are edges too: a branch target depends on its decision.
    for d in 0..tasks.len() {
        if let TaskKind::Decision(spec) = &tasks[d].kind {
            let targets: Vec<usize> = spec.targets().collect();
            for t in targets {
                if t == d {
                    continue;
                }
                if !tasks[t].predecessors.iter().any(|p| p.task == d) {
                    tasks[t].predecessors.push(Dependency {
                        task: d,
                        condition: StatusCondition::AnyOk,
                    });
                }
            }
        }
    }
    let mut successors = vec![Vec::new(); tasks.len()];
    for (i, t) in tasks.iter().enumerate() {
        for p in &t.predecessors {
            successors[p.task].push(i);
        }
    }
    let order = match topological_order(&tasks, &successors) {
        Ok(order) => order,
        Err(cycle) => {
            let names: Vec<&str> = cycle.iter().map(|&i| tasks[i].id.as_str()).collect();
            let first = &raws[cycle[0]];
            let first_after = read_after(task_nodes[cycle[0]], &mut Diagnostics::new(diags.source));
            let pos = first_after
                .and_then(|a| a.into_iter().next())
                .map_or_else(|| pos_of(first.id.span()), |a| pos_of(a.task.span()));
            diags.error(
                pos,
                format!("the tasks form a cycle: {} -> {}", names.join(" -> "), names[0]),
                Some("`after` and branches go forward, without loops: to repeat earlier tasks, give a decision a branch `back_to: TASK` (a rework loop), or use a `foreach` task".into()),
            );
            return None;
        }
    };
    check_loops(&tasks, task_nodes, diags);
    if !diags.items.is_empty() {
        return None;
    }
    if let Some(cycle) = run_cycles::find(&tasks).filter(|c| !c.is_empty()) {
        report_run_cycle(&cycle, &tasks, task_nodes, diags);
        return None;
    }

    Some(Definition {
        id: id.to_owned(),
        version: 0,
        name: None,
        description: None,
        startable: true,
        startable_by: None,
        department: None,
        interactive: false,
        auto_persist: false,
        schedule: None,
        data,
        tasks,
        order,
        successors,
        iterates: diags.iterates,
        index,
    })
}

/// Refuses postconditions whose `run` actions start each other whatever the data, at the
/// action that closes the loop.
pub(super) fn report_run_cycle(
    cycle: &[run_cycles::CertainRun],
    tasks: &[TaskDef],
    task_nodes: &[&Node],
    diags: &mut Diagnostics,
) {
    let Some(first) = cycle.first() else { return };
    let branch = if first.then { "then" } else { "else" };
    let pos = task_nodes[first.from]
        .as_mapping()
        .and_then(|m| m.get_sequence("postconditions"))
        .and_then(|list| list.get(first.index))
        .and_then(|post| {
            post.as_mapping()
                .and_then(|m| m.get_node(branch))
                .or(Some(post))
        })
        .map_or_else(
            || pos_of(task_nodes[first.from].span()),
            |n| pos_of(n.span()),
        );
    let mut names: Vec<&str> = cycle.iter().map(|e| tasks[e.from].id.as_str()).collect();
    names.push(tasks[first.from].id.as_str());
    diags.error(
        pos,
        format!("these postconditions run each other whatever the data, so they would never stop: {}", names.join(" -> ")),
        Some("make a condition read the data or the task's status (e.g. `task.status == 'ended_not_ok'`), or use `restart` with `max_restarts`".into()),
    );
}

pub(super) fn compile_task(
    scope_id: &str,
    raw: &RawTask,
    node: &Node,
    data: &IndexMap<String, DataDecl>,
    diags: &mut Diagnostics,
    resolve: Resolve<'_>,
) -> Option<TaskDef> {
    let kind_name = raw.kind.as_str();
    if !KINDS.contains(&kind_name) {
        diags.error(
            pos_of(raw.kind.span()),
            format!("unknown task kind `{kind_name}`"),
            Some(format!("use one of: {}", KINDS.join(", "))),
        );
        return None;
    }
    let present = [
        ("command", raw.command.is_some()),
        ("topic", raw.topic.is_some()),
        ("workdir", raw.workdir.is_some()),
        ("env", !raw.env.is_empty()),
        ("timeout", raw.timeout.is_some()),
        ("retry", raw.retry.is_some()),
        ("set", raw.set.is_some()),
        ("branches", raw.branches.is_some()),
        ("otherwise", raw.otherwise.is_some()),
        ("mode", raw.mode.is_some()),
        ("terminate", raw.terminate.is_some()),
        ("items", raw.items.is_some()),
        ("parallel", raw.parallel.is_some()),
        ("tasks", raw.tasks.is_some()),
        ("title", raw.title.is_some()),
        ("description", raw.description.is_some()),
        ("owners", raw.owners.is_some()),
        ("administrators", raw.administrators.is_some()),
        ("priority", raw.priority.is_some()),
        ("due", raw.due.is_some()),
        ("form", raw.form.is_some()),
        ("input", raw.input.is_some()),
        ("output", raw.output.is_some()),
        ("expires_after", raw.expires_after.is_some()),
        ("on_expiry", raw.on_expiry.is_some()),
        ("escalations", raw.escalations.is_some()),
        ("subtasks", raw.subtasks.is_some()),
        ("process", raw.process.is_some()),
        ("version", raw.version.is_some()),
        ("abort_parent", raw.abort_parent.is_some()),
        ("work_status", raw.work_status.is_some()),
        ("event", raw.event.is_some()),
        ("key", raw.key.is_some()),
        ("condition", raw.condition.is_some()),
    ];
    let mut misplaced = false;
    for (field, is_present) in present {
        let owners: &[&str] = KIND_FIELDS
            .iter()
            .find(|(f, _)| *f == field)
            .map_or(&[], |(_, k)| *k);
        if is_present && !owners.contains(&kind_name) {
            let owner = match owners {
                [one] => (*one).to_owned(),
                [init @ .., last] => format!("{} and {last}", init.join(", ")),
                [] => String::new(),
            };
            misplaced = true;
            let at = node
                .as_mapping()
                .and_then(|m| m.keys().find(|k| k.as_str() == field))
                .map_or_else(|| pos_of(raw.id.span()), |k| pos_of(k.span()));
            diags.error(
                at,
                format!("task `{}` is {} {kind_name} task but sets `{field}`, which only {owner} tasks have", raw.id.as_str(), if kind_name.starts_with('e') { "an" } else { "a" }),
                Some(format!("remove `{field}` or change `kind` to {}", owners.join(" or "))),
            );
        }
    }

    let mut predecessors = Vec::new();
    for entry in read_after(node, diags)? {
        let Some(task) = resolve(diags, &entry.task, "predecessor") else {
            continue;
        };
        let condition = match &entry.status {
            None => StatusCondition::AnyOk,
            Some((at, names)) => match parse_condition(names) {
                Ok(c) => c,
                Err(bad) => return bad_status(diags, *at, &bad),
            },
        };
        if task == raw_index_of(raw, resolve, diags) {
            diags.error(
                pos_of(entry.task.span()),
                format!("task `{}` cannot be its own predecessor", raw.id.as_str()),
                None,
            );
            continue;
        }
        predecessors.push(Dependency { task, condition });
    }

    let (dependency_match, on_unmet) = match &raw.dependencies {
        None => (DependencyMatch::All, Action::Block),
        Some(d) => {
            let m = match d.match_.as_ref().map(|s| s.as_str()) {
                None | Some("all") => DependencyMatch::All,
                Some("one") => DependencyMatch::One,
                Some(other) => {
                    diags.error(
                        pos_of(d.match_.as_ref()?.span()),
                        format!("unknown dependency match `{other}`"),
                        Some("use `all` or `one`".into()),
                    );
                    return None;
                }
            };
            let else_node = node
                .as_mapping()
                .and_then(|m| m.get_mapping("dependencies"))
                .and_then(|m| m.get_node("else"));
            let e = match else_node {
                None => Action::Block,
                Some(n) => {
                    let mut parser = controls::ControlParser {
                        diags: &mut *diags,
                        resolve,
                        data,
                    };
                    parser.action(n, "dependencies.else", &["skip", "block", "abort", "run"])?
                }
            };
            (m, e)
        }
    };

    let kind = match kind_name {
        "job" => {
            let mut job = compile_job(raw, diags)?;
            if let Some(n) = node.as_mapping().and_then(|m| m.get_node("retry")) {
                let mut parser = controls::ControlParser {
                    diags: &mut *diags,
                    resolve,
                    data,
                };
                job.retry = Some(parser.retry(n)?);
            }
            TaskKind::Job(job)
        }
        "set" => TaskKind::Set(compile_set(raw, data, diags)?),
        "decision" => TaskKind::Decision(compile_decision(raw, node, diags, resolve)?),
        "foreach" => TaskKind::ForEach(compile_foreach(scope_id, raw, node, data, diags)?),
        "user" => {
            let mut parser = controls::ControlParser {
                diags: &mut *diags,
                resolve,
                data,
            };
            TaskKind::User(Box::new(parser.user_task(
                &raw.id,
                raw.name.as_deref(),
                node.as_mapping()?,
            )?))
        }
        "call" => {
            let mut parser = controls::ControlParser {
                diags: &mut *diags,
                resolve,
                data,
            };
            TaskKind::Call(Box::new(parser.call_task(raw, node.as_mapping()?)?))
        }
        "handoff" => {
            let mut parser = controls::ControlParser {
                diags: &mut *diags,
                resolve,
                data,
            };
            TaskKind::Handoff(Box::new(parser.handoff_task(raw, node.as_mapping()?)?))
        }
        "wait" => {
            let mut parser = controls::ControlParser {
                diags: &mut *diags,
                resolve,
                data,
            };
            TaskKind::Wait(Box::new(parser.wait_task(raw, node.as_mapping()?)?))
        }
        "view" => {
            let mut parser = controls::ControlParser {
                diags: &mut *diags,
                resolve,
                data,
            };
            TaskKind::View(Box::new(parser.view_task(
                &raw.id,
                raw.name.as_deref(),
                node.as_mapping()?,
            )?))
        }
        _ => TaskKind::End {
            terminate: raw.terminate.unwrap_or(false),
        },
    };
    let controls = {
        let mut parser = controls::ControlParser {
            diags: &mut *diags,
            resolve,
            data,
        };
        parser.controls(node.as_mapping()?)?
    };
    if misplaced {
        return None;
    }
    Some(TaskDef {
        id: raw.id.as_str().to_owned(),
        name: raw.name.clone(),
        kind,
        predecessors,
        dependency_match,
        on_unmet,
        controls,
    })
}

/// The task's own index, found without reporting anything new (its id was checked already).
pub(super) fn raw_index_of(raw: &RawTask, resolve: Resolve<'_>, diags: &mut Diagnostics) -> usize {
    let before = diags.items.len();
    let found = resolve(diags, &raw.id, "task");
    diags.truncate(before);
    found.unwrap_or(usize::MAX)
}

pub(super) fn bad_status<T>(diags: &mut Diagnostics, at: Pos, bad: &str) -> Option<T> {
    diags.error(
        at,
        format!("unknown predecessor status `{bad}`"),
        Some(format!(
            "use any_ok, any_not_ok, any_end or one of: {}",
            crate::status::END_STATUS_NAMES.join(", ")
        )),
    );
    None
}

pub(super) fn parse_condition(names: &[String]) -> Result<StatusCondition, String> {
    if let [one] = names {
        return StatusCondition::parse(one).ok_or_else(|| one.clone());
    }
    let mut all = Vec::new();
    for n in names {
        match StatusCondition::parse(n) {
            Some(StatusCondition::OneOf(v)) => all.extend(v),
            _ => return Err(n.clone()),
        }
    }
    Ok(StatusCondition::OneOf(all))
}

pub(super) fn compile_job(raw: &RawTask, diags: &mut Diagnostics) -> Option<JobSpec> {
    let target = match (&raw.command, &raw.topic) {
        (Some(_), Some(topic)) => {
            diags.error(pos_of(topic.span()), format!("job task `{}` has both a `command` and a `topic`", raw.id.as_str()), Some("a job is run by Baton (`command`) or fetched by an external worker (`topic`): keep one".into()));
            return None;
        }
        (None, None) => {
            diags.error(
                pos_of(raw.id.span()),
                format!("job task `{}` needs a `command` or a `topic`", raw.id.as_str()),
                Some("for example `command: [\"./load.sh\", \"--all\"]`, or `topic: invoice-check` for an external worker".into()),
            );
            return None;
        }
        (None, Some(topic)) => {
            if let Some(problem) = topic_problem(topic.as_str()) {
                diags.error(
                    pos_of(topic.span()),
                    format!(
                        "topic `{}` is not allowed: {problem}",
                        topic.as_str().escape_default()
                    ),
                    None,
                );
                return None;
            }
            if raw.workdir.is_some() || raw.timeout.is_some() {
                let field = if raw.workdir.is_some() {
                    "workdir"
                } else {
                    "timeout"
                };
                diags.error(
                    pos_of(topic.span()),
                    format!("`{field}` is for jobs Baton runs; job task `{}` is done by an external worker", raw.id.as_str()),
                    Some("an external worker's time is bounded by its lock; use `max_runtime` to bound the whole job".into()),
                );
                return None;
            }
            JobTarget::Topic(topic.as_str().to_owned())
        }
        (Some(command), None) => {
            let argv = match &**command {
                RawCommand::Shell(line) => vec!["sh".to_owned(), "-c".to_owned(), line.clone()],
                RawCommand::Argv(argv) => argv.clone(),
            };
            if argv.first().is_none_or(|a| a.is_empty()) {
                diags.error(
                    pos_of(command.span()),
                    "the `command` is empty",
                    Some("give the program to run and its arguments".into()),
                );
                return None;
            }
            JobTarget::Command(argv)
        }
    };
    let mut env = Vec::new();
    let mut ok = true;
    for (name, source) in &raw.env {
        match diags.expr(source, &format!("env.{}", name.as_str())) {
            Some(e) => env.push((name.as_str().to_owned(), e)),
            None => ok = false,
        }
    }
    let timeout = match &raw.timeout {
        None => None,
        Some(t) => Some(diags.duration(pos_of(t.span()), Some(t), "timeout")?),
    };
    ok.then(|| JobSpec {
        target,
        workdir: raw.workdir.clone(),
        env,
        timeout,
        retry: None,
    })
}

pub(super) fn compile_set(
    raw: &RawTask,
    data: &IndexMap<String, DataDecl>,
    diags: &mut Diagnostics,
) -> Option<Vec<(String, Expr)>> {
    let Some(set) = &raw.set else {
        diags.error(
            pos_of(raw.id.span()),
            format!(
                "set task `{}` needs `set:` with at least one assignment",
                raw.id.as_str()
            ),
            Some("for example `set: {total: \"data.a + data.b\"}`".into()),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (name, source) in set {
        if !data.contains_key(name.as_str()) {
            let declared = diags.data_candidates(data);
            diags.unknown_name(
                pos_of(name.span()),
                format!("`{}` is not declared under `data`", name.as_str()),
                name,
                declared,
                Some(format!(
                    "declare it: `data: {{{}: {{type: any}}}}`",
                    name.as_str()
                )),
            );
            ok = false;
            continue;
        }
        match diags.expr(source, &format!("set.{}", name.as_str())) {
            Some(e) => out.push((name.as_str().to_owned(), e)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

pub(super) fn compile_decision(
    raw: &RawTask,
    node: &Node,
    diags: &mut Diagnostics,
    resolve: Resolve<'_>,
) -> Option<DecisionSpec> {
    let branches_raw = read_branches(node, diags)?;
    if branches_raw.is_empty() {
        diags.error(
            pos_of(raw.id.span()),
            format!("decision `{}` needs `branches`", raw.id.as_str()),
            Some("for example `branches: [{when: \"data.amount > 100\", to: [approve]}]`".into()),
        );
        return None;
    }
    let own = raw_index_of(raw, resolve, diags);
    let mut ok = true;
    let mut branches = Vec::new();
    let items = node.as_mapping().and_then(|m| m.get_sequence("branches"));
    for (n, b) in branches_raw.iter().enumerate() {
        let when = diags.expr(&b.when, "when");
        let to: Vec<Option<usize>> =
            b.to.iter()
                .flatten()
                .map(|t| branch_target(diags, t, own, raw, resolve))
                .collect();
        // The branch's first key: where the branch starts.
        let first_key = items
            .and_then(|list| list.get(n))
            .and_then(|item| item.as_mapping())
            .and_then(|m| m.keys().next());
        let at = first_key.map_or_else(|| pos_of(b.when.span()), |k| pos_of(k.span()));
        let back = loop_back(diags, b, at, own, raw, resolve);
        match (when, to.into_iter().collect::<Option<Vec<_>>>(), back) {
            (Some(when), Some(to), Some(back)) => branches.push(Branch { when, to, back }),
            _ => ok = false,
        }
    }
    let otherwise: Option<Vec<usize>> = raw
        .otherwise
        .iter()
        .flatten()
        .map(|t| branch_target(diags, t, own, raw, resolve))
        .collect();
    let take_all = match raw.mode.as_ref().map(|m| m.as_str()) {
        None | Some("first") => false,
        Some("all") => true,
        Some(other) => {
            diags.error(
                pos_of(raw.mode.as_ref()?.span()),
                format!("unknown decision mode `{other}`"),
                Some("use `first` (the first branch that holds) or `all`".into()),
            );
            return None;
        }
    };
    if take_all && branches.iter().any(|b| b.back.is_some()) {
        diags.error(
            pos_of(raw.mode.as_ref()?.span()),
            format!("decision `{}` goes back in a loop, which `mode: all` cannot do", raw.id.as_str()),
            Some("a loop branch replaces the flow after the decision; use `mode: first` (the default)".into()),
        );
        return None;
    }
    (ok && otherwise.is_some()).then(|| DecisionSpec {
        branches,
        otherwise: otherwise.unwrap_or_default(),
        take_all,
    })
}

/// A branch target (`to`, `otherwise`): a task of the process, not the decision itself.
fn branch_target(
    diags: &mut Diagnostics,
    name: &Spanned<String>,
    own: usize,
    raw: &RawTask,
    resolve: Resolve<'_>,
) -> Option<usize> {
    let target = resolve(diags, name, "branch target")?;
    if target == own {
        diags.error(
            pos_of(name.span()),
            format!("decision `{}` has a branch to itself", raw.id.as_str()),
            Some("to run the decision again, go back to a task before it with `back_to: TASK` (a rework loop)".into()),
        );
        return None;
    }
    Some(target)
}

/// A branch's loop (`back_to`, `max_loops`), if it has one: `Some(None)` for a forward branch,
/// `None` after reporting a mistake. That the target precedes the decision is checked with
/// the whole graph ([`check_loops`]).
fn loop_back(
    diags: &mut Diagnostics,
    b: &RawBranch,
    at: Pos,
    own: usize,
    raw: &RawTask,
    resolve: Resolve<'_>,
) -> Option<Option<LoopBack>> {
    match (&b.to, &b.back_to) {
        (Some(_), Some(back)) => {
            diags.error(pos_of(back.span()), "a branch has `to` or `back_to`, not both", Some("`to: [TASKS]` goes on to successors; `back_to: TASK` goes back to an earlier task in a loop".into()));
            return None;
        }
        (None, None) => {
            diags.error(
                at,
                "a branch needs `to: [TASKS]` (or `back_to: TASK` for a rework loop)",
                Some("for example `{when: data.approved, to: [publish]}`".into()),
            );
            return None;
        }
        (Some(_), None) => {
            if let Some(max) = &b.max_loops {
                diags.error(
                    pos_of(max.span()),
                    "`max_loops` is for a loop branch (`back_to`)",
                    Some(
                        "remove `max_loops`, or make the branch go back with `back_to: TASK`"
                            .into(),
                    ),
                );
                return None;
            }
            return Some(None);
        }
        (None, Some(_)) => {}
    }
    let back = b.back_to.as_ref()?;
    let target = resolve(diags, back, "loop target")?;
    if target == own {
        diags.error(
            pos_of(back.span()),
            format!("decision `{}` cannot go back to itself", raw.id.as_str()),
            Some("`back_to` names a task before the decision, which runs again with the tasks after it".into()),
        );
        return None;
    }
    let max_loops = match &b.max_loops {
        None => DEFAULT_MAX_LOOPS,
        Some(n) if (1..=MAX_LOOPS_LIMIT).contains(&**n) => **n,
        Some(n) => {
            diags.error(
                pos_of(n.span()),
                format!("`max_loops` is {}; it is 1 to {MAX_LOOPS_LIMIT}", **n),
                Some("how often the branch may go back before the decision is blocked".into()),
            );
            return None;
        }
    };
    Some(Some(LoopBack { target, max_loops }))
}

/// Refuses a loop branch whose target does not precede its decision: a loop goes back.
fn check_loops(tasks: &[TaskDef], task_nodes: &[&Node], diags: &mut Diagnostics) {
    for (d, task) in tasks.iter().enumerate() {
        let TaskKind::Decision(spec) = &task.kind else {
            continue;
        };
        for (n, branch) in spec.branches.iter().enumerate() {
            let Some(back) = branch.back else { continue };
            if crate::definition::precedes(tasks, back.target, d) {
                continue;
            }
            let raw = read_branches(task_nodes[d], &mut Diagnostics::new(diags.source))
                .unwrap_or_default();
            let pos = raw
                .get(n)
                .and_then(|b| b.back_to.as_ref())
                .map_or_else(|| pos_of(task_nodes[d].span()), |t| pos_of(t.span()));
            diags.error(
                pos,
                format!("decision `{}` goes back to `{}`, which does not come before it", task.id, tasks[back.target].id),
                Some(format!("`back_to` names a task the decision follows (through `after` or branches); to go on to `{}`, use `to`", tasks[back.target].id)),
            );
        }
    }
}

pub(super) fn compile_foreach(
    scope_id: &str,
    raw: &RawTask,
    node: &Node,
    data: &IndexMap<String, DataDecl>,
    diags: &mut Diagnostics,
) -> Option<ForEachSpec> {
    let Some(items) = &raw.items else {
        diags.error(
            pos_of(raw.id.span()),
            format!("foreach task `{}` needs `items`", raw.id.as_str()),
            Some("a CEL expression giving a list, e.g. `items: data.files`".into()),
        );
        return None;
    };
    let items = diags.expr(items, "items")?;
    let parallel = match &raw.parallel {
        None => 1,
        Some(p) if (1..=MAX_PARALLEL).contains(&(**p as usize)) => **p as usize,
        // A stored definition from before the bound still loads, running that many at most.
        Some(p) if **p >= 1 && !diags.bound_durations => MAX_PARALLEL,
        Some(p) if **p >= 1 => {
            diags.error(
                pos_of(p.span()),
                format!("`parallel` is {}, more than the limit of {MAX_PARALLEL}", **p),
                Some("each running iteration is an instance with its own jobs and timers; run fewer at once".into()),
            );
            return None;
        }
        Some(p) => {
            diags.error(
                pos_of(p.span()),
                "`parallel` must be at least 1",
                Some("1 runs the iterations one after the other".into()),
            );
            return None;
        }
    };
    let body_nodes: Vec<&Node> = node
        .as_mapping()
        .and_then(|m| m.get_sequence("tasks"))
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    if body_nodes.is_empty() {
        diags.error(
            pos_of(raw.id.span()),
            format!(
                "foreach task `{}` needs `tasks`, the body run for each item",
                raw.id.as_str()
            ),
            None,
        );
        return None;
    }
    let body = compile_graph(
        &format!("{scope_id}/{}", raw.id.as_str()),
        &body_nodes,
        data.clone(),
        diags,
    )?;
    Some(ForEachSpec {
        items,
        parallel,
        body: std::sync::Arc::new(body),
    })
}

/// Kahn's algorithm in declaration order; on a cycle returns the tasks of one cycle.
pub(super) fn topological_order(
    tasks: &[TaskDef],
    successors: &[Vec<usize>],
) -> Result<Vec<usize>, Vec<usize>> {
    let mut indegree: Vec<usize> = tasks.iter().map(|t| t.predecessors.len()).collect();
    let mut ready: std::collections::VecDeque<usize> =
        (0..tasks.len()).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(tasks.len());
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for &s in &successors[i] {
            indegree[s] -= 1;
            if indegree[s] == 0 {
                ready.push_back(s);
            }
        }
    }
    if order.len() == tasks.len() {
        return Ok(order);
    }
    // Walk predecessors among the leftover tasks until one repeats: that is a cycle.
    let left: Vec<bool> = indegree.iter().map(|&d| d > 0).collect();
    let mut path = vec![left.iter().position(|&l| l).unwrap_or(0)];
    loop {
        let last = *path.last().unwrap_or(&0);
        let Some(next) = tasks[last]
            .predecessors
            .iter()
            .map(|p| p.task)
            .find(|&p| left[p])
        else {
            return Err(path);
        };
        if let Some(at) = path.iter().position(|&p| p == next) {
            let mut cycle = path.split_off(at);
            cycle.reverse();
            return Err(cycle);
        }
        path.push(next);
    }
}
