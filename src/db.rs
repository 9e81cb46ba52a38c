//! The PostgreSQL pool and the schema: the database is created when missing, and the
//! migrations run under an advisory lock so that any number of api and worker processes may
//! start at once.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    ConnectOptions, Connection, Executor, PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgConnection, PgPoolOptions},
};

/// Migrations are additive (README, Kubernetes): a process of the previous release, restarted
/// during a rollout or started by a rollback, runs on a database a newer release migrated
/// further, rather than refusing to start.
static MIGRATOR: Migrator = Migrator {
    ignore_missing: true,
    ..sqlx::migrate!("./migrations")
};

/// Arbitrary, fixed: the key of the advisory lock that serialises migrations.
const MIGRATION_LOCK: i64 = 0x0070_6c61_6e6e_6572;

/// A pooled connection idle for longer than this is pinged before it is handed out, so that
/// one the server dropped meanwhile (a restart, a pooler's idle timeout) is replaced rather
/// than failing a query. A busier connection is not: sqlx's default pings on every acquire,
/// a whole round trip before each statement (with the release ping sqlx also sends, about a
/// quarter of a plan read's cost at 64 clients: vendor/README.md).
const PING_IF_IDLE_FOR: Duration = Duration::from_millis(50);

pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url).context("DATABASE_URL is not a valid URL")?;
    create_database_if_missing(&options).await?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections.max(2))
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                // A failed ping closes the connection and the pool opens another.
                Ok(meta.idle_for <= PING_IF_IDLE_FOR || conn.ping().await.is_ok())
            })
        })
        .connect_with(options)
        .await
        .context("cannot connect to PostgreSQL")?;
    Ok(pool)
}

/// A pool of up to `max_connections` beside `pool` (same server, same pool settings) on whose
/// connections PostgreSQL always runs a statement's generic plan. Left to choose, it plans a
/// statement for its parameters' values each time that looks cheaper, and with statistics
/// that lag the table (a queue filled a moment ago) such a plan can be far worse: a batch of
/// a few plan reads counted the plans ahead by a bitmap scan of every due plan, 3-5 ms a
/// batch against 0.2 ms (`bench-results/2026-12-07-reads-generic-plan.txt`). The setting is
/// made after connecting, not as a startup option, which PgBouncer refuses; like the
/// listening connections it needs session pooling.
pub fn generic_plan_pool(pool: &PgPool, max_connections: u32) -> PgPool {
    pool.options()
        .clone()
        .max_connections(max_connections)
        .min_connections(0)
        .after_connect(|conn, _| {
            Box::pin(async move { conn.execute("SET plan_cache_mode = force_generic_plan").await.map(drop) })
        })
        .connect_lazy_with((*pool.connect_options()).clone())
}

/// A pool on a database whose schema is current: what every command that uses the
/// database starts with.
pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let pool = connect(url, max_connections).await?;
    migrate(&pool).await?;
    tracing::info!("migrations applied");
    Ok(pool)
}

async fn create_database_if_missing(options: &PgConnectOptions) -> anyhow::Result<()> {
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    match PgConnection::connect_with(options).await {
        Ok(conn) => {
            let _ = conn.close().await;
            return Ok(());
        }
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {}
        Err(e) => return Err(e).context("cannot connect to PostgreSQL"),
    }
    let mut admin = PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .context("cannot connect to the postgres database to create ours")?;
    let create = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
    match admin.execute(sqlx::AssertSqlSafe(create)).await {
        Ok(_) => tracing::info!(database = %name, "created database"),
        // Another process created it first.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
        Err(e) => return Err(e).context("cannot create the database"),
    }
    Ok(())
}

/// Applies every pending migration under an advisory lock.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await?;
    let result = MIGRATOR.run(&mut *conn).await.context("migrations");
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await?;
    result?;
    let unknown: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE version <> ALL($1) ORDER BY version")
            .bind(known())
            .fetch_all(&mut *conn)
            .await?;
    if !unknown.is_empty() {
        tracing::warn!(
            ?unknown,
            "the database holds migrations of a newer release; running on them, as migrations are additive"
        );
    }
    Ok(())
}

/// The migrations this binary carries.
fn known() -> Vec<i64> {
    MIGRATOR.iter().map(|m| m.version).collect()
}

/// A database of its own next to `url`'s, for a run that must not touch real plans (the
/// benchmark, the eval): created with the schema, dropped afterwards unless kept.
pub struct Scratch {
    pub pool: PgPool,
    pub name: String,
    server: PgConnectOptions,
}

impl Scratch {
    pub async fn create(url: &str, prefix: &str, max_connections: u32) -> anyhow::Result<Self> {
        let server = PgConnectOptions::from_str(url).context("DATABASE_URL is not a valid URL")?;
        let name = format!("{prefix}_{}", std::process::id());
        let scratch_url = server.clone().database(&name).to_url_lossy().to_string();
        let pool = open(&scratch_url, max_connections).await?;
        Ok(Self { pool, name, server })
    }

    /// The scratch database's URL, for connections of their own.
    pub fn url(&self) -> String {
        self.server.clone().database(&self.name).to_url_lossy().to_string()
    }

    /// Closes the pool and drops the database, or keeps it (saying so) when `keep`.
    pub async fn finish(self, keep: bool) -> anyhow::Result<()> {
        self.pool.close().await;
        if keep {
            println!("kept database {}", self.name);
            return Ok(());
        }
        let mut admin = PgConnection::connect_with(&self.server.clone().database("postgres")).await?;
        let drop = format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name.replace('"', "\"\"")
        );
        admin.execute(sqlx::AssertSqlSafe(drop)).await?;
        Ok(())
    }
}

/// Ready when the database answers and holds every migration this binary knows.
pub async fn is_ready(pool: &PgPool) -> Result<(), String> {
    let missing: Vec<i64> = sqlx::query_scalar(
        "SELECT v FROM unnest($1::bigint[]) AS v
         WHERE NOT EXISTS (SELECT 1 FROM _sqlx_migrations m WHERE m.version = v AND m.success)
         ORDER BY v",
    )
    .bind(known())
    .fetch_all(pool)
    .await
    .map_err(|e| format!("database unreachable: {e}"))?;
    match missing.first() {
        None => Ok(()),
        Some(first) => Err(format!("migrations pending: {} of them, from {first}", missing.len())),
    }
}

/// PostgreSQL aborted the transaction to break a deadlock (40P01) or a serialization conflict
/// (40001): it changed nothing, and the same transaction tried again may pass. (Two writes that
/// lock the same plans in a different order can meet so, e.g. a late try of a batch of runs'
/// writes and a consumer's hand-back.)
pub fn is_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c == "40P01" || c == "40001"))
}

/// The database cannot be reached or is going away, as opposed to a query of ours being wrong.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        // 08 connection exception, 53 insufficient resources, 57 operator intervention
        // (shutdown, terminated backend), 58 system error; 55000 and 3D000 are what a
        // database that refuses connections or does not exist (yet) answers.
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            ["08", "53", "57", "58"].iter().any(|class| c.starts_with(class)) || c == "55000" || c == "3D000"
        }),
        _ => false,
    }
}
