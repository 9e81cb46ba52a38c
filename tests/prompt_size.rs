//! How many tokens the draft prompt costs (o200k_base, GPT-4o's tokenizer), for a 3-day
//! 杭州 plan for two on the embedded catalog: system, user and schema together. A small model
//! on a CPU reads about 100 tokens a second, so every token is a wait.

use planner::{
    catalog,
    domain::PlaceKind,
    providers::embedded_weather,
    travel::{
        candidates::Candidates,
        geo::Roads,
        prompts::draft,
        request::{self, SubmitRequest},
    },
};

/// What the draft prompt may cost at most.
const BUDGET_TOKENS: usize = 1500;

#[test]
fn the_draft_prompt_for_three_days_in_hangzhou_is_compact() {
    let today = chrono::Local::now().date_naive();
    let input: SubmitRequest = serde_json::from_value(serde_json::json!({
        "destination": "杭州", "days": 3, "travelers": 2,
        "budget": {"amount": 3000, "currency": "CNY"}, "interests": ["food", "nature"],
    }))
    .unwrap();
    let trip = request::resolve(&input, today).unwrap();
    let places = catalog::places("hangzhou");
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
    let city = catalog::city("hangzhou").unwrap();
    let weather: Vec<_> = (0..3)
        .map(|d| embedded_weather::day(city, trip.start_date + chrono::Duration::days(d)))
        .collect();
    let (system, user) = draft::prompt(&trip, &weather, &candidates);
    let schema = serde_json::to_string(&draft::schema(&candidates).schema).unwrap();
    if std::env::var_os("PRINT_PROMPT").is_some() {
        println!("{system}\n---\n{user}\n---\n{schema}");
    }
    let bpe = tiktoken_rs::o200k_base().unwrap();
    let count = |s: &str| bpe.encode_with_special_tokens(s).len();
    let (s, u, j) = (count(&system), count(&user), count(&schema));
    println!(
        "draft prompt, 3 days in 杭州, {} candidates: system {s} + user {u} + schema {j} = {} tokens",
        attractions.len() + restaurants.len() + hotels.len(),
        s + u + j
    );
    assert!(s + u + j <= BUDGET_TOKENS, "{} tokens", s + u + j);
}
