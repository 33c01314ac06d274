//! Leave (`leave`, 请假) and overtime (`overtime`, 加班) requests, approved on the host's workflow
//! kernel under the definitions the manifest declares (`attendance-leave`,
//! `attendance-overtime`), and the `workflow.completed` event that records the outcome.
//!
//! A request is stored `pending`, its approval started with the fields the definition's steps
//! compare (`hours`, `minutes`, `kind`), and its approval's id kept. When the approval
//! finishes, the event sets the status to `approved`, `rejected` or `withdrawn`, once: a
//! redelivered event finds the status set and does nothing, and the requester is told once.

use serde::Deserialize;
use serde_json::{Value, json};
use tessera_sdk::events::Event;
use tessera_sdk::notify::{self, Message};
use tessera_sdk::records::{self, Query, Typed};
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, Table};
use tessera_sdk::{Caller, Error, Id, Result, log, workflow};

use crate::access;
use crate::ledger::{Context, time_error};
use crate::rules::{self, Span};
use crate::store::{self, LeaveRecord, OvertimeRecord};
use crate::text::Text;
use crate::zone;

/// The approval definitions of the manifest's `[[approvals]]`.
pub const LEAVE_DEFINITION: &str = "attendance-leave";
pub const OVERTIME_DEFINITION: &str = "attendance-overtime";

/// The leave kinds people choose from.
pub const LEAVE_KINDS: [&str; 8] =
    ["annual", "sick", "personal", "compensatory", "marriage", "maternity", "paternity", "bereavement"];

/// The longest leave one request takes, and the longest overtime.
const MAX_LEAVE_DAYS: i64 = 31;
const MAX_OVERTIME_MIN: i64 = 16 * 60;
/// How many of their requests people see.
const LISTED: u32 = 50;
const DAY_MS: i64 = 86_400_000;

fn text_of(input: &Value, key: &str) -> String {
    input.get(key).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned()
}

// ----- Leave -----

/// Draws the leave page: the request form and the caller's requests.
pub fn render_leave(caller: &Caller) -> Result<Page> {
    let t = Text::of(caller);
    let user = access::user_id(caller)?;
    let tz = zone::org_zone();
    let kinds: Vec<(String, String)> = LEAVE_KINDS.iter().map(|k| (k.to_string(), t.leave_kind(k))).collect();
    let page = Page::new(t.pick("请假", "Leave"))
        .form(
            Form::new(Action::primary("request-leave", t.pick("提交请假申请", "Request leave")))
                .field(Field::select("kind", t.pick("请假类型", "Kind"), kinds).required().value("annual"))
                .field(Field::datetime("starts_at", t.pick("开始时间", "From")).required())
                .field(Field::datetime("ends_at", t.pick("结束时间", "Until")).required())
                .field(Field::textarea("reason", t.pick("事由", "Reason")).required()),
        )
        .text(t.pick(
            "时长按班次的工作时间计算（不含休息日、节假日和午休）。审批进度请在「审批」中查看。",
            "The hours are the working hours of your shift the leave covers (rest days, holidays and breaks are not counted). Follow the approval under Approvals.",
        ))
        .heading(t.pick("我的请假", "My leave requests"));
    let (mine, _) = records::find_typed::<LeaveRecord>(
        &Query::new(store::LEAVE).eq("user_id", user).order_by("starts_at").descending(true).limit(LISTED),
    )?;
    if mine.is_empty() {
        return Ok(page.notice("info", t.pick("还没有请假申请。", "No leave requests yet.")));
    }
    let table = Table::new()
        .column("kind", t.pick("类型", "Kind"))
        .column("from", t.pick("开始", "From"))
        .column("until", t.pick("结束", "Until"))
        .column("hours", t.pick("小时", "Hours"))
        .column("status", t.pick("状态", "Status"))
        .column("reason", t.pick("事由", "Reason"));
    Ok(page.table(mine.iter().fold(table, |table, r| {
        let f = &r.fields;
        table.row(
            r.id.to_string(),
            [
                t.leave_kind(&f.kind),
                zone::datetime_of(&tz, f.starts_at),
                zone::datetime_of(&tz, f.ends_at),
                t.hours(f.minutes),
                t.status(&f.status),
                f.reason.clone(),
            ],
        )
    })))
}

