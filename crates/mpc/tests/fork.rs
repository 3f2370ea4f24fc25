//! Forked parties: computations run side by side on sub-parties give the same results as
//! on the parent, and their shares are shares of the parent.

use proptest::prelude::*;
use tessera_mpc::sort::SortOptions;
use tessera_mpc::testing::{input, run3, run3_ok, same};
use tessera_mpc::{AShare, MpcError, Party, Result, Table};

/// What is computed on `x`, `y`: a product, a comparison and a sort by `x` (revealed), and
/// the product's shares.
type Outcome = (Vec<u64>, Vec<u64>, Vec<u64>);

/// A sub-party back from its thread, with its job's result and its `x²`.
type Done = (Party, Result<(Vec<u64>, AShare<u64>)>);

/// Job `j` of three independent ones on `p`.
fn job(p: &mut Party, j: usize, x: &AShare<u64>, y: &AShare<u64>) -> Result<Vec<u64>> {
    match j {
        0 => {
            let z = p.mul(x, y)?;
            p.reveal(&z)
        }
        1 => {
            let c = p.lt(x, y)?;
            p.reveal_bits(&c)
        }
        _ => {
            let t = Table::new(vec![x.clone(), y.clone()], Vec::new())?;
            let (sorted, _) = p.sort_table(&t, 0, SortOptions::default())?;
            p.reveal(&sorted.c64[1])
        }
    }
}

/// The three jobs one after the other on `p`.
fn sequential(p: &mut Party, x: &AShare<u64>, y: &AShare<u64>) -> Result<Outcome> {
    Ok((job(p, 0, x, y)?, job(p, 1, x, y)?, job(p, 2, x, y)?))
}

