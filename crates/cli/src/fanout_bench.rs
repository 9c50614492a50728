//! `baton bench fanout` (W5): root instances that each start `--children` child instances,
//! `--roots` roots per run, `--in-flight` at a time, through the engine, its worker and a fresh
//! SQLite database per run; children/s, root latency, and the commits each root took. The
//! fan-out goes one of three ways (`--via`):
//!
//! - `foreach`, the baseline: a ForEach over the items with `parallel` = the items and a body
//!   of one `set` task. Its iterations start in the root's step; each ends in its own first
//!   step and tells the root through a timer due now, which the worker fires.
//! - `call`: a root with one `call` task per child, all ready at the start, each calling a
//!   deployed process of one `set` task. The children start in the root's step and end in
//!   their first step, which ends their calls in that same step: a root is one step.
//! - `handoff`: a root with one `handoff` task per child (Pega's Hand Off), each child a `set`
//!   task and then a `user` task, where it stops and lives on; a root is one step too. Each
//!   handed-off child's inline part commits in its parent's step, so the commits a root took
//!   are the commits of that one step (what a hand-off adds to its parent's step).
//!
//! With `--via call` or `--via handoff` every run measures the foreach baseline too, each on a
//! fresh database and in alternating order, so the ratio compares figures measured moments
//! apart on a machine whose speed drifts.

use std::time::Instant;

use anyhow::Result;
use clap::Args;
use serde_json::{json, Map, Value};
use tokio::task::JoinSet;

use baton_core::InstanceStatus;
use baton_engine::Engine;
use baton_store_sqlite::SqliteStore;

use crate::bench::{median, parse_durability};
use crate::bench_measure::{summarize, Meter, Run, Summary};
use crate::bench_workloads::{fresh_engine, spawn_worker, Common};

#[derive(Args)]
pub struct FanoutArgs {
    #[command(flatten)]
    common: Common,
    /// Root instances per run (each starts `children` child instances).
    #[arg(long, default_value_t = 40)]
    roots: usize,
    /// Children per root (foreach items, `call` or `handoff` tasks).
    #[arg(long, default_value_t = 50)]
    children: usize,
    /// Roots running at once.
    #[arg(long, default_value_t = 1)]
    in_flight: usize,
    /// How a root starts its children; `call` and `handoff` are measured beside the foreach
    /// baseline in the same runs.
    #[arg(long, value_enum, default_value_t = Via::Foreach)]
    via: Via,
}

/// How a root starts its children (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Via {
    Foreach,
    Call,
    Handoff,
}

impl Via {
    fn name(self) -> &'static str {
        match self {
            Via::Foreach => "foreach",
            Via::Call => "call",
            Via::Handoff => "handoff",
        }
    }

    /// The files to deploy, the root's process id, and the root's start data.
    fn processes(
        self,
        children: usize,
    ) -> (Vec<(String, String)>, &'static str, Map<String, Value>) {
        match self {
            Via::Foreach => {
                let items = json!({"items": (0..children).collect::<Vec<_>>()})
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                (
                    vec![("bench-fanout.yaml".into(), foreach_root(children))],
                    "bench-fanout",
                    items,
                )
            }
            Via::Call => {
                let leaf = "id: bench-leaf\ndata:\n  n: {type: integer, default: 0}\ntasks:\n  - id: work\n    kind: set\n    set: {n: \"data.n + 1\"}\n";
                let root = tasks_root(
                    "bench-call-fanout",
                    children,
                    "kind: call, process: bench-leaf",
                );
                (
                    vec![
                        ("bench-leaf.yaml".into(), leaf.into()),
                        ("bench-call-fanout.yaml".into(), root),
                    ],
                    "bench-call-fanout",
                    Map::new(),
                )
            }
            Via::Handoff => {
                let leaf = "id: bench-handed\ndata:\n  n: {type: integer, default: 0}\ntasks:\n  - id: work\n    kind: set\n    set: {n: \"data.n + 1\"}\n  - id: review\n    kind: user\n    after: [work]\n    title: Review\n    owners: [bench]\n";
                let root = tasks_root(
                    "bench-handoff-fanout",
                    children,
                    "kind: handoff, process: bench-handed, work_status: Handed-Off",
                );
                (
                    vec![
                        ("bench-handed.yaml".into(), leaf.into()),
                        ("bench-handoff-fanout.yaml".into(), root),
                    ],
                    "bench-handoff-fanout",
                    Map::new(),
                )
            }
        }
    }
}

