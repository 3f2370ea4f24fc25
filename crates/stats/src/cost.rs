//! What an analysis will cost the compute stations, estimated from its public parameters
//! before anything runs: bytes sent by the busiest station, communication rounds, peak
//! memory per compute station and seconds of computation.
//!
//! A steward approves a study's cost as much as its disclosure: an 8,000-time Kaplan–Meier
//! grid on 1,700 rows once took 127 s and 20 GB at every compute station (issue 13). The
//! estimate is shown before approval (`tessera station status ID`, the steward's API).
//!
//! Each analysis' cost is linear in the rows, with a per-row cost that depends on its
//! parameters (covariates, grid cells, histogram edges, quantiles). The per-row figures
//! come from the protocols' structure (what is sorted, compared, multiplied per row; the
//! per-element costs of `tessera_mpc::cost`) and were calibrated on this project's
//! reference machine (2 cores) by running every analysis at 4,000 and 16,000 synthetic rows
//! (2026-12-02); `tests/cost.rs` measures bytes and rounds again at other sizes and holds
//! the estimate within a factor of two. Seconds are the computation on such a machine;
//! a network adds [`Cost::seconds_on`]'s latency and bandwidth terms.

use serde::Serialize;

use crate::analysis::AnalysisSpec;
use crate::survival::km;

/// The estimated cost of one analysis, or of a whole study (the sum; memory the largest).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Cost {
    /// Bytes sent by the busiest compute station.
    pub bytes: f64,
    /// Communication rounds (sequential message layers).
    pub rounds: f64,
    /// Peak memory of one compute station, in bytes.
    pub memory: f64,
    /// Seconds of computation on the reference machine, over loopback.
    pub compute_seconds: f64,
}

impl Cost {
    /// Two costs one after the other: bytes, rounds and seconds add, memory is the larger.
    pub fn then(self, other: Cost) -> Cost {
        Cost {
            bytes: self.bytes + other.bytes,
            rounds: self.rounds + other.rounds,
            memory: self.memory.max(other.memory),
            compute_seconds: self.compute_seconds + other.compute_seconds,
        }
    }

    /// Two costs side by side (independent work run at the same time over the same links):
    /// bytes and seconds of computation add, rounds are the longer, memory adds (both are
    /// held at once).
    pub fn alongside(self, other: Cost) -> Cost {
        Cost {
            bytes: self.bytes + other.bytes,
            rounds: self.rounds.max(other.rounds),
            memory: self.memory + other.memory,
            compute_seconds: self.compute_seconds + other.compute_seconds,
        }
    }

    /// Seconds on a network with round-trip time `rtt` (seconds) and `bandwidth` (bytes
    /// per second): the computation, one round trip per round, the busiest station's bytes.
    pub fn seconds_on(&self, rtt: f64, bandwidth: f64) -> f64 {
        self.compute_seconds + self.rounds * rtt + self.bytes / bandwidth
    }
}

/// Bytes per second the reference machine moves between its three in-process parties when
/// an analysis is dominated by communication (comparisons, multiplications).
const LOOPBACK: f64 = 150e6;

/// A cost linear in `rows`: `per_row` bytes and `mem_row` memory bytes per row, fixed
/// `rounds`, and `work` extra seconds of local computation.
fn linear(rows: f64, per_row: f64, fixed: f64, rounds: f64, mem_row: f64, work: f64) -> Cost {
    let bytes = fixed + rows * per_row;
    Cost {
        bytes,
        rounds,
        memory: 16e6 + rows * mem_row,
        compute_seconds: bytes / LOOPBACK + work,
    }
}

/// The AUC of a score on `n` rows (`kind = "auc"`, and the held-out predictions of a
/// logistic model), with its calibration in `groups` groups if asked.
fn auc_cost(n: f64, calibration: bool, groups: usize) -> Cost {
    // The outcome's binary check and exact truncation, one sort by score with its tie
    // groups' scans, the placements' products (predict::auc). Measured (tests/cost.rs,
    // 2026-12-03 with the block carries): 2.0 and 2.2 kB per row, 194 and 202 rounds at
    // 2,500 and 8,000 rows.
    let auc = linear(n, 2100.0, 0.0, 200.0, 1500.0, 0.0);
    // With calibration: the probability check, two logarithms per row, the recalibration's
    // logistic fit on the AUC's own complete rows (two model variables) and the table's
    // g − 1 comparisons per row. Measured with g = 10: 7.3 kB per row and about 615 rounds
    // over the AUC alone at both sizes.
    if calibration {
        let g = groups.max(2) as f64;
        auc.then(linear(
            n,
            5500.0 + 200.0 * (g - 1.0),
            0.0,
            615.0,
            2000.0,
            0.0,
        ))
    } else {
        auc
    }
}

