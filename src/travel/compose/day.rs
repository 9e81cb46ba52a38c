//! One day of the composer: a cursor walks the day from its start, choosing the next
//! attraction by score (interests, weather, distance, price, waiting), putting lunch and
//! dinner in their windows at reachable restaurants, and turning every leg too long to walk
//! into a transfer item. It can also follow stops someone else chose, computing the rest.

use std::collections::HashSet;

use crate::{
    domain::{Place, PlaceKind, clock::format_clock, money},
    travel::{
        candidates::Candidates,
        geo::{self, Mode},
        itinerary::{Item, ItemKind},
        request::TripRequest,
        rules::{self, DayWindow},
    },
};

/// How thrifty the plan is: 0 takes taxis and the places it likes best, 2 takes the metro
/// and the cheapest places that still make a good day.
pub const MAX_THRIFT: u8 = 2;

/// A place to go, in order, as someone else (the LLM) chose it; `meal` says which meal a
/// restaurant is for, else it is the one due at arrival.
#[derive(Debug, Clone, Copy)]
pub struct Stop<'a> {
    pub place: &'a Place,
    pub meal: Option<rules::MealWindow>,
}

pub(super) struct DayPlanner<'a> {
    request: &'a TripRequest,
    candidates: &'a Candidates<'a>,
    thrift: u8,
    used_attractions: HashSet<&'a str>,
    yesterday_restaurants: HashSet<&'a str>,
}

struct Cursor<'a> {
    time: u32,
    at: Option<&'a Place>,
    items: Vec<Item>,
    today_restaurants: HashSet<&'a str>,
}

impl<'a> DayPlanner<'a> {
    pub(super) fn new(request: &'a TripRequest, candidates: &'a Candidates<'a>, thrift: u8) -> Self {
        Self {
            request,
            candidates,
            thrift,
            used_attractions: HashSet::new(),
            yesterday_restaurants: HashSet::new(),
        }
    }

    fn mode(&self) -> Mode {
        if self.thrift == 0 { Mode::Taxi } else { Mode::Metro }
    }

    /// The composer's own day: attractions by score, lunch and dinner in their windows.
    pub(super) fn day(&mut self, window: DayWindow, rainy: bool) -> Vec<Item> {
        let mut cur = Cursor {
            time: window.start,
            at: None,
            items: Vec::new(),
            today_restaurants: HashSet::new(),
        };
        let per_day = self.request.pace.attractions_per_day();
        let need_dinner = window.needs_dinner();
        let (mut lunch, mut dinner, mut seen) = (false, !need_dinner, 0);
        loop {
            if !lunch && cur.time >= rules::LUNCH.ideal && self.meal(&mut cur, rules::LUNCH) {
                lunch = true;
                continue;
            }
            if !dinner && cur.time >= rules::DINNER.ideal && self.meal(&mut cur, rules::DINNER) {
                dinner = true;
                continue;
            }
            let deadline = match (lunch, dinner) {
                (false, _) => Some(rules::LUNCH),
                (true, false) => Some(rules::DINNER),
                _ => None,
            };
            if seen < per_day
                && let Some((place, start)) = self.next_attraction(&cur, window, deadline, rainy)
            {
                self.visit(&mut cur, place, start, ItemKind::Attraction, place.minutes);
                self.used_attractions.insert(&place.id);
                seen += 1;
                continue;
            }
            if !lunch {
                cur.time = cur.time.max(rules::LUNCH.earliest);
                lunch = self.meal(&mut cur, rules::LUNCH);
                if !lunch {
                    break;
                }
            } else if !dinner {
                if cur.time + 60 < rules::DINNER.earliest {
                    free_time(&mut cur, rules::DINNER.earliest - 30);
                }
                cur.time = cur.time.max(rules::DINNER.earliest);
                dinner = self.meal(&mut cur, rules::DINNER);
                if !dinner {
                    break;
                }
            } else {
                break;
            }
        }
        self.yesterday_restaurants = cur.today_restaurants.clone();
        cur.items
    }

