//! The attendance rules: from a shift, the work calendar, a person's punches and their approved
//! leave and overtime, what each work date was: a working day or a rest day, the first clock-in
//! and last clock-out, minutes late and left early, absent, a missing punch, leave, and overtime.
//! Pure: no host calls, so everything here is tested natively (the synthetic month below).
//!
//! **Work dates and their windows.** A punch counts for the *work date* on which its shift
//! starts, so the night shift 22:00–06:00 of 6 November ends on the 7th and still counts for the
//! 6th. The window of work date `D` is the 24 hours (23 or 25 across a daylight-saving change)
//! from 4 hours before `D`'s shift start to 4 hours before the next day's shift start:
//! `[start(D) − 4h, start(D+1) − 4h)`. The windows of consecutive days touch, so every instant
//! belongs to exactly one work date: for 09:00–18:00 a day runs from 05:00 to 05:00 the next
//! morning; for 22:00–06:00 from 18:00 to 18:00 the next evening. The window is decided when the
//! punch is made (its `work_date` is stored with it), and an administrator's correction names
//! its work date and must fall inside that date's window.
//!
//! **Which punches count.** The earliest clock-in and the latest clock-out of the work date,
//! unless an administrator corrected that kind of punch for the date: then the most recent
//! correction of the kind replaces what the person punched. A clock-out earlier than the
//! clock-in counts as no clock-out.
//!
//! **The calendar.** A date is a working day when the calendar says so (a make-up working day,
//! 调休上班), or is not a public holiday and falls on one of the shift's weekdays.
//!
//! **Working days.** Late: the clock-in is more than `late_grace_min` whole minutes after the
//! shift start; the minutes counted are all of them from the start (09:20 with 5 minutes' grace
//! is 20 minutes late). Early: likewise for a clock-out before the shift end with
//! `early_grace_min`. Approved leave that covers the shift's start (or end) moves it to where the
//! leave ends (or begins), so a morning off makes the afternoon the shift; leave covering the
//! whole shift makes the day a leave day. Once the window has closed: no punch at all is
//! *absent* (even with part of the day on leave); only one of clock-in and clock-out is a
//! *missing punch*. Leave minutes are the leave's overlap with the shift, at most the shift's
//! working minutes (span less break).
//!
//! **Overtime.** Two figures, both in minutes. *Worked extra* is what the punches show: on a
//! working day the time from the shift end (or the clock-in, if later) to the clock-out; on a
//! rest day or public holiday the time from clock-in to clock-out, less the shift's break when
//! that is longer than 4 hours. Worked extra below `min_overtime_min` counts as none.
//! *Overtime* is the part of the worked extra that approved overtime requests cover, so
//! approved overtime nobody punched for counts for nothing, and work nobody approved shows as
//! worked extra only. Payroll reads overtime; managers read both.

use std::collections::BTreeMap;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// A work date's window opens this many minutes before its shift starts.
pub const WINDOW_LEAD_MIN: i64 = 240;
/// On a rest day, work longer than this many minutes has the shift's break taken out.
pub const REST_DAY_BREAK_AFTER_MIN: i64 = 240;
/// The longest a shift may last, start to end, in minutes.
pub const MAX_SHIFT_MIN: i64 = 16 * 60;
const MINUTE_MS: i64 = 60_000;
const DAY_MIN: i64 = 24 * 60;

/// A shift: when work starts and ends on each of its working days, and its tolerances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    /// Minutes after local midnight.
    pub start_min: i64,
    /// Minutes after local midnight; at or before the start, the shift ends the next day.
    pub end_min: i64,
    pub late_grace_min: i64,
    pub early_grace_min: i64,
    /// The unpaid break inside the shift.
    pub break_min: i64,
    /// The weekdays that are normally working days: bit 0 is Monday, bit 6 Sunday.
    pub weekdays: u8,
}

/// Monday to Friday.
pub const MONDAY_TO_FRIDAY: u8 = 0b001_1111;

