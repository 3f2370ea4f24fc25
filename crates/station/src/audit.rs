//! The station's audit log: append-only and hash-chained, in SQLite.
//!
//! Every study received, every approval or refusal, every run and every value revealed is
//! one entry: `seq` (1, 2, 3, … without gaps), `time` (RFC 3339 UTC), `kind`, the study id,
//! the actor (a person, `policy`, or the station), `details` (a JSON object, stored as the
//! exact text that was hashed), `prev_hash` (the previous entry's hash; 64 zeros for the
//! first) and `hash`:
//!
//! ```text
//! hash = SHA-256( "tessera-audit-v1" ‖ u64be(seq) ‖ str(time) ‖ str(kind)
//!                 ‖ opt(study) ‖ str(actor) ‖ str(details) ‖ prev_hash (32 bytes) )
//! str(x) = u64be(len(x)) ‖ x            opt(None) = 0x00, opt(Some(x)) = 0x01 ‖ str(x)
//! ```
//!
//! Length prefixes make the encoding injective: no two different entries hash the same
//! bytes. A separate `audit_meta` table holds the number of entries and the head hash,
//! updated in the same transaction as each append. SQLite triggers refuse `UPDATE` and
//! `DELETE` on the entries, so the log cannot be changed through SQL by mistake; someone
//! who edits the file directly (or drops the triggers) is caught by [`AuditLog::verify`]:
//!
//! - an altered field of an entry: its hash no longer matches its fields;
//! - a deleted entry: a gap in `seq`, and the next entry's `prev_hash` does not match;
//! - an entry re-inserted with a recomputed hash: the chain breaks at the next entry;
//! - reordered entries: `seq` is hashed, so a moved entry no longer matches;
//! - a truncated tail: the table ends before the head recorded in `audit_meta`;
//! - dropped triggers: reported too.
//!
//! LIMITS: someone who can write the file can also rewrite the tail consistently (delete
//! the last entries *and* roll back `audit_meta`, or recompute every hash after a change).
//! Only a head hash recorded outside the file catches that: [`AuditLog::head`] gives the
//! count and head hash for the steward to note elsewhere (a ticket, a mail, another
//! station), and [`AuditLog::verify_anchor`] checks the log still contains that head.
//!
//! Never record patient-level values: `revealed` entries hold the analysis name, the
//! recipient and the opened result, which is aggregate and policy-approved
//! ([`AuditLog::revealed`]).

use std::fmt;
use std::path::Path;

use ring::digest::{Context, SHA256};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;

use crate::error::AuditError;
use crate::time::now_rfc3339;

/// Domain separation of the entry hash (and the format version).
const DOMAIN: &[u8] = b"tessera-audit-v1";

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The triggers that make the entries table append-only.
const TRIGGERS: [&str; 2] = ["audit_entries_no_update", "audit_entries_no_delete"];

const SCHEMA: &str = "
CREATE TABLE audit_entries (
    seq       INTEGER PRIMARY KEY,
    time      TEXT NOT NULL,
    kind      TEXT NOT NULL,
    study     TEXT,
    actor     TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE TABLE audit_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO audit_meta (key, value) VALUES
    ('format', 'tessera-audit-v1'), ('count', '0'),
    ('head', '0000000000000000000000000000000000000000000000000000000000000000');
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";

/// What an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A study arrived at this station (details: title, digest of its text, decision).
    StudyReceived,
    /// The study was approved, by a rule or a person.
    Approved,
    /// The study was refused, with the reasons.
    Refused,
    /// A run of the study started.
    RunStarted,
    /// A run finished.
    RunFinished,
    /// A run stopped before its end (details: why).
    RunAborted,
    /// A result was opened to a recipient (details: analysis, recipient, result).
    Revealed,
    /// The steward issued a recipient a token to fetch a study's results (details:
    /// recipient; never the token).
    TokenIssued,
}

impl EntryKind {
    /// Every kind, in the order above.
    pub const ALL: [EntryKind; 8] = [
        EntryKind::StudyReceived,
        EntryKind::Approved,
        EntryKind::Refused,
        EntryKind::RunStarted,
        EntryKind::RunFinished,
        EntryKind::RunAborted,
        EntryKind::Revealed,
        EntryKind::TokenIssued,
    ];

