//! The document conformance suite: what every [`DocumentStore`] must do, written once and run
//! against each store on a fresh database per check. A store's tests get one test per check
//! with [`document_conformance_tests!`](crate::document_conformance_tests).

use serde_json::{json, Map, Value};

use crate::conformance::{instance, t0};
use crate::documents::{
    DocumentCopy, DocumentError, DocumentStore, NewDocument, MAX_CONTENT_BYTES, MAX_METADATA_BYTES,
};
use crate::{StepRecord, Store};

/// Generates one `#[test]` per document check, each on a fresh store from `$fresh`.
#[macro_export]
macro_rules! document_conformance_tests {
    ($fresh:path) => {
        $crate::document_conformance_tests!($fresh, if $crate::conformance::always);
    };
    // Each test first asks `$ready` (a `fn() -> bool`), and passes without running the check
    // when it says no (a store whose server is not configured; `$ready` says why).
    ($fresh:path, if $ready:path) => {
        $crate::document_conformance_tests!(@tests $ready, $fresh;
            a_stored_document_reads_back_with_its_record_and_content,
            identical_content_is_stored_once_under_its_hash,
            content_past_the_limit_is_refused_and_stores_nothing,
            metadata_past_the_limit_is_refused_at_upload_and_at_update,
            a_metadata_update_sets_and_removes_keys_and_bumps_the_version,
            an_unknown_document_reads_as_none_and_its_update_is_refused,
            the_index_of_references_follows_each_steps_documents,
            the_references_of_a_document_in_a_department_scope_are_those_of_its_instances,
            a_copy_committed_with_a_step_has_the_content_and_no_metadata,
        );
    };
    (@tests $ready:path, $fresh:path; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                if $ready() {
                    $crate::conformance::run_one($fresh, $crate::document_conformance::$check);
                }
            }
        )*
    };
}

fn map(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

/// A document to store: `invoice.pdf`, of type `invoice`, by mary.
pub fn new_document(id: &str) -> NewDocument {
    NewDocument {
        id: id.to_owned(),
        name: "invoice.pdf".into(),
        document_type: Some("invoice".into()),
        content_type: "application/pdf".into(),
        created_by: "mary".into(),
        created_at: t0(),
        metadata: map(json!({"client": "ACME"})),
    }
}

pub async fn a_stored_document_reads_back_with_its_record_and_content<S: DocumentStore>(store: S) {
    let stored = store
        .add_document(new_document("d-1"), b"%PDF-1.7 hello".to_vec())
        .await
        .unwrap();
    assert_eq!(stored.size, 14);
    // SHA-256 of the content, in lower-case hex.
    assert_eq!(
        stored.sha256,
        "2a916d83fa20d97c7c3c04cf07b2d3f8d18ea47f59c841a221dd3a81f15fc347"
    );
    assert_eq!(
        (
            stored.version,
            stored.updated_at,
            stored.created_by.as_str()
        ),
        (1, t0(), "mary")
    );
    assert_eq!(store.document("d-1").await.unwrap(), Some(stored));
    assert_eq!(
        store.document_content("d-1").await.unwrap().as_deref(),
        Some(&b"%PDF-1.7 hello"[..])
    );
}

pub async fn identical_content_is_stored_once_under_its_hash<S: DocumentStore>(store: S) {
    let a = store
        .add_document(new_document("d-1"), b"same".to_vec())
        .await
        .unwrap();
    let b = store
        .add_document(
            NewDocument {
                name: "copy.pdf".into(),
                ..new_document("d-2")
            },
            b"same".to_vec(),
        )
        .await
        .unwrap();
    let c = store
        .add_document(new_document("d-3"), b"other".to_vec())
        .await
        .unwrap();
    assert_eq!(a.sha256, b.sha256);
    assert_ne!(a.sha256, c.sha256);
    // SHA-256 of "same".
    assert_eq!(
        a.sha256,
        "0967115f2813a3541eaef77de9d9d5773f1c0c04314b0bbfe4ff3b3b1c55b5d5"
    );
    assert_eq!(
        store.document_content("d-2").await.unwrap().as_deref(),
        Some(&b"same"[..])
    );
}

pub async fn content_past_the_limit_is_refused_and_stores_nothing<S: DocumentStore>(store: S) {
    let refused = store
        .add_document(new_document("d-1"), vec![0; MAX_CONTENT_BYTES + 1])
        .await
        .unwrap_err();
    assert!(
        matches!(refused, DocumentError::ContentTooLarge { size, max } if size == MAX_CONTENT_BYTES + 1 && max == MAX_CONTENT_BYTES),
        "{refused}"
    );
    assert_eq!(store.document("d-1").await.unwrap(), None);
    let at_the_limit = store
        .add_document(new_document("d-2"), vec![7; MAX_CONTENT_BYTES])
        .await
        .unwrap();
    assert_eq!(at_the_limit.size, MAX_CONTENT_BYTES as u64);
    let refused = store
        .add_document(
            NewDocument {
                name: String::new(),
                ..new_document("d-3")
            },
            b"x".to_vec(),
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, DocumentError::BadName(_)), "{refused}");
}

