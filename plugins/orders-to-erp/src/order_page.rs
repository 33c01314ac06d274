//! One order (`order`, `?id=<order id>`): its details, lines and totals; while it is a draft
//! (or rejected) a form to add a line, a row action to remove one, the order discount and notes,
//! "submit for approval" and "cancel"; its status history and what the ERP reported.
//!
//! `act` does not receive the page's parameters, so every action carries the order's id (or
//! the line's) as its argument.

use serde_json::Value;
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, RenderRequest, Table};
use tessera_sdk::{Caller, Error, Id, Result};

use crate::config::Clock;
use crate::delivery;
use crate::history;
use crate::listing;
use crate::money;
use crate::order::{self, Edit, NewLine, Stored};
use crate::price_list;
use crate::product;
use crate::status::Status;
use crate::text::Text;

/// Products the add-line form offers.
const PRODUCT_CHOICES: u32 = 200;

/// Draws the order.
pub fn render(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let id: Id = request
        .param("id")
        .and_then(|id| id.trim().parse().ok())
        .ok_or_else(|| Error::not_found("no order given: open an order from the orders list"))?;
    let stored = order::get(id)?;
    let o = &stored.fields;
    let clock = Clock::load();
    let lines = order::lines(id)?;
    let changes = history::of_order(id)?;
    let number = o.number_or(id);
    let time = |ms: Option<i64>| ms.map(|ms| clock.time(ms)).unwrap_or_else(|| t.dash());
    let mut details = vec![
        (t.number(), number.clone()),
        (
            t.customer(),
            match &o.customer_code {
                Some(code) => format!("{} ({code})", o.customer_name),
                None => o.customer_name.clone(),
            },
        ),
        (t.status_label(), t.status(o.status)),
        (t.pick("版本", "Version"), o.revision.to_string()),
        (t.currency(), o.currency.clone()),
        (t.created(), clock.time(stored.created_at)),
        (t.pick("提交时间", "Submitted"), time(o.submitted_at)),
        (t.pick("批准时间", "Approved"), time(o.approved_at)),
    ];
    if let Some(list) = o.price_list_id {
        let name = price_list::get(list).map(|l| l.fields.name).unwrap_or_else(|_| format!("#{list}"));
        details.push((t.pick("价格表", "Price list"), name));
    }
    if let Some(approval) = o.approval_id {
        details.push((t.pick("审批单", "Approval"), format!("#{approval}")));
    }
    for (label, value) in [
        (t.erp_reference(), &o.erp_reference),
        (t.pick("物流单号", "Tracking"), &o.tracking),
        (t.pick("发票号", "Invoice number"), &o.invoice_number),
    ] {
        if let Some(value) = value {
            details.push((label, value.clone()));
        }
    }
    let mut page = Page::new(format!("{} {number}", t.pick("销售订单", "Sales order"))).key_values(details);
    page = match o.status {
        Status::Draft => {
            page.notice("info", t.pick("草稿：添加明细后提交审批。", "Draft: add lines, then submit it for approval."))
        }
        Status::Pending => page.notice(
            "info",
            t.pick(
                "审批中：审批结果出来前订单不能修改。",
                "Waiting for approval: the order cannot change until it is decided.",
            ),
        ),
        Status::Approved => page.notice(
            "success",
            format!(
                "{} {}",
                t.pick("已批准并推送至 ERP，幂等键", "Approved and sent to the ERP with the idempotency key"),
                delivery::idempotency_key(id, o.revision)
            ),
        ),
        Status::Rejected => page.notice(
            "warning",
            t.pick(
                "已驳回：修改后可重新提交（修改会产生新版本）。",
                "Rejected: change it and submit it again (a change makes a new version).",
            ),
        ),
        Status::Shipped => page.notice("success", t.pick("ERP 已发货。", "The ERP has shipped it.")),
        Status::Invoiced => page.notice("success", t.pick("ERP 已开票。", "The ERP has invoiced it.")),
        Status::Cancelled => page.notice("warning", t.pick("订单已取消。", "The order is cancelled.")),
    };

    let editable = o.status.is_editable();
    page = page.heading(t.pick("明细", "Lines"));
    if lines.is_empty() {
        page = page.notice("info", t.pick("还没有明细。", "No lines yet."));
    } else {
        let mut table = Table::new()
            .column("position", "#")
            .column("sku", t.sku())
            .column("name", t.product_name())
            .column("quantity", t.pick("数量", "Quantity"))
            .column("unit_price", t.price())
            .column("discount", t.pick("折扣", "Discount"))
            .column("tax_rate", t.tax_rate())
            .column("net", t.pick("折后金额", "Net"))
            .column("tax", t.pick("税额", "Tax"))
            .column("total", t.total());
        for line in &lines {
            let l = &line.fields;
            let quantity = match &l.unit {
                Some(unit) => format!("{} {unit}", money::format_quantity(l.quantity_milli)),
                None => money::format_quantity(l.quantity_milli),
            };
            table = table.row(
                line.id.to_string(),
                [
                    l.position.to_string(),
                    l.sku.clone(),
                    l.name.clone(),
                    quantity,
                    money::format(l.unit_price_minor, &o.currency),
                    money::format_bp(l.discount_bp),
                    money::format_bp(l.tax_rate_bp),
                    money::format(l.net_minor, &o.currency),
                    money::format(l.tax_minor, &o.currency),
                    money::format(l.total_minor, &o.currency),
                ],
            );
        }
        if editable {
            table = table.row_action(Action::danger("remove-line", t.pick("删除", "Remove")));
        }
        page = page.table(table);
    }
    if editable {
        page = page.form(add_line_form(t, id, &o.currency)?);
    }
    page = page.key_values([
        (t.pick("小计（折后、不含税）", "Subtotal (net, excl. tax)"), money::format(o.subtotal_minor, &o.currency)),
        (t.pick("整单折扣", "Order discount"), money::format(o.discount_minor, &o.currency)),
        (t.pick("税额", "Tax"), money::format(o.tax_minor, &o.currency)),
        (t.total(), money::format(o.total_minor, &o.currency)),
    ]);
    if editable {
        page = page.form(
            Form::new(Action::new("save", t.pick("保存", "Save")).argument(id.to_string()))
                .field(
                    Field::text("discount", t.pick("整单折扣金额", "Order discount (amount)"))
                        .value(money::format_plain(o.discount_minor))
                        .help(t.pick(
                            "税前折扣，按各行折后金额比例分摊。",
                            "Taken off before tax, spread over the lines in proportion to their net amounts.",
                        )),
                )
                .field(Field::textarea("notes", t.pick("备注", "Notes")).value(o.notes.clone().unwrap_or_default())),
        );
        let mut actions = Vec::new();
        if o.line_count > 0 {
            actions.push(Action::primary("submit", t.pick("提交审批", "Submit for approval")).argument(id.to_string()));
        }
        actions.push(Action::danger("cancel", t.pick("取消订单", "Cancel the order")).argument(id.to_string()));
        page = page.actions(actions);
    }

    page = page.heading(t.pick("状态历史", "Status history"));
    let mut history_table = Table::new()
        .column("at", t.pick("时间", "Time"))
        .column("from", t.pick("原状态", "From"))
        .column("to", t.pick("新状态", "To"))
        .column("source", t.pick("来源", "Source"))
        .column("note", t.pick("说明", "Note"));
    for change in &changes {
        let c = &change.fields;
        let source = match c.by_label {
            Some(history::Source::Crm) => t.pick("CRM", "CRM"),
            Some(history::Source::Workflow) => t.pick("审批", "Approval"),
            Some(history::Source::Erp) => "ERP".to_owned(),
            None => t.dash(),
        };
        history_table = history_table.row(
            change.id.to_string(),
            [
                clock.time(c.at),
                c.from_status.map(|s| t.status(s)).unwrap_or_else(|| t.dash()),
                t.status(c.to_status),
                source,
                c.note.clone().unwrap_or_default(),
            ],
        );
    }
    Ok(page.table(history_table))
}

