//! The steward's policy and the decision it gives for a study.
//!
//! A policy (`[policy]` of `station.toml`, see [`crate::config`]) lists the analysis kinds
//! the station allows, the columns of its own data that may or may not be shared, the
//! recipients results may go to, floors for the disclosure counts, and rules for automatic
//! approval. [`evaluate`] checks a study against it *before anything is shared*:
//!
//! 1. the study must name this station, and every other station must be trusted (by name;
//!    where the study gives a fingerprint it must be the trusted one);
//! 2. every analysis kind must be allowed, every recipient allowed (by name or by
//!    certificate fingerprint);
//! 3. every column this station is asked to share must be declared by its source, with a
//!    fitting type (`key` columns only link, they are never shared); no column may be
//!    disallowed, and with `allowed_columns` every shared column must be listed; where the
//!    source declares a categorical column's levels (`[sources.NAME.levels]`), the study must
//!    list exactly those, spelled alike (`levels`);
//! 4. every column the study links on must be declared a `key` column by the source
//!    (`key_columns`), is subject to the same column rules (`disallowed_columns`,
//!    `allowed_columns`), and the study's linkage must normalise it exactly as the source's
//!    `[sources.NAME.keys.COLUMN]` does (`key_normalisation`): a study cannot link on, and so
//!    count or single out by, a data column, and stations that normalised a key
//!    differently would find no matches, so a mismatch is a refusal rather than an empty
//!    join;
//! 5. disclosure values the study sets itself may only be stricter than the policy's floors;
//!    `allow_event_times` / `allow_extremes` need the policy's consent, and so does
//!    `[disclosure] counts` (per-station row counts for the recipients: `allow_counts`);
//! 6. the study's size stays within the policy's caps (`max_analyses`, `max_grid_times`,
//!    `max_quantiles`, `max_levels`, `max_covariates`, `max_histogram_edges`, `max_columns`,
//!    `max_cells`: the defaults
//!    of [`Limits::DEFAULT`], which validation enforces, or lower).
//!
//! Any violation refuses the study with every reason, each of the form `rule: item …`. The
//! reasons are worded for an [`Audience`]: the steward reads every one in full; a researcher
//! (and another station, which relays them to researchers) reads them as if this station had
//! only its published sources (`[sources.NAME] publish = true`, what its catalogue shows): a
//! study reading a source the station does not publish is told `sources: … names no published
//! source` (listing the published ones) instead of anything about that source's columns,
//! types, levels or keys, and no column rule of the policy is named for a column no published
//! source declares ([`evaluate_station_for`]). So what a researcher learns from a refusal is
//! what [`crate::catalogue::Catalogue::check`] tells them before submitting. Whether a study
//! is refused is the same for every audience.
//!
//! A study that passes is approved by the first `[[policy.auto_approve]]` rule that covers
//! it, or waits for a person. [`effective_disclosure`] gives the rules the run must apply: the
//! stricter of the study's and the policy's.

use std::collections::BTreeSet;

use tessera_link::keys::describe_steps;
use tessera_net::identity::Fingerprint;
use tessera_stats::survival::km::DEFAULT_MIN_CELL as SURVIVAL_MIN_CELL;
use tessera_stats::Disclosure;
use tessera_study::format::ColumnType;
use tessera_study::limits::{excesses, Limits};
use tessera_study::Study;

use crate::config::{ColumnKind, SourceConfig, Trusted};

/// The analysis kinds a study may name (`kind` of `[[analysis]]`).
pub const KINDS: [&str; 15] = [
    "kaplan_meier",
    "logrank",
    "cox",
    "ols",
    "logistic",
    "describe",
    "crosstab",
    "correlation",
    "cuminc",
    "rmst",
    "finegray",
    "auc",
    "elasticnet",
    "relsurv",
    "boosted_trees",
];

/// The smallest `min_cell` any analysis uses by default (contingency tables; survival uses
/// [`SURVIVAL_MIN_CELL`]).
pub const TABLE_MIN_CELL: u64 = 5;

/// A recipient as the policy names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecipientRule {
    /// A recipient name as the study writes it (chosen by the researcher: a weak check).
    Name(String),
    /// The SHA-256 fingerprint of the recipient's certificate (a strong check: results go
    /// only to the holder of that key).
    Fingerprint(Fingerprint),
}

