//! What happens to an approved study at this station after the approvals: its run state,
//! the results held for its recipients, and the tokens the steward issues them.
//!
//! ```text
//!   Approved ── own data read and checked ──► Ready ── every station ready ──► Running
//!      │                                        │                               │
//!      │ data invalid: refused ("input invalid" to the others)                  ├──► Finished
//!      └────────────── another station refused or stopped ──► Stopped          └──► Aborted
//! ```
//!
//! Each change is stored in table `runs` of the audit log's file and audited in the same
//! transaction (`run_started`, `run_finished`, `run_aborted`; a study stopped because
//! another station refused is `run_aborted` too, with that reason). Results are stored per
//! recipient (table `held_shares`: this station's shares of the analyses that name that
//! recipient, never a result value), so serving them never filters at request time. Tokens are
//! stored as SHA-256 digests (table `tokens`), bound to one study and one recipient.
//!
//! Two reasons are kept for a stopped or aborted study: the steward's (which may name a
//! file, line and column of the station's own data) and the public one given to the other
//! stations and the researcher (for invalid input only "input invalid").

use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};

use crate::approval::{db_error, digest, study_in, Approvals, StudyRecord, StudyState};
use crate::audit::{self, EntryKind};
use crate::error::{Result, StationError};
use crate::time::now_rfc3339;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id            TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    reason        TEXT,
    public_reason TEXT,
    updated_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS held_shares (
    id        TEXT NOT NULL,
    recipient TEXT NOT NULL,
    shares    TEXT NOT NULL,
    PRIMARY KEY (id, recipient)
);
CREATE TABLE IF NOT EXISTS tokens (
    digest    TEXT PRIMARY KEY,
    id        TEXT NOT NULL,
    recipient TEXT NOT NULL,
    issued_at TEXT NOT NULL
);
";

/// The public reason given for a study whose data failed this station's checks: the
/// details (file, line, column) are for the steward only.
pub const INPUT_INVALID: &str = "input invalid";

/// Where an approved study's run stands at this station.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// This station's data was read and checked: it waits for the other stations.
    Ready,
    /// The computation is under way.
    Running,
    /// The results are held for the recipients.
    Finished,
    /// The computation failed or a station left it: nothing was revealed.
    Aborted,
    /// Another station refused or stopped the study before it ran.
    Stopped,
}

impl RunState {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Ready => "ready",
            RunState::Running => "running",
            RunState::Finished => "finished",
            RunState::Aborted => "aborted",
            RunState::Stopped => "stopped",
        }
    }

    fn parse(s: &str) -> Option<RunState> {
        [
            RunState::Ready,
            RunState::Running,
            RunState::Finished,
            RunState::Aborted,
            RunState::Stopped,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// Whether the study can no longer change here.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunState::Finished | RunState::Aborted | RunState::Stopped
        )
    }
}

/// A study's run at this station.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RunRecord {
    /// The state.
    pub state: RunState,
    /// Why it stopped or aborted, for the steward.
    pub reason: Option<String>,
    /// Why it stopped or aborted, for the other stations and the researcher.
    pub public_reason: Option<String>,
    /// When the state was last changed (RFC 3339 UTC).
    pub updated_at: String,
}

/// What this station holds for one recipient: its shares of the analyses naming that
/// recipient, with their public facts ([`tessera_study::deliver::StationShares`] as JSON).
/// No result value: the recipient needs the shares of all three compute stations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldShares {
    /// The document served to the recipient.
    pub json: String,
}

/// What a station tells the others (and the researcher) about a study: the state word
/// (`pending`, `approved`, `refused`, or a [`RunState`]), the public reason, and the
/// digest of the text it holds (stations compare digests before reading any data: see
/// `coordinate`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PublicState {
    /// The state word.
    pub state: String,
    /// Why, when refused, stopped or aborted.
    pub reason: Option<String>,
    /// SHA-256 of the study's text as this station holds it (lowercase hex).
    pub digest: String,
    /// The revision this station holds (1 from a station that predates revisions).
    #[serde(default = "first_revision")]
    pub revision: u32,
    /// A compute station that is ready: the `host:port` it listens on for this study's
    /// computation (picked from its own `[compute]` configuration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<String>,
}

