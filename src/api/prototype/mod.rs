//! The Python prototype's routes, so that its Streamlit page and scripts keep working:
//! `POST /plan`, `GET /status/{task_id}`, `GET /download/{task_id}`, `GET /tasks` and
//! `POST /chat`. A task is a plan (`task_id` is its id), submitted through the same
//! validation and store function as `POST /v1/plans`; the mapping of the prototype's
//! fields is the travel layer's (`travel::prototype`).

pub mod chat;
mod status;

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    api::{
        auth::caller::Caller,
        body::{self, JsonBody},
        error::{ApiError, ErrorBody},
        plans::{IdempotencyKey, Submitted, enqueue, idempotency_key},
        state::AppState,
    },
    store::{plans, states::PlanStatus},
    travel::prototype::travel_request::{self, TravelRequest},
};

pub use chat::chat;
use status::task_view;
pub use status::{TaskStatus, TaskView};

/// How many tasks `GET /tasks` lists, newest first.
const TASKS_LISTED: i64 = 100;

/// `POST /plan`'s answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskAccepted {
    pub task_id: Uuid,
    /// Always `started`.
    pub status: TaskStatus,
    /// In the request's language, naming what is kept but not planned for.
    pub message: String,
}

#[utoipa::path(
    post, path = "/plan", operation_id = "prototype_plan", tag = "prototype",
    summary = "Submit the prototype's TravelRequest; the task is a plan",
    params(IdempotencyKey),
    request_body = TravelRequest,
    responses(
        (status = 200, description = "Queued", body = TaskAccepted),
        (status = 400, description = "Malformed or out-of-range input, naming the prototype's field", body = ErrorBody),
        (status = 409, description = "The `Idempotency-Key` came back with another request", body = ErrorBody),
        (status = 413, description = "The body is over 64 KiB", body = ErrorBody),
        (status = 422, description = "A destination the planner has no data for", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn plan(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(form): JsonBody<TravelRequest>,
) -> Result<Response, ApiError> {
    let sent = serde_json::to_value(&form).map_err(|e| ApiError::bad_request("body", e.to_string()))?;
    body::reject_nul(&sent)?;
    let input = travel_request::to_submit(&form, chrono::Local::now().date_naive())?;
    let key = idempotency_key(&headers)?;
    let Submitted { view, .. } = enqueue(&state, &caller, &input, key.as_deref()).await?;
    let message = status::submitted_message(&input);
    Ok(Json(TaskAccepted {
        task_id: view.id,
        status: TaskStatus::Started,
        message,
    })
    .into_response())
}

fn task_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::bad_request("task_id", format!("{raw:?} is not a task id (a UUID)")))
}

/// The `{task_id}` path parameter, as documented.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct TaskId {
    /// The task's id: its plan's id.
    task_id: Uuid,
}

#[utoipa::path(
    get, path = "/status/{task_id}", operation_id = "prototype_status", tag = "prototype",
    summary = "A task's status, progress and, once completed, its result",
    params(TaskId),
    responses(
        (status = 200, description = "The task", body = TaskView),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = task_id(&id)?;
    let read = state
        .reads
        .read(id)
        .await?
        .filter(|read| caller.may_see(&read.plan.owner))
        .ok_or_else(|| ApiError::not_found("task").field("task_id"))?;
    Ok(Json(task_view(read.plan, read.done)).into_response())
}

/// The finished plan as a JSON file.
#[utoipa::path(
    get, path = "/download/{task_id}", operation_id = "prototype_download", tag = "prototype",
    summary = "The completed task's plan as a JSON file (`Content-Disposition: attachment`)",
    params(TaskId),
    responses(
        (status = 200, description = "The plan's result", body = Object,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"travel_plan_<id>.json\"`"))),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "The plan has not succeeded", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = task_id(&id)?;
    let plan = plans::get(&state.pool, id)
        .await?
        .filter(|plan| caller.may_see(&plan.owner))
        .ok_or_else(|| ApiError::not_found("task").field("task_id"))?;
    let result = match plan.result {
        Some(result) if plan.status == PlanStatus::Succeeded => result,
        _ => {
            return Err(ApiError::conflict(
                "not_finished",
                format!(
                    "the plan is {}; it can be downloaded once it has succeeded",
                    plan.status
                ),
            )
            .field("task_id"));
        }
    };
    let text = serde_json::to_string_pretty(&result).unwrap_or_else(|_| result.to_string());
    let disposition = format!("attachment; filename=\"travel_plan_{id}.json\"");
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskSummary {
    task_id: Uuid,
    status: TaskStatus,
    created_at: String,
    destination: Option<String>,
}

/// `GET /tasks`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskList {
    pub tasks: Vec<TaskSummary>,
}

/// The caller's tasks, newest first.
#[utoipa::path(
    get, path = "/tasks", operation_id = "prototype_tasks", tag = "prototype",
    summary = "The caller's latest 100 tasks, newest first",
    responses(
        (status = 200, description = "The tasks", body = TaskList),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn tasks(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let rows = plans::list(&state.pool, caller.list_owner(), None, None, TASKS_LISTED).await?;
    let tasks: Vec<TaskSummary> = rows
        .iter()
        .map(|plan| TaskSummary {
            task_id: plan.id,
            status: TaskStatus::of(plan),
            created_at: plan.created_at.to_rfc3339(),
            destination: destination(&plan.request, plan.result.as_ref()),
        })
        .collect();
    Ok(Json(TaskList { tasks }).into_response())
}

/// The destination the request names, else the one the finished plan went to.
fn destination(request: &Value, result: Option<&Value>) -> Option<String> {
    [Some(request), result]
        .into_iter()
        .flatten()
        .find_map(|v| v.get("destination").and_then(Value::as_str))
        .map(str::to_string)
}
