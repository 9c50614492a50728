//! The HTTP API's human-task request ([`HumanTaskOperation`]) as the service's
//! [`HumanTaskAction`], and back: a server reads the request into the action, a client of the
//! server (`baton --server`) writes its action as the request. Both directions live here, side
//! by side, and a test holds that each undoes the other.

use baton_api_model::requests::{
    EscalationFrom, EscalationUnless, FollowOnEscalation, HumanTaskOperation, RequestedEscalation,
};
use baton_api_model::People;
use baton_core::definition::duration;
use baton_core::user_task::{EscalationStart, ExpectedState};

use crate::{EscalationAction, EscalationSpec, HumanTaskAction, PotentialOwners, ServiceError};

fn owners(people: People) -> PotentialOwners {
    PotentialOwners {
        users: people.users,
        groups: people.groups,
    }
}

fn people(owners: PotentialOwners) -> People {
    People {
        users: owners.users,
        groups: owners.groups,
    }
}

/// A duration as the requests write it: humantime's text (`1day 2h 500ms`), exact to the
/// nanosecond, which reads back as written.
fn duration_text(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn invalid(field: &'static str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::InvalidRequest {
        field,
        problem: e.to_string(),
    }
}

// The core's escalation types are foreign here as the requests are, so these are functions.

fn escalation_action(action: RequestedEscalation) -> EscalationAction {
    match action {
        RequestedEscalation::RaisePriority { by } => EscalationAction::RaisePriority { by },
        RequestedEscalation::Notify { to } => EscalationAction::Notify { to: owners(to) },
        RequestedEscalation::Reassign { to } => EscalationAction::Reassign { to: owners(to) },
    }
}

fn manual_escalation(action: EscalationAction) -> RequestedEscalation {
    match action {
        EscalationAction::RaisePriority { by } => RequestedEscalation::RaisePriority { by },
        EscalationAction::Notify { to } => RequestedEscalation::Notify { to: people(to) },
        EscalationAction::Reassign { to } => RequestedEscalation::Reassign { to: people(to) },
    }
}

fn escalation_spec(e: FollowOnEscalation) -> Result<EscalationSpec, ServiceError> {
    let after = duration::parse(&e.after).map_err(|e| invalid("escalations.after", e))?;
    let from = match e.from.unwrap_or(EscalationFrom::Creation) {
        EscalationFrom::Creation => EscalationStart::Creation,
        EscalationFrom::Claim => EscalationStart::Claim,
        EscalationFrom::DueDate => EscalationStart::DueDate,
    };
    let unless = match e.unless.unwrap_or(EscalationUnless::Ended) {
        EscalationUnless::Claimed => ExpectedState::Claimed,
        EscalationUnless::Ended => ExpectedState::Ended,
    };
    Ok(EscalationSpec {
        name: e.name,
        after,
        from,
        unless,
        action: escalation_action(e.action),
    })
}

fn follow_on_escalation(e: EscalationSpec) -> FollowOnEscalation {
    let from = match e.from {
        EscalationStart::Creation => EscalationFrom::Creation,
        EscalationStart::Claim => EscalationFrom::Claim,
        EscalationStart::DueDate => EscalationFrom::DueDate,
    };
    let unless = match e.unless {
        ExpectedState::Claimed => EscalationUnless::Claimed,
        ExpectedState::Ended => EscalationUnless::Ended,
    };
    FollowOnEscalation {
        name: e.name,
        after: duration_text(e.after),
        from: Some(from),
        unless: Some(unless),
        action: manual_escalation(e.action),
    }
}

impl TryFrom<HumanTaskOperation> for HumanTaskAction {
    type Error = ServiceError;

    /// Reads the request; a duration that does not read is refused as
    /// [`ServiceError::InvalidRequest`].
    fn try_from(operation: HumanTaskOperation) -> Result<Self, ServiceError> {
        Ok(match operation {
            HumanTaskOperation::Claim => Self::Claim,
            HumanTaskOperation::Unclaim => Self::Unclaim,
            HumanTaskOperation::Complete { output } => Self::Complete { output },
            HumanTaskOperation::Fail { note } => Self::Fail { note },
            HumanTaskOperation::Forward {
                to,
                title,
                description,
                note,
                input,
                escalations,
            } => {
                let escalations = escalations
                    .into_iter()
                    .map(escalation_spec)
                    .collect::<Result<_, _>>()?;
                Self::Forward {
                    to: owners(to),
                    title,
                    description,
                    note,
                    input,
                    escalations,
                }
            }
            HumanTaskOperation::Subtask {
                to,
                title,
                description,
                input,
                expires_after,
            } => {
                let expires_after = expires_after
                    .map(|text| duration::parse(&text))
                    .transpose()
                    .map_err(|e| invalid("expires_after", e))?;
                Self::Subtask {
                    to: owners(to),
                    title,
                    description,
                    input,
                    expires_after,
                }
            }
            HumanTaskOperation::Suspend => Self::Suspend,
            HumanTaskOperation::Resume => Self::Resume,
            HumanTaskOperation::Terminate => Self::Terminate,
            HumanTaskOperation::Escalate { name, action } => Self::Escalate {
                name,
                action: escalation_action(action),
            },
            HumanTaskOperation::Delete => Self::Delete,
            HumanTaskOperation::Restart => Self::Restart,
        })
    }
}

