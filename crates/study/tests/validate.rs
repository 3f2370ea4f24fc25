//! Every validation error of the study file names the file, the line and the field.

use std::path::{Path, PathBuf};

use tessera_study::format::ColumnType;
use tessera_study::validate::parse;
use tessera_study::StudyError;

/// A folder with two small CSV files for the studies below.
fn dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("study-validate");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("a.csv"), "id,t,e,g,x\n1,5,1,u,0.5\n2,6,0,v,1.5\n").unwrap();
    std::fs::write(d.join("b.csv"), "pid,y\n1,3\n2,4\n").unwrap();
    d
}

const BASE: &str = r#"[study]
id = "s1"
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
x = { type = "numeric", min = 0, max = 10 }
[data.b]
file = "b.csv"
key = ["pid"]
[data.b.columns]
y = "numeric"
[linkage]
key = [{ name = "id", normalise = ["trim"] }]
[recipients.r]
[[analysis]]
name = "km"
kind = "kaplan_meier"
time = "a.t"
event = "a.e"
group = "a.g"
[[analysis]]
name = "cox"
kind = "cox"
time = "a.t"
event = "a.e"
covariates = ["a.x", "b.y"]
"#;

fn check(text: &str) -> Result<tessera_study::Study, StudyError> {
    parse("study.toml", text, &dir())
}

/// The 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in the text"));
    text[..at].matches('\n').count() + 1
}

/// Replaces `from` by `to` in BASE, validates, and checks that the error is an
/// `Invalid` located on the line of `at` (in the modified text) and mentions `field`.
fn fails(from: &str, to: &str, at: &str, field: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    let text = BASE.replacen(from, to, 1);
    let err = check(&text).expect_err(to);
    let msg = err.to_string();
    assert!(matches!(err, StudyError::Invalid(_)), "{msg}");
    let want = format!("study.toml:{}:", line_of(&text, at));
    assert!(msg.starts_with(&want), "expected {want} in: {msg}");
    assert!(msg.contains(field), "expected `{field}` in: {msg}");
    assert_eq!(err.exit_code(), 2);
    msg
}

#[test]
fn the_base_study_is_valid() {
    let s = check(BASE).unwrap();
    assert_eq!(s.id, "s1");
    assert_eq!(s.frac_bits, 24);
    assert_eq!(s.data.len(), 2);
    assert_eq!(s.data[0].party, "a");
    assert_eq!(s.data[0].missing, vec!["", "NA", "NaN", "nan"]);
    assert_eq!(
        s.data[0].column("g").unwrap().kind,
        ColumnType::Categorical {
            levels: vec!["u".into(), "v".into()]
        }
    );
    assert_eq!(s.analyses.len(), 2);
    assert_eq!(s.analyses[1].recipients, vec!["r"]);
    assert_eq!(s.compute_parties(), ["a", "b", "h"]);
    assert_eq!(s.key_spec().unwrap().context, "s1");
}

#[test]
fn the_example_study_is_valid() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/survival/study.toml");
    let s = tessera_study::load(&p).unwrap();
    assert_eq!(s.id, "synthetic-survival");
    assert_eq!(s.time_unit.as_deref(), Some("days"));
    let kinds: Vec<&str> = s.analyses.iter().map(|a| a.spec.kind()).collect();
    assert_eq!(
        kinds,
        [
            "kaplan_meier",
            "logrank",
            "cox",
            "describe",
            "logistic",
            "ols",
            "correlation"
        ]
    );
    assert_eq!(s.compute_parties(), ["registry", "gp", "institute"]);
    assert!(s.data.iter().all(|d| d.file.is_file()));
}

#[test]
fn syntax_and_unknown_keys() {
    fails("id = \"s1\"", "id = \"s1", "id = ", "");
    fails(
        "[recipients.r]",
        "[recipients.r]\n[extra]",
        "[extra]",
        "unknown section `extra`",
    );
    fails(
        "compute = 1\n",
        "compute = 1\nport = 3\n",
        "port",
        "unknown field `port`",
    );
    fails(
        "file = \"b.csv\"",
        "file = \"b.csv\"\nfiel = 1",
        "fiel",
        "unknown field `fiel`",
    );
    fails(
        "x = { type = \"numeric\", min = 0, max = 10 }",
        "x = { type = \"numeric\", mni = 0 }",
        "mni",
        "unknown field `mni`",
    );
    fails(
        "time = \"a.t\"\nevent = \"a.e\"\ngroup",
        "time = \"a.t\"\ntimez = 1\nevent = \"a.e\"\ngroup",
        "timez",
        "unknown field `timez`",
    );
    fails(
        "kind = \"cox\"",
        "kind = \"coxx\"",
        "kind = \"coxx\"",
        "coxx",
    );
    fails(
        "kind = \"cox\"\n",
        "",
        "[[analysis]]\nname = \"cox\"",
        "missing field `kind`",
    );
}

