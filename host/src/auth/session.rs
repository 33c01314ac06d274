//! Cookie sessions. The cookie carries a random secret; the database keeps only its SHA-256,
//! with idle and absolute expiry, so a stolen database does not hand out sessions and signing
//! out really ends the session on every node (at once on this one, within the cache's
//! [`crate::cache::AuthCache::TTL`] on the others).

use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use super::{Authenticated, Credential, random_token, sha256_hex};
use crate::access::Principal;
use crate::cache::SessionEntry;
use crate::error::{Error, Result};
use crate::store::{Id, Store, now_ms};
use crate::timefmt::rfc3339;

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle_ms: i64,
    /// A session ends this long after sign-in, however busy.
    pub absolute_ms: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        // A working day with a long lunch; a day and a half at most.
        SessionPolicy { idle_ms: 4 * 3_600_000, absolute_ms: 36 * 3_600_000 }
    }
}

/// Last-seen times are written at most this often, to keep reads from turning into writes.
const TOUCH_EVERY_MS: i64 = 60_000;

/// A session just made: the cookie secret goes to the browser once and is never stored.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: Id,
    pub secret: String,
    pub csrf_token: String,
    pub expires_at: i64,
}

pub(super) async fn create(
    store: &Store,
    org_id: Id,
    user_id: Id,
    policy: &SessionPolicy,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<NewSession> {
    let secret = random_token(32);
    let csrf_token = random_token(32);
    let now = now_ms();
    let expires_at = now + policy.absolute_ms;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO sessions (org_id, user_id, token_hash, csrf_token, created_at, last_seen_at, expires_at, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8) RETURNING id",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(sha256_hex(&secret))
    .bind(&csrf_token)
    .bind(now)
    .bind(expires_at)
    .bind(ip)
    .bind(user_agent.map(|ua| ua.chars().take(300).collect::<String>()))
    .fetch_one(store.pool())
    .await?;
    Ok(NewSession { id, secret, csrf_token, expires_at })
}

/// Deletes the session a cookie names, if any (sign-out, and rotation at sign-in).
pub async fn end_by_secret(store: &Store, secret: &str) -> Result<Option<(Id, Id, Id)>> {
    let hash = sha256_hex(secret);
    let row = sqlx::query("DELETE FROM sessions WHERE token_hash = $1 RETURNING id, org_id, user_id")
        .bind(&hash)
        .fetch_optional(store.pool())
        .await?;
    store.auth_cache().forget_session(&hash);
    Ok(match row {
        Some(r) => Some((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)),
        None => None,
    })
}

/// Resolves a session cookie to the signed-in user. Each page load asks this, so the answer is
/// remembered for a moment (see [`crate::cache`]); ending a session forgets it.
pub async fn authenticate(store: &Store, secret: &str, policy: &SessionPolicy) -> Result<Authenticated> {
    let hash = sha256_hex(secret);
    let cache = store.auth_cache();
    let entry = match cache.session(&hash) {
        Some(entry) => entry,
        None => {
            let epoch = cache.epoch();
            let row = sqlx::query(
                "SELECT s.id, s.org_id, s.user_id, s.csrf_token, s.last_seen_at, s.expires_at, \
                        u.department_id, u.username, u.display_name, u.locale, u.active \
                 FROM sessions s JOIN users u ON u.id = s.user_id AND u.org_id = s.org_id \
                 WHERE s.token_hash = $1",
            )
            .bind(&hash)
            .fetch_optional(store.pool())
            .await?
            .ok_or_else(|| Error::Unauthenticated("your session has ended; sign in again".into()))?;
            let id: Id = row.try_get(0)?;
            if row.try_get::<i64, _>(10)? == 0 {
                sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(store.pool()).await?;
                return Err(Error::Unauthenticated("your session has expired; sign in again".into()));
            }
            let entry = SessionEntry {
                who: Authenticated {
                    principal: Principal {
                        org_id: row.try_get(1)?,
                        user_id: row.try_get(2)?,
                        department_id: row.try_get(6)?,
                    },
                    username: row.try_get(7)?,
                    display_name: row.try_get(8)?,
                    locale: row.try_get(9)?,
                    credential: Credential::Session { session_id: id, csrf_token: row.try_get(3)? },
                },
                last_seen_at: row.try_get(4)?,
                expires_at: row.try_get(5)?,
            };
            cache.put_session(hash.clone(), entry.clone(), epoch);
            entry
        }
    };
    let Credential::Session { session_id: id, .. } = entry.who.credential else {
        return Err(Error::Internal("a session resolved to another kind of credential".into()));
    };
    let now = now_ms();
    if entry.expires_at <= now || entry.last_seen_at + policy.idle_ms <= now {
        cache.forget_session(&hash);
        sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(store.pool()).await?;
        return Err(Error::Unauthenticated("your session has expired; sign in again".into()));
    }
    if now - entry.last_seen_at >= TOUCH_EVERY_MS {
        cache.forget_session(&hash);
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(store.pool())
            .await?;
    }
    Ok(entry.who)
}

/// One of a user's sessions, as shown to them.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    pub id: Id,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session this request was made with.
    pub current: bool,
}

pub async fn list_for_user(store: &Store, org_id: Id, user_id: Id, current: Option<Id>) -> Result<Vec<SessionInfo>> {
    let rows = sqlx::query(
        "SELECT id, created_at, last_seen_at, expires_at, ip, user_agent FROM sessions \
         WHERE org_id = $1 AND user_id = $2 AND expires_at > $3 ORDER BY last_seen_at DESC",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(now_ms())
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let id: Id = r.try_get(0)?;
            Ok(SessionInfo {
                id,
                created_at: rfc3339(r.try_get(1)?),
                last_seen_at: rfc3339(r.try_get(2)?),
                expires_at: rfc3339(r.try_get(3)?),
                ip: r.try_get(4)?,
                user_agent: r.try_get(5)?,
                current: current == Some(id),
            })
        })
        .collect()
}

/// Ends one of the user's own sessions.
pub async fn end_for_user(store: &Store, org_id: Id, user_id: Id, session_id: Id) -> Result<()> {
    let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND org_id = $2 AND user_id = $3")
        .bind(session_id)
        .bind(org_id)
        .bind(user_id)
        .execute(store.pool())
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("session"));
    }
    // The cache knows sessions by their secret, which is not kept; forget them all.
    store.auth_changed();
    Ok(())
}

/// Ends every session of a user but `keep` (after a password change, a reset, or deactivation).
pub async fn end_all_for_user<'e, E>(exec: E, org_id: Id, user_id: Id, keep: Option<Id>) -> Result<u64>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let done = sqlx::query("DELETE FROM sessions WHERE org_id = $1 AND user_id = $2 AND id <> $3")
        .bind(org_id)
        .bind(user_id)
        .bind(keep.unwrap_or(-1))
        .execute(exec)
        .await?;
    Ok(done.rows_affected())
}
