//! Follow-up time and event derived inside MPC from dates held by different parties
//! (`[followup.NAME]` of a study), beside its plaintext twin.
//!
//! A date enters the linked table as a numeric column of whole days since 1970-01-01. With
//! the start date `s` (e.g. diagnosis, one party), the event date `x` (e.g. death, another
//! party; missing = no event seen) with present indicator `p`, the public administrative
//! censoring date `E`, and optionally a censoring date `l` (loss to follow-up, e.g. the last
//! contact at a third party) with present indicator `pl`:
//!
//! ```text
//! d     = p·x + (1−p)·E              the event date, or E where there is none
//! c     = [E < d]                     the event falls after the end of the study
//! event = p·(1−c)                     an event on the end date counts
//! cE    = E + pl·[l < E]·(l − E)      the row's censoring date: min(l, E), or E
//! time  = (cE − s + event·(d − cE)) / unit     the event's date, or the censoring date
//! ```
//!
//! An event by `E` counts whatever `l` says (the event's register is taken as complete);
//! `l` censors only rows without one. Without `censor_date`, `cE = E` and
//! `time = min(d, E) − s`.
//!
//! A row is *present* in the derived columns only when its start date is present and its
//! time is not negative: `valid = present(s)·(event ? [d ≥ s] : [cE ≥ s])`. Rows whose event
//! date lies before the start date, or whose start lies after their censoring date (after
//! `E`, or after the last contact), or whose start date is missing, are missing in both
//! derived columns (value 0, present 0), so every analysis treats them as it treats any
//! missing value (complete cases), and nobody learns how many there are. An event on the
//! start date gives time 0.
//!
//! # Protocol and cost
//!
//! Local: `d` (the missing event date is stored as 0, so `p·x = x`). One batched
//! comparison of `3n` elements (`[E < d]`, `[d < s]`, `[E < s]`; `5n` with `[l < E]`,
//! `[l < s]`: the rounds of one), then four rounds of products (the event; `valid`'s and the
//! time's event terms; `valid`; the values times `valid`), one more with a censoring date
//! (`cE` and `[cE < s]` by selection), and for months or years one truncation
//! ([`tessera_mpc::Party::mul_public_real`]: the result is exact to about 2^-24).
//!
//! LEAKAGE: none. Nothing is opened; `E` and the unit are public parts of the study.

use std::sync::Arc;

use tessera_mpc::fixed::encode;
use tessera_mpc::{AShare, Party};

use crate::error::Result;
use crate::table::{Column, ColumnData, Frame, PlainColumn, PlainData, PlainFrame};
use crate::Disclosure;

/// The unit of a derived follow-up time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Days.
    Days,
    /// Months of 30.4375 days (a year of 365.25 days over 12).
    Months,
    /// Years of 365.25 days.
    Years,
}

impl Unit {
    /// The unit's length in days.
    pub fn days(self) -> f64 {
        match self {
            Unit::Days => 1.0,
            Unit::Months => 30.4375,
            Unit::Years => 365.25,
        }
    }

    /// `days`, `months` or `years`, as written in the study.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Days => "days",
            Unit::Months => "months",
            Unit::Years => "years",
        }
    }

    /// The unit written `s` in the study.
    pub fn parse(s: &str) -> Option<Unit> {
        [Unit::Days, Unit::Months, Unit::Years]
            .into_iter()
            .find(|u| u.name() == s)
    }
}

/// One derived follow-up (`[followup.NAME]`): the columns `NAME.time` and `NAME.event`.
#[derive(Clone, Debug, PartialEq)]
pub struct Followup {
    /// The name: the derived columns are `NAME.time` and `NAME.event`.
    pub name: String,
    /// The start date column (`party.column`, a date column).
    pub start: String,
    /// The event date column (`party.column`, a date column; missing = no event seen).
    pub event_date: String,
    /// A censoring date column for loss to follow-up (`party.column`, e.g. the date of last
    /// contact): a row without an event by `end` is censored at the earlier of this date
    /// (where present) and `end`. None: every such row is censored at `end`.
    pub censor_date: Option<String>,
    /// The administrative censoring date, days since 1970-01-01 (public).
    pub end: i64,
    /// The unit of the derived time.
    pub unit: Unit,
}

