//! 销售订单 → 进销存 / Sales orders to the ERP: products and price lists; sales orders with
//! lines, discounts and taxes in integer minor units, made from a customer's page or the JSON
//! API; approval on the host's workflow kernel; on approval the order is published once per
//! version as `orders-to-erp.order.approved`, which the host delivers to the ERP's webhook
//! endpoint signed per Standard Webhooks, with retries, dead letters and redelivery; the ERP
//! reports shipped, invoiced and cancelled through a signed callback; stock levels are pulled
//! from the ERP every ten minutes. Every status change is on the customer's timeline.
//!
//! - `money`: the arithmetic of an order (pure); `status`: the statuses and their changes
//!   (pure); `signature`: Standard Webhooks verification (pure);
//! - `product`, `price_list`, `order` and `history`: the entities;
//! - `approval`: the outcome of an approval, and `delivery`: publishing an approved order;
//! - `api`: the JSON API; `callbacks`: the ERP's signed callbacks; `stock`: the stock pull;
//! - `orders_page`, `order_page`, `products_page`, `price_lists_page`, `erp_page` and `panel`
//!   (on the customer page), sharing `listing`; `text` for both languages; `config` for the
//!   settings and the organisation's clock.

mod api;
mod approval;
mod callbacks;
mod config;
mod delivery;
mod erp_page;
mod history;
mod listing;
mod money;
mod order;
mod order_page;
mod orders_page;
mod panel;
mod price_list;
mod price_lists_page;
mod product;
mod products_page;
mod signature;
mod status;
mod stock;
mod text;

use serde_json::Value;
use tessera_sdk::events::Event;
use tessera_sdk::http::{Request, Response};
use tessera_sdk::ui::{Outcome, Page, RenderRequest};
use tessera_sdk::{Caller, Error, Json, Plugin, Result, from_json, log, time};

/// The plugin. The host starts it afresh for every call; what it keeps lives in its records and
/// settings.
struct OrdersToErp;

impl Plugin for OrdersToErp {
    fn on_event(_caller: Caller, event: Event) -> Result<()> {
        match event.topic.as_str() {
            "workflow.completed" => approval::on_completed(&event, time::now_ms()),
            _ => Ok(()),
        }
    }

    fn run_job(_caller: Caller, name: String) -> Result<()> {
        match name.as_str() {
            "pull-stock" => match stock::pull(time::now_ms())? {
                Some(_) => Ok(()),
                None => {
                    log::debug("no erp_api_url is set: the stock pull has nothing to do");
                    Ok(())
                }
            },
            "publish-approved" => approval::publish_pending(time::now_ms()).map(|_| ()),
            _ => Err(Error::invalid(format!("no such job: {name:?}"))),
        }
    }

    fn handle_http(caller: Caller, request: Request) -> Response {
        let now = time::now_ms();
        if request.is_hook() {
            callbacks::handle(&request, now)
        } else if request.is_driver() {
            Response::error(&Error::not_found("the plugin takes no device driver reports"))
        } else {
            api::handle(&caller, &request, now)
        }
    }

    fn render(caller: Caller, request: RenderRequest) -> Result<Page> {
        match request.target.as_str() {
            "orders" => orders_page::render(&caller, &request),
            "order" => order_page::render(&caller, &request),
            "products" => products_page::render(&caller, &request),
            "price-lists" => price_lists_page::render(&caller, &request),
            "erp" => erp_page::render(&caller, &request),
            "customer-orders" => panel::render(&caller, &request),
            other => Err(Error::not_found(format!("no page {other:?}"))),
        }
    }

    fn act(caller: Caller, target: String, action: String, argument: Option<String>, input: Json) -> Result<Outcome> {
        let input: Value = from_json("form input", &input)?;
        let (argument, now) = (argument.as_deref(), time::now_ms());
        match target.as_str() {
            "orders" => orders_page::act(&action, argument, &input),
            "order" => order_page::act(&caller, &action, argument, &input, now),
            "products" => products_page::act(&caller, &action, argument, &input, now),
            "price-lists" => price_lists_page::act(&caller, &action, argument, &input),
            "erp" => erp_page::act(&action, argument),
            "customer-orders" => panel::act(&caller, &action, argument, now),
            _ => Err(Error::not_found(format!("no action {action:?} on {target:?}"))),
        }
    }
}

tessera_sdk::export!(OrdersToErp);
