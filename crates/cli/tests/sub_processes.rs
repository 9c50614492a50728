//! Sub-processes from the command line: `baton case show`, the hierarchy `baton show` prints,
//! `baton instances --case` with its work status column, `baton abort --abort-parent` and
//! `baton recover`; on the database file and again through `baton serve` (`--server`), with
//! the same answers.

mod support;
use support::modes::{Baton, Mode};

use serde_json::Value;

crate::in_both_modes!(
    case_show_lists_a_case_oldest_first_with_each_link_and_work_status,
    show_prints_where_an_instance_stands_in_its_hierarchy,
    abort_with_abort_parent_aborts_the_caller_and_without_it_the_call_fails,
    recover_runs_a_failed_callers_call_again_on_the_same_child,
);

/// A sub-process that waits for john's approval.
const CHILD: &str =
    "id: child\ntasks:\n  - id: approve\n    kind: user\n    title: Approve\n    owners: [john]\n";
/// A process that calls it.
const CALLER: &str = "id: caller\ntasks:\n  - id: sub\n    kind: call\n    process: child\n";
/// A process that hands it off (Pega's Hand Off), then calls it.
const HANDS: &str = "id: hands
tasks:
  - id: hand
    kind: handoff
    process: child
    work_status: Pending-Approval
  - id: sub
    kind: call
    process: child
    after: [hand]
";

fn deployed(mode: Mode) -> Baton {
    let b = Baton::new(mode);
    b.local(&["user", "add", "john"]);
    b.ok(&[
        "deploy",
        &b.file("child.yaml", CHILD.as_bytes()),
        &b.file("caller.yaml", CALLER.as_bytes()),
        &b.file("hands.yaml", HANDS.as_bytes()),
    ]);
    b
}

/// Starts `process`; its id.
fn start(b: &Baton, process: &str) -> String {
    b.ok(&["start", process]).trim().to_owned()
}

fn json(b: &Baton, args: &[&str]) -> Value {
    let out = b.ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {out}"))
}

/// The instance's status, as `show --json` has it.
fn status(b: &Baton, id: &str) -> Value {
    json(b, &["show", id, "--json"])["instance"]["status"].clone()
}

/// `hands` started: the root, the instance it handed off, the one it called.
fn hands(b: &Baton) -> (String, String, String) {
    let root = start(b, "hands");
    let shown = json(b, &["show", &root, "--json"]);
    let handed = shown["instance"]["referenced_instances"][0]
        .as_str()
        .expect("it handed one off")
        .to_owned();
    let called = shown["instance"]["tasks"]["sub"]["child"]
        .as_str()
        .expect("it called one")
        .to_owned();
    (root, handed, called)
}

