//! The rule parser: free text in Chinese or English → the fields of a trip request. It is
//! the embedded stand-in for the LLM's reading (`prompts::understand`): it extracts what it
//! can and leaves the rest unset, so that validation can name what is missing or wrong.

use std::sync::LazyLock;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use regex::Regex;

use crate::{
    catalog,
    travel::preferences::{INTEREST_WORDS, Pace},
};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedQuery {
    pub city: Option<String>,
    /// A place the text seems to name that the catalog does not know.
    pub unknown_place: Option<String>,
    pub days: Option<i64>,
    pub travelers: Option<i64>,
    pub budget: Option<(f64, String)>,
    pub interests: Vec<String>,
    pub pace: Option<Pace>,
    pub start_date: Option<NaiveDate>,
}

static NUM: &str = r"(\d+|[一二两三四五六七八九十]+)";

static DAYS_ZH: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"{NUM}\s*(?:天|日游|日)")).unwrap());
static NIGHTS_ZH: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"{NUM}\s*(?:晚|夜)")).unwrap());
static DAYS_EN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten)[\s-]*days?\b").unwrap());
static NIGHTS_EN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten)[\s-]*nights?\b").unwrap()
});
static WEEK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)一周|一个星期|\ba week\b|\bone week\b").unwrap());
static WEEKEND: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)周末|\bweekend\b").unwrap());

static PEOPLE_ZH: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"{NUM}\s*(?:个人|人|位|口人)")).unwrap());
static FAMILY_ZH: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"一家{NUM}口")).unwrap());
static PEOPLE_EN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:for\s+)?(\d+|one|two|three|four|five|six|seven|eight|nine|ten)\s*(?:people|persons|travell?ers|adults|of us|pax)\b|\bfor\s+(\d+)\b").unwrap()
});
static COUPLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)情侣|夫妻|我们俩|俩人|两口子|\bcouple\b|\bmy (?:wife|husband|partner)\b").unwrap()
});
static SOLO: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)一个人|独自|\bsolo\b|\balone\b").unwrap());

static BUDGET_ZH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(人均)?\s*(?:预算|花费|经费)?\s*(?:大概|约|大约|不超过|控制在)?\s*(\d+(?:\.\d+)?)\s*(万|千|k|K)?\s*(元|块|人民币|rmb|RMB|美元|美金|日元|欧元|英镑|港币)").unwrap()
});
static BUDGET_ZH_BARE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(人均)?\s*预算\s*(?:大概|约|大约|不超过|控制在|是|为)?\s*(\d+(?:\.\d+)?)\s*(万|千|k|K)?").unwrap()
});
static BUDGET_EN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:budget\s*(?:of|is|:)?\s*|under\s+|max\s+)?([$¥€£])?\s*(\d[\d,]*(?:\.\d+)?)\s*(k)?\s*(cny|rmb|yuan|usd|dollars?|eur|euros?|jpy|yen|gbp|pounds?|hkd|sgd|thb|baht|krw|won|aud)?(\s*(?:per person|pp|each))?").unwrap()
});

static ISO_DATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b").unwrap());
static ZH_DATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]").unwrap());
static EN_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b|\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b").unwrap()
});
static ZH_WEEKDAY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(下下|下个?|这个?|本)?(?:周|星期|礼拜)([一二三四五六日天])").unwrap());
static EN_WEEKDAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(next|this|on)?\s*(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b").unwrap()
});

static UNKNOWN_ZH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:去|到|在|游)([\p{Han}]{2,4}?)(?:玩|旅游|旅行|度假|游玩|看看|\d|[一二两三四五六七八九十]|，|,|。|的|$)",
    )
    .unwrap()
});
static UNKNOWN_EN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:in|to|visit|visiting|around)\s+([A-Z][a-zA-Z]+(?:\s[A-Z][a-zA-Z]+)?)").unwrap());

pub fn parse_query(text: &str, today: NaiveDate) -> ParsedQuery {
    let city = find_city_in(text);
    let unknown_place = if city.is_none() { unknown_place(text) } else { None };
    let travelers = travelers(text);
    ParsedQuery {
        city,
        unknown_place,
        days: days(text),
        travelers,
        budget: budget(text, travelers.unwrap_or(1)),
        interests: interests(text),
        pace: pace(text),
        start_date: start_date(text, today),
    }
}

