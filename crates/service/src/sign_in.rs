//! Signing in to the web UI: passwords, kept only as argon2 hashes, and a browser's sign-in by
//! password or API token. A sign-in opens the user's session (the one Siebel's interactive
//! workflows run in) and gives the credential the browser keeps in its cookie; signing out is
//! that session's logout, and ends a password sign-in's credential too.
//!
//! A password sign-in's credential is an API token of its own (named [`SIGN_IN_TOKEN_NAME`],
//! valid for [`SIGN_IN_LIFETIME`]), so every request the browser makes is authenticated as a
//! program's is, and `baton token list` shows and `baton token revoke` ends it. A token
//! sign-in keeps the token it was given, which signing out leaves valid.

use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use baton_api_model as api;
use baton_store::identity::MAX_NAME_LEN;

use crate::{Result, Service, ServiceError, ServiceStore};

/// The shortest password a user may set, in characters.
pub const MIN_PASSWORD_LEN: usize = 8;
/// The longest password a user may set or sign in with, in characters.
pub const MAX_PASSWORD_LEN: usize = 1024;
/// How long a password sign-in's credential is valid (signing out ends it sooner).
pub const SIGN_IN_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// The name of the token a password sign-in makes.
pub const SIGN_IN_TOKEN_NAME: &str = "web sign-in";

/// A browser's sign-in: what it is shown, and the secret its cookie keeps.
#[derive(Debug)]
pub struct BrowserSignIn {
    pub view: api::SignedIn,
    pub secret: String,
}

fn check_password(password: &str) -> Result<()> {
    // Counted in characters, as the API document's `minLength`/`maxLength` count them.
    let length = password.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&length) {
        return Err(ServiceError::InvalidRequest {
            field: "password",
            problem: format!(
                "a password has {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters, not {length}"
            ),
        });
    }
    Ok(())
}

/// Argon2 takes tens of milliseconds of CPU on purpose: off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ServiceError::Internal(format!("hashing a password: {e}")))
}

fn hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("hashing a password: {e}")))
}

/// Whether `password` is the one `stored` is the hash of. A hash that does not parse matches no
/// password.
fn verify(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash of no one's password, checked against when the user has none, so that an unknown
/// user takes as long to refuse as a wrong password.
static NOBODYS_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash("no one's password").unwrap_or_default());

impl<S: ServiceStore> Service<S> {
    /// Sets the password `for_user` signs in to the web UI with: the acting user's own, or (an
    /// administrator) anyone's.
    pub async fn set_password(&self, user: &str, for_user: &str, password: &str) -> Result<()> {
        let caller = self.authenticate(user).await?;
        if caller.user != for_user {
            self.require_admin(&caller, "set other users' passwords")?;
        }
        check_password(password)?;
        let password = password.to_owned();
        let hashed = blocking(move || hash(&password)).await??;
        self.engine
            .store()
            .set_password_hash(for_user, &hashed, self.engine.now())
            .await?;
        tracing::info!(user = %for_user, by = %caller.user, "password set");
        Ok(())
    }

    /// Signs `name` in by their password: a new credential for the browser's cookie and a new
    /// session. An unknown user, a user without a password and a wrong password are refused
    /// alike.
    pub async fn sign_in_with_password(&self, name: &str, password: &str) -> Result<BrowserSignIn> {
        if name.len() > MAX_NAME_LEN * 4 || password.chars().count() > MAX_PASSWORD_LEN {
            return Err(ServiceError::SignInRefused);
        }
        let stored = self.engine.store().password_hash(name).await?;
        let known = stored.is_some();
        let (stored, password) = (
            stored.unwrap_or_else(|| NOBODYS_HASH.clone()),
            password.to_owned(),
        );
        if !(blocking(move || verify(&stored, &password)).await? && known) {
            tracing::info!(user = %name, "sign-in refused");
            return Err(ServiceError::SignInRefused);
        }
        let (token, secret) = self
            .engine
            .create_token(name, Some(SIGN_IN_TOKEN_NAME), Some(SIGN_IN_LIFETIME))
            .await?;
        match self.signed_in(name).await {
            Ok(view) => Ok(BrowserSignIn { view, secret }),
            Err(e) => {
                // No session, no sign-in: the credential made for it must not outlive it.
                self.engine.revoke_token(&token.id).await?;
                Err(e)
            }
        }
    }

    /// Signs a browser in by an API token's secret, which its cookie then keeps.
    pub async fn sign_in_with_token(&self, secret: &str) -> Result<BrowserSignIn> {
        let user = self
            .token_user(secret)
            .await
            .map_err(|_| ServiceError::SignInRefused)?;
        Ok(BrowserSignIn {
            view: self.signed_in(&user).await?,
            secret: secret.to_owned(),
        })
    }

    /// Signs the browser with `secret` out: logs its `session` out (if it is still open) and
    /// ends the credential when a password sign-in made it.
    pub async fn sign_out(
        &self,
        secret: &str,
        session: Option<&str>,
    ) -> Result<Option<api::Logout>> {
        let token = self.engine.authenticate(secret).await?;
        let logout = match session {
            Some(id) => match self.logout(&token.user, id).await {
                Ok(logout) => Some(logout),
                Err(ServiceError::SessionNotFound(_)) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        if token.name.as_deref() == Some(SIGN_IN_TOKEN_NAME) {
            self.engine.revoke_token(&token.id).await?;
        }
        Ok(logout)
    }

    async fn signed_in(&self, user: &str) -> Result<api::SignedIn> {
        let session = self.login(user).await?;
        Ok(api::SignedIn {
            user: self.me(user).await?,
            session,
        })
    }
}
