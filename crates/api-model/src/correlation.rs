//! Published events, which `wait` tasks receive (not an instance's history events).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a published event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PublishedEventState {
    /// Being delivered.
    Pending,
    /// Nothing took it: kept until `buffered_until` for a `wait` task that begins waiting for it.
    Buffered,
    /// Received by `received` instances (or by none, and not kept: no time to live).
    Delivered,
    /// Its time to live ran out while it was buffered.
    Expired,
}

/// What publishing an event did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishedEvent {
    /// The event's id (the one given, or a new one).
    pub id: String,
    /// The id was published before and is still remembered: this publication changed nothing,
    /// and `state`, `received` and the times are the first publication's.
    pub duplicate: bool,
    /// The instances this publication resumed (none for a duplicate).
    pub resumed: Vec<String>,
    /// How many instances received the event in all.
    pub received: u32,
    pub state: PublishedEventState,
    /// Until when it is buffered (`buffered`); else `null`.
    pub buffered_until: Option<DateTime<Utc>>,
    /// Until when its id is remembered: publishing the same id before then does nothing.
    pub remember_until: DateTime<Utc>,
}
