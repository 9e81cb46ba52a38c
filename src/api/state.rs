//! What every handler shares: the database pool, the settings, the process's one listener
//! for live timelines, the API keys it has looked up, and its batched plan reads and
//! submissions.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{
    api::{
        auth::{key_cache::KeyCache, rate_limit::RateLimits},
        timeline_hub::TimelineHub,
    },
    config::Settings,
    store::{plan_reads::Reads, submissions::Submissions},
};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub timeline: TimelineHub,
    pub keys: KeyCache,
    pub limits: RateLimits,
    pub reads: Reads,
    pub submissions: Submissions,
}

impl AppState {
    pub fn new(pool: PgPool, settings: Arc<Settings>) -> Self {
        Self {
            timeline: TimelineHub::new(pool.clone()),
            reads: Reads::spawn(pool.clone(), settings.queue.owner_max_running),
            submissions: Submissions::spawn(pool.clone(), settings.queue.owner_max_running),
            keys: KeyCache::default(),
            limits: RateLimits::new(settings.rate_limit_user_per_min, settings.rate_limit_admin_per_min),
            pool,
            settings,
        }
    }
}
