//! Users of an organisation: profile, department, manager, roles, and account state.
//! Listing goes through the access module (`org` / `read`), so a scope narrower than `all`
//! shows only the user's own department (and below).

use std::net::IpAddr;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{Org, ensure_exists, roles};
use crate::access::{Access, Action, RecordScope, Scope, ScopeColumns};
use crate::audit::AuditEntry;
use crate::auth::{check_policy, throttle};
use crate::error::{Error, Result};
use crate::store::{Id, SqlBuf, Store, now_ms};
use crate::timefmt::rfc3339;
use crate::web::{ApiResult, AppState, Auth, ClientIp, ErrorBody, Json, Path, Query};

/// The languages the CRM speaks.
pub const LOCALES: &[&str] = &["zh-CN", "en"];

/// Reads a field that may be absent (`None`), `null` (`Some(None)`) or a value.
pub fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A role held by a user.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleRef {
    pub id: Id,
    pub name: String,
}

/// A user as shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: Id,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub department_id: Option<Id>,
    /// The user's manager (approver for "submitter's manager" steps).
    pub manager_id: Option<Id>,
    /// `zh-CN` or `en`.
    pub locale: String,
    pub active: bool,
    pub roles: Vec<RoleRef>,
    pub created_at: String,
    pub updated_at: String,
}

/// The signed-in user with their organisation and effective permissions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    #[serde(flatten)]
    pub user: User,
    pub org: Org,
    /// The combined grants of all the user's roles.
    pub grants: Vec<roles::Grant>,
    /// With a session: the token to send as `X-CSRF-Token` on writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

/// What sign-in needs of a user.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub id: Id,
    pub password_hash: String,
    pub active: bool,
}

pub async fn credentials(store: &Store, org_id: Id, username: &str) -> Result<Option<Credentials>> {
    let row = sqlx::query("SELECT id, password_hash, active FROM users WHERE org_id = $1 AND username = $2")
        .bind(org_id)
        .bind(username.trim().to_lowercase())
        .fetch_optional(store.pool())
        .await?;
    row.map(|r| {
        Ok(Credentials { id: r.try_get(0)?, password_hash: r.try_get(1)?, active: r.try_get::<i64, _>(2)? != 0 })
    })
    .transpose()
}

const USER_COLUMNS: &str = "u.id, u.username, u.display_name, u.email, u.phone, u.department_id, u.manager_id, \
                            u.locale, u.active, u.created_at, u.updated_at";

async fn users_from_rows(store: &Store, org_id: Id, rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<User>> {
    let mut users = Vec::with_capacity(rows.len());
    for r in &rows {
        users.push(User {
            id: r.try_get(0)?,
            username: r.try_get(1)?,
            display_name: r.try_get(2)?,
            email: r.try_get(3)?,
            phone: r.try_get(4)?,
            department_id: r.try_get(5)?,
            manager_id: r.try_get(6)?,
            locale: r.try_get(7)?,
            active: r.try_get::<i64, _>(8)? != 0,
            roles: Vec::new(),
            created_at: rfc3339(r.try_get(9)?),
            updated_at: rfc3339(r.try_get(10)?),
        });
    }
    if users.is_empty() {
        return Ok(users);
    }
    let ids: Vec<Id> = users.iter().map(|u| u.id).collect();
    let mut sql = SqlBuf::new(
        "SELECT ur.user_id, r.id, r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.org_id = ",
    );
    sql.bind(org_id).push(" AND ur.user_id IN ").bind_list(&ids).push(" ORDER BY r.id");
    for r in sql.query().fetch_all(store.pool()).await? {
        let user_id: Id = r.try_get(0)?;
        if let Some(u) = users.iter_mut().find(|u| u.id == user_id) {
            u.roles.push(RoleRef { id: r.try_get(1)?, name: r.try_get(2)? });
        }
    }
    Ok(users)
}

pub async fn get(store: &Store, org_id: Id, id: Id) -> Result<User> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1 AND u.org_id = $2"
    )))
    .bind(id)
    .bind(org_id)
    .fetch_all(store.pool())
    .await?;
    users_from_rows(store, org_id, rows).await?.pop().ok_or(Error::NotFound("user"))
}

