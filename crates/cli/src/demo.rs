//! `tessera demo`: the whole product on one machine. Three stations — a cancer registry, a
//! GP network and a research institute with no data — each get a folder with their own TLS
//! identity, data, policy and audit log, and run as separate `tessera station serve`
//! processes talking HTTPS and MPC over TLS 1.3 on loopback. A researcher (with an identity
//! of their own) submits a study to the registry; the registry passes it on; the registry's
//! and the institute's policies approve it by rule while the GP network's waits for a person,
//! whom the demo plays; the stations check their data, link their records and compute; the
//! researcher fetches the results, which are printed beside the same analyses computed in
//! plaintext on the pooled data (which only a demo can do), and the report. Finally the
//! registry's audit log is shown and verified.
//!
//! `--prepare` only writes the folders (identities, station configurations, data, study, and
//! the researcher's profile naming the stations: `researcher/profile.toml`) and prints how to
//! start the stations by hand.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::Value;
use tessera_net::identity::{fingerprint_hex, Identity};
use tessera_station::client::Client;
use tessera_stats::analysis::{AnalysisSpec, CoxSpec, KaplanMeierSpec, LogisticSpec, LogrankSpec};
use tessera_stats::regression::plain as regression_plain;
use tessera_stats::survival::{cox_plain, kaplan_meier_plain, logrank_plain};
use tessera_stats::{PlainColumn, PlainData, PlainFrame};

use crate::bench::party::ShapeArgs;

/// The shipped synthetic data (also used by the fixtures and the example study).
const REGISTRY_CSV: &str = include_str!("../../../fixtures/synthetic/registry.csv");
const GP_CSV: &str = include_str!("../../../fixtures/synthetic/gp.csv");

/// The demo study; `{...}` are filled in per run. Each `[data.NAME] file` names the
/// station's configured source.
const STUDY: &str = r#"# The tessera demo study (written by `tessera demo`).
[study]
id = "tessera-demo"
title = "Survival by statin use: cancer registry linked with GP records (synthetic data)"

[parties.registry]
compute = 0
fingerprint = "sha256:{fp_registry}"

[parties.gp]
compute = 1
fingerprint = "sha256:{fp_gp}"

[parties.institute]
compute = 2
fingerprint = "sha256:{fp_institute}"

[data.registry]
file = "cases"
key = ["patient_id"]

[data.registry.columns]
time = { type = "numeric", min = 0 }
event = "binary"
age = { type = "numeric", min = 0, max = 120 }
sex = "binary"
stage = { type = "categorical", levels = ["1", "2", "3", "4"] }
treatment = "binary"

[data.gp]
file = "records"
key = ["patient_id"]

[data.gp.columns]
comorbidity = { type = "numeric", min = 0 }
smoker = "binary"
bmi = { type = "numeric", min = 10, max = 80 }
diabetes = "binary"
statin = { type = "categorical", levels = ["0", "1"] }

[linkage]
key = [{ name = "patient_id", normalise = ["trim", "casefold"] }]

[disclosure]
min_cell = 10
min_rows = 100
max_vars_per_row = 0.1

[recipients.researcher]
fingerprint = "sha256:{fp_researcher}"

[[analysis]]
name = "km_by_statin"
kind = "kaplan_meier"
time = "registry.time"
event = "registry.event"
group = "gp.statin"
times = [365, 730, 1095, 1460]

[[analysis]]
name = "logrank_by_statin"
kind = "logrank"
time = "registry.time"
event = "registry.event"
group = "gp.statin"

[[analysis]]
name = "cox"
kind = "cox"
time = "registry.time"
event = "registry.event"
covariates = ["registry.age", "registry.sex", "registry.treatment", "registry.stage",
              "gp.comorbidity", "gp.smoker", "gp.bmi", "gp.diabetes", "gp.statin"]

[[analysis]]
name = "diabetes"
kind = "logistic"
outcome = "gp.diabetes"
covariates = ["registry.age", "registry.sex", "gp.bmi", "gp.smoker"]
"#;

