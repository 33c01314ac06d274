//! The revocation list: the operator revokes plugin versions (a semver range, or one build by
//! its component's SHA-256) and publisher keys; each revocation makes a new list, numbered one
//! higher than the last and signed with the root key, which hosts fetch and honour offline.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use semver::VersionReq;
use serde::{Deserialize, Serialize};
use tessera_host::store::{Backend, now_ms};
use tessera_package::{KeyId, RevocationList, RevokedKey, RevokedVersion, Timestamp};

use crate::accounts::OperatorCaller;
use crate::error::{Error, Result};
use crate::publishers::is_plugin_id;
use crate::web::{ApiResult, AppState, Json};

/// Every revocation made so far, as an unsigned list numbered `seq`.
async fn entries(executor: impl sqlx::Executor<'_, Database = sqlx::Any>, seq: u64) -> Result<RevocationList> {
    let rows: Vec<Entry> =
        sqlx::query_as("SELECT plugin_id, version, sha256, key_id, reason FROM revocations ORDER BY id")
            .fetch_all(executor)
            .await?;
    let mut list = RevocationList { seq, issued_at: timestamp(now_ms())?, entries: Vec::new(), keys: Vec::new() };
    for (plugin, version, sha256, key_id, reason) in rows {
        match (plugin, key_id) {
            (Some(plugin), _) => {
                let version = VersionReq::parse(version.as_deref().unwrap_or("*"))
                    .map_err(|e| Error::Internal(format!("a stored revocation range does not read: {e}")))?;
                list.entries.push(RevokedVersion { plugin, version, sha256, reason });
            }
            (None, Some(key_id)) => {
                let key_id = KeyId::parse(&key_id).map_err(|e| Error::Internal(e.to_string()))?;
                list.keys.push(RevokedKey { key_id, reason });
            }
            (None, None) => return Err(Error::Internal("a stored revocation names neither a plugin nor a key".into())),
        }
    }
    Ok(list)
}

/// What is revoked now (for the registry's own checks and the catalog; not signed).
pub async fn current_entries(state: &AppState) -> Result<RevocationList> {
    entries(state.store.pool(), 0).await
}

fn timestamp(ms: i64) -> Result<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(|e| Error::Internal(e.to_string()))
}

