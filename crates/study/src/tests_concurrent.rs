//! The analyses of a study run side by side give exactly what running them one after the
//! other gives, and fewer rounds.

use std::path::PathBuf;
use std::time::Duration;

use tessera_mpc::testing::seeded_party;
use tessera_net::memory;

use crate::run::StudyOutput;
use crate::run::{
    load_data, party_main, prepare_inputs, run_analyses_with, station_shares, AnalysisRun, PartyRun,
};

/// The example study (seven analyses after the linkage) at one concurrency, on parties
/// with fixed PRF seeds, opened as a recipient would; and each party's total rounds.
fn example_at(concurrency: usize) -> (StudyOutput, Vec<u64>) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let study = crate::load(&root.join("examples/survival/study.toml")).unwrap();
    let tables = load_data(&study).unwrap();
    let (inputs, _) = prepare_inputs(&study, &tables).unwrap();
    let after = |p: &mut tessera_mpc::Party, f: &tessera_stats::Frame| {
        run_analyses_with(&study, p, f, None, concurrency)
    };
    let runs: Vec<PartyRun<Vec<AnalysisRun>>> = std::thread::scope(|s| {
        let hs: Vec<_> = memory::connect(Duration::from_secs(120))
            .into_iter()
            .map(|ep| {
                let (study, inputs, after) = (&study, &inputs, &after);
                s.spawn(move || {
                    let mut p = seeded_party(ep, 19);
                    party_main(study, inputs, &mut p, after, None).unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let rounds = runs.iter().map(|r| r.total.rounds).collect();
    let parts = runs
        .iter()
        .enumerate()
        .map(|(slot, r)| station_shares(&study, slot, r))
        .collect();
    (crate::deliver::open(parts).unwrap(), rounds)
}

#[test]
fn concurrent_analyses_equal_sequential_exactly() {
    let (seq, seq_rounds) = example_at(1);
    let (par, par_rounds) = example_at(crate::run::CONCURRENT_ANALYSES);
    assert_eq!(seq.analyses.len(), 7);
    for (a, b) in seq.analyses.iter().zip(&par.analyses) {
        assert_eq!(a.name, b.name);
        assert!(a.error.is_none(), "{}: {:?}", a.name, a.error);
        assert_eq!(a.result, b.result, "{}", a.name);
        assert_eq!(a.text, b.text, "{}", a.name);
        assert_eq!(a.error, b.error, "{}", a.name);
    }
    assert_eq!(
        serde_json::to_string(&seq.linkage).unwrap(),
        serde_json::to_string(&par.linkage).unwrap()
    );
    let (s, p) = (seq_rounds[0], par_rounds[0]);
    assert!(p * 2 < s, "concurrent {p} rounds, sequential {s}");
}
