//! The engine: applies commands through the pure core and persists each step atomically.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Map, Value};
use tokio::sync::oneshot;
use tracing::Instrument;

use baton_core::calendar::{is_calendar_source, parse_calendar, Calendar};
use baton_core::definition::{parse, parse_with};
use baton_core::instance::ForEachSnapshot;
use baton_core::{
    apply_with, start_with, Command, DataLimits, Definition, DefinitionError, Effect, Instance,
    Knowledge, TransitionError,
};
use baton_store::{
    inbox_updates, ClaimedTimer, Deployment, DeploymentKind, JobKey, JobLock, RuntimeSample,
    SnapshotKey, StartKey, StepRecord, Store, StoreError, Timer, TimerLock, WorkScope,
};

use crate::changes::{changes_of, ChangeFeed, Subscription};
use crate::clock::Clock;
use crate::error::EngineError;
use crate::metrics::EngineMetrics;
use crate::process_group;
use crate::worker::{Stop, KILL_GRACE};

/// Settings of one engine node.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Names this node as the owner of the jobs it leases.
    pub node: String,
    /// The budget of each expression evaluation.
    pub eval_limits: baton_core::expr::EvalLimits,
    /// How deep and large each payload from outside may be: start data, job output, human
    /// task output, prompt input, data defaults at deploy.
    pub limits: DataLimits,
    /// The most items one ForEach task may iterate over (a longer list ends the task
    /// `ended_not_ok`); see [`baton_core::limits::foreach_items_limit`] for the range.
    pub max_foreach_items: usize,
    /// The deepest a hierarchy of `call`ed and handed-off instances nests.
    pub max_depth: u32,
    /// The most child instances (`call` and `handoff`) one step starts.
    pub max_children_per_step: usize,
    /// Time to live, buffering and idempotency of published events (see [`crate::correlation`]).
    pub events: crate::correlation::EventOptions,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            node: format!("node-{}", std::process::id()),
            eval_limits: baton_core::expr::EvalLimits::DEFAULT,
            limits: DataLimits::default(),
            max_foreach_items: baton_core::limits::DEFAULT_MAX_FOREACH_ITEMS,
            max_depth: baton_core::limits::DEFAULT_MAX_DEPTH,
            max_children_per_step: baton_core::limits::DEFAULT_MAX_CHILDREN_PER_STEP,
            events: crate::correlation::EventOptions::default(),
        }
    }
}

/// What deploying one file did: the id and version it is, and whether that version was there
/// already (its source was exactly the file's, so nothing was stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    pub id: String,
    pub version: u32,
    pub unchanged: bool,
}

/// A handle to the engine; cheap to clone.
pub struct Engine<S: Store> {
    pub(crate) inner: Arc<Inner<S>>,
}

impl<S: Store> Clone for Engine<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

pub(crate) struct Inner<S> {
    pub(crate) store: S,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) options: EngineOptions,
    definitions: Mutex<HashMap<(String, u32), Arc<Definition>>>,
    /// Parsed calendars by id and version (a deployed version never changes).
    calendars: Mutex<HashMap<(String, u32), Arc<Calendar>>>,
    /// States of recently changed open instances, as this engine committed them. One is used
    /// only while the store's `seq` for it is still the one it was committed at: the token
    /// every step's write is checked against, so a state another node moved on is never used.
    states: quick_cache::sync::Cache<String, Arc<Instance>>,
    /// ForEach snapshots of running ForEach tasks, as committed (a stored snapshot never changes
    /// under its key), so the steps of iterations and their parents read them from memory.
    snapshots: quick_cache::sync::Cache<SnapshotKey, Arc<ForEachSnapshot>>,
    instance_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The change feed: a record of every committed instance step (see [`crate::changes`]).
    feed: ChangeFeed,
    metrics: EngineMetrics,
    /// Jobs running in this process, so a `CancelJob` effect (or a shutdown) can stop them.
    pub(crate) running: Mutex<HashMap<JobKey, oneshot::Sender<Stop>>>,
    /// Set once running jobs were stopped for a shutdown: jobs claimed after it are not run.
    pub(crate) interrupted: std::sync::atomic::AtomicBool,
    /// One lock per (instance, task) with a job running here, so that an attempt starts only
    /// once the processes of the one before it are gone.
    pub(crate) job_slots: Mutex<HashMap<(String, String), JobSlot>>,
    /// Event names and keys that `wait` tasks began waiting for in steps this engine committed,
    /// whose buffered events are yet to be looked at (see [`crate::correlation`]).
    pub(crate) fresh_subscriptions: Mutex<std::collections::BTreeSet<(String, Option<String>)>>,
    /// Who holds instances in memory that may receive events (Siebel's session caches).
    pub(crate) event_receivers:
        std::sync::RwLock<Option<Arc<dyn crate::correlation::EventReceivers>>>,
}

/// Held while an attempt of one task runs in this process.
pub(crate) type JobSlot = Arc<tokio::sync::Mutex<()>>;

/// How many open instances' states the engine keeps in memory (a few KB each).
const STATE_CACHE: usize = 4096;

/// How many ForEach snapshots the engine keeps in memory (one per running ForEach task).
const SNAPSHOT_CACHE: usize = 64;

/// Most timers of a ForEach parent fired as one step when they bring iteration ends.
const ENDS_PER_STEP: usize = baton_core::FOREACH_LAUNCH_BATCH;

/// In the key of the timer that brings an iteration's end to its parent (`TASK/iteration/N`;
/// a task id has no `/`, so no other timer's key has it).
const ITERATION_END: &str = "/iteration/";

/// The most processes one step resolves for `call` and `handoff` tasks (those of the
/// instance's definition and, transitively, of the processes they start).
const MAX_CALLEES: usize = 256;

/// How many times a step is recomputed when another process changed the instance meanwhile.
const CONFLICT_RETRIES: usize = 8;

/// How long a node holds a due timer it fires: if it dies meanwhile, another node fires the
/// timer once this ran out.
pub(crate) const TIMER_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// How long to wait before recomputing a step that lost a race (the `n`th time): a random
/// share ("full jitter") of a window that doubles from 1 ms up to 64 ms, so that nodes that
/// collided on an instance do not collide again in lockstep.
pub(crate) fn conflict_backoff(n: usize) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    let window_us = 1000u64 << n.min(6);
    // A fresh `RandomState` is seeded randomly: enough randomness for a jitter.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    std::time::Duration::from_micros(random % window_us)
}

