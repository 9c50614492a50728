//! A job's processes. Each job runs in a process group of its own; when it times out, is
//! canceled or aborted, is stopped for a shutdown, or ends leaving processes behind, the whole
//! group is stopped: its command and everything that command started (unless a process left
//! the group on purpose, with `setsid` or `setpgid`). After a crash the next worker stops the
//! groups the dead one recorded, if their leader is still the process that was recorded.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use baton_store::JobProcess;

/// How often a stopping group is looked at.
const POLL: Duration = Duration::from_millis(20);

/// How long a group is waited for after SIGKILL. A killed process runs no more code, but one in
/// an uninterruptible wait (a hung NFS read) disappears only when it returns from the kernel.
pub(crate) const KILLED_WAIT: Duration = Duration::from_secs(5);

/// Sends `signal` to every process of group `pgid`. False when no process of it is left.
fn signal_group(pgid: u32, signal: Signal) -> bool {
    !matches!(
        killpg(Pid::from_raw(pgid as i32), signal),
        Err(Errno::ESRCH)
    )
}

/// Whether a process of group `pgid` is still alive. A zombie is not: it runs nothing, and
/// only waits for its parent (or init) to collect its exit status.
pub(crate) fn group_alive(pgid: u32) -> bool {
    match killpg(Pid::from_raw(pgid as i32), None) {
        Err(Errno::ESRCH) => false,
        _ => linux::live_members(pgid).unwrap_or(true),
    }
}

/// Stops every process of group `pgid`: SIGTERM (and SIGCONT, so a stopped process can act on
/// it), then SIGKILL for what is left after `grace`. Returns when none is left, or when one is
/// still there [`KILLED_WAIT`] after SIGKILL (logged).
pub(crate) async fn stop_group(pgid: u32, grace: Duration) {
    if !signal_group(pgid, Signal::SIGTERM) {
        return;
    }
    signal_group(pgid, Signal::SIGCONT);
    if gone_within(pgid, grace).await {
        return;
    }
    tracing::info!(
        pgid,
        "job processes still running {grace:?} after SIGTERM; sending SIGKILL"
    );
    signal_group(pgid, Signal::SIGKILL);
    if !gone_within(pgid, KILLED_WAIT).await {
        tracing::warn!(
            pgid,
            "job processes are still there {KILLED_WAIT:?} after SIGKILL"
        );
    }
}

/// Sends SIGKILL to group `pgid` without waiting (a job whose command never started).
pub(crate) fn kill_group(pgid: u32) {
    signal_group(pgid, Signal::SIGKILL);
}

async fn gone_within(pgid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if !group_alive(pgid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// What identifies process `pid` against pid reuse: on Linux the boot id and the process's
/// start time (`linux BOOT_ID START_TICKS`); empty where Baton cannot tell.
pub(crate) fn identity(pid: u32) -> String {
    match (linux::boot_id(), linux::stat(pid)) {
        (Some(boot), Some(stat)) => format!("linux {boot} {}", stat.start_time),
        _ => String::new(),
    }
}

/// Whether recorded job process `process` may still have live processes in its group that
/// belong to it. Linux only; elsewhere (or without `/proc`) nothing is taken to match.
///
/// - Another boot: every process of it is gone.
/// - The leader's pid is alive: it must be the recorded process (same start time). Another
///   process with that pid means the old group is gone: Linux gives out a pid again only when
///   no process uses it as its pid or its group id.
/// - The leader has exited: live processes of the group started at or after it are what the
///   job left behind.
pub(crate) fn still_running(process: &JobProcess) -> bool {
    let mut words = process.identity.split(' ');
    let (Some("linux"), Some(boot), Some(start)) = (
        words.next(),
        words.next(),
        words.next().and_then(|s| s.parse::<u64>().ok()),
    ) else {
        return false;
    };
    if linux::boot_id().as_deref() != Some(boot) {
        return false;
    }
    match linux::stat(process.pid) {
        Some(leader) if leader.live() => leader.start_time == start,
        _ => linux::members(process.pgid)
            .is_some_and(|members| members.iter().any(|m| m.live() && m.start_time >= start)),
    }
}

/// What `/proc` tells about processes.
mod linux {
    /// The fields of `/proc/PID/stat` Baton uses.
    pub(super) struct Stat {
        state: char,
        pgrp: u32,
        /// Clock ticks after boot.
        pub(super) start_time: u64,
    }

    impl Stat {
        /// Not a zombie (`Z`) or dead (`X`, being removed).
        pub(super) fn live(&self) -> bool {
            !matches!(self.state, 'Z' | 'X')
        }
    }

    pub(super) fn boot_id() -> Option<String> {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|s| s.trim().to_owned())
    }

    pub(super) fn stat(pid: u32) -> Option<Stat> {
        parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// `PID (COMM) STATE PPID PGRP … STARTTIME …`: the command name may hold spaces and
    /// parentheses, so the fields are counted from its last `)`.
    fn parse_stat(line: &str) -> Option<Stat> {
        let fields: Vec<&str> = line
            .get(line.rfind(')')? + 1..)?
            .split_whitespace()
            .collect();
        Some(Stat {
            state: fields.first()?.chars().next()?,
            pgrp: fields.get(2)?.parse().ok()?,
            start_time: fields.get(19)?.parse().ok()?,
        })
    }

    /// The processes of group `pgid`; `None` without a readable `/proc`.
    pub(super) fn members(pgid: u32) -> Option<Vec<Stat>> {
        let entries = std::fs::read_dir("/proc").ok()?;
        Some(
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter_map(stat)
                .filter(|s| s.pgrp == pgid)
                .collect(),
        )
    }

    pub(super) fn live_members(pgid: u32) -> Option<bool> {
        members(pgid).map(|m| m.iter().any(Stat::live))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() {
            let line = "4242 (sh -c (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 2183168 227 18446744073709551615";
            let stat = parse_stat(line).unwrap();
            assert_eq!(
                (stat.state, stat.pgrp, stat.start_time),
                ('S', 4242, 987654)
            );
        }
    }
}
