//! The embedded composer: a deterministic itinerary from the candidates alone.
//! Per day it walks a nearest-good-next path through attractions (interests first, indoor
//! ones on rainy days), puts lunch and dinner in their windows at reachable restaurants,
//! and turns every leg too long to walk into a transfer item. Across the budget it tries
//! options from most to least comfortable and returns the first within budget; when none
//! fits, it reports what the cheapest valid plan would cost.

mod day;

use chrono::Duration;

use crate::{
    domain::{DayWeather, Place, PlaceKind, money},
    travel::{
        candidates::Candidates,
        itinerary::{Costs, Day, ItemKind, Itinerary, Lodging},
        request::TripRequest,
        rules,
        words::{Cheapest, Words},
    },
};

use day::DayPlanner;
pub use day::{MAX_THRIFT, Stop};

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
    let costs = Cheapest {
        total: cheapest.total,
        lodging: cheapest.lodging,
        food: cheapest.food,
        tickets: cheapest.tickets,
        transport: cheapest.transport,
    };
    let message = Words(request.language).budget_too_low(
        budget,
        &request.currency,
        request.days,
        &request.destination,
        request.travelers,
        &costs,
    );
    Err(Infeasible {
        cheapest,
        plan,
        message,
    })
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
    let mut planner = DayPlanner::new(request, candidates, thrift);
    let words = Words(request.language);
    let rooms = request.travelers.div_ceil(2) as f64;
    let mut days = Vec::new();
    for index in 0..request.days {
        let day = request.start_date + Duration::days(index as i64);
        let date = day.to_string();
        let weather = weather
            .iter()
            .find(|w| w.date == date)
            .map_or_else(|| unknown_weather(&date, words), |w| words.weather(w, day));
        let window = rules::day_window(index, request.days);
        let items = match script {
            Some(days) => planner.follow(window, days.get(index as usize).map_or(&[], Vec::as_slice)),
            None => planner.day(window, weather.rainy),
        };
        let lodging = (index + 1 < request.days).then_some(hotel).flatten().map(|h| Lodging {
            place_id: h.id.clone(),
            name: h.name.clone(),
            cost: money::from_cny(h.price * rooms, &request.currency),
            lat: Some(h.lat),
            lng: Some(h.lng),
        });
        let cost = money::round2(items.iter().map(|i| i.cost).sum::<f64>() + lodging.as_ref().map_or(0.0, |l| l.cost));
        days.push(Day {
            date,
            weather,
            items,
            lodging,
            cost,
        });
    }
    let costs = rules::costs(&days);
    let tips = tips(request, &days, &costs, thrift);
    let warnings = unmet_interests(request, &days, candidates);
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
        warnings,
        sources: Vec::new(),
        language: request.language,
    }
}

/// Advice for the trip: rain, the money left, free days, the temperature, the thrift.
fn tips(request: &TripRequest, days: &[Day], costs: &Costs, thrift: u8) -> Vec<String> {
    let words = Words(request.language);
    let mut tips: Vec<String> = days
        .iter()
        .filter(|d| d.weather.rainy)
        .map(|d| words.rain_tip(&d.date, &d.weather.condition))
        .collect();
    if let Some(budget) = request.budget {
        tips.push(words.budget_tip(costs.total, budget, &request.currency));
    }
    let free_days: Vec<String> = days
        .iter()
        .filter(|d| d.items.iter().all(|i| i.kind != ItemKind::Attraction))
        .map(|d| d.date.clone())
        .collect();
    if !free_days.is_empty() {
        tips.push(words.free_days_tip(&free_days));
    }
    let avg_max = days.iter().map(|d| d.weather.temp_max).sum::<f64>() / days.len().max(1) as f64;
    if avg_max < 8.0 {
        tips.push(words.cold_tip());
    } else if avg_max > 30.0 {
        tips.push(words.hot_tip());
    }
    if thrift > 0 {
        tips.push(words.thrift_tip());
    }
    tips
}

/// The stated interests no place of the plan answers, said with why: no candidate has the
/// interest, or the days had no room for one.
fn unmet_interests(request: &TripRequest, days: &[Day], candidates: &Candidates) -> Vec<String> {
    let by_id = candidates.by_id();
    let visited: Vec<&Place> = days
        .iter()
        .flat_map(|d| &d.items)
        .filter_map(|i| i.place_id.as_deref().and_then(|id| by_id.get(id)).copied())
        .collect();
    let words = Words(request.language);
    request
        .interests
        .iter()
        .filter(|interest| !visited.iter().any(|p| p.has_tag(interest)))
        .map(|interest| {
            let none_known = !by_id
                .values()
                .any(|p| p.kind != PlaceKind::Hotel && p.has_tag(interest));
            words.unmet_interest(interest, none_known)
        })
        .collect()
}

fn unknown_weather(date: &str, words: Words) -> DayWeather {
    DayWeather {
        date: date.into(),
        condition: words.unknown_weather(),
        temp_min: 0.0,
        temp_max: 0.0,
        precip_mm: 0.0,
        rainy: false,
        wind: None,
        source: "none".into(),
    }
}