#[test]
fn analysis_fields_are_located_and_named() {
    fails(
        "group = \"a.g\"",
        "group = \"a.g\"\ntimes = \"x\"",
        "times =",
        "analysis \"km\" field times:",
    );
    fails(
        "covariates = [\"a.x\", \"b.y\"]",
        "covariates = [\"a.x\", \"b.y\"]\nties = \"exact\"",
        "ties =",
        "analysis \"cox\" field ties: unknown variant `exact`",
    );
    fails(
        "covariates = [\"a.x\", \"b.y\"]",
        "covariates = \"a.x\"",
        "covariates =",
        "field covariates",
    );
    fails(
        "time = \"a.t\"\nevent = \"a.e\"\ncov",
        "time = \"a.t\"\ncov",
        "[[analysis]]\nname = \"cox\"",
        "missing field `event`",
    );
}

#[test]
fn study_section() {
    fails("id = \"s1\"", "id = \"s 1\"", "id =", "field id");
    fails(
        "id = \"s1\"",
        "id = \"s1\"\nfrac_bits = 40",
        "frac_bits",
        "field frac_bits",
    );
    fails(
        "id = \"s1\"",
        "id = \"s1\"\ntime_unit = \"\"",
        "time_unit",
        "field time_unit",
    );
    let s = check(&BASE.replacen("id = \"s1\"", "id = \"s1\"\ntime_unit = \"months\"", 1)).unwrap();
    assert_eq!(s.time_unit.as_deref(), Some("months"));
    fails("[study]\nid = \"s1\"\n", "", "", "[study]");
}

#[test]
fn parties() {
    fails(
        "[parties.b]\ncompute = 1",
        "[parties.b]\ncompute = 0",
        "compute = 0\n[parties.h]",
        "slot 0",
    );
    fails(
        "[parties.h]\ncompute = 2",
        "[parties.h]\ncompute = 3",
        "compute = 3",
        "field compute",
    );
    fails(
        "[parties.h]\ncompute = 2\n",
        "",
        "[parties.a]",
        "no party has slot 2",
    );
    fails(
        "[parties.h]",
        "[parties.H]",
        "[parties.H]",
        "party name `H`",
    );
    fails(
        "[parties.h]\ncompute = 2",
        "[parties.h]\ncompute = 2\naddress = \"host\"",
        "address",
        "field address",
    );
    fails(
        "[parties.h]\ncompute = 2",
        "[parties.h]\ncompute = 2\naddress = \"h:99999\"",
        "address",
        "field address",
    );
    fails(
        "[parties.h]\ncompute = 2",
        "[parties.h]\ncompute = 2\nfingerprint = \"sha256:abc\"",
        "fingerprint",
        "field fingerprint",
    );
    let hex = "ab".repeat(32);
    let ok = BASE.replace(
        "[parties.h]\ncompute = 2",
        &format!(
            "[parties.h]\ncompute = 2\naddress = \"[::1]:7000\"\nfingerprint = \"sha256:{hex}\""
        ),
    );
    let s = check(&ok).unwrap();
    assert_eq!(s.party("h").unwrap().fingerprint, Some([0xab; 32]));
    // A party without a compute slot must bring data.
    fails(
        "[data.a]",
        "[parties.o]\n[data.a]",
        "[parties.o]",
        "[data.o]",
    );
}

#[test]
fn data() {
    fails("[data.b]\n", "[data.z]\n", "[data.z]", "no party `z`");
    fails(
        "file = \"b.csv\"",
        "file = \"nope.csv\"",
        "nope.csv",
        "field file",
    );
    fails(
        "key = [\"pid\"]",
        "key = [\"pid\", \"x\"]",
        "key = [\"pid\", \"x\"]",
        "field key",
    );
    fails(
        "key = [\"pid\"]",
        "key = [\"pid\"]\ndelimiter = \";;\"",
        "delimiter",
        "field delimiter",
    );
    fails(
        "e = \"binary\"",
        "e = \"boolean\"",
        "e = \"boolean\"",
        "field type",
    );
    fails(
        "g = { type = \"categorical\", levels = [\"u\", \"v\"] }",
        "g = { type = \"categorical\" }",
        "g = {",
        "field levels",
    );
    fails(
        "g = { type = \"categorical\", levels = [\"u\", \"v\"] }",
        "g = { type = \"categorical\", levels = [\"u\", \"u\"] }",
        "g = {",
        "field levels",
    );
    fails(
        "x = { type = \"numeric\", min = 0, max = 10 }",
        "x = { type = \"numeric\", min = 10, max = 0 }",
        "x = {",
        "field min",
    );
    fails(
        "y = \"numeric\"\n",
        "",
        "[data.b.columns]",
        "no column declared",
    );
    fails(
        "[linkage]\nkey = [{ name = \"id\", normalise = [\"trim\"] }]\n",
        "",
        "[data.a]",
        "[linkage] is required",
    );
}

