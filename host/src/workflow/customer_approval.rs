//! The first built-in use of the workflow kernel: an organisation may require that new
//! customers of chosen categories be approved before they become active. Such a customer is
//! created `pending` and an approval starts in the same transaction; approval makes it
//! `active`, rejection `rejected`, withdrawal `withdrawn`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::instances::{Subject, submit_in};
use super::machine::Status;
use crate::error::{Error, Result};
use crate::store::{Id, Store, now_ms};

/// The organisation's customer approval setting.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerApproval {
    /// Customers created with one of these category values need approval; none: no approval.
    #[serde(default)]
    pub categories: Vec<String>,
    /// The definition (subject type `customer`) their approvals follow; required with
    /// categories.
    pub definition_id: Option<Id>,
}

/// The current setting (no approval when never set).
pub async fn get<'e, E>(exec: E, org_id: Id) -> Result<CustomerApproval>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row: Option<(Option<Id>, String)> = sqlx::query_as(
        "SELECT definition_id, categories FROM approval_settings WHERE org_id = $1 AND subject = 'customer'",
    )
    .bind(org_id)
    .fetch_optional(exec)
    .await?;
    Ok(match row {
        Some((definition_id, categories)) => {
            CustomerApproval { categories: serde_json::from_str(&categories).unwrap_or_default(), definition_id }
        }
        None => CustomerApproval::default(),
    })
}

/// Replaces the setting (administrators).
pub async fn put(store: &Store, org_id: Id, actor: Id, setting: &CustomerApproval) -> Result<CustomerApproval> {
    let mut categories: Vec<String> = Vec::new();
    for c in &setting.categories {
        let c = c.trim();
        if !c.is_empty() && !categories.iter().any(|x| x == c) {
            categories.push(c.to_owned());
        }
    }
    if categories.len() > 100 {
        return Err(Error::invalid("categories", "at most 100 categories"));
    }
    let mut tx = store.begin_write().await?;
    for c in &categories {
        crate::customers::options::ensure_valid(&mut *tx, org_id, "category", c)
            .await
            .map_err(|e| Error::invalid("categories", e.to_string()))?;
    }
    match setting.definition_id {
        Some(id) => {
            let d = super::definitions::get(&mut *tx, org_id, id).await.map_err(|e| match e {
                Error::NotFound(_) => {
                    Error::invalid("definition_id", format!("approval definition {id} does not exist"))
                }
                other => other,
            })?;
            if d.subject_type != "customer" {
                return Err(Error::invalid(
                    "definition_id",
                    format!(
                        "this definition approves {}s; customers need one with subject type customer",
                        d.subject_type
                    ),
                ));
            }
            if !d.active {
                return Err(Error::invalid("definition_id", "this approval definition is archived"));
            }
        }
        None if !categories.is_empty() => {
            return Err(Error::invalid("definition_id", "say which approval definition the chosen categories follow"));
        }
        None => {}
    }
    sqlx::query("DELETE FROM approval_settings WHERE org_id = $1 AND subject = 'customer'")
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO approval_settings (org_id, subject, definition_id, categories, updated_at) VALUES ($1, 'customer', $2, $3, $4)",
    )
    .bind(org_id)
    .bind(setting.definition_id)
    .bind(serde_json::json!(categories).to_string())
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    crate::audit::AuditEntry::new(org_id, Some(actor), "workflow.customer_approval_set")
        .detail(serde_json::json!({ "categories": categories, "definition_id": setting.definition_id }))
        .record(&mut *tx)
        .await?;
    let after = get(&mut *tx, org_id).await?;
    tx.commit().await?;
    Ok(after)
}

/// Called in the transaction that creates a customer: when the organisation wants customers
/// of this category approved, starts the approval and marks the customer pending. Returns the
/// instance id when it did.
pub(crate) async fn start_if_required(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    submitter: Id,
    customer: &crate::customers::Customer,
) -> Result<Option<Id>> {
    let Some(category) = customer.category.as_deref() else { return Ok(None) };
    let setting = get(&mut **tx, org_id).await?;
    let Some(definition_id) = setting.definition_id.filter(|_| setting.categories.iter().any(|c| c == category)) else {
        return Ok(None);
    };
    let fields = match serde_json::to_value(customer) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let subject =
        Subject { subject_type: "customer".into(), subject_id: customer.id, title: customer.name.clone(), fields };
    let instance = submit_in(tx, org_id, submitter, definition_id, &subject, None).await?;
    // An instance whose every step was skipped is approved at once; otherwise the customer
    // waits for it.
    let state = if instance_approved(tx, org_id, instance).await? { "active" } else { "pending" };
    sqlx::query("UPDATE customers SET approval_instance_id = $3, approval_state = $4 WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(customer.id)
        .bind(instance)
        .bind(state)
        .execute(&mut **tx)
        .await?;
    Ok(Some(instance))
}

async fn instance_approved(tx: &mut sqlx::Transaction<'static, sqlx::Any>, org_id: Id, id: Id) -> Result<bool> {
    let state: String = sqlx::query_scalar("SELECT state FROM approval_instances WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(state == "approved")
}

/// Records the outcome of a finished customer approval on the customer it started for.
pub(crate) async fn finish(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    instance_id: Id,
    status: Status,
    now: i64,
) -> Result<()> {
    let state = match status {
        Status::Approved => "active",
        Status::Rejected => "rejected",
        Status::Withdrawn => "withdrawn",
        Status::Pending | Status::Returned => return Ok(()),
    };
    sqlx::query(
        "UPDATE customers SET approval_state = $3, updated_at = $4, version = version + 1 \
         WHERE org_id = $1 AND approval_instance_id = $2",
    )
    .bind(org_id)
    .bind(instance_id)
    .bind(state)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
