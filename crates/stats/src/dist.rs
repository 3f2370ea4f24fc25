//! Reference distributions for p-values and confidence intervals. Plaintext: applied only to
//! statistics that have already been opened (at the recipient). A statistic that is not
//! finite (e.g. a zero standard error) gives a NaN or limiting p-value, never a panic.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

fn standard_normal() -> Normal {
    Normal::new(0.0, 1.0).expect("valid parameters")
}

/// Two-sided p-value of a standard-normal statistic `z`.
pub fn normal_two_sided(z: f64) -> f64 {
    if !z.is_finite() {
        return if z.is_nan() { f64::NAN } else { 0.0 };
    }
    2.0 * standard_normal().sf(z.abs())
}

/// The standard-normal quantile at `p` (e.g. 0.975 → 1.959964).
pub fn normal_quantile(p: f64) -> f64 {
    standard_normal().inverse_cdf(p)
}

/// Upper-tail p-value of a chi-square statistic with `df` degrees of freedom (NaN for
/// `df == 0`).
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    if !x.is_finite() {
        return if x == f64::INFINITY { 0.0 } else { f64::NAN };
    }
    ChiSquared::new(df).map_or(f64::NAN, |d| d.sf(x))
}

/// Two-sided p-value of a Student-t statistic with `df` degrees of freedom.
pub fn t_two_sided(t: f64, df: f64) -> f64 {
    if !t.is_finite() {
        return if t.is_nan() { f64::NAN } else { 0.0 };
    }
    StudentsT::new(0.0, 1.0, df).map_or(f64::NAN, |d| 2.0 * d.sf(t.abs()))
}

/// The Student-t quantile at `p` with `df` degrees of freedom.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).map_or(f64::NAN, |d| d.inverse_cdf(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-9 * b.abs(), "{a} vs {b}");
    }

    #[test]
    fn against_scipy() {
        // scipy.stats 1.17: norm.sf(1.96)*2, norm.ppf(.975), chi2.sf(3.84, 1),
        // chi2.sf(10, 3), t.sf(2.0, 10)*2, t.ppf(.975, 10).
        close(normal_two_sided(1.96), 0.04999579029644087);
        close(normal_quantile(0.975), 1.959963984540054);
        close(chi2_sf(3.84, 1.0), 0.05004352124870519);
        close(chi2_sf(10.0, 3.0), 0.01856613546304325);
        close(t_two_sided(2.0, 10.0), 0.07338803477074037);
        close(t_quantile(0.975, 10.0), 2.228138851986274);
    }
}
