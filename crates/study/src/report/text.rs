//! Text for the page: HTML escaping and the formatting of numbers (estimates to four
//! significant digits, p-values as `0.0123` or `< 0.0001`, counts as integers).

use serde_json::Value;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The placeholder of a value that is not there (suppressed, not computed, not finite).
pub const NONE: &str = "—";

/// An estimate to four significant digits (`0.8234`, `12.35`, `1235`); scientific notation
/// below 0.0001 or from a million on; `—` when not finite.
pub fn est(x: f64) -> String {
    if !x.is_finite() {
        return NONE.into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if !(1e-4..1e6).contains(&a) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
    format!("{x:.decimals$}")
}

/// A p-value: `0.0123`, or `< 0.0001` below that; `—` when not finite.
pub fn pval(p: f64) -> String {
    if !p.is_finite() {
        NONE.into()
    } else if p < 1e-4 {
        "< 0.0001".into()
    } else {
        format!("{p:.4}")
    }
}

/// A p-value in prose: `p = 0.0123` or `p < 0.0001`.
pub fn p_is(p: f64) -> String {
    let s = pval(p);
    if s.starts_with('<') {
        format!("p {s}")
    } else {
        format!("p = {s}")
    }
}

/// A JSON value as an estimate ([`est`]); integers as they are, text escaped.
pub fn est_of(v: &Value) -> String {
    match v {
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        Value::Number(n) => est(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => escape(s),
        Value::Null => NONE.into(),
        other => escape(&other.to_string()),
    }
}

/// A JSON value as a p-value ([`pval`]), as HTML (`&lt; 0.0001`).
pub fn pval_of(v: &Value) -> String {
    v.as_f64().map_or_else(|| NONE.into(), |p| escape(&pval(p)))
}

/// A JSON value as a count or plain number (a time: `365`, `182.5`), text escaped.
pub fn plain(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
            Some(x) => est(x),
            None => n.to_string(),
        },
        Value::String(s) => escape(s),
        Value::Null => NONE.into(),
        other => escape(&other.to_string()),
    }
}

/// A number as on an axis or a data value (a time, a quantile): whole numbers without
/// decimals, others to four significant digits without trailing zeros.
pub fn tick(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let s = est(x);
        if s.contains('.') && !s.contains('e') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// An estimate with its interval: `1.234 (1.100–1.385)`.
pub fn with_ci(x: f64, lo: Option<f64>, hi: Option<f64>) -> String {
    match (lo, hi) {
        (Some(lo), Some(hi)) => format!("{} ({}–{})", est(x), est(lo), est(hi)),
        _ => est(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_a_clinician_expects() {
        assert_eq!(est(0.823_456), "0.8235");
        assert_eq!(est(12.3456), "12.35");
        assert_eq!(est(1234.56), "1235");
        assert_eq!(est(-0.012_345_6), "-0.01235");
        assert_eq!(est(0.0), "0");
        assert_eq!(est(f64::INFINITY), NONE);
        assert_eq!(pval(0.012_34), "0.0123");
        assert_eq!(pval(3e-7), "< 0.0001");
        assert_eq!(p_is(0.012_34), "p = 0.0123");
        assert_eq!(p_is(3e-7), "p < 0.0001");
        assert_eq!(tick(365.0), "365");
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(29.72), "29.72");
        assert_eq!(with_ci(1.5, Some(1.25), Some(1.8)), "1.500 (1.250–1.800)");
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
