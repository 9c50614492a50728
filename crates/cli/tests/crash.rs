//! Crash test: a `baton worker` child process is killed with SIGKILL at random points while
//! three instances of a 50-task workflow (jobs, `set` steps, two fork/joins) run; each time a
//! new worker takes over. After a last `baton worker --until-idle`:
//! - every instance is `completed` and every task `ended_ok`;
//! - every `set` task ran exactly once (one `data_changed`, one `ended_ok`, counted in data);
//! - history is gap-free (`seq` 1..=N) and holds no event twice;
//! - every job ran at least once, no job attempt ran or was applied twice, and at least one
//!   killed job was re-run as a new attempt (`job_retried`).
//!
//! The kill times come from a seeded generator; the seed is printed, and
//! `BATON_CRASH_SEED=<seed>` replays the same kill schedule.
#![cfg(unix)] // jobs are `sh` scripts, and a kill is SIGKILL

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::crash::{seed, spawn_worker, Rng};

const INSTANCES: usize = 3;
/// Kills that must land while the workflow is still under way.
const MIN_KILLS: usize = 20;
/// Worker lifetimes before the kill, in milliseconds.
const LIFE_MS: (u64, u64) = (10, 250);
/// The whole test, workers included, must finish within this.
const OVERALL: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Job,
    Set,
    End,
}

struct TaskSpec {
    id: String,
    kind: Kind,
    after: Vec<String>,
}

/// Builds the workflow: chains of job/set pairs with two fork/joins in between.
#[derive(Default)]
struct Workflow {
    tasks: Vec<TaskSpec>,
}

impl Workflow {
    fn add(&mut self, kind: Kind, after: &[String]) -> String {
        let n = self.tasks.iter().filter(|t| t.kind == kind).count() + 1;
        let id = match kind {
            Kind::Job => format!("job{n:02}"),
            Kind::Set => format!("set{n:02}"),
            Kind::End => "done".to_owned(),
        };
        self.tasks.push(TaskSpec {
            id: id.clone(),
            kind,
            after: after.to_vec(),
        });
        id
    }

    /// A chain of tasks after `from`; `pattern` is `j` (job) and `s` (set) letters. Returns
    /// the last task, as the `after` list of what follows.
    fn chain(&mut self, from: &[String], pattern: &str) -> Vec<String> {
        let mut last = from.to_vec();
        for c in pattern.chars() {
            let kind = if c == 'j' { Kind::Job } else { Kind::Set };
            last = vec![self.add(kind, &last)];
        }
        last
    }

    fn build() -> Self {
        let mut w = Workflow::default();
        let last = w.chain(&[], "jsjsjsjsjsjsjsjs");
        // Fork into three branches, joined by a set.
        let ends: Vec<String> = (0..3).flat_map(|_| w.chain(&last, "jsj")).collect();
        let last = vec![w.add(Kind::Set, &ends)];
        let last = w.chain(&last, "jsjsjsjsjs");
        // Fork into two branches, joined by a job.
        let ends: Vec<String> = (0..2).flat_map(|_| w.chain(&last, "jsjs")).collect();
        let last = vec![w.add(Kind::Job, &ends)];
        let last = w.chain(&last, "sjsj");
        w.add(Kind::End, &last);
        w
    }

    fn ids(&self, kind: Kind) -> Vec<&str> {
        self.tasks
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.id.as_str())
            .collect()
    }

    fn yaml(&self, log: &Path) -> String {
        let log = log.to_str().expect("a UTF-8 temp path");
        assert!(
            !log.contains('\''),
            "the log path must not contain a quote: {log}"
        );
        let mut out = String::from(
            "id: crash\nname: Crash test workflow\ndata:\n  sets: {type: integer, default: 0}\n  visited: {type: list, default: []}\n  last: {type: string}\ntasks:\n",
        );
        for (n, t) in self.tasks.iter().enumerate() {
            out.push_str(&format!("  - id: {}\n", t.id));
            let kind = match t.kind {
                Kind::Job => "job",
                Kind::Set => "set",
                Kind::End => "end",
            };
            out.push_str(&format!("    kind: {kind}\n"));
            if !t.after.is_empty() {
                out.push_str(&format!(
                    "    after: {}\n",
                    serde_json::to_string(&t.after).unwrap()
                ));
            }
            match t.kind {
                Kind::Job => {
                    // 50..190 ms of work: most kills land while jobs run, and the workflow
                    // outlasts the kill loop even on a fast machine.
                    let sleep_ms = 50 + (n * 37) % 141;
                    let script = format!(
                        "echo \"$BATON_INSTANCE $BATON_TASK $BATON_ATTEMPT\" >> '{log}'; sleep 0.{sleep_ms:03}; echo '{{\"last\": \"{}\"}}'",
                        t.id
                    );
                    out.push_str(&format!(
                        "    command: {}\n",
                        serde_json::to_string(&["sh", "-c", &script]).unwrap()
                    ));
                }
                Kind::Set => {
                    out.push_str("    set:\n      sets: data.sets + 1\n");
                    out.push_str(&format!("      visited: \"data.visited + ['{}']\"\n", t.id));
                }
                Kind::End => {}
            }
        }
        out
    }
}

