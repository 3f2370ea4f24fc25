//! Study parameters outside what the fixed point (or the analysis) can hold are refused at
//! validation, located at the field and with the range in the message (issue 13, part 2:
//! "study parameters: ridge 1e300, KM time 1e300, edges ±1e300 — saturated silently").

use std::path::{Path, PathBuf};

use tessera_study::validate::parse;
use tessera_study::StudyError;

fn dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("study-param-ranges");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("a.csv"),
        "id,t,e,g,x,y\n1,5,1,u,0.5,1\n2,6,0,v,1.5,0\n",
    )
    .unwrap();
    d
}

/// One data party; `{frac}` is replaced by a `frac_bits` line (or nothing), `{analysis}` by
/// the analysis' own fields.
const BASE: &str = r#"[study]
id = "s1"
{frac}
[parties.a]
compute = 0
[parties.b]
compute = 1
[parties.h]
compute = 2
[data.a]
file = "a.csv"
key = ["id"]
[data.a.columns]
t = "numeric"
e = "binary"
g = { type = "categorical", levels = ["u", "v"] }
x = "numeric"
y = "binary"
[recipients.r]
[[analysis]]
name = "one"
{analysis}
"#;

fn study(frac: &str, analysis: &str) -> String {
    BASE.replace("{frac}", frac).replace("{analysis}", analysis)
}

fn line_of(text: &str, needle: &str) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in the text"));
    text[..at].matches('\n').count() + 1
}

/// The study is refused at the line of `at`, naming `field` and containing each of `want`.
fn refused(frac: &str, analysis: &str, at: &str, field: &str, want: &[&str]) {
    let text = study(frac, analysis);
    let err = parse("study.toml", &text, &dir()).expect_err(analysis);
    let msg = err.to_string();
    assert!(matches!(err, StudyError::Invalid(_)), "{msg}");
    let line = format!("study.toml:{}:", line_of(&text, at));
    assert!(msg.starts_with(&line), "expected {line} in: {msg}");
    assert!(
        msg.contains(&format!("field {field}")),
        "`{field}` in: {msg}"
    );
    for w in want {
        assert!(msg.contains(w), "expected `{w}` in: {msg}");
    }
}

fn accepted(frac: &str, analysis: &str) {
    let text = study(frac, analysis);
    if let Err(e) = parse("study.toml", &text, &dir()) {
        panic!("{analysis}: {e}");
    }
}

const KM: &str = "kind = \"kaplan_meier\"\ntime = \"a.t\"\nevent = \"a.e\"\n";
const OLS: &str = "kind = \"ols\"\noutcome = \"a.x\"\ncovariates = [\"a.t\"]\n";
const LOGIT: &str = "kind = \"logistic\"\noutcome = \"a.y\"\ncovariates = [\"a.x\"]\n";
const COX: &str = "kind = \"cox\"\ntime = \"a.t\"\nevent = \"a.e\"\ncovariates = [\"a.x\"]\n";
const DESCRIBE: &str = "kind = \"describe\"\ncolumns = [\"a.x\"]\n";

#[test]
fn km_time_of_1e300_is_refused() {
    refused(
        "",
        &format!("{KM}times = [1.0, 1e300]\n"),
        "times",
        "times",
        &[
            "1e300",
            "[0, 2.74877906944e11)",
            "24 fractional bits",
            "rescale",
        ],
    );
    // Just inside and just outside 2^38.
    accepted("", &format!("{KM}times = [1.0, 274877906943.0]\n"));
    refused(
        "",
        &format!("{KM}times = [1.0, 274877906944.0]\n"),
        "times",
        "times",
        &["outside"],
    );
    // With 16 fractional bits the range is 2^46.
    accepted("frac_bits = 16", &format!("{KM}times = [1.0, 3e11]\n"));
    refused(
        "frac_bits = 32",
        &format!("{KM}times = [1.0, 3e9]\n"),
        "times",
        "times",
        &["32 fractional bits"],
    );
    // Negative, decreasing.
    refused(
        "",
        &format!("{KM}times = [-1.0]\n"),
        "times",
        "times",
        &["outside"],
    );
    refused(
        "",
        &format!("{KM}times = [2.0, 1.0]\n"),
        "times",
        "times",
        &["strictly increasing"],
    );
}

