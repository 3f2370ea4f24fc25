//! An outside data party's dealings across the three compute stations: every compute
//! station must compute on messages of one and the same dealing. Compute stations holding
//! messages of two dealings of one party (a dealer that dealt again after a failure, or
//! after a restart, while one station had already taken the first) must not compute on
//! mismatched shares: the run fails at every station, naming no value.
//!
//! A station that fails, or never comes, is named by its name in the others' errors, never
//! by its compute slot, and what it tells the others holds none of its transport's words.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tessera_net::identity::{fingerprint_hex, Identity};
use tessera_study::distributed::{deal_input, run_party_with, Meeting, DEALING_ID_LEN};
use tessera_study::run::RunOptions;
use tessera_study::{data, format::Study, StudyError};

const REGISTRY: &str = include_str!("../../../fixtures/synthetic/registry.csv");
const GP: &str = include_str!("../../../fixtures/synthetic/gp.csv");

fn folder(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-dealt-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn free_port() -> u16 {
    tessera_net::ports::free_loopback_port().unwrap()
}

/// The registry, an institute and a hospital compute; the GP network is an outside data
/// party. Returns the study and the compute stations' identities by slot.
fn setup(dir: &Path) -> (Study, Vec<(String, Identity)>) {
    setup_with(dir, "", "")
}

/// [`setup`] with `study` added to the `[study]` table and `analyses` after the study's
/// own analysis.
fn setup_with(dir: &Path, study: &str, analyses: &str) -> (Study, Vec<(String, Identity)>) {
    std::fs::write(dir.join("registry.csv"), REGISTRY).unwrap();
    std::fs::write(dir.join("gp.csv"), GP).unwrap();
    let names = ["registry", "institute", "hospital"];
    let ids: Vec<(String, Identity)> = names
        .iter()
        .map(|n| (n.to_string(), Identity::generate(n).unwrap()))
        .collect();
    let gp = Identity::generate("gp").unwrap();
    let mut text = format!("[study]\nid = \"dealt\"\n{study}");
    for (slot, (n, id)) in ids.iter().enumerate() {
        text += &format!(
            "[parties.{n}]\ncompute = {slot}\naddress = \"127.0.0.1:{}\"\nfingerprint = \"sha256:{}\"\n",
            free_port(),
            fingerprint_hex(&id.fingerprint())
        );
    }
    text += &format!(
        "[parties.gp]\nfingerprint = \"sha256:{}\"\n",
        fingerprint_hex(&gp.fingerprint())
    );
    text += r#"
[data.registry]
file = "registry.csv"
key = ["patient_id"]
[data.registry.columns]
age = { type = "numeric", min = 0, max = 120 }
time = { type = "numeric", min = 0, max = 10000 }
event = "binary"
treatment = { type = "categorical", levels = ["0", "1"] }
[data.gp]
file = "gp.csv"
key = ["patient_id"]
[data.gp.columns]
bmi = { type = "numeric", min = 10, max = 80 }
[linkage]
key = [{ name = "patient_id", normalise = ["trim", "casefold"] }]
[disclosure]
min_cell = 5
min_rows = 10
[recipients.r]
[[analysis]]
name = "bmi"
kind = "describe"
columns = ["gp.bmi", "registry.age"]
"#;
    text += analyses;
    let path = dir.join("study.toml");
    std::fs::write(&path, &text).unwrap();
    (tessera_study::load(&path).unwrap(), ids)
}

/// Runs the three compute stations, compute slot `i` holding `msgs[i]` as the GP's input.
fn run(
    study: &Study,
    ids: &[(String, Identity)],
    msgs: [Vec<u8>; 3],
) -> Vec<Result<(), StudyError>> {
    // 30 s per receive: a 2-core machine running the whole test suite in parallel once
    // took more than 10 s for the control run's 1,700 rows; a mismatch still fails at once.
    run_for(study, ids, msgs.to_vec(), Duration::from_secs(30))
}

/// Runs the compute stations of `ids` with `msgs` (one per station, in order) and
/// `timeout`; stations without a message do not run.
fn run_for(
    study: &Study,
    ids: &[(String, Identity)],
    msgs: Vec<Vec<u8>>,
    timeout: Duration,
) -> Vec<Result<(), StudyError>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .zip(msgs)
            .map(|((name, id), msg)| {
                s.spawn(move || {
                    let opts = RunOptions {
                        timeout,
                        ..RunOptions::default()
                    };
                    let meeting = Meeting::from_study(study)?;
                    run_party_with(study, name, id, &opts, meeting, &data::load, &|_| {
                        Some(msg.clone())
                    })
                    .map(|_| ())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn compute_stations_holding_two_dealings_of_one_party_fail_everywhere() {
    let dir = folder("two");
    let (study, ids) = setup(&dir);
    let spec = study.data.iter().find(|d| d.party == "gp").unwrap();
    let table = data::load(spec).unwrap();
    let first = deal_input(&study, spec, &table).unwrap();
    let again = deal_input(&study, spec, &table).unwrap();
    // Every message of a dealing carries the same id; two dealings differ.
    assert!(first
        .iter()
        .all(|m| m[..DEALING_ID_LEN] == first[0][..DEALING_ID_LEN]));
    assert_ne!(first[0][..DEALING_ID_LEN], again[0][..DEALING_ID_LEN]);

    // One dealing: the run goes through at every station (the control).
    let ok = run(&study, &ids, first.clone());
    assert!(ok.iter().all(|r| r.is_ok()), "{ok:?}");

    // The registry took the first dealing; the others got the second.
    let [a0, _, _] = first;
    let [_, b1, b2] = again;
    let mixed = run(&study, &ids, [a0, b1, b2]);
    for (r, (name, _)) in mixed.iter().zip(&ids) {
        match r {
            Err(StudyError::Network { detail, .. }) => {
                assert!(detail.contains("session"), "{name}: {detail}")
            }
            other => panic!("{name} computed on mismatched dealings: {other:?}"),
        }
    }
}

#[test]
fn a_message_without_a_dealing_id_is_refused() {
    let dir = folder("short");
    let (study, ids) = setup(&dir);
    let r = run(&study, &ids, [vec![1u8; 3], vec![1u8; 3], vec![1u8; 3]]);
    for x in r {
        let e = x.unwrap_err().to_string();
        assert!(e.contains("too short to be a dealer message"), "{e}");
    }
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

/// The hospital never comes: the two others stop, naming it (not `party 2`) both in what
/// anyone is told and in the detail for their stewards.
#[test]
fn a_missing_station_is_named_not_numbered() {
    let dir = folder("missing");
    let (study, ids) = setup(&dir);
    let spec = study.data.iter().find(|d| d.party == "gp").unwrap();
    let [m0, m1, _] = deal_input(&study, spec, &data::load(spec).unwrap()).unwrap();
    let r = run_for(&study, &ids[..2], vec![m0, m1], Duration::from_secs(2));
    for (r, (name, _)) in r.iter().zip(&ids) {
        match r {
            Err(StudyError::Network { public, detail }) => {
                assert_eq!(
                    public, "the computation could not connect to hospital (timed out)",
                    "{name}"
                );
                assert!(
                    detail.starts_with(&format!("station {name}, connecting: ")),
                    "{detail}"
                );
                assert!(detail.contains("station hospital"), "{name}: {detail}");
                assert!(!names_a_slot(detail), "{name}: {detail}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// The hospital fails on its own (its dealer message is cut short) after the stations have
/// connected: it stops and the two others name it; its abort tells them no more than its
/// own error's kind.
#[test]
fn a_station_that_stops_is_named_by_the_others() {
    let dir = folder("stops");
    let (study, ids) = setup(&dir);
    let spec = study.data.iter().find(|d| d.party == "gp").unwrap();
    let [m0, m1, m2] = deal_input(&study, spec, &data::load(spec).unwrap()).unwrap();
    let cut = m2[..DEALING_ID_LEN + 10].to_vec();
    let r = run(&study, &ids, [m0, m1, cut]);
    match &r[2] {
        Err(e @ StudyError::Run(detail)) => {
            assert!(
                detail.starts_with("station hospital, sharing the inputs: "),
                "{e}"
            );
            assert!(!names_a_slot(detail), "{detail}");
        }
        other => panic!("hospital: {other:?}"),
    }
    for (r, (name, _)) in r[..2].iter().zip(&ids) {
        match r {
            // The first abort to arrive names the station it came from: the hospital, or
            // a station that stopped on hearing the hospital's (and says so); or the
            // hospital's connection, closed as it left.
            Err(StudyError::Network { public, detail }) => {
                assert!(
                    [
                        "hospital stopped the computation",
                        "institute stopped the computation",
                        "registry stopped the computation",
                        "the computation lost its connection to hospital",
                    ]
                    .contains(&public.as_str())
                        && public != &format!("{name} stopped the computation"),
                    "{name}: {public}"
                );
                assert!(detail.contains("hospital"), "{name}: {detail}");
                assert!(!names_a_slot(detail), "{name}: {detail}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// Stations of different organisations pay a network latency per round: a run between
/// stations trades bytes for rounds unless the study says otherwise (`[study] few_rounds`),
/// with the same results either way.
#[test]
fn a_run_between_stations_takes_few_rounds_unless_the_study_says_otherwise() {
    let logrank = r#"
[[analysis]]
name = "by_treatment"
kind = "logrank"
time = "registry.time"
event = "registry.event"
group = "registry.treatment"
"#;
    let run_study = |tag: &str, study_text: &str| {
        let dir = folder(tag);
        let (study, ids) = setup_with(&dir, study_text, logrank);
        let spec = study.data.iter().find(|d| d.party == "gp").unwrap();
        let dealt = deal_input(&study, spec, &data::load(spec).unwrap()).unwrap();
        let outs: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = ids
                .iter()
                .zip(dealt)
                .map(|((name, id), msg)| {
                    let study = &study;
                    s.spawn(move || {
                        let opts = RunOptions {
                            timeout: Duration::from_secs(30),
                            ..RunOptions::default()
                        };
                        let meeting = Meeting::from_study(study)?;
                        run_party_with(study, name, id, &opts, meeting, &data::load, &|_| {
                            Some(msg.clone())
                        })
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let out = outs.into_iter().next().unwrap().unwrap();
        let cost = out.cost.into_iter().next().unwrap();
        (cost.analyses[1].rounds, cost.analyses[1].bytes_sent)
    };
    let (few, few_bytes) = run_study("few", "");
    let (many, many_bytes) = run_study("many", "few_rounds = false\n");
    println!("log-rank between stations: {few} rounds, {few_bytes} bytes by default; {many} rounds, {many_bytes} bytes with few_rounds = false");
    assert!(few < many, "{few} rounds by default against {many}");
    assert!(few_bytes > many_bytes);
}
