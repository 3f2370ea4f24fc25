//! Arithmetic protocols against plaintext, on random inputs and edges.

use proptest::prelude::*;
use tessera_mpc::fixed::{decode_vec, encode, encode_vec};
use tessera_mpc::testing::{input, run3, run3_ok, same};
use tessera_mpc::{dealer, AShare, MpcError, Ring};

fn edge_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(1 << 63),
        any::<u64>()
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn input_from_any_party_and_reveal(v in proptest::collection::vec(edge_u64(), 0..200), owner in 0usize..3) {
        let out = same(run3_ok(|p| {
            let x = input(p, owner, &v);
            p.reveal(&x)
        }));
        prop_assert_eq!(out, v);
    }

    #[test]
    fn linear_ops_are_local(x in proptest::collection::vec(edge_u64(), 1..100), c in edge_u64()) {
        let y: Vec<u64> = x.iter().map(|v| v.rotate_left(7)).collect();
        let r = run3_ok(|p| {
            let before = p.stats();
            let (sx, sy) = (input(p, 0, &x), input(p, 1, &y));
            let mid = p.stats();
            let e = p.add_const(&sx.add(&sy).sub(&sy.mul_const(c)).neg(), c).prefix_sum();
            let after = p.stats();
            assert_eq!(after.since(&mid).bytes_sent, 0, "linear operations send nothing");
            let _ = before;
            p.reveal(&e)
        });
        let mut acc = 0u64;
        let want: Vec<u64> = x.iter().zip(&y).map(|(&a, &b)| {
            acc = acc.wrapping_add(a.wrapping_add(b).wrapping_sub(b.wrapping_mul(c)).wrapping_neg().wrapping_add(c));
            acc
        }).collect();
        prop_assert_eq!(same(r), want);
    }

    #[test]
    fn mul_u64_and_u128(x in proptest::collection::vec(edge_u64(), 1..100), y in proptest::collection::vec(edge_u64(), 100)) {
        let y = &y[..x.len()];
        let r = run3_ok(|p| {
            let (sx, sy) = (input(p, 2, &x), input(p, 0, y));
            let s0 = p.stats();
            let z = p.mul(&sx, &sy)?;
            let st = p.stats().since(&s0);
            assert_eq!(st.bytes_sent, 8 * x.len() as u64);
            let wide: Vec<u128> = x.iter().map(|&v| (v as u128) << 40 | 3).collect();
            let sw = input(p, 1, &wide);
            let zw = p.mul(&sw, &sw)?;
            Ok((p.reveal(&z)?, p.reveal(&zw)?))
        });
        let (z, zw) = same(r);
        let want: Vec<u64> = x.iter().zip(y).map(|(a, b)| a.wrapping_mul(*b)).collect();
        prop_assert_eq!(z, want);
        let ww: Vec<u128> = x.iter().map(|&v| { let t = (v as u128) << 40 | 3; t.wrapping_mul(t) }).collect();
        prop_assert_eq!(zw, ww);
    }

    #[test]
    fn dot_and_matmul(n in 1usize..6, k in 1usize..9, m in 1usize..6, seed in any::<u64>()) {
        let gen = |len: usize, s: u64| -> Vec<u64> { (0..len as u64).map(|i| (i + 1).wrapping_mul(s | 1).rotate_left(13)).collect() };
        let a = gen(n * k, seed);
        let b = gen(k * m, seed ^ 0x55);
        let c = gen(n * k, seed ^ 0xaa);
        let r = run3_ok(|p| {
            let (sa, sb, sc) = (input(p, 0, &a), input(p, 1, &b), input(p, 2, &c));
            let s0 = p.stats();
            let mm = p.matmul(&sa, &sb, n, k, m)?;
            let d = p.dot(&sa, &sc, k)?;
            let st = p.stats().since(&s0);
            assert_eq!(st.bytes_sent, 8 * (n * m + n) as u64, "independent of the inner dimension");
            Ok((p.reveal(&mm)?, p.reveal(&d)?))
        });
        let (mm, d) = same(r);
        for i in 0..n {
            for j in 0..m {
                let want = (0..k).fold(0u64, |s, t| s.wrapping_add(a[i * k + t].wrapping_mul(b[t * m + j])));
                prop_assert_eq!(mm[i * m + j], want);
            }
            let want = (0..k).fold(0u64, |s, t| s.wrapping_add(a[i * k + t].wrapping_mul(c[i * k + t])));
            prop_assert_eq!(d[i], want);
        }
    }

    #[test]
    fn fixed_point_mul_and_trunc(x in proptest::collection::vec(-7.0e5f64..7.0e5, 1..100), y in proptest::collection::vec(-7.0e5f64..7.0e5, 100)) {
        // Exact reference in integers: the result must be floor(z / 2^d) or one more.
        let y = &y[..x.len()];
        let f = 24;
        let (xi, yi) = (encode_vec::<u128>(&x, f), encode_vec::<u128>(y, f));
        let c = encode::<u128>(-0.3125, f);
        let r = run3_ok(|p| {
            let (sx, sy) = (input(p, 0, &xi), input(p, 1, &yi));
            let s0 = p.stats();
            let z = p.mul_fix(&sx, &sy)?;
            let st = p.stats().since(&s0);
            assert_eq!(st.bytes_sent, 16 * x.len() as u64);
            let h = p.trunc(&sx, 3)?;
            let cx = p.mul_const_fix(&sx, -0.3125)?;
            Ok((p.reveal(&z)?, p.reveal(&h)?, p.reveal(&cx)?))
        });
        let (z, h, cx) = same(r);
        let close = |got: u128, exact: i128, d: u32| {
            let fl = exact >> d;
            let g = got.to_i128();
            g == fl || g == fl + 1
        };
        for i in 0..x.len() {
            let (a, b) = (xi[i].to_i128(), yi[i].to_i128());
            prop_assert!(close(z[i], a * b, f), "{} * {}", x[i], y[i]);
            prop_assert!(close(h[i], a, 3));
            prop_assert!(close(cx[i], a * c.to_i128(), f));
        }
        let _ = decode_vec::<u128>(&z, f);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn one_round_truncation_with_few_rounds(x in proptest::collection::vec(-7.0e5f64..7.0e5, 0..100), y in proptest::collection::vec(-7.0e5f64..7.0e5, 100), d in 1u32..40) {
        // In few-rounds mode a truncation takes one round, with the two-round protocol's
        // error (floor(z / 2^d) or one more, zero exact); a party sends 16 bytes for each
        // element of the others and 48 for each of its own (every third).
        let y = &y[..x.len()];
        let n = x.len();
        let f = 24;
        let (xi, yi) = (encode_vec::<u128>(&x, f), encode_vec::<u128>(y, f));
        let r = run3_ok(|p| {
            p.set_few_rounds(true);
            let (sx, sy) = (input(p, 0, &xi), input(p, 1, &yi));
            p.barrier()?;
            let s0 = p.stats();
            let z = p.mul_fix(&sx, &sy)?;
            let st = p.stats().since(&s0);
            let mine = (n + 2 - p.id()) / 3;
            assert_eq!(st.bytes_sent, 16 * (n + 2 * mine) as u64, "party {}", p.id());
            p.barrier()?;
            let s1 = p.stats();
            let parts = p.mul_trunc_many(&[(&sx, &sy), (&sx, &sx)], d)?;
            let rounds = (st.rounds, p.stats().since(&s1).rounds);
            let h = p.trunc(&sx, d)?;
            // Multiples of 2^d come back exactly (zero stays zero).
            let m = p.trunc(&sx.shl(d), d)?;
            assert_eq!(p.reveal(&m)?, xi, "multiples of 2^{d}");
            Ok((p.reveal(&z)?, p.reveal(&parts[0])?, p.reveal(&parts[1])?, p.reveal(&h)?, rounds))
        });
        // The critical path: the most rounds any party counted.
        let most = r.iter().map(|x| x.4.0.max(x.4.1)).max().unwrap();
        prop_assert_eq!(most, u64::from(n > 0));
        let (z, xy, xx, h, _) = same(r.map(|x| (x.0, x.1, x.2, x.3, 0)));
        let near = |got: u128, exact: i128, d: u32| {
            let fl = exact >> d;
            let g = got.to_i128();
            g == fl || g == fl + 1
        };
        for i in 0..n {
            let (a, b) = (xi[i].to_i128(), yi[i].to_i128());
            prop_assert!(near(z[i], a * b, f), "{} * {}", x[i], y[i]);
            prop_assert!(near(xy[i], a * b, d));
            prop_assert!(near(xx[i], a * a, d));
            prop_assert!(near(h[i], a, d));
        }
    }
}