/// The cox elastic net: the gaussian's design, shuffle, folds and standardisations; one
/// sort by time carrying the rows and the fold indicators; per λ, Newton step, problem and
/// row an `exp` and a reciprocal (the cost driver, module docs of
/// `regression::enet::cox_mpc`); per fold, λ and row of the cross-validation an `exp` and
/// two `ln`; per λ and Newton step the rounds of those and of `sweeps × k` coordinate
/// updates. Constants measured (tests/cost.rs).
fn enet_cox(s: &crate::regression::enet::ElasticNetSpec, n: f64, k: f64) -> Cost {
    use crate::regression::enet::path;
    let p = k + 1.0;
    let folds = s.folds as f64;
    let sets = folds + 1.0;
    let nl = path::nlambda(s) as f64;
    let newton = path::steps(s) as f64 * nl;
    let updates = path::sweeps(s) as f64 * k;
    let per_row = 40.0
        + 15.0 * p
        + 32.0 * (k + 2.0)
        + 16.0 * k * (k + 3.0)
        + 1500.0
        + 40.0 * (k + folds)
        + newton * sets * COX_STEP_ROW
        + nl * folds * COX_CV_ROW;
    let fixed = sets * (120e3 + 5e3 * k) + newton * sets * (updates * 200.0 + 100.0 * p * p);
    let rounds = 600.0 + 162.0 * sets + newton * (COX_STEP_ROUNDS + 9.0 * updates);
    linear(
        n,
        per_row,
        fixed,
        rounds,
        600.0 + 220.0 * p + 48.0 * (newton.min(1.0) * sets + nl * folds),
        1e-7 * n * (newton * sets + nl * folds) * 20.0,
    )
}

/// Bytes per row, problem and Newton step of the cox elastic net (an `exp`, a reciprocal,
/// the products of the risk-set sums).
const COX_STEP_ROW: f64 = 1100.0;
/// Bytes per row, fold and λ of its cross-validation (an `exp`, two `ln`).
const COX_CV_ROW: f64 = 1500.0;
/// Rounds per Newton step besides the coordinate updates.
const COX_STEP_ROUNDS: f64 = 160.0;

/// The binomial elastic net: the gaussian's design, shuffle, folds and standardisations;
/// once per row the products of the standardised covariates; per λ, Newton step, problem
/// and row a sigmoid and the weights (the cost driver, module docs of
/// `regression::enet::binomial`); per λ and row the CV deviance (clamp, exp, ln); per λ and
/// Newton step the rounds of one sigmoid, the weighted Gram matrices' transforms and
/// `sweeps × (k + 1)` coordinate updates. Constants measured (tests/cost.rs).
fn enet_binomial(s: &crate::regression::enet::ElasticNetSpec, n: f64, k: f64) -> Cost {
    use crate::regression::enet::path;
    let p = k + 1.0;
    let sets = s.folds as f64 + 1.0;
    let nl = path::nlambda(s) as f64;
    let newton = path::steps(s) as f64 * nl;
    let updates = path::sweeps(s) as f64 * p;
    let per_row = 40.0
        + 15.0 * p
        + 32.0 * (k + 2.0)
        + 16.0 * k * (k + 3.0)
        + newton * sets * 640.0
        + nl * 1200.0;
    let fixed = sets * (120e3 + 5e3 * k) + newton * sets * (updates * 200.0 + 100.0 * p * p);
    let rounds = 220.0 + 162.0 * sets + newton * (80.0 + 9.0 * updates);
    linear(
        n,
        per_row,
        fixed,
        rounds,
        500.0 + 16.0 * (k * (k + 3.0) + 8.0 * sets),
        3e-9 * n * newton * sets * p * p,
    )
}

/// A Kaplan–Meier or Cox analysis with delayed entry without it (its cost on twice the
/// rows is the entry's, see [`estimate`]); `None` for any other analysis.
fn without_entry(spec: &AnalysisSpec) -> Option<AnalysisSpec> {
    match spec {
        AnalysisSpec::KaplanMeier(s) if s.entry.is_some() => Some(AnalysisSpec::KaplanMeier(
            crate::analysis::KaplanMeierSpec {
                entry: None,
                ..s.clone()
            },
        )),
        AnalysisSpec::Cox(s) if s.entry.is_some() => {
            Some(AnalysisSpec::Cox(crate::analysis::CoxSpec {
                entry: None,
                ..s.clone()
            }))
        }
        _ => None,
    }
}

