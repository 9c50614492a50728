//! The writer thread: group commit.
//!
//! Requests queue on a channel; the thread takes everything queued (up to [`MAX_GROUP`]) and
//! runs it in one transaction, so with `synchronous=FULL` many requests share one fsync.
//! Callers hear back only after the commit is durable. A refused request fails alone:
//!
//! - A *guarded* request runs in its own savepoint and is rolled back to it if it fails.
//! - A *checked* request (an engine step) does every check that can refuse it before its first
//!   write, so a refusal leaves nothing to roll back and needs no savepoint. Savepoints are not
//!   free: SQLite copies every page a savepoint's statements touch into a sub-journal, which
//!   was a fifth of the writer's time when timers fired. If a checked request fails after it
//!   began writing (an I/O error, a full disk), its partial writes cannot be undone alone: the
//!   whole group is rolled back and every request in it is told it failed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use baton_store::{BackendKind, Result, StoreError};

use crate::{db_err, SqliteStore};

/// Largest number of requests folded into one transaction.
const MAX_GROUP: usize = 2048;

/// Why a request did not land.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Refused before it wrote anything (a stale step, a duplicate instance): it fails alone.
    Refused(StoreError),
    /// Failed after writing part of itself.
    Broken(StoreError),
}

impl From<StoreError> for Failure {
    /// An error met while writing breaks the request (checks return [`Failure::Refused`]).
    fn from(e: StoreError) -> Self {
        Self::Broken(e)
    }
}

/// How a request ended inside the transaction.
enum Ran {
    Done,
    Refused,
    Broken(StoreError),
}

/// Tells the caller how its request ended: `None` when it landed (or was refused, which it
/// already knows), or the error that kept the whole group from committing.
type Completion = Box<dyn FnOnce(Option<StoreError>) + Send>;

/// A request for the writer: given the connection (or the reason there is no transaction to
/// run it in), it runs and returns how it ended and how to tell its caller.
pub(crate) struct WriteFn {
    guarded: bool,
    run: RunFn,
}

type RunFn =
    Box<dyn FnOnce(std::result::Result<&Connection, StoreError>) -> (Ran, Completion) + Send>;

impl SqliteStore {
    /// Runs `f` inside the writer's next transaction, in a savepoint of its own, and returns
    /// its result once committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.send(true, move |conn| f(conn).map_err(Failure::Refused))
            .await
    }

    /// Runs `f` inside the writer's next transaction without a savepoint: `f` must return
    /// [`Failure::Refused`] only before its first write.
    pub(crate) async fn write_checked<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> std::result::Result<T, Failure> + Send + 'static,
    {
        self.send(false, f).await
    }

    async fn send<T, F>(&self, guarded: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> std::result::Result<T, Failure> + Send + 'static,
    {
        let (job, answer) = request(guarded, f);
        self.inner
            .writer
            .lock()
            .map_err(|_| StoreError::Closed)?
            .send(job)
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// A request for the writer, and where its answer will arrive.
fn request<T, F>(guarded: bool, f: F) -> (WriteFn, oneshot::Receiver<Result<T>>)
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> std::result::Result<T, Failure> + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let run = Box::new(move |conn: std::result::Result<&Connection, StoreError>| {
        let outcome = conn.map_err(Failure::Refused).and_then(f);
        let ran = match &outcome {
            Ok(_) => Ran::Done,
            Err(Failure::Refused(_)) => Ran::Refused,
            Err(Failure::Broken(e)) => Ran::Broken(e.clone()),
        };
        let complete: Completion = Box::new(move |group_error: Option<StoreError>| {
            let result = match (outcome, group_error) {
                (Err(Failure::Refused(e) | Failure::Broken(e)), _) => Err(e),
                (Ok(_), Some(e)) => Err(e),
                (Ok(value), None) => Ok(value),
            };
            let _ = tx.send(result);
        });
        (ran, complete)
    });
    (WriteFn { guarded, run }, rx)
}

/// How much group commit groups: transactions run and requests in them.
#[derive(Default)]
pub struct WriterStats {
    groups: AtomicU64,
    requests: AtomicU64,
    /// Nanoseconds spent running requests, and committing (writing the WAL, fsync).
    running_ns: AtomicU64,
    committing_ns: AtomicU64,
}

/// A reading of [`WriterStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterCounts {
    pub groups: u64,
    pub requests: u64,
    pub running_ns: u64,
    pub committing_ns: u64,
}

impl WriterStats {
    pub(crate) fn read(&self) -> WriterCounts {
        WriterCounts {
            groups: self.groups.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            running_ns: self.running_ns.load(Ordering::Relaxed),
            committing_ns: self.committing_ns.load(Ordering::Relaxed),
        }
    }
}

