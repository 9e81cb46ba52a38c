//! The travel-planning graph and its nodes:
//!
//! ```text
//! understand ─┬─ weather ─┐
//!             ├─ places  ─┼─ routes ── draft ── check ──(violations, ≤2 revisions)──> draft
//!             └─ lodging ─┘                          └─(ok, or out of revisions)── approval ── finalize
//! ```
//!
//! `routes` measures the roads between the candidates when the places source can (Amap);
//! otherwise, and for any pair it could not measure, legs are estimated from coordinates.
//!
//! Each node's output is JSON, checkpointed by the runtime. With an LLM configured,
//! `understand` and `draft` ask it first and fall back to the embedded rules and composer
//! (with a warning) when its answers stay invalid or it is out of reach.

use std::{path::PathBuf, sync::Arc};

use async_trait::async_trait;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    graph::{Graph, Node, NodeContext, NodeError, to_output},
    llm::{self, LlmReport, Usage},
    metrics,
    planner::{
        catalog::{self, City, Place, PlaceKind},
        check::{self, Violation},
        compose::{self, Candidates},
        geo::Roads,
        itinerary::{DayWeather, Itinerary, Source},
        markdown,
        request::{self, SubmitRequest, TripRequest},
        routes,
    },
    providers::{
        PlacesProvider, ProviderError, Providers, WeatherProvider, embedded_places::CuratedPlaces,
        embedded_weather::ClimateNormals,
    },
    resilience::OnOpen,
};

/// Revisions after the first draft before the plan fails instead of being delivered broken.
pub const MAX_REVISIONS: u32 = 2;

/// The planner's policies, from the settings.
#[derive(Debug, Clone)]
pub struct PlannerPolicy {
    pub results_dir: Option<PathBuf>,
    /// Over budget by at most this share: ask for approval rather than fail.
    pub approval_over_budget: f64,
    /// Built on degraded data: ask for approval.
    pub approval_on_degraded: bool,
}

pub fn planner_graph(providers: Providers, policy: PlannerPolicy) -> Graph {
    let providers = Arc::new(providers);
    let policy = Arc::new(policy);
    Graph::new("understand")
        .node("understand", Understand(providers.clone()))
        .node("weather", Weather(providers.clone()))
        .node("places", Places(providers.clone()))
        .node("lodging", Lodging(providers.clone()))
        .node("routes", Routes(providers.clone()))
        .node("draft", Draft(policy.clone(), providers))
        .node("check", Check)
        .node("approval", Approval(policy.clone()))
        .node("finalize", Finalize(policy))
        .edge("understand", &["weather", "places", "lodging"])
        // Waves run in step: everything after the fan-out waits for all three.
        .edge("weather", &["routes"])
        .edge("places", &["routes"])
        .edge("lodging", &["routes"])
        .edge("routes", &["draft"])
        .edge("draft", &["check"])
        .branch("check", |outputs| {
            let report: Option<CheckReport> = outputs
                .get("check")
                .and_then(|v| serde_json::from_value(v.clone()).ok());
            match report {
                Some(r) if !r.violations.is_empty() && r.round <= MAX_REVISIONS => vec!["draft"],
                _ => vec!["approval"],
            }
        })
        .edge("approval", &["finalize"])
        .end("finalize")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fetched<T> {
    pub data: T,
    pub source: Source,
    /// Why the embedded fallback was used instead of the provider, when it was.
    #[serde(default)]
    pub degraded: Option<String>,
}

/// The output of `routes`: measured roads (empty when legs are estimated).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Routed {
    pub roads: Roads,
    pub source: Source,
    /// Why some or all roads are estimated although the source measures them.
    #[serde(default)]
    pub warning: Option<String>,
}

