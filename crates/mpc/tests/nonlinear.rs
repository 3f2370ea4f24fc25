//! Numeric functions: the error over each documented valid range is measured and checked
//! against the bounds in `src/nonlinear.rs` (run with `--nocapture` to see the figures).

use proptest::prelude::*;
use tessera_mpc::fixed::{decode_vec, encode_vec};
use tessera_mpc::testing::run3_ok;
use tessera_mpc::{AShare, Party, Result};

type Op = fn(&mut Party, &AShare<u128>) -> Result<AShare<u128>>;

const ULP: f64 = 1.0 / (1u64 << 24) as f64;

/// Runs `op` on `xs` (input by party 1) and returns the opened results.
fn eval(op: Op, xs: &[f64]) -> Vec<f64> {
    let [r, _, _] = run3_ok(|p| {
        let f = p.frac_bits();
        let enc = encode_vec::<u128>(xs, f);
        let sx = p.share_input(1, (p.id() == 1).then_some(enc.as_slice()), xs.len())?;
        let y = op(p, &sx)?;
        Ok(decode_vec(&p.reveal(&y)?, f))
    });
    r
}

/// Checks |got - want| <= rel·|want| + abs_ulps·ulp for every point and reports the worst.
fn check(name: &str, op: Op, xs: &[f64], want: impl Fn(f64) -> f64, rel: f64, abs_ulps: f64) {
    let got = eval(op, xs);
    let (mut worst_abs, mut worst_rel) = (0f64, 0f64);
    for (&x, &g) in xs.iter().zip(&got) {
        // The reference is taken at the encoded input, as the protocol sees it.
        let xe = (x / ULP).round() * ULP;
        let w = want(xe);
        let err = (g - w).abs();
        worst_abs = worst_abs.max(err);
        if w.abs() >= 1.0 {
            worst_rel = worst_rel.max(err / w.abs());
        }
        assert!(
            err <= rel * w.abs() + abs_ulps * ULP,
            "{name}({x}) = {g}, expected {w} (error {err:e})"
        );
    }
    println!("{name}: {} points, max abs error {worst_abs:.3e}, max rel error where |f| ≥ 1: {worst_rel:.3e}", xs.len());
}

fn log_grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| lo * (hi / lo).powf(i as f64 / (n - 1) as f64))
        .collect()
}

fn lin_grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
        .collect()
}

#[test]
fn exp_over_its_range() {
    let mut xs = lin_grid(-22.18, 22.0, 4001);
    xs.extend([0.0, -1e-7, 1e-7, 1.0, -1.0, 21.999]);
    check("exp", Party::exp, &xs, f64::exp, 2e-7, 2.0);
    // Below the range the result is exactly zero.
    let low = eval(Party::exp, &[-22.3, -40.0, -1000.0, -999_999.0]);
    assert!(low.iter().all(|&v| v == 0.0), "{low:?}");
}

#[test]
fn recip_over_its_range() {
    let mut xs = log_grid(ULP, 1.0995e12, 3001);
    xs.extend([1.0, 2.0, 0.5, 3.0, 1e6, 1.0 - ULP]);
    check("recip", Party::recip, &xs, |x| 1.0 / x, 2e-7, 2.0);
}

#[test]
fn recip_pow2_keeps_small_reciprocals_precise() {
    // 2^20/x for x from 1 to 10^7: results from 2^20 down to 0.1, relative error as recip.
    let xs = log_grid(1.0, 1e7, 1001);
    let op: Op = |p, x| p.recip_pow2(x, 20);
    check("recip_pow2(20)", op, &xs, |x| (20f64).exp2() / x, 2e-7, 2.0);
}

#[test]
fn recip_and_ln_together_match_each_alone() {
    let xs = log_grid(1e-3, 1e9, 801);
    let rec: Op = |p, x| Ok(p.recip_pow2_and_ln(x, 10)?.0);
    let ln: Op = |p, x| Ok(p.recip_pow2_and_ln(x, 10)?.1);
    check(
        "recip_pow2_and_ln: 2^10/x",
        rec,
        &xs,
        |x| 1024.0 / x,
        2e-7,
        2.0,
    );
    check("recip_pow2_and_ln: ln", ln, &xs, f64::ln, 0.0, 3.0);
}

#[test]
fn ln_over_its_range() {
    let mut xs = log_grid(ULP, 1.0995e12, 3001);
    xs.extend([1.0, 2.0, std::f64::consts::E, 0.5, 1.0 + ULP]);
    check("ln", Party::ln, &xs, f64::ln, 0.0, 3.0);
}

