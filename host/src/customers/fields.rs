//! Custom fields: typed fields an administrator adds to customers (text, number, date, option,
//! multi-option, user), with required and unique flags. Values live in the customer's `custom`
//! JSON object and are validated on every write; values of unique fields are also kept in
//! `custom_unique_values`, so the database itself refuses a second customer with the same one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::Row;
use utoipa::ToSchema;

use crate::audit::AuditEntry;
use crate::error::{Error, Result};
use crate::store::{Id, Store, now_ms};

/// The kinds of custom field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Number,
    /// `YYYY-MM-DD`.
    Date,
    Option,
    MultiOption,
    /// A user id of the organisation.
    User,
}

impl FieldKind {
    /// The kind's name as stored and as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Number => "number",
            FieldKind::Date => "date",
            FieldKind::Option => "option",
            FieldKind::MultiOption => "multi_option",
            FieldKind::User => "user",
        }
    }
}

/// One choice of an option field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldOption {
    pub value: String,
    pub label_zh: String,
    pub label_en: String,
}

/// A custom field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomField {
    pub id: Id,
    /// The key in a customer's `custom` object, e.g. `contract_no`.
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
    pub kind: FieldKind,
    pub required: bool,
    pub unique: bool,
    pub options: Vec<FieldOption>,
    pub position: i64,
    /// Retired fields keep their values but are no longer shown or checked.
    pub active: bool,
}

/// A new field.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewField {
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub unique: bool,
    #[serde(default)]
    pub options: Vec<FieldOption>,
    #[serde(default)]
    pub position: i64,
}

/// Changes to a field; its key and kind stay.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldPatch {
    pub label_zh: Option<String>,
    pub label_en: Option<String>,
    pub required: Option<bool>,
    pub unique: Option<bool>,
    pub options: Option<Vec<FieldOption>>,
    pub position: Option<i64>,
    pub active: Option<bool>,
}

pub async fn list(store: &Store, org_id: Id) -> Result<Vec<CustomField>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {FIELD_COLUMNS} FROM custom_fields WHERE org_id = $1 ORDER BY position, id"
    )))
    .bind(org_id)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(field_from_row).collect()
}

/// The columns [`field_from_row`] reads, in its order.
const FIELD_COLUMNS: &str = "id, key, label_zh, label_en, kind, required, is_unique, options, position, active";

fn field_from_row(r: &sqlx::any::AnyRow) -> Result<CustomField> {
    let kind: String = r.try_get(4)?;
    let options: String = r.try_get(7)?;
    Ok(CustomField {
        id: r.try_get(0)?,
        key: r.try_get(1)?,
        label_zh: r.try_get(2)?,
        label_en: r.try_get(3)?,
        kind: serde_json::from_value(Value::String(kind)).unwrap_or(FieldKind::Text),
        required: r.try_get::<i64, _>(5)? != 0,
        unique: r.try_get::<i64, _>(6)? != 0,
        options: serde_json::from_str(&options).unwrap_or_default(),
        position: r.try_get(8)?,
        active: r.try_get::<i64, _>(9)? != 0,
    })
}

fn check_labels(zh: &str, en: &str) -> Result<()> {
    for (field, label) in [("label_zh", zh), ("label_en", en)] {
        if label.trim().is_empty() || label.chars().count() > 100 {
            return Err(Error::invalid(field, "a label is 1–100 characters"));
        }
    }
    Ok(())
}

fn check_options(kind: FieldKind, options: &[FieldOption]) -> Result<()> {
    let wants = matches!(kind, FieldKind::Option | FieldKind::MultiOption);
    if wants && options.is_empty() {
        return Err(Error::invalid("options", "an option field needs at least one option"));
    }
    if !wants && !options.is_empty() {
        return Err(Error::invalid("options", "only option fields take options"));
    }
    if options.len() > 200 {
        return Err(Error::invalid("options", "at most 200 options"));
    }
    for (i, o) in options.iter().enumerate() {
        if o.value.trim().is_empty() || o.value.chars().count() > 64 {
            return Err(Error::invalid("options", "an option value is 1–64 characters"));
        }
        check_labels(&o.label_zh, &o.label_en)
            .map_err(|_| Error::invalid("options", "option labels are 1–100 characters"))?;
        if options[..i].iter().any(|p| p.value == o.value) {
            return Err(Error::invalid("options", format!("the option {:?} is listed twice", o.value)));
        }
    }
    Ok(())
}