    /// The name stored in the log (`study_received`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::StudyReceived => "study_received",
            EntryKind::Approved => "approved",
            EntryKind::Refused => "refused",
            EntryKind::RunStarted => "run_started",
            EntryKind::RunFinished => "run_finished",
            EntryKind::RunAborted => "run_aborted",
            EntryKind::Revealed => "revealed",
            EntryKind::TokenIssued => "token_issued",
        }
    }

    /// The kind called `s`.
    pub fn parse(s: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the log, as stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// Position, from 1, without gaps.
    pub seq: u64,
    /// When it was appended (RFC 3339 UTC).
    pub time: String,
    /// What it records.
    pub kind: EntryKind,
    /// The study concerned, if any.
    pub study: Option<String>,
    /// Who acted: a person's name, `policy` for an automatic decision, or the station.
    pub actor: String,
    /// A JSON object, exactly the text that was hashed.
    pub details: String,
    /// The previous entry's hash (hex), [`GENESIS`] for the first.
    pub prev_hash: String,
    /// This entry's hash (hex).
    pub hash: String,
}

impl Entry {
    /// The details as JSON (`Value::Null` if the stored text is not JSON).
    pub fn details_json(&self) -> Value {
        serde_json::from_str(&self.details).unwrap_or(Value::Null)
    }
}

/// A verified log: how many entries and the hash of the last (the head), which the steward
/// can record outside the file as an anchor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Number of entries.
    pub entries: u64,
    /// Hash of the last entry ([`GENESIS`] for an empty log).
    pub head: String,
}

/// One thing [`AuditLog::verify`] found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Entries `first..=last` are missing (a gap in `seq`).
    Missing {
        /// First missing seq.
        first: u64,
        /// Last missing seq.
        last: u64,
    },
    /// The entry's fields do not match its hash (a field was altered, or the entry moved).
    Altered {
        /// The entry.
        seq: u64,
    },
    /// The entry's `prev_hash` is not the previous entry's hash: an entry before it was
    /// deleted, replaced or re-inserted.
    BrokenChain {
        /// The entry.
        seq: u64,
    },
    /// A stored value cannot be read (an unknown kind, a negative seq, a missing hash).
    Unreadable {
        /// The entry.
        seq: i64,
        /// What is wrong.
        why: String,
    },
    /// The table does not end at the head recorded in `audit_meta`: the tail was truncated
    /// (or entries were added outside the log).
    HeadMismatch {
        /// Entries recorded in `audit_meta`.
        meta_count: u64,
        /// Head recorded in `audit_meta`.
        meta_head: String,
        /// `seq` of the table's last entry (0 when empty).
        table_last: u64,
        /// Hash of the table's last entry.
        table_head: String,
    },
    /// `audit_meta` is missing or unreadable.
    Meta(String),
    /// The entries table was dropped (the head record is still there).
    EntriesMissing,
    /// A trigger that keeps the table append-only was dropped.
    TriggerMissing(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing { first, last } if first == last => {
                write!(f, "entry {first} is missing (deleted)")
            }
            Problem::Missing { first, last } => {
                write!(f, "entries {first} to {last} are missing (deleted)")
            }
            Problem::Altered { seq } => {
                write!(
                    f,
                    "entry {seq} was altered (its hash does not match its fields)"
                )
            }
            Problem::BrokenChain { seq } => write!(
                f,
                "entry {seq} does not follow the entry before it (an entry was deleted, \
                 replaced or re-inserted)"
            ),
            Problem::Unreadable { seq, why } => write!(f, "entry {seq} is unreadable: {why}"),
            Problem::HeadMismatch {
                meta_count,
                meta_head,
                table_last,
                table_head,
            } => write!(
                f,
                "the log should end at entry {meta_count} with hash {meta_head}, but ends at \
                 entry {table_last} with hash {table_head} (a truncated tail, or entries \
                 added outside the log)"
            ),
            Problem::Meta(why) => write!(f, "the head record is damaged: {why}"),
            Problem::EntriesMissing => write!(f, "the table of entries was dropped"),
            Problem::TriggerMissing(t) => {
                write!(f, "the append-only trigger {t} was dropped")
            }
        }
    }
}

