//! What the analysis tests share: opening the three compute parties' ends of an analysis as
//! a recipient would.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;
use tessera_mpc::output::reconstruct_shares;
use tessera_stats::analysis::{self, AnalysisSpec, Output, SharedOutput};
use tessera_stats::{
    Disclosure, PlainColumn, PlainData, PlainFrame, Result, Sealed, StatsError, Tail,
};

/// The three compute parties' ends of one analysis, opened into the recipient's result.
pub trait Open3: Sized + Send {
    /// What the recipient reads.
    type Out: PartialEq + std::fmt::Debug;
    /// Reconstructs and runs the tail; the parties' public facts must agree.
    fn open3(parts: [Self; 3]) -> Result<Self::Out>;
}

impl<P: Tail + Send> Open3 for Sealed<P>
where
    P::Result: PartialEq + std::fmt::Debug,
{
    type Out = P::Result;
    fn open3(parts: [Self; 3]) -> Result<P::Result> {
        tessera_stats::open3(parts)
    }
}

/// An end of [`analysis::run`] with the spec it ran, opened by [`analysis::open`].
#[derive(Debug)]
pub struct Ran(pub AnalysisSpec, pub SharedOutput);

/// Pairs `analysis::run`'s end with its spec.
pub fn ran(spec: &AnalysisSpec, r: Result<SharedOutput>) -> Result<Ran> {
    Ok(Ran(spec.clone(), r?))
}

impl Open3 for Ran {
    type Out = Output;
    fn open3(parts: [Self; 3]) -> Result<Output> {
        let [a, b, c] = parts;
        if a.1.public != b.1.public || b.1.public != c.1.public || a.1.kind != c.1.kind {
            return Err(StatsError::Invalid(
                "the parties' public facts differ".into(),
            ));
        }
        let values = reconstruct_shares([&a.1.shares, &b.1.shares, &c.1.shares])
            .map_err(|e| StatsError::Invalid(e.to_string()))?;
        analysis::open(&a.0, &a.1.public, &values)
    }
}

/// `plain` shared by party 0 (an engine error is the error; any other is a test bug).
pub fn share_frame(
    p: &mut tessera_mpc::Party,
    plain: &PlainFrame,
) -> std::result::Result<tessera_stats::Frame, tessera_mpc::MpcError> {
    tessera_stats::Frame::share(p, 0, plain).map_err(|e| match e {
        StatsError::Mpc(m) => m,
        e => panic!("{e}"),
    })
}

/// Runs `f` on the frame shared by party 0, as the three parties; all must agree. Their
/// sealed ends are opened as the recipient would; an error is the parties' common refusal.
pub fn in_mpc<S: Open3>(
    plain: &tessera_stats::PlainFrame,
    f: impl Fn(&mut tessera_mpc::Party, &tessera_stats::Frame) -> std::result::Result<S, StatsError>
        + Sync,
) -> std::result::Result<S::Out, String> {
    in_mpc_with(None, plain, f)
}

/// [`in_mpc`] on parties with fixed PRF seeds (`tessera_mpc::testing::run3_seeded`): the
/// protocol's random choices (secret folds, splits, shuffles) are the same in every run.
#[allow(dead_code)]
pub fn in_mpc_seeded<S: Open3>(
    seed: u64,
    plain: &tessera_stats::PlainFrame,
    f: impl Fn(&mut tessera_mpc::Party, &tessera_stats::Frame) -> std::result::Result<S, StatsError>
        + Sync,
) -> std::result::Result<S::Out, String> {
    in_mpc_with(Some(seed), plain, f)
}

fn in_mpc_with<S: Open3>(
    seed: Option<u64>,
    plain: &tessera_stats::PlainFrame,
    f: impl Fn(&mut tessera_mpc::Party, &tessera_stats::Frame) -> std::result::Result<S, StatsError>
        + Sync,
) -> std::result::Result<S::Out, String> {
    let job = |p: &mut tessera_mpc::Party| {
        let frame = share_frame(p, plain)?;
        Ok(f(p, &frame).map_err(|e| e.to_string()))
    };
    let out = match seed {
        Some(seed) => tessera_mpc::testing::run3_seeded(seed, job),
        None => tessera_mpc::testing::run3(job),
    };
    let [a, b, c] = out.map(|r| r.expect("no engine error"));
    match (a, b, c) {
        (Ok(x), Ok(y), Ok(z)) => Open3::open3([x, y, z]).map_err(|e| e.to_string()),
        (a, b, c) => {
            let e = |r: &std::result::Result<S, String>| r.as_ref().err().cloned();
            assert_eq!(e(&a), e(&b), "parties 0 and 1 disagree");
            assert_eq!(e(&b), e(&c), "parties 1 and 2 disagree");
            Err(e(&a).expect("an error"))
        }
    }
}

