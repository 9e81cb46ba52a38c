//! `api_keys`: who may call the api. Tokens are never stored, only their hash; a key is
//! found by that hash, and the lookup also records when it was last used.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::store::states::Role;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub name: String,
    pub role: Role,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key that may be used: its owner name and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveKey {
    pub name: String,
    pub role: Role,
}

pub enum Created {
    Created,
    NameTaken,
}

pub async fn create(
    pool: &PgPool,
    name: &str,
    role: Role,
    token_hash: &[u8],
    prefix: &str,
) -> Result<Created, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO api_keys (name, role, token_hash, prefix) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(role)
    .bind(token_hash)
    .bind(prefix)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(if inserted == 1 {
        Created::Created
    } else {
        Created::NameTaken
    })
}

pub async fn list(pool: &PgPool) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, role, prefix, created_at, last_used_at, revoked_at FROM api_keys ORDER BY created_at, name",
    )
    .fetch_all(pool)
    .await
}

/// Revokes the key; false when there is no such key or it was revoked already.
pub async fn revoke(pool: &PgPool, name: &str) -> Result<bool, sqlx::Error> {
    let revoked = sqlx::query("UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL")
        .bind(name)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(revoked == 1)
}

/// The unrevoked key with this token hash, marked as used now.
pub async fn use_key(pool: &PgPool, token_hash: &[u8]) -> Result<Option<ActiveKey>, sqlx::Error> {
    let row: Option<(String, Role)> = sqlx::query_as(
        "UPDATE api_keys SET last_used_at = now() WHERE token_hash = $1 AND revoked_at IS NULL RETURNING name, role",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(name, role)| ActiveKey { name, role }))
}
