//! Fixtures shared by the integration tests: a folder per test, a station configuration
//! for the cancer registry, and a study it takes part in.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use tessera_station::config::{self, Config};
use tessera_study::Study;

pub const GP_FP: &str = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
pub const RESEARCHER_FP: &str =
    "sha256:ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

/// A fresh folder for one test, with the files configurations and studies name.
pub fn folder(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-station-it-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["registry.key", "registry.crt", "registry.csv", "gp.csv"] {
        std::fs::write(dir.join(f), "").unwrap();
    }
    dir
}

/// The registry's configuration; `policy` is the `[policy]` section and what follows.
pub fn station_toml(policy: &str) -> String {
    format!(
        r#"[station]
name = "registry"
identity = {{ key = "registry.key", certificate = "registry.crt" }}
listen = "127.0.0.1:7000"

[compute]
listen = "127.0.0.1:7100-7109"
address = "127.0.0.1"

[[trusted]]
name = "gp"
address = "gp.example.org:7000"
fingerprint = "{GP_FP}"

[[trusted]]
name = "institute"
address = "institute.example.org:7000"
fingerprint = "sha256:{}"

[sources.cases]
kind = "csv"
file = "registry.csv"
columns = {{ patient_id = "key", time = "numeric", event = "binary", age = "numeric", stage = "categorical", postcode = "categorical" }}

{policy}
"#,
        "ab".repeat(32)
    )
}

/// A policy that allows the standard study, with no automatic rule.
pub const POLICY: &str = r#"[policy]
analyses = ["kaplan_meier", "logrank", "cox"]
disallowed_columns = ["postcode"]
recipients = ["researcher"]
min_rows = 50
min_cell = 10
min_level_rows = 5
"#;

pub fn station(dir: &Path, policy: &str) -> Config {
    config::parse("station.toml", &station_toml(policy), dir).unwrap()
}

/// The standard study: registry (KM, log-rank, a Cox model on 3 covariates) linked with
/// the GP network, one recipient.
pub const STUDY: &str = r#"[study]
id = "survival-2026"
title = "Survival by stage"

[parties.registry]
compute = 0
[parties.gp]
compute = 1
[parties.institute]
compute = 2

[data.registry]
file = "registry.csv"
key = ["patient_id"]
[data.registry.columns]
time = "numeric"
event = "binary"
age = "numeric"
stage = { type = "categorical", levels = ["1", "2", "3", "4"] }

[data.gp]
file = "gp.csv"
key = ["patient_id"]
[data.gp.columns]
smoker = "binary"

[linkage]
key = [{ name = "patient_id" }]

[disclosure]
min_rows = 100
min_cell = 10
min_level_rows = 5

[recipients.researcher]

[[analysis]]
name = "km"
kind = "kaplan_meier"
time = "registry.time"
event = "registry.event"
group = "registry.stage"

[[analysis]]
name = "cox"
kind = "cox"
time = "registry.time"
event = "registry.event"
covariates = ["registry.age", "registry.stage", "gp.smoker"]
"#;

pub fn study(dir: &Path, text: &str) -> Study {
    tessera_study::validate::parse("study.toml", text, dir).unwrap()
}
