//! Named calendars (Automic's *Calendar Events*): the days on which a task may run.
//!
//! A task with a calendar condition runs only on days that are in its calendar(s); on any
//! other day it ends `ended_inactive` without running. A calendar is a deployable resource
//! of its own, written in YAML (or JSON):
//!
//! ```yaml
//! calendar: business-days        # the id; `calendar:` at the top marks the file as a calendar
//! description: Working days in the Berlin office   # optional
//! timezone: Europe/Berlin        # an IANA time zone name; UTC when omitted
//! include:                       # a day is in the calendar when any include rule matches it;
//!   - weekdays: [mon, tue, wed, thu, fri]   # without `include`, every day is included
//! exclude:                       # …and no exclude rule does: exclusions win
//!   - dates: [2026-12-24, 2026-12-25, 2026-12-26]
//!   - from: 2026-08-01           # a range of days, both ends included
//!     to: 2026-08-15
//!   - cron: "0 0 1 1 *"          # new year's day
//! ```
//!
//! Each entry of `include` and `exclude` is one rule of one kind:
//!
//! | rule | matches |
//! | --- | --- |
//! | `dates: [2026-12-24, …]` | these dates (`YYYY-MM-DD`) |
//! | `from: 2026-08-01` and/or `to: 2026-08-15` | the days from `from` to `to`, both included; a missing end is open |
//! | `weekdays: [mon, …]` | these days of the week (`mon`…`sun` or `monday`…`sunday`) |
//! | `days_of_month: [1, 15, -1]` | these days of every month; `-1` is the last day, `-2` the one before; a day a month lacks (31 in April) does not match in it |
//! | `cron: "0 0 L * *"` | the days on which the cron expression has an occurrence (below) |
//! | `calendar: other` | the days of the calendar `other` |
//!
//! `dates`, `weekdays` and `days_of_month` also accept a single value instead of a list.
//!
//! **Cron rules** are parsed by the `croner` crate: five fields (minute, hour, day of month,
//! month, day of week), or six with seconds first, or seven with a year last; names
//! (`JAN`, `MON`), `L` (last), `W` (nearest weekday), `#` (nth weekday, `5#1` is the first
//! Friday) and nicknames such as `@yearly` work. As in Vixie cron, when both the day-of-month
//! and the day-of-week fields are restricted a day matches either (prefix the day of week
//! with `+` to need both). A day matches a cron rule when the expression has any occurrence
//! within that local day, read on the wall clock: since the hour, minute and second fields
//! always allow some time of day, that is exactly when the day-of-month, month, day-of-week
//! and year fields match the date. The time fields therefore do not matter, and a day counts
//! even when the time the expression names falls into a daylight saving gap on that day.
//!
//! **Time zones.** Rules are about local dates. [`Calendar::contains`] turns an instant into
//! the local date in the calendar's zone first (23:30 UTC on a Sunday is already Monday in
//! Tokyo); [`Calendar::contains_day`] takes the date itself. A referenced calendar
//! contributes its days as dates: its own time zone plays no part.
//!
//! **References** (`calendar: other`) are resolved through a lookup the caller passes in, at
//! the time a day is checked, so that a redeployed calendar takes effect everywhere. A
//! reference to a calendar the lookup does not know, or calendars that refer to each other
//! in a cycle, are a [`CalendarError`]; the whole reference graph is checked on each call,
//! so the answer does not depend on the day asked about. [`Calendar::check_references`]
//! does only that check, for deploy.
//!
//! Everything here is pure: no I/O and no clock; instants come in as arguments.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use marked_yaml::{Node, Span};

use crate::definition::{DefinitionError, Diagnostic};

/// Finds a deployed calendar by id; `None` when there is none.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<Arc<Calendar>>;

/// A named set of days in a time zone.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub id: String,
    pub description: Option<String>,
    /// The zone in which instants are turned into days, and "today 22:00" is read.
    pub timezone: Tz,
    /// Empty: every day is included.
    include: Vec<Rule>,
    exclude: Vec<Rule>,
    /// Where each reference (`calendar: other`) is written, as `(line, column)`, in the order
    /// of [`Calendar::references`]; empty for a calendar not read from a file.
    reference_positions: Vec<(usize, usize)>,
}

/// One rule of a calendar; see the module documentation for the YAML form of each.
#[derive(Debug, Clone)]
pub enum Rule {
    /// These dates.
    Dates(Vec<NaiveDate>),
    /// The days from `from` to `to`, both included; a missing end is open.
    Range {
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    },
    /// These days of the week.
    Weekdays(Vec<Weekday>),
    /// These days of every month: 1 to 31 from the start, -1 to -31 from the end
    /// (-1 is the last day).
    DaysOfMonth(Vec<i8>),
    /// The days on which a cron expression has an occurrence.
    Cron(CronRule),
    /// The days of another calendar, by id.
    Calendar(String),
}

/// A cron expression used as a day rule.
#[derive(Debug, Clone)]
pub struct CronRule {
    source: String,
    cron: Box<croner::Cron>,
}

/// Walks the references of `calendar` (the last id of `path`), depth first.
fn visit_references(
    calendar: &Calendar,
    others: Lookup,
    path: &mut Vec<String>,
    done: &mut HashSet<String>,
) -> Result<(), CalendarError> {
    for next in calendar.references() {
        if let Some(at) = path.iter().position(|p| p == next) {
            let mut cycle = path[at..].to_vec();
            cycle.push(next.to_owned());
            return Err(CalendarError::Cycle(cycle));
        }
        if done.contains(next) {
            continue;
        }
        let other = others(next).ok_or_else(|| CalendarError::Unknown {
            calendar: next.to_owned(),
            referenced_by: calendar.id.clone(),
        })?;
        path.push(next.to_owned());
        visit_references(&other, others, path, done)?;
        path.pop();
        done.insert(next.to_owned());
    }
    Ok(())
}

/// Why a calendar's references cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// `referenced_by` names `calendar`, which the lookup does not know.
    #[error("calendar `{referenced_by}` refers to calendar `{calendar}`, which is not deployed")]
    Unknown {
        calendar: String,
        referenced_by: String,
    },
    /// Calendars that refer to each other; the first id is repeated at the end.
    #[error("calendars refer to each other in a cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
}

impl Calendar {
    /// A calendar from rules; an empty `include` includes every day.
    pub fn new(
        id: impl Into<String>,
        timezone: Tz,
        include: Vec<Rule>,
        exclude: Vec<Rule>,
    ) -> Self {
        Self {
            id: id.into(),
            description: None,
            timezone,
            include,
            exclude,
            reference_positions: Vec::new(),
        }
    }

    /// The include rules; empty means every day.
    pub fn include(&self) -> &[Rule] {
        &self.include
    }

