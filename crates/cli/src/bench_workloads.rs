//! The benchmark workloads beyond W1: `baton bench human` (W2), `retained` (W3) and `timers`
//! (W4); `fanout` (W5) is `fanout_bench.rs`. Each runs through the engine on a fresh SQLite database per run and prints
//! a human-readable line and a `key=value` line (see `bench_measure`), medians of the runs.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use serde_json::Map;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use baton_core::user_task::{HumanTaskId, UserTaskCommand};
use baton_core::InstanceStatus;
use baton_engine::{Engine, EngineOptions, SystemClock, WorkerOptions};
use baton_store::{IdentityStore, NewUser, TimerQueue};
use baton_store_sqlite::{Durability, SqliteStore, WriterCounts};

use crate::bench::{parse_durability, seq10_definition, seq10_on};
use crate::bench_measure::{fields, median, summarize, Meter, Run};

#[derive(Args, Clone)]
pub struct Common {
    /// Runs; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub(crate) runs: usize,
    /// SQLite synchronous mode: full (the default durability) or normal.
    #[arg(long, default_value = "full")]
    pub(crate) durability: String,
}

/// An engine on a fresh SQLite database in `dir`, with the user `bench`.
pub(crate) async fn fresh_engine(
    dir: &tempfile::TempDir,
    durability: Durability,
) -> Result<Engine<SqliteStore>> {
    let store = SqliteStore::open(dir.path().join("bench.db"), durability)?;
    let engine = Engine::new(store, Arc::new(SystemClock), EngineOptions::default());
    engine
        .store()
        .add_user(NewUser::named("bench"), chrono::Utc::now())
        .await?;
    Ok(engine)
}

/// Runs the engine's worker (timers and jobs) until the returned sender is used or dropped.
pub(crate) fn spawn_worker(
    engine: &Engine<SqliteStore>,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), baton_engine::EngineError>>,
) {
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let engine = engine.clone();
    let handle = tokio::spawn(async move {
        engine
            .run_worker(WorkerOptions::default(), async move {
                let _ = stop_rx.await;
            })
            .await
    });
    (stop_tx, handle)
}

// ---------------------------------------------------------------------------------------------
// W2 seq10-human

#[derive(Args)]
pub struct HumanArgs {
    #[command(flatten)]
    common: Common,
    /// Instances per run.
    #[arg(long, default_value_t = 2_000)]
    instances: usize,
    /// Instances worked on concurrently (their commits are shared).
    #[arg(long, default_value_t = 100)]
    in_flight: usize,
}

/// Ten user tasks in sequence, each offered to the user `bench`.
pub fn seq10_human_definition() -> String {
    let mut yaml = String::from("id: bench-seq10-human\ntasks:\n");
    for i in 1..=10 {
        let after = if i == 1 {
            String::new()
        } else {
            format!("\n    after: [u{}]", i - 1)
        };
        yaml.push_str(&format!(
            "  - id: u{i}\n    kind: user\n    title: Step {i}\n    owners: [bench]{after}\n"
        ));
    }
    yaml.push_str("  - id: done\n    kind: end\n    after: [u10]\n");
    yaml
}

/// The SQLite writer's work between two readings: requests per commit, and the share of the
/// run it spent running requests and committing (WAL writes and fsync).
fn writer_summary(before: WriterCounts, after: WriterCounts, seconds: f64) -> String {
    let groups = (after.groups - before.groups).max(1) as f64;
    let requests = (after.requests - before.requests) as f64;
    let share = |ns: u64| ns as f64 / 1e9 / seconds * 100.0;
    format!(
        "{:.1} requests per commit, {:.1} µs per request running, busy {:.0}% running + {:.0}% committing",
        requests / groups,
        (after.running_ns - before.running_ns) as f64 / 1e3 / requests.max(1.0),
        share(after.running_ns - before.running_ns),
        share(after.committing_ns - before.committing_ns)
    )
}

