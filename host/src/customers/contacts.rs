//! Contacts of a customer: people with their position, phones, birthday, hobbies, decision
//! role and whom they report to (the customer's org chart). Access follows the customer: the
//! `contacts` grants are applied to the customer's owner and department.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use super::search::Kind;
use super::{PhoneEntry, PhoneInput, clean, normalise_phones, write_phones};
use crate::access::{Access, Action};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::org::users::double_option;
use crate::store::{Id, SqlBuf, Store, now_ms};
use crate::timefmt::rfc3339;

/// The roles a contact can play in a buying decision.
pub const DECISION_ROLES: &[&str] = &["decision_maker", "influencer", "evaluator", "user", "gatekeeper", "other"];

/// A contact.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Contact {
    pub id: Id,
    pub customer_id: Id,
    pub name: String,
    /// Position, e.g. 采购经理.
    pub title: Option<String>,
    /// Their department at the customer.
    pub department: Option<String>,
    pub email: Option<String>,
    /// `YYYY-MM-DD`.
    pub birthday: Option<String>,
    pub hobbies: Option<String>,
    /// The contact this one reports to.
    pub reports_to_id: Option<Id>,
    /// One of decision_maker, influencer, evaluator, user, gatekeeper, other.
    pub decision_role: Option<String>,
    pub notes: String,
    pub phones: Vec<PhoneEntry>,
    pub created_at: String,
    pub updated_at: String,
}

/// A new contact.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    pub name: String,
    pub title: Option<String>,
    pub department: Option<String>,
    pub email: Option<String>,
    pub birthday: Option<String>,
    pub hobbies: Option<String>,
    pub reports_to_id: Option<Id>,
    pub decision_role: Option<String>,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub phones: Vec<PhoneInput>,
}

/// Changes to a contact: absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub department: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub birthday: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub hobbies: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub reports_to_id: Option<Option<Id>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub decision_role: Option<Option<String>>,
    pub notes: Option<String>,
    pub phones: Option<Vec<PhoneInput>>,
}

const COLUMNS: &str = "k.id, k.customer_id, k.name, k.title, k.department, k.email, k.birthday, k.hobbies, \
    k.reports_to_id, k.decision_role, k.notes, k.created_at, k.updated_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Contact> {
    Ok(Contact {
        id: r.try_get(0)?,
        customer_id: r.try_get(1)?,
        name: r.try_get(2)?,
        title: r.try_get(3)?,
        department: r.try_get(4)?,
        email: r.try_get(5)?,
        birthday: r.try_get(6)?,
        hobbies: r.try_get(7)?,
        reports_to_id: r.try_get(8)?,
        decision_role: r.try_get(9)?,
        notes: r.try_get(10)?,
        phones: Vec::new(),
        created_at: rfc3339(r.try_get(11)?),
        updated_at: rfc3339(r.try_get(12)?),
    })
}

/// Runs a contact query (already filtered) and attaches phones.
async fn fetch(store: &Store, org_id: Id, sql: &SqlBuf) -> Result<Vec<Contact>> {
    let rows = sql.query().fetch_all(store.pool()).await?;
    let mut contacts = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    if contacts.is_empty() {
        return Ok(contacts);
    }
    let ids: Vec<Id> = contacts.iter().map(|c| c.id).collect();
    let mut phones = SqlBuf::new("SELECT contact_id, label, raw, canonical, extension FROM phones WHERE org_id = ");
    phones.bind(org_id).push(" AND contact_id IS NOT NULL AND contact_id IN ").bind_list(&ids).push(" ORDER BY id");
    for r in phones.query().fetch_all(store.pool()).await? {
        let id: Id = r.try_get(0)?;
        if let Some(c) = contacts.iter_mut().find(|c| c.id == id) {
            c.phones.push(PhoneEntry {
                label: r.try_get(1)?,
                number: r.try_get(2)?,
                canonical: r.try_get(3)?,
                extension: r.try_get(4)?,
            });
        }
    }
    Ok(contacts)
}

/// Contacts with their customers, whose owner and department scope access to them.
const FROM: &str = "contacts k JOIN customers c ON c.org_id = k.org_id AND c.id = k.customer_id";

fn base_query(access: &Access, action: Action) -> SqlBuf {
    let mut sql = SqlBuf::new(format!("SELECT {COLUMNS} FROM {FROM} WHERE "));
    super::push_access(access, "contacts", action, &mut sql);
    sql
}