impl Followup {
    /// `NAME.time`.
    pub fn time_column(&self) -> String {
        format!("{}.time", self.name)
    }

    /// `NAME.event`.
    pub fn event_column(&self) -> String {
        format!("{}.event", self.name)
    }

    /// The date columns it reads.
    pub fn sources(&self) -> Vec<&str> {
        [
            Some(&self.start),
            Some(&self.event_date),
            self.censor_date.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect()
    }
}

/// The derived columns of every follow-up, in order (`NAME.time`, then `NAME.event`),
/// computed by the three compute parties on the linked table (see the module docs). Fails
/// only when a date column is not in the frame or not numeric, or on an MPC error.
pub fn derive(p: &mut Party, frame: &Frame, specs: &[Followup]) -> Result<Vec<Column>> {
    let mut out = Vec::with_capacity(2 * specs.len());
    for f in specs {
        out.extend(derive_one(p, frame, f)?);
    }
    Ok(out)
}

fn derive_one(p: &mut Party, frame: &Frame, spec: &Followup) -> Result<[Column; 2]> {
    let f = p.frac_bits();
    let n = frame.rows;
    let (s, ps) = frame.numeric(&spec.start)?;
    let (x, px) = frame.numeric(&spec.event_date)?;
    let censor = spec
        .censor_date
        .as_deref()
        .map(|c| frame.numeric(c))
        .transpose()?;
    let end_fix = encode::<u128>(spec.end as f64, f);
    let e = p.public(&vec![end_fix; n]);
    let one = p.public(&vec![1u128; n]);
    // The event date, or E where there is none (a missing value is stored as 0).
    let d = x.add(&one.sub(px).mul_const(end_fix));
    // [E < d], [d < s], [E < s] (and [l < E], [l < s] with a censoring date) in one
    // comparison.
    let (mut lhs, mut rhs) = (vec![&e, &d, &e], vec![&d, s, s]);
    if let Some((l, _)) = censor {
        lhs.extend([l, l]);
        rhs.extend([&e, s]);
    }
    let lens = vec![n; lhs.len()];
    let bits = p
        .lt_arith(&AShare::concat(&lhs), &AShare::concat(&rhs))?
        .split(&lens);
    let (c, before, late) = (&bits[0], &bits[1], &bits[2]);
    // Round 1: the event indicator (and whether the censoring date comes before E).
    let not_c = one.sub(c);
    let mut pairs = vec![(px, &not_c)];
    if let Some((_, pl)) = censor {
        pairs.push((pl, &bits[3]));
    }
    let r1 = p.mul_many(&pairs)?;
    let ev = &r1[0];
    // The row's own censoring date cE = min(l, E) where l is present, else E, and
    // [cE < s] (round 2, with a censoring date only).
    let (ce, ce_late) = match censor {
        None => (e.clone(), late.clone()),
        Some((l, _)) => {
            let q = &r1[1];
            let (l_minus_e, h_minus_late) = (l.sub(&e), bits[4].sub(late));
            let r2 = p.mul_many(&[(q, &l_minus_e), (q, &h_minus_late)])?;
            (e.add(&r2[0]), late.add(&r2[1]))
        }
    };
    // Round 3: time = cE − s + ev·(d − cE); valid where [ev ? d ≥ s : cE ≥ s].
    let (d_minus_ce, late_minus_before) = (d.sub(&ce), ce_late.sub(before));
    let r3 = p.mul_many(&[(ev, &d_minus_ce), (ev, &late_minus_before)])?;
    let days = ce.sub(s).add(&r3[0]);
    let ok = one.sub(&ce_late).add(&r3[1]);
    // Round 4: valid = present(s)·ok; round 5: the values where valid, 0 elsewhere.
    let valid = p.mul(ps, &ok)?;
    let r5 = p.mul_many(&[(&valid, &days), (&valid, ev)])?;
    let time = match spec.unit {
        Unit::Days => r5[0].clone(),
        u => p.mul_public_real(&r5[0], 1.0 / u.days())?,
    };
    let event = r5[1].shl(f);
    Ok([
        Column {
            name: spec.time_column(),
            present: Arc::new(valid.clone()),
            data: ColumnData::Numeric(time),
        },
        Column {
            name: spec.event_column(),
            present: Arc::new(valid),
            data: ColumnData::Numeric(event),
        },
    ])
}

/// The plaintext twin of [`derive`]: the same definitions in `f64` on a plaintext frame.
pub fn derive_plain(frame: &PlainFrame, specs: &[Followup]) -> Result<Vec<PlainColumn>> {
    let mut out = Vec::with_capacity(2 * specs.len());
    for spec in specs {
        let s = frame.numeric(&spec.start)?;
        let x = frame.numeric(&spec.event_date)?;
        let l = match &spec.censor_date {
            Some(c) => frame.numeric(c)?.to_vec(),
            None => vec![None; s.len()],
        };
        let end = spec.end as f64;
        let (mut time, mut event) = (Vec::with_capacity(s.len()), Vec::with_capacity(s.len()));
        for ((&s, &x), &l) in s.iter().zip(x).zip(&l) {
            let censored_at = l.map_or(end, |l| l.min(end));
            let row = s.and_then(|s| match x.filter(|&x| x <= end) {
                Some(x) => (x >= s).then_some((x - s, 1.0)),
                None => (censored_at >= s).then_some((censored_at - s, 0.0)),
            });
            time.push(row.map(|r| r.0 / spec.unit.days()));
            event.push(row.map(|r| r.1));
        }
        out.push(PlainColumn {
            name: spec.time_column(),
            data: PlainData::Numeric(time),
        });
        out.push(PlainColumn {
            name: spec.event_column(),
            data: PlainData::Numeric(event),
        });
    }
    Ok(out)
}

/// The disclosure rules with the derived columns under the rules of the dates they come
/// from: a follow-up reading a disallowed column (or, with `allowed_columns`, a column not
/// allowed) has its derived columns disallowed too, so a rule about a date cannot be
/// bypassed through the follow-up derived from it; with `allowed_columns`, the derived
/// columns of a follow-up whose dates are both allowed are allowed.
pub fn inherit(d: &Disclosure, specs: &[Followup]) -> Disclosure {
    let mut out = d.clone();
    for f in specs {
        let derived = [f.time_column(), f.event_column()];
        let list = match d.check_columns(&f.sources()) {
            Err(_) => &mut out.disallowed_columns,
            Ok(()) => match &mut out.allowed_columns {
                Some(allowed) => allowed,
                None => continue,
            },
        };
        for c in derived {
            if !list.contains(&c) {
                list.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_mpc::fixed::decode;
    use tessera_mpc::testing::run3_ok;

    /// Random dates around 2020 with missing starts, event and last-contact dates, events
    /// before the start, starts after the end, events on the end date and after it, last
    /// contacts before the start, after the end and on the event's day, and ties.
    fn data(n: usize, seed: u64, end: i64) -> PlainFrame {
        // splitmix64: a deterministic draw in `lo..hi`.
        let mut state = seed;
        let mut draw = |lo: i64, hi: i64| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            lo + ((z ^ (z >> 31)) % (hi - lo) as u64) as i64
        };
        let mut start = Vec::new();
        let mut death = Vec::new();
        let mut last = Vec::new();
        for i in 0..n {
            let s = end - draw(-30, 4000);
            start.push((i % 11 != 3).then_some(s as f64));
            let x = match i % 7 {
                0 | 1 => None,
                2 => Some(end),
                3 => Some(end + draw(1, 500)),
                4 => Some(s - draw(0, 40)),
                _ => Some(s + draw(0, 5000)),
            };
            death.push(x.map(|x| x as f64));
            let l = match i % 5 {
                0 => None,
                1 => Some(s - draw(1, 100)),
                2 => Some(end + draw(0, 300)),
                3 => x.or(Some(end)),
                _ => Some(s + draw(0, 4000)),
            };
            last.push(l.map(|l| l as f64));
        }
        PlainFrame::new(vec![
            PlainColumn {
                name: "reg.diag".into(),
                data: PlainData::Numeric(start),
            },
            PlainColumn {
                name: "deaths.death".into(),
                data: PlainData::Numeric(death),
            },
            PlainColumn {
                name: "gp.last".into(),
                data: PlainData::Numeric(last),
            },
        ])
        .unwrap()
    }

    fn spec(name: &str, end: i64, unit: Unit) -> Followup {
        Followup {
            name: name.into(),
            start: "reg.diag".into(),
            event_date: "deaths.death".into(),
            censor_date: None,
            end,
            unit,
        }
    }

    fn censored(name: &str, end: i64, unit: Unit) -> Followup {
        Followup {
            censor_date: Some("gp.last".into()),
            ..spec(name, end, unit)
        }
    }

    fn opened(p: &mut Party, cols: &[Column]) -> Vec<Vec<Option<f64>>> {
        let f = p.frac_bits();
        cols.iter()
            .map(|c| {
                let ColumnData::Numeric(v) = &c.data else {
                    unreachable!("numeric")
                };
                // LEAKAGE: tests only: opens the derived columns to compare with the twin.
                let pr = p.reveal(&*c.present).unwrap();
                let v = p.reveal(v).unwrap();
                pr.iter()
                    .zip(&v)
                    .map(|(&pr, &v)| {
                        assert!(pr <= 1, "present is 0 or 1");
                        (pr == 1).then(|| decode::<u128>(v, f))
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn mpc_matches_the_plaintext_twin() {
        let end = 19_723; // 2023-12-31
        let plain = data(400, 7, end);
        let specs = vec![
            spec("os", end, Unit::Days),
            spec("osm", end, Unit::Months),
            spec("osy", end - 1000, Unit::Years),
            censored("lost", end, Unit::Days),
            censored("lostm", end - 500, Unit::Months),
        ];
        let want = derive_plain(&plain, &specs).unwrap();
        let [got, _, _] = run3_ok(|p| {
            let frame = Frame::share(p, 0, &plain).expect("shared");
            let cols = derive(p, &frame, &specs).expect("derived");
            Ok(opened(p, &cols))
        });
        assert_eq!(got.len(), want.len());
        let mut kinds = [0usize; 4];
        for (g, w) in got.iter().zip(&want) {
            let PlainData::Numeric(w) = &w.data else {
                unreachable!()
            };
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                match (a, b) {
                    (Some(a), Some(b)) => assert!((a - b).abs() < 1e-6, "{}: row {i}", w.len()),
                    (None, None) => {}
                    _ => panic!("row {i}: present differs"),
                }
            }
        }
        // The data exercise every case: missing, events, censored at the end, after it.
        let PlainData::Numeric(t) = &want[0].data else {
            unreachable!()
        };
        let PlainData::Numeric(e) = &want[1].data else {
            unreachable!()
        };
        for (t, e) in t.iter().zip(e) {
            kinds[match (t, e) {
                (None, _) => 0,
                (Some(_), Some(1.0)) => 1,
                (Some(t), _) if *t == 0.0 => 3,
                _ => 2,
            }] += 1;
        }
        assert!(kinds[0] > 10 && kinds[1] > 50 && kinds[2] > 50, "{kinds:?}");
    }

    /// Rounds do not grow with the rows; bytes grow linearly (one comparison of `3n`
    /// elements and five products of `n`).
    #[test]
    fn cost_is_constant_rounds_and_linear_bytes() {
        let end = 19_723;
        let cost = |n: usize, f: Followup| {
            let plain = data(n, 3, end);
            let specs = [f];
            let [c, _, _] = run3_ok(|p| {
                let frame = Frame::share(p, 0, &plain).expect("shared");
                let before = p.stats();
                derive(p, &frame, &specs).expect("derived");
                Ok(p.stats().since(&before))
            });
            (c.rounds, c.bytes_sent)
        };
        let (r1, b1) = cost(100, spec("os", end, Unit::Days));
        let (r2, b2) = cost(1000, spec("os", end, Unit::Days));
        assert_eq!(r1, r2);
        assert!(b2 > 9 * b1 && b2 < 11 * b1, "{b1} {b2}");
        let (r3, _) = cost(1000, spec("os", end, Unit::Years));
        assert!(r3 > r2 && r3 <= r2 + 2, "{r2} {r3}");
        let (r4, b4) = cost(1000, censored("os", end, Unit::Days));
        assert!(r4 >= r2 && r4 <= r2 + 1 && b4 > b2, "{r4} {b4}");
        // The steward's estimate (`crate::cost::followup`) within a factor of two.
        for (r, b, censor, scaled) in [(r2, b2, false, false), (r4, b4, true, false)] {
            let e = crate::cost::followup(1000, censor, scaled);
            assert!(
                e.bytes > b as f64 / 2.0 && e.bytes < 2.0 * b as f64,
                "{e:?} {b}"
            );
            assert!(
                e.rounds > r as f64 / 2.0 && e.rounds < 2.0 * r as f64,
                "{e:?} {r}"
            );
        }
        eprintln!("followup with censor_date, 1000 rows: {r4} rounds, {b4} bytes");
        eprintln!("followup, 1000 rows: {r2} rounds, {b2} bytes sent by party 0 (days); {r3} rounds (years)");
    }

    #[test]
    fn the_twin_follows_the_definitions() {
        let end = 100;
        // (start, event date, expected (time, event) or missing)
        type Row = (Option<f64>, Option<f64>, Option<(f64, f64)>);
        let rows: [Row; 8] = [
            (Some(10.0), Some(40.0), Some((30.0, 1.0))),  // event
            (Some(10.0), None, Some((90.0, 0.0))),        // censored at the end
            (Some(10.0), Some(100.0), Some((90.0, 1.0))), // event on the end date
            (Some(10.0), Some(101.0), Some((90.0, 0.0))), // event after the end
            (Some(10.0), Some(10.0), Some((0.0, 1.0))),   // event on the start date
            (Some(10.0), Some(9.0), None),                // event before the start
            (Some(101.0), None, None),                    // start after the end
            (None, Some(50.0), None),                     // no start date
        ];
        let frame = PlainFrame::new(vec![
            PlainColumn {
                name: "reg.diag".into(),
                data: PlainData::Numeric(rows.iter().map(|r| r.0).collect()),
            },
            PlainColumn {
                name: "deaths.death".into(),
                data: PlainData::Numeric(rows.iter().map(|r| r.1).collect()),
            },
        ])
        .unwrap();
        let cols = derive_plain(&frame, &[spec("os", end, Unit::Days)]).unwrap();
        let want_t: Vec<Option<f64>> = rows.iter().map(|r| r.2.map(|x| x.0)).collect();
        let want_e: Vec<Option<f64>> = rows.iter().map(|r| r.2.map(|x| x.1)).collect();
        assert_eq!(cols[0].data, PlainData::Numeric(want_t));
        assert_eq!(cols[1].data, PlainData::Numeric(want_e));
        assert_eq!(cols[0].name, "os.time");
        assert_eq!(cols[1].name, "os.event");
        let months = derive_plain(&frame, &[spec("os", end, Unit::Months)]).unwrap();
        let PlainData::Numeric(m) = &months[0].data else {
            unreachable!()
        };
        assert!((m[0].unwrap() - 30.0 / 30.4375).abs() < 1e-12);
    }

    #[test]
    fn a_censoring_date_censors_rows_without_an_event() {
        let end = 100;
        // (start, event date, last contact, expected (time, event) or missing)
        type Row = (Option<f64>, Option<f64>, Option<f64>, Option<(f64, f64)>);
        let rows: [Row; 7] = [
            (Some(10.0), None, Some(60.0), Some((50.0, 0.0))), // lost at 60
            (Some(10.0), None, Some(150.0), Some((90.0, 0.0))), // seen after the end
            (Some(10.0), None, None, Some((90.0, 0.0))),       // no contact date: the end
            (Some(10.0), Some(80.0), Some(60.0), Some((70.0, 1.0))), // the event counts
            (Some(10.0), Some(120.0), Some(60.0), Some((50.0, 0.0))), // event after the end
            (Some(10.0), None, Some(5.0), None),               // last seen before the start
            (Some(10.0), None, Some(10.0), Some((0.0, 0.0))),  // last seen on the start day
        ];
        let col = |name: &str, f: fn(&Row) -> Option<f64>| PlainColumn {
            name: name.into(),
            data: PlainData::Numeric(rows.iter().map(f).collect()),
        };
        let frame = PlainFrame::new(vec![
            col("reg.diag", |r| r.0),
            col("deaths.death", |r| r.1),
            col("gp.last", |r| r.2),
        ])
        .unwrap();
        let cols = derive_plain(&frame, &[censored("os", end, Unit::Days)]).unwrap();
        let want_t: Vec<Option<f64>> = rows.iter().map(|r| r.3.map(|x| x.0)).collect();
        let want_e: Vec<Option<f64>> = rows.iter().map(|r| r.3.map(|x| x.1)).collect();
        assert_eq!(cols[0].data, PlainData::Numeric(want_t));
        assert_eq!(cols[1].data, PlainData::Numeric(want_e));
        let [got, _, _] = run3_ok(|p| {
            let shared = Frame::share(p, 0, &frame).expect("shared");
            let cols = derive(p, &shared, &[censored("os", end, Unit::Days)]).expect("derived");
            Ok(opened(p, &cols))
        });
        assert_eq!(PlainData::Numeric(got[0].clone()), cols[0].data);
        assert_eq!(PlainData::Numeric(got[1].clone()), cols[1].data);
    }

    /// A linkage that matched nobody gives empty derived columns, not an error.
    #[test]
    fn no_rows_give_empty_columns() {
        let plain = data(0, 1, 100);
        let [n, _, _] = run3_ok(|p| {
            let frame = Frame::share(p, 0, &plain).expect("shared");
            let cols = derive(p, &frame, &[censored("os", 100, Unit::Years)]).expect("derived");
            Ok(cols.iter().map(|c| c.present.len()).sum::<usize>())
        });
        assert_eq!(n, 0);
    }

    #[test]
    fn derived_columns_inherit_the_rules_of_their_dates() {
        let s = spec("os", 0, Unit::Days);
        let d = Disclosure {
            disallowed_columns: vec!["deaths.death".into()],
            ..Disclosure::default()
        };
        let r = inherit(&d, std::slice::from_ref(&s));
        assert!(r.check_columns(&["os.time"]).is_err());
        assert!(r.check_columns(&["os.event"]).is_err());
        let open = inherit(&Disclosure::default(), std::slice::from_ref(&s));
        assert!(open.check_columns(&["os.time", "os.event"]).is_ok());
        let listed = Disclosure {
            allowed_columns: Some(vec!["reg.diag".into(), "deaths.death".into()]),
            ..Disclosure::default()
        };
        let r = inherit(&listed, std::slice::from_ref(&s));
        assert!(r.check_columns(&["os.time", "os.event"]).is_ok());
        let short = Disclosure {
            allowed_columns: Some(vec!["reg.diag".into()]),
            ..Disclosure::default()
        };
        assert!(inherit(&short, &[s]).check_columns(&["os.time"]).is_err());
    }
}