pub async fn me(store: &Store, org_id: Id, user_id: Id) -> Result<Me> {
    let user = get(store, org_id, user_id).await?;
    let org = super::get(store, org_id).await?;
    let grants = crate::access::Grants::load(store, org_id, user_id).await?;
    Ok(Me {
        user,
        org,
        grants: grants
            .iter()
            .map(|(module, action, scope)| roles::Grant { module: module.to_owned(), action, scope })
            .collect(),
        csrf_token: None,
    })
}

/// Filters of the user list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Part of the user name or display name.
    pub q: Option<String>,
    pub department_id: Option<Id>,
    /// `true` for active users only, `false` for disabled ones.
    pub active: Option<bool>,
    /// Users with a larger id than this (for the next page).
    pub after_id: Option<Id>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<i64>,
}

/// A colleague as pages name them: owners, authors and the people a customer may go to.
#[derive(Debug, Clone)]
pub struct Colleague {
    pub id: Id,
    pub display_name: String,
    pub active: bool,
}

/// Every user of the organisation by display name. Anyone signed in may see colleagues'
/// names (they own customers and write follow-ups), unlike their full records.
/// Remembered for a moment (see [`crate::cache`]); every change to a user forgets them.
pub async fn colleagues(store: &Store, org_id: Id) -> Result<Vec<Colleague>> {
    let cache = store.auth_cache();
    if let Some(people) = cache.colleagues(org_id) {
        return Ok(people.as_ref().clone());
    }
    let epoch = cache.epoch();
    let rows = sqlx::query("SELECT id, display_name, active FROM users WHERE org_id = $1 ORDER BY display_name, id")
        .bind(org_id)
        .fetch_all(store.pool())
        .await?;
    let people = rows
        .iter()
        .map(|r| Ok(Colleague { id: r.try_get(0)?, display_name: r.try_get(1)?, active: r.try_get::<i64, _>(2)? != 0 }))
        .collect::<Result<Vec<_>>>()?;
    cache.put_colleagues(org_id, std::sync::Arc::new(people.clone()), epoch);
    Ok(people)
}

/// Users the acting user may see, by the access module's `org` / `read` filter.
pub async fn list(store: &Store, access: &Access, q: &UserQuery) -> Result<Vec<User>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Error::invalid("limit", "limit is 1 to 500"));
    }
    let org_id = access.principal().org_id;
    let mut sql = SqlBuf::new(format!("SELECT {USER_COLUMNS} FROM users u WHERE "));
    access
        .filter("org", Action::Read)
        .push_sql(&ScopeColumns { org: "u.org_id", owner: "u.id", department: "u.department_id" }, &mut sql);
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let pattern = format!("%{}%", text.to_lowercase().replace(['%', '_'], ""));
        sql.push(" AND (lower(u.username) LIKE ").bind(pattern.clone());
        sql.push(" OR lower(u.display_name) LIKE ").bind(pattern).push(")");
    }
    if let Some(d) = q.department_id {
        sql.push(" AND u.department_id = ").bind(d);
    }
    if let Some(active) = q.active {
        sql.push(" AND u.active = ").bind(i64::from(active));
    }
    if let Some(after) = q.after_id {
        sql.push(" AND u.id > ").bind(after);
    }
    sql.push(" ORDER BY u.id").limit(limit);
    let rows = sql.query().fetch_all(store.pool()).await?;
    users_from_rows(store, org_id, rows).await
}

fn normalise_username(username: &str) -> Result<String> {
    let u = username.trim().to_lowercase();
    let ok = (2..=64).contains(&u.len())
        && u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._@-".contains(&b))
        && u.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(u)
    } else {
        Err(Error::invalid("username", "a user name is 2–64 of a–z, 0–9 and . _ @ -, starting with a letter or digit"))
    }
}

fn validate_display_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("display_name", "the display name is 1–100 characters"));
    }
    Ok(name)
}

/// Whether `e` has the shape of an email address (local part, `@`, a dotted domain, no spaces).
/// Deliverability is for the mail server to judge.
pub fn looks_like_email(e: &str) -> bool {
    e.len() <= 254
        && e.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
        && !e.contains(char::is_whitespace)
}

fn validate_email(email: Option<&str>) -> Result<Option<String>> {
    match email.map(str::trim).filter(|e| !e.is_empty()) {
        None => Ok(None),
        Some(e) if looks_like_email(e) => Ok(Some(e.to_owned())),
        Some(_) => Err(Error::invalid("email", "that is not an email address")),
    }
}

