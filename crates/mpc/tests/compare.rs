//! Conversions and comparisons against plaintext.

use proptest::prelude::*;
use tessera_mpc::boolean::{pack_bits, unpack_bits, words_for, BShare};
use tessera_mpc::testing::{input, run3_ok, same};
use tessera_mpc::{AShare, Party};

/// Values whose differences stay within the documented comparison range, with edges.
fn cmp_i64() -> impl Strategy<Value = i64> {
    let lim = (1i64 << 62) - 1;
    prop_oneof![
        Just(0i64),
        Just(1),
        Just(-1),
        Just(lim),
        Just(-lim),
        -lim..=lim,
        -1000i64..1000
    ]
}

fn reveal_bits(p: &mut Party, b: &BShare, n: usize) -> Vec<bool> {
    unpack_bits(&p.reveal_bits(b).unwrap(), n)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn lt_eq_msb_u64(x in proptest::collection::vec(cmp_i64(), 1..150), y in proptest::collection::vec(cmp_i64(), 150)) {
        let mut y = y[..x.len()].to_vec();
        y[0] = x[0]; // at least one equal pair
        let (xu, yu): (Vec<u64>, Vec<u64>) = (x.iter().map(|&v| v as u64).collect(), y.iter().map(|&v| v as u64).collect());
        let n = x.len();
        let r = run3_ok(|p| {
            let (sx, sy) = (input(p, 0, &xu), input(p, 1, &yu));
            let lt = p.lt(&sx, &sy)?;
            let eq = p.eq(&sx, &sy)?;
            let ms = p.msb(&sx)?;
            Ok((reveal_bits(p, &lt, n), reveal_bits(p, &eq, n), reveal_bits(p, &ms, n)))
        });
        let (lt, eq, ms) = same(r);
        for i in 0..n {
            prop_assert_eq!(lt[i], x[i] < y[i], "{} < {}", x[i], y[i]);
            prop_assert_eq!(eq[i], x[i] == y[i]);
            prop_assert_eq!(ms[i], x[i] < 0);
        }
    }

    #[test]
    fn lt_eq_u128(x in proptest::collection::vec(any::<i64>(), 1..80), shift in 0u32..60) {
        let xv: Vec<u128> = x.iter().map(|&v| ((v as i128) << shift) as u128).collect();
        let yv: Vec<u128> = x.iter().enumerate().map(|(i, &v)| (((v as i128) << shift) + (i as i128 % 3) - 1) as u128).collect();
        let n = x.len();
        let r = run3_ok(|p| {
            let (sx, sy) = (input(p, 2, &xv), input(p, 1, &yv));
            let lt = p.lt(&sx, &sy)?;
            let eq = p.eq(&sx, &sy)?;
            Ok((reveal_bits(p, &lt, n), reveal_bits(p, &eq, n)))
        });
        let (lt, eq) = same(r);
        for i in 0..n {
            prop_assert_eq!(lt[i], (xv[i] as i128) < (yv[i] as i128));
            prop_assert_eq!(eq[i], xv[i] == yv[i]);
        }
    }

    #[test]
    fn a2b_and_b2a_roundtrip(v in proptest::collection::vec(any::<u128>(), 1..130), w in prop_oneof![Just(1usize), Just(7), Just(64), Just(128), 2usize..128]) {
        let n = v.len();
        let mask = if w == 128 { u128::MAX } else { (1u128 << w) - 1 };
        let r = run3_ok(|p| {
            let x = input(p, 0, &v);
            let planes = p.a2b(&x, w)?;
            let bits: Vec<Vec<bool>> = planes.iter().map(|pl| reveal_bits(p, pl, n)).collect();
            let back: AShare<u128> = p.b2a(&planes, n)?;
            let back64: AShare<u64> = p.b2a(&planes[..w.min(64)], n)?;
            Ok((bits, p.reveal(&back)?, p.reveal(&back64)?))
        });
        let (bits, back, back64) = same(r);
        for k in 0..n {
            for (j, plane) in bits.iter().enumerate() {
                prop_assert_eq!(plane[k], (v[k] >> j) & 1 == 1);
            }
            prop_assert_eq!(back[k], v[k] & mask);
            prop_assert_eq!(back64[k], (v[k] & mask) as u64 & if w >= 64 { u64::MAX } else { (1u64 << w) - 1 });
        }
    }

    #[test]
    fn sign_within_every_width(width in 2usize..=128, picks in proptest::collection::vec((0u8..6, any::<u128>()), 1..130)) {
        // Values in [-2^(width-1), 2^(width-1)), with the edges of the range and of the
        // carry blocks (all ones below a block boundary) in Z_2^128.
        let half = 1i128 << (width - 1).min(126);
        let x: Vec<i128> = picks
            .iter()
            .map(|&(kind, r)| {
                let span = if width == 128 { u128::MAX } else { (1u128 << width) - 1 };
                let any = (r & span) as i128 - if width == 128 { 0 } else { half };
                match kind {
                    0 => -half,
                    1 => half - 1,
                    2 => 0,
                    3 => -1,
                    4 => (1i128 << ((r % width as u128) as u32).min(126)) - 1,
                    _ => any,
                }
            })
            .collect();
        let v: Vec<u128> = x.iter().map(|&a| a as u128).collect();
        let n = v.len();
        let r = run3_ok(|p| {
            let sx = input(p, 1, &v);
            let s = p.sign_within(&sx, width)?;
            Ok(reveal_bits(p, &s, n))
        });
        let s = same(r);
        for i in 0..n {
            let want = if width == 128 { x[i] < 0 } else { (v[i] >> (width - 1)) & 1 == 1 };
            prop_assert_eq!(s[i], want, "width {} value {}", width, x[i]);
        }
    }

    #[test]
    fn sign_and_bits_within_a_width(x in proptest::collection::vec(-(1i64 << 45)..(1i64 << 45), 1..150), w in 1usize..40) {
        // Values in [-2^45, 2^45): the sign needs only 46 bits.
        let v: Vec<u128> = x.iter().map(|&a| a as i128 as u128).collect();
        let n = v.len();
        let r = run3_ok(|p| {
            let sx = input(p, 2, &v);
            let s = p.sign_within(&sx, 46)?;
            let (low, s2) = p.a2b_with_sign(&sx, w, 46)?;
            let (abs, neg) = p.abs_sign_within(&sx, 46)?;
            let low: Vec<Vec<bool>> = low.iter().map(|b| reveal_bits(p, b, n)).collect();
            Ok((reveal_bits(p, &s, n), reveal_bits(p, &s2, n), low, p.reveal(&abs)?, p.reveal(&neg)?))
        });
        let (s, s2, low, abs, neg) = same(r);
        for i in 0..n {
            prop_assert_eq!(s[i], x[i] < 0);
            prop_assert_eq!(s2[i], x[i] < 0);
            prop_assert_eq!(neg[i], (x[i] < 0) as u128);
            prop_assert_eq!(abs[i], x[i].unsigned_abs() as u128);
            for (j, plane) in low.iter().enumerate() {
                prop_assert_eq!(plane[i], (x[i] >> j) & 1 == 1);
            }
        }
    }

    #[test]
    fn inject_select_abs(bits in proptest::collection::vec(any::<bool>(), 1..200), x in proptest::collection::vec(cmp_i64(), 200)) {
        let n = bits.len();
        let packed = pack_bits(&bits);
        let xu: Vec<u64> = x[..n].iter().map(|&v| v as u64).collect();
        let yu: Vec<u64> = xu.iter().map(|v| v.wrapping_mul(3)).collect();
        let r = run3_ok(|p| {
            let b = p.share_bits(1, (p.id() == 1).then_some(packed.as_slice()), words_for(n))?;
            let inj: AShare<u64> = p.inject(&[&b, &p.not(&b)], n)?.remove(0);
            let (sx, sy) = (input(p, 0, &xu), input(p, 2, &yu));
            let sel = p.select_bits(&b, &sx, &sy)?;
            let (abs, sign) = p.abs_sign(&sx)?;
            Ok((p.reveal(&inj)?, p.reveal(&sel)?, p.reveal(&abs)?, p.reveal(&sign)?))
        });
        let (inj, sel, abs, sign) = same(r);
        for i in 0..n {
            prop_assert_eq!(inj[i], bits[i] as u64);
            prop_assert_eq!(sel[i], if bits[i] { xu[i] } else { yu[i] });
            prop_assert_eq!(abs[i], x[i].unsigned_abs());
            prop_assert_eq!(sign[i], (x[i] < 0) as u64);
        }
    }
}

