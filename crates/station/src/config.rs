//! `station.toml`: the station's identity, listening address, audit log, trusted stations,
//! data sources and policy (format in `docs/station.md`).
//!
//! The file is deserialised with unknown keys refused everywhere; then every value is
//! checked. Errors name the file, line and column and the field, located with the study
//! crate's [`tessera_study::locate::Source`] (`station.toml:12:14: [[trusted]] 1 field
//! fingerprint: …`). Paths are relative to the folder of the configuration file; the
//! identity files and the CSV/Parquet files must exist. Nothing is connected to or read
//! here: a PostgreSQL source is checked for form only.
//!
//! How a source is read is the steward's alone: a CSV file's delimiter and missing-value
//! tokens, and how each key column is normalised, are set here (`[sources.NAME]`) and
//! never by a study (a study that sets them is refused at the station, see
//! `tessera_study::validate::parse_at_station`, and the policy checks that the study's
//! linkage normalisation is this station's, see [`crate::policy`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tessera_link::keys::{DateOrder, Norm};
use tessera_net::identity::{parse_fingerprint, Fingerprint};
use tessera_study::format::{DataSpec, DEFAULT_MISSING};
use tessera_study::locate::{Seg, Source};
use tessera_study::Study;

use crate::error::{Result, StationError};
use crate::policy::{self, AutoRule, Decision, Local, Policy, RecipientRule, KINDS};
use tessera_study::limits::Limits;

/// The audit file when `[station] audit` is not given.
pub const DEFAULT_AUDIT: &str = "audit.sqlite";

/// The steward's token file when `[station] steward_token` is not given.
pub const DEFAULT_STEWARD_TOKEN: &str = "steward.token";

/// The station's TLS identity (files written by `tessera init`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The private key (PEM).
    pub key: PathBuf,
    /// The certificate (PEM).
    pub certificate: PathBuf,
}

/// A station this one trusts: studies may only name trusted stations as other parties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trusted {
    /// Its name (its party name in studies).
    pub name: String,
    /// `host:port` where it listens.
    pub address: String,
    /// SHA-256 of its certificate, pinned by TLS.
    pub fingerprint: Fingerprint,
}

/// A researcher this station knows by certificate (`[[researchers]]`): who may submit
/// studies here and read the studies they submitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Researcher {
    /// The name recorded in the audit log (with the fingerprint).
    pub name: String,
    /// SHA-256 of the certificate the researcher presents (`tessera init` prints it).
    pub fingerprint: Fingerprint,
}

/// This station's computation endpoint (`[compute]`): where it listens for the other
/// compute stations of a study, and the host they reach it at. A study names stations
/// only; the stations tell each other the port each picked for the study.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compute {
    /// The host the listener binds (`listen`'s host: `0.0.0.0`, an interface's address).
    pub bind: String,
    /// The first and last port it may listen on: one port, or a range so that several
    /// studies can compute at once (each takes a free port of the range).
    pub ports: (u16, u16),
    /// The host name or address the other stations reach it at (the port is the one
    /// picked).
    pub address: String,
}

/// Most ports a `[compute] listen` range may hold.
pub const MAX_COMPUTE_PORTS: u32 = 1000;

/// The declared type of a source column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// Real numbers.
    Numeric,
    /// 0 or 1.
    Binary,
    /// One of several levels (text).
    Categorical,
    /// A calendar date (`YYYY-MM-DD` in CSV, `DATE` in Parquet, `date` in PostgreSQL), shared
    /// as whole days since 1970-01-01: read by a study's `[followup]`.
    Date,
    /// A linkage key component (identifiers, dates of birth): used to link, never shared
    /// as a data column.
    Key,
}

impl ColumnKind {
    /// The name used in `station.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnKind::Numeric => "numeric",
            ColumnKind::Binary => "binary",
            ColumnKind::Categorical => "categorical",
            ColumnKind::Date => "date",
            ColumnKind::Key => "key",
        }
    }

    /// The kind called `s` in `station.toml` (see [`ColumnKind::as_str`]).
    pub fn parse(s: &str) -> Option<ColumnKind> {
        [
            ColumnKind::Numeric,
            ColumnKind::Binary,
            ColumnKind::Categorical,
            ColumnKind::Date,
            ColumnKind::Key,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Where a source's rows come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A CSV file with a header line (UTF-8).
    Csv {
        /// The file.
        file: PathBuf,
        /// Field delimiter (`delimiter`, one ASCII character; `,` when not given).
        delimiter: u8,
        /// Values read as missing, in key and data columns alike (`missing`;
        /// [`DEFAULT_MISSING`] when not given).
        missing: Vec<String>,
    },
    /// A Parquet file.
    Parquet {
        /// The file.
        file: PathBuf,
    },
    /// A PostgreSQL query written by the steward.
    Postgres {
        /// `postgres://…` or `postgresql://…` connection URL.
        url: String,
        /// The query whose result columns are the source's columns.
        query: String,
        /// Whether to connect over TLS.
        tls: bool,
        /// With TLS: the PEM file of the CA certificate(s) the server's certificate must
        /// chain to.
        ca: Option<PathBuf>,
    },
}

/// A data source of this station, with the columns it offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceConfig {
    /// Its name (`[sources.NAME]`); a study's `[data.STATION] file` names it.
    pub name: String,
    /// Where the rows come from.
    pub kind: SourceKind,
    /// The columns it offers, by name, with their types (sorted by name).
    pub columns: Vec<(String, ColumnKind)>,
    /// How each `key` column is normalised before linking (`[sources.NAME.keys.COLUMN]
    /// normalise`, sorted by name; no steps when not given). A study's linkage must state
    /// exactly these steps for the column it links on, or the policy refuses it: stations
    /// that normalised one key differently would find no matches.
    pub keys: Vec<(String, Vec<Norm>)>,
    /// The levels the steward declares for `categorical` columns (`[sources.NAME.levels]
    /// COLUMN = [...]`, sorted by column; a categorical column not listed has no declared
    /// levels). A study must list exactly these levels for the column (spelled alike), or the
    /// policy refuses it (`levels`) before anyone approves it.
    pub levels: Vec<(String, Vec<String>)>,
    /// Whether the source, its columns, types and declared levels appear in the station's
    /// catalogue (`GET /catalogue`; `[sources.NAME] publish`, `false` when not given).
    pub publish: bool,
}

impl SourceConfig {
    /// The type of column `name`, if declared.
    pub fn column(&self, name: &str) -> Option<ColumnKind> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, k)| *k)
    }

    /// The normalisation steps of key column `name` (`None` when it is not a key column).
    pub fn key_steps(&self, name: &str) -> Option<&[Norm]> {
        self.keys
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.as_slice())
    }

    /// The source as the sources crate reads it: the file or query, with the delimiter,
    /// missing-value tokens and TLS settings of `station.toml`.
    pub fn reader(&self) -> tessera_sources::Source {
        match &self.kind {
            SourceKind::Csv {
                file,
                delimiter,
                missing,
            } => tessera_sources::Source::Csv {
                file: file.clone(),
                delimiter: *delimiter,
                missing: missing.clone(),
            },
            SourceKind::Parquet { file } => tessera_sources::Source::Parquet { file: file.clone() },
            SourceKind::Postgres { url, query, ca, .. } => tessera_sources::Source::Postgres {
                url: url.clone(),
                query: query.clone(),
                tls: ca.as_ref().map(|ca| tessera_sources::PgTls {
                    ca_file: ca.clone(),
                }),
            },
        }
    }

    /// The declared levels of categorical column `name`, if the steward declared them.
    pub fn declared_levels(&self, name: &str) -> Option<&[String]> {
        self.levels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| l.as_slice())
    }
}

