//! Scenarios written once and run in both of the command line's modes: embedded (on the
//! database file) and served (through `baton --server` against a `baton serve` on that file).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::server::Server;
use super::{baton, Run};

/// Runs each scenario, a `fn(Mode)`, as two tests: `embedded::NAME` and `served::NAME`.
#[macro_export]
macro_rules! in_both_modes {
    ($($scenario:ident),+ $(,)?) => {
        mod embedded {
            $(#[test] fn $scenario() { super::$scenario($crate::support::modes::Mode::Embedded) })+
        }
        mod served {
            $(#[test] fn $scenario() { super::$scenario($crate::support::modes::Mode::Served) })+
        }
    };
}

/// Where a scenario's commands go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `baton --db FILE …`.
    Embedded,
    /// `baton --server URL …` with `BATON_TOKEN`, against `baton serve` on the file.
    Served,
}

/// How long a scenario waits for a server's worker to finish the work (a guard against a
/// hang, not a measure: the wait ends as soon as the work is done).
const PATIENCE: Duration = Duration::from_secs(60);

/// A temp database and, when served, a `baton serve` on it with a token for each acting user.
pub struct Baton {
    pub mode: Mode,
    pub dir: tempfile::TempDir,
    /// `--db`: the file, or a PostgreSQL URL.
    pub db: PathBuf,
    server: Option<Served>,
    /// The PostgreSQL database `db` names, dropped with the scenario.
    _postgres: Option<baton_store_postgres::testkit::TestDatabase>,
}

/// The server of a served scenario, and the token of each user who acted so far.
struct Served {
    server: Server,
    url: String,
    tokens: RefCell<HashMap<String, String>>,
}

impl Baton {
    pub fn new(mode: Mode) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("baton.db");
        Self::on(mode, dir, db, None)
    }

    /// A scenario on a PostgreSQL database of its own; `None` (the test then passes without
    /// running) when no server is configured for the tests.
    pub fn on_postgres(mode: Mode) -> Option<Self> {
        use baton_store_postgres::testkit::{server_configured, TestDatabase};
        if !server_configured() {
            return None;
        }
        let database = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(TestDatabase::create());
        let db = PathBuf::from(&database.url);
        Some(Self::on(
            mode,
            tempfile::tempdir().unwrap(),
            db,
            Some(database),
        ))
    }

    fn on(
        mode: Mode,
        dir: tempfile::TempDir,
        db: PathBuf,
        postgres: Option<baton_store_postgres::testkit::TestDatabase>,
    ) -> Self {
        let server = (mode == Mode::Served).then(|| {
            let server = Server::start(&db, &[]);
            Served {
                url: format!("http://{}", server.address),
                server,
                tokens: RefCell::default(),
            }
        });
        Self {
            mode,
            dir,
            db,
            server,
            _postgres: postgres,
        }
    }

    /// A file in the scenario's folder holding `text`; its path.
    pub fn file(&self, name: &str, text: &[u8]) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// Runs `baton ARGS` in the scenario's mode. Served, it acts with the token of the user
    /// its `--as` names (made on first use), else of the built-in `operator`.
    pub fn run(&self, args: &[&str]) -> Run {
        let Some(server) = &self.server else {
            return baton(&self.db, args);
        };
        let user = args
            .windows(2)
            .find(|w| w[0] == "--as")
            .map_or("operator", |w| w[1]);
        let token = server.token(&self.db, user);
        self.client(args, &[("BATON_TOKEN", &token)])
    }

    /// Runs a command that must succeed; returns its stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(
            run.code, 0,
            "baton {args:?} ({:?}) failed: {}",
            self.mode, run.stderr
        );
        run.stdout
    }

    /// A refusal exits 2 with a sentence on stderr; returns the stderr.
    #[track_caller]
    pub fn refused(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(
            run.code, 2,
            "baton {args:?} ({:?}) must be refused; stdout: {} stderr: {}",
            self.mode, run.stdout, run.stderr
        );
        run.stderr
    }

    /// Runs a command on the database file whatever the mode: the set-up an administrator
    /// does where the database is (people, tokens).
    #[track_caller]
    pub fn local(&self, args: &[&str]) -> String {
        super::ok(&self.db, args)
    }

    /// Waits until no job or timer is left to run: embedded, `baton worker --until-idle`;
    /// served, the server's worker runs them, so until no instance is `running`.
    #[track_caller]
    pub fn settle(&self) {
        if self.server.is_none() {
            self.ok(&["worker", "--until-idle"]);
            return;
        }
        self.wait_for("the server's worker finishing", || {
            self.local(&["instances", "--status", "running"])
                .lines()
                .count()
                == 1
        });
    }

    /// Waits until `done` holds (served mode: the server's worker does the work by itself).
    #[track_caller]
    pub fn wait_for(&self, what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "{what} did not happen within {PATIENCE:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's URL (served mode only).
    pub fn url(&self) -> &str {
        &self.server.as_ref().expect("a served scenario").url
    }

    /// The token of `user`, made on first use (served mode only).
    pub fn token(&self, user: &str) -> String {
        self.server
            .as_ref()
            .expect("a served scenario")
            .token(&self.db, user)
    }

    /// `baton --server URL ARGS` with `env` (and nothing of the outer environment's Baton
    /// variables), given a `--db` that does not exist: a command through the server must not
    /// touch a database.
    pub fn client(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let no_db = self.dir.path().join("no-such-folder").join("baton.db");
        let mut command = Command::new(env!("CARGO_BIN_EXE_baton"));
        command
            .arg("--db")
            .arg(no_db)
            .arg("--server")
            .arg(self.url())
            .args(args);
        output(command, env)
    }
}

impl Served {
    fn token(&self, db: &Path, user: &str) -> String {
        let mut tokens = self.tokens.borrow_mut();
        let token = tokens.entry(user.to_owned()).or_insert_with(|| {
            let made = baton(db, &["token", "create", "--user", user]);
            assert_eq!(made.code, 0, "a token for {user}: {}", made.stderr);
            made.stdout.trim().to_owned()
        });
        token.clone()
    }
}

/// Runs `command` with `env` and without the outer environment's Baton variables.
fn output(mut command: Command, env: &[(&str, &str)]) -> Run {
    for name in ["BATON_DB", "BATON_SERVER", "BATON_TOKEN"] {
        command.env_remove(name);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command
        .envs(env.iter().copied())
        .output()
        .expect("baton runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into(),
        stderr: String::from_utf8_lossy(&stderr).into(),
    }
}
