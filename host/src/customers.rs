//! The customer database: customers with their phones, contacts and activities (the
//! timeline), admin-defined option lists and auto-numbered codes. Every read and write goes
//! through the access module with the acting user's grants on the `customers`, `contacts` and
//! `activities` modules; every write records its domain event in the outbox in the same
//! transaction.

pub mod activities;
pub mod analysis;
pub mod codes;
pub mod contacts;
pub mod export;
pub mod fields;
pub mod import;
pub mod import_file;
pub mod names;
pub mod operations;
pub mod options;
pub mod ownership;
pub mod pdf;
pub mod phone;
pub mod print;
mod routes;
pub mod search;
pub mod views;

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};

pub(crate) use routes::routes;

use crate::access::{Access, Action, RecordScope, RecordShare, ScopeColumns, ShareLevel, ShareTable};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::org::ensure_exists;
use crate::org::users::double_option;
use crate::store::{Id, SqlArg, SqlBuf, Store, now_ms};
use crate::timefmt::rfc3339_opt;

/// A phone of a customer or contact.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PhoneEntry {
    /// What the number is, e.g. "office", "mobile", "fax".
    pub label: String,
    /// As written.
    pub number: String,
    /// The canonical form used for matching (E.164 where there is one).
    pub canonical: String,
    pub extension: Option<String>,
}

/// A phone to store.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneInput {
    #[serde(default)]
    pub label: String,
    pub number: String,
}

/// A customer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Customer {
    pub id: Id,
    /// Auto-numbered, e.g. `KH-2026-00001`.
    pub code: String,
    pub name: String,
    /// `company` or `person`.
    pub kind: String,
    pub category: Option<String>,
    pub level: Option<String>,
    pub status: Option<String>,
    pub industry: Option<String>,
    pub region: Option<String>,
    pub source: Option<String>,
    pub address: Option<String>,
    pub website: Option<String>,
    pub bank_name: Option<String>,
    pub bank_account: Option<String>,
    pub tax_id: Option<String>,
    /// Credit limit in minor units (fen).
    pub credit_limit: Option<i64>,
    pub tags: Vec<String>,
    pub notes: String,
    /// Values of the organisation's custom fields, by key.
    #[schema(value_type = Object)]
    pub custom: serde_json::Map<String, serde_json::Value>,
    pub owner_id: Option<Id>,
    pub department_id: Option<Id>,
    /// Parent company in a group.
    pub parent_id: Option<Id>,
    pub phones: Vec<PhoneEntry>,
    pub last_followed_up_at: Option<String>,
    pub next_follow_up_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Incremented by every change; send it back with an update to detect concurrent edits.
    pub version: i64,
    /// `active`, or `pending` while a required approval runs (then `rejected` or `withdrawn`
    /// if it does not pass); see the workflow kernel.
    pub approval_state: String,
    /// The approval that decides `approval_state`, if one was needed.
    pub approval_instance_id: Option<Id>,
}

/// The text fields of a customer that a create or update sets.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub name: String,
    /// `company` (default) or `person`.
    pub kind: Option<String>,
    pub category: Option<String>,
    pub level: Option<String>,
    pub status: Option<String>,
    pub industry: Option<String>,
    pub region: Option<String>,
    pub source: Option<String>,
    pub address: Option<String>,
    pub website: Option<String>,
    pub bank_name: Option<String>,
    pub bank_account: Option<String>,
    pub tax_id: Option<String>,
    pub credit_limit: Option<i64>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub notes: String,
    /// Defaults to the creating user.
    pub owner_id: Option<Id>,
    /// Defaults to the owner's department.
    pub department_id: Option<Id>,
    pub parent_id: Option<Id>,
    #[serde(default)]
    pub phones: Vec<PhoneInput>,
    /// Values of custom fields, by key.
    #[schema(value_type = Option<Object>)]
    pub custom: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Changes to a customer: absent fields stay, `null` clears. Owners change by transfer.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    pub name: Option<String>,
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub level: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub status: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub industry: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub region: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub source: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub website: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub bank_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub bank_account: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub tax_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub credit_limit: Option<Option<i64>>,
    pub tags: Option<Vec<String>>,
    pub notes: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub parent_id: Option<Option<Id>>,
    /// Replaces every phone of the customer.
    pub phones: Option<Vec<PhoneInput>>,
    /// Custom values to set; `null` removes one. Keys not named stay.
    #[schema(value_type = Option<Object>)]
    pub custom: Option<serde_json::Map<String, serde_json::Value>>,
    /// The version read; a mismatch is refused with 409 so a concurrent edit is not lost.
    pub version: Option<i64>,
}

/// The columns every customer query reads, in [`customer_from_row`]'s order.
pub(crate) const COLUMNS: &str = "c.id, c.code, c.name, c.kind, c.category, c.level, c.status, c.industry, c.region, c.source, \
    c.address, c.website, c.bank_name, c.bank_account, c.tax_id, c.credit_limit, c.tags, c.notes, c.owner_id, \
    c.department_id, c.parent_id, c.last_followed_up_at, c.next_follow_up_at, c.created_at, c.updated_at, c.version, c.org_id, c.custom, \
    c.approval_state, c.approval_instance_id";

/// The columns of `customers c` that scope access.
pub const SCOPE: ScopeColumns<'static> =
    ScopeColumns { org: "c.org_id", owner: "c.owner_id", department: "c.department_id" };

/// Customers shared one by one with colleagues or departments.
pub const SHARES: ShareTable<'static> = ShareTable { table: "customer_shares", record_column: "customer_id" };

/// Appends the condition on `customers c` for what the user may do in `module`: their scope
/// of the module, plus the customers shared with them at a level that allows `action`.
pub(crate) fn push_access(access: &Access, module: &str, action: Action, sql: &mut SqlBuf) {
    access.push_filter_with_shares(module, action, &SCOPE, "c.id", &SHARES, sql);
}

/// The shares of one customer.
pub(crate) async fn shares_of(store: &Store, org_id: Id, customer_id: Id) -> Result<Vec<RecordShare>> {
    let rows =
        sqlx::query("SELECT user_id, department_id, level FROM customer_shares WHERE org_id = $1 AND customer_id = $2")
            .bind(org_id)
            .bind(customer_id)
            .fetch_all(store.pool())
            .await?;
    rows.iter()
        .map(|r| {
            let level: String = r.try_get(2)?;
            Ok(RecordShare {
                user_id: r.try_get(0)?,
                department_id: r.try_get(1)?,
                level: if level == "edit" { ShareLevel::Edit } else { ShareLevel::Read },
            })
        })
        .collect()
}

