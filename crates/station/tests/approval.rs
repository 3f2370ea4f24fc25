//! A study's life at one station: received with the policy's decision, waiting for a
//! person, approved or refused; every transition in the audit log, the state persisted.

mod common;

use common::*;
use tessera_station::approval::{Approvals, StudyState};
use tessera_station::audit::EntryKind;
use tessera_station::policy::Decision;
use tessera_station::StationError;

const AUTO_KM: &str = r#"
[[policy.auto_approve]]
name = "km-only"
recipients = ["researcher"]
kinds = ["kaplan_meier"]
"#;

fn kinds(a: &Approvals, id: &str) -> Vec<(EntryKind, String)> {
    a.log()
        .entries_for(id)
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.actor))
        .collect()
}

#[test]
fn pending_then_approved_by_a_person() {
    let dir = folder("appr-pending");
    let cfg = station(&dir, POLICY);
    let s = study(&dir, STUDY);
    let mut a = Approvals::open(&dir.join("audit.sqlite")).unwrap();
    let d = cfg.evaluate(&s);
    let rec = a.receive(&s, &d, "researcher").unwrap();
    assert_eq!(rec.state, StudyState::Pending);
    assert_eq!(rec.text, STUDY);
    assert!(rec.reason.unwrap().contains("no automatic approval rules"));
    assert_eq!(a.pending().unwrap().len(), 1);

    let rec = a.approve("survival-2026", "dr.steward").unwrap();
    assert_eq!(rec.state, StudyState::Approved);
    assert_eq!(rec.decided_by.as_deref(), Some("dr.steward"));
    assert!(a.pending().unwrap().is_empty());
    assert_eq!(
        kinds(&a, "survival-2026"),
        vec![
            (EntryKind::StudyReceived, "researcher".to_string()),
            (EntryKind::Approved, "dr.steward".to_string()),
        ]
    );
    let received = &a.log().entries().unwrap()[0];
    let details = received.details_json();
    assert_eq!(details["decision"], "pending");
    assert_eq!(details["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(details["analyses"][1]["kind"], "cox");
    // The state survives reopening, and the log verifies.
    drop(a);
    let a = Approvals::open(&dir.join("audit.sqlite")).unwrap();
    assert_eq!(
        a.get("survival-2026").unwrap().unwrap().state,
        StudyState::Approved
    );
    assert_eq!(a.log().verify().unwrap().entries, 2);
    assert!(a.check_against_log().unwrap().is_empty());
}

#[test]
fn refused_by_a_person_with_a_reason() {
    let dir = folder("appr-refuse");
    let cfg = station(&dir, POLICY);
    let s = study(&dir, STUDY);
    let mut a = Approvals::open(&dir.join("audit.sqlite")).unwrap();
    a.receive(&s, &cfg.evaluate(&s), "researcher").unwrap();
    assert!(matches!(
        a.refuse("survival-2026", "dr.steward", "  "),
        Err(StationError::Invalid(_))
    ));
    let rec = a
        .refuse(
            "survival-2026",
            "dr.steward",
            "stage is not coded reliably before 2015",
        )
        .unwrap();
    assert_eq!(rec.state, StudyState::Refused);
    assert_eq!(
        rec.reason.as_deref(),
        Some("stage is not coded reliably before 2015")
    );
    let last = a.log().entries().unwrap().pop().unwrap();
    assert_eq!(last.kind, EntryKind::Refused);
    assert_eq!(
        last.details_json()["reasons"][0],
        "stage is not coded reliably before 2015"
    );
    // A refused study stays refused.
    for r in [
        a.approve("survival-2026", "someone"),
        a.refuse("survival-2026", "someone", "again"),
    ] {
        assert!(matches!(r, Err(StationError::Transition { .. })), "{r:?}");
    }
}

#[test]
fn automatic_decisions_are_audited_as_the_policy() {
    let dir = folder("appr-auto");
    let cfg = station(&dir, &format!("{POLICY}{AUTO_KM}"));
    let km_only = STUDY.split("[[analysis]]\nname = \"cox\"").next().unwrap();
    let s = study(&dir, km_only);
    let mut a = Approvals::open(&dir.join("audit.sqlite")).unwrap();
    let d = cfg.evaluate(&s);
    assert_eq!(
        d,
        Decision::Approve {
            rule: "km-only".into()
        }
    );
    let rec = a.receive(&s, &d, "researcher").unwrap();
    assert_eq!(rec.state, StudyState::Approved);
    assert_eq!(rec.decided_by.as_deref(), Some("policy"));
    assert_eq!(
        kinds(&a, "survival-2026"),
        vec![
            (EntryKind::StudyReceived, "researcher".to_string()),
            (EntryKind::Approved, "policy".to_string()),
        ]
    );
    // Approving again is not a transition; the steward may still withdraw it.
    assert!(matches!(
        a.approve("survival-2026", "dr.steward"),
        Err(StationError::Transition { .. })
    ));
    let rec = a
        .refuse(
            "survival-2026",
            "dr.steward",
            "withdrawn: ethics approval expired",
        )
        .unwrap();
    assert_eq!(rec.state, StudyState::Refused);
    assert!(a.check_against_log().unwrap().is_empty());

    // A study the policy refuses: refused at once, with every reason.
    let other = km_only
        .replace("survival-2026", "other-study")
        .replace("min_rows = 100", "min_rows = 1");
    let s2 = study(&dir, &other);
    let d2 = cfg.evaluate(&s2);
    let rec = a.receive(&s2, &d2, "researcher").unwrap();
    assert_eq!(rec.state, StudyState::Refused);
    assert!(rec.reason.unwrap().starts_with("min_rows: "));
    let last = a.log().entries().unwrap().pop().unwrap();
    assert_eq!(
        (last.kind, last.actor.as_str()),
        (EntryKind::Refused, "policy")
    );
    assert!(last.details_json()["reasons"][0]
        .as_str()
        .unwrap()
        .starts_with("min_rows: "));
    assert_eq!(a.all().unwrap().len(), 2);
}

#[test]
fn unknown_and_repeated_studies() {
    let dir = folder("appr-unknown");
    let cfg = station(&dir, POLICY);
    let s = study(&dir, STUDY);
    let mut a = Approvals::open(&dir.join("audit.sqlite")).unwrap();
    assert!(matches!(
        a.approve("nope", "x"),
        Err(StationError::UnknownStudy(_))
    ));
    a.receive(&s, &cfg.evaluate(&s), "researcher").unwrap();
    assert!(matches!(
        a.receive(&s, &cfg.evaluate(&s), "researcher"),
        Err(StationError::AlreadyReceived { .. })
    ));
    assert!(matches!(
        a.approve("survival-2026", " "),
        Err(StationError::Invalid(_))
    ));
    // Nothing but the one receipt was logged.
    assert_eq!(a.log().verify().unwrap().entries, 1);
}

#[test]
fn a_state_changed_behind_the_log_is_found() {
    let dir = folder("appr-behind");
    let cfg = station(&dir, POLICY);
    let s = study(&dir, STUDY);
    let path = dir.join("audit.sqlite");
    let mut a = Approvals::open(&path).unwrap();
    a.receive(&s, &cfg.evaluate(&s), "researcher").unwrap();
    drop(a);
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute("UPDATE studies SET state = 'approved'", [])
        .unwrap();
    drop(c);
    let a = Approvals::open(&path).unwrap();
    let found = a.check_against_log().unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].contains("stored as approved, the audit log says pending"));
}
