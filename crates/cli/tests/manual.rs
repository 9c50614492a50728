//! `baton completions` and `baton man`: generated from the command definitions, with no database.

mod support;

use support::{baton, ok, refused};

#[test]
fn completion_scripts_are_valid_for_each_shell_and_open_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");

    let bash = ok(&db, &["completions", "bash"]);
    assert!(
        bash.contains("_baton()"),
        "a bash completion function: {bash:.200}"
    );
    assert!(bash.contains("definitions"), "it completes the subcommands");
    // The script parses as bash.
    let script = dir.path().join("baton.bash");
    std::fs::write(&script, &bash).unwrap();
    let checked = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(
        checked.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&checked.stderr)
    );

    assert!(ok(&db, &["completions", "zsh"]).starts_with("#compdef baton"));
    assert!(ok(&db, &["completions", "fish"]).contains("complete -c baton"));

    let unknown = refused(&db, &["completions", "tcsh"]);
    assert!(
        unknown.contains("tcsh") && unknown.contains("bash"),
        "names the shells there are: {unknown}"
    );
    assert!(!db.exists(), "no database is made for completions");
}

#[test]
fn the_manual_page_is_printed_or_written_one_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");

    let page = ok(&db, &["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH baton 1"),
        "a roff page: {page:.200}"
    );
    assert!(page.contains(".TH baton 1"));
    assert!(
        page.contains("durable workflow"),
        "it carries the description"
    );

    let pages = dir.path().join("man1");
    let run = baton(&db, &["man", "--dir", pages.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for name in [
        "baton.1",
        "baton-run.1",
        "baton-serve.1",
        "baton-task.1",
        "baton-task-claim.1",
    ] {
        let text =
            std::fs::read_to_string(pages.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.contains(".TH"), "{name} is a manual page");
    }
    assert!(!db.exists(), "no database is made for the manual");
}
