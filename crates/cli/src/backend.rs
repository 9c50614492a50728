//! Where commands go: the database file, through the service ([`Backend::Local`]), or a Baton
//! server, through its HTTP API ([`Backend::Remote`], with `--server`). This is the one place
//! that tells the two apart: each operation the commands use is written here once for both,
//! answering with the same api-model views and with errors of the same kinds, so a command
//! renders its answer and exits the same way whichever backend it has.
//!
//! The acting user: locally `--as`, else the built-in `operator`; on a server always the user
//! of the API token, which `--as` may name but not replace.

use std::time::Duration;

use baton_api_model as api;
use baton_api_model::requests::{
    Deploy, DeployFile, InboxParams, Input, InstancesQuery, NewGroup, NewMember, SessionStart,
    SetMetadata, Start, Submission, TokenRequest, TokensQuery,
};
use baton_client::Client;
use baton_engine::EngineError;
use baton_service::{HumanTaskAction, HumanTaskRef, ServiceError, SourceFile, TaskOperation};
use baton_store::{NewUser, OPERATOR};

use crate::args::Cli;
use crate::database::{database, open, AnyService, Database};
use crate::exit::{CliError, Result};

/// Where `--db` and `--server` (or `BATON_SERVER`) send commands, before anything is opened.
pub enum Location {
    /// The database.
    Database(Database),
    /// A server, with the token to act with.
    Server(Client),
}

impl Location {
    pub fn of(cli: &Cli) -> Result<Self> {
        let Some(server) = cli.server.as_deref().filter(|s| !s.is_empty()) else {
            if let Some(dir) = &cli.documents_dir {
                crate::database::keep_documents_in(dir.clone());
            }
            return Ok(Self::Database(database(&cli.db)?));
        };
        let token = cli
            .token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(CliError::NoToken)?;
        Ok(Self::Server(Client::new(server, token)?))
    }

    /// The database, for a command that works on it itself (runs its jobs, serves it).
    pub fn database(&self, command: &'static str) -> Result<&Database> {
        match self {
            Self::Database(db) => Ok(db),
            Self::Server(_) => Err(CliError::NeedsDatabase { command }),
        }
    }

    /// The backend: the database file's service (opened now), or the server's client.
    pub async fn open(self) -> Result<Backend> {
        Ok(match self {
            Self::Database(db) => Backend::Local(open(&db).await?),
            Self::Server(client) => Backend::Remote(client),
        })
    }
}

/// The service on the database file, or a server's API.
pub enum Backend {
    Local(AnyService),
    Remote(Client),
}

/// One operation on either backend: `$local` on the service acting as `$user` (the `--as` user
/// `$by`, else the built-in operator), or `$remote` on the client once `$by` is found to be the
/// token's user. Both answer the same view; their errors become the command line's.
macro_rules! either {
    ($backend:expr, as $by:expr, |$service:ident, $user:ident| $local:expr, |$client:ident| $remote:expr) => {
        match $backend {
            Backend::Local($service) => {
                let $user: &str = $by.unwrap_or(OPERATOR);
                Ok($local.await?)
            }
            Backend::Remote($client) => {
                token_user_is($client, $by).await?;
                Ok($remote.await?)
            }
        }
    };
}

impl Backend {
    // ---- definitions

    /// Checks every file, then stores all of them, or (on any problem) none.
    pub async fn deploy(&self, files: Vec<SourceFile>) -> Result<Vec<api::Deployed>> {
        either!(self, as None, |s, user| s.deploy(user, files), |c| c.deploy(&deploy_request(files)?))
    }

    pub async fn definitions(&self) -> Result<Vec<api::Definition>> {
        either!(self, as None, |s, user| s.definitions(user), |c| c.definitions())
    }

    pub async fn definition(&self, id: &str, version: Option<u32>) -> Result<api::Definition> {
        either!(self, as None, |s, user| s.definition(user, id, version), |c| c.definition(id, version))
    }

    pub async fn definition_graph(
        &self,
        id: &str,
        version: Option<u32>,
    ) -> Result<api::DefinitionGraph> {
        either!(self, as None, |s, user| s.definition_graph(user, id, version), |c| c.definition_graph(id, version))
    }

