//! Carries of the sum of an arithmetic sharing's two addends, with the lowest levels of the
//! carry tree folded into the dealing ("block carries"). Used by the sign
//! ([`Party::sign_within`], so every comparison) and by the lift of `sort.rs`.
//!
//! # Protocol
//!
//! The addends are `a = s0 + s1` (known to party 0) and `c = s2` (known to parties 1 and 2),
//! see [`crate::convert`]. The positions are cut into blocks of `k` bits ([`block_size`]). A
//! block's group generate `G = [a_blk + c_blk ≥ 2^k]` (its carry out) and group propagate
//! `P = [a_blk + c_blk = 2^k − 1]` are functions of the block's bits; written in algebraic
//! normal form each is a xor of monomials `a^S·c^T` ([`BlockForm`]). So
//! `G = ⊕_T (⊕_S a^S)·c^T`: party 0 deals every product `a^S` (S nonempty) in one
//! message, parties 1 and 2 compute every `c^T` locally, and the xor of and gates is one
//! resharing (in replicated sharing a sum of products costs what one product costs: one bit
//! per party). A block's (G, P) thus takes the dealing round and one round of gates, the two
//! rounds the plain scheme spends on single positions' generate bits; the carry tree then
//! runs over `ceil(n/k)` groups instead of `n` positions, `log2 k` rounds fewer.
//!
//! # Cost
//!
//! `2 + ceil(log2 ceil(n/k))` rounds for the carry out of `n` positions. Party 0 sends
//! `2^k − 1` dealt bits per block (instead of `k`), one bit per block output and the carry
//! tree's gates over the blocks ([`carry_bits`]); [`block_size`] picks the `k` in 2..=5 with
//! the fewest rounds, then the fewest bits. For the 64-bit sign that is `k = 4`: 6 rounds
//! (8 with the plain carry tree) and 290 bits (245); for the sort's comparisons of width 79
//! (10^4 rows, 64-bit keys) `k = 5`: 6 rounds (9) and 530 bits (304).
//!
//! Nothing is opened.

use std::sync::OnceLock;

use crate::boolean::{to_planes, words_for, BShare};
use crate::cost::tree_ands;
use crate::error::Result;
use crate::party::Party;
use crate::ring::Ring;
use crate::share::AShare;

/// Largest block size considered (party 0 deals `2^k − 1` bits per block).
const MAX_BLOCK: usize = 5;

/// A block's group generate and propagate in algebraic normal form over its `k` bits of
/// `a` and of `c`: monomials `(S, T)`, bit masks of the a- and c-bits multiplied.
#[derive(Debug)]
pub struct BlockForm {
    /// Monomials of the group generate.
    pub g: Vec<(usize, usize)>,
    /// Monomials of the group propagate.
    pub p: Vec<(usize, usize)>,
    /// The products `a^S` (S nonempty) that occur, in dealing order.
    pub dealt: Vec<usize>,
    /// The generate and the propagate grouped for evaluation.
    outputs: [Output; 2],
}

/// One output's monomials grouped by what they cost: `⊕_T (⊕ dealt[i])·c^T` (and gates),
/// plus the xor of dealt products alone and of `c^T` alone (local).
#[derive(Debug, Default)]
struct Output {
    /// `(T, indices into dealt)` for T nonempty with some S nonempty.
    gates: Vec<(usize, Vec<usize>)>,
    /// Dealt products that appear without any c bit.
    a_only: Vec<usize>,
    /// `c^T` that appear without any a bit.
    c_only: Vec<usize>,
}

impl Output {
    fn new(mono: &[(usize, usize)], dealt: &[usize]) -> Output {
        let idx = |s: usize| dealt.binary_search(&s).expect("dealt monomial");
        let mut out = Output::default();
        for &(s, t) in mono {
            match (s, t) {
                (0, 0) => unreachable!("carries have no constant term"),
                (0, t) => out.c_only.push(t),
                (s, 0) => out.a_only.push(idx(s)),
                (s, t) => match out.gates.iter_mut().find(|(u, _)| *u == t) {
                    Some((_, v)) => v.push(idx(s)),
                    None => out.gates.push((t, vec![idx(s)])),
                },
            }
        }
        out
    }
}

impl BlockForm {
    fn new(k: usize) -> BlockForm {
        let anf = |f: &dyn Fn(usize, usize) -> bool| -> Vec<(usize, usize)> {
            let mask = (1usize << k) - 1;
            let mut t: Vec<u8> = (0..1usize << (2 * k))
                .map(|i| u8::from(f(i & mask, i >> k)))
                .collect();
            // Möbius transform: truth table to the coefficients of the monomials.
            for v in 0..2 * k {
                for i in 0..t.len() {
                    if i >> v & 1 == 1 {
                        t[i] ^= t[i ^ (1 << v)];
                    }
                }
            }
            (0..t.len())
                .filter(|&i| t[i] == 1)
                .map(|i| (i & mask, i >> k))
                .collect()
        };
        let full = 1usize << k;
        let g = anf(&|a, c| a + c >= full);
        let p = anf(&|a, c| a + c == full - 1);
        let mut dealt: Vec<usize> = g
            .iter()
            .chain(&p)
            .map(|&(s, _)| s)
            .filter(|&s| s != 0)
            .collect();
        dealt.sort_unstable();
        dealt.dedup();
        let outputs = [Output::new(&g, &dealt), Output::new(&p, &dealt)];
        BlockForm {
            g,
            p,
            dealt,
            outputs,
        }
    }

