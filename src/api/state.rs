//! What every handler shares: the database pool, the settings, and the process's one
//! listener for live timelines.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{api::timeline_hub::TimelineHub, config::Settings};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub timeline: TimelineHub,
}

impl AppState {
    pub fn new(pool: PgPool, settings: Arc<Settings>) -> Self {
        Self {
            timeline: TimelineHub::new(pool.clone()),
            pool,
            settings,
        }
    }
}
