//! `--log-format json` (or `BATON_LOG_FORMAT=json`): every log record is one JSON object on a
//! line of stderr, in the spans it happened in; a request's carries its request id.

mod support;

use support::server::Server;

#[test]
fn with_log_format_json_each_log_record_is_a_json_line_carrying_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let server = Server::start(&db, &["--log-format", "json", "-v"]);
    let refused = server.get("/api/definitions", Some("baton_unknown_secret"));
    assert!(
        refused.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{refused}"
    );
    let request_id = refused
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("an x-request-id")
        .trim()
        .to_owned();
    let early = server.early_stderr.clone();
    let (code, rest) = server.stop();
    assert_eq!(code, Some(0), "{rest}");

    // Baton's own messages to the operator start with `baton:`; every other line is a record.
    let records: Vec<serde_json::Value> = early
        .lines()
        .chain(rest.lines())
        .filter(|line| !line.starts_with("baton: "))
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
        })
        .collect();
    assert!(
        records
            .iter()
            .all(|r| r["level"].is_string() && r["timestamp"].is_string()),
        "{records:?}"
    );
    let refusal = records
        .iter()
        .find(|r| r["fields"]["message"] == "request refused")
        .unwrap_or_else(|| panic!("no refusal record in {records:?}"));
    assert_eq!(refusal["span"]["name"], "request");
    assert_eq!(refusal["span"]["request_id"], request_id.as_str());
    assert_eq!(refusal["span"]["route"], "/api/definitions");
    assert_eq!(refusal["level"], "INFO");
}

#[test]
fn an_unknown_log_format_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let run = support::baton(
        &dir.path().join("baton.db"),
        &["--log-format", "xml", "instances"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("text") && run.stderr.contains("json"),
        "the refusal names the formats: {}",
        run.stderr
    );
}