fn baton() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_baton"));
    c.env_remove("BATON_DB").env_remove("BATON_LOG");
    c
}

/// Runs a short `baton` command to its end and returns its stdout; panics on failure.
fn run(db: &Path, args: &[&str]) -> String {
    let out = baton()
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("running baton");
    assert!(
        out.status.success(),
        "baton {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// What the store looked like right after a kill.
#[derive(Debug)]
struct Snapshot {
    open_instances: i64,
    leased_jobs: i64,
    queued_jobs: i64,
    events: i64,
}

fn snapshot(db: &Path) -> Snapshot {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("opening the database read-only");
    let count = |sql: &str| {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    Snapshot {
        open_instances: count(
            "SELECT COUNT(*) FROM instances WHERE status IN ('running', 'blocked')",
        ),
        leased_jobs: count("SELECT COUNT(*) FROM jobs WHERE owner IS NOT NULL"),
        queued_jobs: count("SELECT COUNT(*) FROM jobs WHERE owner IS NULL"),
        // History rows (one per step; their events may be stored compressed, so they are not counted here).
        events: count("SELECT COUNT(*) FROM history"),
    }
}

/// The `next_seq` of an instance's stored state.
fn stored_next_seq(db: &Path, id: &str) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("opening the database read-only");
    conn.query_row("SELECT seq FROM instances WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .expect("the instance is stored")
}

#[test]
fn killed_workers_lose_nothing_and_repeat_nothing() {
    let started = Instant::now();
    let deadline = started + OVERALL;
    let seed = seed();
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let log = dir.path().join("jobs.log");
    let workflow = Workflow::build();
    assert_eq!(workflow.tasks.len(), 50, "the workflow has 50 tasks");
    let (jobs, sets) = (workflow.ids(Kind::Job), workflow.ids(Kind::Set));
    println!(
        "workflow: {} jobs, {} sets, 1 end; {INSTANCES} instances",
        jobs.len(),
        sets.len()
    );
    let file = dir.path().join("crash.yaml");
    std::fs::write(&file, workflow.yaml(&log)).unwrap();

    run(&db, &["deploy", file.to_str().unwrap()]);
    let ids: Vec<String> = (0..INSTANCES)
        .map(|_| run(&db, &["start", "crash"]).trim().to_owned())
        .collect();

    // Kill workers until MIN_KILLS kills landed while some instance was still open.
    let mut kills_during_work = 0;
    let mut kills_with_leased_jobs = 0;
    let mut life = 0;
    let mut events_at_last_kill = 0;
    println!(
        "{:>4}  {:>6}  {:>5}  {:>6}  {:>6}  {:>6}",
        "life", "ms", "open", "leased", "queued", "events"
    );
    while kills_during_work < MIN_KILLS {
        assert!(
            Instant::now() < deadline,
            "the kill loop ran past {OVERALL:?} (seed {seed})"
        );
        assert!(
            life < 500,
            "{life} workers killed and the workflow still not far enough (seed {seed})"
        );
        let (mut child, err_path) = spawn_worker(&db, dir.path(), life, false);
        let ms = rng.range(LIFE_MS.0, LIFE_MS.1);
        std::thread::sleep(Duration::from_millis(ms));
        if let Some(status) = child.try_wait().unwrap() {
            let diag = lock_holders(&db);
            panic!("worker {life} exited by itself ({status}) before its kill (seed {seed}):\n{}\n{diag}", std::fs::read_to_string(&err_path).unwrap_or_default());
        }
        child.kill().expect("SIGKILL to the worker"); // std's kill sends SIGKILL on Unix
        child.wait().unwrap();
        let snap = snapshot(&db);
        println!(
            "{life:>4}  {ms:>6}  {:>5}  {:>6}  {:>6}  {:>6}",
            snap.open_instances, snap.leased_jobs, snap.queued_jobs, snap.events
        );
        life += 1;
        events_at_last_kill = snap.events;
        if snap.open_instances == 0 {
            break;
        }
        kills_during_work += 1;
        if snap.leased_jobs > 0 {
            kills_with_leased_jobs += 1;
        }
    }
    println!("{life} workers killed, {kills_during_work} while instances were open, {kills_with_leased_jobs} with jobs leased; {:.1}s", started.elapsed().as_secs_f64());
    assert!(
        kills_during_work >= MIN_KILLS,
        "the workflow ended after only {kills_during_work} kills; the test must kill at least {MIN_KILLS} times during it (seed {seed})"
    );
    assert!(
        kills_with_leased_jobs > 0,
        "no kill landed while a job was leased (seed {seed})"
    );

    // Restart: one last worker runs everything to its end.
    let (mut child, err_path) = spawn_worker(&db, dir.path(), life, true);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the final worker did not finish within {OVERALL:?} (seed {seed}); store: {:?}",
                snapshot(&db)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "the final worker failed ({status}, seed {seed}):\n{}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    let snap = snapshot(&db);
    assert_eq!(
        (snap.open_instances, snap.leased_jobs, snap.queued_jobs),
        (0, 0, 0),
        "nothing may be left open or queued (seed {seed})"
    );
    println!(
        "final worker done; {} of {} history rows were written before the last kill; {:.1}s in all",
        events_at_last_kill,
        snap.events,
        started.elapsed().as_secs_f64()
    );

    // Log lines: (instance, task) -> attempts that started their command.
    let mut started_attempts: HashMap<(String, String), Vec<u32>> = HashMap::new();
    for line in std::fs::read_to_string(&log).unwrap().lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 3, "bad log line `{line}`");
        started_attempts
            .entry((parts[0].to_owned(), parts[1].to_owned()))
            .or_default()
            .push(parts[2].parse().unwrap());
    }

    let mut problems: Vec<String> = Vec::new();
    let mut retries = 0;
    for id in &ids {
        let shown: Value = serde_json::from_str(&run(&db, &["show", id, "--json"]))
            .expect("show --json prints JSON");
        let instance = &shown["instance"];
        let history = shown["history"].as_array().expect("history is a list");
        let mut p = |m: String| problems.push(format!("instance {id}: {m}"));

        if instance["status"] != "completed" {
            p(format!("status is {}, not completed", instance["status"]));
        }
        let states = instance["tasks"]
            .as_object()
            .expect("tasks are keyed by id");
        assert_eq!(states.len(), workflow.tasks.len());
        for t in &workflow.tasks {
            let state = &states[&t.id];
            if state["status"] != "ended_ok" {
                p(format!(
                    "task {} is {}, not ended_ok",
                    t.id, state["status"]
                ));
            }
        }

        // Sequence numbers 1..=N, matching the stored state's next one (not in the view: read
        // from the database).
        let seqs: Vec<u64> = history
            .iter()
            .map(|e| e["seq"].as_u64().expect("seq"))
            .collect();
        let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
        if seqs != expected {
            p(format!("history seq is not 1..={}: {seqs:?}", seqs.len()));
        }
        let next_seq = stored_next_seq(&db, id);
        if next_seq != seqs.len() as i64 + 1 {
            p(format!(
                "next_seq is {next_seq} but history has {} events",
                seqs.len()
            ));
        }

        // No event twice (apart from seq and time).
        let mut seen: HashMap<String, Vec<u64>> = HashMap::new();
        for e in history {
            let mut body = e.as_object().unwrap().clone();
            body.remove("seq");
            body.remove("at");
            seen.entry(Value::Object(body).to_string())
                .or_default()
                .push(e["seq"].as_u64().unwrap());
        }
        for (body, at) in &seen {
            if at.len() > 1 {
                p(format!("event repeated at seq {at:?}: {body}"));
            }
        }

        let of = |task: &str, kind: &str| -> Vec<&Value> {
            history
                .iter()
                .filter(|e| e["task"] == task && e["event"] == kind)
                .collect()
        };
        let to = |task: &str, status: &str| -> usize {
            of(task, "task_status_changed")
                .iter()
                .filter(|e| e["to"]["status"] == status)
                .count()
        };

        // Every set ran exactly once.
        for &s in &sets {
            let changed = of(s, "data_changed");
            if changed.len() != 1 {
                p(format!("set {s} has {} data_changed events", changed.len()));
            }
            if to(s, "ended_ok") != 1 {
                p(format!("set {s} ended_ok {} times", to(s, "ended_ok")));
            }
            if states[s]["attempts"] != 1 {
                p(format!("set {s} has attempts {}", states[s]["attempts"]));
            }
        }
        if instance["data"]["sets"] != sets.len() {
            p(format!(
                "data.sets is {}, expected {}",
                instance["data"]["sets"],
                sets.len()
            ));
        }
        let visited: Vec<&str> = instance["data"]["visited"]
            .as_array()
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let visited_set: BTreeSet<&str> = visited.iter().copied().collect();
        if visited.len() != sets.len() || visited_set != sets.iter().copied().collect() {
            p(format!(
                "data.visited should name each set once: {visited:?}"
            ));
        }

        // Every job ran at least once; attempts 1..=k were each dispatched once, 2..=k each
        // came from a retry, and only the last one finished, once.
        for &j in &jobs {
            let attempts_of = |kind: &str| -> Vec<u32> {
                of(j, kind)
                    .iter()
                    .map(|e| e["attempt"].as_u64().unwrap() as u32)
                    .collect()
            };
            let dispatched = attempts_of("job_dispatched");
            let retried = attempts_of("job_retried");
            let finished = attempts_of("job_finished");
            let k = dispatched.len() as u32;
            if dispatched != (1..=k).collect::<Vec<_>>() {
                p(format!("job {j} dispatched attempts {dispatched:?}"));
            }
            if retried != (2..=k).collect::<Vec<_>>() {
                p(format!(
                    "job {j} retried attempts {retried:?} but dispatched {dispatched:?}"
                ));
            }
            if let Some(bad) = of(j, "job_retried")
                .iter()
                .find(|e| e["reason"]["rule"] != "engine_restarted")
            {
                p(format!("job {j} retried for another reason: {bad}"));
            }
            retries += retried.len();
            if finished != vec![k] {
                p(format!(
                    "job {j} finished attempts {finished:?}; expected just its last attempt {k}"
                ));
            }
            let mut per_attempt: BTreeMap<u32, usize> = BTreeMap::new();
            for a in &finished {
                *per_attempt.entry(*a).or_default() += 1;
            }
            if per_attempt.values().any(|&n| n != 1) {
                p(format!(
                    "job {j} has a job_finished applied twice: {per_attempt:?}"
                ));
            }
            if to(j, "ended_ok") != 1 {
                p(format!("job {j} ended_ok {} times", to(j, "ended_ok")));
            }
            if to(j, "running") != k as usize {
                p(format!(
                    "job {j} went running {} times for {k} attempts",
                    to(j, "running")
                ));
            }
            let outputs: Vec<&Value> = of(j, "data_changed");
            if outputs.len() != 1 || outputs[0]["values"]["last"] != j {
                p(format!(
                    "job {j} output applied {} times: {outputs:?}",
                    outputs.len()
                ));
            }
            if states[j]["attempts"] != k {
                p(format!(
                    "job {j} has attempts {} but {k} were dispatched",
                    states[j]["attempts"]
                ));
            }
            // The log: at least one run, each attempt's command at most once, the last one there.
            let mut ran = started_attempts
                .get(&(id.clone(), j.to_owned()))
                .cloned()
                .unwrap_or_default();
            ran.sort_unstable();
            if ran.is_empty() {
                p(format!("job {j} never ran its command"));
            }
            if ran.windows(2).any(|w| w[0] == w[1]) {
                p(format!("job {j} ran one attempt's command twice: {ran:?}"));
            }
            if ran.iter().any(|&a| a < 1 || a > k) || !ran.contains(&k) {
                p(format!("job {j} ran attempts {ran:?}, dispatched 1..={k}"));
            }
        }
        if to("done", "ended_ok") != 1 {
            p(format!(
                "the end task ended_ok {} times",
                to("done", "ended_ok")
            ));
        }
    }
    println!(
        "{retries} job retries across {INSTANCES} instances; checks done in {:.1}s in all",
        started.elapsed().as_secs_f64()
    );
    let shown = problems
        .iter()
        .take(60)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        problems.is_empty(),
        "{} problem(s) (seed {seed}), the first {}:\n{shown}",
        problems.len(),
        problems.len().min(60)
    );
    assert!(
        retries > 0,
        "no job was re-run after a kill (seed {seed}); the test did not exercise recovery"
    );
}

/// Linux: which processes hold the database's lock file open (to explain a refused start).
fn lock_holders(db: &Path) -> String {
    let lock = PathBuf::from(format!("{}.lock", db.display()));
    let mut out = format!(
        "/proc/locks:\n{}\nprocesses with {} open:\n",
        std::fs::read_to_string("/proc/locks").unwrap_or_default(),
        lock.display()
    );
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|target| target == lock) {
                let cmdline = std::fs::read_to_string(entry.path().join("cmdline"))
                    .unwrap_or_default()
                    .replace('\0', " ");
                let status =
                    std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
                let ppid = status
                    .lines()
                    .find(|l| l.starts_with("PPid"))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "  pid {} fd {} ({ppid}): {cmdline}\n",
                    entry.file_name().to_string_lossy(),
                    fd.file_name().to_string_lossy()
                ));
            }
        }
    }
    out
}
