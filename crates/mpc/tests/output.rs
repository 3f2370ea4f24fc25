//! Outputs that leave the computation shared: sealing, delivering with commitments, and the
//! recipient's reconstruction, which names a party that altered what it stored.

use proptest::prelude::*;
use tessera_mpc::output::reconstruct_shares;
use tessera_mpc::testing::{input, run3_ok};
use tessera_mpc::{reconstruct, Delivery, OutputError, OutputShares};

fn values() -> impl Strategy<Value = Vec<u128>> {
    proptest::collection::vec(
        prop_oneof![
            Just(0u128),
            Just(1),
            Just(u128::MAX),
            Just(1 << 127),
            any::<u128>()
        ],
        0..64,
    )
}

/// The three parties seal `v` (input by `owner`) and commit to it; their deliveries.
fn deliver(v: &[u128], owner: usize) -> [Delivery; 3] {
    run3_ok(|p| {
        let x = input(p, owner, v);
        let sealed = p.seal(&x)?;
        Ok(p.deliveries(vec![sealed])?.remove(0))
    })
}

/// Party `i`'s delivery with the byte at `offset` of its encoding flipped.
fn altered(d: &Delivery, offset: usize) -> Delivery {
    let mut bytes = d.to_bytes();
    bytes[offset] ^= 0x5a;
    Delivery::from_bytes(&bytes).expect("still well formed")
}

/// Where party shares start in a delivery's encoding: salt, three commitments, party byte,
/// length.
const SHARES_AT: usize = 32 + 3 * 32 + 1 + 8;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn seal_then_reconstruct_gives_the_plaintext(v in values(), owner in 0usize..3) {
        let parts = run3_ok(|p| {
            let x = input(p, owner, &v);
            let s0 = p.stats();
            let sealed = p.seal(&x)?;
            let st = p.stats().since(&s0);
            assert_eq!(st.bytes_sent, 16 * v.len() as u64, "one element per value");
            Ok(sealed)
        });
        for (i, part) in parts.iter().enumerate() {
            prop_assert_eq!(part.party(), i);
            prop_assert_eq!(part.len(), v.len());
        }
        let got = reconstruct_shares([&parts[0], &parts[1], &parts[2]]).unwrap();
        prop_assert_eq!(got, v);
    }

    #[test]
    fn deliveries_then_reconstruct_give_the_plaintext(v in values(), owner in 0usize..3) {
        let [a, b, c] = deliver(&v, owner);
        // Every party recorded the same three commitments.
        prop_assert_eq!(a.commitments, b.commitments);
        prop_assert_eq!(b.commitments, c.commitments);
        prop_assert_eq!(reconstruct([&a, &b, &c]).unwrap(), v);
    }

    #[test]
    fn altered_shares_name_their_party(
        v in proptest::collection::vec(any::<u128>(), 1..32),
        who in 0usize..3,
        at in any::<prop::sample::Index>(),
    ) {
        let mut d = deliver(&v, 0);
        let offset = SHARES_AT + at.index(32 * v.len());
        d[who] = altered(&d[who], offset);
        let e = reconstruct([&d[0], &d[1], &d[2]]).unwrap_err();
        prop_assert_eq!(e, OutputError::Altered { parties: vec![who] });
    }

    #[test]
    fn an_altered_record_names_the_recorder(
        v in values(),
        recorder in 0usize..3,
        step in 1usize..3,
        byte in 0usize..32,
    ) {
        let mut d = deliver(&v, 1);
        let of = (recorder + step) % 3;
        d[recorder] = altered(&d[recorder], 32 + 32 * of + byte);
        let e = reconstruct([&d[0], &d[1], &d[2]]).unwrap_err();
        prop_assert_eq!(e, OutputError::Altered { parties: vec![recorder] });
    }

    #[test]
    fn encodings_round_trip_and_refuse_truncation(v in values(), cut in any::<prop::sample::Index>()) {
        let d = deliver(&v, 2);
        for x in &d {
            let bytes = x.to_bytes();
            prop_assert_eq!(&Delivery::from_bytes(&bytes).unwrap(), x);
            let shares = x.shares.to_bytes();
            prop_assert_eq!(&OutputShares::from_bytes(&shares).unwrap(), &x.shares);
            let short = cut.index(bytes.len());
            prop_assert!(Delivery::from_bytes(&bytes[..short]).is_err());
            let short = cut.index(shares.len());
            prop_assert!(OutputShares::from_bytes(&shares[..short]).is_err());
            let mut long = shares.clone();
            long.push(0);
            prop_assert!(OutputShares::from_bytes(&long).is_err());
        }
    }
}

