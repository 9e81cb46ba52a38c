//! The embedded composer: a deterministic itinerary from the candidates alone.
//! Per day it walks a nearest-good-next path through attractions (interests first, indoor
//! ones on rainy days), puts lunch and dinner in their windows at reachable restaurants,
//! and turns every leg too long to walk into a transfer item. Across the budget it tries
//! options from most to least comfortable and returns the first within budget; when none
//! fits, it reports what the cheapest valid plan would cost.

use std::collections::{HashMap, HashSet};

use chrono::Duration;

use crate::planner::{
    catalog::{Place, PlaceKind, format_clock},
    currency,
    geo::{self, Mode, Roads},
    itinerary::{Costs, Day, DayWeather, Item, ItemKind, Itinerary, Lodging},
    request::TripRequest,
    rules::{self, DayWindow},
};

pub struct Candidates<'a> {
    pub attractions: &'a [Place],
    pub restaurants: &'a [Place],
    pub hotels: &'a [Place],
    /// Measured roads between them; `Roads::NONE` estimates every leg from coordinates.
    pub roads: &'a Roads,
}

impl Candidates<'_> {
    /// Every candidate by id.
    pub fn by_id(&self) -> HashMap<&str, &Place> {
        self.attractions
            .iter()
            .chain(self.restaurants)
            .chain(self.hotels)
            .map(|p| (p.id.as_str(), p))
            .collect()
    }
}

/// How thrifty the plan is: 0 takes taxis and the places it likes best, 2 takes the metro
/// and the cheapest places that still make a good day.
pub const MAX_THRIFT: u8 = 2;

#[derive(Debug, Clone, PartialEq)]
pub struct Infeasible {
    pub cheapest: Costs,
    /// The cheapest plan: valid in every way but the budget.
    pub plan: Box<Itinerary>,
    pub message: String,
}

/// The best plan within budget, trying thrift levels from `min_thrift` upwards.
pub fn compose(
    request: &TripRequest,
    weather: &[DayWeather],
    candidates: &Candidates,
    min_thrift: u8,
) -> Result<Itinerary, Infeasible> {
    let nights = request.days.saturating_sub(1);
    let mut hotels: Vec<Option<&Place>> = if nights == 0 || candidates.hotels.is_empty() {
        vec![None]
    } else {
        let mut by_price: Vec<&Place> = candidates.hotels.iter().collect();
        by_price.sort_by(|a, b| b.price.total_cmp(&a.price).then(a.id.cmp(&b.id)));
        by_price.into_iter().map(Some).collect()
    };
    let Some(budget) = request.budget else {
        // No budget: a mid-range hotel and the most comfortable plan.
        if hotels.len() > 1 {
            let mid = candidates
                .hotels
                .iter()
                .find(|h| h.has_tag("mid"))
                .or(hotels[hotels.len() / 2]);
            hotels = vec![mid];
        }
        return Ok(build(request, weather, candidates, hotels[0], min_thrift));
    };
    let mut cheapest: Option<Itinerary> = None;
    for thrift in min_thrift.min(MAX_THRIFT)..=MAX_THRIFT {
        for hotel in &hotels {
            let plan = build(request, weather, candidates, *hotel, thrift);
            if plan.costs.total <= budget + 0.005 {
                return Ok(plan);
            }
            if cheapest.as_ref().is_none_or(|c| plan.costs.total < c.costs.total) {
                cheapest = Some(plan);
            }
        }
    }
    let plan = Box::new(cheapest.unwrap_or_else(|| build(request, weather, candidates, None, MAX_THRIFT)));
    let cheapest = plan.costs.clone();
    let c = &request.currency;
    let message = format!(
        "a budget of {budget} {c} cannot cover {} day(s) in {} for {} traveler(s): the cheapest plan that passes every check costs {:.0} {c} (lodging {:.0}, food {:.0}, tickets {:.0}, transport {:.0}); a budget of at least {:.0} {c} would work, or plan fewer days",
        request.days,
        request.destination,
        request.travelers,
        cheapest.total,
        cheapest.lodging,
        cheapest.food,
        cheapest.tickets,
        cheapest.transport,
        cheapest.total.ceil(),
    );
    Err(Infeasible {
        cheapest,
        plan,
        message,
    })
}

struct DayPlanner<'a> {
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

fn build(
    request: &TripRequest,
    weather: &[DayWeather],
    candidates: &Candidates,
    hotel: Option<&Place>,
    thrift: u8,
) -> Itinerary {
    build_days(request, weather, candidates, hotel, thrift, None)
}

