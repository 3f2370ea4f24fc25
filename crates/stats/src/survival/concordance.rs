//! Harrell's concordance of a fitted Cox model (`concordance = true` on `kind = "cox"`),
//! as R survival's `fit$concordance` / `concordance(fit)` with its defaults (`timewt = "n"`,
//! the influence-based standard error `sqrt(concordance(fit)$var)`), inside MPC and in
//! plaintext.
//!
//! # Definition (R's)
//!
//! A pair of complete cases in one stratum is *comparable* when the shorter time is an
//! event; a censored time tied with an event time counts as the longer one; two events at
//! one time are not comparable (`tied.y`, and `tied.xy` when their linear predictors are
//! equal too; R's `tied.y` excludes the `tied.xy` pairs). A comparable pair is
//! *concordant* when the shorter time has the larger linear predictor `η`, *discordant*
//! when the smaller, *tied.x* when equal. `C = (concordant + tied.x/2) / npair` with
//! `npair = concordant + discordant + tied.x`. R's variance is `Σ_i dfbeta_i²` with
//! `dfbeta_i = (K_i - M_i·s) / (2·npair)`, `K_i` the concordant minus discordant pairs row
//! `i` belongs to (in either role), `M_i` all its comparable pairs and
//! `s = (concordant - discordant)/npair` (Somers' d).
//!
//! With delayed entry (`entry`, R's `Surv(start, stop, event)`, its `concordance4`), an
//! event at `t` is compared with the rows of its stratum *at risk* at `t`:
//! `entry_j < t ≤ stop_j`, a censored stop at `t` still the longer time; events at one time
//! are tied in time (`tied.y`/`tied.xy`) whatever their entries. With `cluster` (the fit's,
//! which `concordance(fit)` picks up as `fit$concordance` does), the variance is
//! `Σ_c (Σ_{i∈c} dfbeta_i)²` over the clusters (R's `tapply(dfbeta, cluster, sum)`).
//! Without comparable pairs R reports C and its standard error as NaN; so does
//! [`ConcordanceRaw::finish`].
//!
//! # Delayed entry
//!
//! Each row is a *stop point* (time key `k` below) and an *entry point* (key
//! `2·entry + 1`: after the events at its entry time, with the censored stops there; no
//! event; sign `-1`). Since `entry_j ≥ t_i` implies `stop_j > t_i`, the partners of an
//! event `i` at risk at `t_i` are its partners by stop time less the rows whose entry
//! point comes after it: every count below is taken over the `2n` points with the entry
//! points' `used` negated (`A`, `E`, `N` subtract the late entries; a row's terms as the
//! longer time, `B`, `Beq`, `NB`, are its stop point's less its entry point's, the events
//! at or before its entry). The same three sorts and dominance pass run on the `2n` points
//! ([`EntryRecords`]); a row's `K` and `M` are its two points', so `K - M s` is summed per
//! row before squaring, as per cluster with `cluster` (a sort by row index or cluster
//! value, [`RiskOrder::group_totals`]). With `npair = 0` every row's and cluster's `K` and
//! `M` are 0: the sum is exactly 0 whatever the (meaningless) reciprocal of 0.
//!
//! # Protocol
//!
//! With the time key `k = 2·time + 1 - event` (events before censored rows at one time;
//! the stratum above it), the comparable partners of an event `i` are the rows of its
//! stratum with `k_j > k_i`, and those of any row `j` as the longer time the events with
//! `k_e < k_j`. Per row we need, for `i` as the event, the partners with smaller (`A_i`)
//! and equal (`E_i`) `η`, and for `j` as the longer time the events with larger (`B_j`) and
//! equal (`Beq_j`) `η`, and the partner counts `N_i`, `NB_j` (which depend on the times
//! only). Three sorts:
//!
//! 1. by `(stratum, k)` ([`RiskOrder::by_key`], groups of equal key): `N` and `NB` as
//!    within-stratum suffix and prefix sums less the row's own group's (local, and the
//!    group scans), and the event pairs tied in time;
//! 2. stably by `(stratum, η)`, with `η` exact (the linear predictor of the centred
//!    covariates times the coefficients, never truncated, so rows with equal covariates
//!    have equal `η` as in R): the position in this order is the rank `r`; groups of equal
//!    `η` and of equal `(η, k)` give `E` and `Beq` by segmented scans, and the pairs tied in
//!    time and `η` (`tied.xy`);
//! 3. stably by `(stratum, k)` again: the order `P`. Because sort 2 broke ties in `η` by
//!    the order of sort 1 (by `k`) and sort 3 ties in `k` by `r`, the rank order and `P`
//!    agree on rows with equal `η`, and the events of one time come in rank order: for an
//!    event, "later in `P` with smaller rank" is exactly "comparable with smaller `η`", and
//!    for any row "earlier event in `P` with larger rank" is exactly "comparable event with
//!    larger `η`". Both are counted by one dominance pass ([`super::dominance`]) whose
//!    results come back in rank order.
//!
//! Then, in rank order: the counts as dot products with the event indicator, `K` and `M`
//! per row, `s` with one reciprocal of `npair` (`2^k` more bits), and `Σ (K - M s)²` as one
//! fixed-point dot product. Sealed: the five counts and that sum; the recipient computes
//! `C` and `se = sqrt(Σ)/(2 npair)` ([`ConcordanceRaw::finish`]).
//!
//! # Cost
//!
//! Three sorts of `n` rows (sort 2 on a key of about 118 bits at `n = 10^5`), the scans of
//! three groupings, the dominance pass (about `8(b² + 13b)` bytes per row for party 0,
//! `b = ceil(log2 n)`, and `5b` rounds), a lift of two columns and a reciprocal
//! ([`crate::cost`] has the formula). With delayed entry all of it on `2n` points; with
//! entry or `cluster`, one more 64-bit sort and a segmented sum of one column.
//!
//! # Leakage
//!
//! The sorts' comparison bits and the dominance pass's destinations are simulatable from
//! `n` ([`tessera_mpc::sort`], [`super::dominance`]). Each grouping opens its scan depth
//! ([`RiskOrder`]): `ceil(log2 g)` for the largest number `g` of rows sharing (stratum,
//! time, event), sharing (stratum, `η`) — e.g. the size of the largest group of rows with
//! equal covariates, to a power of two — and sharing both. With delayed entry the groupings
//! are of points: the first is then the largest number of points sharing (stratum, time
//! key), i.e. of events at one time, or of censored stops and entries at one time
//! together (new: the number of rows entering at a time is not otherwise opened), the
//! third the same among points of equal `η`; the second is twice the rows' (the same
//! information). The per-row sum opens a scan depth
//! of 1 (two points a row, always); the per-cluster sum the depth of the largest cluster,
//! as the clustered fit's own sum already opens (the same cluster values on the same
//! records). Nothing else: the counts and the sum are sealed.

