//! `baton`: the command line. Thin: it parses arguments, calls the service (the engine, for
//! running workers) or, with `--server`, a Baton server's API, and renders the view types
//! either answers with, as text or JSON.

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

mod args;
mod backend;
mod bench;
mod bench_measure;
mod bench_workloads;
mod cases;
mod commands;
mod config;
mod database;
mod definitions;
mod documents;
mod event_publish;
mod events_bench;
mod exit;
mod fanout_bench;
mod follow;
mod foreach_bench;
mod graph;
mod http_bench;
mod human_tasks;
mod identity;
mod inbox_bench;
mod incidents;
mod input;
mod manual;
mod output;
mod progress;
mod render;
mod render_human;
mod run;
mod schedules;
mod serve;
mod sessions;
mod tokens;
mod worker;

/// mimalloc: the engine allocates many small, short-lived values per step (events, JSON);
/// measured with `baton bench` against the system allocator (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = match config::parse_args() {
        Ok(cli) => cli,
        Err(message) => {
            errln!("baton: {message}");
            return std::process::ExitCode::from(exit::REFUSED);
        }
    };
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BATON_LOG")
                .unwrap_or_else(|_| level.into()),
        )
        .with_writer(std::io::stderr);
    match cli.log_format {
        args::LogFormat::Text => logs.init(),
        // Each record names the span it is in (a request, an instance's step) and those around it.
        args::LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("baton: cannot start the runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let code = match runtime.block_on(commands::dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            errln!("baton: {}", e.with_causes());
            exit::code(e.kind())
        }
    };
    match output::failure() {
        Some(e) if code == exit::DONE => {
            errln!("baton: writing the output failed: {e}");
            std::process::ExitCode::from(exit::FAILED)
        }
        _ => std::process::ExitCode::from(code),
    }
}
