//! Automic's per-task controls: the settings that shape a task's start pipeline
//! (breakpoint, calendar, earliest start, active flag, preconditions, latest start/end with
//! expected runtime, prompts, generation time) and its runtime monitoring (maximum and minimum
//! runtime, postconditions). Parsed from the task's YAML node so that every problem is
//! reported at its own line and column.

use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use marked_yaml::Node;
use marked_yaml::Spanned;

use super::{pos_of, Diagnostics, Resolve};
use crate::expr::Expr;

/// What happens when a rule does not hold (Automic's Else) or a limit is exceeded.
/// Each place accepts only the actions that make sense there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The task ends `ended_skipped`; the workflow goes on.
    Skip,
    /// The task and the workflow become `blocked` until an operator acts.
    Block,
    /// The workflow is aborted.
    Abort,
    /// Another task (declared `on_demand: true`) is started.
    Run(usize),
    /// Check again after the check interval (preconditions).
    Wait,
    /// The running job is canceled; the task ends `canceled` (maximum runtime).
    Cancel,
    /// The task ends with this status (`ended_ok` or `ended_not_ok`).
    End(EndAs),
    /// Only record an alert in history.
    Alert,
    /// Run the task again (postconditions), up to `max_restarts` times.
    Restart,
    /// Do nothing.
    Continue,
}

/// The statuses an action may end a task with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndAs {
    Ok,
    NotOk,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Block => "block",
            Self::Abort => "abort",
            Self::Run(_) => "run",
            Self::Wait => "wait",
            Self::Cancel => "cancel",
            Self::End(EndAs::Ok) => "end ended_ok",
            Self::End(EndAs::NotOk) => "end ended_not_ok",
            Self::Alert => "alert",
            Self::Restart => "restart",
            Self::Continue => "continue",
        }
    }
}

/// A point in time written in a definition.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeSpec {
    /// An RFC 3339 instant.
    At(DateTime<Utc>),
    /// A time of day on the day the instance was activated (`22:00`, `today 22:00`) or a later
    /// day (`tomorrow 06:00`), in the task's time zone.
    TimeOfDay { time: NaiveTime, days_after: u32 },
    /// A duration after the instance was activated (`+2h`).
    AfterActivation(Duration),
}

impl TimeSpec {
    /// The instant this spec names for an instance activated at `activated`, in `zone`.
    /// Never later than [`crate::timestamp::LATEST`] (`9999-12-31T23:59:59-14:00` is in year 10000).
    pub fn resolve(&self, activated: DateTime<Utc>, zone: chrono_tz::Tz) -> DateTime<Utc> {
        self.resolve_unbounded(activated, zone)
            .min(crate::timestamp::LATEST)
    }

    fn resolve_unbounded(&self, activated: DateTime<Utc>, zone: chrono_tz::Tz) -> DateTime<Utc> {
        match self {
            Self::At(t) => *t,
            Self::AfterActivation(d) => crate::timestamp::after(activated, *d),
            Self::TimeOfDay { time, days_after } => {
                let today = activated.with_timezone(&zone).date_naive();
                let Some(day) = today.checked_add_days(chrono::Days::new(u64::from(*days_after)))
                else {
                    return crate::timestamp::LATEST;
                };
                let local = day.and_time(*time);
                // In a DST gap the wall time does not exist: take the first instant after it.
                let mut probe = local;
                loop {
                    match probe.and_local_timezone(zone) {
                        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
                            return t.with_timezone(&Utc)
                        }
                        chrono::LocalResult::None => probe += chrono::Duration::minutes(1),
                    }
                }
            }
        }
    }

    /// `bounded`: hold a `+DURATION` to [`super::MAX_DURATION`].
    fn parse(text: &str, bounded: bool) -> Result<Self, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix('+') {
            let parsed = super::duration::parse_unbounded(rest).and_then(|d| {
                if bounded {
                    super::duration::check(d)
                } else {
                    Ok(d)
                }
            });
            return parsed.map(Self::AfterActivation).map_err(|e| match e {
                super::duration::DurationError::TooLong => format!("`+{}` {e}", rest.trim()),
                other => other.to_string(),
            });
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(Self::At(t.with_timezone(&Utc)));
        }
        let (days_after, clock) = match text.split_once(' ') {
            Some(("today", rest)) => (0, rest),
            Some(("tomorrow", rest)) => (1, rest),
            Some((other, _)) => return Err(format!("unknown day `{other}`")),
            None => (0, text),
        };
        NaiveTime::parse_from_str(clock, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(clock, "%H:%M:%S"))
            .map(|time| Self::TimeOfDay { time, days_after })
            .map_err(|_| format!("`{clock}` is not a time of day"))
    }
}

