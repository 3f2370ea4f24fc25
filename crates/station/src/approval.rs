//! The state of each study at this station, and the transitions a steward makes.
//!
//! ```text
//!             receive(study, decision)
//!   (received) ──────────────┬──────────────► Approved   (an automatic rule approved it)
//!                            ├──────────────► Refused    (the policy refused it)
//!                            └──────────────► Pending    (allowed; no rule covers it)
//!   Pending  ── approve(id, by) ──► Approved
//!   Pending  ── refuse(id, by, why) ──► Refused
//!   Approved ── refuse(id, by, why) ──► Refused   (an approval withdrawn before the run)
//! ```
//!
//! What follows an approval (data checks, the run, results) is in [`crate::runs`].
//!
//! "Received" is the moment of [`Approvals::receive`]: the study is stored and its policy
//! decision applied in one transaction, so no study is ever left undecided. Every
//! transition appends to the audit log in the same SQLite transaction as the state change
//! (`study_received` with the decision, then `approved` or `refused` with the rule, the
//! person and the reasons), so the state and the log cannot disagree after a crash. The
//! states live in table `studies` (id, the study's TOML text, state, reason, timestamps,
//! who decided) of the audit log's file. The audit log, not this table, is the record:
//! [`Approvals::check_against_log`] re-derives every study's state from it.

use std::path::Path;

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde_json::{json, Value};
use tessera_study::Study;

use crate::audit::{self, AuditLog, EntryKind};
use crate::error::{AuditError, Result, StationError};
use crate::policy::Decision;
use crate::time::now_rfc3339;

/// The actor recorded for decisions taken by the policy.
pub const POLICY_ACTOR: &str = "policy";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS studies (
    id          TEXT PRIMARY KEY,
    study       TEXT NOT NULL,
    state       TEXT NOT NULL,
    reason      TEXT,
    received_at TEXT NOT NULL,
    decided_at  TEXT,
    decided_by  TEXT,
    revision    INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS earlier_revisions (
    id          TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    study       TEXT NOT NULL,
    state       TEXT NOT NULL,
    reason      TEXT,
    run_state   TEXT,
    run_reason  TEXT,
    run_public  TEXT,
    received_at TEXT NOT NULL,
    replaced_at TEXT NOT NULL,
    PRIMARY KEY (id, revision)
);
";

/// The columns read for a [`StudyRecord`], in [`row`]'s order.
const COLUMNS: &str = "id, study, state, reason, received_at, decided_at, decided_by, revision";

/// Where a study stands at this station.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StudyState {
    /// Allowed by the policy, waiting for a person.
    Pending,
    /// Approved (by a rule or a person): this station will take part.
    Approved,
    /// Refused (by the policy or a person): the study stops everywhere.
    Refused,
}

