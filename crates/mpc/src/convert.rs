//! Conversions between arithmetic and boolean sharings, and the adders they rest on.
//!
//! Arithmetic to boolean uses the observation of ABY3: party 0 knows `s0 + s1`, parties 1
//! and 2 know `s2`, so `x` is the sum of two values each known to someone. Party 0
//! boolean-shares its value (one word per 64 bits, sent to party 1 only); `s2` needs no
//! communication; a boolean adder finishes the job. Only the bits a caller needs are built:
//! the most significant bit takes a carry tree, not a full adder, with its lowest levels
//! folded into the dealing ([`crate::carry`]).

use crate::boolean::{from_planes, to_planes, words_for, BShare};
use crate::error::Result;
use crate::party::Party;
use crate::ring::Ring;
use crate::share::AShare;

/// The two addends of an arithmetic sharing, as boolean sharings of their low `w` bits.
struct Addends {
    a: Vec<BShare>,
    c: Vec<BShare>,
}

impl Party {
    /// Splits `x` into `s0 + s1` (boolean-shared by party 0) and `s2` (held by parties 1
    /// and 2), `w` low bits each; `negate_c` uses `-s2` instead. One round.
    fn addends<R: Ring>(&mut self, x: &AShare<R>, w: usize, negate_c: bool) -> Result<Addends> {
        let me = self.id();
        let n = x.len();
        let words = words_for(n);
        // Party 0 deals s0 + s1, plane by plane, in one message.
        let mine: Option<Vec<u64>> = (me == 0).then(|| {
            let v: Vec<R> = x.a.iter().zip(&x.b).map(|(&p, &q)| p.add(q)).collect();
            to_planes(&v, w).concat()
        });
        let dealt = self.share_bits(0, mine.as_deref(), w * words)?;
        let a = (0..w)
            .map(|p| BShare {
                a: dealt.a[p * words..(p + 1) * words].to_vec(),
                b: dealt.b[p * words..(p + 1) * words].to_vec(),
            })
            .collect();
        // s2 is party 1's second share and party 2's first.
        let s2: Vec<R> = match me {
            1 => x.b.clone(),
            2 => x.a.clone(),
            _ => vec![R::ZERO; n],
        };
        let s2: Vec<R> = if negate_c {
            s2.iter().map(|v| v.neg()).collect()
        } else {
            s2
        };
        let planes = to_planes(&s2, w);
        let c = planes
            .iter()
            .map(|p| BShare::known_by_pair(me, 2, p))
            .collect();
        Ok(Addends { a, c })
    }

    /// Kogge–Stone carry lookahead: from generate and propagate planes of positions
    /// `0..w`, the carry out of every position. `log2(w)` rounds.
    fn carries(&mut self, g: Vec<BShare>, p: Vec<BShare>) -> Result<Vec<BShare>> {
        let w = g.len();
        let (mut gg, mut pp) = (g, p);
        let mut s = 1;
        while s < w {
            let mut pairs: Vec<(&BShare, &BShare)> = (s..w).map(|j| (&pp[j], &gg[j - s])).collect();
            let need_p = 2 * s < w;
            if need_p {
                pairs.extend((2 * s..w).map(|j| (&pp[j], &pp[j - s])));
            }
            let out = self.and_many(&pairs)?;
            let (gpart, ppart) = out.split_at(w - s);
            for (j, t) in (s..w).zip(gpart) {
                gg[j] = gg[j].xor(t);
            }
            if need_p {
                for (j, t) in (2 * s..w).zip(ppart) {
                    pp[j] = t.clone();
                }
            }
            s *= 2;
        }
        Ok(gg)
    }

    /// Group generate of all positions (the carry out of the top), by a balanced tree:
    /// `ceil(log2 w)` rounds, about `2w` and gates.
    pub(crate) fn carry_out(&mut self, g: Vec<BShare>, p: Vec<BShare>) -> Result<BShare> {
        // Each group: (generate, propagate); the lowest group's propagate is never needed.
        let mut groups: Vec<(BShare, BShare)> = g.into_iter().zip(p).collect();
        while groups.len() > 1 {
            let pairs_n = groups.len() / 2;
            let mut pairs: Vec<(&BShare, &BShare)> = Vec::new();
            for t in 0..pairs_n {
                let (lo, hi) = (&groups[2 * t], &groups[2 * t + 1]);
                pairs.push((&hi.1, &lo.0));
                if t > 0 {
                    pairs.push((&hi.1, &lo.1));
                }
            }
            let out = self.and_many(&pairs)?;
            let mut it = out.into_iter();
            let mut next = Vec::with_capacity(groups.len().div_ceil(2));
            for t in 0..pairs_n {
                let hg = &groups[2 * t + 1].0;
                let gnew = hg.xor(&it.next().expect("generate term"));
                let pnew = if t > 0 {
                    it.next().expect("propagate term")
                } else {
                    BShare::default()
                };
                next.push((gnew, pnew));
            }
            if groups.len() % 2 == 1 {
                next.push(groups.pop().expect("odd group"));
            }
            groups = next;
        }
        Ok(groups.pop().map(|g| g.0).unwrap_or_default())
    }