/// The audit log in one SQLite file (which the station's approval state shares).
pub struct AuditLog {
    pub(crate) conn: Connection,
    pub(crate) path: String,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish()
    }
}

/// SHA-256 of an entry's canonical encoding (see the module docs), in hex.
#[allow(clippy::too_many_arguments)]
pub fn entry_hash(
    seq: u64,
    time: &str,
    kind: &str,
    study: Option<&str>,
    actor: &str,
    details: &str,
    prev_hash: &str,
) -> String {
    let mut c = Context::new(&SHA256);
    let str_field = |c: &mut Context, s: &str| {
        c.update(&(s.len() as u64).to_be_bytes());
        c.update(s.as_bytes());
    };
    c.update(DOMAIN);
    c.update(&seq.to_be_bytes());
    str_field(&mut c, time);
    str_field(&mut c, kind);
    match study {
        None => c.update(&[0]),
        Some(s) => {
            c.update(&[1]);
            str_field(&mut c, s);
        }
    }
    str_field(&mut c, actor);
    str_field(&mut c, details);
    // The previous hash as its 32 bytes when it is well-formed hex, else as text (such a
    // value can only come from tampering and then fails verification anyway).
    match from_hex32(prev_hash) {
        Some(b) => c.update(&b),
        None => str_field(&mut c, prev_hash),
    }
    hex(c.finish().as_ref())
}

/// Bytes as lowercase hex.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Lowercase or uppercase hex as bytes; `None` unless every pair is hex.
pub(crate) fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// A hash as the log writes it (64 lowercase hex digits) as its bytes.
pub(crate) fn from_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A row as stored, before interpretation.
struct RawRow {
    seq: i64,
    time: String,
    kind: String,
    study: Option<String>,
    actor: String,
    details: String,
    prev_hash: String,
    hash: String,
}

