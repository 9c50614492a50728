//! Every `baton bench` workload runs end to end at a tiny size and prints its
//! `key=value` line with non-zero figures. A smoke test, not a timing: the figures' size is
//! never asserted (benchmarks are measured by `bench/suite.sh`, not in CI), only a count that
//! does not depend on the machine (the commits of a step that hands off). Each workload
//! checks its own instances (completed, every timer fired), so a workload that stops
//! completing its instances fails here.

mod support;
use support::ok;

/// The `key=value` line starting with `prefix`, as pairs.
fn fields(stdout: &str, prefix: &str) -> Vec<(String, f64)> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{stdout}"));
    line.split_whitespace()
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            (
                k.to_owned(),
                v.parse()
                    .unwrap_or_else(|_| panic!("{k}={v} is not a number")),
            )
        })
        .collect()
}

#[track_caller]
fn assert_positive(stdout: &str, prefix: &str, keys: &[&str]) {
    let fields = fields(stdout, prefix);
    for key in keys {
        let value = fields
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("`{prefix}` has no {key}: {fields:?}"))
            .1;
        assert!(value > 0.0, "`{prefix}` {key}={value}");
    }
}

fn bench(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    ok(&dir.path().join("unused.db"), &[&["bench"], args].concat())
}

#[test]
fn w1_durable_and_core_only() {
    let out = bench(&["--instances", "200", "--runs", "1"]);
    assert_positive(
        &out,
        "w1-durable-full",
        &[
            "instances_per_s",
            "steps_per_s",
            "p99_ms",
            "cpu_s_per_instance",
            "peak_rss_mib",
        ],
    );
    assert_positive(&out, "w1-core", &["instances_per_s", "steps_per_s"]);
}

#[test]
fn w2_human_tasks_claimed_and_completed() {
    let out = bench(&["human", "--instances", "20", "--runs", "1"]);
    assert_positive(
        &out,
        "w2-durable-full",
        &[
            "instances_per_s",
            "completions_per_s",
            "p50_ms",
            "cpu_s_per_instance",
        ],
    );
}

#[test]
fn w3_retained_levels() {
    let out = bench(&[
        "retained",
        "--instances",
        "100",
        "--levels",
        "10,100",
        "--runs",
        "1",
    ]);
    assert_positive(&out, "w3-retained-10 ", &["instances_per_s", "ratio"]);
    assert_positive(&out, "w3-retained-100 ", &["instances_per_s", "ratio"]);
}

#[test]
fn w4_timers_unpaced_and_paced() {
    let out = bench(&["timers", "--timers", "50", "--runs", "1"]);
    assert_positive(
        &out,
        "w4-timers-50-delay-1s",
        &["timers_per_s", "lateness_p99_ms", "peak_rss_mib"],
    );
    let out = bench(&["timers", "--timers", "50", "--rate", "100", "--runs", "1"]);
    assert_positive(&out, "w4-timers-50-delay-1s", &["timers_per_s"]);
}

#[test]
fn w5_foreach_fan_out() {
    let out = bench(&["fanout", "--roots", "2", "--runs", "1"]);
    assert_positive(
        &out,
        "w5-fanout",
        &["children_per_s", "roots_per_s", "cpu_s_per_child"],
    );
}

#[test]
fn w5_fan_out_through_call_and_handoff_tasks_beside_the_foreach_baseline() {
    let out = bench(&[
        "fanout",
        "--via",
        "call",
        "--roots",
        "2",
        "--children",
        "5",
        "--runs",
        "1",
    ]);
    assert_positive(&out, "w5-fanout ", &["children_per_s", "commits_per_root"]);
    assert_positive(
        &out,
        "w5-fanout-call ",
        &["children_per_s", "ratio_to_foreach", "commits_per_root"],
    );
    let out = bench(&[
        "fanout",
        "--via",
        "handoff",
        "--roots",
        "2",
        "--children",
        "5",
        "--runs",
        "1",
    ]);
    assert_positive(
        &out,
        "w5-fanout-handoff ",
        &["children_per_s", "ratio_to_foreach"],
    );
    let commits = fields(&out, "handoff commits_per_parent_step=");
    assert_eq!(
        commits[0],
        ("commits_per_parent_step".to_owned(), 1.0),
        "five hand-offs commit with their parent's one step"
    );
}

#[test]
fn foreach_over_n_items_with_an_empty_body() {
    let out = bench(&["foreach", "--items", "300", "--runs", "1"]);
    assert_positive(
        &out,
        "foreach-300-end",
        &[
            "iterations_per_s",
            "db_bytes_per_iteration",
            "written_bytes_per_iteration",
            "peak_rss_mib",
        ],
    );
    let out = bench(&[
        "foreach",
        "--items",
        "50",
        "--parallel",
        "7",
        "--body",
        "set",
        "--runs",
        "1",
    ]);
    assert_positive(
        &out,
        "foreach-50-set",
        &["iterations_per_s", "db_bytes_per_iteration"],
    );
}

#[test]
fn events_published_to_instances_waiting_on_keyed_events_beside_direct_resumptions() {
    let out = bench(&[
        "events",
        "--instances",
        "60",
        "--events",
        "20",
        "--rate",
        "200",
        "--saturation",
        "20",
        "--runs",
        "1",
    ]);
    assert_positive(
        &out,
        "events-60",
        &["p50_ms", "p99_ms", "events_per_s", "direct_per_s", "ratio"],
    );
}
