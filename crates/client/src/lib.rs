//! A client of Baton's HTTP/JSON API as `baton serve` offers it: each method sends one
//! request (the api-model request types, written as the server reads them) with the bearer
//! token and answers with the api-model view the server answered with. An error answer
//! becomes a [`ClientError`] with the kind the server's error body names, so a caller answers
//! it as it answers the service's own errors (`baton --server` exits with the same codes as
//! without).
//!
//! Bounds: connecting may take [`CONNECT_TIMEOUT`], a whole call [`REQUEST_TIMEOUT`], and an
//! answer is read up to [`MAX_ANSWER_BYTES`]. Redirects are not followed: the API never
//! redirects, and following one would send the token where the caller did not say.

mod error;

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use baton_api_model as api;
use baton_api_model::requests::{
    Abort, AbortAndStart, Back, CompleteJob, DefinitionsQuery, Deploy, EndJob, ExtendLock, FailJob,
    FetchAndLock, HistoryQuery, HumanTaskNumber, HumanTaskOperation, InboxParams, Input,
    InstancesQuery, LimitQuery, NewGroup, NewMember, NewUser, SetMetadata, SetPassword, Spawn,
    Start, TokenRequest, TokensQuery, VersionQuery,
};

pub use error::ClientError;

/// How long connecting to the server may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one call may take, from sending the request to the end of the answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest answer read (256 MiB): past it the call fails rather than fill the memory.
pub const MAX_ANSWER_BYTES: usize = 256 << 20;

/// The events one history request asks for: the most the API gives in one page.
pub const HISTORY_PAGE: usize = 10_000;

/// The result of a call.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// A connection to one server with one token; cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    server: Url,
}

impl std::fmt::Debug for Client {
    // Without the token, which the HTTP client's headers hold.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.server())
            .finish_non_exhaustive()
    }
}

/// The body of every error answer of the API.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: api::ErrorKind,
    message: String,
    #[serde(default)]
    details: Value,
}

/// The header an answer to a repeated idempotent start carries (`true`), as Stripe's API does.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// No query string.
const NO_QUERY: &[(&str, &str)] = &[];

impl Client {
    /// A client of the server at `server` (`http://HOST:PORT`, or `https://…`, maybe with a
    /// path the API is served under) acting with `token`.
    pub fn new(server: &str, token: &str) -> Result<Self> {
        let bad = |why| ClientError::BadAddress {
            given: server.to_owned(),
            why,
        };
        let url = Url::parse(server)
            .map_err(|_| bad("is not a URL; give one like http://127.0.0.1:8080"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("is not an http:// or https:// URL"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("holds a user or password; the API token goes in BATON_TOKEN (or --token), never in the URL"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad(
                "has a query or fragment (`?…`, `#…`); give only the server's address",
            ));
        }
        if url.cannot_be_a_base() || url.host_str().is_none_or(str::is_empty) {
            return Err(bad("names no host; give one like http://127.0.0.1:8080"));
        }
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| ClientError::BadToken)?;
        auth.set_sensitive(true);
        let http = reqwest::Client::builder()
            .default_headers(HeaderMap::from_iter([(AUTHORIZATION, auth)]))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Unreachable {
                server: server.to_owned(),
                reason: innermost(&e),
            })?;
        Ok(Self { http, server: url })
    }

    /// The server's address, as messages name it.
    pub fn server(&self) -> &str {
        self.server.as_str().trim_end_matches('/')
    }

    // ---- people and tokens

    /// The user the token acts as, with their groups.
    pub async fn me(&self) -> Result<api::User> {
        self.get(&["api", "me"], NO_QUERY).await
    }

    pub async fn users(&self) -> Result<Vec<api::User>> {
        self.get(&["api", "users"], NO_QUERY).await
    }

    pub async fn add_user(&self, user: &NewUser) -> Result<api::User> {
        self.send_json(Method::POST, &["api", "users"], user).await
    }

    pub async fn set_password(&self, user: &str, password: &SetPassword) -> Result<()> {
        self.send_json(Method::PUT, &["api", "users", user, "password"], password)
            .await
    }

    pub async fn groups(&self) -> Result<Vec<api::Group>> {
        self.get(&["api", "groups"], NO_QUERY).await
    }

