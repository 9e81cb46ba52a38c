//! The LLM's draft, for the `draft` node: the model picks the hotel and, per day, the places
//! in order — from the candidates only, by id (the schema lists them) — and we compute the
//! rest (`travel::realize`). An answer is accepted only when it parses, every id is a
//! candidate, and the checker finds nothing wrong; otherwise the problems go back as a
//! repair round.

use serde_json::{Value, json};

use crate::{
    domain::{DayWeather, Place, clock::format_clock},
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

pub fn schema(candidates: &Candidates) -> Schema {
    let ids = |places: &[Place]| places.iter().map(|p| json!(p.id)).collect::<Vec<Value>>();
    let mut stop_ids = ids(candidates.attractions);
    stop_ids.extend(ids(candidates.restaurants));
    let mut hotel_ids = ids(candidates.hotels);
    hotel_ids.push(Value::Null);
    Schema {
        name: "itinerary_selection",
        schema: json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["hotel_id", "transport", "days", "tips"],
            "properties": {
                "hotel_id": { "type": ["string", "null"], "enum": hotel_ids },
                "transport": { "type": "string", "enum": ["taxi", "metro"] },
                "days": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["date", "stops"],
                        "properties": {
                            "date": { "type": "string" },
                            "stops": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "additionalProperties": false,
                                    "required": ["place_id", "meal"],
                                    "properties": {
                                        "place_id": { "type": "string", "enum": stop_ids },
                                        "meal": { "type": ["string", "null"], "enum": ["lunch", "dinner", null] }
                                    }
                                }
                            }
                        }
                    }
                },
                "tips": { "type": "array", "items": { "type": "string" } }
            }
        }),
    }
}

fn place_line(p: &Place) -> String {
    format!(
        "{} | {} | {:.0} CNY | {} min | {}-{} | {} | {} | {:.4},{:.4}",
        p.id,
        p.name,
        p.price,
        p.minutes,
        format_clock(p.opens),
        format_clock(p.closes),
        if p.indoor { "indoor" } else { "outdoor" },
        p.tags.join(","),
        p.lat,
        p.lng
    )
}

fn prompt(request: &TripRequest, weather: &[DayWeather], candidates: &Candidates) -> (String, String) {
    let system = format!(
        "You plan trips. Answer with JSON only, following the schema. Rules the plan must obey:\n\
         - Use only the ids listed below; every attraction at most once in the trip, every restaurant at most once a day.\n\
         - Each day: lunch starting {}–{}, and, on days that last past 20:00, dinner starting {}–{}. Mark restaurants with meal \"lunch\" or \"dinner\".\n\
         - Days run 09:00–21:00; with more than one day the first starts 10:00 and the last ends 18:00. Visits take their listed minutes inside their opening hours; travel between places takes time.\n\
         - {} attractions a day suits this traveller's pace. Prefer indoor places on rainy days.\n\
         - The total (tickets and meals × travellers, rooms of two × nights, transport) must stay within the budget.",
        format_clock(rules::LUNCH.earliest),
        format_clock(rules::LUNCH.latest),
        format_clock(rules::DINNER.earliest),
        format_clock(rules::DINNER.latest),
        request.pace.attractions_per_day(),
    );
    let days: Vec<String> = (0..request.days)
        .map(|i| {
            let date = request.start_date + chrono::Duration::days(i64::from(i));
            let w = weather.iter().find(|w| w.date == date.to_string());
            match w {
                Some(w) => format!(
                    "{date}: {} {:.0}–{:.0}°C{}",
                    w.condition,
                    w.temp_min,
                    w.temp_max,
                    if w.rainy { " (rain)" } else { "" }
                ),
                None => date.to_string(),
            }
        })
        .collect();
    let list = |places: &[Place]| places.iter().map(place_line).collect::<Vec<_>>().join("\n");
    let user = format!(
        "Trip: {destination}, {days} day(s) from {start}, {travelers} traveller(s), budget {budget}, interests: {interests}, pace: {pace:?}.\n\
         Days and weather:\n{weather}\n\n\
         Attractions (id | name | ticket per person | minutes | hours | indoor | tags | lat,lng):\n{attractions}\n\n\
         Restaurants (id | name | per person | minutes | hours | indoor | tags | lat,lng):\n{restaurants}\n\n\
         Hotels (id | name | per room-night | - | - | - | tier | lat,lng):\n{hotels}",
        destination = request.destination,
        days = request.days,
        start = request.start_date,
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
        weather = days.join("\n"),
        attractions = list(candidates.attractions),
        restaurants = list(candidates.restaurants),
        hotels = list(candidates.hotels),
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
    llm.ask("draft", system, user, &schema(candidates), |text| {
        let selection: Selection =
            serde_json::from_value(json_of(text)?).map_err(|e| format!("the JSON does not follow the schema ({e})"))?;
        let plan = realize::realize(request, weather, candidates, &selection)?;
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
