//! Field decoders for upstreams that are loose with JSON types: QWeather sends numbers as
//! strings ("12", "0.0"); Amap sends a string, or an empty array `[]` when it has no value.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A number sent as a number or a numeric string; `None` for empty, `[]` or null.
pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(as_number(&Value::deserialize(d)?))
}

/// A string, or `None` for `[]`, `""` or null.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(as_text(&Value::deserialize(d)?))
}

pub fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok().filter(|n: &f64| n.is_finite()),
        _ => None,
    }
}

pub fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn loose_fields_decode() {
        assert_eq!(as_number(&json!("12")), Some(12.0));
        assert_eq!(as_number(&json!(" 0.5 ")), Some(0.5));
        assert_eq!(as_number(&json!(3)), Some(3.0));
        assert_eq!(as_number(&json!([])), None);
        assert_eq!(as_number(&json!("")), None);
        assert_eq!(as_number(&json!("NaN")), None);
        assert_eq!(as_text(&json!([])), None);
        assert_eq!(as_text(&json!("西湖")), Some("西湖".into()));
        assert_eq!(as_text(&json!(null)), None);
    }
}