/// A station's configuration; `{trusted}`, `{sources}` and `{auto}` are filled in per
/// station.
const STATION: &str = r#"# Written by `tessera demo`; see docs/station.md.
[station]
name = "{name}"
identity = { key = "identity/station.key", certificate = "identity/station.crt" }
listen = "127.0.0.1:{api}"

[compute]
listen = "127.0.0.1:{mpc}"
address = "127.0.0.1"
{trusted}
[[researchers]]
name = "researcher"
fingerprint = "sha256:{fp_researcher}"
{sources}
[policy]
analyses = ["kaplan_meier", "logrank", "cox", "logistic"]
recipients = ["sha256:{fp_researcher}"]
min_rows = 100
min_cell = 10
{auto}"#;

pub(crate) const STATIONS: [&str; 3] = ["registry", "gp", "institute"];

/// Each station's data source (none for the institute): how it is read (delimiter,
/// missing-value tokens) and how its key is normalised are the steward's, here; the study's
/// `[linkage]` must state the same normalisation. Each is published in the station's
/// catalogue (`GET /catalogue`) with the levels of its categorical column.
fn sources(station: &str) -> &'static str {
    match station {
        "registry" => {
            "\n[sources.cases]\nkind = \"csv\"\nfile = \"registry.csv\"\npublish = true\ndelimiter = \",\"\n\
             missing = [\"\", \"NA\"]\ncolumns = { patient_id = \"key\", \
             time = \"numeric\", event = \"binary\", age = \"numeric\", sex = \"binary\", \
             stage = \"categorical\", treatment = \"binary\" }\n\
             \n[sources.cases.keys.patient_id]\nnormalise = [\"trim\", \"casefold\"]\n\
             \n[sources.cases.levels]\nstage = [\"1\", \"2\", \"3\", \"4\"]\n"
        }
        "gp" => {
            "\n[sources.records]\nkind = \"csv\"\nfile = \"gp.csv\"\npublish = true\ndelimiter = \",\"\n\
             missing = [\"\", \"NA\"]\ncolumns = { patient_id = \"key\", \
             comorbidity = \"numeric\", smoker = \"binary\", bmi = \"numeric\", \
             diabetes = \"binary\", statin = \"categorical\" }\n\
             \n[sources.records.keys.patient_id]\nnormalise = [\"trim\", \"casefold\"]\n\
             \n[sources.records.levels]\nstatin = [\"0\", \"1\"]\n"
        }
        _ => "",
    }
}

/// Each station's automatic approval: the GP network has none (a person decides).
fn auto_rule(station: &str) -> &'static str {
    match station {
        "gp" => "",
        _ => "\n[[policy.auto_approve]]\nname = \"approved researcher\"\nrecipients = [\"sha256:{fp_researcher}\"]\n",
    }
}

/// Options of `tessera demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Folder to write everything to (default: a new folder under the system's temporary
    /// folder).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Only write the stations' folders and the study, and say how to start them.
    #[arg(long)]
    pub prepare: bool,
    /// A wide-area network simulated on the computation's links between the stations (each
    /// station is started with these options), to measure the whole study as it would run
    /// between organisations. The HTTPS requests between the stations and from the
    /// researcher are not delayed.
    #[command(flatten)]
    pub network: ShapeArgs,
}