pub(crate) fn customer_from_row(r: &sqlx::any::AnyRow) -> Result<Customer> {
    let tags: String = r.try_get(16)?;
    Ok(Customer {
        id: r.try_get(0)?,
        code: r.try_get(1)?,
        name: r.try_get(2)?,
        kind: r.try_get(3)?,
        category: r.try_get(4)?,
        level: r.try_get(5)?,
        status: r.try_get(6)?,
        industry: r.try_get(7)?,
        region: r.try_get(8)?,
        source: r.try_get(9)?,
        address: r.try_get(10)?,
        website: r.try_get(11)?,
        bank_name: r.try_get(12)?,
        bank_account: r.try_get(13)?,
        tax_id: r.try_get(14)?,
        credit_limit: r.try_get(15)?,
        tags: tags.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect(),
        notes: r.try_get(17)?,
        custom: serde_json::from_str(&r.try_get::<String, _>(27)?).unwrap_or_default(),
        owner_id: r.try_get(18)?,
        department_id: r.try_get(19)?,
        parent_id: r.try_get(20)?,
        phones: Vec::new(),
        last_followed_up_at: rfc3339_opt(r.try_get(21)?),
        next_follow_up_at: rfc3339_opt(r.try_get(22)?),
        created_at: crate::timefmt::rfc3339(r.try_get(23)?),
        updated_at: crate::timefmt::rfc3339(r.try_get(24)?),
        version: r.try_get(25)?,
        approval_state: r.try_get(28)?,
        approval_instance_id: r.try_get(29)?,
    })
}

impl Customer {
    pub fn scope(&self, org_id: Id) -> RecordScope {
        RecordScope { org_id, owner_id: self.owner_id, department_id: self.department_id }
    }
}

/// Loads the phones of these customers (their own, not their contacts').
pub(crate) async fn attach_phones(store: &Store, org_id: Id, customers: &mut [Customer]) -> Result<()> {
    if customers.is_empty() {
        return Ok(());
    }
    let ids: Vec<Id> = customers.iter().map(|c| c.id).collect();
    let mut sql = SqlBuf::new("SELECT customer_id, label, raw, canonical, extension FROM phones WHERE org_id = ");
    sql.bind(org_id).push(" AND contact_id IS NULL AND customer_id IN ").bind_list(&ids).push(" ORDER BY id");
    let mut by_customer: BTreeMap<Id, Vec<PhoneEntry>> = BTreeMap::new();
    for r in sql.query().fetch_all(store.pool()).await? {
        by_customer.entry(r.try_get(0)?).or_default().push(PhoneEntry {
            label: r.try_get(1)?,
            number: r.try_get(2)?,
            canonical: r.try_get(3)?,
            extension: r.try_get(4)?,
        });
    }
    for c in customers {
        c.phones = by_customer.remove(&c.id).unwrap_or_default();
    }
    Ok(())
}

/// Reads one customer regardless of access (callers check it).
async fn load(store: &Store, org_id: Id, id: Id) -> Result<Customer> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM customers c WHERE c.id = $1 AND c.org_id = $2"
    )))
    .bind(id)
    .bind(org_id)
    .fetch_optional(store.pool())
    .await?
    .ok_or(Error::NotFound("customer"))?;
    let mut list = vec![customer_from_row(&row)?];
    attach_phones(store, org_id, &mut list).await?;
    list.pop().ok_or(Error::NotFound("customer"))
}

/// One customer, if the user may do `action` on it. Customers out of reach are "not found",
/// so ids of other people's customers reveal nothing.
pub async fn get(store: &Store, access: &Access, id: Id, action: Action) -> Result<Customer> {
    let org_id = access.principal().org_id;
    let customer = load(store, org_id, id).await?;
    let shares = shares_of(store, org_id, id).await?;
    if !access.allows_with_shares("customers", action, &customer.scope(org_id), &shares) {
        if access.allows_with_shares("customers", Action::Read, &customer.scope(org_id), &shares) {
            return Err(Error::Forbidden(format!("you may read this customer but not {action} it")));
        }
        return Err(Error::NotFound("customer"));
    }
    Ok(customer)
}

/// Trims a text field; empty is absent, longer than `max` characters is refused.
pub(crate) fn clean(field: &'static str, value: Option<&str>, max: usize) -> Result<Option<String>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.chars().count() <= max => Ok(Some(v.to_owned())),
        Some(_) => Err(Error::invalid(field, format!("{field} is at most {max} characters"))),
    }
}

pub(crate) fn clean_tags(tags: &[String]) -> Result<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim();
        if t.is_empty() {
            continue;
        }
        if t.contains(',') || t.chars().count() > 32 {
            return Err(Error::invalid("tags", "a tag is at most 32 characters, without commas"));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    if out.len() > 50 {
        return Err(Error::invalid("tags", "at most 50 tags"));
    }
    Ok(out.join(","))
}

fn check_kind(kind: &str) -> Result<()> {
    if kind == "company" || kind == "person" {
        Ok(())
    } else {
        Err(Error::invalid("kind", "kind is company or person"))
    }
}

/// Normalises every phone, refusing the first that is not a phone number.
pub fn normalise_phones(phones: &[PhoneInput]) -> Result<Vec<(PhoneInput, phone::Phone)>> {
    if phones.len() > 20 {
        return Err(Error::invalid("phones", "at most 20 phone numbers"));
    }
    phones
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let label = p.label.trim();
            if label.chars().count() > 32 {
                return Err(Error::invalid("phones", format!("phone {}: the label is at most 32 characters", i + 1)));
            }
            if p.number.chars().count() > 64 {
                return Err(Error::invalid("phones", format!("phone {}: too long to be a phone number", i + 1)));
            }
            let normalised = phone::normalize(&p.number, None)
                .map_err(|e| Error::invalid("phones", format!("phone {} ({:?}): {e}", i + 1, p.number)))?;
            Ok((PhoneInput { label: label.to_owned(), number: p.number.trim().to_owned() }, normalised))
        })
        .collect()
}

/// The digits of a canonical number, reversed: an "ends with" search becomes a prefix search
/// that a B-tree index answers on both backends.
pub(crate) fn reversed_digits(canonical: &str) -> String {
    canonical.chars().filter(char::is_ascii_digit).rev().collect()
}

