//! Competing risks: the cumulative incidence function (Aalen–Johansen estimator, as R's
//! `cmprsk::cuminc`) per cause and group on a time grid, with cmprsk's variance.
//!
//! # The estimator and its variance
//!
//! The event column holds the cause: 0 = censored, `1..=K` = the causes (`K` public, from
//! the spec). Within a group, at the distinct times `t_j` with `n_j` at risk, `d_j` events of
//! any cause, `d_{1j}` of the cause of interest and `d_{2j} = d_j - d_{1j}` of the others,
//! `S_j = S(t_j-)` the all-cause Kaplan–Meier survival just before `t_j`:
//!
//! ```text
//! F(t) = Σ_{t_j ≤ t} S_j d_{1j} / n_j
//! ```
//!
//! cmprsk's variance (Gray's delta-method form, `cinc` in `cincsub.f`) accumulates, at every
//! event time, with `S'_j = S_j (n_j - d_j)/n_j`, `F_j = F(t_j)` (after the jump) and
//! `e_{xj} = d_{xj} (1 - (d_{xj} - 1)/(n_j - 1))` (cmprsk's tie correction), three sums
//! `v1, v2, v3`, and reports `v1 + F² v3 - 2 F v2` at each jump of `F`; at a grid time it
//! is read at the last jump at or before it. Writing the sums out, the variance at the grid
//! time `τ` with `F = F(τ)` is
//!
//! ```text
//! V(τ) = Σ_{t_j ≤ τ} e_{1j} (S_j/n_j + (F_j - F)/(n_j - d_j))²
//!                  + e_{2j} ((F_j - F)/(n_j - d_j))²
//! ```
//!
//! (terms with `1/(n_j - d_j)` are zero where the whole risk set fails, as in cmprsk). It
//! may be evaluated at `τ` rather than at the last jump before it: a time after that jump
//! has `F_j = F` and no cause-1 events, so it adds exactly zero. Expanded in `F`:
//!
//! ```text
//! V(τ) = α(τ) - 2 F β(τ) + F² γ(τ),    α, β, γ = Σ_{t_j ≤ τ} of
//! A_j = S_j² e_{1j}/n_j²,   B_j = S_j e_{1j}/(n_j (n_j - d_j)),
//! C_j = (e_{1j} + e_{2j})/(n_j - d_j)²
//! α_j = A_j + 2 F_j B_j + F_j² C_j,    β_j = B_j + F_j C_j,    γ_j = C_j
//! ```
//!
//! so, like `F` itself, the three are suffix sums in risk-set order, and no quantity is
//! divided by a survival probability (which may be close to zero).
//!
//! # Gray's k-sample test
//!
//! With `gray_test` (and a group column of `k ≥ 2` levels), per cause Gray's test of equal
//! cumulative incidence across the groups (cmprsk's `Tests`, `rho` = 0, no strata). cmprsk's
//! `crst` ([`gray_test_plain`], the oracle) runs forward in time with the weights
//! `w_g = n_g/S_g(t-)` and a running matrix `c` inside the variance terms. Rewritten for
//! MPC ([`gray_test_suffix`] is this form in f64; the two agree to 1e-13 on random data):
//! per distinct time, with `tr = Σ_g w_g`, `π_g = w_g/tr`, `nd1` the pooled events of the
//! cause, `F` the pooled estimate (`F(t) = Σ_{t' ≤ t} nd1/tr`), `F_g` the group's own,
//!
//! ```text
//! score_i = Σ_t d1_i - nd1 w_i (1 - F_i(t-)) / Σ_g w_g (1 - F_g(t-))      (i < k - 1)
//! Δc_ig   = π_i (δ_ig - π_g) nd1 / (1 - F(t-)),   R_ig(t) = Σ_{t' > t} Δc_ig(t')
//! γ_ig    = δ_ig - π_i + (S_g(t-)/n_g - (1 - F(t))/(n_g - d_g)) R_ig
//! λ_g     = nd1 π_g (1 - (nd1 - 1) ι_g/(1 - ι_g)),   ι_g = (1/S_g(t-))/tr = π_g/n_g
//! V_ij    = Σ_t Σ_g λ_g γ_ig γ_jg + e2_g ((1 - F(t))/(n_g - d_g))² R_ig R_jg
//! ```
//!
//! (`e2_g` the tie-corrected events of the other causes, as above). cmprsk's final
//! `v + c v3 c + c v2 + v2 c` with the total `c` collapses per time into these products,
//! because `c_total - c(t) = R(t)`; and multiplying its `a_ig + t4_g (c_total - c)_ig` by
//! `S_g(t-)/n_g` turns every `1/S_g` into `S_g/n_g` or `1/(n_g - d_g)`. The only survival
//! divisions left are in the weights `w_g`, computed as `n_g · (1/S_g)` with `1/S_g(t-)`
//! the product of the factors `n/(n - d) = 1 + d/(n - d)`: all at least 1, so the product
//! keeps its relative precision where `S_g` is small (where `S_g` itself, a fixed-point
//! number, would not). `1/S_g(t-) ≤ n_g(0)/n_g` (Kaplan–Meier is at least the fraction at
//! risk), so `w_g` is at most the group's size.
//!
//! In MPC, after the estimator's columns (risk-set order, latest first): `1/S_g` as suffix
//! products of `1 + D·2^G/(N - D)` kept at `f + e` fractional bits (`e = ⌊19 - log2 n⌋`,
//! at most 12, public from the number of complete cases: as many as the products' range
//! allows); `w_g = N_g/S_g`; one batched reciprocal `2^H/tr`, `2^H/tq_j` (`H` = 20; both at
//! least the number at risk on the rows that count), with `tq`'s `1 - F_g` taken at
//! `f + G` bits; `ι_g`, `π_g = N_g ι_g` (exactly zero
//! where the group has nobody at risk, so every meaningless reciprocal of such a row meets
//! an exact zero), the pooled `2^H F` as a suffix sum; one batched reciprocal of `1 - F(t-)`
//! and `1 - ι_g`; `Δc`, then `R` as shifted prefix sums; `γ`, `λ` and the
//! `(1 - F)/(n_g - d_g) R` terms; `V` and the scores as dot products; then per cause, as the
//! log-rank test, `χ² = sᵀ (V/2^s)⁻¹ s / 2^s` by [`Party::spd_solve`] with the log-rank
//! test's public `s`, sealed. Rows off the tie-group ends carry `D = 0`, which zeroes every
//! term. The p-value (χ², `k - 1` degrees of freedom) is computed at the recipient.
//!
//! # Protocol
//!
//! Each cause value is compared for equality with `0..=K` (64-bit, exact): the indicators
//! give the cause columns, and a complete case matching none of them is an error naming the
//! column. Rows are put in risk-set order ([`RiskOrder`], latest first) with, per group
//! level `c`, the complete-case indicator and the `K` cause indicators. The number at risk
//! `N` is a prefix count, the events per cause `D_k` are segmented sums on tie-group ends,
//! `D = Σ_k D_k`. With `2^G/N`, `2^G/(N - D)` (zero where `N = D`) and `2^G/(N - 1)` from one
//! batched reciprocal (`G` = 20 extra bits: the terms of large risk sets are small):
//! - the Kaplan–Meier factors `1 - D/N`, their suffix products (`S` after each time) and, by
//!   a shift, `S_j` just before;
//! - per cause, the increments `2^G S_j D_k/N` and their suffix sums `2^G F`;
//! - the tie-corrected counts `e_1, e_2`, the terms `A, B, C` at scale `2^G`, then `α_j,
//!   β_j, γ_j` and their suffix sums;
//! - at each grid time the first row with `t ≤ τ` is found by comparisons with the public
//!   `τ` (in chunks of [`GRID_BATCH`], as Kaplan–Meier) and `2^G F`, `F`, `α, β, γ` are
//!   picked by dot products; the number at risk `#{T ≥ τ}` and the cumulative events of any cause
//!   `≤ τ` are dot products with comparison indicators;
//! - per cell, `2^G V = α - 2Fβ + F²γ` (two products).
//!
//! A cell (group × grid time; all causes of the group together) is shown only with at least
//! `min_cell` at risk and at least `min_events` events of any cause since the previous shown
//! time of the group's curves (or since the start), decided inside MPC by Kaplan–Meier's rule
//! ([`super::km`]); suppressed cells are sealed as zero.
//!
//! # At every event time
//!
//! With `at_event_times` (needs the disclosure rules' `allow_event_times`, as Kaplan–Meier's),
//! per group and cause the estimate and cmprsk's variance also at every time where an event
//! of any cause happened in the group, with at least `min_cell` at risk: the step functions a
//! plot draws. The value listed at `t` is the step function just after `t`, i.e. R's
//! `timepoints(fit, t)` (cmprsk's own `$time` lists each jump of the cause twice, before and
//! after, and only the cause's own jumps; between them the estimate and the variance are
//! constant, so every jump's after-value is one of these rows). In MPC, `V` is also evaluated
//! at every row of the risk order (`α - 2Fβ + F²γ` with the row's suffix sums, three products
//! per row, group and cause), and Kaplan–Meier's event table ([`super::km`]) shuffles the rows
//! (time, at risk, events of any cause, `2^G F` and `2^G V` per cause, group), opens which
//! shuffled rows are tie-group ends of events with `min_cell` at risk, and gathers those, still
//! shared, for sealing. With `censor_marks` also, as Kaplan–Meier's, the rows where anybody of
//! the group leaves the risk set (the tie groups' sizes, a segmented sum), each with the
//! number censored (`sizes - D`) as one more column. Measured (`tests/cuminc.rs`, against `fixtures/cuminc/cuminc_events.json`):
//! estimates within 9e-8 absolute and standard errors within 1.3e-5 relative of R; the twin
//! within 5e-16 and 2.4e-15.
//!
//! # Precision
//!
//! Against R's `cmprsk::cuminc` 2.2.11 on the committed fixtures (1,500 synthetic rows with
//! monthly ties, and `survival::mgus2`, 1,384 rows; two groups, two causes), measured by
//! `tests/cuminc.rs` (default 24 fractional bits; truncation is probabilistic, so the figures
//! move a little between runs; worst of four runs): estimates within 2.5e-7 absolute and
//! standard errors within 5e-6 relative (the issue asks 1e-4 and 1e-3); the plaintext twin
//! matches R to 5e-16 and 1.5e-15. Against the twin on random data (30–180 rows, 1–3 groups,
//! 2–3 causes, heavy ties): within 1.5e-7 and 7e-6; on 20,000 rows (3 groups, 3 causes,
//! 1,825 distinct times; 1.6 s in memory): 3.3e-7 and 4.9e-6. The dominant error is the
//! fixed-point survival `S` entering both; the extra `2^G` scale keeps the small per-time
//! terms of large risk sets exact to about 2^-44.
//!
//! Gray's test (`tests/cuminc.rs`, and 30 + 12 further random data sets measured once
//! while writing it): against R on the two fixtures (four statistics, 1.19 to 27.9) within
//! 9e-7 relative; against [`gray_test_plain`] on random data (100–2000 rows, 2–3 groups, 2
//! causes, 5–300 distinct times, ties, 0–50% censored, with and without group effects)
//! within 3e-6 relative for statistics above 0.3, 1.4e-5 for the smallest (0.02); on 2,000
//! rows without censoring and with 3,000 possible times (survival down to 1/n) within 1.3e-5
//! above 0.2 and 3.6e-5 for a statistic of 0.037. A statistic near zero (9e-7 on one data set)
//! is off by about 1e-8 absolute. The error is that of the scores `O - E`, a small difference
//! of sums of the order of the events: it was set by the precision of `1/S_g` (the suffix
//! products at `f` bits: up to 1.7e-4 relative on the 0.037 statistic, 8e-5 above 0.2), not
//! by the reciprocals (a Newton step on `2^H/tr, 2^H/tq` changed nothing measurable), hence
//! the `e` extra bits. The variance `V` is within about 2e-7 relative. Computing `1/S_g` as
//! the reciprocal of the shared `S_g` instead gave errors of the same order as the `f`-bit
//! products on these data (worst 1.0e-4 on the 0.037 statistic, survival down to 5e-4): the
//! products avoid a reciprocal of a small number, but the gain measured came from the extra
//! bits.
//!
//! Valid range: fewer than 2^19 complete cases (the largest fixed-point products stay
//! below 2^39, see [`tessera_mpc::fixed`]).
//! Gray's test keeps to the same range (its widest sum, `Σ nd1 ρ` at `2f + H` bits, stays
//! below 2^87 there), but has been measured only up to 2,000 rows so far.
//!
//! # What the compute parties learn
//!
//! The number of complete cases; one bit "every complete case has a valid cause" (an
//! invalid one refuses the analysis); with a group column, one bit "every level has a
//! complete case" and, with `min_level_rows`, one bit "every level has enough"; the coarse
//! tie bound of [`RiskOrder`]; and per cell (group × grid time) the suppression pattern
//! (`min_cell`, then which cell of a curve is shown next under `min_events`, as
//! Kaplan–Meier). Nothing else: estimates, variances and counts stay shared until sealed.
//! Gray's test opens one bit more, "every group carries information for every cause"
//! ([`gray_informative`]; without it the variance is singular and the analysis is refused);
//! the number of groups, public, gives its degrees of freedom, and its scale `s` comes from
//! the opened number of complete cases. With `at_event_times`, the number of event-time rows
//! shown (the table's size, summed over the groups; with `censor_marks`, rows of event or
//! censoring times; which shuffled rows are shown is opened, and the shuffle hides where
//! they were).
//!
//! # What the recipients get
//!
//! Sealed ([`crate::sealed`]): for shown cells the number at risk, the cumulative events of
//! any cause, and per cause `2^G F` and `2^G V` (the estimate and cmprsk's variance, the
//! named results; the standard error is `√V`); with `gray_test`, per cause Gray's `χ²/2^s`;
//! with `at_event_times`, the shown event times' time, at risk, events of any cause, group,
//! and per cause `2^G F` and `2^G V` (with `censor_marks`, also censoring-only times and each
//! row's number censored).
//! [`CumincPublic`]'s [`Tail`] decodes them and computes the p-values.

