//! Pega's offer-fulfilment example (`examples/offer-fulfilment/`) through the engine and a real
//! SQLite store: an agent records that the customer accepted an offer (a Customer Decision Hub
//! action), the offer hands off FulfillOffer (Pega's Hand Off shape), records the Work Status
//! `Pending-Fulfillment` and a reference code built from `referenced_instances` (Pega's
//! pyReferencedInsKeys); the fulfilment waits in the `fulfilment` workbasket and is resolved upon
//! approval, long after the offer completed. A declined offer hands off nothing.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};
use tempfile::TempDir;

use baton_core::instance::LinkKind;
use baton_core::user_task::{HumanTaskId, UserTaskCommand};
use baton_core::{EventKind, Instance, InstanceStatus, TaskStatus};
use baton_engine::{Engine, EngineOptions, ErrorKind, ManualClock};
use baton_store::{
    IdentityStore, InboxFilter, InboxReader, InboxRow, InstanceQuery, InstanceReader, NewUser, Page,
};
use baton_store_sqlite::{Durability, SqliteStore};

type SqliteEngine = Engine<SqliteStore>;

/// The agent who records the customer's answer (group `agents`).
const AGENT: &str = "ann";
/// The fulfilment clerk (group `fulfilment`, the workbasket).
const CLERK: &str = "bob";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// The example's two definitions, as `baton deploy examples/offer-fulfilment/*.yaml` reads them.
fn example_files() -> Vec<(String, String)> {
    ["offer.yaml", "fulfil-offer.yaml"]
        .into_iter()
        .map(|name| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples/offer-fulfilment")
                .join(name);
            let source = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            (format!("examples/offer-fulfilment/{name}"), source)
        })
        .collect()
}

/// An engine on a fresh database with the example deployed and its people: the agent in
/// `agents`, the clerk in `fulfilment`.
struct Harness {
    engine: SqliteEngine,
    clock: Arc<ManualClock>,
    _dir: TempDir,
}

impl Harness {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal)
            .expect("the database opens");
        let clock = Arc::new(ManualClock::new(t0()));
        let engine = Engine::new(
            store,
            clock.clone(),
            EngineOptions {
                node: "test-node".into(),
                ..EngineOptions::default()
            },
        );
        for (user, group) in [(AGENT, "agents"), (CLERK, "fulfilment")] {
            engine
                .store()
                .add_user(NewUser::named(user), t0())
                .await
                .unwrap();
            engine.store().add_group(group, t0()).await.unwrap();
            engine.store().add_member(group, user).await.unwrap();
        }
        let deployed = engine
            .deploy_all(&example_files())
            .await
            .unwrap_or_else(|e| panic!("the example deploys: {e}"));
        let versions: Vec<(&str, u32, bool)> = deployed
            .iter()
            .map(|d| (d.id.as_str(), d.version, d.unchanged))
            .collect();
        assert_eq!(versions, [("offer", 1, false), ("fulfil-offer", 1, false)]);
        Self {
            engine,
            clock,
            _dir: dir,
        }
    }

    async fn get(&self, id: &str) -> Instance {
        self.engine.instance(id).await.unwrap()
    }

    async fn task(&self, id: &str, task: &str) -> TaskStatus {
        let instance = self.get(id).await;
        let def = self
            .engine
            .definition(&instance.definition_id, Some(instance.definition_version))
            .await
            .unwrap();
        instance.tasks[def.task_index(task).unwrap()].status.clone()
    }

    /// `user` claims and completes the human task of user task `task` with `output`.
    async fn claim_and_complete(
        &self,
        id: &str,
        task: &str,
        user: &str,
        output: Value,
    ) -> Instance {
        let original = HumanTaskId::ORIGINAL;
        self.engine
            .user_task(id, task, user, UserTaskCommand::Claim { task: original })
            .await
            .unwrap();
        let output = output.as_object().cloned().unwrap();
        Instance::clone(
            &self
                .engine
                .user_task(
                    id,
                    task,
                    user,
                    UserTaskCommand::Complete {
                        task: original,
                        output,
                    },
                )
                .await
                .unwrap(),
        )
    }

    /// An offer with the example's defaults, to which the customer answered `accepted`.
    async fn answered_offer(&self, accepted: bool) -> Instance {
        let started = self.engine.start("offer", Map::new()).await.unwrap();
        assert_eq!(
            started.status,
            InstanceStatus::Waiting,
            "the offer waits for the customer's answer"
        );
        self.claim_and_complete(
            &started.id,
            "present_offer",
            AGENT,
            json!({"accepted": accepted}),
        )
        .await
    }

    async fn inbox(&self, user: &str) -> Vec<InboxRow> {
        let groups = self.engine.store().groups_of(user).await.unwrap();
        self.engine
            .store()
            .inbox(user, &groups, &InboxFilter::default(), Page::default())
            .await
            .unwrap()
            .rows
    }

    async fn stored_instances(&self) -> usize {
        self.engine
            .store()
            .list_instances(&InstanceQuery {
                limit: 100,
                ..InstanceQuery::default()
            })
            .await
            .unwrap()
            .len()
    }
}

