//! Cron schedules: five fields (minute, hour, day of month, month, day of week), each `*`, a
//! number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma-separated list of those. Day of
//! week runs 0–6 from Sunday (7 is Sunday too). As in cron, when both day fields are
//! restricted a day matches either. Schedules are read in UTC.

use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, DateTime, Time};
use jiff::{Timestamp, ToSpan as _, tz::TimeZone};

use crate::error::{Error, Result};

/// A parsed schedule.
#[derive(Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    any_day: bool,
    any_weekday: bool,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.text)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn field(text: &str, name: &str, min: u32, max: u32) -> Result<u64> {
    let bad = |why: &str| Error::invalid("schedule", format!("the {name} field {text:?} {why}"));
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(|| bad("has a bad step"))?),
            None => (part, 1),
        };
        let (from, to) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (a.parse().map_err(|_| bad("is not a range"))?, b.parse().map_err(|_| bad("is not a range"))?)
        } else {
            let n: u32 = range.parse().map_err(|_| bad("is not a number"))?;
            (n, if part.contains('/') { max } else { n })
        };
        if from < min || to > max || from > to {
            return Err(bad(&format!("must lie within {min}-{max}")));
        }
        let mut n = from;
        while n <= to {
            bits |= 1 << n;
            n += step;
        }
    }
    Ok(bits)
}

impl FromStr for Schedule {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = parts[..] else {
            return Err(Error::invalid(
                "schedule",
                format!("{text:?} needs five fields: minute hour day month weekday"),
            ));
        };
        let mut weekdays = field(weekday, "weekday", 0, 7)?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Schedule {
            text: parts.join(" "),
            minutes: field(minute, "minute", 0, 59)?,
            hours: field(hour, "hour", 0, 23)?,
            days: field(day, "day", 1, 31)?,
            months: field(month, "month", 1, 12)?,
            weekdays,
            any_day: day == "*",
            any_weekday: weekday == "*",
        })
    }
}

fn has(bits: u64, n: impl Into<i64>) -> bool {
    u32::try_from(n.into()).is_ok_and(|n| n < 64 && bits & (1 << n) != 0)
}

impl Schedule {
    fn day_matches(&self, date: Date) -> bool {
        let day = has(self.days, date.day());
        let weekday = has(self.weekdays, date.weekday().to_sunday_zero_offset());
        match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (false, true) => day,
            (true, false) => weekday,
            (false, false) => day || weekday,
        }
    }

    /// The first time after `after` the schedule names (whole minutes), or `None` when there
    /// is none within the next eight years (e.g. 30 February).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let start = after.to_zoned(TimeZone::UTC).datetime();
        let mut t: DateTime = start.date().to_datetime(Time::new(start.hour(), start.minute(), 0, 0).ok()?);
        t = t.checked_add(1.minute()).ok()?;
        let limit = t.checked_add(8.years()).ok()?;
        while t < limit {
            if !has(self.months, t.month()) {
                t = t.date().first_of_month().checked_add(1.month()).ok()?.to_datetime(Time::midnight());
                continue;
            }
            if !self.day_matches(t.date()) {
                t = t.date().tomorrow().ok()?.to_datetime(Time::midnight());
                continue;
            }
            if !has(self.hours, t.hour()) {
                t = t.date().to_datetime(Time::new(t.hour(), 0, 0, 0).ok()?).checked_add(1.hour()).ok()?;
                continue;
            }
            if !has(self.minutes, t.minute()) {
                t = t.checked_add(1.minute()).ok()?;
                continue;
            }
            return t.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp());
        }
        None
    }

    /// The last time at or before `at` the schedule named, searching back from `from` (a
    /// time it named): how a run that catches up on missed ones knows which it stands for,
    /// and how many.
    pub fn last_until(&self, from: Timestamp, at: Timestamp) -> (Timestamp, u64) {
        let (mut last, mut missed) = (from, 0);
        while let Some(next) = self.next_after(last).filter(|n| *n <= at) {
            last = next;
            missed += 1;
        }
        (last, missed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("a timestamp")
    }

    fn next(schedule: &str, after: &str) -> String {
        let s: Schedule = schedule.parse().expect("a schedule");
        s.next_after(ts(after)).map(|t| t.to_string()).unwrap_or_default()
    }

    #[test]
    fn finds_the_next_time() {
        assert_eq!(next("* * * * *", "2026-11-30T10:15:30Z"), "2026-11-30T10:16:00Z");
        assert_eq!(next("*/5 * * * *", "2026-11-30T10:15:00Z"), "2026-11-30T10:20:00Z");
        assert_eq!(next("0 8 * * *", "2026-11-30T10:15:00Z"), "2026-12-01T08:00:00Z");
        assert_eq!(next("30 9 1 * *", "2026-12-31T10:00:00Z"), "2027-01-01T09:30:00Z");
        // Mondays to Fridays at 18:00: from a Friday evening to Monday.
        assert_eq!(next("0 18 * * 1-5", "2026-12-04T18:00:00Z"), "2026-12-07T18:00:00Z");
        // Sunday as 7.
        assert_eq!(next("0 0 * * 7", "2026-11-30T00:00:00Z"), "2026-12-06T00:00:00Z");
        // Both day fields: either matches (the 1st, or a Wednesday).
        assert_eq!(next("0 0 1 * 3", "2026-11-30T12:00:00Z"), "2026-12-01T00:00:00Z");
        assert_eq!(next("0 0 1 * 3", "2026-12-01T12:00:00Z"), "2026-12-02T00:00:00Z");
        assert_eq!(next("0 12 29 2 *", "2026-03-01T00:00:00Z"), "2028-02-29T12:00:00Z");
        assert_eq!(next("0 0 30 2 *", "2026-03-01T00:00:00Z"), "");
        assert_eq!(next("15,45 1-3/2 * * *", "2026-11-30T01:50:00Z"), "2026-11-30T03:15:00Z");
    }

    #[test]
    fn refuses_what_is_not_a_schedule() {
        for bad in [
            "",
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "*/0 * * * *",
            "5-1 * * * *",
            "x * * * *",
        ] {
            assert!(bad.parse::<Schedule>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn counts_the_runs_a_catch_up_stands_for() {
        let s: Schedule = "0 * * * *".parse().expect("hourly");
        let (last, missed) = s.last_until(ts("2026-11-30T01:00:00Z"), ts("2026-11-30T05:30:00Z"));
        assert_eq!((last.to_string().as_str(), missed), ("2026-11-30T05:00:00Z", 4));
    }
}