    pub async fn add_group(&self, group: &NewGroup) -> Result<api::Group> {
        self.send_json(Method::POST, &["api", "groups"], group)
            .await
    }

    pub async fn add_member(&self, group: &str, member: &NewMember) -> Result<()> {
        self.send_json(Method::POST, &["api", "groups", group, "members"], member)
            .await
    }

    pub async fn remove_member(&self, group: &str, member: &str) -> Result<()> {
        self.send(Method::DELETE, &["api", "groups", group, "members", member])
            .await
    }

    /// Makes a token; the answer holds its secret, shown this once.
    pub async fn create_token(&self, token: &TokenRequest) -> Result<api::NewToken> {
        self.send_json(Method::POST, &["api", "tokens"], token)
            .await
    }

    pub async fn tokens(&self, query: &TokensQuery) -> Result<Vec<api::Token>> {
        self.get(&["api", "tokens"], query).await
    }

    pub async fn revoke_token(&self, id: &str) -> Result<api::Token> {
        self.send(Method::DELETE, &["api", "tokens", id]).await
    }

    // ---- schedules

    pub async fn create_schedule(&self, request: &api::CreateSchedule) -> Result<api::Schedule> {
        self.send_json(Method::POST, &["api", "schedules"], request)
            .await
    }

    pub async fn schedules(&self) -> Result<Vec<api::Schedule>> {
        self.get(&["api", "schedules"], &()).await
    }

    pub async fn schedule(&self, id: &str) -> Result<api::Schedule> {
        self.get(&["api", "schedules", id], &()).await
    }

    /// `pause`, `resume`: the schedule as it is then.
    pub async fn schedule_action(&self, id: &str, action: &str) -> Result<api::Schedule> {
        self.send(Method::POST, &["api", "schedules", id, action])
            .await
    }

    pub async fn trigger_schedule(&self, id: &str) -> Result<api::Instance> {
        self.send(Method::POST, &["api", "schedules", id, "trigger"])
            .await
    }

    pub async fn delete_schedule(&self, id: &str) -> Result<()> {
        self.send(Method::DELETE, &["api", "schedules", id]).await
    }

    // ---- definitions

    /// Deploys the files together: all are stored, or none.
    pub async fn deploy(&self, files: &Deploy) -> Result<Vec<api::Deployed>> {
        self.send_json(Method::POST, &["api", "definitions"], files)
            .await
    }

    pub async fn definitions(&self) -> Result<Vec<api::Definition>> {
        self.get(&["api", "definitions"], NO_QUERY).await
    }

    pub async fn definition(&self, id: &str, version: Option<u32>) -> Result<api::Definition> {
        self.get(&["api", "definitions", id], &VersionQuery { version })
            .await
    }

    pub async fn versions(&self, id: &str) -> Result<Vec<api::DefinitionVersion>> {
        self.get(&["api", "definitions", id, "versions"], NO_QUERY)
            .await
    }

    pub async fn definition_graph(
        &self,
        id: &str,
        version: Option<u32>,
    ) -> Result<api::DefinitionGraph> {
        self.get(
            &["api", "definitions", id, "graph"],
            &VersionQuery { version },
        )
        .await
    }

    pub async fn source(&self, id: &str, version: Option<u32>) -> Result<api::DefinitionSource> {
        self.get(
            &["api", "definitions", id, "source"],
            &VersionQuery { version },
        )
        .await
    }

    // ---- instances

    pub async fn start(&self, start: &Start) -> Result<api::Instance> {
        Ok(self.start_once(start).await?.0)
    }

    /// Starts an instance; whether this request started it (not so when its idempotency key
    /// started one before: the server says so with `Idempotent-Replayed: true`).
    pub async fn start_once(&self, start: &Start) -> Result<(api::Instance, bool)> {
        let (instance, headers) = self
            .answer_with_headers(
                self.request(Method::POST, &["api", "instances"])
                    .json(start),
            )
            .await?;
        let replayed = headers
            .get(IDEMPOTENT_REPLAYED)
            .is_some_and(|v| v.as_bytes() == b"true");
        Ok((instance, !replayed))
    }