/// Stores one phone of a customer or contact.
pub(crate) async fn insert_phone(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    customer_id: Id,
    contact_id: Option<Id>,
    input: &PhoneInput,
    p: &phone::Phone,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO phones (org_id, customer_id, contact_id, label, raw, canonical, suffix, extension, digits_rev) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(org_id)
    .bind(customer_id)
    .bind(contact_id)
    .bind(&input.label)
    .bind(&input.number)
    .bind(&p.canonical)
    .bind(phone::suffix_key(p))
    .bind(&p.extension)
    .bind(reversed_digits(&p.canonical))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Fills the reversed digits of phones stored before they were kept. Runs at start.
pub async fn backfill_phone_digits(store: &Store) -> Result<()> {
    loop {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, canonical FROM phones WHERE digits_rev = '' LIMIT 5000")
                .fetch_all(store.pool())
                .await?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = store.begin_write().await?;
        for (id, canonical) in &rows {
            let digits = reversed_digits(canonical);
            // A canonical form without digits would be found again forever; mark it.
            let digits = if digits.is_empty() { "-".to_owned() } else { digits };
            sqlx::query("UPDATE phones SET digits_rev = $2 WHERE id = $1")
                .bind(id)
                .bind(digits)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
}

/// Appends "has a phone matching `digits`" as `(select FROM phones ph WHERE …)`, where
/// `select` names what to select (`SELECT contact_id`).
pub(crate) fn push_phone_match(
    sql: &mut SqlBuf,
    backend: crate::store::Backend,
    org_id: Id,
    select: &str,
    digits: &str,
    raw: &str,
) {
    sql.push("(").push(select).push(" FROM phones ph WHERE ph.org_id = ").bind(org_id).push(" AND ");
    push_phone_condition(sql, backend, "ph", digits, raw);
    sql.push(")");
}

/// Appends the condition on the phone `alias` for a search by number: the same canonical
/// number when what was typed reads as a whole phone number, or a number ending with the
/// digits.
pub(crate) fn push_phone_condition(
    sql: &mut SqlBuf,
    backend: crate::store::Backend,
    alias: &str,
    digits: &str,
    raw: &str,
) {
    sql.push("(");
    push_digits_match(sql, backend, &format!("{alias}.digits_rev"), digits);
    if let Ok(p) = phone::normalize(raw, None) {
        sql.push(" OR ");
        push_canonical_in(sql, alias, std::slice::from_ref(&p.canonical));
    }
    sql.push(")");
}

/// Appends "the phone `alias` is one of these canonical numbers", through the reversed-digits
/// index: a canonical number's digits, reversed, are its whole key there.
pub(crate) fn push_canonical_in(sql: &mut SqlBuf, alias: &str, canonical: &[String]) {
    let reversed: Vec<String> = canonical.iter().map(|c| reversed_digits(c)).collect();
    sql.push("(").push(alias).push(".digits_rev IN ").bind_list(&reversed);
    sql.push(" AND ").push(alias).push(".canonical IN ").bind_list(canonical).push(")");
}

/// Appends "the number ends with `digits`" on a reversed-digits column: a prefix of the
/// reversed digits, written so that each backend's index serves it (a range on SQLite; a
/// `LIKE` prefix on PostgreSQL, whose `text_pattern_ops` index does not serve a collated range).
fn push_digits_match(sql: &mut SqlBuf, backend: crate::store::Backend, column: &str, digits: &str) {
    let rev: String = digits.chars().filter(char::is_ascii_digit).rev().collect();
    match backend {
        crate::store::Backend::Sqlite => {
            sql.push("(").push(column).push(" >= ").bind(rev.clone());
            sql.push(" AND ").push(column).push(" < ").bind(format!("{rev}:")).push(")");
        }
        crate::store::Backend::Postgres => {
            sql.push(column).push(" LIKE ").bind(format!("{rev}%"));
        }
    }
}

/// Replaces the phones of a customer (`contact_id` None) or of one of its contacts.
pub(crate) async fn write_phones(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    customer_id: Id,
    contact_id: Option<Id>,
    phones: &[(PhoneInput, phone::Phone)],
) -> Result<()> {
    let mut del = SqlBuf::new("DELETE FROM phones WHERE org_id = ");
    del.bind(org_id).push(" AND customer_id = ").bind(customer_id);
    match contact_id {
        Some(c) => del.push(" AND contact_id = ").bind(c),
        None => del.push(" AND contact_id IS NULL"),
    };
    del.query().execute(&mut **tx).await?;
    for (input, p) in phones {
        insert_phone(tx, org_id, customer_id, contact_id, input, p).await?;
    }
    Ok(())
}

/// The new value of an option field, when the patch changes it (only changed values are checked,
/// so a retired option a customer already has does not block other edits).
fn changed_option<'a>(new: &Option<Option<String>>, value: &'a Option<String>) -> Option<&'a str> {
    new.as_ref().and(value.as_deref())
}

async fn check_options(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    values: [(&'static str, Option<&str>); 6],
) -> Result<()> {
    for (list, value) in values {
        if let Some(v) = value {
            options::ensure_valid(&mut **tx, org_id, list, v).await?;
        }
    }
    Ok(())
}

pub fn search_text_for(name: &str, code: &str) -> String {
    format!("{} {}", names::search_text(name), code.to_lowercase())
}

/// Creates a customer owned by `owner_id` (default: the acting user).
pub async fn create(store: &Store, access: &Access, input: &NewCustomer) -> Result<Customer> {
    let p = *access.principal();
    let name =
        clean("name", Some(&input.name), 200)?.ok_or_else(|| Error::invalid("name", "a customer needs a name"))?;
    let kind = input.kind.clone().unwrap_or_else(|| "company".into());
    check_kind(&kind)?;
    let tags = clean_tags(&input.tags)?;
    let phones = normalise_phones(&input.phones)?;
    if input.notes.chars().count() > 10_000 {
        return Err(Error::invalid("notes", "notes are at most 10,000 characters"));
    }
    if input.credit_limit.is_some_and(|c| c < 0) {
        return Err(Error::invalid("credit_limit", "the credit limit cannot be negative"));
    }
    let owner_id = input.owner_id.unwrap_or(p.user_id);
    let mut tx = store.begin_write().await?;
    let owner_department: Option<Id> = if owner_id == p.user_id {
        p.department_id
    } else {
        ensure_exists(&mut *tx, "users", "owner_id", p.org_id, owner_id).await?;
        sqlx::query_scalar("SELECT department_id FROM users WHERE id = $1 AND org_id = $2")
            .bind(owner_id)
            .bind(p.org_id)
            .fetch_one(&mut *tx)
            .await?
    };
    let department_id = input.department_id.or(owner_department);
    if let Some(d) = input.department_id {
        ensure_exists(&mut *tx, "departments", "department_id", p.org_id, d).await?;
    }
    let scope = RecordScope { org_id: p.org_id, owner_id: Some(owner_id), department_id };
    if !access.allows("customers", Action::Create, &scope) {
        return Err(Error::Forbidden("you may not create customers for that owner or department".into()));
    }
    if let Some(parent) = input.parent_id {
        ensure_exists(&mut *tx, "customers", "parent_id", p.org_id, parent).await?;
    }
    check_options(
        &mut tx,
        p.org_id,
        [
            ("category", input.category.as_deref()),
            ("level", input.level.as_deref()),
            ("status", input.status.as_deref()),
            ("industry", input.industry.as_deref()),
            ("region", input.region.as_deref()),
            ("source", input.source.as_deref()),
        ],
    )
    .await?;
    let custom = fields::apply(&mut tx, p.org_id, &serde_json::Map::new(), input.custom.as_ref()).await?;
    let (pattern, time_zone) = codes::org_pattern(&mut *tx, p.org_id).await?;
    let code = codes::next_code(&mut tx, p.org_id, &pattern, &time_zone).await?;
    let now = now_ms();
    let id: Id = sqlx::query_scalar(
        "INSERT INTO customers (org_id, code, name, kind, category, level, status, industry, region, source, address, website, \
            bank_name, bank_account, tax_id, credit_limit, tags, notes, owner_id, department_id, parent_id, name_key, search_text, \
            created_by, created_at, updated_at, version, custom) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $25, 1, $26) \
         RETURNING id",
    )
    .bind(p.org_id)
    .bind(&code)
    .bind(&name)
    .bind(&kind)
    .bind(&input.category)
    .bind(&input.level)
    .bind(&input.status)
    .bind(&input.industry)
    .bind(&input.region)
    .bind(&input.source)
    .bind(clean("address", input.address.as_deref(), 500)?)
    .bind(clean("website", input.website.as_deref(), 300)?)
    .bind(clean("bank_name", input.bank_name.as_deref(), 200)?)
    .bind(clean("bank_account", input.bank_account.as_deref(), 64)?)
    .bind(clean("tax_id", input.tax_id.as_deref(), 64)?)
    .bind(input.credit_limit)
    .bind(&tags)
    .bind(input.notes.trim())
    .bind(owner_id)
    .bind(department_id)
    .bind(input.parent_id)
    .bind(names::company_key(&name))
    .bind(search_text_for(&name, &code))
    .bind(p.user_id)
    .bind(now)
    .bind(serde_json::Value::Object(custom.clone()).to_string())
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| Error::from_db(e, "customer code taken"))?;
    fields::index_unique(&mut tx, p.org_id, id, &custom).await?;
    write_phones(&mut tx, p.org_id, id, None, &phones).await?;
    let mut created = load_in(&mut tx, p.org_id, id).await?;
    if crate::workflow::customer_approval::start_if_required(&mut tx, p.org_id, p.user_id, &created).await?.is_some() {
        created = load_in(&mut tx, p.org_id, id).await?;
    }
    Event {
        org_id: p.org_id,
        topic: "customer.created",
        aggregate: ("customer", id),
        actor_user_id: Some(p.user_id),
        payload: &created,
    }
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Reads a customer inside a transaction (for event payloads that match what was committed).
pub(crate) async fn load_in(tx: &mut sqlx::Transaction<'static, sqlx::Any>, org_id: Id, id: Id) -> Result<Customer> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM customers c WHERE c.id = $1 AND c.org_id = $2"
    )))
    .bind(id)
    .bind(org_id)
    .fetch_one(&mut **tx)
    .await?;
    let mut customer = customer_from_row(&row)?;
    let rows = sqlx::query("SELECT label, raw, canonical, extension FROM phones WHERE org_id = $1 AND customer_id = $2 AND contact_id IS NULL ORDER BY id")
        .bind(org_id)
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
    for r in rows {
        customer.phones.push(PhoneEntry {
            label: r.try_get(0)?,
            number: r.try_get(1)?,
            canonical: r.try_get(2)?,
            extension: r.try_get(3)?,
        });
    }
    Ok(customer)
}

