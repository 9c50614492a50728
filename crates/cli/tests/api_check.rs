//! The HTTP API answers as its own OpenAPI document says: `tests/api/check` runs schemathesis
//! against a live `baton serve` of this build, bounded and with a fixed seed, and fails on any
//! 5xx and on any answer the document does not describe.
//!
//! Schemathesis comes from PyPI, pinned in `tests/api/requirements.txt`, in the venv
//! `target/schemathesis` that `.ci/run` makes (or `$SCHEMATHESIS`). Without it the test says
//! so and passes, except in CI (`CI` set), where it must run.

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn every_request_schemathesis_makes_of_the_openapi_document_is_answered_as_the_document_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let schemathesis = std::env::var_os("SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/schemathesis/bin/schemathesis"));
    if !schemathesis.exists() {
        let install = "python3 -m venv target/schemathesis && target/schemathesis/bin/pip install -r tests/api/requirements.txt";
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the API check, and {} is not there: `.ci/run` installs it",
            schemathesis.display()
        );
        eprintln!(
            "skipped: the API check needs schemathesis at {}; install it with `{install}`",
            schemathesis.display()
        );
        return;
    }
    let run = Command::new(root.join("tests/api/check"))
        .env("BATON", env!("CARGO_BIN_EXE_baton"))
        .env("SCHEMATHESIS", &schemathesis)
        .output()
        .expect("tests/api/check runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "tests/api/check failed ({}):\n{stdout}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    // Schemathesis's last line: how many failures, warnings and how long.
    eprintln!(
        "{}",
        stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
    );
}
