//! A job's retry policy (`retry: {max, delay, backoff, max_delay}`): a failed attempt with
//! retries left waits on a durable timer in `waiting_for_retry` and runs again as a new
//! attempt, each wait `backoff` times the last, up to `max_delay`; the last failure ends the
//! task `ended_not_ok` as without a policy. One test per rule.

mod support;

use baton_core::{Command, InstanceStatus, JobOutcome, Reason, TaskStatus};
use support::*;

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

fn retried_job(policy: &str) -> Vec<String> {
    vec![
        "id: p".into(),
        "tasks:".into(),
        job("load"),
        format!("    retry: {policy}"),
        job_after("report", "load"),
    ]
}

fn lines(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn a_failed_attempt_waits_then_runs_again_with_growing_waits_until_the_last_failure_ends_the_task()
{
    let def = retried_job("{max: 3, delay: 10s, backoff: 2, max_delay: 30s}");
    let (mut flow, _) = Flow::start(&lines(&def));
    let mut waits = Vec::new();
    for attempt in 1..=3 {
        assert_eq!(flow.attempt("load"), attempt);
        let failed_at = flow.now;
        let tr = flow.exit("load", 1);
        let due = flow.timer_due("load/job_retry").expect("a retry timer");
        assert_eq!(timers_set(&tr), [("load/job_retry", due)]);
        assert_eq!(
            flow.status("load"),
            TaskStatus::WaitingForRetry { until: due }
        );
        assert_eq!(
            flow.reason("load"),
            Some(Reason::RetryPending {
                retry: attempt,
                max: 3,
                at: due,
                failure: "exit code 1".into()
            })
        );
        assert_eq!(
            flow.inst.status,
            InstanceStatus::Running,
            "a job waiting for its retry is still under way"
        );
        waits.push((due - failed_at).num_seconds());
        let fired = flow.run_until(due);
        assert_eq!(
            dispatched_all(&fired),
            ["load"],
            "the retry is a new attempt of the same task"
        );
    }
    assert_eq!(waits, [10, 20, 30], "10s, then doubled, capped at 30s");
    assert_eq!(flow.attempt("load"), 4);
    let tr = flow.exit("load", 1);
    assert_eq!(timers_set(&tr), []);
    assert_eq!(flow.status("load"), TaskStatus::EndedNotOk);
    assert_eq!(flow.reason("load"), Some(Reason::Exited { code: 1 }));
    assert_eq!(
        flow.status("report"),
        TaskStatus::Blocked,
        "the last failure is handled as without a policy"
    );
}

#[test]
fn an_attempt_that_succeeds_on_a_retry_ends_the_task_ok() {
    let def = retried_job("2");
    let (mut flow, _) = Flow::start(&lines(&def));
    flow.apply(Command::JobFinished {
        task: "load".into(),
        attempt: 1,
        outcome: JobOutcome::TimedOut {
            after_ms: 5,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
        },
    });
    let due = flow.timer_due("load/job_retry").unwrap();
    assert_eq!(due - flow.now, secs(10), "`retry: N` waits 10s first");
    flow.run_until(due);
    let tr = flow.exit("load", 0);
    assert_eq!(flow.status("load"), TaskStatus::EndedOk);
    assert_eq!(dispatched(&tr), ["report"]);
    let retried: Vec<_> = flow
        .history
        .iter()
        .filter_map(|e| match &e.kind {
            baton_core::EventKind::JobRetried { attempt, reason } => {
                Some((*attempt, reason.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(retried, [(2, Reason::Retry { retry: 1, max: 2 })]);
}

#[test]
fn aborting_or_skipping_a_task_waiting_for_its_retry_clears_the_timer() {
    let def = retried_job("{max: 1, delay: 1h}");
    let (mut flow, _) = Flow::start(&lines(&def));
    flow.exit("load", 7);
    let tr = flow.apply(Command::SkipTask {
        task: "load".into(),
        by: "ops".into(),
    });
    assert_eq!(timers_cleared(&tr), ["load/job_retry"]);
    assert_eq!(flow.status("load"), TaskStatus::EndedSkipped);
    assert_eq!(dispatched(&tr), ["report"]);

    let (mut flow, _) = Flow::start(&lines(&def));
    flow.exit("load", 7);
    let tr = flow.apply(Command::Abort {
        by: "ops".into(),
        abort_parent: false,
    });
    assert_eq!(timers_cleared(&tr), ["load/job_retry"]);
    assert_eq!(flow.status("load"), TaskStatus::Canceled);
    assert_eq!(flow.inst.status, InstanceStatus::Aborted);
    // The timer coming due anyway (it was already being delivered) changes nothing.
    assert!(flow
        .try_apply(Command::TimerFired {
            task: "load".into(),
            timer: baton_core::TimerKind::JobRetry
        })
        .is_err());
}

#[test]
fn a_new_run_of_the_task_starts_with_all_its_retries() {
    let def = retried_job("{max: 1, delay: 1s}");
    let (mut flow, _) = Flow::start(&lines(&def));
    flow.exit("load", 1);
    let due = flow.timer_due("load/job_retry").unwrap();
    flow.run_until(due);
    flow.exit("load", 1);
    assert_eq!(flow.status("load"), TaskStatus::EndedNotOk);
    flow.apply(Command::RetryTask {
        task: "load".into(),
        by: "ops".into(),
    });
    assert_eq!(flow.task("load").retries, 0);
    flow.exit("load", 1);
    assert!(
        matches!(flow.status("load"), TaskStatus::WaitingForRetry { .. }),
        "the operator's run has its own retry"
    );
}
