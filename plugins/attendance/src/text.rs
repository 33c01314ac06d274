//! Every string the plugin shows people, in Chinese and English, chosen by the caller's locale.
//! The messages people act on (refusals, confirmations, statuses) are named functions tested
//! below; one-word labels are picked where they are used.

use tessera_sdk::Caller;

use crate::rules::{Day, DayOverride, DayState, PunchKind};

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

    pub fn is_english(self) -> bool {
        self.en
    }

    /// The text in this language.
    pub fn pick(self, zh: &str, en: &str) -> String {
        if self.en { en } else { zh }.to_owned()
    }

    // ----- Clocking in and out -----

    pub fn punch_kind(self, kind: PunchKind) -> String {
        match kind {
            PunchKind::In => self.pick("上班", "Clock-in"),
            PunchKind::Out => self.pick("下班", "Clock-out"),
        }
    }

    /// The refusal of a clock-in from outside every allowed network.
    pub fn network_refused(self, ip: &str) -> String {
        if self.en {
            format!(
                "Your network ({ip}) is not one where clocking in is allowed; connect to the office network and try again."
            )
        } else {
            format!("当前网络（{ip}）不在允许打卡的网络范围内，请连接公司网络后再打卡。")
        }
    }

    /// The refusal when networks are configured and the host cannot say where the user is.
    pub fn network_unknown(self) -> String {
        self.pick(
            "无法识别当前网络地址，不能确认您在允许打卡的网络中，请连接公司网络后再打卡。",
            "Your network address could not be determined, so clocking in cannot be allowed; connect to the office network and try again.",
        )
    }

    pub fn location_missing(self) -> String {
        self.pick(
            "未获取到您的位置。打卡需要定位，请允许浏览器获取位置后再打卡。",
            "Your location is not available. Clocking in needs it: allow the browser to share your location and try again.",
        )
    }

    pub fn location_too_far(self, distance_m: f64, radius_m: f64) -> String {
        let (d, r) = (distance_m.round() as i64, radius_m.round() as i64);
        if self.en {
            format!("You are about {d} m from the workplace, beyond the {r} m within which clocking in is allowed.")
        } else {
            format!("您距离打卡地点约 {d} 米，超出允许打卡的 {r} 米范围。")
        }
    }

    /// The confirmation of a punch: `上班打卡成功，时间 09:12，迟到 12 分钟。`
    pub fn punched(self, kind: PunchKind, time: &str, late_or_early_min: i64) -> String {
        match (kind, late_or_early_min > 0, self.en) {
            (PunchKind::In, false, false) => format!("上班打卡成功，时间 {time}。"),
            (PunchKind::In, true, false) => format!("上班打卡成功，时间 {time}，迟到 {late_or_early_min} 分钟。"),
            (PunchKind::Out, false, false) => format!("下班打卡成功，时间 {time}。"),
            (PunchKind::Out, true, false) => format!("下班打卡成功，时间 {time}，早退 {late_or_early_min} 分钟。"),
            (PunchKind::In, false, true) => format!("Clocked in at {time}."),
            (PunchKind::In, true, true) => format!("Clocked in at {time}, {late_or_early_min} minutes late."),
            (PunchKind::Out, false, true) => format!("Clocked out at {time}."),
            (PunchKind::Out, true, true) => format!("Clocked out at {time}, {late_or_early_min} minutes early."),
        }
    }

    /// Added to a second clock-in of the day: the first one counts.
    pub fn first_in_counts(self, first: &str) -> String {
        if self.en {
            format!(" The first clock-in of the day, {first}, is the one that counts.")
        } else {
            format!("今天以首次上班打卡 {first} 为准。")
        }
    }

    pub fn not_signed_in(self) -> String {
        self.pick("请先登录。", "Please sign in first.")
    }

    // ----- Days -----

    pub fn weekday(self, iso: i8) -> String {
        let zh = ["", "周一", "周二", "周三", "周四", "周五", "周六", "周日"];
        let en = ["", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let i = usize::try_from(iso).unwrap_or(0).min(7);
        if self.en { en[i] } else { zh[i] }.to_owned()
    }

    /// Working day, rest day, public holiday or make-up working day.
    pub fn day_kind(self, day: &Day) -> String {
        match (day.working, day.calendar) {
            (true, Some(DayOverride::Workday)) => self.pick("调休上班", "Make-up workday"),
            (true, _) => self.pick("工作日", "Working day"),
            (false, Some(DayOverride::Holiday)) => self.pick("节假日", "Public holiday"),
            (false, _) => self.pick("休息日", "Rest day"),
        }
    }

    /// What a day came to, in a few words: `迟到 20 分钟、早退 5 分钟`.
    pub fn day_status(self, day: &Day) -> String {
        if day.state == DayState::Upcoming {
            return self.pick("未开始", "Not yet");
        }
        let mut parts = Vec::new();
        if day.on_leave {
            parts.push(self.pick("请假", "On leave"));
        }
        if day.absent {
            parts.push(self.pick("缺勤", "Absent"));
        }
        if day.missing_punch {
            parts.push(self.pick("缺卡", "Missing punch"));
        }
        if day.late_min > 0 {
            parts.push(self.minutes_of(&self.pick("迟到", "Late"), day.late_min));
        }
        if day.early_min > 0 {
            parts.push(self.minutes_of(&self.pick("早退", "Left early"), day.early_min));
        }
        if day.leave_min > 0 && !day.on_leave {
            parts.push(self.minutes_of(&self.pick("请假", "Leave"), day.leave_min));
        }
        if day.overtime_min > 0 {
            parts.push(self.minutes_of(&self.pick("加班", "Overtime"), day.overtime_min));
        }
        if day.extra_min > day.overtime_min {
            parts.push(self.minutes_of(&self.pick("未审批加班", "Unapproved extra"), day.extra_min - day.overtime_min));
        }
        if parts.is_empty() {
            return match (day.working, day.state) {
                (true, DayState::Open) if day.first_in.is_none() => self.pick("待打卡", "Not clocked in"),
                (true, DayState::Open) => self.pick("进行中", "In progress"),
                (true, _) => self.pick("正常", "Normal"),
                (false, _) => "—".to_owned(),
            };
        }
        parts.join(if self.en { ", " } else { "、" })
    }

    /// `迟到 20 分钟` / `Late 20 min`.
    pub fn minutes_of(self, what: &str, minutes: i64) -> String {
        if self.en { format!("{what} {minutes} min") } else { format!("{what} {minutes} 分钟") }
    }

    /// Minutes as hours with one decimal: `7.5`.
    pub fn hours(self, minutes: i64) -> String {
        let tenths = (minutes * 10 + 30) / 60;
        format!("{}.{}", tenths / 10, tenths % 10)
    }

    pub fn not_punched(self) -> String {
        self.pick("未打卡", "None")
    }

    // ----- Requests -----

    pub fn leave_kind(self, kind: &str) -> String {
        match kind {
            "annual" => self.pick("年假", "Annual leave"),
            "sick" => self.pick("病假", "Sick leave"),
            "personal" => self.pick("事假", "Personal leave"),
            "compensatory" => self.pick("调休", "Time off in lieu"),
            "marriage" => self.pick("婚假", "Marriage leave"),
            "maternity" => self.pick("产假", "Maternity leave"),
            "paternity" => self.pick("陪产假", "Paternity leave"),
            "bereavement" => self.pick("丧假", "Bereavement leave"),
            other => other.to_owned(),
        }
    }

    pub fn status(self, status: &str) -> String {
        match status {
            "pending" => self.pick("审批中", "Pending"),
            "approved" => self.pick("已批准", "Approved"),
            "rejected" => self.pick("已驳回", "Rejected"),
            "withdrawn" => self.pick("已撤回", "Withdrawn"),
            other => other.to_owned(),
        }
    }

    pub fn request_submitted(self, what: &str) -> String {
        if self.en {
            format!("Your {what} request was submitted for approval; follow it under Approvals.")
        } else {
            format!("{what}申请已提交审批，可在「审批」中查看进度。")
        }
    }

    pub fn request_not_submitted(self, reason: &str) -> String {
        if self.en {
            format!("The request could not be submitted for approval: {reason}")
        } else {
            format!("申请未能提交审批：{reason}")
        }
    }

    /// The notification when a request was decided.
    pub fn request_decided(self, what: &str, status: &str) -> String {
        let status = self.status(status);
        if self.en { format!("Your {what} request: {status}") } else { format!("您的{what}申请{status}") }
    }

    pub fn not_allowed(self) -> String {
        self.pick("您没有权限执行此操作。", "You are not allowed to do this.")
    }

    pub fn admins_only(self) -> String {
        self.pick("只有管理员可以修改此设置。", "Only administrators change this.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_network_refusal_names_the_address_in_both_languages() {
        assert_eq!(
            Text::new(false).network_refused("203.0.113.9"),
            "当前网络（203.0.113.9）不在允许打卡的网络范围内，请连接公司网络后再打卡。"
        );
        assert_eq!(
            Text::new(true).network_refused("203.0.113.9"),
            "Your network (203.0.113.9) is not one where clocking in is allowed; connect to the office network and try again."
        );
    }

    #[test]
    fn punches_are_confirmed_with_their_time() {
        let (zh, en) = (Text::new(false), Text::new(true));
        assert_eq!(zh.punched(PunchKind::In, "08:55", 0), "上班打卡成功，时间 08:55。");
        assert_eq!(zh.punched(PunchKind::In, "09:12", 12), "上班打卡成功，时间 09:12，迟到 12 分钟。");
        assert_eq!(zh.punched(PunchKind::Out, "17:30", 30), "下班打卡成功，时间 17:30，早退 30 分钟。");
        assert_eq!(en.punched(PunchKind::Out, "18:05", 0), "Clocked out at 18:05.");
        assert_eq!(en.punched(PunchKind::In, "09:12", 12), "Clocked in at 09:12, 12 minutes late.");
        assert_eq!(zh.location_too_far(1234.4, 200.0), "您距离打卡地点约 1234 米，超出允许打卡的 200 米范围。");
    }

    #[test]
    fn hours_have_one_decimal() {
        let t = Text::new(false);
        assert_eq!(
            (t.hours(0), t.hours(450), t.hours(480), t.hours(100)),
            ("0.0".into(), "7.5".into(), "8.0".into(), "1.7".into())
        );
        assert_eq!((t.weekday(1), Text::new(true).weekday(7)), ("周一".into(), "Sun".into()));
    }
}
