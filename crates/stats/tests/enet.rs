//! The elastic net (`kind = "elasticnet"`), in MPC and in the plaintext twin, against glmnet
//! (`fixtures/enet/enet.json`, made by `fixtures/enet/make_enet.R`): the path's coefficients
//! within 1e-3 absolute at every λ (the tolerance), the cross-validation curve with
//! glmnet's fold ids (twin) and the choice of λ; then the researcher's refusals. Run with
//! `--nocapture` to see the largest errors measured.

mod common;
use common::{csv, floats, in_mpc};

use serde_json::Value;
use tessera_stats::regression::enet::plain::{elasticnet as twin, folds_in_order};
use tessera_stats::regression::enet::{ElasticNetResult, ElasticNetSpec, Family};
use tessera_stats::{PlainColumn, PlainData, PlainFrame};

const COEF_ABS: f64 = 1e-3;

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(common::root().join("fixtures/enet/enet.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn case(name: &str) -> Value {
    cases().into_iter().find(|c| c["name"] == name).unwrap()
}

fn frame_of(c: &Value) -> PlainFrame {
    let cols = csv(&format!("fixtures/enet/{}", c["data"].as_str().unwrap()));
    let mut names: Vec<&String> = cols.keys().collect();
    names.sort();
    PlainFrame::new(
        names
            .into_iter()
            .map(|n| PlainColumn {
                name: n.clone(),
                data: PlainData::Numeric(cols[n].clone()),
            })
            .collect(),
    )
    .unwrap()
}

fn spec_of(c: &Value) -> ElasticNetSpec {
    ElasticNetSpec {
        outcome: "y".into(),
        covariates: c["covariates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect(),
        family: Family::Gaussian,
        alpha: c["alpha"].as_f64().unwrap(),
        nlambda: c["nlambda"].as_u64().unwrap() as usize,
        lambda_min_ratio: c["lambda_min_ratio"].as_f64(),
        lambda: None,
        folds: c["folds"].as_u64().unwrap() as usize,
        sweeps: tessera_stats::regression::enet::path::DEFAULT_SWEEPS,
    }
}

/// Largest absolute difference of the path (and λ) from glmnet's; panics beyond 1e-3.
fn compare_path(what: &str, r: &ElasticNetResult, c: &Value) -> f64 {
    let lambda = floats(&c["lambda"]);
    assert_eq!(r.lambda.len(), lambda.len(), "{what}: nlambda");
    let mut worst = 0.0f64;
    for (l, want) in c["coef"].as_array().unwrap().iter().enumerate() {
        let rel = (r.lambda[l] - lambda[l]).abs() / lambda[l];
        assert!(
            rel < 1e-4,
            "{what}: λ[{l}] {} vs {}",
            r.lambda[l],
            lambda[l]
        );
        for (j, w) in floats(want).iter().enumerate() {
            let e = (r.path[l][j] - w).abs();
            worst = worst.max(e);
            assert!(
                e <= COEF_ABS,
                "{what}: λ #{l} coefficient {} is {}, glmnet {w}",
                r.names[j],
                r.path[l][j]
            );
        }
    }
    let df: Vec<usize> = floats(&c["df"]).iter().map(|&v| v as usize).collect();
    assert_eq!(r.nonzero, df, "{what}: non-zero coefficients per λ");
    worst
}

fn index(c: &Value, key: &str) -> usize {
    c[key].as_u64().unwrap() as usize - 1
}

#[test]
fn twin_matches_glmnet_path_and_cv_with_its_folds() {
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        let n = c["nobs"].as_u64().unwrap() as usize;
        let spec = spec_of(&c);
        let r = twin(&frame_of(&c), &spec, &folds_in_order(n, spec.folds)).unwrap();
        let worst = compare_path(name, &r, &c);
        let (cvm, cvsd) = (floats(&c["cvm"]), floats(&c["cvsd"]));
        let mut cv_worst = 0.0f64;
        for l in 0..cvm.len() {
            let e = ((r.cvm[l] - cvm[l]) / cvm[l])
                .abs()
                .max(((r.cvsd[l] - cvsd[l]) / cvsd[l]).abs());
            cv_worst = cv_worst.max(e);
            assert!(e < 1e-4, "{name}: cvm/cvsd at #{l}");
        }
        assert_eq!(r.index_min, index(&c, "index_min"), "{name}: lambda.min");
        assert_eq!(r.index_1se, index(&c, "index_1se"), "{name}: lambda.1se");
        println!("{name} (twin): path within {worst:.2e}, cv curve within {cv_worst:.2e} rel");
    }
}