use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_mpc::fixed::{decode, encode};
use tessera_mpc::{AShare, Party};

use crate::describe::{additive_to_replicated, cross_parts};
use crate::disclosure::{at_least, every_at_least, Disclosure};
use crate::error::{Result, StatsError};
use crate::sealed::{Sealed, Tail};
use crate::table::{Frame, PlainFrame};

use super::km::{event_table, grid_rule, suffix_product, DEFAULT_MIN_CELL, GRID_BATCH};
use super::risk::{low64, shifted, suffix_sum, RiskOrder};

/// Largest number of causes an analysis may declare.
pub const MAX_CAUSES: u32 = 16;

/// Extra bits of the per-time terms, the estimates and the variances (opened as `2^G·x`).
const EXTRA_BITS: u32 = 20;

/// Cumulative incidence of competing risks (`kind = "cuminc"` once wired into the study
/// format): the Aalen–Johansen estimate per cause and group at the grid `times`, with
/// cmprsk's variance.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CumincSpec {
    /// Duration column (`party.column`, numeric, ≥ 0).
    pub time: String,
    /// Cause column (numeric): 0 = censored, `1..=causes` = the cause of the event.
    pub event: String,
    /// Categorical column whose levels are the groups; none: everybody together.
    #[serde(default)]
    pub group: Option<String>,
    /// Number of causes `K` (1 to [`MAX_CAUSES`]): the cause column takes values `0..=K`.
    pub causes: u32,
    /// Times at which the cumulative incidence is shown (strictly increasing).
    pub times: Vec<f64>,
    /// Also Gray's k-sample test per cause (needs a group column with two or more levels).
    #[serde(default)]
    pub gray_test: bool,
    /// Also the curves at every time where an event of any cause happened in the group,
    /// with at least `min_cell` at risk: the step functions a plot draws. Reveals event
    /// times, so the disclosure rules must allow them (`allow_event_times`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub at_event_times: bool,
    /// With `at_event_times`: also the times where patients of the group were only censored,
    /// and at every row the number censored (the marks on a plot), as Kaplan–Meier's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub censor_marks: bool,
}

/// What a cumulative incidence analysis is refused for before any data is read: event times
/// the disclosure rules do not allow, no causes or too many, an empty grid, a grid that is
/// not finite, non-negative and increasing. The computations call it first; the station's
/// policy check calls it with its rules.
pub fn check(spec: &CumincSpec, disclosure: &Disclosure) -> Result<()> {
    if spec.at_event_times && !disclosure.allow_event_times {
        return Err(StatsError::Refused {
            rule: "allow_event_times".into(),
            detail: "the cumulative incidence at every event time reveals the event times; \
                     only a grid is allowed"
                .into(),
        });
    }
    if spec.censor_marks && !spec.at_event_times {
        return Err(StatsError::Invalid(
            "`censor_marks` adds the censoring times to the curve at every event time: set \
             at_event_times = true too"
                .into(),
        ));
    }
    if spec.causes == 0 || spec.causes > MAX_CAUSES {
        return Err(StatsError::Invalid(format!(
            "`causes` must be between 1 and {MAX_CAUSES}"
        )));
    }
    if spec.times.is_empty() {
        return Err(StatsError::Invalid(
            "`times` must name at least one time".into(),
        ));
    }
    if spec.gray_test && spec.group.is_none() {
        return Err(StatsError::Invalid(
            "Gray's test (`gray_test`) needs a `group` column".into(),
        ));
    }
    if spec.times.iter().any(|t| !t.is_finite() || *t < 0.0)
        || spec.times.windows(2).any(|w| w[0] >= w[1])
    {
        return Err(StatsError::Invalid(
            "`times` must be finite, non-negative and strictly increasing".into(),
        ));
    }
    Ok(())
}

fn bad_cause(spec: &CumincSpec) -> StatsError {
    StatsError::Invalid(format!(
        "column `{}`: every cause must be 0 (censored) or one of 1..={} (a complete case has \
         another value)",
        spec.event, spec.causes
    ))
}

/// One group × grid time before disclosure control: what MPC computes and the plaintext
/// twin reproduces.
#[derive(Clone, Debug, PartialEq)]
pub struct CumincRawCell {
    /// Number at risk at the grid time (`T ≥ τ`).
    pub at_risk: f64,
    /// Events of any cause at or before the grid time.
    pub events: f64,
    /// Cumulative incidence per cause (`1..=K`).
    pub estimate: Vec<f64>,
    /// cmprsk's variance per cause.
    pub variance: Vec<f64>,
}

/// One event time of one group before rendering (MPC and twin alike).
#[derive(Clone, Debug, PartialEq)]
pub struct CumincRawEvent {
    /// Group index.
    pub group: usize,
    /// The time.
    pub time: f64,
    /// Number at risk just before it (`T ≥ time`) in the group.
    pub at_risk: f64,
    /// Events of any cause at the time in the group.
    pub events: f64,
    /// Censored at the time in the group (0 without `censor_marks`).
    pub censored: f64,
    /// Cumulative incidence per cause just after the time.
    pub estimate: Vec<f64>,
    /// cmprsk's variance per cause just after the time.
    pub variance: Vec<f64>,
}

/// One cause's curve at one event time (of any cause) of its group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CumincEventRow {
    /// The event time.
    pub time: f64,
    /// Number at risk just before it in the group.
    pub at_risk: u64,
    /// Events of any cause at this time in the group.
    pub events: u64,
    /// Patients of the group censored at this time (only with `censor_marks`; their times
    /// are then rows too, with no events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub censored: Option<u64>,
    /// Cumulative incidence of the cause just after it (R: `timepoints(fit, time)`).
    pub estimate: f64,
    /// Its variance as cmprsk reports it.
    pub variance: f64,
    /// Standard error (`√variance`).
    pub std_err: f64,
}

/// One shown or suppressed grid time of one cause's curve.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CumincRow {
    /// The grid time.
    pub time: f64,
    /// False when the cell is suppressed: the other fields are then absent.
    pub shown: bool,
    /// Number at risk (`T ≥ time`) in the group.
    pub at_risk: Option<u64>,
    /// Events of any cause at or before `time` in the group.
    pub events: Option<u64>,
    /// Cumulative incidence of the cause.
    pub estimate: Option<f64>,
    /// Its variance as cmprsk's `cuminc` reports it.
    pub variance: Option<f64>,
    /// Standard error (`√variance`).
    pub std_err: Option<f64>,
}

/// One cause in one group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CumincCurve {
    /// The group level (`None`: everybody).
    pub group: Option<String>,
    /// The cause (`1..=K`).
    pub cause: u32,
    /// One row per grid time.
    pub rows: Vec<CumincRow>,
    /// With `at_event_times`: the curve at each of the group's event times (any cause) with
    /// at least `min_cell` at risk, in time order; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_times: Option<Vec<CumincEventRow>>,
}

/// The result of a cumulative incidence analysis.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CumincResult {
    /// The group column, if any.
    pub group_column: Option<String>,
    /// The cause column.
    pub cause_column: String,
    /// Complete cases used.
    pub n: u64,
    /// Smallest number at risk of a shown cell.
    pub min_cell: u64,
    /// Smallest number of events (any cause) since the previous shown time of a shown cell.
    pub min_events: u64,
    /// Curves, group by group (outer) and cause by cause (inner).
    pub curves: Vec<CumincCurve>,
    /// Gray's test per cause (only when the spec asks for it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gray_tests: Vec<GrayTest>,
}