pub(crate) fn fresh_dir(given: &Option<PathBuf>) -> Result<PathBuf, String> {
    let dir = match given {
        Some(d) => d.clone(),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            std::env::temp_dir().join(format!("tessera-demo-{}-{nanos}", std::process::id()))
        }
    };
    if dir.exists() && std::fs::read_dir(&dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(format!("{} exists and is not empty", dir.display()));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// What `--prepare` writes: per station its folder, API port, computation port and
/// certificate fingerprint; the researcher's identity, profile and study.
pub(crate) struct Setup {
    /// The folder holding one folder per station and the researcher's.
    pub(crate) dir: PathBuf,
    /// Each station's API port (loopback), in [`STATIONS`] order.
    pub(crate) api: Vec<u16>,
    /// Each station's `[compute]` port (loopback).
    pub(crate) mpc: Vec<u16>,
    /// Each station's certificate fingerprint (hex).
    pub(crate) fps: Vec<String>,
    /// The researcher's identity folder.
    pub(crate) researcher: PathBuf,
    /// The study file.
    pub(crate) study: PathBuf,
    /// The researcher's profile ([`tessera_client::profile`]): the three stations' API
    /// addresses and pins, the identity, the registry as the default station.
    pub(crate) profile: PathBuf,
}

/// The researcher's profile for the stations at `api` with fingerprints `fps` (hex), in
/// [`STATIONS`] order; the identity folder beside it.
fn profile_text(api: &[u16], fps: &[String]) -> String {
    let mut t = String::from(
        "# Written by `tessera demo --prepare`: the demo's stations, for `tessera study …`\n\
         # (--profile FILE or $TESSERA_PROFILE) and the Python package (profile=FILE).\n\
         identity = \"identity\"\ndefault = \"registry\"\n",
    );
    for (i, s) in STATIONS.iter().enumerate() {
        t.push_str(&format!(
            "\n[stations.{s}]\nat = \"127.0.0.1:{}\"\npin = \"sha256:{}\"\n",
            api[i], fps[i]
        ));
    }
    t
}

/// Writes the stations' folders, the researcher's identity and the study into `dir`.
pub(crate) fn prepare(dir: &Path) -> Result<Setup, String> {
    let mut fps = Vec::new();
    for s in STATIONS {
        let id = Identity::generate(s).map_err(|e| e.to_string())?;
        id.save(&dir.join(s).join("identity"))
            .map_err(|e| e.to_string())?;
        fps.push(fingerprint_hex(&id.fingerprint()));
    }
    let researcher = dir.join("researcher").join("identity");
    let rid = Identity::generate("researcher").map_err(|e| e.to_string())?;
    rid.save(&researcher).map_err(|e| e.to_string())?;
    let fp_researcher = fingerprint_hex(&rid.fingerprint());
    write(&dir.join("registry").join("registry.csv"), REGISTRY_CSV)?;
    write(&dir.join("gp").join("gp.csv"), GP_CSV)?;
    let ports = tessera_net::ports::free_loopback_ports(6)?;
    let (api, mpc) = (ports[..3].to_vec(), ports[3..].to_vec());
    for (i, s) in STATIONS.iter().enumerate() {
        let trusted: String = STATIONS
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(j, t)| {
                format!(
                    "\n[[trusted]]\nname = \"{t}\"\naddress = \"127.0.0.1:{}\"\nfingerprint = \"sha256:{}\"\n",
                    api[j], fps[j]
                )
            })
            .collect();
        let text = STATION
            .replace("{trusted}", &trusted)
            .replace("{sources}", sources(s))
            .replace("{auto}", auto_rule(s))
            .replace("{name}", s)
            .replace("{api}", &api[i].to_string())
            .replace("{mpc}", &mpc[i].to_string())
            .replace("{fp_researcher}", &fp_researcher);
        write(&dir.join(s).join("station.toml"), &text)?;
    }
    let mut study_text = STUDY.replace("{fp_researcher}", &fp_researcher);
    for (i, s) in STATIONS.iter().enumerate() {
        study_text = study_text.replace(&format!("{{fp_{s}}}"), &fps[i]);
    }
    let study = dir.join("researcher").join("study.toml");
    write(&study, &study_text)?;
    let profile = dir.join("researcher").join("profile.toml");
    write(&profile, &profile_text(&api, &fps))?;
    Ok(Setup {
        dir: dir.to_path_buf(),
        api,
        mpc,
        fps,
        researcher,
        study,
        profile,
    })
}

/// The station processes; killed when dropped (also when the demo fails half-way).
pub(crate) struct Stations(Vec<Child>);

