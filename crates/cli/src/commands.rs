//! What each subcommand does: the instance and definition commands here, the others in the
//! modules named after them. Each parses its arguments, calls the service, and prints the
//! view it answers with.

use baton_api_model::InstanceStatus;
use baton_service::TaskOperation;
use baton_store::OPERATOR;

use crate::args::{BreakpointCmd, Cli, Cmd, TaskCmd};
use crate::database::{database_file, open};
use crate::exit::{CliError, Result};
use crate::input::{name, parse_data, source_file};
use crate::render;

pub async fn dispatch(cli: Cli) -> Result<u8> {
    let db = database_file(&cli.db)?;
    match cli.command {
        Cmd::Run { file, data, concurrency, jobs } => crate::worker::run(&db, &file, data.as_deref(), jobs.worker_options(concurrency)).await,
        Cmd::Worker { concurrency, until_idle, jobs } => crate::worker::worker(&db, jobs.worker_options(concurrency), until_idle).await,
        Cmd::Serve { listen, concurrency, jobs } => crate::serve::serve(&db, listen, jobs.worker_options(concurrency)).await,
        Cmd::Deploy { files } => {
            let service = open(&db)?;
            // Every file is checked before any is stored, and all are stored together.
            let sources = files.iter().map(|f| source_file(f)).collect::<Result<Vec<_>>>()?;
            for deployed in service.deploy(OPERATOR, sources).await? {
                outln!("deployed {} version {} ({})", deployed.id, deployed.version, deployed.file);
            }
            Ok(0)
        }
        Cmd::Definitions { json } => crate::definitions::list(&db, json).await,
        Cmd::Definition { action } => crate::definitions::act(&db, action).await,
        Cmd::Start { process, data } => {
            let service = open(&db)?;
            let instance = service.start(OPERATOR, &process, parse_data(data.as_deref())?).await?;
            outln!("{}", instance.id);
            errln!("started {} v{}: {}", instance.process, instance.version, instance.status);
            Ok(0)
        }
        Cmd::Instances { status, limit } => {
            let (status, with_open_incident) = match status.as_deref() {
                None => (None, false),
                Some("incident") => (None, true),
                Some(s) => {
                    let status = name::<InstanceStatus>(s)
                        .ok_or_else(|| CliError::Input(format!("unknown status `{s}`; use running, waiting, blocked, completed, failed, aborted or incident")))?;
                    (Some(status), false)
                }
            };
            let service = open(&db)?;
            out!("{}", render::instance_list(&service.instances(OPERATOR, status, with_open_incident, limit).await?));
            Ok(0)
        }
        Cmd::Show { instance, json: false, follow: true } => crate::follow::follow(&open(&db)?, &instance).await,
        Cmd::Show { instance, json, .. } => {
            let service = open(&db)?;
            let state = service.instance(OPERATOR, &instance).await?;
            let history = service.history(OPERATOR, &instance).await?;
            let incidents = service.incidents(OPERATOR, &instance).await?;
            if json {
                outln!("{}", render::json(&serde_json::json!({"instance": state, "history": history, "incidents": incidents})));
            } else {
                out!("{}", render::instance(&state, Some(&history)));
                if !incidents.is_empty() {
                    out!("\nincidents:\n{}", crate::incidents::table(&incidents));
                }
            }
            Ok(0)
        }
        Cmd::Incidents { limit } => crate::incidents::list(&db, limit).await,
        Cmd::Incident { action } => crate::incidents::act(&db, action).await,
        Cmd::Token { action } => crate::tokens::act(&db, action).await,
        Cmd::Tasks(args) => crate::human_tasks::inbox(&db, args).await,
        Cmd::Task { action: TaskCmd::Human(cmd) } => crate::human_tasks::human_task(&db, cmd).await,
        Cmd::Task { action } => {
            let (instance, by, operation) = match action {
                TaskCmd::Retry { instance, task, by } => (instance, by, TaskOperation::Retry { task }),
                TaskCmd::Skip { instance, task, by } => (instance, by, TaskOperation::Skip { task }),
                TaskCmd::Input { instance, task, data, by } => (instance, by, TaskOperation::Input { task, values: parse_data(Some(&data))? }),
                TaskCmd::Human(_) => unreachable!("handled above"),
            };
            let service = open(&db)?;
            instance_is(service.task_operation(&by, &instance, operation).await?)
        }
        Cmd::Breakpoint { action } => {
            let (instance, by, task, enabled) = match action {
                BreakpointCmd::Set { instance, task, by } => (instance, by, task, true),
                BreakpointCmd::Clear { instance, task, by } => (instance, by, task, false),
            };
            let service = open(&db)?;
            instance_is(service.task_operation(&by, &instance, TaskOperation::Breakpoint { task, enabled }).await?)
        }
        Cmd::Abort { instance, by } => instance_is(open(&db)?.abort(&by, &instance).await?),
        Cmd::Delete { instance, by } => {
            let state = open(&db)?.delete(&by, &instance).await?;
            outln!("instance {} deleted ({})", state.id, state.status);
            Ok(0)
        }
        Cmd::Bench(args) => crate::bench::run(args).await.map_err(CliError::Bench),
        Cmd::User { action } => crate::identity::user(&db, action).await,
        Cmd::Group { action } => crate::identity::group(&db, action).await,
    }
}

/// Prints an operator command's answer: `instance ID is STATUS`.
fn instance_is(state: baton_api_model::Instance) -> Result<u8> {
    outln!("instance {} is {}", state.id, state.status);
    Ok(0)
}
