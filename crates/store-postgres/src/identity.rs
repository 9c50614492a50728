//! [`IdentityStore`] and [`TokenStore`] on PostgreSQL: users, departments, groups and their
//! members, and API tokens.
//!
//! Each write is one transaction whose checks and insert cannot be split by another node's: a
//! duplicate is refused by the primary key (two racing adds of one user: one wins), and a
//! member or a token is inserted by a statement that finds its group and user in the same
//! snapshot. A refusal is decided before anything commits. Names sort by their bytes (the
//! columns' collation is "C"), as on SQLite.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;

use baton_core::user_task::PotentialOwners;
use baton_store::identity::{check_name, Group, IdentityError, IdentityStore, NewUser, User};
use baton_store::token::{NewToken, Token, TokenError, TokenStore};

use crate::{db_err, PgStore};

type Refusable<T> = Result<T, IdentityError>;

fn store_err(e: sqlx::Error) -> IdentityError {
    IdentityError::Store(db_err(e))
}

fn token_err(e: sqlx::Error) -> TokenError {
    TokenError::Identity(store_err(e))
}

/// Whether `e` is the unique violation of an insert that found its key taken.
fn is_duplicate(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

fn user_row(row: &PgRow) -> sqlx::Result<User> {
    Ok(User {
        name: row.try_get(0)?,
        department: row.try_get(1)?,
        admin: row.try_get(2)?,
        created_at: row.try_get(3)?,
    })
}

impl PgStore {
    async fn user_exists(&self, name: &str) -> Refusable<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE name = $1)")
            .bind(name)
            .fetch_one(self.pool())
            .await
            .map_err(store_err)
    }

    async fn group_exists(&self, name: &str) -> Refusable<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM user_groups WHERE name = $1)")
            .bind(name)
            .fetch_one(self.pool())
            .await
            .map_err(store_err)
    }

    /// Refuses unless the group and the user both exist (the group checked first).
    async fn known_pair(&self, group: &str, user: &str) -> Refusable<()> {
        if !self.group_exists(group).await? {
            return Err(IdentityError::UnknownGroup(group.to_owned()));
        }
        if !self.user_exists(user).await? {
            return Err(IdentityError::UnknownUser(user.to_owned()));
        }
        Ok(())
    }
}

