//! Human tasks through the engine. Every operation names the acting user, who is
//! looked up in the identity store and handed to the core as [`Actor::User`] with their groups
//! and administrator flag; the core decides whether they may act (potential owner, owner,
//! originator, administrator). People an operation hands work to (a follow-on's or subtask's
//! `to`, an escalation's) must exist. A refused operation changes nothing.

use baton_core::user_task::{Actor, EscalationAction, PotentialOwners, UserTaskCommand};
use baton_core::{Command, Instance};
use baton_store::{IdentityStore, Store};

use crate::engine::Engine;
use crate::error::EngineError;

/// The people an operation hands work to, if it names any.
fn named_people(command: &UserTaskCommand) -> Option<&PotentialOwners> {
    match command {
        UserTaskCommand::StartFollowOn { spec, .. } => Some(&spec.to),
        UserTaskCommand::CreateSubtask { spec, .. } => Some(&spec.to),
        UserTaskCommand::Escalate {
            action: EscalationAction::Notify { to } | EscalationAction::Reassign { to },
            ..
        } => Some(to),
        _ => None,
    }
}

impl<S: Store + IdentityStore> Engine<S> {
    /// Applies a command a person gives by name (an operator's abort, retry, skip, input or
    /// breakpoint: [`Command::by`]); that person must be a user of the identity store, as every
    /// acting user must. An unknown one is refused with [`EngineError::Identity`].
    pub async fn operate(
        &self,
        instance: &str,
        command: Command,
    ) -> Result<std::sync::Arc<Instance>, EngineError> {
        if let Some(by) = command.by() {
            self.store().caller(by).await?;
        }
        self.apply(instance, command).await
    }

    /// [`Engine::delete_instance`] by `by`, who must be a user of the identity store.
    pub async fn delete_instance_by(
        &self,
        instance: &str,
        by: &str,
    ) -> Result<std::sync::Arc<Instance>, EngineError> {
        self.store().caller(by).await?;
        self.delete_instance(instance, by).await
    }

    /// Applies `command` to a human task of user task `task` in `instance`, acting as `user`.
    /// An unknown user (or an unknown person named by the command) is refused with
    /// [`EngineError::Identity`]; an operation the user may not do with [`EngineError::Transition`].
    pub async fn user_task(
        &self,
        instance: &str,
        task: &str,
        user: &str,
        command: UserTaskCommand,
    ) -> Result<std::sync::Arc<Instance>, EngineError> {
        let caller = self.store().caller(user).await?;
        if let Some(people) = named_people(&command) {
            self.store().resolve_potential_owners(people).await?;
        }
        self.apply(
            instance,
            Command::UserTask {
                task: task.to_owned(),
                actor: Actor::User(caller),
                command,
            },
        )
        .await
    }
}
