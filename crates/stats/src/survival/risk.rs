//! The shared table in risk-set order: rows sorted by time, latest first, with the tie
//! structure that every survival analysis needs.
//!
//! With rows in descending time order, the risk set of time `t_i` (everybody with
//! `T ≥ t_i`) is a prefix of the table that ends at the *last row of `t_i`'s tie group*
//! ([`RiskOrder::end`]). So risk-set sums are local prefix sums read at group ends, and
//! sums over "every event time `≤ τ`" are suffix sums.
//!
//! The tie groups are secret (how many patients share a time is data). They are used through
//! *segmented* sums within a group ([`RiskOrder::seg_prefix`], [`RiskOrder::seg_suffix`]):
//! Hillis–Steele scans whose flags `F_l[i] = [rows i and i + 2^l have the same time]` are
//! computed once per analysis; each scan level is then one integer-by-value multiplication
//! (one round, no truncation) for all columns together.
//!
//! # Cost
//!
//! The sort ([`tessera_mpc::sort`]) of the time key with the analysis' columns, `n - 1`
//! equality tests of adjacent times, `ceil(log2 n) - 1` rounds of `n` flag products and one
//! zero test per level; every segmented scan then costs `L = ceil(log2 g)` rounds (`g` the
//! largest tie group) and one Z_2^128 element per row, column and level.
//!
//! # Leakage
//!
//! The sort opens comparison bits of shuffled, distinct composite keys (simulatable from
//! `n`, see [`tessera_mpc::sort`]). The scans use only as many levels as the largest tie
//! group needs: `ceil(log2 g)` for the largest number `g` of rows sharing one time is
//! opened (a coarse bound on the largest tie: 0, 1, 2, … for g = 1, 2, 3–4, 5–8, …). Nothing
//! else is opened here.

use tessera_mpc::fixed::encode;
use tessera_mpc::sort::SortOptions;
use tessera_mpc::{AShare, Party, Table};

use crate::disclosure::{every_at_least, Disclosure};
use crate::error::{Result, StatsError};
use crate::table::Frame;

/// The low 64 bits of each share: a sharing in Z_2^64 of the value modulo 2^64. For
/// fixed-point values below 2^39 this is the same signed value.
pub(crate) fn low64(x: &AShare<u128>) -> AShare<u64> {
    AShare {
        a: x.a.iter().map(|&v| v as u64).collect(),
        b: x.b.iter().map(|&v| v as u64).collect(),
    }
}

/// `x` moved by `s` rows: `out[i] = x[i + s]` (forward, `s > 0`) or `x[i - |s|]`, zero
/// where that row does not exist.
pub(crate) fn shifted(x: &AShare<u128>, s: isize) -> AShare<u128> {
    let n = x.len();
    let mv = |v: &[u128]| -> Vec<u128> {
        (0..n)
            .map(|i| {
                let j = i as isize + s;
                if j >= 0 && (j as usize) < n {
                    v[j as usize]
                } else {
                    0
                }
            })
            .collect()
    };
    AShare {
        a: mv(&x.a),
        b: mv(&x.b),
    }
}

/// Suffix sums (`out[i] = Σ_{j ≥ i} x[j]`), local.
pub(crate) fn suffix_sum(x: &AShare<u128>) -> AShare<u128> {
    let rev = |v: &[u128]| -> Vec<u128> {
        let mut acc = 0u128;
        let mut out = vec![0u128; v.len()];
        for i in (0..v.len()).rev() {
            acc = acc.wrapping_add(v[i]);
            out[i] = acc;
        }
        out
    };
    AShare {
        a: rev(&x.a),
        b: rev(&x.b),
    }
}

/// The integer indicator `[x ≥ 1/2]` of a fixed-point column (events recorded as 1.0).
pub(crate) fn indicator(p: &mut Party, x: &AShare<u128>) -> Result<AShare<u128>> {
    let half = p.public(&vec![encode::<u128>(0.5, p.frac_bits()); x.len()]);
    let below = p.lt_arith(x, &half)?;
    Ok(p.add_const(&below.neg(), 1))
}

/// The analysis' rows in descending time order, with their tie structure.
pub(crate) struct RiskOrder {
    /// Time, fixed point, descending.
    pub time: AShare<u128>,
    /// The columns the caller asked to move, in the same order.
    pub cols: Vec<AShare<u128>>,
    /// 1 on the last row of each tie group (integers).
    pub end: AShare<u128>,
    /// Scan flags per level: `flags[l][i] = 1` iff rows `i` and `i + 2^l` have equal times.
    flags: Vec<AShare<u128>>,
}

