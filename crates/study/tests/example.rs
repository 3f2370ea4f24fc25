//! The shipped example study, run end to end (CSV → keys → secret sharing → linkage →
//! analyses, three parties in memory), against the lifelines / statsmodels references of the
//! same synthetic data in `fixtures/synthetic.json` (survival) and `fixtures/example.json`
//! (the other analyses; made by `fixtures/make_example_fixtures.py`).

use std::path::PathBuf;

use serde_json::Value;
use tessera_study::run::{run_local, RunOptions};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn example_study_matches_lifelines_on_the_linked_data() {
    let study = tessera_study::load(&root().join("examples/survival/study.toml")).unwrap();
    let out = run_local(&study, &RunOptions::default()).unwrap();
    assert_eq!(out.linkage.intersection, 1700);
    let fx: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/synthetic.json")).unwrap(),
    )
    .unwrap();
    let result = |name: &str| -> Value {
        let a = out.analyses.iter().find(|a| a.name == name).unwrap();
        a.result
            .clone()
            .unwrap_or_else(|| panic!("{name}: {:?}", a.error))
    };

    // Kaplan–Meier by stage at the study's grid: lifelines' curve at the last event time ≤ τ.
    let km = result("km_by_stage");
    let fkm = fx["kaplan_meier"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "by_stage")
        .unwrap();
    for (curve, g) in km["curves"]
        .as_array()
        .unwrap()
        .iter()
        .zip(fkm["groups"].as_array().unwrap())
    {
        let et = &g["event_table"];
        let (times, surv) = (floats(&et["time"]), floats(&et["survival"]));
        for row in curve["rows"].as_array().unwrap() {
            if row["shown"] == false {
                continue;
            }
            let tau = row["time"].as_f64().unwrap();
            let i = times.iter().rposition(|&t| t <= tau).unwrap();
            let got = row["survival"].as_f64().unwrap();
            assert!(
                (got - surv[i]).abs() < 1e-4,
                "stage {}: S({tau}) {got} vs {}",
                curve["group"],
                surv[i]
            );
        }
    }

    // Log-rank by stage.
    let lr = result("logrank_by_stage");
    let flr = fx["logrank"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "stage")
        .unwrap();
    let (got, want) = (
        lr["chi_square"].as_f64().unwrap(),
        flr["chi_square"].as_f64().unwrap(),
    );
    assert!((got - want).abs() / want < 1e-4, "χ² {got} vs {want}");
    for (o, w) in floats(&lr["observed"]).iter().zip(floats(&flr["observed"])) {
        assert!((o - w).abs() < 1e-6);
    }

    // Cox with the fixture's 14 covariates (stage as indicators of 2, 3, 4), Efron ties.
    let cox = result("cox");
    let fc = fx["cox"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "synthetic_all_efron")
        .unwrap();
    let rows = cox["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 14);
    for ((row, c), s) in rows.iter().zip(floats(&fc["coef"])).zip(floats(&fc["se"])) {
        let (gc, gs) = (row["coef"].as_f64().unwrap(), row["se"].as_f64().unwrap());
        assert!(
            (gc - c).abs() < 1e-4,
            "{}: coef {gc} vs {c}",
            row["covariate"]
        );
        assert!(
            (gs - s).abs() / s < 1e-3,
            "{}: se {gs} vs {s}",
            row["covariate"]
        );
    }
    let ll = cox["log_likelihood"].as_f64().unwrap();
    assert!((ll - fc["log_partial_likelihood"].as_f64().unwrap()).abs() < 1e-3);

    // Its proportional-hazards test (`zph = "km"`) against R's cox.zph on the linked data
    // (fixtures/zph/make_zph.R, case synthetic_example): 1e-4 relative, or 1e-6 absolute for
    // the statistics below 0.01.
    let zx: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/zph/zph.json")).unwrap(),
    )
    .unwrap();
    let zc = zx["cox"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "synthetic_example")
        .unwrap();
    let t = &cox["ph_test"];
    let terms = t["terms"].as_array().unwrap();
    assert_eq!(terms.len(), 12);
    let got: Vec<f64> = terms
        .iter()
        .chain([&t["global"]])
        .map(|r| r["chisq"].as_f64().unwrap())
        .collect();
    let mut want = floats(&zc["chisq"]);
    want.push(zc["global_chisq"].as_f64().unwrap());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (g - w).abs() <= (1e-4 * w).max(1e-6),
            "zph {i}: {g} vs R {w}"
        );
    }
    assert_eq!(terms[3]["term"], "registry.stage");
    assert_eq!(terms[3]["df"], 3);
    assert_eq!(t["global"]["df"], 14);

    // The other analyses against statsmodels / numpy / pandas on the pooled data.
    let ex: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/example.json")).unwrap(),
    )
    .unwrap();
    for (name, key) in [("diabetes", "diabetes_logistic"), ("bmi", "bmi_ols")] {
        let got = result(name);
        let rows = got["coefficients"].as_array().unwrap();
        let want = &ex[key];
        for ((row, c), s) in rows
            .iter()
            .zip(floats(&want["coef"]))
            .zip(floats(&want["se"]))
        {
            let (gc, gs) = (
                row["coef"].as_f64().unwrap(),
                row["std_err"].as_f64().unwrap(),
            );
            assert!(
                (gc - c).abs() < 1e-4,
                "{name} {}: coef {gc} vs {c}",
                row["name"]
            );
            assert!(
                (gs - s).abs() / s < 1e-3,
                "{name} {}: se {gs} vs {s}",
                row["name"]
            );
        }
    }
    let t1 = result("table1_by_stage");
    for s in t1["summaries"].as_array().unwrap() {
        let col = s["column"].as_str().unwrap().split('.').nth(1).unwrap();
        let level: usize = s["level"].as_str().unwrap().parse().unwrap();
        let want = &ex["table1_by_stage"][col][level - 1];
        assert_eq!(s["count"], want["count"]);
        let (m, w) = (s["mean"].as_f64().unwrap(), want["mean"].as_f64().unwrap());
        assert!(
            (m - w).abs() < 1e-6 * w.abs(),
            "{col} {level}: mean {m} vs {w}"
        );
        let (sd, w) = (s["sd"].as_f64().unwrap(), want["std"].as_f64().unwrap());
        assert!((sd - w).abs() < 1e-6 * w, "{col} {level}: sd {sd} vs {w}");
        // Integer columns: quantiles exactly as numpy's.
        if col != "bmi" {
            assert_eq!(
                floats(&s["quantiles"]),
                floats(&want["quantiles"]),
                "{col} {level}"
            );
        } else {
            for (q, w) in floats(&s["quantiles"])
                .iter()
                .zip(floats(&want["quantiles"]))
            {
                assert!((q - w).abs() < 1e-6, "{col} {level}: {q} vs {w}");
            }
        }
    }
    let r = result("correlations");
    for (row, want) in r["r"]
        .as_array()
        .unwrap()
        .iter()
        .zip(ex["correlations"].as_array().unwrap())
    {
        for (a, b) in floats(row).iter().zip(floats(want)) {
            assert!((a - b).abs() < 1e-6, "correlation {a} vs {b}");
        }
    }
}

