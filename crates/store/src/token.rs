//! API tokens: how a program or a person's client proves which user it acts as. The store keeps
//! only a token's SHA-256 hash, never the secret (which is shown once, when it is made), so a
//! copy of the database gives nobody a way in. A token belongs to one user, may expire, and is
//! revoked for good.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::IdentityError;

/// A token as it is stored and listed (without its secret, which is not kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// The public part of the token, used to list and revoke it.
    pub id: String,
    /// The user every request made with the token acts as.
    pub user: String,
    /// What it is for, as its maker said.
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// `None`: it does not expire.
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Token {
    /// Does the token let a request in at `now`?
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

/// A token to store: its public id and the hash of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub id: String,
    pub user: String,
    pub name: Option<String>,
    /// Lower-case hex SHA-256 of the whole secret token.
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Why a token operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("there is no token `{0}`")]
    UnknownToken(String),
    #[error("token `{0}` is already revoked")]
    AlreadyRevoked(String),
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

/// Storing and finding API tokens.
pub trait TokenStore: Send + Sync {
    /// Stores a token for an existing user (an unknown user is refused).
    fn add_token(&self, token: NewToken) -> impl Future<Output = Result<Token, TokenError>> + Send;
    /// The token whose secret hashes to `secret_hash`, revoked or not.
    fn token_by_hash(
        &self,
        secret_hash: &str,
    ) -> impl Future<Output = Result<Option<Token>, TokenError>> + Send;
    /// Every token, or one user's, oldest first.
    fn tokens(
        &self,
        user: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Token>, TokenError>> + Send;
    /// Revokes a token for good.
    fn revoke_token(
        &self,
        id: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Token, TokenError>> + Send;
}
