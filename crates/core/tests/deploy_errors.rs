//! Deploy errors: a malformed definition is rejected with the file, line, column and a
//! sentence that says what to change (DESIGN.md, "Bad input"). One test per class of mistake;
//! each pins the exact line and column, so a reader can check them against the numbered source.

use baton_core::definition::{
    parse, parse_with, DataType, Definition, DefinitionError, Diagnostic, TaskKind,
};
use baton_core::DataLimits;

/// Joins lines into a YAML document, so that line N of the file is `lines[N - 1]`.
fn yaml(lines: &[&str]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// Checked as a deploy checks it (with the default data limits).
fn errors(src: &str) -> DefinitionError {
    match parse_with("flow.yaml", src, &DataLimits::default()) {
        Ok(def) => panic!(
            "expected a deploy error, got a definition with {} tasks",
            def.tasks.len()
        ),
        Err(e) => e,
    }
}

/// The only diagnostic for `src`.
fn one(src: &str) -> Diagnostic {
    let e = errors(src);
    assert_eq!(e.diagnostics.len(), 1, "expected one diagnostic, got:\n{e}");
    e.diagnostics.into_iter().next().unwrap()
}

fn ok(src: &str) -> Definition {
    parse_with("flow.yaml", src, &DataLimits::default())
        .unwrap_or_else(|e| panic!("expected the definition to deploy:\n{e}"))
}

#[track_caller]
fn assert_at(d: &Diagnostic, line: usize, column: usize) {
    assert_eq!(
        (d.line, d.column),
        (line, column),
        "wrong position for: {} (hint: {:?})",
        d.message,
        d.hint
    );
}

#[track_caller]
fn assert_hint(d: &Diagnostic, needle: &str) {
    let hint = d
        .hint
        .as_deref()
        .unwrap_or_else(|| panic!("no hint for: {}", d.message));
    assert!(
        hint.contains(needle),
        "hint {hint:?} should contain {needle:?}"
    );
}

#[track_caller]
fn assert_message(d: &Diagnostic, needle: &str) {
    assert!(
        d.message.contains(needle),
        "message {:?} should contain {needle:?}",
        d.message
    );
}

#[test]
fn yaml_syntax_error_is_reported_where_the_parser_stopped() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: job",
        "   command: x", // one space short: leaves the task mapping mid-sequence
    ]));
    assert_at(&d, 5, 11);
    assert_message(&d, "YAML syntax error");
    assert_hint(&d, "indentation");

    let d = one(&yaml(&["id: p", "tasks:", "  - id: \"a"]));
    assert_at(&d, 3, 9); // the quote that is never closed
    assert_message(&d, "quoted scalar");
}

#[test]
fn a_key_written_twice_in_one_mapping_is_refused() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: job",
        "    command: ./one.sh",
        "    command: ./two.sh",
    ]));
    assert_at(&d, 6, 5);
    assert_message(&d, "the key `command` appears twice");
    assert_hint(&d, "remove or rename one");
}

#[test]
fn unknown_field_points_at_the_key_and_suggests_the_right_one() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: extract",
        "    kind: job",
        "    command: ./extract.sh",
        "  - id: load",
        "    kind: job",
        "    command: ./load.sh",
        "    afterr: [extract]",
    ]));
    assert_at(&d, 9, 5);
    assert_message(&d, "unknown field `afterr`");
    assert_message(&d, "`after`"); // the accepted fields are listed
    assert_hint(&d, "did you mean `after`?");
}

#[test]
fn unknown_fields_in_nested_mappings_are_found_too() {
    // In a data declaration.
    let d = one(&yaml(&[
        "id: p",
        "data:",
        "  amount:",
        "    type: integer",
        "    defualt: 3",
        "tasks:",
        "  - id: e",
        "    kind: end",
    ]));
    assert_at(&d, 5, 5);
    assert_message(&d, "unknown field `defualt`");
    assert_hint(&d, "did you mean `default`?");

    // In an `after` entry with a status.
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: end",
        "  - id: b",
        "    kind: end",
        "    after:",
        "      - task: a",
        "        stat: ended_ok",
    ]));
    assert_at(&d, 9, 9);
    assert_message(&d, "unknown field `stat`");
    assert_hint(&d, "did you mean `status`?");

    // In `dependencies`.
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: end",
        "  - id: b",
        "    kind: end",
        "    after: [a]",
        "    dependencies:",
        "      elze: skip",
    ]));
    assert_at(&d, 9, 7);
    assert_hint(&d, "did you mean `else`?");
}

#[test]
fn missing_process_id_is_reported_at_the_top_of_the_file() {
    let d = one(&yaml(&[
        "name: Nightly load",
        "tasks:",
        "  - id: a",
        "    kind: end",
    ]));
    assert_at(&d, 1, 1);
    assert_message(&d, "missing field `id`");
    assert_hint(&d, "add the field");

    // A key named `id` deeper in the file is not the missing one.
    let d = one(&yaml(&[
        "name: x",
        "data:",
        "  id: string",
        "tasks:",
        "  - id: a",
        "    kind: end",
    ]));
    assert_at(&d, 1, 1);
    assert_message(&d, "missing field `id`");
}

#[test]
fn missing_task_fields_are_reported_at_the_task() {
    let d = one(&yaml(&["id: p", "tasks:", "  - kind: end"]));
    assert_at(&d, 3, 5); // the task's first key, not the `:` after it
    assert_message(&d, "missing field `id`");

    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "  - id: b",
        "    kind: end",
    ]));
    assert_at(&d, 3, 5);
    assert_message(&d, "missing field `kind`");

    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: d",
        "    kind: decision",
        "    branches:",
        "      - when: 'true'",
        "  - id: e",
        "    kind: end",
    ]));
    assert_at(&d, 6, 9); // the branch that lacks `to`
    assert_message(&d, "a branch needs `to: [TASKS]`");
}

#[test]
fn unknown_predecessor_suggests_the_nearest_task_id() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: extract",
        "    kind: job",
        "    command: ./extract.sh",
        "  - id: load",
        "    kind: job",
        "    command: ./load.sh",
        "    after: [extrct]",
    ]));
    assert_at(&d, 9, 13);
    assert_message(&d, "predecessor `extrct` is not a task of this process");
    assert_hint(&d, "did you mean `extract`?");

    // The long form points at the task id too.
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: extract",
        "    kind: end",
        "  - id: load",
        "    kind: end",
        "    after:",
        "      - {task: extrct, status: ended_ok}",
    ]));
    assert_at(&d, 8, 16);
    assert_hint(&d, "did you mean `extract`?");
}

#[test]
fn a_cycle_is_refused_and_named() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: end",
        "    after: [b]",
        "  - id: b",
        "    kind: end",
        "    after: [a]",
    ]));
    assert_at(&d, 8, 13);
    assert_message(&d, "the tasks form a cycle: b -> a -> b");
    assert_hint(&d, "`back_to: TASK`");
}