async fn human_instance(engine: Engine<SqliteStore>, id: String) -> Result<f64> {
    let t0 = Instant::now();
    let instance = engine.start(&id, Map::new()).await?;
    let task = HumanTaskId::ORIGINAL;
    let mut last = instance;
    for i in 1..=10 {
        let name = format!("u{i}");
        engine
            .user_task(&last.id, &name, "bench", UserTaskCommand::Claim { task })
            .await?;
        last = engine
            .user_task(
                &last.id,
                &name,
                "bench",
                UserTaskCommand::Complete {
                    task,
                    output: Map::new(),
                },
            )
            .await?;
    }
    anyhow::ensure!(
        last.status == InstanceStatus::Completed,
        "bench instance ended {:?}, not completed",
        last.status
    );
    Ok(t0.elapsed().as_secs_f64() * 1000.0)
}

pub async fn human(args: HumanArgs) -> Result<u8> {
    let durability = parse_durability(&args.common.durability)?;
    let mut runs = Vec::new();
    for run in 1..=args.common.runs {
        let dir = tempfile::tempdir()?;
        let engine = fresh_engine(&dir, durability).await?;
        let (id, _) = engine
            .deploy("bench-human.yaml", &seq10_human_definition())
            .await?;
        let meter = Meter::start();
        let before = engine.store().write_stats();
        let mut set = JoinSet::new();
        let (mut launched, mut latencies) = (0, Vec::with_capacity(args.instances));
        while latencies.len() < args.instances {
            while launched < args.instances && set.len() < args.in_flight {
                set.spawn(human_instance(engine.clone(), id.clone()));
                launched += 1;
            }
            if let Some(done) = set.join_next().await {
                latencies.push(done??);
            }
        }
        let r = meter.finish(args.instances, latencies);
        let after = engine.store().write_stats();
        errln!(
            "run {run}/{}: {:.0} task completions/s; writer: {}",
            args.common.runs,
            r.per_s() * 10.0,
            writer_summary(before, after, r.wall_s)
        );
        runs.push(r);
    }
    let s = summarize(&runs);
    outln!("workload          W2 seq10-human: start -> 10 user tasks (claim + complete each, as `bench`) -> end, {} instances, {} in flight", args.instances, args.in_flight);
    outln!("durable (sqlite)  {:>10.0} instances/s  {:>10.0} task completions/s  {:>10.0} commands/s  (synchronous={}, median of {})", s.per_s, s.per_s * 10.0, s.per_s * 21.0, args.common.durability, args.common.runs);
    outln!(
        "w2-durable-{} instances_per_s={:.0} completions_per_s={:.0} steps_per_s={:.0} {}",
        args.common.durability,
        s.per_s,
        s.per_s * 10.0,
        s.per_s * 21.0,
        fields(&s)
    );
    Ok(0)
}

// ---------------------------------------------------------------------------------------------
// W3 retained

#[derive(Args)]
pub struct RetainedArgs {
    #[command(flatten)]
    common: Common,
    /// W1 instances measured per run at each level.
    #[arg(long, default_value_t = 10_000)]
    instances: usize,
    /// W1 instances in flight.
    #[arg(long, default_value_t = 100)]
    in_flight: usize,
    /// Levels of retained instances (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1_000usize, 10_000, 100_000])]
    levels: Vec<usize>,
    /// Add the 10^6 level (its fill takes minutes per run).
    #[arg(long)]
    million: bool,
}

const WAITING: &str = "id: bench-waiting\ntasks:\n  - id: review\n    kind: user\n    title: Review\n    owners: [bench]\n";

/// Starts `n` instances that stop at a user task (each leaves an instance and an inbox row).
async fn fill_waiting(engine: &Engine<SqliteStore>, n: usize) -> Result<f64> {
    let (id, _) = engine.deploy("bench-waiting.yaml", WAITING).await?;
    let t0 = Instant::now();
    let mut set = JoinSet::new();
    let (mut launched, mut done) = (0, 0);
    while done < n {
        while launched < n && set.len() < 256 {
            let (engine, id) = (engine.clone(), id.clone());
            set.spawn(async move { engine.start(&id, Map::new()).await });
            launched += 1;
        }
        if let Some(r) = set.join_next().await {
            let instance = r??;
            anyhow::ensure!(
                instance.status == InstanceStatus::Waiting,
                "a retained instance is {:?}, not waiting",
                instance.status
            );
            done += 1;
        }
    }
    Ok(t0.elapsed().as_secs_f64())
}

