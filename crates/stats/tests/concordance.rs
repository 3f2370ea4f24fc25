//! Harrell's concordance of a Cox model (`concordance = true`), in MPC (three parties in
//! memory) and in the plaintext twin, against R's `fit$concordance` (`fixtures/concordance/`,
//! made by `fixtures/concordance/make_concordance.R`; R is not needed here): rossi (Efron and
//! Breslow), lung, tiny (ties), stratified rossi and lung, a binary covariate with many
//! ties, and with delayed entry and clusters (R's `coxph(Surv(start, stop, event) ~ ...,
//! cluster = id)`): heart by itself, clustered by patient and stratified, a synthetic table
//! with tied integer times and entries at other rows' exits, with strata and clusters. The
//! counts exactly; C to 1e-12 and the standard error to 1e-7 relative for the twin, to 1e-4
//! absolute and 1e-3 relative for MPC; the twin against the O(n²) definition on random
//! data with entries, strata and clusters; MPC against the twin on random data.

mod common;
use common::{cox_case, csv_frame, floats, frame, in_mpc, no_limits, random_frame, root, Rng};

use serde_json::Value;
use tessera_stats::analysis::{CoxSpec, Ties};
use tessera_stats::survival::{
    concordance_plain, cox, cox_plain, Concordance, ConcordanceRows, CoxResult,
};
use tessera_stats::{PlainColumn, PlainData, PlainFrame};

