//! The clock page (`clock`, menu 打卡): sized for a phone. Today's shift and where the day
//! stands, the time, and two forms, 上班打卡 (`clock-in`) and 下班打卡 (`clock-out`), each with
//! a `location` field when the admin set a site and radius. A punch is refused, with a message
//! that says why and what to do, from outside the allowed networks or the radius.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::Value;
use tessera_sdk::context;
use tessera_sdk::records;
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, Table};
use tessera_sdk::{Caller, Error, Id, Result};

use crate::access;
use crate::config::{self, Place, Settings};
use crate::ledger::{Context, Group, time_error};
use crate::network::{self, Verdict};
use crate::rules::{self, Day, PunchKind};
use crate::store::{self, PunchRecord, ShiftRecord};
use crate::text::Text;
use crate::zone;

/// The caller's day as the clock sees it, in the organisation's time zone: their department's
/// shift, and the work date a punch made now counts for.
struct Today {
    department: Option<Id>,
    tz: TimeZone,
    ctx: Context,
    shift: ShiftRecord,
    work_date: Date,
}

impl Today {
    fn load(caller: &Caller, now: i64) -> Result<Today> {
        let department = access::me(caller)?.and_then(|u| u.department_id);
        let tz = zone::org_zone();
        let today = rules::local_date(&tz, now).map_err(time_error)?;
        let ctx = Context::load(today.yesterday().map_err(time_error)?, today.tomorrow().map_err(time_error)?)?;
        let shift = ctx.shift_of(department);
        let rule = shift.rule().ok_or_else(|| Error::invalid("the shift's times do not read"))?;
        let work_date = rules::work_date_of(&tz, &rule, now).map_err(time_error)?;
        Ok(Today { department, tz, ctx, shift, work_date })
    }

    /// How the work date stands for `user`, with the punches made so far.
    fn judge(&self, user: Id, now: i64) -> Result<Day> {
        let group = Group::load(&self.tz, Some(user), self.work_date, self.work_date)?;
        Ok(group.judge(&self.ctx, user, self.department, self.work_date, self.work_date, now)?.remove(0))
    }
}

/// Draws the clock page.
pub fn render(caller: &Caller, now: i64) -> Result<Page> {
    let t = Text::of(caller);
    let user = access::user_id(caller)?;
    let today = Today::load(caller, now)?;
    let day = today.judge(user, now)?;
    let Today { tz, ctx, shift, work_date, .. } = &today;
    let work_date = *work_date;

    let shown = |at: Option<i64>| at.map(|at| zone::time_on(tz, work_date, at)).unwrap_or_else(|| t.not_punched());
    let mut page = Page::new(t.pick("打卡", "Clock in")).key_values([
        (
            t.pick("日期", "Date"),
            format!("{} {} · {}", work_date, t.weekday(zone::iso_weekday(work_date)), t.day_kind(&day)),
        ),
        (t.pick("班次", "Shift"), format!("{} {}–{}", shift.name, shift.start_time, shift.end_time)),
        (t.pick("当前时间", "Time now"), zone::time_of(tz, now)),
        (t.punch_kind(PunchKind::In), shown(day.first_in)),
        (t.punch_kind(PunchKind::Out), shown(day.last_out)),
        (t.pick("状态", "Status"), t.day_status(&day)),
    ]);
    if let Some(name) = ctx.holiday_names.get(&work_date).filter(|n| !n.trim().is_empty()) {
        page = page.notice("info", name.clone());
    }
    if let Some(refusal) = network_refusal(t)? {
        page = page.notice("warning", refusal);
    }
    let location = ctx.settings.site.map(|(_, radius)| {
        let help = if t.is_english() {
            format!("Clocking in needs your position within {} m of the workplace.", radius.round() as i64)
        } else {
            format!("打卡需要定位，须在打卡地点 {} 米范围内。", radius.round() as i64)
        };
        // Not required: without a position the form still posts, and the refusal says why.
        Field::location("location", t.pick("位置", "Location")).help(help)
    });
    for (action, label, primary) in [
        ("clock-in", t.pick("上班打卡", "Clock in"), day.first_in.is_none()),
        ("clock-out", t.pick("下班打卡", "Clock out"), day.first_in.is_some()),
    ] {
        let submit = if primary { Action::primary(action, label) } else { Action::new(action, label) };
        let form = location.iter().cloned().fold(Form::new(submit), Form::field);
        page = page.form(form);
    }
    let mut punches: Vec<_> = store::punches(Some(user), work_date, work_date)?;
    punches.sort_by_key(|p| p.fields.at);
    if !punches.is_empty() {
        let table = Table::new()
            .column("time", t.pick("时间", "Time"))
            .column("kind", t.pick("类型", "Kind"))
            .column("source", t.pick("来源", "Source"));
        let table = punches.iter().fold(table, |table, p| {
            let kind = PunchKind::parse(&p.fields.kind).map(|k| t.punch_kind(k)).unwrap_or_default();
            let source = if p.fields.source == "correction" {
                t.pick("管理员补卡", "Corrected")
            } else {
                t.pick("网页", "Web")
            };
            table.row(p.id.to_string(), [zone::time_on(tz, work_date, p.fields.at), kind, source])
        });
        page = page.heading(t.pick("今日打卡记录", "Today's punches")).table(table);
    }
    Ok(page)
}

