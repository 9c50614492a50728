//! Resolving the people an assignment expression names into [`PotentialOwners`].

use serde_json::Value;

use super::UserTaskError;
use crate::data_type::json_type_name;

use crate::people::PotentialOwners;

impl PotentialOwners {
    /// Adds the value an assignment expression produced: a user name (`"sarah"` or
    /// `"user:sarah"`), a group (`"group:legal"`), a list of those, or an object
    /// `{"users": [...], "groups": [...]}`.
    pub fn add_resolved(&mut self, value: &Value) -> Result<(), UserTaskError> {
        let refused = |v: &Value| {
            UserTaskError::InvalidPotentialOwners(format!(
                "expected a user name, \"group:NAME\", a list of those or {{\"users\": [..], \"groups\": [..]}}, got {}",
                json_type_name(v)
            ))
        };
        match value {
            Value::String(s) if s.trim().is_empty() => Err(UserTaskError::InvalidPotentialOwners(
                "an empty name names nobody".into(),
            )),
            Value::String(s) => {
                match s.split_once(':') {
                    Some(("group", g)) => self.groups.insert(g.trim().to_owned()),
                    Some(("user", u)) => self.users.insert(u.trim().to_owned()),
                    _ => self.users.insert(s.trim().to_owned()),
                };
                Ok(())
            }
            Value::Array(items) => items.iter().try_for_each(|v| self.add_resolved(v)),
            Value::Object(map) => {
                for (key, into_groups) in [("users", false), ("groups", true)] {
                    match map.get(key) {
                        None | Some(Value::Null) => {}
                        Some(Value::Array(names)) => {
                            for name in names {
                                let Value::String(name) = name else {
                                    return Err(refused(name));
                                };
                                if into_groups {
                                    self.groups.insert(name.clone())
                                } else {
                                    self.users.insert(name.clone())
                                };
                            }
                        }
                        Some(other) => return Err(refused(other)),
                    }
                }
                Ok(())
            }
            other => Err(refused(other)),
        }
    }
}
