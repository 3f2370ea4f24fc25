//! `tessera bench regression`: regressions on synthetic shared tables, by three processes
//! over loopback TCP (or TLS with `--tls`; `--latency-ms`/`--bandwidth-mbit` simulate a
//! wide-area network). Party 0 owns the table and secret-shares it (not timed); then each
//! repetition runs the whole analysis on the shared table as a study would (public checks,
//! row weights, moments, fit, sealing the result for the recipient) and is timed, with the
//! bytes and rounds it needed.
//!
//! Workloads (`--workloads`, default all):
//! - `logistic-10k`, `logistic-100k`: logistic regression to convergence, 10 numeric
//!   covariates (intercept: 11 model variables), 1% missing values in one covariate;
//! - `ols-1m`: least squares on 1,000,000 rows and 20 numeric covariates (21 variables),
//!   1% missing values in one covariate;
//! - `crosstab-1m`: the contingency table of two categorical columns (3 × 4 levels, 1%
//!   missing) on 1,000,000 rows, with its chi-square test;
//! - `auc-1m` (not run by default): the area under the ROC curve of a score (`x1`, 1%
//!   missing) against a 0/1 outcome on 1,000,000 rows, with DeLong's standard error;
//! - `enet-10k`, `enet-100k` (not run by default): the elastic net (lasso, gaussian) on 20
//!   numeric covariates, a path of 20 λ, 10-fold cross-validation; compared with the
//!   plaintext twin on the full-data path (the folds inside MPC are secret and random).
//! - `enet-logistic-10k`, `enet-logistic-100k` (not run by default): the same with family
//!   `binomial` (the logistic table's 0/1 outcome), the default schedule (2 Newton steps per
//!   λ, 4 sweeps each): the 10k workload with 10-fold cross-validation (the study's
//!   analysis), the 100k workload the full-data path alone
//!   ([`enet::mpc::elasticnet_path`], the target: 20 λ on 100,000 × 20; the
//!   cross-validation multiplies the Newton steps' cost by folds + 1). The plaintext twin
//!   runs the whole analysis with cross-validation in both.
//! - `enet-cox-10k`, `enet-cox-100k` (not run by default): the same with family `cox`
//!   (times and events drawn from a proportional-hazards model of the same covariates,
//!   whole time units, so with ties; uniform censoring), the default schedule (4 Newton
//!   steps per λ, 3 sweeps each): the 10k workload with 10-fold cross-validation, the 100k
//!   workload the full-data path alone.
//! - `enet-cox-c-1k`, `enet-cox-c-10k` (not run by default): the cox elastic net
//!   cross-validated by Harrell's C-index (`type_measure = "C"`), 10 folds.
//!
//! `tessera bench models` ([`super::models`]) runs the prediction-model workloads of this
//! list with R glmnet's time beside them.
//!
//! The orchestrator plays the recipient: it reconstructs the last repetition's result from
//! the three parties' output shares, then fits the same data with the plaintext twin (f64,
//! single thread) and prints the ratio, and the largest difference between the
//! reconstructed coefficients and the plaintext ones (a check, not a benchmark: the
//! fixtures test accuracy).

use std::time::Instant;

use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tessera_mpc::fixed::encode;
use tessera_mpc::Party;
use tessera_stats::analysis::{CrosstabSpec, LogisticSpec, OlsSpec};
use tessera_stats::describe::{self, CrosstabPublic};
use tessera_stats::predict::gbdt::{self, BoostedTreesPublic, BoostedTreesSpec, Objective};
use tessera_stats::predict::{self, AucPublic, AucSpec};
use tessera_stats::regression::enet::mpc::{ElasticNetPathPublic, ElasticNetPublic};
use tessera_stats::regression::enet::{self, ElasticNetSpec, Family, Measure};
use tessera_stats::regression::logistic::LogisticPublic;
use tessera_stats::regression::ols::OlsPublic;
use tessera_stats::regression::{logistic, ols, plain, Coefficient};
use tessera_stats::{
    Column, ColumnData, Disclosure, Frame, PlainColumn, PlainData, PlainFrame, Sealed, Tail,
};

use super::engine::median;
use super::party::{report_or_abort, ConnArgs, ShapeArgs};
use super::procs::{
    busiest, open_sealed, parse_reports, run_three, slowest, BenchIdentities, Rendezvous,
};

