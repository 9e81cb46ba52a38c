//! A draft chosen by someone else — the LLM — made into a full itinerary: which hotel, and
//! per day which places in which order. Only candidates may appear; everything else (times,
//! transfers, costs, lodging, tips) is computed here, exactly as the composer does, and
//! the checker then judges the result like any other draft.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{
    domain::{DayWeather, Place, PlaceKind},
    travel::{
        candidates::Candidates,
        compose::{self, Stop},
        itinerary::Itinerary,
        request::TripRequest,
        rules,
    },
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// A candidate hotel's id; `null` only for a one-day trip.
    pub hotel_id: Option<String>,
    /// "taxi" or "metro" for legs too long to walk.
    pub transport: String,
    pub days: Vec<DaySelection>,
    #[serde(default)]
    pub tips: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaySelection {
    pub date: String,
    pub stops: Vec<SelectedStop>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectedStop {
    pub place_id: String,
    /// "lunch" or "dinner" for a restaurant; `null` for an attraction.
    pub meal: Option<String>,
}

/// The itinerary the selection describes, or what makes it unusable: ids that are not
/// candidates (ungrounded), a wrong number of days, a missing hotel.
pub fn realize(
    request: &TripRequest,
    weather: &[DayWeather],
    candidates: &Candidates,
    selection: &Selection,
) -> Result<Itinerary, String> {
    let by_id = candidates.by_id();
    let mut problems = Vec::new();
    if selection.days.len() != request.days as usize {
        problems.push(format!(
            "the trip has {} days, the answer {}",
            request.days,
            selection.days.len()
        ));
    }
    let hotel = hotel(request, selection, &by_id, &mut problems);
    let script = script(selection, &by_id, &mut problems);
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let thrift = if selection.transport == "metro" { 1 } else { 0 };
    let mut plan = compose::build_days(request, weather, candidates, hotel, thrift, Some(&script));
    plan.tips.extend(
        selection
            .tips
            .iter()
            .map(|t| t.trim().chars().take(200).collect::<String>())
            .filter(|t| !t.is_empty())
            .take(5),
    );
    Ok(plan)
}

/// The chosen hotel, which a trip with nights needs.
fn hotel<'a>(
    request: &TripRequest,
    selection: &Selection,
    by_id: &HashMap<&str, &'a Place>,
    problems: &mut Vec<String>,
) -> Option<&'a Place> {
    match (&selection.hotel_id, request.days > 1) {
        (Some(id), true) => match by_id.get(id.as_str()) {
            Some(h) if h.kind == PlaceKind::Hotel => Some(*h),
            _ => {
                problems.push(format!("hotel_id {id:?} is not one of the candidate hotels"));
                None
            }
        },
        (None, true) => {
            problems.push("a trip with nights needs a hotel_id".into());
            None
        }
        (_, false) => None,
    }
}

/// Each day's stops, candidates only; the ids that are not are reported together.
fn script<'a>(
    selection: &Selection,
    by_id: &HashMap<&str, &'a Place>,
    problems: &mut Vec<String>,
) -> Vec<Vec<Stop<'a>>> {
    let mut unknown = Vec::new();
    let mut script = Vec::new();
    for day in &selection.days {
        let mut stops = Vec::new();
        for stop in &day.stops {
            let Some(place) = by_id.get(stop.place_id.as_str()).filter(|p| p.kind != PlaceKind::Hotel) else {
                unknown.push(stop.place_id.clone());
                continue;
            };
            let meal = match stop.meal.as_deref() {
                Some("lunch") => Some(rules::LUNCH),
                Some("dinner") => Some(rules::DINNER),
                _ => None,
            };
            stops.push(Stop { place, meal });
        }
        script.push(stops);
    }
    if !unknown.is_empty() {
        problems.push(format!(
            "these place_ids are not among the candidates: {}; use only the ids listed",
            unknown.join(", ")
        ));
    }
    script
}
