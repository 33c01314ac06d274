//! Every string the plugin shows people, in Chinese and English, chosen by the caller's locale;
//! and the one line each call leaves on its customer's timeline, which carries both languages
//! because everyone reads the same timeline.
//!
//! Webhooks run without a user and in Chinese (the host's default), so the popups and missed-call
//! notices they send are in Chinese; what a signed-in user does is answered in their language.
//! The JSON the webhook answers to the PBX is for machines and their admins, in English.

use tessera_sdk::Caller;

use crate::call::{Source, Status};

/// The timeline line of a call: `来电 138 1234 5678 · 未接 (incoming call, missed)`.
pub fn summary(number: &str, status: Status, duration_s: Option<i64>) -> String {
    let (zh, en) = match status {
        Status::Ringing => ("响铃中".to_owned(), "ringing".to_owned()),
        Status::Answered => ("已接通".to_owned(), "answered".to_owned()),
        Status::Missed => ("未接".to_owned(), "missed".to_owned()),
        Status::Ended => {
            let seconds = duration_s.unwrap_or(0);
            (
                format!("通话 {}", Text::new(false).duration(seconds)),
                format!("talked {}", Text::new(true).duration(seconds)),
            )
        }
    };
    format!("来电 {number} · {zh} (incoming call, {en})")
}

/// The strings of one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    en: bool,
}

impl Text {
    /// English when `en`, else Chinese.
    pub fn new(en: bool) -> Text {
        Text { en }
    }

    /// The caller's language: English for `en`, Chinese otherwise.
    pub fn of(caller: &Caller) -> Text {
        Text::new(caller.is_english())
    }

    fn pick(self, zh: &str, en: &str) -> String {
        if self.en { en } else { zh }.to_owned()
    }

    /// Items in a row: `a、b` / `a, b`.
    pub fn list(self, items: &[&str]) -> String {
        items.join(if self.en { ", " } else { "、" })
    }

    /// `2 分 05 秒` / `2 min 05 s`; hours when the call was that long.
    pub fn duration(self, seconds: i64) -> String {
        let s = seconds.max(0);
        let (h, m, s) = (s / 3600, s % 3600 / 60, s % 60);
        match (self.en, h > 0, m > 0) {
            (false, true, _) => format!("{h} 小时 {m:02} 分 {s:02} 秒"),
            (false, false, true) => format!("{m} 分 {s:02} 秒"),
            (false, false, false) => format!("{s} 秒"),
            (true, true, _) => format!("{h} h {m:02} min {s:02} s"),
            (true, false, true) => format!("{m} min {s:02} s"),
            (true, false, false) => format!("{s} s"),
        }
    }

    pub fn status(self, status: Status) -> String {
        match status {
            Status::Ringing => self.pick("响铃中", "Ringing"),
            Status::Answered => self.pick("已接通", "Answered"),
            Status::Missed => self.pick("未接", "Missed"),
            Status::Ended => self.pick("已结束", "Ended"),
        }
    }

    pub fn source(self, source: Source) -> String {
        match source {
            Source::Webhook => self.pick("接口推送", "Webhook"),
            Source::Asterisk => "Asterisk".to_owned(),
            Source::Freeswitch => "FreeSWITCH".to_owned(),
            Source::Driver => self.pick("设备驱动", "Device driver"),
            Source::Simulated => self.pick("模拟", "Simulated"),
        }
    }

    /// An activity's kind (`call`, `visit`, …) as people say it.
    pub fn activity_kind(self, kind: &str) -> String {
        match kind {
            "call" => self.pick("电话", "Call"),
            "visit" => self.pick("拜访", "Visit"),
            "email" => self.pick("邮件", "Email"),
            "meeting" => self.pick("会议", "Meeting"),
            "note" => self.pick("备注", "Note"),
            other => other.to_owned(),
        }
    }

    // ----- Shared labels -----

