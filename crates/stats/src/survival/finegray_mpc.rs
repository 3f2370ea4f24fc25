//! The Fine–Gray model's shared state inside MPC ([`super::finegray`] has the protocol):
//! the censoring weights, the derivatives at β as Cox's risk-set sums plus one suffix sum
//! of the competing rows, and crr's influence terms `η + ψ` at the estimate. Every step
//! mirrors [`super::finegray_plain`].

use tessera_mpc::fixed::encode;
use tessera_mpc::{AShare, Party};

use crate::error::Result;

use super::cox::{join, tile, Fisher, Weights};
use super::km::suffix_product;
use super::logrank::columns_to_rows;
use super::risk::{shifted, suffix_sum, RiskOrder};

/// Extra bits of the reciprocals `2^K/D` and `2^K/Y`.
const K: u32 = super::finegray::K;

/// Per-column suffix sums of `k` concatenated columns of `n` rows (local).
fn suffix_cols(x: &AShare<u128>, n: usize) -> AShare<u128> {
    join(
        &x.split(&vec![n; x.len() / n])
            .iter()
            .map(suffix_sum)
            .collect::<Vec<_>>(),
    )
}

/// Per-column prefix sums of `k` concatenated columns of `n` rows (local).
fn prefix_cols(x: &AShare<u128>, n: usize) -> AShare<u128> {
    join(
        &x.split(&vec![n; x.len() / n])
            .iter()
            .map(AShare::prefix_sum)
            .collect::<Vec<_>>(),
    )
}

/// Per-column `x[i + 1]` (zero past the end) of concatenated columns of `n` rows.
fn next_cols(x: &AShare<u128>, n: usize) -> AShare<u128> {
    join(
        &x.split(&vec![n; x.len() / n])
            .iter()
            .map(|c| shifted(c, 1))
            .collect::<Vec<_>>(),
    )
}

/// The sorted rows, tie structure and censoring weights: what does not depend on β.
pub(crate) struct Model {
    pub n: usize,
    pub m: usize,
    /// The weights are `2^E·e^η` (Cox's [`super::cox::weight_bits`]).
    pub e_bits: u32,
    /// Events of the cause (public).
    pub events: u64,
    /// Standardised covariates, row-major n×m and as m concatenated columns.
    pub z_rows: AShare<u128>,
    pub z_all: AShare<u128>,
    /// Complete cases, events of the cause, competing events (integers, risk-set order).
    pub used: AShare<u128>,
    pub d1: AShare<u128>,
    pub d2: AShare<u128>,
    /// Censored rows (integers, risk-set order).
    pub dc: AShare<u128>,
    /// Events of the cause per tie group, on its end row (Breslow's multiplicity).
    pub mult: AShare<u128>,
    /// Censored rows per tie group, on its end row.
    pub cens: AShare<u128>,
    /// `2^K/Y` (Y = rows with time ≥ t; meaningful on group ends).
    pub ry: AShare<u128>,
    /// `G(t-)` on every row of the group and `1/G(t-)` (fixed point; `1/G ≥ 1`).
    pub g: AShare<u128>,
    pub h: AShare<u128>,
    /// `Σ δ1 z` (m values).
    pub dz: AShare<u128>,
    pub risk: RiskOrder,
}

/// The derivatives at β with the per-row pieces the influence terms reuse.
pub(crate) struct Derivatives {
    ll: AShare<u128>,
    score: AShare<u128>,
    info: AShare<u128>,
    /// `w = 2^E e^η` and the competing rows' `δ2 w/G`.
    w: AShare<u128>,
    hw: AShare<u128>,
    /// `Σ w/G`, `Σ w z/G` of the competing rows after each row (1 + m columns).
    q: AShare<u128>,
    /// `μ` per group end (m columns), `2^K d/D` and `G·2^K d/D` on group ends.
    mu: AShare<u128>,
    mr: AShare<u128>,
    gmr: AShare<u128>,
    /// `ω z` (m columns): the rows' at-risk terms `(w a + (w/G) b) z / 2^K`.
    omega_z: AShare<u128>,
}

