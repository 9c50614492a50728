//! `baton user …` and `baton group …`: the people human tasks are offered to.
//! A refused request (a duplicate, an unknown user or group, a bad name) prints why and exits 2;
//! nothing is stored.

use std::fmt::Write;

use clap::Subcommand;

use baton_store::NewUser;

use crate::backend::Backend;
use crate::exit::Result;
use crate::render;

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

pub async fn user(backend: &Backend, cmd: UserCmd) -> Result<u8> {
    match cmd {
        UserCmd::Add { name, department, admin } => {
            let user = backend.add_user(NewUser { name, department, admin }).await?;
            let mut line = format!("added user {}", user.name);
            if let Some(d) = &user.department {
                let _ = write!(line, " (department {d})");
            }
            if user.admin {
                line.push_str(", an administrator");
            }
            outln!("{line}");
        }
        UserCmd::List { json } => {
            let users = backend.users().await?;
            if json {
                outln!("{}", render::json(&users));
            } else {
                out!("{}", user_table(&users));
            }
        }
    }
    Ok(0)
}

fn user_table(users: &[baton_api_model::User]) -> String {
    let width = users.iter().map(|u| u.name.chars().count()).max().unwrap_or(4).max(4);
    let dept_width = users.iter().filter_map(|u| u.department.as_ref()).map(|d| d.chars().count()).max().unwrap_or(10).max(10);
    let mut out = format!("{:width$}  {:dept_width$}  {:5}  GROUPS\n", "USER", "DEPARTMENT", "ADMIN");
    for u in users {
        let groups = if u.groups.is_empty() { "-".to_owned() } else { u.groups.join(", ") };
        let admin = if u.admin { "yes" } else { "no" };
        let _ = writeln!(out, "{:width$}  {:dept_width$}  {admin:5}  {groups}", u.name, u.department.as_deref().unwrap_or("-"));
    }
    out
}

pub async fn group(backend: &Backend, cmd: GroupCmd) -> Result<u8> {
    match cmd {
        GroupCmd::Add { name } => outln!("added group {}", backend.add_group(&name).await?.name),
        GroupCmd::AddMember { group, user } => {
            backend.add_member(&group, &user).await?;
            outln!("added {user} to group {group}");
        }
        GroupCmd::RemoveMember { group, user } => {
            backend.remove_member(&group, &user).await?;
            outln!("removed {user} from group {group}");
        }
        GroupCmd::List { json } => {
            let groups = backend.groups().await?;
            if json {
                outln!("{}", render::json(&groups));
            } else if groups.is_empty() {
                outln!("no groups; add one with `baton group add NAME`");
            } else {
                let width = groups.iter().map(|g| g.name.chars().count()).max().unwrap_or(5).max(5);
                let mut out = format!("{:width$}  MEMBERS\n", "GROUP");
                for g in &groups {
                    let members = if g.members.is_empty() { "-".to_owned() } else { g.members.join(", ") };
                    let _ = writeln!(out, "{:width$}  {members}", g.name);
                }
                out!("{out}");
            }
        }
    }
    Ok(0)
}