#[test]
fn linkage() {
    fails(
        "normalise = [\"trim\"]",
        "normalise = [\"trimm\"]",
        "trimm",
        "trimm",
    );
    fails(
        "normalise = [\"trim\"]",
        "normalise = [\"date\"]",
        "{ name = \"id\"",
        "field date_order",
    );
    fails(
        "normalise = [\"trim\"]",
        "normalise = [\"trim\"], date_order = \"day_first\"",
        "{ name = \"id\"",
        "field date_order",
    );
    fails(
        "normalise = [\"trim\"] }]",
        "normalise = [\"trim\"] }]\nduplicates = \"keep_all\"",
        "keep_all",
        "keep_all",
    );
    let ok = BASE.replace(
        "normalise = [\"trim\"]",
        "normalise = [\"trim\", \"date\"], date_order = \"year_first\"",
    );
    let s = check(&ok).unwrap();
    assert_eq!(s.linkage.unwrap().key[0].steps.len(), 2);
}

#[test]
fn recipients_and_analyses() {
    fails("[recipients.r]\n", "", "", "recipient");
    fails(
        "name = \"km\"",
        "name = \"km\"\nrecipients = [\"bob\"]",
        "\"bob\"",
        "field recipients",
    );
    fails(
        "name = \"cox\"",
        "name = \"km\"",
        "name = \"km\"\nkind = \"cox\"",
        "field name",
    );
    fails(
        "covariates = [\"a.x\", \"b.y\"]",
        "covariates = [\"a.x\", \"b.bmi\"]",
        "covariates",
        "analysis \"cox\" field covariates: no column \"bmi\" in data.b.columns",
    );
    fails(
        "covariates = [\"a.x\", \"b.y\"]",
        "covariates = [\"a.x\", \"c.y\"]",
        "covariates",
        "no data party \"c\"",
    );
    fails(
        "covariates = [\"a.x\", \"b.y\"]",
        "covariates = [\"ax\"]",
        "covariates",
        "party.column",
    );
    fails(
        "group = \"a.g\"",
        "group = \"a.x\"",
        "group = \"a.x\"",
        "field group: `a.x` is numeric",
    );
    fails(
        "time = \"a.t\"",
        "time = \"a.g\"",
        "time = \"a.g\"",
        "field time: `a.g` is categorical",
    );
    let none = &BASE[..BASE.find("[[analysis]]").unwrap()];
    let msg = check(none).unwrap_err().to_string();
    assert!(
        msg.starts_with("study.toml:1:1:") && msg.contains("[[analysis]]"),
        "{msg}"
    );
}

#[test]
fn disclosure() {
    fails(
        "[recipients.r]",
        "[disclosure]\nmin_rows = 5\nmin_sell = 3\n[recipients.r]",
        "min_sell",
        "unknown field `min_sell`",
    );
    fails(
        "[recipients.r]",
        "[disclosure]\nallowed_columns = [\"a.t\", \"a.nope\"]\n[recipients.r]",
        "allowed_columns",
        "field allowed_columns: no column \"nope\"",
    );
    fails(
        "[recipients.r]",
        "[disclosure]\nmax_vars_per_row = 0\n[recipients.r]",
        "max_vars",
        "max_vars_per_row",
    );
    let ok = BASE.replace(
        "[recipients.r]",
        "[disclosure]\nmin_cell = 3\nmin_rows = 2\nmin_events = 7\n[recipients.r]",
    );
    let s = check(&ok).unwrap();
    assert_eq!(s.disclosure.min_events, 7);
    assert_eq!(s.disclosure.min_cell, Some(3));
    assert_eq!(s.disclosure.min_rows, 2);
}

#[test]
fn integer_levels_are_read_as_text() {
    let text = BASE.replace("levels = [\"u\", \"v\"]", "levels = [1, 2]");
    let s = check(&text).unwrap();
    assert_eq!(
        s.data[0].column("g").unwrap().kind,
        ColumnType::Categorical {
            levels: vec!["1".into(), "2".into()]
        }
    );
}

#[test]
fn one_data_party_needs_no_linkage() {
    let text = BASE
        .replace(
            "[data.b]\nfile = \"b.csv\"\nkey = [\"pid\"]\n[data.b.columns]\ny = \"numeric\"\n",
            "",
        )
        .replace(
            "[linkage]\nkey = [{ name = \"id\", normalise = [\"trim\"] }]\n",
            "",
        )
        .replace("covariates = [\"a.x\", \"b.y\"]", "covariates = [\"a.x\"]");
    let s = check(&text).unwrap();
    assert_eq!(s.data.len(), 1);
    assert!(s.linkage.is_none());
}

/// At a station only its own dataset must be on the machine.
#[test]
fn at_a_station_only_its_own_file_must_exist() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/survival/study.toml");
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("../../fixtures/synthetic/gp.csv", "elsewhere/gp.csv");
    let dir = p.parent().unwrap();
    assert!(tessera_study::validate::parse("study.toml", &text, dir).is_err());
    let s = tessera_study::validate::parse_at("study.toml", &text, dir, "registry").unwrap();
    assert_eq!(s.data.len(), 2);
    let e = tessera_study::validate::parse_at("study.toml", &text, dir, "gp").unwrap_err();
    assert!(e.to_string().contains("data.gp"), "{e}");
}

