//! Small helpers the sections share: percentiles, the owners plans are dealt to, how many
//! plans are still open, waiting for a count of jobs done, and a process's memory.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use sqlx::PgPool;

use crate::store::states::PlanStatus;

/// The `p`-th percentile (0–100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Owner of the `i`-th plan: plans are dealt round-robin to `owners` owners.
pub fn owner(i: usize, owners: usize) -> String {
    format!("bench-{}", i % owners.max(1))
}

/// Plans queued or running: a section's run is over at 0.
pub async fn open_plans(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM plans WHERE status = ANY($1)")
        .bind([PlanStatus::Queued, PlanStatus::Running].as_slice())
        .fetch_one(pool)
        .await
}

/// Waits (10 minutes at most) until `done` reaches `target`; how long that took.
pub async fn until_done(done: &AtomicUsize, target: usize) -> Duration {
    let started = Instant::now();
    while done.load(Ordering::Relaxed) < target && started.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    started.elapsed()
}

/// A `kB` line of /proc/PID/status, such as `VmHWM:` (peak resident set).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `planner COMMAND` of this same binary on `database_url`, logging only warnings, killed
/// when dropped.
pub fn spawn_planner(
    command: &str,
    database_url: &str,
    env: &[(&str, String)],
) -> anyhow::Result<tokio::process::Child> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?);
    child
        .arg(command)
        .env("DATABASE_URL", database_url)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true);
    for (name, value) in env {
        child.env(name, value);
    }
    Ok(child.spawn()?)
}
