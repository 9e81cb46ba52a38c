//! How one attempt of a plan ended: the `outcome` label of
//! `planner_graph_run_duration_seconds`, and what it means for the plan.

use crate::store::states::PlanStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// A permanent failure: the plan failed with the reason.
    Failed,
    /// Cancelled at a node boundary.
    Cancelled,
    /// Another run owns the plan now: this attempt's outcome is dropped.
    Lost,
    /// The worker shut down; the plan went back to the queue, attempt returned.
    HandedBack,
    /// An upstream's breaker is open; the plan waits for it, attempt returned.
    Waiting,
    /// The plan waits for a person, attempt returned.
    AwaitingApproval,
    /// A node failed in a way worth another attempt: the attempt is spent.
    Transient,
    /// The whole run took longer than `PLAN_TIMEOUT_SECS`: the attempt is spent.
    TimedOut,
    /// A checkpoint could not be written: the attempt is spent.
    StoreError,
    /// The attempt's own writes failed on the database; the queue retries the job.
    Aborted,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
            Outcome::Lost => "lost",
            Outcome::HandedBack => "handed_back",
            Outcome::Waiting => "waiting",
            Outcome::AwaitingApproval => "awaiting_approval",
            Outcome::Transient => "transient",
            Outcome::TimedOut => "timeout",
            Outcome::StoreError => "store_error",
            Outcome::Aborted => "error",
        }
    }

    /// A failure that spends the attempt and is retried, while attempts are left.
    pub fn spends_attempt(self) -> bool {
        matches!(self, Outcome::Transient | Outcome::TimedOut | Outcome::StoreError)
    }

    /// The terminal status the attempt set, if it set one; `last_attempt` says whether no
    /// attempt is left after this one.
    pub fn terminal_status(self, last_attempt: bool) -> Option<PlanStatus> {
        match self {
            Outcome::Succeeded => Some(PlanStatus::Succeeded),
            Outcome::Failed => Some(PlanStatus::Failed),
            Outcome::Cancelled => Some(PlanStatus::Cancelled),
            o if o.spends_attempt() && last_attempt => Some(PlanStatus::Failed),
            _ => None,
        }
    }
}