#[test]
fn a_task_cannot_be_its_own_predecessor() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: end",
        "    after: [a]",
    ]));
    assert_at(&d, 5, 13);
    assert_message(&d, "task `a` cannot be its own predecessor");
}

#[test]
fn duplicate_task_ids_point_at_the_second_and_name_the_first() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: load",
        "    kind: end",
        "  - id: load",
        "    kind: end",
    ]));
    assert_at(&d, 5, 9);
    assert_message(&d, "duplicate task id `load`");
    assert_hint(&d, "the first task with this id is at line 3");
}

#[test]
fn unknown_kind_lists_the_kinds() {
    let d = one(&yaml(&["id: p", "tasks:", "  - id: a", "    kind: jobb"]));
    assert_at(&d, 4, 11);
    assert_message(&d, "unknown task kind `jobb`");
    assert_hint(
        &d,
        "job, set, decision, foreach, user, call, handoff, wait, view, end",
    );
}

fn set_task(expr_line: &str) -> String {
    yaml(&[
        "id: p",
        "data:",
        "  x: integer",
        "tasks:",
        "  - id: a",
        "    kind: set",
        "    set:",
        expr_line,
    ])
}

#[test]
fn bad_expression_in_set_points_inside_the_expression() {
    let d = one(&set_task("      x: data.x + )"));
    assert_at(&d, 8, 19); // the `)`
    assert_message(&d, "set.x: Syntax error");
    assert_hint(&d, "in the CEL expression `data.x + )`");

    let d = one(&set_task("      x: \"data.x + )\""));
    assert_at(&d, 8, 20); // one further: the opening quote is not part of the expression

    let d = one(&set_task("      x: 'data.x + )'"));
    assert_at(&d, 8, 20);

    // An expression that stops short is reported just after its end.
    let d = one(&set_task("      x: data.x +"));
    assert_at(&d, 8, 18);
    assert_message(&d, "set.x: Syntax error");
}

#[test]
fn bad_expression_over_several_lines_points_at_the_right_line() {
    let src = yaml(&[
        "id: p",
        "data:",
        "  x: integer",
        "tasks:",
        "  - id: a",
        "    kind: set",
        "    set:",
        "      x: |",
        "        data.x +",
        "          )",
    ]);
    assert_at(&one(&src), 10, 11);

    let src = yaml(&[
        "id: p",
        "data:",
        "  x: integer",
        "tasks:",
        "  - id: a",
        "    kind: set",
        "    set:",
        "      x: data.x +",
        "        data.x + )", // a plain scalar folded onto one line
    ]);
    assert_at(&one(&src), 9, 18);
}

fn decision(when_line: &str) -> String {
    yaml(&[
        "id: p",
        "data:",
        "  amount: integer",
        "tasks:",
        "  - id: check",
        "    kind: decision",
        "    branches:",
        when_line,
        "        to: [approve]",
        "  - id: approve",
        "    kind: end",
    ])
}

#[test]
fn bad_expression_in_decision_when_points_inside_the_expression() {
    let d = one(&decision("      - when: data.amount > > 100"));
    assert_at(&d, 8, 29); // the second `>`
    assert_message(&d, "when: Syntax error");
    assert_hint(&d, "in the CEL expression `data.amount > > 100`");

    let d = one(&decision("      - when: \"data.amount > > 100\""));
    assert_at(&d, 8, 30);
}

fn job_env(env_line: &str) -> String {
    yaml(&[
        "id: p",
        "tasks:",
        "  - id: j",
        "    kind: job",
        "    command: ./run.sh",
        "    env:",
        env_line,
    ])
}

#[test]
fn bad_expression_in_job_env_points_inside_the_expression() {
    let d = one(&job_env("      TARGET: data.x == )"));
    assert_at(&d, 7, 25);
    assert_message(&d, "env.TARGET: Syntax error");
    assert_hint(&d, "in the CEL expression `data.x == )`");

    let d = one(&job_env("      TARGET: 'data.x == )'"));
    assert_at(&d, 7, 26);
}

#[test]
fn unknown_variable_in_an_expression_is_named_where_it_is_used() {
    let d = one(&job_env("      AMOUNT: \"'n=' + amount\""));
    assert_at(&d, 7, 23);
    assert_message(&d, "unknown variable `amount`");
    assert_message(&d, "`data.amount`"); // says how to reach process data

    // The column is the bare variable, not the same word inside `data.amount` or a string.
    let d = one(&job_env("      AMOUNT: data.amount + amount"));
    assert_at(&d, 7, 29);
    let d = one(&job_env("      AMOUNT: \"'amount' + amount\""));
    assert_at(&d, 7, 27);
}

#[test]
fn variables_bound_by_macros_are_not_unknown() {
    let def = ok(&yaml(&[
        "id: p",
        "data:",
        "  items: list",
        "  doubled: list",
        "  all_positive: boolean",
        "tasks:",
        "  - id: a",
        "    kind: set",
        "    set:",
        "      doubled: data.items.map(i, i * 2)",
        "      all_positive: data.items.all(x, x > 0) && data.items.exists(x, x > 1)",
    ]));
    assert!(matches!(&def.tasks[0].kind, TaskKind::Set(assignments) if assignments.len() == 2));

    // …but only inside the macro.
    let d = one(&job_env("      N: string(data.l.all(x, x > 0)) + x"));
    assert_message(&d, "unknown variable `x`");
    assert_at(&d, 7, 41);
}

#[test]
fn data_default_of_the_wrong_type_is_refused() {
    let d = one(&yaml(&[
        "id: p",
        "data:",
        "  retries:",
        "    type: integer",
        "    default: three",
        "tasks:",
        "  - id: e",
        "    kind: end",
    ]));
    assert_at(&d, 5, 14);
    assert_message(
        &d,
        "the default of `retries` is string but its type is integer",
    );
    assert_hint(&d, "write a value of type integer, or change `type`");

    // A quoted number is text.
    let d = one(&yaml(&[
        "id: p",
        "data:",
        "  retries: {type: integer, default: \"3\"}",
        "tasks:",
        "  - id: e",
        "    kind: end",
    ]));
    assert_at(&d, 3, 37);
    assert_message(&d, "is string but its type is integer");

    // Unquoted, it is a number; a whole number is also a `number`.
    let def = ok(&yaml(&[
        "id: p",
        "data:",
        "  retries: {type: integer, default: 3}",
        "  ratio: {type: number, default: 1}",
        "tasks:",
        "  - id: e",
        "    kind: end",
    ]));
    assert_eq!(def.data["retries"].default, Some(serde_json::json!(3)));
    assert_eq!(def.data["ratio"].ty, DataType::Number);
}

