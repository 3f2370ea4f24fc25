//! Reading and checking a study file. Every error names the file, line and column and the
//! field (`study.toml:23:8: analysis "cox" field covariates: no column "bmi" in
//! data.gp.columns`).
//!
//! The file is parsed once into TOML's spanned tree; each section is deserialised from its
//! own subtree (so serde's errors keep their positions, and unknown keys are refused
//! everywhere), then the cross-references are checked: compute slots, data parties and
//! their datasets, linkage key lengths, recipients, and every `party.column` an analysis or
//! a disclosure rule names, with its type where the analysis needs one.

use std::collections::HashSet;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use tessera_link::keys::{DateOrder, Duplicates, KeyColumn, Norm};
use tessera_net::identity::{parse_fingerprint, Fingerprint};
use tessera_stats::followup::{Followup, Unit};
use tessera_stats::{AnalysisSpec, Disclosure};
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use crate::error::{Result, StudyError};
use crate::format::*;
use crate::limits::{self, Limits};
use crate::locate::{keys, Seg, Source};
use crate::overlap;

/// Reads and validates the study file at `path` (the datasets' existence is checked, their
/// contents are read later by [`crate::data::load`]).
pub fn load(path: &Path) -> Result<Study> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| StudyError::Invalid(format!("{name}: cannot read the study file: {e}")))?;
    let dir = path.parent().unwrap_or(Path::new(""));
    parse(&name, &text, dir)
}

/// Validates a study file's text; `name` is used in messages, `dir` is the folder that
/// dataset paths are relative to.
pub fn parse(name: &str, text: &str, dir: &Path) -> Result<Study> {
    check(name, text, dir, None, true)
}

/// [`load`] at station `me`: the same checks, but only `me`'s dataset must exist here (the
/// other parties' files are on their machines).
pub fn load_at(path: &Path, me: &str) -> Result<Study> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| StudyError::Invalid(format!("{name}: cannot read the study file: {e}")))?;
    let dir = path.parent().unwrap_or(Path::new(""));
    parse_at(&name, &text, dir, me)
}

/// [`parse`] at station `me` (see [`load_at`]).
pub fn parse_at(name: &str, text: &str, dir: &Path, me: &str) -> Result<Study> {
    check(name, text, dir, Some(me), true)
}

/// [`parse`] at the station service of `me`: as [`parse_at`], but `me`'s `[data.me] file`
/// names one of the station's configured sources rather than a file (the station maps it
/// to a CSV or Parquet file or a PostgreSQL query, and checks it against its policy), so no
/// file is looked for. How a station reads its data is its steward's configuration: a study
/// that sets `missing` or `delimiter` for any data party is refused here, naming the field
/// and where the steward sets it (`[sources.NAME]` of `station.toml`).
pub fn parse_at_station(name: &str, text: &str, me: &str) -> Result<Study> {
    check(name, text, Path::new(""), Some(me), false)
}

