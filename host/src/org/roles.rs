//! Roles: named sets of grants (an action on a module with a data scope). Users hold any
//! number of roles and their grants add up. Every organisation starts with built-in roles;
//! the Administrator role cannot lose its grants, and no change may leave an organisation
//! without an active administrator.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{self, Action, HOST_MODULES, Scope};
use crate::audit::AuditEntry;
use crate::error::{Error, Result};
use crate::store::{Id, Store, now_ms};
use crate::timefmt::rfc3339;
use crate::web::{ApiResult, AppState, Auth, ClientIp, ErrorBody, Json, Path};

/// One grant: an action on a module, reaching records within a scope.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// `customers`, `contacts`, `activities` or `org` (plugins add their own).
    pub module: String,
    pub action: Action,
    pub scope: Scope,
}

/// A role as shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Role {
    pub id: Id,
    pub name: String,
    pub description: String,
    /// Built-in roles come with every organisation.
    pub builtin: bool,
    pub grants: Vec<Grant>,
    /// How many users hold the role.
    pub user_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A built-in role's definition.
#[derive(Debug, Clone)]
pub struct RoleSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub is_administrator: bool,
    pub grants: Vec<Grant>,
}

fn grant(module: &str, action: Action, scope: Scope) -> Grant {
    Grant { module: module.to_owned(), action, scope }
}

/// The roles every organisation starts with.
pub fn builtin_roles() -> Vec<RoleSpec> {
    let crm = ["customers", "contacts", "activities"];
    let mut admin = Vec::new();
    for module in HOST_MODULES {
        for action in Action::ALL {
            admin.push(grant(module, action, Scope::All));
        }
    }
    let mut manager = vec![grant("org", Action::Read, Scope::All)];
    let mut sales = vec![grant("org", Action::Read, Scope::All)];
    for module in crm {
        for action in [Action::Read, Action::Create, Action::Edit, Action::Transfer, Action::Export] {
            manager.push(grant(module, action, Scope::DepartmentTree));
        }
        manager.push(grant(module, Action::Delete, Scope::Department));
        for action in [Action::Read, Action::Create, Action::Edit] {
            sales.push(grant(module, action, Scope::Own));
        }
    }
    vec![
        RoleSpec {
            name: "Administrator",
            description: "Everything in the organisation, including users, roles and settings.",
            is_administrator: true,
            grants: admin,
        },
        RoleSpec {
            name: "Sales manager",
            description: "Works the customers of their department and the departments below it.",
            is_administrator: false,
            grants: manager,
        },
        RoleSpec {
            name: "Salesperson",
            description: "Works their own customers.",
            is_administrator: false,
            grants: sales,
        },
    ]
}

/// Checks grants: known modules, no action listed twice, and administration only with scope `all`.
fn validate_grants(grants: &[Grant]) -> Result<()> {
    if grants.len() > 1000 {
        return Err(Error::invalid("grants", "at most 1,000 grants per role"));
    }
    let mut seen = BTreeSet::new();
    for g in grants {
        access::validate_module(&g.module)?;
        if !seen.insert((g.module.as_str(), g.action)) {
            return Err(Error::invalid("grants", format!("{} on {} is listed twice", g.action, g.module)));
        }
        if g.action == Action::Admin && g.scope != Scope::All {
            return Err(Error::invalid("grants", "the admin action is granted with scope `all` only"));
        }
    }
    Ok(())
}

fn validate_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "a role name is 1–100 characters"));
    }
    Ok(name)
}

pub(crate) async fn insert_role(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    spec: &RoleSpec,
    now: i64,
) -> Result<Id> {
    let id: Id = sqlx::query_scalar(
        "INSERT INTO roles (org_id, name, description, builtin, created_at, updated_at) VALUES ($1, $2, $3, 1, $4, $4) RETURNING id",
    )
    .bind(org_id)
    .bind(spec.name)
    .bind(spec.description)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    write_grants(tx, org_id, id, &spec.grants).await?;
    Ok(id)
}