/// The contacts of a customer the user may read.
pub async fn list_for_customer(store: &Store, access: &Access, customer_id: Id) -> Result<Vec<Contact>> {
    super::get(store, access, customer_id, Action::Read).await?;
    let mut sql = base_query(access, Action::Read);
    sql.push(" AND k.customer_id = ").bind(customer_id).push(" ORDER BY k.id");
    fetch(store, access.principal().org_id, &sql).await
}

/// Filters of the contact list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    /// Name (also pinyin or initials), title, phone digits, or a whole email address.
    pub q: Option<String>,
    /// Only contacts whose birthday falls in this month (1–12), for greetings.
    pub birthday_month: Option<u32>,
    /// Contacts with a larger id than this (next page).
    pub after_id: Option<Id>,
    /// 1–500, default 50.
    pub limit: Option<i64>,
}

/// Contacts across every customer the user may read, oldest first.
pub async fn list(store: &Store, access: &Access, q: &ContactQuery) -> Result<Vec<Contact>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Error::invalid("limit", "limit is 1 to 500"));
    }
    let mut cond = SqlBuf::default();
    super::push_access(access, "contacts", Action::Read, &mut cond);
    if let Some(m) = q.birthday_month {
        if !(1..=12).contains(&m) {
            return Err(Error::invalid("birthday_month", "a month is 1 to 12"));
        }
        cond.push(" AND substr(k.birthday, 6, 2) = ").bind(format!("{m:02}"));
    }
    if let Some(after) = q.after_id {
        cond.push(" AND k.id > ").bind(after);
    }
    let text = match q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(text) if text.chars().count() > 100 => {
            return Err(Error::invalid("q", "a search is at most 100 characters"));
        }
        other => other,
    };
    let Some(text) = text else {
        let mut sql = SqlBuf::new(format!("SELECT {COLUMNS} FROM {FROM} WHERE "));
        sql.append(cond).push(" ORDER BY k.id").limit(limit);
        return fetch(store, access.principal().org_id, &sql).await;
    };
    let org_id = access.principal().org_id;
    if text.contains('@') {
        // An email address: the whole address, in any case, through its index.
        let mut sql = SqlBuf::new(format!("SELECT {COLUMNS} FROM {FROM} WHERE k.org_id = "));
        sql.bind(org_id).push(" AND lower(k.email) = ").bind(text.to_ascii_lowercase()).push(" AND ");
        sql.append(cond).push(" ORDER BY k.id").limit(limit);
        return fetch(store, org_id, &sql).await;
    }
    let backend = store.backend();
    let words = super::names::search_query(text).map(|t| t.replace(['%', '_'], "")).filter(|t| !t.is_empty());
    let digits = super::phone::search_digits(text);
    let live = |words: &str| {
        let mut live = SqlBuf::new("k.search_text LIKE ");
        live.bind(super::search::like_pattern(backend, words));
        live
    };
    // The ids of the matching contacts from the indexes, when they hold the text.
    let mut ids = SqlBuf::default();
    let indexed = match &words {
        Some(w) => {
            let lookup = super::search::Lookup::of(w);
            let target = super::search::Target {
                kind: Kind::Contact,
                lookup: &lookup,
                source: super::search::Source { from: FROM, id: "k.id" },
                window: None,
            };
            super::search::push_text_branches(&mut ids, backend, &target, live(w), &cond)
        }
        None => true,
    };
    let mut sql = SqlBuf::new(format!("SELECT {COLUMNS} FROM "));
    if indexed {
        if let Some(d) = &digits {
            if words.is_some() {
                ids.push(super::search::union(backend));
            }
            ids.push(&format!(
                "SELECT ph.contact_id AS id FROM phones ph CROSS JOIN {FROM} WHERE k.id = ph.contact_id AND "
            ));
            ids.push("ph.org_id = ").bind(org_id).push(" AND ");
            super::push_phone_condition(&mut ids, backend, "ph", d, text);
            ids.push(" AND ").append(cond);
        }
        // PostgreSQL's branches may repeat a contact (by name and by phone): twice the page,
        // repeats removed (see `search::union`).
        let postgres = backend == crate::store::Backend::Postgres;
        sql.push(if postgres { "(SELECT DISTINCT id FROM (" } else { "(" }).append(ids).push(" ORDER BY 1");
        sql.limit(if postgres { 2 * limit } else { limit }).push(if postgres { ") u" } else { "" });
        sql.push(&format!(") m CROSS JOIN {FROM} WHERE k.id = m.id"));
    } else {
        // Too short for the trigram index (one or two characters): the list in order, which
        // the LIMIT ends early for such common text.
        sql.push(FROM).push(" WHERE ").append(cond).push(" AND (");
        sql.append(live(words.as_deref().unwrap_or_default()));
        if let Some(d) = &digits {
            sql.push(" OR k.id IN ");
            super::push_phone_match(&mut sql, backend, org_id, "SELECT ph.contact_id", d, text);
        }
        sql.push(")");
    }
    sql.push(" ORDER BY k.id").limit(limit);
    fetch(store, org_id, &sql).await
}

