//! The station's HTTP API (`tessera station serve`): submit a study, list studies and their
//! state, approve or refuse (steward only), fetch results (the study's recipients only),
//! read and verify the audit log (steward only), and the routes the stations use to pass
//! studies on and learn each other's states (stations this one trusts only).
//!
//! Every route speaks JSON (except the body of `POST /studies`, which is the study's TOML
//! text); the routes, bodies, status codes and authentication are documented in
//! `docs/station.md` ("HTTP API"). The handlers are thin: they call [`receive_text`],
//! [`Approvals`] and [`crate::AuditLog`], the same functions as the steward's commands, so
//! the service and the commands validate, decide and audit identically. The SQLite
//! connection is shared by the handlers behind a [`Mutex`]; a request holds it only for its
//! own database work (never across an `.await`).
//!
//! Authentication: the steward's routes need `Authorization: Bearer TOKEN`, the token being
//! the content of the file `[station] steward_token` (created by [`steward_token`] with 32
//! random bytes in hex and mode 0600 when absent). The comparison hashes both sides with
//! SHA-256 and compares the digests without an early exit, so its time does not depend on
//! how much of a guess is right. Results go to a study's recipient that presents the client
//! certificate whose fingerprint the study lists for it, or the bearer token the steward
//! issued it for that study (`tessera station token`); each recipient gets only the analyses
//! naming it, and every delivery is audited (`revealed`). The `/peer` routes answer only a
//! client certificate of a trusted station that takes part in the study, checked before
//! any body is read. Researchers listed in `[[researchers]]` submit and read the studies
//! they submitted (or that name them as recipients) by their certificate ([`Caller`]);
//! anyone else gets a 401 on every route and nothing more. `GET /catalogue` answers the
//! steward, researchers and trusted stations ([`crate::catalogue`]).
//!
//! LEAKAGE: nothing patient-level is served. Studies, decisions, reasons, run states and the
//! audit entries (whose `revealed` details hold only aggregate, policy-approved results) are
//! the only data besides the results, which go to their recipients only. A refusal because
//! of this station's data is told to others as "input invalid" only; its details (file,
//! line, column) only to the steward.
//!
//! The server speaks HTTPS only (TLS 1.3, this station's identity; see
//! [`tessera_net::https`]): clients pin the station's certificate fingerprint.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path as UrlPath, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tessera_net::identity::{fingerprint_hex, Identity};
use tessera_study::Study;

use crate::approval::{digest, Approvals, StudyRecord, StudyState};
use crate::catalogue::{Catalogue, CatalogueAnswer};
use crate::config::{Config, Trusted};
use crate::coordinate::{ServiceOptions, StationView};
use crate::error::{AuditError, StationError};
use crate::policy::{Decision, RecipientRule};
use crate::receive::receive_revision_with;
use crate::runs::shown_reason;
use crate::tls_listener::{Peer, TlsListener};

/// The name a submitted study has in messages (`study.toml:LINE:COL: …`).
pub const SUBMITTED_NAME: &str = "study.toml";

/// Who decides when an approval or refusal names nobody (`"by"` absent).
pub const DEFAULT_BY: &str = "steward";

/// Who submitted a study with the steward's token (recorded in the audit log).
pub const STEWARD_ACTOR: &str = "steward";

/// Who a request comes from, as this station can tell: by the steward's token, or by the
/// certificate the client proved it holds (a trusted station's, or a researcher's listed in
/// `[[researchers]]`). Nothing a caller merely states (a header, a name) counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// With the steward's token.
    Steward,
    /// A trusted station, by name.
    Station(String),
    /// A listed researcher: how the audit log names them (`name (sha256:…)`), and their
    /// certificate's fingerprint.
    Researcher(String, tessera_net::identity::Fingerprint),
    /// Anyone else: learns nothing but a 401.
    Anonymous,
}

/// How the audit log names a researcher or a recipient known by certificate: the name and
/// the certificate's fingerprint.
pub fn researcher_actor(name: &str, fingerprint: &tessera_net::identity::Fingerprint) -> String {
    format!("{name} (sha256:{})", fingerprint_hex(fingerprint))
}

/// The largest outside data party's message a compute station takes (1 GiB: about 30
/// million values).
pub const MAX_INPUT: usize = 1 << 30;

/// The largest study text `POST /studies` and `POST /peer/studies` take (a study within
/// every cap of `tessera_study::limits` fits well below; one of 1.9 MB once cost 1.8 cores
/// across three stations).
pub const MAX_STUDY: usize = 512 * 1024;

/// The largest body of the steward's decisions (`approve`, `refuse`: a reason).
pub const MAX_DECISION: usize = 16 * 1024;

/// What the handlers and the coordinating loop share: the configuration, the approvals
/// (and audit log) behind a mutex, the steward's token, the station's identity, and what
/// the other stations last said about each study.
pub struct Api {
    pub(crate) config: Config,
    approvals: Mutex<Approvals>,
    token: String,
    pub(crate) identity: Identity,
    pub(crate) options: ServiceOptions,
    views: Mutex<BTreeMap<String, Vec<StationView>>>,
    progress: Mutex<BTreeMap<String, Progress>>,
    news: (Mutex<bool>, Condvar),
    inputs: Mutex<BTreeMap<(String, String), Vec<u8>>>,
    /// At an outside data station: the dealing of its table per study, kept until every
    /// compute station took its message, so that a retry sends the same dealing (compute
    /// stations holding two dealings would refuse each other).
    dealings: Mutex<BTreeMap<String, Arc<[Vec<u8>; 3]>>>,
    ports: Mutex<BTreeMap<String, ComputePort>>,
    /// Studies waiting for a free computation port (logged once each).
    port_waits: Mutex<std::collections::BTreeSet<String>>,
    /// Each study parsed once (a study's text never changes under its id): the loop and the
    /// handlers read it from here instead of parsing on every visit.
    parsed: Mutex<BTreeMap<String, Arc<Study>>>,
    /// Per researcher, when their submissions of the last minute came.
    submissions: Mutex<BTreeMap<String, std::collections::VecDeque<std::time::Instant>>>,
    /// The peers' catalogues fetched lately (`GET /catalogue`).
    catalogues: crate::catalogue::CatalogueCache,
}

/// The computation endpoint this station picked for one study (from its `[compute]`
/// ports): the address the other stations are told, and the listener, held from the
/// moment the station is ready until the computation takes it.
#[derive(Debug)]
struct ComputePort {
    address: String,
    listener: Option<std::net::TcpListener>,
}

