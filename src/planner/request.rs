//! The trip request: what a client may send (`SubmitRequest`, every field optional, the
//! free-text `query` filling what the structured fields leave out) and what the planner
//! works on (`TripRequest`, complete and validated).

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::planner::{catalog, currency, parse};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub travelers: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interests: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_approval: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetInput {
    pub amount: f64,
    #[serde(default = "default_currency")]
    pub currency: String,
}

fn default_currency() -> String {
    "CNY".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pace {
    Relaxed,
    Moderate,
    Packed,
}

impl Pace {
    pub fn attractions_per_day(self) -> usize {
        match self {
            Pace::Relaxed => 2,
            Pace::Moderate => 3,
            Pace::Packed => 4,
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_lowercase().as_str() {
            "relaxed" | "slow" | "轻松" | "悠闲" => Some(Pace::Relaxed),
            "moderate" | "normal" | "适中" => Some(Pace::Moderate),
            "packed" | "fast" | "紧凑" => Some(Pace::Packed),
            _ => None,
        }
    }
}

/// A complete, validated request: the output of the `understand` node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TripRequest {
    /// Catalog city id, e.g. `hangzhou`.
    pub city: String,
    /// Display name, e.g. `杭州`.
    pub destination: String,
    pub start_date: NaiveDate,
    pub days: u32,
    pub travelers: u32,
    pub currency: String,
    pub budget: Option<f64>,
    pub interests: Vec<String>,
    pub pace: Pace,
    pub require_approval: bool,
}

impl TripRequest {
    pub fn end_date(&self) -> NaiveDate {
        self.start_date + Duration::days(i64::from(self.days) - 1)
    }
}

/// A request that cannot be planned, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvalidRequest {
    pub code: String,
    pub field: String,
    pub message: String,
    /// Supported destinations, for an unknown one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported: Vec<String>,
}

impl InvalidRequest {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            code: "invalid_request".into(),
            field: field.into(),
            message: message.into(),
            supported: Vec::new(),
        }
    }

    /// Unprocessable rather than malformed: well-formed, but not something we can plan.
    pub fn is_unprocessable(&self) -> bool {
        self.code != "invalid_request"
    }
}

pub const MAX_DAYS: i64 = 30;
pub const MAX_TRAVELERS: i64 = 20;
pub const DEFAULT_DAYS: u32 = 3;

/// Merges the structured fields over what the free text says, then validates the whole.
pub fn understand(input: &SubmitRequest, today: NaiveDate) -> Result<TripRequest, InvalidRequest> {
    let parsed = match input.query.as_deref().map(str::trim) {
        Some("") => return Err(InvalidRequest::new("query", "query is empty")),
        Some(q) if q.chars().count() > 2000 => {
            return Err(InvalidRequest::new("query", "query is longer than 2000 characters"));
        }
        Some(q) => Some(parse::parse_query(q, today)),
        None => None,
    };
    let parsed_ref = parsed.as_ref();

    let city = match input.destination.as_deref() {
        Some(name) => catalog::find_city(name).ok_or_else(|| unknown_destination("destination", name))?,
        None => match parsed_ref {
            Some(p) => match (&p.city, &p.unknown_place) {
                (Some(id), _) => catalog::city(id).ok_or_else(|| unknown_destination("query", id))?,
                (None, Some(place)) => return Err(unknown_destination("query", place)),
                (None, None) => {
                    return Err(InvalidRequest {
                        code: "not_understood".into(),
                        ..InvalidRequest::new(
                            "query",
                            "could not understand the request: no destination found; name a city, e.g. \"杭州3天2晚，预算3000元\" or \"3 days in Chengdu for 2\"",
                        )
                    });
                }
            },
            None => return Err(InvalidRequest::new("destination", "destination or query is required")),
        },
    };

    let days = match input.days.or(parsed_ref.and_then(|p| p.days)) {
        Some(d) if !(1..=MAX_DAYS).contains(&d) => {
            return Err(InvalidRequest::new(
                "days",
                format!("days must be between 1 and {MAX_DAYS}"),
            ));
        }
        Some(d) => d as u32,
        None => DEFAULT_DAYS,
    };
    let travelers = match input.travelers.or(parsed_ref.and_then(|p| p.travelers)) {
        Some(t) if !(1..=MAX_TRAVELERS).contains(&t) => {
            return Err(InvalidRequest::new(
                "travelers",
                format!("travelers must be between 1 and {MAX_TRAVELERS}"),
            ));
        }
        Some(t) => t as u32,
        None => 1,
    };

    let start_date = match input.start_date.as_deref() {
        Some(raw) => NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
            InvalidRequest::new(
                "start_date",
                format!("start_date {raw:?} is not an ISO date (YYYY-MM-DD)"),
            )
        })?,
        None => parsed_ref
            .and_then(|p| p.start_date)
            .unwrap_or(today + Duration::days(1)),
    };
    if start_date < today {
        return Err(InvalidRequest::new(
            "start_date",
            format!("start_date {start_date} is in the past (today is {today})"),
        ));
    }
    if start_date > today + Duration::days(730) {
        return Err(InvalidRequest::new(
            "start_date",
            "start_date is more than two years ahead",
        ));
    }

    let (budget, currency) = match &input.budget {
        Some(b) => {
            if !b.amount.is_finite() || b.amount <= 0.0 {
                return Err(InvalidRequest::new(
                    "budget.amount",
                    "budget.amount must be greater than 0",
                ));
            }
            let code = b.currency.trim().to_uppercase();
            if currency::rate_to_cny(&code).is_none() {
                return Err(InvalidRequest::new(
                    "budget.currency",
                    format!(
                        "unknown currency {:?}; supported: {}",
                        b.currency,
                        currency::SUPPORTED.join(", ")
                    ),
                ));
            }
            (Some(b.amount), code)
        }
        None => match parsed_ref.and_then(|p| p.budget.clone()) {
            Some((amount, code)) if amount > 0.0 => (Some(amount), code),
            Some(_) => {
                return Err(InvalidRequest::new(
                    "query",
                    "the budget in the query must be greater than 0",
                ));
            }
            None => (None, "CNY".to_string()),
        },
    };

    let mut interests = match &input.interests {
        Some(list) => {
            let mut out = Vec::new();
            for raw in list {
                let Some(tag) = parse::interest_tag(raw) else {
                    return Err(InvalidRequest::new(
                        "interests",
                        format!("unknown interest {raw:?}; supported: {}", parse::INTERESTS.join(", ")),
                    ));
                };
                out.push(tag.to_string());
            }
            out
        }
        None => parsed_ref.map(|p| p.interests.clone()).unwrap_or_default(),
    };
    interests.sort();
    interests.dedup();

    let pace = match input.pace.as_deref() {
        Some(raw) => {
            Pace::parse(raw).ok_or_else(|| InvalidRequest::new("pace", "pace must be relaxed, moderate or packed"))?
        }
        None => parsed_ref.and_then(|p| p.pace).unwrap_or(Pace::Moderate),
    };

    Ok(TripRequest {
        city: city.id.clone(),
        destination: city.name.clone(),
        start_date,
        days,
        travelers,
        currency,
        budget,
        interests,
        pace,
        require_approval: input.require_approval.unwrap_or(false),
    })
}

fn unknown_destination(field: &str, name: &str) -> InvalidRequest {
    InvalidRequest {
        code: "unknown_destination".into(),
        field: field.into(),
        message: format!(
            "no data for destination {name:?}; supported destinations: {}",
            catalog::city_names().join(", ")
        ),
        supported: catalog::city_names(),
    }
}
