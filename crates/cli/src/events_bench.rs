//! `baton bench events`: `--instances` instances (10^6 is the figure asked for) each waiting
//! in a `wait` task for an event keyed by its own id, on a fresh SQLite database per run
//! (`synchronous=FULL` unless told otherwise). Then events are published through the engine,
//! each matching one waiting instance by its key (an indexed lookup among all the waiting
//! ones):
//!
//! - at a fixed rate (`--rate`, 1,000 events/s): the time from a publication to the commit of
//!   the step that resumed its instance (the publication returns once that step is durable),
//!   p50 and p99;
//! - at saturation (`--in-flight` publishers at once): events/s;
//! - the baseline, in the same run: the same resumption given to the instance directly, by id
//!   (`EventReceived` applied without a publication: no id recorded, no lookup, no settling),
//!   at saturation. The ratio is what correlation costs over the step itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use serde_json::{json, Map, Value};
use tokio::task::JoinSet;

use baton_core::correlation::ReceivedEvent;
use baton_core::{Command, InstanceStatus};
use baton_engine::correlation::Publication;
use baton_engine::Engine;
use baton_store_sqlite::SqliteStore;

use crate::bench::{median, parse_durability};
use crate::bench_measure::percentile;
use crate::bench_workloads::{fresh_engine, Common};

#[derive(Args)]
pub struct EventsArgs {
    #[command(flatten)]
    common: Common,
    /// Instances waiting for their event, per run.
    #[arg(long, default_value_t = 1_000_000)]
    instances: usize,
    /// Events published at the fixed rate, per run.
    #[arg(long, default_value_t = 3_000)]
    events: usize,
    /// The fixed rate, events per second.
    #[arg(long, default_value_t = 1_000)]
    rate: u32,
    /// Events published at saturation (and resumptions given directly, for the baseline).
    #[arg(long, default_value_t = 10_000)]
    saturation: usize,
    /// Publishers at once at saturation.
    #[arg(long, default_value_t = 64)]
    in_flight: usize,
}

const DEFINITION: &str = "id: bench-wait
data:
  k: string
  amount: integer
tasks:
  - id: w
    kind: wait
    event: bench-event
    key: data.k
    output: {amount: event.amount}
  - {id: done, kind: end, after: [w]}
";

/// One run's figures.
struct Run {
    fill_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    achieved_rate: f64,
    publish_per_s: f64,
    direct_per_s: f64,
}

/// Starts `n` waiting instances, `in_flight` at a time; returns their ids, by key number.
async fn fill(engine: &Engine<SqliteStore>, n: usize) -> Result<Vec<String>> {
    let mut ids = vec![String::new(); n];
    let mut running = JoinSet::new();
    let mut next = 0;
    while next < n || !running.is_empty() {
        while next < n && running.len() < 256 {
            let engine = engine.clone();
            let i = next;
            running.spawn(async move {
                let data = Map::from_iter([("k".to_owned(), Value::from(format!("k{i}")))]);
                engine
                    .start("bench-wait", data)
                    .await
                    .map(|s| (i, s.id.clone(), s.status))
            });
            next += 1;
        }
        if let Some(done) = running.join_next().await {
            let (i, id, status) = done??;
            anyhow::ensure!(
                status == InstanceStatus::Waiting,
                "instance {id} is {status}, not waiting"
            );
            ids[i] = id;
        }
        if next % 100_000 == 0 && next > 0 && running.len() == 256 {
            errln!("  {next} of {n} instances waiting");
        }
    }
    Ok(ids)
}

fn publication(k: usize) -> Publication {
    Publication {
        name: "bench-event".into(),
        key: Some(format!("k{k}")),
        data: Map::from_iter([("amount".to_owned(), json!(k))]),
        id: None,
        ttl: Some(Duration::ZERO),
    }
}

async fn publish_one(engine: Engine<SqliteStore>, k: usize) -> Result<Duration> {
    let began = Instant::now();
    let published = engine.publish(publication(k)).await?;
    anyhow::ensure!(
        published.resumed.len() == 1,
        "event k{k} resumed {} instances",
        published.resumed.len()
    );
    Ok(began.elapsed())
}

/// Runs `work(k)` for each key of `keys`, `in_flight` at a time; returns the rate per second.
async fn saturate<F, Fut>(keys: std::ops::Range<usize>, in_flight: usize, work: F) -> Result<f64>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let count = keys.len();
    let began = Instant::now();
    let mut running = JoinSet::new();
    for k in keys {
        if running.len() >= in_flight {
            if let Some(done) = running.join_next().await {
                done??;
            }
        }
        running.spawn(work(k));
    }
    while let Some(done) = running.join_next().await {
        done??;
    }
    Ok(count as f64 / began.elapsed().as_secs_f64())
}