    pub fn time(self) -> String {
        self.pick("时间", "Time")
    }
    pub fn number(self) -> String {
        self.pick("来电号码", "Number")
    }
    pub fn customer(self) -> String {
        self.pick("客户", "Customer")
    }
    pub fn agent(self) -> String {
        self.pick("坐席", "Agent")
    }
    pub fn extension(self) -> String {
        self.pick("分机", "Extension")
    }
    pub fn status_label(self) -> String {
        self.pick("状态", "Status")
    }
    pub fn duration_label(self) -> String {
        self.pick("通话时长", "Duration")
    }
    pub fn source_label(self) -> String {
        self.pick("来源", "Source")
    }
    pub fn logged_label(self) -> String {
        self.pick("通话记录", "Logged")
    }
    pub fn logged_yes(self) -> String {
        self.pick("已记录", "Logged")
    }
    pub fn unknown_number(self) -> String {
        self.pick("未知号码", "Unknown number")
    }
    pub fn several_customers(self, n: i64) -> String {
        if self.en { format!("{n} customers") } else { format!("{n} 个客户") }
    }
    pub fn nobody(self) -> String {
        self.pick("未分配", "Nobody")
    }
    pub fn filter(self) -> String {
        self.pick("筛选", "Filter")
    }
    pub fn open(self) -> String {
        self.pick("查看", "Open")
    }
    pub fn called_back(self) -> String {
        self.pick("已回电", "Called back")
    }
    pub fn delete(self) -> String {
        self.pick("删除", "Delete")
    }

    // ----- The popup -----

    pub fn popup_title(self) -> String {
        self.pick("来电", "Incoming call")
    }
    /// The popup's heading and the notification's title.
    pub fn incoming(self, number: &str) -> String {
        if self.en { format!("Incoming call {number}") } else { format!("来电 {number}") }
    }
    pub fn ringing_notice(self) -> String {
        self.pick("正在响铃……", "Ringing…")
    }
    pub fn answered_notice(self, at: &str) -> String {
        if self.en { format!("In progress, answered at {at}") } else { format!("通话中，{at} 接通") }
    }
    pub fn missed_notice(self, at: &str) -> String {
        if self.en { format!("Missed call, rang at {at}") } else { format!("未接来电，{at} 响铃") }
    }
    pub fn ended_notice(self, duration: &str) -> String {
        if self.en {
            format!("The call ended after {duration}")
        } else {
            format!("通话已结束，时长 {duration}")
        }
    }
    pub fn popup_body_customer(self, name: &str) -> String {
        if self.en { format!("Customer: {name}") } else { format!("客户：{name}") }
    }
    pub fn popup_body_contact(self, name: &str) -> String {
        if self.en { format!("Contact: {name}") } else { format!("联系人：{name}") }
    }
    pub fn popup_body_several(self, n: i64) -> String {
        if self.en {
            format!("{n} customers have this number: choose one")
        } else {
            format!("{n} 个客户使用此号码，请选择")
        }
    }
    pub fn missed_title(self, number: &str) -> String {
        if self.en { format!("Missed call from {number}") } else { format!("未接来电 {number}") }
    }

    // The customer card.
    pub fn card_heading(self) -> String {
        self.pick("客户资料", "Customer")
    }
    pub fn name(self) -> String {
        self.pick("名称", "Name")
    }
    pub fn code(self) -> String {
        self.pick("编号", "Code")
    }
    pub fn level(self) -> String {
        self.pick("级别", "Level")
    }
    pub fn customer_status(self) -> String {
        self.pick("客户状态", "Status")
    }
    pub fn owner(self) -> String {
        self.pick("负责人", "Owner")
    }
    pub fn no_owner(self) -> String {
        self.pick("无负责人", "No owner")
    }
    pub fn phones(self) -> String {
        self.pick("电话", "Phones")
    }
    pub fn contact(self) -> String {
        self.pick("联系人", "Contact")
    }
    pub fn open_customer(self) -> String {
        self.pick("打开客户", "Open customer")
    }
    pub fn customer_hidden(self) -> String {
        self.pick("此来电已关联到一位您无权查看的客户。", "This call belongs to a customer you may not see.")
    }

    // Last activities.
    pub fn activities_heading(self) -> String {
        self.pick("最近跟进", "Last activities")
    }
    pub fn kind(self) -> String {
        self.pick("方式", "Kind")
    }
    pub fn content(self) -> String {
        self.pick("内容", "Content")
    }
    pub fn result(self) -> String {
        self.pick("结果", "Result")
    }
    pub fn no_activities(self) -> String {
        self.pick("还没有跟进记录。", "No activities yet.")
    }

