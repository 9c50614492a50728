//! Stardust's run-time operations on the hierarchy: a user **spawns** a sub-process under a
//! running instance, or **aborts and starts** an instance that was started in the wrong
//! process definition. Neither is a modelled step: both are commands a user gives. What a
//! `spawned` or `peer` link means is the table of [`crate::hierarchy`].
//!
//! A spawned instance is a sub-process of the root (the driver applies [`Command::Spawn`] to
//! the root of the instance the user spawned from), in the root's case; the root cannot
//! complete before it did: with every task of its own ended, the root waits for its open
//! spawned sub-processes, and one that failed or was aborted fails the root.
//!
//! **Data** (Stardust's copy semantics): the new instance starts with every data value of the
//! instance it came from, under the values the user gives. Values are copied, so primitive and
//! structured data and notes pass by value (a later change on either side is not seen by the
//! other); documents, folders and entities are references (see [`crate::data_type`]), so they
//! pass by reference, and a list of them is copied as a list of the same references (a
//! shallow copy); the process attachments are a document list.
//!
//! **Mapping heuristics** (Stardust's, for document data and document lists alike): besides
//! the values passed by name, each document variable `d1` of the originating definition that
//! the new definition does not declare, holding documents, is passed to a document variable
//! `d2` of the new definition that was not given a value by name (nor by the user):
//!
//! - *same-type rule*: if `d1` has a document type `t1` that no other variable of the
//!   originating definition has, and exactly one variable `d2` of the new definition has type
//!   `t1`, `d2` gets `d1`'s documents, with their metadata (the same references);
//! - *one-document rule*: else, if each definition declares exactly one document variable
//!   (of the same kind, single or list; their types may differ), `d2` gets `d1`'s documents
//!   without their metadata: each is copied into a new document record with the same content
//!   and no metadata ([`Effect::CopyDocument`], committed with the step), and `d2` refers to
//!   the copies;
//! - *else* `d1`'s documents (with their metadata: the same references) are added to the new
//!   instance's process attachments, if its definition declares an `attachments` variable; if
//!   it does not, they pass by name only, as every value does.
//!
//! The originating instance's process attachments become the new instance's, whatever each
//! definition calls its `attachments` variable. A document type is a name a declaration gives
//! (`document_type`); a variable without one takes part in the one-document rule only.
//!
//! [`Command::Spawn`]: crate::command::Command::Spawn

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::data_type::{documents_in, DataType};
use crate::definition::{Definition, ProcessRef};
use crate::effect::Effect;
use crate::event::EventKind;
use crate::hierarchy::{LinkKind, ParentLink};
use crate::instance::ChildRef;
use crate::machine::{Machine, TransitionError};
use crate::status::{InstanceStatus, Reason};

