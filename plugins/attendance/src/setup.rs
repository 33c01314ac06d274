//! The administrators' setup pages: shifts (`shifts`), the work calendar (`calendar`) and the
//! networks clocking in is allowed from (`networks`). All three keep reference records, which
//! everyone reads and only administrators change; the pages are `admin = true`, and the host
//! refuses a write by anyone else all the same.

use jiff::civil::Date;
use serde_json::Value;
use tessera_sdk::records::{self, Query};
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, RenderRequest, Table};
use tessera_sdk::{Caller, Error, Id, Result, context, directory};

use crate::access;
use crate::ledger::time_error;
use crate::network::{self, Cidr, CidrError, Verdict};
use crate::rules::{self, MAX_SHIFT_MIN};
use crate::store::{self, CalendarDayRecord, IpRangeRecord, ShiftRecord};
use crate::text::Text;
use crate::zone;

fn text_of(input: &Value, key: &str) -> String {
    input.get(key).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned()
}

fn number_of(input: &Value, key: &str) -> Option<i64> {
    match input.get(key) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) if s.trim().is_empty() => Some(0),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(Value::Null) | None => Some(0),
        _ => None,
    }
}

/// What the host refuses this user becomes a notice.
fn refused_as_notice(t: Text, outcome: Result<Outcome>) -> Result<Outcome> {
    match outcome {
        Err(Error::Denied(_)) => Ok(Outcome::error(t.admins_only())),
        Err(Error::NotFound(_)) => Ok(Outcome::error(t.not_allowed())),
        other => other,
    }
}

fn delete(t: Text, entity: &str, argument: Option<&str>, done: String) -> Result<Outcome> {
    let Some(id) = argument.and_then(|a| a.trim().parse::<Id>().ok()) else {
        return Ok(Outcome::error(t.not_allowed()));
    };
    refused_as_notice(t, records::delete(entity, id).map(|()| Outcome::success(done)))
}

// ----- Shifts -----

const WEEKDAY_FIELDS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Draws the shifts page.
pub fn render_shifts(caller: &Caller) -> Result<Page> {
    let t = Text::of(caller);
    let shifts = store::shifts()?;
    let departments = directory::departments()?;
    let mut page = Page::new(t.pick("班次", "Shifts")).text(t.pick(
        "每个部门可设一个班次，下级部门沿用上级部门的班次；未指定部门的班次为全公司默认班次。下班时间早于或等于上班时间表示跨零点的夜班（如 22:00–06:00），打卡计入上班当天。",
        "Each department may have a shift, which the departments under it follow; a shift of no department is the organisation's default. An end at or before the start is a night shift across midnight (such as 22:00–06:00), counted on the day it starts.",
    ));
    if shifts.is_empty() {
        let standard = store::standard_shift();
        page = page.notice(
            "info",
            if t.is_english() {
                format!(
                    "No shift yet: everyone works the standard {}–{}, Monday to Friday.",
                    standard.start_time, standard.end_time
                )
            } else {
                format!(
                    "尚未设置班次：所有人按标准班 {}–{}（周一至周五）考勤。",
                    standard.start_time, standard.end_time
                )
            },
        );
    } else {
        let table = Table::new()
            .column("name", t.pick("名称", "Name"))
            .column("time", t.pick("时间", "Hours"))
            .column("grace", t.pick("迟到/早退宽限（分钟）", "Grace late/early (min)"))
            .column("break", t.pick("休息（分钟）", "Break (min)"))
            .column("weekdays", t.pick("工作日", "Working weekdays"))
            .column("department", t.pick("部门", "Department"));
        let table = shifts.iter().fold(table, |table, s| {
            let f = &s.fields;
            let days: Vec<String> =
                f.weekdays.split(',').filter_map(|d| d.trim().parse::<i8>().ok()).map(|d| t.weekday(d)).collect();
            let department = match f.for_department {
                Some(_) => access::department_name(&departments, f.for_department),
                None => t.pick("全公司默认", "Organisation default"),
            };
            table.row(
                s.id.to_string(),
                [
                    f.name.clone(),
                    format!("{}–{}", f.start_time, f.end_time),
                    format!("{} / {}", f.late_grace_min, f.early_grace_min),
                    f.break_min.to_string(),
                    days.join(" "),
                    department,
                ],
            )
        });
        page = page.table(table.row_action(Action::danger("delete-shift", t.pick("删除", "Delete"))));
    }
    let mut options = vec![(String::new(), t.pick("全公司默认", "Organisation default"))];
    options.extend(departments.iter().map(|d| (d.id.to_string(), d.name.clone())));
    let mut form = Form::new(Action::primary("add-shift", t.pick("添加班次", "Add shift")))
        .field(Field::text("name", t.pick("名称", "Name")).required())
        .field(Field::text("start_time", t.pick("上班时间", "Starts")).required().value("09:00").help("HH:MM"))
        .field(Field::text("end_time", t.pick("下班时间", "Ends")).required().value("18:00").help("HH:MM"))
        .field(Field::number("late_grace_min", t.pick("迟到宽限（分钟）", "Late grace (min)")).value(0))
        .field(Field::number("early_grace_min", t.pick("早退宽限（分钟）", "Early grace (min)")).value(0))
        .field(Field::number("break_min", t.pick("休息时长（分钟）", "Break (min)")).value(60))
        .field(Field::select("department_id", t.pick("部门", "Department"), options).value(""));
    for (i, name) in WEEKDAY_FIELDS.iter().enumerate() {
        let iso = i as i8 + 1;
        form = form.field(Field::checkbox(*name, t.weekday(iso)).value(iso <= 5));
    }
    Ok(page.heading(t.pick("添加班次", "Add a shift")).form(form))
}