#[tokio::test]
async fn an_accepted_offer_hands_off_fulfil_offer_and_records_pending_fulfillment_and_a_reference_code(
) {
    let h = Harness::new().await;
    let offer = h.answered_offer(true).await;
    assert_eq!(
        offer.status,
        InstanceStatus::Completed,
        "the offer's flow resumed after the hand-off and ended"
    );
    assert_eq!(
        offer.work_status.as_deref(),
        Some("Pending-Fulfillment"),
        "the Hand Off shape's Work Status"
    );
    let [fulfilment] = offer.referenced_instances.as_slice() else {
        panic!(
            "one hand-off is referenced: {:?}",
            offer.referenced_instances
        )
    };

    let code = format!("OF-{fulfilment}");
    assert_eq!(
        offer.data["reference_code"],
        json!(code),
        "the reference code is built from pyReferencedInsKeys"
    );
    let email = &offer.data["confirmation"];
    assert_eq!(
        email["to"],
        json!("ann@example.com"),
        "the email goes to the customer"
    );
    assert!(
        email["body"]
            .as_str()
            .unwrap()
            .contains(&format!("Your reference code is {code}.")),
        "{email}"
    );

    let history = h.engine.store().history(&offer.id).await.unwrap();
    assert!(history.iter().any(|e| matches!(&e.kind, EventKind::ChildStarted { child, process, link: LinkKind::Handoff, .. } if child == fulfilment && process == "fulfil-offer")));
    assert!(history.iter().any(
        |e| matches!(&e.kind, EventKind::WorkStatusChanged { to } if to == "Pending-Fulfillment")
    ));
    assert_eq!(
        h.task(&offer.id, "declined").await,
        TaskStatus::EndedSkipped
    );

    let fulfilment = h.get(fulfilment).await;
    assert_eq!(fulfilment.definition_id, "fulfil-offer");
    assert_eq!(
        fulfilment
            .parent
            .as_ref()
            .map(|p| (p.instance.as_str(), p.task.as_str(), p.kind)),
        Some((offer.id.as_str(), "fulfil", LinkKind::Handoff))
    );
    assert_eq!(
        fulfilment.root, None,
        "a handed-off instance is not a sub-process of the offer"
    );
    assert_eq!(fulfilment.case, offer.id, "but both are one case");
    let case = h
        .engine
        .store()
        .list_instances(&InstanceQuery {
            case: Some(offer.id.clone()),
            limit: 10,
            ..InstanceQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(case.len(), 2);
}

#[tokio::test]
async fn the_fulfilment_holds_only_what_the_hand_off_copied_and_what_it_saved_from_the_offer_page()
{
    let h = Harness::new().await;
    let offer = h.answered_offer(true).await;
    let fulfilment = h.get(&offer.referenced_instances[0]).await;
    let data = &fulfilment.data;
    assert_eq!(
        (&data["Channel"], &data["CustomerID"], &data["OfferName"]),
        (&json!("Web"), &json!("CUST-1001"), &json!("Fibre 500")),
        "pyDefault copied them"
    );
    assert_eq!(
        data["work_parties"],
        json!({"Customer": {"name": "Ann Example", "email": "ann@example.com"}}),
        "the customer is the Customer work party"
    );
    assert_eq!(
        data["action"],
        json!("Sales/Broadband/Fibre 500"),
        "read from the OfferWorkPage (`offer`) while inline, and saved"
    );
    for offer_only in [
        "accepted",
        "reference_code",
        "confirmation",
        "Issue",
        "Group",
        "customer",
    ] {
        assert!(
            !data.contains_key(offer_only),
            "`{offer_only}` was not copied, so the fulfilment does not have it: {data:?}"
        );
    }
    assert_eq!(
        h.task(&fulfilment.id, "copy_offer").await,
        TaskStatus::EndedOk
    );
}

#[tokio::test]
async fn the_fulfilment_waits_in_the_fulfilment_workbasket_and_is_resolved_upon_approval() {
    let h = Harness::new().await;
    let offer = h.answered_offer(true).await;
    let fulfilment = offer.referenced_instances[0].clone();
    assert_eq!(h.get(&fulfilment).await.status, InstanceStatus::Waiting);

    let basket = h.inbox(CLERK).await;
    assert_eq!(basket.len(), 1, "{basket:?}");
    let row = &basket[0];
    assert_eq!(
        (
            row.instance.as_str(),
            row.task.as_str(),
            row.process.as_str(),
            row.status.as_str()
        ),
        (fulfilment.as_str(), "approve", "fulfil-offer", "ready")
    );
    assert_eq!(row.title, "Fulfil Fibre 500 for Ann Example");
    assert!(
        h.inbox(AGENT).await.is_empty(),
        "the agent's inbox held only the offer's answer, and it is done"
    );
    let refused = h
        .engine
        .user_task(
            &fulfilment,
            "approve",
            AGENT,
            UserTaskCommand::Claim {
                task: HumanTaskId::ORIGINAL,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused.kind(),
        ErrorKind::Forbidden,
        "only the workbasket's members may take it: {refused}"
    );

    // The clerk approves an hour later: the offer had long completed (the hand-off is asynchronous).
    let offer_before = h.get(&offer.id).await;
    h.clock.advance(chrono::Duration::hours(1));
    let resolved = h
        .claim_and_complete(
            &fulfilment,
            "approve",
            CLERK,
            json!({"comments": "Shipped"}),
        )
        .await;
    assert_eq!(resolved.status, InstanceStatus::Completed);
    assert_eq!(resolved.data["resolution"], json!("Resolved-Completed"));
    assert_eq!(resolved.data["comments"], json!("Shipped"));
    assert!(
        offer_before.ended_at.unwrap() < resolved.ended_at.unwrap(),
        "the offer completed before its fulfilment"
    );
    assert_eq!(
        h.get(&offer.id).await,
        offer_before,
        "the offer hears nothing of its fulfilment's end"
    );
    assert!(h.inbox(CLERK).await.is_empty());
}

#[tokio::test]
async fn a_declined_offer_ends_without_a_hand_off() {
    let h = Harness::new().await;
    let offer = h.answered_offer(false).await;
    assert_eq!(offer.status, InstanceStatus::Completed);
    assert_eq!(h.task(&offer.id, "fulfil").await, TaskStatus::EndedSkipped);
    assert_eq!(h.task(&offer.id, "confirm").await, TaskStatus::EndedSkipped);
    assert!(offer.referenced_instances.is_empty() && offer.work_status.is_none());
    assert_eq!(offer.data["reference_code"], json!(""));
    assert!(h
        .engine
        .store()
        .children(&offer.id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(h.stored_instances().await, 1, "only the offer is stored");
    assert!(
        h.inbox(CLERK).await.is_empty(),
        "nothing waits in the workbasket"
    );
}
