//! What each subcommand does: the instance and definition commands here, the others in the
//! modules named after them. Each parses its arguments, calls the backend (the database's
//! service, or a server with `--server`), and prints the view it answers with.

use baton_api_model::requests::InstancesQuery;
use baton_api_model::InstanceStatus;
use baton_service::TaskOperation;

use crate::args::{BreakpointCmd, Cli, Cmd, TaskCmd};
use crate::backend::{Backend, Location};
use crate::exit::{CliError, Result};
use crate::input::{name, parse_data, source_file};
use crate::render;

pub async fn dispatch(cli: Cli) -> Result<u8> {
    // Completions and manual pages need no database: nothing is opened or created for them.
    match cli.command {
        Cmd::Completions { shell } => return crate::manual::completions(shell),
        Cmd::Man { dir } => return crate::manual::man(dir.as_deref()),
        _ => {}
    }
    let location = Location::of(&cli)?;
    match cli.command {
        Cmd::Run {
            file,
            data,
            concurrency,
            jobs,
            json,
        } => crate::run::run(location, &file, data.as_deref(), &jobs, concurrency, json).await,
        Cmd::Worker {
            concurrency,
            until_idle,
            jobs,
        } => {
            crate::worker::worker(
                location.database("worker")?,
                jobs.node()?,
                jobs.worker_options(concurrency),
                until_idle,
            )
            .await
        }
        Cmd::Serve {
            listen,
            concurrency,
            jobs,
            session_cache,
            session_idle_timeout,
            public_url,
            trust_forwarded_proto,
        } => {
            let sessions = baton_service::SessionOptions {
                cache_size: session_cache,
                idle_timeout: session_idle_timeout,
            };
            crate::serve::serve(
                location.database("serve")?,
                jobs.node()?,
                listen,
                jobs.worker_options(concurrency),
                sessions,
                crate::serve::secure_cookies(public_url.as_deref(), trust_forwarded_proto),
            )
            .await
        }
        Cmd::Bench(args) => {
            location.database("bench")?;
            crate::bench::run(args).await.map_err(CliError::Bench)
        }
        command => on(&location.open().await?, command).await,
    }
}

