//! The clock, and instants as they travel: RFC 3339 in the host's JSON and in other systems'
//! events, milliseconds since the Unix epoch in records, `2026-12-01 09:30` and `2026-12-01` for
//! people at the organisation's UTC offset (plugins keep it as a setting, e.g.
//! `utc_offset_hours`). Written out here rather than pulled in from a date crate, because a
//! plugin is instantiated for every call and should stay small.

use std::time::{SystemTime, UNIX_EPOCH};

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// Now, in milliseconds since the Unix epoch (the host's wall clock).
pub fn now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// `days` days in milliseconds.
pub fn days_ms(days: u32) -> i64 {
    i64::from(days) * DAY_MS
}

/// The instant the local day containing `now` began, at `offset_ms` from UTC.
pub fn start_of_day(now: i64, offset_ms: i64) -> i64 {
    let local = now + offset_ms;
    local - local.rem_euclid(DAY_MS) - offset_ms
}

/// `YYYY-MM-DD HH:MM` at `offset_ms` from UTC.
pub fn format_local(millis: i64, offset_ms: i64) -> String {
    let local = millis + offset_ms;
    let (year, month, day) = civil_from_days(local.div_euclid(DAY_MS));
    let minutes = local.rem_euclid(DAY_MS) / 60_000;
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", minutes / 60, minutes % 60)
}

/// `YYYY-MM-DD` at `offset_ms` from UTC.
pub fn format_date(millis: i64, offset_ms: i64) -> String {
    let (year, month, day) = civil_from_days((millis + offset_ms).div_euclid(DAY_MS));
    format!("{year:04}-{month:02}-{day:02}")
}

/// RFC 3339 in UTC with milliseconds, as the host's JSON inputs take it:
/// `2026-12-01T01:30:00.000Z`.
pub fn rfc3339(millis: i64) -> String {
    let (year, month, day) = civil_from_days(millis.div_euclid(DAY_MS));
    let in_day = millis.rem_euclid(DAY_MS);
    let (h, m, s, ms) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

/// An RFC 3339 time (`2026-12-01T09:30:00+08:00`, `2026-12-01T01:30:00.5Z`; a space may stand
/// for the `T`) in milliseconds since the epoch; `None` when it is not one. Fractions beyond
/// milliseconds are dropped.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let text = text.trim();
    let b = text.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let days = parse_date(text.get(..10)?)?;
    let (hour, minute, second) = (number(&b[11..13])?, number(&b[14..16])?, number(&b[17..19])?);
    // 60 is a leap second, read as the last second of the minute.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0;
    if let Some((b'.', fraction)) = rest.split_first() {
        let digits = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        for (i, d) in fraction[..digits].iter().take(3).enumerate() {
            millis += i64::from(d - b'0') * [100, 10, 1][i];
        }
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let (h, m) = (number(&[*h1, *h2])?, number(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = h * 60 + m;
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return None,
    };
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second.min(59);
    Some((seconds - offset_minutes * 60) * 1000 + millis)
}

/// A calendar date `YYYY-MM-DD` as days since 1970-01-01; `None` when it is not a real date.
pub fn parse_date(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (number(&b[..4])?, number(&b[5..7])?, number(&b[8..10])?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// The local midnight at which a day (days since 1970-01-01) begins, at `offset_ms` from UTC.
pub fn day_start(days: i64, offset_ms: i64) -> i64 {
    days * DAY_MS - offset_ms
}

fn number(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a calendar date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar date of a day counted from 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEIJING: i64 = 8 * 3_600_000;
    /// 2026-12-01T01:30:00Z
    const INSTANT: i64 = 1_796_088_600_000;

    #[test]
    fn rfc3339_times_in_any_offset_read_as_the_same_instant() {
        assert_eq!(parse_rfc3339("2026-12-01T01:30:00Z"), Some(INSTANT));
        assert_eq!(parse_rfc3339("2026-12-01T09:30:00+08:00"), Some(INSTANT));
        assert_eq!(parse_rfc3339("2026-11-30 20:30:00-0500"), Some(INSTANT));
        assert_eq!(parse_rfc3339("2026-12-01T01:30:00.25z"), Some(INSTANT + 250));
        assert_eq!(parse_rfc3339("2026-12-01T01:30:00.123456789Z"), Some(INSTANT + 123));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    }

    #[test]
    fn what_is_not_rfc3339_is_refused() {
        for bad in [
            "",
            "2026-12-01",
            "2026-12-01T01:30:00",
            "2026-12-01T01:30:00+8",
            "2026-13-01T01:30:00Z",
            "2026-02-30T01:30:00Z",
            "2026-12-01T24:00:00Z",
            "2026-12-01T01:30:00.Z",
            "yesterday at noon, roughly",
            "２０２６-12-01T01:30:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn instants_round_trip_through_rfc3339() {
        assert_eq!(rfc3339(INSTANT + 7), "2026-12-01T01:30:00.007Z");
        assert_eq!(parse_rfc3339(&rfc3339(INSTANT + 7)), Some(INSTANT + 7));
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn local_dates_and_times() {
        assert_eq!(format_local(INSTANT, BEIJING), "2026-12-01 09:30");
        assert_eq!(format_date(INSTANT - 2 * 3_600_000, BEIJING), "2026-12-01");
        assert_eq!(format_date(INSTANT - 2 * 3_600_000, 0), "2026-11-30");
        let day = parse_date("2026-12-01").expect("a date");
        assert_eq!(format_local(day_start(day, BEIJING), BEIJING), "2026-12-01 00:00");
        assert_eq!(day_start(day, BEIJING), start_of_day(INSTANT, BEIJING));
        assert_eq!(parse_date("2024-02-29").map(|d| format_date(d * DAY_MS, 0)), Some("2024-02-29".into()));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2026-1-01"), None);
    }
}
