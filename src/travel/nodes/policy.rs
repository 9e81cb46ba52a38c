//! The planner's policies, from the settings: when a plan waits for a person instead of
//! failing or going on.

/// Revisions after the first draft before the plan fails instead of being delivered broken.
pub const MAX_REVISIONS: u32 = 2;

/// The planner's policies, from the settings.
#[derive(Debug, Clone)]
pub struct PlannerPolicy {
    /// Over budget by at most this share: ask for approval rather than fail.
    pub approval_over_budget: f64,
    /// Built on degraded data: ask for approval.
    pub approval_on_degraded: bool,
}
