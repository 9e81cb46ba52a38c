//! The prototype's `POST /plan` body and its mapping onto `SubmitRequest`: inclusive dates
//! become a start and a number of days, `group_size` the travellers, `budget_range` a
//! daily amount × days × party, `activity_level` the pace, interests our tags. Everything
//! else it carries, and any interest outside our vocabulary, goes to `unhonoured`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    domain::money,
    travel::{
        preferences::{Pace, interest_tag, interests_named_in},
        prototype::{
            budget_range::{self, DailyBudget},
            renamed,
        },
        request::{self, BudgetInput, InvalidRequest, MAX_DAYS, MAX_TRAVELERS, SubmitRequest},
        unhonoured::Unhonoured,
    },
};

/// A preference as the prototype's form sends it: a text or a list of texts.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Preference {
    Text(String),
    List(Vec<String>),
}

impl Preference {
    fn is_blank(&self) -> bool {
        match self {
            Preference::Text(t) => t.trim().is_empty(),
            Preference::List(l) => l.iter().all(|t| t.trim().is_empty()),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Preference::Text(t) => Value::String(t.trim().to_string()),
            Preference::List(l) => l
                .iter()
                .map(|t| t.trim())
                .filter(|t| !t.is_empty())
                .map(|t| Value::String(t.to_string()))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TravelRequest {
    #[serde(default)]
    pub destination: Option<String>,
    /// YYYY-MM-DD, the first day.
    #[serde(default)]
    pub start_date: Option<String>,
    /// YYYY-MM-DD, the last day (inclusive).
    #[serde(default)]
    pub end_date: Option<String>,
    #[serde(default)]
    pub budget_range: Option<String>,
    #[serde(default)]
    pub group_size: Option<i64>,
    #[serde(default)]
    pub interests: Option<Vec<String>>,
    #[serde(default)]
    pub dietary_restrictions: Option<Preference>,
    /// `轻松`, `适中` or `活跃`.
    #[serde(default)]
    pub activity_level: Option<String>,
    #[serde(default)]
    pub travel_style: Option<Preference>,
    #[serde(default)]
    pub transportation_preference: Option<Preference>,
    #[serde(default)]
    pub accommodation_preference: Option<Preference>,
    #[serde(default)]
    pub special_occasion: Option<Preference>,
    #[serde(default)]
    pub special_requirements: Option<Preference>,
    #[serde(default)]
    pub currency: Option<String>,
}

/// The v1 request for a prototype form, validated as `POST /v1/plans` validates (errors
/// name the prototype's fields).
pub fn to_submit(form: &TravelRequest, today: NaiveDate) -> Result<SubmitRequest, InvalidRequest> {
    let destination = required(&form.destination, "destination")?;
    let start = date(required(&form.start_date, "start_date")?, "start_date")?;
    let end = date(required(&form.end_date, "end_date")?, "end_date")?;
    if end < start {
        return Err(InvalidRequest::new(
            "end_date",
            format!("end_date {end} is before start_date {start}"),
        ));
    }
    let days = (end - start).num_days() + 1;
    if days > MAX_DAYS {
        return Err(InvalidRequest::new(
            "end_date",
            format!("the trip is {days} days; at most {MAX_DAYS} (end_date is inclusive)"),
        ));
    }
    let travelers = form.group_size.unwrap_or(1);
    if !(1..=MAX_TRAVELERS).contains(&travelers) {
        return Err(InvalidRequest::new(
            "group_size",
            format!("group_size must be between 1 and {MAX_TRAVELERS}"),
        ));
    }
    let currency = currency(form.currency.as_deref())?;
    let mut unhonoured = notes(form);
    let budget = match form.budget_range.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        None => None,
        Some(label) => match budget_range::read(label) {
            Some(DailyBudget::Capped(per_day)) if per_day > 0.0 => Some(BudgetInput {
                amount: per_day * days as f64 * travelers as f64,
                currency: currency.clone(),
            }),
            Some(DailyBudget::Capped(_)) => {
                return Err(InvalidRequest::new(
                    "budget_range",
                    "budget_range must be greater than 0",
                ));
            }
            Some(DailyBudget::Uncapped) => None,
            None => {
                return Err(InvalidRequest::new(
                    "budget_range",
                    format!(
                        "budget_range {label:?} names no amount and no tier; e.g. \"经济型 (300-800元/天)\", \"中等预算\", \"豪华型\""
                    ),
                ));
            }
        },
    };
    if budget.is_none() && currency != "CNY" {
        // With no cap there is no amount to express in it; the plan is priced in CNY.
        unhonoured.insert("currency".into(), Value::String(currency.clone()));
    }
    let (interests, unknown) = interests(form.interests.as_deref().unwrap_or_default());
    if !unknown.is_empty() {
        unhonoured.insert("interests".into(), unknown.into_iter().map(Value::String).collect());
    }
    let input = SubmitRequest {
        destination: Some(destination.to_string()),
        start_date: Some(start.to_string()),
        days: Some(days),
        travelers: Some(travelers),
        budget,
        interests: (!interests.is_empty()).then_some(interests),
        pace: pace(form.activity_level.as_deref())?.map(|p| pace_name(p).to_string()),
        unhonoured: (!unhonoured.is_empty()).then_some(unhonoured),
        ..SubmitRequest::default()
    };
    request::resolve(&input, today).map_err(renamed)?;
    Ok(input)
}

fn required<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, InvalidRequest> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(InvalidRequest::new(field, format!("{field} is required"))),
    }
}