pub async fn retained(args: RetainedArgs) -> Result<u8> {
    let durability = parse_durability(&args.common.durability)?;
    let mut levels = args.levels.clone();
    if args.million && !levels.contains(&1_000_000) {
        levels.push(1_000_000);
    }
    outln!("workload          W3 retained: W1 seq10-auto ({} instances, {} in flight) on a store already holding N waiting instances (one open user task each), synchronous={}, median of {}", args.instances, args.in_flight, args.common.durability, args.common.runs);
    let mut base = None;
    for level in levels {
        let mut runs: Vec<Run> = Vec::new();
        let mut fills = Vec::new();
        for run in 1..=args.common.runs {
            let dir = tempfile::tempdir()?;
            let engine = fresh_engine(&dir, durability).await?;
            let fill = fill_waiting(&engine, level).await?;
            let (id, _) = engine.deploy("bench.yaml", &seq10_definition()).await?;
            let r = seq10_on(&engine, &id, args.instances, args.in_flight).await?;
            errln!(
                "level {level} run {run}/{}: filled in {fill:.1}s, {:.0} instances/s",
                args.common.runs,
                r.per_s()
            );
            fills.push(level as f64 / fill);
            runs.push(r);
        }
        let s = summarize(&runs);
        let base = *base.get_or_insert(s.per_s);
        outln!(
            "retained {:>8}  {:>10.0} instances/s  {:>10.0} steps/s  ratio to first level {:.3}  (filled at {:.0} instances/s)",
            level,
            s.per_s,
            s.per_s * 12.0,
            s.per_s / base,
            median(fills)
        );
        outln!(
            "w3-retained-{level} instances_per_s={:.0} steps_per_s={:.0} ratio={:.3} {}",
            s.per_s,
            s.per_s * 12.0,
            s.per_s / base,
            fields(&s)
        );
    }
    Ok(0)
}

// ---------------------------------------------------------------------------------------------
// W4 timers

#[derive(Args)]
pub struct TimersArgs {
    #[command(flatten)]
    common: Common,
    /// Instances (timers) per run.
    #[arg(long, default_value_t = 10_000)]
    timers: usize,
    /// Instances started concurrently while filling.
    #[arg(long, default_value_t = 100)]
    in_flight: usize,
    /// The timer, in seconds after each instance's start (1 as W4 specifies; a delay longer than
    /// the filling makes every timer come due after the last start, without contention).
    #[arg(long, default_value_t = 1)]
    delay_s: u32,
    /// Instances started per second, spread evenly (timers then come due at this rate while
    /// the next instances start); 0 starts them as fast as the engine takes them.
    #[arg(long, default_value_t = 0)]
    rate: u32,
}

fn timer_definition(delay_s: u32) -> String {
    format!("id: bench-timer\ndata:\n  n: {{type: integer, default: 0}}\ntasks:\n  - id: tick\n    kind: set\n    earliest_start: +{delay_s}s\n    set: {{n: \"data.n + 1\"}}\n  - id: done\n    kind: end\n    after: [tick]\n")
}

