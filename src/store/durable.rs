//! Writes that wait out a database outage: an outage of a few seconds (a restart, a
//! failover) must not leave a plan `running` with nobody working on it. Other errors, and
//! an outage longer than five minutes, are returned.
//!
//! A try that fails on a dropped connection may have committed before its answer was lost.
//! Where writing twice would do harm or mislead, `durable_once` asks whether the write
//! landed before trying it again.

use std::time::{Duration, Instant};

/// How long a write keeps trying while the database is unreachable.
const PATIENCE: Duration = Duration::from_secs(300);

pub async fn durable<T, F, Fut>(what: &str, write: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    durable_once(what, write, || async { Ok(None) }).await
}

/// `durable` for a write that must land once: after a failed try, `landed` says whether it
/// committed all the same (its answer, as `write` would have given it) or not (`None`, and
/// it is tried again).
pub async fn durable_once<T, F, Fut, L, LFut>(what: &str, mut write: F, mut landed: L) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
    L: FnMut() -> LFut,
    LFut: Future<Output = Result<Option<T>, sqlx::Error>>,
{
    let deadline = Instant::now() + PATIENCE;
    let mut delay = Duration::from_millis(250);
    let mut failed_before = false;
    loop {
        let tried = match failed_before {
            false => write().await,
            true => match landed().await {
                Ok(Some(answer)) => {
                    tracing::info!(what, "a write whose answer was lost had committed; not written again");
                    Ok(answer)
                }
                Ok(None) => write().await,
                Err(e) => Err(e),
            },
        };
        match tried {
            Ok(value) => return Ok(value),
            Err(e) if crate::db::is_unavailable(&e) && Instant::now() < deadline => {
                tracing::warn!(what, error = %e, retry_in_ms = delay.as_millis() as u64, "database unavailable; retrying");
                failed_before = true;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("{what} failed"))),
        }
    }
}
