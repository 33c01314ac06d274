//! The settings the organisation's admin fills in (`[[settings]]` in plugin.toml): the site and
//! the radius around it that clocking in must be within, and the overtime threshold.

use serde_json::Value;
use tessera_sdk::context::Location;
use tessera_sdk::{Result, settings};

/// The overtime threshold when the admin left it empty.
pub const DEFAULT_MIN_OVERTIME_MIN: i64 = 30;

/// The settings the rules and the clock page need.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Where people must be, and how far from it they may be (metres), when the admin set all
    /// three of `site_lat`, `site_lon` and `radius_m`.
    pub site: Option<(Location, f64)>,
    pub min_overtime_min: i64,
}

impl Settings {
    /// The settings as they stand.
    pub fn load() -> Result<Settings> {
        Ok(Settings::from_value(&settings::all_value()?))
    }

    /// Reads the settings leniently: a value of the wrong kind counts as unset.
    pub fn from_value(all: &Value) -> Settings {
        let number = |key: &str| all.get(key).and_then(Value::as_f64).filter(|v| v.is_finite());
        let site = match (number("site_lat"), number("site_lon"), number("radius_m")) {
            (Some(lat), Some(lon), Some(radius))
                if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) && radius > 0.0 =>
            {
                Some((Location { lat, lon, accuracy_m: None }, radius))
            }
            _ => None,
        };
        let min_overtime_min = number("min_overtime_min")
            .map(|m| m.round() as i64)
            .filter(|m| (0..=24 * 60).contains(m))
            .unwrap_or(DEFAULT_MIN_OVERTIME_MIN);
        Settings { site, min_overtime_min }
    }
}

/// What the location rule says about a clock-in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Place {
    /// No site is configured.
    Anywhere,
    /// Within the radius, this many metres from the site.
    Within(f64),
    /// This many metres away, beyond the radius.
    TooFar(f64, f64),
    /// A site is configured and the browser gave no position.
    Unknown,
}

/// The location rule: with a site, the device's position must be within the radius of it.
pub fn check_place(site: Option<(Location, f64)>, position: Option<Location>) -> Place {
    let Some((site, radius)) = site else {
        return Place::Anywhere;
    };
    match position {
        None => Place::Unknown,
        Some(at) => {
            let distance = site.distance_m(&at);
            if distance <= radius { Place::Within(distance) } else { Place::TooFar(distance, radius) }
        }
    }
}

/// The `location` field of a submitted form, when the browser gave one.
pub fn position_in(input: &Value) -> Option<Location> {
    input.get("location").and_then(|v| serde_json::from_value::<Location>(v.clone()).ok())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_site_needs_all_three_settings() {
        assert_eq!(Settings::from_value(&json!({})), Settings { site: None, min_overtime_min: 30 });
        assert_eq!(Settings::from_value(&json!({"site_lat": 31.23, "site_lon": 121.47})).site, None);
        let full = Settings::from_value(
            &json!({"site_lat": 31.23, "site_lon": 121.47, "radius_m": 300, "min_overtime_min": 60}),
        );
        assert_eq!(full.site.map(|(l, r)| (l.lat, l.lon, r)), Some((31.23, 121.47, 300.0)));
        assert_eq!(full.min_overtime_min, 60);
        assert_eq!(Settings::from_value(&json!({"site_lat": 91, "site_lon": 0, "radius_m": 300})).site, None);
        assert_eq!(Settings::from_value(&json!({"min_overtime_min": "x"})).min_overtime_min, 30);
    }

    #[test]
    fn clocking_in_must_be_within_the_radius() {
        let site = Some((Location { lat: 31.2304, lon: 121.4737, accuracy_m: None }, 200.0));
        assert_eq!(check_place(None, None), Place::Anywhere);
        assert_eq!(check_place(site, None), Place::Unknown);
        // About 111 metres north.
        let near = Location { lat: 31.2314, lon: 121.4737, accuracy_m: Some(10.0) };
        assert!(matches!(check_place(site, Some(near)), Place::Within(d) if (100.0..120.0).contains(&d)));
        // About 1.1 km north.
        let far = Location { lat: 31.2404, lon: 121.4737, accuracy_m: None };
        assert!(matches!(check_place(site, Some(far)), Place::TooFar(d, r) if d > 1000.0 && r == 200.0));
    }

    #[test]
    fn the_position_is_read_from_the_form() {
        let input = json!({"location": {"lat": 31.23, "lon": 121.47, "accuracy-m": 15}});
        assert_eq!(position_in(&input).map(|l| (l.lat, l.accuracy_m)), Some((31.23, Some(15.0))));
        assert_eq!(position_in(&json!({})), None);
        assert_eq!(position_in(&json!({"location": "31.23,121.47"})), None);
    }
}
