//! The monthly report (`report`, menu 考勤报表) and its XLSX export
//! (`GET /api/plugins/attendance/report.xlsx?month=YYYY-MM&department=<id>`).
//!
//! Who sees what: an administrator any department, or the whole organisation; anyone else their
//! own department and those under it, listing themselves and the colleagues whose attendance
//! records the host lets them read (a sales manager their department, a salesperson only
//! themselves). Asking for another department is refused.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde_json::Value;
use tessera_sdk::directory::{self, Department, User};
use tessera_sdk::http::{Request, Response};
use tessera_sdk::ui::{Action, Chart, Field, Form, Outcome, Page, RenderRequest, Table};
use tessera_sdk::{Caller, Error, Id, Result};

use crate::access;
use crate::ledger::{Context, Group, time_error};
use crate::mine;
use crate::rules::{self, Day, Totals};
use crate::text::Text;
use crate::xlsx::{self, Cell, Sheet};
use crate::zone;

/// One person's month.
pub struct Row {
    pub user: User,
    pub department: String,
    pub totals: Totals,
    pub days: Vec<Day>,
}

/// A month of a department (or of the organisation).
pub struct Report {
    /// The department reported on; none for the whole organisation.
    pub department: Option<Id>,
    pub scope: String,
    pub rows: Vec<Row>,
    pub tz: jiff::tz::TimeZone,
    pub holiday_names: BTreeMap<Date, String>,
    /// Departments the caller may pick.
    pub choices: Vec<(Id, String)>,
    pub admin: bool,
}

impl Report {
    pub fn totals(&self) -> Totals {
        self.rows.iter().fold(Totals::default(), |t, r| t + r.totals)
    }
}

/// Builds the report the caller may see; `denied` for a department beyond their reach.
pub fn build(caller: &Caller, department: Option<Id>, first: Date, last: Date, now: i64) -> Result<Report> {
    let t = Text::of(caller);
    let me = access::me(caller)?.ok_or_else(|| Error::denied("the caller is not a user of the organisation"))?;
    let admin = access::is_admin(caller)?;
    let departments = directory::departments()?;
    let reachable = if admin {
        departments.iter().map(|d| d.id).collect()
    } else {
        access::reportable(me.department_id, &departments)
    };
    let department = match department {
        Some(d) if !reachable.contains(&d) => {
            return Err(Error::denied(
                t.pick("您无权查看该部门的考勤报表。", "You may not see this department's attendance report."),
            ));
        }
        Some(d) => Some(d),
        None if admin => None,
        None => me.department_id,
    };
    let ctx = Context::load(first, last)?;
    let group = Group::load(&ctx.tz, None, first, last)?;
    let mut people: BTreeMap<Id, User> = BTreeMap::new();
    match department {
        Some(d) => people.extend(directory::members(d, true)?.into_iter().map(|u| (u.id, u))),
        None if admin => {
            for root in departments.iter().filter(|d| d.parent_id.is_none()) {
                people.extend(directory::members(root.id, true)?.into_iter().map(|u| (u.id, u)));
            }
            // People in no department who have records this month.
            let seen = group.punches.keys().chain(group.leave.keys()).chain(group.overtime.keys()).copied();
            let missing: Vec<Id> = seen.filter(|id| !people.contains_key(id)).collect();
            people.extend(access::users_by_id(missing)?);
        }
        None => {}
    }
    if !admin {
        people.retain(|id, _| *id == me.id || group.has(*id));
        people.entry(me.id).or_insert_with(|| me.clone());
    }
    let mut rows = Vec::new();
    for user in people.into_values() {
        let days = group.judge(&ctx, user.id, user.department_id, first, last, now)?;
        let department = access::department_name(&departments, user.department_id);
        rows.push(Row { totals: Totals::of(&days), days, department, user });
    }
    rows.sort_by(|a, b| (&a.department, &a.user.name, a.user.id).cmp(&(&b.department, &b.user.name, b.user.id)));
    let scope = match department {
        Some(d) => access::department_name(&departments, Some(d)),
        None => t.pick("全公司", "Whole organisation"),
    };
    let choices =
        departments.iter().filter(|d| reachable.contains(&d.id)).map(|d| (d.id, indented(&departments, d))).collect();
    Ok(Report { department, scope, rows, tz: ctx.tz, holiday_names: ctx.holiday_names, choices, admin })
}

