//! A callback URL checked before anything is sent to it: absolute `http`/`https`, a host, no
//! credentials, at most `MAX_URL_LEN` characters, and — unless private targets are allowed —
//! every address its host resolves to public (`address`). The address checked is the one
//! connected to (`Target::pinned`), so a name that resolves differently a moment later
//! (DNS rebinding) reaches nothing it was not checked for.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use reqwest::Url;

use crate::webhook::address;

pub const MAX_URL_LEN: usize = 2048;

/// How long a host name may take to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a URL is not called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Never callable: malformed, another scheme, or a forbidden address.
    Forbidden(String),
    /// The host name did not resolve (now): a later try may succeed.
    Unresolved(String),
}

impl Refused {
    pub fn message(&self) -> &str {
        match self {
            Refused::Forbidden(m) | Refused::Unresolved(m) => m,
        }
    }
}

/// A URL fit to be called, and the address to connect to when it was checked by name.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    /// The host name and the checked address it resolved to.
    pub pinned: Option<(String, SocketAddr)>,
}

/// The URL's form alone (no resolution).
pub fn parse(raw: &str) -> Result<Url, Refused> {
    let forbidden = |m: String| Err(Refused::Forbidden(m));
    if raw.len() > MAX_URL_LEN {
        return forbidden(format!("must be at most {MAX_URL_LEN} characters"));
    }
    let Ok(url) = Url::parse(raw) else {
        return forbidden(format!("{raw:?} is not an absolute URL"));
    };
    if !matches!(url.scheme(), "http" | "https") {
        return forbidden(format!("must be an http or https URL, not {}:", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return forbidden("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return forbidden("must not carry credentials".into());
    }
    Ok(url)
}

/// `raw` parsed and, unless `allow_private`, its host's addresses checked.
pub async fn check(raw: &str, allow_private: bool) -> Result<Target, Refused> {
    let url = parse(raw)?;
    if allow_private {
        return Ok(Target { url, pinned: None });
    }
    let port = url.port_or_known_default().unwrap_or(80);
    let host = match url.host() {
        Some(url::Host::Ipv4(ip)) => return literal(url.clone(), IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => return literal(url.clone(), IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => name.to_string(),
        None => return Err(Refused::Forbidden("must name a host".into())),
    };
    let resolved = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host(format!("{host}:{port}"))).await;
    let addresses: Vec<SocketAddr> = match resolved {
        Ok(Ok(found)) => found.collect(),
        Ok(Err(e)) => return Err(Refused::Unresolved(format!("host {host} does not resolve: {e}"))),
        Err(_) => return Err(Refused::Unresolved(format!("host {host} did not resolve in time"))),
    };
    let Some(first) = addresses.first().copied() else {
        return Err(Refused::Unresolved(format!("host {host} resolves to no address")));
    };
    for a in &addresses {
        if let Some(why) = address::forbidden(a.ip()) {
            // A name's addresses are not told: the check must not map internal names.
            let message = if host.parse::<std::net::IpAddr>().is_ok() {
                format!("host {host} is a {why} address")
            } else {
                format!("host {host} does not resolve to public addresses only")
            };
            return Err(Refused::Forbidden(message));
        }
    }
    Ok(Target {
        url,
        pinned: Some((host, first)),
    })
}

fn literal(url: Url, ip: IpAddr) -> Result<Target, Refused> {
    match address::forbidden(ip) {
        Some(why) => Err(Refused::Forbidden(format!("{ip} is a {why} address"))),
        None => Ok(Target { url, pinned: None }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(raw: &str) -> String {
        match parse(raw) {
            Err(Refused::Forbidden(m)) => m,
            other => panic!("{raw}: {other:?}"),
        }
    }

    #[test]
    fn only_absolute_http_urls_with_a_host_and_no_credentials_pass() {
        assert!(forbidden("ftp://example.com/x").contains("http or https"));
        assert!(forbidden("/relative/path").contains("absolute"));
        assert!(forbidden("https://user:pw@example.com/").contains("credentials"));
        assert!(forbidden(&format!("https://example.com/{}", "a".repeat(MAX_URL_LEN))).contains("2048"));
        assert!(parse("https://hooks.example.com/planner?x=1").is_ok());
        assert!(parse("http://[2606:4700::1]:8080/").is_ok());
    }

    #[tokio::test]
    async fn literal_and_resolved_private_addresses_are_refused_unless_allowed() {
        for raw in [
            "http://127.0.0.1:9/",
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost:9/",
        ] {
            match check(raw, false).await {
                Err(Refused::Forbidden(m)) => assert!(m.contains("address"), "{raw}: {m}"),
                other => panic!("{raw}: {other:?}"),
            }
            assert!(check(raw, true).await.is_ok(), "{raw} allowed with private targets");
        }
        assert!(check("https://8.8.8.8/hook", false).await.is_ok());
    }
}
