//! `baton schedule create|show|pause|resume|trigger|delete` and `baton schedules`: processes
//! started on a schedule (a cron expression in a time zone, on a calendar's days).

use std::fmt::Write;

use clap::Subcommand;

use baton_api_model::{CreateSchedule, Schedule};

use crate::args::AS_HELP;
use crate::backend::Backend;
use crate::exit::Result;
use crate::input::parse_data;
use crate::render;

#[derive(Subcommand)]
pub enum ScheduleCmd {
    /// Start PROCESS at the slots of a cron expression; its first slot is the first after now.
    Create {
        /// The process id.
        process: String,
        /// The cron expression: five fields (minute hour day-of-month month day-of-week), six
        /// with seconds first, or a nickname such as `@daily`.
        #[arg(long)]
        cron: String,
        /// The schedule's id (default: the process id and a random suffix).
        #[arg(long)]
        id: Option<String>,
        /// The IANA time zone whose wall clock the expression is read on (default UTC).
        #[arg(long)]
        timezone: Option<String>,
        /// Only slots on days of this deployed calendar.
        #[arg(long)]
        calendar: Option<String>,
        /// The start data of every instance: a JSON object, or @path to a file holding one.
        #[arg(long)]
        data: Option<String>,
        /// While the last instance is still open, a slot is skipped (`skip`, the default),
        /// starts another (`allow`) or waits for it to end (`buffer_one`, one slot at most).
        #[arg(long, value_parser = ["skip", "allow", "buffer_one"])]
        overlap: Option<String>,
        /// Slots missed while no Baton ran: none run (`skip`), the latest runs (`once`, the
        /// default), or every one runs (`all`), within the catch-up window.
        #[arg(long, value_parser = ["skip", "once", "all"])]
        catch_up: Option<String>,
        /// Missed slots older than this are not run, e.g. `6h`, `2d` (default 1d, at most 366d).
        #[arg(long)]
        catch_up_window: Option<String>,
        #[arg(long, help = "Print the schedule as JSON (the API's view)")]
        json: bool,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// Show a schedule, its next slots and the slots it took last.
    Show {
        id: String,
        #[arg(long, help = "Print the schedule as JSON (the API's view)")]
        json: bool,
    },
    /// Pause a schedule: none of its slots starts until it is resumed.
    Pause {
        id: String,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// Resume a schedule at its first slot after now (the slots it was paused for are not run).
    Resume {
        id: String,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// Start the schedule's process now, with its data; prints the instance id.
    Trigger {
        id: String,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// Delete a schedule (a definition's comes back when the definition is deployed with it again).
    Delete {
        id: String,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
}

pub async fn act(backend: &Backend, action: ScheduleCmd) -> Result<u8> {
    match action {
        ScheduleCmd::Create {
            process,
            cron,
            id,
            timezone,
            calendar,
            data,
            overlap,
            catch_up,
            catch_up_window,
            json,
            by,
        } => {
            let request = CreateSchedule {
                process,
                id,
                cron,
                timezone,
                calendar,
                data: parse_data(data.as_deref())?,
                overlap,
                catch_up,
                catch_up_window,
            };
            let schedule = backend.create_schedule(by.as_deref(), &request).await?;
            if json {
                outln!("{}", render::json(&schedule));
            } else {
                outln!("{}", schedule.id);
                errln!(
                    "schedule {} starts {}; next slot {}",
                    schedule.id,
                    schedule.process,
                    next(&schedule)
                );
            }
        }
        ScheduleCmd::Show { id, json } => {
            let schedule = backend.schedule(&id).await?;
            if json {
                outln!("{}", render::json(&schedule));
            } else {
                out!("{}", show(&schedule));
            }
        }
        ScheduleCmd::Pause { id, by } => {
            let schedule = backend.pause_schedule(by.as_deref(), &id).await?;
            outln!("schedule {} paused", schedule.id);
        }
        ScheduleCmd::Resume { id, by } => {
            let schedule = backend.resume_schedule(by.as_deref(), &id).await?;
            outln!(
                "schedule {} resumed; next slot {}",
                schedule.id,
                next(&schedule)
            );
        }
        ScheduleCmd::Trigger { id, by } => {
            let instance = backend.trigger_schedule(by.as_deref(), &id).await?;
            outln!("{}", instance.id);
            errln!(
                "started {} v{}: {}",
                instance.process,
                instance.version,
                instance.status
            );
        }
        ScheduleCmd::Delete { id, by } => {
            backend.delete_schedule(by.as_deref(), &id).await?;
            outln!("schedule {id} deleted");
        }
    }
    Ok(0)
}

pub async fn list(backend: &Backend, json: bool) -> Result<u8> {
    let schedules = backend.schedules().await?;
    if json {
        outln!("{}", render::json(&schedules));
    } else {
        out!("{}", table(&schedules));
    }
    Ok(0)
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

fn next(schedule: &Schedule) -> String {
    match schedule.next_slots.first() {
        _ if schedule.paused => "none (paused)".to_owned(),
        Some(at) => time(*at),
        None => "none".to_owned(),
    }
}

fn table(schedules: &[Schedule]) -> String {
    let mut out = String::new();
    if schedules.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "{:<24}  {:<20}  {:<16}  {:<21}  state",
        "id", "process", "cron", "next slot"
    );
    for s in schedules {
        let state = if s.paused { "paused" } else { "active" };
        let _ = writeln!(
            out,
            "{:<24}  {:<20}  {:<16}  {:<21}  {state}",
            s.id,
            s.process,
            s.cron,
            next(s)
        );
    }
    out
}

fn show(s: &Schedule) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "schedule {} starts {}{}",
        s.id,
        s.process,
        if s.from_definition {
            " (declared in its definition)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "  cron {} in {}{}",
        s.cron,
        s.timezone,
        s.calendar
            .as_ref()
            .map(|c| format!(", on days of calendar {c}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "  overlap {}, catch-up {} within {}s",
        s.overlap, s.catch_up, s.catch_up_window_secs
    );
    let _ = writeln!(
        out,
        "  {}, created by {} at {}",
        if s.paused { "paused" } else { "active" },
        s.created_by,
        time(s.created_at)
    );
    if !s.data.is_empty() {
        let _ = writeln!(out, "  data {}", serde_json::Value::Object(s.data.clone()));
    }
    if let Some(last) = &s.last_instance {
        let _ = writeln!(out, "  last instance {last}");
    }
    if let Some(waiting) = s.buffered {
        let _ = writeln!(
            out,
            "  slot {} waits for the last instance to end",
            time(waiting)
        );
    }
    let _ = writeln!(out, "next slots:");
    if s.next_slots.is_empty() {
        let _ = writeln!(out, "  {}", next(s));
    }
    for at in &s.next_slots {
        let _ = writeln!(out, "  {}", time(*at));
    }
    if !s.recent_slots.is_empty() {
        let _ = writeln!(out, "recent slots:");
        for r in &s.recent_slots {
            let what = match (&r.instance, &r.message) {
                (Some(i), _) => format!("started {i}"),
                (None, Some(m)) => format!("failed: {m}"),
                (None, None) => r.outcome.clone(),
            };
            let _ = writeln!(out, "  {}  {what}", time(r.slot));
        }
    }
    out
}
