//! The settings the organisation's admin fills in (`[[settings]]` in plugin.toml), what the
//! plugin keeps for itself (`_stock_sync`, the last stock pull), and the organisation's clock.

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_sdk::{Result, context, settings};

/// Currencies the settings offer; every one has two decimals.
pub const CURRENCIES: [&str; 3] = ["CNY", "USD", "EUR"];

/// The setting a value is read from, as text; blank counts as unset.
fn text(key: &str) -> Option<String> {
    settings::get(key)
        .and_then(|json| serde_json::from_str::<Value>(&json).ok())
        .and_then(|value| value.as_str().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned))
}

/// The organisation's currency (`currency`, CNY unless set otherwise).
pub fn currency() -> String {
    text("currency").filter(|c| CURRENCIES.contains(&c.as_str())).unwrap_or_else(|| "CNY".to_owned())
}

/// The base URL of the ERP's API, without a trailing slash.
pub fn erp_api_url() -> Option<String> {
    text("erp_api_url").map(|url| url.trim_end_matches('/').to_owned())
}

/// The bearer token of the ERP's API.
pub fn erp_api_token() -> Option<String> {
    text("erp_api_token")
}

/// The Standard Webhooks secret of the ERP's callbacks.
pub fn erp_secret() -> Option<String> {
    text("erp_secret")
}

/// The outcome of the last stock pull, kept as the plugin's own setting `_stock_sync`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockSync {
    /// When it ran (ms since the epoch).
    pub at: i64,
    /// Products whose stock changed.
    #[serde(default)]
    pub updated: u32,
    /// Products the ERP reported with the stock they already had.
    #[serde(default)]
    pub unchanged: u32,
    /// SKUs the ERP reported that are no product here.
    #[serde(default)]
    pub unknown: u32,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub const STOCK_SYNC_KEY: &str = "_stock_sync";

/// The last stock pull, if any ran.
pub fn stock_sync() -> Option<StockSync> {
    settings::get_typed::<StockSync>(STOCK_SYNC_KEY).ok().flatten()
}

/// Remembers the outcome of a stock pull.
pub fn set_stock_sync(sync: &StockSync) -> Result<()> {
    settings::set_typed(STOCK_SYNC_KEY, sync)
}

/// The organisation's clock: dates and times as its people read them.
#[derive(Debug, Clone)]
pub struct Clock {
    tz: TimeZone,
}

impl Clock {
    /// The organisation's time zone (UTC if the host names one this build does not know).
    pub fn load() -> Clock {
        Clock::of(&context::time_zone())
    }

    pub fn of(name: &str) -> Clock {
        Clock { tz: TimeZone::get(name).unwrap_or(TimeZone::UTC) }
    }

    fn zoned(&self, millis: i64) -> Option<jiff::Zoned> {
        jiff::Timestamp::from_millisecond(millis).ok().map(|t| t.to_zoned(self.tz.clone()))
    }

    /// `2026-12-01 09:30`.
    pub fn time(&self, millis: i64) -> String {
        self.zoned(millis).map(|z| z.strftime("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
    }

    /// `2026-12-01`, as price lists' dates are written.
    pub fn date(&self, millis: i64) -> String {
        self.zoned(millis).map(|z| z.strftime("%Y-%m-%d").to_string()).unwrap_or_default()
    }

    /// `20261201`, as order numbers carry it.
    pub fn compact_date(&self, millis: i64) -> String {
        self.zoned(millis).map(|z| z.strftime("%Y%m%d").to_string()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30T16:30:00Z: already 1 December in Shanghai.
    const INSTANT: i64 = 1_796_056_200_000;

    #[test]
    fn dates_follow_the_organisations_time_zone() {
        let shanghai = Clock::of("Asia/Shanghai");
        assert_eq!(shanghai.compact_date(INSTANT), "20261201");
        assert_eq!(shanghai.date(INSTANT), "2026-12-01");
        assert_eq!(shanghai.time(INSTANT), "2026-12-01 00:30");
        let london = Clock::of("Europe/London");
        assert_eq!(london.compact_date(INSTANT), "20261130");
        assert_eq!(Clock::of("Nowhere/Special").time(INSTANT), "2026-11-30 16:30");
    }
}
