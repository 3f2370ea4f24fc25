//! Results on their way to the recipients: what each compute station holds after a run
//! ([`StationShares`]: public facts and its shares, never a result value), and the
//! recipient's side ([`open`]): the three stations' parts checked against each other,
//! reconstructed, and the analyses' plaintext tails run to the tables a person reads.
//!
//! A compute station cannot open what it holds: every value is split between the three
//! stations, and only a recipient who collects the parts of all three reconstructs it. Each
//! share is held by two stations, and each station committed to its parts at the end of the
//! run in front of the other two (see [`tessera_mpc::output`]), so a station that alters its
//! stored parts is named by [`open`] and nothing is shown.

use serde::{Deserialize, Serialize};
use tessera_mpc::{Delivery, OutputError};
use tessera_stats::AnalysisSpec;

use crate::error::{Result, StudyError};
use crate::names::Stations;
use crate::run::{AnalysisResult, LinkageInfo, StudyInfo, StudyOutput};

/// What one compute station holds for the recipients of a study (all of them, or one:
/// [`StationShares::for_recipient`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StationShares {
    /// The compute station.
    pub station: String,
    /// Its compute slot (0, 1 or 2).
    pub slot: usize,
    /// The study's public description.
    pub study: StudyInfo,
    /// Public facts of the linkage (known to every compute station).
    pub linkage: LinkageInfo,
    /// One entry per analysis, in study order.
    pub analyses: Vec<HeldAnalysis>,
}

