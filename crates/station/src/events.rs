//! What the service tells its operator as it happens: one log line per audit entry (with
//! `tracing`, target `tessera::event`; `station serve --log LEVEL` or `RUST_LOG` set what is
//! shown), and the steward's `notify` command (`[station] notify`) for the events that need
//! a person.
//!
//! The service follows its own audit log ([`follow`]): every change of a study here is an
//! entry, whoever made it — the service, or the steward's command in another process — so
//! nothing is logged that did not happen, and nothing that happened is missed. The log lines
//! and the notification carry what the entry says (the study id, the kind, who acted, the
//! reasons of a refusal or an abort): never a data value, which the audit log does not hold.
//!
//! Events that need a person ([`needs_person`]): `pending` (a study waits for the steward's
//! decision), `input_invalid` (this station's data failed a study's checks: the steward sees
//! where with `tessera station status ID`), `aborted` (a run stopped; it may be run again).
//! The command runs with no shell and no input, with `TESSERA_EVENT`, `TESSERA_STUDY`,
//! `TESSERA_STATION` and `TESSERA_SUMMARY` in its environment, at most [`NOTIFY_TIMEOUT`]
//! (then it is killed); a failure is logged, never retried, and never stops the service.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::api::Api;
use crate::audit::{Entry, EntryKind};

/// How long a notify command may run before it is killed.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(30);

/// Who the audit log says refused a study whose data failed its checks here.
pub(crate) const DATA_CHECK: &str = "data check";

/// How often the service looks for new entries.
const EVERY: Duration = Duration::from_millis(250);

/// The service's follower of its own audit log: logs each new entry and runs the notify
/// command for those that need a person, for ever. Starts after the entries already there.
pub fn follow(api: Arc<Api>) {
    let mut seen = api
        .approvals()
        .log()
        .head()
        .map(|(n, _)| n)
        .unwrap_or_default();
    tracing::info!(
        target: "tessera::event",
        station = %api.config.name,
        "following the audit log from entry {seen}"
    );
    let notifier = match api.config.notify.clone().map(Notifier::start).transpose() {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(target: "tessera::event", "cannot start the notify thread: {e}");
            None
        }
    };
    loop {
        std::thread::sleep(EVERY);
        // One row read while nothing happens; the new entries only when the log grew.
        let head = match api.approvals().log().head() {
            Ok((n, _)) => n,
            Err(e) => {
                tracing::warn!(target: "tessera::event", "cannot read the audit log's head: {e}");
                continue;
            }
        };
        if head <= seen {
            continue;
        }
        let new = api.approvals().log().entries_after(seen);
        match new {
            Ok(entries) => {
                for e in &entries {
                    tell(&api.config.name, notifier.as_ref(), e);
                    seen = seen.max(e.seq);
                }
            }
            Err(e) => {
                tracing::warn!(target: "tessera::event", "cannot read the audit log: {e}");
            }
        }
    }
}

/// Logs entry `e` of `station`'s log and, if it needs a person, runs `notify`.
pub fn tell(station: &str, notify: Option<&Notifier>, e: &Entry) {
    let summary = summary(e);
    let study = e.study.as_deref().unwrap_or("");
    match e.kind {
        EntryKind::Refused | EntryKind::RunAborted => tracing::warn!(
            target: "tessera::event",
            station, seq = e.seq, kind = %e.kind, study, "{summary}"
        ),
        _ => tracing::info!(
            target: "tessera::event",
            station, seq = e.seq, kind = %e.kind, study, "{summary}"
        ),
    }
    if let (Some(notifier), Some(event)) = (notify, needs_person(e)) {
        notifier.send(event, station, study, summary);
    }
}

/// Runs the notify command for one event at a time, on a thread of its own: at most
/// [`NOTIFY_QUEUE`] events wait; past that an event is logged as not notified (whoever can
/// make events — a researcher's submissions — cannot make the station run commands
/// without bound).
pub struct Notifier {
    tx: std::sync::mpsc::SyncSender<[String; 4]>,
}

/// Events that may wait for the notify command.
pub const NOTIFY_QUEUE: usize = 16;

impl Notifier {
    /// Starts the thread that runs `cmd` (program and arguments).
    pub fn start(cmd: Vec<String>) -> std::io::Result<Notifier> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<[String; 4]>(NOTIFY_QUEUE);
        std::thread::Builder::new()
            .name("notify".to_string())
            .spawn(move || {
                for [event, station, study, summary] in rx {
                    run_notify(&cmd, &event, &station, &study, &summary);
                }
            })?;
        Ok(Notifier { tx })
    }

    fn send(&self, event: &str, station: &str, study: &str, summary: String) {
        let item = [
            event.to_string(),
            station.to_string(),
            study.to_string(),
            summary,
        ];
        if self.tx.try_send(item).is_err() {
            tracing::warn!(
                target: "tessera::event",
                "{event} of study {study} not notified: {NOTIFY_QUEUE} events wait for the notify command"
            );
        }
    }
}

