//! Jobs: a job task is handed to a worker as an attempt ([`Effect::RunJob`]); the attempt's
//! end (a command's exit, its timeout, an external worker's report) ends the task, or, with
//! retries left in its policy, waits on a durable timer and runs again as a new attempt. A
//! job whose worker was lost (the engine restarted, an external worker's lock expired) runs
//! again as a new attempt, and a late result of the old attempt is refused.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::command::{JobOutcome, TimerKind, WorkerReport};
use crate::definition::TaskKind;
use crate::effect::{Effect, JobRequest};
use crate::event::EventKind;
use crate::machine::{Machine, TransitionError};
use crate::status::{Reason, TaskStatus};

impl Machine<'_> {
    /// A job's environment, computed from process data when it starts.
    pub(crate) fn evaluate_env(
        &self,
        i: usize,
        spec: &crate::definition::JobSpec,
    ) -> Result<Vec<(String, String)>, Reason> {
        let scope = self.scope_for(i);
        spec.env
            .iter()
            .map(|(name, expr)| match expr.eval(&scope) {
                Ok(Value::String(s)) => Ok((name.clone(), s)),
                Ok(Value::Null) => Ok((name.clone(), String::new())),
                Ok(other) => Ok((name.clone(), other.to_string())),
                Err(e) => Err(Reason::ExpressionFailed {
                    field: format!("env.{name}"),
                    message: e.0,
                }),
            })
            .collect()
    }

    /// Hands a job to a worker as a new attempt.
    pub(crate) fn dispatch(&mut self, i: usize, retry_reason: Option<Reason>) {
        let TaskKind::Job(spec) = &self.def.tasks[i].kind else {
            unreachable!("only jobs are dispatched")
        };
        // Generated at activation: the inputs resolved when the instance started.
        let env = match self.inst.tasks[i].generated.clone() {
            Some(generated) => generated,
            None => self.evaluate_env(i, spec),
        };
        let env = match env {
            Ok(env) => env,
            Err(reason) => return self.fail(i, reason),
        };
        let attempt = self.inst.tasks[i].attempts;
        if let Some(limit) = self.def.tasks[i].controls.max_runtime {
            let due_at = crate::timestamp::after(self.now, limit.limit);
            self.set_timer(i, TimerKind::MaxRuntime { attempt }, due_at);
        }
        if let Some(reason) = retry_reason {
            self.emit(Some(i), EventKind::JobRetried { attempt, reason });
        }
        self.set_task(
            i,
            TaskStatus::Running {
                attempt,
                since: self.now,
            },
            None,
        );
        let topic = spec.target.topic().map(str::to_owned);
        let data = if topic.is_some() {
            self.visible_data()
        } else {
            Map::new()
        };
        self.emit(
            Some(i),
            EventKind::JobDispatched {
                attempt,
                command: spec.target.command().to_vec(),
                topic: topic.clone(),
            },
        );
        self.effects.push(Effect::RunJob(JobRequest {
            instance: self.inst.id.clone(),
            task: self.def.tasks[i].id.clone(),
            attempt,
            command: spec.target.command().to_vec(),
            workdir: spec.workdir.clone(),
            env,
            timeout_ms: spec.timeout.map(|d| d.as_millis() as u64),
            topic,
            data,
        }));
    }

    pub(crate) fn job_finished(
        &mut self,
        task: &str,
        attempt: u32,
        outcome: JobOutcome,
    ) -> Result<(), TransitionError> {
        let i = self.index(task)?;
        if self.running_attempt(i) != Some(attempt) {
            return Err(TransitionError::StaleJobResult {
                task: task.to_owned(),
                attempt,
            });
        }
        if self.def.tasks[i].controls.max_runtime.is_some() {
            self.clear_timer(i, TimerKind::MaxRuntime { attempt });
        }
        match outcome {
            JobOutcome::Exited {
                code,
                output,
                stdout_tail,
                stderr_tail,
                duration_ms,
            } => {
                self.emit(
                    Some(i),
                    EventKind::JobFinished {
                        attempt,
                        exit_code: Some(code),
                        duration_ms,
                        stdout_tail,
                        stderr_tail,
                    },
                );
                if self.min_runtime_not_met(i, duration_ms, code) {
                    return Ok(());
                }
                if code != 0 {
                    self.job_failed(i, Reason::Exited { code }, None);
                    return Ok(());
                }
                // A command acts for nobody: its output may copy the instance's document
                // references, not make new ones (an external worker's output was checked
                // against its user as it came in).
                if let Some(reason) = output.as_ref().and_then(|o| {
                    self.unreferenced_document(o, None, |name| format!("the job's output `{name}`"))
                }) {
                    self.fail(i, reason);
                    return Ok(());
                }
                self.job_succeeded(i, output, duration_ms);
            }
            JobOutcome::Reported { worker, report } => {
                self.worker_reported(i, attempt, worker, report)
            }
            JobOutcome::TimedOut {
                after_ms,
                stdout_tail,
                stderr_tail,
            } => {
                self.emit(
                    Some(i),
                    EventKind::JobFinished {
                        attempt,
                        exit_code: None,
                        duration_ms: after_ms,
                        stdout_tail,
                        stderr_tail,
                    },
                );
                self.job_failed(i, Reason::TimedOut { after_ms }, None);
            }
            JobOutcome::CouldNotStart { message } => {
                self.job_failed(i, Reason::CouldNotStart { message }, None)
            }
        }
        Ok(())
    }

    /// Takes a job's output into process data, if it fits the limits and the declared types.
    /// Returns false when it does not: the task has ended `ended_not_ok` saying why.
    fn take_output(&mut self, i: usize, output: Option<Map<String, Value>>) -> bool {
        let Some(output) = output.filter(|o| !o.is_empty()) else {
            return true;
        };
        if let Err(e) = self.knowledge.limits.check_object(&output) {
            self.fail(
                i,
                Reason::DataLimit {
                    what: "the job's output".into(),
                    problem: e.to_string(),
                },
            );
            return false;
        }
        if let Some(reason) = output.iter().find_map(|(k, v)| self.type_problem(k, v)) {
            self.fail(i, reason);
            return false;
        }
        self.inst.data.extend(output.clone());
        self.emit(Some(i), EventKind::DataChanged { values: output });
        true
    }

    fn job_succeeded(&mut self, i: usize, output: Option<Map<String, Value>>, duration_ms: u64) {
        if !self.take_output(i, output) {
            return;
        }
        // Only a run that ended OK counts for the learned expected runtime (ERT): not one
        // that failed, fell short of its minimum runtime or wrote output of the wrong type.
        self.effects.push(Effect::RecordRuntime {
            task: self.def.tasks[i].id.clone(),
            duration_ms,
        });
        self.set_task(i, TaskStatus::EndedOk, None);
    }

    /// An external worker's report on the running attempt (its lock was checked by the
    /// driver: a report from a worker without the lock never gets here). The run's time is
    /// counted from the dispatch.
    fn worker_reported(&mut self, i: usize, attempt: u32, worker: String, report: WorkerReport) {
        let since = match self.inst.tasks[i].status {
            TaskStatus::Running { since, .. } => since,
            _ => self.now,
        };
        let duration_ms = (self.now - since).num_milliseconds().max(0) as u64;
        let message = match &report {
            WorkerReport::Failed { message, .. } => Some(message.clone()),
            WorkerReport::Ended { message, .. } => message.clone(),
            WorkerReport::Completed { .. } => None,
        };
        self.emit(
            Some(i),
            EventKind::JobReported {
                attempt,
                worker: worker.clone(),
                report: report.name().to_owned(),
                message: message.clone(),
                duration_ms,
            },
        );
        match report {
            WorkerReport::Completed { output } => {
                if !self.min_runtime_not_met(i, duration_ms, 0) {
                    self.job_succeeded(i, output, duration_ms);
                }
            }
            WorkerReport::Failed {
                message,
                retry,
                retry_after_ms,
            } => {
                let failure = Reason::WorkerFailed { worker, message };
                if retry {
                    self.job_failed(i, failure, retry_after_ms.map(Duration::from_millis));
                } else {
                    self.fail(i, failure);
                }
            }
            WorkerReport::Ended {
                status,
                message,
                output,
            } => {
                if self.take_output(i, output) {
                    let reason = Reason::EndedByWorker {
                        worker,
                        status: status.status().name().to_owned(),
                        message,
                    };
                    self.set_task(i, status.status(), Some(reason));
                }
            }
        }
    }

    /// A job attempt failed: with retries left in its policy it waits and runs again, else the
    /// task ends `ended_not_ok`. (A result the process cannot take — output past the limits or
    /// of the wrong type, a minimum runtime not met — is not a failure of the run, and is not
    /// retried: running it again would give the same.)
    ///
    /// `delay` replaces the policy's wait before the retry (an external worker's `retry_after`).
    fn job_failed(&mut self, i: usize, failure: Reason, delay: Option<Duration>) {
        let TaskKind::Job(spec) = &self.def.tasks[i].kind else {
            return self.fail(i, failure);
        };
        let Some(policy) = spec.retry.filter(|p| self.inst.tasks[i].retries < p.max) else {
            return self.fail(i, failure);
        };
        let retry = self.inst.tasks[i].retries + 1;
        self.inst.tasks[i].retries = retry;
        let wait = chrono::Duration::from_std(delay.map_or_else(
            || policy.delay_before(retry),
            |d| d.min(crate::definition::duration::MAX_DURATION),
        ))
        .unwrap_or(chrono::Duration::MAX);
        let at = self
            .now
            .checked_add_signed(wait)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let reason = Reason::RetryPending {
            retry,
            max: policy.max,
            at,
            failure: failure.to_string(),
        };
        self.set_status(i, TaskStatus::WaitingForRetry { until: at }, Some(reason));
        self.set_timer(i, TimerKind::JobRetry, at);
    }

    /// The retry wait is over: the job runs again as a new attempt.
    pub(crate) fn retry_job(&mut self, i: usize) {
        let TaskKind::Job(spec) = &self.def.tasks[i].kind else {
            return;
        };
        let max = spec.retry.map_or(0, |p| p.max);
        self.inst.tasks[i].attempts += 1;
        let retry = self.inst.tasks[i].retries;
        self.dispatch(i, Some(Reason::Retry { retry, max }));
    }

    /// Runs the job again as a new attempt, because attempt `attempt` was lost (`why`).
    pub(crate) fn redispatch(
        &mut self,
        task: &str,
        attempt: u32,
        why: Reason,
    ) -> Result<(), TransitionError> {
        let i = self.index(task)?;
        if self.running_attempt(i) != Some(attempt) {
            return Err(TransitionError::StaleJobResult {
                task: task.to_owned(),
                attempt,
            });
        }
        self.inst.tasks[i].attempts += 1;
        self.dispatch(i, Some(why));
        Ok(())
    }
}