    /// A page of instances, newest first, with the cursor of the next.
    pub async fn instances(&self, query: &InstancesQuery) -> Result<api::InstancePage> {
        self.get(&["api", "instances"], query).await
    }

    pub async fn instance(&self, id: &str) -> Result<api::Instance> {
        self.get(&["api", "instances", id], NO_QUERY).await
    }

    /// An instance's whole history, oldest first, read a page of [`HISTORY_PAGE`] events at a
    /// time.
    pub async fn history(&self, id: &str) -> Result<Vec<api::HistoryEvent>> {
        let mut events: Vec<api::HistoryEvent> = Vec::new();
        loop {
            let query = HistoryQuery {
                after: events.last().map(|e| e.seq),
                limit: Some(HISTORY_PAGE),
            };
            let page: Vec<api::HistoryEvent> = self
                .get(&["api", "instances", id, "history"], &query)
                .await?;
            let last_page = page.len() < HISTORY_PAGE;
            events.extend(page);
            if last_page {
                return Ok(events);
            }
        }
    }

    /// Every incident of an instance, open or closed.
    pub async fn incidents(&self, id: &str) -> Result<Vec<api::Incident>> {
        self.get(&["api", "instances", id, "incidents"], NO_QUERY)
            .await
    }

    /// The child instances of an instance (iterations, `call`ed and handed-off instances),
    /// oldest first.
    pub async fn children(&self, id: &str) -> Result<Vec<api::InstanceSummary>> {
        self.get(&["api", "instances", id, "children"], NO_QUERY)
            .await
    }

    /// Every instance of a case, oldest first.
    /// Publishes an event (`POST /api/events`).
    pub async fn publish_event(
        &self,
        request: &baton_api_model::requests::PublishEvent,
    ) -> Result<api::PublishedEvent> {
        self.send_json(Method::POST, &["api", "events"], request)
            .await
    }

    // ---- user sessions (Siebel's interactive workflows)

    /// Logs the token's user in: a new session.
    pub async fn login(&self) -> Result<api::Session> {
        self.send(Method::POST, &["api", "sessions"]).await
    }

    pub async fn session(&self, session: &str) -> Result<api::Session> {
        self.get(&["api", "sessions", session], NO_QUERY).await
    }

    pub async fn logout(&self, session: &str) -> Result<api::Logout> {
        self.send(Method::DELETE, &["api", "sessions", session])
            .await
    }

    pub async fn session_workflows(&self, session: &str) -> Result<Vec<api::SessionWorkflow>> {
        self.get(&["api", "sessions", session, "workflows"], NO_QUERY)
            .await
    }

    pub async fn session_start(
        &self,
        session: &str,
        start: &baton_api_model::requests::SessionStart,
    ) -> Result<api::SessionStep> {
        self.send_json(
            Method::POST,
            &["api", "sessions", session, "workflows"],
            start,
        )
        .await
    }

    pub async fn session_resume(&self, session: &str, instance: &str) -> Result<api::SessionStep> {
        self.send(
            Method::POST,
            &["api", "sessions", session, "workflows", instance, "resume"],
        )
        .await
    }

    pub async fn session_submit(
        &self,
        session: &str,
        instance: &str,
        submission: &baton_api_model::requests::Submission,
    ) -> Result<api::SessionStep> {
        self.send_json(
            Method::POST,
            &["api", "sessions", session, "workflows", instance, "submit"],
            submission,
        )
        .await
    }

    pub async fn session_suspend(
        &self,
        session: &str,
        instance: &str,
    ) -> Result<api::SuspendedWorkflow> {
        self.send(
            Method::POST,
            &["api", "sessions", session, "workflows", instance, "suspend"],
        )
        .await
    }

    pub async fn case(&self, id: &str) -> Result<api::Case> {
        self.get(&["api", "cases", id], NO_QUERY).await
    }

    /// Aborts an instance; with `abort_parent`, a `call`ed instance's abort aborts the
    /// instances above it too.
    pub async fn abort(&self, id: &str, abort_parent: bool) -> Result<api::Instance> {
        self.send_json(
            Method::POST,
            &["api", "instances", id, "abort"],
            &Abort { abort_parent },
        )
        .await
    }

