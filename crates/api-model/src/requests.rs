//! The requests the HTTP API takes: its JSON bodies and query strings. The server reads them
//! and a client (`baton --server`) writes them, so the wire format is defined here once.
//!
//! Bodies refuse fields they do not know (`deny_unknown_fields`), so a misspelt field is an
//! error and not silently left out. A field left out of a query string takes the default its
//! doc gives.

use chrono::{DateTime, Utc};
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize};

use crate::{Data, InboxStatus, InstanceStatus, People};

/// How many rows a listing gives when the request does not say.
pub const DEFAULT_LIMIT: usize = 50;

/// The rows an inbox page has when the request does not say (as `baton tasks`).
pub const DEFAULT_PER_PAGE: usize = 20;

/// One file to deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeployFile {
    /// Its name, as messages cite it (`orders.yaml:3:7: …`).
    pub name: String,
    /// The YAML (or JSON) text of a process definition or a calendar.
    pub source: String,
}

/// Files to deploy together: all are stored, or (on any problem in any file) none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    pub files: Vec<DeployFile>,
}

/// Which definitions to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct DefinitionsQuery {
    /// Only the processes the acting user may start (a spawn menu, Stardust): startable ones
    /// whose `startable_by` names them or a group of theirs (administrators: every startable one).
    #[serde(default)]
    pub startable: bool,
}

/// Which version of a definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct VersionQuery {
    /// The version; the latest if left out.
    pub version: Option<u32>,
}

/// An instance to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Start {
    /// The process id; its latest version is started.
    pub process: String,
    /// The input process data.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Data,
    /// Makes the start idempotent (1 to 200 letters, digits, `.`, `_`, `-`, `:`): a repeat with
    /// the same key, process and data answers with the instance the first one started; the
    /// same key with another process or data is refused with 409.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9._:-]{1,200}$"))]
    pub idempotency_key: Option<String>,
}

/// Which instances to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct InstancesQuery {
    /// Only instances in this status.
    pub status: Option<InstanceStatus>,
    /// Only instances with an open incident (one page: no cursor).
    #[serde(default)]
    pub incident: bool,
    /// Only instances of this process.
    pub process: Option<String>,
    /// Only instances started at or after this time (RFC 3339).
    pub started_after: Option<DateTime<Utc>>,
    /// Only instances started before this time (RFC 3339).
    pub started_before: Option<DateTime<Utc>>,
    /// Only the instances of this case (the id of the instance that started it).
    pub case: Option<String>,
    /// Only instances whose id starts with this, 1 to 36 characters (what the command line
    /// resolves a short id with).
    #[cfg_attr(feature = "openapi", param(min_length = 1, max_length = 36))]
    pub id_prefix: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// At most this many, 1 to 10,000 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 10000))]
    pub limit: Option<usize>,
}

impl InstancesQuery {
    /// The service's filter for this query.
    pub fn into_filter(self) -> crate::InstanceFilter {
        crate::InstanceFilter {
            status: self.status,
            process: self.process,
            started_after: self.started_after,
            started_before: self.started_before,
            case: self.case,
            id_prefix: self.id_prefix,
            with_open_incident: self.incident,
            cursor: self.cursor,
            limit: self.limit.unwrap_or(DEFAULT_LIMIT),
        }
    }
}

/// How to abort an instance (the body is optional: without it, `abort_parent` is `false`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Abort {
    /// For a `call`ed sub-process: abort the instances above it too, up to the root
    /// (Stardust's "aborting it aborts the root", the user's decision). A hand-off's parent is
    /// never aborted.
    #[serde(default)]
    pub abort_parent: bool,
}

/// A sub-process to spawn under a running instance (Stardust): a sub-process of that
/// instance's root, starting with its data under `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Spawn {
    /// The process id (startable, and the acting user authorized to start it).
    pub process: String,
    /// A deployed version; the latest if left out.
    #[serde(default)]
    pub version: Option<u32>,
    /// Start data over the data it carries from the instance.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Data,
}

/// The process to start in place of an instance started in the wrong one (Stardust's
/// abort-and-start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AbortAndStart {
    /// The process id (startable, and the acting user authorized to start it).
    pub process: String,
    /// A deployed version; the latest if left out.
    #[serde(default)]
    pub version: Option<u32>,
}

/// Which page of a history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct HistoryQuery {
    /// Only events after this `seq` (default 0: from the first): the last `seq` of the previous page.
    pub after: Option<u64>,
    /// At most this many, 1 to 10,000 (default 1,000).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 10000))]
    pub limit: Option<usize>,
}