/// The workloads `tessera bench regression` knows, in the order they run.
pub const WORKLOADS: [&str; 16] = [
    "logistic-10k",
    "logistic-100k",
    "ols-1m",
    "crosstab-1m",
    "auc-1m",
    "enet-10k",
    "enet-100k",
    "enet-logistic-10k",
    "enet-logistic-100k",
    "enet-cox-10k",
    "enet-cox-100k",
    "enet-cox-c-1k",
    "enet-cox-c-10k",
    "gbdt-10k",
    "gbdt-100k",
    "gbdt-reg-10k",
];
/// The workloads run unless `--workloads` says otherwise.
const DEFAULT_WORKLOADS: [&str; 4] = ["logistic-10k", "logistic-100k", "ols-1m", "crosstab-1m"];

/// Options of the regression benchmark.
#[derive(Args, Debug)]
pub struct RegressionArgs {
    /// Workloads to run, comma-separated (logistic-10k, logistic-100k, ols-1m,
    /// crosstab-1m; also auc-1m, enet-10k, enet-100k, enet-logistic-10k,
    /// enet-logistic-100k, enet-cox-10k, enet-cox-100k, enet-cox-c-1k, enet-cox-c-10k,
    /// gbdt-10k, gbdt-100k, gbdt-reg-10k).
    #[arg(long, value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// Timed repetitions of each workload (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Scale every workload's row count by this factor (e.g. 0.1 for a quick run).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Print one JSON object (an entry per workload) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Receive timeout of each party, in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// Run the parties over mutually authenticated TLS 1.3 (fresh identities per run).
    #[arg(long)]
    pub tls: bool,
}

/// Arguments of one regression benchmark party (started by `tessera bench regression`).
#[derive(Args, Debug, Clone)]
pub struct RegressionPartyArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// Workloads to run.
    #[arg(long, value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// Timed repetitions.
    #[arg(long)]
    pub reps: usize,
    /// Row-count factor.
    #[arg(long)]
    pub scale: f64,
}

/// What one party measured for one workload.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct WorkloadReport {
    /// Workload name.
    pub name: String,
    /// Rows of the table.
    pub rows: usize,
    /// Model variables (intercept included).
    pub vars: usize,
    /// Seconds of each repetition.
    pub secs: Vec<f64>,
    /// Bytes this party sent in each repetition.
    pub bytes: Vec<u64>,
    /// Rounds of each repetition.
    pub rounds: Vec<u64>,
    /// Seconds party 0 spent secret-sharing the table (not in `secs`).
    pub share_secs: f64,
    /// Newton steps (logistic) or 0.
    pub iterations: usize,
    /// The public facts of the last repetition's sealed result.
    pub public: Value,
    /// This party's output shares of it ([`tessera_mpc::OutputShares::to_bytes`]).
    pub shares: Vec<u8>,
}

/// The recipient's view of the parties' ends of one workload: the coefficients (or the
/// chi-square of a table), from the reconstructed shares and the tail.
fn open_coef(s: Shape, per: &[&WorkloadReport]) -> Result<Vec<f64>, String> {
    let parts: Vec<(&Value, &[u8])> = per.iter().map(|r| (&r.public, &r.shares[..])).collect();
    Ok(if s.crosstab {
        vec![open_sealed::<CrosstabPublic>(&parts)?.chi2]
    } else if s.auc {
        let r = open_sealed::<AucPublic>(&parts)?;
        vec![r.auc, r.se]
    } else if s.gbdt {
        gbdt_figures(&open_sealed::<BoostedTreesPublic>(&parts)?)
    } else if s.path_only {
        open_sealed::<ElasticNetPathPublic>(&parts)?.path.concat()
    } else if s.enet {
        open_sealed::<ElasticNetPublic>(&parts)?.path.concat()
    } else if s.logistic {
        coefs(&open_sealed::<LogisticPublic>(&parts)?.coefficients)
    } else {
        coefs(&open_sealed::<OlsPublic>(&parts)?.coefficients)
    })
}

/// Everything one party reports.
#[derive(Serialize, Deserialize, Debug)]
pub struct RegressionReport {
    pub party: usize,
    pub workloads: Vec<WorkloadReport>,
}

/// The shape of a workload (flags not named are off: `Shape::default()`).
#[derive(Clone, Copy, Debug, Default)]
struct Shape {
    rows: usize,
    covariates: usize,
    logistic: bool,
    /// A contingency table instead of a regression.
    crosstab: bool,
    /// The AUC of `x1` against the 0/1 outcome instead of a regression.
    auc: bool,
    /// The elastic net instead of OLS (binomial with `logistic`, gaussian otherwise).
    enet: bool,
    /// The binomial or cox elastic net's full-data path alone, without cross-validation.
    path_only: bool,
    /// The cox elastic net (a survival outcome `time`, `event`).
    cox: bool,
    /// Cross-validation by Harrell's C-index (`type_measure = "C"`) instead of deviance.
    cindex: bool,
    /// Boosted trees (`boosted_trees`) instead of a regression: on the binary outcome with
    /// `logistic`, on the continuous one (`squared_error`) otherwise.
    gbdt: bool,
}

