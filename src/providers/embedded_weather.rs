//! Weather with no key: each day drawn from the city's monthly climate normals. The draw
//! is seeded by city and date, so the same day always gets the same weather, and the share
//! of rainy days matches the month's normal.

use async_trait::async_trait;
use chrono::{Datelike, Duration, NaiveDate};

use crate::{
    domain::{City, DayWeather},
    providers::{ProviderError, WeatherProvider},
};

pub struct ClimateNormals;

#[async_trait]
impl WeatherProvider for ClimateNormals {
    fn name(&self) -> &str {
        "embedded"
    }

    async fn forecast(&self, city: &City, start: NaiveDate, days: u32) -> Result<Vec<DayWeather>, ProviderError> {
        Ok((0..days).map(|i| day(city, start + Duration::days(i as i64))).collect())
    }
}

pub fn day(city: &City, date: NaiveDate) -> DayWeather {
    let normal = city.climate[date.month0() as usize];
    let days_in_month = 30.0;
    let draw = unit(&format!("{}:{date}", city.id));
    let jitter = unit(&format!("{}:{date}:t", city.id)) * 4.0 - 2.0;
    let rainy = draw < normal.rain_days / days_in_month;
    let (temp_min, temp_max) = ((normal.temp_min + jitter).round(), (normal.temp_max + jitter).round());
    let precip = if rainy {
        (normal.precip_mm / normal.rain_days.max(1.0) * 10.0).round() / 10.0
    } else {
        0.0
    };
    let condition = match (rainy, temp_max) {
        (true, t) if t <= 1.0 => "小雪",
        (true, _) if precip >= 25.0 => "大雨",
        (true, _) if precip >= 10.0 => "中雨",
        (true, _) => "小雨",
        (false, _) if draw > 0.75 => "晴",
        (false, _) => "多云",
    };
    DayWeather {
        date: date.to_string(),
        condition: condition.into(),
        temp_min,
        temp_max,
        precip_mm: precip,
        rainy,
        wind: None,
        source: "embedded".into(),
    }
}

/// A stable pseudo-random number in [0, 1) from a string: FNV-1a, then a splitmix64
/// finaliser so that seeds differing only in their last characters spread evenly.
fn unit(seed: &str) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    #[test]
    fn rainy_share_follows_the_normals() {
        let city = catalog::city("hangzhou").unwrap();
        let june: Vec<_> = (1..=30)
            .map(|d| day(city, NaiveDate::from_ymd_opt(2026, 6, d).unwrap()))
            .collect();
        let rainy = june.iter().filter(|d| d.rainy).count() as f64;
        let expected = city.climate[5].rain_days;
        assert!((rainy - expected).abs() <= 7.0, "{rainy} rainy days vs {expected}");
        assert_eq!(day(city, NaiveDate::from_ymd_opt(2026, 6, 3).unwrap()), june[2]);
        assert!(june.iter().all(|d| d.temp_min <= d.temp_max));
    }
}