#[test]
fn few_rounds_leaves_sixty_four_bit_truncation_as_it_was() {
    // Z_2^64 has no room for the one-round masks: its truncation keeps two rounds.
    let v: Vec<u64> = vec![1 << 20, 3 << 30, (-(5i64 << 25)) as u64];
    let r = run3_ok(|p| {
        p.set_few_rounds(true);
        let x = input(p, 2, &v);
        p.barrier()?;
        let s0 = p.stats();
        let t = p.trunc(&x, 10)?;
        Ok((p.reveal(&t)?, p.stats().since(&s0).rounds))
    });
    assert_eq!(
        r.iter().map(|x| x.1).max(),
        Some(2 + 1),
        "two rounds, then the reveal"
    );
    let t = same(r.map(|x| x.0));
    for (got, want) in t.iter().zip(&v) {
        let (g, w) = (*got as i64, (*want as i64) >> 10);
        assert!(g == w || g == w + 1, "{g} vs {w}");
    }
}

#[test]
fn reveal_to_a_subset_only() {
    let v: Vec<u64> = vec![5, 6, 7];
    for to in [vec![0], vec![1], vec![2], vec![0, 2], vec![1, 2]] {
        let r = run3_ok(|p| {
            let x = input(p, 1, &v);
            p.reveal_to(&x, &to)
        });
        for (i, got) in r.iter().enumerate() {
            assert_eq!(
                got.is_some(),
                to.contains(&i),
                "party {i}, recipients {to:?}"
            );
            if let Some(g) = got {
                assert_eq!(g, &v);
            }
        }
    }
}

