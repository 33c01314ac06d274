//! Where the current call comes from, and the organisation's clock (no capability needed).
//! Since API 0.1.3.
//!
//! ```no_run
//! use tessera_sdk::context;
//! let ip = context::client_ip(); // Some(192.168.1.20) for a page or an action
//! let tz = context::time_zone(); // "Asia/Shanghai"
//! let admin = context::is_admin();
//! ```

use std::net::IpAddr;

use serde::Deserialize;

use crate::bindings::tessera::plugin::context as raw;

/// The address of the signed-in user's browser for a page, an action or an inbound API
/// request (behind a proxy the operator trusts, the first `X-Forwarded-For` hop); for an
/// inbound webhook, its caller's. None for events, jobs and native drivers.
pub fn client_ip() -> Option<IpAddr> {
    raw::client_ip().and_then(|ip| ip.parse().ok())
}

/// The organisation's time zone, an IANA name such as `Asia/Shanghai`.
pub fn time_zone() -> String {
    raw::time_zone()
}

/// Whether the signed-in user is one of the organisation's administrators; false for events,
/// jobs and webhooks.
pub fn is_admin() -> bool {
    raw::is_admin()
}

/// The names of the signed-in user's roles (`Administrator`, `Manager`, `Salesperson`, or the
/// organisation's own); empty for events, jobs and webhooks. Since API 0.1.4.
pub fn roles() -> Vec<String> {
    raw::roles()
}

/// The value of a `location` form field ([`crate::ui::Field::location`]).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Location {
    /// Degrees north.
    pub lat: f64,
    /// Degrees east.
    pub lon: f64,
    /// How far off the position may be, in metres, as the device reports it.
    #[serde(rename = "accuracy-m", default)]
    pub accuracy_m: Option<f64>,
}

impl Location {
    /// The great-circle distance to another position, in metres.
    pub fn distance_m(&self, other: &Location) -> f64 {
        const EARTH_RADIUS_M: f64 = 6_371_008.8;
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().atan2((1.0 - a).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_great_circle_metres() {
        let tiananmen = Location { lat: 39.9087, lon: 116.3975, accuracy_m: None };
        let same = tiananmen;
        assert!(tiananmen.distance_m(&same) < 0.001);
        // The Bund in Shanghai is about 1,067 km from Tiananmen.
        let bund = Location { lat: 31.2400, lon: 121.4900, accuracy_m: Some(20.0) };
        let d = tiananmen.distance_m(&bund);
        assert!((1_060_000.0..1_075_000.0).contains(&d), "{d}");
    }

    #[test]
    fn reads_the_form_value() {
        let l: Location = serde_json::from_str(r#"{"lat": 31.23, "lon": 121.47, "accuracy-m": 35}"#).unwrap();
        assert_eq!(l.accuracy_m, Some(35.0));
    }
}
