//! `tessera._native`: the Python package's bridge to the Rust client ([`tessera_client`]).
//! Every function resolves the station from the profile as the CLI does, calls the client
//! (with the GIL released while it talks to the stations) and returns the answer as a JSON
//! string, which the pure-Python layer (`python/tessera/`) turns into values, DataFrames and
//! exceptions. Nothing here computes a statistic: results are reconstructed by the same code
//! as `tessera study results`.
//!
//! Errors (no profile, a station that cannot be reached or answers unexpectedly) are raised
//! as `RuntimeError` with the message the CLI shows; the Python layer names the station.

use std::path::Path;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use serde_json::{json, Value};
use tessera_client::check::Checked;
use tessera_client::studies::Submitted;
use tessera_client::{Profile, StationAddr};
use tessera_station::recipient::{Credentials, Fetched};

/// A station as the profile resolves it: its address, its name in the profile (if it has
/// one) and how to reach it.
struct Reached {
    addr: String,
    name: String,
    station: StationAddr,
}

/// Resolves `at` (a profile station's name or an address; none: the profile's default)
/// with the profile at `profile` (none: `$TESSERA_PROFILE`, else the default location).
fn reach(profile: Option<&str>, at: Option<&str>) -> Result<Reached, String> {
    let p = Profile::load(profile.map(Path::new))?;
    let (addr, station) = Profile::resolve(p.as_ref(), at, &StationAddr::default())?;
    let name = p
        .as_ref()
        .and_then(|p| p.name_of(&addr))
        .unwrap_or(&addr)
        .to_string();
    Ok(Reached {
        addr,
        name,
        station,
    })
}

/// Runs `f` without the GIL and turns its error into a `RuntimeError`.
fn call<T: Send>(py: Python<'_>, f: impl Send + FnOnce() -> Result<T, String>) -> PyResult<T> {
    py.allow_threads(f).map_err(PyRuntimeError::new_err)
}

/// `{"address", "name"}` of the station `at` resolves to.
#[pyfunction]
#[pyo3(signature = (profile=None, at=None))]
fn station(profile: Option<&str>, at: Option<&str>) -> PyResult<String> {
    let r = reach(profile, at).map_err(PyRuntimeError::new_err)?;
    Ok(json!({"address": r.addr, "name": r.name}).to_string())
}

/// The sections of a study file, in the order they are written (the validator's list).
#[pyfunction]
fn sections() -> Vec<&'static str> {
    tessera_study::validate::SECTIONS.to_vec()
}

/// A study given as JSON (from Python dicts) as the text of a study file.
#[pyfunction]
fn to_toml(doc: &str) -> PyResult<String> {
    let v: Value = serde_json::from_str(doc).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    toml::to_string(&v).map_err(|e| PyRuntimeError::new_err(format!("not a study: {e}")))
}

/// Checks a study against its stations' catalogues: `{"station", "invalid"}` or
/// `{"station", "study", "refused": [...], "unchecked": [...]}`.
#[pyfunction]
#[pyo3(signature = (name, text, profile=None, at=None))]
fn check(
    py: Python<'_>,
    name: &str,
    text: &str,
    profile: Option<&str>,
    at: Option<&str>,
) -> PyResult<String> {
    call(py, || {
        let r = reach(profile, at)?;
        Ok(
            match tessera_client::check::check(name, text, &r.addr, &r.station)? {
                Checked::Invalid(why) => json!({"station": r.name, "invalid": why}),
                Checked::Judged(study, f) => json!({
                    "station": r.name,
                    "study": study.id,
                    "refused": f.refused,
                    "unchecked": f.unchecked,
                }),
            }
            .to_string(),
        )
    })
}

/// A submission's answer: `{"station", "address", and "accepted": BODY | "refused":
/// [REASON] | "rejected": WHY}`.
fn submitted(r: &Reached, s: Submitted) -> String {
    let (key, v) = match s {
        Submitted::Accepted(body) => ("accepted", body),
        Submitted::Refused(reasons) => ("refused", json!(reasons)),
        Submitted::Rejected(why) => ("rejected", json!(why)),
    };
    let mut out = json!({"station": r.name, "address": r.addr});
    out[key] = v;
    out.to_string()
}

/// Submits a study's text to the station `to`.
#[pyfunction]
#[pyo3(signature = (text, profile=None, to=None))]
fn submit(py: Python<'_>, text: &str, profile: Option<&str>, to: Option<&str>) -> PyResult<String> {
    call(py, || {
        let r = reach(profile, to)?;
        let s = tessera_client::studies::submit(text.as_bytes(), "/studies", &r.addr, &r.station)?;
        Ok(submitted(&r, s))
    })
}

/// Runs study `id` again unchanged (its next revision) at the station `at`.
#[pyfunction]
#[pyo3(signature = (id, profile=None, at=None))]
fn rerun(py: Python<'_>, id: &str, profile: Option<&str>, at: Option<&str>) -> PyResult<String> {
    call(py, || {
        let r = reach(profile, at)?;
        let route = format!("/studies/{id}/rerun");
        let s = tessera_client::studies::submit(&[], &route, &r.addr, &r.station)?;
        Ok(submitted(&r, s))
    })
}

/// Study `id`'s state at the station `at` (`GET /studies/ID`'s answer), or `None` when it
/// has no study of yours with that id.
#[pyfunction]
#[pyo3(signature = (id, profile=None, at=None))]
fn status(
    py: Python<'_>,
    id: &str,
    profile: Option<&str>,
    at: Option<&str>,
) -> PyResult<Option<String>> {
    call(py, || {
        let r = reach(profile, at)?;
        Ok(tessera_client::studies::status(id, &r.addr, &r.station)?.map(|v| v.to_string()))
    })
}

/// Fetches and reconstructs study `id`'s results (once, without waiting): `{"results": DOC}`
/// (DOC as `tessera study results --format json` writes it), or the answer of the station
/// that had none `{"answer": {"station", "status", "body"}}`.
#[pyfunction]
#[pyo3(signature = (id, profile=None, at=None))]
fn results(py: Python<'_>, id: &str, profile: Option<&str>, at: Option<&str>) -> PyResult<String> {
    call(py, || {
        let r = reach(profile, at)?;
        let identity = r.station.load_identity()?;
        let creds = Credentials {
            identity: identity.as_ref(),
            ..Credentials::default()
        };
        let f = tessera_client::results::fetch(
            id,
            &r.addr,
            &r.station,
            &creds,
            Duration::ZERO,
            |_| {},
        )?;
        Ok(match f {
            Fetched::Results(output, _) => {
                let doc: Value = serde_json::from_str(&tessera_study::render::json(&output))
                    .map_err(|e| e.to_string())?;
                json!({"results": doc}).to_string()
            }
            Fetched::Answer(station, status, body) => {
                // A station that did not say its name is the one asked first.
                let station = if station == r.addr { r.name } else { station };
                json!({"answer": {"station": station, "status": status, "body": body}}).to_string()
            }
        })
    })
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(station, m)?)?;
    m.add_function(wrap_pyfunction!(sections, m)?)?;
    m.add_function(wrap_pyfunction!(to_toml, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(submit, m)?)?;
    m.add_function(wrap_pyfunction!(rerun, m)?)?;
    m.add_function(wrap_pyfunction!(status, m)?)?;
    m.add_function(wrap_pyfunction!(results, m)?)?;
    Ok(())
}
