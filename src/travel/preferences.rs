//! What a traveller likes: the pace of the days and the interests the places are picked
//! for, and the words (English tags or Chinese) a client or a query may name them by.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Pace {
    Relaxed,
    Moderate,
    Packed,
}

impl Pace {
    pub fn attractions_per_day(self) -> usize {
        match self {
            Pace::Relaxed => 2,
            Pace::Moderate => 3,
            Pace::Packed => 4,
        }
    }

    /// A pace as a client names it.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_lowercase().as_str() {
            "relaxed" | "slow" | "轻松" | "悠闲" => Some(Pace::Relaxed),
            "moderate" | "normal" | "适中" => Some(Pace::Moderate),
            "packed" | "fast" | "紧凑" => Some(Pace::Packed),
            _ => None,
        }
    }
}

pub const INTERESTS: [&str; 9] = [
    "food",
    "nature",
    "history",
    "culture",
    "art",
    "shopping",
    "nightlife",
    "family",
    "photography",
];

pub const INTEREST_WORDS: &[(&str, &[&str])] = &[
    ("food", &["美食", "吃", "小吃", "food", "foodie", "eat", "cuisine"]),
    (
        "nature",
        &[
            "自然", "风光", "风景", "山水", "公园", "徒步", "nature", "hiking", "outdoor", "scenery", "park",
        ],
    ),
    (
        "history",
        &["历史", "古迹", "古城", "history", "historic", "heritage", "ancient"],
    ),
    (
        "culture",
        &["文化", "寺", "庙", "culture", "cultural", "temple", "tradition"],
    ),
    ("art", &["艺术", "博物馆", "展览", "art", "museum", "gallery"]),
    ("shopping", &["购物", "逛街", "shopping", "shop", "market"]),
    ("nightlife", &["夜景", "夜生活", "酒吧", "nightlife", "night", "bar"]),
    ("family", &["亲子", "孩子", "小孩", "family", "kids", "children"]),
    (
        "photography",
        &["拍照", "摄影", "打卡", "photo", "photography", "instagram"],
    ),
];

/// Maps a client-supplied interest (English tag or a Chinese word) to our tag.
pub fn interest_tag(raw: &str) -> Option<&'static str> {
    let word = raw.trim().to_lowercase();
    INTEREST_WORDS
        .iter()
        .find(|(tag, words)| *tag == word || words.contains(&word.as_str()))
        .map(|(tag, _)| *tag)
}

/// Interest tags whose words a text uses: English as whole words (plurals too), Chinese
/// anywhere (`历史文化` names both history and culture).
pub fn interests_named_in(text: &str) -> Vec<&'static str> {
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
            out.push(*tag);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interest_tags() {
        assert_eq!(interest_tag("美食"), Some("food"));
        assert_eq!(interest_tag("Nature"), Some("nature"));
        assert_eq!(interest_tag("skydiving"), None);
    }
}