impl RecipientRule {
    /// Whether the study's recipient `name` (with its fingerprint, if given) matches.
    pub fn matches(&self, name: &str, fingerprint: Option<&Fingerprint>) -> bool {
        match self {
            RecipientRule::Name(n) => n == name,
            RecipientRule::Fingerprint(f) => fingerprint == Some(f),
        }
    }
}

/// A rule for automatic approval: a study (already allowed by the policy) is approved
/// without a person when every part of it is within the rule.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoRule {
    /// Name shown in the decision and the audit log (`auto_approve[N]` when not given).
    pub name: String,
    /// Every recipient of the study must match one of these.
    pub recipients: Vec<RecipientRule>,
    /// Every analysis must be of one of these kinds (empty: any kind the policy allows).
    pub kinds: Vec<String>,
    /// Models (cox, ols, logistic) may list at most this many covariates (model terms,
    /// `a*b` counted as its three terms).
    pub max_covariates: Option<usize>,
}

/// The steward's policy.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Policy {
    /// Allowed analysis kinds (from [`KINDS`]).
    pub analyses: Vec<String>,
    /// If set, the only columns of this station (by name) a study may use.
    pub allowed_columns: Option<Vec<String>>,
    /// Columns of this station (by name) no study may use.
    pub disallowed_columns: Vec<String>,
    /// Who may receive results.
    pub recipients: Vec<RecipientRule>,
    /// Floor for the study's `min_rows`.
    pub min_rows: Option<u64>,
    /// Floor for the study's `min_cell` (5, [`TABLE_MIN_CELL`], unless the steward sets one).
    pub min_cell: Option<u64>,
    /// Floor for the study's `min_level_rows`.
    pub min_level_rows: Option<u64>,
    /// Floor for the study's `min_events` (Kaplan–Meier: events between shown grid times;
    /// 5, the analyses' default, unless the steward sets one).
    pub min_events: Option<u64>,
    /// Whether Kaplan–Meier may be shown at every event time.
    pub allow_event_times: bool,
    /// Whether minima and maxima may be shown.
    pub allow_extremes: bool,
    /// Whether a study may show its recipients each data station's row count
    /// (`[disclosure] counts = true`; off by default: without it recipients see only the
    /// linked table's size).
    pub allow_counts: bool,
    /// Caps on the study's size: [`Limits::DEFAULT`] (what validation enforces) or lower
    /// (`max_analyses`, `max_grid_times`, … in `[policy]`).
    pub limits: Limits,
    /// Automatic approval rules, tried in order.
    pub auto_approve: Vec<AutoRule>,
    /// Whether a person's approval stands for a rerun of the same text (`rerun = "keep"`,
    /// the default) or a person must approve again (`rerun = "ask"`).
    pub rerun: Rerun,
}

/// What a rerun of an unchanged text needs at this station after a person approved it
/// (`[policy] rerun`): an aborted run revealed nothing, and the text is the one approved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rerun {
    /// The person's approval stands (the policy's refusals still apply).
    #[default]
    Keep,
    /// A person approves again.
    Ask,
}

/// What this station knows about itself when it judges a study.
#[derive(Clone, Copy, Debug)]
pub struct Local<'a> {
    /// This station's name (its party name in studies).
    pub name: &'a str,
    /// Its data sources.
    pub sources: &'a [SourceConfig],
    /// The stations it trusts.
    pub trusted: &'a [Trusted],
}

/// The policy's verdict on a study (serialised as `{"approve": {"rule": …}}`, … for the
/// service's API).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Allowed and approved by the automatic rule named.
    Approve {
        /// The rule's name.
        rule: String,
    },
    /// Against the policy; each reason names the rule and the offending item.
    Refuse {
        /// `rule: what`, one per violation.
        reasons: Vec<String>,
    },
    /// Allowed, but no automatic rule covers it: a person must approve or refuse it.
    NeedsPerson {
        /// Why no rule applies.
        why: String,
    },
}

/// Who reads a decision's reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// This station's steward (its tools, its log, the audit log): every reason in full.
    Steward,
    /// A researcher, or another station (which relays reasons to its researchers): nothing
    /// of a source this station does not publish (its existence, columns, types, levels,
    /// keys) nor of the policy's rules about columns no published source declares.
    Researcher,
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(", ")
    }
}