/// A place to go, in order, as someone else (the LLM) chose it; `meal` says which meal a
/// restaurant is for, else it is the one due at arrival.
#[derive(Debug, Clone, Copy)]
pub struct Stop<'a> {
    pub place: &'a Place,
    pub meal: Option<rules::MealWindow>,
}

/// A whole itinerary around `hotel`: each day chosen by the composer, or, with a `script`,
/// following its stops day by day (times, transfers, costs and tips are still ours).
pub fn build_days(
    request: &TripRequest,
    weather: &[DayWeather],
    candidates: &Candidates,
    hotel: Option<&Place>,
    thrift: u8,
    script: Option<&[Vec<Stop>]>,
) -> Itinerary {
    let mut planner = DayPlanner {
        request,
        candidates,
        thrift,
        used_attractions: HashSet::new(),
        yesterday_restaurants: HashSet::new(),
    };
    let rooms = request.travelers.div_ceil(2) as f64;
    let mut days = Vec::new();
    let mut tips = Vec::new();
    for index in 0..request.days {
        let date = request.start_date + Duration::days(index as i64);
        let weather = weather
            .iter()
            .find(|w| w.date == date.to_string())
            .cloned()
            .unwrap_or_else(|| unknown_weather(&date.to_string()));
        let window = rules::day_window(index, request.days);
        let items = match script {
            Some(days) => planner.follow(window, days.get(index as usize).map_or(&[], Vec::as_slice)),
            None => planner.day(window, weather.rainy),
        };
        let lodging = (index + 1 < request.days).then_some(hotel).flatten().map(|h| Lodging {
            place_id: h.id.clone(),
            name: h.name.clone(),
            cost: currency::from_cny(h.price * rooms, &request.currency),
        });
        let cost =
            currency::round2(items.iter().map(|i| i.cost).sum::<f64>() + lodging.as_ref().map_or(0.0, |l| l.cost));
        if weather.rainy {
            tips.push(format!(
                "{}：{}，行程已优先安排室内景点，记得带伞。",
                date, weather.condition
            ));
        }
        days.push(Day {
            date: date.to_string(),
            weather,
            items,
            lodging,
            cost,
        });
    }
    let costs = rules::costs(&days);
    if let Some(budget) = request.budget {
        tips.push(format!(
            "预计花费 {:.0} {c}，预算 {budget:.0} {c}，余 {:.0} {c}。",
            costs.total,
            budget - costs.total,
            c = request.currency
        ));
    }
    let free_days: Vec<String> = days
        .iter()
        .filter(|d| d.items.iter().all(|i| i.kind != ItemKind::Attraction))
        .map(|d| d.date.clone())
        .collect();
    if !free_days.is_empty() {
        tips.push(format!("内置景点已全部安排，{} 为自由活动日。", free_days.join("、")));
    }
    let avg_max = days.iter().map(|d| d.weather.temp_max).sum::<f64>() / days.len().max(1) as f64;
    if avg_max < 8.0 {
        tips.push("天气寒冷，注意保暖。".into());
    } else if avg_max > 30.0 {
        tips.push("天气炎热，注意防晒补水。".into());
    }
    if thrift > 0 {
        tips.push("为控制预算，较远路段安排地铁出行，餐厅以平价为主。".into());
    }
    Itinerary {
        destination: request.destination.clone(),
        start_date: request.start_date.to_string(),
        end_date: request.end_date().to_string(),
        travelers: request.travelers,
        currency: request.currency.clone(),
        budget: request.budget,
        days,
        costs,
        tips,
        warnings: Vec::new(),
        sources: Vec::new(),
    }
}

fn unknown_weather(date: &str) -> DayWeather {
    DayWeather {
        date: date.into(),
        condition: "未知".into(),
        temp_min: 0.0,
        temp_max: 0.0,
        precip_mm: 0.0,
        rainy: false,
        wind: None,
        source: "none".into(),
    }
}

impl<'a> DayPlanner<'a> {
    fn mode(&self) -> Mode {
        if self.thrift == 0 { Mode::Taxi } else { Mode::Metro }
    }

    fn day(&mut self, window: DayWindow, rainy: bool) -> Vec<Item> {
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
    fn follow(&mut self, window: DayWindow, stops: &[Stop<'a>]) -> Vec<Item> {
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
                    cost: currency::from_cny(leg.cost_cny, &self.request.currency),
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
            cost: currency::from_cny(place.price * travelers, &self.request.currency),
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
