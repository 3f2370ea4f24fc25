//! Model terms across parties (`a.x*b.y`, `a.x:b.y`, `num(a.s)`) in OLS, logistic and Cox
//! regression, in MPC and in the plaintext twin, against statsmodels (`fixtures/interactions/`,
//! made by `make_interaction_fixtures.py`) on the synthetic linked data. Coefficients within
//! 1e-4 absolute, standard errors within 1e-3 relative. `--nocapture` shows the largest errors.

use std::collections::HashMap;
use std::path::PathBuf;

mod common;
use common::{in_mpc, ran};

use serde_json::Value;
use tessera_stats::analysis::{run, AnalysisSpec, CoxSpec, LogisticSpec, OlsSpec, Ties};
use tessera_stats::regression::{logistic, ols, plain};
use tessera_stats::survival::{cox, cox_plain};
use tessera_stats::{Disclosure, PlainColumn, PlainData, PlainFrame};

const COEF_ABS: f64 = 1e-4;
const SE_REL: f64 = 1e-3;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn fixture() -> Value {
    let text = std::fs::read_to_string(root().join("interactions/interactions.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn case(name: &str) -> Value {
    fixture()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name}"))
        .clone()
}

/// A CSV as columns of strings (no quoting in the synthetic files).
fn csv(path: &str) -> HashMap<String, Vec<String>> {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); header.len()];
    for l in lines {
        for (j, v) in l.split(',').enumerate() {
            cols[j].push(v.to_string());
        }
    }
    header.into_iter().zip(cols).collect()
}

