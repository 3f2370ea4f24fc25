//! Revisions and reruns: a study refused, stopped or aborted here takes another text under
//! its id (a revision) or the same text again (a rerun), from whoever submitted it here or
//! from another station passing a later revision on; a person's decision on a text stands
//! for its reruns as the policy says; nothing under way or finished is replaced; the audit
//! log links the revisions and still verifies.

mod common;

use common::*;
use tessera_station::approval::{Approvals, StudyState};
use tessera_station::policy::Decision;
use tessera_station::receive::receive_revision;
use tessera_station::runs::RunState;
use tessera_station::{receive_text, StationError};

const ID: &str = "survival-2026";

/// The standard study with a comment added: another text under the same id.
fn changed() -> String {
    STUDY.replace(
        "title = \"Survival by stage\"",
        "title = \"Survival by stage, v2\"",
    )
}

fn setup(tag: &str, policy: &str) -> (tessera_station::Config, Approvals) {
    let dir = folder(tag);
    let config = station(&dir, policy);
    let a = Approvals::open(&dir.join("audit.sqlite")).unwrap();
    (config, a)
}

/// `text` as revision `revision`, passed on by the GP's station.
fn from_gp(
    config: &tessera_station::Config,
    a: &mut Approvals,
    text: &str,
    revision: u32,
) -> Result<tessera_station::Received, StationError> {
    receive_revision(config, a, "study.toml", text, "station gp", Some(revision))
}

fn intact(a: &Approvals) {
    a.log().verify().unwrap();
    assert_eq!(a.check_against_log().unwrap(), Vec::<String>::new());
}

#[test]
fn a_changed_text_of_a_study_refused_by_the_policy_is_its_next_revision() {
    let (config, mut a) = setup("rev-refused", POLICY);
    // Revision 1 asks for a disallowed column: refused by the policy.
    let bad = STUDY.replace(
        "age = \"numeric\"",
        "age = \"numeric\"\npostcode = { type = \"categorical\", levels = [\"a\", \"b\"] }",
    );
    assert_ne!(bad, STUDY);
    let r1 = receive_text(&config, &mut a, "study.toml", &bad, "alice").unwrap();
    assert_eq!(r1.record.state, StudyState::Refused);
    assert_eq!(r1.record.revision, 1);
    // The column is of a source this station does not publish: the steward's reasons in
    // full are kept apart from the researcher's words.
    let full = a.log().steward_reasons(ID).unwrap().unwrap();
    assert!(full.iter().any(|r| r.contains("postcode")), "{full:?}");
    // The corrected text: revision 2, judged afresh (a person must decide).
    let r2 = receive_text(&config, &mut a, "study.toml", STUDY, "alice").unwrap();
    assert_eq!(r2.record.revision, 2);
    assert_eq!(r2.record.state, StudyState::Pending);
    // Revision 1's reasons are not shown as revision 2's.
    assert_eq!(a.log().steward_reasons(ID).unwrap(), None);
    let earlier = a.earlier_revisions(ID).unwrap();
    assert_eq!(earlier.len(), 1);
    assert_eq!(earlier[0].revision, 1);
    assert_eq!(earlier[0].state, StudyState::Refused);
    // Its stored reason is what the researcher was told (the steward's is in the log).
    let told = earlier[0].reason.as_deref().unwrap();
    assert!(!told.is_empty() && !told.contains("postcode"), "{told}");
    // The audit log links them: the second study_received names the text it replaces.
    let received: Vec<_> = a
        .log()
        .entries_for(ID)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == tessera_station::EntryKind::StudyReceived)
        .collect();
    assert_eq!(received.len(), 2);
    let d = received[1].details_json();
    assert_eq!(d["revision"], 2);
    assert_eq!(d["replaces"]["revision"], 1);
    assert_eq!(d["replaces"]["unchanged"], false);
    assert_eq!(
        d["replaces"]["sha256"],
        tessera_study::format::text_digest(&bad)
    );
    intact(&a);
}

