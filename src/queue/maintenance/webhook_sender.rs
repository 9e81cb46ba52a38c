//! The webhook sender: drains the outbox (`store::webhooks`) in every worker process. It
//! claims due deliveries under a lease (several senders share the work, none waits on
//! another), POSTs each signed (`webhook::post`), and records the outcome: delivered on a
//! 2xx; else due again after an exponential backoff, until 24 h after the status change;
//! failed at once when the URL reaches a forbidden address. Woken by the trigger's NOTIFY,
//! and by a poll for retries that come due.

use std::time::Duration;

use sqlx::{PgPool, postgres::PgListener};
use tracing::Instrument;

use crate::{
    config::WebhookSettings,
    queue::retry,
    store::{
        states::DeliveryState,
        webhooks::{self, Outgoing, WAKE_CHANNEL},
    },
    webhook::post::{self, Delivery, Sending, Sent},
};

/// Deliveries claimed at once.
const BATCH: usize = 16;
/// A delivery is retried until this long after its status change.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);
/// The longest wait between two tries.
const LONGEST_BACKOFF: Duration = Duration::from_secs(3600);
/// Beyond the HTTP timeout, what a try may take: resolving the host (≤ 5 s) and slack.
const LEASE_SLACK: Duration = Duration::from_secs(10);

/// Sends deliveries as they come due until the task is dropped. Without a secret nothing
/// can be signed, so nothing is sent (and the api accepts no `callback_url`).
pub async fn run(pool: PgPool, settings: WebhookSettings) {
    if settings.secret.is_none() {
        tracing::info!("webhook sender off: no WEBHOOK_SECRET");
        return;
    }
    let mut listener: Option<PgListener> = None;
    loop {
        match send_due(&pool, &settings).await {
            // A full batch: there may be more due right now.
            Ok(n) if n == BATCH => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "webhook deliveries not claimed; trying again"),
        }
        wait_for_work(&pool, &mut listener, settings.poll_interval).await;
    }
}

/// Claims the due deliveries (up to a batch), tries each once, concurrently, and records
/// how each went. Returns how many were claimed.
pub async fn send_due(pool: &PgPool, settings: &WebhookSettings) -> Result<usize, sqlx::Error> {
    let Some(secret) = settings.secret.as_ref() else {
        return Ok(0);
    };
    let lease = settings.timeout + LEASE_SLACK;
    let due = webhooks::claim_due(pool, BATCH as i64, lease).await?;
    let sending = Sending {
        secret: secret.expose().as_bytes(),
        allow_private: settings.allow_private,
        timeout: settings.timeout,
    };
    let tries = due.iter().map(|d| try_once(pool, d, &sending, settings.retry_base));
    for result in futures::future::join_all(tries).await {
        result?;
    }
    Ok(due.len())
}

async fn try_once(pool: &PgPool, d: &Outgoing, sending: &Sending<'_>, retry_base: Duration) -> Result<(), sqlx::Error> {
    let delivery = Delivery {
        id: d.id,
        event: d.event.as_str(),
        url: &d.url,
        body: d.body.as_bytes(),
    };
    let span = tracing::info_span!("webhook", plan_id = %d.plan_id, delivery_id = %d.id, event = %d.event, attempt = d.attempts);
    let sent = post::post(&delivery, sending).instrument(span.clone()).await;
    record(pool, d, sent, retry_base).instrument(span).await
}

/// Writes how the try went.
async fn record(pool: &PgPool, d: &Outgoing, sent: Sent, retry_base: Duration) -> Result<(), sqlx::Error> {
    match sent {
        Sent::Delivered { status } => {
            webhooks::delivered(pool, d.id, status).await?;
            tracing::info!(status, "webhook delivered");
            crate::metrics::webhook_delivery("delivered");
        }
        Sent::Failed { status, error } => {
            let retry_in = backoff(retry_base, d.attempts);
            let state = webhooks::try_failed(pool, d.id, d.attempts, status, &error, retry_in, GIVE_UP_AFTER).await?;
            match state {
                Some(DeliveryState::Failed) => {
                    tracing::warn!(?status, error, "webhook given up on after 24 h");
                    crate::metrics::webhook_delivery("failed");
                }
                Some(_) => {
                    let retry_ms = retry_in.as_millis() as u64;
                    tracing::info!(?status, error, retry_ms, "webhook not delivered; retry scheduled");
                    crate::metrics::webhook_delivery("retry");
                }
                None => tracing::debug!("a later try of this webhook has already been recorded"),
            }
        }
        Sent::Refused { error } => {
            webhooks::refused(pool, d.id, &error).await?;
            tracing::warn!(error, "webhook refused: its URL may not be called");
            crate::metrics::webhook_delivery("failed");
        }
    }
    Ok(())
}

/// The wait after try `attempt` (1-based): `base` × 2^(attempt-1), +0–25 % jitter, at most
/// an hour.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    retry::capped(base, attempt, LONGEST_BACKOFF)
}

/// Until a delivery is announced or `poll` passes. The listener is (re)connected as needed;
/// while it cannot be, the poll alone wakes the sender.
async fn wait_for_work(pool: &PgPool, listener: &mut Option<PgListener>, poll: Duration) {
    if listener.is_none() {
        *listener = subscribe(pool)
            .await
            .map_err(|e| tracing::debug!(error = %e, "cannot LISTEN for webhooks; polling"))
            .ok();
    }
    let Some(active) = listener.as_mut() else {
        tokio::time::sleep(poll).await;
        return;
    };
    tokio::select! {
        received = active.recv() => {
            if let Err(e) = received {
                tracing::debug!(error = %e, "webhook LISTEN connection lost; reconnecting");
                *listener = None;
            }
        }
        _ = tokio::time::sleep(poll) => {}
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(WAKE_CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_an_hour() {
        let base = Duration::from_secs(1);
        for (attempt, plain) in [(1, 1), (2, 2), (3, 4), (4, 8)] {
            let wait = backoff(base, attempt);
            let plain = Duration::from_secs(plain);
            assert!(wait >= plain && wait <= plain.mul_f64(1.25), "{attempt}: {wait:?}");
        }
        for attempt in [40, i32::MAX] {
            let wait = backoff(base, attempt);
            assert!(
                wait <= LONGEST_BACKOFF && wait >= LONGEST_BACKOFF.mul_f64(0.75),
                "{attempt}: {wait:?}"
            );
        }
    }
}
