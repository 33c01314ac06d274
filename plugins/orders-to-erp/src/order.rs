//! Sales orders (entity `order`, linked to the customer so that it is on the customer's
//! timeline) and their lines (entity `order_line`): creating them, editing drafts, submitting
//! them for approval and cancelling them. Every change of status is recorded by `history`.
//!
//! An order's number is `SO-<yyyymmdd>-<record id, at least four digits>`, the date in the
//! organisation's time zone: unique without a counter that concurrent orders would fight over.
//! Its version (`revision`) starts at 0 and goes up by one when the order is approved and when a
//! rejected order is changed, so that every approved content has a version of its own.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tessera_sdk::records::{self, Query, Typed};
use tessera_sdk::{Error, Id, Result, workflow};

use crate::approval;
use crate::config::Clock;
use crate::history::{self, Change, Source};
use crate::money::{self, LineAmounts, LineInput, Totals};
use crate::status::{Outcome, Status};
use crate::text;

pub const ENTITY: &str = "order";
pub const LINE: &str = "order_line";
/// The approval definition the manifest declares.
pub const DEFINITION: &str = "orders-to-erp-order";
/// Lines one order may have.
pub const MAX_LINES: usize = 200;
/// Characters of notes.
pub const MAX_NOTES: usize = 2_000;

/// An order's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub status: Status,
    #[serde(default)]
    pub revision: i64,
    pub customer_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_list_id: Option<Id>,
    pub currency: String,
    #[serde(default)]
    pub subtotal_minor: i64,
    #[serde(default)]
    pub discount_minor: i64,
    #[serde(default)]
    pub tax_minor: i64,
    #[serde(default)]
    pub total_minor: i64,
    #[serde(default)]
    pub line_count: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erp_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_number: Option<String>,
    pub summary: String,
    /// Approved, and this version not yet confirmed published (see `approval::publish_pending`).
    #[serde(default, deserialize_with = "records::or_default")]
    pub publish_pending: bool,
    /// The `Idempotency-Key` of the API request that created the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_key: Option<String>,
}

impl Order {
    /// The number, or `#<id>` in the moment before it is given one.
    pub fn number_or(&self, id: Id) -> String {
        self.number.clone().unwrap_or_else(|| format!("#{id}"))
    }

    /// The timeline line for the order as it stands.
    pub fn summary_for(&self, id: Id) -> String {
        text::order_summary(&self.number_or(id), self.status, self.total_minor, &self.currency)
    }
}

pub type Stored = Typed<Order>;

/// One line's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub order_id: Id,
    pub position: i64,
    pub product_id: Id,
    pub sku: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub quantity_milli: i64,
    pub unit_price_minor: i64,
    pub discount_bp: i64,
    pub tax_rate_bp: i64,
    pub gross_minor: i64,
    pub line_discount_minor: i64,
    pub net_minor: i64,
    pub order_discount_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
}

impl Line {
    /// What the arithmetic takes from the line.
    pub fn input(&self) -> LineInput {
        LineInput {
            unit_price_minor: self.unit_price_minor,
            quantity_milli: self.quantity_milli,
            discount_bp: self.discount_bp,
            tax_rate_bp: self.tax_rate_bp,
        }
    }

    /// The line's amounts as stored.
    pub fn amounts(&self) -> LineAmounts {
        LineAmounts {
            gross_minor: self.gross_minor,
            line_discount_minor: self.line_discount_minor,
            net_minor: self.net_minor,
            order_discount_minor: self.order_discount_minor,
            tax_minor: self.tax_minor,
            total_minor: self.total_minor,
        }
    }

    /// The line with these amounts.
    pub fn with_amounts(mut self, a: &LineAmounts) -> Line {
        self.gross_minor = a.gross_minor;
        self.line_discount_minor = a.line_discount_minor;
        self.net_minor = a.net_minor;
        self.order_discount_minor = a.order_discount_minor;
        self.tax_minor = a.tax_minor;
        self.total_minor = a.total_minor;
        self
    }
}

/// A line before it is computed and stored: the product it sells, at what price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    pub product_id: Id,
    pub sku: String,
    pub name: String,
    pub unit: Option<String>,
    pub quantity_milli: i64,
    pub unit_price_minor: i64,
    pub discount_bp: i64,
    pub tax_rate_bp: i64,
}

