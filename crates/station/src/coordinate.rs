//! Running approved studies across the stations: the service's background loop.
//!
//! A study reaches one station (from a researcher) and is passed on by the stations
//! themselves; each station decides by its own policy and steward, and a study runs only
//! when every station in it is ready. The loop ([`coordinate`]) visits each study this
//! station has not finished with — often while it is about to run or running
//! ([`ServiceOptions::poll_active`]), less often while someone must still decide
//! ([`ServiceOptions::poll`]), and at once after news at this station:
//!
//! 1. **Pass it on.** Every other station of the study is asked for its state
//!    (`GET /peer/studies/{id}` over mutually authenticated TLS, this station's certificate
//!    against the fingerprint its configuration trusts). One that does not know the study
//!    gets it (`POST /peer/studies`): so a study submitted to any station reaches all, and a
//!    station that was down when it was submitted gets it when it comes back.
//! 2. **Check the data.** Once approved here, this station reads its dataset from the
//!    configured source and checks it against the study's declaration (every column present,
//!    every value of its type and range). A failure refuses the study here: the steward sees
//!    the file, line and column; the other stations and the researcher see only
//!    "input invalid" ([`crate::runs::INPUT_INVALID`]).
//! 3. **Agree.** Any station that refused (or stopped) stops the study here too, with its
//!    reason. When every other station reports `ready` (or already `running`), the compute
//!    stations start the computation ([`tessera_study::distributed::run_party_with`]): they
//!    connect to each other on the study's addresses, pinned to the study's fingerprints.
//! 4. **Record.** `run_started`, then `run_finished` with the results stored per recipient,
//!    or `run_aborted` with the reason (a station that died or left, a timeout, a protocol
//!    fault): nothing is stored for the recipients then.
//!
//! The stations' states are learnt by asking (never pushed), so a lost message only delays:
//! the next visit asks again. Network calls are made without holding the approvals' lock.
//!
//! LEAKAGE: stations tell each other only a study's state word and, for a refusal, the
//! reasons (policy rules, a steward's words, or "input invalid"); never data. The opened
//! results are computed by the three compute stations, which therefore see them; they hold
//! them for the recipients every data station approved and serve them to those only.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tessera_study::format::Study;
use tessera_study::{StudyError, StudyOutput};

use crate::api::{Api, Progress};
use crate::client::Client;
use crate::runs::{PublicState, ResultDocs, RunState, INPUT_INVALID};
use crate::StudyState;

/// How the service paces its work.
#[derive(Clone, Debug)]
pub struct ServiceOptions {
    /// Time between two visits of a study that waits for a person here or elsewhere.
    pub poll: Duration,
    /// Time between two visits of a study about to run (approved here, waiting for the
    /// other stations to be ready) or running.
    pub poll_active: Duration,
    /// Deadline of one request to another station.
    pub peer_timeout: Duration,
    /// Receive timeout of the computation (also how long it waits for the others to
    /// connect).
    pub run_timeout: Duration,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            poll: Duration::from_secs(1),
            poll_active: Duration::from_millis(100),
            peer_timeout: Duration::from_secs(10),
            run_timeout: Duration::from_secs(60),
        }
    }
}

/// What this station last heard from another station about a study.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StationView {
    /// The other station.
    pub station: String,
    /// Its state word (`pending`, `approved`, `ready`, `running`, `finished`, `refused`,
    /// `stopped`, `aborted`), `received` right after this station passed the study on, or
    /// `unreachable`.
    pub state: String,
    /// Its reason, or why it could not be reached.
    pub reason: Option<String>,
}

thread_local! {
    /// The service and the study whose computation runs on this thread (for [`progress`]).
    static RUNNING: std::cell::RefCell<Option<(Arc<Api>, String)>> =
        const { std::cell::RefCell::new(None) };
}

/// The computation's progress callback: records the phase of the study running on this
/// thread, for `GET /studies/{id}` (the researcher's `status` and `results --wait`).
fn progress(step: usize, steps: usize, phase: &str) {
    RUNNING.with(|r| {
        if let Some((api, id)) = &*r.borrow() {
            api.set_progress(
                id,
                Progress {
                    step,
                    steps,
                    phase: phase.to_string(),
                },
            );
        }
    });
}

/// Visits the studies forever (the service's background thread): each at its pace
/// ([`ServiceOptions`]), and all at once when a handler reports news (a study received,
/// a decision taken).
pub fn coordinate(api: Arc<Api>) {
    if let Err(e) = api
        .approvals()
        .abort_interrupted(&api.config.name)
        .map(|ids| ids.len())
    {
        eprintln!("tessera station: cannot mark interrupted runs: {e}");
    }
    let running: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let mut visited = BTreeMap::new();
    let mut news = true;
    loop {
        step(&api, &running, &mut visited, news);
        news = api.wait_for_news(api.options.poll_active);
    }
}