impl Shift {
    /// Whether the shift ends on the day after it starts (22:00–06:00).
    pub fn crosses_midnight(&self) -> bool {
        self.end_min <= self.start_min
    }

    /// Start to end, in minutes.
    pub fn span_min(&self) -> i64 {
        if self.crosses_midnight() { self.end_min + DAY_MIN - self.start_min } else { self.end_min - self.start_min }
    }

    /// The minutes of work the shift asks for: its span less its break.
    pub fn work_min(&self) -> i64 {
        (self.span_min() - self.break_min).max(0)
    }

    /// Whether the weekday is one of the shift's working weekdays.
    pub fn works_on(&self, weekday: Weekday) -> bool {
        let bit = weekday.to_monday_zero_offset();
        self.weekdays & (1 << bit) != 0
    }
}

/// What the work calendar says about a date, over the weekday pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayOverride {
    /// A public holiday: a day off, also on a weekday.
    Holiday,
    /// A make-up working day (调休上班): a working day, also on a weekend.
    Workday,
}

/// The organisation's public holidays and make-up working days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    overrides: BTreeMap<Date, DayOverride>,
}

impl Calendar {
    pub fn new() -> Calendar {
        Calendar::default()
    }

    /// Marks a date; a later mark of the same date wins.
    pub fn set(&mut self, date: Date, kind: DayOverride) {
        self.overrides.insert(date, kind);
    }

    /// The calendar's word on a date, if it has one.
    pub fn get(&self, date: Date) -> Option<DayOverride> {
        self.overrides.get(&date).copied()
    }

    /// Whether `date` is a working day for people on `shift`.
    pub fn is_working(&self, shift: &Shift, date: Date) -> bool {
        match self.get(date) {
            Some(DayOverride::Holiday) => false,
            Some(DayOverride::Workday) => true,
            None => shift.works_on(date.weekday()),
        }
    }
}

/// Clock-in or clock-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PunchKind {
    In,
    Out,
}

impl PunchKind {
    /// `in` / `out`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            PunchKind::In => "in",
            PunchKind::Out => "out",
        }
    }

    /// The stored form read back.
    pub fn parse(text: &str) -> Option<PunchKind> {
        match text {
            "in" => Some(PunchKind::In),
            "out" => Some(PunchKind::Out),
            _ => None,
        }
    }
}

/// One punch of a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Punch {
    /// The work date it counts for, decided when it was made.
    pub work_date: Date,
    pub kind: PunchKind,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// Written by an administrator's correction.
    pub corrected: bool,
    /// Orders punches by when they were written (the record id): the latest correction wins.
    pub seq: i64,
}

/// A stretch of time, `[start, end)` in milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub start: i64,
    pub end: i64,
}

impl Span {
    pub fn new(start: i64, end: i64) -> Span {
        Span { start, end }
    }

    fn len(self) -> i64 {
        (self.end - self.start).max(0)
    }

    fn overlap(self, other: Span) -> i64 {
        (self.end.min(other.end) - self.start.max(other.start)).max(0)
    }
}

/// What one person brings to the rules.
#[derive(Debug, Clone, Copy)]
pub struct Person<'a> {
    pub shift: &'a Shift,
    pub punches: &'a [Punch],
    /// Approved leave.
    pub leave: &'a [Span],
    /// Approved overtime.
    pub overtime: &'a [Span],
}

/// The organisation's rules beyond the shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Worked extra below this many minutes counts as none.
    pub min_overtime_min: i64,
}

/// The instants of one work date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayTimes {
    pub window: Span,
    pub shift: Span,
}

/// How far a work date is behind us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayState {
    /// Its window has not opened.
    Upcoming,
    /// Its window is open: punches may still come.
    Open,
    /// Its window has closed: the verdict is final.
    Closed,
}