    /// Carry out of the top position when the two addends of `x` (`s0 + s1` and `s2`, each
    /// reduced modulo 2^w) are added: whether their sum as integers reaches 2^w. Used to
    /// lift Z_2^64 to Z_2^128 (see `sort.rs`). [`crate::carry::carry_rounds`] rounds.
    pub(crate) fn addend_carry<R: Ring>(&mut self, x: &AShare<R>, w: usize) -> Result<BShare> {
        Ok(self.block_carry(x, w, false)?.0)
    }

    /// Sum of two boolean-shared `w`-bit numbers modulo 2^w (one round for the generate
    /// bits, then `log2 w` rounds of carries).
    fn add_bits(&mut self, x: &[BShare], y: &[BShare]) -> Result<Vec<BShare>> {
        let pairs: Vec<(&BShare, &BShare)> = x.iter().zip(y).collect();
        let g = self.and_many(&pairs)?;
        let p: Vec<BShare> = x.iter().zip(y).map(|(u, v)| u.xor(v)).collect();
        let c = self.carries(g, p.clone())?;
        Ok(sum_bits(&p, &c))
    }

    /// Bit decomposition: the low `w` bits of each element as boolean planes (plane `j` is
    /// bit `j`). Exact modulo 2^w. `2 + log2 w` rounds.
    pub fn a2b<R: Ring>(&mut self, x: &AShare<R>, w: usize) -> Result<Vec<BShare>> {
        assert!(
            w >= 1 && w <= R::BITS as usize,
            "bit width {w} out of range"
        );
        let ad = self.addends(x, w, false)?;
        self.add_bits(&ad.a, &ad.c)
    }

    /// The low `w` bits of each element (planes) and its sign, for elements known to lie in
    /// `[-2^(width-1), 2^(width-1))`: only `width` bits are decomposed. The low bits and the
    /// sign share one dealing and one layer of generate gates; the sign's carry tree starts
    /// from the carry out of bit `w - 1` that the adder already produced.
    pub fn a2b_with_sign<R: Ring>(
        &mut self,
        x: &AShare<R>,
        w: usize,
        width: usize,
    ) -> Result<(Vec<BShare>, BShare)> {
        assert!(
            w >= 1 && w < width && width <= R::BITS as usize,
            "bit widths {w}, {width} out of range"
        );
        let k = width;
        let (g, p) = self.generate_propagate(x, k)?;
        let carries = self.carries(g[..w].to_vec(), p[..w].to_vec())?;
        let low = sum_bits(&p[..w], &carries);
        let mut gs = vec![carries[w - 1].clone()];
        gs.extend_from_slice(&g[w..]);
        let mut ps = vec![BShare::default()];
        ps.extend_from_slice(&p[w..k - 1]);
        let carry = self.carry_out(gs, ps)?;
        Ok((low, p[k - 1].xor(&carry)))
    }

    /// Most significant bit (the sign, in two's complement) of each element.
    /// [`crate::carry::carry_rounds`]`(k - 1)` rounds (6 for k = 64, 7 for k = 128); per
    /// element party 0 sends [`crate::carry::carry_bits`]`(k - 1, true)` bits.
    pub fn msb<R: Ring>(&mut self, x: &AShare<R>) -> Result<BShare> {
        self.sign_within(x, R::BITS as usize)
    }

    /// The sign of each element, for elements known to lie in
    /// `[-2^(width-1), 2^(width-1))`: bit `width - 1` of the sum modulo 2^width, the xor of
    /// that position's propagate bit and the carry into it ([`crate::carry`]), which costs
    /// the carries of `width - 1` positions instead of the ring's full width.
    pub fn sign_within<R: Ring>(&mut self, x: &AShare<R>, width: usize) -> Result<BShare> {
        assert!(
            width >= 2 && width <= R::BITS as usize,
            "sign width {width} out of range"
        );
        let (carry, top) = self.block_carry(x, width - 1, true)?;
        Ok(top.expect("asked for the top bit").xor(&carry))
    }