impl NewLine {
    fn into_line(self, order_id: Id, position: i64) -> Line {
        Line {
            order_id,
            position,
            product_id: self.product_id,
            sku: self.sku,
            name: self.name,
            unit: self.unit,
            quantity_milli: self.quantity_milli,
            unit_price_minor: self.unit_price_minor,
            discount_bp: self.discount_bp,
            tax_rate_bp: self.tax_rate_bp,
            gross_minor: 0,
            line_discount_minor: 0,
            net_minor: 0,
            order_discount_minor: 0,
            tax_minor: 0,
            total_minor: 0,
        }
    }
}

pub type StoredLine = Typed<Line>;

/// `SO-20261201-0042`.
pub fn number_for(id: Id, compact_date: &str) -> String {
    format!("SO-{compact_date}-{id:04}")
}

/// The customer an order is for, as the order keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRef {
    pub id: Id,
    pub name: String,
    pub code: Option<String>,
}

/// Reads a customer the caller may see.
pub fn customer(id: Id) -> Result<CustomerRef> {
    let c = tessera_sdk::customers::get(id)?;
    Ok(CustomerRef { id: c.id, name: c.name, code: Some(c.code).filter(|code| !code.is_empty()) })
}

/// What a new order is made of.
#[derive(Debug, Clone)]
pub struct Draft {
    pub customer: CustomerRef,
    pub currency: String,
    pub price_list_id: Option<Id>,
    pub lines: Vec<NewLine>,
    pub discount_minor: i64,
    pub notes: Option<String>,
    /// The `Idempotency-Key` of the API request, stored with the number once the order is whole.
    pub request_key: Option<String>,
}