/// Conditions checked before the task starts, re-checked every `check_interval` while an
/// `else: wait` condition does not hold (Automic's CONDITION_CHECK_INTERVAL).
#[derive(Debug, Clone)]
pub struct Preconditions {
    pub check_interval: Duration,
    pub conditions: Vec<Condition>,
    /// In a ForEach body: evaluate only in the first iteration instead of in every one.
    pub once: bool,
}

/// One precondition: when `when` does not hold, `otherwise` applies.
#[derive(Debug, Clone)]
pub struct Condition {
    pub when: Expr,
    pub otherwise: Action,
}

/// A prompt (Automic PromptSet entry): a value the starter must give before the task runs.
/// Its type is the type of the process data variable of the same name.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub name: String,
    pub label: Option<String>,
    pub required: bool,
    pub choices: Vec<serde_json::Value>,
}

/// A maximum or minimum runtime and what happens when it is not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeLimit {
    pub limit: Duration,
    pub action: Action,
}

/// Checked once after the task ended (not for `ended_inactive`).
#[derive(Debug, Clone)]
pub struct Postcondition {
    pub when: Expr,
    pub then: Action,
    pub otherwise: Action,
}

/// Most restarts postconditions may ask for (`max_restarts`): a set, decision or end task
/// restarted by its postconditions runs again within the same step, so this bounds the step.
pub const MAX_RESTARTS: u32 = 100;

/// All of a task's Automic controls; the defaults change nothing.
#[derive(Debug, Clone)]
pub struct TaskControls {
    pub breakpoint: bool,
    pub calendars: Vec<String>,
    pub timezone: Option<chrono_tz::Tz>,
    pub earliest_start: Option<TimeSpec>,
    pub active: bool,
    pub preconditions: Option<Preconditions>,
    pub latest_start: Option<TimeSpec>,
    pub latest_end: Option<TimeSpec>,
    pub expected_runtime: Option<Duration>,
    pub on_timeout: Action,
    pub prompts: Vec<Prompt>,
    pub generate_at_activation: bool,
    pub max_runtime: Option<RuntimeLimit>,
    pub min_runtime: Option<RuntimeLimit>,
    pub postconditions: Vec<Postcondition>,
    pub max_restarts: u32,
    /// How many times the task may run without an operator's say (every start counts: the
    /// first, re-runs by `run` actions, restarts); past it the task is blocked and an incident
    /// raised.
    pub max_runs: u32,
    pub on_demand: bool,
}

/// The default run limit of a task.
pub const DEFAULT_MAX_RUNS: u32 = 100;
/// The largest run limit a definition may set.
pub const MAX_RUNS_LIMIT: u32 = 10_000;

impl Default for TaskControls {
    fn default() -> Self {
        Self {
            breakpoint: false,
            calendars: Vec::new(),
            timezone: None,
            earliest_start: None,
            active: true,
            preconditions: None,
            latest_start: None,
            latest_end: None,
            expected_runtime: None,
            on_timeout: Action::Continue,
            prompts: Vec::new(),
            generate_at_activation: false,
            max_runtime: None,
            min_runtime: None,
            postconditions: Vec::new(),
            max_restarts: 3,
            max_runs: DEFAULT_MAX_RUNS,
            on_demand: false,
        }
    }
}

pub(super) struct ControlParser<'a, 'r> {
    pub diags: &'a mut Diagnostics<'r>,
    pub resolve: Resolve<'a>,
    pub data: &'a indexmap::IndexMap<String, super::DataDecl>,
}

