//! Receiving a study at this station: validate it, let the policy decide, record it.
//!
//! This is the one function behind `tessera station receive STUDY.toml` and the service's
//! "submit a study" endpoints (from a researcher or forwarded by another station), so all
//! validate, decide and audit identically:
//!
//! 1. the study is validated *at this station*
//!    ([`tessera_study::validate::parse_at_station`] with this station's name): every check
//!    of a study file; this station's `[data.NAME] file` names one of its configured
//!    sources (`[sources.NAME]`, or anything when it has only one), which the policy checks;
//! 2. the policy decides ([`Config::evaluate`]): approved by a rule, refused with every
//!    reason, or waiting for a person; a refusal's reasons are also worded for the researcher
//!    and the other stations ([`Audience::Researcher`]: nothing of an unpublished source);
//! 3. the study and the decision are stored and audited in one SQLite transaction
//!    ([`Approvals::receive_revision`]): the audit entry holds the steward's reasons, the
//!    study's stored reason (what `GET /studies/{id}` and the other stations are told) the
//!    researcher's.
//!
//! An invalid study is an error ([`StationError::Study`]) and is neither stored nor audited:
//! nothing about it was decided. A refusal is not an error: it is a decision, recorded.
//!
//! **Revisions.** A text under an id this station already holds is the study's next
//! revision when the current one is not running or finished here ([`receive_revision`]):
//! from a researcher who submitted an earlier revision here (a changed text, or the same
//! text again once it was refused, stopped or aborted: a *rerun*), or from another station
//! of the study passing revision N on. A changed text is judged afresh; a rerun too, except
//! that a person's decision on that very text stands: a refusal stays a refusal, and an
//! approval stands unless `[policy] rerun = "ask"` (the policy's own refusals always
//! apply). The same text while the study is still under way is "already received".

use std::path::Path;

use tessera_study::Study;

use crate::approval::{not_revisable, Approvals, StudyRecord, StudyState};
use crate::config::Config;
use crate::error::{Result, StationError};
use crate::policy::{Audience, Decision, Rerun};
use crate::runs::RunState;

/// What receiving a study did: the policy's decision and the stored record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Received {
    /// The policy's verdict (the rule that approved it, every refusal reason, or why a
    /// person must decide).
    pub decision: Decision,
    /// The same verdict as the researcher and the other stations are told it (a refusal's
    /// reasons worded for [`Audience::Researcher`]).
    #[serde(skip)]
    pub shown: Decision,
    /// The study as now stored at this station.
    pub record: StudyRecord,
}

/// The most revisions another station may pass on ahead of the one this station holds.
pub const MAX_REVISION_STEP: u32 = 1000;

/// Reads the study file at `study_path` and receives it (see [`receive_text`]); `from` is
/// recorded as who submitted it.
pub fn receive(
    config: &Config,
    approvals: &mut Approvals,
    study_path: &Path,
    from: &str,
) -> Result<Received> {
    let name = study_path.display().to_string();
    let text = std::fs::read_to_string(study_path).map_err(|e| {
        StationError::Study(tessera_study::StudyError::Invalid(format!(
            "{name}: cannot read the study file: {e}"
        )))
    })?;
    receive_text(config, approvals, &name, &text, from)
}

/// Validates the study text `text` (called `name` in messages) at this station, evaluates it
/// against the policy and records it and the decision in the approvals and the audit log:
/// a new study, or the next revision of one `from` submitted here (see the module docs).
/// Errors: an invalid study ([`StationError::Study`], nothing recorded), a study id already
/// received (the same text under way, another's study, or one running or finished), or the
/// audit file failing.
pub fn receive_text(
    config: &Config,
    approvals: &mut Approvals,
    name: &str,
    text: &str,
    from: &str,
) -> Result<Received> {
    receive_revision(config, approvals, name, text, from, None)
}

/// [`receive_text`] with the revision another station passes on (`Some(n)`: taken when this
/// station holds an earlier one, "already received" otherwise); `None` from a researcher or
/// the steward: the next revision, if any.
pub fn receive_revision(
    config: &Config,
    approvals: &mut Approvals,
    name: &str,
    text: &str,
    from: &str,
    revision: Option<u32>,
) -> Result<Received> {
    receive_revision_with(config, approvals, name, text, from, revision, &|_, _| false)
}