/// Where a running computation is: step `step` (from 0) of `steps`, now in `phase`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    /// Steps done.
    pub step: usize,
    /// Steps in all.
    pub steps: usize,
    /// What runs now (`linkage`, an analysis' name, `done`).
    pub phase: String,
}

impl Api {
    /// The service state for `config`, its opened `approvals`, the steward's `token`, the
    /// station's `identity` (its TLS certificate and key) and the pacing `options`.
    pub fn new(
        config: Config,
        approvals: Approvals,
        token: String,
        identity: Identity,
        options: ServiceOptions,
    ) -> Api {
        Api {
            config,
            approvals: Mutex::new(approvals),
            token,
            identity,
            options,
            views: Mutex::new(BTreeMap::new()),
            progress: Mutex::new(BTreeMap::new()),
            news: (Mutex::new(false), Condvar::new()),
            inputs: Mutex::new(BTreeMap::new()),
            dealings: Mutex::new(BTreeMap::new()),
            ports: Mutex::new(BTreeMap::new()),
            port_waits: Mutex::new(std::collections::BTreeSet::new()),
            parsed: Mutex::new(BTreeMap::new()),
            submissions: Mutex::new(BTreeMap::new()),
            catalogues: Default::default(),
        }
    }

    /// Why researcher `actor` may not submit now, if so: more than
    /// [`ServiceOptions::submissions_per_minute`] in the last minute, or
    /// [`ServiceOptions::max_undecided`] studies of theirs waiting for a person here.
    /// Counts this attempt.
    fn submission_refused(&self, actor: &str) -> Result<Option<String>, StationError> {
        let now = std::time::Instant::now();
        let minute = Duration::from_secs(60);
        {
            let mut all = self.submissions.lock().unwrap_or_else(|p| p.into_inner());
            let times = all.entry(actor.to_string()).or_default();
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= minute)
            {
                times.pop_front();
            }
            if times.len() >= self.options.submissions_per_minute {
                return Ok(Some(format!(
                    "at most {} submissions a minute; try again later",
                    self.options.submissions_per_minute
                )));
            }
            times.push_back(now);
        }
        let a = self.approvals();
        // Waiting for a person: pending here and not stopped (a study another station
        // refused stays pending here with a stopped run, and can no longer be decided).
        let pending: std::collections::BTreeSet<String> = a
            .overview()?
            .into_iter()
            .filter(|o| o.state == StudyState::Pending && o.run.is_none())
            .map(|o| o.id)
            .collect();
        let mine = a
            .log()
            .submitters(None)?
            .into_iter()
            .filter(|(id, by)| by == actor && pending.contains(id))
            .map(|(id, _)| id)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if mine >= self.options.max_undecided {
            return Ok(Some(format!(
                "{mine} of your studies are waiting for this station's steward (at most {}); \
                 wait for their decisions",
                self.options.max_undecided
            )));
        }
        Ok(None)
    }

    /// Study `id` (with the `text` received under it) validated at this station, parsed the
    /// first time only (and again when a revision changed the text).
    pub(crate) fn parsed(
        &self,
        id: &str,
        text: &str,
    ) -> Result<Arc<Study>, tessera_study::StudyError> {
        if let Some(s) = self
            .parsed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .filter(|s| s.source.text == text)
        {
            return Ok(Arc::clone(s));
        }
        let study = Arc::new(tessera_study::validate::parse_at_station(
            SUBMITTED_NAME,
            text,
            &self.config.name,
        )?);
        self.parsed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), Arc::clone(&study));
        Ok(study)
    }

    /// Whether study `id`'s wait for a computation port is news (the first time only), so
    /// that the steward's log says it once rather than at every visit.
    pub(crate) fn first_port_wait(&self, id: &str) -> bool {
        self.port_waits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string())
    }

    /// The computation address (`host:port`) this station picked for study `id`, if any.
    pub(crate) fn compute_address(&self, id: &str) -> Option<String> {
        self.ports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .map(|c| c.address.clone())
    }

    /// Picks a free port of this station's `[compute]` range for study `id` and binds it
    /// (kept until [`Api::take_listener`]); its address is what the other stations are
    /// told. The error says why no port could be had (for the steward's log).
    pub(crate) fn reserve_compute(&self, id: &str) -> Result<String, String> {
        let Some(c) = &self.config.compute else {
            return Err("this station has no [compute] endpoint in station.toml".to_string());
        };
        let mut ports = self.ports.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = ports.get(id) {
            return Ok(p.address.clone());
        }
        let mut last = String::from("no port in the range");
        for port in c.ports.0..=c.ports.1 {
            match std::net::TcpListener::bind((c.bind.as_str(), port)) {
                Ok(l) => {
                    let address = if c.address.contains(':') {
                        format!("[{}]:{port}", c.address.trim_matches(['[', ']']))
                    } else {
                        format!("{}:{port}", c.address)
                    };
                    ports.insert(
                        id.to_string(),
                        ComputePort {
                            address: address.clone(),
                            listener: Some(l),
                        },
                    );
                    return Ok(address);
                }
                Err(e) => last = format!("{}:{port}: {e}", c.bind),
            }
        }
        Err(format!(
            "no free computation port in {}-{} ([compute] listen; last: {last})",
            c.ports.0, c.ports.1
        ))
    }

    /// The listener reserved for study `id` (for its computation), once.
    pub(crate) fn take_listener(&self, id: &str) -> Option<std::net::TcpListener> {
        self.ports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(id)
            .and_then(|p| p.listener.take())
    }

    /// Forgets study `id`'s computation endpoint (its run ended).
    pub(crate) fn release_compute(&self, id: &str) {
        self.ports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        self.port_waits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        // Outside parties' messages the computation never took (up to 1 GiB each).
        self.inputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(study, _), _| study != id);
        self.forget_dealing(id);
        // Parsed again, once, if a handler asks for it later.
        self.parsed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Forgets everything held in memory for study `id`'s current revision (its
    /// computation port, outside parties' messages, its dealing, its progress and what the
    /// other stations said): a new revision starts from nothing.
    pub(crate) fn forget_revision(&self, id: &str) {
        self.release_compute(id);
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        self.views
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// This outside data station's dealing for study `id`: the one kept, else `deal()`'s
    /// (then kept).
    pub(crate) fn dealing<E>(
        &self,
        id: &str,
        deal: impl FnOnce() -> Result<[Vec<u8>; 3], E>,
    ) -> Result<Arc<[Vec<u8>; 3]>, E> {
        if let Some(d) = self
            .dealings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
        {
            return Ok(Arc::clone(d));
        }
        let d = Arc::new(deal()?);
        self.dealings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), Arc::clone(&d));
        Ok(d)
    }

    /// Drops the dealing kept for study `id` (every compute station took its message, or
    /// the study ended).
    pub(crate) fn forget_dealing(&self, id: &str) {
        self.dealings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// The approvals; a handler that panicked mid-transaction left nothing half-written
    /// (SQLite rolls the transaction back), so a poisoned lock is still usable.
    pub(crate) fn approvals(&self) -> MutexGuard<'_, Approvals> {
        self.approvals.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records what the other stations said about study `id`.
    pub(crate) fn set_views(&self, id: &str, views: Vec<StationView>) {
        self.views
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), views);
    }

    /// Tells the coordinating loop that something changed here (a study received, a
    /// decision taken), so it visits every study now rather than at its pace.
    pub(crate) fn nudge(&self) {
        *self.news.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.news.1.notify_all();
    }

    /// Waits up to `timeout` for [`Api::nudge`]; whether there was news (then cleared).
    pub(crate) fn wait_for_news(&self, timeout: Duration) -> bool {
        let guard = self.news.0.lock().unwrap_or_else(|p| p.into_inner());
        let (mut news, _) = self
            .news
            .1
            .wait_timeout_while(guard, timeout, |n| !*n)
            .unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *news)
    }

    /// Keeps outside data party `party`'s dealer message for study `id` (in memory only,
    /// until the computation takes it).
    fn put_input(&self, id: &str, party: &str, msg: Vec<u8>) {
        self.inputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((id.to_string(), party.to_string()), msg);
        self.nudge();
    }

    /// Whether outside data party `party`'s message for study `id` arrived.
    pub(crate) fn has_input(&self, id: &str, party: &str) -> bool {
        self.inputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&(id.to_string(), party.to_string()))
    }

    /// Takes outside data party `party`'s message for study `id` (for the computation).
    pub(crate) fn take_input(&self, id: &str, party: &str) -> Option<Vec<u8>> {
        self.inputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(id.to_string(), party.to_string()))
    }

    /// Records how far the computation of study `id` got.
    pub(crate) fn set_progress(&self, id: &str, p: Progress) {
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), p);
    }

    /// How far the computation of study `id` got, if it ran here since the service started.
    fn progress(&self, id: &str) -> Option<Progress> {
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// What the other stations last said about study `id`.
    pub(crate) fn views(&self, id: &str) -> Vec<StationView> {
        self.views
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    /// The trusted station whose certificate `peer` presented.
    fn station(&self, peer: &Peer) -> Option<&Trusted> {
        let fp = peer.fingerprint?;
        self.config.trusted.iter().find(|t| t.fingerprint == fp)
    }

    /// Who sent a request with `headers` over the connection of `peer`.
    pub(crate) fn caller(&self, headers: &HeaderMap, peer: &Peer) -> Caller {
        if self.is_steward(headers) {
            return Caller::Steward;
        }
        let Some(fp) = peer.fingerprint else {
            return Caller::Anonymous;
        };
        if let Some(t) = self.config.trusted.iter().find(|t| t.fingerprint == fp) {
            return Caller::Station(t.name.clone());
        }
        if let Some(r) = self.config.researchers.iter().find(|r| r.fingerprint == fp) {
            return Caller::Researcher(researcher_actor(&r.name, &fp), fp);
        }
        Caller::Anonymous
    }

    /// Study `id` as received here and parsed (once), if received.
    fn study_of(&self, id: &str) -> Result<Option<Arc<Study>>, StationError> {
        let text = self.approvals().get(id)?.map(|r| r.text);
        Ok(match text {
            Some(t) => Some(self.parsed(id, &t)?),
            None => None,
        })
    }

    /// Whether study `id` concerns the researcher `actor` with certificate `fp`: they
    /// submitted a revision of it here (the actor of a `study_received` entry), or the study names them
    /// as a recipient by that certificate.
    fn concerns(
        &self,
        id: &str,
        actor: &str,
        fp: &tessera_net::identity::Fingerprint,
    ) -> Result<bool, StationError> {
        let submitters = self.approvals().log().submitters(Some(id))?;
        if submitters.iter().any(|(_, s)| s == actor) {
            return Ok(true);
        }
        Ok(self
            .study_of(id)?
            .is_some_and(|s| s.recipients.iter().any(|r| r.fingerprint == Some(*fp))))
    }

    /// Whether `headers` carry the steward's bearer token; compared in constant time
    /// (SHA-256 of both sides, every byte compared).
    fn is_steward(&self, headers: &HeaderMap) -> bool {
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        same_secret(given.trim().as_bytes(), self.token.as_bytes())
    }
}

/// Constant-time equality of two secrets of any length: their SHA-256 digests are compared
/// byte by byte without an early exit.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let a = ring::digest::digest(&ring::digest::SHA256, given);
    let b = ring::digest::digest(&ring::digest::SHA256, expected);
    let diff = a
        .as_ref()
        .iter()
        .zip(b.as_ref())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Reads the steward's token from `path`, or creates the file with 32 random bytes in hex
/// (mode 0600) when it does not exist. Returns the token and whether it was created.
/// Errors: an unreadable file, or one holding fewer than 32 characters.
pub fn steward_token(path: &Path) -> Result<(String, bool), StationError> {
    let name = path.display();
    if path.exists() {
        crate::private::check(path).map_err(StationError::Config)?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| StationError::Config(format!("{name}: cannot read the token: {e}")))?;
        let token = text.trim().to_string();
        if token.len() < 32 || token.chars().any(char::is_whitespace) {
            return Err(StationError::Config(format!(
                "{name}: the steward token must be one word of at least 32 characters"
            )));
        }
        return Ok((token, false));
    }
    let token =
        crate::runs::random_token().map_err(|e| StationError::Config(format!("{name}: {e}")))?;
    let mut f = crate::private::create(path)
        .map_err(|e| StationError::Config(format!("{name}: cannot create the token: {e}")))?;
    writeln!(f, "{token}")
        .map_err(|e| StationError::Config(format!("{name}: cannot write the token: {e}")))?;
    Ok((token, true))
}