fn first_revision() -> u32 {
    1
}

/// 32 random bytes in hex: a bearer token (the steward's, a recipient's).
pub(crate) fn random_token() -> std::result::Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| format!("no randomness for the token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The reason of study `rec` (with its `run`) as shown to anyone but this station's steward:
/// for a refusal because of this station's data only the public reason ("input invalid"),
/// else the decision's reason (the approving rule, the refusal reasons, why a person must
/// decide).
pub fn shown_reason(rec: &StudyRecord, run: Option<&RunRecord>) -> Option<String> {
    shown(
        rec.state,
        rec.reason.clone(),
        run.and_then(|r| r.public_reason.clone()),
    )
}

/// The reason shown for a study in `state` with this station's `reason` and its run's
/// `public` one: a refusal by this station's data check shows only the public reason.
fn shown(state: StudyState, reason: Option<String>, public: Option<String>) -> Option<String> {
    match (state, public) {
        (StudyState::Refused, Some(public)) => Some(public),
        _ => reason,
    }
}

/// One line of the list of studies: what `GET /studies` shows, read without the studies'
/// texts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overview {
    /// The study's id.
    pub id: String,
    /// Its state here.
    pub state: StudyState,
    /// The reason shown ([`shown_reason`]).
    pub reason: Option<String>,
    /// When it was received.
    pub received_at: String,
    /// Its run's state, once it has one.
    pub run: Option<RunState>,
    /// Its revision.
    pub revision: u32,
}

impl Approvals {
    /// Every study with its run, oldest first, in one query that leaves the texts on disk
    /// (listing 1,000 studies read each text and asked for each run apart: 28 ms).
    pub fn overview(&self) -> Result<Vec<Overview>> {
        let db = |e| StationError::Audit(self.log.db_err(e));
        let mut stmt = self
            .log
            .conn
            .prepare(
                "SELECT s.id, s.state, s.reason, s.received_at, r.state, r.public_reason,
                     s.revision
                 FROM studies s LEFT JOIN runs r ON r.id = s.id
                 ORDER BY s.received_at, s.id",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, u32>(6)?,
                ))
            })
            .and_then(|it| it.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(db)?;
        rows.into_iter()
            .map(|(id, state, reason, received_at, run, public, revision)| {
                let state = StudyState::parse(&state).ok_or_else(|| {
                    StationError::Invalid(format!("study {id}: unknown state {state:?}"))
                })?;
                let run = run
                    .map(|x| {
                        RunState::parse(&x).ok_or_else(|| {
                            StationError::Invalid(format!("study {id}: unknown run state {x:?}"))
                        })
                    })
                    .transpose()?;
                let reason = shown(state, reason, public);
                Ok(Overview {
                    id,
                    state,
                    reason,
                    received_at,
                    run,
                    revision,
                })
            })
            .collect()
    }
}

/// Writes study `id`'s run state `to` with its reasons (the steward's, the public one) inside
/// transaction `tx` of the audit file `path`.
pub(crate) fn write_run(
    tx: &rusqlite::Transaction<'_>,
    path: &str,
    id: &str,
    to: RunState,
    reasons: (Option<&str>, Option<&str>),
) -> Result<()> {
    tx.execute(
        "INSERT INTO runs (id, state, reason, public_reason, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(id) DO UPDATE SET state = ?2, reason = ?3, public_reason = ?4,
             updated_at = ?5",
        params![id, to.as_str(), reasons.0, reasons.1, now_rfc3339()],
    )
    .map_err(|e| StationError::Audit(db_error(path, e)))?;
    Ok(())
}

impl Approvals {
    pub(crate) fn create_run_tables(&self) -> Result<()> {
        self.log
            .conn
            .execute_batch(SCHEMA)
            .map_err(|e| StationError::Audit(self.log.db_err(e)))
    }

    /// The run of study `id`, if it got past its approval here.
    pub fn run(&self, id: &str) -> Result<Option<RunRecord>> {
        run_in(&self.log.conn, &self.log.path, id)
    }

