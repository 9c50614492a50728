//! `baton serve`: the HTTP/JSON API and the job worker and timers, on one engine in one
//! process, with the graceful shutdown of `baton worker`.

use std::net::SocketAddr;

use baton_engine::WorkerOptions;
use baton_server::{AppState, SecureCookies};
use baton_store::Orphans;

use crate::database::{open_for_server, Database};
use crate::exit::{self, CliError, Result};
use crate::worker::{signalled, JobRunner};

/// How often idle sessions are looked for, at most.
const SESSION_SWEEP: std::time::Duration = std::time::Duration::from_secs(30);

/// The longest `--public-url`.
const MAX_PUBLIC_URL: usize = 2048;

/// `--public-url`: an `http://` or `https://` URL with a host. Only its scheme matters to
/// Baton (it decides the cookies' `Secure`).
pub fn public_url(text: &str) -> std::result::Result<String, String> {
    const EXAMPLE: &str = "e.g. https://baton.example.com";
    if text.len() > MAX_PUBLIC_URL {
        return Err(format!("at most {MAX_PUBLIC_URL} characters"));
    }
    let url = url::Url::parse(text)
        .map_err(|e| format!("{e}: an http:// or https:// address, {EXAMPLE}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "an http:// or https:// address with a host, {EXAMPLE}"
        ));
    }
    Ok(text.to_owned())
}

/// When the sign-in cookies are `Secure`: always at an `https://` public address, else on
/// requests a trusted proxy marked `X-Forwarded-Proto: https`, else never.
pub fn secure_cookies(public_url: Option<&str>, trust_forwarded_proto: bool) -> SecureCookies {
    match public_url {
        Some(url) if url.starts_with("https://") => SecureCookies::Always,
        _ if trust_forwarded_proto => SecureCookies::WhenForwardedHttps,
        _ => SecureCookies::Never,
    }
}

pub async fn serve(
    db: &Database,
    node: String,
    listen: SocketAddr,
    options: WorkerOptions,
    sessions: baton_service::SessionOptions,
    secure_cookies: SecureCookies,
) -> Result<u8> {
    if let Some(problem) = sessions.problem() {
        return Err(CliError::Input(problem));
    }
    let service = open_for_server(db, Some(node), sessions).await?;
    // The server runs the jobs too, so it takes the lock a worker takes.
    let runner = JobRunner::start(db, &service, options.grace).await?;
    // Sessions this server (or the one before it) left open when it stopped or crashed are
    // logged out before anything is served: on a SQLite file, whose lock this process holds,
    // every session recorded; on PostgreSQL those recorded under this node's name, and those
    // of nodes whose lease expired (the sessions of live nodes are theirs).
    service.renew_node_lease(options.lease).await?;
    let left_open = if matches!(db, Database::File(_)) {
        Orphans::All
    } else {
        Orphans::AlsoOwn
    };
    let recovered = service.recover_sessions(left_open).await?;
    if recovered > 0 {
        errln!("baton: logged out {recovered} session(s) left open by a server that stopped");
    }
    let signals = runner.signals.clone();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(CliError::io(format!("listening on {listen}")))?;
    let address = listener
        .local_addr()
        .map_err(CliError::io("reading the address listened on"))?;
    errln!("baton: serving the API on http://{address} (reference: http://{address}/docs)");
    tracing::info!(%address, "serving the API");
    let server = baton_server::serve(
        listener,
        AppState::new(service.clone()).with_secure_cookies(secure_cookies),
        signalled(signals.clone()),
    );
    let sweep_every =
        (sessions.idle_timeout / 4).clamp(std::time::Duration::from_secs(1), SESSION_SWEEP);
    let sweeper = service.run_session_sweeper(sweep_every, signalled(signals.clone()));
    let node_lease = service.run_node_lease(options.lease, signalled(signals.clone()));
    let worker = service.engine().run_worker(options, signalled(signals));
    let (served, worked, (), ()) = tokio::join!(server, worker, sweeper, node_lease);
    served.map_err(CliError::io("serving the API"))?;
    worked?;
    Ok(exit::DONE)
}