impl Machine<'_> {
    /// Starts a spawned sub-process of this instance (the root). Refused, creating nothing, if
    /// the process cannot be started or refuses the data.
    /// `origin` is what the definition of the instance spawned from declares of its documents.
    pub(crate) fn spawn(
        &mut self,
        target: &ProcessRef,
        carried: Map<String, Value>,
        origin: &[DocumentSlot],
        data: Map<String, Value>,
        by: &str,
    ) -> Result<(), TransitionError> {
        let callee = self
            .callee(target)
            .map_err(TransitionError::ChildNotStarted)?;
        let Carried {
            mut declared,
            unused,
            copies,
        } = carry(origin, &callee.definition, carried, &data);
        declared.extend(data);
        let link = ParentLink {
            instance: self.inst.id.clone(),
            task: String::new(),
            index: 0,
            kind: LinkKind::Spawned,
            attempt: 0,
        };
        let child = self
            .start_child(&callee, declared, unused, link, false)
            .map_err(TransitionError::ChildNotStarted)?;
        self.copy_documents(copies, by);
        let id = child.instance.id.clone();
        // A child with nothing to wait for ended in its first step: its end is known now.
        let ended = child
            .instance
            .status
            .is_terminal()
            .then_some(child.instance.status);
        self.children.push(child);
        self.inst.spawned.push(ChildRef {
            instance: id.clone(),
            ended,
        });
        self.emit(
            None,
            EventKind::ChildStarted {
                child: id,
                process: callee.definition.id.clone(),
                version: callee.definition.version,
                link: LinkKind::Spawned,
                by: Some(by.to_owned()),
            },
        );
        Ok(())
    }

    /// A spawned sub-process ended: the root hears of it (and is aborted with it if whoever
    /// aborted it asked for that).
    pub(crate) fn spawned_ended(
        &mut self,
        child: &str,
        status: InstanceStatus,
        aborted_by: Option<String>,
    ) {
        let Some(spawned) = self.inst.spawned.iter_mut().find(|s| s.instance == child) else {
            return;
        };
        spawned.ended = Some(status);
        if status == InstanceStatus::Aborted {
            if let Some(by) = aborted_by {
                self.aborted_by = Some(by.clone());
                self.end_instance(
                    InstanceStatus::Aborted,
                    Some(Reason::ChildAborted {
                        child: child.to_owned(),
                        by,
                    }),
                );
            }
        }
    }

    /// Aborts this instance and starts a peer instance of `target` with its data, in the same
    /// step; each names the other.
    pub(crate) fn abort_and_start(
        &mut self,
        target: &ProcessRef,
        by: &str,
    ) -> Result<(), TransitionError> {
        let callee = self
            .callee(target)
            .map_err(TransitionError::ChildNotStarted)?;
        let link = ParentLink {
            instance: self.inst.id.clone(),
            task: String::new(),
            index: 0,
            kind: LinkKind::Peer,
            attempt: 0,
        };
        let origin = document_slots(self.def);
        let Carried {
            declared,
            unused,
            copies,
        } = carry(
            &origin,
            &callee.definition,
            self.visible_data(),
            &Map::new(),
        );
        let peer = self
            .start_child(&callee, declared, unused, link, false)
            .map_err(TransitionError::ChildNotStarted)?;
        self.copy_documents(copies, by);
        let id = peer.instance.id.clone();
        self.children.push(peer);
        self.inst.replaced_by = Some(id.clone());
        self.emit(
            None,
            EventKind::ChildStarted {
                child: id,
                process: callee.definition.id.clone(),
                version: callee.definition.version,
                link: LinkKind::Peer,
                by: Some(by.to_owned()),
            },
        );
        self.end_instance(
            InstanceStatus::Aborted,
            Some(Reason::Operator {
                action: "abort-and-start".into(),
                by: by.to_owned(),
            }),
        );
        Ok(())
    }

    /// The spawned sub-processes still open, and one that ended without completing, if any:
    /// what keeps a root whose own tasks all ended from completing.
    pub(crate) fn spawned_holding(&self) -> (Vec<String>, Option<&ChildRef>) {
        let open = self
            .inst
            .spawned
            .iter()
            .filter(|s| s.ended.is_none())
            .map(|s| s.instance.clone())
            .collect();
        let failed = self.inst.spawned.iter().find(|s| {
            matches!(
                s.ended,
                Some(InstanceStatus::Failed | InstanceStatus::Aborted)
            )
        });
        (open, failed)
    }

    /// The one-document rule's copies, made with this step by the driver (the core does no I/O).
    fn copy_documents(&mut self, copies: Vec<(String, String)>, by: &str) {
        for (from, to) in copies {
            self.effects.push(Effect::CopyDocument {
                from,
                to,
                by: by.to_owned(),
            });
        }
    }

    /// Aborting this instance aborts its open spawned sub-processes (in the same commit).
    pub(crate) fn abort_spawned(&mut self) {
        if self.inst.spawned.iter().any(|s| s.ended.is_none()) {
            self.effects.push(Effect::AbortChildren {
                task: String::new(),
            });
        }
    }
}

/// A document variable a definition declares, as Stardust's mapping heuristics see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentSlot {
    pub name: String,
    /// A `document_list` (else a `document`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub list: bool,
    /// The process attachments (a document list too).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attachments: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_type: Option<String>,
}

/// The variables that hold documents that `def` declares, in order: its `document`s,
/// `document_list`s and its process attachments.
pub fn document_slots(def: &Definition) -> Vec<DocumentSlot> {
    def.data
        .iter()
        .filter(|(_, d)| d.ty.holds_documents())
        .map(|(name, d)| DocumentSlot {
            name: name.clone(),
            list: d.ty != DataType::Document,
            attachments: d.ty == DataType::Attachments,
            document_type: d.document_type.clone(),
        })
        .collect()
}

/// What passes to a spawned or peer instance: the values of variables its definition declares
/// (its start data), the others (carried as they are, unused by it), and the documents to copy
/// without their metadata, as (original, copy) ids.
struct Carried {
    declared: Map<String, Value>,
    unused: Map<String, Value>,
    copies: Vec<(String, String)>,
}

