//! The inbox on SQLite: rows land with their step or not at all, only open work is kept, and a
//! page is an index-ordered merge of one scan per name (no sort of every open task).

use baton_core::user_task::{HumanTaskId, PotentialOwners};
use baton_store::conformance::instance;
use baton_store::{InboxEntry, InboxFilter, InboxReader, InboxUpdate, Page, StepRecord, StepWriter, StoreError};
use baton_store_sqlite::{Durability, SqliteStore};

fn t(seconds: i64) -> chrono::DateTime<chrono::Utc> {
    baton_store::conformance::t0() + chrono::Duration::seconds(seconds)
}

fn entry(instance: &str, human: u32, priority: i32, owners: PotentialOwners, owner: Option<&str>) -> InboxEntry {
    InboxEntry {
        instance: instance.into(),
        task: "review".into(),
        human_task: HumanTaskId(human),
        process: "conformance".into(),
        title: format!("task {human}"),
        status: if owner.is_some() { "claimed".into() } else { "ready".into() },
        owner: owner.map(str::to_owned),
        potential_owners: owners,
        administrators: PotentialOwners::default(),
        priority,
        due: None,
        created_at: t(i64::from(human)),
        escalated: false,
        department: None,
    }
}

fn update(instance: &str, entries: Vec<InboxEntry>) -> InboxUpdate {
    InboxUpdate { instance: instance.into(), task: "review".into(), entries }
}

async fn page(store: &SqliteStore, user: &str, groups: &[&str]) -> Vec<String> {
    let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
    let page = store.inbox(user, &groups, &InboxFilter::default(), Page::default()).await.unwrap();
    page.rows.iter().map(|r| format!("{}#{} {}", r.instance, r.human_task.0, r.status)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn inbox_rows_land_with_their_step_and_a_refused_step_writes_none() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
    let first = StepRecord {
        instance: Some(instance("i-1").into()),
        new: true,
        inbox: vec![update("i-1", vec![entry("i-1", 0, 1, PotentialOwners::group("editors").and_user("john"), None)])],
        ..StepRecord::default()
    };
    store.commit(vec![first]).await.unwrap();
    assert_eq!(page(&store, "john", &["editors"]).await, vec!["i-1#0 ready"], "offered twice, listed once");

    // A step computed from a stale state is refused whole: its inbox rows are not written.
    let stale = StepRecord { instance: Some(instance("i-1").into()), expected_seq: 99, inbox: vec![update("i-1", Vec::new())], ..StepRecord::default() };
    assert!(matches!(store.commit(vec![stale]).await, Err(StoreError::Conflict(_))));
    assert_eq!(page(&store, "john", &[]).await, vec!["i-1#0 ready"]);

    // Claimed: the owner's, and no longer offered to the others.
    let mut moved = instance("i-1");
    moved.next_seq = 4;
    let claimed = StepRecord {
        instance: Some(moved.into()),
        expected_seq: 3,
        inbox: vec![update("i-1", vec![entry("i-1", 0, 1, PotentialOwners::group("editors").and_user("john"), Some("mike"))])],
        ..StepRecord::default()
    };
    store.commit(vec![claimed]).await.unwrap();
    assert_eq!(page(&store, "mike", &[]).await, vec!["i-1#0 claimed"]);
    assert!(page(&store, "john", &["editors"]).await.is_empty());

    // Ended: nothing is left.
    let mut ended = instance("i-1");
    ended.next_seq = 5;
    let done = StepRecord { instance: Some(ended.into()), expected_seq: 4, inbox: vec![update("i-1", Vec::new())], ..StepRecord::default() };
    store.commit(vec![done]).await.unwrap();
    assert!(store.inbox_of_instance("i-1").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inbox_page_merges_one_index_scan_per_name_without_sorting() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
    let groups = ["editors".to_owned(), "legal".to_owned()];
    let plan = store.inbox_plan("john", &groups, &InboxFilter { min_priority: Some(3), ..InboxFilter::default() }).unwrap();
    let text = plan.join("\n");
    assert!(text.contains("MERGE (UNION)"), "{text}");
    assert!(text.contains("SEARCH inbox_candidates USING PRIMARY KEY"), "{text}");
    assert!(!text.contains("TEMP B-TREE") && !text.contains("SCAN"), "no sort and no table scan:\n{text}");
}

/// Stardust's department scoping in the inbox's query: a user sees the tasks of unscoped
/// instances and of their department's, claimed or claimable, filtered where the rows are read.
#[tokio::test(flavor = "multi_thread")]
async fn an_inbox_in_a_department_scope_holds_the_tasks_of_its_departments_and_the_unscoped_instances() {
    use baton_store::DepartmentScope;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
    for (n, department) in [(0, Some("legal")), (1, None), (2, Some("sales")), (3, Some("legal"))] {
        let id = format!("i-{n}");
        let owner = (n == 3).then_some("john");
        let mut entry = entry(&id, n, 1, PotentialOwners::group("clerks"), owner);
        entry.department = department.map(str::to_owned);
        let step = StepRecord { instance: Some(instance(&id).into()), new: true, inbox: vec![update(&id, vec![entry])], ..StepRecord::default() };
        store.commit(vec![step]).await.unwrap();
    }
    let scoped = |scope: DepartmentScope| {
        let store = store.clone();
        async move {
            let filter = InboxFilter { scope, ..InboxFilter::default() };
            let page = store.inbox("john", &["clerks".to_owned()], &filter, Page::default()).await.unwrap();
            page.rows.iter().map(|r| r.instance.clone()).collect::<Vec<_>>()
        }
    };
    assert_eq!(scoped(DepartmentScope::Department("legal".into())).await, ["i-3", "i-0", "i-1"], "claimed first, then claimable");
    assert_eq!(scoped(DepartmentScope::Unscoped).await, ["i-1"]);
    assert_eq!(scoped(DepartmentScope::All).await, ["i-3", "i-0", "i-1", "i-2"]);
}