    /// What the other stations and the researcher are told about study `id`.
    pub fn public_state(&self, id: &str) -> Result<Option<PublicState>> {
        let Some(rec) = self.get(id)? else {
            return Ok(None);
        };
        let run = self.run(id)?;
        let digest = digest(&rec.text);
        if rec.state == StudyState::Refused {
            return Ok(Some(PublicState {
                state: rec.state.as_str().to_string(),
                reason: shown_reason(&rec, run.as_ref()),
                digest,
                revision: rec.revision,
                compute: None,
            }));
        }
        if let Some(run) = run {
            return Ok(Some(PublicState {
                state: run.state.as_str().to_string(),
                reason: run.public_reason,
                digest,
                revision: rec.revision,
                compute: None,
            }));
        }
        Ok(Some(PublicState {
            state: rec.state.as_str().to_string(),
            reason: None,
            digest,
            revision: rec.revision,
            compute: None,
        }))
    }

    /// Moves study `id`'s run to `to`, auditing `kind` (if any) with `details` by `actor` and
    /// storing `docs` (each recipient's results) in the same transaction. `from` lists the
    /// states it may be in (`None`: no run yet).
    fn set_run(
        &mut self,
        id: &str,
        from: &[Option<RunState>],
        to: RunState,
        reasons: (Option<&str>, Option<&str>),
        audit_entry: Option<(EntryKind, &str, Value)>,
        docs: &[(String, HeldShares)],
    ) -> Result<RunRecord> {
        // Checked and changed in one immediate transaction: a decision taken beside the
        // service at the same moment (the steward's command) is seen, never overwritten.
        self.in_transaction(|tx, path| {
            let db = |e| StationError::Audit(db_error(path, e));
            let rec = study_in(tx, path, id)?;
            let current = run_in(tx, path, id)?.map(|r| r.state);
            // A run gets ready or starts only while the study is approved here.
            let study_allows = !matches!(to, RunState::Ready | RunState::Running)
                || rec
                    .as_ref()
                    .is_some_and(|r| r.state == StudyState::Approved);
            if !from.contains(&current) || !study_allows {
                return Err(StationError::Transition {
                    id: id.to_string(),
                    state: match (&rec, current) {
                        (Some(r), _) if r.state != StudyState::Approved => r.state.to_string(),
                        _ => current.map_or("approved", RunState::as_str).to_string(),
                    },
                    action: format!("move to {}", to.as_str()),
                });
            }
            // Every run entry names the text it is about (the study's digest).
            let sha256 = rec.map(|r| digest(&r.text));
            if let Some((kind, actor, mut details)) = audit_entry {
                if let (Some(d), Some(obj)) = (&sha256, details.as_object_mut()) {
                    obj.insert("sha256".to_string(), json!(d));
                }
                audit::append_in(tx, path, kind, Some(id), actor, &details)?;
            }
            for (recipient, d) in docs {
                tx.execute(
                    "INSERT OR REPLACE INTO held_shares (id, recipient, shares)
                     VALUES (?1, ?2, ?3)",
                    params![id, recipient, d.json],
                )
                .map_err(db)?;
            }
            write_run(tx, path, id, to, reasons)
        })?;
        self.run(id)?
            .ok_or_else(|| StationError::UnknownStudy(id.to_string()))
    }

    /// This station read and checked its data for approved study `id`: it is ready to run.
    pub fn mark_ready(&mut self, id: &str) -> Result<RunRecord> {
        let rec = self
            .get(id)?
            .ok_or_else(|| StationError::UnknownStudy(id.to_string()))?;
        if rec.state != StudyState::Approved {
            return Err(StationError::Transition {
                id: id.to_string(),
                state: rec.state.to_string(),
                action: "get ready to run".to_string(),
            });
        }
        self.set_run(id, &[None], RunState::Ready, (None, None), None, &[])
    }

    /// This station's data failed its checks for study `id`: the study is refused here,
    /// with `why` (file, line, column) recorded for the steward and [`INPUT_INVALID`] told
    /// to everyone else.
    pub fn refuse_input(&mut self, id: &str, actor: &str, why: &str) -> Result<RunRecord> {
        // One transaction: the other stations must never see the refusal without the public
        // reason that hides the details.
        self.decide_with(
            id,
            actor,
            StudyState::Refused,
            Some(why),
            crate::events::DATA_CHECK,
            |tx, path| {
                write_run(
                    tx,
                    path,
                    id,
                    RunState::Stopped,
                    (Some(why), Some(INPUT_INVALID)),
                )
            },
        )?;
        self.run(id)?
            .ok_or_else(|| StationError::UnknownStudy(id.to_string()))
    }