pub async fn timers(args: TimersArgs) -> Result<u8> {
    let durability = parse_durability(&args.common.durability)?;
    let mut runs = Vec::new();
    let mut rates = Vec::new();
    let mut starts = Vec::new();
    for run in 1..=args.common.runs {
        let dir = tempfile::tempdir()?;
        let engine = fresh_engine(&dir, durability).await?;
        let (id, _) = engine
            .deploy("bench-timer.yaml", &timer_definition(args.delay_s))
            .await?;
        let (stop, worker) = spawn_worker(&engine);
        let meter = Meter::start();
        let t0 = Instant::now();
        let mut set = JoinSet::new();
        let (mut launched, mut ids) = (0, Vec::with_capacity(args.timers));
        let t0_tokio = tokio::time::Instant::now();
        // When the `n`th instance is to start (now when not paced).
        let scheduled = |n: usize| match args.rate {
            0 => t0_tokio,
            rate => t0_tokio + std::time::Duration::from_secs_f64(n as f64 / f64::from(rate)),
        };
        while ids.len() < args.timers {
            while launched < args.timers
                && set.len() < args.in_flight
                && scheduled(launched) <= tokio::time::Instant::now()
            {
                let (engine, id) = (engine.clone(), id.clone());
                set.spawn(async move { engine.start(&id, Map::new()).await });
                launched += 1;
            }
            let more_to_launch = launched < args.timers && set.len() < args.in_flight;
            tokio::select! {
                Some(r) = set.join_next(), if !set.is_empty() => ids.push(r??.id.clone()),
                () = tokio::time::sleep_until(scheduled(launched)), if more_to_launch => {}
            }
        }
        let start_rate = args.timers as f64 / t0.elapsed().as_secs_f64();
        // Every timer has fired once none is left in the store.
        while engine.store().next_timer_due().await?.is_some() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let _ = stop.send(());
        worker.await??;
        let mut lateness = Vec::with_capacity(ids.len());
        let (mut first_due, mut last_fired) = (None, None);
        for id in &ids {
            let instance = engine.instance(id).await?;
            anyhow::ensure!(
                instance.status == InstanceStatus::Completed,
                "timer instance {id} is {:?}",
                instance.status
            );
            let due = instance.created_at + chrono::Duration::seconds(i64::from(args.delay_s));
            let fired = instance.ended_at.unwrap_or(instance.updated_at);
            lateness.push((fired - due).num_microseconds().unwrap_or(0) as f64 / 1000.0);
            first_due = Some(first_due.map_or(due, |d: chrono::DateTime<chrono::Utc>| d.min(due)));
            last_fired =
                Some(last_fired.map_or(fired, |d: chrono::DateTime<chrono::Utc>| d.max(fired)));
        }
        let span = (last_fired.unwrap_or_default() - first_due.unwrap_or_default())
            .num_microseconds()
            .unwrap_or(1)
            .max(1) as f64
            / 1e6;
        // Latency here is the firing lateness (fire time minus due time), not start to completion.
        let r = meter.finish(args.timers, lateness);
        errln!("run {run}/{}: lateness p50 {:.1} ms p99 {:.1} ms, {:.0} timers/s over {span:.2}s, started at {start_rate:.0}/s", args.common.runs, r.p50_ms, r.p99_ms, args.timers as f64 / span);
        rates.push(args.timers as f64 / span);
        starts.push(start_rate);
        runs.push(r);
    }
    let s = summarize(&runs);
    let rate = median(rates);
    outln!("workload          W4 timers: {} instances, each a set task with earliest_start +{}s, started {} in flight while `run_worker` fires them (synchronous={}, median of {})", args.timers, args.delay_s, args.in_flight, args.common.durability, args.common.runs);
    outln!("lateness          p50 {:.1} ms  p99 {:.1} ms  (fire time minus due time, from each instance's created_at + {}s and ended_at)", s.p50_ms, s.p99_ms, args.delay_s);
    outln!("timers            {:>10.0} timers/s  (timers / (last fired - first due)); instances started at {:.0}/s", rate, median(starts));
    outln!("w4-timers-{}-delay-{}s timers_per_s={:.0} lateness_p50_ms={:.1} lateness_p99_ms={:.1} cpu_s_per_instance={:.6} peak_rss_mib={:.1}", args.timers, args.delay_s, rate, s.p50_ms, s.p99_ms, s.cpu_per_instance, s.peak_rss_mib);
    Ok(0)
}