/// Submits a leave request.
pub fn request_leave(caller: &Caller, input: &Value) -> Result<Outcome> {
    let t = Text::of(caller);
    let me = access::me(caller)?.ok_or_else(|| Error::denied("the caller is not a user of the organisation"))?;
    let tz = zone::org_zone();
    let kind = text_of(input, "kind");
    let starts = zone::parse_local_datetime(&tz, &text_of(input, "starts_at"));
    let ends = zone::parse_local_datetime(&tz, &text_of(input, "ends_at"));
    let reason = text_of(input, "reason");
    let mut errors = Vec::new();
    if !LEAVE_KINDS.contains(&kind.as_str()) {
        errors.push(("kind", t.pick("请选择请假类型。", "Choose the kind of leave.")));
    }
    if starts.is_none() {
        errors.push(("starts_at", t.pick("请填写开始时间。", "Give the start.")));
    }
    match (starts, ends) {
        (_, None) => errors.push(("ends_at", t.pick("请填写结束时间。", "Give the end."))),
        (Some(s), Some(e)) if e <= s => {
            errors.push(("ends_at", t.pick("结束时间须晚于开始时间。", "The end must be after the start.")))
        }
        (Some(s), Some(e)) if e - s > MAX_LEAVE_DAYS * DAY_MS => {
            errors.push(("ends_at", t.pick("一次请假最长 31 天。", "One request covers at most 31 days.")))
        }
        _ => {}
    }
    if reason.is_empty() || reason.chars().count() > 500 {
        errors.push(("reason", t.pick("请填写事由（最多 500 字）。", "Give a reason (at most 500 characters).")));
    }
    let (Some(starts), Some(ends), true) = (starts, ends, errors.is_empty()) else {
        return Ok(Outcome::invalid(errors));
    };
    let first = rules::local_date(&tz, starts).map_err(time_error)?;
    let last = rules::local_date(&tz, ends).map_err(time_error)?;
    let ctx = Context::load(first, last)?;
    let shift = ctx.shift_of(me.department_id);
    let rule = shift.rule().ok_or_else(|| Error::invalid("the shift's times do not read"))?;
    let minutes = rules::leave_minutes(&tz, &rule, &ctx.calendar, Span::new(starts, ends)).map_err(time_error)?;
    if minutes == 0 {
        return Ok(Outcome::invalid([(
            "ends_at",
            t.pick("所选时间内没有需要出勤的工作时间。", "The time chosen holds no working hours of your shift."),
        )]));
    }
    let record = LeaveRecord {
        user_id: me.id,
        kind: kind.clone(),
        starts_at: starts,
        ends_at: ends,
        minutes,
        reason: reason.clone(),
        status: "pending".to_owned(),
        approval_id: None,
    };
    let stored = records::insert_typed(store::LEAVE, &record, None)?;
    let (from, until) = (zone::datetime_of(&tz, starts), zone::datetime_of(&tz, ends));
    let title = if t.is_english() {
        format!("Leave: {} · {} · {from} – {until} ({} h)", me.name, t.leave_kind(&kind), t.hours(minutes))
    } else {
        format!("请假：{} · {} · {from} 至 {until}（{} 小时）", me.name, t.leave_kind(&kind), t.hours(minutes))
    };
    let fields = json!({
        "kind": kind,
        "minutes": minutes,
        "hours": minutes as f64 / 60.0,
        "starts_at": from,
        "ends_at": until,
        "reason": reason,
    });
    submit(t, store::LEAVE, LEAVE_DEFINITION, stored.id, &title, &fields, &t.pick("请假", "leave"))
}

/// Starts the approval of a stored request; a request the workflow refuses is taken back.
fn submit(t: Text, entity: &str, definition: &str, id: Id, title: &str, fields: &Value, what: &str) -> Result<Outcome> {
    match workflow::start(definition, entity, id, title, &fields.to_string(), None) {
        Ok(approval) => {
            records::update(entity, id, &json!({ "approval_id": approval.id }).to_string(), None)?;
            Ok(Outcome::success(t.request_submitted(what)))
        }
        Err(e @ (Error::Invalid(_) | Error::Denied(_) | Error::NotFound(_))) => {
            records::delete(entity, id)?;
            log::warn(format!("{definition}: the approval of {entity} {id} did not start: {e}"));
            Ok(Outcome::error(t.request_not_submitted(e.message())))
        }
        Err(e) => {
            records::delete(entity, id)?;
            Err(e)
        }
    }
}

