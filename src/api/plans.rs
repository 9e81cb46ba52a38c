//! The plan endpoints: submit, read, list, cancel, and the finished itinerary as Markdown.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::api::{access, auth::caller::Caller};
use crate::{
    api::{
        body::{self, JsonBody},
        callback,
        error::{ApiError, ErrorBody},
        params::{PlanId, plan_id},
        state::AppState,
        view::{PlanList, PlanView, export_view, group_done, plan_view, wait_view, webhook_view},
    },
    store::{
        approval::Decision,
        plan_reads::PlanRead,
        plans::{self, Action, CancelOutcome},
        states::PlanStatus,
        submissions::{Created, NewPlan},
    },
    travel::request::{self, RequestErrorCode, SubmitRequest},
};

#[utoipa::path(
    post, path = "/v1/plans", operation_id = "submit_plan", tag = "plans",
    summary = "Submit a trip request; the plan is queued",
    params(IdempotencyKey),
    request_body = SubmitRequest,
    responses(
        (status = 202, description = "Queued (or, with a repeated `Idempotency-Key`, the plan it made)", body = PlanView,
            headers(
                ("Location" = String, description = "`/v1/plans/{id}`"),
                ("idempotent-replayed" = String, description = "`true` when the `Idempotency-Key` had made this plan before"),
            )),
        (status = 400, description = "Malformed or out-of-range input, naming the field", body = ErrorBody),
        (status = 409, description = "The `Idempotency-Key` came back with another request", body = ErrorBody),
        (status = 413, description = "The body is over 64 KiB", body = ErrorBody),
        (status = 422, description = "No destination the planner has data for, or webhooks unavailable", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(input): JsonBody<SubmitRequest>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let Submitted { view, replayed } = enqueue(&state, &caller, &input, key.as_deref()).await?;
    let location = format!("/v1/plans/{}", view.id);
    let mut response = (StatusCode::ACCEPTED, Json(view)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// What a submission made: the plan as it is now, and whether the idempotency key had
/// made it before.
pub struct Submitted {
    pub view: PlanView,
    pub replayed: bool,
}

/// Validates a request and queues its plan: `POST /v1/plans` and every other route that
/// submits (the prototype's) go through here.
pub async fn enqueue(
    state: &AppState,
    caller: &Caller,
    input: &SubmitRequest,
    key: Option<&str>,
) -> Result<Submitted, ApiError> {
    let stored = serde_json::to_value(input).map_err(|e| ApiError::bad_request("body", e.to_string()))?;
    body::reject_nul(&stored)?;
    // Validate now, so that a request that can never be planned never reaches the queue.
    match request::resolve(input, chrono::Local::now().date_naive()) {
        Ok(_) => {}
        // Free text the rules cannot read is the LLM's to understand, when there is one: the
        // worker's understand node asks it, and fails the plan if it cannot either.
        Err(e) if e.code == RequestErrorCode::NotUnderstood && state.settings.live.llm_enabled() => {}
        Err(e) => return Err(e.into()),
    }
    let not_before = not_before(input.not_before.as_deref())?;
    if let Some(url) = input.callback_url.as_deref() {
        callback::check(&state.settings.webhook, url).await?;
    }
    let trace = serde_json::to_value(crate::telemetry::current_trace_context()).ok();
    let new = NewPlan {
        owner: &caller.name,
        idempotency_key: key,
        request: &stored,
        max_attempts: state.settings.plan_max_attempts,
        trace_context: trace.as_ref(),
        not_before,
    };
    let (created, wait) = state.submissions.submit(new).await?;
    let (plan, replayed) = match created {
        Created::New(plan) => {
            crate::metrics::plan_submitted();
            (plan, false)
        }
        Created::Existing(plan) => (plan, true),
        Created::KeyReused(_) => {
            return Err(ApiError::conflict(
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            )
            .field("Idempotency-Key"));
        }
    };
    tracing::info!(plan_id = %plan.id, status = %plan.status, replayed, "plan submitted");
    // A new plan has done nothing yet and its wait was counted with it; a replayed one is
    // read as it is now.
    let view = if replayed {
        let read = state
            .reads
            .read(plan.id)
            .await?
            .ok_or_else(|| ApiError::not_found("plan"))?;
        read_view(read)
    } else {
        read_view(PlanRead {
            plan,
            done: Vec::new(),
            wait,
            webhooks: Vec::new(),
            export: None,
        })
    };
    Ok(Submitted { view, replayed })
}

/// How far ahead a plan may be scheduled.
const LONGEST_SCHEDULE: chrono::TimeDelta = chrono::TimeDelta::days(366);

fn not_before(raw: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let at = DateTime::parse_from_rfc3339(raw.trim())
        .map_err(|_| {
            ApiError::bad_request(
                "not_before",
                format!("{raw:?} is not an RFC 3339 time, e.g. 2026-12-01T08:00:00+08:00"),
            )
        })?
        .with_timezone(&Utc);
    if at > Utc::now() + LONGEST_SCHEDULE {
        return Err(ApiError::bad_request(
            "not_before",
            "not_before may be at most 366 days ahead",
        ));
    }
    Ok(Some(at))
}

/// The `Idempotency-Key` request header, as documented.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyKey {
    /// 1–255 visible ASCII characters: a repeat with the same body answers the plan the first
    /// made.
    #[param(rename = "Idempotency-Key", min_length = 1, max_length = 255)]
    idempotency_key: Option<String>,
}

pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = raw
        .to_str()
        .map_err(|_| ApiError::bad_request("Idempotency-Key", "Idempotency-Key must be visible ASCII"))?
        .trim();
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::bad_request(
            "Idempotency-Key",
            "Idempotency-Key must be 1 to 255 characters",
        ));
    }
    Ok(Some(key.to_string()))
}

