//! `baton serve` on a real socket: it starts, answers `/healthz` and a token-authenticated
//! request, and stops cleanly on SIGTERM.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use support::{baton, ok};

/// One HTTP/1.1 request on a new connection; the whole answer as text.
fn http(address: &str, path: &str, token: Option<&str>) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn baton_serve_answers_health_and_a_token_request_and_stops_on_sigterm_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    ok(&db, &["user", "add", "ann"]);
    let made = baton(&db, &["token", "create", "--user", "ann"]);
    let secret = made.stdout.trim().to_owned();

    let mut server = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["--db", db.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let address = line.split("http://").nth(1).and_then(|rest| rest.split_whitespace().next()).unwrap_or_else(|| panic!("{line}")).to_owned();

    let health = http(&address, "/healthz", None);
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n") && health.ends_with("\r\n\r\nok"), "{health}");
    let definitions = http(&address, "/api/definitions", Some(&secret));
    assert!(definitions.starts_with("HTTP/1.1 200 OK\r\n") && definitions.ends_with("\r\n\r\n[]"), "{definitions}");
    let refused = http(&address, "/api/definitions", None);
    assert!(refused.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{refused}");

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = server.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
}