/// Applies a patch to a customer the user may edit.
pub async fn update(store: &Store, access: &Access, id: Id, patch: &CustomerPatch) -> Result<Customer> {
    let p = *access.principal();
    let before = get(store, access, id, Action::Edit).await?;
    if patch.version.is_some_and(|v| v != before.version) {
        return Err(Error::Conflict(format!(
            "this customer was changed by someone else (version {} is current); reload it and try again",
            before.version
        )));
    }
    let name = match &patch.name {
        Some(n) => clean("name", Some(n), 200)?.ok_or_else(|| Error::invalid("name", "a customer needs a name"))?,
        None => before.name.clone(),
    };
    let kind = patch.kind.clone().unwrap_or_else(|| before.kind.clone());
    check_kind(&kind)?;
    let pick = |field: &'static str,
                new: &Option<Option<String>>,
                old: &Option<String>,
                max: usize|
     -> Result<Option<String>> {
        match new {
            Some(v) => clean(field, v.as_deref(), max),
            None => Ok(old.clone()),
        }
    };
    let category = pick("category", &patch.category, &before.category, 64)?;
    let level = pick("level", &patch.level, &before.level, 64)?;
    let status = pick("status", &patch.status, &before.status, 64)?;
    let industry = pick("industry", &patch.industry, &before.industry, 64)?;
    let region = pick("region", &patch.region, &before.region, 64)?;
    let source = pick("source", &patch.source, &before.source, 64)?;
    let address = pick("address", &patch.address, &before.address, 500)?;
    let website = pick("website", &patch.website, &before.website, 300)?;
    let bank_name = pick("bank_name", &patch.bank_name, &before.bank_name, 200)?;
    let bank_account = pick("bank_account", &patch.bank_account, &before.bank_account, 64)?;
    let tax_id = pick("tax_id", &patch.tax_id, &before.tax_id, 64)?;
    let credit_limit = patch.credit_limit.unwrap_or(before.credit_limit);
    if credit_limit.is_some_and(|c| c < 0) {
        return Err(Error::invalid("credit_limit", "the credit limit cannot be negative"));
    }
    let tags = match &patch.tags {
        Some(t) => clean_tags(t)?,
        None => before.tags.join(","),
    };
    let notes = patch.notes.clone().unwrap_or_else(|| before.notes.clone());
    if notes.chars().count() > 10_000 {
        return Err(Error::invalid("notes", "notes are at most 10,000 characters"));
    }
    let parent_id = patch.parent_id.unwrap_or(before.parent_id);
    let phones = patch.phones.as_deref().map(normalise_phones).transpose()?;
    let mut tx = store.begin_write().await?;
    if let Some(parent) = parent_id {
        ensure_exists(&mut *tx, "customers", "parent_id", p.org_id, parent).await?;
        ensure_no_parent_cycle(&mut tx, p.org_id, id, parent).await?;
    }
    let custom = fields::apply(&mut tx, p.org_id, &before.custom, patch.custom.as_ref()).await?;
    check_options(
        &mut tx,
        p.org_id,
        [
            ("category", changed_option(&patch.category, &category)),
            ("level", changed_option(&patch.level, &level)),
            ("status", changed_option(&patch.status, &status)),
            ("industry", changed_option(&patch.industry, &industry)),
            ("region", changed_option(&patch.region, &region)),
            ("source", changed_option(&patch.source, &source)),
        ],
    )
    .await?;
    let done = sqlx::query(
        "UPDATE customers SET name = $3, kind = $4, category = $5, level = $6, status = $7, industry = $8, region = $9, \
            source = $10, address = $11, website = $12, bank_name = $13, bank_account = $14, tax_id = $15, credit_limit = $16, \
            tags = $17, notes = $18, parent_id = $19, name_key = $20, search_text = $21, updated_at = $22, version = version + 1, \
            custom = $24 WHERE id = $1 AND org_id = $2 AND version = $23",
    )
    .bind(id)
    .bind(p.org_id)
    .bind(&name)
    .bind(&kind)
    .bind(&category)
    .bind(&level)
    .bind(&status)
    .bind(&industry)
    .bind(&region)
    .bind(&source)
    .bind(&address)
    .bind(&website)
    .bind(&bank_name)
    .bind(&bank_account)
    .bind(&tax_id)
    .bind(credit_limit)
    .bind(&tags)
    .bind(notes.trim())
    .bind(parent_id)
    .bind(names::company_key(&name))
    .bind(search_text_for(&name, &before.code))
    .bind(now_ms())
    .bind(before.version)
    .bind(serde_json::Value::Object(custom.clone()).to_string())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::Conflict(
            "this customer was changed by someone else at the same moment; reload it and try again".into(),
        ));
    }
    if patch.custom.is_some() {
        fields::index_unique(&mut tx, p.org_id, id, &custom).await?;
    }
    if let Some(phones) = &phones {
        write_phones(&mut tx, p.org_id, id, None, phones).await?;
    }
    let after = load_in(&mut tx, p.org_id, id).await?;
    Event {
        org_id: p.org_id,
        topic: "customer.updated",
        aggregate: ("customer", id),
        actor_user_id: Some(p.user_id),
        payload: &after,
    }
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(after)
}

