//! Deterministic synthetic survival data for benchmarks and examples: a Weibull baseline
//! hazard, proportional covariate effects, uniform censoring and times rounded to whole days
//! (so there are ties).

use crate::table::{PlainColumn, PlainData, PlainFrame};

/// A small deterministic generator (xorshift64*), enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// `n` patients: `registry.time` (days), `registry.event`, `registry.group` (two levels,
/// "A"/"B") held by one organisation and `gp.x1..gp.xp` covariates (alternately standard
/// normal and binary) held by another. Hazard `h(t) = h0(t)·exp(Σ b_j x_j + 0.4·[B])` with
/// a Weibull baseline (shape 1.3, scale 1800 days), `b_j = 0.3/√j` with alternating signs,
/// censoring uniform on [0, 3000] days; `registry.cause` (competing risks: 0 = censored,
/// 1 or 2, [`competing_causes`]) for the Fine–Gray model. Same `seed`, same data.
pub fn survival(n: usize, p: usize, seed: u64) -> PlainFrame {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut xs = vec![Vec::with_capacity(n); p];
    let mut time = Vec::with_capacity(n);
    let mut event = Vec::with_capacity(n);
    let mut group = Vec::with_capacity(n);
    for _ in 0..n {
        let g = usize::from(rng.uniform() < 0.5);
        let mut eta = 0.4 * g as f64;
        for (j, col) in xs.iter_mut().enumerate() {
            let x = if j % 2 == 0 {
                rng.normal()
            } else {
                f64::from(u8::from(rng.uniform() < 0.4))
            };
            let b = 0.3 / ((j + 1) as f64).sqrt() * if j % 2 == 0 { 1.0 } else { -1.0 };
            eta += b * x;
            col.push(Some(x));
        }
        // S(t) = exp(-(t/λ)^k · e^η)  ⇒  t = λ·(-ln U / e^η)^(1/k).
        let t = 1800.0 * (-rng.uniform().ln() / eta.exp()).powf(1.0 / 1.3);
        let c = 3000.0 * rng.uniform();
        let obs = t.min(c).ceil().max(1.0);
        time.push(Some(obs));
        event.push(Some(f64::from(u8::from(t <= c))));
        group.push(Some(g));
    }
    let cause = competing_causes(&event);
    let mut columns = vec![
        PlainColumn {
            name: "registry.time".into(),
            data: PlainData::Numeric(time),
        },
        PlainColumn {
            name: "registry.event".into(),
            data: PlainData::Numeric(event),
        },
        PlainColumn {
            name: "registry.group".into(),
            data: PlainData::Categorical {
                levels: vec!["A".into(), "B".into()],
                codes: group,
            },
        },
        PlainColumn {
            name: "registry.cause".into(),
            data: PlainData::Numeric(cause),
        },
    ];
    for (j, x) in xs.into_iter().enumerate() {
        columns.push(PlainColumn {
            name: format!("gp.x{}", j + 1),
            data: PlainData::Numeric(x),
        });
    }
    PlainFrame { rows: n, columns }
}

/// The events recoded as competing causes without drawing more random numbers (the other
/// columns stay as they were): two of every five events, by row, are cause 2, the others
/// cause 1; censored rows stay 0.
fn competing_causes(event: &[Option<f64>]) -> Vec<Option<f64>> {
    event
        .iter()
        .enumerate()
        .map(|(i, e)| {
            e.map(|e| {
                if e == 0.0 {
                    0.0
                } else if i % 5 < 2 {
                    2.0
                } else {
                    1.0
                }
            })
        })
        .collect()
}

/// `n` patients in `weights.len()` groups for the log-rank test: `time` (whole days),
/// `event`, and `group` (levels "G1", "G2", …, drawn with probabilities proportional to
/// `weights`). Hazard `h(t) = h0(t)·exp(effect·g)` for the g-th level (from 0) on the Weibull
/// baseline of [`survival`] (shape 1.3, scale 1800 days), censoring uniform on [0, 3000]
/// days, times rounded up to whole days (so there are many ties). Three uniforms per row
/// and nothing but `ln`, `exp` and `powf`, so that `fixtures/logrank/make_logrank_fixture.py`
/// reproduces the data exactly. Same arguments, same data.
pub fn logrank_groups(n: usize, weights: &[f64], effect: f64, seed: u64) -> PlainFrame {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let total: f64 = weights.iter().sum();
    let (mut time, mut event, mut group) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for _ in 0..n {
        let u = rng.uniform() * total;
        let mut acc = 0.0;
        let mut g = weights.len() - 1;
        for (j, w) in weights.iter().enumerate() {
            acc += w;
            if u < acc {
                g = j;
                break;
            }
        }
        let eta = effect * g as f64;
        let t = 1800.0 * (-rng.uniform().ln() / eta.exp()).powf(1.0 / 1.3);
        let c = 3000.0 * rng.uniform();
        time.push(Some(t.min(c).ceil().max(1.0)));
        event.push(Some(f64::from(u8::from(t <= c))));
        group.push(Some(g));
    }
    PlainFrame {
        rows: n,
        columns: vec![
            PlainColumn {
                name: "time".into(),
                data: PlainData::Numeric(time),
            },
            PlainColumn {
                name: "event".into(),
                data: PlainData::Numeric(event),
            },
            PlainColumn {
                name: "group".into(),
                data: PlainData::Categorical {
                    levels: (1..=weights.len()).map(|j| format!("G{j}")).collect(),
                    codes: group,
                },
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_with_ties_and_censoring() {
        let a = survival(2000, 3, 7);
        assert_eq!(a, survival(2000, 3, 7));
        assert_ne!(a, survival(2000, 3, 8));
        let t = a.numeric("registry.time").unwrap();
        let e = a.numeric("registry.event").unwrap();
        let events = e.iter().filter(|v| **v == Some(1.0)).count();
        assert!(events > 600 && events < 1800, "{events} events");
        let mut distinct: Vec<u64> = t.iter().map(|v| v.unwrap() as u64).collect();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() < 1900, "ties expected");
    }
}
