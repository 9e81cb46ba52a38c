//! The travel-planning graph and its nodes:
//!
//! ```text
//! understand ─┬─ weather ─┐
//!             ├─ places  ─┼─ draft ── check ──(violations, ≤2 revisions)──> draft
//!             └─ lodging ─┘                └─(ok, or out of revisions)──> finalize
//! ```
//!
//! Each node's output is JSON, checkpointed by the runtime.

use std::{path::PathBuf, sync::Arc};

use async_trait::async_trait;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    graph::{Graph, Node, NodeContext, NodeError, to_output},
    planner::{
        catalog::{self, City, Place, PlaceKind},
        check::{self, Violation},
        compose::{self, Candidates},
        itinerary::{DayWeather, Itinerary, Source},
        markdown,
        request::{self, SubmitRequest, TripRequest},
    },
    providers::{ProviderError, Providers},
};

/// Revisions after the first draft before the plan fails instead of being delivered broken.
pub const MAX_REVISIONS: u32 = 2;

pub fn planner_graph(providers: Providers, results_dir: Option<PathBuf>) -> Graph {
    let providers = Arc::new(providers);
    Graph::new("understand")
        .node("understand", Understand)
        .node("weather", Weather(providers.clone()))
        .node("places", Places(providers.clone()))
        .node("lodging", Lodging(providers))
        .node("draft", Draft)
        .node("check", Check)
        .node("finalize", Finalize { results_dir })
        .edge("understand", &["weather", "places", "lodging"])
        .edge("weather", &["draft"])
        .edge("places", &["draft"])
        .edge("lodging", &["draft"])
        .edge("draft", &["check"])
        .branch("check", |outputs| {
            let report: Option<CheckReport> = outputs
                .get("check")
                .and_then(|v| serde_json::from_value(v.clone()).ok());
            match report {
                Some(r) if !r.violations.is_empty() && r.round <= MAX_REVISIONS => vec!["draft"],
                _ => vec!["finalize"],
            }
        })
        .end("finalize")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fetched<T> {
    pub data: T,
    pub source: Source,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckReport {
    pub round: u32,
    pub violations: Vec<Violation>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finalized {
    pub result: Itinerary,
    pub markdown: String,
}

fn city_of(request: &TripRequest) -> Result<&'static City, NodeError> {
    catalog::city(&request.city)
        .ok_or_else(|| NodeError::permanent("unknown_destination", format!("no data for {}", request.city)))
}

fn provider_error(e: ProviderError) -> NodeError {
    match e {
        ProviderError::Transient { .. } => NodeError::Transient(e.to_string()),
        ProviderError::Permanent { .. } => NodeError::permanent("provider", e.to_string()),
    }
}

fn source(kind: &str, provider: &str) -> Source {
    Source {
        kind: kind.into(),
        provider: provider.into(),
        at: Utc::now().to_rfc3339(),
    }
}

struct Understand;

#[async_trait]
impl Node for Understand {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let input: SubmitRequest = serde_json::from_value(ctx.input.clone())
            .map_err(|e| NodeError::permanent("invalid_request", format!("request is malformed: {e}")))?;
        let today = chrono::Local::now().date_naive();
        let request = request::understand(&input, today).map_err(|e| NodeError::permanent(&e.code, e.message))?;
        to_output(&request)
    }
}

struct Weather(Arc<Providers>);

#[async_trait]
impl Node for Weather {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let request: TripRequest = ctx.output("understand")?;
        let provider = &self.0.weather;
        let days = provider
            .forecast(city_of(&request)?, request.start_date, request.days)
            .await
            .map_err(provider_error)?;
        to_output(&Fetched {
            data: days,
            source: source("weather", provider.name()),
        })
    }
}

struct Places(Arc<Providers>);

#[async_trait]
impl Node for Places {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let request: TripRequest = ctx.output("understand")?;
        let provider = &self.0.places;
        let places = provider.places(city_of(&request)?).await.map_err(provider_error)?;
        to_output(&Fetched {
            data: places,
            source: source("places", provider.name()),
        })
    }
}

struct Lodging(Arc<Providers>);

