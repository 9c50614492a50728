//! `baton bench`: W1, N ten-step instances through the durable SQLite store (and the
//! pure core as a baseline); its subcommands `human`, `retained` and `timers` are W2–W4
//! (`bench_workloads.rs`), `fanout` is W5 (`fanout_bench.rs`), `inbox` times one inbox page over 100,000 open human tasks, and
//! `foreach` runs one ForEach over N items (`foreach_bench.rs`), `events` publishes keyed
//! events to N waiting instances (`events_bench.rs`).
//!
//! Each W1 instance is `start -> 10 set tasks -> end`. Every workload reports completed
//! instances per second, steps/s, p50/p99 latency per instance, CPU seconds per instance and
//! peak RSS (`bench_measure.rs`), medians of several runs, each on a fresh database, with
//! `synchronous=FULL` unless told otherwise. The core baseline is measured in the same process
//! so the ratio can be compared across noisy machines.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use serde_json::Map;
use tokio::task::JoinSet;

use baton_core::InstanceStatus;
use baton_engine::{Engine, EngineOptions, SystemClock};
use baton_store_sqlite::{Durability, SqliteStore};

use crate::bench_measure::{fields, summarize, Meter, Run};

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
    /// Instances started concurrently (they share commits); W1 as specified runs 100.
    #[arg(long, default_value_t = 100)]
    in_flight: usize,
    /// SQLite synchronous mode: full (the default durability) or normal.
    #[arg(long, default_value = "full")]
    durability: String,
}

#[derive(clap::Subcommand)]
enum BenchTarget {
    /// Fill the inbox with open human tasks through the engine, then time inbox pages.
    Inbox(crate::inbox_bench::InboxBenchArgs),
    /// W2 seq10-human: 10 sequential user tasks, each claimed and completed through the engine API.
    Human(crate::bench_workloads::HumanArgs),
    /// W3 retained: W1 on a store already holding 10^3, 10^4, 10^5 (10^6) waiting instances.
    Retained(crate::bench_workloads::RetainedArgs),
    /// W4 timers: N instances each waiting on a 1 s timer, fired by the worker; lateness p50/p99.
    Timers(crate::bench_workloads::TimersArgs),
    /// W5 fan-out: a root starting 50 child instances through a foreach (the baseline), `call`
    /// tasks or `handoff` tasks (`--via`); children/s and commits per root.
    Fanout(crate::fanout_bench::FanoutArgs),
    /// One ForEach over N items with an empty body: iterations/s, database bytes per iteration.
    Foreach(crate::foreach_bench::ForEachArgs),
    /// Events: N instances waiting on keyed events; publish → resumed step p50/p99 at a fixed
    /// rate, events/s at saturation, against resumptions given directly.
    Events(crate::events_bench::EventsArgs),
    /// The API on loopback: W2 over HTTP by concurrent clients (against W2 in-process) and
    /// external workers long-polling for jobs; requests/s and p50/p99 per operation.
    Http(crate::http_bench::HttpArgs),
}

/// The benchmark workflow: ten `set` tasks in sequence.
pub fn seq10_definition() -> String {
    let mut yaml =
        String::from("id: bench-seq10\ndata:\n  n: {type: integer, default: 0}\ntasks:\n");
    for i in 1..=10 {
        let after = if i == 1 {
            String::new()
        } else {
            format!("\n    after: [s{}]", i - 1)
        };
        yaml.push_str(&format!(
            "  - id: s{i}\n    kind: set{after}\n    set: {{n: \"data.n + 1\"}}\n"
        ));
    }
    yaml.push_str("  - id: done\n    kind: end\n    after: [s10]\n");
    yaml
}

pub(crate) fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

