//! Checking a study against the catalogues of its stations before it is submitted: what
//! they would refuse, before any steward sees it.
//!
//! The study is validated here as a station validates it on receipt
//! ([`tessera_study::validate::parse_at_station`]); then the station at `ADDR` is asked for
//! its catalogue (`GET /catalogue`), which also holds the catalogues of the stations it
//! trusts, fetched by it over their mutually authenticated API (a researcher need be known
//! to that one station only, and needs no other address or pin). Each party of the study is
//! judged with its own catalogue by [`Catalogue::check`], which is the station's policy
//! evaluation itself; each reason reads `STATION: RULE: what`.

use tessera_station::catalogue::{Catalogue, CatalogueAnswer};

use crate::connect::{client, unexpected, StationAddr};

/// Asks the station at `at` for its catalogue and its trusted stations'.
pub fn catalogue(at: &str, station: &StationAddr) -> Result<CatalogueAnswer, String> {
    let a = client(at, station)?
        .request("GET", "/catalogue", &[], &[])
        .map_err(|e| e.to_string())?;
    match a.status {
        200 => serde_json::from_slice(&a.body)
            .map_err(|e| format!("the station answered something else than a catalogue: {e}")),
        s => Err(unexpected(s, &a.json())),
    }
}

/// The catalogues of `answer` by station: the answering station's and those it fetched.
/// Stations it could not fetch come with why.
fn by_station(answer: &CatalogueAnswer) -> Vec<(String, Result<&Catalogue, String>)> {
    let mut out = vec![(answer.catalogue.station.clone(), Ok(&answer.catalogue))];
    for p in &answer.peers {
        let c = match (&p.catalogue, &p.error) {
            (Some(c), _) => Ok(c),
            (None, e) => Err(e.clone().unwrap_or_else(|| "no catalogue".to_string())),
        };
        out.push((p.station.clone(), c));
    }
    out
}

/// What the check found for the whole study.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Findings {
    /// What a station would refuse, as `STATION: RULE: what`.
    pub refused: Vec<String>,
    /// What could not be checked, as `STATION: not checked: why`.
    pub unchecked: Vec<String>,
}

/// What checking a study came to.
#[derive(Debug)]
pub enum Checked {
    /// The study is invalid (or cannot be read): why.
    Invalid(String),
    /// The study, judged with its stations' catalogues.
    Judged(Box<tessera_study::Study>, Findings),
}

/// Judges `study` with every party's catalogue in `answer`.
fn judge(study: &tessera_study::Study, answer: &CatalogueAnswer) -> Result<Findings, String> {
    let all = by_station(answer);
    let mut f = Findings::default();
    for party in &study.parties {
        let name = &party.name;
        let Some((_, found)) = all.iter().find(|(s, _)| s == name) else {
            f.unchecked.push(format!(
                "{name}: not checked: the station at --at ({}) does not trust it, so it has \
                 no catalogue of it",
                answer.catalogue.station
            ));
            continue;
        };
        let catalogue = match found {
            Ok(c) => c,
            Err(why) => {
                f.unchecked
                    .push(format!("{name}: not checked: no catalogue ({why})"));
                continue;
            }
        };
        let fp = catalogue.fingerprint()?;
        if party.fingerprint.is_some_and(|given| given != fp) {
            f.refused.push(format!(
                "{name}: trusted: [parties.{name}] fingerprint is not the certificate of \
                 station {name}, which is {}",
                catalogue.fingerprint
            ));
        }
        let check = catalogue.check(study)?;
        for r in check.refused {
            f.refused.push(format!("{name}: {r}"));
        }
        for n in check.notes {
            f.unchecked.push(format!("{name}: not checked: {n}"));
        }
    }
    Ok(f)
}

/// Checks a study (`text`, named `name` in messages) against the catalogues the station at
/// `at` gives.
pub fn check(name: &str, text: &str, at: &str, station: &StationAddr) -> Result<Checked, String> {
    // As the stations validate it on receipt (no party's file is looked for here).
    let study = match tessera_study::validate::parse_at_station(name, text, "") {
        Ok(s) => s,
        Err(e) => return Ok(Checked::Invalid(e.to_string())),
    };
    let answer = catalogue(at, station)?;
    let f = judge(&study, &answer)?;
    Ok(Checked::Judged(Box::new(study), f))
}
