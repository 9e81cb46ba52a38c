//! The LLM's reading of a free-text query into the request's fields, for the `understand`
//! node. The client's structured fields always win; the model fills what they leave out,
//! the rule parser what the model leaves out; the merged request is validated exactly like
//! one sent by a client, and a validation error goes back to the model as a repair.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

use crate::{
    catalog,
    domain::money,
    llm::{Answer, Llm, Schema, json_of},
    travel::{
        preferences::INTERESTS,
        request::{self, BudgetInput, SubmitRequest, TripRequest},
    },
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reading {
    destination: Option<String>,
    start_date: Option<String>,
    days: Option<i64>,
    travelers: Option<i64>,
    budget_amount: Option<f64>,
    budget_currency: Option<String>,
    interests: Vec<String>,
    pace: Option<String>,
}

fn nullable(kind: &str) -> serde_json::Value {
    json!({ "type": [kind, "null"] })
}

pub fn schema() -> Schema {
    let cities: Vec<serde_json::Value> = catalog::catalog()
        .cities
        .iter()
        .map(|c| json!(c.id))
        .chain([serde_json::Value::Null])
        .collect();
    let currencies: Vec<serde_json::Value> = money::SUPPORTED
        .iter()
        .map(|c| json!(c))
        .chain([serde_json::Value::Null])
        .collect();
    Schema {
        name: "trip_request",
        schema: json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["destination", "start_date", "days", "travelers", "budget_amount", "budget_currency", "interests", "pace"],
            "properties": {
                "destination": { "type": ["string", "null"], "enum": cities, "description": "city id" },
                "start_date": { "type": ["string", "null"], "description": "YYYY-MM-DD" },
                "days": nullable("integer"),
                "travelers": nullable("integer"),
                "budget_amount": { "type": ["number", "null"], "description": "total for the whole party and trip" },
                "budget_currency": { "type": ["string", "null"], "enum": currencies },
                "interests": { "type": "array", "items": { "type": "string", "enum": INTERESTS } },
                "pace": { "type": ["string", "null"], "enum": ["relaxed", "moderate", "packed", null] }
            }
        }),
    }
}

fn prompt(query: &str, today: NaiveDate) -> (String, String) {
    let cities: Vec<String> = catalog::catalog()
        .cities
        .iter()
        .map(|c| format!("{} ({} / {})", c.id, c.name, c.name_en))
        .collect();
    let system = format!(
        "You read travel requests for a trip planner. Today is {today}. Supported destinations: {}. \
         Extract only what the traveller says; use null for anything not stated. Resolve relative \
         dates (\"next Friday\", \"下周五\") against today. A budget is the total for the whole party.",
        cities.join(", ")
    );
    (system, format!("Request: {query}"))
}

/// The client's fields over the model's reading; the query stays for the rule parser.
fn merge(input: &SubmitRequest, reading: Reading) -> SubmitRequest {
    let budget = input.budget.clone().or(reading.budget_amount.map(|amount| BudgetInput {
        amount,
        currency: reading.budget_currency.clone().unwrap_or_else(|| "CNY".into()),
    }));
    SubmitRequest {
        destination: input.destination.clone().or(reading.destination),
        start_date: input.start_date.clone().or(reading.start_date),
        days: input.days.or(reading.days),
        travelers: input.travelers.or(reading.travelers),
        budget,
        interests: input
            .interests
            .clone()
            .or((!reading.interests.is_empty()).then_some(reading.interests)),
        pace: input.pace.clone().or(reading.pace),
        require_approval: input.require_approval,
        query: input.query.clone(),
        language: input.language.clone(),
    }
}

/// The request as the model reads the query; `None` in the answer when the model's reading
/// never validated (the caller then uses the rule parser's).
pub async fn read_query(llm: &Llm, input: &SubmitRequest, query: &str, today: NaiveDate) -> Answer<TripRequest> {
    let (system, user) = prompt(query, today);
    llm.ask("understand", system, user, &schema(), |text| {
        let reading: Reading =
            serde_json::from_value(json_of(text)?).map_err(|e| format!("the JSON does not follow the schema ({e})"))?;
        request::resolve(&merge(input, reading), today).map_err(|e| format!("{}: {}", e.field, e.message))
    })
    .await
}
