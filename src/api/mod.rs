//! The HTTP API: routes, shared state and serving. Handlers are thin: they validate,
//! call the store, and shape the answer (`view`).

mod access;
pub mod auth;
mod body;
mod callback;
mod destinations;
pub mod error;
mod events;
mod hardening;
mod health;
mod json_errors;
pub mod openapi;
mod params;
mod plans;
mod prometheus;
mod prototype;
mod state;
mod timeline_hub;
mod tls;
pub mod view;
mod web;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::StatusCode,
    routing::{get, post},
};
use std::collections::HashSet;

use tower_http::timeout::TimeoutLayer;
use utoipa_swagger_ui::SwaggerUi;

use sqlx::PgPool;

use crate::api::error::ApiError;

pub use body::MAX_BODY_BYTES;
pub use hardening::MAX_HEADER_BYTES;
pub use state::AppState;

pub fn router(state: AppState) -> Router {
    let timeout = state.settings.api_request_timeout;
    let cors_origins = state.settings.cors_origins.clone();
    let router = Router::new()
        .route("/v1/plans", post(plans::submit).get(plans::list))
        .route("/v1/plans/{id}", get(plans::get))
        .route("/v1/plans/{id}/cancel", post(plans::cancel))
        .route("/v1/plans/{id}/approve", post(plans::approve))
        .route("/v1/plans/{id}/reject", post(plans::reject))
        .route("/v1/plans/{id}/retry", post(plans::retry))
        .route("/v1/plans/{id}/itinerary.md", get(plans::itinerary_markdown))
        .route("/v1/plans/{id}/events", get(events::stream))
        .route("/v1/destinations", get(destinations::list))
        .route("/plan", post(prototype::plan))
        .route("/status/{task_id}", get(prototype::status))
        .route("/download/{task_id}", get(prototype::download))
        .route("/tasks", get(prototype::tasks))
        .route("/chat", post(prototype::chat))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(prometheus::metrics))
        .merge(SwaggerUi::new("/docs").external_url_unchecked("/openapi.json", openapi::document()))
        .merge(web::routes())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::caller::authenticate,
        ))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(axum::middleware::from_fn(json_errors::json_errors))
        .layer(axum::middleware::from_fn(hardening::secure_headers))
        .layer(axum::middleware::from_fn(track));
    let router = match hardening::cors(&cors_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.with_state(state)
}

/// Counts every request by its route pattern (not its path: ids would explode the labels).
async fn track(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let started = std::time::Instant::now();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().as_str().to_string();
    let span = tracing::info_span!("http_request", method = %method, route = %route);
    let response = tracing::Instrument::instrument(next.run(request), span).await;
    crate::metrics::http_request(&route, &method, response.status().as_u16(), started.elapsed());
    response
}

/// Refreshes the queue gauges every `period`: two cheap queries per api process, not per
/// scrape. A wait reason no plan has any more reads 0 rather than its last count.
pub async fn queue_gauges(pool: PgPool, owner_cap: u32, period: std::time::Duration) {
    let mut reasons_seen: HashSet<String> = HashSet::new();
    loop {
        match crate::store::plans::queue_depth(&pool).await {
            Ok((depth, oldest)) => {
                for (status, n) in depth {
                    crate::metrics::queue_depth(status.as_str(), n);
                }
                crate::metrics::oldest_queued_age(oldest);
            }
            Err(e) => tracing::debug!(error = %e, "queue gauges not refreshed"),
        }
        match crate::store::queue::waiting(&pool, owner_cap).await {
            Ok(waiting) => {
                let now: HashSet<String> = waiting.iter().map(|(r, _)| r.clone()).collect();
                for gone in reasons_seen.difference(&now) {
                    crate::metrics::plans_waiting(gone, 0);
                }
                for (reason, n) in waiting {
                    crate::metrics::plans_waiting(&reason, n);
                }
                reasons_seen.extend(now);
            }
            Err(e) => tracing::debug!(error = %e, "wait-reason gauge not refreshed"),
        }
        tokio::time::sleep(period).await;
    }
}

/// A worker's own small HTTP server: `/metrics` for Prometheus and `/health` for the
/// orchestrator's liveness probe.
pub fn worker_router() -> Router {
    Router::new()
        .route("/metrics", get(prometheus::metrics))
        .route("/health", get(health::health))
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let tls = state.settings.api_tls.as_ref().map(tls::server_config).transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(addr = %listener.local_addr()?, scheme, "api listening");
    // Live streams would hold the graceful shutdown open until their plans finish: they end
    // first, and their clients resume on another process.
    let timeline = state.timeline.clone();
    let shutdown = async move {
        shutdown.await;
        timeline.close();
    };
    let app = router(state);
    match tls {
        Some(config) => {
            let listener = tls::TlsListener::new(listener, config)?;
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await?
        }
        None => axum::serve(listener, app).with_graceful_shutdown(shutdown).await?,
    }
    Ok(())
}
