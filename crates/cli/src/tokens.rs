//! `baton token create|list|revoke`: API tokens, each acting as one user. The secret is
//! printed once, on stdout alone (so `TOKEN=$(baton token create …)` keeps it); what is kept
//! is its hash.

use std::fmt::Write;
use std::time::Duration;

use clap::Subcommand;

use crate::backend::Backend;
use crate::exit::Result;
use baton_api_model::{Token, TokenState};

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Make a token for a user and print its secret (shown this once).
    Create {
        /// The user every request with the token acts as.
        #[arg(long)]
        user: String,
        /// What the token is for (shown in `baton token list`).
        #[arg(long)]
        name: Option<String>,
        /// How long it is valid, e.g. `30d`, `12h` (at most 10 years); without it, until revoked.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires: Option<Duration>,
    },
    /// List tokens (never their secrets), oldest first: everyone's, or with --server the
    /// token user's own.
    List {
        /// Only this user's (with --server another's takes an administrator).
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token for good: requests with it are refused from now on.
    Revoke { id: String },
}

pub async fn act(backend: &Backend, action: TokenCmd) -> Result<u8> {
    match action {
        TokenCmd::Create {
            user,
            name,
            expires,
        } => {
            let made = backend
                .create_token(&user, name.as_deref(), expires)
                .await?;
            let (token, secret) = (made.token, made.secret);
            let until = token.expires_at.map_or_else(
                || "until revoked".to_owned(),
                |t| format!("until {}", t.to_rfc3339()),
            );
            errln!(
                "token {} for {} made, valid {until}; its secret is shown only now:",
                token.id,
                token.user
            );
            outln!("{secret}");
        }
        TokenCmd::List { user } => out!("{}", table(&backend.tokens(user.as_deref()).await?)),
        TokenCmd::Revoke { id } => {
            let token = backend.revoke_token(&id).await?;
            outln!("token {} of {} revoked", token.id, token.user);
        }
    }
    Ok(0)
}

fn table(tokens: &[Token]) -> String {
    let mut out = String::new();
    if tokens.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "{:<12}  {:<20}  {:<8}  {:<20}  {:<20}  name",
        "id", "user", "state", "created", "expires"
    );
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(
            || "-".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
        )
    };
    for t in tokens {
        let state = match t.state {
            TokenState::Valid => "valid",
            TokenState::Expired => "expired",
            TokenState::Revoked => "revoked",
        };
        let _ = writeln!(
            out,
            "{:<12}  {:<20}  {state:<8}  {:<20}  {:<20}  {}",
            t.id,
            t.user,
            time(Some(t.created_at)),
            time(t.expires_at),
            t.name.as_deref().unwrap_or("")
        );
    }
    out
}
