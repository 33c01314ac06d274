//! The plugin's records (`[[entities]]` in plugin.toml) as types, and the reads the pages share:
//! shifts, the calendar, networks, punches and approved leave and overtime of a date range.
//! Reads run for the signed-in user, so the host narrows punches and requests to the people
//! that user may see; reference data (shifts, calendar, networks) everyone reads.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use tessera_sdk::directory::Department;
use tessera_sdk::records::{self, Query, Typed};
use tessera_sdk::{Id, Result};

use crate::rules::{self, Calendar, DayOverride, Punch, PunchKind, Shift, Span};
use crate::zone;

pub const PUNCH: &str = "punch";
pub const SHIFT: &str = "shift";
pub const CALENDAR_DAY: &str = "calendar_day";
pub const IP_RANGE: &str = "ip_range";
pub const LEAVE: &str = "leave_request";
pub const OVERTIME: &str = "overtime_request";
pub const CORRECTION: &str = "correction";

/// Page size of the reads that follow cursors.
const PAGE: u32 = 500;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PunchRecord {
    pub user_id: Id,
    /// `in` or `out`.
    pub kind: String,
    pub at: i64,
    pub work_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// `web` or `correction`.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction_id: Option<Id>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShiftRecord {
    pub name: String,
    /// `HH:MM`.
    pub start_time: String,
    /// `HH:MM`; at or before the start, the next day.
    pub end_time: String,
    #[serde(default)]
    pub late_grace_min: i64,
    #[serde(default)]
    pub early_grace_min: i64,
    #[serde(default)]
    pub break_min: i64,
    /// The department whose shift it is; none for the organisation's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_department: Option<Id>,
    /// ISO weekdays that are working days, `1,2,3,4,5` (Monday is 1).
    #[serde(default = "weekdays_default")]
    pub weekdays: String,
}

fn weekdays_default() -> String {
    "1,2,3,4,5".to_owned()
}

impl ShiftRecord {
    /// The shift as the rules take it; none when its times do not read.
    pub fn rule(&self) -> Option<Shift> {
        Some(Shift {
            start_min: zone::parse_hhmm(&self.start_time)?,
            end_min: zone::parse_hhmm(&self.end_time)?,
            late_grace_min: self.late_grace_min.max(0),
            early_grace_min: self.early_grace_min.max(0),
            break_min: self.break_min.max(0),
            weekdays: weekday_mask(&self.weekdays),
        })
    }
}

/// `1,2,3,4,5` as a bit mask, bit 0 for Monday; numbers outside 1–7 are ignored.
pub fn weekday_mask(text: &str) -> u8 {
    text.split(',')
        .filter_map(|d| d.trim().parse::<u8>().ok())
        .filter(|d| (1..=7).contains(d))
        .fold(0, |m, d| m | 1 << (d - 1))
}