/// The estimated cost of `spec` on `rows` linked rows; `levels` gives the number of levels
/// of a categorical column (`party.column`; 1 when unknown). Public parameters only.
pub fn estimate(spec: &AnalysisSpec, rows: usize, levels: &dyn Fn(&str) -> usize) -> Cost {
    let n = rows as f64;
    // Model terms: a categorical covariate adds one per level but the first, a product one
    // per combination of its factors' columns.
    let terms = |cols: &[String]| -> f64 { crate::terms::count(cols, levels) as f64 };
    if let Some(records) = without_entry(spec) {
        // Delayed entry (survival::risk::EntryRecords): every step after the complete cases
        // runs on 2n records (the sort, the scans, the Newton steps or the grid), and one
        // comparison of 2n elements checks 0 ≤ entry < time. Measured (tests/cost.rs):
        // within the estimate of the same analysis on twice the rows.
        let check = linear(n, 1600.0, 0.0, 12.0, 200.0, 0.0);
        // The concordance sums each row's two points (clustered: each cluster's, counted
        // by the estimate on the records already).
        let check = match spec {
            AnalysisSpec::Cox(s) if s.concordance && s.cluster.is_none() => {
                check.then(concordance_groups_cost(2.0 * n))
            }
            _ => check,
        };
        return estimate(&records, 2 * rows, levels).then(check);
    }
    match spec {
        AnalysisSpec::KaplanMeier(s) => {
            // Sort by time and the scans (as log-rank), the group's indicators, then per
            // (grid time, curve) cell the at-risk and event counts: one comparison of every
            // row with every grid time (in chunks of GRID_BATCH, which bounds the memory and
            // adds a few rounds per chunk) and local dot products. Rounds recalibrated
            // 2026-12-03 (block carries, fewer-round reciprocals): 246 to 281 measured for
            // the plain curve at 2,500 and 8,000 rows.
            let curves = s.group.as_deref().map_or(1, levels).max(1) as f64;
            let g = s.times.len() as f64;
            let comparisons = 2.0 * g * n;
            let batch = km::GRID_BATCH as f64;
            let chunks = (comparisons / batch).ceil();
            let group = if s.group.is_some() { 1400.0 } else { 0.0 };
            // The event-time table: a zero test, a comparison and a shuffle per row and
            // curve (measured 2026-12-03 at 2,500 rows: about 250 bytes a row per curve,
            // and 150 more with censor marks, the tie groups' sizes).
            let at_events = if s.at_event_times {
                250.0 * curves
            } else {
                0.0
            } + if s.censor_marks { 150.0 * curves } else { 0.0 };
            let mut c = linear(
                n,
                2800.0 + group + at_events + 48.0 * g * curves,
                0.0,
                230.0 + 10.0 * g + 12.0 * chunks + if s.at_event_times { 20.0 } else { 0.0 },
                3000.0,
                0.0,
            );
            c.memory += 110.0 * comparisons.min(batch);
            if s.median {
                // The median and its limits (survival::median): per row and curve four
                // comparisons, two logarithms, a few products and one `is_zero` of four
                // suffix counts. Measured (tests/cost.rs): about 1,950 bytes a row per curve
                // and 90 rounds.
                let bytes = 1950.0 * n * curves;
                c.bytes += bytes;
                c.rounds += 90.0;
                c.memory += 1.5 * bytes;
                c.compute_seconds += bytes / LOOPBACK;
            }
            c
        }
        AnalysisSpec::Cuminc(s) => {
            // Kaplan–Meier's work at the same grid (the all-cause survival, the counts at
            // the grid), then per cause the estimate's and the variance's terms on every row
            // (a few products and reciprocals) and their suffix sums read at the grid.
            let km = AnalysisSpec::KaplanMeier(crate::analysis::KaplanMeierSpec {
                entry: None,
                time: s.time.clone(),
                event: s.event.clone(),
                group: s.group.clone(),
                times: s.times.clone(),
                at_event_times: false,
                censor_marks: false,
                median: false,
                conf_level: 0.95,
            });
            let mut c = estimate(&km, rows, levels);
            let causes = f64::from(s.causes.max(1));
            let curves = s.group.as_deref().map_or(1, levels).max(1) as f64;
            // Measured (tests/cost.rs): about 730 bytes a row per curve and cause, in the
            // rounds Kaplan–Meier's steps already take but a few.
            let mut bytes = causes * n * 730.0 * curves;
            if s.gray_test {
                // Gray's test: per cause about k² blocks of row terms (k groups), the
                // reciprocal survivals' suffix products and a small solve per cause.
                // Measured (tests/cost.rs, two groups, one cause): about 3,500 bytes a row
                // and 150 rounds.
                bytes += causes * n * 900.0 * curves * curves;
                c.rounds += 150.0;
            }
            if s.at_event_times {
                // The curve at every event time: per row, group and cause the variance read
                // at the row (three products), then Kaplan–Meier's event table (a zero test,
                // a comparison and a shuffle of 5 + 2K columns per row and group).
                bytes += n * curves * (250.0 + 150.0 * causes);
                c.rounds += 20.0;
                if s.censor_marks {
                    // The tie groups' sizes (a segmented sum) and one more column shuffled,
                    // as Kaplan–Meier's.
                    bytes += 150.0 * n * curves;
                }
            }
            c.bytes += bytes;
            c.rounds += 10.0;
            c.memory += bytes;
            c.compute_seconds += bytes / LOOPBACK;
            c
        }
        AnalysisSpec::Rmst(s) => {
            // The sort and Kaplan–Meier's survival and Greenwood terms (without a grid),
            // then per row one comparison with τ, the capped widths and the areas, and per
            // group one dot product for the variance. Measured (tests/cost.rs): about
            // 1,150 + 1,550 bytes a row per group, some 255 rounds (2026-12-03).
            let curves = s.group.as_deref().map_or(1, levels).max(1) as f64;
            linear(
                n,
                1150.0 + 1550.0 * curves,
                0.0,
                260.0,
                2000.0 + 1500.0 * curves,
                0.0,
            )
        }
        AnalysisSpec::Logrank(s) => {
            let k = levels(&s.group).max(2) as f64;
            // Strata (from the protocol's structure, not calibrated): each level's indicator
            // is multiplied, counted and moved by the sort, and the at-risk counts get
            // k·(S - 1) offset products per row (`survival::risk`); about 20 rounds for the
            // level checks and the offsets.
            // Measured without strata (issue 19: the numbers at risk public, the sort beside
            // the preparation): 22.9 MB and 190 rounds at 10,000 rows and two groups; with
            // `Party::few_rounds` (runs with latency) about 100 rounds for twice the bytes.
            let (extra, rounds) = strata_cost(s.strata.as_deref(), levels, k, 1.0);
            linear(
                n,
                2000.0 + 150.0 * k + extra,
                0.0,
                190.0 + rounds,
                1500.0 + 100.0 * k + extra,
                0.0,
            )
        }
        AnalysisSpec::Cox(s) => {
            // Sort by time, then per Newton step (about five) the risk-set scans and the
            // exponentials of the linear predictor, per covariate. Rounds recalibrated
            // 2026-12-04 (warm inverses, no derivatives at the estimate): 514 to 523 at 3
            // covariates, 559 to 656 at 6 (tests/cost.rs, 2,500 and 8,000 rows).
            let p = terms(&s.covariates);
            // Strata: per Newton step (about four evaluations) the risk-set sums of w and w·z
            // and the information's suffix sums get (p + 3)·(S - 1) offset products per row,
            // and four more rounds.
            let (extra, rounds) = strata_cost(s.strata.as_deref(), levels, p + 3.0, 4.0);
            let fit = linear(
                n,
                9500.0 + 1300.0 * p + extra,
                0.0,
                470.0 + 20.0 * p + rounds,
                2500.0 + 800.0 * p + extra,
                0.0,
            );
            let fit = if s.robust || s.cluster.is_some() {
                fit.then(robust_cost(n, p, s.strata.as_deref().map(levels)))
            } else {
                fit
            };
            // Clustered: a sort by the cluster column and a segmented sum of the residuals
            // (measured at 2,500 and 8,000 rows: +1.3 to +1.4 kB per row at 3 covariates,
            // +1.55 to +1.75 kB at 6; +180 to +190 rounds on top of the robust errors).
            let fit = if s.cluster.is_some() {
                fit.then(linear(n, 900.0 + 130.0 * p, 0.0, 185.0, 0.0, 0.0))
            } else {
                fit
            };
            let fit = match s.zph {
                Some(t) => fit.then(zph_cost(n, p, s.strata.is_some() && t.pooled())),
                None => fit,
            };
            match (s.concordance, s.cluster.is_some()) {
                (true, true) => fit
                    .then(concordance_cost(n))
                    .then(concordance_groups_cost(n)),
                (true, false) => fit.then(concordance_cost(n)),
                (false, _) => fit,
            }
        }
        AnalysisSpec::Relsurv(s) => {
            // Ederer II (relsurv::ederer): one comparison per kink slot, one sort of the
            // n·(1 + slots) exit and kink records by time with their suffix sums, the
            // exits' shuffle and risk order, a reciprocal and the products within groups,
            // the grid as Kaplan–Meier. Measured (`tessera bench survival --workloads
            // relsurv:10000,relsurv:100000`, 22 slots, 2026-12-03): 46.6 and 53.5 kB per
            // row, 598 and 699 rounds.
            let records = 1.0 + s.slots() as f64;
            let log = n.max(2.0).log2();
            if s.method == crate::relsurv::spec::Method::PoharPerme {
                // Pohar Perme (relsurv::pohar): the breakpoint, exit and day-marker records
                // with their Taylor coefficients sorted, per-day scans. Measured
                // (`relsurv-pp:10000`, 2026-12-03, 14 coefficients): 133 kB per row, 678
                // rounds; bytes follow the coefficients carried. The records are sorted in
                // public chunks of patients (`pohar::chunk_patients`, about 13,600 with a
                // ten-year grid), one after the other: each further chunk adds its sort's
                // rounds, and memory holds one chunk's records (measured 2026-12-04 at
                // 10,000, 30,000 and 100,000 rows: 677, 1,117 and 2,232 rounds; peak memory
                // 1.4, 1.6 and 3.3 GB per party).
                let terms = crate::relsurv::weights::Degree::for_rate(s.max_rate())
                    .map_or(40.0, |d| d.terms() as f64);
                let most = crate::relsurv::pohar::chunk_patients(records as usize, 0) as f64;
                let chunks = (n / most).ceil().max(1.0);
                let size = n / chunks;
                let mut c = linear(
                    n,
                    records * (2.0 + terms) * 225.0,
                    0.0,
                    274.0 + 30.4 * size.max(2.0).log2() + 221.0 * (chunks - 1.0),
                    10_000.0,
                    0.0,
                );
                c.memory += size * records * (2.0 + terms) * 300.0;
                return c;
            }
            linear(
                n,
                records * (1500.0 + 45.0 * log),
                0.0,
                194.0 + 30.4 * log,
                3000.0 * records,
                0.0,
            )
        }
        AnalysisSpec::Finegray(s) => {
            // Cox's fit (Breslow, no strata) with, per Newton evaluation, the competing rows'
            // weights w/G, their suffix sums times G(t-) for 1 + p columns and the second
            // weight of the information; before it the cause indicators (K + 1 equality
            // tests per row) and the censoring weights (a suffix product, two reciprocals);
            // after it crr's influence terms and the sandwich. FINEGRAY_* calibrated on the
            // reference machine (tests/cost.rs).
            let p = terms(&s.covariates);
            let causes = f64::from(s.causes) + 1.0;
            linear(
                n,
                FINEGRAY_ROW + FINEGRAY_ROW_P * p + 500.0 * causes,
                0.0,
                FINEGRAY_ROUNDS + 10.0 * p,
                4000.0 + 1200.0 * p,
                0.0,
            )
        }
        AnalysisSpec::Ols(s) => {
            // The cross products are local; only the p × p moments are shared and solved.
            let p = terms(&s.covariates) + 1.0;
            linear(
                n,
                40.0 + 15.0 * p,
                250e3,
                440.0,
                500.0 + 180.0 * p,
                1e-7 * n * p * p,
            )
        }
        AnalysisSpec::Auc(s) => auc_cost(n, s.calibration, s.groups),
        AnalysisSpec::Elasticnet(s) => {
            // The design and moments as OLS plus the shuffle per row; then, independent of
            // the rows, each fold's moments and standardisation and the coordinate descent:
            // per update one batch of sign tests over (folds + 1)·nlambda problems (module
            // docs of `regression::enet::mpc`; constants measured, tests/cost.rs).
            let k = terms(&s.covariates);
            let p = k + 1.0;
            let sets = s.folds as f64 + 1.0;
            let problems = sets * crate::regression::enet::path::nlambda(s) as f64;
            let updates = crate::regression::enet::path::sweeps(s) as f64 * k;
            match s.family {
                crate::regression::enet::Family::Gaussian => linear(
                    n,
                    40.0 + 15.0 * p + 32.0 * (k + 2.0),
                    sets * (120e3 + 5e3 * k) + updates * problems * 200.0,
                    70.0 + 162.0 * sets + 13.0 * updates,
                    500.0 + 220.0 * p,
                    1e-7 * n * p * p * 2.0,
                ),
                crate::regression::enet::Family::Binomial => enet_binomial(s, n, k),
                crate::regression::enet::Family::Cox => enet_cox(s, n, k),
            }
        }
        AnalysisSpec::Logistic(s) => {
            // Per Newton step a sigmoid per row and the weighted moments. Rounds measured
            // (tests/cost.rs, 3 covariates, default mode): 267 with the power-of-two scales
            // and the last step's test beside the fit's end (issue 19; 590 before). Bytes
            // likewise: about 2,500 a row at 3 covariates, 2,750 at 6.
            let k = terms(&s.covariates);
            let p = k + 1.0;
            let fit = |rows: f64| {
                linear(
                    rows,
                    2600.0 + 130.0 * p,
                    0.0,
                    300.0,
                    1500.0 + 250.0 * p,
                    0.0,
                )
            };
            match s.holdout {
                None => fit(n),
                Some(f) => {
                    // Hold-out validation (regression::holdout): the fit on the training
                    // rows; the shuffle of [w, y, x] (party 0 sends 32 bytes per element);
                    // on the test rows the exact predictor (and, for the calibration only,
                    // its truncation, clamp and sigmoid), then the AUC (and calibration) as
                    // `auc`. Measured (tests/cost.rs, 3 covariates, holdout 0.25).
                    let test = (f * n).max(0.0);
                    let (per_test, rounds) = if s.calibration {
                        (600.0 + 16.0 * p, 60.0)
                    } else {
                        (16.0 * p, 2.0)
                    };
                    fit(n - test)
                        .then(linear(n, 32.0 * (k + 2.0), 0.0, 2.0, 0.0, 0.0))
                        .then(linear(test, per_test, 0.0, rounds, 0.0, 0.0))
                        .then(auc_cost(test, s.calibration, s.groups.unwrap_or(10)))
                }
            }
        }
        AnalysisSpec::BoostedTrees(s) => {
            // predict::gbdt: the shuffle, one wide sort of every covariate's training
            // values, the candidate matrix (n·k·(bins − 1) comparisons in Z_2^64, kept in
            // two layouts), then per tree a sigmoid per row, per level the node products,
            // the lifted sums, reciprocals and the tournament over the candidates of every
            // node, and the leaves. Local work: the matrix products, about
            // 3·2^depth·n·k·bins multiply-adds per tree at about 1 ns each. Measured
            // (10,000 × 20, 50 trees of depth 4, 32 bins): 1.93 GB from party 0, 33,300
            // rounds (this gives 2.1 GB and 38,500); peak memory 1.28 GB at the largest
            // party (`/usr/bin/time -v tessera bench models --workloads gbdt-10k`), about
            // 205 bytes per row and candidate (the candidate matrix in two layouts, its
            // products per node); at 100,000 rows a party was killed at 11.4 GB.
            // `squared_error` has no sigmoid per tree and no AUC: measured (10,000 × 20, same
            // trees, `gbdt-reg-10k`) 1.64 GB and 31,200 rounds, about 580 bytes per row and
            // tree and 41 rounds per tree less; its held-out error is a dot product, two
            // divisions and a reciprocal.
            let binary = s.objective == crate::predict::gbdt::Objective::Binary;
            let (tree_row, tree_rounds) = if binary { (700.0, 80.0) } else { (120.0, 40.0) };
            let k = terms(&s.covariates);
            let b = s.bins as f64;
            let trees = s.trees as f64;
            let depth = s.depth as f64;
            let nodes = (2f64).powf(depth);
            let cand = k * (b - 1.0);
            let test = s.holdout * n;
            let per_row = 32.0 * (k + 2.0)
                + 60.0 * k
                + 110.0 * cand
                + trees * (tree_row + 40.0 * depth + 24.0 * nodes);
            let fixed = trees * nodes * cand * 1500.0;
            let rounds = 300.0 + trees * (tree_rounds + depth * (60.0 + 12.0 * cand.log2()));
            let work = trees * 3.0 * nodes * n * (cand + 1.0) * 1e-9;
            let fit = linear(n, per_row, fixed, rounds, 205.0 * cand + 400.0, work);
            if binary {
                fit.then(auc_cost(test, false, 10))
            } else {
                fit.then(linear(test, 96.0, 0.0, 40.0, 0.0, 0.0))
            }
        }
        AnalysisSpec::Describe(s) => {
            let j = s.columns.len() as f64;
            let order = !s.quantiles.is_empty() || s.extremes;
            let edges = s.histogram.as_ref().map_or(0, Vec::len) as f64;
            let lv = s.group.as_deref().map_or(1, levels).max(1) as f64;
            // Per column: counts and sums (local), an oblivious sort for quantiles, one
            // comparison per (row, edge) for a histogram.
            let per_col = 20.0 + if order { 850.0 } else { 0.0 } + (47.0 + 10.0 * lv) * edges;
            let rounds = 40.0
                + j * (if order { 160.0 } else { 0.0 })
                + if edges > 0.0 { 60.0 * j } else { 0.0 };
            let mut c = linear(
                n,
                j * per_col,
                0.0,
                rounds,
                600.0 + 130.0 * edges * lv.min(4.0),
                0.0,
            );
            c.compute_seconds += 1e-7 * n * j * edges * lv;
            c
        }
        AnalysisSpec::Crosstab(s) => {
            let cells = (levels(&s.rows).max(1) * levels(&s.columns).max(1)) as f64;
            linear(n, 0.0, 20e3 + 50.0 * cells, 70.0, 64.0, 1e-8 * n * cells)
        }
        AnalysisSpec::Correlation(s) => {
            let p = s.columns.len() as f64;
            linear(
                n,
                16.0 * p,
                50e3,
                125.0,
                400.0 + 140.0 * p,
                1e-7 * n * p * p,
            )
        }
    }
}

