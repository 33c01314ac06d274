//! The audit log: an append-only record of sign-ins, permission changes and other sensitive
//! actions. Both schemas refuse `UPDATE` and `DELETE` on it with a trigger; entries are written
//! in the same transaction as the change they describe wherever there is one.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::Result;
use crate::store::{Id, SqlBuf, Store, now_ms};
use crate::timefmt::rfc3339;
use crate::web::{ApiResult, AppState, Auth, Json, Query};

/// One thing to record.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub org_id: Id,
    pub actor_user_id: Option<Id>,
    pub action: &'a str,
    pub target: Option<(&'a str, Id)>,
    pub ip: Option<String>,
    pub detail: serde_json::Value,
}

impl<'a> AuditEntry<'a> {
    pub fn new(org_id: Id, actor_user_id: Option<Id>, action: &'a str) -> Self {
        AuditEntry { org_id, actor_user_id, action, target: None, ip: None, detail: serde_json::json!({}) }
    }

    pub fn target(mut self, kind: &'a str, id: Id) -> Self {
        self.target = Some((kind, id));
        self
    }

    pub fn ip(mut self, ip: Option<std::net::IpAddr>) -> Self {
        self.ip = ip.map(|ip| ip.to_string());
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }

    /// Appends the entry through `exec` (a pool, or a transaction to commit with the change).
    pub async fn record<'e, E>(self, exec: E) -> Result<()>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        sqlx::query(
            "INSERT INTO audit_log (org_id, at, actor_user_id, action, target_type, target_id, ip, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(self.org_id)
        .bind(now_ms())
        .bind(self.actor_user_id)
        .bind(self.action)
        .bind(self.target.map(|t| t.0))
        .bind(self.target.map(|t| t.1))
        .bind(self.ip)
        .bind(self.detail.to_string())
        .execute(exec)
        .await?;
        Ok(())
    }
}

/// An audit entry as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecord {
    pub id: Id,
    pub at: String,
    pub actor_user_id: Option<Id>,
    /// What happened, e.g. `sign_in.failed`, `role.updated`, `user.roles_changed`.
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<Id>,
    pub ip: Option<String>,
    pub detail: serde_json::Value,
}

/// Filters of the audit log, newest first.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this action (e.g. `sign_in.failed`).
    pub action: Option<String>,
    /// Only entries by this user.
    pub actor_user_id: Option<Id>,
    /// Only entries about this target type (e.g. `user`) …
    pub target_type: Option<String>,
    /// … and id.
    pub target_id: Option<Id>,
    /// Only entries at or after this moment (RFC 3339, e.g. `2026-11-01T00:00:00+08:00`).
    pub since: Option<String>,
    /// Only entries before this moment (RFC 3339).
    pub until: Option<String>,
    /// Entries older than this id (for the next page).
    pub before_id: Option<Id>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<i64>,
}

pub async fn list(store: &Store, org_id: Id, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(crate::error::Error::invalid("limit", "limit is 1 to 500"));
    }
    let mut sql = SqlBuf::new(
        "SELECT id, at, actor_user_id, action, target_type, target_id, ip, detail FROM audit_log WHERE org_id = ",
    );
    sql.bind(org_id);
    if let Some(a) = &q.action {
        sql.push(" AND action = ").bind(a.as_str());
    }
    if let Some(a) = q.actor_user_id {
        sql.push(" AND actor_user_id = ").bind(a);
    }
    if let Some(t) = &q.target_type {
        sql.push(" AND target_type = ").bind(t.as_str());
    }
    if let Some(t) = q.target_id {
        sql.push(" AND target_id = ").bind(t);
    }
    for (field, moment, op) in [("since", &q.since, " AND at >= "), ("until", &q.until, " AND at < ")] {
        if let Some(m) = moment {
            let ts = m.parse::<jiff::Timestamp>().map_err(|_| {
                crate::error::Error::invalid(field, format!("{m:?} is not a moment such as 2026-11-01T00:00:00Z"))
            })?;
            sql.push(op).bind(ts.as_millisecond());
        }
    }
    if let Some(b) = q.before_id {
        sql.push(" AND id < ").bind(b);
    }
    sql.push(" ORDER BY id DESC").limit(limit);
    let rows = sql.query().fetch_all(store.pool()).await?;
    rows.iter()
        .map(|r| {
            let detail: String = r.try_get(7)?;
            Ok(AuditRecord {
                id: r.try_get(0)?,
                at: rfc3339(r.try_get(1)?),
                actor_user_id: r.try_get(2)?,
                action: r.try_get(3)?,
                target_type: r.try_get(4)?,
                target_id: r.try_get(5)?,
                ip: r.try_get(6)?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
            })
        })
        .collect()
}

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_log))
}

/// The organisation's audit log, newest first (administrators).
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "admin", params(AuditQuery),
    responses((status = 200, body = [AuditRecord]), (status = 403, body = crate::web::ErrorBody)),
    security(("token" = []), ("session" = [])))]
async fn list_audit_log(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Vec<AuditRecord>>> {
    auth.require_admin(&state).await?;
    Ok(Json(list(&state.store, auth.0.principal.org_id, &q).await?))
}
