//! Tests of the data reader and the runner on the example study and small studies made
//! here: the linked table, revealed (tests only), equals the plaintext inner join of the
//! CSV files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::data::{self, DataTable};
use crate::error::StudyError;
use crate::format::Study;
use crate::run::{reveal_linked, run_local, RunOptions, Transport};
use crate::validate::parse;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-study-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn example() -> Study {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/survival/study.toml");
    crate::load(&p).unwrap()
}

/// Rows of encoded values, sorted: the columns of `cols` transposed.
fn rows_of(cols: &[Vec<u128>]) -> Vec<Vec<u128>> {
    let n = cols.first().map_or(0, Vec::len);
    let mut rows: Vec<Vec<u128>> = (0..n)
        .map(|r| cols.iter().map(|c| c[r]).collect())
        .collect();
    rows.sort();
    rows
}

/// The plaintext inner join of the datasets on their first key column, normalised by
/// `norm`, as sorted rows of encoded values (the oracle).
fn plain_join(study: &Study, norm: impl Fn(&str) -> String) -> Vec<Vec<u128>> {
    let tables: Vec<DataTable> = study.data.iter().map(|d| data::load(d).unwrap()).collect();
    let enc: Vec<Vec<Vec<u128>>> = tables
        .iter()
        .map(|t| {
            t.frame
                .columns
                .iter()
                .flat_map(|c| c.encode(study.frac_bits))
                .collect()
        })
        .collect();
    let index: Vec<HashMap<String, usize>> = tables
        .iter()
        .map(|t| {
            t.keys[0]
                .iter()
                .enumerate()
                .filter_map(|(r, k)| k.as_deref().map(|k| (norm(k), r)))
                .collect()
        })
        .collect();
    let mut rows = Vec::new();
    for (k, &r0) in &index[0] {
        let Some(rs) = index
            .iter()
            .map(|ix| ix.get(k).copied())
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let _ = r0;
        let mut row = Vec::new();
        for (t, &r) in enc.iter().zip(&rs) {
            row.extend(t.iter().map(|c| c[r]));
        }
        rows.push(row);
    }
    rows.sort();
    rows
}

#[test]
fn the_example_links_to_the_plaintext_join() {
    let s = example();
    let (n, cols) = reveal_linked(&s, &RunOptions::default()).unwrap();
    assert_eq!(n, 1700, "fixtures/README.md: 1700 patients in both files");
    let want = plain_join(&s, |k| k.trim().to_lowercase());
    assert_eq!(want.len(), 1700);
    assert_eq!(rows_of(&cols), want);
}

#[test]
fn the_example_runs_and_reports() {
    let s = example();
    let out = run_local(&s, &RunOptions::default()).unwrap();
    assert_eq!(out.linkage.intersection, 1700);
    let rows: Vec<crate::counts::Count> = out.linkage.rows.iter().map(|r| r.rows).collect();
    assert_eq!(rows, [1800, 1900]);
    assert_eq!(out.analyses.len(), 7);
    for a in &out.analyses {
        assert!(
            a.result.is_some() && a.error.is_none(),
            "{}: {:?}",
            a.name,
            a.error
        );
    }
    assert_eq!(out.data[0].dataset.rows, 1800);
    assert_eq!(out.data[1].keys.unwrap().rows_out, 1900);
    assert!(out
        .cost
        .iter()
        .all(|c| c.linkage.bytes_sent > 0 && c.linkage.rounds > 0));
    let j: serde_json::Value = serde_json::from_str(&crate::render::json(&out)).unwrap();
    assert_eq!(j["linkage"]["intersection"], 1700);
    assert_eq!(j["analyses"][2]["name"], "cox");
    assert_eq!(j["analyses"][2]["recipients"][0], "researcher");
    let text = crate::render::text(&out);
    assert!(
        text.contains("registry 1800 rows, gp 1900 rows -> 1700 linked rows"),
        "{text}"
    );
    assert!(text.contains("== km_by_stage (kaplan_meier)"), "{text}");
}