/// The extra bytes per row and rounds of a `strata` column with `S` levels: its indicators
/// (multiplied, summed, moved by the sort: about 50 bytes per row and level), `cols`
/// offset columns per stratum but the first (16 bytes per product), `times` times; 20
/// rounds of level checks and 4 offset rounds per time. Nothing without strata. Measured
/// (`tests/strata.rs`, 300 rows, 4 strata, 3 groups, 2 covariates): log-rank +285 bytes
/// per row and +19 rounds (estimated 344, 24); Cox Breslow +970 to +1,000 bytes per row
/// and +32 to +50 rounds (estimated 1160, 36; the rounds vary with the sort's passes).
fn strata_cost(
    strata: Option<&str>,
    levels: &dyn Fn(&str) -> usize,
    cols: f64,
    times: f64,
) -> (f64, f64) {
    match strata {
        None => (0.0, 0.0),
        Some(st) => {
            let s = levels(st).max(1) as f64;
            (
                50.0 * s + 16.0 * cols * (s - 1.0) * times,
                20.0 + 4.0 * times,
            )
        }
    }
}

/// Bytes per row of a Fine–Gray fit, constant and per design column, and its rounds.
/// Measured (`tests/cost.rs`, two causes, the busiest party): 10.9 kB per row at 3
/// covariates, 13.4 kB at 6, at 2,500 and 8,000 rows; 924 to 927 rounds (2026-12-03).
const FINEGRAY_ROW: f64 = 7000.0;
const FINEGRAY_ROW_P: f64 = 800.0;
const FINEGRAY_ROUNDS: f64 = 880.0;

