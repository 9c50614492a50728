//! Publishing events to `wait` tasks: Siebel's implicit resumption, with Camunda's message
//! correlation, buffering and idempotent publishing.
//!
//! An event is handled in Siebel's order: (1) the in-memory holders of instances
//! ([`EventReceivers`], the server's interactive sessions) are asked which of theirs can
//! receive it, (2) the store's subscriptions for its name and key are looked up (an indexed
//! lookup), (3) every instance found in 1 and 2 is resumed: each receives
//! [`Command::EventReceived`] in a step of its own, committed with the removal of its
//! subscription, in one transaction per instance. An instance whose `wait` tasks' conditions
//! refuse the event is not resumed.
//!
//! **Idempotency.** The event is recorded by id first; a publication of an id still
//! remembered resumes nothing and answers with the first one. An id is remembered for the
//! event's time to live or [`EventOptions::retention`], whichever is longer; after that it is
//! forgotten and the same id is a new event, which acts again.
//!
//! **Buffering.** An event that no instance took is buffered for its time to live: a `wait`
//! task that begins waiting for its name and key meanwhile receives it (the oldest first), and
//! the first instance that takes it consumes it. Then it expires. Exactly once, also when the
//! publication and the subscription race: buffering is refused if a subscription for the pair
//! was stored after the publisher looked (the publisher looks again), and a subscription
//! committed after the event was buffered finds it (the engine that committed the step looks
//! right after, and the worker's sweep looks for every pair). A consuming step commits only
//! while the event is still buffered.
//!
//! **Crashes.** A publisher that dies after recording an event leaves it pending; the
//! worker's sweep delivers pending events older than [`STALE_PENDING`] again. Delivering
//! twice resumes nothing twice: a task that received the event waits no more.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use baton_core::correlation::{key_problem, ReceivedEvent};
use baton_core::{Command, TransitionError};
use baton_store::{Buffering, EventState, PublishedEvent, Recorded, Store, StoreError};

use crate::engine::{Cleanup, Engine};
use crate::error::EngineError;

/// Who holds instances in memory that may receive events (Siebel's in-memory cache of a user
/// session's interactive workflows): asked first, before the store's subscriptions, for the
/// instances that can receive an event. The server's sessions implement it; without them
/// nothing is found here. Instances it names are resumed like the store's (each receives the
/// event in a step of its own; one whose tasks do not take the event is left as it is), and
/// one named by both is resumed once.
pub trait EventReceivers: Send + Sync {
    /// The instances held here that may receive `event` (by its name, key and payload).
    fn receivers(&self, event: &ReceivedEvent) -> Vec<String>;
}

/// The longest event id, in bytes.
pub const MAX_ID_LEN: usize = 200;

/// The longest time to live an event may be given: 30 days.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The shortest an id is remembered for, however short the event's time to live: 24 hours.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// How long an event waits for a taker when its publisher gives no time to live: one hour.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// The most events buffered at once by default.
pub const DEFAULT_MAX_BUFFERED: usize = 100_000;

/// A pending event older than this has lost its publisher: the sweep delivers it again.
pub const STALE_PENDING: Duration = Duration::from_secs(60);

/// How often a publisher looks again when subscriptions keep arriving while it buffers.
const BUFFER_ATTEMPTS: usize = 64;

/// Most pairs (and pending events) one sweep looks at.
const SWEEP_BATCH: usize = 1024;

/// How many instances one event resumes at once (their steps share commits).
const RESUME_CONCURRENCY: usize = 64;

/// An engine's settings for published events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventOptions {
    /// The time to live of an event published without one.
    pub default_ttl: Duration,
    /// How long an id is remembered at least (it is remembered for the event's time to live
    /// if that is longer).
    pub retention: Duration,
    /// The most events buffered at once.
    pub max_buffered: usize,
}

impl Default for EventOptions {
    fn default() -> Self {
        Self {
            default_ttl: DEFAULT_TTL,
            retention: DEFAULT_RETENTION,
            max_buffered: DEFAULT_MAX_BUFFERED,
        }
    }
}

/// An event to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    pub name: String,
    pub key: Option<String>,
    pub data: Map<String, Value>,
    /// The event's id, for idempotency; without one a new id is made.
    pub id: Option<String>,
    /// How long it is buffered when nothing takes it; without, the engine's default.
    pub ttl: Option<Duration>,
}

/// What publishing an event did.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub id: String,
    /// The id was published before and is still remembered: this publication did nothing, and
    /// the rest describes the first one.
    pub duplicate: bool,
    /// The instances it resumed (for a duplicate: none).
    pub resumed: Vec<String>,
    /// How many instances received it, in all (for a duplicate: the first publication's count).
    pub received: u32,
    pub state: EventState,
    /// Until when it is buffered, if it is.
    pub buffered_until: Option<DateTime<Utc>>,
    /// Until when its id is remembered.
    pub remember_until: DateTime<Utc>,
}

