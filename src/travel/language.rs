//! The language a plan speaks: the request's, Chinese or English. A request says it with
//! `language`, or else by the script its free text (or destination) is written in.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Zh,
    En,
}

impl Language {
    /// A language as a client names it: `zh`, `zh-CN`, `中文`, `en`, `en-US`, `English`.
    pub fn parse(raw: &str) -> Option<Self> {
        let lower = raw.trim().to_lowercase();
        if lower == "zh" || lower.starts_with("zh-") || lower == "chinese" || lower == "中文" {
            Some(Language::Zh)
        } else if lower == "en" || lower.starts_with("en-") || lower == "english" || lower == "英文" {
            Some(Language::En)
        } else {
            None
        }
    }

    /// Chinese when the text has a Han character, English when it has Latin letters and none.
    pub fn of(text: &str) -> Option<Self> {
        if text.chars().any(is_han) {
            Some(Language::Zh)
        } else if text.chars().any(|c| c.is_ascii_alphabetic()) {
            Some(Language::En)
        } else {
            None
        }
    }

    pub fn is_english(self) -> bool {
        self == Language::En
    }
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_says_the_language() {
        assert_eq!(Language::of("杭州3天"), Some(Language::Zh));
        assert_eq!(Language::of("3 days in Tokyo"), Some(Language::En));
        assert_eq!(Language::of("2026"), None);
        assert_eq!(Language::parse("en-US"), Some(Language::En));
        assert_eq!(Language::parse("中文"), Some(Language::Zh));
        assert_eq!(Language::parse("fr"), None);
    }
}
