//! Telling an organisation's admins about their plugins: a plugin the circuit breaker
//! stopped, an upgrade that waits for a grant.

use crate::error::Result;
use crate::notifications::{self, NewNotification, PLUGIN_ALERT, Text};
use crate::store::{Id, Store};

/// The active users whose roles grant administration of the organisation.
pub async fn admins(store: &Store, org_id: Id) -> Result<Vec<Id>> {
    let ids: Vec<Id> = sqlx::query_scalar(
        "SELECT DISTINCT u.id FROM users u JOIN user_roles ur ON ur.user_id = u.id \
         JOIN role_grants g ON g.role_id = ur.role_id \
         WHERE u.org_id = $1 AND u.active = 1 AND g.module = 'org' AND g.action = 'admin' ORDER BY u.id",
    )
    .bind(org_id)
    .fetch_all(store.pool())
    .await?;
    Ok(ids)
}

/// Notifies every admin once per `dedupe_key`.
pub async fn tell_admins(
    store: &Store,
    org_id: Id,
    dedupe_key: &str,
    title: Text,
    body: Text,
    plugin_id: &str,
) -> Result<()> {
    let admins = admins(store, org_id).await?;
    let mut tx = store.begin_write().await?;
    let mut made = Vec::new();
    for user_id in admins {
        let n = NewNotification {
            org_id,
            user_id,
            kind: PLUGIN_ALERT,
            title: title.clone(),
            body: body.clone(),
            link: Some(format!("/admin/plugins/{plugin_id}")),
            subject: None,
            dedupe_key: dedupe_key.to_owned(),
        };
        if let Some(m) = notifications::create(&mut tx, &n).await? {
            made.push(m);
        }
    }
    tx.commit().await?;
    notifications::announce(store, &made);
    Ok(())
}
