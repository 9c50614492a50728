//! Data is bounded on every way in, through the real binary: the deepest and largest payload
//! the limits accept goes in as start data, as a job's output and as a human task's output, is
//! stored, and reads back whole through `baton show`; one level deeper, or one byte larger, is
//! refused with exit 2 (or, for a job's output, ends the job's task `ended_not_ok`).

use std::path::Path;

use serde_json::{json, Value};

mod support;
use support::{baton_env, Run};

/// `{"deep": [[…]], "pad": "xx…"}`: `depth` levels in all, exactly `bytes` long as compact JSON.
fn payload(depth: usize, bytes: usize, pad: char) -> Value {
    let mut deep = json!(1);
    for _ in 1..depth {
        deep = Value::Array(vec![deep]);
    }
    let mut value = json!({"deep": deep, "pad": ""});
    let short = bytes - serde_json::to_string(&value).unwrap().len();
    value["pad"] = Value::String(pad.to_string().repeat(short));
    assert_eq!(serde_json::to_string(&value).unwrap().len(), bytes);
    value
}

fn write_json(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(value).unwrap()).unwrap();
    path.display().to_string()
}

/// A job that outputs the file `output`, then a human task whose input is a copy of the data.
fn flow(dir: &Path, output: &str) -> String {
    let path = dir.join("big.yaml");
    let yaml = format!(
        "id: big\ndata:\n  deep: any\n  pad: string\ntasks:\n  - id: produce\n    kind: job\n    command: [\"sh\", \"-c\", \"cat \\\"$PAYLOAD\\\" > \\\"$BATON_OUTPUT\\\"\"]\n    env: {{PAYLOAD: \"'{output}'\"}}\n  - id: review\n    kind: user\n    after: [produce]\n    owners: ann\n    form: {{deep: any, pad: string}}\n"
    );
    std::fs::write(&path, yaml).unwrap();
    path.display().to_string()
}

