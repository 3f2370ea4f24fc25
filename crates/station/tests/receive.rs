//! `receive`: a study validated at this station (its dataset named by a source of the
//! station, the other parties' files absent), decided by the policy and recorded; an invalid
//! study is an error and leaves no trace.

mod common;

use common::*;
use tessera_station::approval::{Approvals, StudyState};
use tessera_station::audit::EntryKind;
use tessera_station::policy::Decision;
use tessera_station::{receive, receive_text, StationError};

#[test]
fn a_study_is_validated_here_decided_and_recorded() {
    let dir = folder("recv-ok");
    // Only this station's data is here: the GP's file is on the GP's machine.
    std::fs::remove_file(dir.join("gp.csv")).unwrap();
    let config = station(&dir, POLICY);
    let mut a = Approvals::open(&dir.join("audit.sqlite")).unwrap();
    // The study file lives elsewhere; its dataset is the station's.
    let elsewhere = dir.join("inbox");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let path = elsewhere.join("study.toml");
    std::fs::write(&path, STUDY).unwrap();
    let got = receive(&config, &mut a, &path, "alice").unwrap();
    assert!(
        matches!(got.decision, Decision::NeedsPerson { .. }),
        "{got:?}"
    );
    assert_eq!(got.record.id, "survival-2026");
    assert_eq!(got.record.state, StudyState::Pending);
    let log = a.log().entries_for("survival-2026").unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].kind, EntryKind::StudyReceived);
    assert_eq!(log[0].actor, "alice");
    // Once only.
    assert!(matches!(
        receive(&config, &mut a, &path, "alice"),
        Err(StationError::AlreadyReceived { .. })
    ));
}

#[test]
fn a_refusal_is_a_decision_not_an_error() {
    let dir = folder("recv-refuse");
    let config = station(&dir, POLICY);
    let mut a = Approvals::open(&dir.join("audit.sqlite")).unwrap();
    let text = STUDY.replace(
        "age = \"numeric\"",
        "age = \"numeric\"\npostcode = { type = \"categorical\", levels = [\"a\", \"b\"] }",
    );
    let got = receive_text(&config, &mut a, "study.toml", &text, "bob").unwrap();
    match &got.decision {
        Decision::Refuse { reasons } => {
            assert!(
                reasons.iter().any(|r| r.starts_with("disallowed_columns:")),
                "{reasons:?}"
            )
        }
        d => panic!("{d:?}"),
    }
    assert_eq!(got.record.state, StudyState::Refused);
}

#[test]
fn an_invalid_study_is_an_error_and_not_recorded() {
    let dir = folder("recv-invalid");
    let config = station(&dir, POLICY);
    let mut a = Approvals::open(&dir.join("audit.sqlite")).unwrap();
    // A field the format does not have.
    let bad = STUDY.replace("[linkage]\n", "[linkage]\nbogus = 1\n");
    let e = receive_text(&config, &mut a, "study.toml", &bad, "bob").unwrap_err();
    assert!(matches!(e, StationError::Study(_)), "{e:?}");
    assert!(e.to_string().starts_with("study.toml:"), "{e}");
    assert!(e.to_string().contains("bogus"), "{e}");
    let e = receive(&config, &mut a, &dir.join("nope.toml"), "bob").unwrap_err();
    assert!(e.to_string().contains("nope.toml"), "{e}");
    assert!(matches!(
        receive_text(&config, &mut a, "study.toml", STUDY, " "),
        Err(StationError::Invalid(_))
    ));
    assert!(a.all().unwrap().is_empty());
    assert!(a.log().entries().unwrap().is_empty());
}

/// A study names stations only: an address for a party is refused at the station (each
/// station configures its own computation endpoint), naming the place and the field; and
/// nothing is recorded.
#[test]
fn a_study_carrying_computation_addresses_is_refused() {
    let dir = folder("recv-address");
    let config = station(&dir, POLICY);
    let mut a = Approvals::open(&dir.join("audit.sqlite")).unwrap();
    let text = STUDY.replace(
        "[parties.gp]\ncompute = 1",
        "[parties.gp]\ncompute = 1\naddress = \"127.0.0.1:7000\"",
    );
    assert_ne!(text, STUDY);
    match receive_text(&config, &mut a, "study.toml", &text, "bob") {
        Err(StationError::Study(e)) => {
            let e = e.to_string();
            assert!(
                e.starts_with("study.toml:9:11: ")
                    && e.contains(
                        "parties.gp.address: computation addresses are each station's own \
                         configuration (station.toml [compute]); remove it"
                    ),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(a.all().unwrap().is_empty());
}

/// A station without a `[compute]` endpoint refuses to be a compute party.
#[test]
fn a_compute_party_needs_a_computation_endpoint() {
    let dir = folder("recv-nocompute");
    let text = station_toml(POLICY);
    let start = text.find("[compute]").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    let text = format!("{}{}", &text[..start], &text[end + 2..]);
    let config = tessera_station::config::parse("station.toml", &text, &dir).unwrap();
    assert_eq!(config.compute, None);
    let mut a = Approvals::open(&dir.join("audit.sqlite")).unwrap();
    let got = receive_text(&config, &mut a, "study.toml", STUDY, "bob").unwrap();
    match &got.decision {
        Decision::Refuse { reasons } => assert!(
            reasons
                .iter()
                .any(|r| r.starts_with("compute: station registry has no [compute]")),
            "{reasons:?}"
        ),
        d => panic!("{d:?}"),
    }
}
