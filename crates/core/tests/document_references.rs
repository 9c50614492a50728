//! A document reference written into data by an expression (a `set` task, an output or input
//! mapping) or by a command job's output is checked: it must be one the instance already
//! refers to, or one the mapped source holds (a user's output, an event's payload, a child's
//! data, each checked as it came in). A made-up reference would let whoever can see the
//! instance read a document nobody gave it; it ends the task `ended_not_ok`, saying which
//! field and which document, and writes nothing.

mod support;
use std::time::Duration;

use baton_core::{Reason, TaskStatus};
use serde_json::json;
use support::Flow;

fn not_referenced(field: &str, document: &str) -> Option<Reason> {
    Some(Reason::DocumentNotReferenced {
        field: field.into(),
        document: document.into(),
    })
}

#[test]
fn a_set_task_may_copy_a_reference_the_instance_holds_but_not_make_one() {
    let lines = [
        "id: p",
        "data: {scan: document, kept: document, stolen: document}",
        "tasks:",
        "  - id: copy",
        "    kind: set",
        "    set: {kept: data.scan}",
        "  - id: make",
        "    kind: set",
        "    after: [copy]",
        "    set: {stolen: \"{'document': 'd-9'}\"}",
    ];
    let (flow, _) = Flow::start_with(&lines, json!({"scan": {"document": "d-1"}}));
    assert_eq!(flow.status("copy"), TaskStatus::EndedOk);
    assert_eq!(flow.inst.data["kept"], json!({"document": "d-1"}));
    assert_eq!(flow.status("make"), TaskStatus::EndedNotOk);
    assert_eq!(flow.reason("make"), not_referenced("set.stolen", "d-9"));
    assert_eq!(
        flow.inst.data["stolen"],
        serde_json::Value::Null,
        "nothing was written"
    );
    let message = flow.reason("make").unwrap().to_string();
    assert!(
        message.starts_with(
            "`set.stolen` refers to document `d-9`, which this instance does not refer to"
        ),
        "{message}"
    );
}

#[test]
fn a_list_of_references_an_expression_makes_is_refused_too() {
    let lines = [
        "id: p",
        "data: {scan: document, scans: document_list}",
        "tasks:",
        "  - id: make",
        "    kind: set",
        "    set: {scans: \"[data.scan, {'document': 'd-9'}]\"}",
    ];
    let (flow, _) = Flow::start_with(&lines, json!({"scan": {"document": "d-1"}}));
    assert_eq!(flow.reason("make"), not_referenced("set.scans", "d-9"));
}

#[test]
fn a_command_jobs_output_may_not_name_a_document_the_instance_does_not_refer_to() {
    let lines = [
        "id: p",
        "tasks:",
        "  - id: scan",
        "    kind: job",
        "    command: ['true']",
    ];
    let (mut made, _) = Flow::start_with(&lines, json!({"scan": {"document": "d-1"}}));
    made.exit_after(
        "scan",
        0,
        Duration::from_millis(5),
        Some(json!({"extract": {"document": "d-9"}})),
    );
    assert_eq!(made.status("scan"), TaskStatus::EndedNotOk);
    assert_eq!(
        made.reason("scan"),
        not_referenced("the job's output `extract`", "d-9")
    );
    assert!(!made.inst.data.contains_key("extract"));

    let (mut copied, _) = Flow::start_with(&lines, json!({"scan": {"document": "d-1"}}));
    copied.exit_after(
        "scan",
        0,
        Duration::from_millis(5),
        Some(json!({"extract": {"document": "d-1"}})),
    );
    assert_eq!(
        copied.status("scan"),
        TaskStatus::EndedOk,
        "a reference the instance holds may be copied"
    );
}