#[test]
fn unknown_data_type_lists_the_types() {
    let e = errors(&yaml(&[
        "id: p",
        "data:",
        "  amount:",
        "    type: integr",
        "  customer: strng",
        "tasks:",
        "  - id: e",
        "    kind: end",
    ]));
    assert_eq!(e.diagnostics.len(), 2, "{e}");
    assert_at(&e.diagnostics[0], 4, 11);
    assert_message(&e.diagnostics[0], "unknown data type `integr` for `amount`");
    assert_hint(
        &e.diagnostics[0],
        "string, integer, number, boolean, object, list, any",
    );
    assert_at(&e.diagnostics[1], 5, 13);
    assert_message(
        &e.diagnostics[1],
        "unknown data type `strng` for `customer`",
    );
}

#[test]
fn set_target_must_be_declared_under_data() {
    let d = one(&yaml(&[
        "id: p",
        "data:",
        "  total: integer",
        "tasks:",
        "  - id: sum",
        "    kind: set",
        "    set:",
        "      totl: \"1 + 2\"",
    ]));
    assert_at(&d, 8, 7);
    assert_message(&d, "`totl` is not declared under `data`");
    assert_hint(&d, "did you mean `total`?");

    // Nothing close: the hint says how to declare it.
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: sum",
        "    kind: set",
        "    set:",
        "      grand_total: \"1\"",
    ]));
    assert_at(&d, 6, 7);
    assert_hint(&d, "declare it");
}

#[test]
fn a_field_of_another_kind_is_reported_at_the_field() {
    let d = one(&yaml(&[
        "id: p",
        "data:",
        "  total: integer",
        "tasks:",
        "  - id: sum",
        "    kind: set",
        "    command: ./sum.sh",
        "    set:",
        "      total: \"1\"",
    ]));
    assert_at(&d, 7, 5);
    assert_message(
        &d,
        "task `sum` is a set task but sets `command`, which only job tasks have",
    );
    assert_hint(&d, "remove `command` or change `kind` to job");

    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: done",
        "    kind: end",
        "    mode: all",
    ]));
    assert_at(&d, 5, 5);
    assert_message(
        &d,
        "is an end task but sets `mode`, which only decision tasks have",
    );
}

#[test]
fn a_job_without_a_command_is_refused() {
    let d = one(&yaml(&["id: p", "tasks:", "  - id: load", "    kind: job"]));
    assert_at(&d, 3, 9);
    assert_message(&d, "job task `load` needs a `command` or a `topic`");
    assert_hint(&d, "command:");
    assert_hint(&d, "topic:");
}

#[test]
fn a_job_with_a_topic_is_for_external_workers() {
    let def = ok(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: check",
        "    kind: job",
        "    topic: invoice-check",
        "    retry: 2",
    ]));
    let TaskKind::Job(job) = &def.tasks[0].kind else {
        panic!("a job")
    };
    assert_eq!(
        job.target,
        baton_core::JobTarget::Topic("invoice-check".into())
    );
    assert!(job.retry.is_some());
}

#[test]
fn a_job_with_both_a_command_and_a_topic_is_refused() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: check",
        "    kind: job",
        "    command: ./check.sh",
        "    topic: checks",
    ]));
    assert_at(&d, 6, 12);
    assert_message(&d, "has both a `command` and a `topic`");
}

#[test]
fn a_topic_with_characters_a_url_cannot_carry_is_refused() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: check",
        "    kind: job",
        "    topic: invoice check",
    ]));
    assert_at(&d, 5, 12);
    assert_message(&d, "topic `invoice check` is not allowed");
}

#[test]
fn a_workdir_or_timeout_on_an_external_job_is_refused() {
    for field in ["workdir: /tmp", "timeout: 5m"] {
        let d = one(&yaml(&[
            "id: p",
            "tasks:",
            "  - id: check",
            "    kind: job",
            "    topic: checks",
            &format!("    {field}"),
        ]));
        assert_at(&d, 5, 12);
        assert_message(&d, "is for jobs Baton runs");
        assert_hint(&d, "max_runtime");
    }
}

#[test]
fn bad_timeout_says_how_to_write_a_duration() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: j",
        "    kind: job",
        "    command: ./run.sh",
        "    timeout: five minutes",
    ]));
    assert_at(&d, 6, 14);
    assert_message(&d, "`timeout` is not a duration");
    assert_hint(&d, "`30s`, `5m`, `1h 30m`");

    let def = ok(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: j",
        "    kind: job",
        "    command: ./run.sh",
        "    timeout: 1h 30m",
    ]));
    let TaskKind::Job(job) = &def.tasks[0].kind else {
        panic!("a job")
    };
    assert_eq!(job.timeout, Some(std::time::Duration::from_secs(90 * 60)));
}

#[test]
fn bad_dependency_status_points_at_the_status() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: end",
        "  - id: b",
        "    kind: end",
        "    after:",
        "      - task: a",
        "        status: ended_fine",
    ]));
    assert_at(&d, 9, 17);
    assert_message(&d, "unknown predecessor status `ended_fine`");
    assert_hint(&d, "any_ok, any_not_ok, any_end");
    assert_hint(&d, "ended_not_ok");

    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: end",
        "  - id: b",
        "    kind: end",
        "    after:",
        "      - task: a",
        "        status: [ended_ok, ended_fine]",
    ]));
    assert_at(&d, 9, 17);
    assert_message(&d, "`ended_fine`");
}

#[test]
fn bad_else_action_and_decision_mode_list_the_choices() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: end",
        "  - id: b",
        "    kind: end",
        "    after: [a]",
        "    dependencies:",
        "      else: ignore",
    ]));
    assert_at(&d, 9, 13);
    assert_hint(&d, "skip, block, abort, {run: …}");

    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: d",
        "    kind: decision",
        "    mode: any",
        "    branches:",
        "      - when: 'true'",
        "        to: [e]",
        "  - id: e",
        "    kind: end",
    ]));
    assert_at(&d, 5, 11);
    assert_message(&d, "unknown decision mode `any`");
}

#[test]
fn after_must_be_a_list() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: end",
        "  - id: b",
        "    kind: end",
        "    after: a",
    ]));
    assert_at(&d, 7, 12);
    assert_hint(&d, "`after: [a]`");
}

#[test]
fn json_definitions_are_accepted() {
    let def = ok(
        r#"{"id": "p", "data": {"n": {"type": "integer", "default": 3}},
 "tasks": [{"id": "a", "kind": "set", "set": {"n": "data.n + 1"}},
           {"id": "b", "kind": "end", "after": ["a"]}]}"#,
    );
    assert_eq!(def.id, "p");
    assert_eq!(def.tasks.len(), 2);
    assert_eq!(def.data["n"].default, Some(serde_json::json!(3)));
    assert_eq!(def.tasks[1].predecessors[0].task, 0);

    // …and their mistakes are positioned the same way.
    let d = one("{\"id\": \"p\",\n \"tasks\": [{\"id\": \"a\", \"kind\": \"end\", \"aftr\": []}]}");
    assert_at(&d, 2, 39);
    assert_hint(&d, "did you mean `after`?");
}

