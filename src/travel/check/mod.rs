//! The deterministic checker: everything a delivered plan must satisfy, verified from the
//! plan itself and the candidates it was drafted from, independently of how it was drafted.
//! One function per hard rule, each returning the violations it finds; `walk` reads each
//! day's items once (their times, the candidate each names, where the traveller comes from)
//! for the rules that need it.

mod costs;
mod lodging;
mod meals;
mod places;
mod subject;
mod timing;
mod travel;
mod trip;
mod violation;
mod walk;

use crate::travel::{candidates::Candidates, itinerary::Itinerary, request::TripRequest};

use subject::Subject;
pub use violation::{Violation, ViolationCode};

type Rule = fn(&Subject) -> Vec<Violation>;

/// Rules about the trip as a whole, reported first.
const TRIP_RULES: [Rule; 3] = [trip::day_count, trip::date_range, trip::party];

/// Rules about the days, reported day by day.
const DAY_RULES: [Rule; 15] = [
    trip::day_dates,
    timing::clock_times,
    timing::items_fit_the_day,
    timing::every_minute_accounted,
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