/// Parses `text` and runs every check (see [`Checker`]'s fields for `local` and `own_file`).
fn check(name: &str, text: &str, dir: &Path, local: Option<&str>, own_file: bool) -> Result<Study> {
    let src = Source {
        name: name.to_string(),
        text: text.to_string(),
    };
    let root = DeTable::parse(text).map_err(|e| src.toml_error("", &e))?;
    Checker {
        src: &src,
        dir,
        local,
        own_file,
    }
    .study(root.get_ref())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    time_unit: Option<String>,
    #[serde(default)]
    frac_bits: Option<i64>,
    #[serde(default)]
    few_rounds: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParty {
    #[serde(default)]
    compute: Option<i64>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawData {
    file: String,
    #[serde(default)]
    key: Vec<String>,
    #[serde(default)]
    missing: Option<Vec<String>>,
    #[serde(default)]
    delimiter: Option<String>,
    // Read separately, element by element.
    #[allow(dead_code)]
    columns: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    min: Option<Bound>,
    #[serde(default)]
    max: Option<Bound>,
    #[serde(default)]
    levels: Option<Vec<Level>>,
}

/// A declared `min` or `max`: a number (numeric columns) or a date written `YYYY-MM-DD`
/// (date columns).
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum Bound {
    Number(f64),
    Date(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFollowup {
    start: String,
    event_date: String,
    #[serde(default)]
    censor_date: Option<String>,
    end: String,
    #[serde(default)]
    unit: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLifeTable {
    file: String,
    sha256: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Level {
    Text(String),
    Int(i64),
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum RawNorm {
    Trim,
    CollapseSpaces,
    RemoveSpaces,
    Casefold,
    DigitsOnly,
    StripLeadingZeros,
    Date,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::enum_variant_names)] // the names as written in the file
enum RawDateOrder {
    DayFirst,
    MonthFirst,
    YearFirst,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    name: String,
    #[serde(default)]
    normalise: Vec<RawNorm>,
    #[serde(default)]
    date_order: Option<RawDateOrder>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RawDuplicates {
    #[default]
    Refuse,
    KeepFirst,
    KeepLast,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLinkage {
    key: Vec<RawKey>,
    #[serde(default)]
    duplicates: RawDuplicates,
    #[serde(default)]
    keep: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDisclosure {
    #[serde(default)]
    min_cell: Option<u64>,
    #[serde(default)]
    min_rows: Option<u64>,
    #[serde(default)]
    min_level_rows: Option<u64>,
    #[serde(default)]
    min_events: Option<u64>,
    #[serde(default)]
    max_vars_per_row: Option<f64>,
    #[serde(default)]
    allowed_columns: Option<Vec<String>>,
    #[serde(default)]
    disallowed_columns: Vec<String>,
    #[serde(default)]
    allow_event_times: bool,
    #[serde(default)]
    allow_extremes: bool,
    #[serde(default)]
    counts: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecipient {
    #[serde(default)]
    fingerprint: Option<String>,
}

#[derive(Deserialize)]
struct RawAnalysisHead {
    name: String,
    #[serde(default)]
    recipients: Option<Vec<String>>,
}

/// What an analysis needs of a column.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Numeric or binary.
    Numeric,
    /// Categorical.
    Categorical,
    /// A date (the dates of a `[followup]`).
    Date,
    /// Any type but a date.
    Any,
    /// Any column at all (the column lists of `[disclosure]`).
    Listed,
}

/// The columns an analysis names: (field, index in a list field, reference, need).
fn column_refs(spec: &AnalysisSpec) -> Vec<(&'static str, Option<usize>, &str, Need)> {
    use Need::*;
    fn one<'a>(
        f: &'static str,
        c: &'a str,
        n: Need,
    ) -> (&'static str, Option<usize>, &'a str, Need) {
        (f, None, c, n)
    }
    fn list<'a>(
        f: &'static str,
        cs: &'a [String],
        n: Need,
    ) -> Vec<(&'static str, Option<usize>, &'a str, Need)> {
        cs.iter()
            .enumerate()
            .map(|(i, c)| (f, Some(i), c.as_str(), n))
            .collect()
    }
    // Model terms: every column inside a product or `num(...)`, at the term's index.
    fn terms(cs: &[String]) -> Vec<(&'static str, Option<usize>, &str, Need)> {
        cs.iter()
            .enumerate()
            .flat_map(|(i, c)| {
                tessera_stats::terms::columns(std::slice::from_ref(c))
                    .into_iter()
                    .map(move |r| ("covariates", Some(i), r, Any))
            })
            .collect()
    }
    let mut v = Vec::new();
    match spec {
        AnalysisSpec::KaplanMeier(s) => {
            v.push(one("time", &s.time, Numeric));
            v.push(one("event", &s.event, Numeric));
            if let Some(e) = &s.entry {
                v.push(one("entry", e, Numeric));
            }
            if let Some(g) = &s.group {
                v.push(one("group", g, Categorical));
            }
        }
        AnalysisSpec::Logrank(s) => {
            v.push(one("time", &s.time, Numeric));
            v.push(one("event", &s.event, Numeric));
            v.push(one("group", &s.group, Categorical));
            if let Some(st) = &s.strata {
                v.push(one("strata", st, Categorical));
            }
        }
        AnalysisSpec::Cox(s) => {
            v.push(one("time", &s.time, Numeric));
            v.push(one("event", &s.event, Numeric));
            if let Some(e) = &s.entry {
                v.push(one("entry", e, Numeric));
            }
            v.extend(terms(&s.covariates));
            if let Some(st) = &s.strata {
                v.push(one("strata", st, Categorical));
            }
            if let Some(c) = &s.cluster {
                v.push(one("cluster", c, Numeric));
            }
        }
        AnalysisSpec::Ols(s) => {
            v.push(one("outcome", &s.outcome, Numeric));
            v.extend(terms(&s.covariates));
        }
        AnalysisSpec::Logistic(s) => {
            v.push(one("outcome", &s.outcome, Numeric));
            v.extend(terms(&s.covariates));
        }
        AnalysisSpec::BoostedTrees(s) => {
            v.push(one("outcome", &s.outcome, Numeric));
            v.extend(terms(&s.covariates));
        }
        AnalysisSpec::Elasticnet(s) => {
            // Family cox names `time` and `event` instead of an outcome (the analysis'
            // own check refuses the wrong combination, naming the field).
            if !s.outcome.is_empty() || (s.time.is_none() && s.event.is_none()) {
                v.push(one("outcome", &s.outcome, Numeric));
            }
            if let Some(t) = &s.time {
                v.push(one("time", t, Numeric));
            }
            if let Some(e) = &s.event {
                v.push(one("event", e, Numeric));
            }
            v.extend(terms(&s.covariates));
        }
        AnalysisSpec::Describe(s) => {
            // `num(party.column)`: a categorical column read as numbers.
            v.extend(s.columns.iter().enumerate().map(|(i, c)| {
                let inner = c
                    .strip_prefix("num(")
                    .and_then(|r| r.strip_suffix(')'))
                    .map(str::trim);
                match inner {
                    Some(inner) => ("columns", Some(i), inner, Categorical),
                    None => ("columns", Some(i), c.as_str(), Numeric),
                }
            }));
            if let Some(g) = &s.group {
                v.push(one("group", g, Categorical));
            }
        }
        AnalysisSpec::Crosstab(s) => {
            v.push(one("rows", &s.rows, Categorical));
            v.push(one("columns", &s.columns, Categorical));
        }
        AnalysisSpec::Correlation(s) => v.extend(list("columns", &s.columns, Numeric)),
        AnalysisSpec::Cuminc(s) => {
            v.push(one("time", &s.time, Numeric));
            v.push(one("event", &s.event, Numeric));
            if let Some(g) = &s.group {
                v.push(one("group", g, Categorical));
            }
        }
        AnalysisSpec::Rmst(s) => {
            v.push(one("time", &s.time, Numeric));
            v.push(one("event", &s.event, Numeric));
            if let Some(g) = &s.group {
                v.push(one("group", g, Categorical));
            }
        }
        AnalysisSpec::Finegray(s) => {
            v.push(one("time", &s.time, Numeric));
            v.push(one("event", &s.event, Numeric));
            v.extend(terms(&s.covariates));
        }
        AnalysisSpec::Auc(s) => {
            v.push(one("outcome", &s.outcome, Numeric));
            v.push(one("score", &s.score, Numeric));
        }
        AnalysisSpec::Relsurv(s) => {
            v.push(one("time", &s.time, Numeric));
            v.push(one("event", &s.event, Numeric));
            if let Some(g) = &s.group {
                v.push(one("group", g, Categorical));
            }
            v.push(one("age", &s.age, Numeric));
            v.push(one("diagnosis_date", &s.diagnosis_date, Date));
            v.push(one("sex", &s.sex, Categorical));
        }
    }
    v
}

/// The sections of a study file, in the order they are written (the Python client builds
/// study files from dicts in this order).
pub const SECTIONS: [&str; 9] = [
    "study",
    "parties",
    "data",
    "linkage",
    "followup",
    "life_tables",
    "disclosure",
    "recipients",
    "analysis",
];

struct Checker<'a> {
    src: &'a Source,
    dir: &'a Path,
    /// At a station: only this party's dataset must be on this machine.
    local: Option<&'a str>,
    /// Whether this machine's dataset is a file that must exist (not so at the station
    /// service, where it names a configured source, and reading options are the station's).
    /// At the service, a study names stations only: a party's `address` is refused (each
    /// station configures its own computation endpoint).
    own_file: bool,
}

type Entries<'a, 'i> = Vec<(
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
)>;

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Checker<'_> {
    fn err(&self, p: &[Seg], msg: impl std::fmt::Display) -> StudyError {
        self.src.error_path(p, msg)
    }

    /// Deserialises `v` (found at `at` in the file). Errors keep TOML's span; where serde
    /// lost it (internally tagged enums buffer their input), an unknown field is located by
    /// its name and anything else at `v`.
    fn de<T: DeserializeOwned>(
        &self,
        ctx: &str,
        at: &[Seg],
        v: &Spanned<DeValue<'_>>,
    ) -> Result<T> {
        T::deserialize(ValueDeserializer::from(v.clone())).map_err(|e| {
            let msg = e.message().trim_end();
            let span = e.span().or_else(|| {
                let field = msg
                    .strip_prefix("unknown field `")
                    .and_then(|r| r.split_once('`'))
                    .map(|(f, _)| f);
                match field {
                    Some(f) => {
                        let mut p = at.to_vec();
                        p.push(Seg::from(f));
                        self.src.span(&p)
                    }
                    None => Some(v.span()),
                }
            });
            // Name the field whose value holds the error, when serde's message does not.
            let field = match (v.get_ref(), &span) {
                (DeValue::Table(t), Some(sp)) => t
                    .iter()
                    .find(|(_, fv)| fv.span().contains(&sp.start))
                    .map(|(k, _)| k.get_ref().to_string())
                    .filter(|k| !msg.contains(&format!("`{k}`"))),
                _ => None,
            };
            match field {
                Some(f) => self.src.error_at(span, format!("{ctx} field {f}: {msg}")),
                None => self.src.error_at(span, format!("{ctx}: {msg}")),
            }
        })
    }

    /// The entries of a table-valued section (empty when absent).
    fn table<'a, 'i>(&self, root: &'a DeTable<'i>, key: &str) -> Result<Entries<'a, 'i>> {
        match root.get(key) {
            None => Ok(Vec::new()),
            Some(v) => match v.get_ref() {
                DeValue::Table(t) => Ok(t.iter().collect()),
                _ => Err(self.err(&keys![key], format!("[{key}] must be a table"))),
            },
        }
    }

    fn fingerprint(&self, p: &[Seg], ctx: &str, text: &str) -> Result<Fingerprint> {
        let hex = text.strip_prefix("sha256:").ok_or_else(|| {
            self.err(
                p,
                format!("{ctx} field fingerprint: expected \"sha256:\" followed by 64 hex digits"),
            )
        })?;
        parse_fingerprint(hex).map_err(|e| self.err(p, format!("{ctx} field fingerprint: {e}")))
    }

    fn study(&self, root: &DeTable<'_>) -> Result<Study> {
        for (k, _) in root.iter() {
            if !SECTIONS.contains(&k.get_ref().as_ref()) {
                return Err(self.src.error_at(
                    Some(k.span()),
                    format!(
                        "unknown section `{}` (expected one of: {})",
                        k.get_ref(),
                        SECTIONS.join(", ")
                    ),
                ));
            }
        }
        let meta_v = root
            .get("study")
            .ok_or_else(|| self.err(&[], "missing section [study] (with its `id`)"))?;
        let meta: RawMeta = self.de("[study]", &keys!["study"], meta_v)?;
        let id_ok = !meta.id.is_empty()
            && meta.id.len() <= 128
            && meta
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !id_ok {
            return Err(self.err(
                &keys!["study", "id"],
                "[study] field id: use 1 to 128 of the characters A-Z a-z 0-9 . _ -",
            ));
        }
        if let Some(u) = &meta.time_unit {
            if u.trim().is_empty() || u.chars().count() > 32 || u.chars().any(char::is_control) {
                return Err(self.err(
                    &keys!["study", "time_unit"],
                    "[study] field time_unit: use 1 to 32 characters, no control characters",
                ));
            }
        }
        let frac_bits = match meta.frac_bits {
            None => DEFAULT_FRAC_BITS,
            Some(f) if (16..=32).contains(&f) => f as u32,
            Some(_) => {
                return Err(self.err(
                    &keys!["study", "frac_bits"],
                    "[study] field frac_bits: must be between 16 and 32",
                ))
            }
        };

        let parties = self.parties(root)?;
        let linkage = self.linkage(root)?;
        let data = self.data(root, &parties, linkage.as_ref())?;
        if let Some(keep) = linkage.as_ref().and_then(|l| l.keep.as_deref()) {
            if !data.iter().any(|d| d.party == keep) {
                let have: Vec<&str> = data.iter().map(|d| d.party.as_str()).collect();
                return Err(self.err(
                    &keys!["linkage", "keep"],
                    format!(
                        "[linkage] field keep: `{keep}` is not a data party (data parties: {})",
                        have.join(", ")
                    ),
                ));
            }
        }
        let recipients = self.recipients(root)?;
        let mut study = Study {
            source: self.src.clone(),
            id: meta.id,
            title: meta.title,
            time_unit: meta.time_unit,
            frac_bits,
            few_rounds: meta.few_rounds,
            parties,
            data,
            linkage,
            followups: Vec::new(),
            life_tables: Vec::new(),
            disclosure: Disclosure::default(),
            counts: false,
            recipients,
            analyses: Vec::new(),
        };
        study.followups = self.followups(root, &study)?;
        study.life_tables = self.life_tables(root)?;
        (study.disclosure, study.counts) = self.disclosure(root, &study)?;
        study.analyses = self.analyses(root, &study)?;
        // Without `time_unit`, a study whose survival analyses all use one follow-up's time
        // is in that follow-up's unit (the report's axes say so).
        if study.time_unit.is_none() {
            let mut times = study.analyses.iter().filter_map(|a| a.spec.time_column());
            if let Some(first) = times.next() {
                let f = study.followups.iter().find(|f| f.time_column() == first);
                if let Some(f) = f.filter(|_| times.all(|t| t == first)) {
                    study.time_unit = Some(f.unit.name().to_string());
                }
            }
        }
        if let Some(e) = limits::excesses(&study, &Limits::DEFAULT)
            .into_iter()
            .next()
        {
            return Err(self.err(
                &e.path,
                format!("{}: {}, at most {} ({})", e.field, e.what, e.limit, e.rule),
            ));
        }
        if let Some(o) = overlap::overlaps(&study).into_iter().next() {
            return Err(self.err(&o.path, o.message));
        }
        Ok(study)
    }

    fn parties(&self, root: &DeTable<'_>) -> Result<Vec<PartySpec>> {
        let entries = self.table(root, "parties")?;
        let mut out: Vec<PartySpec> = Vec::new();
        let mut slots: [Option<String>; 3] = Default::default();
        for (k, v) in entries {
            let name = k.get_ref().to_string();
            let ctx = format!("[parties.{name}]");
            if !is_name(&name) {
                return Err(self.src.error_at(
                    Some(k.span()),
                    format!("party name `{name}`: use 1 to 64 of the characters a-z 0-9 _"),
                ));
            }
            let raw: RawParty = self.de(&ctx, &keys!["parties", &name], v)?;
            let compute = match raw.compute {
                None => None,
                Some(c @ 0..=2) => {
                    let c = c as usize;
                    if let Some(other) = &slots[c] {
                        return Err(self.err(
                            &keys!["parties", &name, "compute"],
                            format!("{ctx} field compute: slot {c} is already party `{other}`'s"),
                        ));
                    }
                    slots[c] = Some(name.clone());
                    Some(c)
                }
                Some(_) => {
                    return Err(self.err(
                        &keys!["parties", &name, "compute"],
                        format!("{ctx} field compute: must be 0, 1 or 2"),
                    ))
                }
            };
            if raw.address.is_some() && !self.own_file {
                return Err(self.err(
                    &keys!["parties", &name, "address"],
                    format!(
                        "parties.{name}.address: computation addresses are each station's own \
                         configuration (station.toml [compute]); remove it"
                    ),
                ));
            }
            if let Some(a) = &raw.address {
                if let Err(why) = check_address(a) {
                    return Err(self.err(
                        &keys!["parties", &name, "address"],
                        format!("{ctx} field address: {why}"),
                    ));
                }
            }
            let fingerprint = match &raw.fingerprint {
                None => None,
                Some(f) => {
                    Some(self.fingerprint(&keys!["parties", &name, "fingerprint"], &ctx, f)?)
                }
            };
            out.push(PartySpec {
                name,
                compute,
                address: raw.address,
                fingerprint,
            });
        }
        if let Some(missing) = (0..3).find(|&c| slots[c].is_none()) {
            return Err(self.err(
                &keys!["parties"],
                format!(
                    "[parties]: exactly three parties must have a compute slot (0, 1 and 2); \
                     no party has slot {missing}"
                ),
            ));
        }
        Ok(out)
    }

    fn linkage(&self, root: &DeTable<'_>) -> Result<Option<LinkageSpec>> {
        let Some(v) = root.get("linkage") else {
            return Ok(None);
        };
        let raw: RawLinkage = self.de("[linkage]", &keys!["linkage"], v)?;
        if raw.key.is_empty() {
            return Err(self.err(
                &keys!["linkage", "key"],
                "[linkage] field key: at least one key column",
            ));
        }
        let mut names = HashSet::new();
        let mut key = Vec::new();
        for (i, k) in raw.key.iter().enumerate() {
            let p = keys!["linkage", "key", i];
            if k.name.is_empty() || !names.insert(k.name.clone()) {
                return Err(self.err(
                    &p,
                    format!("[linkage] field key: name `{}` empty or repeated", k.name),
                ));
            }
            let has_date = k.normalise.contains(&RawNorm::Date);
            let order = match (has_date, k.date_order) {
                (true, None) => {
                    return Err(self.err(
                        &p,
                        format!(
                            "[linkage] key `{}` field date_order: required with the `date` step \
                             (day_first, month_first or year_first)",
                            k.name
                        ),
                    ))
                }
                (false, Some(_)) => {
                    return Err(self.err(
                        &p,
                        format!(
                        "[linkage] key `{}` field date_order: only meaningful with the `date` step",
                        k.name
                    ),
                    ))
                }
                (_, o) => match o {
                    Some(RawDateOrder::DayFirst) | None => DateOrder::DayFirst,
                    Some(RawDateOrder::MonthFirst) => DateOrder::MonthFirst,
                    Some(RawDateOrder::YearFirst) => DateOrder::YearFirstOnly,
                },
            };
            let steps: Vec<Norm> = k
                .normalise
                .iter()
                .map(|s| match s {
                    RawNorm::Trim => Norm::Trim,
                    RawNorm::CollapseSpaces => Norm::CollapseSpaces,
                    RawNorm::RemoveSpaces => Norm::RemoveSpaces,
                    RawNorm::Casefold => Norm::CaseFold,
                    RawNorm::DigitsOnly => Norm::DigitsOnly,
                    RawNorm::StripLeadingZeros => Norm::StripLeadingZeros,
                    RawNorm::Date => Norm::Date(order),
                })
                .collect();
            key.push(KeyColumn::new(&k.name, &steps));
        }
        let duplicates = match raw.duplicates {
            RawDuplicates::Refuse => Duplicates::Refuse,
            RawDuplicates::KeepFirst => Duplicates::KeepFirst,
            RawDuplicates::KeepLast => Duplicates::KeepLast,
        };
        Ok(Some(LinkageSpec {
            key,
            duplicates,
            keep: raw.keep,
        }))
    }

    fn data(
        &self,
        root: &DeTable<'_>,
        parties: &[PartySpec],
        linkage: Option<&LinkageSpec>,
    ) -> Result<Vec<DataSpec>> {
        let entries = self.table(root, "data")?;
        let mut found = Vec::new();
        for (k, v) in &entries {
            let name = k.get_ref().to_string();
            if !parties.iter().any(|p| p.name == name) {
                return Err(self.src.error_at(
                    Some(k.span()),
                    format!("[data.{name}]: no party `{name}` in [parties]"),
                ));
            }
            found.push((name, *v));
        }
        for p in parties.iter().filter(|p| p.compute.is_none()) {
            if !found.iter().any(|(n, _)| *n == p.name) {
                return Err(self.err(
                    &keys!["parties", &p.name],
                    format!(
                        "[parties.{}]: a party without a compute slot must be a data party, \
                         but there is no [data.{}]",
                        p.name, p.name
                    ),
                ));
            }
        }
        if found.is_empty() {
            return Err(self.err(&[], "at least one data party: no [data.NAME] table"));
        }
        if found.len() >= 2 && linkage.is_none() {
            return Err(self.err(
                &keys!["data"],
                "[linkage] is required with two or more data parties",
            ));
        }
        // Study order: the order of [parties].
        found.sort_by_key(|(n, _)| parties.iter().position(|p| p.name == *n));
        found
            .into_iter()
            .map(|(name, v)| self.dataset(&name, v, linkage))
            .collect()
    }

    fn dataset(
        &self,
        party: &str,
        v: &Spanned<DeValue<'_>>,
        linkage: Option<&LinkageSpec>,
    ) -> Result<DataSpec> {
        let ctx = format!("[data.{party}]");
        let raw: RawData = self.de(&ctx, &keys!["data", party], v)?;
        let at = |f: &str| keys!["data", party, f];
        if !self.own_file {
            // At a station service: the station reads its sources as its steward configured
            // them; a study choosing tokens or delimiters could drop chosen records (and so
            // learn from the counts that they exist) or mangle key columns.
            for (field, set, what) in [
                ("missing", raw.missing.is_some(), "missing-value tokens are"),
                ("delimiter", raw.delimiter.is_some(), "the CSV delimiter is"),
            ] {
                if set {
                    return Err(self.err(
                        &at(field),
                        format!(
                            "{ctx} field {field}: a station reads its data as its steward \
                             configured it; {what} set in the station's station.toml \
                             ([sources.NAME] {field}), not in a study submitted to a station \
                             (remove the field)"
                        ),
                    ));
                }
            }
        }
        let file = self.dir.join(&raw.file);
        let here = self.own_file && self.local.is_none_or(|me| me == party);
        if raw.file.is_empty() || (here && !file.is_file()) {
            return Err(self.err(
                &at("file"),
                format!("{ctx} field file: no file {}", file.display()),
            ));
        }
        if let Some(l) = linkage {
            if raw.key.len() != l.key.len() {
                return Err(self.err(
                    &at("key"),
                    format!(
                        "{ctx} field key: {} column(s) where [linkage].key has {}",
                        raw.key.len(),
                        l.key.len()
                    ),
                ));
            }
        }
        let delimiter = match raw.delimiter.as_deref() {
            None => b',',
            Some(d) if d.len() == 1 && d.is_ascii() && d != "\"" && d != "\n" => d.as_bytes()[0],
            Some(_) => {
                return Err(self.err(
                    &at("delimiter"),
                    format!("{ctx} field delimiter: one ASCII character (not a quote or newline)"),
                ))
            }
        };
        let missing = raw
            .missing
            .unwrap_or_else(|| DEFAULT_MISSING.iter().map(|s| s.to_string()).collect());
        let cols_v = match v.get_ref() {
            DeValue::Table(t) => t.get("columns").expect("deserialised above"),
            _ => unreachable!("deserialised as a table above"),
        };
        let DeValue::Table(cols_t) = cols_v.get_ref() else {
            return Err(self.err(
                &at("columns"),
                format!("{ctx} field columns: must be a table"),
            ));
        };
        let mut columns = Vec::new();
        for (ck, cv) in cols_t.iter() {
            let name = ck.get_ref().to_string();
            let cctx = format!("[data.{party}.columns] column `{name}`");
            if name.is_empty() || name.contains('.') {
                return Err(self.src.error_at(
                    Some(ck.span()),
                    format!("{cctx}: a column name must not be empty or contain a dot"),
                ));
            }
            let cp = keys!["data", party, "columns", &name];
            let raw: RawColumn = match cv.get_ref() {
                DeValue::String(s) => RawColumn {
                    kind: s.to_string(),
                    min: None,
                    max: None,
                    levels: None,
                },
                DeValue::Table(_) => self.de(&cctx, &cp, cv)?,
                _ => {
                    return Err(self.err(
                        &cp,
                        format!(
                        "{cctx}: a type (\"numeric\", \"binary\") or a table {{ type = ..., ... }}"
                    ),
                    ))
                }
            };
            let kind = self.column_type(&cp, &cctx, raw)?;
            columns.push(ColumnSpec { name, kind });
        }
        if columns.is_empty() {
            return Err(self.err(
                &at("columns"),
                format!("{ctx} field columns: no column declared"),
            ));
        }
        Ok(DataSpec {
            party: party.to_string(),
            file_name: raw.file,
            file,
            key: raw.key,
            missing,
            delimiter,
            columns,
        })
    }

    fn column_type(&self, p: &[Seg], ctx: &str, raw: RawColumn) -> Result<ColumnType> {
        let bad = |m: &str| self.err(p, format!("{ctx}: {m}"));
        match raw.kind.as_str() {
            "numeric" => {
                if raw.levels.is_some() {
                    return Err(bad("field levels: only for categorical columns"));
                }
                let number = |b: Option<Bound>, field: &str| match b {
                    None => Ok(None),
                    Some(Bound::Number(x)) => Ok(Some(x)),
                    Some(Bound::Date(_)) => Err(bad(&format!(
                        "field {field}: a number (dates are bounds of date columns only)"
                    ))),
                };
                let (min, max) = (number(raw.min, "min")?, number(raw.max, "max")?);
                if let (Some(a), Some(b)) = (min, max) {
                    if a > b {
                        return Err(bad("field min: larger than max"));
                    }
                }
                Ok(ColumnType::Numeric { min, max })
            }
            "date" => {
                if raw.levels.is_some() {
                    return Err(bad("field levels: only for categorical columns"));
                }
                let date = |b: Option<Bound>, field: &str| match b {
                    None => Ok(None),
                    Some(Bound::Date(t)) => tessera_sources::parse_date(&t)
                        .map(Some)
                        .ok_or_else(|| bad(&format!("field {field}: a date written YYYY-MM-DD"))),
                    Some(Bound::Number(_)) => Err(bad(&format!(
                        "field {field}: a date written YYYY-MM-DD, in quotes (\"1990-01-01\")"
                    ))),
                };
                let (min, max) = (date(raw.min, "min")?, date(raw.max, "max")?);
                if let (Some(a), Some(b)) = (min, max) {
                    if a > b {
                        return Err(bad("field min: later than max"));
                    }
                }
                Ok(ColumnType::Date { min, max })
            }
            "binary" => {
                if raw.levels.is_some() || raw.min.is_some() || raw.max.is_some() {
                    return Err(bad("a binary column takes no min, max or levels"));
                }
                Ok(ColumnType::Binary)
            }
            "categorical" => {
                if raw.min.is_some() || raw.max.is_some() {
                    return Err(bad("a categorical column takes no min or max"));
                }
                let levels: Vec<String> = raw
                    .levels
                    .ok_or_else(|| bad("field levels: required for a categorical column"))?
                    .into_iter()
                    .map(|l| match l {
                        Level::Text(s) => s,
                        Level::Int(i) => i.to_string(),
                    })
                    .collect();
                let distinct: HashSet<&String> = levels.iter().collect();
                if levels.len() < 2
                    || distinct.len() != levels.len()
                    || levels.iter().any(|l| l.trim() != l || l.is_empty())
                {
                    return Err(bad(
                        "field levels: at least two distinct, non-empty levels without surrounding spaces",
                    ));
                }
                Ok(ColumnType::Categorical { levels })
            }
            _ => Err(bad(
                "field type: one of \"numeric\", \"binary\", \"categorical\", \"date\"",
            )),
        }
    }

    fn recipients(&self, root: &DeTable<'_>) -> Result<Vec<RecipientSpec>> {
        let mut out = Vec::new();
        for (k, v) in self.table(root, "recipients")? {
            let name = k.get_ref().to_string();
            let ctx = format!("[recipients.{name}]");
            if !is_name(&name) {
                return Err(self.src.error_at(
                    Some(k.span()),
                    format!("recipient name `{name}`: use 1 to 64 of the characters a-z 0-9 _"),
                ));
            }
            let raw: RawRecipient = self.de(&ctx, &keys!["recipients", &name], v)?;
            let fingerprint = match &raw.fingerprint {
                None => None,
                Some(f) => {
                    Some(self.fingerprint(&keys!["recipients", &name, "fingerprint"], &ctx, f)?)
                }
            };
            out.push(RecipientSpec { name, fingerprint });
        }
        if out.is_empty() {
            return Err(self.err(
                &[],
                "at least one result recipient: no [recipients.NAME] table",
            ));
        }
        Ok(out)
    }

    /// The `[followup.NAME]` tables: names that are no party's (the derived columns are
    /// `NAME.time` and `NAME.event`, beside the parties' `party.column`), `start`,
    /// `event_date` and the optional `censor_date` distinct date columns, `end` a date,
    /// `unit` days, months or years.
    fn followups(&self, root: &DeTable<'_>, study: &Study) -> Result<Vec<Followup>> {
        let mut out = Vec::new();
        for (k, v) in self.table(root, "followup")? {
            let name = k.get_ref().to_string();
            let ctx = format!("[followup.{name}]");
            if !is_name(&name) {
                return Err(self.src.error_at(
                    Some(k.span()),
                    format!("follow-up name `{name}`: use 1 to 64 of the characters a-z 0-9 _"),
                ));
            }
            if study.party(&name).is_some() {
                return Err(self.src.error_at(
                    Some(k.span()),
                    format!(
                        "{ctx}: `{name}` is a party; name the follow-up otherwise (its columns \
                         are `{name}.time` and `{name}.event`)"
                    ),
                ));
            }
            let at = |f: &str| keys!["followup", &name, f];
            let raw: RawFollowup = self.de(&ctx, &keys!["followup", &name], v)?;
            let dates = [
                ("start", Some(&raw.start)),
                ("event_date", Some(&raw.event_date)),
                ("censor_date", raw.censor_date.as_ref()),
            ];
            for (i, (field, r)) in dates.iter().enumerate() {
                let Some(r) = r else { continue };
                let fctx = format!("{ctx} field {field}");
                self.column_ref(study, &at(field), &fctx, r, Need::Date)?;
                if let Some((other, _)) = dates[..i].iter().find(|(_, o)| *o == Some(*r)) {
                    return Err(self.err(&at(field), format!("{fctx}: the same column as {other}")));
                }
            }
            let end = tessera_sources::parse_date(&raw.end).ok_or_else(|| {
                self.err(
                    &at("end"),
                    format!("{ctx} field end: a date written YYYY-MM-DD (e.g. \"2024-12-31\")"),
                )
            })?;
            let unit = match raw.unit.as_deref() {
                None => Unit::Days,
                Some(u) => Unit::parse(u).ok_or_else(|| {
                    self.err(
                        &at("unit"),
                        format!("{ctx} field unit: one of \"days\", \"months\", \"years\""),
                    )
                })?,
            };
            // Two follow-ups of one event date that differ in their end (or censoring date)
            // would let their curves be differenced: the events between the two ends. Two of
            // the same start and event date differ only in what can be differenced. Both are
            // refused (rule `one_followup_per_dates`).
            for f in &out {
                let f: &Followup = f;
                let same_dates = f.start == raw.start && f.event_date == raw.event_date;
                let other_end = f.event_date == raw.event_date
                    && (f.end != end || f.censor_date != raw.censor_date);
                if same_dates || other_end {
                    return Err(self.err(
                        &at("event_date"),
                        format!(
                            "{ctx}: refused by rule one_followup_per_dates: [followup.{}] \
                             already reads `{}`{}; two follow-ups of the same dates, or of one \
                             event date with different end or censoring dates, would let their \
                             results be differenced (the events between the two ends); use one \
                             follow-up",
                            f.name,
                            raw.event_date,
                            if same_dates {
                                format!(" from `{}`", raw.start)
                            } else {
                                " with another end or censoring date".to_string()
                            }
                        ),
                    ));
                }
            }
            out.push(Followup {
                name,
                start: raw.start,
                event_date: raw.event_date,
                censor_date: raw.censor_date,
                end,
                unit,
            });
        }
        Ok(out)
    }

    /// A derived follow-up column `r` (of `f`) in an analysis' `field`: only as the time or
    /// event of a survival analysis (`NAME.time` as its time, `NAME.event` as its event),
    /// where its range is known to fit (times are below 10^7 days, far inside the range of
    /// the comparisons); nobody can check its values before they are computed.
    fn derived_use(&self, p: &[Seg], ctx: &str, f: &Followup, field: &str, r: &str) -> Result<()> {
        let fits = (field == "time" && r == f.time_column())
            || (field == "event" && r == f.event_column());
        if fits {
            return Ok(());
        }
        Err(self.err(
            p,
            format!(
                "{ctx}: `{r}` (derived by [followup.{}]) is used only as the {} of a survival \
                 analysis",
                f.name,
                if r == f.time_column() {
                    "time"
                } else {
                    "event"
                }
            ),
        ))
    }

    /// The `[life_tables.NAME]` tables: a name, a `file` (next to the study for the local
    /// runner, where it must exist and match; a station reads its own copy, found by the
    /// digest) and its `sha256` (64 hex digits).
    fn life_tables(&self, root: &DeTable<'_>) -> Result<Vec<LifeTableSpec>> {
        let mut out = Vec::new();
        for (k, v) in self.table(root, "life_tables")? {
            let name = k.get_ref().to_string();
            let ctx = format!("[life_tables.{name}]");
            if !is_name(&name) {
                return Err(self.src.error_at(
                    Some(k.span()),
                    format!("life table name `{name}`: use 1 to 64 of the characters a-z 0-9 _"),
                ));
            }
            let at = |f: &str| keys!["life_tables", &name, f];
            let raw: RawLifeTable = self.de(&ctx, &keys!["life_tables", &name], v)?;
            let sha = raw.sha256.to_ascii_lowercase();
            if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(self.err(
                    &at("sha256"),
                    format!(
                        "{ctx} field sha256: the file's SHA-256 as 64 hex digits (`sha256sum \
                         FILE` prints it)"
                    ),
                ));
            }
            let file = self.dir.join(&raw.file);
            if raw.file.is_empty() || (self.own_file && !file.is_file()) {
                return Err(self.err(
                    &at("file"),
                    format!("{ctx} field file: no file {}", file.display()),
                ));
            }
            let spec = LifeTableSpec {
                name: name.clone(),
                file_name: raw.file,
                file,
                sha256: sha,
            };
            if self.own_file {
                // The local runner reads it from here: a wrong file is refused now, with the
                // same words as when it is read.
                crate::lifetable::load(&spec).map_err(|e| self.err(&at("sha256"), e))?;
            }
            out.push(spec);
        }
        Ok(out)
    }

    /// A relative survival analysis' own rules: age, diagnosis date and sex of one station
    /// (the one that writes the paths, [`crate::lifetable`]), the sex levels among the sex
    /// column's, a declared life table, a follow-up in days, the grid.
    fn relsurv_fields(
        &self,
        study: &Study,
        i: usize,
        ctx: &str,
        s: &tessera_stats::relsurv::RelsurvSpec,
    ) -> Result<()> {
        let at = |f: &str| keys!["analysis", i, f];
        let party = |r: &str| r.split_once('.').map_or("", |(p, _)| p).to_string();
        let owner = party(&s.age);
        for (field, r) in [("diagnosis_date", &s.diagnosis_date), ("sex", &s.sex)] {
            if party(r) != owner {
                return Err(self.err(
                    &at(field),
                    format!(
                        "{ctx} field {field}: `{r}` is {}'s, but age `{}` is {owner}'s: age, \
                         diagnosis date and sex must come from one station, which writes each \
                         patient's expected mortality from them before sharing",
                        party(r),
                        s.age
                    ),
                ));
            }
        }
        let levels = match study.column(&s.sex).map(|c| &c.kind) {
            Some(ColumnType::Categorical { levels }) => levels.clone(),
            _ => Vec::new(),
        };
        for (which, l) in [
            ("male", &s.sex_levels.male),
            ("female", &s.sex_levels.female),
        ] {
            if !levels.iter().any(|x| x == l) {
                return Err(self.err(
                    &at("sex_levels"),
                    format!(
                        "{ctx} field sex_levels: {which} = \"{l}\" is not a level of `{}` \
                         (its levels: {})",
                        s.sex,
                        levels.join(", ")
                    ),
                ));
            }
        }
        if study.life_table(&s.life_table).is_none() {
            let have: Vec<&str> = study.life_tables.iter().map(|t| t.name.as_str()).collect();
            return Err(self.err(
                &at("life_table"),
                format!(
                    "{ctx} field life_table: no [life_tables.{}] in the study ({})",
                    s.life_table,
                    if have.is_empty() {
                        "it declares none".to_string()
                    } else {
                        format!("it declares {}", have.join(", "))
                    }
                ),
            ));
        }
        if let Some(f) = study.derived(&s.time) {
            if f.unit != Unit::Days {
                return Err(self.err(
                    &at("time"),
                    format!(
                        "{ctx} field time: [followup.{}] counts {}; relative survival needs \
                         days (the life table's rates are daily): set unit = \"days\"",
                        f.name,
                        f.unit.name()
                    ),
                ));
            }
        }
        if s.method == tessera_stats::relsurv::spec::Method::PoharPerme && study.frac_bits != 24 {
            return Err(self.err(
                &at("method"),
                format!(
                    "{ctx} field method: Pohar Perme runs at 24 fractional bits; the study sets \
                     frac_bits = {} (remove it)",
                    study.frac_bits
                ),
            ));
        }
        s.check().map_err(|e| {
            let m = e.to_string();
            let field = if m.contains("sex_levels") {
                "sex_levels"
            } else if m.contains("max_daily_rate") {
                "max_daily_rate"
            } else {
                "times"
            };
            self.err(&at(field), format!("{ctx} field {field}: {e}"))
        })
    }

    /// Checks a `party.column` reference; `need` is what the field requires.
    fn column_ref(&self, study: &Study, p: &[Seg], ctx: &str, r: &str, need: Need) -> Result<()> {
        if let Some(f) = study.derived(r) {
            if matches!(need, Need::Categorical | Need::Date) {
                return Err(self.err(
                    p,
                    format!(
                        "{ctx}: `{r}` is derived by [followup.{}] (a number), {} column is \
                         needed",
                        f.name,
                        if need == Need::Date {
                            "a date"
                        } else {
                            "a categorical"
                        }
                    ),
                ));
            }
            return Ok(());
        }
        let Some((party, col)) = r.split_once('.') else {
            return Err(self.err(p, format!("{ctx}: `{r}` is not of the form party.column")));
        };
        let Some(d) = study.data.iter().find(|d| d.party == party) else {
            return Err(self.err(p, format!("{ctx}: no data party \"{party}\" (in `{r}`)")));
        };
        let Some(c) = d.column(col) else {
            return Err(self.err(
                p,
                format!("{ctx}: no column \"{col}\" in data.{party}.columns"),
            ));
        };
        let is_date = matches!(c.kind, ColumnType::Date { .. });
        let date_fits = match need {
            Need::Listed => true,
            Need::Date => is_date,
            _ => !is_date,
        };
        if !date_fits {
            return Err(self.err(
                p,
                if is_date {
                    format!(
                        "{ctx}: `{r}` is a date column: dates are read only by [followup] \
                         (start, event_date), which derives a time and event from them"
                    )
                } else {
                    format!("{ctx}: `{r}` is {}, a date column is needed", c.kind.name())
                },
            ));
        }
        let fits = match need {
            Need::Any | Need::Date | Need::Listed => true,
            Need::Numeric => !matches!(c.kind, ColumnType::Categorical { .. }),
            Need::Categorical => matches!(c.kind, ColumnType::Categorical { .. }),
        };
        if !fits {
            let want = if need == Need::Categorical {
                "a categorical"
            } else {
                "a numeric or binary"
            };
            return Err(self.err(
                p,
                format!("{ctx}: `{r}` is {}, {want} column is needed", c.kind.name()),
            ));
        }
        Ok(())
    }

    /// A Fine–Gray model's causes: `causes` and `cause` as the analysis checks them
    /// (`cause` one of `1..=causes`), and a cause column whose declared range
    /// (`min`, `max`) allows codes outside `0..=causes` is refused (the computation would
    /// refuse its data).
    fn finegray_causes(
        &self,
        study: &Study,
        i: usize,
        ctx: &str,
        s: &tessera_stats::survival::FinegraySpec,
    ) -> Result<()> {
        if let Err(e) = tessera_stats::survival::finegray::check(s) {
            let field = if s.cause == 0 || s.cause > s.causes {
                "cause"
            } else {
                "causes"
            };
            return Err(self.err(
                &keys!["analysis", i, field],
                format!("{ctx} field {field}: {e}"),
            ));
        }
        let declared = s
            .event
            .split_once('.')
            .and_then(|(party, col)| study.data.iter().find(|d| d.party == party)?.column(col));
        if let Some(ColumnType::Numeric { min, max }) = declared.map(|c| &c.kind) {
            let k = f64::from(s.causes);
            if min.is_some_and(|m| m < 0.0) || max.is_some_and(|m| m > k) {
                return Err(self.err(
                    &keys!["analysis", i, "event"],
                    format!(
                        "{ctx} field event: `{}` is declared with values outside 0..={} (min \
                         {}, max {}): a cause code must be 0 (censored) or one of the causes \
                         1..={}; declare `causes` to cover every code",
                        s.event,
                        s.causes,
                        min.map_or("none".into(), |m| m.to_string()),
                        max.map_or("none".into(), |m| m.to_string()),
                        s.causes
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The syntax of a model's terms (`a.x:b.y`, `a.x*b.y`, `num(a.s)`), entry by entry,
    /// then of the whole list (a term written twice), before any column is looked up.
    fn model_terms(&self, at: &[Seg], ctx: &str, covs: &[String]) -> Result<()> {
        for (j, c) in covs.iter().enumerate() {
            if let Err(e) = tessera_stats::terms::expand(std::slice::from_ref(c)) {
                let mut p = at.to_vec();
                p.push(Seg::Index(j));
                return Err(self.err(&p, format!("{ctx} field covariates: {e}")));
            }
        }
        tessera_stats::terms::expand(covs)
            .map(|_| ())
            .map_err(|e| self.err(at, format!("{ctx} field covariates: {e}")))
    }

    /// The terms of `field` against the declared columns: `num(...)` only of a categorical
    /// column whose levels are all numbers, a categorical factor with at least two levels.
    fn term_levels(
        &self,
        study: &Study,
        at: &[Seg],
        ctx: &str,
        field: &str,
        covs: &[String],
    ) -> Result<()> {
        let levels = |r: &str| -> tessera_stats::Result<tessera_stats::terms::Levels> {
            Ok(match study.column(r).map(|c| &c.kind) {
                Some(ColumnType::Categorical { levels }) => Some(levels.clone()),
                _ => None,
            })
        };
        for (j, c) in covs.iter().enumerate() {
            let terms = tessera_stats::terms::expand(std::slice::from_ref(c))
                .map_err(|e| self.err(at, format!("{ctx} field {field}: {e}")))?;
            if let Err(e) = tessera_stats::terms::design_columns(&terms, &levels) {
                let mut p = at.to_vec();
                p.push(Seg::Index(j));
                return Err(self.err(&p, format!("{ctx} field {field}: `{c}`: {e}")));
            }
        }
        Ok(())
    }

    /// The `[disclosure]` rules, and its `counts` flag.
    fn disclosure(&self, root: &DeTable<'_>, study: &Study) -> Result<(Disclosure, bool)> {
        let raw: RawDisclosure = match root.get("disclosure") {
            None => RawDisclosure::default(),
            Some(v) => self.de("[disclosure]", &keys!["disclosure"], v)?,
        };
        let mut d = Disclosure {
            min_cell: raw.min_cell,
            ..Disclosure::default()
        };
        if let Some(v) = raw.min_rows {
            d.min_rows = v;
        }
        if let Some(v) = raw.min_level_rows {
            d.min_level_rows = v;
        }
        if let Some(v) = raw.min_events {
            d.min_events = v;
        }
        if let Some(v) = raw.max_vars_per_row {
            if !(v > 0.0 && v.is_finite()) {
                return Err(self.err(
                    &keys!["disclosure", "max_vars_per_row"],
                    "[disclosure] field max_vars_per_row: must be a positive number",
                ));
            }
            d.max_vars_per_row = v;
        }
        for (field, list) in [
            (
                "allowed_columns",
                raw.allowed_columns.as_deref().unwrap_or(&[]),
            ),
            ("disallowed_columns", &raw.disallowed_columns[..]),
        ] {
            for (i, r) in list.iter().enumerate() {
                let ctx = format!("[disclosure] field {field}");
                self.column_ref(study, &keys!["disclosure", field, i], &ctx, r, Need::Listed)?;
            }
        }
        d.allowed_columns = raw.allowed_columns;
        d.disallowed_columns = raw.disallowed_columns;
        d.allow_event_times = raw.allow_event_times;
        d.allow_extremes = raw.allow_extremes;
        Ok((d, raw.counts))
    }

    /// An analysis' own fields: `kind` picks the specification, whose fields are then read
    /// with their positions (deserialising the tagged enum directly would lose them).
    fn analysis_spec(&self, ctx: &str, i: usize, v: Spanned<DeValue<'_>>) -> Result<AnalysisSpec> {
        use tessera_stats::analysis::*;
        let at = keys!["analysis", i];
        let DeValue::Table(t) = v.get_ref() else {
            return Err(self.err(&at, format!("{ctx}: must be a table")));
        };
        let kind = t
            .get("kind")
            .and_then(|k| k.get_ref().as_str())
            .map(str::to_string);
        let mut own = t.clone();
        own.remove("kind");
        let own = Spanned::new(v.span(), DeValue::Table(own));
        Ok(match kind.as_deref() {
            Some("kaplan_meier") => AnalysisSpec::KaplanMeier(self.de(ctx, &at, &own)?),
            Some("logrank") => AnalysisSpec::Logrank(self.de(ctx, &at, &own)?),
            Some("cox") => AnalysisSpec::Cox(self.de::<CoxSpec>(ctx, &at, &own)?),
            Some("ols") => AnalysisSpec::Ols(self.de(ctx, &at, &own)?),
            Some("logistic") => AnalysisSpec::Logistic(self.de(ctx, &at, &own)?),
            Some("describe") => AnalysisSpec::Describe(self.de(ctx, &at, &own)?),
            Some("crosstab") => AnalysisSpec::Crosstab(self.de(ctx, &at, &own)?),
            Some("correlation") => AnalysisSpec::Correlation(self.de(ctx, &at, &own)?),
            Some("cuminc") => AnalysisSpec::Cuminc(self.de(ctx, &at, &own)?),
            Some("rmst") => AnalysisSpec::Rmst(self.de(ctx, &at, &own)?),
            Some("finegray") => AnalysisSpec::Finegray(self.de(ctx, &at, &own)?),
            Some("auc") => AnalysisSpec::Auc(self.de(ctx, &at, &own)?),
            Some("elasticnet") => AnalysisSpec::Elasticnet(self.de(ctx, &at, &own)?),
            Some("relsurv") => AnalysisSpec::Relsurv(self.de(ctx, &at, &own)?),
            Some("boosted_trees") => AnalysisSpec::BoostedTrees(self.de(ctx, &at, &own)?),
            // Anything else: serde's own message ("unknown variant ...", "invalid type").
            _ => self.de(ctx, &at, &v)?,
        })
    }

    fn analyses(&self, root: &DeTable<'_>, study: &Study) -> Result<Vec<AnalysisEntry>> {
        let items: Vec<&Spanned<DeValue<'_>>> = match root.get("analysis") {
            None => Vec::new(),
            Some(v) => match v.get_ref() {
                DeValue::Array(a) => a.iter().collect(),
                _ => {
                    return Err(self.err(
                        &keys!["analysis"],
                        "analysis: write each analysis as an [[analysis]] table",
                    ))
                }
            },
        };
        if items.is_empty() {
            return Err(self.err(&[], "at least one analysis: no [[analysis]] table"));
        }
        // Before reading them: a study of thousands of analyses is refused at once.
        let cap = Limits::DEFAULT.analyses;
        if items.len() > cap {
            return Err(self.err(
                &keys!["analysis", cap],
                format!(
                    "[[analysis]]: {} analyses, at most {cap} (max_analyses)",
                    items.len()
                ),
            ));
        }
        let mut out: Vec<AnalysisEntry> = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let ctx0 = format!("[[analysis]] number {}", i + 1);
            let DeValue::Table(t) = item.get_ref() else {
                return Err(self.err(&keys!["analysis", i], format!("{ctx0}: must be a table")));
            };
            // `name` and `recipients` are the study's; the rest is the analysis' own.
            let mut head_t = DeTable::new();
            let mut rest = t.clone();
            for k in ["name", "recipients"] {
                if let Some((kk, vv)) = rest.remove_entry(k) {
                    head_t.insert(kk, vv);
                }
            }
            let head: RawAnalysisHead = self.de(
                &ctx0,
                &keys!["analysis", i],
                &Spanned::new(item.span(), DeValue::Table(head_t)),
            )?;
            let ctx = format!("analysis \"{}\"", head.name);
            let at = |f: &str| keys!["analysis", i, f];
            if !is_name(&head.name) {
                return Err(self.err(
                    &at("name"),
                    format!("{ctx} field name: use 1 to 64 of the characters a-z 0-9 _"),
                ));
            }
            if out.iter().any(|a| a.name == head.name) {
                return Err(self.err(&at("name"), format!("{ctx} field name: used twice")));
            }
            let recipients = match head.recipients {
                None => study.recipients.iter().map(|r| r.name.clone()).collect(),
                Some(list) => {
                    for (j, r) in list.iter().enumerate() {
                        if !study.recipients.iter().any(|x| x.name == *r) {
                            return Err(self.err(
                                &keys!["analysis", i, "recipients", j],
                                format!(
                                    "{ctx} field recipients: no recipient \"{r}\" in [recipients]"
                                ),
                            ));
                        }
                    }
                    if list.is_empty() {
                        return Err(self.err(
                            &at("recipients"),
                            format!("{ctx} field recipients: at least one (or leave it out: every recipient)"),
                        ));
                    }
                    list
                }
            };
            if !rest.contains_key("kind") {
                return Err(self.err(
                    &keys!["analysis", i],
                    format!("{ctx}: missing field `kind` (kaplan_meier, logrank, cox, ols, logistic, describe, crosstab, correlation, cuminc, rmst, finegray, auc, elasticnet, relsurv, boosted_trees)"),
                ));
            }
            let spec =
                self.analysis_spec(&ctx, i, Spanned::new(item.span(), DeValue::Table(rest)))?;
            if let Err(e) = tessera_stats::ranges::check_params(&spec, study.frac_bits) {
                let mut p = at(e.field).to_vec();
                p.extend(e.index.map(Seg::Index));
                return Err(self.err(&p, format!("{ctx} field {e}")));
            }
            if let Some(covs) = spec.covariates() {
                self.model_terms(&keys!["analysis", i, "covariates"], &ctx, covs)?;
            }
            for (field, j, r, need) in column_refs(&spec) {
                let mut p = at(field).to_vec();
                p.extend(j.map(Seg::Index));
                self.column_ref(study, &p, &format!("{ctx} field {field}"), r, need)?;
                if let Some(f) = study.derived(r) {
                    self.derived_use(&p, &format!("{ctx} field {field}"), f, field, r)?;
                }
            }
            if let Some(covs) = spec.covariates() {
                self.term_levels(study, &at("covariates"), &ctx, "covariates", covs)?;
            }
            if let AnalysisSpec::Describe(s) = &spec {
                self.term_levels(study, &at("columns"), &ctx, "columns", &s.columns)?;
            }
            if let AnalysisSpec::Finegray(s) = &spec {
                self.finegray_causes(study, i, &ctx, s)?;
            }
            if let AnalysisSpec::Relsurv(s) = &spec {
                self.relsurv_fields(study, i, &ctx, s)?;
            }
            out.push(AnalysisEntry {
                name: head.name,
                recipients,
                spec,
            });
        }
        Ok(out)
    }
}

/// Checks the `host:port` form (a name or IPv4 address, or an IPv6 address in brackets).
fn check_address(a: &str) -> std::result::Result<(), String> {
    let (host, port) = a.rsplit_once(':').ok_or("expected host:port")?;
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(format!("port `{port}` is not a number between 1 and 65535")),
    }
    let ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        inner.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    };
    if ok {
        Ok(())
    } else {
        Err(format!("host `{host}` is not a host name or an IP address"))
    }
}