/// Creates an order as a draft with its lines, numbered and on the customer's timeline.
/// Everything is checked and computed before the first write: bad input writes nothing.
pub fn create(draft: Draft, clock: &Clock, by: Option<Id>, now: i64) -> Result<(Stored, Vec<StoredLine>)> {
    if draft.lines.len() > MAX_LINES {
        return Err(Error::invalid(format!("lines: at most {MAX_LINES} lines per order")));
    }
    check_notes(draft.notes.as_deref())?;
    let inputs: Vec<LineInput> = draft
        .lines
        .iter()
        .map(|l| LineInput {
            unit_price_minor: l.unit_price_minor,
            quantity_milli: l.quantity_milli,
            discount_bp: l.discount_bp,
            tax_rate_bp: l.tax_rate_bp,
        })
        .collect();
    let totals = money::compute(&inputs, draft.discount_minor)?;
    let mut order = Order {
        number: None,
        status: Status::Draft,
        revision: 0,
        customer_name: draft.customer.name.clone(),
        customer_code: draft.customer.code.clone(),
        price_list_id: draft.price_list_id,
        currency: draft.currency,
        subtotal_minor: 0,
        discount_minor: 0,
        tax_minor: 0,
        total_minor: 0,
        line_count: 0,
        notes: draft.notes,
        approval_id: None,
        submitted_at: None,
        approved_at: None,
        erp_reference: None,
        tracking: None,
        invoice_number: None,
        summary: String::new(),
        publish_pending: false,
        request_key: None,
    };
    set_totals(&mut order, &totals, draft.lines.len());
    order.summary = text::order_summary("SO-…", Status::Draft, order.total_minor, &order.currency);
    let stored: Stored = records::insert_typed(ENTITY, &order, Some(draft.customer.id))?.into_typed()?;
    let id = stored.id;
    let mut lines = Vec::with_capacity(draft.lines.len());
    for (i, (new, amounts)) in draft.lines.into_iter().zip(&totals.lines).enumerate() {
        let position = i64::try_from(i).unwrap_or(i64::MAX) + 1;
        let line = new.into_line(id, position).with_amounts(amounts);
        lines.push(records::insert_typed(LINE, &line, None)?.into_typed::<Line>()?);
    }
    let number = number_for(id, &clock.compact_date(now));
    order.number = Some(number.clone());
    order.summary = order.summary_for(id);
    // The request key goes in last, with the number: only a whole order answers a repeated
    // request. When a concurrent repeat stored it first, this order is taken back.
    let mut patch = json!({ "number": number, "summary": order.summary });
    if let Some(key) = &draft.request_key {
        patch["request_key"] = json!(key);
    }
    let stored: Stored = match records::update(ENTITY, id, &patch.to_string(), Some(stored.version)) {
        Ok(record) => record.into_typed()?,
        Err(e @ Error::Conflict(_)) if draft.request_key.is_some() => {
            for line in &lines {
                records::delete(LINE, line.id)?;
            }
            records::delete(ENTITY, id)?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let change = Change { from: None, to: Status::Draft, at: now, by, source: Source::Crm, note: None };
    history::record(&stored, &change, &format!("order-{id}-created"))?;
    Ok((stored, lines))
}

fn set_totals(order: &mut Order, totals: &Totals, lines: usize) {
    order.subtotal_minor = totals.subtotal_minor;
    order.discount_minor = totals.discount_minor;
    order.tax_minor = totals.tax_minor;
    order.total_minor = totals.total_minor;
    order.line_count = i64::try_from(lines).unwrap_or(i64::MAX);
}

fn check_notes(notes: Option<&str>) -> Result<()> {
    match notes {
        Some(n) if n.chars().count() > MAX_NOTES => {
            Err(Error::invalid(format!("notes: at most {MAX_NOTES} characters")))
        }
        _ => Ok(()),
    }
}

/// One order.
pub fn get(id: Id) -> Result<Stored> {
    records::get_typed(ENTITY, id)
}

/// The order an API request with this `Idempotency-Key` created.
pub fn by_request_key(key: &str) -> Result<Option<Stored>> {
    let (mut found, _) = records::find_typed::<Order>(&Query::new(ENTITY).eq("request_key", key).limit(1))?;
    Ok(found.pop())
}

/// The order with this number.
pub fn by_number(number: &str) -> Result<Option<Stored>> {
    let (mut found, _) = records::find_typed::<Order>(&Query::new(ENTITY).eq("number", number).limit(1))?;
    Ok(found.pop())
}

/// An order's lines, in order.
pub fn lines(order_id: Id) -> Result<Vec<StoredLine>> {
    let query = Query::new(LINE).eq("order_id", order_id).order_by("position").limit(500);
    Ok(records::find_typed::<Line>(&query)?.0)
}

/// A change to a draft (or rejected) order.
#[derive(Debug, Clone)]
pub enum Edit {
    AddLine(NewLine),
    RemoveLine(Id),
    /// The order discount and the notes.
    Details {
        discount_minor: i64,
        notes: Option<String>,
    },
}

/// Applies an edit: the lines and totals are computed again, the lines whose amounts moved (the
/// order discount's shares) are updated, and a rejected order becomes a draft under a new
/// version. Bad input is refused before anything is written.
pub fn edit(order_id: Id, change: Edit, by: Option<Id>, now: i64) -> Result<Stored> {
    let stored = get(order_id)?;
    let order = &stored.fields;
    if !order.status.is_editable() {
        return Err(Error::conflict(format!(
            "{} is {}: only drafts and rejected orders can change",
            order.number_or(order_id),
            order.status.as_str()
        )));
    }
    let mut existing = lines(order_id)?;
    let mut discount = order.discount_minor;
    let mut notes = order.notes.clone();
    let mut added: Option<Line> = None;
    let mut removed: Option<Id> = None;
    match change {
        Edit::AddLine(new) => {
            if existing.len() >= MAX_LINES {
                return Err(Error::invalid(format!("lines: at most {MAX_LINES} lines per order")));
            }
            let position = existing.iter().map(|l| l.fields.position).max().unwrap_or(0) + 1;
            added = Some(new.into_line(order_id, position));
        }
        Edit::RemoveLine(line_id) => {
            let before = existing.len();
            existing.retain(|l| l.id != line_id);
            if existing.len() == before {
                return Err(Error::not_found(format!("line {line_id} is not a line of this order")));
            }
            // The order discount cannot outgrow what is left.
            let left: i64 = existing.iter().map(|l| l.fields.net_minor).sum();
            discount = discount.min(left.max(0));
            removed = Some(line_id);
        }
        Edit::Details { discount_minor, notes: new_notes } => {
            check_notes(new_notes.as_deref())?;
            discount = discount_minor;
            notes = new_notes;
        }
    }
    let mut inputs: Vec<LineInput> = existing.iter().map(|l| l.fields.input()).collect();
    inputs.extend(added.iter().map(Line::input));
    let totals = money::compute(&inputs, discount)?;
    if let Some(line_id) = removed {
        records::delete(LINE, line_id)?;
    }
    for (line, amounts) in existing.iter().zip(&totals.lines) {
        if line.fields.amounts() != *amounts {
            let patch = json!({
                "gross_minor": amounts.gross_minor,
                "line_discount_minor": amounts.line_discount_minor,
                "net_minor": amounts.net_minor,
                "order_discount_minor": amounts.order_discount_minor,
                "tax_minor": amounts.tax_minor,
                "total_minor": amounts.total_minor,
            });
            records::update(LINE, line.id, &patch.to_string(), None)?;
        }
    }
    if let (Some(line), Some(amounts)) = (added, totals.lines.last()) {
        records::insert_typed(LINE, &line.with_amounts(amounts), None)?;
    }
    let mut next = order.clone();
    set_totals(&mut next, &totals, totals.lines.len());
    next.notes = notes;
    let reopened = order.status == Status::Rejected;
    if reopened {
        next.status = Status::Draft;
        // The approval stays recorded, so that its outcome, delivered again, is known as done.
        next.revision += 1;
    }
    next.summary = next.summary_for(order_id);
    let patch = json!({
        "subtotal_minor": next.subtotal_minor,
        "discount_minor": next.discount_minor,
        "tax_minor": next.tax_minor,
        "total_minor": next.total_minor,
        "line_count": next.line_count,
        "notes": next.notes,
        "status": next.status,
        "revision": next.revision,
        "summary": next.summary,
    });
    let updated: Stored = records::update(ENTITY, order_id, &patch.to_string(), Some(stored.version))?.into_typed()?;
    if reopened {
        let key = format!("order-{order_id}-draft-v{}", next.revision);
        let change =
            Change { from: Some(Status::Rejected), to: Status::Draft, at: now, by, source: Source::Crm, note: None };
        history::record(&updated, &change, &key)?;
    }
    Ok(updated)
}

/// The fields the approval's conditions look at (`total_minor > 5000000` by default).
pub fn approval_fields(order: &Order) -> Value {
    json!({
        "number": order.number,
        "customer_name": order.customer_name,
        "currency": order.currency,
        "subtotal_minor": order.subtotal_minor,
        "discount_minor": order.discount_minor,
        "tax_minor": order.tax_minor,
        "total_minor": order.total_minor,
        "line_count": order.line_count,
        "revision": order.revision,
    })
}

/// The approval's title: `销售订单 SO-20261201-0042 · 北京科技 · ¥1,234.50`.
pub fn approval_title(id: Id, order: &Order) -> String {
    let title = format!(
        "销售订单 {} · {} · {}",
        order.number_or(id),
        order.customer_name,
        money::format(order.total_minor, &order.currency)
    );
    title.chars().take(200).collect()
}

/// Submits a draft (or rejected) order with lines for approval, on behalf of the signed-in
/// user. When the definition's steps all skip (a small order), the approval is decided at once
/// and the order is approved and delivered in this same call.
pub fn submit(order_id: Id, by: Option<Id>, now: i64) -> Result<Stored> {
    let stored = get(order_id)?;
    let order = &stored.fields;
    if !order.status.can_submit() {
        return Err(Error::conflict(format!(
            "{} is {}: only drafts and rejected orders can be submitted",
            order.number_or(order_id),
            order.status.as_str()
        )));
    }
    if order.line_count <= 0 {
        return Err(Error::invalid(format!(
            "{} has no lines: add a line before submitting it",
            order.number_or(order_id)
        )));
    }
    let fields = approval_fields(order).to_string();
    let approval = workflow::start(DEFINITION, ENTITY, order_id, &approval_title(order_id, order), &fields, None)?;
    let mut next = order.clone();
    next.status = Status::Pending;
    next.approval_id = Some(approval.id);
    next.submitted_at = Some(now);
    next.summary = next.summary_for(order_id);
    let patch =
        json!({ "status": next.status, "approval_id": approval.id, "submitted_at": now, "summary": next.summary });
    let updated: Stored = records::update(ENTITY, order_id, &patch.to_string(), Some(stored.version))?.into_typed()?;
    let key = format!("order-{order_id}-submitted-{}", approval.id);
    let change = Change { from: Some(order.status), to: Status::Pending, at: now, by, source: Source::Crm, note: None };
    history::record(&updated, &change, &key)?;
    match Outcome::parse(&approval.state) {
        Some(outcome) => {
            approval::apply(order_id, approval.id, outcome, by, now)?;
            get(order_id)
        }
        None => Ok(updated),
    }
}

/// Cancels a draft or rejected order in the CRM.
pub fn cancel(order_id: Id, by: Option<Id>, now: i64) -> Result<Stored> {
    let stored = get(order_id)?;
    let order = &stored.fields;
    if !order.status.can_cancel_in_crm() {
        return Err(Error::conflict(format!(
            "{} is {}: only drafts and rejected orders can be cancelled here; the ERP cancels approved ones",
            order.number_or(order_id),
            order.status.as_str()
        )));
    }
    let mut next = order.clone();
    next.status = Status::Cancelled;
    next.summary = next.summary_for(order_id);
    let patch = json!({ "status": next.status, "summary": next.summary });
    let updated: Stored = records::update(ENTITY, order_id, &patch.to_string(), Some(stored.version))?.into_typed()?;
    let change =
        Change { from: Some(order.status), to: Status::Cancelled, at: now, by, source: Source::Crm, note: None };
    history::record(&updated, &change, &format!("order-{order_id}-cancelled"))?;
    Ok(updated)
}

/// A line as the JSON API and the ERP read it.
pub fn line_json(line: &StoredLine) -> Value {
    let l = &line.fields;
    json!({
        "line_id": line.id,
        "position": l.position,
        "product_id": l.product_id,
        "sku": l.sku,
        "name": l.name,
        "unit": l.unit,
        "quantity": money::format_quantity(l.quantity_milli),
        "quantity_milli": l.quantity_milli,
        "unit_price_minor": l.unit_price_minor,
        "discount_bp": l.discount_bp,
        "tax_rate_bp": l.tax_rate_bp,
        "gross_minor": l.gross_minor,
        "line_discount_minor": l.line_discount_minor,
        "net_minor": l.net_minor,
        "order_discount_minor": l.order_discount_minor,
        "tax_minor": l.tax_minor,
        "total_minor": l.total_minor,
    })
}

/// An order as the JSON API answers it (without its lines).
pub fn order_json(order: &Stored) -> Value {
    let o = &order.fields;
    let time = |ms: Option<i64>| ms.map(tessera_sdk::time::rfc3339);
    json!({
        "id": order.id,
        "number": o.number,
        "status": o.status,
        "version": o.revision,
        "customer": { "id": order.customer_id, "name": o.customer_name, "code": o.customer_code },
        "currency": o.currency,
        "price_list_id": o.price_list_id,
        "subtotal_minor": o.subtotal_minor,
        "discount_minor": o.discount_minor,
        "tax_minor": o.tax_minor,
        "total_minor": o.total_minor,
        "line_count": o.line_count,
        "notes": o.notes,
        "approval_id": o.approval_id,
        "submitted_at": time(o.submitted_at),
        "approved_at": time(o.approved_at),
        "erp_reference": o.erp_reference,
        "tracking": o.tracking,
        "invoice_number": o.invoice_number,
        "created_at": tessera_sdk::time::rfc3339(order.created_at),
        "updated_at": tessera_sdk::time::rfc3339(order.updated_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_carry_the_date_and_the_record_id() {
        assert_eq!(number_for(42, "20261201"), "SO-20261201-0042");
        assert_eq!(number_for(123_456, "20261201"), "SO-20261201-123456");
    }

    fn order(total: i64) -> Order {
        Order {
            number: Some("SO-20261201-0042".into()),
            status: Status::Draft,
            revision: 0,
            customer_name: "北京科技".into(),
            customer_code: Some("KH-2026-00001".into()),
            price_list_id: None,
            currency: "CNY".into(),
            subtotal_minor: total,
            discount_minor: 0,
            tax_minor: 0,
            total_minor: total,
            line_count: 1,
            notes: None,
            approval_id: None,
            submitted_at: None,
            approved_at: None,
            erp_reference: None,
            tracking: None,
            invoice_number: None,
            summary: String::new(),
            publish_pending: false,
            request_key: None,
        }
    }

    #[test]
    fn the_approval_sees_the_total_in_minor_units() {
        let fields = approval_fields(&order(5_000_001));
        assert_eq!(fields["total_minor"], 5_000_001);
        assert_eq!(fields["currency"], "CNY");
        assert_eq!(approval_title(42, &order(123_450)), "销售订单 SO-20261201-0042 · 北京科技 · ¥1,234.50");
        let mut long = order(1);
        long.customer_name = "长".repeat(300);
        assert_eq!(approval_title(42, &long).chars().count(), 200);
    }

    #[test]
    fn stored_orders_read_back_with_their_defaults() {
        let stored = r#"{"status":"pending","customer_name":"x","currency":"USD","summary":"s","approval_id":7}"#;
        let o: Order = serde_json::from_str(stored).expect("reads");
        assert_eq!((o.status, o.revision, o.total_minor, o.approval_id), (Status::Pending, 0, 0, Some(7)));
        assert_eq!(o.number_or(9), "#9");
        let written = serde_json::to_value(order(1)).expect("writes");
        assert!(written.get("approval_id").is_none(), "unset fields are left out of inserts: {written}");
    }
}