/// The router with every route of the API (documented in `docs/station.md`).
pub fn router(api: Arc<Api>) -> Router {
    // Who may send a body is checked before any of it is read: the `/peer` routes take
    // bodies of up to 1 GiB, which a stranger must not make this station buffer.
    let stations = axum::middleware::from_fn_with_state(Arc::clone(&api), stations_only);
    let submitters = axum::middleware::from_fn_with_state(Arc::clone(&api), submitters_only);
    Router::new()
        .route(
            "/studies",
            get(list_studies).merge(
                post(submit)
                    .layer(DefaultBodyLimit::max(MAX_STUDY))
                    .route_layer(submitters),
            ),
        )
        .route("/studies/{id}", get(get_study))
        .route(
            "/studies/{id}/approve",
            post(approve).layer(DefaultBodyLimit::max(MAX_DECISION)),
        )
        .route(
            "/studies/{id}/refuse",
            post(refuse).layer(DefaultBodyLimit::max(MAX_DECISION)),
        )
        .route("/studies/{id}/results", get(results))
        .route(
            "/studies/{id}/rerun",
            post(rerun).layer(DefaultBodyLimit::max(0)).route_layer(
                axum::middleware::from_fn_with_state(Arc::clone(&api), submitters_only),
            ),
        )
        .merge(
            Router::new()
                .route(
                    "/peer/studies",
                    post(peer_submit).layer(DefaultBodyLimit::max(MAX_STUDY)),
                )
                .route("/peer/studies/{id}", get(peer_state))
                .route("/peer/audit/head", get(peer_audit_head))
                .route("/peer/audit/kept", get(peer_audit_kept))
                .route(
                    "/peer/studies/{id}/input",
                    post(peer_input).layer(DefaultBodyLimit::max(MAX_INPUT)),
                )
                .route_layer(stations)
                .with_state(Arc::clone(&api)),
        )
        .route("/audit", get(audit))
        .route("/audit/verify", get(verify))
        .route("/catalogue", get(catalogue))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
        .layer(axum::middleware::from_fn(in_use))
        .with_state(api)
}