/// Which of this station's sources the study's `[data.STATION]` reads: the source named by
/// its `file`, or the only source.
pub(crate) fn pick_source<'a>(
    local: &Local<'a>,
    file_name: &str,
) -> std::result::Result<&'a SourceConfig, String> {
    if let Some(s) = local.sources.iter().find(|s| s.name == file_name) {
        return Ok(s);
    }
    match local.sources {
        [only] => Ok(only),
        all => Err(format!(
            "sources: data.{}.file `{file_name}` names no source of this station (sources: {})",
            local.name,
            list(&all.iter().map(|s| s.name.clone()).collect::<Vec<_>>())
        )),
    }
}

/// The reason a researcher reads for a study whose `[data.STATION] file` names no source this
/// station publishes, whether it names an unpublished one or none at all: the same words, so
/// that the two cannot be told apart.
fn no_published_source(local: &Local<'_>, file_name: &str) -> String {
    let published: Vec<String> = local
        .sources
        .iter()
        .filter(|s| s.publish)
        .map(|s| s.name.clone())
        .collect();
    format!(
        "sources: data.{}.file `{file_name}` names no published source of this station \
         (published sources: {})",
        local.name,
        list(&published)
    )
}

/// Whether `audience` may learn of the policy's rules about column `c`: the steward always;
/// a researcher only where a published source declares it (as the catalogue publishes
/// `allowed_columns` and `disallowed_columns`).
fn visible(local: &Local<'_>, audience: Audience, c: &str) -> bool {
    audience == Audience::Steward
        || local
            .sources
            .iter()
            .any(|s| s.publish && s.column(c).is_some())
}

/// The policy's column rules (`disallowed_columns`, `allowed_columns`) as `audience` reads
/// them: for a researcher the rules about unpublished columns do not exist, so such a column
/// is never named as disallowed and never counts as allowed (what the catalogue's lists say).
#[derive(Clone, Copy)]
struct ColumnRules<'a> {
    policy: &'a Policy,
    local: &'a Local<'a>,
    audience: Audience,
}

impl ColumnRules<'_> {
    /// Whether column `c` is disallowed, as the audience may learn it.
    fn disallowed(&self, c: &str) -> bool {
        self.policy.disallowed_columns.iter().any(|d| d == c)
            && visible(self.local, self.audience, c)
    }

    /// Whether the policy lists allowed columns and `c` is not among them, as the audience
    /// may learn it.
    fn not_allowed(&self, c: &str) -> bool {
        self.policy
            .allowed_columns
            .as_ref()
            .is_some_and(|a| !(a.iter().any(|x| x == c) && visible(self.local, self.audience, c)))
    }
}

/// Whether a study column of type `study` may be read from a source column of type `source`.
fn fits(study: &ColumnType, source: ColumnKind) -> bool {
    match study {
        ColumnType::Numeric { .. } => matches!(source, ColumnKind::Numeric | ColumnKind::Binary),
        ColumnType::Binary => matches!(source, ColumnKind::Binary | ColumnKind::Numeric),
        ColumnType::Categorical { .. } => source == ColumnKind::Categorical,
        ColumnType::Date { .. } => source == ColumnKind::Date,
    }
}

/// The disclosure values the study file sets itself (as opposed to defaults).
fn explicit_disclosure(study: &Study) -> BTreeSet<String> {
    toml::from_str::<toml::Table>(&study.source.text)
        .ok()
        .and_then(|t| t.get("disclosure").and_then(|d| d.as_table()).cloned())
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default()
}

/// Covariates of each model of the study (name, count): its model terms with `a*b` expanded
/// (`a`, `b`, `a:b`: three), so that a product cannot pass as one covariate. An entry that
/// does not parse counts one (the study is refused for it anyway).
fn covariate_counts(study: &Study) -> Vec<(&str, usize)> {
    study
        .analyses
        .iter()
        .filter_map(|a| {
            let covs = a.spec.covariates()?;
            let n = tessera_stats::terms::expand(covs).map_or(covs.len(), |t| t.len());
            Some((a.name.as_str(), n))
        })
        .collect()
}

