//! `baton doc upload|show|download|set-meta`, on the database file and again through
//! `baton serve` (`--server`), with the same answers.

mod support;
use support::modes::{Baton, Mode};

crate::in_both_modes!(
    a_document_is_uploaded_shown_downloaded_and_its_metadata_set,
    bad_document_commands_exit_2_and_change_nothing
);

fn a_document_is_uploaded_shown_downloaded_and_its_metadata_set(mode: Mode) {
    let b = Baton::new(mode);
    let file = b.file("invoice.pdf", b"%PDF-1.7 an invoice");
    let id = b
        .ok(&[
            "doc",
            "upload",
            &file,
            "--type",
            "invoice",
            "--meta",
            "client=ACME",
            "--meta",
            "amount=120",
        ])
        .trim()
        .to_owned();
    let shown: serde_json::Value =
        serde_json::from_str(&b.ok(&["doc", "show", &id, "--json"])).unwrap();
    assert_eq!(
        (
            shown["name"].clone(),
            shown["document_type"].clone(),
            shown["content_type"].clone()
        ),
        (
            serde_json::json!("invoice.pdf"),
            serde_json::json!("invoice"),
            serde_json::json!("application/pdf")
        )
    );
    assert_eq!(
        shown["metadata"],
        serde_json::json!({"client": "ACME", "amount": 120})
    );
    let text = b.ok(&["doc", "show", &id]);
    assert!(
        text.contains("type        invoice\n")
            && text.contains("size        19 bytes\n")
            && text.contains("  client = \"ACME\"\n"),
        "{text}"
    );

    let out = b.dir.path().join("copy.pdf");
    assert_eq!(
        b.ok(&["doc", "download", &id, "-o", &out.display().to_string()]),
        ""
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"%PDF-1.7 an invoice");
    assert_eq!(b.ok(&["doc", "download", &id]), "%PDF-1.7 an invoice");

    let updated: serde_json::Value = serde_json::from_str(&b.ok(&[
        "doc",
        "set-meta",
        &id,
        "status=paid",
        "amount=null",
        "--json",
    ]))
    .unwrap();
    assert_eq!(
        (updated["version"].clone(), updated["metadata"].clone()),
        (
            serde_json::json!(2),
            serde_json::json!({"client": "ACME", "status": "paid"})
        )
    );
}

fn bad_document_commands_exit_2_and_change_nothing(mode: Mode) {
    let b = Baton::new(mode);
    let file = b.file("scan.png", b"PNG");
    assert_eq!(
        b.refused(&["doc", "upload", &file, "--meta", "no-equals-sign"]),
        "baton: `no-equals-sign` is not KEY=VALUE (e.g. client=ACME or amount=120)\n"
    );
    let refused = b.refused(&["doc", "upload", &file, "--type", "in voice"]);
    assert!(
        refused.starts_with(
            "baton: `document_type` is not allowed: ` ` may not be in a document type"
        ),
        "{refused}"
    );
    let run = b.run(&["doc", "show", "no-such-document"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (2, "baton: there is no document `no-such-document`\n")
    );
    let id = b.ok(&["doc", "upload", &file]).trim().to_owned();
    let run = b.run(&["doc", "set-meta", &id, "=x"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let shown: serde_json::Value =
        serde_json::from_str(&b.ok(&["doc", "show", &id, "--json"])).unwrap();
    assert_eq!(
        (shown["version"].clone(), shown["content_type"].clone()),
        (serde_json::json!(1), serde_json::json!("image/png"))
    );
}
