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
//!    station that was down when it was submitted gets it when it comes back. Every answer
//!    carries the digest of the text the station holds under the id (SHA-256 of the exact
//!    text, [`Study::digest`]); a `409` means the id was taken and says by which text.
//! 2. **Same text everywhere.** If any station holds another text under the id, the study
//!    stops here (whether approved here or still pending) with a reason naming the stations
//!    and their digests ([`texts_differ`]); every station sees the difference itself, and a
//!    station that could not yet learn it follows the others' `stopped`. Any station that
//!    refused or stopped stops the study here too, with its reason.
//! 3. **Check the data.** Once approved here *and* every other station has reported this
//!    very digest, this station reads its dataset from the configured source and checks it
//!    against the study's declaration (every column present, every value of its type and
//!    range). A failure refuses the study here: the steward sees the file, line and column;
//!    the other stations and the researcher see only "input invalid"
//!    ([`crate::runs::INPUT_INVALID`]).
//! 4. **Agree.** When every other station reports `ready` (or already `running`), an outside
//!    data station (a data party without a compute slot) deals its prepared table into one
//!    message per compute station and sends each its own; the compute stations, once they
//!    hold every outside party's message, start the computation
//!    ([`tessera_study::distributed::run_party_with`]): they connect to each other on the
//!    computation addresses the stations told each other (each compute station, once ready,
//!    holds a port of its own `[compute]` range for the study and reports it in its peer
//!    state), pinned to the fingerprints of this station's own `[[trusted]]` list. Errors
//!    shown to the researcher and the other stations name the station and the kind of
//!    failure; the transport's details stay in the steward's log. An outside data station then
//!    follows them to the end.
//! 5. **Record.** `run_started`, then `run_finished` with this station's shares of the
//!    results stored per recipient,
//!    or `run_aborted` with the reason (a station that died or left, a timeout, a protocol
//!    fault): nothing is stored for the recipients then.
//!
//! The stations' states are learnt by asking (never pushed), so a lost message only delays:
//! the next visit asks again. Network calls are made without holding the approvals' lock.
//!
//! The computation's session is derived from the digest too
//! ([`tessera_study::distributed::session`]): even a station that skipped these checks could
//! not compute one text with a station holding another.
//!
//! LEAKAGE: stations tell each other only a study's state word, its text's digest and, for a
//! refusal, the reasons (policy rules, a steward's words, or "input invalid"); never data. An outside
//! data station's messages are secret shares: each compute station gets only its own, which
//! alone is uniformly random; its size tells the compute stations the number of rows (as any
//! sharing does). The compute stations end a run with *shares* of the results, which none of
//! them can open: each stores its own (per recipient, bound to the audit chain by a digest
//! in `run_finished`), and serves them to the recipients every data station approved; the
//! recipient's client collects all three and reconstructs ([`tessera_study::deliver`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tessera_study::deliver::StationShares;
use tessera_study::format::Study;
use tessera_study::StudyError;

use crate::api::{Api, Progress};
use crate::client::Client;
use crate::runs::{HeldShares, PublicState, RunState, INPUT_INVALID};
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
    /// Whether the service runs the coordinating loop (off only to test the API's routes
    /// alone).
    pub coordinate: bool,
    /// What one client may hold of the HTTPS listener (connections, handshakes, how long a
    /// connection may wait for data).
    pub connections: crate::tls_listener::ConnLimits,
    /// Studies one researcher may have waiting for a person here at once.
    pub max_undecided: usize,
    /// Submissions one researcher may make per minute (valid or not).
    pub submissions_per_minute: usize,
    /// Time between two rounds of asking every trusted station for its signed audit head
    /// ([`crate::anchoring`]).
    pub anchor_every: Duration,
    /// A wide-area network simulated on the computation's links to the other stations
    /// (`station serve --latency-ms`, for measuring; unshaped by default).
    pub network: tessera_net::shaper::Shape,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            poll: Duration::from_secs(1),
            poll_active: Duration::from_millis(100),
            peer_timeout: Duration::from_secs(10),
            run_timeout: Duration::from_secs(60),
            coordinate: true,
            connections: crate::tls_listener::ConnLimits::default(),
            max_undecided: 20,
            submissions_per_minute: 10,
            anchor_every: Duration::from_secs(5),
            network: tessera_net::shaper::Shape::default(),
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
    /// The digest of the study text it holds under this id (SHA-256, hex), when it said.
    pub digest: Option<String>,
    /// The revision it holds, when it said.
    pub revision: Option<u32>,
    /// A ready compute station: where it listens for this study's computation.
    pub compute: Option<String>,
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
    let mut visits = Visits::default();
    let mut news = true;
    loop {
        step(&api, &running, &mut visits, news);
        news = api.wait_for_news(api.options.poll_active);
    }
}