pub async fn metadata_past_the_limit_is_refused_at_upload_and_at_update<S: DocumentStore>(
    store: S,
) {
    let big = map(json!({"notes": "x".repeat(MAX_METADATA_BYTES)}));
    let refused = store
        .add_document(
            NewDocument {
                metadata: big.clone(),
                ..new_document("d-1")
            },
            b"x".to_vec(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            DocumentError::MetadataTooLarge {
                max: MAX_METADATA_BYTES,
                ..
            }
        ),
        "{refused}"
    );
    assert_eq!(store.document("d-1").await.unwrap(), None);
    let stored = store
        .add_document(new_document("d-2"), b"x".to_vec())
        .await
        .unwrap();
    let refused = store
        .update_document_metadata("d-2", big, t0())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, DocumentError::MetadataTooLarge { .. }),
        "{refused}"
    );
    assert_eq!(
        store.document("d-2").await.unwrap(),
        Some(stored),
        "a refused update changes nothing"
    );
}

pub async fn a_metadata_update_sets_and_removes_keys_and_bumps_the_version<S: DocumentStore>(
    store: S,
) {
    store
        .add_document(new_document("d-1"), b"x".to_vec())
        .await
        .unwrap();
    let later = t0() + chrono::Duration::seconds(30);
    let updated = store
        .update_document_metadata("d-1", map(json!({"status": "paid", "client": null})), later)
        .await
        .unwrap();
    assert_eq!(updated.metadata, map(json!({"status": "paid"})));
    assert_eq!(
        (updated.version, updated.updated_at, updated.created_at),
        (2, later, t0())
    );
    assert_eq!(store.document("d-1").await.unwrap(), Some(updated));
}

pub async fn an_unknown_document_reads_as_none_and_its_update_is_refused<S: DocumentStore>(
    store: S,
) {
    assert_eq!(store.document("nope").await.unwrap(), None);
    assert_eq!(store.document_content("nope").await.unwrap(), None);
    let refused = store
        .update_document_metadata("nope", Map::new(), t0())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, DocumentError::UnknownDocument(ref id) if id == "nope"),
        "{refused}"
    );
}

/// Who may read a document follows the instances that refer to it in the reader's department
/// scope, found in the index's query.
pub async fn the_references_of_a_document_in_a_department_scope_are_those_of_its_instances<
    S: Store + DocumentStore,
>(
    store: S,
) {
    use crate::DepartmentScope;
    store
        .add_document(new_document("d-1"), b"x".to_vec())
        .await
        .unwrap();
    for (id, department) in [
        ("i-1", Some("legal")),
        ("i-2", Some("sales")),
        ("i-3", None),
    ] {
        let mut inst = instance(id);
        inst.department = department.map(str::to_owned);
        let documents = if id == "i-3" {
            Vec::new()
        } else {
            vec!["d-1".to_owned()]
        };
        store
            .commit(vec![StepRecord {
                instance: Some(inst.into()),
                new: true,
                documents: Some(documents),
                ..StepRecord::default()
            }])
            .await
            .unwrap();
    }
    let legal = DepartmentScope::Department("legal".into());
    assert_eq!(
        store
            .referencing_instances_in("d-1", &legal, 10)
            .await
            .unwrap(),
        ["i-1"]
    );
    assert_eq!(
        store
            .referencing_instances_in("d-1", &DepartmentScope::Unscoped, 10)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        store
            .referencing_instances_in("d-1", &DepartmentScope::All, 10)
            .await
            .unwrap(),
        ["i-1", "i-2"]
    );
}

