//! The JSON request body, parsed by us rather than axum's `Json` so that every failure —
//! too large, not JSON, a wrong type, an unknown field — is a JSON error naming the field.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request, rejection::BytesRejection},
    http::StatusCode,
};
use serde::de::DeserializeOwned;

use crate::api::error::ApiError;

pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e: BytesRejection| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("the body is over {} KiB", MAX_BODY_BYTES / 1024),
                )
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text())
            }
        })?;
        // serde would also read a struct from an array; a body must be an object.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{')
            && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok()
        {
            return Err(ApiError::bad_request("body", "the body must be a JSON object"));
        }
        parse(&bytes).map(JsonBody)
    }
}

/// PostgreSQL stores no NUL character in text or jsonb: a string holding one (`\u0000`) is
/// refused here, naming where it is, before it could reach the database.
pub fn reject_nul(value: &serde_json::Value) -> Result<(), ApiError> {
    match nul_at(value, String::new()) {
        Some(path) => {
            let field = if path.is_empty() { "body".to_string() } else { path };
            Err(ApiError::bad_request(
                &field,
                format!("{field} contains a NUL character (\\u0000)"),
            ))
        }
        None => Ok(()),
    }
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    refuse_nul(bytes)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => Ok(value),
        Err(e) => {
            let inner = e.inner();
            let path = e.path().to_string();
            let message = inner.to_string();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_json",
                    format!("the body is not valid JSON: {message}"),
                )
                .field("body"));
            }
            let field = if path == "." { "body".to_string() } else { path };
            let message = message.split(" at line ").next().unwrap_or(&message).to_string();
            Err(ApiError::bad_request(&field, format!("{field}: {message}")))
        }
    }
}

/// PostgreSQL keeps no NUL character in text or jsonb, and no traveller types one: a `\u0000`
/// anywhere in the body is refused, naming the field that holds it. JSON can only carry NUL
/// escaped, so bodies without that escape skip the walk.
fn refuse_nul(bytes: &[u8]) -> Result<(), ApiError> {
    if !bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return Ok(());
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) => reject_nul(&value),
        Err(_) => Ok(()),
    }
}

/// The path (as `serde_path_to_error` writes it: `a.b[0]`) of the first string or key
/// holding a NUL.
fn nul_at(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => Some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_at(item, format!("{path}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if key.contains('\0') {
                Some(here)
            } else {
                nul_at(item, here)
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_anywhere_is_refused_by_its_field() {
        let refused = |body: &str| parse::<serde_json::Value>(body.as_bytes()).unwrap_err().field;
        assert_eq!(refused(r#"{"query": "a\u0000b"}"#).as_deref(), Some("query"));
        assert_eq!(
            refused(r#"{"budget": {"currency": "\u0000"}}"#).as_deref(),
            Some("budget.currency")
        );
        assert_eq!(
            refused(r#"{"interests": ["food", "\u0000"]}"#).as_deref(),
            Some("interests[1]")
        );
        assert_eq!(refused(r#"{"a\u0000": 1}"#).as_deref(), Some("a\u{0}"));
        // An escaped backslash followed by "u0000" is text, not NUL.
        assert!(parse::<serde_json::Value>(br#"{"query": "\\u0000"}"#).is_ok());
    }
}