impl Fisher for Derivatives {
    fn ll(&self) -> &AShare<u128> {
        &self.ll
    }
    fn score(&self) -> &AShare<u128> {
        &self.score
    }
    fn info(&self) -> &AShare<u128> {
        &self.info
    }
}

impl Model {
    /// The censoring weights from the sorted indicators: `Y` (prefix counts), `C` and `d`
    /// per group, `G(t-) = Π_{u < t} (1 - C/Y)` (suffix products of the group ends' factors,
    /// read on the row after the end) copied to the group's rows, and `1/G`.
    pub(crate) fn weights(
        p: &mut Party,
        risk: &RiskOrder,
        used: &AShare<u128>,
        d1: &AShare<u128>,
        dc: &AShare<u128>,
    ) -> Result<[AShare<u128>; 5]> {
        let (n, f) = (used.len(), p.frac_bits());
        let tot = risk.group_totals(p, &[d1.clone(), dc.clone()])?;
        let (mult, cens) = (&tot[0], &tot[1]);
        // 2^K/Y, garbage where Y = 0 (rows before any complete case), only ever multiplied
        // by an exact integer zero (C).
        let ry = p.recip_pow2(&used.prefix_sum().shl(f), K)?;
        let cy = p.mul(cens, &ry)?;
        let cy = p.trunc(&cy, K)?;
        let one = encode::<u128>(1.0, f);
        let factor = p.add_const(&cy.neg(), one);
        let surv = suffix_product(p, &factor, 1)?;
        let mut last = vec![0u128; n];
        last[n - 1] = one;
        let before = p.add_public(&shifted(&surv, 1), &last);
        let g = risk.broadcast(p, &[before])?.remove(0);
        let h = p.recip(&g)?;
        Ok([mult.clone(), cens.clone(), ry, g, h])
    }

    /// Log pseudo-likelihood, score and information at β (standardised covariates).
    pub(crate) fn derivatives(
        &self,
        p: &mut Party,
        beta: Option<&AShare<u128>>,
    ) -> Result<Derivatives> {
        let (n, m, f) = (self.n, self.m, p.frac_bits());
        let Weights { eta, e, shift } = Weights::at(p, &self.z_rows, beta, n, m, self.e_bits)?;
        // Both weight columns in one product round.
        let mut wc = e.times(p, &[&self.used, &self.d2])?;
        let cw = wc.pop().expect("two columns");
        let w = wc.pop().expect("two columns");
        let hw = p.mul_fix(&cw, &self.h)?;
        let prods = p.mul_fix(&join(&[tile(&w, m), tile(&hw, m)]), &tile(&self.z_all, 2))?;
        let parts = prods.split(&[n * m, n * m]);
        // Risk sets: [w, wz] prefix sums + G·(the competing rows' [w/G, wz/G] after the row).
        let s = prefix_cols(&join(&[w.clone(), parts[0].clone()]), n);
        let q = next_cols(&suffix_cols(&join(&[hw.clone(), parts[1].clone()]), n), n);
        let den_all = s.add(&p.mul_fix(&tile(&self.g, m + 1), &q)?);
        let split = den_all.split(&[n, n * m]);
        let (den, num) = (&split[0], &split[1]);
        // 2^K/D and ln D (garbage where mult = 0, which zeroes it below).
        let (r, lnd) = p.recip_pow2_and_ln(den, K)?;
        let ll_den = p.dot(&self.mult, &lnd, n)?;
        let ll_eta = p.dot(&self.d1, &eta, n)?;
        let ll = p.add_const(
            &ll_eta.sub(&ll_den),
            shift.wrapping_mul(u128::from(self.events)),
        );
        let mu = p.mul_trunc(num, &tile(&r, m), f + K)?;
        let m_mu = p.mul(&tile(&self.mult, m), &mu)?;
        let sum_mu = join(
            &m_mu
                .split(&vec![n; m])
                .iter()
                .map(AShare::sum)
                .collect::<Vec<_>>(),
        );
        let score = self.dz.sub(&sum_mu);
        let mm = p.matmul_fix(&m_mu, &columns_to_rows(&mu.split(&vec![n; m])), m, n, m)?;
        // Second moments as one weighted ZᵀZ: ω = w a + (w/G) b, a = Σ_{t_g ≤ t} 2^K d/D
        // (suffix sums), b = Σ_{t_g > t} G 2^K d/D (prefix sums, exclusive).
        let mr = p.mul(&self.mult, &r)?;
        let gmr = p.mul_fix(&self.g, &mr)?;
        let a = suffix_sum(&mr);
        let b = gmr.prefix_sum().sub(&gmr);
        let wab = p.mul_trunc(&join(&[w.clone(), hw.clone()]), &join(&[a, b]), f + K)?;
        let halves = wab.split(&[n, n]);
        let omega = halves[0].add(&halves[1]);
        let omega_z = p.mul_fix(&tile(&omega, m), &self.z_all)?;
        let first = p.matmul_fix(&omega_z, &self.z_rows, m, n, m)?;
        Ok(Derivatives {
            ll,
            score,
            info: first.sub(&mm),
            w,
            hw,
            q,
            mu,
            mr,
            gmr,
            omega_z,
        })
    }

