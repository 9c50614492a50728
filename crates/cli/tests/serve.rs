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
    assert!(
        health.starts_with("HTTP/1.1 200 OK\r\n") && health.ends_with("\r\n\r\nok"),
        "{health}"
    );
    let definitions = server.get("/api/definitions", Some(&secret));
    assert!(
        definitions.starts_with("HTTP/1.1 200 OK\r\n") && definitions.ends_with("\r\n\r\n[]"),
        "{definitions}"
    );
    let refused = server.get("/api/definitions", None);
    assert!(
        refused.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{refused}"
    );

    let (code, rest) = server.stop();
    assert_eq!(code, Some(0), "{rest}");
}

#[test]
fn behind_an_https_public_url_the_sign_in_cookies_are_secure() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    ok(&db, &["user", "add", "ann"]);
    let secret = baton(&db, &["token", "create", "--user", "ann"])
        .stdout
        .trim()
        .to_owned();
    let sign_in = format!("{{\"token\": \"{secret}\"}}");
    for (public_url, secure) in [
        (None, false),
        (Some("http://baton.example.com"), false),
        (Some("https://baton.example.com"), true),
    ] {
        let serve: Vec<&str> = public_url
            .map(|u| vec!["--public-url", u])
            .unwrap_or_default();
        let server = Server::start_with(&db, &[], &serve);
        let answer = server.request("POST", "/api/sign-in", None, Some(&sign_in));
        let cookies: Vec<&str> = answer
            .lines()
            .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
            .collect();
        assert_eq!(cookies.len(), 2, "{answer}");
        for cookie in cookies {
            assert_eq!(
                cookie.contains("; Secure"),
                secure,
                "{public_url:?}: {cookie}"
            );
        }
        server.stop();
    }
    for bad in [
        "baton.example.com",
        "ftp://baton.example.com",
        "https://",
        "https://a b",
    ] {
        let run = baton(
            &db,
            &["serve", "--listen", "127.0.0.1:0", "--public-url", bad],
        );
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
        assert!(run.stderr.contains("--public-url"), "{}", run.stderr);
    }
}
