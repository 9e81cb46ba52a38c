//! What makes a plan one a traveller can use, through the whole path: live places that
//! cannot make a valid plan are helped by the curated catalog (and the plan says so), and
//! the plan speaks the request's language.

mod common;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use common::{in_days, migrated, result_of, router, submit, wait_for};
use planner::{
    catalog,
    config::Settings,
    domain::{City, Place, PlaceKind},
    providers::{PlacesProvider, ProviderError, embedded_weather::ClimateNormals},
    queue::{executor::Executor, worker},
    travel::sources::Sources,
};
use serde_json::{Value, json};
use sqlx::PgPool;

/// A live places source with valid but unhelpful data: the city's places under other ids,
/// restaurants closing at `closes` (minutes), and only the first `attractions` attractions.
struct Unhelpful {
    closes: u32,
    attractions: usize,
}

impl Unhelpful {
    fn listed(&self, city: &City, kind: PlaceKind) -> Vec<Place> {
        catalog::places(&city.id)
            .iter()
            .filter(|p| p.kind == kind)
            .take(if kind == PlaceKind::Attraction {
                self.attractions
            } else {
                usize::MAX
            })
            .map(|p| Place {
                id: format!("live-{}", p.id),
                closes: if kind == PlaceKind::Restaurant {
                    self.closes.min(p.closes)
                } else {
                    p.closes
                },
                ..p.clone()
            })
            .collect()
    }
}

#[async_trait]
impl PlacesProvider for Unhelpful {
    fn name(&self) -> &str {
        "live-fake"
    }

    async fn places(&self, city: &City) -> Result<Vec<Place>, ProviderError> {
        let mut out = self.listed(city, PlaceKind::Attraction);
        out.extend(self.listed(city, PlaceKind::Restaurant));
        Ok(out)
    }

    async fn hotels(&self, city: &City) -> Result<Vec<Place>, ProviderError> {
        Ok(self.listed(city, PlaceKind::Hotel))
    }
}

async fn plan_with(pool: &PgPool, places: Unhelpful, body: Value) -> (String, Value) {
    migrated(pool).await;
    let settings = Settings::for_database("postgres://unused").expect("settings from the environment");
    let sources = Sources::guarded(Arc::new(ClimateNormals), Arc::new(places), &settings);
    let executor = Executor::new(pool.clone(), &settings, sources);
    let (task, stop) = worker::spawn_in_process(pool.clone(), executor, settings);
    let id = submit(&router(pool), &body).await;
    let (status, _) = wait_for(pool, id, Duration::from_secs(30), |s, _| {
        matches!(s, "succeeded" | "failed" | "awaiting_approval")
    })
    .await;
    let _ = stop.send(());
    let _ = task.await;
    (status, result_of(pool, id).await)
}

fn warnings(result: &Value) -> String {
    result["warnings"].to_string()
}

#[sqlx::test(migrations = false)]
async fn restaurants_closing_at_half_past_five_are_replaced_by_the_curated_ones(pool: PgPool) {
    let live = Unhelpful {
        closes: 17 * 60 + 30,
        attractions: usize::MAX,
    };
    let body = json!({"destination": "Hangzhou", "start_date": in_days(3), "days": 3, "travelers": 2});
    let (status, result) = plan_with(&pool, live, body).await;
    assert_eq!(status, "succeeded", "{result}");
    assert!(
        warnings(&result).contains("planned from the curated catalog"),
        "{}",
        warnings(&result)
    );
    assert_eq!(result["sources"][1]["provider"], "embedded");
    for day in result["days"].as_array().unwrap().iter().take(2) {
        let dinner = day["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == "meal" && i["start"].as_str() >= Some("18:00"));
        assert!(dinner.is_some(), "a dinner on {}", day["date"]);
    }
}

#[sqlx::test(migrations = false)]
async fn too_few_live_attractions_for_the_days_are_mixed_with_the_curated_ones(pool: PgPool) {
    let live = Unhelpful {
        closes: 24 * 60,
        attractions: 2,
    };
    let body = json!({"destination": "Chengdu", "start_date": in_days(3), "days": 4, "travelers": 2});
    let (status, result) = plan_with(&pool, live, body).await;
    assert_eq!(status, "succeeded", "{result}");
    assert!(
        warnings(&result).contains("the curated catalog was mixed in"),
        "{}",
        warnings(&result)
    );
    assert_eq!(result["sources"][1]["provider"], "live-fake+embedded");
    let visited: Vec<&str> = result["days"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["items"].as_array().unwrap())
        .filter(|i| i["kind"] == "attraction")
        .filter_map(|i| i["place_id"].as_str())
        .collect();
    assert!(visited.len() > 4, "more than the two live attractions: {visited:?}");
    assert!(visited.iter().any(|id| id.starts_with("live-")), "the live ones too");
}

#[sqlx::test(migrations = false)]
async fn a_stated_interest_no_place_answers_is_said_with_why(pool: PgPool) {
    migrated(&pool).await;
    // Suzhou's curated places have nothing for families; history is everywhere.
    let body = json!({"destination": "Suzhou", "start_date": in_days(3), "days": 2,
                      "interests": ["family", "history"]});
    let settings = Settings::for_database("postgres://unused").expect("settings from the environment");
    let executor = Executor::new(pool.clone(), &settings, Sources::embedded(&settings));
    let (task, stop) = worker::spawn_in_process(pool.clone(), executor, settings);
    let id = submit(&router(&pool), &body).await;
    wait_for(&pool, id, Duration::from_secs(30), |s, _| s == "succeeded").await;
    let _ = stop.send(());
    let _ = task.await;
    let warnings = warnings(&result_of(&pool, id).await);
    assert!(
        warnings.contains("your interest in family: none of the places known here does"),
        "{warnings}"
    );
    assert!(!warnings.contains("interest in history"), "{warnings}");
}
