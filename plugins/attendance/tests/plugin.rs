//! Attendance end to end, with the test kit: each test starts a real Tessera host, installs this
//! plugin built for wasm32-wasip2, and does what people do: clock in from the clock page (from
//! 127.0.0.1, the test client's address) against the networks and the radius the admin set,
//! request leave and have the manager approve it on the workflow kernel, correct punches, and
//! download the monthly report as an XLSX file.
//!
//! Run with `cargo test -p attendance` in `plugins/`.
#![cfg(not(target_family = "wasm"))]

use std::io::{Cursor, Read};

use anyhow::{Context, Result, ensure};
use jiff::ToSpan;
use jiff::civil::{Date, Weekday};
use tessera_testkit::{Client, Method, Role, StatusCode, TestHost, TestPlugin, Value, json};

/// The refusal the test client gets from a network that excludes it.
const REFUSED_ZH: &str = "当前网络（127.0.0.1）不在允许打卡的网络范围内，请连接公司网络后再打卡。";
const REFUSED_EN: &str =
    "Your network (127.0.0.1) is not one where clocking in is allowed; connect to the office network and try again.";

async fn start() -> Result<(TestHost, TestPlugin)> {
    let host = TestHost::start().await?;
    let plugin = host.install_crate(env!("CARGO_MANIFEST_DIR")).await?;
    plugin.enable_all().await?;
    Ok((host, plugin))
}

fn blocks<'p>(page: &'p Value, kind: &str) -> Vec<&'p Value> {
    page["blocks"].as_array().map(|all| all.iter().filter(|b| b["type"] == kind).collect()).unwrap_or_default()
}

