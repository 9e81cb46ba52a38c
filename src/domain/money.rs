//! Currencies the planner accepts. Embedded prices are in CNY; a plan in another currency
//! converts them at these fixed, approximate rates (live rates are not a goal of the
//! embedded mode).

pub const SUPPORTED: [&str; 10] = ["CNY", "USD", "EUR", "JPY", "GBP", "HKD", "KRW", "SGD", "THB", "AUD"];

/// CNY for one unit of `code`.
pub fn rate_to_cny(code: &str) -> Option<f64> {
    Some(match code {
        "CNY" => 1.0,
        "USD" => 7.2,
        "EUR" => 7.8,
        "JPY" => 0.048,
        "GBP" => 9.1,
        "HKD" => 0.92,
        "KRW" => 0.0052,
        "SGD" => 5.3,
        "THB" => 0.2,
        "AUD" => 4.7,
        _ => return None,
    })
}

/// Converts a CNY amount to `code`, rounded to cents.
pub fn from_cny(amount_cny: f64, code: &str) -> f64 {
    let rate = rate_to_cny(code).unwrap_or(1.0);
    round2(amount_cny / rate)
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