/// A place the text seems to go to, when it names no catalog city.
fn unknown_place(text: &str) -> Option<String> {
    UNKNOWN_ZH
        .captures(text)
        .or_else(|| UNKNOWN_EN.captures(text))
        .map(|c| c[1].to_string())
        .filter(|p| !matches!(p.as_str(), "旅游" | "旅行" | "玩" | "December" | "January"))
}

fn days(text: &str) -> Option<i64> {
    DAYS_ZH
        .captures(text)
        .and_then(|c| number(&c[1]))
        .or_else(|| DAYS_EN.captures(text).and_then(|c| number(&c[1])))
        .or_else(|| {
            let nights = NIGHTS_ZH.captures(text).or_else(|| NIGHTS_EN.captures(text));
            nights.and_then(|c| number(&c[1])).map(|n| n + 1)
        })
        .or_else(|| WEEK.is_match(text).then_some(7))
        .or_else(|| WEEKEND.is_match(text).then_some(2))
}

fn travelers(text: &str) -> Option<i64> {
    FAMILY_ZH
        .captures(text)
        .and_then(|c| number(&c[1]))
        .or_else(|| PEOPLE_ZH.captures(text).and_then(|c| number(&c[1])))
        .or_else(|| {
            PEOPLE_EN
                .captures(text)
                .and_then(|c| c.get(1).or_else(|| c.get(2)).and_then(|m| number(m.as_str())))
        })
        .or_else(|| COUPLE.is_match(text).then_some(2))
        .or_else(|| SOLO.is_match(text).then_some(1))
}

/// Interest tags whose words the text uses: English as whole words (plurals too), Chinese
/// anywhere.
fn interests(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut out = Vec::new();
    for (tag, words) in INTEREST_WORDS {
        let hit = words.iter().any(|w| {
            if w.is_ascii() {
                lower
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .any(|token| token == *w || token.strip_suffix('s') == Some(w))
            } else {
                text.contains(w)
            }
        });
        if hit {
            out.push(tag.to_string());
        }
    }
    out
}

fn pace(text: &str) -> Option<Pace> {
    let lower = text.to_lowercase();
    let says = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if says(&["轻松", "悠闲", "慢", "relaxed", "slow", "leisurely", "easy"]) {
        Some(Pace::Relaxed)
    } else if says(&["紧凑", "特种兵", "packed", "busy", "intense"]) {
        Some(Pace::Packed)
    } else {
        None
    }
}

fn find_city_in(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let catalog = catalog::catalog();
    // Longest name first, so that a longer name is not shadowed by a shorter one inside it.
    let mut names: Vec<(String, &str)> = catalog
        .cities
        .iter()
        .flat_map(|c| {
            std::iter::once(c.name.clone())
                .chain(std::iter::once(c.name_en.to_lowercase()))
                .chain(c.aliases.iter().map(|a| a.to_lowercase()))
                .map(move |n| (n, c.id.as_str()))
        })
        .collect();
    names.sort_by_key(|(n, _)| std::cmp::Reverse(n.chars().count()));
    names.into_iter().find_map(|(name, id)| {
        let hit = if name.is_ascii() {
            lower
                .match_indices(&name)
                .any(|(i, _)| word_boundary(&lower, i) && word_boundary(&lower, i + name.len()))
        } else {
            text.contains(&name)
        };
        hit.then(|| id.to_string())
    })
}

fn word_boundary(text: &str, at: usize) -> bool {
    let before = text[..at].chars().next_back();
    let after = text[at..].chars().next();
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphabetic());
    // Either side of `at` may be the word itself; a boundary has a non-word on one side.
    !(is_word(before) && is_word(after))
}

fn number(raw: &str) -> Option<i64> {
    if let Ok(n) = raw.parse() {
        return Some(n);
    }
    match raw.to_lowercase().as_str() {
        "one" => return Some(1),
        "two" => return Some(2),
        "three" => return Some(3),
        "four" => return Some(4),
        "five" => return Some(5),
        "six" => return Some(6),
        "seven" => return Some(7),
        "eight" => return Some(8),
        "nine" => return Some(9),
        "ten" => return Some(10),
        _ => {}
    }
    chinese_number(raw)
}