impl Stations {
    /// The stations' process ids, in [`STATIONS`] order.
    pub(crate) fn pids(&self) -> Vec<u32> {
        self.0.iter().map(Child::id).collect()
    }
}

impl Drop for Stations {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `tessera station serve` for each station (with `network` simulated on the
/// computation's links) and waits until each listens.
pub(crate) fn start(setup: &Setup, network: &ShapeArgs) -> Result<Stations, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut stations = Stations(Vec::new());
    for s in STATIONS {
        let log = std::fs::File::create(setup.dir.join(s).join("station.log"))
            .map_err(|e| format!("station {s}: {e}"))?;
        let mut cmd = Command::new(&exe);
        cmd.args(["station", "serve", "--config"])
            .arg(setup.dir.join(s).join("station.toml"));
        network.pass_on(&mut cmd);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start station {s}: {e}"))?;
        let out = child.stdout.take();
        stations.0.push(child);
        let mut lines = BufReader::new(out.ok_or("no output")?).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.contains("serving its API") => break,
                Some(Ok(_)) => continue,
                _ => {
                    let log = std::fs::read_to_string(setup.dir.join(s).join("station.log"))
                        .unwrap_or_default();
                    return Err(format!("station {s} did not start: {}", log.trim()));
                }
            }
        }
    }
    Ok(stations)
}

/// A client of station `i` presenting `identity`.
pub(crate) fn client(
    setup: &Setup,
    i: usize,
    identity: Option<&Identity>,
) -> Result<Client, String> {
    let pin = tessera_net::identity::parse_fingerprint(&setup.fps[i]).map_err(|e| e.to_string())?;
    Client::new(
        &format!("127.0.0.1:{}", setup.api[i]),
        pin,
        identity,
        Duration::from_secs(30),
    )
    .map_err(|e| e.to_string())
}

fn get(c: &Client, path: &str, headers: &[(&str, &str)]) -> Result<(u16, Value), String> {
    let a = c
        .request("GET", path, headers, &[])
        .map_err(|e| e.to_string())?;
    Ok((a.status, a.json()))
}

