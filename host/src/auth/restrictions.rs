//! Sign-in restrictions: rules, per user or per role, that allow signing in only from listed
//! address ranges and within time windows of the organisation's time zone.
//!
//! A user to whom no rule applies signs in from anywhere at any time. Once any rule applies
//! (through the user or one of their roles), sign-in is allowed only when at least one of
//! those rules matches both the client address and the local time.

use std::net::IpAddr;

use ipnet::IpNet;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use crate::audit::AuditEntry;
use crate::error::{Error, Result};
use crate::store::{Id, Store, now_ms};
use crate::timefmt::rfc3339;

/// A rule as stored and shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SignInRule {
    pub id: Id,
    pub user_id: Option<Id>,
    pub role_id: Option<Id>,
    /// Allowed address ranges in CIDR form; empty allows every address.
    pub ip_allow: Vec<String>,
    /// ISO weekdays on which sign-in is allowed (1 = Monday … 7 = Sunday).
    pub weekdays: Vec<u8>,
    /// Start of the daily window, `HH:MM` local time; absent with `end` for all day.
    pub start: Option<String>,
    /// End of the daily window (exclusive); a window may run past midnight (22:00–06:00).
    pub end: Option<String>,
    pub note: String,
    pub created_at: String,
}

/// A new rule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSignInRule {
    pub user_id: Option<Id>,
    pub role_id: Option<Id>,
    #[serde(default)]
    pub ip_allow: Vec<String>,
    /// Defaults to every day.
    pub weekdays: Option<Vec<u8>>,
    pub start: Option<String>,
    pub end: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// A rule ready to match.
#[derive(Debug, Clone)]
struct Rule {
    ip_allow: Vec<IpNet>,
    weekdays: u8,
    window: Option<(i64, i64)>,
}

impl Rule {
    fn matches(&self, ip: Option<IpAddr>, weekday: u8, minute: i64) -> bool {
        let ip_ok = self.ip_allow.is_empty() || ip.is_some_and(|ip| self.ip_allow.iter().any(|net| net.contains(&ip)));
        let day_ok = self.weekdays & (1 << (weekday - 1)) != 0;
        let time_ok = match self.window {
            None => true,
            Some((start, end)) if start <= end => (start..end).contains(&minute),
            // past midnight: 22:00–06:00
            Some((start, end)) => minute >= start || minute < end,
        };
        ip_ok && day_ok && time_ok
    }
}

fn parse_hhmm(field: &'static str, s: &str) -> Result<i64> {
    let bad = || Error::invalid(field, format!("{s:?} is not a time of day; write HH:MM, e.g. 08:30"));
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..24).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn hhmm(minute: i64) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn parse_nets(list: &str) -> Vec<IpNet> {
    list.split_whitespace().filter_map(|s| s.parse().ok()).collect()
}

/// Validates and stores a new rule, and records `sign_in_rule.created` for `actor`.
pub async fn create(
    store: &Store,
    org_id: Id,
    actor: Option<Id>,
    ip: Option<IpAddr>,
    rule: &NewSignInRule,
) -> Result<SignInRule> {
    if rule.user_id.is_some() == rule.role_id.is_some() {
        return Err(Error::invalid("user_id", "a rule applies to exactly one of user_id or role_id"));
    }
    let mut nets = Vec::with_capacity(rule.ip_allow.len());
    for s in &rule.ip_allow {
        let net: IpNet = s.parse().or_else(|_| s.parse::<IpAddr>().map(IpNet::from)).map_err(|_| {
            Error::invalid("ip_allow", format!("{s:?} is not an address or a CIDR range such as 10.0.0.0/8"))
        })?;
        nets.push(net.to_string());
    }
    if nets.len() > 100 {
        return Err(Error::invalid("ip_allow", "at most 100 ranges per rule"));
    }
    let mut weekdays = 0i64;
    for d in rule.weekdays.clone().unwrap_or_else(|| (1..=7).collect()) {
        if !(1..=7).contains(&d) {
            return Err(Error::invalid("weekdays", "weekdays are 1 (Monday) to 7 (Sunday)"));
        }
        weekdays |= 1 << (d - 1);
    }
    if weekdays == 0 {
        return Err(Error::invalid("weekdays", "name at least one weekday"));
    }
    let window = match (&rule.start, &rule.end) {
        (None, None) => None,
        (Some(s), Some(e)) => {
            let (s, e) = (parse_hhmm("start", s)?, parse_hhmm("end", e)?);
            if s == e {
                return Err(Error::invalid("end", "the window must not be empty; leave out start and end for all day"));
            }
            Some((s, e))
        }
        _ => return Err(Error::invalid("start", "give both start and end, or neither")),
    };
    if rule.note.chars().count() > 500 {
        return Err(Error::invalid("note", "the note is at most 500 characters"));
    }
    let now = now_ms();
    let id: Id = sqlx::query_scalar(
        "INSERT INTO sign_in_rules (org_id, user_id, role_id, ip_allow, weekdays, start_minute, end_minute, note, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(org_id)
    .bind(rule.user_id)
    .bind(rule.role_id)
    .bind(nets.join(" "))
    .bind(weekdays)
    .bind(window.map(|w| w.0))
    .bind(window.map(|w| w.1))
    .bind(&rule.note)
    .bind(now)
    .fetch_one(store.pool())
    .await
    .map_err(|e| Error::from_db(e, "rule exists"))?;
    let rule = list(store, org_id).await?.into_iter().find(|r| r.id == id).ok_or(Error::NotFound("sign-in rule"))?;
    AuditEntry::new(org_id, actor, "sign_in_rule.created")
        .target("sign_in_rule", rule.id)
        .ip(ip)
        .detail(serde_json::to_value(&rule).unwrap_or_default())
        .record(store.pool())
        .await?;
    Ok(rule)
}

pub async fn list(store: &Store, org_id: Id) -> Result<Vec<SignInRule>> {
    let rows = sqlx::query(
        "SELECT id, user_id, role_id, ip_allow, weekdays, start_minute, end_minute, note, created_at \
         FROM sign_in_rules WHERE org_id = $1 ORDER BY id",
    )
    .bind(org_id)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let weekdays: i64 = r.try_get(4)?;
            let ip_allow: String = r.try_get(3)?;
            Ok(SignInRule {
                id: r.try_get(0)?,
                user_id: r.try_get(1)?,
                role_id: r.try_get(2)?,
                ip_allow: ip_allow.split_whitespace().map(str::to_owned).collect(),
                weekdays: (1..=7u8).filter(|d| weekdays & (1 << (d - 1)) != 0).collect(),
                start: r.try_get::<Option<i64>, _>(5)?.map(hhmm),
                end: r.try_get::<Option<i64>, _>(6)?.map(hhmm),
                note: r.try_get(7)?,
                created_at: rfc3339(r.try_get(8)?),
            })
        })
        .collect()
}

