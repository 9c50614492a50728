//! `baton serve`: the HTTP/JSON API and the job worker and timers, on one engine in one
//! process, with the graceful shutdown of `baton worker`.

use std::net::SocketAddr;

use baton_engine::WorkerOptions;
use baton_server::AppState;

use crate::database::{open_for_server, Database};
use crate::exit::{self, CliError, Result};
use crate::worker::{signalled, JobRunner};

/// How often idle sessions are looked for, at most.
const SESSION_SWEEP: std::time::Duration = std::time::Duration::from_secs(30);

pub async fn serve(db: &Database, node: String, listen: SocketAddr, options: WorkerOptions, sessions: baton_service::SessionOptions) -> Result<u8> {
    if let Some(problem) = sessions.problem() {
        return Err(CliError::Input(problem));
    }
    let service = open_for_server(db, Some(node), sessions).await?;
    // Sessions this server (or the one before it) left open when it stopped or crashed are
    // logged out before anything is served. Not on PostgreSQL: the sessions recorded there may
    // be those of other nodes, alive.
    if matches!(db, Database::File(_)) {
        let recovered = service.recover_sessions().await?;
        if recovered > 0 {
            errln!("baton: logged out {recovered} session(s) left open when the server last stopped");
        }
    }
    // The server runs the jobs too, so it takes the lock a worker takes.
    let runner = JobRunner::start(db, &service, options.grace).await?;
    let signals = runner.signals.clone();
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(CliError::io(format!("listening on {listen}")))?;
    let address = listener.local_addr().map_err(CliError::io("reading the address listened on"))?;
    errln!("baton: serving the API on http://{address} (reference: http://{address}/docs)");
    tracing::info!(%address, "serving the API");
    let server = baton_server::serve(listener, AppState::new(service.clone()), signalled(signals.clone()));
    let sweep_every = (sessions.idle_timeout / 4).clamp(std::time::Duration::from_secs(1), SESSION_SWEEP);
    let sweeper = service.run_session_sweeper(sweep_every, signalled(signals.clone()));
    let worker = service.engine().run_worker(options, signalled(signals));
    let (served, worked, ()) = tokio::join!(server, worker, sweeper);
    served.map_err(CliError::io("serving the API"))?;
    worked?;
    Ok(exit::DONE)
}
