//! The panel on the customer page (`customer-orders`, 销售订单): the customer's orders, newest
//! first, and "new sales order", which makes a draft for the customer and opens it.

use tessera_sdk::records::{self, Query};
use tessera_sdk::ui::{Action, Outcome, Page, RenderRequest};
use tessera_sdk::{Caller, Error, Result};

use crate::api;
use crate::config::Clock;
use crate::listing::{self, Column};
use crate::order::{self, Draft, Order};
use crate::text::Text;

/// Orders the panel lists.
const SHOWN: u32 = 20;

/// Draws the panel of one customer.
pub fn render(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let customer = request.require_customer()?;
    let query = Query::new(order::ENTITY).customer(customer).limit(SHOWN);
    let (orders, _) = records::find_typed::<Order>(&query)?;
    let page = Page::new(t.pick("销售订单", "Sales orders"))
        .actions([Action::primary("new-order", t.new_order()).argument(customer.to_string())]);
    if orders.is_empty() {
        return Ok(page.notice("info", t.pick("该客户暂无销售订单。", "This customer has no sales orders yet.")));
    }
    let clock = Clock::load();
    let columns = [Column::Number, Column::Status, Column::Total, Column::Created, Column::ErpReference];
    Ok(page.table(listing::table(t, &clock, &columns, &orders)))
}

/// The panel's actions.
pub fn act(caller: &Caller, action: &str, argument: Option<&str>, now: i64) -> Result<Outcome> {
    match action {
        "new-order" => {
            let customer_id = listing::argument_id(argument, "customer")?;
            let customer = order::customer(customer_id)?;
            let clock = Clock::load();
            let (price_list_id, currency) = api::choose_price_list(None, &clock, now)?;
            let draft = Draft {
                customer,
                currency,
                price_list_id,
                lines: Vec::new(),
                discount_minor: 0,
                notes: None,
                request_key: None,
            };
            let (stored, _) = order::create(draft, &clock, caller.user_id, now)?;
            Ok(Outcome::redirect(listing::order_link(stored.id)))
        }
        "open" => listing::open(argument),
        _ => Err(Error::not_found(format!("no action {action:?} on the customer's orders"))),
    }
}
