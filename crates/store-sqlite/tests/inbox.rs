//! The inbox on SQLite (what every store's inbox does is the shared inbox conformance suite,
//! run in `conformance.rs`): a page is an index-ordered merge of one scan per name (no sort of
//! every open task).

use baton_store::InboxFilter;
use baton_store_sqlite::{Durability, SqliteStore};

#[tokio::test(flavor = "multi_thread")]
async fn an_inbox_page_merges_one_index_scan_per_name_without_sorting() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
    let groups = ["editors".to_owned(), "legal".to_owned()];
    let plan = store
        .inbox_plan(
            "john",
            &groups,
            &InboxFilter {
                min_priority: Some(3),
                ..InboxFilter::default()
            },
        )
        .unwrap();
    let text = plan.join("\n");
    assert!(text.contains("MERGE (UNION)"), "{text}");
    assert!(
        text.contains("SEARCH inbox_candidates USING PRIMARY KEY"),
        "{text}"
    );
    assert!(
        !text.contains("TEMP B-TREE") && !text.contains("SCAN"),
        "no sort and no table scan:\n{text}"
    );
}
