//! A station's decision on a study in words: `approved by rule "km-only"`, `refused:
//! REASON; REASON`, `waiting for a person: WHY`. The API answers keep the decision as JSON
//! (`{"approve": {"rule": …}}`, docs/station.md); every command prints it through here.

use serde_json::Value;
use tessera_station::Decision;

/// The decision as one phrase (reasons and lines of why joined with `; `).
pub(crate) fn text(d: &Decision) -> String {
    match d {
        Decision::Approve { rule } => format!("approved by rule {rule:?}"),
        Decision::Refuse { reasons } => format!("refused: {}", reasons.join("; ")),
        Decision::NeedsPerson { why } => format!("waiting for a person: {}", joined(why)),
    }
}

/// The decision of an API answer (`"decision"`) as [`text`] words it; JSON the station
/// words otherwise is shown as it came.
pub(crate) fn from_json(d: &Value) -> String {
    if let Some(rule) = d["approve"]["rule"].as_str() {
        return text(&Decision::Approve {
            rule: rule.to_string(),
        });
    }
    if let Some(reasons) = d["refuse"]["reasons"].as_array() {
        return text(&Decision::Refuse {
            reasons: reasons
                .iter()
                .map(|r| r.as_str().map_or_else(|| r.to_string(), str::to_string))
                .collect(),
        });
    }
    if let Some(why) = d["needs_person"]["why"].as_str() {
        return text(&Decision::NeedsPerson {
            why: why.to_string(),
        });
    }
    d.to_string()
}

/// The lines of `text`, trimmed, joined with `; `.
fn joined(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_decision_reads_as_words() {
        let json = |d: &Decision| from_json(&serde_json::to_value(d).unwrap());
        let a = Decision::Approve {
            rule: "known researcher".into(),
        };
        assert_eq!(json(&a), "approved by rule \"known researcher\"");
        let r = Decision::Refuse {
            reasons: vec!["min_rows: 5 < 50".into(), "analyses: cox".into()],
        };
        assert_eq!(json(&r), "refused: min_rows: 5 < 50; analyses: cox");
        let p = Decision::NeedsPerson {
            why: "no automatic rule applies\n  (km-only: cox)".into(),
        };
        assert_eq!(
            json(&p),
            "waiting for a person: no automatic rule applies; (km-only: cox)"
        );
    }
}