fn shape_of(name: &str, scale: f64) -> Result<Shape, String> {
    let rows = |n: usize| ((n as f64 * scale).round() as usize).max(100);
    match name {
        "logistic-10k" => Ok(Shape {
            rows: rows(10_000),
            covariates: 10,
            logistic: true,
            ..Shape::default()
        }),
        "logistic-100k" => Ok(Shape {
            rows: rows(100_000),
            covariates: 10,
            logistic: true,
            ..Shape::default()
        }),
        "ols-1m" => Ok(Shape {
            rows: rows(1_000_000),
            covariates: 20,
            ..Shape::default()
        }),
        "crosstab-1m" => Ok(Shape {
            rows: rows(1_000_000),
            covariates: 0,
            crosstab: true,
            ..Shape::default()
        }),
        "auc-1m" => Ok(Shape {
            rows: rows(1_000_000),
            covariates: 1,
            logistic: true,
            auc: true,
            ..Shape::default()
        }),
        "enet-10k" | "enet-100k" => Ok(Shape {
            rows: rows(if name == "enet-10k" { 10_000 } else { 100_000 }),
            covariates: 20,
            enet: true,
            ..Shape::default()
        }),
        "enet-logistic-10k" | "enet-logistic-100k" => Ok(Shape {
            rows: rows(if name == "enet-logistic-10k" {
                10_000
            } else {
                100_000
            }),
            covariates: 20,
            logistic: true,
            enet: true,
            // The target: the path of 20 λ on 100,000 × 20 (module docs).
            path_only: name == "enet-logistic-100k",
            ..Shape::default()
        }),
        "enet-cox-10k" | "enet-cox-100k" => Ok(Shape {
            rows: rows(if name == "enet-cox-10k" {
                10_000
            } else {
                100_000
            }),
            covariates: 20,
            enet: true,
            path_only: name == "enet-cox-100k",
            cox: true,
            ..Shape::default()
        }),
        "enet-cox-c-1k" | "enet-cox-c-10k" => Ok(Shape {
            rows: rows(if name == "enet-cox-c-1k" {
                1_000
            } else {
                10_000
            }),
            covariates: 20,
            enet: true,
            cox: true,
            cindex: true,
            ..Shape::default()
        }),
        // Issue 18's boosted trees: 50 trees of depth 4, 32 bins, on 10,000 × 20 (and
        // 100,000 × 20), the binary outcome of the logistic table.
        "gbdt-10k" | "gbdt-100k" => Ok(Shape {
            rows: rows(if name == "gbdt-10k" { 10_000 } else { 100_000 }),
            covariates: 20,
            logistic: true,
            gbdt: true,
            ..Shape::default()
        }),
        // The same trees on the continuous outcome of the OLS table (`squared_error`).
        "gbdt-reg-10k" => Ok(Shape {
            rows: rows(10_000),
            covariates: 20,
            gbdt: true,
            ..Shape::default()
        }),
        other => Err(format!(
            "unknown workload `{other}` (known: {})",
            WORKLOADS.join(", ")
        )),
    }
}

/// The contingency workload's table: `a` (3 levels) and `b` (4 levels, depending on `a`),
/// each missing in 1% of the rows.
fn crosstab_table(s: Shape) -> PlainFrame {
    let mut rng = Rng(0xc055_7ab1 ^ s.rows as u64, None);
    let mut a = Vec::with_capacity(s.rows);
    let mut b = Vec::with_capacity(s.rows);
    for _ in 0..s.rows {
        let x = (rng.uniform() * 3.0) as usize;
        let y = ((rng.uniform() + 0.15 * x as f64) * 4.0 / 1.3) as usize;
        a.push((rng.uniform() >= 0.01).then_some(x.min(2)));
        b.push((rng.uniform() >= 0.01).then_some(y.min(3)));
    }
    let cat = |name: &str, levels: &[&str], codes: Vec<Option<usize>>| PlainColumn {
        name: name.to_string(),
        data: PlainData::Categorical {
            levels: levels.iter().map(|l| l.to_string()).collect(),
            codes,
        },
    };
    PlainFrame::new(vec![
        cat("a", &["a1", "a2", "a3"], a),
        cat("b", &["b1", "b2", "b3", "b4"], b),
    ])
    .expect("columns of one length")
}