/// Marks the request's connection in use while its handler runs, so that the listener
/// making room for other clients closes idle connections first ([`crate::tls_listener`]).
async fn in_use(
    ConnectInfo(peer): ConnectInfo<Peer>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let _working = peer.in_use.enter();
    next.run(req).await
}

/// Serves `api` over HTTPS on `listener` and runs the coordinating loop
/// ([`crate::coordinate::coordinate`]) on a thread beside it, until the process is killed
/// (a current-thread runtime: the handlers' SQLite work is short and serialised by the
/// mutex anyway).
pub fn serve(listener: std::net::TcpListener, api: Api) -> std::io::Result<()> {
    let tls = tessera_net::https::server_config(&api.identity)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let api = Arc::new(api);
    if api.options.coordinate {
        let background = Arc::clone(&api);
        std::thread::Builder::new()
            .name("coordinate".to_string())
            .spawn(move || crate::coordinate::coordinate(background))?;
        let following = Arc::clone(&api);
        std::thread::Builder::new()
            .name("events".to_string())
            .spawn(move || crate::events::follow(following))?;
        let anchoring = Arc::clone(&api);
        std::thread::Builder::new()
            .name("anchoring".to_string())
            .spawn(move || crate::anchoring::run(anchoring))?;
    }
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let listener = TlsListener::new(listener, tls, api.options.connections);
        axum::serve(
            listener,
            router(api).into_make_service_with_connect_info::<Peer>(),
        )
        .await
    })
}

type Shared = State<Arc<Api>>;

