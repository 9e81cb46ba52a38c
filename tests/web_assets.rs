//! The web page's files as the API serves them, in process: each with its content type,
//! `no-cache` and an ETag that answers `304`; open without a key when keys are required;
//! under the same Content-Security-Policy as everything else; an unknown file a JSON 404.

mod common;

use std::sync::Arc;

use common::{call, migrated};
use planner::{
    api,
    config::{AuthMode, Settings},
};
use sqlx::PgPool;

fn guarded(pool: &PgPool) -> axum::Router {
    let mut settings = Settings::for_database("postgres://unused").unwrap();
    settings.auth_mode = AuthMode::Required;
    api::router(api::AppState::new(pool.clone(), Arc::new(settings)))
}

#[sqlx::test(migrations = false)]
async fn the_page_and_its_assets_are_served_with_types_etags_and_no_key(pool: PgPool) {
    migrated(&pool).await;
    let app = guarded(&pool);
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/sse.js", "text/javascript; charset=utf-8"),
        ("/assets/render.js", "text/javascript; charset=utf-8"),
    ] {
        let reply = call(&app, "GET", path, None, &[]).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert_eq!(reply.headers["content-type"], content_type, "{path}");
        assert_eq!(reply.headers["cache-control"], "no-cache", "{path}");
        let csp = reply.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        let etag = reply.headers["etag"].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
        let again = call(&app, "GET", path, None, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, 304, "{path}");
        assert!(again.text.is_empty());
        assert_eq!(again.headers["etag"].to_str().unwrap(), etag);
        let stale = call(&app, "GET", path, None, &[("if-none-match", "\"other\"")]).await;
        assert_eq!(stale.status, 200, "{path}");
    }
    let page = call(&app, "GET", "/", None, &[]).await.text;
    assert!(page.contains(r#"<script type="module" src="/assets/app.js"></script>"#));
    assert!(!page.contains("style="), "no inline style: the CSP would block it");

    // The API beside it still wants a key.
    assert_eq!(call(&app, "GET", "/v1/destinations", None, &[]).await.status, 401);
    for path in ["/assets/nothing.js", "/assets/index.html", "/assets/../Cargo.toml"] {
        let reply = call(&app, "GET", path, None, &[]).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text);
        assert_eq!(reply.body["error"]["code"], "not_found", "{path}");
    }
}

/// Every file `index.html` and the scripts name is served: a module import of a file the
/// binary does not carry would break the page only in a browser.
#[sqlx::test(migrations = false)]
async fn every_file_the_page_names_is_served(pool: PgPool) {
    migrated(&pool).await;
    let app = common::router(&pool);
    let named = regex::Regex::new(r#"(?:src|href)="(/assets/[^"]+)"|from '\./([^']+)'"#).unwrap();
    let mut pending = vec!["/".to_string()];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(path) = pending.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let reply = call(&app, "GET", &path, None, &[]).await;
        assert_eq!(reply.status, 200, "{path} is named but not served");
        for found in named.captures_iter(&reply.text) {
            let next = match (found.get(1), found.get(2)) {
                (Some(absolute), _) => absolute.as_str().to_string(),
                (_, Some(relative)) => format!("/assets/{}", relative.as_str()),
                _ => continue,
            };
            pending.push(next);
        }
    }
    assert!(seen.len() >= 10, "{seen:?}");
}
