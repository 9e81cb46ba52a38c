//! One signed delivery: the URL checked again at the moment of sending (`target::check`, its
//! address pinned), then a POST of the body with the signature, delivery and event headers.
//! Redirects are not followed (a redirect could lead anywhere) and no proxy is used (the
//! pinned address must be the one connected to).

use std::time::Duration;

use uuid::Uuid;

use crate::webhook::{
    signature,
    target::{self, Refused},
};

/// What to send.
pub struct Delivery<'a> {
    pub id: Uuid,
    pub event: &'a str,
    pub url: &'a str,
    pub body: &'a [u8],
}

/// How to send it.
pub struct Sending<'a> {
    pub secret: &'a [u8],
    pub allow_private: bool,
    pub timeout: Duration,
}

/// How a try went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The receiver answered 2xx.
    Delivered { status: u16 },
    /// Worth trying again: a non-2xx answer, a timeout, a refused connection, a host that
    /// did not resolve.
    Failed { status: Option<u16>, error: String },
    /// Never deliverable: the URL is malformed or reaches a forbidden address.
    Refused { error: String },
}

pub async fn post(delivery: &Delivery<'_>, sending: &Sending<'_>) -> Sent {
    let target = match target::check(delivery.url, sending.allow_private).await {
        Ok(target) => target,
        Err(Refused::Forbidden(error)) => return Sent::Refused { error },
        Err(Refused::Unresolved(error)) => return Sent::Failed { status: None, error },
    };
    let mut builder = reqwest::Client::builder()
        .timeout(sending.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if let Some((host, address)) = &target.pinned {
        builder = builder.resolve(host, *address);
    }
    let client = match builder.build() {
        Ok(client) => client,
        Err(e) => {
            return Sent::Failed {
                status: None,
                error: format!("HTTP client: {e}"),
            };
        }
    };
    let timestamp = chrono::Utc::now().timestamp();
    let answer = client
        .post(target.url)
        .header("content-type", "application/json")
        .header("user-agent", "travel-planner-webhooks/1")
        .header(
            "x-planner-signature",
            signature::header(sending.secret, timestamp, delivery.body),
        )
        .header("x-planner-delivery", delivery.id.to_string())
        .header("x-planner-event", delivery.event)
        .body(delivery.body.to_vec())
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => Sent::Delivered {
            status: response.status().as_u16(),
        },
        Ok(response) => Sent::Failed {
            status: Some(response.status().as_u16()),
            error: format!("the receiver answered {}", response.status()),
        },
        Err(e) if e.is_timeout() => Sent::Failed {
            status: None,
            error: format!("no answer within {} s", sending.timeout.as_secs_f64()),
        },
        Err(e) => Sent::Failed {
            status: None,
            // Callback URLs often carry their receiver's secret: never in an error or a log.
            error: format!("not sent: {}", e.without_url()),
        },
    }
}