fn cases() -> Vec<Value> {
    let text =
        std::fs::read_to_string(root().join("fixtures/concordance/concordance.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cox"].as_array().unwrap().clone()
}

fn spec_of(c: &Value) -> CoxSpec {
    CoxSpec {
        concordance: true,
        ..cox_case(c)
    }
}

fn data_of(c: &Value) -> PlainFrame {
    let strata: Vec<&str> = c["strata_column"].as_str().into_iter().collect();
    match c["dataset"].as_str().unwrap() {
        "binary" => csv_frame("fixtures/concordance/synthetic_binary.csv", &[]),
        _ if c["file"].is_string() => csv_frame(c["file"].as_str().unwrap(), &strata),
        d => {
            let cats: Vec<(&str, Vec<f64>)> = c["strata_column"]
                .as_str()
                .map(|s| (s, floats(&c["strata"])))
                .into_iter()
                .collect();
            frame(d, &cats)
        }
    }
}

/// `got` against R's case `c`: the counts exactly, C within `tol_c` absolute, the standard
/// error within `tol_se` relative.
fn check(name: &str, what: &str, got: &Concordance, c: &Value, (tol_c, tol_se): (f64, f64)) {
    let count = |k: &str| c[k].as_f64().unwrap() as u64;
    assert_eq!(
        (
            got.concordant,
            got.discordant,
            got.tied_x,
            got.tied_y,
            got.tied_xy
        ),
        (
            count("concordant"),
            count("discordant"),
            count("tied_x"),
            count("tied_y"),
            count("tied_xy")
        ),
        "{name} {what}: counts"
    );
    let want = c["concordance"].as_f64().unwrap();
    assert!(
        (got.concordance - want).abs() < tol_c,
        "{name} {what}: C {} vs R {want}",
        got.concordance
    );
    let se = c["std"].as_f64().unwrap();
    assert!(
        ((got.se - se) / se).abs() < tol_se,
        "{name} {what}: se {} vs R {se}",
        got.se
    );
    println!(
        "{name} {what}: C {:.6} (R {want:.6}, off {:.1e}), se {:.6} (R {se:.6}, relative {:.1e})",
        got.concordance,
        (got.concordance - want).abs(),
        got.se,
        ((got.se - se) / se).abs()
    );
}

fn conc(r: &CoxResult) -> &Concordance {
    r.concordance.as_ref().expect("concordance asked")
}

#[test]
fn twin_matches_r() {
    for c in &cases() {
        let name = c["name"].as_str().unwrap();
        let res = cox_plain(&data_of(c), &spec_of(c), &no_limits()).unwrap();
        check(name, "twin", conc(&res), c, (1e-12, 1e-7));
    }
}

#[test]
fn mpc_matches_r_and_the_twin() {
    for c in &cases() {
        let name = c["name"].as_str().unwrap();
        let (data, spec) = (data_of(c), spec_of(c));
        let res = in_mpc(&data, |p, fr| cox(p, fr, &spec, &no_limits())).unwrap();
        check(name, "MPC", conc(&res), c, (1e-4, 1e-3));
        let twin = cox_plain(&data, &spec, &no_limits()).unwrap();
        let (a, b) = (conc(&twin), conc(&res));
        assert_eq!(
            (a.concordant, a.discordant, a.tied_x, a.tied_y, a.tied_xy),
            (b.concordant, b.discordant, b.tied_x, b.tied_y, b.tied_xy),
            "{name}: MPC vs twin counts"
        );
        assert!(((a.se - b.se) / a.se).abs() < 1e-4, "{name}: se vs twin");
    }
}

/// Random rows for the pairwise check: (time, event, eta, stratum, entry, cluster).
type Rows = (
    Vec<f64>,
    Vec<bool>,
    Vec<f64>,
    Vec<usize>,
    Vec<f64>,
    Vec<f64>,
);

/// R's definition pair by pair (`concordance4`'s for `(start, stop]` data: an event at `t`
/// is compared with the rows at risk at `t`, `entry < t ≤ stop`, a censored stop at `t`
/// the longer time; events at one time are tied in time whatever their entries), with its
/// influence summed within clusters (`cluster`, else per row): (concordant, discordant,
/// tied.x, tied.y, tied.xy, Σ_c (Σ_{i∈c} K_i - M_i s)²).
fn by_pairs(x: &ConcordanceRows) -> (u64, u64, u64, u64, u64, f64) {
    let (time, event, eta, st) = (x.time, x.event, x.eta, x.stratum);
    let n = time.len();
    let entry = |j: usize| x.entry.map_or(f64::NEG_INFINITY, |e| e[j]);
    let (mut c, mut d, mut tx, mut ty, mut txy) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut k = vec![0f64; n];
    let mut m = vec![0f64; n];
    for i in 0..n {
        for j in 0..n {
            if i == j || st[i] != st[j] || !event[i] {
                continue;
            }
            if time[j] == time[i] && event[j] {
                if i < j {
                    if eta[i] == eta[j] {
                        txy += 1;
                    } else {
                        ty += 1;
                    }
                }
                continue;
            }
            if time[j] < time[i] || entry(j) >= time[i] {
                continue;
            }
            // i is the event, j at risk at its time (longer, or censored at it).
            let v = if eta[i] > eta[j] {
                c += 1;
                1.0
            } else if eta[i] < eta[j] {
                d += 1;
                -1.0
            } else {
                tx += 1;
                0.0
            };
            for r in [i, j] {
                k[r] += v;
                m[r] += 1.0;
            }
        }
    }
    let s = (c as f64 - d as f64) / (c + d + tx) as f64;
    let mut sums: Vec<(f64, f64)> = Vec::new();
    for r in 0..n {
        let g = x.cluster.map_or(r as f64, |cl| cl[r]);
        match sums.iter_mut().find(|(v, _)| *v == g) {
            Some((_, t)) => *t += k[r] - m[r] * s,
            None => sums.push((g, k[r] - m[r] * s)),
        }
    }
    (c, d, tx, ty, txy, sums.iter().map(|(_, t)| t * t).sum())
}

/// Random rows with ties in time and in the predictor, censored rows tied with events,
/// strata, entries on the times' grid (at other rows' exits) when `entry`, clusters.
fn random_rows(r: &mut Rng, entry: bool) -> Rows {
    let n = 2 + r.below(60);
    let strata = 1 + r.below(3);
    let levels = 1 + r.below(6);
    let clusters = 1 + r.below(n);
    let time: Vec<f64> = (0..n).map(|_| (1 + r.below(8)) as f64).collect();
    let event: Vec<bool> = (0..n).map(|_| r.uniform() < 0.6).collect();
    let eta: Vec<f64> = (0..n)
        .map(|_| r.below(levels) as f64 * 0.37 - 1.0)
        .collect();
    let st: Vec<usize> = (0..n).map(|_| r.below(strata)).collect();
    let en: Vec<f64> = time
        .iter()
        .map(|&t| {
            if entry {
                r.below(t as usize) as f64
            } else {
                0.0
            }
        })
        .collect();
    let cl: Vec<f64> = (0..n).map(|_| r.below(clusters) as f64).collect();
    (time, event, eta, st, en, cl)
}

/// The twin's counts and influence against the pairwise definition on random data with
/// ties in time and in the predictor, censored rows tied with events, and strata; with
/// and without delayed entry (entries on the times' grid), with and without clusters.
#[test]
fn twin_matches_the_pairwise_definition() {
    let mut r = Rng(0x5eed_c0c0);
    for case in 0..240 {
        let (entry, clustered) = (case % 2 == 1, case % 4 >= 2);
        let (time, event, eta, stratum, en, cl) = random_rows(&mut r, entry);
        let rows = ConcordanceRows {
            time: &time,
            event: &event,
            eta: &eta,
            stratum: &stratum,
            entry: entry.then_some(en.as_slice()),
            cluster: clustered.then_some(cl.as_slice()),
        };
        let want = by_pairs(&rows);
        let got = concordance_plain(&rows);
        assert_eq!(
            (
                got.concordant,
                got.discordant,
                got.tied_x,
                got.tied_y,
                got.tied_xy
            ),
            (want.0, want.1, want.2, want.3, want.4),
            "case {case}"
        );
        let npair = (want.0 + want.1 + want.2) as f64;
        if npair > 0.0 {
            assert!(
                (got.influence_ss - want.5).abs() <= 1e-9 * want.5.max(1.0),
                "case {case}: {} vs {}",
                got.influence_ss,
                want.5
            );
        } else {
            assert_eq!(got.influence_ss, 0.0, "case {case}");
        }
    }
}

/// `data` with an entry column `a.t0` (0 for about half the rows, else an integer below
/// the row's time: entries at other rows' exits) and a cluster column `a.c` (25 values).
fn with_entry_and_cluster(data: &PlainFrame, seed: u64) -> PlainFrame {
    let mut r = Rng(seed);
    let PlainData::Numeric(t) = &data.columns[0].data else {
        panic!("a.t first")
    };
    let entry: Vec<Option<f64>> = t
        .iter()
        .map(|t| t.map(|t| (r.uniform() < 0.5) as u8 as f64 * r.below(t as usize) as f64))
        .collect();
    let cluster: Vec<Option<f64>> = t.iter().map(|_| Some(r.below(25) as f64)).collect();
    let mut cols = data.columns.clone();
    for (name, v) in [("a.t0", entry), ("a.c", cluster)] {
        cols.push(PlainColumn {
            name: name.into(),
            data: PlainData::Numeric(v),
        });
    }
    PlainFrame::new(cols).unwrap()
}

/// On random data with many ties, missing values, a factor and strata, with delayed entry
/// and clusters: MPC against the twin.
#[test]
fn mpc_matches_its_twin_on_random_data() {
    let cases = [
        (11, Ties::Efron, false, false, false),
        (12, Ties::Breslow, true, false, false),
        (13, Ties::Efron, false, true, false),
        (14, Ties::Breslow, false, false, true),
        (15, Ties::Efron, true, true, true),
    ];
    for (seed, ties, strata, entry, cluster) in cases {
        let data = with_entry_and_cluster(&random_frame(300, 3, seed), seed);
        let spec = CoxSpec {
            strata: strata.then(|| "a.s".into()),
            entry: entry.then(|| "a.t0".into()),
            cluster: cluster.then(|| "a.c".into()),
            concordance: true,
            ..common::random_cox(ties)
        };
        let twin = cox_plain(&data, &spec, &no_limits()).unwrap();
        let res = in_mpc(&data, |p, fr| cox(p, fr, &spec, &no_limits())).unwrap();
        let (a, b) = (conc(&twin), conc(&res));
        assert_eq!(
            (a.concordant, a.discordant, a.tied_x, a.tied_y, a.tied_xy),
            (b.concordant, b.discordant, b.tied_x, b.tied_y, b.tied_xy),
            "seed {seed}"
        );
        assert!((a.concordance - b.concordance).abs() < 1e-9, "seed {seed}");
        assert!(
            ((a.se - b.se) / a.se).abs() < 1e-4,
            "seed {seed}: {} vs {}",
            b.se,
            a.se
        );
    }
}

/// Without the option nothing changes: no concordance in the result or its JSON.
#[test]
fn off_by_default() {
    let data = random_frame(200, 2, 5);
    let plain = cox_plain(&data, &common::random_cox(Ties::Efron), &no_limits()).unwrap();
    assert!(plain.concordance.is_none());
    assert!(!serde_json::to_string(&plain)
        .unwrap()
        .contains("concordance"));
}

/// The researcher's edge case: every row that is not an event of the one early event time
/// enters after it, so no pair is comparable (three events tied at time 2, one censored
/// before, three rows entering later, one of them an event alone in its risk set). R
/// (`fixtures/concordance/make_concordance.R` checks it) reports C and its standard error as
/// NaN with the counts 0, 0, 0 and three pairs tied in time; so do the twin and MPC, with no
/// division by zero inside MPC (the influence is exactly 0).
#[test]
fn no_comparable_pair_is_nan_as_in_r() {
    let col = |name: &str, v: &[f64]| PlainColumn {
        name: name.into(),
        data: PlainData::Numeric(v.iter().map(|&x| Some(x)).collect()),
    };
    let data = PlainFrame::new(vec![
        col("a.start", &[0.0, 0.0, 0.0, 0.0, 5.0, 6.0, 5.0]),
        col("a.stop", &[2.0, 2.0, 2.0, 1.5, 8.0, 9.0, 6.0]),
        col("a.event", &[1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0]),
        col("b.x", &[1.0, 2.0, 3.0, 1.0, 2.0, 1.0, 3.0]),
    ])
    .unwrap();
    let spec = CoxSpec {
        entry: Some("a.start".into()),
        time: "a.stop".into(),
        event: "a.event".into(),
        covariates: vec!["b.x".into()],
        concordance: true,
        ..common::random_cox(Ties::Efron)
    };
    let twin = cox_plain(&data, &spec, &no_limits()).unwrap();
    let res = in_mpc(&data, |p, fr| cox(p, fr, &spec, &no_limits())).unwrap();
    for (what, r) in [("twin", &twin), ("MPC", &res)] {
        let c = conc(r);
        assert_eq!(
            (c.concordant, c.discordant, c.tied_x, c.tied_y + c.tied_xy),
            (0, 0, 0, 3),
            "{what}"
        );
        assert!(c.concordance.is_nan() && c.se.is_nan(), "{what}: {c:?}");
        // In the result's JSON as null (and read back as NaN).
        let json = serde_json::to_string(c).unwrap();
        assert!(json.contains(r#""concordance":null"#), "{json}");
        let back: Concordance = serde_json::from_str(&json).unwrap();
        assert!(back.concordance.is_nan() && back.se.is_nan() && back.tied_x == 0);
    }
}
