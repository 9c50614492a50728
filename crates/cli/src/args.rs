//! The command line's arguments: every subcommand and its options, with the help text
//! `baton --help` prints. What each command does is in the modules named after it.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Baton runs durable workflows: graphs of jobs, data steps and decisions, kept safe across crashes.
#[derive(Parser)]
#[command(name = "baton", version, about, long_about = None)]
pub struct Cli {
    /// A configuration file (TOML) for the settings below and those of `serve` and `worker`:
    /// a flag wins over its environment variable, which wins over the file, which wins over
    /// the default.
    #[arg(long, global = true, env = "BATON_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The database: a SQLite file (created on first use), as a path or as sqlite://PATH; or a
    /// PostgreSQL database that several `baton serve` nodes may share, as
    /// postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (its schema is migrated on first use).
    #[arg(long, global = true, env = "BATON_DB", default_value = "baton.db")]
    pub db: PathBuf,
    /// Where documents' content is kept: one file per distinct content, named by its SHA-256
    /// (made when the first document is stored). Default: `documents/` beside the database file.
    #[arg(long, global = true, env = "BATON_DOCUMENTS_DIR", value_name = "DIR")]
    pub documents_dir: Option<PathBuf>,
    /// Send every command to this Baton server (`baton serve`), e.g. http://127.0.0.1:8080,
    /// instead of working on the database file: the same output and exit codes.
    #[arg(long, global = true, env = "BATON_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// The API token for --server. Prefer BATON_TOKEN: other users can see a command line.
    #[arg(
        long,
        global = true,
        env = "BATON_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Log more (-v: info, -vv: debug); logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// How log records are written to stderr: `text` for people, or `json`, one JSON object
    /// per line with the spans it happened in (a request's id, an instance's id).
    #[arg(long, global = true, env = "BATON_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Cmd,
}

/// The help of every `--as` of an operator's command.
pub const AS_HELP: &str = "Who acts (recorded in history): a user (`baton user add`); by default the built-in `operator` (with --server, the token's user, the only one --as may name)";