#[test]
fn every_problem_is_reported_in_file_order_and_displayed_as_file_line_column() {
    let e = errors(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: b",
        "    kind: end",
        "    after: [aa]",
        "  - id: a",
        "    kind: jobb",
    ]));
    let positions: Vec<(usize, usize)> = e.diagnostics.iter().map(|d| (d.line, d.column)).collect();
    assert_eq!(positions, vec![(5, 13), (7, 11)]);
    assert_eq!(
        e.to_string(),
        "flow.yaml:5:13: predecessor `aa` is not a task of this process\n  \
         hint: did you mean `a`?\n\
         flow.yaml:7:11: unknown task kind `jobb`\n  \
         hint: use one of: job, set, decision, foreach, user, call, handoff, wait, view, end"
    );
    for line in e.to_string().lines().filter(|l| !l.starts_with("  hint:")) {
        let mut parts = line.splitn(4, ':');
        assert_eq!(parts.next(), Some("flow.yaml"));
        assert!(parts.next().unwrap().parse::<usize>().is_ok(), "{line}");
        assert!(parts.next().unwrap().parse::<usize>().is_ok(), "{line}");
    }
}

#[test]
fn a_definition_needs_tasks() {
    let d = one(&yaml(&["id: p", "tasks: []"]));
    assert_at(&d, 2, 8);
    assert_message(&d, "at least one task");

    let d = one(&yaml(&["id: p"]));
    assert_message(&d, "missing field `tasks`");
    assert_at(&d, 1, 1);
}

#[test]
fn a_valid_definition_compiles_its_graph() {
    let def = ok(&yaml(&[
        "id: nightly",
        "data:",
        "  amount: {type: integer, default: 0}",
        "tasks:",
        "  - id: extract",
        "    kind: job",
        "    command: [./extract.sh, --all]",
        "  - id: check",
        "    kind: decision",
        "    after: [extract]",
        "    branches:",
        "      - when: data.amount > 100",
        "        to: [approve]",
        "    otherwise: [done]",
        "  - id: approve",
        "    kind: job",
        "    command: ./approve.sh",
        "  - id: done",
        "    kind: end",
        "    after: [approve]",
    ]));
    let check = def.task_index("check").unwrap();
    let approve = def.task_index("approve").unwrap();
    let done = def.task_index("done").unwrap();
    // Branch targets depend on their decision.
    assert!(def.tasks[approve]
        .predecessors
        .iter()
        .any(|p| p.task == check));
    assert!(def.tasks[done].predecessors.iter().any(|p| p.task == check));
    let pos = |i: usize| def.order.iter().position(|&o| o == i).unwrap();
    assert!(pos(check) < pos(approve) && pos(approve) < pos(done));
    let TaskKind::Job(job) = &def.tasks[0].kind else {
        panic!("a job")
    };
    assert_eq!(
        job.target,
        baton_core::JobTarget::Command(vec!["./extract.sh".into(), "--all".into()])
    );
}

// ---------------------------------------------------------------------------------------
// `user` tasks

#[test]
fn a_user_task_reads_every_field() {
    let def = ok(&yaml(&[
        "id: p",
        "data: {article: string, approved: boolean, reviewer: string}",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    title: =\"Review \" + data.article",
        "    description: Check it",
        "    owners: [john, group:editors, =data.reviewer]",
        "    administrators: group:chiefs",
        "    priority: 3",
        "    due: P2D",
        "    form: {approved: boolean, comments: {type: string, required: false, description: Why}}",
        "    input: {article: data.article}",
        "    output: {approved: output.approved}",
        "    expires_after: 5 days",
        "    on_expiry: {run: chase}",
        "    escalations:",
        "      - {after: PT2H, from: claim, action: raise_priority, by: 2}",
        "      - {name: late, after: 1h, from: due_date, unless: claimed, action: reassign, to: group:legal}",
        "    subtasks: end",
        "  - {id: chase, kind: end, on_demand: true}",
    ]));
    let TaskKind::User(u) = &def.tasks[0].kind else {
        panic!("a user task")
    };
    assert_eq!(u.owners.len(), 3);
    assert_eq!(u.due, Some(std::time::Duration::from_secs(2 * 86_400)));
    assert_eq!(u.form.len(), 2);
    assert!(!u.form[1].required);
    assert_eq!(u.escalations.len(), 2);
    assert_eq!(u.escalations[1].name, "late");
    assert_eq!(u.escalations[0].after, std::time::Duration::from_secs(7200));
    assert!(matches!(
        u.on_expiry,
        baton_core::definition::Action::Run(1)
    ));
    assert_eq!(
        u.subtasks,
        baton_core::user_task::SubtaskPolicy::EndOpenSubtasks
    );
}

#[test]
fn a_user_task_without_owners_is_refused_at_its_id() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: review",
        "    kind: user",
    ]));
    assert_at(&d, 3, 9);
    assert_message(&d, "needs `owners`");
    assert_hint(&d, "group:editors");
}

#[test]
fn a_bad_expression_in_a_user_task_text_is_placed_inside_it() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: john",
        "    description: =\"Review \" + article",
    ]));
    assert_at(&d, 6, 31);
    assert_message(&d, "unknown variable `article`");
}

#[test]
fn an_owner_that_is_neither_a_user_nor_a_group_is_refused() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: [john, role:editors]",
    ]));
    assert_at(&d, 5, 20);
    assert_message(&d, "`role:editors` in `owners` is not a user or a group");
}

#[test]
fn an_unknown_form_type_is_refused_with_the_types() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: john",
        "    form:",
        "      approved: yes-or-no",
    ]));
    assert_at(&d, 7, 17);
    assert_hint(&d, "boolean");
}

#[test]
fn a_form_field_copied_to_data_of_another_type_is_refused() {
    let d = one(&yaml(&[
        "id: p",
        "data: {approved: string}",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: john",
        "    form: {approved: boolean}",
    ]));
    assert_at(&d, 7, 12);
    assert_message(&d, "form field `approved` is boolean but the data variable `approved` it is copied to is string");
}

#[test]
fn an_output_mapping_names_declared_data() {
    let d = one(&yaml(&[
        "id: p",
        "data: {approved: boolean}",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: john",
        "    output: {aproved: output.ok}",
    ]));
    assert_at(&d, 7, 14);
    assert_hint(&d, "did you mean `approved`?");
}

#[test]
fn on_expiry_needs_expires_after() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: john",
        "    on_expiry: abort",
    ]));
    assert_at(&d, 6, 16);
    assert_message(&d, "`on_expiry` needs `expires_after`");
}