/// A validated `station.toml`.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file's text and name (for locating later errors).
    pub source: Source,
    /// The folder paths in the file are relative to (that of `station.toml`); studies
    /// received by this station name their dataset relative to it too.
    pub dir: PathBuf,
    /// This station's name (its party name in studies).
    pub name: String,
    /// TLS identity files.
    pub identity: Identity,
    /// `host:port` to listen on.
    pub listen: String,
    /// The SQLite file of the audit log and the approval state.
    pub audit: PathBuf,
    /// The file holding the steward's bearer token for the HTTP API (created by
    /// `tessera station serve` when absent; need not exist when the configuration loads).
    pub steward_token: PathBuf,
    /// The stations this one trusts.
    pub trusted: Vec<Trusted>,
    /// The researchers who may submit studies here (by certificate).
    pub researchers: Vec<Researcher>,
    /// Its computation endpoint; `None` for a station that is never a compute party.
    pub compute: Option<Compute>,
    /// The data sources, sorted by name.
    pub sources: Vec<SourceConfig>,
    /// The steward's policy.
    pub policy: Policy,
    /// A command run (program and arguments, no shell) for each event that needs a person
    /// (`[station] notify`; see [`crate::events`]).
    pub notify: Option<Vec<String>>,
    /// `[life_tables] files`: the public life tables this station holds for relative
    /// survival; a study names one by its SHA-256 ([`Config::with_life_tables`]).
    pub life_tables: Vec<PathBuf>,
}

