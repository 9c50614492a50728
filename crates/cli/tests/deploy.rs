//! `baton deploy FILE...`: every file is checked first, with positions, and then all are stored
//! in one transaction, or none. The scenarios that take text files run on the database file and
//! again through `baton serve` (`--server`), with the same answers.

mod support;
use support::modes::{Baton, Mode};
use support::{baton, ok};

crate::in_both_modes!(
    a_bad_calendar_beside_a_good_definition_stores_neither_and_says_where,
    a_task_id_of_65536_characters_is_refused_at_deploy_with_its_position
);

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

const FLOW: &str = "id: a\ntasks:\n  - id: t\n    kind: end\n";

fn a_bad_calendar_beside_a_good_definition_stores_neither_and_says_where(mode: Mode) {
    let b = Baton::new(mode);
    let flow = b.file("a.yaml", FLOW.as_bytes());
    let calendar = b.file(
        "bad-calendar.yaml",
        b"calendar: office\ninclude:\n  - calendar: nope\n",
    );
    let run = b.run(&["deploy", &flow, &calendar]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (
            2,
            "",
            format!(
                "baton: {calendar}:3:15: calendar `office` refers to calendar `nope`, which is not deployed\n  hint: deploy calendar `nope` first, or in the same `baton deploy`\n"
            )
            .as_str()
        )
    );
    let start = b.run(&["start", "a"]);
    assert_eq!(
        (start.code, start.stderr.as_str()),
        (2, "baton: there is no process `a`; deploy it first\n"),
        "`a` was not stored"
    );
    // Once the calendar it refers to is deployed with it, both are stored (in any order).
    let holidays = b.file(
        "nope.yaml",
        b"calendar: nope\ninclude:\n  - dates: [2026-12-24]\n",
    );
    assert_eq!(
        b.ok(&["deploy", &flow, &calendar, &holidays]),
        format!("deployed a version 1 ({flow})\ndeployed office version 1 ({calendar})\ndeployed nope version 1 ({holidays})\n")
    );
}

#[test]
fn the_problems_of_every_file_are_reported_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let first = write(
        dir.path(),
        "first.yaml",
        "id: first\ntasks:\n  - id: t\n    kind: teleport\n",
    );
    let good = write(dir.path(), "good.yaml", FLOW);
    let last = write(
        dir.path(),
        "last.yaml",
        "id: last\ntasks:\n  - id: t\n    kind: end\n    after: [nobody]\n",
    );
    let latin1 = dir.path().join("latin1.yaml");
    std::fs::write(&latin1, b"id: caf\xe9\n").unwrap();
    let latin1 = latin1.display().to_string();
    let run = baton(&db, &["deploy", &first, &good, &latin1, &last]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        format!(
            "baton: {first}:4:11: unknown task kind `teleport`\n  hint: use one of: job, set, decision, foreach, user, call, handoff, wait, view, end\n\
             {latin1}:1:8: the file is not UTF-8 text: the bytes from here on (0xE9 …) are not valid UTF-8\n  hint: save the file as UTF-8\n\
             {last}:5:13: predecessor `nobody` is not a task of this process\n"
        )
    );
    assert_eq!(ok(&db, &["instances"]).lines().count(), 1);
    let start = baton(&db, &["start", "a"]);
    assert_eq!(start.code, 2, "the good file was not stored either");
}

fn a_task_id_of_65536_characters_is_refused_at_deploy_with_its_position(mode: Mode) {
    let b = Baton::new(mode);
    let long = "t".repeat(65_536);
    let flow = b.file(
        "flow.yaml",
        format!("id: flow\ntasks:\n  - id: {long}\n    kind: end\n").as_bytes(),
    );
    let run = b.run(&["deploy", &flow]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            2,
            format!(
                "baton: {flow}:3:9: the task id `{}…` is 65536 characters long, more than 128\n  hint: use 1 to 128 letters, digits, `_`, `.` and `-`, starting with a letter or `_`\n",
                &long[..40]
            )
            .as_str()
        )
    );
}