/// Turns cells (per group, per grid time; `None` where suppressed) into the result.
fn finish(
    spec: &CumincSpec,
    labels: Option<Vec<String>>,
    n: u64,
    (min_cell, min_events): (u64, u64),
    cells: &[Vec<Option<CumincRawCell>>],
    events: &[CumincRawEvent],
    gray_tests: Vec<GrayTest>,
) -> CumincResult {
    let event_rows = |c: usize, j: usize| -> Vec<CumincEventRow> {
        let mut rows: Vec<CumincEventRow> = events
            .iter()
            .filter(|e| e.group == c)
            .map(|e| {
                let var = e.variance[j].max(0.0);
                CumincEventRow {
                    time: e.time,
                    at_risk: e.at_risk.round().max(0.0) as u64,
                    events: e.events.round().max(0.0) as u64,
                    censored: spec
                        .censor_marks
                        .then(|| e.censored.round().max(0.0) as u64),
                    estimate: e.estimate[j].clamp(0.0, 1.0),
                    variance: var,
                    std_err: var.sqrt(),
                }
            })
            .collect();
        rows.sort_by(|a, b| a.time.total_cmp(&b.time));
        rows
    };
    let mut curves = Vec::new();
    for (c, row) in cells.iter().enumerate() {
        for cause in 1..=spec.causes {
            let j = cause as usize - 1;
            let rows = row
                .iter()
                .zip(&spec.times)
                .map(|(cell, &time)| match cell {
                    Some(x) => {
                        let events = x.events.round().max(0.0) as u64;
                        let (est, var) = if events == 0 {
                            (0.0, 0.0)
                        } else {
                            (x.estimate[j].clamp(0.0, 1.0), x.variance[j].max(0.0))
                        };
                        CumincRow {
                            time,
                            shown: true,
                            at_risk: Some(x.at_risk.round().max(0.0) as u64),
                            events: Some(events),
                            estimate: Some(est),
                            variance: Some(var),
                            std_err: Some(var.sqrt()),
                        }
                    }
                    None => CumincRow {
                        time,
                        shown: false,
                        at_risk: None,
                        events: None,
                        estimate: None,
                        variance: None,
                        std_err: None,
                    },
                })
                .collect();
            curves.push(CumincCurve {
                group: labels.as_ref().map(|l| l[c].clone()),
                cause,
                rows,
                event_times: spec.at_event_times.then(|| event_rows(c, j)),
            });
        }
    }
    CumincResult {
        group_column: spec.group.clone(),
        cause_column: spec.event.clone(),
        n,
        min_cell,
        min_events,
        curves,
        gray_tests,
    }
}

/// What the compute parties know of a cumulative incidence analysis and the recipient's
/// tail needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CumincPublic {
    /// The analysis.
    pub spec: CumincSpec,
    /// Fractional bits of the sealed values.
    pub frac_bits: u32,
    /// The group's levels (none: one group).
    pub labels: Option<Vec<String>>,
    /// Complete cases (opened: documented leakage).
    pub n: u64,
    /// Smallest number at risk of a shown cell.
    pub min_cell: u64,
    /// Smallest number of events since the previous shown grid time of a shown cell.
    pub min_events: u64,
    /// Per grid time (outer) and level (inner): whether the cell is shown.
    pub shown: Vec<bool>,
    /// Gray's statistics are sealed as `χ²/2^gray_scale` (public: from `n`).
    #[serde(default)]
    pub gray_scale: u32,
    /// Rows of the event-time table (0 without `at_event_times`; opened: documented
    /// leakage).
    #[serde(default)]
    pub event_rows: usize,
}

impl Tail for CumincPublic {
    type Result = CumincResult;

