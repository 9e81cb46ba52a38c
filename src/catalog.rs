//! The embedded destination catalog: cities with monthly climate normals (`data/cities.csv`)
//! and, per city, curated attractions, restaurants and hotels (`data/places/{city}.csv`).
//! Compiled into the binary so that the product works with no key and no files around it.
//! Prices are typical CNY: a ticket or a meal per person, a room per night.

use std::{collections::HashMap, sync::LazyLock};

use crate::domain::{City, MonthNormal, Place, PlaceKind, clock::parse_hours};

pub struct Catalog {
    pub cities: Vec<City>,
    pub places: HashMap<String, Vec<Place>>,
}

const CITIES: &str = include_str!("../data/cities.csv");

macro_rules! place_files {
    ($($id:literal),* $(,)?) => {
        &[$(($id, include_str!(concat!("../data/places/", $id, ".csv")))),*]
    };
}

const PLACE_FILES: &[(&str, &str)] = place_files!(
    "beijing",
    "shanghai",
    "hangzhou",
    "chengdu",
    "xian",
    "guangzhou",
    "shenzhen",
    "chongqing",
    "nanjing",
    "suzhou",
    "xiamen",
    "guilin",
    "tokyo",
    "singapore",
    "bangkok",
);

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    // The data is compiled in and covered by tests; a parse error here is a build defect.
    load().unwrap_or_else(|e| panic!("embedded catalog is invalid: {e}"))
});

pub fn catalog() -> &'static Catalog {
    &CATALOG
}

pub fn city(id: &str) -> Option<&'static City> {
    CATALOG.cities.iter().find(|c| c.id == id)
}

/// Finds a city by id, Chinese name, English name or alias, ignoring case and a trailing 市.
pub fn find_city(name: &str) -> Option<&'static City> {
    let wanted = name.trim().trim_end_matches('市').to_lowercase();
    if wanted.is_empty() {
        return None;
    }
    CATALOG.cities.iter().find(|c| {
        c.id == wanted
            || c.name.to_lowercase() == wanted
            || c.name_en.to_lowercase() == wanted
            || c.aliases.iter().any(|a| a.to_lowercase() == wanted)
    })
}

pub fn city_names() -> Vec<String> {
    CATALOG
        .cities
        .iter()
        .map(|c| format!("{} ({})", c.name, c.name_en))
        .collect()
}

pub fn places(city_id: &str) -> &'static [Place] {
    CATALOG.places.get(city_id).map(Vec::as_slice).unwrap_or(&[])
}

pub fn place(city_id: &str, place_id: &str) -> Option<&'static Place> {
    places(city_id).iter().find(|p| p.id == place_id)
}

pub fn load() -> Result<Catalog, String> {
    let mut cities = Vec::new();
    for (n, line) in data_lines(CITIES) {
        cities.push(parse_city(line).map_err(|e| format!("cities.csv line {n}: {e}"))?);
    }
    let mut places = HashMap::new();
    for (city_id, text) in PLACE_FILES {
        if !cities.iter().any(|c: &City| c.id == *city_id) {
            return Err(format!("places/{city_id}.csv has no city in cities.csv"));
        }
        let mut list = Vec::new();
        for (n, line) in data_lines(text) {
            list.push(parse_place(city_id, line).map_err(|e| format!("places/{city_id}.csv line {n}: {e}"))?);
        }
        places.insert(city_id.to_string(), list);
    }
    Ok(Catalog { cities, places })
}

fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