/// Runs a command that asks the backend, on the database's service or on a server alike.
async fn on(backend: &Backend, mut command: Cmd) -> Result<u8> {
    if let Some(instance) = command.instance_mut() {
        *instance = backend.resolve_instance(instance).await?;
    }
    match command {
        Cmd::Deploy { files, json } => {
            // Every file is checked before any is stored, and all are stored together.
            let sources = files
                .iter()
                .map(|f| source_file(f))
                .collect::<Result<Vec<_>>>()?;
            let deployed = backend.deploy(sources).await?;
            if json {
                outln!("{}", render::json(&deployed));
                return Ok(0);
            }
            for deployed in deployed {
                outln!("{}", crate::definitions::deployed_line(&deployed));
                for warning in &deployed.warnings {
                    errln!("{}: warning: {warning}", deployed.file);
                }
            }
            Ok(0)
        }
        Cmd::Definitions {
            startable,
            by,
            json,
        } => crate::definitions::list(backend, startable.then_some(by.as_deref()), json).await,
        Cmd::Definition { action } => crate::definitions::act(backend, action).await,
        Cmd::Doc { action } => crate::documents::act(backend, action).await,
        Cmd::Start {
            process,
            data,
            idempotency_key,
            by,
            json,
        } => {
            let (instance, started) = backend
                .start_once(
                    by.as_deref(),
                    &process,
                    parse_data(data.as_deref())?,
                    idempotency_key,
                )
                .await?;
            if json {
                outln!("{}", render::json(&instance));
            } else {
                outln!("{}", instance.id);
            }
            if started {
                errln!(
                    "started {} v{}: {}",
                    instance.process,
                    instance.version,
                    instance.status
                );
            } else {
                errln!(
                    "already started with this idempotency key: {} v{}: {}",
                    instance.process,
                    instance.version,
                    instance.status
                );
            }
            Ok(0)
        }
        Cmd::Instances {
            status,
            process,
            started_after,
            started_before,
            case,
            cursor,
            limit,
            json,
            by,
        } => {
            let (status, with_open_incident) = match status.as_deref() {
                None => (None, false),
                Some("incident") => (None, true),
                Some(s) => {
                    let status = name::<InstanceStatus>(s)
                        .ok_or_else(|| CliError::Input(format!("unknown status `{s}`; use running, waiting, blocked, completed, failed, aborted or incident")))?;
                    (Some(status), false)
                }
            };
            let query = InstancesQuery {
                status,
                incident: with_open_incident,
                process,
                started_after,
                started_before,
                case,
                id_prefix: None,
                cursor,
                limit: Some(limit),
            };
            let page = backend.instances(by.as_deref(), query).await?;
            if json {
                outln!("{}", render::json(&page));
                return Ok(0);
            }
            out!("{}", render::instance_list(&page.instances));
            if let Some(next) = page.next_cursor {
                errln!("more: --cursor {next}");
            }
            Ok(0)
        }
        Cmd::Show {
            instance,
            json: false,
            follow: true,
            by,
        } => crate::follow::follow(backend, by.as_deref(), &instance).await,
        Cmd::Show {
            instance, json, by, ..
        } => {
            let by = by.as_deref();
            let state = backend.instance(by, &instance).await?;
            let children = backend.children(by, &instance).await?;
            let history = backend.history(by, &instance).await?;
            let incidents = backend.incidents(by, &instance).await?;
            if json {
                outln!(
                    "{}",
                    render::json(
                        &serde_json::json!({"instance": state, "children": children, "history": history, "incidents": incidents})
                    )
                );
            } else {
                out!("{}", render::instance(&state, &children, Some(&history)));
                if !incidents.is_empty() {
                    out!("\nincidents:\n{}", crate::incidents::table(&incidents));
                }
            }
            Ok(0)
        }
        Cmd::Incidents { limit, by } => crate::incidents::list(backend, by.as_deref(), limit).await,
        Cmd::Incident { action } => crate::incidents::act(backend, action).await,
        Cmd::Token { action } => crate::tokens::act(backend, action).await,
        Cmd::Schedule { action } => crate::schedules::act(backend, action).await,
        Cmd::Schedules { json } => crate::schedules::list(backend, json).await,
        Cmd::Tasks(args) => crate::human_tasks::inbox(backend, args).await,
        Cmd::Task {
            action: TaskCmd::Human(cmd),
        } => crate::human_tasks::human_task(backend, cmd).await,
        Cmd::Task { action } => {
            let (instance, by, operation) = match action {
                TaskCmd::Retry { instance, task, by } => {
                    (instance, by, TaskOperation::Retry { task })
                }
                TaskCmd::Skip { instance, task, by } => {
                    (instance, by, TaskOperation::Skip { task })
                }
                TaskCmd::Back {
                    instance,
                    task,
                    to,
                    by,
                } => (instance, by, TaskOperation::Back { task, to }),
                TaskCmd::Input {
                    instance,
                    task,
                    data,
                    by,
                } => (
                    instance,
                    by,
                    TaskOperation::Input {
                        task,
                        values: parse_data(Some(&data))?,
                    },
                ),
                TaskCmd::Human(_) => unreachable!("handled above"),
            };
            instance_is(
                backend
                    .task_operation(by.as_deref(), &instance, operation)
                    .await?,
            )
        }
        Cmd::Breakpoint { action } => {
            let (instance, by, task, enabled) = match action {
                BreakpointCmd::Set { instance, task, by } => (instance, by, task, true),
                BreakpointCmd::Clear { instance, task, by } => (instance, by, task, false),
            };
            instance_is(
                backend
                    .task_operation(
                        by.as_deref(),
                        &instance,
                        TaskOperation::Breakpoint { task, enabled },
                    )
                    .await?,
            )
        }
        Cmd::Abort {
            instance,
            abort_parent,
            by,
        } => instance_is(
            backend
                .abort(by.as_deref(), &instance, abort_parent)
                .await?,
        ),
        Cmd::Spawn {
            instance,
            process,
            version,
            data,
            by,
        } => {
            let spawned = backend
                .spawn(
                    by.as_deref(),
                    &instance,
                    &process,
                    version,
                    parse_data(data.as_deref())?,
                )
                .await?;
            outln!("{}", spawned.id);
            errln!(
                "spawned {} v{} under {}: {}",
                spawned.process,
                spawned.version,
                spawned.root.as_deref().unwrap_or(&instance),
                spawned.status
            );
            Ok(0)
        }
        Cmd::AbortAndStart {
            instance,
            process,
            version,
            by,
        } => {
            let peer = backend
                .abort_and_start(by.as_deref(), &instance, &process, version)
                .await?;
            outln!("{}", peer.id);
            errln!(
                "aborted {instance}; started {} v{} in its place: {}",
                peer.process,
                peer.version,
                peer.status
            );
            Ok(0)
        }
        Cmd::Recover { instance, by } => {
            instance_is(backend.recover(by.as_deref(), &instance).await?)
        }
        Cmd::Case { action } => crate::cases::act(backend, action).await,
        Cmd::Event { action } => crate::event_publish::act(backend, action).await,
        Cmd::Session { action } => crate::sessions::act(backend, action).await,
        Cmd::Delete { instance, by } => {
            let state = backend.delete(by.as_deref(), &instance).await?;
            outln!("instance {} deleted ({})", state.id, state.status);
            Ok(0)
        }
        Cmd::User { action } => crate::identity::user(backend, action).await,
        Cmd::Group { action } => crate::identity::group(backend, action).await,
        Cmd::Run { .. }
        | Cmd::Worker { .. }
        | Cmd::Serve { .. }
        | Cmd::Bench(_)
        | Cmd::Completions { .. }
        | Cmd::Man { .. } => unreachable!("`dispatch` runs these itself"),
    }
}

/// Prints an operator command's answer: `instance ID is STATUS`.
fn instance_is(state: baton_api_model::Instance) -> Result<u8> {
    outln!("instance {} is {}", state.id, state.status);
    Ok(0)
}