impl RiskOrder {
    /// Sorts `time` (fixed point, below 2^39 in magnitude) descending together with `cols`
    /// and derives the tie structure.
    pub fn new(p: &mut Party, time: &AShare<u128>, cols: &[AShare<u128>]) -> Result<RiskOrder> {
        let n = time.len();
        if cols.iter().any(|c| c.len() != n) {
            return Err(StatsError::Invalid("columns of different lengths".into()));
        }
        let key = low64(&time.neg());
        let perm = p.sort_perm(&key, SortOptions::default())?;
        let mut all = vec![time.clone()];
        all.extend(cols.iter().cloned());
        let sorted = p.apply_sort(&perm, &Table::new(vec![], all)?)?;
        let mut c = sorted.c128;
        let time = c.remove(0);
        // same[i] = [t_i == t_{i+1}] for i < n - 1.
        let t64 = low64(&time);
        let flags0 = if n >= 2 {
            let head = AShare {
                a: t64.a[..n - 1].to_vec(),
                b: t64.b[..n - 1].to_vec(),
            };
            let tail = AShare {
                a: t64.a[1..].to_vec(),
                b: t64.b[1..].to_vec(),
            };
            let eq = p.eq(&head, &tail)?;
            let mut same: AShare<u128> = p.inject(&[&eq], n - 1)?.remove(0);
            same.a.push(0);
            same.b.push(0);
            same
        } else {
            AShare::zeros(n)
        };
        let end = p.add_const(&flags0.neg(), 1);
        let mut flags = vec![flags0];
        let mut s = 1usize;
        while 2 * s < n {
            let last = flags.last().expect("level 0");
            let next = p.mul(last, &shifted(last, s as isize))?;
            flags.push(next);
            s *= 2;
        }
        // Scans need only the levels below the first all-zero one: with the largest tie
        // group of g rows, levels 0..ceil(log2 g) (a level is all zero iff every group has
        // at most 2^l rows).
        // LEAKAGE: which levels are all zero is opened, i.e. ceil(log2(g)) for the largest
        // number g of rows sharing one time (0 when all times differ). It saves scan rounds
        // and bytes in proportion (17 levels for 10^5 rows against typically 3 to 6).
        let sums: Vec<AShare<u128>> = flags.iter().map(AShare::sum).collect();
        let zero = p.is_zero(&AShare::concat(&sums.iter().collect::<Vec<_>>()))?;
        let zero = p.reveal_bits(&zero)?;
        let depth = (0..flags.len())
            .find(|&l| (zero[l / 64] >> (l % 64)) & 1 == 1)
            .unwrap_or(flags.len());
        flags.truncate(depth);
        Ok(RiskOrder {
            time,
            cols: c,
            end,
            flags,
        })
    }

    /// Sums within each tie group of the rows at or before each row (`forward`) or at or
    /// after it, for several columns at once.
    fn seg_scan(
        &self,
        p: &mut Party,
        cols: &[AShare<u128>],
        forward: bool,
    ) -> Result<Vec<AShare<u128>>> {
        let mut y: Vec<AShare<u128>> = cols.to_vec();
        for (l, f) in self.flags.iter().enumerate() {
            let s = 1isize << l;
            // Forward: y[i] += F[i - s]·y[i - s]; backward: y[i] += F[i]·y[i + s].
            let (flag, shift) = if forward {
                (shifted(f, -s), -s)
            } else {
                (f.clone(), s)
            };
            let moved: Vec<AShare<u128>> = y.iter().map(|v| shifted(v, shift)).collect();
            let pairs: Vec<_> = moved.iter().map(|m| (&flag, m)).collect();
            let add = p.mul_many(&pairs)?;
            for (v, a) in y.iter_mut().zip(&add) {
                *v = v.add(a);
            }
        }
        Ok(y)
    }

    /// For each row, the sum over the rows of its tie group up to and including it.
    /// At a group's [`RiskOrder::end`] row this is the group total.
    pub fn seg_prefix(&self, p: &mut Party, cols: &[AShare<u128>]) -> Result<Vec<AShare<u128>>> {
        self.seg_scan(p, cols, true)
    }

    /// For each row, the sum over the rows of its tie group from it to the group's end.
    /// Applied to a column that is zero except at group ends, this copies each group's
    /// end value to every row of the group.
    pub fn seg_suffix(&self, p: &mut Party, cols: &[AShare<u128>]) -> Result<Vec<AShare<u128>>> {
        self.seg_scan(p, cols, false)
    }

    /// The group totals of `cols` placed on each group's end row (zero elsewhere).
    pub fn group_totals(&self, p: &mut Party, cols: &[AShare<u128>]) -> Result<Vec<AShare<u128>>> {
        let sums = self.seg_prefix(p, cols)?;
        let pairs: Vec<_> = sums.iter().map(|s| (&self.end, s)).collect();
        Ok(p.mul_many(&pairs)?)
    }

    /// Each group's value of `cols` (read on its end row) copied to every row of the group.
    pub fn broadcast(&self, p: &mut Party, cols: &[AShare<u128>]) -> Result<Vec<AShare<u128>>> {
        let pairs: Vec<_> = cols.iter().map(|c| (&self.end, c)).collect();
        let at_end = p.mul_many(&pairs)?;
        self.seg_suffix(p, &at_end)
    }
}

