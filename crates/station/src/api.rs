//! The station's HTTP API (`tessera station serve`): submit a study, list studies and their
//! state, approve or refuse (steward only), read and verify the audit log (steward only).
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
//! how much of a guess is right. Submitting and reading studies' states need no token yet;
//! researchers' authentication (certificates or station-issued tokens) comes with results.
//!
//! LEAKAGE: nothing patient-level is served. Studies, decisions, reasons and the audit
//! entries (whose `revealed` details hold only aggregate, policy-approved results) are the
//! only data; results are not served yet (studies are not run by the service).
//!
//! The server is plain HTTP/1.1 on `[station] listen`: put it behind a TLS proxy, or bind
//! it to loopback, before exposing it.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::approval::{Approvals, StudyRecord};
use crate::config::Config;
use crate::error::{AuditError, StationError};
use crate::policy::Decision;
use crate::receive::receive_text;

/// The name a submitted study has in messages (`study.toml:LINE:COL: …`).
pub const SUBMITTED_NAME: &str = "study.toml";

/// Who submitted a study when the request has no `X-Tessera-From` header.
pub const DEFAULT_FROM: &str = "http";

/// Who decides when an approval or refusal names nobody (`"by"` absent).
pub const DEFAULT_BY: &str = "steward";

/// The header naming who submits a study (recorded in the audit log).
pub const FROM_HEADER: &str = "x-tessera-from";

/// What the handlers share: the configuration, the approvals (and audit log) behind a
/// mutex, and the steward's token.
pub struct Api {
    config: Config,
    approvals: Mutex<Approvals>,
    token: String,
}

impl Api {
    /// The service state for `config`, its opened `approvals` and the steward's `token`.
    pub fn new(config: Config, approvals: Approvals, token: String) -> Api {
        Api {
            config,
            approvals: Mutex::new(approvals),
            token,
        }
    }

    /// The approvals; a handler that panicked mid-transaction left nothing half-written
    /// (SQLite rolls the transaction back), so a poisoned lock is still usable.
    fn approvals(&self) -> MutexGuard<'_, Approvals> {
        self.approvals.lock().unwrap_or_else(|p| p.into_inner())
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
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| StationError::Config(format!("{name}: no randomness for the token: {e}")))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| StationError::Config(format!("{name}: cannot create the token: {e}")))?;
    writeln!(f, "{token}")
        .map_err(|e| StationError::Config(format!("{name}: cannot write the token: {e}")))?;
    Ok((token, true))
}

/// The router with every route of the API (documented in `docs/station.md`).
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/studies", get(list_studies).post(submit))
        .route("/studies/{id}", get(get_study))
        .route("/studies/{id}/approve", post(approve))
        .route("/studies/{id}/refuse", post(refuse))
        .route("/audit", get(audit))
        .route("/audit/verify", get(verify))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
        .with_state(Arc::new(api))
}

/// Serves `api` on `listener` until the process is killed (a current-thread runtime: the
/// handlers' SQLite work is short and serialised by the mutex anyway).
pub fn serve(listener: std::net::TcpListener, api: Api) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        axum::serve(listener, router(api)).await
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
        StationError::AlreadyReceived(_) | StationError::Transition { .. } => StatusCode::CONFLICT,
        StationError::Config(_) | StationError::Audit(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.to_string())
}

fn unauthorised() -> Response {
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "the steward's token is needed (Authorization: Bearer TOKEN)",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    r
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
        "study": r.text,
    })
}

/// `POST /studies`: the body is the study's TOML text.
async fn submit(State(api): Shared, headers: HeaderMap, body: Bytes) -> Response {
    let from = match headers.get(FROM_HEADER) {
        None => DEFAULT_FROM.to_string(),
        Some(v) => match v.to_str() {
            Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "X-Tessera-From must be a non-empty visible ASCII name",
                )
            }
        },
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("{SUBMITTED_NAME}: the study is not UTF-8 text"),
        );
    };
    let got = {
        let mut a = api.approvals();
        receive_text(&api.config, &mut a, SUBMITTED_NAME, text, &from)
    };
    match got {
        Ok(r) => {
            let body = json!({
                "id": r.record.id,
                "state": r.record.state,
                "decision": r.decision,
            });
            match &r.decision {
                Decision::Refuse { reasons } => {
                    let mut body = body;
                    body["reasons"] = json!(reasons);
                    (StatusCode::FORBIDDEN, Json(body)).into_response()
                }
                _ => (StatusCode::CREATED, Json(body)).into_response(),
            }
        }
        Err(e) => failure(e),
    }
}

/// `GET /studies`.
async fn list_studies(State(api): Shared) -> Response {
    let all = api.approvals().all();
    match all {
        Ok(v) => {
            Json(json!({ "studies": v.iter().map(summary).collect::<Vec<_>>() })).into_response()
        }
        Err(e) => failure(e),
    }
}

/// `GET /studies/{id}`.
async fn get_study(State(api): Shared, UrlPath(id): UrlPath<String>) -> Response {
    let got = api.approvals().get(&id);
    match got {
        Ok(Some(r)) => Json(detail(&r)).into_response(),
        Ok(None) => failure(StationError::UnknownStudy(id)),
        Err(e) => failure(e),
    }
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
        Ok(r) => Json(summary(&r)).into_response(),
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

/// `GET /audit/verify` (steward): the chain, the head, the triggers and the studies' states
/// against the log, as `tessera station audit verify` checks them (without an anchor).
async fn verify(State(api): Shared, headers: HeaderMap) -> Response {
    if !api.is_steward(&headers) {
        return unauthorised();
    }
    let a = api.approvals();
    let (entries, head, mut problems) = match a.log().verify() {
        Ok(r) => (json!(r.entries), json!(r.head), Vec::new()),
        Err(AuditError::Tampered { problems, .. }) => {
            let (n, h) = match a.log().head() {
                Ok((n, h)) => (json!(n), json!(h)),
                Err(_) => (Value::Null, Value::Null),
            };
            (n, h, problems.iter().map(|p| p.to_string()).collect())
        }
        Err(e) => return failure(StationError::Audit(e)),
    };
    match a.check_against_log() {
        Ok(v) => problems.extend(v),
        Err(e) => problems.push(format!(
            "the studies cannot be checked against the log: {e}"
        )),
    }
    drop(a);
    Json(json!({
        "intact": problems.is_empty(),
        "entries": entries,
        "head": head,
        "problems": problems,
    }))
    .into_response()
}