/// The rules' verdict on one work date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    pub date: Date,
    pub working: bool,
    /// What the calendar said, when it said something.
    pub calendar: Option<DayOverride>,
    pub state: DayState,
    pub times: DayTimes,
    pub first_in: Option<i64>,
    pub last_out: Option<i64>,
    pub late_min: i64,
    pub early_min: i64,
    pub absent: bool,
    pub missing_punch: bool,
    /// Approved leave covers the whole shift.
    pub on_leave: bool,
    pub leave_min: i64,
    /// Worked beyond the shift (or on a rest day), as the punches show.
    pub extra_min: i64,
    /// The part of `extra_min` approved overtime covers.
    pub overtime_min: i64,
}

impl Day {
    pub fn is_late(&self) -> bool {
        self.late_min > 0
    }

    pub fn is_early(&self) -> bool {
        self.early_min > 0
    }
}

/// Sums over days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Working days (应出勤).
    pub working_days: i64,
    /// Working days with at least one punch (实际出勤).
    pub attended_days: i64,
    pub late_count: i64,
    pub late_min: i64,
    pub early_count: i64,
    pub early_min: i64,
    pub absent_days: i64,
    pub missing_punches: i64,
    pub leave_days: i64,
    pub leave_min: i64,
    pub extra_min: i64,
    pub overtime_min: i64,
    /// Rest days with worked extra.
    pub rest_days_worked: i64,
}

impl Totals {
    /// The totals of a run of days.
    pub fn of(days: &[Day]) -> Totals {
        days.iter().fold(Totals::default(), |t, d| t + Totals::day(d))
    }

    fn day(d: &Day) -> Totals {
        let flag = |b: bool| i64::from(b);
        Totals {
            working_days: flag(d.working),
            attended_days: flag(d.working && (d.first_in.is_some() || d.last_out.is_some())),
            late_count: flag(d.is_late()),
            late_min: d.late_min,
            early_count: flag(d.is_early()),
            early_min: d.early_min,
            absent_days: flag(d.absent),
            missing_punches: flag(d.missing_punch),
            leave_days: flag(d.on_leave),
            leave_min: d.leave_min,
            extra_min: d.extra_min,
            overtime_min: d.overtime_min,
            rest_days_worked: flag(!d.working && d.extra_min > 0),
        }
    }
}

impl std::ops::Add for Totals {
    type Output = Totals;

    fn add(self, o: Totals) -> Totals {
        Totals {
            working_days: self.working_days + o.working_days,
            attended_days: self.attended_days + o.attended_days,
            late_count: self.late_count + o.late_count,
            late_min: self.late_min + o.late_min,
            early_count: self.early_count + o.early_count,
            early_min: self.early_min + o.early_min,
            absent_days: self.absent_days + o.absent_days,
            missing_punches: self.missing_punches + o.missing_punches,
            leave_days: self.leave_days + o.leave_days,
            leave_min: self.leave_min + o.leave_min,
            extra_min: self.extra_min + o.extra_min,
            overtime_min: self.overtime_min + o.overtime_min,
            rest_days_worked: self.rest_days_worked + o.rest_days_worked,
        }
    }
}

/// The instant a local date and minute of day is in the zone (the later instant of a repeated
/// hour, the moment after a skipped one, as `compatible` resolves them).
pub fn local_instant(tz: &TimeZone, date: Date, minute_of_day: i64) -> Result<i64, jiff::Error> {
    let extra_days = minute_of_day.div_euclid(DAY_MIN);
    let minute = minute_of_day.rem_euclid(DAY_MIN);
    let date = date.checked_add(extra_days.days())?;
    // `minute` is below 1,440, so the hour fits an i8 and the minute too.
    let datetime = date.at((minute / 60) as i8, (minute % 60) as i8, 0, 0);
    Ok(tz.to_ambiguous_zoned(datetime).compatible()?.timestamp().as_millisecond())
}

