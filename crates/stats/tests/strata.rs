//! Stratified log-rank test and Cox model in MPC (three parties in memory) against the
//! reference results of `fixtures/strata/strata.json` (statsmodels / lifelines, checked
//! against R `survdiff`/`coxph` with `strata()`; made by
//! `fixtures/strata/make_strata_fixtures.py`) and against their plaintext twins.
//! Tolerances are the issue's: χ² 1e-4 relative, coefficients 1e-4 absolute, standard
//! errors 1e-3 relative.

mod common;
use common::{cox_case, floats, frame, in_mpc, no_limits, random_frame, root, Rng};

use serde_json::Value;
use tessera_stats::analysis::{CoxSpec, LogrankSpec, Ties};
use tessera_stats::survival::{cox, cox_plain, logrank, logrank_plain};
use tessera_stats::{Disclosure, PlainData, PlainFrame};

fn fixture() -> Value {
    let text = std::fs::read_to_string(root().join("fixtures/strata/strata.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn stratified_logrank_matches_fixtures() {
    let fx = fixture();
    let mut worst = 0f64;
    for lr in fx["logrank"].as_array().unwrap() {
        let name = lr["name"].as_str().unwrap();
        let g = lr["group_column"].as_str().unwrap();
        let s = lr["strata_column"].as_str().unwrap();
        let data = frame(
            lr["dataset"].as_str().unwrap(),
            &[(g, floats(&lr["groups"])), (s, floats(&lr["strata"]))],
        );
        let spec = LogrankSpec {
            time: lr["duration"].as_str().unwrap().into(),
            event: lr["event"].as_str().unwrap().into(),
            group: format!("{g}_cat"),
            observed_expected: true,
            strata: Some(format!("{s}_cat")),
        };
        let ours = in_mpc(&data, |p, fr| logrank(p, fr, &spec, &no_limits())).unwrap();
        let twin = logrank_plain(&data, &spec, &no_limits()).unwrap();
        let want = lr["chi_square"].as_f64().unwrap();
        let rel = (ours.chi_square - want).abs() / want;
        worst = worst.max(rel);
        println!(
            "stratified log-rank {name}: χ² {} vs {want} (rel {rel:.2e}), twin rel {:.2e}",
            ours.chi_square,
            (twin.chi_square - want).abs() / want
        );
        assert!(rel < 1e-4, "{name}: {} vs {want}", ours.chi_square);
        assert!((twin.chi_square - want).abs() / want < 1e-9, "{name}: twin");
        assert_eq!(ours.n, lr["n"].as_u64().unwrap());
        assert_eq!(ours.df, lr["df"].as_u64().unwrap() as usize);
        assert_eq!(ours.strata_column.as_deref(), Some(&*format!("{s}_cat")));
        assert!((ours.p - lr["p"].as_f64().unwrap()).abs() < 1e-4);
        for (o, w) in ours.observed.unwrap().iter().zip(floats(&lr["observed"])) {
            assert!((o.unwrap() - w).abs() < 1e-6, "{name}: observed");
        }
        for (e, w) in ours.expected.unwrap().iter().zip(floats(&lr["expected"])) {
            let e = e.unwrap();
            assert!(
                (e - w).abs() < 1e-3 * w.max(1.0),
                "{name}: expected {e} vs {w}"
            );
        }
        for (e, w) in twin.expected.unwrap().iter().zip(floats(&lr["expected"])) {
            assert!((e.unwrap() - w).abs() < 1e-9, "{name}: twin expected");
        }
    }
    println!("stratified log-rank: worst χ² relative error against the fixtures {worst:.2e}");
}

#[test]
fn stratified_cox_matches_fixtures() {
    let fx = fixture();
    let (mut wc, mut ws) = (0f64, 0f64);
    for c in fx["cox"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let s = c["strata_column"].as_str().unwrap();
        let data = frame(c["dataset"].as_str().unwrap(), &[(s, floats(&c["strata"]))]);
        let spec = CoxSpec {
            strata: Some(format!("{s}_cat")),
            ..cox_case(c)
        };
        let ours = in_mpc(&data, |p, fr| cox(p, fr, &spec, &no_limits())).unwrap();
        let twin = cox_plain(&data, &spec, &no_limits()).unwrap();
        let coef = floats(&c["coef"]);
        let se = floats(&c["se"]);
        let (mut dc, mut ds) = (0f64, 0f64);
        for (j, row) in ours.rows.iter().enumerate() {
            dc = dc.max((row.coef - coef[j]).abs());
            ds = ds.max((row.se - se[j]).abs() / se[j]);
            assert!(
                (twin.rows[j].coef - coef[j]).abs() < 1e-6,
                "{name}: twin coef {} vs {}",
                twin.rows[j].coef,
                coef[j]
            );
            assert!(
                (twin.rows[j].se - se[j]).abs() / se[j] < 1e-6,
                "{name}: twin se"
            );
        }
        let ll = c["log_partial_likelihood"].as_f64().unwrap();
        let ll0 = c["log_partial_likelihood_null"].as_f64().unwrap();
        println!(
            "stratified Cox {name}: max |Δcoef| {dc:.2e}, max rel Δse {ds:.2e}, ll {} vs {ll}, \
             iterations {} (twin {})",
            ours.log_likelihood, ours.iterations, twin.iterations
        );
        wc = wc.max(dc);
        ws = ws.max(ds);
        assert!(dc < 1e-4, "{name}: coefficients off by {dc}");
        assert!(ds < 1e-3, "{name}: standard errors off by {ds} relative");
        assert!((ours.log_likelihood - ll).abs() < 1e-3, "{name}: ll");
        assert!((ours.log_likelihood_null - ll0).abs() < 1e-3, "{name}: ll0");
        assert!((twin.log_likelihood - ll).abs() < 1e-8, "{name}: twin ll");
        assert!(
            (twin.log_likelihood_null - ll0).abs() < 1e-8,
            "{name}: twin ll0"
        );
        assert_eq!(ours.n, c["n"].as_u64().unwrap());
        assert_eq!(ours.events, c["events"].as_u64().unwrap());
        assert_eq!(ours.strata.as_deref(), Some(&*format!("{s}_cat")));
        assert!(ours.converged);
    }
    println!("stratified Cox: worst |Δcoef| {wc:.2e}, worst relative Δse {ws:.2e}");
}

fn lr_spec(strata: Option<&str>) -> LogrankSpec {
    LogrankSpec {
        time: "a.t".into(),
        event: "a.e".into(),
        group: "a.g".into(),
        observed_expected: true,
        strata: strata.map(String::from),
    }
}

fn cox_spec(ties: Ties, strata: Option<&str>) -> CoxSpec {
    CoxSpec {
        entry: None,
        robust: false,
        zph: None,
        cluster: None,
        time: "a.t".into(),
        event: "a.e".into(),
        covariates: vec!["b.x".into(), "b.z".into()],
        ties,
        max_steps: 50,
        conf_level: 0.95,
        strata: strata.map(String::from),
        concordance: false,
    }
}

/// MPC against the twin on random data with ties, several strata and a stratum without
/// events (it contributes nothing to the log-rank sums and its own factor 1 to the
/// likelihood).
#[test]
fn stratified_analyses_match_their_twins_on_random_data() {
    let (mut wl, mut wc, mut ws) = (0f64, 0f64, 0f64);
    for (seed, n, strata) in [(1u64, 120usize, 3usize), (2, 300, 4), (3, 200, 2)] {
        let data = random_frame(n, strata, seed);
        let spec = lr_spec(Some("a.s"));
        let ours = in_mpc(&data, |p, fr| logrank(p, fr, &spec, &no_limits())).unwrap();
        let twin = logrank_plain(&data, &spec, &no_limits()).unwrap();
        let rel = (ours.chi_square - twin.chi_square).abs() / twin.chi_square;
        wl = wl.max(rel);
        assert!(
            rel < 1e-4,
            "seed {seed}: χ² {} vs {}",
            ours.chi_square,
            twin.chi_square
        );
        assert_eq!(ours.n, twin.n);
        for (o, t) in ours.expected.unwrap().iter().zip(twin.expected.unwrap()) {
            assert!((o.unwrap() - t.unwrap()).abs() < 1e-3);
        }
        for ties in [Ties::Efron, Ties::Breslow] {
            let spec = cox_spec(ties, Some("a.s"));
            let ours = in_mpc(&data, |p, fr| cox(p, fr, &spec, &no_limits())).unwrap();
            let twin = cox_plain(&data, &spec, &no_limits()).unwrap();
            assert_eq!((ours.n, ours.events), (twin.n, twin.events));
            for (a, b) in ours.rows.iter().zip(&twin.rows) {
                wc = wc.max((a.coef - b.coef).abs());
                ws = ws.max((a.se - b.se).abs() / b.se);
                assert!(
                    (a.coef - b.coef).abs() < 1e-4,
                    "seed {seed} {ties:?}: coef {} vs {}",
                    a.coef,
                    b.coef
                );
                assert!(
                    (a.se - b.se).abs() / b.se < 1e-3,
                    "seed {seed} {ties:?}: se"
                );
            }
            assert!((ours.log_likelihood - twin.log_likelihood).abs() < 1e-3);
            // Stratification changes the fit: not the unstratified twin's numbers.
            let flat = cox_plain(&data, &cox_spec(ties, None), &no_limits()).unwrap();
            assert!((flat.log_likelihood - twin.log_likelihood).abs() > 1e-3);
        }
    }
    println!(
        "random data, MPC vs twin: worst χ² rel {wl:.2e}, worst |Δcoef| {wc:.2e}, worst rel Δse {ws:.2e}"
    );
}

/// With a single stratum, the stratified analyses are the unstratified ones (on the same
/// complete cases: rows without a stratum are not complete cases of the stratified ones).
#[test]
fn one_stratum_equals_unstratified() {
    let data = random_frame(150, 1, 7);
    let mut cols = data.columns.clone();
    let missing: Vec<bool> = match &cols[5].data {
        PlainData::Categorical { codes, .. } => codes.iter().map(Option::is_none).collect(),
        _ => unreachable!(),
    };
    assert!(missing.iter().any(|&m| m));
    // The only stratum of `random_frame` is its last, which has no events: give events
    // back; drop the time of rows without a stratum.
    let mut r = Rng(99);
    if let PlainData::Numeric(e) = &mut cols[1].data {
        for v in e.iter_mut() {
            *v = Some(f64::from(u8::from(r.uniform() < 0.7)));
        }
    }
    if let PlainData::Numeric(t) = &mut cols[0].data {
        for (v, m) in t.iter_mut().zip(&missing) {
            if *m {
                *v = None;
            }
        }
    }
    let data = PlainFrame::new(cols).unwrap();
    let one = lr_spec(Some("a.s"));
    let none = lr_spec(None);
    let a = in_mpc(&data, |p, fr| logrank(p, fr, &one, &no_limits())).unwrap();
    let b = in_mpc(&data, |p, fr| logrank(p, fr, &none, &no_limits())).unwrap();
    let ta = logrank_plain(&data, &one, &no_limits()).unwrap();
    let tb = logrank_plain(&data, &none, &no_limits()).unwrap();
    assert_eq!((a.n, ta.n), (b.n, tb.n));
    assert!((ta.chi_square - tb.chi_square).abs() < 1e-12 * tb.chi_square.max(1.0));
    assert!((a.chi_square - b.chi_square).abs() / b.chi_square < 1e-6);
    assert!((a.chi_square - tb.chi_square).abs() / tb.chi_square < 1e-4);
    for ties in [Ties::Efron, Ties::Breslow] {
        let one = cox_spec(ties, Some("a.s"));
        let none = cox_spec(ties, None);
        let a = in_mpc(&data, |p, fr| cox(p, fr, &one, &no_limits())).unwrap();
        let b = in_mpc(&data, |p, fr| cox(p, fr, &none, &no_limits())).unwrap();
        let ta = cox_plain(&data, &one, &no_limits()).unwrap();
        let tb = cox_plain(&data, &none, &no_limits()).unwrap();
        assert_eq!((a.n, ta.n), (b.n, tb.n));
        for ((x, y), (tx, ty)) in a.rows.iter().zip(&b.rows).zip(ta.rows.iter().zip(&tb.rows)) {
            assert!((tx.coef - ty.coef).abs() < 1e-12, "{ties:?}: twin coef");
            assert!(
                (x.coef - y.coef).abs() < 1e-5,
                "{ties:?}: coef {} vs {}",
                x.coef,
                y.coef
            );
            assert!((x.se - y.se).abs() / y.se < 1e-4, "{ties:?}: se");
        }
        assert!((ta.log_likelihood - tb.log_likelihood).abs() < 1e-9);
        assert!((a.log_likelihood - b.log_likelihood).abs() < 1e-4);
    }
}

/// Refusals name the strata column: a declared stratum without complete cases, a numeric
/// strata column, and `min_level_rows` on the strata's levels (as on a group's).
#[test]
fn stratum_refusals_name_the_column() {
    let data = random_frame(120, 6, 11);
    // A fourth declared level that no row has.
    let mut cols = data.columns.clone();
    if let PlainData::Categorical { levels, .. } = &mut cols[5].data {
        levels.push("s3".into());
    }
    let empty = PlainFrame::new(cols).unwrap();
    let lr = lr_spec(Some("a.s"));
    let cx = cox_spec(Ties::Efron, Some("a.s"));
    for e in [
        in_mpc(&empty, |p, fr| logrank(p, fr, &lr, &no_limits())).unwrap_err(),
        in_mpc(&empty, |p, fr| cox(p, fr, &cx, &no_limits())).unwrap_err(),
        logrank_plain(&empty, &lr, &no_limits())
            .unwrap_err()
            .to_string(),
        cox_plain(&empty, &cx, &no_limits())
            .unwrap_err()
            .to_string(),
    ] {
        assert!(e.contains("a level of a.s has no complete cases"), "{e}");
    }
    // A numeric strata column.
    let lr_num = lr_spec(Some("b.z"));
    let cx_num = cox_spec(Ties::Breslow, Some("b.z"));
    for e in [
        in_mpc(&data, |p, fr| logrank(p, fr, &lr_num, &no_limits())).unwrap_err(),
        in_mpc(&data, |p, fr| cox(p, fr, &cx_num, &no_limits())).unwrap_err(),
        logrank_plain(&data, &lr_num, &no_limits())
            .unwrap_err()
            .to_string(),
        cox_plain(&data, &cx_num, &no_limits())
            .unwrap_err()
            .to_string(),
    ] {
        assert!(e.contains("`b.z`") && e.contains("categorical"), "{e}");
    }
    // min_level_rows applies to the strata's levels (here every group level has more rows
    // than the smallest stratum).
    let counts = |d: &PlainFrame, c: &str| -> Vec<usize> {
        let (levels, codes) = d.categorical(c).unwrap();
        (0..levels.len())
            .map(|l| codes.iter().filter(|&&x| x == Some(l)).count())
            .collect()
    };
    let small = *counts(&data, "a.s").iter().min().unwrap() as u64;
    assert!(*counts(&data, "a.g").iter().min().unwrap() as u64 > small + 1);
    let rule = Disclosure {
        min_level_rows: small + 1,
        ..no_limits()
    };
    for e in [
        in_mpc(&data, |p, fr| logrank(p, fr, &lr, &rule)).unwrap_err(),
        in_mpc(&data, |p, fr| cox(p, fr, &cx, &rule)).unwrap_err(),
        logrank_plain(&data, &lr, &rule).unwrap_err().to_string(),
        cox_plain(&data, &cx, &rule).unwrap_err().to_string(),
    ] {
        assert!(e.contains("min_level_rows") && e.contains("a.s"), "{e}");
    }
}

/// The strata column is among the columns an analysis reads (policy checks), and a study
/// without `strata` parses as before.
#[test]
fn strata_is_a_column_of_the_analysis() {
    use tessera_stats::analysis::AnalysisSpec;
    let lr = AnalysisSpec::Logrank(lr_spec(Some("a.s")));
    assert!(lr.columns().contains(&"a.s"));
    let cx = AnalysisSpec::Cox(cox_spec(Ties::Efron, Some("a.s")));
    assert!(cx.columns().contains(&"a.s"));
    let old: LogrankSpec =
        serde_json::from_str(r#"{"time":"a.t","event":"a.e","group":"a.g"}"#).unwrap();
    assert_eq!(old.strata, None);
    // Unstratified specs serialise without the field (public facts unchanged).
    assert!(!serde_json::to_string(&old).unwrap().contains("strata"));
}

/// What strata cost: bytes of the busiest party and rounds, stratified (4 strata) against
/// unstratified, on the same 300 rows. The log-rank test gets a fixed number of rounds more
/// (the level checks, two offset rounds); Cox four rounds more per evaluation of the
/// derivatives, less whatever the shallower tie groups (now within strata) save in the
/// segmented scans. Bytes grow by the strata's indicators and offset products.
#[test]
fn what_strata_cost() {
    let data = random_frame(300, 4, 5);
    let measure = |spec: tessera_stats::AnalysisSpec| -> (u64, u64) {
        let out = tessera_mpc::testing::run3(|p| {
            let fr = tessera_stats::Frame::share(p, 0, &data)
                .map_err(|e| tessera_mpc::MpcError::Invalid(e.to_string()))?;
            let before = p.stats();
            tessera_stats::analysis::run(p, &fr, &spec, &no_limits())
                .map_err(|e| tessera_mpc::MpcError::Invalid(e.to_string()))?;
            let s = p.stats().since(&before);
            Ok((s.bytes_sent, s.rounds))
        });
        let v: Vec<(u64, u64)> = out.into_iter().map(|r| r.unwrap()).collect();
        (
            v.iter().map(|x| x.0).max().unwrap(),
            v.iter().map(|x| x.1).max().unwrap(),
        )
    };
    use tessera_stats::AnalysisSpec as A;
    let pairs = [
        (A::Logrank(lr_spec(None)), A::Logrank(lr_spec(Some("a.s")))),
        (
            A::Cox(cox_spec(Ties::Efron, None)),
            A::Cox(cox_spec(Ties::Efron, Some("a.s"))),
        ),
        (
            A::Cox(cox_spec(Ties::Breslow, None)),
            A::Cox(cox_spec(Ties::Breslow, Some("a.s"))),
        ),
    ];
    for (flat, strat) in pairs {
        let (b0, r0) = measure(flat.clone());
        let (b1, r1) = measure(strat);
        println!(
            "{}: unstratified {b0} bytes, {r0} rounds; 4 strata {b1} bytes ({:.2}x), {r1} rounds ({:+})",
            flat.kind(),
            b1 as f64 / b0 as f64,
            r1 as i64 - r0 as i64
        );
        assert!(r1 <= r0 + 120, "{} rounds {r1} vs {r0}", flat.kind());
        assert!(b1 <= 3 * b0, "{} bytes {b1} vs {b0}", flat.kind());
    }
}

/// Times of 65,536 units and more (e.g. hours over eight years) with strata: the stratified
/// sort key must keep each stratum one block whatever the times within the range the data
/// owners accept. Scaling every time by 10,000 changes neither the log-rank test nor the
/// Cox fit (both depend on the times' order only), so MPC must equal the twin of the
/// unscaled data. With the stratum code at 2^40 above times of 24 fractional bits, the
/// strata interleaved and the results were wrong.
#[test]
fn stratified_analyses_hold_times_beyond_two_to_the_sixteen() {
    for (seed, n, strata) in [(11u64, 160usize, 3usize), (12, 120, 2)] {
        let data = random_frame(n, strata, seed);
        let mut cols = data.columns.clone();
        if let PlainData::Numeric(t) = &mut cols[0].data {
            for v in t.iter_mut().flatten() {
                *v *= 10_000.0;
            }
        }
        let scaled = PlainFrame::new(cols).unwrap();
        let spec = lr_spec(Some("a.s"));
        let twin = logrank_plain(&data, &spec, &no_limits()).unwrap();
        // Both ways to the tie groups: one product per level, and where rounds cost more
        // than bytes one batched equality test (Party::few_rounds).
        for few in [false, true] {
            let ours = in_mpc(&scaled, |p, fr| {
                p.set_few_rounds(few);
                logrank(p, fr, &spec, &no_limits())
            })
            .unwrap();
            let rel = (ours.chi_square - twin.chi_square).abs() / twin.chi_square;
            assert!(
                rel < 1e-4,
                "seed {seed}, few rounds {few}: χ² {} vs {}",
                ours.chi_square,
                twin.chi_square
            );
        }
        let spec = cox_spec(Ties::Efron, Some("a.s"));
        let twin = cox_plain(&data, &spec, &no_limits()).unwrap();
        let ours = in_mpc(&scaled, |p, fr| cox(p, fr, &spec, &no_limits())).unwrap();
        for (a, b) in ours.rows.iter().zip(&twin.rows) {
            assert!(
                (a.coef - b.coef).abs() < 1e-4,
                "seed {seed}: coef {} vs {}",
                a.coef,
                b.coef
            );
        }
    }
}