/// ln(1 + t) on [0, 1] without the normalisation: the same bound as `ln`, in fewer rounds.
#[test]
fn ln1p_unit_over_its_range_in_fewer_rounds_than_ln() {
    let mut xs = lin_grid(0.0, 1.0, 2001);
    xs.extend([ULP, 1.0 - ULP, 0.5, 1e-3]);
    check("ln1p_unit", Party::ln1p_unit, &xs, f64::ln_1p, 0.0, 3.0);
    let rounds = |op: Op| {
        let [r, _, _] = run3_ok(|p| {
            let sx = p.share_input(0, (p.id() == 0).then_some(&[1u128 << 23][..]), 1)?;
            let before = p.stats().rounds;
            op(p, &sx)?;
            Ok(p.stats().rounds - before)
        });
        r
    };
    let (unit, ln) = (
        rounds(Party::ln1p_unit),
        rounds(|p, x| p.ln(&p.add_const(x, 1 << 24))),
    );
    println!("ln1p_unit: {unit} rounds, ln(1 + t): {ln}");
    assert!(unit + 10 < ln, "ln1p_unit {unit} rounds, ln {ln}");
}

#[test]
fn sqrt_and_rsqrt_over_their_range() {
    let mut xs = log_grid(ULP, 1.0995e12, 3001);
    xs.extend([1.0, 2.0, 4.0, 0.25, 3.0, 1e10]);
    check("sqrt", Party::sqrt, &xs, f64::sqrt, 2e-7, 2.0);
    check("rsqrt", Party::rsqrt, &xs, |x| 1.0 / x.sqrt(), 2e-7, 2.0);
}

#[test]
fn sigmoid_everywhere() {
    let mut xs = lin_grid(-40.0, 40.0, 4001);
    xs.extend([0.0, 999_999.0, -999_999.0, 1e5, -1e5, ULP, -ULP]);
    check(
        "sigmoid",
        Party::sigmoid,
        &xs,
        |x| 1.0 / (1.0 + (-x).exp()),
        0.0,
        4.0,
    );
}

/// The few-rounds sigmoid (`Party::few_rounds`: the sign beside exp of ±x) over the same
/// points, huge arguments included (where one branch's exponential is far out of its range
/// and must drop out exactly), within the same bound, in fewer rounds than the default.
#[test]
fn few_rounds_sigmoid_everywhere_in_fewer_rounds() {
    let mut xs = lin_grid(-40.0, 40.0, 4001);
    xs.extend([
        0.0, 999_999.0, -999_999.0, 1e5, -1e5, 23.0, -23.0, ULP, -ULP,
    ]);
    let few: Op = |p, x| {
        p.set_few_rounds(true);
        p.sigmoid(x)
    };
    check(
        "sigmoid (few rounds)",
        few,
        &xs,
        |x| 1.0 / (1.0 + (-x).exp()),
        0.0,
        4.0,
    );
    let rounds = |few: bool| {
        run3_ok(move |p| {
            p.set_few_rounds(few);
            let x = p.share_input(0, (p.id() == 0).then_some(&[7u128, 9][..]), 2)?;
            p.barrier()?;
            let before = p.stats();
            p.sigmoid(&x)?;
            Ok(p.stats().since(&before).rounds)
        })[0]
    };
    let (default, few) = (rounds(false), rounds(true));
    println!("sigmoid: {default} rounds, few rounds: {few}");
    assert!(few + 6 <= default, "{few} rounds against {default}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn few_rounds_sigmoid_at_random_points(xs in proptest::collection::vec(-1e4f64..1e4, 1..64)) {
        let few: Op = |p, x| {
            p.set_few_rounds(true);
            p.sigmoid(x)
        };
        check("sigmoid (few rounds)", few, &xs, |x| 1.0 / (1.0 + (-x).exp()), 0.0, 4.0);
    }

    #[test]
    fn random_points(xs in proptest::collection::vec(-20.0f64..20.0, 1..64), ys in proptest::collection::vec(1e-4f64..1e9, 64)) {
        let ys = &ys[..xs.len()];
        check("exp", Party::exp, &xs, f64::exp, 2e-7, 2.0);
        check("sigmoid", Party::sigmoid, &xs, |x| 1.0 / (1.0 + (-x).exp()), 0.0, 4.0);
        check("recip", Party::recip, ys, |x| 1.0 / x, 2e-7, 2.0);
        check("ln", Party::ln, ys, f64::ln, 0.0, 3.0);
        check("sqrt", Party::sqrt, ys, f64::sqrt, 2e-7, 2.0);
        check("rsqrt", Party::rsqrt, ys, |x| 1.0 / x.sqrt(), 2e-7, 2.0);
    }
}

