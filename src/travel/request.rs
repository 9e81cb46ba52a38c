//! The trip request: what a client may send (`SubmitRequest`, every field optional, the
//! free-text `query` filling what the structured fields leave out) and what the planner
//! works on (`TripRequest`, complete and validated). `resolve` turns the first into the
//! second, one field at a time, naming the field at fault when it cannot.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::{
    catalog,
    domain::{City, money},
    travel::{
        language::Language,
        parse::{self, ParsedQuery},
        preferences::{INTERESTS, Pace, interest_tag},
        unhonoured::Unhonoured,
    },
};

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"destination": "杭州", "days": 2, "travelers": 2, "interests": ["food"]}))]
pub struct SubmitRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 30)]
    pub days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 20)]
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
    /// `zh` or `en`: the language the plan is written in; by default the query's (or the
    /// destination's) script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// RFC 3339: make the plan no sooner than this (say, once the trip is within reach of
    /// the weather forecast). The queue's business, not the planner's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// What the client asked for that the planner cannot act on (the prototype's dietary
    /// restrictions, say), as it was sent: kept with the request, named in a plan warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub unhonoured: Option<Unhonoured>,
    /// An http(s) URL the plan's summary is POSTed to, signed, when it reaches
    /// `awaiting_approval` or a terminal status. The API's business, not the planner's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetInput {
    pub amount: f64,
    #[serde(default = "default_currency")]
    #[schema(default = "CNY")]
    pub currency: String,
}

fn default_currency() -> String {
    "CNY".into()
}

/// A complete, validated request: the output of the `understand` node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TripRequest {
    /// Catalog city id, e.g. `hangzhou`.
    pub city: String,
    /// Display name in the plan's language, e.g. `杭州` or `Hangzhou`.
    pub destination: String,
    pub start_date: NaiveDate,
    pub days: u32,
    pub travelers: u32,
    pub currency: String,
    pub budget: Option<f64>,
    pub interests: Vec<String>,
    pub pace: Pace,
    pub require_approval: bool,
    /// Plans understood before languages existed were Chinese.
    #[serde(default)]
    pub language: Language,
}

impl TripRequest {
    pub fn end_date(&self) -> NaiveDate {
        self.start_date + Duration::days(i64::from(self.days) - 1)
    }
}

/// Why a request cannot be planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestErrorCode {
    /// A field is malformed or out of range.
    InvalidRequest,
    /// The free text names no destination the rules could find.
    NotUnderstood,
    /// The destination is not one we have data for.
    UnknownDestination,
}

impl RequestErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestErrorCode::InvalidRequest => "invalid_request",
            RequestErrorCode::NotUnderstood => "not_understood",
            RequestErrorCode::UnknownDestination => "unknown_destination",
        }
    }
}

impl PartialEq<&str> for RequestErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A request that cannot be planned, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvalidRequest {
    pub code: RequestErrorCode,
    pub field: String,
    pub message: String,
    /// Supported destinations, for an unknown one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported: Vec<String>,
}

impl InvalidRequest {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            code: RequestErrorCode::InvalidRequest,
            field: field.into(),
            message: message.into(),
            supported: Vec::new(),
        }
    }

    /// Unprocessable rather than malformed: well-formed, but not something we can plan.
    pub fn is_unprocessable(&self) -> bool {
        self.code != RequestErrorCode::InvalidRequest
    }
}

pub const MAX_DAYS: i64 = 30;
pub const MAX_TRAVELERS: i64 = 20;
pub const DEFAULT_DAYS: u32 = 3;

/// Merges the structured fields over what the free text says, then validates the whole.
pub fn resolve(input: &SubmitRequest, today: NaiveDate) -> Result<TripRequest, InvalidRequest> {
    let parsed = match input.query.as_deref().map(str::trim) {
        Some("") => return Err(InvalidRequest::new("query", "query is empty")),
        Some(q) if q.chars().count() > 2000 => {
            return Err(InvalidRequest::new("query", "query is longer than 2000 characters"));
        }
        Some(q) => Some(parse::parse_query(q, today)),
        None => None,
    };
    let parsed = parsed.as_ref();
    // In this order: the first field at fault is the one reported.
    let language = language(input)?;
    let city = destination(input, parsed)?;
    let days = days(input, parsed)?;
    let travelers = travelers(input, parsed)?;
    let start_date = start_date(input, parsed, today)?;
    let (budget, currency) = budget(input, parsed)?;
    let interests = interests(input, parsed)?;
    let pace = pace(input, parsed)?;
    Ok(TripRequest {
        city: city.id.clone(),
        destination: if language.is_english() {
            city.name_en.clone()
        } else {
            city.name.clone()
        },
        start_date,
        days,
        travelers,
        currency,
        budget,
        interests,
        pace,
        require_approval: input.require_approval.unwrap_or(false),
        language,
    })
}

/// The one asked for, else the query's script, else the destination's, else Chinese.
pub fn language(input: &SubmitRequest) -> Result<Language, InvalidRequest> {
    if let Some(raw) = input.language.as_deref() {
        return Language::parse(raw).ok_or_else(|| InvalidRequest::new("language", "language must be zh or en"));
    }
    let written = [input.query.as_deref(), input.destination.as_deref()];
    Ok(written.into_iter().flatten().find_map(Language::of).unwrap_or_default())
}

