//! `kind = "relsurv"` end to end: a registry (diagnosis date, age, sex, group) and a
//! vital-status register (follow-up) linked on the patient id, the registry writing each
//! patient's expected-mortality path from the pinned life table before sharing, Ederer II
//! inside MPC; compared with R's `relsurv::rs.surv` on the same patients
//! (`fixtures/relsurv/relsurv.json`, `make_relsurv.R`; the two data files are split from the
//! fixture's patients by `fixtures/relsurv/study/make_study_data.py`).
//!
//! And the people who could misuse it: a researcher spreading age, date and sex over two
//! stations, naming levels or tables that do not exist, cutting the follow-up on a second
//! grid, reading the path columns as data; a data owner holding another life table than the
//! study pins.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tessera_study::run::{run_local, RunOptions, StudyOutput};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example() -> String {
    std::fs::read_to_string(root().join("examples/relsurv/study.toml")).unwrap()
}

fn parse(text: &str) -> tessera_study::Result<tessera_study::Study> {
    tessera_study::validate::parse("study.toml", text, &root().join("examples/relsurv"))
}

fn run(text: &str) -> StudyOutput {
    run_local(&parse(text).unwrap(), &RunOptions::default()).unwrap()
}

fn reference() -> Value {
    let text = std::fs::read_to_string(root().join("fixtures/relsurv/relsurv.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// R's `method` (`"ederer2"`, `"pohar-perme"`) on the synthetic patients for `group`
/// (`"all"`, `"A"`, `"B"`).
fn r_case(fx: &Value, method: &str, group: &str) -> Value {
    fx["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["data"] == "synthetic.csv" && c["method"] == method && c["group"] == group)
        .unwrap()["grid"]
        .clone()
}

/// Every row of `curve` against R's grid values: survival and limits 1e-4 absolute (we
/// reach about 1e-6), standard errors 1e-3 relative, the numbers at risk exactly.
fn compare(curve: &Value, r: &Value) -> f64 {
    let rows = curve["rows"].as_array().unwrap();
    let num = |v: &Value, i: usize| v.as_array().unwrap()[i].as_f64().unwrap();
    assert_eq!(rows.len(), r["time"].as_array().unwrap().len());
    let mut worst = 0.0_f64;
    for (i, row) in rows.iter().enumerate() {
        let t = row["time"].as_f64().unwrap();
        assert!((t - num(&r["time"], i)).abs() < 1e-9);
        if row["shown"] == false {
            continue;
        }
        let s = row["survival"].as_f64().unwrap();
        let se = row["std_err"].as_f64().unwrap();
        assert_eq!(
            row["at_risk"].as_f64().unwrap(),
            num(&r["n_risk"], i),
            "n.risk at {t}"
        );
        let d = (s - num(&r["surv"], i)).abs();
        worst = worst.max(d);
        assert!(d < 1e-4, "S({t}) {s} vs R {}", num(&r["surv"], i));
        let rse = num(&r["std_err"], i);
        assert!((se - rse).abs() < 1e-3 * rse, "se({t}) {se} vs R {rse}");
        for (ours, theirs) in [("ci_lower", "lower"), ("ci_upper", "upper")] {
            let (a, b) = (row[ours].as_f64().unwrap(), num(&r[theirs], i));
            assert!((a - b).abs() < 1e-4, "{ours}({t}) {a} vs R {b}");
        }
    }
    worst
}

fn result(out: &StudyOutput, name: &str) -> Value {
    let a = out.analyses.iter().find(|a| a.name == name).unwrap();
    a.result
        .clone()
        .unwrap_or_else(|| panic!("{name}: {:?}", a.error))
}

#[test]
fn the_example_by_group_matches_relsurv() {
    let out = run(&example());
    let fx = reference();
    for (name, method) in [
        ("relative_survival", "ederer2"),
        ("net_survival", "pohar-perme"),
    ] {
        let v = result(&out, name);
        assert_eq!(v["method"], method);
        assert_eq!(v["life_table"], "population");
        assert_eq!(v["n"], 400);
        let curves = v["curves"].as_array().unwrap();
        assert_eq!(curves.len(), 2);
        let mut worst = 0.0_f64;
        for c in curves {
            let g = c["group"].as_str().unwrap();
            worst = worst.max(compare(c, &r_case(&fx, method, g)));
        }
        // The first five years are shown in both groups; a later time is suppressed only
        // where R counts few at risk, or too few events since the last shown time.
        for c in curves {
            let g = c["group"].as_str().unwrap();
            let rows = c["rows"].as_array().unwrap();
            assert!(
                rows[..5].iter().all(|r| r["shown"] == true),
                "{g}: {rows:?}"
            );
            for (i, r) in rows.iter().enumerate() {
                if r["shown"] == false {
                    let n = r_case(&fx, method, g)["n_risk"][i].clone();
                    eprintln!("{method} {g}: {} suppressed (R n.risk {n})", r["time"]);
                }
            }
        }
        eprintln!("{method}: worst |S − R| by group: {worst:.2e}");
    }
    // The rendered page holds the curves as figures and the tables.
    let html = tessera_study::report::html(&out);
    assert!(html.contains("relative survival (Ederer II)"), "{html}");
    assert!(html.contains("relative survival (Pohar Perme)"), "{html}");
}

#[test]
fn the_overall_curve_matches_relsurv() {
    let text = example().replace("group = \"registry.group\"\n", "");
    let out = run(&text);
    for (name, method) in [
        ("relative_survival", "ederer2"),
        ("net_survival", "pohar-perme"),
    ] {
        let v = result(&out, name);
        assert!(v["group_column"].is_null());
        let worst = compare(&v["curves"][0], &r_case(&reference(), method, "all"));
        eprintln!("{method}: worst |S − R| overall: {worst:.2e}");
    }
}

/// A study file `text` with the life table copied to `dir` (so it can be altered there).
fn in_folder(text: &str, tag: &str) -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("tessera-relsurv-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        root().join("fixtures/relsurv/lifetable.csv"),
        dir.join("table.csv"),
    )
    .unwrap();
    let data = root().join("fixtures/relsurv/study");
    let text = text
        .replace(
            "../../fixtures/relsurv/study/",
            &format!("{}/", data.display()),
        )
        .replace("../../fixtures/relsurv/lifetable.csv", "table.csv");
    (dir, text)
}

fn parse_in(dir: &Path, text: &str) -> tessera_study::Result<tessera_study::Study> {
    tessera_study::validate::parse("study.toml", text, dir)
}

/// A data owner whose life table is not the one the study pins (another edition, an edited
/// cell) is refused before anything is read or shared, naming both digests.
#[test]
fn a_life_table_other_than_the_pinned_one_is_refused() {
    let (dir, text) = in_folder(&example(), "pin");
    assert!(parse_in(&dir, &text).is_ok());
    // A bound below the table's highest rate is refused by the owner, naming that rate.
    let low = text.replace("max_daily_rate = 0.002", "max_daily_rate = 0.0005");
    let e = run_local(&parse_in(&dir, &low).unwrap(), &RunOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("highest daily rate is 9.98"), "{e}");
    // A table of very high rates (q = 0.99 everywhere: 0.0126 a day), so that the weights
    // 1/S pass the protocol's range within the grid (e^46 per patient at ten years), is
    // refused by the owner, not computed wrong.
    let hot: String = std::fs::read_to_string(dir.join("table.csv"))
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| match (i, l.rsplit_once(',')) {
            (0, _) | (_, None) => format!("{l}\n"),
            (_, Some((head, _))) => format!("{head},0.99\n"),
        })
        .collect();
    std::fs::write(dir.join("hot.csv"), &hot).unwrap();
    let long = text
        .replace("file = \"table.csv\"", "file = \"hot.csv\"")
        .replace(
            "035bf604877ef338664d9ef6e0881b72eeed57aa6c680120b396a3465807807c",
            &tessera_study::lifetable::sha256_hex(hot.as_bytes()),
        )
        .replace("max_daily_rate = 0.002", "max_daily_rate = 0.02");
    let e = run_local(&parse_in(&dir, &long).unwrap(), &RunOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("beyond the 2^50"), "{e}");
    let table = dir.join("table.csv");
    let edited = std::fs::read_to_string(&table).unwrap().replacen(
        "male,1990,0,0.00442020202",
        "male,1990,0,0.00442020203",
        1,
    );
    std::fs::write(&table, edited).unwrap();
    let e = parse_in(&dir, &text).unwrap_err().to_string();
    assert!(e.contains("[life_tables.population]"), "{e}");
    assert!(
        e.contains("035bf604877ef338664d9ef6e0881b72eeed57aa6c680120b396a3465807807c"),
        "{e}"
    );
    assert!(e.contains("SHA-256 is "), "{e}");
    // And when the file changes after validation, the owner refuses it when it reads it.
    std::fs::copy(root().join("fixtures/relsurv/lifetable.csv"), &table).unwrap();
    let study = parse_in(&dir, &text).unwrap();
    std::fs::write(&table, "sex,year,age,q\n").unwrap();
    let e = run_local(&study, &RunOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("SHA-256"), "{e}");
}

/// What a researcher could write, and what is said.
#[test]
fn a_researchers_mistakes_and_tricks_are_refused() {
    let ex = example();
    let cases: Vec<(String, &str)> = vec![
        // Age from one station, sex from another: nobody could write the path.
        (
            ex.replace("status = \"binary\"\n", "status = \"binary\"\nsex = { type = \"categorical\", levels = [\"M\", \"F\"] }\n")
                .replace("sex = \"registry.sex\"", "sex = \"vital.sex\""),
            "must come from one station",
        ),
        (
            ex.replace("male = \"M\"", "male = \"1\""),
            "male = \"1\" is not a level of `registry.sex`",
        ),
        (
            ex.replace("male = \"M\", female = \"F\"", "male = \"M\", female = \"M\""),
            "sex_levels",
        ),
        (
            ex.replace("life_table = \"population\"", "life_table = \"slovenia\""),
            "no [life_tables.slovenia] in the study (it declares population)",
        ),
        (
            ex.replace("diagnosis_date = \"registry.diagnosis_date\"", "diagnosis_date = \"registry.age_days\""),
            "diagnosis_date",
        ),
        (
            ex.replace("times = [365.241,", "times = [-1, 365.241,"),
            "times",
        ),
        (
            ex.replace("\nmethod = \"ederer2\"\n", "\nmethod = \"cure\"\n"),
            "method",
        ),
        (
            ex.replace("max_daily_rate = 0.002", "max_daily_rate = 5"),
            "max_daily_rate",
        ),
        (
            ex.replace("\nmethod = \"ederer2\"\n", "\nmethod = \"ederer2\"\nmax_daily_rate = 0.01\n"),
            "only for method = \"pohar-perme\"",
        ),
        (
            ex.replace("time_unit = \"days\"", "time_unit = \"days\"\nfrac_bits = 20"),
            "Pohar Perme runs at 24 fractional bits",
        ),
        (
            ex.replace(
                "sha256 = \"035bf604877ef338664d9ef6e0881b72eeed57aa6c680120b396a3465807807c\"",
                "sha256 = \"035bf6\"",
            ),
            "64 hex digits",
        ),
        // A second grid on the same follow-up would show the rows between the grids' times.
        (
            format!(
                "{ex}\n[[analysis]]\nname = \"km\"\nkind = \"kaplan_meier\"\ntime = \"vital.time\"\n\
                 event = \"vital.status\"\ngroup = \"registry.group\"\ntimes = [365, 730]\n"
            ),
            "same_km_grid",
        ),
    ];
    for (text, want) in cases {
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains(want), "want {want:?} in: {e}");
    }
    // The path columns are the owner's derivation, not columns a researcher may read.
    let study = parse(&example()).unwrap();
    let prefix = match &study.analyses[0].spec {
        tessera_stats::AnalysisSpec::Relsurv(s) => s.path_prefix(),
        other => panic!("{other:?}"),
    };
    let text = format!(
        "{}\n[[analysis]]\nname = \"peek\"\nkind = \"describe\"\ncolumns = [\"{prefix}.rate0\"]\n",
        example()
    );
    let e = parse(&text).unwrap_err().to_string();
    let column = prefix.split_once('.').unwrap().1;
    assert!(
        e.contains(&format!(
            "no column \"{column}.rate0\" in data.registry.columns"
        )),
        "{e}"
    );
    // The follow-up must be in days: a [followup] in months is refused.
    let months = example()
        .replace(
            "status = \"binary\"\n",
            "status = \"binary\"\ndeath_date = \"date\"\n",
        )
        .replace(
            "[life_tables.population]",
            "[followup.os]\nstart = \"registry.diagnosis_date\"\nevent_date = \"vital.death_date\"\n\
             end = \"2024-12-31\"\nunit = \"months\"\n\n[life_tables.population]",
        )
        .replace(
            "time = \"vital.time\"\nevent = \"vital.status\"",
            "time = \"os.time\"\nevent = \"os.event\"",
        );
    let e = parse(&months).unwrap_err().to_string();
    assert!(e.contains("relative survival needs days"), "{e}");
    assert!(parse(&months.replace("unit = \"months\"", "unit = \"days\"")).is_ok());
}

/// The registry shares the path columns; the other stations know them by the study alone
/// (the schema every station derives is the same).
#[test]
fn every_station_knows_the_path_columns_from_the_study() {
    let study = parse(&example()).unwrap();
    let reg = study.data.iter().find(|d| d.party == "registry").unwrap();
    let vital = study.data.iter().find(|d| d.party == "vital").unwrap();
    let schema = study.schema(reg);
    let paths = study.paths_of("registry");
    assert_eq!(paths.len(), 2, "one path per method");
    let derived: usize = paths.iter().map(|s| s.path_column_names().len()).sum();
    assert_eq!(paths[0].path_column_names().len(), 1 + 3 * 22);
    assert_eq!(schema.len(), reg.columns.len() + derived);
    assert!(schema[reg.columns.len()]
        .0
        .starts_with("registry.__relsurv_"));
    assert_eq!(study.schema(vital).len(), vital.columns.len());
}

/// A researcher asks for a grid so long that the owner's path columns could never be
/// linked: refused at validation, naming the field and the longest grid that fits, not
/// late at sharing time.
#[test]
fn a_grid_beyond_the_linkages_columns_is_refused() {
    let ex = example();
    let ten = "times = [365.241, 730.482, 1095.723, 1460.964, 1826.205, 2191.446, 2556.687, \
               2921.928, 3287.169, 3652.41]";
    assert_eq!(ex.matches(ten).count(), 2, "the example's grids moved");
    // Fifty years (both analyses, one grid): Ederer II's 614 columns fit, Pohar Perme's
    // (16 coefficients at max_daily_rate = 0.002) do not.
    let e = parse(&ex.replace(ten, "times = [365.241, 3652.41, 18262.05]"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("times")
            && e.contains("6264 shared path columns")
            && e.contains("4096 per ring")
            && e.contains("max_daily_rate 0.002"),
        "{e}"
    );
    // Thirty years fit.
    parse(&ex.replace(ten, "times = [365.241, 3652.41, 10957.23]")).unwrap();
}
