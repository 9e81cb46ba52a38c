//! Properties: for random requests over every destination, the composer's plan passes the
//! checker, or the request is reported infeasible with a budget that would work; and free
//! text in Chinese or English, written the ways travellers write, is read right before it
//! is planned.

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
        request::{self, SubmitRequest, TripRequest},
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

const EN_NUMBERS: [&str; 12] = [
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
];
const ZH_NUMBERS: [&str; 10] = ["一", "两", "三", "四", "五", "六", "七", "八", "九", "十"];

/// A party of `n`, said one of the ways people say it, in English.
fn en_party(rng: &mut StdRng, n: usize) -> String {
    match (rng.random_range(0..6), n) {
        (0, 2) => "a couple".into(),
        (1, 2) => "me and my partner".into(),
        (_, 1) => "solo".into(),
        (2, _) => format!("for {}", EN_NUMBERS[n - 1]),
        (3, _) => format!("a family of {n}"),
        (4, _) => format!("a group of {}", EN_NUMBERS[n - 1]),
        (_, n) if n >= 3 => format!("{} adults and {} kids", EN_NUMBERS[n - 2], EN_NUMBERS[0]),
        _ => format!("{n} people"),
    }
}

/// A party of `n` in Chinese.
fn zh_party(rng: &mut StdRng, n: usize) -> String {
    match (rng.random_range(0..4), n) {
        (_, 1) => "一个人".into(),
        (0, _) => format!("{n}个人"),
        (1, _) => format!("一家{}口", ZH_NUMBERS[n - 1]),
        (2, n) if n >= 3 => format!("{}大1小", n - 1),
        _ => format!("{}个人", ZH_NUMBERS[n - 1]),
    }
}

#[test]
fn free_text_in_both_languages_is_read_right_then_planned_or_refused_by_name() {
    let mut rng = StdRng::seed_from_u64(20261128);
    let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
    let cities = &catalog::catalog().cities;
    let (mut planned, mut refused) = (0, 0);
    for i in 0..400 {
        let city = &cities[rng.random_range(0..cities.len())];
        let days = rng.random_range(1..=9usize);
        let party = rng.random_range(1..=6usize);
        let per_person = rng.random_range(0..3) == 0;
        let amount = rng.random_range(3..=40) * 500;
        let english = rng.random_bool(0.5);
        let query = if english {
            let stay = if days > 1 && rng.random_bool(0.4) {
                format!("{} nights", days - 1)
            } else {
                format!("{days} days")
            };
            let budget = if per_person {
                format!("{amount} yuan per person")
            } else {
                format!("budget {},{:03} RMB", amount / 1000, amount % 1000)
            };
            format!("{stay} in {} {}, {budget}", city.name_en, en_party(&mut rng, party))
        } else {
            let stay = if days > 1 && rng.random_bool(0.4) {
                format!("{}晚", ZH_NUMBERS[days - 2])
            } else {
                format!("{days}天")
            };
            let budget = if per_person {
                format!("每人{amount}元")
            } else {
                format!("预算{amount}元")
            };
            format!("{}{stay}，{}，{budget}", city.name, zh_party(&mut rng, party))
        };
        let input = SubmitRequest {
            query: Some(query.clone()),
            ..SubmitRequest::default()
        };
        let trip = request::resolve(&input, today).unwrap_or_else(|e| panic!("case {i}: {query:?}: {e:?}"));
        let budget = amount as f64 * if per_person { party as f64 } else { 1.0 };
        assert_eq!(
            (
                trip.city.as_str(),
                trip.days as usize,
                trip.travelers as usize,
                trip.budget
            ),
            (city.id.as_str(), days, party, Some(budget)),
            "case {i}: {query:?}"
        );
        let language = if english { Language::En } else { Language::Zh };
        assert_eq!(trip.language, language, "case {i}: {query:?}");
        let places = catalog::places(&trip.city);
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
        let weather: Vec<_> = (0..trip.days)
            .map(|d| embedded_weather::day(city, trip.start_date + Duration::days(d as i64)))
            .collect();
        match compose::compose(&trip, &weather, &candidates, 0) {
            Ok(plan) => {
                let violations = check::check(&plan, &trip, &candidates);
                assert!(violations.is_empty(), "case {i}: {query:?}: {violations:#?}");
                assert_eq!(plan.language, language);
                planned += 1;
            }
            Err(e) => {
                let named = if english { "would work" } else { "可行" };
                assert!(e.message.contains(named), "case {i}: {}", e.message);
                refused += 1;
            }
        }
    }
    println!("{planned} planned, {refused} refused as over budget, by name");
    assert!(planned > 200, "{planned} planned");
}