/// The event a person must hear about, if `e` is one (see the module documentation).
pub fn needs_person(e: &Entry) -> Option<&'static str> {
    let d = e.details_json();
    match e.kind {
        EntryKind::StudyReceived if d["decision"] == "pending" => Some("pending"),
        // The data check's refusal (its reasons name the file, line and column).
        EntryKind::Refused if d["by"] == DATA_CHECK => Some("input_invalid"),
        EntryKind::RunAborted => Some("aborted"),
        _ => None,
    }
}

/// The reasons an entry gives (`reasons` or `why`), as text.
fn reasons(d: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = d["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for key in ["why", "public"] {
        if let Some(w) = d[key].as_str() {
            out.push(w.to_string());
        }
    }
    out
}

/// One line saying what entry `e` records, for a person.
pub fn summary(e: &Entry) -> String {
    let d = e.details_json();
    let id = e.study.as_deref().unwrap_or("-");
    let why = reasons(&d).join("; ");
    match e.kind {
        EntryKind::StudyReceived => {
            let decision = d["decision"].as_str().unwrap_or("received");
            let then = match decision {
                "pending" => "waiting for a person (tessera station approve|refuse)".to_string(),
                other => other.to_string(),
            };
            let what = match d["revision"].as_u64().filter(|r| *r > 1) {
                None => String::new(),
                Some(r) if d["replaces"]["unchanged"] == true => {
                    format!(" (revision {r}, a rerun)")
                }
                Some(r) => format!(" (revision {r})"),
            };
            format!("study {id}{what} received from {}: {then}", e.actor)
        }
        EntryKind::Approved => format!("study {id} approved by {}", e.actor),
        EntryKind::Refused => format!("study {id} refused by {}: {why}", e.actor),
        EntryKind::RunStarted => format!("study {id}: run started"),
        EntryKind::RunFinished => {
            format!("study {id}: run finished, results held for the recipients")
        }
        EntryKind::RunAborted => format!("study {id}: run aborted: {why}"),
        EntryKind::Revealed => format!(
            "study {id}: results of {} delivered to {}",
            d["analysis"].as_str().unwrap_or("an analysis"),
            d["recipient"].as_str().unwrap_or("a recipient")
        ),
        EntryKind::TokenIssued => format!(
            "study {id}: token issued for {} by {}",
            d["recipient"].as_str().unwrap_or("a recipient"),
            e.actor
        ),
    }
}

/// Runs the notify command for `event`, within [`NOTIFY_TIMEOUT`].
fn run_notify(cmd: &[String], event: &str, station: &str, study: &str, summary: &str) {
    let Some((program, args)) = cmd.split_first() else {
        return;
    };
    let child = Command::new(program)
        .args(args)
        .env("TESSERA_EVENT", event)
        .env("TESSERA_STUDY", study)
        .env("TESSERA_STATION", station)
        .env("TESSERA_SUMMARY", summary)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(target: "tessera::event", "notify command {program}: cannot start: {e}");
            return;
        }
    };
    let until = Instant::now() + NOTIFY_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return,
            Ok(Some(status)) => {
                tracing::warn!(target: "tessera::event", "notify command {program} for {event} of {study}: {status}");
                return;
            }
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                tracing::warn!(
                    target: "tessera::event",
                    "notify command {program} for {event} of {study}: killed after {} s",
                    NOTIFY_TIMEOUT.as_secs()
                );
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: EntryKind, details: &str) -> Entry {
        Entry {
            seq: 3,
            time: "2026-12-02T10:00:00Z".into(),
            kind,
            study: Some("km-2026".into()),
            actor: "alice".into(),
            details: details.into(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn the_events_that_need_a_person_are_told_apart() {
        let pending = entry(EntryKind::StudyReceived, r#"{"decision":"pending"}"#);
        assert_eq!(needs_person(&pending), Some("pending"));
        assert!(summary(&pending).contains("waiting for a person"));
        let approved = entry(EntryKind::StudyReceived, r#"{"decision":"approved"}"#);
        assert_eq!(needs_person(&approved), None);
        let rerun = entry(
            EntryKind::StudyReceived,
            r#"{"decision":"pending","revision":2,"replaces":{"revision":1,"unchanged":true}}"#,
        );
        assert_eq!(needs_person(&rerun), Some("pending"));
        assert!(
            summary(&rerun).starts_with("study km-2026 (revision 2, a rerun) received from alice"),
            "{}",
            summary(&rerun)
        );
        let invalid = entry(
            EntryKind::Refused,
            r#"{"by":"data check","reasons":["gp.csv:7: column \"bmi\": not a number"]}"#,
        );
        assert_eq!(needs_person(&invalid), Some("input_invalid"));
        let refused = entry(
            EntryKind::Refused,
            r#"{"reasons":["the ethics board said no"]}"#,
        );
        assert_eq!(needs_person(&refused), None);
        assert_eq!(
            summary(&refused),
            "study km-2026 refused by alice: the ethics board said no"
        );
        let aborted = entry(EntryKind::RunAborted, r#"{"why":"gp stopped","ran":true}"#);
        assert_eq!(needs_person(&aborted), Some("aborted"));
        assert_eq!(summary(&aborted), "study km-2026: run aborted: gp stopped");
    }
}
