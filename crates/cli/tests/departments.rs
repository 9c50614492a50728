//! Stardust's department scoping on the command line, on the database file and through a
//! server: what `--as` a user of another department names is refused with exit 2 and a
//! sentence saying why, listings leave it out, and nothing changes.

use serde_json::Value;

mod support;
use support::modes::{Baton, Mode};

crate::in_both_modes!(a_user_of_another_department_neither_sees_nor_acts_on_an_instance);

const CLAIM: &str = include_str!("../../core/tests/fixtures/claim-by-department.yaml");

fn a_user_of_another_department_neither_sees_nor_acts_on_an_instance(mode: Mode) {
    let b = Baton::new(mode);
    for (user, department) in [("lena", "legal"), ("sam", "sales")] {
        b.local(&["user", "add", user, "--department", department]);
    }
    b.local(&["user", "add", "chief", "--admin"]);
    b.local(&["group", "add", "clerks"]);
    b.local(&["group", "add-member", "clerks", "lena"]);
    b.local(&["group", "add-member", "clerks", "sam"]);
    let file = b.file("claim.yaml", CLAIM.as_bytes());
    b.ok(&["deploy", &file]);
    let legal = b
        .ok(&[
            "start",
            "claim",
            "--data",
            r#"{"dept": "legal"}"#,
            "--as",
            "chief",
        ])
        .trim()
        .to_owned();
    let open = b.ok(&["start", "claim", "--as", "chief"]).trim().to_owned();

    let shown: Value =
        serde_json::from_str(&b.ok(&["show", &legal, "--json", "--as", "lena"])).unwrap();
    assert_eq!(shown["instance"]["department"], "legal");
    let expected = format!(
        "sam may not see or act on instance {legal}: it belongs to another department than theirs"
    );
    for args in [
        vec!["show", &legal, "--as", "sam"],
        vec!["case", "show", &legal, "--as", "sam"],
        vec!["task", "show", &legal, "handle", "--as", "sam"],
        vec!["task", "claim", &legal, "handle", "--as", "sam"],
        vec!["spawn", &legal, "claim", "--as", "sam"],
        vec!["abort-and-start", &legal, "claim", "--as", "sam"],
        vec!["abort", &legal, "--as", "sam"],
        vec!["task", "skip", &legal, "handle", "--as", "sam"],
    ] {
        let refused = b.refused(&args);
        assert!(refused.contains(&expected), "{args:?}: {refused}");
    }
    let listed = b.ok(&["instances", "--as", "sam"]);
    assert!(
        listed.contains(&open) && !listed.contains(&legal),
        "{listed}"
    );
    let inbox = b.ok(&["tasks", "--as", "sam"]);
    assert!(inbox.contains(&open) && !inbox.contains(&legal), "{inbox}");
    let inbox = b.ok(&["tasks", "--as", "lena"]);
    assert!(inbox.contains(&open) && inbox.contains(&legal), "{inbox}");

    let after: Value =
        serde_json::from_str(&b.ok(&["show", &legal, "--json", "--as", "chief"])).unwrap();
    assert_eq!(
        (
            after["instance"]["status"].as_str(),
            after["instance"]["spawned"].as_array().map(Vec::len)
        ),
        (Some("waiting"), Some(0)),
        "nothing changed"
    );
    assert_eq!(after["instance"]["tasks"]["handle"]["status"], "ready");
}
