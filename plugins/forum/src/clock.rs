//! Times as people read them, in the organisation's time zone (Asia/Shanghai unless its admin
//! chose another).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tessera_sdk::context;

/// The organisation's time zone, or Asia/Shanghai when the host names one the bundled database
/// does not know.
pub fn org_zone() -> TimeZone {
    TimeZone::get(context::time_zone().trim()).or_else(|_| TimeZone::get("Asia/Shanghai")).unwrap_or(TimeZone::UTC)
}

/// `YYYY-MM-DD HH:MM` of an instant (ms since the epoch) in a zone.
pub fn format(millis: i64, zone: &TimeZone) -> String {
    match Timestamp::from_millisecond(millis) {
        Ok(t) => t.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M").to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_the_zone() {
        let shanghai = TimeZone::get("Asia/Shanghai").unwrap_or(TimeZone::UTC);
        // 2026-12-02T01:30:00Z
        assert_eq!(format(1_796_175_000_000, &shanghai), "2026-12-02 09:30");
    }
}