/// Runs the demo.
pub fn run(args: &DemoArgs) -> Result<(), String> {
    let start_time = Instant::now();
    let dir = fresh_dir(&args.dir)?;
    println!("tessera demo in {}", dir.display());
    let setup = prepare(&dir)?;
    if args.prepare {
        println!(
            "prepared three stations and a researcher; start each station with\n  \
             tessera station serve --config {}/STATION/station.toml\nand submit with\n  \
             tessera study submit {} --profile {}\n(the profile names the stations, their \
             pins and the researcher's identity; the registry is its default)",
            dir.display(),
            setup.study.display(),
            setup.profile.display()
        );
        return Ok(());
    }
    println!(
        "three stations: registry (1,800 patients), gp (1,900 patients), institute (no data);\n\
         each has its own TLS identity, policy and audit log, and runs as its own process"
    );
    let shape = args.network.shape()?;
    if !shape.is_unshaped() {
        println!("simulated between the stations' computations: {shape}");
    }
    let stations = start(&setup, &args.network)?;
    println!("stations serving on https://127.0.0.1:{{{}}}", {
        let p: Vec<String> = setup.api.iter().map(|p| p.to_string()).collect();
        p.join(",")
    });
    let me = Identity::load(&setup.researcher).map_err(|e| e.to_string())?;
    let registry = client(&setup, 0, Some(&me))?;

    // The researcher submits the study to the registry.
    let text = std::fs::read(&setup.study).map_err(|e| e.to_string())?;
    let a = registry
        .request("POST", "/studies", &[], &text)
        .map_err(|e| e.to_string())?;
    let body = a.json();
    if a.status != 201 {
        return Err(format!(
            "the registry did not accept the study ({}): {body}",
            a.status
        ));
    }
    println!(
        "\nthe researcher submits study tessera-demo to the registry: {}",
        crate::decision::from_json(&body["decision"])
    );

    // Follow the approvals and the run at the registry; play the GP's steward.
    let gp_token = std::fs::read_to_string(setup.dir.join("gp").join("steward.token"))
        .map_err(|e| format!("the GP station's steward token: {e}"))?;
    let gp_auth = format!("Bearer {}", gp_token.trim());
    let mut seen = std::collections::BTreeMap::new();
    let mut approved = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, st) = get(&registry, "/studies/tessera-demo", &[])?;
        for v in st["stations"].as_array().into_iter().flatten() {
            let name = v["station"].as_str().unwrap_or("?").to_string();
            let line = format!(
                "{}{}",
                v["state"].as_str().unwrap_or("?"),
                v["reason"]
                    .as_str()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            );
            if seen.get(&name) != Some(&line) && v["state"] != "received" {
                println!("  {name}: {line}");
                seen.insert(name, line);
            }
        }
        let run = st["run"]["state"].as_str().unwrap_or("");
        match run {
            "finished" => break,
            "aborted" | "stopped" => {
                return Err(format!(
                    "the study did not run: {}",
                    st["run"]["reason"].as_str().unwrap_or("no reason given")
                ))
            }
            _ => {}
        }
        let gp = client(&setup, 1, None)?;
        let (_, g) = get(
            &gp,
            "/studies/tessera-demo",
            &[("Authorization", gp_auth.as_str())],
        )?;
        if !approved && g["state"] == "pending" {
            println!(
                "  gp: pending ({})\nthe GP network's steward reads the study and approves it \
                 (tessera station approve tessera-demo)",
                g["reason"].as_str().unwrap_or("waiting for a person")
            );
            let a = gp
                .request(
                    "POST",
                    "/studies/tessera-demo/approve",
                    &[("Authorization", gp_auth.as_str())],
                    br#"{"by": "gp steward (demo)"}"#,
                )
                .map_err(|e| e.to_string())?;
            if a.status != 200 {
                return Err(format!("the GP steward's approval failed: {}", a.text()));
            }
            approved = true;
        }
        if Instant::now() > deadline {
            return Err("the study did not finish within two minutes".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mpc_secs = start_time.elapsed().as_secs_f64();

    // The researcher fetches the shares from the three compute stations and reconstructs.
    let creds = tessera_station::recipient::Credentials {
        identity: Some(&me),
        ..Default::default()
    };
    let fetch_start = Instant::now();
    let fetched = tessera_station::recipient::fetch(
        "tessera-demo",
        &format!("127.0.0.1:{}", setup.api[0]),
        tessera_net::identity::parse_fingerprint(&setup.fps[0]).map_err(|e| e.to_string())?,
        &creds,
        Duration::from_secs(60),
    )?;
    let (output, delivered) = match fetched {
        tessera_station::recipient::Fetched::Results(o, d) => (o, d),
        tessera_station::recipient::Fetched::Answer(name, status, body) => {
            return Err(format!(
                "the results could not be fetched from {name} ({status}): {body}"
            ))
        }
    };
    let fetch_secs = fetch_start.elapsed().as_secs_f64();
    let doc = serde_json::to_value(&*output).map_err(|e| e.to_string())?;
    let bytes: Vec<String> = delivered
        .bytes
        .iter()
        .map(|(s, b)| format!("{s} {:.1} kB", *b as f64 / 1000.0))
        .collect();
    println!(
        "\nthe researcher fetches the shares of the results from the three compute stations \
         with their certificate\n({}; {fetch_secs:.2} s) and reconstructs them: no station \
         ever held a result.\nlinked {} records ({mpc_secs:.1} s since the start); each \
         station's own row count is withheld: the study does not ask for it, and no policy \
         allows it\n",
        bytes.join(", "),
        doc["linkage"]["intersection"],
    );
    let (study, pooled) = pooled(&setup.dir)?;
    compare(&study, &doc, &pooled)?;
    let report = dir.join("report.html");
    std::fs::write(&report, tessera_study::report::html(&output))
        .map_err(|e| format!("cannot write {}: {e}", report.display()))?;

    // What the registry recorded.
    let token = std::fs::read_to_string(setup.dir.join("registry").join("steward.token"))
        .map_err(|e| e.to_string())?;
    let auth = format!("Bearer {}", token.trim());
    let steward = client(&setup, 0, None)?;
    let (_, log) = get(&steward, "/audit", &[("Authorization", auth.as_str())])?;
    // Entry kinds in order, repeats counted ("revealed ×8").
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for e in log["entries"].as_array().into_iter().flatten() {
        let k = e["kind"].as_str().unwrap_or("?").to_string();
        match kinds.last_mut() {
            Some((last, n)) if *last == k => *n += 1,
            _ => kinds.push((k, 1)),
        }
    }
    let kinds: Vec<String> = kinds
        .into_iter()
        .map(|(k, n)| if n > 1 { format!("{k} ×{n}") } else { k })
        .collect();
    let (_, verify) = get(
        &steward,
        "/audit/verify",
        &[("Authorization", auth.as_str())],
    )?;
    println!(
        "\nthe registry's audit log: {}; chain {} ({} entries)",
        kinds.join(", "),
        if verify["intact"] == true {
            "intact"
        } else {
            "TAMPERED"
        },
        verify["entries"]
    );
    drop(stations);
    println!(
        "\nreport: {}\nall done in {:.1} s",
        report.display(),
        start_time.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The pooled plaintext table (what no station may ever hold; here for comparison only),
/// read from the stations' folders as their study declares, with the study.
fn pooled(dir: &Path) -> Result<(tessera_study::Study, PlainFrame), String> {
    let text = std::fs::read_to_string(dir.join("researcher").join("study.toml"))
        .map_err(|e| e.to_string())?
        .replace("file = \"cases\"", "file = \"../registry/registry.csv\"")
        .replace("file = \"records\"", "file = \"../gp/gp.csv\"");
    let study = tessera_study::validate::parse("study.toml", &text, &dir.join("researcher"))
        .map_err(|e| e.to_string())?;
    let tables: Vec<_> = study
        .data
        .iter()
        .map(tessera_study::data::load)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let key = |t: &tessera_study::data::DataTable, i: usize| t.keys[0][i].clone();
    let index: std::collections::HashMap<Option<String>, usize> = (0..tables[1].frame.rows)
        .map(|i| (key(&tables[1], i), i))
        .collect();
    let pairs: Vec<(usize, usize)> = (0..tables[0].frame.rows)
        .filter_map(|i| index.get(&key(&tables[0], i)).map(|&j| (i, j)))
        .collect();
    let mut columns = Vec::new();
    for (t, left) in [(&tables[0], true), (&tables[1], false)] {
        for c in &t.frame.columns {
            let pick = |i: &(usize, usize)| if left { i.0 } else { i.1 };
            let data = match &c.data {
                PlainData::Numeric(v) => {
                    PlainData::Numeric(pairs.iter().map(|p| v[pick(p)]).collect())
                }
                PlainData::Categorical { levels, codes } => PlainData::Categorical {
                    levels: levels.clone(),
                    codes: pairs.iter().map(|p| codes[pick(p)]).collect(),
                },
            };
            columns.push(PlainColumn {
                name: c.name.clone(),
                data,
            });
        }
    }
    let mut frame = PlainFrame::new(columns).map_err(|e| e.to_string())?;
    // The study's `[followup]` columns, by the plaintext twin of their derivation.
    let derived = tessera_stats::followup::derive_plain(&frame, &study.followups)
        .map_err(|e| e.to_string())?;
    frame.columns.extend(derived);
    Ok((study, frame))
}

fn spec<'a>(study: &'a tessera_study::Study, name: &str) -> Option<&'a AnalysisSpec> {
    study
        .analyses
        .iter()
        .find(|a| a.name == name)
        .map(|a| &a.spec)
}

fn result<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["analyses"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == name))
        .map_or(&Value::Null, |a| &a["result"])
}