/// One contact, if the user may do `action` on it.
pub async fn get(store: &Store, access: &Access, id: Id, action: Action) -> Result<Contact> {
    let mut sql = base_query(access, action);
    sql.push(" AND k.id = ").bind(id);
    fetch(store, access.principal().org_id, &sql).await?.pop().ok_or(Error::NotFound("contact"))
}

/// Contacts the user may read that have this canonical phone number.
pub async fn by_canonical_phone(store: &Store, access: &Access, canonical: &str) -> Result<Vec<Contact>> {
    let mut sql = base_query(access, Action::Read);
    sql.push(" AND k.id IN (SELECT contact_id FROM phones ph WHERE ph.org_id = ").bind(access.principal().org_id);
    sql.push(" AND ");
    super::push_canonical_in(&mut sql, "ph", &[canonical.to_owned()]);
    sql.push(") ORDER BY k.id LIMIT 50");
    fetch(store, access.principal().org_id, &sql).await
}

fn check_birthday(b: Option<&str>) -> Result<()> {
    if let Some(b) = b {
        b.parse::<jiff::civil::Date>()
            .map_err(|_| Error::invalid("birthday", format!("{b:?} is not a date; write YYYY-MM-DD")))?;
    }
    Ok(())
}

fn check_role(r: Option<&str>) -> Result<()> {
    match r {
        Some(r) if !DECISION_ROLES.contains(&r) => {
            Err(Error::invalid("decision_role", format!("the decision role is one of {}", DECISION_ROLES.join(", "))))
        }
        _ => Ok(()),
    }
}

fn check_email(e: Option<&str>) -> Result<()> {
    match e {
        Some(e) if !crate::org::users::looks_like_email(e) => {
            Err(Error::invalid("email", "that is not an email address"))
        }
        _ => Ok(()),
    }
}

async fn check_reports_to(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    customer_id: Id,
    id: Option<Id>,
    to: Id,
) -> Result<()> {
    let mut next = Some(to);
    let mut steps = 0;
    while let Some(c) = next {
        if Some(c) == id {
            return Err(Error::invalid(
                "reports_to_id",
                "a contact cannot report to themselves, directly or through others",
            ));
        }
        steps += 1;
        if steps > 1000 {
            break;
        }
        let row: Option<(i64, Option<i64>)> =
            sqlx::query_as("SELECT customer_id, reports_to_id FROM contacts WHERE id = $1 AND org_id = $2")
                .bind(c)
                .bind(org_id)
                .fetch_optional(&mut **tx)
                .await?;
        match row {
            Some((cust, up)) if cust == customer_id => next = up,
            _ => {
                return Err(Error::invalid(
                    "reports_to_id",
                    "the contact reported to must be a contact of the same customer",
                ));
            }
        }
    }
    Ok(())
}

fn search_text(name: &str, title: Option<&str>) -> String {
    format!("{} {}", super::names::search_text(name), title.unwrap_or_default().to_lowercase())
}

/// Adds a contact to a customer.
pub async fn create(store: &Store, access: &Access, customer_id: Id, input: &NewContact) -> Result<Contact> {
    let p = *access.principal();
    let customer = super::get(store, access, customer_id, Action::Read).await?;
    if !access.allows("contacts", Action::Create, &customer.scope(p.org_id)) {
        return Err(Error::Forbidden("you may not add contacts to this customer".into()));
    }
    let name =
        clean("name", Some(&input.name), 100)?.ok_or_else(|| Error::invalid("name", "a contact needs a name"))?;
    let title = clean("title", input.title.as_deref(), 100)?;
    let email = clean("email", input.email.as_deref(), 254)?;
    check_email(email.as_deref())?;
    let birthday = clean("birthday", input.birthday.as_deref(), 10)?;
    check_birthday(birthday.as_deref())?;
    let role = clean("decision_role", input.decision_role.as_deref(), 32)?;
    check_role(role.as_deref())?;
    let phones = normalise_phones(&input.phones)?;
    let mut tx = store.begin_write().await?;
    if let Some(to) = input.reports_to_id {
        check_reports_to(&mut tx, p.org_id, customer_id, None, to).await?;
    }
    let now = now_ms();
    let id: Id = sqlx::query_scalar(
        "INSERT INTO contacts (org_id, customer_id, name, title, department, email, birthday, hobbies, reports_to_id, decision_role, \
            notes, search_text, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id",
    )
    .bind(p.org_id)
    .bind(customer_id)
    .bind(&name)
    .bind(&title)
    .bind(clean("department", input.department.as_deref(), 100)?)
    .bind(&email)
    .bind(&birthday)
    .bind(clean("hobbies", input.hobbies.as_deref(), 500)?)
    .bind(input.reports_to_id)
    .bind(&role)
    .bind(clean("notes", Some(&input.notes), 10_000)?.unwrap_or_default())
    .bind(search_text(&name, title.as_deref()))
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    write_phones(&mut tx, p.org_id, customer_id, Some(id), &phones).await?;
    let payload = serde_json::json!({ "id": id, "customer_id": customer_id, "name": name });
    Event {
        org_id: p.org_id,
        topic: "contact.created",
        aggregate: ("customer", customer_id),
        actor_user_id: Some(p.user_id),
        payload: &payload,
    }
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    get(store, access, id, Action::Read).await
}