    /// crr's influence terms `η_i + ψ_i` at the derivatives' β (m columns concatenated, see
    /// the module docs of [`super::finegray`]).
    pub(crate) fn influence(&self, p: &mut Party, d: &Derivatives) -> Result<AShare<u128>> {
        let (n, m, f) = (self.n, self.m, p.frac_bits());
        // c = Σ_{t_g ≤ t} 2^K d μ/D (suffix), e = Σ_{t_g > t} G 2^K d μ/D (exclusive prefix);
        // R1 = the inclusive prefix of the latter, R0 that of G 2^K d/D.
        let x = p.mul_fix(&join(&[tile(&d.mr, m), tile(&d.gmr, m)]), &tile(&d.mu, 2))?;
        let xs = x.split(&[n * m, n * m]);
        let c = suffix_cols(&xs[0], n);
        let r1 = prefix_cols(&xs[1], n);
        let e = r1.sub(&xs[1]);
        let wc_he = p.mul_trunc(
            &join(&[tile(&d.w, m), tile(&d.hw, m)]),
            &join(&[c, e]),
            f + K,
        )?;
        let halves = wc_he.split(&[n * m, n * m]);
        // q(u) = P1 R0 - P0 R1 on group ends (P = the risk sets' competing sums). Each
        // product is at most |z| times the events at or after u (G P ≤ D), in range.
        let r0 = d.gmr.prefix_sum();
        let pq = d.q.split(&[n, n * m]);
        let q = p.mul_trunc(
            &join(&[pq[1].clone(), tile(&pq[0], m)]),
            &join(&[tile(&r0, m), r1]),
            f + K,
        )?;
        let qs = q.split(&[n * m, n * m]);
        let q = qs[0].sub(&qs[1]);
        // q/Y (at most |z|: q counts the events at or after u, at most Y), then C q/Y²,
        // summed from the earliest time (suffix sums).
        let ry_m = tile(&self.ry, m);
        let qy = p.mul_trunc(&q, &ry_m, f + K)?;
        let cq = p.mul(&tile(&self.cens, m), &qy)?;
        let cqy2 = p.mul_trunc(&cq, &ry_m, f + K)?;
        let run = suffix_cols(&cqy2, n);
        // The group's μ (cause rows) and q/Y (censored rows) on each of its rows.
        let mut cols = d.mu.split(&vec![n; m]);
        cols.extend(qy.split(&vec![n; m]));
        let rows = join(&self.risk.broadcast(p, &cols)?);
        let own = p.mul(&join(&[tile(&self.d1, m), tile(&self.dc, m)]), &rows)?;
        let own = own.split(&[n * m, n * m]);
        let z1 = p.mul(&tile(&self.d1, m), &self.z_all)?;
        // η = δ1 (z - μ) - ω z + (w c + (w/G) e)/2^K;  ψ = δc q/Y - Σ C q/Y².
        Ok(z1
            .sub(&own[0])
            .sub(&d.omega_z)
            .add(&halves[0])
            .add(&halves[1])
            .add(&own[1])
            .sub(&run))
    }
}