#[test]
fn histogram_edges_of_plus_minus_1e300_are_refused() {
    refused(
        "",
        &format!("{DESCRIBE}histogram = [-1e300, 0.0, 1e300]\n"),
        "histogram",
        "histogram",
        &["-1e300", "(-2.74877906944e11, 2.74877906944e11)"],
    );
    refused(
        "",
        &format!("{DESCRIBE}histogram = [0.0, 1e300]\n"),
        "histogram",
        "histogram",
        &["1e300"],
    );
    refused(
        "",
        &format!("{DESCRIBE}histogram = [1.0]\n"),
        "histogram",
        "histogram",
        &["two"],
    );
    accepted("", &format!("{DESCRIBE}histogram = [-1e11, 0.0, 1e11]\n"));
}

#[test]
fn ridge_and_l2_of_1e300_are_refused() {
    refused(
        "",
        &format!("{OLS}ridge = 1e300\n"),
        "ridge",
        "ridge",
        &["1e300", "5.24288e5", "24 fractional bits"],
    );
    refused(
        "",
        &format!("{LOGIT}l2 = 1e300\n"),
        "l2",
        "l2",
        &["1e300", "5.24288e5"],
    );
    // Too small to keep its precision in fixed point.
    refused(
        "",
        &format!("{OLS}ridge = 1e-9\n"),
        "ridge",
        "ridge",
        &["1.52587890625e-5"],
    );
    refused(
        "",
        &format!("{OLS}ridge = -1.0\n"),
        "ridge",
        "ridge",
        &["must be 0 or between"],
    );
    accepted("", &format!("{OLS}ridge = 0.5\n"));
    accepted("", &format!("{LOGIT}l2 = 1000.0\n"));
    accepted("", &format!("{OLS}ridge = 0.0\n"));
}

#[test]
fn conf_level_quantiles_and_steps_are_range_checked() {
    refused(
        "",
        &format!("{KM}times = [1.0]\nconf_level = 1.5\n"),
        "conf_level",
        "conf_level",
        &["between 0 and 1"],
    );
    refused(
        "",
        &format!("{COX}conf_level = 0.0\n"),
        "conf_level",
        "conf_level",
        &["between 0 and 1"],
    );
    refused(
        "",
        &format!("{OLS}conf_level = 1.0\n"),
        "conf_level",
        "conf_level",
        &["between 0 and 1"],
    );
    refused(
        "",
        &format!("{LOGIT}conf_level = -0.5\n"),
        "conf_level",
        "conf_level",
        &["between 0 and 1"],
    );
    refused(
        "",
        &format!("{DESCRIBE}quantiles = [0.5, 1.5]\n"),
        "quantiles",
        "quantiles",
        &["1.5", "[0, 1]"],
    );
    refused(
        "",
        &format!("{COX}max_steps = 0\n"),
        "max_steps",
        "max_steps",
        &["between 1 and 500"],
    );
    refused(
        "",
        &format!("{LOGIT}max_steps = 1000000000\n"),
        "max_steps",
        "max_steps",
        &["between 1 and 500"],
    );
    accepted("", &format!("{COX}max_steps = 100\nconf_level = 0.99\n"));
}

const ENET: &str = "kind = \"elasticnet\"\noutcome = \"a.x\"\ncovariates = [\"a.t\", \"a.g\"]\n";

