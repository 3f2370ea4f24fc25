//! Harrell's concordance of a Cox model (`concordance = true`), in MPC (three parties in
//! memory) and in the plaintext twin, against R's `fit$concordance` (`fixtures/concordance/`,
//! made by `fixtures/concordance/make_concordance.R`; R is not needed here): rossi (Efron and
//! Breslow), lung, tiny (ties), stratified rossi and lung, and a binary covariate with many
//! ties. C to 1e-4 absolute, the counts exactly, the standard error to 1e-3 relative; the
//! twin against the O(n²) definition on random data.

mod common;
use common::{cox_case, csv_frame, floats, frame, in_mpc, no_limits, random_frame, root, Rng};

use serde_json::Value;
use tessera_stats::analysis::{CoxSpec, Ties};
use tessera_stats::survival::{concordance_plain, cox, cox_plain, Concordance, CoxResult};
use tessera_stats::PlainFrame;

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
    match c["dataset"].as_str().unwrap() {
        "binary" => csv_frame("fixtures/concordance/synthetic_binary.csv", &[]),
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

fn check(name: &str, what: &str, got: &Concordance, c: &Value) {
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
        (got.concordance - want).abs() < 1e-4,
        "{name} {what}: C {} vs R {want}",
        got.concordance
    );
    let se = c["std"].as_f64().unwrap();
    assert!(
        ((got.se - se) / se).abs() < 1e-3,
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
        check(name, "twin", conc(&res), c);
    }
}

#[test]
fn mpc_matches_r_and_the_twin() {
    for c in &cases() {
        let name = c["name"].as_str().unwrap();
        let (data, spec) = (data_of(c), spec_of(c));
        let res = in_mpc(&data, |p, fr| cox(p, fr, &spec, &no_limits())).unwrap();
        check(name, "MPC", conc(&res), c);
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

/// R's definition pair by pair, with its influence: (concordant, discordant, tied.x,
/// tied.y, tied.xy, Σ dfbeta² · (2 npair)²).
fn by_pairs(
    time: &[f64],
    event: &[bool],
    eta: &[f64],
    st: &[usize],
) -> (u64, u64, u64, u64, u64, f64) {
    let n = time.len();
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
            if time[j] < time[i] {
                continue;
            }
            // i is the event, j the longer time (or censored at i's time).
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
    let ss = (0..n).map(|r| (k[r] - m[r] * s).powi(2)).sum();
    (c, d, tx, ty, txy, ss)
}

/// The twin's counts and influence against the pairwise definition on random data with
/// ties in time and in the predictor, censored rows tied with events, and strata.
#[test]
fn twin_matches_the_pairwise_definition() {
    let mut r = Rng(0x5eed_c0c0);
    for case in 0..60 {
        let n = 2 + r.below(60);
        let strata = 1 + r.below(3);
        let levels = 1 + r.below(6);
        let time: Vec<f64> = (0..n).map(|_| (1 + r.below(8)) as f64).collect();
        let event: Vec<bool> = (0..n).map(|_| r.uniform() < 0.6).collect();
        let eta: Vec<f64> = (0..n)
            .map(|_| r.below(levels) as f64 * 0.37 - 1.0)
            .collect();
        let st: Vec<usize> = (0..n).map(|_| r.below(strata)).collect();
        let want = by_pairs(&time, &event, &eta, &st);
        let got = concordance_plain(&time, &event, &eta, &st);
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
        }
    }
}

/// On random data with many ties, missing values, a factor and strata: MPC against the twin.
#[test]
fn mpc_matches_its_twin_on_random_data() {
    for (seed, ties, strata) in [(11, Ties::Efron, false), (12, Ties::Breslow, true)] {
        let data = random_frame(300, 3, seed);
        let spec = CoxSpec {
            strata: strata.then(|| "a.s".into()),
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

/// Without the option nothing changes; with `entry` or `cluster` it is refused alike.
#[test]
fn off_by_default_and_refused_with_entry_or_cluster() {
    let data = random_frame(200, 2, 5);
    let plain = cox_plain(&data, &common::random_cox(Ties::Efron), &no_limits()).unwrap();
    assert!(plain.concordance.is_none());
    assert!(!serde_json::to_string(&plain)
        .unwrap()
        .contains("concordance"));
    let spec = CoxSpec {
        concordance: true,
        cluster: Some("b.z".into()),
        ..common::random_cox(Ties::Efron)
    };
    let err = cox_plain(&data, &spec, &no_limits()).unwrap_err();
    assert!(err.to_string().contains("`concordance`"), "{err}");
    let err = in_mpc(&data, |p, fr| cox(p, fr, &spec, &no_limits())).unwrap_err();
    assert!(err.to_string().contains("`concordance`"), "{err}");
}