/// Changes a contact.
pub async fn update(store: &Store, access: &Access, id: Id, patch: &ContactPatch) -> Result<Contact> {
    let p = *access.principal();
    let before = get(store, access, id, Action::Edit).await?;
    let pick = |field: &'static str, new: &Option<Option<String>>, old: &Option<String>, max: usize| match new {
        Some(v) => clean(field, v.as_deref(), max),
        None => Ok(old.clone()),
    };
    let name = match &patch.name {
        Some(n) => clean("name", Some(n), 100)?.ok_or_else(|| Error::invalid("name", "a contact needs a name"))?,
        None => before.name.clone(),
    };
    let title = pick("title", &patch.title, &before.title, 100)?;
    let department = pick("department", &patch.department, &before.department, 100)?;
    let email = pick("email", &patch.email, &before.email, 254)?;
    check_email(email.as_deref())?;
    let birthday = pick("birthday", &patch.birthday, &before.birthday, 10)?;
    check_birthday(birthday.as_deref())?;
    let hobbies = pick("hobbies", &patch.hobbies, &before.hobbies, 500)?;
    let role = pick("decision_role", &patch.decision_role, &before.decision_role, 32)?;
    check_role(role.as_deref())?;
    let notes = clean("notes", Some(patch.notes.as_deref().unwrap_or(&before.notes)), 10_000)?.unwrap_or_default();
    let reports_to = patch.reports_to_id.unwrap_or(before.reports_to_id);
    let phones = patch.phones.as_deref().map(normalise_phones).transpose()?;
    let mut tx = store.begin_write().await?;
    if let Some(to) = reports_to {
        check_reports_to(&mut tx, p.org_id, before.customer_id, Some(id), to).await?;
    }
    sqlx::query(
        "UPDATE contacts SET name = $3, title = $4, department = $5, email = $6, birthday = $7, hobbies = $8, reports_to_id = $9, \
            decision_role = $10, notes = $11, search_text = $12, updated_at = $13 WHERE id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(p.org_id)
    .bind(&name)
    .bind(&title)
    .bind(&department)
    .bind(&email)
    .bind(&birthday)
    .bind(&hobbies)
    .bind(reports_to)
    .bind(&role)
    .bind(&notes)
    .bind(search_text(&name, title.as_deref()))
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    if let Some(phones) = &phones {
        write_phones(&mut tx, p.org_id, before.customer_id, Some(id), phones).await?;
    }
    let payload = serde_json::json!({ "id": id, "customer_id": before.customer_id, "name": name });
    Event {
        org_id: p.org_id,
        topic: "contact.updated",
        aggregate: ("customer", before.customer_id),
        actor_user_id: Some(p.user_id),
        payload: &payload,
    }
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    get(store, access, id, Action::Read).await
}

/// Deletes a contact; those who reported to them now report to no one.
pub async fn delete(store: &Store, access: &Access, id: Id) -> Result<()> {
    let p = *access.principal();
    let contact = get(store, access, id, Action::Delete).await?;
    let mut tx = store.begin_write().await?;
    sqlx::query("UPDATE contacts SET reports_to_id = NULL WHERE org_id = $1 AND reports_to_id = $2")
        .bind(p.org_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM contacts WHERE id = $1 AND org_id = $2").bind(id).bind(p.org_id).execute(&mut *tx).await?;
    let payload = serde_json::json!({ "id": id, "customer_id": contact.customer_id, "name": contact.name });
    Event {
        org_id: p.org_id,
        topic: "contact.deleted",
        aggregate: ("customer", contact.customer_id),
        actor_user_id: Some(p.user_id),
        payload: &payload,
    }
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
