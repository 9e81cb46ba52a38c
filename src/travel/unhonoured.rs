//! What a client asked for that the planner cannot act on (the prototype's dietary
//! restrictions, travel style, transport or lodging preferences, interests outside our
//! vocabulary…): kept on the stored request as sent, and named in one warning on the plan
//! so that nothing is dropped silently. The request is the one source of truth; the
//! `understand` node turns it into the warning.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::travel::{language::Language, words::Words};

/// Field name → the value as the client sent it.
pub type Unhonoured = BTreeMap<String, Value>;

/// How long one value may run in the warning; the whole value stays on the request.
const SHOWN_CHARS: usize = 60;

/// The plan's warning naming every unhonoured field and its value; `None` when there is none.
pub fn warning(unhonoured: Option<&Unhonoured>, language: Language) -> Option<String> {
    let items: Vec<(String, String)> = unhonoured?
        .iter()
        .map(|(field, value)| (field.clone(), shown(value)))
        .collect();
    (!items.is_empty()).then(|| Words(language).unhonoured(&items))
}

/// A value as a person reads it: text as it is, a list joined, cut to `SHOWN_CHARS`.
fn shown(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Array(list) => list.iter().map(shown).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    };
    if text.chars().count() > SHOWN_CHARS {
        let cut: String = text.chars().take(SHOWN_CHARS).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_every_field_in_the_plans_language() {
        let mut map = Unhonoured::new();
        map.insert("dietary_restrictions".into(), json!("素食"));
        map.insert("interests".into(), json!(["潜水", "滑雪"]));
        let zh = warning(Some(&map), Language::Zh).unwrap();
        assert!(zh.contains("dietary_restrictions（素食）"), "{zh}");
        assert!(zh.contains("interests（潜水, 滑雪）"), "{zh}");
        let en = warning(Some(&map), Language::En).unwrap();
        assert!(en.starts_with("not planned for"), "{en}");
        assert_eq!(warning(Some(&Unhonoured::new()), Language::Zh), None);
        assert_eq!(warning(None, Language::Zh), None);
    }

    #[test]
    fn long_values_are_cut_in_the_warning() {
        let long = "很".repeat(100);
        assert_eq!(shown(&json!(long)).chars().count(), SHOWN_CHARS + 1);
    }
}
