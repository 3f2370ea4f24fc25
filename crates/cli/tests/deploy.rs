//! docs/deploy.md, run literally: every `sh` block whose first line says on which machine
//! it runs (`# on the registry`, `# on the gp`, `# on the institute`, `# as the researcher`)
//! is run in order by `bash -eu` in that machine's folder, with the built `tessera` first on
//! `PATH`. Only what must differ when four machines are one is changed: the stations'
//! folders, host names and ports (free loopback ports), and the fingerprints the doc's
//! section 3 exchanges by hand (`FP_*`, set from what `tessera init` printed). A block that
//! is only `tessera station serve …` is (re)started in the background. The researcher must
//! get the results; every station process is killed on every exit path.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EXE: &str = env!("CARGO_BIN_EXE_tessera");
const STATIONS: [&str; 3] = ["registry", "gp", "institute"];

/// The machine a block runs on, from its first line.
fn machine(first: &str) -> Option<&'static str> {
    match first.trim() {
        "# on the registry" => Some("registry"),
        "# on the gp" => Some("gp"),
        "# on the institute" => Some("institute"),
        "# as the researcher" => Some("researcher"),
        _ => None,
    }
}

/// The `sh` blocks of the doc that name a machine, in order.
fn blocks(doc: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(l) = lines.next() {
        if !l.starts_with("```") {
            continue;
        }
        let sh = l.trim_start_matches('`').trim() == "sh";
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|b| !b.starts_with("```"))
            .collect();
        if let (true, Some(m)) = (sh, body.first().and_then(|f| machine(f))) {
            out.push((m, body.join("\n") + "\n"));
        }
    }
    out
}

