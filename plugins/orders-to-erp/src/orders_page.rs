//! The orders page (`orders`, menu 销售订单): every order the user may see, newest first, paged,
//! filtered by status.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_sdk::records::{self, Query};
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, RenderRequest};
use tessera_sdk::{Caller, Error, Result};

use crate::config::Clock;
use crate::listing::{self, Column};
use crate::order::{self, Order};
use crate::status::Status;
use crate::text::Text;

const PAGE_LINK: &str = "/p/orders-to-erp/orders";
const PAGE_SIZE: u32 = 50;

/// What the list shows; it travels in the table's cursor so that paging keeps the filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Filter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

impl Filter {
    fn of(request: &RenderRequest) -> Filter {
        if let Some(filter) = request.cursor().and_then(|c| serde_json::from_str::<Filter>(c).ok()) {
            return filter;
        }
        Filter { status: request.param("status").and_then(Status::parse), after: None }
    }

    fn next(&self, after: Option<String>) -> Option<String> {
        serde_json::to_string(&Filter { after: Some(after?), ..self.clone() }).ok()
    }

    fn query(&self) -> Query {
        let mut query = Query::new(order::ENTITY).limit(PAGE_SIZE);
        if let Some(status) = self.status {
            query = query.eq("status", status.as_str());
        }
        match &self.after {
            Some(after) => query.cursor(after.as_str()),
            None => query,
        }
    }
}

/// Draws the list.
pub fn render(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let filter = Filter::of(request);
    let (orders, next) = records::find_typed::<Order>(&filter.query())?;
    let mut options = vec![(String::new(), t.all_statuses())];
    options.extend(Status::ALL.iter().map(|s| (s.as_str().to_owned(), t.status(*s))));
    let page = Page::new(t.pick("销售订单", "Sales orders"))
        .text(t.pick(
            "在客户页面的“销售订单”面板中新建订单；超过审批条件的订单需经理审批，批准后自动推送至 ERP。",
            "Start an order from the Sales orders panel of a customer's page; orders above the approval threshold need their manager's approval, and approved orders go to the ERP on their own.",
        ))
        .form(Form::new(Action::new("filter", t.filter())).field(
            Field::select("status", t.status_label(), options).value(filter.status.map(Status::as_str).unwrap_or_default()),
        ));
    if orders.is_empty() && filter.after.is_none() {
        return Ok(page.notice("info", t.no_orders()));
    }
    let clock = Clock::load();
    let columns =
        [Column::Number, Column::Customer, Column::Status, Column::Total, Column::Created, Column::ErpReference];
    Ok(page.table(listing::table(t, &clock, &columns, &orders).next(filter.next(next))))
}

/// The page's actions.
pub fn act(action: &str, argument: Option<&str>, input: &Value) -> Result<Outcome> {
    match action {
        "filter" => {
            let status = input.get("status").and_then(Value::as_str).and_then(Status::parse);
            Ok(Outcome::redirect(match status {
                Some(status) => format!("{PAGE_LINK}?status={}", status.as_str()),
                None => PAGE_LINK.to_owned(),
            }))
        }
        "open" => listing::open(argument),
        _ => Err(Error::not_found(format!("no action {action:?} on the orders page"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_statuses_filter_and_paging_keeps_them() {
        let mut request = RenderRequest::new("orders");
        request.params.push(("status".into(), "approved".into()));
        let filter = Filter::of(&request);
        assert_eq!(filter.status, Some(Status::Approved));
        assert_eq!(filter.query().where_[0].value, "\"approved\"");
        let mut next = RenderRequest::new("orders");
        next.params.push(("cursor".into(), filter.next(Some("c2".into())).unwrap_or_default()));
        assert_eq!(Filter::of(&next), Filter { status: Some(Status::Approved), after: Some("c2".into()) });
        let mut bad = RenderRequest::new("orders");
        bad.params.push(("status".into(), "'; drop".into()));
        assert_eq!(Filter::of(&bad), Filter::default());
        assert!(Filter::default().query().where_.is_empty());
    }
}