async fn ensure_no_parent_cycle(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    id: Id,
    parent: Id,
) -> Result<()> {
    let mut next = Some(parent);
    let mut steps = 0;
    while let Some(c) = next {
        if c == id {
            return Err(Error::invalid("parent_id", "a company cannot be its own parent, directly or through others"));
        }
        steps += 1;
        if steps > 1000 {
            break;
        }
        next = sqlx::query_scalar("SELECT parent_id FROM customers WHERE id = $1 AND org_id = $2")
            .bind(c)
            .bind(org_id)
            .fetch_optional(&mut **tx)
            .await?
            .flatten();
    }
    Ok(())
}

/// Deletes a customer with its contacts, phones and activities.
pub async fn delete(store: &Store, access: &Access, id: Id) -> Result<()> {
    let p = *access.principal();
    let customer = get(store, access, id, Action::Delete).await?;
    let mut tx = store.begin_write().await?;
    sqlx::query("UPDATE customers SET parent_id = NULL WHERE org_id = $1 AND parent_id = $2")
        .bind(p.org_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM customers WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(p.org_id)
        .execute(&mut *tx)
        .await?;
    Event {
        org_id: p.org_id,
        topic: "customer.deleted",
        aggregate: ("customer", id),
        actor_user_id: Some(p.user_id),
        payload: &customer,
    }
    .record(&mut tx)
    .await?;
    crate::audit::AuditEntry::new(p.org_id, Some(p.user_id), "customer.deleted")
        .target("customer", id)
        .detail(serde_json::json!({ "code": customer.code, "name": customer.name }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// How a customer list is sorted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortField {
    /// Newest first (the default).
    #[default]
    Created,
    Updated,
    Name,
    Code,
    NextFollowUp,
    LastFollowedUp,
}

impl SortField {
    /// The sort expression, with NULLs folded to a value that sorts last.
    fn expr(self, descending: bool) -> (&'static str, bool) {
        // (expression, is_text)
        match (self, descending) {
            (SortField::Created, _) => ("c.id", false),
            (SortField::Updated, _) => ("c.updated_at", false),
            (SortField::Name, _) => ("c.name", true),
            (SortField::Code, _) => ("c.code", true),
            (SortField::NextFollowUp, false) => ("COALESCE(c.next_follow_up_at, 9223372036854775807)", false),
            (SortField::NextFollowUp, true) => ("COALESCE(c.next_follow_up_at, -1)", false),
            (SortField::LastFollowedUp, false) => ("COALESCE(c.last_followed_up_at, 9223372036854775807)", false),
            (SortField::LastFollowedUp, true) => ("COALESCE(c.last_followed_up_at, -1)", false),
        }
    }
}

/// Filters, quick search, sort and keyset paging of the customer list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// Quick search: name (also as pinyin or its initials, e.g. `bjkj`), code, phone (any
    /// format, or its last digits) and contact names.
    pub q: Option<String>,
    pub owner_id: Option<Id>,
    /// `true` for the caller's own customers only (a saved view shared with everyone then
    /// shows each user their own).
    pub mine: Option<bool>,
    pub department_id: Option<Id>,
    pub category: Option<String>,
    pub level: Option<String>,
    pub status: Option<String>,
    pub industry: Option<String>,
    pub region: Option<String>,
    pub source: Option<String>,
    /// Customers carrying this tag.
    pub tag: Option<String>,
    /// Customers whose next follow-up is due before this time (RFC 3339).
    pub follow_up_before: Option<String>,
    /// Customers not followed up since this time (RFC 3339), or never.
    pub not_followed_up_since: Option<String>,
    #[param(value_type = Option<String>)]
    pub sort: Option<SortField>,
    /// `true` for descending (the default for `created` and `updated`).
    pub desc: Option<bool>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<i64>,
    /// The conditions of a plugin's selection (`customers:assign`); never read from a URL.
    #[serde(skip)]
    #[param(ignore)]
    pub selection: Option<ownership::Selection>,
}

/// A page of customers.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerPage {
    pub items: Vec<Customer>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Reads an RFC 3339 time as Unix milliseconds.
pub(crate) fn parse_time(field: &'static str, s: &str) -> Result<i64> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| Error::invalid(field, format!("{s:?} is not an RFC 3339 time such as 2026-11-22T08:00:00Z")))
}

/// A parsed quick search: its text for the search documents and its digits for phones.
struct QuickSearch<'a> {
    raw: &'a str,
    text: Option<String>,
    lookup: search::Lookup,
    digits: Option<String>,
}

impl<'a> QuickSearch<'a> {
    fn new(raw: &'a str) -> Self {
        let text = names::search_query(raw).map(|t| t.replace(['%', '_'], "")).filter(|t| !t.is_empty());
        let lookup = text.as_deref().map_or(search::Lookup::Walk, search::Lookup::of);
        QuickSearch { raw, text, lookup, digits: phone::search_digits(raw) }
    }

    /// Whether the indexes answer every part of the search; otherwise it walks the list.
    fn indexed(&self) -> bool {
        self.text.is_none() || self.lookup != search::Lookup::Walk
    }

    /// Appends "`c` or one of its contacts matches the text", tested on the rows themselves.
    fn push_text_live(&self, sql: &mut SqlBuf, backend: crate::store::Backend) {
        // PostgreSQL would turn the EXISTS into one hashed scan of every contact of the
        // organisation; OFFSET 0 keeps it per customer, which is what a walk that stops early
        // wants.
        let per_row = if backend == crate::store::Backend::Postgres { " OFFSET 0" } else { "" };
        match &self.text {
            Some(t) => {
                let pattern = search::like_pattern(backend, t);
                sql.push("(c.search_text LIKE ").bind(pattern.clone());
                sql.push(" OR EXISTS (SELECT 1 FROM contacts k WHERE k.org_id = c.org_id AND k.customer_id = c.id");
                sql.push(" AND k.search_text LIKE ").bind(pattern).push(per_row).push("))");
            }
            None => {
                sql.push("1 = 0");
            }
        }
    }

    /// Appends the walk's condition on `customers c`: the text on the rows, or a phone.
    fn push_walk(&self, sql: &mut SqlBuf, backend: crate::store::Backend) {
        sql.push("(");
        self.push_text_live(sql, backend);
        if let Some(d) = &self.digits {
            sql.push(" OR EXISTS (SELECT 1 FROM phones ph WHERE ph.org_id = c.org_id AND ph.customer_id = c.id AND ");
            push_phone_condition(sql, backend, "ph", d, self.raw);
            sql.push(if backend == crate::store::Backend::Postgres { " OFFSET 0)" } else { ")" });
        }
        sql.push(")");
    }

    /// Appends the ids of the customers matching, as a `UNION` of branches each joined to
    /// `customers c` under `cond`: the search documents, the customers waiting for the
    /// indexer (tested on their rows), and the phones. Only for a search that is
    /// [`QuickSearch::indexed`].
    fn push_union(
        &self,
        out: &mut SqlBuf,
        backend: crate::store::Backend,
        org_id: Id,
        window: Option<search::Window>,
        cond: &SqlBuf,
    ) {
        let mut any = false;
        if self.text.is_some() {
            let mut live = SqlBuf::default();
            self.push_text_live(&mut live, backend);
            let target = search::Target {
                kind: search::Kind::Customer,
                lookup: &self.lookup,
                source: search::Source { from: "customers c", id: "c.id" },
                window,
            };
            any = search::push_text_branches(out, backend, &target, live, cond);
        }
        if let Some(d) = &self.digits {
            if any {
                out.push(search::union(backend));
            }
            out.push("SELECT ph.customer_id AS id FROM phones ph CROSS JOIN customers c WHERE c.id = ph.customer_id ");
            out.push("AND ph.org_id = ").bind(org_id).push(" AND ");
            push_phone_condition(out, backend, "ph", d, self.raw);
            out.push(" AND ").append(cond.clone());
            any = true;
        }
        if !any {
            out.push("SELECT c.id FROM customers c WHERE 1 = 0");
        }
    }
}

/// The customers the user may read, filtered, searched, sorted and paged.
pub async fn list(store: &Store, access: &Access, q: &CustomerQuery) -> Result<CustomerPage> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Error::invalid("limit", "limit is 1 to 500"));
    }
    page(store, access, q, Action::Read, limit).await
}

