//! Path parameters shared by the routes.

use uuid::Uuid;

use crate::api::error::ApiError;

pub fn plan_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::bad_request("id", format!("{raw:?} is not a plan id (a UUID)")))
}

/// The `{id}` path parameter, as documented.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct PlanId {
    /// The plan's id.
    id: Uuid,
}