fn date(raw: &str, field: &str) -> Result<NaiveDate, InvalidRequest> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| InvalidRequest::new(field, format!("{field} {raw:?} is not a date (YYYY-MM-DD)")))
}

fn currency(raw: Option<&str>) -> Result<String, InvalidRequest> {
    let code = raw.map(|c| c.trim().to_uppercase()).filter(|c| !c.is_empty());
    let code = code.unwrap_or_else(|| "CNY".to_string());
    if money::rate_to_cny(&code).is_none() {
        return Err(InvalidRequest::new(
            "currency",
            format!("unknown currency {code:?}; supported: {}", money::SUPPORTED.join(", ")),
        ));
    }
    Ok(code)
}

/// `轻松` → relaxed, `适中` → moderate, `活跃` → packed (and the English words).
fn pace(raw: Option<&str>) -> Result<Option<Pace>, InvalidRequest> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let pace = match raw.to_lowercase().as_str() {
        "活跃" | "active" | "highly_active" => Some(Pace::Packed),
        other => Pace::parse(other),
    };
    pace.map(Some)
        .ok_or_else(|| InvalidRequest::new("activity_level", "activity_level must be 轻松, 适中 or 活跃"))
}

fn pace_name(pace: Pace) -> &'static str {
    match pace {
        Pace::Relaxed => "relaxed",
        Pace::Moderate => "moderate",
        Pace::Packed => "packed",
    }
}

/// Our tags for the form's interests (`历史文化` is history and culture), and the ones we
/// have no tag for.
fn interests(raw: &[String]) -> (Vec<String>, Vec<String>) {
    let mut tags = Vec::new();
    let mut unknown = Vec::new();
    for interest in raw.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        let found = match interest_tag(interest) {
            Some(tag) => vec![tag],
            None => interests_named_in(interest),
        };
        if found.is_empty() {
            unknown.push(interest.to_string());
        }
        tags.extend(found.into_iter().map(str::to_string));
    }
    tags.sort();
    tags.dedup();
    (tags, unknown)
}

/// The form's preferences the planner has no use for, the blank ones left out.
fn notes(form: &TravelRequest) -> Unhonoured {
    let fields = [
        ("dietary_restrictions", &form.dietary_restrictions),
        ("travel_style", &form.travel_style),
        ("transportation_preference", &form.transportation_preference),
        ("accommodation_preference", &form.accommodation_preference),
        ("special_occasion", &form.special_occasion),
        ("special_requirements", &form.special_requirements),
    ];
    fields
        .into_iter()
        .filter_map(|(name, value)| {
            let value = value.as_ref().filter(|v| !v.is_blank())?;
            Some((name.to_string(), value.to_value()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
    }

    fn form(value: Value) -> TravelRequest {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_form_maps_onto_the_v1_request() {
        let input = to_submit(
            &form(json!({
                "destination": "杭州", "start_date": "2026-12-01", "end_date": "2026-12-03",
                "budget_range": "经济型 (300-800元/天)", "group_size": 2,
                "interests": ["历史文化", "美食", "潜水"], "activity_level": "轻松",
                "dietary_restrictions": "素食", "travel_style": "", "special_requirements": ["轮椅", " "],
                "currency": "CNY"
            })),
            today(),
        )
        .unwrap();
        assert_eq!(input.days, Some(3));
        assert_eq!(input.travelers, Some(2));
        assert_eq!(input.budget.as_ref().map(|b| b.amount), Some(800.0 * 3.0 * 2.0));
        assert_eq!(
            input.interests,
            Some(vec!["culture".into(), "food".into(), "history".into()])
        );
        assert_eq!(input.pace.as_deref(), Some("relaxed"));
        let kept = serde_json::to_value(input.unhonoured.unwrap()).unwrap();
        assert_eq!(
            kept,
            json!({"dietary_restrictions": "素食", "interests": ["潜水"], "special_requirements": ["轮椅"]})
        );
    }

    #[test]
    fn errors_name_the_prototypes_fields() {
        let base = json!({"destination": "杭州", "start_date": "2026-12-01", "end_date": "2026-12-03"});
        let cases = [
            (json!({"end_date": "2026-11-30"}), "end_date"),
            (json!({"end_date": "2027-02-01"}), "end_date"),
            (json!({"start_date": "12/01/2026"}), "start_date"),
            (
                json!({"start_date": "2026-10-01", "end_date": "2026-10-02"}),
                "start_date",
            ),
            (json!({"group_size": 0}), "group_size"),
            (json!({"budget_range": "随便"}), "budget_range"),
            (json!({"activity_level": "飞快"}), "activity_level"),
            (json!({"currency": "XYZ"}), "currency"),
            (json!({"destination": "巴黎"}), "destination"),
            (json!({"destination": " "}), "destination"),
        ];
        for (change, field) in cases {
            let mut body = base.clone();
            body.as_object_mut()
                .unwrap()
                .extend(change.as_object().unwrap().clone());
            let e = to_submit(&form(body.clone()), today()).unwrap_err();
            assert_eq!(e.field, field, "{body}: {e:?}");
        }
    }

    #[test]
    fn an_open_tier_sets_no_cap_and_keeps_a_foreign_currency() {
        let input = to_submit(
            &form(
                json!({"destination": "成都", "start_date": "2026-12-01", "end_date": "2026-12-01",
                         "budget_range": "豪华型", "currency": "usd", "activity_level": "活跃"}),
            ),
            today(),
        )
        .unwrap();
        assert!(input.budget.is_none());
        assert_eq!(input.pace.as_deref(), Some("packed"));
        assert_eq!(input.unhonoured.unwrap()["currency"], json!("USD"));
    }
}
