//! Organisations and their people: the organisation itself (the tenant every row belongs to),
//! users, the department tree and roles. First start creates an organisation and its `admin`.

pub mod departments;
pub mod roles;
pub mod users;

use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::audit::AuditEntry;
use crate::auth::{PasswordHasher, check_policy, random_token};
use crate::error::{Error, Result};
use crate::store::{Id, Store, now_ms};
use crate::timefmt::rfc3339;
use crate::web::AppState;

/// An organisation (a company using Tessera).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Org {
    pub id: Id,
    /// Short name used at sign-in, e.g. `demo`.
    pub slug: String,
    pub name: String,
    /// IANA time zone for working hours and sign-in windows (default Asia/Shanghai).
    pub time_zone: String,
    pub created_at: String,
}

fn org_from_row(r: &sqlx::any::AnyRow) -> Result<Org> {
    Ok(Org {
        id: r.try_get(0)?,
        slug: r.try_get(1)?,
        name: r.try_get(2)?,
        time_zone: r.try_get(3)?,
        created_at: rfc3339(r.try_get(4)?),
    })
}

const ORG_COLUMNS: &str = "id, slug, name, time_zone, created_at";

/// Remembered for a moment (see [`crate::cache`]): every page reads its organisation's time zone.
pub async fn get(store: &Store, id: Id) -> Result<Org> {
    let cache = store.auth_cache();
    if let Some(org) = cache.org(id) {
        return Ok(org);
    }
    let epoch = cache.epoch();
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = $1")))
        .bind(id)
        .fetch_optional(store.pool())
        .await?
        .ok_or(Error::NotFound("organisation"))?;
    let org = org_from_row(&row)?;
    cache.put_org(org.clone(), epoch);
    Ok(org)
}

pub async fn find_by_slug(store: &Store, slug: &str) -> Result<Option<Org>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ORG_COLUMNS} FROM orgs WHERE slug = $1")))
        .bind(slug.trim().to_lowercase())
        .fetch_optional(store.pool())
        .await?;
    row.as_ref().map(org_from_row).transpose()
}

/// The organisation, when the installation has exactly one.
pub async fn only_org(store: &Store) -> Result<Option<Org>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY id LIMIT 2")))
        .fetch_all(store.pool())
        .await?;
    if rows.len() == 1 { Ok(Some(org_from_row(&rows[0])?)) } else { Ok(None) }
}

pub async fn list(store: &Store) -> Result<Vec<Org>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY id")))
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(org_from_row).collect()
}

fn validate_slug(slug: &str) -> Result<()> {
    let ok = (2..=40).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("slug", "the short name is 2–40 lowercase letters, digits and dashes, e.g. acme-sales"))
    }
}

pub fn validate_time_zone(tz: &str) -> Result<()> {
    jiff::tz::TimeZone::get(tz)
        .map(|_| ())
        .map_err(|_| Error::invalid("time_zone", format!("{tz:?} is not an IANA time zone such as Asia/Shanghai")))
}

/// What a new organisation starts with.
#[derive(Debug, Clone)]
pub struct NewOrg {
    pub slug: String,
    pub name: String,
    pub time_zone: String,
    /// The first administrator's password.
    pub admin_password: String,
}

/// A new organisation with its built-in roles and its `admin` user.
#[derive(Debug, Clone)]
pub struct CreatedOrg {
    pub org: Org,
    pub admin_user_id: Id,
}

/// Creates an organisation, its built-in roles and the user `admin` holding the
/// Administrator role, in one transaction.
pub async fn create(store: &Store, hasher: &PasswordHasher, new: &NewOrg) -> Result<CreatedOrg> {
    let slug = new.slug.trim().to_lowercase();
    validate_slug(&slug)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid("name", "the organisation name is 1–200 characters"));
    }
    validate_time_zone(&new.time_zone)?;
    check_policy(&new.admin_password, "admin")?;
    let hash = hasher.hash(&new.admin_password).await?;
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    let org_id: Id =
        sqlx::query_scalar("INSERT INTO orgs (slug, name, time_zone, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(&slug)
            .bind(name)
            .bind(&new.time_zone)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| Error::from_db(e, &format!("an organisation named {slug:?} exists already")))?;
    let mut admin_role = None;
    for role in roles::builtin_roles() {
        let id = roles::insert_role(&mut tx, org_id, &role, now).await?;
        if role.is_administrator {
            admin_role = Some(id);
        }
    }
    let admin_role =
        admin_role.ok_or_else(|| Error::Internal("no Administrator role among the built-in roles".into()))?;
    let admin_user_id: Id = sqlx::query_scalar(
        "INSERT INTO users (org_id, username, display_name, password_hash, password_changed_at, created_at, updated_at) \
         VALUES ($1, 'admin', 'Administrator', $2, $3, $3, $3) RETURNING id",
    )
    .bind(org_id)
    .bind(&hash)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO user_roles (org_id, user_id, role_id) VALUES ($1, $2, $3)")
        .bind(org_id)
        .bind(admin_user_id)
        .bind(admin_role)
        .execute(&mut *tx)
        .await?;
    crate::customers::options::seed_defaults(&mut tx, org_id).await?;
    AuditEntry::new(org_id, None, "org.created")
        .target("org", org_id)
        .detail(serde_json::json!({ "slug": slug, "name": name }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(CreatedOrg { org: get(store, org_id).await?, admin_user_id })
}

/// What first start did.
#[derive(Debug, Clone)]
pub struct FirstStart {
    pub org: Org,
    pub admin_password: String,
    /// The password was generated (and must be shown once), not taken from the environment.
    pub generated_password: bool,
}

/// On an empty database, creates the first organisation and its `admin`, with the password
/// given or a generated one. Does nothing when an organisation exists.
pub async fn bootstrap(
    store: &Store,
    hasher: &PasswordHasher,
    slug: &str,
    name: &str,
    admin_password: Option<String>,
) -> Result<Option<FirstStart>> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orgs").fetch_one(store.pool()).await?;
    if count > 0 {
        return Ok(None);
    }
    let generated_password = admin_password.is_none();
    let admin_password = admin_password.unwrap_or_else(|| random_token(15));
    let created = create(
        store,
        hasher,
        &NewOrg {
            slug: slug.to_owned(),
            name: name.to_owned(),
            time_zone: "Asia/Shanghai".into(),
            admin_password: admin_password.clone(),
        },
    )
    .await;
    match created {
        Ok(c) => Ok(Some(FirstStart { org: c.org, admin_password, generated_password })),
        // Another node won the race to create the first organisation.
        Err(Error::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().merge(users::routes()).merge(departments::routes()).merge(roles::routes())
}

/// Fails with `Invalid` naming `field` unless a row with `id` exists in `table` of the organisation.
pub(crate) async fn ensure_exists<'e, E>(
    exec: E,
    table: &'static str,
    field: &'static str,
    org_id: Id,
    id: Id,
) -> Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let found: Option<i64> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT id FROM {table} WHERE id = $1 AND org_id = $2")))
            .bind(id)
            .bind(org_id)
            .fetch_optional(exec)
            .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(Error::invalid(field, format!("{field} {id} does not exist in this organisation"))),
    }
}
