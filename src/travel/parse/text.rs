//! The query as the readers consume it: each reader blanks out what it read, so that the
//! next one does not read it again (`12月5日` is a date, not "5 days"; `一人2000元` is a
//! price per person, not a party of one).

use std::ops::Range;

use regex::{Captures, Regex};

pub struct Remaining {
    text: String,
}

impl Remaining {
    pub fn new(text: &str) -> Self {
        Self { text: text.to_string() }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Replaces `range` with as many spaces, keeping every other offset where it was. A range
    /// that does not fall on the text's characters blanks nothing.
    pub fn blank(&mut self, range: Range<usize>) {
        if self.text.get(range.clone()).is_none() {
            return;
        }
        let spaces = " ".repeat(range.len());
        self.text.replace_range(range, &spaces);
    }

    /// The first match of `re` read by `read`, blanked out once `read` accepts it.
    pub fn take<T>(&mut self, re: &Regex, mut read: impl FnMut(&Captures) -> Option<T>) -> Option<T> {
        let found = re.captures_iter(&self.text).find_map(|c| {
            let whole = c.get(0)?;
            read(&c).map(|value| (value, whole.range()))
        });
        let (value, range) = found?;
        self.blank(range);
        Some(value)
    }

    /// Whether `re` matches; the match is blanked out.
    pub fn take_match(&mut self, re: &Regex) -> bool {
        self.take(re, |_| Some(())).is_some()
    }
}
