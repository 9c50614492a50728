//! API tokens: each lets a program act as one user. A token's secret is never part of a view
//! except once, in [`NewToken`], when it is made.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A token, without its secret (which Baton does not keep).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Token {
    /// The token's public id (`baton token revoke ID`); the secret begins `baton_ID_`.
    pub id: String,
    /// The user every request with the token acts as.
    pub user: String,
    /// What it is for; `null` if its maker did not say.
    pub name: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops being valid; `null`: not until revoked.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked; `null` if it was not.
    pub revoked_at: Option<DateTime<Utc>>,
    /// `valid`, `expired` or `revoked`, now.
    pub state: TokenState,
}

/// Whether a token lets requests in now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    Valid,
    Expired,
    Revoked,
}

/// A token just made, with its secret: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewToken {
    /// The token.
    pub token: Token,
    /// The secret to send as `Authorization: Bearer SECRET`; not kept by Baton.
    pub secret: String,
}
