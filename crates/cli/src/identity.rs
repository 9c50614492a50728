//! `baton user …` and `baton group …`: the people human tasks are offered to (issue 4).
//! A refused request (a duplicate, an unknown user or group, a bad name) prints why and exits 2;
//! nothing is stored.

use std::fmt::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::Subcommand;

use baton_store::{IdentityError, IdentityStore, NewUser};
use baton_store_sqlite::{Durability, SqliteStore};

#[derive(Subcommand)]
pub enum UserCmd {
    /// Add a user. Names are 1-64 letters, digits, `.`, `_`, `-` or `@`.
    Add {
        /// The user's name, as tasks and `--as` refer to them.
        name: String,
        /// The user's department (created with its first user).
        #[arg(long)]
        department: Option<String>,
        /// Make the user an administrator: they may act on every task.
        #[arg(long)]
        admin: bool,
    },
    /// List users with their department, groups and administrator flag.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum GroupCmd {
    /// Add a group; a task offered to a group can be claimed by any of its members.
    Add {
        /// The group's name, as task definitions refer to it.
        name: String,
    },
    /// Add a user to a group.
    AddMember {
        /// An existing group.
        group: String,
        /// An existing user.
        user: String,
    },
    /// Take a user out of a group (the user stays).
    RemoveMember {
        /// An existing group.
        group: String,
        /// A member of that group.
        user: String,
    },
    /// List groups with their members.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn open(db: &Path) -> Result<SqliteStore> {
    SqliteStore::open(db, Durability::Full).with_context(|| format!("opening the database {}", db.display()))
}

/// Refusals are the user's to correct: say why and exit 2. Store failures are errors.
fn finish(result: Result<String, IdentityError>) -> Result<u8> {
    match result {
        Ok(out) => {
            out!("{out}");
            Ok(0)
        }
        Err(e) if e.is_refusal() => {
            errln!("baton: {e}");
            Ok(2)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn user(db: &Path, cmd: UserCmd) -> Result<u8> {
    let store = open(db)?;
    finish(match cmd {
        UserCmd::Add { name, department, admin } => {
            let user = NewUser { name, department, admin };
            store.add_user(user, chrono::Utc::now()).await.map(|u| {
                let mut line = format!("added user {}", u.name);
                if let Some(d) = &u.department {
                    let _ = write!(line, " (department {d})");
                }
                if u.admin {
                    line.push_str(", an administrator");
                }
                line + "\n"
            })
        }
        UserCmd::List { json } => user_list(&store, json).await,
    })
}

async fn user_list(store: &SqliteStore, json: bool) -> Result<String, IdentityError> {
    let users = store.users().await?;
    let groups = store.groups().await?;
    let groups_of = |user: &str| -> Vec<&str> { groups.iter().filter(|g| g.members.iter().any(|m| m == user)).map(|g| g.name.as_str()).collect() };
    if json {
        let rows: Vec<serde_json::Value> = users
            .iter()
            .map(|u| serde_json::json!({"name": u.name, "department": u.department, "admin": u.admin, "groups": groups_of(&u.name)}))
            .collect();
        return Ok(serde_json::to_string_pretty(&rows).expect("JSON values serialize") + "\n");
    }
    let width = users.iter().map(|u| u.name.chars().count()).max().unwrap_or(4).max(4);
    let dept_width = users.iter().filter_map(|u| u.department.as_ref()).map(|d| d.chars().count()).max().unwrap_or(10).max(10);
    let mut out = format!("{:width$}  {:dept_width$}  {:5}  GROUPS\n", "USER", "DEPARTMENT", "ADMIN");
    for u in &users {
        let groups = groups_of(&u.name);
        let groups = if groups.is_empty() { "-".to_owned() } else { groups.join(", ") };
        let admin = if u.admin { "yes" } else { "no" };
        let _ = writeln!(out, "{:width$}  {:dept_width$}  {admin:5}  {groups}", u.name, u.department.as_deref().unwrap_or("-"));
    }
    Ok(out)
}

pub async fn group(db: &Path, cmd: GroupCmd) -> Result<u8> {
    let store = open(db)?;
    finish(match cmd {
        GroupCmd::Add { name } => store.add_group(&name, chrono::Utc::now()).await.map(|g| format!("added group {}\n", g.name)),
        GroupCmd::AddMember { group, user } => store.add_member(&group, &user).await.map(|()| format!("added {user} to group {group}\n")),
        GroupCmd::RemoveMember { group, user } => store.remove_member(&group, &user).await.map(|()| format!("removed {user} from group {group}\n")),
        GroupCmd::List { json } => group_list(&store, json).await,
    })
}

async fn group_list(store: &SqliteStore, json: bool) -> Result<String, IdentityError> {
    let groups = store.groups().await?;
    if json {
        let rows: Vec<serde_json::Value> = groups.iter().map(|g| serde_json::json!({"name": g.name, "members": g.members})).collect();
        return Ok(serde_json::to_string_pretty(&rows).expect("JSON values serialize") + "\n");
    }
    if groups.is_empty() {
        return Ok("no groups; add one with `baton group add NAME`\n".into());
    }
    let width = groups.iter().map(|g| g.name.chars().count()).max().unwrap_or(5).max(5);
    let mut out = format!("{:width$}  MEMBERS\n", "GROUP");
    for g in &groups {
        let members = if g.members.is_empty() { "-".to_owned() } else { g.members.join(", ") };
        let _ = writeln!(out, "{:width$}  {members}", g.name);
    }
    Ok(out)
}