impl<S: Store> Engine<S> {
    pub fn new(store: S, clock: Arc<dyn Clock>, options: EngineOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                options,
                definitions: Mutex::new(HashMap::new()),
                calendars: Mutex::new(HashMap::new()),
                states: quick_cache::sync::Cache::new(STATE_CACHE),
                snapshots: quick_cache::sync::Cache::new(SNAPSHOT_CACHE),
                instance_locks: Mutex::new(HashMap::new()),
                feed: ChangeFeed::new(),
                metrics: EngineMetrics::default(),
                running: Mutex::new(HashMap::new()),
                interrupted: std::sync::atomic::AtomicBool::new(false),
                job_slots: Mutex::new(HashMap::new()),
                fresh_subscriptions: Mutex::new(std::collections::BTreeSet::new()),
                event_receivers: std::sync::RwLock::new(None),
            }),
        }
    }

    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// Subscribes to the change feed: a record of each instance step this engine commits from
    /// now on (see [`crate::changes`]; a subscriber that falls behind hears `Lagged`).
    pub fn changes(&self) -> Subscription {
        self.inner.feed.subscribe()
    }

    /// What the engine measured about itself since it was made.
    pub fn metrics(&self) -> &EngineMetrics {
        &self.inner.metrics
    }

    /// The name of this node: the owner of the leases it takes.
    pub fn node(&self) -> &str {
        &self.inner.options.node
    }

    /// The time on the engine's clock (what steps and records are stamped with).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    /// Checks a definition or calendar file on its own, without storing anything (a
    /// calendar's references are checked by [`Engine::deploy_all`]).
    pub fn validate(&self, file: &str, source: &str) -> Result<(), EngineError> {
        if is_calendar_source(source) {
            parse_calendar(file, source)?;
        } else {
            parse_with(file, source, &self.inner.options.limits)?;
        }
        Ok(())
    }

    /// Validates a definition (or a calendar: a file whose top-level key is `calendar:`) and
    /// stores it as the next version of its id. A file with any problem is refused whole, and
    /// nothing is stored.
    pub async fn deploy(&self, file: &str, source: &str) -> Result<(String, u32), EngineError> {
        let deployed = self
            .deploy_all(&[(file.to_owned(), source.to_owned())])
            .await?
            .remove(0);
        Ok((deployed.id, deployed.version))
    }

    /// Deploys several files (`(file name, source)`) together: every file is checked first
    /// (a calendar's references against the deployed calendars and those deployed with it),
    /// and then all are stored in one transaction, or, if any file has a problem, none. The
    /// problems of every file are reported, each at its `file:line:column`. A file whose
    /// source is exactly that of its id's latest version is not stored again: it is that
    /// version, `unchanged`. Returns the id and version of each file, in order.
    pub async fn deploy_all(
        &self,
        files: &[(String, String)],
    ) -> Result<Vec<Deployed>, EngineError> {
        // Each with the index of its file.
        let mut problems: Vec<(usize, DefinitionError)> = Vec::new();
        let mut checked: Vec<(usize, Checked)> = Vec::with_capacity(files.len());
        for (n, (file, source)) in files.iter().enumerate() {
            let parsed = if is_calendar_source(source) {
                parse_calendar(file, source).map(|c| Checked::Calendar(Arc::new(c)))
            } else {
                parse_with(file, source, &self.inner.options.limits).map(Checked::Definition)
            };
            match parsed {
                Ok(c) => checked.push((n, c)),
                Err(e) => problems.push((n, e)),
            }
        }
        if checked
            .iter()
            .any(|(_, c)| matches!(c, Checked::Calendar(_)))
        {
            // References resolve against the deployed calendars, replaced by those deployed now.
            let mut known: HashMap<String, Arc<Calendar>> = HashMap::new();
            for stored in self.inner.store.calendars().await? {
                let other = parse_calendar(&stored.file, &stored.source)?;
                known.insert(other.id.clone(), Arc::new(other));
            }
            for (_, c) in &checked {
                if let Checked::Calendar(calendar) = c {
                    known.insert(calendar.id.clone(), calendar.clone());
                }
            }
            for (n, c) in &checked {
                if let Checked::Calendar(calendar) = c {
                    if let Err(e) = calendar
                        .check_references_in_file(&files[*n].0, &|id: &str| known.get(id).cloned())
                    {
                        problems.push((*n, e));
                    }
                }
            }
        }
        if !problems.is_empty() {
            problems.sort_by_key(|(n, _)| *n);
            let mut problems: Vec<DefinitionError> = problems.into_iter().map(|(_, e)| e).collect();
            return Err(if problems.len() == 1 {
                EngineError::Definition(problems.remove(0))
            } else {
                EngineError::Definitions(problems)
            });
        }
        // The latest version of each id, when the file holds exactly its source.
        let calendars = if checked
            .iter()
            .any(|(_, c)| matches!(c, Checked::Calendar(_)))
        {
            self.inner.store.calendars().await?
        } else {
            Vec::new()
        };
        let mut unchanged: Vec<Option<u32>> = Vec::with_capacity(checked.len());
        for (n, c) in &checked {
            let source = &files[*n].1;
            let latest = match c {
                Checked::Definition(d) => self.inner.store.definition(&d.id, None).await?,
                Checked::Calendar(c) => calendars.iter().find(|s| s.id == c.id).cloned(),
            };
            unchanged.push(latest.filter(|l| l.source == *source).map(|l| l.version));
        }
        let deployments = checked
            .iter()
            .zip(&unchanged)
            .filter(|(_, same)| same.is_none())
            .map(|((n, c), _)| {
                let (kind, id) = match c {
                    Checked::Definition(d) => (DeploymentKind::Definition, d.id.clone()),
                    Checked::Calendar(c) => (DeploymentKind::Calendar, c.id.clone()),
                };
                let (file, source) = &files[*n];
                Deployment {
                    kind,
                    id,
                    file: file.clone(),
                    source: source.clone(),
                }
            })
            .collect::<Vec<_>>();
        let mut versions = if deployments.is_empty() {
            Vec::new()
        } else {
            self.inner
                .store
                .deploy_all(deployments, self.inner.clock.now())
                .await?
        }
        .into_iter();
        let mut deployed = Vec::with_capacity(checked.len());
        for ((_, c), same) in checked.into_iter().zip(unchanged) {
            let version = match same {
                Some(version) => version,
                None => versions.next().expect("a version for each file stored"),
            };
            let id = match c {
                Checked::Definition(mut definition) => {
                    definition.set_version(version);
                    let id = definition.id.clone();
                    self.sync_definition_schedule(&id, definition.schedule.as_ref())
                        .await?;
                    self.cache()
                        .insert((id.clone(), version), Arc::new(definition));
                    id
                }
                Checked::Calendar(calendar) => calendar.id.clone(),
            };
            deployed.push(Deployed {
                id,
                version,
                unchanged: same.is_some(),
            });
        }
        Ok(deployed)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u32), Arc<Definition>>> {
        self.inner
            .definitions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// A deployed definition: a given version, or the latest. A ForEach body (`process/task`)
    /// is found inside its process's definition.
    pub async fn definition(
        &self,
        id: &str,
        version: Option<u32>,
    ) -> Result<Arc<Definition>, EngineError> {
        if let Some((root, _)) = id.split_once('/') {
            let process = Box::pin(self.definition(root, version)).await?;
            return process
                .body(id)
                .ok_or_else(|| EngineError::ProcessNotFound(id.to_owned()));
        }
        if let Some(v) = version {
            if let Some(d) = self.cache().get(&(id.to_owned(), v)) {
                return Ok(d.clone());
            }
        }
        let stored =
            self.inner
                .store
                .definition(id, version)
                .await?
                .ok_or_else(|| match version {
                    Some(version) => EngineError::VersionNotFound {
                        id: id.to_owned(),
                        version,
                    },
                    None => EngineError::ProcessNotFound(id.to_owned()),
                })?;
        if let Some(d) = self.cache().get(&(id.to_owned(), stored.version)) {
            return Ok(d.clone());
        }
        let mut definition = parse(&stored.file, &stored.source)?;
        definition.set_version(stored.version);
        let definition = Arc::new(definition);
        self.cache()
            .insert((id.to_owned(), stored.version), definition.clone());
        Ok(definition)
    }

    /// Starts an instance of the latest version of `process`. Returns once its first step
    /// (everything it could do before its first job) is committed.
    pub async fn start(
        &self,
        process: &str,
        data: Map<String, Value>,
    ) -> Result<Arc<Instance>, EngineError> {
        self.start_once(process, data, None)
            .await
            .map(|(instance, _)| instance)
    }

    /// Starts an instance as [`start`](Self::start) does; with an idempotency `key`, only the
    /// first start naming the key starts one, and a repeat (same process, same data) returns
    /// that instance as it is now, also when both race. The same key with another process or
    /// other data is refused. Returns the instance and whether this call started it.
    pub async fn start_once(
        &self,
        process: &str,
        data: Map<String, Value>,
        key: Option<&str>,
    ) -> Result<(Arc<Instance>, bool), EngineError> {
        let start_key = key.map(|key| StartKey {
            key: key.to_owned(),
            fingerprint: start_fingerprint(process, &data),
        });
        if let Some(start) = &start_key {
            if let Some((instance, fingerprint)) =
                self.inner.store.started_by_key(&start.key).await?
            {
                return self.started_before(start, &instance, &fingerprint).await;
            }
        }
        let id = uuid::Uuid::now_v7().to_string();
        let began = Instant::now();
        let span = tracing::info_span!("step", instance = %id);
        let started = self
            .start_as(id, process, data, start_key)
            .instrument(span)
            .await?;
        if started.1 {
            self.inner.metrics.step_took(began.elapsed());
        }
        self.deliver_to_fresh_subscriptions().await;
        Ok(started)
    }

    async fn start_as(
        &self,
        id: String,
        process: &str,
        data: Map<String, Value>,
        start_key: Option<StartKey>,
    ) -> Result<(Arc<Instance>, bool), EngineError> {
        let definition = self.definition(process, None).await?;
        let knowledge = Arc::new(self.knowledge(&definition).await?);
        let now = self.inner.clock.now();
        let transition = {
            let (definition, knowledge, id) = (definition.clone(), knowledge.clone(), id.clone());
            compute(&definition.clone(), &id.clone(), move || {
                start_with(&definition, id, data, now, &knowledge)
            })
            .await??
        };
        let step = StepRecord {
            new: true,
            start_key: start_key.clone(),
            ..StepRecord::default()
        };
        let (steps, effects) = self.stage(step, &definition, transition, &knowledge, None);
        let instance = steps[0]
            .instance
            .clone()
            .expect("the first step holds the instance");
        match (self.commit_steps(steps).await, &start_key) {
            (Ok(()), _) => {}
            (
                Err(EngineError::Store(StoreError::StartKeyTaken {
                    instance,
                    fingerprint,
                    ..
                })),
                Some(start),
            ) => return self.started_before(start, &instance, &fingerprint).await,
            (Err(e), _) => return Err(e),
        }
        self.committed(&instance);
        self.after_commit(&instance.id, effects);
        Ok((instance, true))
    }

    /// The answer to a start whose key an earlier start took: that instance, if the earlier
    /// start had the same process and data.
    async fn started_before(
        &self,
        start: &StartKey,
        instance: &str,
        fingerprint: &str,
    ) -> Result<(Arc<Instance>, bool), EngineError> {
        if fingerprint != start.fingerprint {
            return Err(EngineError::StartKeyReused {
                key: start.key.clone(),
                instance: instance.to_owned(),
            });
        }
        Ok((Arc::new(self.instance(instance).await?), false))
    }

    /// The current state of an instance.
    pub async fn instance(&self, id: &str) -> Result<Instance, EngineError> {
        self.inner
            .store
            .instance(id)
            .await?
            .ok_or_else(|| EngineError::InstanceNotFound(id.to_owned()))
    }

    /// The instance's current state for a step: the one this engine last committed if the
    /// store is still at its `seq`, else read from the store.
    async fn current(&self, id: &str) -> Result<Option<Arc<Instance>>, EngineError> {
        if let Some(cached) = self.inner.states.get(id) {
            if self.inner.store.instance_seq(id).await? == Some(cached.next_seq) {
                return Ok(Some(cached));
            }
            self.inner.states.remove(id);
        }
        Ok(self.inner.store.instance(id).await?.map(Arc::new))
    }

    /// Remembers a committed state for the next step (an ended instance takes few more).
    fn committed(&self, state: &Arc<Instance>) {
        if state.status.is_terminal() {
            self.inner.states.remove(&state.id);
        } else {
            self.inner.states.insert(state.id.clone(), state.clone());
        }
    }

    /// Applies a command to an instance and persists the step. A job result that does not
    /// match the running attempt is refused, and its queue entry is removed all the same, so a
    /// completion is applied once however often it is reported.
    pub async fn apply(
        &self,
        instance_id: &str,
        command: Command,
    ) -> Result<Arc<Instance>, EngineError> {
        let cleanup = self.settling(instance_id, &command).await?;
        let applied = self.apply_cleaning(instance_id, command, cleanup).await;
        self.deliver_to_fresh_subscriptions().await;
        applied
    }

    /// An operator who retries or skips a task that its run limit blocked settles that
    /// incident with it (in the same commit), as retrying the incident would.
    async fn settling(&self, instance_id: &str, command: &Command) -> Result<Cleanup, EngineError> {
        let (Command::RetryTask { task, by } | Command::SkipTask { task, by }) = command else {
            return Ok(Cleanup::default());
        };
        let open = self
            .inner
            .store
            .incidents(instance_id)
            .await?
            .into_iter()
            .find(|i| {
                i.is_open()
                    && matches!(
                        i.kind,
                        baton_store::IncidentKind::RunLimit | baton_store::IncidentKind::LoopLimit
                    )
                    && i.task.as_deref() == Some(task.as_str())
            });
        Ok(Cleanup {
            incident: open.map(|i| (i.id, by.clone())),
            ..Cleanup::default()
        })
    }

    /// Applies a command and, in the same transaction, removes what delivered it (a fired timer).
    pub(crate) async fn apply_cleaning(
        &self,
        instance_id: &str,
        command: Command,
        cleanup: Cleanup,
    ) -> Result<Arc<Instance>, EngineError> {
        self.step_of(
            instance_id,
            self.apply_locked(instance_id, command, cleanup),
        )
        .await
    }

    /// Runs `step` holding the instance's lock, in a span naming the instance, and measures it
    /// (waiting for the lock included) when it commits.
    async fn step_of<T>(
        &self,
        instance_id: &str,
        step: impl std::future::Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        let began = Instant::now();
        let lock = self.instance_lock(instance_id);
        let result = async {
            let _guard = lock.lock().await;
            step.await
        }
        .instrument(tracing::info_span!("step", instance = %instance_id))
        .await;
        self.release_instance_lock(instance_id, lock);
        if result.is_ok() {
            self.inner.metrics.step_took(began.elapsed());
        }
        result
    }

    async fn apply_locked(
        &self,
        instance_id: &str,
        command: Command,
        cleanup: Cleanup,
    ) -> Result<Arc<Instance>, EngineError> {
        let job = match &command {
            Command::JobFinished { task, attempt, .. }
            | Command::RedispatchJob { task, attempt }
            | Command::JobLockExpired { task, attempt, .. } => Some(JobKey {
                instance: instance_id.to_owned(),
                task: task.clone(),
                attempt: *attempt,
            }),
            _ => None,
        };
        // Commands the engine delivers (a job's result, a timer) become an incident when they
        // keep failing; a person's command just fails, telling them why.
        let delivered = job.is_some() || cleanup.timer.is_some() || cleanup.incident.is_some();
        let mut conflicts = 0;
        let mut failures = 0;
        loop {
            let instance = self
                .current(instance_id)
                .await?
                .ok_or_else(|| EngineError::InstanceNotFound(instance_id.to_owned()))?;
            let computed = self.compute_step(&instance, &command).await;
            let (definition, knowledge, transition) = match computed {
                Ok(computed) => computed,
                Err(e) if delivered && e.is_instance_fault() => {
                    failures += 1;
                    // A panic may depend on the moment (`now`); a definition that does not load will not.
                    if matches!(e, EngineError::StepPanicked { .. }) && failures < STEP_ATTEMPTS {
                        continue;
                    }
                    return Err(self
                        .raise_incident(instance_id, &command, &cleanup, job, &e, failures)
                        .await);
                }
                Err(e) => return Err(e),
            };
            match transition {
                Ok(transition) => {
                    let mut step = StepRecord {
                        expected_seq: instance.next_seq,
                        status_before: Some(instance.status),
                        ..StepRecord::default()
                    };
                    step.complete.extend(job.clone());
                    step.fence =
                        job.clone()
                            .zip(cleanup.lock.clone())
                            .map(|(job, (owner, lease))| JobLock {
                                job,
                                owner,
                                lease,
                                now: self.inner.clock.now(),
                            });
                    step.clear_timers.extend(cleanup.timer.clone());
                    step.timer_fence
                        .extend(cleanup.timer_lock(self.inner.clock.now()));
                    step.incident_updates
                        .extend(cleanup.closing(self.inner.clock.now(), "retried"));
                    step.consume_event = cleanup
                        .consume_event
                        .clone()
                        .map(|id| (id, self.inner.clock.now()));
                    let (steps, effects) =
                        self.stage(step, &definition, transition, &knowledge, Some(&instance));
                    match self.commit_staged(instance_id, steps, effects).await {
                        Ok(new_state) => return Ok(new_state),
                        Err(EngineError::Store(StoreError::Conflict(_)))
                            if conflicts < CONFLICT_RETRIES =>
                        {
                            tokio::time::sleep(conflict_backoff(conflicts)).await;
                            conflicts += 1;
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                }
                // A refused timer, or a stale job result, is removed all the same: it would be
                // refused again. So is a retried incident whose command no longer applies.
                Err(e)
                    if cleanup.timer.is_some()
                        || cleanup.incident.is_some()
                        || (job.is_some()
                            && matches!(
                                e,
                                TransitionError::StaleJobResult { .. }
                                    | TransitionError::InstanceEnded(_)
                            )) =>
                {
                    let resolution = format!("retried; no longer applies: {e}");
                    let step = StepRecord {
                        complete: job.into_iter().collect(),
                        clear_timers: cleanup.timer.clone().into_iter().collect(),
                        timer_fence: cleanup
                            .timer_lock(self.inner.clock.now())
                            .into_iter()
                            .collect(),
                        incident_updates: cleanup
                            .closing(self.inner.clock.now(), &resolution)
                            .into_iter()
                            .collect(),
                        ..StepRecord::default()
                    };
                    self.inner.store.commit(vec![step]).await?;
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Loads what a step of `instance` needs and computes its transition for `command` (see
    /// [`compute`]).
    async fn compute_step(
        &self,
        instance: &Arc<Instance>,
        command: &Command,
    ) -> Result<
        (
            Arc<Definition>,
            Arc<Knowledge>,
            Result<baton_core::Transition, TransitionError>,
        ),
        EngineError,
    > {
        let definition = self
            .definition(&instance.definition_id, Some(instance.definition_version))
            .await?;
        let mut knowledge = self.knowledge_for(&definition, instance).await?;
        // A spawn or an abort-and-start names the process it starts: resolved like a callee.
        if let Command::Spawn {
            process, version, ..
        }
        | Command::AbortAndStart {
            process, version, ..
        } = command
        {
            let target = baton_core::definition::ProcessRef {
                process: process.clone(),
                version: *version,
            };
            let callees = self
                .resolve_callees(
                    vec![target],
                    baton_core::step::Callees::clone(&knowledge.callees),
                )
                .await?;
            knowledge.callees = Arc::new(callees);
        }
        let knowledge = Arc::new(knowledge);
        let now = self.inner.clock.now();
        let transition = {
            let (definition, instance, knowledge, command) = (
                definition.clone(),
                instance.clone(),
                knowledge.clone(),
                command.clone(),
            );
            compute(&definition.clone(), &instance.id.clone(), move || {
                crate::failpoints::before_step(&definition.id);
                apply_with(&definition, &instance, command, now, &knowledge)
            })
            .await?
        };
        Ok((definition, knowledge, transition))
    }

    /// Records that `command` could not be applied to the instance: an open incident holding
    /// the command, committed with the removal of what delivered it (the job's queue row, the
    /// timer), so it is not delivered again. A retried incident counts one more attempt
    /// instead. Returns the error to report.
    async fn raise_incident(
        &self,
        instance_id: &str,
        command: &Command,
        cleanup: &Cleanup,
        job: Option<JobKey>,
        cause: &EngineError,
        attempts: u32,
    ) -> EngineError {
        let reason = cause.to_string();
        let now = self.inner.clock.now();
        let mut step = StepRecord {
            complete: job.into_iter().collect(),
            clear_timers: cleanup.timer.clone().into_iter().collect(),
            ..StepRecord::default()
        };
        match &cleanup.incident {
            Some((id, _)) => step
                .incident_updates
                .push(baton_store::IncidentUpdate::Failed {
                    id: *id,
                    reason: reason.clone(),
                    attempts,
                }),
            None => step.raise_incidents.push(baton_store::NewIncident {
                instance: instance_id.to_owned(),
                task: command.task().map(str::to_owned),
                kind: baton_store::IncidentKind::StepFailed,
                reason: reason.clone(),
                command: serde_json::to_value(command).ok(),
                attempts,
                at: now,
            }),
        }
        tracing::error!(instance = %instance_id, attempts, "step failed; recorded as an incident: {reason}");
        if let Err(e) = self.inner.store.commit(vec![step]).await {
            return e.into();
        }
        let id = match &cleanup.incident {
            Some((id, _)) => Some(*id),
            None => self
                .inner
                .store
                .incidents(instance_id)
                .await
                .ok()
                .and_then(|all| all.last().map(|i| i.id)),
        };
        EngineError::IncidentRaised {
            instance: instance_id.to_owned(),
            id,
            reason,
        }
    }

    /// Applies an open incident's command again (once its cause is fixed). Applied, the incident
    /// is closed in the same commit; failing again, it stays open with one more attempt.
    pub async fn retry_incident(&self, id: i64, by: &str) -> Result<Arc<Instance>, EngineError> {
        let incident = self.open_incident(id).await?;
        let Some(payload) = incident.command.clone() else {
            let task = incident.task.as_deref().unwrap_or("the task");
            return Err(EngineError::NothingToRetry {
                id,
                hint: format!(
                    "skip or retry {task} (`baton task skip|retry`), then resolve the incident"
                ),
            });
        };
        let command: Command =
            serde_json::from_value(payload).map_err(|e| EngineError::NothingToRetry {
                id,
                hint: format!("its command cannot be read ({e}); resolve it"),
            })?;
        // An operator's command stored without its operator (a run limit's retry) is given by
        // whoever retries the incident.
        let command = match command {
            Command::RetryTask { task, by: stored } if stored.is_empty() => Command::RetryTask {
                task,
                by: by.to_owned(),
            },
            other => other,
        };
        let cleanup = Cleanup {
            incident: Some((id, by.to_owned())),
            ..Cleanup::default()
        };
        self.apply_cleaning(&incident.instance, command, cleanup)
            .await
    }

    /// Closes an open incident by hand, without applying its command.
    pub async fn resolve_incident(
        &self,
        id: i64,
        by: &str,
    ) -> Result<baton_store::Incident, EngineError> {
        self.open_incident(id).await?;
        let close = baton_store::IncidentUpdate::Close {
            id,
            by: by.to_owned(),
            resolution: "resolved".into(),
            at: self.inner.clock.now(),
        };
        self.inner
            .store
            .commit(vec![StepRecord {
                incident_updates: vec![close],
                ..StepRecord::default()
            }])
            .await?;
        self.inner
            .store
            .incident(id)
            .await?
            .ok_or(EngineError::IncidentNotFound(id))
    }

    async fn open_incident(&self, id: i64) -> Result<baton_store::Incident, EngineError> {
        let incident = self
            .inner
            .store
            .incident(id)
            .await?
            .ok_or(EngineError::IncidentNotFound(id))?;
        if !incident.is_open() {
            return Err(EngineError::IncidentClosed(id));
        }
        Ok(incident)
    }

    /// Deletes an instance, finished or not: an open one is aborted first (its running jobs are
    /// stopped, its human tasks terminated), then every human task is deleted and leaves the
    /// inbox. The instance keeps its history (which records the deletion) and takes no more
    /// commands. Its sub-processes (ForEach iterations, `call`ed instances) are deleted with it.
    pub async fn delete_instance(
        &self,
        instance_id: &str,
        by: &str,
    ) -> Result<Arc<Instance>, EngineError> {
        self.delete_because(instance_id, by, None).await
    }

    /// Deletes an instance as [`delete_instance`](Self::delete_instance) does, giving the
    /// instance `reason` (else: an operator's deletion).
    pub async fn delete_because(
        &self,
        instance_id: &str,
        by: &str,
        reason: Option<baton_core::Reason>,
    ) -> Result<Arc<Instance>, EngineError> {
        let deleted = self
            .apply(
                instance_id,
                Command::Delete {
                    by: by.to_owned(),
                    reason: reason.clone(),
                },
            )
            .await?;
        for child in self.inner.store.children(instance_id).await? {
            // A handed-off instance lives on its own: deleting the one that handed it off
            // leaves it alone.
            let independent = self.current(&child).await?.is_some_and(|c| {
                c.parent
                    .as_ref()
                    .is_some_and(|p| !p.rules().aborted_with_parent)
            });
            if independent {
                continue;
            }
            match Box::pin(self.delete_because(&child, by, reason.clone())).await {
                Ok(_) | Err(EngineError::Transition(TransitionError::InstanceDeleted(_))) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }

    /// Stardust's spawn: starts `process` (the latest version, or `version`) as a sub-process
    /// of the root of instance `from`, which must be open, with `from`'s data (by value) under
    /// `data`. Returns the spawned instance. Who may spawn what is the caller's to check
    /// ([`Definition::may_start`]).
    pub async fn spawn(
        &self,
        from: &str,
        process: &str,
        version: Option<u32>,
        data: Map<String, Value>,
        by: &str,
    ) -> Result<Arc<Instance>, EngineError> {
        let origin = self.instance(from).await?;
        if origin.status.is_terminal() {
            return Err(TransitionError::InstanceEnded(origin.status).into());
        }
        self.definition(process, version).await?;
        let carried = self.visible_data_of(&origin).await?;
        // An iteration's body is not a deployed definition: its documents take no part in the
        // mapping heuristics.
        let origin_documents = match self
            .definition(&origin.definition_id, Some(origin.definition_version))
            .await
        {
            Ok(definition) => baton_core::spawn::document_slots(&definition),
            Err(_) => Vec::new(),
        };
        let root = origin.root_id().to_owned();
        let command = Command::Spawn {
            process: process.to_owned(),
            version,
            data,
            carried,
            origin_documents,
            by: by.to_owned(),
        };
        let state = self.apply(&root, command).await?;
        let spawned = state
            .spawned
            .last()
            .map(|s| s.instance.clone())
            .ok_or_else(|| {
                EngineError::InstanceNotFound(format!("the instance spawned under {root}"))
            })?;
        Ok(Arc::new(self.instance(&spawned).await?))
    }

    /// Stardust's abort-and-start: aborts instance `id`, started in the wrong process, and
    /// starts a peer instance of `process` (the latest version, or `version`) with its data,
    /// in one commit. Returns the peer.
    pub async fn abort_and_start(
        &self,
        id: &str,
        process: &str,
        version: Option<u32>,
        by: &str,
    ) -> Result<Arc<Instance>, EngineError> {
        self.definition(process, version).await?;
        let command = Command::AbortAndStart {
            process: process.to_owned(),
            version,
            by: by.to_owned(),
        };
        let state = self.apply(id, command).await?;
        let peer = state
            .replaced_by
            .clone()
            .ok_or_else(|| EngineError::InstanceNotFound(format!("the peer of {id}")))?;
        Ok(Arc::new(self.instance(&peer).await?))
    }

    /// The data an instance sees: its own, over its parent's snapshot for a ForEach iteration.
    async fn visible_data_of(
        &self,
        instance: &Instance,
    ) -> Result<Map<String, Value>, EngineError> {
        let mut data = match self.iteration_data(instance).await? {
            Some(snapshot) => snapshot.data.clone(),
            None => Map::new(),
        };
        data.extend(instance.data.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(data)
    }

    /// On an embedded store, leases still held at start-up belong to a process that died. First,
    /// what is left of the attempts that process ran is stopped: every recorded job process
    /// group whose leader is still the recorded process (or, the leader gone, whose processes
    /// started after it) gets SIGTERM, then SIGKILL after [`KILL_GRACE`], so a new attempt never
    /// runs beside an old one. Then the dead process's leases are ended, and taken over as any
    /// expired lease is (see [`take_over_expired_leases`](Self::take_over_expired_leases)):
    /// each of its jobs runs again as a new attempt (at-least-once), recorded as a retry in
    /// history. Call it only while holding the store's engine lock, which proves the other
    /// process gone (on a store shared by several nodes, leases just run out). Returns how many
    /// jobs were re-run.
    pub async fn recover(&self) -> Result<usize, EngineError> {
        let mut stopping = tokio::task::JoinSet::new();
        for (key, process) in self.inner.store.job_processes().await? {
            stopping.spawn(async move {
                if process_group::still_running(&process) {
                    tracing::warn!(instance = %key.instance, task = %key.task, attempt = key.attempt, pgid = process.pgid, "stopping the processes of a job left by a process that died");
                    process_group::stop_group(process.pgid, KILL_GRACE).await;
                }
                key
            });
        }
        while let Some(stopped) = stopping.join_next().await {
            match stopped {
                Ok(key) => self.inner.store.forget_job_process(&key).await?,
                Err(e) => tracing::error!("stopping a dead process's job failed: {e}"),
            }
        }
        self.inner
            .store
            .end_leases_of_others(&self.inner.options.node, self.inner.clock.now())
            .await?;
        Ok(self.take_over_expired_leases().await?.rerun)
    }

    /// Commits a staged command: its steps, plus, in the same transaction, the steps of the
    /// children it aborts or recovers; then remembers the new states and carries out the
    /// effects. Returns the instance's new state.
    async fn commit_staged(
        &self,
        instance_id: &str,
        mut steps: Vec<StepRecord>,
        mut effects: Vec<Effect>,
    ) -> Result<Arc<Instance>, EngineError> {
        let children = self
            .child_steps(instance_id, &mut steps, &mut effects)
            .await?;
        let states: Vec<Arc<Instance>> = steps.iter().filter_map(|s| s.instance.clone()).collect();
        let shared: Vec<(SnapshotKey, Arc<ForEachSnapshot>)> = steps
            .iter()
            .flat_map(|s| s.share_snapshots.iter().cloned())
            .collect();
        let dropped: Vec<SnapshotKey> = steps
            .iter()
            .flat_map(|s| s.drop_snapshots.iter().cloned())
            .collect();
        self.commit_steps(steps).await?;
        for state in &states {
            self.committed(state);
        }
        for (key, snapshot) in shared {
            self.inner.snapshots.insert(key, snapshot);
        }
        for key in &dropped {
            self.inner.snapshots.remove(key);
        }
        self.after_commit(instance_id, effects);
        for (child, effects) in children {
            self.after_commit(&child, effects);
        }
        Ok(states
            .into_iter()
            .next()
            .expect("the first step holds the instance"))
    }

    /// Turns each `AbortChildren` effect into abort steps of the open children that task
    /// started (ForEach iterations, a `call`'s sub-process) and each `RecoverChild` into the
    /// recovery step of that child, appended to `steps` so they land with the parent's step or
    /// not at all: a crash cannot leave children running under an ended parent, nor a call
    /// waiting for a child nobody recovered. A child's own children follow the same way.
    /// Returns the children's effects (stopping their jobs…), to carry out after the commit.
    async fn child_steps(
        &self,
        parent: &str,
        steps: &mut Vec<StepRecord>,
        effects: &mut Vec<Effect>,
    ) -> Result<Vec<(String, Vec<Effect>)>, EngineError> {
        let mut pending = take_child_operations(parent, effects);
        let mut done = Vec::new();
        // Iterations share their body's definition: read what the core needs once per body.
        let mut known: HashMap<(String, u32), Knowledge> = HashMap::new();
        while let Some(operation) = pending.pop() {
            let (parent, children, command) = match operation {
                ChildOperation::Abort { parent, task } => {
                    let mut open = Vec::new();
                    for child in self.inner.store.children(&parent).await? {
                        let Some(state) = self.current(&child).await? else {
                            continue;
                        };
                        if !state.status.is_terminal()
                            && state
                                .parent
                                .as_ref()
                                .is_some_and(|p| p.task == task && p.rules().aborted_with_parent)
                        {
                            open.push(state);
                        }
                    }
                    let abort = Command::Abort {
                        by: format!("parent {parent}"),
                        abort_parent: false,
                    };
                    (parent, open, abort)
                }
                ChildOperation::Recover {
                    parent,
                    attempt,
                    child,
                    by,
                } => {
                    let Some(state) = self.current(&child).await? else {
                        continue;
                    };
                    (
                        parent,
                        vec![state],
                        Command::Recover {
                            by,
                            attempt: Some(attempt),
                        },
                    )
                }
            };
            for state in children {
                let definition = self
                    .definition(&state.definition_id, Some(state.definition_version))
                    .await?;
                let body = (state.definition_id.clone(), state.definition_version);
                if !known.contains_key(&body) {
                    known.insert(body.clone(), self.knowledge(&definition).await?);
                }
                let knowledge = Knowledge {
                    iteration_data: self.iteration_data(&state).await?,
                    ..known[&body].clone()
                };
                let transition = match apply_with(
                    &definition,
                    &state,
                    command.clone(),
                    self.inner.clock.now(),
                    &knowledge,
                ) {
                    Ok(transition) => transition,
                    Err(e) => {
                        if let (
                            Command::Recover {
                                attempt: Some(attempt),
                                ..
                            },
                            Some(link),
                        ) = (&command, &state.parent)
                        {
                            // The call would wait for ever: tell it at once how its child is.
                            steps[0].set_timers.push(unrecovered(
                                &parent,
                                link,
                                *attempt,
                                &state,
                                &e,
                                self.inner.clock.now(),
                            ));
                        }
                        continue;
                    }
                };
                let step = StepRecord {
                    expected_seq: state.next_seq,
                    status_before: Some(state.status),
                    ..StepRecord::default()
                };
                let (child_steps, mut child_effects) =
                    self.stage(step, &definition, transition, &knowledge, Some(&state));
                pending.extend(take_child_operations(&state.id, &mut child_effects));
                steps.extend(child_steps);
                done.push((state.id.clone(), child_effects));
            }
        }
        Ok(done)
    }

    /// Turns a transition into the steps to commit together: the instance's own step, a new
    /// child instance for each ForEach iteration it starts (whose own first steps may start
    /// more), and the first steps of the `call`ed and handed-off instances it started. Returns
    /// the steps and the effects to carry out after the commit.
    /// `old` is the instance's state before the transition (none for a new instance), so that
    /// the inbox rows of the user tasks it changed are replaced in the same commit.
    fn stage(
        &self,
        mut step: StepRecord,
        definition: &Arc<Definition>,
        transition: baton_core::Transition,
        knowledge: &Knowledge,
        old: Option<&Instance>,
    ) -> (Vec<StepRecord>, Vec<Effect>) {
        let mut steps = Vec::new();
        let mut effects_after = Vec::new();
        // First in, first out: the instance itself, then its new children in the order their
        // ids were made, so each index on the instances table grows at its end (inserted
        // backwards, its pages would split half full). Each transition comes with the process
        // definition it belongs to (iterations' bodies are found inside it).
        let mut pending = std::collections::VecDeque::from([(
            definition.clone(),
            definition.id.clone(),
            transition,
        )]);
        let mut first = true;
        while let Some((process, def_id, mut t)) = pending.pop_front() {
            // Only the instance the command was applied to has snapshots from earlier steps;
            // a new iteration shares only the ones its own first step made.
            let earlier = if first {
                Some(&knowledge.foreach_snapshots)
            } else {
                None
            };
            let mut this = if first {
                std::mem::take(&mut step)
            } else {
                StepRecord {
                    new: true,
                    ..StepRecord::default()
                }
            };
            first = false;
            this.events = t.events;
            let instance = t.instance;
            for child in std::mem::take(&mut t.children) {
                let callee = knowledge.callees.values().flatten().find(|c| {
                    c.definition.id == child.instance.definition_id
                        && c.definition.version == child.instance.definition_version
                });
                match callee {
                    Some(callee) => pending.push_back((
                        callee.definition.clone(),
                        callee.definition.id.clone(),
                        child,
                    )),
                    None => {
                        tracing::error!(child = %child.instance.id, "the definition of a started child is not among the step's callees")
                    }
                }
            }
            // The knowledge each run's iterations start with: the run's snapshot as their data.
            let mut runs: HashMap<(String, u32), Knowledge> = HashMap::new();
            for effect in &t.effects {
                if let Effect::StartIteration {
                    task,
                    attempt,
                    index,
                    item,
                } = effect
                {
                    let body_id = format!("{def_id}/{task}");
                    let Some(body) = process.body(&body_id) else {
                        tracing::error!(body = %body_id, "foreach body not found");
                        continue;
                    };
                    let run = (task.clone(), *attempt);
                    if !runs.contains_key(&run) {
                        let snapshot = shared_in(&t.effects, task, *attempt)
                            .or_else(|| earlier.and_then(|s| s.get(task)).cloned());
                        runs.insert(
                            run.clone(),
                            Knowledge {
                                iteration_data: snapshot,
                                foreach_snapshots: HashMap::new(),
                                ..knowledge.clone()
                            },
                        );
                    }
                    let placement =
                        instance.child_placement(baton_core::instance::ParentLink::iteration(
                            instance.id.clone(),
                            task.clone(),
                            *index,
                        ));
                    let child = baton_core::start_iteration(
                        &body,
                        uuid::Uuid::now_v7().to_string(),
                        placement,
                        item.clone(),
                        *attempt,
                        self.inner.clock.now(),
                        &runs[&run],
                    );
                    pending.push_back((process.clone(), body_id, child));
                }
            }
            effects_after.extend(collect_effects(
                &mut this,
                &instance,
                t.effects,
                self.inner.clock.now(),
            ));
            // Only the first step is the instance the command was applied to; the others are new.
            let before = if steps.is_empty() { old } else { None };
            this.inbox = inbox_updates(before, &instance);
            this.work_status_changed =
                before.is_some_and(|b| b.work_status != instance.work_status);
            this.documents = documents_changed(before, &instance);
            this.instance = Some(Arc::new(instance));
            steps.push(this);
        }
        (steps, effects_after)
    }

    /// [`Self::knowledge`] for a step of `instance`, with the ForEach snapshots it reads: for an
    /// iteration that shares its parent's data, that run's snapshot; for each ForEach task of
    /// the instance that may start more iterations, its own.
    async fn knowledge_for(
        &self,
        definition: &Definition,
        instance: &Instance,
    ) -> Result<Knowledge, EngineError> {
        let mut knowledge = self.knowledge(definition).await?;
        knowledge.iteration_data = self.iteration_data(instance).await?;
        if instance.status.is_terminal() {
            return Ok(knowledge);
        }
        for (task, state) in definition.tasks.iter().zip(&instance.tasks) {
            let (Some(progress), baton_core::TaskStatus::Running { attempt, .. }) =
                (&state.foreach, &state.status)
            else {
                continue;
            };
            if progress.next < progress.total && progress.legacy_items.is_empty() {
                let key = SnapshotKey {
                    instance: instance.id.clone(),
                    task: task.id.clone(),
                    attempt: *attempt,
                };
                knowledge
                    .foreach_snapshots
                    .insert(task.id.clone(), self.snapshot(&key).await?);
            }
        }
        Ok(knowledge)
    }

    /// The snapshot an open iteration reads its data through, if it shares its parent's.
    async fn iteration_data(
        &self,
        instance: &Instance,
    ) -> Result<Option<Arc<ForEachSnapshot>>, EngineError> {
        let (Some(parent), Some(attempt)) = (
            &instance.parent,
            instance.iteration.as_ref().and_then(|it| it.snapshot),
        ) else {
            return Ok(None);
        };
        if instance.status.is_terminal() {
            return Ok(None);
        }
        let key = SnapshotKey {
            instance: parent.instance.clone(),
            task: parent.task.clone(),
            attempt,
        };
        Ok(Some(self.snapshot(&key).await?))
    }

    /// A stored snapshot, from memory when it was read or committed here before. One that a
    /// state names but the store lacks is damaged stored data: the step becomes an incident.
    async fn snapshot(&self, key: &SnapshotKey) -> Result<Arc<ForEachSnapshot>, EngineError> {
        if let Some(snapshot) = self.inner.snapshots.get(key) {
            return Ok(snapshot);
        }
        let Some(snapshot) = self.inner.store.snapshot(key).await? else {
            return Err(StoreError::CorruptState {
                instance: key.instance.clone(),
                message: format!(
                    "the snapshot of ForEach task `{}` attempt {} is missing",
                    key.task, key.attempt
                ),
            }
            .into());
        };
        let snapshot = Arc::new(snapshot);
        self.inner.snapshots.insert(key.clone(), snapshot.clone());
        Ok(snapshot)
    }

    /// What the core needs to know beyond the instance: the definition's learned expected
    /// runtimes and the deployed calendars (read only when the definition uses them).
    async fn knowledge(&self, definition: &Definition) -> Result<Knowledge, EngineError> {
        let mut knowledge = Knowledge {
            eval_limits: self.inner.options.eval_limits,
            limits: self.inner.options.limits,
            max_foreach_items: self.inner.options.max_foreach_items,
            max_depth: self.inner.options.max_depth,
            max_children_per_step: self.inner.options.max_children_per_step,
            ..Knowledge::default()
        };
        knowledge.expected_runtimes = self.expected_runtimes(definition).await?;
        knowledge.callees = self.callees(definition).await?;
        let uses_calendars = |d: &Definition| d.any_task(&|t| !t.controls.calendars.is_empty());
        if uses_calendars(definition)
            || knowledge
                .callees
                .values()
                .flatten()
                .any(|c| uses_calendars(&c.definition))
        {
            knowledge.calendars = self.deployed_calendars().await?;
        }
        Ok(knowledge)
    }

    /// The latest version of every deployed calendar, by id (parsed once per version).
    pub(crate) async fn deployed_calendars(
        &self,
    ) -> Result<crate::schedules::Calendars, EngineError> {
        let mut calendars = crate::schedules::Calendars::new();
        for stored in self.inner.store.calendars().await? {
            let key = (stored.id.clone(), stored.version);
            let cached = self
                .inner
                .calendars
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .cloned();
            let calendar = match cached {
                Some(calendar) => calendar,
                None => {
                    let calendar = Arc::new(parse_calendar(&stored.file, &stored.source)?);
                    self.inner
                        .calendars
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(key, calendar.clone());
                    calendar
                }
            };
            calendars.insert(calendar.id.clone(), calendar);
        }
        Ok(calendars)
    }

    /// The learned expected runtimes of `definition`'s tasks, read only if a task uses them.
    async fn expected_runtimes(
        &self,
        definition: &Definition,
    ) -> Result<HashMap<String, std::time::Duration>, EngineError> {
        if definition.any_task(&|t| t.controls.latest_end.is_some()) {
            return Ok(self.inner.store.expected_runtimes(&definition.id).await?);
        }
        Ok(HashMap::new())
    }

    /// Resolves the processes `definition`'s `call` and `handoff` tasks start, and those they
    /// start in turn (their first steps run in the same step), each once: the latest deployed
    /// version, or the pinned one. One that is not deployed is recorded as such (the task that
    /// names it ends `ended_not_ok` when it starts). At most [`MAX_CALLEES`] are resolved.
    async fn callees(
        &self,
        definition: &Definition,
    ) -> Result<Arc<baton_core::step::Callees>, EngineError> {
        let pending = definition.callees();
        if pending.is_empty() {
            return Ok(Arc::default());
        }
        Ok(Arc::new(
            self.resolve_callees(pending, baton_core::step::Callees::new())
                .await?,
        ))
    }

    /// Resolves `pending` and what they start in turn into `callees` (see [`Self::callees`]).
    async fn resolve_callees(
        &self,
        mut pending: Vec<baton_core::definition::ProcessRef>,
        mut callees: baton_core::step::Callees,
    ) -> Result<baton_core::step::Callees, EngineError> {
        while let Some(target) = pending.pop() {
            if callees.contains_key(&target) {
                continue;
            }
            if callees.len() >= MAX_CALLEES {
                callees.insert(
                    target,
                    Err(format!(
                        "a step resolves at most {MAX_CALLEES} processes to start"
                    )),
                );
                continue;
            }
            let version = match target.version {
                Some(version) => Some(version),
                None => self.inner.store.latest_version(&target.process).await?,
            };
            let resolved = match version {
                None => Err("it is not deployed".to_owned()),
                Some(version) => match self.definition(&target.process, Some(version)).await {
                    Ok(callee) => {
                        pending.extend(callee.callees());
                        let expected_runtimes = self.expected_runtimes(&callee).await?;
                        Ok(Arc::new(baton_core::step::Callee {
                            definition: callee,
                            expected_runtimes,
                        }))
                    }
                    Err(EngineError::VersionNotFound { version, .. }) => {
                        Err(format!("version {version} is not deployed"))
                    }
                    Err(e) if e.is_instance_fault() => Err(e.to_string()),
                    Err(e) => return Err(e),
                },
            };
            callees.insert(target, resolved);
        }
        Ok(callees)
    }

    /// Applies every timer that is due: each fired timer is removed in the same transaction as
    /// the step it causes, so it fires once. Timers of different instances fire concurrently
    /// (their steps share group commits); those of one instance queue on its lock. Returns how
    /// many fired.
    pub async fn fire_due_timers(&self, limit: usize) -> Result<usize, EngineError> {
        let due = self.claim_due_timers(WorkScope::All, limit).await?;
        let fired = due.len();
        let mut firing = tokio::task::JoinSet::new();
        for (instance, timers) in group_by_instance(due) {
            let engine = self.clone();
            firing.spawn(async move { engine.fire_timers(&instance, timers).await });
        }
        let mut first_error = None;
        while let Some(result) = firing.join_next().await {
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => tracing::error!("a timer task panicked: {e}"),
            }
        }
        first_error.map_or(Ok(fired), Err)
    }

    /// Leases due timers (of the instances in `scope`) to this node for [`TIMER_LEASE`].
    pub(crate) async fn claim_due_timers(
        &self,
        scope: WorkScope<'_>,
        limit: usize,
    ) -> Result<Vec<ClaimedTimer>, EngineError> {
        Ok(self
            .inner
            .store
            .claim_timers(
                &self.inner.options.node,
                scope,
                limit,
                TIMER_LEASE,
                self.inner.clock.now(),
            )
            .await?)
    }

    /// Fires due timers of one instance: alone as its command, several as one step.
    pub(crate) async fn fire_timers(
        &self,
        instance: &str,
        timers: Vec<ClaimedTimer>,
    ) -> Result<(), EngineError> {
        let mut timers = self.with_more_ends(instance, timers).await?;
        match timers.len() {
            1 => self.fire_timer(timers.pop().expect("one timer")).await,
            _ => match self.fire_timers_of(instance, timers.clone()).await {
                // One of them fails: fire each alone, so the failing one becomes an incident.
                Err(e) if e.is_instance_fault() => {
                    for timer in timers {
                        self.fire_timer(timer).await?;
                    }
                    Ok(())
                }
                other => other,
            },
        }
    }

    /// For a ForEach parent hearing of iteration ends: all its due timers, up to
    /// [`ENDS_PER_STEP`], so one step takes about as many ends as it starts iterations (the
    /// worker reads due timers across instances in smaller batches).
    async fn with_more_ends(
        &self,
        instance: &str,
        mut timers: Vec<ClaimedTimer>,
    ) -> Result<Vec<ClaimedTimer>, EngineError> {
        if timers.len() >= ENDS_PER_STEP
            || !timers.iter().any(|t| t.timer.key.contains(ITERATION_END))
        {
            return Ok(timers);
        }
        // Those already claimed are leased, so the claim passes them over.
        let more = self
            .claim_due_timers(WorkScope::Instance(instance), ENDS_PER_STEP - timers.len())
            .await?;
        timers.extend(more);
        Ok(timers)
    }

    /// Applies several due timers of one instance in order, as one step; every fired timer is
    /// removed in that step. A timer whose command is refused is removed all the same.
    async fn fire_timers_of(
        &self,
        instance_id: &str,
        timers: Vec<ClaimedTimer>,
    ) -> Result<(), EngineError> {
        match self
            .step_of(instance_id, self.fire_timers_locked(instance_id, &timers))
            .await
        {
            // Another node took them over (this one was too slow), or a step set them again.
            Err(EngineError::Store(StoreError::TimerLeaseLost { key, .. })) => {
                tracing::info!(instance = %instance_id, key = %key, "timers not fired: their lease was lost");
                Ok(())
            }
            other => other,
        }
    }

    async fn fire_timers_locked(
        &self,
        instance_id: &str,
        claimed: &[ClaimedTimer],
    ) -> Result<(), EngineError> {
        let cleared: Vec<(String, String)> = claimed
            .iter()
            .map(|t| (t.timer.instance.clone(), t.timer.key.clone()))
            .collect();
        let fence = |now| {
            claimed
                .iter()
                .map(|t| timer_lock(&self.inner.options.node, t, now))
                .collect::<Vec<_>>()
        };
        let timers: Vec<&Timer> = claimed.iter().map(|t| &t.timer).collect();
        let mut attempts = 0;
        loop {
            let Some(instance) = self.current(instance_id).await? else {
                let step = StepRecord {
                    clear_timers: cleared.clone(),
                    timer_fence: fence(self.inner.clock.now()),
                    ..StepRecord::default()
                };
                return Ok(self.inner.store.commit(vec![step]).await?);
            };
            let definition = self
                .definition(&instance.definition_id, Some(instance.definition_version))
                .await?;
            let knowledge = Arc::new(self.knowledge_for(&definition, &instance).await?);
            let now = self.inner.clock.now();
            let mut commands = Vec::with_capacity(timers.len());
            for timer in &timers {
                match serde_json::from_value::<Command>(timer.payload.clone()) {
                    Ok(command) => commands.push((timer.key.clone(), command)),
                    Err(e) => {
                        tracing::warn!(instance = %timer.instance, key = %timer.key, "dropping a timer whose command cannot be read: {e}")
                    }
                }
            }
            let commands = gather_iteration_ends(commands);
            let (state, events, effects, children) = {
                let (definition, knowledge, start) =
                    (definition.clone(), knowledge.clone(), instance.clone());
                compute(&definition.clone(), instance_id, move || {
                    // Each command's transition copies the state it starts from; the stored
                    // state is only copied if no command applied (a big state costs a copy).
                    let mut state: Option<Instance> = None;
                    let (mut events, mut effects, mut children) = (Vec::new(), Vec::new(), Vec::new());
                    for (key, command) in commands {
                        match apply_with(&definition, state.as_ref().unwrap_or(&start), command, now, &knowledge) {
                            Ok(t) => {
                                state = Some(t.instance);
                                events.extend(t.events);
                                effects.extend(t.effects);
                                children.extend(t.children);
                            }
                            Err(e) => tracing::info!(instance = %start.id, key = %key, "timer not applied: {e}"),
                        }
                    }
                    (state.unwrap_or_else(|| Instance::clone(&start)), events, effects, children)
                })
                .await?
            };
            if events.is_empty() && effects.is_empty() {
                let step = StepRecord {
                    clear_timers: cleared.clone(),
                    timer_fence: fence(now),
                    ..StepRecord::default()
                };
                return Ok(self.inner.store.commit(vec![step]).await?);
            }
            let transition = baton_core::Transition {
                instance: state,
                events,
                effects: merge_effects(effects),
                children,
            };
            let step = StepRecord {
                expected_seq: instance.next_seq,
                status_before: Some(instance.status),
                clear_timers: cleared.clone(),
                timer_fence: fence(now),
                ..StepRecord::default()
            };
            let (steps, effects) =
                self.stage(step, &definition, transition, &knowledge, Some(&instance));
            match self.commit_staged(instance_id, steps, effects).await {
                Ok(_) => return Ok(()),
                Err(EngineError::Store(StoreError::Conflict(_))) if attempts < CONFLICT_RETRIES => {
                    tokio::time::sleep(conflict_backoff(attempts)).await;
                    attempts += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn fire_timer(&self, claimed: ClaimedTimer) -> Result<(), EngineError> {
        let timer = &claimed.timer;
        let cleanup = Cleanup {
            timer: Some((timer.instance.clone(), timer.key.clone())),
            timer_lease: Some((self.inner.options.node.clone(), claimed.lease)),
            ..Cleanup::default()
        };
        match serde_json::from_value::<Command>(timer.payload.clone()) {
            Ok(command) => match self.apply_cleaning(&timer.instance, command, cleanup).await {
                Ok(_) => Ok(()),
                Err(EngineError::Transition(e)) => {
                    tracing::info!(instance = %timer.instance, key = %timer.key, "timer not applied: {e}");
                    Ok(())
                }
                // Another node took it over (this one was too slow), or a step set it again.
                Err(EngineError::Store(StoreError::TimerLeaseLost { .. })) => {
                    tracing::info!(instance = %timer.instance, key = %timer.key, "timer not fired: its lease was lost");
                    Ok(())
                }
                // Recorded; the worker goes on with everyone else.
                Err(EngineError::IncidentRaised { .. }) => Ok(()),
                Err(e) => Err(e),
            },
            Err(e) => {
                tracing::warn!(instance = %timer.instance, key = %timer.key, "dropping a timer whose command cannot be read: {e}");
                let step = StepRecord {
                    timer_fence: cleanup
                        .timer_lock(self.inner.clock.now())
                        .into_iter()
                        .collect(),
                    clear_timers: cleanup.timer.into_iter().collect(),
                    ..StepRecord::default()
                };
                match self.inner.store.commit(vec![step]).await {
                    Ok(()) | Err(StoreError::TimerLeaseLost { .. }) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// Commits instance steps (and what goes with them): timed and counted, and, once durable,
    /// published to the change feed. The change records are built only while someone listens.
    async fn commit_steps(&self, steps: Vec<StepRecord>) -> Result<(), EngineError> {
        let changes = if self.inner.feed.listened() {
            changes_of(&steps)
        } else {
            Vec::new()
        };
        let mut instance_steps = 0;
        // Instances that start or end here: (process, started, the terminal status reached).
        let mut counted = Vec::new();
        for step in &steps {
            let Some(instance) = &step.instance else {
                continue;
            };
            instance_steps += 1;
            let ended = instance.status.is_terminal()
                && step
                    .status_before
                    .is_none_or(|before| !before.is_terminal());
            if step.new || ended {
                counted.push((
                    instance.definition_id.clone(),
                    step.new,
                    ended.then_some(instance.status),
                ));
            }
        }
        let subscribed: Vec<(String, Option<String>)> = steps
            .iter()
            .flat_map(|s| {
                s.subscribe
                    .iter()
                    .map(|sub| (sub.event.clone(), sub.key.clone()))
            })
            .collect();
        let began = Instant::now();
        self.inner.store.commit(steps).await?;
        if !subscribed.is_empty() {
            self.inner
                .fresh_subscriptions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(subscribed);
        }
        self.inner
            .metrics
            .commit_took(began.elapsed(), instance_steps);
        for (process, started, ended) in counted {
            self.inner.metrics.instance(&process, started, ended);
        }
        self.inner.feed.publish(changes);
        Ok(())
    }

    /// Waits until the store tells of a committed step (or `timeout` passed): on an embedded
    /// store one this process committed, on a shared one any node's.
    pub async fn wait_for_change(&self, timeout: std::time::Duration) {
        let mut changes = self.inner.store.subscribe_changes();
        let _ = tokio::time::timeout(timeout, changes.recv()).await;
    }

    /// Carries out what a committed step leaves to this process. Waking waiters is not among
    /// it: the store's change notifications do that, on every node (see [`baton_store::ChangeNotifier`]).
    fn after_commit(&self, instance: &str, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                // Committed with the step (`enqueue`, `set_timers`): the store tells the workers.
                Effect::RunJob(_) | Effect::SetTimer { .. } | Effect::NotifyParent { .. } => {}
                Effect::RunLimitReached { task, limit } => {
                    tracing::warn!(instance = %instance, task = %task, limit, "the task reached its run limit; it is blocked and an incident was raised");
                }
                Effect::LoopLimitReached { task, limit, .. } => {
                    tracing::warn!(instance = %instance, task = %task, limit, "the decision's loop reached its loop limit; it is blocked and an incident was raised");
                }
                Effect::ClearTimer { .. }
                | Effect::RecordRuntime { .. }
                | Effect::StartIteration { .. }
                | Effect::ShareSnapshot { .. }
                | Effect::DropSnapshot { .. } => {}
                // Committed with the step (`subscribe`, `unsubscribe`).
                Effect::Subscribe { .. } | Effect::Unsubscribe { .. } => {}
                // Committed with the step (`copy_documents`).
                Effect::CopyDocument { .. } => {}
                // Recorded in history (`people_notified`); Baton sends no mail itself yet.
                Effect::NotifyPeople {
                    task,
                    human_task,
                    escalation,
                    to,
                } => {
                    tracing::info!(instance = %instance, task = %task, human_task = %human_task, escalation = %escalation, to = %to, "escalation: notify");
                }
                // Turned into steps of the children before the commit (`abort_children`,
                // `recover_children`).
                Effect::AbortChildren { .. } | Effect::RecoverChild { .. } => {}
                Effect::CancelJob { task, attempt } => {
                    // The queue row went with the step; stop the process if it runs here.
                    let key = JobKey {
                        instance: instance.to_owned(),
                        task,
                        attempt,
                    };
                    if let Some(stop) = self
                        .inner
                        .running
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&key)
                    {
                        let _ = stop.send(Stop::Cancel);
                    }
                }
            }
        }
    }

    fn instance_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .inner
            .instance_locks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        locks.entry(id.to_owned()).or_default().clone()
    }

    fn release_instance_lock(&self, id: &str, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut locks = self
            .inner
            .instance_locks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Ours and the map's: nobody else waits, so the entry can go (the map stays small).
        if Arc::strong_count(&lock) == 2 {
            locks.remove(id);
        }
    }
}

/// The effects of several transitions of one instance, applied in order, as one step's: the
/// last operation on a timer key wins, and a job queued and canceled within them is neither
/// queued nor canceled (a step stores removals before additions).
/// What a step does to a child instance in the same commit.
enum ChildOperation {
    /// Abort the open children `task` of `parent` started.
    Abort { parent: String, task: String },
    /// Recover `child`, re-linked to attempt `attempt` of its parent's call task.
    Recover {
        parent: String,
        attempt: u32,
        child: String,
        by: String,
    },
}

/// Removes the `AbortChildren` and `RecoverChild` effects of `instance`'s step.
fn take_child_operations(instance: &str, effects: &mut Vec<Effect>) -> Vec<ChildOperation> {
    let mut operations = Vec::new();
    effects.retain(|effect| match effect {
        Effect::AbortChildren { task } => {
            operations.push(ChildOperation::Abort {
                parent: instance.to_owned(),
                task: task.clone(),
            });
            false
        }
        Effect::RecoverChild {
            attempt, child, by, ..
        } => {
            operations.push(ChildOperation::Recover {
                parent: instance.to_owned(),
                attempt: *attempt,
                child: child.clone(),
                by: by.clone(),
            });
            false
        }
        _ => true,
    });
    operations
}

/// The end a call hears of when its child cannot be recovered: the child as it is, and why.
fn unrecovered(
    parent: &str,
    link: &baton_core::instance::ParentLink,
    attempt: u32,
    child: &Instance,
    error: &TransitionError,
    now: chrono::DateTime<chrono::Utc>,
) -> Timer {
    let reason = baton_core::Reason::ChildRefused {
        process: child.definition_id.clone(),
        problem: format!("it could not be recovered: {error}"),
    };
    let status = if child.status.is_terminal() {
        child.status
    } else {
        baton_core::InstanceStatus::Failed
    };
    let (key, command) = match link.kind {
        baton_core::instance::LinkKind::Spawned => (
            format!("spawned_ended/{}", child.id),
            Command::SpawnedEnded {
                child: child.id.clone(),
                status,
                reason: Some(reason),
                aborted_by: None,
            },
        ),
        _ => (
            format!("{}/child_ended/{attempt}", link.task),
            Command::ChildEnded {
                task: link.task.clone(),
                attempt,
                child: child.id.clone(),
                status,
                reason: Some(reason),
                data: Map::new(),
                aborted_by: None,
            },
        ),
    };
    Timer {
        instance: parent.to_owned(),
        key,
        due_at: now,
        payload: serde_json::to_value(command).unwrap_or_default(),
    }
}

/// Due timers grouped by instance, in due order (the earliest instance first): several timers
/// of one instance (a ForEach parent hearing of many iterations) make one step, with one lock,
/// one state read and one commit.
pub(crate) fn group_by_instance(due: Vec<ClaimedTimer>) -> Vec<(String, Vec<ClaimedTimer>)> {
    let mut groups: Vec<(String, Vec<ClaimedTimer>)> = Vec::with_capacity(due.len());
    let mut position: HashMap<String, usize> = HashMap::with_capacity(due.len());
    for claimed in due {
        match position.get(&claimed.timer.instance) {
            Some(&i) => groups[i].1.push(claimed),
            None => {
                position.insert(claimed.timer.instance.clone(), groups.len());
                groups.push((claimed.timer.instance.clone(), vec![claimed]));
            }
        }
    }
    groups
}

fn merge_effects(effects: Vec<Effect>) -> Vec<Effect> {
    let mut merged: Vec<Option<Effect>> = effects.into_iter().map(Some).collect();
    for i in 0..merged.len() {
        let later = |j: usize, merged: &[Option<Effect>]| j > i && merged[j].is_some();
        match merged[i].clone() {
            Some(Effect::SetTimer { key, .. } | Effect::ClearTimer { key }) => {
                let overridden = (0..merged.len()).any(|j| {
                    later(j, &merged) && matches!(&merged[j], Some(Effect::SetTimer { key: k, .. } | Effect::ClearTimer { key: k }) if *k == key)
                });
                if overridden {
                    merged[i] = None;
                }
            }
            Some(Effect::RunJob(request)) => {
                let canceled = (0..merged.len()).find(|&j| {
                    later(j, &merged) && matches!(&merged[j], Some(Effect::CancelJob { task, attempt }) if *task == request.task && *attempt == request.attempt)
                });
                if let Some(j) = canceled {
                    merged[i] = None;
                    merged[j] = None;
                }
            }
            _ => {}
        }
    }
    merged.into_iter().flatten().collect()
}

/// A deployed file, checked and compiled.
enum Checked {
    Definition(Definition),
    Calendar(Arc<Calendar>),
}

/// What delivered a command and goes with its step.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cleanup {
    /// `(instance, key)` of the timer that fired.
    timer: Option<(String, String)>,
    /// `(id, by)` of the incident whose command is retried.
    incident: Option<(i64, String)>,
    /// The owner of the lease on the job attempt whose result this is, and the lease (for a
    /// node; an external worker names only itself): the step commits only while they hold it
    /// (fencing).
    lock: Option<(String, Option<u64>)>,
    /// The node and the lease it holds on the timer that fired: the step commits only while
    /// the lease is held.
    timer_lease: Option<(String, u64)>,
    /// The buffered event whose delivery this is: the step commits only while it is still
    /// buffered, so only one instance consumes it.
    consume_event: Option<String>,
}

impl Cleanup {
    /// For a result under `owner`'s lease on the job it reports on (`lease`: the lease's
    /// fencing token, when the owner is a node).
    pub(crate) fn fenced(owner: &str, lease: Option<u64>) -> Self {
        Self {
            lock: Some((owner.to_owned(), lease)),
            ..Self::default()
        }
    }

    /// The fence of the fired timer, as of `now`.
    fn timer_lock(&self, now: chrono::DateTime<chrono::Utc>) -> Option<TimerLock> {
        let ((instance, key), (owner, lease)) = (self.timer.clone()?, self.timer_lease.clone()?);
        Some(TimerLock {
            instance,
            key,
            owner,
            lease,
            now,
        })
    }

    /// For the delivery of buffered event `id`, which only one instance may consume.
    pub(crate) fn consuming(id: Option<String>) -> Self {
        Self {
            consume_event: id,
            ..Self::default()
        }
    }

    /// Closes the retried incident, if any.
    fn closing(
        &self,
        at: chrono::DateTime<chrono::Utc>,
        resolution: &str,
    ) -> Option<baton_store::IncidentUpdate> {
        self.incident
            .as_ref()
            .map(|(id, by)| baton_store::IncidentUpdate::Close {
                id: *id,
                by: by.clone(),
                resolution: resolution.to_owned(),
                at,
            })
    }
}

/// The fence of a timer `node` claimed, as of `now`.
fn timer_lock(node: &str, claimed: &ClaimedTimer, now: chrono::DateTime<chrono::Utc>) -> TimerLock {
    TimerLock {
        instance: claimed.timer.instance.clone(),
        key: claimed.timer.key.clone(),
        owner: node.to_owned(),
        lease: claimed.lease,
        now,
    }
}

/// How often a step whose computation panics is tried before it becomes an incident.
const STEP_ATTEMPTS: u32 = 3;

/// Computes a core transition. Inline when the definition's expressions cannot iterate (their
/// work is bounded by their size: microseconds); on tokio's blocking pool when they can, so an
/// evaluation running up to its budget never holds an async thread and other instances keep
/// moving. A panic in the core is caught and returned as [`EngineError::StepPanicked`], for
/// the caller to retry or record as an incident; it never takes the process down.
async fn compute<T: Send + 'static>(
    definition: &Definition,
    instance: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, EngineError> {
    let caught = if definition.iterates {
        match tokio::task::spawn_blocking(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        })
        .await
        {
            Ok(caught) => caught,
            Err(e) => Err(e.into_panic()),
        }
    } else {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
    };
    caught.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        EngineError::StepPanicked {
            instance: instance.to_owned(),
            message: format!("the engine hit a defect computing it: {message}"),
        }
    })
}

/// The incident a task blocked by a limit raises (its run limit, a decision's loop limit):
/// retrying it retries the task, which gives the limit a fresh count.
fn limit_incident(
    instance: &str,
    task: &str,
    kind: baton_store::IncidentKind,
    reason: baton_core::Reason,
    limit: u32,
    now: chrono::DateTime<chrono::Utc>,
) -> baton_store::NewIncident {
    baton_store::NewIncident {
        instance: instance.to_owned(),
        task: Some(task.to_owned()),
        kind,
        reason: reason.to_string(),
        command: serde_json::to_value(Command::RetryTask {
            task: task.to_owned(),
            by: String::new(),
        })
        .ok(),
        attempts: limit,
        at: now,
    }
}

/// Moves job, timer and runtime effects into the step (so they commit with it) and returns
/// all effects for after the commit.
fn collect_effects(
    step: &mut StepRecord,
    instance: &Instance,
    effects: Vec<Effect>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Effect> {
    let id = &instance.id;
    for effect in &effects {
        match effect {
            Effect::RunJob(request) => step.enqueue.push(request.clone()),
            Effect::CancelJob { task, attempt } => step.complete.push(JobKey {
                instance: id.clone(),
                task: task.clone(),
                attempt: *attempt,
            }),
            Effect::SetTimer {
                key,
                due_at,
                command,
            } => step.set_timers.push(Timer {
                instance: id.clone(),
                key: key.clone(),
                due_at: *due_at,
                payload: serde_json::to_value(command).unwrap_or_default(),
            }),
            Effect::ClearTimer { key } => step.clear_timers.push((id.clone(), key.clone())),
            Effect::RecordRuntime { task, duration_ms } => step.runtimes.push(RuntimeSample {
                process: instance.definition_id.clone(),
                task: task.clone(),
                duration_ms: *duration_ms,
            }),
            // The parent hears of the end through a timer due now, committed with this step:
            // durable, delivered at least once, and applied once by the parent.
            Effect::NotifyParent {
                parent,
                status,
                reason,
                data,
                aborted_by,
            } => {
                let (key, command) = match parent.kind {
                    baton_core::instance::LinkKind::Spawned => (
                        format!("spawned_ended/{id}"),
                        Command::SpawnedEnded {
                            child: id.clone(),
                            status: *status,
                            reason: reason.clone(),
                            aborted_by: aborted_by.clone(),
                        },
                    ),
                    baton_core::instance::LinkKind::Iteration => (
                        format!("{}{ITERATION_END}{}", parent.task, parent.index),
                        Command::IterationEnded {
                            task: parent.task.clone(),
                            index: parent.index,
                            status: *status,
                        },
                    ),
                    _ => (
                        format!("{}/child_ended/{}", parent.task, parent.attempt),
                        Command::ChildEnded {
                            task: parent.task.clone(),
                            attempt: parent.attempt,
                            child: id.clone(),
                            status: *status,
                            reason: reason.clone(),
                            data: data.clone(),
                            aborted_by: aborted_by.clone(),
                        },
                    ),
                };
                step.set_timers.push(Timer {
                    instance: parent.instance.clone(),
                    key,
                    due_at: now,
                    payload: serde_json::to_value(command).unwrap_or_default(),
                });
            }
            // The incident commits with the step that blocked the task; retrying it retries the
            // task (which gives the run limit a fresh count).
            Effect::RunLimitReached { task, limit } => step.raise_incidents.push(limit_incident(
                id,
                task,
                baton_store::IncidentKind::RunLimit,
                baton_core::Reason::RunLimit { limit: *limit },
                *limit,
                now,
            )),
            // Retrying it retries the decision, which gives its loops a fresh count.
            Effect::LoopLimitReached { task, to, limit } => {
                step.raise_incidents.push(limit_incident(
                    id,
                    task,
                    baton_store::IncidentKind::LoopLimit,
                    baton_core::Reason::LoopLimit {
                        to: to.clone(),
                        limit: *limit,
                    },
                    *limit,
                    now,
                ))
            }
            Effect::ShareSnapshot {
                task,
                attempt,
                snapshot,
            } => {
                step.share_snapshots.push((
                    SnapshotKey {
                        instance: id.clone(),
                        task: task.clone(),
                        attempt: *attempt,
                    },
                    snapshot.clone(),
                ));
            }
            Effect::DropSnapshot { task, attempt } => step.drop_snapshots.push(SnapshotKey {
                instance: id.clone(),
                task: task.clone(),
                attempt: *attempt,
            }),
            Effect::CopyDocument { from, to, by } => {
                step.copy_documents.push(baton_store::DocumentCopy {
                    from: from.clone(),
                    to: to.clone(),
                    by: by.clone(),
                    at: now,
                })
            }
            Effect::Subscribe { task, event, key } => {
                step.subscribe.push(baton_store::Subscription {
                    instance: id.clone(),
                    task: task.clone(),
                    event: event.clone(),
                    key: key.clone(),
                });
            }
            Effect::Unsubscribe { task } => step.unsubscribe.push((id.clone(), task.clone())),
            Effect::StartIteration { .. }
            | Effect::AbortChildren { .. }
            | Effect::RecoverChild { .. }
            | Effect::NotifyPeople { .. } => {}
        }
    }
    effects
}

/// The documents an instance's data refers to after a step, if they are not the ones it
/// referred to before (for a new instance: if there are any), for the store's index of
/// references.
fn documents_changed(before: Option<&Instance>, after: &Instance) -> Option<Vec<String>> {
    let now = baton_core::data_type::referenced_documents(&after.data);
    let then = before
        .map(|b| baton_core::data_type::referenced_documents(&b.data))
        .unwrap_or_default();
    (now != then).then(|| now.into_iter().collect())
}

/// The snapshot a transition's own `ShareSnapshot` effect made for run `(task, attempt)`.
fn shared_in(effects: &[Effect], task: &str, attempt: u32) -> Option<Arc<ForEachSnapshot>> {
    effects.iter().find_map(|effect| match effect {
        Effect::ShareSnapshot {
            task: t,
            attempt: a,
            snapshot,
        } if t == task && *a == attempt => Some(snapshot.clone()),
        _ => None,
    })
}

/// Gathers the iteration ends among due timers' commands into one `IterationsEnded` per ForEach
/// task, where the first of them was: a parent hearing of a thousand ends computes, records and
/// commits one step, not a thousand. (Ends count the same in any order.)
fn gather_iteration_ends(commands: Vec<(String, Command)>) -> Vec<(String, Command)> {
    let mut gathered: Vec<(String, Command)> = Vec::with_capacity(commands.len());
    let mut batch_of: HashMap<String, usize> = HashMap::new();
    for (key, command) in commands {
        let Command::IterationEnded {
            task,
            index,
            status,
        } = command
        else {
            gathered.push((key, command));
            continue;
        };
        let end = baton_core::event::IterationEnd { index, status };
        match batch_of.get(&task) {
            Some(&at) => {
                if let Command::IterationsEnded { ends, .. } = &mut gathered[at].1 {
                    ends.push(end);
                }
            }
            None => {
                batch_of.insert(task.clone(), gathered.len());
                gathered.push((
                    key,
                    Command::IterationsEnded {
                        task,
                        ends: vec![end],
                    },
                ));
            }
        }
    }
    gathered
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::{JobRequest, TimerKind};

    fn timer(key: &str, clear: bool) -> Effect {
        if clear {
            Effect::ClearTimer { key: key.into() }
        } else {
            let command = Command::TimerFired {
                task: "t".into(),
                timer: TimerKind::PreconditionCheck,
            };
            Effect::SetTimer {
                key: key.into(),
                due_at: chrono::Utc::now(),
                command,
            }
        }
    }

    fn job(task: &str, attempt: u32) -> Effect {
        Effect::RunJob(JobRequest {
            instance: "i".into(),
            task: task.into(),
            attempt,
            command: vec!["true".into()],
            workdir: None,
            env: Vec::new(),
            timeout_ms: None,
            topic: None,
            data: Map::new(),
        })
    }

    #[test]
    fn merged_effects_keep_the_last_operation_on_each_timer() {
        let merged = merge_effects(vec![
            timer("a", false),
            timer("b", false),
            timer("a", true),
            timer("b", true),
            timer("b", false),
        ]);
        assert_eq!(merged.len(), 2);
        assert!(matches!(&merged[0], Effect::ClearTimer { key } if key == "a"));
        assert!(matches!(&merged[1], Effect::SetTimer { key, .. } if key == "b"));
    }

    #[test]
    fn a_job_queued_and_canceled_in_merged_steps_is_neither() {
        let cancel = Effect::CancelJob {
            task: "x".into(),
            attempt: 1,
        };
        let merged = merge_effects(vec![job("x", 1), job("y", 1), cancel.clone()]);
        assert_eq!(merged, vec![job("y", 1)]);
        // A cancel of a job queued in an earlier step stays.
        assert_eq!(merge_effects(vec![cancel.clone()]), vec![cancel]);
    }

    // -----------------------------------------------------------------------------------
    // Recovery stops what a dead worker left running

    use std::time::Duration;

    use baton_store::{JobProcess, JobQueue};
    use baton_store_sqlite::{Durability, SqliteStore};

    const ONE_JOB: &str = "
id: one-job
tasks:
  - id: work
    kind: job
    command: [sh, -c, 'echo working']
";

    /// An engine whose one job was leased by a worker that then died; returns the job's key.
    async fn left_by_a_dead_worker(dir: &tempfile::TempDir) -> (Engine<SqliteStore>, JobKey) {
        let store = SqliteStore::open(dir.path().join("baton.db"), Durability::Normal).unwrap();
        let engine = Engine::new(
            store,
            Arc::new(crate::SystemClock),
            EngineOptions {
                node: "test".into(),
                ..EngineOptions::default()
            },
        );
        engine.deploy("one-job.yaml", ONE_JOB).await.unwrap();
        let instance = engine.start("one-job", Map::new()).await.unwrap();
        let claimed = engine
            .store()
            .claim_jobs(
                "dead-node",
                10,
                Duration::from_secs(300),
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        (
            engine,
            JobKey {
                instance: instance.id.clone(),
                task: "work".into(),
                attempt: 1,
            },
        )
    }

    /// Starts `script` under `sh -c` in a process group of its own, as a worker starts a job;
    /// returns the shell and the pid it writes to `pid_file` (a background process).
    fn spawn_job_like(script: &str, pid_file: &std::path::Path) -> (std::process::Child, u32) {
        use std::os::unix::process::CommandExt;
        let child = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("PID_FILE", pid_file)
            .process_group(0)
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let background = loop {
            if let Some(pid) = std::fs::read_to_string(pid_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                break pid;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the job never wrote its pid"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        (child, background)
    }

    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|line| {
            !line[line.rfind(')').unwrap() + 1..]
                .trim_start()
                .starts_with('Z')
        })
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn recover_stops_the_process_group_a_dead_worker_left_before_it_runs_the_job_again() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, key) = left_by_a_dead_worker(&dir).await;
        let pid_file = dir.path().join("background.pid");
        let (mut shell, background) =
            spawn_job_like("sleep 30 & echo $! > \"$PID_FILE\"; wait", &pid_file);
        let pid = shell.id();
        let process = JobProcess {
            pid,
            pgid: pid,
            identity: process_group::identity(pid),
        };
        engine
            .store()
            .record_job_process(&key, &process)
            .await
            .unwrap();

        assert_eq!(engine.recover().await.unwrap(), 1);
        assert!(
            !alive(background),
            "the background process of the dead attempt is stopped"
        );
        assert!(!alive(pid), "the dead attempt's shell is stopped");
        shell.wait().unwrap();
        assert_eq!(
            engine.store().job_processes().await.unwrap(),
            [],
            "the record is forgotten"
        );
        assert_eq!(
            engine.store().queued_jobs().await.unwrap(),
            1,
            "attempt 2 is queued"
        );
    }

    /// The leader exited, its background process lives on in the group: that is stopped too.
    #[tokio::test(flavor = "multi_thread")]
    async fn recover_stops_what_is_left_in_the_group_when_its_leader_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, key) = left_by_a_dead_worker(&dir).await;
        let pid_file = dir.path().join("background.pid");
        let (mut shell, background) =
            spawn_job_like("sleep 30 >/dev/null & echo $! > \"$PID_FILE\"", &pid_file);
        let pid = shell.id();
        let process = JobProcess {
            pid,
            pgid: pid,
            identity: process_group::identity(pid),
        };
        shell.wait().unwrap();
        assert!(alive(background));
        engine
            .store()
            .record_job_process(&key, &process)
            .await
            .unwrap();

        assert_eq!(engine.recover().await.unwrap(), 1);
        assert!(!alive(background));
        assert_eq!(engine.store().job_processes().await.unwrap(), []);
    }

    /// A recorded pid now used by another process (another start time) is left alone.
    #[tokio::test(flavor = "multi_thread")]
    async fn recover_leaves_alone_a_process_that_only_has_the_recorded_pid() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, key) = left_by_a_dead_worker(&dir).await;
        let pid_file = dir.path().join("background.pid");
        let (mut other, background) =
            spawn_job_like("sleep 30 & echo $! > \"$PID_FILE\"; wait", &pid_file);
        let pid = other.id();
        let identity = process_group::identity(pid);
        let (boot, start) = identity.rsplit_once(' ').unwrap();
        let earlier = format!("{boot} {}", start.parse::<u64>().unwrap() - 1);
        engine
            .store()
            .record_job_process(
                &key,
                &JobProcess {
                    pid,
                    pgid: pid,
                    identity: earlier,
                },
            )
            .await
            .unwrap();

        assert_eq!(engine.recover().await.unwrap(), 1);
        assert!(
            alive(pid) && alive(background),
            "another process with the recorded pid is not signalled"
        );
        assert_eq!(engine.store().job_processes().await.unwrap(), []);
        nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        other.wait().unwrap();
    }
}

/// What an idempotent start is told apart by: its process and its data, with the data's keys
/// sorted (the order a client wrote them in does not matter).
fn start_fingerprint(process: &str, data: &Map<String, Value>) -> String {
    use sha2::{Digest, Sha256};
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let data = sorted(&Value::Object(data.clone()));
    let digest = Sha256::digest(format!("{process}\n{data}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
