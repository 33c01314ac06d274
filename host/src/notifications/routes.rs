//! REST API of a user's notifications, their live stream and their preferences.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{Inbox, InboxQuery, Notification, Preference};
use crate::error::Error;
use crate::store::{Id, Store};
use crate::web::{ApiResult, AppState, Auth, ErrorBody, Json, Query};

/// A stream looks at the database this often even without a wake-up from this node: the
/// notifications another node made.
const STREAM_POLL: Duration = Duration::from_secs(3);
/// Notifications a stream sends per database read.
const STREAM_BATCH: i64 = 100;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(inbox))
        .routes(routes!(unread))
        .routes(routes!(stream))
        .routes(routes!(read_all))
        .routes(routes!(mark_read))
        .routes(routes!(mark_unread))
        .routes(routes!(get_preferences, set_preferences))
}

/// My notifications, newest first, with the unread count.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", params(InboxQuery),
    responses((status = 200, body = Inbox), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn inbox(State(state): State<AppState>, auth: Auth, Query(q): Query<InboxQuery>) -> ApiResult<Json<Inbox>> {
    Ok(Json(super::inbox(&state.store, auth.0.principal.user_id, &q).await?))
}

/// How many unread notifications I have.
#[derive(Debug, Serialize, ToSchema)]
struct Unread {
    unread: i64,
}

/// My unread count, for the bell.
#[utoipa::path(get, path = "/api/v1/notifications/unread-count", tag = "notifications",
    responses((status = 200, body = Unread)), security(("token" = []), ("session" = [])))]
async fn unread(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Unread>> {
    Ok(Json(Unread { unread: super::unread(&state.store, auth.0.principal.user_id).await? }))
}

/// Where a stream starts when the browser has no `Last-Event-ID` yet.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct StreamQuery {
    /// Send the notifications after this id first (e.g. the newest the page showed).
    after: Option<Id>,
}

/// What a stream holds between reads.
struct Live {
    store: Store,
    user_id: Id,
    last: Id,
    queue: VecDeque<Notification>,
    wake: tokio::sync::broadcast::Receiver<Id>,
}

impl Live {
    /// The next notification to send, waiting for one; `None` when the host shuts down.
    async fn next(&mut self) -> Option<Notification> {
        loop {
            if let Some(n) = self.queue.pop_front() {
                self.last = n.id;
                return Some(n);
            }
            match super::after(&self.store, self.user_id, self.last, STREAM_BATCH).await {
                Ok(found) if !found.is_empty() => {
                    self.queue.extend(found);
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "a notification stream cannot read; trying again");
                    tokio::time::sleep(STREAM_POLL).await;
                    continue;
                }
            }
            let deadline = tokio::time::sleep(STREAM_POLL);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    woke = self.wake.recv() => match woke {
                        Ok(user) if user != self.user_id => continue,
                        Ok(_) | Err(RecvError::Lagged(_)) => break,
                        Err(RecvError::Closed) => return None,
                    },
                    () = &mut deadline => break,
                }
            }
        }
    }
}

/// My notifications as they happen, as server-sent events (`event: notification`, `id:` the
/// notification's id, `data:` the notification). A browser reconnecting sends the
/// `Last-Event-ID` it saw last and receives everything after it, so nothing is lost across
/// reconnects; every open tab has its own stream.
#[utoipa::path(get, path = "/api/v1/notifications/stream", tag = "notifications", params(StreamQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "The id of the last notification received")),
    responses((status = 200, content_type = "text/event-stream", description = "A stream of notifications"),
        (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn stream(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let user_id = auth.0.principal.user_id;
    // Listen before reading where to start, so nothing made in between is missed.
    let wake = state.store.signals().notifications.subscribe();
    let last = match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<Id>().ok())
            .ok_or_else(|| Error::invalid("Last-Event-ID", "the last event id is a notification id, a number"))?,
        None => match q.after {
            Some(after) => after,
            None => super::newest(&state.store, user_id).await?,
        },
    };
    let live = Live { store: state.store.clone(), user_id, last, queue: VecDeque::new(), wake };
    let events = futures::stream::unfold(live, |mut live| async move {
        let n = live.next().await?;
        let event = Event::default()
            .id(n.id.to_string())
            .event("notification")
            .json_data(&n)
            .unwrap_or_else(|_| Event::default().comment("unserialisable notification"));
        Some((Ok(event), live))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// How many notifications were marked read.
#[derive(Debug, Serialize, ToSchema)]
struct Marked {
    marked: u64,
}

/// Marks all my notifications read.
#[utoipa::path(post, path = "/api/v1/notifications/read-all", tag = "notifications",
    responses((status = 200, body = Marked)), security(("token" = []), ("session" = [])))]
async fn read_all(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Marked>> {
    Ok(Json(Marked { marked: super::mark_all_read(&state.store, auth.0.principal.user_id).await? }))
}

/// Marks one of my notifications read.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 200, body = Notification), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn mark_read(State(state): State<AppState>, auth: Auth, Path(id): Path<Id>) -> ApiResult<Json<Notification>> {
    Ok(Json(super::mark(&state.store, auth.0.principal.user_id, id, true).await?))
}

/// Marks one of my notifications unread again.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/unread", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 200, body = Notification), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn mark_unread(State(state): State<AppState>, auth: Auth, Path(id): Path<Id>) -> ApiResult<Json<Notification>> {
    Ok(Json(super::mark(&state.store, auth.0.principal.user_id, id, false).await?))
}

/// Where each kind of notification reaches me: in the inbox, by email, both or neither.
#[utoipa::path(get, path = "/api/v1/notifications/preferences", tag = "notifications",
    responses((status = 200, body = [Preference])), security(("token" = []), ("session" = [])))]
async fn get_preferences(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<Preference>>> {
    Ok(Json(super::preferences(&state.store, auth.0.principal.user_id, &auth.0.locale).await?))
}

/// Changes where kinds of notification reach me; kinds left out keep their setting.
#[utoipa::path(put, path = "/api/v1/notifications/preferences", tag = "notifications", request_body = [Preference],
    responses((status = 200, body = [Preference]), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn set_preferences(
    State(state): State<AppState>,
    auth: Auth,
    Json(prefs): Json<Vec<Preference>>,
) -> ApiResult<Json<Vec<Preference>>> {
    let a = auth.0;
    Ok(Json(super::set_preferences(&state.store, a.principal.user_id, &a.locale, &prefs).await?))
}
