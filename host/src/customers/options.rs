//! Admin-defined option lists (category, level, status, industry, region, source). A
//! customer's value in one of these fields must be an active item of its list. Every
//! organisation starts with a useful set in Chinese and English.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use crate::audit::AuditEntry;
use crate::error::{Error, Result};
use crate::store::{Id, Store};

/// The lists a customer draws from.
pub const LISTS: &[&str] = &["category", "level", "status", "industry", "region", "source"];

/// One item of a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OptionItem {
    pub id: Id,
    pub list: String,
    /// The stored value, e.g. `signed`.
    pub value: String,
    pub label_zh: String,
    pub label_en: String,
    pub position: i64,
    pub active: bool,
}

/// A new item, or the new state of one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionInput {
    pub value: String,
    pub label_zh: String,
    pub label_en: String,
    #[serde(default)]
    pub position: i64,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

const DEFAULTS: &[(&str, &str, &str, &str)] = &[
    ("category", "customer", "客户", "Customer"),
    ("category", "partner", "合作伙伴", "Partner"),
    ("category", "distributor", "经销商", "Distributor"),
    ("category", "supplier", "供应商", "Supplier"),
    ("level", "a", "A 重点客户", "A – key account"),
    ("level", "b", "B 普通客户", "B – regular"),
    ("level", "c", "C 一般客户", "C – occasional"),
    ("level", "d", "D 潜在客户", "D – prospect"),
    ("status", "potential", "潜在", "Potential"),
    ("status", "contacted", "已联系", "Contacted"),
    ("status", "negotiating", "洽谈中", "Negotiating"),
    ("status", "signed", "已签约", "Signed"),
    ("status", "lost", "已流失", "Lost"),
    ("industry", "manufacturing", "制造业", "Manufacturing"),
    ("industry", "trade", "贸易", "Trade"),
    ("industry", "it", "信息技术", "Information technology"),
    ("industry", "services", "服务业", "Services"),
    ("industry", "construction", "建筑", "Construction"),
    ("industry", "other", "其他", "Other"),
    ("region", "north", "华北", "North China"),
    ("region", "east", "华东", "East China"),
    ("region", "south", "华南", "South China"),
    ("region", "central", "华中", "Central China"),
    ("region", "west", "西部", "West China"),
    ("region", "overseas", "海外", "Overseas"),
    ("source", "website", "官网", "Website"),
    ("source", "referral", "转介绍", "Referral"),
    ("source", "exhibition", "展会", "Exhibition"),
    ("source", "cold_call", "电话开发", "Cold call"),
    ("source", "advertising", "广告", "Advertising"),
    ("source", "other", "其他", "Other"),
];

