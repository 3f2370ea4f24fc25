//! `tessera study check STUDY --at ADDR --pin FP [--identity DIR]`: everything the stations
//! would refuse in a study, before it is submitted and before any steward sees it.
//!
//! How the study is judged is [`tessera_client::check`]'s; each reason is printed as
//! `STATION: RULE: what`.
//!
//! Exit codes: 0 nothing would be refused; 3 some station would refuse it (the reasons are
//! printed); 4 nothing would be refused where it could be checked, but some party's
//! catalogue could not be had (unreachable, not trusted by the station at `ADDR`) or its
//! source is not published; 2 the study is invalid (or cannot be read); 1 the station at
//! `ADDR` could not be reached or answered unexpectedly.

use std::path::Path;
use std::process::ExitCode;

use tessera_client::check::Checked;
use tessera_client::StationAddr;

/// Runs `tessera study check`.
pub fn check(path: &Path, at: &str, station: &StationAddr) -> Result<ExitCode, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let (study, f) = match tessera_client::check::check(&name, &text, at, station)? {
        Checked::Judged(study, f) => (study, f),
        Checked::Invalid(e) => {
            eprintln!("tessera: {e}");
            return Ok(ExitCode::from(2));
        }
    };
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