/// The checks of the policy proper: every violation, as `rule: what`, worded for
/// `audience`.
fn violations(
    policy: &Policy,
    local: &Local<'_>,
    study: &Study,
    audience: Audience,
) -> Vec<String> {
    let me = local.name;
    let rules = ColumnRules {
        policy,
        local,
        audience,
    };
    let mut reasons = Vec::new();
    if study.party(me).is_none() {
        reasons.push(format!(
            "station: this station (`{me}`) is not a party of study `{}`",
            study.id
        ));
        return reasons;
    }

    // Trusted stations.
    for p in study.parties.iter().filter(|p| p.name != me) {
        match local.trusted.iter().find(|t| t.name == p.name) {
            None => reasons.push(format!(
                "trusted: party `{}` is not a station this station trusts",
                p.name
            )),
            Some(t) => {
                if p.fingerprint.is_some_and(|f| f != t.fingerprint) {
                    reasons.push(format!(
                        "trusted: party `{}` has a fingerprint other than the trusted station's",
                        p.name
                    ));
                }
            }
        }
    }

    // Analyses and recipients.
    for a in &study.analyses {
        let kind = a.spec.kind();
        if !policy.analyses.iter().any(|k| k == kind) {
            reasons.push(format!(
                "analyses: analysis `{}` is a {kind}, which this station does not allow \
                 (allowed: {})",
                a.name,
                list(&policy.analyses)
            ));
        }
    }
    for r in &study.recipients {
        if !policy
            .recipients
            .iter()
            .any(|rule| rule.matches(&r.name, r.fingerprint.as_ref()))
        {
            reasons.push(format!(
                "recipients: recipient `{}` is not an allowed recipient{}",
                r.name,
                if r.fingerprint.is_none() {
                    " (the study gives no fingerprint)"
                } else {
                    ""
                }
            ));
        }
    }

    // This station's columns.
    if let Some(data) = study.data.iter().find(|d| d.party == me) {
        match pick_source(local, &data.file_name) {
            Err(why) => reasons.push(match audience {
                Audience::Steward => why,
                Audience::Researcher => no_published_source(local, &data.file_name),
            }),
            // To a researcher an unpublished source does not exist: nothing about its
            // columns is said, whether they fit or not.
            Ok(source) if audience == Audience::Researcher && !source.publish => {
                reasons.push(no_published_source(local, &data.file_name))
            }
            Ok(source) => {
                for c in &data.columns {
                    match source.column(&c.name) {
                        None => reasons.push(format!(
                            "unknown_column: column `{}` of data.{me} is not declared by \
                             source `{}`",
                            c.name, source.name
                        )),
                        Some(ColumnKind::Key) => reasons.push(format!(
                            "schema: column `{}` of data.{me} is a linkage key in source `{}` \
                             and is never shared as data",
                            c.name, source.name
                        )),
                        Some(k) if !fits(&c.kind, k) => reasons.push(format!(
                            "schema: column `{}` of data.{me} is {} in the study but {} in \
                             source `{}`",
                            c.name,
                            c.kind.name(),
                            k.as_str(),
                            source.name
                        )),
                        Some(_) => level_violations(me, &c.name, &c.kind, source, &mut reasons),
                    }
                    if rules.disallowed(&c.name) {
                        reasons.push(format!(
                            "disallowed_columns: column `{}` of data.{me} may not be shared",
                            c.name
                        ));
                    } else if rules.not_allowed(&c.name) {
                        reasons.push(format!(
                            "allowed_columns: column `{}` of data.{me} is not among the \
                             allowed columns",
                            c.name
                        ));
                    }
                }
                key_violations(rules, study, me, &data.key, source, &mut reasons);
            }
        }
    }

    // Disclosure: what the study sets itself may only be stricter; what it leaves to a
    // default below this station's floor must be written out, because every station of the
    // study computes with the study's rules as written (each knows only its own floors).
    let explicit = explicit_disclosure(study);
    let d = &study.disclosure;
    let needed = effective_disclosure(policy, local.name, study);
    let floors = [
        (
            "min_rows",
            Some(d.min_rows),
            policy.min_rows,
            Some(needed.min_rows),
        ),
        ("min_cell", d.min_cell, policy.min_cell, needed.min_cell),
        (
            "min_level_rows",
            Some(d.min_level_rows),
            policy.min_level_rows,
            Some(needed.min_level_rows),
        ),
        (
            "min_events",
            Some(d.min_events),
            policy.min_events,
            Some(needed.min_events),
        ),
    ];
    for (rule, value, floor, needed) in floors {
        match (explicit.contains(rule), value, floor) {
            (true, Some(v), Some(f)) if v < f => reasons.push(format!(
                "{rule}: the study's disclosure.{rule} = {v} is below this station's \
                 minimum {f}"
            )),
            (false, _, Some(_)) if needed.unwrap_or(0) > value.unwrap_or(0) => {
                reasons.push(format!(
                    "{rule}: write {rule} = {} (or more) in [disclosure]: this station's \
                     floor, which every station of the study must compute with",
                    needed.unwrap_or(0)
                ))
            }
            _ => {}
        }
    }
    if d.allow_event_times && !policy.allow_event_times {
        reasons.push(
            "allow_event_times: the study shows event times (Kaplan–Meier or cumulative \
             incidence at every event time, or median survival times), which this station \
             does not allow"
                .to_string(),
        );
    }
    if d.allow_extremes && !policy.allow_extremes {
        reasons.push(
            "allow_extremes: the study shows minima and maxima, which this station does not \
             allow"
                .to_string(),
        );
    }
    for e in excesses(study, &policy.limits) {
        reasons.push(format!(
            "{}: {}: {}, this station allows at most {}",
            e.rule, e.field, e.what, e.limit
        ));
    }
    // A left join keeping every row of this station's data makes the linked table's size
    // (every analysis' number of rows, shown to the recipients) this station's row count.
    let kept = study.linkage.as_ref().and_then(|l| l.keep.as_deref());
    if kept == Some(me) && !policy.allow_counts {
        reasons.push(format!(
            "allow_counts: the study keeps every row of data.{me} ([linkage] keep = \"{me}\"), \
             so its linked table's size, shown to the recipients, is this station's row \
             count, which this station does not allow"
        ));
    }
    if study.counts && !policy.allow_counts {
        reasons.push(
            "allow_counts: the study shows each data station's row count to its recipients \
             ([disclosure] counts = true), which this station does not allow"
                .to_string(),
        );
    }
    reasons
}

