//! Issue 15: a linkage that matches nothing said, for every analysis, `min_rows: 0 rows`;
//! now each analysis says that no records were linked and points at the key's
//! normalisation. The same study with the normalisation that matches links and computes.

use std::path::PathBuf;

use tessera_study::run::{run_local, RunOptions, NOTHING_LINKED};

fn folder(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-linkage-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn study(dir: &std::path::Path, normalise: &str) -> tessera_study::Study {
    // The registry writes keys in capitals, the GP in lower case.
    let mut reg = String::from("id,age\n");
    let mut gp = String::from("id,bmi\n");
    for i in 0..60 {
        reg += &format!("P{i:03},{}\n", 40 + i % 30);
        gp += &format!("p{i:03},{}\n", 20 + (i % 15));
    }
    std::fs::write(dir.join("registry.csv"), reg).unwrap();
    std::fs::write(dir.join("gp.csv"), gp).unwrap();
    let text = format!(
        r#"[study]
id = "keys"
[parties.registry]
compute = 0
[parties.gp]
compute = 1
[parties.institute]
compute = 2
[data.registry]
file = "registry.csv"
key = ["id"]
[data.registry.columns]
age = "numeric"
[data.gp]
file = "gp.csv"
key = ["id"]
[data.gp.columns]
bmi = "numeric"
[linkage]
key = [{{ name = "id", normalise = [{normalise}] }}]
[disclosure]
min_cell = 5
min_rows = 10
[recipients.r]
[[analysis]]
name = "ages"
kind = "describe"
columns = ["registry.age", "gp.bmi"]
"#
    );
    let p = dir.join("study.toml");
    std::fs::write(&p, text).unwrap();
    tessera_study::load(&p).unwrap()
}

#[test]
fn a_linkage_that_matches_nothing_says_so_and_points_at_the_normalisation() {
    let dir = folder("none");
    let out = run_local(&study(&dir, r#""trim""#), &RunOptions::default()).unwrap();
    assert_eq!(out.analyses.len(), 1);
    let e = out.analyses[0].error.as_deref().unwrap();
    assert_eq!(e, NOTHING_LINKED);
    assert!(e.contains("casefold"), "{e}");

    let out = run_local(
        &study(&dir, r#""trim", "casefold""#),
        &RunOptions::default(),
    )
    .unwrap();
    assert!(
        out.analyses[0].error.is_none(),
        "{:?}",
        out.analyses[0].error
    );
}