/// The output of `understand`: the request, and what the LLM did for it, if one is used.
/// Flattened, so that nodes reading a plain `TripRequest` keep working.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Understood {
    #[serde(flatten)]
    pub request: TripRequest,
    #[serde(default)]
    pub llm: Option<LlmReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Drafted {
    pub plan: Itinerary,
    /// Set when no plan fits the budget but the cheapest is close enough to offer for approval.
    #[serde(default)]
    pub over_budget_by: Option<f64>,
    /// The LLM's part in this draft and any earlier visit of `draft`.
    #[serde(default)]
    pub llm: Option<LlmReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckReport {
    pub round: u32,
    pub violations: Vec<Violation>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Approved {
    pub reasons: Vec<String>,
    pub decided_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finalized {
    pub result: Itinerary,
    pub markdown: String,
    /// LLM tokens over understand and every draft; `None` without an LLM.
    #[serde(default)]
    pub token_usage: Option<Usage>,
}

fn city_of(request: &TripRequest) -> Result<&'static City, NodeError> {
    catalog::city(&request.city)
        .ok_or_else(|| NodeError::permanent("unknown_destination", format!("no data for {}", request.city)))
}

fn source(kind: &str, provider: &str) -> Source {
    Source {
        kind: kind.into(),
        provider: provider.into(),
        at: Utc::now().to_rfc3339(),
    }
}

/// What a node does with its provider's failure, by the upstream's policy: degrade to the
/// embedded source (returns the reason), wait for the breaker, or fail the attempt.
fn on_failure(kind: &str, error: ProviderError, on_open: OnOpen) -> Result<String, NodeError> {
    match (on_open, error) {
        (OnOpen::Degrade, e) => Ok(format!("{kind}: {e}; used embedded data instead")),
        (OnOpen::Wait, ProviderError::BreakerOpen { provider, cool_down }) => Err(NodeError::Wait {
            delay: cool_down,
            reason: format!("{kind}: {provider} circuit breaker open"),
        }),
        (OnOpen::Wait, e @ ProviderError::Permanent { .. }) => Err(NodeError::permanent("provider", e.to_string())),
        (OnOpen::Wait, e) => Err(NodeError::Transient(e.to_string())),
    }
}

struct Understand(Arc<Providers>);

#[async_trait]
impl Node for Understand {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let input: SubmitRequest = serde_json::from_value(ctx.input["request"].clone())
            .map_err(|e| NodeError::permanent("invalid_request", format!("request is malformed: {e}")))?;
        let today = chrono::Local::now().date_naive();
        // The rules' reading: the fallback when the LLM gives none.
        let ruled = request::understand(&input, today).map_err(|e| NodeError::permanent(&e.code, e.message));
        let query = input.query.as_deref().map(str::trim).filter(|q| !q.is_empty());
        let understood = match (&self.0.llm, query) {
            (Some(llm), Some(query)) => {
                let answer = llm::understand::understand(llm, &input, query, today).await;
                let request = match answer.value {
                    Some(request) => request,
                    None => {
                        metrics::llm_fallback("understand");
                        ruled?
                    }
                };
                Understood {
                    request,
                    llm: Some(answer.report),
                }
            }
            _ => Understood {
                request: ruled?,
                llm: None,
            },
        };
        to_output(&understood)
    }
}

/// The provider's answer; or, by the upstream's policy, the embedded source's answer with
/// the reason it was degraded; or the node's error. The fallback future runs only if needed.
async fn fetch_or_degrade<T: Serialize>(
    kind: &str,
    provider: &str,
    on_open: OnOpen,
    live: impl Future<Output = Result<T, ProviderError>>,
    fallback: impl Future<Output = Result<T, ProviderError>>,
) -> Result<Value, NodeError> {
    let fetched = match live.await {
        Ok(data) => Fetched {
            data,
            source: source(kind, provider),
            degraded: None,
        },
        Err(e) => {
            let reason = on_failure(kind, e, on_open)?;
            tracing::warn!(kind, reason, "degraded to embedded data");
            let data = fallback.await.map_err(|e| NodeError::Transient(e.to_string()))?;
            Fetched {
                data,
                source: source(kind, "embedded"),
                degraded: Some(reason),
            }
        }
    };
    to_output(&fetched)
}

struct Weather(Arc<Providers>);

#[async_trait]
impl Node for Weather {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let request: TripRequest = ctx.output("understand")?;
        let city = city_of(&request)?;
        let (start, days) = (request.start_date, request.days);
        let p = &self.0.weather;
        let fallback = ClimateNormals.forecast(city, start, days);
        fetch_or_degrade(
            "weather",
            p.name(),
            self.0.weather_on_open,
            p.forecast(city, start, days),
            fallback,
        )
        .await
    }
}

