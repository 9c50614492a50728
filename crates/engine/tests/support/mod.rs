//! What the engine's integration tests share: a worker running in the background.

use std::time::Duration;

use baton_engine::{Engine, EngineError, WorkerOptions};
use baton_store_sqlite::SqliteStore;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A worker running in the background until stopped.
pub struct Worker {
    stop: oneshot::Sender<()>,
    handle: JoinHandle<Result<(), EngineError>>,
}

/// Starts `run_worker` on `engine` with a short poll interval.
///
/// Its leases last thirty days: tests move a manual clock hours ahead, and a lease of the
/// default five minutes would then expire under a running job, so the takeover sweep would
/// re-run it as a new attempt. The lease tests start their own workers.
pub fn start_worker(engine: &Engine<SqliteStore>) -> Worker {
    let (stop, stopped) = oneshot::channel::<()>();
    let engine = engine.clone();
    let options = WorkerOptions {
        concurrency: 4,
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_secs(30 * 24 * 3600),
        ..WorkerOptions::default()
    };
    let handle = tokio::spawn(async move {
        engine
            .run_worker(options, async {
                let _ = stopped.await;
            })
            .await
    });
    Worker { stop, handle }
}

impl Worker {
    /// Stops the worker; it returns once its running jobs are done.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.handle
            .await
            .expect("the worker task")
            .expect("the worker ends cleanly");
    }
}