/// At a station service, how data is read is the station's: a study that sets `missing` or
/// `delimiter` (for any data party) is refused at every station, naming the field and where
/// the steward sets it. Issue 12's reproduction: `missing = [..., "P100110"]` made one
/// patient's record missing, and the row counts told whether that patient is in the
/// registry. The local runner (`tessera run`, the researcher's own files) keeps them.
#[test]
fn at_a_station_service_a_study_cannot_say_how_data_is_read() {
    use tessera_study::validate::parse_at_station;
    for (from, to, field) in [
        (
            "key = [\"id\"]\n",
            "key = [\"id\"]\nmissing = [\"\", \"NA\", \"P100110\"]\n",
            "missing",
        ),
        (
            "key = [\"pid\"]\n",
            "key = [\"pid\"]\ndelimiter = \";\"\n",
            "delimiter",
        ),
    ] {
        let text = BASE.replacen(from, to, 1);
        // The local runner reads with them.
        let local = check(&text).unwrap();
        assert!(
            local.data[0].missing.contains(&"P100110".to_string())
                || local.data[1].delimiter == b';'
        );
        // Every station refuses them, whichever party's dataset they are for.
        for me in ["a", "b", "h"] {
            let err = parse_at_station("study.toml", &text, me).unwrap_err();
            let msg = err.to_string();
            let want = format!("study.toml:{}:", line_of(&text, &format!("{field} = ")));
            assert!(msg.starts_with(&want), "expected {want} in: {msg}");
            assert!(
                msg.contains(&format!(
                    "field {field}: a station reads its data as its steward configured it"
                )) && msg.contains(&format!("station.toml ([sources.NAME] {field})")),
                "{msg}"
            );
            assert!(!msg.contains("P100110"), "a value was printed: {msg}");
            assert_eq!(err.exit_code(), 2);
        }
    }
    // Without them the study is valid at a station.
    assert!(parse_at_station("study.toml", BASE, "a").is_ok());
}

/// `[disclosure] counts` asks for per-station row counts for the recipients; off unless set.
#[test]
fn counts_are_asked_for_in_disclosure() {
    assert!(!check(BASE).unwrap().counts);
    let s = check(&format!("{BASE}[disclosure]\ncounts = true\n")).unwrap();
    assert!(s.counts);
    let msg = check(&format!("{BASE}[disclosure]\ncounts = \"yes\"\n"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("[disclosure] field counts"), "{msg}");
}

/// `n` numbers `1, 2, …, n` as a TOML array.
fn numbers(n: usize) -> String {
    let v: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    format!("[{}]", v.join(", "))
}

/// Issue 13's reproductions: studies with 17,205 analyses, 259,999 Kaplan–Meier times or
/// 200,000 levels were accepted. Each cap is refused at validation, located and named.
#[test]
fn caps_on_the_size_of_a_study() {
    // Analyses: the first one over the cap is named.
    let mut many = BASE.to_string();
    for i in 0..17_205 {
        many.push_str(&format!(
            "[[analysis]]\nname = \"d{i}\"\nkind = \"describe\"\ncolumns = [\"a.x\"]\n"
        ));
    }
    let msg = check(&many).unwrap_err().to_string();
    let want = format!(
        "study.toml:{}:",
        line_of(&many, "[[analysis]]\nname = \"d98\"")
    );
    assert!(msg.starts_with(&want), "{want}: {msg}");
    assert!(
        msg.contains("17207 analyses, at most 100 (max_analyses)"),
        "{msg}"
    );

    // Grid times.
    let grid = format!("group = \"a.g\"\ntimes = {}\n", numbers(259_999));
    let msg = fails(
        "group = \"a.g\"\n",
        &grid,
        "times",
        "analysis \"km\" field times",
    );
    assert!(
        msg.contains("259999 grid times, at most 500 (max_grid_times)"),
        "{msg}"
    );
    let ok = BASE.replacen(
        "group = \"a.g\"\n",
        &format!("times = {}\n", numbers(500)),
        1,
    );
    check(&ok).unwrap();

    // Levels of a categorical column.
    let levels: Vec<String> = (0..200_000).map(|i| format!("\"l{i}\"")).collect();
    let msg = fails(
        "levels = [\"u\", \"v\"]",
        &format!("levels = [{}]", levels.join(", ")),
        "levels",
        "column `g` field levels",
    );
    assert!(
        msg.contains("200000 levels, at most 500 (max_levels)"),
        "{msg}"
    );

    // Model terms: a categorical covariate counts one per level but the first.
    let levels: Vec<String> = (0..60).map(|i| format!("\"l{i}\"")).collect();
    let text = BASE
        .replacen(
            "levels = [\"u\", \"v\"]",
            &format!("levels = [{}]", levels.join(", ")),
            1,
        )
        .replacen(
            "covariates = [\"a.x\", \"b.y\"]",
            "covariates = [\"a.x\", \"a.g\"]",
            1,
        );
    let msg = check(&text).unwrap_err().to_string();
    let want = format!("study.toml:{}:", line_of(&text, "covariates"));
    assert!(msg.starts_with(&want), "{msg}");
    assert!(
        msg.contains("analysis \"cox\" field covariates: 60 model terms"),
        "{msg}"
    );
    assert!(msg.contains("at most 50 (max_covariates)"), "{msg}");

    // Histogram edges.
    let d = format!(
        "[[analysis]]\nname = \"d\"\nkind = \"describe\"\ncolumns = [\"a.x\"]\nhistogram = {}\n",
        numbers(102)
    );
    let text = format!("{BASE}{d}");
    let msg = check(&text).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("study.toml:{}:", line_of(&text, "histogram"))),
        "{msg}"
    );
    assert!(
        msg.contains("102 histogram edges, at most 101 (max_histogram_edges)"),
        "{msg}"
    );
}

