//! The study, as read from `study.toml` and validated: the types the rest of tessera uses
//! (see `docs/study.md` for the file format, and [`crate::validate`] for the checks).

use std::path::PathBuf;

use tessera_link::keys::{Duplicates, KeyColumn, KeySpec};
use tessera_net::identity::Fingerprint;
use tessera_stats::followup::Followup;
use tessera_stats::relsurv::RelsurvSpec;
use tessera_stats::{AnalysisSpec, Disclosure, Schema};

use crate::locate::Source;

/// Fixed-point fractional bits when the study sets none.
pub const DEFAULT_FRAC_BITS: u32 = 24;

/// Tokens read as missing when a dataset declares none.
pub const DEFAULT_MISSING: [&str; 4] = ["", "NA", "NaN", "nan"];

/// A validated study.
#[derive(Clone, Debug)]
pub struct Study {
    /// The study file's text and name (to locate later errors).
    pub source: Source,
    /// Identifier (`[A-Za-z0-9._-]+`), mixed into the linkage digest.
    pub id: String,
    /// Optional human title.
    pub title: Option<String>,
    /// The unit of the study's time columns (`days`, `months`), for the report's axes; none
    /// when the study does not say.
    pub time_unit: Option<String>,
    /// Fixed-point fractional bits (16..=32).
    pub frac_bits: u32,
    /// `[study] few_rounds`: whether the compute parties spend bytes and computation to save
    /// communication rounds (`tessera_mpc::Party::few_rounds`: more pivots per sort pass,
    /// tie levels in one batched test), for stations between organisations, milliseconds
    /// apart. None: only when the run adds latency itself (`--latency-ms`).
    pub few_rounds: Option<bool>,
    /// Every station taking part, in file order.
    pub parties: Vec<PartySpec>,
    /// The data parties' datasets, in the order of `[parties]`: the order in which they are
    /// shared and joined, and of the linked table's columns.
    pub data: Vec<DataSpec>,
    /// The linkage key; `None` only with one data party.
    pub linkage: Option<LinkageSpec>,
    /// `[followup.NAME]`: follow-up times and events derived inside MPC from date columns
    /// after the linkage (columns `NAME.time`, `NAME.event`), in file order.
    pub followups: Vec<Followup>,
    /// `[life_tables.NAME]`: the public population life tables of relative survival
    /// analyses, each pinned by its SHA-256, in file order.
    pub life_tables: Vec<LifeTableSpec>,
    /// Disclosure rules.
    pub disclosure: Disclosure,
    /// `[disclosure] counts`: whether the recipients of a run across stations see each data
    /// station's row count (every station's policy must allow it; see
    /// [`crate::counts`]). Off by default: they see the linked table's size only.
    pub counts: bool,
    /// Who may receive results, in file order.
    pub recipients: Vec<RecipientSpec>,
    /// The analyses, in file order.
    pub analyses: Vec<AnalysisEntry>,
}

impl Study {
    /// The party called `name`.
    pub fn party(&self, name: &str) -> Option<&PartySpec> {
        self.parties.iter().find(|p| p.name == name)
    }

    /// The declared column `r` (`party.column`), if any.
    pub fn column(&self, r: &str) -> Option<&ColumnSpec> {
        let (party, col) = r.split_once('.')?;
        self.data.iter().find(|d| d.party == party)?.column(col)
    }

    /// The follow-up whose derived column (`NAME.time` or `NAME.event`) is `r`, if any.
    pub fn derived(&self, r: &str) -> Option<&Followup> {
        self.followups
            .iter()
            .find(|f| f.time_column() == r || f.event_column() == r)
    }

    /// The number of levels of column `r` if it is a declared categorical column.
    pub fn levels(&self, r: &str) -> Option<usize> {
        match &self.column(r)?.kind {
            ColumnType::Categorical { levels } => Some(levels.len()),
            _ => None,
        }
    }

    /// The relative survival analyses whose paths party `party` writes (it holds their age,
    /// diagnosis date and sex), one per distinct path.
    pub fn paths_of(&self, party: &str) -> Vec<&RelsurvSpec> {
        let mut out: Vec<&RelsurvSpec> = Vec::new();
        for a in &self.analyses {
            if let AnalysisSpec::Relsurv(s) = &a.spec {
                if s.owner() == party && !out.iter().any(|o| o.path_prefix() == s.path_prefix()) {
                    out.push(s);
                }
            }
        }
        out
    }

    /// `party.column` names and schemas of the columns data party `d` shares: its declared
    /// columns, then the path columns it writes for relative survival ([`Study::paths_of`]).
    pub fn schema(&self, d: &DataSpec) -> Vec<(String, Schema)> {
        let mut v = d.schema();
        for s in self.paths_of(&d.party) {
            v.extend(
                s.path_column_names()
                    .into_iter()
                    .map(|n| (n, Schema::Numeric)),
            );
        }
        v
    }

    /// The life table called `name`.
    pub fn life_table(&self, name: &str) -> Option<&LifeTableSpec> {
        self.life_tables.iter().find(|t| t.name == name)
    }