    /// The exclude rules; they win over the include rules.
    pub fn exclude(&self) -> &[Rule] {
        &self.exclude
    }

    /// The ids of the calendars this one refers to directly, in order of appearance.
    pub fn references(&self) -> impl Iterator<Item = &str> {
        self.include
            .iter()
            .chain(&self.exclude)
            .filter_map(|r| match r {
                Rule::Calendar(id) => Some(id.as_str()),
                _ => None,
            })
    }

    /// Checks that every calendar reachable through references is known and that no
    /// references form a cycle.
    pub fn check_references(&self, others: Lookup) -> Result<(), CalendarError> {
        visit_references(
            self,
            others,
            &mut vec![self.id.clone()],
            &mut HashSet::new(),
        )
    }

    /// [`Calendar::check_references`] for deploy: a problem is reported in `file` (the file this
    /// calendar was read from) at the reference that leads to it.
    pub fn check_references_in_file(
        &self,
        file: &str,
        others: Lookup,
    ) -> Result<(), DefinitionError> {
        let mut done = HashSet::new();
        for (n, next) in self.references().enumerate() {
            let mut path = vec![self.id.clone()];
            let checked = match others(next) {
                // A reference to itself is refused when the file is read.
                None => Err(CalendarError::Unknown {
                    calendar: next.to_owned(),
                    referenced_by: self.id.clone(),
                }),
                Some(other) => {
                    path.push(next.to_owned());
                    visit_references(&other, others, &mut path, &mut done)
                }
            };
            if let Err(e) = checked {
                let (line, column) = self.reference_positions.get(n).copied().unwrap_or((1, 1));
                let hint = match &e {
                    CalendarError::Unknown { calendar, .. } => {
                        format!("deploy calendar `{calendar}` first, or in the same `baton deploy`")
                    }
                    CalendarError::Cycle(_) => {
                        "a calendar's days cannot depend on themselves".to_owned()
                    }
                };
                return Err(DefinitionError {
                    file: file.to_owned(),
                    diagnostics: vec![Diagnostic {
                        line,
                        column,
                        message: e.to_string(),
                        hint: Some(hint),
                    }],
                });
            }
        }
        Ok(())
    }

    /// Is `day` (a date in this calendar's zone) in the calendar?
    pub fn contains_day(&self, day: NaiveDate, others: Lookup) -> Result<bool, CalendarError> {
        self.check_references(others)?;
        self.eval(day, others, &mut vec![self.id.clone()])
    }

    /// Is the local day of `at`, in this calendar's zone, in the calendar?
    pub fn contains(&self, at: DateTime<Utc>, others: Lookup) -> Result<bool, CalendarError> {
        self.contains_day(self.local_date(at), others)
    }

    /// The date that `at` falls on in this calendar's zone.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.timezone).date_naive()
    }

    /// The instant of wall-clock time `time` on the local day of `at` in this calendar's zone:
    /// "today 22:00" for an earliest start time. It may lie before `at`.
    ///
    /// Daylight saving: a time that occurs twice (the hour the clocks go back) is its first
    /// occurrence; a time that does not occur (the hour the clocks skip) is moved forward by
    /// the length of the gap, so 02:30 on the day Berlin goes from 02:00 to 03:00 is 03:30.
    pub fn local_time_today(&self, at: DateTime<Utc>, time: NaiveTime) -> DateTime<Utc> {
        local_instant(self.timezone, self.local_date(at).and_time(time))
    }

    fn eval(
        &self,
        day: NaiveDate,
        others: Lookup,
        stack: &mut Vec<String>,
    ) -> Result<bool, CalendarError> {
        let mut included = self.include.is_empty();
        for rule in &self.include {
            if self.rule_matches(rule, day, others, stack)? {
                included = true;
                break;
            }
        }
        if !included {
            return Ok(false);
        }
        for rule in &self.exclude {
            if self.rule_matches(rule, day, others, stack)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn rule_matches(
        &self,
        rule: &Rule,
        day: NaiveDate,
        others: Lookup,
        stack: &mut Vec<String>,
    ) -> Result<bool, CalendarError> {
        let Rule::Calendar(id) = rule else {
            return Ok(rule.matches_date(day));
        };
        // check_references has ruled out cycles; this guards against a lookup that changes
        // its answers between the check and the evaluation.
        if let Some(at) = stack.iter().position(|s| s == id) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(id.clone());
            return Err(CalendarError::Cycle(cycle));
        }
        let other = others(id).ok_or_else(|| CalendarError::Unknown {
            calendar: id.clone(),
            referenced_by: self.id.clone(),
        })?;
        stack.push(id.clone());
        let found = other.eval(day, others, stack);
        stack.pop();
        found
    }
}

/// The instant of a local wall-clock time in `zone`, with the daylight saving rules of
/// [`Calendar::local_time_today`].
fn local_instant(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // In a gap: read the time with the offset in force just before the gap, which
            // moves it forward by the gap's length. Gaps are short; step back to find it.
            let before = (1..=48 * 60)
                .map(|minutes| local - Duration::minutes(minutes))
                .find_map(|earlier| zone.from_local_datetime(&earlier).latest())
                .map_or(0, |t| t.offset().fix().local_minus_utc());
            (local - Duration::seconds(i64::from(before))).and_utc()
        }
    }
}

impl Rule {
    /// Does this rule match `day`? A calendar reference matches nothing here: it needs
    /// the lookup, see [`Calendar::contains_day`].
    pub fn matches_date(&self, day: NaiveDate) -> bool {
        match self {
            Rule::Dates(dates) => dates.contains(&day),
            Rule::Range { from, to } => {
                from.is_none_or(|f| f <= day) && to.is_none_or(|t| day <= t)
            }
            Rule::Weekdays(days) => days.contains(&day.weekday()),
            Rule::DaysOfMonth(days) => {
                let last = days_in_month(day);
                days.iter().any(|&d| {
                    let d = i32::from(d);
                    let wanted = if d < 0 { last as i32 + 1 + d } else { d };
                    wanted == day.day() as i32
                })
            }
            Rule::Cron(cron) => cron.matches_day(day),
            Rule::Calendar(_) => false,
        }
    }
}

fn days_in_month(day: NaiveDate) -> u32 {
    let first_of_next = if day.month() == 12 {
        NaiveDate::from_ymd_opt(day.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(day.year(), day.month() + 1, 1)
    };
    first_of_next
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day())
}