/// The robust (sandwich) standard errors of a Cox model with `p` terms, after the fit: the
/// score residuals once (the at-risk suffix sums of `μ/D`, Efron's group scans, one
/// reciprocal per row) and `Σ s sᵀ`, with `p·(S - 1)` offset products per row for `S` strata.
/// Calibrated on the reference machine (`tests/cost.rs`, 2,500 and 8,000 rows, Efron):
/// +1.8 to +2.1 kB per row at 3 covariates, +3.0 to +3.5 kB at 6; +116 to +131 rounds.
fn robust_cost(n: f64, p: f64, strata: Option<usize>) -> Cost {
    let s = strata.map_or(1.0, |s| s.max(1) as f64);
    let offsets = 16.0 * p * (s - 1.0);
    let rounds = if s > 1.0 { 124.0 } else { 120.0 };
    linear(n, 800.0 + 430.0 * p + offsets, 0.0, rounds, 300.0 * p, 0.0)
}

/// The proportional-hazards test of a Cox model with `p` design columns, after the fit
/// ([`crate::survival::zph`]): `g` per row (a reciprocal and a suffix product, or the
/// ranks), the information's sums weighted by `g` and `g²`, and the small inverses.
/// Calibrated on the reference machine (`tests/cost.rs`, 2,500 and 8,000 rows, Efron, km):
/// +1.6 kB per row at 3 covariates, +1.8 to +1.9 kB at 6; +228 to +237 rounds. With
/// strata, `g` over all rows costs two more sorts (by time, and back by row index): about
/// +2.4 kB per row and +390 rounds more. `identity` and `log` need no pooled order (`g` is
/// the row's own time), so strata add nothing; their per-row work (a logarithm, a scale)
/// is of the size of `km`'s reciprocal and suffix product.
fn zph_cost(n: f64, p: f64, strata: bool) -> Cost {
    let (bytes, rounds) = if strata {
        (3850.0, 620.0)
    } else {
        (1450.0, 232.0)
    };
    linear(n, bytes + 80.0 * p, 0.0, rounds, 300.0 * p, 0.0)
}