/// Issue 13: 200 quantiles at i/199 recovered all 200 sorted values of a column. Quantiles
/// are counted per column across the study: two analyses of 15 positions each exceed 25.
#[test]
fn quantiles_per_column_across_the_study() {
    let q = |from: usize| -> String {
        let v: Vec<String> = (from..from + 15)
            .map(|i| format!("{}", i as f64 / 100.0))
            .collect();
        format!("[{}]", v.join(", "))
    };
    let one = format!(
        "[[analysis]]\nname = \"d1\"\nkind = \"describe\"\ncolumns = [\"a.x\", \"a.t\"]\nquantiles = {}\n",
        q(10)
    );
    check(&format!("{BASE}{one}")).unwrap();
    let two = format!(
        "{one}[[analysis]]\nname = \"d2\"\nkind = \"describe\"\ncolumns = [\"a.t\"]\nquantiles = {}\n",
        q(40)
    );
    let text = format!("{BASE}{two}");
    let msg = check(&text).unwrap_err().to_string();
    let at = text.rfind("quantiles").unwrap();
    let line = text[..at].matches('\n').count() + 1;
    assert!(msg.starts_with(&format!("study.toml:{line}:")), "{msg}");
    assert!(
        msg.contains("analysis \"d2\" field quantiles: 30 distinct quantiles of column `a.t` across the study, at most 25 (max_quantiles)"),
        "{msg}"
    );
    // The same positions again add nothing.
    let same = format!(
        "{one}[[analysis]]\nname = \"d2\"\nkind = \"describe\"\ncolumns = [\"a.t\"]\nquantiles = {}\n",
        q(10)
    );
    check(&format!("{BASE}{same}")).unwrap();
}

/// Issue 13: histograms with edges 40.575 and 40.585 in two analyses gave counts 40 and 41
/// (one patient between them). A column's histograms must have one layout across the study.
#[test]
fn histograms_of_one_column_share_edges_and_group() {
    let d = |name: &str, edges: &str, group: &str| {
        format!(
            "[[analysis]]\nname = \"{name}\"\nkind = \"describe\"\ncolumns = [\"a.x\"]\n{group}histogram = {edges}\n"
        )
    };
    let one = d("h1", "[0, 4.575, 10]", "");
    check(&format!("{BASE}{one}")).unwrap();
    // The same layout again shows nothing new.
    check(&format!("{BASE}{one}{}", d("h2", "[0, 4.575, 10]", ""))).unwrap();
    for (later, what) in [
        (d("h2", "[0, 4.585, 10]", ""), "with other edges"),
        (
            d("h2", "[0, 4.575, 10]", "group = \"a.g\"\n"),
            "with no group (here group `a.g`)",
        ),
    ] {
        let text = format!("{BASE}{one}{later}");
        let msg = check(&text).unwrap_err().to_string();
        let at = text.rfind("histogram").unwrap();
        let line = text[..at].matches('\n').count() + 1;
        assert!(msg.starts_with(&format!("study.toml:{line}:")), "{msg}");
        assert!(
            msg.contains(&format!(
                "analysis \"h2\" field histogram: column `a.x` also has a histogram in analysis \"h1\" {what}"
            )) && msg.ends_with("(same_histogram)"),
            "{msg}"
        );
    }
    // Another column may have other edges.
    let other = "[[analysis]]\nname = \"h3\"\nkind = \"describe\"\ncolumns = [\"a.t\"]\nhistogram = [0, 1, 2]\n";
    check(&format!("{BASE}{one}{other}")).unwrap();
}