#[test]
fn an_iso_8601_duration_with_months_is_refused() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: john",
        "    expires_after: P1M",
    ]));
    assert_at(&d, 6, 20);
    assert_message(&d, "months");
    assert_hint(&d, "PT2H");
}

#[test]
fn an_escalation_that_reassigns_must_say_to_whom() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: john",
        "    escalations:",
        "      - after: PT2H",
        "        action: reassign",
    ]));
    assert_at(&d, 8, 17);
    assert_message(&d, "`reassign` needs `to`");
}

#[test]
fn an_escalation_from_the_due_date_needs_a_due_date() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: review",
        "    kind: user",
        "    owners: john",
        "    escalations: [{after: 1h, from: due_date, action: raise_priority}]",
    ]));
    assert_at(&d, 6, 37);
    assert_message(&d, "`from: due_date` needs the task's `due`");
}

#[test]
fn user_task_fields_on_another_kind_are_misplaced() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: load",
        "    kind: job",
        "    command: x",
        "    owners: john",
    ]));
    assert_at(&d, 6, 5);
    assert_message(&d, "sets `owners`, which only user tasks have");
}

#[test]
fn task_and_process_ids_are_1_to_128_letters_digits_underscores_dots_and_dashes() {
    let rule = "use 1 to 128 letters, digits, `_`, `.` and `-`, starting with a letter or `_`";
    let long = "x".repeat(129);
    let cases = [
        (
            "a#b".to_owned(),
            "the task id `a#b` contains `#` (`#N` after a task id picks a human task)".to_owned(),
        ),
        (
            "1st".to_owned(),
            "the task id `1st` must start with a letter or `_`".to_owned(),
        ),
        (
            "tâche".to_owned(),
            "the task id `tâche` contains `â`".to_owned(),
        ),
        (
            "\"a b\"".to_owned(),
            "the task id `a b` contains ` `".to_owned(),
        ),
        (
            "\"\"".to_owned(),
            "a task `id` must not be empty".to_owned(),
        ),
        (
            long.clone(),
            format!(
                "the task id `{}…` is 129 characters long, more than 128",
                &long[..40]
            ),
        ),
    ];
    for (id, message) in cases {
        let d = one(&yaml(&[
            "id: p",
            "tasks:",
            &format!("  - id: {id}"),
            "    kind: end",
        ]));
        assert_eq!(
            (d.line, d.column, d.message.as_str(), d.hint.as_deref()),
            (3, 9, message.as_str(), Some(rule)),
            "id {id}"
        );
    }
    let d = one(&yaml(&[
        "id: my/flow",
        "tasks:",
        "  - id: t",
        "    kind: end",
    ]));
    assert_eq!(
        (d.line, d.column, d.message.as_str()),
        (
            1,
            5,
            "the process id `my/flow` contains `/` (`/` joins a process and its foreach bodies)"
        )
    );
    let fine = ok(&yaml(&[
        "id: Flow_2.v-1",
        "tasks:",
        "  - id: _private",
        "    kind: end",
        &format!("  - id: {}", "y".repeat(128)),
        "    kind: end",
    ]));
    assert_eq!(
        fine.tasks.iter().map(|t| t.id.len()).collect::<Vec<_>>(),
        vec![8, 128]
    );
}

#[test]
fn a_second_yaml_document_is_refused_where_it_starts() {
    let e = errors(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: t",
        "    kind: end",
        "---",
        "id: q",
        "tasks: []",
    ]));
    assert_eq!(
        e.to_string(),
        "flow.yaml:5:1: a second YAML document: a file holds one definition or calendar\n  hint: remove the `---` line and what follows it, or put each definition in a file of its own"
    );
    // One document that starts with `---` (and ends with `...`) is fine.
    ok(&yaml(&[
        "---",
        "id: p",
        "tasks:",
        "  - id: t",
        "    kind: end",
        "...",
    ]));
}

#[test]
fn nesting_deeper_than_128_levels_is_refused_without_overflowing_the_stack() {
    // Block mappings 2,000 deep under a default: the loader would recurse once per level.
    let mut lines = vec![
        "id: p".to_owned(),
        "data:".into(),
        "  v:".into(),
        "    type: any".into(),
        "    default:".into(),
    ];
    for level in 0..2_000 {
        lines.push(format!("{}k:", " ".repeat(6 + level)));
    }
    lines.push(format!("{}1", " ".repeat(6 + 2_000)));
    lines.extend(["tasks:".into(), "  - id: t".into(), "    kind: end".into()]);
    let source = lines.join("\n");
    let e = errors(&source);
    assert_eq!(
        e.to_string(),
        "flow.yaml:131:133: mappings and lists nest deeper than the limit of 128 levels here\n  hint: flatten the structure"
    );
    // Flow lists too, and in a calendar.
    let deep = format!(
        "calendar: c\ninclude: {}{}\n",
        "[".repeat(200),
        "]".repeat(200)
    );
    let e = baton_core::calendar::parse_calendar("c.yaml", &deep).unwrap_err();
    assert_eq!(
        e.diagnostics[0].message,
        "mappings and lists nest deeper than the limit of 128 levels here"
    );
    assert!(
        !baton_core::calendar::is_calendar_source(&deep),
        "not read as a calendar (nor crashed on)"
    );
}

#[test]
fn a_file_larger_than_8_mib_is_refused() {
    let source = format!(
        "id: p\ndescription: {}\ntasks:\n  - id: t\n    kind: end\n",
        "x".repeat(8 << 20)
    );
    assert_eq!(errors(&source).to_string(), "flow.yaml:1:1: the file is larger than the limit of 8388608 bytes (8 MiB)\n  hint: split it into several definitions");
}

#[test]
fn an_integer_default_beyond_64_bits_is_refused_at_the_default() {
    let d = one(&yaml(&[
        "id: p",
        "data:",
        "  n: {type: integer, default: 18446744073709551615}",
        "tasks:",
        "  - id: t",
        "    kind: end",
    ]));
    assert_eq!(
        (d.line, d.column, d.message.as_str()),
        (
            3,
            31,
            "the default of `n` is number but its type is integer"
        )
    );
}

