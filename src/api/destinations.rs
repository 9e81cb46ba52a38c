//! `GET /v1/destinations`: the cities the embedded catalog has data for, with their names
//! in Chinese and English, country and coordinates, sorted by id.

use axum::{
    Json,
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::catalog;

/// `GET /v1/destinations`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DestinationList {
    pub destinations: Vec<Destination>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Destination {
    id: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    country: &'static str,
    latitude: f64,
    longitude: f64,
}

#[utoipa::path(
    get, path = "/v1/destinations", operation_id = "list_destinations", tag = "plans",
    summary = "The destinations there is data for, sorted by id",
    responses((status = 200, description = "The destinations", body = DestinationList))
)]
pub async fn list() -> Response {
    let mut destinations: Vec<Destination> = catalog::catalog()
        .cities
        .iter()
        .map(|c| Destination {
            id: &c.id,
            name_zh: &c.name,
            name_en: &c.name_en,
            country: &c.country,
            latitude: c.lat,
            longitude: c.lng,
        })
        .collect();
    destinations.sort_by(|a, b| a.id.cmp(b.id));
    Json(DestinationList { destinations }).into_response()
}
