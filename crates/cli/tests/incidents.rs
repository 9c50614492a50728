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
    ok(&db, &["deploy", dir.path().join("doomed.yaml").to_str().unwrap(), dir.path().join("fine.yaml").to_str().unwrap()]);
    let doomed = ok(&db, &["start", "doomed"]).trim().to_owned();
    let fine = ok(&db, &["start", "fine"]).trim().to_owned();
    let store = rusqlite::Connection::open(&db).unwrap();
    store.execute("UPDATE definitions SET source = 'id: doomed\ntasks: [' WHERE id = 'doomed'", []).unwrap();
    drop(store);
    ok(&db, &["worker", "--until-idle"]);

    assert!(ok(&db, &["show", &fine]).contains("completed"));
    let listed = ok(&db, &["incidents"]);
    let line = listed.lines().nth(1).unwrap_or_else(|| panic!("one incident: {listed}"));
    assert!(line.contains(&doomed) && line.contains("fetch") && line.contains("step_failed"), "{line}");
    let id = line.split_whitespace().next().unwrap().to_owned();
    let stuck = ok(&db, &["instances", "--status", "incident"]);
    assert!(stuck.contains(&doomed) && !stuck.contains(&fine), "{stuck}");

    // Retrying while the cause remains fails again and keeps it open.
    let retried = support::baton(&db, &["incident", "retry", &id]);
    assert_eq!(retried.code, 1, "{}", retried.stderr);
    assert!(retried.stderr.contains("recorded as incident"), "{}", retried.stderr);
    // The definition mended, `baton show` lists the incident; resolving it by hand closes it.
    let store = rusqlite::Connection::open(&db).unwrap();
    store.execute("UPDATE definitions SET source = ?1 WHERE id = 'doomed'", [DOOMED]).unwrap();
    drop(store);
    assert!(ok(&db, &["show", &doomed]).contains("incidents:"));
    ok(&db, &["incident", "resolve", &id]);
    assert_eq!(ok(&db, &["incidents"]), "");
    assert!(refused(&db, &["incident", "resolve", &id]).contains("already resolved"));
    assert!(refused(&db, &["incident", "retry", "424242"]).contains("no incident 424242"));
}
