//! `baton bench http`: the API under load, on loopback only. A `baton serve` app runs in this
//! process on a fresh database (`127.0.0.1`, a free port) and clients of the API, the same
//! client `baton --server` uses, drive it over real TCP connections:
//!
//! - **W2 over HTTP**: `--clients` concurrent clients for `--seconds`, each starting a
//!   `bench-seq10-human` instance and claiming and completing its 10 user tasks, one request
//!   each; then the same workload through the engine API in-process, on a fresh database, for
//!   the same time and concurrency: the ratio of the two is what HTTP costs.
//! - **External workers**: `--jobs` instances of a one-job process whose job has a topic are
//!   started in-process first (not timed); then `--workers` workers long-poll
//!   `fetch-and-lock` (`--batch` jobs at a time) and complete each job.
//!
//! It prints requests/s and p50/p99 latency per operation, task completions/s, external jobs/s.
//! Everything is bounded by `--seconds` (W2) and `--jobs` (external).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use serde_json::Map;
use tokio::task::JoinSet;

use baton_api_model::requests::{CompleteJob, FetchAndLock, HumanTaskOperation, Start};
use baton_client::Client;
use baton_core::user_task::{HumanTaskId, UserTaskCommand};
use baton_engine::{Engine, EngineOptions, SystemClock};
use baton_server::AppState;
use baton_service::Service;
use baton_store::NewUser;
use baton_store_any::AnyStore;
use baton_store_sqlite::{Durability, SqliteStore};

use crate::bench_measure::percentile;
use crate::bench_workloads::seq10_human_definition;

#[derive(Args)]
pub struct HttpArgs {
    /// Concurrent W2 clients.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// How long each W2 phase runs (over HTTP, then in-process).
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// External jobs queued for the workers.
    #[arg(long, default_value_t = 20_000)]
    jobs: usize,
    /// Long-polling external workers.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Jobs one fetch locks.
    #[arg(long, default_value_t = 32)]
    batch: usize,
}

const EXTERNAL: &str =
    "id: bench-external\ntasks:\n  - id: work\n    kind: job\n    topic: bench\n";

/// Latencies of one operation, in milliseconds.
#[derive(Default)]
struct Samples(Vec<f64>);

impl Samples {
    fn time<T>(&mut self, began: Instant, value: T) -> T {
        self.0.push(began.elapsed().as_secs_f64() * 1000.0);
        value
    }

    fn line(&mut self, name: &str, seconds: f64) -> String {
        let n = self.0.len();
        let (p50, p99) = (percentile(&mut self.0, 0.50), percentile(&mut self.0, 0.99));
        format!(
            "{name:<16} {n:>9} requests {:>9.0} req/s   p50 {p50:>7.2} ms   p99 {p99:>7.2} ms",
            n as f64 / seconds
        )
    }
}

/// What one client's loop measured.
#[derive(Default)]
struct Measured {
    start: Samples,
    claim: Samples,
    complete: Samples,
    completions: usize,
}

impl Measured {
    fn absorb(&mut self, other: Measured) {
        self.start.0.extend(other.start.0);
        self.claim.0.extend(other.claim.0);
        self.complete.0.extend(other.complete.0);
        self.completions += other.completions;
    }
}

/// A server on a fresh database, in this process, and a token of the administrator `bench`.
struct Server {
    _dir: tempfile::TempDir,
    engine: Engine<AnyStore>,
    url: String,
    token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    async fn start() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let store = SqliteStore::open(dir.path().join("bench.db"), Durability::Full)?;
        let engine = Engine::new(
            AnyStore::from(store),
            Arc::new(SystemClock),
            EngineOptions::default(),
        );
        let local = Service::local(engine.clone());
        local
            .add_user("operator", NewUser::named("bench").admin())
            .await?;
        let token = local
            .create_token("operator", "bench", Some("bench"), None)
            .await?
            .secret;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = AppState::new(Service::new(engine.clone()));
        tokio::spawn(baton_server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        Ok(Self {
            _dir: dir,
            engine,
            url,
            token,
            stop: Some(stop),
        })
    }