    /// Generate bits (positions `0..width-1`) and propagate bits (`0..width`) of the two
    /// addends of `x` modulo 2^width: one dealing round and one round of and gates.
    fn generate_propagate<R: Ring>(
        &mut self,
        x: &AShare<R>,
        width: usize,
    ) -> Result<(Vec<BShare>, Vec<BShare>)> {
        let ad = self.addends(x, width, false)?;
        let pairs: Vec<(&BShare, &BShare)> =
            ad.a[..width - 1].iter().zip(&ad.c[..width - 1]).collect();
        let g = self.and_many(&pairs)?;
        let p = ad.a.iter().zip(&ad.c).map(|(u, v)| u.xor(v)).collect();
        Ok((g, p))
    }

    /// Whether each element is zero: `s0 + s1 == -s2`, tested bitwise with an and tree.
    /// `1 + log2 k` rounds, about `k` and gates per element.
    pub fn is_zero<R: Ring>(&mut self, x: &AShare<R>) -> Result<BShare> {
        let w = R::BITS as usize;
        let ad = self.addends(x, w, true)?;
        let mut bits: Vec<BShare> =
            ad.a.iter()
                .zip(&ad.c)
                .map(|(u, v)| self.not(&u.xor(v)))
                .collect();
        while bits.len() > 1 {
            let half = bits.len() / 2;
            let pairs: Vec<(&BShare, &BShare)> = (0..half)
                .map(|t| (&bits[2 * t], &bits[2 * t + 1]))
                .collect();
            let mut next = self.and_many(&pairs)?;
            if bits.len() % 2 == 1 {
                next.push(bits.pop().expect("odd plane"));
            }
            bits = next;
        }
        Ok(bits.pop().unwrap_or_default())
    }