/// What Kaplan–Meier and the log-rank test start from: per group level `c`, in risk-set
/// order, the complete cases of the level (`rows[c]`, integers), its events (`events[c]`),
/// the number at risk (`at_risk[c]`: prefix counts, read at group ends) and the events at
/// each time (`deaths[c]`: on group-end rows, zero elsewhere).
pub(crate) struct GroupedRisk {
    /// Complete cases (opened: named in the results).
    pub total: u64,
    /// Events per level, in input order (integers; for observed counts).
    pub observed: Vec<AShare<u128>>,
    /// The risk-set order (its `cols` are `rows` then `events`).
    pub risk: RiskOrder,
    /// Number at risk per level and row.
    pub at_risk: Vec<AShare<u128>>,
    /// Events per level at each group end.
    pub deaths: Vec<AShare<u128>>,
    /// Levels.
    pub k: usize,
}

impl GroupedRisk {
    /// Complete-case and event indicators of each level, in risk-set order.
    pub fn rows(&self) -> (&[AShare<u128>], &[AShare<u128>]) {
        self.risk.cols.split_at(self.k)
    }

    /// Builds it from the frame: complete cases of time, event and group (`None`: one level,
    /// everybody); checks `min_rows` on the opened count and `min_level_rows` inside MPC.
    pub fn new(
        p: &mut Party,
        frame: &Frame,
        time: &str,
        event: &str,
        group: Option<&str>,
        disclosure: &Disclosure,
    ) -> Result<GroupedRisk> {
        let n = frame.rows;
        let (t, tp) = frame.numeric(time)?;
        let (e, ep) = frame.numeric(event)?;
        let mut used = p.mul(tp, ep)?;
        let levels = match group {
            Some(g) => {
                let c = frame.categorical(g)?;
                used = p.mul(&used, c.present)?;
                c.onehot.to_vec()
            }
            None => vec![p.public(&vec![1u128; n])],
        };
        let k = levels.len();
        let ev = indicator(p, e)?;
        let dead = p.mul(&ev, &used)?;
        let mut pairs: Vec<(&AShare<u128>, &AShare<u128>)> =
            levels.iter().map(|h| (h, &used)).collect();
        pairs.extend(levels.iter().map(|h| (h, &dead)));
        let cols = p.mul_many(&pairs)?;
        // Opened: the number of complete cases (named in the results).
        let total = p.reveal(&used.sum())?[0] as u64;
        disclosure.check_rows(total as usize)?;
        if let Some(g) = group {
            let sums: Vec<AShare<u128>> = cols[..k].iter().map(AShare::sum).collect();
            let counts = AShare::concat(&sums.iter().collect::<Vec<_>>());
            disclosure.check_level_rows(p, &counts, g)?;
            // A level without complete cases has no curve and makes the log-rank covariance
            // singular. LEAKAGE: the one bit "every level has a complete case" is opened.
            if !every_at_least(p, &counts, 1)? {
                return Err(StatsError::Invalid(format!(
                    "a level of {g} has no complete cases: drop it from the study's levels"
                )));
            }
        }
        let observed = cols[k..].iter().map(AShare::sum).collect();
        let risk = RiskOrder::new(p, t, &cols)?;
        let (at, evs) = risk.cols.split_at(k);
        let at_risk = at.iter().map(AShare::prefix_sum).collect();
        let deaths = risk.group_totals(p, evs)?;
        Ok(GroupedRisk {
            total,
            observed,
            risk,
            at_risk,
            deaths,
            k,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_mpc::fixed::{decode_vec, encode_vec};
    use tessera_mpc::testing::{input, run3_ok};
    use tessera_mpc::MpcError;

    fn mpc(e: StatsError) -> MpcError {
        match e {
            StatsError::Mpc(m) => m,
            e => MpcError::Invalid(e.to_string()),
        }
    }

    #[test]
    fn groups_and_scans_match_plaintext() {
        let times = [3.0, 1.0, 3.0, 2.0, 3.0, 1.0, 5.0, 2.5, 2.5];
        let vals: Vec<u128> = (1..=9).collect();
        let [out, _, _] = run3_ok(|p| {
            let t = input(p, 0, &encode_vec::<u128>(&times, 24));
            let v = input(p, 1, &vals);
            let r = RiskOrder::new(p, &t, &[v]).map_err(mpc)?;
            let tot = r.group_totals(p, &r.cols).map_err(mpc)?;
            let pre = r.seg_prefix(p, &r.cols).map_err(mpc)?;
            let bc = r.broadcast(p, &pre).map_err(mpc)?;
            Ok((
                decode_vec(&p.reveal(&r.time)?, 24),
                p.reveal(&r.cols[0])?,
                p.reveal(&r.end)?,
                p.reveal(&tot[0])?,
                p.reveal(&bc[0])?,
            ))
        });
        let (t, v, end, tot, bc) = out;
        assert_eq!(t, vec![5.0, 3.0, 3.0, 3.0, 2.5, 2.5, 2.0, 1.0, 1.0]);
        // Stable sort of -t: ties keep input order.
        assert_eq!(v, vec![7, 1, 3, 5, 8, 9, 4, 2, 6]);
        assert_eq!(end, vec![1, 0, 0, 1, 0, 1, 1, 0, 1]);
        assert_eq!(tot, vec![7, 0, 0, 9, 0, 17, 4, 0, 8]);
        assert_eq!(bc, vec![7, 9, 9, 9, 17, 17, 4, 8, 8]);
    }
}
