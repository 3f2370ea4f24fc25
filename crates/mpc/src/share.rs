//! Replicated shares of vectors, and the operations on them that need no communication.

use crate::party::Party;
use crate::ring::Ring;

/// This party's part of a 2-out-of-3 replicated sharing of a vector over the ring `R`:
/// `a[k] = s_i[k]` and `b[k] = s_{i+1}[k]` for party `i` (see [`crate::party`]).
/// Any two parties together can reconstruct; any single party learns nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AShare<R: Ring> {
    /// This party's first share, `s_i`.
    pub a: Vec<R>,
    /// This party's second share, `s_{i+1}`.
    pub b: Vec<R>,
}

fn zip_map<R: Ring>(x: &[R], y: &[R], f: impl Fn(R, R) -> R) -> Vec<R> {
    assert_eq!(x.len(), y.len(), "shared vectors of different lengths");
    x.iter().zip(y).map(|(&p, &q)| f(p, q)).collect()
}

/// The low 64 bits of each share: a sharing in Z_2^64 of the value modulo 2^64 (local, no
/// communication). For values below 2^63 in absolute value (counts, 0/1 bits, fixed point
/// below 2^(63 - f)) this is the same signed value.
pub fn low64(x: &AShare<u128>) -> AShare<u64> {
    AShare {
        a: x.a.iter().map(|&v| v as u64).collect(),
        b: x.b.iter().map(|&v| v as u64).collect(),
    }
}

impl<R: Ring> AShare<R> {
    /// Number of shared elements.
    pub fn len(&self) -> usize {
        self.a.len()
    }

    /// True when no element is shared.
    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }

    /// The sharing of a vector of zeros (every share zero).
    pub fn zeros(n: usize) -> Self {
        AShare {
            a: vec![R::ZERO; n],
            b: vec![R::ZERO; n],
        }
    }

    /// Elementwise sum (local).
    pub fn add(&self, o: &Self) -> Self {
        AShare {
            a: zip_map(&self.a, &o.a, R::add),
            b: zip_map(&self.b, &o.b, R::add),
        }
    }

    /// Elementwise difference (local).
    pub fn sub(&self, o: &Self) -> Self {
        AShare {
            a: zip_map(&self.a, &o.a, R::sub),
            b: zip_map(&self.b, &o.b, R::sub),
        }
    }

    /// Elementwise negation (local).
    pub fn neg(&self) -> Self {
        AShare {
            a: self.a.iter().map(|x| x.neg()).collect(),
            b: self.b.iter().map(|x| x.neg()).collect(),
        }
    }

    /// Multiplies every element by the public constant `c` (local).
    pub fn mul_const(&self, c: R) -> Self {
        AShare {
            a: self.a.iter().map(|x| x.mul(c)).collect(),
            b: self.b.iter().map(|x| x.mul(c)).collect(),
        }
    }

    /// Multiplies element `k` by the public `c[k]` (local).
    pub fn mul_public(&self, c: &[R]) -> Self {
        AShare {
            a: zip_map(&self.a, c, R::mul),
            b: zip_map(&self.b, c, R::mul),
        }
    }

    /// Adds `c · other` to this sharing in place (local); the workhorse of linear
    /// combinations with public coefficients.
    pub fn add_scaled(&mut self, other: &Self, c: R) {
        assert_eq!(
            self.len(),
            other.len(),
            "shared vectors of different lengths"
        );
        for (s, &o) in self.a.iter_mut().zip(&other.a) {
            *s = s.add(o.mul(c));
        }
        for (s, &o) in self.b.iter_mut().zip(&other.b) {
            *s = s.add(o.mul(c));
        }
    }

    /// Multiplies every element by 2^d (local, exact modulo the ring).
    pub fn shl(&self, d: u32) -> Self {
        self.mul_const(R::ONE.shl(d))
    }

    /// Inclusive prefix sums: element `k` becomes the sum of elements `0..=k` (local).
    pub fn prefix_sum(&self) -> Self {
        let scan = |v: &[R]| {
            let mut acc = R::ZERO;
            v.iter()
                .map(|&x| {
                    acc = acc.add(x);
                    acc
                })
                .collect()
        };
        AShare {
            a: scan(&self.a),
            b: scan(&self.b),
        }
    }

    /// Sum of all elements, as a sharing of length one (local).
    pub fn sum(&self) -> Self {
        let total = |v: &[R]| vec![v.iter().fold(R::ZERO, |s, &x| s.add(x))];
        AShare {
            a: total(&self.a),
            b: total(&self.b),
        }
    }

    /// Elements `range` (local).
    pub fn slice(&self, range: std::ops::Range<usize>) -> Self {
        AShare {
            a: self.a[range.clone()].to_vec(),
            b: self.b[range].to_vec(),
        }
    }

    /// Concatenation of several sharings (local); lets independent operations share rounds.
    pub fn concat(parts: &[&Self]) -> Self {
        AShare {
            a: parts.iter().flat_map(|p| p.a.iter().copied()).collect(),
            b: parts.iter().flat_map(|p| p.b.iter().copied()).collect(),
        }
    }

    /// Splits into consecutive pieces of the given lengths (local).
    pub fn split(&self, lens: &[usize]) -> Vec<Self> {
        let mut at = 0;
        lens.iter()
            .map(|&l| {
                let s = self.slice(at..at + l);
                at += l;
                s
            })
            .collect()
    }
}

impl Party {
    /// Adds the public vector `c` to a shared vector (local: only share `s_0` changes).
    pub fn add_public<R: Ring>(&self, x: &AShare<R>, c: &[R]) -> AShare<R> {
        let mut out = x.clone();
        match self.id() {
            0 => out.a = zip_map(&out.a, c, R::add),
            2 => out.b = zip_map(&out.b, c, R::add),
            _ => assert_eq!(c.len(), x.len(), "public vector of wrong length"),
        }
        out
    }

    /// Adds the public constant `c` to every element (local).
    pub fn add_const<R: Ring>(&self, x: &AShare<R>, c: R) -> AShare<R> {
        self.add_public(x, &vec![c; x.len()])
    }

    /// A sharing of the public vector `c` (local, no randomness: everyone knows it anyway).
    pub fn public<R: Ring>(&self, c: &[R]) -> AShare<R> {
        self.add_public(&AShare::zeros(c.len()), c)
    }

    /// A sharing of `n` uniformly random unknown elements (local, from the pairwise seeds).
    pub fn random<R: Ring>(&mut self, n: usize) -> AShare<R> {
        AShare {
            a: self.prev.vec(n),
            b: self.next.vec(n),
        }
    }

    /// This party's part of a 3-out-of-3 sharing of zero: the three parts sum to 0.
    pub(crate) fn zero_parts<R: Ring>(&mut self, n: usize) -> Vec<R> {
        let mut z: Vec<R> = self.prev.vec(n);
        self.next.combine(&mut z, R::sub);
        z
    }
}
