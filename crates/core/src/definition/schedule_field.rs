//! A definition's `schedule:` (see [`crate::schedule`]), read field by field so that each
//! mistake is reported where it is written.

use marked_yaml::Node;

use super::parse::node_pos;
use super::{node_to_json, Diagnostics};
use crate::schedule::{CatchUp, Overlap, ScheduleError, ScheduleSpec};

const FIELDS: &[&str] = &[
    "cron",
    "timezone",
    "calendar",
    "data",
    "overlap",
    "catch_up",
    "catch_up_window",
];

const HINT: &str = "for example `schedule: {cron: \"0 2 * * *\", timezone: Europe/Berlin}`";

pub(super) fn parse_schedule(node: &Node, diags: &mut Diagnostics) -> Option<ScheduleSpec> {
    let Some(map) = node.as_mapping() else {
        diags.error(
            node_pos(node),
            "`schedule` must be a mapping with a `cron` expression",
            Some(HINT.into()),
        );
        return None;
    };
    let mut ok = true;
    for (key, _) in map.iter() {
        if !FIELDS.contains(&key.as_str()) {
            diags.error(
                super::pos_of(key.span()),
                format!(
                    "`{}` is not a schedule field",
                    key.as_str().escape_default()
                ),
                Some(format!("the fields are {}", FIELDS.join(", "))),
            );
            ok = false;
        }
    }
    let text = |name: &str, diags: &mut Diagnostics| -> Option<Option<(String, super::Pos)>> {
        match map.get_node(name) {
            None => Some(None),
            Some(n) => match n.as_scalar() {
                Some(s) => Some(Some((s.as_str().to_owned(), node_pos(n)))),
                None => {
                    diags.error(
                        node_pos(n),
                        format!("`schedule.{name}` must be a text"),
                        None,
                    );
                    None
                }
            },
        }
    };
    let Some(cron) = text("cron", diags) else {
        return None;
    };
    let Some((cron, cron_pos)) = cron else {
        diags.error(
            node_pos(node),
            "a schedule needs a `cron` expression",
            Some(HINT.into()),
        );
        return None;
    };
    let mut spec = ScheduleSpec::new(cron);
    let mut zone_pos = cron_pos;
    if let Some(zone) = text("timezone", diags)? {
        (spec.timezone, zone_pos) = zone;
    }
    let mut calendar_pos = cron_pos;
    if let Some((calendar, pos)) = text("calendar", diags)? {
        spec.calendar = Some(calendar);
        calendar_pos = pos;
    }
    if let Some(data) = map.get_node("data") {
        match node_to_json(data) {
            serde_json::Value::Object(data) => spec.data = data,
            _ => {
                diags.error(
                    node_pos(data),
                    "`schedule.data` must be a mapping of start data",
                    None,
                );
                ok = false;
            }
        }
    }
    if let Some((overlap, pos)) = text("overlap", diags)? {
        match Overlap::parse(&overlap) {
            Some(o) => spec.overlap = o,
            None => {
                diags.error(
                    pos,
                    format!("`{}` is not an overlap policy", overlap.escape_default()),
                    Some(format!("one of {}", Overlap::NAMES.join(", "))),
                );
                ok = false;
            }
        }
    }
    if let Some((catch_up, pos)) = text("catch_up", diags)? {
        match CatchUp::parse(&catch_up) {
            Some(c) => spec.catch_up = c,
            None => {
                diags.error(
                    pos,
                    format!("`{}` is not a catch-up policy", catch_up.escape_default()),
                    Some(format!("one of {}", CatchUp::NAMES.join(", "))),
                );
                ok = false;
            }
        }
    }
    let mut window_pos = cron_pos;
    if let Some(n) = map.get_node("catch_up_window") {
        window_pos = node_pos(n);
        match diags.duration(
            window_pos,
            n.as_scalar().map(|s| s.as_str()),
            "schedule.catch_up_window",
        ) {
            Some(d) => spec.catch_up_window_secs = d.as_secs(),
            None => ok = false,
        }
    }
    if let Err(e) = spec.check() {
        let pos = match e {
            ScheduleError::Cron { .. } | ScheduleError::CronTooLong => cron_pos,
            ScheduleError::Timezone(_) => zone_pos,
            ScheduleError::Window => window_pos,
            ScheduleError::Calendar(_) => calendar_pos,
        };
        diags.error(pos, e.to_string(), None);
        ok = false;
    }
    ok.then_some(spec)
}
