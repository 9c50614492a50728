//! The name of each value of a view enum, as its JSON writes it: `Display` writes it and
//! `FromStr` reads it, so a surface that shows or takes a status as text (the CLI's `--status
//! ready`) uses exactly the API's names. Done through serde, so the names live in one place:
//! the enums' `rename_all`.

use std::fmt;
use std::str::FromStr;

use serde::de::value::{Error as ValueError, StrDeserializer};
use serde::de::IntoDeserializer;
use serde::Deserialize;

/// A name that is not one of an enum's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName(pub String);

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown name `{}`", self.0)
    }
}

impl std::error::Error for UnknownName {}

macro_rules! named {
    ($($ty:ty),* $(,)?) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match serde_json::to_value(self) {
                    Ok(serde_json::Value::String(name)) => f.write_str(&name),
                    _ => Err(fmt::Error),
                }
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;

            fn from_str(name: &str) -> Result<Self, UnknownName> {
                let text: StrDeserializer<'_, ValueError> = name.into_deserializer();
                Self::deserialize(text).map_err(|_| UnknownName(name.to_owned()))
            }
        }
    )*};
}

named!(
    crate::ErrorKind,
    crate::InstanceStatus,
    crate::TaskStatus,
    crate::HumanTaskStatus,
    crate::HumanTaskRole,
    crate::InboxStatus,
    crate::IncidentKind,
);