/// `{"error": message}` with `status`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The status a station error maps to, with its message.
fn failure(e: StationError) -> Response {
    let status = match &e {
        StationError::Study(_) | StationError::Invalid(_) => StatusCode::BAD_REQUEST,
        StationError::UnknownStudy(_) => StatusCode::NOT_FOUND,
        StationError::AlreadyReceived { .. } | StationError::Transition { .. } => {
            StatusCode::CONFLICT
        }
        StationError::Config(_) | StationError::Audit(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.to_string())
}

/// A 401 with `message` and `WWW-Authenticate: Bearer`.
fn unauthorised_with(message: &str) -> Response {
    let mut r = error(StatusCode::UNAUTHORIZED, message);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    r
}

/// The answer to a caller this station does not know: a 401 and nothing else.
fn not_known() -> Response {
    unauthorised_with(
        "authentication needed: a certificate this station lists, or the steward's token",
    )
}

/// A steward's route without the steward's token.
fn unauthorised() -> Response {
    unauthorised_with("the steward's token is needed (Authorization: Bearer TOKEN)")
}

/// One line of the list of studies.
fn summary(r: &StudyRecord) -> Value {
    json!({
        "id": r.id,
        "state": r.state,
        "received_at": r.received_at,
        "reason": r.reason,
    })
}

/// Everything about one study, its TOML text included.
fn detail(r: &StudyRecord) -> Value {
    json!({
        "id": r.id,
        "state": r.state,
        "received_at": r.received_at,
        "reason": r.reason,
        "decided_at": r.decided_at,
        "decided_by": r.decided_by,
        "digest": digest(&r.text),
        "revision": r.revision,
        "study": r.text,
    })
}

/// `POST /studies`: the body is the study's TOML text.
async fn submit(
    State(api): Shared,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let from = match submitter(&api, &headers, &peer) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    receive_answer(&api, &body, &from, None)
}

/// The researcher who submitted, or the steward: who asks for a submission, counted against
/// the researcher's limits ([`Api::submission_refused`]); `Err` with the answer otherwise.
fn submitter(api: &Api, headers: &HeaderMap, peer: &Peer) -> Result<String, Box<Response>> {
    // Recorded as the authenticated caller, never as a name the request states.
    match api.caller(headers, peer) {
        Caller::Steward => Ok(STEWARD_ACTOR.to_string()),
        Caller::Researcher(actor, _) => match api.submission_refused(&actor) {
            Ok(None) => Ok(actor),
            Ok(Some(why)) => Err(Box::new(error(StatusCode::TOO_MANY_REQUESTS, why))),
            Err(e) => Err(Box::new(failure(e))),
        },
        Caller::Station(_) | Caller::Anonymous => Err(Box::new(not_known())),
    }
}

/// `POST /studies/{id}/rerun` (whoever submitted it here): the study's text as held here,
/// submitted again unchanged: its next revision, once the current one was refused, stopped
/// or aborted (see [`crate::receive`]).
async fn rerun(
    State(api): Shared,
    UrlPath(id): UrlPath<String>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
) -> Response {
    let from = match submitter(&api, &headers, &peer) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let text = {
        let a = api.approvals();
        let theirs = from == STEWARD_ACTOR
            || a.log()
                .submitters(Some(&id))
                .is_ok_and(|s| s.iter().any(|(_, by)| *by == from));
        match a.get(&id) {
            Ok(Some(r)) if theirs => r.text,
            Ok(_) => return failure(StationError::UnknownStudy(id)),
            Err(e) => return failure(e),
        }
    };
    receive_answer(&api, &Bytes::from(text), &from, None)
}

/// The revision another station passes on in `?revision=N` (`None` without one: a
/// station that predates revisions, whose studies are all revision 1).
fn revision_in(query: Option<&str>) -> Result<Option<u32>, String> {
    let Some(q) = query else { return Ok(None) };
    for pair in q.split('&') {
        if let Some(v) = pair.strip_prefix("revision=") {
            return v
                .parse::<u32>()
                .map(Some)
                .map_err(|_| format!("revision={v}: not a revision number"));
        }
    }
    Ok(None)
}

/// Receives the study text `body` from `from` (as revision `revision` when another station
/// passes it on) and answers with the decision.
fn receive_answer(api: &Api, body: &Bytes, from: &str, revision: Option<u32>) -> Response {
    let Ok(text) = std::str::from_utf8(body) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("{SUBMITTED_NAME}: the study is not UTF-8 text"),
        );
    };
    let got = {
        let mut a = api.approvals();
        receive_revision_with(
            &api.config,
            &mut a,
            SUBMITTED_NAME,
            text,
            from,
            revision,
            // Another compute station aborted or stopped the revision held here: what this
            // station holds of it can never be opened, so even a finished one takes the
            // next revision.
            &|id, held| {
                api.views(id).iter().any(|v| {
                    v.revision == Some(held) && matches!(v.state.as_str(), "aborted" | "stopped")
                })
            },
        )
    };
    if let Ok(r) = &got {
        if r.record.revision > 1 {
            api.forget_revision(&r.record.id);
        }
        api.nudge();
    }
    match got {
        Ok(r) => {
            // Reasons naming what the station does not publish are the steward's only.
            let decision = if from == STEWARD_ACTOR {
                &r.decision
            } else {
                &r.shown
            };
            let body = json!({
                "id": r.record.id,
                "state": r.record.state,
                "decision": decision,
                "digest": digest(&r.record.text),
                "revision": r.record.revision,
            });
            match decision {
                Decision::Refuse { reasons } => {
                    let mut body = body;
                    body["reasons"] = json!(reasons);
                    (StatusCode::FORBIDDEN, Json(body)).into_response()
                }
                _ => (StatusCode::CREATED, Json(body)).into_response(),
            }
        }
        // The id is taken: the answer says which text this station holds under it, so that
        // a station passing the study on can tell "the same study" from "another text".
        Err(StationError::AlreadyReceived { id, held }) => {
            let a = api.approvals();
            let record = a.get(&id).ok().flatten();
            // How it stands is told to the steward and to whoever submitted it, not to
            // another researcher who happened to pick the same id.
            let theirs = from == STEWARD_ACTOR
                || a.log()
                    .submitters(Some(&id))
                    .is_ok_and(|s| s.iter().any(|(_, by)| by == from));
            let mut body = json!({
                "error": StationError::AlreadyReceived {
                    id: id.clone(),
                    held: held.filter(|_| theirs),
                }
                .to_string(),
                "id": id,
            });
            if let Some(r) = record {
                body["digest"] = json!(digest(&r.text));
                body["revision"] = json!(r.revision);
            }
            (StatusCode::CONFLICT, Json(body)).into_response()
        }
        Err(e) => failure(e),
    }
}

/// `GET /studies`: each study's state here and, past its approval, its run state.
async fn list_studies(
    State(api): Shared,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
) -> Response {
    // The steward sees every study, a researcher those they submitted, anyone else nothing.
    let mine = match api.caller(&headers, &peer) {
        Caller::Steward => None,
        Caller::Researcher(actor, _) => Some(actor),
        Caller::Station(_) | Caller::Anonymous => return not_known(),
    };
    let a = api.approvals();
    // Only a researcher's list needs who submitted what (any revision).
    let theirs: std::collections::BTreeSet<String> = match &mine {
        None => Default::default(),
        Some(me) => match a.log().submitters(None) {
            Ok(v) => v
                .into_iter()
                .filter(|(_, by)| by == me)
                .map(|(id, _)| id)
                .collect(),
            Err(e) => return failure(StationError::Audit(e)),
        },
    };
    let all = a.overview().map(|v| {
        v.into_iter()
            .filter(|r| mine.is_none() || theirs.contains(&r.id))
            .map(|r| {
                json!({
                    "id": r.id,
                    "state": r.state,
                    "received_at": r.received_at,
                    "reason": r.reason,
                    "run": r.run,
                    "revision": r.revision,
                })
            })
            .collect::<Vec<_>>()
    });
    match all {
        Ok(v) => Json(json!({ "studies": v })).into_response(),
        Err(e) => failure(e),
    }
}

