//! The settings the organisation's admin fills in (`[[settings]]` in plugin.toml): the webhook
//! token, and the UTC offset that says what time it is for the people who read the pages.

use serde_json::Value;
use tessera_sdk::{Result, settings};

use tessera_sdk::time;

/// The settings the pages need.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The organisation's offset from UTC.
    pub utc_offset_ms: i64,
}

impl Settings {
    /// The settings as they stand.
    pub fn load() -> Result<Settings> {
        Ok(Settings::from_value(&settings::all_value()?))
    }

    /// Reads the settings leniently: a value of the wrong kind counts as unset.
    fn from_value(all: &Value) -> Settings {
        let hours = all.get("utc_offset_hours").and_then(Value::as_f64).unwrap_or(8.0).clamp(-14.0, 14.0);
        // Whole minutes, so that offsets such as 5.5 hours work.
        Settings { utc_offset_ms: (hours * 60.0).round() as i64 * 60_000 }
    }

    /// `2026-12-01 09:30`.
    pub fn format_time(&self, millis: i64) -> String {
        time::format_local(millis, self.utc_offset_ms)
    }

    /// `2026-12-01`.
    pub fn format_date(&self, millis: i64) -> String {
        time::format_date(millis, self.utc_offset_ms)
    }

    /// When the organisation's current day began.
    pub fn start_of_today(&self, now: i64) -> i64 {
        time::start_of_day(now, self.utc_offset_ms)
    }
}

/// The webhook token, if the admin set one. Read on its own on the webhook path, which needs
/// nothing else from the settings.
pub fn webhook_token() -> Option<String> {
    settings::get("webhook_token")
        .and_then(|json| serde_json::from_str::<Value>(&json).ok())
        .and_then(|value| value.as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_offset_defaults_to_beijing_and_reads_leniently() {
        assert_eq!(Settings::from_value(&json!({})).utc_offset_ms, 8 * 3_600_000);
        assert_eq!(Settings::from_value(&json!({ "utc_offset_hours": 5.5 })).utc_offset_ms, 330 * 60_000);
        assert_eq!(Settings::from_value(&json!({ "utc_offset_hours": "x" })).utc_offset_ms, 8 * 3_600_000);
        assert_eq!(Settings::from_value(&json!({ "utc_offset_hours": -40 })).utc_offset_ms, -14 * 3_600_000);
    }
}