// ----- Overtime -----

/// Draws the overtime page.
pub fn render_overtime(caller: &Caller) -> Result<Page> {
    let t = Text::of(caller);
    let user = access::user_id(caller)?;
    let tz = zone::org_zone();
    let page = Page::new(t.pick("加班", "Overtime"))
        .form(
            Form::new(Action::primary("request-overtime", t.pick("提交加班申请", "Request overtime")))
                .field(Field::datetime("starts_at", t.pick("开始时间", "From")).required())
                .field(Field::datetime("ends_at", t.pick("结束时间", "Until")).required())
                .field(Field::textarea("reason", t.pick("事由", "Reason")).required()),
        )
        .text(t.pick(
            "加班以打卡为准：已批准的加班时段内，下班打卡晚于班次结束（或休息日上下班打卡之间）的时间计为加班。",
            "Overtime counts as far as the punches show it: the time after the shift's end (or, on a rest day, between clocking in and out) that an approved request covers.",
        ))
        .heading(t.pick("我的加班", "My overtime requests"));
    let (mine, _) = records::find_typed::<OvertimeRecord>(
        &Query::new(store::OVERTIME).eq("user_id", user).order_by("starts_at").descending(true).limit(LISTED),
    )?;
    if mine.is_empty() {
        return Ok(page.notice("info", t.pick("还没有加班申请。", "No overtime requests yet.")));
    }
    let table = Table::new()
        .column("date", t.pick("考勤日期", "Work date"))
        .column("from", t.pick("开始", "From"))
        .column("until", t.pick("结束", "Until"))
        .column("hours", t.pick("小时", "Hours"))
        .column("status", t.pick("状态", "Status"))
        .column("reason", t.pick("事由", "Reason"));
    Ok(page.table(mine.iter().fold(table, |table, r| {
        let f = &r.fields;
        table.row(
            r.id.to_string(),
            [
                f.date.clone(),
                zone::datetime_of(&tz, f.starts_at),
                zone::datetime_of(&tz, f.ends_at),
                t.hours(f.minutes),
                t.status(&f.status),
                f.reason.clone(),
            ],
        )
    })))
}

/// Submits an overtime request.
pub fn request_overtime(caller: &Caller, input: &Value) -> Result<Outcome> {
    let t = Text::of(caller);
    let me = access::me(caller)?.ok_or_else(|| Error::denied("the caller is not a user of the organisation"))?;
    let tz = zone::org_zone();
    let starts = zone::parse_local_datetime(&tz, &text_of(input, "starts_at"));
    let ends = zone::parse_local_datetime(&tz, &text_of(input, "ends_at"));
    let reason = text_of(input, "reason");
    let mut errors = Vec::new();
    if starts.is_none() {
        errors.push(("starts_at", t.pick("请填写开始时间。", "Give the start.")));
    }
    match (starts, ends) {
        (_, None) => errors.push(("ends_at", t.pick("请填写结束时间。", "Give the end."))),
        (Some(s), Some(e)) if e <= s => {
            errors.push(("ends_at", t.pick("结束时间须晚于开始时间。", "The end must be after the start.")))
        }
        (Some(s), Some(e)) if (e - s) / 60_000 > MAX_OVERTIME_MIN => {
            errors.push(("ends_at", t.pick("一次加班最长 16 小时。", "One request covers at most 16 hours.")))
        }
        _ => {}
    }
    if reason.is_empty() || reason.chars().count() > 500 {
        errors.push(("reason", t.pick("请填写事由（最多 500 字）。", "Give a reason (at most 500 characters).")));
    }
    let (Some(starts), Some(ends), true) = (starts, ends, errors.is_empty()) else {
        return Ok(Outcome::invalid(errors));
    };
    let day = rules::local_date(&tz, starts).map_err(time_error)?;
    let ctx = Context::load(day, day)?;
    let rule = ctx.shift_of(me.department_id).rule().ok_or_else(|| Error::invalid("the shift's times do not read"))?;
    let work_date = rules::work_date_of(&tz, &rule, starts).map_err(time_error)?;
    let minutes = (ends - starts) / 60_000;
    let record = OvertimeRecord {
        user_id: me.id,
        date: work_date.to_string(),
        starts_at: starts,
        ends_at: ends,
        minutes,
        reason: reason.clone(),
        status: "pending".to_owned(),
        approval_id: None,
    };
    let stored = records::insert_typed(store::OVERTIME, &record, None)?;
    let (from, until) = (zone::datetime_of(&tz, starts), zone::datetime_of(&tz, ends));
    let title = if t.is_english() {
        format!("Overtime: {} · {from} – {until} ({} h)", me.name, t.hours(minutes))
    } else {
        format!("加班：{} · {from} 至 {until}（{} 小时）", me.name, t.hours(minutes))
    };
    let fields = json!({
        "date": work_date.to_string(),
        "minutes": minutes,
        "hours": minutes as f64 / 60.0,
        "starts_at": from,
        "ends_at": until,
        "reason": reason,
    });
    submit(t, store::OVERTIME, OVERTIME_DEFINITION, stored.id, &title, &fields, &t.pick("加班", "overtime"))
}