#[test]
fn a_text_still_under_way_or_finished_takes_no_revision() {
    let (config, mut a) = setup("rev-underway", POLICY);
    receive_text(&config, &mut a, "study.toml", STUDY, "alice").unwrap();
    // Pending: the same text again is "already received", saying how it stands.
    match receive_text(&config, &mut a, "study.toml", STUDY, "alice") {
        Err(StationError::AlreadyReceived { held: Some(h), .. }) => {
            assert!(h.starts_with("pending"), "{h}")
        }
        other => panic!("{other:?}"),
    }
    a.approve(ID, "steward").unwrap();
    a.mark_ready(ID).unwrap();
    a.start(ID, "registry", serde_json::json!({})).unwrap();
    // Running: neither a changed text nor another station's later revision replaces it.
    for got in [
        receive_text(&config, &mut a, "study.toml", &changed(), "alice"),
        from_gp(&config, &mut a, &changed(), 2),
    ] {
        assert!(
            matches!(got, Err(StationError::AlreadyReceived { .. })),
            "{got:?}"
        );
    }
    a.finish(ID, "registry", serde_json::json!({}), &[])
        .unwrap();
    let e = receive_text(&config, &mut a, "study.toml", STUDY, "alice").unwrap_err();
    assert!(e.to_string().contains("tessera study results"), "{e}");
    assert_eq!(a.get(ID).unwrap().unwrap().revision, 1);
    intact(&a);
}

#[test]
fn only_its_submitter_or_a_station_of_the_study_revises_it() {
    let (config, mut a) = setup("rev-owner", POLICY);
    receive_text(&config, &mut a, "study.toml", STUDY, "alice").unwrap();
    a.refuse(ID, "steward", "not now").unwrap();
    // Mallory, another researcher, cannot take Alice's refused study over.
    match receive_text(&config, &mut a, "study.toml", &changed(), "mallory") {
        Err(StationError::AlreadyReceived { held: None, .. }) => {}
        other => panic!("{other:?}"),
    }
    // A station passing on revision 1 again, or an earlier one, is "already received".
    assert!(matches!(
        from_gp(&config, &mut a, &changed(), 1),
        Err(StationError::AlreadyReceived { .. })
    ));
    assert!(matches!(
        from_gp(&config, &mut a, &changed(), 0),
        Err(StationError::Invalid(_))
    ));
    // Nor one so far ahead that the counter could no longer grow (a peer exhausting it).
    assert!(matches!(
        from_gp(&config, &mut a, &changed(), u32::MAX),
        Err(StationError::Invalid(_))
    ));
    // A later revision from a station of the study is taken, numbered as it says.
    let r = from_gp(&config, &mut a, &changed(), 3).unwrap();
    assert_eq!(r.record.revision, 3);
    assert_eq!(r.record.state, StudyState::Pending);
    intact(&a);
}

