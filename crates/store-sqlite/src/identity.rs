//! [`IdentityStore`] on SQLite: users, departments, groups and their members (migration
//! `20261125_0003_identity.sql`).
//!
//! Writes go through the store's single writer like every other write, so "check, then insert"
//! inside one request is atomic: two racing adds of one user cannot both pass the check. A
//! refusal (unknown user, duplicate, …) is decided before anything is written; a database error
//! rolls the request's savepoint back. Names sort by their bytes (SQLite's `BINARY` collation).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use baton_core::user_task::PotentialOwners;
use baton_store::identity::{check_name, Group, IdentityError, IdentityStore, NewUser, User};

use crate::{ts, SqliteStore};

type Refusable<T> = Result<T, IdentityError>;

fn db_err(e: rusqlite::Error) -> IdentityError {
    IdentityError::Store(crate::db_err(e))
}

fn parse_time(text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
}

fn user_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE name = ?1)")?
        .query_row([name], |r| r.get(0))
}

fn group_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM user_groups WHERE name = ?1)")?
        .query_row([name], |r| r.get(0))
}

fn is_member(conn: &Connection, group: &str, user: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM group_members WHERE group_name = ?1 AND user_name = ?2)",
    )?
    .query_row([group, user], |r| r.get(0))
}

/// The group and the user must both exist.
fn known_pair(conn: &Connection, group: &str, user: &str) -> Refusable<()> {
    if !group_exists(conn, group).map_err(db_err)? {
        return Err(IdentityError::UnknownGroup(group.to_owned()));
    }
    if !user_exists(conn, user).map_err(db_err)? {
        return Err(IdentityError::UnknownUser(user.to_owned()));
    }
    Ok(())
}

fn user_row(row: &rusqlite::Row) -> rusqlite::Result<User> {
    Ok(User {
        name: row.get(0)?,
        department: row.get(1)?,
        admin: row.get(2)?,
        created_at: parse_time(&row.get::<_, String>(3)?)?,
    })
}

impl SqliteStore {
    /// Runs `f` in the writer; a refusal commits nothing (it wrote nothing), a database error
    /// rolls the request back.
    async fn write_refusable<T, F>(&self, f: F) -> Refusable<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Refusable<T> + Send + 'static,
    {
        self.write(move |conn| match f(conn) {
            Err(IdentityError::Store(e)) => Err(e),
            other => Ok(other),
        })
        .await?
    }
}

impl IdentityStore for SqliteStore {
    async fn add_user(&self, user: NewUser, now: DateTime<Utc>) -> Refusable<User> {
        check_name("user", &user.name)?;
        if let Some(department) = &user.department {
            check_name("department", department)?;
        }
        self.write_refusable(move |conn| {
            if user_exists(conn, &user.name).map_err(db_err)? {
                return Err(IdentityError::DuplicateUser(user.name));
            }
            if let Some(department) = &user.department {
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO departments (name, created_at) VALUES (?1, ?2)",
                )
                .and_then(|mut s| s.execute(params![department, ts(now)]))
                .map_err(db_err)?;
            }
            conn.prepare_cached(
                "INSERT INTO users (name, department, admin, created_at) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(params![user.name, user.department, user.admin, ts(now)]))
            .map_err(db_err)?;
            Ok(User {
                name: user.name,
                department: user.department,
                admin: user.admin,
                created_at: now,
            })
        })
        .await
    }