/// `[study] few_rounds = true`: the same results (within the fixed point's noise) in fewer
/// rounds of the survival analyses, and a session of its own, so a station that chose
/// otherwise is refused at the handshake.
#[test]
fn few_rounds_gives_the_same_results_in_fewer_rounds() {
    let base = example();
    let text = base
        .source
        .text
        .replacen("[study]\n", "[study]\nfew_rounds = true\n", 1);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/survival");
    let few = crate::validate::parse("study.toml", &text, &dir).unwrap();
    assert_eq!(few.few_rounds, Some(true));
    assert!(few.few_rounds(false) && !base.few_rounds(false) && base.few_rounds(true));
    let (a, b) = (
        run_local(&base, &RunOptions::default()).unwrap(),
        run_local(&few, &RunOptions::default()).unwrap(),
    );
    fn close(x: &serde_json::Value, y: &serde_json::Value, at: &str) {
        use serde_json::Value as V;
        match (x, y) {
            (V::Number(p), V::Number(q)) => {
                let (p, q) = (p.as_f64().unwrap(), q.as_f64().unwrap());
                assert!((p - q).abs() <= 1e-5 + 1e-5 * q.abs(), "{at}: {p} vs {q}");
            }
            (V::Array(p), V::Array(q)) => {
                assert_eq!(p.len(), q.len(), "{at}");
                for (i, (p, q)) in p.iter().zip(q).enumerate() {
                    close(p, q, &format!("{at}[{i}]"));
                }
            }
            (V::Object(p), V::Object(q)) => {
                for (k, v) in p {
                    close(v, &q[k], &format!("{at}.{k}"));
                }
            }
            _ => assert_eq!(x, y, "{at}"),
        }
    }
    let mut fewer = false;
    for (x, y) in a.analyses.iter().zip(&b.analyses) {
        if matches!(x.kind.as_str(), "kaplan_meier" | "logrank") {
            close(
                x.result.as_ref().unwrap(),
                y.result.as_ref().unwrap(),
                &x.name,
            );
        }
    }
    // The analyses' costs are in study order.
    if let Some(i) = a.analyses.iter().position(|x| x.kind == "logrank") {
        fewer = b.cost[0].analyses[i].rounds < a.cost[0].analyses[i].rounds;
    }
    assert!(fewer, "log-rank took no fewer rounds");
    let none: [[u8; crate::distributed::DEALING_ID_LEN]; 0] = [];
    assert_ne!(
        crate::distributed::run_session(&few, 1, &none, true),
        crate::distributed::run_session(&few, 1, &none, false)
    );
}

/// The example's Kaplan–Meier by stage with `median = true`: refused at validation's
/// rules without `allow_event_times`; with it, each curve's median and interval reach the
/// JSON results and the report.
#[test]
fn a_median_runs_end_to_end_where_event_times_are_allowed() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/survival/study.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    let first = text.find("[[analysis]]").unwrap();
    let second = first + 1 + text[first + 1..].find("[[analysis]]").unwrap();
    let km = text[..second].replace(
        "times = [365, 730, 1095, 1460]\n",
        "times = [365, 730, 1095, 1460]\nmedian = true\n",
    );
    assert!(km.contains("median = true"));
    let dir = p.parent().unwrap();
    let refused = run_local(
        &parse("study.toml", &km, dir).unwrap(),
        &RunOptions::default(),
    )
    .map(|out| out.analyses[0].error.clone().unwrap_or_default())
    .unwrap_or_else(|e| e.to_string());
    assert!(refused.contains("allow_event_times"), "{refused}");
    let allowed = km.replace(
        "min_rows = 100\n",
        "min_rows = 100\nallow_event_times = true\n",
    );
    let out = run_local(
        &parse("study.toml", &allowed, dir).unwrap(),
        &RunOptions::default(),
    )
    .unwrap();
    let j: serde_json::Value = serde_json::from_str(&crate::render::json(&out)).unwrap();
    let curves = j["analyses"][0]["result"]["curves"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(curves.len(), 4);
    for c in &curves {
        let m = &c["median"];
        assert_eq!(m["status"][0], "shown", "{m}");
        let (lo, med, hi) = (
            m["lower"].as_f64(),
            m["median"].as_f64(),
            m["upper"].as_f64(),
        );
        assert!(lo.unwrap() <= med.unwrap(), "{m}");
        assert!(hi.is_none_or(|h| med.unwrap() <= h), "{m}");
    }
    let html = crate::report::html(&out);
    assert!(html.contains("median (95% CI)"), "report");
}