/// Harrell's concordance of a Cox model after the fit ([`crate::survival::concordance`]):
/// three sorts of the rows (one on a key of about 100 + `b` bits), the scans of three
/// groupings, and the dominance pass (`8(b² + 13b)` bytes per row and `5b` rounds,
/// `b = ceil(log2 n)`), each growing with `b`. Calibrated on the reference machine
/// (`tests/cost.rs`, 2,500 and 8,000 rows, 3 and 6 covariates, with and without strata):
/// the fit with concordance measured 19.0 and 20.8 kB per row at 3 covariates (the fit
/// alone is estimated at 13.4), 1,890 to 2,030 rounds (the fit: 1,280).
fn concordance_cost(n: f64) -> Cost {
    let b = n.max(2.0).log2().ceil();
    linear(
        n,
        1800.0 + 350.0 * b,
        0.0,
        80.0 + 45.0 * b,
        400.0 + 16.0 * b,
        0.0,
    )
}

/// The concordance's influence summed per group of `points` (a row's two points with
/// delayed entry, a cluster's with `cluster`): a 64-bit sort of the points with one column
/// and a segmented sum, as the clustered fit's. Measured (`tests/cost.rs`, 3 covariates,
/// 2,500 and 8,000 rows): the whole estimate is 0.86x and 0.80x of the bytes sent with
/// entry, 0.93x and 0.86x clustered; 1.2x the rounds.
fn concordance_groups_cost(points: f64) -> Cost {
    linear(points, 900.0, 0.0, 185.0, 0.0, 0.0)
}