fn add_line_form(t: Text, order_id: Id, currency: &str) -> Result<Form> {
    let products = product::active(PRODUCT_CHOICES)?;
    let options: Vec<(String, String)> =
        products.iter().map(|p| (p.id.to_string(), product::choice_label(&p.fields, currency))).collect();
    Ok(Form::new(Action::primary("add-line", t.pick("添加明细", "Add line")).argument(order_id.to_string()))
        .field(Field::select("product_id", t.product(), options).required())
        .field(
            Field::text("quantity", t.pick("数量", "Quantity"))
                .required()
                .value("1")
                .help(t.pick("最多三位小数，如 2.5", "Up to three decimals, e.g. 2.5")),
        )
        .field(
            Field::text("discount", t.pick("折扣 %", "Discount %"))
                .help(t.pick("如 5 或 12.5；留空为无折扣", "e.g. 5 or 12.5; empty for none")),
        ))
}

/// The page's actions.
pub fn act(caller: &Caller, action: &str, argument: Option<&str>, input: &Value, now: i64) -> Result<Outcome> {
    let t = Text::of(caller);
    let result = match action {
        "add-line" => add_line(t, listing::argument_id(argument, "order")?, input, caller.user_id, now),
        "remove-line" => {
            let line_id = listing::argument_id(argument, "line")?;
            let line = tessera_sdk::records::get_typed::<order::Line>(order::LINE, line_id)?;
            order::edit(line.fields.order_id, Edit::RemoveLine(line_id), caller.user_id, now)
                .map(|_| Outcome::success(t.pick("已删除该明细。", "The line is removed.")))
        }
        "save" => save(t, listing::argument_id(argument, "order")?, input, caller.user_id, now),
        "submit" => {
            order::submit(listing::argument_id(argument, "order")?, caller.user_id, now).map(|o| submitted(t, &o))
        }
        "cancel" => order::cancel(listing::argument_id(argument, "order")?, caller.user_id, now)
            .map(|_| Outcome::success(t.pick("订单已取消。", "The order is cancelled."))),
        "open" => return listing::open(argument),
        _ => return Err(Error::not_found(format!("no action {action:?} on an order"))),
    };
    // What the user can put right is told on the page; faults stay errors.
    match result {
        Err(Error::Invalid(m) | Error::Conflict(m) | Error::Denied(m)) => Ok(Outcome::error(m)),
        other => other,
    }
}