impl CronRule {
    /// Parses a cron expression; the error is croner's message.
    pub fn parse(source: &str) -> Result<Self, String> {
        let cron = croner::Cron::from_str(source).map_err(|e| e.to_string())?;
        Ok(Self {
            source: source.to_owned(),
            cron: Box::new(cron),
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Does the expression have an occurrence on `day` (wall-clock)? That is when its
    /// day-of-month, month, day-of-week and year fields match: the time fields always
    /// allow some time of day.
    pub fn matches_day(&self, day: NaiveDate) -> bool {
        let pattern = &self.cron.pattern;
        let weekday = croner::Weekday::from_days_from_sunday(day.weekday().num_days_from_sunday());
        pattern.year_match(day.year()).unwrap_or(false)
            && pattern.month_match(day.month()).unwrap_or(false)
            && pattern
                .day_match(day.year(), day.month(), day.day(), weekday)
                .unwrap_or(false)
    }
}

// ---------------------------------------------------------------------------------------
// Parsing

const TOP_FIELDS: &[&str] = &["calendar", "description", "timezone", "include", "exclude"];
const RULE_FIELDS: &[&str] = &[
    "dates",
    "from",
    "to",
    "weekdays",
    "days_of_month",
    "cron",
    "calendar",
];
const WEEKDAYS: &[(&str, &str, Weekday)] = &[
    ("mon", "monday", Weekday::Mon),
    ("tue", "tuesday", Weekday::Tue),
    ("wed", "wednesday", Weekday::Wed),
    ("thu", "thursday", Weekday::Thu),
    ("fri", "friday", Weekday::Fri),
    ("sat", "saturday", Weekday::Sat),
    ("sun", "sunday", Weekday::Sun),
];

/// Does `source` look like a calendar resource, that is a mapping whose keys include
/// `calendar`? Deploy uses this to tell calendar files from process definitions; a file
/// that is not valid YAML is not a calendar (the definition parser reports its errors).
pub fn is_calendar_source(source: &str) -> bool {
    if crate::definition::document::check("", source).is_err() {
        return false; // the definition parser reports the problem
    }
    marked_yaml::parse_yaml(0, source)
        .ok()
        .and_then(|root| root.as_mapping().map(|m| m.get_node("calendar").is_some()))
        .unwrap_or(false)
}

/// Parses and validates a calendar resource file. `file` is used in messages only.
pub fn parse_calendar(file: &str, source: &str) -> Result<Calendar, DefinitionError> {
    crate::definition::document::check(file, source)?;
    let mut diags = Vec::new();
    let calendar =
        load(source, &mut diags).and_then(|root| parse_calendar_node(&root, None, &mut diags));
    match calendar {
        Some(c) if diags.is_empty() => Ok(c),
        _ => {
            crate::definition::document::keep_inside(source, &mut diags);
            diags.sort_by_key(|d| (d.line, d.column));
            Err(DefinitionError {
                file: file.to_owned(),
                diagnostics: diags,
            })
        }
    }
}

/// Parses one calendar from a YAML mapping, adding every problem to `diags`.
///
/// With `id: None` the mapping names the calendar itself (`calendar: ID`), as a calendar
/// file does; with `Some(id)` the id comes from the surrounding document (for example the
/// key under a process definition's `calendars:`) and the mapping has no `calendar` key.
/// Returns `None` when there was a problem.
pub(crate) fn parse_calendar_node(
    node: &Node,
    id: Option<&str>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Calendar> {
    let before = diags.len();
    let Some(map) = node.as_mapping() else {
        error(
            diags,
            at(node),
            "a calendar must be a mapping with `calendar`, `timezone`, `include` and `exclude`",
            Some("see the calendar example in the documentation".into()),
        );
        return None;
    };
    let fields: Vec<&str> = TOP_FIELDS
        .iter()
        .copied()
        .filter(|f| id.is_none() || *f != "calendar")
        .collect();
    for key in map.keys() {
        if !fields.contains(&key.as_str()) {
            unknown_field(diags, key.span(), key.as_str(), &fields);
        }
    }

    let id = match id {
        Some(id) => id.to_owned(),
        None => match map.get_node("calendar") {
            None => {
                error(
                    diags,
                    at(node),
                    "a calendar needs an id: `calendar: ID`",
                    Some("for example `calendar: business-days`".into()),
                );
                String::new()
            }
            Some(n) => scalar(diags, n, "the calendar id `calendar`").map(|s| {
                check_calendar_id(diags, n.span(), s);
                s.to_owned()
            })?,
        },
    };

    let description = map
        .get_node("description")
        .and_then(|n| scalar(diags, n, "`description`"))
        .map(str::to_owned);
    let timezone = match map.get_node("timezone") {
        None => Some(Tz::UTC),
        Some(n) => {
            scalar(diags, n, "`timezone`").and_then(|name| parse_timezone(diags, n.span(), name))
        }
    };
    let include = match map.get_node("include") {
        None => Some(Vec::new()),
        Some(n) => parse_rules(diags, n, "include", &id),
    };
    let exclude = match map.get_node("exclude") {
        None => Some(Vec::new()),
        Some(n) => parse_rules(diags, n, "exclude", &id),
    };
    if diags.len() != before {
        return None;
    }
    // Where each `calendar: other` rule is written, include first (as `references` lists them).
    let reference_positions = ["include", "exclude"]
        .iter()
        .filter_map(|field| map.get_sequence(field))
        .flat_map(|rules| rules.iter())
        .filter_map(|rule| rule.as_mapping().and_then(|m| m.get_node("calendar")))
        .map(|n| n.span().start().map_or((1, 1), |m| (m.line(), m.column())))
        .collect();
    Some(Calendar {
        id,
        description,
        timezone: timezone?,
        include: include?,
        exclude: exclude?,
        reference_positions,
    })
}

/// Calendar ids follow the rules of process and task ids ([`crate::definition::check_id`]):
/// tasks, history and `baton` commands name them. Reports a bad one; returns whether it is good.
fn check_calendar_id(diags: &mut Vec<Diagnostic>, span: &Span, id: &str) -> bool {
    match crate::definition::check_id("calendar", id) {
        Ok(()) => true,
        Err((message, hint)) => {
            error(diags, span, message, Some(hint));
            false
        }
    }
}

fn parse_timezone(diags: &mut Vec<Diagnostic>, span: &Span, name: &str) -> Option<Tz> {
    if let Ok(tz) = Tz::from_str(name) {
        return Some(tz);
    }
    let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    let hint = names
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name))
        .map(|n| format!("did you mean `{n}`?"))
        .or_else(|| did_you_mean(name, &names))
        .unwrap_or_else(|| {
            "use an IANA time zone name such as `Europe/Berlin`, `America/New_York` or `UTC`".into()
        });
    error(
        diags,
        span,
        format!("unknown time zone `{name}`"),
        Some(hint),
    );
    None
}

fn parse_rules(
    diags: &mut Vec<Diagnostic>,
    node: &Node,
    field: &str,
    own_id: &str,
) -> Option<Vec<Rule>> {
    let Some(items) = node.as_sequence() else {
        error(
            diags,
            at(node),
            format!("`{field}` must be a list of rules"),
            Some(format!("for example `{field}: [{{weekdays: [mon, fri]}}]`")),
        );
        return None;
    };
    if items.is_empty() && field == "include" {
        error(
            diags,
            at(node),
            "an empty `include` list matches no day",
            Some("remove `include` to include every day".into()),
        );
        return None;
    }
    let rules: Vec<Option<Rule>> = items
        .iter()
        .map(|item| parse_rule(diags, item, own_id))
        .collect();
    rules.into_iter().collect()
}

fn parse_rule(diags: &mut Vec<Diagnostic>, node: &Node, own_id: &str) -> Option<Rule> {
    let Some(map) = node.as_mapping() else {
        error(
            diags,
            at(node),
            "a rule must be a mapping such as `weekdays: [mon, fri]`",
            Some(format!("rules are `dates`, `from`/`to`, `weekdays`, `days_of_month`, `cron` or `calendar`; a date needs `- dates: [{}]`", node.as_scalar().map_or("2026-12-24", |s| s.as_str()))),
        );
        return None;
    };
    let mut unknown = false;
    for key in map.keys() {
        if !RULE_FIELDS.contains(&key.as_str()) {
            unknown_field(diags, key.span(), key.as_str(), RULE_FIELDS);
            unknown = true;
        }
    }
    // One kind per rule; `from` and `to` together are the range kind.
    let kinds: Vec<(&str, &marked_yaml::types::MarkedScalarNode)> = map
        .keys()
        .filter(|k| RULE_FIELDS.contains(&k.as_str()))
        .map(|k| {
            (
                if matches!(k.as_str(), "from" | "to") {
                    "from/to"
                } else {
                    k.as_str()
                },
                k,
            )
        })
        .collect();
    let Some(&(kind, _)) = kinds.first() else {
        if !unknown {
            error(diags, at(node), "this rule is empty", Some("give it one of `dates`, `from`/`to`, `weekdays`, `days_of_month`, `cron` or `calendar`".into()));
        }
        return None;
    };
    if let Some((other, key)) = kinds.iter().find(|(k, _)| *k != kind) {
        error(
            diags,
            key.span(),
            format!("a rule has one kind, but this one has both `{kind}` and `{other}`"),
            Some("write each as its own list entry, one `- ` per rule".into()),
        );
        return None;
    }
    if unknown {
        return None;
    }
    let value = |name: &str| map.get_node(name);
    match kind {
        "dates" => {
            let items = list_items(diags, value("dates")?, "dates")?;
            let dates: Vec<Option<NaiveDate>> = items
                .iter()
                .map(|n| scalar(diags, n, "a date").and_then(|s| parse_date(diags, n.span(), s)))
                .collect();
            Some(Rule::Dates(dates.into_iter().collect::<Option<_>>()?))
        }
        "from/to" => {
            let mut end = |name: &str| -> Option<Option<NaiveDate>> {
                match value(name) {
                    None => Some(None),
                    Some(n) => scalar(diags, n, &format!("`{name}`"))
                        .and_then(|s| parse_date(diags, n.span(), s))
                        .map(Some),
                }
            };
            let (from, to) = (end("from"), end("to"));
            let (from, to) = (from?, to?);
            if let (Some(f), Some(t)) = (from, to) {
                if t < f {
                    error(
                        diags,
                        value("to")?.span(),
                        format!("the range ends on {t}, before it starts on {f}"),
                        Some("swap `from` and `to`".into()),
                    );
                    return None;
                }
            }
            Some(Rule::Range { from, to })
        }
        "weekdays" => {
            let items = list_items(diags, value("weekdays")?, "weekdays")?;
            let days: Vec<Option<Weekday>> = items
                .iter()
                .map(|n| {
                    scalar(diags, n, "a weekday").and_then(|s| parse_weekday(diags, n.span(), s))
                })
                .collect();
            Some(Rule::Weekdays(days.into_iter().collect::<Option<_>>()?))
        }
        "days_of_month" => {
            let items = list_items(diags, value("days_of_month")?, "days_of_month")?;
            let days: Vec<Option<i8>> = items
                .iter()
                .map(|n| {
                    let text = scalar(diags, n, "a day of the month")?;
                    match text.trim().parse::<i8>() {
                        Ok(d) if (1..=31).contains(&d) || (-31..=-1).contains(&d) => Some(d),
                        _ => {
                            error(diags, n.span(), format!("`{text}` is not a day of the month"), Some("use 1 to 31, or count from the end: -1 is the last day, -2 the one before".into()));
                            None
                        }
                    }
                })
                .collect();
            Some(Rule::DaysOfMonth(days.into_iter().collect::<Option<_>>()?))
        }
        "cron" => {
            let n = value("cron")?;
            let text = scalar(diags, n, "`cron`")?;
            match CronRule::parse(text) {
                Ok(rule) => Some(Rule::Cron(rule)),
                Err(e) => {
                    error(
                        diags,
                        n.span(),
                        format!("`{text}` is not a cron expression: {e}"),
                        Some("write minute, hour, day of month, month and day of week, for example `0 0 1 1 *` for January 1st".into()),
                    );
                    None
                }
            }
        }
        _ => {
            let n = value("calendar")?;
            let other = scalar(diags, n, "`calendar`")?;
            if other == own_id {
                error(
                    diags,
                    n.span(),
                    format!("calendar `{own_id}` cannot refer to itself"),
                    None,
                );
                return None;
            }
            if !check_calendar_id(diags, n.span(), other) {
                return None;
            }
            Some(Rule::Calendar(other.to_owned()))
        }
    }
}

/// The values of a field that takes one value or a list of them.
fn list_items<'n>(
    diags: &mut Vec<Diagnostic>,
    node: &'n Node,
    field: &str,
) -> Option<Vec<&'n Node>> {
    match node {
        Node::Scalar(_) => Some(vec![node]),
        Node::Sequence(items) if items.is_empty() => {
            error(
                diags,
                at(node),
                format!("`{field}` is empty, so the rule matches no day"),
                Some("list at least one value or remove the rule".into()),
            );
            None
        }
        Node::Sequence(items) => Some(items.iter().collect()),
        Node::Mapping(_) => {
            error(
                diags,
                at(node),
                format!("`{field}` must be a value or a list of values"),
                None,
            );
            None
        }
    }
}