/// Parts in the wrong order or of different outputs do not fit together.
#[test]
fn mismatched_parts_are_refused() {
    let [a, b, c] = deliver(&[7, 8, 9], 0);
    assert!(matches!(
        reconstruct([&b, &a, &c]),
        Err(OutputError::Mismatch(_))
    ));
    let [x, _, _] = deliver(&[7, 8], 0);
    assert!(matches!(
        reconstruct([&x, &b, &c]),
        Err(OutputError::Mismatch(_))
    ));
    // Without commitments, a share that disagrees with its replica names both holders.
    let mut bytes = b.shares.to_bytes();
    bytes[9] ^= 1; // party 1's first share is s1, also held by party 0
    let b1 = OutputShares::from_bytes(&bytes).unwrap();
    assert_eq!(
        reconstruct_shares([&a.shares, &b1, &c.shares]),
        Err(OutputError::Altered {
            parties: vec![0, 1]
        })
    );
}

/// One party's parts alone show nothing of the values: each of its shares, and their sum,
/// differ from every value (for random values; a chance match has probability 2^-128).
#[test]
fn one_party_alone_holds_no_value() {
    let v: Vec<u128> = (0..16u128)
        .map(|i| i * 0x1234_5678_9abc_def1 + 17)
        .collect();
    let d = deliver(&v, 0);
    for x in &d {
        let bytes = x.shares.to_bytes();
        let words: Vec<u128> = bytes[9..]
            .chunks_exact(16)
            .map(|c| u128::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let (a, b) = words.split_at(v.len());
        for i in 0..v.len() {
            assert_ne!(a[i], v[i]);
            assert_ne!(b[i], v[i]);
            assert_ne!(a[i].wrapping_add(b[i]), v[i]);
        }
    }
}

/// The words of a sealed output as stored: its `a` parts, then its `b` parts.
fn words(s: &OutputShares) -> Vec<u128> {
    s.to_bytes()[9..]
        .chunks_exact(16)
        .map(|c| u128::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Sealing re-randomises: a party's sealed parts are not its shares of the value (which
/// the computation leading to it may have shown in part), and sealing the same value twice
/// gives fresh parts each time, while both reconstruct to the value. Were `seal` the
/// identity, the first assertion would fail.
#[test]
fn sealing_rerandomises_the_shares() {
    let v: Vec<u128> = (0..32u128).map(|i| i * 0x9e37_79b9_7f4a_7c15 + 3).collect();
    let out = run3_ok(|p| {
        let x = input(p, 0, &v);
        let (s1, s2) = (p.seal(&x)?, p.seal(&x)?);
        let mut before = x.a.clone();
        before.extend_from_slice(&x.b);
        Ok((before, s1, s2))
    });
    for (before, s1, s2) in &out {
        let (w1, w2) = (words(s1), words(s2));
        assert_eq!(w1.len(), before.len());
        assert!(
            w1.iter().zip(before).all(|(a, b)| a != b),
            "sealed parts are the shares"
        );
        assert!(
            w1.iter().zip(&w2).all(|(a, b)| a != b),
            "two seals gave the same parts"
        );
    }
    let [a, b, c] = out;
    assert_eq!(reconstruct_shares([&a.1, &b.1, &c.1]).unwrap(), v);
    assert_eq!(reconstruct_shares([&a.2, &b.2, &c.2]).unwrap(), v);
}
