//! People: who may work a human task ([`PotentialOwners`]), the user an operation acts for
//! ([`Caller`]) and who asks for it ([`Actor`]: a user or the engine itself).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Who may work a task: listed users and members of listed groups. Expressions over process
/// data are evaluated by the caller and added with [`PotentialOwners::add_resolved`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PotentialOwners {
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub users: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub groups: BTreeSet<String>,
}

impl PotentialOwners {
    /// Just this user.
    pub fn user(name: impl Into<String>) -> Self {
        Self::default().and_user(name)
    }

    /// The members of this group.
    pub fn group(name: impl Into<String>) -> Self {
        Self::default().and_group(name)
    }

    pub fn and_user(mut self, name: impl Into<String>) -> Self {
        self.users.insert(name.into());
        self
    }

    pub fn and_group(mut self, name: impl Into<String>) -> Self {
        self.groups.insert(name.into());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    /// Is `caller` listed, or a member of a listed group?
    pub fn includes(&self, caller: &Caller) -> bool {
        self.users.contains(&caller.user) || caller.groups.iter().any(|g| self.groups.contains(g))
    }
}

impl fmt::Display for PotentialOwners {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .users
            .iter()
            .cloned()
            .chain(self.groups.iter().map(|g| format!("group {g}")))
            .collect();
        f.write_str(&names.join(", "))
    }
}

/// The user an operation acts for, as the identity store knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub user: String,
    #[serde(default)]
    pub groups: BTreeSet<String>,
    /// A system administrator: may act on every task.
    #[serde(default)]
    pub admin: bool,
}

impl Caller {
    pub fn new(user: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            groups: BTreeSet::new(),
            admin: false,
        }
    }

    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.groups.insert(group.into());
        self
    }

    pub fn admin(mut self) -> Self {
        self.admin = true;
        self
    }
}

/// Who asks for an operation: a user, or the engine itself (timers, the process ending or being deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "actor", rename_all = "snake_case")]
pub enum Actor {
    User(Caller),
    Engine,
}

impl Actor {
    /// The name recorded in history.
    pub fn name(&self) -> &str {
        match self {
            Self::User(c) => &c.user,
            Self::Engine => "engine",
        }
    }
}