impl AuditLog {
    /// Opens the log at `path`, creating the file and its tables if there are none. An
    /// existing file is not changed (in particular, dropped triggers are not silently
    /// re-created: [`AuditLog::verify`] reports them).
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let name = path.display().to_string();
        let db = |e: rusqlite::Error| AuditError::Db {
            path: name.clone(),
            detail: e.to_string(),
        };
        // Created owner-only; an existing file others can read is refused.
        if path.exists() {
            crate::private::check(path).map_err(|detail| AuditError::Db {
                path: name.clone(),
                detail,
            })?;
        } else {
            crate::private::create(path).map_err(|e| AuditError::Db {
                path: name.clone(),
                detail: format!("cannot create: {e}"),
            })?;
        }
        let mut conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let has = |table: &str| -> Result<bool, AuditError> {
            tx.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(db)
        };
        match (has("audit_entries")?, has("audit_meta")?) {
            (false, false) => tx.execute_batch(SCHEMA).map_err(db)?,
            (true, _) => {}
            // The head record survives but the entries are gone: never start afresh.
            (false, true) => {
                return Err(AuditError::Tampered {
                    path: name.clone(),
                    problems: vec![Problem::EntriesMissing],
                })
            }
        }
        tx.commit().map_err(db)?;
        Ok(AuditLog { conn, path: name })
    }

    /// The file, for messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn db_err(&self, e: rusqlite::Error) -> AuditError {
        AuditError::Db {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    /// Appends an entry: `details` must be a JSON object (never patient-level values).
    /// Refuses to append when the log's last entry is not the recorded head (a log that
    /// was tampered with is not extended).
    pub fn append(
        &mut self,
        kind: EntryKind,
        study: Option<&str>,
        actor: &str,
        details: &Value,
    ) -> Result<Entry, AuditError> {
        let path = self.path.clone();
        let db = |e: rusqlite::Error| AuditError::Db {
            path: path.clone(),
            detail: e.to_string(),
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let entry = append_in(&tx, &path, kind, study, actor, details)?;
        tx.commit().map_err(db)?;
        Ok(entry)
    }

    /// Records that `analysis`'s result was opened to `recipient`. `result` is the opened,
    /// aggregate result as JSON; `actor` is the station that opened it.
    pub fn revealed(
        &mut self,
        study: &str,
        actor: &str,
        analysis: &str,
        recipient: &str,
        result: &Value,
    ) -> Result<Entry, AuditError> {
        let details = serde_json::json!({
            "analysis": analysis,
            "recipient": recipient,
            "result": result,
        });
        self.append(EntryKind::Revealed, Some(study), actor, &details)
    }

    /// Every entry, in order of `seq`. Fails on a row that cannot be read (verify first to
    /// learn what is wrong).
    pub fn entries(&self) -> Result<Vec<Entry>, AuditError> {
        self.read_entries(None)
    }

    /// The entries after entry `seq` (all for 0), in order: what a follower of the log has
    /// not seen yet.
    pub fn entries_after(&self, seq: u64) -> Result<Vec<Entry>, AuditError> {
        self.read_entries(Some(seq))
    }

    fn read_entries(&self, after: Option<u64>) -> Result<Vec<Entry>, AuditError> {
        read_rows(&self.conn, after)
            .map_err(|e| self.db_err(e))?
            .into_iter()
            .map(|r| {
                let kind = EntryKind::parse(&r.kind).ok_or_else(|| {
                    AuditError::Invalid(format!("entry {} has an unknown kind {:?}", r.seq, r.kind))
                })?;
                Ok(Entry {
                    seq: u64::try_from(r.seq).map_err(|_| {
                        AuditError::Invalid(format!("entry with a negative seq {}", r.seq))
                    })?,
                    time: r.time,
                    kind,
                    study: r.study,
                    actor: r.actor,
                    details: r.details,
                    prev_hash: r.prev_hash,
                    hash: r.hash,
                })
            })
            .collect()
    }

    /// The entries concerning study `id`, in order.
    pub fn entries_for(&self, id: &str) -> Result<Vec<Entry>, AuditError> {
        Ok(self
            .entries()?
            .into_iter()
            .filter(|e| e.study.as_deref() == Some(id))
            .collect())
    }

    /// Who submitted each study (`study_received`'s actor), by study id; only `study`'s
    /// when given. One query on two columns: the service asks on every researcher's request,
    /// which must not read and parse the whole log.
    pub fn submitters(&self, study: Option<&str>) -> Result<Vec<(String, String)>, AuditError> {
        let kind = EntryKind::StudyReceived.as_str();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT study, actor FROM audit_entries
                 WHERE kind = ?1 AND study IS NOT NULL AND (?2 IS NULL OR study = ?2)
                 ORDER BY seq",
            )
            .map_err(|e| self.db_err(e))?;
        let rows = stmt
            .query_map(rusqlite::params![kind, study], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .and_then(|it| it.collect::<rusqlite::Result<Vec<(String, String)>>>())
            .map_err(|e| self.db_err(e))?;
        Ok(rows)
    }

    /// The steward's reasons for the latest refusal of study `id` where the researcher and
    /// the other stations were told other words (a `refused` entry with `shown`: the policy
    /// refused it because of a source this station does not publish); `None` otherwise, the
    /// study's stored reason being then the whole of it. One query on the study's `refused`
    /// entries, not a read of the whole log.
    pub fn steward_reasons(&self, id: &str) -> Result<Option<Vec<String>>, AuditError> {
        let details: Option<String> = self
            .conn
            .query_row(
                // The current revision's only: after the study's last `study_received`.
                "SELECT details FROM audit_entries WHERE kind = ?1 AND study = ?2
                     AND seq > (SELECT coalesce(max(seq), 0) FROM audit_entries
                                WHERE kind = ?3 AND study = ?2)
                 ORDER BY seq DESC LIMIT 1",
                rusqlite::params![
                    EntryKind::Refused.as_str(),
                    id,
                    EntryKind::StudyReceived.as_str()
                ],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.db_err(e))?;
        let d: Value = details
            .and_then(|d| serde_json::from_str(&d).ok())
            .unwrap_or(Value::Null);
        if d.get("shown").is_none() {
            return Ok(None);
        }
        Ok(d["reasons"].as_array().map(|r| {
            r.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        }))
    }

    /// Every entry's `seq` and stored hash, in order (what the peers' heads are compared
    /// with: [`crate::anchor::check`]).
    pub fn hashes(&self) -> Result<Vec<(u64, String)>, AuditError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, hash FROM audit_entries ORDER BY seq")
            .map_err(|e| self.db_err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get(1)?)))
            .and_then(|it| it.collect::<rusqlite::Result<Vec<(u64, String)>>>())
            .map_err(|e| self.db_err(e))?;
        Ok(rows)
    }

    /// The number of entries and the head hash as recorded in `audit_meta` (not verified:
    /// use [`AuditLog::verify`]). Print it for the steward to keep as an external anchor.
    pub fn head(&self) -> Result<(u64, String), AuditError> {
        read_meta(&self.conn)
            .map_err(|e| self.db_err(e))?
            .map_err(|why| AuditError::Invalid(format!("the head record is damaged: {why}")))
    }

    /// Checks the whole log: every hash, the chain, `seq` without gaps, the head recorded in
    /// `audit_meta`, and the append-only triggers. Every problem is reported, in order.
    pub fn verify(&self) -> Result<VerifyReport, AuditError> {
        // Every row, also one with a seq below 1 (which only tampering makes).
        let rows = read_rows(&self.conn, None).map_err(|e| self.db_err(e))?;
        let mut problems = Vec::new();
        let mut expected_seq: u64 = 1;
        let mut prev = GENESIS.to_string();
        for r in &rows {
            let Ok(seq) = u64::try_from(r.seq) else {
                problems.push(Problem::Unreadable {
                    seq: r.seq,
                    why: "negative seq".into(),
                });
                continue;
            };
            if seq == 0 {
                problems.push(Problem::Unreadable {
                    seq: 0,
                    why: "seq starts at 1".into(),
                });
            } else if seq > expected_seq {
                problems.push(Problem::Missing {
                    first: expected_seq,
                    last: seq - 1,
                });
            }
            if EntryKind::parse(&r.kind).is_none() {
                problems.push(Problem::Unreadable {
                    seq: r.seq,
                    why: format!("unknown kind {:?}", r.kind),
                });
            }
            let again = entry_hash(
                seq,
                &r.time,
                &r.kind,
                r.study.as_deref(),
                &r.actor,
                &r.details,
                &r.prev_hash,
            );
            if again != r.hash {
                problems.push(Problem::Altered { seq });
            }
            if r.prev_hash != prev {
                problems.push(Problem::BrokenChain { seq });
            }
            // Chain on the stored hash: one altered entry is reported once, not again at
            // the next entry.
            prev = r.hash.clone();
            expected_seq = seq + 1;
        }
        let table_count = rows.len() as u64;
        let table_head = prev;
        match read_meta(&self.conn).map_err(|e| self.db_err(e))? {
            Err(why) => problems.push(Problem::Meta(why)),
            Ok((meta_count, meta_head)) => {
                // A gap in the middle is reported above; here only the end matters.
                let table_last = rows.last().map_or(0, |r| r.seq.max(0) as u64);
                if meta_head != table_head || table_last != meta_count {
                    problems.push(Problem::HeadMismatch {
                        meta_count,
                        meta_head,
                        table_last,
                        table_head: table_head.clone(),
                    });
                }
            }
        }
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_entries'")
            .map_err(|e| self.db_err(e))?;
        let present: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .and_then(|it| it.collect())
            .map_err(|e| self.db_err(e))?;
        for t in TRIGGERS {
            if !present.iter().any(|p| p == t) {
                problems.push(Problem::TriggerMissing(t.to_string()));
            }
        }
        if problems.is_empty() {
            Ok(VerifyReport {
                entries: table_count,
                head: table_head,
            })
        } else {
            Err(AuditError::Tampered {
                path: self.path.clone(),
                problems,
            })
        }
    }

    /// Verifies the log and checks that it still contains an anchor the steward recorded
    /// earlier: entry `count` has hash `head` (the log may have grown since). This catches
    /// a tail truncated together with `audit_meta`, which [`AuditLog::verify`] alone cannot.
    pub fn verify_anchor(&self, count: u64, head: &str) -> Result<VerifyReport, AuditError> {
        let report = self.verify()?;
        let found: Option<String> = if count == 0 {
            Some(GENESIS.to_string())
        } else {
            self.conn
                .query_row(
                    "SELECT hash FROM audit_entries WHERE seq = ?1",
                    [count as i64],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.db_err(e))?
        };
        if found.as_deref() == Some(head) {
            Ok(report)
        } else {
            Err(AuditError::Tampered {
                path: self.path.clone(),
                problems: vec![Problem::HeadMismatch {
                    meta_count: count,
                    meta_head: head.to_string(),
                    table_last: report.entries,
                    table_head: report.head,
                }],
            })
        }
    }
}