fn crosstab_spec() -> CrosstabSpec {
    CrosstabSpec {
        rows: "a".into(),
        columns: "b".into(),
    }
}

/// A small deterministic generator (splitmix64), so that every process builds the same
/// table without communicating; normals by Box–Muller, both of each pair used.
struct Rng(u64, Option<f64>);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        if let Some(z) = self.1.take() {
            return z;
        }
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        let (sin, cos) = (2.0 * std::f64::consts::PI * v).sin_cos();
        let r = (-2.0 * u.ln()).sqrt();
        self.1 = Some(r * sin);
        r * cos
    }
}

/// The synthetic table of a workload: covariates `x1..xk` on different scales (some
/// correlated), `x1` missing in 1% of the rows, and the outcome `y` (continuous, or 0/1).
fn table(s: Shape) -> PlainFrame {
    let mut rng = Rng(
        0x7e55_e7a0 ^ (s.rows as u64) ^ ((s.covariates as u64) << 40),
        None,
    );
    let k = s.covariates;
    let mean: Vec<f64> = (0..k)
        .map(|j| [50.0, 0.0, 3.0, 120.0, 1.0][j % 5])
        .collect();
    let sd: Vec<f64> = (0..k).map(|j| [10.0, 1.0, 0.5, 20.0, 2.0][j % 5]).collect();
    let beta: Vec<f64> = (0..k)
        .map(|j| 0.3 * if j % 2 == 0 { 1.0 } else { -1.0 } / sd[j])
        .collect();
    let mut cols: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(s.rows); k];
    let mut y = Vec::with_capacity(s.rows);
    let (mut time, mut event) = (Vec::new(), Vec::new());
    for _ in 0..s.rows {
        let shared = rng.normal();
        let mut eta = 0.0;
        for j in 0..k {
            let z = if j % 3 == 0 {
                0.6 * shared + 0.8 * rng.normal()
            } else {
                rng.normal()
            };
            let x = mean[j] + sd[j] * z;
            eta += beta[j] * (x - mean[j]);
            cols[j].push(Some((x * 1e4).round() / 1e4));
        }
        if rng.uniform() < 0.01 {
            if let Some(v) = cols[0].last_mut() {
                *v = None;
            }
        }
        if s.cox {
            // Exponential times of hazard 0.05·e^η, censored uniformly on (0, 40), in
            // whole units (ties).
            let t_event = -(1.0 - rng.uniform()).ln() / (0.05 * eta.exp());
            let t_cens = 40.0 * rng.uniform();
            time.push(t_event.min(t_cens).ceil().max(1.0));
            event.push(f64::from(u8::from(t_event <= t_cens)));
        }
        y.push(if s.logistic {
            f64::from(u8::from(rng.uniform() < 1.0 / (1.0 + (0.5 - eta).exp())))
        } else {
            ((2.0 + eta + rng.normal()) * 1e4).round() / 1e4
        });
    }
    let mut columns: Vec<PlainColumn> = cols
        .into_iter()
        .enumerate()
        .map(|(j, v)| PlainColumn {
            name: format!("x{}", j + 1),
            data: PlainData::Numeric(v),
        })
        .collect();
    columns.push(PlainColumn::numeric("y", &y));
    if s.cox {
        columns.push(PlainColumn::numeric("time", &time));
        columns.push(PlainColumn::numeric("event", &event));
    }
    PlainFrame::new(columns).expect("columns of one length")
}

fn covariates(s: Shape) -> Vec<String> {
    (1..=s.covariates).map(|j| format!("x{j}")).collect()
}

fn ols_spec(s: Shape) -> OlsSpec {
    OlsSpec {
        outcome: "y".into(),
        covariates: covariates(s),
        intercept: true,
        ridge: 0.0,
        conf_level: 0.95,
    }
}

fn auc_spec() -> AucSpec {
    AucSpec {
        outcome: "y".into(),
        score: "x1".into(),
        conf_level: 0.95,
        calibration: false,
        groups: 10,
    }
}

fn logistic_spec(s: Shape) -> LogisticSpec {
    LogisticSpec {
        outcome: "y".into(),
        covariates: covariates(s),
        intercept: true,
        l2: 0.0,
        max_steps: 50,
        conf_level: 0.95,
        holdout: None,
        calibration: false,
        groups: None,
    }
}