#[test]
fn rsqrt_pow2_is_a_power_of_two_within_a_factor_of_two() {
    // From 2^-18 (‖A‖_F = 2^-9, the inverse's lower end) to 2^39, powers of two and their
    // neighbours (the leading one's edges) and points in between.
    let mut xs = Vec::new();
    for e in -18..=39 {
        let b = (e as f64).exp2();
        xs.extend([b, b * (1.0 - 1e-6), b * 1.5]);
    }
    let got = eval(Party::rsqrt_pow2, &xs);
    for (&x, &s) in xs.iter().zip(&got) {
        let xe = (x / ULP).round() * ULP;
        assert_eq!(
            s.log2().fract(),
            0.0,
            "rsqrt_pow2({x}) = {s}: not a power of two"
        );
        let v = s * s * xe;
        assert!(
            (0.25..=1.0).contains(&v),
            "rsqrt_pow2({x}) = {s}: s²x = {v}"
        );
    }
}

/// The softplus pieces of `sigmoid_parts` at `xs`, in either mode: e^-|x| (error as exp)
/// and max(x, 0) (exact), beside σ (as `sigmoid`).
fn check_sigmoid_parts(xs: &[f64], few: bool) {
    let [(sigma, ex, relu), _, _] = run3_ok(|p| {
        p.set_few_rounds(few);
        let f = p.frac_bits();
        let enc = encode_vec::<u128>(xs, f);
        let sx = p.share_input(1, (p.id() == 1).then_some(enc.as_slice()), xs.len())?;
        let s = p.sigmoid_parts(&sx)?;
        let open = |p: &mut Party, v: &AShare<u128>| -> Result<Vec<f64>> {
            Ok(decode_vec(&p.reveal(v)?, f))
        };
        Ok((
            open(p, &s.sigma)?,
            open(p, &s.exp_neg_abs)?,
            open(p, &s.relu)?,
        ))
    });
    for (i, &x) in xs.iter().enumerate() {
        let xe = (x / ULP).round() * ULP;
        let want_sigma = 1.0 / (1.0 + (-xe).exp());
        assert!(
            (sigma[i] - want_sigma).abs() <= 4.0 * ULP,
            "σ({x}) = {}",
            sigma[i]
        );
        let want_ex = (-xe.abs()).exp();
        assert!(
            (ex[i] - want_ex).abs() <= 2e-7 * want_ex + 2.0 * ULP,
            "e^-|{x}| = {}, expected {want_ex} (few rounds: {few})",
            ex[i]
        );
        assert_eq!(relu[i], xe.max(0.0), "max({x}, 0) (few rounds: {few})");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// `sigmoid_parts` against plaintext at random points, huge arguments included (where
    /// the few-rounds mode's other branch is out of range and must drop out exactly).
    #[test]
    fn sigmoid_parts_at_random_points(
        xs in proptest::collection::vec(prop_oneof![-40.0f64..40.0, -1e5f64..1e5], 1..64),
        few in any::<bool>(),
    ) {
        check_sigmoid_parts(&xs, few);
    }

    /// `leading_table` gives the table's value at the leading one's position, for values
    /// of any size up to the width (here the position itself, and a power of two of it).
    #[test]
    fn leading_table_at_random_values(
        shifts in proptest::collection::vec(0u32..120, 1..40),
        lows in proptest::collection::vec(any::<u128>(), 40),
        width in 120usize..128,
    ) {
        let xs: Vec<u128> = shifts
            .iter()
            .zip(&lows)
            .map(|(&s, &l)| (1u128 << s) | (l & ((1u128 << s) - 1)))
            .collect();
        let [(pos, pow), _, _] = run3_ok(|p| {
            let sx = p.share_input(0, (p.id() == 0).then_some(xs.as_slice()), xs.len())?;
            let pos = p.leading_table(&sx, width, |j| j as u128)?;
            let pow = p.leading_table(&sx, width, |j| 1u128 << (j / 2))?;
            Ok((p.reveal(&pos)?, p.reveal(&pow)?))
        });
        for (i, &s) in shifts.iter().enumerate() {
            prop_assert_eq!(pos[i], u128::from(s), "leading one of {:#x}", xs[i]);
            prop_assert_eq!(pow[i], 1u128 << (s / 2));
        }
    }
}

#[test]
fn sigmoid_parts_at_the_edges() {
    let xs = [
        0.0, ULP, -ULP, 17.0, -17.0, 23.0, -23.0, 999_999.0, -999_999.0,
    ];
    check_sigmoid_parts(&xs, false);
    check_sigmoid_parts(&xs, true);
}