/// Every customer of a filtered view the user may do `action` on, page by page (for printing
/// and exporting), stopping after `max_rows`.
pub async fn each_page<F, Fut>(
    store: &Store,
    access: &Access,
    q: &CustomerQuery,
    action: Action,
    max_rows: usize,
    mut f: F,
) -> Result<usize>
where
    F: FnMut(Vec<Customer>) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut q = q.clone();
    q.cursor = None;
    let mut seen = 0;
    loop {
        let chunk = (max_rows - seen).min(1000) as i64;
        if chunk == 0 {
            break;
        }
        let page = page(store, access, &q, action, chunk).await?;
        seen += page.items.len();
        f(page.items).await?;
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    Ok(seen)
}

/// The first window of ids a PostgreSQL search walks (see [`page`]).
const FIRST_WINDOW: i64 = 2_000;
/// The widest window a PostgreSQL search walks; wider ones go through the trigram index.
const WALK_WIDEST: i64 = 10_000;
/// How much a PostgreSQL search window grows when the last held no match.
const WINDOW_GROWTH: i64 = 8;

/// One page of the list. A quick search whose parts the indexes answer reads the search
/// documents and phones (a `UNION` of id branches, each under the access filter); on SQLite the
/// documents come in id order, so a newest-first page reads only as far as it needs. On
/// PostgreSQL, whose trigram index has no order, a newest-first search first walks the newest
/// [`FIRST_WINDOW`] ids (a common text fills the page there); each next window is as wide as the
/// matches so far suggest a page needs, or [`WINDOW_GROWTH`] times wider when none matched yet,
/// walked when narrow and through the trigram index when wide.
/// A text the indexes cannot hold (one or two letters) walks the list in order, which its LIMIT
/// ends early for such common text.
async fn page(store: &Store, access: &Access, q: &CustomerQuery, action: Action, limit: i64) -> Result<CustomerPage> {
    let search = match q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(text) if text.chars().count() > 100 => {
            return Err(Error::invalid("q", "a search is at most 100 characters"));
        }
        Some(text) => Some(QuickSearch::new(text)),
        None => None,
    };
    let sort = q.sort.unwrap_or_default();
    let descending = q.desc.unwrap_or(matches!(sort, SortField::Created | SortField::Updated));
    let (_, is_text) = sort.expr(descending);
    let windowed = store.backend() == crate::store::Backend::Postgres
        && sort == SortField::Created
        && search.as_ref().is_some_and(|s| s.indexed() && s.text.is_some());
    let rows = if windowed {
        // Windows start at the cursor (or the end of the list) and move down the ids, or up
        // for the oldest-first order, until the page is full or a window reaches the far end.
        let (first, last): (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT MIN(id), MAX(id) FROM customers WHERE org_id = $1")
                .bind(access.principal().org_id)
                .fetch_one(store.pool())
                .await?;
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(CustomerPage { items: Vec::new(), next_cursor: None });
        };
        let start = match &q.cursor {
            Some(c) => decode_cursor(c)?.1,
            None if descending => last.saturating_add(1),
            None => first.saturating_sub(1),
        };
        let mut width = FIRST_WINDOW;
        loop {
            let edge = if descending { start.saturating_sub(width) } else { start.saturating_add(width) };
            let reaches_end = if descending { edge <= first } else { edge >= last };
            let window = (!reaches_end).then_some(search::Window { edge, descending, walk: width <= WALK_WIDEST });
            let rows =
                fetch_page_json(store, page_sql(store, access, q, action, limit, search.as_ref(), window)?, descending)
                    .await?;
            let found = rows.len() as i64;
            if found > limit || reaches_end {
                break rows;
            }
            // The matches so far tell how far a page reaches: the next window is that far,
            // with a quarter more to spare; with no match yet, eight times as far. (Asking the
            // trigram index for every match at once would read all of a common text's matches
            // when the newest customers happen not to have it, say after an import.)
            width = match found {
                0 => width.saturating_mul(WINDOW_GROWTH),
                n => ((width.saturating_mul(limit + 1) / n).saturating_mul(5) / 4).max(width.saturating_mul(2)),
            };
        }
    } else {
        fetch_page_json(store, page_sql(store, access, q, action, limit, search.as_ref(), None)?, descending).await?
    };
    let mut rows = rows;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = match rows.last() {
        Some(last) if more => {
            let key = match (&last.sort_key, is_text) {
                (serde_json::Value::String(s), true) => SqlArg::Text(s.clone()),
                (v, false) => SqlArg::Int(v.as_i64().unwrap_or_default()),
                _ => return Err(Error::Internal("a text sort key came back as a number".into())),
            };
            Some(encode_cursor(&key, last.id))
        }
        _ => None,
    };
    let items = rows.into_iter().map(JsonRow::into_customer).collect();
    Ok(CustomerPage { items, next_cursor })
}

