//! Deploying definitions and calendars, and reading what was deployed.

use baton_api_model as api;
use baton_core::definition::decode_source;
use baton_engine::EngineError;

use crate::{view, Result, Service, ServiceError, ServiceStore};

/// A file to deploy: its name (used in messages) and its bytes as read.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl<S: ServiceStore> Service<S> {
    /// Checks every file (UTF-8 text within the size limit, then a valid definition or
    /// calendar), then stores them all in one transaction as the next version of each id, or,
    /// if any file has a problem, none: every problem of every file is reported, in the order
    /// of the files.
    pub async fn deploy(&self, user: &str, files: Vec<SourceFile>) -> Result<Vec<api::Deployed>> {
        self.authenticate(user).await?;
        let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
        let mut sources = Vec::new();
        let mut not_text = Vec::new();
        for file in files {
            match decode_source(&file.name, file.bytes) {
                Ok(source) => sources.push((file.name, source)),
                Err(e) => not_text.push(e),
            }
        }
        if !not_text.is_empty() {
            // Report the other files' own problems beside them.
            not_text.extend(sources.iter().filter_map(|(file, source)| {
                match self.engine.validate(file, source) {
                    Err(EngineError::Definition(e)) => Some(e),
                    _ => None,
                }
            }));
            not_text.sort_by_key(|e| names.iter().position(|f| *f == e.file));
            return Err(EngineError::Definitions(not_text).into());
        }
        let deployed = self.engine.deploy_all(&sources).await?;
        let groups: Vec<String> = self
            .engine
            .store()
            .groups()
            .await?
            .into_iter()
            .map(|g| g.name)
            .collect();
        let calendars: Vec<String> = self
            .engine
            .store()
            .calendars()
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect();
        let mut answer = Vec::new();
        for (d, file) in deployed.into_iter().zip(names) {
            // A calendar file has no tasks to name anything.
            let warnings = match self.engine.definition(&d.id, Some(d.version)).await {
                Ok(definition) => deploy_warnings(&definition, &groups, &calendars),
                Err(_) => Vec::new(),
            };
            answer.push(api::Deployed {
                file,
                id: d.id,
                version: d.version,
                unchanged: d.unchanged,
                warnings,
            });
        }
        Ok(answer)
    }

    /// The latest version of every deployed definition, by id.
    pub async fn definitions(&self, user: &str) -> Result<Vec<api::Definition>> {
        self.authenticate(user).await?;
        let mut all = Vec::new();
        for stored in self.engine.store().definitions().await? {
            let definition = self
                .engine
                .definition(&stored.id, Some(stored.version))
                .await?;
            all.push(view::definition(&stored, &definition));
        }
        Ok(all)
    }

    /// One version of a definition (`None`: the latest).
    pub async fn definition(
        &self,
        user: &str,
        id: &str,
        version: Option<u32>,
    ) -> Result<api::Definition> {
        self.authenticate(user).await?;
        let stored = self.stored(id, version).await?;
        let definition = self
            .engine
            .definition(&stored.id, Some(stored.version))
            .await?;
        Ok(view::definition(&stored, &definition))
    }

    /// One version's flow as a graph (`None`: the latest).
    pub async fn definition_graph(
        &self,
        user: &str,
        id: &str,
        version: Option<u32>,
    ) -> Result<api::DefinitionGraph> {
        self.authenticate(user).await?;
        let stored = self.stored(id, version).await?;
        let definition = self
            .engine
            .definition(&stored.id, Some(stored.version))
            .await?;
        Ok(view::definition_graph(&definition, stored.version))
    }

    /// Every deployed version of a definition, oldest first.
    pub async fn versions(&self, user: &str, id: &str) -> Result<Vec<api::DefinitionVersion>> {
        self.authenticate(user).await?;
        let versions = self.engine.store().versions(id).await?;
        if versions.is_empty() {
            return Err(EngineError::ProcessNotFound(id.to_owned()).into());
        }
        Ok(versions.iter().map(view::definition_version).collect())
    }

    /// The source of one version of a definition (`None`: the latest), as it was deployed.
    pub async fn source(
        &self,
        user: &str,
        id: &str,
        version: Option<u32>,
    ) -> Result<api::DefinitionSource> {
        self.authenticate(user).await?;
        let stored = self.stored(id, version).await?;
        Ok(api::DefinitionSource {
            id: stored.id,
            version: stored.version,
            file: stored.file,
            source: stored.source,
        })
    }

    pub(crate) async fn stored(
        &self,
        id: &str,
        version: Option<u32>,
    ) -> Result<baton_store::StoredDefinition> {
        self.engine
            .store()
            .definition(id, version)
            .await?
            .ok_or_else(|| match version {
                Some(version) => ServiceError::VersionNotFound {
                    id: id.to_owned(),
                    version,
                },
                None => EngineError::ProcessNotFound(id.to_owned()).into(),
            })
    }
}

/// What a deployed definition names that does not exist yet: groups among its user tasks'
/// owners and administrators, and calendars its tasks run on (its ForEach bodies' included).
/// Warnings, not errors: they may be created later.
fn deploy_warnings(
    definition: &baton_core::Definition,
    groups: &[String],
    calendars: &[String],
) -> Vec<String> {
    let mut warnings = Vec::new();
    for task in &definition.tasks {
        if let baton_core::definition::TaskKind::User(user) = &task.kind {
            for assignee in user.owners.iter().chain(&user.administrators) {
                let baton_core::definition::Assignee::Named(named) = assignee else {
                    continue;
                };
                for group in named.groups.iter().filter(|g| !groups.contains(g)) {
                    let warning = format!("task `{}`: there is no group `{group}` yet; its members are offered the task once it is created", task.id);
                    if !warnings.contains(&warning) {
                        warnings.push(warning);
                    }
                }
            }
        }
        for calendar in task
            .controls
            .calendars
            .iter()
            .filter(|c| !calendars.contains(c))
        {
            warnings.push(format!("task `{}`: calendar `{calendar}` is not deployed; until it is, the task ends `ended_not_ok` at its calendar check", task.id));
        }
        if let baton_core::definition::TaskKind::ForEach(spec) = &task.kind {
            warnings.extend(deploy_warnings(&spec.body, groups, calendars));
        }
    }
    warnings
}
