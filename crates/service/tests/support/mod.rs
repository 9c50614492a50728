//! What the service's tests share: a service on a fresh SQLite database with a manual clock,
//! the people of the IBM seed's example, and two small definitions.
#![allow(dead_code)] // each test file uses some of these

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use tempfile::TempDir;

use baton_engine::{Engine, EngineOptions, ManualClock};
use baton_service::{Service, SourceFile};
use baton_store::NewUser;
use baton_store_sqlite::{Durability, SqliteStore};

pub type SqliteService = Service<SqliteStore>;

/// A review for group editors, then an end.
pub const REVIEW: &str = "id: review
data:
  approved: boolean
tasks:
  - id: check
    kind: user
    title: Check it
    owners: [group:editors]
    form:
      approved: boolean
  - id: done
    kind: end
    after: [check]
";

/// A task that asks for a day before it ends.
pub const ASKS: &str = "id: asks
data:
  day: string
tasks:
  - id: ask
    kind: end
    prompts: [{name: day}]
";

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// A service on a fresh database in `dir`, its clock at [`t0`].
pub fn service(dir: &TempDir) -> SqliteService {
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal)
        .expect("the database opens");
    let clock = Arc::new(ManualClock::new(t0()));
    Service::local(Engine::new(
        store,
        clock,
        EngineOptions {
            node: "test-node".into(),
            ..EngineOptions::default()
        },
    ))
}

pub fn file(name: &str, text: &str) -> SourceFile {
    SourceFile {
        name: name.into(),
        bytes: text.as_bytes().to_vec(),
    }
}

/// john is an editor, eve is nobody in particular, chief administers; both definitions deployed.
pub async fn people_and_definitions(service: &SqliteService) {
    for user in [
        NewUser::named("john"),
        NewUser::named("eve"),
        NewUser::named("chief").admin(),
    ] {
        service.add_user("operator", user).await.unwrap();
    }
    service.add_group("operator", "editors").await.unwrap();
    service
        .add_member("operator", "editors", "john")
        .await
        .unwrap();
    service
        .deploy(
            "operator",
            vec![file("review.yaml", REVIEW), file("asks.yaml", ASKS)],
        )
        .await
        .unwrap();
}

/// A fresh service with [`people_and_definitions`]; keep the directory while it is used.
pub async fn ready() -> (TempDir, SqliteService) {
    let dir = tempfile::tempdir().unwrap();
    let service = service(&dir);
    people_and_definitions(&service).await;
    (dir, service)
}