/// What the loop remembers between steps.
#[derive(Default)]
struct Visits {
    /// When each study was last visited.
    last: BTreeMap<String, Instant>,
    /// Studies this station is done with (refused here, or ended here with every other
    /// station settled): never looked at again (after a restart, once more), so an idle
    /// station's work does not grow with the studies it has finished.
    done: BTreeSet<(String, u32)>,
    /// Studies whose other stations this loop has asked since it started (before that, an
    /// empty list of views says nothing).
    asked: BTreeSet<(String, u32)>,
    /// The ids and states last read from the audit file, and when: read again on news or
    /// after [`ServiceOptions::poll`] (a command in another process changes the file
    /// without news), not at every step.
    states: Vec<(String, StudyState, u32)>,
    read_at: Option<Instant>,
    /// The audit log's entry count when the states were read: every change of a study here
    /// is an audit entry, so an unchanged count means unchanged states (one row read
    /// instead of every study's, which kept an idle station holding 1,000 finished studies
    /// at 0.5 % of a core).
    head: Option<u64>,
}

/// One visit of every study this station is not done with and whose time has come (all
/// with `news`; see the module docs). A study done with costs one row of a scan of ids and
/// states; a study's text is read only when it is visited, and parsed once
/// ([`Api::parsed`]).
fn step(api: &Arc<Api>, running: &Arc<Mutex<BTreeSet<String>>>, visits: &mut Visits, news: bool) {
    let stale = visits
        .read_at
        .is_none_or(|t| t.elapsed() >= api.options.poll);
    if news || stale {
        let head = api.approvals().log().head().ok().map(|(n, _)| n);
        if news || head.is_none() || head != visits.head {
            match api.approvals().states() {
                Ok(r) => {
                    visits.states = r;
                    visits.head = head;
                }
                Err(e) => {
                    eprintln!("tessera station: cannot read the studies: {e}");
                    return;
                }
            }
        }
        visits.read_at = Some(Instant::now());
    }
    // A study is done with per revision: a new revision is visited afresh.
    let states: Vec<(String, StudyState, u32)> = visits
        .states
        .iter()
        .filter(|(id, _, rev)| !visits.done.contains(&(id.clone(), *rev)))
        .cloned()
        .collect();
    for (id, state, revision) in states {
        let key = (id.clone(), revision);
        if state == StudyState::Refused {
            // Refused here (also a steward's withdrawal after the data check): its
            // computation port and any outside party's message are freed.
            api.release_compute(&id);
            visits.done.insert(key);
            continue;
        }
        let run = match api.approvals().run(&id) {
            Ok(r) => r.map(|r| r.state),
            Err(e) => {
                eprintln!("tessera station: study {id}: {e}");
                continue;
            }
        };
        let active = state == StudyState::Approved
            && matches!(run, None | Some(RunState::Ready) | Some(RunState::Running));
        let pace = if active {
            api.options.poll_active
        } else {
            api.options.poll
        };
        let due = news || visits.last.get(&id).is_none_or(|t| t.elapsed() >= pace);
        if !due {
            continue;
        }
        visits.last.insert(id.clone(), Instant::now());
        // Past the start, the other stations are still asked (for the status shown to the
        // researcher) until each has reached an end or cannot be reached.
        let started = run.is_some_and(|r| r != RunState::Ready);
        if started && run.is_some_and(RunState::is_final) {
            let views = api.views(&id);
            // Settled: every other station ended this revision too (one that holds a later
            // revision is not: it will pass it on).
            let settled = visits.asked.contains(&key)
                && views.iter().all(|v| {
                    v.revision.is_none_or(|r| r == revision)
                        && matches!(
                            v.state.as_str(),
                            "finished" | "aborted" | "stopped" | "refused" | "unreachable"
                        )
                });
            if settled {
                api.release_compute(&id);
                visits.done.insert(key);
                visits.last.remove(&id);
                continue;
            }
        }
        let rec = match api.approvals().get(&id) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                eprintln!("tessera station: study {id}: {e}");
                continue;
            }
        };
        let study = match api.parsed(&id, &rec.text) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("tessera station: study {id}: {e}");
                continue;
            }
        };
        let mine = study.digest();
        let views = ask_stations(api, &study, &rec.text, rec.revision);
        visits.asked.insert((id.clone(), rec.revision));
        // Another revision anywhere: this one does not go on (one that holds a later
        // revision passes it on here; one behind is passed this one on each visit).
        let same_revision = views
            .iter()
            .all(|v| v.revision.is_none_or(|r| r == rec.revision));
        if started {
            if run == Some(RunState::Running) && !is_compute(api, &study) && same_revision {
                follow_compute(api, &study, &views);
            }
            api.set_views(&rec.id, views);
            continue;
        }
        api.set_views(&rec.id, views.clone());
        if !same_revision {
            continue;
        }
        // Before anything else, pending here or not: another text under this id, or a
        // station that refused or stopped, stops the study here (nothing was read yet).
        if let Some(why) =
            texts_differ(&study, &api.config.name, &mine, &views).or_else(|| stopped_by(&views))
        {
            if let Err(e) = api.approvals().stop(&rec.id, &api.config.name, &why) {
                eprintln!("tessera station: study {}: {e}", rec.id);
            }
            api.release_compute(&rec.id);
            continue;
        }
        if rec.state != StudyState::Approved {
            continue;
        }
        if run.is_none() {
            // The data is read only once every other station holds this very text.
            let same_text = views.iter().all(|v| v.digest.as_deref() == Some(&mine));
            if same_text {
                check_data(api, &study);
            }
            continue;
        }
        // A ready compute station holds a port of its own `[compute]` range for the study
        // (again after a restart of the service); the others learn it by asking.
        if is_compute(api, &study) && api.compute_address(&rec.id).is_none() {
            if let Err(why) = api.reserve_compute(&rec.id) {
                if api.first_port_wait(&rec.id) {
                    eprintln!("tessera station: study {}: waiting: {why}", rec.id);
                }
                continue;
            }
        }
        let everyone_ready = views
            .iter()
            .all(|v| matches!(v.state.as_str(), "ready" | "running" | "finished"));
        if !everyone_ready {
            continue;
        }
        if is_compute(api, &study) {
            // Every outside data party's input must have arrived (see `send_input`), and
            // every other compute station must have said where it listens.
            let inputs_in = outside_parties(&study).all(|p| api.has_input(&study.id, p));
            let Some(meeting) = meeting_places(api, &study, &views) else {
                continue;
            };
            if inputs_in {
                start(api, running, Study::clone(&study), meeting, rec.revision);
            }
        } else {
            send_input(api, &study, rec.revision);
        }
    }
}