    fn client(&self) -> Result<Client> {
        Ok(Client::new(&self.url, &self.token)?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One W2 instance over HTTP: start, then claim and complete each of its 10 user tasks.
async fn w2_over_http(client: &Client, m: &mut Measured) -> Result<()> {
    let start = Start {
        process: "bench-seq10-human".into(),
        data: Map::new(),
        idempotency_key: None,
    };
    let began = Instant::now();
    let instance = m.start.time(began, client.start(&start).await)?;
    for i in 1..=10 {
        let task = format!("u{i}");
        let began = Instant::now();
        m.claim.time(
            began,
            client
                .human_task(&instance.id, &task, None, &HumanTaskOperation::Claim)
                .await,
        )?;
        let began = Instant::now();
        m.complete.time(
            began,
            client
                .human_task(
                    &instance.id,
                    &task,
                    None,
                    &HumanTaskOperation::Complete { output: Map::new() },
                )
                .await,
        )?;
        m.completions += 1;
    }
    Ok(())
}

/// One W2 instance through the engine API, in this process.
async fn w2_in_process(engine: &Engine<AnyStore>) -> Result<()> {
    let instance = engine.start("bench-seq10-human", Map::new()).await?;
    let task = HumanTaskId::ORIGINAL;
    for i in 1..=10 {
        let name = format!("u{i}");
        engine
            .user_task(
                &instance.id,
                &name,
                "bench",
                UserTaskCommand::Claim { task },
            )
            .await?;
        engine
            .user_task(
                &instance.id,
                &name,
                "bench",
                UserTaskCommand::Complete {
                    task,
                    output: Map::new(),
                },
            )
            .await?;
    }
    Ok(())
}

pub async fn run(args: HttpArgs) -> Result<u8> {
    anyhow::ensure!(
        args.clients >= 1 && args.workers >= 1 && args.batch >= 1 && args.seconds >= 1,
        "--clients, --workers, --batch and --seconds are at least 1"
    );
    let duration = Duration::from_secs(args.seconds);

    // W2 over HTTP.
    let server = Server::start().await?;
    server
        .engine
        .deploy("bench-human.yaml", &seq10_human_definition())
        .await?;
    let deadline = Instant::now() + duration;
    let began = Instant::now();
    let mut clients = JoinSet::new();
    for _ in 0..args.clients {
        let client = server.client()?;
        clients.spawn(async move {
            let mut m = Measured::default();
            while Instant::now() < deadline {
                w2_over_http(&client, &mut m).await?;
            }
            anyhow::Ok(m)
        });
    }
    let mut http = Measured::default();
    while let Some(done) = clients.join_next().await {
        http.absorb(done.context("a client task")??);
    }
    let http_s = began.elapsed().as_secs_f64();
    drop(server);

    // The same in-process, for the ratio.
    let baseline = Server::start().await?;
    baseline
        .engine
        .deploy("bench-human.yaml", &seq10_human_definition())
        .await?;
    let deadline = Instant::now() + duration;
    let began = Instant::now();
    let mut loops = JoinSet::new();
    for _ in 0..args.clients {
        let engine = baseline.engine.clone();
        loops.spawn(async move {
            let mut completions = 0usize;
            while Instant::now() < deadline {
                w2_in_process(&engine).await?;
                completions += 10;
            }
            anyhow::Ok(completions)
        });
    }
    let mut in_process = 0;
    while let Some(done) = loops.join_next().await {
        in_process += done.context("an in-process loop")??;
    }
    let in_process_s = began.elapsed().as_secs_f64();
    drop(baseline);

    // External workers.
    let server = Server::start().await?;
    server
        .engine
        .deploy("bench-external.yaml", EXTERNAL)
        .await?;
    let mut starts = JoinSet::new();
    for chunk in 0..args.jobs.div_ceil(1000) {
        let engine = server.engine.clone();
        let n = 1000.min(args.jobs - chunk * 1000);
        starts.spawn(async move {
            for _ in 0..n {
                engine.start("bench-external", Map::new()).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = starts.join_next().await {
        done??;
    }
    let began = Instant::now();
    let mut workers = JoinSet::new();
    let remaining = Arc::new(std::sync::atomic::AtomicUsize::new(args.jobs));
    for w in 0..args.workers {
        let client = server.client()?;
        let (remaining, batch) = (remaining.clone(), args.batch);
        workers.spawn(async move {
            let (mut fetch, mut complete) = (Samples::default(), Samples::default());
            let worker_id = format!("bench-{w}");
            while remaining.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                let request = FetchAndLock {
                    worker_id: worker_id.clone(),
                    topics: vec!["bench".into()],
                    max_jobs: batch,
                    lock_duration_ms: 60_000,
                    timeout_ms: 100,
                };
                let t = Instant::now();
                let jobs = fetch.time(t, client.fetch_and_lock(&request).await)?;
                for job in jobs {
                    let t = Instant::now();
                    let done = CompleteJob {
                        worker_id: worker_id.clone(),
                        data: None,
                    };
                    complete.time(
                        t,
                        client
                            .complete_job(&job.instance, &job.task, job.attempt, &done)
                            .await,
                    )?;
                    remaining.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
            anyhow::Ok((fetch, complete))
        });
    }
    let (mut fetch, mut complete) = (Samples::default(), Samples::default());
    while let Some(done) = workers.join_next().await {
        let (f, c) = done.context("a worker task")??;
        fetch.0.extend(f.0);
        complete.0.extend(c.0);
    }
    let external_s = began.elapsed().as_secs_f64();
    let completed = complete.0.len();
    drop(server);

    let http_rate = http.completions as f64 / http_s;
    let in_process_rate = in_process as f64 / in_process_s;
    outln!("workload          W2 seq10-human over HTTP: {} clients for {} s, loopback, synchronous=full", args.clients, args.seconds);
    outln!("{}", http.start.line("start", http_s));
    outln!("{}", http.claim.line("claim", http_s));
    outln!("{}", http.complete.line("complete", http_s));
    outln!("task completions  {http_rate:>10.0}/s over HTTP   {in_process_rate:>10.0}/s in-process (same clients, same time)   HTTP/in-process {:.2}", http_rate / in_process_rate);
    outln!(
        "workload          external workers: {} workers fetching {} jobs at a time, {} jobs",
        args.workers,
        args.batch,
        args.jobs
    );
    outln!("{}", fetch.line("fetch-and-lock", external_s));
    outln!("{}", complete.line("complete", external_s));
    outln!(
        "external jobs     {:>10.0}/s",
        completed as f64 / external_s
    );
    outln!(
        "http completions_per_s={http_rate:.0} in_process_completions_per_s={in_process_rate:.0} ratio={:.3} external_jobs_per_s={:.0}",
        http_rate / in_process_rate,
        completed as f64 / external_s
    );
    Ok(0)
}
