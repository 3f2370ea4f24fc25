//! The oblivious join against the plaintext join, on random and on hand-made tables.

use std::collections::BTreeSet;

use proptest::prelude::*;
use tessera_link::input::{accept, deal, share_prepared};
use tessera_link::keys::{encode_key, DateOrder, Duplicates, KeyColumn, Norm};
use tessera_link::plain::{self, rows_of, Row};
use tessera_link::{
    join, left_join, synthetic, JoinOptions, KeySpec, LinkError, Prepared, RawTable,
};
use tessera_mpc::sort::SortOptions;
use tessera_mpc::testing::{run3, same};
use tessera_mpc::{MpcError, Party};

/// How the data parties' tables reach the compute parties.
#[derive(Clone, Copy, Debug)]
enum Via {
    /// Data party `q` is compute party `q` (at most three tables).
    ComputeParties,
    /// Every data party is outside the three and deals its table.
    Dealer,
}

/// The joined table opened to every party (tests only), as plaintext rows.
fn opened_rows(p: &mut Party, j: &tessera_link::Joined) -> Result<Vec<Row>, MpcError> {
    let c64 = j
        .table
        .c64
        .iter()
        .map(|c| p.reveal(c))
        .collect::<Result<Vec<_>, _>>()?;
    let c128 = j
        .table
        .c128
        .iter()
        .map(|c| p.reveal(c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows_of(&c64, &c128))
}

/// Runs the join, opens the result, and returns the opened rows (sorted) and the
/// intersection size every party saw.
fn secure_join(tables: &[Prepared], via: Via, pivots: usize) -> (Vec<Row>, usize) {
    secure_join_keeping(tables, via, pivots, None)
}

/// [`secure_join`], or with `keep = Some(a)` the left join keeping every row of table `a`.
fn secure_join_keeping(
    tables: &[Prepared],
    via: Via,
    pivots: usize,
    keep: Option<usize>,
) -> (Vec<Row>, usize) {
    let dealt: Vec<[Vec<u8>; 3]> = tables.iter().map(deal).collect();
    let opts = JoinOptions {
        sort: SortOptions {
            key_bits: 64,
            pivots,
            ..SortOptions::default()
        },
    };
    let out = run3(|p: &mut Party| {
        let inputs = match via {
            Via::ComputeParties => (0..tables.len())
                .map(|q| share_prepared(p, q, (p.id() == q).then_some(&tables[q])))
                .collect::<Result<Vec<_>, _>>(),
            Via::Dealer => dealt.iter().map(|m| accept(&m[p.id()])).collect(),
        }
        .map_err(to_mpc)?;
        let j = match keep {
            None => join(p, &inputs, &opts),
            Some(a) => left_join(p, &inputs, a, &opts),
        }
        .map_err(to_mpc)?;
        // Layout: key, then each party's columns in order.
        let mut at64 = 1;
        let mut at128 = 0;
        for (c, t) in j.columns.iter().zip(tables) {
            assert_eq!(c.c64, at64..at64 + t.c64.len());
            assert_eq!(c.c128, at128..at128 + t.c128.len());
            at64 += t.c64.len();
            at128 += t.c128.len();
        }
        assert_eq!(j.table.c64.len(), at64);
        assert_eq!(j.table.c128.len(), at128);
        assert_eq!(j.table.check()?, j.intersection);
        Ok((opened_rows(p, &j)?, j.intersection))
    });
    same(out.map(|r| r.expect("party")))
}

fn to_mpc(e: LinkError) -> MpcError {
    match e {
        LinkError::Mpc(m) => m,
        other => MpcError::Invalid(other.to_string()),
    }
}

fn check(tables: &[Prepared], via: Via, pivots: usize) -> usize {
    let want = plain::join(tables);
    let (got, size) = secure_join(tables, via, pivots);
    assert_eq!(size, want.len(), "intersection size");
    assert_eq!(got, want);
    size
}

/// A prepared table with the given patient ids (encoded as the data party would), `c64`
/// and `c128` payload columns derived from the id and the party.
fn table(party: u64, ids: &[u64], c64: usize, c128: usize) -> Prepared {
    Prepared {
        keys: ids
            .iter()
            .map(|i| encode_key("t", &[&i.to_string()]))
            .collect(),
        c64: (0..c64 as u64)
            .map(|j| ids.iter().map(|&i| i * 1000 + party * 10 + j).collect())
            .collect(),
        c128: (0..c128 as u128)
            .map(|j| {
                ids.iter()
                    .map(|&i| ((i as u128) << 80) | ((party as u128) << 8) | j)
                    .collect()
            })
            .collect(),
        source_rows: (0..ids.len()).collect(),
    }
}

#[test]
fn no_overlap() {
    let a = table(0, &[1, 2, 3, 4, 5], 1, 1);
    let b = table(1, &[6, 7, 8], 2, 0);
    assert_eq!(check(&[a, b], Via::ComputeParties, 2), 0);
}

#[test]
fn full_overlap() {
    let ids: Vec<u64> = (0..50).collect();
    let mut rev = ids.clone();
    rev.reverse();
    let a = table(0, &ids, 2, 1);
    let b = table(1, &rev, 1, 2);
    assert_eq!(check(&[a, b], Via::ComputeParties, 1), 50);
}

#[test]
fn partial_overlap_and_no_payload() {
    let a = table(0, &(0..40).collect::<Vec<_>>(), 0, 0);
    let b = table(1, &(25..90).collect::<Vec<_>>(), 1, 0);
    assert_eq!(check(&[a, b], Via::ComputeParties, 3), 15);
}

#[test]
fn empty_tables() {
    let a = table(0, &[], 1, 1);
    let b = table(1, &[1, 2, 3], 1, 0);
    assert_eq!(check(&[a.clone(), b.clone()], Via::ComputeParties, 2), 0);
    assert_eq!(check(&[b, a.clone()], Via::Dealer, 2), 0);
    assert_eq!(check(&[a.clone(), a], Via::ComputeParties, 2), 0);
}

#[test]
fn single_rows() {
    let a = table(0, &[7], 1, 0);
    let b = table(1, &[7], 1, 0);
    assert_eq!(check(&[a.clone(), b], Via::ComputeParties, 2), 1);
    let c = table(1, &[8], 1, 0);
    assert_eq!(check(&[a, c], Via::ComputeParties, 2), 0);
}

#[test]
fn three_parties_reveal_only_the_full_intersection() {
    // A∩B is large, A∩B∩C small: only the latter is opened.
    let a = table(0, &(0..30).collect::<Vec<_>>(), 1, 1);
    let b = table(1, &(0..40).rev().collect::<Vec<_>>(), 2, 0);
    let c = table(2, &[3, 5, 29, 31, 100], 0, 1);
    assert_eq!(check(&[a, b, c], Via::ComputeParties, 2), 3);
}

#[test]
fn five_outside_data_parties() {
    let t: Vec<Prepared> = (0..5u64)
        .map(|q| {
            let ids: Vec<u64> = (0..60).filter(|i| (i + q) % 7 != 0).collect();
            table(q, &ids, (q % 3) as usize, (q % 2) as usize)
        })
        .collect();
    let want = (0..60u64)
        .filter(|i| (0..5).all(|q| (i + q) % 7 != 0))
        .count();
    assert_eq!(check(&t, Via::Dealer, 2), want);
}

#[test]
fn extreme_key_values() {
    // The sort reads keys as signed: the extremes of Z_2^64 must still match exactly.
    let raw = |ks: &[u64]| Prepared {
        keys: ks.to_vec(),
        c64: vec![ks.iter().map(|k| k ^ 1).collect()],
        c128: vec![],
        source_rows: (0..ks.len()).collect(),
    };
    let a = raw(&[0, u64::MAX, 1 << 63, (1 << 63) - 1, 5]);
    let b = raw(&[u64::MAX, 1 << 63, 6, 0, (1 << 63) + 1]);
    assert_eq!(check(&[a, b], Via::ComputeParties, 1), 3);
}

#[test]
fn synthetic_tables_with_normalisation() {
    let spec = synthetic::spec();
    let a = tessera_link::prepare(&spec, &synthetic::table(0, 3000, 1500)).unwrap();
    let b = tessera_link::prepare(&spec, &synthetic::table(1, 3000, 1500)).unwrap();
    assert_eq!(a.1.rows_out, 3000);
    assert_eq!(b.1.rows_out, 3000);
    assert_eq!(check(&[a.0, b.0], Via::ComputeParties, 1), 1500);
}

/// Composite key: date of birth + sex + postcode, written differently at each party.
#[test]
fn composite_keys_with_normalisation_and_duplicates() {
    let spec = |dup, order| KeySpec {
        columns: vec![
            KeyColumn::new("dob", &[Norm::Date(order)]),
            KeyColumn::new("sex", &[Norm::Trim, Norm::CaseFold]),
            KeyColumn::new("postcode", &[Norm::RemoveSpaces, Norm::CaseFold]),
        ],
        duplicates: dup,
        context: "study-42".into(),
    };
    let raw = |rows: &[(&str, &str, &str, u64)]| RawTable {
        keys: vec![
            rows.iter().map(|r| Some(r.0.to_string())).collect(),
            rows.iter().map(|r| Some(r.1.to_string())).collect(),
            rows.iter().map(|r| Some(r.2.to_string())).collect(),
        ],
        c64: vec![rows.iter().map(|r| r.3).collect()],
        c128: vec![],
    };
    let registry = raw(&[
        ("1950-01-31", "F", "AB1 2CD", 1),
        ("1961-12-01", "M", "EF3 4GH", 2),
        ("1961-12-01", "F", "EF3 4GH", 3),
        ("1970-06-15", "M", "IJ5 6KL", 4),
        ("", "M", "IJ5 6KL", 5),
        ("1970-02-30", "M", "IJ5 6KL", 6),
    ]);
    let gp = raw(&[
        ("31/01/1950", " f", "ab12cd", 10),
        ("01/12/1961", "m ", "ef34gh", 20),
        ("15/06/1970", "M", "IJ56KL", 30),
        ("15/06/1970", "m", "ij5 6kl", 31),
        ("01/01/1999", "F", "ZZ9 9ZZ", 40),
    ]);
    let (a, ra) =
        tessera_link::prepare(&spec(Duplicates::Refuse, DateOrder::DayFirst), &registry).unwrap();
    assert_eq!((ra.missing, ra.invalid, ra.rows_out), (1, 1, 4));
    assert_eq!(
        tessera_link::prepare(&spec(Duplicates::Refuse, DateOrder::DayFirst), &gp).unwrap_err(),
        LinkError::Duplicates { keys: 1, rows: 2 }
    );
    for (dup, kept) in [(Duplicates::KeepFirst, 30), (Duplicates::KeepLast, 31)] {
        let (b, rb) = tessera_link::prepare(&spec(dup, DateOrder::DayFirst), &gp).unwrap();
        assert_eq!(
            (rb.duplicate_keys, rb.duplicates_dropped, rb.rows_out),
            (1, 1, 4)
        );
        let want = plain::join(&[a.clone(), b.clone()]);
        let pairs: BTreeSet<(u64, u64)> = want.iter().map(|r| (r.c64[0], r.c64[1])).collect();
        assert_eq!(pairs, BTreeSet::from([(1, 10), (2, 20), (4, kept)]));
        assert_eq!(check(&[a.clone(), b], Via::ComputeParties, 2), 3);
    }
}

#[test]
fn refuses_bad_parameters() {
    let a = table(0, &[1, 2], 1, 0);
    let r = run3(|p: &mut Party| {
        let x = share_prepared(p, 0, (p.id() == 0).then_some(&a)).map_err(to_mpc)?;
        let one = join(p, std::slice::from_ref(&x), &JoinOptions::default());
        assert!(matches!(one, Err(LinkError::Invalid(_))));
        let narrow = JoinOptions {
            sort: SortOptions {
                key_bits: 32,
                pivots: 2,
                ..SortOptions::default()
            },
        };
        assert!(matches!(
            join(p, &[x.clone(), x], &narrow),
            Err(LinkError::Invalid(_))
        ));
        Ok(())
    });
    for x in r {
        x.unwrap();
    }
    let mut msg = deal(&a)[1].clone();
    msg.pop();
    assert!(accept(&msg).is_err());
    assert!(accept(&msg[..10]).is_err());
    let mut long = deal(&a)[2].clone();
    long.push(0);
    assert!(accept(&long).is_err());
}

/// Random tables: 2 to 4 parties, ids from a small universe so that overlaps of every size
/// occur, empty tables included, random column counts.
fn tables() -> impl Strategy<Value = Vec<Prepared>> {
    prop::collection::vec(
        (
            prop::collection::btree_set(0u64..40, 0..25),
            0usize..3,
            0usize..2,
            any::<u64>(),
        ),
        2..5,
    )
    .prop_map(|ts| {
        ts.into_iter()
            .enumerate()
            .map(|(q, (ids, c64, c128, seed))| {
                // Scramble the row order (the set iterates in order).
                let mut ids: Vec<u64> = ids.into_iter().collect();
                ids.sort_by_key(|i| (i ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                table(q as u64, &ids, c64, c128)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The left join keeps every row of the anchor, whichever table it is, with the
    /// others' columns or zeros; the only count it reports is the anchor's row count.
    #[test]
    fn random_tables_match_the_plaintext_left_join(t in tables(), pivots in 1usize..4, dealer in any::<bool>(), pick in any::<usize>()) {
        let via = if dealer || t.len() > 3 { Via::Dealer } else { Via::ComputeParties };
        let anchor = pick % t.len();
        let want = plain::left_join(&t, anchor);
        let (got, size) = secure_join_keeping(&t, via, pivots, Some(anchor));
        prop_assert_eq!(size, t[anchor].keys.len());
        prop_assert_eq!(got, want);
    }

    #[test]
    fn random_tables_match_the_plaintext_join(t in tables(), pivots in 1usize..4, dealer in any::<bool>()) {
        let via = if dealer || t.len() > 3 { Via::Dealer } else { Via::ComputeParties };
        let want = plain::join(&t);
        let (got, size) = secure_join(&t, via, pivots);
        prop_assert_eq!(size, want.len());
        prop_assert_eq!(got, want);
    }

    #[test]
    fn duplicate_rules_match_the_plaintext_rule(
        ids in prop::collection::vec(0u64..15, 0..30),
        other in prop::collection::btree_set(0u64..15, 0..15),
    ) {
        let spec = |d| KeySpec { duplicates: d, ..synthetic::spec() };
        let raw = RawTable {
            keys: vec![ids.iter().map(|i| Some(format!("{i:05}"))).collect()],
            c64: vec![(0..ids.len() as u64).collect()],
            c128: vec![],
        };
        let distinct: BTreeSet<u64> = ids.iter().copied().collect();
        let dups = ids.len() - distinct.len();
        let r = tessera_link::prepare(&spec(Duplicates::Refuse), &raw);
        if dups > 0 {
            let refused = matches!(r, Err(LinkError::Duplicates { .. }));
            prop_assert!(refused);
        } else {
            prop_assert!(r.is_ok());
        }
        let theirs = RawTable {
            keys: vec![other.iter().map(|i| Some(i.to_string())).collect()],
            c64: vec![other.iter().map(|&i| 100 + i).collect()],
            c128: vec![],
        };
        let (b, _) = tessera_link::prepare(&spec(Duplicates::Refuse), &theirs).unwrap();
        for rule in [Duplicates::KeepFirst, Duplicates::KeepLast] {
            let (a, rep) = tessera_link::prepare(&spec(rule), &raw).unwrap();
            prop_assert_eq!(rep.duplicates_dropped, dups);
            // Which row each id keeps, by the rule.
            let pick = |i: u64| {
                let mut rows = ids.iter().enumerate().filter(|(_, &x)| x == i).map(|(r, _)| r as u64);
                if rule == Duplicates::KeepFirst { rows.next() } else { rows.next_back() }
            };
            let want: BTreeSet<(u64, u64)> = distinct
                .intersection(&other)
                .map(|&i| (pick(i).unwrap(), 100 + i))
                .collect();
            let (got, _) = secure_join(&[a, b.clone()], Via::ComputeParties, 2);
            let got: BTreeSet<(u64, u64)> = got.iter().map(|r| (r.c64[0], r.c64[1])).collect();
            prop_assert_eq!(got, want);
        }
    }
}

/// A registry keeps its patients without a GP record (the GP's columns zero, read as
/// missing), in either input order, and patients only at the GP are dropped.
#[test]
fn left_join_keeps_the_anchor_and_zeroes_the_absent() {
    let registry = table(0, &[1, 2, 3, 4, 5, 6], 1, 2);
    let gp = table(1, &[4, 5, 6, 7, 8], 2, 1);
    let pharmacy = table(2, &[2, 6, 8, 9], 0, 1);
    for (tables, anchor) in [
        (vec![registry.clone(), gp.clone()], 0),
        (vec![gp.clone(), registry.clone()], 1),
        (vec![registry.clone(), gp.clone(), pharmacy.clone()], 0),
        (vec![gp.clone(), pharmacy.clone(), registry.clone()], 2),
    ] {
        let want = plain::left_join(&tables, anchor);
        assert_eq!(want.len(), 6);
        // Patient 1 is at the registry only: the others' columns are all zero.
        let one = want
            .iter()
            .find(|r| r.c128.iter().any(|&v| v >> 80 == 1))
            .unwrap();
        assert_eq!(one.c128.iter().filter(|&&v| v != 0).count(), 2);
        for via in [Via::ComputeParties, Via::Dealer] {
            let (got, size) = secure_join_keeping(&tables, via, 2, Some(anchor));
            assert_eq!(size, 6);
            assert_eq!(got, want, "{via:?}, anchor {anchor}");
        }
    }
    // An empty anchor keeps nothing; an empty other table keeps every anchor row.
    let (got, size) =
        secure_join_keeping(&[table(0, &[], 1, 1), gp.clone()], Via::Dealer, 1, Some(0));
    assert_eq!((got.len(), size), (0, 0));
    let (got, size) = secure_join_keeping(
        &[registry.clone(), table(1, &[], 1, 1)],
        Via::Dealer,
        1,
        Some(0),
    );
    assert_eq!(size, 6);
    assert_eq!(got, plain::left_join(&[registry, table(1, &[], 1, 1)], 0));
}

/// The study's linkage options (`JoinOptions::for_party`) in few-rounds mode
/// (`Party::few_rounds`, set by runs with added latency) give the same intersection and the
/// same joined rows as the default, inner and left join, in fewer rounds.
#[test]
fn few_rounds_linkage_is_the_same_join_in_fewer_rounds() {
    let spec = synthetic::spec();
    let tables: Vec<Prepared> = (0..2)
        .map(|q| {
            let (mut t, _) =
                tessera_link::prepare(&spec, &synthetic::table(q, 4000, 2500)).unwrap();
            let rows = t.rows() as u64;
            t.c64 = vec![(0..rows).map(|i| i * 7 + q as u64).collect()];
            t.c128 = vec![(0..rows as u128).map(|i| (i << 70) | q as u128).collect()];
            t
        })
        .collect();
    let run = |few: bool, keep: Option<usize>| {
        let out = run3(|p: &mut Party| {
            p.set_few_rounds(few);
            let inputs = (0..2)
                .map(|q| share_prepared(p, q, (p.id() == q).then_some(&tables[q])))
                .collect::<Result<Vec<_>, _>>()
                .map_err(to_mpc)?;
            p.barrier()?;
            let before = p.stats();
            let opts = JoinOptions::for_party(p);
            assert_eq!(opts.sort.few_rounds, few);
            let j = match keep {
                None => join(p, &inputs, &opts),
                Some(a) => left_join(p, &inputs, a, &opts),
            }
            .map_err(to_mpc)?;
            let rounds = p.stats().since(&before).rounds;
            Ok((
                opened_rows(p, &j)?,
                j.intersection,
                rounds,
                j.sort.passes.len(),
            ))
        });
        let [a, b, c] = out.map(|r| r.expect("party"));
        assert_eq!((&a.0, a.1), (&b.0, b.1));
        assert_eq!((&b.0, b.1), (&c.0, c.1));
        a
    };
    for keep in [None, Some(1)] {
        let want = match keep {
            None => plain::join(&tables),
            Some(a) => plain::left_join(&tables, a),
        };
        let (rows, size, rounds, passes) = run(false, keep);
        let (few_rows, few_size, few_rounds, few_passes) = run(true, keep);
        println!("keep {keep:?}: {rounds} rounds, {passes} passes; few rounds: {few_rounds} rounds, {few_passes} passes");
        assert_eq!(rows, want, "default, keep {keep:?}");
        assert_eq!(few_rows, want, "few rounds, keep {keep:?}");
        assert_eq!((size, few_size), (want.len(), want.len()));
        assert!(
            few_passes < passes && few_rounds + 20 < rounds,
            "keep {keep:?}: {few_rounds} rounds ({few_passes} passes) against {rounds} ({passes})"
        );
    }
}