async fn write_grants(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    role_id: Id,
    grants: &[Grant],
) -> Result<()> {
    sqlx::query("DELETE FROM role_grants WHERE role_id = $1 AND org_id = $2")
        .bind(role_id)
        .bind(org_id)
        .execute(&mut **tx)
        .await?;
    for g in grants {
        sqlx::query("INSERT INTO role_grants (org_id, role_id, module, action, scope) VALUES ($1, $2, $3, $4, $5)")
            .bind(org_id)
            .bind(role_id)
            .bind(&g.module)
            .bind(g.action.as_str())
            .bind(g.scope.as_str())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Fails with `Conflict` if the organisation has no active user left who may administer it.
/// Called inside the transaction of every change that could remove the last one.
pub(crate) async fn ensure_admin_remains(tx: &mut sqlx::Transaction<'static, sqlx::Any>, org_id: Id) -> Result<()> {
    let admins: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users u WHERE u.org_id = $1 AND u.active = 1 AND EXISTS ( \
           SELECT 1 FROM user_roles ur JOIN role_grants g ON g.role_id = ur.role_id \
           WHERE ur.user_id = u.id AND g.module = 'org' AND g.action = 'admin' AND g.scope = 'all')",
    )
    .bind(org_id)
    .fetch_one(&mut **tx)
    .await?;
    if admins == 0 {
        return Err(Error::Conflict("this change would leave the organisation without an active administrator".into()));
    }
    Ok(())
}

pub async fn list(store: &Store, org_id: Id) -> Result<Vec<Role>> {
    let rows = sqlx::query(
        "SELECT r.id, r.name, r.description, r.builtin, r.created_at, r.updated_at, \
                (SELECT COUNT(*) FROM user_roles ur WHERE ur.role_id = r.id) \
         FROM roles r WHERE r.org_id = $1 ORDER BY r.id",
    )
    .bind(org_id)
    .fetch_all(store.pool())
    .await?;
    let grant_rows =
        sqlx::query("SELECT role_id, module, action, scope FROM role_grants WHERE org_id = $1 ORDER BY module, action")
            .bind(org_id)
            .fetch_all(store.pool())
            .await?;
    let mut roles = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: Id = r.try_get(0)?;
        let mut grants = Vec::new();
        for g in grant_rows.iter().filter(|g| g.try_get::<i64, _>(0).ok() == Some(id)) {
            let (Ok(action), Ok(scope)) = (g.try_get::<String, _>(2)?.parse(), g.try_get::<String, _>(3)?.parse())
            else {
                continue;
            };
            grants.push(Grant { module: g.try_get(1)?, action, scope });
        }
        roles.push(Role {
            id,
            name: r.try_get(1)?,
            description: r.try_get(2)?,
            builtin: r.try_get::<i64, _>(3)? != 0,
            grants,
            user_count: r.try_get(6)?,
            created_at: rfc3339(r.try_get(4)?),
            updated_at: rfc3339(r.try_get(5)?),
        });
    }
    Ok(roles)
}

pub async fn get(store: &Store, org_id: Id, id: Id) -> Result<Role> {
    list(store, org_id).await?.into_iter().find(|r| r.id == id).ok_or(Error::NotFound("role"))
}

/// A new role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub grants: Vec<Grant>,
}

/// Changes to a role; absent fields stay as they are. `grants` replaces the whole set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub grants: Option<Vec<Grant>>,
}

fn validate_description(d: &str) -> Result<()> {
    if d.chars().count() > 1000 {
        return Err(Error::invalid("description", "the description is at most 1,000 characters"));
    }
    Ok(())
}