/// A study of three data parties, one of them outside the compute parties, with keys that
/// need normalisation and a missing key; written to a fresh folder.
fn outside_study(transport_tag: &str) -> Study {
    let d = tmp(transport_tag);
    std::fs::write(
        d.join("a.csv"),
        "id,x,g\n 001 ,1.5,u\n002,2.25,v\n003,NA,u\n004,-4,v\n,5,u\n006,6,v\n",
    )
    .unwrap();
    std::fs::write(d.join("b.csv"), "key;y\n1;10\n2;20\n4;40\n6;60\n7;70\n").unwrap();
    std::fs::write(d.join("c.csv"), "k,z\n6,0\n4,1\n2,1\n9,0\n1,\n").unwrap();
    let text = r#"
[study]
id = "outside"
frac_bits = 20
[parties.a]
compute = 0
[parties.h1]
compute = 1
[parties.h2]
compute = 2
[parties.b]
[parties.c]
[data.a]
file = "a.csv"
key = ["id"]
[data.a.columns]
x = "numeric"
g = { type = "categorical", levels = ["u", "v"] }
[data.b]
file = "b.csv"
key = ["key"]
delimiter = ";"
[data.b.columns]
y = "numeric"
[data.c]
file = "c.csv"
key = ["k"]
[data.c.columns]
z = "binary"
[linkage]
key = [{ name = "pid", normalise = ["trim", "digits_only", "strip_leading_zeros"] }]
[disclosure]
min_rows = 1
[recipients.r]
[[analysis]]
name = "d"
kind = "describe"
columns = ["a.x", "b.y"]
"#;
    let p = d.join("study.toml");
    std::fs::write(&p, text).unwrap();
    crate::load(&p).unwrap()
}

fn digits(k: &str) -> String {
    let t: String = k.trim().chars().filter(char::is_ascii_digit).collect();
    let t = t.trim_start_matches('0');
    if t.is_empty() {
        "0".into()
    } else {
        t.into()
    }
}

#[test]
fn outside_data_parties_are_dealt_in() {
    let s = outside_study("outside");
    assert_eq!(s.data.len(), 3);
    let (n, cols) = reveal_linked(&s, &RunOptions::default()).unwrap();
    let want = plain_join(&s, digits);
    assert_eq!(n, 4, "keys 1, 2, 4, 6 are in all three files");
    assert_eq!(rows_of(&cols), want);
    let out = run_local(&s, &RunOptions::default()).unwrap();
    let rows: Vec<crate::counts::Count> = out.linkage.rows.iter().map(|r| r.rows).collect();
    assert_eq!(rows, [5, 5, 5], "one missing key in a.csv");
    assert_eq!(out.data[0].keys.unwrap().missing, 1);
    assert_eq!(
        out.data[0].dataset.missing,
        [("x".to_string(), 1), ("g".to_string(), 0)]
    );
    assert_eq!(out.data[2].dataset.missing, [("z".to_string(), 1)]);
}

#[test]
fn loopback_tcp_gives_the_same_table() {
    let s = outside_study("tcp");
    let opts = RunOptions {
        transport: Transport::Tcp,
        ..RunOptions::default()
    };
    let (n, cols) = reveal_linked(&s, &opts).unwrap();
    assert_eq!(n, 4);
    assert_eq!(rows_of(&cols), plain_join(&s, digits));
}

