//! When the trip starts, and how long a stated range makes it: ISO, Chinese and English
//! dates and ranges (counted inclusively: `12月5日到8日` is 4 days), the days around today
//! (明天, next Friday, 下周末), weekends, and holidays (元旦, 春节, 清明, 五一, 端午, 中秋, 国庆,
//! Christmas…) at their next date.

use std::sync::LazyLock;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use regex::{Captures, Regex};

use crate::travel::parse::text::Remaining;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DateReading {
    pub start: Option<NaiveDate>,
    /// Days a range or a weekend spans, counted inclusively.
    pub days: Option<i64>,
}

const MONTH: &str = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?";
const TO: &str = r"\s*(?:-|–|—|~|to|until|through|thru|till|至|到)\s*";
const DAY: &str = r"(\d{1,2})(?:st|nd|rd|th)?";

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("date pattern {pattern}: {e}"))
}

static ISO_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b(\d{{4}})-(\d{{1,2}})-(\d{{1,2}}){TO}(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})\b"
    ))
});
static ISO: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"));
static ZH_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]?\s*(?:到|至|-|–|—|~)\s*(?:(\d{1,2})月)?(\d{1,2})[日号]")
});
static ZH: LazyLock<Regex> = LazyLock::new(|| re(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]"));
static EN_RANGE: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?i)\b(?:from\s+)?{MONTH}\s+{DAY}{TO}(?:{MONTH}\s+)?{DAY}\b")));
static EN_RANGE_DAY_FIRST: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?i)\b(?:from\s+)?{DAY}{TO}{DAY}\s+(?:of\s+)?{MONTH}")));
static EN: LazyLock<Regex> = LazyLock::new(|| re(&format!(r"(?i)\b{MONTH}\s+{DAY}\b|\b{DAY}\s+(?:of\s+)?{MONTH}")));
static ZH_WEEKDAY: LazyLock<Regex> =
    LazyLock::new(|| re(r"(下下|下个?|这个?|本)?(?:周|星期|礼拜)([一二三四五六日天])"));
static EN_WEEKDAY: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b(next|this|on)?\s*(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"));
static WEEKEND: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)(下下?个?周末|下个?礼拜末|这个?周末|本周末|周末)|\b(next|this|a|the|long)?\s*weekend\b"));

pub fn read(text: &mut Remaining, today: NaiveDate) -> DateReading {
    let readers: [fn(&mut Remaining, NaiveDate) -> Option<DateReading>; 8] = [
        iso,
        chinese,
        english,
        holiday,
        relative_day,
        weekend,
        zh_weekday,
        en_weekday,
    ];
    readers.iter().find_map(|read| read(text, today)).unwrap_or_default()
}

/// A range from `start` to `end` inclusive; an end before the start is in the next year
/// (`12月30日到1月2日`).
fn range(start: NaiveDate, end: NaiveDate) -> Option<DateReading> {
    let end = if end >= start {
        end
    } else {
        NaiveDate::from_ymd_opt(end.year() + 1, end.month(), end.day())?
    };
    Some(DateReading {
        start: Some(start),
        days: Some((end - start).num_days() + 1),
    })
}

fn starting(start: NaiveDate) -> Option<DateReading> {
    Some(DateReading {
        start: Some(start),
        days: None,
    })
}

fn num<T: std::str::FromStr>(c: &Captures, i: usize) -> Option<T> {
    c.get(i)?.as_str().parse().ok()
}

fn iso(text: &mut Remaining, _today: NaiveDate) -> Option<DateReading> {
    let ymd = |c: &Captures, i: usize| NaiveDate::from_ymd_opt(num(c, i)?, num(c, i + 1)?, num(c, i + 2)?);
    text.take(&ISO_RANGE, |c| range(ymd(c, 1)?, ymd(c, 4)?))
        .or_else(|| text.take(&ISO, |c| starting(ymd(c, 1)?)))
}

fn chinese(text: &mut Remaining, today: NaiveDate) -> Option<DateReading> {
    let start = |c: &Captures| match c.get(1) {
        Some(y) => NaiveDate::from_ymd_opt(y.as_str().parse().ok()?, num(c, 2)?, num(c, 3)?),
        None => next_occurrence(today, num(c, 2)?, num(c, 3)?),
    };
    text.take(&ZH_RANGE, |c| {
        let from = start(c)?;
        let end_month = num(c, 4).unwrap_or(from.month());
        range(from, NaiveDate::from_ymd_opt(from.year(), end_month, num(c, 5)?)?)
    })
    .or_else(|| text.take(&ZH, |c| starting(start(c)?)))
}