/// Adds a custom field and records `custom_field.created` for `actor`.
pub async fn create(
    store: &Store,
    org_id: Id,
    actor: Option<Id>,
    ip: Option<std::net::IpAddr>,
    new: &NewField,
) -> Result<CustomField> {
    let key = new.key.trim();
    let key_ok = (1..=40).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && key.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if !key_ok {
        return Err(Error::invalid("key", "a key is 1–40 of a–z, 0–9 and _, starting with a letter, e.g. contract_no"));
    }
    check_labels(&new.label_zh, &new.label_en)?;
    check_options(new.kind, &new.options)?;
    if new.unique && matches!(new.kind, FieldKind::MultiOption) {
        return Err(Error::invalid("unique", "a multi-option field cannot be unique"));
    }
    let id: Id = sqlx::query_scalar(
        "INSERT INTO custom_fields (org_id, key, label_zh, label_en, kind, required, is_unique, options, position, active, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10) RETURNING id",
    )
    .bind(org_id)
    .bind(key)
    .bind(new.label_zh.trim())
    .bind(new.label_en.trim())
    .bind(new.kind.as_str())
    .bind(i64::from(new.required))
    .bind(i64::from(new.unique))
    .bind(serde_json::to_string(&new.options).unwrap_or_else(|_| "[]".into()))
    .bind(new.position)
    .bind(now_ms())
    .fetch_one(store.pool())
    .await
    .map_err(|e| Error::from_db(e, &format!("a custom field with the key {key:?} exists already")))?;
    let field = list(store, org_id).await?.into_iter().find(|f| f.id == id).ok_or(Error::NotFound("custom field"))?;
    AuditEntry::new(org_id, actor, "custom_field.created")
        .target("custom_field", field.id)
        .ip(ip)
        .detail(serde_json::to_value(&field).unwrap_or_default())
        .record(store.pool())
        .await?;
    Ok(field)
}

/// Changes a custom field and records `custom_field.updated` for `actor` in the same transaction.
pub async fn update(
    store: &Store,
    org_id: Id,
    actor: Option<Id>,
    ip: Option<std::net::IpAddr>,
    id: Id,
    patch: &FieldPatch,
) -> Result<CustomField> {
    let before = list(store, org_id).await?.into_iter().find(|f| f.id == id).ok_or(Error::NotFound("custom field"))?;
    let label_zh = patch.label_zh.clone().unwrap_or(before.label_zh.clone());
    let label_en = patch.label_en.clone().unwrap_or(before.label_en.clone());
    check_labels(&label_zh, &label_en)?;
    let options = patch.options.clone().unwrap_or(before.options.clone());
    check_options(before.kind, &options)?;
    let unique = patch.unique.unwrap_or(before.unique);
    if unique && before.kind == FieldKind::MultiOption {
        return Err(Error::invalid("unique", "a multi-option field cannot be unique"));
    }
    let mut tx = store.begin_write().await?;
    if unique && !before.unique {
        // Index the values customers already have; duplicates make the change fail.
        let rows =
            sqlx::query("SELECT id, custom FROM customers WHERE org_id = $1").bind(org_id).fetch_all(&mut *tx).await?;
        for r in rows {
            let custom: String = r.try_get(1)?;
            let value =
                serde_json::from_str::<Map<String, Value>>(&custom).ok().and_then(|m| m.get(&before.key).cloned());
            if let Some(v) = value.as_ref().and_then(unique_text) {
                sqlx::query(
                    "INSERT INTO custom_unique_values (org_id, field_key, value, customer_id) VALUES ($1, $2, $3, $4)",
                )
                .bind(org_id)
                .bind(&before.key)
                .bind(&v)
                .bind(r.try_get::<i64, _>(0)?)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    Error::from_db(
                        e,
                        &format!(
                            "customers already share the value {v:?} of {}; make them differ first",
                            before.label_en
                        ),
                    )
                })?;
            }
        }
    }
    if !unique && before.unique {
        sqlx::query("DELETE FROM custom_unique_values WHERE org_id = $1 AND field_key = $2")
            .bind(org_id)
            .bind(&before.key)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "UPDATE custom_fields SET label_zh = $3, label_en = $4, required = $5, is_unique = $6, options = $7, position = $8, active = $9 \
         WHERE id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(org_id)
    .bind(label_zh.trim())
    .bind(label_en.trim())
    .bind(i64::from(patch.required.unwrap_or(before.required)))
    .bind(i64::from(unique))
    .bind(serde_json::to_string(&options).unwrap_or_else(|_| "[]".into()))
    .bind(patch.position.unwrap_or(before.position))
    .bind(i64::from(patch.active.unwrap_or(before.active)))
    .execute(&mut *tx)
    .await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {FIELD_COLUMNS} FROM custom_fields WHERE id = $1 AND org_id = $2"
    )))
    .bind(id)
    .bind(org_id)
    .fetch_one(&mut *tx)
    .await?;
    let field = field_from_row(&row)?;
    AuditEntry::new(org_id, actor, "custom_field.updated")
        .target("custom_field", id)
        .ip(ip)
        .detail(serde_json::to_value(&field).unwrap_or_default())
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(field)
}

/// The text a unique value is indexed under.
pub(crate) fn unique_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.trim().to_lowercase()),
        other => Some(other.to_string()),
    }
}

/// The organisation's active fields, ready to check values.
pub struct FieldSet {
    fields: BTreeMap<String, CustomField>,
    user_ids: std::collections::HashSet<Id>,
}

