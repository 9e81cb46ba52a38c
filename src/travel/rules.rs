//! The hard rules every plan obeys, shared by the composer that follows them and the
//! checker that verifies them: each day's time window, the meal windows, how costs add up.

use crate::{
    domain::money,
    travel::itinerary::{Costs, Day, ItemKind},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayWindow {
    pub start: u32,
    pub end: u32,
}

impl DayWindow {
    /// Dinner is owed on every day that lasts into the evening.
    pub fn needs_dinner(&self) -> bool {
        self.end >= 20 * 60
    }
}

/// Arrival day starts later, departure day ends earlier, the days between run 09:00–21:00.
pub fn day_window(index: u32, days: u32) -> DayWindow {
    let first = index == 0;
    let last = index + 1 == days;
    DayWindow {
        start: if first && days > 1 { 10 * 60 } else { 9 * 60 },
        end: if last && days > 1 { 18 * 60 } else { 21 * 60 },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MealWindow {
    pub name: &'static str,
    /// The meal starts no earlier than this…
    pub earliest: u32,
    /// …is planned from here when nothing else fits first…
    pub ideal: u32,
    /// …and starts no later than this.
    pub latest: u32,
}

pub const LUNCH: MealWindow = MealWindow {
    name: "lunch",
    earliest: 11 * 60,
    ideal: 11 * 60 + 30,
    latest: 13 * 60 + 30,
};
/// Dinner at the hours people eat it in the cities we plan: from six.
pub const DINNER: MealWindow = MealWindow {
    name: "dinner",
    earliest: 18 * 60,
    ideal: 18 * 60,
    latest: 19 * 60 + 30,
};

/// Totals by category; `total` is the sum of every item and every night.
pub fn costs(days: &[Day]) -> Costs {
    let mut c = Costs::default();
    for day in days {
        for item in &day.items {
            match item.kind {
                ItemKind::Meal => c.food += item.cost,
                ItemKind::Attraction | ItemKind::Free => c.tickets += item.cost,
                ItemKind::Transfer => c.transport += item.cost,
            }
        }
        c.lodging += day.lodging.as_ref().map_or(0.0, |l| l.cost);
    }
    c.food = money::round2(c.food);
    c.tickets = money::round2(c.tickets);
    c.transport = money::round2(c.transport);
    c.lodging = money::round2(c.lodging);
    c.total = money::round2(c.food + c.tickets + c.transport + c.lodging);
    c
}