    pub async fn versions(&self, id: &str) -> Result<Vec<api::DefinitionVersion>> {
        either!(self, as None, |s, user| s.versions(user, id), |c| c.versions(id))
    }

    pub async fn source(&self, id: &str, version: Option<u32>) -> Result<api::DefinitionSource> {
        either!(self, as None, |s, user| s.source(user, id, version), |c| c.source(id, version))
    }

    // ---- instances

    pub async fn start(&self, process: &str, data: api::Data) -> Result<api::Instance> {
        Ok(self.start_once(None, process, data, None).await?.0)
    }

    /// Starts an instance, once per idempotency key if one is given; whether this call started it.
    pub async fn start_once(
        &self,
        by: Option<&str>,
        process: &str,
        data: api::Data,
        idempotency_key: Option<String>,
    ) -> Result<(api::Instance, bool)> {
        either!(
            self,
            as by,
            |s, user| s.start_once(user, process, data, idempotency_key.as_deref()),
            |c| c.start_once(&Start { process: process.to_owned(), data, idempotency_key })
        )
    }

    /// A page of the instances `query` selects, newest first.
    pub async fn instances(
        &self,
        by: Option<&str>,
        query: InstancesQuery,
    ) -> Result<api::InstancePage> {
        either!(self, as by, |s, user| s.list_instances(user, &query.clone().into_filter()), |c| c.instances(&query))
    }

    /// The instance `text` names: a whole id as it is, or the one instance whose id starts with
    /// it (as git takes a short commit id). A prefix of no instance stays as it is, for the
    /// command to say there is no such instance; a prefix of several is refused.
    pub async fn resolve_instance(&self, text: &str) -> Result<String> {
        // A whole id (an instance id's length) is taken as it is; shorter text for the start of one.
        if text.is_empty() || text.len() >= baton_service::MAX_ID_PREFIX {
            return Ok(text.to_owned());
        }
        let query = InstancesQuery {
            id_prefix: Some(text.to_owned()),
            limit: Some(3),
            ..InstancesQuery::default()
        };
        let found = self.instances(None, query).await?.instances;
        match found.as_slice() {
            [] => Ok(text.to_owned()),
            [one] => Ok(one.id.clone()),
            several => {
                let ids: Vec<&str> = several.iter().take(2).map(|i| i.id.as_str()).collect();
                let more = if several.len() > 2 { ", …" } else { "" };
                Err(CliError::Input(format!(
                    "`{text}` is the start of several instance ids ({}{more}); give more of the id",
                    ids.join(", ")
                )))
            }
        }
    }

    pub async fn instance(&self, by: Option<&str>, id: &str) -> Result<api::Instance> {
        either!(self, as by, |s, user| s.instance(user, id), |c| c.instance(id))
    }

    pub async fn history(&self, by: Option<&str>, id: &str) -> Result<Vec<api::HistoryEvent>> {
        either!(self, as by, |s, user| s.history(user, id), |c| c.history(id))
    }

    /// Every incident of an instance, open or closed.
    pub async fn incidents(&self, by: Option<&str>, id: &str) -> Result<Vec<api::Incident>> {
        either!(self, as by, |s, user| s.incidents(user, id), |c| c.incidents(id))
    }

    /// The child instances of an instance, oldest first.
    pub async fn children(&self, by: Option<&str>, id: &str) -> Result<Vec<api::InstanceSummary>> {
        either!(self, as by, |s, user| s.children(user, id), |c| c.children(id))
    }

    /// Every instance of a case, oldest first.
    /// Publishes an event for the `wait` tasks waiting for it.
    pub async fn publish_event(
        &self,
        by: Option<&str>,
        request: baton_api_model::requests::PublishEvent,
    ) -> Result<api::PublishedEvent> {
        either!(self, as by, |s, user| s.publish_event(user, request), |c| c.publish_event(&request))
    }

    pub async fn case(&self, by: Option<&str>, id: &str) -> Result<api::Case> {
        either!(self, as by, |s, user| s.case(user, id), |c| c.case(id))
    }

    pub async fn abort(
        &self,
        by: Option<&str>,
        id: &str,
        abort_parent: bool,
    ) -> Result<api::Instance> {
        either!(self, as by, |s, user| s.abort(user, id, abort_parent), |c| c.abort(id, abort_parent))
    }

