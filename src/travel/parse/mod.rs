//! The rule parser: free text in Chinese or English → the fields of a trip request. It is
//! the embedded stand-in for the LLM's reading (`prompts::understand`): it extracts what it
//! can and leaves the rest unset, so that validation can name what is missing or wrong.
//!
//! Readers take their phrases out of the text in turn — dates, then the budget, then the
//! party, then the duration — so that no phrase is read twice (`12月5日` is not five days,
//! `一人2000元` not a party of one). One file per reader.

mod budget;
mod dates;
mod duration;
pub mod numbers;
mod party;
mod text;

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;

use crate::{
    catalog,
    travel::preferences::{Pace, interests_named_in},
};

use text::Remaining;

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

static UNKNOWN_ZH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:去|到|在|游)([\p{Han}]{2,4}?)(?:玩|旅游|旅行|度假|游玩|看看|\d|[一二两三四五六七八九十]|，|,|。|的|$)",
    )
    .unwrap_or_else(|e| panic!("{e}"))
});
static UNKNOWN_EN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:in|to|visit|visiting|around)\s+([A-Z][a-zA-Z]+(?:\s[A-Z][a-zA-Z]+)?)")
        .unwrap_or_else(|e| panic!("{e}"))
});

pub fn parse_query(text: &str, today: NaiveDate) -> ParsedQuery {
    let city = find_city_in(text);
    let unknown_place = if city.is_none() { unknown_place(text) } else { None };
    let mut rest = Remaining::new(text);
    let dates = dates::read(&mut rest, today);
    let budget = budget::read(&mut rest);
    let travelers = party::read(&mut rest);
    let days = duration::read(&mut rest).or(dates.days);
    let budget = budget.map(|b| {
        let party = if b.per_person {
            travelers.unwrap_or(1) as f64
        } else {
            1.0
        };
        (b.amount * party, b.currency)
    });
    ParsedQuery {
        city,
        unknown_place,
        days,
        travelers,
        budget,
        interests: interests(text),
        pace: pace(text),
        start_date: dates.start,
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

/// Interest tags whose words the text uses.
fn interests(text: &str) -> Vec<String> {
    interests_named_in(text).into_iter().map(str::to_string).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        // A Thursday.
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    /// `İ` grows by a byte when lowered and `ẞ` shrinks by one: offsets read in the lowered
    /// text did not fall on the original's characters (a panic on the submit path).
    #[test]
    fn characters_whose_lowercase_changes_length_read_without_a_panic() {
        for query in [
            "İ元旦ẞ",
            "ẞ元旦İ",
            "İİ五一ẞẞ杭州3天",
            "\u{212A}国庆İ",
            "ȺẞChristmas in 杭州",
        ] {
            let p = parse_query(query, today());
            assert!(p.start_date.is_some(), "{query}: the holiday was not read");
        }
        assert_eq!(parse_query("İİ五一ẞẞ杭州3天", today()).days, Some(3));
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

    fn read(text: &str) -> ParsedQuery {
        parse_query(text, today())
    }

    fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn chinese_parties_budgets_and_ranges() {
        let p = read("12月5日到8日去厦门，两个人，每人2000元");
        assert_eq!(
            (p.start_date, p.days, p.travelers),
            (date(2026, 12, 5), Some(4), Some(2))
        );
        assert_eq!(p.budget, Some((4000.0, "CNY".into())));
        assert_eq!(read("12月20日至12月23日 成都").days, Some(4));
        assert_eq!(read("12月30日-1月2日 哈尔滨").start_date, date(2026, 12, 30));
        assert_eq!(read("12月30日-1月2日 哈尔滨").days, Some(4));
        assert_eq!(read("3大2小去北京玩4天").travelers, Some(5));
        assert_eq!(read("2个大人1个小孩").travelers, Some(3));
        assert_eq!(read("带爸妈去杭州").travelers, Some(3));
        assert_eq!(read("我和老婆带爸妈去杭州").travelers, Some(4));
        assert_eq!(read("一家五口去桂林").travelers, Some(5));
        assert_eq!(read("人均1500，3个人去苏州").budget, Some((4500.0, "CNY".into())));
        assert_eq!(read("两个人，一人3000元").budget, Some((6000.0, "CNY".into())));
        assert_eq!(read("两个人，3000块/人").budget, Some((6000.0, "CNY".into())));
        assert_eq!(read("预算八千").budget, Some((8000.0, "CNY".into())));
        assert_eq!(read("预算两千五").budget, Some((2500.0, "CNY".into())));
        assert_eq!(read("预算1万2").budget, Some((12_000.0, "CNY".into())));
        assert_eq!(read("预算1.2万元").budget, Some((12_000.0, "CNY".into())));
    }

    #[test]
    fn holidays_start_on_their_next_date() {
        let start = |s: &str| read(s).start_date;
        assert_eq!(start("五一去西安"), date(2027, 5, 1));
        assert_eq!(start("元旦去哈尔滨"), date(2027, 1, 1));
        assert_eq!(start("春节去三亚"), date(2027, 2, 6));
        assert_eq!(start("清明去杭州"), date(2027, 4, 5));
        assert_eq!(start("端午去成都"), date(2027, 6, 9));
        assert_eq!(start("中秋去苏州"), date(2027, 9, 15));
        assert_eq!(start("国庆去北京"), date(2027, 10, 1));
        assert_eq!(start("Christmas in Tokyo"), date(2026, 12, 25));
        assert_eq!(read("五一天").start_date, None, "a number, not the holiday");
    }

    #[test]
    fn english_parties_budgets_and_ranges() {
        let p = read("A week in Beijing for a family of 4, total budget 15000 yuan");
        assert_eq!((p.days, p.travelers), (Some(7), Some(4)));
        assert_eq!(p.budget, Some((15_000.0, "CNY".into())));
        let people = |s: &str| read(s).travelers;
        assert_eq!(people("3 days in Xi'an for two"), Some(2));
        assert_eq!(people("Shanghai for four, 3 days"), Some(4));
        assert_eq!(people("Guilin with a family of five"), Some(5));
        assert_eq!(people("a group of 6 to Chengdu"), Some(6));
        assert_eq!(people("a group of six to Chengdu"), Some(6));
        assert_eq!(people("two adults and two kids in Tokyo"), Some(4));
        assert_eq!(people("a couple visiting Suzhou"), Some(2));
        assert_eq!(people("me and my partner in Bangkok"), Some(2));
        assert_eq!(people("me and my wife and our 2 kids in Singapore"), Some(4));
        assert_eq!(people("for 3 days in Hangzhou"), None, "a duration, not a party");
        assert_eq!(people("a couple of days in Hangzhou"), None);
        let budget = |s: &str| read(s).budget;
        assert_eq!(budget("Tokyo, $2,000"), Some((2000.0, "USD".into())));
        assert_eq!(budget("Xiamen, 1,200 RMB"), Some((1200.0, "CNY".into())));
        assert_eq!(budget("Chengdu under 5k"), Some((5000.0, "CNY".into())));
        assert_eq!(
            budget("Bangkok for 2, 800 USD per person"),
            Some((1600.0, "USD".into()))
        );
        assert_eq!(read("5 nights in Bangkok").days, Some(6));
        let p = read("Xiamen Dec 3–6");
        assert_eq!((p.start_date, p.days), (date(2026, 12, 3), Some(4)));
        let p = read("Suzhou from March 3 to March 6");
        assert_eq!((p.start_date, p.days), (date(2027, 3, 3), Some(4)));
        let p = read("Nanjing 3-6 January");
        assert_eq!((p.start_date, p.days), (date(2027, 1, 3), Some(4)));
        let p = read("Hangzhou next weekend");
        assert_eq!((p.start_date, p.days), (date(2026, 12, 5), Some(2)));
        let p = read("杭州周末");
        assert_eq!((p.start_date, p.days), (date(2026, 11, 28), Some(2)));
    }
}
