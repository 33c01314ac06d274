//! The clock, and instants as the organisation's people read them: "today" for the daily claim
//! cap and `2026-12-01 09:30` in tables, both at the organisation's UTC offset (setting
//! `utc_offset_hours`).

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

    #[test]
    fn instants_read_as_local_date_and_time() {
        // 2026-12-01T01:30:00Z
        assert_eq!(format_local(1_796_088_600_000, BEIJING), "2026-12-01 09:30");
        assert_eq!(format_local(1_796_088_600_000, 0), "2026-12-01 01:30");
        // 2024-02-29T15:59:00Z is already 1 March in Beijing.
        assert_eq!(format_local(1_709_222_340_000, 0), "2024-02-29 15:59");
        assert_eq!(format_local(1_709_222_340_000, BEIJING), "2024-02-29 23:59");
        assert_eq!(format_local(1_709_222_340_000 + 60_000, BEIJING), "2024-03-01 00:00");
        assert_eq!(format_local(-3_600_000, 0), "1969-12-31 23:00");
        assert_eq!(format_local(0, 0), "1970-01-01 00:00");
    }

    #[test]
    fn today_starts_at_local_midnight() {
        // 09:30 Beijing on 1 December 2026 → 00:00 Beijing, 16:00 UTC the day before.
        let start = start_of_day(1_796_088_600_000, BEIJING);
        assert_eq!(format_local(start, BEIJING), "2026-12-01 00:00");
        assert_eq!(format_local(start, 0), "2026-11-30 16:00");
        assert_eq!(start_of_day(start, BEIJING), start);
        assert_eq!(start_of_day(start - 1, BEIJING), start - DAY_MS);
        assert_eq!(days_ms(30), 30 * DAY_MS);
    }
}