pub async fn the_index_of_references_follows_each_steps_documents<S: Store + DocumentStore>(
    store: S,
) {
    store
        .add_document(new_document("d-1"), b"x".to_vec())
        .await
        .unwrap();
    store
        .add_document(new_document("d-2"), b"y".to_vec())
        .await
        .unwrap();
    let first = StepRecord {
        instance: Some(instance("i-1").into()),
        new: true,
        documents: Some(vec!["d-1".into(), "d-2".into()]),
        ..StepRecord::default()
    };
    store.commit(vec![first]).await.unwrap();
    let other = StepRecord {
        instance: Some(instance("i-2").into()),
        new: true,
        documents: Some(vec!["d-1".into()]),
        ..StepRecord::default()
    };
    store.commit(vec![other]).await.unwrap();
    assert_eq!(
        store.referencing_instances("d-1", 10).await.unwrap(),
        ["i-1", "i-2"]
    );
    assert_eq!(
        store.referencing_instances("d-1", 1).await.unwrap(),
        ["i-1"]
    );
    assert_eq!(
        store.referencing_instances("d-2", 10).await.unwrap(),
        ["i-1"]
    );

    // A step that names no documents leaves the rows; one that names others replaces them.
    let state = store.instance("i-1").await.unwrap().unwrap();
    let untouched = StepRecord {
        instance: Some(state.clone().into()),
        expected_seq: state.next_seq,
        ..StepRecord::default()
    };
    store.commit(vec![untouched]).await.unwrap();
    assert_eq!(
        store.referencing_instances("d-2", 10).await.unwrap(),
        ["i-1"]
    );
    let replaced = StepRecord {
        instance: Some(state.clone().into()),
        expected_seq: state.next_seq,
        documents: Some(vec!["d-1".into()]),
        ..StepRecord::default()
    };
    store.commit(vec![replaced]).await.unwrap();
    assert_eq!(
        store.referencing_instances("d-2", 10).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        store.referencing_instances("d-1", 10).await.unwrap(),
        ["i-1", "i-2"]
    );
}

pub async fn a_copy_committed_with_a_step_has_the_content_and_no_metadata<
    S: Store + DocumentStore,
>(
    store: S,
) {
    let original = store
        .add_document(new_document("d-1"), b"scan".to_vec())
        .await
        .unwrap();
    let later = t0() + chrono::Duration::seconds(5);
    let copies = vec![
        DocumentCopy {
            from: "d-1".into(),
            to: "d-2".into(),
            by: "john".into(),
            at: later,
        },
        DocumentCopy {
            from: "missing".into(),
            to: "d-3".into(),
            by: "john".into(),
            at: later,
        },
    ];
    let step = StepRecord {
        instance: Some(instance("i-1").into()),
        new: true,
        copy_documents: copies,
        documents: Some(vec!["d-2".into()]),
        ..StepRecord::default()
    };
    store.commit(vec![step]).await.unwrap();
    let copy = store
        .document("d-2")
        .await
        .unwrap()
        .expect("the copy is stored");
    assert_eq!(
        (
            copy.name.as_str(),
            copy.document_type.as_deref(),
            copy.content_type.as_str(),
            copy.sha256.as_str()
        ),
        (
            "invoice.pdf",
            Some("invoice"),
            "application/pdf",
            original.sha256.as_str()
        )
    );
    assert_eq!(
        (
            copy.metadata,
            copy.version,
            copy.created_by.as_str(),
            copy.created_at
        ),
        (Map::new(), 1, "john", later)
    );
    assert_eq!(
        store.document_content("d-2").await.unwrap().as_deref(),
        Some(&b"scan"[..])
    );
    assert_eq!(
        store.document("d-3").await.unwrap(),
        None,
        "a copy of a document the store does not have copies nothing"
    );
    assert_eq!(
        store.document("d-1").await.unwrap(),
        Some(original),
        "the original is as it was"
    );
}
