//! The inbox conformance suite: what every [`InboxReader`] must show of the inbox rows its
//! steps write, written once and run against each store on a fresh database per check, with
//! [`inbox_conformance_tests!`](crate::inbox_conformance_tests).

use baton_core::user_task::{HumanTaskId, PotentialOwners};
use chrono::{DateTime, Utc};

use crate::conformance::{instance, t0};
use crate::{
    DepartmentScope, InboxEntry, InboxFilter, InboxReader, InboxStatus, InboxUpdate, Page,
    StepRecord, Store, StoreError,
};

/// Generates one `#[test]` per inbox check, each on a fresh store from `$fresh`.
#[macro_export]
macro_rules! inbox_conformance_tests {
    ($fresh:path) => {
        $crate::inbox_conformance_tests!($fresh, if $crate::conformance::always);
    };
    // Each test first asks `$ready`, and passes without running the check when it says no.
    ($fresh:path, if $ready:path) => {
        $crate::inbox_conformance_tests!(@tests $ready, $fresh;
            inbox_rows_land_with_their_step_and_a_refused_step_writes_none,
            an_inbox_page_lists_claimed_tasks_then_claimable_ones_in_inbox_order,
            an_inbox_page_filters_by_status_process_due_date_and_priority,
            an_inbox_in_a_department_scope_holds_the_tasks_of_its_departments_and_the_unscoped_instances,
        );
    };
    (@tests $ready:path, $fresh:path; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                if $ready() {
                    $crate::conformance::run_one($fresh, $crate::inbox_conformance::$check);
                }
            }
        )*
    };
}

fn t(seconds: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(seconds)
}

/// Human task `human` of user task `review` in `instance`, offered to `owners`, claimed by `owner`.
pub fn entry(
    instance: &str,
    human: u32,
    priority: i32,
    owners: PotentialOwners,
    owner: Option<&str>,
) -> InboxEntry {
    InboxEntry {
        instance: instance.into(),
        task: "review".into(),
        human_task: HumanTaskId(human),
        process: "conformance".into(),
        title: format!("task {human}"),
        status: if owner.is_some() {
            "claimed".into()
        } else {
            "ready".into()
        },
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
    InboxUpdate {
        instance: instance.into(),
        task: "review".into(),
        entries,
    }
}

async fn page_with<S: InboxReader>(
    store: &S,
    user: &str,
    groups: &[&str],
    filter: &InboxFilter,
    page: Page,
) -> Vec<String> {
    let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
    let page = store.inbox(user, &groups, filter, page).await.unwrap();
    page.rows
        .iter()
        .map(|r| format!("{}#{} {}", r.instance, r.human_task.0, r.status))
        .collect()
}

async fn page<S: InboxReader>(store: &S, user: &str, groups: &[&str]) -> Vec<String> {
    page_with(
        store,
        user,
        groups,
        &InboxFilter::default(),
        Page::default(),
    )
    .await
}

/// Starts instance `id` with the given inbox rows of its `review` task.
async fn start_with<S: Store>(store: &S, id: &str, entries: Vec<InboxEntry>) {
    let step = StepRecord {
        instance: Some(instance(id).into()),
        new: true,
        inbox: vec![update(id, entries)],
        ..StepRecord::default()
    };
    store.commit(vec![step]).await.unwrap();
}

pub async fn inbox_rows_land_with_their_step_and_a_refused_step_writes_none<
    S: Store + InboxReader,
>(
    store: S,
) {
    start_with(
        &store,
        "i-1",
        vec![entry(
            "i-1",
            0,
            1,
            PotentialOwners::group("editors").and_user("john"),
            None,
        )],
    )
    .await;
    assert_eq!(
        page(&store, "john", &["editors"]).await,
        vec!["i-1#0 ready"],
        "offered twice, listed once"
    );

    // A step computed from a stale state is refused whole: its inbox rows are not written.
    let stale = StepRecord {
        instance: Some(instance("i-1").into()),
        expected_seq: 99,
        inbox: vec![update("i-1", Vec::new())],
        ..StepRecord::default()
    };
    assert!(matches!(
        store.commit(vec![stale]).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(page(&store, "john", &[]).await, vec!["i-1#0 ready"]);

    // Claimed: the owner's, and no longer offered to the others.
    let mut moved = instance("i-1");
    moved.next_seq = 4;
    let claimed = StepRecord {
        instance: Some(moved.into()),
        expected_seq: 3,
        inbox: vec![update(
            "i-1",
            vec![entry(
                "i-1",
                0,
                1,
                PotentialOwners::group("editors").and_user("john"),
                Some("mike"),
            )],
        )],
        ..StepRecord::default()
    };
    store.commit(vec![claimed]).await.unwrap();
    assert_eq!(page(&store, "mike", &[]).await, vec!["i-1#0 claimed"]);
    assert!(page(&store, "john", &["editors"]).await.is_empty());
    let rows = store.inbox_of_instance("i-1").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].owner.as_deref(),
            rows[0].title.as_str(),
            rows[0].created_at,
            rows[0].due
        ),
        (Some("mike"), "task 0", t(0), None)
    );

    // Ended: nothing is left.
    let mut ended = instance("i-1");
    ended.next_seq = 5;
    let done = StepRecord {
        instance: Some(ended.into()),
        expected_seq: 4,
        inbox: vec![update("i-1", Vec::new())],
        ..StepRecord::default()
    };
    store.commit(vec![done]).await.unwrap();
    assert!(store.inbox_of_instance("i-1").await.unwrap().is_empty());
}

