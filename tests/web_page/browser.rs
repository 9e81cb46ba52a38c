//! A headless Chromium driven over WebDriver: a `chromedriver` on a free port, one browser
//! session, and the few things the page's tests do with it — wait for a condition read by
//! a script, read text, save a screenshot.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

const DRIVERS: [&str; 2] = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];
const BROWSERS: [&str; 3] = [
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
];
/// How long a condition may take to hold: a plan on the embedded providers is done in well
/// under a second, but CI machines are slow.
const PATIENCE: Duration = Duration::from_secs(30);
pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (390, 844);

/// The program named by `variable`, else the first of `candidates` that exists. A missing
/// browser fails the test: CI installs it (`.ci/run`), and a skipped browser test proves
/// nothing.
fn program(variable: &str, candidates: &[&str], install: &str) -> PathBuf {
    if let Ok(path) = std::env::var(variable) {
        return PathBuf::from(path);
    }
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("{install} is not installed (looked at {candidates:?}; or set {variable}): apt-get install -y chromium chromium-driver")
        })
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    /// The browser's profile; files it downloads land in `downloads/` under it.
    profile: PathBuf,
}

impl Browser {
    pub async fn start() -> Self {
        let driver_path = program("CHROMEDRIVER", &DRIVERS, "chromedriver");
        let chromium = program("CHROME_BIN", &BROWSERS, "chromium");
        let port = crate::common::free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", driver_path.display()));
        let profile = std::env::temp_dir().join(format!("web-page-test-{}", uuid::Uuid::new_v4()));
        let (w, h) = DESKTOP;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--hide-scrollbars", format!("--window-size={w},{h}"), "--lang=en-US",
                         format!("--user-data-dir={}", profile.display())],
                "prefs": {
                    "intl.accept_languages": "en-US,en",
                    "download.default_directory": profile.join("downloads"),
                    "download.prompt_for_download": false,
                },
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if started.elapsed() > Duration::from_secs(20) => {
                    panic!("chromedriver on {url} gave no browser session: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Self {
            client,
            driver,
            profile,
        }
    }

    /// Ends the session (the browser quits) and the driver.
    pub async fn close(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("the page loads");
        self.until(
            "document.body && document.body.dataset.ready === 'true'",
            "the page to start",
        )
        .await;
    }

    /// Runs `expression` (JavaScript) until its value is truthy, and returns that value;
    /// panics after `PATIENCE` with what was awaited and the page's text.
    pub async fn until(&self, expression: &str, what: &str) -> Value {
        let script = format!("return ({expression});");
        let started = Instant::now();
        loop {
            let value = self.client.execute(&script, vec![]).await.unwrap_or(Value::Null);
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            if started.elapsed() > PATIENCE {
                let text = self
                    .js("document.body ? document.body.innerText.slice(0, 3000) : ''")
                    .await;
                panic!("waited {PATIENCE:?} for {what} ({expression}); the page says:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The value of a JavaScript expression.
    pub async fn js(&self, expression: &str) -> Value {
        self.client
            .execute(&format!("return ({expression});"), vec![])
            .await
            .expect("the script runs")
    }

    /// The text of the first element matching `css`, or "" when none does.
    pub async fn text(&self, css: &str) -> String {
        let script = "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';";
        self.client
            .execute(script, vec![json!(css)])
            .await
            .expect("the script runs")
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The text of the file the browser saved as `name`, once it has finished saving it.
    pub async fn downloaded(&self, name: &str) -> String {
        let path = self.profile.join("downloads").join(name);
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&path) {
                return text;
            }
            assert!(started.elapsed() < PATIENCE, "the browser saved no {}", path.display());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    /// Clicks the first element matching `css`. The page re-renders a plan's header when the
    /// plan changes: a button found just before is then replaced by its twin in the same
    /// place, which a person's click would land on; so is this one (a few tries).
    pub async fn click(&self, css: &str) {
        for _ in 0..5 {
            match self.find(css).await.click().await {
                Ok(_) => return,
                Err(e) if e.is_stale_element_reference() => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{css} cannot be clicked: {e}"),
            }
        }
        panic!("{css} was replaced each time it was clicked");
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("the field clears");
        field.send_keys(text).await.expect("the field takes text");
    }

    pub async fn set_size(&self, (width, height): (u32, u32)) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("the window resizes");
    }

    /// Saves the whole page at `size`'s width as `target/screenshots/{name}.png`, then goes
    /// back to the desktop size.
    pub async fn screenshot(&self, name: &str, size: (u32, u32)) -> PathBuf {
        self.screenshot_at_most(name, size, 6000).await
    }

    /// A screenshot of the page's top `max_height` pixels at most.
    pub async fn screenshot_at_most(&self, name: &str, size: (u32, u32), max_height: u32) -> PathBuf {
        self.set_size(size).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let height = self
            .js("document.documentElement.scrollHeight")
            .await
            .as_u64()
            .unwrap_or(900);
        let height = (height as u32).clamp(size.1, max_height.max(size.1));
        self.set_size((size.0, height)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("target/screenshots is writable");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("the screenshot is saved");
        self.set_size(DESKTOP).await;
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A test that panicked never reached `close`: the driver's browser goes with it.
        if let Ok(None) = self.driver.try_wait() {
            for child in children(self.driver.id()) {
                let _ = Command::new("kill").args(["-KILL", &child.to_string()]).status();
            }
            let _ = self.driver.kill();
            let _ = self.driver.wait();
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The processes whose parent is `pid` (Linux: from /proc).
fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|stat| {
                // The parent is the second field after the command, which is in parentheses.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}
