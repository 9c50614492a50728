//! `wait` tasks and the events they receive: Siebel's implicit resumption ("when the events
//! that the workflow is waiting for are triggered"), with Camunda's message correlation.
//!
//! A `wait` task that starts evaluates its correlation key once (`key: data.customer_id`),
//! becomes `waiting_for_event` and asks the driver to store a *subscription*, the pair of its
//! event's name and that key, so a publisher finds the instance by a lookup. An event that
//! reaches the instance ([`Command::EventReceived`](crate::Command)) is received by every
//! `wait` task waiting for its name and key whose `condition` (over `event`, the payload, and
//! `data`) holds: its `output` mapping writes the payload into process data and the task ends
//! `ended_ok`. A task that stops waiting in any way (received, timed out, skipped, canceled)
//! drops its subscription and its timeout timer in the same step.
//!
//! Keys match exactly: an event published with key `K` reaches the tasks that wait with key
//! `K`; one published without a key reaches the tasks that have no `key`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::definition::{TaskKind, WaitSpec};
use crate::effect::Effect;
use crate::event::EventKind;
use crate::machine::{Machine, TransitionError};
use crate::status::{Reason, TaskStatus};
use crate::step::TimerKind;

/// The longest correlation key, in bytes.
pub const MAX_KEY_LEN: usize = 256;

/// An event as it reaches an instance: its id, name, correlation key and payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedEvent {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
}

/// Why `key` cannot be a correlation key, if it cannot: it has 1 to [`MAX_KEY_LEN`] bytes and
/// no control characters.
pub fn key_problem(key: &str) -> Option<String> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Some(format!(
            "a correlation key has 1 to {MAX_KEY_LEN} bytes, this one has {}",
            key.len()
        ));
    }
    key.chars()
        .any(char::is_control)
        .then(|| "a correlation key may not hold control characters".to_owned())
}

/// The correlation key a `key` expression's value gives: a string as it is, a whole number
/// in decimal.
fn key_of(value: &Value) -> Result<String, String> {
    let key = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        other => {
            return Err(format!(
                "`key` gave {}, not a string or a whole number",
                crate::data_type::json_type_name(other)
            ))
        }
    };
    match key_problem(&key) {
        Some(problem) => Err(problem),
        None => Ok(key),
    }
}

impl Machine<'_> {
    /// Task `i`, a `wait` task, begins waiting: its key is evaluated now and its subscription
    /// (and timeout timer) go with this step.
    pub(crate) fn start_wait(&mut self, i: usize, spec: &WaitSpec) {
        let evaluated = spec.key.as_ref().map(|expr| expr.eval(&self.scope_for(i)));
        let key = match evaluated {
            None => None,
            Some(Err(e)) => {
                return self.fail(
                    i,
                    Reason::ExpressionFailed {
                        field: "key".into(),
                        message: e.0,
                    },
                )
            }
            Some(Ok(value)) => match key_of(&value) {
                Ok(key) => Some(key),
                Err(problem) => return self.fail(i, Reason::BadCorrelationKey { problem }),
            },
        };
        let task = self.def.tasks[i].id.clone();
        let reason = Reason::WaitingForEvent {
            event: spec.event.clone(),
            key: key.clone(),
        };
        self.set_status(
            i,
            TaskStatus::WaitingForEvent {
                event: spec.event.clone(),
                key: key.clone(),
                since: self.now,
            },
            Some(reason),
        );
        self.effects.push(Effect::Subscribe {
            task,
            event: spec.event.clone(),
            key,
        });
        if let Some(timeout) = spec.timeout {
            let attempt = self.inst.tasks[i].attempts;
            self.set_timer(
                i,
                TimerKind::EventTimeout { attempt },
                crate::timestamp::after(self.now, timeout),
            );
        }
    }

    /// Task `i` stops waiting (the one place: `set_status`): its subscription and its timeout
    /// timer are removed with this step.
    pub(crate) fn stop_waiting(&mut self, i: usize) {
        self.effects.push(Effect::Unsubscribe {
            task: self.def.tasks[i].id.clone(),
        });
        if let TaskKind::Wait(spec) = &self.def.tasks[i].kind {
            if spec.timeout.is_some() {
                let attempt = self.inst.tasks[i].attempts;
                self.clear_timer(i, TimerKind::EventTimeout { attempt });
            }
        }
    }

    /// `event` reached the instance: every task waiting for it whose condition holds receives
    /// it. Refused, changing nothing, when none does.
    pub(crate) fn event_received(
        &mut self,
        event: &crate::correlation::ReceivedEvent,
    ) -> Result<(), TransitionError> {
        let mut received = 0;
        for i in 0..self.def.tasks.len() {
            let TaskKind::Wait(spec) = &self.def.tasks[i].kind else {
                continue;
            };
            let TaskStatus::WaitingForEvent {
                event: name, key, ..
            } = &self.inst.tasks[i].status
            else {
                continue;
            };
            if *name != event.name || *key != event.key {
                continue;
            }
            if let Some(condition) = &spec.condition {
                let held = condition.eval_bool(&self.scope_for(i).with_event(&event.data));
                match held {
                    Ok(true) => {}
                    Ok(false) => continue,
                    // A condition that cannot be evaluated takes the event and fails the task,
                    // as a decision's does: the definition must say what it wants.
                    Err(e) => {
                        received += 1;
                        self.fail(
                            i,
                            Reason::ExpressionFailed {
                                field: "condition".into(),
                                message: e.0,
                            },
                        );
                        continue;
                    }
                }
            }
            received += 1;
            match self.event_output(i, spec, &event.data) {
                Err(reason) => self.fail(i, reason),
                Ok(writes) => {
                    if !writes.is_empty() {
                        self.inst.data.extend(writes.clone());
                        self.emit(Some(i), EventKind::DataChanged { values: writes });
                    }
                    self.set_task(
                        i,
                        TaskStatus::EndedOk,
                        Some(Reason::EventReceived {
                            event: event.name.clone(),
                            id: event.id.clone(),
                        }),
                    );
                }
            }
        }
        if received == 0 {
            return Err(TransitionError::NoWaitingTask {
                event: event.name.clone(),
                key: event.key.clone(),
            });
        }
        Ok(())
    }

    /// What a `wait` task's `output` mapping writes from the payload.
    fn event_output(
        &self,
        i: usize,
        spec: &WaitSpec,
        payload: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Reason> {
        self.mapping_writes(
            i,
            &spec.output,
            || self.scope_for(i).with_event(payload),
            payload,
            "wait task",
        )
    }

    /// Task `i`'s event did not come within its `timeout`.
    pub(crate) fn event_timed_out(&mut self, i: usize) {
        let TaskKind::Wait(spec) = &self.def.tasks[i].kind else {
            return;
        };
        let after_ms = spec.timeout.map_or(0, |t| t.as_millis() as u64);
        let reason = Reason::EventTimedOut {
            event: spec.event.clone(),
            after_ms,
        };
        self.set_task(i, TaskStatus::EndedTimeout, Some(reason));
    }
}
