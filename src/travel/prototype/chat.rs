//! The prototype's chat: one message read by the rule parser (and, for a destination the
//! rules cannot place, by the LLM when one is configured). It says what it found, what is
//! still missing (a destination, and a date or a number of days), and asks for it in the
//! message's language; once both are known the message is a request to plan (`query`, as
//! `POST /v1/plans` takes it, with the destination found).

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    catalog,
    domain::City,
    llm::Llm,
    travel::{
        language::Language,
        parse::{ParsedQuery, parse_query},
        preferences::Pace,
        prompts,
        request::{self, SubmitRequest, TripRequest},
    },
};

/// What a message must say before it can be planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    Destination,
    /// A start date or a number of days.
    Dates,
}

/// What the rules found in the message, each field only when found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Extracted {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// A place the message names that we have no data for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsupported_destination: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub travelers: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interests: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pace: Option<Pace>,
}

impl Extracted {
    fn is_empty(&self) -> bool {
        *self == Extracted::default()
    }
}

#[derive(Debug, Clone)]
pub struct ChatReading {
    pub language: Language,
    pub understood: bool,
    pub extracted: Extracted,
    pub missing: Vec<Missing>,
    pub clarification: String,
    /// The request to plan, when the message says enough and it validates.
    pub request: Option<SubmitRequest>,
}

/// Chinese for a message with Chinese in it, English otherwise.
pub fn language_of(message: &str) -> Language {
    match Language::of(message) {
        Some(Language::Zh) => Language::Zh,
        _ => Language::En,
    }
}

pub fn read_message(message: &str, today: NaiveDate) -> ChatReading {
    read(message, today, None)
}

impl ChatReading {
    pub fn lacks_destination(&self) -> bool {
        self.missing.contains(&Missing::Destination)
    }
}

/// The rules' reading of a message, with the destination the LLM reads in it when the rules
/// found none (the rest stays the rules': dates and numbers must be stated plainly). An LLM
/// that cannot answer leaves the rules' reading as it was.
pub async fn with_llm_destination(llm: &Llm, ruled: ChatReading, message: &str, today: NaiveDate) -> ChatReading {
    if !ruled.lacks_destination() {
        return ruled;
    }
    let input = SubmitRequest {
        query: Some(message.to_string()),
        ..SubmitRequest::default()
    };
    let answer = prompts::understand::read_query(llm, &input, message, today).await;
    match answer.value.and_then(|read| catalog::city(&read.request.city)) {
        Some(city) => read(message, today, Some(city)),
        None => ruled,
    }
}

fn read(message: &str, today: NaiveDate, llm_city: Option<&'static City>) -> ChatReading {
    let language = language_of(message);
    let parsed = parse_query(message, today);
    let city = parsed.city.as_deref().and_then(catalog::city).or(llm_city);
    let extracted = extracted(&parsed, city, language);
    let mut missing = Vec::new();
    if city.is_none() {
        missing.push(Missing::Destination);
    }
    if parsed.start_date.is_none() && parsed.days.is_none() {
        missing.push(Missing::Dates);
    }
    let understood = !extracted.is_empty();
    let mut reading = ChatReading {
        language,
        understood,
        extracted,
        missing,
        clarification: String::new(),
        request: None,
    };
    match city {
        Some(city) if reading.missing.is_empty() => {
            let input = SubmitRequest {
                destination: Some(display_name(city, language).to_string()),
                query: Some(message.trim().to_string()),
                language: Some(if language.is_english() { "en" } else { "zh" }.to_string()),
                ..SubmitRequest::default()
            };
            match request::resolve(&input, today) {
                Ok(trip) => {
                    reading.clarification = proceeding(&trip, language);
                    reading.request = Some(input);
                }
                Err(e) => reading.clarification = cannot_plan(&e.message, language),
            }
        }
        _ => reading.clarification = asking(&reading, language),
    }
    reading
}

fn display_name(city: &City, language: Language) -> &str {
    if language.is_english() {
        &city.name_en
    } else {
        &city.name
    }
}

fn extracted(parsed: &ParsedQuery, city: Option<&City>, language: Language) -> Extracted {
    Extracted {
        destination: city.map(|c| display_name(c, language).to_string()),
        unsupported_destination: parsed.unknown_place.clone(),
        start_date: parsed.start_date,
        days: parsed.days,
        travelers: parsed.travelers,
        budget: parsed
            .budget
            .as_ref()
            .map(|(amount, currency)| json!({"amount": amount, "currency": currency})),
        interests: parsed.interests.clone(),
        pace: parsed.pace,
    }
}