fn month_number(raw: &str) -> Option<u32> {
    let lower = raw.to_lowercase();
    [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| lower.starts_with(m))
    .map(|i| i as u32 + 1)
}

fn english(text: &mut Remaining, today: NaiveDate) -> Option<DateReading> {
    text.take(&EN_RANGE, |c| {
        let month = month_number(c.get(1)?.as_str())?;
        let from = next_occurrence(today, month, num(c, 2)?)?;
        let end_month = c.get(3).and_then(|m| month_number(m.as_str())).unwrap_or(month);
        range(from, NaiveDate::from_ymd_opt(from.year(), end_month, num(c, 4)?)?)
    })
    .or_else(|| {
        text.take(&EN_RANGE_DAY_FIRST, |c| {
            let month = month_number(c.get(3)?.as_str())?;
            let from = next_occurrence(today, month, num(c, 1)?)?;
            range(from, NaiveDate::from_ymd_opt(from.year(), month, num(c, 2)?)?)
        })
    })
    .or_else(|| {
        text.take(&EN, |c| {
            let (month, day) = match (c.get(1), c.get(2)) {
                (Some(m), Some(d)) => (m.as_str(), d.as_str()),
                _ => (c.get(4)?.as_str(), c.get(3)?.as_str()),
            };
            starting(next_occurrence(today, month_number(month)?, day.parse().ok()?)?)
        })
    })
}

/// A holiday's names, and its dates (year, month, day) in the years a plan may start.
type Names = &'static [&'static str];
type Dates = [(i32, u32, u32); 5];

/// Holidays with a fixed date, by the names people use for them.
const FIXED_HOLIDAYS: [(Names, u32, u32); 5] = [
    (&["元旦", "new year's day", "new year"], 1, 1),
    (&["情人节", "valentine"], 2, 14),
    (&["五一", "劳动节", "may day", "labour day", "labor day"], 5, 1),
    (
        &["国庆", "十一黄金周", "十一长假", "national day", "golden week"],
        10,
        1,
    ),
    (&["圣诞", "christmas", "xmas"], 12, 25),
];

/// Holidays of the lunar calendar (and Qingming), at their dates in the years a plan may start.
const MOVING_HOLIDAYS: [(Names, Dates); 4] = [
    (
        &["春节", "过年", "chinese new year", "lunar new year", "spring festival"],
        [(2026, 2, 17), (2027, 2, 6), (2028, 1, 26), (2029, 2, 13), (2030, 2, 3)],
    ),
    (
        &["清明", "qingming", "tomb-sweeping", "tomb sweeping"],
        [(2026, 4, 5), (2027, 4, 5), (2028, 4, 4), (2029, 4, 4), (2030, 4, 5)],
    ),
    (
        &["端午", "dragon boat"],
        [(2026, 6, 19), (2027, 6, 9), (2028, 5, 28), (2029, 6, 16), (2030, 6, 5)],
    ),
    (
        &["中秋", "mid-autumn", "mid autumn", "moon festival"],
        [
            (2026, 9, 25),
            (2027, 9, 15),
            (2028, 10, 3),
            (2029, 9, 22),
            (2030, 9, 12),
        ],
    ),
];

/// The next date of a holiday the text names; `五一` only when it is not a number in a
/// longer one (五一天 is not a holiday).
fn holiday(text: &mut Remaining, today: NaiveDate) -> Option<DateReading> {
    let lower = text.as_str().to_lowercase();
    let position = |names: &[&str]| -> Option<(usize, usize)> {
        names.iter().find_map(|name| {
            lower.match_indices(name).find_map(|(at, found)| {
                let next = lower[at + found.len()..].chars().next();
                let is_number = next.is_some_and(|c| "月天日号晚夜".contains(c) || c.is_ascii_digit());
                (!is_number).then_some((at, found.len()))
            })
        })
    };
    let found = FIXED_HOLIDAYS
        .iter()
        .find_map(|(names, m, d)| position(names).map(|at| (at, next_occurrence(today, *m, *d))))
        .or_else(|| {
            MOVING_HOLIDAYS.iter().find_map(|(names, dates)| {
                let date = dates
                    .iter()
                    .filter_map(|(y, m, d)| NaiveDate::from_ymd_opt(*y, *m, *d))
                    .find(|d| *d >= today);
                position(names).map(|at| (at, date))
            })
        });
    let ((at, len), date) = found?;
    // Lowering may change a character's length (`İ`, `ẞ`), and two such changes can cancel
    // out: the offsets found in `lower` hold in the text only where it says the same there.
    let said = text.as_str().get(at..at + len).map(str::to_lowercase);
    if said.as_deref() == lower.get(at..at + len) {
        text.blank(at..at + len);
    }
    starting(date?)
}

