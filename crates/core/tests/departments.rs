//! Stardust's department scoping in the core: a definition declares where an instance's
//! department comes from (`department:`, a CEL expression checked at deploy); a root instance
//! takes it from its start data, once; what it starts inherits it as it is.

use baton_core::definition::parse;
use baton_core::step::{start, TransitionError};
use chrono::{TimeZone, Utc};
use serde_json::{json, Map, Value};

fn data(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

const CLAIM: &str = include_str!("fixtures/claim-by-department.yaml");

#[test]
fn a_department_expression_that_does_not_compile_is_refused_at_deploy_at_its_line_and_column() {
    let source = "id: claim\ntasks:\n  - {id: a, kind: end}\ndepartment: data.dept +\n";
    let refused = parse("claim.yaml", source).unwrap_err();
    let d = &refused.diagnostics[0];
    assert_eq!(
        (refused.diagnostics.len(), d.line, d.column),
        (1, 4, 24),
        "{refused}"
    ); // the end of the expression
    assert!(d.message.starts_with("department: "), "{}", d.message);
    assert_eq!(
        d.hint.as_deref(),
        Some("in the CEL expression `data.dept +`")
    );

    let unknown = parse(
        "claim.yaml",
        "id: claim\ndepartment: dept\ntasks:\n  - {id: a, kind: end}\n",
    )
    .unwrap_err();
    assert_eq!(
        (unknown.diagnostics[0].line, unknown.diagnostics[0].column),
        (2, 13),
        "{unknown}"
    );
}

#[test]
fn a_root_instance_takes_its_department_from_its_start_data() {
    let def = parse("claim.yaml", CLAIM).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let legal = start(&def, "i-1".into(), data(json!({"dept": "legal"})), now).unwrap();
    assert_eq!(legal.instance.department.as_deref(), Some("legal"));
    let none = start(&def, "i-2".into(), Map::new(), now).unwrap();
    assert_eq!(none.instance.department, None, "null: unscoped");

    let plain = parse("plain.yaml", "id: plain\ntasks:\n  - {id: a, kind: end}\n").unwrap();
    assert_eq!(
        start(&plain, "i-3".into(), data(json!({"dept": "legal"})), now)
            .unwrap()
            .instance
            .department,
        None,
        "a definition that declares none is unscoped"
    );
}

#[test]
fn a_department_expression_that_gives_no_name_refuses_the_start() {
    let def = parse(
        "claim.yaml",
        "id: claim\ndepartment: data.n\ntasks:\n  - {id: a, kind: end}\n",
    )
    .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let refused = start(&def, "i-1".into(), data(json!({"n": 7})), now).unwrap_err();
    let TransitionError::InvalidData(problems) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(problems, ["`department: data.n` gave 7; a department is a name of 1 to 64 characters, or null for none"]);
    let refused = start(&def, "i-1".into(), data(json!({"n": ""})), now).unwrap_err();
    assert!(
        matches!(refused, TransitionError::InvalidData(_)),
        "an empty name: {refused:?}"
    );
    let refused = start(&def, "i-1".into(), Map::new(), now).unwrap_err();
    let TransitionError::InvalidData(problems) = refused else {
        panic!("{refused:?}")
    };
    assert!(
        problems[0].starts_with("`department: data.n` cannot be evaluated on the start data: "),
        "{problems:?}"
    );
}