/// Events a history page holds unless asked for another number.
pub const DEFAULT_HISTORY_PAGE: usize = 1_000;

/// Which incidents to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct LimitQuery {
    /// At most this many, 1 to 10,000 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 10000))]
    pub limit: Option<usize>,
}

/// Where `task back` returns the flow to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Back {
    /// The earlier task, which runs again with the tasks after it.
    #[cfg_attr(feature = "openapi", schema(max_length = 128))]
    pub to: String,
}

/// The values a task's prompts ask for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Input {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub values: Data,
}

/// Metadata keys to set on a document: each key's new value, or `null` to remove the key.
/// The document's version goes up by one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetMetadata {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Data,
}

/// Which page of the acting user's inbox, and which tasks (as `baton tasks` takes them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct InboxParams {
    /// Only tasks in this state.
    pub status: Option<InboxStatus>,
    /// Only tasks of this process.
    pub process: Option<String>,
    /// Only tasks due before this time (RFC 3339).
    pub due_before: Option<DateTime<Utc>>,
    /// Only tasks with at least this priority.
    pub min_priority: Option<i32>,
    /// The page, 1 to 1,000,000 (default 1).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 1000000))]
    pub page: Option<usize>,
    /// Rows per page, 1 to 1,000 (default 20).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 1000))]
    pub per_page: Option<usize>,
}

/// Which human task of a user task: its number, or (left out) the one its chain waits for
/// (`delete` and `restart`: the task the process created).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct HumanTaskNumber {
    pub number: Option<u32>,
}

/// An operation on a human task (IBM's follow-on tasks), named by `operation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "operation", rename_all = "snake_case", deny_unknown_fields)]
pub enum HumanTaskOperation {
    /// Claim a ready task (a potential owner or an administrator).
    Claim,
    /// Give a claimed task back (its owner).
    Unclaim,
    /// Complete a claimed task with output that fits its form (its owner).
    Complete {
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        output: Data,
    },
    /// End a claimed task `ended_not_ok` (its owner), saying why.
    Fail { note: String },
    /// Start a follow-on task for `to` (the owner); title and description default to the task's.
    Forward {
        to: People,
        title: Option<String>,
        description: Option<String>,
        note: Option<String>,
        /// Laid over a copy of the task's input.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        input: Data,
        /// Escalations of the follow-on task's own (IBM's follow-on tasks escalate on their own).
        #[serde(default)]
        escalations: Vec<FollowOnEscalation>,
    },
    /// Create a subtask for `to` (the owner of the claimed task).
    Subtask {
        to: People,
        title: String,
        #[serde(default)]
        description: String,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        input: Data,
        /// The subtask expires this long after it is made (`2 days`, `P2D`).
        expires_after: Option<String>,
    },
    /// Suspend the whole chain.
    Suspend,
    /// Resume the whole chain.
    Resume,
    /// Terminate the whole chain (an administrator).
    Terminate,
    /// Escalate by hand (an administrator).
    Escalate {
        name: String,
        action: RequestedEscalation,
    },
    /// Delete a first task with its follow-ons and subtasks (an administrator).
    Delete,
    /// Start a first task over (an administrator).
    Restart,
}

/// What an escalation a request gives does (an `escalate` by hand, or a follow-on task's
/// own). Named apart from the `Escalation` a human task's view lists: the OpenAPI document
/// has one schema per name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RequestedEscalation {
    /// Add `by` to the priority of the chain's tasks.
    RaisePriority {
        #[serde(deserialize_with = "whole")]
        by: i32,
    },
    /// Notify these people.
    Notify { to: People },
    /// Offer the chain's current task to these people instead.
    Reassign { to: People },
}

/// Reads an integer field as JSON Schema counts integers, and so as the OpenAPI document's
/// `integer` promises: `2` or `2.0`, a number without a fraction (serde alone takes only `2`).
pub fn whole<'de, D: Deserializer<'de>, T: TryFrom<i128>>(deserializer: D) -> Result<T, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    // Past 2^53 a float no longer tells whole numbers apart.
    let exact = |f: f64| f.fract() == 0.0 && f.abs() <= 2f64.powi(53);
    let value = (number.as_i64().map(i128::from))
        .or_else(|| number.as_u64().map(i128::from))
        .or_else(|| number.as_f64().filter(|f| exact(*f)).map(|f| f as i128))
        .ok_or_else(|| D::Error::custom(format!("expected a whole number, not {number}")))?;
    T::try_from(value).map_err(|_| D::Error::custom(format!("{value} is out of range")))
}

