//! Stardust's data types for documents, folders, notes and entities: the JSON shape each
//! admits, what a `data` declaration of them may say (a document type), and the deploy errors
//! of a bad declaration, each at its line and column.

use baton_core::data_type::{referenced_documents, DataType};
use baton_core::definition::parse_with;
use baton_core::DataLimits;
use serde_json::json;

fn deploy(source: &str) -> Result<baton_core::Definition, baton_core::DefinitionError> {
    parse_with("flow.yaml", source, &DataLimits::default())
}

#[test]
fn each_type_admits_its_shape_and_refuses_the_others() {
    let cases = [
        (
            DataType::Document,
            json!({"document": "d-1"}),
            vec![
                json!("d-1"),
                json!({"document": ""}),
                json!({"document": "d-1", "name": "x"}),
                json!({"folder": "f"}),
            ],
        ),
        (
            DataType::DocumentList,
            json!([{"document": "d-1"}, {"document": "d-2"}]),
            vec![
                json!({"document": "d-1"}),
                json!([{"document": "d-1"}, "d-2"]),
            ],
        ),
        (
            DataType::Attachments,
            json!([]),
            vec![json!([{"folder": "f"}])],
        ),
        (
            DataType::Folder,
            json!({"folder": "inbox/2026"}),
            vec![json!({"document": "d-1"}), json!({"folder": 7})],
        ),
        (
            DataType::FolderList,
            json!([{"folder": "a"}]),
            vec![json!([{"document": "a"}])],
        ),
        (
            DataType::Notes,
            json!([{"text": "called the client", "author": "mary"}]),
            vec![
                json!(["called"]),
                json!([{"author": "mary"}]),
                json!({"text": "x"}),
            ],
        ),
        (
            DataType::Entity,
            json!({"entity": "customer", "id": 4711}),
            vec![
                json!({"entity": "customer"}),
                json!({"entity": "", "id": "k"}),
                json!({"entity": "c", "id": "k", "x": 1}),
                json!({"entity": "c", "id": 1.5}),
            ],
        ),
        (
            DataType::Xml,
            json!("<?xml version=\"1.0\"?><claim no=\"7\"><line>1</line></claim>"),
            vec![
                json!("<claim>"),
                json!("plain text"),
                json!("<a/><b/>"),
                json!({"xml": "<a/>"}),
                // A DTD is refused, so an entity can never be expanded.
                json!("<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>"),
            ],
        ),
    ];
    for (ty, good, bad) in cases {
        assert!(ty.admits(&good), "{} admits {good}", ty.name());
        assert!(ty.admits(&json!(null)), "{} admits null (unset)", ty.name());
        for value in bad {
            assert!(!ty.admits(&value), "{} refuses {value}", ty.name());
        }
        assert_eq!(DataType::parse(ty.name()), Some(ty));
    }
    assert!(DataType::Entity.admits(&json!({"entity": "customer", "id": "C-17"})));
}

#[test]
fn the_documents_an_instance_refers_to_are_found_in_references_and_lists_declared_or_not() {
    let data = json!({
        "invoice": {"document": "d-1"},
        "scans": [{"document": "d-2"}, {"document": "d-1"}],
        "folder": {"folder": "f-1"},
        "names": ["d-3"],
        "other": {"document": "d-4", "note": "not a reference: it has more than the id"},
        "amount": 7,
    });
    let found: Vec<String> = referenced_documents(data.as_object().unwrap())
        .into_iter()
        .collect();
    assert_eq!(found, ["d-1", "d-2"]);
}

#[test]
fn a_declaration_names_the_type_of_its_documents() {
    let def = deploy("id: p\ndata:\n  invoice: {type: document, document_type: invoice}\n  scans: {type: document_list, document_type: scan}\n  files: attachments\n  notes: notes\n  client: entity\ntasks:\n  - {id: e, kind: end}\n").unwrap();
    assert_eq!(
        def.data["invoice"].document_type.as_deref(),
        Some("invoice")
    );
    assert_eq!(def.data["scans"].document_type.as_deref(), Some("scan"));
    assert_eq!(def.data["files"].ty, DataType::Attachments);
    assert_eq!(def.data["client"].document_type, None);
}

#[test]
fn a_document_type_on_another_type_is_a_deploy_error_at_its_line_and_column() {
    let e = deploy("id: p\ndata:\n  amount: {type: integer, document_type: invoice}\ntasks:\n  - {id: e, kind: end}\n").unwrap_err();
    let d = &e.diagnostics[0];
    assert_eq!((e.diagnostics.len(), d.line, d.column), (1, 3, 42), "{e}");
    assert_eq!(
        d.message,
        "`amount` is integer: only a `document` or a `document_list` has a `document_type`"
    );
}

#[test]
fn a_bad_document_type_name_is_a_deploy_error() {
    let e = deploy("id: p\ndata:\n  invoice:\n    type: document\n    document_type: 'in voice'\ntasks:\n  - {id: e, kind: end}\n").unwrap_err();
    let d = &e.diagnostics[0];
    assert_eq!((d.line, d.column), (5, 20), "{e}");
    assert!(
        d.message
            .starts_with("the `document_type` of `invoice`: ` ` may not be in a document type"),
        "{}",
        d.message
    );
}

#[test]
fn two_attachments_variables_are_a_deploy_error() {
    let e = deploy("id: p\ndata:\n  files: attachments\n  more: {type: attachments}\ntasks:\n  - {id: e, kind: end}\n").unwrap_err();
    let d = &e.diagnostics[0];
    assert_eq!((e.diagnostics.len(), d.line, d.column), (1, 4, 16), "{e}");
    assert_eq!(
        d.message,
        "`more` and `files` are both `attachments`: a process has one set of process attachments"
    );
}

#[test]
fn a_default_of_the_wrong_shape_is_a_deploy_error_that_shows_the_shape() {
    let e = deploy("id: p\ndata:\n  invoice: {type: document, default: 'd-1'}\ntasks:\n  - {id: e, kind: end}\n").unwrap_err();
    let d = &e.diagnostics[0];
    assert_eq!((d.line, d.column), (3, 38), "{e}");
    assert_eq!(
        d.message,
        r#"the default of `invoice` is string but its type is document ({"document": "ID"})"#
    );
}

#[test]
fn start_data_of_the_wrong_shape_is_refused_with_the_shape() {
    let def =
        deploy("id: p\ndata:\n  invoice: document\ntasks:\n  - {id: e, kind: end}\n").unwrap();
    let data = json!({"invoice": "d-1"}).as_object().cloned().unwrap();
    let refused = baton_core::start(&def, "i-1".into(), data, chrono::Utc::now()).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains(r#"`invoice` must be document ({"document": "ID"}), got string"#),
        "{refused}"
    );
}
