//! The embedded composer: a deterministic itinerary from the candidates alone.
//! Per day it walks a nearest-good-next path through attractions (interests first, indoor
//! ones on rainy days), puts lunch and dinner in their windows at reachable restaurants,
//! and turns every leg too long to walk into a transfer item. Across the budget it tries
//! options from most to least comfortable and returns the first within budget; when none
//! fits, it reports what the cheapest valid plan would cost.

mod day;

use chrono::Duration;

use crate::{
    domain::{DayWeather, Place, money},
    travel::{
        candidates::Candidates,
        itinerary::{Costs, Day, ItemKind, Itinerary, Lodging},
        request::TripRequest,
        rules,
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
    let rooms = request.travelers.div_ceil(2) as f64;
    let mut days = Vec::new();
    for index in 0..request.days {
        let date = (request.start_date + Duration::days(index as i64)).to_string();
        let weather = weather
            .iter()
            .find(|w| w.date == date)
            .cloned()
            .unwrap_or_else(|| unknown_weather(&date));
        let window = rules::day_window(index, request.days);
        let items = match script {
            Some(days) => planner.follow(window, days.get(index as usize).map_or(&[], Vec::as_slice)),
            None => planner.day(window, weather.rainy),
        };
        let lodging = (index + 1 < request.days).then_some(hotel).flatten().map(|h| Lodging {
            place_id: h.id.clone(),
            name: h.name.clone(),
            cost: money::from_cny(h.price * rooms, &request.currency),
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

/// Advice for the trip: rain, the money left, free days, the temperature, the thrift.
fn tips(request: &TripRequest, days: &[Day], costs: &Costs, thrift: u8) -> Vec<String> {
    let mut tips: Vec<String> = days
        .iter()
        .filter(|d| d.weather.rainy)
        .map(|d| {
            format!(
                "{}：{}，行程已优先安排室内景点，记得带伞。",
                d.date, d.weather.condition
            )
        })
        .collect();
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
    tips
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
