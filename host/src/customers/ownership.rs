//! Who holds which customer, decided by rules rather than by a person's transfer: a customer
//! given to nobody (released to a public pool), taken from nobody under a compare-and-set so
//! that of two racing claims exactly one wins, limits on what one user may take checked in the
//! same transaction, and many customers released at once by a selection (a nightly recycle).
//! Plugins reach this through the `customers:assign` capability; every change lands in the
//! owner history (`customer_transfers`), the audit log and the event outbox like a transfer.

use serde_json::json;
use sqlx::Row;

use crate::audit::AuditEntry;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::store::{Backend, Id, SqlBuf, Store, now_ms};

/// How many customers one statement of a bulk release changes.
const CHUNK: usize = 500;
/// The longest list a selection takes in one field.
const MAX_LIST: usize = 1000;

/// Whether a selection takes customers with an owner, without one, or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Ownership {
    #[default]
    Any,
    Owned,
    Unowned,
}

/// Which customers a rule reaches. Every field narrows; an empty list or `None` leaves it open.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    pub ownership: Ownership,
    pub ids: Vec<Id>,
    pub owner_ids: Vec<Id>,
    pub department_ids: Vec<Id>,
    pub levels: Vec<String>,
    pub exclude_statuses: Vec<String>,
    pub exclude_tags: Vec<String>,
    /// Customers their current owner took before this instant (ms); a customer never handed
    /// over counts from its creation.
    pub owned_before: Option<i64>,
    /// Customers without a follow-up since this instant (ms), the moment the current owner
    /// took the customer counting as one.
    pub idle_since: Option<i64>,
}

impl Selection {
    /// Refuses lists longer than a statement should carry.
    pub fn check(&self) -> Result<()> {
        for (field, len) in [
            ("ids", self.ids.len()),
            ("owner_ids", self.owner_ids.len()),
            ("department_ids", self.department_ids.len()),
            ("levels", self.levels.len()),
            ("exclude_statuses", self.exclude_statuses.len()),
            ("exclude_tags", self.exclude_tags.len()),
        ] {
            if len > MAX_LIST {
                return Err(Error::invalid(
                    field,
                    format!("{field}: a selection takes at most {MAX_LIST} values per list"),
                ));
            }
        }
        Ok(())
    }

    /// Appends ` AND …` conditions on `customers c` for this selection. The two times compare
    /// exactly the expressions the indexes `customers_idle` and `customers_held_since` hold, so
    /// that a rule reads only the customers it is due to return.
    pub(crate) fn push_conditions(&self, backend: Backend, sql: &mut SqlBuf) {
        match self.ownership {
            Ownership::Any => {}
            Ownership::Owned => {
                sql.push(" AND c.owner_id IS NOT NULL");
            }
            Ownership::Unowned => {
                sql.push(" AND c.owner_id IS NULL");
            }
        }
        for (column, ids) in
            [("c.id", &self.ids), ("c.owner_id", &self.owner_ids), ("c.department_id", &self.department_ids)]
        {
            if !ids.is_empty() {
                sql.push(" AND ").push(column).push(" IN ").bind_list(ids);
            }
        }
        if !self.levels.is_empty() {
            sql.push(" AND c.level IN ").bind_list(&self.levels);
        }
        if !self.exclude_statuses.is_empty() {
            sql.push(" AND (c.status IS NULL OR c.status NOT IN ").bind_list(&self.exclude_statuses).push(")");
        }
        for tag in self.exclude_tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            sql.push(" AND (',' || c.tags || ',') NOT LIKE ").bind(format!("%,{},%", tag.replace(['%', '_'], "")));
        }
        if let Some(before) = self.owned_before {
            sql.push(" AND COALESCE(c.owner_since, c.created_at) < ").bind(before);
        }
        if let Some(since) = self.idle_since {
            // The later of the last follow-up and the moment the owner took the customer.
            let greatest = match backend {
                Backend::Sqlite => "MAX",
                Backend::Postgres => "GREATEST",
            };
            sql.push(" AND ")
                .push(greatest)
                .push("(COALESCE(c.last_followed_up_at, 0), COALESCE(c.owner_since, c.created_at)) < ")
                .bind(since);
        }
    }
}

/// How many customers of a selection one owner holds (`None`: without an owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerCount {
    pub owner_id: Option<Id>,
    pub count: u64,
}

