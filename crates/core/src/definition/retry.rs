//! A job's retry policy: `retry: {max: 3, delay: 10s, backoff: 2.0, max_delay: 10m}` (or
//! `retry: 3`). A failed attempt with retries left waits on a durable timer
//! (`waiting_for_retry`) and runs again; the last failure ends the task `ended_not_ok`.
//! The waits grow as Camunda's and Temporal's do: `delay × backoff^(n-1)`, capped at
//! `max_delay`.

use std::time::Duration;

use marked_yaml::Node;

use super::controls::{scalar, ControlParser};

/// How often and how soon a failed job runs again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 to [`MAX_RETRIES`]).
    pub max: u32,
    /// The wait before the first retry.
    pub delay: Duration,
    /// Each wait is the previous one times this (1.0 to [`MAX_BACKOFF`]).
    pub backoff: f64,
    /// No wait is longer than this.
    pub max_delay: Duration,
}

/// The most retries a policy may ask for.
pub const MAX_RETRIES: u32 = 100;
/// The largest backoff factor.
pub const MAX_BACKOFF: f64 = 10.0;
/// The longest `delay` or `max_delay`.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30 * 24 * 3600);

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max: 3,
            delay: Duration::from_secs(10),
            backoff: 2.0,
            max_delay: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry `n` (1 for the first).
    pub fn delay_before(&self, n: u32) -> Duration {
        let factor = self.backoff.powi(n.saturating_sub(1).min(1_000) as i32);
        let wait = self.delay.as_secs_f64() * factor;
        if wait.is_finite() && wait < self.max_delay.as_secs_f64() {
            Duration::from_secs_f64(wait)
        } else {
            self.max_delay
        }
    }
}

impl ControlParser<'_, '_> {
    /// Reads `retry:`, a number of retries or a mapping.
    pub(super) fn retry(&mut self, node: &Node) -> Option<RetryPolicy> {
        let mut policy = RetryPolicy::default();
        let Some(map) = node.as_mapping() else {
            policy.max = self.count(node, "retry", 0, MAX_RETRIES)?;
            return Some(policy);
        };
        if !self.keys_known(map, &["max", "delay", "backoff", "max_delay"], "retry") {
            return None;
        }
        let before = self.diags.items.len();
        if let Some(n) = map.get_node("max") {
            policy.max = self
                .count(n, "retry.max", 0, MAX_RETRIES)
                .unwrap_or_default();
        }
        if let Some(n) = map.get_node("delay") {
            policy.delay = self.bounded_delay(n, "retry.delay").unwrap_or_default();
        }
        if let Some(n) = map.get_node("max_delay") {
            policy.max_delay = self.bounded_delay(n, "retry.max_delay").unwrap_or_default();
        }
        if let Some(n) = map.get_node("backoff") {
            match scalar(n).and_then(|s| s.parse::<f64>().ok()) {
                Some(b) if (1.0..=MAX_BACKOFF).contains(&b) => policy.backoff = b,
                _ => self.error(
                    n,
                    format!("`retry.backoff` must be a number from 1 to {MAX_BACKOFF}"),
                    Some(
                        "1 waits `delay` every time; 2 doubles the wait after each failure".into(),
                    ),
                ),
            }
        }
        (self.diags.items.len() == before).then_some(policy)
    }

    fn bounded_delay(&mut self, node: &Node, field: &str) -> Option<Duration> {
        let d = self.duration(node, field)?;
        if d > MAX_RETRY_DELAY {
            self.error(
                node,
                format!("`{field}` is longer than the longest retry wait, 30 days"),
                None,
            );
            return None;
        }
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_by_the_backoff_up_to_the_longest_wait() {
        let policy = RetryPolicy {
            max: 5,
            delay: Duration::from_secs(10),
            backoff: 2.0,
            max_delay: Duration::from_secs(60),
        };
        let waits: Vec<u64> = (1..=5).map(|n| policy.delay_before(n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 60, 60]);
        let steady = RetryPolicy {
            backoff: 1.0,
            ..policy
        };
        assert_eq!(steady.delay_before(100), Duration::from_secs(10));
        let huge = RetryPolicy {
            max: 100,
            delay: MAX_RETRY_DELAY,
            backoff: MAX_BACKOFF,
            max_delay: MAX_RETRY_DELAY,
        };
        assert_eq!(huge.delay_before(100), MAX_RETRY_DELAY, "no overflow");
    }
}
