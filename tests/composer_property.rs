//! Property: for random requests over every destination, the composer's plan passes the
//! checker, or the request is reported infeasible with a budget that would work.

use chrono::{Duration, NaiveDate};
use planner::providers::embedded_weather;
use planner::{
    catalog,
    domain::PlaceKind,
    travel::{
        candidates::Candidates,
        check, compose,
        geo::Roads,
        language::Language,
        preferences::{INTERESTS, Pace},
        request::TripRequest,
    },
};
use rand::{Rng, SeedableRng, rngs::StdRng};

const CURRENCIES: [&str; 4] = ["CNY", "USD", "JPY", "EUR"];

fn random_request(rng: &mut StdRng) -> TripRequest {
    let cities = &catalog::catalog().cities;
    let city = &cities[rng.random_range(0..cities.len())];
    let days = if rng.random_bool(0.85) {
        rng.random_range(1..=7)
    } else {
        rng.random_range(8..=30)
    };
    let currency = CURRENCIES[rng.random_range(0..CURRENCIES.len())].to_string();
    let budget_cny = match rng.random_range(0..4) {
        0 => None,
        1 => Some(rng.random_range(50.0..2000.0)),
        _ => Some(rng.random_range(500.0..60000.0)),
    };
    let budget = budget_cny.map(|b| {
        (b / planner::domain::money::rate_to_cny(&currency).unwrap())
            .round()
            .max(1.0)
    });
    let mut interests: Vec<String> = INTERESTS
        .iter()
        .filter(|_| rng.random_bool(0.25))
        .map(|s| s.to_string())
        .collect();
    interests.sort();
    TripRequest {
        city: city.id.clone(),
        destination: city.name.clone(),
        start_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap() + Duration::days(rng.random_range(0..365)),
        days,
        travelers: rng.random_range(1..=8),
        currency,
        budget,
        interests,
        pace: [Pace::Relaxed, Pace::Moderate, Pace::Packed][rng.random_range(0..3)],
        require_approval: false,
        language: [Language::Zh, Language::En][rng.random_range(0..2)],
    }
}

#[test]
fn composed_plans_always_pass_the_checker_or_are_reported_infeasible() {
    let mut rng = StdRng::seed_from_u64(20261126);
    let (mut feasible, mut infeasible) = (0, 0);
    for i in 0..600 {
        let request = random_request(&mut rng);
        let places = catalog::places(&request.city);
        let pick = |k: PlaceKind| places.iter().filter(|p| p.kind == k).cloned().collect::<Vec<_>>();
        let (attractions, restaurants, hotels) = (
            pick(PlaceKind::Attraction),
            pick(PlaceKind::Restaurant),
            pick(PlaceKind::Hotel),
        );
        let candidates = Candidates {
            attractions: &attractions,
            restaurants: &restaurants,
            hotels: &hotels,
            roads: Roads::NONE,
        };
        let city = catalog::city(&request.city).unwrap();
        let weather: Vec<_> = (0..request.days)
            .map(|d| embedded_weather::day(city, request.start_date + Duration::days(d as i64)))
            .collect();
        match compose::compose(&request, &weather, &candidates, 0) {
            Ok(plan) => {
                let violations = check::check(&plan, &request, &candidates);
                assert!(
                    violations.is_empty(),
                    "case {i}: {request:?}\nviolations: {violations:#?}"
                );
                assert_eq!(plan.days.len(), request.days as usize);
                if let Some(b) = request.budget {
                    assert!(plan.costs.total <= b + 0.01, "case {i}: over budget");
                }
                feasible += 1;
            }
            Err(e) => {
                let budget = request.budget.expect("only a budget makes a plan infeasible");
                assert!(
                    e.cheapest.total > budget,
                    "case {i}: infeasible but cheapest {} fits {budget}",
                    e.cheapest.total
                );
                let named = if request.language == Language::En {
                    "would work"
                } else {
                    "可行"
                };
                assert!(e.message.contains(named), "{}", e.message);
                // The budget the message names really works.
                let mut raised = request.clone();
                raised.budget = Some(e.cheapest.total.ceil());
                let plan = compose::compose(&raised, &weather, &candidates, 0).expect("the named budget works");
                assert!(check::check(&plan, &raised, &candidates).is_empty());
                infeasible += 1;
            }
        }
    }
    println!("{feasible} feasible, {infeasible} infeasible");
    assert!(
        feasible > 300 && infeasible > 20,
        "{feasible} feasible, {infeasible} infeasible"
    );
}