/// Counts the customers of a selection by owner, owners holding most first.
pub async fn count_by_owner(store: &Store, org_id: Id, selection: &Selection) -> Result<Vec<OwnerCount>> {
    selection.check()?;
    let mut sql = SqlBuf::new("SELECT c.owner_id, COUNT(*) FROM customers c WHERE c.org_id = ");
    sql.bind(org_id);
    selection.push_conditions(store.backend(), &mut sql);
    sql.push(" GROUP BY c.owner_id ORDER BY COUNT(*) DESC, c.owner_id");
    let rows = sql.query().fetch_all(store.pool()).await?;
    rows.iter()
        .map(|r| {
            let count: i64 = r.try_get(1)?;
            Ok(OwnerCount { owner_id: r.try_get(0)?, count: u64::try_from(count).unwrap_or_default() })
        })
        .collect()
}

/// Limits an assignment checks inside its transaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssignLimits {
    /// The new owner may hold at most this many customers.
    pub max_held: Option<u32>,
    /// The new owner may have taken at most this many customers without an owner since the
    /// instant (ms).
    pub max_taken_since: Option<(u32, i64)>,
    /// A user who gave a customer up may not take it again for this long (ms).
    pub cooldown_ms: Option<i64>,
}

/// One assignment: who acts, the customer, whom it must still belong to, and to whom it goes.
#[derive(Debug, Clone)]
pub struct Assignment<'a> {
    pub org_id: Id,
    /// The signed-in user on whose behalf it happens, if any.
    pub actor_user_id: Option<Id>,
    /// Who decided: a plugin's id, for the audit log.
    pub by: &'a str,
    pub customer_id: Id,
    pub expected_owner_id: Option<Id>,
    pub owner_id: Option<Id>,
    pub reason: &'a str,
    pub limits: AssignLimits,
}

/// Why an assignment did not happen, as the caller should tell its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The customer's owner is no longer the expected one: someone else was first.
    Raced(String),
    /// A limit of [`AssignLimits`]; the message starts with the limit's name.
    Limit(String),
}

