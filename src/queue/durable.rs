//! Writes that wait out a database outage: an outage of a few seconds (a restart, a
//! failover) must not leave a plan `running` with nobody working on it. Other errors, and
//! an outage longer than five minutes, are returned.

use std::time::{Duration, Instant};

/// How long a write keeps trying while the database is unreachable.
const PATIENCE: Duration = Duration::from_secs(300);

pub async fn durable<T, F, Fut>(what: &str, mut write: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let deadline = Instant::now() + PATIENCE;
    let mut delay = Duration::from_millis(250);
    loop {
        match write().await {
            Ok(value) => return Ok(value),
            Err(e) if crate::db::is_unavailable(&e) && Instant::now() < deadline => {
                tracing::warn!(what, error = %e, retry_in_ms = delay.as_millis() as u64, "database unavailable; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("{what} failed"))),
        }
    }
}
