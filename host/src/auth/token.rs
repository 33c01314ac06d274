//! Personal API tokens for the REST API (`Authorization: Bearer tsr_…`). A token acts as the
//! user who made it, expires, and can be revoked; only its SHA-256 is stored.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use super::{Authenticated, Credential, random_token, sha256_hex};
use crate::access::Principal;
use crate::cache::TokenEntry;
use crate::error::{Error, Result};
use crate::store::{Id, SqlBuf, Store, now_ms};
use crate::timefmt::{rfc3339, rfc3339_opt};

/// Every token starts with this, so leaked tokens are easy to spot in logs and by scanners.
pub const TOKEN_PREFIX: &str = "tsr_";
/// The longest life a token may be given.
pub const MAX_TOKEN_DAYS: i64 = 366;
const TOUCH_EVERY_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// A request for a new token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// What the token is for, e.g. "ERP sync".
    pub name: String,
    /// Days until it expires (1–366, default 90).
    pub expires_in_days: Option<i64>,
}

/// A token as listed: never the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenInfo {
    pub id: Id,
    pub user_id: Id,
    pub name: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A token just made; `token` is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewToken {
    #[serde(flatten)]
    pub info: TokenInfo,
    /// The secret to send as `Authorization: Bearer …`. It cannot be shown again.
    pub token: String,
}

pub async fn create(store: &Store, org_id: Id, user_id: Id, req: &NewTokenRequest) -> Result<NewToken> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "give the token a name of 1 to 100 characters"));
    }
    let days = req.expires_in_days.unwrap_or(90);
    if !(1..=MAX_TOKEN_DAYS).contains(&days) {
        return Err(Error::invalid("expires_in_days", format!("a token lives 1 to {MAX_TOKEN_DAYS} days")));
    }
    let token = format!("{TOKEN_PREFIX}{}", random_token(32));
    let prefix: String = token.chars().take(TOKEN_PREFIX.len() + 6).collect();
    let now = now_ms();
    let expires_at = now + days * DAY_MS;
    let id: Id = sqlx::query_scalar(
        "INSERT INTO api_tokens (org_id, user_id, name, token_hash, token_prefix, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(name)
    .bind(sha256_hex(&token))
    .bind(&prefix)
    .bind(now)
    .bind(expires_at)
    .fetch_one(store.pool())
    .await?;
    Ok(NewToken {
        info: TokenInfo {
            id,
            user_id,
            name: name.to_owned(),
            prefix,
            created_at: rfc3339(now),
            expires_at: rfc3339(expires_at),
            last_used_at: None,
            revoked_at: None,
        },
        token,
    })
}

/// Resolves a bearer token to its user.
pub async fn authenticate(store: &Store, token: &str) -> Result<Authenticated> {
    let invalid = || Error::Unauthenticated("the API token is not valid".into());
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
        return Err(invalid());
    }
    let hash = sha256_hex(token);
    let cache = store.auth_cache();
    let entry = match cache.token(&hash) {
        Some(entry) => entry,
        None => {
            let epoch = cache.epoch();
            let row = sqlx::query(
                "SELECT t.id, t.org_id, t.user_id, t.expires_at, t.revoked_at, t.last_used_at, \
                        u.department_id, u.username, u.display_name, u.locale, u.active \
                 FROM api_tokens t JOIN users u ON u.id = t.user_id AND u.org_id = t.org_id \
                 WHERE t.token_hash = $1",
            )
            .bind(&hash)
            .fetch_optional(store.pool())
            .await?
            .ok_or_else(invalid)?;
            if row.try_get::<Option<i64>, _>(4)?.is_some() {
                return Err(Error::Unauthenticated("the API token has been revoked".into()));
            }
            if row.try_get::<i64, _>(10)? == 0 {
                return Err(Error::Unauthenticated("the account of this API token is disabled".into()));
            }
            let entry = TokenEntry {
                token_id: row.try_get(0)?,
                org_id: row.try_get(1)?,
                user_id: row.try_get(2)?,
                department_id: row.try_get(6)?,
                username: row.try_get(7)?,
                display_name: row.try_get(8)?,
                locale: row.try_get(9)?,
                expires_at: row.try_get(3)?,
                last_used_at: row.try_get(5)?,
            };
            cache.put_token(hash.clone(), entry.clone(), epoch);
            entry
        }
    };
    let now = now_ms();
    if entry.expires_at <= now {
        return Err(Error::Unauthenticated("the API token has expired; make a new one".into()));
    }
    if entry.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY_MS) {
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(entry.token_id)
            .bind(now)
            .execute(store.pool())
            .await?;
        cache.forget_token(&hash);
    }
    Ok(Authenticated {
        principal: Principal { org_id: entry.org_id, user_id: entry.user_id, department_id: entry.department_id },
        username: entry.username,
        display_name: entry.display_name,
        locale: entry.locale,
        credential: Credential::Token { token_id: entry.token_id },
    })
}

/// Tokens of an organisation, or of one user in it.
pub async fn list(store: &Store, org_id: Id, user_id: Option<Id>) -> Result<Vec<TokenInfo>> {
    let mut sql = SqlBuf::new(
        "SELECT id, user_id, name, token_prefix, created_at, expires_at, last_used_at, revoked_at \
         FROM api_tokens WHERE org_id = ",
    );
    sql.bind(org_id);
    if let Some(user_id) = user_id {
        sql.push(" AND user_id = ").bind(user_id);
    }
    sql.push(" ORDER BY id DESC");
    let rows = sql.query().fetch_all(store.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok(TokenInfo {
                id: r.try_get(0)?,
                user_id: r.try_get(1)?,
                name: r.try_get(2)?,
                prefix: r.try_get(3)?,
                created_at: rfc3339(r.try_get(4)?),
                expires_at: rfc3339(r.try_get(5)?),
                last_used_at: rfc3339_opt(r.try_get(6)?),
                revoked_at: rfc3339_opt(r.try_get(7)?),
            })
        })
        .collect()
}

/// Revokes a token of the organisation (of `user_id` only, when given). Revoking twice is fine.
pub async fn revoke(store: &Store, org_id: Id, user_id: Option<Id>, token_id: Id) -> Result<Id> {
    let mut sql = SqlBuf::new("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ");
    sql.bind(now_ms()).push(") WHERE id = ").bind(token_id).push(" AND org_id = ").bind(org_id);
    if let Some(user_id) = user_id {
        sql.push(" AND user_id = ").bind(user_id);
    }
    sql.push(" RETURNING user_id");
    let owner: Option<i64> = sql.query().fetch_optional(store.pool()).await?.map(|r| r.try_get(0)).transpose()?;
    store.auth_changed();
    owner.ok_or(Error::NotFound("API token"))
}
