//! An outside data party's dealings across the three compute stations: every compute
//! station must compute on messages of one and the same dealing. Compute stations holding
//! messages of two dealings of one party (a dealer that dealt again after a failure, or
//! after a restart, while one station had already taken the first) must not compute on
//! mismatched shares: the run fails at every station, naming no value.

use std::net::TcpListener;
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
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The registry, an institute and a hospital compute; the GP network is an outside data
/// party. Returns the study and the compute stations' identities by slot.
fn setup(dir: &Path) -> (Study, Vec<(String, Identity)>) {
    std::fs::write(dir.join("registry.csv"), REGISTRY).unwrap();
    std::fs::write(dir.join("gp.csv"), GP).unwrap();
    let names = ["registry", "institute", "hospital"];
    let ids: Vec<(String, Identity)> = names
        .iter()
        .map(|n| (n.to_string(), Identity::generate(n).unwrap()))
        .collect();
    let gp = Identity::generate("gp").unwrap();
    let mut text = String::from("[study]\nid = \"dealt\"\n");
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
    std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .zip(msgs)
            .map(|((name, id), msg)| {
                s.spawn(move || {
                    let opts = RunOptions {
                        timeout: Duration::from_secs(10),
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