/// [`whole`] for a field that may be `null`.
pub fn whole_or_null<'de, D: Deserializer<'de>, T: TryFrom<i128>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    #[derive(Deserialize)]
    struct Whole<T: TryFrom<i128>>(#[serde(deserialize_with = "whole")] T);
    Ok(Option::<Whole<T>>::deserialize(deserializer)?.map(|w| w.0))
}

/// An escalation of a follow-on task: `after` a start (`from`), unless the task reached
/// `unless` by then, do `action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FollowOnEscalation {
    /// Its name, as history shows it.
    pub name: String,
    /// How long after the start (`30m`, `2h`, `1d`, ISO 8601 `PT2H`).
    pub after: String,
    /// From the task's `creation` (the default), each `claim`, or its `due_date`.
    #[serde(default)]
    pub from: Option<EscalationFrom>,
    /// Unnecessary once the task is `claimed`, or `ended` (the default).
    #[serde(default)]
    pub unless: Option<EscalationUnless>,
    /// What it does.
    pub action: RequestedEscalation,
}

/// When an escalation's time starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EscalationFrom {
    Creation,
    Claim,
    DueDate,
}

/// The state that makes an escalation unnecessary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EscalationUnless {
    Claimed,
    Ended,
}

/// A user to add.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// 1 to 64 letters, digits, `.`, `_`, `-` or `@`, starting with a letter or a digit.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub name: String,
    /// Their department (made if new), a name written as a user's.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub department: Option<String>,
    /// May act on every task and manage people.
    #[serde(default)]
    pub admin: bool,
}

/// A group to add.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    /// 1 to 64 letters, digits, `.`, `_`, `-` or `@`, starting with a letter or a digit.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub name: String,
}

/// A user to add to a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    pub user: String,
}

/// A user's new password (for signing in to the web UI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    /// 8 to 1,024 bytes; only its argon2 hash is kept.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 1024))]
    pub password: String,
}

/// A browser's sign-in: a user name and password, or an API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The user's name (with `password`).
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub user: Option<String>,
    /// Their password (with `user`).
    #[cfg_attr(feature = "openapi", schema(max_length = 1024))]
    pub password: Option<String>,
    /// Instead of a name and password: an API token's secret.
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub token: Option<String>,
}

/// A token to make. (Named apart from the `NewToken` the answer holds: the OpenAPI document
/// has one schema per name.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The user it acts as; the acting user if left out (another's takes an administrator).
    pub user: Option<String>,
    /// What it is for.
    pub name: Option<String>,
    /// How long it is valid (`30d`, `12h`); until revoked if left out.
    pub lifetime: Option<String>,
}

/// Whose tokens to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct TokensQuery {
    /// This user's; the acting user's if left out (another's or `*` for all takes an administrator).
    pub user: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_is_written_with_its_name_under_operation_and_read_back_the_same() {
        let forward = HumanTaskOperation::Forward {
            to: People {
                users: ["sarah".to_owned()].into(),
                groups: Default::default(),
            },
            title: Some("Legal Review".into()),
            description: None,
            note: None,
            input: Data::new(),
            escalations: vec![FollowOnEscalation {
                name: "slow".into(),
                after: "1h".into(),
                from: Some(EscalationFrom::Claim),
                unless: None,
                action: RequestedEscalation::RaisePriority { by: 2 },
            }],
        };
        let text = serde_json::to_value(&forward).unwrap();
        assert_eq!(text["operation"], "forward");
        assert_eq!(
            serde_json::from_value::<HumanTaskOperation>(text).unwrap(),
            forward
        );
        let claim = serde_json::to_string(&HumanTaskOperation::Claim).unwrap();
        assert_eq!(claim, r#"{"operation":"claim"}"#);
    }

    #[test]
    fn a_body_with_a_field_it_does_not_know_is_refused() {
        let refused = serde_json::from_str::<Start>(r#"{"process": "p", "dta": {}}"#).unwrap_err();
        assert!(
            refused.to_string().contains("unknown field `dta`"),
            "{refused}"
        );
    }
}

/// A fetch of external jobs (Camunda's fetch-and-lock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FetchAndLock {
    /// The worker's id (1 to 200 ASCII letters, digits, `.`, `_`, `-`, `:`): its reports name it.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9._:-]{1,200}$"))]
    pub worker_id: String,
    /// The topics it works (1 to 100), each written like a worker id.
    #[cfg_attr(feature = "openapi", schema(schema_with = topics_schema))]
    pub topics: Vec<String>,
    /// Most jobs to lock, 1 to 1,000 (default 10).
    #[serde(default = "default_max_jobs", deserialize_with = "whole")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub max_jobs: usize,
    /// How long the locks last, 1,000 ms to 24 h (default 5 minutes).
    #[serde(default = "default_lock_ms", deserialize_with = "whole")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1000, maximum = 86400000))]
    pub lock_duration_ms: u64,
    /// With no job queued, how long to wait for one, up to 300,000 ms (default 0: answer at once).
    #[serde(default, deserialize_with = "whole")]
    #[cfg_attr(feature = "openapi", schema(maximum = 300000))]
    pub timeout_ms: u64,
}

