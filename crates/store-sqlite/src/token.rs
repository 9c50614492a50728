//! [`TokenStore`] on SQLite (migration `20261202_0009_tokens.sql`): tokens keyed by their public
//! id, found by the unique hash of their secret. Writes go through the single writer, so the
//! user check and the insert are one atomic request.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use baton_store::token::{NewToken, Token, TokenError, TokenStore};
use baton_store::{IdentityError, StoreError};

use crate::{db_err, parse_ts, ts, SqliteStore};

const COLUMNS: &str = "id, user_name, name, created_at, expires_at, revoked_at";

fn token_row(row: &rusqlite::Row) -> rusqlite::Result<Token> {
    let time = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        row.get::<_, Option<String>>(i)?
            .map(|t| parse_ts(&t))
            .transpose()
    };
    Ok(Token {
        id: row.get(0)?,
        user: row.get(1)?,
        name: row.get(2)?,
        created_at: parse_ts(&row.get::<_, String>(3)?)?,
        expires_at: time(4)?,
        revoked_at: time(5)?,
    })
}

fn token_by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<Token>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM api_tokens WHERE id = ?1"))?
        .query_row([id], token_row)
        .optional()
}

fn store_err(e: rusqlite::Error) -> TokenError {
    TokenError::Identity(IdentityError::Store(db_err(e)))
}

impl SqliteStore {
    /// Runs `f` in the writer; a refusal wrote nothing and commits nothing.
    async fn write_token<T, F>(&self, f: F) -> Result<T, TokenError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, TokenError> + Send + 'static,
    {
        self.write(move |conn| match f(conn) {
            Err(TokenError::Identity(IdentityError::Store(e))) => Err(e),
            other => Ok(other),
        })
        .await
        .map_err(|e: StoreError| TokenError::Identity(IdentityError::Store(e)))?
    }
}

impl TokenStore for SqliteStore {
    async fn add_token(&self, token: NewToken) -> Result<Token, TokenError> {
        self.write_token(move |conn| {
            let known: bool = conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE name = ?1)")
                .and_then(|mut s| s.query_row([&token.user], |r| r.get(0)))
                .map_err(store_err)?;
            if !known {
                return Err(IdentityError::UnknownUser(token.user).into());
            }
            conn.prepare_cached("INSERT INTO api_tokens (id, user_name, name, secret_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .and_then(|mut s| s.execute(params![token.id, token.user, token.name, token.secret_hash, ts(token.created_at), token.expires_at.map(ts)]))
                .map_err(store_err)?;
            Ok(Token { id: token.id, user: token.user, name: token.name, created_at: token.created_at, expires_at: token.expires_at, revoked_at: None })
        })
        .await
    }

    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<Token>, TokenError> {
        let hash = secret_hash.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM api_tokens WHERE secret_hash = ?1"
            ))?
            .query_row([hash], token_row)
            .optional()
        })
        .map_err(|e| TokenError::Identity(IdentityError::Store(e)))
    }

    async fn tokens(&self, user: Option<&str>) -> Result<Vec<Token>, TokenError> {
        let user = user.map(str::to_owned);
        self.read(move |conn| {
            let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE ?1 IS NULL OR user_name = ?1 ORDER BY created_at, id");
            conn.prepare_cached(&sql)?.query_map([user], token_row)?.collect()
        })
        .map_err(|e| TokenError::Identity(IdentityError::Store(e)))
    }

    async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<Token, TokenError> {
        let id = id.to_owned();
        self.write_token(move |conn| {
            let Some(token) = token_by_id(conn, &id).map_err(store_err)? else {
                return Err(TokenError::UnknownToken(id));
            };
            if token.revoked_at.is_some() {
                return Err(TokenError::AlreadyRevoked(id));
            }
            conn.prepare_cached("UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![id, ts(at)]))
                .map_err(store_err)?;
            Ok(Token {
                revoked_at: Some(at),
                ..token
            })
        })
        .await
    }
}
