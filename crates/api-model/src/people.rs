//! A set of people: users by name and groups by name.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Users and groups, e.g. a human task's potential owners (any listed user, any member of a
/// listed group).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct People {
    /// User names, sorted (none if left out of a request).
    #[serde(default)]
    pub users: BTreeSet<String>,
    /// Group names, sorted (none if left out of a request).
    #[serde(default)]
    pub groups: BTreeSet<String>,
}

impl People {
    /// Nobody is listed.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }
}