    /// Another station refused or stopped study `id` (`why` names it): it stops here too
    /// (audited as `run_aborted`).
    pub fn stop(&mut self, id: &str, actor: &str, why: &str) -> Result<RunRecord> {
        self.set_run(
            id,
            &[None, Some(RunState::Ready)],
            RunState::Stopped,
            (Some(why), Some(why)),
            Some((
                EntryKind::RunAborted,
                actor,
                json!({ "why": why, "ran": false }),
            )),
            &[],
        )
    }

    /// The run of study `id` starts (audited as `run_started` with `details`).
    pub fn start(&mut self, id: &str, actor: &str, details: Value) -> Result<RunRecord> {
        self.set_run(
            id,
            &[Some(RunState::Ready)],
            RunState::Running,
            (None, None),
            Some((EntryKind::RunStarted, actor, details)),
            &[],
        )
    }

    /// The run of study `id` failed: `why` for the steward, `public` for everyone else
    /// (audited as `run_aborted`). Nothing is stored for the recipients.
    pub fn abort(&mut self, id: &str, actor: &str, why: &str, public: &str) -> Result<RunRecord> {
        self.set_run(
            id,
            &[Some(RunState::Running)],
            RunState::Aborted,
            (Some(why), Some(public)),
            Some((
                EntryKind::RunAborted,
                actor,
                json!({ "why": why, "ran": true }),
            )),
            &[],
        )
    }

    /// The run of study `id` finished: `docs` holds each recipient's documents, stored in
    /// the same transaction as the `run_finished` entry (with `details`).
    pub fn finish(
        &mut self,
        id: &str,
        actor: &str,
        details: Value,
        docs: &[(String, HeldShares)],
    ) -> Result<RunRecord> {
        self.set_run(
            id,
            &[Some(RunState::Running)],
            RunState::Finished,
            (None, None),
            Some((EntryKind::RunFinished, actor, details)),
            docs,
        )
    }

    /// Studies whose run was under way when the service stopped: each is aborted (the
    /// other stations gave up on it too), returning their ids.
    pub fn abort_interrupted(&mut self, actor: &str) -> Result<Vec<String>> {
        let ids: Vec<String> = {
            let mut stmt = self
                .log
                .conn
                .prepare("SELECT id FROM runs WHERE state = 'running' ORDER BY id")
                .map_err(|e| StationError::Audit(self.log.db_err(e)))?;
            let rows = stmt
                .query_map([], |r| r.get(0))
                .and_then(|it| it.collect::<rusqlite::Result<Vec<String>>>())
                .map_err(|e| StationError::Audit(self.log.db_err(e)));
            rows?
        };
        let why = "the station stopped during the run";
        for id in &ids {
            self.abort(id, actor, why, why)?;
        }
        Ok(ids)
    }

    /// The run records and the recipients' tokens against the audit log, one problem per
    /// mismatch: a run stored as `finished` needs `run_finished` as its study's last run
    /// entry, `running` a `run_started`, `aborted` a `run_aborted` that ran, `stopped` none
    /// or a `run_aborted` that did not run, `ready` none; a run entry without a stored run
    /// is missing. Every stored token needs the `token_issued` entry that recorded its
    /// SHA-256 (an entry from before that field vouches for one token of its recipient).
    /// So a run turned `finished`, or a token slipped into the file, shows in `audit verify`.
    pub fn check_runs_against_log(&self) -> Result<Vec<String>> {
        self.runs_against(&self.log.entries()?)
    }

