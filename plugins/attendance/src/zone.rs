//! The organisation's clock: its IANA time zone (from the host, Asia/Shanghai unless the admin
//! chose another), and dates, months and times of day as people type and read them there.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use tessera_sdk::context;

use crate::rules;

/// The zone when the host names one the bundled database does not know.
pub const DEFAULT_ZONE: &str = "Asia/Shanghai";

/// The organisation's time zone.
pub fn org_zone() -> TimeZone {
    zone_named(&context::time_zone())
}

/// The zone of this name, or Asia/Shanghai when there is none such.
pub fn zone_named(name: &str) -> TimeZone {
    TimeZone::get(name.trim()).or_else(|_| TimeZone::get(DEFAULT_ZONE)).unwrap_or(TimeZone::UTC)
}

/// `HH:MM` as minutes after midnight.
pub fn parse_hhmm(text: &str) -> Option<i64> {
    let (h, m) = text.trim().split_once(':')?;
    if !(1..=2).contains(&h.len()) || m.len() != 2 {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

/// Minutes after midnight as `HH:MM`.
pub fn hhmm(minutes: i64) -> String {
    let m = minutes.rem_euclid(24 * 60);
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// `HH:MM` of an instant in the zone.
pub fn time_of(tz: &TimeZone, at: i64) -> String {
    match Timestamp::from_millisecond(at) {
        Ok(ts) => ts.to_zoned(tz.clone()).strftime("%H:%M").to_string(),
        Err(_) => String::new(),
    }
}

/// `YYYY-MM-DD HH:MM` of an instant in the zone.
pub fn datetime_of(tz: &TimeZone, at: i64) -> String {
    match Timestamp::from_millisecond(at) {
        Ok(ts) => ts.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string(),
        Err(_) => String::new(),
    }
}

/// A clock time of a work date as people write it: `06:05` on the night shift of the 6th is
/// the morning of the 7th, `17:59` on the 6th with a 09:00 shift is the evening of the 6th.
/// `HH:MM` when the instant is on the work date itself, else with its date.
pub fn time_on(tz: &TimeZone, work_date: Date, at: i64) -> String {
    match rules::local_date(tz, at) {
        Ok(day) if day == work_date => time_of(tz, at),
        Ok(_) => datetime_of(tz, at),
        Err(_) => String::new(),
    }
}

/// A date and time typed into a form (`2026-11-13T09:00` from a `datetime` field,
/// `2026-11-13 09:00`, with or without seconds) in the zone; RFC 3339 with an offset is taken
/// as the instant it names.
pub fn parse_local_datetime(tz: &TimeZone, text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts.as_millisecond());
    }
    let normalised = text.replacen(' ', "T", 1);
    let datetime: jiff::civil::DateTime = normalised.parse().ok()?;
    Some(tz.to_ambiguous_zoned(datetime).compatible().ok()?.timestamp().as_millisecond())
}

/// `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<Date> {
    let text = text.trim();
    let date: Date = text.parse().ok()?;
    (date.to_string() == text).then_some(date)
}

/// A month `YYYY-MM` as its first and last days.
pub fn parse_month(text: &str) -> Option<(Date, Date)> {
    let (y, m) = text.trim().split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let first = Date::new(y.parse().ok()?, m.parse().ok()?, 1).ok()?;
    Some((first, first.last_of_month()))
}

/// `YYYY-MM` of a date.
pub fn month_of(date: Date) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

/// The month before or after (`delta` months away).
pub fn shift_month(first: Date, delta: i32) -> Option<String> {
    first.checked_add(delta.months()).ok().map(month_of)
}

/// Monday is 1, Sunday 7.
pub fn iso_weekday(date: Date) -> i8 {
    date.weekday().to_monday_one_offset()
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn times_of_day_are_read_and_written_as_hh_mm() {
        assert_eq!(
            (parse_hhmm("09:00"), parse_hhmm("9:05"), parse_hhmm(" 23:59 ")),
            (Some(540), Some(545), Some(1439))
        );
        for bad in ["24:00", "12:60", "1200", "12:5", "", "ab:cd", "-1:00"] {
            assert_eq!(parse_hhmm(bad), None, "{bad}");
        }
        assert_eq!((hhmm(540), hhmm(1439), hhmm(1440 + 5)), ("09:00".into(), "23:59".into(), "00:05".into()));
    }

    #[test]
    fn form_datetimes_are_local_to_the_organisation() {
        let tz = zone_named("Asia/Shanghai");
        let nine = rules::local_instant(&tz, date(2026, 11, 13), 540).expect("09:00");
        assert_eq!(parse_local_datetime(&tz, "2026-11-13T09:00"), Some(nine));
        assert_eq!(parse_local_datetime(&tz, "2026-11-13 09:00:00"), Some(nine));
        assert_eq!(parse_local_datetime(&tz, "2026-11-13T01:00:00Z"), Some(nine));
        assert_eq!(parse_local_datetime(&tz, "13/11/2026 9am"), None);
        assert_eq!(time_of(&tz, nine), "09:00");
        assert_eq!(datetime_of(&tz, nine), "2026-11-13 09:00");
        assert_eq!(time_on(&tz, date(2026, 11, 13), nine), "09:00");
        assert_eq!(time_on(&tz, date(2026, 11, 12), nine), "2026-11-13 09:00");
    }

    #[test]
    fn months_and_dates_are_strict() {
        assert_eq!(parse_month("2026-11"), Some((date(2026, 11, 1), date(2026, 11, 30))));
        assert_eq!(parse_month("2024-02").map(|m| m.1), Some(date(2024, 2, 29)));
        assert_eq!(parse_month("2026-13"), None);
        assert_eq!(parse_month("2026-1"), None);
        assert_eq!(parse_date("2026-11-01"), Some(date(2026, 11, 1)));
        assert_eq!(parse_date("2026-11-1"), None);
        assert_eq!(shift_month(date(2026, 12, 1), 1).as_deref(), Some("2027-01"));
        assert_eq!(shift_month(date(2026, 1, 1), -1).as_deref(), Some("2025-12"));
        assert_eq!(iso_weekday(date(2026, 11, 1)), 7);
    }

    #[test]
    fn an_unknown_zone_falls_back_to_shanghai() {
        let tz = zone_named("Mars/Olympus_Mons");
        assert_eq!(tz.iana_name(), Some("Asia/Shanghai"));
        assert_eq!(zone_named("Europe/Berlin").iana_name(), Some("Europe/Berlin"));
    }
}