#[test]
fn one_data_party_needs_no_join() {
    let d = tmp("one");
    std::fs::write(d.join("a.csv"), "t,e,w\n5,1,a\n6,0,b\n7,1,\n").unwrap();
    let text = r#"
[study]
id = "one"
[parties.a]
compute = 1
[parties.b]
compute = 0
[parties.c]
compute = 2
[data.a]
file = "a.csv"
[data.a.columns]
t = "numeric"
e = "binary"
w = { type = "categorical", levels = ["a", "b"] }
[recipients.r]
[[analysis]]
name = "km"
kind = "kaplan_meier"
time = "a.t"
event = "a.e"
"#;
    let s = parse("study.toml", text, &d).unwrap();
    let (n, cols) = reveal_linked(&s, &RunOptions::default()).unwrap();
    assert_eq!(n, 3);
    let t = data::load(&s.data[0]).unwrap();
    let want: Vec<Vec<u128>> = t.frame.columns.iter().flat_map(|c| c.encode(24)).collect();
    assert_eq!(cols, want, "one data party: its table, in its order");
    let out = run_local(&s, &RunOptions::default()).unwrap();
    assert_eq!(out.linkage.intersection, 3);
    assert!(out.data[0].keys.is_none());
    assert!(crate::render::text(&out).contains("one data party, no linkage"));

    // With a [linkage] table, one data party's keys are still prepared: a missing key and
    // a duplicate are dropped.
    std::fs::write(d.join("k.csv"), "id,t\n1,5\n,6\n1,7\n2,8\n").unwrap();
    let keyed = text
        .replace("file = \"a.csv\"", "file = \"k.csv\"\nkey = [\"id\"]")
        .replace(
            "e = \"binary\"\nw = { type = \"categorical\", levels = [\"a\", \"b\"] }\n",
            "",
        )
        .replace("event = \"a.e\"", "event = \"a.t\"")
        .replace(
            "[recipients.r]",
            "[linkage]\nkey = [{ name = \"id\" }]\nduplicates = \"keep_first\"\n[recipients.r]",
        );
    let s = parse("study.toml", &keyed, &d).unwrap();
    let (n, cols) = reveal_linked(&s, &RunOptions::default()).unwrap();
    assert_eq!(n, 2);
    let f = |v: f64| tessera_mpc::fixed::encode::<u128>(v, 24);
    assert_eq!(cols, vec![vec![1, 1], vec![f(5.0), f(8.0)]]);
}

#[test]
fn duplicate_keys_are_refused_as_a_data_error() {
    let d = tmp("dup");
    std::fs::write(d.join("a.csv"), "id,x\n1,1\n1,2\n2,3\n").unwrap();
    std::fs::write(d.join("b.csv"), "id,y\n1,1\n2,2\n").unwrap();
    let text = r#"
[study]
id = "dup"
[parties.a]
compute = 0
[parties.b]
compute = 1
[parties.c]
compute = 2
[data.a]
file = "a.csv"
key = ["id"]
[data.a.columns]
x = "numeric"
[data.b]
file = "b.csv"
key = ["id"]
[data.b.columns]
y = "numeric"
[linkage]
key = [{ name = "id" }]
[recipients.r]
[[analysis]]
name = "c"
kind = "correlation"
columns = ["a.x", "b.y"]
"#;
    let s = parse("study.toml", text, &d).unwrap();
    let e = run_local(&s, &RunOptions::default()).unwrap_err();
    assert!(matches!(e, StudyError::Data(_)), "{e}");
    assert!(
        e.to_string().contains("data.a") && e.to_string().contains("keep_first"),
        "{e}"
    );
    let keep = parse(
        "study.toml",
        &text.replace(
            "[{ name = \"id\" }]",
            "[{ name = \"id\" }]\nduplicates = \"keep_last\"",
        ),
        &d,
    )
    .unwrap();
    let (n, cols) = reveal_linked(&keep, &RunOptions::default()).unwrap();
    assert_eq!(n, 2);
    let x: Vec<u128> = rows_of(&cols).iter().map(|r| r[1]).collect();
    let f = |v: f64| tessera_mpc::fixed::encode::<u128>(v, 24);
    assert_eq!(
        x.iter().copied().collect::<std::collections::BTreeSet<_>>(),
        [f(2.0), f(3.0)].into()
    );
}