/// Boosted trees as issue 18 names them: 50 trees of depth 4, 32 bins, learning rate
/// 0.1, λ = 1, a quarter held out; `binary` on the logistic table, `squared_error` on the
/// OLS one.
fn gbdt_spec(s: Shape) -> BoostedTreesSpec {
    BoostedTreesSpec {
        outcome: "y".into(),
        covariates: covariates(s),
        objective: if s.logistic {
            Objective::Binary
        } else {
            Objective::SquaredError
        },
        time: None,
        event: None,
        trees: 50,
        depth: 4,
        learning_rate: 0.1,
        lambda: 1.0,
        min_child_weight: 1.0,
        bins: 32,
        holdout: 0.25,
        reveal_model: false,
        conf_level: 0.95,
    }
}

/// The figures of a boosted-trees result compared with the twin's: the test AUC and its
/// standard error (`binary`), the test RMSE and R² (`squared_error`).
fn gbdt_figures(r: &gbdt::BoostedTreesResult) -> Vec<f64> {
    match &r.test {
        gbdt::Validation::Auc(a) => vec![a.auc, a.se],
        gbdt::Validation::Error(e) => vec![e.rmse, e.r2],
    }
}

/// The held-out rows of the boosted-trees workloads: every fourth, in public, so that
/// the result can be checked against the twin on the same split (a study draws its split
/// secretly by one oblivious shuffle more).
fn gbdt_test(s: Shape) -> Vec<usize> {
    (0..s.rows).filter(|i| i % 4 == 3).collect()
}

fn enet_spec(s: Shape) -> ElasticNetSpec {
    ElasticNetSpec {
        time: s.cox.then(|| "time".into()),
        event: s.cox.then(|| "event".into()),
        outcome: if s.cox { String::new() } else { "y".into() },
        covariates: covariates(s),
        family: if s.cox {
            Family::Cox
        } else if s.logistic {
            Family::Binomial
        } else {
            Family::Gaussian
        },
        alpha: 1.0,
        nlambda: 20,
        lambda_min_ratio: None,
        lambda: None,
        folds: 10,
        sweeps: None,
        steps: None,
        type_measure: if s.cindex {
            Measure::C
        } else {
            Measure::Deviance
        },
    }
}

/// Secret-shares party 0's table column by column (the others only know the schema and
/// the row count).
fn share_table(p: &mut Party, s: Shape) -> Result<Frame, String> {
    if s.crosstab {
        // Every process builds the table (cheap); only party 0's values are input.
        return Frame::share(p, 0, &crosstab_table(s)).map_err(|e| e.to_string());
    }
    let f = p.frac_bits();
    let plain = (p.id() == 0).then(|| table(s));
    let survival: &[&str] = if s.cox { &["time", "event"] } else { &[] };
    let names: Vec<String> = (1..=s.covariates)
        .map(|j| format!("x{j}"))
        .chain(["y".to_string()])
        .chain(survival.iter().map(|c| c.to_string()))
        .collect();
    // The shares are moved into the frame as they come (no copy of the whole table).
    let mut columns = Vec::with_capacity(names.len());
    for (j, name) in names.iter().enumerate() {
        let mut parts = Vec::with_capacity(2);
        for part in 0..2 {
            let v: Option<Vec<u128>> = plain.as_ref().map(|t| match &t.columns[j].data {
                PlainData::Numeric(v) => v
                    .iter()
                    .map(|x| match (part, x) {
                        (0, x) => u128::from(x.is_some()),
                        (_, Some(x)) => encode::<u128>(*x, f),
                        (_, None) => 0,
                    })
                    .collect(),
                PlainData::Categorical { .. } => unreachable!("numeric table"),
            });
            parts.push(
                p.share_input(0, v.as_deref(), s.rows)
                    .map_err(|e| e.to_string())?,
            );
        }
        let values = parts.pop().expect("two parts");
        let present = parts.pop().expect("two parts");
        columns.push(Column {
            name: name.clone(),
            present: present.into(),
            data: ColumnData::Numeric(values),
        });
    }
    Ok(Frame {
        rows: s.rows,
        columns,
    })
}

fn coefs(rows: &[Coefficient]) -> Vec<f64> {
    rows.iter().map(|r| r.coef).collect()
}