/// The words of each line of `text`, from line `from` on.
fn rows(text: &str, from: usize) -> Vec<Vec<&str>> {
    text.lines()
        .skip(from)
        .map(|l| l.split_whitespace().collect())
        .collect()
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn case_show_lists_a_case_oldest_first_with_each_link_and_work_status(mode: Mode) {
    let b = deployed(mode);
    let (root, handed, called) = hands(&b);
    start(&b, "caller");

    let table = b.ok(&["case", "show", &root]);
    assert_eq!(
        table.lines().next(),
        Some(format!("case {root}").as_str()),
        "{table}"
    );
    assert_eq!(
        rows(&table, 2)[0],
        [
            "INSTANCE",
            "PROCESS",
            "STATUS",
            "LINK/PARENT",
            "WORK",
            "STATUS"
        ],
        "{table}"
    );
    assert_eq!(
        rows(&table, 3),
        [
            vec![
                root.as_str(),
                "hands",
                "v1",
                "running",
                "-",
                "Pending-Approval"
            ],
            vec![
                handed.as_str(),
                "child",
                "v1",
                "waiting",
                "handoff",
                "from",
                root.as_str(),
                "-"
            ],
            vec![
                called.as_str(),
                "child",
                "v1",
                "waiting",
                "call",
                "from",
                root.as_str(),
                "-"
            ],
        ],
        "oldest first, and nothing of the other case: {table}"
    );

    let case = json(&b, &["case", "show", &root, "--json"]);
    assert_eq!(keys(&case), ["id", "instances"]);
    assert_eq!(case["id"], Value::from(root.as_str()));
    let instances = case["instances"].as_array().unwrap();
    assert_eq!(
        keys(&instances[1]),
        [
            "case",
            "created_at",
            "department",
            "ended_at",
            "id",
            "link",
            "parent",
            "process",
            "status",
            "version",
            "work_status"
        ]
    );
    let links: Vec<(&Value, &Value, &Value)> = instances
        .iter()
        .map(|i| (&i["id"], &i["link"], &i["work_status"]))
        .collect();
    assert_eq!(
        links,
        [
            (
                &Value::from(root.as_str()),
                &Value::Null,
                &Value::from("Pending-Approval")
            ),
            (
                &Value::from(handed.as_str()),
                &Value::from("handoff"),
                &Value::Null
            ),
            (
                &Value::from(called.as_str()),
                &Value::from("call"),
                &Value::Null
            )
        ]
    );

    let refused = b.refused(&["case", "show", "no-such-case"]);
    assert!(
        refused.contains("there is no case `no-such-case`"),
        "{refused}"
    );

    // The listing of a case, newest first, with a work status column since a row has one.
    let listed = b.ok(&["instances", "--case", &root]);
    assert_eq!(
        rows(&listed, 0)[0],
        ["INSTANCE", "PROCESS", "STATUS", "STARTED", "WORK", "STATUS"],
        "{listed}"
    );
    let ids: Vec<&str> = rows(&listed, 1).iter().map(|r| r[0]).collect();
    assert_eq!(ids, [called.as_str(), handed.as_str(), root.as_str()]);
    assert!(
        listed
            .lines()
            .nth(3)
            .unwrap()
            .ends_with("  Pending-Approval"),
        "{listed}"
    );
    let page = json(&b, &["instances", "--case", &root, "--json"]);
    assert_eq!(keys(&page), ["instances", "next_cursor"]);
    assert_eq!(page["instances"][2]["work_status"], "Pending-Approval");
    let without = b.ok(&["instances", "--process", "caller"]);
    assert!(
        !without.contains("WORK STATUS"),
        "no row has one: {without}"
    );
}

fn show_prints_where_an_instance_stands_in_its_hierarchy(mode: Mode) {
    let b = deployed(mode);
    let (root, handed, called) = hands(&b);

    let shown = b.ok(&["show", &root]);
    let hierarchy = section(&shown, "hierarchy:");
    assert_eq!(
        hierarchy,
        [
            format!("case         {root}"),
            "work status  Pending-Approval".to_owned(),
            format!("referenced   {handed}"),
            "children:".to_owned(),
            format!("{handed}  child v1  waiting    handoff (task hand)"),
            format!("{called}  child v1  waiting    call (task sub)"),
        ],
        "{shown}"
    );
    let shown = b.ok(&["show", &called]);
    assert_eq!(
        section(&shown, "hierarchy:"),
        [
            format!("parent       {root} (task sub, call)"),
            format!("root         {root}"),
            format!("case         {root}")
        ],
        "{shown}"
    );
    let shown = b.ok(&["show", &handed]);
    assert_eq!(
        section(&shown, "hierarchy:"),
        [
            format!("parent       {root} (task hand, handoff)"),
            format!("case         {root}")
        ],
        "a hand-off is a root of its own: {shown}"
    );

    let plain = start(&b, "child");
    assert!(
        !b.ok(&["show", &plain]).contains("hierarchy"),
        "nothing extra for an instance on its own"
    );

    let shown = json(&b, &["show", &root, "--json"]);
    assert_eq!(
        keys(&shown),
        ["children", "history", "incidents", "instance"]
    );
    let children: Vec<&Value> = shown["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(
        children,
        [&Value::from(handed.as_str()), &Value::from(called.as_str())]
    );
    assert_eq!(
        json(&b, &["show", &plain, "--json"])["children"],
        serde_json::json!([])
    );
}

/// The lines of the section of `text` that starts with the line `title`, trimmed, up to the
/// next empty line.
fn section(text: &str, title: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| *l != title)
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.trim().to_owned())
        .collect()
}

