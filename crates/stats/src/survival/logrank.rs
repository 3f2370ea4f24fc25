//! The k-sample log-rank test (lifelines' `multivariate_logrank_test`, R's `survdiff`).
//!
//! # Protocol
//!
//! In risk-set order ([`RiskOrder`]), on each tie group's end row: the number at risk per
//! group `N_c` (prefix counts) and in all `N`, the events per group `D_c` (segmented sums)
//! and in all `D`. With `e_c = N_c / N` and `w = D (N - D) / (N - 1)`:
//! `E_c = Σ D e_c`, `V_{cc'} = Σ w e_c (δ_{cc'} - e_{c'})`, `O_c = Σ events of c`.
//! The statistic `χ² = (O - E)ᵀ V⁻¹ (O - E)` over the compared groups but the last is
//! computed inside MPC (a group is compared when it carries information, `V_cc > 0`: see
//! [`compared`]; R's `survdiff` likewise drops such a group and counts only the others in the
//! degrees of freedom): `x = (V/2^s)⁻¹ (O - E)` by [`Party::spd_solve`] and `χ²·2^s = (O - E)ᵀ x`,
//! with the public `s` from the number of complete cases (0 up to 2^16 rows, then one
//! more per doubling) keeping `V/2^s` in the solver's range.
//!
//! Without strata (and in every unstratified test) the number at risk `N` is public: the
//! risk order puts the rows that are not complete cases last ([`GroupedRisk::public_at_risk`]),
//! so `N` on row `i` is `min(i + 1, n)` for the opened number `n` of complete cases, and
//! `2^E/N` and `1/(N - 1)` are public constants (rounded once, to the nearest) instead of
//! two shared reciprocals (33 rounds, 9.6 MB at 10,000 rows). With strata `N` is a count
//! within the stratum, which is data: the reciprocals are computed inside MPC, side by side.
//!
//! # Cost
//!
//! Rounds at 10,000 rows (two groups, `tests/survival.rs`
//! `logrank_at_10000_rows_in_100_rounds`; counted from the shared frame to the sealed
//! result, stage by stage with the round counters), before issue 19's changes, now, and now
//! with [`Party::few_rounds`] (set by runs with added latency):
//!
//! | stage | before | now | few rounds |
//! |---|---|---|---|
//! | complete cases; event indicator and level checks (opened counts) | 29 | 2, the rest beside the sort | 2, the rest beside the sort |
//! | sort by time (key 1, lift 7, shuffle 2, 6 rounds per pass) | 117 (18 passes) | 111 (18; no lift) | 33 (5) |
//! | columns moved | 3 | 2 | 2 |
//! | tie groups: equality of neighbours, scan levels, depth opened | 28 | 27 | 15 (one batched test) |
//! | group totals of the events (5 scan levels) | 6 | 6 | 6 |
//! | reciprocals `2^E/N`, `1/(N - 1)` | 33 | 0 (public) | 0 |
//! | sums `E`, `V` | 8 | 7 | 6 |
//! | compared groups (opened), truncations, solve, `χ²` | 45 | 34 (side by side) | 34 |
//! | seal | 1 | 1 | 1 |
//! | total (party 0; the test takes the largest of the three) | 270 | 189 | 99 |
//!
//! Bytes of the busiest party: 33.5 MB before, 22.9 MB now, 48.6 MB with few rounds (the
//! sort's comparisons: 56 per row instead of 19). The benchmark (`tessera bench survival
//! --workloads logrank:10000`) adds the sharing of the input frames.
//! What is left: the sort's 5 passes (a pass is a 79-bit comparison, 6 rounds), the tie
//! levels' two zero tests (7 rounds each: equality of 64-bit keys, then of the levels'
//! counts), the solve's scaling and Newton–Schulz steps (about 28 rounds for a 1×1
//! matrix, of which 17 find the power of two near `1/‖V‖`).
//!
//! # Strata
//!
//! With `strata` (R's `survdiff(... ~ group + strata(s))`), the rows are sorted by stratum
//! and time ([`super::risk::RiskOrder::stratified`]): the tie groups are groups of equal
//! stratum and time, `N_c` are prefix counts within the stratum (two more rounds:
//! one dot product of `k (S - 1)` totals, one round of `n k (S - 1)` integer products, for
//! `S` strata) and every sum above runs over the (stratum, time) groups, which is the sum
//! over strata of each stratum's `O - E` and `V`. Everything else (reciprocals, the solve)
//! is as without strata, on `n` rows. The compute parties learn one more bit ("every
//! stratum has a complete case"), and with `min_level_rows` one bit for the strata.
//!
//! # Precision
//!
//! χ² is within 1e-4 relative of the f64 twin (and of lifelines) at every size. Measured
//! worst (synthetic data, two and four groups, ties): 1.3e-7 at 1,000 rows (10 data sets),
//! 4.7e-7 at 10,000 (30), 1.7e-6 at 100,000 (11; against lifelines on four groups) and
//! 1.7e-6 at 1,000,000 rows (3). Before the two changes below: 6.2e-6, 7.3e-5 and 2.7e-4;
//! with the first alone, 1.9e-4 at 10^6 rows. `logrank_precision_by_size` in
//! `tests/survival.rs` measures it.
//! - V's diagonal grows with the number of events (about `D/4` for two equal groups), so
//!   its inverse is small; rounded to the `f` = 24 fractional bits of
//!   [`Party::spd_inverse`] it kept `24 - log2 ‖V/2^s‖` significant bits (its error was
//!   2e-4 relative at 10^5 rows, and χ² exceeded 1e-4 at 10^4 in about one run in 18).
//!   [`Party::spd_solve`] keeps the inverse at 32 bits and rounds only the solution, in
//!   the same rounds.
//! - The weight `(N - D)/(N - 1)` is computed as `1 - (D - 1)/(N - 1)`: the ulp of
//!   `1/(N - 1)` is multiplied by `D - 1`, not by `N` (V was off by 1.7e-5 at 10^5 rows,
//!   growing with N).
//!
//! # What the compute parties learn
//!
//! The number of complete cases, one bit "every level has a complete case" and, with
//! `min_level_rows`, one bit "every level has enough" ([`GroupedRisk`]), both for the
//! group's levels and (stratified) again for the strata's; with
//! `observed_expected`, per group whether it has at least `min_cell` complete cases; per
//! group, whether anybody of it is at risk at an event time together with another group
//! (whether it is compared; the recipients are told which groups are not). Nothing else (the sort's comparison bits are simulatable).
//!
//! # What the recipients get
//!
//! `χ²` (sealed, [`crate::sealed`]), and the observed and expected events per group only
//! when the study asks for them, and only for groups of at least `min_cell` complete cases
//! (default 10, as Kaplan–Meier; a group of 2 showed `observed 1.00` under `min_cell = 10`); the p-value is computed from `χ²` at the recipient
//! ([`LogrankPublic`]'s [`Tail`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_mpc::fixed::decode;
use tessera_mpc::linalg::DEFAULT_MAX_COND;
use tessera_mpc::{AShare, Party};

