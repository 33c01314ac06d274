//! The department tree. Each department may have a parent and records its head (the workflow
//! kernel routes approvals to heads); the tree drives the department-and-below data scope.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::ensure_exists;
use super::users::double_option;
use crate::access::{Action, DepartmentTree, Scope};
use crate::audit::AuditEntry;
use crate::error::{Error, Result};
use crate::store::{Id, Store, now_ms};
use crate::timefmt::rfc3339;
use crate::web::{ApiResult, AppState, Auth, ClientIp, ErrorBody, Json, Path};

/// A department.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Department {
    pub id: Id,
    pub parent_id: Option<Id>,
    pub name: String,
    /// The head of the department (approver for "department head" steps).
    pub head_user_id: Option<Id>,
    /// Users directly in this department.
    pub member_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A new department.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDepartment {
    pub name: String,
    pub parent_id: Option<Id>,
    pub head_user_id: Option<Id>,
}

/// Changes to a department; absent fields stay, `null` clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub parent_id: Option<Option<Id>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub head_user_id: Option<Option<Id>>,
}

fn validate_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "a department name is 1–100 characters"));
    }
    Ok(name)
}

pub async fn list(store: &Store, org_id: Id) -> Result<Vec<Department>> {
    let rows = sqlx::query(
        "SELECT d.id, d.parent_id, d.name, d.head_user_id, d.created_at, d.updated_at, \
                (SELECT COUNT(*) FROM users u WHERE u.org_id = d.org_id AND u.department_id = d.id) \
         FROM departments d WHERE d.org_id = $1 ORDER BY d.id",
    )
    .bind(org_id)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Department {
                id: r.try_get(0)?,
                parent_id: r.try_get(1)?,
                name: r.try_get(2)?,
                head_user_id: r.try_get(3)?,
                member_count: r.try_get(6)?,
                created_at: rfc3339(r.try_get(4)?),
                updated_at: rfc3339(r.try_get(5)?),
            })
        })
        .collect()
}

/// The departments in tree order (each followed by its sub-departments, by name), with depth.
pub fn tree_order(list: &[Department]) -> Vec<(&Department, usize)> {
    let ids: HashSet<Id> = list.iter().map(|d| d.id).collect();
    let mut children: HashMap<Option<Id>, Vec<&Department>> = HashMap::new();
    for d in list {
        // A parent outside the organisation's list would hide the department: draw it at the top.
        let parent = d.parent_id.filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(d);
    }
    for v in children.values_mut() {
        v.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    }
    let mut out = Vec::with_capacity(list.len());
    let mut seen = HashSet::new();
    let mut stack: Vec<(&Department, usize)> =
        children.get(&None).map(|v| v.iter().rev().map(|d| (*d, 0)).collect()).unwrap_or_default();
    while let Some((d, depth)) = stack.pop() {
        if !seen.insert(d.id) {
            continue;
        }
        out.push((d, depth));
        if let Some(kids) = children.get(&Some(d.id)) {
            stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
        }
    }
    out
}

pub async fn get(store: &Store, org_id: Id, id: Id) -> Result<Department> {
    list(store, org_id).await?.into_iter().find(|d| d.id == id).ok_or(Error::NotFound("department"))
}