use serde::{Deserialize, Serialize};
use tessera_mpc::sort::SortOptions;
use tessera_mpc::{AShare, Party, Table};

use super::dominance::{bits_for, dominance, rank_bits};
use super::risk::{adjacent_equal, low64, EntryRecords, RiskOrder};
use crate::error::{Result, StatsError};

/// Bits of the stratum code's shift above the time key `2·time + 1 - event` (times are
/// fixed point below `2^39`).
const TIME_SHIFT: u32 = 41;
/// The exact linear predictor must lie in `[-2^98, 2^98)` (in units of `2^-(2f + 20)`:
/// `|η| < 2^30`); the stratum code sits above it.
pub(crate) const ETA_BITS: u32 = 99;

/// Harrell's concordance of a Cox model, as R's `fit$concordance` (Cox orientation: a
/// larger linear predictor predicts a shorter time).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Concordance {
    /// `C = (concordant + tied_x/2) / (concordant + discordant + tied_x)` (NaN without
    /// comparable pairs, as in R: `null` in JSON, read back as NaN).
    #[serde(deserialize_with = "nan_if_null")]
    pub concordance: f64,
    /// Its standard error (R's `sqrt(concordance(fit)$var)`, from the per-row influence,
    /// summed within clusters with `cluster`; NaN without comparable pairs).
    #[serde(deserialize_with = "nan_if_null")]
    pub se: f64,
    /// Comparable pairs whose shorter time has the larger linear predictor.
    pub concordant: u64,
    /// Comparable pairs whose shorter time has the smaller linear predictor.
    pub discordant: u64,
    /// Comparable pairs with equal linear predictors (each counts 1/2).
    pub tied_x: u64,
    /// Pairs of events at one time with different linear predictors (not comparable).
    pub tied_y: u64,
    /// Pairs of events at one time with equal linear predictors (not comparable).
    pub tied_xy: u64,
}

