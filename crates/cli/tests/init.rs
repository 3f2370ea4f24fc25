//! `tessera init` as a user runs it: files, permissions, the printed fingerprint, and the
//! refusal to overwrite an identity.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tessera_net::identity::{fingerprint, fingerprint_hex, load_certificate, Identity};

const EXE: &str = env!("CARGO_BIN_EXE_tessera");

/// A fresh folder path (not created) under the system's temporary folder.
fn scratch(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir =
        std::env::temp_dir().join(format!("tessera-init-{tag}-{}-{nanos}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn init(name: &str, out: &Path) -> Output {
    Command::new(EXE)
        .args(["init", "--name", name, "--out"])
        .arg(out)
        .output()
        .expect("run tessera")
}

/// The fingerprint line of the output (`sha256:` and 64 hex digits), without its prefix.
fn printed_fingerprint(stdout: &str) -> String {
    let found: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("sha256:"))
        .filter(|l| l.len() == 64 && l.chars().all(|c| c.is_ascii_hexdigit()))
        .collect();
    assert_eq!(found.len(), 1, "{stdout}");
    found[0].to_string()
}

#[test]
fn init_creates_a_private_key_and_a_certificate() {
    let dir = scratch("new").join("station");
    let out = init("cancer_registry", &dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = dir.join("station.key");
    let crt = dir.join("station.crt");
    assert!(stdout.contains(&key.display().to_string()), "{stdout}");
    assert!(stdout.contains(&crt.display().to_string()), "{stdout}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "key mode {mode:o}");
    }
    // The printed fingerprint is the SHA-256 of the certificate written.
    let fp = printed_fingerprint(&stdout);
    assert_eq!(
        fp,
        fingerprint_hex(&fingerprint(&load_certificate(&crt).unwrap()))
    );
    assert!(fs::read_to_string(&crt)
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(fs::read_to_string(&key)
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    // The files load back as a matching identity.
    let id = Identity::load(&dir).unwrap();
    assert_eq!(fingerprint_hex(&id.fingerprint()), fp);

    // Running again refuses, names the file, and changes nothing.
    let before = fs::read(&key).unwrap();
    let again = init("cancer_registry", &dir);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert!(stderr.contains("station.key"), "{stderr}");
    assert_eq!(fs::read(&key).unwrap(), before);
    fs::remove_dir_all(dir.parent().unwrap()).unwrap();
}

#[test]
fn init_refuses_a_bad_name_or_folder() {
    let dir = scratch("bad");
    let out = init("", &dir);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("a-z, 0-9 and _"));
    assert!(!dir.exists(), "nothing created for a refused name");
    // Issue 15: `init --help` suggested "Cancer Registry", which station.toml then refused
    // as a station name; init says so at once, with a name it would take.
    let out = init("Cancer Registry", &dir);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"cancer_registry\""), "{stderr}");
    assert!(!dir.exists(), "nothing created for a refused name");
    let help = Command::new(EXE).args(["init", "--help"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains("Cancer Registry"));
    // A folder that cannot be created: its parent is a file.
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("file");
    fs::write(&file, b"x").unwrap();
    let out = init("x", &file.join("sub"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("file"), "{stderr}");
    fs::remove_dir_all(&dir).unwrap();
}

/// Issue 15: the fingerprint is printed as every file and option takes it (`sha256:…`), and
/// `--show DIR` prints it again without touching the identity.
#[test]
fn init_prints_the_fingerprint_as_files_take_it_and_shows_it_again() {
    let dir = scratch("show").join("station");
    let out = init("registry", &dir);
    assert!(out.status.success());
    let fp = printed_fingerprint(&String::from_utf8_lossy(&out.stdout));
    let key_before = fs::read(dir.join("station.key")).unwrap();
    let shown = Command::new(EXE)
        .args(["init", "--show"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{stdout}");
    assert_eq!(printed_fingerprint(&stdout), fp);
    assert!(stdout.contains(&format!("sha256:{fp}")), "{stdout}");
    assert_eq!(fs::read(dir.join("station.key")).unwrap(), key_before);
    // The printed form parses wherever a fingerprint is read.
    tessera_net::identity::parse_fingerprint(&format!("sha256:{fp}")).unwrap();
    // --show of a folder without an identity names it.
    let none = Command::new(EXE)
        .args(["init", "--show"])
        .arg(dir.join("nothing"))
        .output()
        .unwrap();
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("nothing"));
    fs::remove_dir_all(dir.parent().unwrap()).unwrap();
}