    /// [`Approvals::check_runs_against_log`] on the log's `entries`, already read.
    pub(crate) fn runs_against(&self, entries: &[crate::audit::Entry]) -> Result<Vec<String>> {
        use std::collections::BTreeMap;
        let mut last: BTreeMap<String, (EntryKind, bool)> = BTreeMap::new();
        let mut issued: BTreeMap<(String, String), Vec<Option<String>>> = BTreeMap::new();
        for e in entries {
            let Some(id) = e.study.clone() else { continue };
            match e.kind {
                // A revision starts without a run.
                EntryKind::StudyReceived => {
                    last.remove(&id);
                }
                EntryKind::RunStarted | EntryKind::RunFinished => {
                    last.insert(id, (e.kind, true));
                }
                EntryKind::RunAborted => {
                    let ran = e.details_json()["ran"].as_bool().unwrap_or(true);
                    last.insert(id, (e.kind, ran));
                }
                EntryKind::TokenIssued => {
                    let d = e.details_json();
                    let recipient = d["recipient"].as_str().unwrap_or("").to_string();
                    issued
                        .entry((id, recipient))
                        .or_default()
                        .push(d["token_sha256"].as_str().map(str::to_string));
                }
                _ => {}
            }
        }
        let query = |sql: &str, cols: usize| -> Result<Vec<Vec<String>>> {
            let mut stmt = self
                .log
                .conn
                .prepare(sql)
                .map_err(|e| StationError::Audit(self.log.db_err(e)))?;
            let rows = stmt
                .query_map([], |r| (0..cols).map(|i| r.get::<_, String>(i)).collect())
                .and_then(|it| it.collect::<rusqlite::Result<Vec<Vec<String>>>>())
                .map_err(|e| StationError::Audit(self.log.db_err(e)))?;
            Ok(rows)
        };
        let mut out = Vec::new();
        for row in query("SELECT id, state FROM runs ORDER BY id", 2)? {
            let (id, state) = (&row[0], row[1].as_str());
            let entry = last.remove(id);
            use EntryKind::{RunAborted, RunFinished, RunStarted};
            let agrees = matches!(
                (state, entry),
                ("ready", None)
                    | ("stopped", None)
                    | ("stopped", Some((RunAborted, false)))
                    | ("running", Some((RunStarted, _)))
                    | ("finished", Some((RunFinished, _)))
                    | ("aborted", Some((RunAborted, true)))
            );
            if !agrees {
                let said = entry.map_or("no run entry".to_string(), |(k, _)| format!("{k} last"));
                out.push(format!(
                    "study {id}: its run is stored as {state}, the audit log has {said}"
                ));
            }
        }
        for (id, (kind, _)) in last {
            out.push(format!(
                "study {id}: the audit log records {kind} but no run is stored"
            ));
        }
        for row in query(
            "SELECT digest, id, recipient FROM tokens ORDER BY id, recipient",
            3,
        )? {
            let (d, id, recipient) = (&row[0], &row[1], &row[2]);
            let vouched = issued
                .get_mut(&(id.clone(), recipient.clone()))
                .and_then(|v| {
                    let i = v
                        .iter()
                        .position(|x| x.as_deref() == Some(d.as_str()))
                        .or_else(|| v.iter().position(Option::is_none))?;
                    Some(v.remove(i))
                })
                .is_some();
            if !vouched {
                out.push(format!(
                    "study {id}: a token for {recipient} that no token_issued entry records"
                ));
            }
        }
        Ok(out)
    }

    /// The shares held for the recipients against the digests their `run_finished` entries
    /// recorded: one problem for each document altered, added or missing (the stored shares
    /// are not hash-chained themselves; the chain holds their digests).
    pub fn check_held_against_log(&self) -> Result<Vec<String>> {
        self.held_against(&self.log.entries()?)
    }

