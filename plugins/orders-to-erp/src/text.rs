//! Every string the plugin shows people, in Chinese and English by the caller's locale; and the
//! lines orders and their status changes leave on the customer's timeline, which carry both
//! languages because everyone reads the same timeline.
//!
//! Events, jobs and callbacks run without a user; what they write is bilingual or for machines.
//! The JSON the API and the callback answer is for machines and their admins, in English.

use tessera_sdk::Caller;

use crate::money;
use crate::status::Status;

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

    /// Whether this is English.
    pub fn is_english(self) -> bool {
        self.en
    }

    /// The text in this language.
    pub fn pick(self, zh: &str, en: &str) -> String {
        if self.en { en } else { zh }.to_owned()
    }

    /// A status as people say it.
    pub fn status(self, status: Status) -> String {
        let (zh, en) = status_names(status);
        self.pick(zh, en)
    }

    /// `是` / `Yes`, `否` / `No`.
    pub fn yes_no(self, yes: bool) -> String {
        match yes {
            true => self.pick("是", "Yes"),
            false => self.pick("否", "No"),
        }
    }

    // ----- Labels several pages share -----

    pub fn number(self) -> String {
        self.pick("订单号", "Number")
    }
    pub fn customer(self) -> String {
        self.pick("客户", "Customer")
    }
    pub fn status_label(self) -> String {
        self.pick("状态", "Status")
    }
    pub fn total(self) -> String {
        self.pick("价税合计", "Total")
    }
    pub fn created(self) -> String {
        self.pick("创建时间", "Created")
    }
    pub fn erp_reference(self) -> String {
        self.pick("ERP 单号", "ERP reference")
    }
    pub fn open(self) -> String {
        self.pick("打开", "Open")
    }
    pub fn sku(self) -> String {
        self.pick("编码", "SKU")
    }
    pub fn product_name(self) -> String {
        self.pick("名称", "Name")
    }
    pub fn unit(self) -> String {
        self.pick("单位", "Unit")
    }
    pub fn price(self) -> String {
        self.pick("单价（不含税）", "Price (excl. tax)")
    }
    pub fn tax_rate(self) -> String {
        self.pick("税率", "Tax rate")
    }
    pub fn stock(self) -> String {
        self.pick("库存", "Stock")
    }
    pub fn active(self) -> String {
        self.pick("启用", "Active")
    }
    pub fn product(self) -> String {
        self.pick("产品", "Product")
    }
    pub fn currency(self) -> String {
        self.pick("币种", "Currency")
    }
    pub fn all_statuses(self) -> String {
        self.pick("全部状态", "All statuses")
    }
    pub fn filter(self) -> String {
        self.pick("筛选", "Filter")
    }
    pub fn new_order(self) -> String {
        self.pick("新建销售订单", "New sales order")
    }
    pub fn no_orders(self) -> String {
        self.pick("暂无销售订单。", "No sales orders yet.")
    }
    pub fn never(self) -> String {
        self.pick("从未", "never")
    }
    /// A value a list cannot show because the caller may not see it, or it is unset.
    pub fn dash(self) -> String {
        "—".to_owned()
    }
}

fn status_names(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Draft => ("草稿", "draft"),
        Status::Pending => ("待审批", "pending approval"),
        Status::Approved => ("已批准", "approved"),
        Status::Rejected => ("已驳回", "rejected"),
        Status::Shipped => ("已发货", "shipped"),
        Status::Invoiced => ("已开票", "invoiced"),
        Status::Cancelled => ("已取消", "cancelled"),
    }
}

/// The timeline line of an order: `销售订单 SO-20261201-0042 · 已批准 · ¥1,234.50 (sales order,
/// approved)`.
pub fn order_summary(number: &str, status: Status, total_minor: i64, currency: &str) -> String {
    let (zh, en) = status_names(status);
    format!("销售订单 {number} · {zh} · {} (sales order, {en})", money::format(total_minor, currency))
}

/// The timeline line of a status change: `订单 SO-20261201-0042：待审批 → 已批准 (order pending
/// approval → approved)`, with a note when there is one.
pub fn event_summary(number: &str, from: Option<Status>, to: Status, note: Option<&str>) -> String {
    let (to_zh, to_en) = status_names(to);
    let mut line = match from {
        Some(from) => {
            let (from_zh, from_en) = status_names(from);
            format!("订单 {number}：{from_zh} → {to_zh} (order {from_en} → {to_en})")
        }
        None => format!("订单 {number}：新建{to_zh} (order created as {to_en})"),
    };
    if let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) {
        let short: String = note.chars().take(120).collect();
        line.push_str(" · ");
        line.push_str(&short);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_lines_carry_both_languages() {
        assert_eq!(
            order_summary("SO-20261201-0042", Status::Approved, 123_450, "CNY"),
            "销售订单 SO-20261201-0042 · 已批准 · ¥1,234.50 (sales order, approved)"
        );
        assert_eq!(
            event_summary("SO-20261201-0042", Some(Status::Pending), Status::Approved, None),
            "订单 SO-20261201-0042：待审批 → 已批准 (order pending approval → approved)"
        );
        assert_eq!(
            event_summary("SO-1", Some(Status::Approved), Status::Shipped, Some(" 顺丰 SF123 ")),
            "订单 SO-1：已批准 → 已发货 (order approved → shipped) · 顺丰 SF123"
        );
        assert_eq!(
            event_summary("SO-1", None, Status::Draft, Some("")),
            "订单 SO-1：新建草稿 (order created as draft)"
        );
    }

    #[test]
    fn every_status_has_a_name_in_each_language() {
        for status in Status::ALL {
            assert!(!Text::new(false).status(status).is_ascii(), "{status:?}");
            assert!(Text::new(true).status(status).is_ascii(), "{status:?}");
        }
    }
}
