//! Places with no key: the curated catalog compiled into the binary.

use async_trait::async_trait;

use crate::{
    catalog,
    domain::{City, Place, PlaceKind},
    providers::{PlacesProvider, ProviderError},
};

pub struct CuratedPlaces;

#[async_trait]
impl PlacesProvider for CuratedPlaces {
    fn name(&self) -> &str {
        "embedded"
    }

    async fn places(&self, city: &City) -> Result<Vec<Place>, ProviderError> {
        Ok(catalog::places(&city.id)
            .iter()
            .filter(|p| p.kind != PlaceKind::Hotel)
            .cloned()
            .collect())
    }

    async fn hotels(&self, city: &City) -> Result<Vec<Place>, ProviderError> {
        Ok(catalog::places(&city.id)
            .iter()
            .filter(|p| p.kind == PlaceKind::Hotel)
            .cloned()
            .collect())
    }
}