fn measure_one(p: &mut Party, name: &str, s: Shape, reps: usize) -> Result<WorkloadReport, String> {
    let t = Instant::now();
    let frame = share_table(p, s)?;
    let share_secs = t.elapsed().as_secs_f64();
    let disclosure = Disclosure::default();
    let mut out = WorkloadReport {
        name: name.to_string(),
        rows: s.rows,
        vars: if s.crosstab { 2 } else { s.covariates + 1 },
        secs: Vec::new(),
        bytes: Vec::new(),
        rounds: Vec::new(),
        share_secs,
        iterations: 0,
        public: Value::Null,
        shares: Vec::new(),
    };
    fn end<P: Tail>(out: &mut WorkloadReport, sealed: Sealed<P>) -> Result<(), String> {
        out.public = sealed.public_json().map_err(|e| e.to_string())?;
        out.shares = sealed.shares.to_bytes();
        Ok(())
    }
    for _ in 0..reps {
        p.barrier().map_err(|e| e.to_string())?;
        let before = p.stats();
        let t = Instant::now();
        // Timed to the sealed result (the seal's one round included).
        if s.crosstab {
            let r = describe::crosstab(p, &frame, &crosstab_spec(), &disclosure)
                .map_err(|e| e.to_string())?;
            out.secs.push(t.elapsed().as_secs_f64());
            end(&mut out, r)?;
        } else if s.auc {
            let r = predict::auc(p, &frame, &auc_spec(), &disclosure).map_err(|e| e.to_string())?;
            out.secs.push(t.elapsed().as_secs_f64());
            end(&mut out, r)?;
        } else if s.gbdt {
            let test = gbdt_test(s);
            let r = gbdt::boosted_trees_on(p, &frame, &gbdt_spec(s), &disclosure, Some(&test))
                .map_err(|e| e.to_string())?;
            out.secs.push(t.elapsed().as_secs_f64());
            end(&mut out, r)?;
        } else if s.path_only {
            let r = enet::mpc::elasticnet_path(p, &frame, &enet_spec(s), &disclosure)
                .map_err(|e| e.to_string())?;
            out.secs.push(t.elapsed().as_secs_f64());
            end(&mut out, r)?;
        } else if s.enet {
            let r = enet::mpc::elasticnet(p, &frame, &enet_spec(s), &disclosure)
                .map_err(|e| e.to_string())?;
            out.secs.push(t.elapsed().as_secs_f64());
            end(&mut out, r)?;
        } else if s.logistic {
            let r = logistic::logistic(p, &frame, &logistic_spec(s), &disclosure)
                .map_err(|e| e.to_string())?;
            out.secs.push(t.elapsed().as_secs_f64());
            out.iterations = r.public.iterations;
            end(&mut out, r)?;
        } else {
            let r = ols::ols(p, &frame, &ols_spec(s), &disclosure).map_err(|e| e.to_string())?;
            out.secs.push(t.elapsed().as_secs_f64());
            end(&mut out, r)?;
        }
        let st = p.stats().since(&before);
        out.bytes.push(st.bytes_sent);
        out.rounds.push(st.rounds);
    }
    Ok(out)
}

/// The plaintext twin on the same table: median seconds over `reps`, coefficients,
/// Newton steps.
fn plain_fit(s: Shape, reps: usize) -> Result<(f64, Vec<f64>, usize), String> {
    let t = if s.crosstab {
        crosstab_table(s)
    } else {
        table(s)
    };
    let mut secs = Vec::new();
    let mut last = (Vec::new(), 0);
    for _ in 0..reps {
        let start = Instant::now();
        last = if s.crosstab {
            let r = describe::plain::crosstab(&t, &crosstab_spec(), &Disclosure::default())
                .map_err(|e| e.to_string())?;
            (vec![r.chi2], 0)
        } else if s.auc {
            let r = predict::auc_plain(&t, &auc_spec(), &Disclosure::default())
                .map_err(|e| e.to_string())?;
            (vec![r.auc, r.se], 0)
        } else if s.gbdt {
            let (r, _) =
                gbdt::boosted_trees_plain(&t, &gbdt_spec(s), &gbdt_test(s), &Disclosure::default())
                    .map_err(|e| e.to_string())?;
            (gbdt_figures(&r), 0)
        } else if s.enet {
            let spec = enet_spec(s);
            // The full-data path does not depend on the folds; complete rows dealt in order.
            let complete = if s.cox {
                enet::cox::rows(&t, &spec)
                    .map_err(|e| e.to_string())?
                    .time
                    .len()
            } else {
                plain::design(&t, &spec.outcome, &spec.covariates, false)
                    .map_err(|e| e.to_string())?
                    .y
                    .len()
            };
            let folds = enet::plain::folds_in_order(complete, spec.folds);
            let r = enet::plain::elasticnet(&t, &spec, &folds).map_err(|e| e.to_string())?;
            (r.path.concat(), 0)
        } else if s.logistic {
            let r = plain::logistic(&t, &logistic_spec(s)).map_err(|e| e.to_string())?;
            (coefs(&r.coefficients), r.iterations)
        } else {
            let r = plain::ols(&t, &ols_spec(s)).map_err(|e| e.to_string())?;
            (coefs(&r.coefficients), 0)
        };
        secs.push(start.elapsed().as_secs_f64());
    }
    Ok((median(&secs), last.0, last.1))
}