fn abort_with_abort_parent_aborts_the_caller_and_without_it_the_call_fails(mode: Mode) {
    let b = deployed(mode);
    let caller = start(&b, "caller");
    let child = json(&b, &["show", &caller, "--json"])["instance"]["tasks"]["sub"]["child"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        b.ok(&["abort", &child, "--abort-parent"]),
        format!("instance {child} is aborted\n")
    );
    b.settle();
    assert_eq!(
        status(&b, &caller),
        "aborted",
        "the abort went up to the caller"
    );

    let caller = start(&b, "caller");
    let child = json(&b, &["show", &caller, "--json"])["instance"]["tasks"]["sub"]["child"]
        .as_str()
        .unwrap()
        .to_owned();
    b.ok(&["abort", &child]);
    b.settle();
    let shown = json(&b, &["show", &caller, "--json"]);
    assert_eq!(
        (
            &shown["instance"]["status"],
            &shown["instance"]["tasks"]["sub"]["status"]
        ),
        (&Value::from("failed"), &Value::from("ended_not_ok")),
        "the call decided"
    );
    let refused = b.refused(&["abort", "no-such-instance", "--abort-parent"]);
    assert!(
        refused.contains("there is no instance `no-such-instance`"),
        "{refused}"
    );
}

fn recover_runs_a_failed_callers_call_again_on_the_same_child(mode: Mode) {
    let b = deployed(mode);
    let caller = start(&b, "caller");
    let child = json(&b, &["show", &caller, "--json"])["instance"]["tasks"]["sub"]["child"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = b.refused(&["recover", &caller]);
    assert!(
        refused.contains("no task of it ended not OK"),
        "nothing of it failed yet: {refused}"
    );
    b.ok(&["task", "claim", &child, "approve", "--as", "john"]);
    b.ok(&[
        "task", "fail", &child, "approve", "--as", "john", "--note", "not yet",
    ]);
    b.settle();
    assert_eq!(status(&b, &caller), "failed");

    assert_eq!(
        b.ok(&["recover", &caller]),
        format!("instance {caller} is running\n")
    );
    assert_eq!(status(&b, &child), "waiting", "the same child, recovered");
    let children = json(&b, &["show", &caller, "--json"])["children"].clone();
    assert_eq!(
        children.as_array().unwrap().len(),
        1,
        "no second child: {children}"
    );
    let history = b.ok(&["show", &caller]);
    assert!(
        history.contains(&format!("recovering sub-process {child}"))
            && history.contains("recovered by operator: sub run again"),
        "{history}"
    );

    b.ok(&["task", "claim", &child, "approve", "--as", "john"]);
    b.ok(&["task", "complete", &child, "approve", "--as", "john"]);
    b.settle();
    assert_eq!(status(&b, &caller), "completed");
    b.refused(&["recover", "no-such-instance"]);
}

/// `baton worker --until-idle` stops while a caller waits for a child that waits for a person:
/// neither has anything for a worker to do (the caller is `running` only on its sub-process).
#[test]
fn worker_until_idle_stops_while_a_caller_waits_for_a_child_that_waits_for_a_person() {
    let b = deployed(Mode::Embedded);
    let caller = start(&b, "caller");
    b.ok(&["worker", "--until-idle"]);
    assert_eq!(status(&b, &caller), "running");
}
