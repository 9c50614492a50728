//! `baton bench`: throughput of N ten-step instances through the durable SQLite store; and
//! `baton bench inbox`: the time of one inbox page over 100,000 open human tasks.
//!
//! Each instance is `start -> 10 set tasks -> end`. The figure is completed instances per
//! second, median of several runs, each on a fresh database, with `synchronous=FULL` unless
//! told otherwise. A baseline (the pure core, no store) is measured in the same process so the
//! ratio can be compared across noisy machines.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use serde_json::Map;
use tokio::task::JoinSet;

use baton_core::InstanceStatus;
use baton_engine::{Engine, EngineOptions, SystemClock};
use baton_store_sqlite::{Durability, SqliteStore};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    target: Option<BenchTarget>,
    /// Instances per run.
    #[arg(long, default_value_t = 20_000)]
    instances: usize,
    /// Runs; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Instances started concurrently (they share commits).
    #[arg(long, default_value_t = 256)]
    in_flight: usize,
    /// SQLite synchronous mode: full (the default durability) or normal.
    #[arg(long, default_value = "full")]
    durability: String,
}

#[derive(clap::Subcommand)]
enum BenchTarget {
    /// Fill the inbox with open human tasks through the engine, then time inbox pages.
    Inbox(crate::inbox_bench::InboxBenchArgs),
}

/// The benchmark workflow: ten `set` tasks in sequence.
pub fn seq10_definition() -> String {
    let mut yaml = String::from("id: bench-seq10\ndata:\n  n: {type: integer, default: 0}\ntasks:\n");
    for i in 1..=10 {
        let after = if i == 1 { String::new() } else { format!("\n    after: [s{}]", i - 1) };
        yaml.push_str(&format!("  - id: s{i}\n    kind: set{after}\n    set: {{n: \"data.n + 1\"}}\n"));
    }
    yaml.push_str("  - id: done\n    kind: end\n    after: [s10]\n");
    yaml
}

pub(crate) fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

pub async fn run(args: BenchArgs) -> Result<u8> {
    if let Some(BenchTarget::Inbox(inbox)) = args.target {
        return crate::inbox_bench::run(inbox).await;
    }
    let durability = match args.durability.as_str() {
        "full" => Durability::Full,
        "normal" => Durability::Normal,
        other => anyhow::bail!("unknown durability `{other}`; use full or normal"),
    };
    let source = seq10_definition();
    let steps_per_instance = 12.0; // ten sets, the end, and the start itself

    let mut core_rates = Vec::new();
    let mut durable_rates = Vec::new();
    for run in 1..=args.runs {
        core_rates.push(core_only(&source, args.instances)?);
        let rate = durable(&source, &args, durability).await?;
        eprintln!("run {run}/{}: {:.0} instances/s durable", args.runs, rate);
        durable_rates.push(rate);
    }
    let (core, durable) = (median(core_rates), median(durable_rates));
    println!("workload          seq10-auto: start -> 10 set tasks -> end, {} instances, {} in flight", args.instances, args.in_flight);
    println!("durable (sqlite)  {:>10.0} instances/s  {:>10.0} steps/s  (synchronous={}, median of {})", durable, durable * steps_per_instance, args.durability, args.runs);
    println!("core only         {:>10.0} instances/s  {:>10.0} steps/s  (baseline, no store)", core, core * steps_per_instance);
    println!("ratio             {:>10.3} durable/core", durable / core);
    Ok(0)
}

fn core_only(source: &str, n: usize) -> Result<f64> {
    let definition = baton_core::definition::parse("bench.yaml", source)?;
    let now = chrono::Utc::now();
    let started = Instant::now();
    for i in 0..n {
        let t = baton_core::start(&definition, i.to_string(), Map::new(), now)?;
        anyhow::ensure!(t.instance.status == InstanceStatus::Completed, "bench instance did not complete");
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

async fn durable(source: &str, args: &BenchArgs, durability: Durability) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("bench.db"), durability)?;
    let engine = Engine::new(store, Arc::new(SystemClock), EngineOptions::default());
    let (id, _) = engine.deploy("bench.yaml", source).await?;
    let started = Instant::now();
    let mut set = JoinSet::new();
    let mut launched = 0;
    let mut completed = 0;
    while completed < args.instances {
        while launched < args.instances && set.len() < args.in_flight {
            let (engine, id) = (engine.clone(), id.clone());
            set.spawn(async move { engine.start(&id, Map::new()).await });
            launched += 1;
        }
        if let Some(done) = set.join_next().await {
            let instance = done??;
            anyhow::ensure!(instance.status == InstanceStatus::Completed, "bench instance did not complete");
            completed += 1;
        }
    }
    Ok(args.instances as f64 / started.elapsed().as_secs_f64())
}