/// The rules for the columns `keys` that data.`me` links on (in `[linkage].key` order),
/// read from `source`: declared as `key` columns there, allowed by the column rules, and
/// normalised by the study's linkage exactly as the source configures it.
fn key_violations(
    rules: ColumnRules<'_>,
    study: &Study,
    me: &str,
    keys: &[String],
    source: &SourceConfig,
    reasons: &mut Vec<String>,
) {
    let linkage = study.linkage.as_ref();
    for (i, k) in keys.iter().enumerate() {
        match source.column(k) {
            None => reasons.push(format!(
                "unknown_column: key column `{k}` of data.{me} is not declared by source `{}`",
                source.name
            )),
            Some(ColumnKind::Key) => {}
            Some(kind) => reasons.push(format!(
                "key_columns: column `{k}` of data.{me} is used as a linkage key, but source \
                 `{}` declares it {}, not a key (the steward declares key columns in \
                 station.toml [sources.{}] columns)",
                source.name,
                kind.as_str(),
                source.name
            )),
        }
        if rules.disallowed(k) {
            reasons.push(format!(
                "disallowed_columns: key column `{k}` of data.{me} may not be used"
            ));
        } else if rules.not_allowed(k) {
            reasons.push(format!(
                "allowed_columns: key column `{k}` of data.{me} is not among the allowed \
                 columns"
            ));
        }
        let (Some(configured), Some(component)) =
            (source.key_steps(k), linkage.and_then(|l| l.key.get(i)))
        else {
            continue;
        };
        if component.steps != configured {
            reasons.push(format!(
                "key_normalisation: the study normalises linkage key `{}` (column `{k}` of \
                 data.{me}) as {}, but this station normalises it as {} (station.toml \
                 [sources.{}.keys.{k}]); every station must normalise a key alike, so the \
                 study must state this station's steps",
                component.name,
                describe_steps(&component.steps),
                describe_steps(configured),
                source.name
            ));
        }
    }
}