/// Writes `csv` as the dataset of a one-party study declaring `columns`, and loads it.
fn load_csv(tag: &str, csv: &str, columns: &str) -> Result<DataTable, StudyError> {
    let d = tmp(tag);
    std::fs::write(d.join("d.csv"), csv).unwrap();
    let analysis = if columns.contains("categorical") {
        "kind = \"crosstab\"\nrows = \"a.v\"\ncolumns = \"a.v\""
    } else {
        "kind = \"correlation\"\ncolumns = [\"a.v\", \"a.v\"]"
    };
    let text = format!(
        "[study]\nid = \"c\"\n[parties.a]\ncompute = 0\n[parties.b]\ncompute = 1\n\
         [parties.c]\ncompute = 2\n[data.a]\nfile = \"d.csv\"\nkey = [\"id\"]\n\
         [data.a.columns]\n{columns}\n[recipients.r]\n[[analysis]]\nname = \"x\"\n{analysis}\n"
    );
    let s = parse("study.toml", &text, &d).unwrap();
    data::load(&s.data[0])
}

/// A data error that names `d.csv:LINE` and the column, and does not contain `secret`.
fn csv_fails(tag: &str, csv: &str, columns: &str, line: usize, what: &str, secret: &str) {
    let e = load_csv(tag, csv, columns).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, StudyError::Data(_)), "{m}");
    assert!(m.contains(&format!("d.csv:{line}:")), "line {line}: {m}");
    assert!(m.contains(what), "{what}: {m}");
    assert!(!m.contains(secret), "the value is echoed: {m}");
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn csv_values_are_checked_without_echoing_them() {
    let num = "v = \"numeric\"";
    csv_fails(
        "c1",
        "id,v\n1,2\n2,x7q\n",
        num,
        3,
        "column \"v\": not a number",
        "x7q",
    );
    csv_fails("c2", "id,v\n1,inf\n", num, 2, "not a number", "inf");
    csv_fails(
        "c3",
        "id,v\n1,5\n2,130.5\n",
        "v = { type = \"numeric\", min = 0, max = 120 }",
        3,
        "above the declared max",
        "130.5",
    );
    csv_fails(
        "c4",
        "id,v\n1,-3.25\n",
        "v = { type = \"numeric\", min = 0 }",
        2,
        "below",
        "3.25",
    );
    csv_fails(
        "c5",
        "id,v\n1,1\n2,0.75\n",
        "v = \"binary\"",
        3,
        "not 0 or 1",
        "0.75",
    );
    csv_fails(
        "c6",
        "id,v\n1,a\n2,zz9\n",
        "v = { type = \"categorical\", levels = [\"a\", \"b\"] }",
        3,
        "not one of the declared levels",
        "zz9",
    );
    csv_fails("c7", "id,w\n1,2\n", num, 1, "no column \"v\"", "@@");
    csv_fails("c8", "ident,v\n1,2\n", num, 1, "no key column \"id\"", "@@");
    csv_fails(
        "c9",
        "id,v\n1,2\n2,3,secret4\n",
        num,
        3,
        "3 fields where the header has 2",
        "secret4",
    );
    csv_fails("c10", "id,v,v\n1,2,3\n", num, 1, "more than once", "@@");
    // Missing values: the default tokens, counted per column; keys missing too.
    let t = load_csv("c11", "id,v\n1,NA\nNA,3\n3,\n4, nan \n5,1e3\n", num).unwrap();
    assert_eq!(t.report.rows, 5);
    assert_eq!(t.report.missing, [("v".to_string(), 3)]);
    assert_eq!(t.keys[0][1], None);
    assert_eq!(t.keys[0][0].as_deref(), Some("1"));
    assert_eq!(
        t.frame.numeric("a.v").unwrap(),
        &[None, Some(3.0), None, None, Some(1000.0)]
    );
}

