//! `baton bench inbox`: how long one inbox page takes with 100,000 open human tasks.
//!
//! The tasks are made the way users make them: instances of a one-`user`-task process started
//! through the engine (so the inbox rows are the ones the engine writes), on a fresh SQLite
//! database. 85% are offered to group `editors`, 5% to the reader directly, 10% to another
//! group; priorities spread over 0–9; the reader claims a few hundred. Then each kind of page
//! is read many times and the median and 95th percentile reported, with SQLite's query plan.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use serde_json::json;
use tokio::task::JoinSet;

use baton_core::user_task::{HumanTaskId, UserTaskCommand};
use baton_engine::{Engine, EngineOptions, SystemClock};
use baton_store::{IdentityStore, InboxFilter, InboxReader, InboxStatus, NewUser, Page};
use baton_store_sqlite::{Durability, SqliteStore};

#[derive(Args)]
pub struct InboxBenchArgs {
    /// Open human tasks to fill the inbox with.
    #[arg(long, default_value_t = 100_000)]
    tasks: usize,
    /// Tasks the reader claims (listed first in their inbox).
    #[arg(long, default_value_t = 300)]
    claimed: usize,
    /// Reads of each page; the median is reported.
    #[arg(long, default_value_t = 51)]
    runs: usize,
    /// Rows per page.
    #[arg(long, default_value_t = 20)]
    per_page: usize,
    /// Instances started concurrently while filling (they share commits).
    #[arg(long, default_value_t = 256)]
    in_flight: usize,
}

const DEFINITION: &str = "
id: bench-inbox
data:
  who: any
  p: integer
tasks:
  - id: review
    kind: user
    title: =\"Review \" + string(data.p)
    owners: =data.who
    priority: =data.p
    due: 2 days
";

/// A small deterministic generator, so every run fills the same inbox.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn percentile(mut xs: Vec<f64>, p: f64) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[((xs.len() - 1) as f64 * p).round() as usize]
}

pub async fn run(args: InboxBenchArgs) -> Result<u8> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("bench-inbox.db"), Durability::Full)?;
    let engine = Engine::new(store, Arc::new(SystemClock), EngineOptions::default());
    let now = chrono::Utc::now();
    for name in ["reader", "other"] {
        engine.store().add_user(NewUser::named(name), now).await?;
    }
    for group in ["editors", "legal"] {
        engine.store().add_group(group, now).await?;
    }
    engine.store().add_member("editors", "reader").await?;
    engine.store().add_member("legal", "other").await?;
    let (id, _) = engine.deploy("bench-inbox.yaml", DEFINITION).await?;

    errln!("filling the inbox with {} open human tasks…", args.tasks);
    let started = Instant::now();
    let mut rng = Lcg(42);
    let mut set = JoinSet::new();
    let mut launched = 0;
    let mut instances = Vec::with_capacity(args.tasks);
    let mut direct = Vec::new();
    while instances.len() < args.tasks {
        while launched < args.tasks && set.len() < args.in_flight {
            let who = match rng.next() % 100 {
                0..85 => json!("group:editors"),
                85..90 => json!("reader"),
                _ => json!("group:legal"),
            };
            let data = json!({"who": who, "p": rng.next() % 10})
                .as_object()
                .cloned()
                .unwrap_or_default();
            let (engine, id) = (engine.clone(), id.clone());
            set.spawn(async move { engine.start(&id, data).await });
            launched += 1;
        }
        if let Some(done) = set.join_next().await {
            let instance = done??;
            if instance.data["who"] != json!("group:legal") {
                direct.push(instance.id.clone());
            }
            instances.push(instance.id.clone());
        }
    }
    let fill = started.elapsed().as_secs_f64();
    for instance in direct.iter().take(args.claimed) {
        engine
            .user_task(
                instance,
                "review",
                "reader",
                UserTaskCommand::Claim {
                    task: HumanTaskId::ORIGINAL,
                },
            )
            .await?;
    }
    let reader = engine.store().caller("reader").await?;
    let groups: Vec<String> = reader.groups.iter().cloned().collect();
    let visible = direct.len();
    outln!("workload   {} open human tasks ({visible} visible to `reader`, {} of them claimed by them), filled through the engine in {fill:.1}s ({:.0} tasks/s)", args.tasks, args.claimed.min(visible), args.tasks as f64 / fill);

    let page = |number| Page {
        number,
        per_page: args.per_page,
    };
    let cases: Vec<(&str, InboxFilter, Page)> = vec![
        ("first page", InboxFilter::default(), page(1)),
        (
            "page 50 (claimable, offset)",
            InboxFilter::default(),
            page(50),
        ),
        (
            "ready only",
            InboxFilter {
                status: Some(InboxStatus::Ready),
                ..InboxFilter::default()
            },
            page(1),
        ),
        (
            "min priority 9",
            InboxFilter {
                min_priority: Some(9),
                ..InboxFilter::default()
            },
            page(1),
        ),
        (
            "process filter",
            InboxFilter {
                process: Some("bench-inbox".into()),
                ..InboxFilter::default()
            },
            page(1),
        ),
        (
            "claimed only",
            InboxFilter {
                status: Some(InboxStatus::Claimed),
                ..InboxFilter::default()
            },
            page(1),
        ),
        // The worst case: a filter no task passes scans every task the reader may see.
        (
            "due within 1h (none: full scan)",
            InboxFilter {
                due_before: Some(now + chrono::Duration::hours(1)),
                ..InboxFilter::default()
            },
            page(1),
        ),
    ];
    outln!(
        "{:32}  {:>10}  {:>10}  {:>5}",
        "page",
        "median ms",
        "p95 ms",
        "rows"
    );
    for (name, filter, page) in &cases {
        let mut times = Vec::with_capacity(args.runs);
        let mut rows = 0;
        for _ in 0..args.runs {
            let t = Instant::now();
            let result = engine
                .store()
                .inbox(&reader.user, &groups, filter, *page)
                .await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            rows = result.rows.len();
        }
        outln!(
            "{name:32}  {:>10.3}  {:>10.3}  {rows:>5}",
            crate::bench::median(times.clone()),
            percentile(times, 0.95)
        );
    }
    outln!("plan of the claimable part (one index scan per name, merged; no sort):");
    for line in engine
        .store()
        .inbox_plan(&reader.user, &groups, &InboxFilter::default())?
    {
        outln!("  {line}");
    }
    Ok(0)
}