async fn one_run(args: &EventsArgs) -> Result<Run> {
    let dir = tempfile::tempdir()?;
    let engine = fresh_engine(&dir, parse_durability(&args.common.durability)?).await?;
    engine.deploy("bench-wait.yaml", DEFINITION).await?;
    let began = Instant::now();
    let ids = fill(&engine, args.instances).await?;
    let fill_per_s = args.instances as f64 / began.elapsed().as_secs_f64();

    // Fixed rate: event i is published at i / rate seconds, to instance i.
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let mut running = JoinSet::new();
    let start = tokio::time::Instant::now();
    for k in 0..args.events {
        tokio::time::sleep_until(start + interval * k as u32).await;
        running.spawn(publish_one(engine.clone(), k));
    }
    let mut latencies = Vec::with_capacity(args.events);
    while let Some(done) = running.join_next().await {
        latencies.push(done??.as_secs_f64() * 1000.0);
    }
    let achieved_rate = args.events as f64 / start.elapsed().as_secs_f64();

    // Saturation: publications, then direct resumptions of as many other instances.
    let from = args.events;
    let to = from + args.saturation;
    let e = engine.clone();
    let publish_per_s = saturate(from..to, args.in_flight, move |k| {
        let e = e.clone();
        async move { publish_one(e, k).await.map(|_| ()) }
    })
    .await?;
    let ids = Arc::new(ids);
    let e = engine.clone();
    let direct_per_s = saturate(to..to + args.saturation, args.in_flight, move |k| {
        let (e, ids) = (e.clone(), ids.clone());
        async move {
            let event = ReceivedEvent {
                id: format!("direct-{k}"),
                name: "bench-event".into(),
                key: Some(format!("k{k}")),
                data: Map::from_iter([("amount".to_owned(), json!(k))]),
            };
            e.apply(&ids[k], Command::EventReceived { event }).await?;
            Ok(())
        }
    })
    .await?;
    let p50_ms = percentile(&mut latencies, 0.50);
    let p99_ms = percentile(&mut latencies, 0.99);
    Ok(Run {
        fill_per_s,
        p50_ms,
        p99_ms,
        achieved_rate,
        publish_per_s,
        direct_per_s,
    })
}

pub async fn run(args: EventsArgs) -> Result<u8> {
    let needed = args.events + 2 * args.saturation;
    anyhow::ensure!(args.instances >= needed, "--instances must be at least --events + 2 × --saturation ({needed}): every event resumes an instance of its own");
    anyhow::ensure!(args.runs_ok(), "--runs and --in-flight must be at least 1");
    let mut runs = Vec::new();
    for run in 1..=args.common.runs {
        let r = one_run(&args).await?;
        errln!(
            "run {run}/{}: filled {:.0} instances/s; at {:.0} events/s p50 {:.2} ms p99 {:.2} ms; saturated {:.0} events/s, direct {:.0} resumptions/s",
            args.common.runs, r.fill_per_s, r.achieved_rate, r.p50_ms, r.p99_ms, r.publish_per_s, r.direct_per_s
        );
        runs.push(r);
    }
    let m = |f: &dyn Fn(&Run) -> f64| median(runs.iter().map(f).collect());
    let (p50, p99, rate, publish, direct) = (
        m(&|r| r.p50_ms),
        m(&|r| r.p99_ms),
        m(&|r| r.achieved_rate),
        m(&|r| r.publish_per_s),
        m(&|r| r.direct_per_s),
    );
    let ratio = m(&|r| r.publish_per_s / r.direct_per_s);
    outln!(
        "workload          events: {} instances waiting on keyed events, {} events at {}/s, {} at saturation ({} in flight), synchronous={}, median of {}",
        args.instances, args.events, args.rate, args.saturation, args.in_flight, args.common.durability, args.common.runs
    );
    outln!("fixed rate        {rate:>8.0} events/s achieved  publish -> resumed step committed p50 {p50:.2} ms  p99 {p99:.2} ms");
    outln!("saturation        {publish:>8.0} events/s published  {direct:>8.0} resumptions/s given directly (baseline)  ratio {ratio:.2}");
    outln!("events-{} p50_ms={p50:.2} p99_ms={p99:.2} events_per_s={publish:.0} direct_per_s={direct:.0} ratio={ratio:.2}", args.instances);
    Ok(0)
}

impl EventsArgs {
    fn runs_ok(&self) -> bool {
        self.common.runs >= 1 && self.in_flight >= 1
    }
}
