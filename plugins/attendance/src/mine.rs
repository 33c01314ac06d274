//! My attendance (`mine`, menu 我的考勤): a month, one row per day with its kind, punches and
//! status, and the month's figures. `?month=YYYY-MM`, the current month by default.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use tessera_sdk::ui::{Action, Outcome, Page, RenderRequest, Stat, Table};
use tessera_sdk::{Caller, Error, Result};

use crate::access;
use crate::ledger::{Context, Group, time_error};
use crate::rules::{self, Day, Totals};
use crate::text::Text;
use crate::zone;

/// The month a page asks for, or the current one.
pub fn month_param(request: &RenderRequest, tz: &TimeZone, now: i64) -> Result<(Date, Date)> {
    if let Some(month) = request.param("month").and_then(zone::parse_month) {
        return Ok(month);
    }
    let today = rules::local_date(tz, now).map_err(time_error)?;
    zone::parse_month(&zone::month_of(today)).ok_or_else(|| Error::internal("the current month does not read"))
}

/// Draws the page.
pub fn render(caller: &Caller, request: &RenderRequest, now: i64) -> Result<Page> {
    let t = Text::of(caller);
    let user = access::user_id(caller)?;
    let department = access::me(caller)?.and_then(|u| u.department_id);
    let tz = zone::org_zone();
    let (first, last) = month_param(request, &tz, now)?;
    let ctx = Context::load(first, last)?;
    let group = Group::load(&tz, Some(user), first, last)?;
    let days = group.judge(&ctx, user, department, first, last, now)?;
    let shift = ctx.shift_of(department);
    let month = zone::month_of(first);
    Ok(Page::new(t.pick("我的考勤", "My attendance"))
        .heading(format!("{month} · {} {}–{}", shift.name, shift.start_time, shift.end_time))
        .actions(month_actions(t, first))
        .stats(stats(t, &Totals::of(&days)))
        .table(day_table(t, &tz, &days, &ctx.holiday_names)))
}

/// The previous and next month's buttons; their argument is the month.
pub fn month_actions(t: Text, first: Date) -> Vec<Action> {
    let mut actions = Vec::new();
    if let Some(previous) = zone::shift_month(first, -1) {
        actions.push(Action::new("month", t.pick("上个月", "Previous month")).argument(previous));
    }
    if let Some(next) = zone::shift_month(first, 1) {
        actions.push(Action::new("month", t.pick("下个月", "Next month")).argument(next));
    }
    actions
}

/// Goes to another month of a page.
pub fn go_to_month(page: &str, argument: Option<&str>, extra: &str) -> Result<Outcome> {
    let month = argument.and_then(|m| zone::parse_month(m).map(|_| m.trim().to_owned()));
    match month {
        Some(month) => Ok(Outcome::redirect(format!("/p/attendance/{page}?month={month}{extra}"))),
        None => Err(Error::invalid("month: YYYY-MM")),
    }
}

/// The month's figures as stat cards.
pub fn stats(t: Text, totals: &Totals) -> Vec<Stat> {
    vec![
        Stat::new(t.pick("应出勤天数", "Working days"), totals.working_days).hint(format!(
            "{} {}",
            t.pick("实际出勤", "attended"),
            totals.attended_days
        )),
        Stat::new(t.pick("迟到", "Late"), totals.late_count)
            .hint(t.minutes_of(&t.pick("共", "total"), totals.late_min)),
        Stat::new(t.pick("早退", "Left early"), totals.early_count)
            .hint(t.minutes_of(&t.pick("共", "total"), totals.early_min)),
        Stat::new(t.pick("缺勤天数", "Days absent"), totals.absent_days),
        Stat::new(t.pick("缺卡次数", "Missing punches"), totals.missing_punches),
        Stat::new(t.pick("请假（小时）", "Leave (hours)"), t.hours(totals.leave_min)),
        Stat::new(t.pick("加班（小时）", "Overtime (hours)"), t.hours(totals.overtime_min)).hint(format!(
            "{} {}",
            t.pick("打卡显示额外工作", "worked extra"),
            t.hours(totals.extra_min)
        )),
    ]
}

/// One row per day.
pub fn day_table(t: Text, tz: &TimeZone, days: &[Day], holiday_names: &BTreeMap<Date, String>) -> Table {
    let table = Table::new()
        .column("date", t.pick("日期", "Date"))
        .column("weekday", t.pick("星期", "Day"))
        .column("kind", t.pick("类型", "Kind"))
        .column("in", t.punch_kind(rules::PunchKind::In))
        .column("out", t.punch_kind(rules::PunchKind::Out))
        .column("status", t.pick("状态", "Status"));
    days.iter().fold(table, |table, day| {
        let shown = |at: Option<i64>| at.map(|at| zone::time_on(tz, day.date, at)).unwrap_or_default();
        let kind = match holiday_names.get(&day.date).filter(|n| !n.trim().is_empty()) {
            Some(name) => format!("{}（{name}）", t.day_kind(day)),
            None => t.day_kind(day),
        };
        table.row(
            day.date.to_string(),
            [
                day.date.to_string(),
                t.weekday(zone::iso_weekday(day.date)),
                kind,
                shown(day.first_in),
                shown(day.last_out),
                t.day_status(day),
            ],
        )
    })
}
