//! Numbers as travellers write them: digits with thousands separators (`1,200`), Chinese
//! numerals (`十二`, `两千五`, `一万二`), mixed forms (`1万2`, `1.2万`, `3k`) and English
//! words up to twenty.

/// A count in digits, Chinese numerals or English words: the regex alternative and its reader.
pub const COUNT: &str = r"(\d+|[零〇一二两三四五六七八九十]+|(?i:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty))";

/// An amount: a number, an optional scale (`万`, `千`, `k`) and an optional digit after the
/// scale that counts one step below it (`1万2` = 12,000, `两千五` = 2,500).
pub const AMOUNT: &str = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千]+)(?:\s*(万|千|[kK]\b)([一二两三四五六七八九]|\d)?)?";

const ENGLISH: [&str; 20] = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

/// A whole count: `3`, `三`, `十二`, `three`.
pub fn count(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    if let Ok(n) = raw.parse() {
        return Some(n);
    }
    let lower = raw.to_lowercase();
    if let Some(i) = ENGLISH.iter().position(|w| *w == lower) {
        return Some(i as i64 + 1);
    }
    chinese(raw).map(|n| n as i64)
}

fn digit(c: char) -> Option<i64> {
    match c {
        '零' | '〇' => Some(0),
        '一' => Some(1),
        '二' | '两' => Some(2),
        '三' => Some(3),
        '四' => Some(4),
        '五' => Some(5),
        '六' => Some(6),
        '七' => Some(7),
        '八' => Some(8),
        '九' => Some(9),
        _ => None,
    }
}

fn unit(c: char) -> Option<i64> {
    match c {
        '十' => Some(10),
        '百' => Some(100),
        '千' => Some(1000),
        '万' => Some(10_000),
        _ => None,
    }
}

/// A Chinese numeral: `十二` 12, `二十五` 25, `两千五` 2,500 (a digit after a unit counts one
/// step below it), `三千零五` 3,005, `一万二` 12,000.
pub fn chinese(raw: &str) -> Option<f64> {
    let (mut total, mut section) = (0i64, 0i64);
    let mut pending: Option<i64> = None;
    let mut last_unit = 1i64;
    for c in raw.chars() {
        if let Some(d) = digit(c) {
            if pending.is_some() {
                return None;
            }
            if d == 0 {
                last_unit = 1;
            } else {
                pending = Some(d);
            }
        } else if let Some(u) = unit(c) {
            if u == 10_000 {
                total += (section + pending.unwrap_or(0)) * u;
                if total == 0 {
                    total = u;
                }
                section = 0;
            } else {
                section += pending.unwrap_or(1) * u;
            }
            pending = None;
            last_unit = u;
        } else {
            return None;
        }
    }
    let tail = pending.map_or(0, |d| if last_unit >= 100 { d * last_unit / 10 } else { d });
    let value = total + section + tail;
    (value > 0 || raw.chars().any(|c| c == '零' || c == '〇')).then_some(value as f64)
}

/// An amount from the three groups of `AMOUNT`: the number, its scale, a digit after it.
pub fn amount(number: &str, scale: Option<&str>, after: Option<&str>) -> Option<f64> {
    let base = match number.replace(',', "").parse::<f64>() {
        Ok(n) => n,
        Err(_) => chinese(number)?,
    };
    let scale = match scale.map(str::trim) {
        Some("万") => 10_000.0,
        Some("千" | "k" | "K") => 1_000.0,
        _ => 1.0,
    };
    let after = after
        .and_then(|a| a.chars().next())
        .and_then(|c| c.to_digit(10).map(i64::from).or_else(|| digit(c)))
        .filter(|_| scale > 1.0)
        .map_or(0.0, |d| d as f64 * scale / 10.0);
    Some(base * scale + after)
}

static AMOUNTS: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(AMOUNT).unwrap_or_else(|e| panic!("{e}")));
static WORDS: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"[A-Za-z]+").unwrap_or_else(|e| panic!("{e}")));

/// Every number a text states, in any of the forms above (`3`, `1,200`, `1.2万`, `两千五`,
/// `three`): what a value read from the text must be among.
pub fn numbers_in(text: &str) -> Vec<f64> {
    let mut out: Vec<f64> = AMOUNTS
        .captures_iter(text)
        .filter_map(|c| {
            amount(
                c.get(1)?.as_str(),
                c.get(2).map(|m| m.as_str()),
                c.get(3).map(|m| m.as_str()),
            )
        })
        .collect();
    out.extend(
        WORDS
            .find_iter(text)
            .filter_map(|w| count(w.as_str()))
            .map(|n| n as f64),
    );
    if text.to_lowercase().contains("dozen") {
        out.push(12.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_every_form() {
        assert_eq!(count("three"), Some(3));
        assert_eq!(count("Twelve"), Some(12));
        assert_eq!(count("二十"), Some(20));
        assert_eq!(count("两"), Some(2));
        assert_eq!(chinese("两千五"), Some(2500.0));
        assert_eq!(chinese("八千"), Some(8000.0));
        assert_eq!(chinese("三千零五"), Some(3005.0));
        assert_eq!(chinese("一万二"), Some(12_000.0));
        assert_eq!(chinese("十五"), Some(15.0));
        assert_eq!(chinese("一百五"), Some(150.0));
        assert_eq!(amount("1", Some("万"), Some("2")), Some(12_000.0));
        assert_eq!(amount("1.2", Some("万"), None), Some(12_000.0));
        assert_eq!(amount("1,200", None, None), Some(1200.0));
        assert_eq!(amount("5", Some("k"), None), Some(5000.0));
        assert_eq!(amount("两", Some("千"), Some("五")), Some(2500.0));
        assert_eq!(chinese("abc"), None);
        let stated = numbers_in("杭州3天2晚，两个人，预算1.2万，three of us, $1,500");
        for n in [3.0, 2.0, 12_000.0, 1500.0] {
            assert!(stated.contains(&n), "{n} in {stated:?}");
        }
        assert!(!stated.contains(&2026.0));
    }
}