impl StudyState {
    /// The name stored and shown (`pending`, `approved`, `refused`).
    pub fn as_str(self) -> &'static str {
        match self {
            StudyState::Pending => "pending",
            StudyState::Approved => "approved",
            StudyState::Refused => "refused",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<StudyState> {
        [
            StudyState::Pending,
            StudyState::Approved,
            StudyState::Refused,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

impl std::fmt::Display for StudyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A study as this station holds it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StudyRecord {
    /// The study's id.
    pub id: String,
    /// The study file's text, as received.
    pub text: String,
    /// Where it stands.
    pub state: StudyState,
    /// Why: the approving rule, the refusal reasons (one per line), or why a person must
    /// decide.
    pub reason: Option<String>,
    /// When it was received (RFC 3339 UTC).
    pub received_at: String,
    /// When it was last decided.
    pub decided_at: Option<String>,
    /// Who decided: `policy` or a person.
    pub decided_by: Option<String>,
    /// Which revision of the study this is (from 1): a study refused, stopped or aborted
    /// can be submitted again under its id, changed (a revision) or not (a rerun).
    pub revision: u32,
}

/// An earlier revision of a study, as it ended here (`GET /studies/{id}`, `station show`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EarlierRevision {
    /// Its number.
    pub revision: u32,
    /// SHA-256 of its text.
    pub digest: String,
    /// Its state here when the next revision replaced it.
    pub state: StudyState,
    /// Its decision's reason here (for the steward).
    pub reason: Option<String>,
    /// Its run's state, if it got that far.
    pub run: Option<String>,
    /// Why its run stopped, for the steward.
    pub run_reason: Option<String>,
    /// Why its run stopped, for everyone else.
    pub run_public: Option<String>,
    /// When the next revision replaced it.
    pub replaced_at: String,
}

/// A decision taken here on one text of a study ([`Approvals::last_decision_on`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PastDecision {
    /// Approved (else refused).
    pub approved: bool,
    /// Taken by a person (else by the policy).
    pub by_person: bool,
    /// Who: the person's name, or `policy`.
    pub by: String,
    /// A refusal's reasons.
    pub reasons: Vec<String>,
}

/// Why a study whose run here is `run` cannot take another revision now, if so: its run is
/// under way, or finished (the results of a finished study stay with its text) unless
/// `unopenable`: another compute station of the same revision aborted or stopped, so what
/// this station holds can never be opened. A study pending, approved, refused, stopped or
/// aborted here can.
pub(crate) fn not_revisable(
    run: Option<crate::runs::RunState>,
    unopenable: bool,
) -> Option<&'static str> {
    use crate::runs::RunState;
    match run {
        Some(RunState::Running) => Some("its run is under way"),
        Some(RunState::Finished) if !unopenable => Some("it has finished"),
        _ => None,
    }
}

/// The studies of this station, in the audit log's SQLite file.
#[derive(Debug)]
pub struct Approvals {
    pub(crate) log: AuditLog,
}

/// SHA-256 of a text, in hex: a study's canonical digest (the same as
/// [`Study::digest`]: recorded in the audit entries, compared between stations), a token's
/// (stored instead of the token).
pub(crate) fn digest(text: &str) -> String {
    tessera_study::format::text_digest(text)
}

impl Approvals {
    /// Opens (or creates) the audit log at `path` and the studies table beside it.
    pub fn open(path: &Path) -> Result<Approvals> {
        let log = AuditLog::open(path)?;
        log.conn.execute_batch(SCHEMA).map_err(|e| log.db_err(e))?;
        // A file from before revisions: every study in it is its revision 1.
        let has_revision: bool = log
            .conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('studies') WHERE name = 'revision'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| log.db_err(e))?
            > 0;
        if !has_revision {
            log.conn
                .execute_batch("ALTER TABLE studies ADD COLUMN revision INTEGER NOT NULL DEFAULT 1")
                .map_err(|e| log.db_err(e))?;
        }
        crate::anchor::PeerHeads::create(&log.conn).map_err(|e| log.db_err(e))?;
        let a = Approvals { log };
        a.create_run_tables()?;
        Ok(a)
    }

    /// The audit log (to record runs and revealed values, and to verify).
    pub fn log(&self) -> &AuditLog {
        &self.log
    }