static STEPS: std::sync::Mutex<Vec<(usize, usize, String)>> = std::sync::Mutex::new(Vec::new());

fn record(step: usize, steps: usize, what: &str) {
    STEPS.lock().unwrap().push((step, steps, what.to_string()));
}

#[test]
fn progress_goes_through_every_phase_once() {
    let s = example();
    let opts = RunOptions {
        progress: Some(record),
        ..RunOptions::default()
    };
    run_local(&s, &opts).unwrap();
    let steps = STEPS.lock().unwrap().clone();
    let total = 2 + s.analyses.len();
    assert_eq!(steps.len(), total + 1, "{steps:?}");
    for (i, (step, n, _)) in steps.iter().enumerate() {
        assert_eq!((*step, *n), (i, total));
    }
    assert_eq!(steps[1].2, "linking the records");
    assert!(steps[2].2.starts_with("analysis km_by_stage"));
    assert_eq!(steps[total].2, "done");
}

/// A small study of three compute stations (`registry`, `gp`, `institute` in slots 0, 1,
/// 2), the registry bringing the data, with its inputs prepared.
fn stations_study(tag: &str) -> (Study, Vec<crate::run::Input>) {
    let d = tmp(tag);
    let rows: String = (1..=12).map(|v| format!("{v}\n")).collect();
    std::fs::write(d.join("a.csv"), format!("t\n{rows}")).unwrap();
    let text = r#"
[study]
id = "names"
[parties.registry]
compute = 0
[parties.gp]
compute = 1
[parties.institute]
compute = 2
[data.registry]
file = "a.csv"
[data.registry.columns]
t = "numeric"
[recipients.r]
[[analysis]]
name = "d"
kind = "describe"
columns = ["registry.t"]
"#;
    let s = parse("study.toml", text, &d).unwrap();
    let tables = crate::run::load_data(&s).unwrap();
    let (inputs, _) = crate::run::prepare_inputs(&s, &tables).unwrap();
    (s, inputs)
}

/// Whether `msg` names a compute party by its slot instead of its station's name.
fn names_a_slot(msg: &str) -> bool {
    [
        "party 0",
        "party 1",
        "party 2",
        "compute party",
        "parties 0",
        "parties 1",
    ]
    .iter()
    .any(|w| msg.contains(w))
}

/// A compute station that goes silent in a local run (`tessera run`): the error names it
/// by its name (`gp`), never by its compute slot, in the words every station is told and
/// in the detail printed.
#[test]
fn a_silent_station_is_named_not_numbered() {
    let (s, inputs) = stations_study("silent");
    for transport in [Transport::Memory, Transport::Tcp] {
        let timeout = std::time::Duration::from_millis(300);
        let opts = RunOptions {
            transport,
            timeout,
            ..RunOptions::default()
        };
        let e = crate::run::compute(&s, &inputs, &opts, |p, _| {
            if p.id() == 1 {
                std::thread::sleep(4 * timeout);
            }
            Ok(())
        })
        .err()
        .expect("the run fails");
        match &e {
            StudyError::Network { public, detail } => {
                assert_eq!(public, "the computation timed out waiting for gp");
                assert!(
                    detail.contains("station gp sent nothing for 300 ms"),
                    "{detail}"
                );
            }
            other => panic!("{transport:?}: {other:?}"),
        }
        let shown = e.to_string();
        assert!(!names_a_slot(&shown), "{transport:?}: {shown}");
    }
}

