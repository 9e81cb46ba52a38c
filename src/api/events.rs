//! `GET /v1/plans/{id}/events`: a plan's timeline as Server-Sent Events. Replays the
//! timeline from the start (or after `Last-Event-ID` / `?after=`), then follows it live until
//! the plan is finished, then closes. Each event is one `plan_events` row: `id` its sequence
//! number, `event` its kind, `data` JSON. No database connection is held while a stream
//! waits: the process's `TimelineHub` says when to read again.

use std::{collections::VecDeque, convert::Infallible, time::Duration};

use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::api::{access, auth::caller::Caller};
use crate::{
    api::{
        error::{ApiError, ErrorBody},
        params::{PlanId, plan_id},
        state::AppState,
        timeline_hub::Watch,
    },
    graph::Progress,
    store::{
        states::{EventKind, PlanStatus},
        timeline::{self, Page, TimelineEvent},
    },
    travel::nodes::STEPS,
};

/// A comment line this often keeps proxies from closing an idle stream.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// A stream reads its plan's timeline at least this often, notified or not.
const RESYNC: Duration = Duration::from_secs(15);
/// Wait after a failed read (the database restarting) before reading again.
const RETRY_READ: Duration = Duration::from_secs(1);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Resume after this event id (ignored when `Last-Event-ID` is sent).
    #[param(value_type = Option<i64>, minimum = 0)]
    after: Option<String>,
}

/// One event of the stream as it arrives (the document's schema of `text/event-stream`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PlanEvent {
    /// The event's sequence number: `Last-Event-ID` and `after` resume after it.
    id: String,
    /// The event's kind.
    #[schema(value_type = EventKind)]
    event: String,
    /// An `EventData` object, as JSON text.
    #[schema(content_media_type = "application/json")]
    data: String,
}

/// One event's `data`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventData {
    pub id: i64,
    pub kind: EventKind,
    pub node: Option<String>,
    /// The plan's status just after the event, when the event alone tells it.
    pub status: Option<PlanStatus>,
    /// Progress through the graph after the event, 0–100.
    pub percent: u32,
    pub attempt: i32,
    pub at: String,
    /// The particulars: a retry's delay, the upstream waited for, the approval reason, an error.
    pub detail: Value,
}

#[utoipa::path(
    get, path = "/v1/plans/{id}/events", operation_id = "plan_events", tag = "plans",
    summary = "The plan's timeline as Server-Sent Events, live until the plan is finished",
    description = "Each event: `id` its sequence number, `event` its kind, `data` an `EventData` JSON \
        object. Replays from the start (or after `Last-Event-ID` / `after`), follows live, and closes \
        once the plan is finished. A `heartbeat` comment comes every 15 s.",
    params(
        PlanId,
        StreamQuery,
        ("Last-Event-ID" = Option<i64>, Header, minimum = 0,
            description = "Resume after this event id (an `EventSource` reconnecting sends it)"),
    ),
    responses(
        (status = 200, description = "The event stream; each event's `data` is an `EventData`",
            body = PlanEvent, content_type = "text/event-stream"),
        (status = 204, description = "The plan is finished and no event follows the one resumed from: nothing more will come (an `EventSource` stops reconnecting)"),
        (status = 400, description = "The id is not a UUID, or `after` / `Last-Event-ID` is not an event id", body = ErrorBody),
        (status = 404, description = "No such plan", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let plan = plan_id(&id)?;
    let after = resume_after(&headers, query.after.as_deref())?;
    access::visible(&state.pool, &caller, plan).await?;
    let watch = state.timeline.watch(plan);
    let first = timeline::after(&state.pool, plan, after)
        .await?
        .ok_or_else(|| ApiError::not_found("plan"))?;
    // Nothing will ever follow: `204` is what tells an `EventSource` to stop reconnecting.
    if first.is_last() && first.events.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let finished = if after > 0 {
        timeline::nodes_finished(&state.pool, plan, after).await?
    } else {
        Vec::new()
    };
    let mut live = Live {
        pool: state.pool.clone(),
        plan,
        last: after,
        finished,
        pending: VecDeque::new(),
        more: false,
        ended: false,
        watch,
        closing: state.timeline.closing(),
        _open: Open::counted(),
    };
    live.take(first);
    let events = live.into_stream();
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"))
        .into_response())
}