fn validate_phone(phone: Option<&str>) -> Result<Option<String>> {
    match phone.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(p) if p.chars().count() <= 40 => Ok(Some(p.to_owned())),
        Some(_) => Err(Error::invalid("phone", "a phone number is at most 40 characters")),
    }
}

fn validate_locale(locale: &str) -> Result<()> {
    if LOCALES.contains(&locale) { Ok(()) } else { Err(Error::invalid("locale", "the language is zh-CN or en")) }
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    /// At least 12 characters; no composition rules.
    pub password: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub department_id: Option<Id>,
    pub manager_id: Option<Id>,
    /// `zh-CN` (default) or `en`.
    pub locale: Option<String>,
    #[serde(default)]
    pub role_ids: Vec<Id>,
}

pub async fn create(
    state: &AppState,
    org_id: Id,
    actor: Option<Id>,
    ip: Option<IpAddr>,
    new: &NewUser,
) -> Result<User> {
    let store = &state.store;
    let username = normalise_username(&new.username)?;
    let display_name = validate_display_name(&new.display_name)?;
    let email = validate_email(new.email.as_deref())?;
    let phone = validate_phone(new.phone.as_deref())?;
    let locale = new.locale.clone().unwrap_or_else(|| "zh-CN".into());
    validate_locale(&locale)?;
    check_policy(&new.password, &username)?;
    if new.role_ids.len() > 100 {
        return Err(Error::invalid("role_ids", "at most 100 roles"));
    }
    let hash = state.hasher.hash(&new.password).await?;
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    if let Some(d) = new.department_id {
        ensure_exists(&mut *tx, "departments", "department_id", org_id, d).await?;
    }
    if let Some(m) = new.manager_id {
        ensure_exists(&mut *tx, "users", "manager_id", org_id, m).await?;
    }
    for r in &new.role_ids {
        ensure_exists(&mut *tx, "roles", "role_ids", org_id, *r).await?;
    }
    let id: Id = sqlx::query_scalar(
        "INSERT INTO users (org_id, username, display_name, email, phone, password_hash, department_id, manager_id, locale, \
                            active, password_changed_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10, $10) RETURNING id",
    )
    .bind(org_id)
    .bind(&username)
    .bind(display_name)
    .bind(email)
    .bind(phone)
    .bind(&hash)
    .bind(new.department_id)
    .bind(new.manager_id)
    .bind(&locale)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| Error::from_db(e, &format!("the user name {username:?} is taken in this organisation")))?;
    let mut role_ids = new.role_ids.clone();
    role_ids.sort_unstable();
    role_ids.dedup();
    for r in &role_ids {
        sqlx::query("INSERT INTO user_roles (org_id, user_id, role_id) VALUES ($1, $2, $3)")
            .bind(org_id)
            .bind(id)
            .bind(r)
            .execute(&mut *tx)
            .await?;
    }
    AuditEntry::new(org_id, actor, "user.created")
        .target("user", id)
        .ip(ip)
        .detail(serde_json::json!({ "username": username, "role_ids": role_ids, "department_id": new.department_id }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    store.auth_changed();
    get(store, org_id, id).await
}

/// Changes to a user by an administrator; absent fields stay, `null` clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub department_id: Option<Option<Id>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub manager_id: Option<Option<Id>>,
    pub locale: Option<String>,
    /// `false` disables the account: its sessions end and its tokens stop working.
    pub active: Option<bool>,
}

/// Changes to one's own profile.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    pub locale: Option<String>,
}

pub async fn update_profile(store: &Store, org_id: Id, user_id: Id, patch: &ProfilePatch) -> Result<User> {
    let full = UserPatch {
        display_name: patch.display_name.clone(),
        email: patch.email.clone(),
        phone: patch.phone.clone(),
        locale: patch.locale.clone(),
        ..UserPatch::default()
    };
    update(store, org_id, Some(user_id), None, user_id, &full).await
}

/// Walks up the manager chain from `manager` to make sure it does not reach `user`.
async fn ensure_no_manager_cycle(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    user: Id,
    manager: Id,
) -> Result<()> {
    let mut next = Some(manager);
    let mut steps = 0;
    while let Some(m) = next {
        if m == user {
            return Err(Error::invalid("manager_id", "a user cannot report to themselves, directly or through others"));
        }
        steps += 1;
        if steps > 1000 {
            break;
        }
        next = sqlx::query_scalar("SELECT manager_id FROM users WHERE id = $1 AND org_id = $2")
            .bind(m)
            .bind(org_id)
            .fetch_optional(&mut **tx)
            .await?
            .flatten();
    }
    Ok(())
}

