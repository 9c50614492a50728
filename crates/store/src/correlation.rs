//! Event correlation in the store: the subscriptions of waiting `wait` tasks, found by the
//! pair of an event's name and correlation key with an indexed lookup (never a scan), and the
//! published events: remembered by id for idempotency, and buffered for their time to live
//! when nothing took them (Camunda's message buffering).
//!
//! (These are published *events* that `wait` tasks receive; an instance's *history events*
//! are [`baton_core::Event`]s, elsewhere.)

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Result;

/// A `wait` task's subscription, stored with the step in which it began waiting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub instance: String,
    pub task: String,
    /// The event's name.
    pub event: String,
    /// The correlation key; none for a task without a `key`.
    pub key: Option<String>,
}

/// A subscription as a publisher finds it. `id` grows with every subscription stored, so a
/// publisher can tell whether one was stored after it looked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriber {
    pub id: i64,
    pub instance: String,
    pub task: String,
}

/// Where a published event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventState {
    /// Recorded; its publisher is delivering it (or died doing so: a sweep delivers it again).
    Pending,
    /// Nothing took it: kept until `buffered_until` for a task that begins waiting for it.
    Buffered,
    /// Received by instances (`resumed` of them), or by none and not kept (no time to live).
    Delivered,
    /// Buffered until its time to live ran out, taken by nothing.
    Expired,
}

impl EventState {
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Buffered => "buffered",
            Self::Delivered => "delivered",
            Self::Expired => "expired",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Buffered,
            Self::Delivered,
            Self::Expired,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

/// A published event as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedEvent {
    pub id: String,
    pub name: String,
    pub key: Option<String>,
    /// The payload (emptied once the event was delivered: only its id is remembered then).
    pub data: Map<String, Value>,
    pub published_at: DateTime<Utc>,
    pub state: EventState,
    /// How long a buffered event is kept (its time to live from `published_at`); none without one.
    pub buffered_until: Option<DateTime<Utc>>,
    /// Until when its id is remembered: a publication with the same id before then changes nothing.
    pub remember_until: DateTime<Utc>,
    /// How many instances received it.
    pub resumed: u32,
}

/// What recording a publication found.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// The id is new (or its earlier publication is forgotten): recorded as pending.
    New,
    /// The id was published before and is still remembered: that publication.
    Duplicate(PublishedEvent),
}

/// What buffering an event found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffering {
    /// Buffered until its time to live runs out.
    Buffered,
    /// A subscription for its name and key was stored after the publisher looked: deliver again.
    NewSubscribers,
    /// As many events as allowed are buffered already; the event was not recorded.
    Full { limit: usize },
}

/// Subscriptions and published events.
pub trait CorrelationStore: Send + Sync {
    /// Records a publication as pending, unless its id is remembered: then it is a duplicate
    /// and nothing changes. A remembered id whose `remember_until` passed is forgotten and the
    /// publication recorded anew. One of two racing publications of an id is the duplicate.
    fn record_event(
        &self,
        event: &PublishedEvent,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Recorded>> + Send;
    /// The subscriptions for an event's name and key, oldest first.
    fn subscribers(
        &self,
        event: &str,
        key: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Subscriber>>> + Send;
    /// Buffers pending event `id` until `until`, unless a subscription for its name and key
    /// with an id above `seen` was stored meanwhile, or `limit` events are buffered already
    /// (then the event's record is removed: its id may be published again).
    fn buffer_event(
        &self,
        id: &str,
        until: DateTime<Utc>,
        seen: i64,
        limit: usize,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Buffering>> + Send;
    /// Marks event `id` delivered to `resumed` instances (its payload is no longer kept).
    fn settle_event(&self, id: &str, resumed: u32) -> impl Future<Output = Result<()>> + Send;
    /// A published event by id, if it is remembered.
    fn published_event(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<PublishedEvent>>> + Send;
    /// The buffered events of a name and key whose time to live has not run out, oldest first.
    fn buffered_events(
        &self,
        event: &str,
        key: Option<&str>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<PublishedEvent>>> + Send;
    /// Names and keys that have both a buffered event (alive at `now`) and a subscription: what
    /// a sweep delivers (a subscription stored by another process, or before a crash).
    fn buffered_matches(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(String, Option<String>)>>> + Send;
    /// Events still pending since before `before`: their publisher died delivering them.
    fn stale_pending(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<PublishedEvent>>> + Send;
    /// Expires buffered events whose time to live ran out and forgets events whose
    /// `remember_until` passed; returns how many rows changed.
    fn purge_events(&self, now: DateTime<Utc>) -> impl Future<Output = Result<usize>> + Send;
    /// How many events are buffered now.
    fn buffered_count(&self, now: DateTime<Utc>) -> impl Future<Output = Result<usize>> + Send;
}