#[test]
fn of_many_problems_the_first_100_are_printed_with_hints_and_the_rest_are_counted() {
    // 150 tasks, each naming a mistyped predecessor: `extrct_N` for `extract_N`.
    let mut lines = vec!["id: p".to_owned(), "tasks:".into()];
    for n in 0..150 {
        lines.extend([format!("  - id: extract_{n:03}"), "    kind: end".into()]);
    }
    for n in 0..150 {
        lines.extend([
            format!("  - id: load_{n:03}"),
            "    kind: end".into(),
            format!("    after: [extrct_{n:03}]"),
        ]);
    }
    let e = errors(&yaml(&lines.iter().map(String::as_str).collect::<Vec<_>>()));
    assert_eq!(e.diagnostics.len(), 150, "every problem is kept");
    let line = |n: usize| 2 + 2 * 150 + 3 * n + 3;
    assert_eq!(
        (
            e.diagnostics[0].line,
            e.diagnostics[0].message.as_str(),
            e.diagnostics[0].hint.as_deref()
        ),
        (
            line(0),
            "predecessor `extrct_000` is not a task of this process",
            Some("did you mean `extract_000`?")
        )
    );
    assert_eq!(
        e.diagnostics[99].hint.as_deref(),
        Some("did you mean `extract_099`?")
    );
    assert_eq!(
        e.diagnostics[100].hint, None,
        "hints are worked out for the printed problems only"
    );
    let text = e.to_string();
    let printed: Vec<&str> = text.lines().collect();
    assert_eq!(
        printed.len(),
        201,
        "100 problems with a hint each, and the count of the rest"
    );
    assert_eq!(
        printed[198],
        format!(
            "flow.yaml:{}:13: predecessor `extrct_099` is not a task of this process",
            line(99)
        )
    );
    assert_eq!(printed[200], "… and 50 more problems (fix these first)");
}

#[test]
fn postconditions_that_run_each_other_whatever_the_data_are_refused_where_the_loop_closes() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: job",
        "    command: ./a.sh",
        "    postconditions: [{if: \"true\", then: {run: b}}]",
        "  - id: b",
        "    kind: job",
        "    command: ./b.sh",
        "    on_demand: true",
        "    postconditions:",
        "      - {if: \"1 > 2\", then: alert, else: {run: a}}",
    ]));
    assert_at(&d, 6, 41);
    assert_eq!(d.message, "these postconditions run each other whatever the data, so they would never stop: a -> b -> a");
    assert_hint(&d, "read the data");

    // A task whose postcondition runs the task itself, on either branch.
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: job",
        "    command: ./a.sh",
        "    postconditions: [{if: data.ok, then: {run: a}, else: {run: a}}]",
    ]));
    assert_at(&d, 6, 42);
    assert_eq!(
        d.message,
        "these postconditions run each other whatever the data, so they would never stop: a -> a"
    );
}

#[test]
fn postcondition_runs_that_depend_on_the_data_or_can_stop_first_may_loop_under_the_run_limit() {
    // The data decides: capped at run time (`max_runs`), not refused.
    ok(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: job",
        "    command: ./a.sh",
        "    postconditions: [{if: \"task.status == 'ended_not_ok'\", then: {run: b}}]",
        "  - id: b",
        "    kind: job",
        "    command: ./b.sh",
        "    on_demand: true",
        "    postconditions: [{if: \"true\", then: {run: a}}]",
    ]));
    // An earlier postcondition may block the task before the run is reached.
    ok(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: job",
        "    command: ./a.sh",
        "    postconditions:",
        "      - {if: \"task.exit_code == 3\", then: block}",
        "      - {if: \"true\", then: {run: a}}",
    ]));
}

#[test]
fn run_and_restart_limits_are_bounded() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: job",
        "    command: ./a.sh",
        "    max_runs: 0",
    ]));
    assert_at(&d, 6, 15);
    assert_eq!(
        d.message,
        "`max_runs` must be a whole number from 1 to 10000"
    );
    let def = ok(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: job",
        "    command: ./a.sh",
        "    max_runs: 10000",
        "    max_restarts: 100",
    ]));
    assert_eq!(
        (
            def.tasks[0].controls.max_runs,
            def.tasks[0].controls.max_restarts
        ),
        (10_000, 100)
    );
    let def = ok(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: a",
        "    kind: job",
        "    command: ./a.sh",
    ]));
    assert_eq!(
        (
            def.tasks[0].controls.max_runs,
            def.tasks[0].controls.max_restarts
        ),
        (100, 3)
    );
}

#[test]
fn a_retry_policy_is_checked_and_retries_is_taken_for_retry() {
    let job = |line: &str| {
        yaml(&[
            "id: p",
            "tasks:",
            "  - id: a",
            "    kind: job",
            "    command: ./a.sh",
            line,
        ])
    };
    let d = one(&job("    retries: 3"));
    assert_at(&d, 6, 5);
    assert_hint(&d, "retry");
    let d = one(&job("    retry: {max: 101}"));
    assert_at(&d, 6, 18);
    assert_eq!(
        d.message,
        "`retry.max` must be a whole number from 0 to 100"
    );
    let d = one(&job("    retry: {max: 2, backoff: 0.5}"));
    assert_at(&d, 6, 30);
    assert_eq!(d.message, "`retry.backoff` must be a number from 1 to 10");
    let d = one(&job("    retry: {delay: 31days}"));
    assert_eq!(
        d.message,
        "`retry.delay` is longer than the longest retry wait, 30 days"
    );
    let d = one(&job("    retry: {tries: 2}"));
    assert_message(&d, "tries");
    let def = ok(&job(
        "    retry: {max: 5, delay: 1s, backoff: 1.5, max_delay: 1m}",
    ));
    let baton_core::definition::TaskKind::Job(spec) = &def.tasks[0].kind else {
        panic!()
    };
    let policy = spec.retry.unwrap();
    assert_eq!(
        (
            policy.max,
            policy.delay.as_secs(),
            policy.backoff,
            policy.max_delay.as_secs()
        ),
        (5, 1, 1.5, 60)
    );
}

/// Every duration field of a definition, written as line 5 of a task (`FIELD` and its indentation).
const DURATION_FIELDS: &[(&str, &[&str])] = &[
    (
        "timeout",
        &[
            "    kind: job",
            "    command: ./run.sh",
            "    timeout: DURATION",
        ],
    ),
    (
        "preconditions.check_interval",
        &[
            "    kind: end",
            "    preconditions:",
            "      check_interval: DURATION",
            "      conditions: [{when: 'true'}]",
        ],
    ),
    (
        "expected_runtime",
        &["    kind: end", "    expected_runtime: DURATION"],
    ),
    (
        "max_runtime.after",
        &[
            "    kind: job",
            "    command: ./run.sh",
            "    max_runtime: {after: DURATION}",
        ],
    ),
    (
        "min_runtime",
        &[
            "    kind: job",
            "    command: ./run.sh",
            "    min_runtime: DURATION",
        ],
    ),
    (
        "due",
        &["    kind: user", "    owners: [alice]", "    due: DURATION"],
    ),
    (
        "expires_after",
        &[
            "    kind: user",
            "    owners: [alice]",
            "    expires_after: DURATION",
        ],
    ),
    (
        "escalations.after",
        &[
            "    kind: user",
            "    owners: [alice]",
            "    escalations: [{action: raise_priority, after: DURATION}]",
        ],
    ),
];