// ----- Outcomes -----

/// The part of a `workflow.completed` payload the plugin reads.
#[derive(Debug, Deserialize)]
struct Completed {
    instance_id: Id,
    subject_type: String,
    subject_id: Id,
    outcome: String,
}

/// The request's status after an approval's outcome; none for outcomes that are not final.
fn status_after(outcome: &str) -> Option<&'static str> {
    match outcome {
        "approved" => Some("approved"),
        "rejected" => Some("rejected"),
        "withdrawn" => Some("withdrawn"),
        _ => None,
    }
}

/// Records the outcome of an approval of a request; other approvals are not the plugin's.
pub fn on_completed(event: &Event) -> Result<()> {
    let completed: Completed = event.payload_as()?;
    let (entity, what) = match completed.subject_type.as_str() {
        "attendance:leave_request" => (store::LEAVE, ("请假", "leave")),
        "attendance:overtime_request" => (store::OVERTIME, ("加班", "overtime")),
        _ => return Ok(()),
    };
    let Some(status) = status_after(&completed.outcome) else {
        return Ok(());
    };
    let record = match records::get(entity, completed.subject_id) {
        Ok(record) => record,
        // Taken back because its approval did not start, or deleted since.
        Err(Error::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let current: Typed<Value> = record.into_typed()?;
    if current.fields.get("approval_id").and_then(Value::as_i64).is_some_and(|a| a != completed.instance_id) {
        log::warn(format!("{entity} {}: approval {} is not its own", current.id, completed.instance_id));
        return Ok(());
    }
    if current.fields.get("status").and_then(Value::as_str) == Some(status) {
        return Ok(());
    }
    let patch = json!({ "status": status, "approval_id": completed.instance_id });
    records::update(entity, current.id, &patch.to_string(), Some(current.version))?;
    if let Some(user) = current.owner_id.or_else(|| current.fields.get("user_id").and_then(Value::as_i64)) {
        let t = Text::new(false);
        let message = Message {
            title: format!(
                "{} / {}",
                t.request_decided(what.0, status),
                Text::new(true).request_decided(what.1, status)
            ),
            body: current.fields.get("reason").and_then(Value::as_str).unwrap_or_default().to_owned(),
            link: Some(format!("/p/attendance/{}", if entity == store::LEAVE { "leave" } else { "overtime" })),
        };
        if let Err(e) = notify::push(&[user], &message) {
            log::warn(format!("could not tell user {user} about {entity} {}: {e}", current.id));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_final_outcomes_change_a_request() {
        assert_eq!(status_after("approved"), Some("approved"));
        assert_eq!(status_after("rejected"), Some("rejected"));
        assert_eq!(status_after("withdrawn"), Some("withdrawn"));
        assert_eq!(status_after("returned"), None);
        assert_eq!(status_after("pending"), None);
    }

    #[test]
    fn the_completed_payload_reads() {
        let payload = r#"{"instance_id": 7, "definition_id": 2, "subject_type": "attendance:leave_request",
            "subject_id": 41, "title": "请假", "outcome": "approved", "step": null}"#;
        let c: Completed = serde_json::from_str(payload).expect("the payload");
        assert_eq!((c.instance_id, c.subject_id, c.outcome.as_str()), (7, 41, "approved"));
    }
}
