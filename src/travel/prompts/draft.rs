//! The LLM's draft, for the `draft` node: the model picks the hotel and, per day, the places
//! in order — from the candidates only, by code (the schema lists them) — and we compute the
//! rest (`travel::realize`). An answer is accepted only when it parses, every code is a
//! candidate, and the checker finds nothing wrong; otherwise the problems go back as a
//! repair round.
//!
//! The prompt is compact, because a model reads every token before it writes one: places by
//! short code (`A3`, `R1`, `H2`) instead of their ids, grouped into areas by distance instead
//! of coordinates, hours without `:00`, prices in CNY once for all.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::{
    domain::{DayWeather, Place, clock::format_clock, road::distance_km},
    llm::{Answer, Llm, Schema, json_of},
    travel::{
        candidates::Candidates,
        check,
        itinerary::Itinerary,
        realize::{self, Selection},
        request::TripRequest,
        rules,
    },
};

/// How many of the checker's violations one repair message lists.
const FEEDBACK_LINES: usize = 8;
/// Places more than this far from every area's first place start an area of their own.
const AREA_KM: f64 = 3.0;

/// The short code of every candidate: `A1…` attractions, `R1…` restaurants, `H1…` hotels.
struct Codes<'a> {
    by_code: Vec<(String, &'a Place)>,
}

impl<'a> Codes<'a> {
    fn new(candidates: &Candidates<'a>) -> Self {
        let groups = [
            ("A", candidates.attractions),
            ("R", candidates.restaurants),
            ("H", candidates.hotels),
        ];
        let by_code = groups
            .iter()
            .flat_map(|(prefix, places)| {
                places
                    .iter()
                    .enumerate()
                    .map(move |(i, p)| (format!("{prefix}{}", i + 1), p))
            })
            .collect();
        Self { by_code }
    }

    fn of(&self, prefix: &str) -> Vec<Value> {
        self.by_code
            .iter()
            .filter(|(c, _)| c.starts_with(prefix))
            .map(|(c, _)| json!(c))
            .collect()
    }

    fn code(&self, place: &Place) -> String {
        self.by_code
            .iter()
            .find(|(_, p)| p.id == place.id)
            .map_or_else(|| place.id.clone(), |(c, _)| c.clone())
    }

    /// The selection with codes turned back into place ids (an id given as such stays).
    fn decode(&self, mut selection: Selection) -> Selection {
        let ids: HashMap<&str, &str> = self.by_code.iter().map(|(c, p)| (c.as_str(), p.id.as_str())).collect();
        let decode = |s: &mut String| {
            if let Some(id) = ids.get(s.trim()) {
                *s = id.to_string();
            }
        };
        if let Some(h) = selection.hotel_id.as_mut() {
            decode(h);
        }
        for day in &mut selection.days {
            for stop in &mut day.stops {
                decode(&mut stop.place_id);
            }
        }
        selection
    }
}

pub fn schema(candidates: &Candidates) -> Schema {
    let codes = Codes::new(candidates);
    let mut stop_codes = codes.of("A");
    stop_codes.extend(codes.of("R"));
    let mut hotel_codes = codes.of("H");
    hotel_codes.push(Value::Null);
    let stop = json!({
        "type": "object", "additionalProperties": false, "required": ["place_id", "meal"],
        "properties": {
            "place_id": { "type": "string", "enum": stop_codes },
            "meal": { "type": ["string", "null"], "enum": ["lunch", "dinner", null] }
        }
    });
    Schema {
        name: "itinerary_selection",
        schema: json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["hotel_id", "transport", "days", "tips"],
            "properties": {
                "hotel_id": { "type": ["string", "null"], "enum": hotel_codes },
                "transport": { "type": "string", "enum": ["taxi", "metro"] },
                "days": {
                    "type": "array",
                    "items": {
                        "type": "object", "additionalProperties": false, "required": ["date", "stops"],
                        "properties": { "date": { "type": "string" }, "stops": { "type": "array", "items": stop } }
                    }
                },
                "tips": { "type": "array", "items": { "type": "string" } }
            }
        }),
    }
}

/// `9-17`, `8:30-17:30`.
fn hours(p: &Place) -> String {
    let clock = |m: u32| {
        let (h, min) = (m / 60, m % 60);
        if min == 0 {
            h.to_string()
        } else {
            format!("{h}:{min:02}")
        }
    };
    if p.opens == 0 && p.closes >= 24 * 60 {
        "24h".to_string()
    } else {
        format!("{}-{}", clock(p.opens), clock(p.closes))
    }
}

/// `A3 灵隐寺 75 120m 7-18 culture,history` (indoor places are marked `in`).
fn place_line(codes: &Codes, p: &Place) -> String {
    let mut line = format!("{} {}", codes.code(p), p.name);
    if p.price > 0.0 {
        line.push_str(&format!(" {:.0}", p.price));
    }
    if p.minutes > 0 {
        line.push_str(&format!(" {}m {}", p.minutes, hours(p)));
    }
    if p.indoor && p.minutes > 0 {
        line.push_str(" in");
    }
    if !p.tags.is_empty() {
        line.push(' ');
        line.push_str(&p.tags.join(","));
    }
    line
}

