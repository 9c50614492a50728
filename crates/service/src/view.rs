//! Conversions from the persisted state (core's instance, events and human tasks; the store's
//! rows) into the api-model view types. The only place that knows both: api-model does not
//! depend on the core, and the surfaces see only the views.

mod changes;
mod graph;
mod history;
mod human_task;
mod instance;
mod records;

pub use changes::{human_task_changed, instance_changed};
pub use graph::definition_graph;
pub use history::history_event;
pub use human_task::{form_field, human_task, human_task_state, people, user_task};
pub use instance::{instance, instance_status, instance_summary, link_kind, reason, task_state};
pub use records::{definition, definition_version, group, inbox_page, incident, job, user};