/// Appends within an open transaction (shared with the approval state, so a transition and
/// its entry commit together).
pub(crate) fn append_in(
    conn: &Connection,
    path: &str,
    kind: EntryKind,
    study: Option<&str>,
    actor: &str,
    details: &Value,
) -> Result<Entry, AuditError> {
    let db = |e: rusqlite::Error| AuditError::Db {
        path: path.to_string(),
        detail: e.to_string(),
    };
    if !details.is_object() {
        return Err(AuditError::Invalid(
            "details must be a JSON object".to_string(),
        ));
    }
    let details =
        serde_json::to_string(details).map_err(|e| AuditError::Invalid(format!("details: {e}")))?;
    let (count, head) = read_meta(conn)
        .map_err(db)?
        .map_err(|why| AuditError::Tampered {
            path: path.to_string(),
            problems: vec![Problem::Meta(why)],
        })?;
    let last: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db)?;
    let (table_count, table_head) = last.unwrap_or((0, GENESIS.to_string()));
    if table_count != count as i64 || table_head != head {
        return Err(AuditError::Tampered {
            path: path.to_string(),
            problems: vec![Problem::HeadMismatch {
                meta_count: count,
                meta_head: head,
                table_last: table_count.max(0) as u64,
                table_head,
            }],
        });
    }
    let seq = count + 1;
    let time = now_rfc3339();
    let hash = entry_hash(seq, &time, kind.as_str(), study, actor, &details, &head);
    conn.execute(
        "INSERT INTO audit_entries (seq, time, kind, study, actor, details, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            seq as i64,
            time,
            kind.as_str(),
            study,
            actor,
            details,
            head,
            hash
        ],
    )
    .map_err(db)?;
    conn.execute(
        "UPDATE audit_meta SET value = ?1 WHERE key = 'count'",
        [seq.to_string()],
    )
    .map_err(db)?;
    conn.execute(
        "UPDATE audit_meta SET value = ?1 WHERE key = 'head'",
        [&hash],
    )
    .map_err(db)?;
    Ok(Entry {
        seq,
        time,
        kind,
        study: study.map(str::to_string),
        actor: actor.to_string(),
        details,
        prev_hash: head,
        hash,
    })
}

