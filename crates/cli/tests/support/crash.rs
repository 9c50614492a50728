//! What the crash tests share: a seeded generator for their kill schedules, the seed (printed,
//! and replayed from `BATON_CRASH_SEED`), and `baton worker` processes to kill.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// SplitMix64: a tiny seeded generator, enough to pick kill times reproducibly.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// The seed of this run's kill schedule: `BATON_CRASH_SEED` if set, else the clock; printed
/// with how to replay it.
pub fn seed() -> u64 {
    let seed = std::env::var("BATON_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("crash test seed: {seed} (replay with BATON_CRASH_SEED={seed})");
    seed
}

/// Starts `baton --db DB worker` (run to idle with `until_idle`), its stderr in
/// `dir/worker-LIFE.err`, its jobs' temporary files in `dir`; returns it and that file.
pub fn spawn_worker(db: &Path, dir: &Path, life: usize, until_idle: bool) -> (Child, PathBuf) {
    let err_path = dir.join(format!("worker-{life:03}.err"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
    cmd.env_remove("BATON_DB")
        .env_remove("BATON_LOG")
        .arg("--db")
        .arg(db)
        .args(["worker", "--concurrency", "16"]);
    if until_idle {
        cmd.arg("--until-idle");
    }
    cmd.env("TMPDIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&err_path).unwrap());
    (cmd.spawn().expect("spawning baton worker"), err_path)
}

/// A number the query `sql` counts in the database, read while no worker writes.
pub fn count(db: &Path, sql: &str, params: &[&str]) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("opening the database read-only");
    conn.query_row(sql, rusqlite::params_from_iter(params), |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}