/// Why a publication is refused, if it is: its name, key, id, payload or time to live past
/// their bounds.
pub fn publication_problem(p: &Publication, limits: &baton_core::DataLimits) -> Option<String> {
    if let Some(problem) = baton_core::definition::wire_name_problem("event name", &p.name) {
        return Some(format!(
            "event name `{}` is not allowed: {problem}",
            p.name.escape_default()
        ));
    }
    if let Some(problem) = p.key.as_deref().and_then(key_problem) {
        return Some(problem);
    }
    if let Some(id) = &p.id {
        if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
            return Some(format!(
                "an event id has 1 to {MAX_ID_LEN} bytes and no control characters"
            ));
        }
    }
    if let Some(ttl) = p.ttl {
        if ttl > MAX_TTL {
            return Some(format!(
                "the time to live is {}, longer than the most allowed, {}",
                humantime::format_duration(ttl),
                humantime::format_duration(MAX_TTL)
            ));
        }
    }
    limits
        .check_object(&p.data)
        .err()
        .map(|e| format!("the event's data {e}"))
}

impl<S: Store> Engine<S> {
    /// Registers who holds instances in memory that may receive events (see [`EventReceivers`]);
    /// replaces an earlier one.
    pub fn set_event_receivers(&self, receivers: Arc<dyn EventReceivers>) {
        *self
            .inner
            .event_receivers
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(receivers);
    }

    /// Publishes an event: see the [module](self) for what happens to it.
    pub async fn publish(&self, publication: Publication) -> Result<Published, EngineError> {
        if let Some(problem) = publication_problem(&publication, &self.inner.options.limits) {
            return Err(EngineError::InvalidEvent(problem));
        }
        let now = self.inner.clock.now();
        let ttl = publication
            .ttl
            .unwrap_or(self.inner.options.events.default_ttl);
        let remember = ttl.max(self.inner.options.events.retention);
        let event = PublishedEvent {
            id: publication
                .id
                .unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
            name: publication.name,
            key: publication.key,
            data: publication.data,
            published_at: now,
            state: EventState::Pending,
            buffered_until: (!ttl.is_zero()).then(|| baton_core::timestamp::after(now, ttl)),
            remember_until: baton_core::timestamp::after(now, remember),
            resumed: 0,
        };
        match self.inner.store.record_event(&event, now).await? {
            Recorded::Duplicate(first) => Ok(Published {
                id: first.id,
                duplicate: true,
                resumed: Vec::new(),
                received: first.resumed,
                state: first.state,
                buffered_until: first
                    .buffered_until
                    .filter(|_| first.state == EventState::Buffered),
                remember_until: first.remember_until,
            }),
            Recorded::New => self.deliver(event).await,
        }
    }

    /// Delivers a recorded (pending) event: to the instances in memory and those subscribed,
    /// else into the buffer until its `buffered_until` (with none, nowhere).
    async fn deliver(&self, event: PublishedEvent) -> Result<Published, EngineError> {
        let received = ReceivedEvent {
            id: event.id.clone(),
            name: event.name.clone(),
            key: event.key.clone(),
            data: event.data.clone(),
        };
        let holders = self
            .inner
            .event_receivers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut candidates: Vec<String> =
            holders.map(|h| h.receivers(&received)).unwrap_or_default();
        let mut tried: BTreeSet<String> = BTreeSet::new();
        let mut resumed = Vec::new();
        for _ in 0..BUFFER_ATTEMPTS {
            let subscribers = self
                .inner
                .store
                .subscribers(&event.name, event.key.as_deref())
                .await?;
            let seen = subscribers.iter().map(|s| s.id).max().unwrap_or(0);
            candidates.extend(subscribers.into_iter().map(|s| s.instance));
            let fresh: Vec<String> = std::mem::take(&mut candidates)
                .into_iter()
                .filter(|i| tried.insert(i.clone()))
                .collect();
            resumed.extend(self.resume_all(fresh, &received, None).await);
            let until = match event.buffered_until {
                Some(until) if resumed.is_empty() => until,
                _ => {
                    self.inner
                        .store
                        .settle_event(&event.id, resumed.len() as u32)
                        .await?;
                    let state = EventState::Delivered;
                    return Ok(Published {
                        id: event.id,
                        duplicate: false,
                        received: resumed.len() as u32,
                        resumed,
                        state,
                        buffered_until: None,
                        remember_until: event.remember_until,
                    });
                }
            };
            let limit = self.inner.options.events.max_buffered;
            match self
                .inner
                .store
                .buffer_event(&event.id, until, seen, limit, self.inner.clock.now())
                .await?
            {
                Buffering::Buffered => {
                    let state = EventState::Buffered;
                    return Ok(Published {
                        id: event.id,
                        duplicate: false,
                        received: 0,
                        resumed,
                        state,
                        buffered_until: Some(until),
                        remember_until: event.remember_until,
                    });
                }
                Buffering::Full { limit } => return Err(EngineError::EventBufferFull { limit }),
                Buffering::NewSubscribers => continue,
            }
        }
        // Subscriptions kept arriving: the event stays pending, and the sweep delivers it.
        Err(StoreError::Conflict(format!("event {}", event.id)).into())
    }