/// A `[followup]` derivation ([`crate::followup`]) on `rows` linked rows: one comparison of
/// `3n` elements (`5n` with a censoring date) and a few products per row. Measured on the
/// reference machine (`followup::tests::cost_is_constant_rounds_and_linear_bytes`): 332
/// bytes per row and 13 rounds in days; 540 bytes per row with a censoring date; two more
/// rounds for months or years (a truncation).
pub fn followup(rows: usize, censor: bool, scaled: bool) -> Cost {
    let per_row = if censor { 540.0 } else { 332.0 } + if scaled { 32.0 } else { 0.0 };
    let rounds = if scaled { 15.0 } else { 13.0 };
    linear(rows as f64, per_row, 0.0, rounds, 600.0, 0.0)
}

/// The secret sharing and linkage of the data stations' tables, with each holding about
/// `rows` rows, with the default protocols or with few rounds (`tessera bench link --rows
/// 100000`, 2026-12-04: 2.2 kB per row for the busiest station and 349 rounds; with few
/// rounds (`--latency-ms 5`) 3.6 kB per row and 117 rounds).
pub fn linkage(rows: usize, few_rounds: bool) -> Cost {
    let (per_row, rounds) = if few_rounds {
        (3600.0, 120.0)
    } else {
        (2300.0, 350.0)
    };
    linear(rows as f64, per_row, 0.0, rounds, 3000.0, 0.0)
}

