//! The people human tasks are offered to: users and groups.

use serde::{Deserialize, Serialize};

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// The name tasks and `--as` refer to them by.
    pub name: String,
    /// Their department; `null` if none.
    pub department: Option<String>,
    /// An administrator may act on every task.
    pub admin: bool,
    /// The groups they belong to, by name.
    pub groups: Vec<String>,
}

/// A group: a task offered to it may be claimed by any member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Group {
    /// The name definitions refer to it by.
    pub name: String,
    /// Its members' names, sorted.
    pub members: Vec<String>,
}

/// A browser signed in: who they are and the user session their sign-in opened (its
/// interactive workflows; signing out logs it out). The credential itself travels in an
/// HttpOnly cookie, never in a body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedIn {
    /// The signed-in user, with their groups.
    pub user: User,
    /// The user session the sign-in opened.
    pub session: crate::Session,
}