/// The shifts page's actions.
pub fn act_shifts(caller: &Caller, action: &str, argument: Option<&str>, input: &Value) -> Result<Outcome> {
    let t = Text::of(caller);
    match action {
        "add-shift" => refused_as_notice(t, add_shift(t, input)),
        "delete-shift" => delete(t, store::SHIFT, argument, t.pick("班次已删除。", "The shift was deleted.")),
        _ => Err(Error::not_found(format!("no action {action:?} on the shifts page"))),
    }
}

fn add_shift(t: Text, input: &Value) -> Result<Outcome> {
    let name = text_of(input, "name");
    let start = zone::parse_hhmm(&text_of(input, "start_time"));
    let end = zone::parse_hhmm(&text_of(input, "end_time"));
    let grace_late = number_of(input, "late_grace_min");
    let grace_early = number_of(input, "early_grace_min");
    let break_min = number_of(input, "break_min");
    let department = match input.get("department_id") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let weekdays: String = (1..=7u8)
        .filter(|d| input.get(WEEKDAY_FIELDS[usize::from(d - 1)]).and_then(Value::as_bool).unwrap_or(false))
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > 40 {
        errors.push(("name", t.pick("请填写名称（最多 40 字）。", "Give it a name (at most 40 characters).")));
    }
    let time_rule = t.pick("时间格式为 HH:MM，例如 09:00。", "Write the time as HH:MM, e.g. 09:00.");
    if start.is_none() {
        errors.push(("start_time", time_rule.clone()));
    }
    if end.is_none() {
        errors.push(("end_time", time_rule));
    }
    for (field, value) in [("late_grace_min", grace_late), ("early_grace_min", grace_early), ("break_min", break_min)] {
        if !value.is_some_and(|v| (0..=240).contains(&v)) {
            errors.push((field, t.pick("请填写 0 到 240 之间的分钟数。", "Give a number of minutes from 0 to 240.")));
        }
    }
    if weekdays.is_empty() {
        errors.push(("mon", t.pick("请至少选择一个工作日。", "Choose at least one working weekday.")));
    }
    let record = ShiftRecord {
        name,
        start_time: start.map(zone::hhmm).unwrap_or_default(),
        end_time: end.map(zone::hhmm).unwrap_or_default(),
        late_grace_min: grace_late.unwrap_or(0),
        early_grace_min: grace_early.unwrap_or(0),
        break_min: break_min.unwrap_or(0),
        for_department: department,
        weekdays,
    };
    if let Some(rule) = record.rule().filter(|_| errors.is_empty()) {
        if rule.span_min() > MAX_SHIFT_MIN {
            errors.push(("end_time", t.pick("班次最长 16 小时。", "A shift lasts at most 16 hours.")));
        } else if rule.work_min() == 0 {
            errors.push(("break_min", t.pick("休息时长不能超过班次时长。", "The break cannot take the whole shift.")));
        }
    }
    if !errors.is_empty() {
        return Ok(Outcome::invalid(errors));
    }
    let taken = store::shifts()?.into_iter().any(|s| s.fields.for_department == department);
    if taken {
        return Ok(Outcome::invalid([(
            "department_id",
            t.pick("该部门已有班次，请先删除原班次。", "This department has a shift already; delete it first."),
        )]));
    }
    records::insert_typed(store::SHIFT, &record, None)?;
    Ok(Outcome::success(if t.is_english() {
        format!("The shift {} ({}–{}) was added.", record.name, record.start_time, record.end_time)
    } else {
        format!("已添加班次 {}（{}–{}）。", record.name, record.start_time, record.end_time)
    }))
}