/// `GET /studies/{id}`: the study, its state here, its run, and what the other stations
/// last said. The run's reason for the steward (with the token) includes what only the
/// steward may see; everyone else gets the public one.
async fn get_study(
    State(api): Shared,
    UrlPath(id): UrlPath<String>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
) -> Response {
    // The steward, a trusted station, or a researcher who submitted it here or is one of
    // its recipients by certificate (the study reached this station from another); to
    // another researcher the study does not exist here.
    let steward = match api.caller(&headers, &peer) {
        Caller::Steward => true,
        // A trusted station reads only the studies it takes part in.
        Caller::Station(name) => match api.study_of(&id) {
            Ok(Some(study)) if study.party(&name).is_some() => false,
            Ok(_) => return failure(StationError::UnknownStudy(id)),
            Err(e) => return failure(e),
        },
        Caller::Researcher(actor, fp) => match api.concerns(&id, &actor, &fp) {
            Ok(true) => false,
            Ok(false) => return failure(StationError::UnknownStudy(id)),
            Err(e) => return failure(e),
        },
        Caller::Anonymous => return not_known(),
    };
    let got = {
        let a = api.approvals();
        a.get(&id).and_then(|r| Ok((r, a.run(&id)?)))
    };
    match got {
        Ok((Some(r), run)) => {
            let mut body = detail(&r);
            if !steward {
                body["reason"] = json!(shown_reason(&r, run.as_ref()));
            } else {
                match api.approvals().log().steward_reasons(&id) {
                    Ok(Some(full)) => body["reason"] = json!(full.join("\n")),
                    Ok(None) => {}
                    Err(e) => return failure(e.into()),
                }
            }
            body["run"] = match run {
                None => Value::Null,
                Some(x) => json!({
                    "state": x.state,
                    "reason": if steward { x.reason } else { x.public_reason },
                    "updated_at": x.updated_at,
                }),
            };
            // Why another station could not be reached (addresses, TLS errors) is for the
            // steward; everyone else learns that it could not be.
            // Where the stations compute is theirs to know, too.
            let mut views = api.views(&id);
            if !steward {
                for v in views.iter_mut() {
                    v.compute = None;
                    if v.state == "unreachable" {
                        v.reason = Some(format!(
                            "station {} could not reach it (details in its steward's log)",
                            api.config.name
                        ));
                    }
                }
            }
            body["stations"] = json!(views);
            // How the earlier revisions ended here (the steward's reasons for the steward).
            // A database that cannot be read is an error, not a study without a past.
            let earlier = match api.approvals().earlier_revisions(&id) {
                Ok(e) => e,
                Err(e) => return failure(e),
            };
            body["earlier"] = json!(earlier
                .into_iter()
                .map(|e| json!({
                    "revision": e.revision,
                    "digest": e.digest,
                    "state": e.state,
                    "run": e.run,
                    "reason": if steward {
                        e.run_reason.or(e.reason)
                    } else {
                        e.run_public.or(e.reason)
                    },
                }))
                .collect::<Vec<_>>());
            body["progress"] = json!(api.progress(&id));
            // What the study will cost the compute stations at a few linked-table sizes,
            // from its text alone (for the steward deciding; public like the text).
            if let Ok(study) = api.parsed(&r.id, &r.text) {
                let cost: Vec<_> = tessera_study::estimate::SIZES
                    .iter()
                    .map(|&n| tessera_study::estimate::estimate(&study, n))
                    .collect();
                body["cost"] = json!(cost);
            }
            Json(body).into_response()
        }
        Ok((None, _)) => failure(StationError::UnknownStudy(id)),
        Err(e) => failure(e),
    }
}

/// `GET /studies/{id}/results` (a recipient of the study): this station's *shares* of the
/// recipient's results (it holds no result value), and where the other compute stations'
/// APIs are with their certificate fingerprints, so that the recipient's client can fetch
/// theirs and reconstruct. Every delivery is audited as `revealed`, one entry per analysis,
/// with the digest of the document delivered.
async fn results(
    State(api): Shared,
    ConnectInfo(peer): ConnectInfo<Peer>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    // Without any credential: a 401 before anything is looked up (whether the study exists
    // is not for strangers to learn).
    if peer.fingerprint.is_none() && bearer.is_none() {
        return not_known();
    }
    let not_a_recipient = || {
        error(
            StatusCode::FORBIDDEN,
            format!(
                "results of study {id} go to its recipients only: present the certificate \
                 the study lists for you, or the token the station issued you"
            ),
        )
    };
    let mut a = api.approvals();
    let study = match study_here(api.as_ref(), &a, &id) {
        Ok(s) => s,
        // An unknown study looks like one the caller is no recipient of.
        Err(StationError::UnknownStudy(_)) => return not_a_recipient(),
        Err(e) => return failure(e),
    };
    // Who asks: a recipient by its certificate, or by a token issued for this study. A
    // certificate counts only when this station's policy allows that recipient by its
    // fingerprint: a policy that names recipients only by name let the study's author
    // choose the certificate, so such a recipient needs a token the steward issued.
    let by_cert = peer.fingerprint.and_then(|fp| {
        let allowed = api
            .config
            .policy
            .recipients
            .contains(&RecipientRule::Fingerprint(fp));
        study
            .recipients
            .iter()
            .find(|r| allowed && r.fingerprint == Some(fp))
            .map(|r| r.name.clone())
    });
    let by_token = match (&by_cert, &bearer) {
        (None, Some(t)) => match a.token_recipient(&id, t) {
            Ok(r) => r,
            Err(e) => return failure(e),
        },
        _ => None,
    };
    let Some(recipient) = by_cert.or(by_token) else {
        return not_a_recipient();
    };
    let run = match a.run(&id) {
        Ok(r) => r,
        Err(e) => return failure(e),
    };
    let finished = run
        .as_ref()
        .is_some_and(|r| r.state == crate::runs::RunState::Finished);
    if !finished {
        let (state, reason) = match a.public_state(&id) {
            Ok(Some(p)) => (p.state, p.reason),
            Ok(None) => return failure(StationError::UnknownStudy(id)),
            Err(e) => return failure(e),
        };
        return (
            StatusCode::CONFLICT,
            Json(json!({
                "error": format!("study {id} has no results here: it is {state}"),
                "state": state,
                "reason": reason,
            })),
        )
            .into_response();
    }
    let docs = match a.results_for(&id, &recipient) {
        Ok(Some(d)) => d,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                format!("study {id} holds no results for {recipient}"),
            )
        }
        Err(e) => return failure(e),
    };
    // Audit each analysis delivered: shares, bound by the digest of the document.
    let delivered: Value = serde_json::from_str(&docs.json).unwrap_or(Value::Null);
    let sha = crate::approval::digest(&docs.json);
    let who = match peer.fingerprint {
        Some(fp) if bearer.is_none() => researcher_actor(&recipient, &fp),
        _ => format!("{recipient} (token)"),
    };
    for an in delivered["analyses"].as_array().into_iter().flatten() {
        let name = an["name"].as_str().unwrap_or("");
        let what = json!({
            "delivered": if an["shares"].is_string() { "shares" } else { "refusal" },
            "shares_sha256": sha,
            "error": an["error"],
        });
        if let Err(e) = a
            .log_mut()
            .revealed(&id, &api.config.name, name, &who, &what)
        {
            return failure(StationError::Audit(e));
        }
    }
    drop(a);
    // The other compute stations, as this station trusts them (API address, fingerprint).
    let compute: Vec<Value> = study
        .compute_parties()
        .iter()
        .filter(|n| **n != api.config.name)
        .filter_map(|n| api.config.trusted.iter().find(|t| t.name == *n))
        .map(|t| {
            json!({
                "station": t.name,
                "address": t.address,
                "fingerprint": fingerprint_hex(&t.fingerprint),
            })
        })
        .collect();
    let body = json!({
        "station": api.config.name,
        "shares": delivered,
        "compute": compute,
    });
    Json(body).into_response()
}