use crate::analysis::LogrankSpec;
use crate::disclosure::{at_least, Disclosure};
use crate::dist::chi2_sf;
use crate::error::{Result, StatsError};
use crate::sealed::{Sealed, Tail};
use crate::table::{Frame, PlainFrame};

use super::risk::GroupedRisk;

/// Extra bits of the group shares `N_c/N`.
const SHARE_BITS: u32 = 12;

/// Observed and expected events and their covariance, before the statistic.
#[derive(Clone, Debug, PartialEq)]
pub struct LogrankRaw {
    /// Observed events per group.
    pub observed: Vec<f64>,
    /// Expected events per group under equal hazards.
    pub expected: Vec<f64>,
    /// Covariance of `O - E`, k×k row-major.
    pub covariance: Vec<f64>,
    /// Complete cases.
    pub n: u64,
}

/// The result of a log-rank test.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogrankResult {
    /// The group column.
    pub group_column: String,
    /// Its levels.
    pub groups: Vec<String>,
    /// The strata column of a stratified test (None: unstratified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strata_column: Option<String>,
    /// Complete cases.
    pub n: u64,
    /// Degrees of freedom: the groups compared, less one (`k - 1` unless a group is in
    /// [`LogrankResult::not_compared`]).
    pub df: usize,
    /// The test statistic.
    pub chi_square: f64,
    /// Its p-value.
    pub p: f64,
    /// Observed events per group (only if the study asked; `None` for a group of fewer
    /// than `min_cell` complete cases).
    pub observed: Option<Vec<Option<f64>>>,
    /// Expected events per group (likewise).
    pub expected: Option<Vec<Option<f64>>>,
    /// Groups left out of the statistic because nobody of theirs is at risk at an event
    /// time together with another group (e.g. all censored before the first event): they
    /// carry no information, and keeping them made the covariance singular. R's `survdiff`
    /// drops them the same way (its degrees of freedom are the covariance's rank).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_compared: Vec<String>,
}