/// When the shift of `date` starts and ends, and the date's window.
pub fn day_times(tz: &TimeZone, shift: &Shift, date: Date) -> Result<DayTimes, jiff::Error> {
    let start = local_instant(tz, date, shift.start_min)?;
    let end_min = if shift.crosses_midnight() { shift.end_min + DAY_MIN } else { shift.end_min };
    let end = local_instant(tz, date, end_min)?;
    let next_start = local_instant(tz, date.tomorrow()?, shift.start_min)?;
    let lead = WINDOW_LEAD_MIN * MINUTE_MS;
    Ok(DayTimes { window: Span::new(start - lead, next_start - lead), shift: Span::new(start, end) })
}

/// The local date of an instant in the zone.
pub fn local_date(tz: &TimeZone, at: i64) -> Result<Date, jiff::Error> {
    Ok(Timestamp::from_millisecond(at)?.to_zoned(tz.clone()).date())
}

/// The work date a punch at `at` counts for: the date whose window holds it.
pub fn work_date_of(tz: &TimeZone, shift: &Shift, at: i64) -> Result<Date, jiff::Error> {
    let local = local_date(tz, at)?;
    // The window of the day after starts no earlier than 20:00 today, and that of the day
    // before starts before today began: one of the three holds `at`.
    let mut date = local.tomorrow()?;
    for _ in 0..3 {
        if day_times(tz, shift, date)?.window.start <= at {
            return Ok(date);
        }
        date = date.yesterday()?;
    }
    Ok(date)
}

/// The instant a clock time names on a work date, as an administrator's correction gives it:
/// the first time the clock shows `minute_of_day` from the date's window opening, so `06:05` on
/// the night shift of the 6th is the morning of the 7th. A window is a whole day, so only a time
/// skipped by a daylight-saving change is in none (None).
pub fn instant_in_window(
    tz: &TimeZone,
    shift: &Shift,
    date: Date,
    minute_of_day: i64,
) -> Result<Option<i64>, jiff::Error> {
    let window = day_times(tz, shift, date)?.window;
    for day in [date.yesterday()?, date, date.tomorrow()?] {
        let at = local_instant(tz, day, minute_of_day)?;
        if window.start <= at && at < window.end {
            return Ok(Some(at));
        }
    }
    Ok(None)
}

/// Leave's working minutes: its overlap with the shifts of the working days it spans, each at
/// most the shift's working minutes. What a leave request asks for, and what approval steps
/// compare with.
pub fn leave_minutes(tz: &TimeZone, shift: &Shift, calendar: &Calendar, leave: Span) -> Result<i64, jiff::Error> {
    if leave.len() == 0 {
        return Ok(0);
    }
    let mut date = local_date(tz, leave.start)?.yesterday()?;
    let last = local_date(tz, leave.end)?;
    let mut total = 0;
    while date <= last {
        if calendar.is_working(shift, date) {
            let times = day_times(tz, shift, date)?;
            total += (times.shift.overlap(leave) / MINUTE_MS).min(shift.work_min());
        }
        date = date.tomorrow()?;
    }
    Ok(total)
}

/// Spans sorted and merged where they overlap or touch.
fn merged(spans: &[Span]) -> Vec<Span> {
    let mut sorted: Vec<Span> = spans.iter().copied().filter(|s| s.len() > 0).collect();
    sorted.sort();
    let mut out: Vec<Span> = Vec::with_capacity(sorted.len());
    for span in sorted {
        match out.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => out.push(span),
        }
    }
    out
}

fn overlap_all(spans: &[Span], with: Span) -> i64 {
    spans.iter().map(|s| s.overlap(with)).sum()
}

/// The punch of a kind that counts for a date: the latest correction, else the earliest
/// clock-in or the latest clock-out.
fn counted(punches: &[&Punch], kind: PunchKind) -> Option<i64> {
    let of_kind = punches.iter().filter(|p| p.kind == kind);
    if let Some(corrected) = of_kind.clone().filter(|p| p.corrected).max_by_key(|p| p.seq) {
        return Some(corrected.at);
    }
    match kind {
        PunchKind::In => of_kind.map(|p| p.at).min(),
        PunchKind::Out => of_kind.map(|p| p.at).max(),
    }
}

