//! What every handler shares: the database pool, the settings, and the process's one
//! listener for live timelines, and the API keys it has looked up.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{
    api::{
        auth::{key_cache::KeyCache, rate_limit::RateLimits},
        timeline_hub::TimelineHub,
    },
    config::Settings,
};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub timeline: TimelineHub,
    pub keys: KeyCache,
    pub limits: RateLimits,
}

impl AppState {
    pub fn new(pool: PgPool, settings: Arc<Settings>) -> Self {
        Self {
            timeline: TimelineHub::new(pool.clone()),
            keys: KeyCache::default(),
            limits: RateLimits::new(settings.rate_limit_user_per_min, settings.rate_limit_admin_per_min),
            pool,
            settings,
        }
    }
}