#[test]
fn boolean_gates() {
    let n = 130;
    let x: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
    let y: Vec<bool> = (0..n).map(|i| i % 5 < 2).collect();
    let (px, py) = (pack_bits(&x), pack_bits(&y));
    let r = run3_ok(|p| {
        let w = words_for(n);
        let sx = p.share_bits(0, (p.id() == 0).then_some(px.as_slice()), w)?;
        let sy = p.share_bits(2, (p.id() == 2).then_some(py.as_slice()), w)?;
        let and = p.and(&sx, &sy)?;
        let or = p.or(&sx, &sy)?;
        let xor = sx.xor(&sy);
        let not = p.not(&sx);
        let to2 = p.reveal_bits_to(&and, &[2])?;
        Ok((
            reveal_bits(p, &and, n),
            reveal_bits(p, &or, n),
            reveal_bits(p, &xor, n),
            reveal_bits(p, &not, n),
            to2.is_some(),
        ))
    });
    assert_eq!(
        r.iter().map(|t| t.4).collect::<Vec<_>>(),
        vec![false, false, true]
    );
    let (and, or, xor, not, _) = r[0].clone();
    for i in 0..n {
        assert_eq!(and[i], x[i] & y[i]);
        assert_eq!(or[i], x[i] | y[i]);
        assert_eq!(xor[i], x[i] ^ y[i]);
        assert_eq!(not[i], !x[i]);
    }
}

#[test]
fn comparison_costs_stay_small() {
    // Bytes per element per party for a 64-bit comparison (the protocol's budget, see
    // convert.rs): at most 40 bytes, one third of the best published replicated cost.
    let n = 6400;
    let v: Vec<u64> = (0..n as u64).collect();
    let r = run3_ok(|p| {
        let x = input(p, 0, &v);
        let s0 = p.stats();
        p.lt(&x, &x.mul_const(3))?;
        Ok(p.stats().since(&s0))
    });
    for st in r {
        assert!(st.bytes_sent as f64 / n as f64 <= 40.0, "{st:?}");
    }
}
