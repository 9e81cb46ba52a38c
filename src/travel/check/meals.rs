//! Meals: lunch every day, dinner on every day that lasts into the evening, each starting
//! in its window.

use crate::travel::{
    check::{
        subject::Subject,
        violation::{Violation, ViolationCode},
    },
    itinerary::ItemKind,
    rules,
};

pub fn lunch_and_dinner(s: &Subject) -> Vec<Violation> {
    let mut out = Vec::new();
    for d in &s.days {
        let meal_starts: Vec<u32> = d
            .at_places()
            .filter(|(v, _, _, _)| v.item.kind == ItemKind::Meal)
            .map(|(_, _, start, _)| start)
            .collect();
        let eats_in = |window: rules::MealWindow| {
            meal_starts
                .iter()
                .any(|s| (window.earliest..=window.latest).contains(s))
        };
        if !eats_in(rules::LUNCH) {
            let message = format!("day {} has no lunch", d.number);
            out.push(Violation::new(ViolationCode::Meals, Some(d.number), message));
        }
        if d.window.needs_dinner() && !eats_in(rules::DINNER) {
            let message = format!("day {} has no dinner", d.number);
            out.push(Violation::new(ViolationCode::Meals, Some(d.number), message));
        }
    }
    out
}