fn foreach_root(children: usize) -> String {
    format!(
        "id: bench-fanout\ndata:\n  n: {{type: integer, default: 0}}\n  items: list\ntasks:\n  - id: fan\n    kind: foreach\n    items: data.items\n    parallel: {children}\n    tasks:\n      - id: work\n        kind: set\n        set: {{n: \"data.n + 1\"}}\n  - id: done\n    kind: end\n    after: [fan]\n"
    )
}

/// A root process `id` of `children` tasks `c1`…, each `{id: cN, <task>}`, all ready at once.
fn tasks_root(id: &str, children: usize, task: &str) -> String {
    let mut yaml = format!("id: {id}\ntasks:\n");
    for n in 1..=children {
        yaml.push_str(&format!("  - {{id: c{n}, {task}}}\n"));
    }
    yaml
}

/// One run of one mode: the run, and the commits it took per root, counted by the engine (its
/// step commits) and by the store (every write request to SQLite's writer).
struct FanoutRun {
    run: Run,
    engine_commits_per_root: f64,
    store_writes_per_root: f64,
}

/// One root to its end: its latency in ms, and whether its start step finished it.
async fn fanout_root(
    engine: Engine<SqliteStore>,
    process: &'static str,
    data: Map<String, Value>,
    via: Via,
    children: usize,
) -> Result<(f64, bool)> {
    let t0 = Instant::now();
    let started = engine.start(process, data).await?;
    let in_one_step = started.status.is_terminal();
    if via == Via::Handoff {
        anyhow::ensure!(
            started.referenced_instances.len() == children,
            "the root handed off {} children, not {children}",
            started.referenced_instances.len()
        );
    }
    let mut instance = baton_core::Instance::clone(&started);
    while !instance.status.is_terminal() {
        engine
            .wait_for_change(std::time::Duration::from_millis(5))
            .await;
        instance = engine.instance(&instance.id).await?;
    }
    anyhow::ensure!(
        instance.status == InstanceStatus::Completed,
        "fan-out root ended {:?}",
        instance.status
    );
    Ok((t0.elapsed().as_secs_f64() * 1000.0, in_one_step))
}

async fn fanout_run(args: &FanoutArgs, via: Via) -> Result<FanoutRun> {
    let durability = parse_durability(&args.common.durability)?;
    let dir = tempfile::tempdir()?;
    let engine = fresh_engine(&dir, durability).await?;
    let (files, process, data) = via.processes(args.children);
    engine.deploy_all(&files).await?;
    let (stop, worker) = spawn_worker(&engine);
    let (commits_before, writes_before) = (
        engine.metrics().commit_latency().count,
        engine.store().write_stats().requests,
    );
    let meter = Meter::start();
    let mut set = JoinSet::new();
    let (mut launched, mut latencies) = (0, Vec::with_capacity(args.roots));
    while latencies.len() < args.roots {
        while launched < args.roots && set.len() < args.in_flight {
            set.spawn(fanout_root(
                engine.clone(),
                process,
                data.clone(),
                via,
                args.children,
            ));
            launched += 1;
        }
        if let Some(done) = set.join_next().await {
            let (ms, in_one_step) = done??;
            // A handed-off child waits at its human task, so nothing is left for a later step.
            anyhow::ensure!(
                in_one_step || via == Via::Foreach,
                "a {} root took more than its start step",
                via.name()
            );
            latencies.push(ms);
        }
    }
    let run = meter.finish(args.roots, latencies);
    let (commits, writes) = (
        engine.metrics().commit_latency().count - commits_before,
        engine.store().write_stats().requests - writes_before,
    );
    let _ = stop.send(());
    worker.await??;
    let roots = args.roots as f64;
    Ok(FanoutRun {
        run,
        engine_commits_per_root: commits as f64 / roots,
        store_writes_per_root: writes as f64 / roots,
    })
}

/// The medians of one mode's runs.
struct FanoutSummary {
    summary: Summary,
    engine_commits_per_root: f64,
    store_writes_per_root: f64,
}

