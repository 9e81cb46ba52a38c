//! Transactions a phase cost, as PostgreSQL counts them (`xact_commit` of the scratch
//! database in `pg_stat_database`), not as the code under test would count itself. Backends
//! report their counts when idle for a while or when they exit, so a phase runs on pools of
//! its own, closed before the count is read; the reads (one transaction each) are taken off.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

/// Long enough for closed connections' backends to have exited and reported.
const SETTLE: Duration = Duration::from_millis(1500);

pub struct Transactions {
    url: String,
    database: String,
    at_start: i64,
}

impl Transactions {
    /// Starts counting; every pool used so far must be closed.
    pub async fn start(url: &str, database: &str) -> anyhow::Result<Self> {
        let at_start = committed(url, database).await?;
        Ok(Self {
            url: url.to_string(),
            database: database.to_string(),
            at_start,
        })
    }

    /// Transactions committed since `start` (the phase's pools must be closed).
    pub async fn since_start(&self) -> anyhow::Result<i64> {
        let now = committed(&self.url, &self.database).await?;
        // The read at the start was one transaction.
        Ok(now - self.at_start - 1)
    }
}

async fn committed(url: &str, database: &str) -> anyhow::Result<i64> {
    tokio::time::sleep(SETTLE).await;
    let mut conn = PgConnection::connect(url).await?;
    let n: i64 = sqlx::query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = $1")
        .bind(database)
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(n)
}