struct Places(Arc<Providers>);

#[async_trait]
impl Node for Places {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let request: TripRequest = ctx.output("understand")?;
        let city = city_of(&request)?;
        let p = &self.0.places;
        fetch_or_degrade(
            "places",
            p.name(),
            self.0.places_on_open,
            p.places(city),
            CuratedPlaces.places(city),
        )
        .await
    }
}

struct Lodging(Arc<Providers>);

#[async_trait]
impl Node for Lodging {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let request: TripRequest = ctx.output("understand")?;
        let city = city_of(&request)?;
        let p = &self.0.places;
        fetch_or_degrade(
            "lodging",
            p.name(),
            self.0.places_on_open,
            p.hotels(city),
            CuratedPlaces.hotels(city),
        )
        .await
    }
}

struct Routes(Arc<Providers>);

#[async_trait]
impl Node for Routes {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let places: Fetched<Vec<Place>> = ctx.output("places")?;
        let hotels: Fetched<Vec<Place>> = ctx.output("lodging")?;
        let p = &self.0.places;
        // Degraded candidates come from the embedded catalog, which the live source did not list.
        let routed = if p.measures_roads() && places.degraded.is_none() && hotels.degraded.is_none() {
            let all: Vec<Place> = places.data.into_iter().chain(hotels.data).collect();
            let (roads, warning) = routes::measure(p.as_ref(), &all).await;
            let provider = if roads.is_empty() { "estimated" } else { p.name() };
            Routed {
                source: source("routes", provider),
                roads,
                warning,
            }
        } else {
            Routed {
                roads: Roads::default(),
                source: source("routes", "estimated"),
                warning: None,
            }
        };
        to_output(&routed)
    }
}

/// The drafting inputs, gathered from the outputs of understand, weather, places, lodging, routes.
struct Inputs {
    request: TripRequest,
    weather: Fetched<Vec<DayWeather>>,
    attractions: Vec<Place>,
    restaurants: Vec<Place>,
    hotels: Fetched<Vec<Place>>,
    places_source: Source,
    places_degraded: Option<String>,
    routes: Routed,
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
            places_degraded: places.degraded,
            routes: ctx.output("routes")?,
        })
    }

    fn candidates(&self) -> Candidates<'_> {
        Candidates {
            attractions: &self.attractions,
            restaurants: &self.restaurants,
            hotels: &self.hotels.data,
            roads: &self.routes.roads,
        }
    }

    fn degraded(&self) -> Vec<String> {
        [&self.weather.degraded, &self.places_degraded, &self.hotels.degraded]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

struct Draft(Arc<PlannerPolicy>, Arc<Providers>);

#[async_trait]
impl Node for Draft {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let inputs = Inputs::gather(ctx)?;
        // The LLM drafts first; a revision (the checker rejected the composer's draft) does not
        // ask it again, but keeps its report.
        let mut report: Option<LlmReport> = if ctx.visit > 1 {
            ctx.output::<Drafted>("draft").ok().and_then(|d| d.llm)
        } else {
            None
        };
        if let (Some(llm), 1) = (&self.1.llm, ctx.visit) {
            let answer = llm::draft::draft(llm, &inputs.request, &inputs.weather.data, &inputs.candidates()).await;
            if let Some(plan) = answer.value {
                return to_output(&Drafted {
                    plan,
                    over_budget_by: None,
                    llm: Some(answer.report),
                });
            }
            metrics::llm_fallback("draft");
            report = Some(answer.report);
        }
        // A revision drafts more conservatively than the draft the checker rejected.
        let thrift = (ctx.visit - 1).min(u32::from(compose::MAX_THRIFT)) as u8;
        let drafted = match compose::compose(&inputs.request, &inputs.weather.data, &inputs.candidates(), thrift) {
            Ok(plan) => Drafted {
                plan,
                over_budget_by: None,
                llm: report,
            },
            Err(infeasible) => {
                let budget = inputs.request.budget.unwrap_or(0.0);
                let over = infeasible.cheapest.total - budget;
                if budget > 0.0 && over <= budget * self.0.approval_over_budget {
                    Drafted {
                        plan: *infeasible.plan,
                        over_budget_by: Some(over),
                        llm: report,
                    }
                } else {
                    return Err(NodeError::permanent("budget_too_low", infeasible.message));
                }
            }
        };
        to_output(&drafted)
    }
}