/// One analysis as a compute station holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeldAnalysis {
    /// Name.
    pub name: String,
    /// Recipients.
    pub recipients: Vec<String>,
    /// What was computed.
    pub spec: AnalysisSpec,
    /// The facts every compute station knows and the recipient's tail needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<serde_json::Value>,
    /// This station's parts (hex of [`Delivery::to_bytes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shares: Option<String>,
    /// Why there is no result (a refusal by a disclosure rule, an invalid argument, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl StationShares {
    /// The part for `recipient`: only the analyses naming it.
    pub fn for_recipient(&self, recipient: &str) -> StationShares {
        let mut mine = self.clone();
        mine.analyses
            .retain(|a| a.recipients.iter().any(|r| r == recipient));
        mine
    }

    /// The document stored and served (JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("shares serialise")
    }

    /// Reads a document of [`StationShares::to_json`] that `from` served.
    pub fn from_json(text: &str, from: &str) -> Result<StationShares> {
        serde_json::from_str(text).map_err(|e| {
            StudyError::Delivery(format!(
                "station {from} sent something else than shares: {e}"
            ))
        })
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// At the recipient: the results from the three compute stations' parts (any order). The
/// stations must agree on everything public; every part is checked against the others'
/// commitments and its replica; a station whose parts do not match is named and nothing is
/// shown. Owner reports and costs stay empty (they are no recipient's).
pub fn open(parts: Vec<StationShares>) -> Result<StudyOutput> {
    let mut by_slot: [Option<StationShares>; 3] = Default::default();
    for p in parts {
        // The study each part describes says which station holds the slot it claims.
        let holder = p
            .study
            .parties
            .iter()
            .find(|q| q.compute == Some(p.slot))
            .map(|q| q.name.as_str());
        if holder != Some(p.station.as_str()) {
            return Err(StudyError::Delivery(format!(
                "station {} sent parts as another compute station than it is in the study",
                p.station
            )));
        }
        let Some(slot) = by_slot.get_mut(p.slot) else {
            return Err(StudyError::Delivery(format!(
                "station {} sent parts as no compute station of the study",
                p.station
            )));
        };
        if let Some(first) = slot {
            return Err(StudyError::Delivery(format!(
                "station {} sent its parts twice",
                first.station
            )));
        }
        *slot = Some(p);
    }
    let [Some(p0), Some(p1), Some(p2)] = by_slot else {
        // Every part's study names the compute stations: say whose parts are missing.
        let study = by_slot.iter().flatten().next().map(|p| &p.study);
        let missing: Vec<&str> = (0..3)
            .filter(|&slot| by_slot[slot].is_none())
            .filter_map(|slot| {
                let parties = &study?.parties;
                let p = parties.iter().find(|q| q.compute == Some(slot))?;
                Some(p.name.as_str())
            })
            .collect();
        let which = match missing.as_slice() {
            [] => String::new(),
            [one] => format!(": {one}'s are missing"),
            many => format!(": {}'s are missing", many.join(" and ")),
        };
        return Err(StudyError::Delivery(format!(
            "the results need the parts of all three compute stations{which}"
        )));
    };
    let parts = [p0, p1, p2];
    let names = Stations::new([&parts[0].station, &parts[1].station, &parts[2].station]);
    // Everything public must agree: the study, the linkage facts, and per analysis all but
    // the station's own parts.
    let public = |p: &StationShares| {
        let mut q = p.clone();
        q.station.clear();
        q.slot = 0;
        for a in &mut q.analyses {
            a.shares = None;
        }
        q
    };
    let base = public(&parts[0]);
    for p in &parts[1..] {
        if public(p) != base {
            return Err(StudyError::Delivery(format!(
                "stations {} and {} disagree on the study's public facts",
                names.name(0),
                p.station
            )));
        }
    }
    let mut analyses = Vec::with_capacity(base.analyses.len());
    for (k, a) in base.analyses.iter().enumerate() {
        let (result, text, error) = match (&a.public, &a.error) {
            (_, Some(e)) => (None, String::new(), Some(e.clone())),
            (Some(public), None) => {
                let mut deliveries = Vec::with_capacity(3);
                for p in &parts {
                    let d = p.analyses[k]
                        .shares
                        .as_deref()
                        .and_then(unhex)
                        .and_then(|b| Delivery::from_bytes(&b).ok())
                        .ok_or_else(|| {
                            StudyError::Delivery(format!(
                                "station {} sent no readable shares of analysis \"{}\"",
                                p.station, a.name
                            ))
                        })?;
                    if d.shares.party() != p.slot {
                        return Err(StudyError::Delivery(format!(
                            "station {} sent shares of analysis \"{}\" that are not its own \
                             (they are {}'s); nothing is shown",
                            p.station,
                            a.name,
                            names.name(d.shares.party())
                        )));
                    }
                    deliveries.push(d);
                }
                let values =
                    tessera_mpc::reconstruct([&deliveries[0], &deliveries[1], &deliveries[2]])
                        .map_err(|e| match e {
                            OutputError::Altered { parties } => {
                                StudyError::Delivery(format!(
                                "the shares of analysis \"{}\" held by station {} do not match \
                                 what the other stations recorded at the end of the run: \
                                 {} altered them; nothing is shown",
                                a.name,
                                parties
                                    .iter()
                                    .map(|&s| names.name(s))
                                    .collect::<Vec<_>>()
                                    .join(" and "),
                                if parties.len() == 1 { "it" } else { "one of them" }
                            ))
                            }
                            OutputError::Mismatch(m) => StudyError::Delivery(format!(
                                "the shares of analysis \"{}\" do not fit together: {}",
                                a.name,
                                names.text(&m)
                            )),
                        })?;
                let out = tessera_stats::analysis::open(&a.spec, public, &values)
                    .map_err(|e| StudyError::Delivery(format!("analysis \"{}\": {e}", a.name)))?;
                (Some(out.json), out.text, None)
            }
            (None, None) => (
                None,
                String::new(),
                Some("no result was held for this analysis".to_string()),
            ),
        };
        analyses.push(AnalysisResult {
            name: a.name.clone(),
            kind: a.spec.kind().to_string(),
            recipients: a.recipients.clone(),
            result,
            text,
            error,
        });
    }
    Ok(StudyOutput {
        study: base.study,
        linkage: base.linkage,
        analyses,
        data: Vec::new(),
        cost: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        let b = [0u8, 1, 0xab, 0xff];
        assert_eq!(unhex(&hex(&b)).unwrap(), b);
        assert!(unhex("abc").is_none());
        assert!(unhex("zz").is_none());
    }
}
