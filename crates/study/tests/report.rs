//! The example study's HTML report opened in headless Chromium: a screenshot of the expected
//! size that is not blank and shows the plot's colours (checked by Chromium itself, drawing
//! the PNG on a canvas), and the page as parsed by the browser (`--dump-dom`) holding the
//! curves, the number at risk, the forest plots and the tables the results call for; and
//! printed to PDF.
//!
//! Chromium comes from `scripts/chromium.sh` (run by `scripts/test.sh`), found through
//! `TESSERA_CHROMIUM` or on PATH. Without it the test fails under CI (`CI` set) and is
//! skipped, with a note, elsewhere.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tessera_study::run::{run_local, RunOptions};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 2400;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Chromium's path, or `None` (skip) outside CI; under CI its absence fails the test.
fn chromium() -> Option<PathBuf> {
    let named = std::env::var_os("TESSERA_CHROMIUM").map(PathBuf::from);
    let found = named.filter(|p| p.is_file()).or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
                .find(|p| p.is_file())
        })
    });
    if found.is_none() {
        let msg = "headless Chromium not found (TESSERA_CHROMIUM or chromium on PATH): \
                   run scripts/chromium.sh, or scripts/test.sh, which installs it";
        if std::env::var_os("CI").is_some() {
            panic!("{msg}");
        }
        eprintln!("skipped: {msg}");
    }
    found
}