/// Which groups a log-rank test compares: those whose variance `V_cc` is positive.
/// `V_cc` is a sum of `w e_c (1 - e_c)` over event times, and each positive term is at least
/// `1/(2N)` (`w ≥ 1` where `D < N`, `e_c (1 - e_c) ≥ (N - 1)/N²`), so half that, `1/(4n)` for
/// `n` complete cases, separates "no information" from any information with room for the
/// fixed point's rounding. Errors when fewer than two groups are left.
fn compared(variances: &[f64], n: u64) -> Result<Vec<bool>> {
    let keep: Vec<bool> = variances.iter().map(|&v| v >= no_information(n)).collect();
    check_compared(&keep)?;
    Ok(keep)
}

/// The smallest variance of a group with information (see [`compared`]).
fn no_information(n: u64) -> f64 {
    1.0 / (4.0 * n.max(1) as f64)
}

/// Refuses a test where fewer than two groups carry information.
fn check_compared(keep: &[bool]) -> Result<()> {
    if keep.iter().filter(|&&b| b).count() < 2 {
        return Err(StatsError::Invalid(
            "log-rank test: fewer than two groups have anyone at risk at an event time together \
             with another group, so there is nothing to compare; check the group column and the \
             follow-up"
                .into(),
        ));
    }
    Ok(())
}

/// Per group: a value, or `None` where the group is below `min_cell`.
type Shown = Vec<Option<f64>>;

fn result(
    spec: &LogrankSpec,
    groups: Vec<String>,
    tested: &[bool],
    n: u64,
    chi: f64,
    oe: Option<(Shown, Shown)>,
) -> LogrankResult {
    let not_compared: Vec<String> = groups
        .iter()
        .zip(tested)
        .filter(|(_, &t)| !t)
        .map(|(g, _)| g.clone())
        .collect();
    let df = groups.len() - not_compared.len() - 1;
    let (observed, expected) = match oe {
        Some((o, e)) => (Some(o), Some(e)),
        None => (None, None),
    };
    LogrankResult {
        group_column: spec.group.clone(),
        groups,
        strata_column: spec.strata.clone(),
        n,
        df,
        chi_square: chi,
        p: chi2_sf(chi, df as f64),
        observed,
        expected,
        not_compared,
    }
}

/// χ² from the raw ingredients in plaintext (the twin's last step), with the groups it
/// compares ([`compared`]).
fn chi_square(raw: &LogrankRaw) -> Result<(f64, Vec<bool>)> {
    let k = raw.observed.len();
    let diag: Vec<f64> = (0..k).map(|c| raw.covariance[c * k + c]).collect();
    let tested = compared(&diag, raw.n)?;
    let idx = kept_but_last(&tested);
    let m = idx.len();
    let d: Vec<f64> = idx
        .iter()
        .map(|&c| raw.observed[c] - raw.expected[c])
        .collect();
    let v: Vec<f64> = (0..m * m)
        .map(|i| raw.covariance[idx[i / m] * k + idx[i % m]])
        .collect();
    let x = super::plain::spd_solve(&v, &d, m)
        .ok_or_else(|| StatsError::Invalid("log-rank covariance is singular".into()))?;
    Ok((d.iter().zip(&x).map(|(a, b)| a * b).sum(), tested))
}

