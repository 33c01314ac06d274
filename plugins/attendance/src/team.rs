//! The team page (`team`, for administrators): a department's people on one day and over the
//! month, the correction form, and the audit trail of corrections.
//!
//! A correction (补卡) sets a person's clock-in or clock-out of a work date. It is an
//! append-only `correction` record (who, which date and kind, the time, the reason, who
//! corrected it and what counted before), and a punch of source `correction` that points at
//! it; the rules let the latest correction of a kind replace what the person punched. Neither
//! is ever changed or deleted: a wrong correction is corrected again.

use serde_json::Value;
use tessera_sdk::directory;
use tessera_sdk::records::{self, Query};
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, RenderRequest, Table};
use tessera_sdk::{Caller, Error, Id, Result};

use crate::access;
use crate::ledger::{Context, Group, time_error};
use crate::mine;
use crate::rules::{self, PunchKind, Totals};
use crate::store::{self, CorrectionRecord, PunchRecord};
use crate::text::Text;
use crate::zone;

/// How many corrections the audit trail shows.
const TRAIL: u32 = 50;

/// Draws the page.
pub fn render(caller: &Caller, request: &RenderRequest, now: i64) -> Result<Page> {
    let t = Text::of(caller);
    let tz = zone::org_zone();
    let (first, last) = mine::month_param(request, &tz, now)?;
    let departments = directory::departments()?;
    let chosen = request
        .param("department")
        .and_then(|d| d.parse::<Id>().ok())
        .or_else(|| access::me(caller).ok().flatten().and_then(|u| u.department_id))
        .or_else(|| departments.first().map(|d| d.id));
    let today = rules::local_date(&tz, now).map_err(time_error)?;
    let day = request.param("date").and_then(zone::parse_date).unwrap_or(today);
    let month = zone::month_of(first);

    let options: Vec<(String, String)> = departments.iter().map(|d| (d.id.to_string(), d.name.clone())).collect();
    let mut page = Page::new(t.pick("团队考勤", "Team attendance")).form(
        Form::new(Action::new("filter", t.pick("查看", "Show")))
            .field(
                Field::select("department", t.pick("部门", "Department"), options)
                    .value(chosen.map(|d| d.to_string()).unwrap_or_default()),
            )
            .field(Field::text("month", t.pick("月份", "Month")).value(month.clone()).help("YYYY-MM"))
            .field(Field::date("date", t.pick("日期", "Day")).value(day.to_string())),
    );
    let Some(department) = chosen else {
        return Ok(page.notice("info", t.pick("组织中还没有部门。", "The organisation has no departments yet.")));
    };
    let members = directory::members(department, true)?;
    let (from, to) = (first.min(day), last.max(day));
    let ctx = Context::load(from, to)?;
    let group = Group::load(&ctx.tz, None, from, to)?;

    let mut daily = Table::new()
        .column("name", t.pick("姓名", "Name"))
        .column("in", t.punch_kind(PunchKind::In))
        .column("out", t.punch_kind(PunchKind::Out))
        .column("status", t.pick("状态", "Status"));
    let mut monthly = Table::new()
        .column("name", t.pick("姓名", "Name"))
        .column("working", t.pick("应出勤", "Working days"))
        .column("attended", t.pick("出勤", "Attended"))
        .column("late", t.pick("迟到（次/分钟）", "Late (times/min)"))
        .column("early", t.pick("早退（次/分钟）", "Early (times/min)"))
        .column("absent", t.pick("缺勤", "Absent"))
        .column("missing", t.pick("缺卡", "Missing"))
        .column("leave", t.pick("请假（小时）", "Leave (h)"))
        .column("overtime", t.pick("加班（小时）", "Overtime (h)"));
    for member in &members {
        let on_day = group.judge(&ctx, member.id, member.department_id, day, day, now)?;
        if let Some(d) = on_day.first() {
            let shown = |at: Option<i64>| at.map(|at| zone::time_on(&ctx.tz, day, at)).unwrap_or_default();
            daily = daily.row(
                member.id.to_string(),
                [member.name.clone(), shown(d.first_in), shown(d.last_out), t.day_status(d)],
            );
        }
        let days = group.judge(&ctx, member.id, member.department_id, first, last, now)?;
        let s = Totals::of(&days);
        monthly = monthly.row(
            member.id.to_string(),
            [
                member.name.clone(),
                s.working_days.to_string(),
                s.attended_days.to_string(),
                format!("{}/{}", s.late_count, s.late_min),
                format!("{}/{}", s.early_count, s.early_min),
                s.absent_days.to_string(),
                s.missing_punches.to_string(),
                t.hours(s.leave_min),
                t.hours(s.overtime_min),
            ],
        );
    }
    let name = access::department_name(&departments, Some(department));
    page = page
        .heading(format!("{name} · {day} {}", t.weekday(zone::iso_weekday(day))))
        .table(daily)
        .heading(format!("{name} · {month}"))
        .table(monthly)
        .heading(t.pick("补卡 / 更正打卡", "Correct a punch"))
        .text(t.pick(
            "更正会留下审计记录（原记录、原因、操作人），不能修改或删除；同一天同一类型以最近一次更正为准。",
            "A correction leaves an audit record (what counted before, the reason, who corrected it) that cannot be changed or deleted; the latest correction of a day and kind counts.",
        ))
        .form(
            Form::new(Action::primary("correct", t.pick("提交更正", "Correct")))
                .field(Field::user("user_id", t.pick("员工", "Person")).required())
                .field(Field::date("work_date", t.pick("考勤日期", "Work date")).required().value(day.to_string()))
                .field(
                    Field::select("kind", t.pick("类型", "Kind"), [("in", t.punch_kind(PunchKind::In)), ("out", t.punch_kind(PunchKind::Out))])
                        .required()
                        .value("in"),
                )
                .field(
                    Field::text("time", t.pick("时间", "Time")).required().help(t.pick(
                        "HH:MM，按班次计算所属日期：夜班 06:05 即次日早上。",
                        "HH:MM, on the work date's shift: 06:05 on a night shift is the next morning.",
                    )),
                )
                .field(Field::textarea("reason", t.pick("原因", "Reason")).required()),
        );
    Ok(page.heading(t.pick("更正记录", "Corrections")).table(trail(t, &ctx.tz)?))
}

