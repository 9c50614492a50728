//! Data from outside is bounded on every way in: the start data, a job's output, the values
//! given for prompts, a human task's output and the data defaults of a definition are each
//! held to the driver's [`DataLimits`] (depth and size). Refused payloads change nothing; a job
//! output past them ends the job's task `ended_not_ok` with the reason.

mod support;

use baton_core::definition::parse_with;
use baton_core::user_task::{Actor, Caller, HumanTaskId, UserTaskCommand};
use baton_core::{
    start_with, Command, DataLimitError, DataLimits, InstanceStatus, Knowledge, Reason, TaskStatus,
    TransitionError,
};
use serde_json::{json, Map, Value};
use support::*;

/// At most 3 levels and 60 bytes per payload.
fn small() -> Knowledge {
    Knowledge {
        limits: DataLimits::new(3, 60).unwrap(),
        ..Knowledge::default()
    }
}

/// `{"v": [[…]]}`, `depth` levels in all.
fn nested(depth: usize) -> Value {
    let mut value = json!(1);
    for _ in 1..depth {
        value = Value::Array(vec![value]);
    }
    json!({ "v": value })
}

const JOB: &[&str] = &[
    "id: p",
    "data:",
    "  v: any",
    "tasks:",
    "  - id: work",
    "    kind: job",
    "    command: ./work.sh",
];

#[test]
fn start_data_past_the_limits_is_refused() {
    let def = definition(JOB);
    let start =
        |data: Value| start_with(&def, "i-1".into(), object(data), t0(), &small()).map(|_| ());
    assert_eq!(start(nested(3)), Ok(()));
    assert_eq!(
        start(nested(4)),
        Err(TransitionError::DataLimit {
            what: "the start data".into(),
            error: DataLimitError::TooDeep { limit: 3 }
        })
    );
    assert_eq!(
        start(json!({"v": "x".repeat(60)})),
        Err(TransitionError::DataLimit {
            what: "the start data".into(),
            error: DataLimitError::TooLarge { limit: 60 }
        })
    );
    assert_eq!(
        TransitionError::DataLimit {
            what: "the start data".into(),
            error: DataLimitError::TooDeep { limit: 3 }
        }
        .to_string(),
        "the start data nests deeper than the limit of 3 levels"
    );
}

#[test]
fn a_job_output_past_the_limits_ends_the_task_not_ok_and_leaves_the_data_alone() {
    for (output, problem) in [
        (nested(4), "nests deeper than the limit of 3 levels"),
        (
            json!({"v": "x".repeat(60)}),
            "is larger than the limit of 60 bytes (as JSON)",
        ),
    ] {
        let (mut flow, _) = Flow::start_full(JOB, json!({}), t0(), small());
        flow.exit_after("work", 0, std::time::Duration::from_secs(1), Some(output));
        assert_eq!(flow.status("work"), TaskStatus::EndedNotOk);
        assert_eq!(
            flow.reason("work"),
            Some(Reason::DataLimit {
                what: "the job's output".into(),
                problem: problem.into()
            })
        );
        assert_eq!(flow.inst.data, object(json!({"v": null})));
        assert_eq!(flow.inst.status, InstanceStatus::Failed);
    }
    assert_eq!(
        Reason::DataLimit {
            what: "the job's output".into(),
            problem: "nests deeper than the limit of 3 levels".into()
        }
        .to_string(),
        "the job's output nests deeper than the limit of 3 levels; it was not taken in"
    );
}

#[test]
fn a_job_output_at_the_limits_is_taken_in() {
    let (mut flow, _) = Flow::start_full(JOB, json!({}), t0(), small());
    flow.exit_after(
        "work",
        0,
        std::time::Duration::from_secs(1),
        Some(nested(3)),
    );
    assert_eq!(flow.status("work"), TaskStatus::EndedOk);
    assert_eq!(flow.inst.data, object(nested(3)));
}

#[test]
fn prompt_input_past_the_limits_is_refused_and_changes_nothing() {
    let (mut flow, _) = Flow::start_full(
        &[
            "id: p",
            "data:",
            "  v: any",
            "tasks:",
            "  - id: ask",
            "    kind: end",
            "    prompts: [{name: v}]",
        ],
        json!({}),
        t0(),
        small(),
    );
    let before = flow.inst.clone();
    let refused = flow.try_apply(Command::ProvideInput {
        task: "ask".into(),
        values: object(nested(4)),
        by: "operator".into(),
    });
    assert_eq!(
        refused.map(|_| ()),
        Err(TransitionError::DataLimit {
            what: "the input for task `ask`".into(),
            error: DataLimitError::TooDeep { limit: 3 }
        })
    );
    assert_eq!(flow.inst, before);
}

