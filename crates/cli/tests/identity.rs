//! `baton user …` and `baton group …` end to end: the real binary on a temp database.

mod support;
use support::{ok, refused};

#[test]
fn users_and_groups_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    assert_eq!(ok(&db, &["user", "add", "john"]), "added user john\n");
    assert_eq!(
        ok(&db, &["user", "add", "sarah", "--department", "legal"]),
        "added user sarah (department legal)\n"
    );
    assert_eq!(
        ok(&db, &["user", "add", "root", "--admin"]),
        "added user root, an administrator\n"
    );
    assert_eq!(ok(&db, &["group", "add", "legal"]), "added group legal\n");
    ok(&db, &["group", "add", "reviewers"]);
    assert_eq!(
        ok(&db, &["group", "add-member", "legal", "sarah"]),
        "added sarah to group legal\n"
    );
    ok(&db, &["group", "add-member", "reviewers", "john"]);
    ok(&db, &["group", "add-member", "reviewers", "sarah"]);

    let users = ok(&db, &["user", "list"]);
    let lines: Vec<&str> = users.lines().collect();
    assert_eq!(lines.len(), 5, "{users}");
    assert!(
        lines[0].starts_with("USER")
            && lines[0].contains("DEPARTMENT")
            && lines[0].contains("GROUPS"),
        "{users}"
    );
    assert!(
        lines[1].starts_with("john") && lines[1].contains("reviewers"),
        "{users}"
    );
    assert!(
        lines[2].starts_with("operator") && lines[2].contains("no"),
        "the built-in operator: {users}"
    );
    assert!(
        lines[3].starts_with("root") && lines[3].contains("yes"),
        "{users}"
    );
    assert!(
        lines[4].starts_with("sarah")
            && lines[4].contains("legal")
            && lines[4].contains("legal, reviewers"),
        "{users}"
    );

    let groups = ok(&db, &["group", "list"]);
    assert!(
        groups.contains("legal")
            && groups
                .lines()
                .any(|l| l.starts_with("reviewers") && l.ends_with("john, sarah")),
        "{groups}"
    );

    assert_eq!(
        ok(&db, &["group", "remove-member", "reviewers", "sarah"]),
        "removed sarah from group reviewers\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&db, &["group", "list", "--json"])).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{"name": "legal", "members": ["sarah"]}, {"name": "reviewers", "members": ["john"]}])
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&db, &["user", "list", "--json"])).unwrap();
    assert_eq!(
        json[3],
        serde_json::json!({"name": "sarah", "department": "legal", "admin": false, "groups": ["legal"]})
    );
}

#[test]
fn duplicates_unknown_names_and_bad_names_are_refused_with_a_sentence_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    ok(&db, &["user", "add", "john"]);
    ok(&db, &["group", "add", "legal"]);
    assert!(refused(&db, &["user", "add", "john"]).contains("user `john` already exists"));
    assert!(refused(&db, &["group", "add", "legal"]).contains("group `legal` already exists"));
    assert!(refused(&db, &["group", "add-member", "legal", "nobody"])
        .contains("there is no user `nobody`"));
    assert!(refused(&db, &["group", "add-member", "ghosts", "john"])
        .contains("there is no group `ghosts`"));
    assert!(refused(&db, &["group", "remove-member", "legal", "john"])
        .contains("`john` is not a member of group `legal`"));
    ok(&db, &["group", "add-member", "legal", "john"]);
    assert!(refused(&db, &["group", "add-member", "legal", "john"]).contains("already a member"));
    assert!(
        refused(&db, &["user", "add", "john doe"]).contains("user name `john doe` is not allowed")
    );
    // Nothing refused was stored.
    let json: serde_json::Value =
        serde_json::from_str(&ok(&db, &["user", "list", "--json"])).unwrap();
    assert_eq!(
        json,
        serde_json::json!([
            {"name": "john", "department": null, "admin": false, "groups": ["legal"]},
            {"name": "operator", "department": null, "admin": false, "groups": []}
        ])
    );
}

#[test]
fn a_new_database_has_only_the_built_in_operator_and_no_groups() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&db, &["user", "list", "--json"])).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{"name": "operator", "department": null, "admin": false, "groups": []}])
    );
    assert!(ok(&db, &["group", "list"]).contains("baton group add NAME"));
}

#[test]
fn user_and_group_commands_explain_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let top = ok(&db, &["--help"]);
    assert!(
        top.contains("user") && top.contains("Manage users") && top.contains("Manage groups"),
        "{top}"
    );
    let add = ok(&db, &["user", "add", "--help"]);
    assert!(
        add.contains("--department") && add.contains("--admin") && add.contains("administrator"),
        "{add}"
    );
    let group = ok(&db, &["group", "--help"]);
    for sub in ["add", "add-member", "remove-member", "list"] {
        assert!(
            group.contains(sub),
            "`baton group --help` lists {sub}: {group}"
        );
    }
}

/// `baton --db DB ARGS…` with `input` on standard input: its exit code, stdout and stderr.
fn baton_with_input(db: &std::path::Path, args: &[&str], input: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("BATON_SERVER")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_password_is_read_from_standard_input_and_kept_only_as_an_argon2_hash() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    ok(&db, &["user", "add", "john"]);
    let (code, stdout, stderr) =
        baton_with_input(&db, &["user", "passwd", "john"], "correct horse\n");
    assert_eq!(
        (code, stdout.as_str()),
        (0, "set the password of john\n"),
        "{stderr}"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let hash: String = conn
        .query_row(
            "SELECT hash FROM passwords WHERE user_name = 'john'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$") && !hash.contains("correct horse"),
        "{hash}"
    );

    let (code, _, stderr) = baton_with_input(&db, &["user", "passwd", "john"], "short\n");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("8 to 1024 characters"), "{stderr}");
    let (code, _, stderr) = baton_with_input(&db, &["user", "passwd", "ghost"], "correct horse\n");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("ghost"), "{stderr}");
    let kept: String = conn
        .query_row(
            "SELECT hash FROM passwords WHERE user_name = 'john'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, hash, "a refused password changes nothing");
}
