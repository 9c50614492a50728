//! The API's routes, one module per resource, each handler calling the service.

pub mod cases;
pub mod definitions;
pub mod documents;
pub mod events;
pub mod external_jobs;
pub mod health;
pub mod human_tasks;
pub mod incidents;
pub mod instances;
pub mod people;
pub mod schedules;
pub mod sessions;
pub mod sign_in;
pub mod tokens;