/// [`receive_revision`] asking `unopenable(id, revision)` whether the results this station
/// holds for the study's current revision can never be opened (another compute station of
/// that revision aborted or stopped it, as the service last heard): then a finished study
/// takes a rerun or a revision too, and what it held is dropped. Asked only of a study
/// finished here, with the id and revision read from the text and the file.
pub fn receive_revision_with(
    config: &Config,
    approvals: &mut Approvals,
    name: &str,
    text: &str,
    from: &str,
    revision: Option<u32>,
    unopenable: &dyn Fn(&str, u32) -> bool,
) -> Result<Received> {
    if from.trim().is_empty() {
        return Err(StationError::Invalid(
            "who submitted the study must be named".to_string(),
        ));
    }
    if revision == Some(0) {
        return Err(StationError::Invalid(
            "revisions are numbered from 1".to_string(),
        ));
    }
    let study = tessera_study::validate::parse_at_station(name, text, &config.name)?;
    // A station passing a revision on sets its number: it may skip the revisions this station
    // missed, not so far that the counter could no longer grow.
    let held = approvals.get(&study.id)?.map_or(0, |r| r.revision);
    if revision.is_some_and(|r| r > held.saturating_add(MAX_REVISION_STEP)) {
        return Err(StationError::Invalid(format!(
            "study {}: revision {} is more than {MAX_REVISION_STEP} past revision {held} held here",
            study.id,
            revision.unwrap_or(0)
        )));
    }
    // Whether a study is refused is the steward's full check; the researcher and the other
    // stations are told the same decision in words that name nothing unpublished.
    let fresh = config.evaluate(&study);
    let shown_for = |decision: &Decision| {
        if *decision == fresh {
            config.evaluate_for(&study, Audience::Researcher)
        } else {
            decision.clone()
        }
    };
    let Some(cur) = approvals.get(&study.id)? else {
        let shown = shown_for(&fresh);
        let record = approvals.receive_revision(
            &study,
            &fresh,
            &shown,
            from,
            revision.unwrap_or(1),
            false,
        )?;
        return Ok(Received {
            decision: fresh,
            shown,
            record,
        });
    };
    let already = |a: &Approvals, told: bool| -> Result<StationError> {
        Ok(StationError::AlreadyReceived {
            id: study.id.clone(),
            held: if told { a.held(&study.id)? } else { None },
        })
    };
    let run = approvals.run(&study.id)?.map(|r| r.state);
    let unopenable = run == Some(RunState::Finished) && unopenable(&study.id, cur.revision);
    let unchanged = cur.text == study.source.text;
    let next = match revision {
        Some(r) if r <= cur.revision => return Err(already(approvals, true)?),
        Some(r) => r,
        None => {
            // Only whoever submitted it here may revise it (another researcher who picked
            // the same id learns nothing of it).
            let theirs = approvals
                .log()
                .submitters(Some(&study.id))?
                .iter()
                .any(|(_, by)| by == from);
            if !theirs {
                return Err(already(approvals, false)?);
            }
            let ended = cur.state == StudyState::Refused
                || matches!(run, Some(RunState::Aborted | RunState::Stopped))
                || unopenable;
            if unchanged && !ended {
                return Err(already(approvals, true)?);
            }
            cur.revision.checked_add(1).ok_or_else(|| {
                StationError::Invalid(format!(
                    "study {}: no revision after {}",
                    study.id, cur.revision
                ))
            })?
        }
    };
    if not_revisable(run, unopenable).is_some() {
        return Err(already(approvals, true)?);
    }
    let decision = if unchanged {
        rerun_decision(config, approvals, &study, fresh.clone())?
    } else {
        fresh.clone()
    };
    let shown = shown_for(&decision);
    let record = approvals.receive_revision(&study, &decision, &shown, from, next, unopenable)?;
    Ok(Received {
        decision,
        shown,
        record,
    })
}

/// The decision on a rerun of `study`'s unchanged text: the policy's, except that a person's
/// last decision on this text stands (an approval only with `[policy] rerun = "keep"`, and
/// never against a refusal of the policy).
fn rerun_decision(
    config: &Config,
    approvals: &Approvals,
    study: &Study,
    fresh: Decision,
) -> Result<Decision> {
    let past = approvals.last_decision_on(&study.id, &study.digest())?;
    Ok(match (past, fresh) {
        (_, refused @ Decision::Refuse { .. }) => refused,
        (Some(p), _) if p.by_person && !p.approved => Decision::Refuse {
            reasons: vec![format!(
                "steward: {} refused this text before: {}",
                p.by,
                p.reasons.join("; ")
            )],
        },
        (Some(p), Decision::NeedsPerson { .. })
            if p.by_person && p.approved && config.policy.rerun == Rerun::Keep =>
        {
            Decision::Approve {
                rule: format!("rerun of the text {} approved", p.by),
            }
        }
        (_, fresh) => fresh,
    })
}