/// Issue 13: a Kaplan–Meier grid per analysis, each times = [i], would walk the event times
/// past the events-since-the-last-shown-time rule; one grid per time column.
#[test]
fn kaplan_meier_grids_of_one_time_column_are_the_same() {
    let km = |name: &str, times: &str, group: &str| {
        format!(
            "[[analysis]]\nname = \"{name}\"\nkind = \"kaplan_meier\"\ntime = \"a.t\"\nevent = \"a.e\"\n{group}times = {times}\n"
        )
    };
    // BASE's "km" has no grid; it is replaced here by grids.
    let base = BASE.replace(
        "group = \"a.g\"\n[[analysis]]\nname = \"cox\"",
        "group = \"a.g\"\ntimes = [1, 2]\n[[analysis]]\nname = \"cox\"",
    );
    assert_ne!(base, BASE);
    check(&format!(
        "{base}{}",
        km("k2", "[1, 2]", "group = \"a.g\"\n")
    ))
    .unwrap();
    for (later, what) in [
        (km("k2", "[1, 3]", "group = \"a.g\"\n"), "with other times"),
        (km("k2", "[1, 2]", ""), "with group `a.g` (here no group)"),
    ] {
        let text = format!("{base}{later}");
        let msg = check(&text).unwrap_err().to_string();
        let at = text.rfind("times").unwrap();
        let line = text[..at].matches('\n').count() + 1;
        assert!(msg.starts_with(&format!("study.toml:{line}:")), "{msg}");
        assert!(
            msg.contains(&format!(
                "analysis \"k2\" field times: time column `a.t` also has a Kaplan–Meier grid in analysis \"km\" {what}"
            )) && msg.ends_with("(same_km_grid)"),
            "{msg}"
        );
    }
}

