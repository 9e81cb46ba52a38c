//! The model's reading of a query, and how much of it the text supports. The LLM fills what
//! the rules cannot read; it never overrides what the text states plainly:
//! - a field the rules read (city, days, party, budget, start date, pace) is the rules'
//!   value, and a different value from the model is a warning;
//! - a number, date or party size the rules did not read is used only when the text states
//!   it (the number appears in it; the date's day and month, or a word relative to today);
//!   otherwise it goes back to the model as a repair, and is dropped with a warning if the
//!   model insists.

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use crate::travel::{
    parse::{ParsedQuery, numbers::numbers_in},
    words::Words,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reading {
    pub destination: Option<String>,
    pub start_date: Option<String>,
    pub days: Option<i64>,
    pub travelers: Option<i64>,
    pub budget_amount: Option<f64>,
    pub budget_currency: Option<String>,
    pub interests: Vec<String>,
    pub pace: Option<String>,
}

/// What grounding found: warnings for the plan, and the values the text does not state.
#[derive(Debug, Default)]
pub struct Grounding {
    pub warnings: Vec<String>,
    pub ungrounded: Vec<(&'static str, String)>,
}

/// Keeps of `reading` only what the text supports; the rules' values are filled in later,
/// for the fields cleared here.
pub fn ground(reading: &mut Reading, parsed: &ParsedQuery, text: &str, words: Words) -> Grounding {
    let mut g = Grounding::default();
    let stated = numbers_in(text);
    let is_stated = |n: f64| stated.iter().any(|s| (s - n).abs() < 0.005);
    let mut overrule = |field: &'static str, said: Option<String>, rules: String| {
        if let Some(said) = said.filter(|s| *s != rules) {
            g.warnings.push(words.llm_overruled(field, &said, &rules));
        }
    };
    match (&parsed.city, &parsed.unknown_place) {
        (Some(city), _) => overrule("destination", reading.destination.take(), city.clone()),
        (None, Some(place)) => overrule("destination", reading.destination.take(), place.clone()),
        (None, None) => {}
    }
    if let Some(days) = parsed.days {
        overrule("days", reading.days.take().map(|d| d.to_string()), days.to_string());
    }
    if let Some(travelers) = parsed.travelers {
        overrule(
            "travelers",
            reading.travelers.take().map(|t| t.to_string()),
            travelers.to_string(),
        );
    }
    if let Some((amount, currency)) = &parsed.budget {
        let said_amount = reading.budget_amount.take();
        let said_currency = reading.budget_currency.take();
        let same = said_amount.is_none_or(|a| (a - amount).abs() < 0.5)
            && said_currency
                .as_deref()
                .is_none_or(|c| c.eq_ignore_ascii_case(currency));
        if !same {
            let said = format!(
                "{} {}",
                said_amount.unwrap_or(*amount),
                said_currency.unwrap_or_default()
            );
            overrule("budget", Some(said.trim().to_string()), format!("{amount} {currency}"));
        }
    }
    if let Some(start) = parsed.start_date {
        overrule("start_date", reading.start_date.take(), start.to_string());
    }
    if parsed.pace.is_some() {
        reading.pace = None;
    }
    let mut ungrounded = Vec::new();
    if let Some(days) = reading
        .days
        .filter(|d| !is_stated(*d as f64) && !is_stated(*d as f64 - 1.0))
    {
        ungrounded.push(("days", days.to_string()));
    }
    if let Some(travelers) = reading.travelers.filter(|t| !is_stated(*t as f64)) {
        ungrounded.push(("travelers", travelers.to_string()));
    }
    let party = parsed.travelers.or(reading.travelers).unwrap_or(1) as f64;
    if let Some(amount) = reading
        .budget_amount
        .filter(|a| !is_stated(*a) && !is_stated(*a / party))
    {
        ungrounded.push(("budget", format!("{amount}")));
    }
    if let Some(date) = reading.start_date.clone().filter(|d| !date_stated(text, &stated, d)) {
        ungrounded.push(("start_date", date));
    }
    g.ungrounded = ungrounded;
    g
}

/// Clears the fields grounding found unsupported, with a warning for each.
pub fn drop_ungrounded(reading: &mut Reading, grounding: &mut Grounding, words: Words) {
    for (field, said) in std::mem::take(&mut grounding.ungrounded) {
        match field {
            "days" => reading.days = None,
            "travelers" => reading.travelers = None,
            "budget" => (reading.budget_amount, reading.budget_currency) = (None, None),
            _ => reading.start_date = None,
        }
        grounding.warnings.push(words.llm_ungrounded(field, &said));
    }
}

/// The problem to send back to the model: what it gave that the text does not state.
pub fn repair(grounding: &Grounding) -> Option<String> {
    if grounding.ungrounded.is_empty() {
        return None;
    }
    let list: Vec<String> = grounding.ungrounded.iter().map(|(f, v)| format!("{f} {v}")).collect();
    Some(format!(
        "the request does not state {}; give only what the text says and use null for the rest",
        list.join(", ")
    ))
}

const RELATIVE: [&str; 24] = [
    "今天",
    "明天",
    "后天",
    "周",
    "星期",
    "礼拜",
    "下个月",
    "月底",
    "月初",
    "节",
    "元旦",
    "五一",
    "国庆",
    "today",
    "tomorrow",
    "tonight",
    "next",
    "this",
    "weekend",
    "week",
    "christmas",
    "new year",
    "holiday",
    "month",
];

/// The date is in the text: its day and month stated, or a word that counts from today.
fn date_stated(text: &str, stated: &[f64], raw: &str) -> bool {
    let lower = text.to_lowercase();
    if RELATIVE.iter().any(|w| lower.contains(w)) {
        return true;
    }
    let Ok(date) = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d") else {
        return false;
    };
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let has = |n: u32| stated.iter().any(|s| (*s - f64::from(n)).abs() < 0.005);
    has(date.day()) && (has(date.month()) || lower.contains(MONTHS[date.month0() as usize]))
}