/// Stardust: "all data values of the originating instance pass to the spawned one, whether or
/// not it uses them", by value (a reference's value is the reference); then the mapping
/// heuristics of the module doc for its document data. A value of a variable the new
/// definition declares with another type is left out (its declared default applies), so
/// carried data never makes the start fail; the user's own values (`given`) are checked as
/// start data, and a variable they give a value is not a target of the heuristics.
fn carry(
    origin: &[DocumentSlot],
    def: &Definition,
    data: Map<String, Value>,
    given: &Map<String, Value>,
) -> Carried {
    let mut carried = Carried {
        declared: Map::new(),
        unused: Map::new(),
        copies: Vec::new(),
    };
    if def.data.is_empty() {
        carried.declared = data;
        return carried;
    }
    for (key, value) in &data {
        match def.data.get(key) {
            Some(decl) if decl.ty.admits(value) => {
                carried.declared.insert(key.clone(), value.clone());
            }
            Some(_) => {}
            None => {
                carried.unused.insert(key.clone(), value.clone());
            }
        }
    }
    map_documents(origin, def, &data, given, &mut carried);
    carried
}

/// Stardust's mapping heuristics (see the module doc), over what [`carry`] passed by name.
fn map_documents(
    origin: &[DocumentSlot],
    def: &Definition,
    data: &Map<String, Value>,
    given: &Map<String, Value>,
    carried: &mut Carried,
) {
    let (attachments, targets): (Vec<DocumentSlot>, Vec<DocumentSlot>) =
        document_slots(def).into_iter().partition(|s| s.attachments);
    let attachments = attachments.into_iter().next().map(|s| s.name);
    let mut taken: Vec<String> = Vec::new();
    let open = |name: &str, carried: &Carried, taken: &[String]| {
        !carried.declared.contains_key(name)
            && !given.contains_key(name)
            && !taken.iter().any(|t| t == name)
    };
    let mut to_attach: Vec<Value> = Vec::new();
    // The originating instance's attachments are the new instance's, whatever either calls them.
    if let Some(target) = &attachments {
        for theirs in origin
            .iter()
            .filter(|s| s.attachments && !def.data.contains_key(&s.name))
        {
            let documents = data.get(&theirs.name).map(documents_in).unwrap_or_default();
            to_attach.extend(
                documents
                    .into_iter()
                    .map(|id| serde_json::json!({ "document": id })),
            );
        }
        if !open(target, carried, &taken) && !carried.declared.contains_key(target) {
            to_attach.clear();
        }
    }
    let origin_documents: Vec<DocumentSlot> =
        origin.iter().filter(|s| !s.attachments).cloned().collect();
    for d1 in origin_documents
        .iter()
        .filter(|s| !def.data.contains_key(&s.name))
    {
        let Some(value) = data.get(&d1.name) else {
            continue;
        };
        let documents = documents_in(value);
        if documents.is_empty() {
            continue;
        }
        let same_kind = |slots: &[DocumentSlot]| {
            slots
                .iter()
                .filter(|s| s.list == d1.list)
                .cloned()
                .collect::<Vec<_>>()
        };
        let (ours, theirs) = (same_kind(&origin_documents), same_kind(&targets));
        let same_type = d1.document_type.as_ref().and_then(|t1| {
            let only_one_here = ours
                .iter()
                .filter(|s| s.document_type.as_ref() == Some(t1))
                .count()
                == 1;
            let there: Vec<&DocumentSlot> = theirs
                .iter()
                .filter(|s| s.document_type.as_ref() == Some(t1))
                .collect();
            (only_one_here && there.len() == 1).then(|| there[0].name.clone())
        });
        if let Some(d2) = same_type.filter(|d2| open(d2, carried, &taken)) {
            carried.declared.insert(d2.clone(), value.clone());
            taken.push(d2);
            continue;
        }
        if let ([_], [d2]) = (&ours[..], &theirs[..]) {
            if open(&d2.name, carried, &taken) {
                let copies: Vec<(String, String)> = documents
                    .iter()
                    .map(|id| ((*id).to_owned(), uuid::Uuid::now_v7().to_string()))
                    .collect();
                let refs: Vec<Value> = copies
                    .iter()
                    .map(|(_, copy)| serde_json::json!({ "document": copy }))
                    .collect();
                let copied = if d1.list {
                    Value::Array(refs)
                } else {
                    refs.into_iter().next().unwrap_or(Value::Null)
                };
                carried.declared.insert(d2.name.clone(), copied);
                carried.copies.extend(copies);
                taken.push(d2.name.clone());
                continue;
            }
        }
        to_attach.extend(
            documents
                .iter()
                .map(|id| serde_json::json!({ "document": id })),
        );
    }
    let Some(target) = attachments else { return };
    if to_attach.is_empty() {
        return;
    }
    let mut list = match carried.declared.get(&target).or_else(|| given.get(&target)) {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    for document in to_attach {
        if !list.contains(&document) {
            list.push(document);
        }
    }
    carried.declared.insert(target, Value::Array(list));
}