/// The standard day shift, for an organisation that has configured none.
pub fn standard_shift() -> ShiftRecord {
    ShiftRecord {
        name: "标准班 Standard".to_owned(),
        start_time: "09:00".to_owned(),
        end_time: "18:00".to_owned(),
        late_grace_min: 0,
        early_grace_min: 0,
        break_min: 60,
        for_department: None,
        weekdays: weekdays_default(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarDayRecord {
    pub date: String,
    /// `holiday` or `workday`.
    pub kind: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpRangeRecord {
    pub cidr: String,
    #[serde(default)]
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaveRecord {
    pub user_id: Id,
    pub kind: String,
    pub starts_at: i64,
    pub ends_at: i64,
    /// Working minutes the leave takes, by the rules.
    pub minutes: i64,
    #[serde(default)]
    pub reason: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<Id>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OvertimeRecord {
    pub user_id: Id,
    /// The work date the overtime belongs to.
    pub date: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub minutes: i64,
    #[serde(default)]
    pub reason: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<Id>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrectionRecord {
    pub user_id: Id,
    pub work_date: String,
    pub kind: String,
    pub at: i64,
    pub reason: String,
    pub by_user_id: Id,
    /// What counted before, as people read it (`09:40 (web)`, or `none`).
    pub previous: String,
}

/// Every record of a query, following cursors.
pub fn all<T: serde::de::DeserializeOwned>(query: Query) -> Result<Vec<Typed<T>>> {
    records::find_all(&query.limit(PAGE))?.into_iter().map(|r| r.into_typed()).collect()
}

/// Every shift, valid or not (the shifts page shows them all).
pub fn shifts() -> Result<Vec<Typed<ShiftRecord>>> {
    all(Query::new(SHIFT).order_by("name"))
}

/// The shift of a department: its own, else the nearest department above it that has one,
/// else the organisation's default (a shift of no department), else the standard day shift.
pub fn shift_for(department: Option<Id>, departments: &[Department], shifts: &[ShiftRecord]) -> ShiftRecord {
    let valid = |s: &&ShiftRecord| s.rule().is_some();
    let mut at = department;
    let mut seen = 0;
    while let Some(id) = at {
        if let Some(shift) = shifts.iter().filter(valid).find(|s| s.for_department == Some(id)) {
            return shift.clone();
        }
        at = departments.iter().find(|d| d.id == id).and_then(|d| d.parent_id);
        seen += 1;
        if seen > departments.len() {
            break;
        }
    }
    shifts.iter().filter(valid).find(|s| s.for_department.is_none()).cloned().unwrap_or_else(standard_shift)
}

/// The calendar's holidays and make-up days from `first` to `last`, with their names.
pub fn calendar(first: Date, last: Date) -> Result<(Calendar, BTreeMap<Date, String>)> {
    let query = Query::new(CALENDAR_DAY).ge("date", first.to_string()).le("date", last.to_string()).order_by("date");
    Ok(calendar_of(all::<CalendarDayRecord>(query)?.iter().map(|r| &r.fields)))
}

/// The calendar of calendar-day records.
pub fn calendar_of<'a>(days: impl IntoIterator<Item = &'a CalendarDayRecord>) -> (Calendar, BTreeMap<Date, String>) {
    let mut calendar = Calendar::new();
    let mut names = BTreeMap::new();
    for day in days {
        let kind = match day.kind.as_str() {
            "holiday" => DayOverride::Holiday,
            "workday" => DayOverride::Workday,
            _ => continue,
        };
        if let Some(date) = zone::parse_date(&day.date) {
            calendar.set(date, kind);
            names.insert(date, day.name.clone());
        }
    }
    (calendar, names)
}

/// The networks clocking in is allowed from, as `(cidr, label)`.
pub fn ip_ranges() -> Result<Vec<Typed<IpRangeRecord>>> {
    all(Query::new(IP_RANGE).order_by("cidr"))
}

/// Punches of work dates `first` to `last`, of one user or of everyone the caller may see.
pub fn punches(user: Option<Id>, first: Date, last: Date) -> Result<Vec<Typed<PunchRecord>>> {
    let mut query = Query::new(PUNCH).ge("work_date", first.to_string()).le("work_date", last.to_string());
    if let Some(user) = user {
        query = query.eq("user_id", user);
    }
    all(query.order_by("at"))
}

/// A punch record as the rules take it.
pub fn rule_punch(record: &Typed<PunchRecord>) -> Option<Punch> {
    Some(Punch {
        work_date: zone::parse_date(&record.fields.work_date)?,
        kind: PunchKind::parse(&record.fields.kind)?,
        at: record.fields.at,
        corrected: record.fields.source == "correction",
        seq: record.id,
    })
}

/// Spans of time by person.
pub type SpansOf = Vec<(Id, Span)>;

/// Approved leave and overtime overlapping `[from, to)`, of one user or of everyone the caller
/// may see, as `(user, span)`.
pub fn approved(user: Option<Id>, from: i64, to: i64) -> Result<(SpansOf, SpansOf)> {
    let narrow = |entity: &str| {
        let query = Query::new(entity).eq("status", "approved").lt("starts_at", to).gt("ends_at", from);
        match user {
            Some(user) => query.eq("user_id", user),
            None => query,
        }
    };
    let leave = all::<LeaveRecord>(narrow(LEAVE))?
        .into_iter()
        .map(|r| (r.fields.user_id, Span::new(r.fields.starts_at, r.fields.ends_at)))
        .collect();
    let overtime = all::<OvertimeRecord>(narrow(OVERTIME))?
        .into_iter()
        .map(|r| (r.fields.user_id, Span::new(r.fields.starts_at, r.fields.ends_at)))
        .collect();
    Ok((leave, overtime))
}

/// The instants bounding work dates `first` to `last` for any shift: a day either side.
pub fn range_instants(tz: &jiff::tz::TimeZone, first: Date, last: Date) -> (i64, i64) {
    let from = first.yesterday().ok().and_then(|d| rules::local_instant(tz, d, 0).ok()).unwrap_or(i64::MIN / 2);
    let to = last.checked_add(jiff::ToSpan::days(2)).ok().and_then(|d| rules::local_instant(tz, d, 0).ok());
    (from, to.unwrap_or(i64::MAX / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dept(id: Id, parent_id: Option<Id>) -> Department {
        Department { id, name: format!("d{id}"), parent_id }
    }

    fn shift(name: &str, department_id: Option<Id>) -> ShiftRecord {
        ShiftRecord { name: name.into(), for_department: department_id, ..standard_shift() }
    }

    #[test]
    fn a_department_takes_its_own_shift_then_its_parents_then_the_default() {
        let departments = [dept(1, None), dept(2, Some(1)), dept(3, Some(2)), dept(4, None)];
        let shifts = [shift("default", None), shift("sales", Some(2)), shift("broken", Some(4))];
        let broken = ShiftRecord { end_time: "25:00".into(), ..shifts[2].clone() };
        let shifts = [shifts[0].clone(), shifts[1].clone(), broken];
        assert_eq!(shift_for(Some(2), &departments, &shifts).name, "sales");
        assert_eq!(shift_for(Some(3), &departments, &shifts).name, "sales");
        assert_eq!(shift_for(Some(1), &departments, &shifts).name, "default");
        assert_eq!(shift_for(Some(4), &departments, &shifts).name, "default", "a shift that does not read is skipped");
        assert_eq!(shift_for(None, &departments, &shifts).name, "default");
        assert_eq!(shift_for(Some(3), &departments, &[]).name, standard_shift().name);
        // A cycle in a broken tree ends.
        let looped = [dept(5, Some(6)), dept(6, Some(5))];
        assert_eq!(shift_for(Some(5), &looped, &[]).name, standard_shift().name);
    }

    #[test]
    fn weekdays_are_iso_numbers() {
        assert_eq!(weekday_mask("1,2,3,4,5"), rules::MONDAY_TO_FRIDAY);
        assert_eq!(weekday_mask(" 6, 7 ,9,x"), 0b110_0000);
        let rule = standard_shift().rule().expect("the standard shift reads");
        assert_eq!((rule.start_min, rule.end_min, rule.break_min), (540, 1080, 60));
    }

    #[test]
    fn the_calendar_reads_holidays_and_make_up_days() {
        let days = [
            CalendarDayRecord { date: "2026-10-01".into(), kind: "holiday".into(), name: "国庆节".into() },
            CalendarDayRecord { date: "2026-10-10".into(), kind: "workday".into(), name: "国庆调休".into() },
            CalendarDayRecord { date: "2026-10-11".into(), kind: "other".into(), name: String::new() },
        ];
        let (calendar, names) = calendar_of(&days);
        let d = |day| jiff::civil::date(2026, 10, day);
        assert_eq!(
            (calendar.get(d(1)), calendar.get(d(10)), calendar.get(d(11))),
            (Some(DayOverride::Holiday), Some(DayOverride::Workday), None)
        );
        assert_eq!(names.get(&d(1)).map(String::as_str), Some("国庆节"));
    }
}