fn chosen(args: &RegressionArgs) -> Vec<String> {
    if args.workloads.is_empty() {
        DEFAULT_WORKLOADS.iter().map(|s| s.to_string()).collect()
    } else {
        args.workloads.clone()
    }
}

/// What [`measure`] found: per workload its JSON entry and its table line.
pub(crate) struct Measured {
    /// The workloads, in the order run.
    pub names: Vec<String>,
    /// Per workload: rows, seconds, bytes, rounds, the plaintext twin's seconds, … (JSON).
    pub entries: serde_json::Map<String, Value>,
    /// Per workload: its line of the table.
    pub lines: Vec<String>,
}

/// Runs the benchmark: three party processes, then the plaintext fits and the summary.
pub fn run(args: &RegressionArgs) -> Result<(), String> {
    let Measured { entries, lines, .. } = measure(args)?;
    if args.reps == 0 || !(args.scale > 0.0 && args.scale <= 10.0) {
        return Err("--reps must be positive and --scale in (0, 10]".into());
    }
    if args.json {
        println!(
            "{}",
            json!({
                "reps": args.reps,
                "scale": args.scale,
                "transport": if args.tls { "tls" } else { "tcp" },
                "workloads": entries,
            })
        );
        return Ok(());
    }
    print_table(args, &lines)
}

/// The table's header, its lines and the notes below.
fn print_table(args: &RegressionArgs, lines: &[String]) -> Result<(), String> {
    println!(
        "{:<18} {:>9} {:>5} {:>9} {:>10} {:>7} {:>6} {:>10} {:>8} {:>10}",
        "workload",
        "rows",
        "vars",
        "seconds",
        "MB/party",
        "rounds",
        "iters",
        "plain s",
        "ratio",
        "max|Δβ|"
    );
    for l in lines {
        println!("{l}");
    }
    print_notes(args)
}

/// Three party processes run the chosen workloads; then the plaintext fits.
pub(crate) fn measure(args: &RegressionArgs) -> Result<Measured, String> {
    let names = chosen(args);
    let shapes = names
        .iter()
        .map(|n| shape_of(n, args.scale))
        .collect::<Result<Vec<_>, _>>()?;
    let rv = Rendezvous::new()?;
    if !args.json {
        eprintln!(
            "starting three parties on {}: {} , {} repetitions each",
            rv.addr_list,
            names.join(", "),
            args.reps
        );
    }
    args.shape.shape()?;
    let identities = if args.tls {
        Some(BenchIdentities::create(&rv.session)?)
    } else {
        None
    };
    let outputs = run_three("bench-regression-party", &rv, |me, cmd| {
        args.shape.pass_on(cmd);
        if let Some(ids) = &identities {
            ids.pass_on(me, cmd);
        }
        cmd.args(["--workloads", &names.join(",")])
            .args(["--reps", &args.reps.to_string()])
            .args(["--scale", &args.scale.to_string()])
            .args(["--timeout-secs", &args.timeout_secs.to_string()]);
    })?;
    let reports: Vec<RegressionReport> = parse_reports(&outputs)?;
    let mut entries = serde_json::Map::new();
    let mut lines = Vec::new();
    for (w, (name, s)) in names.iter().zip(&shapes).enumerate() {
        let per: Vec<&WorkloadReport> = reports.iter().map(|r| &r.workloads[w]).collect();
        let secs = slowest(&per.iter().map(|r| r.secs.as_slice()).collect::<Vec<_>>());
        let seconds = median(&secs);
        let bytes = busiest(&per.iter().map(|r| r.bytes.as_slice()).collect::<Vec<_>>());
        let rounds = busiest(&per.iter().map(|r| r.rounds.as_slice()).collect::<Vec<_>>());
        let coef = open_coef(*s, &per).map_err(|e| format!("{name}: {e}"))?;
        let (plain_secs, plain_coef, plain_iters) = plain_fit(*s, args.reps)?;
        // Coefficients: absolute differences; the chi-square of a table: relative.
        let max_diff = coef
            .iter()
            .zip(&plain_coef)
            .map(|(a, b)| {
                let d = (a - b).abs();
                if s.crosstab {
                    d / b.abs().max(1.0)
                } else {
                    d
                }
            })
            .fold(0.0, f64::max);
        let ratio = seconds / plain_secs;
        entries.insert(
            name.clone(),
            json!({
                "rows": s.rows,
                "covariates": s.covariates,
                "model_vars": per[0].vars,
                "seconds": seconds,
                "seconds_each": secs,
                "bytes_per_party": bytes,
                "rounds": rounds,
                "iterations": per[0].iterations,
                "plaintext_iterations": plain_iters,
                "plaintext_seconds": plain_secs,
                "ratio_to_plaintext": ratio,
                "share_seconds": per[0].share_secs,
                "max_abs_coef_diff_vs_plaintext": max_diff,
            }),
        );
        lines.push(format!(
            "{:<18} {:>9} {:>5} {:>9.3} {:>10.1} {:>7} {:>6} {:>10.4} {:>8.1} {:>10.1e}",
            name,
            s.rows,
            per[0].vars,
            seconds,
            bytes as f64 / 1e6,
            rounds,
            if s.logistic && !s.auc {
                per[0].iterations.to_string()
            } else {
                "—".into()
            },
            plain_secs,
            ratio,
            max_diff
        ));
    }
    Ok(Measured {
        names,
        entries,
        lines,
    })
}

