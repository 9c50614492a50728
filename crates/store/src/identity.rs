//! Identity: users (with an optional department and an administrator flag), groups with their
//! members, and departments. Human tasks name people by user and group name; the
//! engine uses this store to turn the acting user into a [`Caller`] (their groups, whether they
//! administer) and a task's potential owners into the users whose inbox shows it.

use std::collections::BTreeSet;
use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use baton_core::user_task::{Caller, PotentialOwners};

use crate::StoreError;

/// A person who can be offered tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// A system administrator: may act on every task.
    #[serde(default)]
    pub admin: bool,
    pub created_at: DateTime<Utc>,
}

/// A user as it is added.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewUser {
    pub name: String,
    pub department: Option<String>,
    pub admin: bool,
}

impl NewUser {
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    pub fn in_department(mut self, department: impl Into<String>) -> Self {
        self.department = Some(department.into());
        self
    }

    pub fn admin(mut self) -> Self {
        self.admin = true;
        self
    }
}

/// A named set of users; a task offered to a group can be claimed by any member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    /// Member names, sorted.
    pub members: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// Why an identity operation was refused or failed. A refused operation changes nothing.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("there is no user `{0}`; add it with `baton user add {0}`")]
    UnknownUser(String),
    #[error("there is no group `{0}`; add it with `baton group add {0}`")]
    UnknownGroup(String),
    #[error("user `{0}` already exists")]
    DuplicateUser(String),
    #[error("group `{0}` already exists")]
    DuplicateGroup(String),
    #[error("`{user}` is already a member of group `{group}`")]
    AlreadyMember { group: String, user: String },
    #[error("`{user}` is not a member of group `{group}`")]
    NotMember { group: String, user: String },
    #[error("{kind} name `{name}` is not allowed: {reason}")]
    InvalidName {
        kind: &'static str,
        name: String,
        reason: &'static str,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IdentityError {
    /// Was the request at fault (so the caller should correct it), rather than the store?
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Self::Store(_))
    }
}

/// The built-in user every store has from the start (not an administrator): who acts when an
/// operator command names nobody else.
pub const OPERATOR: &str = "operator";

/// Longest user, group or department name.
pub const MAX_NAME_LEN: usize = 64;

/// Names are what tasks, history and the CLI use to refer to people, so they are kept plain:
/// 1 to 64 letters, digits, `.`, `_`, `-` or `@`, starting with a letter or digit.
pub fn check_name(kind: &'static str, name: &str) -> Result<(), IdentityError> {
    let refuse = |reason| {
        Err(IdentityError::InvalidName {
            kind,
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name.chars().count() > MAX_NAME_LEN {
        return refuse("it is longer than 64 characters");
    }
    if !name.chars().next().is_some_and(|c| c.is_alphanumeric()) {
        return refuse("it must start with a letter or a digit");
    }
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return refuse("use only letters, digits, `.`, `_`, `-` and `@`");
    }
    Ok(())
}

/// Users, groups, departments and administrators.
pub trait IdentityStore: Send + Sync {
    /// Adds a user; a department named for the first time is created with it.
    fn add_user(
        &self,
        user: NewUser,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<User, IdentityError>> + Send;
    fn add_group(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Group, IdentityError>> + Send;
    fn add_member(
        &self,
        group: &str,
        user: &str,
    ) -> impl Future<Output = Result<(), IdentityError>> + Send;
    fn remove_member(
        &self,
        group: &str,
        user: &str,
    ) -> impl Future<Output = Result<(), IdentityError>> + Send;
    fn user(&self, name: &str) -> impl Future<Output = Result<Option<User>, IdentityError>> + Send;
    /// Every user, by name.
    fn users(&self) -> impl Future<Output = Result<Vec<User>, IdentityError>> + Send;
    /// Every group with its members, by name.
    fn groups(&self) -> impl Future<Output = Result<Vec<Group>, IdentityError>> + Send;
    /// The groups `user` belongs to, by name.
    fn groups_of(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Vec<String>, IdentityError>> + Send;
    /// Every department, by name.
    fn departments(&self) -> impl Future<Output = Result<Vec<String>, IdentityError>> + Send;
    fn is_admin(&self, user: &str) -> impl Future<Output = Result<bool, IdentityError>> + Send;
    /// The users `owners` names: the listed users and every member of the listed groups.
    /// An unknown user or group is an error (a task offered to nobody is a mistake to report).
    fn resolve_potential_owners(
        &self,
        owners: &PotentialOwners,
    ) -> impl Future<Output = Result<BTreeSet<String>, IdentityError>> + Send;
    /// Sets the password hash of `user` (a PHC string: the store never sees a password),
    /// replacing the one they had. An unknown user is refused.
    fn set_password_hash(
        &self,
        user: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), IdentityError>> + Send;
    /// The password hash of `user`: `None` when they have none (or there is no such user).
    fn password_hash(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Option<String>, IdentityError>> + Send;

    /// The acting user as the core authorizes them: their groups and administrator flag.
    fn caller(&self, user: &str) -> impl Future<Output = Result<Caller, IdentityError>> + Send {
        async move {
            let found = self
                .user(user)
                .await?
                .ok_or_else(|| IdentityError::UnknownUser(user.to_owned()))?;
            let groups = self.groups_of(user).await?;
            Ok(Caller {
                user: found.name,
                groups: groups.into_iter().collect(),
                admin: found.admin,
            })
        }
    }
}
