//! Net survival in plaintext: relsurv's `rs.surv` (methods `"ederer2"` and
//! `"pohar-perme"`, `type = "kaplan-meier"`, `precision = 1`) with its own arithmetic, the
//! oracle of the MPC protocol's tests.
//!
//! # What relsurv computes (`exp_prep` → the C function `netfastpinter2`)
//!
//! Times are in days. Rows with time 0 are dropped (`rformulate` keeps `time > start`).
//! The *crude* intervals end at the sorted distinct times `t_1 < … < t_m` of the rows;
//! interval `j` runs from `t_{j−1}` (`t_0 = 0`) and is cut into *fine* steps of one day
//! starting at `t_{j−1}`, the last one shorter (`f = min(1, t_j − start)`). Each row `i` has
//! an expected survival `S_i` (1 at time 0). In interval `j`, for every row still at risk at
//! its end (`y_i ≥ t_j`), in each fine step starting at `u`: `λ_i` is the life table's
//! daily rate at (sex, age + u, date + u) (the step's start), and
//!
//! ```text
//! A1 += λ_i / S_i       B1 += 1 / S_i              (S_i at the step's start)
//! A2 += λ_i / S_i'      B2 += 1 / S_i'             (S_i' = S_i · exp(−f λ_i), its end)
//! H  += f · λ_i
//! S_i ← S_i'
//! ```
//!
//! `A1, B1, A2, B2, H` run on over the fine steps of the interval (they are reset only at
//! its start); after each step `fint += (A1/B1/2 + A2/B2/2) · f`, a trapezoid of the running
//! sums (relsurv's arithmetic, not a textbook integral). At the interval's end, with `S_i`
//! at the end: `Y = #{y_i ≥ t_j}`, `D = #{y_i = t_j, event}`, `YS = Σ 1/S_i`,
//! `DS = Σ_{dead at t_j} 1/S_i`, `DS2 = Σ_{dead at t_j} 1/S_i²`. Then
//!
//! ```text
//! Ederer II:    dΛ_j = D/Y − H/Y          se_j = sqrt(Σ_{k≤j} D_k / Y_k²)
//! Pohar Perme:  dΛ_j = DS/YS − fint       se_j = sqrt(Σ_{k≤j} DS2_k / YS_k²)
//! S_j = Π_{k≤j} (1 − dΛ_k)
//! ```
//!
//! `se` is the standard error of `log S` (survfit's `std.err`); the confidence interval
//! (`conf.type = "log"`) is `exp(log S ∓ z·se)` with `z = sqrt(χ²₁(conf))`.
//! `summary(fit, times = grid)` ([`at_grid`]) reports at each grid time the values at the
//! last observed time not after it (1 and 0 before the first), its standard error times the
//! survival, and the number at risk at the first observed time not before it.
//!
//! The sums run over the rows in the order given, as the C loop does, so the results agree
//! with R's to the last few bits.

use crate::dist::normal_quantile;
use crate::error::{Result, StatsError};

use super::table::LifeTable;

/// The length of relsurv's fine steps in days (`rs.surv(precision = 1)`).
pub const PRECISION_DAYS: f64 = 1.0;

/// One patient of a relative survival analysis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RelsurvRow {
    /// Follow-up time in days (`≥ 0`; rows with 0 take no part, as in relsurv).
    pub time: f64,
    /// Whether the follow-up ended in death (otherwise it was censored).
    pub event: bool,
    /// Age at diagnosis in days.
    pub age_days: f64,
    /// Date of diagnosis in days since 1970-01-01.
    pub date_days: f64,
    /// 0 male, 1 female (the life table's sex index).
    pub sex: usize,
}

/// Which net survival estimator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelsurvMethod {
    /// Ederer II: the relative survival ratio (relsurv `method = "ederer2"`).
    EdererII,
    /// Pohar Perme: the net survival, weighted by inverse expected survival (relsurv
    /// `method = "pohar-perme"`).
    PoharPerme,
}