/// Background station processes, killed when dropped (also when the test panics).
struct Serving(BTreeMap<&'static str, Child>);

impl Serving {
    fn stop(&mut self, m: &str) {
        if let Some(mut c) = self.0.remove(m) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let names: Vec<&'static str> = self.0.keys().copied().collect();
        for m in names {
            self.stop(m);
        }
    }
}

/// `n` consecutive free loopback ports (bound and released).
fn free_range(n: u16) -> (u16, u16) {
    for _ in 0..200 {
        let first = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if first > 65535 - n {
            continue;
        }
        let held: Vec<_> = (first..first + n)
            .map(|p| TcpListener::bind(("127.0.0.1", p)))
            .collect();
        if held.iter().all(Result::is_ok) {
            return (first, first + n - 1);
        }
    }
    panic!("no {n} consecutive free loopback ports");
}

struct World {
    root: PathBuf,
    api: BTreeMap<&'static str, u16>,
    mpc: BTreeMap<&'static str, (u16, u16)>,
    fps: BTreeMap<String, String>,
    path: String,
}

impl World {
    fn home(&self, m: &str) -> PathBuf {
        self.root.join(m).join("home")
    }

    /// The block as it runs on machine `m` when all machines are one.
    fn localise(&self, m: &str, text: &str) -> String {
        let here = self.root.join(m);
        let mut t = text
            .replace("/etc/tessera", &format!("{}/etc/tessera", here.display()))
            .replace(
                "/var/lib/tessera",
                &format!("{}/var/lib/tessera", here.display()),
            );
        for s in STATIONS {
            t = t
                .replace(
                    &format!("{s}.example.org:7000"),
                    &format!("127.0.0.1:{}", self.api[s]),
                )
                .replace(&format!("{s}.example.org"), "127.0.0.1");
        }
        if let (Some(api), Some((lo, hi))) = (self.api.get(m), self.mpc.get(m)) {
            t = t
                .replace("0.0.0.0:7000", &format!("127.0.0.1:{api}"))
                .replace("0.0.0.0:7100-7109", &format!("127.0.0.1:{lo}-{hi}"));
        }
        t
    }

    fn command(&self, m: &str, script: &str) -> Command {
        let mut c = Command::new("bash");
        c.args(["-euo", "pipefail", "-c", script])
            .current_dir(self.home(m))
            .env("HOME", self.home(m))
            .env("PATH", &self.path)
            .env_remove("TESSERA_TEST_PG_URL");
        for (k, v) in &self.fps {
            c.env(k, v);
        }
        c
    }

    /// Runs a block; a failing one is tried again for a few seconds (a study reaches the
    /// other stations a moment after its submission). Returns its standard output.
    fn run(&mut self, m: &str, text: &str) -> String {
        let script = self.localise(m, text);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = self.command(m, &script).output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            let stderr = String::from_utf8_lossy(&out.stderr).to_string();
            if out.status.success() {
                println!("--- on {m}:\n{script}{stdout}{stderr}");
                self.capture(m, &stdout);
                return stdout;
            }
            assert!(
                Instant::now() < deadline,
                "the doc's block on {m} failed ({}):\n{script}\nstdout:\n{stdout}\nstderr:\n{stderr}",
                out.status
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// The fingerprint `tessera init` printed on machine `m` (section 3's exchange).
    fn capture(&mut self, m: &str, stdout: &str) {
        let mut lines = stdout.lines();
        while let Some(l) = lines.next() {
            if l.contains("for the other stations to list:") {
                if let Some(fp) = lines.next() {
                    let fp = fp.trim();
                    assert!(fp.starts_with("sha256:") && fp.len() == 71, "{fp}");
                    self.fps
                        .insert(format!("FP_{}", m.to_uppercase()), fp.to_string());
                }
            }
        }
    }

    /// Starts a station in the background and waits until it serves.
    fn serve(&self, m: &str, text: &str) -> Child {
        let line = self.localise(m, text.lines().nth(1).unwrap());
        let log = self.root.join(m).join("serve.log");
        let mut child = self
            .command(m, &format!("exec {line}"))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.contains("serving its API") => break,
                Some(Ok(_)) => continue,
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "station {m} did not start ({line}):\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
            }
        }
        // Keep reading its standard output so the station never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        child
    }
}

#[test]
fn docs_deploy_md_runs_as_written() {
    let started = Instant::now();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(repo.join("docs/deploy.md")).unwrap();
    for needed in [
        "/etc/tessera",
        "/var/lib/tessera",
        "0.0.0.0:7000",
        "0.0.0.0:7100-7109",
        "registry.example.org:7000",
    ] {
        assert!(
            doc.contains(needed),
            "docs/deploy.md no longer says {needed}"
        );
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let root = std::env::temp_dir().join(format!(
        "tessera-deploy-test-{}-{nanos}",
        std::process::id()
    ));
    let mut api = BTreeMap::new();
    let mut mpc = BTreeMap::new();
    for s in STATIONS {
        api.insert(s, free_range(1).0);
        mpc.insert(s, free_range(10));
    }
    let bin = Path::new(EXE).parent().unwrap();
    let mut world = World {
        root: root.clone(),
        api,
        mpc,
        fps: BTreeMap::new(),
        path: format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    };
    for m in ["registry", "gp", "institute", "researcher"] {
        let home = world.home(m);
        std::fs::create_dir_all(&home).unwrap();
        std::os::unix::fs::symlink(repo.canonicalize().unwrap(), home.join("tessera")).unwrap();
    }

    let mut serving = Serving(BTreeMap::new());
    let mut outputs: Vec<(&'static str, String, String)> = Vec::new();
    let blocks = blocks(&doc);
    assert!(blocks.len() >= 20, "only {} blocks to run", blocks.len());
    for (m, text) in &blocks {
        let commands: Vec<&str> = text
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .collect();
        if commands.len() == 1 && commands[0].starts_with("tessera station serve") {
            serving.stop(m);
            let child = world.serve(m, text);
            serving.0.insert(m, child);
            continue;
        }
        let out = world.run(m, text);
        outputs.push((m, text.clone(), out));
    }

    let said = |m: &str, command: &str| -> Vec<String> {
        outputs
            .iter()
            .filter(|(on, text, _)| *on == m && text.contains(command))
            .map(|(_, _, out)| out.clone())
            .collect()
    };
    // Every station read its data (the institute has none).
    for (s, source) in [("registry", "source cases"), ("gp", "source records")] {
        let checked = said(s, "tessera station check");
        assert!(
            checked
                .iter()
                .any(|o| o.contains(source) && o.contains("ok, ")),
            "{s}: {checked:?}"
        );
    }
    // The GP's steward saw the study waiting and approved it.
    let gp = said("gp", "tessera station pending").concat();
    assert!(gp.contains("statin-survival-2026"), "{gp}");
    // The researcher got the results.
    let results = said("researcher", "tessera study results").concat();
    for part in ["km_by_statin", "logrank_by_statin", "cox"] {
        assert!(
            results.contains(part),
            "no {part} in the results:\n{results}"
        );
    }
    assert!(root.join("researcher/home/report.html").is_file());
    // The registry's audit log verifies intact, before and after the rotation.
    let verified = said("registry", "tessera station audit verify");
    assert!(verified.len() >= 2, "{verified:?}");
    for v in &verified {
        assert!(v.contains(": intact"), "{v}");
        assert!(
            v.contains("gp: keeps") && v.contains("institute: keeps"),
            "{v}"
        );
    }
    assert!(root
        .join("registry/var/lib/tessera/backup/audit.sqlite")
        .is_file());
    drop(serving);
    println!(
        "docs/deploy.md ran in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&root);
}