/// Study `id` as received here, validated at this station.
fn study_here(api: &Api, a: &Approvals, id: &str) -> Result<Arc<Study>, StationError> {
    let rec = a
        .get(id)?
        .ok_or_else(|| StationError::UnknownStudy(id.to_string()))?;
    Ok(api.parsed(id, &rec.text)?)
}

/// Runs the `/peer` routes for a trusted station only; anyone else gets [`not_known`]
/// before the body is read.
async fn stations_only(
    State(api): Shared,
    ConnectInfo(peer): ConnectInfo<Peer>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match api.station(&peer) {
        Some(_) => next.run(req).await,
        None => not_known(),
    }
}

/// Runs `POST /studies` for the steward or a listed researcher only; anyone else gets
/// [`not_known`] before the body is read.
async fn submitters_only(
    State(api): Shared,
    ConnectInfo(peer): ConnectInfo<Peer>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match api.caller(req.headers(), &peer) {
        Caller::Steward | Caller::Researcher(..) => next.run(req).await,
        Caller::Station(_) | Caller::Anonymous => not_known(),
    }
}

/// `POST /peer/studies` (a trusted station taking part in the study): another station
/// passes a study on. Received, decided and audited as a researcher's submission, with the
/// station as who submitted it.
async fn peer_submit(
    State(api): Shared,
    ConnectInfo(peer): ConnectInfo<Peer>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let Some(station) = api.station(&peer).map(|t| t.name.clone()) else {
        return not_known();
    };
    let revision = match revision_in(query.as_deref()) {
        Ok(r) => r.or(Some(1)),
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return error(StatusCode::BAD_REQUEST, "the study is not UTF-8 text");
    };
    match tessera_study::validate::parse_at_station(SUBMITTED_NAME, text, &api.config.name) {
        Ok(s) if s.party(&station).is_none() => {
            return error(
                StatusCode::FORBIDDEN,
                format!("station {station} does not take part in study {}", s.id),
            )
        }
        Ok(_) => {}
        Err(e) => return failure(StationError::Study(e)),
    }
    receive_answer(&api, &body, &format!("station {station}"), revision)
}

/// `POST /peer/studies/{id}/input` (a trusted station that is an outside data party of the
/// study, to a compute station of it that is ready): that party's dealer message for this
/// station's slot. Kept in memory until the computation takes it; `204` when kept.
async fn peer_input(
    State(api): Shared,
    ConnectInfo(peer): ConnectInfo<Peer>,
    UrlPath(id): UrlPath<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let Some(station) = api.station(&peer).map(|t| t.name.clone()) else {
        return not_known();
    };
    let revision = match revision_in(query.as_deref()) {
        Ok(r) => r.unwrap_or(1),
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let ready = {
        let a = api.approvals();
        let study = match study_here(api.as_ref(), &a, &id) {
            Ok(s) => s,
            Err(e) => return failure(e),
        };
        let outside = study.party(&station).is_some_and(|p| p.compute.is_none())
            && study.data.iter().any(|d| d.party == station);
        let compute = study
            .party(&api.config.name)
            .is_some_and(|p| p.compute.is_some());
        if !outside || !compute {
            return error(
                StatusCode::FORBIDDEN,
                format!(
                    "study {id}: inputs go from an outside data party ({station} is not one) \
                     to a compute station ({} is {})",
                    api.config.name,
                    if compute { "one" } else { "not" }
                ),
            );
        }
        // A message dealt for another revision would compute on its data with this one.
        let current = a.get(&id).ok().flatten().map(|r| r.revision);
        if current != Some(revision) {
            return error(
                StatusCode::CONFLICT,
                format!(
                    "study {id}: this input is for revision {revision}, {} holds revision {}",
                    api.config.name,
                    current.map_or("none".to_string(), |r| r.to_string())
                ),
            );
        }
        match a.run(&id) {
            Ok(r) => r.is_some_and(|r| r.state == crate::runs::RunState::Ready),
            Err(e) => return failure(e),
        }
    };
    if !ready {
        return error(
            StatusCode::CONFLICT,
            format!("study {id} is not ready to run at {}", api.config.name),
        );
    }
    api.put_input(&id, &station, body.to_vec());
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /peer/studies/{id}` (a trusted station taking part in the study): this station's
/// public state of the study.
async fn peer_state(
    State(api): Shared,
    ConnectInfo(peer): ConnectInfo<Peer>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let Some(station) = api.station(&peer).map(|t| t.name.clone()) else {
        return not_known();
    };
    let a = api.approvals();
    let study = match study_here(api.as_ref(), &a, &id) {
        Ok(s) => s,
        Err(e) => return failure(e),
    };
    if study.party(&station).is_none() {
        return error(
            StatusCode::FORBIDDEN,
            format!("station {station} does not take part in study {id}"),
        );
    }
    match a.public_state(&id) {
        Ok(Some(mut s)) => {
            // Once ready, a compute station tells the others where to meet it.
            s.compute = api.compute_address(&id);
            Json(s).into_response()
        }
        Ok(None) => failure(StationError::UnknownStudy(id)),
        Err(e) => failure(e),
    }
}

/// `GET /peer/audit/head` (a trusted station): this station's audit head, signed with its
/// identity key, for the asking station to keep ([`crate::anchor`]).
async fn peer_audit_head(State(api): Shared, ConnectInfo(peer): ConnectInfo<Peer>) -> Response {
    if api.station(&peer).is_none() {
        return not_known();
    }
    match crate::anchoring::own_head(&api) {
        Ok(a) => Json(a).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// `GET /peer/audit/kept` (a trusted station): the heads of the asking station's log that
/// this station kept, for its `audit verify`.
async fn peer_audit_kept(State(api): Shared, ConnectInfo(peer): ConnectInfo<Peer>) -> Response {
    let Some(t) = api.station(&peer).cloned() else {
        return not_known();
    };
    let kept = api.approvals().peer_heads().of(&t.fingerprint);
    match kept {
        Ok(heads) => Json(json!({ "station": api.config.name, "heads": heads })).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /catalogue` (the steward, a listed researcher or a trusted station): this station's
/// [`Catalogue`]; for the steward and researchers also the catalogues of the stations it
/// trusts ([`crate::catalogue::CatalogueCache`]: fetched at most every 30 s per peer and
/// researcher), each only if that station lists the researcher too, so a researcher can
/// check a study against every station that knows them. A station asking gets this
/// station's own only, and when it asks on behalf of a researcher
/// ([`crate::catalogue::ON_BEHALF_OF`]), only if this station lists that researcher.
async fn catalogue(
    State(api): Shared,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
) -> Response {
    let own = Catalogue::of(&api.config, &api.identity.fingerprint());
    let asker = match api.caller(&headers, &peer) {
        Caller::Anonymous => return not_known(),
        Caller::Station(name) => {
            // Asked on behalf of a researcher: only one this station lists itself.
            if let Some(v) = headers.get(crate::catalogue::ON_BEHALF_OF) {
                let listed = v
                    .to_str()
                    .ok()
                    .and_then(|v| v.strip_prefix("sha256:"))
                    .and_then(|hex| tessera_net::identity::parse_fingerprint(hex).ok())
                    .is_some_and(|fp| api.config.researchers.iter().any(|r| r.fingerprint == fp));
                if !listed {
                    return error(
                        StatusCode::FORBIDDEN,
                        format!(
                            "{} does not list the researcher {name} asks for",
                            api.config.name
                        ),
                    );
                }
            }
            return Json(CatalogueAnswer {
                catalogue: own,
                peers: Vec::new(),
            })
            .into_response();
        }
        Caller::Steward => None,
        Caller::Researcher(_, fp) => Some(fp),
    };
    let peers = {
        let api = Arc::clone(&api);
        tokio::task::spawn_blocking(move || {
            api.catalogues.peer_catalogues(
                &api.config.trusted,
                &api.identity,
                api.options.peer_timeout,
                asker,
            )
        })
        .await
        .unwrap_or_default()
    };
    Json(CatalogueAnswer {
        catalogue: own,
        peers,
    })
    .into_response()
}

/// The body of approve and refuse: `{"why": …, "by": …}`, both optional here.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DecideBody {
    #[serde(default)]
    why: Option<String>,
    #[serde(default)]
    by: Option<String>,
}

/// Parses the body of approve and refuse (an empty body is `{}`); the error message
/// otherwise.
fn decide_body(body: &Bytes) -> Result<DecideBody, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(DecideBody::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| format!("the body must be a JSON object {{\"why\": TEXT, \"by\": NAME}}: {e}"))
}

