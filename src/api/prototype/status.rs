//! A plan as the prototype's clients read a task: its four statuses, a 0–100 progress, the
//! node running now (`current_agent`), a message in the request's language and, once it is
//! done, the plan's result.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    api::view::plan_view,
    store::{plans::PlanRow, states::PlanStatus},
    travel::{
        language::Language,
        request::{self, SubmitRequest},
    },
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Started,
    Processing,
    Completed,
    Failed,
}

impl TaskStatus {
    /// A plan queued again for a retry is still being processed; only a first wait is `started`.
    pub fn of(plan: &PlanRow) -> Self {
        match plan.status {
            PlanStatus::Queued if plan.runs == 0 => TaskStatus::Started,
            PlanStatus::Queued | PlanStatus::Running | PlanStatus::AwaitingApproval => TaskStatus::Processing,
            PlanStatus::Succeeded => TaskStatus::Completed,
            PlanStatus::Failed | PlanStatus::Cancelled | PlanStatus::Rejected => TaskStatus::Failed,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskView {
    pub task_id: Uuid,
    pub status: TaskStatus,
    pub progress: u32,
    pub current_agent: Option<String>,
    pub message: String,
    pub result: Option<Value>,
}

pub fn task_view(plan: PlanRow, done: Vec<String>) -> TaskView {
    let status = TaskStatus::of(&plan);
    let language = language_of(&plan.request);
    let message = message(&plan, language);
    let current_agent = match plan.status {
        PlanStatus::Running | PlanStatus::AwaitingApproval => plan.current_node.clone(),
        _ => None,
    };
    let view = plan_view(plan, done);
    TaskView {
        task_id: view.id,
        status,
        progress: view.progress.percent,
        current_agent,
        message,
        result: (status == TaskStatus::Completed).then_some(view.result).flatten(),
    }
}

/// The answer to `POST /plan`, naming what is kept but cannot be planned for.
pub fn submitted_message(input: &SubmitRequest) -> String {
    let english = request::language(input).unwrap_or_default().is_english();
    let names: Vec<&str> = input
        .unhonoured
        .iter()
        .flat_map(|m| m.keys())
        .map(String::as_str)
        .collect();
    match (names.is_empty(), english) {
        (true, false) => "旅行规划任务已创建".into(),
        (true, true) => "travel plan task created".into(),
        (false, false) => format!(
            "旅行规划任务已创建；以下偏好已保存，但行程中无法体现：{}",
            names.join("、")
        ),
        (false, true) => format!(
            "travel plan task created; kept but not planned for: {}",
            names.join(", ")
        ),
    }
}

/// The language the plan is written in; Chinese, the prototype's, when the request says none.
fn language_of(stored: &Value) -> Language {
    serde_json::from_value::<SubmitRequest>(stored.clone())
        .ok()
        .and_then(|r| request::language(&r).ok())
        .unwrap_or_default()
}

fn message(plan: &PlanRow, language: Language) -> String {
    let pick = |zh: String, en: String| if language.is_english() { en } else { zh };
    let node = plan.current_node.as_deref().unwrap_or("-");
    let reason = plan
        .error
        .as_ref()
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("");
    match plan.status {
        PlanStatus::Queued if plan.runs == 0 => pick(
            "任务已提交，正在排队等待规划".into(),
            "submitted; waiting in the queue to be planned".into(),
        ),
        PlanStatus::Queued if reason.is_empty() => {
            pick("正在排队，稍后继续规划".into(), "queued to continue planning".into())
        }
        PlanStatus::Queued => pick(
            format!("上次尝试未完成（{reason}），稍后重试"),
            format!("the last attempt did not finish ({reason}); it will be tried again"),
        ),
        PlanStatus::Running => pick(format!("正在规划：{node}"), format!("planning: {node}")),
        PlanStatus::AwaitingApproval => pick(
            format!(
                "计划等待人工审批：POST /v1/plans/{0}/approve 或 /v1/plans/{0}/reject",
                plan.id
            ),
            format!(
                "the plan awaits approval: POST /v1/plans/{0}/approve or /v1/plans/{0}/reject",
                plan.id
            ),
        ),
        PlanStatus::Succeeded => completed(plan, language),
        PlanStatus::Failed => pick(format!("规划失败：{reason}"), format!("planning failed: {reason}")),
        PlanStatus::Cancelled => pick("任务已取消".into(), "the task was cancelled".into()),
        PlanStatus::Rejected => pick("计划在审批时被拒绝".into(), "the plan was rejected at approval".into()),
    }
}

/// Done, naming what the planner could not honour (the plan's warnings say it in full).
fn completed(plan: &PlanRow, language: Language) -> String {
    let unhonoured: Vec<&str> = plan
        .request
        .get("unhonoured")
        .and_then(Value::as_object)
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    match (unhonoured.is_empty(), language.is_english()) {
        (true, false) => "规划完成".into(),
        (true, true) => "the plan is ready".into(),
        (false, false) => format!(
            "规划完成；未能体现的偏好：{}（见行程的 warnings）",
            unhonoured.join("、")
        ),
        (false, true) => format!(
            "the plan is ready; not planned for: {} (see the plan's warnings)",
            unhonoured.join(", ")
        ),
    }
}