/// The compared groups but the last: the statistic's coordinates (the last is implied, as
/// `O - E` sums to zero over the compared groups).
fn kept_but_last(keep: &[bool]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..keep.len()).filter(|&c| keep[c]).collect();
    idx.pop();
    idx
}

/// The plaintext twin.
pub fn logrank_plain(
    frame: &PlainFrame,
    spec: &LogrankSpec,
    disclosure: &Disclosure,
) -> Result<LogrankResult> {
    let groups = frame.categorical(&spec.group)?.0.to_vec();
    if groups.len() < 2 {
        return Err(StatsError::Invalid(
            "the log-rank test needs two or more groups".into(),
        ));
    }
    let raw = super::plain::logrank(frame, spec)?;
    disclosure.check_rows(raw.n as usize)?;
    super::plain::check_strata(
        frame,
        super::plain::Outcome::new(&spec.time, &spec.event),
        &[],
        Some(&spec.group),
        spec.strata.as_deref(),
        disclosure,
    )?;
    // As in MPC ([`GroupedRisk`]): a declared level without complete cases is refused
    // before any statistic (not merely left out as a group without information).
    let rows = super::plain::group_rows(frame, spec)?;
    if rows.contains(&0) {
        return Err(StatsError::Invalid(format!(
            "a level of {} has no complete cases: drop it from the study's levels",
            spec.group
        )));
    }
    let (chi, tested) = chi_square(&raw)?;
    let oe = spec.observed_expected.then(|| {
        let min_cell = disclosure.min_cell_or(super::km::DEFAULT_MIN_CELL);
        let keep = |v: &[f64]| -> Vec<Option<f64>> {
            v.iter()
                .zip(&rows)
                .map(|(&x, &r)| (r >= min_cell).then_some(x))
                .collect()
        };
        Ok::<_, StatsError>((keep(&raw.observed), keep(&raw.expected)))
    });
    let oe = oe.transpose()?;
    Ok(result(spec, groups, &tested, raw.n, chi, oe))
}

/// Local transpose of `k` columns of `n` rows (stored one after the other) into row-major
/// `n × k`.
pub(crate) fn columns_to_rows(cols: &[AShare<u128>]) -> AShare<u128> {
    let k = cols.len();
    let n = cols.first().map_or(0, AShare::len);
    let mut a = vec![0u128; n * k];
    let mut b = vec![0u128; n * k];
    for (c, col) in cols.iter().enumerate() {
        for i in 0..n {
            a[i * k + c] = col.a[i];
            b[i * k + c] = col.b[i];
        }
    }
    AShare { a, b }
}

/// What the compute parties know of a log-rank test and the recipient's tail needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogrankPublic {
    /// The analysis.
    pub spec: LogrankSpec,
    /// Fractional bits of the sealed values.
    pub frac_bits: u32,
    /// The group's levels.
    pub groups: Vec<String>,
    /// Complete cases (opened: documented leakage).
    pub n: u64,
    /// `χ²` is sealed as `χ²/2^scale` (public: from `n`).
    pub scale: u32,
    /// With `observed_expected`: per group, whether it has `min_cell` complete cases (its
    /// observed and expected events are sealed only then).
    #[serde(default)]
    pub oe_shown: Vec<bool>,
    /// Per group, whether the statistic compares it ([`compared`]; opened: documented
    /// leakage). Empty in results sealed before this existed: every group.
    #[serde(default)]
    pub tested: Vec<bool>,
}

impl Tail for LogrankPublic {
    type Result = LogrankResult;