    // Open items.
    pub fn open_items_heading(self) -> String {
        self.pick("待办", "Open items")
    }
    pub fn next_follow_up(self) -> String {
        self.pick("下次跟进", "Next follow-up")
    }
    pub fn overdue(self, date: &str) -> String {
        if self.en { format!("{date} (overdue)") } else { format!("{date}（已逾期）") }
    }
    pub fn not_scheduled(self) -> String {
        self.pick("未安排", "Not scheduled")
    }
    pub fn earlier_missed(self) -> String {
        self.pick("此号码未处理的未接来电", "Missed calls from this number not yet handled")
    }
    pub fn earlier_missed_count(self, n: usize) -> String {
        if self.en { format!("{n} missed, not handled") } else { format!("{n} 个未处理") }
    }
    pub fn none(self) -> String {
        self.pick("无", "None")
    }

    // Logging the call.
    pub fn log_heading(self) -> String {
        self.pick("记录本次通话", "Log this call")
    }
    pub fn log_submit(self) -> String {
        self.pick("保存通话记录", "Save call log")
    }
    pub fn log_content(self) -> String {
        self.pick("通话内容", "What was said")
    }
    pub fn log_result(self) -> String {
        self.pick("结果", "Result")
    }
    pub fn log_next(self) -> String {
        self.pick("下次跟进日期", "Next follow-up")
    }
    pub fn log_next_help(self) -> String {
        self.pick("可不填", "Optional")
    }
    pub fn results(self) -> [(&'static str, String); 5] {
        [
            ("interested", self.result_label("interested")),
            ("follow-up", self.result_label("follow-up")),
            ("not-interested", self.result_label("not-interested")),
            ("won", self.result_label("won")),
            ("other", self.result_label("other")),
        ]
    }
    /// The words a result option stores on the activity; `None` for an unknown option.
    pub fn result_text(self, value: &str) -> Option<String> {
        self.results().into_iter().find(|(v, _)| *v == value).map(|(_, label)| label)
    }
    fn result_label(self, value: &str) -> String {
        match value {
            "interested" => self.pick("有意向", "Interested"),
            "follow-up" => self.pick("需再次跟进", "Needs another call"),
            "not-interested" => self.pick("暂无意向", "Not interested"),
            "won" => self.pick("已成交", "Won"),
            _ => self.pick("其他", "Other"),
        }
    }
    pub fn activity_subject(self, number: &str) -> String {
        if self.en { format!("Incoming call {number}") } else { format!("来电 {number}") }
    }
    pub fn logged_notice(self) -> String {
        self.pick("本次通话已记录到客户的跟进记录。", "This call is logged on the customer's timeline.")
    }
    pub fn logged(self) -> String {
        self.pick("已记录本次通话", "Call logged")
    }
    pub fn already_logged(self) -> String {
        self.pick("本次通话已经记录过了。", "This call is logged already.")
    }
    pub fn content_required(self) -> String {
        self.pick("请填写通话内容", "Say what was discussed")
    }
    pub fn content_too_long(self, max: usize) -> String {
        if self.en { format!("At most {max} characters") } else { format!("最多 {max} 个字") }
    }
    pub fn choose_a_result(self) -> String {
        self.pick("请选择结果", "Choose a result")
    }
    pub fn date_invalid(self) -> String {
        self.pick("请填写有效日期，如 2026-12-01", "Give a date such as 2026-12-01")
    }
    pub fn date_in_past(self) -> String {
        self.pick("下次跟进日期不能早于今天", "The next follow-up cannot be before today")
    }
    pub fn choose_customer_first(self) -> String {
        self.pick("请先确定来电的客户。", "Choose the customer first.")
    }

    // Several customers.
    pub fn choose_heading(self) -> String {
        self.pick("多个客户使用此号码", "Several customers have this number")
    }
    pub fn choose_explained(self) -> String {
        self.pick(
            "请选择来电的客户，本次通话将记入该客户的时间线。",
            "Choose who is calling: the call goes on that customer's timeline.",
        )
    }
    pub fn matched_via(self) -> String {
        self.pick("匹配方式", "Matched by")
    }
    pub fn via_customer_phone(self) -> String {
        self.pick("客户电话", "Customer's phone")
    }
    pub fn via_contact(self, name: &str) -> String {
        if self.en { format!("Contact {name}") } else { format!("联系人 {name}") }
    }
    pub fn this_one(self) -> String {
        self.pick("选择", "This one")
    }
    pub fn linked(self, name: &str) -> String {
        if self.en { format!("The call is now on {name}'s timeline") } else { format!("已将来电关联到 {name}") }
    }
    pub fn not_a_candidate(self) -> String {
        self.pick("该客户没有使用此号码。", "That customer does not have this number.")
    }
    pub fn already_linked(self) -> String {
        self.pick("此来电已关联到客户。", "This call belongs to a customer already.")
    }
    pub fn no_visible_match(self) -> String {
        self.pick(
            "此号码属于其他同事的客户，您无权查看。",
            "This number belongs to customers of colleagues that you may not see.",
        )
    }

    // Unknown numbers.
    pub fn create_heading(self) -> String {
        self.pick("新建客户", "Create customer")
    }
    pub fn create_submit(self) -> String {
        self.pick("新建客户", "Create customer")
    }
    pub fn customer_name(self) -> String {
        self.pick("客户名称", "Customer name")
    }
    pub fn contact_name(self) -> String {
        self.pick("联系人姓名", "Contact name")
    }
    pub fn phone(self) -> String {
        self.pick("电话", "Phone")
    }
    pub fn mobile_label(self) -> String {
        self.pick("手机", "mobile")
    }
    pub fn office_label(self) -> String {
        self.pick("办公电话", "office")
    }
    pub fn name_required(self) -> String {
        self.pick("请填写客户名称", "Give the customer's name")
    }
    pub fn phone_required(self) -> String {
        self.pick("请填写电话号码", "Give the phone number")
    }
    pub fn created(self, code: &str, name: &str) -> String {
        if self.en { format!("Created customer {code} {name}") } else { format!("已新建客户 {code} {name}") }
    }
    pub fn refused(self, why: &str) -> String {
        if self.en { format!("The CRM refused: {why}") } else { format!("系统拒绝了该操作：{why}") }
    }

    // Missed calls.
    pub fn missed_title_page(self) -> String {
        self.pick("未接来电", "Missed calls")
    }
    pub fn show(self) -> String {
        self.pick("显示", "Show")
    }
    pub fn show_open(self) -> String {
        self.pick("未处理的", "Not handled")
    }
    pub fn show_all(self) -> String {
        self.pick("全部（含已处理）", "All, handled too")
    }
    pub fn handled_label(self) -> String {
        self.pick("处理", "Handled")
    }
    pub fn handled_yes(self) -> String {
        self.pick("已处理", "Handled")
    }
    pub fn no_missed(self) -> String {
        self.pick("没有未处理的未接来电。", "No missed call is waiting.")
    }
    pub fn marked_handled(self) -> String {
        self.pick("已标记为已回电", "Marked as called back")
    }
    pub fn no_such_call(self) -> String {
        self.pick("没有找到该来电。", "No such call.")
    }

    // The call log and the simulation.
    pub fn calls_title(self) -> String {
        self.pick("来电记录", "Calls")
    }
    pub fn all_statuses(self) -> String {
        self.pick("全部状态", "Any status")
    }
    pub fn no_calls(self) -> String {
        self.pick("没有来电记录。", "No calls.")
    }
    pub fn simulate_heading(self) -> String {
        self.pick("模拟来电", "Simulate a call")
    }
    pub fn simulate_explained(self) -> String {
        self.pick(
            "不接电话系统也能演示：模拟一次响铃，与电话系统推送的来电走同一流程，弹屏会出现在分机对应用户的浏览器中。",
            "For demos without a phone system: a simulated ringing goes the same way as a call the PBX reports, and the popup opens in the browser of the extension's user.",
        )
    }
    pub fn simulate_number(self) -> String {
        self.pick("来电号码", "Caller's number")
    }
    pub fn simulate_extension_help(self) -> String {
        self.pick("留空则弹屏给自己", "Leave empty to pop up to yourself")
    }
    pub fn simulate_submit(self) -> String {
        self.pick("模拟来电", "Simulate call")
    }
    pub fn number_required(self) -> String {
        self.pick("请填写来电号码（最多 64 个字符）", "Give the caller's number (at most 64 characters)")
    }
    pub fn extension_not_mapped(self, extension: &str) -> String {
        if self.en {
            format!("Extension {extension} is not mapped to anyone")
        } else {
            format!("分机 {extension} 没有绑定用户")
        }
    }
    pub fn popup_on_its_way(self, name: &str) -> String {
        if self.en { format!("The popup is on its way to {name}") } else { format!("来电弹屏已发送给 {name}") }
    }
    pub fn popup_not_sent(self) -> String {
        self.pick(
            "来电已记录，但弹屏没有发出（该用户可能已停用，或插件未获得通知权限）。",
            "The call is recorded, but no popup went out (the user may be inactive, or the plugin lacks the notify grant).",
        )
    }
    pub fn sign_in_first(self) -> String {
        self.pick("请先登录。", "Sign in first.")
    }

    // Extensions.
    pub fn extensions_title(self) -> String {
        self.pick("分机", "Extensions")
    }
    pub fn extensions_explained(self) -> String {
        self.pick(
            "来电响铃的分机决定弹屏给谁：每个分机绑定一位用户。",
            "The ringing extension decides who sees the popup: map each extension to one user.",
        )
    }
    pub fn no_extensions(self) -> String {
        self.pick(
            "还没有绑定分机：来电会被记录，但不会弹屏给任何人。",
            "No extension is mapped yet: calls are recorded but pop up to nobody.",
        )
    }
    pub fn user(self) -> String {
        self.pick("用户", "User")
    }
    pub fn user_help(self) -> String {
        self.pick("用户编号", "The user's id")
    }
    pub fn add_extension(self) -> String {
        self.pick("添加分机", "Add extension")
    }
    pub fn extension_rule(self) -> String {
        self.pick(
            "请填写分机号：1 到 32 个字母、数字或 - _ . # *",
            "Give the extension: 1 to 32 letters, digits or - _ . # *",
        )
    }
    pub fn extension_taken(self) -> String {
        self.pick("该分机已绑定用户，请先删除原绑定", "This extension is mapped already: delete that mapping first")
    }
    pub fn choose_user(self) -> String {
        self.pick("请选择用户", "Choose a user")
    }
    pub fn extension_added(self, extension: &str, name: &str) -> String {
        if self.en {
            format!("Extension {extension} rings {name}")
        } else {
            format!("分机 {extension} 已绑定 {name}")
        }
    }
    pub fn extension_deleted(self) -> String {
        self.pick("已删除分机绑定", "Extension mapping deleted")
    }
    pub fn not_allowed(self) -> String {
        self.pick("您没有权限修改该项。", "You may not change this.")
    }

    // The customer panel and the widget.
    pub fn no_calls_of_customer(self) -> String {
        self.pick("该客户还没有来电。", "No calls from this customer yet.")
    }
    pub fn calls_today(self) -> String {
        self.pick("今日来电", "Calls today")
    }
    pub fn missed_waiting(self) -> String {
        self.pick("未处理的未接来电", "Missed calls waiting")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally_in_each_language() {
        let (zh, en) = (Text::new(false), Text::new(true));
        assert_eq!(zh.duration(125), "2 分 05 秒");
        assert_eq!(en.duration(125), "2 min 05 s");
        assert_eq!(zh.duration(9), "9 秒");
        assert_eq!(en.duration(3_725), "1 h 02 min 05 s");
        assert_eq!(zh.duration(-4), "0 秒");
    }

    #[test]
    fn the_timeline_line_carries_both_languages() {
        assert_eq!(summary("138 1234 5678", Status::Missed, None), "来电 138 1234 5678 · 未接 (incoming call, missed)");
        assert_eq!(
            summary("010-8765 4321", Status::Ended, Some(65)),
            "来电 010-8765 4321 · 通话 1 分 05 秒 (incoming call, talked 1 min 05 s)"
        );
    }

    #[test]
    fn result_options_store_words_of_the_users_language() {
        assert_eq!(Text::new(false).result_text("interested").as_deref(), Some("有意向"));
        assert_eq!(Text::new(true).result_text("won").as_deref(), Some("Won"));
        assert_eq!(Text::new(true).result_text("bribe"), None);
        assert_eq!(Text::new(false).incoming("8001"), "来电 8001");
        assert_eq!(Text::new(true).missed_title("8001"), "Missed call from 8001");
    }
}