/// The repository's root (fixtures are read from there).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A simple CSV (no quoting in the fixtures) as columns of optional numbers.
pub fn csv(path: &str) -> HashMap<String, Vec<Option<f64>>> {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|h| h.trim_matches('"').to_string())
        .collect();
    let mut cols: HashMap<String, Vec<Option<f64>>> =
        header.iter().map(|h| (h.clone(), Vec::new())).collect();
    for line in lines.filter(|l| !l.is_empty()) {
        for (h, v) in header.iter().zip(line.split(',')) {
            let v = v.trim_matches('"');
            let x = (!v.is_empty() && v != "NA").then(|| v.parse().unwrap());
            cols.get_mut(h).unwrap().push(x);
        }
    }
    cols
}

/// The data set's numeric columns (with `prio_group = min(prio, 3)` on rossi) and, for each
/// `(column, levels)`, a categorical `column_cat` with those levels (values compared as
/// numbers).
pub fn frame(dataset: &str, categorical: &[(&str, Vec<f64>)]) -> PlainFrame {
    let mut raw = csv(&format!("fixtures/data/{dataset}.csv"));
    if let Some(prio) = raw.get("prio").cloned() {
        let g = prio.iter().map(|v| v.map(|x| x.min(3.0))).collect();
        raw.insert("prio_group".into(), g);
    }
    let mut cols: Vec<PlainColumn> = raw
        .iter()
        .map(|(k, v)| PlainColumn {
            name: k.clone(),
            data: PlainData::Numeric(v.clone()),
        })
        .collect();
    for (c, levels) in categorical {
        let name = format!("{c}_cat");
        if cols.iter().any(|x| x.name == name) {
            continue;
        }
        cols.push(PlainColumn {
            name,
            data: PlainData::Categorical {
                levels: levels.iter().map(|l| l.to_string()).collect(),
                codes: raw[*c]
                    .iter()
                    .map(|x| x.map(|f| levels.iter().position(|&l| l == f).unwrap()))
                    .collect(),
            },
        });
    }
    PlainFrame::new(cols).unwrap()
}

/// A JSON array of numbers.
pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Disclosure control off (the fixtures' small cells are the point).
pub fn no_limits() -> Disclosure {
    Disclosure {
        min_cell: Some(0),
        min_events: 0,
        min_rows: 0,
        ..Disclosure::default()
    }
}

/// No suppression, and event times allowed.
pub fn event_time_rules() -> Disclosure {
    Disclosure {
        allow_event_times: true,
        ..no_limits()
    }
}

/// The Cox model [`random_frame`]'s columns make (`b.x`, `b.z`, `a.g`), unstratified, with
/// model-based standard errors.
pub fn random_cox(ties: tessera_stats::analysis::Ties) -> tessera_stats::analysis::CoxSpec {
    tessera_stats::analysis::CoxSpec {
        entry: None,
        time: "a.t".into(),
        event: "a.e".into(),
        covariates: vec!["b.x".into(), "b.z".into(), "a.g".into()],
        ties,
        max_steps: 50,
        conf_level: 0.95,
        strata: None,
        robust: false,
        zph: None,
        cluster: None,
        concordance: false,
    }
}

/// xorshift64*, deterministic.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Uniform in 0..k.
    pub fn below(&mut self, k: usize) -> usize {
        (self.uniform() * k as f64) as usize
    }
}

/// `n` rows: times rounded to whole units (many ties), three groups, `strata` strata of
/// which the last has no events, a numeric covariate `x`, a binary `z`, a few missing values.
pub fn random_frame(n: usize, strata: usize, seed: u64) -> PlainFrame {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let (mut t, mut e, mut x, mut z, mut g, mut s) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let st = r.below(strata);
        let grp = r.below(3);
        let xi = r.uniform() * 4.0 - 2.0;
        let zi = r.below(2) as f64;
        let hazard = (0.4 * xi - 0.5 * zi + 0.3 * grp as f64 + 0.5 * st as f64).exp();
        let time = (-r.uniform().ln() / hazard * 10.0).ceil().min(40.0);
        let event = st + 1 != strata && r.uniform() < 0.7;
        t.push(Some(time));
        e.push(Some(f64::from(u8::from(event))));
        x.push((r.below(25) != 0).then_some(xi));
        z.push(Some(zi));
        g.push(Some(grp));
        s.push((r.below(30) != 0).then_some(st));
    }
    let names: Vec<String> = (0..strata).map(|i| format!("s{i}")).collect();
    PlainFrame::new(vec![
        PlainColumn {
            name: "a.t".into(),
            data: PlainData::Numeric(t),
        },
        PlainColumn {
            name: "a.e".into(),
            data: PlainData::Numeric(e),
        },
        PlainColumn {
            name: "b.x".into(),
            data: PlainData::Numeric(x),
        },
        PlainColumn {
            name: "b.z".into(),
            data: PlainData::Numeric(z),
        },
        PlainColumn {
            name: "a.g".into(),
            data: PlainData::Categorical {
                levels: vec!["u".into(), "v".into(), "w".into()],
                codes: g,
            },
        },
        PlainColumn {
            name: "a.s".into(),
            data: PlainData::Categorical {
                levels: names,
                codes: s,
            },
        },
    ])
    .unwrap()
}

