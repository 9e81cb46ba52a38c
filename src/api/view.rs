//! A plan as the API shows it: its row plus progress through the planning graph.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    graph::Progress,
    store::{plans::PlanRow, states::PlanStatus},
    travel::nodes::STEPS,
};

#[derive(Debug, Serialize)]
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
    pub approval: Option<Value>,
    pub progress: Progress,
    pub request: Value,
    pub warnings: Value,
    pub error: Option<Value>,
    pub result: Option<Value>,
    /// LLM tokens the plan took: prompt, completion, total, calls. `null` without an LLM.
    pub token_usage: Option<Value>,
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
    }
}

pub fn group_done(rows: Vec<(Uuid, String)>) -> HashMap<Uuid, Vec<String>> {
    let mut map: HashMap<Uuid, Vec<String>> = HashMap::new();
    for (id, node) in rows {
        map.entry(id).or_default().push(node);
    }
    map
}