#[test]
fn a_human_task_output_past_the_limits_is_refused_and_changes_nothing() {
    let (mut flow, _) = Flow::start_full(
        &[
            "id: p",
            "data:",
            "  v: any",
            "tasks:",
            "  - id: review",
            "    kind: user",
            "    owners: john",
            "    form: {v: any}",
        ],
        json!({}),
        t0(),
        small(),
    );
    let john = || Actor::User(Caller::new("john"));
    flow.apply(Command::UserTask {
        task: "review".into(),
        actor: john(),
        command: UserTaskCommand::Claim {
            task: HumanTaskId::ORIGINAL,
        },
    });
    let before = flow.inst.clone();
    let complete = Command::UserTask {
        task: "review".into(),
        actor: john(),
        command: UserTaskCommand::Complete {
            task: HumanTaskId::ORIGINAL,
            output: object(json!({"v": "x".repeat(60)})),
        },
    };
    assert_eq!(
        flow.try_apply(complete).map(|_| ()),
        Err(TransitionError::DataLimit {
            what: "the output of user task `review`".into(),
            error: DataLimitError::TooLarge { limit: 60 }
        })
    );
    assert_eq!(flow.inst, before);
}

#[test]
fn a_default_past_the_limits_is_a_deploy_error_at_the_default() {
    let source = "id: p\ndata:\n  v:\n    type: any\n    default: [[[1]]]\ntasks:\n  - id: t\n    kind: end\n";
    let limits = DataLimits::new(3, 60).unwrap();
    let e = parse_with("flow.yaml", source, &limits).unwrap_err();
    assert_eq!(
        e.to_string(),
        "flow.yaml:5:14: the default of `v` nests deeper than the limit of 3 levels\n  hint: a default is held to the limits of data given at start; make it smaller"
    );
    // Two levels of lists in the data object are 3 levels: at the limit.
    let at_limit = source.replace("[[[1]]]", "[[1]]");
    assert!(parse_with("flow.yaml", &at_limit, &limits).is_ok());
    // A stored definition is read back with the ceiling of the limits, whatever they are now.
    assert!(baton_core::parse_definition("flow.yaml", source).is_ok());
}

#[test]
fn the_whole_object_counts_as_one_level() {
    let limits = DataLimits::new(1, 100).unwrap();
    assert_eq!(limits.check_object(&Map::new()), Ok(()));
    assert_eq!(
        limits.check_object(&object(json!({"a": 1, "b": "two"}))),
        Ok(())
    );
    assert_eq!(
        limits.check_object(&object(json!({"a": {}}))),
        Err(DataLimitError::TooDeep { limit: 1 })
    );
}