/// Prints each opened result beside the plaintext computation on the pooled data, and fails
/// if any differs by more than the accuracy tessera promises (1e-4).
fn compare(study: &tessera_study::Study, doc: &Value, pooled: &PlainFrame) -> Result<(), String> {
    let d = &study.disclosure;
    let mut worst = 0f64;
    let mut diff = |a: Option<f64>, b: Option<f64>| {
        if let (Some(a), Some(b)) = (a, b) {
            worst = worst.max((a - b).abs() / b.abs().max(1.0));
        }
    };
    let err = |e: tessera_stats::StatsError| e.to_string();
    if let Some(AnalysisSpec::KaplanMeier(s)) = spec(study, "km_by_statin") {
        let plain = kaplan_meier_plain(pooled, s as &KaplanMeierSpec, d).map_err(err)?;
        println!("Kaplan–Meier survival by statin use      MPC         plaintext");
        let mpc = &result(doc, "km_by_statin")["curves"];
        for (c, pc) in mpc.as_array().into_iter().flatten().zip(&plain.curves) {
            for (r, pr) in c["rows"].as_array().into_iter().flatten().zip(&pc.rows) {
                diff(r["survival"].as_f64(), pr.survival);
                println!(
                    "  statin = {}, day {:>5}                {:>10}  {:>10}",
                    c["group"].as_str().unwrap_or("?"),
                    pr.time,
                    r["survival"]
                        .as_f64()
                        .map_or("suppressed".into(), |v| format!("{v:.6}")),
                    pr.survival
                        .map_or("suppressed".into(), |v| format!("{v:.6}"))
                );
            }
        }
    }
    if let Some(AnalysisSpec::Logrank(s)) = spec(study, "logrank_by_statin") {
        let plain = logrank_plain(pooled, s as &LogrankSpec, d).map_err(err)?;
        let r = result(doc, "logrank_by_statin");
        diff(r["chi_square"].as_f64(), Some(plain.chi_square));
        println!(
            "\nlog-rank test by statin use: chi-square  {:>10.6}  {:>10.6}  (p = {:.3e})",
            r["chi_square"].as_f64().unwrap_or(f64::NAN),
            plain.chi_square,
            plain.p
        );
    }
    if let Some(AnalysisSpec::Cox(s)) = spec(study, "cox") {
        let plain = cox_plain(pooled, s as &CoxSpec, d).map_err(err)?;
        println!("\nCox regression (Efron), hazard ratios     MPC         plaintext");
        let rows = result(doc, "cox")["rows"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (r, pr) in rows.iter().zip(&plain.rows) {
            diff(r["coef"].as_f64(), Some(pr.coef));
            println!(
                "  {:<32} {:>10.6}  {:>10.6}",
                pr.covariate,
                r["exp_coef"].as_f64().unwrap_or(f64::NAN),
                pr.exp_coef
            );
        }
    }
    if let Some(AnalysisSpec::Logistic(s)) = spec(study, "diabetes") {
        let plain = regression_plain::logistic(pooled, s as &LogisticSpec).map_err(err)?;
        println!("\nlogistic regression of diabetes, coef     MPC         plaintext");
        let rows = result(doc, "diabetes")["coefficients"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (r, pr) in rows.iter().zip(&plain.coefficients) {
            diff(r["coef"].as_f64(), Some(pr.coef));
            println!(
                "  {:<32} {:>10.6}  {:>10.6}",
                pr.name,
                r["coef"].as_f64().unwrap_or(f64::NAN),
                pr.coef
            );
        }
    }
    if worst > 1e-4 {
        return Err(format!(
            "MPC and plaintext results differ by {worst:.2e} (more than 1e-4)"
        ));
    }
    println!("\nlargest difference between MPC and plaintext: {worst:.1e}");
    Ok(())
}