    /// Spawns `process` under instance `id` (Stardust): a sub-process of its root.
    pub async fn spawn(
        &self,
        by: Option<&str>,
        id: &str,
        process: &str,
        version: Option<u32>,
        data: api::Data,
    ) -> Result<api::Instance> {
        either!(self, as by, |s, user| s.spawn(user, id, process, version, data), |c| c.spawn(id, process, version, data))
    }

    /// Aborts instance `id` and starts a peer of `process` with its data.
    pub async fn abort_and_start(
        &self,
        by: Option<&str>,
        id: &str,
        process: &str,
        version: Option<u32>,
    ) -> Result<api::Instance> {
        either!(self, as by, |s, user| s.abort_and_start(user, id, process, version), |c| c.abort_and_start(id, process, version))
    }

    /// The processes `by` may start.
    pub async fn startable(&self, by: Option<&str>) -> Result<Vec<api::Definition>> {
        either!(self, as by, |s, user| s.startable(user), |c| c.startable())
    }

    pub async fn recover(&self, by: Option<&str>, id: &str) -> Result<api::Instance> {
        either!(self, as by, |s, user| s.recover(user, id), |c| c.recover(id))
    }

    pub async fn delete(&self, by: Option<&str>, id: &str) -> Result<api::Instance> {
        either!(self, as by, |s, user| s.delete(user, id), |c| c.delete(id))
    }

    pub async fn task_operation(
        &self,
        by: Option<&str>,
        id: &str,
        operation: TaskOperation,
    ) -> Result<api::Instance> {
        either!(self, as by, |s, user| s.task_operation(user, id, operation), |c| remote_task_operation(c, id, operation))
    }

    // ---- human tasks

    pub async fn user_task(
        &self,
        by: Option<&str>,
        instance: &str,
        task: &str,
        number: Option<u32>,
    ) -> Result<api::UserTask> {
        either!(self, as by, |s, user| s.user_task(user, instance, task, number), |c| c.user_task(instance, task, number))
    }

    pub async fn human_task(
        &self,
        by: &str,
        target: &HumanTaskRef,
        action: HumanTaskAction,
    ) -> Result<api::HumanTaskUpdate> {
        either!(self, as Some(by), |s, user| s.human_task(user, target, action), |c| c.human_task(&target.instance, &target.task, target.number, &action.into()))
    }

    /// A page of `owner`'s inbox.
    pub async fn inbox(&self, owner: &str, query: &api::InboxQuery) -> Result<api::InboxPage> {
        let params = InboxParams {
            status: query.status,
            process: query.process.clone(),
            due_before: query.due_before,
            min_priority: query.min_priority,
            page: Some(query.page),
            per_page: Some(query.per_page),
        };
        either!(self, as Some(owner), |s, user| s.inbox(user, query), |c| c.inbox(&params))
    }

    // ---- user sessions (a server's; the local service has none and says so)

    pub async fn login(&self) -> Result<api::Session> {
        either!(self, as None, |s, user| s.login(user), |c| c.login())
    }

    pub async fn logout(&self, session: &str) -> Result<api::Logout> {
        either!(self, as None, |s, user| s.logout(user, session), |c| c.logout(session))
    }

    pub async fn session_workflows(&self, session: &str) -> Result<Vec<api::SessionWorkflow>> {
        either!(self, as None, |s, user| s.session_workflows(user, session), |c| c.session_workflows(session))
    }

    pub async fn session_start(
        &self,
        session: &str,
        process: &str,
        data: api::Data,
    ) -> Result<api::SessionStep> {
        let request = SessionStart {
            process: process.to_owned(),
            data,
        };
        either!(self, as None, |s, user| s.session_start(user, session, &request.process, request.data.clone()), |c| c.session_start(session, &request))
    }

    pub async fn session_resume(&self, session: &str, instance: &str) -> Result<api::SessionStep> {
        either!(self, as None, |s, user| s.session_resume(user, session, instance), |c| c.session_resume(session, instance))
    }

    pub async fn session_submit(
        &self,
        session: &str,
        instance: &str,
        task: Option<String>,
        data: api::Data,
    ) -> Result<api::SessionStep> {
        let request = Submission { task, data };
        either!(self, as None, |s, user| s.session_submit(user, session, instance, request.task.as_deref(), request.data.clone()), |c| c.session_submit(session, instance, &request))
    }