impl FieldSet {
    pub async fn load(conn: &mut sqlx::AnyConnection, org_id: Id) -> Result<FieldSet> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FIELD_COLUMNS} FROM custom_fields WHERE org_id = $1 AND active = 1"
        )))
        .bind(org_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut fields = BTreeMap::new();
        for r in &rows {
            let field = field_from_row(r)?;
            fields.insert(field.key.clone(), field);
        }
        let needs_users = fields.values().any(|f| f.kind == FieldKind::User);
        let user_ids = if needs_users {
            sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE org_id = $1")
                .bind(org_id)
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .collect()
        } else {
            Default::default()
        };
        Ok(FieldSet { fields, user_ids })
    }

    pub fn get(&self, key: &str) -> Option<&CustomField> {
        self.fields.get(key)
    }

    /// Checks one value against its field and returns it in stored form.
    pub fn normalize(&self, key: &str, value: &Value) -> Result<Value> {
        let Some(field) = self.fields.get(key) else {
            return Err(Error::invalid("custom", format!("there is no custom field {key:?}")));
        };
        let bad = |why: &str| Error::invalid("custom", format!("{} ({key}): {why}", field.label_en));
        let options = &field.options;
        Ok(match field.kind {
            FieldKind::Text => match value.as_str().map(str::trim) {
                Some(s) if s.chars().count() <= 2000 => Value::String(s.to_owned()),
                Some(_) => return Err(bad("at most 2,000 characters")),
                None => return Err(bad("must be text")),
            },
            FieldKind::Number => match value.as_f64() {
                Some(n) if n.is_finite() => value.clone(),
                _ => return Err(bad("must be a number")),
            },
            FieldKind::Date => match value.as_str().map(|s| s.parse::<jiff::civil::Date>()) {
                Some(Ok(d)) => Value::String(d.to_string()),
                _ => return Err(bad("must be a date written YYYY-MM-DD")),
            },
            FieldKind::Option => match value.as_str() {
                Some(s) if options.iter().any(|o| o.value == s) => value.clone(),
                _ => {
                    return Err(bad(&format!(
                        "must be one of {}",
                        options.iter().map(|o| o.value.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                }
            },
            FieldKind::MultiOption => {
                let Some(items) = value.as_array() else { return Err(bad("must be a list of options")) };
                let mut chosen: Vec<Value> = Vec::new();
                for item in items {
                    match item.as_str() {
                        Some(s) if options.iter().any(|o| o.value == s) => {
                            if !chosen.iter().any(|c| c.as_str() == Some(s)) {
                                chosen.push(item.clone());
                            }
                        }
                        _ => return Err(bad(&format!("{item} is not one of its options"))),
                    }
                }
                Value::Array(chosen)
            }
            FieldKind::User => match value.as_i64() {
                Some(user) if self.user_ids.contains(&user) => value.clone(),
                Some(_) => return Err(bad("no such user in this organisation")),
                None => return Err(bad("must be a user id")),
            },
        })
    }

    /// Fails unless every required field has a value in `values`.
    pub fn check_required(&self, values: &Map<String, Value>) -> Result<()> {
        for (key, field) in &self.fields {
            let empty = match values.get(key) {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(Value::Array(a)) => a.is_empty(),
                _ => false,
            };
            if field.required && empty {
                return Err(Error::invalid("custom", format!("{} ({key}) is required", field.label_en)));
            }
        }
        Ok(())
    }
}

/// Applies `changes` (null removes a value) to `current`, validates the result against the
/// organisation's active fields, and returns the new `custom` object.
pub async fn apply(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    current: &Map<String, Value>,
    changes: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>> {
    let set = FieldSet::load(tx, org_id).await?;
    let mut out = current.clone();
    if let Some(changes) = changes {
        if changes.len() > 200 {
            return Err(Error::invalid("custom", "at most 200 custom values"));
        }
        for (key, value) in changes {
            if value.is_null() {
                if set.get(key).is_none() {
                    return Err(Error::invalid("custom", format!("there is no custom field {key:?}")));
                }
                out.remove(key);
            } else {
                out.insert(key.clone(), set.normalize(key, value)?);
            }
        }
    }
    set.check_required(&out)?;
    Ok(out)
}

/// Rewrites the unique-value index of one customer; a clash is a conflict naming the field.
pub async fn index_unique(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    customer_id: Id,
    custom: &Map<String, Value>,
) -> Result<()> {
    sqlx::query("DELETE FROM custom_unique_values WHERE org_id = $1 AND customer_id = $2")
        .bind(org_id)
        .bind(customer_id)
        .execute(&mut **tx)
        .await?;
    let unique: Vec<(String, String)> =
        sqlx::query_as("SELECT key, label_en FROM custom_fields WHERE org_id = $1 AND active = 1 AND is_unique = 1")
            .bind(org_id)
            .fetch_all(&mut **tx)
            .await?;
    for (key, label) in unique {
        if let Some(v) = custom.get(&key).and_then(unique_text) {
            sqlx::query(
                "INSERT INTO custom_unique_values (org_id, field_key, value, customer_id) VALUES ($1, $2, $3, $4)",
            )
            .bind(org_id)
            .bind(&key)
            .bind(&v)
            .bind(customer_id)
            .execute(&mut **tx)
            .await
            .map_err(|e| Error::from_db(e, &format!("another customer already has {label} = {v:?}")))?;
        }
    }
    Ok(())
}