/// The three jobs at the same time on forked sub-parties; then, on the parent, the product
/// a sub-party made is used again (its shares must be the parent's shares).
fn forked(p: &mut Party, x: &AShare<u64>, y: &AShare<u64>) -> Result<(Outcome, Vec<u64>)> {
    let subs = p.fork(3)?;
    let done: Vec<Done> = std::thread::scope(|s| {
        let hs: Vec<_> = subs
            .into_iter()
            .enumerate()
            .map(|(j, mut sp)| {
                s.spawn(move || {
                    let r = job(&mut sp, j, x, y).and_then(|v| Ok((v, sp.mul(x, x)?)));
                    (sp, r)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let (subs, rs): (Vec<Party>, Vec<_>) = done.into_iter().unzip();
    p.join(subs)?;
    let mut rs = rs.into_iter().collect::<Result<Vec<_>>>()?;
    let (squares, _) = rs.pop().expect("three");
    let (lt, sq1) = rs.pop().expect("three");
    let (prod, _) = rs.pop().expect("three");
    // x² from sub-party 1, times y on the parent.
    let xxy = p.mul(&sq1, y)?;
    Ok(((prod, lt.clone(), squares), p.reveal(&xxy)?))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn forked_parties_compute_what_the_parent_computes(
        x in proptest::collection::vec(any::<u64>(), 1..40),
        y in proptest::collection::vec(any::<u64>(), 40),
    ) {
        let y = &y[..x.len()];
        let plain = same(run3_ok(|p| {
            let (sx, sy) = (input(p, 0, &x), input(p, 1, y));
            sequential(p, &sx, &sy)
        }));
        let r = run3_ok(|p| {
            let (sx, sy) = (input(p, 0, &x), input(p, 1, y));
            let before = p.stats();
            let out = forked(p, &sx, &sy)?;
            Ok((out, p.stats().since(&before)))
        });
        let rounds: Vec<u64> = r.iter().map(|(_, s)| s.rounds).collect();
        let ((got, xxy), _) = same(r.map(|(o, s)| (o, s.bytes_sent > 0)));
        prop_assert_eq!(&got, &plain);
        let want: Vec<u64> = x.iter().zip(y).map(|(a, b)| a.wrapping_mul(*a).wrapping_mul(*b)).collect();
        prop_assert_eq!(xxy, want);
        prop_assert!(rounds.iter().all(|&r| r > 0));
    }
}

/// Rounds of jobs that are chains of 3, 5 and 8 products (fixed rounds: a sort's passes
/// are random, and its rounds differ between two runs by more than the other jobs take).
#[test]
fn forked_rounds_are_the_longest_job_not_the_sum() {
    let x: Vec<u64> = (0..64).map(|i| i * 7919 % 101).collect();
    let chain = |p: &mut Party, sx: &AShare<u64>, len: usize| -> Result<Vec<u64>> {
        let mut z = sx.clone();
        for _ in 0..len {
            z = p.mul(&z, sx)?;
        }
        p.reveal(&z)
    };
    let lens = [3usize, 5, 8];
    let rounds = |fork: bool| {
        let r = run3_ok(|p| {
            let sx = input(p, 0, &x);
            let s0 = p.stats();
            let out = if fork {
                p.run_forked(
                    3,
                    3,
                    |_| {},
                    |j, q| chain(q, &sx, lens[j]),
                    |_, e| e.to_string(),
                )
                .map_err(|(_, e)| e)?
            } else {
                lens.iter()
                    .map(|&l| chain(p, &sx, l))
                    .collect::<Result<Vec<_>>>()?
            };
            Ok((out, p.stats().since(&s0).rounds))
        });
        let want: Vec<Vec<u64>> = lens
            .iter()
            .map(|&l| x.iter().map(|v| v.wrapping_pow(l as u32 + 1)).collect())
            .collect();
        for (out, _) in &r {
            assert_eq!(out, &want);
        }
        r.into_iter().map(|(_, n)| n).max().unwrap()
    };
    let (seq, par) = (rounds(false), rounds(true));
    // One round per product and one per reveal: 4 + 6 + 9 one after the other; side by side
    // the longest, 9, and one for the sub-parties' start.
    assert_eq!(seq, 19);
    assert!(par <= 10, "sequential {seq} rounds, forked {par}");
}

#[test]
fn a_failure_in_one_sub_party_fails_the_parent_on_every_party() {
    let r = run3(|p| {
        let mut subs = p.fork(2)?;
        if p.id() == 2 {
            subs[1].abort("sub-party 1 gives up");
        } else {
            // Waits for a message party 2's sub-party 1 never sends.
            let from = 2;
            subs[1].endpoint().recv(from)?;
        }
        p.join(subs)?;
        Ok(())
    });
    for (i, e) in r.iter().enumerate() {
        assert!(
            matches!(e, Err(MpcError::Net(_))),
            "party {i}: {:?}",
            e.as_ref().err()
        );
    }
}

/// Five jobs of `i + 1` sequential multiplications each, revealed.
fn chain(p: &mut Party, i: usize, x: &AShare<u64>) -> Result<Vec<u64>> {
    let mut z = x.clone();
    for _ in 0..=i {
        z = p.mul(&z, x)?;
    }
    p.reveal(&z)
}

#[test]
fn run_forked_keeps_job_order_and_counts_rounds_per_thread() {
    let x: Vec<u64> = (1..20).collect();
    let at = |limit: usize| {
        run3_ok(|p| {
            let sx = input(p, 0, &x);
            let started = std::sync::Mutex::new(Vec::new());
            let s0 = p.stats();
            let out = p
                .run_forked(
                    5,
                    limit,
                    |i| started.lock().unwrap().push(i),
                    |i, sp| chain(sp, i, &sx),
                    |_, e| e.to_string(),
                )
                .map_err(|(_, e)| e)?;
            assert_eq!(started.into_inner().unwrap(), vec![0, 1, 2, 3, 4]);
            Ok((out, p.stats().since(&s0).rounds))
        })
    };
    let want: Vec<Vec<u64>> = (0..5u32)
        .map(|i| x.iter().map(|v| v.wrapping_pow(i + 2)).collect())
        .collect();
    // Results agree; rounds are the busiest party's.
    let split = |r: [(Vec<Vec<u64>>, u64); 3]| {
        let rounds = r.iter().map(|(_, n)| *n).max().unwrap();
        (same(r.map(|(v, _)| v)), rounds)
    };
    let (one, r1) = split(at(1));
    let (two, r2) = split(at(2));
    let (five, r5) = split(at(5));
    assert_eq!((&one, &two, &five), (&want, &want, &want));
    // One thread: the sum of the jobs' rounds; five: the longest job's.
    assert!(r5 < r2 && r2 < r1, "rounds {r1}, {r2}, {r5}");
    // The jobs sit on fixed threads, so the counts do not depend on timing.
    for _ in 0..3 {
        assert_eq!(
            (split(at(1)).1, split(at(2)).1, split(at(5)).1),
            (r1, r2, r5)
        );
    }
}

#[test]
fn a_failing_job_stops_every_job_on_every_party() {
    let t0 = std::time::Instant::now();
    let r = run3(|p| {
        let me = p.id();
        p.run_forked(
            3,
            3,
            |_| {},
            |i, sp| {
                if i == 1 && me == 0 {
                    return Err(MpcError::Invalid("job 1 fails at party 0".into()));
                }
                // Every other job waits for a message that never comes.
                sp.endpoint().recv((me + 1) % 3)?;
                Ok(())
            },
            |i, e| format!("job {i}: {e}"),
        )
        .map_err(|(i, e)| MpcError::Invalid(format!("{i}: {e}")))
    });
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(5),
        "no timeout"
    );
    let e0 = r[0].as_ref().unwrap_err().to_string();
    assert!(e0.contains("1: ") && e0.contains("job 1 fails"), "{e0}");
    for e in &r[1..] {
        let e = e.as_ref().unwrap_err().to_string();
        assert!(e.contains("aborted") && e.contains("job 1"), "{e}");
    }
}

/// `side_by_side`: the two results are those computed one after the other (a comparison
/// and a sort), and the rounds are the longer half's, not the sum (two product chains of 5
/// and 8 rounds: fixed, where a sort's passes are random).
#[test]
fn side_by_side_computes_both_in_the_rounds_of_the_longer() {
    let x: Vec<u64> = (0..50).map(|i| i * 7919 % 1013).collect();
    let y: Vec<u64> = (0..50).map(|i| i * 31 % 997).collect();
    let run = |pair: bool| {
        run3_ok(|p| {
            let (sx, sy) = (input(p, 0, &x), input(p, 1, &y));
            if pair {
                p.side_by_side(|q| job(q, 1, &sx, &sy), |q| job(q, 2, &sx, &sy))
            } else {
                Ok((job(p, 1, &sx, &sy)?, job(p, 2, &sx, &sy)?))
            }
        })
    };
    let (lt, sorted) = same(run(false));
    let mut pairs: Vec<(u64, u64)> = x.iter().copied().zip(y.iter().copied()).collect();
    pairs.sort_unstable();
    assert_eq!(sorted, pairs.iter().map(|&(_, b)| b).collect::<Vec<_>>());
    assert_eq!(same(run(true)), (lt, sorted));
    let chain = |p: &mut Party, sx: &AShare<u64>, len: usize| -> Result<Vec<u64>> {
        let mut z = sx.clone();
        for _ in 0..len {
            z = p.mul(&z, sx)?;
        }
        p.reveal(&z)
    };
    let rounds = run3_ok(|p| {
        let sx = input(p, 0, &x);
        let s0 = p.stats();
        p.side_by_side(|q| chain(q, &sx, 4), |q| chain(q, &sx, 7))?;
        Ok(p.stats().since(&s0).rounds)
    });
    assert!(
        rounds.iter().all(|&r| r <= 9),
        "{rounds:?}, one after the other 13"
    );
}

/// A refusal in one half of `side_by_side` (the same on every party) ends the other half:
/// every party fails, none hangs, and the refusal is what a party that reached it returns.
#[test]
fn side_by_side_returns_the_failure_of_either_half_on_every_party() {
    for failing in [0, 1] {
        let r = run3(|p| {
            let x = input(p, 0, &[1, 2, 3]);
            let refuse = |q: &mut Party| -> Result<Vec<u64>> {
                q.mul(&x, &x)?;
                Err(MpcError::Invalid("refused".into()))
            };
            let long = |q: &mut Party| -> Result<Vec<u64>> {
                let mut z = x.clone();
                for _ in 0..20 {
                    z = q.mul(&z, &x)?;
                }
                q.reveal(&z)
            };
            if failing == 0 {
                p.side_by_side(refuse, long)
            } else {
                p.side_by_side(long, refuse)
            }
        });
        // Every party fails. One whose half had not reached the refusal when a peer's
        // abort (or its closed connection) arrived reports that; any other failure is the
        // refusal itself.
        for (i, e) in r.iter().enumerate() {
            match e {
                Err(MpcError::Invalid(m)) => assert_eq!(m, "refused", "party {i}"),
                Err(MpcError::Net(_)) => {}
                other => panic!("failing half {failing}, party {i}: {other:?}"),
            }
        }
        assert!(
            r.iter()
                .any(|e| matches!(e, Err(MpcError::Invalid(m)) if m == "refused")),
            "failing half {failing}: no party reports the refusal: {r:?}"
        );
    }
}

/// Analyses run side by side (`run_forked`), each using `side_by_side` again and again:
/// every party must get every product right. Sub-channel ids drawn by sub-parties on
/// several threads came out in a different order at each party, so messages reached the
/// wrong sub-session ("malformed message" at the station service, 2026-12-03).
#[test]
fn side_by_side_inside_forked_jobs_keeps_every_message_on_its_channel() {
    let x: Vec<u64> = (0..64).map(|i| i * 7919 % 1013 + 1).collect();
    let want: Vec<u64> = x.iter().map(|v| v * v * v).collect();
    for _ in 0..3 {
        let r = run3_ok(|p| {
            let sx = input(p, 0, &x);
            let out = p
                .run_forked(
                    6,
                    3,
                    |_| {},
                    |j, q| {
                        let mut got = Vec::new();
                        for step in 0..8 {
                            let (sq, cube) = q.side_by_side(
                                |h| {
                                    let s = h.mul(&sx, &sx)?;
                                    h.reveal(&s)
                                },
                                |h| {
                                    let s = h.mul(&sx, &sx)?;
                                    let c = h.mul(&s, &sx)?;
                                    h.reveal(&c)
                                },
                            )?;
                            got.push((j, step, sq.len(), cube));
                        }
                        Ok(got)
                    },
                    |_, e| e.to_string(),
                )
                .map_err(|(_, e)| e)?;
            Ok(out)
        });
        for (i, jobs) in r.iter().enumerate() {
            for job in jobs {
                for (j, step, n, cube) in job {
                    assert_eq!(*n, x.len(), "party {i}, job {j}, step {step}");
                    assert_eq!(cube, &want, "party {i}, job {j}, step {step}");
                }
            }
        }
    }
}

/// Where `h` sits in the fork tree, and `x·x` (or `x·x·x`) revealed on it.
fn leaf(h: &mut Party, sx: &AShare<u64>, cube: bool) -> Result<(Vec<u64>, Vec<u64>)> {
    let id = h.endpoint().channel().path().to_vec();
    let mut s = h.mul(sx, sx)?;
    if cube {
        s = h.mul(&s, sx)?;
    }
    Ok((id, h.reveal(&s)?))
}

/// Forks three deep on several threads at once: analyses (`run_forked`, 5 on 3 threads),
/// each calling `side_by_side` whose first half calls `side_by_side` again. Every party
/// must place every leaf at the same channel id (its path in the fork tree) and get every
/// product right.
#[test]
fn nested_forks_three_deep_on_threads_get_the_same_channel_ids_at_every_party() {
    let x: Vec<u64> = (0..40).map(|i| i * 31 % 97 + 2).collect();
    let sq: Vec<u64> = x.iter().map(|v| v * v).collect();
    let cube: Vec<u64> = x.iter().map(|v| v * v * v).collect();
    type Leaves = Vec<(Vec<u64>, Vec<u64>)>;
    let r: [Vec<Leaves>; 3] = run3_ok(|p| {
        let sx = input(p, 0, &x);
        p.run_forked(
            5,
            3,
            |_| {},
            |_, q| {
                let mut leaves = Vec::new();
                for _ in 0..4 {
                    let ((l1, l2), l3) = q.side_by_side(
                        |h| h.side_by_side(|g| leaf(g, &sx, true), |g| leaf(g, &sx, false)),
                        |h| leaf(h, &sx, true),
                    )?;
                    leaves.extend([l1, l2, l3]);
                }
                Ok(leaves)
            },
            |_, e| e.to_string(),
        )
        .map_err(|(_, e)| e)
    });
    for (i, jobs) in r.iter().enumerate() {
        for (j, leaves) in jobs.iter().enumerate() {
            for (k, (id, got)) in leaves.iter().enumerate() {
                let want = if k % 3 == 1 { &sq } else { &cube };
                assert_eq!(got, want, "party {i}, job {j}, leaf {k} on channel {id:?}");
            }
        }
    }
    let ids = |jobs: &Vec<Leaves>| -> Vec<Vec<u64>> {
        jobs.iter()
            .flat_map(|l| l.iter().map(|(id, _)| id.clone()))
            .collect()
    };
    let [a, b, c] = r.each_ref().map(ids);
    assert_eq!(
        a, b,
        "parties 0 and 1 placed the sub-computations differently"
    );
    assert_eq!(
        b, c,
        "parties 1 and 2 placed the sub-computations differently"
    );
    // The root's first fork: the jobs are channels 0 to 4. Job 3's second step forks it
    // into 3.2 and 3.3 (its third and fourth sub-parties), and 3.2 into 3.2.0 and 3.2.1.
    assert_eq!(
        &a[3 * 12..3 * 12 + 6][3..],
        &[vec![3, 2, 0], vec![3, 2, 1], vec![3, 3]]
    );
    assert_eq!(a.iter().filter(|id| id.len() == 3).count(), 5 * 4 * 2);
    let distinct: std::collections::BTreeSet<_> = a.iter().collect();
    assert_eq!(distinct.len(), a.len(), "a channel id used twice");
}