/// The newest corrections.
fn trail(t: Text, tz: &jiff::tz::TimeZone) -> Result<Table> {
    let (corrections, _) = records::find_typed::<CorrectionRecord>(
        &Query::new(store::CORRECTION).order_by("created_at").descending(true).limit(TRAIL),
    )?;
    let names = access::users_by_id(corrections.iter().flat_map(|c| [c.fields.user_id, c.fields.by_user_id]))?;
    let table = Table::new()
        .column("when", t.pick("操作时间", "When"))
        .column("person", t.pick("员工", "Person"))
        .column("date", t.pick("考勤日期", "Work date"))
        .column("kind", t.pick("类型", "Kind"))
        .column("time", t.pick("更正为", "Set to"))
        .column("previous", t.pick("原记录", "Before"))
        .column("reason", t.pick("原因", "Reason"))
        .column("by", t.pick("操作人", "By"));
    Ok(corrections.iter().fold(table, |table, c| {
        let f = &c.fields;
        let date = zone::parse_date(&f.work_date);
        let kind = PunchKind::parse(&f.kind).map(|k| t.punch_kind(k)).unwrap_or_default();
        let time = date.map(|d| zone::time_on(tz, d, f.at)).unwrap_or_else(|| zone::datetime_of(tz, f.at));
        table.row(
            c.id.to_string(),
            [
                zone::datetime_of(tz, c.created_at),
                access::name_in(&names, f.user_id),
                f.work_date.clone(),
                kind,
                time,
                f.previous.clone(),
                f.reason.clone(),
                access::name_in(&names, f.by_user_id),
            ],
        )
    }))
}

/// The page's actions.
pub fn act(caller: &Caller, action: &str, input: &Value, now: i64) -> Result<Outcome> {
    match action {
        "filter" => {
            let text = |k: &str| input.get(k).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned();
            let mut query = Vec::new();
            if let Some(d) = input.get("department").and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok())) {
                query.push(format!("department={d}"));
            }
            if zone::parse_month(&text("month")).is_some() {
                query.push(format!("month={}", text("month")));
            }
            if zone::parse_date(&text("date")).is_some() {
                query.push(format!("date={}", text("date")));
            }
            Ok(Outcome::redirect(format!("/p/attendance/team?{}", query.join("&"))))
        }
        "correct" => correct(caller, input, now),
        _ => Err(Error::not_found(format!("no action {action:?} on the team page"))),
    }
}