/// Signs and stores list number 0, empty, when there is no list yet: a host fetching before
/// the first revocation gets a signed list too.
pub async fn ensure_first_list(state: &AppState) -> Result<()> {
    let mut tx = state.store.begin_write().await?;
    let any: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM revocation_lists LIMIT 1").fetch_optional(&mut *tx).await?;
    if any.is_none() {
        let list = RevocationList { seq: 0, issued_at: timestamp(now_ms())?, entries: vec![], keys: vec![] };
        let envelope = list.sign(&state.root_key).map_err(|e| Error::Internal(e.to_string()))?;
        // Another node starting at the same moment may have made it: that one is as good.
        sqlx::query(
            "INSERT INTO revocation_lists (seq, issued_at, envelope) VALUES (0, $1, $2) ON CONFLICT (seq) DO NOTHING",
        )
        .bind(now_ms())
        .bind(envelope)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What the operator revokes: `{plugin, version, sha256?, reason}` or `{key_id, reason}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationInput {
    pub plugin: Option<String>,
    /// A semver range; `*` for every version.
    pub version: Option<String>,
    /// The component's lower-case hex SHA-256, to revoke one build.
    pub sha256: Option<String>,
    pub key_id: Option<String>,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct Revoked {
    /// The new list's number.
    pub seq: u64,
    /// The new list, signed (what `GET /api/v1/revocations` now serves).
    pub list: serde_json::Value,
}

/// The row a revocation adds: plugin, version range, sha256, key id, reason.
type Entry = (Option<String>, Option<String>, Option<String>, Option<String>, String);

fn check(input: RevocationInput) -> Result<Entry> {
    let reason = input.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Error::invalid("invalid_input", "reason: say in 1 to 500 characters why, for the hosts' admins"));
    }
    match (input.plugin, input.key_id) {
        (Some(plugin), None) => {
            if !is_plugin_id(&plugin) {
                return Err(Error::invalid("invalid_input", "plugin: give a plugin id such as \"public-pool\""));
            }
            let version = input.version.unwrap_or_else(|| "*".to_owned());
            VersionReq::parse(&version).map_err(|e| {
                Error::invalid(
                    "invalid_input",
                    format!("version: {version:?} is not a semver range ({e}); use e.g. \"<1.2.3\" or \"*\""),
                )
            })?;
            if let Some(sha) = &input.sha256
                && !(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            {
                return Err(Error::invalid(
                    "invalid_input",
                    "sha256: give the component's SHA-256 as 64 lower-case hex digits (`component_sha256` in the catalog)",
                ));
            }
            Ok((Some(plugin), Some(version), input.sha256, None, reason))
        }
        (None, Some(key_id)) => {
            if input.version.is_some() || input.sha256.is_some() {
                return Err(Error::invalid("invalid_input", "a key revocation takes only key_id and reason"));
            }
            let key_id = KeyId::parse(&key_id).map_err(|e| Error::invalid("invalid_input", format!("key_id: {e}")))?;
            Ok((None, None, None, Some(key_id.to_string()), reason))
        }
        _ => Err(Error::invalid(
            "invalid_input",
            "give either plugin (with version and optionally sha256) or key_id, with a reason",
        )),
    }
}

/// Adds a revocation and issues the next list.
pub async fn revoke(state: &AppState, input: RevocationInput) -> Result<Revoked> {
    let (plugin, version, sha256, key_id, reason) = check(input)?;
    let mut tx = state.store.begin_write().await?;
    if state.store.backend() == Backend::Postgres {
        // One list per number: writers on several nodes take turns (SQLite's write
        // transaction already does this).
        sqlx::query("LOCK TABLE revocation_lists IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
    }
    sqlx::query(
        "INSERT INTO revocations (plugin_id, version, sha256, key_id, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(plugin)
    .bind(version)
    .bind(sha256)
    .bind(key_id)
    .bind(reason)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM revocation_lists").fetch_one(&mut *tx).await?;
    let seq = u64::try_from(last.unwrap_or(0) + 1).map_err(|e| Error::Internal(e.to_string()))?;
    let list = entries(&mut *tx, seq).await?;
    let envelope = list.sign(&state.root_key).map_err(|e| Error::invalid(e.code(), e.to_string()))?;
    sqlx::query("INSERT INTO revocation_lists (seq, issued_at, envelope) VALUES ($1, $2, $3)")
        .bind(seq as i64)
        .bind(now_ms())
        .bind(&envelope)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let list = serde_json::from_str(&envelope).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Revoked { seq, list })
}

/// The newest signed list.
pub async fn current_list(state: &AppState) -> Result<String> {
    let envelope: Option<String> =
        sqlx::query_scalar("SELECT envelope FROM revocation_lists ORDER BY seq DESC LIMIT 1")
            .fetch_optional(state.store.pool())
            .await?;
    envelope.ok_or_else(|| Error::Internal("there is no revocation list; the server did not start properly".into()))
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/revocations", get(get_list).post(post_revocation))
}

async fn get_list(State(state): State<AppState>) -> ApiResult<Response> {
    let envelope = current_list(&state).await?;
    let mut resp = envelope.into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // A host must always see the newest list: a cached old one would let a revoked plugin run.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

async fn post_revocation(
    State(state): State<AppState>,
    _operator: OperatorCaller,
    Json(input): Json<RevocationInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(revoke(&state, input).await?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(plugin: Option<&str>, version: Option<&str>, key_id: Option<&str>) -> RevocationInput {
        RevocationInput {
            plugin: plugin.map(str::to_owned),
            version: version.map(str::to_owned),
            sha256: None,
            key_id: key_id.map(str::to_owned),
            reason: "leaks data".into(),
        }
    }

    #[test]
    fn a_revocation_names_a_plugin_range_or_a_key() {
        let (plugin, version, ..) = check(input(Some("tiny"), None, None)).expect("every version");
        assert_eq!((plugin.as_deref(), version.as_deref()), (Some("tiny"), Some("*")));
        assert!(check(input(Some("tiny"), Some("<1.2.3"), None)).is_ok());
        assert!(check(input(None, None, Some("0123456789abcdef"))).is_ok());
        for bad in [
            input(None, None, None),
            input(Some("tiny"), None, Some("0123456789abcdef")),
            input(Some("tiny"), Some("not a range"), None),
            input(Some("Not An Id"), None, None),
            input(None, None, Some("ABC")),
            input(None, Some("*"), Some("0123456789abcdef")),
        ] {
            assert!(check(bad).is_err());
        }
        let mut blank = input(Some("tiny"), None, None);
        blank.reason = "  ".into();
        assert!(check(blank).is_err());
    }
}
