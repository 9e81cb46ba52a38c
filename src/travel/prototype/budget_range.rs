//! The prototype's `budget_range`: a tier label such as `经济型 (300-800元/天)`, `中等预算`
//! or `豪华型`, read as a daily amount for one person. A range's upper bound is the cap; a
//! tier named without numbers takes the prototype's own bounds; an open range (`1500元以上`,
//! `豪华型`) sets no cap, so the most comfortable plan is made.

use std::sync::LazyLock;

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DailyBudget {
    /// At most this much a day for one person.
    Capped(f64),
    /// No upper bound.
    Uncapped,
}

static RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\d+(?:\.\d+)?)\s*(?:元|¥|\$)?\s*(?:-|~|～|—|–|至|到|to)\s*(?:元|¥|\$)?\s*(\d+(?:\.\d+)?)")
        .unwrap_or_else(|e| panic!("{e}"))
});
static OPEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:\d+(?:\.\d+)?\s*(?:元|¥|\$)?\s*(?:以上|起|\+)|(?:above|over|from)\s*[¥$]?\s*\d)")
        .unwrap_or_else(|e| panic!("{e}"))
});
static SINGLE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d+(?:\.\d+)?)").unwrap_or_else(|e| panic!("{e}")));

/// Tiers named by word alone, with the prototype's daily bounds.
const TIERS: &[(&[&str], DailyBudget)] = &[
    (&["经济", "穷游", "economy", "cheap"], DailyBudget::Capped(800.0)),
    (
        &["中等", "中档", "适中", "舒适", "moderate", "mid", "medium", "standard"],
        DailyBudget::Capped(1500.0),
    ),
    (
        &["豪华", "高端", "奢华", "luxury", "premium", "high"],
        DailyBudget::Uncapped,
    ),
];

/// `None` when the label says no amount and names no tier.
pub fn read(label: &str) -> Option<DailyBudget> {
    // "800-1,500": thousands separators are not decimal points.
    let cleaned = label.replace(',', "");
    let label = cleaned.as_str();
    if let Some(c) = RANGE.captures(label) {
        let (low, high) = (c[1].parse::<f64>().ok()?, c[2].parse::<f64>().ok()?);
        return Some(DailyBudget::Capped(low.max(high)));
    }
    if OPEN.is_match(label) {
        return Some(DailyBudget::Uncapped);
    }
    if let Some(c) = SINGLE.captures(label) {
        return c[1].parse::<f64>().ok().map(DailyBudget::Capped);
    }
    let lower = label.to_lowercase();
    // The most generous tier a label names wins ("high budget" is not economy).
    TIERS
        .iter()
        .rev()
        .find(|(words, _)| words.iter().any(|w| lower.contains(w)))
        .map(|(_, daily)| *daily)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prototypes_labels() {
        assert_eq!(read("经济型 (300-800元/天)"), Some(DailyBudget::Capped(800.0)));
        assert_eq!(read("中等预算 (800-1500元/天)"), Some(DailyBudget::Capped(1500.0)));
        assert_eq!(read("豪华型 (1500元以上/天)"), Some(DailyBudget::Uncapped));
        assert_eq!(read("中等预算"), Some(DailyBudget::Capped(1500.0)));
        assert_eq!(read("经济型"), Some(DailyBudget::Capped(800.0)));
        assert_eq!(read("豪华型"), Some(DailyBudget::Uncapped));
        assert_eq!(read("500元/天"), Some(DailyBudget::Capped(500.0)));
        assert_eq!(read("Budget ($50 - $120/day)"), Some(DailyBudget::Capped(120.0)));
        assert_eq!(read("随便"), None);
    }

    #[test]
    fn english_tiers_by_their_own_word_and_separated_thousands() {
        assert_eq!(read("Economy"), Some(DailyBudget::Capped(800.0)));
        assert_eq!(read("Medium budget"), Some(DailyBudget::Capped(1500.0)));
        assert_eq!(read("High budget"), Some(DailyBudget::Uncapped));
        assert_eq!(read("Luxury budget"), Some(DailyBudget::Uncapped));
        assert_eq!(read("800-1,500元/天"), Some(DailyBudget::Capped(1500.0)));
    }
}