/// A number that JSON holds as `null` when it is NaN (serde_json writes NaN so).
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// The concordance's counts and influence sum of squares `Σ_i (K_i - M_i s)²`, before
/// [`ConcordanceRaw::finish`].
#[derive(Clone, Debug, PartialEq)]
pub struct ConcordanceRaw {
    /// Concordant pairs.
    pub concordant: u64,
    /// Discordant pairs.
    pub discordant: u64,
    /// Comparable pairs tied in the linear predictor.
    pub tied_x: u64,
    /// Event pairs tied in time only (R's `tied.y`).
    pub tied_y: u64,
    /// Event pairs tied in time and linear predictor.
    pub tied_xy: u64,
    /// `Σ_i (K_i - M_i s)²` (module docs).
    pub influence_ss: f64,
}

impl ConcordanceRaw {
    /// `C` and its standard error (NaN without comparable pairs).
    pub fn finish(&self) -> Concordance {
        let npair = (self.concordant + self.discordant + self.tied_x) as f64;
        Concordance {
            concordance: (self.concordant as f64 + self.tied_x as f64 / 2.0) / npair,
            se: self.influence_ss.max(0.0).sqrt() / (2.0 * npair),
            concordant: self.concordant,
            discordant: self.discordant,
            tied_x: self.tied_x,
            tied_y: self.tied_y,
            tied_xy: self.tied_xy,
        }
    }

    /// From the sealed values: the five counts times `2^f`, then the sum (fixed point).
    pub(crate) fn from_opened(v: &[f64]) -> ConcordanceRaw {
        let c = |x: f64| x.round().max(0.0) as u64;
        ConcordanceRaw {
            concordant: c(v[0]),
            discordant: c(v[1]),
            tied_x: c(v[2]),
            tied_y: c(v[3]),
            tied_xy: c(v[4]),
            influence_ss: v[5],
        }
    }
}

/// Values [`concordance_mpc`] seals.
pub(crate) const SEALED: usize = 6;

/// A Fenwick tree of signed counts over ranks `0..m` (an entry point subtracts).
struct Fenwick(Vec<i64>);

impl Fenwick {
    fn new(m: usize) -> Fenwick {
        Fenwick(vec![0; m + 1])
    }

    fn add(&mut self, i: usize, v: i64) {
        let mut k = i + 1;
        while k < self.0.len() {
            self.0[k] += v;
            k += k & k.wrapping_neg();
        }
    }

    /// Sum over ranks `< i`.
    fn below(&self, i: usize) -> i64 {
        let (mut k, mut s) = (i, 0);
        while k > 0 {
            s += self.0[k];
            k -= k & k.wrapping_neg();
        }
        s
    }
}

/// The complete cases the plaintext twin reads, all of one length.
pub struct ConcordanceRows<'a> {
    /// Times (with `entry`, the stop times).
    pub time: &'a [f64],
    /// Events.
    pub event: &'a [bool],
    /// Linear predictors.
    pub eta: &'a [f64],
    /// Stratum codes (all 0 without strata).
    pub stratum: &'a [usize],
    /// Entry times (delayed entry, `(entry, time]`), if any.
    pub entry: Option<&'a [f64]>,
    /// Cluster values (the influence is summed within clusters), if any.
    pub cluster: Option<&'a [f64]>,
}

/// The points of the twin and of the protocol (module docs, "Delayed entry"): each row's
/// stop point, then with `entry` each row's entry point (no event, sign -1), with the
/// group whose influence is summed (the cluster, else the row).
struct Points {
    time: Vec<f64>,
    event: Vec<bool>,
    sign: Vec<i64>,
    rank: Vec<usize>,
    stratum: Vec<usize>,
    group: Vec<usize>,
    levels: usize,
}

impl Points {
    fn new(x: &ConcordanceRows) -> Points {
        let n = x.time.len();
        let mut levels: Vec<f64> = x.eta.to_vec();
        levels.sort_by(f64::total_cmp);
        levels.dedup();
        let rank: Vec<usize> = x
            .eta
            .iter()
            .map(|&v| levels.partition_point(|&l| l < v))
            .collect();
        let group: Vec<usize> = match x.cluster {
            Some(c) => {
                let mut u: Vec<f64> = c.to_vec();
                u.sort_by(f64::total_cmp);
                u.dedup();
                c.iter().map(|&v| u.partition_point(|&l| l < v)).collect()
            }
            None => (0..n).collect(),
        };
        let copies = 1 + usize::from(x.entry.is_some());
        let twice = |v: &[usize]| v.iter().copied().cycle().take(copies * n).collect();
        let mut time = x.time.to_vec();
        time.extend(x.entry.unwrap_or(&[]));
        let mut event = x.event.to_vec();
        event.resize(copies * n, false);
        let mut sign = vec![1i64; n];
        sign.resize(copies * n, -1);
        Points {
            time,
            event,
            sign,
            rank: twice(&rank),
            stratum: twice(x.stratum),
            group: twice(&group),
            levels: levels.len(),
        }
    }
}

