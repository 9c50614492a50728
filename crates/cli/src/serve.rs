//! `baton serve`: the HTTP/JSON API and the job worker and timers, on one engine in one
//! process, with the graceful shutdown of `baton worker`.

use std::net::SocketAddr;
use std::path::Path;

use baton_engine::WorkerOptions;
use baton_server::AppState;

use crate::database::{engine_lock, open_for_server};
use crate::exit::{self, CliError, Result};
use crate::worker::{shutdown_signals, signalled};

pub async fn serve(db: &Path, listen: SocketAddr, options: WorkerOptions) -> Result<u8> {
    let service = open_for_server(db)?;
    // The server runs the jobs too, so it takes the lock a worker takes.
    let Some(_lock) = engine_lock(db).await? else {
        return Err(CliError::JobsLocked(db.display().to_string()));
    };
    let signals = shutdown_signals(&service, options.grace)?;
    let rerun = service.engine().recover().await?;
    if rerun > 0 {
        errln!("baton: re-running {rerun} job(s) left by a process that stopped");
    }
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(CliError::io(format!("listening on {listen}")))?;
    let address = listener.local_addr().map_err(CliError::io("reading the address listened on"))?;
    errln!("baton: serving the API on http://{address} (reference: http://{address}/docs)");
    let server = baton_server::serve(listener, AppState::new(service.clone()), signalled(signals.clone()));
    let worker = service.engine().run_worker(options, signalled(signals));
    let (served, worked) = tokio::join!(server, worker);
    served.map_err(CliError::io("serving the API"))?;
    worked?;
    Ok(exit::DONE)
}
