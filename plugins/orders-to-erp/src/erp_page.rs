//! The ERP page (`erp`, administrators only): how to connect the ERP (the webhook endpoint to add
//! under Admin → Integrations, the callback URL, the settings), whether the settings are there,
//! the last stock pull, and the orders as delivery sees them: approved orders the ERP has not
//! reported on yet (oldest first, with their idempotency keys), and counts by status.

use tessera_sdk::records::{self, Query};
use tessera_sdk::ui::{Outcome, Page, RenderRequest, Stat};
use tessera_sdk::{Caller, Error, Result};

use crate::callbacks;
use crate::config::{self, Clock};
use crate::delivery;
use crate::listing::{self, Column};
use crate::order::{self, Order};
use crate::status::Status;
use crate::text::Text;

/// Orders counted per status before the count shows as "500+".
const COUNT_CAP: u32 = 500;

/// Draws the page.
pub fn render(caller: &Caller, _request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let clock = Clock::load();
    let topic = format!("orders-to-erp.{}", delivery::EVENT);
    let mut page = Page::new(t.pick("ERP 对接", "ERP connection")).heading(t.pick("如何对接", "How to connect"));
    page = page.text(match t.is_english() {
        true => format!(
            "1. Orders to the ERP: under Admin → Integrations, add a webhook endpoint with the ERP's URL and the topic orders-to-erp.* . \
             Every approved order is sent to it as {topic}, signed per Standard Webhooks with the endpoint's secret, with the header \
             idempotency-key: order-<id>-v<version> (the same webhook-id on every attempt). Failed deliveries are retried after 5 s, 1 min, \
             5 min, 30 min, 2 h, 6 h, 12 h and 24 h; after the last they are dead letters there, to be redelivered by hand.\n\n\
             2. Callbacks from the ERP: the ERP posts order.shipped, order.invoiced and order.cancelled to \
             https://<this CRM>/hooks/orders-to-erp/<organisation short name>{path}, signed per Standard Webhooks with the erp_secret \
             setting (whsec_…).\n\n\
             3. Stock: set erp_api_url (and erp_api_token if the ERP wants a bearer token); every ten minutes the plugin requests \
             <erp_api_url>/stock and expects [{{\"sku\": \"A-100\", \"on_hand\": 12}}].",
            path = callbacks::PATH
        ),
        false => format!(
            "1. 推送订单：在 系统管理 → 集成 中添加 Webhook 端点，填写 ERP 的接收地址，订阅主题 orders-to-erp.* 。\
             每个批准的订单以 {topic} 事件推送，按 Standard Webhooks 用端点密钥签名，并带请求头 idempotency-key: order-<订单 id>-v<版本>\
             （每次重试的 webhook-id 相同）。推送失败会在 5 秒、1 分、5 分、30 分、2 小时、6 小时、12 小时、24 小时后重试；全部失败后成为死信，可在该页面手动重发。\n\n\
             2. ERP 回调：ERP 将 order.shipped、order.invoiced、order.cancelled 发送到 \
             https://<本 CRM 地址>/hooks/orders-to-erp/<组织简称>{path}，按 Standard Webhooks 用设置中的 erp_secret（whsec_…）签名。\n\n\
             3. 库存：设置 erp_api_url（如需要再设置 erp_api_token）；插件每 10 分钟请求 <erp_api_url>/stock，\
             应返回 [{{\"sku\": \"A-100\", \"on_hand\": 12}}]。",
            path = callbacks::PATH
        ),
    });
    let set = |value: bool| if value { t.pick("已设置", "set") } else { t.pick("未设置", "not set") };
    page = page.key_values([
        (t.currency(), config::currency()),
        ("erp_api_url".to_owned(), config::erp_api_url().unwrap_or_else(|| set(false))),
        ("erp_api_token".to_owned(), set(config::erp_api_token().is_some())),
        ("erp_secret".to_owned(), set(config::erp_secret().is_some())),
        (
            t.pick("上次库存同步", "Last stock sync"),
            match config::stock_sync() {
                None => t.never(),
                Some(sync) => match sync.error {
                    Some(error) => format!("{} · {error}", clock.time(sync.at)),
                    None => clock.time(sync.at),
                },
            },
        ),
    ]);
    if config::erp_secret().is_none() {
        page = page.notice(
            "warning",
            t.pick(
                "未设置 erp_secret：ERP 的回调都会被拒绝（403）。",
                "No erp_secret is set: every callback of the ERP is refused (403).",
            ),
        );
    }

    page = page.heading(t.pick("订单状态", "Orders by status"));
    let mut stats = Vec::new();
    for status in [Status::Pending, Status::Approved, Status::Shipped, Status::Invoiced, Status::Cancelled] {
        let query = Query::new(order::ENTITY).eq("status", status.as_str()).limit(COUNT_CAP);
        let page = records::find(&query)?;
        let count = match page.next {
            Some(_) => format!("{COUNT_CAP}+"),
            None => page.items.len().to_string(),
        };
        stats.push(Stat::new(t.status(status), count));
    }
    page = page.stats(stats);

    page = page.heading(t.pick("已批准、等待 ERP 回报", "Approved, waiting for the ERP"));
    let query = Query::new(order::ENTITY).eq("status", Status::Approved.as_str()).order_by("approved_at").limit(50);
    let (waiting, _) = records::find_typed::<Order>(&query)?;
    if waiting.is_empty() {
        return Ok(page.notice("info", t.pick("没有等待 ERP 的订单。", "No order is waiting for the ERP.")));
    }
    let columns = [Column::Number, Column::Customer, Column::Total, Column::Approved, Column::Key];
    Ok(page.table(listing::table(t, &clock, &columns, &waiting)))
}

/// The page's actions: the rows open their order.
pub fn act(action: &str, argument: Option<&str>) -> Result<Outcome> {
    match action {
        "open" => listing::open(argument),
        _ => Err(Error::not_found(format!("no action {action:?} on the ERP page"))),
    }
}