pub(super) fn scalar(node: &Node) -> Option<&str> {
    node.as_scalar().map(|s| s.as_str())
}

impl ControlParser<'_, '_> {
    pub(super) fn error(
        &mut self,
        node: &Node,
        message: impl Into<String>,
        hint: impl Into<Option<String>>,
    ) {
        self.diags.error(pos_of(node.span()), message, hint.into());
    }

    pub(super) fn boolean(&mut self, node: &Node, field: &str) -> Option<bool> {
        match scalar(node) {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => {
                self.error(node, format!("`{field}` must be true or false"), None);
                None
            }
        }
    }

    /// A whole number in `min..=max`.
    pub(super) fn count(&mut self, node: &Node, field: &str, min: u32, max: u32) -> Option<u32> {
        match scalar(node).and_then(|s| s.parse::<u64>().ok()) {
            Some(v) if (u64::from(min)..=u64::from(max)).contains(&v) => Some(v as u32),
            _ => {
                self.error(
                    node,
                    format!("`{field}` must be a whole number from {min} to {max}"),
                    None,
                );
                None
            }
        }
    }

    /// A duration field: refused with its position when it is not one or is too long.
    pub(super) fn duration(&mut self, node: &Node, field: &str) -> Option<Duration> {
        self.diags
            .duration(pos_of(node.span()), scalar(node), field)
    }

    fn time(&mut self, node: &Node, field: &str) -> Option<TimeSpec> {
        let Some(text) = scalar(node) else {
            self.error(node, format!("`{field}` must be a time"), None);
            return None;
        };
        match TimeSpec::parse(text, self.diags.bound_durations) {
            Ok(t) => Some(t),
            Err(e) => {
                self.error(
                    node,
                    format!("`{field}` is not a time: {e}"),
                    Some("write `22:00`, `today 22:00`, `tomorrow 06:00`, `+2h` (after activation) or an RFC 3339 instant".into()),
                );
                None
            }
        }
    }

    fn expr(&mut self, node: &Node, field: &str) -> Option<Expr> {
        let Some(s) = node.as_scalar() else {
            self.error(node, format!("`{field}` must be a CEL expression"), None);
            return None;
        };
        let spanned = Spanned::new(*node.span(), s.as_str().to_owned());
        self.diags.expr(&spanned, field)
    }

