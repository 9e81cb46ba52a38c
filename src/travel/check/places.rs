//! Places: every attraction and meal at a candidate, each attraction once in the trip, each
//! meal at a restaurant not eaten at before that day.

use std::collections::HashSet;

use crate::{
    domain::PlaceKind,
    travel::{
        check::{
            subject::Subject,
            violation::{Violation, ViolationCode},
        },
        itinerary::ItemKind,
    },
};

pub fn places_are_candidates(s: &Subject) -> Vec<Violation> {
    let mut out = Vec::new();
    for d in &s.days {
        for (v, _, _) in d.timed() {
            let item = v.item;
            if !matches!(item.kind, ItemKind::Attraction | ItemKind::Meal) {
                continue;
            }
            let message = match v.place {
                None => format!("{} ({:?}) is not among the candidates", item.name, item.place_id),
                Some(place) if place.name != item.name => {
                    format!("{} does not match candidate {}", item.name, place.name)
                }
                Some(_) => continue,
            };
            out.push(Violation::new(ViolationCode::UnknownPlace, Some(d.number), message));
        }
    }
    out
}

pub fn attractions_once(s: &Subject) -> Vec<Violation> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    for d in &s.days {
        for (v, place, _, _) in d.at_places() {
            if v.item.kind != ItemKind::Attraction {
                continue;
            }
            if place.kind != PlaceKind::Attraction || !seen.insert(&place.id) {
                let message = format!("{} is visited twice or is not an attraction", place.name);
                out.push(Violation::new(ViolationCode::Repeat, Some(d.number), message));
            }
        }
    }
    out
}

pub fn meals_at_restaurants(s: &Subject) -> Vec<Violation> {
    let mut out = Vec::new();
    for d in &s.days {
        let mut today: HashSet<&str> = HashSet::new();
        for (v, place, _, _) in d.at_places() {
            if v.item.kind != ItemKind::Meal {
                continue;
            }
            if place.kind != PlaceKind::Restaurant {
                let message = format!("{} is not a restaurant", place.name);
                out.push(Violation::new(ViolationCode::Meal, Some(d.number), message));
            }
            if !today.insert(&place.id) {
                let message = format!("{} is eaten at twice in one day", place.name);
                out.push(Violation::new(ViolationCode::Repeat, Some(d.number), message));
            }
        }
    }
    out
}