/// The verdict on every date from `first` to `last` (inclusive), as of `now`.
pub fn evaluate(
    tz: &TimeZone,
    calendar: &Calendar,
    policy: Policy,
    person: Person<'_>,
    first: Date,
    last: Date,
    now: i64,
) -> Result<Vec<Day>, jiff::Error> {
    let leave = merged(person.leave);
    let overtime = merged(person.overtime);
    let mut days = Vec::new();
    let mut date = first;
    while date <= last {
        let punches: Vec<&Punch> = person.punches.iter().filter(|p| p.work_date == date).collect();
        days.push(judge(tz, calendar, policy, person.shift, date, &punches, &leave, &overtime, now)?);
        date = date.tomorrow()?;
    }
    Ok(days)
}

#[allow(clippy::too_many_arguments)]
fn judge(
    tz: &TimeZone,
    calendar: &Calendar,
    policy: Policy,
    shift: &Shift,
    date: Date,
    punches: &[&Punch],
    leave: &[Span],
    overtime: &[Span],
    now: i64,
) -> Result<Day, jiff::Error> {
    let times = day_times(tz, shift, date)?;
    let working = calendar.is_working(shift, date);
    let state = if now < times.window.start {
        DayState::Upcoming
    } else if now < times.window.end {
        DayState::Open
    } else {
        DayState::Closed
    };
    let first_in = counted(punches, PunchKind::In);
    let raw_out = counted(punches, PunchKind::Out);
    let last_out = match (first_in, raw_out) {
        (Some(i), Some(o)) if o <= i => None,
        (_, out) => out,
    };
    let worked = first_in.zip(last_out).map(|(i, o)| Span::new(i, o));
    let mut day = Day {
        date,
        working,
        calendar: calendar.get(date),
        state,
        times,
        first_in,
        last_out,
        late_min: 0,
        early_min: 0,
        absent: false,
        missing_punch: false,
        on_leave: false,
        leave_min: 0,
        extra_min: 0,
        overtime_min: 0,
    };
    let min_extra = policy.min_overtime_min.max(0);
    if working {
        let planned = times.shift;
        day.leave_min = (overlap_all(leave, planned) / MINUTE_MS).min(shift.work_min());
        // Leave at either end of the shift moves that end.
        let mut start = planned.start;
        while let Some(l) = leave.iter().find(|l| l.start <= start && start < l.end) {
            start = l.end;
        }
        let mut end = planned.end;
        while let Some(l) = leave.iter().find(|l| l.start < end && end <= l.end) {
            end = l.start;
        }
        if start >= end {
            day.on_leave = true;
        } else {
            if let Some(i) = first_in {
                let late = (i - start).div_euclid(MINUTE_MS);
                if late > shift.late_grace_min {
                    day.late_min = late;
                }
            }
            if let Some(o) = last_out {
                let early = (end - o).div_euclid(MINUTE_MS);
                if early > shift.early_grace_min {
                    day.early_min = early;
                }
            }
            if state == DayState::Closed {
                day.absent = first_in.is_none() && raw_out.is_none();
                day.missing_punch = !day.absent && worked.is_none();
            }
        }
        if let Some(w) = worked.filter(|w| w.end > planned.end) {
            let extra = Span::new(w.start.max(planned.end), w.end);
            day.extra_min = extra.len() / MINUTE_MS;
            day.overtime_min = (overlap_all(overtime, extra) / MINUTE_MS).min(day.extra_min);
        }
    } else if let Some(w) = worked {
        let span_min = w.len() / MINUTE_MS;
        let less_break = if span_min > REST_DAY_BREAK_AFTER_MIN { shift.break_min } else { 0 };
        day.extra_min = (span_min - less_break).max(0);
        day.overtime_min = (overlap_all(overtime, w) / MINUTE_MS).min(day.extra_min);
    }
    if day.extra_min < min_extra {
        day.extra_min = 0;
        day.overtime_min = 0;
    }
    Ok(day)
}

#[cfg(test)]
mod tests;
