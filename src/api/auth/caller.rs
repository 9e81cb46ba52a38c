//! The caller of a guarded route. With `AUTH_MODE=off` every caller is `anonymous` and may
//! do everything, as before keys existed; with `required`, a request without a valid,
//! unrevoked key is refused `401` before any handler runs (keys looked up through
//! `key_cache`, so a revoked one is refused everywhere within 5 s).
//! `/health`, `/ready`, `/metrics`, the API's description and the web page (which asks for a
//! key itself) stay open.

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{HeaderValue, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{
    api::{
        auth::token::{self, Unreadable},
        error::ApiError,
        state::AppState,
    },
    config::AuthMode,
    store::states::Role,
};

/// Every caller's name with `AUTH_MODE=off`.
pub const ANONYMOUS: &str = "anonymous";
/// Paths anyone may call: probes, metrics (protect `/metrics` at the network: README), the
/// API's own description, and the web page.
const OPEN: [&str; 6] = ["/health", "/ready", "/metrics", "/openapi.json", "/docs", "/"];
/// Path prefixes anyone may call: Swagger UI's files and the web page's assets.
const OPEN_PREFIXES: [&str; 2] = ["/docs/", "/assets/"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key's name: the owner of the plans it submits.
    pub name: String,
    pub role: Role,
}

impl Caller {
    pub fn anonymous() -> Self {
        Self {
            name: ANONYMOUS.to_string(),
            role: Role::Admin,
        }
    }

    pub fn sees_everyone(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether a plan of `owner` exists for this caller: another user's plan does not.
    pub fn may_see(&self, owner: &str) -> bool {
        self.sees_everyone() || self.name == owner
    }

    /// The owner a list is limited to: `None` for an admin, who sees every plan.
    pub fn list_owner(&self) -> Option<&str> {
        (!self.sees_everyone()).then_some(self.name.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        // Set by `authenticate` on every guarded route; its absence is a routing mistake.
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "no caller"))
    }
}

pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let caller = match state.settings.auth_mode {
        AuthMode::Off => Caller::anonymous(),
        AuthMode::Required if is_open(request.uri().path()) => return next.run(request).await,
        AuthMode::Required => {
            let header = request.headers().get(header::AUTHORIZATION).map(|v| v.to_str());
            let token = match header {
                Some(Err(_)) => Err(Unreadable::Malformed),
                Some(Ok(value)) => token::from_header(Some(value)),
                None => token::from_header(None),
            };
            let token = match token {
                Ok(token) => token,
                Err(Unreadable::Missing) => {
                    return refused("missing_api_key", "send an API key: Authorization: Bearer tp_…", false);
                }
                Err(Unreadable::Malformed) => {
                    return refused(
                        "invalid_api_key",
                        "the Authorization header is not `Bearer` and an API key (tp_ and 64 hex digits)",
                        true,
                    );
                }
            };
            match state.keys.find(&state.pool, token::hash(token)).await {
                Ok(Some(key)) => {
                    if let Err(wait) = state.limits.check(&key.name, key.role) {
                        return too_many(wait);
                    }
                    Caller {
                        name: key.name,
                        role: key.role,
                    }
                }
                Ok(None) => return refused("invalid_api_key", "this API key is unknown or revoked", true),
                Err(e) => return ApiError::from(e).into_response(),
            }
        }
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

fn is_open(path: &str) -> bool {
    OPEN.contains(&path) || OPEN_PREFIXES.iter().any(|prefix| path.starts_with(prefix))
}

fn refused(code: &str, message: &str, invalid: bool) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, code, message)
        .field("Authorization")
        .into_response();
    let challenge = if invalid {
        r#"Bearer realm="travel-planner", error="invalid_token""#
    } else {
        r#"Bearer realm="travel-planner""#
    };
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    response
}

/// `429` with `Retry-After` (whole seconds, rounded up).
fn too_many(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("this API key is over its rate limit; try again in {seconds} s"),
    )
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
