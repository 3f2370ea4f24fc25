//! `tessera study check STUDY --at ADDR --pin FP [--identity DIR]`: everything the stations
//! would refuse in a study, before it is submitted and before any steward sees it.
//!
//! The study is validated here as a station validates it on receipt
//! ([`tessera_study::validate::parse_at_station`]); then the station at `ADDR` is asked for
//! its catalogue (`GET /catalogue`), which also holds the catalogues of the stations it
//! trusts, fetched by it over their mutually authenticated API (a researcher need be known
//! to that one station only, and needs no other address or pin). Each party of the study is
//! judged with its own catalogue by [`Catalogue::check`], which is the station's policy
//! evaluation itself; each reason is printed as `STATION: RULE: what`.
//!
//! Exit codes: 0 nothing would be refused; 3 some station would refuse it (the reasons are
//! printed); 4 nothing would be refused where it could be checked, but some party's
//! catalogue could not be had (unreachable, not trusted by the station at `ADDR`) or its
//! source is not published; 2 the study is invalid (or cannot be read); 1 the station at
//! `ADDR` could not be reached or answered unexpectedly.

use std::path::Path;
use std::process::ExitCode;

use tessera_station::catalogue::{Catalogue, CatalogueAnswer};

use crate::study::{client, message, StationAddr, WHO_ARE_YOU};

/// Asks the station at `at` for its catalogue and its trusted stations'.
pub fn fetch(at: &str, station: &StationAddr) -> Result<CatalogueAnswer, String> {
    let a = client(at, station)?
        .request("GET", "/catalogue", &[], &[])
        .map_err(|e| e.to_string())?;
    match a.status {
        200 => serde_json::from_slice(&a.body)
            .map_err(|e| format!("the station answered something else than a catalogue: {e}")),
        401 => Err(WHO_ARE_YOU.to_string()),
        s => Err(format!("the station answered {s}: {}", message(&a.json()))),
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
#[derive(Default)]
struct Findings {
    refused: Vec<String>,
    unchecked: Vec<String>,
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

/// Runs `tessera study check`.
pub fn check(path: &Path, at: &str, station: &StationAddr) -> Result<ExitCode, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    // As the stations validate it on receipt (no party's file is looked for here).
    let study = match tessera_study::validate::parse_at_station(&name, &text, "") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tessera: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let answer = fetch(at, station)?;
    let f = judge(&study, &answer)?;
    for r in &f.refused {
        println!("refused: {r}");
    }
    for u in &f.unchecked {
        println!("{u}");
    }
    println!("note: recipients are not published; each station's policy checks them on submission");
    if !f.refused.is_empty() {
        println!(
            "study {}: {} reason(s) the stations would refuse it",
            study.id,
            f.refused.len()
        );
        return Ok(ExitCode::from(3));
    }
    if !f.unchecked.is_empty() {
        println!(
            "study {}: nothing would be refused where it could be checked",
            study.id
        );
        return Ok(ExitCode::from(4));
    }
    println!(
        "study {}: nothing would be refused by {}",
        study.id,
        study
            .parties
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