    /// The heads of the other stations' audit logs that this station keeps for them.
    pub fn peer_heads(&self) -> crate::anchor::PeerHeads<'_> {
        crate::anchor::PeerHeads::new(&self.log.conn)
    }

    /// The audit log, for appending.
    pub fn log_mut(&mut self) -> &mut AuditLog {
        &mut self.log
    }

    /// Runs `f` in one immediate transaction of the audit file (given the file's name for
    /// messages) and commits: a state change and its audit entries land together or not at
    /// all.
    pub(crate) fn in_transaction<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &str) -> Result<T>,
    ) -> Result<T> {
        let path = self.log.path.clone();
        let tx = self
            .log
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StationError::Audit(db_error(&path, e)))?;
        let out = f(&tx, &path)?;
        tx.commit()
            .map_err(|e| StationError::Audit(db_error(&path, e)))?;
        Ok(out)
    }

    fn db(&self, e: rusqlite::Error) -> StationError {
        StationError::Audit(self.log.db_err(e))
    }

    /// The rows `sql` selects with `params`, each read by `f`.
    pub(crate) fn query_rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let mut stmt = self.log.conn.prepare(sql).map_err(|e| self.db(e))?;
        let rows = stmt
            .query_map(params, f)
            .and_then(|it| it.collect::<rusqlite::Result<Vec<T>>>())
            .map_err(|e| self.db(e))?;
        Ok(rows)
    }

    /// Receives `study` with the policy's `decision` on it (see [`crate::policy::evaluate`]):
    /// stores it and records `study_received` (actor `from`: who submitted it), then, for an
    /// automatic decision, `approved` or `refused` by the policy. A study id is received
    /// once; later texts under it are revisions ([`Approvals::receive_revision`]).
    pub fn receive(
        &mut self,
        study: &Study,
        decision: &Decision,
        from: &str,
    ) -> Result<StudyRecord> {
        if self.get(&study.id)?.is_some() {
            return Err(StationError::AlreadyReceived {
                id: study.id.clone(),
                held: self.held(&study.id)?,
            });
        }
        self.receive_revision(study, decision, decision, from, 1, false)
    }

    /// Receives revision `revision` of `study` (a new study when the id is unknown here):
    /// the revision it replaces is kept in `earlier_revisions` with how it ended, its run
    /// and anything held for it are dropped, and `study_received` records the new
    /// revision's number and the digest of the text it replaces, all in one transaction.
    /// Refused while the current revision runs or has finished ([`StationError::Transition`]),
    /// a finished one unless `unopenable` (see [`not_revisable`]; its shares held here are
    /// dropped with it).
    /// `shown` is the same decision as the researcher and the other stations are told it
    /// ([`crate::policy::Audience::Researcher`]): a refusal's stored reason (what
    /// `GET /studies/{id}` and the peers show) is `shown`'s, its audit entry keeps the
    /// steward's reasons (and `shown`'s, as `shown`, where they differ).
    pub fn receive_revision(
        &mut self,
        study: &Study,
        decision: &Decision,
        shown: &Decision,
        from: &str,
        revision: u32,
        unopenable: bool,
    ) -> Result<StudyRecord> {
        let now = now_rfc3339();
        let text = &study.source.text;
        let (state, reason, decided) = match decision {
            Decision::Approve { rule } => (StudyState::Approved, format!("rule {rule}"), true),
            Decision::Refuse { reasons } => (StudyState::Refused, reasons.join("\n"), true),
            Decision::NeedsPerson { why } => (StudyState::Pending, why.clone(), false),
        };
        let shown_reasons = match shown {
            Decision::Refuse { reasons: r } if decision != shown => Some(r),
            _ => None,
        };
        let reason = shown_reasons.map_or(reason, |r| r.join("\n"));
        let mut received = json!({
            "title": study.title,
            "sha256": digest(text),
            "parties": study.parties.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            "recipients": study.recipients.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            "analyses": study.analyses.iter()
                .map(|a| json!({"name": a.name, "kind": a.spec.kind()}))
                .collect::<Vec<_>>(),
            "decision": state.as_str(),
            "why": if decided { Value::Null } else { Value::String(reason.clone()) },
        });
        self.in_transaction(|tx, path| {
            let db = |e| StationError::Audit(db_error(path, e));
            let id = Some(study.id.as_str());
            // Read inside the transaction: what this revision replaces, if anything.
            match study_in(tx, path, &study.id)? {
                None => {}
                Some(cur) => {
                    let run = crate::runs::run_in(tx, path, &study.id)?.map(|r| r.state);
                    if revision <= cur.revision {
                        return Err(StationError::AlreadyReceived {
                            id: study.id.clone(),
                            held: None,
                        });
                    }
                    if let Some(why) = not_revisable(run, unopenable) {
                        return Err(StationError::Transition {
                            id: study.id.clone(),
                            state: why.to_string(),
                            action: format!("take revision {revision} of"),
                        });
                    }
                    received["replaces"] = json!({
                        "revision": cur.revision,
                        "sha256": digest(&cur.text),
                        "unchanged": cur.text == *text,
                    });
                    tx.execute(
                        "INSERT INTO earlier_revisions (id, revision, study, state, reason,
                             run_state, run_reason, run_public, received_at, replaced_at)
                         SELECT s.id, s.revision, s.study, s.state, s.reason, r.state,
                             r.reason, r.public_reason, s.received_at, ?2
                         FROM studies s LEFT JOIN runs r ON r.id = s.id WHERE s.id = ?1",
                        params![study.id, now],
                    )
                    .map_err(db)?;
                    for sql in [
                        "DELETE FROM runs WHERE id = ?1",
                        "DELETE FROM held_shares WHERE id = ?1",
                        "DELETE FROM studies WHERE id = ?1",
                    ] {
                        tx.execute(sql, [&study.id]).map_err(db)?;
                    }
                }
            }
            received["revision"] = json!(revision);
            audit::append_in(tx, path, EntryKind::StudyReceived, id, from, &received)?;
            let sha256 = &received["sha256"];
            let decided_entry = match decision {
                Decision::Approve { rule } => Some((
                    EntryKind::Approved,
                    json!({ "rule": rule, "sha256": sha256 }),
                )),
                Decision::Refuse { reasons } => Some((EntryKind::Refused, {
                    let mut d = json!({ "reasons": reasons, "sha256": sha256 });
                    if let Some(r) = shown_reasons {
                        d["shown"] = json!(r);
                    }
                    d
                })),
                Decision::NeedsPerson { .. } => None,
            };
            if let Some((kind, details)) = decided_entry {
                audit::append_in(tx, path, kind, id, POLICY_ACTOR, &details)?;
            }
            tx.execute(
                "INSERT INTO studies (id, study, state, reason, received_at, decided_at,
                     decided_by, revision)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    study.id,
                    text,
                    state.as_str(),
                    reason,
                    now,
                    decided.then_some(&now),
                    decided.then_some(POLICY_ACTOR),
                    revision,
                ],
            )
            .map_err(db)?;
            Ok(())
        })?;
        self.get(&study.id)?
            .ok_or_else(|| StationError::UnknownStudy(study.id.clone()))
    }

    /// The earlier revisions of study `id` here, oldest first.
    pub fn earlier_revisions(&self, id: &str) -> Result<Vec<EarlierRevision>> {
        let rows = self.query_rows(
            "SELECT revision, study, state, reason, run_state, run_reason, run_public,
                 replaced_at
             FROM earlier_revisions WHERE id = ?1 ORDER BY revision",
            [id],
            |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, String>(7)?,
                ))
            },
        )?;
        rows.into_iter()
            .map(
                |(revision, text, state, reason, run, run_reason, run_public, at)| {
                    Ok(EarlierRevision {
                        revision,
                        digest: digest(&text),
                        state: StudyState::parse(&state).ok_or_else(|| {
                            StationError::Invalid(format!("study {id}: unknown state {state:?}"))
                        })?,
                        reason,
                        run,
                        run_reason,
                        run_public,
                        replaced_at: at,
                    })
                },
            )
            .collect()
    }

    /// The last decision a person or the policy took here on the text with digest `sha256`
    /// of study `id` (a data check's refusal is not one: the data may have been mended).
    pub fn last_decision_on(&self, id: &str, sha256: &str) -> Result<Option<PastDecision>> {
        let rows = self.query_rows(
            "SELECT kind, actor, details FROM audit_entries
             WHERE study = ?1 AND kind IN ('approved', 'refused') ORDER BY seq DESC",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )?;
        for (kind, actor, details) in rows {
            let d: Value = serde_json::from_str(&details).unwrap_or(Value::Null);
            if d["sha256"] != sha256 || d["by"] == crate::events::DATA_CHECK {
                continue;
            }
            let reasons = d["reasons"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            return Ok(Some(PastDecision {
                approved: kind == "approved",
                by_person: actor != POLICY_ACTOR,
                by: actor,
                reasons,
            }));
        }
        Ok(None)
    }

    /// A person (`by`) approves a pending study.
    pub fn approve(&mut self, id: &str, by: &str) -> Result<StudyRecord> {
        self.decide(id, by, StudyState::Approved, None)
    }

    /// A person (`by`) refuses a pending study, or withdraws an approval, giving `why`
    /// (shown to the researcher).
    pub fn refuse(&mut self, id: &str, by: &str, why: &str) -> Result<StudyRecord> {
        if why.trim().is_empty() {
            return Err(StationError::Invalid(
                "a refusal needs a reason (--why)".to_string(),
            ));
        }
        // Withdrawn after the data check (ready, not yet running): the run stops in the same
        // transaction, so the computation can no longer start here, and the other stations
        // learn the refusal with the steward's reason.
        self.decide_with(
            id,
            by,
            StudyState::Refused,
            Some(why),
            "person",
            |tx, path| {
                // Read inside the transaction, as the decision's own check.
                let ready = crate::runs::run_in(tx, path, id)?.map(|r| r.state)
                    == Some(crate::runs::RunState::Ready);
                if ready {
                    crate::runs::write_run(
                        tx,
                        path,
                        id,
                        crate::runs::RunState::Stopped,
                        (Some(why), Some(why)),
                    )
                } else {
                    Ok(())
                }
            },
        )
    }

    fn decide(
        &mut self,
        id: &str,
        by: &str,
        to: StudyState,
        why: Option<&str>,
    ) -> Result<StudyRecord> {
        self.decide_with(id, by, to, why, "person", |_, _| Ok(()))
    }

    /// A decision on study `id` by `by` (`how` it was taken: `person`, `data check`), with
    /// `also` written in the same transaction (the audit file's name given for messages).
    pub(crate) fn decide_with(
        &mut self,
        id: &str,
        by: &str,
        to: StudyState,
        why: Option<&str>,
        how: &str,
        also: impl FnOnce(&rusqlite::Transaction<'_>, &str) -> Result<()>,
    ) -> Result<StudyRecord> {
        if by.trim().is_empty() {
            return Err(StationError::Invalid(
                "who decides must be named".to_string(),
            ));
        }
        // The state is read and changed in one immediate transaction, so a decision taken
        // elsewhere at the same time (the steward's command beside the service) is seen.
        self.in_transaction(|tx, path| {
            let rec = study_in(tx, path, id)?
                .ok_or_else(|| StationError::UnknownStudy(id.to_string()))?;
            // An approval can be withdrawn until the computation starts here (no run yet,
            // or data checked and waiting for the others); once it runs, the shares are
            // already in use. A study stopped while pending here (another station refused,
            // or holds another text) can no longer be approved.
            let run = crate::runs::run_in(tx, path, id)?.map(|r| r.state);
            let allowed = match to {
                StudyState::Approved => rec.state == StudyState::Pending && run.is_none(),
                StudyState::Refused => {
                    rec.state != StudyState::Refused
                        && matches!(run, None | Some(crate::runs::RunState::Ready))
                }
                StudyState::Pending => false,
            };
            if !allowed {
                return Err(StationError::Transition {
                    id: id.to_string(),
                    state: rec.state.to_string(),
                    action: if to == StudyState::Approved {
                        "approve"
                    } else {
                        "refuse"
                    }
                    .to_string(),
                });
            }
            let now = now_rfc3339();
            let sha256 = digest(&rec.text);
            let (kind, details) = match why {
                None => (
                    EntryKind::Approved,
                    json!({ "by": how, "was": rec.state.as_str(), "sha256": sha256 }),
                ),
                Some(w) => (
                    EntryKind::Refused,
                    json!({ "by": how, "reasons": [w], "was": rec.state.as_str(), "sha256": sha256 }),
                ),
            };
            audit::append_in(tx, path, kind, Some(id), by, &details)?;
            tx.execute(
                "UPDATE studies SET state = ?1, reason = ?2, decided_at = ?3, decided_by = ?4
                 WHERE id = ?5",
                params![to.as_str(), why, now, by, id],
            )
            .map_err(|e| StationError::Audit(db_error(path, e)))?;
            also(tx, path)
        })?;
        self.get(id)?
            .ok_or_else(|| StationError::UnknownStudy(id.to_string()))
    }

    /// How study `id` stands here, in the words its submitter is shown (the public state and
    /// reason, [`Approvals::public_state`]): `pending: waiting for the steward`, `refused:
    /// REASON; REASON`, `finished`, …; `None` when it was not received.
    pub fn held(&self, id: &str) -> Result<Option<String>> {
        let (Some(p), Some(rec)) = (self.public_state(id)?, self.get(id)?) else {
            return Ok(None);
        };
        // An approval's reason (the rule) is what the submitter is shown too.
        let reason = p
            .reason
            .or_else(|| {
                rec.reason
                    .filter(|_| p.state == StudyState::Approved.as_str())
            })
            .map(|r| r.lines().map(str::trim).collect::<Vec<_>>().join("; "))
            .filter(|r| !r.is_empty());
        Ok(Some(match (p.state.as_str(), reason) {
            ("pending", _) => "pending: waiting for the steward's decision".to_string(),
            (state, Some(r)) => format!("{state}: {r}"),
            (state, None) => state.to_string(),
        }))
    }

    /// The study `id`, if received.
    pub fn get(&self, id: &str) -> Result<Option<StudyRecord>> {
        study_in(&self.log.conn, &self.log.path, id)
    }

    fn select(&self, filter: &str) -> Result<Vec<StudyRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM studies {filter} ORDER BY received_at, id");
        let mut stmt = self.log.conn.prepare(&sql).map_err(|e| self.db(e))?;
        let rows: Vec<Result<StudyRecord>> = stmt
            .query_map([], row)
            .and_then(|it| it.collect())
            .map_err(|e| self.db(e))?;
        rows.into_iter().collect()
    }

    /// The studies waiting for a person, oldest first.
    pub fn pending(&self) -> Result<Vec<StudyRecord>> {
        self.select("WHERE state = 'pending'")
    }

    /// Every study's id, state and revision, oldest first, without their texts (what the
    /// service's loop scans several times a second).
    pub fn states(&self) -> Result<Vec<(String, StudyState, u32)>> {
        let rows: Vec<(String, String, u32)> = self.query_rows(
            "SELECT id, state, revision FROM studies ORDER BY received_at, id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        rows.into_iter()
            .map(|(id, state, revision)| match StudyState::parse(&state) {
                Some(s) => Ok((id, s, revision)),
                None => Err(StationError::Invalid(format!(
                    "study {id}: unknown state `{state}` in the audit file"
                ))),
            })
            .collect()
    }

    /// Every study received, oldest first.
    pub fn all(&self) -> Result<Vec<StudyRecord>> {
        self.select("")
    }

    /// Re-derives every study's state from the audit log (the last `approved` or `refused`
    /// entry, or pending after `study_received` with decision `pending`) and lists the
    /// studies whose stored state differs, or that one side lacks. Empty when they agree.
    pub fn check_against_log(&self) -> Result<Vec<String>> {
        use std::collections::BTreeMap;
        let mut from_log: BTreeMap<String, StudyState> = BTreeMap::new();
        let mut revisions: BTreeMap<String, u64> = BTreeMap::new();
        // The log is read once for the three checks.
        let entries = self.log.entries()?;
        for e in &entries {
            let Some(id) = e.study.clone() else { continue };
            match e.kind {
                EntryKind::StudyReceived => {
                    let d = e.details_json();
                    revisions.insert(id.clone(), d["revision"].as_u64().unwrap_or(1));
                    if d["decision"] == "pending" {
                        from_log.insert(id, StudyState::Pending);
                    }
                }
                EntryKind::Approved => {
                    from_log.insert(id, StudyState::Approved);
                }
                EntryKind::Refused => {
                    from_log.insert(id, StudyState::Refused);
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        let stored = self.all()?;
        for r in &stored {
            match from_log.get(&r.id) {
                None => out.push(format!("study {}: stored but not in the audit log", r.id)),
                Some(s) if *s != r.state => out.push(format!(
                    "study {}: stored as {}, the audit log says {}",
                    r.id, r.state, s
                )),
                Some(_) => {}
            }
            if let Some(n) = revisions
                .get(&r.id)
                .filter(|n| **n != u64::from(r.revision))
            {
                out.push(format!(
                    "study {}: stored as revision {}, the audit log says {n}",
                    r.id, r.revision
                ));
            }
        }
        for id in from_log.keys() {
            if !stored.iter().any(|r| &r.id == id) {
                out.push(format!("study {id}: in the audit log but not stored"));
            }
        }
        out.extend(self.held_against(&entries)?);
        out.extend(self.runs_against(&entries)?);
        Ok(out)
    }
}

pub(crate) fn db_error(path: &str, e: rusqlite::Error) -> AuditError {
    AuditError::Db {
        path: path.to_string(),
        detail: e.to_string(),
    }
}

/// The study `id` as `conn` sees it (inside a transaction: as that transaction does);
/// `path` names the file in errors.
pub(crate) fn study_in(
    conn: &rusqlite::Connection,
    path: &str,
    id: &str,
) -> Result<Option<StudyRecord>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM studies WHERE id = ?1"),
        [id],
        row,
    )
    .optional()
    .map_err(|e| StationError::Audit(db_error(path, e)))?
    .transpose()
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<StudyRecord>> {
    let state: String = r.get(2)?;
    let id: String = r.get(0)?;
    let Some(state) = StudyState::parse(&state) else {
        return Ok(Err(StationError::Invalid(format!(
            "study {id}: unknown state {state:?} in the studies table"
        ))));
    };
    Ok(Ok(StudyRecord {
        id,
        text: r.get(1)?,
        state,
        reason: r.get(3)?,
        received_at: r.get(4)?,
        decided_at: r.get(5)?,
        decided_by: r.get(6)?,
        revision: r.get(7)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for s in [
            StudyState::Pending,
            StudyState::Approved,
            StudyState::Refused,
        ] {
            assert_eq!(StudyState::parse(s.as_str()), Some(s));
        }
        assert_eq!(StudyState::parse("received"), None);
    }

    #[test]
    fn serialised_names_match_the_stored_ones() {
        for s in [
            StudyState::Pending,
            StudyState::Approved,
            StudyState::Refused,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for k in EntryKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        let d = Decision::Refuse {
            reasons: vec!["min_rows: x".into()],
        };
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"refuse": {"reasons": ["min_rows: x"]}})
        );
    }

    #[test]
    fn digest_is_sha256() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn open_twice_keeps_the_table() {
        let dir = std::env::temp_dir().join(format!(
            "tessera-station-approval-unit-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.sqlite");
        let a = Approvals::open(&p).unwrap();
        assert!(a.all().unwrap().is_empty());
        drop(a);
        let a = Approvals::open(&p).unwrap();
        assert!(a.pending().unwrap().is_empty());
        assert!(a.check_against_log().unwrap().is_empty());
    }
}
