//! The environment a job gets. A job starts from a clean environment, not the worker's: a
//! server's environment holds its secrets, and a definition author must not be able to read
//! them by writing a job. The operator who runs the worker decides what else jobs get.

use std::ffi::{OsStr, OsString};

/// The variables of the worker's environment every job gets (those that are set).
pub const ALWAYS_PASSED: [&str; 4] = ["PATH", "HOME", "LANG", "TZ"];

/// Which variables of the worker's own environment jobs get besides [`ALWAYS_PASSED`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PassEnv {
    /// Only [`ALWAYS_PASSED`].
    #[default]
    Defaults,
    /// These too.
    Names(Vec<String>),
    /// The worker's whole environment.
    All,
}

impl PassEnv {
    /// The variables of `environment` (the worker's: `std::env::vars_os()`) that jobs get.
    pub fn select(
        &self,
        environment: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Vec<(OsString, OsString)> {
        environment
            .into_iter()
            .filter(|(name, _)| self.passes(name))
            .collect()
    }

    fn passes(&self, name: &OsStr) -> bool {
        let named = |names: &[&str]| names.iter().any(|n| OsStr::new(n) == name);
        match self {
            Self::All => true,
            Self::Defaults => named(&ALWAYS_PASSED),
            Self::Names(names) => {
                named(&ALWAYS_PASSED) || names.iter().any(|n| OsStr::new(n) == name)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker_environment() -> Vec<(OsString, OsString)> {
        [
            ("PATH", "/usr/bin:/bin"),
            ("HOME", "/root"),
            ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
            ("DATABASE_URL", "postgres://u:p@db"),
            ("TZ", "Europe/Berlin"),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
    }

    fn names(vars: &[(OsString, OsString)]) -> Vec<&str> {
        vars.iter().map(|(k, _)| k.to_str().unwrap()).collect()
    }

    #[test]
    fn by_default_a_job_gets_path_home_lang_and_tz_and_no_other_variable_of_the_worker() {
        assert_eq!(
            names(&PassEnv::Defaults.select(worker_environment())),
            ["PATH", "HOME", "TZ"]
        );
    }

    #[test]
    fn the_operator_passes_more_variables_by_name_or_all_of_them() {
        let passed = PassEnv::Names(vec!["DATABASE_URL".into(), "NOT_SET".into()])
            .select(worker_environment());
        assert_eq!(names(&passed), ["PATH", "HOME", "DATABASE_URL", "TZ"]);
        assert_eq!(
            PassEnv::All.select(worker_environment()),
            worker_environment()
        );
    }
}
