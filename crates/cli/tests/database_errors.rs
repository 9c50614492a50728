//! A database Baton cannot use is refused with a sentence saying why, and is left as it was:
//! an empty file is not taken for a new database, a file that is not a database and a folder
//! are named as such. (A full disk is covered beside the writer, in the store's own tests.)

mod support;
use support::{entries, instances_in as instances};

#[test]
fn an_empty_file_is_not_taken_for_a_new_database() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.db"), b"").unwrap();
    let expected = "baton: opening the database empty.db: database error: the file is empty, so it is not a Baton database; \
                    remove it to start a new database there, or give the right path\n";
    assert_eq!(instances(dir.path(), "empty.db"), (1, expected.to_owned()));
    assert_eq!(
        std::fs::metadata(dir.path().join("empty.db"))
            .unwrap()
            .len(),
        0,
        "the file is left as it was"
    );
    assert_eq!(
        entries(dir.path()),
        ["empty.db"],
        "no -wal or -shm file beside it"
    );
}

#[test]
fn a_file_that_is_not_a_database_and_a_folder_are_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("notes.txt"),
        "not a database, but some text long enough to be read as a header\n".repeat(10),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("folder")).unwrap();
    let not_a_database =
        "baton: opening the database notes.txt: database error: the file is not a Baton database \
                          (it is not an SQLite database) (SQLite: file is not a database)\n";
    assert_eq!(
        instances(dir.path(), "notes.txt"),
        (1, not_a_database.to_owned())
    );
    let folder = "baton: opening the database folder: database error: it is a folder; give the path of a database file (it is made if missing)\n";
    assert_eq!(instances(dir.path(), "folder"), (1, folder.to_owned()));
    let before = std::fs::read(dir.path().join("notes.txt")).unwrap();
    assert_eq!(entries(dir.path()), ["folder", "notes.txt"]);
    assert_eq!(std::fs::read(dir.path().join("notes.txt")).unwrap(), before);
}
