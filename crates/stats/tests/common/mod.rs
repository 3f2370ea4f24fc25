//! What the analysis tests share: opening the three compute parties' ends of an analysis as
//! a recipient would.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use tessera_mpc::output::reconstruct_shares;
use tessera_stats::analysis::{self, AnalysisSpec, Output, SharedOutput};
use tessera_stats::{PlainColumn, PlainData, PlainFrame, Result, Sealed, StatsError, Tail};

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
    let out = tessera_mpc::testing::run3(|p| {
        let frame = share_frame(p, plain)?;
        Ok(f(p, &frame).map_err(|e| e.to_string()))
    });
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

/// The workspace root (fixtures are read from there).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The named numeric columns of a CSV without quoting (other columns are ignored; every
/// value of the named ones must be present).
pub fn csv(path: &str, want: &[&str]) -> HashMap<String, Vec<f64>> {
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

/// A frame of `time`, `event` and (if any) a group column whose levels are its distinct
/// values in increasing order, labelled as integers (as R's `as.character`).
pub fn frame(time: &[f64], event: &[f64], group: Option<(&str, &[f64])>) -> PlainFrame {
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
pub struct Rng(pub u64);

impl Rng {
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
