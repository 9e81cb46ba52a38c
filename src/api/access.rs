//! What a caller may reach: a plan exists for its owner and for admins only; for anyone else
//! it is `404`, as if it did not exist (its existence is not revealed).

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    api::{auth::caller::Caller, error::ApiError},
    store::plans,
};

/// `Ok` when the plan exists and the caller may see it.
pub async fn visible(pool: &PgPool, caller: &Caller, plan: Uuid) -> Result<(), ApiError> {
    match plans::owner_of(pool, plan).await? {
        Some(owner) if caller.may_see(&owner) => Ok(()),
        _ => Err(ApiError::not_found("plan")),
    }
}
