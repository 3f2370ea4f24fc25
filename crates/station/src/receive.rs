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
//!    ([`Approvals::receive_shown`]): the audit entry holds the steward's reasons, the
//!    study's stored reason (what `GET /studies/{id}` and the other stations are told) the
//!    researcher's.
//!
//! An invalid study is an error ([`StationError::Study`]) and is neither stored nor audited:
//! nothing about it was decided. A refusal is not an error: it is a decision, recorded.

use std::path::Path;

use crate::approval::{Approvals, StudyRecord};
use crate::config::Config;
use crate::error::{Result, StationError};
use crate::policy::{Audience, Decision};

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
/// against the policy and records it and the decision in the approvals and the audit log.
/// Errors: an invalid study ([`StationError::Study`], nothing recorded), a study id already
/// received, or the audit file failing.
pub fn receive_text(
    config: &Config,
    approvals: &mut Approvals,
    name: &str,
    text: &str,
    from: &str,
) -> Result<Received> {
    if from.trim().is_empty() {
        return Err(StationError::Invalid(
            "who submitted the study must be named".to_string(),
        ));
    }
    let study = tessera_study::validate::parse_at_station(name, text, &config.name)?;
    let decision = config.evaluate(&study);
    let shown = config.evaluate_for(&study, Audience::Researcher);
    let record = approvals.receive_shown(&study, &decision, &shown, from)?;
    Ok(Received {
        decision,
        shown,
        record,
    })
}