fn notices(page: &Value) -> Vec<(String, String)> {
    blocks(page, "notice")
        .iter()
        .map(|n| {
            (n["level"].as_str().unwrap_or_default().to_owned(), n["text"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

fn notice_of(outcome: &Value) -> (&str, &str) {
    (outcome["level"].as_str().unwrap_or("(no level)"), outcome["text"].as_str().unwrap_or("(no text)"))
}

/// The rows of the table whose first column is `key`, as text.
fn table_with(page: &Value, key: &str) -> Result<Vec<Vec<String>>> {
    let table = blocks(page, "table")
        .into_iter()
        .find(|t| t["columns"][0]["key"] == key)
        .with_context(|| format!("a table starting with column {key:?} in {page}"))?;
    Ok(table["rows"]
        .as_array()
        .context("rows")?
        .iter()
        .map(|row| {
            row.as_array().map(|c| c.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
        })
        .collect())
}

async fn department(host: &TestHost, name: &str) -> Result<i64> {
    let (status, body) = host.admin().post("/api/v1/departments", json!({ "name": name })).await?;
    ensure!(status == StatusCode::CREATED, "cannot make the department {name}: {status} {body}");
    body["id"].as_i64().context("a department id")
}

/// A user with a role, in a department, reporting to a manager, in a language.
async fn member(
    host: &TestHost,
    name: &str,
    role: Role,
    dept: i64,
    manager: Option<i64>,
    locale: &str,
) -> Result<Client> {
    let client = host.user(name, role).await?;
    let id = client.user_id().context("a user id")?;
    let patch = json!({ "department_id": dept, "manager_id": manager, "locale": locale });
    let (status, body) = host.admin().patch(&format!("/api/v1/users/{id}"), patch).await?;
    ensure!(status == StatusCode::OK, "cannot place {name}: {status} {body}");
    // Signed in again, so that the session carries the language.
    host.sign_in(name, tessera_testkit::USER_PASSWORD).await
}

/// The month before last in Shanghai, whose every day is judged whatever hour the tests run,
/// and its first Monday.
fn past_month() -> Result<(String, Date)> {
    let today = jiff::Zoned::now().in_tz("Asia/Shanghai")?.date();
    let first = today.first_of_month().checked_sub(2.months())?;
    let mut monday = first;
    while monday.weekday() != Weekday::Monday {
        monday = monday.tomorrow()?;
    }
    Ok((format!("{:04}-{:02}", first.year(), first.month()), monday))
}

fn weekdays_in_month(first: Date) -> Result<i64> {
    let mut day = first.first_of_month();
    let mut n = 0;
    while day.month() == first.month() {
        n += i64::from(!matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday));
        day = day.tomorrow()?;
    }
    Ok(n)
}

#[tokio::test]
async fn the_clock_page_refuses_a_network_outside_the_allowed_ranges_and_takes_one_inside() -> Result<()> {
    let (host, plugin) = start().await?;
    let sales = department(&host, "销售部").await?;
    let lei = member(&host, "lei", Role::Salesperson, sales, None, "en").await?;

    // The phone page: today's shift and two forms, clock-in and clock-out, without a location
    // field while no radius is set.
    let page = plugin.render("clock", &[]).await?;
    assert_eq!(page["title"], "打卡", "{page}");
    let forms = blocks(&page, "form");
    let submits: Vec<&str> = forms.iter().filter_map(|f| f["submit"]["name"].as_str()).collect();
    assert_eq!(submits, ["clock-in", "clock-out"], "{page}");
    assert!(forms.iter().all(|f| f["fields"].as_array().is_some_and(|fields| fields.is_empty())), "{page}");
    assert!(page.to_string().contains("标准班 Standard 09:00–18:00"), "{page}");

    // No network configured: anyone clocks in.
    let outcome = plugin.act("clock", "clock-in", None, json!({})).await?;
    let (level, text) = notice_of(&outcome);
    assert_eq!(level, "success", "{outcome}");
    assert!(text.starts_with("上班打卡成功，时间 "), "{outcome}");

    // A range that is not the test client's: refused, naming the address, in each language.
    let added = plugin.act("networks", "add-range", None, json!({ "cidr": "203.0.113.0/24", "label": "总部" })).await?;
    assert_eq!(notice_of(&added), ("success", "已添加 203.0.113.0/24。"), "{added}");
    let outcome = plugin.act("clock", "clock-out", None, json!({})).await?;
    assert_eq!(notice_of(&outcome), ("error", REFUSED_ZH), "{outcome}");
    let outcome = plugin.act_as(&lei, "clock", "clock-in", None, json!({})).await?;
    assert_eq!(notice_of(&outcome), ("error", REFUSED_EN), "{outcome}");
    let page = plugin.render_as(&lei, "clock", &[]).await?;
    assert!(notices(&page).contains(&("warning".to_owned(), REFUSED_EN.to_owned())), "{page}");

    // What is not a range is refused on its field; a salesperson cannot change the ranges.
    let bad = plugin.act("networks", "add-range", None, json!({ "cidr": "192.168.1.7/24" })).await?;
    assert_eq!(bad["type"], "invalid", "{bad}");
    assert!(bad["errors"]["cidr"].as_str().is_some_and(|m| m.contains("192.168.1.0/24")), "{bad}");
    let (status, _) = lei
        .post(
            "/api/v1/plugins/attendance/pages/networks/actions/add-range",
            json!({ "input": { "cidr": "127.0.0.0/8" } }),
        )
        .await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "the networks page is for administrators");

    // The office's range includes the test client: allowed.
    let added = plugin.act("networks", "add-range", None, json!({ "cidr": "127.0.0.0/8", "label": "本机" })).await?;
    assert_eq!(notice_of(&added).0, "success", "{added}");
    let outcome = plugin.act_as(&lei, "clock", "clock-in", None, json!({})).await?;
    let (level, text) = notice_of(&outcome);
    assert_eq!(level, "success", "{outcome}");
    assert!(text.starts_with("Clocked in at "), "{outcome}");
    let page = plugin.render("networks", &[]).await?;
    assert!(notices(&page).iter().any(|(_, t)| t == "您当前的地址 127.0.0.1 在「本机」范围内。"), "{page}");

    // Lei's punch is on lei's clock page, with its time.
    let page = plugin.render_as(&lei, "clock", &[]).await?;
    let rows = table_with(&page, "time")?;
    assert_eq!(rows.len(), 1, "{page}");
    assert_eq!(rows[0][1], "Clock-in", "{page}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn with_a_radius_the_clock_needs_a_position_near_the_workplace() -> Result<()> {
    let (host, plugin) = start().await?;
    plugin.set_settings(json!({ "site_lat": 31.2304, "site_lon": 121.4737, "radius_m": 200 })).await?;

    let page = plugin.render("clock", &[]).await?;
    for form in blocks(&page, "form") {
        assert_eq!(form["fields"][0]["name"], "location", "{page}");
        assert_eq!(form["fields"][0]["kind"], "location", "{page}");
    }
    let outcome = plugin.act("clock", "clock-in", None, json!({})).await?;
    assert_eq!(
        notice_of(&outcome),
        ("error", "未获取到您的位置。打卡需要定位，请允许浏览器获取位置后再打卡。"),
        "{outcome}"
    );
    // About 1.1 km north.
    let far = json!({ "location": { "lat": 31.2404, "lon": 121.4737, "accuracy-m": 20 } });
    let outcome = plugin.act("clock", "clock-in", None, far).await?;
    let (level, text) = notice_of(&outcome);
    assert_eq!(level, "error", "{outcome}");
    assert!(text.starts_with("您距离打卡地点约 11") && text.ends_with("米，超出允许打卡的 200 米范围。"), "{outcome}");
    let near = json!({ "location": { "lat": 31.2310, "lon": 121.4737, "accuracy-m": 20 } });
    let outcome = plugin.act("clock", "clock-in", None, near).await?;
    assert_eq!(notice_of(&outcome).0, "success", "{outcome}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn leave_is_approved_by_the_manager_on_the_workflow_kernel() -> Result<()> {
    let (host, plugin) = start().await?;
    let sales = department(&host, "销售部").await?;
    let boss = member(&host, "boss", Role::SalesManager, sales, None, "zh-CN").await?;
    let mei = member(&host, "mei", Role::Salesperson, sales, boss.user_id(), "zh-CN").await?;
    let (month, monday) = past_month()?;

    // A day's leave on a Monday of that month: eight working hours of the standard shift.
    let request = json!({
        "kind": "annual",
        "starts_at": format!("{monday}T09:00"),
        "ends_at": format!("{monday}T18:00"),
        "reason": "家中有事",
    });
    let outcome = plugin.act_as(&mei, "leave", "request-leave", None, request).await?;
    assert_eq!(notice_of(&outcome), ("success", "请假申请已提交审批，可在「审批」中查看进度。"), "{outcome}");
    let page = plugin.render_as(&mei, "leave", &[]).await?;
    let rows = table_with(&page, "kind")?;
    assert_eq!(
        rows[0][0..5],
        ["年假", format!("{monday} 09:00").as_str(), format!("{monday} 18:00").as_str(), "8.0", "审批中"],
        "{page}"
    );

    // A leave with no working hours in it is refused on its field.
    let saturday = monday.checked_sub(2.days())?;
    let weekend = json!({ "kind": "personal", "starts_at": format!("{saturday}T09:00"), "ends_at": format!("{saturday}T18:00"), "reason": "x" });
    let outcome = plugin.act_as(&mei, "leave", "request-leave", None, weekend).await?;
    assert_eq!(outcome["type"], "invalid", "{outcome}");

    // The manager finds it in the approvals inbox and approves it.
    let (status, inbox) = boss.get("/api/v1/approvals/inbox").await?;
    ensure!(status == StatusCode::OK, "{status} {inbox}");
    let items = inbox["items"].as_array().context("items")?;
    assert_eq!(items.len(), 1, "{inbox}");
    assert!(items[0]["title"].as_str().is_some_and(|t| t.starts_with("请假：mei · 年假")), "{inbox}");
    let approval = items[0]["id"].as_i64().context("an approval id")?;
    let (status, body) =
        boss.post(&format!("/api/v1/approvals/{approval}/approve"), json!({ "comment": "同意" })).await?;
    ensure!(status == StatusCode::OK, "{status} {body}");

    // The workflow.completed event marks the request approved, and the day a leave day.
    host.wait_for(|| async {
        let page = plugin.render_as(&mei, "leave", &[]).await?;
        Ok(table_with(&page, "kind")?.first().is_some_and(|row| row[4] == "已批准").then_some(()))
    })
    .await?;
    let page = plugin.render_as(&mei, "mine", &[("month", &month)]).await?;
    let rows = table_with(&page, "date")?;
    let day = rows.iter().find(|r| r[0] == monday.to_string()).with_context(|| format!("{monday} in {page}"))?;
    assert_eq!(day[5], "请假", "{page}");
    // Her other working days of that month were absent; the leave day is not.
    let stats = blocks(&page, "stats");
    let absent = stats[0]["items"]
        .as_array()
        .context("stat items")?
        .iter()
        .find(|s| s["label"] == "缺勤天数")
        .context("absent")?;
    assert_eq!(absent["value"], (weekdays_in_month(monday)? - 1).to_string(), "{page}");
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn corrections_leave_an_audit_trail_and_the_report_downloads_as_xlsx() -> Result<()> {
    let (host, plugin) = start().await?;
    let research = department(&host, "研发部").await?;
    let sales = department(&host, "销售部").await?;
    let wang = member(&host, "wang", Role::Salesperson, research, None, "zh-CN").await?;
    let lei = member(&host, "lei", Role::Salesperson, sales, None, "zh-CN").await?;
    let wang_id = wang.user_id().context("wang")?;
    let (month, monday) = past_month()?;

    // Wang forgot to clock in and out on a Monday of that month: the admin corrects both.
    let correct = |kind: &str, time: &str| json!({ "user_id": wang_id, "work_date": monday.to_string(), "kind": kind, "time": time, "reason": "忘记打卡" });
    let outcome = plugin.act("team", "correct", None, correct("in", "09:20")).await?;
    assert_eq!(notice_of(&outcome), ("success", &*format!("已将 wang {monday} 的上班打卡更正为 09:20。")), "{outcome}");
    plugin.act("team", "correct", None, correct("out", "18:20")).await?;
    // Corrected again: the latest correction counts, and the trail says what it replaced.
    plugin.act("team", "correct", None, correct("in", "08:58")).await?;
    let missing_reason =
        json!({ "user_id": wang_id, "work_date": monday.to_string(), "kind": "in", "time": "09:00", "reason": " " });
    let outcome = plugin.act("team", "correct", None, missing_reason).await?;
    assert_eq!(outcome["type"], "invalid", "{outcome}");

    let page = plugin.render("team", &[("department", &research.to_string()), ("month", &month)]).await?;
    let trail = table_with(&page, "when")?;
    assert_eq!(trail.len(), 3, "{page}");
    assert_eq!(
        trail[0][1..7],
        ["wang", monday.to_string().as_str(), "上班", "08:58", "09:20（更正）", "忘记打卡"],
        "{page}"
    );
    assert_eq!(trail[2][4..6], ["09:20", "未打卡"], "{page}");
    assert_eq!(trail[0][7], "Administrator", "{page}");
    let wang_mine = plugin.render_as(&wang, "mine", &[("month", &month)]).await?;
    let rows = table_with(&wang_mine, "date")?;
    let day = rows.iter().find(|r| r[0] == monday.to_string()).context("the corrected day")?;
    assert_eq!(day[3..6], ["08:58", "18:20", "正常"], "{wang_mine}");

    // The report page: stats, a chart per person, a row per person, and the export action.
    let page = plugin.render("report", &[("department", &research.to_string()), ("month", &month)]).await?;
    let chart = blocks(&page, "chart");
    assert_eq!(chart[0]["labels"], json!(["wang"]), "{page}");
    let export = blocks(&page, "actions")[0]["items"][0].clone();
    assert_eq!(export["name"], "export", "{page}");
    let outcome = plugin.act("report", "export", export["argument"].as_str(), json!({})).await?;
    let link = format!("/api/plugins/attendance/report.xlsx?month={month}&department={research}");
    assert_eq!(outcome["to"], link, "{outcome}");

    // The download: a real XLSX with wang's month.
    let response = host.admin().request(Method::GET, &link).send().await?;
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(header("content-type"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    assert_eq!(header("content-disposition"), format!("attachment; filename=\"attendance-{month}.xlsx\""));
    let bytes = response.bytes().await?;
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes.to_vec()))?;
    let mut sheet = String::new();
    archive.by_name("xl/worksheets/sheet1.xml")?.read_to_string(&mut sheet)?;
    let working = weekdays_in_month(monday)?;
    let cell = |text: &str| format!("<t xml:space=\"preserve\">{text}</t>");
    assert!(
        sheet.contains(&cell("姓名")) && sheet.contains(&cell("wang")) && sheet.contains(&cell("研发部")),
        "{sheet}"
    );
    // Working days, attended, then late (none: 08:58), and the absent days.
    assert!(
        sheet.contains(&format!("<c r=\"C2\"><v>{working}</v></c><c r=\"D2\"><v>1</v></c><c r=\"E2\"><v>0</v></c>")),
        "{sheet}"
    );
    assert!(sheet.contains(&format!("<c r=\"I2\"><v>{}</v></c>", working - 1)), "{sheet}");
    assert!(!sheet.contains(&cell("lei")), "lei is in another department: {sheet}");

    // Lei may not download the research department's report, but their own.
    let (status, body) = lei.get(&link).await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let own = format!("/api/plugins/attendance/report.xlsx?month={month}");
    let response = lei.request(Method::GET, &own).send().await?;
    assert_eq!(response.status(), StatusCode::OK);
    host.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_holiday_and_a_make_up_day_change_the_working_days() -> Result<()> {
    let (host, plugin) = start().await?;
    let (month, monday) = past_month()?;
    let saturday = monday.checked_sub(2.days())?;
    let added = plugin
        .act("calendar", "add-day", None, json!({ "date": monday.to_string(), "kind": "holiday", "name": "公司假日" }))
        .await?;
    assert_eq!(notice_of(&added).0, "success", "{added}");
    let again =
        plugin.act("calendar", "add-day", None, json!({ "date": monday.to_string(), "kind": "workday" })).await?;
    assert_eq!(again["type"], "invalid", "one entry per date: {again}");
    if saturday.month() == monday.month() {
        plugin
            .act(
                "calendar",
                "add-day",
                None,
                json!({ "date": saturday.to_string(), "kind": "workday", "name": "调休" }),
            )
            .await?;
    }
    let page = plugin.render("mine", &[("month", &month)]).await?;
    let rows = table_with(&page, "date")?;
    let holiday = rows.iter().find(|r| r[0] == monday.to_string()).context("the holiday")?;
    assert_eq!(holiday[2], "节假日（公司假日）", "{page}");
    let stats = blocks(&page, "stats");
    let working = stats[0]["items"][0]["value"].as_str().context("working days")?.parse::<i64>()?;
    let make_up = i64::from(saturday.month() == monday.month());
    assert_eq!(working, weekdays_in_month(monday)? - 1 + make_up, "{page}");
    if make_up == 1 {
        let row = rows.iter().find(|r| r[0] == saturday.to_string()).context("the make-up day")?;
        assert_eq!(row[2], "调休上班（调休）", "{page}");
    }

    // Shifts: a night shift for the organisation is accepted, a 20-hour one is not.
    let night = json!({ "name": "夜班", "start_time": "22:00", "end_time": "06:00", "late_grace_min": 10, "early_grace_min": 10, "break_min": 30,
        "department_id": "", "mon": true, "tue": true, "wed": true, "thu": true, "fri": true, "sat": false, "sun": false });
    let outcome = plugin.act("shifts", "add-shift", None, night).await?;
    assert_eq!(notice_of(&outcome), ("success", "已添加班次 夜班（22:00–06:00）。"), "{outcome}");
    let long = json!({ "name": "长班", "start_time": "06:00", "end_time": "02:00", "mon": true });
    let outcome = plugin.act("shifts", "add-shift", None, long).await?;
    assert_eq!(outcome["type"], "invalid", "{outcome}");
    let page = plugin.render("clock", &[]).await?;
    assert!(page.to_string().contains("夜班 22:00–06:00"), "{page}");
    host.stop().await;
    Ok(())
}