fn summarize_mode(runs: &[FanoutRun]) -> FanoutSummary {
    let of = |f: &dyn Fn(&FanoutRun) -> f64| median(runs.iter().map(f).collect());
    FanoutSummary {
        summary: summarize(&runs.iter().map(|r| r.run.clone()).collect::<Vec<_>>()),
        engine_commits_per_root: of(&|r| r.engine_commits_per_root),
        store_writes_per_root: of(&|r| r.store_writes_per_root),
    }
}

pub async fn fanout(args: FanoutArgs) -> Result<u8> {
    parse_durability(&args.common.durability)?;
    let modes: Vec<Via> = if args.via == Via::Foreach {
        vec![Via::Foreach]
    } else {
        vec![Via::Foreach, args.via]
    };
    let children = args.children as f64;
    let mut runs: Vec<Vec<FanoutRun>> = modes.iter().map(|_| Vec::new()).collect();
    for run in 1..=args.common.runs {
        // Alternating which mode goes first evens out a machine that speeds up or slows down.
        let order: Vec<usize> = if run % 2 == 1 {
            (0..modes.len()).collect()
        } else {
            (0..modes.len()).rev().collect()
        };
        let mut said = Vec::new();
        for m in order {
            let r = fanout_run(&args, modes[m]).await?;
            said.push(format!(
                "{} {:.0} children/s",
                modes[m].name(),
                r.run.per_s() * children
            ));
            runs[m].push(r);
        }
        errln!("run {run}/{}: {}", args.common.runs, said.join(", "));
    }
    let summaries: Vec<FanoutSummary> = runs.iter().map(|r| summarize_mode(r)).collect();
    let base = &summaries[0];
    outln!(
        "workload          W5 fan-out: {} roots, {} at a time, each starting {} child instances (synchronous={}, median of {})",
        args.roots,
        args.in_flight,
        args.children,
        args.common.durability,
        args.common.runs
    );
    for (via, s) in modes.iter().zip(&summaries) {
        let how = match via {
            Via::Foreach => format!("foreach (parallel {}) of one set task", args.children),
            Via::Call => format!(
                "{} call tasks, each a process of one set task",
                args.children
            ),
            Via::Handoff => format!(
                "{} handoff tasks, each a set task then a user task",
                args.children
            ),
        };
        let per_s = s.summary.per_s;
        outln!(
            "{:<17} {:>10.0} children/s  {:>8.1} roots/s  root p50 {:.1} ms  p99 {:.1} ms  {:.2} commits/root  ({how})",
            via.name(),
            per_s * children,
            per_s,
            s.summary.p50_ms,
            s.summary.p99_ms,
            s.engine_commits_per_root
        );
    }
    let ratio = |s: &FanoutSummary| s.summary.per_s / base.summary.per_s;
    for (via, s) in modes.iter().zip(&summaries).skip(1) {
        outln!(
            "ratio             {:>10.3} {}/foreach, measured in the same runs",
            ratio(s),
            via.name()
        );
    }
    for (via, s) in modes.iter().zip(&summaries) {
        let key = match via {
            Via::Foreach => "w5-fanout".to_owned(),
            other => format!("w5-fanout-{}", other.name()),
        };
        let ratio_field = if *via == Via::Foreach {
            String::new()
        } else {
            format!(" ratio_to_foreach={:.3}", ratio(s))
        };
        outln!(
            "{key} children_per_s={:.0} roots_per_s={:.1}{ratio_field} root_p50_ms={:.3} root_p99_ms={:.3} commits_per_root={:.2} store_writes_per_root={:.2} cpu_s_per_child={:.6} peak_rss_mib={:.1}",
            s.summary.per_s * children,
            s.summary.per_s,
            s.summary.p50_ms,
            s.summary.p99_ms,
            s.engine_commits_per_root,
            s.store_writes_per_root,
            s.summary.cpu_per_instance / (children + 1.0),
            s.summary.peak_rss_mib
        );
    }
    if let Some(s) = modes
        .iter()
        .zip(&summaries)
        .find_map(|(via, s)| (*via == Via::Handoff).then_some(s))
    {
        // Each root is one step (checked for every root), so its commits are that step's.
        outln!(
            "handoff commits_per_parent_step={:.2} store_writes_per_parent_step={:.2} extra_commits_per_handoff={:.4}",
            s.engine_commits_per_root,
            s.store_writes_per_root,
            (s.engine_commits_per_root - 1.0) / children
        );
    }
    Ok(0)
}