    pub async fn session_suspend(
        &self,
        session: &str,
        instance: &str,
    ) -> Result<api::SuspendedWorkflow> {
        either!(self, as None, |s, user| s.session_suspend(user, session, instance), |c| c.session_suspend(session, instance))
    }

    // ---- incidents

    pub async fn open_incidents(
        &self,
        by: Option<&str>,
        limit: usize,
    ) -> Result<Vec<api::Incident>> {
        either!(self, as by, |s, user| s.open_incidents(user, limit), |c| c.open_incidents(limit))
    }

    pub async fn retry_incident(&self, by: Option<&str>, id: i64) -> Result<api::Instance> {
        either!(self, as by, |s, user| s.retry_incident(user, id), |c| c.retry_incident(id))
    }

    pub async fn resolve_incident(&self, by: Option<&str>, id: i64) -> Result<api::Incident> {
        either!(self, as by, |s, user| s.resolve_incident(user, id), |c| c.resolve_incident(id))
    }

    // ---- documents

    pub async fn upload_document(&self, upload: baton_service::Upload) -> Result<api::Document> {
        either!(
            self,
            as None,
            |s, user| s.upload_document(user, upload),
            |c| c.upload_document(&upload.name, &upload.content_type, upload.document_type.as_deref(), &upload.metadata, upload.content)
        )
    }

    pub async fn document(&self, by: Option<&str>, id: &str) -> Result<api::Document> {
        either!(self, as by, |s, user| s.document(user, id), |c| c.document(id))
    }

    pub async fn document_content(&self, by: Option<&str>, id: &str) -> Result<Vec<u8>> {
        either!(self, as by, |s, user| async { s.document_content(user, id).await.map(|(_, content)| content) }, |c| c.document_content(id))
    }

    pub async fn set_document_metadata(
        &self,
        by: Option<&str>,
        id: &str,
        metadata: serde_json::Map<String, serde_json::Value>,
    ) -> Result<api::Document> {
        either!(self, as by, |s, user| s.set_document_metadata(user, id, metadata), |c| c.set_document_metadata(id, &SetMetadata { metadata }))
    }

    // ---- people

    pub async fn add_user(&self, new: NewUser) -> Result<api::User> {
        let request = baton_api_model::requests::NewUser {
            name: new.name.clone(),
            department: new.department.clone(),
            admin: new.admin,
        };
        either!(self, as None, |s, user| s.add_user(user, new), |c| c.add_user(&request))
    }

    pub async fn set_password(&self, for_user: &str, password: &str) -> Result<()> {
        let request = baton_api_model::requests::SetPassword {
            password: password.to_owned(),
        };
        either!(self, as None, |s, user| s.set_password(user, for_user, password), |c| c.set_password(for_user, &request))
    }

    pub async fn users(&self) -> Result<Vec<api::User>> {
        either!(self, as None, |s, user| s.users(user), |c| c.users())
    }

    pub async fn add_group(&self, name: &str) -> Result<api::Group> {
        either!(self, as None, |s, user| s.add_group(user, name), |c| c.add_group(&NewGroup { name: name.to_owned() }))
    }

    pub async fn add_member(&self, group: &str, member: &str) -> Result<()> {
        either!(self, as None, |s, user| s.add_member(user, group, member), |c| c.add_member(group, &NewMember { user: member.to_owned() }))
    }

    pub async fn remove_member(&self, group: &str, member: &str) -> Result<()> {
        either!(self, as None, |s, user| s.remove_member(user, group, member), |c| c.remove_member(group, member))
    }

    pub async fn groups(&self) -> Result<Vec<api::Group>> {
        either!(self, as None, |s, user| s.groups(user), |c| c.groups())
    }

    // ---- tokens

    /// Makes a token for `for_user`, valid for `lifetime` (or until revoked).
    pub async fn create_token(
        &self,
        for_user: &str,
        name: Option<&str>,
        lifetime: Option<Duration>,
    ) -> Result<api::NewToken> {
        let request = TokenRequest {
            user: Some(for_user.to_owned()),
            name: name.map(str::to_owned),
            // humantime's text is exact and reads back as written.
            lifetime: lifetime.map(|d| humantime::format_duration(d).to_string()),
        };
        either!(self, as None, |s, user| s.create_token(user, for_user, name, lifetime), |c| c.create_token(&request))
    }