    /// Values: `χ²/2^scale`, then (if asked) the observed and the expected events per group.
    fn open(&self, vals: &[u128]) -> Result<LogrankResult> {
        let (f, k) = (self.frac_bits, self.groups.len());
        let shown = self.oe_shown.iter().filter(|&&b| b).count();
        let want = 1 + if self.spec.observed_expected {
            2 * shown
        } else {
            0
        };
        let fits = !self.spec.observed_expected || self.oe_shown.len() == k;
        if vals.len() != want || k < 2 || self.scale > 64 || !fits {
            return Err(StatsError::Invalid(format!(
                "log-rank: {} sealed values, expected {want}",
                vals.len()
            )));
        }
        let chi = decode(vals[0], f) / 2f64.powi(self.scale as i32);
        let oe = self.spec.observed_expected.then(|| {
            let dec = |s: &[u128]| {
                let mut it = s.iter();
                self.oe_shown
                    .iter()
                    .map(|&b| {
                        if b {
                            it.next().map(|&x| decode(x, f))
                        } else {
                            None
                        }
                    })
                    .collect::<Vec<_>>()
            };
            (
                dec(&vals[1..1 + shown]),
                dec(&vals[1 + shown..1 + 2 * shown]),
            )
        });
        let tested = if self.tested.is_empty() {
            vec![true; k]
        } else {
            self.tested.clone()
        };
        if tested.len() != k {
            return Err(StatsError::Invalid(format!(
                "log-rank: {} compared-group flags for {k} groups",
                tested.len()
            )));
        }
        check_compared(&tested)?;
        Ok(result(
            &self.spec,
            self.groups.clone(),
            &tested,
            self.n,
            chi.max(0.0),
            oe,
        ))
    }
}

/// `round(2^bits / m)` for a public count `m` (0 for `m = 0`, which no product reads).
fn recip_const(m: u64, bits: u32) -> u128 {
    if m == 0 {
        return 0;
    }
    let m = m as u128;
    ((1u128 << bits) + m / 2) / m
}

/// Per group, whether its variance (shared, `bits` fractional bits) reaches
/// [`no_information`]`(n)`: the one bit per group the compute parties learn (see the callers'
/// LEAKAGE notes).
fn informative(p: &mut Party, variances: &[AShare<u128>], n: u64, bits: u32) -> Result<Vec<bool>> {
    let threshold = (no_information(n) * 2f64.powi(bits as i32)).ceil() as u64;
    let v = AShare::concat(&variances.iter().collect::<Vec<_>>());
    let ok = at_least(p, &v, threshold)?;
    Ok(p.reveal(&ok)?.iter().map(|&b| b == 1).collect())
}