/// Runs Chromium headless on `url` with `args`, within two minutes; its standard output.
fn run_chromium(bin: &Path, profile: &Path, args: &[&str], url: &str) -> String {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium {args:?} exited with {status}");
            break;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("chromium {args:?} did not finish within two minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().unwrap()
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// A page that draws the screenshot on a canvas and writes what it sees as JSON: the share
/// of non-white pixels, the number of distinct colours, whether the first two curve
/// colours occur, and which tenths of the page's height hold ink.
fn checker(png: &[u8]) -> String {
    format!(
        r#"<!DOCTYPE html><html><body><pre id="out">pending</pre><script>
const img = new Image();
img.onload = () => {{
  const c = document.createElement('canvas');
  c.width = img.width; c.height = img.height;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let ink = 0; const colours = new Set(); const bands = new Array(10).fill(0);
  const near = (i, r, gg, b) => Math.abs(d[i]-r) < 24 && Math.abs(d[i+1]-gg) < 24 && Math.abs(d[i+2]-b) < 24;
  let blue = 0, orange = 0;
  for (let i = 0; i < d.length; i += 4) {{
    const white = d[i] > 245 && d[i+1] > 245 && d[i+2] > 245;
    if (!white) {{ ink++; bands[Math.floor(((i/4) / c.width) * 10 / c.height)]++; }}
    if (colours.size < 5000) colours.add((d[i] << 16) | (d[i+1] << 8) | d[i+2]);
    if (near(i, 0, 114, 178)) blue++;
    if (near(i, 213, 94, 0)) orange++;
  }}
  document.getElementById('out').textContent = JSON.stringify({{
    width: c.width, height: c.height, ink: ink / (c.width * c.height),
    colours: colours.size, blue, orange, bands }});
}};
img.onerror = () => {{ document.getElementById('out').textContent = '{{"error": "not a PNG"}}'; }};
img.src = 'data:image/png;base64,{}';
</script></body></html>"#,
        base64(png)
    )
}

#[test]
fn the_example_report_renders_in_headless_chromium() {
    let Some(bin) = chromium() else { return };
    let dir = std::env::temp_dir().join(format!("tessera-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let study = tessera_study::load(&root().join("examples/survival/study.toml")).unwrap();
    let out = run_local(&study, &RunOptions::default()).unwrap();
    let page = dir.join("report.html");
    std::fs::write(&page, tessera_study::report::html(&out)).unwrap();
    let url = format!("file://{}", page.display());
    let profile = dir.join("profile");

    // The screenshot: a PNG of the window's size, not blank, with the curves' colours.
    let shot = dir.join("report.png");
    run_chromium(
        &bin,
        &profile,
        &[
            &format!("--window-size={WIDTH},{HEIGHT}"),
            &format!("--screenshot={}", shot.display()),
        ],
        &url,
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG file");
    assert_eq!(&png[12..16], b"IHDR");
    let dim = |i: usize| u32::from_be_bytes(png[i..i + 4].try_into().unwrap());
    assert_eq!((dim(16), dim(20)), (WIDTH, HEIGHT), "the window's size");
    let check = dir.join("check.html");
    std::fs::write(&check, checker(&png)).unwrap();
    let dom = run_chromium(
        &bin,
        &profile,
        &["--dump-dom", "--virtual-time-budget=10000"],
        &format!("file://{}", check.display()),
    );
    let json = dom
        .split("<pre id=\"out\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or("");
    let seen: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {dom}"));
    eprintln!("screenshot {}: {seen}", shot.display());
    assert_eq!(seen["width"], WIDTH, "{seen}");
    let ink = seen["ink"].as_f64().unwrap();
    assert!((0.01..0.6).contains(&ink), "not blank, not all ink: {seen}");
    assert!(
        seen["colours"].as_u64().unwrap() > 20,
        "more than text: {seen}"
    );
    assert!(
        seen["blue"].as_u64().unwrap() > 50 && seen["orange"].as_u64().unwrap() > 50,
        "the curves' colours: {seen}"
    );
    let bands: Vec<u64> = seen["bands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap())
        .collect();
    assert!(
        bands.iter().filter(|b| **b > 0).count() >= 8,
        "content down the page: {seen}"
    );

    // The page as the browser parsed it.
    let dom = run_chromium(&bin, &profile, &["--dump-dom"], &url);
    assert!(dom.contains("<svg class=\"curves\""), "{dom}");
    let km = out
        .analyses
        .iter()
        .find(|a| a.kind == "kaplan_meier")
        .unwrap();
    let km = km.result.as_ref().unwrap();
    let curves = km["curves"].as_array().unwrap();
    let shown: usize = curves
        .iter()
        .map(|c| {
            c["rows"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["shown"] == true)
                .count()
        })
        .sum();
    let grid = curves[0]["rows"].as_array().unwrap().len();
    // The example opens a grid only: points with intervals, no steps.
    assert_eq!(dom.matches("class=\"point\"").count(), shown);
    assert_eq!(dom.matches("class=\"interval\"").count(), shown);
    assert_eq!(dom.matches("class=\"step\"").count(), 0);
    assert_eq!(
        dom.matches("class=\"at-risk\"").count(),
        curves.len() * grid
    );
    assert!(dom.contains("Number at risk") && dom.contains("log-rank p &lt; 0.0001"));
    assert!(
        dom.contains(">time (days)</text>"),
        "the axis with the study's time unit"
    );
    let cox = out.analyses.iter().find(|a| a.kind == "cox").unwrap();
    let covariates = cox.result.as_ref().unwrap()["rows"]
        .as_array()
        .unwrap()
        .len();
    let logistic = out.analyses.iter().find(|a| a.kind == "logistic").unwrap();
    let terms = logistic.result.as_ref().unwrap()["coefficients"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(dom.matches("<svg class=\"forest\"").count(), 2);
    assert_eq!(
        dom.matches("class=\"estimate\"").count(),
        covariates + terms - 1,
        "one mark per hazard ratio and per odds ratio (not the intercept)"
    );
    assert!(dom.matches("<table>").count() >= 10 && !dom.contains("<pre"));
    // The Cox model's proportional-hazards test (`zph = "km"`): a table with a row per term
    // and the global test.
    assert!(dom.contains("<h4>Proportional hazards</h4>") && dom.contains("<td>GLOBAL</td>"));
    assert!(dom.contains("<th>Overall</th>") && dom.contains("median [Q1, Q3]"));

    // Printed (the print stylesheet): a PDF of more than one page's worth of content.
    let pdf = dir.join("report.pdf");
    run_chromium(
        &bin,
        &profile,
        &[
            "--no-pdf-header-footer",
            &format!("--print-to-pdf={}", pdf.display()),
        ],
        &url,
    );
    let pdf = std::fs::read(&pdf).expect("a PDF");
    assert!(
        pdf.starts_with(b"%PDF-") && pdf.len() > 10_000,
        "{} bytes",
        pdf.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
