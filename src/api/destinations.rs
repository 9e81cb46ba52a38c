//! `GET /v1/destinations`: the cities the embedded catalog has data for, with their names
//! in Chinese and English, country and coordinates, sorted by id.

use axum::{
    Json,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::json;

use crate::catalog;

#[derive(Debug, Serialize)]
struct Destination {
    id: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    country: &'static str,
    latitude: f64,
    longitude: f64,
}

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
    Json(json!({ "destinations": destinations })).into_response()
}