/// What the table's columns mean and how the elastic-net workloads are made.
pub(crate) fn print_notes(args: &RegressionArgs) -> Result<(), String> {
    println!(
        "\nthree processes over loopback {}; median of {} runs of the whole analysis on the \
         shared table (public checks, row weights, moments, fit, sealing the result); bytes \
         are sent by the busiest party; `plain s` is the plaintext twin (f64, one thread) on \
         the same data; max|Δβ| compares the coefficients reconstructed from the three \
         parties' shares with it",
        if args.tls { "TLS 1.3" } else { "TCP" },
        args.reps
    );
    let names = chosen(args);
    if names.iter().any(|n| n.starts_with("enet-logistic")) {
        println!(
            "enet-logistic-10k: binomial elastic net, 20 λ, 10-fold cross-validation (the \
             study's analysis); enet-logistic-100k: its full-data path of 20 λ alone, no \
             cross-validation; both 2 Newton steps per λ of 4 sweeps; `plain s` is the twin's \
             whole analysis with 10-fold cross-validation"
        );
    }
    if names.iter().any(|n| n.starts_with("enet-cox")) {
        println!(
            "enet-cox-10k: cox elastic net, 20 λ, 10-fold cross-validation (the study's \
             analysis); enet-cox-100k: its full-data path of 20 λ alone; both 4 Newton steps \
             per λ of 3 sweeps; `plain s` is the twin's whole analysis with 10-fold \
             cross-validation; enet-cox-c-*: cross-validated by Harrell's C-index"
        );
    }
    if names.iter().any(|n| n.starts_with("gbdt")) {
        println!(
            "gbdt-*: boosted trees (gbdt-reg: squared error on a continuous outcome, else \
             binary), 50 trees of depth 4, 32 bins, learning rate 0.1, λ = 1, every fourth \
             row held out in public (a study's secret split adds one shuffle); max|Δβ| \
             compares the test AUC and its standard error (gbdt-reg: RMSE and R²) with the \
             twin's on the same split"
        );
    }
    let shape = args.shape.shape()?;
    if !shape.is_unshaped() {
        println!("simulated in the transport, on each link and direction: {shape}");
    }
    Ok(())
}

/// Runs one party of the benchmark; prints its [`RegressionReport`] as one JSON line.
pub fn run_party(args: &RegressionPartyArgs) -> Result<(), String> {
    let shapes = args
        .workloads
        .iter()
        .map(|n| shape_of(n, args.scale).map(|s| (n.clone(), s)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut p = args.conn.connect(args.shape.shape()?)?;
    let result = (|| {
        let mut workloads = Vec::new();
        for (name, s) in &shapes {
            workloads.push(measure_one(&mut p, name, *s, args.reps)?);
        }
        p.barrier().map_err(|e| e.to_string())?;
        Ok(RegressionReport {
            party: p.id(),
            workloads,
        })
    })();
    report_or_abort(&mut p, result)
}
