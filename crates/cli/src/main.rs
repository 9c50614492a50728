//! `baton`: the command line. Thin: it parses arguments and calls the engine.

/// `print!` to stdout through [`output::stdout`]: a closed pipe does not panic.
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::stdout(format_args!($($arg)*)) };
}

/// `println!` to stdout through [`output::stdout`].
macro_rules! outln {
    ($($arg:tt)*) => { $crate::output::stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` through [`output::stderr`].
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

mod bench;
mod bench_measure;
mod bench_workloads;
mod commands;
mod foreach_bench;
mod human_tasks;
mod identity;
mod incidents;
mod inbox_bench;
mod output;
mod render;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// mimalloc: the engine allocates many small, short-lived values per step (events, JSON);
/// measured with `baton bench` against the system allocator (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Baton runs durable workflows: graphs of jobs, data steps and decisions, kept safe across crashes.
#[derive(Parser)]
#[command(name = "baton", version, about, long_about = None)]
pub struct Cli {
    /// The database: a SQLite file (created on first use), as a path or as sqlite://PATH.
    #[arg(long, global = true, env = "BATON_DB", default_value = "baton.db")]
    db: PathBuf,
    /// Log more (-v: info, -vv: debug); logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Deploy FILE and run one instance to its end (or until it blocks or waits), printing a summary.
    ///
    /// The exit code is 0 when the instance completed, 3 when it waits (for its start time,
    /// a precondition or input: `baton worker` goes on with it), 1 when it failed, was aborted
    /// or is blocked, and 2 when the definition or the input was refused.
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
        jobs: commands::JobArgs,
    },
    /// Check and store definitions; deploying an id again makes version N+1.
    Deploy {
        /// Definition files (YAML or JSON). Nothing is stored if any of them has a problem.
        #[arg(required = true)]
        files: Vec<PathBuf>,
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
    },
    /// List instances, newest first.
    Instances {
        /// Only instances with this status (running, waiting, blocked, completed, failed,
        /// aborted), or `incident`: instances with an open incident.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show an instance: each task with its status and the rule that put it there, the data and the history.
    Show {
        instance: String,
        /// Print the state and history as JSON.
        #[arg(long)]
        json: bool,
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
        /// Stop once no instance is running any more (for scripts and tests).
        #[arg(long)]
        until_idle: bool,
        #[command(flatten)]
        jobs: commands::JobArgs,
    },
    /// A user's inbox: the human tasks they claimed, then the ones they may claim.
    Tasks(human_tasks::InboxArgs),
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
    /// Abort an instance: open tasks are canceled, running jobs stopped.
    Abort {
        instance: String,
        /// Who acts (recorded in history): a user (`baton user add`), by default the built-in `operator`.
        #[arg(long = "as", default_value = "operator")]
        by: String,
    },
    /// Delete an instance (aborted first if open): its human tasks are deleted and leave every
    /// inbox. Its history stays readable with `baton show`.
    Delete {
        instance: String,
        /// Who deletes it (recorded in history): a user (`baton user add`), by default the built-in `operator`.
        #[arg(long = "as", default_value = "operator")]
        by: String,
    },
    /// Open incidents: steps that kept failing and were set aside (oldest first).
    Incidents {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Retry or resolve an incident.
    Incident {
        #[command(subcommand)]
        action: incidents::IncidentCmd,
    },
    /// Benchmarks (issue 5): W1, N instances of a 10-step workflow through the durable store and
    /// the core; `human`, `retained`, `timers`, `fanout` are W2–W5; `inbox` times inbox pages;
    /// `foreach` runs one ForEach over N items.
    Bench(bench::BenchArgs),
    /// Manage users: the people human tasks are offered to (with a department, maybe an administrator).
    User {
        #[command(subcommand)]
        action: identity::UserCmd,
    },
    /// Manage groups: a task offered to a group can be claimed by any of its members.
    Group {
        #[command(subcommand)]
        action: identity::GroupCmd,
    },
}

#[derive(Subcommand)]
enum BreakpointCmd {
    /// Stop the workflow at TASK when its turn comes.
    Set {
        instance: String,
        task: String,
        /// Who acts (recorded in history): a user (`baton user add`), by default the built-in `operator`.
        #[arg(long = "as", default_value = "operator")]
        by: String,
    },
    /// Remove the breakpoint; a task blocked at it goes on with its start pipeline.
    Clear {
        instance: String,
        task: String,
        /// Who acts (recorded in history): a user (`baton user add`), by default the built-in `operator`.
        #[arg(long = "as", default_value = "operator")]
        by: String,
    },
}

#[derive(Subcommand)]
enum TaskCmd {
    /// Give the values a task's prompts ask for (a task `waiting_for_user_input`).
    Input {
        instance: String,
        task: String,
        /// The values: a JSON object, or @path to a file holding one.
        #[arg(long)]
        data: String,
        /// Who acts (recorded in history): a user (`baton user add`), by default the built-in `operator`.
        #[arg(long = "as", default_value = "operator")]
        by: String,
    },
    /// Run a task that ended not OK (or was skipped) again; successors it blocked wait for it again.
    Retry {
        instance: String,
        task: String,
        /// Who acts (recorded in history): a user (`baton user add`), by default the built-in `operator`.
        #[arg(long = "as", default_value = "operator")]
        by: String,
    },
    /// End a blocked or waiting task `ended_skipped` so the workflow goes on (an open human
    /// task is terminated).
    Skip {
        instance: String,
        task: String,
        /// Who acts (recorded in history): a user (`baton user add`), by default the built-in `operator`.
        #[arg(long = "as", default_value = "operator")]
        by: String,
    },
    #[command(flatten)]
    Human(human_tasks::HumanTaskCmd),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("BATON_LOG").unwrap_or_else(|_| level.into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            errln!("baton: cannot start the runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let code = match runtime.block_on(commands::dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            errln!("baton: {e:#}");
            commands::exit_code_for(&e)
        }
    };
    match output::failure() {
        Some(e) if code == commands::exit::DONE => {
            errln!("baton: writing the output failed: {e}");
            std::process::ExitCode::from(commands::exit::FAILED)
        }
        _ => std::process::ExitCode::from(code),
    }
}
