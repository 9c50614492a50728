//! No command panics on a closed pipe: `baton show ID | head -1` ends quietly, as `ls | head`
//! does, with the command's own exit code.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

mod support;
use support::ok;

#[test]
fn show_piped_into_head_ends_quietly_when_head_stops_reading() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let flow = dir.path().join("flow.yaml");
    std::fs::write(
        &flow,
        "id: flow\ndata:\n  text: string\ntasks:\n  - id: t\n    kind: end\n",
    )
    .unwrap();
    ok(&db, &["deploy", flow.to_str().unwrap()]);
    // More output than a pipe holds (64 KiB), so `show` is still writing when the reader goes.
    let data = dir.path().join("data.json");
    std::fs::write(
        &data,
        serde_json::json!({"text": "x".repeat(300_000)}).to_string(),
    )
    .unwrap();
    let id = ok(
        &db,
        &["start", "flow", "--data", &format!("@{}", data.display())],
    )
    .trim()
    .to_owned();

    let mut show = Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("--db")
        .arg(&db)
        .args(["show", &id])
        .env_remove("BATON_DB")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(show.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap(); // then the reader is dropped: the pipe closes
    let output = show.wait_with_output().unwrap();
    assert_eq!(first, format!("instance {id}  flow v1  completed\n"));
    assert_eq!(
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).as_ref()
        ),
        (Some(0), "")
    );
}
