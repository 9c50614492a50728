//! The store's rows as views: definitions, inbox rows, incidents, users and groups, jobs.

use baton_api_model as api;
use baton_core::Definition;
use baton_store::{
    DeployedVersion, Group, InboxPage, Incident, IncidentKind, JobKey, StoreError,
    StoredDefinition, User,
};

/// A deployed version: what `stored` holds, parsed as `definition`.
pub fn definition(stored: &StoredDefinition, definition: &Definition) -> api::Definition {
    api::Definition {
        id: definition.id.clone(),
        version: stored.version,
        name: definition.name.clone(),
        description: definition.description.clone(),
        file: stored.file.clone(),
        deployed_at: stored.deployed_at,
        interactive: definition.interactive,
        data: definition
            .data
            .iter()
            .map(|(name, decl)| api::DataField {
                name: name.clone(),
                ty: decl.ty.name().to_owned(),
                default: decl.default.clone(),
                description: decl.description.clone(),
            })
            .collect(),
        tasks: definition
            .order
            .iter()
            .filter_map(|&i| definition.tasks.get(i))
            .map(|task| api::DefinitionTask {
                id: task.id.clone(),
                kind: task.kind.name().to_owned(),
                name: task.name.clone(),
                after: task
                    .predecessors
                    .iter()
                    .filter_map(|d| definition.tasks.get(d.task))
                    .map(|p| p.id.clone())
                    .collect(),
            })
            .collect(),
    }
}

pub fn definition_version(deployed: &DeployedVersion) -> api::DefinitionVersion {
    api::DefinitionVersion {
        version: deployed.version,
        file: deployed.file.clone(),
        deployed_at: deployed.deployed_at,
    }
}

/// An inbox page. A row whose status is not one a live human task has is refused as
/// corrupt (the store writes only `ready`, `claimed` and `suspended`).
pub fn inbox_page(page: InboxPage) -> Result<api::InboxPage, StoreError> {
    let rows = page
        .rows
        .into_iter()
        .map(|r| {
            let status = serde_json::from_value(serde_json::Value::String(r.status.clone()))
                .map_err(|_| StoreError::CorruptState {
                    instance: r.instance.clone(),
                    message: format!("inbox row with the unknown status `{}`", r.status),
                })?;
            Ok(api::InboxRow {
                instance: r.instance,
                task: r.task,
                human_task: r.human_task.0,
                process: r.process,
                title: r.title,
                status,
                owner: r.owner,
                priority: r.priority,
                due: r.due,
                created_at: r.created_at,
                escalated: r.escalated,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(api::InboxPage {
        rows,
        page: page.page.number,
        per_page: page.page.per_page,
        more: page.more,
        workflows: Vec::new(),
    })
}

pub fn incident(incident: &Incident) -> api::Incident {
    api::Incident {
        id: incident.id,
        instance: incident.instance.clone(),
        task: incident.task.clone(),
        kind: match incident.kind {
            IncidentKind::StepFailed => api::IncidentKind::StepFailed,
            IncidentKind::RunLimit => api::IncidentKind::RunLimit,
            IncidentKind::LoopLimit => api::IncidentKind::LoopLimit,
        },
        reason: incident.reason.clone(),
        attempts: incident.attempts,
        raised_at: incident.raised_at,
        resolved_at: incident.resolved_at,
        resolved_by: incident.resolved_by.clone(),
        resolution: incident.resolution.clone(),
    }
}

/// A user with the groups (of `groups`) they belong to.
pub fn user(user: &User, groups: &[Group]) -> api::User {
    api::User {
        name: user.name.clone(),
        department: user.department.clone(),
        admin: user.admin,
        groups: groups
            .iter()
            .filter(|g| g.members.contains(&user.name))
            .map(|g| g.name.clone())
            .collect(),
    }
}

pub fn group(group: &Group) -> api::Group {
    api::Group {
        name: group.name.clone(),
        members: group.members.clone(),
    }
}

pub fn job(key: &JobKey) -> api::Job {
    api::Job {
        instance: key.instance.clone(),
        task: key.task.clone(),
        attempt: key.attempt,
    }
}