/// The plaintext twin (the same quantities as the MPC protocol, in f64 and integers, by two
/// passes over the points' time groups with Fenwick trees of signed counts).
pub fn concordance_plain(x: &ConcordanceRows) -> ConcordanceRaw {
    let pt = Points::new(x);
    let n = pt.time.len();
    let (stratum, time, event, rk, sign) = (&pt.stratum, &pt.time, &pt.event, &pt.rank, &pt.sign);
    // Points by (stratum, time, censored and entry points after events): groups of equal key.
    let mut idx: Vec<usize> = (0..n).collect();
    let key = |i: usize| (stratum[i], time[i], !event[i]);
    idx.sort_by(|&a, &b| {
        let (x, y) = (key(a), key(b));
        x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)).then(x.2.cmp(&y.2))
    });
    let mut groups: Vec<&[usize]> = idx
        .chunk_by(|&a, &b| stratum[a] == stratum[b] && time[a] == time[b] && event[a] == event[b])
        .collect();
    let (mut a, mut e, mut nf) = (vec![0i64; n], vec![0i64; n], vec![0i64; n]);
    let (mut b, mut beq, mut nb) = (vec![0i64; n], vec![0i64; n], vec![0i64; n]);
    let (mut tied_y, mut tied_xy) = (0u64, 0u64);
    for st in groups.chunk_by_mut(|x, y| stratum[x[0]] == stratum[y[0]]) {
        // Latest first: every point already in the tree is a partner of this group's events
        // (a stop point adds, an entry point at or after the event's time subtracts).
        let (mut tree, mut total) = (Fenwick::new(pt.levels), 0i64);
        for g in st.iter().rev() {
            for &i in g.iter().filter(|&&i| event[i]) {
                a[i] = tree.below(rk[i]);
                e[i] = tree.below(rk[i] + 1) - a[i];
                nf[i] = total;
            }
            for &i in g.iter() {
                tree.add(rk[i], sign[i]);
                total += sign[i];
            }
        }
        // Earliest first: every event already in the tree has this group as partners.
        let (mut tree, mut total) = (Fenwick::new(pt.levels), 0i64);
        for g in st.iter() {
            for &j in g.iter() {
                let upto = tree.below(rk[j] + 1);
                b[j] = total - upto;
                beq[j] = upto - tree.below(rk[j]);
                nb[j] = total;
            }
            if event[g[0]] {
                let d = g.len() as u64;
                tied_y += d * (d - 1) / 2;
                let mut r: Vec<usize> = g.iter().map(|&i| rk[i]).collect();
                r.sort_unstable();
                for run in r.chunk_by(|x, y| x == y) {
                    let c = run.len() as u64;
                    tied_xy += c * (c - 1) / 2;
                }
                for &j in g.iter() {
                    tree.add(rk[j], 1);
                    total += 1;
                }
            }
        }
    }
    let ev = |i: usize| i64::from(event[i]);
    let conc: i64 = (0..n).map(|i| ev(i) * a[i]).sum();
    let tied_x: i64 = (0..n).map(|i| ev(i) * e[i]).sum();
    let npair: i64 = (0..n).map(|i| ev(i) * nf[i]).sum();
    let disc = npair - conc - tied_x;
    // Without comparable pairs every group's K and M are 0 and so is its influence,
    // whatever s (the protocol's reciprocal of 0 is then meaningless but cancels alike).
    let s = if npair == 0 {
        0.0
    } else {
        (conc as f64 - disc as f64) / npair as f64
    };
    // Per point K - M s (an entry point's terms as the longer time subtract), summed per
    // group (the row's two points, or the cluster), squared.
    let mut dev = vec![0f64; pt.group.iter().max().map_or(0, |&g| g + 1)];
    for i in 0..n {
        let (d, sg) = (ev(i), sign[i]);
        let k = d * (2 * a[i] + e[i] - nf[i]) + sg * (2 * b[i] + beq[i] - nb[i]);
        let m = d * nf[i] + sg * nb[i];
        dev[pt.group[i]] += k as f64 - m as f64 * s;
    }
    let count = |v: i64| u64::try_from(v).expect("a count");
    ConcordanceRaw {
        concordant: count(conc),
        discordant: count(disc),
        tied_x: count(tied_x),
        tied_y: tied_y - tied_xy,
        tied_xy,
        influence_ss: dev.iter().map(|v| v * v).sum(),
    }
}