impl From<HumanTaskAction> for HumanTaskOperation {
    fn from(action: HumanTaskAction) -> Self {
        match action {
            HumanTaskAction::Claim => Self::Claim,
            HumanTaskAction::Unclaim => Self::Unclaim,
            HumanTaskAction::Complete { output } => Self::Complete { output },
            HumanTaskAction::Fail { note } => Self::Fail { note },
            HumanTaskAction::Forward {
                to,
                title,
                description,
                note,
                input,
                escalations,
            } => {
                let escalations = escalations.into_iter().map(follow_on_escalation).collect();
                Self::Forward {
                    to: people(to),
                    title,
                    description,
                    note,
                    input,
                    escalations,
                }
            }
            HumanTaskAction::Subtask {
                to,
                title,
                description,
                input,
                expires_after,
            } => {
                let expires_after = expires_after.map(duration_text);
                Self::Subtask {
                    to: people(to),
                    title,
                    description,
                    input,
                    expires_after,
                }
            }
            HumanTaskAction::Suspend => Self::Suspend,
            HumanTaskAction::Resume => Self::Resume,
            HumanTaskAction::Terminate => Self::Terminate,
            HumanTaskAction::Escalate { name, action } => Self::Escalate {
                name,
                action: manual_escalation(action),
            },
            HumanTaskAction::Delete => Self::Delete,
            HumanTaskAction::Restart => Self::Restart,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use baton_api_model::ErrorKind;
    use serde_json::{json, Map};

    use super::*;

    fn sarah_and_legal() -> PotentialOwners {
        PotentialOwners::user("sarah").and_group("legal")
    }

    #[test]
    fn every_action_written_as_a_request_reads_back_as_the_same_action() {
        let escalation = serde_json::from_value(json!({"name": "slow", "after": "2h", "from": "claim", "action": "notify", "to": {"users": ["boss"]}})).unwrap();
        let input = Map::from_iter([("doc".to_owned(), json!("a.pdf"))]);
        let actions = [
            HumanTaskAction::Claim,
            HumanTaskAction::Unclaim,
            HumanTaskAction::Complete {
                output: input.clone(),
            },
            HumanTaskAction::Fail { note: "no".into() },
            HumanTaskAction::Forward {
                to: sarah_and_legal(),
                title: Some("Legal".into()),
                description: None,
                note: Some("look".into()),
                input: input.clone(),
                escalations: vec![escalation],
            },
            HumanTaskAction::Subtask {
                to: sarah_and_legal(),
                title: "Part".into(),
                description: "d".into(),
                input,
                expires_after: Some(Duration::new(90_061, 500_000_000)),
            },
            HumanTaskAction::Subtask {
                to: sarah_and_legal(),
                title: "Part".into(),
                description: String::new(),
                input: Map::new(),
                expires_after: None,
            },
            HumanTaskAction::Suspend,
            HumanTaskAction::Resume,
            HumanTaskAction::Terminate,
            HumanTaskAction::Escalate {
                name: "by hand".into(),
                action: EscalationAction::RaisePriority { by: 3 },
            },
            HumanTaskAction::Escalate {
                name: "tell".into(),
                action: EscalationAction::Notify {
                    to: sarah_and_legal(),
                },
            },
            HumanTaskAction::Escalate {
                name: "move".into(),
                action: EscalationAction::Reassign {
                    to: sarah_and_legal(),
                },
            },
            HumanTaskAction::Delete,
            HumanTaskAction::Restart,
        ];
        for action in actions {
            let request = HumanTaskOperation::from(action.clone());
            let wire: HumanTaskOperation =
                serde_json::from_value(serde_json::to_value(&request).unwrap()).unwrap();
            assert_eq!(HumanTaskAction::try_from(wire).unwrap(), action);
        }
    }

    #[test]
    fn a_request_duration_that_does_not_read_is_refused_as_invalid_naming_its_field() {
        let subtask = HumanTaskOperation::Subtask {
            to: People::default(),
            title: "t".into(),
            description: String::new(),
            input: Map::new(),
            expires_after: Some("soon".into()),
        };
        let refused = HumanTaskAction::try_from(subtask).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Invalid);
        assert!(
            refused
                .to_string()
                .starts_with("`expires_after` is not allowed: "),
            "{refused}"
        );
        let never = FollowOnEscalation {
            name: "e".into(),
            after: "never".into(),
            from: None,
            unless: None,
            action: RequestedEscalation::RaisePriority { by: 1 },
        };
        let forward = HumanTaskOperation::Forward {
            to: People::default(),
            title: None,
            description: None,
            note: None,
            input: Map::new(),
            escalations: vec![never],
        };
        let refused = HumanTaskAction::try_from(forward).unwrap_err();
        assert!(
            refused
                .to_string()
                .starts_with("`escalations.after` is not allowed: "),
            "{refused}"
        );
    }
}