/// One visit of every study this station is not done with and whose time has come (all
/// with `news`); `visited` holds when each was last visited (see the module docs).
fn step(
    api: &Arc<Api>,
    running: &Arc<Mutex<BTreeSet<String>>>,
    visited: &mut BTreeMap<String, Instant>,
    news: bool,
) {
    let records = match api.approvals().all() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tessera station: cannot read the studies: {e}");
            return;
        }
    };
    for rec in records {
        if rec.state == StudyState::Refused {
            continue;
        }
        let run = match api.approvals().run(&rec.id) {
            Ok(r) => r.map(|r| r.state),
            Err(e) => {
                eprintln!("tessera station: study {}: {e}", rec.id);
                continue;
            }
        };
        let active = rec.state == StudyState::Approved
            && matches!(run, None | Some(RunState::Ready) | Some(RunState::Running));
        let pace = if active {
            api.options.poll_active
        } else {
            api.options.poll
        };
        let due = news || visited.get(&rec.id).is_none_or(|t| t.elapsed() >= pace);
        if !due {
            continue;
        }
        visited.insert(rec.id.clone(), Instant::now());
        // Past the start, the other stations are still asked (for the status shown to the
        // researcher) until each has reached an end or cannot be reached.
        if run.is_some_and(|r| r != RunState::Ready) {
            let settled = api.views(&rec.id).iter().all(|v| {
                matches!(
                    v.state.as_str(),
                    "finished" | "aborted" | "stopped" | "refused" | "unreachable"
                )
            });
            if settled && run.is_some_and(RunState::is_final) {
                continue;
            }
            if let Ok(study) = tessera_study::validate::parse_at_station(
                crate::api::SUBMITTED_NAME,
                &rec.text,
                &api.config.name,
            ) {
                api.set_views(&rec.id, ask_stations(api, &study, &rec.text));
            }
            continue;
        }
        let study = match tessera_study::validate::parse_at_station(
            crate::api::SUBMITTED_NAME,
            &rec.text,
            &api.config.name,
        ) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("tessera station: study {}: {e}", rec.id);
                continue;
            }
        };
        let views = ask_stations(api, &study, &rec.text);
        api.set_views(&rec.id, views.clone());
        if rec.state != StudyState::Approved {
            continue;
        }
        if run.is_none() {
            check_data(api, &study);
            continue;
        }
        if let Some(why) = stopped_by(&views) {
            if let Err(e) = api.approvals().stop(&rec.id, &api.config.name, &why) {
                eprintln!("tessera station: study {}: {e}", rec.id);
            }
            continue;
        }
        let everyone_ready = views
            .iter()
            .all(|v| matches!(v.state.as_str(), "ready" | "running" | "finished"));
        if everyone_ready {
            start(api, running, study);
        }
    }
}

/// Asks every other station of `study` for its state, passing the study on to those that
/// do not know it.
fn ask_stations(api: &Api, study: &Study, text: &str) -> Vec<StationView> {
    let me = api.config.name.as_str();
    study
        .parties
        .iter()
        .filter(|p| p.name != me)
        .map(|p| StationView {
            station: p.name.clone(),
            ..ask(api, &p.name, &study.id, text)
        })
        .collect()
}

fn view(state: &str, reason: Option<String>) -> StationView {
    StationView {
        station: String::new(),
        state: state.to_string(),
        reason,
    }
}

/// One station's state of study `id` (see [`ask_stations`]).
fn ask(api: &Api, station: &str, id: &str, text: &str) -> StationView {
    let Some(t) = api.config.trusted.iter().find(|t| t.name == station) else {
        // The policy refuses studies naming untrusted stations; this is a safeguard.
        return view(
            "refused",
            Some(format!(
                "{station} is not a station {} trusts",
                api.config.name
            )),
        );
    };
    let client = match Client::new(
        &t.address,
        t.fingerprint,
        Some(&api.identity),
        api.options.peer_timeout,
    ) {
        Ok(c) => c,
        Err(e) => return view("unreachable", Some(e.to_string())),
    };
    let path = format!("/peer/studies/{id}");
    let answer = match client.request("GET", &path, &[], &[]) {
        Ok(a) => a,
        Err(e) => return view("unreachable", Some(e.to_string())),
    };
    match answer.status {
        200 => match serde_json::from_slice::<PublicState>(&answer.body) {
            Ok(s) => view(&s.state, s.reason),
            Err(e) => view(
                "unreachable",
                Some(format!(
                    "{station} answered something else than a state: {e}"
                )),
            ),
        },
        404 => {
            let sent = client.request(
                "POST",
                "/peer/studies",
                &[("Content-Type", "text/plain; charset=utf-8")],
                text.as_bytes(),
            );
            match sent {
                Ok(a) if a.status == 201 || a.status == 409 => view("received", None),
                Ok(a) if a.status == 403 => {
                    let body = a.json();
                    let reasons = body["reasons"]
                        .as_array()
                        .map(|r| {
                            r.iter()
                                .filter_map(|x| x.as_str())
                                .collect::<Vec<_>>()
                                .join("; ")
                        })
                        .filter(|r| !r.is_empty())
                        .or_else(|| body["error"].as_str().map(str::to_string))
                        .unwrap_or_else(|| a.text());
                    view("refused", Some(reasons))
                }
                Ok(a) => view(
                    "refused",
                    Some(format!(
                        "it did not accept the study ({}): {}",
                        a.status,
                        a.json()["error"].as_str().unwrap_or("no reason given")
                    )),
                ),
                Err(e) => view("unreachable", Some(e.to_string())),
            }
        }
        403 => view(
            "refused",
            Some(
                answer.json()["error"]
                    .as_str()
                    .unwrap_or("it does not accept this station")
                    .to_string(),
            ),
        ),
        s => view(
            "unreachable",
            Some(format!(
                "{station} answered {s}: {}",
                answer.json()["error"].as_str().unwrap_or("")
            )),
        ),
    }
}