fn submitted(t: Text, order: &Stored) -> Outcome {
    match order.fields.status {
        Status::Approved => Outcome::success(t.pick(
            "订单无需审批，已批准并推送至 ERP。",
            "The order needed no approval: it is approved and sent to the ERP.",
        )),
        Status::Rejected => Outcome::warning(t.pick("订单已被驳回。", "The order was rejected.")),
        _ => Outcome::success(t.pick("已提交审批。", "Submitted for approval.")),
    }
}

fn add_line(t: Text, order_id: Id, input: &Value, by: Option<Id>, now: i64) -> Result<Outcome> {
    let product_id =
        input.get("product_id").and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())));
    let Some(product_id) = product_id else {
        return Ok(Outcome::invalid([("product_id", t.pick("请选择产品", "Choose a product"))]));
    };
    let quantity = match input.get("quantity").map(|q| money::parse_quantity(q, "quantity")) {
        Some(Ok(q)) => q,
        _ => {
            return Ok(Outcome::invalid([(
                "quantity",
                t.pick("请输入大于 0 的数量，最多三位小数", "Enter a quantity above 0 with at most three decimals"),
            )]));
        }
    };
    let discount_bp = match input.get("discount").and_then(money::decimal_text) {
        None => 0,
        Some(text) => match money::parse_scaled(&text, 2, "discount") {
            Ok(bp) if (0..=money::BP).contains(&bp) => bp,
            _ => {
                return Ok(Outcome::invalid([(
                    "discount",
                    t.pick("折扣为 0 到 100 的百分数", "A percentage from 0 to 100"),
                )]));
            }
        },
    };
    let stored = order::get(order_id)?;
    let p = product::get(product_id)?;
    if !p.fields.active {
        return Ok(Outcome::invalid([("product_id", t.pick("该产品已停售", "This product is not sold any more"))]));
    }
    let price = match stored.fields.price_list_id {
        Some(list) => price_list::price_of(list, product_id)?.unwrap_or(p.fields.price_minor),
        None => p.fields.price_minor,
    };
    let line = NewLine {
        product_id,
        sku: p.fields.sku.clone(),
        name: p.fields.name.clone(),
        unit: p.fields.unit.clone(),
        quantity_milli: quantity,
        unit_price_minor: price,
        discount_bp,
        tax_rate_bp: p.fields.tax_rate_bp,
    };
    order::edit(order_id, Edit::AddLine(line), by, now)?;
    Ok(Outcome::success(format!("{} {}", t.pick("已添加", "Added"), p.fields.name)))
}

fn save(t: Text, order_id: Id, input: &Value, by: Option<Id>, now: i64) -> Result<Outcome> {
    let discount = match input.get("discount").and_then(money::decimal_text) {
        None => 0,
        Some(text) => match money::parse_scaled(&text, 2, "discount") {
            Ok(d) if d >= 0 => d,
            _ => {
                return Ok(Outcome::invalid([(
                    "discount",
                    t.pick(
                        "请输入不小于 0 的金额，最多两位小数",
                        "Enter an amount of 0 or more with at most two decimals",
                    ),
                )]));
            }
        },
    };
    let notes = input.get("notes").and_then(Value::as_str).map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
    match order::edit(order_id, Edit::Details { discount_minor: discount, notes }, by, now) {
        Ok(_) => Ok(Outcome::success(t.pick("已保存。", "Saved."))),
        Err(Error::Invalid(m)) if m.starts_with("discount_minor") => Ok(Outcome::invalid([("discount", m)])),
        Err(e) => Err(e),
    }
}