impl RelsurvMethod {
    /// relsurv's name of the method (`"ederer2"`, `"pohar-perme"`).
    pub fn r_name(self) -> &'static str {
        match self {
            RelsurvMethod::EdererII => "ederer2",
            RelsurvMethod::PoharPerme => "pohar-perme",
        }
    }
}

/// The sums of `netfastpinter2` at each observed time (see the module documentation):
/// what an MPC protocol computes before the estimator's last, cheap step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RsSums {
    /// The distinct observed times `t_j` (days, ascending).
    pub time: Vec<f64>,
    /// `Y`: the number at risk at `t_j` (`y_i ≥ t_j`).
    pub yi: Vec<f64>,
    /// `D`: the number of deaths at `t_j`.
    pub dni: Vec<f64>,
    /// `H`: the expected deaths of the interval, `Σ f·λ_i` over its fine steps.
    pub yidli: Vec<f64>,
    /// `YS`: `Σ 1/S_i` over those at risk, `S_i` at `t_j`.
    pub yisi: Vec<f64>,
    /// `DS`: `Σ 1/S_i` over the deaths at `t_j`.
    pub dnisi: Vec<f64>,
    /// `DS2`: `Σ 1/S_i²` over the deaths at `t_j`.
    pub dnisisq: Vec<f64>,
    /// `fint`: the Pohar Perme expected hazard of the interval (relsurv's `yidlisiw`).
    pub fint: Vec<f64>,
}

/// A net survival curve at every observed time, as `rs.surv` returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct RsSurv {
    /// The estimator.
    pub method: RelsurvMethod,
    /// The distinct observed times (days, ascending).
    pub time: Vec<f64>,
    /// The number at risk at each time.
    pub n_risk: Vec<f64>,
    /// The number of deaths at each time.
    pub n_event: Vec<f64>,
    /// The net (Pohar Perme) or relative (Ederer II) survival after each time.
    pub surv: Vec<f64>,
    /// The standard error of `log surv` (relsurv's and survfit's `std.err`).
    pub std_err: Vec<f64>,
}

/// The curve at one time of a grid, as `summary(fit, times = grid)` reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RsPoint {
    /// The grid time (days).
    pub time: f64,
    /// The survival at the last observed time not after `time` (1 before the first).
    pub surv: f64,
    /// The standard error of the survival itself (`std.err · surv`).
    pub std_err: f64,
    /// The lower confidence limit, `exp(log surv − z·se)` (log scale).
    pub lower: f64,
    /// The upper confidence limit, `exp(log surv + z·se)`.
    pub upper: f64,
    /// The number at risk at `time`: at the first observed time not before it.
    pub n_risk: f64,
}

fn invalid(msg: String) -> StatsError {
    StatsError::Invalid(msg)
}

/// Refuses rows that relsurv would misread or that make no sense: a negative or non-finite
/// time, a non-finite or negative age, a non-finite date, a sex other than 0 and 1.
fn check_rows(rows: &[RelsurvRow]) -> Result<()> {
    for (i, r) in rows.iter().enumerate() {
        let row = i + 1;
        if !r.time.is_finite() || r.time < 0.0 {
            return Err(invalid(format!(
                "relative survival: row {row}: follow-up time {} is not a time in days (finite, ≥ 0)",
                r.time
            )));
        }
        if !r.age_days.is_finite() || r.age_days < 0.0 {
            return Err(invalid(format!(
                "relative survival: row {row}: age {} is not an age in days (finite, ≥ 0)",
                r.age_days
            )));
        }
        if !r.date_days.is_finite() {
            return Err(invalid(format!(
                "relative survival: row {row}: the diagnosis date {} is not a date in days since 1970-01-01",
                r.date_days
            )));
        }
        if r.sex > 1 {
            return Err(invalid(format!(
                "relative survival: row {row}: sex index {} is neither 0 (male) nor 1 (female)",
                r.sex
            )));
        }
    }
    Ok(())
}