    /// The form for blocks of `k` bits (1 to [`MAX_BLOCK`]), computed once.
    pub fn of(k: usize) -> &'static BlockForm {
        static FORMS: OnceLock<Vec<BlockForm>> = OnceLock::new();
        assert!((1..=MAX_BLOCK).contains(&k), "block size {k}");
        &FORMS.get_or_init(|| (1..=MAX_BLOCK).map(BlockForm::new).collect())[k - 1]
    }
}

/// The blocks `(start, size)` of `n` positions with blocks of `k` bits (the top block may be
/// shorter).
fn blocks(n: usize, k: usize) -> Vec<(usize, usize)> {
    (0..n.div_ceil(k))
        .map(|b| (b * k, k.min(n - b * k)))
        .collect()
}

/// Levels of the carry tree over `groups` groups.
fn depth(groups: usize) -> usize {
    let (mut len, mut d) = (groups, 0);
    while len > 1 {
        len = len.div_ceil(2);
        d += 1;
    }
    d
}

/// Bits party 0 sends for the carry out of `n` positions in blocks of `k`, plus one dealt
/// bit if `top` (the top position's addend bit, for a sign).
fn bits_with(n: usize, k: usize, top: bool) -> usize {
    let bl = blocks(n, k);
    let mut bits = usize::from(top);
    for (i, &(_, size)) in bl.iter().enumerate() {
        let form = BlockForm::of(size);
        bits += form.dealt.len();
        bits += usize::from(!form.outputs[0].gates.is_empty());
        if i > 0 {
            bits += usize::from(!form.outputs[1].gates.is_empty());
        }
    }
    bits + tree_ands(bl.len())
}

/// The block size for the carry out of `n` positions: fewest rounds, then fewest bits.
pub fn block_size(n: usize) -> usize {
    (2..=MAX_BLOCK)
        .min_by_key(|&k| (depth(n.div_ceil(k)), bits_with(n, k, false)))
        .expect("block sizes")
}

/// Bits party 0 sends per element for the carry out of `n` positions (with `top`: and the
/// top position's dealt addend bit, as a sign needs).
pub fn carry_bits(n: usize, top: bool) -> usize {
    bits_with(n, block_size(n), top)
}

/// Rounds of the carry out of `n` positions: dealing, block gates, the tree over blocks.
pub fn carry_rounds(n: usize) -> usize {
    2 + depth(n.div_ceil(block_size(n)))
}

/// The and of the planes `start + i` for the bits `i` of `mask`, for every mask below
/// `2^size` (index 0: all ones), each from a smaller one with one and.
fn products(planes: &[Vec<u64>], start: usize, size: usize, words: usize) -> Vec<Vec<u64>> {
    let mut out: Vec<Vec<u64>> = Vec::with_capacity(1 << size);
    out.push(vec![u64::MAX; words]);
    for mask in 1usize..1 << size {
        let low = mask.trailing_zeros() as usize;
        let v = out[mask & (mask - 1)]
            .iter()
            .zip(&planes[start + low])
            .map(|(&x, &y)| x & y)
            .collect();
        out.push(v);
    }
    out
}

