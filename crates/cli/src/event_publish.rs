//! `baton event publish`: publish an event for the `wait` tasks that wait for its name and
//! key (Siebel's implicit resumption). Prints the instances it resumed, one id a line, on
//! stdout; what became of the event on stderr (or everything as JSON with `--json`).

use std::time::Duration;

use clap::Subcommand;

use baton_api_model::requests::PublishEvent;
use baton_api_model::{PublishedEvent, PublishedEventState};

use crate::backend::Backend;
use crate::exit::Result;
use crate::input::parse_data;
use crate::render;

#[derive(Subcommand)]
pub enum EventCmd {
    /// Publish event NAME: every instance whose `wait` task waits for NAME with key K (and
    /// whose condition holds) receives it; with none, it is buffered for its time to live for
    /// a task that begins waiting for it. Publishing an id again while it is remembered (its
    /// time to live or 24 hours, whichever is longer) does nothing.
    Publish {
        /// The event's name (1 to 200 letters, digits, `.`, `_`, `-`, `:`).
        name: String,
        /// The correlation key (1 to 256 bytes): it reaches the tasks waiting with this key;
        /// without it, those waiting without a key.
        #[arg(long)]
        key: Option<String>,
        /// The payload (`event` in the tasks' condition and output): a JSON object, or @path.
        #[arg(long)]
        data: Option<String>,
        /// The event's id, for idempotency (1 to 200 bytes); without it, a new id.
        #[arg(long)]
        id: Option<String>,
        /// How long it is buffered when nothing takes it, e.g. `10m` (0 to 30 days; default 1h).
        #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
        ttl: Option<Duration>,
        /// Who publishes: an administrator or a member of group `event-publishers` (locally,
        /// by default the built-in `operator`; with --server the token's user).
        #[arg(long = "as", value_name = "USER")]
        by: Option<String>,
        /// Print the answer as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn act(backend: &Backend, action: EventCmd) -> Result<u8> {
    match action {
        EventCmd::Publish {
            name,
            key,
            data,
            id,
            ttl,
            by,
            json,
        } => {
            let ttl_ms = ttl.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
            let request = PublishEvent {
                name,
                key,
                data: parse_data(data.as_deref())?,
                id,
                ttl_ms,
            };
            let published = backend.publish_event(by.as_deref(), request).await?;
            if json {
                outln!("{}", render::json(&published));
            } else {
                for instance in &published.resumed {
                    outln!("{instance}");
                }
                errln!("{}", summary(&published));
            }
            Ok(0)
        }
    }
}

/// What became of the event, in a sentence.
fn summary(p: &PublishedEvent) -> String {
    if p.duplicate {
        return format!("event {} was published before; nothing done (it reached {} instance(s); its id is remembered until {})", p.id, p.received, p.remember_until.to_rfc3339());
    }
    match (p.state, p.buffered_until) {
        (PublishedEventState::Buffered, Some(until)) => format!(
            "event {}: nothing waits for it; buffered until {}",
            p.id,
            until.to_rfc3339()
        ),
        _ if p.resumed.is_empty() => format!("event {}: nothing waits for it (not buffered)", p.id),
        _ => format!("event {}: resumed {} instance(s)", p.id, p.resumed.len()),
    }
}
