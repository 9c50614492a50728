//! Where documents' content is kept: `documents/` beside the database file by default, else
//! `--documents-dir DIR`, `BATON_DOCUMENTS_DIR` or the configuration file's `documents_dir`,
//! in that order of precedence (a flag wins over its variable, which wins over the file).

mod support;
use std::path::{Path, PathBuf};

use support::{baton_env, Run};

/// The content files under `dir` (each named by its SHA-256, in a folder of its first two
/// hex digits).
fn contents(dir: &Path) -> Vec<PathBuf> {
    let Ok(folders) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    folders
        .flatten()
        .flat_map(|f| {
            std::fs::read_dir(f.path())
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
        })
        .filter(|p| p.is_file())
        .collect()
}

#[track_caller]
fn upload(db: &Path, scan: &Path, flags: &[&str], env: &[(&str, &str)]) -> String {
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(["doc", "upload", scan.to_str().unwrap()]);
    let Run {
        code,
        stdout,
        stderr,
    } = baton_env(db, &args, env);
    assert_eq!(code, 0, "{stderr}");
    stdout.trim().to_owned()
}

#[test]
fn documents_are_kept_beside_the_database_unless_a_flag_a_variable_or_the_file_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let scan = dir.path().join("scan.txt");
    std::fs::write(&scan, "scanned").unwrap();
    let (flag, variable, file) = (
        dir.path().join("by-flag"),
        dir.path().join("by-variable"),
        dir.path().join("by-file"),
    );
    let config = dir.path().join("baton.toml");
    std::fs::write(
        &config,
        format!("documents_dir = {:?}\n", file.display().to_string()),
    )
    .unwrap();
    let flag_text = flag.display().to_string();
    let variable_text = variable.display().to_string();
    let config_text = config.display().to_string();

    upload(&db, &scan, &[], &[]);
    assert_eq!(
        contents(&dir.path().join("documents")).len(),
        1,
        "by default beside the database file"
    );

    std::fs::write(&scan, "scanned again").unwrap();
    upload(
        &db,
        &scan,
        &["--documents-dir", &flag_text, "--config", &config_text],
        &[("BATON_DOCUMENTS_DIR", &variable_text)],
    );
    assert_eq!(
        (
            contents(&flag).len(),
            contents(&variable).len(),
            contents(&file).len()
        ),
        (1, 0, 0),
        "the flag wins"
    );

    std::fs::write(&scan, "scanned a third time").unwrap();
    let id = upload(
        &db,
        &scan,
        &["--config", &config_text],
        &[("BATON_DOCUMENTS_DIR", &variable_text)],
    );
    assert_eq!(
        (contents(&variable).len(), contents(&file).len()),
        (1, 0),
        "the variable wins over the file"
    );

    std::fs::write(&scan, "scanned a fourth time").unwrap();
    upload(&db, &scan, &["--config", &config_text], &[]);
    assert_eq!(
        contents(&file).len(),
        1,
        "the file, when neither flag nor variable says"
    );

    // A document is read from where its content was put.
    let read = baton_env(
        &db,
        &["doc", "download", &id],
        &[("BATON_DOCUMENTS_DIR", &variable_text)],
    );
    assert_eq!(
        (read.code, read.stdout.as_str()),
        (0, "scanned a third time"),
        "{}",
        read.stderr
    );
}