    /// [`Approvals::check_held_against_log`] on the log's `entries`, already read.
    pub(crate) fn held_against(&self, entries: &[crate::audit::Entry]) -> Result<Vec<String>> {
        use std::collections::BTreeMap;
        let mut want: BTreeMap<(String, String), String> = BTreeMap::new();
        for e in entries {
            let Some(id) = e.study.clone() else { continue };
            // A later revision drops what was held for the one it replaces.
            if e.kind == EntryKind::StudyReceived {
                want.retain(|(i, _), _| *i != id);
                continue;
            }
            if e.kind != EntryKind::RunFinished {
                continue;
            }
            for h in e.details_json()["held_for"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if let (Some(r), Some(d)) = (h["recipient"].as_str(), h["shares_sha256"].as_str()) {
                    want.insert((id.clone(), r.to_string()), d.to_string());
                }
            }
        }
        let mut stmt = self
            .log
            .conn
            .prepare("SELECT id, recipient, shares FROM held_shares ORDER BY id, recipient")
            .map_err(|e| StationError::Audit(self.log.db_err(e)))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|it| it.collect::<rusqlite::Result<Vec<(String, String, String)>>>())
            .map_err(|e| StationError::Audit(self.log.db_err(e)))?;
        let mut out = Vec::new();
        for (id, recipient, shares) in rows {
            match want.remove(&(id.clone(), recipient.clone())) {
                Some(d) if d == digest(&shares) => {}
                Some(_) => out.push(format!(
                    "study {id}: the shares held for {recipient} were altered after the run"
                )),
                None => out.push(format!(
                    "study {id}: shares held for {recipient} that no run_finished entry records"
                )),
            }
        }
        for (id, recipient) in want.keys() {
            out.push(format!(
                "study {id}: the shares held for {recipient} are missing"
            ));
        }
        Ok(out)
    }

    /// The documents held for `recipient` of study `id`, if any.
    pub fn results_for(&self, id: &str, recipient: &str) -> Result<Option<HeldShares>> {
        self.log
            .conn
            .query_row(
                "SELECT shares FROM held_shares WHERE id = ?1 AND recipient = ?2",
                [id, recipient],
                |r| Ok(HeldShares { json: r.get(0)? }),
            )
            .optional()
            .map_err(|e| StationError::Audit(self.log.db_err(e)))
    }

    /// Issues `recipient` of study `id` a token to fetch its results over the API: 32
    /// random bytes in hex, returned once; only its SHA-256 is stored. Audited as
    /// `token_issued` by `by` (the token itself is never logged).
    pub fn issue_token(&mut self, id: &str, recipient: &str, by: &str) -> Result<String> {
        let rec = self
            .get(id)?
            .ok_or_else(|| StationError::UnknownStudy(id.to_string()))?;
        let study = tessera_study::validate::parse_at_station("study.toml", &rec.text, "")
            .map_err(StationError::Study)?;
        if !study.recipients.iter().any(|r| r.name == recipient) {
            return Err(StationError::Invalid(format!(
                "study {id} has no recipient `{recipient}` (recipients: {})",
                study
                    .recipients
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let token = random_token().map_err(StationError::Config)?;
        self.in_transaction(|tx, path| {
            audit::append_in(
                tx,
                path,
                EntryKind::TokenIssued,
                Some(id),
                by,
                // The token's SHA-256 (what the tokens table stores, never the token):
                // `check_runs_against_log` holds every stored token to its entry.
                &json!({ "recipient": recipient, "token_sha256": digest(&token) }),
            )?;
            tx.execute(
                "INSERT INTO tokens (digest, id, recipient, issued_at) VALUES (?1, ?2, ?3, ?4)",
                params![digest(&token), id, recipient, now_rfc3339()],
            )
            .map_err(|e| StationError::Audit(db_error(path, e)))?;
            Ok(())
        })?;
        Ok(token)
    }

    /// The recipient of study `id` that `token` was issued to, if any. The lookup is by the
    /// token's SHA-256, so the stored digests reveal nothing usable and the comparison does
    /// not depend on how much of a guess is right.
    pub fn token_recipient(&self, id: &str, token: &str) -> Result<Option<String>> {
        self.log
            .conn
            .query_row(
                "SELECT recipient FROM tokens WHERE digest = ?1 AND id = ?2",
                [digest(token), id.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| StationError::Audit(self.log.db_err(e)))
    }
}

/// Study `id`'s run as `conn` sees it (inside a transaction: as that transaction does);
/// `path` names the file in errors.
pub(crate) fn run_in(
    conn: &rusqlite::Connection,
    path: &str,
    id: &str,
) -> Result<Option<RunRecord>> {
    let got = conn
        .query_row(
            "SELECT state, reason, public_reason, updated_at FROM runs WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )
        .optional()
        .map_err(|e| StationError::Audit(db_error(path, e)))?;
    got.map(|(s, reason, public_reason, updated_at)| {
        let state = RunState::parse(&s)
            .ok_or_else(|| StationError::Invalid(format!("study {id}: unknown run state {s:?}")))?;
        Ok(RunRecord {
            state,
            reason,
            public_reason,
            updated_at,
        })
    })
    .transpose()
}