/// Gives one customer to a new owner, or to nobody, if its owner is still the expected one.
/// On PostgreSQL the customer's row and the new owner's row are locked for the transaction, so
/// racing assignments of the customer, and racing claims by one user, run one after the other;
/// on SQLite the write transaction alone does that.
pub async fn assign(store: &Store, a: &Assignment<'_>) -> Result<std::result::Result<(), Refused>> {
    let reason = a.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Error::invalid("reason", "give a reason of 1–500 characters; it is kept in the transfer log"));
    }
    let now = now_ms();
    let lock = store.skip_locked(" FOR UPDATE");
    let mut tx = store.begin_write().await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT owner_id, department_id, code FROM customers WHERE id = $1 AND org_id = $2{lock}"
    )))
    .bind(a.customer_id)
    .bind(a.org_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(Error::NotFound("customer"));
    };
    let (current, department, code): (Option<Id>, Option<Id>, String) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    if current != a.expected_owner_id {
        let now_held = match current {
            Some(user) => format!("user {user} holds it now"),
            None => "it has no owner now".to_owned(),
        };
        return Ok(Err(Refused::Raced(format!("customer {code} changed hands first: {now_held}"))));
    }
    if current == a.owner_id {
        return Ok(Ok(()));
    }
    let department = match a.owner_id {
        Some(user) => {
            let target = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT department_id, active FROM users WHERE id = $1 AND org_id = $2{lock}"
            )))
            .bind(user)
            .bind(a.org_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(target) = target else {
                return Err(Error::invalid("owner_id", "the new owner is not a user of this organisation"));
            };
            if target.try_get::<i64, _>(1)? == 0 {
                return Err(Error::invalid("owner_id", "the new owner's account is disabled"));
            }
            if let Some(refused) = check_limits(&mut tx, a, user, now).await? {
                return Ok(Err(refused));
            }
            target.try_get::<Option<Id>, _>(0)?
        }
        None => department,
    };
    sqlx::query(
        "UPDATE customers SET owner_id = $3, department_id = $4, owner_since = $5, updated_at = $5, version = version + 1 \
         WHERE id = $1 AND org_id = $2",
    )
    .bind(a.customer_id)
    .bind(a.org_id)
    .bind(a.owner_id)
    .bind(department)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if let (Some(from), Some(to)) = (current, a.owner_id) {
        // Follow-ups the previous owner still had due move with the customer, as in a transfer.
        sqlx::query(
            "UPDATE activities SET owner_id = $4 WHERE org_id = $1 AND customer_id = $2 AND owner_id = $3 \
             AND next_follow_up_at IS NOT NULL AND next_follow_up_at >= $5",
        )
        .bind(a.org_id)
        .bind(a.customer_id)
        .bind(from)
        .bind(to)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO customer_transfers (org_id, customer_id, from_user_id, to_user_id, reason, actor_user_id, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(a.org_id)
    .bind(a.customer_id)
    .bind(current)
    .bind(a.owner_id)
    .bind(reason)
    .bind(a.actor_user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let topic = if a.owner_id.is_some() { "customer.transferred" } else { "customer.released" };
    let payload = json!({
        "id": a.customer_id, "code": code, "from_user_id": current, "to_user_id": a.owner_id,
        "reason": reason, "by": a.by,
    });
    Event {
        org_id: a.org_id,
        topic,
        aggregate: ("customer", a.customer_id),
        actor_user_id: a.actor_user_id,
        payload: &payload,
    }
    .record(&mut tx)
    .await?;
    AuditEntry::new(a.org_id, a.actor_user_id, topic)
        .target("customer", a.customer_id)
        .detail(payload)
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// The first limit the new owner would break, if any.
async fn check_limits(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    a: &Assignment<'_>,
    user: Id,
    now: i64,
) -> Result<Option<Refused>> {
    if let Some(max) = a.limits.max_held {
        let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE org_id = $1 AND owner_id = $2")
            .bind(a.org_id)
            .bind(user)
            .fetch_one(&mut **tx)
            .await?;
        if held >= i64::from(max) {
            return Ok(Some(Refused::Limit(format!(
                "max-held: user {user} holds {held} customers, and the most allowed is {max}"
            ))));
        }
    }
    if let Some((max, since)) = a.limits.max_taken_since {
        let taken: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM customer_transfers WHERE org_id = $1 AND to_user_id = $2 AND from_user_id IS NULL AND at >= $3",
        )
        .bind(a.org_id)
        .bind(user)
        .bind(since)
        .fetch_one(&mut **tx)
        .await?;
        if taken >= i64::from(max) {
            return Ok(Some(Refused::Limit(format!(
                "max-taken-since: user {user} took {taken} customers without an owner since {}, and the most allowed is {max}",
                crate::timefmt::rfc3339(since)
            ))));
        }
    }
    if let Some(cooldown) = a.limits.cooldown_ms.filter(|ms| *ms > 0) {
        let gave_up: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(at) FROM customer_transfers WHERE org_id = $1 AND customer_id = $2 AND from_user_id = $3 AND to_user_id IS NULL",
        )
        .bind(a.org_id)
        .bind(a.customer_id)
        .bind(user)
        .fetch_one(&mut **tx)
        .await?;
        if let Some(at) = gave_up.filter(|at| now - at < cooldown) {
            return Ok(Some(Refused::Limit(format!(
                "cooldown-ms: user {user} gave this customer up at {}, and may take it again from {}",
                crate::timefmt::rfc3339(at),
                crate::timefmt::rfc3339(at + cooldown)
            ))));
        }
    }
    Ok(None)
}

/// A customer a release took from its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    pub customer_id: Id,
    pub former_owner_id: Id,
}

