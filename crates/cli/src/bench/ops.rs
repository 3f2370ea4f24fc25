//! The engine operations the benchmark measures: inputs, the protocol call, a plaintext
//! reference to check the result against, and the protocol's cost in theory.

use tessera_mpc::boolean::{pack_bits, unpack_bits, words_for};
use tessera_mpc::fixed::{decode, encode};
use tessera_mpc::{cost, AShare, BShare, Party, Result};

/// Inner dimension of the benchmarked dot products.
pub const DOT_LEN: usize = 16;

/// Public synthetic inputs, generated identically by every process from a fixed seed; each
/// party secret-shares only the vectors it is said to own.
pub struct Plain {
    pub int_x: Vec<u64>,
    pub int_y: Vec<u64>,
    pub fix_x: Vec<f64>,
    pub fix_y: Vec<f64>,
    pub exp_x: Vec<f64>,
    pub pos_x: Vec<f64>,
    pub sig_x: Vec<f64>,
    pub bits: Vec<bool>,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Plain {
    /// `n` values of each kind, deterministic.
    pub fn new(n: usize) -> Plain {
        let mut s = 0x7e55_e7a0u64;
        let mut unit = || (splitmix(&mut s) >> 11) as f64 / (1u64 << 53) as f64;
        // Fixed-point inputs are rounded to the fixed-point grid, so that the plaintext
        // reference sees exactly what the protocol sees.
        let mut vec_f = |f: &mut dyn FnMut(f64) -> f64| {
            (0..n)
                .map(|_| (f(unit()) / ULP).round() * ULP)
                .collect::<Vec<f64>>()
        };
        let int_x = vec_f(&mut |u| (u - 0.5) * 2e12)
            .iter()
            .map(|&v| v as i64 as u64)
            .collect();
        let int_y = vec_f(&mut |u| (u - 0.5) * 2e12)
            .iter()
            .map(|&v| v as i64 as u64)
            .collect();
        let fix_x = vec_f(&mut |u| (u - 0.5) * 2e4);
        let fix_y = vec_f(&mut |u| (u - 0.5) * 2e4);
        let exp_x = vec_f(&mut |u| (u - 0.5) * 40.0);
        let pos_x = vec_f(&mut |u| 10f64.powf(u * 9.0 - 3.0));
        let sig_x = vec_f(&mut |u| (u - 0.5) * 60.0);
        let bits = vec_f(&mut |u| u).iter().map(|&u| u < 0.5).collect();
        Plain {
            int_x,
            int_y,
            fix_x,
            fix_y,
            exp_x,
            pos_x,
            sig_x,
            bits,
        }
    }
}

/// The shared versions of the inputs.
pub struct Shared {
    pub int_x: AShare<u64>,
    pub int_y: AShare<u64>,
    pub fix_x: AShare<u128>,
    pub fix_y: AShare<u128>,
    pub exp_x: AShare<u128>,
    pub pos_x: AShare<u128>,
    pub sig_x: AShare<u128>,
    pub bits: BShare,
    pub planes: Vec<BShare>,
}

impl Shared {
    /// Party 0 inputs the x vectors and the bits, party 1 the y vectors.
    pub fn new(p: &mut Party, d: &Plain) -> Result<Shared> {
        let n = d.int_x.len();
        let f = p.frac_bits();
        let me = p.id();
        let enc = |v: &[f64]| {
            v.iter()
                .map(|&x| encode::<u128>(x, f))
                .collect::<Vec<u128>>()
        };
        let int_x = p.share_input(0, (me == 0).then_some(d.int_x.as_slice()), n)?;
        let int_y = p.share_input(1, (me == 1).then_some(d.int_y.as_slice()), n)?;
        let mut fix = Vec::new();
        for (owner, v) in [
            (0, &d.fix_x),
            (1, &d.fix_y),
            (0, &d.exp_x),
            (0, &d.pos_x),
            (0, &d.sig_x),
        ] {
            let e = enc(v);
            fix.push(p.share_input(owner, (me == owner).then_some(e.as_slice()), n)?);
        }
        let packed = pack_bits(&d.bits);
        let bits = p.share_bits(0, (me == 0).then_some(packed.as_slice()), words_for(n))?;
        let planes = p.a2b(&int_x, 64)?;
        let mut it = fix.into_iter();
        let mut next = || it.next().expect("five fixed-point inputs");
        Ok(Shared {
            int_x,
            int_y,
            fix_x: next(),
            fix_y: next(),
            exp_x: next(),
            pos_x: next(),
            sig_x: next(),
            bits,
            planes,
        })
    }
}

/// What an operation produced, opened for checking.
pub enum Opened {
    Int(Vec<u64>),
    Fix(Vec<u128>),
    Bits(Vec<u64>),
}

/// Result of one operation before opening.
pub enum Out {
    Int(AShare<u64>),
    Fix(AShare<u128>),
    Bits(BShare),
    Planes(Vec<BShare>),
    /// Already public (the operation was an opening).
    Public(Vec<u64>),
}

impl Out {
    /// Opens the result to every party (only for checking, outside the timed part).
    pub fn open(&self, p: &mut Party) -> Result<Opened> {
        Ok(match self {
            Out::Int(x) => Opened::Int(p.reveal(x)?),
            Out::Fix(x) => Opened::Fix(p.reveal(x)?),
            Out::Bits(b) => Opened::Bits(p.reveal_bits(b)?),
            Out::Public(v) => Opened::Int(v.clone()),
            Out::Planes(pl) => {
                let mut all = Vec::new();
                for b in pl {
                    all.extend(p.reveal_bits(b)?);
                }
                Opened::Bits(all)
            }
        })
    }
}

/// One benchmarked operation.
pub struct Op {
    /// Key in the report.
    pub name: &'static str,
    /// What one operation is.
    pub unit: &'static str,
    /// Operations per call on `n` elements.
    pub per_call: fn(usize) -> usize,
    /// The protocol's bytes per operation for the busiest party, from its description.
    pub theory_bytes: f64,
    /// Runs the protocol.
    pub run: fn(&mut Party, &Shared) -> Result<Out>,
    /// Compares the opened result with plaintext; `Err` says what differs.
    pub check: fn(&Plain, &Opened, u32) -> std::result::Result<(), String>,
}

fn per_elem(n: usize) -> usize {
    n
}

fn ints(o: &Opened) -> &[u64] {
    match o {
        Opened::Int(v) => v,
        _ => &[],
    }
}

fn fixes(o: &Opened, f: u32) -> Vec<f64> {
    match o {
        Opened::Fix(v) => v.iter().map(|&x| decode(x, f)).collect(),
        _ => Vec::new(),
    }
}

fn bits_of(o: &Opened, n: usize) -> Vec<bool> {
    match o {
        Opened::Bits(v) => unpack_bits(v, n),
        _ => Vec::new(),
    }
}

fn compare_ints(got: &[u64], want: impl Iterator<Item = u64>) -> std::result::Result<(), String> {
    for (i, w) in want.enumerate() {
        if got.get(i) != Some(&w) {
            return Err(format!("element {i}: got {:?}, expected {w}", got.get(i)));
        }
    }
    Ok(())
}

fn compare_fix(
    got: &[f64],
    want: impl Iterator<Item = f64>,
    rel: f64,
    abs: f64,
) -> std::result::Result<(), String> {
    for (i, w) in want.enumerate() {
        let g = *got.get(i).ok_or_else(|| format!("element {i} missing"))?;
        if (g - w).abs() > rel * w.abs() + abs {
            return Err(format!("element {i}: got {g}, expected {w}"));
        }
    }
    Ok(())
}

fn compare_bits(got: &[bool], want: impl Iterator<Item = bool>) -> std::result::Result<(), String> {
    for (i, w) in want.enumerate() {
        if got.get(i) != Some(&w) {
            return Err(format!("bit {i}: got {:?}, expected {w}", got.get(i)));
        }
    }
    Ok(())
}

const ULP: f64 = 1.0 / (1u64 << 24) as f64;

/// Every benchmarked operation. Theoretical bytes are for the busiest party (party 0, which
/// deals in the conversions), elements of 8 bytes in Z_2^64 and 16 in Z_2^128; and gates
/// cost one bit per party.
pub fn all() -> Vec<Op> {
    vec![
        Op {
            name: "share_input",
            unit: "element input by party 0",
            per_call: per_elem,
            theory_bytes: cost::E64,
            run: |p, s| {
                let v = vec![7u64; s.int_x.len()];
                Ok(Out::Int(p.share_input(
                    0,
                    (p.id() == 0).then_some(v.as_slice()),
                    v.len(),
                )?))
            },
            check: |_, o, _| compare_ints(ints(o), std::iter::repeat_n(7, ints(o).len().max(1))),
        },
        Op {
            name: "reveal",
            unit: "element opened to all",
            per_call: per_elem,
            theory_bytes: cost::E64,
            run: |p, s| Ok(Out::Public(p.reveal(&s.int_x)?)),
            check: |d, o, _| compare_ints(ints(o), d.int_x.iter().copied()),
        },
        Op {
            name: "prefix_sum",
            unit: "element (local)",
            per_call: per_elem,
            theory_bytes: 0.0,
            run: |_, s| Ok(Out::Int(s.int_x.prefix_sum())),
            check: |d, o, _| {
                let mut acc = 0u64;
                compare_ints(
                    ints(o),
                    d.int_x.iter().map(|&v| {
                        acc = acc.wrapping_add(v);
                        acc
                    }),
                )
            },
        },
        Op {
            name: "mul",
            unit: "product in Z_2^64",
            per_call: per_elem,
            theory_bytes: cost::E64,
            run: |p, s| Ok(Out::Int(p.mul(&s.int_x, &s.int_y)?)),
            check: |d, o, _| {
                compare_ints(
                    ints(o),
                    d.int_x
                        .iter()
                        .zip(&d.int_y)
                        .map(|(a, b)| a.wrapping_mul(*b)),
                )
            },
        },
        Op {
            name: "dot",
            unit: "dot product of length 16 in Z_2^64",
            per_call: |n| n / DOT_LEN,
            theory_bytes: cost::E64,
            run: |p, s| {
                let m = s.int_x.len() / DOT_LEN * DOT_LEN;
                Ok(Out::Int(p.dot(
                    &s.int_x.slice(0..m),
                    &s.int_y.slice(0..m),
                    DOT_LEN,
                )?))
            },
            check: |d, o, _| {
                let want = d
                    .int_x
                    .chunks_exact(DOT_LEN)
                    .zip(d.int_y.chunks_exact(DOT_LEN))
                    .map(|(a, b)| {
                        a.iter()
                            .zip(b)
                            .fold(0u64, |s, (x, y)| s.wrapping_add(x.wrapping_mul(*y)))
                    });
                compare_ints(ints(o), want)
            },
        },
        Op {
            name: "mul_fixed",
            unit: "fixed-point product with truncation (Z_2^128)",
            per_call: per_elem,
            theory_bytes: cost::E128,
            run: |p, s| Ok(Out::Fix(p.mul_fix(&s.fix_x, &s.fix_y)?)),
            check: |d, o, f| {
                compare_fix(
                    &fixes(o, f),
                    d.fix_x.iter().zip(&d.fix_y).map(|(a, b)| a * b),
                    1e-9,
                    4.0 * ULP * 1e4,
                )
            },
        },
        Op {
            name: "trunc",
            unit: "truncation (Z_2^128)",
            per_call: per_elem,
            theory_bytes: cost::E128,
            run: |p, s| Ok(Out::Fix(p.trunc(&s.fix_x, 8)?)),
            check: |d, o, f| {
                compare_fix(
                    &fixes(o, f),
                    d.fix_x.iter().map(|a| a / 256.0),
                    0.0,
                    2.0 * ULP,
                )
            },
        },
        Op {
            name: "lt",
            unit: "less-than in Z_2^64",
            per_call: per_elem,
            theory_bytes: cost::sign(64),
            run: |p, s| Ok(Out::Bits(p.lt(&s.int_x, &s.int_y)?)),
            check: |d, o, _| {
                let n = d.int_x.len();
                compare_bits(
                    &bits_of(o, n),
                    d.int_x
                        .iter()
                        .zip(&d.int_y)
                        .map(|(a, b)| (*a as i64) < (*b as i64)),
                )
            },
        },
        Op {
            name: "lt_fixed",
            unit: "less-than in Z_2^128",
            per_call: per_elem,
            theory_bytes: cost::sign(128),
            run: |p, s| Ok(Out::Bits(p.lt(&s.fix_x, &s.fix_y)?)),
            check: |d, o, _| {
                let n = d.fix_x.len();
                let want = d.fix_x.iter().zip(&d.fix_y).map(|(a, b)| {
                    encode::<u128>(*a, 24) as i128 - (encode::<u128>(*b, 24) as i128) < 0
                });
                compare_bits(&bits_of(o, n), want)
            },
        },
        Op {
            name: "eq",
            unit: "equality in Z_2^64",
            per_call: per_elem,
            theory_bytes: cost::eq(64),
            run: |p, s| {
                let y = s.int_x.slice(0..s.int_x.len() / 2);
                let z = s.int_y.slice(s.int_x.len() / 2..s.int_x.len());
                Ok(Out::Bits(p.eq(&s.int_x, &AShare::concat(&[&y, &z]))?))
            },
            check: |d, o, _| {
                let n = d.int_x.len();
                compare_bits(
                    &bits_of(o, n),
                    (0..n).map(|i| i < n / 2 || d.int_x[i] == d.int_y[i]),
                )
            },
        },
        Op {
            name: "a2b",
            unit: "64-bit decomposition",
            per_call: per_elem,
            theory_bytes: cost::a2b(64),
            run: |p, s| Ok(Out::Planes(p.a2b(&s.int_x, 64)?)),
            check: |d, o, _| {
                let n = d.int_x.len();
                let words = words_for(n);
                let Opened::Bits(all) = o else {
                    return Err("no bits".into());
                };
                for (j, plane) in all.chunks(words).enumerate() {
                    compare_bits(
                        &unpack_bits(plane, n),
                        d.int_x.iter().map(|v| v >> j & 1 == 1),
                    )?;
                }
                Ok(())
            },
        },
        Op {
            name: "b2a",
            unit: "64-bit composition into Z_2^64",
            per_call: per_elem,
            theory_bytes: cost::b2a(64),
            run: |p, s| Ok(Out::Int(p.b2a(&s.planes, s.int_x.len())?)),
            check: |d, o, _| compare_ints(ints(o), d.int_x.iter().copied()),
        },
        Op {
            name: "inject",
            unit: "bit to Z_2^64",
            per_call: per_elem,
            theory_bytes: cost::E64,
            run: |p, s| {
                Ok(Out::Int(
                    p.inject::<u64>(&[&s.bits], s.int_x.len())?.remove(0),
                ))
            },
            check: |d, o, _| compare_ints(ints(o), d.bits.iter().map(|&b| b as u64)),
        },
        Op {
            name: "select",
            unit: "multiplexer on Z_2^64 with a shared bit",
            per_call: per_elem,
            theory_bytes: 2.0 * cost::E64,
            run: |p, s| Ok(Out::Int(p.select_bits(&s.bits, &s.int_x, &s.int_y)?)),
            check: |d, o, _| {
                compare_ints(
                    ints(o),
                    (0..d.int_x.len()).map(|i| if d.bits[i] { d.int_x[i] } else { d.int_y[i] }),
                )
            },
        },
        Op {
            name: "exp",
            unit: "e^x, x in [-20, 20]",
            per_call: per_elem,
            theory_bytes: cost::exp(24),
            run: |p, s| Ok(Out::Fix(p.exp(&s.exp_x)?)),
            check: |d, o, f| {
                compare_fix(
                    &fixes(o, f),
                    d.exp_x.iter().map(|x| x.exp()),
                    3e-7,
                    3.0 * ULP,
                )
            },
        },
        Op {
            name: "recip",
            unit: "1/x, x in [1e-3, 1e6]",
            per_call: per_elem,
            theory_bytes: cost::recip(),
            run: |p, s| Ok(Out::Fix(p.recip(&s.pos_x)?)),
            check: |d, o, f| {
                compare_fix(
                    &fixes(o, f),
                    d.pos_x.iter().map(|x| 1.0 / x),
                    3e-7,
                    3.0 * ULP + 1e-6,
                )
            },
        },
        Op {
            name: "ln",
            unit: "ln x, x in [1e-3, 1e6]",
            per_call: per_elem,
            theory_bytes: cost::ln(),
            run: |p, s| Ok(Out::Fix(p.ln(&s.pos_x)?)),
            check: |d, o, f| {
                compare_fix(
                    &fixes(o, f),
                    d.pos_x.iter().map(|x| x.ln()),
                    0.0,
                    4.0 * ULP + 1e-7,
                )
            },
        },
        Op {
            name: "sqrt",
            unit: "√x, x in [1e-3, 1e6]",
            per_call: per_elem,
            theory_bytes: cost::root(true),
            run: |p, s| Ok(Out::Fix(p.sqrt(&s.pos_x)?)),
            check: |d, o, f| {
                compare_fix(
                    &fixes(o, f),
                    d.pos_x.iter().map(|x| x.sqrt()),
                    3e-7,
                    3.0 * ULP + 1e-7,
                )
            },
        },
        Op {
            name: "rsqrt",
            unit: "1/√x, x in [1e-3, 1e6]",
            per_call: per_elem,
            theory_bytes: cost::root(false),
            run: |p, s| Ok(Out::Fix(p.rsqrt(&s.pos_x)?)),
            check: |d, o, f| {
                compare_fix(
                    &fixes(o, f),
                    d.pos_x.iter().map(|x| 1.0 / x.sqrt()),
                    3e-7,
                    3.0 * ULP + 1e-7,
                )
            },
        },
        Op {
            name: "sigmoid",
            unit: "1/(1+e^-x), x in [-30, 30]",
            per_call: per_elem,
            theory_bytes: cost::sigmoid(24),
            run: |p, s| Ok(Out::Fix(p.sigmoid(&s.sig_x)?)),
            check: |d, o, f| {
                compare_fix(
                    &fixes(o, f),
                    d.sig_x.iter().map(|x| 1.0 / (1.0 + (-x).exp())),
                    0.0,
                    5.0 * ULP,
                )
            },
        },
    ]
}