/// `RunOptions::network` shapes the links between the compute parties (what `tessera run
/// --latency-ms` and `station serve --latency-ms` set), on both transports: a computation
/// of `r` rounds takes at least `r` one-way latencies (a lower bound the shaping guarantees,
/// not a performance figure), and the unshaped run counts the same rounds.
#[test]
fn a_simulated_network_delays_every_round() {
    let (s, inputs) = stations_study("shaped");
    let latency = std::time::Duration::from_millis(30);
    let reveals =
        |p: &mut tessera_mpc::Party, _: &tessera_stats::Frame| -> crate::error::Result<()> {
            for _ in 0..4 {
                let x = p.public(&[1u128]);
                p.reveal(&x).map_err(|e| StudyError::Run(e.to_string()))?;
            }
            Ok(())
        };
    for transport in [Transport::Memory, Transport::Tcp] {
        let plain = RunOptions {
            transport,
            ..RunOptions::default()
        };
        let shaped = RunOptions {
            network: tessera_net::shaper::Shape {
                one_way_latency: latency,
                bandwidth_bits_per_sec: None,
            },
            ..plain
        };
        let runs: Vec<_> = [plain, shaped]
            .iter()
            .map(|o| crate::run::compute(&s, &inputs, o, reveals).unwrap())
            .collect();
        let rounds = |r: &[crate::run::PartyRun<()>; 3]| r[0].total.rounds;
        assert_eq!(rounds(&runs[0]), rounds(&runs[1]), "{transport:?}");
        assert!(rounds(&runs[1]) >= 4, "{transport:?}");
        let took = runs[1][0].total.seconds;
        let least = rounds(&runs[1]) as f64 * latency.as_secs_f64();
        assert!(took >= least, "{transport:?}: {took} s < {least} s");
    }
}

/// A station that fails for a reason of its own is the one reported (not the others'
/// reports of its abort), and by its name.
#[test]
fn a_station_failing_on_its_own_is_reported_by_name() {
    let (s, inputs) = stations_study("own");
    let e = crate::run::compute(&s, &inputs, &RunOptions::default(), |p, _| {
        if p.id() == 2 {
            let bad = tessera_mpc::MpcError::Invalid("party 2 has no such column".into());
            return Err(crate::run::failed(
                crate::names::Stations::of(&s),
                2,
                "testing",
                &bad,
            ));
        }
        Ok(())
    })
    .err()
    .expect("the run fails");
    let shown = e.to_string();
    assert!(matches!(e, StudyError::Run(_)), "{e:?}");
    assert_eq!(
        shown,
        "station institute, testing: invalid use of the engine: station institute has no such \
         column"
    );
}

/// At the recipient, a station's part that holds another station's shares is refused,
/// naming both by name; so is a part sent as another station.
#[test]
fn mismatched_parts_are_named_by_station() {
    let (s, inputs) = stations_study("parts");
    let runs = crate::run::compute(&s, &inputs, &RunOptions::default(), |p, frame| {
        crate::run::run_analyses(&s, p, frame, None)
    })
    .unwrap();
    let parts: Vec<_> = runs
        .iter()
        .enumerate()
        .map(|(slot, r)| crate::run::station_shares(&s, slot, r))
        .collect();
    assert!(crate::deliver::open(parts.clone()).is_ok());

    // The institute's part is missing.
    let e = crate::deliver::open(parts[..2].to_vec())
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("all three compute stations: institute's are missing"),
        "{e}"
    );

    // gp stores the registry's shares as its own.
    let mut swapped = parts.clone();
    swapped[1].analyses[0].shares = parts[0].analyses[0].shares.clone();
    let e = crate::deliver::open(swapped).unwrap_err().to_string();
    assert!(e.contains("station gp") && e.contains("registry's"), "{e}");
    assert!(!names_a_slot(&e), "{e}");

    // gp sends its part as the institute's.
    let mut claimed = parts.clone();
    claimed[1].slot = 2;
    let e = crate::deliver::open(claimed).unwrap_err().to_string();
    assert!(e.contains("station gp"), "{e}");
    assert!(!names_a_slot(&e) && !e.contains("slot"), "{e}");

    // One altered share: gp is named.
    let mut altered = parts;
    let hex = altered[1].analyses[0].shares.clone().unwrap();
    let last = if hex.ends_with('0') { "1" } else { "0" };
    altered[1].analyses[0].shares = Some(format!("{}{last}", &hex[..hex.len() - 1]));
    let e = crate::deliver::open(altered).unwrap_err().to_string();
    assert!(e.contains("held by station gp"), "{e}");
    assert!(!names_a_slot(&e), "{e}");
}