/// The user's claimed tasks first, then the claimable ones, each by priority (highest first),
/// due date (soonest first, none last) and age (oldest first); pages follow on.
pub async fn an_inbox_page_lists_claimed_tasks_then_claimable_ones_in_inbox_order<
    S: Store + InboxReader,
>(
    store: S,
) {
    let clerks = || PotentialOwners::group("clerks");
    let mut due_soon = entry("i-1", 1, 5, clerks(), None);
    due_soon.due = Some(t(100));
    let mut due_late = entry("i-1", 2, 5, clerks(), None);
    due_late.due = Some(t(200));
    let undated = entry("i-1", 3, 5, clerks(), None);
    let low = entry("i-1", 4, 1, PotentialOwners::user("john"), None);
    let mine = entry("i-1", 5, 0, clerks(), Some("john"));
    let others = entry("i-1", 6, 9, clerks(), Some("mike"));
    let mut admin = entry("i-1", 7, 3, PotentialOwners::user("mike"), None);
    admin.administrators = PotentialOwners::user("john");
    start_with(
        &store,
        "i-1",
        vec![undated, low, due_late, mine, others, due_soon, admin],
    )
    .await;

    let all = page(&store, "john", &["clerks"]).await;
    assert_eq!(
        all,
        [
            "i-1#5 claimed",
            "i-1#1 ready",
            "i-1#2 ready",
            "i-1#3 ready",
            "i-1#7 ready",
            "i-1#4 ready"
        ]
    );
    let first = store
        .inbox(
            "john",
            &["clerks".to_owned()],
            &InboxFilter::default(),
            Page {
                number: 1,
                per_page: 4,
            },
        )
        .await
        .unwrap();
    assert!(first.more, "a second page follows");
    let second = page_with(
        &store,
        "john",
        &["clerks"],
        &InboxFilter::default(),
        Page {
            number: 2,
            per_page: 4,
        },
    )
    .await;
    assert_eq!(second, ["i-1#7 ready", "i-1#4 ready"]);
    let last = store
        .inbox(
            "john",
            &["clerks".to_owned()],
            &InboxFilter::default(),
            Page {
                number: 2,
                per_page: 4,
            },
        )
        .await
        .unwrap();
    assert!(!last.more);
    assert!(
        page(&store, "sarah", &[]).await.is_empty(),
        "nothing is offered to her"
    );
}

pub async fn an_inbox_page_filters_by_status_process_due_date_and_priority<
    S: Store + InboxReader,
