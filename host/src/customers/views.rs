//! Saved views of the customer list: a named set of filters, search and sort, kept per user
//! and optionally shared with the whole organisation.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use super::CustomerQuery;
use crate::access::Access;
use crate::error::{Error, Result};
use crate::store::{Id, Store, now_ms};
use crate::timefmt::rfc3339;

/// A saved view.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SavedView {
    pub id: Id,
    pub user_id: Id,
    pub name: String,
    /// The list query string, e.g. `level=a&status=signed&sort=next_follow_up`.
    pub query: String,
    /// Shown to everyone in the organisation (each still sees only what they may read).
    pub shared: bool,
    pub created_at: String,
}

/// A view to save.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewView {
    pub name: String,
    pub query: String,
    #[serde(default)]
    pub shared: bool,
}

/// The user's views and those shared with everyone. The list page shows them on every load, so
/// they are remembered for a moment (see [`crate::cache`]); saving or deleting a view forgets them.
pub async fn list(store: &Store, access: &Access) -> Result<Vec<SavedView>> {
    let p = access.principal();
    let cache = store.auth_cache();
    if let Some(views) = cache.views(p.org_id, p.user_id) {
        return Ok(views.as_ref().clone());
    }
    let epoch = cache.views_epoch();
    let rows = sqlx::query(
        "SELECT id, user_id, name, query, shared, created_at FROM saved_views \
         WHERE org_id = $1 AND (user_id = $2 OR shared = 1) ORDER BY name, id",
    )
    .bind(p.org_id)
    .bind(p.user_id)
    .fetch_all(store.pool())
    .await?;
    let views = rows
        .iter()
        .map(|r| {
            Ok(SavedView {
                id: r.try_get(0)?,
                user_id: r.try_get(1)?,
                name: r.try_get(2)?,
                query: r.try_get(3)?,
                shared: r.try_get::<i64, _>(4)? != 0,
                created_at: rfc3339(r.try_get(5)?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    cache.put_views(p.org_id, p.user_id, std::sync::Arc::new(views.clone()), epoch);
    Ok(views)
}

/// Saves a view after checking that its query is one the customer list accepts.
pub async fn create(store: &Store, access: &Access, new: &NewView) -> Result<SavedView> {
    let p = *access.principal();
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "a view name is 1–100 characters"));
    }
    let query = new.query.trim().trim_start_matches('?');
    if query.len() > 2000 {
        return Err(Error::invalid("query", "the query is at most 2,000 characters"));
    }
    let parsed: CustomerQuery = serde_urlencoded::from_str(query)
        .map_err(|e| Error::invalid("query", format!("not a customer list query: {e}")))?;
    if parsed.cursor.is_some() {
        return Err(Error::invalid("query", "a view keeps filters and sort, not a page cursor"));
    }
    let id: Id = sqlx::query_scalar(
        "INSERT INTO saved_views (org_id, user_id, name, query, shared, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(p.org_id)
    .bind(p.user_id)
    .bind(name)
    .bind(query)
    .bind(i64::from(new.shared))
    .bind(now_ms())
    .fetch_one(store.pool())
    .await
    .map_err(|e| Error::from_db(e, &format!("you already have a view named {name:?}")))?;
    store.auth_cache().views_changed();
    list(store, access).await?.into_iter().find(|v| v.id == id).ok_or(Error::NotFound("view"))
}

/// Deletes one of the user's views (administrators may delete shared ones too).
pub async fn delete(store: &Store, access: &Access, id: Id) -> Result<()> {
    let p = access.principal();
    let is_admin = access.scope("org", crate::access::Action::Admin).is_some();
    let done = sqlx::query(
        "DELETE FROM saved_views WHERE id = $1 AND org_id = $2 AND (user_id = $3 OR ($4 = 1 AND shared = 1))",
    )
    .bind(id)
    .bind(p.org_id)
    .bind(p.user_id)
    .bind(i64::from(is_admin))
    .execute(store.pool())
    .await?;
    store.auth_cache().views_changed();
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("view"));
    }
    Ok(())
}
