//! Wall-clock time as RFC 3339 UTC text (`2026-11-24T08:50:43.123Z`), from `std::time`.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current time, RFC 3339 in UTC with milliseconds. A clock before 1970 reads as 1970.
pub(crate) fn now_rfc3339() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    rfc3339_from_millis(ms as i128)
}

/// RFC 3339 UTC text of `ms` milliseconds since 1970-01-01T00:00:00Z (proleptic Gregorian).
pub(crate) fn rfc3339_from_millis(ms: i128) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Year, month (1..=12) and day (1..=31) of the `days`-th day after 1970-01-01: the
/// era-based conversion (400-year cycles of 146 097 days, years counted from March).
fn civil_from_days(days: i128) -> (i128, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
    let mp = (5 * doy + 2) / 153; // March = 0
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i128::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339_from_millis(0), "1970-01-01T00:00:00.000Z");
        // `date -u -d @951782400` (leap day of a year divisible by 400).
        assert_eq!(
            rfc3339_from_millis(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            rfc3339_from_millis(1_709_251_199_999),
            "2024-02-29T23:59:59.999Z"
        );
        // 2100 is not a leap year: 2100-02-28 is followed by 2100-03-01.
        assert_eq!(
            rfc3339_from_millis(4_107_456_000_000),
            "2100-02-28T00:00:00.000Z"
        );
        assert_eq!(
            rfc3339_from_millis(4_107_542_400_000),
            "2100-03-01T00:00:00.000Z"
        );
        assert_eq!(rfc3339_from_millis(-1), "1969-12-31T23:59:59.999Z");
    }

    /// Consecutive days never skip or repeat a date, across 1970..2400.
    #[test]
    fn days_are_consecutive() {
        let mut prev = civil_from_days(-1);
        for day in 0..(430 * 366) {
            let cur = civil_from_days(day);
            let next_ok = (cur.0 == prev.0 && cur.1 == prev.1 && cur.2 == prev.2 + 1)
                || (cur.0 == prev.0 && cur.1 == prev.1 + 1 && cur.2 == 1)
                || (cur.0 == prev.0 + 1 && cur.1 == 1 && cur.2 == 1 && prev.1 == 12);
            assert!(next_ok, "{prev:?} -> {cur:?}");
            prev = cur;
        }
    }

    #[test]
    fn now_looks_right() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 24);
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T');
    }
}