>(
    store: S,
) {
    let clerks = || PotentialOwners::group("clerks");
    let mut dated = entry("i-1", 1, 5, clerks(), None);
    dated.due = Some(t(100));
    let mut escalated = entry("i-1", 2, 2, clerks(), None);
    escalated.escalated = true;
    let mut suspended = entry("i-1", 3, 1, clerks(), None);
    suspended.status = "suspended".into();
    let claimed = entry("i-1", 4, 0, clerks(), Some("john"));
    start_with(&store, "i-1", vec![dated, escalated, suspended, claimed]).await;
    let filtered = |filter: InboxFilter| {
        let store = &store;
        async move { page_with(store, "john", &["clerks"], &filter, Page::default()).await }
    };
    assert_eq!(
        filtered(InboxFilter {
            status: Some(InboxStatus::Ready),
            ..InboxFilter::default()
        })
        .await,
        ["i-1#1 ready", "i-1#2 ready"]
    );
    assert_eq!(
        filtered(InboxFilter {
            status: Some(InboxStatus::Claimed),
            ..InboxFilter::default()
        })
        .await,
        ["i-1#4 claimed"]
    );
    assert_eq!(
        filtered(InboxFilter {
            status: Some(InboxStatus::Suspended),
            ..InboxFilter::default()
        })
        .await,
        ["i-1#3 suspended"]
    );
    assert_eq!(
        filtered(InboxFilter {
            status: Some(InboxStatus::Escalated),
            ..InboxFilter::default()
        })
        .await,
        ["i-1#2 ready"]
    );
    assert_eq!(
        filtered(InboxFilter {
            due_before: Some(t(101)),
            ..InboxFilter::default()
        })
        .await,
        ["i-1#1 ready"],
        "undated tasks are left out"
    );
    assert!(filtered(InboxFilter {
        due_before: Some(t(100)),
        ..InboxFilter::default()
    })
    .await
    .is_empty());
    assert_eq!(
        filtered(InboxFilter {
            min_priority: Some(2),
            ..InboxFilter::default()
        })
        .await,
        ["i-1#1 ready", "i-1#2 ready"]
    );
    assert_eq!(
        filtered(InboxFilter {
            process: Some("conformance".into()),
            ..InboxFilter::default()
        })
        .await
        .len(),
        3
    );
    assert!(filtered(InboxFilter {
        process: Some("other".into()),
        ..InboxFilter::default()
    })
    .await
    .is_empty());
}

/// Stardust's department scoping in the inbox's query: a user sees the tasks of unscoped
/// instances and of their department's, claimed or claimable, filtered where the rows are read.
pub async fn an_inbox_in_a_department_scope_holds_the_tasks_of_its_departments_and_the_unscoped_instances<
    S: Store + InboxReader,
>(
    store: S,
) {
    for (n, department) in [
        (0, Some("legal")),
        (1, None),
        (2, Some("sales")),
        (3, Some("legal")),
    ] {
        let id = format!("i-{n}");
        let owner = (n == 3).then_some("john");
        let mut entry = entry(&id, n, 1, PotentialOwners::group("clerks"), owner);
        entry.department = department.map(str::to_owned);
        start_with(&store, &id, vec![entry]).await;
    }
    let scoped = |scope: DepartmentScope| {
        let store = &store;
        async move {
            let filter = InboxFilter {
                scope,
                ..InboxFilter::default()
            };
            let page = store
                .inbox("john", &["clerks".to_owned()], &filter, Page::default())
                .await
                .unwrap();
            page.rows
                .iter()
                .map(|r| r.instance.clone())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        scoped(DepartmentScope::Department("legal".into())).await,
        ["i-3", "i-0", "i-1"],
        "claimed first, then claimable"
    );
    assert_eq!(scoped(DepartmentScope::Unscoped).await, ["i-1"]);
    assert_eq!(
        scoped(DepartmentScope::All).await,
        ["i-3", "i-0", "i-1", "i-2"]
    );
}
