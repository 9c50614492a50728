//! `--db` takes a SQLite file as a path or as `sqlite://PATH` / `sqlite:PATH`, and a PostgreSQL
//! database as `postgres://…` (see `postgres.rs`); a URL of a store Baton does not have is
//! refused (exit 2) instead of being taken for a file name.

mod support;
use support::{entries, instances_in as instances};

#[test]
fn a_url_of_a_store_baton_lacks_is_refused_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("postgres:host/db", "baton: --db postgres:host/db: write a PostgreSQL database as a URL, postgres://USER@HOST:PORT/DATABASE\n"),
        ("mysql://host/db", "baton: --db mysql://host/db: MySQL is not supported; Baton's stores are SQLite (a file path or sqlite://PATH) and PostgreSQL (postgres://…)\n"),
        ("redis://host", "baton: --db redis://host: `redis:` is not a kind of database Baton knows; give a SQLite file path, sqlite://PATH or postgres://…\n"),
        ("sqlite://", "baton: --db sqlite://: the URL names no file; write sqlite://PATH, e.g. sqlite://baton.db or sqlite:///var/lib/baton.db\n"),
        ("sqlite:x.db?mode=ro", "baton: --db sqlite:x.db?mode=ro: options in the URL (`?…`) are not supported; give only the file\n"),
        ("sqlite::memory:", "baton: --db sqlite::memory:: an in-memory database would be gone when the command ends; give a file\n"),
    ];
    for (db, stderr) in cases {
        assert_eq!(
            instances(dir.path(), db),
            (2, stderr.to_owned()),
            "--db {db}"
        );
    }
    assert_eq!(
        entries(dir.path()),
        Vec::<String>::new(),
        "no file or folder was made"
    );
}

#[test]
fn sqlite_urls_and_plain_paths_name_sqlite_files() {
    let dir = tempfile::tempdir().unwrap();
    let absolute = dir.path().join("abs.db");
    for db in [
        "sqlite://rel.db",
        "sqlite:short.db",
        &format!("sqlite://{}", absolute.display()),
        "plain.db",
        "with:colon.db",
    ] {
        assert_eq!(instances(dir.path(), db), (0, String::new()), "--db {db}");
    }
    let made: Vec<String> = entries(dir.path())
        .into_iter()
        .filter(|n| n.ends_with(".db"))
        .collect();
    assert_eq!(
        made,
        vec!["abs.db", "plain.db", "rel.db", "short.db", "with:colon.db"]
    );
}