fn relative_day(text: &mut Remaining, today: NaiveDate) -> Option<DateReading> {
    let lower = text.as_str().to_lowercase();
    let ahead = if lower.contains("大后天") {
        3
    } else if lower.contains("后天") || lower.contains("day after tomorrow") {
        2
    } else if lower.contains("明天") || lower.contains("tomorrow") {
        1
    } else if lower.contains("今天") || lower.contains("today") {
        0
    } else {
        return None;
    };
    starting(today + Duration::days(ahead))
}

/// A weekend: this coming one, or next week's; two days (three for a long one).
fn weekend(text: &mut Remaining, today: NaiveDate) -> Option<DateReading> {
    text.take(&WEEKEND, |c| {
        let said = c.get(0)?.as_str().to_lowercase();
        let weeks_ahead = if said.starts_with("下下") {
            2
        } else if said.starts_with('下') || said.contains("next") {
            1
        } else {
            0
        };
        let days = if said.contains("long") { 3 } else { 2 };
        Some(DateReading {
            start: Some(weekday_in_week(today, Weekday::Sat, weeks_ahead)),
            days: Some(days),
        })
    })
}

fn zh_weekday(text: &mut Remaining, today: NaiveDate) -> Option<DateReading> {
    text.take(&ZH_WEEKDAY, |c| {
        let weekday = match &c[2] {
            "一" => Weekday::Mon,
            "二" => Weekday::Tue,
            "三" => Weekday::Wed,
            "四" => Weekday::Thu,
            "五" => Weekday::Fri,
            "六" => Weekday::Sat,
            _ => Weekday::Sun,
        };
        let weeks_ahead = match c.get(1).map(|m| m.as_str()) {
            Some("下下") => 2,
            Some(p) if p.starts_with('下') => 1,
            _ => 0,
        };
        starting(weekday_in_week(today, weekday, weeks_ahead))
    })
}

fn en_weekday(text: &mut Remaining, today: NaiveDate) -> Option<DateReading> {
    text.take(&EN_WEEKDAY, |c| {
        let weekday: Weekday = c[2].parse().ok()?;
        starting(match c.get(1).map(|m| m.as_str().to_lowercase()) {
            Some(p) if p == "next" => weekday_in_week(today, weekday, 1),
            _ => next_weekday(today, weekday),
        })
    })
}

/// This year's month/day if still ahead (or today), otherwise next year's.
fn next_occurrence(today: NaiveDate, month: u32, day: u32) -> Option<NaiveDate> {
    let this_year = NaiveDate::from_ymd_opt(today.year(), month, day)?;
    if this_year >= today {
        Some(this_year)
    } else {
        NaiveDate::from_ymd_opt(today.year() + 1, month, day)
    }
}

/// The given weekday in this week (Monday first) or `weeks_ahead` weeks later; "this
/// Friday" already past means next week's.
fn weekday_in_week(today: NaiveDate, weekday: Weekday, weeks_ahead: i64) -> NaiveDate {
    let monday = today - Duration::days(today.weekday().num_days_from_monday() as i64);
    let date = monday + Duration::days(weeks_ahead * 7 + weekday.num_days_from_monday() as i64);
    if date < today { date + Duration::days(7) } else { date }
}

fn next_weekday(today: NaiveDate, weekday: Weekday) -> NaiveDate {
    let ahead = (7 + weekday.num_days_from_monday() as i64 - today.weekday().num_days_from_monday() as i64) % 7;
    today + Duration::days(if ahead == 0 { 7 } else { ahead })
}
