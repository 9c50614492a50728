//! `baton token create|list|revoke` through the binary: the secret goes to stdout alone, once;
//! lists show state but never a secret; refusals exit 2 and store nothing.

mod support;
use support::{baton, ok, refused};

#[test]
fn a_token_is_made_listed_and_revoked_and_its_secret_is_printed_only_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    ok(&db, &["user", "add", "ci-bot"]);
    let made = baton(
        &db,
        &[
            "token",
            "create",
            "--user",
            "ci-bot",
            "--name",
            "nightly CI",
            "--expires",
            "30d",
        ],
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    let secret = made.stdout.trim().to_owned();
    assert_eq!(
        made.stdout,
        format!("{secret}\n"),
        "stdout is the secret alone"
    );
    assert!(secret.starts_with("baton_"), "{secret}");
    let id = secret.split('_').nth(1).unwrap().to_owned();
    assert!(
        made.stderr
            .contains(&format!("token {id} for ci-bot made, valid until ")),
        "{}",
        made.stderr
    );

    let listed = ok(&db, &["token", "list"]);
    let row = listed.lines().nth(1).unwrap_or_else(|| panic!("{listed}"));
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        (columns[0], columns[1], columns[2]),
        (id.as_str(), "ci-bot", "valid")
    );
    assert!(row.ends_with("nightly CI"), "{row}");
    assert!(
        !listed.contains(secret.rsplit('_').next().unwrap()),
        "no secret in the list"
    );

    assert_eq!(
        ok(&db, &["token", "revoke", &id]),
        format!("token {id} of ci-bot revoked\n")
    );
    assert!(ok(&db, &["token", "list", "--user", "ci-bot"])
        .lines()
        .nth(1)
        .unwrap()
        .contains(" revoked "));
    assert!(refused(&db, &["token", "revoke", &id]).contains("already revoked"));
    assert_eq!(ok(&db, &["token", "list", "--user", "operator"]), "");
}

#[test]
fn a_token_for_nobody_or_with_a_bad_lifetime_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    assert!(
        refused(&db, &["token", "create", "--user", "ghost"]).contains("there is no user `ghost`")
    );
    assert!(refused(
        &db,
        &[
            "token",
            "create",
            "--user",
            "operator",
            "--expires",
            "11years"
        ]
    )
    .contains("a token lives from 1 second to 10 years"));
    assert_eq!(
        baton(
            &db,
            &["token", "create", "--user", "operator", "--expires", "soon"]
        )
        .code,
        2
    );
    assert!(refused(&db, &["token", "revoke", "nope"]).contains("there is no token `nope`"));
    assert_eq!(ok(&db, &["token", "list"]), "");
}
