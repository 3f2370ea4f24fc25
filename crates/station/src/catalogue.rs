//! The station's catalogue (`GET /catalogue`): what a researcher needs to write a study this
//! station will not refuse, and nothing more.
//!
//! A catalogue holds the station's name and certificate fingerprint, whether it can compute
//! (`[compute]`), the stations it trusts (name and fingerprint), the sources the steward
//! publishes (`[sources.NAME] publish = true`; none by default) with their declared columns,
//! types, categorical levels (`[sources.NAME.levels]`) and key normalisation, and the
//! policy's rules: allowed analyses, disclosure floors, what it allows and its caps.
//!
//! LEAKAGE: no data value is read to build it: levels are the steward's declaration, never
//! the data's. File paths, database URLs and queries, recipients, researchers, addresses and
//! automatic approval rules are never published; `allowed_columns` and `disallowed_columns`
//! only name columns of published sources; whether some source is withheld is one flag.
//!
//! [`Catalogue::check`] judges a study against a catalogue with the station's own
//! [`policy::evaluate_station_for`], its reasons worded for a researcher: the policy and the
//! sources are rebuilt from the catalogue, so the researcher's check (`tessera study check`)
//! and the station's decision are one piece of logic, and the check words a refusal as the
//! station's answer to a submission does (which names nothing unpublished either). Kaplan–Meier analyses are also put to the computation's own check
//! ([`tessera_stats::survival::km::check`]: a grid, event times) under the rules the station
//! computes with. What the catalogue cannot tell is not refused: recipients are never
//! published (each station's policy checks them on submission), and a study naming a source
//! the station withholds gets a note instead of column checks.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tessera_link::keys::{DateOrder, Norm};
use tessera_net::identity::{fingerprint_hex, parse_fingerprint, Fingerprint};
use tessera_stats::AnalysisSpec;
use tessera_study::limits::Limits;
use tessera_study::Study;

use crate::config::{ColumnKind, Config, SourceConfig, SourceKind, Trusted};
use crate::policy::{self, Decision, Local, Policy, RecipientRule};

/// One station's catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// The station's name (its party name in studies).
    pub station: String,
    /// Its certificate's fingerprint, `sha256:` and 64 hex digits.
    pub fingerprint: String,
    /// Whether it has a computation endpoint (can be a compute party).
    pub compute: bool,
    /// The stations it trusts (the only other parties its studies may name).
    pub trusted: Vec<PublishedStation>,
    /// Its published sources, by name.
    pub sources: Vec<PublishedSource>,
    /// Whether it has sources it does not publish.
    pub withheld: bool,
    /// Its policy's rules.
    pub policy: PublishedPolicy,
}

/// A trusted station as a catalogue names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedStation {
    /// Its name.
    pub name: String,
    /// Its certificate's fingerprint (`sha256:…`).
    pub fingerprint: String,
}

/// A published source: a study's `[data.STATION] file` names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedSource {
    /// Its name.
    pub name: String,
    /// Its columns, by name.
    pub columns: Vec<PublishedColumn>,
}

/// A declared column of a published source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedColumn {
    /// Its name.
    pub name: String,
    /// `numeric`, `binary`, `categorical` or `key`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The declared levels of a categorical column (absent when the steward declares none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<Vec<String>>,
    /// The normalisation steps of a key column (`trim`, `casefold`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalise: Option<Vec<String>>,
    /// The date order of a key column normalised with `date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_order: Option<String>,
}

