//! Path parameters shared by the routes.

use uuid::Uuid;

use crate::api::error::ApiError;

pub fn plan_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::bad_request("id", format!("{raw:?} is not a plan id (a UUID)")))
}