impl IdentityStore for PgStore {
    async fn add_user(&self, user: NewUser, now: DateTime<Utc>) -> Refusable<User> {
        check_name("user", &user.name)?;
        if let Some(department) = &user.department {
            check_name("department", department)?;
        }
        let mut tx = self.pool().begin().await.map_err(store_err)?;
        if let Some(department) = &user.department {
            sqlx::query(
                "INSERT INTO departments (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(department)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
        }
        let inserted = sqlx::query(
            "INSERT INTO users (name, department, admin, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&user.name)
        .bind(user.department.as_deref())
        .bind(user.admin)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_duplicate(&e) => return Err(IdentityError::DuplicateUser(user.name)),
            other => other.map_err(store_err)?,
        };
        tx.commit().await.map_err(store_err)?;
        Ok(User {
            name: user.name,
            department: user.department,
            admin: user.admin,
            created_at: now,
        })
    }

    async fn add_group(&self, name: &str, now: DateTime<Utc>) -> Refusable<Group> {
        check_name("group", name)?;
        match sqlx::query("INSERT INTO user_groups (name, created_at) VALUES ($1, $2)")
            .bind(name)
            .bind(now)
            .execute(self.pool())
            .await
        {
            Err(e) if is_duplicate(&e) => Err(IdentityError::DuplicateGroup(name.to_owned())),
            other => other
                .map(|_| Group {
                    name: name.to_owned(),
                    members: Vec::new(),
                    created_at: now,
                })
                .map_err(store_err),
        }
    }

    async fn add_member(&self, group: &str, user: &str) -> Refusable<()> {
        self.known_pair(group, user).await?;
        // Groups and users are never removed, so once known they stay known.
        let added = sqlx::query("INSERT INTO group_members (group_name, user_name) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(group)
            .bind(user)
            .execute(self.pool())
            .await
            .map_err(store_err)?
            .rows_affected();
        if added == 0 {
            return Err(IdentityError::AlreadyMember {
                group: group.to_owned(),
                user: user.to_owned(),
            });
        }
        Ok(())
    }

    async fn remove_member(&self, group: &str, user: &str) -> Refusable<()> {
        self.known_pair(group, user).await?;
        let removed =
            sqlx::query("DELETE FROM group_members WHERE group_name = $1 AND user_name = $2")
                .bind(group)
                .bind(user)
                .execute(self.pool())
                .await
                .map_err(store_err)?
                .rows_affected();
        if removed == 0 {
            return Err(IdentityError::NotMember {
                group: group.to_owned(),
                user: user.to_owned(),
            });
        }
        Ok(())
    }

    async fn user(&self, name: &str) -> Refusable<Option<User>> {
        let row =
            sqlx::query("SELECT name, department, admin, created_at FROM users WHERE name = $1")
                .bind(name)
                .fetch_optional(self.pool())
                .await
                .map_err(store_err)?;
        row.as_ref().map(user_row).transpose().map_err(store_err)
    }

    async fn users(&self) -> Refusable<Vec<User>> {
        let rows =
            sqlx::query("SELECT name, department, admin, created_at FROM users ORDER BY name")
                .fetch_all(self.pool())
                .await
                .map_err(store_err)?;
        rows.iter()
            .map(user_row)
            .collect::<sqlx::Result<_>>()
            .map_err(store_err)
    }

    async fn groups(&self) -> Refusable<Vec<Group>> {
        // Each group with its members, sorted, in one query.
        let rows: Vec<(String, DateTime<Utc>, Vec<String>)> = sqlx::query_as(
            "SELECT g.name, g.created_at, COALESCE(ARRAY_AGG(m.user_name ORDER BY m.user_name) FILTER (WHERE m.user_name IS NOT NULL), '{}')
             FROM user_groups g LEFT JOIN group_members m ON m.group_name = g.name GROUP BY g.name, g.created_at ORDER BY g.name",
        )
        .fetch_all(self.pool())
        .await
        .map_err(store_err)?;
        Ok(rows
            .into_iter()
            .map(|(name, created_at, members)| Group {
                name,
                members,
                created_at,
            })
            .collect())
    }

    async fn groups_of(&self, user: &str) -> Refusable<Vec<String>> {
        if !self.user_exists(user).await? {
            return Err(IdentityError::UnknownUser(user.to_owned()));
        }
        sqlx::query_scalar(
            "SELECT group_name FROM group_members WHERE user_name = $1 ORDER BY group_name",
        )
        .bind(user)
        .fetch_all(self.pool())
        .await
        .map_err(store_err)
    }

    async fn departments(&self) -> Refusable<Vec<String>> {
        sqlx::query_scalar("SELECT name FROM departments ORDER BY name")
            .fetch_all(self.pool())
            .await
            .map_err(store_err)
    }

    async fn is_admin(&self, user: &str) -> Refusable<bool> {
        sqlx::query_scalar("SELECT admin FROM users WHERE name = $1")
            .bind(user)
            .fetch_optional(self.pool())
            .await
            .map_err(store_err)?
            .ok_or_else(|| IdentityError::UnknownUser(user.to_owned()))
    }

    async fn resolve_potential_owners(
        &self,
        owners: &PotentialOwners,
    ) -> Refusable<BTreeSet<String>> {
        let users: Vec<&str> = owners.users.iter().map(String::as_str).collect();
        let groups: Vec<&str> = owners.groups.iter().map(String::as_str).collect();
        let known_users: BTreeSet<String> =
            sqlx::query_scalar("SELECT name FROM users WHERE name = ANY($1)")
                .bind(&users)
                .fetch_all(self.pool())
                .await
                .map_err(store_err)?
                .into_iter()
                .collect();
        if let Some(unknown) = owners.users.iter().find(|u| !known_users.contains(*u)) {
            return Err(IdentityError::UnknownUser(unknown.clone()));
        }
        let known_groups: BTreeSet<String> =
            sqlx::query_scalar("SELECT name FROM user_groups WHERE name = ANY($1)")
                .bind(&groups)
                .fetch_all(self.pool())
                .await
                .map_err(store_err)?
                .into_iter()
                .collect();
        if let Some(unknown) = owners.groups.iter().find(|g| !known_groups.contains(*g)) {
            return Err(IdentityError::UnknownGroup(unknown.clone()));
        }
        let members: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT user_name FROM group_members WHERE group_name = ANY($1)",
        )
        .bind(&groups)
        .fetch_all(self.pool())
        .await
        .map_err(store_err)?;
        Ok(known_users.into_iter().chain(members).collect())
    }

    async fn set_password_hash(&self, user: &str, hash: &str, now: DateTime<Utc>) -> Refusable<()> {
        // Users are never removed: one statement that finds the user sets the hash, or none does.
        let set = sqlx::query(
            "INSERT INTO passwords (user_name, hash, set_at) SELECT name, $2, $3 FROM users WHERE name = $1 \
             ON CONFLICT (user_name) DO UPDATE SET hash = EXCLUDED.hash, set_at = EXCLUDED.set_at",
        )
        .bind(user)
        .bind(hash)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(store_err)?
        .rows_affected();
        if set == 0 {
            return Err(IdentityError::UnknownUser(user.to_owned()));
        }
        Ok(())
    }

    async fn password_hash(&self, user: &str) -> Refusable<Option<String>> {
        sqlx::query_scalar("SELECT hash FROM passwords WHERE user_name = $1")
            .bind(user)
            .fetch_optional(self.pool())
            .await
            .map_err(store_err)
    }
}

const TOKEN_COLUMNS: &str = "id, user_name, name, created_at, expires_at, revoked_at";

fn token_row(row: &PgRow) -> sqlx::Result<Token> {
    Ok(Token {
        id: row.try_get(0)?,
        user: row.try_get(1)?,
        name: row.try_get(2)?,
        created_at: row.try_get(3)?,
        expires_at: row.try_get(4)?,
        revoked_at: row.try_get(5)?,
    })
}

impl PgStore {
    async fn token_where(&self, condition: &str, value: &str) -> Result<Option<Token>, TokenError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE {condition} = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(value)
            .fetch_optional(self.pool())
            .await
            .map_err(token_err)?;
        row.as_ref().map(token_row).transpose().map_err(token_err)
    }
}