/// `registry INNER JOIN gp USING (patient_id)` in registry order, with `gp.bmi_m` (bmi
/// missing where the patient number is 3 modulo 10), as the fixture script builds it.
fn linked() -> PlainFrame {
    let reg = csv("synthetic/registry.csv");
    let gp = csv("synthetic/gp.csv");
    let at: HashMap<&str, usize> = gp["patient_id"]
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let rows: Vec<(usize, usize)> = reg["patient_id"]
        .iter()
        .enumerate()
        .filter_map(|(i, k)| at.get(k.as_str()).map(|&j| (i, j)))
        .collect();
    let get = |left: bool, c: &str| -> Vec<&str> {
        let src = if left { &reg } else { &gp };
        rows.iter()
            .map(|&(i, j)| src[c][if left { i } else { j }].as_str())
            .collect()
    };
    let num = |name: &str, v: Vec<&str>| PlainColumn {
        name: name.into(),
        data: PlainData::Numeric(v.iter().map(|x| Some(x.parse().unwrap())).collect()),
    };
    let cat = |name: &str, v: Vec<&str>, levels: &[&str]| PlainColumn {
        name: name.into(),
        data: PlainData::Categorical {
            codes: v
                .iter()
                .map(|x| levels.iter().position(|l| l == x))
                .collect(),
            levels: levels.iter().map(|l| l.to_string()).collect(),
        },
    };
    let mut cols = Vec::new();
    for c in ["time", "event", "age", "sex"] {
        cols.push(num(&format!("registry.{c}"), get(true, c)));
    }
    cols.push(cat(
        "registry.stage",
        get(true, "stage"),
        &["1", "2", "3", "4"],
    ));
    cols.push(cat(
        "registry.treatment",
        get(true, "treatment"),
        &["0", "1"],
    ));
    cols.push(cat(
        "registry.grade",
        get(true, "stage"),
        &["1", "2", "3", "IV"],
    ));
    for c in ["bmi", "comorbidity"] {
        cols.push(num(&format!("gp.{c}"), get(false, c)));
    }
    cols.push(cat("gp.smoker", get(false, "smoker"), &["0", "1"]));
    let bmi = get(false, "bmi");
    let ids = get(true, "patient_id");
    cols.push(PlainColumn {
        name: "gp.bmi_m".into(),
        data: PlainData::Numeric(
            bmi.iter()
                .zip(&ids)
                .map(|(b, id)| {
                    (id[1..].parse::<u64>().unwrap() % 10 != 3).then(|| b.parse().unwrap())
                })
                .collect(),
        ),
    });
    PlainFrame::new(cols).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn canonical(name: &str) -> String {
    let mut f: Vec<&str> = name.split(':').collect();
    f.sort_unstable();
    f.join(":")
}

/// Compares (name, coef, se) rows with the fixture by name (a product's factors may be in
/// another order in statsmodels' name); every fixture name must be present. Returns the
/// largest coefficient and relative standard-error differences.
fn compare(what: &str, rows: &[(String, f64, f64)], want: &Value) -> (f64, f64) {
    let canon = want["canonical"].as_object().unwrap();
    let expected = canon.len() + usize::from(want["coef"].get("intercept").is_some());
    assert_eq!(rows.len(), expected, "{what}: number of coefficients");
    let (mut dc, mut ds) = (0f64, 0f64);
    for (name, coef, se) in rows {
        let key = if name == "intercept" {
            "intercept".to_string()
        } else {
            canon
                .get(&canonical(name))
                .unwrap_or_else(|| panic!("{what}: `{name}` not in the fixture"))
                .as_str()
                .unwrap()
                .to_string()
        };
        let c0 = want["coef"][&key].as_f64().unwrap();
        let s0 = want["se"][&key].as_f64().unwrap();
        dc = dc.max((coef - c0).abs());
        ds = ds.max((se - s0).abs() / s0);
        assert!(
            (coef - c0).abs() <= COEF_ABS,
            "{what}: {name} coef {coef} vs {c0}"
        );
        assert!(
            (se - s0).abs() <= SE_REL * s0,
            "{what}: {name} se {se} vs {s0}"
        );
    }
    println!("{what}: max |Δcoef| = {dc:.2e}, max rel Δse = {ds:.2e}");
    (dc, ds)
}

fn ols_spec(c: &Value) -> OlsSpec {
    OlsSpec {
        outcome: c["outcome"].as_str().unwrap().into(),
        covariates: strings(&c["covariates"]),
        intercept: true,
        ridge: 0.0,
        conf_level: 0.95,
    }
}

fn coefficient_rows(r: &[tessera_stats::regression::Coefficient]) -> Vec<(String, f64, f64)> {
    r.iter()
        .map(|c| (c.name.clone(), c.coef, c.std_err.unwrap()))
        .collect()
}

fn check_ols(name: &str) {
    let c = case(name);
    let frame = linked();
    let spec = ols_spec(&c);
    let want = &c["result"];
    let twin = plain::ols(&frame, &spec).unwrap();
    let mpc = in_mpc(&frame, |p, fr| {
        ols::ols(p, fr, &spec, &Disclosure::default())
    })
    .unwrap();
    let names = |r: &tessera_stats::regression::OlsResult| -> Vec<String> {
        r.coefficients.iter().map(|c| c.name.clone()).collect()
    };
    assert_eq!(names(&twin), names(&mpc), "{name}: names");
    for (who, r) in [("plain", &twin), ("mpc", &mpc)] {
        let what = format!("{name} ({who})");
        compare(&what, &coefficient_rows(&r.coefficients), want);
        assert_eq!(r.nobs as u64, want["n"].as_u64().unwrap(), "{what}: n");
        let r2 = want["r_squared"].as_f64().unwrap();
        assert!(
            (r.r_squared - r2).abs() <= 1e-5,
            "{what}: R² {}",
            r.r_squared
        );
    }
}

#[test]
fn ols_with_cross_party_products_and_num() {
    check_ols("ols_cross");
}

#[test]
fn ols_product_with_missing_values_uses_complete_cases() {
    check_ols("ols_missing");
}

#[test]
fn logistic_with_cross_party_products_and_num() {
    let c = case("logistic_cross");
    let frame = linked();
    let spec = LogisticSpec {
        outcome: c["outcome"].as_str().unwrap().into(),
        covariates: strings(&c["covariates"]),
        intercept: true,
        l2: 0.0,
        max_steps: 50,
        conf_level: 0.95,
        holdout: None,
        calibration: false,
        groups: None,
    };
    let want = &c["result"];
    let twin = plain::logistic(&frame, &spec).unwrap();
    let mpc = in_mpc(&frame, |p, fr| {
        logistic::logistic(p, fr, &spec, &Disclosure::default())
    })
    .unwrap();
    for (who, r) in [("plain", &twin), ("mpc", &mpc)] {
        let what = format!("logistic_cross ({who})");
        compare(&what, &coefficient_rows(&r.coefficients), want);
        assert_eq!(r.nobs as u64, want["n"].as_u64().unwrap(), "{what}: n");
        let llf = want["log_likelihood"].as_f64().unwrap();
        assert!(
            (r.log_likelihood - llf).abs() <= 1e-4 * llf.abs(),
            "{what}: log-likelihood {}",
            r.log_likelihood
        );
    }
}

fn cox_spec(c: &Value) -> CoxSpec {
    CoxSpec {
        entry: None,
        time: c["time"].as_str().unwrap().into(),
        event: c["event"].as_str().unwrap().into(),
        covariates: strings(&c["covariates"]),
        ties: Ties::Efron,
        max_steps: 50,
        conf_level: 0.95,
        strata: None,
        robust: false,
        zph: None,
        cluster: None,
        concordance: false,
    }
}

fn no_limits() -> Disclosure {
    Disclosure {
        min_cell: Some(0),
        min_events: 0,
        min_rows: 0,
        ..Disclosure::default()
    }
}

#[test]
fn cox_with_cross_party_products_and_num() {
    let c = case("cox_cross");
    let frame = linked();
    let spec = cox_spec(&c);
    let want = &c["result"];
    let twin = cox_plain(&frame, &spec, &no_limits()).unwrap();
    let mpc = in_mpc(&frame, |p, fr| cox(p, fr, &spec, &no_limits())).unwrap();
    for (who, r) in [("plain", &twin), ("mpc", &mpc)] {
        let what = format!("cox_cross ({who})");
        let rows: Vec<(String, f64, f64)> = r
            .rows
            .iter()
            .map(|x| (x.covariate.clone(), x.coef, x.se))
            .collect();
        compare(&what, &rows, want);
        assert_eq!(r.n, want["n"].as_u64().unwrap(), "{what}: n");
        let ll = want["log_likelihood"].as_f64().unwrap();
        assert!(
            (r.log_likelihood - ll).abs() <= 1e-4 * ll.abs(),
            "{what}: log-likelihood {}",
            r.log_likelihood
        );
    }
    // Names in the order written: main effects, then the product, factors as written.
    let names: Vec<&str> = mpc.rows.iter().map(|r| r.covariate.as_str()).collect();
    assert_eq!(
        names[..5],
        [
            "registry.age",
            "gp.bmi",
            "registry.age:gp.bmi",
            "registry.stage[T.2]",
            "registry.stage[T.3]"
        ]
    );
    assert_eq!(names[10], "num(registry.stage):gp.comorbidity");
}

/// A column hidden inside a product or `num(...)` is seen by the column rules: the same
/// refusal as the plain column, before anything is computed.
#[test]
fn forbidden_columns_inside_terms_are_refused() {
    let frame = linked();
    let strict = Disclosure {
        disallowed_columns: vec!["gp.smoker".into(), "registry.stage".into()],
        ..Disclosure::default()
    };
    for covs in [
        vec!["registry.age:gp.smoker"],
        vec!["registry.age*gp.smoker"],
        vec!["num(registry.stage)"],
        vec!["gp.bmi:num(registry.stage)"],
    ] {
        let spec = AnalysisSpec::Ols(OlsSpec {
            outcome: "registry.time".into(),
            covariates: covs.iter().map(|s| s.to_string()).collect(),
            intercept: true,
            ridge: 0.0,
            conf_level: 0.95,
        });
        let e = in_mpc(&frame, |p, fr| ran(&spec, run(p, fr, &spec, &strict))).unwrap_err();
        assert!(e.contains("disallowed_columns"), "{covs:?}: {e}");
    }
}

/// `min_level_rows` applies to the levels of a categorical factor inside a product, and
/// `num(...)` refuses levels that are not numbers, naming the column and the level.
#[test]
fn level_rules_and_num_errors() {
    let frame = linked();
    // Stage 4 has 316 linked rows (fewer than 400); the stage column appears only in a
    // product.
    let d = Disclosure {
        min_level_rows: 400,
        ..Disclosure::default()
    };
    let spec = OlsSpec {
        outcome: "registry.time".into(),
        covariates: vec!["registry.age".into(), "registry.age:registry.stage".into()],
        intercept: true,
        ridge: 0.0,
        conf_level: 0.95,
    };
    let e = in_mpc(&frame, |p, fr| ols::ols(p, fr, &spec, &d)).unwrap_err();
    assert!(e.contains("min_level_rows"), "{e}");
    let cx = CoxSpec {
        entry: None,
        covariates: vec!["gp.bmi:registry.stage".into()],
        ..cox_spec(&case("cox_cross"))
    };
    let e = in_mpc(&frame, |p, fr| cox(p, fr, &cx, &d)).unwrap_err();
    assert!(e.contains("min_level_rows"), "{e}");

    let cx = CoxSpec {
        entry: None,
        covariates: vec!["num(registry.grade)".into()],
        ..cx
    };
    let e = cox_plain(&frame, &cx, &no_limits())
        .unwrap_err()
        .to_string();
    assert!(e.contains("registry.grade") && e.contains("`IV`"), "{e}");
    let e = in_mpc(&frame, |p, fr| cox(p, fr, &cx, &no_limits())).unwrap_err();
    assert!(e.contains("registry.grade") && e.contains("`IV`"), "{e}");
}

/// `num(...)` in a description: the levels read as numbers, in MPC and in the twin, against
/// pandas (count, mean, sample variance, median per group).
#[test]
fn describe_reads_a_categorical_column_as_numbers() {
    use tessera_stats::analysis::DescribeSpec;
    use tessera_stats::describe::{describe, plain as dplain};
    let fx = fixture()["describe_num"].clone();
    let frame = linked();
    let spec = DescribeSpec {
        columns: vec![fx["column"].as_str().unwrap().into()],
        group: Some(fx["group"].as_str().unwrap().into()),
        quantiles: vec![0.5],
        histogram: None,
        extremes: false,
    };
    let d = Disclosure::default();
    let twin = dplain::describe(&frame, &spec, &d).unwrap();
    let mpc = in_mpc(&frame, |p, fr| describe(p, fr, &spec, &d)).unwrap();
    for (who, r) in [("plain", &twin), ("mpc", &mpc)] {
        assert_eq!(r.summaries.len(), 2, "{who}");
        for (l, s) in r.summaries.iter().enumerate() {
            assert_eq!(s.column, "num(registry.stage)");
            assert_eq!(s.count, fx["count"][l].as_u64(), "{who}");
            for (got, key) in [(s.mean, "mean"), (s.var, "var"), (s.quantiles[0], "median")] {
                let want = fx[key][l].as_f64().unwrap();
                assert!(
                    (got.unwrap() - want).abs() < 1e-6,
                    "{who} {key}: {got:?} vs {want}"
                );
            }
        }
    }
}

/// What the products of the Cox case's terms cost (1,700 rows, 11 design columns of which
/// 5 products: three indicator × indicator, two fixed × fixed): the products of one depth
/// share their rounds; main effects and `num(...)` are local. Measured (2 rounds, one ring
/// element per product and row: 136,000 bytes sent per party), and bounded.
#[test]
fn the_products_cost_a_few_rounds() {
    let frame = linked();
    let covs = strings(&case("cox_cross")["covariates"]);
    let cols = tessera_stats::terms::plain_design(&frame, &covs).unwrap();
    let products = cols.iter().filter(|c| c.parts.len() > 1).count();
    let out = tessera_mpc::testing::run3(|p| {
        let fr = tessera_stats::Frame::share(p, 0, &frame).unwrap();
        let before = p.stats();
        let x = tessera_stats::terms::evaluate(p, &fr, &cols).unwrap();
        let after = p.stats();
        let opened: Vec<Vec<u128>> = x.iter().map(|c| p.reveal(c).unwrap()).collect();
        Ok((
            after.rounds - before.rounds,
            after.bytes_sent - before.bytes_sent,
            opened,
        ))
    });
    let [a, _, _] = out.map(|r| r.unwrap());
    let (rounds, bytes, opened) = a;
    println!(
        "{products} products on {} rows: {rounds} rounds, {bytes} bytes sent by party 0",
        frame.rows
    );
    assert!(rounds <= 3, "{rounds} rounds");
    assert!(
        bytes <= (products as u64 + 1) * frame.rows as u64 * 16 * 2,
        "{bytes} bytes"
    );
    // The shared design equals the plaintext one (to the truncation's last bit).
    let rows: Vec<Vec<f64>> = (0..frame.rows)
        .map(|i| {
            tessera_stats::terms::plain_row(&frame, &cols, i)
                .unwrap()
                .unwrap()
        })
        .collect();
    for (j, column) in opened.iter().enumerate() {
        for (i, &v) in column.iter().enumerate() {
            let (got, want) = (tessera_mpc::fixed::decode(v, 24), rows[i][j]);
            assert!(
                (got - want).abs() < 1e-5,
                "row {i} column {j}: {got} vs {want}"
            );
        }
    }
}
