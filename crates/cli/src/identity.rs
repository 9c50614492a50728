//! `baton user …` and `baton group …`: the people human tasks are offered to.
//! A refused request (a duplicate, an unknown user or group, a bad name) prints why and exits 2;
//! nothing is stored.

use std::fmt::Write;

use clap::Subcommand;

use baton_service::MAX_PASSWORD_LEN;
use baton_store::NewUser;

use crate::backend::Backend;
use crate::exit::{CliError, Result};
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
    /// Set the password a user signs in to the web UI with (`baton serve`): your own, or as an
    /// administrator anyone's. It is read from standard input (its first line) or, at a
    /// terminal, asked for twice without echo; 8 to 1,024 bytes. Only its argon2 hash is kept.
    Passwd {
        /// An existing user.
        user: String,
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
        UserCmd::Add {
            name,
            department,
            admin,
        } => {
            let user = backend
                .add_user(NewUser {
                    name,
                    department,
                    admin,
                })
                .await?;
            let mut line = format!("added user {}", user.name);
            if let Some(d) = &user.department {
                let _ = write!(line, " (department {d})");
            }
            if user.admin {
                line.push_str(", an administrator");
            }
            outln!("{line}");
        }
        UserCmd::Passwd { user } => {
            let password = read_password()?;
            backend.set_password(&user, &password).await?;
            outln!("set the password of {user}");
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

/// The new password: the first line of standard input, or at a terminal typed twice unseen.
fn read_password() -> Result<String> {
    use std::io::IsTerminal;
    let io = |e: std::io::Error| CliError::Io {
        what: "reading the password".to_owned(),
        source: e,
    };
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        // At most one line, and a bounded one: a password has at most 1,024 bytes.
        std::io::BufRead::read_line(
            &mut std::io::Read::take(std::io::stdin().lock(), MAX_PASSWORD_LEN as u64 + 2),
            &mut line,
        )
        .map_err(io)?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    let password = rpassword::prompt_password("new password: ").map_err(io)?;
    if rpassword::prompt_password("again: ").map_err(io)? != password {
        return Err(CliError::Input(
            "the two passwords differ; nothing was changed".to_owned(),
        ));
    }
    Ok(password)
}

fn user_table(users: &[baton_api_model::User]) -> String {
    let width = users
        .iter()
        .map(|u| u.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let dept_width = users
        .iter()
        .filter_map(|u| u.department.as_ref())
        .map(|d| d.chars().count())
        .max()
        .unwrap_or(10)
        .max(10);
    let mut out = format!(
        "{:width$}  {:dept_width$}  {:5}  GROUPS\n",
        "USER", "DEPARTMENT", "ADMIN"
    );
    for u in users {
        let groups = if u.groups.is_empty() {
            "-".to_owned()
        } else {
            u.groups.join(", ")
        };
        let admin = if u.admin { "yes" } else { "no" };
        let _ = writeln!(
            out,
            "{:width$}  {:dept_width$}  {admin:5}  {groups}",
            u.name,
            u.department.as_deref().unwrap_or("-")
        );
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
                let width = groups
                    .iter()
                    .map(|g| g.name.chars().count())
                    .max()
                    .unwrap_or(5)
                    .max(5);
                let mut out = format!("{:width$}  MEMBERS\n", "GROUP");
                for g in &groups {
                    let members = if g.members.is_empty() {
                        "-".to_owned()
                    } else {
                        g.members.join(", ")
                    };
                    let _ = writeln!(out, "{:width$}  {members}", g.name);
                }
                out!("{out}");
            }
        }
    }
    Ok(0)
}