/// The policy's rules as published (not its recipients nor its automatic approval rules).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedPolicy {
    /// Allowed analysis kinds.
    pub analyses: Vec<String>,
    /// The only columns a study may use, if the policy restricts them (published sources'
    /// columns only).
    pub allowed_columns: Option<Vec<String>>,
    /// Columns no study may use (published sources' columns only).
    pub disallowed_columns: Vec<String>,
    /// Disclosure floors.
    pub min_rows: Option<u64>,
    /// Floor for `min_cell`.
    pub min_cell: Option<u64>,
    /// Floor for `min_level_rows`.
    pub min_level_rows: Option<u64>,
    /// Floor for `min_events`.
    pub min_events: Option<u64>,
    /// Whether Kaplan–Meier may be shown at every event time.
    pub allow_event_times: bool,
    /// Whether minima and maxima may be shown.
    pub allow_extremes: bool,
    /// Whether per-station row counts may be shown.
    pub allow_counts: bool,
    /// The caps on a study's size.
    pub limits: PublishedLimits,
    /// Whether a person's approval stands for a rerun of the same text.
    #[serde(default)]
    pub rerun: crate::policy::Rerun,
}

/// [`Limits`] as published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedLimits {
    /// `max_analyses`.
    pub max_analyses: usize,
    /// `max_grid_times`.
    pub max_grid_times: usize,
    /// `max_quantiles`.
    pub max_quantiles: usize,
    /// `max_levels`.
    pub max_levels: usize,
    /// `max_covariates`.
    pub max_covariates: usize,
    /// `max_histogram_edges`.
    pub max_histogram_edges: usize,
    /// `max_columns`.
    pub max_columns: usize,
    /// `max_cells`.
    pub max_cells: usize,
}

impl From<Limits> for PublishedLimits {
    fn from(l: Limits) -> Self {
        PublishedLimits {
            max_analyses: l.analyses,
            max_grid_times: l.grid_times,
            max_quantiles: l.quantiles,
            max_levels: l.levels,
            max_covariates: l.covariates,
            max_histogram_edges: l.histogram_edges,
            max_columns: l.columns,
            max_cells: l.cells,
        }
    }
}

impl From<PublishedLimits> for Limits {
    fn from(l: PublishedLimits) -> Self {
        Limits {
            analyses: l.max_analyses,
            grid_times: l.max_grid_times,
            quantiles: l.max_quantiles,
            levels: l.max_levels,
            covariates: l.max_covariates,
            histogram_edges: l.max_histogram_edges,
            columns: l.max_columns,
            cells: l.max_cells,
        }
    }
}

fn sha256(fp: &Fingerprint) -> String {
    format!("sha256:{}", fingerprint_hex(fp))
}

fn published_column(source: &SourceConfig, name: &str, kind: ColumnKind) -> PublishedColumn {
    let steps = source.key_steps(name);
    PublishedColumn {
        name: name.to_string(),
        kind: kind.as_str().to_string(),
        levels: source.declared_levels(name).map(<[String]>::to_vec),
        normalise: steps.map(|s| s.iter().map(|n| n.name().to_string()).collect()),
        date_order: steps.and_then(|s| {
            s.iter().find_map(|n| match n {
                Norm::Date(o) => Some(o.name().to_string()),
                _ => None,
            })
        }),
    }
}

impl Catalogue {
    /// The catalogue of the station configured by `config`, whose certificate has
    /// `fingerprint`.
    pub fn of(config: &Config, fingerprint: &Fingerprint) -> Catalogue {
        let published: Vec<&SourceConfig> = config.sources.iter().filter(|s| s.publish).collect();
        let is_published = |c: &String| {
            published
                .iter()
                .any(|s| s.columns.iter().any(|(n, _)| n == c))
        };
        let p = &config.policy;
        Catalogue {
            station: config.name.clone(),
            fingerprint: sha256(fingerprint),
            compute: config.compute.is_some(),
            trusted: config
                .trusted
                .iter()
                .map(|t| PublishedStation {
                    name: t.name.clone(),
                    fingerprint: sha256(&t.fingerprint),
                })
                .collect(),
            sources: published
                .iter()
                .map(|s| PublishedSource {
                    name: s.name.clone(),
                    columns: s
                        .columns
                        .iter()
                        .map(|(n, k)| published_column(s, n, *k))
                        .collect(),
                })
                .collect(),
            withheld: published.len() < config.sources.len(),
            policy: PublishedPolicy {
                analyses: p.analyses.clone(),
                allowed_columns: p
                    .allowed_columns
                    .as_ref()
                    .map(|a| a.iter().filter(|c| is_published(c)).cloned().collect()),
                disallowed_columns: p
                    .disallowed_columns
                    .iter()
                    .filter(|c| is_published(c))
                    .cloned()
                    .collect(),
                min_rows: p.min_rows,
                min_cell: p.min_cell,
                min_level_rows: p.min_level_rows,
                min_events: p.min_events,
                allow_event_times: p.allow_event_times,
                allow_extremes: p.allow_extremes,
                allow_counts: p.allow_counts,
                limits: p.limits.into(),
                rerun: p.rerun,
            },
        }
    }

