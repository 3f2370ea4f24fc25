//! What follows an approval at one station: the run's states and their audit entries, the
//! results held per recipient, the recipients' tokens, and what the other stations are told.

mod common;

use common::*;
use serde_json::json;
use tessera_station::approval::{Approvals, StudyState};
use tessera_station::audit::EntryKind;
use tessera_station::policy::Decision;
use tessera_station::runs::{HeldShares, RunState, INPUT_INVALID};
use tessera_station::StationError;

const ID: &str = "survival-2026";

/// A station with the standard study received and approved by a person.
fn approved(tag: &str) -> Approvals {
    let dir = folder(tag);
    let s = study(&dir, STUDY);
    let mut a = Approvals::open(&dir.join("audit.sqlite")).unwrap();
    let d = Decision::NeedsPerson {
        why: "a person decides".into(),
    };
    a.receive(&s, &d, "researcher").unwrap();
    a.approve(ID, "steward").unwrap();
    a
}

fn kinds(a: &Approvals) -> Vec<EntryKind> {
    a.log()
        .entries_for(ID)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

fn docs(tag: &str) -> HeldShares {
    HeldShares {
        json: format!("{{\"for\": \"{tag}\"}}"),
    }
}

/// Issue 14: a steward could not withdraw the approval once the data check passed (`409 …
/// cannot refuse it`), though nothing had been computed. Now it can until the computation
/// starts: the run stops with the steward's reason, the other stations see `refused`, and
/// the computation can no longer start here. Once running, it cannot.
#[test]
fn the_steward_withdraws_an_approval_until_the_computation_starts() {
    let mut a = approved("runs-withdraw");
    assert_eq!(a.mark_ready(ID).unwrap().state, RunState::Ready);
    let rec = a
        .refuse(ID, "steward", "the ethics committee withdrew")
        .unwrap();
    assert_eq!(rec.state, StudyState::Refused);
    assert_eq!(a.run(ID).unwrap().unwrap().state, RunState::Stopped);
    let public = a.public_state(ID).unwrap().unwrap();
    assert_eq!(public.state, "refused");
    assert!(
        public
            .reason
            .unwrap()
            .contains("the ethics committee withdrew"),
        "the other stations learn why"
    );
    assert!(matches!(
        a.start(ID, "registry", json!({})),
        Err(StationError::Transition { .. })
    ));
    assert_eq!(a.check_against_log().unwrap(), Vec::<String>::new());

    // Running: too late.
    let mut b = approved("runs-withdraw-late");
    b.mark_ready(ID).unwrap();
    b.start(ID, "registry", json!({})).unwrap();
    assert!(matches!(
        b.refuse(ID, "steward", "changed my mind"),
        Err(StationError::Transition { .. })
    ));
}

#[test]
fn a_run_goes_ready_running_finished_and_holds_results_per_recipient() {
    let mut a = approved("runs-ok");
    assert_eq!(a.run(ID).unwrap(), None);
    assert_eq!(a.public_state(ID).unwrap().unwrap().state, "approved");
    // Not before it is ready.
    assert!(matches!(
        a.start(ID, "registry", json!({})),
        Err(StationError::Transition { .. })
    ));
    assert_eq!(a.mark_ready(ID).unwrap().state, RunState::Ready);
    assert_eq!(a.public_state(ID).unwrap().unwrap().state, "ready");
    assert_eq!(
        a.start(ID, "registry", json!({"compute": ["registry"]}))
            .unwrap()
            .state,
        RunState::Running
    );
    let held = [
        ("researcher".to_string(), docs("researcher")),
        ("auditor".to_string(), docs("auditor")),
    ];
    // As the service records them: each held document's SHA-256 in `run_finished`, which
    // `check_against_log` compares with what is stored.
    let sha256 = |t: &str| -> String {
        ring::digest::digest(&ring::digest::SHA256, t.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let held_for: Vec<_> = held
        .iter()
        .map(|(r, d)| json!({"recipient": r, "shares_sha256": sha256(&d.json)}))
        .collect();
    let run = a
        .finish(
            ID,
            "registry",
            json!({"analyses": [], "held_for": held_for}),
            &held,
        )
        .unwrap();
    assert_eq!(run.state, RunState::Finished);
    assert!(run.state.is_final());
    assert_eq!(
        a.results_for(ID, "researcher").unwrap(),
        Some(docs("researcher"))
    );
    assert_eq!(a.results_for(ID, "auditor").unwrap(), Some(docs("auditor")));
    assert_eq!(a.results_for(ID, "someone").unwrap(), None);
    assert_eq!(a.results_for("other", "researcher").unwrap(), None);
    assert_eq!(
        kinds(&a),
        [
            EntryKind::StudyReceived,
            EntryKind::Approved,
            EntryKind::RunStarted,
            EntryKind::RunFinished
        ]
    );
    // Final: no second start or abort.
    assert!(a.abort(ID, "registry", "x", "x").is_err());
    assert!(a.log().verify().is_ok());
    assert!(a.check_against_log().unwrap().is_empty());
}

#[test]
fn invalid_input_is_a_refusal_told_to_others_as_input_invalid() {
    let mut a = approved("runs-input");
    let why = "registry.csv:57: column \"registry.age\": not a number";
    let run = a.refuse_input(ID, "registry", why).unwrap();
    assert_eq!(run.state, RunState::Stopped);
    assert_eq!(run.reason.as_deref(), Some(why));
    assert_eq!(run.public_reason.as_deref(), Some(INPUT_INVALID));
    let public = a.public_state(ID).unwrap().unwrap();
    assert_eq!(public.state, "refused");
    assert_eq!(public.reason.as_deref(), Some(INPUT_INVALID));
    // The steward's record has the details.
    let rec = a.get(ID).unwrap().unwrap();
    assert_eq!(rec.state, StudyState::Refused);
    assert_eq!(rec.reason.as_deref(), Some(why));
    assert!(a.check_against_log().unwrap().is_empty());
}

#[test]
fn a_study_stopped_by_another_station_or_aborted_is_audited() {
    let mut a = approved("runs-stop");
    a.mark_ready(ID).unwrap();
    let run = a
        .stop(ID, "registry", "station gp refused: analyses: …")
        .unwrap();
    assert_eq!(run.state, RunState::Stopped);
    assert_eq!(
        a.public_state(ID).unwrap().unwrap().reason.as_deref(),
        Some("station gp refused: analyses: …")
    );
    let last = a.log().entries_for(ID).unwrap().pop().unwrap();
    assert_eq!(last.kind, EntryKind::RunAborted);
    assert_eq!(last.details_json()["ran"], false);
    assert!(a.start(ID, "registry", json!({})).is_err());

    // A run under way when the service stopped is aborted when it starts again.
    let mut b = approved("runs-interrupted");
    b.mark_ready(ID).unwrap();
    b.start(ID, "registry", json!({})).unwrap();
    assert_eq!(
        b.abort_interrupted("registry").unwrap(),
        vec![ID.to_string()]
    );
    let run = b.run(ID).unwrap().unwrap();
    assert_eq!(run.state, RunState::Aborted);
    let last = b.log().entries_for(ID).unwrap().pop().unwrap();
    assert_eq!(last.kind, EntryKind::RunAborted);
    assert_eq!(last.details_json()["ran"], true);
    assert!(b.results_for(ID, "researcher").unwrap().is_none());
    assert!(b.abort_interrupted("registry").unwrap().is_empty());
}

#[test]
fn tokens_are_bound_to_a_study_and_a_recipient_and_stored_hashed() {
    let mut a = approved("runs-token");
    let t = a.issue_token(ID, "researcher", "steward").unwrap();
    assert_eq!(t.len(), 64);
    assert_eq!(
        a.token_recipient(ID, &t).unwrap().as_deref(),
        Some("researcher")
    );
    assert_eq!(a.token_recipient("another-study", &t).unwrap(), None);
    // Another token: the first hex digit changed (replacing a letter that may not occur
    // left the token as it was in about 1.6 % of runs).
    let first = if t.starts_with('0') { "1" } else { "0" };
    let other = format!("{first}{}", &t[1..]);
    assert_ne!(other, t);
    assert_eq!(a.token_recipient(ID, &other).unwrap(), None);
    // A second token differs.
    let t2 = a.issue_token(ID, "researcher", "steward").unwrap();
    assert_ne!(t, t2);
    // Only a recipient of the study.
    assert!(matches!(
        a.issue_token(ID, "friend", "steward"),
        Err(StationError::Invalid(m)) if m.contains("friend")
    ));
    assert!(matches!(
        a.issue_token("nope", "researcher", "steward"),
        Err(StationError::UnknownStudy(_))
    ));
    // Audited without the token.
    let log = a.log().entries_for(ID).unwrap();
    let issued: Vec<_> = log
        .iter()
        .filter(|e| e.kind == EntryKind::TokenIssued)
        .collect();
    assert_eq!(issued.len(), 2);
    assert_eq!(issued[0].details_json()["recipient"], "researcher");
    assert!(log.iter().all(|e| !e.details.contains(&t)));
}

/// Issue 14: the runs and tokens tables were not covered by the audit chain: a run turned
/// `finished` by hand, or a token slipped into the file, went unseen by `audit verify`.
/// Both are now held to the log (on copies changed with raw SQL, as an intruder would).
#[test]
fn runs_and_tokens_are_held_to_the_audit_log() {
    let mut a = approved("runs-held");
    a.mark_ready(ID).unwrap();
    a.start(ID, "registry", json!({})).unwrap();
    a.abort(ID, "registry", "a station left", "a station left")
        .unwrap();
    let t = a.issue_token(ID, "researcher", "steward").unwrap();
    assert_eq!(a.check_against_log().unwrap(), Vec::<String>::new());
    assert!(a.token_recipient(ID, &t).unwrap().is_some());
    let path = std::path::PathBuf::from(a.log().path());
    drop(a);

    let tampered = |tag: &str, sql: &str| -> Vec<String> {
        let copy = path.with_file_name(format!("{tag}.sqlite"));
        std::fs::copy(&path, &copy).unwrap();
        rusqlite::Connection::open(&copy)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
        Approvals::open(&copy).unwrap().check_against_log().unwrap()
    };
    let p = tampered("finished", "UPDATE runs SET state = 'finished'");
    assert!(
        p.iter()
            .any(|x| x.contains("run is stored as finished") && x.contains("run_aborted last")),
        "{p:?}"
    );
    let p = tampered("no-run", "DELETE FROM runs");
    assert!(
        p.iter()
            .any(|x| x.contains("records run_aborted but no run is stored")),
        "{p:?}"
    );
    let p = tampered(
        "token",
        "INSERT INTO tokens (digest, id, recipient, issued_at) VALUES \
         ('0000000000000000000000000000000000000000000000000000000000000000', \
          'survival-2026', 'researcher', '2026-12-02T00:00:00Z')",
    );
    assert!(
        p.iter()
            .any(|x| x.contains("a token for researcher that no token_issued entry records")),
        "{p:?}"
    );
    // The genuine token is still vouched for.
    assert_eq!(p.len(), 1, "{p:?}");
}

/// Review of issue 14: the steward's command (its own connection to the audit file) and the
/// service decided on one study at the same moment. The states were read outside the write
/// transaction, so a refusal could land after the computation had started (both succeeded,
/// and the run was marked stopped while it computed). Now each reads and writes in one
/// immediate transaction: exactly one of the two wins, every time.
#[test]
fn a_withdrawal_and_the_start_of_the_computation_never_both_succeed() {
    let mut both = 0;
    for i in 0..40 {
        let a = approved(&format!("runs-race-{i}"));
        let path = std::path::PathBuf::from(a.log().path());
        let mut service = a;
        service.mark_ready(ID).unwrap();
        let mut steward = Approvals::open(&path).unwrap();
        let gate = std::sync::Barrier::new(2);
        let (started, refused) = std::thread::scope(|s| {
            let g = &gate;
            let st = s.spawn(move || {
                g.wait();
                service.start(ID, "registry", json!({})).is_ok()
            });
            let rf = s.spawn(move || {
                g.wait();
                steward.refuse(ID, "steward", "withdrawn").is_ok()
            });
            (st.join().unwrap(), rf.join().unwrap())
        });
        assert!(started || refused, "iteration {i}: neither won");
        if started && refused {
            both += 1;
        }
        let check = Approvals::open(&path).unwrap();
        let run = check.run(ID).unwrap().unwrap().state;
        let state = check.get(ID).unwrap().unwrap().state;
        assert_eq!(
            (state == StudyState::Refused, run == RunState::Stopped),
            (refused, refused),
            "iteration {i}: study {state}, run {run:?}"
        );
    }
    assert_eq!(
        both, 0,
        "a withdrawal and a start both succeeded {both} times in 40"
    );
}
