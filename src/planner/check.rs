//! The deterministic checker: everything a delivered plan must satisfy, verified from the
//! plan itself and the candidates it was drafted from, independently of how it was drafted.

use std::collections::HashSet;

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::planner::{
    catalog::{Place, parse_clock},
    compose::Candidates,
    currency, geo,
    itinerary::{ItemKind, Itinerary},
    request::TripRequest,
    rules,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub code: String,
    /// 1-based day number, when the violation belongs to one day.
    pub day: Option<usize>,
    pub message: String,
}

const TOLERANCE: f64 = 0.011;

pub fn check(plan: &Itinerary, request: &TripRequest, candidates: &Candidates) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut v = |code: &str, day: Option<usize>, message: String| {
        out.push(Violation {
            code: code.into(),
            day,
            message,
        })
    };
    let by_id = candidates.by_id();

    if plan.days.len() != request.days as usize {
        v(
            "days",
            None,
            format!("plan has {} days, request asks for {}", plan.days.len(), request.days),
        );
    }
    if plan.start_date != request.start_date.to_string() || plan.end_date != request.end_date().to_string() {
        v(
            "dates",
            None,
            format!(
                "plan runs {}..{}, request {}..{}",
                plan.start_date,
                plan.end_date,
                request.start_date,
                request.end_date()
            ),
        );
    }
    if plan.travelers != request.travelers || plan.currency != request.currency {
        v("party", None, "travelers or currency differ from the request".into());
    }

    let rooms = request.travelers.div_ceil(2) as f64;
    let mut attractions_seen: HashSet<&str> = HashSet::new();
    for (index, day) in plan.days.iter().enumerate() {
        let n = Some(index + 1);
        let expected = request.start_date + Duration::days(index as i64);
        if day.date != expected.to_string() {
            v(
                "dates",
                n,
                format!("day {} is dated {}, expected {expected}", index + 1, day.date),
            );
        }
        let window = rules::day_window(index as u32, request.days);
        let mut today_meals: HashSet<&str> = HashSet::new();
        let (mut lunch, mut dinner) = (false, false);
        let mut prev_end = window.start;
        let mut prev_place: Option<&Place> = None;
        let mut pending_transfer: Option<(u32, geo::Mode)> = None;
        for item in &day.items {
            let (Ok(start), Ok(end)) = (parse_clock(&item.start), parse_clock(&item.end)) else {
                v(
                    "time",
                    n,
                    format!("{}: times {}–{} are not HH:MM", item.name, item.start, item.end),
                );
                continue;
            };
            if end < start || start < prev_end || end > window.end || start < window.start {
                v(
                    "time_window",
                    n,
                    format!(
                        "{} {}–{} overlaps the previous item or leaves the day's window",
                        item.name, item.start, item.end
                    ),
                );
            }
            if item.cost < 0.0 {
                v("cost", n, format!("{} has a negative cost", item.name));
            }
            match item.kind {
                ItemKind::Transfer => {
                    pending_transfer = Some((end - start.min(end), item.mode.unwrap_or(geo::Mode::Taxi)));
                    prev_end = end;
                    continue;
                }
                ItemKind::Free => {
                    prev_place = None;
                    pending_transfer = None;
                    prev_end = end;
                    continue;
                }
                ItemKind::Attraction | ItemKind::Meal => {}
            }
            let Some(place) = item.place_id.as_deref().and_then(|id| by_id.get(id)) else {
                v(
                    "unknown_place",
                    n,
                    format!("{} ({:?}) is not among the candidates", item.name, item.place_id),
                );
                prev_place = None;
                prev_end = end;
                continue;
            };
            if place.name != item.name {
                v(
                    "unknown_place",
                    n,
                    format!("{} does not match candidate {}", item.name, place.name),
                );
            }
            if start < place.opens || end > place.closes {
                v(
                    "opening_hours",
                    n,
                    format!(
                        "{} {}–{} is outside its opening hours",
                        place.name, item.start, item.end
                    ),
                );
            }
            if end - start.min(end) < place.minutes {
                v(
                    "duration",
                    n,
                    format!(
                        "{} gets {} minutes, needs {}",
                        place.name,
                        end - start.min(end),
                        place.minutes
                    ),
                );
            }
            let unit_cost = currency::from_cny(place.price * request.travelers as f64, &request.currency);
            if (item.cost - unit_cost).abs() > TOLERANCE {
                v(
                    "cost",
                    n,
                    format!(
                        "{} costs {} but its price for the party is {unit_cost}",
                        place.name, item.cost
                    ),
                );
            }
            if let Some(from) = prev_place {
                let km = candidates.roads.km(from, place);
                match pending_transfer {
                    Some((minutes, mode)) => {
                        let need = candidates.roads.leg(from, place, mode, request.travelers).minutes;
                        if minutes < need {
                            v(
                                "travel",
                                n,
                                format!("transfer to {} takes {minutes} minutes, needs {need}", place.name),
                            );
                        }
                    }
                    None => {
                        if km > geo::WALK_MAX_KM {
                            v(
                                "travel",
                                n,
                                format!("{} is {km:.1} km from {} with no transfer", place.name, from.name),
                            );
                        }
                        let need = candidates
                            .roads
                            .leg(from, place, geo::Mode::Walk, request.travelers)
                            .minutes;
                        if item.travel_minutes < need || start < prev_end + item.travel_minutes {
                            v(
                                "travel",
                                n,
                                format!(
                                    "{} leaves {} minutes to walk from {}, needs {need}",
                                    place.name,
                                    start.saturating_sub(prev_end),
                                    from.name
                                ),
                            );
                        }
                    }
                }
            }
            match item.kind {
                ItemKind::Attraction => {
                    if place.kind != crate::planner::catalog::PlaceKind::Attraction
                        || !attractions_seen.insert(&place.id)
                    {
                        v(
                            "repeat",
                            n,
                            format!("{} is visited twice or is not an attraction", place.name),
                        );
                    }
                }
                _ => {
                    if place.kind != crate::planner::catalog::PlaceKind::Restaurant {
                        v("meal", n, format!("{} is not a restaurant", place.name));
                    }
                    if !today_meals.insert(&place.id) {
                        v("repeat", n, format!("{} is eaten at twice in one day", place.name));
                    }
                    if (rules::LUNCH.earliest..=rules::LUNCH.latest).contains(&start) {
                        lunch = true;
                    }
                    if (rules::DINNER.earliest..=rules::DINNER.latest).contains(&start) {
                        dinner = true;
                    }
                }
            }
            prev_place = Some(place);
            prev_end = end;
            pending_transfer = None;
        }
        if !lunch {
            v("meals", n, format!("day {} has no lunch", index + 1));
        }
        if window.needs_dinner() && !dinner {
            v("meals", n, format!("day {} has no dinner", index + 1));
        }

        let last = index + 1 == plan.days.len();
        match (&day.lodging, last) {
            (Some(_), true) => v("lodging", n, "the last day has lodging".into()),
            (None, false) => v("lodging", n, format!("night {} has no lodging", index + 1)),
            (Some(l), false) => match by_id.get(l.place_id.as_str()) {
                Some(h) if h.kind == crate::planner::catalog::PlaceKind::Hotel => {
                    let cost = currency::from_cny(h.price * rooms, &request.currency);
                    if (l.cost - cost).abs() > TOLERANCE {
                        v(
                            "cost",
                            n,
                            format!("{} costs {} but {rooms} room(s) cost {cost}", h.name, l.cost),
                        );
                    }
                }
                _ => v("lodging", n, format!("{} is not a candidate hotel", l.name)),
            },
            (None, true) => {}
        }
        let day_sum = day.items.iter().map(|i| i.cost).sum::<f64>() + day.lodging.as_ref().map_or(0.0, |l| l.cost);
        if (day.cost - day_sum).abs() > TOLERANCE * (day.items.len() + 1) as f64 {
            v(
                "cost",
                n,
                format!("day cost {} is not the sum of its items {day_sum:.2}", day.cost),
            );
        }
    }

    let costs = rules::costs(&plan.days);
    let slack = TOLERANCE * 4.0;
    if (costs.total - plan.costs.total).abs() > slack
        || (costs.food - plan.costs.food).abs() > slack
        || (costs.lodging - plan.costs.lodging).abs() > slack
        || (costs.tickets - plan.costs.tickets).abs() > slack
        || (costs.transport - plan.costs.transport).abs() > slack
    {
        v(
            "cost",
            None,
            format!("totals {:?} do not add up to the items {:?}", plan.costs, costs),
        );
    }
    if let Some(budget) = request.budget
        && plan.costs.total > budget + TOLERANCE
    {
        v(
            "budget",
            None,
            format!(
                "total {:.2} {} is over the budget of {budget}",
                plan.costs.total, request.currency
            ),
        );
    }
    out
}
