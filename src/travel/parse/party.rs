//! How many travel: `两个人`, `一家五口`, `3大2小`, `我和老婆带爸妈`, "for four", "family of 5",
//! "a group of six", "two adults and two kids", "a couple", "me and my partner".

use std::sync::LazyLock;

use regex::Regex;

use crate::travel::parse::{
    numbers::{COUNT, count},
    text::Remaining,
};

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("party pattern {pattern}: {e}"))
}

/// Adults and children: `3大2小`, `2个大人1个小孩`, "two adults and two kids".
static ADULTS_AND_KIDS: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i){COUNT}\s*(?:个)?\s*(?:大人|成人|大|adults?|grown-?ups?)\s*(?:,|，|、|和|加|带|\+|and|with|plus)?\s*{COUNT}\s*(?:个)?\s*(?:小孩|孩子|儿童|小|kids?|children|child|teens?|toddlers?|babies|baby)"
    ))
});
/// A family or group of a number: `一家五口`, "family of 4", "group of six", "party of 3".
static FAMILY_OF: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)一家{COUNT}口|\b(?:family|group|party|team)\s+of\s+{COUNT}\b"
    ))
});
/// A number of people: `3个人`, `两人`, "4 people", "for two", "six of us".
static PEOPLE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i){COUNT}\s*(?:个人|人|位|口人|个小伙伴|个朋友)|\b{COUNT}\s+(?:people|persons|travell?ers|adults|of us|pax|guests|friends)\b|\bfor\s+{COUNT}\b(?:\s*(?:people|persons|travell?ers|adults|pax|guests))?"
    ))
});
/// "for 3 days": a duration, not a party.
static FOR_DURATION: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?i)\bfor\s+{COUNT}\s*(?:-\s*)?(?:days?|nights?|weeks?)\b")));
static COUPLE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)情侣|夫妻|我们俩|俩人|两口子|我和(?:老婆|老公|媳妇|女朋友|男朋友|对象|爱人)|\b(?:a\s+)?couple\b|\b(?:me|i)\s+and\s+my\s+(?:wife|husband|partner|girlfriend|boyfriend|fiancée?)\b|\bmy\s+(?:wife|husband|partner|girlfriend|boyfriend)\s+and\s+(?:me|i)\b|\bwith\s+my\s+(?:wife|husband|partner|girlfriend|boyfriend)\b",
    )
});
/// "a couple of days": no couple travels.
static COUPLE_OF: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\ba\s+couple\s+of\b"));
static SOLO: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)一个人|独自|自己去|\bsolo\b|\balone\b|\bjust me\b|\bby myself\b"));
/// Who comes along with the core party: `带爸妈` +2, `带孩子` +1, "with my parents" +2,
/// "and our 2 kids" +2.
static ALONG: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)(?:带|和|陪)(?:上)?(?:爸妈|父母|爸爸妈妈)|\bwith\s+(?:my|our)\s+parents\b|(?:带|和)(?:上)?(?:{COUNT}个)?(?:孩子|小孩|娃|宝宝)|\b(?:with|and)\s+(?:my|our)\s+(?:{COUNT}\s+)?(?:kids?|children|child|son|daughter|baby)\b"
    ))
});

pub fn read(text: &mut Remaining) -> Option<i64> {
    // The phrase is read and kept apart, but not blanked: "for 3 days" is the duration's.
    if let Some(n) = text.take(&ADULTS_AND_KIDS, |c| {
        Some(count(c.get(1)?.as_str())? + count(c.get(2)?.as_str())?)
    }) {
        return Some(n);
    }
    if let Some(n) = text.take(&FAMILY_OF, |c| count(c.get(1).or_else(|| c.get(2))?.as_str())) {
        return Some(n);
    }
    let durations: Vec<std::ops::Range<usize>> = FOR_DURATION.find_iter(text.as_str()).map(|m| m.range()).collect();
    let people = text.take(&PEOPLE, |c| {
        let whole = c.get(0)?.range();
        if durations.iter().any(|d| d.start <= whole.start && whole.start < d.end) {
            return None;
        }
        let n = (1..=3).find_map(|i| c.get(i))?;
        count(n.as_str())
    });
    if let Some(n) = people {
        return Some(n);
    }
    while text.take_match(&COUPLE_OF) {}
    let core = if text.take_match(&COUPLE) {
        Some(2)
    } else if text.take_match(&SOLO) {
        Some(1)
    } else {
        None
    };
    let along = text.take(&ALONG, |c| {
        let said = c.get(0)?.as_str().to_lowercase();
        let counted = (1..=2).find_map(|i| c.get(i)).and_then(|m| count(m.as_str()));
        let parents = ["爸妈", "父母", "parents"].iter().any(|w| said.contains(w));
        let plural = ["kids", "children"].iter().any(|w| said.contains(w));
        Some(match (parents, counted) {
            (true, _) => 2,
            (false, Some(n)) => n,
            (false, None) if plural => 2,
            (false, None) => 1,
        })
    });
    match (core, along) {
        (Some(core), Some(along)) => Some(core + along),
        (None, Some(along)) => Some(1 + along),
        (core, None) => core,
    }
}