/// A department's name indented by its depth, for a select.
fn indented(all: &[Department], d: &Department) -> String {
    let mut depth = 0;
    let mut parent = d.parent_id;
    while let Some(p) = parent.filter(|_| depth < all.len()) {
        depth += 1;
        parent = all.iter().find(|x| x.id == p).and_then(|x| x.parent_id);
    }
    format!("{}{}", "　".repeat(depth), d.name)
}

/// Draws the report page: `?month=YYYY-MM&department=<id>`.
pub fn render(caller: &Caller, request: &RenderRequest, now: i64) -> Result<Page> {
    let t = Text::of(caller);
    let tz = zone::org_zone();
    let (first, last) = mine::month_param(request, &tz, now)?;
    let department = request.param("department").and_then(|d| d.trim().parse::<Id>().ok());
    let report = match build(caller, department, first, last, now) {
        Ok(report) => report,
        Err(Error::Denied(message)) => {
            return Ok(Page::new(t.pick("考勤报表", "Attendance report")).notice("error", message));
        }
        Err(e) => return Err(e),
    };
    let month = zone::month_of(first);
    let mut options: Vec<(String, String)> = Vec::new();
    if report.admin {
        options.push((String::new(), t.pick("全公司", "Whole organisation")));
    }
    options.extend(report.choices.iter().map(|(id, name)| (id.to_string(), name.clone())));
    let selected = report.department.map(|d| d.to_string()).unwrap_or_default();
    let argument = format!("{month}|{selected}");
    let mut page = Page::new(t.pick("考勤报表", "Attendance report"))
        .form(
            Form::new(Action::new("filter", t.pick("查看", "Show")))
                .field(Field::select("department", t.pick("部门", "Department"), options).value(selected.clone()))
                .field(Field::text("month", t.pick("月份", "Month")).value(month.clone()).help("YYYY-MM")),
        )
        .heading(format!("{} · {month}", report.scope))
        .actions([Action::primary("export", t.pick("导出 Excel", "Export to Excel")).argument(argument)])
        .stats(mine::stats(t, &report.totals()));
    if !report.admin {
        page = page.text(t.pick(
            "只列出您有权查看其考勤记录的同事。",
            "Only the colleagues whose attendance records you may read are listed.",
        ));
    }
    page = page.chart(chart(t, &report));
    Ok(page.table(summary_table(t, &report)))
}

/// Late, early, absent and overtime per person, or per department for the whole organisation.
fn chart(t: Text, report: &Report) -> Chart {
    let mut groups: Vec<(String, Totals)> = Vec::new();
    for row in &report.rows {
        let key = if report.department.is_none() { row.department.clone() } else { row.user.name.clone() };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, totals)) => *totals = *totals + row.totals,
            None => groups.push((key, row.totals)),
        }
    }
    let series = |f: fn(&Totals) -> i64| groups.iter().map(move |(_, s)| f(s) as f64).collect::<Vec<_>>();
    Chart::bar(groups.iter().map(|(k, _)| if k.is_empty() { t.pick("未分配部门", "No department") } else { k.clone() }))
        .series(t.pick("迟到次数", "Times late"), series(|s| s.late_count))
        .series(t.pick("早退次数", "Times left early"), series(|s| s.early_count))
        .series(t.pick("缺勤天数", "Days absent"), series(|s| s.absent_days))
        .series(
            t.pick("加班小时", "Overtime hours"),
            groups.iter().map(|(_, s)| (s.overtime_min as f64 / 6.0).round() / 10.0).collect::<Vec<_>>(),
        )
}

