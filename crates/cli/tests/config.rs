//! The configuration file: a flag wins over its environment variable, which wins over the file,
//! which wins over the default; a bad file is refused with its line and column.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const FLOW: &str = "id: flow\ntasks:\n  - id: done\n    kind: end\n";

/// `baton ARGS…` in `dir` with these variables, and no Baton variable of the test's own.
fn baton(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let Output { status, stderr, .. } = Command::new(env!("CARGO_BIN_EXE_baton"))
        .current_dir(dir)
        .args(args)
        .env_remove("BATON_DB")
        .env_remove("BATON_CONFIG")
        .env_remove("BATON_LISTEN")
        .env_remove("BATON_SERVER")
        .env_remove("BATON_TOKEN")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[test]
fn the_database_comes_from_the_flag_then_the_variable_then_the_file_then_the_default() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flow.yaml"), FLOW).unwrap();
    std::fs::write(dir.path().join("baton.toml"), "db = \"from-file.db\"\n").unwrap();
    let deploy = |args: &[&str], env: &[(&str, &str)]| {
        let (code, stderr) = baton(dir.path(), &[args, &["deploy", "flow.yaml"]].concat(), env);
        assert_eq!(code, 0, "{stderr}");
    };
    deploy(&["--config", "baton.toml"], &[]);
    assert!(dir.path().join("from-file.db").exists());
    deploy(
        &[],
        &[("BATON_CONFIG", "baton.toml"), ("BATON_DB", "from-env.db")],
    );
    assert!(dir.path().join("from-env.db").exists());
    deploy(
        &["--config", "baton.toml", "--db", "from-flag.db"],
        &[("BATON_DB", "from-env.db")],
    );
    assert!(dir.path().join("from-flag.db").exists());
    deploy(&[], &[]);
    assert!(dir.path().join("baton.db").exists());
}

#[test]
fn serve_takes_its_address_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("baton.toml"),
        "[serve]\nlisten = \"127.0.0.1:0\"\nconcurrency = 2\ngrace = \"1s\"\n",
    )
    .unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_baton"))
        .current_dir(dir.path())
        .args(["--config", "baton.toml", "serve"])
        .env_remove("BATON_LISTEN")
        .env_remove("BATON_DB")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        line.contains("http://127.0.0.1:") && !line.contains(":8080"),
        "a free port, not the default: {line}"
    );
}

#[test]
fn a_bad_configuration_file_is_refused_with_its_line_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flow.yaml"), FLOW).unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "db = \"x.db\"\n[serve]\nlistn = \"0.0.0.0:1\"\n",
    )
    .unwrap();
    let (code, stderr) = baton(
        dir.path(),
        &["--config", "bad.toml", "deploy", "flow.yaml"],
        &[],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("bad.toml") && stderr.contains("line 3") && stderr.contains("listn"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("x.db").exists() && !dir.path().join("baton.db").exists(),
        "nothing ran"
    );

    let (code, stderr) = baton(
        dir.path(),
        &["--config", "missing.toml", "deploy", "flow.yaml"],
        &[],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("missing.toml"), "{stderr}");
    std::fs::write(
        dir.path().join("grace.toml"),
        "[worker]\ngrace = \"soon\"\n",
    )
    .unwrap();
    let (code, stderr) = baton(
        dir.path(),
        &["--config", "grace.toml", "worker", "--until-idle"],
        &[],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a duration"), "{stderr}");
}