// ----- The work calendar -----

/// Draws the calendar page: `?year=2026`.
pub fn render_calendar(caller: &Caller, request: &RenderRequest, now: i64) -> Result<Page> {
    let t = Text::of(caller);
    let tz = zone::org_zone();
    let this_year = rules::local_date(&tz, now).map_err(time_error)?.year();
    let year = request
        .param("year")
        .and_then(|y| y.trim().parse::<i16>().ok())
        .filter(|y| (1970..=2200).contains(y))
        .unwrap_or(this_year);
    let first = Date::new(year, 1, 1).map_err(time_error)?;
    let last = Date::new(year, 12, 31).map_err(time_error)?;
    let days = store::all::<CalendarDayRecord>(
        Query::new(store::CALENDAR_DAY).ge("date", first.to_string()).le("date", last.to_string()).order_by("date"),
    )?;
    let mut page = Page::new(t.pick("工作日历", "Work calendar"))
        .text(t.pick(
            "法定节假日即使在工作日也休息；调休上班日即使在周末也上班。其余日期按各班次的工作日安排。",
            "A public holiday is a day off even on a weekday; a make-up working day is a working day even on a weekend. Other days follow each shift's weekdays.",
        ))
        .actions([
            Action::new("year", format!("{}", year - 1)).argument((year - 1).to_string()),
            Action::new("year", format!("{}", year + 1)).argument((year + 1).to_string()),
        ])
        .heading(year.to_string());
    if days.is_empty() {
        page = page
            .notice("info", t.pick("这一年还没有设置节假日或调休。", "No holidays or make-up days for this year yet."));
    } else {
        let table = Table::new()
            .column("date", t.pick("日期", "Date"))
            .column("weekday", t.pick("星期", "Day"))
            .column("kind", t.pick("类型", "Kind"))
            .column("name", t.pick("名称", "Name"));
        let table = days.iter().fold(table, |table, d| {
            let weekday = zone::parse_date(&d.fields.date).map(|x| t.weekday(zone::iso_weekday(x))).unwrap_or_default();
            let kind = match d.fields.kind.as_str() {
                "holiday" => t.pick("节假日", "Public holiday"),
                _ => t.pick("调休上班", "Make-up workday"),
            };
            table.row(d.id.to_string(), [d.fields.date.clone(), weekday, kind, d.fields.name.clone()])
        });
        page = page.table(table.row_action(Action::danger("delete-day", t.pick("删除", "Delete"))));
    }
    Ok(page.heading(t.pick("添加日期", "Add a day")).form(
        Form::new(Action::primary("add-day", t.pick("添加", "Add")))
            .field(Field::date("date", t.pick("日期", "Date")).required())
            .field(
                Field::select(
                    "kind",
                    t.pick("类型", "Kind"),
                    [
                        ("holiday", t.pick("节假日（休息）", "Public holiday (day off)")),
                        ("workday", t.pick("调休上班", "Make-up working day")),
                    ],
                )
                .required()
                .value("holiday"),
            )
            .field(
                Field::text("name", t.pick("名称", "Name")).help(t.pick("如：国庆节、国庆调休", "e.g. National Day")),
            ),
    ))
}