/// The rows after entry `after` (every row for `None`), in order of `seq`.
fn read_rows(conn: &Connection, after: Option<u64>) -> rusqlite::Result<Vec<RawRow>> {
    let mut stmt = conn.prepare(
        "SELECT seq, time, kind, study, actor, details, prev_hash, hash
         FROM audit_entries WHERE ?1 IS NULL OR seq > ?1 ORDER BY seq",
    )?;
    let after = after.map(|a| i64::try_from(a).unwrap_or(i64::MAX));
    let rows = stmt.query_map([after], |r| {
        Ok(RawRow {
            seq: r.get(0)?,
            time: r.get(1)?,
            kind: r.get(2)?,
            study: r.get(3)?,
            actor: r.get(4)?,
            details: r.get(5)?,
            prev_hash: r.get(6)?,
            hash: r.get(7)?,
        })
    })?;
    rows.collect()
}

/// The recorded count and head; the inner error says what is damaged.
fn read_meta(conn: &Connection) -> rusqlite::Result<Result<(u64, String), String>> {
    let get = |key: &str| -> rusqlite::Result<Option<String>> {
        conn.query_row("SELECT value FROM audit_meta WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()
    };
    let (count, head) = match (get("count"), get("head")) {
        (Ok(c), Ok(h)) => (c, h),
        (Err(e), _) | (_, Err(e)) => return Ok(Err(e.to_string())),
    };
    Ok(match (count.and_then(|c| c.parse::<u64>().ok()), head) {
        (Some(c), Some(h)) => Ok((c, h)),
        _ => Err("count or head missing".to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn temp_db(tag: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tessera-station-unit-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("audit.sqlite")
    }

    #[test]
    fn hash_is_injective_in_field_boundaries() {
        let a = entry_hash(1, "t", "approved", Some("ab"), "c", "{}", GENESIS);
        let b = entry_hash(1, "t", "approved", Some("a"), "bc", "{}", GENESIS);
        let c = entry_hash(1, "t", "approved", None, "c", "{}", GENESIS);
        let d = entry_hash(1, "t", "approved", Some(""), "c", "{}", GENESIS);
        assert_ne!(a, b);
        assert_ne!(c, d);
        assert_eq!(a.len(), 64);
        assert_eq!(
            a,
            entry_hash(1, "t", "approved", Some("ab"), "c", "{}", GENESIS)
        );
    }

    #[test]
    fn kinds_round_trip() {
        for k in EntryKind::ALL {
            assert_eq!(EntryKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EntryKind::parse("pending"), None);
    }

    #[test]
    fn append_chain_and_reopen() {
        let p = temp_db("chain");
        let mut log = AuditLog::open(&p).unwrap();
        assert_eq!(log.verify().unwrap().entries, 0);
        let e1 = log
            .append(
                EntryKind::StudyReceived,
                Some("s1"),
                "station",
                &json!({"title": "x"}),
            )
            .unwrap();
        let e2 = log
            .append(
                EntryKind::Approved,
                Some("s1"),
                "policy",
                &json!({"rule": "r"}),
            )
            .unwrap();
        assert_eq!((e1.seq, e2.seq), (1, 2));
        assert_eq!(e1.prev_hash, GENESIS);
        assert_eq!(e2.prev_hash, e1.hash);
        drop(log);
        let mut log = AuditLog::open(&p).unwrap();
        let e3 = log
            .revealed("s1", "registry", "km", "researcher", &json!({"n": 120}))
            .unwrap();
        assert_eq!(e3.prev_hash, e2.hash);
        let r = log.verify().unwrap();
        assert_eq!(
            r,
            VerifyReport {
                entries: 3,
                head: e3.hash.clone()
            }
        );
        assert_eq!(log.head().unwrap(), (3, e3.hash.clone()));
        assert_eq!(log.entries().unwrap(), vec![e1.clone(), e2, e3.clone()]);
        assert_eq!(e3.details_json()["recipient"], "researcher");
        assert!(log.verify_anchor(1, &e1.hash).is_ok());
        assert!(log.verify_anchor(1, &e3.hash).is_err());
    }

    #[test]
    fn details_must_be_an_object() {
        let p = temp_db("details");
        let mut log = AuditLog::open(&p).unwrap();
        assert!(matches!(
            log.append(EntryKind::RunStarted, None, "x", &json!([1, 2])),
            Err(AuditError::Invalid(_))
        ));
        assert_eq!(log.verify().unwrap().entries, 0);
    }

    #[test]
    fn triggers_refuse_update_and_delete() {
        let p = temp_db("triggers");
        let mut log = AuditLog::open(&p).unwrap();
        log.append(EntryKind::RunStarted, Some("s"), "x", &json!({}))
            .unwrap();
        let up = log.conn.execute("UPDATE audit_entries SET actor = 'y'", []);
        assert!(up.unwrap_err().to_string().contains("append-only"));
        let del = log.conn.execute("DELETE FROM audit_entries", []);
        assert!(del.unwrap_err().to_string().contains("append-only"));
        assert!(log.verify().is_ok());
    }
}