/// Review of issue 13: the two rules were kept apart, so a Kaplan–Meier grid time 4.575 on
/// a column and a histogram edge 4.585 on the same column counted the rows between them;
/// and two grids differing only in the event column counted different complete cases.
#[test]
fn a_column_is_cut_one_way_only() {
    let base = BASE.replace(
        "group = \"a.g\"\n[[analysis]]\nname = \"cox\"",
        "group = \"a.g\"\ntimes = [4.575]\n[[analysis]]\nname = \"cox\"",
    );
    assert_ne!(base, BASE);
    let histogram = "[[analysis]]\nname = \"h\"\nkind = \"describe\"\ncolumns = [\"a.t\"]\nhistogram = [0, 4.585, 100]\n";
    let text = format!("{base}{histogram}");
    let msg = check(&text).unwrap_err().to_string();
    assert!(
        msg.contains("analysis \"h\" field histogram: column `a.t` also has a Kaplan–Meier grid in analysis \"km\"")
            && msg.ends_with("(grid_or_histogram)"),
        "{msg}"
    );
    // Another column may have its histogram.
    check(&format!("{base}{}", histogram.replace("a.t", "a.x"))).unwrap();
    // The same grid and group with another event column.
    let other_event = "[[analysis]]\nname = \"k2\"\nkind = \"kaplan_meier\"\ntime = \"a.t\"\nevent = \"a.x\"\ngroup = \"a.g\"\ntimes = [4.575]\n";
    let msg = check(&format!("{base}{other_event}"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("with event column `a.e` (here `a.x`)") && msg.ends_with("(same_km_grid)"),
        "{msg}"
    );
}

/// Review of issue 13: a describe or correlation of any number of columns, a crosstab of
/// 500 × 500 levels and a Kaplan–Meier grid of 500 times by a 500-level group were within
/// the caps. Columns and table cells are capped too.
#[test]
fn columns_and_cells_are_capped() {
    let levels = |n: usize| -> String {
        let v: Vec<String> = (0..n).map(|i| format!("\"l{i}\"")).collect();
        format!("[{}]", v.join(", "))
    };
    let big = BASE.replace(
        "g = { type = \"categorical\", levels = [\"u\", \"v\"] }",
        &format!("g = {{ type = \"categorical\", levels = {} }}", levels(100)),
    );
    assert_ne!(big, BASE);
    // 100 × 100 cells in a crosstab of g with itself.
    let crosstab =
        "[[analysis]]\nname = \"ct\"\nkind = \"crosstab\"\nrows = \"a.g\"\ncolumns = \"a.g\"\n";
    let msg = check(&format!("{big}{crosstab}")).unwrap_err().to_string();
    assert!(
        msg.contains("analysis \"ct\" field columns: 10000 cells (100 × 100 levels), at most 5000 (max_cells)"),
        "{msg}"
    );
    // 100 curves × 60 grid times.
    let times: Vec<String> = (1..=60).map(|i| i.to_string()).collect();
    let grid = big.replace(
        "group = \"a.g\"\n[[analysis]]\nname = \"cox\"",
        &format!(
            "group = \"a.g\"\ntimes = [{}]\n[[analysis]]\nname = \"cox\"",
            times.join(", ")
        ),
    );
    let msg = check(&grid).unwrap_err().to_string();
    assert!(
        msg.contains("6000 cells (100 curves × 60 grid times), at most 5000 (max_cells)"),
        "{msg}"
    );
    // A correlation and a describe of 51 declared columns.
    let declared: String = (0..51).map(|i| format!("c{i} = \"numeric\"\n")).collect();
    let wide = BASE.replace(
        "x = { type = \"numeric\", min = 0, max = 10 }\n",
        &format!("x = {{ type = \"numeric\", min = 0, max = 10 }}\n{declared}"),
    );
    assert_ne!(wide, BASE);
    let cols: Vec<String> = (0..51).map(|i| format!("\"a.c{i}\"")).collect();
    for kind in ["correlation", "describe"] {
        let a = format!(
            "[[analysis]]\nname = \"w\"\nkind = \"{kind}\"\ncolumns = [{}]\n",
            cols.join(", ")
        );
        let msg = check(&format!("{wide}{a}")).unwrap_err().to_string();
        assert!(
            msg.contains("analysis \"w\" field columns: 51 columns, at most 50 (max_columns)"),
            "{kind}: {msg}"
        );
        // Fifty are taken.
        let fifty = a.replace(", \"a.c50\"", "");
        check(&format!("{wide}{fifty}")).unwrap();
    }
}

/// `strata` on `logrank` and `cox` names a declared categorical column, checked as a group
/// column is; it is among the columns the analysis reads.
#[test]
fn strata_on_logrank_and_cox() {
    let with = BASE.replacen(
        "covariates = [\"a.x\", \"b.y\"]",
        "covariates = [\"a.x\", \"b.y\"]\nstrata = \"a.g\"\n[[analysis]]\nname = \"lr\"\nkind = \"logrank\"\ntime = \"a.t\"\nevent = \"a.e\"\ngroup = \"a.g\"\nstrata = \"a.g\"",
        1,
    );
    let s = check(&with).unwrap();
    assert_eq!(s.analyses.len(), 3);
    for a in &s.analyses[1..] {
        assert!(a.spec.columns().contains(&"a.g"), "{:?}", a.spec);
        match &a.spec {
            tessera_stats::AnalysisSpec::Cox(c) => assert_eq!(c.strata.as_deref(), Some("a.g")),
            tessera_stats::AnalysisSpec::Logrank(l) => {
                assert_eq!(l.strata.as_deref(), Some("a.g"))
            }
            other => panic!("{other:?}"),
        }
    }
    // Without `strata`, none (existing studies unchanged).
    match &check(BASE).unwrap().analyses[1].spec {
        tessera_stats::AnalysisSpec::Cox(c) => assert_eq!(c.strata, None),
        other => panic!("{other:?}"),
    }
    let cov = "covariates = [\"a.x\", \"b.y\"]";
    fails(
        cov,
        "covariates = [\"a.x\", \"b.y\"]\nstrata = \"a.x\"",
        "strata = \"a.x\"",
        "analysis \"cox\" field strata: `a.x` is numeric",
    );
    fails(
        cov,
        "covariates = [\"a.x\", \"b.y\"]\nstrata = \"a.e\"",
        "strata = \"a.e\"",
        "field strata: `a.e` is binary, a categorical column is needed",
    );
    fails(
        cov,
        "covariates = [\"a.x\", \"b.y\"]\nstrata = \"a.nope\"",
        "strata = \"a.nope\"",
        "field strata: no column \"nope\" in data.a.columns",
    );
    fails(
        cov,
        "covariates = [\"a.x\", \"b.y\"]\nstrata = [\"a.g\"]",
        "strata = [",
        "strata",
    );
}

/// Delayed entry: a grid with `entry` counts at risk `entry < τ ≤ time`, so beside the same
/// grid without it the difference is the rows not yet entered at each time, however few:
/// every grid of a time column has the same entry column (or none), and a grid with entry
/// cuts the entry column too (no histogram of it). A study with the same entry everywhere
/// validates.
#[test]
fn kaplan_meier_grids_agree_on_delayed_entry() {
    let base = BASE.replace(
        "group = \"a.g\"\n[[analysis]]\nname = \"cox\"",
        "group = \"a.g\"\nentry = \"a.x\"\ntimes = [1, 2]\n[[analysis]]\nname = \"cox\"",
    );
    assert_ne!(base, BASE);
    let km = |entry: &str| {
        format!(
            "[[analysis]]\nname = \"k2\"\nkind = \"kaplan_meier\"\ntime = \"a.t\"\nevent = \"a.e\"\n{entry}group = \"a.g\"\ntimes = [1, 2]\n"
        )
    };
    let study = check(&format!("{base}{}", km("entry = \"a.x\"\n"))).unwrap();
    assert!(study
        .analyses
        .iter()
        .all(|a| a.spec.columns().contains(&"a.x")));
    let msg = check(&format!("{base}{}", km(""))).unwrap_err().to_string();
    assert!(
        msg.contains("with entry column `a.x` (here no entry column)")
            && msg.ends_with("(same_km_grid)"),
        "{msg}"
    );
    let histogram = "[[analysis]]\nname = \"h\"\nkind = \"describe\"\ncolumns = [\"a.x\"]\nhistogram = [0, 1.5, 10]\n";
    let msg = check(&format!("{base}{histogram}"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("column `a.x` also has a Kaplan–Meier grid")
            && msg.ends_with("(grid_or_histogram)"),
        "{msg}"
    );
    // The entry must be a declared numeric column.
    let bad = base.replace("entry = \"a.x\"", "entry = \"a.g\"");
    assert!(check(&bad).unwrap_err().to_string().contains("entry"));
}

/// A Fine–Gray model: its cause column and codes are checked before anything is computed.
#[test]
fn finegray_causes_are_checked() {
    let fg = |fields: &str| {
        format!(
            "{BASE}[[analysis]]\nname = \"fg\"\nkind = \"finegray\"\ntime = \"a.t\"\nevent = \"a.x\"\ncovariates = [\"b.y\"]\n{fields}"
        )
    };
    // a.x is declared with max 10: causes = 10 covers it.
    let study = check(&fg("causes = 10\ncause = 2\n")).unwrap();
    let a = study.analyses.iter().find(|a| a.name == "fg").unwrap();
    assert_eq!(a.spec.kind(), "finegray");
    assert!(a.spec.columns().contains(&"b.y"));
    // A cause of interest that is not one of the causes.
    let text = fg("causes = 10\ncause = 11\n");
    let msg = check(&text).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("study.toml:{}:", line_of(&text, "cause = 11")))
            && msg.contains("`cause = 11` is not one of the causes 1..=10"),
        "{msg}"
    );
    // A cause column declared with codes beyond `causes`.
    let text = fg("causes = 2\n");
    let msg = check(&text).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!(
            "study.toml:{}:",
            line_of(&text, "event = \"a.x\"")
        )) && msg.contains("declared with values outside 0..=2"),
        "{msg}"
    );
    // The cause column must be numeric.
    let msg = check(&fg("causes = 2\n").replace("event = \"a.x\"", "event = \"a.g\""))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("a numeric or binary column is needed"),
        "{msg}"
    );
}

