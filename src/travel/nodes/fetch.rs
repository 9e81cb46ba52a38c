//! `weather`, `places` and `lodging`: the trip's data from its provider, each under its
//! upstream's policy when the provider fails — degrade to the embedded source (with the
//! reason, which becomes a warning), wait for the breaker, or fail the attempt.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use crate::{
    graph::{Node, NodeContext, NodeError, to_output},
    providers::{
        PlacesProvider, ProviderError, WeatherProvider, embedded_places::CuratedPlaces,
        embedded_weather::ClimateNormals,
    },
    resilience::OnOpen,
    travel::{
        nodes::{
            context::{city_of, output, source},
            outputs::Fetched,
            step::Step,
        },
        request::TripRequest,
        sources::Sources,
        words::Words,
    },
};

pub struct Weather(pub Arc<Sources>);

#[async_trait]
impl Node for Weather {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let request: TripRequest = output(ctx, Step::Understand)?;
        let city = city_of(&request.city)?;
        let (start, days) = (request.start_date, request.days);
        let p = &self.0.weather;
        let fallback = ClimateNormals.forecast(city, start, days);
        let words = Words(request.language);
        let live = p.forecast(city, start, days);
        fetch_or_degrade(Step::Weather, p.name(), self.0.weather_on_open, words, live, fallback).await
    }
}

pub struct Places(pub Arc<Sources>);

#[async_trait]
impl Node for Places {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let request: TripRequest = output(ctx, Step::Understand)?;
        let city = city_of(&request.city)?;
        let p = &self.0.places;
        let (live, fallback) = (p.places(city), CuratedPlaces.places(city));
        let words = Words(request.language);
        fetch_or_degrade(Step::Places, p.name(), self.0.places_on_open, words, live, fallback).await
    }
}

pub struct Lodging(pub Arc<Sources>);

#[async_trait]
impl Node for Lodging {
    async fn run(&self, ctx: &NodeContext) -> Result<Value, NodeError> {
        let request: TripRequest = output(ctx, Step::Understand)?;
        let city = city_of(&request.city)?;
        let p = &self.0.places;
        let (live, fallback) = (p.hotels(city), CuratedPlaces.hotels(city));
        let words = Words(request.language);
        fetch_or_degrade(Step::Lodging, p.name(), self.0.places_on_open, words, live, fallback).await
    }
}

/// The provider's answer; or, by the upstream's policy, the embedded source's answer with
/// the reason it was degraded; or the node's error. The fallback future runs only if needed.
async fn fetch_or_degrade<T: Serialize>(
    step: Step,
    provider: &str,
    on_open: OnOpen,
    words: Words,
    live: impl Future<Output = Result<T, ProviderError>>,
    fallback: impl Future<Output = Result<T, ProviderError>>,
) -> Result<Value, NodeError> {
    let kind = step.as_str();
    let fetched = match live.await {
        Ok(data) => Fetched {
            data,
            source: source(kind, provider),
            degraded: None,
        },
        Err(e) => {
            let reason = on_failure(kind, e, on_open, words)?;
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

/// What a node does with its provider's failure, by the upstream's policy: degrade to the
/// embedded source (returns the reason), wait for the breaker, or fail the attempt.
fn on_failure(kind: &str, error: ProviderError, on_open: OnOpen, words: Words) -> Result<String, NodeError> {
    match (on_open, error) {
        (OnOpen::Degrade, e) => Ok(words.degraded(kind, &e.to_string())),
        (OnOpen::Wait, ProviderError::BreakerOpen { provider, cool_down }) => Err(NodeError::Wait {
            delay: cool_down,
            reason: format!("{kind}: {provider} circuit breaker open"),
            upstream: provider,
        }),
        (OnOpen::Wait, e @ ProviderError::Permanent { .. }) => Err(NodeError::permanent("provider", e.to_string())),
        (OnOpen::Wait, e) => Err(NodeError::Transient(e.to_string())),
    }
}