/// The calendar page's actions.
pub fn act_calendar(caller: &Caller, action: &str, argument: Option<&str>, input: &Value) -> Result<Outcome> {
    let t = Text::of(caller);
    match action {
        "year" => match argument.and_then(|y| y.trim().parse::<i16>().ok()) {
            Some(year) => Ok(Outcome::redirect(format!("/p/attendance/calendar?year={year}"))),
            None => Err(Error::invalid("year: a number")),
        },
        "add-day" => refused_as_notice(t, add_day(t, input)),
        "delete-day" => delete(t, store::CALENDAR_DAY, argument, t.pick("已删除。", "Deleted.")),
        _ => Err(Error::not_found(format!("no action {action:?} on the calendar page"))),
    }
}

fn add_day(t: Text, input: &Value) -> Result<Outcome> {
    let date = zone::parse_date(&text_of(input, "date"));
    let kind = text_of(input, "kind");
    let name = text_of(input, "name");
    let mut errors = Vec::new();
    if date.is_none() {
        errors.push(("date", t.pick("请填写日期（YYYY-MM-DD）。", "Give the date (YYYY-MM-DD).")));
    }
    if kind != "holiday" && kind != "workday" {
        errors.push(("kind", t.pick("请选择类型。", "Choose the kind.")));
    }
    if name.chars().count() > 40 {
        errors.push(("name", t.pick("名称最多 40 字。", "At most 40 characters.")));
    }
    let (Some(date), true) = (date, errors.is_empty()) else {
        return Ok(Outcome::invalid(errors));
    };
    let taken = t.pick("这一天已经设置过，请先删除原设置。", "This day is set already; delete it first.");
    let existing = records::find(&Query::new(store::CALENDAR_DAY).eq("date", date.to_string()).limit(1))?;
    if !existing.items.is_empty() {
        return Ok(Outcome::invalid([("date", taken)]));
    }
    let record = CalendarDayRecord { date: date.to_string(), kind, name };
    match records::insert_typed(store::CALENDAR_DAY, &record, None) {
        Ok(_) => Ok(Outcome::success(if t.is_english() {
            format!("{date} was added.")
        } else {
            format!("已添加 {date}。")
        })),
        Err(Error::Conflict(_)) => Ok(Outcome::invalid([("date", taken)])),
        Err(e) => Err(e),
    }
}

// ----- Networks -----