pub async fn create(store: &Store, org_id: Id, actor: Id, ip: Option<std::net::IpAddr>, new: &NewRole) -> Result<Role> {
    let name = validate_name(&new.name)?;
    validate_description(&new.description)?;
    validate_grants(&new.grants)?;
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    let id: Id = sqlx::query_scalar(
        "INSERT INTO roles (org_id, name, description, builtin, created_at, updated_at) VALUES ($1, $2, $3, 0, $4, $4) RETURNING id",
    )
    .bind(org_id)
    .bind(name)
    .bind(new.description.trim())
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| Error::from_db(e, &format!("a role named {name:?} exists already")))?;
    write_grants(&mut tx, org_id, id, &new.grants).await?;
    AuditEntry::new(org_id, Some(actor), "role.created")
        .target("role", id)
        .ip(ip)
        .detail(serde_json::json!({ "name": name, "grants": new.grants }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    store.auth_changed();
    get(store, org_id, id).await
}

pub async fn update(
    store: &Store,
    org_id: Id,
    actor: Id,
    ip: Option<std::net::IpAddr>,
    id: Id,
    patch: &RolePatch,
) -> Result<Role> {
    let before = get(store, org_id, id).await?;
    if let Some(grants) = &patch.grants {
        validate_grants(grants)?;
        if before.builtin && before.name == "Administrator" {
            return Err(Error::Conflict("the grants of the built-in Administrator role cannot change".into()));
        }
    }
    let name = patch.name.as_deref().map(validate_name).transpose()?;
    if let Some(d) = &patch.description {
        validate_description(d)?;
    }
    let mut tx = store.begin_write().await?;
    sqlx::query("UPDATE roles SET name = COALESCE($3, name), description = COALESCE($4, description), updated_at = $5 WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .bind(name)
        .bind(patch.description.as_deref().map(str::trim))
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| Error::from_db(e, "a role with that name exists already"))?;
    if let Some(grants) = &patch.grants {
        write_grants(&mut tx, org_id, id, grants).await?;
        ensure_admin_remains(&mut tx, org_id).await?;
    }
    AuditEntry::new(org_id, Some(actor), "role.updated")
        .target("role", id)
        .ip(ip)
        .detail(serde_json::json!({
            "name": name, "description": patch.description,
            "grants_before": patch.grants.as_ref().map(|_| &before.grants), "grants_after": patch.grants,
        }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    store.auth_changed();
    get(store, org_id, id).await
}

pub async fn delete(store: &Store, org_id: Id, actor: Id, ip: Option<std::net::IpAddr>, id: Id) -> Result<()> {
    let role = get(store, org_id, id).await?;
    if role.builtin && role.name == "Administrator" {
        return Err(Error::Conflict("the built-in Administrator role cannot be deleted".into()));
    }
    let mut tx = store.begin_write().await?;
    sqlx::query("DELETE FROM roles WHERE id = $1 AND org_id = $2").bind(id).bind(org_id).execute(&mut *tx).await?;
    ensure_admin_remains(&mut tx, org_id).await?;
    AuditEntry::new(org_id, Some(actor), "role.deleted")
        .target("role", id)
        .ip(ip)
        .detail(serde_json::json!({ "name": role.name, "grants": role.grants, "users": role.user_count }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    store.auth_changed();
    Ok(())
}

/// What roles can grant: the modules, actions and scopes, for building a permission matrix.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionCatalog {
    pub modules: Vec<String>,
    pub actions: Vec<Action>,
    pub scopes: Vec<Scope>,
}

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role, delete_role))
        .routes(routes!(permission_catalog))
}

/// The organisation's roles with their grants.
#[utoipa::path(get, path = "/api/v1/roles", tag = "admin",
    responses((status = 200, body = [Role]), (status = 403, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn list_roles(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<Role>>> {
    auth.access(&state).await?.require("org", Action::Read, Scope::Own)?;
    Ok(Json(list(&state.store, auth.0.principal.org_id).await?))
}

/// Creates a role (administrators).
#[utoipa::path(post, path = "/api/v1/roles", tag = "admin", request_body = NewRole,
    responses((status = 201, body = Role), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn create_role(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Json(new): Json<NewRole>,
) -> ApiResult<(StatusCode, Json<Role>)> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    Ok((StatusCode::CREATED, Json(create(&state.store, p.org_id, p.user_id, ip.0, &new).await?)))
}

/// One role.
#[utoipa::path(get, path = "/api/v1/roles/{id}", tag = "admin", params(("id" = i64, Path)),
    responses((status = 200, body = Role), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn get_role(State(state): State<AppState>, auth: Auth, Path(id): Path<Id>) -> ApiResult<Json<Role>> {
    auth.access(&state).await?.require("org", Action::Read, Scope::Own)?;
    Ok(Json(get(&state.store, auth.0.principal.org_id, id).await?))
}

/// Changes a role's name, description or grants (administrators).
#[utoipa::path(patch, path = "/api/v1/roles/{id}", tag = "admin", params(("id" = i64, Path)), request_body = RolePatch,
    responses((status = 200, body = Role), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn update_role(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Path(id): Path<Id>,
    Json(patch): Json<RolePatch>,
) -> ApiResult<Json<Role>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    Ok(Json(update(&state.store, p.org_id, p.user_id, ip.0, id, &patch).await?))
}

/// Deletes a role; its holders lose its grants (administrators).
#[utoipa::path(delete, path = "/api/v1/roles/{id}", tag = "admin", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn delete_role(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Path(id): Path<Id>,
) -> ApiResult<StatusCode> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    delete(&state.store, p.org_id, p.user_id, ip.0, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The modules, actions and scopes a role can grant.
#[utoipa::path(get, path = "/api/v1/permissions", tag = "admin",
    responses((status = 200, body = PermissionCatalog)), security(("token" = []), ("session" = [])))]
async fn permission_catalog(_auth: Auth) -> Json<PermissionCatalog> {
    Json(PermissionCatalog {
        modules: HOST_MODULES.iter().map(|m| (*m).to_owned()).collect(),
        actions: Action::ALL.to_vec(),
        scopes: Scope::ALL.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_roles_are_valid_and_one_administers() {
        let roles = builtin_roles();
        for r in &roles {
            validate_grants(&r.grants).expect(r.name);
        }
        assert_eq!(roles.iter().filter(|r| r.is_administrator).count(), 1);
    }

    #[test]
    fn grants_are_checked() {
        assert!(validate_grants(&[grant("nope", Action::Read, Scope::All)]).is_err());
        assert!(validate_grants(&[grant("org", Action::Admin, Scope::Department)]).is_err());
        assert!(
            validate_grants(&[
                grant("customers", Action::Read, Scope::All),
                grant("customers", Action::Read, Scope::Own)
            ])
            .is_err()
        );
        assert!(validate_grants(&[grant("customers", Action::Read, Scope::Own)]).is_ok());
    }
}