/// Log-rank test in MPC; see the module docs. Ends with the result sealed for the recipients.
pub fn logrank(
    p: &mut Party,
    frame: &Frame,
    spec: &LogrankSpec,
    disclosure: &Disclosure,
) -> Result<Sealed<LogrankPublic>> {
    let f = p.frac_bits();
    let n = frame.rows;
    let g = frame.categorical(&spec.group)?;
    let k = g.levels.len();
    if k < 2 {
        return Err(StatsError::Invalid(
            "the log-rank test needs two or more groups".into(),
        ));
    }
    let gr = GroupedRisk::new(
        p,
        frame,
        &spec.time,
        &spec.event,
        (None, false),
        Some(&spec.group),
        spec.strata.as_deref(),
        disclosure,
    )?;
    let total = gr.total;
    let (nc, dc, observed) = (&gr.at_risk, &gr.deaths, &gr.observed);
    let big_d = dc.iter().fold(AShare::zeros(n), |acc, x| acc.add(x));
    let d1 = p.add_const(&big_d, 1u128.wrapping_neg());
    // e_c·2^E; b = (N - D)/(N - 1) = 1 - (D - 1)/(N - 1); w = D·b. The second form: 1/(N - 1)
    // carries an absolute error of an ulp or two, which (N - D)/(N - 1) multiplies by N
    // (a relative error of about N·2^-24 per row, 1e-3 at N = 10^5) and (D - 1)/(N - 1) only
    // by D - 1 (0 at single events). Rows off group ends or without events carry D = 0,
    // which zeroes whatever the reciprocals hold there; at N = 1 with an event, b is 1
    // instead of 0/0, and multiplies e_c(1 - e_c) = 0 (a group share of 0 or 1).
    let mut e = match gr.public_at_risk() {
        // Without strata N is public (the complete cases come first in risk-set order):
        // the reciprocals are public constants, rounded once, and the products local.
        Some(at) => {
            let r_n: Vec<u128> = at.iter().map(|&m| recip_const(m, f + SHARE_BITS)).collect();
            let r_n1: Vec<u128> = at.iter().map(|&m| recip_const(m - 1, f)).collect();
            let mut e: Vec<AShare<u128>> = nc.iter().map(|x| x.mul_public(&r_n)).collect();
            e.push(d1.mul_public(&r_n1));
            e
        }
        None => {
            let big_n = nc.iter().fold(AShare::zeros(n), |acc, x| acc.add(x));
            let minus1 = p.add_const(&big_n, 1u128.wrapping_neg());
            // e_c = N_c/N is kept with E extra bits (2^E/N): the shares of small groups are
            // small. The two reciprocals are independent: side by side, in the rounds of one.
            let (r_n, r_n1) = p.side_by_side(
                |q| q.recip_pow2(&big_n.shl(f), SHARE_BITS),
                |q| q.recip(&minus1.shl(f)),
            )?;
            let mut pairs: Vec<(&AShare<u128>, &AShare<u128>)> =
                nc.iter().map(|x| (x, &r_n)).collect();
            pairs.push((&d1, &r_n1));
            p.mul_many(&pairs)?
        }
    };
    let b = p.add_const(&e.pop().expect("b").neg(), 1u128 << f);
    let w = p.mul(&big_d, &b)?;
    // E_c = Σ D e_c; diag_c = Σ w e_c; cross = Eᵀ diag(w) E, all carrying 2^E.
    let reps: Vec<&AShare<u128>> = std::iter::repeat_n(&big_d, k).collect();
    let d_rep = AShare::concat(&reps);
    let e_all = AShare::concat(&e.iter().collect::<Vec<_>>());
    let expected = p.dot(&d_rep, &e_all, n)?;
    let reps: Vec<&AShare<u128>> = std::iter::repeat_n(&w, k).collect();
    let w_rep = AShare::concat(&reps);
    let we = p.mul_trunc(&w_rep, &e_all, f)?;
    let diag = we
        .split(&vec![n; k])
        .iter()
        .map(AShare::sum)
        .collect::<Vec<_>>();
    let e_rows = columns_to_rows(&e);
    let cross = p.matmul(&we, &e_rows, k, n, k)?;
    let cross = p.trunc(&cross, f + SHARE_BITS)?;
    // LEAKAGE: per group, whether it carries information (V_cc ≥ 1/(4n), see [`compared`]):
    // whether anybody of the group is at risk at an event time together with another group.
    // A group that never is (e.g. all censored before the first event) would make V
    // singular; it is left out of the statistic, as R's survdiff does.
    let v_diag: Vec<AShare<u128>> = (0..k)
        .map(|c| diag[c].sub(&cross.slice(c * k + c..c * k + c + 1)))
        .collect();
    // Back to scale f, and by a further 2^-s into the inverse's range (‖V‖ ≤ 2^16):
    // χ² = dᵀ (V/2^s)⁻¹ d / 2^s. The diagonal of V grows with the events (about D/4 for
    // two equal groups), so its inverse is small: at f bits (`spd_inverse`) it kept only
    // 24 - log2‖V/2^s‖ significant bits, 2e-4 relative at 10^5 rows. `spd_solve` keeps the
    // inverse at 32 bits and rounds only x = (V/2^s)⁻¹ d (of the order of 2^s·d/V) to f bits.
    let s = ((total as f64 / 4.0).max(1.0).log2().ceil() as i32 - 14).max(0) as u32;
    let o_all = AShare::concat(&observed.iter().collect::<Vec<_>>()).shl(f);
    // χ² over the groups `idx` (the compared ones but the last), and the expected events at
    // scale f. Opens nothing.
    let solve = |q: &mut Party, idx: &[usize]| -> Result<(AShare<u128>, AShare<u128>)> {
        let m = idx.len();
        // V restricted to the compared groups but the last.
        let mut v = Vec::with_capacity(m * m);
        for &i in idx {
            for &j in idx {
                let c = cross.slice(i * k + j..i * k + j + 1).neg();
                v.push(if i == j { c.add(&diag[i]) } else { c });
            }
        }
        // V and the expected events in one truncation: the latter shifted up by s first
        // (exact: below 2^(f + E + 14 + s) < 2^100).
        let both = q.trunc(
            &AShare::concat(&[
                &AShare::concat(&v.iter().collect::<Vec<_>>()),
                &expected.shl(s),
            ]),
            SHARE_BITS + s,
        )?;
        let mut both = both.split(&[m * m, k]);
        let expected = both.pop().expect("two");
        let v = both.pop().expect("two");
        let diff = o_all.sub(&expected);
        let diff = crate::describe::gather(&diff, idx);
        // A 1×1 matrix has condition number 1: the solver's schedule for that is short.
        let cond = if m == 1 { 1.0 } else { DEFAULT_MAX_COND };
        let x = q.spd_solve_cond(&v, &diff, m, 1, cond)?;
        Ok((q.dot_fix(&diff, &x, m)?, expected))
    };
    // Which groups are compared (opened) decides the solve's groups; nearly always all of
    // them, so the solve for all groups runs beside the test and is redone only otherwise.
    let all_but_last: Vec<usize> = (0..k - 1).collect();
    let (tested, guess) = p.side_by_side(
        |q| informative(q, &v_diag, total, f + SHARE_BITS),
        |q| solve(q, &all_but_last),
    )?;
    check_compared(&tested)?;
    let idx = kept_but_last(&tested);
    let (chi, expected) = if idx == all_but_last {
        guess
    } else {
        solve(p, &idx)?
    };
    let mut open = vec![chi];
    let mut oe_shown = Vec::new();
    if spec.observed_expected {
        // Only groups of min_cell complete cases show their observed and expected events.
        let min_cell = disclosure.min_cell_or(super::km::DEFAULT_MIN_CELL);
        let sums: Vec<AShare<u128>> = gr.rows().0.iter().map(AShare::sum).collect();
        let ok = at_least(
            p,
            &AShare::concat(&sums.iter().collect::<Vec<_>>()),
            min_cell,
        )?;
        // LEAKAGE: per group, whether it has at least min_cell complete cases (the
        // suppression pattern of the observed/expected table).
        oe_shown = p.reveal(&ok)?.iter().map(|&b| b == 1).collect();
        let pick = |v: &AShare<u128>| {
            let parts: Vec<AShare<u128>> = (0..k)
                .filter(|&c| oe_shown[c])
                .map(|c| v.slice(c..c + 1))
                .collect();
            AShare::concat(&parts.iter().collect::<Vec<_>>())
        };
        open.push(pick(&o_all));
        open.push(pick(&expected));
    }
    // Sealed for the recipients: nothing of the result is opened here.
    let public = LogrankPublic {
        spec: spec.clone(),
        frac_bits: f,
        groups: g.levels.to_vec(),
        n: total,
        scale: s,
        oe_shown,
        tested,
    };
    Sealed::new(p, public, &AShare::concat(&open.iter().collect::<Vec<_>>()))
}