/// The candidates grouped into areas: each place joins the first area whose first place is
/// within `AREA_KM`, else starts a new one. Places of one area are a walk or a short ride apart.
fn areas<'a>(candidates: &Candidates<'a>) -> Vec<Vec<&'a Place>> {
    let mut areas: Vec<Vec<&'a Place>> = Vec::new();
    let all = candidates
        .attractions
        .iter()
        .chain(candidates.restaurants)
        .chain(candidates.hotels);
    for place in all {
        let near = |a: &&mut Vec<&Place>| distance_km(a[0].lat, a[0].lng, place.lat, place.lng) <= AREA_KM;
        match areas.iter_mut().find(near) {
            Some(area) => area.push(place),
            None => areas.push(vec![place]),
        }
    }
    areas
}

pub fn prompt(request: &TripRequest, weather: &[DayWeather], candidates: &Candidates) -> (String, String) {
    let system = format!(
        "You plan trips. Answer with JSON only, following the schema. Rules:\n\
         - Use only the codes listed; an attraction at most once per trip, a restaurant at most once a day.\n\
         - Daily lunch starting {}-{}; dinner starting {}-{} on days lasting past 20:00. Mark restaurants \"lunch\" or \"dinner\".\n\
         - Days run 9-21; with several days the first starts 10, the last ends 18. Visits take their minutes within opening hours; travel takes time, so keep a day in one or two areas.\n\
         - About {} attractions a day. Indoor places on rainy days.\n\
         - Total (tickets and meals x travellers, rooms of two x nights, transport) within the budget.",
        format_clock(rules::LUNCH.earliest),
        format_clock(rules::LUNCH.latest),
        format_clock(rules::DINNER.earliest),
        format_clock(rules::DINNER.latest),
        request.pace.attractions_per_day(),
    );
    let days: Vec<String> = (0..request.days)
        .map(|i| {
            let date = request.start_date + chrono::Duration::days(i64::from(i));
            match weather.iter().find(|w| w.date == date.to_string()) {
                Some(w) => format!(
                    "{date} {:.0}-{:.0}C{}",
                    w.temp_min,
                    w.temp_max,
                    if w.rainy { " rain" } else { "" }
                ),
                None => date.to_string(),
            }
        })
        .collect();
    let codes = Codes::new(candidates);
    let areas: Vec<String> = areas(candidates)
        .iter()
        .enumerate()
        .map(|(i, area)| {
            let lines: Vec<String> = area.iter().map(|p| place_line(&codes, p)).collect();
            format!("Area {}:\n{}", i + 1, lines.join("\n"))
        })
        .collect();
    let user = format!(
        "Trip: {destination}, {days} day(s), {travelers} traveller(s), budget {budget}, interests: {interests}, pace: {pace:?}.\n\
         Days: {weather}\n\
         Places (code name price-CNY minutes hours [in=indoor] tags; A attraction ticket/person, R restaurant meal/person, H hotel room/night):\n{areas}",
        destination = request.destination,
        days = request.days,
        travelers = request.travelers,
        budget = request
            .budget
            .map_or("none".to_string(), |b| format!("{b} {}", request.currency)),
        interests = if request.interests.is_empty() {
            "any".to_string()
        } else {
            request.interests.join(", ")
        },
        pace = request.pace,
        weather = days.join("; "),
        areas = areas.join("\n"),
    );
    (system, user)
}

/// The LLM's itinerary, accepted only when grounded and passing the checker.
pub async fn pick_itinerary(
    llm: &Llm,
    request: &TripRequest,
    weather: &[DayWeather],
    candidates: &Candidates<'_>,
) -> Answer<Itinerary> {
    let (system, user) = prompt(request, weather, candidates);
    let codes = Codes::new(candidates);
    llm.ask("draft", system, user, &schema(candidates), |text| {
        let selection: Selection =
            serde_json::from_value(json_of(text)?).map_err(|e| format!("the JSON does not follow the schema ({e})"))?;
        let plan = realize::realize(request, weather, candidates, &codes.decode(selection))?;
        let violations = check::check(&plan, request, candidates);
        if violations.is_empty() {
            return Ok(plan);
        }
        let lines: Vec<String> = violations
            .iter()
            .take(FEEDBACK_LINES)
            .map(|v| match v.day {
                Some(day) => format!("- day {day}: {}", v.message),
                None => format!("- {}", v.message),
            })
            .collect();
        Err(format!(
            "the checker found {} problem(s) in the resulting plan:\n{}",
            violations.len(),
            lines.join("\n")
        ))
    })
    .await
}