#[test]
fn elastic_net_parameters_are_checked_at_their_field() {
    accepted("", ENET);
    accepted("", &format!("{ENET}alpha = 0.5\nnlambda = 30\nfolds = 5\n"));
    accepted("", &format!("{ENET}lambda = [1.0, 0.5, 0.1]\n"));
    refused(
        "",
        &format!("{ENET}alpha = 1.5\n"),
        "alpha",
        "alpha",
        &["must be in [0, 1]"],
    );
    refused(
        "",
        &format!("{ENET}folds = 1\n"),
        "folds",
        "folds",
        &["between 2 and 50"],
    );
    refused(
        "",
        &format!("{ENET}lambda = [1.0, 2.0]\n"),
        "lambda",
        "lambda",
        &["strictly decreasing"],
    );
    refused(
        "",
        &format!("{ENET}lambda = [1e300]\n"),
        "lambda",
        "lambda",
        &["outside [1e-6, 1e6]"],
    );
    refused(
        "",
        &format!("{ENET}lambda_min_ratio = 2.0\n"),
        "lambda_min_ratio",
        "lambda_min_ratio",
        &["(0, 1)"],
    );
    // The logistic elastic net, its Newton steps; `steps` only with it (and Cox); an unknown
    // family refused by name.
    accepted(
        "",
        &format!("{ENET}family = \"binomial\"\nsteps = 3\nsweeps = 5\n"),
    );
    refused(
        "",
        &format!("{ENET}family = \"binomial\"\nsteps = 0\n"),
        "steps",
        "steps",
        &["between 1 and 50"],
    );
    refused(
        "",
        &format!("{ENET}steps = 2\n"),
        "steps",
        "steps",
        &["is for family = \"binomial\""],
    );
    // The penalised Cox model names its time and event, not an outcome.
    refused(
        "",
        &format!("{ENET}family = \"cox\"\n"),
        "outcome",
        "outcome",
        &["is not for family = \"cox\""],
    );
    let text = study("", &format!("{ENET}family = \"poisson\"\n"));
    let err = parse("study.toml", &text, &dir()).unwrap_err().to_string();
    assert!(
        err.contains("cox") && err.contains("binomial") && err.contains("gaussian"),
        "{err}"
    );
}

/// `type_measure = "C"` (cross-validation by Harrell's C-index) is for the Cox elastic net:
/// accepted there, refused at its field for the other families, and a measure that does not
/// exist refused by name.
#[test]
fn elastic_net_type_measure_is_checked_at_its_field() {
    let cox = "kind = \"elasticnet\"\nfamily = \"cox\"\ntime = \"a.t\"\nevent = \"a.e\"\n\
               covariates = [\"a.x\"]\n";
    accepted("", &format!("{cox}type_measure = \"C\"\n"));
    accepted("", &format!("{cox}type_measure = \"deviance\"\n"));
    for family in ["gaussian", "binomial"] {
        refused(
            "",
            &format!("{ENET}family = \"{family}\"\ntype_measure = \"C\"\n"),
            "type_measure",
            "type_measure",
            &[
                "\"C\" (Harrell's C-index) is for family = \"cox\"",
                &format!("family = \"{family}\" takes \"deviance\""),
            ],
        );
    }
    let text = study("", &format!("{cox}type_measure = \"auc\"\n"));
    let err = parse("study.toml", &text, &dir()).unwrap_err().to_string();
    assert!(
        err.contains("type_measure") && err.contains("auc") && err.contains("deviance"),
        "{err}"
    );
}

const GBDT: &str = "kind = \"boosted_trees\"\noutcome = \"a.x\"\ncovariates = [\"a.t\", \"a.g\"]\n";

/// Boosted trees with `objective = "squared_error"`: accepted; a survival model's `time` or
/// `event` refused at its field, naming the objective; an objective that does not exist
/// refused by name.
#[test]
fn boosted_trees_objective_fields_are_checked_at_their_field() {
    accepted(
        "",
        &format!("{GBDT}objective = \"squared_error\"\ntrees = 20\n"),
    );
    for field in ["time", "event"] {
        refused(
            "",
            &format!("{GBDT}objective = \"squared_error\"\n{field} = \"a.t\"\n"),
            field,
            field,
            &["is not a field of objective = \"squared_error\""],
        );
        refused(
            "",
            &format!("{GBDT}{field} = \"a.e\"\n"),
            field,
            field,
            &["is not a field of objective = \"binary\""],
        );
    }
    refused(
        "",
        &format!("{GBDT}objective = \"squared_error\"\ndepth = 9\n"),
        "depth",
        "depth",
        &["from 1 to 6"],
    );
    let text = study("", &format!("{GBDT}objective = \"poisson\"\n"));
    let err = parse("study.toml", &text, &dir()).unwrap_err().to_string();
    assert!(
        err.contains("poisson") && err.contains("squared_error") && err.contains("binary"),
        "{err}"
    );
}
