//! Starting once per idempotency key, and listing instances by process and start time a page
//! at a time: on the database file and again through `baton serve`.

mod support;
use support::modes::{Baton, Mode};

crate::in_both_modes!(
    a_start_with_an_idempotency_key_starts_one_instance,
    instances_are_listed_by_process_a_page_at_a_time,
    a_unique_prefix_of_an_instance_id_names_it
);

fn a_unique_prefix_of_an_instance_id_names_it(mode: Mode) {
    let b = Baton::new(mode);
    b.ok(&["deploy", &b.file("note.yaml", NOTE.as_bytes())]);
    let first = b.ok(&["start", "note"]).trim().to_owned();
    let second = b.ok(&["start", "note"]).trim().to_owned();
    // Ids are UUIDv7: those started together share their first (time) digits.
    let common = first
        .chars()
        .zip(second.chars())
        .take_while(|(a, c)| a == c)
        .count();
    let unique = &first[..common + 1];
    let shown = b.ok(&["show", unique]);
    assert!(shown.starts_with(&format!("instance {first}")), "{shown}");
    let ambiguous = b.refused(&["show", &first[..common]]);
    assert!(
        ambiguous.contains("is the start of several instance ids")
            && ambiguous.contains(&first)
            && ambiguous.contains(&second),
        "{ambiguous}"
    );
    assert_eq!(
        b.refused(&["abort", "ffffffff"]),
        "baton: there is no instance `ffffffff`\n"
    );
}

const NOTE: &str =
    "id: note\ndata:\n  text: {type: string, default: x}\ntasks:\n  - id: done\n    kind: end\n";
const OTHER: &str = "id: other\ntasks:\n  - id: done\n    kind: end\n";

fn a_start_with_an_idempotency_key_starts_one_instance(mode: Mode) {
    let b = Baton::new(mode);
    b.ok(&["deploy", &b.file("note.yaml", NOTE.as_bytes())]);
    let first = b.run(&["start", "note", "--idempotency-key", "order-7"]);
    let again = b.run(&["start", "note", "--idempotency-key", "order-7"]);
    assert_eq!(
        (first.code, again.code),
        (0, 0),
        "{} / {}",
        first.stderr,
        again.stderr
    );
    assert_eq!(
        first.stdout, again.stdout,
        "the repeat prints the first start's instance"
    );
    assert!(first.stderr.contains("started note"), "{}", first.stderr);
    assert!(
        again
            .stderr
            .contains("already started with this idempotency key"),
        "{}",
        again.stderr
    );
    let refused = b.refused(&[
        "start",
        "note",
        "--data",
        r#"{"text": "y"}"#,
        "--idempotency-key",
        "order-7",
    ]);
    assert!(refused.contains("idempotency key `order-7`"), "{refused}");
    assert_eq!(
        b.ok(&["instances"])
            .lines()
            .filter(|l| l.contains("note"))
            .count(),
        1
    );
}

fn instances_are_listed_by_process_a_page_at_a_time(mode: Mode) {
    let b = Baton::new(mode);
    b.ok(&[
        "deploy",
        &b.file("note.yaml", NOTE.as_bytes()),
        &b.file("other.yaml", OTHER.as_bytes()),
    ]);
    let mut notes: Vec<String> = (0..3)
        .map(|_| b.ok(&["start", "note"]).trim().to_owned())
        .collect();
    b.ok(&["start", "other"]);
    notes.reverse();
    let first = b.run(&["instances", "--process", "note", "--limit", "2"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let cursor = first
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("more: --cursor "))
        .unwrap_or_else(|| panic!("no cursor: {}", first.stderr))
        .to_owned();
    let second = b.run(&[
        "instances",
        "--process",
        "note",
        "--limit",
        "2",
        "--cursor",
        &cursor,
    ]);
    assert!(
        !second.stderr.contains("more:"),
        "the last page: {}",
        second.stderr
    );
    let listed: Vec<String> = [first.stdout, second.stdout]
        .iter()
        .flat_map(|out| {
            out.lines()
                .filter(|l| l.contains("note"))
                .map(|l| l.split_whitespace().next().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(listed, notes);
    assert!(!b
        .ok(&["instances", "--started-before", "2000-01-01T00:00:00Z"])
        .contains("note"));
    b.refused(&["instances", "--cursor", "nonsense"]);
}
