//! `GET /api/events`: a server-sent event stream of instance and human-task changes, as the
//! acting user may see them (the service's `events` says what that is); `POST /api/events`:
//! publishing an event for `wait` tasks.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use baton_api_model as api;
use baton_service::EventFilter;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Acting, Json, Query};
use crate::requests::EventsQuery;
use crate::state::AppState;
use baton_api_model::requests::PublishEvent;

/// A stream of changes: an `instance` event for each committed step of an instance, a
/// `human_task` event for each human task a step changed (only those the acting user may
/// see), and a `lagged` event when the stream fell behind and dropped events (read the
/// current state again). `?instance=ID` keeps one instance's; `?user=U` keeps only the
/// human-task changes of tasks U may see (another user than oneself takes an administrator).
/// A comment line keeps the connection alive every 15 seconds.
#[utoipa::path(get, path = "/api/events", tag = "events", params(EventsQuery),
    responses(
        (status = 200, description = "Server-sent events; each event's `data` is one ChangeEvent", content_type = "text/event-stream", body = api::ChangeEvent),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    Acting(user): Acting,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let permit = state
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::TooManyStreams)?;
    let events = state
        .service
        .events(
            &user,
            EventFilter {
                instance: q.instance,
                user: q.user,
            },
        )
        .await?;
    let closing = state.closing.subscribe();
    let stream = futures_util::stream::unfold(
        (events, closing, permit),
        |(mut events, mut closing, permit)| async move {
            let next = tokio::select! {
                next = events.next() => next?,
                // The server shuts down (or its state is gone): the stream ends.
                _ = closing.wait_for(|closed| *closed) => return None,
            };
            Some((Ok(sse_event(&next)), (events, closing, permit)))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn sse_event(event: &api::ChangeEvent) -> Event {
    Event::default()
        .event(event.name())
        .json_data(event)
        .unwrap_or_else(|e| {
            tracing::error!("an event could not be written: {e}");
            Event::default().comment("an event could not be written")
        })
}

/// Publish an event for the `wait` tasks that wait for its name and key (Siebel's implicit
/// resumption): every instance found (in memory, then by its stored subscription) receives it,
/// each in a step of its own; with none, it is buffered for its time to live (`ttl_ms`) for a
/// task that begins waiting for it. An id published again while it is remembered (its time to
/// live or 24 hours, whichever is longer) does nothing and answers with the first publication
/// (`duplicate: true`). Publishing takes an administrator or a member of group
/// `event-publishers`.
#[utoipa::path(post, path = "/api/events", tag = "events", request_body = PublishEvent,
    responses(
        (status = 200, body = api::PublishedEvent),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn publish(
    State(state): State<AppState>,
    Acting(user): Acting,
    Json(body): Json<PublishEvent>,
) -> ApiResult<Json<api::PublishedEvent>> {
    Ok(Json(state.service.publish_event(&user, body).await?))
}