/// The researcher walks a calibration table's events rank by rank with several `groups`
/// on one score (10 and 11 groups of 1,000 rows share a boundary region of 9 rows): refused
/// at validation, naming both analyses (same_calibration_groups); the same `groups` twice,
/// or another score, is fine.
#[test]
fn calibration_tables_of_one_score_have_the_same_groups() {
    let auc = |name: &str, score: &str, groups: usize| {
        format!(
            "[[analysis]]\nname = \"{name}\"\nkind = \"auc\"\noutcome = \"a.e\"\nscore = \"{score}\"\ncalibration = true\ngroups = {groups}\n"
        )
    };
    check(&format!(
        "{BASE}{}{}",
        auc("c1", "a.x", 10),
        auc("c2", "a.x", 10)
    ))
    .unwrap();
    check(&format!(
        "{BASE}{}{}",
        auc("c1", "a.x", 10),
        auc("c2", "b.y", 11)
    ))
    .unwrap();
    let text = format!("{BASE}{}{}", auc("c1", "a.x", 10), auc("c2", "a.x", 11));
    let msg = check(&text).unwrap_err().to_string();
    let line = text[..text.rfind("groups").unwrap()].matches('\n').count() + 1;
    assert!(msg.starts_with(&format!("study.toml:{line}:")), "{msg}");
    assert!(
        msg.contains("analysis \"c2\" field groups: score `a.x` also has a calibration table in analysis \"c1\" with 10 groups (here 11)")
            && msg.ends_with("(same_calibration_groups)"),
        "{msg}"
    );
}

/// `holdout` on a logistic model: a fraction strictly between 0 and 1; `calibration` only
/// with it, `groups` only with `calibration` (each refused at validation, located on its
/// line and naming its field).
#[test]
fn logistic_holdout_fields() {
    let lg = |extra: &str| {
        format!(
            "{BASE}[[analysis]]\nname = \"lg\"\nkind = \"logistic\"\noutcome = \"a.e\"\ncovariates = [\"a.x\"]\n{extra}"
        )
    };
    check(&lg("holdout = 0.25\ncalibration = true\ngroups = 5\n")).unwrap();
    check(&lg("holdout = 0.5\n")).unwrap();
    for (extra, field) in [
        ("holdout = 0\n", "holdout"),
        ("holdout = 1\n", "holdout"),
        ("holdout = 1.5\n", "holdout"),
        ("holdout = nan\n", "holdout"),
        ("calibration = true\n", "calibration"),
        ("holdout = 0.2\ngroups = 5\n", "groups"),
        ("holdout = 0.2\ncalibration = true\ngroups = 1\n", "groups"),
    ] {
        let text = lg(extra);
        let msg = check(&text).unwrap_err().to_string();
        let want = format!("study.toml:{}:", line_of(&text, field));
        assert!(msg.starts_with(&want), "expected {want} in: {msg}");
        assert!(msg.contains(field), "{msg}");
    }
}