pub(crate) fn writer_loop(conn: Connection, rx: mpsc::Receiver<WriteFn>, stats: &WriterStats) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        stats.groups.fetch_add(1, Ordering::Relaxed);
        stats
            .requests
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        run_group(&conn, batch, stats);
    }
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_group(conn: &Connection, batch: Vec<WriteFn>, stats: &WriterStats) {
    let started = std::time::Instant::now();
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        refuse_all(
            batch,
            &StoreError::backend(crate::db_kind(&e), format!("beginning a transaction: {e}")),
        );
        return;
    }
    let mut completions = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    let mut broken = None;
    for job in jobs.by_ref() {
        if job.guarded {
            let _ = exec(conn, "SAVEPOINT request");
        }
        let (ran, complete) = (job.run)(Ok(conn));
        let landed = matches!(ran, Ran::Done);
        if job.guarded {
            let _ = if landed {
                exec(conn, "RELEASE request")
            } else {
                exec(conn, "ROLLBACK TO request").and_then(|()| exec(conn, "RELEASE request"))
            };
        }
        completions.push((complete, landed));
        if let Ran::Broken(e) = ran {
            broken = Some(e);
            break;
        }
    }
    let ran = started.elapsed();
    let outcome = match broken {
        Some(e) => {
            // Said once: "database error: …" wraps the cause's own words, not its prefix again.
            let (kind, cause) = match e {
                StoreError::Backend { kind, message } => (kind, message),
                other => (BackendKind::Internal, other.to_string()),
            };
            Err(StoreError::backend(
                kind,
                format!(
                    "a request failed partway, so its group of {} was rolled back: {cause}",
                    completions.len() + jobs.len()
                ),
            ))
        }
        None => conn.execute_batch("COMMIT").map_err(db_err),
    };
    if outcome.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    stats
        .running_ns
        .fetch_add(ran.as_nanos() as u64, Ordering::Relaxed);
    stats.committing_ns.fetch_add(
        (started.elapsed() - ran).as_nanos() as u64,
        Ordering::Relaxed,
    );
    for (complete, landed) in completions {
        match (&outcome, landed) {
            (Err(e), true) => complete(Some(e.clone())),
            _ => complete(None),
        }
    }
    if let Err(e) = outcome {
        refuse_all(jobs.collect(), &e);
    }
}

/// Refuses requests without running them: outside a transaction their writes would
/// autocommit piecemeal, and land although the caller is told they failed.
fn refuse_all(batch: Vec<WriteFn>, error: &StoreError) {
    for job in batch {
        let (_, complete) = (job.run)(Err(error.clone()));
        complete(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .unwrap();
        conn
    }

    fn insert(n: i64) -> impl FnOnce(&Connection) -> std::result::Result<(), Failure> {
        move |conn| {
            conn.execute("INSERT INTO t (n) VALUES (?1)", [n])
                .map(|_| ())
                .map_err(|e| Failure::Broken(db_err(e)))
        }
    }

    fn rows(conn: &Connection) -> Vec<i64> {
        conn.prepare("SELECT n FROM t ORDER BY n")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    fn answer<T>(mut rx: oneshot::Receiver<Result<T>>) -> Result<T> {
        rx.try_recv()
            .expect("every request is answered when its group ends")
    }

    #[test]
    fn a_refused_request_fails_alone_guarded_or_checked() {
        let conn = table();
        let (a, ra) = request(true, insert(1));
        // Guarded: wrote, then refused; its savepoint undoes the write.
        let (b, rb) = request(true, |conn: &Connection| {
            insert(2)(conn)?;
            Err::<(), _>(Failure::Refused(StoreError::Conflict("b".into())))
        });
        // Checked: refused before writing.
        let (c, rc) = request(false, |_: &Connection| {
            Err::<(), _>(Failure::Refused(StoreError::Conflict("c".into())))
        });
        let (d, rd) = request(false, insert(4));
        run_group(&conn, vec![a, b, c, d], &WriterStats::default());
        assert!(answer(ra).is_ok() && answer(rd).is_ok());
        assert!(matches!(answer(rb), Err(StoreError::Conflict(_))));
        assert!(matches!(answer(rc), Err(StoreError::Conflict(_))));
        assert_eq!(rows(&conn), vec![1, 4]);
    }

    #[test]
    fn a_checked_request_broken_after_writing_rolls_back_its_whole_group() {
        let conn = table();
        let (a, ra) = request(true, insert(1));
        let (b, rb) = request(false, |conn: &Connection| {
            insert(2)(conn)?;
            insert(2)(conn) // the key is taken: fails after a write
        });
        let (c, rc) = request(false, insert(3));
        run_group(&conn, vec![a, b, c], &WriterStats::default());
        for r in [answer(ra), answer(rb), answer(rc)] {
            assert!(matches!(r, Err(StoreError::Backend { .. })), "{r:?}");
        }
        assert_eq!(
            rows(&conn),
            Vec::<i64>::new(),
            "nothing of the group is kept"
        );
        // The writer goes on: the next group commits.
        let (e, re) = request(false, insert(5));
        run_group(&conn, vec![e], &WriterStats::default());
        assert!(answer(re).is_ok());
        assert_eq!(rows(&conn), vec![5]);
    }
    #[test]
    fn a_full_disk_is_said_once_and_in_plain_words() {
        let conn = table();
        // SQLite answers SQLITE_FULL past `max_page_count`, as it does on a full disk.
        conn.execute_batch("CREATE TABLE b (x BLOB); PRAGMA max_page_count = 4;")
            .unwrap();
        let (a, ra) = request(true, insert(1));
        let (b, rb) = request(false, |conn: &Connection| {
            insert(2)(conn)?;
            conn.execute("INSERT INTO b (x) VALUES (zeroblob(100000))", [])
                .map(|_| ())
                .map_err(|e| Failure::Broken(db_err(e)))
        });
        run_group(&conn, vec![a, b], &WriterStats::default());
        let full = "the disk is full; free some space and try again (the failed write stored nothing) (SQLite: database or disk is full)";
        assert_eq!(
            answer(rb).unwrap_err().to_string(),
            format!("database error: {full}")
        );
        assert_eq!(answer(ra).unwrap_err().to_string(), format!("database error: a request failed partway, so its group of 2 was rolled back: {full}"));
        assert_eq!(rows(&conn), Vec::<i64>::new());
    }
}
