//! Timestamps: parsing event time values and extracting calendar parts.
//!
//! Accepted text forms (all read as UTC unless an offset is given):
//!
//! * ISO-8601 / RFC 3339: `2023-07-10T11:42:36Z`, `2023-07-10T11:42:36.123456+02:00`,
//!   `2023-07-10T11:42:36` (no offset: UTC), offsets also as `+0200` or `+02`;
//! * the Windows/Sysmon form `2025-10-24 23:41:48.482` (space instead of `T`);
//! * a date alone, `2023-07-10` (midnight UTC).
//!
//! Fractions of a second may have any number of digits (kept to the millisecond).
//! Numbers are Unix epoch seconds; a number of 10^11 or more is taken as milliseconds
//! (10^11 seconds is the year 5138). Anything else is not a timestamp.

use crate::event::Value;
use sigil_core::ir::TimePart;

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// Parse an event value as a timestamp.
pub fn value_millis(v: Value<'_>) -> Option<Millis> {
    match v {
        Value::Str(s) => parse(s),
        Value::Int(i) => Some(epoch_number(i as f64)),
        Value::UInt(u) => Some(epoch_number(u as f64)),
        Value::Float(x) if x.is_finite() => Some(epoch_number(x)),
        _ => None,
    }
}

fn epoch_number(x: f64) -> Millis {
    if x.abs() >= 1e11 {
        x as i64
    } else {
        (x * 1000.0) as i64
    }
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let s = b.get(at..at + n)?;
    let mut v = 0i64;
    for c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

/// Parse a timestamp string (see the module documentation).
pub fn parse(s: &str) -> Option<Millis> {
    let b = s.trim().as_bytes();
    let year = digits(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut secs_of_day = 0i64;
    let mut millis = 0i64;
    let mut offset_secs = 0i64;
    let mut i = 10;
    if b.len() > 10 {
        if !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let h = digits(b, 11, 2)?;
        if b.get(13) != Some(&b':') {
            return None;
        }
        let m = digits(b, 14, 2)?;
        i = 16;
        let mut sec = 0;
        if b.get(16) == Some(&b':') {
            sec = digits(b, 17, 2)?;
            i = 19;
        }
        if h > 23 || m > 59 || sec > 60 {
            return None;
        }
        secs_of_day = h * 3600 + m * 60 + sec;
        if matches!(b.get(i), Some(b'.') | Some(b',')) {
            i += 1;
            let start = i;
            let mut scale = 100;
            while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                millis += i64::from(c - b'0') * scale;
                scale /= 10;
                i += 1;
            }
            if i == start {
                return None;
            }
        }
        match b.get(i) {
            None => {}
            Some(b'Z') | Some(b'z') => i += 1,
            Some(&sign @ (b'+' | b'-')) => {
                let oh = digits(b, i + 1, 2)?;
                i += 3;
                let mut om = 0;
                if b.get(i) == Some(&b':') {
                    i += 1;
                }
                if let Some(v) = digits(b, i, 2) {
                    om = v;
                    i += 2;
                }
                if oh > 23 || om > 59 {
                    return None;
                }
                offset_secs = (oh * 3600 + om * 60) * if sign == b'-' { -1 } else { 1 };
            }
            Some(_) => return None,
        }
    }
    if i != b.len() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((days * 86400 + secs_of_day - offset_secs) * 1000 + millis)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// (year, month, day) of a day number since the epoch.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// ISO-8601 week number (1..=53) of a day number since the epoch.
fn iso_week(days: i64) -> i64 {
    // 1970-01-01 was a Thursday; ISO weekday 1 = Monday.
    let weekday = (days + 3).rem_euclid(7) + 1;
    // The Thursday of this week decides the year.
    let thursday = days - weekday + 4;
    let (y, _, _) = civil_from_days(thursday);
    let jan1 = days_from_civil(y, 1, 1);
    (thursday - jan1) / 7 + 1
}

/// A calendar part of a timestamp (UTC): minute 0-59, hour 0-23, day of month 1-31,
/// ISO week 1-53, month 1-12, year.
pub fn part(ms: Millis, part: TimePart) -> i64 {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    match part {
        TimePart::Minute => (sod / 60) % 60,
        TimePart::Hour => sod / 3600,
        TimePart::Day => civil_from_days(days).2,
        TimePart::Week => iso_week(days),
        TimePart::Month => civil_from_days(days).1,
        TimePart::Year => civil_from_days(days).0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let base = parse("2023-07-10T11:42:36Z").unwrap();
        assert_eq!(base, 1_688_989_356_000);
        assert_eq!(parse("2023-07-10T11:42:36"), Some(base));
        assert_eq!(parse("2023-07-10 11:42:36"), Some(base));
        assert_eq!(parse("2023-07-10T13:42:36+02:00"), Some(base));
        assert_eq!(parse("2023-07-10T13:42:36+0200"), Some(base));
        assert_eq!(parse("2023-07-10T10:42:36-01"), Some(base));
        assert_eq!(parse("2023-07-10T11:42:36.5Z"), Some(base + 500));
        assert_eq!(parse("2023-07-10 11:42:36.123456"), Some(base + 123));
        assert_eq!(parse("2023-07-10T11:42Z"), Some(base - 36_000));
        assert_eq!(
            parse("2023-07-10"),
            Some(base - (11 * 3600 + 42 * 60 + 36) * 1000)
        );
        for bad in [
            "",
            "2023",
            "2023-13-01",
            "2023-02-29",
            "2023-07-10X11:00:00",
            "2023-07-10T25:00:00",
            "2023-07-10T11:42:36.Z",
            "2023-07-10T11:42:36 junk",
            "hello",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert!(parse("2024-02-29").is_some());
        assert_eq!(value_millis(Value::Int(1_688_989_356)), Some(base));
        assert_eq!(value_millis(Value::Int(1_688_989_356_000)), Some(base));
    }

    #[test]
    fn parts() {
        let t = parse("2023-07-10T11:42:36Z").unwrap();
        assert_eq!(part(t, TimePart::Minute), 42);
        assert_eq!(part(t, TimePart::Hour), 11);
        assert_eq!(part(t, TimePart::Day), 10);
        assert_eq!(part(t, TimePart::Month), 7);
        assert_eq!(part(t, TimePart::Year), 2023);
        assert_eq!(part(t, TimePart::Week), 28);
        // ISO week edges: 2021-01-03 is week 53 of 2020; 2024-12-30 is week 1 of 2025.
        assert_eq!(part(parse("2021-01-03").unwrap(), TimePart::Week), 53);
        assert_eq!(part(parse("2021-01-04").unwrap(), TimePart::Week), 1);
        assert_eq!(part(parse("2024-12-30").unwrap(), TimePart::Week), 1);
        assert_eq!(
            part(parse("1969-12-31T23:59:59Z").unwrap(), TimePart::Year),
            1969
        );
        assert_eq!(
            part(parse("1969-12-31T23:59:59Z").unwrap(), TimePart::Hour),
            23
        );
    }
}