#[utoipa::path(
    get, path = "/v1/plans/{id}", operation_id = "get_plan", tag = "plans",
    summary = "A plan: status, progress, why it waits, webhook deliveries, result",
    params(PlanId),
    responses(
        (status = 200, description = "The plan", body = PlanView),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such plan", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = plan_id(&id)?;
    let read = state
        .reads
        .read(id)
        .await?
        .filter(|read| caller.may_see(&read.plan.owner))
        .ok_or_else(|| ApiError::not_found("plan"))?;
    Ok(Json(read_view(read)).into_response())
}

/// The plan with its progress, its webhook deliveries and, when it is queued, why it waits.
fn read_view(read: PlanRead) -> PlanView {
    let mut view = plan_view(read.plan, read.done);
    view.wait_reason = read.wait.as_ref().map(wait_view);
    view.webhooks = Some(read.webhooks.iter().map(webhook_view).collect());
    view.export = read.export.as_ref().map(export_view);
    view
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only plans in this status.
    #[param(value_type = Option<PlanStatus>)]
    status: Option<String>,
    /// Plans per page, 1–100 (20 by default).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/v1/plans", operation_id = "list_plans", tag = "plans",
    summary = "The caller's plans, newest first, a page at a time",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of plans", body = PlanList),
        (status = 400, description = "An unknown status, a limit out of range, a cursor this API did not return", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    // An empty `status=` or `limit=` is no status or number: refused, as the document says.
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(s.parse::<PlanStatus>().map_err(|_| {
            let all: Vec<&str> = PlanStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request("status", format!("unknown status {s:?}; one of {}", all.join(", ")))
        })?),
    };
    let limit = match q.limit.as_deref() {
        None => 20,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    "limit",
                    "limit must be a whole number from 1 to 100",
                ));
            }
        },
    };
    let after = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(
            decode_cursor(raw).ok_or_else(|| ApiError::bad_request("cursor", "cursor is not one this API returned"))?,
        ),
    };
    let rows = plans::list(&state.pool, caller.list_owner(), status, after, limit).await?;
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| encode_cursor(r.created_at, r.id)))
        .flatten();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut done = group_done(plans::done_nodes_of(&state.pool, &ids).await?);
    let plans: Vec<_> = rows
        .into_iter()
        .map(|r| {
            let d = done.remove(&r.id).unwrap_or_default();
            plan_view(r, d)
        })
        .collect();
    Ok(Json(PlanList { plans, next_cursor }).into_response())
}

fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}_{}", at.timestamp_micros(), id.simple())
}

fn decode_cursor(raw: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let (micros, id) = raw.split_once('_')?;
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        Uuid::parse_str(id).ok()?,
    ))
}

