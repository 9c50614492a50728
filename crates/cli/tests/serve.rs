//! `baton serve` on a real socket: it starts, answers `/healthz` and a token-authenticated
//! request, and stops cleanly on SIGTERM.

mod support;

use support::server::Server;
use support::{baton, ok};

#[test]
fn baton_serve_answers_health_and_a_token_request_and_stops_on_sigterm_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    ok(&db, &["user", "add", "ann"]);
    let made = baton(&db, &["token", "create", "--user", "ann"]);
    let secret = made.stdout.trim().to_owned();

    let server = Server::start(&db, &[]);
    let health = server.get("/healthz", None);
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n") && health.ends_with("\r\n\r\nok"), "{health}");
    let definitions = server.get("/api/definitions", Some(&secret));
    assert!(definitions.starts_with("HTTP/1.1 200 OK\r\n") && definitions.ends_with("\r\n\r\n[]"), "{definitions}");
    let refused = server.get("/api/definitions", None);
    assert!(refused.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{refused}");

    let (code, rest) = server.stop();
    assert_eq!(code, Some(0), "{rest}");
}
