//! The deterministic checker: everything a delivered plan must satisfy, verified from the
//! plan itself and the candidates it was drafted from, independently of how it was drafted.
//! One function per hard rule, each returning the violations it finds; `walk` reads each
//! day's items once (their times, the candidate each names, where the traveller comes from)
//! for the rules that need it.

mod costs;
mod lodging;
mod meals;
mod places;
mod timing;
mod travel;
mod trip;
mod walk;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{
    domain::Place,
    travel::{candidates::Candidates, itinerary::Itinerary, request::TripRequest},
};

use walk::DayWalk;

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
    fn new(code: ViolationCode, day: Option<usize>, message: String) -> Self {
        Self { code, day, message }
    }
}

/// Costs may differ from ours by rounding, no more.
const TOLERANCE: f64 = 0.011;

/// What the rules look at: the plan, the request, the candidates by id, and each day read.
struct Subject<'a> {
    plan: &'a Itinerary,
    request: &'a TripRequest,
    candidates: &'a Candidates<'a>,
    by_id: HashMap<&'a str, &'a Place>,
    days: Vec<DayWalk<'a>>,
}

type Rule = fn(&Subject) -> Vec<Violation>;

/// Rules about the trip as a whole, reported first.
const TRIP_RULES: [Rule; 3] = [trip::day_count, trip::date_range, trip::party];

/// Rules about the days, reported day by day.
const DAY_RULES: [Rule; 14] = [
    trip::day_dates,
    timing::clock_times,
    timing::items_fit_the_day,
    costs::no_negative_costs,
    places::places_are_candidates,
    timing::places_are_open,
    timing::visits_are_long_enough,
    costs::items_cost_the_party_price,
    travel::legs_leave_time_to_travel,
    places::attractions_once,
    places::meals_at_restaurants,
    meals::lunch_and_dinner,
    lodging::nights_have_lodging,
    costs::day_costs_add_up,
];

/// Rules about the totals, reported last.
const TOTAL_RULES: [Rule; 2] = [costs::totals_add_up, costs::within_budget];

pub fn check(plan: &Itinerary, request: &TripRequest, candidates: &Candidates) -> Vec<Violation> {
    let by_id = candidates.by_id();
    let days = walk::days(plan, request, &by_id);
    let subject = Subject {
        plan,
        request,
        candidates,
        by_id,
        days,
    };
    let found = |rules: &[Rule]| -> Vec<Violation> { rules.iter().flat_map(|rule| rule(&subject)).collect() };
    let mut by_day = found(&DAY_RULES);
    by_day.sort_by_key(|v| v.day);
    let mut out = found(&TRIP_RULES);
    out.extend(by_day);
    out.extend(found(&TOTAL_RULES));
    out
}
