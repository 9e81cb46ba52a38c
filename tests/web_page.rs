//! The web page in a real browser (headless Chromium over WebDriver) against a real
//! `planner dev`: plan a trip from free text and watch it live, read the plan and download
//! it; the approval flow (approve one plan, reject another) from the form; an API refusal
//! shown on the page; API keys (the page loads without one, a wrong one is refused, one
//! owner's plan does not exist for another, a revoked key takes its list with it); markup in a request shown as text; the recent
//! list read again on going home, and a failed refresh shown as such; and, with
//! the binary's fault injection (a slow draft step), a timeout and its retry in words, the
//! failure and "Try again", and a running plan cancelled from the page.
//! Screenshots go to `target/screenshots/`. Chromium and chromedriver must be installed
//! (`.ci/run` installs them): without them these tests fail, they do not skip.

#[path = "web_page/browser.rs"]
mod browser;
mod common;

use std::process::Command;

use browser::{Browser, DESKTOP, PHONE};
use common::{api_process, database_url, migrated};
use serde_json::{Value, json};
use sqlx::PgPool;

/// One browser at a time: the machine has two cores, and a browser, a driver and a
/// `planner dev` each want one.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const HANGZHOU: &str = "杭州3天2晚，两个人，预算3000元，喜欢美食和自然风光";

/// What a scenario holds until it ends: the one browser's turn, and its `planner dev`.
struct Held {
    _one: tokio::sync::MutexGuard<'static, ()>,
    api: common::Proc,
    url: String,
}

/// A migrated database, a real `planner dev` on it with `env`, and a browser showing its
/// page in English.
async fn open_page(pool: &PgPool, env: &[(&str, &str)]) -> (Held, Browser, String) {
    let one = ONE_BROWSER.lock().await;
    migrated(pool).await;
    let url = database_url(pool).await;
    let (api, base) = api_process("dev", &url, env).await;
    let browser = Browser::start().await;
    english(&browser, &base).await;
    (Held { _one: one, api, url }, browser, base)
}

/// The page in English, whatever the browser's language.
async fn english(browser: &Browser, base: &str) {
    browser.goto(&format!("{base}/")).await;
    browser.js("localStorage.setItem('planner.lang', 'en')").await;
    browser.goto(&format!("{base}/")).await;
    assert_eq!(browser.js("document.documentElement.lang").await, "en");
}

/// The plan id in the page's address, once it shows one.
async fn opened_plan(browser: &Browser) -> String {
    let hash = browser
        .until(
            "/^#\\/plans\\/[0-9a-f-]{36}$/.test(location.hash) && location.hash",
            "a plan's address",
        )
        .await;
    hash.as_str()
        .unwrap_or_default()
        .trim_start_matches("#/plans/")
        .to_string()
}

async fn status_is(browser: &Browser, status: &str) {
    browser
        .until(
            &format!("document.querySelector('#plan-status[data-status=\"{status}\"]')"),
            &format!("the plan to be {status}"),
        )
        .await;
}

fn number(value: &Value) -> f64 {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_f64())
        .unwrap_or(f64::NAN)
}

