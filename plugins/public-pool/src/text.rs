//! Every string the plugin shows, in Chinese and English, chosen by the caller's locale; and the
//! reasons it stores in customers' owner histories, which carry both languages in one string
//! because everyone reads the same history.

use tessera_sdk::{Caller, Id};

use crate::rules::Criterion;

/// The reason stored when a user claims a customer from the pool.
pub const REASON_CLAIMED: &str = "从公海领取 (claimed from the pool)";

/// The reason stored when a rule returns a customer not followed up for `days`.
pub fn reason_idle(days: u32) -> String {
    format!("自动回收：超过 {days} 天未跟进 (not followed up for {days} days: returned to the pool)")
}

/// The reason stored when a rule returns a customer not won within `days`.
pub fn reason_unwon(days: u32) -> String {
    format!("自动回收：超过 {days} 天未成交 (not won within {days} days: returned to the pool)")
}

/// The reason stored when the owner releases a customer, with the owner's words.
pub fn reason_released(reason: &str) -> String {
    format!("退回公海 (released to the pool)：{reason}")
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

    fn level_name(self, level: &str) -> String {
        if self.en { format!("Level {level}") } else { format!("{level} 级") }
    }

    fn criterion(self, criterion: Criterion, days: u32) -> String {
        match (criterion, self.en) {
            (Criterion::Idle, false) => format!("超过 {days} 天未跟进"),
            (Criterion::Idle, true) => format!("not followed up for {days} days"),
            (Criterion::Unwon, false) => format!("超过 {days} 天未成交"),
            (Criterion::Unwon, true) => format!("not won within {days} days"),
        }
    }

    // ----- Titles and labels -----

    pub fn pool_title(self) -> String {
        self.pick("客户公海", "Public pool")
    }
    pub fn the_pool(self) -> String {
        self.pick("公海", "Pool")
    }
    pub fn pool(self) -> String {
        self.pick("公海", "Pool")
    }
    pub fn all_my_pools(self) -> String {
        self.pick("全部可领取的公海", "All my pools")
    }
    pub fn claim(self) -> String {
        self.pick("领取", "Claim")
    }
    pub fn filter(self) -> String {
        self.pick("筛选", "Filter")
    }
    pub fn search(self) -> String {
        self.pick("搜索", "Search")
    }
    pub fn search_help(self) -> String {
        self.pick("名称、编号、电话或拼音", "Name, code, phone or pinyin")
    }
    pub fn code(self) -> String {
        self.pick("编号", "Code")
    }
    pub fn name(self) -> String {
        self.pick("名称", "Name")
    }
    pub fn level(self) -> String {
        self.pick("客户级别", "Level")
    }
    pub fn status(self) -> String {
        self.pick("状态", "Status")
    }
    pub fn department(self) -> String {
        self.pick("部门", "Department")
    }
    pub fn last_follow_up(self) -> String {
        self.pick("最近跟进", "Last follow-up")
    }
    pub fn never(self) -> String {
        self.pick("从未跟进", "Never")
    }

    // ----- Stats -----

    pub fn stat_in_pools(self) -> String {
        self.pick("公海客户", "In my pools")
    }
    pub fn stat_held(self) -> String {
        self.pick("我的客户 / 上限", "Held by me / cap")
    }
    pub fn stat_claimed_today(self) -> String {
        self.pick("今日已领取 / 上限", "Claimed today / cap")
    }
    pub fn stat_due(self) -> String {
        self.pick("即将退回公海", "About to return to the pool")
    }
    pub fn within_days(self, days: u32) -> String {
        if self.en { format!("within {days} days") } else { format!("{days} 天内") }
    }
    pub fn no_reminder_set(self) -> String {
        self.pick("未设置提醒", "No reminder set")
    }

    // ----- The pool page -----

    pub fn no_pool_for_you(self) -> String {
        self.pick("您所在的部门没有可领取的公海。", "No pool is open to your department.")
    }
    pub fn pool_empty(self) -> String {
        self.pick("公海里没有符合条件的客户。", "No customer in the pool matches.")
    }
    pub fn due_heading(self) -> String {
        self.pick("我即将退回公海的客户", "My customers about to return to the pool")
    }
    pub fn due_rule(self, level: &str, criterion: Criterion, days: u32, remind_days: u32) -> String {
        let (level, why) = (self.level_name(level), self.criterion(criterion, days));
        if self.en {
            format!("{level}: within {remind_days} days these will be {why} and return to the pool.")
        } else {
            format!("{level}：以下客户将在 {remind_days} 天内因{why}退回公海。")
        }
    }
    pub fn nothing_due(self) -> String {
        self.pick("您没有即将退回公海的客户。", "None of your customers is about to return to the pool.")
    }

    // ----- Claiming -----

    pub fn claimed(self, code: &str, name: &str) -> String {
        if self.en { format!("Claimed {code} {name}") } else { format!("已领取 {code} {name}") }
    }
    pub fn taken_by_someone_else(self) -> String {
        self.pick("该客户已被他人领取。", "Someone else claimed this customer first.")
    }
    pub fn already_yours(self) -> String {
        self.pick("该客户已经是您的客户。", "This customer is yours already.")
    }
    pub fn not_in_your_pools(self) -> String {
        self.pick("该客户不在您可领取的公海中。", "This customer is not in a pool you may claim from.")
    }
    pub fn no_such_customer(self) -> String {
        self.pick("没有找到该客户。", "No such customer.")
    }
    pub fn held_cap_reached(self, cap: u32) -> String {
        if self.en {
            format!("You have reached the cap of {cap} customers held: release one before claiming another.")
        } else {
            format!("您持有的客户已达上限 {cap} 个，请先退回客户再领取。")
        }
    }
    pub fn daily_cap_reached(self, cap: u32) -> String {
        if self.en {
            format!("You have reached the daily cap of {cap} claims: claim more tomorrow.")
        } else {
            format!("您今天已领取 {cap} 个客户，达到每日领取上限，请明天再领取。")
        }
    }
    pub fn cooldown(self, days: u32) -> String {
        if self.en {
            format!("You gave this customer up less than {days} days ago: you may claim it back after {days} days.")
        } else {
            format!("该客户由您退回公海未满 {days} 天，{days} 天后才能重新领取。")
        }
    }
    pub fn limited(self, reason: &str) -> String {
        if self.en { format!("The claim was refused: {reason}") } else { format!("领取被拒绝：{reason}") }
    }

    // ----- The customer panel -----

    pub fn panel_title(self) -> String {
        self.pick("公海记录", "Pool history")
    }
    pub fn owner(self) -> String {
        self.pick("负责人", "Owner")
    }
    pub fn release(self) -> String {
        self.pick("退回公海", "Release to the pool")
    }
    pub fn release_reason(self) -> String {
        self.pick("退回原因", "Reason for releasing")
    }
    pub fn history(self) -> String {
        self.pick("负责人变更记录", "Changes of owner")
    }
    pub fn no_history(self) -> String {
        self.pick("该客户的负责人从未变更。", "This customer has never changed hands.")
    }
    pub fn time(self) -> String {
        self.pick("时间", "Time")
    }
    pub fn from(self) -> String {
        self.pick("原负责人", "From")
    }
    pub fn to(self) -> String {
        self.pick("新负责人", "To")
    }
    pub fn reason(self) -> String {
        self.pick("原因", "Reason")
    }
    pub fn by(self) -> String {
        self.pick("操作人", "By")
    }
    pub fn system(self) -> String {
        self.pick("系统", "System")
    }
    pub fn reason_required(self) -> String {
        self.pick("请填写退回原因", "Give a reason for releasing the customer")
    }
    pub fn reason_too_long(self, max: usize) -> String {
        if self.en { format!("At most {max} characters") } else { format!("最多 {max} 个字") }
    }
    pub fn only_the_owner_releases(self) -> String {
        self.pick("只有客户的负责人才能退回公海。", "Only the customer's owner may release it to the pool.")
    }
    pub fn released(self, code: &str, name: &str) -> String {
        if self.en {
            format!("{code} {name} is back in the pool")
        } else {
            format!("已将 {code} {name} 退回公海")
        }
    }
    pub fn owner_changed_meanwhile(self) -> String {
        self.pick(
            "该客户的负责人刚刚发生了变化，请刷新后重试。",
            "The customer changed hands meanwhile: reload and try again.",
        )
    }

    // ----- The rules page -----

    pub fn rules_title(self) -> String {
        self.pick("公海规则", "Pool rules")
    }
    pub fn rules_heading(self) -> String {
        self.pick("回收规则", "Recycle rules")
    }
    pub fn rules_explained(self) -> String {
        self.pick(
            "每个客户级别一条规则：超过设定天数未跟进或未成交的客户，每天凌晨自动退回公海，并提前提醒负责人。已成交和带锁定标签的客户不会被回收。",
            "One rule per customer level: customers not followed up or not won within the days set return to the pool every night, and their owners are reminded first. Won customers and customers with the lock tag never return.",
        )
    }
    pub fn no_rules(self) -> String {
        self.pick("还没有回收规则，客户不会自动退回公海。", "No rule yet: no customer returns to the pool on its own.")
    }
    pub fn idle_days(self) -> String {
        self.pick("未跟进天数", "Days without follow-up")
    }
    pub fn unwon_days(self) -> String {
        self.pick("未成交天数", "Days without a win")
    }
    pub fn remind_days(self) -> String {
        self.pick("提前提醒天数", "Days of warning")
    }
    pub fn level_help(self) -> String {
        self.pick("客户级别的代码，如 a、b、c、d", "The level's code, e.g. a, b, c, d")
    }
    pub fn idle_days_help(self) -> String {
        self.pick(
            "超过此天数没有跟进即退回公海；0 表示不按跟进回收",
            "Returned after this many days without a follow-up; 0 for never",
        )
    }
    pub fn unwon_days_help(self) -> String {
        self.pick(
            "领取后超过此天数仍未成交即退回公海；0 表示不按成交回收",
            "Returned after being held this many days without a win; 0 for never",
        )
    }
    pub fn remind_days_help(self) -> String {
        self.pick("退回前几天提醒负责人；0 表示不提醒", "Remind the owner this many days before; 0 for no reminder")
    }
    pub fn replace_rule(self) -> String {
        self.pick("替换该级别已有的规则", "Replace the level's existing rule")
    }
    pub fn save_rule(self) -> String {
        self.pick("保存规则", "Save rule")
    }
    pub fn off(self) -> String {
        self.pick("不回收", "Off")
    }
    pub fn delete(self) -> String {
        self.pick("删除", "Delete")
    }
    pub fn pools_heading(self) -> String {
        self.pick("公海", "Pools")
    }
    pub fn pools_explained(self) -> String {
        self.pick(
            "每个公海包含一个部门及其下级部门的无负责人客户，这些部门的员工可以从中领取。",
            "A pool holds the unowned customers of a department and the departments under it; the people of those departments claim from it.",
        )
    }
    pub fn no_pools(self) -> String {
        self.pick(
            "还没有按部门设置公海：全部无负责人的客户都在一个公海中，所有人都可以领取。",
            "No pool per department yet: every unowned customer is in one pool, open to everyone.",
        )
    }
    pub fn add_pool(self) -> String {
        self.pick("添加公海", "Add pool")
    }
    pub fn with_subdepartments(self, department: &str) -> String {
        if self.en { format!("{department} and below") } else { format!("{department}（含下级部门）") }
    }
    pub fn missing_department(self, id: Id) -> String {
        if self.en { format!("Department #{id} (deleted)") } else { format!("部门 #{id}（已删除）") }
    }
    pub fn settings_heading(self) -> String {
        self.pick("领取设置", "Claim settings")
    }
    pub fn setting_daily_cap(self) -> String {
        self.pick("每日领取上限", "Daily claim cap")
    }
    pub fn setting_max_held(self) -> String {
        self.pick("持有客户上限", "Most customers held")
    }
    pub fn setting_cooldown(self) -> String {
        self.pick("重新领取间隔（天）", "Days before reclaiming")
    }
    pub fn setting_won(self) -> String {
        self.pick("成交状态（不回收）", "Won statuses (never returned)")
    }
    pub fn setting_lock_tag(self) -> String {
        self.pick("锁定标签（不回收）", "Lock tag (never returned)")
    }
    pub fn no_limit(self) -> String {
        self.pick("不限", "No limit")
    }
    pub fn recycle_now(self) -> String {
        self.pick("立即执行回收", "Run the recycle now")
    }
    pub fn recycled(self, count: usize) -> String {
        if self.en {
            format!("{count} customers returned to the pool")
        } else {
            format!("已将 {count} 个客户退回公海")
        }
    }
    pub fn not_allowed(self) -> String {
        self.pick("您没有权限修改该项。", "You may not change this.")
    }
    pub fn rule_added(self, level: &str) -> String {
        if self.en {
            format!("Rule for level {level} added")
        } else {
            format!("已添加 {level} 级客户的回收规则")
        }
    }
    pub fn rule_replaced(self, level: &str) -> String {
        if self.en {
            format!("Rule for level {level} replaced")
        } else {
            format!("已替换 {level} 级客户的回收规则")
        }
    }
    pub fn rule_deleted(self) -> String {
        self.pick("已删除回收规则", "Rule deleted")
    }
    pub fn level_has_a_rule(self, level: &str) -> String {
        if self.en {
            format!("Level {level} has a rule already: tick “Replace” to change it, or delete it first")
        } else {
            format!("{level} 级已有回收规则：勾选“替换”以修改，或先删除原规则")
        }
    }
    pub fn level_required(self) -> String {
        self.pick("请填写客户级别", "Give the customer level")
    }
    pub fn level_too_long(self) -> String {
        self.pick("客户级别最多 64 个字", "At most 64 characters")
    }
    pub fn days_range(self, max: u32) -> String {
        if self.en {
            format!("Whole days from 0 to {max}")
        } else {
            format!("请填写 0 到 {max} 之间的整数天数")
        }
    }
    pub fn rule_needs_a_criterion(self) -> String {
        self.pick(
            "请至少填写未跟进天数或未成交天数之一",
            "Set the days without follow-up, the days without a win, or both",
        )
    }
    pub fn remind_before(self, days: u32) -> String {
        if self.en {
            format!("Must be fewer than the {days} days the customer is given")
        } else {
            format!("提醒天数必须小于回收天数 {days}")
        }
    }
    pub fn pool_name_required(self) -> String {
        self.pick("请填写公海名称（最多 100 个字）", "Give the pool a name (at most 100 characters)")
    }
    pub fn choose_department(self) -> String {
        self.pick("请选择部门", "Choose a department")
    }
    pub fn department_has_a_pool(self) -> String {
        self.pick("该部门已有公海", "This department has a pool already")
    }
    pub fn pool_added(self, name: &str) -> String {
        if self.en { format!("Pool {name} added") } else { format!("已添加公海：{name}") }
    }
    pub fn pool_deleted(self) -> String {
        self.pick("已删除公海", "Pool deleted")
    }

    // ----- Notifications of the nightly run -----

    pub fn news_title(self) -> String {
        self.pick("客户公海提醒", "Public pool: your customers")
    }
    pub fn released_line(self, level: &str, criterion: Criterion, days: u32, count: u64) -> String {
        let (level, why) = (self.level_name(level), self.criterion(criterion, days));
        if self.en {
            format!("{level}: {count} of your customers were {why} and returned to the pool.")
        } else {
            format!("{level}：您有 {count} 个客户因{why}已退回公海。")
        }
    }
    pub fn due_line(self, level: &str, criterion: Criterion, days: u32, remind_days: u32, count: u64) -> String {
        let (level, why) = (self.level_name(level), self.criterion(criterion, days));
        if self.en {
            format!(
                "{level}: {count} of your customers will be {why} and return to the pool within {remind_days} days."
            )
        } else {
            format!("{level}：您有 {count} 个客户将在 {remind_days} 天内因{why}退回公海，请及时跟进。")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_language_has_its_own_words() {
        let (zh, en) = (Text::new(false), Text::new(true));
        assert_eq!(zh.claimed("KH-1", "北京科技"), "已领取 KH-1 北京科技");
        assert_eq!(en.claimed("KH-1", "北京科技"), "Claimed KH-1 北京科技");
        assert!(zh.held_cap_reached(2).contains('2') && en.daily_cap_reached(3).contains('3'));
        assert!(zh.cooldown(7).contains("7 天") && en.cooldown(7).contains("7 days"));
        assert_eq!(
            zh.due_line("a", Criterion::Idle, 30, 5, 3),
            "a 级：您有 3 个客户将在 5 天内因超过 30 天未跟进退回公海，请及时跟进。"
        );
    }

    #[test]
    fn stored_reasons_carry_both_languages() {
        assert_eq!(reason_idle(30), "自动回收：超过 30 天未跟进 (not followed up for 30 days: returned to the pool)");
        assert!(reason_unwon(90).contains("90 天未成交") && reason_unwon(90).contains("not won within 90 days"));
        assert_eq!(reason_released("客户无意向"), "退回公海 (released to the pool)：客户无意向");
    }
}
