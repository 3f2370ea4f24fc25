//! Cox regression between organisations (issue 19): in few-rounds mode
//! (`Party::few_rounds`) a fit of 1,700 synthetic rows and 10 covariates (Efron ties) takes
//! fewer rounds than a bound set from the measurement, so that a change which adds rounds
//! fails here, and it still equals its plaintext twin.

mod common;

use common::{in_mpc, no_limits};
use tessera_stats::analysis::{CoxSpec, Ties};
use tessera_stats::survival::cox::{cox, cox_plain};
use tessera_stats::survival::synthetic;

/// Rounds measured after issue 19's second pass at 1,700 × 10 (few-rounds mode, Efron: 514), plus a
/// margin of a few rounds for the sort's data-dependent pass count.
const FEW_ROUNDS_BOUND: u64 = 530;

fn spec(ties: Ties) -> CoxSpec {
    CoxSpec {
        entry: None,
        time: "registry.time".into(),
        event: "registry.event".into(),
        covariates: (1..=10).map(|j| format!("gp.x{j}")).collect(),
        ties,
        max_steps: 50,
        conf_level: 0.95,
        strata: None,
        robust: false,
        zph: None,
        cluster: None,
        concordance: false,
    }
}

/// Rounds of the fit (the slowest party) and the opened result.
fn fit(
    frame: &tessera_stats::PlainFrame,
    spec: &CoxSpec,
    few: bool,
) -> (u64, tessera_stats::survival::cox::CoxResult) {
    let rounds = std::sync::Mutex::new(0u64);
    let res = in_mpc(frame, |p, fr| {
        p.set_few_rounds(few);
        let before = p.stats();
        let out = cox(p, fr, spec, &no_limits());
        let r = p.stats().since(&before).rounds;
        let mut g = rounds.lock().unwrap();
        *g = (*g).max(r);
        out
    })
    .expect("fitted");
    (rounds.into_inner().unwrap(), res)
}

#[test]
fn cox_in_few_rounds_mode_stays_below_its_round_bound() {
    let frame = synthetic::survival(1_700, 10, 7);
    for ties in [Ties::Efron, Ties::Breslow] {
        let spec = spec(ties);
        let twin = cox_plain(&frame, &spec, &no_limits()).unwrap();
        let (rounds, ours) = fit(&frame, &spec, true);
        eprintln!("{ties:?}: {rounds} rounds, {} iterations", ours.iterations);
        for (a, b) in ours.rows.iter().zip(&twin.rows) {
            assert!(
                (a.coef - b.coef).abs() < 1e-4,
                "{ties:?} coef {} vs {}",
                a.coef,
                b.coef
            );
            assert!(
                (a.se - b.se).abs() < 1e-3 * b.se,
                "{ties:?} se {} vs {}",
                a.se,
                b.se
            );
        }
        if ties == Ties::Efron {
            assert!(
                rounds <= FEW_ROUNDS_BOUND,
                "Cox (Efron) at 1,700 x 10 in few-rounds mode: {rounds} rounds, bound {FEW_ROUNDS_BOUND}"
            );
        }
    }
}