/// Asks every other station of `study` for its state, passing the study on to those that
/// do not know it.
fn ask_stations(api: &Api, study: &Study, text: &str, revision: u32) -> Vec<StationView> {
    let me = api.config.name.as_str();
    study
        .parties
        .iter()
        .filter(|p| p.name != me)
        .map(|p| StationView {
            station: p.name.clone(),
            ..ask(api, &p.name, &study.id, text, revision)
        })
        .collect()
}

/// The most characters of another station's state word and reason this station keeps: they
/// are shown, stored with a stop and audited, and another station's answer may be up to
/// the client's 64 MiB.
const MAX_PEER_TEXT: usize = 2_000;

/// `text` cut to [`MAX_PEER_TEXT`] characters.
pub(crate) fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_PEER_TEXT) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

fn view(state: &str, reason: Option<String>) -> StationView {
    StationView {
        station: String::new(),
        state: bounded(state),
        reason: reason.map(|r| bounded(&r)),
        digest: None,
        revision: None,
        compute: None,
    }
}

/// [`view`] of a station holding revision `revision` with the text with `digest`.
fn view_of(
    state: &str,
    reason: Option<String>,
    digest: Option<&str>,
    revision: Option<u32>,
) -> StationView {
    StationView {
        digest: digest.map(str::to_string),
        revision,
        ..view(state, reason)
    }
}

