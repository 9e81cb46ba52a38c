//! The Python prototype's requests, mapped onto the v1 request: its `TravelRequest` form
//! (`travel_request`) and its chat message read by the rules (`chat`). What the planner
//! cannot honour is kept on the request (`unhonoured`), never dropped.

pub mod budget_range;
pub mod chat;
pub mod travel_request;

use crate::travel::request::InvalidRequest;

/// The prototype's name for a v1 request field, so that an error names what its client sent.
pub fn field_name(v1: &str) -> &str {
    match v1 {
        "days" => "end_date",
        "travelers" => "group_size",
        "budget" | "budget.amount" => "budget_range",
        "budget.currency" => "currency",
        "pace" => "activity_level",
        other => other,
    }
}

/// A v1 validation error renamed for the prototype's client.
pub fn renamed(mut e: InvalidRequest) -> InvalidRequest {
    e.field = field_name(&e.field).to_string();
    e
}
