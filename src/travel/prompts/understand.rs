//! The LLM's reading of a free-text query into the request's fields, for the `understand`
//! node. The client's structured fields always win; then what the rules read in the text
//! (`reading` grounds the model's answer in the text); the model fills only the rest. The
//! merged request is validated exactly like one sent by a client; a validation error, or a
//! value the text does not state, goes back to the model as a repair.

use chrono::NaiveDate;
use serde_json::json;

use crate::{
    catalog,
    domain::money,
    llm::{Answer, Llm, MAX_REPAIRS, Schema, json_of},
    travel::{
        parse::parse_query,
        preferences::INTERESTS,
        prompts::reading::{self, Reading},
        request::{self, BudgetInput, SubmitRequest, TripRequest},
        words::Words,
    },
};

/// The request as read with the model's help, and what the plan should say about the reading.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    pub request: TripRequest,
    pub warnings: Vec<String>,
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
        not_before: input.not_before.clone(),
        unhonoured: input.unhonoured.clone(),
        callback_url: input.callback_url.clone(),
    }
}

/// The request as the model reads the query, grounded in the text; `None` in the answer
/// when the model's reading never validated (the caller then uses the rule parser's).
pub async fn read_query(llm: &Llm, input: &SubmitRequest, query: &str, today: NaiveDate) -> Answer<ReadRequest> {
    let (system, user) = prompt(query, today);
    let parsed = parse_query(query, today);
    let words = Words(request::language(input).unwrap_or_default());
    let mut answers = 0;
    llm.ask("understand", system, user, &schema(), |text| {
        answers += 1;
        let mut reading: Reading =
            serde_json::from_value(json_of(text)?).map_err(|e| format!("the JSON does not follow the schema ({e})"))?;
        let mut grounding = reading::ground(&mut reading, &parsed, query, words);
        // The last answer is not sent back: what the text does not state is dropped instead.
        if answers <= MAX_REPAIRS
            && let Some(problem) = reading::repair(&grounding)
        {
            return Err(problem);
        }
        reading::drop_ungrounded(&mut reading, &mut grounding, words);
        let request =
            request::resolve(&merge(input, reading), today).map_err(|e| format!("{}: {}", e.field, e.message))?;
        Ok(ReadRequest {
            request,
            warnings: grounding.warnings,
        })
    })
    .await
}
