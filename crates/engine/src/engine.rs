//! The engine: applies commands through the pure core and persists each step atomically.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tokio::sync::{oneshot, Notify};

use baton_core::definition::parse;
use baton_core::{apply, start, Command, Definition, Effect, Instance, TransitionError};
use baton_store::{JobKey, StepRecord, Store, StoreError};

use crate::clock::Clock;
use crate::error::EngineError;

/// Settings of one engine node.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Names this node as the owner of the jobs it leases.
    pub node: String,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self { node: format!("node-{}", std::process::id()) }
    }
}

/// A handle to the engine; cheap to clone.
pub struct Engine<S: Store> {
    pub(crate) inner: Arc<Inner<S>>,
}

impl<S: Store> Clone for Engine<S> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

pub(crate) struct Inner<S> {
    pub(crate) store: S,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) options: EngineOptions,
    definitions: Mutex<HashMap<(String, u32), Arc<Definition>>>,
    instance_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Woken when jobs were queued by this process.
    pub(crate) jobs_queued: Notify,
    /// Woken after every committed step, for callers waiting on an instance.
    pub(crate) changed: Notify,
    /// Jobs running in this process, so a `CancelJob` effect can stop them.
    pub(crate) running: Mutex<HashMap<JobKey, oneshot::Sender<()>>>,
}

/// How many times a step is recomputed when another process changed the instance meanwhile.
const CONFLICT_RETRIES: usize = 8;