/// The named numeric columns of a CSV without quoting (other columns are ignored; every
/// value of the named ones must be present).
pub fn csv_columns(path: &str, want: &[&str]) -> HashMap<String, Vec<f64>> {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let idx: Vec<usize> = want
        .iter()
        .map(|w| header.iter().position(|h| h == w).unwrap())
        .collect();
    let mut cols: HashMap<String, Vec<f64>> =
        want.iter().map(|w| (w.to_string(), Vec::new())).collect();
    for line in lines.filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        for (w, &i) in want.iter().zip(&idx) {
            cols.get_mut(*w).unwrap().push(f[i].parse().unwrap());
        }
    }
    cols
}

/// R's lung data (`fixtures/data/lung.csv`) as [`time_event_frame`] of time, status and the
/// group `sex` (levels "1", "2").
pub fn lung_by_sex() -> PlainFrame {
    let data = csv_columns("fixtures/data/lung.csv", &["time", "status", "sex"]);
    time_event_frame(
        &data["time"],
        &data["status"],
        Some(("sex", data["sex"].as_slice())),
    )
}

/// A frame of `time`, `event` and (if any) a group column whose levels are its distinct
/// values in increasing order, labelled as integers (as R's `as.character`).
pub fn time_event_frame(time: &[f64], event: &[f64], group: Option<(&str, &[f64])>) -> PlainFrame {
    let mut cols = vec![
        PlainColumn::numeric("time", time),
        PlainColumn::numeric("event", event),
    ];
    if let Some((name, g)) = group {
        let mut vals: Vec<f64> = g.to_vec();
        vals.sort_by(f64::total_cmp);
        vals.dedup();
        cols.push(PlainColumn {
            name: name.to_string(),
            data: PlainData::Categorical {
                levels: vals.iter().map(|v| format!("{}", *v as i64)).collect(),
                codes: g
                    .iter()
                    .map(|x| Some(vals.iter().position(|v| v == x).unwrap()))
                    .collect(),
            },
        });
    }
    PlainFrame::new(cols).unwrap()
}

/// A small deterministic generator (xorshift) for random data sets.
pub struct XorRng(pub u64);

impl XorRng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform below `n` (nearly).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A fixture's Cox case as a spec (keys `duration`, `event`, `covariates`, `ties`, and
/// optionally `strata_column`: the strata as the `_cat` column [`frame`] adds, `entry`, the
/// delayed entry column, and `cluster`, the robust errors' cluster column); model-based
/// standard errors, no proportional-hazards test.
pub fn cox_case(c: &Value) -> tessera_stats::analysis::CoxSpec {
    use tessera_stats::analysis::{CoxSpec, Ties};
    CoxSpec {
        entry: c["entry"].as_str().map(str::to_string),
        time: c["duration"].as_str().unwrap().into(),
        event: c["event"].as_str().unwrap().into(),
        covariates: c["covariates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect(),
        ties: if c["ties"] == "efron" {
            Ties::Efron
        } else {
            Ties::Breslow
        },
        max_steps: 50,
        conf_level: 0.95,
        strata: c["strata_column"].as_str().map(|s| format!("{s}_cat")),
        robust: false,
        zph: None,
        cluster: c["cluster"].as_str().map(str::to_string),
        concordance: false,
    }
}

/// A curve fixture's case (keys `data`, `time`, `event`, optional `group`: columns of a CSV
/// under the repository) as a frame of `time`, `event` and the group; with the group's name.
pub fn curve_case(a: &Value) -> (PlainFrame, Option<&str>) {
    let (time, event) = (a["time"].as_str().unwrap(), a["event"].as_str().unwrap());
    let group = a["group"].as_str();
    let mut want = vec![time, event];
    want.extend(group);
    let data = csv_columns(a["data"].as_str().unwrap(), &want);
    let f = time_event_frame(
        &data[time],
        &data[event],
        group.map(|g| (g, data[g].as_slice())),
    );
    (f, group)
}

/// The fixture's CSV as numeric columns, plus `<c>_cat` (levels "0", "1") for `cats`.
pub fn csv_frame(file: &str, cats: &[&str]) -> PlainFrame {
    let raw = csv(file);
    let mut cols: Vec<PlainColumn> = raw
        .iter()
        .map(|(k, v)| PlainColumn {
            name: k.clone(),
            data: PlainData::Numeric(v.clone()),
        })
        .collect();
    for c in cats {
        cols.push(PlainColumn {
            name: format!("{c}_cat"),
            data: PlainData::Categorical {
                levels: vec!["0".into(), "1".into()],
                codes: raw[*c].iter().map(|x| x.map(|f| f as usize)).collect(),
            },
        });
    }
    PlainFrame::new(cols).unwrap()
}

/// A frame of numeric columns, each given by name and values.
#[allow(dead_code)]
pub fn numeric_frame(cols: Vec<(&str, Vec<Option<f64>>)>) -> PlainFrame {
    PlainFrame::new(
        cols.into_iter()
            .map(|(name, v)| tessera_stats::PlainColumn {
                name: name.into(),
                data: tessera_stats::PlainData::Numeric(v),
            })
            .collect(),
    )
    .unwrap()
}
