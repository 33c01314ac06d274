//! The settings the organisation's admin fills in (`[[settings]]` in plugin.toml): the claim
//! caps, the cooldown, which customers no rule may take (won and locked ones) and the UTC offset
//! that says when "today" begins.

use serde_json::Value;
use tessera_sdk::customers::{AssignLimits, Selection};
use tessera_sdk::{Result, settings};

use tessera_sdk::time::{self, DAY_MS};

/// The plugin's settings, with the manifest's defaults where the admin left one unset.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Customers one person may claim per local day; 0 for no limit.
    pub daily_claim_cap: u32,
    /// Nobody holding this many customers may claim more; 0 for no limit.
    pub max_held: u32,
    /// Days a former owner must wait before claiming a customer back; 0 for none.
    pub cooldown_days: u32,
    /// Status codes of won customers, which no rule returns to the pool.
    pub won_statuses: Vec<String>,
    /// The tag of locked customers, which no rule returns to the pool.
    pub lock_tag: Option<String>,
    /// The organisation's offset from UTC.
    pub utc_offset_ms: i64,
}

impl Settings {
    /// The settings as they stand.
    pub fn load() -> Result<Settings> {
        Ok(Settings::from_value(&settings::all_value()?))
    }

    /// Reads the settings object leniently: a value of the wrong kind counts as unset.
    fn from_value(all: &Value) -> Settings {
        let count = |key: &str, default: u32| all.get(key).and_then(Value::as_f64).map_or(default, clamp_count);
        let text = |key: &str, default: &str| all.get(key).and_then(Value::as_str).unwrap_or(default).trim().to_owned();
        let lock_tag = text("lock_tag", "锁定");
        let offset_hours = all.get("utc_offset_hours").and_then(Value::as_f64).unwrap_or(8.0).clamp(-14.0, 14.0);
        Settings {
            daily_claim_cap: count("daily_claim_cap", 10),
            max_held: count("max_held", 200),
            cooldown_days: count("cooldown_days", 7),
            won_statuses: split_list(&text("won_statuses", "signed")),
            lock_tag: (!lock_tag.is_empty()).then_some(lock_tag),
            // Whole minutes, so that offsets such as 5.5 hours work.
            utc_offset_ms: (offset_hours * 60.0).round() as i64 * 60_000,
        }
    }

    /// The selection without the customers no rule may take: won or locked ones.
    pub fn without_exempt(&self, selection: Selection) -> Selection {
        let locked: Vec<&str> = self.lock_tag.iter().map(String::as_str).collect();
        selection.excluding_statuses(&self.won_statuses).excluding_tags(&locked)
    }

    /// When the organisation's current day began.
    pub fn start_of_today(&self, now: i64) -> i64 {
        time::start_of_day(now, self.utc_offset_ms)
    }

    /// An instant as the organisation's people read it, `2026-12-01 09:30`.
    pub fn format_time(&self, millis: i64) -> String {
        time::format_local(millis, self.utc_offset_ms)
    }

    /// The limits a claim must keep, for the host to check inside the claim's transaction.
    pub fn claim_limits(&self, now: i64) -> AssignLimits {
        AssignLimits {
            max_held: (self.max_held > 0).then_some(self.max_held),
            max_taken_since: (self.daily_claim_cap > 0).then(|| (self.daily_claim_cap, self.start_of_today(now))),
            cooldown_ms: (self.cooldown_days > 0).then(|| i64::from(self.cooldown_days) * DAY_MS),
        }
    }
}

/// A setting's number as a count: negative is 0, fractions round.
fn clamp_count(n: f64) -> u32 {
    if n.is_nan() || n <= 0.0 { 0 } else { n.min(f64::from(u32::MAX)).round() as u32 }
}

/// `"signed, won，成交"` → `["signed", "won", "成交"]`: commas of either width, blanks dropped.
fn split_list(text: &str) -> Vec<String> {
    text.split([',', '，']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unset_settings_take_the_manifest_defaults() {
        let s = Settings::from_value(&json!({}));
        assert_eq!((s.daily_claim_cap, s.max_held, s.cooldown_days), (10, 200, 7));
        assert_eq!((s.won_statuses, s.lock_tag), (vec!["signed".to_owned()], Some("锁定".to_owned())));
        assert_eq!(s.utc_offset_ms, 8 * 3_600_000);
    }

    #[test]
    fn settings_are_read_leniently() {
        let s = Settings::from_value(&json!({
            "daily_claim_cap": 2.6, "max_held": -5, "cooldown_days": "x",
            "won_statuses": " signed ，won,, ", "lock_tag": "  ", "utc_offset_hours": 5.5,
        }));
        assert_eq!((s.daily_claim_cap, s.max_held, s.cooldown_days), (3, 0, 7));
        assert_eq!(s.won_statuses, ["signed", "won"]);
        assert_eq!(s.lock_tag, None);
        assert_eq!(s.utc_offset_ms, 330 * 60_000);
    }

    #[test]
    fn a_zero_cap_is_no_limit() {
        let mut s = Settings::from_value(&json!({ "max_held": 0, "cooldown_days": 0 }));
        let limits = s.claim_limits(1_796_088_600_000);
        assert_eq!((limits.max_held, limits.cooldown_ms), (None, None));
        assert_eq!(limits.max_taken_since, Some((10, s.start_of_today(1_796_088_600_000))));
        s.daily_claim_cap = 0;
        assert_eq!(s.claim_limits(0).max_taken_since, None);
    }

    #[test]
    fn exempt_customers_are_left_out_of_a_selection() {
        let s = Settings::from_value(&json!({ "won_statuses": "signed,paid" }));
        let selection = s.without_exempt(Selection::owned());
        assert_eq!(selection.exclude_statuses, ["signed", "paid"]);
        assert_eq!(selection.exclude_tags, ["锁定"]);
    }
}