impl Config {
    /// What the policy needs to know about this station.
    pub fn local(&self) -> Local<'_> {
        Local {
            name: &self.name,
            sources: &self.sources,
            trusted: &self.trusted,
        }
    }

    /// Where this station reads its dataset `spec` of a study from: the configured source
    /// the study's `file` names (or the only one), read as configured (delimiter and
    /// missing-value tokens from `station.toml`; the study's own, which a station refuses
    /// anyway, are never used). Errors as the policy words them (no such source).
    pub fn source_for(
        &self,
        spec: &DataSpec,
    ) -> std::result::Result<tessera_sources::Source, String> {
        Ok(self.source_of(spec)?.reader())
    }

    /// `study` with the life tables this station reads pointing at its own copies: for every
    /// table of a relative survival analysis whose paths this station writes (it holds the
    /// age, diagnosis date and sex), the file of `[life_tables] files` whose SHA-256 is the
    /// study's pin. Errors name the table and its digest when no file matches.
    pub fn with_life_tables(&self, study: &Study) -> std::result::Result<Study, String> {
        let mut out = study.clone();
        let needed: Vec<String> = study
            .paths_of(&self.name)
            .iter()
            .map(|s| s.life_table.clone())
            .collect();
        if needed.is_empty() {
            return Ok(out);
        }
        let mut digests: Vec<(PathBuf, String)> = Vec::new();
        for f in &self.life_tables {
            let bytes =
                std::fs::read(f).map_err(|e| format!("[life_tables] file {}: {e}", f.display()))?;
            digests.push((f.clone(), tessera_study::lifetable::sha256_hex(&bytes)));
        }
        for t in out
            .life_tables
            .iter_mut()
            .filter(|t| needed.contains(&t.name))
        {
            let Some((file, _)) = digests.iter().find(|(_, d)| *d == t.sha256) else {
                return Err(format!(
                    "the study's life table `{}` (SHA-256 {}) is not among this station's \
                     [life_tables] files ({}): add the agreed table to station.toml",
                    t.name,
                    t.sha256,
                    if self.life_tables.is_empty() {
                        "none configured".to_string()
                    } else {
                        format!("{} configured", self.life_tables.len())
                    }
                ));
            };
            t.file = file.clone();
        }
        Ok(out)
    }

    /// Which configured source the study's dataset `spec` at this station reads: the one its
    /// `file` names, or the only one. Errors as the policy words them (no such source).
    pub fn source_of(&self, spec: &DataSpec) -> std::result::Result<&SourceConfig, String> {
        policy::pick_source(&self.local(), &spec.file_name)
    }

    /// [`policy::evaluate`] with this station's policy; a study that makes this station a
    /// compute party while it has no `[compute]` endpoint is refused too.
    pub fn evaluate(&self, study: &Study) -> Decision {
        self.with_table_check(
            study,
            policy::evaluate_station(&self.policy, &self.local(), self.compute.is_some(), study),
        )
    }

    /// `decision`, refused (rule `life_tables`) when this station must write relative
    /// survival paths from a life table it does not hold: said at submission rather than
    /// when the run starts. The digest and table name are the study's own, public.
    fn with_table_check(&self, study: &Study, decision: Decision) -> Decision {
        let Err(e) = self.with_life_tables(study) else {
            return decision;
        };
        let reason = format!("life_tables: {e}");
        match decision {
            Decision::Refuse { mut reasons } => {
                reasons.push(reason);
                Decision::Refuse { reasons }
            }
            _ => Decision::Refuse {
                reasons: vec![reason],
            },
        }
    }

    /// [`Config::evaluate`] with a refusal's reasons worded for `audience`
    /// ([`policy::evaluate_station_for`]): a researcher's name nothing of a source this
    /// station does not publish.
    pub fn evaluate_for(&self, study: &Study, audience: policy::Audience) -> Decision {
        self.with_table_check(
            study,
            policy::evaluate_station_for(
                &self.policy,
                &self.local(),
                self.compute.is_some(),
                study,
                audience,
            ),
        )
    }

    /// [`policy::effective_disclosure`] with this station's policy.
    pub fn effective_disclosure(&self, study: &Study) -> tessera_stats::Disclosure {
        policy::effective_disclosure(&self.policy, &self.name, study)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    station: RawStation,
    #[serde(default)]
    compute: Option<RawCompute>,
    #[serde(default)]
    trusted: Vec<RawTrusted>,
    #[serde(default)]
    researchers: Vec<RawResearcher>,
    #[serde(default)]
    sources: BTreeMap<String, RawSource>,
    #[serde(default)]
    life_tables: Option<RawLifeTables>,
    policy: RawPolicy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLifeTables {
    files: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStation {
    name: String,
    identity: RawIdentity,
    listen: String,
    #[serde(default)]
    audit: Option<String>,
    #[serde(default)]
    steward_token: Option<String>,
    #[serde(default)]
    notify: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompute {
    listen: String,
    address: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    key: String,
    certificate: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrusted {
    name: String,
    address: String,
    fingerprint: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResearcher {
    name: String,
    fingerprint: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    kind: String,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    tls: Option<bool>,
    #[serde(default)]
    ca: Option<String>,
    #[serde(default)]
    delimiter: Option<String>,
    #[serde(default)]
    missing: Option<Vec<String>>,
    columns: BTreeMap<String, String>,
    #[serde(default)]
    keys: BTreeMap<String, RawKeyNorm>,
    #[serde(default)]
    levels: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    publish: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyNorm {
    #[serde(default)]
    normalise: Vec<String>,
    #[serde(default)]
    date_order: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    analyses: Vec<String>,
    #[serde(default)]
    allowed_columns: Option<Vec<String>>,
    #[serde(default)]
    disallowed_columns: Vec<String>,
    recipients: Vec<String>,
    #[serde(default)]
    min_rows: Option<u64>,
    #[serde(default)]
    min_cell: Option<u64>,
    #[serde(default)]
    min_level_rows: Option<u64>,
    #[serde(default)]
    min_events: Option<u64>,
    #[serde(default)]
    allow_event_times: bool,
    #[serde(default)]
    allow_extremes: bool,
    #[serde(default)]
    allow_counts: bool,
    #[serde(default)]
    max_analyses: Option<usize>,
    #[serde(default)]
    max_grid_times: Option<usize>,
    #[serde(default)]
    max_quantiles: Option<usize>,
    #[serde(default)]
    max_levels: Option<usize>,
    #[serde(default)]
    max_covariates: Option<usize>,
    #[serde(default)]
    max_histogram_edges: Option<usize>,
    #[serde(default)]
    max_columns: Option<usize>,
    #[serde(default)]
    max_cells: Option<usize>,
    #[serde(default)]
    auto_approve: Vec<RawAuto>,
    #[serde(default)]
    rerun: crate::policy::Rerun,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuto {
    #[serde(default)]
    name: Option<String>,
    recipients: Vec<String>,
    #[serde(default)]
    kinds: Vec<String>,
    #[serde(default)]
    max_covariates: Option<usize>,
}

/// Reads and validates the configuration at `path`.
pub fn load(path: &Path) -> Result<Config> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| StationError::Config(format!("{name}: cannot read the configuration: {e}")))?;
    parse(&name, &text, path.parent().unwrap_or(Path::new("")))
}

/// Validates a configuration's text; `name` is used in messages, `dir` is the folder that
/// paths are relative to.
pub fn parse(name: &str, text: &str, dir: &Path) -> Result<Config> {
    let src = Source {
        name: name.to_string(),
        text: text.to_string(),
    };
    let raw: RawConfig = toml::from_str(text)
        .map_err(|e| StationError::Config(src.toml_error("", &e).to_string()))?;
    Checker { src: &src, dir }.config(raw)
}

/// A path into the file from keys and indices.
fn at(segs: &[&dyn AsSeg]) -> Vec<Seg> {
    segs.iter().map(|s| s.seg()).collect()
}

trait AsSeg {
    fn seg(&self) -> Seg;
}

impl AsSeg for &str {
    fn seg(&self) -> Seg {
        Seg::Key(self.to_string())
    }
}

impl AsSeg for String {
    fn seg(&self) -> Seg {
        Seg::Key(self.clone())
    }
}

impl AsSeg for usize {
    fn seg(&self) -> Seg {
        Seg::Index(*self)
    }
}

/// A name of a station or source: 1–64 of `a-z 0-9 _` (as party names in studies).
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Checks the `host:port` form: a host name or IPv4 address, or an IPv6 address in
/// brackets, and a port 1..=65535.
fn check_address(a: &str) -> std::result::Result<(), String> {
    let (host, port) = a
        .rsplit_once(':')
        .ok_or_else(|| "expected host:port".to_string())?;
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(format!("port `{port}` is not a number from 1 to 65535")),
    }
    let ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    if ok {
        Ok(())
    } else {
        Err(format!("host `{host}` is not a host name or an IP address"))
    }
}

struct Checker<'a> {
    src: &'a Source,
    dir: &'a Path,
}

impl Checker<'_> {
    fn err(&self, path: &[Seg], msg: impl std::fmt::Display) -> StationError {
        StationError::Config(self.src.error_path(path, msg).to_string())
    }

    fn file(&self, path: &[Seg], ctx: &str, f: &str) -> Result<PathBuf> {
        let p = self.dir.join(f);
        if f.is_empty() || !p.is_file() {
            return Err(self.err(path, format!("{ctx}: no file {}", p.display())));
        }
        Ok(p)
    }

    fn fingerprint(&self, path: &[Seg], ctx: &str, text: &str) -> Result<Fingerprint> {
        let hex = text.strip_prefix("sha256:").ok_or_else(|| {
            self.err(
                path,
                format!("{ctx}: expected \"sha256:\" followed by 64 hex digits"),
            )
        })?;
        parse_fingerprint(hex).map_err(|e| self.err(path, format!("{ctx}: {e}")))
    }

    fn config(&self, raw: RawConfig) -> Result<Config> {
        let st = raw.station;
        if !is_name(&st.name) {
            return Err(self.err(
                &at(&[&"station", &"name"]),
                "[station] field name: use 1 to 64 of the characters a-z 0-9 _",
            ));
        }
        let identity = Identity {
            key: self.file(
                &at(&[&"station", &"identity", &"key"]),
                "[station] field identity.key",
                &st.identity.key,
            )?,
            certificate: self.file(
                &at(&[&"station", &"identity", &"certificate"]),
                "[station] field identity.certificate",
                &st.identity.certificate,
            )?,
        };
        check_address(&st.listen).map_err(|why| {
            self.err(
                &at(&[&"station", &"listen"]),
                format!("[station] field listen: {why}"),
            )
        })?;
        let audit_name = st.audit.unwrap_or_else(|| DEFAULT_AUDIT.to_string());
        if audit_name.is_empty() {
            return Err(self.err(
                &at(&[&"station", &"audit"]),
                "[station] field audit: a file name is needed",
            ));
        }
        let audit = self.dir.join(&audit_name);
        let token_name = st
            .steward_token
            .unwrap_or_else(|| DEFAULT_STEWARD_TOKEN.to_string());
        if token_name.is_empty() {
            return Err(self.err(
                &at(&[&"station", &"steward_token"]),
                "[station] field steward_token: a file name is needed",
            ));
        }
        let steward_token = self.dir.join(&token_name);
        let notify = match st.notify {
            None => None,
            Some(cmd) if cmd.first().is_none_or(|p| p.trim().is_empty()) => {
                return Err(self.err(
                    &at(&[&"station", &"notify"]),
                    "[station] field notify: the program to run, then its arguments \
                     (e.g. [\"/usr/local/bin/tell-steward\", \"--to\", \"steward@example.org\"])",
                ));
            }
            Some(cmd) => Some(cmd),
        };

        let mut trusted: Vec<Trusted> = Vec::new();
        for (i, t) in raw.trusted.into_iter().enumerate() {
            let ctx = format!("[[trusted]] {}", i + 1);
            let p = |f: &str| at(&[&"trusted", &i, &f.to_string()]);
            if !is_name(&t.name) {
                return Err(self.err(
                    &p("name"),
                    format!("{ctx} field name: use 1 to 64 of the characters a-z 0-9 _"),
                ));
            }
            if t.name == st.name {
                return Err(self.err(
                    &p("name"),
                    format!("{ctx} field name: `{}` is this station itself", t.name),
                ));
            }
            if trusted.iter().any(|x| x.name == t.name) {
                return Err(self.err(
                    &p("name"),
                    format!("{ctx} field name: `{}` is listed twice", t.name),
                ));
            }
            check_address(&t.address)
                .map_err(|why| self.err(&p("address"), format!("{ctx} field address: {why}")))?;
            let fingerprint = self.fingerprint(
                &p("fingerprint"),
                &format!("{ctx} field fingerprint"),
                &t.fingerprint,
            )?;
            trusted.push(Trusted {
                name: t.name,
                address: t.address,
                fingerprint,
            });
        }

        let mut researchers: Vec<Researcher> = Vec::new();
        for (i, r) in raw.researchers.into_iter().enumerate() {
            let ctx = format!("[[researchers]] {}", i + 1);
            let p = |f: &str| at(&[&"researchers", &i, &f.to_string()]);
            if !is_name(&r.name) {
                return Err(self.err(
                    &p("name"),
                    format!("{ctx} field name: use 1 to 64 of the characters a-z 0-9 _"),
                ));
            }
            let fingerprint = self.fingerprint(
                &p("fingerprint"),
                &format!("{ctx} field fingerprint"),
                &r.fingerprint,
            )?;
            if researchers
                .iter()
                .any(|x| x.name == r.name || x.fingerprint == fingerprint)
            {
                return Err(self.err(
                    &p("name"),
                    format!("{ctx}: `{}` or its fingerprint is listed twice", r.name),
                ));
            }
            if trusted.iter().any(|t| t.fingerprint == fingerprint) {
                return Err(self.err(
                    &p("fingerprint"),
                    format!("{ctx} field fingerprint: it is a trusted station's"),
                ));
            }
            researchers.push(Researcher {
                name: r.name,
                fingerprint,
            });
        }

        let compute = raw
            .compute
            .map(|c| self.compute(c, &st.listen))
            .transpose()?;

        let mut sources = Vec::new();
        for (name, s) in raw.sources {
            sources.push(self.source(name, s)?);
        }
        let policy = self.policy(raw.policy, &sources)?;
        let mut life_tables = Vec::new();
        for (i, f) in raw
            .life_tables
            .map(|l| l.files)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            life_tables.push(self.file(
                &at(&[&"life_tables", &"files", &i]),
                "[life_tables] field files",
                f,
            )?);
        }
        Ok(Config {
            source: self.src.clone(),
            dir: self.dir.to_path_buf(),
            name: st.name,
            identity,
            listen: st.listen,
            audit,
            steward_token,
            trusted,
            researchers,
            compute,
            sources,
            policy,
            notify,
            life_tables,
        })
    }

    /// `[compute]`: `listen` is `host:port` or `host:first-last`, `address` a host only;
    /// no port of the range may be the API's (`api`, `[station] listen`).
    fn compute(&self, c: RawCompute, api: &str) -> Result<Compute> {
        let listen = at(&[&"compute", &"listen"]);
        let bad = |why: String| self.err(&listen, format!("[compute] field listen: {why}"));
        let (host, ports) = c
            .listen
            .rsplit_once(':')
            .ok_or_else(|| bad("expected host:port or host:first-last".to_string()))?;
        let port = |p: &str| match p.trim().parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(bad(format!("port `{p}` is not a number from 1 to 65535"))),
        };
        let (first, last) = match ports.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => (port(ports)?, port(ports)?),
        };
        if first > last {
            return Err(bad(format!("the range {first}-{last} is empty")));
        }
        if u32::from(last - first) + 1 > MAX_COMPUTE_PORTS {
            return Err(bad(format!(
                "the range {first}-{last} holds more than {MAX_COMPUTE_PORTS} ports"
            )));
        }
        check_address(&format!("{host}:{first}")).map_err(bad)?;
        let api_port = api
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .unwrap_or(0);
        if (first..=last).contains(&api_port) {
            return Err(bad(format!(
                "port {api_port} is the API's ([station] listen): the computation needs ports \
                 of its own"
            )));
        }
        let address = c.address.trim().to_string();
        check_address(&format!("{address}:{first}")).map_err(|why| {
            self.err(
                &at(&[&"compute", &"address"]),
                format!(
                    "[compute] field address: {why}; give the host name or address the other \
                     stations reach this one at, without a port (the port is listen's)"
                ),
            )
        })?;
        Ok(Compute {
            bind: host.to_string(),
            ports: (first, last),
            address,
        })
    }

    fn source(&self, name: String, s: RawSource) -> Result<SourceConfig> {
        let ctx = format!("[sources.{name}]");
        let p = |f: &str| at(&[&"sources", &name, &f.to_string()]);
        if !is_name(&name) {
            return Err(self.err(
                &at(&[&"sources", &name]),
                format!("{ctx}: a source name is 1 to 64 of the characters a-z 0-9 _"),
            ));
        }
        let forbid = |field: &str, present: bool, kind: &str| -> Result<()> {
            if present {
                Err(self.err(
                    &p(field),
                    format!("{ctx} field {field}: not used by a {kind} source"),
                ))
            } else {
                Ok(())
            }
        };
        let need = |field: &str, v: Option<String>| -> Result<String> {
            match v {
                Some(v) if !v.trim().is_empty() => Ok(v),
                Some(_) => Err(self.err(&p(field), format!("{ctx} field {field}: empty"))),
                None => Err(self.err(
                    &at(&[&"sources", &name]),
                    format!("{ctx}: missing field `{field}`"),
                )),
            }
        };
        let kind = match s.kind.as_str() {
            k @ ("csv" | "parquet") => {
                forbid("url", s.url.is_some(), k)?;
                forbid("query", s.query.is_some(), k)?;
                forbid("tls", s.tls.is_some(), k)?;
                forbid("ca", s.ca.is_some(), k)?;
                let f = need("file", s.file)?;
                let file = self.file(&p("file"), &format!("{ctx} field file"), &f)?;
                if k == "csv" {
                    let delimiter = match s.delimiter.as_deref() {
                        None => b',',
                        Some(d)
                            if d.len() == 1 && d.is_ascii() && !matches!(d, "\"" | "\n" | "\r") =>
                        {
                            d.as_bytes()[0]
                        }
                        Some(_) => {
                            return Err(self.err(
                                &p("delimiter"),
                                format!(
                                    "{ctx} field delimiter: one ASCII character (not a quote \
                                     or a line break)"
                                ),
                            ))
                        }
                    };
                    let missing = s
                        .missing
                        .unwrap_or_else(|| DEFAULT_MISSING.iter().map(|m| m.to_string()).collect());
                    SourceKind::Csv {
                        file,
                        delimiter,
                        missing,
                    }
                } else {
                    forbid("delimiter", s.delimiter.is_some(), k)?;
                    forbid("missing", s.missing.is_some(), k)?;
                    SourceKind::Parquet { file }
                }
            }
            "postgres" => {
                forbid("file", s.file.is_some(), "postgres")?;
                forbid("delimiter", s.delimiter.is_some(), "postgres")?;
                forbid("missing", s.missing.is_some(), "postgres")?;
                let url = need("url", s.url)?;
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(self.err(
                        &p("url"),
                        format!("{ctx} field url: expected postgres://… or postgresql://…"),
                    ));
                }
                let query = need("query", s.query)?;
                let tls = s.tls.unwrap_or(false);
                let ca = match (&s.ca, tls) {
                    (Some(f), true) => Some(self.file(&p("ca"), &format!("{ctx} field ca"), f)?),
                    (None, true) => {
                        return Err(self.err(
                            &p("tls"),
                            format!(
                                "{ctx} field tls: TLS needs `ca`, the PEM file of the \
                                 certificate authority the server's certificate chains to"
                            ),
                        ))
                    }
                    (Some(_), false) => {
                        return Err(self.err(
                            &p("ca"),
                            format!("{ctx} field ca: only used with tls = true"),
                        ))
                    }
                    (None, false) => None,
                };
                SourceKind::Postgres {
                    url,
                    query,
                    tls,
                    ca,
                }
            }
            other => {
                return Err(self.err(
                    &p("kind"),
                    format!(
                        "{ctx} field kind: `{other}` is not one of \"csv\", \"parquet\", \
                         \"postgres\""
                    ),
                ))
            }
        };
        if s.columns.is_empty() {
            return Err(self.err(
                &p("columns"),
                format!("{ctx} field columns: no column declared"),
            ));
        }
        let mut columns = Vec::new();
        for (c, t) in s.columns {
            let cp = at(&[&"sources", &name, &"columns", &c]);
            if c.is_empty() || c.contains('.') {
                return Err(self.err(
                    &cp,
                    format!("{ctx} column `{c}`: a column name must not be empty or contain a dot"),
                ));
            }
            let k = ColumnKind::parse(&t).ok_or_else(|| {
                self.err(
                    &cp,
                    format!(
                        "{ctx} column `{c}`: type `{t}` is not one of \"numeric\", \"binary\", \
                         \"categorical\", \"date\", \"key\""
                    ),
                )
            })?;
            columns.push((c, k));
        }
        let keys = self.key_norms(&name, &ctx, &columns, s.keys)?;
        let levels = self.levels(&name, &ctx, &columns, s.levels)?;
        Ok(SourceConfig {
            name,
            kind,
            columns,
            keys,
            levels,
            publish: s.publish,
        })
    }

    /// The declared levels of source `name` (`[sources.NAME.levels]`): each entry names a
    /// `categorical` column and lists one or more distinct, non-empty levels.
    fn levels(
        &self,
        name: &str,
        ctx: &str,
        columns: &[(String, ColumnKind)],
        raw: BTreeMap<String, Vec<String>>,
    ) -> Result<Vec<(String, Vec<String>)>> {
        let mut out = Vec::new();
        for (c, levels) in raw {
            let lp = at(&[&"sources", &name.to_string(), &"levels", &c]);
            if !columns
                .iter()
                .any(|(n, k)| *n == c && *k == ColumnKind::Categorical)
            {
                return Err(self.err(
                    &lp,
                    format!(
                        "{ctx} levels.{c}: `{c}` is not declared as a \"categorical\" column \
                         in {ctx} columns"
                    ),
                ));
            }
            if levels.is_empty() || levels.iter().any(|l| l.is_empty()) {
                return Err(self.err(
                    &lp,
                    format!("{ctx} levels.{c}: list one or more non-empty levels"),
                ));
            }
            if let Some(d) = levels
                .iter()
                .enumerate()
                .find(|(i, l)| levels[..*i].contains(l))
            {
                return Err(self.err(
                    &lp,
                    format!("{ctx} levels.{c}: level `{}` is listed twice", d.1),
                ));
            }
            out.push((c, levels));
        }
        Ok(out)
    }

    /// The normalisation of every `key` column of source `name` (`[sources.NAME.keys.COL]`):
    /// each entry must name a key column; a key column without one has no steps.
    fn key_norms(
        &self,
        name: &str,
        ctx: &str,
        columns: &[(String, ColumnKind)],
        raw: BTreeMap<String, RawKeyNorm>,
    ) -> Result<Vec<(String, Vec<Norm>)>> {
        for (c, _) in raw.iter() {
            if !columns.iter().any(|(n, k)| n == c && *k == ColumnKind::Key) {
                return Err(self.err(
                    &at(&[&"sources", &name.to_string(), &"keys", c]),
                    format!(
                        "{ctx} keys.{c}: `{c}` is not declared as a \"key\" column in \
                         {ctx} columns"
                    ),
                ));
            }
        }
        let mut out = Vec::new();
        for (c, _) in columns.iter().filter(|(_, k)| *k == ColumnKind::Key) {
            let Some(k) = raw.get(c) else {
                out.push((c.clone(), Vec::new()));
                continue;
            };
            let kp = |f: &str| at(&[&"sources", &name.to_string(), &"keys", c, &f.to_string()]);
            let kctx = format!("[sources.{name}.keys.{c}]");
            let has_date = k.normalise.iter().any(|n| n == "date");
            let order = match (&k.date_order, has_date) {
                (Some(o), true) => DateOrder::parse(o).ok_or_else(|| {
                    self.err(
                        &kp("date_order"),
                        format!(
                            "{kctx} field date_order: `{o}` is not one of \"day_first\", \
                             \"month_first\", \"year_first\""
                        ),
                    )
                })?,
                (None, true) => {
                    return Err(self.err(
                        &kp("normalise"),
                        format!(
                            "{kctx} field date_order: required with the `date` step \
                             (day_first, month_first or year_first)"
                        ),
                    ))
                }
                (Some(_), false) => {
                    return Err(self.err(
                        &kp("date_order"),
                        format!("{kctx} field date_order: only meaningful with the `date` step"),
                    ))
                }
                (None, false) => DateOrder::DayFirst,
            };
            let mut steps = Vec::new();
            for (i, n) in k.normalise.iter().enumerate() {
                let step = Norm::parse(n, order).ok_or_else(|| {
                    self.err(
                        &at(&[&"sources", &name.to_string(), &"keys", c, &"normalise", &i]),
                        format!(
                            "{kctx} field normalise: `{n}` is not a step (one of: {})",
                            Norm::NAMES.join(", ")
                        ),
                    )
                })?;
                steps.push(step);
            }
            out.push((c.clone(), steps));
        }
        Ok(out)
    }

    fn recipients(&self, field: &[Seg], ctx: &str, list: &[String]) -> Result<Vec<RecipientRule>> {
        let mut out = Vec::new();
        for (i, r) in list.iter().enumerate() {
            let mut p = field.to_vec();
            p.push(Seg::Index(i));
            if r.starts_with("sha256:") {
                out.push(RecipientRule::Fingerprint(self.fingerprint(&p, ctx, r)?));
            } else if tessera_net::identity::parse_fingerprint(r).is_ok() {
                // A fingerprint without its prefix would silently be taken for a name that
                // no study's recipient has.
                return Err(self.err(
                    &p,
                    format!(
                        "{ctx}: `{r}` is a certificate fingerprint without its prefix: write \
                         it as \"sha256:{}\" (a name is a-z 0-9 _)",
                        r.trim().to_ascii_lowercase().replace(':', "")
                    ),
                ));
            } else if is_name(r) {
                out.push(RecipientRule::Name(r.clone()));
            } else {
                return Err(self.err(
                    &p,
                    format!(
                        "{ctx}: `{r}` is neither a recipient name (a-z 0-9 _) nor \
                         \"sha256:\" and a fingerprint"
                    ),
                ));
            }
        }
        Ok(out)
    }

    fn policy(&self, raw: RawPolicy, sources: &[SourceConfig]) -> Result<Policy> {
        let p = |f: &str| at(&[&"policy", &f.to_string()]);
        for (i, k) in raw.analyses.iter().enumerate() {
            if !KINDS.contains(&k.as_str()) {
                return Err(self.err(
                    &at(&[&"policy", &"analyses", &i]),
                    format!(
                        "[policy] field analyses: `{k}` is not an analysis kind (one of: {})",
                        KINDS.join(", ")
                    ),
                ));
            }
        }
        let declared = |c: &str| sources.iter().any(|s| s.column(c).is_some());
        let lists = [
            (
                "allowed_columns",
                raw.allowed_columns.as_deref().unwrap_or(&[]),
            ),
            ("disallowed_columns", &raw.disallowed_columns[..]),
        ];
        for (field, cols) in lists {
            for (i, c) in cols.iter().enumerate() {
                if !declared(c) {
                    return Err(self.err(
                        &at(&[&"policy", &field, &i]),
                        format!("[policy] field {field}: no source declares a column `{c}`"),
                    ));
                }
            }
        }
        let recipients = self.recipients(
            &p("recipients"),
            "[policy] field recipients",
            &raw.recipients,
        )?;
        let mut auto_approve: Vec<AutoRule> = Vec::new();
        for (i, a) in raw.auto_approve.into_iter().enumerate() {
            let ctx = format!("[[policy.auto_approve]] {}", i + 1);
            let ap = |f: &str| at(&[&"policy", &"auto_approve", &i, &f.to_string()]);
            let name = a.name.unwrap_or_else(|| format!("auto_approve[{}]", i + 1));
            if name.trim().is_empty() || auto_approve.iter().any(|r| r.name == name) {
                return Err(self.err(
                    &ap("name"),
                    format!("{ctx} field name: empty or used twice"),
                ));
            }
            for (j, r) in a.recipients.iter().enumerate() {
                if !raw.recipients.contains(r) {
                    return Err(self.err(
                        &at(&[&"policy", &"auto_approve", &i, &"recipients", &j]),
                        format!("{ctx} field recipients: `{r}` is not in [policy] recipients"),
                    ));
                }
            }
            for (j, k) in a.kinds.iter().enumerate() {
                if !raw.analyses.contains(k) {
                    return Err(self.err(
                        &at(&[&"policy", &"auto_approve", &i, &"kinds", &j]),
                        format!("{ctx} field kinds: `{k}` is not in [policy] analyses"),
                    ));
                }
            }
            let recipients = self.recipients(
                &ap("recipients"),
                &format!("{ctx} field recipients"),
                &a.recipients,
            )?;
            auto_approve.push(AutoRule {
                name,
                recipients,
                kinds: a.kinds,
                max_covariates: a.max_covariates,
            });
        }
        // Caps: each at least 1 and at most the default (a policy only lowers them; the
        // defaults are what every station's validation enforces anyway).
        let mut limits = Limits::DEFAULT;
        for (field, value, cap) in [
            ("max_analyses", raw.max_analyses, &mut limits.analyses),
            ("max_grid_times", raw.max_grid_times, &mut limits.grid_times),
            ("max_quantiles", raw.max_quantiles, &mut limits.quantiles),
            ("max_levels", raw.max_levels, &mut limits.levels),
            ("max_covariates", raw.max_covariates, &mut limits.covariates),
            (
                "max_histogram_edges",
                raw.max_histogram_edges,
                &mut limits.histogram_edges,
            ),
            ("max_columns", raw.max_columns, &mut limits.columns),
            ("max_cells", raw.max_cells, &mut limits.cells),
        ] {
            if let Some(v) = value {
                if v == 0 || v > *cap {
                    return Err(self.err(
                        &p(field),
                        format!(
                            "[policy] field {field}: between 1 and the default {} (a policy \
                             may only lower it)",
                            *cap
                        ),
                    ));
                }
                *cap = v;
            }
        }
        Ok(Policy {
            analyses: raw.analyses,
            allowed_columns: raw.allowed_columns,
            disallowed_columns: raw.disallowed_columns,
            recipients,
            min_rows: raw.min_rows,
            // Without a floor of the steward's, a study could lower these below the
            // analyses' defaults (min_events = 0 lets a dense grid walk every event time):
            // the defaults are the floors then.
            min_cell: Some(raw.min_cell.unwrap_or(crate::policy::TABLE_MIN_CELL)),
            min_level_rows: raw.min_level_rows,
            min_events: Some(
                raw.min_events
                    .unwrap_or(tessera_stats::disclosure::DEFAULT_MIN_EVENTS),
            ),
            allow_event_times: raw.allow_event_times,
            allow_extremes: raw.allow_extremes,
            allow_counts: raw.allow_counts,
            limits,
            auto_approve,
            rerun: raw.rerun,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    /// A folder with the files a configuration names.
    fn folder(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "tessera-station-config-{}-{tag}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["registry.key", "registry.crt", "registry.csv", "db-ca.pem"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        dir
    }

    fn good() -> String {
        format!(
            r#"[station]
name = "registry"
identity = {{ key = "registry.key", certificate = "registry.crt" }}
listen = "0.0.0.0:7000"

[[trusted]]
name = "gp"
address = "gp.example.org:7000"
fingerprint = "{FP}"

[sources.cases]
kind = "csv"
file = "registry.csv"
columns = {{ nhs = "key", time = "numeric", event = "binary", stage = "categorical" }}

[sources.warehouse]
kind = "postgres"
url = "postgres://reader@db.internal/registry"
query = "SELECT nhs, age FROM patients"
tls = true
ca = "db-ca.pem"
columns = {{ nhs = "key", age = "numeric" }}

[policy]
analyses = ["kaplan_meier", "cox"]
disallowed_columns = ["age"]
recipients = ["researcher", "{FP}"]
min_rows = 20

[[policy.auto_approve]]
name = "survival"
recipients = ["researcher"]
kinds = ["kaplan_meier"]
max_covariates = 3
"#
        )
    }

    fn check(tag: &str, text: &str) -> Result<Config> {
        parse("station.toml", text, &folder(tag))
    }

    fn error(tag: &str, text: &str) -> String {
        match check(tag, text) {
            Err(StationError::Config(m)) => m,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn reads_a_full_configuration() {
        let dir = folder("full");
        let c = parse("station.toml", &good(), &dir).unwrap();
        assert_eq!(c.name, "registry");
        assert_eq!(c.identity.key, dir.join("registry.key"));
        assert_eq!(c.audit, dir.join(DEFAULT_AUDIT));
        assert_eq!(c.trusted.len(), 1);
        assert_eq!(c.trusted[0].fingerprint[1], 0x11);
        assert_eq!(c.sources.len(), 2);
        assert_eq!(c.sources[0].name, "cases");
        assert_eq!(c.sources[0].column("stage"), Some(ColumnKind::Categorical));
        assert_eq!(c.sources[0].column("age"), None);
        assert!(matches!(
            c.sources[1].kind,
            SourceKind::Postgres { tls: true, .. }
        ));
        assert_eq!(c.policy.min_rows, Some(20));
        assert_eq!(c.policy.recipients.len(), 2);
        assert!(matches!(
            c.policy.recipients[1],
            RecipientRule::Fingerprint(_)
        ));
        assert_eq!(c.policy.auto_approve[0].name, "survival");
        assert_eq!(c.policy.auto_approve[0].max_covariates, Some(3));
    }

    #[test]
    fn the_notify_command_is_a_program_and_its_arguments() {
        let with =
            |v: &str| good().replacen("[station]\n", &format!("[station]\nnotify = {v}\n"), 1);
        let c = check("notify", &with(r#"["/bin/mail-steward", "--to", "a@b"]"#)).unwrap();
        assert_eq!(c.notify.unwrap(), ["/bin/mail-steward", "--to", "a@b"]);
        assert!(check("no-notify", &good()).unwrap().notify.is_none());
        let m = error("notify-empty", &with("[]"));
        assert!(
            m.contains("[station] field notify: the program to run"),
            "{m}"
        );
    }

    /// Issue 15: a fingerprint pasted without its `sha256:` prefix was taken for a recipient
    /// name no study has, so the rule silently never matched.
    #[test]
    fn a_bare_fingerprint_among_the_recipients_is_an_error() {
        let bare = FP.trim_start_matches("sha256:");
        let m = error(
            "bare-fp",
            &good().replace(
                &format!("recipients = [\"researcher\", \"{FP}\"]"),
                &format!("recipients = [\"researcher\", \"{bare}\"]"),
            ),
        );
        assert!(m.contains("without its prefix"), "{m}");
        assert!(m.contains(&format!("\"sha256:{bare}\"")), "{m}");
        assert!(m.starts_with("station.toml:"), "{m}");
    }

    #[test]
    fn reads_the_computation_endpoint() {
        let with = |compute: &str| {
            good().replace(
                "\n[[trusted]]",
                &format!("\n[compute]\n{compute}\n\n[[trusted]]"),
            )
        };
        let c = check("compute", &good()).unwrap();
        assert_eq!(c.compute, None);
        let c = check(
            "compute-one",
            &with("listen = \"0.0.0.0:7100\"\naddress = \"registry.example.org\""),
        )
        .unwrap();
        assert_eq!(
            c.compute,
            Some(Compute {
                bind: "0.0.0.0".into(),
                ports: (7100, 7100),
                address: "registry.example.org".into(),
            })
        );
        let c = check(
            "compute-range",
            &with("listen = \"10.0.0.5:7100-7109\"\naddress = \"10.0.0.5\""),
        )
        .unwrap();
        assert_eq!(c.compute.unwrap().ports, (7100, 7109));
        // Errors name the place and the field; the API's port is refused.
        for (tag, compute, want) in [
            (
                "api",
                "listen = \"0.0.0.0:6990-7010\"\naddress = \"r.org\"",
                "station.toml:7:10: [compute] field listen: port 7000 is the API's",
            ),
            (
                "same",
                "listen = \"0.0.0.0:7000\"\naddress = \"r.org\"",
                "station.toml:7:10: [compute] field listen: port 7000 is the API's",
            ),
            (
                "empty",
                "listen = \"0.0.0.0:7109-7100\"\naddress = \"r.org\"",
                "station.toml:7:10: [compute] field listen: the range 7109-7100 is empty",
            ),
            (
                "port",
                "listen = \"0.0.0.0:x\"\naddress = \"r.org\"",
                "station.toml:7:10: [compute] field listen: port `x`",
            ),
            (
                "wide",
                "listen = \"0.0.0.0:8000-9500\"\naddress = \"r.org\"",
                "more than 1000 ports",
            ),
            (
                "addr",
                "listen = \"0.0.0.0:7100\"\naddress = \"r.org:7100\"",
                "station.toml:8:11: [compute] field address:",
            ),
            (
                "missing",
                "listen = \"0.0.0.0:7100\"",
                "station.toml:6:1: missing field `address`",
            ),
        ] {
            let e = error(&format!("compute-{tag}"), &with(compute));
            assert!(e.contains(want), "{tag}: {e}");
        }
    }

    #[test]
    fn researchers_are_listed_by_certificate() {
        let alice = format!("sha256:{}", "ab".repeat(32));
        let entry = |name: &str, fp: &str| {
            format!("\n[[researchers]]\nname = \"{name}\"\nfingerprint = \"{fp}\"\n")
        };
        let with = |extra: &str| good().replacen("[sources.", &format!("{extra}\n[sources."), 1);
        let c = check("researchers", &with(&entry("alice", &alice))).unwrap();
        assert_eq!(c.researchers.len(), 1);
        assert_eq!(c.researchers[0].name, "alice");
        assert_eq!(c.researchers[0].fingerprint[0], 0xab);
        for (tag, extra, want) in [
            (
                "twice",
                entry("alice", &alice) + &entry("bob", &alice),
                "[[researchers]] 2: `bob` or its fingerprint is listed twice",
            ),
            (
                "bad-fp",
                entry("alice", "sha256:abc"),
                "[[researchers]] 1 field fingerprint:",
            ),
            (
                "station",
                entry("gp_station", FP),
                "[[researchers]] 1 field fingerprint: it is a trusted station's",
            ),
            (
                "name",
                entry("Alice Smith", &alice),
                "[[researchers]] 1 field name: use 1 to 64 of the characters",
            ),
        ] {
            let e = error(&format!("researchers-{tag}"), &with(&extra));
            assert!(e.contains(want), "{tag}: {e}");
        }
    }

    #[test]
    fn errors_name_place_and_field() {
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "unknown",
                good().replace("listen =", "colour = \"red\"\nlisten ="),
                "station.toml:4:1: unknown field `colour`",
            ),
            (
                "listen",
                good().replace("0.0.0.0:7000", "nowhere"),
                "station.toml:4:10: [station] field listen: expected host:port",
            ),
            (
                "keyfile",
                good().replace("registry.key\"", "missing.key\""),
                "station.toml:3:20: [station] field identity.key: no file",
            ),
            (
                "fingerprint",
                good().replacen(FP, "sha256:abc", 1),
                "station.toml:9:15: [[trusted]] 1 field fingerprint:",
            ),
            (
                "kind",
                good().replace("kind = \"csv\"", "kind = \"excel\""),
                "station.toml:12:8: [sources.cases] field kind: `excel`",
            ),
            (
                "coltype",
                good().replace("time = \"numeric\"", "time = \"float\""),
                "station.toml:14:33: [sources.cases] column `time`: type `float`",
            ),
            (
                "tls",
                good().replace("file = \"registry.csv\"", "file = \"registry.csv\"\ntls = true"),
                "station.toml:14:7: [sources.cases] field tls: not used by a csv source",
            ),
            (
                "url",
                good().replace("postgres://reader", "mysql://reader"),
                "station.toml:18:7: [sources.warehouse] field url",
            ),
            (
                "analysis",
                good().replace("\"kaplan_meier\", \"cox\"]", "\"kaplan_meier\", \"anova\"]"),
                "station.toml:25:29: [policy] field analyses: `anova`",
            ),
            (
                "column",
                good().replace("[\"age\"]", "[\"weight\"]"),
                "station.toml:26:23: [policy] field disallowed_columns: no source declares a column `weight`",
            ),
            (
                "recipient",
                good().replace("[\"researcher\", \"sha", "[\"Dr Who\", \"sha"),
                "station.toml:27:15: [policy] field recipients: `Dr Who`",
            ),
            (
                "autokind",
                good().replace("kinds = [\"kaplan_meier\"]", "kinds = [\"logrank\"]"),
                "station.toml:33:10: [[policy.auto_approve]] 1 field kinds: `logrank` is not in [policy] analyses",
            ),
            (
                "self",
                good().replace("name = \"gp\"", "name = \"registry\""),
                "station.toml:7:8: [[trusted]] 1 field name: `registry` is this station itself",
            ),
            (
                "nopolicy",
                good().split("[policy]").next().unwrap().to_string(),
                "station.toml:1:1: missing field `policy`",
            ),
        ];
        let mut wrong = Vec::new();
        for (tag, text, want) in cases {
            let got = error(tag, &text);
            if !got.starts_with(want) {
                wrong.push(format!("{tag}: got {got:?}, want {want:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// How a source is read is configured here: delimiter and missing-value tokens (CSV
    /// only), and each key column's normalisation; errors name the place and the field.
    #[test]
    fn reading_options_and_key_normalisation() {
        let c = check("read-default", &good()).unwrap();
        assert_eq!(
            c.sources[0].kind,
            SourceKind::Csv {
                file: folder("read-default").join("registry.csv"),
                delimiter: b',',
                missing: DEFAULT_MISSING.iter().map(|m| m.to_string()).collect(),
            }
        );
        assert_eq!(c.sources[0].key_steps("nhs"), Some(&[][..]));
        assert_eq!(c.sources[0].key_steps("time"), None);

        let read = "file = \"registry.csv\"\ndelimiter = \";\"\nmissing = [\"-\"]";
        let keys = "\n[sources.cases.keys.nhs]\nnormalise = [\"digits_only\", \"date\"]\n\
                    date_order = \"year_first\"\n\n[sources.warehouse]";
        let text = good().replace("file = \"registry.csv\"", read).replacen(
            "\n[sources.warehouse]",
            keys,
            1,
        );
        let c = check("read", &text).unwrap();
        let SourceKind::Csv {
            delimiter, missing, ..
        } = &c.sources[0].kind
        else {
            panic!("{:?}", c.sources[0].kind)
        };
        assert_eq!(
            (*delimiter, missing.as_slice()),
            (b';', &["-".to_string()][..])
        );
        assert_eq!(
            c.sources[0].key_steps("nhs"),
            Some(&[Norm::DigitsOnly, Norm::Date(DateOrder::YearFirstOnly)][..])
        );
        let spec = tessera_study::format::DataSpec {
            party: "registry".into(),
            file_name: "cases".into(),
            file: PathBuf::from("cases"),
            key: vec!["nhs".into()],
            missing: vec!["P100110".into()],
            delimiter: b'|',
            columns: Vec::new(),
        };
        // The station's own options, never the study's.
        assert!(matches!(
            c.source_for(&spec).unwrap(),
            tessera_sources::Source::Csv { delimiter: b';', missing, .. } if missing == ["-"]
        ));

        let cases: Vec<(&str, String, &str)> = vec![
            (
                "delim",
                good().replace("file = \"registry.csv\"", "file = \"registry.csv\"\ndelimiter = \";;\""),
                "station.toml:14:13: [sources.cases] field delimiter: one ASCII character",
            ),
            (
                "pgmissing",
                good().replace("tls = true", "tls = true\nmissing = [\"NA\"]"),
                "station.toml:21:11: [sources.warehouse] field missing: not used by a postgres source",
            ),
            (
                "notkey",
                good().replacen("\n[sources.warehouse]", "\n[sources.cases.keys.time]\nnormalise = []\n\n[sources.warehouse]", 1),
                "station.toml:16:1: [sources.cases] keys.time: `time` is not declared as a \"key\" column",
            ),
            (
                "step",
                good().replacen("\n[sources.warehouse]", "\n[sources.cases.keys.nhs]\nnormalise = [\"lowercase\"]\n\n[sources.warehouse]", 1),
                "station.toml:17:14: [sources.cases.keys.nhs] field normalise: `lowercase` is not a step",
            ),
            (
                "order",
                good().replacen("\n[sources.warehouse]", "\n[sources.cases.keys.nhs]\nnormalise = [\"date\"]\n\n[sources.warehouse]", 1),
                "station.toml:17:13: [sources.cases.keys.nhs] field date_order: required with the `date` step",
            ),
        ];
        let mut wrong = Vec::new();
        for (tag, text, want) in cases {
            let got = error(tag, &text);
            if !got.starts_with(want) {
                wrong.push(format!("{tag}: got {got:?}, want {want:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// Sources are unpublished unless the steward says so; declared levels belong to
    /// categorical columns, one or more, each once.
    #[test]
    fn publishing_and_declared_levels() {
        let c = check("publish-default", &good()).unwrap();
        assert!(c.sources.iter().all(|s| !s.publish && s.levels.is_empty()));
        let text = good().replace(
            "[sources.warehouse]",
            "publish = true\n\n[sources.cases.levels]\nstage = [\"I\", \"II\"]\n\n\
             [sources.warehouse]",
        );
        let c = check("publish", &text).unwrap();
        assert!(c.sources[0].publish && !c.sources[1].publish);
        assert_eq!(
            c.sources[0].declared_levels("stage"),
            Some(&["I".to_string(), "II".to_string()][..])
        );
        let with = |levels: &str| {
            good().replace(
                "[sources.warehouse]",
                &format!("[sources.cases.levels]\n{levels}\n\n[sources.warehouse]"),
            )
        };
        for (tag, levels, want) in [
            (
                "lv-type",
                "time = [\"1\"]",
                "`time` is not declared as a \"categorical\"",
            ),
            (
                "lv-empty",
                "stage = []",
                "list one or more non-empty levels",
            ),
            (
                "lv-twice",
                "stage = [\"I\", \"I\"]",
                "level `I` is listed twice",
            ),
        ] {
            let got = error(tag, &with(levels));
            assert!(
                got.contains("[sources.cases] levels.") && got.contains(want),
                "{tag}: {got}"
            );
        }
    }

    #[test]
    fn addresses() {
        for ok in [
            "a:1",
            "10.0.0.5:7000",
            "[::1]:7000",
            "gp.example-x.org:65535",
        ] {
            assert!(check_address(ok).is_ok(), "{ok}");
        }
        for bad in ["a", "a:0", "a:70000", ":7000", "[zz]:1", "-a:1", "a b:1"] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn load_resolves_paths_against_the_file() {
        let dir = folder("load");
        let path = dir.join("station.toml");
        std::fs::write(
            &path,
            good().replace("listen =", "audit = \"log/a.sqlite\"\nlisten ="),
        )
        .unwrap();
        let c = load(&path).unwrap();
        assert_eq!(c.audit, dir.join("log/a.sqlite"));
        assert!(matches!(
            load(&dir.join("nothing.toml")),
            Err(StationError::Config(m)) if m.contains("cannot read")
        ));
    }

    /// A station finds the study's pinned life table among its own by digest, and refuses
    /// a run when it holds no file with that digest (an edited copy is another table).
    #[test]
    fn the_studys_life_table_is_found_by_its_digest() {
        let dir = folder("life-tables");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let table = std::fs::read_to_string(root.join("fixtures/relsurv/lifetable.csv")).unwrap();
        std::fs::write(dir.join("pop.csv"), &table).unwrap();
        std::fs::write(
            dir.join("edited.csv"),
            table.replacen("0.00442020202", "0.0044202021", 1),
        )
        .unwrap();
        let study_text = std::fs::read_to_string(root.join("examples/relsurv/study.toml")).unwrap();
        let study =
            tessera_study::validate::parse_at_station("study.toml", &study_text, "registry")
                .unwrap();
        let with = |files: &str| {
            let text = format!("{}\n[life_tables]\nfiles = [{files}]\n", good());
            parse("station.toml", &text, &dir).unwrap()
        };
        let c = with("\"edited.csv\", \"pop.csv\"");
        let s = c.with_life_tables(&study).unwrap();
        assert_eq!(s.life_tables[0].file, dir.join("pop.csv"));
        let e = with("\"edited.csv\"").with_life_tables(&study).unwrap_err();
        assert!(e.contains("life table `population`"), "{e}");
        assert!(e.contains(&study.life_tables[0].sha256), "{e}");
        // Said at submission: the station's evaluation refuses the study.
        match with("\"edited.csv\"").evaluate(&study) {
            Decision::Refuse { reasons } => {
                assert!(
                    reasons.iter().any(|r| r.starts_with("life_tables: ")),
                    "{reasons:?}"
                )
            }
            other => panic!("{other:?}"),
        }
        // A station that writes no paths needs no table.
        let mut other = with("");
        other.name = "vital".into();
        assert!(other.with_life_tables(&study).is_ok());
        // A listed file that does not exist is refused when the configuration is read.
        let text = format!("{}\n[life_tables]\nfiles = [\"missing.csv\"]\n", good());
        assert!(parse("station.toml", &text, &dir)
            .unwrap_err()
            .to_string()
            .contains("[life_tables] field files"));
    }
}
