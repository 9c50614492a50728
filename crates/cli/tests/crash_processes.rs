//! Crash test for job processes: `baton worker` is killed with SIGKILL again and again while
//! jobs run that fork children of their own: a `sleep`, and a background ticker that outlives
//! the job's main process unless Baton stops it. Each job records its run in a log under
//! `flock`: `start`, a `tick` every 50 ms from the ticker, `end`. After a last
//! `baton worker --until-idle`:
//! - no process of any attempt is alive (each carries a marker variable from its `env`), and
//!   no job process is left recorded in the store;
//! - no two attempts of one job overlapped: once the log holds a line of attempt k of a job,
//!   it holds no later line of an earlier attempt of that job (a dead attempt's ticker that
//!   was not stopped before the next attempt started would write one);
//! - every instance completed; each job's attempts were dispatched 1..=k, only attempt k
//!   finished, and some job was run again after a kill.
//!
//! The kill times come from a seeded generator; the seed is printed, and
//! `BATON_CRASH_SEED=<seed>` replays the same kill schedule.
#![cfg(target_os = "linux")] // reads /proc, kills with SIGKILL

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::crash::{count, seed, spawn_worker, Rng};

/// Enough work that the workflow outlives the kills the test needs (with 3 it sometimes ended first).
const INSTANCES: usize = 6;
/// Parallel jobs per stage; two stages joined by a `set`.
const WIDTH: usize = 6;
/// Kills that must land while jobs are leased.
const MIN_KILLS: usize = 12;
/// Worker lifetimes before the kill, in milliseconds.
const LIFE_MS: (u64, u64) = (100, 600);
const OVERALL: Duration = Duration::from_secs(180);

fn job_ids() -> Vec<String> {
    ["a", "b"]
        .iter()
        .flat_map(|stage| (1..=WIDTH).map(move |n| format!("{stage}{n}")))
        .collect()
}

/// The job's script: `note` appends a line under the lock; the ticker writes until it is
/// stopped (or after 30 s, so a failing run does not leave it forever).
const SCRIPT: &str = r#"exec 9>>"$LOCK"
note() { flock 9; echo "$BATON_INSTANCE $BATON_TASK $BATON_ATTEMPT $1" >> "$LOG"; flock -u 9; }
note start
( exec 9>>"$LOCK"; i=0; while [ $i -lt 600 ]; do sleep 0.05; note tick; i=$((i+1)); done ) &
sleep 0.3 &
wait $!
note end
echo '{}'"#;

fn definition(log: &Path, lock: &Path, marker: &str) -> String {
    let job = |id: &str, after: Option<&str>| {
        let mut out = format!("  - id: {id}\n    kind: job\n");
        if let Some(after) = after {
            out.push_str(&format!("    after: [{after}]\n"));
        }
        out.push_str(&format!(
            "    command: {}\n",
            serde_json::to_string(&["sh", "-c", SCRIPT]).unwrap()
        ));
        out.push_str(&format!("    env:\n      LOG: \"'{}'\"\n      LOCK: \"'{}'\"\n      CRASH_MARKER: \"'{marker}'\"\n", log.display(), lock.display()));
        out
    };
    let mut yaml = String::from("id: forking\ntasks:\n");
    for n in 1..=WIDTH {
        yaml.push_str(&job(&format!("a{n}"), None));
    }
    let stage_a: Vec<String> = (1..=WIDTH).map(|n| format!("a{n}")).collect();
    yaml.push_str(&format!(
        "  - id: join\n    kind: set\n    after: [{}]\n    set: {{}}\n",
        stage_a.join(", ")
    ));
    for n in 1..=WIDTH {
        yaml.push_str(&job(&format!("b{n}"), Some("join")));
    }
    let stage_b: Vec<String> = (1..=WIDTH).map(|n| format!("b{n}")).collect();
    yaml.push_str(&format!(
        "  - id: done\n    kind: end\n    after: [{}]\n",
        stage_b.join(", ")
    ));
    yaml
}

fn baton() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_baton"));
    c.env_remove("BATON_DB").env_remove("BATON_LOG");
    c
}