impl TokenStore for PgStore {
    async fn add_token(&self, token: NewToken) -> Result<Token, TokenError> {
        // Inserted only if its user exists, in one statement (users are never removed).
        let added = sqlx::query(
            "INSERT INTO api_tokens (id, user_name, name, secret_hash, created_at, expires_at)
             SELECT $1, name, $3, $4, $5, $6 FROM users WHERE name = $2",
        )
        .bind(&token.id)
        .bind(&token.user)
        .bind(token.name.as_deref())
        .bind(&token.secret_hash)
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(self.pool())
        .await
        .map_err(token_err)?
        .rows_affected();
        if added == 0 {
            return Err(IdentityError::UnknownUser(token.user).into());
        }
        Ok(Token {
            id: token.id,
            user: token.user,
            name: token.name,
            created_at: token.created_at,
            expires_at: token.expires_at,
            revoked_at: None,
        })
    }

    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<Token>, TokenError> {
        self.token_where("secret_hash", secret_hash).await
    }

    async fn tokens(&self, user: Option<&str>) -> Result<Vec<Token>, TokenError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE $1::TEXT IS NULL OR user_name = $1 ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user)
            .fetch_all(self.pool())
            .await
            .map_err(token_err)?;
        rows.iter()
            .map(token_row)
            .collect::<sqlx::Result<_>>()
            .map_err(token_err)
    }

    async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<Token, TokenError> {
        // Revoked once: of two racing revocations, the second finds it revoked.
        let sql = format!("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING {TOKEN_COLUMNS}");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(at)
            .fetch_optional(self.pool())
            .await
            .map_err(token_err)?;
        match row {
            Some(row) => token_row(&row).map_err(token_err),
            None if self.token_where("id", id).await?.is_some() => {
                Err(TokenError::AlreadyRevoked(id.to_owned()))
            }
            None => Err(TokenError::UnknownToken(id.to_owned())),
        }
    }
}