fn parse_date(diags: &mut Vec<Diagnostic>, span: &Span, text: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = text.split('-').collect();
    let shaped = matches!(parts.as_slice(), [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2)
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if !shaped {
        error(
            diags,
            span,
            format!("`{text}` is not a date"),
            Some("write dates as YYYY-MM-DD, for example 2026-12-24".into()),
        );
        return None;
    }
    let number = |i: usize| parts[i].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (number(0) as i32, number(1), number(2));
    if let Some(date) = NaiveDate::from_ymd_opt(year, month, day) {
        return Some(date);
    }
    let hint = match NaiveDate::from_ymd_opt(year, month, 1) {
        Some(first) => format!(
            "{} {year} has {} days",
            first.format("%B"),
            days_in_month(first)
        ),
        None => "the month must be 01 to 12".into(),
    };
    error(
        diags,
        span,
        format!("`{text}` is not a date: there is no such day"),
        Some(hint),
    );
    None
}

fn parse_weekday(diags: &mut Vec<Diagnostic>, span: &Span, text: &str) -> Option<Weekday> {
    let lower = text.trim().to_ascii_lowercase();
    if let Some((_, _, day)) = WEEKDAYS
        .iter()
        .find(|(short, long, _)| *short == lower || *long == lower)
    {
        return Some(*day);
    }
    let names: Vec<&str> = WEEKDAYS.iter().flat_map(|(s, l, _)| [*s, *l]).collect();
    let hint = did_you_mean(&lower, &names)
        .unwrap_or_else(|| "use mon, tue, wed, thu, fri, sat or sun".into());
    error(
        diags,
        span,
        format!("`{text}` is not a day of the week"),
        Some(hint),
    );
    None
}

/// The text of a scalar node; anything else is reported as not being `what`.
fn scalar<'n>(diags: &mut Vec<Diagnostic>, node: &'n Node, what: &str) -> Option<&'n str> {
    match node.as_scalar() {
        Some(s) => Some(s.as_str()),
        None => {
            error(
                diags,
                at(node),
                format!(
                    "expected {what} here, not a {}",
                    if node.as_sequence().is_some() {
                        "list"
                    } else {
                        "mapping"
                    }
                ),
                None,
            );
            None
        }
    }
}