impl Party {
    /// The carry out of the low `n` positions of the sum of `x`'s two addends (each taken
    /// modulo 2^n), and with `top` also the propagate bit `a_n ⊕ c_n` of position `n`
    /// (so that the sign of `x` modulo 2^(n+1) is their xor). See the module docs.
    pub(crate) fn block_carry<R: Ring>(
        &mut self,
        x: &AShare<R>,
        n: usize,
        top: bool,
    ) -> Result<(BShare, Option<BShare>)> {
        let me = self.id();
        let len = x.len();
        let words = words_for(len);
        let w = n + usize::from(top);
        let bl = blocks(n, block_size(n));
        // Party 0 deals a^S for every block (and a_n); parties 1 and 2 know c's planes.
        let mine: Option<Vec<u64>> = (me == 0).then(|| {
            let v: Vec<R> = x.a.iter().zip(&x.b).map(|(&p, &q)| p.add(q)).collect();
            let a = to_planes(&v, w);
            let mut out = Vec::new();
            for &(start, size) in &bl {
                let all = products(&a, start, size, words);
                for &s in &BlockForm::of(size).dealt {
                    out.extend_from_slice(&all[s]);
                }
            }
            if top {
                out.extend_from_slice(&a[n]);
            }
            out
        });
        let total: usize = bl
            .iter()
            .map(|&(_, s)| BlockForm::of(s).dealt.len())
            .sum::<usize>()
            + usize::from(top);
        let dealt = self.share_bits(0, mine.as_deref(), total * words)?;
        // The xor of dealt planes `at + i` for the listed `i`.
        let sum = |at: usize, idx: &[usize]| -> BShare {
            let mut out = BShare::zeros(words);
            for &i in idx {
                let r = (at + i) * words..(at + i + 1) * words;
                out.a
                    .iter_mut()
                    .zip(&dealt.a[r.clone()])
                    .for_each(|(o, &v)| *o ^= v);
                out.b
                    .iter_mut()
                    .zip(&dealt.b[r])
                    .for_each(|(o, &v)| *o ^= v);
            }
            out
        };
        // s2 is party 1's second share and party 2's first.
        let s2: Vec<R> = match me {
            1 => x.b.clone(),
            2 => x.a.clone(),
            _ => vec![R::ZERO; len],
        };
        let c = to_planes(&s2, w);
        let known = |v: &[u64]| BShare::known_by_pair(me, 2, v);

        // This party's part of the and gates: with c^T held as the share of parties 1 and 2
        // (`known_by_pair`), party 1's cross terms are `a & c^T`, party 2's
        // `(a ^ b) & c^T` (a, b its two shares of the dealt sum), party 0's nothing.
        let eff: Option<Vec<u64>> = match me {
            1 => Some(dealt.a.clone()),
            2 => Some(dealt.a.iter().zip(&dealt.b).map(|(x, y)| x ^ y).collect()),
            _ => None,
        };
        let mut cross: Vec<u64> = Vec::new();
        let mut lens: Vec<usize> = Vec::new();
        let mut local: Vec<(BShare, bool)> = Vec::new();
        let mut at = 0;
        let mut tmp = vec![0u64; words];
        for (b, &(start, size)) in bl.iter().enumerate() {
            let form = BlockForm::of(size);
            // Party 0 holds no share of c: it needs no products.
            let ct: Vec<Vec<u64>> = if me == 0 {
                Vec::new()
            } else {
                products(&c, start, size, words)
            };
            for out in &form.outputs[..if b == 0 { 1 } else { 2 }] {
                let mut lin = sum(at, &out.a_only);
                if me != 0 {
                    for &t in &out.c_only {
                        lin = lin.xor(&known(&ct[t]));
                    }
                }
                let gated = !out.gates.is_empty();
                if gated {
                    let from = cross.len();
                    cross.resize(from + words, 0);
                    if let Some(e) = &eff {
                        for (t, idx) in &out.gates {
                            tmp.iter_mut().for_each(|v| *v = 0);
                            for &i in idx {
                                let r = (at + i) * words..(at + i + 1) * words;
                                tmp.iter_mut().zip(&e[r]).for_each(|(o, &v)| *o ^= v);
                            }
                            cross[from..]
                                .iter_mut()
                                .zip(tmp.iter().zip(&ct[*t]))
                                .for_each(|(o, (&x, &y))| *o ^= x & y);
                        }
                    }
                    lens.push(words);
                }
                local.push((lin, gated));
            }
            at += form.dealt.len();
        }
        let mut summed = self.reshare_words(cross, &lens)?.into_iter();
        let outs: Vec<BShare> = local
            .into_iter()
            .map(|(lin, gated)| {
                if gated {
                    lin.xor(&summed.next().expect("one sum per gated output"))
                } else {
                    lin
                }
            })
            .collect();
        // Outputs: G of block 0, then (G, P) of every further block.
        let mut gs = vec![outs[0].clone()];
        let mut ps = vec![BShare::default()];
        for pair in outs[1..].chunks(2) {
            gs.push(pair[0].clone());
            ps.push(pair[1].clone());
        }
        let carry = self.carry_out(gs, ps)?;
        let top = top.then(|| sum(total - 1, &[0]).xor(&known(&c[n])));
        Ok((carry, top))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(m: &[(usize, usize)], a: usize, c: usize) -> bool {
        m.iter().filter(|&&(s, t)| a & s == s && c & t == t).count() % 2 == 1
    }

    #[test]
    fn forms_are_the_group_generate_and_propagate() {
        for k in 1..=MAX_BLOCK {
            let form = BlockForm::of(k);
            let full = 1 << k;
            for a in 0..full {
                for c in 0..full {
                    assert_eq!(eval(&form.g, a, c), a + c >= full, "G, k = {k}");
                    assert_eq!(eval(&form.p, a, c), a + c == full - 1, "P, k = {k}");
                }
            }
            assert_eq!(
                form.dealt.len(),
                full - 1,
                "every nonempty product of a's bits"
            );
        }
    }

    #[test]
    fn figures_quoted_in_the_docs() {
        // 64-bit sign: blocks of 4, 6 rounds (8 with the plain carry tree).
        assert_eq!(block_size(63), 4);
        assert_eq!(carry_rounds(63), 6);
        assert_eq!(carry_bits(63, true), 290);
        // 128-bit sign: 7 rounds (9 before).
        assert_eq!(carry_rounds(127), 7);
        // The sort's comparisons at 10^4 rows (w = 79): blocks of 5, 6 rounds (9 before).
        assert_eq!(block_size(78), 5);
        assert_eq!(carry_rounds(78), 6);
    }
}