#[test]
fn fixed_point_matmul_and_dot() {
    let (n, k, m) = (3, 4, 2);
    let a: Vec<f64> = (0..n * k).map(|i| i as f64 * 0.37 - 2.0).collect();
    let b: Vec<f64> = (0..k * m).map(|i| 1.5 - i as f64 * 0.21).collect();
    let r = run3_ok(|p| {
        let f = p.frac_bits();
        let (sa, sb) = (
            input(p, 0, &encode_vec::<u128>(&a, f)),
            input(p, 1, &encode_vec::<u128>(&b, f)),
        );
        let mm = p.matmul_fix(&sa, &sb, n, k, m)?;
        let d = p.dot_fix(&sa, &sa, k)?;
        Ok((
            decode_vec(&p.reveal(&mm)?, f),
            decode_vec(&p.reveal(&d)?, f),
        ))
    });
    let (mm, d) = same(r);
    for i in 0..n {
        for j in 0..m {
            let want: f64 = (0..k).map(|t| a[i * k + t] * b[t * m + j]).sum();
            assert!((mm[i * m + j] - want).abs() < 1e-6);
        }
        let want: f64 = (0..k).map(|t| a[i * k + t] * a[i * k + t]).sum();
        assert!((d[i] - want).abs() < 1e-6);
    }
}