    /// Spawns `process` under instance `id` (Stardust): a sub-process of its root.
    pub async fn spawn(
        &self,
        id: &str,
        process: &str,
        version: Option<u32>,
        data: api::Data,
    ) -> Result<api::Instance> {
        self.send_json(
            Method::POST,
            &["api", "instances", id, "spawn"],
            &Spawn {
                process: process.to_owned(),
                version,
                data,
            },
        )
        .await
    }

    /// Aborts instance `id` and starts a peer of `process` with its data (Stardust's abort-and-start).
    pub async fn abort_and_start(
        &self,
        id: &str,
        process: &str,
        version: Option<u32>,
    ) -> Result<api::Instance> {
        self.send_json(
            Method::POST,
            &["api", "instances", id, "abort-and-start"],
            &AbortAndStart {
                process: process.to_owned(),
                version,
            },
        )
        .await
    }

    /// The processes the token's user may start.
    pub async fn startable(&self) -> Result<Vec<api::Definition>> {
        self.get(
            &["api", "definitions"],
            &DefinitionsQuery { startable: true },
        )
        .await
    }

    /// Recovers a failed instance: its tasks that ended not OK run again.
    pub async fn recover(&self, id: &str) -> Result<api::Instance> {
        self.send(Method::POST, &["api", "instances", id, "recover"])
            .await
    }

    pub async fn delete(&self, id: &str) -> Result<api::Instance> {
        self.send(Method::DELETE, &["api", "instances", id]).await
    }

    pub async fn retry_task(&self, id: &str, task: &str) -> Result<api::Instance> {
        self.send(
            Method::POST,
            &["api", "instances", id, "tasks", task, "retry"],
        )
        .await
    }

    pub async fn skip_task(&self, id: &str, task: &str) -> Result<api::Instance> {
        self.send(
            Method::POST,
            &["api", "instances", id, "tasks", task, "skip"],
        )
        .await
    }

    /// Sends a task back to an earlier one.
    pub async fn send_back(&self, id: &str, task: &str, back: &Back) -> Result<api::Instance> {
        self.send_json(
            Method::POST,
            &["api", "instances", id, "tasks", task, "back"],
            back,
        )
        .await
    }

    pub async fn input(&self, id: &str, task: &str, input: &Input) -> Result<api::Instance> {
        self.send_json(
            Method::POST,
            &["api", "instances", id, "tasks", task, "input"],
            input,
        )
        .await
    }

    /// Sets (`enabled`) or clears a breakpoint.
    pub async fn breakpoint(&self, id: &str, task: &str, enabled: bool) -> Result<api::Instance> {
        let method = if enabled {
            Method::POST
        } else {
            Method::DELETE
        };
        self.send(
            method,
            &["api", "instances", id, "tasks", task, "breakpoint"],
        )
        .await
    }

    // ---- human tasks

    pub async fn inbox(&self, query: &InboxParams) -> Result<api::InboxPage> {
        self.get(&["api", "inbox"], query).await
    }

    pub async fn user_task(
        &self,
        id: &str,
        task: &str,
        number: Option<u32>,
    ) -> Result<api::UserTask> {
        self.get(
            &["api", "instances", id, "tasks", task, "human-tasks"],
            &HumanTaskNumber { number },
        )
        .await
    }

    pub async fn human_task(
        &self,
        id: &str,
        task: &str,
        number: Option<u32>,
        operation: &HumanTaskOperation,
    ) -> Result<api::HumanTaskUpdate> {
        let request = self.request(
            Method::POST,
            &["api", "instances", id, "tasks", task, "human-tasks"],
        );
        self.answer(request.query(&HumanTaskNumber { number }).json(operation))
            .await
    }

    // ---- external jobs

    /// Locks queued external jobs of the topics to the worker (waiting up to `timeout_ms`).
    pub async fn fetch_and_lock(&self, fetch: &FetchAndLock) -> Result<Vec<api::ExternalJob>> {
        self.send_json(
            Method::POST,
            &["api", "external-jobs", "fetch-and-lock"],
            fetch,
        )
        .await
    }

    /// Reports a locked job done.
    pub async fn complete_job(
        &self,
        instance: &str,
        task: &str,
        attempt: u32,
        done: &CompleteJob,
    ) -> Result<api::Instance> {
        self.send_json(
            Method::POST,
            &[
                "api",
                "external-jobs",
                instance,
                task,
                &attempt.to_string(),
                "complete",
            ],
            done,
        )
        .await
    }