pub async fn create(
    store: &Store,
    org_id: Id,
    actor: Option<Id>,
    ip: Option<std::net::IpAddr>,
    new: &NewDepartment,
) -> Result<Department> {
    let name = validate_name(&new.name)?;
    let mut tx = store.begin_write().await?;
    if let Some(parent) = new.parent_id {
        ensure_exists(&mut *tx, "departments", "parent_id", org_id, parent).await?;
    }
    if let Some(head) = new.head_user_id {
        ensure_exists(&mut *tx, "users", "head_user_id", org_id, head).await?;
    }
    let now = now_ms();
    let id: Id = sqlx::query_scalar(
        "INSERT INTO departments (org_id, parent_id, name, head_user_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(org_id)
    .bind(new.parent_id)
    .bind(name)
    .bind(new.head_user_id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| Error::from_db(e, "department exists"))?;
    AuditEntry::new(org_id, actor, "department.created")
        .target("department", id)
        .ip(ip)
        .detail(serde_json::json!({ "name": name, "parent_id": new.parent_id, "head_user_id": new.head_user_id }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    store.auth_changed();
    get(store, org_id, id).await
}

pub async fn update(
    store: &Store,
    org_id: Id,
    actor: Option<Id>,
    ip: Option<std::net::IpAddr>,
    id: Id,
    patch: &DepartmentPatch,
) -> Result<Department> {
    let before = get(store, org_id, id).await?;
    let name = patch.name.as_deref().map(validate_name).transpose()?.unwrap_or(&before.name).to_owned();
    let parent_id = patch.parent_id.unwrap_or(before.parent_id);
    let head_user_id = patch.head_user_id.unwrap_or(before.head_user_id);
    let mut tx = store.begin_write().await?;
    if let Some(parent) = parent_id {
        ensure_exists(&mut *tx, "departments", "parent_id", org_id, parent).await?;
        let tree = DepartmentTree::load(store, org_id).await?;
        if tree.subtree(id).contains(&parent) {
            return Err(Error::invalid(
                "parent_id",
                "a department cannot move under itself or one of its sub-departments",
            ));
        }
    }
    if let Some(head) = head_user_id {
        ensure_exists(&mut *tx, "users", "head_user_id", org_id, head).await?;
    }
    sqlx::query("UPDATE departments SET name = $3, parent_id = $4, head_user_id = $5, updated_at = $6 WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .bind(&name)
        .bind(parent_id)
        .bind(head_user_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| Error::from_db(e, "department exists"))?;
    AuditEntry::new(org_id, actor, "department.updated")
        .target("department", id)
        .ip(ip)
        .detail(serde_json::json!({
            "before": { "name": before.name, "parent_id": before.parent_id, "head_user_id": before.head_user_id },
            "after": { "name": name, "parent_id": parent_id, "head_user_id": head_user_id },
        }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    store.auth_changed();
    get(store, org_id, id).await
}

pub async fn delete(store: &Store, org_id: Id, actor: Id, ip: Option<std::net::IpAddr>, id: Id) -> Result<()> {
    let dept = get(store, org_id, id).await?;
    let mut tx = store.begin_write().await?;
    let children: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM departments WHERE org_id = $1 AND parent_id = $2")
        .bind(org_id)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    if children > 0 || dept.member_count > 0 {
        return Err(Error::Conflict(format!(
            "department {:?} still has {children} sub-departments and {} users; move them first",
            dept.name, dept.member_count
        )));
    }
    sqlx::query("DELETE FROM departments WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
    AuditEntry::new(org_id, Some(actor), "department.deleted")
        .target("department", id)
        .ip(ip)
        .detail(serde_json::json!({ "name": dept.name }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    store.auth_changed();
    Ok(())
}

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_departments, create_department)).routes(routes!(
        get_department,
        update_department,
        delete_department
    ))
}

/// The department tree, as a flat list with parent ids.
#[utoipa::path(get, path = "/api/v1/departments", tag = "org",
    responses((status = 200, body = [Department]), (status = 403, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn list_departments(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<Department>>> {
    auth.access(&state).await?.require("org", Action::Read, Scope::Own)?;
    Ok(Json(list(&state.store, auth.0.principal.org_id).await?))
}

/// Creates a department (administrators).
#[utoipa::path(post, path = "/api/v1/departments", tag = "org", request_body = NewDepartment,
    responses((status = 201, body = Department), (status = 422, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn create_department(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Json(new): Json<NewDepartment>,
) -> ApiResult<(StatusCode, Json<Department>)> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    Ok((StatusCode::CREATED, Json(create(&state.store, p.org_id, Some(p.user_id), ip.0, &new).await?)))
}

/// One department.
#[utoipa::path(get, path = "/api/v1/departments/{id}", tag = "org", params(("id" = i64, Path)),
    responses((status = 200, body = Department), (status = 404, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn get_department(State(state): State<AppState>, auth: Auth, Path(id): Path<Id>) -> ApiResult<Json<Department>> {
    auth.access(&state).await?.require("org", Action::Read, Scope::Own)?;
    Ok(Json(get(&state.store, auth.0.principal.org_id, id).await?))
}

/// Renames, moves, or sets the head of a department (administrators).
#[utoipa::path(patch, path = "/api/v1/departments/{id}", tag = "org", params(("id" = i64, Path)), request_body = DepartmentPatch,
    responses((status = 200, body = Department), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn update_department(
    State(state): State<AppState>,
    ip: ClientIp,
    auth: Auth,
    Path(id): Path<Id>,
    Json(patch): Json<DepartmentPatch>,
) -> ApiResult<Json<Department>> {
    auth.require_admin(&state).await?;
    let p = auth.0.principal;
    Ok(Json(update(&state.store, p.org_id, Some(p.user_id), ip.0, id, &patch).await?))
}

/// Deletes an empty department (administrators).
#[utoipa::path(delete, path = "/api/v1/departments/{id}", tag = "org", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("token" = []), ("session" = [])))]
async fn delete_department(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dept(id: Id, parent: Option<Id>, name: &str) -> Department {
        Department {
            id,
            parent_id: parent,
            name: name.into(),
            head_user_id: None,
            member_count: 0,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn departments_are_drawn_parents_first_then_children_by_name() {
        let list =
            [dept(1, None, "Sales"), dept(2, Some(1), "North"), dept(3, Some(1), "East"), dept(4, Some(3), "Shanghai")];
        let order: Vec<(Id, usize)> = tree_order(&list).iter().map(|(d, depth)| (d.id, *depth)).collect();
        assert_eq!(order, [(1, 0), (3, 1), (4, 2), (2, 1)]);
        // A loop in the data cannot hang the page.
        let looped = [dept(1, Some(2), "A"), dept(2, Some(1), "B")];
        assert!(tree_order(&looped).is_empty());
    }

    #[test]
    fn a_department_made_before_its_parent_follows_it_and_a_lost_parent_makes_a_root() {
        // In id order, as the database reads them: 2 was made before its parent 6.
        let list = [
            dept(1, None, "d1"),
            dept(2, Some(6), "d2"),
            dept(3, Some(1), "d3"),
            dept(6, Some(1), "d6"),
            dept(7, Some(99), "d7"),
        ];
        let order: Vec<Id> = tree_order(&list).iter().map(|(d, _)| d.id).collect();
        assert_eq!(order, vec![1, 3, 6, 2, 7]);
    }
}
