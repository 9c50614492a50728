//! `view` tasks of interactive workflows (Siebel): a view waits for the user driving the
//! workflow, a submission is checked against its form (nothing changes when it does not fit)
//! and writes process data; a view and `auto_persist` belong to interactive definitions.

mod support;

use baton_core::definition::{parse, TaskKind};
use baton_core::{Command, Reason, TaskStatus, TransitionError};
use serde_json::json;
use support::*;

const QUOTE: &[&str] = &[
    "id: quote",
    "interactive: true",
    "auto_persist: true",
    "data:",
    "  premium: number",
    "  spouse_ssn: string",
    "tasks:",
    "  - id: enter",
    "    kind: view",
    "    title: Enter the quote",
    "    form:",
    "      premium: number",
    "      spouse_ssn: {type: string, required: false}",
    "  - id: issue",
    "    kind: set",
    "    after: [enter]",
    "    set: {premium: data.premium * 2.0}",
];

fn submit(data: serde_json::Value) -> Command {
    Command::Submit {
        task: "enter".into(),
        data: object(data),
        by: "agnes".into(),
    }
}

#[test]
fn a_view_waits_for_its_user_with_the_status_waiting_for_user_input() {
    let (flow, _) = Flow::start_with(QUOTE, json!({}));
    assert_eq!(flow.status("enter"), TaskStatus::WaitingForUserInput);
    assert_eq!(
        flow.reason("enter"),
        Some(Reason::ShowingView {
            title: "Enter the quote".into()
        })
    );
    assert_eq!(flow.inst.status, baton_core::InstanceStatus::Waiting);
}

#[test]
fn a_submission_that_fits_the_form_writes_data_and_the_workflow_goes_on() {
    let (mut flow, _) = Flow::start_with(QUOTE, json!({}));
    flow.apply(submit(
        json!({"premium": 100.0, "spouse_ssn": "078-05-1120"}),
    ));
    assert_eq!(flow.status("enter"), TaskStatus::EndedOk);
    assert_eq!(
        flow.reason("enter"),
        Some(Reason::Submitted { by: "agnes".into() })
    );
    assert_eq!(
        (
            flow.inst.data["premium"].clone(),
            flow.inst.data["spouse_ssn"].clone()
        ),
        (json!(200.0), json!("078-05-1120"))
    );
    assert_eq!(flow.inst.status, baton_core::InstanceStatus::Completed);
}

#[test]
fn a_submission_that_does_not_fit_the_form_names_every_problem_and_changes_nothing() {
    let (mut flow, _) = Flow::start_with(QUOTE, json!({}));
    let before = flow.inst.clone();
    let refused = flow
        .try_apply(submit(json!({"premium": "a lot", "colour": "red"})))
        .unwrap_err();
    let TransitionError::InvalidSubmission { task, problems } = &refused else {
        panic!("{refused:?}")
    };
    assert_eq!(task, "enter");
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        refused.to_string().contains("`colour` is not a field")
            && refused.to_string().contains("`premium` must be"),
        "{refused}"
    );
    assert_eq!(flow.inst, before);
    let missing = flow.try_apply(submit(json!({}))).unwrap_err();
    assert!(
        missing.to_string().contains("`premium` is required"),
        "{missing}"
    );
}

#[test]
fn a_view_takes_one_submission_and_no_prompt_input() {
    let (mut flow, _) = Flow::start_with(QUOTE, json!({}));
    let input = flow
        .try_apply(Command::ProvideInput {
            task: "enter".into(),
            values: object(json!({})),
            by: "agnes".into(),
        })
        .unwrap_err();
    assert!(
        matches!(input, TransitionError::IsAView { .. }),
        "{input:?}"
    );
    flow.apply(submit(json!({"premium": 1.0})));
    // The instance completed: nothing more is taken.
    assert!(flow.try_apply(submit(json!({"premium": 1.0}))).is_err());
    let (mut flow, _) = Flow::start_with(QUOTE, json!({}));
    let not_a_view = flow
        .try_apply(Command::Submit {
            task: "issue".into(),
            data: object(json!({})),
            by: "agnes".into(),
        })
        .unwrap_err();
    assert!(
        matches!(not_a_view, TransitionError::NotAView { kind: "set", .. }),
        "{not_a_view:?}"
    );
}

#[test]
fn interactive_and_auto_persist_are_read_and_a_view_has_its_form() {
    let def = parse("quote.yaml", &(QUOTE.join("\n") + "\n")).unwrap();
    assert!(def.interactive && def.auto_persist);
    let TaskKind::View(spec) = &def.tasks[0].kind else {
        panic!("a view")
    };
    assert_eq!(
        (spec.title.as_str(), spec.form.len(), spec.form[1].required),
        ("Enter the quote", 2, false)
    );
}

#[test]
fn a_view_or_auto_persist_outside_an_interactive_workflow_is_refused_where_it_is_written() {
    let source = "id: plain\nauto_persist: true\ntasks:\n  - id: enter\n    kind: view\n";
    let error = parse("plain.yaml", source).unwrap_err();
    let found: Vec<(usize, usize)> = error
        .diagnostics
        .iter()
        .map(|d| (d.line, d.column))
        .collect();
    assert_eq!(found, [(2, 15), (5, 11)], "{error}");
    assert!(error.diagnostics[0]
        .message
        .contains("`auto_persist` is for interactive workflows"));
    assert!(error.diagnostics[1]
        .message
        .contains("is a view, which only interactive workflows have"));
    assert!(error.diagnostics[1]
        .hint
        .as_deref()
        .unwrap()
        .contains("interactive: true"));
}
