//! Users, groups and departments: the people human tasks are offered to.

use baton_api_model as api;
use baton_store::NewUser;

use crate::{view, Result, Service, ServiceStore};

impl<S: ServiceStore> Service<S> {
    /// Adds a user (a department named for the first time is created with them).
    pub async fn add_user(&self, user: &str, new: NewUser) -> Result<api::User> {
        let caller = self.authenticate(user).await?;
        self.require_admin(&caller, "add users")?;
        let added = self.engine.store().add_user(new, self.engine.now()).await?;
        Ok(view::user(&added, &[]))
    }

    /// The acting user, with their groups (who a token acts as).
    pub async fn me(&self, user: &str) -> Result<api::User> {
        let caller = self.authenticate(user).await?;
        let department = self
            .engine
            .store()
            .user(&caller.user)
            .await?
            .and_then(|u| u.department);
        Ok(api::User {
            name: caller.user,
            department,
            admin: caller.admin,
            groups: caller.groups.into_iter().collect(),
        })
    }

    /// Every user with their groups, by name.
    pub async fn users(&self, user: &str) -> Result<Vec<api::User>> {
        self.authenticate(user).await?;
        let groups = self.engine.store().groups().await?;
        Ok(self
            .engine
            .store()
            .users()
            .await?
            .iter()
            .map(|u| view::user(u, &groups))
            .collect())
    }

    /// Adds a group.
    pub async fn add_group(&self, user: &str, name: &str) -> Result<api::Group> {
        let caller = self.authenticate(user).await?;
        self.require_admin(&caller, "add groups")?;
        Ok(view::group(
            &self
                .engine
                .store()
                .add_group(name, self.engine.now())
                .await?,
        ))
    }

    /// Adds `member` to `group`.
    pub async fn add_member(&self, user: &str, group: &str, member: &str) -> Result<()> {
        let caller = self.authenticate(user).await?;
        self.require_admin(&caller, "change group members")?;
        Ok(self.engine.store().add_member(group, member).await?)
    }

    /// Takes `member` out of `group` (the user stays).
    pub async fn remove_member(&self, user: &str, group: &str, member: &str) -> Result<()> {
        let caller = self.authenticate(user).await?;
        self.require_admin(&caller, "change group members")?;
        Ok(self.engine.store().remove_member(group, member).await?)
    }

    /// Every group with its members, by name.
    pub async fn groups(&self, user: &str) -> Result<Vec<api::Group>> {
        self.authenticate(user).await?;
        Ok(self
            .engine
            .store()
            .groups()
            .await?
            .iter()
            .map(view::group)
            .collect())
    }

    /// Every department, by name.
    pub async fn departments(&self, user: &str) -> Result<Vec<String>> {
        self.authenticate(user).await?;
        Ok(self.engine.store().departments().await?)
    }
}
