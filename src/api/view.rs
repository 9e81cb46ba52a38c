//! A plan as the API shows it: its row plus progress through the planning graph.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    graph::Progress,
    store::{
        exports::ExportStatus,
        plans::PlanRow,
        queue::WaitReason,
        states::{DeliveryState, ExportState, PlanStatus},
        webhooks::DeliveryStatus,
    },
    travel::nodes::STEPS,
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanView {
    pub id: Uuid,
    pub status: PlanStatus,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub updated_at: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub next_attempt_at: Option<String>,
    pub cancel_requested: bool,
    /// Why the plan waits for approval, and the decision once made; `null` when it never waited.
    pub approval: Option<Value>,
    pub progress: Progress,
    /// The request as it was submitted.
    pub request: Value,
    /// What the plan could not honour, in the plan's language.
    pub warnings: Value,
    /// Why the plan failed: `{"code", "message", …}`.
    pub error: Option<Value>,
    /// The finished itinerary (`succeeded` plans).
    pub result: Option<Value>,
    /// LLM tokens the plan took: prompt, completion, total, calls. `null` without an LLM.
    pub token_usage: Option<Value>,
    /// Why a queued plan is not running yet (`GET /v1/plans/{id}`); `null` otherwise.
    pub wait_reason: Option<WaitView>,
    /// The deliveries to the request's `callback_url`, oldest first (`GET /v1/plans/{id}`
    /// and the submit's answer; left out elsewhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<Vec<WebhookView>>,
    /// The copy of a succeeded plan to the results store (`GET /v1/plans/{id}`; absent when
    /// no worker with a store finished it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportView>,
}

/// A succeeded plan's copy to the results store (`RESULTS_STORE`): `pending` (retried after
/// a backoff while the store fails, `last_error` saying why) until `exported`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExportView {
    pub state: ExportState,
    /// Tries so far.
    pub attempts: i32,
    pub last_error: Option<String>,
    /// The next try of a pending export.
    pub next_attempt_at: Option<String>,
    /// The JSON object's URL once written (`file:///…/{id}.json`, `s3://bucket/prefix/{id}.json`;
    /// the Markdown is beside it, `.md`).
    pub location: Option<String>,
    pub exported_at: Option<String>,
}

pub fn export_view(e: &ExportStatus) -> ExportView {
    ExportView {
        state: e.state,
        attempts: e.attempts,
        last_error: e.last_error.clone(),
        next_attempt_at: e.next_attempt_at.map(|t| t.to_rfc3339()),
        location: e.location.clone(),
        exported_at: e.exported_at.map(|t| t.to_rfc3339()),
    }
}

/// One webhook delivery: one status change sent to the callback URL.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    /// The receiver's idempotency key (`X-Planner-Delivery`), the same on every try.
    pub delivery_id: Uuid,
    /// The status the plan reached.
    pub event: PlanStatus,
    pub state: DeliveryState,
    /// Tries so far.
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    /// The next try of a pending delivery.
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

/// `GET /v1/plans`: a page of plans, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanList {
    pub plans: Vec<PlanView>,
    /// The `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

pub fn webhook_view(d: &DeliveryStatus) -> WebhookView {
    WebhookView {
        delivery_id: d.id,
        event: d.event,
        state: d.state,
        attempts: d.attempts,
        last_status_code: d.last_status_code,
        last_error: d.last_error.clone(),
        next_attempt_at: d.next_attempt_at.map(|t| t.to_rfc3339()),
        created_at: d.created_at.to_rfc3339(),
        delivered_at: d.delivered_at.map(|t| t.to_rfc3339()),
    }
}

/// A `WaitReason` as clients read it: `reason` is its code, the rest its particulars.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WaitView {
    pub reason: String,
    /// When a delayed plan is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// `queued`: plans due before this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ahead: Option<i64>,
    /// `owner_quota`: the owner's plans running, and the cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap: Option<u32>,
}

pub fn wait_view(reason: &WaitReason) -> WaitView {
    let mut view = WaitView {
        reason: reason.code(),
        until: None,
        ahead: None,
        running: None,
        cap: None,
    };
    match reason {
        WaitReason::Queued { ahead } => view.ahead = Some(*ahead),
        WaitReason::OwnerQuota { running, cap } => {
            view.running = Some(*running);
            view.cap = Some(*cap);
        }
        WaitReason::Delayed { until, .. } => view.until = Some(until.to_rfc3339()),
    }
    view
}

pub fn plan_view(row: PlanRow, done: Vec<String>) -> PlanView {
    let finished = row.status == PlanStatus::Succeeded;
    PlanView {
        id: row.id,
        status: row.status,
        created_at: row.created_at.to_rfc3339(),
        started_at: row.started_at.map(|t| t.to_rfc3339()),
        finished_at: row.finished_at.map(|t| t.to_rfc3339()),
        updated_at: row.updated_at.to_rfc3339(),
        attempts: row.attempts,
        max_attempts: row.max_attempts,
        next_attempt_at: row.next_attempt_at.map(|t| t.to_rfc3339()),
        cancel_requested: row.cancel_requested,
        approval: row.approval,
        progress: Progress::new(row.current_node, done, STEPS, finished),
        request: row.request,
        warnings: row.warnings,
        error: row.error,
        result: row.result,
        token_usage: row.token_usage,
        wait_reason: None,
        webhooks: None,
        export: None,
    }
}

pub fn group_done(rows: Vec<(Uuid, String)>) -> HashMap<Uuid, Vec<String>> {
    let mut map: HashMap<Uuid, Vec<String>> = HashMap::new();
    for (id, node) in rows {
        map.entry(id).or_default().push(node);
    }
    map
}