    /// Reports a locked job failed.
    pub async fn fail_job(
        &self,
        instance: &str,
        task: &str,
        attempt: u32,
        failed: &FailJob,
    ) -> Result<api::Instance> {
        self.send_json(
            Method::POST,
            &[
                "api",
                "external-jobs",
                instance,
                task,
                &attempt.to_string(),
                "fail",
            ],
            failed,
        )
        .await
    }

    /// Ends a locked job's task with a status the worker chose.
    pub async fn end_job(
        &self,
        instance: &str,
        task: &str,
        attempt: u32,
        end: &EndJob,
    ) -> Result<api::Instance> {
        self.send_json(
            Method::POST,
            &[
                "api",
                "external-jobs",
                instance,
                task,
                &attempt.to_string(),
                "end",
            ],
            end,
        )
        .await
    }

    /// Extends the worker's lock on a job.
    pub async fn extend_lock(
        &self,
        instance: &str,
        task: &str,
        attempt: u32,
        extend: &ExtendLock,
    ) -> Result<api::JobLock> {
        self.send_json(
            Method::POST,
            &[
                "api",
                "external-jobs",
                instance,
                task,
                &attempt.to_string(),
                "extend-lock",
            ],
            extend,
        )
        .await
    }

    // ---- incidents

    pub async fn open_incidents(&self, limit: usize) -> Result<Vec<api::Incident>> {
        self.get(&["api", "incidents"], &LimitQuery { limit: Some(limit) })
            .await
    }

    pub async fn retry_incident(&self, id: i64) -> Result<api::Instance> {
        self.send(
            Method::POST,
            &["api", "incidents", &id.to_string(), "retry"],
        )
        .await
    }

    pub async fn resolve_incident(&self, id: i64) -> Result<api::Incident> {
        self.send(
            Method::POST,
            &["api", "incidents", &id.to_string(), "resolve"],
        )
        .await
    }

    // ---- documents

    /// Uploads a document: its file name, media type, document type and metadata, and content.
    pub async fn upload_document(
        &self,
        name: &str,
        content_type: &str,
        document_type: Option<&str>,
        metadata: &serde_json::Map<String, Value>,
        content: Vec<u8>,
    ) -> Result<api::Document> {
        let (boundary, form) = upload_form(name, content_type, document_type, metadata, content);
        let request = self
            .request(Method::POST, &["api", "documents"])
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(form);
        self.answer(request).await
    }

    /// A document's record.
    pub async fn document(&self, id: &str) -> Result<api::Document> {
        self.get(&["api", "documents", id], NO_QUERY).await
    }

    /// A document's content.
    pub async fn document_content(&self, id: &str) -> Result<Vec<u8>> {
        Ok(self
            .raw(self.request(Method::GET, &["api", "documents", id, "content"]))
            .await?
            .0)
    }

    /// Sets metadata keys of a document (`null` removes one).
    pub async fn set_document_metadata(
        &self,
        id: &str,
        body: &SetMetadata,
    ) -> Result<api::Document> {
        self.send_json(Method::POST, &["api", "documents", id, "metadata"], body)
            .await
    }

    // ---- the calls

