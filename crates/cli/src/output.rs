//! Writing to stdout and stderr without panicking. `println!` panics when the reader of a pipe
//! has gone (`baton show ID | head -1`); here a closed pipe ends the output quietly, as `ls |
//! head` does, and the command ends with its own exit code. Any other failure to write the
//! output (a full disk behind `> file`) is remembered and reported when the command ends.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Set once stdout cannot take more: nothing more is written to it.
static STDOUT_DONE: AtomicBool = AtomicBool::new(false);
/// Why writing to stdout failed, if not because its reader went away.
static STDOUT_FAILURE: Mutex<Option<String>> = Mutex::new(None);

/// Writes to stdout (flushed at once, so a closed pipe is noticed here and not at exit).
pub fn stdout(args: std::fmt::Arguments<'_>) {
    if STDOUT_DONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        STDOUT_DONE.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            STDOUT_FAILURE
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(e.to_string());
        }
    }
}

/// Writes to stderr; a failure is ignored, there being nowhere left to report it.
pub fn stderr(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// Why the output could not be written, if it could not (a closed pipe is not a failure).
pub fn failure() -> Option<String> {
    STDOUT_FAILURE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}
