//! `baton serve`: the HTTP/JSON API and the job worker and timers, on one engine in one
//! process, with the graceful shutdown of `baton worker`.

use std::net::SocketAddr;
use std::path::Path;

use baton_engine::WorkerOptions;
use baton_server::AppState;

use crate::database::open_for_server;
use crate::exit::{self, CliError, Result};
use crate::worker::{signalled, JobRunner};

pub async fn serve(db: &Path, listen: SocketAddr, options: WorkerOptions) -> Result<u8> {
    let service = open_for_server(db)?;
    // The server runs the jobs too, so it takes the lock a worker takes.
    let runner = JobRunner::start(db, &service, options.grace).await?;
    let signals = runner.signals.clone();
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(CliError::io(format!("listening on {listen}")))?;
    let address = listener.local_addr().map_err(CliError::io("reading the address listened on"))?;
    errln!("baton: serving the API on http://{address} (reference: http://{address}/docs)");
    tracing::info!(%address, "serving the API");
    let server = baton_server::serve(listener, AppState::new(service.clone()), signalled(signals.clone()));
    let worker = service.engine().run_worker(options, signalled(signals));
    let (served, worked) = tokio::join!(server, worker);
    served.map_err(CliError::io("serving the API"))?;
    worked?;
    Ok(exit::DONE)
}