/// The `levels` rule for study column `name` of data.`me` of type `kind`: where `source`
/// declares the column's levels, the study must list exactly those (a level the data holds
/// but the study omits, or one spelled otherwise, would make this station's input invalid
/// only once the study runs). Each mismatch names the declared spelling closest to it.
fn level_violations(
    me: &str,
    name: &str,
    kind: &ColumnType,
    source: &SourceConfig,
    reasons: &mut Vec<String>,
) {
    let (ColumnType::Categorical { levels }, Some(declared)) = (kind, source.declared_levels(name))
    else {
        return;
    };
    for l in levels.iter().filter(|l| !declared.contains(l)) {
        let hint = declared
            .iter()
            .find(|d| same_level(d, l))
            .map(|d| format!("; did you mean \"{d}\"?"))
            .unwrap_or_default();
        reasons.push(format!(
            "levels: column `{name}` of data.{me} lists level \"{l}\", which source `{}` \
             does not declare (declared: {}){hint}",
            source.name,
            quoted(declared)
        ));
    }
    for d in declared.iter().filter(|d| !levels.contains(d)) {
        reasons.push(format!(
            "levels: column `{name}` of data.{me} does not list level \"{d}\", which source \
             `{}` declares: its rows would make this station's input invalid",
            source.name
        ));
    }
}

/// Whether two spellings of a level likely mean the same (`"1.0"` and `"1"`, `"Male"` and
/// `"male "`).
fn same_level(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
}

