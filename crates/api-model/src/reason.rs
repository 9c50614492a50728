//! Which rule put a task or an instance into its status.

use serde::{Deserialize, Serialize};

use crate::Data;

/// The rule behind a status, with its values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reason {
    /// The rule's name, e.g. `predecessors_pending`, `dependency_not_met`, `exited`,
    /// `operator`, `breakpoint`, `offered_to`.
    pub rule: String,
    /// The rule as a sentence, as `baton show` prints it (e.g. `abort by operator`).
    pub message: String,
    /// The rule's values by name (e.g. `{"action": "abort", "by": "operator"}` for
    /// `operator`, `{"code": 1}` for `exited`); times in them are RFC 3339 UTC.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: Data,
}
