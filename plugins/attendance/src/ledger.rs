//! Loading what the rules need for a run of work dates and judging people's days: the
//! organisation's zone, departments, shifts, calendar and settings once, then each person's
//! punches and approved requests.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use tessera_sdk::directory::{self, Department};
use tessera_sdk::{Error, Id, Result};

use crate::config::Settings;
use crate::rules::{self, Calendar, Day, Person, Policy, Punch, Span};
use crate::store::{self, ShiftRecord};
use crate::zone;

/// Time zone arithmetic out of range: a date beyond what anyone clocks in on.
pub fn time_error(e: jiff::Error) -> Error {
    Error::invalid(format!("date out of range: {e}"))
}

/// What every person's days are judged against.
pub struct Context {
    pub tz: TimeZone,
    pub departments: Vec<Department>,
    pub shifts: Vec<ShiftRecord>,
    pub calendar: Calendar,
    pub holiday_names: BTreeMap<Date, String>,
    pub settings: Settings,
}

impl Context {
    /// Loads the context for work dates `first` to `last`.
    pub fn load(first: Date, last: Date) -> Result<Context> {
        let tz = zone::org_zone();
        let departments = directory::departments()?;
        let shifts = store::shifts()?.into_iter().map(|s| s.fields).collect();
        let before = first.yesterday().map_err(time_error)?;
        let after = last.tomorrow().map_err(time_error)?;
        let (calendar, holiday_names) = store::calendar(before, after)?;
        Ok(Context { tz, departments, shifts, calendar, holiday_names, settings: Settings::load()? })
    }

    /// The shift of a member of `department`.
    pub fn shift_of(&self, department: Option<Id>) -> ShiftRecord {
        store::shift_for(department, &self.departments, &self.shifts)
    }

    pub fn policy(&self) -> Policy {
        Policy { min_overtime_min: self.settings.min_overtime_min }
    }

    /// The days of one person.
    #[allow(clippy::too_many_arguments)]
    pub fn judge(
        &self,
        shift: &ShiftRecord,
        punches: &[Punch],
        leave: &[Span],
        overtime: &[Span],
        first: Date,
        last: Date,
        now: i64,
    ) -> Result<Vec<Day>> {
        let shift = shift.rule().unwrap_or_else(|| store::standard_shift().rule().unwrap_or(FALLBACK));
        let person = Person { shift: &shift, punches, leave, overtime };
        rules::evaluate(&self.tz, &self.calendar, self.policy(), person, first, last, now).map_err(time_error)
    }
}

/// 09:00–18:00, should even the standard shift not read.
const FALLBACK: rules::Shift = rules::Shift {
    start_min: 540,
    end_min: 1080,
    late_grace_min: 0,
    early_grace_min: 0,
    break_min: 60,
    weekdays: rules::MONDAY_TO_FRIDAY,
};

/// Punches, leave and overtime of many people, grouped by person.
#[derive(Default)]
pub struct Group {
    pub punches: BTreeMap<Id, Vec<Punch>>,
    pub leave: BTreeMap<Id, Vec<Span>>,
    pub overtime: BTreeMap<Id, Vec<Span>>,
}

impl Group {
    /// Everything of work dates `first` to `last` of `user`, or of everyone the caller may see.
    pub fn load(tz: &TimeZone, user: Option<Id>, first: Date, last: Date) -> Result<Group> {
        let mut group = Group::default();
        for record in store::punches(user, first, last)? {
            if let Some(punch) = store::rule_punch(&record) {
                group.punches.entry(record.fields.user_id).or_default().push(punch);
            }
        }
        let (from, to) = store::range_instants(tz, first, last);
        let (leave, overtime) = store::approved(user, from, to)?;
        for (user, span) in leave {
            group.leave.entry(user).or_default().push(span);
        }
        for (user, span) in overtime {
            group.overtime.entry(user).or_default().push(span);
        }
        Ok(group)
    }

    /// Whether the caller could read anything of this person.
    pub fn has(&self, user: Id) -> bool {
        self.punches.contains_key(&user) || self.leave.contains_key(&user) || self.overtime.contains_key(&user)
    }

    /// One person's days.
    pub fn judge(
        &self,
        ctx: &Context,
        user: Id,
        department: Option<Id>,
        first: Date,
        last: Date,
        now: i64,
    ) -> Result<Vec<Day>> {
        let empty_p: Vec<Punch> = Vec::new();
        let empty_s: Vec<Span> = Vec::new();
        ctx.judge(
            &ctx.shift_of(department),
            self.punches.get(&user).unwrap_or(&empty_p),
            self.leave.get(&user).unwrap_or(&empty_s),
            self.overtime.get(&user).unwrap_or(&empty_s),
            first,
            last,
            now,
        )
    }
}
