//! How long the trip is: `3天`, `五日游`, `两晚` (a night more than the days… the days are
//! the nights plus one), `一周`, "4 days", "5 nights" (6 days), "a week", "two weeks".

use std::sync::LazyLock;

use regex::Regex;

use crate::travel::parse::{
    numbers::{COUNT, count},
    text::Remaining,
};

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("duration pattern {pattern}: {e}"))
}

static DAYS: LazyLock<Regex> = LazyLock::new(|| re(&format!(r"(?i){COUNT}\s*(?:天|日游|日)|\b{COUNT}[\s-]*days?\b")));
static NIGHTS: LazyLock<Regex> = LazyLock::new(|| re(&format!(r"(?i){COUNT}\s*(?:晚|夜)|\b{COUNT}[\s-]*nights?\b")));
static WEEKS: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)(一|两|二)(?:周|个星期|个礼拜)|\b(a|one|two|{COUNT})\s+weeks?\b|\bfortnight\b"
    ))
});

pub fn read(text: &mut Remaining) -> Option<i64> {
    let first = |c: &regex::Captures| (1..=c.len()).find_map(|i| c.get(i)).map(|m| m.as_str().to_string());
    if let Some(days) = text.take(&DAYS, |c| count(&first(c)?)) {
        return Some(days);
    }
    if let Some(nights) = text.take(&NIGHTS, |c| count(&first(c)?)) {
        return Some(nights + 1);
    }
    text.take(&WEEKS, |c| {
        let said = c.get(0)?.as_str().to_lowercase();
        if said.contains("fortnight") {
            return Some(14);
        }
        let n = match first(c)?.to_lowercase().as_str() {
            "a" | "one" | "一" => 1,
            "两" | "二" => 2,
            other => count(other)?,
        };
        Some(n * 7)
    })
}