    /// Values, each block in the order of `shown` (cell `gi·k + c`), suppressed cells zero:
    /// at risk, events (one per cell); then `2^G F` and `2^G V` (per cell, `K` causes each);
    /// Gray's statistics; then the event-time table by column: time, at risk, events,
    /// `2^G F` per cause, `2^G V` per cause, group (and, with `censor_marks`, censored).
    fn open(&self, vals: &[u128]) -> Result<CumincResult> {
        let f = self.frac_bits;
        let k = self.labels.as_ref().map_or(1, Vec::len);
        let kc = self.spec.causes as usize;
        let gsz = self.spec.times.len();
        let cells = gsz * k;
        let ng = if self.spec.gray_test { kc } else { 0 };
        let m = self.event_rows;
        let marks = usize::from(self.spec.censor_marks);
        let width = 4 + 2 * kc + marks;
        let grid_end = 2 * cells + 2 * cells * kc + ng;
        let bad =
            || StatsError::Invalid("cumulative incidence: the sealed values do not fit".into());
        if self.shown.len() != cells
            || vals.len() != grid_end + width * m
            || (ng > 0 && (k < 2 || self.gray_scale > 64))
        {
            return Err(bad());
        }
        let unit = f64::from(1u32 << EXTRA_BITS);
        let est = &vals[2 * cells..2 * cells + cells * kc];
        let var = &vals[2 * cells + cells * kc..2 * cells + 2 * cells * kc];
        let ev = &vals[grid_end..];
        let col = |j: usize, i: usize| ev[j * m + i];
        let events = (0..m)
            .map(|i| {
                let group = col(3 + 2 * kc, i) as usize;
                if group >= k {
                    return Err(bad());
                }
                Ok(CumincRawEvent {
                    group,
                    time: decode(col(0, i), f),
                    at_risk: col(1, i) as f64,
                    events: col(2, i) as f64,
                    censored: if marks == 1 {
                        col(width - 1, i) as f64
                    } else {
                        0.0
                    },
                    estimate: (0..kc).map(|x| decode(col(3 + x, i), f) / unit).collect(),
                    variance: (0..kc)
                        .map(|x| decode(col(3 + kc + x, i), f) / unit)
                        .collect(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let gray_tests = vals[2 * cells + 2 * cells * kc..grid_end]
            .iter()
            .enumerate()
            .map(|(j, &v)| {
                let statistic = decode(v, f) / 2f64.powi(self.gray_scale as i32);
                GrayTest {
                    cause: j as u32 + 1,
                    statistic,
                    p_value: crate::dist::chi2_sf(statistic.max(0.0), (k - 1) as f64),
                    df: (k - 1) as u32,
                }
            })
            .collect();
        let mut out = vec![vec![None; gsz]; k];
        for gi in 0..gsz {
            for (c, row) in out.iter_mut().enumerate() {
                let j = gi * k + c;
                if self.shown[j] {
                    row[gi] = Some(CumincRawCell {
                        at_risk: vals[j] as f64,
                        events: vals[cells + j] as f64,
                        estimate: (0..kc).map(|x| decode(est[j * kc + x], f) / unit).collect(),
                        variance: (0..kc).map(|x| decode(var[j * kc + x], f) / unit).collect(),
                    });
                }
            }
        }
        Ok(finish(
            &self.spec,
            self.labels.clone(),
            self.n,
            (self.min_cell, self.min_events),
            &out,
            &events,
            gray_tests,
        ))
    }
}

/// Concatenates shares.
fn cat(v: &[AShare<u128>]) -> AShare<u128> {
    AShare::concat(&v.iter().collect::<Vec<_>>())
}

/// `x` (blocks of `n`, one per group) repeated `kc` times per block: the layout of the
/// per-group × cause columns (block `c·kc + j`).
fn per_cause(x: &AShare<u128>, n: usize, kc: usize) -> AShare<u128> {
    let blocks = x.split(&vec![n; x.len() / n.max(1)]);
    let reps: Vec<&AShare<u128>> = blocks
        .iter()
        .flat_map(|b| std::iter::repeat_n(b, kc))
        .collect();
    AShare::concat(&reps)
}

/// Suffix sums within blocks of `n` (local).
fn block_suffix(x: &AShare<u128>, n: usize) -> AShare<u128> {
    let blocks = x.split(&vec![n; x.len() / n.max(1)]);
    cat(&blocks.iter().map(suffix_sum).collect::<Vec<_>>())
}

/// The cause indicators `[e = j]`, `j = 0..=K` (integers, one column each), exact on the
/// 64-bit fixed-point value; `None` when a complete case (`used`) matches none of them.
/// LEAKAGE: the one bit "every complete case has a cause in 0..=K" (the caller refuses the
/// analysis otherwise); which rows are invalid, and how many, stays secret.
pub(crate) fn cause_indicators(
    p: &mut Party,
    e: &AShare<u128>,
    used: &AShare<u128>,
    kc: usize,
) -> Result<Option<Vec<AShare<u128>>>> {
    let (n, f) = (e.len(), p.frac_bits());
    let e64 = low64(e);
    let lhs = AShare::concat(&std::iter::repeat_n(&e64, kc + 1).collect::<Vec<_>>());
    let consts: Vec<u64> = (0..=kc)
        .flat_map(|j| std::iter::repeat_n(encode::<u64>(j as f64, f), n))
        .collect();
    let rhs = p.public(&consts);
    let eq = p.eq(&lhs, &rhs)?;
    let ind: AShare<u128> = p.inject(&[&eq], (kc + 1) * n)?.remove(0);
    let ind = ind.split(&vec![n; kc + 1]);
    let valid = ind.iter().fold(AShare::zeros(n), |a, x| a.add(x));
    let invalid = p.mul(used, &p.add_const(&valid.neg(), 1))?;
    let none_bad = p.is_zero(&invalid.sum())?;
    // LEAKAGE: the one bit "every complete case has a cause in 0..=K".
    Ok((p.reveal_bits(&none_bad)?[0] & 1 == 1).then_some(ind))
}

/// Cumulative incidence in MPC; see the module docs. Every compute party calls this with its
/// shares; the result ends sealed for the recipients.
pub fn cuminc(
    p: &mut Party,
    frame: &Frame,
    spec: &CumincSpec,
    disclosure: &Disclosure,
) -> Result<Sealed<CumincPublic>> {
    check(spec, disclosure)?;
    let f = p.frac_bits();
    let g_bits = EXTRA_BITS;
    let min_cell = disclosure.min_cell_or(DEFAULT_MIN_CELL);
    let n = frame.rows;
    let kc = spec.causes as usize;
    let (t, tp) = frame.numeric(&spec.time)?;
    let (e, ep) = frame.numeric(&spec.event)?;
    let mut used = p.mul(tp, ep)?;
    let (labels, levels) = match &spec.group {
        Some(g) => {
            let c = frame.categorical(g)?;
            used = p.mul(&used, c.present)?;
            (Some(c.levels.to_vec()), c.onehot.to_vec())
        }
        None => (None, vec![p.public(&vec![1u128; n])]),
    };
    let k = levels.len();
    if spec.gray_test && k < 2 {
        return Err(StatsError::Invalid(
            "Gray's test needs two or more groups".into(),
        ));
    }
    let Some(ind) = cause_indicators(p, e, &used, kc)? else {
        return Err(bad_cause(spec));
    };
    // Columns: per level the complete cases, then per level and cause its events.
    let mut pairs: Vec<(&AShare<u128>, &AShare<u128>)> =
        levels.iter().map(|h| (h, &used)).collect();
    pairs.extend(ind[1..].iter().map(|x| (x, &used)));
    let first = p.mul_many(&pairs)?;
    let (rows, used_cause) = first.split_at(k);
    let pairs: Vec<(&AShare<u128>, &AShare<u128>)> = rows
        .iter()
        .flat_map(|r| used_cause.iter().map(move |x| (r, x)))
        .collect();
    // Events per level and cause: block c·K + j.
    let events = p.mul_many(&pairs)?;
    // LEAKAGE: the number of complete cases is opened (named in the results).
    let total = p.reveal(&used.sum())?[0] as u64;
    disclosure.check_rows(total as usize)?;
    if let Some(g) = &spec.group {
        let sums: Vec<AShare<u128>> = rows.iter().map(AShare::sum).collect();
        let counts = cat(&sums);
        disclosure.check_level_rows(p, &counts, g)?;
        // LEAKAGE: the one bit "every level has a complete case" is opened.
        if !every_at_least(p, &counts, 1)? {
            return Err(StatsError::Invalid(format!(
                "a level of {g} has no complete cases: drop it from the study's levels"
            )));
        }
    }
    let mut cols: Vec<AShare<u128>> = rows.to_vec();
    cols.extend(events);
    let risk = RiskOrder::stratified(p, t, &[], &cols)?;
    let (at, evs) = risk.cols.split_at(k);
    // Per level: N (prefix count); per level and cause: D_k on group ends; per level: D.
    let nn = cat(&at.iter().map(AShare::prefix_sum).collect::<Vec<_>>());
    let dk = cat(&risk.group_totals(p, evs)?); // n·k·K
    let dk_blocks = dk.split(&vec![n; k * kc]);
    let dd = cat(&(0..k)
        .map(|c| {
            dk_blocks[c * kc..(c + 1) * kc]
                .iter()
                .fold(AShare::zeros(n), |a, x| a.add(x))
        })
        .collect::<Vec<_>>());
    let ev_all = cat(&(0..k)
        .map(|c| {
            evs[c * kc..(c + 1) * kc]
                .iter()
                .fold(AShare::zeros(n), |a, x| a.add(x))
        })
        .collect::<Vec<_>>());
    let nd = nn.sub(&dd);
    let zero_bits = p.is_zero(&nd)?;
    let z: AShare<u128> = p.inject(&[&zero_bits], n * k)?.remove(0);
    let keep = p.add_const(&z.neg(), 1);
    // 2^G/N, 2^G/(N - D) and 2^G/(N - 1). Where a denominator is not positive (rows off the
    // tie-group ends, N = 1) the reciprocal is meaningless but only ever multiplied by an
    // exact integer zero (D, or d(d - 1)).
    let one_f = encode::<u128>(1.0, f);
    let denoms = AShare::concat(&[
        &nn.shl(f),
        &nd.add(&z).shl(f),
        &p.add_const(&nn.shl(f), one_f.wrapping_neg()),
    ]);
    let recips = p.recip_pow2(&denoms, g_bits)?;
    let parts = recips.split(&[n * k, n * k, n * k]);
    let (r_n, u_raw, w_n1) = (&parts[0], &parts[1], &parts[2]);
    // Integer products: D(D - 1) of each cause and of the other causes together.
    let d2 = per_cause(&dd, n, kc).sub(&dk);
    let dk_m1 = p.add_const(&dk, 1u128.wrapping_neg());
    let d2_m1 = p.add_const(&d2, 1u128.wrapping_neg());
    let r_rep = per_cause(r_n, n, kc);
    let prods = p.mul_many(&[
        (&dd, r_n),
        (u_raw, &keep),
        (&dk, &dk_m1),
        (&d2, &d2_m1),
        (&dk, &r_rep),
    ])?;
    let (q_g, u_g, dk2, d22, qk) = (&prods[0], &prods[1], &prods[2], &prods[3], &prods[4]);
    // Kaplan–Meier: factors 1 - D/N, survival after each time, and just before (S_j).
    let q = p.trunc(q_g, g_bits)?;
    let factor = p.add_const(&q.neg(), one_f);
    let surv = suffix_product(p, &factor, k)?;
    let mut last_one = vec![0u128; n * k];
    for c in 0..k {
        last_one[c * n + n - 1] = one_f;
    }
    let s_before = p.add_public(
        &cat(&surv
            .split(&vec![n; k])
            .iter()
            .map(|b| shifted(b, 1))
            .collect::<Vec<_>>()),
        &last_one,
    );
    // SR = 2^G S_j/N, U2 = 2^G/(N - D)², the tie corrections d(d - 1)/(N - 1).
    let w_rep = per_cause(w_n1, n, kc);
    let sr = p.mul_fix(&s_before, r_n)?;
    let u2 = &p.mul_trunc(u_g, u_g, f + g_bits)?;
    let corr = p.mul_trunc_many(&[(dk2, &w_rep), (d22, &w_rep)], g_bits)?;
    let e1 = dk.shl(f).sub(&corr[0]);
    let e_all = e1.add(&d2.shl(f)).sub(&corr[1]);
    // Increments 2^G S_j D_k/N and the estimates 2^G F (suffix sums), F at scale f.
    let s_rep = per_cause(&s_before, n, kc);
    let inc = p.mul_fix(&s_rep, qk)?;
    let f_g = block_suffix(&inc, n);
    let f_row = p.trunc(&f_g, g_bits)?;
    // Terms at scale 2^G: P = S e1/N, A = P·S/N, B = P/(N - D), C = (e1 + e2)/(N - D)².
    let sr_rep = per_cause(&sr, n, kc);
    let u_rep = per_cause(u_g, n, kc);
    let u2_rep = per_cause(u2, n, kc);
    let pc = p.mul_trunc_many(&[(&sr_rep, &e1), (&e_all, &u2_rep)], f)?;
    let (pp, cc) = (&pc[0], &pc[1]);
    let ab = p.mul_trunc_many(&[(pp, &sr_rep), (pp, &u_rep)], f + g_bits)?;
    let (aa, bb) = (&ab[0], &ab[1]);
    let fc = p.mul_fix(&f_row, cc)?;
    let fb_ffc = p.mul_trunc_many(&[(&f_row, bb), (&f_row, &fc)], f)?;
    let alpha = block_suffix(&aa.add(&fb_ffc[0].shl(1)).add(&fb_ffc[1]), n);
    let beta = block_suffix(&bb.add(&fc), n);
    let gamma = block_suffix(cc, n);
    // Grid: as Kaplan–Meier, le = [t ≤ τ], lt = [t < τ]; fo is the first row ≤ τ.
    let t64 = low64(&risk.time);
    let gsz = spec.times.len();
    let per = (GRID_BATCH / (2 * n).max(1)).max(1);
    let nb = k * kc;
    let blocks_of = |x: &AShare<u128>| x.split(&vec![n; nb]);
    let (fg_b, fr_b, al_b, be_b, ga_b) = (
        blocks_of(&f_g),
        blocks_of(&f_row),
        blocks_of(&alpha),
        blocks_of(&beta),
        blocks_of(&gamma),
    );
    let ev_b = ev_all.split(&vec![n; k]);
    let picks: Vec<&AShare<u128>> = fg_b
        .iter()
        .chain(&fr_b)
        .chain(&al_b)
        .chain(&be_b)
        .chain(&ga_b)
        .collect();
    let at_refs: Vec<&AShare<u128>> = at.iter().collect();
    let ev_refs: Vec<&AShare<u128>> = ev_b.iter().collect();
    let width = 2 * k + 5 * nb;
    let mut dots_parts: Vec<u128> = Vec::with_capacity(width * gsz);
    for chunk in spec.times.chunks(per) {
        let m = chunk.len();
        let reps: Vec<&AShare<u64>> = std::iter::repeat_n(&t64, 2 * m).collect();
        let lhs = AShare::concat(&reps);
        let mut bounds = Vec::with_capacity(2 * m * n);
        for &tau in chunk {
            let b: u64 = encode(tau, f);
            bounds.extend(std::iter::repeat_n(b.wrapping_add(1), n));
            bounds.extend(std::iter::repeat_n(b, n));
        }
        let rhs = p.public(&bounds);
        let bits = p.lt(&lhs, &rhs)?;
        drop((lhs, rhs));
        let ind: AShare<u128> = p.inject(&[&bits], 2 * m * n)?.remove(0);
        for gi in 0..m {
            let le = ind.slice(2 * gi * n..(2 * gi + 1) * n);
            let lt = ind.slice((2 * gi + 1) * n..(2 * gi + 2) * n);
            let ge = p.add_const(&lt.neg(), 1);
            let fo = le.sub(&shifted(&le, -1));
            dots_parts.extend(cross_parts(&[&ge], &at_refs, n));
            dots_parts.extend(cross_parts(&[&le], &ev_refs, n));
            dots_parts.extend(cross_parts(&[&fo], &picks, n));
        }
    }
    let dots = additive_to_replicated(p, &dots_parts)?;
    // Per grid time: [at risk ×k, events ×k, 2^G F ×nb, F ×nb, α ×nb, β ×nb, γ ×nb].
    let cells = gsz * k;
    let pick = |gi: usize, off: usize, idx: usize| {
        let b = gi * width + off + idx;
        dots.slice(b..b + 1)
    };
    let mut r_v = Vec::with_capacity(cells);
    let mut e_v = Vec::with_capacity(cells);
    let (mut fg_v, mut fr_v, mut al_v, mut be_v, mut ga_v) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for gi in 0..gsz {
        for c in 0..k {
            r_v.push(pick(gi, 0, c));
            e_v.push(pick(gi, k, c));
            for j in 0..kc {
                let b = c * kc + j;
                fg_v.push(pick(gi, 2 * k, b));
                fr_v.push(pick(gi, 2 * k + nb, b));
                al_v.push(pick(gi, 2 * k + 2 * nb, b));
                be_v.push(pick(gi, 2 * k + 3 * nb, b));
                ga_v.push(pick(gi, 2 * k + 4 * nb, b));
            }
        }
    }
    let (r_all, e_all_cells) = (cat(&r_v), cat(&e_v));
    let (fg_c, fr_c, al_c, be_c, ga_c) =
        (cat(&fg_v), cat(&fr_v), cat(&al_v), cat(&be_v), cat(&ga_v));
    let var = variance(p, &fr_c, &al_c, &be_c, &ga_c)?;
    let shown = grid_rule(p, &r_all, &e_all_cells, k, min_cell, disclosure.min_events)?;
    // Suppressed cells are zero before sealing (the pattern is public: a local product).
    let mask: Vec<u128> = shown.iter().map(|&b| u128::from(b)).collect();
    let mask_c: Vec<u128> = shown
        .iter()
        .flat_map(|&b| std::iter::repeat_n(u128::from(b), kc))
        .collect();
    let (gray, gray_scale) = if spec.gray_test {
        let input = GrayIn {
            n,
            k,
            kc,
            total,
            nn: &nn,
            dd: &dd,
            dk: &dk,
            u_g,
            sr: &sr,
            f_g: &f_g,
            e1: &e1,
            e_all: &e_all,
        };
        gray_mpc(p, &input)?
    } else {
        (AShare::zeros(0), 0)
    };
    let (event_rows, table) = if spec.at_event_times {
        // At every row of the risk order, the estimate and the variance read there (the
        // sums up to its time), per group and cause; the event table picks the tie-group
        // ends of events of any cause with enough at risk.
        let var_rows = variance(p, &f_row, &alpha, &beta, &gamma)?;
        let by_cause = |x: &AShare<u128>| -> Vec<AShare<u128>> {
            let b = x.split(&vec![n; k * kc]);
            (0..kc)
                .map(|j| cat(&(0..k).map(|c| b[c * kc + j].clone()).collect::<Vec<_>>()))
                .collect()
        };
        let mut cols = by_cause(&f_g);
        cols.extend(by_cause(&var_rows));
        // With censor marks: the level's rows in each tie group, on its end row.
        let sizes = if spec.censor_marks {
            Some(cat(&risk.group_totals(p, at)?))
        } else {
            None
        };
        // LEAKAGE: the number of shown event-time rows (inside `event_table`; with censor
        // marks, rows of event or censoring times).
        event_table(
            p,
            &risk.time,
            (&nn, &dd),
            sizes.as_ref(),
            &cols.iter().collect::<Vec<_>>(),
            k,
            min_cell,
        )?
    } else {
        (0, AShare::zeros(0))
    };
    let values = AShare::concat(&[
        &r_all.mul_public(&mask),
        &e_all_cells.mul_public(&mask),
        &fg_c.mul_public(&mask_c),
        &var.mul_public(&mask_c),
        &gray,
        &table,
    ]);
    let public = CumincPublic {
        spec: spec.clone(),
        frac_bits: f,
        labels,
        n: total,
        min_cell,
        min_events: disclosure.min_events,
        shown,
        gray_scale,
        event_rows,
    };
    Sealed::new(p, public, &values)
}

/// cmprsk's variance `2^G V = α - 2Fβ + F²γ` from the estimate `F` (scale f) and the sums
/// `2^G α, 2^G β, 2^G γ` read at the same rows or grid times.
fn variance(
    p: &mut Party,
    fr: &AShare<u128>,
    al: &AShare<u128>,
    be: &AShare<u128>,
    ga: &AShare<u128>,
) -> Result<AShare<u128>> {
    let f = p.frac_bits();
    let fb_ff = p.mul_trunc_many(&[(fr, be), (fr, fr)], f)?;
    let ffg = p.mul_fix(&fb_ff[1], ga)?;
    Ok(al.sub(&fb_ff[0].shl(1)).add(&ffg))
}

/// Extra bits of the reciprocals `2^H/tr`, `2^H/tq` and of the weights `ι = (1/S)/tr`.
const GRAY_BITS: u32 = 20;

/// What Gray's test takes from the estimator (risk-set order; per group blocks of `n`, per
/// group × cause blocks `c·K + j`).
struct GrayIn<'a> {
    n: usize,
    k: usize,
    kc: usize,
    total: u64,
    /// Number at risk per group (integers).
    nn: &'a AShare<u128>,
    /// Events of any cause per group (integers, on tie-group ends).
    dd: &'a AShare<u128>,
    /// Events per group and cause (integers, on tie-group ends).
    dk: &'a AShare<u128>,
    /// `2^G/(N - D)` per group (zero where `N = D`).
    u_g: &'a AShare<u128>,
    /// `2^G S(t-)/N` per group.
    sr: &'a AShare<u128>,
    /// `2^G F` per group and cause after each time (scale f).
    f_g: &'a AShare<u128>,
    /// Tie-corrected events of the cause, `e_1`, per group and cause.
    e1: &'a AShare<u128>,
    /// `e_1 + e_2` (the other causes) per group and cause.
    e_all: &'a AShare<u128>,
}

/// Sum over groups of blocks laid out `c·K + j`: `K` blocks of `n`.
fn sum_groups(x: &AShare<u128>, n: usize, k: usize, kc: usize) -> AShare<u128> {
    let b = x.split(&vec![n; k * kc]);
    cat(&(0..kc)
        .map(|j| (0..k).fold(AShare::zeros(n), |a, c| a.add(&b[c * kc + j])))
        .collect::<Vec<_>>())
}

/// `x` repeated `r` times.
fn repeat(x: &AShare<u128>, r: usize) -> AShare<u128> {
    AShare::concat(&vec![x; r])
}

/// Each block of `n` moved by `s` rows ([`shifted`]).
fn block_shift(x: &AShare<u128>, n: usize, s: isize) -> AShare<u128> {
    cat(&x
        .split(&vec![n; x.len() / n.max(1)])
        .iter()
        .map(|b| shifted(b, s))
        .collect::<Vec<_>>())
}

/// [`suffix_product`] of factors with `e` more fractional bits (`f + e`).
fn suffix_product_bits(
    p: &mut Party,
    x: &AShare<u128>,
    blocks: usize,
    e: u32,
) -> Result<AShare<u128>> {
    let len = x.len();
    let n = len / blocks;
    let f = p.frac_bits();
    let one = encode::<u128>(1.0, f + e);
    let mut y = x.clone();
    let mut s = 1;
    while s < n {
        let mv = |v: &[u128], pad: u128| -> Vec<u128> {
            (0..len)
                .map(|i| if i % n + s < n { v[i + s] } else { pad })
                .collect()
        };
        let pad_a = if p.id() == 0 { one } else { 0 };
        let pad_b = if p.id() == 2 { one } else { 0 };
        let moved = AShare {
            a: mv(&y.a, pad_a),
            b: mv(&y.b, pad_b),
        };
        y = p.mul_trunc(&y, &moved, f + e)?;
        s *= 2;
    }
    Ok(y)
}

/// Why Gray's test is refused when a group carries no information (the MPC check and the
/// twin's say the same).
fn gray_undefined() -> StatsError {
    StatsError::Invalid(
        "Gray's test is undefined for these data: a group has nobody at risk at an event time \
         of some cause together with another group (e.g. all its members censored before the \
         first event), so its variance is singular (cmprsk gives no statistic either); drop \
         the group from the levels or the test"
            .into(),
    )
}

/// Whether every group carries information for Gray's test of every cause `j`: at some
/// event time of `j`, somebody of the group is at risk, somebody of another group is, and
/// somebody at risk has no event there (where everybody at risk has an event, the time adds
/// no variance). A group that does not makes the test's variance singular, and a solve of
/// it gives no statistic worth sealing.
fn gray_informative(p: &mut Party, g: &GrayIn) -> Result<bool> {
    let (n, k, kc) = (g.n, g.k, g.kc);
    let nn = g.nn.split(&vec![n; k]);
    let big_n = nn.iter().fold(AShare::zeros(n), |a, x| a.add(x));
    let big_d =
        g.dd.split(&vec![n; k])
            .iter()
            .fold(AShare::zeros(n), |a, x| a.add(x));
    let others: Vec<AShare<u128>> = nn.iter().map(|x| big_n.sub(x)).collect();
    // Per row (tie-group ends carry the counts that matter; elsewhere D_j = 0): N_c ≥ 1,
    // N - N_c ≥ 1, N - D ≥ 1, D_j ≥ 1.
    let all = cat(&[
        g.nn.clone(),
        cat(&others),
        big_n.sub(&big_d),
        sum_groups(g.dk, n, k, kc),
    ]);
    // Counts below 2^32: compared, multiplied and summed in Z_2^64 (half the bytes).
    let pos = at_least(p, &low64(&all), 1)?;
    let parts = pos.split(&[n * k, n * k, n, n * kc]);
    let (here, other, survivor, event) = (&parts[0], &parts[1], &parts[2], &parts[3]);
    let both = p.mul(here, other)?;
    let both = p.mul(&both, &AShare::concat(&vec![survivor; k]))?;
    let b = both.split(&vec![n; k]);
    let ev = event.split(&vec![n; kc]);
    let (xs, ys): (Vec<&AShare<u64>>, Vec<&AShare<u64>>) = (0..k)
        .flat_map(|c| (0..kc).map(move |j| (c, j)))
        .map(|(c, j)| (&b[c], &ev[j]))
        .unzip();
    let times = p.dot(&AShare::concat(&xs), &AShare::concat(&ys), n)?;
    // LEAKAGE: one bit per analysis with `gray_test`: "every group carries information for
    // every cause" (when it does not, the study is refused and nothing else is opened).
    every_at_least(p, &times, 1u64)
}

/// The twin of [`gray_informative`] on the complete cases `(time, cause, group)` sorted by
/// time.
fn gray_informative_plain(obs: &[(f64, usize, usize)], ng: usize, kc: usize) -> bool {
    let mut ok = vec![false; ng * kc];
    let mut at_risk = vec![0usize; ng];
    for o in obs {
        at_risk[o.2] += 1;
    }
    let mut i0 = 0;
    while i0 < obs.len() {
        let t = obs[i0].0;
        let i1 = i0 + obs[i0..].iter().take_while(|o| o.0 == t).count();
        let total: usize = at_risk.iter().sum();
        let events = obs[i0..i1].iter().filter(|o| o.1 > 0).count();
        if total > events {
            for j in 1..=kc {
                if obs[i0..i1].iter().any(|o| o.1 == j) {
                    for c in 0..ng {
                        if at_risk[c] > 0 && total > at_risk[c] {
                            ok[c * kc + j - 1] = true;
                        }
                    }
                }
            }
        }
        for o in &obs[i0..i1] {
            at_risk[o.2] -= 1;
        }
        i0 = i1;
    }
    ok.iter().all(|&b| b)
}

/// Gray's test per cause in MPC (see the module docs): the statistics `χ²/2^s`, one per
/// cause, and the public `s`. Refused first when a group carries no information
/// ([`gray_informative`]).
fn gray_mpc(p: &mut Party, g: &GrayIn) -> Result<(AShare<u128>, u32)> {
    if !gray_informative(p, g)? {
        return Err(gray_undefined());
    }
    let f = p.frac_bits();
    let (n, k, kc) = (g.n, g.k, g.kc);
    let m = k - 1;
    let gb = EXTRA_BITS;
    let h = GRAY_BITS;
    let one_f = encode::<u128>(1.0, f);
    // 1/S_c(t-): suffix products of n/(n - d) = 1 + D·u (≥ 1), shifted; 1 at the earliest row.
    // The products carry `e` more fractional bits (as many as the range allows: the
    // products of two, at most `n²·2^(2(f + e))`, stay below 2^87).
    let e = ((19.0 - (g.total.max(1) as f64).log2())
        .floor()
        .clamp(0.0, 12.0)) as u32;
    let one_e = encode::<u128>(1.0, f + e);
    let du = p.mul_trunc(g.dd, g.u_g, gb - e)?;
    let inv_after = suffix_product_bits(p, &p.add_const(&du, one_e), k, e)?;
    let mut last_one = vec![0u128; n * k];
    for c in 0..k {
        last_one[c * n + n - 1] = one_e;
    }
    let inv_s = p.add_public(&block_shift(&inv_after, n, 1), &last_one);
    // w_c = N_c/S_c (an integer times a fixed-point value), tr = Σ w_c.
    let w = p.mul_trunc(g.nn, &inv_s, e)?;
    let wb = w.split(&vec![n; k]);
    let tr = wb.iter().fold(AShare::zeros(n), |a, x| a.add(x));
    // tq_j = Σ_c w_c (1 - F_cj(t-)); nd1_j = Σ_c D_cj.
    // (1 - F) at f + G bits: the estimate's own rounding stays out of the scores.
    let f_before = block_shift(g.f_g, n, 1);
    let wq = p.mul_trunc(
        &per_cause(&w, n, kc),
        &p.add_const(&f_before.neg(), one_f << gb),
        f + gb,
    )?;
    let tq = sum_groups(&wq, n, k, kc);
    let nd1 = sum_groups(g.dk, n, k, kc);
    // 2^H/tr and 2^H/tq: both at least the number at risk on the rows that count.
    let rec = p.recip_pow2(&AShare::concat(&[&tr, &tq]), h)?;
    let parts = rec.split(&[n, n * kc]);
    let (rtr, rtq) = (&parts[0], &parts[1]);
    // ι_c = 2^H (1/S_c)/tr; π_c = N_c ι_c (2^H π, exactly zero where N_c = 0); the pooled
    // increments 2^H nd1/tr and their suffix sums 2^H F (pooled, after each time).
    let iota = p.mul_trunc(&inv_s, &repeat(rtr, k), f + e)?;
    let ints = p.mul_many(&[(g.nn, &iota), (&nd1, &repeat(rtr, kc))])?;
    let (pi_h, inc) = (&ints[0], &ints[1]);
    let fa_h = block_suffix(inc, n);
    let tr3 = p.trunc(&AShare::concat(&[pi_h, &fa_h, &iota]), h)?;
    let parts = tr3.split(&[n * k, n * kc, n * k]);
    let (pi, fa, iota_f) = (&parts[0], &parts[1], &parts[2]);
    let fm = block_shift(fa, n, 1);
    // 1/(1 - F(t-)) (pooled) and 1/(1 - ι_c) (the tie correction).
    let rec = p.recip(&AShare::concat(&[
        &p.add_const(&fm.neg(), one_f),
        &p.add_const(&iota_f.neg(), one_f),
    ]))?;
    let parts = rec.split(&[n * kc, n * k]);
    let (r1mf, r1mi) = (&parts[0], &parts[1]);
    // Integers: N_c nd1_j, N_c nd1_j (nd1_j - 1); nd1 / (1 - F(t-)); ρ numerators nd1 w(1-F).
    let nn_c = per_cause(g.nn, n, kc);
    let nd1_c = repeat(&nd1, k);
    let nd1_m1 = p.add_const(&nd1_c, 1u128.wrapping_neg());
    let a1 = p.mul_trunc(&iota, r1mi, f + h)?; // ι/(1 - ι)
    let prods = p.mul_many(&[(&nn_c, &nd1_c), (&nd1, r1mf), (&nd1_c, &wq)])?;
    let (a_int, q, nwq) = (&prods[0], &prods[1], &prods[2]);
    let prods = p.mul_many(&[(a_int, &nd1_m1)])?;
    let b_int = &prods[0];
    let a2 = p.mul_trunc(&a1, &iota, f)?; // 2^H ι²/(1 - ι)
                                          // λ_cj = nd1 t5 π_c at 2^H: N nd1 ι - N nd1 (nd1 - 1) ι²/(1 - ι).
    let lam = p.mul_many(&[
        (a_int, &per_cause(&iota, n, kc)),
        (b_int, &per_cause(&a2, n, kc)),
    ])?;
    let lam_h = lam[0].sub(&lam[1]);
    // Δc_icj = π_i (δ_ic - π_c) q_j; layout (i·k + c)·K + j.
    let pb = pi.split(&vec![n; k]);
    let lhs: Vec<&AShare<u128>> = (0..m)
        .flat_map(|i| std::iter::repeat_n(&pb[i], k))
        .collect();
    let lhs = AShare::concat(&lhs);
    let rhs = repeat(pi, m);
    let pp = p.mul_fix(&lhs, &rhs)?;
    let mut delta = vec![0u128; n * m * k];
    for i in 0..m {
        for x in &mut delta[(i * k + i) * n..(i * k + i + 1) * n] {
            *x = 1;
        }
    }
    let mm = lhs.mul_public(&delta).sub(&pp);
    let dc = p.mul_fix(&per_cause(&mm, n, kc), &repeat(q, m * k))?;
    // R: sums over strictly later times = earlier rows (prefix sums, shifted).
    let rr = cat(&dc
        .split(&vec![n; m * k * kc])
        .iter()
        .map(|b| shifted(&b.prefix_sum(), -1))
        .collect::<Vec<_>>());
    // 2^G (1 - F) u_c and 2^G coef = 2^G S_c/N_c - 2^G (1 - F) u_c, per group and cause.
    let mfa = p.mul_trunc(
        &repeat(&p.add_const(&fa.neg(), one_f), k),
        &per_cause(g.u_g, n, kc),
        f,
    )?;
    let coef = per_cause(g.sr, n, kc).sub(&mfa);
    // γ = δ - π_i + coef R, h = (1 - F) u R (both at scale f).
    let cr = p.mul_trunc_many(&[(&repeat(&coef, m), &rr), (&repeat(&mfa, m), &rr)], f + gb)?;
    let pi_i = per_cause(&lhs, n, kc);
    let mut delta_f = vec![0u128; n * m * k * kc];
    for i in 0..m {
        for j in 0..kc {
            let b = (i * k + i) * kc + j;
            for x in &mut delta_f[b * n..(b + 1) * n] {
                *x = one_f;
            }
        }
    }
    let gam = p.add_public(&cr[0].sub(&pi_i), &delta_f);
    let hh = &cr[1];
    // λγ and e2·h, then V_{i i' j} = Σ_c Σ_rows λγ_icj γ_i'cj + e2 h_icj h_i'cj.
    let e2 = g.e_all.sub(g.e1);
    let lg = p.mul_trunc(&repeat(&lam_h, m), &gam, f + h)?;
    let eh = p.mul_fix(&repeat(&e2, m), hh)?;
    let lgb = lg.split(&vec![n; m * k * kc]);
    let ehb = eh.split(&vec![n; m * k * kc]);
    let gab = gam.split(&vec![n; m * k * kc]);
    let hhb = hh.split(&vec![n; m * k * kc]);
    let (mut xs, mut ys): (Vec<&AShare<u128>>, Vec<&AShare<u128>>) = (Vec::new(), Vec::new());
    for j in 0..kc {
        for i in 0..m {
            for i2 in i..m {
                for c in 0..k {
                    let (a, b) = ((i * k + c) * kc + j, (i2 * k + c) * kc + j);
                    xs.push(&lgb[a]);
                    ys.push(&gab[b]);
                    xs.push(&ehb[a]);
                    ys.push(&hhb[b]);
                }
            }
        }
    }
    let vd = p.dot_fix(&AShare::concat(&xs), &AShare::concat(&ys), n)?;
    // Scores: Σ d1_ij - Σ_rows nd1 w_i (1 - F_ij) 2^H/tq_j.
    let nwb = nwq.split(&vec![n; k * kc]);
    let rqb = rtq.split(&vec![n; kc]);
    let (mut xs, mut ys): (Vec<&AShare<u128>>, Vec<&AShare<u128>>) = (Vec::new(), Vec::new());
    for j in 0..kc {
        for i in 0..m {
            xs.push(&nwb[i * kc + j]);
            ys.push(&rqb[j]);
        }
    }
    let ex = p.dot(&AShare::concat(&xs), &AShare::concat(&ys), n)?;
    let ex = p.trunc(&ex, f + h)?;
    let dkb = g.dk.split(&vec![n; k * kc]);
    let obs = cat(&(0..kc)
        .flat_map(|j| (0..m).map(move |i| (i, j)))
        .map(|(i, j)| dkb[i * kc + j].sum())
        .collect::<Vec<_>>());
    let score = obs.shl(f).sub(&ex);
    // As the log-rank test: χ² = sᵀ (V/2^s)⁻¹ s / 2^s.
    let s = ((g.total as f64 / 4.0).max(1.0).log2().ceil() as i32 - 14).max(0) as u32;
    let per = m * (m + 1) / 2;
    let mut vs = Vec::with_capacity(kc * m * m);
    for j in 0..kc {
        let base = j * per * 2 * k;
        let entry = |i: usize, i2: usize| {
            let (a, b) = if i <= i2 { (i, i2) } else { (i2, i) };
            // index of (a, b) among the pairs i ≤ i2 of row-major order
            let idx = (0..a).map(|x| m - x).sum::<usize>() + (b - a);
            let st = base + idx * 2 * k;
            vd.slice(st..st + 2 * k).sum()
        };
        for i in 0..m {
            for i2 in 0..m {
                vs.push(entry(i, i2));
            }
        }
    }
    let vall = if s > 0 {
        p.trunc(&cat(&vs), s)?
    } else {
        cat(&vs)
    };
    let mut chis = Vec::with_capacity(kc);
    for j in 0..kc {
        let v = vall.slice(j * m * m..(j + 1) * m * m);
        let sc = score.slice(j * m..(j + 1) * m);
        let x = p.spd_solve(&v, &sc, m, 1)?;
        chis.push(p.dot_fix(&sc, &x, m)?);
    }
    Ok((cat(&chis), s))
}

/// The plaintext twin before disclosure control: per group, per grid time, following
/// cmprsk's `cinc` (the variance sums `v1, v2, v3` accumulated forward in time, read at the
/// last jump of the cause's estimate at or before each grid time), not the suffix-sum form
/// of the MPC protocol: the two agree only if the module docs' derivation holds.
pub fn cuminc_raw(frame: &PlainFrame, spec: &CumincSpec) -> Result<(Vec<Vec<CumincRawCell>>, u64)> {
    let (cells, _, total) = cuminc_raw_events(frame, spec)?;
    Ok((cells, total))
}

/// [`cuminc_raw`] and, per group, the curves at every time with an event of any cause (the
/// step functions' values just after it, read as at a grid time), before disclosure control.
pub fn cuminc_raw_events(
    frame: &PlainFrame,
    spec: &CumincSpec,
) -> Result<(Vec<Vec<CumincRawCell>>, Vec<CumincRawEvent>, u64)> {
    let t = frame.numeric(&spec.time)?;
    let e = frame.numeric(&spec.event)?;
    let (levels, codes): (usize, Option<&[Option<usize>]>) = match &spec.group {
        Some(g) => {
            let (l, c) = frame.categorical(g)?;
            (l.len(), Some(c))
        }
        None => (1, None),
    };
    let kc = spec.causes as usize;
    // (time, cause, group) of the complete cases.
    let mut obs: Vec<(f64, usize, usize)> = Vec::new();
    for i in 0..frame.rows {
        let (Some(ti), Some(ei)) = (t[i], e[i]) else {
            continue;
        };
        let g = match codes {
            Some(c) => match c[i] {
                Some(g) => g,
                None => continue,
            },
            None => 0,
        };
        if ei.fract() != 0.0 || ei < 0.0 || ei > kc as f64 {
            return Err(bad_cause(spec));
        }
        obs.push((ti, ei as usize, g));
    }
    let total = obs.len() as u64;
    obs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::with_capacity(levels);
    let mut events_out = Vec::new();
    for g in 0..levels {
        let mine: Vec<(f64, usize)> = obs
            .iter()
            .filter(|o| o.2 == g)
            .map(|o| (o.0, o.1))
            .collect();
        // Distinct times ascending: (time, at risk, events per cause 0..=K).
        let mut table: Vec<(f64, f64, Vec<f64>)> = Vec::new();
        let mut i = 0;
        while i < mine.len() {
            let ti = mine[i].0;
            let mut d = vec![0f64; kc + 1];
            let at = (mine.len() - i) as f64;
            while i < mine.len() && mine[i].0 == ti {
                d[mine[i].1] += 1.0;
                i += 1;
            }
            table.push((ti, at, d));
        }
        // Per cause: the step function's jumps (time, F, V) as cmprsk's `cinc`.
        let mut jumps: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); kc];
        for (j, steps) in jumps.iter_mut().enumerate() {
            let (mut s, mut fv) = (1f64, 0f64);
            let (mut v1, mut v2, mut v3) = (0f64, 0f64, 0f64);
            for (ti, rs, d) in &table {
                let d1 = d[j + 1];
                let dall: f64 = d[1..].iter().sum();
                let d2 = dall - d1;
                if dall == 0.0 {
                    continue;
                }
                let s_next = s * (rs - dall) / rs;
                if d1 > 0.0 {
                    fv += s * d1 / rs;
                }
                let tie = |x: f64| {
                    if x > 1.0 {
                        1.0 - (x - 1.0) / (rs - 1.0)
                    } else {
                        1.0
                    }
                };
                let mut add = |a: f64, b: f64, w: f64| {
                    v1 += a * a * w;
                    v2 += b * a * w;
                    v3 += b * b * w;
                };
                if d2 > 0.0 && s_next > 0.0 {
                    let w = s * s * tie(d2) * d2 / (rs * rs);
                    add(fv / s_next, 1.0 / s_next, w);
                }
                if d1 > 0.0 {
                    let w = s * s * tie(d1) * d1 / (rs * rs);
                    let inv = if s_next > 0.0 { 1.0 / s_next } else { 0.0 };
                    add(1.0 + inv * fv, inv, w);
                    steps.push((*ti, fv, v1 + fv * fv * v3 - 2.0 * fv * v2));
                }
                s = s_next;
            }
        }
        // The step functions at `tau`: each cause's last jump at or before it.
        let at = |tau: f64| -> (Vec<f64>, Vec<f64>) {
            let last = |steps: &Vec<(f64, f64, f64)>| {
                steps
                    .iter()
                    .rev()
                    .find(|s| s.0 <= tau)
                    .map_or((0.0, 0.0), |s| (s.1, s.2))
            };
            jumps.iter().map(last).unzip()
        };
        let row = spec
            .times
            .iter()
            .map(|&tau| {
                let at_risk = mine.iter().filter(|o| o.0 >= tau).count() as f64;
                let events = mine.iter().filter(|o| o.0 <= tau && o.1 > 0).count() as f64;
                let (estimate, variance) = at(tau);
                CumincRawCell {
                    at_risk,
                    events,
                    estimate,
                    variance,
                }
            })
            .collect();
        out.push(row);
        if spec.at_event_times {
            for (ti, rs, d) in &table {
                let dall: f64 = d[1..].iter().sum();
                if dall > 0.0 || (spec.censor_marks && d[0] > 0.0) {
                    let (estimate, variance) = at(*ti);
                    events_out.push(CumincRawEvent {
                        group: g,
                        time: *ti,
                        at_risk: *rs,
                        events: dall,
                        censored: if spec.censor_marks { d[0] } else { 0.0 },
                        estimate,
                        variance,
                    });
                }
            }
        }
    }
    Ok((out, events_out, total))
}

/// Gray's k-sample test of equal cumulative incidence of one cause across the groups.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GrayTest {
    /// The cause (`1..=K`).
    pub cause: u32,
    /// The statistic `sᵀ V⁻¹ s` (χ² with `df` degrees of freedom under the null).
    pub statistic: f64,
    /// Its p-value.
    pub p_value: f64,
    /// Degrees of freedom (groups - 1).
    pub df: u32,
}

/// Gray's test (cmprsk's `Tests`, `rho` = 0, no strata) per cause, in plaintext: the oracle
/// of the MPC version (see the module docs for the form it computes), checked against R in
/// `tests/cuminc.rs`; the plaintext twin's tests. Follows
/// `crst` in cmprsk's `crstm.f`: per distinct time, the score `s` of the first `k - 1`
/// groups and the pieces `c, v2, v3` of its variance, combined at the end.
pub fn gray_test_plain(frame: &PlainFrame, spec: &CumincSpec) -> Result<Vec<GrayTest>> {
    let group = spec
        .group
        .as_deref()
        .ok_or_else(|| StatsError::Invalid("Gray's test needs a group column".into()))?;
    let t = frame.numeric(&spec.time)?;
    let e = frame.numeric(&spec.event)?;
    let (levels, codes) = frame.categorical(group)?;
    let ng = levels.len();
    if ng < 2 {
        return Err(StatsError::Invalid(
            "Gray's test needs two or more groups".into(),
        ));
    }
    let kc = spec.causes as usize;
    let mut obs: Vec<(f64, usize, usize)> = Vec::new();
    for i in 0..frame.rows {
        let (Some(ti), Some(ei), Some(g)) = (t[i], e[i], codes[i]) else {
            continue;
        };
        if ei.fract() != 0.0 || ei < 0.0 || ei > kc as f64 {
            return Err(bad_cause(spec));
        }
        obs.push((ti, ei as usize, g));
    }
    obs.sort_by(|a, b| a.0.total_cmp(&b.0));
    if !gray_informative_plain(&obs, ng, kc) {
        return Err(gray_undefined());
    }
    let ng1 = ng - 1;
    let mut out = Vec::with_capacity(kc);
    for cause in 1..=kc {
        let mut rs = vec![0f64; ng];
        for o in &obs {
            rs[o.2] += 1.0;
        }
        let (mut f1m, mut skmm) = (vec![0f64; ng], vec![1f64; ng]);
        let (mut f1, mut skm) = (vec![0f64; ng], vec![1f64; ng]);
        let mut c = vec![vec![0f64; ng]; ng];
        let mut a = vec![vec![0f64; ng]; ng];
        let mut v3 = vec![0f64; ng];
        let mut v2 = vec![vec![0f64; ng]; ng1];
        let mut v = vec![vec![0f64; ng1]; ng1];
        let mut score = vec![0f64; ng1];
        let mut fm = 0f64;
        let mut i0 = 0;
        while i0 < obs.len() {
            let ti = obs[i0].0;
            let mut i1 = i0;
            // d[x][g]: censored, this cause, other causes.
            let mut d = vec![vec![0f64; ng]; 3];
            while i1 < obs.len() && obs[i1].0 == ti {
                let x = match obs[i1].1 {
                    0 => 0,
                    y if y == cause => 1,
                    _ => 2,
                };
                d[x][obs[i1].2] += 1.0;
                i1 += 1;
            }
            let nd1: f64 = d[1].iter().sum();
            let nd2: f64 = d[2].iter().sum();
            if nd1 > 0.0 || nd2 > 0.0 {
                let (mut tr, mut tq) = (0f64, 0f64);
                for g in 0..ng {
                    if rs[g] <= 0.0 {
                        continue;
                    }
                    skm[g] = skmm[g] * (rs[g] - d[1][g] - d[2][g]) / rs[g];
                    f1[g] = f1m[g] + skmm[g] * d[1][g] / rs[g];
                    tr += rs[g] / skmm[g];
                    tq += rs[g] * (1.0 - f1m[g]) / skmm[g];
                }
                let f = fm + nd1 / tr;
                let fb = 1.0; // (1 - fm)^rho with rho = 0
                for i in 0..ng {
                    for x in a[i].iter_mut().skip(i) {
                        *x = 0.0;
                    }
                    if rs[i] <= 0.0 {
                        continue;
                    }
                    let t1 = rs[i] / skmm[i];
                    a[i][i] = fb * t1 * (1.0 - t1 / tr);
                    c[i][i] += a[i][i] * nd1 / (tr * (1.0 - fm));
                    for j in i + 1..ng {
                        if rs[j] <= 0.0 {
                            continue;
                        }
                        a[i][j] = -fb * t1 * rs[j] / (skmm[j] * tr);
                        c[i][j] += a[i][j] * nd1 / (tr * (1.0 - fm));
                    }
                }
                for i in 1..ng {
                    for j in 0..i {
                        a[i][j] = a[j][i];
                        c[i][j] = c[j][i];
                    }
                }
                for i in 0..ng1 {
                    if rs[i] > 0.0 {
                        score[i] += fb * (d[1][i] - nd1 * rs[i] * (1.0 - f1m[i]) / (skmm[i] * tq));
                    }
                }
                if nd1 > 0.0 {
                    for k in 0..ng {
                        if rs[k] <= 0.0 {
                            continue;
                        }
                        let t4 = if skm[k] > 0.0 {
                            1.0 - (1.0 - f) / skm[k]
                        } else {
                            1.0
                        };
                        let t5 = if nd1 > 1.0 {
                            1.0 - (nd1 - 1.0) / (tr * skmm[k] - 1.0)
                        } else {
                            1.0
                        };
                        let t3 = t5 * skmm[k] * nd1 / (tr * rs[k]);
                        v3[k] += t4 * t4 * t3;
                        for i in 0..ng1 {
                            let t1 = a[i][k] - t4 * c[i][k];
                            v2[i][k] += t1 * t4 * t3;
                            for j in 0..=i {
                                let t2 = a[j][k] - t4 * c[j][k];
                                v[i][j] += t1 * t2 * t3;
                            }
                        }
                    }
                }
                if nd2 > 0.0 {
                    for k in 0..ng {
                        if skm[k] <= 0.0 || d[2][k] <= 0.0 {
                            continue;
                        }
                        let t4 = (1.0 - f) / skm[k];
                        let t5 = if d[2][k] > 1.0 {
                            1.0 - (d[2][k] - 1.0) / (rs[k] - 1.0)
                        } else {
                            1.0
                        };
                        let t3 = t5 * skmm[k] * skmm[k] * d[2][k] / (rs[k] * rs[k]);
                        v3[k] += t4 * t4 * t3;
                        for i in 0..ng1 {
                            let t1 = t4 * c[i][k];
                            v2[i][k] -= t1 * t4 * t3;
                            for j in 0..=i {
                                let t2 = t4 * c[j][k];
                                v[i][j] += t1 * t2 * t3;
                            }
                        }
                    }
                }
                fm = f;
            }
            for o in &obs[i0..i1] {
                rs[o.2] -= 1.0;
            }
            f1m.clone_from(&f1);
            skmm.clone_from(&skm);
            i0 = i1;
        }
        let mut vs = vec![0f64; ng1 * ng1];
        for i in 0..ng1 {
            for j in 0..=i {
                let mut x = v[i][j];
                for k in 0..ng {
                    x += c[i][k] * c[j][k] * v3[k] + c[i][k] * v2[j][k] + c[j][k] * v2[i][k];
                }
                vs[i * ng1 + j] = x;
                vs[j * ng1 + i] = x;
            }
        }
        let x = super::plain::spd_solve(&vs, &score, ng1).ok_or_else(|| {
            StatsError::Invalid(format!("Gray's test, cause {cause}: singular variance"))
        })?;
        let statistic: f64 = score.iter().zip(&x).map(|(a, b)| a * b).sum();
        out.push(GrayTest {
            cause: cause as u32,
            statistic,
            p_value: crate::dist::chi2_sf(statistic, ng1 as f64),
            df: ng1 as u32,
        });
    }
    Ok(out)
}

/// The plaintext twin, with the same disclosure control.
pub fn cuminc_plain(
    frame: &PlainFrame,
    spec: &CumincSpec,
    disclosure: &Disclosure,
) -> Result<CumincResult> {
    check(spec, disclosure)?;
    let min_cell = disclosure.min_cell_or(DEFAULT_MIN_CELL);
    let labels = match &spec.group {
        Some(g) => Some(frame.categorical(g)?.0.to_vec()),
        None => None,
    };
    let (raw, all_events, total) = cuminc_raw_events(frame, spec)?;
    disclosure.check_rows(total as usize)?;
    let events: Vec<CumincRawEvent> = all_events
        .into_iter()
        .filter(|e| e.at_risk >= min_cell as f64)
        .collect();
    let gray_tests = if spec.gray_test {
        gray_test_plain(frame, spec)?
    } else {
        Vec::new()
    };
    let cells: Vec<Vec<Option<CumincRawCell>>> = raw
        .into_iter()
        .map(|row| {
            let mut last = 0.0;
            row.into_iter()
                .map(|c| {
                    let show = c.at_risk >= min_cell as f64
                        && (disclosure.min_events == 0
                            || c.events - last >= disclosure.min_events as f64);
                    if show {
                        last = c.events;
                    }
                    show.then_some(c)
                })
                .collect()
        })
        .collect();
    Ok(finish(
        spec,
        labels,
        total,
        (min_cell, disclosure.min_events),
        &cells,
        &events,
        gray_tests,
    ))
}

impl fmt::Display for CumincResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Cumulative incidence of competing risks, `{}` ({} complete cases; cells with \
             fewer than {} at risk suppressed)",
            self.cause_column, self.n, self.min_cell
        )?;
        if self.min_events > 0 {
            writeln!(
                f,
                "(a grid time is shown only with at least {} events since the previous one shown)",
                self.min_events
            )?;
        }
        for c in &self.curves {
            match (&self.group_column, &c.group) {
                (Some(col), Some(g)) => writeln!(f, "\n  {col} = {g}, cause {}", c.cause)?,
                _ => writeln!(f, "\n  cause {}", c.cause)?,
            }
            writeln!(
                f,
                "  {:>10} {:>8} {:>10} {:>10} {:>9}",
                "time", "at_risk", "cum_events", "incidence", "std_err"
            )?;
            for r in &c.rows {
                match (r.at_risk, r.events, r.estimate, r.std_err) {
                    (Some(a), Some(e), Some(x), Some(se)) => {
                        writeln!(f, "  {:>10} {a:>8} {e:>10} {x:>10.6} {se:>9.6}", r.time)?
                    }
                    _ => writeln!(
                        f,
                        "  {:>10} {:>8} {:>10} {:>10} {:>9}",
                        r.time,
                        format!("<{}", self.min_cell),
                        "-",
                        "suppressed",
                        "-"
                    )?,
                }
            }
            if let Some(rows) = c.event_times.as_ref().filter(|r| !r.is_empty()) {
                if rows.iter().any(|r| r.censored.is_some()) {
                    writeln!(
                        f,
                        "  at each event or censoring time (events of any cause, censored):"
                    )?;
                } else {
                    writeln!(f, "  at each event time (any cause; events of any cause):")?;
                }
                for r in rows {
                    let counts = match r.censored {
                        Some(c) => format!("{:>10} {c:>8}", r.events),
                        None => format!("{:>10}", r.events),
                    };
                    writeln!(
                        f,
                        "  {:>10} {:>8} {counts} {:>10.6} {:>9.6}",
                        r.time, r.at_risk, r.estimate, r.std_err
                    )?;
                }
            }
        }
        if !self.gray_tests.is_empty() {
            writeln!(
                f,
                "\n  Gray's test (equal cumulative incidence across groups)"
            )?;
            writeln!(f, "  {:>6} {:>12} {:>4} {:>12}", "cause", "chi2", "df", "p")?;
            for t in &self.gray_tests {
                writeln!(
                    f,
                    "  {:>6} {:>12.4} {:>4} {:>12.4e}",
                    t.cause, t.statistic, t.df, t.p_value
                )?;
            }
        }
        Ok(())
    }
}