#[test]
fn outside_data_party_input() {
    let v: Vec<u128> = vec![0, 1, u128::MAX, 42 << 70];
    let msgs = dealer::deal(&v);
    assert!(msgs
        .iter()
        .all(|m| m.len() < 8 + 2 * (1 + 16 * v.len()) + 1));
    let r = run3_ok(|p| {
        let x = dealer::accept::<u128>(&msgs[p.id()], v.len())?;
        p.reveal(&x)
    });
    assert_eq!(same(r), v);
    // A message cut short or for the wrong length is refused, naming the problem.
    let err = dealer::accept::<u128>(&msgs[1][..msgs[1].len() - 1], v.len()).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    let err = dealer::accept::<u128>(&msgs[0], 3).unwrap_err();
    assert!(err.to_string().contains("4 elements where 3"), "{err}");
}

#[test]
fn a_failing_party_ends_everyone_with_an_error() {
    let r = run3(|p| {
        let x = input(p, 0, &[1u64, 2, 3]);
        if p.id() == 1 {
            return Err(MpcError::Invalid("party 1 gives up".into()));
        }
        p.mul(&x, &x)
    });
    assert!(r.iter().all(|x| x.is_err()), "{r:?}");
    let msg = r[0].as_ref().unwrap_err().to_string();
    assert!(msg.contains("party 1"), "{msg}");
}

#[test]
fn mismatched_message_length_is_malformed_not_a_panic() {
    let r = run3(|p| {
        let n = if p.id() == 2 { 5 } else { 4 };
        let x: AShare<u64> = p.random(n);
        p.reveal(&x)
    });
    assert!(r.iter().all(|x| x.is_err()), "{r:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// `matmul_trunc_each`: every entry of product `i` is `floor(z / 2^d_i)` or one more of
    /// the exact integer product, in either mode, in the rounds of one truncation.
    #[test]
    fn matmul_trunc_each_matches_exact_products(
        dims in proptest::collection::vec((1usize..5, 1usize..7, 1usize..5), 1..4),
        shifts in proptest::collection::vec(0u32..50, 4),
        vals in proptest::collection::vec(-1.0e4f64..1.0e4, 300),
        few in any::<bool>(),
    ) {
        let f = 24;
        let mut at = 0;
        let mut take = |len: usize| {
            let v = encode_vec::<u128>(&vals[at..at + len], f);
            at += len;
            v
        };
        let mats: Vec<(Vec<u128>, Vec<u128>, [usize; 3])> = dims
            .iter()
            .map(|&(n, k, m)| (take(n * k), take(k * m), [n, k, m]))
            .collect();
        let d = &shifts[..mats.len()];
        let r = run3_ok(|p| {
            p.set_few_rounds(few);
            let shared: Vec<_> = mats
                .iter()
                .map(|(x, y, dim)| (input(p, 0, x), input(p, 1, y), *dim))
                .collect();
            p.barrier()?;
            let s0 = p.stats();
            let prods: Vec<_> = shared.iter().map(|(x, y, dim)| (x, y, *dim)).collect();
            let out = p.matmul_trunc_each(&prods, d)?;
            let rounds = p.stats().since(&s0).rounds;
            let open = out.iter().map(|o| p.reveal(o)).collect::<tessera_mpc::Result<Vec<_>>>()?;
            Ok((open, rounds))
        });
        let most = r.iter().map(|x| x.1).max().unwrap();
        prop_assert!(most <= if few { 1 } else { 2 }, "{most} rounds");
        let (open, _) = same(r.map(|x| (x.0, 0)));
        for (i, (x, y, [n, k, m])) in mats.iter().enumerate() {
            for a in 0..*n {
                for b in 0..*m {
                    let exact: i128 = (0..*k).map(|t| x[a * k + t].to_i128() * y[t * m + b].to_i128()).sum();
                    let fl = exact >> d[i];
                    let g = open[i][a * m + b].to_i128();
                    prop_assert!(g == fl || g == fl + 1, "product {i} entry ({a}, {b}): {g} vs {fl}");
                }
            }
        }
    }
}
