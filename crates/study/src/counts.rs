//! Which counts of a run reach its recipients when the study runs across stations.
//!
//! A run's public facts ([`LinkageInfo`]) hold each data station's row count (after its
//! keys were prepared) and the linked table's size. A station's row count describes the
//! station's data, not the analyses: it tells the size of a registry, and a change in it
//! between two studies (a record made missing, a duplicate dropped) tells whether one
//! person is in it. So in a run across stations recipients get them only when the study
//! asks (`[disclosure] counts = true`) and every data station's policy allows it
//! (`allow_counts`, checked by each station before it approves; a study that runs has
//! therefore been allowed by all). Even then, and always for the linked table's size
//! (which is every analysis' number of rows), a count below the study's `min_cell` is
//! shown only as below it ([`Count::Below`]).
//!
//! The owners' data-quality counts (rows read, missing values, missing, invalid and
//! duplicate keys: [`crate::run::OwnerReport`]) never reach recipients; each stays with its
//! owner. The local runner (`tessera run`, where the researcher holds every file) shows
//! everything: nothing here applies to it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tessera_stats::survival::km::DEFAULT_MIN_CELL;

use crate::format::Study;
use crate::run::{LinkageInfo, PartyRows};

/// A count as shown: exact, or only known to be below a floor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// The count itself.
    Exact(usize),
    /// Below this floor (`min_cell`); the count is withheld.
    Below(u64),
}

impl Count {
    /// `n`, or [`Count::Below`] `floor` when `n < floor`.
    pub fn at_least(n: usize, floor: u64) -> Count {
        if (n as u64) < floor {
            Count::Below(floor)
        } else {
            Count::Exact(n)
        }
    }

    /// The exact count, if shown.
    pub fn exact(self) -> Option<usize> {
        match self {
            Count::Exact(n) => Some(n),
            Count::Below(_) => None,
        }
    }
}

impl PartialEq<usize> for Count {
    fn eq(&self, other: &usize) -> bool {
        *self == Count::Exact(*other)
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Count::Exact(n) => write!(f, "{n}"),
            Count::Below(m) => write!(f, "< {m}"),
        }
    }
}

/// JSON: a number, or the text `"<10"` for a count below 10.
impl Serialize for Count {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Count::Exact(n) => s.serialize_u64(*n as u64),
            Count::Below(m) => s.serialize_str(&format!("<{m}")),
        }
    }
}

/// Reads what [`Count`]'s `Serialize` writes (the recipient's client reads the stations'
/// documents).
impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Exact(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Exact(n) => usize::try_from(n)
                .map(Count::Exact)
                .map_err(|_| serde::de::Error::custom("a count too large")),
            Raw::Text(t) => t
                .strip_prefix('<')
                .and_then(|m| m.parse().ok())
                .map(Count::Below)
                .ok_or_else(|| {
                    serde::de::Error::custom(format!("a count: a number or \"<N\", not {t:?}"))
                }),
        }
    }
}

/// The floor under which recipients see a count only as below it: the study's `min_cell`,
/// or the larger of the analyses' defaults (that of survival, 10) when it sets none. Every
/// station's own `min_cell` floor is at most this (a policy refuses a study that writes a
/// lower `min_cell`, or leaves to a default one below its floor).
pub fn floor(study: &Study) -> u64 {
    study.disclosure.min_cell.unwrap_or(DEFAULT_MIN_CELL)
}

/// The linkage facts as the recipients of a run across stations may see them (see the
/// module docs): per-station rows only with `[disclosure] counts = true`, every count
/// under [`floor`].
pub fn for_recipients(study: &Study, linkage: &LinkageInfo) -> LinkageInfo {
    let floor = floor(study);
    let under = |c: Count| match c {
        Count::Exact(n) => Count::at_least(n, floor),
        below => below,
    };
    LinkageInfo {
        key: linkage.key.clone(),
        rows: if study.counts {
            linkage
                .rows
                .iter()
                .map(|r| PartyRows {
                    party: r.party.clone(),
                    rows: under(r.rows),
                })
                .collect()
        } else {
            Vec::new()
        },
        rows_withheld: linkage.rows_withheld || !study.counts,
        intersection: under(linkage.intersection),
        kept: linkage.kept.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example study with the replacements `edits`.
    fn example(edits: &[(&str, &str)]) -> Study {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/survival/study.toml");
        let mut text = std::fs::read_to_string(&p).unwrap();
        for (from, to) in edits {
            assert!(text.contains(from), "{from}");
            text = text.replace(from, to);
        }
        crate::validate::parse("study.toml", &text, p.parent().unwrap()).unwrap()
    }

    fn linkage(rows: [usize; 2], intersection: usize) -> LinkageInfo {
        LinkageInfo {
            key: vec!["patient_id".into()],
            rows: ["registry", "gp"]
                .iter()
                .zip(rows)
                .map(|(p, n)| PartyRows {
                    party: p.to_string(),
                    rows: Count::Exact(n),
                })
                .collect(),
            rows_withheld: false,
            intersection: Count::Exact(intersection),
            kept: None,
        }
    }

    /// Issue 12's reproduction: `1800 rows -> 1700 linked` against `1799 -> 1699` told
    /// whether one patient is in the registry. Without `[disclosure] counts` recipients see
    /// no station's rows; the linked size, every analysis' n, stays.
    #[test]
    fn per_station_rows_are_withheld_unless_asked_for() {
        let s = example(&[]);
        assert!(!s.counts);
        for (rows, n) in [([1800, 1900], 1700), ([1799, 1900], 1699)] {
            let l = for_recipients(&s, &linkage(rows, n));
            assert!(l.rows.is_empty() && l.rows_withheld);
            assert_eq!(l.intersection, n);
            let json = serde_json::to_value(&l).unwrap();
            assert_eq!(json["rows"], serde_json::json!([]));
        }
    }

    /// With counts allowed, every count below `min_cell` (the study's, else 10) is shown
    /// only as below it, the linked size too.
    #[test]
    fn allowed_counts_are_shown_above_min_cell_only() {
        let s = example(&[
            ("[disclosure]\n", "[disclosure]\ncounts = true\n"),
            ("min_cell = 10", "min_cell = 20"),
        ]);
        assert_eq!(floor(&s), 20);
        let l = for_recipients(&s, &linkage([1800, 19], 7));
        assert!(!l.rows_withheld);
        assert_eq!(l.rows[0].rows, 1800);
        assert_eq!(l.rows[1].rows, Count::Below(20));
        assert_eq!(l.intersection, Count::Below(20));
        let json = serde_json::to_value(&l).unwrap();
        assert_eq!(json["rows"][0]["rows"], 1800);
        assert_eq!(json["rows"][1]["rows"], "<20");
        assert_eq!(json["intersection"], "<20");
        assert_eq!(l.intersection.to_string(), "< 20");
        let back: LinkageInfo = serde_json::from_value(json).unwrap();
        assert_eq!(back, l);
        // Without counts, a small linked size is suppressed as well (the default floor, 10,
        // when the study sets no min_cell).
        let l = for_recipients(
            &example(&[("min_cell = 10\n", "")]),
            &linkage([1800, 1900], 9),
        );
        assert_eq!(l.intersection, Count::Below(10));
        assert_eq!(l.intersection.exact(), None);
    }
}