    /// Applies `event` to each instance, some at once; returns those it resumed. With
    /// `consume`, each step consumes that buffered event, so at most one instance takes it.
    async fn resume_all(
        &self,
        instances: Vec<String>,
        event: &ReceivedEvent,
        consume: Option<&str>,
    ) -> Vec<String> {
        let mut resumed = Vec::new();
        for chunk in instances.chunks(RESUME_CONCURRENCY) {
            let mut running = tokio::task::JoinSet::new();
            for instance in chunk {
                let (engine, instance, event) = (self.clone(), instance.clone(), event.clone());
                let consume = consume.map(str::to_owned);
                running.spawn(async move {
                    let took = engine.resume(&instance, event, consume).await;
                    took.then_some(instance)
                });
            }
            while let Some(done) = running.join_next().await {
                resumed.extend(done.ok().flatten());
            }
        }
        resumed
    }

    /// Delivers `event` to one instance; returns whether it took it.
    async fn resume(&self, instance: &str, event: ReceivedEvent, consume: Option<String>) -> bool {
        let id = event.id.clone();
        let cleanup = Cleanup::consuming(consume);
        match self
            .apply_cleaning(instance, Command::EventReceived { event }, cleanup)
            .await
        {
            Ok(_) => true,
            // Its tasks do not take the event (another key, a condition), it ended, the
            // buffered event went to another instance first: not resumed.
            Err(EngineError::Transition(
                TransitionError::NoWaitingTask { .. }
                | TransitionError::InstanceEnded(_)
                | TransitionError::InstanceDeleted(_),
            ))
            | Err(EngineError::InstanceNotFound(_))
            | Err(EngineError::Store(StoreError::EventGone(_))) => false,
            Err(e) => {
                tracing::warn!(instance = %instance, event = %id, "the event could not be delivered: {e}");
                false
            }
        }
    }

    /// Delivers the buffered events of `name` and `key` to the instances subscribed to them,
    /// oldest event first, each to the first instance that takes it. Returns how many were taken.
    pub(crate) async fn deliver_buffered(
        &self,
        name: &str,
        key: Option<&str>,
    ) -> Result<usize, EngineError> {
        let events = self
            .inner
            .store
            .buffered_events(name, key, self.inner.clock.now())
            .await?;
        if events.is_empty() {
            return Ok(0);
        }
        let mut subscribers: Vec<String> = self
            .inner
            .store
            .subscribers(name, key)
            .await?
            .into_iter()
            .map(|s| s.instance)
            .collect();
        let mut taken = 0;
        for event in events {
            let received = ReceivedEvent {
                id: event.id.clone(),
                name: event.name.clone(),
                key: event.key.clone(),
                data: event.data.clone(),
            };
            for at in 0..subscribers.len() {
                if self
                    .resume(&subscribers[at], received.clone(), Some(event.id.clone()))
                    .await
                {
                    subscribers.remove(at);
                    taken += 1;
                    break;
                }
            }
        }
        Ok(taken)
    }

    /// Looks at the buffered events of the names and keys that `wait` tasks began waiting for
    /// in steps this engine committed (and, in turn, of those their resumption began).
    pub(crate) async fn deliver_to_fresh_subscriptions(&self) {
        for _ in 0..BUFFER_ATTEMPTS {
            let fresh = std::mem::take(
                &mut *self
                    .inner
                    .fresh_subscriptions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()),
            );
            if fresh.is_empty() {
                return;
            }
            for (name, key) in fresh {
                if let Err(e) = self.deliver_buffered(&name, key.as_deref()).await {
                    tracing::warn!(event = %name, "buffered events could not be delivered: {e}");
                }
            }
        }
    }

    /// The worker's sweep: buffered events for subscriptions stored elsewhere (another process,
    /// before a crash), pending events whose publisher died, and expired and forgotten events.
    pub async fn sweep_events(&self) -> Result<usize, EngineError> {
        self.deliver_to_fresh_subscriptions().await;
        let now = self.inner.clock.now();
        let mut delivered = 0;
        for (name, key) in self.inner.store.buffered_matches(now, SWEEP_BATCH).await? {
            delivered += self.deliver_buffered(&name, key.as_deref()).await?;
        }
        let before = now - chrono::Duration::from_std(STALE_PENDING).unwrap_or_default();
        for event in self.inner.store.stale_pending(before, SWEEP_BATCH).await? {
            tracing::info!(event = %event.id, "delivering an event again whose publisher stopped before it was delivered");
            match self.deliver(event).await {
                Ok(p) => delivered += p.resumed.len(),
                Err(e) => tracing::warn!("a pending event could not be delivered: {e}"),
            }
        }
        self.inner.store.purge_events(now).await?;
        Ok(delivered)
    }

    /// A published event by id, while it is remembered.
    pub async fn published_event(&self, id: &str) -> Result<Option<PublishedEvent>, EngineError> {
        Ok(self.inner.store.published_event(id).await?)
    }
}
