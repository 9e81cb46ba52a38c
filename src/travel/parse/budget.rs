//! The budget: an amount with a currency (`3000元`, `$2,000`, `1,200 RMB`, `八千块`,
//! `1.2万`, `under 5k`) or after a word that says budget (`预算3000`, `budget of 15000`),
//! and whether it is per person (`每人`, `人均`, `一人`, `/人`, "per person", "each").

use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::travel::parse::{
    numbers::{AMOUNT, amount},
    text::Remaining,
};

#[derive(Debug, Clone, PartialEq)]
pub struct BudgetReading {
    pub amount: f64,
    pub currency: String,
    /// The amount is for one person; the trip's budget is it times the party.
    pub per_person: bool,
}

const ZH_CURRENCY: &str =
    r"(元|块钱|块|人民币|rmb|RMB|美元|美金|日元|欧元|英镑|港币|港元|新币|新加坡元|泰铢|韩元|澳元)";
const EN_CURRENCY: &str = r"(cny|rmb|yuan|usd|dollars?|eur|euros?|jpy|yen|gbp|pounds?|hkd|sgd|thb|baht|krw|won|aud)";
const PER_PERSON_BEFORE: &str = r"(每人|人均|每个人|每位|一人|一个人)";
const PER_PERSON_AFTER: &str = r"(/人|每人|一人|一个人|/位)";

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("budget pattern {pattern}: {e}"))
}

/// `人均预算2000元`, `3000块/人`, `预算1万2`.
static ZH_MARKED: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"{PER_PERSON_BEFORE}?\s*(?:总?预算|花费|经费|费用)?\s*(?:大概|约|大约|不超过|控制在|在|是|为|：|:)?\s*{AMOUNT}\s*{ZH_CURRENCY}\s*{PER_PERSON_AFTER}?"
    ))
});
static ZH_BARE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"{PER_PERSON_BEFORE}?\s*(?:总?预算|花费|经费)\s*(?:大概|约|大约|不超过|控制在|在|是|为|：|:)?\s*{PER_PERSON_BEFORE}?\s*{AMOUNT}"
    ))
});
/// `人均1500`, `每人2000`: spending per person, with no word for the currency.
static ZH_PER_PERSON: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(人均|每人|每个人)\s*(?:大概|约|大约|不超过|控制在|在)?\s*{AMOUNT}"
    ))
});
/// `$2,000`, `1,200 RMB`, `under 5k`, `budget of 15000 yuan per person`.
static EN: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)(budget\s*(?:of|is|:)?\s*|under\s+|max(?:imum)?\s+|up to\s+|no more than\s+|less than\s+)?([$¥€£])?\s*(\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*(k\b)?\s*{EN_CURRENCY}?(\s*(?:per person|per head|a head|pp\b|each|/person|a person))?"
    ))
});

pub fn read(text: &mut Remaining) -> Option<BudgetReading> {
    text.take(&ZH_MARKED, zh_marked)
        .or_else(|| text.take(&ZH_BARE, zh_bare))
        .or_else(|| text.take(&ZH_PER_PERSON, zh_per_person))
        .or_else(|| text.take(&EN, english))
}

fn zh_marked(c: &Captures) -> Option<BudgetReading> {
    Some(BudgetReading {
        amount: amount(
            c.get(2)?.as_str(),
            c.get(3).map(|m| m.as_str()),
            c.get(4).map(|m| m.as_str()),
        )?,
        currency: currency_code(c.get(5)?.as_str()).unwrap_or("CNY").to_string(),
        per_person: c.get(1).is_some() || c.get(6).is_some(),
    })
}

fn zh_bare(c: &Captures) -> Option<BudgetReading> {
    Some(BudgetReading {
        amount: amount(
            c.get(3)?.as_str(),
            c.get(4).map(|m| m.as_str()),
            c.get(5).map(|m| m.as_str()),
        )?,
        currency: "CNY".to_string(),
        per_person: c.get(1).is_some() || c.get(2).is_some(),
    })
}

fn zh_per_person(c: &Captures) -> Option<BudgetReading> {
    Some(BudgetReading {
        amount: amount(
            c.get(2)?.as_str(),
            c.get(3).map(|m| m.as_str()),
            c.get(4).map(|m| m.as_str()),
        )?,
        currency: "CNY".to_string(),
        per_person: true,
    })
}

fn english(c: &Captures) -> Option<BudgetReading> {
    let said_budget = c.get(1).is_some();
    let symbol = c.get(2).map(|m| m.as_str());
    let word = c.get(5).map(|m| m.as_str());
    if !said_budget && symbol.is_none() && word.is_none() {
        return None;
    }
    let number = amount(c.get(3)?.as_str(), c.get(4).map(|m| m.as_str().trim()), None)?;
    Some(BudgetReading {
        amount: number,
        currency: word.or(symbol).and_then(currency_code).unwrap_or("CNY").to_string(),
        per_person: c.get(6).is_some(),
    })
}

fn currency_code(word: &str) -> Option<&'static str> {
    Some(match word.trim().to_lowercase().as_str() {
        "元" | "块" | "块钱" | "人民币" | "rmb" | "cny" | "yuan" | "¥" => "CNY",
        "美元" | "美金" | "usd" | "dollar" | "dollars" | "$" => "USD",
        "日元" | "jpy" | "yen" => "JPY",
        "欧元" | "eur" | "euro" | "euros" | "€" => "EUR",
        "英镑" | "gbp" | "pound" | "pounds" | "£" => "GBP",
        "港币" | "港元" | "hkd" => "HKD",
        "新币" | "新加坡元" | "sgd" => "SGD",
        "泰铢" | "thb" | "baht" => "THB",
        "韩元" | "krw" | "won" => "KRW",
        "澳元" | "aud" => "AUD",
        _ => return None,
    })
}
