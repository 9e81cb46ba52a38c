//! How an HTTP upstream's answer becomes a `ProviderError`: which failures are transient
//! (timeouts, connection errors, 5xx, bodies that do not parse), which are rate limits
//! (429, with Retry-After in seconds or as an HTTP date) and which are permanent (other 4xx:
//! retrying a bad key only gets an account frozen).

use std::time::Duration;

use reqwest::{StatusCode, header::HeaderMap};

use crate::providers::ProviderError;

/// An HTTP client with explicit connect and request timeouts; the resilience policy adds
/// its own per try. Building one fails only when the TLS backend cannot start: an error
/// at start-up, never a client without timeouts.
pub fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .timeout(timeout)
        .build()
}

pub fn from_reqwest(provider: &str, e: &reqwest::Error) -> ProviderError {
    let message = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        format!("cannot connect: {e}")
    } else if e.is_decode() {
        format!("unreadable response: {e}")
    } else {
        e.to_string()
    };
    ProviderError::Transient {
        provider: provider.into(),
        message,
    }
}

/// `None` for a success status.
pub fn from_status(provider: &str, status: StatusCode, headers: &HeaderMap, body: &str) -> Option<ProviderError> {
    let snippet: String = body.chars().take(200).collect();
    let provider = provider.to_string();
    if status.is_success() {
        None
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        Some(ProviderError::RateLimited {
            provider,
            message: format!("HTTP 429 {snippet}"),
            retry_after: retry_after(headers),
        })
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        Some(ProviderError::Transient {
            provider,
            message: format!("HTTP {} {snippet}", status.as_u16()),
        })
    } else {
        Some(ProviderError::Permanent {
            provider,
            message: format!("HTTP {} {snippet}", status.as_u16()),
        })
    }
}

/// An HTTP answer read whole: status, headers and body text. Sending and reading failures
/// (timeouts, connection errors) are transient.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

pub async fn send(provider: &str, request: reqwest::RequestBuilder) -> Result<Answer, ProviderError> {
    let response = request.send().await.map_err(|e| from_reqwest(provider, &e))?;
    let (status, headers) = (response.status(), response.headers().clone());
    let text = response.text().await.map_err(|e| from_reqwest(provider, &e))?;
    Ok(Answer { status, headers, text })
}

/// A body that does not parse is the upstream misbehaving, not us asking wrong.
pub fn garbage(provider: &str, e: &serde_json::Error) -> ProviderError {
    ProviderError::Transient {
        provider: provider.into(),
        message: format!("unreadable response: {e}"),
    }
}

/// A body that is not what the upstream documents, e.g. an HTML error page.
pub fn garbage_text(provider: &str, body: &str) -> ProviderError {
    ProviderError::Transient {
        provider: provider.into(),
        message: format!("unreadable response: {}", body.chars().take(200).collect::<String>()),
    }
}

/// Retry-After as delta-seconds or an HTTP date, capped at five minutes.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let delay = match raw.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
                .to_std()
                .unwrap_or_default()
        }
    };
    Some(delay.min(Duration::from_secs(300)))
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    use super::*;

    #[test]
    fn classifies_statuses() {
        let h = HeaderMap::new();
        assert_eq!(from_status("x", StatusCode::OK, &h, ""), None);
        assert!(
            from_status("x", StatusCode::BAD_GATEWAY, &h, "")
                .unwrap()
                .is_transient()
        );
        assert!(matches!(
            from_status("x", StatusCode::UNAUTHORIZED, &h, "bad key"),
            Some(ProviderError::Permanent { .. })
        ));
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert!(matches!(
            from_status("x", StatusCode::TOO_MANY_REQUESTS, &h, ""),
            Some(ProviderError::RateLimited { retry_after: Some(d), .. }) if d == Duration::from_secs(7)
        ));
        let date = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(25) && d <= Duration::from_secs(30), "{d:?}");
    }
}
