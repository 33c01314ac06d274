//! Delivering an approved order to the ERP. The plugin publishes `orders-to-erp.order.approved`
//! once per order version (`events::publish_once`, key `order-<id>-v<version>`); the host sends
//! it to every webhook endpoint the administrator subscribed to `orders-to-erp.*` (Admin →
//! Integrations), signed per Standard Webhooks, with the key in the `idempotency-key` header and
//! the same `webhook-id` on every attempt, retried on the schedule of `docs/api.md`, kept as a
//! dead letter for manual redelivery when every attempt failed. A handler that runs again
//! publishes nothing twice.

use serde_json::{Value, json};
use tessera_sdk::{Id, Result, events, time};

use crate::order::{self, Stored, StoredLine};

/// The event's name; its topic is `orders-to-erp.order.approved`.
pub const EVENT: &str = "order.approved";

/// The idempotency key of an order's version: `order-42-v1`.
pub fn idempotency_key(order_id: Id, version: i64) -> String {
    format!("order-{order_id}-v{version}")
}

/// Everything the ERP needs to book the order (documented in the README).
pub fn payload(order: &Stored, lines: &[StoredLine]) -> Value {
    let o = &order.fields;
    json!({
        "idempotency_key": idempotency_key(order.id, o.revision),
        "order_id": order.id,
        "number": o.number,
        "version": o.revision,
        "status": o.status,
        "customer": { "id": order.customer_id, "name": o.customer_name, "code": o.customer_code },
        "currency": o.currency,
        "price_list_id": o.price_list_id,
        "lines": lines.iter().map(order::line_json).collect::<Vec<_>>(),
        "subtotal_minor": o.subtotal_minor,
        "discount_minor": o.discount_minor,
        "tax_minor": o.tax_minor,
        "total_minor": o.total_minor,
        "approval_id": o.approval_id,
        "approved_at": o.approved_at.map(time::rfc3339),
        "notes": o.notes,
    })
}

/// Publishes the approved order; false when this version was published before.
pub fn publish(order: &Stored) -> Result<bool> {
    let lines = order::lines(order.id)?;
    let key = idempotency_key(order.id, order.fields.revision);
    events::publish_once_json(EVENT, &key, order::ENTITY, order.id, &payload(order, &lines))
}

#[cfg(test)]
mod tests {
    use tessera_sdk::records::Typed;

    use super::*;
    use crate::order::{Line, Order};
    use crate::status::Status;

    fn typed<T>(id: Id, fields: T) -> Typed<T> {
        Typed { id, customer_id: Some(7), owner_id: Some(2), created_at: 0, updated_at: 0, version: 3, fields }
    }

    #[test]
    fn the_payload_carries_the_whole_order_and_its_key() {
        let order = typed(
            42,
            Order {
                number: Some("SO-20261201-0042".into()),
                status: Status::Approved,
                revision: 1,
                customer_name: "北京科技".into(),
                customer_code: Some("KH-2026-00001".into()),
                price_list_id: None,
                currency: "CNY".into(),
                subtotal_minor: 25_000,
                discount_minor: 1_000,
                tax_minor: 3_120,
                total_minor: 27_120,
                line_count: 1,
                notes: Some("月底前发货".into()),
                approval_id: Some(9),
                submitted_at: Some(1_796_088_000_000),
                approved_at: Some(1_796_088_600_000),
                erp_reference: None,
                tracking: None,
                invoice_number: None,
                summary: String::new(),
                publish_pending: false,
                request_key: None,
            },
        );
        let line = typed(
            100,
            Line {
                order_id: 42,
                position: 1,
                product_id: 5,
                sku: "A-100".into(),
                name: "办公椅".into(),
                unit: Some("把".into()),
                quantity_milli: 2_500,
                unit_price_minor: 10_000,
                discount_bp: 0,
                tax_rate_bp: 1_300,
                gross_minor: 25_000,
                line_discount_minor: 0,
                net_minor: 25_000,
                order_discount_minor: 1_000,
                tax_minor: 3_120,
                total_minor: 27_120,
            },
        );
        let p = payload(&order, &[line]);
        assert_eq!(p["idempotency_key"], "order-42-v1");
        assert_eq!((&p["order_id"], &p["number"], &p["version"]), (&json!(42), &json!("SO-20261201-0042"), &json!(1)));
        assert_eq!(p["customer"], json!({ "id": 7, "name": "北京科技", "code": "KH-2026-00001" }));
        assert_eq!(p["approved_at"], "2026-12-01T01:30:00.000Z");
        assert_eq!(p["lines"][0]["quantity"], "2.5");
        assert_eq!(p["lines"][0]["quantity_milli"], 2_500);
        assert_eq!(p["lines"][0]["total_minor"], 27_120);
        assert_eq!((&p["total_minor"], &p["notes"]), (&json!(27_120), &json!("月底前发货")));
    }
}