fn chinese_number(raw: &str) -> Option<i64> {
    let digit = |c: char| {
        "零一二三四五六七八九"
            .find(c)
            .map(|i| (i / 3) as i64)
            .or((c == '两').then_some(2))
    };
    let chars: Vec<char> = raw.chars().collect();
    match chars.as_slice() {
        [c] if *c == '十' => Some(10),
        [c] => digit(*c),
        ['十', u] => Some(10 + digit(*u)?),
        [t, '十'] => Some(digit(*t)? * 10),
        [t, '十', u] => Some(digit(*t)? * 10 + digit(*u)?),
        _ => None,
    }
}

fn currency_code(word: &str) -> Option<&'static str> {
    Some(match word.to_lowercase().as_str() {
        "元" | "块" | "人民币" | "rmb" | "cny" | "yuan" | "¥" => "CNY",
        "美元" | "美金" | "usd" | "dollar" | "dollars" | "$" => "USD",
        "日元" | "jpy" | "yen" => "JPY",
        "欧元" | "eur" | "euro" | "euros" | "€" => "EUR",
        "英镑" | "gbp" | "pound" | "pounds" | "£" => "GBP",
        "港币" | "hkd" => "HKD",
        "sgd" => "SGD",
        "thb" | "baht" => "THB",
        "krw" | "won" => "KRW",
        "aud" => "AUD",
        _ => return None,
    })
}

fn budget(text: &str, travelers: i64) -> Option<(f64, String)> {
    let scale = |m: Option<regex::Match>| match m.map(|m| m.as_str()) {
        Some("万") => 10_000.0,
        Some("千") | Some("k") | Some("K") => 1_000.0,
        _ => 1.0,
    };
    if let Some(c) = BUDGET_ZH.captures(text) {
        let amount: f64 = c[2].parse().ok()?;
        let per_person = c.get(1).is_some();
        let currency = currency_code(&c[4]).unwrap_or("CNY");
        let total = amount * scale(c.get(3)) * if per_person { travelers as f64 } else { 1.0 };
        return Some((total, currency.into()));
    }
    if let Some(c) = BUDGET_ZH_BARE.captures(text) {
        let amount: f64 = c[2].parse().ok()?;
        let per_person = c.get(1).is_some();
        let total = amount * scale(c.get(3)) * if per_person { travelers as f64 } else { 1.0 };
        return Some((total, "CNY".into()));
    }
    for c in BUDGET_EN.captures_iter(text) {
        let symbol = c.get(1).map(|m| m.as_str());
        let word = c.get(4).map(|m| m.as_str());
        let explicit_budget = c.get(0).is_some_and(|m| {
            let s = m.as_str().to_lowercase();
            s.starts_with("budget") || s.starts_with("under") || s.starts_with("max")
        });
        if symbol.is_none() && word.is_none() && !explicit_budget {
            continue;
        }
        let amount: f64 = c[2].replace(',', "").parse().ok()?;
        let amount = amount * if c.get(3).is_some() { 1_000.0 } else { 1.0 };
        let currency = word.or(symbol).and_then(currency_code).unwrap_or("CNY");
        let per_person = c.get(5).is_some();
        return Some((
            amount * if per_person { travelers as f64 } else { 1.0 },
            currency.into(),
        ));
    }
    None
}

