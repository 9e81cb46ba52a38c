//! The HTTP API: routes, shared state and serving. Handlers are thin: they validate,
//! call the store, and shape the answer.

mod body;
pub mod error;
mod health;
mod plans;
pub mod view;

use std::sync::Arc;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::StatusCode,
    routing::{get, post},
};
use sqlx::PgPool;

use crate::{api::error::ApiError, config::Settings};

pub use body::MAX_BODY_BYTES;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/plans", post(plans::submit).get(plans::list))
        .route("/v1/plans/{id}", get(plans::get))
        .route("/v1/plans/{id}/cancel", post(plans::cancel))
        .route("/v1/plans/{id}/approve", post(plans::approve))
        .route("/v1/plans/{id}/reject", post(plans::reject))
        .route("/v1/plans/{id}/retry", post(plans::retry))
        .route("/v1/plans/{id}/itinerary.md", get(plans::itinerary_markdown))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "api listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