/// The SQL of one page: `SELECT {COLUMNS}, <sort key> AS k FROM customers c …` with the
/// access filter, the filters, the cursor and the search, in order, limited to `limit + 1`.
/// With a `window`, only ids down to (or, oldest first, up to) its edge are searched.
fn page_sql(
    store: &Store,
    access: &Access,
    q: &CustomerQuery,
    action: Action,
    limit: i64,
    search: Option<&QuickSearch<'_>>,
    window: Option<search::Window>,
) -> Result<SqlBuf> {
    let sort = q.sort.unwrap_or_default();
    let descending = q.desc.unwrap_or(matches!(sort, SortField::Created | SortField::Updated));
    let (expr, is_text) = sort.expr(descending);
    let dir = if descending { "DESC" } else { "ASC" };
    let mut sql = SqlBuf::default();
    push_access(access, "customers", action, &mut sql);
    for (column, value) in [
        ("c.category", &q.category),
        ("c.level", &q.level),
        ("c.status", &q.status),
        ("c.industry", &q.industry),
        ("c.region", &q.region),
        ("c.source", &q.source),
    ] {
        if let Some(v) = value {
            sql.push(" AND ").push(column).push(" = ").bind(v.as_str());
        }
    }
    if let Some(o) = q.owner_id {
        sql.push(" AND c.owner_id = ").bind(o);
    }
    if q.mine == Some(true) {
        sql.push(" AND c.owner_id = ").bind(access.principal().user_id);
    }
    if let Some(d) = q.department_id {
        sql.push(" AND c.department_id = ").bind(d);
    }
    if let Some(tag) = q.tag.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        sql.push(" AND (',' || c.tags || ',') LIKE ").bind(format!("%,{},%", tag.replace(['%', '_'], "")));
    }
    if let Some(before) = &q.follow_up_before {
        sql.push(" AND c.next_follow_up_at < ").bind(parse_time("follow_up_before", before)?);
    }
    if let Some(since) = &q.not_followed_up_since {
        let since = parse_time("not_followed_up_since", since)?;
        sql.push(" AND (c.last_followed_up_at IS NULL OR c.last_followed_up_at < ").bind(since).push(")");
    }
    if let Some(selection) = &q.selection {
        selection.check()?;
        selection.push_conditions(store.backend(), &mut sql);
    }
    if let Some(cursor) = &q.cursor {
        let (value, id) = decode_cursor(cursor)?;
        let cmp = if descending { "<" } else { ">" };
        // Written so that the indexes serve it: the id alone for the newest-first order (the
        // primary key), a row value for the others. An `a < x OR (a = x AND id < y)` form
        // would make every page scan from the top of the list again.
        match (value, is_text) {
            (SqlArg::Int(_), false) if sort == SortField::Created => {
                sql.push(&format!(" AND c.id {cmp} ")).bind(id);
            }
            (v @ SqlArg::Text(_), true) | (v @ SqlArg::Int(_), false) => {
                sql.push(" AND (")
                    .push(expr)
                    .push(", c.id) ")
                    .push(cmp)
                    .push(" (")
                    .bind(v)
                    .push(", ")
                    .bind(id)
                    .push(")");
            }
            _ => {
                return Err(Error::invalid(
                    "cursor",
                    "the cursor belongs to another sort order; start again without it",
                ));
            }
        }
    }
    if let Some(w) = window {
        sql.push(&format!(" AND c.id {} ", w.op())).bind(w.edge);
    }
    let mut out = SqlBuf::new(format!("SELECT {COLUMNS}, {expr} AS k FROM "));
    match search {
        Some(search) if search.indexed() => {
            // The ids come from the branches. In list order (newest first) the ORDER BY and
            // LIMIT over them let the database merge branches that each arrive in id order and
            // stop at the page. PostgreSQL's branches may repeat a customer (matched by name
            // and by phone), at most twice, so it takes twice the page and removes repeats.
            let postgres = store.backend() == crate::store::Backend::Postgres;
            out.push(if postgres { "(SELECT DISTINCT id FROM (" } else { "(" });
            search.push_union(&mut out, store.backend(), access.principal().org_id, window, &sql);
            if sort == SortField::Created {
                out.push(&format!(" ORDER BY 1 {dir}")).limit(if postgres { 2 * (limit + 1) } else { limit + 1 });
            }
            out.push(if postgres { ") u" } else { "" });
            out.push(") m CROSS JOIN customers c WHERE c.id = m.id");
        }
        Some(search) => {
            out.push("customers c WHERE ").append(sql).push(" AND ");
            search.push_walk(&mut out, store.backend());
        }
        None => {
            out.push("customers c WHERE ").append(sql);
        }
    }
    out.push(&format!(" ORDER BY {expr} {dir}, c.id {dir}")).limit(limit + 1);
    Ok(out)
}

/// One customer of a page as the database aggregates it: [`COLUMNS`] in order, then the sort
/// key, then the phones.
#[derive(Deserialize)]
struct JsonRow {
    id: Id,
    code: String,
    name: String,
    kind: String,
    category: Option<String>,
    level: Option<String>,
    status: Option<String>,
    industry: Option<String>,
    region: Option<String>,
    source: Option<String>,
    address: Option<String>,
    website: Option<String>,
    bank_name: Option<String>,
    bank_account: Option<String>,
    tax_id: Option<String>,
    credit_limit: Option<i64>,
    tags: String,
    notes: String,
    owner_id: Option<Id>,
    department_id: Option<Id>,
    parent_id: Option<Id>,
    last_followed_up_at: Option<i64>,
    next_follow_up_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    version: i64,
    _org_id: Id,
    custom: String,
    approval_state: String,
    approval_instance_id: Option<Id>,
    sort_key: serde_json::Value,
    phones: JsonPhones,
}

/// A customer's phones in a page: an array, or the same array as text where the database
/// handed the subquery's JSON on as a string.
struct JsonPhones(Vec<(String, String, String, Option<String>)>);

