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

use serde::{Serialize, Serializer};
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
    }
}