/// The sums of relsurv's `netfastpinter2` over `rows` (one group) with `table`, at every
/// distinct positive time. Errors on invalid rows or when no row has a positive time.
pub fn rs_sums(rows: &[RelsurvRow], table: &LifeTable) -> Result<RsSums> {
    check_rows(rows)?;
    let rows: Vec<&RelsurvRow> = rows.iter().filter(|r| r.time > 0.0).collect();
    if rows.is_empty() {
        return Err(invalid(
            "relative survival: no row has a positive follow-up time".to_string(),
        ));
    }
    let mut times: Vec<f64> = rows.iter().map(|r| r.time).collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let m = times.len();
    let mut out = RsSums {
        time: times.clone(),
        yi: vec![0.0; m],
        dni: vec![0.0; m],
        yidli: vec![0.0; m],
        yisi: vec![0.0; m],
        dnisi: vec![0.0; m],
        dnisisq: vec![0.0; m],
        fint: vec![0.0; m],
    };
    let mut si = vec![1.0_f64; rows.len()];
    // The rows at risk at the current interval's end, in the given order.
    let mut active: Vec<usize> = (0..rows.len()).collect();
    let mut time = 0.0_f64;
    for (j, &tj) in times.iter().enumerate() {
        active.retain(|&i| rows[i].time >= tj);
        let thiscell = tj - time;
        let (mut ftime, mut a1, mut b1, mut a2, mut b2) = (0.0_f64, 0.0, 0.0, 0.0, 0.0);
        let (mut hazard, mut fint, mut sisum) = (0.0_f64, 0.0_f64, 0.0_f64);
        let (mut dnisi, mut dni, mut dnisisq) = (0.0_f64, 0.0_f64, 0.0_f64);
        while ftime < thiscell {
            let timestart = time + ftime;
            let f = if thiscell - ftime < PRECISION_DAYS {
                thiscell - ftime
            } else {
                PRECISION_DAYS
            };
            sisum = 0.0;
            dnisi = 0.0;
            dni = 0.0;
            dnisisq = 0.0;
            for &i in &active {
                let r = rows[i];
                let lambda =
                    table.daily_rate(r.sex, r.age_days + timestart, r.date_days + timestart);
                let s0 = si[i];
                // the C code evaluates `si * exp(-f λ)` three times: the same double each time
                let s = s0 * (-f * lambda).exp();
                a1 += lambda / s0;
                a2 += lambda / s;
                b1 += 1.0 / s0;
                b2 += 1.0 / s;
                hazard += f * lambda;
                si[i] = s;
                sisum += 1.0 / s;
                if r.time == tj && r.event {
                    dnisi += 1.0 / s;
                    dni += 1.0;
                    dnisisq += 1.0 / (s * s);
                }
            }
            fint += (a1 / b1 / 2.0 + a2 / b2 / 2.0) * f;
            ftime += f;
        }
        out.yi[j] = active.len() as f64;
        out.dni[j] = dni;
        out.yidli[j] = hazard;
        out.yisi[j] = sisum;
        out.dnisi[j] = dnisi;
        out.dnisisq[j] = dnisisq;
        out.fint[j] = fint;
        time += thiscell;
    }
    Ok(out)
}

/// The net survival curve of one group: relsurv's `rs.surv(Surv(time, event) ~ 1,
/// method = ...)` with the life table `table` (see the module documentation). Groups are
/// the caller's: one call per group.
pub fn rs_surv_plain(
    rows: &[RelsurvRow],
    table: &LifeTable,
    method: RelsurvMethod,
) -> Result<RsSurv> {
    Ok(curve_from_sums(&rs_sums(rows, table)?, method))
}

