//! Incidents through the binary: a job whose result cannot be applied (here, because its
//! instance's stored definition no longer loads, as after an upgrade whose checks refuse what
//! an older release accepted) is set aside as an incident; the worker finishes everyone else's work, and the
//! incident shows in `baton incidents`, `baton show` and `baton instances --status incident`.

mod support;
use support::{ok, refused};

const DOOMED: &str = "
id: doomed
tasks:
  - id: fetch
    kind: job
    command: ['true']
  - id: gate
    kind: set
    after: [fetch]
    set: {}
";

const FINE: &str = "
id: fine
tasks:
  - id: work
    kind: job
    command: ['true']
";

#[test]
fn a_job_result_that_cannot_be_applied_becomes_an_incident_and_the_worker_finishes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    std::fs::write(dir.path().join("doomed.yaml"), DOOMED).unwrap();
    std::fs::write(dir.path().join("fine.yaml"), FINE).unwrap();
    ok(
        &db,
        &[
            "deploy",
            dir.path().join("doomed.yaml").to_str().unwrap(),
            dir.path().join("fine.yaml").to_str().unwrap(),
        ],
    );
    let doomed = ok(&db, &["start", "doomed"]).trim().to_owned();
    let fine = ok(&db, &["start", "fine"]).trim().to_owned();
    let store = rusqlite::Connection::open(&db).unwrap();
    store
        .execute(
            "UPDATE definitions SET source = 'id: doomed\ntasks: [' WHERE id = 'doomed'",
            [],
        )
        .unwrap();
    drop(store);
    ok(&db, &["worker", "--until-idle"]);

    assert!(ok(&db, &["show", &fine]).contains("completed"));
    let listed = ok(&db, &["incidents"]);
    let line = listed
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("one incident: {listed}"));
    assert!(
        line.contains(&doomed) && line.contains("fetch") && line.contains("step_failed"),
        "{line}"
    );
    let id = line.split_whitespace().next().unwrap().to_owned();
    let stuck = ok(&db, &["instances", "--status", "incident"]);
    assert!(stuck.contains(&doomed) && !stuck.contains(&fine), "{stuck}");

    // Retrying while the cause remains fails again and keeps it open.
    let retried = support::baton(&db, &["incident", "retry", &id]);
    assert_eq!(retried.code, 1, "{}", retried.stderr);
    assert!(
        retried.stderr.contains("recorded as incident"),
        "{}",
        retried.stderr
    );
    // The definition mended, `baton show` lists the incident; resolving it by hand closes it.
    let store = rusqlite::Connection::open(&db).unwrap();
    store
        .execute(
            "UPDATE definitions SET source = ?1 WHERE id = 'doomed'",
            [DOOMED],
        )
        .unwrap();
    drop(store);
    assert!(ok(&db, &["show", &doomed]).contains("incidents:"));
    ok(&db, &["incident", "resolve", &id]);
    assert_eq!(ok(&db, &["incidents"]), "");
    assert!(refused(&db, &["incident", "resolve", &id]).contains("already resolved"));
    assert!(refused(&db, &["incident", "retry", "424242"]).contains("no incident 424242"));
}

/// Two jobs whose postconditions run each other while they end OK: a loop the data keeps going.
const PING_PONG: &str = "
id: ping_pong
tasks:
  - id: ping
    kind: job
    command: ['true']
    max_runs: 4
    postconditions: [{if: \"task.status == 'ended_ok'\", then: {run: pong}}]
  - id: pong
    kind: job
    command: ['true']
    on_demand: true
    postconditions: [{if: \"task.status == 'ended_ok'\", then: {run: ping}}]
";

#[test]
fn tasks_that_run_each_other_forever_stop_at_the_run_limit_as_an_incident() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    std::fs::write(dir.path().join("ping_pong.yaml"), PING_PONG).unwrap();
    ok(
        &db,
        &[
            "deploy",
            dir.path().join("ping_pong.yaml").to_str().unwrap(),
        ],
    );
    let id = ok(&db, &["start", "ping_pong"]).trim().to_owned();
    ok(&db, &["worker", "--until-idle"]);

    let shown = ok(&db, &["show", &id]);
    assert!(shown.contains("blocked"), "{shown}");
    assert!(shown.contains("its run limit (`max_runs`)"), "{shown}");
    let listed = ok(&db, &["incidents"]);
    let lines: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(lines.len(), 1, "{listed}");
    assert!(
        lines[0].contains(&id) && lines[0].contains("ping") && lines[0].contains("run_limit"),
        "{listed}"
    );
    let incident = lines[0].split_whitespace().next().unwrap().to_owned();
    assert_eq!(
        shown.matches(" dispatched: true").count(),
        8,
        "ping and pong ran 4 times each:\n{shown}"
    );

    // Retrying the incident lets `ping` run another 4 times, then it stops again.
    ok(&db, &["incident", "retry", &incident]);
    ok(&db, &["worker", "--until-idle"]);
    let shown = ok(&db, &["show", &id]);
    assert_eq!(shown.matches(" dispatched: true").count(), 16, "{shown}");
    let listed = ok(&db, &["incidents"]);
    assert_eq!(
        listed.lines().count(),
        2,
        "the first incident is closed, a new one is open:\n{listed}"
    );
    let open: Vec<&str> = listed
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(!open.contains(&incident.as_str()), "{listed}");

    // Skipping the task settles its incident too; the instance goes on and completes.
    ok(&db, &["task", "skip", &id, "ping"]);
    assert_eq!(ok(&db, &["incidents"]), "");
    assert!(ok(&db, &["show", &id]).contains("completed"));
}