/// The columns of the summary, as the page and the spreadsheet show them.
fn summary_headers(t: Text) -> Vec<String> {
    [
        ("姓名", "Name"),
        ("部门", "Department"),
        ("应出勤天数", "Working days"),
        ("出勤天数", "Days attended"),
        ("迟到次数", "Times late"),
        ("迟到分钟", "Minutes late"),
        ("早退次数", "Times left early"),
        ("早退分钟", "Minutes early"),
        ("缺勤天数", "Days absent"),
        ("缺卡次数", "Missing punches"),
        ("请假分钟", "Leave minutes"),
        ("额外工作分钟", "Worked extra minutes"),
        ("加班分钟（已审批）", "Overtime minutes (approved)"),
    ]
    .iter()
    .map(|(zh, en)| t.pick(zh, en))
    .collect()
}

fn summary_numbers(s: &Totals) -> [i64; 11] {
    [
        s.working_days,
        s.attended_days,
        s.late_count,
        s.late_min,
        s.early_count,
        s.early_min,
        s.absent_days,
        s.missing_punches,
        s.leave_min,
        s.extra_min,
        s.overtime_min,
    ]
}

fn summary_table(t: Text, report: &Report) -> Table {
    let headers = summary_headers(t);
    let table = headers.iter().enumerate().fold(Table::new(), |table, (i, h)| table.column(format!("c{i}"), h.clone()));
    report.rows.iter().fold(table, |table, row| {
        let mut cells = vec![row.user.name.clone(), row.department.clone()];
        cells.extend(summary_numbers(&row.totals).iter().map(i64::to_string));
        table.row(row.user.id.to_string(), cells)
    })
}

/// The report as a workbook: the summary, then every person's days.
pub fn workbook(t: Text, report: &Report) -> Vec<u8> {
    let mut summary =
        Sheet::new(t.pick("汇总", "Summary")).widths(&[14, 16, 10, 10, 10, 10, 10, 10, 10, 10, 10, 12, 14]);
    summary.push(summary_headers(t).into_iter().map(Cell::Text).collect());
    for row in &report.rows {
        let mut cells = vec![Cell::Text(row.user.name.clone()), Cell::Text(row.department.clone())];
        cells.extend(summary_numbers(&row.totals).iter().map(|n| Cell::Number(*n)));
        summary.push(cells);
    }
    let mut daily = Sheet::new(t.pick("每日明细", "Daily")).widths(&[14, 16, 12, 6, 14, 18, 18, 8, 8, 10, 10, 10, 28]);
    let headers = [
        ("姓名", "Name"),
        ("部门", "Department"),
        ("日期", "Date"),
        ("星期", "Day"),
        ("类型", "Kind"),
        ("上班打卡", "Clock-in"),
        ("下班打卡", "Clock-out"),
        ("迟到分钟", "Minutes late"),
        ("早退分钟", "Minutes early"),
        ("请假分钟", "Leave minutes"),
        ("额外工作分钟", "Worked extra minutes"),
        ("加班分钟", "Overtime minutes"),
        ("状态", "Status"),
    ];
    daily.push(headers.iter().map(|(zh, en)| Cell::Text(t.pick(zh, en))).collect());
    for row in &report.rows {
        for day in &row.days {
            let shown =
                |at: Option<i64>| at.map(|at| Cell::Text(zone::datetime_of(&report.tz, at))).unwrap_or(Cell::Empty);
            let kind = match report.holiday_names.get(&day.date).filter(|n| !n.trim().is_empty()) {
                Some(name) => format!("{}（{name}）", t.day_kind(day)),
                None => t.day_kind(day),
            };
            daily.push(vec![
                Cell::Text(row.user.name.clone()),
                Cell::Text(row.department.clone()),
                Cell::Text(day.date.to_string()),
                Cell::Text(t.weekday(zone::iso_weekday(day.date))),
                Cell::Text(kind),
                shown(day.first_in),
                shown(day.last_out),
                Cell::Number(day.late_min),
                Cell::Number(day.early_min),
                Cell::Number(day.leave_min),
                Cell::Number(day.extra_min),
                Cell::Number(day.overtime_min),
                Cell::Text(t.day_status(day)),
            ]);
        }
    }
    xlsx::workbook(&[summary, daily])
}