    async fn add_group(&self, name: &str, now: DateTime<Utc>) -> Refusable<Group> {
        check_name("group", name)?;
        let name = name.to_owned();
        self.write_refusable(move |conn| {
            if group_exists(conn, &name).map_err(db_err)? {
                return Err(IdentityError::DuplicateGroup(name));
            }
            conn.prepare_cached("INSERT INTO user_groups (name, created_at) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![name, ts(now)]))
                .map_err(db_err)?;
            Ok(Group {
                name,
                members: Vec::new(),
                created_at: now,
            })
        })
        .await
    }

    async fn add_member(&self, group: &str, user: &str) -> Refusable<()> {
        let (group, user) = (group.to_owned(), user.to_owned());
        self.write_refusable(move |conn| {
            known_pair(conn, &group, &user)?;
            if is_member(conn, &group, &user).map_err(db_err)? {
                return Err(IdentityError::AlreadyMember { group, user });
            }
            conn.prepare_cached(
                "INSERT INTO group_members (group_name, user_name) VALUES (?1, ?2)",
            )
            .and_then(|mut s| s.execute(params![group, user]))
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn remove_member(&self, group: &str, user: &str) -> Refusable<()> {
        let (group, user) = (group.to_owned(), user.to_owned());
        self.write_refusable(move |conn| {
            known_pair(conn, &group, &user)?;
            if !is_member(conn, &group, &user).map_err(db_err)? {
                return Err(IdentityError::NotMember { group, user });
            }
            conn.prepare_cached(
                "DELETE FROM group_members WHERE group_name = ?1 AND user_name = ?2",
            )
            .and_then(|mut s| s.execute(params![group, user]))
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn user(&self, name: &str) -> Refusable<Option<User>> {
        Ok(self.read(|conn| {
            conn.prepare_cached(
                "SELECT name, department, admin, created_at FROM users WHERE name = ?1",
            )?
            .query_row([name], user_row)
            .optional()
        })?)
    }

    async fn users(&self) -> Refusable<Vec<User>> {
        Ok(self.read(|conn| {
            conn.prepare_cached(
                "SELECT name, department, admin, created_at FROM users ORDER BY name",
            )?
            .query_map([], user_row)?
            .collect()
        })?)
    }

    async fn groups(&self) -> Refusable<Vec<Group>> {
        Ok(self.read(|conn| {
            let mut groups: Vec<Group> = conn
                .prepare_cached("SELECT name, created_at FROM user_groups ORDER BY name")?
                .query_map([], |r| Ok(Group { name: r.get(0)?, members: Vec::new(), created_at: parse_time(&r.get::<_, String>(1)?)? }))?
                .collect::<rusqlite::Result<_>>()?;
            let members: Vec<(String, String)> = conn
                .prepare_cached("SELECT group_name, user_name FROM group_members ORDER BY group_name, user_name")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (group, user) in members {
                if let Ok(i) = groups.binary_search_by(|g| g.name.as_str().cmp(group.as_str())) {
                    groups[i].members.push(user);
                }
            }
            Ok(groups)
        })?)
    }

    async fn groups_of(&self, user: &str) -> Refusable<Vec<String>> {
        self.read(|conn| {
            if !user_exists(conn, user)? {
                return Ok(None);
            }
            conn.prepare_cached(
                "SELECT group_name FROM group_members WHERE user_name = ?1 ORDER BY group_name",
            )?
            .query_map([user], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()
            .map(Some)
        })?
        .ok_or_else(|| IdentityError::UnknownUser(user.to_owned()))
    }

    async fn departments(&self) -> Refusable<Vec<String>> {
        Ok(self.read(|conn| {
            conn.prepare_cached("SELECT name FROM departments ORDER BY name")?
                .query_map([], |r| r.get(0))?
                .collect()
        })?)
    }

    async fn is_admin(&self, user: &str) -> Refusable<bool> {
        self.read(|conn| {
            conn.prepare_cached("SELECT admin FROM users WHERE name = ?1")?
                .query_row([user], |r| r.get(0))
                .optional()
        })?
        .ok_or_else(|| IdentityError::UnknownUser(user.to_owned()))
    }

    async fn resolve_potential_owners(
        &self,
        owners: &PotentialOwners,
    ) -> Refusable<BTreeSet<String>> {
        self.read(|conn| {
            let mut resolved = BTreeSet::new();
            for user in &owners.users {
                if !user_exists(conn, user)? {
                    return Ok(Err(IdentityError::UnknownUser(user.clone())));
                }
                resolved.insert(user.clone());
            }
            for group in &owners.groups {
                if !group_exists(conn, group)? {
                    return Ok(Err(IdentityError::UnknownGroup(group.clone())));
                }
                let mut members = conn
                    .prepare_cached("SELECT user_name FROM group_members WHERE group_name = ?1")?;
                for member in members.query_map([group], |r| r.get::<_, String>(0))? {
                    resolved.insert(member?);
                }
            }
            Ok(Ok(resolved))
        })?
    }

    async fn set_password_hash(&self, user: &str, hash: &str, now: DateTime<Utc>) -> Refusable<()> {
        let (user, hash) = (user.to_owned(), hash.to_owned());
        self.write_refusable(move |conn| {
            if !user_exists(conn, &user).map_err(db_err)? {
                return Err(IdentityError::UnknownUser(user));
            }
            conn.prepare_cached(
                "INSERT INTO passwords (user_name, hash, set_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (user_name) DO UPDATE SET hash = excluded.hash, set_at = excluded.set_at",
            )
            .and_then(|mut s| s.execute(params![user, hash, ts(now)]))
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn password_hash(&self, user: &str) -> Refusable<Option<String>> {
        Ok(self.read(|conn| {
            conn.prepare_cached("SELECT hash FROM passwords WHERE user_name = ?1")?
                .query_row([user], |r| r.get(0))
                .optional()
        })?)
    }
}