fn pick(language: Language, zh: String, en: String) -> String {
    if language.is_english() { en } else { zh }
}

fn destinations(language: Language) -> String {
    let names: Vec<&str> = catalog::catalog()
        .cities
        .iter()
        .map(|c| display_name(c, language))
        .collect();
    names.join(if language.is_english() { ", " } else { "、" })
}

fn proceeding(trip: &TripRequest, language: Language) -> String {
    let budget = trip.budget.map(|b| (b, trip.currency.as_str()));
    pick(
        language,
        format!(
            "明白了：{}，{} 出发，{} 天，{} 人{}。已开始为您规划，可用 task_id 查询进度。",
            trip.destination,
            trip.start_date,
            trip.days,
            trip.travelers,
            budget.map_or(String::new(), |(b, c)| format!("，预算 {b:.0} {c}"))
        ),
        format!(
            "Got it: {}, {} days from {}, {} traveller(s){}. Planning has started; follow it with the task_id.",
            trip.destination,
            trip.days,
            trip.start_date,
            trip.travelers,
            budget.map_or(String::new(), |(b, c)| format!(", budget {b:.0} {c}"))
        ),
    )
}

fn cannot_plan(why: &str, language: Language) -> String {
    pick(
        language,
        format!("这个请求还不能规划：{why}。请调整后再发给我。"),
        format!("This request cannot be planned yet: {why}. Please adjust it and send it again."),
    )
}

fn asking(reading: &ChatReading, language: Language) -> String {
    let mut parts = Vec::new();
    if let Some(place) = &reading.extracted.unsupported_destination {
        parts.push(pick(
            language,
            format!("暂时没有「{place}」的数据。"),
            format!("I have no data for {place} yet."),
        ));
    }
    let wants_city = reading.missing.contains(&Missing::Destination);
    let wants_dates = reading.missing.contains(&Missing::Dates);
    let question = match (wants_city, wants_dates) {
        (true, true) => pick(
            language,
            "请告诉我想去哪个城市，以及出发日期或旅行天数。".into(),
            "Which city would you like to visit, and when (a start date or a number of days)?".into(),
        ),
        (true, false) => pick(
            language,
            "请告诉我想去哪个城市。".into(),
            "Which city would you like to visit?".into(),
        ),
        _ => pick(
            language,
            "想什么时候出发、玩几天？请告诉我出发日期或旅行天数。".into(),
            "When would you like to go? Tell me a start date or how many days.".into(),
        ),
    };
    parts.push(question);
    if wants_city {
        parts.push(pick(
            language,
            format!("可选目的地：{}。", destinations(language)),
            format!("Destinations: {}.", destinations(language)),
        ));
    }
    parts.join(if language.is_english() { " " } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
    }

    #[test]
    fn a_complete_message_is_a_request() {
        let r = read_message("帮我规划杭州3天的旅行，两个人，预算3000元，喜欢美食", today());
        assert!(r.understood);
        assert!(r.missing.is_empty());
        let input = r.request.unwrap();
        assert_eq!(input.destination.as_deref(), Some("杭州"));
        assert_eq!(r.extracted.days, Some(3));
        assert_eq!(r.extracted.travelers, Some(2));
        assert!(r.clarification.contains("已开始"), "{}", r.clarification);
    }

    #[test]
    fn an_incomplete_message_asks_in_its_language() {
        let r = read_message("我想去旅游", today());
        assert!(!r.understood);
        assert_eq!(r.missing, vec![Missing::Destination, Missing::Dates]);
        assert!(r.request.is_none());
        assert!(r.clarification.contains("哪个城市"), "{}", r.clarification);

        let r = read_message("I'd like to visit Chengdu", today());
        assert_eq!(r.extracted.destination.as_deref(), Some("Chengdu"));
        assert_eq!(r.missing, vec![Missing::Dates]);
        assert!(
            r.clarification.starts_with("When would you like"),
            "{}",
            r.clarification
        );
    }

    #[test]
    fn an_unknown_place_is_named() {
        let r = read_message("我想去巴黎玩5天", today());
        assert!(r.understood);
        assert_eq!(r.extracted.unsupported_destination.as_deref(), Some("巴黎"));
        assert_eq!(r.missing, vec![Missing::Destination]);
        assert!(r.clarification.contains("巴黎"), "{}", r.clarification);
    }

    #[test]
    fn a_request_that_does_not_validate_says_why() {
        let r = read_message("杭州玩40天", today());
        assert!(r.missing.is_empty());
        assert!(r.request.is_none());
        assert!(r.clarification.contains("days must be between"), "{}", r.clarification);
    }
}