fn quoted(v: &[String]) -> String {
    v.iter()
        .map(|l| format!("\"{l}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why `rule` does not cover `study`, or `None` when it does.
fn auto_mismatch(rule: &AutoRule, study: &Study) -> Option<String> {
    for r in &study.recipients {
        if !rule
            .recipients
            .iter()
            .any(|x| x.matches(&r.name, r.fingerprint.as_ref()))
        {
            return Some(format!("recipient `{}` is not listed", r.name));
        }
    }
    if !rule.kinds.is_empty() {
        for a in &study.analyses {
            if !rule.kinds.iter().any(|k| k == a.spec.kind()) {
                return Some(format!(
                    "analysis `{}` is a {}, not listed",
                    a.name,
                    a.spec.kind()
                ));
            }
        }
    }
    if let Some(max) = rule.max_covariates {
        for (name, n) in covariate_counts(study) {
            if n > max {
                return Some(format!(
                    "analysis `{name}` has {n} covariates, at most {max} allowed"
                ));
            }
        }
    }
    None
}

/// Checks `study` against `policy` at the station `local` (see the module docs), with every
/// reason in full (for the steward). Never fails: every problem with the study is a reason of
/// [`Decision::Refuse`].
pub fn evaluate(policy: &Policy, local: &Local<'_>, study: &Study) -> Decision {
    decide(policy, local, true, study, Audience::Steward)
}

/// [`evaluate`] at a station that has a computation endpoint (`[compute]`) or not
/// (`computes`): a study that makes a station without one a compute party is refused too
/// (`compute`). The reasons are the steward's (see [`evaluate_station_for`]).
pub fn evaluate_station(
    policy: &Policy,
    local: &Local<'_>,
    computes: bool,
    study: &Study,
) -> Decision {
    decide(policy, local, computes, study, Audience::Steward)
}

/// [`evaluate_station`] with the reasons of a refusal worded for `audience` (see
/// [`Audience`]). The verdict is the same for every audience; only a refusal's reasons
/// differ: a researcher's name nothing of a source this station does not publish.
pub fn evaluate_station_for(
    policy: &Policy,
    local: &Local<'_>,
    computes: bool,
    study: &Study,
    audience: Audience,
) -> Decision {
    decide(policy, local, computes, study, audience)
}

/// Every reason to refuse `study`, worded for `audience` (empty: none).
fn refusal(
    policy: &Policy,
    local: &Local<'_>,
    computes: bool,
    study: &Study,
    audience: Audience,
) -> Vec<String> {
    let mut reasons = violations(policy, local, study, audience);
    let party_computes = study.party(local.name).is_some_and(|p| p.compute.is_some());
    if party_computes && !computes {
        reasons.push(format!(
            "compute: station {} has no [compute] endpoint in its station.toml, so it cannot \
             be a compute party",
            local.name
        ));
    }
    reasons
}

/// The decision on `study` (see [`evaluate_station_for`]).
fn decide(
    policy: &Policy,
    local: &Local<'_>,
    computes: bool,
    study: &Study,
    audience: Audience,
) -> Decision {
    // Whether to refuse is always the steward's full judgement; the audience only changes
    // the words.
    let reasons = refusal(policy, local, computes, study, Audience::Steward);
    if !reasons.is_empty() {
        let reasons = match audience {
            Audience::Steward => reasons,
            Audience::Researcher => {
                let shown = refusal(policy, local, computes, study, audience);
                if shown.is_empty() {
                    // Not expected (every hidden reason has a shown one in its place), but a
                    // refusal is never given without a reason, nor with the steward's.
                    vec!["policy: this station's policy refuses the study".to_string()]
                } else {
                    shown
                }
            }
        };
        return Decision::Refuse { reasons };
    }
    if policy.auto_approve.is_empty() {
        return Decision::NeedsPerson {
            why: "the policy has no automatic approval rules".to_string(),
        };
    }
    let mut why = Vec::new();
    for rule in &policy.auto_approve {
        match auto_mismatch(rule, study) {
            None => {
                return Decision::Approve {
                    rule: rule.name.clone(),
                }
            }
            Some(w) => why.push(format!("{}: {w}", rule.name)),
        }
    }
    Decision::NeedsPerson {
        why: format!("no automatic rule applies ({})", why.join("; ")),
    }
}

/// The disclosure rules a run of `study` must apply at station `station`: the stricter of
/// the study's and the policy's. Counts take the larger value; where the study leaves
/// `min_cell` to each analysis' default (5 for tables, 10 for survival) and the policy's
/// floor is above the smallest default, `min_cell` becomes the larger of the floor and the
/// survival default, which is at least as strict as both for every analysis. The policy's
/// disallowed columns (and this station's columns outside its allowed list) are added to
/// the disallowed columns; event times and extremes need both to allow them.
pub fn effective_disclosure(policy: &Policy, station: &str, study: &Study) -> Disclosure {
    let mut d = study.disclosure.clone();
    if let Some(f) = policy.min_rows {
        d.min_rows = d.min_rows.max(f);
    }
    if let Some(f) = policy.min_level_rows {
        d.min_level_rows = d.min_level_rows.max(f);
    }
    if let Some(f) = policy.min_events {
        d.min_events = d.min_events.max(f);
    }
    d.min_cell = match (d.min_cell, policy.min_cell) {
        (Some(s), Some(f)) => Some(s.max(f)),
        (None, Some(f)) if f > TABLE_MIN_CELL => Some(f.max(SURVIVAL_MIN_CELL)),
        (s, _) => s,
    };
    let mut add = |c: String| {
        if !d.disallowed_columns.contains(&c) {
            d.disallowed_columns.push(c);
        }
    };
    for c in &policy.disallowed_columns {
        add(format!("{station}.{c}"));
    }
    if let (Some(allowed), Some(data)) = (
        &policy.allowed_columns,
        study.data.iter().find(|x| x.party == station),
    ) {
        for c in &data.columns {
            if !allowed.contains(&c.name) {
                add(format!("{station}.{}", c.name));
            }
        }
    }
    d.allow_event_times &= policy.allow_event_times;
    d.allow_extremes &= policy.allow_extremes;
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_rules_match_by_name_or_fingerprint() {
        let fp = [7u8; 32];
        assert!(RecipientRule::Name("r".into()).matches("r", None));
        assert!(!RecipientRule::Name("r".into()).matches("s", Some(&fp)));
        assert!(RecipientRule::Fingerprint(fp).matches("anyone", Some(&fp)));
        assert!(!RecipientRule::Fingerprint(fp).matches("anyone", None));
        assert!(!RecipientRule::Fingerprint(fp).matches("anyone", Some(&[8u8; 32])));
    }

    #[test]
    fn column_types_fit() {
        let num = ColumnType::Numeric {
            min: None,
            max: None,
        };
        let cat = ColumnType::Categorical {
            levels: vec!["a".into(), "b".into()],
        };
        assert!(fits(&num, ColumnKind::Numeric));
        assert!(fits(&num, ColumnKind::Binary));
        assert!(!fits(&num, ColumnKind::Categorical));
        assert!(!fits(&num, ColumnKind::Key));
        assert!(fits(&cat, ColumnKind::Categorical));
        assert!(!fits(&cat, ColumnKind::Numeric));
        assert!(fits(&ColumnType::Binary, ColumnKind::Binary));
        let date = ColumnType::Date {
            min: None,
            max: None,
        };
        assert!(fits(&date, ColumnKind::Date));
        assert!(!fits(&date, ColumnKind::Numeric) && !fits(&date, ColumnKind::Key));
        assert!(!fits(&num, ColumnKind::Date));
    }
}