#[test]
fn a_whole_number_beyond_64_bit_integers_is_refused_for_integer_data() {
    let def = definition(&[
        "id: p",
        "data:",
        "  n: integer",
        "tasks:",
        "  - id: t",
        "    kind: end",
    ]);
    let data: Map<String, Value> = serde_json::from_str(r#"{"n": 18446744073709551615}"#).unwrap();
    assert_eq!(
        start_with(&def, "i-1".into(), data, t0(), &Knowledge::default()).map(|_| ()),
        Err(TransitionError::InvalidData(vec![
            "`n` must be integer, got a whole number above 9223372036854775807".into()
        ]))
    );
    let data: Map<String, Value> = serde_json::from_str(r#"{"n": 9223372036854775807}"#).unwrap();
    assert!(
        start_with(&def, "i-1".into(), data, t0(), &Knowledge::default()).is_ok(),
        "the largest 64-bit integer is fine"
    );
}

/// A `set` task writing `v` from `expression`, on data `{"v": …}` given at start.
fn set_flow(expression: &str, start: Value) -> Flow {
    let assignment = format!("    set: {{v: \"{expression}\"}}");
    let (flow, _) = Flow::start_full(
        &[
            "id: p",
            "data:",
            "  v: any",
            "tasks:",
            "  - id: grow",
            "    kind: set",
            &assignment,
        ],
        start,
        t0(),
        small(),
    );
    flow
}

#[test]
fn a_set_value_past_the_limits_ends_the_task_not_ok_and_nothing_of_it_is_stored() {
    // 3 levels of data, nested in 1 more list by the expression: 4 levels.
    let flow = set_flow("[data.v]", json!({"v": [[1]]}));
    assert_eq!(
        (flow.status("grow"), flow.inst.status),
        (TaskStatus::EndedNotOk, InstanceStatus::Failed)
    );
    let reason = Reason::DataLimit {
        what: "the values of set task `grow`".into(),
        problem: "nests deeper than the limit of 3 levels".into(),
    };
    assert_eq!(flow.reason("grow"), Some(reason.clone()));
    assert_eq!(reason.to_string(), "the values of set task `grow` nests deeper than the limit of 3 levels; it was not taken in");
    assert_eq!(flow.inst.data, object(json!({"v": [[1]]})));
    // Larger than the data it read: a string repeated.
    let flow = set_flow("data.v + data.v + data.v", json!({"v": "x".repeat(20)}));
    assert_eq!(
        flow.reason("grow"),
        Some(Reason::DataLimit {
            what: "the values of set task `grow`".into(),
            problem: "is larger than the limit of 60 bytes (as JSON)".into()
        })
    );
    assert_eq!(flow.inst.data, object(json!({"v": "x".repeat(20)})));
    // At the limits, the value is taken in.
    let flow = set_flow("[data.v]", json!({"v": [1]}));
    assert_eq!(
        (flow.status("grow"), flow.inst.data.clone()),
        (TaskStatus::EndedOk, object(json!({"v": [[1]]})))
    );
}

/// A user task for `john` with an `input:` or `output:` mapping of `v`.
fn mapped_user_task(field: &str, expression: &str) -> Flow {
    let mapping = format!("    {field}: {{v: \"{expression}\"}}");
    let lines = [
        "id: p",
        "data:",
        "  v: any",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: john",
        "    form: {v: any}",
        &mapping,
    ];
    Flow::start_full(&lines, json!({"v": [1]}), t0(), small()).0
}

#[test]
fn an_output_mapping_past_the_limits_ends_the_user_task_not_ok_and_leaves_the_data_alone() {
    let mut flow = mapped_user_task("output", "[[output.v]]");
    let john = || Actor::User(Caller::new("john"));
    flow.apply(Command::UserTask {
        task: "review".into(),
        actor: john(),
        command: UserTaskCommand::Claim {
            task: HumanTaskId::ORIGINAL,
        },
    });
    let output = object(json!({"v": [2]}));
    flow.apply(Command::UserTask {
        task: "review".into(),
        actor: john(),
        command: UserTaskCommand::Complete {
            task: HumanTaskId::ORIGINAL,
            output,
        },
    });
    assert_eq!(flow.status("review"), TaskStatus::EndedNotOk);
    assert_eq!(
        flow.reason("review"),
        Some(Reason::DataLimit {
            what: "the output mapping of user task `review`".into(),
            problem: "nests deeper than the limit of 3 levels".into()
        })
    );
    assert_eq!(flow.inst.data, object(json!({"v": [1]})));
}

#[test]
fn an_input_mapping_past_the_limits_ends_the_user_task_not_ok_before_its_human_task_is_made() {
    let flow = mapped_user_task("input", "[[data.v]]");
    assert_eq!(flow.status("review"), TaskStatus::EndedNotOk);
    assert_eq!(
        flow.reason("review"),
        Some(Reason::DataLimit {
            what: "the input of user task `review`".into(),
            problem: "nests deeper than the limit of 3 levels".into()
        })
    );
    assert!(
        flow.task("review").user_task.is_none(),
        "no human task holds the oversized input"
    );
}

#[test]
fn foreach_items_past_the_limits_end_the_task_not_ok_and_are_not_kept() {
    // The items are kept in the task's state: `[[[1]]]` per item is 4 levels as process data.
    let lines = [
        "id: p",
        "data:",
        "  files: list",
        "tasks:",
        "  - id: each",
        "    kind: foreach",
        "    items: data.files.map(f, [[f]])",
        "    tasks:",
        "      - id: load",
        "        kind: end",
    ];
    let (flow, tr) = Flow::start_full(&lines, json!({"files": [1, 2]}), t0(), small());
    assert_eq!(flow.status("each"), TaskStatus::EndedNotOk);
    assert_eq!(
        flow.reason("each"),
        Some(Reason::DataLimit {
            what: "the items of foreach task `each`".into(),
            problem: "nests deeper than the limit of 3 levels".into()
        })
    );
    assert!(flow.task("each").foreach.is_none());
    assert!(!tr
        .effects
        .iter()
        .any(|e| matches!(e, baton_core::Effect::StartIteration { .. })));
    // One level less is within them.
    let lines = lines.map(|l| l.replace("[[f]]", "[f]"));
    let (flow, _) = Flow::start_full(
        &lines.iter().map(String::as_str).collect::<Vec<_>>(),
        json!({"files": [1, 2]}),
        t0(),
        small(),
    );
    assert_eq!(flow.status("each").name(), "running");
}
