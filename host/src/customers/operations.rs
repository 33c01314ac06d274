//! Operations on customers beyond editing one record: sharing with colleagues or departments,
//! transferring to another owner (one, many, or everything of someone who left), batch edits,
//! duplicate detection and merging. Each is permission-checked record by record, runs in one
//! transaction, and leaves an audit entry and domain events.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use super::{Customer, names};
use crate::access::{Access, Action, ShareLevel};
use crate::audit::AuditEntry;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::store::{Id, SqlBuf, Store, now_ms};
use crate::timefmt::rfc3339;

/// Most records one bulk operation touches.
pub const MAX_BATCH: usize = 10_000;

/// A share of a customer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Share {
    pub id: Id,
    pub customer_id: Id,
    pub user_id: Option<Id>,
    pub department_id: Option<Id>,
    pub level: ShareLevel,
    pub created_by: Option<Id>,
    pub created_at: String,
}

/// Share a customer with one colleague or one department.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewShare {
    pub user_id: Option<Id>,
    pub department_id: Option<Id>,
    pub level: ShareLevel,
}

pub async fn list_shares(store: &Store, access: &Access, customer_id: Id) -> Result<Vec<Share>> {
    super::get(store, access, customer_id, Action::Read).await?;
    let rows = sqlx::query(
        "SELECT id, customer_id, user_id, department_id, level, created_by, created_at FROM customer_shares \
         WHERE org_id = $1 AND customer_id = $2 ORDER BY id",
    )
    .bind(access.principal().org_id)
    .bind(customer_id)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let level: String = r.try_get(4)?;
            Ok(Share {
                id: r.try_get(0)?,
                customer_id: r.try_get(1)?,
                user_id: r.try_get(2)?,
                department_id: r.try_get(3)?,
                level: if level == "edit" { ShareLevel::Edit } else { ShareLevel::Read },
                created_by: r.try_get(5)?,
                created_at: rfc3339(r.try_get(6)?),
            })
        })
        .collect()
}

/// Shares a customer (those who may edit it may share it). Sharing again changes the level.
pub async fn share(store: &Store, access: &Access, customer_id: Id, new: &NewShare) -> Result<Share> {
    share_many(store, access, &[customer_id], new).await?;
    list_shares(store, access, customer_id)
        .await?
        .into_iter()
        .find(|s| s.user_id == new.user_id && s.department_id == new.department_id)
        .ok_or(Error::NotFound("share"))
}