/// The first 12 hex digits of a digest, for messages.
pub(crate) fn short(digest: &str) -> String {
    format!("{}…", &digest[..digest.len().min(12)])
}

/// Why the study must stop when some station holds another text under its id: the
/// stations grouped by the digest of the text each holds, in the order of the study's
/// parties (this station's text), e.g. `the study's text differs between stations:
/// registry has sha256 ab12…, gp and institute have sha256 9f3c…`. `None` when every
/// station that told its digest holds `mine`.
fn texts_differ(study: &Study, me: &str, mine: &str, views: &[StationView]) -> Option<String> {
    if views
        .iter()
        .all(|v| v.digest.as_deref().is_none_or(|d| d == mine))
    {
        return None;
    }
    let mut held: Vec<(&str, &str)> = vec![(me, mine)];
    held.extend(
        views
            .iter()
            .filter_map(|v| Some((v.station.as_str(), v.digest.as_deref()?))),
    );
    held.sort_by_key(|(s, _)| study.parties.iter().position(|p| p.name == *s));
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (station, d) in held {
        match groups.iter_mut().find(|(g, _)| *g == d) {
            Some((_, names)) => names.push(station),
            None => groups.push((d, vec![station])),
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .filter_map(|(d, names)| {
            let who = match names.split_last()? {
                (one, []) => format!("{one} has"),
                (last, init) => format!("{} and {last} have", init.join(", ")),
            };
            Some(format!("{who} sha256 {}", short(d)))
        })
        .collect();
    Some(format!(
        "the study's text differs between stations: {}",
        parts.join(", ")
    ))
}

/// One station's state of study `id` (see [`ask_stations`]), passing it revision
/// `revision` of the study (`text`) when it holds none or an earlier one.
fn ask(api: &Api, station: &str, id: &str, text: &str, revision: u32) -> StationView {
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
    let held = match answer.status {
        200 => match serde_json::from_slice::<PublicState>(&answer.body) {
            Ok(s) => Some(StationView {
                compute: s.compute,
                ..view_of(&s.state, s.reason, Some(&s.digest), Some(s.revision))
            }),
            Err(e) => {
                return view(
                    "unreachable",
                    Some(format!(
                        "{station} answered something else than a state: {e}"
                    )),
                )
            }
        },
        _ => None,
    };
    match (answer.status, held) {
        (200, Some(v)) if v.revision.is_some_and(|r| r >= revision) => v,
        (200, Some(behind)) => {
            // It holds an earlier revision: passed this one on; until it takes it (its run
            // may still be under way), what it holds is what it says.
            match pass_on(&client, station, text, revision) {
                Some(v) if v.state != "unreachable" => v,
                _ => behind,
            }
        }
        (404, _) => pass_on(&client, station, text, revision)
            .unwrap_or_else(|| view("unreachable", Some(format!("{station} lost the study")))),
        (403, _) => view(
            "refused",
            Some(
                answer.json()["error"]
                    .as_str()
                    .unwrap_or("it does not accept this station")
                    .to_string(),
            ),
        ),
        (s, _) => view(
            "unreachable",
            Some(format!(
                "{station} answered {s}: {}",
                answer.json()["error"].as_str().unwrap_or("")
            )),
        ),
    }
}

/// Passes revision `revision` of the study (`text`) on to `station`: its view after taking
/// it (`received`, or `refused` by its policy), `None` when it did not take it because it
/// holds this or a later revision, or its run of an earlier one is under way (409).
fn pass_on(client: &Client, station: &str, text: &str, revision: u32) -> Option<StationView> {
    let sent = client.request(
        "POST",
        &format!("/peer/studies?revision={revision}"),
        &[("Content-Type", "text/plain; charset=utf-8")],
        text.as_bytes(),
    );
    let a = match sent {
        Ok(a) => a,
        Err(e) => return Some(view("unreachable", Some(e.to_string()))),
    };
    // Each answer says which text (and revision) the station holds under the id: ours when
    // it took it (201, or 403 when its policy refused it), maybe another when the id was
    // taken meanwhile (409), which stops the study (see `texts_differ`).
    let body = a.json();
    let digest = body["digest"].as_str().map(str::to_string);
    let theirs = body["revision"]
        .as_u64()
        .map_or(1, |r| u32::try_from(r).unwrap_or(u32::MAX));
    match a.status {
        201 | 409 => {
            let Some(d) = digest else {
                return Some(view(
                    "unreachable",
                    Some(format!(
                        "{station} did not say which text it holds under this id ({})",
                        a.status
                    )),
                ));
            };
            // An earlier revision still held (its run under way): asked again next visit.
            (theirs >= revision).then(|| view_of("received", None, Some(&d), Some(theirs)))
        }
        403 => {
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
            Some(view_of(
                "refused",
                Some(reasons),
                digest.as_deref(),
                Some(theirs),
            ))
        }
        s => Some(view(
            "refused",
            Some(format!(
                "it did not accept the study ({s}): {}",
                body["error"].as_str().unwrap_or("no reason given")
            )),
        )),
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

/// Whether this station is one of `study`'s compute parties.
fn is_compute(api: &Api, study: &Study) -> bool {
    study
        .party(&api.config.name)
        .is_some_and(|p| p.compute.is_some())
}

/// The study's data parties without a compute slot.
fn outside_parties(study: &Study) -> impl Iterator<Item = &str> {
    study
        .data
        .iter()
        .map(|d| d.party.as_str())
        .filter(|p| study.party(p).is_some_and(|x| x.compute.is_none()))
}

/// At an outside data station, once every station is ready: its dataset read again from the
/// source, prepared and dealt ([`tessera_study::distributed::deal_input`]), and message `i`
/// sent to compute station `i` only (`POST /peer/studies/{id}/input`, mutually
/// authenticated TLS). When all three took theirs, the run counts as started here; a
/// failure leaves it ready and the next visit sends the same dealing again (kept in memory:
/// [`Api::dealing`]); a compute station keeps the latest message. A dealing made anew (after
/// a restart of this station) while a compute station already computes with the old one
/// makes the compute stations refuse each other (their session is bound to the dealing:
/// [`tessera_study::distributed::run_session`]), so the run aborts everywhere.
fn send_input(api: &Api, study: &Study, revision: u32) {
    let me = api.config.name.as_str();
    let Some(spec) = study.data.iter().find(|d| d.party == me) else {
        return;
    };
    let dealt = api.dealing(&study.id, || {
        api.config
            .source_for(spec)
            .map_err(StudyError::Data)
            .and_then(|src| tessera_study::data::load_from(spec, &src))
            .and_then(|t| {
                let study = api
                    .config
                    .with_life_tables(study)
                    .map_err(StudyError::Data)?;
                tessera_study::distributed::deal_input(&study, spec, &t)
            })
    });
    let msgs = match dealt {
        Ok(m) => m,
        Err(e) => {
            // The data changed since it was checked: the study stops with "input invalid".
            let why = e.to_string();
            let public = match e {
                StudyError::Data(_) => INPUT_INVALID.to_string(),
                other => other.to_string(),
            };
            let mut a = api.approvals();
            let done = a
                .start(&study.id, me, json!({ "role": "outside data party" }))
                .and_then(|_| a.abort(&study.id, me, &why, &public));
            if let Err(e) = done {
                eprintln!("tessera station: study {}: {e}", study.id);
            }
            return;
        }
    };
    for (slot, station) in study.compute_parties().iter().enumerate() {
        let sent = api
            .config
            .trusted
            .iter()
            .find(|t| t.name == *station)
            .map(|t| {
                Client::new(
                    &t.address,
                    t.fingerprint,
                    Some(&api.identity),
                    api.options.peer_timeout,
                )
                .and_then(|c| {
                    c.request(
                        "POST",
                        &format!("/peer/studies/{}/input?revision={revision}", study.id),
                        &[("Content-Type", "application/octet-stream")],
                        &msgs[slot],
                    )
                })
            });
        match sent {
            Some(Ok(a)) if a.status == 204 => {}
            Some(Ok(a)) => {
                eprintln!(
                    "tessera station: study {}: {station} did not take the input ({}): {}",
                    study.id,
                    a.status,
                    a.text()
                );
                return;
            }
            Some(Err(e)) => {
                eprintln!("tessera station: study {}: {e}", study.id);
                return;
            }
            None => return,
        }
    }
    api.forget_dealing(&study.id);
    let details = json!({
        "role": "outside data party",
        "input_dealt_to": study.compute_parties(),
    });
    if let Err(e) = api.approvals().start(&study.id, me, details) {
        eprintln!("tessera station: study {}: {e}", study.id);
    }
}

/// At an outside data station whose input went out: the run ends here as it ends at the
/// compute stations (finished when all three finished, aborted when one aborted or
/// stopped). Nothing is held here for the recipients: they fetch the results from a
/// compute station.
fn follow_compute(api: &Api, study: &Study, views: &[StationView]) {
    let me = api.config.name.as_str();
    let compute = study.compute_parties();
    let of_compute = || {
        views
            .iter()
            .filter(|v| compute.contains(&v.station.as_str()))
    };
    let done =
        if let Some(v) = of_compute().find(|v| matches!(v.state.as_str(), "aborted" | "stopped")) {
            let why = format!(
                "station {} stopped: {}",
                v.station,
                v.reason.as_deref().unwrap_or("no reason given")
            );
            api.approvals().abort(&study.id, me, &why, &why).map(|_| ())
        } else if of_compute().count() == 3 && of_compute().all(|v| v.state == "finished") {
            let details = json!({ "role": "outside data party", "finished_at": compute });
            api.approvals()
                .finish(&study.id, me, details, &[])
                .map(|_| ())
        } else {
            Ok(())
        };
    if let Err(e) = done {
        eprintln!("tessera station: study {}: {e}", study.id);
    }
}

/// Where each compute station of `study` meets the others: this station's own reserved
/// address and every other compute station's reported one (`None` until each has said),
/// each with the fingerprint this station pins for it (its identity, its `[[trusted]]`
/// list: never the study's).
fn meeting_places(
    api: &Api,
    study: &Study,
    views: &[StationView],
) -> Option<[(String, String, [u8; 32]); 3]> {
    let me = api.config.name.as_str();
    let mut out: Vec<(String, String, [u8; 32])> = Vec::with_capacity(3);
    for name in study.compute_parties() {
        if name == me {
            out.push((
                name.to_string(),
                api.compute_address(&study.id)?,
                api.identity.fingerprint(),
            ));
        } else {
            let addr = views
                .iter()
                .find(|v| v.station == name)
                .and_then(|v| v.compute.clone())?;
            let fp = api.config.trusted.iter().find(|t| t.name == name)?;
            out.push((name.to_string(), addr, fp.fingerprint));
        }
    }
    out.try_into().ok()
}

/// The [`Meeting`](tessera_study::distributed::Meeting) of `places` (see
/// [`meeting_places`]) with this station's reserved listener for study `id`.
fn meeting(
    api: &Api,
    id: &str,
    places: &[(String, String, [u8; 32]); 3],
    revision: u32,
) -> Result<tessera_study::distributed::Meeting, StudyError> {
    let mut addrs = Vec::with_capacity(3);
    for (name, addr, _) in places {
        addrs.push(
            tessera_study::distributed::resolve(name, addr).map_err(|e| StudyError::Network {
                public: format!(
                    "the computation could not reach {name} (its address does not resolve)"
                ),
                detail: e.to_string(),
            })?,
        );
    }
    let listener = api.take_listener(id).ok_or_else(|| StudyError::Network {
        public: "the computation could not start its network (this station's configuration)"
            .to_string(),
        detail: format!("study {id}: no computation port reserved"),
    })?;
    Ok(tessera_study::distributed::Meeting {
        addrs: [addrs[0], addrs[1], addrs[2]],
        fingerprints: [places[0].2, places[1].2, places[2].2],
        listener: Some(listener),
        revision,
    })
}

/// What the researcher and the other stations are told about a failed computation at
/// station `me`: the station and the kind of failure; the details stay in this station's
/// log and its audit entry (`why`).
fn public_reason(me: &str, e: &StudyError) -> String {
    match e {
        StudyError::Data(_) => INPUT_INVALID.to_string(),
        StudyError::Network { public, .. } => format!("station {me}: {public}"),
        StudyError::Invalid(_) => {
            format!("station {me}: the computation could not start (this station's configuration)")
        }
        // Reconstruction happens at recipients only; a station never meets this.
        StudyError::Delivery(_) => format!("station {me}: the computation failed"),
        // A station that stopped, went silent or away is a `Network` failure (naming it);
        // what is left is this station's own failure.
        StudyError::Run(_) => format!("station {me}: the computation failed"),
    }
}

/// Starts the computation of `study` on its own thread (once), meeting the other compute
/// stations at `places` (see [`meeting_places`]).
fn start(
    api: &Arc<Api>,
    running: &Arc<Mutex<BTreeSet<String>>>,
    study: Study,
    places: [(String, String, [u8; 32]); 3],
    revision: u32,
) {
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
        // Not started: the next visit may try again (a busy database), or find it ended.
        running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&study.id);
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
            network: api.options.network,
        };
        let config = &api.config;
        let load = |spec: &tessera_study::format::DataSpec| {
            let src = config.source_for(spec).map_err(StudyError::Data)?;
            tessera_study::data::load_from(spec, &src)
        };
        // A panic in the computation (a bug) ends the run as an abort, like any error: the
        // other stations then fail on the closed connections, and nothing is kept.
        let outside = |party: &str| api.take_input(&study.id, party);
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let meeting = meeting(&api, &study.id, &places, revision)?;
            // The life tables this station reads are its own copies (found by digest).
            let study = config.with_life_tables(&study).map_err(StudyError::Data)?;
            tessera_study::distributed::run_party_with(
                &study,
                &me,
                &api.identity,
                &opts,
                meeting,
                &load,
                &outside,
            )
        }))
        .unwrap_or_else(|_| {
            Err(StudyError::Run(
                "internal error: the computation stopped unexpectedly".to_string(),
            ))
        });
        // The port is freed before the end is recorded: once it is, a new revision may be
        // received and reserve a port of its own, which a later release would drop.
        api.release_compute(&study.id);
        let done = match out {
            Ok(out) => {
                let held = held_shares(&study, &out.shares);
                let details = json!({
                    "linked_rows": out.shares.linkage.intersection,
                    "analyses": out.shares.analyses.iter().map(|a| json!({
                        "name": a.name,
                        "recipients": a.recipients,
                        "computed": a.error.is_none(),
                        "error": a.error,
                    })).collect::<Vec<_>>(),
                    // This station holds shares only; the digests bind what it stores for
                    // each recipient to this entry of the audit chain.
                    "held_for": held.iter().map(|(r, d)| json!({
                        "recipient": r,
                        "shares_sha256": crate::approval::digest(&d.json),
                    })).collect::<Vec<_>>(),
                });
                api.approvals().finish(&study.id, &me, details, &held)
            }
            Err(e) => {
                // The details (addresses, certificates, dropped connections) go to this
                // station's log and audit entry only.
                eprintln!("tessera station: study {}: {e}", study.id);
                let public = public_reason(&me, &e);
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

/// Each recipient's part of this station's shares: the analyses naming that recipient, and
/// the linkage counts only as the study and every station's policy allow
/// ([`tessera_study::counts`]).
fn held_shares(study: &Study, shares: &StationShares) -> Vec<(String, HeldShares)> {
    study
        .recipients
        .iter()
        .map(|r| {
            let mut mine = shares.for_recipient(&r.name);
            mine.linkage = tessera_study::counts::for_recipients(study, &mine.linkage);
            (
                r.name.clone(),
                HeldShares {
                    json: mine.to_json(),
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer's 10 MB reason is kept as its first 2,000 characters (review of issue 14:
    /// another station's text went verbatim into views, stops and the audit log).
    #[test]
    fn a_peer_cannot_make_this_station_store_a_long_text() {
        let long = "é".repeat(5_000_000);
        let v = view(&long, Some(long.clone()));
        assert_eq!(v.state.chars().count(), MAX_PEER_TEXT + 1);
        assert_eq!(v.reason.unwrap().chars().count(), MAX_PEER_TEXT + 1);
        assert_eq!(
            view("ready", Some("fine".into())).reason.as_deref(),
            Some("fine")
        );
    }
}
