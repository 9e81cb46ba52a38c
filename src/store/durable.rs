//! Writes that wait out a database outage: an outage of a few seconds (a restart, a
//! failover) must not leave a plan `running` with nobody working on it. A transaction that
//! PostgreSQL aborted to break a deadlock is tried again too. Other errors, and an outage
//! longer than five minutes, are returned.
//!
//! A try that fails on a dropped connection may have committed all the same, its answer
//! lost, or commit later: the server may still be running it when the error reaches us, or a
//! pooler or the network may deliver it late. A worker's writes to a plan therefore name
//! themselves (`WriteId`). A run's writes form a chain (`progress`): each lands only on a plan
//! whose `last_write` is the run's write it follows, so neither a retry of a write that landed
//! nor a late try of a write the run has gone past writes anything. An attempt's end finds the
//! plan no longer `running`, and its event carries its id (`events::record_by`). Either way
//! a try after a failed one answers "not owned", and `durable_once` then asks whether the
//! earlier try landed. When the earlier try still held the plan's row, the later one waited for
//! it, so what it committed is visible by then. (This relies on READ COMMITTED, PostgreSQL's
//! default: a later try re-reads a row an earlier one changed, rather than failing.)

use std::time::{Duration, Instant};

use uuid::Uuid;

/// How long a write keeps trying while the database is unreachable.
const PATIENCE: Duration = Duration::from_secs(300);

/// One write of a worker to a plan, the same for all its tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(transparent)]
pub struct WriteId(Uuid);

impl WriteId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn uuid(self) -> Uuid {
        self.0
    }
}

impl Default for WriteId {
    fn default() -> Self {
        Self::new()
    }
}

pub async fn durable<T, F, Fut>(what: &str, write: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    durable_once(what, write, |_| false, || async { Ok(None) }).await
}

/// `durable` for a write that must land once and be answered as it landed: when a try after
/// a failed one answers `lost` (another run owns the plan, by what it found), `landed` says
/// whether an earlier try committed (its answer), or not (`None`: the `lost` answer stands).
pub async fn durable_once<T, F, Fut, L, LFut>(
    what: &str,
    mut write: F,
    lost: impl Fn(&T) -> bool,
    mut landed: L,
) -> anyhow::Result<T>
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
        let tried = match write().await {
            Ok(answer) if failed_before && lost(&answer) => match landed().await {
                Ok(Some(landed)) => {
                    tracing::info!(what, "a write whose answer was lost had committed; not written again");
                    Ok(landed)
                }
                Ok(None) => Ok(answer),
                Err(e) => Err(e),
            },
            other => other,
        };
        match tried {
            Ok(value) => return Ok(value),
            Err(e) if (crate::db::is_unavailable(&e) || crate::db::is_conflict(&e)) && Instant::now() < deadline => {
                tracing::warn!(what, error = %e, retry_in_ms = delay.as_millis() as u64, "write failed (database unavailable, or a deadlock); retrying");
                failed_before = true;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("{what} failed"))),
        }
    }
}
