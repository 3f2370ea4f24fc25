//! `tessera demo`: three station services as processes over HTTPS and TLS, a study
//! submitted, approved by rule and by a person, run, its results fetched by the researcher
//! beside plaintext, the audit log shown intact, a report.

use std::process::Command;

const EXE: &str = env!("CARGO_BIN_EXE_tessera");

#[test]
fn the_demo_runs_three_stations_and_agrees_with_plaintext() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir =
        std::env::temp_dir().join(format!("tessera-demo-test-{}-{nanos}", std::process::id()));
    let out = Command::new(EXE)
        .args(["demo", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The demo itself fails when MPC and plaintext differ by more than 1e-4.
    assert!(text.contains("approved by rule"), "{text}");
    assert!(text.contains("gp: pending"), "{text}");
    assert!(
        text.contains("steward reads the study and approves it"),
        "{text}"
    );
    // The researcher learns the linked size, not each station's row count.
    assert!(
        text.contains("linked 1700 records") && text.contains("row count is withheld"),
        "{text}"
    );
    assert!(
        text.contains("study_received, approved, run_started, run_finished, revealed")
            && text.contains("chain intact"),
        "{text}"
    );
    assert!(
        text.contains("largest difference between MPC and plaintext"),
        "{text}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("km_by_statin"));
    // Each station keeps its own identity; the data stations their own data only.
    assert!(dir.join("registry/identity/station.key").is_file());
    assert!(dir.join("researcher/identity/station.crt").is_file());
    assert!(dir.join("gp/audit.sqlite").is_file() && dir.join("gp/station.toml").is_file());
    assert!(dir.join("registry/registry.csv").is_file() && !dir.join("registry/gp.csv").exists());
    assert!(!dir.join("institute").join("registry.csv").exists());
    // A non-empty folder is refused.
    let again = Command::new(EXE)
        .args(["demo", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!again.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