/// Gives a new organisation the default lists.
pub async fn seed_defaults(tx: &mut sqlx::Transaction<'static, sqlx::Any>, org_id: Id) -> Result<()> {
    for (i, (list, value, zh, en)) in DEFAULTS.iter().enumerate() {
        sqlx::query(
            "INSERT INTO option_items (org_id, list, value, label_zh, label_en, position, active) VALUES ($1, $2, $3, $4, $5, $6, 1)",
        )
        .bind(org_id)
        .bind(*list)
        .bind(*value)
        .bind(*zh)
        .bind(*en)
        .bind(i as i64)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Gives the default lists to organisations that have none (those made before option lists
/// existed). Runs at start.
pub async fn seed_missing(store: &Store) -> Result<()> {
    let orgs: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM orgs o WHERE NOT EXISTS (SELECT 1 FROM option_items i WHERE i.org_id = o.id)",
    )
    .fetch_all(store.pool())
    .await?;
    for org_id in orgs {
        let mut tx = store.begin_write().await?;
        seed_defaults(&mut tx, org_id).await?;
        tx.commit().await?;
    }
    store.auth_changed();
    Ok(())
}

fn validate_list(list: &str) -> Result<()> {
    if LISTS.contains(&list) {
        Ok(())
    } else {
        Err(Error::invalid("list", format!("unknown option list {list:?}; lists: {}", LISTS.join(", "))))
    }
}

fn validate_input(input: &OptionInput) -> Result<()> {
    let v = input.value.trim();
    if v.is_empty() || v.chars().count() > 64 {
        return Err(Error::invalid("value", "an option value is 1–64 characters"));
    }
    for (field, label) in [("label_zh", &input.label_zh), ("label_en", &input.label_en)] {
        if label.trim().is_empty() || label.chars().count() > 100 {
            return Err(Error::invalid(field, "a label is 1–100 characters"));
        }
    }
    Ok(())
}

/// The items of every list (or of one), in display order. Every page that shows a customer
/// reads them, so they are remembered for a moment (see [`crate::cache`]); a change made here
/// forgets them.
pub async fn list(store: &Store, org_id: Id, only: Option<&str>) -> Result<Vec<OptionItem>> {
    if let Some(l) = only {
        validate_list(l)?;
    }
    let all = all_items(store, org_id).await?;
    Ok(all.iter().filter(|o| only.is_none_or(|l| o.list == l)).cloned().collect())
}

async fn all_items(store: &Store, org_id: Id) -> Result<std::sync::Arc<Vec<OptionItem>>> {
    let cache = store.auth_cache();
    if let Some(items) = cache.options(org_id) {
        return Ok(items);
    }
    let epoch = cache.epoch();
    let rows = sqlx::query(
        "SELECT id, list, value, label_zh, label_en, position, active FROM option_items \
         WHERE org_id = $1 ORDER BY list, position, id",
    )
    .bind(org_id)
    .fetch_all(store.pool())
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(OptionItem {
                id: r.try_get(0)?,
                list: r.try_get(1)?,
                value: r.try_get(2)?,
                label_zh: r.try_get(3)?,
                label_en: r.try_get(4)?,
                position: r.try_get(5)?,
                active: r.try_get::<i64, _>(6)? != 0,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let items = std::sync::Arc::new(items);
    cache.put_options(org_id, items.clone(), epoch);
    Ok(items)
}

/// Adds an item to a list and records `option.created` for `actor`.
pub async fn create(
    store: &Store,
    org_id: Id,
    actor: Option<Id>,
    ip: Option<std::net::IpAddr>,
    list_name: &str,
    input: &OptionInput,
) -> Result<OptionItem> {
    validate_list(list_name)?;
    validate_input(input)?;
    let id: Id = sqlx::query_scalar(
        "INSERT INTO option_items (org_id, list, value, label_zh, label_en, position, active) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(org_id)
    .bind(list_name)
    .bind(input.value.trim())
    .bind(input.label_zh.trim())
    .bind(input.label_en.trim())
    .bind(input.position)
    .bind(i64::from(input.active))
    .fetch_one(store.pool())
    .await
    .map_err(|e| Error::from_db(e, &format!("the list {list_name} already has the value {:?}", input.value.trim())))?;
    store.auth_changed();
    let item = list(store, org_id, Some(list_name))
        .await?
        .into_iter()
        .find(|o| o.id == id)
        .ok_or(Error::NotFound("option"))?;
    record(store, org_id, actor, ip, "option.created", &item).await?;
    Ok(item)
}

/// Changes labels, order or whether an item may still be chosen, and records `option.updated`
/// for `actor`. The value itself stays, since customers store it.
pub async fn update(
    store: &Store,
    org_id: Id,
    actor: Option<Id>,
    ip: Option<std::net::IpAddr>,
    id: Id,
    input: &OptionInput,
) -> Result<OptionItem> {
    validate_input(input)?;
    let current = list(store, org_id, None).await?.into_iter().find(|o| o.id == id).ok_or(Error::NotFound("option"))?;
    if current.value != input.value.trim() {
        return Err(Error::invalid(
            "value",
            "the value of an option cannot change; add a new option and retire this one",
        ));
    }
    sqlx::query("UPDATE option_items SET label_zh = $3, label_en = $4, position = $5, active = $6 WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .bind(input.label_zh.trim())
        .bind(input.label_en.trim())
        .bind(input.position)
        .bind(i64::from(input.active))
        .execute(store.pool())
        .await?;
    store.auth_changed();
    let item = list(store, org_id, None).await?.into_iter().find(|o| o.id == id).ok_or(Error::NotFound("option"))?;
    record(store, org_id, actor, ip, "option.updated", &item).await?;
    Ok(item)
}

/// The audit entry of a change to `item`.
async fn record(
    store: &Store,
    org_id: Id,
    actor: Option<Id>,
    ip: Option<std::net::IpAddr>,
    action: &str,
    item: &OptionItem,
) -> Result<()> {
    AuditEntry::new(org_id, actor, action)
        .target("option", item.id)
        .ip(ip)
        .detail(serde_json::to_value(item).unwrap_or_default())
        .record(store.pool())
        .await
}

/// Checks that `value` is an active item of `list_name`.
pub async fn ensure_valid<'e, E>(exec: E, org_id: Id, list_name: &'static str, value: &str) -> Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let found: Option<i64> =
        sqlx::query_scalar("SELECT active FROM option_items WHERE org_id = $1 AND list = $2 AND value = $3")
            .bind(org_id)
            .bind(list_name)
            .bind(value)
            .fetch_optional(exec)
            .await?;
    match found {
        Some(1) => Ok(()),
        Some(_) => Err(Error::invalid(list_name, format!("{value:?} is retired from the {list_name} list"))),
        None => Err(Error::invalid(
            list_name,
            format!("{value:?} is not in the {list_name} list; add it under option lists first"),
        )),
    }
}