fn parse_city(line: &str) -> Result<City, String> {
    let f: Vec<&str> = line.split('|').map(str::trim).collect();
    if f.len() != 11 {
        return Err(format!("expected 11 fields, found {}", f.len()));
    }
    let series = |i: usize| -> Result<Vec<f64>, String> {
        let v: Result<Vec<f64>, _> = f[i].split(',').map(|x| x.trim().parse::<f64>()).collect();
        let v = v.map_err(|e| format!("field {i}: {e}"))?;
        if v.len() != 12 {
            return Err(format!("field {i}: expected 12 monthly values"));
        }
        Ok(v)
    };
    let (tmin, tmax, precip, rain) = (series(7)?, series(8)?, series(9)?, series(10)?);
    let climate = (0..12)
        .map(|m| MonthNormal {
            temp_min: tmin[m],
            temp_max: tmax[m],
            precip_mm: precip[m],
            rain_days: rain[m],
        })
        .collect();
    Ok(City {
        id: f[0].into(),
        name: f[1].into(),
        name_en: f[2].into(),
        aliases: f[3]
            .split(',')
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect(),
        country: f[4].into(),
        lat: f[5].parse().map_err(|e| format!("lat: {e}"))?,
        lng: f[6].parse().map_err(|e| format!("lng: {e}"))?,
        climate,
    })
}

fn parse_place(city_id: &str, line: &str) -> Result<Place, String> {
    let f: Vec<&str> = line.split('|').map(str::trim).collect();
    if f.len() != 10 {
        return Err(format!("expected 10 fields, found {}", f.len()));
    }
    let kind = match f[0] {
        "A" => PlaceKind::Attraction,
        "R" => PlaceKind::Restaurant,
        "H" => PlaceKind::Hotel,
        other => return Err(format!("unknown kind {other:?}")),
    };
    let (opens, closes) = parse_hours(f[7])?;
    Ok(Place {
        id: format!("{city_id}-{}", f[1]),
        name: f[2].into(),
        kind,
        lat: f[3].parse().map_err(|e| format!("lat: {e}"))?,
        lng: f[4].parse().map_err(|e| format!("lng: {e}"))?,
        price: f[5].parse().map_err(|e| format!("price: {e}"))?,
        minutes: f[6].parse().map_err(|e| format!("minutes: {e}"))?,
        opens,
        closes,
        indoor: f[8] == "1",
        tags: f[9]
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_destination_has_enough_curated_places() {
        let catalog = load().expect("catalog loads");
        assert!(catalog.cities.len() >= 15);
        for city in &catalog.cities {
            let places = &catalog.places[&city.id];
            let count = |k| places.iter().filter(|p| p.kind == k).count();
            assert!(count(PlaceKind::Attraction) >= 12, "{}: attractions", city.id);
            assert!(count(PlaceKind::Restaurant) >= 8, "{}: restaurants", city.id);
            assert!(count(PlaceKind::Hotel) >= 4, "{}: hotels", city.id);
            for tier in ["budget", "mid", "luxury"] {
                assert!(
                    places.iter().any(|p| p.kind == PlaceKind::Hotel && p.has_tag(tier)),
                    "{}: no {tier} hotel",
                    city.id
                );
            }
            let mut ids: Vec<_> = places.iter().map(|p| &p.id).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), places.len(), "{}: duplicate place ids", city.id);
            for p in places {
                let km = crate::domain::road::distance_km(city.lat, city.lng, p.lat, p.lng);
                assert!(km < 80.0, "{}: {} is {km:.0} km from the centre", city.id, p.id);
                if p.kind != PlaceKind::Hotel {
                    assert!(p.minutes >= 30, "{}: {} too short", city.id, p.id);
                    assert!(p.closes - p.opens >= p.minutes, "{}: {} never fits", city.id, p.id);
                }
            }
        }
        for required in [
            "北京", "上海", "杭州", "成都", "西安", "广州", "深圳", "重庆", "南京", "苏州", "厦门", "桂林",
        ] {
            assert!(catalog.cities.iter().any(|c| c.name == required), "missing {required}");
        }
    }

    #[test]
    fn finds_cities_by_any_name() {
        assert_eq!(find_city("杭州市").map(|c| c.id.as_str()), Some("hangzhou"));
        assert_eq!(find_city("Chengdu").map(|c| c.id.as_str()), Some("chengdu"));
        assert_eq!(find_city("xi'an").map(|c| c.id.as_str()), Some("xian"));
        assert!(find_city("Atlantis").is_none());
    }
}