impl fmt::Display for LogrankResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.strata_column {
            Some(s) => writeln!(
                f,
                "Log-rank test by {}, stratified by {} ({} complete cases)",
                self.group_column, s, self.n
            )?,
            None => writeln!(
                f,
                "Log-rank test by {} ({} complete cases)",
                self.group_column, self.n
            )?,
        }
        writeln!(
            f,
            "  null_distribution = chi squared, degrees_of_freedom = {}",
            self.df
        )?;
        writeln!(
            f,
            "  test_statistic = {:.4}, p = {:.4e}, -log2(p) = {:.2}",
            self.chi_square,
            self.p,
            -self.p.log2()
        )?;
        if !self.not_compared.is_empty() {
            writeln!(
                f,
                "  not compared (nobody at risk at an event time with another group): {}",
                self.not_compared.join(", ")
            )?;
        }
        if let (Some(o), Some(e)) = (&self.observed, &self.expected) {
            writeln!(f, "  {:>12} {:>10} {:>10}", "group", "observed", "expected")?;
            for ((g, o), e) in self.groups.iter().zip(o).zip(e) {
                match (o, e) {
                    (Some(o), Some(e)) => writeln!(f, "  {g:>12} {o:>10.2} {e:>10.2}")?,
                    _ => writeln!(f, "  {g:>12} {:>10} {:>10}", "suppressed", "-")?,
                }
            }
        }
        Ok(())
    }
}