fn run(db: &Path, args: &[&str]) -> String {
    let out = baton()
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("running baton");
    assert!(
        out.status.success(),
        "baton {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Live (not zombie) processes whose environment holds `CRASH_MARKER=marker`, with their
/// command lines.
fn marked_processes(marker: &str) -> Vec<String> {
    let needle = format!("CRASH_MARKER={marker}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if !environ.split(|&b| b == 0).any(|v| v == needle.as_bytes()) {
            continue;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat
            .rfind(')')
            .is_some_and(|i| stat[i + 1..].trim_start().starts_with('Z'))
        {
            continue;
        }
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .unwrap_or_default()
            .replace('\0', " ");
        found.push(format!("{pid}: {cmdline}"));
    }
    found
}

#[test]
fn killed_workers_leave_no_job_process_behind_and_no_two_attempts_of_a_job_overlap() {
    let started = Instant::now();
    let deadline = started + OVERALL;
    let seed = seed();
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let (log, lock) = (dir.path().join("jobs.log"), dir.path().join("jobs.lock"));
    let marker = format!("{seed}-{}", std::process::id());
    let file = dir.path().join("forking.yaml");
    std::fs::write(&file, definition(&log, &lock, &marker)).unwrap();
    run(&db, &["deploy", file.to_str().unwrap()]);
    let mut ids: Vec<String> = (0..INSTANCES)
        .map(|_| run(&db, &["start", "forking"]).trim().to_owned())
        .collect();

    let mut kills_with_leased_jobs = 0;
    let mut life = 0;
    while kills_with_leased_jobs < MIN_KILLS {
        assert!(
            Instant::now() < deadline,
            "the kill loop ran past {OVERALL:?} (seed {seed})"
        );
        assert!(
            life < 200,
            "{life} workers killed and still not {MIN_KILLS} kills with jobs leased (seed {seed})"
        );
        let (mut child, err_path) = spawn_worker(&db, dir.path(), life, false);
        std::thread::sleep(Duration::from_millis(rng.range(LIFE_MS.0, LIFE_MS.1)));
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "worker {life} exited by itself ({status}, seed {seed}):\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        child.kill().expect("SIGKILL to the worker");
        child.wait().unwrap();
        life += 1;
        if count(
            &db,
            "SELECT COUNT(*) FROM instances WHERE status IN ('running', 'blocked')",
            &[],
        ) == 0
        {
            // The work ran out before the kills the test needs (a fast machine): give it more,
            // so the count of kills depends on the kills, not on the machine's speed.
            ids.extend((0..INSTANCES).map(|_| run(&db, &["start", "forking"]).trim().to_owned()));
            continue;
        }
        if count(
            &db,
            "SELECT COUNT(*) FROM jobs WHERE owner IS NOT NULL",
            &[],
        ) > 0
        {
            kills_with_leased_jobs += 1;
        }
    }
    println!(
        "{life} workers killed, {kills_with_leased_jobs} with jobs leased; {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        kills_with_leased_jobs >= MIN_KILLS,
        "the workflow ended after {kills_with_leased_jobs} kills with jobs leased (seed {seed})"
    );

    let (mut child, err_path) = spawn_worker(&db, dir.path(), life, true);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the final worker did not finish within {OVERALL:?} (seed {seed})");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "the final worker failed ({status}, seed {seed}):\n{}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );

    // Nothing of any attempt runs on, and nothing is left to stop.
    assert_eq!(
        marked_processes(&marker),
        Vec::<String>::new(),
        "job processes still alive (seed {seed})"
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM job_processes", &[]),
        0,
        "job processes still recorded (seed {seed})"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM jobs", &[]), 0);

    // The log, in the order the lock gave: (instance, task) -> attempts, line by line.
    let mut lines: HashMap<(String, String), Vec<(u64, String)>> = HashMap::new();
    for line in std::fs::read_to_string(&log).unwrap().lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 4, "bad log line `{line}`");
        lines
            .entry((parts[0].to_owned(), parts[1].to_owned()))
            .or_default()
            .push((parts[2].parse().unwrap(), parts[3].to_owned()));
    }

    let mut problems = Vec::new();
    let mut retried = 0;
    for id in &ids {
        let shown: Value = serde_json::from_str(&run(&db, &["show", id, "--json"])).unwrap();
        if shown["instance"]["status"] != "completed" {
            problems.push(format!("instance {id} is {}", shown["instance"]["status"]));
        }
        let history = shown["history"].as_array().unwrap();
        for job in job_ids() {
            let of = |kind: &str| -> Vec<u64> {
                history
                    .iter()
                    .filter(|e| e["task"] == job.as_str() && e["event"] == kind)
                    .map(|e| e["attempt"].as_u64().unwrap())
                    .collect()
            };
            let dispatched = of("job_dispatched");
            let k = dispatched.len() as u64;
            retried += of("job_retried").len();
            if dispatched != (1..=k).collect::<Vec<_>>() || of("job_finished") != [k] {
                problems.push(format!(
                    "{id} {job}: dispatched {dispatched:?}, finished {:?}",
                    of("job_finished")
                ));
            }
            let runs = lines
                .get(&(id.clone(), job.clone()))
                .cloned()
                .unwrap_or_default();
            // Once attempt a wrote, no earlier attempt writes again.
            let mut latest = 0;
            for (attempt, what) in &runs {
                if *attempt < latest {
                    problems.push(format!("{id} {job}: attempt {attempt} wrote `{what}` after attempt {latest} had started: two attempts overlapped"));
                }
                latest = latest.max(*attempt);
            }
            let starts: Vec<u64> = runs
                .iter()
                .filter(|(_, w)| w == "start")
                .map(|(a, _)| *a)
                .collect();
            let mut distinct = starts.clone();
            distinct.dedup();
            if distinct != starts || !starts.contains(&k) || !runs.contains(&(k, "end".to_owned()))
            {
                problems.push(format!("{id} {job}: starts {starts:?} for attempts 1..={k}; the last one must start once and end"));
            }
        }
    }
    println!(
        "{retried} job retries; checks done in {:.1}s in all",
        started.elapsed().as_secs_f64()
    );
    assert!(
        problems.is_empty(),
        "{} problem(s) (seed {seed}):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        retried > 0,
        "no job was run again after a kill (seed {seed}); the test did not exercise recovery"
    );
}