    /// An action: a word (`skip`, `block`, …) or `{run: TASK}` / `{end: ended_ok|ended_not_ok}`.
    pub fn action(&mut self, node: &Node, field: &str, allowed: &[&str]) -> Option<Action> {
        let hint = || {
            Some(format!(
                "use one of: {}",
                allowed
                    .iter()
                    .map(|a| if matches!(*a, "run" | "end") {
                        format!("{{{a}: …}}")
                    } else {
                        (*a).to_owned()
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        };
        let action = if let Some(word) = scalar(node) {
            match word {
                "skip" => Action::Skip,
                "block" => Action::Block,
                "abort" => Action::Abort,
                "wait" => Action::Wait,
                "cancel" => Action::Cancel,
                "alert" => Action::Alert,
                "restart" => Action::Restart,
                "continue" => Action::Continue,
                other => {
                    self.error(
                        node,
                        format!("unknown action `{other}` in `{field}`"),
                        hint(),
                    );
                    return None;
                }
            }
        } else if let Some(map) = node.as_mapping() {
            let mut entries = map.iter();
            let (Some((key, value)), None) = (entries.next(), entries.next()) else {
                self.error(node, format!("`{field}` takes one action"), hint());
                return None;
            };
            match key.as_str() {
                "run" => {
                    let Some(name) = value.as_scalar() else {
                        self.error(value, "`run` names a task", None);
                        return None;
                    };
                    let spanned = Spanned::new(*value.span(), name.as_str().to_owned());
                    Action::Run((self.resolve)(self.diags, &spanned, "task to run")?)
                }
                "end" => match scalar(value) {
                    Some("ended_ok") => Action::End(EndAs::Ok),
                    Some("ended_not_ok") => Action::End(EndAs::NotOk),
                    _ => {
                        self.error(value, "`end` takes `ended_ok` or `ended_not_ok`", None);
                        return None;
                    }
                },
                other => {
                    self.diags.error(
                        pos_of(key.span()),
                        format!("unknown action `{other}` in `{field}`"),
                        hint(),
                    );
                    return None;
                }
            }
        } else {
            self.error(node, format!("`{field}` must be an action"), hint());
            return None;
        };
        let word = match action {
            Action::Run(_) => "run",
            Action::End(_) => "end",
            other => other.name(),
        };
        if !allowed.contains(&word) {
            self.error(
                node,
                format!("`{word}` cannot be used in `{field}`"),
                hint(),
            );
            return None;
        }
        Some(action)
    }

    pub(super) fn keys_known(
        &mut self,
        map: &marked_yaml::types::MarkedMappingNode,
        known: &[&str],
        what: &str,
    ) -> bool {
        let mut ok = true;
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                self.diags.error(
                    pos_of(key.span()),
                    format!("unknown field `{}` in {what}", key.as_str()),
                    Some(format!("{what} takes: {}", known.join(", "))),
                );
                ok = false;
            }
        }
        ok
    }

    fn limit(
        &mut self,
        node: &Node,
        field: &str,
        allowed: &[&str],
        default: Action,
    ) -> Option<RuntimeLimit> {
        if scalar(node).is_some() {
            return Some(RuntimeLimit {
                limit: self.duration(node, field)?,
                action: default,
            });
        }
        let Some(map) = node.as_mapping() else {
            self.error(
                node,
                format!("`{field}` must be a duration or {{after: DURATION, action: ACTION}}"),
                None,
            );
            return None;
        };
        if !self.keys_known(map, &["after", "action"], field) {
            return None;
        }
        let Some(after) = map.get_node("after") else {
            self.error(
                node,
                format!("`{field}` needs `after`"),
                Some("for example `after: 10m`".into()),
            );
            return None;
        };
        let limit = self.duration(after, &format!("{field}.after"))?;
        let action = match map.get_node("action") {
            Some(a) => self.action(a, &format!("{field}.action"), allowed)?,
            None => default,
        };
        Some(RuntimeLimit { limit, action })
    }

    /// Reads every control field present on a task mapping.
    pub fn controls(
        &mut self,
        task: &marked_yaml::types::MarkedMappingNode,
    ) -> Option<TaskControls> {
        let mut c = TaskControls::default();
        let before = self.diags.items.len();
        if let Some(n) = task.get_node("breakpoint") {
            c.breakpoint = self.boolean(n, "breakpoint").unwrap_or(false);
        }
        if let Some(n) = task.get_node("active") {
            c.active = self.boolean(n, "active").unwrap_or(true);
        }
        if let Some(n) = task.get_node("on_demand") {
            c.on_demand = self.boolean(n, "on_demand").unwrap_or(false);
        }
        if let Some(n) = task.get_node("calendar") {
            let names: Vec<&Node> = match n {
                Node::Sequence(items) => items.iter().collect(),
                other => vec![other],
            };
            for name in names {
                match scalar(name).map(|s| (s, super::check_id("calendar", s))) {
                    Some((s, Ok(()))) => c.calendars.push(s.to_owned()),
                    Some((_, Err((message, hint)))) => self.error(name, message, Some(hint)),
                    None => self.error(
                        name,
                        "`calendar` names a calendar (or a list of them)",
                        None,
                    ),
                }
            }
        }
        if let Some(n) = task.get_node("timezone") {
            match scalar(n).map(str::parse::<chrono_tz::Tz>) {
                Some(Ok(tz)) => c.timezone = Some(tz),
                _ => self.error(
                    n,
                    "`timezone` is not a known time zone",
                    Some("use an IANA name such as `Europe/Berlin` or `UTC`".into()),
                ),
            }
        }
        if let Some(n) = task.get_node("earliest_start") {
            c.earliest_start = self.time(n, "earliest_start");
        }
        if let Some(n) = task.get_node("latest_start") {
            c.latest_start = self.time(n, "latest_start");
        }
        if let Some(n) = task.get_node("latest_end") {
            c.latest_end = self.time(n, "latest_end");
        }
        if let Some(n) = task.get_node("expected_runtime") {
            c.expected_runtime = self.duration(n, "expected_runtime");
        }
        if let Some(n) = task.get_node("on_timeout") {
            c.on_timeout = self
                .action(n, "on_timeout", &["block", "abort", "run", "continue"])
                .unwrap_or(Action::Continue);
        }
        if let Some(n) = task.get_node("generate") {
            match scalar(n) {
                Some("activation") => c.generate_at_activation = true,
                Some("runtime") => c.generate_at_activation = false,
                _ => self.error(
                    n,
                    "`generate` is `activation` or `runtime`",
                    Some("`activation` resolves the job's inputs when the instance starts".into()),
                ),
            }
        }
        if let Some(n) = task.get_node("max_restarts") {
            match scalar(n).and_then(|s| s.parse::<u32>().ok()) {
                Some(v) if v <= MAX_RESTARTS => c.max_restarts = v,
                // A stored definition from before the bound still loads, restarting at most that often.
                Some(_) if !self.diags.bound_durations => c.max_restarts = MAX_RESTARTS,
                Some(v) => self.error(
                    n,
                    format!("`max_restarts` is {v}, more than the limit of {MAX_RESTARTS}"),
                    Some("a task restarted by its postconditions reruns within one step; restart it less often".into()),
                ),
                None => self.error(n, "`max_restarts` must be a whole number", Some(format!("0 to {MAX_RESTARTS}"))),
            }
        }
        if let Some(n) = task.get_node("max_runs") {
            c.max_runs = self
                .count(n, "max_runs", 1, MAX_RUNS_LIMIT)
                .unwrap_or(c.max_runs);
        }
        if let Some(n) = task.get_node("max_runtime") {
            c.max_runtime = self.limit(
                n,
                "max_runtime",
                &["cancel", "end", "run", "alert", "abort"],
                Action::Cancel,
            );
        }
        if let Some(n) = task.get_node("min_runtime") {
            c.min_runtime = self.limit(
                n,
                "min_runtime",
                &["end", "run", "alert", "abort", "block"],
                Action::End(EndAs::NotOk),
            );
        }
        if let Some(n) = task.get_node("preconditions") {
            c.preconditions = self.preconditions(n);
        }
        if let Some(n) = task.get_node("prompts") {
            c.prompts = self.prompts(n).unwrap_or_default();
        }
        if let Some(n) = task.get_node("postconditions") {
            c.postconditions = self.postconditions(n).unwrap_or_default();
        }
        (self.diags.items.len() == before).then_some(c)
    }

    fn preconditions(&mut self, node: &Node) -> Option<Preconditions> {
        let (list, interval, once) = match node {
            Node::Sequence(_) => (node, None, None),
            Node::Mapping(map) => {
                if !self.keys_known(
                    map,
                    &["check_interval", "conditions", "once"],
                    "preconditions",
                ) {
                    return None;
                }
                let Some(list) = map.get_node("conditions") else {
                    self.error(node, "`preconditions` needs `conditions`", None);
                    return None;
                };
                (list, map.get_node("check_interval"), map.get_node("once"))
            }
            Node::Scalar(_) => {
                self.error(
                    node,
                    "`preconditions` is a list of conditions",
                    Some("for example `- {when: data.ready, else: wait}`".into()),
                );
                return None;
            }
        };
        let check_interval = match interval {
            Some(n) => self.duration(n, "preconditions.check_interval")?,
            None => Duration::from_secs(60),
        };
        let once = match once {
            Some(n) => self.boolean(n, "preconditions.once")?,
            None => false,
        };
        let Some(items) = list.as_sequence() else {
            self.error(list, "`conditions` is a list", None);
            return None;
        };
        let mut conditions = Vec::new();
        for item in items.iter() {
            let Some(map) = item.as_mapping() else {
                self.error(
                    item,
                    "a precondition is `{when: EXPRESSION, else: ACTION}`",
                    None,
                );
                continue;
            };
            if !self.keys_known(map, &["when", "else"], "a precondition") {
                continue;
            }
            let Some(when) = map.get_node("when") else {
                self.error(item, "a precondition needs `when`", None);
                continue;
            };
            let when = self.expr(when, "preconditions.when");
            let otherwise = match map.get_node("else") {
                Some(n) => self.action(
                    n,
                    "preconditions.else",
                    &["wait", "skip", "block", "abort", "run"],
                ),
                None => Some(Action::Wait),
            };
            if let (Some(when), Some(otherwise)) = (when, otherwise) {
                conditions.push(Condition { when, otherwise });
            }
        }
        Some(Preconditions {
            check_interval,
            conditions,
            once,
        })
    }

    fn prompts(&mut self, node: &Node) -> Option<Vec<Prompt>> {
        let Some(items) = node.as_sequence() else {
            self.error(
                node,
                "`prompts` is a list",
                Some("for example `- {name: batch_date, label: Which day?}`".into()),
            );
            return None;
        };
        let mut prompts = Vec::new();
        for item in items.iter() {
            let Some(map) = item.as_mapping() else {
                self.error(item, "a prompt is `{name: VARIABLE, label: TEXT}`", None);
                continue;
            };
            if !self.keys_known(map, &["name", "label", "required", "choices"], "a prompt") {
                continue;
            }
            let Some(name_node) = map.get_node("name") else {
                self.error(
                    item,
                    "a prompt needs `name`, the process data variable it fills",
                    None,
                );
                continue;
            };
            let name = scalar(name_node).unwrap_or_default().to_owned();
            let Some(decl) = self.data.get(&name) else {
                self.error(
                    name_node,
                    format!("prompt `{name}` is not declared under `data`"),
                    Some("declare the variable; its type is the prompt's type".into()),
                );
                continue;
            };
            let required = match map.get_node("required") {
                Some(n) => self.boolean(n, "required").unwrap_or(true),
                None => true,
            };
            let choices: Vec<serde_json::Value> = match map.get_node("choices") {
                Some(Node::Sequence(items)) => items.iter().map(super::node_to_json).collect(),
                Some(other) => {
                    self.error(other, "`choices` is a list of values", None);
                    continue;
                }
                None => Vec::new(),
            };
            if let Some(bad) = choices.iter().find(|v| !decl.ty.admits(v)) {
                self.error(
                    item,
                    format!("choice {bad} is not a {} like `{name}`", decl.ty.name()),
                    None,
                );
                continue;
            }
            let label = map.get_node("label").and_then(scalar).map(str::to_owned);
            prompts.push(Prompt {
                name,
                label,
                required,
                choices,
            });
        }
        Some(prompts)
    }

    fn postconditions(&mut self, node: &Node) -> Option<Vec<Postcondition>> {
        let Some(items) = node.as_sequence() else {
            self.error(
                node,
                "`postconditions` is a list",
                Some(
                    "for example `- {if: \"task.status == 'ended_not_ok'\", then: restart}`".into(),
                ),
            );
            return None;
        };
        let allowed = [
            "restart", "abort", "run", "end", "block", "alert", "continue",
        ];
        let mut out = Vec::new();
        for item in items.iter() {
            let Some(map) = item.as_mapping() else {
                self.error(
                    item,
                    "a postcondition is `{if: EXPRESSION, then: ACTION, else: ACTION}`",
                    None,
                );
                continue;
            };
            if !self.keys_known(map, &["if", "then", "else"], "a postcondition") {
                continue;
            }
            let Some(when) = map.get_node("if") else {
                self.error(item, "a postcondition needs `if`", None);
                continue;
            };
            let when = self.expr(when, "postconditions.if");
            let then = match map.get_node("then") {
                Some(n) => self.action(n, "postconditions.then", &allowed),
                None => Some(Action::Continue),
            };
            let otherwise = match map.get_node("else") {
                Some(n) => self.action(n, "postconditions.else", &allowed),
                None => Some(Action::Continue),
            };
            if let (Some(when), Some(then), Some(otherwise)) = (when, then, otherwise) {
                out.push(Postcondition {
                    when,
                    then,
                    otherwise,
                });
            }
        }
        Some(out)
    }
}
