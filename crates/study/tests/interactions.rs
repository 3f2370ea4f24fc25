//! A study whose models use terms across the two data parties (`registry.age*gp.bmi`,
//! `registry.stage*gp.smoker`, `num(registry.stage)`): it validates, runs end to end (CSV →
//! keys → secret sharing → linkage → analyses, three parties in memory) and matches the
//! statsmodels references of `fixtures/interactions/` with the term names unchanged; and
//! malformed terms are refused at validation, naming the analysis and the term.

use std::path::PathBuf;

use serde_json::Value;
use tessera_study::run::{run_local, RunOptions};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The example study's parties, data and linkage, with `treatment` and `smoker` declared
/// categorical (levels "0", "1", as in the fixture), followed by `analyses`.
fn study_text(analyses: &str) -> String {
    let text = std::fs::read_to_string(root().join("examples/survival/study.toml")).unwrap();
    let head = text.split("[[analysis]]").next().unwrap();
    let cat = "{ type = \"categorical\", levels = [\"0\", \"1\"] }";
    let head = head
        .replace("treatment = \"binary\"", &format!("treatment = {cat}"))
        .replace("smoker = \"binary\"", &format!("smoker = {cat}"));
    assert_eq!(head.matches("categorical").count(), 3, "{head}");
    format!("{head}{analyses}")
}

fn parse(text: &str) -> tessera_study::Result<tessera_study::Study> {
    let dir = root().join("examples/survival");
    tessera_study::validate::parse(&dir.join("study.toml").display().to_string(), text, &dir)
}

fn list(v: &Value) -> String {
    let items: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{s}"))
        .collect();
    format!("[{}]", items.join(", "))
}

fn canonical(name: &str) -> String {
    let mut f: Vec<&str> = name.split(':').collect();
    f.sort_unstable();
    f.join(":")
}

#[test]
fn a_study_with_cross_party_terms_validates_and_matches_statsmodels() {
    let fx: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/interactions/interactions.json")).unwrap(),
    )
    .unwrap();
    let cases: Vec<&Value> = fx["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] != "ols_missing")
        .collect();
    let mut analyses = String::new();
    for c in &cases {
        let fields = match c["kind"].as_str().unwrap() {
            "cox" => format!("time = {}\nevent = {}\n", c["time"], c["event"]),
            _ => format!("outcome = {}\n", c["outcome"]),
        };
        analyses.push_str(&format!(
            "[[analysis]]\nname = {}\nkind = {}\n{fields}covariates = {}\n\n",
            c["name"],
            c["kind"],
            list(&c["covariates"])
        ));
    }
    analyses.push_str(
        "[[analysis]]\nname = \"stage_as_number\"\nkind = \"describe\"\n\
         columns = [\"num(registry.stage)\", \"gp.bmi\"]\n",
    );
    let study = parse(&study_text(&analyses)).unwrap();
    let out = run_local(&study, &RunOptions::default()).unwrap();
    assert_eq!(out.linkage.intersection, 1700);
    // The HTML report shows the term names as the study writes them (tables and forest).
    let page = tessera_study::report::html(&out);
    for name in [
        "registry.age:gp.bmi",
        "registry.stage[T.2]:gp.smoker[T.1]",
        "num(registry.stage):gp.comorbidity",
        "registry.treatment[T.1]:gp.smoker[T.1]",
    ] {
        assert!(page.contains(name), "{name} not in the report");
    }
    // `num(...)` in a description: the stage's mean as a number (pandas: 2.3776...).
    let d = out
        .analyses
        .iter()
        .find(|a| a.name == "stage_as_number")
        .unwrap();
    let d = d.result.as_ref().unwrap_or_else(|| panic!("{:?}", d.error));
    let s = &d["summaries"][0];
    assert_eq!(s["column"], "num(registry.stage)", "{d}");
    let mean = s["mean"].as_f64().unwrap();
    assert!((mean - 4042.0 / 1700.0).abs() < 1e-6, "{mean}");
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let a = out.analyses.iter().find(|a| a.name == name).unwrap();
        let r = a
            .result
            .clone()
            .unwrap_or_else(|| panic!("{name}: {:?}", a.error));
        let want = &c["result"];
        let (rows, label, se) = if c["kind"] == "cox" {
            (&r["rows"], "covariate", "se")
        } else {
            (&r["coefficients"], "name", "std_err")
        };
        let canon = want["canonical"].as_object().unwrap();
        let mut seen = 0;
        for row in rows.as_array().unwrap() {
            let n = row[label].as_str().unwrap();
            let key = if n == "intercept" {
                n.to_string()
            } else {
                seen += 1;
                canon[&canonical(n)].as_str().unwrap().to_string()
            };
            let (b, b0) = (
                row["coef"].as_f64().unwrap(),
                want["coef"][&key].as_f64().unwrap(),
            );
            let (s, s0) = (
                row[se].as_f64().unwrap(),
                want["se"][&key].as_f64().unwrap(),
            );
            assert!((b - b0).abs() <= 1e-4, "{name} {n}: coef {b} vs {b0}");
            assert!((s - s0).abs() <= 1e-3 * s0, "{name} {n}: se {s} vs {s0}");
        }
        assert_eq!(seen, canon.len(), "{name}: every term of the reference");
        // The report's text shows the term names as the study writes them.
        let first = rows[0][label].as_str().unwrap();
        assert!(a.text.contains(first), "{name}: {}", a.text);
        if name != "ols_cross" {
            assert!(a.text.contains("registry.age:gp.bmi"), "{}", a.text);
        }
    }
}