/// The rows [`concordance_mpc`] reads, in any order (input order), all of length `n`.
pub(crate) struct ConcordanceInput<'a> {
    /// Times, fixed point, `0 ≤ time < 2^39` (raw) on the complete cases.
    pub time: &'a AShare<u128>,
    /// Events among the complete cases (integers 0/1).
    pub dead: &'a AShare<u128>,
    /// Complete cases (integers 0/1).
    pub used: &'a AShare<u128>,
    /// One-hot strata (integers, zero on rows that are not complete cases); empty: none.
    pub strata: &'a [AShare<u128>],
    /// The linear predictor, exact (not truncated), within `±2^98` ([`ETA_BITS`]).
    pub eta: &'a AShare<u128>,
    /// Delayed entry (the fit's entry records: each row's entry point follows).
    pub records: &'a EntryRecords,
    /// Cluster values (fixed point), if clustered: the influence is summed per cluster.
    pub cluster: Option<&'a AShare<u128>>,
}

/// Harrell's concordance inside MPC (module docs): the five counts times `2^f` and the
/// influence sum of squares (fixed point), to be sealed.
pub(crate) fn concordance_mpc(p: &mut Party, x: &ConcordanceInput) -> Result<AShare<u128>> {
    let f = p.frac_bits();
    let rec = x.records;
    // The points: each row's stop point, with delayed entry then its entry point (time the
    // entry, no event, `used` negated: it subtracts where it is a partner).
    let (time, dead, used) = (rec.time(x.time), rec.stop_only(x.dead), rec.signed(x.used));
    let strata: Vec<AShare<u128>> = x.strata.iter().map(|h| rec.both(h)).collect();
    let eta = rec.both(x.eta);
    // The groups whose influence is summed: the clusters, else with entry the rows.
    let group = match x.cluster {
        Some(c) => Some(rec.both(c)),
        None if rec.delayed() => {
            Some(rec.both(&p.public(&(0..x.time.len() as u128).collect::<Vec<_>>())))
        }
        None => None,
    };
    let n = time.len();
    let sbits = bits_for(strata.len().max(1)) as u32;
    let kb = ETA_BITS + 1 + sbits;
    if kb as usize + bits_for(n) + 1 > 127 {
        return Err(StatsError::Invalid(format!(
            "concordance: {n} points (rows, with entry also their entry points) in {} strata \
             exceed the sort's 127-bit keys",
            strata.len()
        )));
    }
    let code = strata
        .iter()
        .enumerate()
        .skip(1)
        .fold(AShare::<u128>::zeros(n), |acc, (s, h)| {
            acc.add(&h.mul_const(s as u128))
        });
    // Time key: 2·time + 1 - event, the stratum above it.
    let tk = time.shl(1).add(&p.add_const(&dead.neg(), 1));
    let skey = tk.add(&code.shl(TIME_SHIFT));
    // 1. By (stratum, time key): the partner counts that depend on the times only.
    // LEAKAGE: the scan depth of the largest group of points sharing (stratum, time key):
    // with delayed entry, entry points count with the censored stops at their time (the
    // rows entering at one time, to a power of two with those censored then; module docs).
    let mut cols = vec![dead, used, eta, skey.clone(), code];
    cols.extend(group);
    let q = RiskOrder::by_key(p, &low64(&skey), &strata, &cols)?;
    let mut cols = q.cols.clone();
    let group = cols.split_off(5);
    let [d, u, eta, sk, code] = <[AShare<u128>; 5]>::try_from(cols).expect("5 columns");
    let suf = q.within_suffix(p, std::slice::from_ref(&u))?.remove(0);
    let seg_suf = q.seg_suffix(p, std::slice::from_ref(&u))?.remove(0);
    let pre = q.within_prefix(p, std::slice::from_ref(&d))?.remove(0);
    let seg_pre = q.seg_prefix(p, std::slice::from_ref(&d))?.remove(0);
    let nf = suf.sub(&seg_suf);
    let nb = pre.sub(&seg_pre);
    let tied_y_all = seg_pre.sub(&d).sum();
    // 2. Stably by (stratum, η): the rank order.
    let key = eta.add(&code.shl(ETA_BITS));
    let perm = p.sort_perm_wide(&key, kb, SortOptions::default().pivots)?;
    let mut cols = vec![d, u, nf, nb, key, sk];
    cols.extend(group);
    let mut cols = p.apply_sort(&perm, &Table::new(vec![], cols)?)?.c128;
    let group = cols.split_off(6);
    let [d, u, nf, nb, key, sk] = <[AShare<u128>; 6]>::try_from(cols).expect("6 columns");
    let same_eta = adjacent_equal(p, &key)?;
    let same_time = adjacent_equal(p, &sk)?;
    let same_both = p.mul(&same_eta, &same_time)?;
    let by_eta = RiskOrder::runs(p, same_eta)?;
    // LEAKAGE: with delayed entry, as sort 1's groups: entries and censored stops at one
    // time with equal η count together (module docs).
    let by_both = RiskOrder::runs(p, same_both)?;
    let suf_eta = by_eta.seg_suffix(p, std::slice::from_ref(&u))?.remove(0);
    let pre_eta = by_eta.seg_prefix(p, std::slice::from_ref(&d))?.remove(0);
    let suf_both = by_both.seg_suffix(p, std::slice::from_ref(&u))?.remove(0);
    let pre_both = by_both.seg_prefix(p, std::slice::from_ref(&d))?.remove(0);
    let e = suf_eta.sub(&suf_both);
    let beq = pre_eta.sub(&pre_both);
    let tied_xy = pre_both.sub(&d).sum();
    // 3. Stably by (stratum, time key): the order P; the dominance pass returns to rank
    // order.
    let mut c64 = rank_bits(p, n);
    c64.push(low64(&u));
    c64.push(low64(&d));
    let perm = p.sort_perm(&low64(&sk), SortOptions::default())?;
    let mut moved = p.apply_sort(&perm, &Table::new(c64, vec![])?)?.c64;
    let d64 = moved.pop().expect("events");
    let u64s = moved.pop().expect("used");
    let (a64, b64) = dominance(p, moved, u64s, d64)?;
    let ab = p.lift_u64(&AShare::concat(&[&a64, &b64]))?.split(&[n, n]);
    let (a, b) = (&ab[0], &ab[1]);
    // Counts, K and M per row, s, Σ (K - M s)².
    // A row's terms as the longer time count only for complete cases (`u`).
    let longer = b.shl(1).add(&beq).sub(&nb);
    let prods = p.mul_many(&[(&d, a), (&d, &e), (&d, &nf), (&u, &longer), (&u, &nb)])?;
    let (da, de, dn, ul, un) = (&prods[0], &prods[1], &prods[2], &prods[3], &prods[4]);
    let (conc, tied_x, npair) = (da.sum(), de.sum(), dn.sum());
    let disc = npair.sub(&conc).sub(&tied_x);
    let k = da.shl(1).add(de).sub(dn).add(ul);
    let m = dn.add(un);
    // 2^(kr + 2f)/npair (npair read as a fixed-point number), then s = (C - D)/npair.
    let kr = 38u32.saturating_sub(f);
    let r = p.recip_pow2(&npair, kr)?;
    let s = p.mul_trunc(&conc.sub(&disc), &r, kr + f)?;
    let s_rows = AShare {
        a: vec![s.a[0]; n],
        b: vec![s.b[0]; n],
    };
    let ms = p.mul(&m, &s_rows)?;
    let dev = k.shl(f).sub(&ms);
    // Summed per group (a row's two points, or a cluster's), on each group's last point.
    // LEAKAGE: the scan depth: 1 for rows (two points each, always); for clusters the one
    // the clustered fit's own sum opens (the same values on the same records).
    let dev = match group.first() {
        Some(g) => {
            let order = RiskOrder::stratified(p, g, &[], &[dev])?;
            order.group_totals(p, &order.cols)?.remove(0)
        }
        None => dev,
    };
    let ss = p.dot_fix(&dev, &dev, n)?;
    let tied_y = tied_y_all.sub(&tied_xy);
    Ok(AShare::concat(&[
        &conc.shl(f),
        &disc.shl(f),
        &tied_x.shl(f),
        &tied_y.shl(f),
        &tied_xy.shl(f),
        &ss,
    ]))
}
