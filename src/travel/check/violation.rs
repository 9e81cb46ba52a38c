//! What the checker reports: which rule a plan breaks, on which day, and why in words the
//! LLM (in a repair round) and a person can act on.

use serde::{Deserialize, Serialize};

/// Which hard rule a plan breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationCode {
    /// The number of days differs from the request.
    Days,
    /// The trip or a day is dated wrong.
    Dates,
    /// Travellers or currency differ from the request.
    Party,
    /// A time is not HH:MM.
    Time,
    /// An item overlaps the previous one or leaves the day's window.
    TimeWindow,
    /// A cost is negative, not the party's price, or a sum does not add up.
    Cost,
    /// An item names a place that is not a candidate.
    UnknownPlace,
    OpeningHours,
    /// A visit is shorter than the place needs.
    Duration,
    /// Time in a day that no item, transfer or free time accounts for.
    Gap,
    /// A leg leaves too little time, or is too long to walk.
    Travel,
    /// An attraction twice in the trip, or a restaurant twice in a day.
    Repeat,
    /// A meal at a place that is not a restaurant.
    Meal,
    /// A day without lunch, or without dinner when it lasts into the evening.
    Meals,
    /// A night without a candidate hotel, or lodging on the last day.
    Lodging,
    Budget,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub code: ViolationCode,
    /// 1-based day number, when the violation belongs to one day.
    pub day: Option<usize>,
    pub message: String,
}

impl Violation {
    pub fn new(code: ViolationCode, day: Option<usize>, message: String) -> Self {
        Self { code, day, message }
    }
}

/// Costs may differ from ours by rounding, no more.
pub const TOLERANCE: f64 = 0.011;