#[test]
fn malformed_terms_are_refused_naming_the_analysis_and_the_term() {
    let model = |covs: &str| {
        format!(
            "[[analysis]]\nname = \"m\"\nkind = \"ols\"\noutcome = \"gp.bmi\"\ncovariates = {covs}\n"
        )
    };
    for (covs, want) in [
        (
            r#"["registry.age:"]"#,
            "covariate `registry.age:`: a factor is empty",
        ),
        (r#"["registry.age**gp.smoker"]"#, "a factor is empty"),
        (
            r#"["registry.age:gp.nope"]"#,
            "no column \"nope\" in data.gp.columns",
        ),
        (r#"["registry.age:registry.age"]"#, "interacted with itself"),
        (
            r#"["registry.age:registry.sex:gp.comorbidity:gp.smoker"]"#,
            "4 factors; a term has at most 3",
        ),
        (r#"["num(registry.age)"]"#, "numeric already"),
        (
            r#"["registry.age:gp.smoker", "gp.smoker:registry.age"]"#,
            "listed twice",
        ),
    ] {
        let e = parse(&study_text(&model(covs))).unwrap_err().to_string();
        assert!(
            e.contains("analysis \"m\" field covariates") && e.contains(want),
            "{covs}: {e}"
        );
    }
    // A level that is not a number, named with its column.
    let text = study_text(&model(r#"["num(registry.stage)"]"#)).replace(
        "levels = [\"1\", \"2\", \"3\", \"4\"]",
        "levels = [\"1\", \"2\", \"3\", \"IV\"]",
    );
    let e = parse(&text).unwrap_err().to_string();
    assert!(e.contains("registry.stage") && e.contains("`IV`"), "{e}");
    let describe = "[[analysis]]\nname = \"d\"\nkind = \"describe\"\n\
                    columns = [\"num(registry.stage)\"]\n";
    let text = study_text(describe).replace(
        "levels = [\"1\", \"2\", \"3\", \"4\"]",
        "levels = [\"1\", \"2\", \"3\", \"IV\"]",
    );
    let e = parse(&text).unwrap_err().to_string();
    assert!(
        e.contains("analysis \"d\" field columns") && e.contains("`IV`"),
        "{e}"
    );
    let e = parse(&study_text(
        &describe.replace("registry.stage", "registry.age"),
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("categorical column is needed"), "{e}");
    // `*` duplicates of a main effect are dropped, as R does.
    let ok = study_text(&model(
        r#"["registry.age", "registry.age*gp.smoker", "num(registry.stage)"]"#,
    ));
    parse(&ok).unwrap();
}

/// `max_covariates` counts the design columns a product expands to:
/// `registry.stage*gp.smoker*registry.treatment` is 3 + 1 + 1 + 3 + 3 + 1 + 3 = 15.
#[test]
fn max_covariates_counts_the_expanded_terms() {
    use tessera_study::limits::{excesses, Limits};
    let text = study_text(
        "[[analysis]]\nname = \"m\"\nkind = \"ols\"\noutcome = \"gp.bmi\"\n\
         covariates = [\"registry.stage*gp.smoker*registry.treatment\"]\n",
    );
    let study = parse(&text).unwrap();
    let at = |covariates: usize| {
        excesses(
            &study,
            &Limits {
                covariates,
                ..Limits::DEFAULT
            },
        )
    };
    assert!(at(15).is_empty());
    let e = at(14);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].rule, "max_covariates");
    assert!(e[0].what.starts_with("15 model terms"), "{}", e[0].what);
}
