//! What the lists of orders share (the orders page, the customer panel, the ERP page): their
//! columns and the row action that opens an order.

use tessera_sdk::ui::{Action, Outcome, Table};
use tessera_sdk::{Error, Id, Result};

use crate::config::Clock;
use crate::money;
use crate::order::Stored;
use crate::text::Text;

/// The page of one order.
pub fn order_link(id: Id) -> String {
    format!("/p/orders-to-erp/order?id={id}")
}

/// A column of a table of orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Number,
    Customer,
    Status,
    Total,
    Created,
    Approved,
    ErpReference,
    Key,
}

/// A table of orders with `columns`, each row's id the order's id, and an "open" row action.
pub fn table(t: Text, clock: &Clock, columns: &[Column], orders: &[Stored]) -> Table {
    let table = columns.iter().fold(Table::new(), |table, column| {
        let (key, label) = match column {
            Column::Number => ("number", t.number()),
            Column::Customer => ("customer", t.customer()),
            Column::Status => ("status", t.status_label()),
            Column::Total => ("total", t.total()),
            Column::Created => ("created", t.created()),
            Column::Approved => ("approved", t.pick("批准时间", "Approved")),
            Column::ErpReference => ("erp_reference", t.erp_reference()),
            Column::Key => ("key", t.pick("幂等键", "Idempotency key")),
        };
        table.column(key, label)
    });
    let table = orders.iter().fold(table, |table, stored| {
        let o = &stored.fields;
        let cells = columns.iter().map(|column| match column {
            Column::Number => o.number_or(stored.id),
            Column::Customer => o.customer_name.clone(),
            Column::Status => t.status(o.status),
            Column::Total => money::format(o.total_minor, &o.currency),
            Column::Created => clock.time(stored.created_at),
            Column::Approved => o.approved_at.map(|at| clock.time(at)).unwrap_or_else(|| t.dash()),
            Column::ErpReference => o.erp_reference.clone().unwrap_or_else(|| t.dash()),
            Column::Key => crate::delivery::idempotency_key(stored.id, o.revision),
        });
        table.row(stored.id.to_string(), cells.collect::<Vec<_>>())
    });
    table.row_action(Action::new("open", t.open()))
}

/// The row action "open": to the order's page.
pub fn open(argument: Option<&str>) -> Result<Outcome> {
    let id: Id = argument
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| Error::invalid("open: the argument must be an order id"))?;
    Ok(Outcome::redirect(order_link(id)))
}

/// A record id passed as an action's argument.
pub fn argument_id(argument: Option<&str>, what: &str) -> Result<Id> {
    argument
        .and_then(|a| a.trim().parse().ok())
        .ok_or_else(|| Error::invalid(format!("the action needs the {what} id as its argument")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_open_their_order() {
        assert_eq!(open(Some("42")), Ok(Outcome::redirect("/p/orders-to-erp/order?id=42")));
        assert_eq!(open(Some("x")).map_err(|e| e.kind()), Err("invalid"));
        assert_eq!(argument_id(Some(" 7 "), "order"), Ok(7));
        assert!(argument_id(None, "order").is_err());
    }
}