/// The refusal the network rule gives the caller's address, if it refuses it.
fn network_refusal(t: Text) -> Result<Option<String>> {
    let ranges: Vec<(String, String)> =
        store::ip_ranges()?.into_iter().map(|r| (r.fields.cidr, r.fields.label)).collect();
    let ip = context::client_ip();
    Ok(match network::check(&ranges, ip) {
        Verdict::Outside => Some(t.network_refused(&ip.map(|ip| ip.to_string()).unwrap_or_default())),
        Verdict::Unknown => Some(t.network_unknown()),
        Verdict::Unrestricted | Verdict::Inside(_) => None,
    })
}

/// Clocks the caller in or out.
pub fn act(caller: &Caller, action: &str, input: &Value, now: i64) -> Result<Outcome> {
    let t = Text::of(caller);
    let kind = match action {
        "clock-in" => PunchKind::In,
        "clock-out" => PunchKind::Out,
        _ => return Err(Error::not_found(format!("no action {action:?} on the clock page"))),
    };
    let Some(user) = caller.user_id else {
        return Ok(Outcome::error(t.not_signed_in()));
    };
    if let Some(refusal) = network_refusal(t)? {
        return Ok(Outcome::error(refusal));
    }
    let settings = Settings::load()?;
    let position = config::position_in(input);
    match config::check_place(settings.site, position) {
        Place::Unknown => return Ok(Outcome::error(t.location_missing())),
        Place::TooFar(distance, radius) => return Ok(Outcome::error(t.location_too_far(distance, radius))),
        Place::Anywhere | Place::Within(_) => {}
    }
    let today = Today::load(caller, now)?;
    let (tz, work_date) = (&today.tz, today.work_date);
    let punch = PunchRecord {
        user_id: user,
        kind: kind.as_str().to_owned(),
        at: now,
        work_date: work_date.to_string(),
        ip: context::client_ip().map(|ip| ip.to_string()),
        lat: position.map(|p| p.lat),
        lon: position.map(|p| p.lon),
        source: "web".to_owned(),
        correction_id: None,
    };
    records::insert_typed(store::PUNCH, &punch, None)?;

    let day = today.judge(user, now)?;
    let time = zone::time_of(tz, now);
    let message = match kind {
        PunchKind::In if day.first_in == Some(now) => t.punched(kind, &time, day.late_min),
        PunchKind::In => {
            let first = day.first_in.map(|at| zone::time_on(tz, work_date, at)).unwrap_or_default();
            format!("{}{}", t.punched(kind, &time, 0), t.first_in_counts(&first))
        }
        PunchKind::Out if day.last_out == Some(now) => t.punched(kind, &time, day.early_min),
        PunchKind::Out => t.punched(kind, &time, 0),
    };
    Ok(Outcome::success(message))
}