fn destination(input: &SubmitRequest, parsed: Option<&ParsedQuery>) -> Result<&'static City, InvalidRequest> {
    if let Some(name) = input.destination.as_deref() {
        return catalog::find_city(name).ok_or_else(|| unknown_destination("destination", name));
    }
    let Some(p) = parsed else {
        return Err(InvalidRequest::new("destination", "destination or query is required"));
    };
    match (&p.city, &p.unknown_place) {
        (Some(id), _) => catalog::city(id).ok_or_else(|| unknown_destination("query", id)),
        (None, Some(place)) => Err(unknown_destination("query", place)),
        (None, None) => Err(InvalidRequest {
            code: RequestErrorCode::NotUnderstood,
            ..InvalidRequest::new(
                "query",
                "could not understand the request: no destination found; name a city, e.g. \"杭州3天2晚，预算3000元\" or \"3 days in Chengdu for 2\"",
            )
        }),
    }
}

fn days(input: &SubmitRequest, parsed: Option<&ParsedQuery>) -> Result<u32, InvalidRequest> {
    match input.days.or(parsed.and_then(|p| p.days)) {
        Some(d) if !(1..=MAX_DAYS).contains(&d) => Err(InvalidRequest::new(
            "days",
            format!("days must be between 1 and {MAX_DAYS}"),
        )),
        Some(d) => Ok(d as u32),
        None => Ok(DEFAULT_DAYS),
    }
}

fn travelers(input: &SubmitRequest, parsed: Option<&ParsedQuery>) -> Result<u32, InvalidRequest> {
    match input.travelers.or(parsed.and_then(|p| p.travelers)) {
        Some(t) if !(1..=MAX_TRAVELERS).contains(&t) => Err(InvalidRequest::new(
            "travelers",
            format!("travelers must be between 1 and {MAX_TRAVELERS}"),
        )),
        Some(t) => Ok(t as u32),
        None => Ok(1),
    }
}

fn start_date(
    input: &SubmitRequest,
    parsed: Option<&ParsedQuery>,
    today: NaiveDate,
) -> Result<NaiveDate, InvalidRequest> {
    let start_date = match input.start_date.as_deref() {
        Some(raw) => NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
            InvalidRequest::new(
                "start_date",
                format!("start_date {raw:?} is not an ISO date (YYYY-MM-DD)"),
            )
        })?,
        None => parsed.and_then(|p| p.start_date).unwrap_or(today + Duration::days(1)),
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
    Ok(start_date)
}

/// The budget's amount and the plan's currency (CNY when no budget is given).
fn budget(input: &SubmitRequest, parsed: Option<&ParsedQuery>) -> Result<(Option<f64>, String), InvalidRequest> {
    let Some(b) = &input.budget else {
        return match parsed.and_then(|p| p.budget.clone()) {
            Some((amount, code)) if amount > 0.0 => Ok((Some(amount), code)),
            Some(_) => Err(InvalidRequest::new(
                "query",
                "the budget in the query must be greater than 0",
            )),
            None => Ok((None, "CNY".to_string())),
        };
    };
    if !b.amount.is_finite() || b.amount <= 0.0 {
        return Err(InvalidRequest::new(
            "budget.amount",
            "budget.amount must be greater than 0",
        ));
    }
    let code = b.currency.trim().to_uppercase();
    if money::rate_to_cny(&code).is_none() {
        return Err(InvalidRequest::new(
            "budget.currency",
            format!(
                "unknown currency {:?}; supported: {}",
                b.currency,
                money::SUPPORTED.join(", ")
            ),
        ));
    }
    Ok((Some(b.amount), code))
}

fn interests(input: &SubmitRequest, parsed: Option<&ParsedQuery>) -> Result<Vec<String>, InvalidRequest> {
    let mut interests = match &input.interests {
        Some(list) => {
            let mut out = Vec::new();
            for raw in list {
                let Some(tag) = interest_tag(raw) else {
                    return Err(InvalidRequest::new(
                        "interests",
                        format!("unknown interest {raw:?}; supported: {}", INTERESTS.join(", ")),
                    ));
                };
                out.push(tag.to_string());
            }
            out
        }
        None => parsed.map(|p| p.interests.clone()).unwrap_or_default(),
    };
    interests.sort();
    interests.dedup();
    Ok(interests)
}

fn pace(input: &SubmitRequest, parsed: Option<&ParsedQuery>) -> Result<Pace, InvalidRequest> {
    match input.pace.as_deref() {
        Some(raw) => {
            Pace::parse(raw).ok_or_else(|| InvalidRequest::new("pace", "pace must be relaxed, moderate or packed"))
        }
        None => Ok(parsed.and_then(|p| p.pace).unwrap_or(Pace::Moderate)),
    }
}

fn unknown_destination(field: &str, name: &str) -> InvalidRequest {
    InvalidRequest {
        code: RequestErrorCode::UnknownDestination,
        field: field.into(),
        message: format!(
            "no data for destination {name:?}; supported destinations: {}",
            catalog::city_names().join(", ")
        ),
        supported: catalog::city_names(),
    }
}