/// Removes a rule and records `sign_in_rule.deleted` for `actor`.
pub async fn delete(store: &Store, org_id: Id, actor: Option<Id>, ip: Option<IpAddr>, id: Id) -> Result<()> {
    let done = sqlx::query("DELETE FROM sign_in_rules WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .execute(store.pool())
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("sign-in rule"));
    }
    AuditEntry::new(org_id, actor, "sign_in_rule.deleted").target("sign_in_rule", id).ip(ip).record(store.pool()).await
}

/// Refuses the sign-in when rules apply to the user and none of them matches `ip` and now.
pub async fn check(store: &Store, org_id: Id, user_id: Id, time_zone: &str, ip: Option<IpAddr>) -> Result<()> {
    let rows = sqlx::query(
        "SELECT ip_allow, weekdays, start_minute, end_minute FROM sign_in_rules \
         WHERE org_id = $1 AND (user_id = $2 OR role_id IN (SELECT role_id FROM user_roles WHERE user_id = $2 AND org_id = $1))",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_all(store.pool())
    .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut rules = Vec::with_capacity(rows.len());
    for r in &rows {
        let start: Option<i64> = r.try_get(2)?;
        let end: Option<i64> = r.try_get(3)?;
        rules.push(Rule {
            ip_allow: parse_nets(&r.try_get::<String, _>(0)?),
            weekdays: r.try_get::<i64, _>(1)? as u8,
            window: start.zip(end),
        });
    }
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let local = Timestamp::now().to_zoned(tz);
    let weekday = local.weekday().to_monday_one_offset() as u8;
    let minute = i64::from(local.hour()) * 60 + i64::from(local.minute());
    if rules.iter().any(|rule| rule.matches(ip, weekday, minute)) {
        return Ok(());
    }
    let from = ip.map(|ip| ip.to_string()).unwrap_or_else(|| "an unknown address".into());
    Err(Error::Forbidden(format!(
        "sign-in restrictions on this account do not allow signing in from {from} at {} {} ({time_zone}); ask an administrator",
        local.strftime("%a"),
        hhmm(minute)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(nets: &str, weekdays: u8, window: Option<(i64, i64)>) -> Rule {
        Rule { ip_allow: parse_nets(nets), weekdays, window }
    }

    #[test]
    fn address_ranges_and_windows_combine() {
        let office = rule("10.1.0.0/16 192.168.5.7/32", 0b0011111, Some((8 * 60, 19 * 60)));
        let ip = |s: &str| s.parse().ok();
        assert!(office.matches(ip("10.1.2.3"), 1, 9 * 60));
        assert!(!office.matches(ip("10.2.0.1"), 1, 9 * 60));
        assert!(!office.matches(ip("10.1.2.3"), 6, 9 * 60), "Saturday is not in the rule");
        assert!(!office.matches(ip("10.1.2.3"), 1, 19 * 60), "the end is exclusive");
        assert!(!office.matches(None, 1, 9 * 60));
    }

    #[test]
    fn night_windows_run_past_midnight() {
        let night = rule("", 0b1111111, Some((22 * 60, 6 * 60)));
        assert!(night.matches(None, 3, 23 * 60));
        assert!(night.matches(None, 3, 60));
        assert!(!night.matches(None, 3, 12 * 60));
    }

    #[test]
    fn times_parse_strictly() {
        assert_eq!(parse_hhmm("start", "08:30").ok(), Some(510));
        assert!(parse_hhmm("start", "24:00").is_err());
        assert!(parse_hhmm("start", "8h").is_err());
    }
}
