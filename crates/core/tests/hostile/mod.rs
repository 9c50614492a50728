//! The hostile-input target's parts: the tape of choices, the grammar of definitions and
//! calendars, hostile text, expressions and data, the YAML writer and its mutations, and the
//! driver that runs what deploys.

pub mod data;
pub mod expressions;
pub mod grammar;
pub mod run;
pub mod tape;
pub mod text;
pub mod yaml;