impl<'de> Deserialize<'de> for JsonPhones {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = JsonPhones;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of phones")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<JsonPhones, A::Error> {
                let mut list = Vec::new();
                while let Some(phone) = seq.next_element()? {
                    list.push(phone);
                }
                Ok(JsonPhones(list))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> std::result::Result<JsonPhones, E> {
                serde_json::from_str(text).map(JsonPhones).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl JsonPhones {
    fn into_entries(self) -> Vec<PhoneEntry> {
        self.0
            .into_iter()
            .map(|(label, number, canonical, extension)| PhoneEntry { label, number, canonical, extension })
            .collect()
    }
}

impl JsonRow {
    fn into_customer(self) -> Customer {
        Customer {
            id: self.id,
            code: self.code,
            name: self.name,
            kind: self.kind,
            category: self.category,
            level: self.level,
            status: self.status,
            industry: self.industry,
            region: self.region,
            source: self.source,
            address: self.address,
            website: self.website,
            bank_name: self.bank_name,
            bank_account: self.bank_account,
            tax_id: self.tax_id,
            credit_limit: self.credit_limit,
            tags: self.tags.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect(),
            notes: self.notes,
            custom: serde_json::from_str(&self.custom).unwrap_or_default(),
            owner_id: self.owner_id,
            department_id: self.department_id,
            parent_id: self.parent_id,
            phones: self.phones.into_entries(),
            last_followed_up_at: rfc3339_opt(self.last_followed_up_at),
            next_follow_up_at: rfc3339_opt(self.next_follow_up_at),
            created_at: crate::timefmt::rfc3339(self.created_at),
            updated_at: crate::timefmt::rfc3339(self.updated_at),
            version: self.version,
            approval_state: self.approval_state,
            approval_instance_id: self.approval_instance_id,
        }
    }
}

/// Runs `inner` (`SELECT {COLUMNS}, <sort key> AS k FROM customers c … ORDER BY … LIMIT n`)
/// and has the database hand the page back as one JSON array, each customer with its phones.
///
/// A page is then one value crossing from the database instead of some 1,500 columns and a
/// second query for the phones, which is most of what a list request used to cost.
async fn fetch_page_json(store: &Store, inner: SqlBuf, descending: bool) -> Result<Vec<JsonRow>> {
    let dir = if descending { "DESC" } else { "ASC" };
    let fields: Vec<String> = COLUMNS.split(',').map(|c| format!("x.{}", c.trim().trim_start_matches("c."))).collect();
    let fields = fields.join(", ");
    // SQLite reads a customer's phones through the (org_id, customer_id) index, whose entries
    // are in id order already; PostgreSQL is told the order.
    let outer = match store.backend() {
        crate::store::Backend::Sqlite => format!(
            "SELECT json_group_array(json_array({fields}, x.k, (SELECT json_group_array(json_array(p.label, p.raw, p.canonical, p.extension)) \
             FROM phones p WHERE p.org_id = x.org_id AND p.customer_id = x.id AND p.contact_id IS NULL))) FROM ("
        ),
        crate::store::Backend::Postgres => format!(
            "SELECT CAST(COALESCE(json_agg(json_build_array({fields}, x.k, COALESCE((SELECT json_agg(json_build_array(p.label, p.raw, p.canonical, p.extension) ORDER BY p.id) \
             FROM phones p WHERE p.org_id = x.org_id AND p.customer_id = x.id AND p.contact_id IS NULL), CAST('[]' AS json))) ORDER BY x.k {dir}, x.id {dir}), CAST('[]' AS json)) AS TEXT) FROM ("
        ),
    };
    let mut sql = SqlBuf::new(outer);
    sql.append(inner);
    sql.push(") x");
    tracing::trace!(sql = %sql.text, args = ?sql.args, "customer page");
    let text: String = sql.query().fetch_one(store.pool()).await?.try_get(0)?;
    let mut rows: Vec<JsonRow> =
        serde_json::from_str(&text).map_err(|e| Error::Internal(format!("a customer page did not decode: {e}")))?;
    if store.backend() == crate::store::Backend::Sqlite {
        // SQLite compares text byte by byte, as Rust does, so the page is put back in order
        // here rather than sorted a second time by the aggregate.
        rows.sort_by(|a, b| {
            let by_key = match (&a.sort_key, &b.sort_key) {
                (serde_json::Value::String(x), serde_json::Value::String(y)) => x.cmp(y),
                (x, y) => x.as_i64().cmp(&y.as_i64()),
            };
            let order = by_key.then(a.id.cmp(&b.id));
            if descending { order.reverse() } else { order }
        });
    }
    Ok(rows)
}

fn encode_cursor(value: &SqlArg, id: Id) -> String {
    let json = match value {
        SqlArg::Int(v) => serde_json::json!([v, id]),
        SqlArg::Text(v) => serde_json::json!([v, id]),
        SqlArg::OptInt(v) => serde_json::json!([v, id]),
        SqlArg::OptText(v) => serde_json::json!([v, id]),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
}

fn decode_cursor(cursor: &str) -> Result<(SqlArg, Id)> {
    let bad = || Error::invalid("cursor", "the cursor is not one this server gave out; start again without it");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let id = value.get(1).and_then(serde_json::Value::as_i64).ok_or_else(bad)?;
    match value.get(0) {
        Some(serde_json::Value::String(s)) => Ok((SqlArg::Text(s.clone()), id)),
        Some(v) => Ok((SqlArg::Int(v.as_i64().ok_or_else(bad)?), id)),
        None => Err(bad()),
    }
}

/// A company in its group: the customer with its subsidiaries, recursively.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupNode {
    pub id: Id,
    pub code: String,
    pub name: String,
    #[schema(no_recursion)]
    pub children: Vec<GroupNode>,
}

/// The group a customer belongs to: from its top parent down, showing the companies the user
/// may read (a company out of reach hides its branch).
pub async fn group(store: &Store, access: &Access, id: Id) -> Result<GroupNode> {
    let org_id = access.principal().org_id;
    get(store, access, id, Action::Read).await?;
    // Climb to the top company the user may read.
    let mut top = id;
    for _ in 0..100 {
        let parent: Option<Id> = sqlx::query_scalar("SELECT parent_id FROM customers WHERE id = $1 AND org_id = $2")
            .bind(top)
            .bind(org_id)
            .fetch_optional(store.pool())
            .await?
            .flatten();
        match parent {
            Some(p) if get(store, access, p, Action::Read).await.is_ok() => top = p,
            _ => break,
        }
    }
    let mut sql =
        SqlBuf::new("SELECT c.id, c.code, c.name, c.parent_id FROM customers c WHERE c.parent_id IS NOT NULL AND ");
    push_access(access, "customers", Action::Read, &mut sql);
    let rows = sql.query().fetch_all(store.pool()).await?;
    let mut children: BTreeMap<Id, Vec<(Id, String, String)>> = BTreeMap::new();
    for r in &rows {
        children.entry(r.try_get(3)?).or_default().push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
    }
    let root = load(store, org_id, top).await?;
    fn build(
        id: Id,
        code: String,
        name: String,
        children: &BTreeMap<Id, Vec<(Id, String, String)>>,
        depth: usize,
    ) -> GroupNode {
        let kids = if depth > 50 { Vec::new() } else { children.get(&id).cloned().unwrap_or_default() };
        GroupNode {
            id,
            code,
            name,
            children: kids.into_iter().map(|(i, c, n)| build(i, c, n, children, depth + 1)).collect(),
        }
    }
    Ok(build(root.id, root.code, root.name, &children, 0))
}

/// Who a phone number belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneMatches {
    /// The number in canonical form.
    pub canonical: String,
    pub customers: Vec<Customer>,
    pub contacts: Vec<contacts::Contact>,
}

/// The customers and contacts the user may read that have this number.
pub async fn by_phone(store: &Store, access: &Access, number: &str) -> Result<PhoneMatches> {
    let org_id = access.principal().org_id;
    let canonical =
        phone::normalize(number, None).map_err(|e| Error::invalid("number", format!("{number:?}: {e}")))?.canonical;
    let mut sql = SqlBuf::new(format!(
        "SELECT DISTINCT {COLUMNS} FROM customers c JOIN phones ph ON ph.org_id = c.org_id AND ph.customer_id = c.id \
         WHERE ph.contact_id IS NULL AND "
    ));
    push_canonical_in(&mut sql, "ph", std::slice::from_ref(&canonical));
    sql.push(" AND ");
    push_access(access, "customers", Action::Read, &mut sql);
    sql.push(" ORDER BY c.id LIMIT 50");
    let rows = sql.query().fetch_all(store.pool()).await?;
    let mut customers = rows.iter().map(customer_from_row).collect::<Result<Vec<_>>>()?;
    attach_phones(store, org_id, &mut customers).await?;
    let contacts = contacts::by_canonical_phone(store, access, &canonical).await?;
    Ok(PhoneMatches { canonical, customers, contacts })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = encode_cursor(&SqlArg::Text("北京".into()), 42);
        assert_eq!(decode_cursor(&c).ok(), Some((SqlArg::Text("北京".into()), 42)));
        let c = encode_cursor(&SqlArg::Int(-1), 7);
        assert_eq!(decode_cursor(&c).ok(), Some((SqlArg::Int(-1), 7)));
        assert!(decode_cursor("not a cursor").is_err());
        assert!(decode_cursor(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("[1]")).is_err());
    }

    #[test]
    fn tags_are_trimmed_and_deduplicated() {
        assert_eq!(clean_tags(&[" vip ".into(), "vip".into(), "".into(), "华东".into()]).ok(), Some("vip,华东".into()));
        assert!(clean_tags(&["a,b".into()]).is_err());
    }
}