fn with_duration(body: &[&str], duration: &str) -> String {
    let mut lines = vec!["id: p", "tasks:", "  - id: t"];
    let body: Vec<String> = body
        .iter()
        .map(|l| l.replace("DURATION", duration))
        .collect();
    lines.extend(body.iter().map(String::as_str));
    yaml(&lines)
}

#[test]
fn every_duration_is_at_most_100_years_and_a_longer_one_is_refused_where_it_is_written() {
    for (field, body) in DURATION_FIELDS {
        for longer in [
            "300000000years",
            "101years",
            "P36526D",
            "99999999999999999999s",
        ] {
            let source = with_duration(body, longer);
            let d = one(&source);
            let (line, text) = source
                .lines()
                .enumerate()
                .find(|(_, l)| l.contains(longer))
                .unwrap();
            assert_eq!(
                (d.line, d.column),
                (line + 1, text.find(longer).unwrap() + 1),
                "{field} = {longer}"
            );
            assert_eq!(
                d.message,
                format!("`{field}` is longer than the limit of 100 years (36,525 days)"),
                "{field} = {longer}"
            );
            assert_hint(&d, "use a shorter one");
        }
        // The bound itself deploys, in either notation.
        for longest in ["100years", "36525days", "P36525D", "P5217W6D"] {
            ok(&with_duration(body, longest));
        }
    }
}

#[test]
fn every_duration_field_reads_iso_8601_as_well_as_humantime() {
    for (_field, body) in DURATION_FIELDS {
        for written in ["PT2H", "2h", "P1DT12H", "1day 12h"] {
            let source = with_duration(body, written);
            ok(&source);
        }
    }
    let def = ok(&with_duration(DURATION_FIELDS[0].1, "PT1H30M"));
    let TaskKind::Job(job) = &def.tasks[0].kind else {
        panic!("a job")
    };
    assert_eq!(job.timeout, Some(std::time::Duration::from_secs(90 * 60)));
}

#[test]
fn a_start_time_after_activation_is_held_to_the_duration_bound() {
    for field in ["earliest_start", "latest_start", "latest_end"] {
        let d = one(&yaml(&[
            "id: p",
            "tasks:",
            "  - id: t",
            "    kind: end",
            &format!("    {field}: '+300000000years'"),
        ]));
        assert_eq!((d.line, d.column), (5, field.len() + 7));
        assert_eq!(d.message, format!("`{field}` is not a time: `+300000000years` is longer than the limit of 100 years (36,525 days)"));
        ok(&yaml(&[
            "id: p",
            "tasks:",
            "  - id: t",
            "    kind: end",
            &format!("    {field}: '+P2D'"),
        ]));
    }
}

#[test]
fn a_definition_stored_before_the_duration_bound_still_loads() {
    // Read back as stored (not deployed anew), so instances running on it go on after an
    // upgrade; its timers wait until the end of year 9999 at most.
    for (field, body) in DURATION_FIELDS {
        let source = with_duration(body, "300000000years");
        assert!(parse("flow.yaml", &source).is_ok(), "{field}");
    }
    let source = yaml(&[
        "id: p",
        "tasks:",
        "  - id: t",
        "    kind: end",
        "    earliest_start: '+300000000years'",
    ]);
    assert!(parse("flow.yaml", &source).is_ok());
}

#[test]
fn a_file_cut_short_is_refused_at_its_last_character_not_past_the_end() {
    // The YAML parser places the problem on the line after the last; the message names a place
    // an editor can go to.
    let e = errors("id: p\ntasks:\n  - id: a\n    kind: end\n  - id: b\n    kind: {");
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    assert_at(&e.diagnostics[0], 6, 12);
    assert_message(&e.diagnostics[0], "YAML syntax error");
}

fn calendar_errors(source: &str) -> DefinitionError {
    baton_core::calendar::parse_calendar("cal.yaml", source).expect_err("the calendar is refused")
}

#[test]
fn calendar_ids_follow_the_id_rules_in_the_calendar_in_its_references_and_in_tasks() {
    let long = "c".repeat(129);
    for (bad, message) in [
        ("bank#holidays", "the calendar id `bank#holidays` contains `#` (`#N` after a task id picks a human task)"),
        ("bank holidays", "the calendar id `bank holidays` contains ` `"),
        ("9-to-5", "the calendar id `9-to-5` must start with a letter or `_`"),
        (long.as_str(), "the calendar id `cccccccccccccccccccccccccccccccccccccccc…` is 129 characters long, more than 128"),
    ] {
        // The calendar's own id, at its value.
        let e = calendar_errors(&format!("calendar: \"{bad}\"\ninclude:\n  - weekdays: [mon]\n"));
        assert_eq!((e.diagnostics.len(), e.diagnostics[0].line, e.diagnostics[0].column), (1, 1, 11), "{e}");
        assert_eq!(e.diagnostics[0].message, message);
        assert_hint(&e.diagnostics[0], "use 1 to 128 letters, digits, `_`, `.` and `-`");
        // A reference to another calendar, at the reference.
        let e = calendar_errors(&format!("calendar: ok\nexclude:\n  - calendar: \"{bad}\"\n"));
        assert_eq!((e.diagnostics.len(), e.diagnostics[0].line, e.diagnostics[0].column, e.diagnostics[0].message.as_str()), (1, 3, 15, message), "{e}");
        // A task's calendar condition, at the name.
        let d = one(&yaml(&["id: p", "tasks:", "  - id: t", "    kind: end", &format!("    calendar: [ok, \"{bad}\"]")]));
        assert_eq!((d.line, d.column, d.message.as_str()), (5, 20, message));
    }
    let e = calendar_errors("calendar: ''\n");
    assert_eq!(
        e.diagnostics[0].message,
        "a calendar `id` must not be empty"
    );
    ok(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: t",
        "    kind: end",
        "    calendar: [business-days, _night.shift-2]",
    ]));
}

#[test]
fn max_restarts_is_at_most_100_and_a_stored_definition_with_more_restarts_at_most_100_times() {
    let source = |n: &str| {
        yaml(&[
            "id: p",
            "tasks:",
            "  - id: t",
            "    kind: end",
            "    postconditions: [{if: 'true', then: restart}]",
            &format!("    max_restarts: {n}"),
        ])
    };
    let d = one(&source("4294967295"));
    assert_eq!(
        (d.line, d.column, d.message.as_str()),
        (
            6,
            19,
            "`max_restarts` is 4294967295, more than the limit of 100"
        )
    );
    assert_eq!(ok(&source("100")).tasks[0].controls.max_restarts, 100);
    // Read back as stored: loads, capped; the task then restarts 100 times within one step.
    let stored = parse("flow.yaml", &source("4294967295")).expect("a stored definition loads");
    assert_eq!(
        stored.tasks[0].controls.max_restarts,
        baton_core::definition::MAX_RESTARTS
    );
    let tr = baton_core::start(
        &stored,
        "i-1".into(),
        serde_json::Map::new(),
        chrono::Utc::now(),
    )
    .unwrap();
    assert_eq!(tr.instance.tasks[0].restarts, 100);
}