fn unknown_field(diags: &mut Vec<Diagnostic>, span: &Span, name: &str, accepted: &[&str]) {
    let hint = did_you_mean(name, accepted).unwrap_or_else(|| {
        format!(
            "the fields here are {}",
            accepted
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    error(diags, span, format!("unknown field `{name}`"), Some(hint));
}

/// Where to report a problem with `node`: a block mapping's own span starts at its first
/// colon, so a mapping is placed at its first key.
fn at(node: &Node) -> &Span {
    match node.as_mapping().and_then(|m| m.keys().next()) {
        Some(key) => key.span(),
        None => node.span(),
    }
}

fn error(
    diags: &mut Vec<Diagnostic>,
    span: &Span,
    message: impl Into<String>,
    hint: Option<String>,
) {
    let (line, column) = span.start().map_or((1, 1), |m| (m.line(), m.column()));
    diags.push(Diagnostic {
        line,
        column,
        message: message.into(),
        hint,
    });
}

fn did_you_mean(name: &str, candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .map(|c| {
            (
                strsim::levenshtein(&name.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, _)| *d <= 2.max(name.len() / 3))
        .min()
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// Loads the YAML, reporting syntax errors and duplicate keys.
fn load(source: &str, diags: &mut Vec<Diagnostic>) -> Option<Node> {
    use marked_yaml::LoadError as E;
    let options = marked_yaml::LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .prevent_coercion(true);
    let e = match marked_yaml::parse_yaml_with_options(0, source, options) {
        Ok(root) => return Some(root),
        Err(e) => e,
    };
    let (marker, message, hint) = match &e {
        E::DuplicateKey(k) => {
            let message = format!("the key `{}` appears twice in this mapping", k.key.as_str());
            error(
                diags,
                k.key.span(),
                message,
                Some("each key may appear once in a mapping; remove or rename one".into()),
            );
            return None;
        }
        E::TopLevelMustBeMapping(m) => (m, "the top level must be a mapping".to_owned(), None),
        E::TopLevelMustBeSequence(m) => (m, "the top level must be a sequence".to_owned(), None),
        E::UnexpectedAnchor(m) => (
            m,
            "YAML anchors are not supported in calendars".to_owned(),
            None,
        ),
        E::UnexpectedTag(m) => (
            m,
            "YAML tags are not supported in calendars".to_owned(),
            None,
        ),
        E::MappingKeyMustBeScalar(m) => (m, "mapping keys must be plain strings".to_owned(), None),
        E::ScanError(m, err) => (
            m,
            format!("YAML syntax error: {}", err.info()),
            Some("check the indentation and quoting around this place".to_owned()),
        ),
    };
    diags.push(Diagnostic {
        line: marker.line(),
        column: marker.column(),
        message,
        hint,
    });
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn cal(source: &str) -> Calendar {
        parse_calendar("cal.yaml", source).unwrap_or_else(|e| panic!("{e}"))
    }

    fn none(_: &str) -> Option<Arc<Calendar>> {
        None
    }

    fn has(calendar: &Calendar, day: &str) -> bool {
        calendar.contains_day(date(day), &none).unwrap()
    }

    /// The single diagnostic of a file that must not parse: (line, column, message, hint).
    fn error_of(source: &str) -> (usize, usize, String, String) {
        let e = parse_calendar("cal.yaml", source).expect_err("should not parse");
        assert_eq!(e.diagnostics.len(), 1, "{e}");
        let d = &e.diagnostics[0];
        (
            d.line,
            d.column,
            d.message.clone(),
            d.hint.clone().unwrap_or_default(),
        )
    }

    const EXAMPLE: &str = "\
calendar: business-days        # the id
timezone: Europe/Berlin
include:
  - weekdays: [mon, tue, wed, thu, fri]
exclude:
  - dates: [2026-12-24, 2026-12-25, 2026-12-26]
  - from: 2026-08-01
    to: 2026-08-15
  - cron: \"0 0 1 1 *\"          # new year's day
";

    #[test]
    fn the_documented_example_parses() {
        let c = cal(EXAMPLE);
        assert_eq!(c.id, "business-days");
        assert_eq!(c.timezone, chrono_tz::Europe::Berlin);
        assert_eq!(c.include().len(), 1);
        assert_eq!(c.exclude().len(), 3);
        assert!(has(&c, "2026-12-23")); // Wednesday
        assert!(!has(&c, "2026-12-24")); // Thursday, but a holiday
        assert!(!has(&c, "2026-08-03")); // Monday in the summer break
        assert!(!has(&c, "2026-08-15"));
        assert!(has(&c, "2026-08-17")); // Monday after it
        assert!(!has(&c, "2027-01-01")); // Friday, new year's day
        assert!(has(&c, "2027-01-04"));
        assert!(!has(&c, "2027-01-02")); // Saturday
    }

    #[test]
    fn weekdays() {
        let c = cal("calendar: w\ninclude:\n  - weekdays: [mon, Wednesday, FRI]\n");
        // 2026-03-02 is a Monday.
        let week: Vec<bool> = (2..=8)
            .map(|d| has(&c, &format!("2026-03-{d:02}")))
            .collect();
        assert_eq!(week, [true, false, true, false, true, false, false]);
        let single = cal("calendar: s\ninclude: [{weekdays: sun}]\n");
        assert!(has(&single, "2026-03-08"));
        assert!(!has(&single, "2026-03-07"));
    }

    #[test]
    fn without_include_every_day_is_in_the_calendar() {
        let c = cal("calendar: all\nexclude: [{dates: 2026-05-01}]\n");
        assert!(has(&c, "2026-04-30"));
        assert!(!has(&c, "2026-05-01"));
        assert_eq!(c.timezone, Tz::UTC);
    }

    #[test]
    fn exclusions_win_over_inclusions() {
        let c = cal("calendar: x\ninclude:\n  - dates: [2026-12-24, 2026-12-31]\nexclude:\n  - dates: [2026-12-24]\n");
        assert!(!has(&c, "2026-12-24"));
        assert!(has(&c, "2026-12-31"));
        let range = cal("calendar: r\ninclude: [{from: 2026-01-01, to: 2026-01-31}]\nexclude: [{weekdays: [sat, sun]}]\n");
        assert!(has(&range, "2026-01-02")); // Friday
        assert!(!has(&range, "2026-01-03")); // Saturday
        assert!(!has(&range, "2026-02-02"));
    }

    #[test]
    fn ranges_may_be_open_at_either_end() {
        let from = cal("calendar: f\ninclude: [{from: 2026-06-01}]\n");
        assert!(!has(&from, "2026-05-31"));
        assert!(has(&from, "2030-01-01"));
        let to = cal("calendar: t\ninclude: [{to: 2026-06-01}]\n");
        assert!(has(&to, "2026-06-01"));
        assert!(!has(&to, "2026-06-02"));
    }

    #[test]
    fn last_day_of_month() {
        let c = cal("calendar: ultimo\ninclude:\n  - days_of_month: [-1]\n");
        for day in [
            "2026-01-31",
            "2026-02-28",
            "2028-02-29",
            "2026-04-30",
            "2026-12-31",
        ] {
            assert!(has(&c, day), "{day}");
        }
        for day in ["2026-01-30", "2028-02-28", "2026-04-29"] {
            assert!(!has(&c, day), "{day}");
        }
        let c = cal("calendar: m\ninclude: [{days_of_month: [1, 15, 31, -2]}]\n");
        assert!(has(&c, "2026-04-01"));
        assert!(has(&c, "2026-04-15"));
        assert!(has(&c, "2026-04-29")); // second to last
        assert!(!has(&c, "2026-04-30")); // April has no 31st, and 31 does not spill over
        assert!(has(&c, "2026-05-31"));
    }

    #[test]
    fn cron_day_rules() {
        let rule = |s: &str| CronRule::parse(s).unwrap();
        let new_year = rule("0 0 1 1 *");
        assert!(new_year.matches_day(date("2027-01-01")));
        assert!(!new_year.matches_day(date("2027-01-02")));
        // The time fields do not matter: any occurrence during the day counts.
        assert!(rule("59 23 * * 1-5").matches_day(date("2026-03-06"))); // Friday
        assert!(!rule("59 23 * * 1-5").matches_day(date("2026-03-07")));
        assert!(rule("0 0 L * *").matches_day(date("2026-02-28")));
        assert!(rule("0 0 * * FRI#1").matches_day(date("2026-03-06")));
        assert!(!rule("0 0 * * FRI#1").matches_day(date("2026-03-13")));
        assert!(rule("@yearly").matches_day(date("2026-01-01")));
        // Vixie cron: day of month OR day of week, unless `+` asks for both.
        assert!(rule("0 0 13 * FRI").matches_day(date("2026-03-06")));
        assert!(rule("0 0 13 * FRI").matches_day(date("2026-03-13")));
        assert!(!rule("0 0 13 * +FRI").matches_day(date("2026-03-06")));
        assert!(rule("0 0 13 * +FRI").matches_day(date("2026-03-13")));
        // Seconds first, year last.
        assert!(rule("0 0 0 1 1 * 2027").matches_day(date("2027-01-01")));
        assert!(!rule("0 0 0 1 1 * 2027").matches_day(date("2028-01-01")));

        let c = cal("calendar: c\ninclude:\n  - cron: \"30 2 * * SUN\"\n");
        assert!(has(&c, "2026-03-29")); // 02:30 does not exist that day in Berlin; it is a wall-clock rule
        assert!(!has(&c, "2026-03-30"));
    }

    #[test]
    fn cron_day_rules_agree_with_an_occurrence_search_within_the_day() {
        let patterns = [
            "0 0 1 1 *",
            "15 10 * * 1-5",
            "0 0 L * *",
            "0 12 * * 5#2",
            "0 0 13 * 5",
            "0 0 15W * *",
            "0 6 * 2 SUN",
            "0 0 29 2 *",
        ];
        for pattern in patterns {
            let rule = CronRule::parse(pattern).unwrap();
            let mut day = date("2026-01-01");
            while day < date("2029-01-01") {
                let midnight = day.and_hms_opt(0, 0, 0).unwrap();
                let found = rule
                    .cron
                    .find_next_occurrence(&midnight, true)
                    .ok()
                    .is_some_and(|t| t.date() == day);
                assert_eq!(rule.matches_day(day), found, "{pattern} on {day}");
                day = day.succ_opt().unwrap();
            }
        }
    }

    #[test]
    fn time_zones_a_utc_instant_that_is_already_the_next_day_in_tokyo() {
        let source = |zone: &str| {
            format!("calendar: b\ntimezone: {zone}\ninclude: [{{weekdays: [mon, tue, wed, thu, fri]}}]\n")
        };
        let tokyo = cal(&source("Asia/Tokyo"));
        let utc_cal = cal(&source("UTC"));
        // Sunday 2026-01-04 16:00 UTC is Monday 01:00 in Tokyo.
        let at = utc("2026-01-04T16:00:00Z");
        assert_eq!(tokyo.local_date(at), date("2026-01-05"));
        assert!(tokyo.contains(at, &none).unwrap());
        assert!(!utc_cal.contains(at, &none).unwrap());
        // Friday 15:30 UTC is already Saturday in Tokyo.
        let friday = utc("2026-01-09T15:30:00Z");
        assert!(!tokyo.contains(friday, &none).unwrap());
        assert!(utc_cal.contains(friday, &none).unwrap());
    }

    #[test]
    fn local_time_today_across_dst_in_berlin() {
        let c = cal("calendar: b\ntimezone: Europe/Berlin\n");
        let at = |s: &str, hh: u32, mm: u32| {
            c.local_time_today(utc(s), NaiveTime::from_hms_opt(hh, mm, 0).unwrap())
        };
        // Winter (UTC+1) and summer (UTC+2).
        assert_eq!(
            at("2026-01-15T12:00:00Z", 22, 0),
            utc("2026-01-15T21:00:00Z")
        );
        assert_eq!(
            at("2026-07-01T12:00:00Z", 22, 0),
            utc("2026-07-01T20:00:00Z")
        );
        // "Today" is the Berlin day: 23:30 UTC on the 28th is already the 29th there.
        assert_eq!(
            at("2026-03-28T23:30:00Z", 22, 0),
            utc("2026-03-29T20:00:00Z")
        );
        // 2026-03-29: clocks go from 02:00 to 03:00.
        assert_eq!(
            at("2026-03-29T10:00:00Z", 1, 30),
            utc("2026-03-29T00:30:00Z")
        );
        assert_eq!(
            at("2026-03-29T10:00:00Z", 2, 30),
            utc("2026-03-29T01:30:00Z")
        ); // the gap: 03:30 CEST
        assert_eq!(
            at("2026-03-29T10:00:00Z", 3, 0),
            utc("2026-03-29T01:00:00Z")
        );
        assert_eq!(
            at("2026-03-29T10:00:00Z", 22, 0),
            utc("2026-03-29T20:00:00Z")
        );
        // 2026-10-25: clocks go from 03:00 back to 02:00; 02:30 happens twice, the first counts.
        assert_eq!(
            at("2026-10-25T10:00:00Z", 2, 30),
            utc("2026-10-25T00:30:00Z")
        );
        assert_eq!(
            at("2026-10-25T10:00:00Z", 22, 0),
            utc("2026-10-25T21:00:00Z")
        );
        // It may lie before `at`: the caller decides what a passed start time means.
        assert_eq!(
            at("2026-01-15T22:00:00Z", 22, 0),
            utc("2026-01-15T21:00:00Z")
        );
    }

    fn lookup(calendars: &[&str]) -> impl Fn(&str) -> Option<Arc<Calendar>> {
        let map: HashMap<String, Arc<Calendar>> = calendars
            .iter()
            .map(|s| cal(s))
            .map(|c| (c.id.clone(), Arc::new(c)))
            .collect();
        move |id| map.get(id).cloned()
    }

    #[test]
    fn references_to_other_calendars() {
        let others = lookup(&[
            "calendar: holidays\ntimezone: Asia/Tokyo\ninclude: [{dates: [2026-12-24, 2026-12-25]}]\n",
            "calendar: weekdays\ninclude: [{weekdays: [mon, tue, wed, thu, fri]}]\n",
        ]);
        let c = cal("calendar: business\ninclude: [{calendar: weekdays}]\nexclude: [{calendar: holidays}]\n");
        assert_eq!(c.references().collect::<Vec<_>>(), ["weekdays", "holidays"]);
        assert!(c.contains_day(date("2026-12-23"), &others).unwrap());
        assert!(!c.contains_day(date("2026-12-24"), &others).unwrap()); // holiday, dates only: Tokyo's zone plays no part
        assert!(!c.contains_day(date("2026-12-26"), &others).unwrap()); // Saturday
        assert!(c.check_references(&others).is_ok());

        let missing = cal("calendar: m\ninclude: [{weekdays: mon}, {calendar: nowhere}]\n");
        let err = missing
            .contains_day(date("2026-03-02"), &others)
            .unwrap_err(); // even though `weekdays` already matched
        assert_eq!(
            err,
            CalendarError::Unknown {
                calendar: "nowhere".into(),
                referenced_by: "m".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "calendar `m` refers to calendar `nowhere`, which is not deployed"
        );
    }

    #[test]
    fn references_cycle_detection() {
        let others = lookup(&[
            "calendar: a\ninclude: [{calendar: b}]\n",
            "calendar: b\ninclude: [{weekdays: mon}]\nexclude: [{calendar: c}]\n",
            "calendar: c\ninclude: [{calendar: a}]\n",
            "calendar: d\ninclude: [{calendar: b}, {calendar: b}]\n",
        ]);
        let a = others("a").unwrap();
        let cycle = CalendarError::Cycle(vec!["a".into(), "b".into(), "c".into(), "a".into()]);
        // Reported on any day, not only on days where evaluation reaches the cycle.
        assert_eq!(
            a.contains_day(date("2026-03-03"), &others),
            Err(cycle.clone())
        );
        assert_eq!(
            a.contains_day(date("2026-03-02"), &others),
            Err(cycle.clone())
        );
        assert_eq!(a.check_references(&others), Err(cycle));
        assert_eq!(
            others("c")
                .unwrap()
                .check_references(&others)
                .unwrap_err()
                .to_string(),
            "calendars refer to each other in a cycle: c -> a -> b -> c"
        );
        // Two references to the same calendar are not a cycle.
        let diamond = cal("calendar: top\ninclude: [{calendar: x}, {calendar: y}]\n");
        let others = lookup(&[
            "calendar: x\ninclude: [{calendar: z}]\n",
            "calendar: y\ninclude: [{calendar: z}]\n",
            "calendar: z\ninclude: [{weekdays: tue}]\n",
        ]);
        assert_eq!(diamond.contains_day(date("2026-03-03"), &others), Ok(true));
        // A calendar that names itself is a deploy error.
        let (line, column, message, _) = error_of("calendar: me\ninclude:\n  - calendar: me\n");
        assert_eq!(
            (line, column, message.as_str()),
            (3, 15, "calendar `me` cannot refer to itself")
        );
    }

    #[test]
    fn error_unknown_time_zone() {
        let (line, column, message, hint) = error_of("calendar: b\ntimezone: Europe/Berln\n");
        assert_eq!((line, column), (2, 11));
        assert_eq!(message, "unknown time zone `Europe/Berln`");
        assert_eq!(hint, "did you mean `Europe/Berlin`?");
        let (_, _, _, hint) = error_of("calendar: b\ntimezone: europe/berlin\n");
        assert_eq!(hint, "did you mean `Europe/Berlin`?");
        let (_, _, _, hint) = error_of("calendar: b\ntimezone: Mars/Olympus_Mons_Base\n");
        assert!(hint.contains("IANA"), "{hint}");
    }

    #[test]
    fn error_bad_date() {
        let (line, column, message, hint) =
            error_of("calendar: b\nexclude:\n  - dates: [2026-12-24, 2026-02-30]\n");
        assert_eq!((line, column), (3, 25));
        assert_eq!(message, "`2026-02-30` is not a date: there is no such day");
        assert_eq!(hint, "February 2026 has 28 days");
        let (line, column, message, hint) =
            error_of("calendar: b\nexclude:\n  - from: 24.12.2026\n");
        assert_eq!((line, column), (3, 11));
        assert_eq!(message, "`24.12.2026` is not a date");
        assert!(hint.contains("YYYY-MM-DD"));
        let (line, column, message, _) =
            error_of("calendar: b\nexclude:\n  - from: 2026-08-15\n    to: 2026-08-01\n");
        assert_eq!((line, column), (4, 9));
        assert_eq!(
            message,
            "the range ends on 2026-08-01, before it starts on 2026-08-15"
        );
    }

    #[test]
    fn error_bad_weekday() {
        let (line, column, message, hint) =
            error_of("calendar: b\ninclude:\n  - weekdays: [mon, thur]\n");
        assert_eq!((line, column), (3, 21));
        assert_eq!(message, "`thur` is not a day of the week");
        assert_eq!(hint, "did you mean `thu`?");
    }

    #[test]
    fn error_bad_day_of_month() {
        let (line, column, message, hint) =
            error_of("calendar: b\ninclude:\n  - days_of_month: [1, 0]\n");
        assert_eq!((line, column), (3, 24));
        assert_eq!(message, "`0` is not a day of the month");
        assert!(hint.contains("-1 is the last day"));
    }

    #[test]
    fn error_bad_cron() {
        let (line, column, message, hint) =
            error_of("calendar: b\nexclude:\n  - cron: \"0 0 32 1 *\"\n");
        assert_eq!((line, column), (3, 11));
        assert!(
            message.starts_with("`0 0 32 1 *` is not a cron expression: "),
            "{message}"
        );
        assert!(hint.contains("0 0 1 1 *"));
        let (line, column, _, _) = error_of("calendar: b\nexclude:\n  - cron: every day\n");
        assert_eq!((line, column), (3, 11));
    }

    #[test]
    fn error_unknown_field() {
        let (line, column, message, hint) = error_of("calendar: b\ntimzone: UTC\n");
        assert_eq!(
            (line, column, message.as_str(), hint.as_str()),
            (2, 1, "unknown field `timzone`", "did you mean `timezone`?")
        );
        let (line, column, message, hint) =
            error_of("calendar: b\nexclude:\n  - dtes: [2026-12-24]\n");
        assert_eq!(
            (line, column, message.as_str(), hint.as_str()),
            (3, 5, "unknown field `dtes`", "did you mean `dates`?")
        );
    }

    #[test]
    fn error_a_rule_has_one_kind() {
        let (line, column, message, _) =
            error_of("calendar: b\ninclude:\n  - weekdays: [mon]\n    dates: [2026-01-01]\n");
        assert_eq!((line, column), (4, 5));
        assert_eq!(
            message,
            "a rule has one kind, but this one has both `weekdays` and `dates`"
        );
        let (line, column, message, _) = error_of("calendar: b\ninclude:\n  - 2026-01-01\n");
        assert_eq!((line, column), (3, 5));
        assert_eq!(
            message,
            "a rule must be a mapping such as `weekdays: [mon, fri]`"
        );
    }

    #[test]
    fn error_structure() {
        let (line, column, message, _) = error_of("timezone: UTC\n");
        assert_eq!(
            (line, column, message.as_str()),
            (1, 1, "a calendar needs an id: `calendar: ID`")
        );
        let (line, column, message, _) = error_of("calendar: b\ninclude:\n  weekdays: [mon]\n");
        assert_eq!(
            (line, column, message.as_str()),
            (3, 3, "`include` must be a list of rules")
        );
        let (line, column, message, _) = error_of("calendar: b\ninclude: []\n");
        assert_eq!(
            (line, column, message.as_str()),
            (2, 10, "an empty `include` list matches no day")
        );
        let (line, column, message, _) = error_of("calendar: b\ninclude:\n  - weekdays: []\n");
        assert_eq!(
            (line, column, message.as_str()),
            (3, 15, "`weekdays` is empty, so the rule matches no day")
        );
        let (line, column, message, _) = error_of("calendar: [a, b]\n");
        assert_eq!(
            (line, column, message.as_str()),
            (
                1,
                11,
                "expected the calendar id `calendar` here, not a list"
            )
        );
    }

    #[test]
    fn error_empty_rule_and_json_files() {
        let (line, column, message, _) = error_of("calendar: b\ninclude:\n  - {}\n");
        assert_eq!(
            (line, column, message.as_str()),
            (3, 5, "this rule is empty")
        );
        let c = cal(
            r#"{"calendar": "j", "timezone": "Asia/Tokyo", "include": [{"days_of_month": [1]}]}"#,
        );
        assert_eq!(c.timezone, chrono_tz::Asia::Tokyo);
        assert!(has(&c, "2026-02-01"));
    }

    #[test]
    fn error_yaml_syntax_and_duplicate_keys() {
        let (line, _, message, _) = error_of("calendar: b\ninclude:\n  - weekdays: [mon\n");
        assert!(message.starts_with("YAML syntax error"), "{message}");
        assert!(line >= 3);
        let (line, column, message, _) =
            error_of("calendar: b\ntimezone: UTC\ntimezone: Asia/Tokyo\n");
        assert_eq!(
            (line, column, message.as_str()),
            (3, 1, "the key `timezone` appears twice in this mapping")
        );
    }

    #[test]
    fn every_problem_is_reported_with_file_line_and_column() {
        let e = parse_calendar(
            "cal/b.yaml",
            "calendar: b\ntimezone: Nowhere/Land\ninclude:\n  - weekdays: [mon, fry]\n",
        )
        .unwrap_err();
        assert_eq!(e.diagnostics.len(), 2);
        let text = e.to_string();
        assert!(
            text.starts_with("cal/b.yaml:2:11: unknown time zone `Nowhere/Land`\n  hint: "),
            "{text}"
        );
        assert!(
            text.contains(
                "cal/b.yaml:4:21: `fry` is not a day of the week\n  hint: did you mean `fri`?"
            ),
            "{text}"
        );
    }

    #[test]
    fn calendar_files_are_told_apart_from_process_definitions() {
        assert!(is_calendar_source(EXAMPLE));
        assert!(is_calendar_source("{\"calendar\": \"json-too\"}"));
        assert!(!is_calendar_source("id: nightly\ntasks: []\n"));
        assert!(!is_calendar_source("calendar: [unclosed\n"));
    }

    #[test]
    fn inline_calendars_take_their_id_from_the_surrounding_document() {
        let root = marked_yaml::parse_yaml(0, "timezone: Asia/Tokyo\ninclude: [{weekdays: sat}]\n")
            .unwrap();
        let mut diags = Vec::new();
        let c = parse_calendar_node(&root, Some("weekend"), &mut diags).unwrap();
        assert!(diags.is_empty());
        assert_eq!(c.id, "weekend");
        let root = marked_yaml::parse_yaml(0, "calendar: x\n").unwrap();
        assert!(parse_calendar_node(&root, Some("weekend"), &mut diags).is_none());
        assert_eq!(diags[0].message, "unknown field `calendar`");
    }
}