    /// A request to the path of `segments` (each percent-encoded as one segment, so an id
    /// with `/` or `?` stays one) under the server's address.
    fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        let mut url = self.server.clone();
        url.path_segments_mut()
            .expect("an http URL has a path")
            .pop_if_empty()
            .extend(segments);
        self.http.request(method, url)
    }

    async fn get<T: DeserializeOwned, Q: Serialize + ?Sized>(
        &self,
        segments: &[&str],
        query: &Q,
    ) -> Result<T> {
        self.answer(self.request(Method::GET, segments).query(query))
            .await
    }

    /// A request without a body (an empty JSON object for a POST, as the API takes it).
    async fn send<T: DeserializeOwned>(&self, method: Method, segments: &[&str]) -> Result<T> {
        let request = self.request(method.clone(), segments);
        let request = if method == Method::POST {
            request.json(&serde_json::Map::new())
        } else {
            request
        };
        self.answer(request).await
    }

    async fn send_json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        segments: &[&str],
        body: &B,
    ) -> Result<T> {
        self.answer(self.request(method, segments).json(body)).await
    }

    /// Sends the request and reads its answer: the view on success, else the error it says.
    async fn answer<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T> {
        Ok(self.answer_with_headers(request).await?.0)
    }

    /// As [`answer`](Self::answer), with the answer's headers.
    async fn answer_with_headers<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> Result<(T, HeaderMap)> {
        let (body, headers, what) = self.raw(request).await?;
        // An answer without a body (204) is read as JSON `null`, which `()` is.
        let body: &[u8] = if body.is_empty() { b"null" } else { &body };
        let view = serde_json::from_slice(body).map_err(|e| ClientError::Unreadable {
            server: self.server().to_owned(),
            what,
            reason: e.to_string(),
        })?;
        Ok((view, headers))
    }

    /// Sends the request and reads its answer: the body and headers of a success, else the
    /// error it says (with what was asked, for messages).
    async fn raw(&self, request: RequestBuilder) -> Result<(Vec<u8>, HeaderMap, String)> {
        let request = request.build().map_err(|e| self.transport(&e))?;
        let what = format!("{} {}", request.method(), request.url().path());
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| self.transport(&e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = self.body(response, &what).await?;
        if status.is_success() {
            return Ok((body, headers, what));
        }
        if status == StatusCode::UNAUTHORIZED {
            return Err(ClientError::Unauthenticated {
                server: self.server().to_owned(),
            });
        }
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(ErrorBody { error }) => Err(ClientError::Answered {
                kind: error.code,
                message: error.message,
                details: error.details,
            }),
            Err(_) => Err(ClientError::NotBaton {
                server: self.server().to_owned(),
                status: status.as_u16(),
                what,
            }),
        }
    }

    /// The answer's body, up to [`MAX_ANSWER_BYTES`].
    async fn body(&self, mut response: Response, what: &str) -> Result<Vec<u8>> {
        let too_large = || ClientError::TooLarge {
            server: self.server().to_owned(),
            what: what.to_owned(),
            limit: MAX_ANSWER_BYTES,
        };
        if response
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(&e))? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// A failure on the way: no answer in time, or none at all.
    fn transport(&self, error: &reqwest::Error) -> ClientError {
        let server = self.server().to_owned();
        if error.is_timeout() {
            return ClientError::TimedOut {
                server,
                seconds: REQUEST_TIMEOUT.as_secs(),
            };
        }
        ClientError::Unreachable {
            server,
            reason: innermost(error),
        }
    }
}

/// A `multipart/form-data` upload form (the `file` part, then `document_type` and
/// `metadata` if given) and its boundary, which the content does not hold.
fn upload_form(
    name: &str,
    content_type: &str,
    document_type: Option<&str>,
    metadata: &serde_json::Map<String, Value>,
    content: Vec<u8>,
) -> (String, Vec<u8>) {
    let boundary = free_boundary(&content);
    // A file name is a quoted string in the part's header: quotes and line ends cannot be in it.
    let name: String = name
        .chars()
        .map(|c| if c == '"' || c.is_control() { '_' } else { c })
        .collect();
    let mut form = Vec::with_capacity(content.len() + 512);
    form.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes());
    form.extend_from_slice(&content);
    form.extend_from_slice(b"\r\n");
    let mut text = |part: &str, value: &str| {
        form.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{part}\"\r\n\r\n{value}\r\n").as_bytes())
    };
    if let Some(document_type) = document_type {
        text("document_type", document_type);
    }
    if !metadata.is_empty() {
        text("metadata", &Value::Object(metadata.clone()).to_string());
    }
    form.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (boundary, form)
}

/// A boundary that does not occur in `content`: a fixed prefix and a counter, tried until one
/// is not found in it.
fn free_boundary(content: &[u8]) -> String {
    (0u64..)
        .map(|n| format!("baton-form-boundary-{n:016x}"))
        .find(|b| !content.windows(b.len()).any(|w| w == b.as_bytes()))
        .expect("some boundary is not in the content")
}

/// The innermost cause of an error (`Connection refused (os error 111)`): what a person can
/// act on, without the HTTP stack's layers around it.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
