//! Running the real `baton` binary on a temp database, for the CLI's integration tests.
#![allow(dead_code)] // each test file uses some of these

use std::path::Path;
use std::process::{Command, Output};

pub mod crash;
pub mod modes;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// `baton --db DB ARGS…`, whatever its exit code.
pub fn baton(db: &Path, args: &[&str]) -> Run {
    baton_env(db, args, &[])
}

/// [`baton`] with these environment variables set.
pub fn baton_env(db: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("BATON_DB")
        .env_remove("BATON_SERVER")
        .env_remove("BATON_TOKEN")
        .env_remove("BATON_DOCUMENTS_DIR")
        .envs(env.iter().copied())
        .output()
        .expect("baton runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into(),
        stderr: String::from_utf8_lossy(&stderr).into(),
    }
}

/// Runs a command that must succeed; returns its stdout.
#[track_caller]
pub fn ok(db: &Path, args: &[&str]) -> String {
    let run = baton(db, args);
    assert_eq!(run.code, 0, "baton {args:?} failed: {}", run.stderr);
    run.stdout
}

/// A refusal exits 2 with a sentence on stderr; returns the stderr.
#[track_caller]
pub fn refused(db: &Path, args: &[&str]) -> String {
    let run = baton(db, args);
    assert_eq!(
        run.code, 2,
        "baton {args:?} must be refused; stdout: {} stderr: {}",
        run.stdout, run.stderr
    );
    run.stderr
}

/// `baton --db DB instances` run in `cwd` (the database given as written, relative or a URL):
/// its exit code and stderr.
pub fn instances_in(cwd: &Path, db: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .current_dir(cwd)
        .args(["--db", db, "instances"])
        .env_remove("BATON_DB")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The names in `dir`, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
pub mod server;
