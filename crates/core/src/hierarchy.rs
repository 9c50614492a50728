//! The instance hierarchy: how a child instance is linked to the instance that started it, and
//! what each kind of link means for both.
//!
//! A child records its parent ([`ParentLink`]), its root (the topmost instance it is a
//! sub-process of) and its **case**: the id that links every instance users track as one
//! entity (the root's id, inherited by every descendant, asynchronous ones included).
//!
//! What a link does is read from one table, [`rules`], which is Stardust's "Behavior of
//! Subprocesses in Process Instance Hierarchy" with a row per link kind of Baton:
//!
//! | link kind | sub-process of the root | completes before the root | aborting the root aborts it | aborting it aborts the root | recovering the root recovers it |
//! |---|---|---|---|---|---|
//! | `iteration` (Automic ForEach) | yes | yes | yes | no | no |
//! | `call` (synchronous) | yes | yes | yes (if not ended) | configurable | yes |
//! | `handoff` (asynchronous, Pega Hand Off) | no | no | no | no | no |
//! | `spawned` (Stardust) | yes | yes | yes (if not ended) | configurable | yes |
//! | `peer` (Stardust abort-and-start) | no | no | no | no | no |
//!
//! **Recovering** an instance is Baton's answer to an interrupted one: an operator recovers an
//! instance that failed or is blocked by a failure (`baton recover`), and every task of it that
//! ended not OK runs again. A `call` task among them does not start a new child: its child,
//! which failed, is recovered the same way and the call waits for it again. (Retrying the call
//! task alone does the same.)

use serde::{Deserialize, Serialize};

/// How a child instance is linked to its parent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// One iteration of a ForEach task (Automic).
    #[default]
    Iteration,
    /// A synchronous sub-process started by a `call` task, which waits for it.
    Call,
    /// An asynchronous process started by a `handoff` task (Pega's Hand Off): inline until its
    /// first stopping point, on its own after it.
    Handoff,
    /// A sub-process of the root that a user spawned at run time (Stardust).
    Spawned,
    /// The instance that replaced one aborted because it was started in the wrong process
    /// (Stardust's abort-and-start).
    Peer,
}

impl LinkKind {
    pub const ALL: [Self; 5] = [
        Self::Iteration,
        Self::Call,
        Self::Handoff,
        Self::Spawned,
        Self::Peer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Iteration => "iteration",
            Self::Call => "call",
            Self::Handoff => "handoff",
            Self::Spawned => "spawned",
            Self::Peer => "peer",
        }
    }

    /// Parses a name as printed by [`LinkKind::name`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl std::fmt::Display for LinkKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether aborting a child aborts the instance above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortsParent {
    Never,
    /// When the user says so: on the `call` task (`abort_parent: true`) or on the abort itself.
    Configurable,
}

/// What a link kind means: one row of the hierarchy table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The child is a sub-process of its parent's root (shares its root).
    pub subprocess_of_root: bool,
    /// The parent waits for the child: it hears of the child's end, and cannot complete first.
    pub completes_before_parent: bool,
    /// Aborting the parent aborts the child, if it has not ended.
    pub aborted_with_parent: bool,
    /// Aborting the child aborts the parent.
    pub aborts_parent: AbortsParent,
    /// Recovering the parent recovers the child instead of starting a new one.
    pub recovered_with_parent: bool,
}

/// The rules of each link kind (the table in the module's documentation).
pub const fn rules(kind: LinkKind) -> Rules {
    const SYNCHRONOUS: Rules = Rules {
        subprocess_of_root: true,
        completes_before_parent: true,
        aborted_with_parent: true,
        aborts_parent: AbortsParent::Configurable,
        recovered_with_parent: true,
    };
    const INDEPENDENT: Rules = Rules {
        subprocess_of_root: false,
        completes_before_parent: false,
        aborted_with_parent: false,
        aborts_parent: AbortsParent::Never,
        recovered_with_parent: false,
    };
    match kind {
        LinkKind::Iteration => Rules {
            aborts_parent: AbortsParent::Never,
            recovered_with_parent: false,
            ..SYNCHRONOUS
        },
        LinkKind::Call | LinkKind::Spawned => SYNCHRONOUS,
        LinkKind::Handoff | LinkKind::Peer => INDEPENDENT,
    }
}

/// Where a child instance belongs: the instance and task that started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentLink {
    pub instance: String,
    /// The parent's task that started the child (a ForEach, `call` or `handoff` task).
    pub task: String,
    /// For an iteration: its position in the ForEach's items.
    #[serde(default)]
    pub index: usize,
    /// The kind of link (a state stored before link kinds existed is an iteration's).
    #[serde(default, skip_serializing_if = "is_iteration")]
    pub kind: LinkKind,
    /// For a `call`: the attempt of the call task that waits for this child (an end reported
    /// for another attempt is not applied).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempt: u32,
}

impl ParentLink {
    /// The link of iteration `index` of ForEach task `task` of `instance`.
    pub fn iteration(instance: impl Into<String>, task: impl Into<String>, index: usize) -> Self {
        ParentLink {
            instance: instance.into(),
            task: task.into(),
            index,
            kind: LinkKind::Iteration,
            attempt: 0,
        }
    }

    pub fn rules(&self) -> Rules {
        rules(self.kind)
    }
}

fn is_iteration(kind: &LinkKind) -> bool {
    *kind == LinkKind::Iteration
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_stardusts_for_synchronous_and_asynchronous_subprocesses() {
        let call = rules(LinkKind::Call);
        assert!(
            call.subprocess_of_root
                && call.completes_before_parent
                && call.aborted_with_parent
                && call.recovered_with_parent
        );
        assert_eq!(call.aborts_parent, AbortsParent::Configurable);
        let handoff = rules(LinkKind::Handoff);
        assert!(
            !handoff.subprocess_of_root
                && !handoff.completes_before_parent
                && !handoff.aborted_with_parent
                && !handoff.recovered_with_parent
        );
        assert_eq!(handoff.aborts_parent, AbortsParent::Never);
        assert_eq!(
            rules(LinkKind::Spawned),
            call,
            "Stardust's spawned sub-processes behave as synchronous ones"
        );
        assert_eq!(rules(LinkKind::Peer), handoff);
    }

    #[test]
    fn a_link_stored_before_link_kinds_reads_as_an_iteration() {
        let old: ParentLink =
            serde_json::from_str(r#"{"instance":"p","task":"each","index":3}"#).unwrap();
        assert_eq!(
            old,
            ParentLink {
                instance: "p".into(),
                task: "each".into(),
                index: 3,
                kind: LinkKind::Iteration,
                attempt: 0
            }
        );
        let call = ParentLink {
            kind: LinkKind::Call,
            attempt: 2,
            ..old
        };
        let json = serde_json::to_string(&call).unwrap();
        assert_eq!(serde_json::from_str::<ParentLink>(&json).unwrap(), call);
    }
}