fn show_json(db: &Path, env: &[(&str, &str)], id: &str) -> Value {
    let run = baton_env(db, &["show", id, "--json"], env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

fn instance_id(db: &Path) -> String {
    let run = baton_env(db, &["instances"], &[]);
    run.stdout
        .lines()
        .nth(1)
        .expect("one instance")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[track_caller]
fn ran(run: Run, code: i32) -> String {
    assert_eq!(
        run.code, code,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    run.stdout
}

/// The deepest, largest payloads round-trip through the store, at the default limits and at
/// the highest depth that can be configured.
fn round_trip(depth: usize, env: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let limit = 1 << 20;
    let start = payload(depth, limit, 's');
    let output = payload(depth, limit, 'o');
    let done = payload(depth, limit, 'd');
    let (start_file, output_file, done_file) = (
        write_json(dir.path(), "start.json", &start),
        write_json(dir.path(), "output.json", &output),
        write_json(dir.path(), "done.json", &done),
    );
    ran(baton_env(&db, &["user", "add", "ann"], env), 0);
    let run = baton_env(
        &db,
        &[
            "run",
            &flow(dir.path(), &output_file),
            "--data",
            &format!("@{start_file}"),
        ],
        env,
    );
    ran(run, 3);
    let id = instance_id(&db);

    let shown = show_json(&db, env, &id);
    assert_eq!(
        shown["instance"]["data"], output,
        "the job's output replaced the start data"
    );
    assert_eq!(
        shown["history"][0]["data"], start,
        "the start data is in the history"
    );
    let human = ran(
        baton_env(&db, &["task", "show", &id, "review", "--json"], env),
        0,
    );
    let human: Value = serde_json::from_str(&human).unwrap();
    assert_eq!(
        human["human_tasks"][0]["input"], output,
        "the human task's input is a copy of the data"
    );
    let text = ran(baton_env(&db, &["show", &id], env), 0);
    assert!(
        text.starts_with(&format!("instance {id}  big v1  waiting\n")),
        "{}",
        &text[..200]
    );

    ran(
        baton_env(&db, &["task", "claim", &id, "review", "--as", "ann"], env),
        0,
    );
    ran(
        baton_env(
            &db,
            &[
                "task",
                "complete",
                &id,
                "review",
                "--as",
                "ann",
                "--data",
                &format!("@{done_file}"),
            ],
            env,
        ),
        0,
    );
    let shown = show_json(&db, env, &id);
    assert_eq!(shown["instance"]["status"], "completed");
    assert_eq!(shown["instance"]["data"], done);
}

#[test]
fn the_deepest_and_largest_accepted_payloads_round_trip_through_the_store_and_show() {
    round_trip(64, &[]);
}

#[test]
fn at_the_highest_configurable_depth_stored_payloads_still_read_back() {
    round_trip(100, &[("BATON_MAX_DATA_DEPTH", "100")]);
}

#[test]
fn data_past_the_limits_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let def = dir.path().join("any.yaml");
    std::fs::write(
        &def,
        "id: any\ndata:\n  deep: any\n  pad: string\ntasks:\n  - id: t\n    kind: end\n",
    )
    .unwrap();
    ran(baton_env(&db, &["deploy", def.to_str().unwrap()], &[]), 0);
    let too_deep = write_json(dir.path(), "deep.json", &payload(65, 1000, 'x'));
    let too_large = write_json(dir.path(), "large.json", &payload(3, (1 << 20) + 1, 'x'));
    let (deep_arg, large_arg) = (format!("@{too_deep}"), format!("@{too_large}"));
    let cases = [
        (
            vec!["start", "any", "--data", &deep_arg],
            "baton: --data nests deeper than the limit of 64 levels\n".to_owned(),
        ),
        (
            vec!["start", "any", "--data", &large_arg],
            format!(
                "baton: --data @{too_large} is larger than the limit of 1048576 bytes (as JSON)\n"
            ),
        ),
        (
            vec!["start", "any", "--data", "@/dev/zero"],
            "baton: --data @/dev/zero is larger than the limit of 1048576 bytes (as JSON)\n"
                .to_owned(),
        ),
        (
            vec!["start", "any", "--data", r#"{"deep": [[[1]]]}"#],
            "baton: --data nests deeper than the limit of 3 levels\n".to_owned(),
        ),
    ];
    for (n, (args, stderr)) in cases.iter().enumerate() {
        let env: &[(&str, &str)] = if n == 3 {
            &[("BATON_MAX_DATA_DEPTH", "3")]
        } else {
            &[]
        };
        let run = baton_env(&db, args, env);
        assert_eq!(
            (run.code, run.stderr.as_str()),
            (2, stderr.as_str()),
            "baton {args:?}"
        );
    }
    let run = baton_env(&db, &["instances"], &[("BATON_MAX_DATA_DEPTH", "101")]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            2,
            "baton: the data depth limit must be 1 to 100 levels, not 101\n"
        )
    );
    assert_eq!(
        ran(baton_env(&db, &["instances"], &[]), 0).lines().count(),
        1,
        "nothing was started"
    );
}

#[test]
fn a_job_output_past_the_limits_ends_its_task_not_ok_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    ran(baton_env(&db, &["user", "add", "ann"], &[]), 0);
    let output = write_json(dir.path(), "output.json", &payload(65, 1000, 'x'));
    ran(baton_env(&db, &["run", &flow(dir.path(), &output)], &[]), 1);
    let shown = show_json(&db, &[], &instance_id(&db));
    assert_eq!(
        shown["instance"]["status"], "blocked",
        "the human task after it is blocked"
    );
    assert_eq!(
        shown["instance"]["tasks"]["produce"]["reason"],
        json!({
            "rule": "data_limit",
            "message": "the job's output nests deeper than the limit of 64 levels; it was not taken in",
            "details": {"what": "the job's output", "problem": "nests deeper than the limit of 64 levels"}
        })
    );
    assert_eq!(
        shown["instance"]["data"],
        json!({"deep": null, "pad": null})
    );
}

/// `BATON_MAX_FOREACH_ITEMS` bounds a ForEach's list where the engine runs: one item more ends
/// the task `ended_not_ok` naming the limit, before any iteration starts; a limit outside its
/// range is refused with exit 2.
#[test]
fn a_foreach_list_past_baton_max_foreach_items_ends_its_task_not_ok_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let flow = dir.path().join("each.yaml");
    std::fs::write(&flow, "id: each\ntasks:\n  - id: files\n    kind: foreach\n    items: '[1, 2, 3, 4]'\n    tasks:\n      - id: work\n        kind: end\n").unwrap();
    let flow = flow.display().to_string();
    ran(
        baton_env(&db, &["run", &flow], &[("BATON_MAX_FOREACH_ITEMS", "3")]),
        1,
    );
    let shown = show_json(&db, &[], &instance_id(&db));
    let task = &shown["instance"]["tasks"]["files"];
    assert_eq!(task["status"], "ended_not_ok");
    assert_eq!(task["reason"]["rule"], "too_many_items");
    assert_eq!(task["reason"]["details"], json!({"count": 4, "limit": 3}));
    let text = ran(baton_env(&db, &["show", &instance_id(&db)], &[]), 0);
    assert!(
        text.contains("`items` gave 4 items, more than the ForEach item limit of 3"),
        "{text}"
    );

    ran(
        baton_env(&db, &["run", &flow], &[("BATON_MAX_FOREACH_ITEMS", "4")]),
        0,
    );
    let run = baton_env(&db, &["instances"], &[("BATON_MAX_FOREACH_ITEMS", "0")]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            2,
            "baton: the ForEach item limit must be 1 to 100000000 items, not 0\n"
        )
    );
}
