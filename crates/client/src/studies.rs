//! A researcher's studies at a station: submitting one (or its rerun) and asking how it
//! stands. The answers are returned as the station gave them; showing them is the caller's
//! (the CLI prints them, the Python package turns them into values and exceptions).

use serde_json::Value;

use crate::connect::{client, message, unexpected, StationAddr};

/// What a station said to a submitted study.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// Received (200/201): the answer (`id`, `state`, `decision`, `revision`).
    Accepted(Value),
    /// Refused by the station's policy (403): each reason as `rule: what`.
    Refused(Vec<String>),
    /// Invalid, unknown or in conflict with a study of that id (400, 404, 409): why.
    Rejected(String),
}

/// Sends `text` (a study file; nothing for a rerun) to `route` (`/studies`, or
/// `/studies/ID/rerun`) at the station at `to`.
pub fn submit(
    text: &[u8],
    route: &str,
    to: &str,
    station: &StationAddr,
) -> Result<Submitted, String> {
    let (status, body) = submit_answer(text, route, to, station)?;
    classify(status, body)
}

/// The station's answer to a submission as it came, HTTP status and JSON body (what
/// `tessera study submit --json` prints for programs); [`classify`] says what it means.
pub fn submit_answer(
    text: &[u8],
    route: &str,
    to: &str,
    station: &StationAddr,
) -> Result<(u16, Value), String> {
    let headers = vec![("Content-Type", "text/plain; charset=utf-8")];
    let a = client(to, station)?
        .request("POST", route, &headers, text)
        .map_err(|e| e.to_string())?;
    Ok((a.status, a.json()))
}

/// What a station's answer to a submission means; an unexpected status is an error.
pub fn classify(status: u16, body: Value) -> Result<Submitted, String> {
    match status {
        200 | 201 => Ok(Submitted::Accepted(body)),
        403 => Ok(Submitted::Refused(
            body["reasons"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| r.as_str().unwrap_or("").to_string())
                .collect(),
        )),
        400 | 404 | 409 => Ok(Submitted::Rejected(message(&body))),
        s => Err(unexpected(s, &body)),
    }
}

/// Study `id`'s state at the station at `at` (`GET /studies/ID`: its state, the run's, the
/// other stations', the progress); `None` when the station has no study of the caller's
/// with that id.
pub fn status(id: &str, at: &str, station: &StationAddr) -> Result<Option<Value>, String> {
    let a = client(at, station)?
        .request("GET", &format!("/studies/{id}"), &[], &[])
        .map_err(|e| e.to_string())?;
    match a.status {
        200 => Ok(Some(a.json())),
        404 => Ok(None),
        s => Err(unexpected(s, &a.json())),
    }
}

/// The researcher's studies at the station at `at` (`GET /studies`).
pub fn list(at: &str, station: &StationAddr) -> Result<Value, String> {
    let a = client(at, station)?
        .request("GET", "/studies", &[], &[])
        .map_err(|e| e.to_string())?;
    match a.status {
        200 => Ok(a.json()),
        s => Err(unexpected(s, &a.json())),
    }
}

/// Whether a study in `state` (a station's or its run's) may still produce results.
pub fn still_going(state: &str) -> bool {
    matches!(state, "pending" | "approved" | "ready" | "running")
}

/// `, PHASE (N %)` for a running computation's progress (`GET /studies/ID`'s `progress`),
/// or nothing.
pub fn progress_text(p: &Value) -> String {
    match (p["step"].as_u64(), p["steps"].as_u64(), p["phase"].as_str()) {
        (Some(step), Some(steps), Some(phase)) if steps > 0 => {
            format!(", {phase} ({} %)", 100 * step / steps)
        }
        _ => String::new(),
    }
}