/// The estimator's last step from the sums: the hazard increments, their product and the
/// standard errors (R's `cumprod` and `cumsum`, in order).
pub fn curve_from_sums(s: &RsSums, method: RelsurvMethod) -> RsSurv {
    let m = s.time.len();
    let (mut surv, mut std_err) = (Vec::with_capacity(m), Vec::with_capacity(m));
    let (mut prod, mut var) = (1.0_f64, 0.0_f64);
    for j in 0..m {
        let (haz, dv) = match method {
            RelsurvMethod::EdererII => (
                s.dni[j] / s.yi[j] - s.yidli[j] / s.yi[j],
                s.dni[j] / (s.yi[j] * s.yi[j]),
            ),
            RelsurvMethod::PoharPerme => (
                s.dnisi[j] / s.yisi[j] - s.fint[j],
                s.dnisisq[j] / (s.yisi[j] * s.yisi[j]),
            ),
        };
        prod *= 1.0 - haz;
        var += dv;
        surv.push(prod);
        std_err.push(var.sqrt());
    }
    RsSurv {
        method,
        time: s.time.clone(),
        n_risk: s.yi.clone(),
        n_event: s.dni.clone(),
        surv,
        std_err,
    }
}

/// `z` of a two-sided confidence level, as R's `rs.surv` takes it (`sqrt(qchisq(conf, 1))`).
/// Errors unless `0 < conf_level < 1`.
pub fn z_of(conf_level: f64) -> Result<f64> {
    if !(conf_level > 0.0 && conf_level < 1.0) {
        return Err(invalid(format!(
            "relative survival: conf_level {conf_level} is not a confidence level (strictly between 0 and 1, e.g. 0.95)"
        )));
    }
    Ok(normal_quantile(0.5 + conf_level / 2.0))
}

impl RsSurv {
    /// The confidence limits at every observed time (`conf.type = "log"`):
    /// `(lower, upper)` with `exp(log surv ∓ z·std_err)`.
    pub fn bands(&self, conf_level: f64) -> Result<(Vec<f64>, Vec<f64>)> {
        let z = z_of(conf_level)?;
        Ok(self
            .surv
            .iter()
            .zip(&self.std_err)
            .map(|(&s, &se)| ((s.ln() - z * se).exp(), (s.ln() + z * se).exp()))
            .unzip())
    }
}

/// The curve at the times of `grid` (days), as `summary(fit, times = grid)` reports it: the
/// grid is sorted; times after the last observed time are left out (R's `extend = FALSE`;
/// where it leaves out all of them R stops, this returns an empty vector). Errors on a grid
/// time that is negative or not finite and on a confidence level outside (0, 1).
pub fn at_grid(fit: &RsSurv, grid: &[f64], conf_level: f64) -> Result<Vec<RsPoint>> {
    let z = z_of(conf_level)?;
    if let Some(t) = grid.iter().find(|t| !t.is_finite() || **t < 0.0) {
        return Err(invalid(format!(
            "relative survival: grid time {t} is not a time in days (finite, ≥ 0)"
        )));
    }
    let mut grid = grid.to_vec();
    grid.sort_by(f64::total_cmp);
    let last = fit.time.last().copied().unwrap_or(f64::NEG_INFINITY);
    let mut out = Vec::with_capacity(grid.len());
    for &t in grid.iter().filter(|&&t| t <= last) {
        // the last observed time ≤ t, and the first ≥ t
        let k = fit.time.partition_point(|&x| x <= t);
        let next = fit.time.partition_point(|&x| x < t);
        let n_risk = fit.n_risk.get(next).copied().unwrap_or(0.0);
        let p = if k == 0 {
            RsPoint {
                time: t,
                surv: 1.0,
                std_err: 0.0,
                lower: 1.0,
                upper: 1.0,
                n_risk,
            }
        } else {
            let (s, se) = (fit.surv[k - 1], fit.std_err[k - 1]);
            RsPoint {
                time: t,
                surv: s,
                std_err: se * s,
                lower: (s.ln() - z * se).exp(),
                upper: (s.ln() + z * se).exp(),
                n_risk,
            }
        };
        out.push(p);
    }
    Ok(out)
}