/// An approval by a person, then an aborted run: the rerun of the same text is approved
/// again by default, waits for a person with `rerun = "ask"`, and a person's refusal of a
/// text stays a refusal of its reruns.
#[test]
fn a_persons_decision_on_a_text_stands_for_its_reruns_as_the_policy_says() {
    for (policy, expect) in [
        (POLICY.to_string(), StudyState::Approved),
        (format!("{POLICY}rerun = \"ask\"\n"), StudyState::Pending),
    ] {
        let (config, mut a) = setup(&format!("rerun-{expect}"), &policy);
        receive_text(&config, &mut a, "study.toml", STUDY, "alice").unwrap();
        a.approve(ID, "steward").unwrap();
        a.mark_ready(ID).unwrap();
        a.start(ID, "registry", serde_json::json!({})).unwrap();
        a.abort(ID, "registry", "gp died", "station gp: lost")
            .unwrap();
        let r = receive_text(&config, &mut a, "study.toml", STUDY, "alice").unwrap();
        assert_eq!(r.record.revision, 2);
        assert_eq!(r.record.state, expect, "{policy}");
        if expect == StudyState::Approved {
            assert_eq!(
                r.decision,
                Decision::Approve {
                    rule: "rerun of the text steward approved".into()
                }
            );
        }
        assert_eq!(a.run(ID).unwrap(), None);
        let e = &a.earlier_revisions(ID).unwrap()[0];
        assert_eq!(e.run.as_deref(), Some(RunState::Aborted.as_str()));
        intact(&a);
    }
    // Refused by a person: a rerun of that text is refused, naming the steward's reason.
    let (config, mut a) = setup("rerun-refused", POLICY);
    receive_text(&config, &mut a, "study.toml", STUDY, "alice").unwrap();
    a.refuse(ID, "steward", "the cohort is too small").unwrap();
    let r = receive_text(&config, &mut a, "study.toml", STUDY, "alice").unwrap();
    assert_eq!(r.record.state, StudyState::Refused);
    match r.decision {
        Decision::Refuse { reasons } => assert!(
            reasons[0].contains("steward") && reasons[0].contains("too small"),
            "{reasons:?}"
        ),
        d => panic!("{d:?}"),
    }
    // A changed text is judged afresh.
    let r = receive_text(&config, &mut a, "study.toml", &changed(), "alice").unwrap();
    assert_eq!(r.record.state, StudyState::Pending);
    assert_eq!(r.record.revision, 3);
    intact(&a);
}

/// A refusal by the data check is not a person's: once the steward mended the data, the
/// rerun of the text a person approved is approved again.
#[test]
fn a_rerun_after_invalid_input_keeps_the_approval_of_the_text() {
    let (config, mut a) = setup("rerun-input", POLICY);
    receive_text(&config, &mut a, "study.toml", STUDY, "alice").unwrap();
    a.approve(ID, "steward").unwrap();
    a.refuse_input(ID, "registry", "registry.csv:5: age: not a number")
        .unwrap();
    let r = receive_text(&config, &mut a, "study.toml", STUDY, "alice").unwrap();
    assert_eq!(r.record.state, StudyState::Approved, "{r:?}");
    intact(&a);
}

/// A study finished here but aborted at another compute station can never be opened (one
/// station's part is missing): then, and only then, a finished study takes a rerun, and the
/// shares held for it are dropped with it; the audit log still verifies.
#[test]
fn a_finished_study_takes_a_rerun_only_when_its_results_can_never_be_opened() {
    use tessera_station::receive::receive_revision_with;
    use tessera_station::runs::HeldShares;
    let (config, mut a) = setup("rerun-unopenable", POLICY);
    receive_text(&config, &mut a, "study.toml", STUDY, "alice").unwrap();
    a.approve(ID, "steward").unwrap();
    a.mark_ready(ID).unwrap();
    a.start(ID, "registry", serde_json::json!({})).unwrap();
    let held = HeldShares {
        json: "{\"for\": \"researcher\"}".into(),
    };
    let details = serde_json::json!({"held_for": [{"recipient": "researcher",
        "shares_sha256": tessera_study::format::text_digest(&held.json)}]});
    a.finish(ID, "registry", details, &[("researcher".to_string(), held)])
        .unwrap();
    intact(&a);
    let rerun = |a: &mut Approvals, unopenable: bool| {
        receive_revision_with(
            &config,
            a,
            "study.toml",
            STUDY,
            "alice",
            None,
            &|id, revision| unopenable && id == ID && revision == 1,
        )
    };
    // Every station finished (as far as this one heard): the results stay.
    assert!(matches!(
        rerun(&mut a, false),
        Err(StationError::AlreadyReceived { .. })
    ));
    // Another compute station aborted: the rerun is taken, the shares dropped.
    let r = rerun(&mut a, true).unwrap();
    assert_eq!(r.record.revision, 2);
    assert_eq!(r.record.state, StudyState::Approved, "{r:?}");
    assert!(a.results_for(ID, "researcher").unwrap().is_none());
    assert_eq!(
        a.earlier_revisions(ID).unwrap()[0].run.as_deref(),
        Some("finished")
    );
    intact(&a);
}