fn start_date(text: &str, today: NaiveDate) -> Option<NaiveDate> {
    if let Some(c) = ISO_DATE.captures(text) {
        return NaiveDate::from_ymd_opt(c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?);
    }
    if let Some(c) = ZH_DATE.captures(text) {
        let (m, d) = (c[2].parse().ok()?, c[3].parse().ok()?);
        return match c.get(1) {
            Some(y) => NaiveDate::from_ymd_opt(y.as_str().parse().ok()?, m, d),
            None => next_occurrence(today, m, d),
        };
    }
    if let Some(c) = EN_DATE.captures(text) {
        let (month, day) = match (c.get(1), c.get(2)) {
            (Some(m), Some(d)) => (m.as_str(), d.as_str()),
            _ => (c.get(4)?.as_str(), c.get(3)?.as_str()),
        };
        let m = [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ]
        .iter()
        .position(|x| month.to_lowercase().starts_with(x))? as u32
            + 1;
        return next_occurrence(today, m, day.parse().ok()?);
    }
    if text.contains("大后天") {
        return Some(today + Duration::days(3));
    }
    if text.contains("后天") {
        return Some(today + Duration::days(2));
    }
    if text.contains("明天") || text.to_lowercase().contains("tomorrow") {
        return Some(today + Duration::days(1));
    }
    if let Some(c) = ZH_WEEKDAY.captures(text) {
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
        return Some(weekday_in_week(today, weekday, weeks_ahead));
    }
    if let Some(c) = EN_WEEKDAY.captures(text) {
        let weekday: Weekday = c[2].parse().ok()?;
        return Some(match c.get(1).map(|m| m.as_str().to_lowercase()) {
            Some(p) if p == "next" => weekday_in_week(today, weekday, 1),
            _ => next_weekday(today, weekday),
        });
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        // A Thursday.
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    #[test]
    fn chinese_request() {
        let p = parse_query(
            "帮我规划杭州3天2晚的旅行，两个人，预算3000元，喜欢美食和自然风光",
            today(),
        );
        assert_eq!(p.city.as_deref(), Some("hangzhou"));
        assert_eq!(p.days, Some(3));
        assert_eq!(p.travelers, Some(2));
        assert_eq!(p.budget, Some((3000.0, "CNY".into())));
        assert_eq!(p.interests, vec!["food", "nature"]);
    }

    #[test]
    fn english_request() {
        let p = parse_query(
            "3 days in Chengdu for 2, budget 5000 CNY, love food and museums, relaxed",
            today(),
        );
        assert_eq!(p.city.as_deref(), Some("chengdu"));
        assert_eq!(p.days, Some(3));
        assert_eq!(p.travelers, Some(2));
        assert_eq!(p.budget, Some((5000.0, "CNY".into())));
        assert!(p.interests.contains(&"food".to_string()) && p.interests.contains(&"art".to_string()));
        assert_eq!(p.pace, Some(Pace::Relaxed));
    }

    #[test]
    fn nights_weeks_and_chinese_numerals() {
        assert_eq!(parse_query("西安两晚", today()).days, Some(3));
        assert_eq!(parse_query("成都五日游，一家三口", today()).days, Some(5));
        assert_eq!(parse_query("成都五日游，一家三口", today()).travelers, Some(3));
        assert_eq!(parse_query("a week in Tokyo", today()).days, Some(7));
        assert_eq!(parse_query("4 nights in Bangkok, $1,500", today()).days, Some(5));
        assert_eq!(
            parse_query("4 nights in Bangkok, $1,500", today()).budget,
            Some((1500.0, "USD".into()))
        );
        assert_eq!(parse_query("北京十二天", today()).days, Some(12));
        assert_eq!(
            parse_query("苏州 人均预算2000 3个人", today()).budget,
            Some((6000.0, "CNY".into()))
        );
        assert_eq!(
            parse_query("上海，预算1.5万", today()).budget,
            Some((15000.0, "CNY".into()))
        );
    }

    #[test]
    fn dates() {
        let d = |s: &str| parse_query(s, today()).start_date;
        assert_eq!(d("下周五出发去厦门"), NaiveDate::from_ymd_opt(2026, 12, 4));
        assert_eq!(d("周六出发"), NaiveDate::from_ymd_opt(2026, 11, 28));
        assert_eq!(d("from Dec 3"), NaiveDate::from_ymd_opt(2026, 12, 3));
        assert_eq!(d("starting 3rd of January"), NaiveDate::from_ymd_opt(2027, 1, 3));
        assert_eq!(d("12月20号"), NaiveDate::from_ymd_opt(2026, 12, 20));
        assert_eq!(d("明天"), NaiveDate::from_ymd_opt(2026, 11, 27));
        assert_eq!(d("next friday"), NaiveDate::from_ymd_opt(2026, 12, 4));
        assert_eq!(d("2027-02-01"), NaiveDate::from_ymd_opt(2027, 2, 1));
        assert_eq!(
            parse_query("帮我规划Tokyo4天的旅行", today()).city.as_deref(),
            Some("tokyo")
        );
        assert_eq!(
            parse_query("Xiamen-bound, 2 days", today()).city.as_deref(),
            Some("xiamen")
        );
    }

    #[test]
    fn unknown_places_are_named_and_nonsense_finds_nothing() {
        let p = parse_query("3 days in Lisbon", today());
        assert_eq!((p.city, p.unknown_place.as_deref()), (None, Some("Lisbon")));
        let p = parse_query("去拉萨玩5天", today());
        assert_eq!(p.unknown_place.as_deref(), Some("拉萨"));
        let p = parse_query("asdf qwerty", today());
        assert_eq!((p.city, p.unknown_place), (None, None));
    }
}