    /// Bit injection: shared bits (packed, `n` of them) to arithmetic sharings of 0 or 1.
    /// Several bit vectors are converted together. Two rounds, one element per party:
    /// with `t = β0 ⊕ β1` (known to party 0) and `c = β2` (known to parties 1 and 2),
    /// `t ⊕ c = c + σt` where `σ = 1 - 2c`. Party 0 sends `u = t + ρ` to party 1 (`ρ` from
    /// the seed of parties 0 and 2), so parties 1 and 2 hold `c + σu` and `σρ`; they turn
    /// this two-party sharing into a replicated one by sending party 0 its two shares,
    /// masked with their common seed.
    pub fn inject<R: Ring>(&mut self, bits: &[&BShare], n: usize) -> Result<Vec<AShare<R>>> {
        let me = self.id();
        let lens = vec![n; bits.len()];
        let bit = |w: u64, k: usize| w >> (k % 64) & 1 == 1;
        match me {
            0 => {
                let mut u = Vec::with_capacity(bits.len());
                for b in bits {
                    let rho: Vec<R> = self.prev.vec(n);
                    u.push(
                        (0..n)
                            .map(|k| {
                                if bit(b.a[k / 64] ^ b.b[k / 64], k) {
                                    rho[k].add(R::ONE)
                                } else {
                                    rho[k]
                                }
                            })
                            .collect::<Vec<R>>(),
                    );
                }
                self.send_parts(1, &u.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
                let s1 = self.recv_parts(1, &lens)?;
                let s0 = self.recv_parts(2, &lens)?;
                Ok(s0
                    .into_iter()
                    .zip(s1)
                    .map(|(a, b)| AShare { a, b })
                    .collect())
            }
            1 => {
                let masks: Vec<(Vec<R>, Vec<R>)> = bits
                    .iter()
                    .map(|_| (self.next.vec(n), self.next.vec(n)))
                    .collect();
                let u = self.recv_parts::<R>(0, &lens)?;
                let mut out = Vec::with_capacity(bits.len());
                for ((b, (s2, m2)), u) in bits.iter().zip(masks).zip(u) {
                    let s1: Vec<R> = (0..n)
                        .map(|k| {
                            // c + σu with σ = 1 - 2c.
                            let cu = if bit(b.b[k / 64], k) {
                                R::ONE.sub(u[k])
                            } else {
                                u[k]
                            };
                            cu.sub(s2[k]).sub(m2[k])
                        })
                        .collect();
                    out.push(AShare { a: s1, b: s2 });
                }
                self.send_parts(0, &out.iter().map(|s| s.a.as_slice()).collect::<Vec<_>>())?;
                Ok(out)
            }
            _ => {
                let mut out = Vec::with_capacity(bits.len());
                for b in bits {
                    let rho: Vec<R> = self.next.vec(n);
                    let s2: Vec<R> = self.prev.vec(n);
                    let m2: Vec<R> = self.prev.vec(n);
                    // σρ with the sign flipped: -σρ + m2.
                    let s0: Vec<R> = (0..n)
                        .map(|k| {
                            if bit(b.a[k / 64], k) {
                                rho[k].add(m2[k])
                            } else {
                                m2[k].sub(rho[k])
                            }
                        })
                        .collect();
                    out.push(AShare { a: s2, b: s0 });
                }
                self.send_parts(0, &out.iter().map(|s| s.b.as_slice()).collect::<Vec<_>>())?;
                Ok(out)
            }
        }
    }

    /// Boolean-shared `w`-bit numbers (planes, `n` elements) to an arithmetic sharing in
    /// `R`. The parties subtract two pairwise-random masks `r1` (parties 0, 1) and `r2`
    /// (parties 1, 2) with boolean adders and open `y = v - r1 - r2` to parties 0 and 2
    /// only; each of them misses one mask, so `y` is uniform to it. `3 + log2 k` rounds.
    pub fn b2a<R: Ring>(&mut self, planes: &[BShare], n: usize) -> Result<AShare<R>> {
        let me = self.id();
        let k = R::BITS as usize;
        let words = words_for(n);
        // r1 is seed k1's stream (party 0's next, party 1's prev); r2 is k2's (1's next, 2's prev).
        let r1: Vec<R> = match me {
            0 => self.next.vec(n),
            1 => self.prev.vec(n),
            _ => vec![R::ZERO; n],
        };
        let r2: Vec<R> = match me {
            1 => self.next.vec(n),
            2 => self.prev.vec(n),
            _ => vec![R::ZERO; n],
        };
        let neg = |v: &[R]| -> Vec<R> { v.iter().map(|x| x.neg()).collect() };
        let u: Vec<BShare> = to_planes(&neg(&r1), k)
            .iter()
            .map(|p| BShare::known_by_pair(me, 1, p))
            .collect();
        let v: Vec<BShare> = to_planes(&neg(&r2), k)
            .iter()
            .map(|p| BShare::known_by_pair(me, 2, p))
            .collect();
        let zero = BShare::zeros(words);
        let x: Vec<&BShare> = (0..k).map(|j| planes.get(j).unwrap_or(&zero)).collect();
        // Carry-save: x + u + v = s + 2c with c = maj(x, u, v) = ((x ^ v) & (u ^ v)) ^ v.
        let xv: Vec<BShare> = (0..k).map(|j| x[j].xor(&v[j])).collect();
        let uv: Vec<BShare> = (0..k).map(|j| u[j].xor(&v[j])).collect();
        let pairs: Vec<(&BShare, &BShare)> = xv.iter().zip(&uv).collect();
        let m = self.and_many(&pairs)?;
        let s: Vec<BShare> = (0..k).map(|j| xv[j].xor(&u[j])).collect();
        let mut c: Vec<BShare> = vec![BShare::zeros(words)];
        c.extend((0..k - 1).map(|j| m[j].xor(&v[j])));
        let y = self.add_bits(&s, &c)?;
        let flat = BShare {
            a: y.iter().flat_map(|p| p.a.clone()).collect(),
            b: y.iter().flat_map(|p| p.b.clone()).collect(),
        };
        let opened = self.reveal_bits_to(&flat, &[0, 2])?;
        let yv: Option<Vec<R>> = opened.map(|o| {
            let refs: Vec<&[u64]> = o.chunks(words.max(1)).take(k).collect();
            if words == 0 {
                Vec::new()
            } else {
                from_planes(&refs, n)
            }
        });
        Ok(match me {
            0 => AShare {
                a: yv.expect("party 0 receives y"),
                b: r1,
            },
            1 => AShare { a: r1, b: r2 },
            _ => AShare {
                a: r2,
                b: yv.expect("party 2 receives y"),
            },
        })
    }
}

/// Sum bits of an adder from its propagate bits and the carry out of every position.
fn sum_bits(p: &[BShare], carries: &[BShare]) -> Vec<BShare> {
    (0..p.len())
        .map(|j| {
            if j == 0 {
                p[0].clone()
            } else {
                p[j].xor(&carries[j - 1])
            }
        })
        .collect()
}