    /// Whether a run spends bytes to save rounds: the study's `few_rounds`, else `latency`:
    /// whether the run's links have a network latency (a run between stations always; a
    /// local run when it adds latency to its links). The same at every compute party, since it
    /// decides the protocols' shape: the study's text is agreed, and a run across stations
    /// binds the choice into its session ([`crate::distributed::run_session`]), so stations
    /// that disagree refuse each other instead of computing out of step.
    pub fn few_rounds(&self, latency: bool) -> bool {
        self.few_rounds.unwrap_or(latency)
    }

    /// The names of the three compute parties, by slot.
    pub fn compute_parties(&self) -> [&str; 3] {
        let mut out = [""; 3];
        for p in &self.parties {
            if let Some(c) = p.compute {
                out[c] = &p.name;
            }
        }
        out
    }

    /// The study's canonical digest: SHA-256 of its exact text (as submitted, byte for
    /// byte), in lowercase hex. Stations compare digests before anything runs, and the
    /// computation's session ([`crate::distributed::session`]) is derived from it, so two
    /// stations holding different texts under one id never compute together.
    pub fn digest(&self) -> String {
        text_digest(&self.source.text)
    }

    /// The linkage key as [`tessera_link`] takes it, with the study id as context; `None`
    /// without a `[linkage]` table.
    pub fn key_spec(&self) -> Option<KeySpec> {
        self.linkage.as_ref().map(|l| KeySpec {
            columns: l.key.clone(),
            duplicates: l.duplicates,
            context: self.id.clone(),
        })
    }
}

/// SHA-256 of a study's text in lowercase hex: [`Study::digest`] for a text at hand (a
/// station's stored copy).
pub fn text_digest(text: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A station taking part in the study.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartySpec {
    /// Name (`[a-z0-9_]+`).
    pub name: String,
    /// Compute slot 0, 1 or 2; `None` for an outside data party.
    pub compute: Option<usize>,
    /// `host:port` where the station listens (for runs across machines; unused locally).
    pub address: Option<String>,
    /// SHA-256 fingerprint of the station's certificate (for TLS; unused locally).
    pub fingerprint: Option<Fingerprint>,
}

/// The declared type of a data column: the same declaration a data source reads by
/// ([`tessera_sources::ColumnKind`]).
pub use tessera_sources::ColumnKind as ColumnType;

/// The public schema of a column of this type in the shared table (a date is shared as a
/// number: whole days since 1970-01-01).
pub fn schema_of(kind: &ColumnType) -> Schema {
    match kind {
        ColumnType::Numeric { .. } | ColumnType::Binary | ColumnType::Date { .. } => {
            Schema::Numeric
        }
        ColumnType::Categorical { levels } => Schema::Categorical(levels.clone()),
    }
}

/// A column a data party shares.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnSpec {
    /// Column name in the dataset (the header of the CSV file).
    pub name: String,
    /// Its type.
    pub kind: ColumnType,
}

/// A data party's dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSpec {
    /// The owning party.
    pub party: String,
    /// The file as written in the study (relative to the study file's folder).
    pub file_name: String,
    /// The file's path (the study file's folder joined with `file_name`).
    pub file: PathBuf,
    /// Its columns forming the linkage key, in the order of `[linkage].key`.
    pub key: Vec<String>,
    /// Values read as missing, by the local runner only: a station reads its sources with
    /// its own configuration, and refuses a study that sets them.
    pub missing: Vec<String>,
    /// Field delimiter (one ASCII character), for the local runner only (as `missing`).
    pub delimiter: u8,
    /// The columns read and shared, in file order.
    pub columns: Vec<ColumnSpec>,
}

impl DataSpec {
    /// The declared column `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// `party.column` names and schemas of the shared columns, in order.
    pub fn schema(&self) -> Vec<(String, Schema)> {
        self.columns
            .iter()
            .map(|c| (format!("{}.{}", self.party, c.name), schema_of(&c.kind)))
            .collect()
    }
}

/// A public population life table (`[life_tables.NAME]`): expected mortality by sex,
/// calendar year and age, as a CSV file (`tessera_stats::relsurv::table`). Only the station
/// holding the patients' age, diagnosis date and sex reads it (to write their paths); the
/// study pins its exact bytes, so every station and recipient knows which table was used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifeTableSpec {
    /// Name (`[a-z0-9_]+`), as analyses refer to it.
    pub name: String,
    /// The file as written in the study (relative to the study file's folder).
    pub file_name: String,
    /// The file's path: the study file's folder joined with `file_name`; at a station, the
    /// station's own copy (`[life_tables]` of station.toml, found by its digest).
    pub file: PathBuf,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
}

/// How records are linked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkageSpec {
    /// Key components (names are those of `[linkage].key`), with their normalisation.
    pub key: Vec<KeyColumn>,
    /// Rule for duplicate keys within one party.
    pub duplicates: Duplicates,
    /// `keep = "party"`: keep every row of this data party (a left join): the other
    /// parties' columns are missing where they hold no record of the person. None: only
    /// persons every data party holds (the inner join).
    pub keep: Option<String>,
}

/// A result recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientSpec {
    /// Name.
    pub name: String,
    /// Fingerprint of the recipient's certificate, for delivery across machines.
    pub fingerprint: Option<Fingerprint>,
}

/// One `[[analysis]]` of the study.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalysisEntry {
    /// Unique name.
    pub name: String,
    /// Recipients of its result.
    pub recipients: Vec<String>,
    /// What to compute.
    pub spec: AnalysisSpec,
}
