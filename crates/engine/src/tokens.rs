//! API tokens through the engine: made with a random secret shown once, stored as its SHA-256
//! hash, checked on every request. A token looks like `baton_<id>_<secret>`: the id names it in
//! lists and revocations; the secret (256 random bits) is what proves it. A secret with that
//! much entropy needs no slow password hash: SHA-256 of it cannot be reversed or guessed, and
//! finding a token by its hash leaks nothing a timing attack could use.

use std::time::Duration;

use sha2::{Digest, Sha256};

use baton_store::{IdentityStore, NewToken, Store, Token, TokenStore};

use crate::{Engine, EngineError};

/// How every token begins (so secret scanners and people can tell one apart).
pub const TOKEN_PREFIX: &str = "baton_";

/// The longest life a token may be given (ten years).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(10 * 366 * 24 * 3600);

fn random_hex(bytes: usize) -> Result<String, EngineError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| EngineError::Random(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The stored form of a secret token.
pub(crate) fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl<S: Store + IdentityStore + TokenStore> Engine<S> {
    /// Makes a token for `user` (who must exist), valid for `lifetime` or until revoked.
    /// Returns it with its secret, which is not kept anywhere: show it once.
    pub async fn create_token(
        &self,
        user: &str,
        name: Option<&str>,
        lifetime: Option<Duration>,
    ) -> Result<(Token, String), EngineError> {
        if lifetime.is_some_and(|l| l > MAX_TOKEN_LIFETIME || l.is_zero()) {
            return Err(EngineError::TokenLifetime {
                max_years: MAX_TOKEN_LIFETIME.as_secs() / (366 * 24 * 3600),
            });
        }
        let id = random_hex(6)?;
        let secret = format!("{TOKEN_PREFIX}{id}_{}", random_hex(32)?);
        let now = self.now();
        let expires_at =
            lifetime.map(|l| now + chrono::Duration::from_std(l).unwrap_or(chrono::Duration::MAX));
        let token = NewToken {
            id,
            user: user.to_owned(),
            name: name.map(str::to_owned),
            secret_hash: hash(&secret),
            created_at: now,
            expires_at,
        };
        let stored = self.store().add_token(token).await?;
        tracing::info!(token = %stored.id, user = %stored.user, "token created");
        Ok((stored, secret))
    }

    /// The token a request presents, if it lets the request in now: known, not revoked, not
    /// expired. Every refusal is the same to the client.
    pub async fn authenticate(&self, secret: &str) -> Result<Token, EngineError> {
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 200 {
            return Err(EngineError::Unauthenticated {
                why: "not a Baton token",
            });
        }
        let Some(token) = self.store().token_by_hash(&hash(secret)).await? else {
            return Err(EngineError::Unauthenticated {
                why: "unknown token",
            });
        };
        if token.revoked_at.is_some() {
            return Err(EngineError::Unauthenticated {
                why: "revoked token",
            });
        }
        if !token.is_valid_at(self.now()) {
            return Err(EngineError::Unauthenticated {
                why: "expired token",
            });
        }
        Ok(token)
    }

    /// Every token, or `user`'s, oldest first (without secrets: none is kept).
    pub async fn tokens(&self, user: Option<&str>) -> Result<Vec<Token>, EngineError> {
        Ok(self.store().tokens(user).await?)
    }

    /// Revokes a token for good: requests with it are refused from now on.
    pub async fn revoke_token(&self, id: &str) -> Result<Token, EngineError> {
        let revoked = self.store().revoke_token(id, self.now()).await?;
        tracing::info!(token = %revoked.id, user = %revoked.user, "token revoked");
        Ok(revoked)
    }
}
