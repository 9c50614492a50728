//! What `baton run` shows while its instance runs: a line on stderr when a task starts, ends or
//! comes to wait, and, on a terminal, a live line below them naming the tasks running now.
//! Piped, only the plain lines are written (no carriage returns, no escape codes), so a log
//! of a run reads as a list of what happened.

use std::collections::HashMap;
use std::io::IsTerminal;

use baton_api_model::{Event, HistoryEvent, Instance, TaskStatus};

/// The last lines of a failed job's stderr that the summary shows.
const STDERR_LINES: usize = 10;

/// The tasks' statuses as last shown.
pub struct Progress {
    seen: HashMap<String, (TaskStatus, u32)>,
    live: bool,
    live_line_shown: bool,
}

impl Progress {
    /// Progress on stderr: live when stderr is a terminal.
    pub fn new() -> Self {
        Self {
            seen: HashMap::new(),
            live: std::io::stderr().is_terminal(),
            live_line_shown: false,
        }
    }

    /// Shows what changed in `instance` since the last call.
    pub fn update(&mut self, instance: &Instance) {
        let mut lines = Vec::new();
        for (id, task) in &instance.tasks {
            let now = (task.state.status, task.attempts);
            let before = self.seen.insert(id.clone(), now);
            if before == Some(now)
                || (before.is_none() && now.0 == TaskStatus::WaitingForPredecessor)
            {
                continue;
            }
            if let Some(line) = line(id, task) {
                lines.push(line);
            }
        }
        if lines.is_empty() && !self.live {
            return;
        }
        let mut text = String::new();
        if self.live_line_shown {
            text.push_str("\r\x1b[2K");
        }
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
        self.live_line_shown = false;
        if self.live {
            let running: Vec<&str> = instance
                .tasks
                .iter()
                .filter(|(_, t)| t.state.status == TaskStatus::Running)
                .map(|(id, _)| id.as_str())
                .collect();
            if !running.is_empty() {
                let mut live = format!("running: {}", running.join(", "));
                if live.chars().count() > 79 {
                    live = live.chars().take(78).collect::<String>() + "…";
                }
                text.push_str(&live);
                self.live_line_shown = true;
            }
        }
        crate::output::stderr(format_args!("{text}"));
    }

    /// Clears the live line, before the summary.
    pub fn finish(&mut self) {
        if self.live_line_shown {
            crate::output::stderr(format_args!("\r\x1b[2K"));
            self.live_line_shown = false;
        }
    }
}

/// The line that says where `task` is now, or `None` for a status not worth a line.
fn line(id: &str, task: &baton_api_model::Task) -> Option<String> {
    let status = task.state.status;
    let at = match status {
        TaskStatus::Running => task.state.status_since.or(task.started_at),
        _ if status.is_ended() => task.ended_at,
        TaskStatus::WaitingForPredecessor => return None,
        _ => None,
    };
    let at = at.map_or_else(
        || "         ".to_owned(),
        |t| t.format("%H:%M:%SZ").to_string(),
    );
    let mut line = format!("{at}  {id}  {status}");
    if status == TaskStatus::Running && task.attempts > 1 {
        line.push_str(&format!(" (try {})", task.attempts));
    }
    if let (true, Some(from), Some(to)) = (status.is_ended(), task.started_at, task.ended_at) {
        line.push_str(&format!(
            " after {:.2}s",
            (to - from).num_milliseconds() as f64 / 1000.0
        ));
    }
    if let Some(reason) = task
        .reason
        .as_ref()
        .filter(|_| status != TaskStatus::Running && status != TaskStatus::EndedOk)
    {
        line.push_str(&format!(": {}", reason.message));
    }
    Some(line)
}

/// The last lines of the stderr of each task's latest job attempt that ended not OK, from
/// `history`: what the summary of a failed run shows below the task table.
pub fn failed_job_stderr(instance: &Instance, history: &[HistoryEvent]) -> String {
    let mut out = String::new();
    for (id, task) in &instance.tasks {
        if task.state.status != TaskStatus::EndedNotOk {
            continue;
        }
        let last = history.iter().rev().find_map(|e| match &e.event {
            Event::JobFinished {
                attempt,
                exit_code,
                stderr_tail,
                ..
            } if e.task.as_deref() == Some(id) => Some((*attempt, *exit_code, stderr_tail)),
            _ => None,
        });
        let Some((attempt, exit_code, tail)) = last else {
            continue;
        };
        let lines: Vec<&str> = tail.trim_end().lines().collect();
        if lines.is_empty() {
            continue;
        }
        let exit = exit_code.map_or_else(|| "no exit code".to_owned(), |c| format!("exit {c}"));
        out.push_str(&format!("\nstderr of {id} (attempt {attempt}, {exit}):\n"));
        for line in &lines[lines.len().saturating_sub(STDERR_LINES)..] {
            out.push_str(&format!("  | {line}\n"));
        }
    }
    out
}