#[async_trait]
impl Node for Lodging {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let request: TripRequest = ctx.output("understand")?;
        let provider = &self.0.places;
        let hotels = provider.hotels(city_of(&request)?).await.map_err(provider_error)?;
        to_output(&Fetched {
            data: hotels,
            source: source("lodging", provider.name()),
        })
    }
}

/// The drafting inputs, gathered from the outputs of understand, weather, places, lodging.
struct Inputs {
    request: TripRequest,
    weather: Fetched<Vec<DayWeather>>,
    attractions: Vec<Place>,
    restaurants: Vec<Place>,
    hotels: Fetched<Vec<Place>>,
    places_source: Source,
}

impl Inputs {
    fn gather(ctx: &NodeContext) -> Result<Self, NodeError> {
        let places: Fetched<Vec<Place>> = ctx.output("places")?;
        let (attractions, restaurants) = places.data.into_iter().partition(|p| p.kind == PlaceKind::Attraction);
        Ok(Self {
            request: ctx.output("understand")?,
            weather: ctx.output("weather")?,
            attractions,
            restaurants,
            hotels: ctx.output("lodging")?,
            places_source: places.source,
        })
    }

    fn candidates(&self) -> Candidates<'_> {
        Candidates {
            attractions: &self.attractions,
            restaurants: &self.restaurants,
            hotels: &self.hotels.data,
        }
    }
}

struct Draft;

#[async_trait]
impl Node for Draft {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let inputs = Inputs::gather(ctx)?;
        // A revision drafts more conservatively than the draft the checker rejected.
        let thrift = (ctx.visit - 1).min(u32::from(compose::MAX_THRIFT)) as u8;
        let plan = compose::compose(&inputs.request, &inputs.weather.data, &inputs.candidates(), thrift)
            .map_err(|infeasible| NodeError::permanent("budget_too_low", infeasible.message))?;
        to_output(&plan)
    }
}

struct Check;

#[async_trait]
impl Node for Check {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let inputs = Inputs::gather(ctx)?;
        let plan: Itinerary = ctx.output("draft")?;
        let violations = check::check(&plan, &inputs.request, &inputs.candidates());
        if !violations.is_empty() {
            tracing::warn!(round = ctx.visit, count = violations.len(), first = %violations[0].message, "draft breaks hard constraints");
        }
        to_output(&CheckReport {
            round: ctx.visit,
            violations,
        })
    }
}

struct Finalize {
    results_dir: Option<PathBuf>,
}

#[async_trait]
impl Node for Finalize {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let inputs = Inputs::gather(ctx)?;
        let report: CheckReport = ctx.output("check")?;
        if !report.violations.is_empty() {
            let list: Vec<String> = report.violations.iter().take(5).map(|v| v.message.clone()).collect();
            return Err(NodeError::permanent(
                "constraints_violated",
                format!(
                    "no draft passed the checker after {} revisions: {}",
                    MAX_REVISIONS,
                    list.join("; ")
                ),
            ));
        }
        let mut result: Itinerary = ctx.output("draft")?;
        result.sources = vec![
            inputs.weather.source.clone(),
            inputs.places_source.clone(),
            inputs.hotels.source.clone(),
        ];
        let markdown = markdown::render(&result);
        if let Some(dir) = &self.results_dir {
            write_files(dir, ctx.plan_id, &result, &markdown)
                .await
                .map_err(|e| NodeError::Transient(format!("cannot write results to {}: {e}", dir.display())))?;
        }
        to_output(&Finalized { result, markdown })
    }
}

/// Writes `{id}.json` and `{id}.md` through a temporary name, so a reader never sees half a file.
async fn write_files(dir: &std::path::Path, id: uuid::Uuid, plan: &Itinerary, markdown: &str) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let json = serde_json::to_vec_pretty(plan).map_err(std::io::Error::other)?;
    for (ext, bytes) in [("json", json.as_slice()), ("md", markdown.as_bytes())] {
        let tmp = dir.join(format!(".{id}.{ext}.tmp"));
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, dir.join(format!("{id}.{ext}"))).await?;
    }
    Ok(())
}