    /// The station's fingerprint, parsed.
    pub fn fingerprint(&self) -> Result<Fingerprint, String> {
        let hex = self
            .fingerprint
            .strip_prefix("sha256:")
            .ok_or("the fingerprint lacks `sha256:`")?;
        parse_fingerprint(hex).map_err(|e| e.to_string())
    }

    /// The published sources as the policy reads them (never read from: their kind is an
    /// empty Parquet path).
    fn sources(&self) -> Result<Vec<SourceConfig>, String> {
        let mut out = Vec::new();
        for s in &self.sources {
            let mut columns = Vec::new();
            let mut keys = Vec::new();
            let mut levels = Vec::new();
            for c in &s.columns {
                let kind = ColumnKind::parse(&c.kind).ok_or_else(|| {
                    format!("source `{}` column `{}`: type `{}`", s.name, c.name, c.kind)
                })?;
                columns.push((c.name.clone(), kind));
                if let Some(l) = &c.levels {
                    levels.push((c.name.clone(), l.clone()));
                }
                if kind == ColumnKind::Key {
                    let order = match &c.date_order {
                        Some(o) => DateOrder::parse(o)
                            .ok_or_else(|| format!("key `{}`: date order `{o}`", c.name))?,
                        None => DateOrder::DayFirst,
                    };
                    let steps = c
                        .normalise
                        .iter()
                        .flatten()
                        .map(|n| Norm::parse(n, order).ok_or_else(|| format!("step `{n}`")))
                        .collect::<Result<Vec<_>, _>>()?;
                    keys.push((c.name.clone(), steps));
                }
            }
            out.push(SourceConfig {
                name: s.name.clone(),
                kind: SourceKind::Parquet {
                    file: PathBuf::new(),
                },
                columns,
                keys,
                levels,
                publish: true,
            });
        }
        Ok(out)
    }

    /// The trusted stations as the policy reads them (without addresses).
    fn trusted(&self) -> Result<Vec<Trusted>, String> {
        self.trusted
            .iter()
            .map(|t| {
                let hex = t
                    .fingerprint
                    .strip_prefix("sha256:")
                    .unwrap_or(&t.fingerprint);
                Ok(Trusted {
                    name: t.name.clone(),
                    address: String::new(),
                    fingerprint: parse_fingerprint(hex)
                        .map_err(|e| format!("trusted `{}`: {e}", t.name))?,
                })
            })
            .collect()
    }

    /// The policy as published, with `recipients` as the only recipient rules (recipients
    /// are not published; the caller passes the study's own so that they pass).
    fn policy(&self, recipients: Vec<RecipientRule>) -> Policy {
        let p = &self.policy;
        Policy {
            analyses: p.analyses.clone(),
            allowed_columns: p.allowed_columns.clone(),
            disallowed_columns: p.disallowed_columns.clone(),
            recipients,
            min_rows: p.min_rows,
            min_cell: p.min_cell,
            min_level_rows: p.min_level_rows,
            min_events: p.min_events,
            allow_event_times: p.allow_event_times,
            allow_extremes: p.allow_extremes,
            allow_counts: p.allow_counts,
            limits: p.limits.into(),
            auto_approve: Vec::new(),
            rerun: p.rerun,
        }
    }