pub async fn update(
    store: &Store,
    org_id: Id,
    actor: Option<Id>,
    ip: Option<IpAddr>,
    id: Id,
    patch: &UserPatch,
) -> Result<User> {
    let before = get(store, org_id, id).await?;
    let display_name = patch
        .display_name
        .as_deref()
        .map(validate_display_name)
        .transpose()?
        .unwrap_or(&before.display_name)
        .to_owned();
    let email = match &patch.email {
        Some(e) => validate_email(e.as_deref())?,
        None => before.email.clone(),
    };
    let phone = match &patch.phone {
        Some(p) => validate_phone(p.as_deref())?,
        None => before.phone.clone(),
    };
    let locale = patch.locale.clone().unwrap_or_else(|| before.locale.clone());
    validate_locale(&locale)?;
    let department_id = patch.department_id.unwrap_or(before.department_id);
    let manager_id = patch.manager_id.unwrap_or(before.manager_id);
    let active = patch.active.unwrap_or(before.active);
    let mut tx = store.begin_write().await?;
    if let Some(d) = department_id {
        ensure_exists(&mut *tx, "departments", "department_id", org_id, d).await?;
    }
    if let Some(m) = manager_id {
        ensure_exists(&mut *tx, "users", "manager_id", org_id, m).await?;
        ensure_no_manager_cycle(&mut tx, org_id, id, m).await?;
    }
    sqlx::query(
        "UPDATE users SET display_name = $3, email = $4, phone = $5, locale = $6, department_id = $7, manager_id = $8, \
                          active = $9, updated_at = $10 WHERE id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(org_id)
    .bind(&display_name)
    .bind(&email)
    .bind(&phone)
    .bind(&locale)
    .bind(department_id)
    .bind(manager_id)
    .bind(i64::from(active))
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    if before.active && !active {
        crate::auth::end_all_sessions(&mut *tx, org_id, id, None).await?;
        roles::ensure_admin_remains(&mut tx, org_id).await?;
    }
    let action = match (before.active, active) {
        (true, false) => "user.deactivated",
        (false, true) => "user.reactivated",
        _ => "user.updated",
    };
    AuditEntry::new(org_id, actor, action)
        .target("user", id)
        .ip(ip)
        .detail(serde_json::json!({
            "before": { "display_name": before.display_name, "email": before.email, "phone": before.phone,
                        "department_id": before.department_id, "manager_id": before.manager_id, "locale": before.locale },
            "after": { "display_name": display_name, "email": email, "phone": phone,
                       "department_id": department_id, "manager_id": manager_id, "locale": locale },
        }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    store.auth_changed();
    get(store, org_id, id).await
}

/// Replaces a user's roles.
pub async fn set_roles(
    store: &Store,
    org_id: Id,
    actor: Id,
    ip: Option<IpAddr>,
    id: Id,
    role_ids: &[Id],
) -> Result<User> {
    let before = get(store, org_id, id).await?;
    if role_ids.len() > 100 {
        return Err(Error::invalid("role_ids", "at most 100 roles"));
    }
    let mut ids = role_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut tx = store.begin_write().await?;
    for r in &ids {
        ensure_exists(&mut *tx, "roles", "role_ids", org_id, *r).await?;
    }
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
    for r in &ids {
        sqlx::query("INSERT INTO user_roles (org_id, user_id, role_id) VALUES ($1, $2, $3)")
            .bind(org_id)
            .bind(id)
            .bind(r)
            .execute(&mut *tx)
            .await?;
    }
    roles::ensure_admin_remains(&mut tx, org_id).await?;
    AuditEntry::new(org_id, Some(actor), "user.roles_changed")
        .target("user", id)
        .ip(ip)
        .detail(serde_json::json!({
            "before": before.roles.iter().map(|r| r.id).collect::<Vec<_>>(),
            "after": ids,
        }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    store.auth_changed();
    get(store, org_id, id).await
}

/// Stores a new password hash, ends the user's other sessions (all but `keep`), and audits it.
#[allow(clippy::too_many_arguments)]
pub async fn store_password(
    store: &Store,
    org_id: Id,
    user_id: Id,
    hash: &str,
    keep: Option<Id>,
    actor: Option<Id>,
    ip: Option<IpAddr>,
    action: &str,
) -> Result<()> {
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    let done = sqlx::query(
        "UPDATE users SET password_hash = $3, password_changed_at = $4, updated_at = $4 WHERE id = $1 AND org_id = $2",
    )
    .bind(user_id)
    .bind(org_id)
    .bind(hash)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("user"));
    }
    let ended = crate::auth::end_all_sessions(&mut *tx, org_id, user_id, keep).await?;
    AuditEntry::new(org_id, actor, action)
        .target("user", user_id)
        .ip(ip)
        .detail(serde_json::json!({ "sessions_ended": ended }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    store.auth_changed();
    Ok(())
}

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
        .routes(routes!(set_user_roles))
        .routes(routes!(reset_user_password))
        .routes(routes!(unlock_user))
}

/// Users the caller may see (scope of their `org` / `read` grant).
#[utoipa::path(get, path = "/api/v1/users", tag = "org", params(UserQuery),
    responses((status = 200, body = [User]), (status = 403, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn list_users(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<UserQuery>,
) -> ApiResult<Json<Vec<User>>> {
    let access = auth.access(&state).await?;
    access.require("org", Action::Read, Scope::Own)?;
    Ok(Json(list(&state.store, &access, &q).await?))
}

/// Creates a user (administrators).
#[utoipa::path(post, path = "/api/v1/users", tag = "org", request_body = NewUser,
    responses((status = 201, body = User), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn create_user(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Json(new): Json<NewUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    Ok((StatusCode::CREATED, Json(create(&state, p.org_id, Some(p.user_id), ip.0, &new).await?)))
}

/// One user, if the caller may see them.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "org", params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn get_user(State(state): State<AppState>, auth: Auth, Path(id): Path<Id>) -> ApiResult<Json<User>> {
    let access = auth.access(&state).await?;
    let user = get(&state.store, auth.0.principal.org_id, id).await?;
    let record =
        RecordScope { org_id: auth.0.principal.org_id, owner_id: Some(user.id), department_id: user.department_id };
    if !access.allows("org", Action::Read, &record) {
        return Err(Error::NotFound("user").into());
    }
    Ok(Json(user))
}

/// Changes a user's profile, department, manager or active state (administrators).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "org", params(("id" = i64, Path)), request_body = UserPatch,
    responses((status = 200, body = User), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn update_user(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Path(id): Path<Id>,
    Json(patch): Json<UserPatch>,
) -> ApiResult<Json<User>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    Ok(Json(update(&state.store, p.org_id, Some(p.user_id), ip.0, id, &patch).await?))
}

/// The roles to give a user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleAssignment {
    pub role_ids: Vec<Id>,
}

/// Replaces a user's roles (administrators).
#[utoipa::path(put, path = "/api/v1/users/{id}/roles", tag = "org", params(("id" = i64, Path)), request_body = RoleAssignment,
    responses((status = 200, body = User), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn set_user_roles(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Path(id): Path<Id>,
    Json(req): Json<RoleAssignment>,
) -> ApiResult<Json<User>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    Ok(Json(set_roles(&state.store, p.org_id, p.user_id, ip.0, id, &req.role_ids).await?))
}

/// A new password set by an administrator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    pub new_password: String,
}

/// Sets a user's password and ends all their sessions (administrators).
#[utoipa::path(post, path = "/api/v1/users/{id}/password", tag = "org", params(("id" = i64, Path)), request_body = PasswordReset,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn reset_user_password(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Path(id): Path<Id>,
    Json(req): Json<PasswordReset>,
) -> ApiResult<StatusCode> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    let user = get(&state.store, p.org_id, id).await?;
    check_policy(&req.new_password, &user.username)?;
    let hash = state.hasher.hash(&req.new_password).await?;
    store_password(&state.store, p.org_id, id, &hash, None, Some(p.user_id), ip.0, "password.reset").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts a sign-in lockout on a user (administrators).
#[utoipa::path(post, path = "/api/v1/users/{id}/unlock", tag = "org", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn unlock_user(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Path(id): Path<Id>,
) -> ApiResult<StatusCode> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    let user = get(&state.store, p.org_id, id).await?;
    throttle::clear(&state.store, &throttle::account_key(p.org_id, &user.username)).await?;
    AuditEntry::new(p.org_id, Some(p.user_id), "user.unlocked")
        .target("user", id)
        .ip(ip.0)
        .record(state.store.pool())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
