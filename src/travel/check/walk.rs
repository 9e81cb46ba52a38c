//! Each day's items as the checker reads them, once for every rule: the times of each item,
//! the candidate it names, and where the traveller comes from (the previous place, unless a
//! free slot or an unknown place came between) by which transfer.

use std::collections::HashMap;

use crate::{
    domain::{Place, clock::parse_clock},
    travel::{
        geo::Mode,
        itinerary::{Day, Item, ItemKind, Itinerary},
        request::TripRequest,
        rules::{self, DayWindow},
    },
};

pub struct Visit<'a> {
    pub item: &'a Item,
    /// Start and end in minutes; `None` when they are not HH:MM.
    pub times: Option<(u32, u32)>,
    /// When the item before ended (the day's start for the first).
    pub prev_end: u32,
    /// The candidate an attraction or a meal names.
    pub place: Option<&'a Place>,
    /// Where the traveller comes from.
    pub from: Option<&'a Place>,
    /// The transfer taken since `from`: its minutes and mode.
    pub transfer: Option<(u32, Mode)>,
}

pub struct DayWalk<'a> {
    /// 1-based.
    pub number: usize,
    pub day: &'a Day,
    pub window: DayWindow,
    pub visits: Vec<Visit<'a>>,
}

pub fn days<'a>(plan: &'a Itinerary, request: &TripRequest, by_id: &HashMap<&str, &'a Place>) -> Vec<DayWalk<'a>> {
    plan.days
        .iter()
        .enumerate()
        .map(|(index, day)| {
            let window = rules::day_window(index as u32, request.days);
            DayWalk {
                number: index + 1,
                day,
                window,
                visits: visits(day, window, by_id),
            }
        })
        .collect()
}

fn visits<'a>(day: &'a Day, window: DayWindow, by_id: &HashMap<&str, &'a Place>) -> Vec<Visit<'a>> {
    let mut prev_end = window.start;
    let mut from: Option<&Place> = None;
    let mut transfer: Option<(u32, Mode)> = None;
    let mut out = Vec::new();
    for item in &day.items {
        let times = parse_clock(&item.start).ok().zip(parse_clock(&item.end).ok());
        let mut visit = Visit {
            item,
            times,
            prev_end,
            place: None,
            from,
            transfer,
        };
        // An item without readable times changes nothing for the items after it.
        if let Some((start, end)) = times {
            match item.kind {
                ItemKind::Transfer => {
                    transfer = Some((end - start.min(end), item.mode.unwrap_or(Mode::Taxi)));
                }
                ItemKind::Free => {
                    from = None;
                    transfer = None;
                }
                ItemKind::Attraction | ItemKind::Meal => {
                    visit.place = item.place_id.as_deref().and_then(|id| by_id.get(id)).copied();
                    from = visit.place;
                    if visit.place.is_some() {
                        transfer = None;
                    }
                }
            }
            prev_end = end;
        }
        out.push(visit);
    }
    out
}

impl<'a> DayWalk<'a> {
    /// The items with readable times, with them.
    pub fn timed(&self) -> impl Iterator<Item = (&Visit<'a>, u32, u32)> {
        self.visits.iter().filter_map(|v| v.times.map(|(s, e)| (v, s, e)))
    }

    /// The attractions and meals at a known candidate, with their times.
    pub fn at_places(&self) -> impl Iterator<Item = (&Visit<'a>, &'a Place, u32, u32)> {
        self.timed().filter_map(|(v, s, e)| v.place.map(|p| (v, p, s, e)))
    }
}
