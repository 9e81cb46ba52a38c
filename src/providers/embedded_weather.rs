//! Weather with no key: the city's monthly climate normals, shown for what they are —
//! typical weather for the time of year, not a forecast (`source: normals`).

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

/// The month's normals for a day, said as such (`source: normals`): its mean low and high,
/// its mean daily precipitation, and rainy only in a month where most days are.
pub fn day(city: &City, date: NaiveDate) -> DayWeather {
    let normal = city.climate[date.month0() as usize];
    let days_in_month = 30.0;
    let rainy = normal.rain_days / days_in_month > 0.5;
    DayWeather {
        date: date.to_string(),
        condition: if rainy { "常年多雨" } else { "常年气候" }.into(),
        temp_min: normal.temp_min.round(),
        temp_max: normal.temp_max.round(),
        precip_mm: (normal.precip_mm / days_in_month * 10.0).round() / 10.0,
        rainy,
        wind: None,
        source: SOURCE.into(),
    }
}

/// What a day of climate normals says its source is.
pub const SOURCE: &str = "normals";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    #[test]
    fn a_day_is_its_month_normal_and_says_so() {
        let city = catalog::city("hangzhou").unwrap();
        let june: Vec<_> = (1..=30)
            .map(|d| day(city, NaiveDate::from_ymd_opt(2026, 6, d).unwrap()))
            .collect();
        assert!(june.iter().all(|d| d.source == "normals" && d.temp_min <= d.temp_max));
        assert_eq!(june[0].temp_max, june[29].temp_max, "a normal is the same all month");
        assert_eq!(june[0].temp_max, city.climate[5].temp_max.round());
        let chongqing = catalog::city("chongqing").unwrap();
        let rainy_month = chongqing.climate.iter().position(|m| m.rain_days > 15.0);
        if let Some(m) = rainy_month {
            let d = day(chongqing, NaiveDate::from_ymd_opt(2026, m as u32 + 1, 10).unwrap());
            assert!(d.rainy, "most days of that month are rainy");
        }
    }
}