pub async fn run(args: BenchArgs) -> Result<u8> {
    match args.target {
        Some(BenchTarget::Inbox(inbox)) => return crate::inbox_bench::run(inbox).await,
        Some(BenchTarget::Human(a)) => return crate::bench_workloads::human(a).await,
        Some(BenchTarget::Http(a)) => return crate::http_bench::run(a).await,
        Some(BenchTarget::Retained(a)) => return crate::bench_workloads::retained(a).await,
        Some(BenchTarget::Timers(a)) => return crate::bench_workloads::timers(a).await,
        Some(BenchTarget::Fanout(a)) => return crate::fanout_bench::fanout(a).await,
        Some(BenchTarget::Foreach(a)) => return crate::foreach_bench::run(a).await,
        Some(BenchTarget::Events(a)) => return crate::events_bench::run(a).await,
        None => {}
    }
    let durability = parse_durability(&args.durability)?;
    let source = seq10_definition();
    let steps_per_instance = 12.0; // ten sets, the end, and the start itself

    let mut core_runs = Vec::new();
    let mut durable_runs = Vec::new();
    for run in 1..=args.runs {
        core_runs.push(core_only(&source, args.instances)?);
        let r = durable(&source, args.instances, args.in_flight, durability).await?;
        errln!(
            "run {run}/{}: {:.0} instances/s durable, {:.0} core only",
            args.runs,
            r.per_s(),
            core_runs[run - 1].per_s()
        );
        durable_runs.push(r);
    }
    let (core, durable) = (summarize(&core_runs), summarize(&durable_runs));
    outln!(
        "workload          W1 seq10-auto: start -> 10 set tasks -> end, {} instances, {} in flight",
        args.instances,
        args.in_flight
    );
    outln!(
        "durable (sqlite)  {:>10.0} instances/s  {:>10.0} steps/s  (synchronous={}, median of {})",
        durable.per_s,
        durable.per_s * steps_per_instance,
        args.durability,
        args.runs
    );
    outln!("core only         {:>10.0} instances/s  {:>10.0} steps/s  (baseline, no store, one thread)", core.per_s, core.per_s * steps_per_instance);
    outln!(
        "ratio             {:>10.3} durable/core",
        durable.per_s / core.per_s
    );
    outln!(
        "w1-durable-{} instances_per_s={:.0} steps_per_s={:.0} {}",
        args.durability,
        durable.per_s,
        durable.per_s * steps_per_instance,
        fields(&durable)
    );
    outln!(
        "w1-core instances_per_s={:.0} steps_per_s={:.0} {}",
        core.per_s,
        core.per_s * steps_per_instance,
        fields(&core)
    );
    Ok(0)
}

pub(crate) fn parse_durability(name: &str) -> Result<Durability> {
    match name {
        "full" => Ok(Durability::Full),
        "normal" => Ok(Durability::Normal),
        other => anyhow::bail!("unknown durability `{other}`; use full or normal"),
    }
}

fn core_only(source: &str, n: usize) -> Result<Run> {
    let definition = baton_core::definition::parse("bench.yaml", source)?;
    let now = chrono::Utc::now();
    let mut latencies = Vec::with_capacity(n);
    let meter = Meter::start();
    for i in 0..n {
        let t0 = Instant::now();
        let t = baton_core::start(&definition, i.to_string(), Map::new(), now)?;
        latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(
            t.instance.status == InstanceStatus::Completed,
            "bench instance did not complete"
        );
    }
    Ok(meter.finish(n, latencies))
}

/// W1 through the engine and a fresh SQLite store.
async fn durable(
    source: &str,
    instances: usize,
    in_flight: usize,
    durability: Durability,
) -> Result<Run> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("bench.db"), durability)?;
    let engine = Engine::new(store, Arc::new(SystemClock), EngineOptions::default());
    let (id, _) = engine.deploy("bench.yaml", source).await?;
    seq10_on(&engine, &id, instances, in_flight).await
}

/// Runs `instances` W1 instances of the deployed process `id` on `engine`, `in_flight` at once.
pub(crate) async fn seq10_on(
    engine: &Engine<SqliteStore>,
    id: &str,
    instances: usize,
    in_flight: usize,
) -> Result<Run> {
    let meter = Meter::start();
    let mut set = JoinSet::new();
    let mut launched = 0;
    let mut latencies = Vec::with_capacity(instances);
    while latencies.len() < instances {
        while launched < instances && set.len() < in_flight {
            let (engine, id) = (engine.clone(), id.to_owned());
            set.spawn(async move {
                let t0 = Instant::now();
                let instance = engine.start(&id, Map::new()).await?;
                anyhow::Ok((instance, t0.elapsed().as_secs_f64() * 1000.0))
            });
            launched += 1;
        }
        if let Some(done) = set.join_next().await {
            let (instance, ms) = done??;
            anyhow::ensure!(
                instance.status == InstanceStatus::Completed,
                "bench instance did not complete"
            );
            latencies.push(ms);
        }
    }
    Ok(meter.finish(instances, latencies))
}