#[utoipa::path(
    post, path = "/v1/plans/{id}/cancel", operation_id = "cancel_plan", tag = "plans",
    summary = "Cancel a plan",
    params(PlanId),
    responses(
        (status = 200, description = "A queued or waiting plan, cancelled at once", body = PlanView),
        (status = 202, description = "A running plan: it stops at the next node boundary", body = PlanView),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such plan", body = ErrorBody),
        (status = 409, description = "The plan is already finished", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = plan_id(&id)?;
    access::visible(&state.pool, &caller, id).await?;
    let (status, plan) = match plans::cancel(&state.pool, id).await? {
        CancelOutcome::Cancelled(plan) => {
            crate::metrics::plan_finished(plan.status.as_str(), plan.age());
            (StatusCode::OK, plan)
        }
        CancelOutcome::Requested(plan) => (StatusCode::ACCEPTED, plan),
        CancelOutcome::AlreadyFinished(plan) => {
            return Err(ApiError::conflict(
                "already_finished",
                format!("the plan is already {}", plan.status),
            ));
        }
        CancelOutcome::NotFound => return Err(ApiError::not_found("plan")),
    };
    tracing::info!(plan_id = %id, status = %plan.status, "cancel requested");
    let done = plans::done_nodes(&state.pool, id).await?;
    Ok((status, Json(plan_view(plan, done))).into_response())
}

#[utoipa::path(
    get, path = "/v1/plans/{id}/itinerary.md", operation_id = "plan_itinerary_markdown", tag = "plans",
    summary = "The finished plan as Markdown",
    params(PlanId),
    responses(
        (status = 200, description = "The itinerary", body = String, content_type = "text/markdown"),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such plan", body = ErrorBody),
        (status = 409, description = "The plan has not succeeded", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn itinerary_markdown(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = plan_id(&id)?;
    access::visible(&state.pool, &caller, id).await?;
    let plan = plans::get(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("plan"))?;
    match plan.result_markdown {
        Some(md) if plan.status == PlanStatus::Succeeded => {
            Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], md).into_response())
        }
        _ => Err(ApiError::conflict(
            "not_finished",
            format!(
                "the plan is {}; its itinerary exists once it has succeeded",
                plan.status
            ),
        )),
    }
}

/// `approve` resumes a plan waiting in `awaiting_approval`; `reject` ends it `rejected`.
async fn decide(state: &AppState, caller: &Caller, id: &str, decision: Decision) -> Result<Response, ApiError> {
    let id = plan_id(id)?;
    access::visible(&state.pool, caller, id).await?;
    match plans::decide(&state.pool, id, decision, &caller.name).await? {
        Action::Done(plan) => {
            tracing::info!(plan_id = %id, status = %plan.status, "approval decided");
            if plan.status.is_terminal() {
                crate::metrics::plan_finished(plan.status.as_str(), plan.age());
            }
            let done = plans::done_nodes(&state.pool, id).await?;
            Ok(Json(plan_view(plan, done)).into_response())
        }
        Action::WrongState(plan) => Err(ApiError::conflict(
            "not_awaiting_approval",
            format!(
                "the plan is {}; only a plan awaiting approval can be approved or rejected",
                plan.status
            ),
        )),
        Action::NotFound => Err(ApiError::not_found("plan")),
    }
}

#[utoipa::path(
    post, path = "/v1/plans/{id}/approve", operation_id = "approve_plan", tag = "plans",
    summary = "Approve a plan awaiting approval: it resumes from its checkpoints",
    params(PlanId),
    responses(
        (status = 200, description = "The plan, queued again", body = PlanView),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such plan", body = ErrorBody),
        (status = 409, description = "The plan is not awaiting approval", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    decide(&state, &caller, &id, Decision::Approved).await
}

#[utoipa::path(
    post, path = "/v1/plans/{id}/reject", operation_id = "reject_plan", tag = "plans",
    summary = "Reject a plan awaiting approval: it ends `rejected`",
    params(PlanId),
    responses(
        (status = 200, description = "The plan, rejected", body = PlanView),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such plan", body = ErrorBody),
        (status = 409, description = "The plan is not awaiting approval", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    decide(&state, &caller, &id, Decision::Rejected).await
}

/// Runs a failed plan again from its checkpoints, with a fresh set of attempts.
#[utoipa::path(
    post, path = "/v1/plans/{id}/retry", operation_id = "retry_plan", tag = "plans",
    summary = "Run a failed plan again, from its checkpoints, with fresh attempts",
    params(PlanId),
    responses(
        (status = 202, description = "The plan, queued again", body = PlanView),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such plan", body = ErrorBody),
        (status = 409, description = "The plan has not failed", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = plan_id(&id)?;
    access::visible(&state.pool, &caller, id).await?;
    match plans::retry_failed(&state.pool, id).await? {
        Action::Done(plan) => {
            tracing::info!(plan_id = %id, status = %plan.status, "retry requested");
            let done = plans::done_nodes(&state.pool, id).await?;
            Ok((StatusCode::ACCEPTED, Json(plan_view(plan, done))).into_response())
        }
        Action::WrongState(plan) => Err(ApiError::conflict(
            "not_failed",
            format!("the plan is {}; only a failed plan can be retried", plan.status),
        )),
        Action::NotFound => Err(ApiError::not_found("plan")),
    }
}