/// Draws the networks page, saying where the admin's own browser stands.
pub fn render_networks(caller: &Caller) -> Result<Page> {
    let t = Text::of(caller);
    let ranges = store::ip_ranges()?;
    let pairs: Vec<(String, String)> = ranges.iter().map(|r| (r.fields.cidr.clone(), r.fields.label.clone())).collect();
    let ip = context::client_ip();
    let shown_ip = ip.map(|ip| ip.to_string()).unwrap_or_else(|| t.pick("未知", "unknown"));
    let here = match network::check(&pairs, ip) {
        Verdict::Unrestricted => {
            t.pick("未设置网络范围，任何网络都可以打卡。", "No networks are set: clocking in is allowed from anywhere.")
        }
        Verdict::Inside(label) => {
            if t.is_english() {
                format!("Your address {shown_ip} is inside {label}.")
            } else {
                format!("您当前的地址 {shown_ip} 在「{label}」范围内。")
            }
        }
        Verdict::Outside | Verdict::Unknown => {
            if t.is_english() {
                format!("Your address {shown_ip} is outside every network below: you could not clock in from here.")
            } else {
                format!("您当前的地址 {shown_ip} 不在下列任何网络中，在此处无法打卡。")
            }
        }
    };
    let mut page = Page::new(t.pick("打卡网络", "Clock-in networks"))
        .text(t.pick(
            "只允许从下列网络打卡（IPv4 或 IPv6 的 CIDR，如 192.168.1.0/24，或单个地址）。未设置任何网络时不限制。",
            "Clocking in is allowed only from these networks (IPv4 or IPv6 CIDR such as 192.168.1.0/24, or single addresses). With none set, there is no restriction.",
        ))
        .notice("info", here);
    if !ranges.is_empty() {
        let table = Table::new().column("cidr", t.pick("网络", "Network")).column("label", t.pick("说明", "Label"));
        let table = ranges
            .iter()
            .fold(table, |table, r| table.row(r.id.to_string(), [r.fields.cidr.clone(), r.fields.label.clone()]));
        page = page.table(table.row_action(Action::danger("delete-range", t.pick("删除", "Delete"))));
    }
    Ok(page.form(
        Form::new(Action::primary("add-range", t.pick("添加网络", "Add network")))
            .field(
                Field::text("cidr", t.pick("网络（CIDR）", "Network (CIDR)"))
                    .required()
                    .help("192.168.1.0/24, 2001:db8:8::/48, 203.0.113.9"),
            )
            .field(Field::text("label", t.pick("说明", "Label")).help(t.pick("如：总部办公室", "e.g. Head office"))),
    ))
}

/// The networks page's actions.
pub fn act_networks(caller: &Caller, action: &str, argument: Option<&str>, input: &Value) -> Result<Outcome> {
    let t = Text::of(caller);
    match action {
        "add-range" => refused_as_notice(t, add_range(t, input)),
        "delete-range" => delete(t, store::IP_RANGE, argument, t.pick("已删除。", "Deleted.")),
        _ => Err(Error::not_found(format!("no action {action:?} on the networks page"))),
    }
}

fn add_range(t: Text, input: &Value) -> Result<Outcome> {
    let label = text_of(input, "label");
    let cidr = match Cidr::parse(&text_of(input, "cidr")) {
        Ok(cidr) => cidr,
        Err(e) => {
            let message = match e {
                CidrError::Address => t.pick("不是有效的 IPv4 或 IPv6 地址。", "Not an IPv4 or IPv6 address."),
                CidrError::Prefix(max) => {
                    if t.is_english() {
                        format!("The prefix length is a number from 0 to {max}.")
                    } else {
                        format!("前缀长度应为 0 到 {max} 之间的数字。")
                    }
                }
                CidrError::HostBits => t.pick(
                    "网络地址在前缀之后还有非零位，例如应写 192.168.1.0/24 而不是 192.168.1.7/24。",
                    "The address has bits set beyond the prefix: write 192.168.1.0/24, not 192.168.1.7/24.",
                ),
            };
            return Ok(Outcome::invalid([("cidr", message)]));
        }
    };
    if label.chars().count() > 60 {
        return Ok(Outcome::invalid([("label", t.pick("说明最多 60 字。", "At most 60 characters."))]));
    }
    let written = cidr.to_string();
    let taken = t.pick("这个网络已经添加过。", "This network is there already.");
    if store::ip_ranges()?.iter().any(|r| Cidr::parse(&r.fields.cidr).ok() == Some(cidr)) {
        return Ok(Outcome::invalid([("cidr", taken)]));
    }
    match records::insert_typed(store::IP_RANGE, &IpRangeRecord { cidr: written.clone(), label }, None) {
        Ok(_) => Ok(Outcome::success(if t.is_english() {
            format!("{written} was added.")
        } else {
            format!("已添加 {written}。")
        })),
        Err(Error::Conflict(_)) => Ok(Outcome::invalid([("cidr", taken)])),
        Err(e) => Err(e),
    }
}
