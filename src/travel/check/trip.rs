//! The trip's shape: as many days as asked, on the dates asked, for the party asked.

use chrono::Duration;

use crate::travel::check::{
    subject::Subject,
    violation::{Violation, ViolationCode},
};

pub fn day_count(s: &Subject) -> Vec<Violation> {
    let (planned, asked) = (s.plan.days.len(), s.request.days);
    if planned == asked as usize {
        return Vec::new();
    }
    let message = format!("plan has {planned} days, request asks for {asked}");
    vec![Violation::new(ViolationCode::Days, None, message)]
}

pub fn date_range(s: &Subject) -> Vec<Violation> {
    let (plan, request) = (s.plan, s.request);
    if plan.start_date == request.start_date.to_string() && plan.end_date == request.end_date().to_string() {
        return Vec::new();
    }
    let message = format!(
        "plan runs {}..{}, request {}..{}",
        plan.start_date,
        plan.end_date,
        request.start_date,
        request.end_date()
    );
    vec![Violation::new(ViolationCode::Dates, None, message)]
}

pub fn party(s: &Subject) -> Vec<Violation> {
    if s.plan.travelers == s.request.travelers && s.plan.currency == s.request.currency {
        return Vec::new();
    }
    let message = "travelers or currency differ from the request".to_string();
    vec![Violation::new(ViolationCode::Party, None, message)]
}

/// Day n is dated n - 1 days after the start.
pub fn day_dates(s: &Subject) -> Vec<Violation> {
    s.days
        .iter()
        .filter_map(|d| {
            let expected = s.request.start_date + Duration::days(d.number as i64 - 1);
            (d.day.date != expected.to_string()).then(|| {
                let message = format!("day {} is dated {}, expected {expected}", d.number, d.day.date);
                Violation::new(ViolationCode::Dates, Some(d.number), message)
            })
        })
        .collect()
}
