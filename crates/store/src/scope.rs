//! Department scopes: which instances a reader may see by the department they carry
//! (Stardust's department scoping). Listings take one and filter in their query, so a page
//! holds only what its reader may see and is full when there is more.

use serde::{Deserialize, Serialize};

/// Which instances, by their department, a query covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DepartmentScope {
    /// Every instance (an administrator's view, and the engine's).
    #[default]
    All,
    /// Only instances without a department (a user who belongs to none).
    Unscoped,
    /// Instances without a department and those of this one (a user of this department).
    Department(String),
}

impl DepartmentScope {
    /// Does the scope cover an instance of `department` (`None`: an unscoped one)?
    pub fn admits(&self, department: Option<&str>) -> bool {
        match (self, department) {
            (Self::All, _) | (_, None) => true,
            (Self::Unscoped, Some(_)) => false,
            (Self::Department(mine), Some(theirs)) => mine == theirs,
        }
    }

    /// The scope as two SQL parameters, for the condition
    /// `(?m = 0 OR department IS NULL OR (?m = 2 AND department = ?d))`: the mode (0 all,
    /// 1 unscoped only, 2 one department) and the department.
    pub fn sql_params(&self) -> (i64, Option<&str>) {
        match self {
            Self::All => (0, None),
            Self::Unscoped => (1, None),
            Self::Department(d) => (2, Some(d)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DepartmentScope;

    #[test]
    fn a_scope_admits_unscoped_instances_and_those_of_its_own_department_only() {
        let legal = DepartmentScope::Department("legal".into());
        assert!(legal.admits(None));
        assert!(legal.admits(Some("legal")));
        assert!(!legal.admits(Some("sales")));
        assert!(DepartmentScope::Unscoped.admits(None));
        assert!(!DepartmentScope::Unscoped.admits(Some("legal")));
        assert!(DepartmentScope::All.admits(Some("sales")) && DepartmentScope::All.admits(None));
    }
}