/// Why the study must stop here, if another station refused, stopped or aborted it.
fn stopped_by(views: &[StationView]) -> Option<String> {
    views.iter().find_map(|v| {
        let verb = match v.state.as_str() {
            "refused" => "refused",
            "stopped" | "aborted" => "stopped",
            _ => return None,
        };
        Some(format!(
            "station {} {verb}: {}",
            v.station,
            v.reason.as_deref().unwrap_or("no reason given")
        ))
    })
}

/// Reads and checks this station's dataset of `study` (nothing for a station without
/// data): ready, or refused with the details for the steward.
fn check_data(api: &Api, study: &Study) {
    let me = api.config.name.as_str();
    let checked = match study.data.iter().find(|d| d.party == me) {
        None => Ok(()),
        Some(spec) => api
            .config
            .source_for(spec)
            .map_err(|e| e.to_string())
            .and_then(|src| {
                tessera_study::data::load_from(spec, &src)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }),
    };
    let mut a = api.approvals();
    let done = match checked {
        Ok(()) => a.mark_ready(&study.id).map(|_| ()),
        Err(why) => a.refuse_input(&study.id, me, &why).map(|_| ()),
    };
    if let Err(e) = done {
        eprintln!("tessera station: study {}: {e}", study.id);
    }
}

/// Starts the computation of `study` on its own thread (once).
fn start(api: &Arc<Api>, running: &Arc<Mutex<BTreeSet<String>>>, study: Study) {
    let me = api.config.name.clone();
    if !running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(study.id.clone())
    {
        return;
    }
    let details = json!({
        "compute": study.compute_parties(),
        "data": study.data.iter().map(|d| d.party.as_str()).collect::<Vec<_>>(),
        "analyses": study.analyses.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
    });
    if let Err(e) = api.approvals().start(&study.id, &me, details) {
        eprintln!("tessera station: study {}: {e}", study.id);
        return;
    }
    let api = Arc::clone(api);
    let running = Arc::clone(running);
    std::thread::spawn(move || {
        RUNNING.with(|r| *r.borrow_mut() = Some((Arc::clone(&api), study.id.clone())));
        let opts = tessera_study::RunOptions {
            transport: tessera_study::Transport::Tcp,
            timeout: api.options.run_timeout,
            progress: Some(progress),
        };
        let config = &api.config;
        let load = |spec: &tessera_study::format::DataSpec| {
            let src = config.source_for(spec).map_err(StudyError::Data)?;
            tessera_study::data::load_from(spec, &src)
        };
        // A panic in the computation (a bug) ends the run as an abort, like any error: the
        // other stations then fail on the closed connections, and nothing is kept.
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tessera_study::distributed::run_party_with(&study, &me, &api.identity, &opts, &load)
        }))
        .unwrap_or_else(|_| {
            Err(StudyError::Run(
                "internal error: the computation stopped unexpectedly".to_string(),
            ))
        });
        let done = match out {
            Ok(out) => {
                let docs = documents(&study, &out);
                let details = json!({
                    "linked_rows": out.linkage.intersection,
                    "analyses": out.analyses.iter().map(|a| json!({
                        "name": a.name,
                        "recipients": a.recipients,
                        "opened": a.error.is_none(),
                        "error": a.error,
                    })).collect::<Vec<_>>(),
                    "opened_to": study.compute_parties(),
                    "held_for": study.recipients.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
                });
                api.approvals().finish(&study.id, &me, details, &docs)
            }
            Err(e) => {
                let public = match &e {
                    StudyError::Data(_) => INPUT_INVALID.to_string(),
                    other => other.to_string(),
                };
                api.approvals()
                    .abort(&study.id, &me, &e.to_string(), &public)
            }
        };
        if let Err(e) = done {
            eprintln!("tessera station: study {}: {e}", study.id);
        }
        RUNNING.with(|r| *r.borrow_mut() = None);
        running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&study.id);
    });
}

/// Each recipient's documents: the analyses naming that recipient, without the stations'
/// local data reports (those are for their owners only).
fn documents(study: &Study, out: &StudyOutput) -> Vec<(String, ResultDocs)> {
    study
        .recipients
        .iter()
        .map(|r| {
            let mut mine = out.clone();
            mine.analyses.retain(|a| a.recipients.contains(&r.name));
            mine.data.clear();
            let docs = ResultDocs {
                json: tessera_study::render::json(&mine),
                text: tessera_study::render::text(&mine),
                html: tessera_study::report::html(&mine),
            };
            (r.name.clone(), docs)
        })
        .collect()
}