/// Where a stream resumes: `Last-Event-ID` (an `EventSource` reconnecting), else `?after=`,
/// else the start.
fn resume_after(headers: &HeaderMap, query: Option<&str>) -> Result<i64, ApiError> {
    // Both are checked even when both are sent: a bad `after` is refused, not ignored.
    let after = query.map(|raw| event_id("after", raw)).transpose()?.flatten();
    let header = match headers.get("last-event-id") {
        Some(value) => {
            let raw = value
                .to_str()
                .map_err(|_| ApiError::bad_request("Last-Event-ID", "Last-Event-ID must be an event id"))?;
            event_id("Last-Event-ID", raw)?
        }
        None => None,
    };
    Ok(header.or(after).unwrap_or(0))
}

/// An event id as a client sends it. A blank one is refused like any other non-number (an
/// `EventSource` with no id to resume from sends no header at all).
fn event_id(field: &str, raw: &str) -> Result<Option<i64>, ApiError> {
    let raw = raw.trim();
    match raw.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(Some(n)),
        _ => Err(ApiError::bad_request(
            field,
            format!("{field} must be an event id (a whole number from 0 to 2^63 − 1), not {raw:?}"),
        )),
    }
}

struct Live {
    pool: PgPool,
    plan: Uuid,
    /// The last event sent.
    last: i64,
    /// `node_finished` checkpoint keys so far, for the percentage.
    finished: Vec<String>,
    pending: VecDeque<TimelineEvent>,
    /// The last read filled its page: read again without waiting.
    more: bool,
    /// The plan is finished and every event is queued for sending.
    ended: bool,
    watch: Watch,
    closing: CancellationToken,
    _open: Open,
}

/// Counts the stream in `planner_live_streams` for as long as it lives, however it ends.
struct Open;

impl Open {
    fn counted() -> Self {
        crate::metrics::live_stream_opened();
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        crate::metrics::live_stream_closed();
    }
}

impl Live {
    fn take(&mut self, page: Page) {
        self.more = page.events.len() as i64 == timeline::PAGE;
        self.ended = page.is_last();
        self.pending.extend(page.events);
    }

    fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> {
        futures::stream::unfold(self, |mut live| async move {
            loop {
                if let Some(event) = live.pending.pop_front() {
                    let sse = live.sse(event);
                    return Some((Ok(sse), live));
                }
                if live.ended {
                    return None;
                }
                if !live.more {
                    live.wait().await;
                    if live.ended {
                        return None;
                    }
                }
                live.read().await;
            }
        })
    }

    async fn wait(&mut self) {
        let closing = self.closing.clone();
        tokio::select! {
            _ = closing.cancelled() => self.ended = true,
            // Cannot fail: this stream's `Watch` keeps its plan's sender in the hub.
            _ = self.watch.news.changed() => {}
            _ = tokio::time::sleep(RESYNC) => {}
        }
    }

    async fn read(&mut self) {
        self.watch.news.borrow_and_update();
        match timeline::after(&self.pool, self.plan, self.last).await {
            Ok(Some(page)) => self.take(page),
            // Deleted by retention while streamed: nothing more will come.
            Ok(None) => self.ended = true,
            Err(e) => {
                tracing::debug!(plan_id = %self.plan, error = %e, "live stream read failed; retrying");
                let closing = self.closing.clone();
                tokio::select! {
                    _ = closing.cancelled() => self.ended = true,
                    _ = tokio::time::sleep(RETRY_READ) => {}
                }
            }
        }
    }

    fn sse(&mut self, event: TimelineEvent) -> Event {
        self.last = event.id;
        if event.kind == EventKind::NodeFinished
            && let Some(key) = &event.node
        {
            self.finished.push(key.clone());
        }
        let finished = event.kind == EventKind::Succeeded;
        let percent = Progress::new(None, self.finished.clone(), STEPS, finished).percent;
        let data = EventData {
            id: event.id,
            kind: event.kind,
            node: event.node,
            status: event.kind.status_after(),
            percent,
            attempt: event.attempt,
            at: event.created_at.to_rfc3339(),
            detail: event.detail,
        };
        let sse = Event::default().id(event.id.to_string()).event(event.kind.as_str());
        match sse.clone().json_data(&data) {
            Ok(with_data) => with_data,
            Err(_) => sse.data("{}"),
        }
    }
}