    /// The stops in their order, each as early as travel, opening hours and its meal allow.
    pub(super) fn follow(&mut self, window: DayWindow, stops: &[Stop<'a>]) -> Vec<Item> {
        let mut cur = Cursor {
            time: window.start,
            at: None,
            items: Vec::new(),
            today_restaurants: HashSet::new(),
        };
        for stop in stops {
            let place = stop.place;
            let travel = cur.at.map_or(0, |from| self.leg(from, place).minutes);
            let arrival = (cur.time + travel).max(place.opens);
            let (kind, start) = if place.kind == PlaceKind::Restaurant {
                let meal = stop
                    .meal
                    .unwrap_or(if arrival < 15 * 60 { rules::LUNCH } else { rules::DINNER });
                (ItemKind::Meal, arrival.max(meal.earliest))
            } else {
                (ItemKind::Attraction, arrival)
            };
            self.visit(&mut cur, place, start, kind, place.minutes);
        }
        cur.items
    }

    /// Arrival and start at `place` from the cursor, if it opens and closes in time.
    fn fit(&self, cur: &Cursor, place: &Place, minutes: u32, latest_end: u32) -> Option<u32> {
        let travel = cur.at.map_or(0, |from| self.leg(from, place).minutes);
        let start = (cur.time + travel).max(place.opens);
        let end = start + minutes;
        (end <= place.closes && end <= latest_end).then_some(start)
    }

    fn leg(&self, from: &Place, to: &Place) -> geo::Leg {
        self.candidates.roads.leg(from, to, self.mode(), self.request.travelers)
    }

    fn next_attraction(
        &self,
        cur: &Cursor,
        window: DayWindow,
        deadline: Option<rules::MealWindow>,
        rainy: bool,
    ) -> Option<(&'a Place, u32)> {
        let mut best: Option<(&'a Place, u32, f64)> = None;
        for (rank, place) in self.candidates.attractions.iter().enumerate() {
            if self.used_attractions.contains(place.id.as_str()) {
                continue;
            }
            let Some(start) = self.fit(cur, place, place.minutes, window.end) else {
                continue;
            };
            let end = start + place.minutes;
            // A meal still due must remain reachable after this visit.
            if let Some(meal) = deadline {
                let after = Cursor {
                    time: end,
                    at: Some(place),
                    items: Vec::new(),
                    today_restaurants: cur.today_restaurants.clone(),
                };
                if self.pick_restaurant(&after, meal).is_none() {
                    continue;
                }
            }
            let interest = self.request.interests.iter().filter(|i| place.has_tag(i)).count() as f64;
            let km = cur.at.map_or(0.0, |from| self.candidates.roads.km(from, place));
            let weather = match (rainy, place.indoor) {
                (true, true) => 8.0,
                (true, false) => -6.0,
                _ => 0.0,
            };
            let price_weight = [0.0, 1.0 / 50.0, 1.0 / 15.0][self.thrift.min(MAX_THRIFT) as usize];
            let wait = start.saturating_sub(cur.time) as f64 / 30.0;
            let score = 10.0 * interest + weather - 1.2 * km - price_weight * place.price - wait - 0.3 * rank as f64;
            if best.as_ref().is_none_or(|(_, _, s)| score > *s) {
                best = Some((place, start, score));
            }
        }
        best.map(|(p, s, _)| (p, s))
    }

    fn pick_restaurant(&self, cur: &Cursor, meal: rules::MealWindow) -> Option<(&'a Place, u32)> {
        let fresh = |p: &&Place| !cur.today_restaurants.contains(p.id.as_str());
        let rested = |p: &&Place| !self.yesterday_restaurants.contains(p.id.as_str());
        let mut best: Option<(&'a Place, u32, f64)> = None;
        // Prefer restaurants not eaten at yesterday; fall back to any not eaten at today.
        for strict in [true, false] {
            for (rank, place) in self.candidates.restaurants.iter().enumerate() {
                if !fresh(&place) || (strict && !rested(&place)) {
                    continue;
                }
                let probe = Cursor {
                    time: cur.time.max(meal.earliest),
                    at: cur.at,
                    items: Vec::new(),
                    today_restaurants: HashSet::new(),
                };
                let Some(start) = self.fit(&probe, place, place.minutes, u32::MAX) else {
                    continue;
                };
                if start > meal.latest {
                    continue;
                }
                let km = cur.at.map_or(0.0, |from| self.candidates.roads.km(from, place));
                let price_weight = [1.0 / 100.0, 1.0 / 20.0, 1.0 / 5.0][self.thrift.min(MAX_THRIFT) as usize];
                let food = if self.request.interests.iter().any(|i| i == "food") && place.has_tag("local") {
                    3.0
                } else {
                    0.0
                };
                let score = food - 1.5 * km - price_weight * place.price - 0.2 * rank as f64;
                if best.as_ref().is_none_or(|(_, _, s)| score > *s) {
                    best = Some((place, start, score));
                }
            }
            if best.is_some() {
                break;
            }
        }
        best.map(|(p, s, _)| (p, s))
    }

    fn meal(&self, cur: &mut Cursor<'a>, meal: rules::MealWindow) -> bool {
        let Some((place, _)) = self.pick_restaurant(cur, meal) else {
            return false;
        };
        cur.time = cur.time.max(
            meal.earliest
                .saturating_sub(cur.at.map_or(0, |from| self.leg(from, place).minutes)),
        );
        let start = self.fit(cur, place, place.minutes, u32::MAX).unwrap_or(cur.time);
        self.visit(cur, place, start, ItemKind::Meal, place.minutes);
        cur.today_restaurants.insert(&place.id);
        true
    }

    fn visit(&self, cur: &mut Cursor<'a>, place: &'a Place, start: u32, kind: ItemKind, minutes: u32) {
        let travelers = self.request.travelers as f64;
        let mut walked = 0;
        if let Some(from) = cur.at {
            let leg = self.leg(from, place);
            if leg.mode == Mode::Walk {
                walked = leg.minutes;
            } else {
                let name = match leg.mode {
                    Mode::Taxi => format!("打车前往 {}", place.name),
                    _ => format!("地铁前往 {}", place.name),
                };
                cur.items.push(Item {
                    start: format_clock(cur.time),
                    end: format_clock(cur.time + leg.minutes),
                    kind: ItemKind::Transfer,
                    place_id: None,
                    name,
                    cost: money::from_cny(leg.cost_cny, &self.request.currency),
                    travel_minutes: 0,
                    indoor: true,
                    mode: Some(leg.mode),
                    note: format!("约 {:.1} 公里", leg.km),
                });
            }
        }
        let note = match kind {
            ItemKind::Meal => format!("人均约 {:.0} 元", place.price),
            _ if place.price > 0.0 => format!("门票约 {:.0} 元/人", place.price),
            _ => "免费".into(),
        };
        cur.items.push(Item {
            start: format_clock(start),
            end: format_clock(start + minutes),
            kind,
            place_id: Some(place.id.clone()),
            name: place.name.clone(),
            cost: money::from_cny(place.price * travelers, &self.request.currency),
            travel_minutes: walked,
            indoor: place.indoor,
            mode: None,
            note,
        });
        cur.time = start + minutes;
        cur.at = Some(place);
    }
}

fn free_time(cur: &mut Cursor, until: u32) {
    cur.items.push(Item {
        start: format_clock(cur.time),
        end: format_clock(until),
        kind: ItemKind::Free,
        place_id: None,
        name: "自由活动".into(),
        cost: 0.0,
        travel_minutes: 0,
        indoor: false,
        mode: None,
        note: "附近街区随意逛逛，或回酒店休息".into(),
    });
    cur.time = until;
    // Where the traveller ends up is theirs to choose: the next leg starts fresh.
    cur.at = None;
}