/// Gray's test in the form the MPC protocol computes (see the module docs): per distinct
/// time, latest first, with the reciprocal survivals `1/S_g(t-)` (products of
/// `n/(n - d)`, at least 1) instead of divisions by `S_g`, the running matrix `c` replaced by
/// its suffix sums `R`, and the variance a sum of per-time products. Agrees with
/// [`gray_test_plain`] (cmprsk's forward recursion) only if the derivation holds.
pub fn gray_test_suffix(frame: &PlainFrame, spec: &CumincSpec) -> Result<Vec<GrayTest>> {
    let group = spec
        .group
        .as_deref()
        .ok_or_else(|| StatsError::Invalid("Gray's test needs a group column".into()))?;
    let t = frame.numeric(&spec.time)?;
    let e = frame.numeric(&spec.event)?;
    let (levels, codes) = frame.categorical(group)?;
    let ng = levels.len();
    if ng < 2 {
        return Err(StatsError::Invalid(
            "Gray's test needs two or more groups".into(),
        ));
    }
    let kc = spec.causes as usize;
    let mut obs: Vec<(f64, usize, usize)> = Vec::new();
    for i in 0..frame.rows {
        let (Some(ti), Some(ei), Some(g)) = (t[i], e[i], codes[i]) else {
            continue;
        };
        if ei.fract() != 0.0 || ei < 0.0 || ei > kc as f64 {
            return Err(bad_cause(spec));
        }
        obs.push((ti, ei as usize, g));
    }
    obs.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Per distinct time ascending: at risk per group, events per group and cause 0..=K.
    let mut rows: Vec<(Vec<f64>, Vec<Vec<f64>>)> = Vec::new();
    let mut at = vec![0f64; ng];
    for o in &obs {
        at[o.2] += 1.0;
    }
    let mut i0 = 0;
    while i0 < obs.len() {
        let ti = obs[i0].0;
        let mut d = vec![vec![0f64; kc + 1]; ng];
        let n_now = at.clone();
        while i0 < obs.len() && obs[i0].0 == ti {
            d[obs[i0].2][obs[i0].1] += 1.0;
            at[obs[i0].2] -= 1.0;
            i0 += 1;
        }
        rows.push((n_now, d));
    }
    let m = rows.len();
    let ng1 = ng - 1;
    // Survival just before each time, and its reciprocal (prefix products in time order).
    let mut s_b = vec![vec![1f64; ng]; m];
    let mut is_b = vec![vec![1f64; ng]; m];
    for r in 1..m {
        for g in 0..ng {
            let (n, d) = (rows[r - 1].0[g], rows[r - 1].1[g][1..].iter().sum::<f64>());
            let (fac, ifac) = if n > d {
                ((n - d) / n, n / (n - d))
            } else if n > 0.0 {
                (0.0, 1.0)
            } else {
                (1.0, 1.0)
            };
            s_b[r][g] = s_b[r - 1][g] * fac;
            is_b[r][g] = is_b[r - 1][g] * ifac;
        }
    }
    let mut out = Vec::with_capacity(kc);
    for cause in 1..=kc {
        // Per time: π (n/S shares), tr, F1_g(t-), pooled F before and after.
        let mut pi = vec![vec![0f64; ng]; m];
        let mut tr = vec![0f64; m];
        let mut score = vec![0f64; ng1];
        let mut f1 = vec![0f64; ng];
        let mut fpool = 0f64;
        let mut fm = vec![0f64; m];
        let mut fa = vec![0f64; m];
        for r in 0..m {
            let (n, d) = (&rows[r].0, &rows[r].1);
            let w: Vec<f64> = (0..ng).map(|g| n[g] * is_b[r][g]).collect();
            tr[r] = w.iter().sum();
            let nd1: f64 = d.iter().map(|x| x[cause]).sum();
            let wq: Vec<f64> = (0..ng).map(|g| w[g] * (1.0 - f1[g])).collect();
            let tq: f64 = wq.iter().sum();
            for i in 0..ng1 {
                score[i] += d[i][cause] - nd1 * wq[i] / tq;
            }
            for g in 0..ng {
                pi[r][g] = w[g] / tr[r];
                if n[g] > 0.0 {
                    f1[g] += s_b[r][g] * d[g][cause] / n[g];
                }
            }
            fm[r] = fpool;
            fpool += nd1 / tr[r];
            fa[r] = fpool;
        }
        // Latest first: R = suffix sums of Δc (strictly later times), the variance terms.
        let mut rr = vec![vec![0f64; ng]; ng1];
        let mut v = vec![0f64; ng1 * ng1];
        for r in (0..m).rev() {
            let (n, d) = (&rows[r].0, &rows[r].1);
            let nd1: f64 = d.iter().map(|x| x[cause]).sum();
            for k in 0..ng {
                if n[k] <= 0.0 {
                    continue;
                }
                let dall: f64 = d[k][1..].iter().sum();
                let d2 = dall - d[k][cause];
                let u = if n[k] > dall {
                    1.0 / (n[k] - dall)
                } else {
                    0.0
                };
                let t5 = if nd1 > 1.0 {
                    1.0 - (nd1 - 1.0) * pi[r][k] / (n[k] - pi[r][k])
                } else {
                    1.0
                };
                let coef = s_b[r][k] / n[k] - (1.0 - fa[r]) * u;
                let gam: Vec<f64> = (0..ng1)
                    .map(|i| f64::from(u8::from(i == k)) - pi[r][i] + coef * rr[i][k])
                    .collect();
                let e2 = if d2 > 1.0 {
                    d2 - d2 * (d2 - 1.0) / (n[k] - 1.0)
                } else {
                    d2
                };
                let h2: Vec<f64> = (0..ng1).map(|i| (1.0 - fa[r]) * rr[i][k] * u).collect();
                for i in 0..ng1 {
                    for j in 0..ng1 {
                        v[i * ng1 + j] +=
                            nd1 * t5 * pi[r][k] * gam[i] * gam[j] + e2 * h2[i] * h2[j];
                    }
                }
            }
            let q = nd1 / (1.0 - fm[r]);
            for (i, row) in rr.iter_mut().enumerate() {
                for (k, x) in row.iter_mut().enumerate() {
                    *x += (pi[r][i] * f64::from(u8::from(i == k)) - pi[r][i] * pi[r][k]) * q;
                }
            }
        }
        let x = super::plain::spd_solve(&v, &score, ng1).ok_or_else(|| {
            StatsError::Invalid(format!("Gray's test, cause {cause}: singular variance"))
        })?;
        let statistic: f64 = score.iter().zip(&x).map(|(a, b)| a * b).sum();
        out.push(GrayTest {
            cause: cause as u32,
            statistic,
            p_value: crate::dist::chi2_sf(statistic, ng1 as f64),
            df: ng1 as u32,
        });
    }
    Ok(out)
}
