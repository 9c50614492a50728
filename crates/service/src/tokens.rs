//! API tokens: a user makes, lists and revokes their own; an administrator anyone's. A
//! token's secret leaves the service once, when it is made.

use std::time::Duration;

use baton_api_model as api;

use crate::{Result, Service, ServiceStore};

fn view(token: &baton_store::Token, now: chrono::DateTime<chrono::Utc>) -> api::Token {
    let state = match (token.revoked_at, token.is_valid_at(now)) {
        (Some(_), _) => api::TokenState::Revoked,
        (None, true) => api::TokenState::Valid,
        (None, false) => api::TokenState::Expired,
    };
    api::Token {
        id: token.id.clone(),
        user: token.user.clone(),
        name: token.name.clone(),
        created_at: token.created_at,
        expires_at: token.expires_at,
        revoked_at: token.revoked_at,
        state,
    }
}

impl<S: ServiceStore> Service<S> {
    /// Makes a token for `for_user`, valid for `lifetime` (or until revoked).
    pub async fn create_token(
        &self,
        user: &str,
        for_user: &str,
        name: Option<&str>,
        lifetime: Option<Duration>,
    ) -> Result<api::NewToken> {
        let caller = self.authenticate(user).await?;
        if caller.user != for_user {
            self.require_admin(&caller, "make tokens for other users")?;
        }
        let (token, secret) = self.engine.create_token(for_user, name, lifetime).await?;
        Ok(api::NewToken {
            token: view(&token, self.engine.now()),
            secret,
        })
    }

    /// The user a token's secret acts as, if it lets a request in now.
    pub async fn token_user(&self, secret: &str) -> Result<String> {
        Ok(self.engine.authenticate(secret).await?.user)
    }

    /// Tokens, oldest first: the caller's own, or (for an administrator) `of` anyone's or all.
    pub async fn tokens(&self, user: &str, of: Option<&str>) -> Result<Vec<api::Token>> {
        let caller = self.authenticate(user).await?;
        let of = match of {
            Some(u) if u == caller.user => Some(u),
            other => {
                self.require_admin(&caller, "list other users' tokens")?;
                other
            }
        };
        let now = self.engine.now();
        Ok(self
            .engine
            .tokens(of)
            .await?
            .iter()
            .map(|t| view(t, now))
            .collect())
    }

    /// Revokes a token: the caller's own, or (for an administrator) anyone's.
    pub async fn revoke_token(&self, user: &str, id: &str) -> Result<api::Token> {
        let caller = self.authenticate(user).await?;
        let owner = self
            .engine
            .tokens(None)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .map(|t| t.user);
        if owner.as_deref() != Some(caller.user.as_str()) {
            self.require_admin(&caller, "revoke other users' tokens")?;
        }
        let revoked = self.engine.revoke_token(id).await?;
        Ok(view(&revoked, self.engine.now()))
    }
}