/// A steward's decision on study `id`: checks the token, parses the body, applies it.
fn decide(api: &Api, id: &str, headers: &HeaderMap, body: &Bytes, approve: bool) -> Response {
    if !api.is_steward(headers) {
        return unauthorised();
    }
    let b = match decide_body(body) {
        Ok(b) => b,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let by = b.by.unwrap_or_else(|| DEFAULT_BY.to_string());
    let got = if approve {
        api.approvals().approve(id, &by)
    } else {
        api.approvals()
            .refuse(id, &by, b.why.as_deref().unwrap_or_default())
    };
    match got {
        Ok(r) => {
            api.nudge();
            Json(summary(&r)).into_response()
        }
        Err(e) => failure(e),
    }
}

/// `POST /studies/{id}/approve` (steward): `{"by": …}` optional.
async fn approve(
    State(api): Shared,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    decide(&api, &id, &headers, &body, true)
}

/// `POST /studies/{id}/refuse` (steward): `{"why": …}` required, `"by"` optional.
async fn refuse(
    State(api): Shared,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    decide(&api, &id, &headers, &body, false)
}

/// `GET /audit` (steward): every entry, `details` being exactly the text that was hashed.
async fn audit(State(api): Shared, headers: HeaderMap) -> Response {
    if !api.is_steward(&headers) {
        return unauthorised();
    }
    let entries = api.approvals().log().entries();
    match entries {
        Ok(v) => Json(json!({ "entries": v })).into_response(),
        Err(e) => failure(StationError::Audit(e)),
    }
}

/// `GET /audit/verify` (steward): the chain, the head, the triggers, the studies' states
/// against the log and the log against the heads the trusted stations kept of it, as
/// `tessera station audit verify` checks them (without an anchor of the steward's).
async fn verify(State(api): Shared, headers: HeaderMap) -> Response {
    if !api.is_steward(&headers) {
        return unauthorised();
    }
    // The local checks, under the lock (released before the peers are asked).
    let local = {
        let a = api.approvals();
        let verified = match a.log().verify() {
            Ok(r) => Ok((json!(r.entries), json!(r.head), Vec::new())),
            Err(AuditError::Tampered { problems, .. }) => {
                let (n, h) = match a.log().head() {
                    Ok((n, h)) => (json!(n), json!(h)),
                    Err(_) => (Value::Null, Value::Null),
                };
                Ok((
                    n,
                    h,
                    problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                ))
            }
            Err(e) => Err(e),
        };
        verified.map(|(entries, head, mut problems)| {
            match a.check_against_log() {
                Ok(v) => problems.extend(v),
                Err(e) => problems.push(format!(
                    "the studies cannot be checked against the log: {e}"
                )),
            }
            (entries, head, problems, a.log().hashes())
        })
    };
    let (entries, head, mut problems, hashes) = match local {
        Ok(l) => l,
        Err(e) => return failure(StationError::Audit(e)),
    };
    // The peers are asked off the runtime's thread (each within the peer timeout).
    let asking = Arc::clone(&api);
    let records = tokio::task::spawn_blocking(move || {
        crate::anchoring::collect(
            &asking.config,
            &asking.identity,
            asking.options.peer_timeout,
        )
    })
    .await
    .unwrap_or_default();
    let peers = match hashes {
        Ok(hashes) => {
            let r = crate::anchor::check(&hashes, &api.identity.cert_der, &records);
            problems.extend(r.problems);
            r.peers
                .into_iter()
                .map(|(station, kept)| match kept {
                    Ok(k) => json!({"station": station, "heads": k.heads, "up_to": k.up_to}),
                    Err(why) => json!({"station": station, "error": why}),
                })
                .collect()
        }
        Err(e) => {
            problems.push(format!("the entries cannot be read: {e}"));
            Vec::new()
        }
    };
    Json(json!({
        "intact": problems.is_empty(),
        "entries": entries,
        "head": head,
        "problems": problems,
        "peers": peers,
    }))
    .into_response()
}