#[sqlx::test(migrations = false)]
async fn a_free_text_trip_is_planned_live_rendered_and_downloaded(pool: PgPool) {
    let (_held, browser, base) = open_page(&pool, &[]).await;

    browser.type_into("#query", HANGZHOU).await;
    browser.click("#submit").await;
    let id = opened_plan(&browser).await;

    // The live list: each step as it starts and finishes, then the end.
    browser
        .until("document.querySelectorAll('#events li').length > 0", "progress events")
        .await;
    status_is(&browser, "succeeded").await;
    browser
        .until(
            "document.querySelector('#events li[data-kind=\"succeeded\"]')",
            "the last event",
        )
        .await;
    let started = browser
        .js("document.querySelectorAll('#events li[data-kind=\"node_started\"]').length")
        .await;
    let finished = browser
        .js("document.querySelectorAll('#events li[data-kind=\"node_finished\"]').length")
        .await;
    assert_eq!(
        (started, finished),
        (json!(9), json!(9)),
        "every step starts and finishes"
    );
    let events = browser.text("#events").await;
    assert!(
        events.contains("Checking the weather"),
        "steps in plain words: {events}"
    );
    assert_eq!(browser.text("#progress-percent").await, "100%");
    // Folded away once the plan is done; one click shows every step again.
    assert_eq!(
        browser.js("document.querySelector('#progress details').open").await,
        json!(false)
    );
    browser.click("#progress summary").await;
    assert_eq!(
        browser.js("document.querySelector('#progress details').open").await,
        json!(true)
    );
    browser.screenshot_at_most("progress-desktop", DESKTOP, 1100).await;

    // The plan: three day cards, each with its weather, items, cost and route sketch; the
    // total within the budget the text gave.
    let days = browser
        .until("document.querySelectorAll('.day-card').length", "day cards")
        .await;
    assert_eq!(days, json!(3));
    let total = number(&browser.js("document.querySelector('#cost-total').dataset.amount").await);
    let budget = number(
        &browser
            .js("document.querySelector('#budget-limit').dataset.amount")
            .await,
    );
    assert_eq!(budget, 3000.0);
    assert!(total > 0.0 && total <= budget, "total {total} within budget {budget}");
    assert!(browser.text("#costs .verdict").await.starts_with("Within budget"));
    let day_costs: f64 = browser
        .js("[...document.querySelectorAll('.day-cost .cost')].map(e => Number(e.dataset.amount)).reduce((a, b) => a + b, 0)")
        .await
        .as_f64()
        .unwrap_or(f64::NAN);
    assert!(
        (day_costs - total).abs() < 0.01,
        "the days add up to the total: {day_costs} vs {total}"
    );
    for check in [
        "[...document.querySelectorAll('.day-card')].every(c => c.querySelector('.weather').textContent.includes('°C'))",
        "[...document.querySelectorAll('.day-card')].every(c => c.querySelectorAll('.item').length >= 3)",
        "[...document.querySelectorAll('.day-card')].every(c => Number(c.querySelector('svg.route')?.dataset.stops) >= 2)",
        "document.querySelectorAll('.day-card svg.route polyline').length === 3",
        "document.querySelector('.item.kind-transfer .detail').textContent.includes('min')",
        "document.querySelectorAll('.day-card p.lodging').length === 2",
        "document.querySelector('#sources li') !== null",
        "document.querySelector('#tips li') !== null",
    ] {
        assert_eq!(browser.js(check).await, json!(true), "{check}");
    }
    browser.screenshot("plan-desktop", DESKTOP).await;
    // The README's picture: the top of the same page.
    browser.screenshot_at_most("plan-desktop-top", DESKTOP, 1500).await;
    browser.screenshot("plan-phone", PHONE).await;
    browser.set_size(PHONE).await;
    let overflow = browser
        .js("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        .await;
    assert_eq!(overflow, json!(0), "nothing is wider than a 390-px phone");
    browser.set_size(DESKTOP).await;

    // The Markdown download: the file the browser saved is the API's itinerary.
    browser.click("#download-md").await;
    browser
        .until("document.querySelector('#downloads a[download]')", "the download link")
        .await;
    let saved = browser.downloaded(&format!("plan-{id}.md")).await;
    let expected = reqwest::get(format!("{base}/v1/plans/{id}/itinerary.md"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(saved.contains("杭州"), "{saved}");
    assert_eq!(saved, expected);
    assert_eq!(
        browser
            .js("document.querySelector('#downloads a[download]').download")
            .await,
        json!(format!("plan-{id}.md"))
    );

    // The recent list holds it, and a reload of its address reopens it; the language
    // switches and the choice outlives a reload.
    assert!(
        browser
            .js(&format!("document.querySelector('#recent-list a[data-plan=\"{id}\"]')"))
            .await
            .is_object()
    );
    browser.goto(&format!("{base}/#/plans/{id}")).await;
    browser
        .until(
            "document.querySelectorAll('.day-card').length === 3",
            "the reopened plan",
        )
        .await;
    browser.click("#lang-button").await;
    browser
        .until("document.documentElement.lang === 'zh-CN'", "Chinese")
        .await;
    assert_eq!(browser.text("#plan-status").await, "已完成");
    assert!(browser.text(".day-card h3").await.starts_with("第 1 天"));
    browser.goto(&format!("{base}/#/plans/{id}")).await;
    browser
        .until(
            "document.querySelectorAll('.day-card').length === 3",
            "the reopened plan",
        )
        .await;
    assert_eq!(browser.text("#lang-button").await, "English");
    browser.screenshot("plan-desktop-zh", DESKTOP).await;
    browser.screenshot("plan-phone-zh", PHONE).await;
    browser.close().await;
}

#[sqlx::test(migrations = false)]
async fn a_plan_that_asks_first_waits_for_approval_and_is_approved_or_rejected(pool: PgPool) {
    let (_held, browser, _) = open_page(&pool, &[]).await;
    browser
        .until(
            "document.querySelectorAll('#destination option').length > 10",
            "the destinations",
        )
        .await;

    // The form, by keyboard where a traveller would use it.
    browser
        .find("#destination")
        .await
        .select_by_value("hangzhou")
        .await
        .unwrap();
    browser.type_into("#days", "2").await;
    browser.type_into("#travelers", "2").await;
    browser.type_into("#budget", "5000").await;
    browser.click("label[for='interest-food']").await;
    browser.find("#pace").await.select_by_value("relaxed").await.unwrap();
    browser.click("#require_approval").await;
    browser.click("#submit").await;
    let approved = opened_plan(&browser).await;
    status_is(&browser, "awaiting_approval").await;
    let notice = browser.text("#plan-notice").await;
    assert!(
        notice.contains("waits for your approval") && notice.contains("the request asks for approval"),
        "{notice}"
    );
    browser
        .until(
            "document.querySelector('#events li[data-kind=\"awaiting_approval\"]')",
            "the wait in the live list",
        )
        .await;
    assert_eq!(
        browser.js("document.querySelectorAll('.day-card').length").await,
        json!(0)
    );
    browser.screenshot("approval-desktop", DESKTOP).await;
    browser.screenshot("approval-phone", PHONE).await;

    // Approve with the keyboard: Enter on the focused button.
    browser
        .find("#action-approve")
        .await
        .send_keys("\u{E007}")
        .await
        .unwrap();
    status_is(&browser, "succeeded").await;
    browser
        .until("document.querySelectorAll('.day-card').length === 2", "two day cards")
        .await;
    browser
        .until(
            "document.querySelector('#events li[data-kind=\"approved\"]')",
            "the approval in the live list",
        )
        .await;
    let request = browser.text("#request-text").await;
    assert!(
        request.contains("days: 2") && request.contains("budget: 5000 CNY"),
        "{request}"
    );

    // Another, rejected.
    browser.click(".top a[href='#/']").await;
    browser
        .until("!document.querySelector('#home').hidden", "the form")
        .await;
    browser.click("#submit").await;
    browser
        .until(
            &format!("location.hash.startsWith('#/plans/') && !location.hash.endsWith('{approved}')"),
            "a second plan",
        )
        .await;
    status_is(&browser, "awaiting_approval").await;
    browser.click("#action-reject").await;
    status_is(&browser, "rejected").await;
    assert_eq!(
        browser.js("document.querySelectorAll('.day-card').length").await,
        json!(0)
    );
    assert_eq!(
        browser.js("document.querySelector('#action-approve')").await,
        Value::Null
    );
    browser.close().await;
}

#[sqlx::test(migrations = false)]
async fn a_refused_request_shows_the_apis_message_and_field(pool: PgPool) {
    let (_held, browser, base) = open_page(&pool, &[]).await;

    let text = "3 days in Atlantis for 2";
    let refusal = submit_query(&base, text).await;
    let message = refusal["error"]["message"].as_str().unwrap().to_string();
    assert_eq!(refusal["error"]["field"], "query");

    browser.type_into("#query", text).await;
    browser.click("#submit").await;
    let shown = browser
        .until("document.querySelector('#form-error').textContent", "the refusal")
        .await;
    let shown = shown.as_str().unwrap_or_default();
    assert!(shown.contains(&message), "{shown}");
    assert!(shown.contains("(query)"), "the field is named: {shown}");
    assert_eq!(
        browser
            .js("document.querySelector('#query').getAttribute('aria-invalid')")
            .await,
        "true"
    );
    assert_eq!(browser.js("location.hash").await, "", "no plan was opened");
    browser.screenshot("refused-desktop", DESKTOP).await;
    browser.close().await;
}

#[sqlx::test(migrations = false)]
async fn going_home_shows_plans_submitted_meanwhile_and_a_failed_refresh_says_so(pool: PgPool) {
    let (mut held, browser, base) = open_page(&pool, &[]).await;
    browser
        .until(
            "document.querySelector('#recent-message').textContent.includes('No plans')",
            "the empty list",
        )
        .await;

    // A plan view with no stream to refresh the list: a plan that does not exist.
    browser
        .js("location.hash = '#/plans/00000000-0000-4000-8000-000000000000'")
        .await;
    browser
        .until("document.querySelector('#plan-error')?.dataset.code", "not found")
        .await;
    // Meanwhile a plan is submitted from elsewhere (another tab, the API).
    let submitted = submit_query(&base, HANGZHOU).await;
    let id = submitted["id"].as_str().unwrap().to_string();

    browser.click(".top a[href='#/']").await;
    let listed = browser
        .until(
            "document.querySelector('#recent-list a')?.dataset.plan",
            "the submitted plan in the list",
        )
        .await;
    assert_eq!(listed, json!(id));
    assert_eq!(browser.text("#recent-message").await, "");

    // The service goes away: a refresh says so instead of showing the old list as current.
    held.api.sigkill();
    browser.click("#recent-refresh").await;
    let said = browser
        .until(
            "document.querySelector('#recent-message').textContent",
            "the refresh's failure",
        )
        .await;
    assert!(
        said.as_str().unwrap_or_default().contains("cannot be reached"),
        "{said}"
    );
    browser.close().await;
}

#[sqlx::test(migrations = false)]
async fn markup_in_a_request_is_shown_as_text_and_never_runs(pool: PgPool) {
    let (_held, browser, _) = open_page(&pool, &[]).await;

    let text = r#"杭州2天 <script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">"#;
    browser.type_into("#query", text).await;
    browser.click("#submit").await;
    opened_plan(&browser).await;
    status_is(&browser, "succeeded").await;
    browser
        .until("document.querySelector('#request-text')", "the request")
        .await;
    assert_eq!(browser.text("#request-text").await, text);
    // Before its result the plan is titled by its text: the recent list showed it too.
    browser.click(".top a[href='#/']").await;
    browser
        .until("document.querySelector('#recent-list a')", "the recent list")
        .await;
    assert_eq!(
        browser
            .js("document.querySelectorAll('img, script:not([src])').length")
            .await,
        json!(0),
        "no element was made from the text"
    );
    assert_eq!(
        browser.js("window.__pwned === undefined").await,
        json!(true),
        "no script ran"
    );
    browser.close().await;
}

/// `planner keys create --name {name}`: the token it prints.
/// `POST /v1/plans` with a free-text query, as another tab or client would: the API's answer.
async fn submit_query(base: &str, query: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/v1/plans"))
        .json(&json!({"query": query}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `planner keys …` against the page's database: what it printed.
fn planner_keys(url: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_planner"))
        .arg("keys")
        .args(args)
        .env("DATABASE_URL", url)
        .env("LOG_FORMAT", "json")
        .output()
        .expect("run planner keys");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn create_key(url: &str, name: &str) -> String {
    planner_keys(url, &["create", "--name", name])
}

async fn use_key(browser: &Browser, key: &str) {
    browser.type_into("#key-input", key).await;
    browser.click("#key-save").await;
}

#[sqlx::test(migrations = false)]
async fn with_keys_required_the_page_asks_for_one_and_shows_only_the_callers_plans(pool: PgPool) {
    // The page and its assets load without a key; it asks for one.
    let (held, browser, base) = open_page(&pool, &[("AUTH_MODE", "required")]).await;
    let alice = create_key(&held.url, "alice");
    let bob = create_key(&held.url, "bob");
    browser
        .until("!document.querySelector('#key-panel').hidden", "the key prompt")
        .await;
    assert!(browser.text("#key-message").await.contains("Enter an API key"));
    browser.screenshot("key-prompt-desktop", DESKTOP).await;

    let wrong = format!("tp_{}", "0".repeat(64));
    use_key(&browser, &wrong).await;
    let refused = browser
        .until(
            "document.querySelector('#key-message.error')?.textContent",
            "the refusal",
        )
        .await;
    let refused = refused.as_str().unwrap_or_default();
    assert!(
        refused.contains("The API key was refused") && refused.contains("unknown or revoked"),
        "{refused}"
    );
    assert_eq!(
        browser.js("sessionStorage.getItem('planner.apiKey')").await,
        Value::Null
    );

    // Alice plans a trip and downloads it with her key.
    use_key(&browser, &alice).await;
    browser
        .until("document.querySelector('#key-panel').hidden", "the key taken")
        .await;
    browser.type_into("#query", HANGZHOU).await;
    browser.click("#submit").await;
    let plan = opened_plan(&browser).await;
    status_is(&browser, "succeeded").await;
    browser.click("#download-json").await;
    browser
        .until("document.querySelector('#downloads a[download]')", "the download link")
        .await;
    let saved = browser.downloaded(&format!("plan-{plan}.json")).await;
    let saved: Value = serde_json::from_str(&saved).unwrap_or_else(|e| panic!("the saved plan is JSON ({e}): {saved}"));
    assert_eq!(saved["id"], json!(plan));
    assert_eq!(saved["result"]["days"].as_array().map(Vec::len), Some(3));
    // The key lasts the browser session: a reload does not ask again.
    browser.goto(&format!("{base}/")).await;
    browser
        .until(
            &format!("document.querySelector('#recent-list a[data-plan=\"{plan}\"]')"),
            "alice's plan listed",
        )
        .await;
    assert_eq!(
        browser.js("document.querySelector('#key-panel').hidden").await,
        json!(true)
    );

    // Bob neither sees it listed nor can open it.
    browser.click("#key-button").await;
    browser.click("#key-forget").await;
    use_key(&browser, &bob).await;
    browser
        .until("document.querySelector('#key-panel').hidden", "bob's key taken")
        .await;
    browser
        .until(
            "document.querySelector('#recent-message').textContent.includes('No plans')",
            "bob's empty list",
        )
        .await;
    assert_eq!(
        browser.js("document.querySelectorAll('#recent-list a').length").await,
        json!(0)
    );
    browser.goto(&format!("{base}/#/plans/{plan}")).await;
    let error = browser
        .until("document.querySelector('#plan-error')?.dataset.code", "not found")
        .await;
    assert_eq!(error, "not_found");
    assert!(browser.text("#plan-title").await.contains("does not exist"));

    // Alice again, until her key is revoked: her list goes with it.
    browser.click("#key-button").await;
    browser.click("#key-forget").await;
    use_key(&browser, &alice).await;
    browser.click(".top a[href='#/']").await;
    browser
        .until(
            &format!("document.querySelector('#recent-list a[data-plan=\"{plan}\"]')"),
            "alice's plan listed again",
        )
        .await;
    planner_keys(&held.url, &["revoke", "alice"]);
    // Each api process trusts a key for 5 s: the list is refreshed until the key is refused.
    let refused = browser
        .until(
            "(document.querySelector('#key-panel').hidden && document.querySelector('#recent-refresh').click(), \
             document.querySelector('#key-message.error')?.textContent)",
            "the revoked key refused",
        )
        .await;
    assert!(
        refused.as_str().unwrap_or_default().contains("The API key was refused"),
        "{refused}"
    );
    assert_eq!(
        browser.js("document.querySelectorAll('#recent-list a').length").await,
        json!(0)
    );
    assert_eq!(browser.text("#recent-message").await, "");
    browser.close().await;
}

/// The sentences the live list shows for events of `kind`, in order.
async fn event_lines(browser: &Browser, kind: &str) -> Vec<String> {
    let lines = browser
        .js(&format!(
            "[...document.querySelectorAll('#events li[data-kind=\"{kind}\"] span')].map(s => s.textContent)"
        ))
        .await;
    serde_json::from_value(lines).unwrap_or_default()
}

async fn plan_json(base: &str, id: &str) -> Value {
    reqwest::get(format!("{base}/v1/plans/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_timed_out_step_is_retried_in_words_then_fails_and_try_again_runs_it_anew(pool: PgPool) {
    // Drafting takes 3 s but may take 1: each attempt times out, the first is retried
    // after half a second, the second is the last.
    let faults = [
        ("PLANNER_FAULT_NODE_DELAY", "draft=3000"),
        ("NODE_TIMEOUT_SECS", "1"),
        ("PLAN_MAX_ATTEMPTS", "2"),
        ("PLAN_RETRY_BASE_MS", "500"),
        ("QUEUE_POLL_MS", "200"),
    ];
    let (_held, browser, base) = open_page(&pool, &faults).await;

    browser.type_into("#query", HANGZHOU).await;
    browser.click("#submit").await;
    let id = opened_plan(&browser).await;

    // The first attempt's timeout and the retry it schedules, in the page's words, in the
    // live list and marked as needing attention.
    browser
        .until(
            "document.querySelector('#events li.warn[data-kind=\"retry_scheduled\"]')",
            "the retry in the live list",
        )
        .await;
    let timeouts = event_lines(&browser, "timeout").await;
    assert_eq!(
        timeouts.first().map(String::as_str),
        Some("Drafting the itinerary took longer than 1 s and timed out."),
        "{timeouts:?}"
    );
    let retries = event_lines(&browser, "retry_scheduled").await;
    assert_eq!(retries.len(), 1, "{retries:?}");
    let retry = &retries[0];
    let (said, at) = retry
        .rsplit_once(" at ")
        .unwrap_or_else(|| panic!("the retry says when: {retry}"));
    assert_eq!(said, "Drafting the itinerary took longer than 1 s; trying again");
    assert!(
        at.len() == 9 && at.ends_with('.') && at[..8].split(':').all(|n| n.len() == 2 && n.parse::<u8>().is_ok()),
        "a time of day: {retry}"
    );
    // The timeout comes before the retry it causes, after the draft step began.
    let order: Vec<String> = serde_json::from_value(
        browser
            .js("[...document.querySelectorAll('#events li span')].map(s => s.textContent)")
            .await,
    )
    .unwrap();
    let line = |text: &str| order.iter().position(|l| l.starts_with(text));
    let draft_started = line("Drafting the itinerary…");
    let timeout = line("Drafting the itinerary took longer");
    let retry_at = line("Drafting the itinerary took longer than 1 s; trying again");
    assert!(draft_started.is_some(), "{order:?}");
    assert!(
        draft_started < timeout && timeout < retry_at,
        "started, timed out, retried: {order:?}"
    );
    browser
        .screenshot_at_most("retry-progress-desktop", DESKTOP, 1400)
        .await;

    // The second attempt times out too and was the last: the plan fails, in words, with a
    // button to try again.
    status_is(&browser, "failed").await;
    assert_eq!(browser.text("#plan-status").await, "Failed");
    // In the page's words, not the worker's ("gave up after 2 attempts; last error in
    // draft: node draft timed out after 1000 ms").
    let failed = "The plan failed after 2 attempts: Drafting the itinerary took longer than 1 s.";
    assert_eq!(browser.text("#plan-notice").await, failed);
    browser
        .until(
            "document.querySelector('#events li.bad[data-kind=\"failed\"]')",
            "the failure in the live list",
        )
        .await;
    assert_eq!(event_lines(&browser, "failed").await, [failed]);
    assert_eq!(event_lines(&browser, "timeout").await.len(), 2);
    assert_eq!(
        event_lines(&browser, "started").await,
        ["Attempt 1 started.", "Attempt 2 started."]
    );
    assert_eq!(browser.text("#action-retry").await, "Try again");
    assert_eq!(
        browser.js("document.querySelector('#action-cancel')").await,
        Value::Null,
        "nothing to cancel"
    );
    assert_eq!(
        browser.js("document.querySelectorAll('.day-card').length").await,
        json!(0)
    );
    let before = plan_json(&base, &id).await;
    assert_eq!(before["status"], "failed");
    assert_eq!(before["attempts"], 2);
    assert_eq!(before["error"]["code"], "attempts_exhausted");
    browser.screenshot_at_most("failed-desktop", DESKTOP, 1400).await;
    // The same in Chinese: the worker's English message is not shown to a Chinese reader.
    browser.click("#lang-button").await;
    browser
        .until("document.documentElement.lang === 'zh-CN'", "Chinese")
        .await;
    assert_eq!(
        browser.text("#plan-notice").await,
        "尝试 2 次后规划失败：起草行程超过 1 秒未完成。"
    );
    assert_eq!(
        event_lines(&browser, "timeout").await.first().map(String::as_str),
        Some("起草行程超过 1 秒，已超时。")
    );
    assert!(
        event_lines(&browser, "retry_scheduled").await[0].starts_with("起草行程超过 1 秒未完成，将于 "),
        "the retry in Chinese"
    );
    assert_eq!(browser.text("#action-retry").await, "重试");
    browser.click("#lang-button").await;
    browser.until("document.documentElement.lang === 'en'", "English").await;

    // Try again: a new run, with fresh attempts, followed live.
    browser.click("#action-retry").await;
    browser
        .until(
            "document.querySelector('#events li[data-kind=\"retry_requested\"]')",
            "the retry request in the live list",
        )
        .await;
    assert_eq!(event_lines(&browser, "retry_requested").await, ["Trying again."]);
    browser
        .until(
            "['queued', 'running'].includes(document.querySelector('#plan-status').dataset.status)",
            "the plan queued or running again",
        )
        .await;
    // The old failure is no longer shown (a notice of the new run's own wait may be).
    let notice = browser.text("#plan-notice").await;
    assert!(!notice.contains("failed after"), "{notice}");
    let again = plan_json(&base, &id).await;
    assert!(
        ["queued", "running"].contains(&again["status"].as_str().unwrap_or_default()),
        "{again}"
    );
    assert!(again["attempts"].as_i64() <= Some(1), "attempts restarted: {again}");
    // The new run's events arrive on the page: its first attempt starts, and with the same
    // faults it times out and fails again.
    browser
        .until(
            "document.querySelectorAll('#events li[data-kind=\"started\"]').length === 3",
            "the new run's first attempt",
        )
        .await;
    assert_eq!(
        event_lines(&browser, "started").await.last().map(String::as_str),
        Some("Attempt 1 started.")
    );
    browser
        .until(
            "document.querySelectorAll('#events li[data-kind=\"failed\"]').length === 2",
            "the new run's failure",
        )
        .await;
    status_is(&browser, "failed").await;
    assert_eq!(plan_json(&base, &id).await["status"], "failed");
    assert!(browser.js("document.querySelector('#action-retry')").await.is_object());
    browser.close().await;
}

#[sqlx::test(migrations = false)]
async fn a_running_plan_is_cancelled_from_the_page(pool: PgPool) {
    let (_held, browser, base) = open_page(&pool, &[("PLANNER_FAULT_NODE_DELAY", "draft=5000")]).await;

    browser.type_into("#query", HANGZHOU).await;
    browser.click("#submit").await;
    let id = opened_plan(&browser).await;
    // Running, and in the slow step.
    status_is(&browser, "running").await;
    browser
        .until(
            "[...document.querySelectorAll('#events li[data-kind=\"node_started\"] span')].some(s => s.textContent === 'Drafting the itinerary…')",
            "the draft step started",
        )
        .await;
    assert_eq!(browser.text("#plan-status").await, "Planning");
    assert_eq!(browser.text("#action-cancel").await, "Cancel");

    browser.click("#action-cancel").await;
    // The request is taken at once; the run stops when the step ends.
    browser
        .until(
            "document.querySelector('#events li[data-kind=\"cancel_requested\"]')",
            "the cancel request in the live list",
        )
        .await;
    assert_eq!(event_lines(&browser, "cancel_requested").await, ["Cancelling…"]);
    status_is(&browser, "cancelled").await;
    assert_eq!(browser.text("#plan-status").await, "Cancelled");
    browser
        .until(
            "document.querySelector('#events li.bad[data-kind=\"cancelled\"]')",
            "the cancellation in the live list",
        )
        .await;
    assert_eq!(event_lines(&browser, "cancelled").await, ["Cancelled."]);
    for gone in ["#action-cancel", "#action-retry", "#download-md"] {
        assert_eq!(
            browser.js(&format!("document.querySelector('{gone}')")).await,
            Value::Null,
            "{gone}"
        );
    }
    assert_eq!(
        browser.js("document.querySelectorAll('.day-card').length").await,
        json!(0)
    );
    let plan = plan_json(&base, &id).await;
    assert_eq!(plan["status"], "cancelled", "{plan}");
    browser.close().await;
}
