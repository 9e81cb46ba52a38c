//! One day of the composer: a cursor walks the day from its start, choosing the next
//! attraction by score (interests not yet met first, weather, distance, price, waiting),
//! putting lunch and dinner at local hours in reachable restaurants not eaten at before,
//! and turning every leg too long to walk into a transfer item. Every minute of the day is
//! an item: a wait becomes a longer stay where the place allows it, or named free time, and
//! the evening is the traveller's. It can also follow stops someone else chose, computing
//! the rest the same way.

use std::collections::HashSet;

use crate::{
    domain::{Place, PlaceKind, clock::format_clock, money},
    travel::{
        candidates::Candidates,
        geo::{self, Mode},
        itinerary::{Item, ItemKind},
        preferences::INTERESTS,
        request::TripRequest,
        rules::{self, DayWindow},
        words::Words,
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

/// A wait up to this long is spent at the place before, when it stays open; a longer one is
/// free time.
const LINGER_MINUTES: u32 = 30;
/// Free time closing a day from this late is the evening's.
const EVENING: u32 = 17 * 60;

pub(super) struct DayPlanner<'a> {
    request: &'a TripRequest,
    candidates: &'a Candidates<'a>,
    thrift: u8,
    words: Words,
    used_attractions: HashSet<&'a str>,
    /// Every restaurant eaten at so far in the trip, and yesterday's.
    used_restaurants: HashSet<&'a str>,
    yesterday_restaurants: HashSet<&'a str>,
    /// Interests a place of the trip has met so far.
    met_interests: HashSet<&'a str>,
    /// When the day being planned ends.
    day_end: u32,
}

struct Cursor<'a> {
    time: u32,
    at: Option<&'a Place>,
    items: Vec<Item>,
    /// The place of the last item, and when it closes: where a wait can be spent.
    lingering: Option<(&'a Place, u32)>,
    today_restaurants: HashSet<&'a str>,
}

impl<'a> Cursor<'a> {
    fn new(time: u32) -> Self {
        Self {
            time,
            at: None,
            items: Vec::new(),
            lingering: None,
            today_restaurants: HashSet::new(),
        }
    }
}

impl<'a> DayPlanner<'a> {
    pub(super) fn new(request: &'a TripRequest, candidates: &'a Candidates<'a>, thrift: u8) -> Self {
        Self {
            request,
            candidates,
            thrift,
            words: Words(request.language),
            used_attractions: HashSet::new(),
            used_restaurants: HashSet::new(),
            yesterday_restaurants: HashSet::new(),
            met_interests: HashSet::new(),
            day_end: 24 * 60,
        }
    }

    fn mode(&self) -> Mode {
        if self.thrift == 0 { Mode::Taxi } else { Mode::Metro }
    }

    /// The composer's own day: attractions by score, lunch and dinner in their windows.
    pub(super) fn day(&mut self, window: DayWindow, rainy: bool) -> Vec<Item> {
        self.day_end = window.end;
        let mut cur = Cursor::new(window.start);
        let per_day = self.request.pace.attractions_per_day();
        let (mut lunch, mut dinner, mut seen) = (false, !window.needs_dinner(), 0);
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
                self.met_interests.extend(self.interests_of(place));
                seen += 1;
                continue;
            }
            let due = if !lunch {
                rules::LUNCH
            } else if !dinner {
                rules::DINNER
            } else {
                break;
            };
            if !self.meal(&mut cur, due) {
                break;
            }
            (lunch, dinner) = (true, dinner || due == rules::DINNER);
        }
        self.wait(&mut cur, window.end, true);
        self.yesterday_restaurants = cur.today_restaurants.clone();
        cur.items
    }

    /// The stops in their order, each as early as travel, opening hours and its meal allow.
    pub(super) fn follow(&mut self, window: DayWindow, stops: &[Stop<'a>]) -> Vec<Item> {
        let mut cur = Cursor::new(window.start);
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
        self.wait(&mut cur, window.end, true);
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

    /// The request's interests a place answers.
    fn interests_of(&self, place: &Place) -> Vec<&'a str> {
        self.request
            .interests
            .iter()
            .filter(|i| place.has_tag(i))
            .filter_map(|i| INTERESTS.iter().find(|t| **t == i.as_str()).copied())
            .collect()
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
            // A meal still due must remain reachable after this visit.
            if let Some(meal) = deadline {
                let mut after = Cursor::new(start + place.minutes);
                after.at = Some(place);
                after.today_restaurants = cur.today_restaurants.clone();
                if self.pick_restaurant(&after, meal).is_none() {
                    continue;
                }
            }
            let score = self.attraction_score(cur, place, start, rainy) - 0.3 * rank as f64;
            if best.as_ref().is_none_or(|(_, _, s)| score > *s) {
                best = Some((place, start, score));
            }
        }
        best.map(|(p, s, _)| (p, s))
    }

    /// Interests not yet met weigh most, so that each is met early in the trip.
    fn attraction_score(&self, cur: &Cursor, place: &Place, start: u32, rainy: bool) -> f64 {
        let interests = self.interests_of(place);
        let unmet = interests.iter().filter(|i| !self.met_interests.contains(*i)).count() as f64;
        let met = interests.len() as f64 - unmet;
        let km = cur.at.map_or(0.0, |from| self.candidates.roads.km(from, place));
        let weather = match (rainy, place.indoor) {
            (true, true) => 8.0,
            (true, false) => -6.0,
            _ => 0.0,
        };
        let price_weight = [0.0, 1.0 / 50.0, 1.0 / 15.0][self.thrift.min(MAX_THRIFT) as usize];
        let wait = start.saturating_sub(cur.time) as f64 / 30.0;
        14.0 * unmet + 4.0 * met + weather - 1.2 * km - price_weight * place.price - wait
    }

    /// The best restaurant for `meal` from the cursor, and when the meal starts: one not
    /// eaten at in the trip if any fits, else not yesterday's, else not today's.
    fn pick_restaurant(&self, cur: &Cursor, meal: rules::MealWindow) -> Option<(&'a Place, u32)> {
        let today = |p: &Place| cur.today_restaurants.contains(p.id.as_str());
        let tiers: [&dyn Fn(&Place) -> bool; 3] = [
            &|p| !self.used_restaurants.contains(p.id.as_str()) && !today(p),
            &|p| !self.yesterday_restaurants.contains(p.id.as_str()) && !today(p),
            &|p| !today(p),
        ];
        tiers.iter().find_map(|allowed| {
            let mut best: Option<(&'a Place, u32, f64)> = None;
            for (rank, place) in self.candidates.restaurants.iter().enumerate() {
                if !allowed(place) {
                    continue;
                }
                let Some(start) = self.fit(cur, place, place.minutes, u32::MAX) else {
                    continue;
                };
                let start = start.max(meal.earliest);
                let end = start + place.minutes;
                if start > meal.latest || end > place.closes || end > self.day_end {
                    continue;
                }
                let score = self.restaurant_score(cur, place) - 0.2 * rank as f64;
                if best.as_ref().is_none_or(|(_, _, s)| score > *s) {
                    best = Some((place, start, score));
                }
            }
            best.map(|(p, s, _)| (p, s))
        })
    }

    fn restaurant_score(&self, cur: &Cursor, place: &Place) -> f64 {
        let km = cur.at.map_or(0.0, |from| self.candidates.roads.km(from, place));
        let price_weight = [1.0 / 100.0, 1.0 / 20.0, 1.0 / 5.0][self.thrift.min(MAX_THRIFT) as usize];
        let food = if self.request.interests.iter().any(|i| i == "food") && place.has_tag("local") {
            3.0
        } else {
            0.0
        };
        food - 1.5 * km - price_weight * place.price
    }

    fn meal(&mut self, cur: &mut Cursor<'a>, meal: rules::MealWindow) -> bool {
        let Some((place, start)) = self.pick_restaurant(cur, meal) else {
            return false;
        };
        self.visit(cur, place, start, ItemKind::Meal, place.minutes);
        cur.today_restaurants.insert(&place.id);
        self.used_restaurants.insert(&place.id);
        true
    }

    /// Goes to `place` and stays `minutes` from `start`: any wait is spent where the traveller
    /// is (as `wait` says), then the walk or the transfer item gets there on time.
    fn visit(&self, cur: &mut Cursor<'a>, place: &'a Place, start: u32, kind: ItemKind, minutes: u32) {
        let travelers = self.request.travelers as f64;
        let leg = cur.at.map(|from| self.leg(from, place));
        let travel = leg.map_or(0, |l| l.minutes);
        self.wait(cur, start.saturating_sub(travel), false);
        let mut walked = 0;
        match leg {
            Some(leg) if leg.mode == Mode::Walk => walked = leg.minutes,
            Some(leg) => {
                let name = match leg.mode {
                    Mode::Taxi => self.words.taxi_to(&place.name),
                    _ => self.words.metro_to(&place.name),
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
                    note: self.words.about_km(leg.km),
                    lat: None,
                    lng: None,
                });
                cur.time += leg.minutes;
                cur.lingering = None;
            }
            None => {}
        }
        let note = match kind {
            ItemKind::Meal => self.words.meal_price(place.price),
            _ if place.price > 0.0 => self.words.ticket_price(place.price),
            _ => self.words.free_entry(),
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
            lat: Some(place.lat),
            lng: Some(place.lng),
        });
        cur.time = start + minutes;
        cur.at = Some(place);
        cur.lingering = Some((place, place.closes));
    }

    /// Accounts for the time until `until`: a short wait is a longer stay at the place
    /// before (while it is open), a longer one named free time — the evening's when it
    /// closes the day.
    fn wait(&self, cur: &mut Cursor<'a>, until: u32, closing: bool) {
        if until <= cur.time {
            return;
        }
        let gap = until - cur.time;
        if let (Some((_, closes)), Some(last)) = (cur.lingering, cur.items.last_mut())
            && gap <= LINGER_MINUTES
            && until <= closes
        {
            last.end = format_clock(until);
            cur.time = until;
            return;
        }
        let (name, note) = if closing && cur.time >= EVENING {
            (self.words.evening_free(), self.words.evening_note())
        } else {
            (self.words.free_time(), self.words.free_time_note())
        };
        cur.items.push(Item {
            start: format_clock(cur.time),
            end: format_clock(until),
            kind: ItemKind::Free,
            place_id: None,
            name,
            cost: 0.0,
            travel_minutes: 0,
            indoor: false,
            mode: None,
            note,
            lat: None,
            lng: None,
        });
        cur.time = until;
        cur.lingering = None;
    }
}