/// The page's actions: `filter` goes to the chosen month and department, `export` downloads.
pub fn act(action: &str, argument: Option<&str>, input: &Value) -> Result<Outcome> {
    match action {
        "filter" => {
            let month = input.get("month").and_then(Value::as_str).map(str::trim).unwrap_or_default();
            let department =
                input.get("department").and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok()));
            Ok(Outcome::redirect(link("/p/attendance/report", month, department)))
        }
        "export" => {
            let (month, department) = argument.and_then(|a| a.split_once('|')).unwrap_or_default();
            Ok(Outcome::redirect(link("/api/plugins/attendance/report.xlsx", month, department.trim().parse().ok())))
        }
        _ => Err(Error::not_found(format!("no action {action:?} on the report page"))),
    }
}

fn link(path: &str, month: &str, department: Option<Id>) -> String {
    let mut query = Vec::new();
    if zone::parse_month(month).is_some() {
        query.push(format!("month={}", month.trim()));
    }
    if let Some(d) = department {
        query.push(format!("department={d}"));
    }
    if query.is_empty() { path.to_owned() } else { format!("{path}?{}", query.join("&")) }
}

/// `GET /report.xlsx?month=YYYY-MM&department=<id>`.
pub fn export(caller: &Caller, request: &Request, now: i64) -> Result<Response> {
    let t = Text::of(caller);
    let tz = zone::org_zone();
    let (first, last) = match request.query_param("month").filter(|m| !m.trim().is_empty()) {
        Some(month) => {
            zone::parse_month(&month).ok_or_else(|| Error::invalid(format!("month: {month:?} is not YYYY-MM")))?
        }
        None => {
            let today = rules::local_date(&tz, now).map_err(time_error)?;
            zone::parse_month(&zone::month_of(today))
                .ok_or_else(|| Error::internal("the current month does not read"))?
        }
    };
    let department = request.query_parsed::<Id>("department")?;
    let report = build(caller, department, first, last, now)?;
    let month = zone::month_of(first);
    Ok(Response { status: 200, headers: Vec::new(), body: workbook(t, &report) }
        .with_header("content-type", xlsx::CONTENT_TYPE)
        .with_header("content-disposition", format!("attachment; filename=\"attendance-{month}.xlsx\""))
        .with_header("cache-control", "private, no-store"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_carry_only_what_reads() {
        assert_eq!(link("/p/attendance/report", "2026-11", Some(3)), "/p/attendance/report?month=2026-11&department=3");
        assert_eq!(link("/p/attendance/report", "11/2026", None), "/p/attendance/report");
        let outcome = act("export", Some("2026-11|7"), &Value::Null).expect("an outcome");
        assert_eq!(outcome, Outcome::Redirect("/api/plugins/attendance/report.xlsx?month=2026-11&department=7".into()));
        let outcome = act("export", Some("2026-11|"), &Value::Null).expect("an outcome");
        assert_eq!(outcome, Outcome::Redirect("/api/plugins/attendance/report.xlsx?month=2026-11".into()));
    }

    #[test]
    fn departments_are_indented_by_depth() {
        let d = |id, parent_id| Department { id, name: format!("d{id}"), parent_id };
        let all = [d(1, None), d(2, Some(1)), d(3, Some(2))];
        assert_eq!(indented(&all, &all[2]), "　　d3");
        assert_eq!(indented(&all, &all[0]), "d1");
    }
}
