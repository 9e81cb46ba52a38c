//! Time: every item at a clock time, inside the day's window and after the one before, at
//! a place that is open, for as long as the place needs; and no time unaccounted for.

use crate::{
    domain::clock::format_clock,
    travel::check::{
        subject::Subject,
        violation::{Violation, ViolationCode},
    },
};

pub fn clock_times(s: &Subject) -> Vec<Violation> {
    let mut out = Vec::new();
    for d in &s.days {
        for v in d.visits.iter().filter(|v| v.times.is_none()) {
            let i = v.item;
            let message = format!("{}: times {}–{} are not HH:MM", i.name, i.start, i.end);
            out.push(Violation::new(ViolationCode::Time, Some(d.number), message));
        }
    }
    out
}

pub fn items_fit_the_day(s: &Subject) -> Vec<Violation> {
    let mut out = Vec::new();
    for d in &s.days {
        for (v, start, end) in d.timed() {
            if end < start || start < v.prev_end || end > d.window.end || start < d.window.start {
                let i = v.item;
                let message = format!(
                    "{} {}–{} overlaps the previous item or leaves the day's window",
                    i.name, i.start, i.end
                );
                out.push(Violation::new(ViolationCode::TimeWindow, Some(d.number), message));
            }
        }
    }
    out
}

pub fn places_are_open(s: &Subject) -> Vec<Violation> {
    let mut out = Vec::new();
    for d in &s.days {
        for (v, place, start, end) in d.at_places() {
            if start < place.opens || end > place.closes {
                let message = format!(
                    "{} {}–{} is outside its opening hours",
                    place.name, v.item.start, v.item.end
                );
                out.push(Violation::new(ViolationCode::OpeningHours, Some(d.number), message));
            }
        }
    }
    out
}

pub fn visits_are_long_enough(s: &Subject) -> Vec<Violation> {
    let mut out = Vec::new();
    for d in &s.days {
        for (_, place, start, end) in d.at_places() {
            let minutes = end - start.min(end);
            if minutes < place.minutes {
                let message = format!("{} gets {minutes} minutes, needs {}", place.name, place.minutes);
                out.push(Violation::new(ViolationCode::Duration, Some(d.number), message));
            }
        }
    }
    out
}

/// Minutes between items (or at either end of the day) that no item, transfer or named free
/// time accounts for, beyond rounding.
const UNACCOUNTED: u32 = 5;

/// Every minute of a day's window is an item, the walk to it, a transfer or free time.
pub fn every_minute_accounted(s: &Subject) -> Vec<Violation> {
    let mut out = Vec::new();
    for d in &s.days {
        let mut until = d.window.start;
        for (v, start, end) in d.timed() {
            let walk = v.item.travel_minutes;
            if start > until + walk + UNACCOUNTED {
                let message = format!(
                    "{}–{} before {} is not accounted for",
                    format_clock(until + walk),
                    v.item.start,
                    v.item.name
                );
                out.push(Violation::new(ViolationCode::Gap, Some(d.number), message));
            }
            until = until.max(end);
        }
        if d.window.end > until + UNACCOUNTED {
            let message = format!(
                "{}–{} at the end of the day is not accounted for",
                format_clock(until),
                format_clock(d.window.end)
            );
            out.push(Violation::new(ViolationCode::Gap, Some(d.number), message));
        }
    }
    out
}