/// How log records are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Deploy FILE and run one instance to its end (or until it blocks or waits), printing a summary.
    ///
    /// The exit code is 0 when the instance completed, 3 when it waits (for its start time,
    /// a precondition or input: `baton worker` goes on with it), 1 when it failed, was aborted
    /// or is blocked, and 2 when the definition or the input was refused.
    ///
    /// With --server the server runs the jobs (with its own --pass-env); this follows the
    /// instance until it ends, blocks or waits.
    Run {
        /// A process definition (YAML or JSON).
        file: PathBuf,
        /// Input process data: a JSON object, or @path to a file holding one.
        #[arg(long)]
        data: Option<String>,
        /// Jobs run at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[command(flatten)]
        jobs: crate::worker::JobArgs,
        /// Print the settled instance as JSON (the view `baton show --json` prints) instead of
        /// the task table; the progress lines still go to stderr.
        #[arg(long)]
        json: bool,
    },
    /// Check and store definitions; deploying an id again makes version N+1, unless the
    /// source is exactly that of its latest version (then nothing is stored).
    Deploy {
        /// Definition files (YAML or JSON). Nothing is stored if any of them has a problem.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON: each file with its id, version and whether it was unchanged.
        #[arg(long)]
        json: bool,
    },
    /// List deployed processes, each at its latest version.
    #[command(visible_alias = "processes")]
    Definitions {
        /// Only the processes the user may start (Stardust: the spawn menu): startable ones
        /// whose `startable_by` names them or a group of theirs.
        #[arg(long)]
        startable: bool,
        #[arg(long = "as", value_name = "USER", help = AS_HELP, requires = "startable")]
        by: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a deployed process: its tasks, its versions, or its source as deployed.
    Definition {
        #[command(subcommand)]
        action: crate::definitions::DefinitionCmd,
    },
    /// Store documents and read them: what process data refers to as {"document": "ID"}.
    Doc {
        #[command(subcommand)]
        action: crate::documents::DocCmd,
    },
    /// Start an instance of the latest version of a deployed process.
    ///
    /// Steps that need no job run at once; jobs are queued for `baton worker`.
    Start {
        /// The process id.
        process: String,
        /// Input process data: a JSON object, or @path to a file holding one.
        #[arg(long)]
        data: Option<String>,
        /// Start only once: a repeat with the same key, process and data prints the instance the
        /// first one started (exit 0); the same key with another process or data is refused (exit 2).
        #[arg(long, value_name = "KEY")]
        idempotency_key: Option<String>,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
        /// Print the instance as JSON (as `baton show --json`) instead of its id.
        #[arg(long)]
        json: bool,
    },
    /// Spawn a sub-process under a running instance (Stardust): any deployed process that is
    /// startable and that the user may start becomes a sub-process of the instance's root, in
    /// its case, starting with the instance's data (by value) under --data. Prints its id.
    Spawn {
        instance: String,
        /// The process id.
        process: String,
        /// A deployed version (default: the latest).
        #[arg(long)]
        version: Option<u32>,
        /// Start data over what it carries from the instance: a JSON object, or @path.
        #[arg(long)]
        data: Option<String>,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// Abort an instance started in the wrong process and start a peer instance of the right
    /// one with its data, in one commit (Stardust's abort-and-start). Prints the peer's id.
    AbortAndStart {
        instance: String,
        /// The process id of the right process.
        process: String,
        /// A deployed version (default: the latest).
        #[arg(long)]
        version: Option<u32>,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// List instances, newest first.
    Instances {
        /// Only instances with this status (running, waiting, blocked, completed, failed,
        /// aborted), or `incident`: instances with an open incident.
        #[arg(long)]
        status: Option<String>,
        /// Only instances of this process.
        #[arg(long)]
        process: Option<String>,
        /// Only instances started at or after this time (RFC 3339, e.g. 2026-03-01T00:00:00Z).
        #[arg(long, value_name = "TIME")]
        started_after: Option<chrono::DateTime<chrono::Utc>>,
        /// Only instances started before this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        started_before: Option<chrono::DateTime<chrono::Utc>>,
        /// Only the instances of this case: the id of the instance that started it, which its
        /// sub-processes and what they handed off carry (`baton case show` lists a whole case).
        #[arg(long, value_name = "CASE")]
        case: Option<String>,
        /// Continue a listing: the cursor the previous page printed on stderr.
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print the page as JSON (its instances and the cursor of the next page).
        #[arg(long)]
        json: bool,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// Show an instance: each task with its status and the rule that put it there, where it
    /// stands in its hierarchy (parent, root, case, Pega's work status and referenced
    /// instances, children), the data and the history.
    ///
    /// With `--follow` it then prints each history event as it is committed (by a `baton worker`
    /// or `baton serve` on the same database) until the instance ends, and exits 0 if it
    /// completed, 1 if it failed or was aborted.
    Show {
        instance: String,
        /// Print the state and history as JSON.
        #[arg(long, conflicts_with = "follow")]
        json: bool,
        /// Go on printing the instance's history as it happens, until the instance ends.
        #[arg(long, short)]
        follow: bool,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// Run queued jobs until stopped (Ctrl-C or SIGTERM); first stops what a process that died
    /// left of its jobs and runs those jobs again.
    ///
    /// On Ctrl-C or SIGTERM the worker takes no more work, lets running jobs finish within
    /// `--grace`, then stops the rest (their whole process groups) and exits 0; the next worker
    /// runs those again as new attempts. A second Ctrl-C or SIGTERM stops them at once.
    Worker {
        /// Jobs run at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Stop once no instance is running any more, but those that only wait for their
        /// sub-processes (`call` and ForEach tasks whose children wait): for scripts and tests.
        #[arg(long)]
        until_idle: bool,
        #[command(flatten)]
        jobs: crate::worker::JobArgs,
    },
    /// Serve the HTTP/JSON API (and its reference at /docs) and run jobs and timers, as
    /// `baton worker` does, in one process, until Ctrl-C or SIGTERM.
    ///
    /// On Ctrl-C or SIGTERM it takes no new connections, finishes the requests in flight, lets
    /// running jobs finish within `--grace`, then stops the rest and exits 0; the next worker
    /// runs those again as new attempts.
    Serve {
        /// The address to listen on (port 0: any free port; the one taken is printed).
        #[arg(
            long,
            env = "BATON_LISTEN",
            default_value = "127.0.0.1:8080",
            value_name = "ADDRESS:PORT"
        )]
        listen: std::net::SocketAddr,
        /// Jobs run at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[command(flatten)]
        jobs: crate::worker::JobArgs,
        /// The most interactive workflows a user session's cache holds (1 to 256; Siebel's
        /// eight by default): the next one evicts the least recently used.
        #[arg(long, env = "BATON_SESSION_CACHE", default_value_t = baton_service::DEFAULT_CACHE_SIZE, value_name = "N")]
        session_cache: usize,
        /// How long a user session may be idle before it is logged out (up to 7 days).
        #[arg(long, env = "BATON_SESSION_IDLE_TIMEOUT", default_value = "30m", value_parser = humantime::parse_duration, value_name = "DURATION")]
        session_idle_timeout: std::time::Duration,
        /// The address people reach the server at, when a proxy in front of it serves it
        /// (e.g. https://baton.example.com): an https:// one marks the web UI's sign-in
        /// cookies Secure, so the browser sends them over HTTPS only (at most 2,048 characters).
        #[arg(long, env = "BATON_PUBLIC_URL", value_parser = crate::serve::public_url, value_name = "URL")]
        public_url: Option<String>,
        /// Mark the web UI's sign-in cookies Secure on requests whose X-Forwarded-Proto is
        /// https. Only behind a proxy that sets that header: a client could send it too.
        #[arg(long, env = "BATON_TRUST_FORWARDED_PROTO")]
        trust_forwarded_proto: bool,
    },
    /// A user's inbox: the human tasks they claimed, then the ones they may claim.
    Tasks(crate::human_tasks::InboxArgs),
    /// Act on one task of an instance: a human task (`show`, `claim`, `complete`, `forward`, …)
    /// or any task (`retry`, `skip`, `input`).
    Task {
        #[command(subcommand)]
        action: TaskCmd,
    },
    /// Set or clear a breakpoint on a task of a running instance (Automic: the workflow stops
    /// at the task, `blocked`, until the breakpoint is cleared).
    Breakpoint {
        #[command(subcommand)]
        action: BreakpointCmd,
    },
    /// Abort an instance: open tasks are canceled, running jobs stopped, and its sub-processes
    /// that have not ended are aborted with it (what it handed off lives on).
    Abort {
        instance: String,
        /// For a sub-process a `call` started: abort the instances above it too, up to the root
        /// (Stardust: aborting a sub-process aborts its root when the user decides so). Without
        /// it, the call ends not OK and its parent goes on as its definition says. A hand-off's
        /// parent is never aborted.
        #[arg(long)]
        abort_parent: bool,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// Recover an instance that failed, or is blocked by a failure: every task of it that ended
    /// not OK runs again, and a `call` task among them recovers its failed sub-process instead
    /// of starting another (Stardust: recovering the root recovers its sub-processes; what it
    /// handed off is not recovered).
    Recover {
        instance: String,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// A user session on a server and the interactive workflows it drives (Siebel): login,
    /// logout, workflows, start, resume, submit, suspend. Needs --server.
    Session {
        #[command(subcommand)]
        action: crate::sessions::SessionCmd,
    },
    /// Publish events for `wait` tasks (Siebel's implicit resumption).
    Event {
        #[command(subcommand)]
        action: crate::event_publish::EventCmd,
    },
    /// Show a case: the instances users track as one entity, a root with its sub-processes and
    /// what they handed off (a case, as Pega and Stardust call it).
    Case {
        #[command(subcommand)]
        action: crate::cases::CaseCmd,
    },
    /// Delete an instance (aborted first if open): its human tasks are deleted and leave every
    /// inbox. Its history stays readable with `baton show`.
    Delete {
        instance: String,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// Open incidents: steps that kept failing and were set aside (oldest first).
    Incidents {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// Retry or resolve an incident.
    Incident {
        #[command(subcommand)]
        action: crate::incidents::IncidentCmd,
    },
    /// Benchmarks: W1, N instances of a 10-step workflow through the durable store and
    /// the core; `human`, `retained`, `timers`, `fanout` are W2–W5; `inbox` times inbox pages;
    /// `foreach` runs one ForEach over N items.
    Bench(crate::bench::BenchArgs),
    /// Print a shell completion script: `baton completions bash > /etc/bash_completion.d/baton`,
    /// `baton completions zsh > "${fpath[1]}/_baton"`, `baton completions fish > ~/.config/fish/completions/baton.fish`.
    Completions {
        /// The shell the script is for.
        #[arg(value_enum)]
        shell: crate::manual::Shell,
    },
    /// Print the manual page (roff) of `baton`, or with --dir write one page per command there
    /// (`baton man --dir /usr/local/share/man/man1`).
    Man {
        /// A folder to write baton.1 and one baton-COMMAND.1 per subcommand into.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Manage users: the people human tasks are offered to (with a department, maybe an administrator).
    User {
        #[command(subcommand)]
        action: crate::identity::UserCmd,
    },
    /// Manage groups: a task offered to a group can be claimed by any of its members.
    Group {
        #[command(subcommand)]
        action: crate::identity::GroupCmd,
    },
    /// Manage API tokens: each lets a program act as one user (the secret is shown once).
    Token {
        #[command(subcommand)]
        action: crate::tokens::TokenCmd,
    },
    /// Start a process on a schedule: create, show, pause, resume, trigger or delete one.
    Schedule {
        #[command(subcommand)]
        action: crate::schedules::ScheduleCmd,
    },
    /// List schedules with their next slots.
    Schedules {
        /// Print the schedules as JSON (the API's view).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum BreakpointCmd {
    /// Stop the workflow at TASK when its turn comes.
    Set {
        instance: String,
        task: String,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// Remove the breakpoint; a task blocked at it goes on with its start pipeline.
    Clear {
        instance: String,
        task: String,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum TaskCmd {
    /// Give the values a task's prompts ask for (a task `waiting_for_user_input`).
    Input {
        instance: String,
        task: String,
        /// The values: a JSON object, or @path to a file holding one.
        #[arg(long)]
        data: String,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// Run a task that ended not OK (or was skipped) again; successors it blocked wait for it again.
    Retry {
        instance: String,
        task: String,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// Send a task back to an earlier task, which runs again with the tasks after it (what they
    /// have under way is stopped). Administrators may, and for a user task its potential owners
    /// and administrators.
    Back {
        instance: String,
        task: String,
        /// The earlier task: one TASK follows through `after` or decision branches.
        #[arg(long, value_name = "EARLIER")]
        to: String,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// End a blocked or waiting task `ended_skipped` so the workflow goes on (an open human
    /// task is terminated).
    Skip {
        instance: String,
        task: String,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    #[command(flatten)]
    Human(crate::human_tasks::HumanTaskCmd),
}

impl Cmd {
    /// The instance id the command names, if it names one: the command line resolves a short
    /// id (a unique prefix) to the whole id before running it.
    pub fn instance_mut(&mut self) -> Option<&mut String> {
        match self {
            Self::Show { instance, .. }
            | Self::Spawn { instance, .. }
            | Self::AbortAndStart { instance, .. }
            | Self::Abort { instance, .. }
            | Self::Recover { instance, .. }
            | Self::Delete { instance, .. } => Some(instance),
            Self::Breakpoint {
                action: BreakpointCmd::Set { instance, .. } | BreakpointCmd::Clear { instance, .. },
            } => Some(instance),
            Self::Task { action } => match action {
                TaskCmd::Input { instance, .. }
                | TaskCmd::Retry { instance, .. }
                | TaskCmd::Back { instance, .. }
                | TaskCmd::Skip { instance, .. } => Some(instance),
                TaskCmd::Human(cmd) => cmd.instance_mut(),
            },
            _ => None,
        }
    }
}