    /// Tokens: `of`'s, or when `None`, all of them (on a server, the token user's own).
    pub async fn tokens(&self, of: Option<&str>) -> Result<Vec<api::Token>> {
        let query = TokensQuery {
            user: of.map(str::to_owned),
        };
        either!(self, as None, |s, user| s.tokens(user, of), |c| c.tokens(&query))
    }

    pub async fn revoke_token(&self, id: &str) -> Result<api::Token> {
        either!(self, as None, |s, user| s.revoke_token(user, id), |c| c.revoke_token(id))
    }
}

impl Backend {
    // ---- schedules

    pub async fn create_schedule(
        &self,
        by: Option<&str>,
        request: &api::CreateSchedule,
    ) -> Result<api::Schedule> {
        either!(self, as by, |s, user| s.create_schedule(user, request), |c| c.create_schedule(request))
    }

    pub async fn schedules(&self) -> Result<Vec<api::Schedule>> {
        either!(self, as None, |s, user| s.schedules(user), |c| c.schedules())
    }

    pub async fn schedule(&self, id: &str) -> Result<api::Schedule> {
        either!(self, as None, |s, user| s.schedule(user, id), |c| c.schedule(id))
    }

    pub async fn pause_schedule(&self, by: Option<&str>, id: &str) -> Result<api::Schedule> {
        either!(self, as by, |s, user| s.pause_schedule(user, id), |c| c.schedule_action(id, "pause"))
    }

    pub async fn resume_schedule(&self, by: Option<&str>, id: &str) -> Result<api::Schedule> {
        either!(self, as by, |s, user| s.resume_schedule(user, id), |c| c.schedule_action(id, "resume"))
    }

    pub async fn trigger_schedule(&self, by: Option<&str>, id: &str) -> Result<api::Instance> {
        either!(self, as by, |s, user| s.trigger_schedule(user, id), |c| c.trigger_schedule(id))
    }

    pub async fn delete_schedule(&self, by: Option<&str>, id: &str) -> Result<()> {
        either!(self, as by, |s, user| s.delete_schedule(user, id), |c| c.delete_schedule(id))
    }
}

/// Refuses `--as` naming anyone but the user the server's token acts as.
async fn token_user_is(client: &Client, given: Option<&str>) -> Result<()> {
    let Some(given) = given else { return Ok(()) };
    let token_user = client.me().await?.name;
    if token_user == given {
        Ok(())
    } else {
        Err(CliError::NotTokenUser {
            given: given.to_owned(),
            token_user,
        })
    }
}

/// An operator's task command as the API's route for it.
async fn remote_task_operation(
    client: &Client,
    id: &str,
    operation: TaskOperation,
) -> baton_client::Result<api::Instance> {
    match operation {
        TaskOperation::Retry { task } => client.retry_task(id, &task).await,
        TaskOperation::Skip { task } => client.skip_task(id, &task).await,
        TaskOperation::Input { task, values } => client.input(id, &task, &Input { values }).await,
        TaskOperation::Breakpoint { task, enabled } => client.breakpoint(id, &task, enabled).await,
        TaskOperation::Back { task, to } => {
            client
                .send_back(id, &task, &baton_api_model::requests::Back { to })
                .await
        }
    }
}

/// The files as the API takes them: as text. A file that is not UTF-8 text cannot travel in
/// JSON, so it is refused here, before anything is sent, as the service refuses it (at its first
/// bad byte); the other files' own problems are the server's to find once it is fixed.
fn deploy_request(files: Vec<SourceFile>) -> Result<Deploy> {
    let mut sent = Vec::new();
    let mut not_text = Vec::new();
    for file in files {
        match baton_core::definition::decode_source(&file.name, file.bytes) {
            Ok(source) => sent.push(DeployFile {
                name: file.name,
                source,
            }),
            Err(e) => not_text.push(e),
        }
    }
    if !not_text.is_empty() {
        return Err(ServiceError::from(EngineError::Definitions(not_text)).into());
    }
    Ok(Deploy { files: sent })
}