struct Check;

#[async_trait]
impl Node for Check {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let inputs = Inputs::gather(ctx)?;
        let drafted: Drafted = ctx.output("draft")?;
        let mut violations = check::check(&drafted.plan, &inputs.request, &inputs.candidates());
        if drafted.over_budget_by.is_some() {
            // Not silently: the approval node asks a person to accept it.
            violations.retain(|v| v.code != "budget");
        }
        if !violations.is_empty() {
            tracing::warn!(round = ctx.visit, count = violations.len(), first = %violations[0].message, "draft breaks hard constraints");
        }
        to_output(&CheckReport {
            round: ctx.visit,
            violations,
        })
    }
}

struct Approval(Arc<PlannerPolicy>);

#[async_trait]
impl Node for Approval {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let inputs = Inputs::gather(ctx)?;
        let drafted: Drafted = ctx.output("draft")?;
        let mut reasons = Vec::new();
        if inputs.request.require_approval {
            reasons.push("the request asks for approval".to_string());
        }
        if let Some(over) = drafted.over_budget_by {
            reasons.push(format!("over budget by {over:.0} {}", inputs.request.currency));
        }
        if self.0.approval_on_degraded {
            reasons.extend(inputs.degraded().into_iter().map(|d| format!("degraded data: {d}")));
        }
        let decision = &ctx.input["approval"];
        if !reasons.is_empty() && decision["decision"] != "approved" {
            return Err(NodeError::AwaitApproval {
                reason: reasons.join("; "),
            });
        }
        to_output(&Approved {
            reasons,
            decided_by: decision["decided_by"].as_str().map(str::to_owned),
        })
    }
}

struct Finalize(Arc<PlannerPolicy>);

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
        let drafted: Drafted = ctx.output("draft")?;
        let understood: Understood = ctx.output("understand")?;
        let mut result = drafted.plan;
        let drafted_by = match &drafted.llm {
            Some(r) if r.fallback.is_none() => format!("llm:{}", r.model),
            _ => "embedded".to_string(),
        };
        result.sources = vec![
            inputs.weather.source.clone(),
            inputs.places_source.clone(),
            inputs.hotels.source.clone(),
            source("draft", &drafted_by),
            inputs.routes.source.clone(),
        ];
        result.warnings.extend(inputs.degraded());
        result.warnings.extend(inputs.routes.warning.clone());
        let reports = [&understood.llm, &drafted.llm];
        for report in reports.into_iter().flatten() {
            if let Some(why) = &report.fallback {
                result
                    .warnings
                    .push(format!("{why}; used the embedded planner instead"));
            }
        }
        let token_usage = reports.into_iter().flatten().fold(None, |sum: Option<Usage>, r| {
            let mut sum = sum.unwrap_or_default();
            sum.add(r.usage);
            Some(sum)
        });
        if let Some(over) = drafted.over_budget_by {
            result.warnings.push(format!(
                "over budget by {over:.0} {}: accepted at approval",
                result.currency
            ));
        }
        let markdown = markdown::render(&result);
        if let Some(dir) = &self.0.results_dir {
            write_files(dir, ctx.plan_id, &result, &markdown)
                .await
                .map_err(|e| NodeError::Transient(format!("cannot write results to {}: {e}", dir.display())))?;
        }
        to_output(&Finalized {
            result,
            markdown,
            token_usage,
        })
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