/// How a worker id and a topic are written (see `wire_name_problem`).
#[cfg(feature = "openapi")]
const WIRE_NAME: &str = r"^[A-Za-z0-9._:-]{1,200}$";

#[cfg(feature = "openapi")]
fn topics_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .description(Some(
            "The topics it works (1 to 100), each written like a worker id.",
        ))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(WIRE_NAME)),
        )
        .min_items(Some(1))
        .max_items(Some(100))
        .build()
}

fn default_max_jobs() -> usize {
    10
}

fn default_lock_ms() -> u64 {
    300_000
}

/// A worker's report that the job is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CompleteJob {
    /// The worker holding the lock.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9._:-]{1,200}$"))]
    pub worker_id: String,
    /// Output merged into process data (checked against the data limits and declared types).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Option<Data>,
}

/// A worker's report that the job failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FailJob {
    /// The worker holding the lock.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9._:-]{1,200}$"))]
    pub worker_id: String,
    /// Why (at most 8 KiB).
    pub message: String,
    /// Run it again if the task's `retry:` policy has a retry left (default `true`); `false`
    /// ends the task `ended_not_ok` now.
    #[serde(default = "default_true")]
    pub retry: bool,
    /// Wait this long before the retry instead of the policy's delay, at most 30 days.
    #[serde(default, deserialize_with = "whole_or_null")]
    #[cfg_attr(feature = "openapi", schema(maximum = 2592000000.0))]
    pub retry_after_ms: Option<u64>,
}

fn default_true() -> bool {
    true
}

/// A worker's report ending the job with a status of its choosing (a business error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EndJob {
    /// The worker holding the lock.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9._:-]{1,200}$"))]
    pub worker_id: String,
    /// `ended_ok`, `ended_not_ok` or `ended_skipped`.
    pub status: WorkerEndStatus,
    /// Why (at most 8 KiB).
    #[serde(default)]
    pub message: Option<String>,
    /// Output merged into process data first.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Option<Data>,
}

/// The end statuses a worker may give a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WorkerEndStatus {
    EndedOk,
    EndedNotOk,
    EndedSkipped,
}

/// A worker's extension of its lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExtendLock {
    /// The worker holding the lock.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9._:-]{1,200}$"))]
    pub worker_id: String,
    /// The lock's new length from now, 1,000 ms to 24 h.
    #[serde(deserialize_with = "whole")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1000, maximum = 86400000))]
    pub duration_ms: u64,
}

/// An event to publish, for the `wait` tasks that wait for its name and key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PublishEvent {
    /// The event's name (1 to 200 ASCII letters, digits, `.`, `_`, `-`, `:`), as `wait` tasks name it.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9._:-]{1,200}$"))]
    pub name: String,
    /// The correlation key (1 to 256 bytes, no control characters): it reaches the tasks that
    /// wait with this key. Without one, the tasks that wait without a key.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 256))]
    pub key: Option<String>,
    /// The payload, which the tasks' `condition` and `output` read as `event` (within the data limits).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Data,
    /// The event's id (1 to 200 bytes): publishing an id again while it is remembered does
    /// nothing. Without one, a new id.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub id: Option<String>,
    /// How long, in milliseconds, the event is buffered when nothing takes it: 0 (not at all)
    /// to 30 days (2,592,000,000). Default one hour.
    #[serde(default, deserialize_with = "whole_or_null")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 2592000000u64))]
    pub ttl_ms: Option<u64>,
}

/// An interactive workflow to start in a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SessionStart {
    /// The process id (an interactive one); its latest version is started.
    pub process: String,
    /// The input process data.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Data,
}

/// The user's submission of the view a workflow shows: data that fits the view's form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// The `view` task submitted; `null`: the view the workflow shows (the first, if several are).
    #[serde(default)]
    pub task: Option<String>,
    /// The view's fields.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Data,
}
