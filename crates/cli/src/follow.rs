//! `baton show INSTANCE --follow`: prints the instance, then each history event as it is
//! committed, until the instance ends.
//!
//! This process never commits the instance's steps itself: a `baton worker` or `baton serve`
//! on the same database does (or, with `--server`, the server). So it cannot hear of them
//! through its own engine's change feed (which only carries what this process commits); it
//! polls the backend instead, reading the instance's state every [`POLL`], and its history
//! only when the state moved on.

use std::time::Duration;

use crate::backend::Backend;
use crate::exit::{self, Result};
use crate::render;
use baton_api_model::InstanceStatus;

/// How often the store is read for news of the instance.
const POLL: Duration = Duration::from_millis(200);

/// Follows `instance` until it ends: exit 0 when it completed, 1 when it failed or was aborted.
pub async fn follow(backend: &Backend, by: Option<&str>, instance: &str) -> Result<u8> {
    let mut state = backend.instance(by, instance).await?;
    let children = backend.children(by, instance).await?;
    let history = backend.history(by, instance).await?;
    out!("{}", render::instance(&state, &children, Some(&history)));
    let width = render::task_width(&state);
    let mut seen = history.last().map_or(0, |e| e.seq);
    loop {
        match state.status {
            InstanceStatus::Completed => break,
            InstanceStatus::Failed | InstanceStatus::Aborted => {
                outln!("\ninstance {} is {}", state.id, state.status);
                return Ok(exit::FAILED);
            }
            InstanceStatus::Running | InstanceStatus::Waiting | InstanceStatus::Blocked => {}
        }
        tokio::time::sleep(POLL).await;
        let now = backend.instance(by, instance).await?;
        if now.updated_at == state.updated_at && now.status == state.status {
            continue;
        }
        let history = backend.history(by, instance).await?;
        for event in history.iter().filter(|e| e.seq > seen) {
            outln!("{}", render::history_line(event, width));
        }
        seen = history.last().map_or(seen, |e| e.seq);
        state = now;
    }
    outln!("\ninstance {} is {}", state.id, state.status);
    Ok(exit::DONE)
}
