//! Completion webhooks' settings (`WEBHOOK_*`).

use std::time::Duration;

use super::{secret::Secret, vars::Vars};

/// Completion webhooks: how deliveries are signed and sent.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Signs every delivery. Without it no `callback_url` is accepted and no worker sends.
    pub secret: Option<Secret>,
    /// Callbacks to loopback, private and link-local addresses (tests, closed networks).
    pub allow_private: bool,
    /// One try's HTTP timeout.
    pub timeout: Duration,
    /// The first delay between tries; doubles each try, with jitter, capped at an hour.
    pub retry_base: Duration,
    /// How often an idle sender looks for due deliveries besides LISTEN/NOTIFY.
    pub poll_interval: Duration,
}

impl WebhookSettings {
    pub(super) fn read(vars: &Vars) -> anyhow::Result<Self> {
        Ok(Self {
            secret: vars.text("WEBHOOK_SECRET").map(Secret),
            allow_private: vars.parsed("WEBHOOK_ALLOW_PRIVATE", false)?,
            timeout: vars.secs("WEBHOOK_TIMEOUT_SECS", 10)?,
            retry_base: vars.millis("WEBHOOK_RETRY_BASE_MS", 1000)?,
            poll_interval: vars.millis("WEBHOOK_POLL_MS", 1000)?,
        })
    }
}
