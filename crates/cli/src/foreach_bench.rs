//! `baton bench foreach`: one instance whose ForEach task runs an empty body (`end`, or a `set`
//! of one value) over N items, through the engine, its worker and a fresh SQLite database per
//! run. Reports iterations per second (start to the instance's completion), the database's
//! growth per iteration (its file after a checkpoint that empties the write-ahead log), the
//! bytes Baton's process wrote per iteration (write-ahead log, checkpoints and all: `wchar` in
//! `/proc/self/io`) and peak RSS, each the median of the runs.
//!
//! The items are the numbers `0..N`, in the process data: the list is the data a ForEach reads,
//! so the engine runs with data limits large enough for it (and the item limit at least N).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use serde_json::{json, Map, Value};

use baton_core::{DataLimits, InstanceStatus};
use baton_engine::{Engine, EngineOptions, SystemClock};
use baton_store::InstanceReader;
use baton_store_sqlite::SqliteStore;

use crate::bench::parse_durability;
use crate::bench_measure::{median, peak_rss_mib, reset_peak_rss};

#[derive(Args)]
pub struct ForEachArgs {
    #[command(flatten)]
    common: crate::bench_workloads::Common,
    /// Items of the list, one iteration each.
    #[arg(long, default_value_t = 10_000)]
    items: usize,
    /// Iterations running at once (the ForEach's `parallel`).
    #[arg(long, default_value_t = 10_000)]
    parallel: usize,
    /// The body: `end` (a single end task) or `set` (one set task writing `index`).
    #[arg(long, default_value = "end")]
    body: String,
}

fn definition(parallel: usize, body: &str) -> Result<String> {
    let task = match body {
        "end" => "      - id: work\n        kind: end\n",
        "set" => "      - id: work\n        kind: set\n        set: {n: \"index\"}\n",
        other => anyhow::bail!("unknown body `{other}`; use end or set"),
    };
    Ok(format!(
        "id: bench-foreach\ndata:\n  items: list\n  n: {{type: integer, default: 0}}\ntasks:\n  - id: each\n    kind: foreach\n    items: data.items\n    parallel: {parallel}\n    tasks:\n{task}  - id: done\n    kind: end\n    after: [each]\n"
    ))
}

/// Bytes this process has written so far (all `write` calls), or 0 where `/proc` is missing.
fn bytes_written() -> u64 {
    let Ok(io) = std::fs::read_to_string("/proc/self/io") else {
        return 0;
    };
    io.lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The database's size: its file once the write-ahead log is checkpointed into it.
fn database_bytes(store: &SqliteStore) -> Result<u64> {
    store.checkpoint()?;
    Ok(std::fs::metadata(store.path())?.len())
}

/// One run's figures.
struct Run {
    per_s: f64,
    stored_per_item: f64,
    written_per_item: f64,
    peak_rss_mib: f64,
}

async fn one_run(
    args: &ForEachArgs,
    source: &str,
    data: &Map<String, Value>,
    options: EngineOptions,
) -> Result<Run> {
    let durability = parse_durability(&args.common.durability)?;
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("bench.db"), durability)?;
    let engine = Engine::new(store, Arc::new(SystemClock), options);
    engine.deploy("bench-foreach.yaml", source).await?;
    let (stop, mut worker) = crate::bench_workloads::spawn_worker(&engine);
    let before = database_bytes(engine.store())?;
    reset_peak_rss();
    let (written_before, t0) = (bytes_written(), Instant::now());
    let started = engine.start("bench-foreach", data.clone()).await?;
    // The iterations end in the commits that start them, so the instance has ended once no
    // instance is open: a cheap count, where reading the instance would decode its whole list.
    while engine.store().open_counts().await?.total() > 0 {
        tokio::select! {
            () = engine.wait_for_change(Duration::from_millis(50)) => {}
            ended = &mut worker => anyhow::bail!("the worker stopped: {:?}", ended?),
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    let instance = engine.instance(&started.id).await?;
    anyhow::ensure!(
        instance.status == InstanceStatus::Completed,
        "the ForEach instance ended {}",
        instance.status
    );
    let _ = stop.send(());
    worker.await??;
    let stored = database_bytes(engine.store())?.saturating_sub(before);
    let written = bytes_written() - written_before;
    let n = args.items as f64;
    Ok(Run {
        per_s: n / seconds,
        stored_per_item: stored as f64 / n,
        written_per_item: written as f64 / n,
        peak_rss_mib: peak_rss_mib(),
    })
}

pub async fn run(args: ForEachArgs) -> Result<u8> {
    anyhow::ensure!(args.items > 0, "--items must be at least 1");
    let source = definition(args.parallel, &args.body)?;
    let data = json!({"items": (0..args.items).collect::<Vec<_>>()})
        .as_object()
        .cloned()
        .unwrap_or_default();
    // Room for the list in the start data (and for what the parent's state holds besides it).
    let list_bytes = serde_json::to_string(&data)?.len();
    let max_bytes =
        (list_bytes * 2).clamp(DataLimits::DEFAULT_MAX_BYTES, DataLimits::MAX_BYTES_CEILING);
    let options = EngineOptions {
        limits: DataLimits::new(DataLimits::DEFAULT_MAX_DEPTH, max_bytes)
            .map_err(anyhow::Error::msg)?,
        max_foreach_items: args
            .items
            .max(baton_core::limits::DEFAULT_MAX_FOREACH_ITEMS),
        ..EngineOptions::default()
    };
    let mut runs = Vec::new();
    for run in 1..=args.common.runs {
        let r = one_run(&args, &source, &data, options.clone()).await?;
        errln!(
            "run {run}/{}: {:.0} iterations/s, {:.0} bytes stored and {:.0} written per iteration",
            args.common.runs,
            r.per_s,
            r.stored_per_item,
            r.written_per_item
        );
        runs.push(r);
    }
    let m = |f: &dyn Fn(&Run) -> f64| median(runs.iter().map(f).collect());
    let (per_s, stored, written, rss) = (
        m(&|r| r.per_s),
        m(&|r| r.stored_per_item),
        m(&|r| r.written_per_item),
        m(&|r| r.peak_rss_mib),
    );
    outln!(
        "workload          foreach: one instance, a ForEach over {} items (body `{}`, parallel {}), synchronous={}, median of {}",
        args.items,
        args.body,
        args.parallel,
        args.common.durability,
        args.common.runs
    );
    outln!("durable (sqlite)  {per_s:>10.0} iterations/s  {stored:>8.0} bytes of database per iteration  {written:>8.0} bytes written per iteration  peak RSS {rss:.0} MiB");
    outln!("foreach-{}-{} iterations_per_s={per_s:.0} db_bytes_per_iteration={stored:.0} written_bytes_per_iteration={written:.0} peak_rss_mib={rss:.1}", args.items, args.body);
    Ok(0)
}