#[test]
fn a_foreach_runs_at_most_100_iterations_at_once_and_a_stored_one_with_more_is_capped() {
    let source = |n: &str| {
        yaml(&[
            "id: p",
            "data:",
            "  files: list",
            "tasks:",
            "  - id: each",
            "    kind: foreach",
            "    items: data.files",
            &format!("    parallel: {n}"),
            "    tasks:",
            "      - id: load",
            "        kind: end",
        ])
    };
    let d = one(&source("100001"));
    assert_eq!(
        (d.line, d.column, d.message.as_str()),
        (8, 15, "`parallel` is 100001, more than the limit of 100000")
    );
    let parallel = |def: &Definition| match &def.tasks[0].kind {
        TaskKind::ForEach(spec) => spec.parallel,
        _ => unreachable!("a foreach task"),
    };
    assert_eq!(parallel(&ok(&source("100000"))), 100_000);
    assert_eq!(
        parallel(&parse("flow.yaml", &source("4294967295")).expect("a stored definition loads")),
        100_000
    );
}

/// A rework loop: review, then a decision that may go back to the draft.
fn looping(branch: &str) -> String {
    yaml(&[
        "id: p",
        "tasks:",
        "  - id: draft",
        "    kind: end",
        "  - id: review",
        "    kind: end",
        "    after: [draft]",
        "  - id: check",
        "    kind: decision",
        "    after: [review]",
        branch,
        "    otherwise: [done]",
        "  - id: done",
        "    kind: end",
    ])
}

#[test]
fn a_loop_branch_goes_back_to_a_task_before_its_decision() {
    let def = ok(&looping(
        "    branches: [{when: 'true', back_to: draft, max_loops: 3}]",
    ));
    let TaskKind::Decision(spec) = &def.tasks[2].kind else {
        panic!("a decision")
    };
    assert_eq!(
        spec.branches[0].back,
        Some(baton_core::definition::LoopBack {
            target: 0,
            max_loops: 3
        })
    );
    assert!(spec.branches[0].to.is_empty());
    // Without `max_loops`, the default.
    let def = ok(&looping("    branches: [{when: 'true', back_to: review}]"));
    let TaskKind::Decision(spec) = &def.tasks[2].kind else {
        panic!("a decision")
    };
    assert_eq!(
        spec.branches[0].back.map(|b| b.max_loops),
        Some(baton_core::definition::DEFAULT_MAX_LOOPS)
    );
}

#[test]
fn a_loop_branch_to_a_task_that_does_not_come_before_is_refused() {
    let d = one(&looping("    branches: [{when: 'true', back_to: done}]"));
    assert_at(&d, 11, 40);
    assert_message(
        &d,
        "decision `check` goes back to `done`, which does not come before it",
    );
    assert_hint(&d, "use `to`");
}

#[test]
fn a_branch_that_targets_its_own_decision_is_refused() {
    let d = one(&looping("    branches: [{when: 'true', to: [check]}]"));
    assert_at(&d, 11, 36);
    assert_message(&d, "decision `check` has a branch to itself");
    assert_hint(&d, "back_to: TASK");
    let d = one(&looping("    branches: [{when: 'true', back_to: check}]"));
    assert_at(&d, 11, 40);
    assert_message(&d, "decision `check` cannot go back to itself");
}

#[test]
fn a_branch_has_to_or_back_to_and_max_loops_only_with_back_to() {
    let d = one(&looping(
        "    branches: [{when: 'true', to: [done], back_to: draft}]",
    ));
    assert_message(&d, "`to` or `back_to`, not both");
    let d = one(&looping("    branches: [{when: 'true'}]"));
    assert_message(&d, "a branch needs `to: [TASKS]`");
    let d = one(&looping(
        "    branches: [{when: 'true', to: [done], max_loops: 2}]",
    ));
    assert_message(&d, "`max_loops` is for a loop branch");
    let d = one(&looping(
        "    branches: [{when: 'true', back_to: draft, max_loops: 0}]",
    ));
    assert_message(&d, "`max_loops` is 0; it is 1 to 10000");
}

#[test]
fn a_loop_branch_is_refused_in_mode_all() {
    let src = looping("    branches: [{when: 'true', back_to: draft}]").replace(
        "    otherwise: [done]\n",
        "    otherwise: [done]\n    mode: all\n",
    );
    let d = one(&src);
    assert_message(&d, "which `mode: all` cannot do");
}

#[test]
fn a_reference_to_undeclared_data_is_refused_with_the_nearest_declared_name() {
    let d = one(&yaml(&[
        "id: p",
        "data:",
        "  amount: integer",
        "  limit: integer",
        "tasks:",
        "  - id: check",
        "    kind: decision",
        "    branches: [{when: 'data.amnt > data.limit', to: [done]}]",
        "    otherwise: [done]",
        "  - id: done",
        "    kind: end",
    ]));
    assert_at(&d, 8, 29);
    assert_message(&d, "when: `data.amnt` is not declared under `data`");
    assert_hint(&d, "did you mean `amount`?");
    // Without declared data, any key may be read.
    ok(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: s",
        "    kind: decision",
        "    branches: [{when: 'data.amnt > 1', to: [e]}]",
        "  - id: e",
        "    kind: end",
    ]));
}

/// Every definition among the examples deploys with the deploy's checks (its declared data
/// included); calendars and other files are left out.
#[test]
fn every_example_definition_deploys() {
    fn walk(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("the examples").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples")),
        &mut files,
    );
    let mut definitions = 0;
    for path in files {
        let source = std::fs::read_to_string(&path).expect("an example");
        if !source.lines().any(|l| l.starts_with("tasks:")) {
            continue;
        }
        definitions += 1;
        if let Err(e) = parse_with(&path.display().to_string(), &source, &DataLimits::default()) {
            panic!("an example does not deploy:\n{e}");
        }
    }
    assert!(
        definitions >= 10,
        "found only {definitions} example definitions"
    );
}

#[test]
fn a_string_where_a_list_belongs_says_what_to_write() {
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: d",
        "    kind: decision",
        "    branches: [{when: 'true', to: [e]}]",
        "    otherwise: e",
        "  - id: e",
        "    kind: end",
    ]));
    assert_at(&d, 6, 16);
    assert_message(&d, "`otherwise` is a list, but it is given the text `e`");
    assert_hint(&d, "write `otherwise: [e]`");
    let d = one(&yaml(&[
        "id: p",
        "tasks:",
        "  - id: d",
        "    kind: decision",
        "    branches: [{when: 'true', to: e}]",
        "  - id: e",
        "    kind: end",
    ]));
    assert_message(&d, "`to` is a list, but it is given the text `e`");
    assert_hint(&d, "write `to: [e]`");
}