    /// What this station's policy would refuse in `study` (each reason `rule: what`, as the
    /// station words it), and notes on what the catalogue could not check. Errors: a
    /// catalogue that does not parse (a type, a fingerprint, a step it does not know).
    pub fn check(&self, study: &Study) -> Result<Check, String> {
        let sources = self.sources()?;
        let trusted = self.trusted()?;
        let mut notes = Vec::new();
        let mut study = study.clone();
        if let Some(i) = study.data.iter().position(|d| d.party == self.station) {
            let named = sources.iter().any(|s| s.name == study.data[i].file_name);
            if !named && self.withheld {
                notes.push(format!(
                    "sources: data.{}.file `{}` names no published source; its columns are not \
                     checked",
                    self.station, study.data[i].file_name
                ));
                study.data.remove(i);
            }
        }
        let recipients = study
            .recipients
            .iter()
            .map(|r| RecipientRule::Name(r.name.clone()))
            .collect();
        let local = Local {
            name: &self.station,
            sources: &sources,
            trusted: &trusted,
        };
        let policy = self.policy(recipients);
        // Worded as the station words a submitted study's refusal to a researcher.
        let judged = policy::evaluate_station_for(
            &policy,
            &local,
            self.compute,
            &study,
            policy::Audience::Researcher,
        );
        let mut refused = match judged {
            Decision::Refuse { reasons } => reasons,
            Decision::Approve { .. } | Decision::NeedsPerson { .. } => Vec::new(),
        };
        // What the computation itself would refuse before reading any data, under the rules
        // this station computes with.
        let rules = policy::effective_disclosure(&policy, &self.station, &study);
        for a in &study.analyses {
            let checked = match &a.spec {
                AnalysisSpec::KaplanMeier(s) => tessera_stats::survival::km::check(s, &rules),
                AnalysisSpec::Cuminc(s) => tessera_stats::survival::cuminc::check(s, &rules),
                AnalysisSpec::Rmst(s) => tessera_stats::survival::rmst::check(s, &rules),
                AnalysisSpec::Finegray(s) => tessera_stats::survival::finegray::check(s),
                AnalysisSpec::Relsurv(s) => s.check(),
                _ => Ok(()),
            };
            if let Err(e) = checked {
                refused.push(format!("{}: analysis `{}`: {e}", a.spec.kind(), a.name));
            }
        }
        Ok(Check { refused, notes })
    }
}

/// What [`Catalogue::check`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What the station's policy would refuse, `rule: what`.
    pub refused: Vec<String>,
    /// What the catalogue could not check.
    pub notes: Vec<String>,
}

/// A trusted station's catalogue as this station fetched it for a researcher, or why it
/// could not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerCatalogue {
    /// The trusted station's name.
    pub station: String,
    /// Its catalogue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalogue: Option<Catalogue>,
    /// Why it is missing (unreachable, refused, not a catalogue of that station).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The header a station sets when it asks another for its catalogue on behalf of a
/// researcher: the researcher's certificate fingerprint (`sha256:…`). The station asked
/// answers only if it lists that researcher itself: a station's catalogue goes to its own
/// researchers and its peers, never on through a peer to researchers it does not know.
pub const ON_BEHALF_OF: &str = "Tessera-On-Behalf-Of";

/// How long a peer's catalogue (or why it could not be had) is reused for the same asker.
pub const CACHE_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// A cached catalogue's key: the peer's name and the researcher asked for.
type CacheKey = (String, Option<Fingerprint>);

/// The peers' catalogues this station fetched lately, per peer and per researcher asked
/// for: a researcher's `GET /catalogue` asks each peer at most once per [`CACHE_FOR`]
/// (before, every request made this station ask every peer).
#[derive(Debug, Default)]
pub struct CatalogueCache {
    kept:
        std::sync::Mutex<std::collections::BTreeMap<CacheKey, (std::time::Instant, PeerCatalogue)>>,
}