/// A cumulative incidence in a study (`kind = "cuminc"`): validated, run on the linked data
/// and opened like any analysis. With one cause it is one minus Kaplan–Meier's survival on
/// the same grid, which the study's own Kaplan–Meier gives.
#[test]
fn a_cumulative_incidence_with_one_cause_is_one_minus_kaplan_meier() {
    let path = root().join("examples/survival/study.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "[[analysis]]\nname = \"logrank_by_stage\"",
        "[[analysis]]\nname = \"cif_by_stage\"\nkind = \"cuminc\"\ntime = \"registry.time\"\n\
         event = \"registry.event\"\ngroup = \"registry.stage\"\ncauses = 1\n\
         times = [365, 730, 1095, 1460]\ngray_test = true\n\n\
         [[analysis]]\nname = \"logrank_by_stage\"",
    );
    assert!(text.contains("cif_by_stage"));
    let study =
        tessera_study::validate::parse(&path.display().to_string(), &text, path.parent().unwrap())
            .unwrap();
    let out = run_local(&study, &RunOptions::default()).unwrap();
    let result = |name: &str| -> Value {
        let a = out.analyses.iter().find(|a| a.name == name).unwrap();
        a.result
            .clone()
            .unwrap_or_else(|| panic!("{name}: {:?}", a.error))
    };
    let (km, cif) = (result("km_by_stage"), result("cif_by_stage"));
    let mut compared = 0;
    for (k, c) in km["curves"]
        .as_array()
        .unwrap()
        .iter()
        .zip(cif["curves"].as_array().unwrap())
    {
        for (kr, cr) in k["rows"]
            .as_array()
            .unwrap()
            .iter()
            .zip(c["rows"].as_array().unwrap())
        {
            assert_eq!(kr["shown"], cr["shown"], "{kr} {cr}");
            if cr["shown"] == true {
                let (s, f) = (
                    kr["survival"].as_f64().unwrap(),
                    cr["estimate"].as_f64().unwrap(),
                );
                assert!((s + f - 1.0).abs() < 1e-4, "S {s} + F {f} at {cr}");
                assert_eq!(kr["at_risk"], cr["at_risk"]);
                compared += 1;
            }
        }
    }
    assert!(compared >= 8, "{compared} cells compared");
    // Gray's test of equal incidence across the four stages, opened at the recipient.
    let gray = &cif["gray_tests"][0];
    assert_eq!(gray["df"], 3, "{cif}");
    assert!(gray["statistic"].as_f64().unwrap() > 0.0, "{gray}");
    let p = gray["p_value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p), "{gray}");
}

/// A restricted mean survival time in a study (`kind = "rmst"`): its `tau` must be a time of
/// the Kaplan–Meier grid of the same time column (its rows and events up to tau are a count
/// at a cut, as the grid's are); at such a tau it runs and opens, each group's mean below
/// tau.
#[test]
fn a_restricted_mean_runs_at_a_grid_time_and_is_refused_between_them() {
    let path = root().join("examples/survival/study.toml");
    let with_tau = |tau: &str| {
        std::fs::read_to_string(&path).unwrap().replace(
            "[[analysis]]\nname = \"logrank_by_stage\"",
            &format!(
                "[[analysis]]\nname = \"rmst_by_stage\"\nkind = \"rmst\"\n\
                 time = \"registry.time\"\nevent = \"registry.event\"\n\
                 group = \"registry.stage\"\ntau = {tau}\n\n\
                 [[analysis]]\nname = \"logrank_by_stage\""
            ),
        )
    };
    let parse = |text: &str| {
        tessera_study::validate::parse(&path.display().to_string(), text, path.parent().unwrap())
    };
    let e = parse(&with_tau("1000")).unwrap_err().to_string();
    assert!(e.contains("same_km_grid") && e.contains("tau"), "{e}");
    let study = parse(&with_tau("1460")).unwrap();
    let out = run_local(&study, &RunOptions::default()).unwrap();
    let a = out
        .analyses
        .iter()
        .find(|a| a.name == "rmst_by_stage")
        .unwrap();
    let r = a.result.clone().unwrap_or_else(|| panic!("{:?}", a.error));
    let groups = r["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 4, "{r}");
    for g in groups.iter().filter(|g| g["shown"] == true) {
        let m = g["rmst"].as_f64().unwrap();
        assert!(m > 0.0 && m < 1460.0, "{g}");
        assert!(g["std_err"].as_f64().unwrap() > 0.0, "{g}");
    }
}

/// `[linkage] keep = "registry"`: the registry's 100 patients without a GP record stay in
/// the linked table with the GP's columns missing. An analysis of registry columns only
/// then uses all 1,800 registry patients and equals the plaintext estimate on the
/// registry's file alone; one with a GP column uses the 1,700 linked patients and equals
/// the inner join's. A `keep` that names no data party is refused by name.
#[test]
fn a_left_join_keeps_the_registry_patients_without_a_gp_record() {
    use tessera_stats::analysis::KaplanMeierSpec;
    use tessera_stats::survival::kaplan_meier_plain;
    use tessera_stats::{PlainColumn, PlainFrame};

    let path = root().join("examples/survival/study.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let keep = text.replace(
        "duplicates = \"refuse\"",
        "duplicates = \"refuse\"\nkeep = \"registry\"",
    );
    assert_ne!(keep, text);
    let parse = |t: &str| {
        tessera_study::validate::parse(&path.display().to_string(), t, path.parent().unwrap())
    };
    let (left, inner) = (parse(&keep).unwrap(), parse(&text).unwrap());
    let out = run_local(&left, &RunOptions::default()).unwrap();
    let base = run_local(&inner, &RunOptions::default()).unwrap();
    assert_eq!(out.linkage.intersection, 1800);
    assert_eq!(out.linkage.kept.as_deref(), Some("registry"));
    let result = |o: &tessera_study::run::StudyOutput, name: &str| -> Value {
        let a = o.analyses.iter().find(|a| a.name == name).unwrap();
        a.result
            .clone()
            .unwrap_or_else(|| panic!("{name}: {:?}", a.error))
    };

    // Kaplan–Meier by stage on every registry patient, as on the registry's file alone.
    let km = result(&out, "km_by_stage");
    assert_eq!(km["n"], 1800);
    let reg = std::fs::read_to_string(root().join("fixtures/synthetic/registry.csv")).unwrap();
    let mut lines = reg.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let num = |n: &str| -> Vec<f64> { rows.iter().map(|r| r[col(n)].parse().unwrap()).collect() };
    let stage: Vec<usize> = rows
        .iter()
        .map(|r| r[col("stage")].parse::<usize>().unwrap() - 1)
        .collect();
    let frame = PlainFrame::new(vec![
        PlainColumn::numeric("registry.time", &num("time")),
        PlainColumn::numeric("registry.event", &num("event")),
        PlainColumn::categorical("registry.stage", &["1", "2", "3", "4"], &stage),
    ])
    .unwrap();
    let a = left
        .analyses
        .iter()
        .find(|a| a.name == "km_by_stage")
        .unwrap();
    let tessera_stats::analysis::AnalysisSpec::KaplanMeier(spec) = &a.spec else {
        panic!("km_by_stage is a Kaplan–Meier analysis")
    };
    let spec: &KaplanMeierSpec = spec;
    let plain = kaplan_meier_plain(&frame, spec, &left.disclosure).unwrap();
    let mut compared = 0;
    for (c, pc) in km["curves"].as_array().unwrap().iter().zip(&plain.curves) {
        for (r, pr) in c["rows"].as_array().unwrap().iter().zip(&pc.rows) {
            assert_eq!(r["shown"], pr.shown);
            if pr.shown {
                assert_eq!(r["at_risk"], pr.at_risk.unwrap());
                let s = r["survival"].as_f64().unwrap();
                assert!((s - pr.survival.unwrap()).abs() < 1e-4, "{r} vs {pr:?}");
                compared += 1;
            }
        }
    }
    assert!(compared >= 8, "{compared} cells compared");

    // The Cox model has GP covariates: the linked patients only, as with the inner join.
    let (cl, ci) = (result(&out, "cox"), result(&base, "cox"));
    assert_eq!(cl["n"], 1700);
    assert_eq!(cl["n"], ci["n"]);
    for (a, b) in cl["rows"]
        .as_array()
        .unwrap()
        .iter()
        .zip(ci["rows"].as_array().unwrap())
    {
        let (x, y) = (a["coef"].as_f64().unwrap(), b["coef"].as_f64().unwrap());
        assert!((x - y).abs() < 1e-4, "{a} vs {b}");
    }

    // `keep` must name a data party.
    let bad = keep.replace("keep = \"registry\"", "keep = \"institute\"");
    let e = parse(&bad).unwrap_err().to_string();
    assert!(
        e.contains("[linkage] field keep: `institute` is not a data party"),
        "{e}"
    );
}

/// Robust standard errors in a study (`robust = true` on a Cox analysis): validated, run on
/// the linked data and opened, with the model-based standard errors kept as `se_naive` and
/// the same coefficients as the study's own Cox model; a value of the wrong type is an
/// error naming the field.
#[test]
fn a_cox_model_with_robust_standard_errors_runs_and_a_wrong_value_is_named() {
    let path = root().join("examples/survival/study.toml");
    let with = |value: &str| {
        std::fs::read_to_string(&path).unwrap().replace(
            "[[analysis]]\nname = \"cox\"\nkind = \"cox\"\n",
            &format!(
                "[[analysis]]\nname = \"cox_robust\"\nkind = \"cox\"\nrobust = {value}\n\
                 time = \"registry.time\"\nevent = \"registry.event\"\n\
                 covariates = [\"registry.age\", \"registry.stage\"]\n\n\
                 [[analysis]]\nname = \"cox\"\nkind = \"cox\"\n"
            ),
        )
    };
    let parse = |text: &str| {
        tessera_study::validate::parse(&path.display().to_string(), text, path.parent().unwrap())
    };
    let e = parse(&with("\"yes\"")).unwrap_err().to_string();
    assert!(e.contains("robust") && e.contains("cox_robust"), "{e}");
    println!("robust = \"yes\": {e}");
    let text = with("true");
    assert!(text.contains("cox_robust"));
    let study = parse(&text).unwrap();
    let out = run_local(&study, &RunOptions::default()).unwrap();
    let a = out
        .analyses
        .iter()
        .find(|a| a.name == "cox_robust")
        .unwrap();
    let r = a.result.clone().unwrap_or_else(|| panic!("{:?}", a.error));
    assert_eq!(r["robust"], true, "{r}");
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{r}"); // age and stages 2, 3, 4
    for row in rows {
        let (se, naive) = (
            row["se"].as_f64().unwrap(),
            row["se_naive"].as_f64().unwrap(),
        );
        assert!(
            se > 0.0 && naive > 0.0 && (se / naive - 1.0).abs() < 0.5,
            "{row}"
        );
        let (c, z) = (row["coef"].as_f64().unwrap(), row["z"].as_f64().unwrap());
        assert!((z - c / se).abs() < 1e-9 * z.abs().max(1.0), "{row}");
    }
}

/// A cumulative incidence at every event time (`at_event_times = true`) in a study: refused
/// by rule `allow_event_times` unless the study allows event times; with it, one cause's
/// curve at each event time is one minus Kaplan–Meier's at the same times, with the same
/// numbers at risk and events.
#[test]
fn a_cumulative_incidence_at_event_times_needs_allow_event_times_and_is_one_minus_km() {
    let path = root().join("examples/survival/study.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let first = text.find("[[analysis]]").unwrap();
    let second = first + 1 + text[first + 1..].find("[[analysis]]").unwrap();
    let grid = "times = [365, 730, 1095, 1460]\n";
    let km = text[..second].replace(grid, &format!("{grid}at_event_times = true\n"));
    assert!(km.contains("at_event_times = true"));
    let study = format!(
        "{km}[[analysis]]\nname = \"cif_by_stage\"\nkind = \"cuminc\"\ntime = \"registry.time\"\n\
         event = \"registry.event\"\ngroup = \"registry.stage\"\ncauses = 1\n{grid}\
         at_event_times = true\n"
    );
    let dir = path.parent().unwrap();
    let parse = |t: &str| tessera_study::validate::parse("study.toml", t, dir).unwrap();
    let refused = run_local(&parse(&study), &RunOptions::default())
        .map(|out| out.analyses[1].error.clone().unwrap_or_default())
        .unwrap_or_else(|e| e.to_string());
    assert!(refused.contains("allow_event_times"), "{refused}");
    let allowed = study.replace(
        "min_rows = 100\n",
        "min_rows = 100\nallow_event_times = true\n",
    );
    let out = run_local(&parse(&allowed), &RunOptions::default()).unwrap();
    let result = |i: usize| -> Value {
        let a = &out.analyses[i];
        a.result
            .clone()
            .unwrap_or_else(|| panic!("{}: {:?}", a.name, a.error))
    };
    let (km, cif) = (result(0), result(1));
    let mut compared = 0;
    for (k, c) in km["curves"]
        .as_array()
        .unwrap()
        .iter()
        .zip(cif["curves"].as_array().unwrap())
    {
        let (ke, ce) = (
            k["event_times"].as_array().unwrap(),
            c["event_times"].as_array().unwrap(),
        );
        assert_eq!(ke.len(), ce.len(), "{}", c["group"]);
        for (kr, cr) in ke.iter().zip(ce) {
            assert_eq!(
                (&kr["time"], &kr["at_risk"], &kr["events"]),
                (&cr["time"], &cr["at_risk"], &cr["events"])
            );
            let (s, f) = (
                kr["survival"].as_f64().unwrap(),
                cr["estimate"].as_f64().unwrap(),
            );
            assert!((s + f - 1.0).abs() < 1e-4, "S {s} + F {f} at {cr}");
            compared += 1;
        }
    }
    assert!(compared >= 100, "{compared} event times compared");
    let html = tessera_study::report::html(&out);
    assert!(html.contains("at every event time (any cause)"), "report");
}