fn correct(caller: &Caller, input: &Value, now: i64) -> Result<Outcome> {
    let t = Text::of(caller);
    let by = access::user_id(caller)?;
    if !access::is_admin(caller)? {
        return Ok(Outcome::error(t.admins_only()));
    }
    let text = |k: &str| input.get(k).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned();
    let user = input.get("user_id").and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok()));
    let work_date = zone::parse_date(&text("work_date"));
    let kind = PunchKind::parse(&text("kind"));
    let minute = zone::parse_hhmm(&text("time"));
    let reason = text("reason");
    let mut errors = Vec::new();
    let person = match user {
        Some(id) => directory::user(id)?,
        None => None,
    };
    if person.is_none() {
        errors.push(("user_id", t.pick("请选择员工。", "Choose a person.")));
    }
    if work_date.is_none() {
        errors.push(("work_date", t.pick("请填写日期（YYYY-MM-DD）。", "Give the date (YYYY-MM-DD).")));
    }
    if kind.is_none() {
        errors.push(("kind", t.pick("请选择上班或下班。", "Choose clock-in or clock-out.")));
    }
    if minute.is_none() {
        errors.push(("time", t.pick("时间格式为 HH:MM，例如 09:00。", "Write the time as HH:MM, e.g. 09:00.")));
    }
    if reason.is_empty() || reason.chars().count() > 500 {
        errors.push(("reason", t.pick("请填写原因（最多 500 字）。", "Give a reason (at most 500 characters).")));
    }
    let (Some(person), Some(work_date), Some(kind), Some(minute), true) =
        (person, work_date, kind, minute, errors.is_empty())
    else {
        return Ok(Outcome::invalid(errors));
    };
    let ctx = Context::load(work_date, work_date)?;
    let shift = ctx.shift_of(person.department_id);
    let rule = shift.rule().ok_or_else(|| Error::invalid("the shift's times do not read"))?;
    let Some(at) = rules::instant_in_window(&ctx.tz, &rule, work_date, minute).map_err(time_error)? else {
        return Ok(Outcome::invalid([(
            "time",
            t.pick("该时间在这一天不存在（夏令时）。", "That time does not exist on this day (daylight saving)."),
        )]));
    };
    if at > now {
        return Ok(Outcome::invalid([(
            "time",
            t.pick("不能更正为将来的时间。", "A correction cannot be in the future."),
        )]));
    }
    // What counted before, for the audit trail.
    let group = Group::load(&ctx.tz, Some(person.id), work_date, work_date)?;
    let before = group.judge(&ctx, person.id, person.department_id, work_date, work_date, now)?.remove(0);
    let previous_at = match kind {
        PunchKind::In => before.first_in,
        PunchKind::Out => before.last_out,
    };
    let previous = match previous_at {
        Some(p) => {
            let corrected = group.punches.get(&person.id).into_iter().flatten().any(|x| x.at == p && x.corrected);
            let source = if corrected { t.pick("更正", "correction") } else { t.pick("网页打卡", "web") };
            format!("{}（{source}）", zone::time_on(&ctx.tz, work_date, p))
        }
        None => t.not_punched(),
    };
    let correction = CorrectionRecord {
        user_id: person.id,
        work_date: work_date.to_string(),
        kind: kind.as_str().to_owned(),
        at,
        reason,
        by_user_id: by,
        previous,
    };
    let record = records::insert_typed(store::CORRECTION, &correction, None)?;
    let punch = PunchRecord {
        user_id: person.id,
        kind: kind.as_str().to_owned(),
        at,
        work_date: work_date.to_string(),
        ip: None,
        lat: None,
        lon: None,
        source: "correction".to_owned(),
        correction_id: Some(record.id),
    };
    records::insert_typed(store::PUNCH, &punch, None)?;
    let time = zone::time_on(&ctx.tz, work_date, at);
    let message = if t.is_english() {
        format!("{}'s {} of {work_date} is now {time}.", person.name, t.punch_kind(kind).to_lowercase())
    } else {
        format!("已将 {} {work_date} 的{}打卡更正为 {time}。", person.name, t.punch_kind(kind))
    };
    Ok(Outcome::success(message))
}