/// Shares many customers with the same user or department, all or nothing: the user must
/// be able to edit every one of them.
pub async fn share_many(store: &Store, access: &Access, customer_ids: &[Id], new: &NewShare) -> Result<usize> {
    let p = *access.principal();
    if customer_ids.is_empty() || customer_ids.len() > MAX_BATCH {
        return Err(Error::invalid("customer_ids", format!("name 1 to {MAX_BATCH} customers")));
    }
    if new.user_id.is_some() == new.department_id.is_some() {
        return Err(Error::invalid("user_id", "share with exactly one of user_id or department_id"));
    }
    let mut customers = Vec::with_capacity(customer_ids.len());
    for id in customer_ids {
        customers.push(super::get(store, access, *id, Action::Edit).await?);
    }
    let mut tx = store.begin_write().await?;
    if let Some(u) = new.user_id {
        crate::org::ensure_exists(&mut *tx, "users", "user_id", p.org_id, u).await?;
    }
    if let Some(d) = new.department_id {
        crate::org::ensure_exists(&mut *tx, "departments", "department_id", p.org_id, d).await?;
    }
    for customer in &customers {
        let mut del = SqlBuf::new("DELETE FROM customer_shares WHERE org_id = ");
        del.bind(p.org_id).push(" AND customer_id = ").bind(customer.id);
        match (new.user_id, new.department_id) {
            (Some(u), _) => del.push(" AND user_id = ").bind(u),
            (_, Some(d)) => del.push(" AND department_id = ").bind(d),
            _ => &mut del,
        };
        del.query().execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO customer_shares (org_id, customer_id, user_id, department_id, level, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(p.org_id)
        .bind(customer.id)
        .bind(new.user_id)
        .bind(new.department_id)
        .bind(new.level.as_str())
        .bind(p.user_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        AuditEntry::new(p.org_id, Some(p.user_id), "customer.shared")
            .target("customer", customer.id)
            .detail(serde_json::json!({ "code": customer.code, "user_id": new.user_id, "department_id": new.department_id, "level": new.level }))
            .record(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(customers.len())
}

/// Withdraws a share.
pub async fn unshare(store: &Store, access: &Access, customer_id: Id, share_id: Id) -> Result<()> {
    let p = *access.principal();
    super::get(store, access, customer_id, Action::Edit).await?;
    let mut tx = store.begin_write().await?;
    let done = sqlx::query("DELETE FROM customer_shares WHERE id = $1 AND org_id = $2 AND customer_id = $3")
        .bind(share_id)
        .bind(p.org_id)
        .bind(customer_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("share"));
    }
    AuditEntry::new(p.org_id, Some(p.user_id), "customer.unshared")
        .target("customer", customer_id)
        .detail(serde_json::json!({ "share_id": share_id }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Which customers to transfer, to whom, and why.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// These customers …
    #[serde(default)]
    pub customer_ids: Vec<Id>,
    /// … and/or every customer this user owns (for someone who left).
    pub from_user_id: Option<Id>,
    pub to_user_id: Id,
    pub reason: String,
}

/// What a transfer did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransferResult {
    pub transferred: Vec<Id>,
    /// Follow-ups still due that moved to the new owner with their customers.
    pub open_follow_ups_moved: u64,
}

/// Moves customers to a new owner (and the owner's department). Their contacts go with them;
/// follow-ups the previous owner still had due on them move to the new owner, while the
/// history of who did what stays. All or nothing: one customer the user may not transfer
/// stops the whole transfer.
pub async fn transfer(store: &Store, access: &Access, req: &TransferRequest) -> Result<TransferResult> {
    let p = *access.principal();
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Error::invalid("reason", "give a reason of 1–500 characters; it is kept in the transfer log"));
    }
    if req.customer_ids.is_empty() && req.from_user_id.is_none() {
        return Err(Error::invalid(
            "customer_ids",
            "name the customers, or from_user_id to transfer all of one owner's",
        ));
    }
    if req.customer_ids.len() > MAX_BATCH {
        return Err(Error::invalid("customer_ids", format!("at most {MAX_BATCH} customers at once")));
    }
    let target: Option<(Option<i64>, i64)> =
        sqlx::query_as("SELECT department_id, active FROM users WHERE id = $1 AND org_id = $2")
            .bind(req.to_user_id)
            .bind(p.org_id)
            .fetch_optional(store.pool())
            .await?;
    let Some((to_department, active)) = target else {
        return Err(Error::invalid("to_user_id", "the new owner is not a user of this organisation"));
    };
    if active == 0 {
        return Err(Error::invalid("to_user_id", "the new owner's account is disabled"));
    }
    let mut ids: BTreeSet<Id> = req.customer_ids.iter().copied().collect();
    if let Some(from) = req.from_user_id {
        let owned: Vec<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE org_id = $1 AND owner_id = $2")
            .bind(p.org_id)
            .bind(from)
            .fetch_all(store.pool())
            .await?;
        ids.extend(owned);
    }
    let ids: Vec<Id> = ids.into_iter().collect();
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    let mut moved_follow_ups = 0;
    for id in &ids {
        let customer = super::get(store, access, *id, Action::Transfer).await?;
        let to_scope = crate::access::RecordScope {
            org_id: p.org_id,
            owner_id: Some(req.to_user_id),
            department_id: to_department,
        };
        if !access.allows("customers", Action::Transfer, &to_scope) {
            return Err(Error::Forbidden(
                "you may not transfer customers to that user: they are outside your scope".into(),
            ));
        }
        if customer.owner_id == Some(req.to_user_id) {
            continue;
        }
        sqlx::query("UPDATE customers SET owner_id = $3, department_id = $4, owner_since = $5, updated_at = $5, version = version + 1 WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(p.org_id)
            .bind(req.to_user_id)
            .bind(to_department)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if let Some(from) = customer.owner_id {
            let done = sqlx::query(
                "UPDATE activities SET owner_id = $4 WHERE org_id = $1 AND customer_id = $2 AND owner_id = $3 \
                 AND next_follow_up_at IS NOT NULL AND next_follow_up_at >= $5",
            )
            .bind(p.org_id)
            .bind(id)
            .bind(from)
            .bind(req.to_user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            moved_follow_ups += done.rows_affected();
        }
        sqlx::query(
            "INSERT INTO customer_transfers (org_id, customer_id, from_user_id, to_user_id, reason, actor_user_id, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(p.org_id)
        .bind(id)
        .bind(customer.owner_id)
        .bind(req.to_user_id)
        .bind(reason)
        .bind(p.user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let payload = serde_json::json!({ "id": id, "code": customer.code, "from_user_id": customer.owner_id, "to_user_id": req.to_user_id, "reason": reason });
        Event {
            org_id: p.org_id,
            topic: "customer.transferred",
            aggregate: ("customer", *id),
            actor_user_id: Some(p.user_id),
            payload: &payload,
        }
        .record(&mut tx)
        .await?;
    }
    AuditEntry::new(p.org_id, Some(p.user_id), "customer.transferred")
        .detail(serde_json::json!({ "customers": ids, "from_user_id": req.from_user_id, "to_user_id": req.to_user_id, "reason": reason }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(TransferResult { transferred: ids, open_follow_ups_moved: moved_follow_ups })
}

/// One entry of a customer's transfer log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransferRecord {
    pub from_user_id: Option<Id>,
    /// Absent when the customer was released to nobody (a public pool).
    pub to_user_id: Option<Id>,
    pub reason: String,
    pub actor_user_id: Option<Id>,
    pub at: String,
}

pub async fn transfer_log(store: &Store, access: &Access, customer_id: Id) -> Result<Vec<TransferRecord>> {
    super::get(store, access, customer_id, Action::Read).await?;
    let changes = super::ownership::history(store, access.principal().org_id, customer_id, None).await?;
    Ok(changes
        .into_iter()
        .map(|c| TransferRecord {
            from_user_id: c.from_user_id,
            to_user_id: c.to_user_id,
            reason: c.reason,
            actor_user_id: c.actor_user_id,
            at: rfc3339(c.at),
        })
        .collect())
}

/// Fields set on many customers at once.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchEdit {
    pub customer_ids: Vec<Id>,
    pub category: Option<String>,
    pub level: Option<String>,
    pub status: Option<String>,
    pub industry: Option<String>,
    pub region: Option<String>,
    pub source: Option<String>,
    #[serde(default)]
    pub add_tags: Vec<String>,
    #[serde(default)]
    pub remove_tags: Vec<String>,
}

/// Applies the same changes to many customers, all or nothing.
pub async fn batch_edit(store: &Store, access: &Access, edit: &BatchEdit) -> Result<usize> {
    let p = *access.principal();
    if edit.customer_ids.is_empty() || edit.customer_ids.len() > MAX_BATCH {
        return Err(Error::invalid("customer_ids", format!("name 1 to {MAX_BATCH} customers")));
    }
    let mut tx = store.begin_write().await?;
    super::check_options(
        &mut tx,
        p.org_id,
        [
            ("category", edit.category.as_deref()),
            ("level", edit.level.as_deref()),
            ("status", edit.status.as_deref()),
            ("industry", edit.industry.as_deref()),
            ("region", edit.region.as_deref()),
            ("source", edit.source.as_deref()),
        ],
    )
    .await?;
    super::clean_tags(&edit.add_tags)?;
    let ids: BTreeSet<Id> = edit.customer_ids.iter().copied().collect();
    let now = now_ms();
    for id in &ids {
        let c = super::get(store, access, *id, Action::Edit).await?;
        let mut tags: Vec<String> = c.tags.iter().filter(|t| !edit.remove_tags.contains(t)).cloned().collect();
        tags.extend(edit.add_tags.iter().map(|t| t.trim().to_owned()));
        let tags = super::clean_tags(&tags)?;
        sqlx::query(
            "UPDATE customers SET category = COALESCE($3, category), level = COALESCE($4, level), status = COALESCE($5, status), \
                industry = COALESCE($6, industry), region = COALESCE($7, region), source = COALESCE($8, source), tags = $9, \
                updated_at = $10, version = version + 1 WHERE id = $1 AND org_id = $2",
        )
        .bind(id)
        .bind(p.org_id)
        .bind(&edit.category)
        .bind(&edit.level)
        .bind(&edit.status)
        .bind(&edit.industry)
        .bind(&edit.region)
        .bind(&edit.source)
        .bind(&tags)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let after = super::load_in(&mut tx, p.org_id, *id).await?;
        Event {
            org_id: p.org_id,
            topic: "customer.updated",
            aggregate: ("customer", *id),
            actor_user_id: Some(p.user_id),
            payload: &after,
        }
        .record(&mut tx)
        .await?;
    }
    AuditEntry::new(p.org_id, Some(p.user_id), "customer.batch_edited")
        .detail(
            serde_json::json!({ "customers": ids, "level": edit.level, "status": edit.status, "category": edit.category,
                                    "add_tags": edit.add_tags, "remove_tags": edit.remove_tags }),
        )
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(ids.len())
}

/// A possible duplicate and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DuplicateCandidate {
    pub customer: Customer,
    /// `name`, `phone` and/or `tax_id`.
    pub reasons: Vec<String>,
}

/// What a new or existing customer looks like, for finding duplicates.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateProbe {
    pub name: Option<String>,
    #[serde(default)]
    pub phones: Vec<String>,
    pub tax_id: Option<String>,
    /// Leave this customer out (when probing an existing one).
    pub exclude_id: Option<Id>,
}

/// Customers the user may read that share a normalised name (legal-form suffixes ignored), a
/// phone number or a tax id with the probe.
pub async fn find_duplicates(
    store: &Store,
    access: &Access,
    probe: &DuplicateProbe,
) -> Result<Vec<DuplicateCandidate>> {
    let org_id = access.principal().org_id;
    let name_key = probe.name.as_deref().map(names::company_key).filter(|k| !k.is_empty());
    if probe.phones.len() > 20 {
        return Err(Error::invalid("phones", "at most 20 phone numbers"));
    }
    if probe.exclude_id.is_some_and(|id| id <= 0) {
        return Err(Error::invalid("exclude_id", "ids are positive"));
    }
    let canonical = probe
        .phones
        .iter()
        .enumerate()
        .map(|(i, n)| {
            super::phone::normalize(n, None)
                .map(|p| p.canonical)
                .map_err(|e| Error::invalid("phones", format!("phone {} ({n:?}): {e}", i + 1)))
        })
        .collect::<Result<Vec<_>>>()?;
    let tax_id = probe.tax_id.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_uppercase);
    if name_key.is_none() && canonical.is_empty() && tax_id.is_none() {
        return Ok(Vec::new());
    }
    let mut sql = SqlBuf::new(format!("SELECT {}, c.name_key FROM customers c WHERE ", super::COLUMNS));
    super::push_access(access, "customers", Action::Read, &mut sql);
    if let Some(ex) = probe.exclude_id {
        sql.push(" AND c.id <> ").bind(ex);
    }
    sql.push(" AND (1 = 0");
    if let Some(k) = &name_key {
        sql.push(" OR c.name_key = ").bind(k.as_str());
    }
    if let Some(t) = &tax_id {
        sql.push(" OR upper(c.tax_id) = ").bind(t.as_str());
    }
    if !canonical.is_empty() {
        sql.push(" OR c.id IN (SELECT customer_id FROM phones ph WHERE ph.org_id = ").bind(org_id).push(" AND ");
        super::push_canonical_in(&mut sql, "ph", &canonical);
        sql.push(")");
    }
    sql.push(") ORDER BY c.id LIMIT 50");
    let rows = sql.query().fetch_all(store.pool()).await?;
    let mut found = Vec::new();
    for r in &rows {
        let key: String = r.try_get(30)?;
        found.push((super::customer_from_row(r)?, key));
    }
    let mut customers: Vec<Customer> = found.iter().map(|(c, _)| c.clone()).collect();
    super::attach_phones(store, org_id, &mut customers).await?;
    // Phones of the customers' contacts count too, so read which customers matched by phone.
    let mut by_phone = BTreeSet::new();
    if !canonical.is_empty() {
        let mut q = SqlBuf::new("SELECT DISTINCT customer_id FROM phones ph WHERE ph.org_id = ");
        q.bind(org_id).push(" AND ");
        super::push_canonical_in(&mut q, "ph", &canonical);
        for r in q.query().fetch_all(store.pool()).await? {
            by_phone.insert(r.try_get::<i64, _>(0)?);
        }
    }
    let mut out = Vec::new();
    for (customer, (_, key)) in customers.into_iter().zip(found) {
        let mut reasons = Vec::new();
        if name_key.as_deref() == Some(key.as_str()) {
            reasons.push("name".to_owned());
        }
        if by_phone.contains(&customer.id) {
            reasons.push("phone".to_owned());
        }
        if tax_id.is_some() && customer.tax_id.as_deref().map(str::to_uppercase) == tax_id {
            reasons.push("tax_id".to_owned());
        }
        out.push(DuplicateCandidate { customer, reasons });
    }
    Ok(out)
}

/// Merges `from_ids` into `into_id`: their contacts, phones, activities, shares and child
/// companies move to it, its empty fields are filled from them, tags are united, and they are
/// deleted. The audit log keeps a copy of every merged customer.
pub async fn merge(store: &Store, access: &Access, into_id: Id, from_ids: &[Id]) -> Result<Customer> {
    let p = *access.principal();
    let from: BTreeSet<Id> = from_ids.iter().copied().filter(|id| *id != into_id).collect();
    if from.is_empty() || from.len() > 50 {
        return Err(Error::invalid("from_ids", "merge 1 to 50 other customers into this one"));
    }
    let target = super::get(store, access, into_id, Action::Edit).await?;
    let mut sources = Vec::new();
    for id in &from {
        sources.push(super::get(store, access, *id, Action::Delete).await?);
    }
    let mut merged = target.clone();
    for s in &sources {
        for (slot, value) in [
            (&mut merged.category, &s.category),
            (&mut merged.level, &s.level),
            (&mut merged.status, &s.status),
            (&mut merged.industry, &s.industry),
            (&mut merged.region, &s.region),
            (&mut merged.source, &s.source),
            (&mut merged.address, &s.address),
            (&mut merged.website, &s.website),
            (&mut merged.bank_name, &s.bank_name),
            (&mut merged.bank_account, &s.bank_account),
            (&mut merged.tax_id, &s.tax_id),
        ] {
            if slot.is_none() {
                slot.clone_from(value);
            }
        }
        if merged.credit_limit.is_none() {
            merged.credit_limit = s.credit_limit;
        }
        for t in &s.tags {
            if !merged.tags.contains(t) {
                merged.tags.push(t.clone());
            }
        }
        for (k, v) in &s.custom {
            merged.custom.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let tags = super::clean_tags(&merged.tags).unwrap_or_else(|_| target.tags.join(","));
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    let target_phones: BTreeSet<String> = target.phones.iter().map(|ph| ph.canonical.clone()).collect();
    for s in &sources {
        for table in ["contacts", "activities", "customer_transfers"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {table} SET customer_id = $3 WHERE org_id = $1 AND customer_id = $2"
            )))
            .bind(p.org_id)
            .bind(s.id)
            .bind(into_id)
            .execute(&mut *tx)
            .await?;
        }
        // The source's own phones join the target's unless it has the number already.
        for ph in &s.phones {
            if target_phones.contains(&ph.canonical) {
                sqlx::query("DELETE FROM phones WHERE org_id = $1 AND customer_id = $2 AND contact_id IS NULL AND canonical = $3")
                    .bind(p.org_id)
                    .bind(s.id)
                    .bind(&ph.canonical)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        sqlx::query("UPDATE phones SET customer_id = $3 WHERE org_id = $1 AND customer_id = $2")
            .bind(p.org_id)
            .bind(s.id)
            .bind(into_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE customer_shares SET customer_id = $3 WHERE org_id = $1 AND customer_id = $2 AND NOT EXISTS ( \
               SELECT 1 FROM customer_shares t WHERE t.customer_id = $3 AND \
                 ((t.user_id IS NOT NULL AND t.user_id = customer_shares.user_id) OR \
                  (t.department_id IS NOT NULL AND t.department_id = customer_shares.department_id)))",
        )
        .bind(p.org_id)
        .bind(s.id)
        .bind(into_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE customers SET parent_id = $3 WHERE org_id = $1 AND parent_id = $2 AND id <> $3")
            .bind(p.org_id)
            .bind(s.id)
            .bind(into_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM customers WHERE id = $1 AND org_id = $2")
            .bind(s.id)
            .bind(p.org_id)
            .execute(&mut *tx)
            .await?;
    }
    if merged.parent_id.is_some_and(|parent| from.contains(&parent)) {
        merged.parent_id = None;
    }
    sqlx::query(
        "UPDATE customers SET category = $3, level = $4, status = $5, industry = $6, region = $7, source = $8, address = $9, \
            website = $10, bank_name = $11, bank_account = $12, tax_id = $13, credit_limit = $14, tags = $15, parent_id = $16, \
            last_followed_up_at = (SELECT MAX(occurred_at) FROM activities WHERE org_id = $1 AND customer_id = $2), \
            updated_at = $17, version = version + 1, custom = $18 WHERE id = $2 AND org_id = $1",
    )
    .bind(p.org_id)
    .bind(into_id)
    .bind(&merged.category)
    .bind(&merged.level)
    .bind(&merged.status)
    .bind(&merged.industry)
    .bind(&merged.region)
    .bind(&merged.source)
    .bind(&merged.address)
    .bind(&merged.website)
    .bind(&merged.bank_name)
    .bind(&merged.bank_account)
    .bind(&merged.tax_id)
    .bind(merged.credit_limit)
    .bind(&tags)
    .bind(merged.parent_id)
    .bind(now)
    .bind(serde_json::Value::Object(merged.custom.clone()).to_string())
    .execute(&mut *tx)
    .await?;
    super::fields::index_unique(&mut tx, p.org_id, into_id, &merged.custom).await?;
    let after = super::load_in(&mut tx, p.org_id, into_id).await?;
    let payload = serde_json::json!({ "into": after, "merged": sources });
    Event {
        org_id: p.org_id,
        topic: "customer.merged",
        aggregate: ("customer", into_id),
        actor_user_id: Some(p.user_id),
        payload: &payload,
    }
    .record(&mut tx)
    .await?;
    AuditEntry::new(p.org_id, Some(p.user_id), "customer.merged")
        .target("customer", into_id)
        .detail(payload)
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    super::get(store, access, into_id, Action::Read).await
}