impl CatalogueCache {
    /// The catalogues of the `trusted` stations for `asker` (a researcher's fingerprint, or
    /// `None` for this station's steward): kept ones younger than [`CACHE_FOR`], the others
    /// asked at once over the API's mutually authenticated HTTPS (this station's `identity`,
    /// each pinned by its trusted fingerprint, `timeout` each). A catalogue that names
    /// another station or fingerprint is refused. Why a station could not be reached is
    /// logged here (standard error), not returned: addresses are not published.
    pub fn peer_catalogues(
        &self,
        trusted: &[Trusted],
        identity: &tessera_net::identity::Identity,
        timeout: std::time::Duration,
        asker: Option<Fingerprint>,
    ) -> Vec<PeerCatalogue> {
        let fresh = |t: &Trusted| {
            let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
            kept.get(&(t.name.clone(), asker))
                .filter(|(at, _)| at.elapsed() < CACHE_FOR)
                .map(|(_, c)| c.clone())
        };
        std::thread::scope(|s| {
            let asks: Vec<_> = trusted
                .iter()
                .map(|t| match fresh(t) {
                    Some(c) => (t, Err(c)),
                    None => (
                        t,
                        Ok(s.spawn(move || peer_catalogue(t, identity, timeout, asker))),
                    ),
                })
                .collect();
            asks.into_iter()
                .map(|(t, ask)| match ask {
                    Err(kept) => kept,
                    Ok(h) => {
                        let r = h
                            .join()
                            .unwrap_or_else(|_| Err("the request failed".to_string()));
                        let c = PeerCatalogue {
                            station: t.name.clone(),
                            error: r.as_ref().err().cloned(),
                            catalogue: r.ok(),
                        };
                        self.kept.lock().unwrap_or_else(|p| p.into_inner()).insert(
                            (t.name.clone(), asker),
                            (std::time::Instant::now(), c.clone()),
                        );
                        c
                    }
                })
                .collect()
        })
    }
}

fn peer_catalogue(
    t: &Trusted,
    identity: &tessera_net::identity::Identity,
    timeout: std::time::Duration,
    asker: Option<Fingerprint>,
) -> Result<Catalogue, String> {
    // The details (addresses, TLS errors) go to this station's log, not to the researcher.
    let unreachable = |e: String| {
        eprintln!(
            "tessera station: cannot fetch the catalogue of {}: {e}",
            t.name
        );
        format!("{} could not be reached", t.name)
    };
    let client = crate::client::Client::new(&t.address, t.fingerprint, Some(identity), timeout)
        .map_err(|e| unreachable(e.to_string()))?;
    let on_behalf = asker.map(|fp| format!("sha256:{}", fingerprint_hex(&fp)));
    let headers: Vec<(&str, &str)> = on_behalf
        .as_deref()
        .map(|v| vec![(ON_BEHALF_OF, v)])
        .unwrap_or_default();
    let a = client
        .request("GET", "/catalogue", &headers, &[])
        .map_err(|e| unreachable(e.to_string()))?;
    if a.status == 403 {
        return Err(format!(
            "{} does not list your certificate: ask its steward to add it under [[researchers]]",
            t.name
        ));
    }
    if a.status != 200 {
        return Err(format!(
            "{} answered {}: {}",
            t.name,
            a.status,
            crate::coordinate::bounded(&a.text())
        ));
    }
    let answer: CatalogueAnswer = serde_json::from_slice(&a.body)
        .map_err(|e| format!("{} answered something else than a catalogue: {e}", t.name))?;
    let c = answer.catalogue;
    if c.station != t.name || c.fingerprint()? != t.fingerprint {
        return Err(format!(
            "{} answered with the catalogue of `{}` ({})",
            t.name, c.station, c.fingerprint
        ));
    }
    Ok(c)
}

/// The body of `GET /catalogue`: the station's own catalogue and, for the steward and
/// researchers, those of the stations it trusts (empty for a station asking).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueAnswer {
    /// The answering station's catalogue.
    pub catalogue: Catalogue,
    /// Its trusted stations' catalogues.
    #[serde(default)]
    pub peers: Vec<PeerCatalogue>,
}