impl<S: Store> Engine<S> {
    pub fn new(store: S, clock: Arc<dyn Clock>, options: EngineOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                options,
                definitions: Mutex::new(HashMap::new()),
                instance_locks: Mutex::new(HashMap::new()),
                jobs_queued: Notify::new(),
                changed: Notify::new(),
                running: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// Validates a definition and stores it as the next version of its id. A definition with
    /// any problem is refused whole, and nothing is stored.
    pub async fn deploy(&self, file: &str, source: &str) -> Result<(String, u32), EngineError> {
        let mut definition = parse(file, source)?;
        let version = self.inner.store.deploy(&definition.id, file, source, self.inner.clock.now()).await?;
        definition.version = version;
        let id = definition.id.clone();
        self.cache().insert((id.clone(), version), Arc::new(definition));
        Ok((id, version))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u32), Arc<Definition>>> {
        self.inner.definitions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A deployed definition: a given version, or the latest.
    pub async fn definition(&self, id: &str, version: Option<u32>) -> Result<Arc<Definition>, EngineError> {
        if let Some(v) = version {
            if let Some(d) = self.cache().get(&(id.to_owned(), v)) {
                return Ok(d.clone());
            }
        }
        let stored = self.inner.store.definition(id, version).await?.ok_or_else(|| match version {
            Some(version) => EngineError::VersionNotFound { id: id.to_owned(), version },
            None => EngineError::ProcessNotFound(id.to_owned()),
        })?;
        if let Some(d) = self.cache().get(&(id.to_owned(), stored.version)) {
            return Ok(d.clone());
        }
        let mut definition = parse(&stored.file, &stored.source)?;
        definition.version = stored.version;
        let definition = Arc::new(definition);
        self.cache().insert((id.to_owned(), stored.version), definition.clone());
        Ok(definition)
    }

    /// Starts an instance of the latest version of `process`. Returns once its first step
    /// (everything it could do before its first job) is committed.
    pub async fn start(&self, process: &str, data: Map<String, Value>) -> Result<Instance, EngineError> {
        let definition = self.definition(process, None).await?;
        let id = uuid::Uuid::now_v7().to_string();
        let transition = start(&definition, id, data, self.inner.clock.now())?;
        let mut step = StepRecord { new: true, events: transition.events, ..StepRecord::default() };
        let effects = collect_effects(&mut step, &transition.instance.id, transition.effects);
        step.instance = Some(transition.instance.clone());
        self.inner.store.commit(vec![step]).await?;
        self.after_commit(&transition.instance.id, effects);
        Ok(transition.instance)
    }

    /// The current state of an instance.
    pub async fn instance(&self, id: &str) -> Result<Instance, EngineError> {
        self.inner.store.instance(id).await?.ok_or_else(|| EngineError::InstanceNotFound(id.to_owned()))
    }

    /// Applies a command to an instance and persists the step. A job result that does not
    /// match the running attempt is refused, and its queue entry is removed all the same, so a
    /// completion is applied once however often it is reported.
    pub async fn apply(&self, instance_id: &str, command: Command) -> Result<Instance, EngineError> {
        let lock = self.instance_lock(instance_id);
        let result = {
            let _guard = lock.lock().await;
            self.apply_locked(instance_id, command).await
        };
        self.release_instance_lock(instance_id, lock);
        result
    }

    async fn apply_locked(&self, instance_id: &str, command: Command) -> Result<Instance, EngineError> {
        let job = match &command {
            Command::JobFinished { task, attempt, .. } | Command::RedispatchJob { task, attempt } => {
                Some(JobKey { instance: instance_id.to_owned(), task: task.clone(), attempt: *attempt })
            }
            _ => None,
        };
        let mut attempts = 0;
        loop {
            let instance = self.instance(instance_id).await?;
            let definition = self.definition(&instance.definition_id, Some(instance.definition_version)).await?;
            match apply(&definition, &instance, command.clone(), self.inner.clock.now()) {
                Ok(transition) => {
                    let mut step = StepRecord { expected_seq: instance.next_seq, events: transition.events, ..StepRecord::default() };
                    step.complete.extend(job.clone());
                    let effects = collect_effects(&mut step, instance_id, transition.effects);
                    step.instance = Some(transition.instance.clone());
                    match self.inner.store.commit(vec![step]).await {
                        Ok(()) => {
                            self.after_commit(instance_id, effects);
                            return Ok(transition.instance);
                        }
                        Err(StoreError::Conflict(_)) if attempts < CONFLICT_RETRIES => {
                            attempts += 1;
                            continue;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e @ (TransitionError::StaleJobResult { .. } | TransitionError::InstanceEnded(_))) if job.is_some() => {
                    let step = StepRecord { complete: job.into_iter().collect(), ..StepRecord::default() };
                    self.inner.store.commit(vec![step]).await?;
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// On an embedded store, jobs still leased at start-up belong to a process that died:
    /// each runs again as a new attempt (at-least-once), recorded as a retry in history.
    /// Call it only while holding the store's engine lock. Returns how many were re-run.
    pub async fn recover(&self) -> Result<usize, EngineError> {
        let mut rerun = 0;
        for key in self.inner.store.leased_jobs().await? {
            let command = Command::RedispatchJob { task: key.task.clone(), attempt: key.attempt };
            match self.apply(&key.instance, command).await {
                Ok(_) => rerun += 1,
                Err(EngineError::Transition(e)) => tracing::info!(instance = %key.instance, task = %key.task, "abandoned job not re-run: {e}"),
                Err(e) => return Err(e),
            }
        }
        Ok(rerun)
    }

    /// Waits until some step was committed by this engine (or `timeout` passed).
    pub async fn wait_for_change(&self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.inner.changed.notified()).await;
    }

    fn after_commit(&self, instance: &str, effects: Vec<Effect>) {
        let mut queued = false;
        for effect in effects {
            match effect {
                Effect::RunJob(_) => queued = true,
                Effect::CancelJob { task, attempt } => {
                    // The queue row went with the step; stop the process if it runs here.
                    let key = JobKey { instance: instance.to_owned(), task, attempt };
                    if let Some(stop) = self.inner.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&key) {
                        let _ = stop.send(());
                    }
                }
            }
        }
        if queued {
            self.inner.jobs_queued.notify_waiters();
        }
        self.inner.changed.notify_waiters();
    }

    fn instance_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.inner.instance_locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(id.to_owned()).or_default().clone()
    }

    fn release_instance_lock(&self, id: &str, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut locks = self.inner.instance_locks.lock().unwrap_or_else(|e| e.into_inner());
        // Ours and the map's: nobody else waits, so the entry can go (the map stays small).
        if Arc::strong_count(&lock) == 2 {
            locks.remove(id);
        }
    }
}

/// Moves job effects into the step (queued and removed in the same transaction) and returns
/// all effects for after the commit.
fn collect_effects(step: &mut StepRecord, instance: &str, effects: Vec<Effect>) -> Vec<Effect> {
    for effect in &effects {
        match effect {
            Effect::RunJob(request) => step.enqueue.push(request.clone()),
            Effect::CancelJob { task, attempt } => {
                step.complete.push(JobKey { instance: instance.to_owned(), task: task.clone(), attempt: *attempt });
            }
        }
    }
    effects
}