/// Gives every owned customer of the selection to nobody in one transaction, each logged in
/// the owner history with the reason and announced as a `customer.released` event; the
/// customers stay in their departments. Answers which customers it took from whom.
pub async fn release(
    store: &Store,
    org_id: Id,
    actor_user_id: Option<Id>,
    by: &str,
    selection: &Selection,
    reason: &str,
) -> Result<Vec<Released>> {
    selection.check()?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Error::invalid("reason", "give a reason of 1–500 characters; it is kept in the transfer log"));
    }
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    let mut sql = SqlBuf::new("SELECT c.id, c.owner_id, c.code FROM customers c WHERE c.org_id = ");
    sql.bind(org_id);
    // Only customers that have an owner are released, whatever the selection says.
    let owned = Selection { ownership: Ownership::Owned, ..selection.clone() };
    owned.push_conditions(store.backend(), &mut sql);
    sql.push(" ORDER BY c.id").push(store.skip_locked(" FOR UPDATE"));
    let rows = sql.query().fetch_all(&mut *tx).await?;
    let mut released = Vec::with_capacity(rows.len());
    let mut codes = Vec::with_capacity(rows.len());
    for r in &rows {
        released.push(Released { customer_id: r.try_get(0)?, former_owner_id: r.try_get(1)? });
        codes.push(r.try_get::<String, _>(2)?);
    }
    for (chunk, codes) in released.chunks(CHUNK).zip(codes.chunks(CHUNK)) {
        let ids: Vec<Id> = chunk.iter().map(|r| r.customer_id).collect();
        // Ids are integers read from the database: written out, a chunk is one short statement
        // instead of hundreds of bound parameters, three times over.
        let list = ids.iter().map(Id::to_string).collect::<Vec<_>>().join(",");
        let mut log = SqlBuf::new(
            "INSERT INTO customer_transfers (org_id, customer_id, from_user_id, to_user_id, reason, actor_user_id, at) \
             SELECT c.org_id, c.id, c.owner_id, NULL, ",
        );
        log.bind(reason).push(", ").bind(actor_user_id).push(", ").bind(now);
        log.push(&format!(" FROM customers c WHERE c.org_id = {org_id} AND c.id IN ({list})"));
        log.query().execute(&mut *tx).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE customers SET owner_id = NULL, owner_since = $1, updated_at = $1, version = version + 1 \
             WHERE org_id = {org_id} AND id IN ({list})"
        )))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let payloads: Vec<(Id, String)> = chunk
            .iter()
            .zip(codes)
            .map(|(r, code)| {
                let payload = json!({
                    "id": r.customer_id, "code": code, "from_user_id": r.former_owner_id, "to_user_id": null,
                    "reason": reason, "by": by,
                });
                (r.customer_id, payload.to_string())
            })
            .collect();
        crate::events::record_many(&mut tx, org_id, "customer.released", "customer", actor_user_id, &payloads).await?;
    }
    if !released.is_empty() {
        AuditEntry::new(org_id, actor_user_id, "customer.released")
            .detail(json!({ "count": released.len(), "reason": reason, "by": by }))
            .record(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(released)
}

/// One change of a customer's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerChange {
    pub from_user_id: Option<Id>,
    pub to_user_id: Option<Id>,
    pub reason: String,
    pub actor_user_id: Option<Id>,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
}

/// The changes of a customer's owner, newest first: the newest `limit` of them, or all.
pub async fn history(store: &Store, org_id: Id, customer_id: Id, limit: Option<i64>) -> Result<Vec<OwnerChange>> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE id = $1 AND org_id = $2")
        .bind(customer_id)
        .bind(org_id)
        .fetch_optional(store.pool())
        .await?;
    if exists.is_none() {
        return Err(Error::NotFound("customer"));
    }
    let mut sql = SqlBuf::new(
        "SELECT from_user_id, to_user_id, reason, actor_user_id, at FROM customer_transfers WHERE org_id = ",
    );
    sql.bind(org_id).push(" AND customer_id = ").bind(customer_id).push(" ORDER BY id DESC");
    if let Some(limit) = limit {
        sql.limit(limit);
    }
    let rows = sql.query().fetch_all(store.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok(OwnerChange {
                from_user_id: r.try_get(0)?,
                to_user_id: r.try_get(1)?,
                reason: r.try_get(2)?,
                actor_user_id: r.try_get(3)?,
                at: r.try_get(4)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_selection_adds_nothing_and_each_field_narrows() {
        let mut sql = SqlBuf::new("x");
        Selection::default().push_conditions(Backend::Sqlite, &mut sql);
        assert_eq!(sql.text, "x");

        let s = Selection {
            ownership: Ownership::Unowned,
            department_ids: vec![3, 4],
            levels: vec!["a".into()],
            exclude_statuses: vec!["signed".into()],
            exclude_tags: vec!["锁定".into(), " ".into()],
            idle_since: Some(1_000),
            ..Selection::default()
        };
        let mut sql = SqlBuf::default();
        s.push_conditions(Backend::Postgres, &mut sql);
        assert_eq!(
            sql.text,
            " AND c.owner_id IS NULL AND c.department_id IN ($1, $2) AND c.level IN ($3) \
             AND (c.status IS NULL OR c.status NOT IN ($4)) AND (',' || c.tags || ',') NOT LIKE $5 \
             AND GREATEST(COALESCE(c.last_followed_up_at, 0), COALESCE(c.owner_since, c.created_at)) < $6"
        );
        assert_eq!(sql.args.len(), 6);
    }

    #[test]
    fn a_selection_refuses_a_list_too_long_for_one_statement() {
        let s = Selection { ids: (0..=MAX_LIST as i64).collect(), ..Selection::default() };
        assert!(s.check().unwrap_err().to_string().contains("ids"));
        assert!(Selection { ids: vec![1; MAX_LIST], ..Selection::default() }.check().is_ok());
    }
}
