//! Stardust's data copy semantics for spawned sub-processes and peer processes, one test per
//! row of its table ("Data Copy/Mapping Semantics for Spawned Subprocesses"), each through a
//! spawn and an abort-and-start, on the engine and a real SQLite store with its documents; then
//! Stardust's data mapping heuristics for documents, one test per rule.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};
use tempfile::TempDir;

use baton_core::user_task::{HumanTaskId, UserTaskCommand};
use baton_core::Instance;
use baton_engine::{Engine, EngineOptions, ManualClock};
use baton_store::{Document, DocumentStore, IdentityStore, NewDocument, NewUser};
use baton_store_sqlite::{Durability, SqliteStore};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn map(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

struct Harness {
    engine: Engine<SqliteStore>,
    _dir: TempDir,
}

impl Harness {
    async fn new(sources: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
        let engine = Engine::new(
            store,
            Arc::new(ManualClock::new(t0())),
            EngineOptions {
                node: "test-node".into(),
                ..EngineOptions::default()
            },
        );
        engine
            .store()
            .add_user(NewUser::named("mary"), t0())
            .await
            .unwrap();
        for (n, source) in sources.iter().enumerate() {
            engine
                .deploy(&format!("flow-{n}.yaml"), source)
                .await
                .unwrap_or_else(|e| panic!("the definition deploys: {e}"));
        }
        Self { engine, _dir: dir }
    }

    /// Stores a document of `document_type` with metadata `{"status": "new"}`; its reference.
    async fn document(&self, id: &str, document_type: &str) -> Value {
        let new = NewDocument {
            id: id.to_owned(),
            name: format!("{id}.pdf"),
            document_type: Some(document_type.to_owned()),
            content_type: "application/pdf".into(),
            created_by: "mary".into(),
            created_at: t0(),
            metadata: map(json!({"status": "new"})),
        };
        self.engine
            .store()
            .add_document(new, format!("content of {id}").into_bytes())
            .await
            .unwrap();
        json!({ "document": id })
    }

    async fn stored(&self, id: &str) -> Document {
        self.engine
            .store()
            .document(id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("document {id} is stored"))
    }

    /// The metadata of the document `instance`'s variable `name` refers to.
    async fn metadata_through(&self, instance: &str, name: &str) -> Map<String, Value> {
        let data = self.get(instance).await.data;
        let id = data[name]["document"]
            .as_str()
            .unwrap_or_else(|| panic!("`{name}` of {instance} is a document: {}", data[name]))
            .to_owned();
        self.stored(&id).await.metadata
    }

    async fn start(&self, process: &str, data: Value) -> Instance {
        Instance::clone(&self.engine.start(process, map(data)).await.unwrap())
    }

    async fn spawn(&self, from: &str, process: &str) -> Instance {
        Instance::clone(
            &self
                .engine
                .spawn(from, process, None, Map::new(), "mary")
                .await
                .unwrap_or_else(|e| panic!("the spawn: {e}")),
        )
    }

    async fn abort_and_start(&self, id: &str, process: &str) -> Instance {
        Instance::clone(
            &self
                .engine
                .abort_and_start(id, process, None, "mary")
                .await
                .unwrap_or_else(|e| panic!("the abort-and-start: {e}")),
        )
    }

    async fn get(&self, id: &str) -> Instance {
        self.engine.instance(id).await.unwrap()
    }

    /// Completes the `work` task (mary's): the instance then changes its data (`change`).
    async fn work(&self, id: &str) {
        let original = HumanTaskId::ORIGINAL;
        self.engine
            .user_task(
                id,
                "work",
                "mary",
                UserTaskCommand::Claim { task: original },
            )
            .await
            .unwrap();
        self.engine
            .user_task(
                id,
                "work",
                "mary",
                UserTaskCommand::Complete {
                    task: original,
                    output: Map::new(),
                },
            )
            .await
            .unwrap();
        while self.engine.fire_due_timers(1000).await.unwrap() > 0 {}
    }

    /// An instance of `origin` started with `data`, a sub-process of `copy` spawned from it,
    /// and the peer of `copy` that replaced another instance of `origin` started with `data`.
    async fn spawned_and_peer(&self, data: Value) -> Copies {
        let origin = self.start("origin", data.clone()).await;
        let spawned = self.spawn(&origin.id, "copy").await;
        let replaced = self.start("origin", data).await;
        let peer = self.abort_and_start(&replaced.id, "copy").await;
        Copies {
            origin: origin.id,
            spawned: spawned.id,
            replaced: replaced.id,
            peer: peer.id,
        }
    }
}

struct Copies {
    origin: String,
    spawned: String,
    replaced: String,
    peer: String,
}

/// The originating process and the one spawned or started in its place: the same variables,
/// a task for mary, then a change of every variable.
const ORIGIN: &str = "
id: origin
data:
  amount: {type: integer, default: 0}
  claim: {type: object, default: {status: open}}
  notes: {type: notes, default: []}
  scan: document
  scans: {type: document_list, default: []}
  folder: folder
  folders: {type: folder_list, default: []}
  client: entity
  files: {type: attachments, default: []}
  letter: {type: xml, default: '<letter/>'}
  profile: {type: any, default: [1, two]}
tasks:
  - {id: work, kind: user, title: Work, owners: [mary]}
  - id: change
    kind: set
    after: [work]
    set:
      amount: data.amount + 1
      claim: \"{'status': 'changed by ' + instance.id}\"
      notes: \"data.notes + [{'text': 'by ' + instance.id}]\"
      scans: \"data.scan == null ? data.scans : data.scans + [data.scan]\"
      folders: \"data.folders + [{'folder': instance.id}]\"
      files: \"data.scan == null ? data.files : data.files + [data.scan]\"
      letter: \"'<letter by=\\\"' + instance.id + '\\\"/>'\"
      profile: \"[instance.id]\"
";

fn copy_source() -> String {
    ORIGIN.replace("id: origin", "id: copy")
}

async fn harness() -> Harness {
    Harness::new(&[ORIGIN, &copy_source()]).await
}

/// Checks a value passed by value: equal on both sides at first, then each side's change is
/// its own.
async fn assert_by_value(h: &Harness, copies: &Copies, name: &str) {
    let (origin, spawned, peer) = (
        h.get(&copies.origin).await,
        h.get(&copies.spawned).await,
        h.get(&copies.peer).await,
    );
    assert_eq!(
        spawned.data[name], origin.data[name],
        "the spawned instance starts with the value of `{name}`"
    );
    assert_eq!(
        peer.data[name],
        h.get(&copies.replaced).await.data[name],
        "so does the peer"
    );
    h.work(&copies.origin).await;
    let changed = h.get(&copies.origin).await.data[name].clone();
    assert_ne!(changed, origin.data[name], "the origin changed `{name}`");
    assert_eq!(
        h.get(&copies.spawned).await.data[name],
        spawned.data[name],
        "the spawned instance does not see the origin's change of `{name}`"
    );
    h.work(&copies.spawned).await;
    assert_ne!(
        h.get(&copies.spawned).await.data[name],
        spawned.data[name],
        "the spawned instance changed its `{name}`"
    );
    assert_eq!(
        h.get(&copies.origin).await.data[name],
        changed,
        "the origin does not see the spawned instance's change of `{name}`"
    );
    h.work(&copies.peer).await;
    assert_ne!(h.get(&copies.peer).await.data[name], peer.data[name]);
    assert_eq!(
        h.get(&copies.replaced).await.data[name],
        peer.data[name],
        "the aborted instance does not see the peer's change of `{name}`"
    );
}

#[tokio::test]
async fn stardust_primitive_data_is_passed_by_value() {
    let h = harness().await;
    let copies = h.spawned_and_peer(json!({"amount": 7})).await;
    assert_eq!(h.get(&copies.spawned).await.data["amount"], json!(7));
    assert_by_value(&h, &copies, "amount").await;
}

#[tokio::test]
async fn stardust_structured_data_is_passed_by_value() {
    let h = harness().await;
    let copies = h
        .spawned_and_peer(json!({"claim": {"status": "open", "lines": [1, 2]}}))
        .await;
    assert_by_value(&h, &copies, "claim").await;
}

#[tokio::test]
async fn stardust_an_xml_document_is_passed_by_value() {
    let h = harness().await;
    let copies = h
        .spawned_and_peer(json!({"letter": "<letter><to>client</to></letter>"}))
        .await;
    assert_by_value(&h, &copies, "letter").await;
}

/// Stardust's serializable data (a serialized object of any shape) is `any` in Baton.
#[tokio::test]
async fn stardust_serializable_data_is_passed_by_value() {
    let h = harness().await;
    let copies = h
        .spawned_and_peer(json!({"profile": {"tags": ["a", "b"], "score": 0.5}}))
        .await;
    assert_by_value(&h, &copies, "profile").await;
}

#[tokio::test]
async fn stardust_notes_are_passed_by_value() {
    let h = harness().await;
    let copies = h
        .spawned_and_peer(json!({"notes": [{"text": "called the client", "author": "mary"}]}))
        .await;
    assert_by_value(&h, &copies, "notes").await;
}

#[tokio::test]
async fn stardust_a_document_is_passed_by_reference() {
    let h = harness().await;
    let scan = h.document("d-1", "invoice").await;
    let copies = h.spawned_and_peer(json!({"scan": scan})).await;
    for copy in [&copies.spawned, &copies.peer] {
        assert_eq!(
            h.get(copy).await.data["scan"],
            scan,
            "the same document, not a copy of it"
        );
    }
    // A metadata change on the document is seen by every instance referring to it.
    h.engine
        .store()
        .update_document_metadata("d-1", map(json!({"status": "paid"})), t0())
        .await
        .unwrap();
    for instance in [
        &copies.origin,
        &copies.spawned,
        &copies.replaced,
        &copies.peer,
    ] {
        assert_eq!(
            h.metadata_through(instance, "scan").await,
            map(json!({"status": "paid"}))
        );
    }
    let mut referring = h
        .engine
        .store()
        .referencing_instances("d-1", 10)
        .await
        .unwrap();
    let mut all = vec![copies.origin, copies.spawned, copies.replaced, copies.peer];
    referring.sort();
    all.sort();
    assert_eq!(
        referring, all,
        "the store's index of references holds every instance referring to it"
    );
}

#[tokio::test]
async fn stardust_a_document_list_is_a_shallow_copy_the_list_copied_its_documents_by_reference() {
    let h = harness().await;
    let scan = h.document("d-1", "invoice").await;
    let other = h.document("d-2", "invoice").await;
    let copies = h
        .spawned_and_peer(json!({"scan": scan, "scans": [other]}))
        .await;
    assert_by_value(&h, &copies, "scans").await;
    // Each list still holds the same document d-2: its metadata change is seen through both.
    h.engine
        .store()
        .update_document_metadata("d-2", map(json!({"status": "paid"})), t0())
        .await
        .unwrap();
    for instance in [&copies.origin, &copies.spawned] {
        let list = h.get(instance).await.data["scans"].clone();
        assert_eq!(list[0], other, "{instance} refers to d-2");
        assert_eq!(h.stored("d-2").await.metadata["status"], json!("paid"));
    }
}

#[tokio::test]
async fn stardust_a_folder_is_passed_by_reference() {
    let h = harness().await;
    let copies = h
        .spawned_and_peer(json!({"folder": {"folder": "claims/2026/17"}}))
        .await;
    for copy in [&copies.spawned, &copies.peer] {
        assert_eq!(
            h.get(copy).await.data["folder"],
            json!({"folder": "claims/2026/17"}),
            "the same folder"
        );
    }
}

#[tokio::test]
async fn stardust_a_folder_list_is_a_shallow_copy() {
    let h = harness().await;
    let copies = h
        .spawned_and_peer(json!({"folders": [{"folder": "claims/2026/17"}]}))
        .await;
    assert_by_value(&h, &copies, "folders").await;
    assert_eq!(
        h.get(&copies.spawned).await.data["folders"][0],
        json!({"folder": "claims/2026/17"}),
        "its folders are the same folders"
    );
}

#[tokio::test]
async fn stardust_an_entity_is_passed_by_reference() {
    let h = harness().await;
    let copies = h
        .spawned_and_peer(json!({"client": {"entity": "customer", "id": 4711}}))
        .await;
    for copy in [&copies.spawned, &copies.peer] {
        assert_eq!(
            h.get(copy).await.data["client"],
            json!({"entity": "customer", "id": 4711}),
            "the same record"
        );
    }
}

#[tokio::test]
async fn stardust_process_attachments_follow_the_document_list_rule() {
    let h = harness().await;
    let scan = h.document("d-1", "invoice").await;
    let attached = h.document("d-2", "letter").await;
    let copies = h
        .spawned_and_peer(json!({"scan": scan, "files": [attached]}))
        .await;
    assert_by_value(&h, &copies, "files").await;
    assert_eq!(
        h.get(&copies.spawned).await.data["files"],
        json!([attached, scan]),
        "the spawned instance's own list: d-2, then the scan it added"
    );
    assert_eq!(
        h.get(&copies.origin).await.data["files"],
        json!([attached, scan]),
        "and the origin's: each added the same document to its own list"
    );
}

// ---- Stardust's data mapping heuristics

/// What users spawn or start in place of the claim: the names differ, so nothing of the
/// claim's document data passes by name into a variable it declares.
const REQUEST: &str = "
id: request
data:
  bill: {type: document, document_type: invoice}
  files: attachments
tasks:
  - {id: work, kind: user, title: Work, owners: [mary]}
";

#[tokio::test]
async fn every_data_value_passes_whether_or_not_the_spawned_definition_uses_it() {
    let claim = "
id: claim
data:
  invoice: {type: document, document_type: invoice}
  amount: {type: integer, default: 5}
tasks:
  - {id: work, kind: user, title: Work, owners: [mary]}
";
    let h = Harness::new(&[claim, REQUEST]).await;
    let invoice = h.document("d-1", "invoice").await;
    let origin = h.start("claim", json!({"invoice": invoice})).await;
    let spawned = h.spawn(&origin.id, "request").await;
    assert_eq!(
        (
            spawned.data["invoice"].clone(),
            spawned.data["amount"].clone()
        ),
        (invoice, json!(5)),
        "carried as they are, unused"
    );
}

#[tokio::test]
async fn stardust_same_type_rule_the_one_document_of_a_type_passes_to_the_one_of_that_type_with_its_metadata(
) {
    let claim = "
id: claim
data:
  invoice: {type: document, document_type: invoice}
  passport: {type: document, document_type: passport}
tasks:
  - {id: work, kind: user, title: Work, owners: [mary]}
";
    let h = Harness::new(&[claim, REQUEST]).await;
    let invoice = h.document("d-1", "invoice").await;
    let passport = h.document("d-2", "passport").await;
    let origin = h
        .start("claim", json!({"invoice": invoice, "passport": passport}))
        .await;
    let spawned = h.spawn(&origin.id, "request").await;
    assert_eq!(
        spawned.data["bill"], invoice,
        "the invoice passed to `bill`: the same document, with its metadata"
    );
    assert_eq!(
        h.metadata_through(&spawned.id, "bill").await,
        map(json!({"status": "new"}))
    );
    assert_eq!(
        spawned.data["files"],
        json!([passport]),
        "the passport matched no rule: a process attachment"
    );
}

#[tokio::test]
async fn stardust_one_document_rule_the_only_document_passes_to_the_only_one_without_its_metadata()
{
    let letter = "
id: letter
data:
  scan: {type: document, document_type: letter}
tasks:
  - {id: work, kind: user, title: Work, owners: [mary]}
";
    let h = Harness::new(&[letter, REQUEST]).await;
    let scan = h.document("d-1", "letter").await;
    let origin = h.start("letter", json!({"scan": scan})).await;
    for copy in [
        h.spawn(&origin.id, "request").await,
        h.abort_and_start(&origin.id, "request").await,
    ] {
        let id = copy.data["bill"]["document"]
            .as_str()
            .expect("`bill` holds a document")
            .to_owned();
        assert_ne!(id, "d-1", "a copy of the document, not the document");
        let (copied, original) = (h.stored(&id).await, h.stored("d-1").await);
        assert_eq!(copied.metadata, Map::new(), "without its metadata");
        assert_eq!(
            (
                copied.sha256,
                copied.name,
                copied.created_by,
                copied.version
            ),
            (
                original.sha256.clone(),
                original.name.clone(),
                "mary".to_owned(),
                1
            )
        );
        assert_eq!(
            original.metadata,
            map(json!({"status": "new"})),
            "the original keeps its metadata"
        );
        assert_eq!(
            h.engine.store().document_content(&id).await.unwrap(),
            h.engine.store().document_content("d-1").await.unwrap()
        );
        assert_eq!(
            copy.data["files"],
            Value::Null,
            "nothing left over to attach"
        );
        assert_eq!(
            copy.data["scan"], scan,
            "and the value passed by name all the same"
        );
    }
}

#[tokio::test]
async fn stardust_otherwise_the_documents_pass_as_process_attachments_with_their_metadata() {
    let claim = "
id: claim
data:
  front: {type: document, document_type: id-front}
  back: {type: document, document_type: id-back}
tasks:
  - {id: work, kind: user, title: Work, owners: [mary]}
";
    let h = Harness::new(&[claim, REQUEST]).await;
    let front = h.document("d-1", "id-front").await;
    let back = h.document("d-2", "id-back").await;
    let origin = h
        .start("claim", json!({"front": front, "back": back}))
        .await;
    let spawned = h.spawn(&origin.id, "request").await;
    assert_eq!(
        spawned.data["files"],
        json!([front, back]),
        "the same documents, with their metadata"
    );
    assert_eq!(
        spawned.data["bill"],
        Value::Null,
        "no rule put either in `bill`"
    );
}

#[tokio::test]
async fn stardust_unless_the_spawned_definition_supports_no_process_attachments() {
    let claim = "
id: claim
data:
  front: {type: document, document_type: id-front}
  back: {type: document, document_type: id-back}
tasks:
  - {id: work, kind: user, title: Work, owners: [mary]}
";
    let without_attachments = "
id: request
data:
  bill: {type: document, document_type: invoice}
tasks:
  - {id: work, kind: user, title: Work, owners: [mary]}
";
    let h = Harness::new(&[claim, without_attachments]).await;
    let front = h.document("d-1", "id-front").await;
    let back = h.document("d-2", "id-back").await;
    let origin = h
        .start("claim", json!({"front": front, "back": back}))
        .await;
    let spawned = h.spawn(&origin.id, "request").await;
    assert_eq!(
        spawned.data["bill"],
        Value::Null,
        "no rule put either in `bill`"
    );
    assert_eq!(
        (spawned.data["front"].clone(), spawned.data["back"].clone()),
        (front, back),
        "passed by name only, as every value is"
    );
    assert_eq!(spawned.data.len(), 3);
}

#[tokio::test]
async fn stardust_document_lists_follow_the_same_rules() {
    let claim = "
id: claim
data:
  scans: {type: document_list, document_type: scan}
  photos: {type: document_list, document_type: photo}
tasks:
  - {id: work, kind: user, title: Work, owners: [mary]}
";
    let request = "
id: request
data:
  pages: {type: document_list, document_type: scan}
  files: attachments
tasks:
  - {id: work, kind: user, title: Work, owners: [mary]}
";
    let h = Harness::new(&[claim, request]).await;
    let (one, two, photo) = (
        h.document("d-1", "scan").await,
        h.document("d-2", "scan").await,
        h.document("d-3", "photo").await,
    );
    let origin = h
        .start("claim", json!({"scans": [one, two], "photos": [photo]}))
        .await;
    let spawned = h.spawn(&origin.id, "request").await;
    assert_eq!(
        spawned.data["pages"],
        json!([one, two]),
        "same-type rule: the list passed with its documents' metadata"
    );
    assert_eq!(
        spawned.data["files"],
        json!([photo]),
        "the photos matched no rule"
    );

    let single = "
id: single
data:
  photos: {type: document_list, document_type: photo}
tasks:
  - {id: work, kind: user, title: Work, owners: [mary]}
";
    let only_pages = "
id: only-pages
data:
  pages: {type: document_list, document_type: scan}
tasks:
  - {id: work, kind: user, title: Work, owners: [mary]}
";
    let h = Harness::new(&[single, only_pages]).await;
    let photo = h.document("d-3", "photo").await;
    let origin = h.start("single", json!({"photos": [photo]})).await;
    let spawned = h.spawn(&origin.id, "only-pages").await;
    let pages = spawned.data["pages"]
        .as_array()
        .expect("one-document rule: `pages` holds a list")
        .clone();
    assert_eq!(pages.len(), 1);
    let copy = h.stored(pages[0]["document"].as_str().unwrap()).await;
    assert_ne!(copy.id, "d-3");
    assert_eq!(
        (copy.metadata, copy.sha256),
        (Map::new(), h.stored("d-3").await.sha256),
        "the documents copied without their metadata"
    );
}

#[tokio::test]
async fn the_originating_process_attachments_become_the_new_instances_whatever_each_calls_them() {
    let claim = "
id: claim
data:
  attached: attachments
tasks:
  - {id: work, kind: user, title: Work, owners: [mary]}
";
    let h = Harness::new(&[claim, REQUEST]).await;
    let letter = h.document("d-1", "letter").await;
    let origin = h.start("claim", json!({"attached": [letter]})).await;
    let spawned = h.spawn(&origin.id, "request").await;
    assert_eq!(spawned.data["files"], json!([letter]));
    assert_eq!(spawned.data["bill"], Value::Null);
}

#[tokio::test]
async fn a_value_the_user_gives_is_not_overwritten_by_the_heuristics() {
    let letter = "
id: letter
data:
  scan: {type: document, document_type: letter}
tasks:
  - {id: work, kind: user, title: Work, owners: [mary]}
";
    let h = Harness::new(&[letter, REQUEST]).await;
    let scan = h.document("d-1", "letter").await;
    let chosen = h.document("d-2", "invoice").await;
    let origin = h.start("letter", json!({"scan": scan})).await;
    let given = map(json!({"bill": chosen}));
    let spawned = h
        .engine
        .spawn(&origin.id, "request", None, given, "mary")
        .await
        .unwrap();
    assert_eq!(spawned.data["bill"], chosen);
    assert_eq!(
        spawned.data["files"],
        json!([scan]),
        "the letter found no free document variable: an attachment"
    );
}