/// The estimated cost of `spec` with the protocols a run takes: the default ones
/// (`few_rounds = false`, stations on one network) or those that spend bytes to save rounds
/// (`tessera_mpc::Party::few_rounds`, the default between stations).
pub fn estimate_for(
    spec: &AnalysisSpec,
    rows: usize,
    levels: &dyn Fn(&str) -> usize,
    few_rounds: bool,
) -> Cost {
    let c = estimate(spec, rows, levels);
    if !few_rounds {
        return c;
    }
    // Few rounds: sorts with more pivots per pass, batched tie tests, one-round truncations
    // (5/3 of the bytes), sigmoids with their sign beside the exponentials: more bytes, fewer
    // rounds, by factors that vary between kinds. With these two factors every kind of
    // `tests/cost.rs` at 2,500 and 8,000 rows was estimated within 0.64 to 1.57 times its
    // measured bytes and 0.78 to 1.56 times its rounds (2026-12-04).
    Cost {
        bytes: c.bytes * FEW_ROUNDS_BYTES,
        rounds: c.rounds * FEW_ROUNDS_ROUNDS,
        memory: c.memory,
        compute_seconds: c.compute_seconds * FEW_ROUNDS_BYTES,
    }
}

/// Bytes with few rounds, relative to the default protocols (see [`estimate_for`]).
const FEW_ROUNDS_BYTES: f64 = 1.45;

/// Rounds with few rounds, relative to the default protocols (see [`estimate_for`]).
const FEW_ROUNDS_ROUNDS: f64 = 0.7;
