//! `baton definitions` and `baton definition show|versions|graph|source`: what was deployed, read
//! back through the service.

mod support;
use support::{ok, refused};

const FLOW: &str = "id: flow\nname: A flow\ntasks:\n  - id: first\n    kind: set\n    set: {}\n  - id: last\n    kind: end\n    after: [first]\n";

#[test]
fn every_deployed_version_is_listed_and_its_source_reads_back_as_deployed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let (v1, v2) = (dir.path().join("v1.yaml"), dir.path().join("v2.yaml"));
    std::fs::write(&v1, FLOW).unwrap();
    std::fs::write(&v2, FLOW.replace("A flow", "The flow")).unwrap();
    ok(&db, &["deploy", v1.to_str().unwrap()]);
    ok(&db, &["deploy", v2.to_str().unwrap()]);

    let listed = ok(&db, &["definitions"]);
    let rows: Vec<Vec<&str>> = listed
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows.iter()
            .map(|r| (r[0], r[1], r[2], r[5..].join(" ")))
            .collect::<Vec<_>>(),
        [("flow", "2", "2", "The flow".to_owned())],
        "{listed}"
    );
    let versions: serde_json::Value =
        serde_json::from_str(&ok(&db, &["definition", "versions", "flow", "--json"])).unwrap();
    let files: Vec<(u64, &str)> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_u64().unwrap(), v["file"].as_str().unwrap()))
        .collect();
    assert_eq!(
        files,
        [(1, v1.to_str().unwrap()), (2, v2.to_str().unwrap())]
    );
    assert_eq!(
        ok(&db, &["definition", "source", "flow", "--version", "1"]),
        FLOW
    );
    let shown = ok(&db, &["definition", "show", "flow"]);
    assert!(
        shown.starts_with("process flow v2  (") && shown.contains("name: The flow\n"),
        "{shown}"
    );
    assert!(
        shown.ends_with(
            "\n  TASK   KIND      AFTER\n  first  set       -\n  last   end       first\n"
        ),
        "{shown}"
    );

    assert_eq!(
        refused(&db, &["definition", "show", "flow", "--version", "3"]),
        "baton: there is no version 3 of process `flow`\n"
    );
    assert_eq!(
        refused(&db, &["definition", "versions", "nope"]),
        "baton: there is no process `nope`; deploy it first\n"
    );
}

const ROUTING: &str = "id: routing
tasks:
  - id: check
    kind: decision
    branches:
      - when: data.amount > 1000
        to: [review]
    otherwise: [approve]
  - id: review
    kind: set
    set: {}
    dependencies:
      else: {run: escalate}
  - id: escalate
    kind: set
    set: {}
    on_demand: true
  - id: approve
    kind: set
    set: {}
  - id: notify
    kind: end
    after: [review, {task: approve, status: any_end}]
";

#[test]
fn a_flow_is_drawn_as_text_dot_mermaid_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let file = dir.path().join("routing.yaml");
    std::fs::write(&file, ROUTING).unwrap();
    ok(&db, &["deploy", file.to_str().unwrap()]);

    let text = ok(&db, &["definition", "graph", "routing"]);
    assert!(text.starts_with("process routing v1\n\ncheck (decision)\n  ├─▶ review   when data.amount > 1000\n  └─▶ approve  otherwise\n"), "{text}");
    assert!(
        text.contains(
            "\nreview (set)\n  ├─▶ escalate  if its dependencies do not hold\n  └─▶ notify\n"
        ) || text.contains(
            "\nreview (set)\n  ├─▶ notify\n  └─▶ escalate  if its dependencies do not hold\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\napprove (set)\n  └─▶ notify  if it ends any_end\n"),
        "{text}"
    );

    let dot = ok(&db, &["definition", "graph", "routing", "--format", "dot"]);
    assert!(dot.starts_with("digraph \"routing v1\" {\n"), "{dot}");
    assert!(
        dot.contains("  \"check\" -> \"review\" [label=\"when data.amount > 1000\"];\n"),
        "{dot}"
    );
    assert!(dot.contains("  \"review\" -> \"escalate\" [label=\"if its dependencies do not hold\", style=dashed];\n"), "{dot}");

    let mermaid = ok(
        &db,
        &["definition", "graph", "routing", "--format", "mermaid"],
    );
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert!(
        mermaid.contains(
            "  t0{\"check (decision)\"}\n  t1[\"escalate (set)\"]\n  t2[\"review (set)\"]\n"
        ) && mermaid.contains("  t0 -->|\"when data.amount #gt; 1000\"| t2\n"),
        "{mermaid}"
    );

    let json: serde_json::Value = serde_json::from_str(&ok(
        &db,
        &["definition", "graph", "routing", "--format", "json"],
    ))
    .unwrap();
    let mut edges: Vec<(&str, &str, &str)> = json["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap(),
                e["to"].as_str().unwrap(),
                e["kind"].as_str().unwrap(),
            )
        })
        .collect();
    edges.sort_unstable();
    assert_eq!(
        edges,
        [
            ("approve", "notify", "after"),
            ("check", "approve", "otherwise"),
            ("check", "review", "branch"),
            ("review", "escalate", "on_unmet"),
            ("review", "notify", "after")
        ]
    );

    assert_eq!(
        refused(&db, &["definition", "graph", "nope"]),
        "baton: there is no process `nope`; deploy it first\n"
    );
}
