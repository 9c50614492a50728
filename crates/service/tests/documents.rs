//! Documents for users, on a server's service: upload, read, download and set metadata, and
//! who may. A user who may see an instance may read the documents its data refers to; others
//! may not, except the uploader and administrators; and data may not name a document its
//! giver may not read.

mod support;

use baton_api_model::ErrorKind;
use baton_service::{Service, Upload};
use serde_json::{json, Map, Value};

fn map(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

/// A claim that refers to a scan and waits for its check.
const CLAIM: &str = "id: claim
data:
  scan: {type: document, document_type: invoice}
tasks:
  - {id: check, kind: user, title: Check, owners: [group:editors], form: {scan: document}}
";

fn pdf(name: &str) -> Upload {
    Upload {
        name: name.into(),
        content_type: "application/pdf".into(),
        document_type: Some("invoice".into()),
        metadata: map(json!({"client": "ACME"})),
        content: b"%PDF-1.7".to_vec(),
    }
}

/// The set-up, and a server's service over the same engine (not the command line's).
async fn server() -> (tempfile::TempDir, support::SqliteService) {
    let (dir, local) = support::ready().await;
    local
        .deploy("operator", vec![support::file("claim.yaml", CLAIM)])
        .await
        .unwrap();
    let server = Service::new(local.engine().clone());
    (dir, server)
}

#[tokio::test]
async fn an_uploaded_document_reads_back_with_its_record_content_and_metadata_versions() {
    let (_dir, service) = server().await;
    let uploaded = service
        .upload_document("john", pdf("invoice.pdf"))
        .await
        .unwrap();
    assert_eq!(
        (
            uploaded.name.as_str(),
            uploaded.document_type.as_deref(),
            uploaded.size,
            uploaded.version
        ),
        ("invoice.pdf", Some("invoice"), 8, 1)
    );
    assert_eq!(
        (uploaded.created_by.as_str(), uploaded.metadata.clone()),
        ("john", map(json!({"client": "ACME"})))
    );
    let (record, content) = service
        .document_content("john", &uploaded.id)
        .await
        .unwrap();
    assert_eq!((record, content), (uploaded.clone(), b"%PDF-1.7".to_vec()));
    let updated = service
        .set_document_metadata(
            "john",
            &uploaded.id,
            map(json!({"status": "paid", "client": null})),
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.version, updated.metadata),
        (2, map(json!({"status": "paid"})))
    );
}

#[tokio::test]
async fn a_document_no_instance_refers_to_is_read_only_by_its_uploader_and_administrators() {
    let (_dir, service) = server().await;
    let id = service
        .upload_document("john", pdf("invoice.pdf"))
        .await
        .unwrap()
        .id;
    let refused = service.document("eve", &id).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Forbidden);
    assert_eq!(refused.to_string(), format!("eve may not read document `{id}`: they did not upload it and no instance they may see refers to it"));
    assert_eq!(
        service
            .document_content("eve", &id)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Forbidden
    );
    let refused = service
        .set_document_metadata("eve", &id, map(json!({"status": "stolen"})))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Forbidden);
    assert_eq!(
        service.document("john", &id).await.unwrap().version,
        1,
        "the refused update changed nothing"
    );
    assert!(
        service.document("chief", &id).await.is_ok(),
        "administrators may"
    );
    assert_eq!(
        service
            .document("eve", "no-such-document")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn a_user_who_may_see_an_instance_may_read_the_documents_it_refers_to() {
    let (_dir, service) = server().await;
    let id = service
        .upload_document("john", pdf("invoice.pdf"))
        .await
        .unwrap()
        .id;
    service
        .start("john", "claim", map(json!({"scan": {"document": id}})))
        .await
        .unwrap();
    let (record, _) = service.document_content("eve", &id).await.unwrap();
    assert_eq!(record.id, id);
}

#[tokio::test]
async fn data_that_names_a_document_its_giver_may_not_read_is_refused_and_starts_nothing() {
    let (_dir, service) = server().await;
    let id = service
        .upload_document("john", pdf("invoice.pdf"))
        .await
        .unwrap()
        .id;
    let refused = service
        .start("eve", "claim", map(json!({"scan": {"document": id}})))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Forbidden, "{refused}");
    let refused = service
        .start(
            "john",
            "claim",
            map(json!({"scan": {"document": "made-up"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::NotFound, "{refused}");
    assert!(
        service
            .instances("chief", None, false, 100)
            .await
            .unwrap()
            .iter()
            .all(|i| i.process != "claim"),
        "nothing started"
    );
    assert_eq!(
        service.document("eve", &id).await.unwrap_err().kind(),
        ErrorKind::Forbidden,
        "still not hers to read"
    );
}

#[tokio::test]
async fn a_bad_upload_is_refused_and_stores_nothing() {
    let (dir, service) = server().await;
    let too_large = Upload {
        content: vec![0; baton_store::documents::MAX_CONTENT_BYTES + 1],
        ..pdf("big.pdf")
    };
    let refused = service
        .upload_document("john", too_large)
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Invalid);
    assert!(
        refused
            .to_string()
            .contains("more than a document may have (10485760 bytes)"),
        "{refused}"
    );
    for (field, upload) in [
        (
            "document_type",
            Upload {
                document_type: Some("in voice".into()),
                ..pdf("a.pdf")
            },
        ),
        (
            "content_type",
            Upload {
                content_type: "pdf".into(),
                ..pdf("a.pdf")
            },
        ),
    ] {
        let refused = service.upload_document("john", upload).await.unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Invalid, "{field}: {refused}");
        assert!(
            refused
                .to_string()
                .starts_with(&format!("`{field}` is not allowed")),
            "{refused}"
        );
    }
    assert!(
        !dir.path().join("documents").exists(),
        "no content was written"
    );
}
