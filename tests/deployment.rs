//! The Kubernetes deployment's one piece of SQL: the KEDA query that sizes the worker pool
//! (deploy/k8s/base/worker-scaledobject.yaml), run as written against a known mix of plans.

mod common;

use common::{create_plan, in_days, migrated};
use serde_json::json;
use sqlx::PgPool;

/// The `query:` of the ScaledObject's PostgreSQL trigger, as KEDA will send it.
fn keda_query() -> String {
    let manifest = include_str!("../deploy/k8s/base/worker-scaledobject.yaml");
    let line = manifest
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("query:"))
        .expect("the ScaledObject has a query");
    let quoted = line.trim_start_matches("query:").trim();
    quoted.trim_matches('"').to_string()
}

#[sqlx::test(migrations = false)]
async fn the_keda_query_counts_plans_that_need_a_worker_slot_now(pool: PgPool) {
    migrated(&pool).await;
    let request = json!({"destination": "杭州", "start_date": in_days(5), "days": 2});
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(create_plan(&pool, &request, 3).await);
    }
    let set = |sql: &'static str, id| {
        let pool = pool.clone();
        async move { sqlx::query(sql).bind(id).execute(&pool).await.unwrap() }
    };
    // 0–2 stay queued and due now.
    // 3–4 back off before a retry; 5 is scheduled for later.
    for &id in &ids[3..6] {
        set(
            "UPDATE plans SET due_at = now() + interval '5 minutes' WHERE id = $1",
            id,
        )
        .await;
    }
    // 6–7 run on some worker.
    for &id in &ids[6..8] {
        set(
            "UPDATE plans SET status = 'running', started_at = now() WHERE id = $1",
            id,
        )
        .await;
    }
    set("UPDATE plans SET status = 'awaiting_approval' WHERE id = $1", ids[8]).await;
    set(
        "UPDATE plans SET status = 'succeeded', finished_at = now() WHERE id = $1",
        ids[9],
    )
    .await;

    let query = keda_query();
    assert!(query.starts_with("SELECT count(*) FROM plans"), "{query}");
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query.clone()))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        count,
        3 + 2,
        "3 due queued + 2 running; not the 3 waiting, the 1 awaiting approval or the 1 done"
    );

    // A backing-off plan that comes due is counted from then on.
    set(
        "UPDATE plans SET due_at = now() - interval '1 second' WHERE id = $1",
        ids[3],
    )
    .await;
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query.clone()))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 6);
}

/// Every folder outside `src/` that the crate compiles in (`include_str!`, `include_bytes!`,
/// `sqlx::migrate!`) is copied into the Dockerfile's build stage: the image is built where no
/// test runs it (CI here has no Rust image to build from), so a missing COPY would surface
/// only on a user's `docker compose up --build`.
#[test]
fn the_dockerfile_copies_everything_the_crate_compiles_in() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    // The first stage, up to the second FROM.
    let build_stage = dockerfile.split("\nFROM ").nth(1).unwrap();
    assert!(build_stage.contains("AS build"), "{build_stage}");
    let copied: Vec<&str> = build_stage
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let pattern = regex::Regex::new(r#"(?:include_str!|include_bytes!|migrate!)\((?:concat!\()?"([^"]+)""#).unwrap();
    let mut needed = std::collections::BTreeSet::new();
    let mut stack = vec![root.join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for found in pattern.captures_iter(&text) {
                // include_*! paths are relative to the file, migrate! to the crate root.
                let base = if found[0].contains("migrate!") {
                    root
                } else {
                    path.parent().unwrap()
                };
                let target = base.join(&found[1]);
                let resolved = std::path::absolute(&target).unwrap();
                let mut normal = std::path::PathBuf::new();
                for part in resolved.components() {
                    match part {
                        std::path::Component::ParentDir => {
                            normal.pop();
                        }
                        std::path::Component::CurDir => {}
                        other => normal.push(other),
                    }
                }
                let relative = normal.strip_prefix(root).unwrap();
                let top = relative
                    .components()
                    .next()
                    .unwrap()
                    .as_os_str()
                    .to_string_lossy()
                    .to_string();
                needed.insert(top);
            }
        }
    }
    assert!(needed.contains("web") && needed.contains("migrations"), "{needed:?}");
    for folder in needed.iter().filter(|f| *f != "src") {
        assert!(
            copied.contains(&folder.as_str()),
            "the Dockerfile's build stage does not COPY {folder}/"
        );
    }
}
