//! A publisher's key and plugin ids, and the certificate the marketplace signs for them: the
//! publisher registers its Ed25519 public key (and may rotate it), claims plugin ids (an id
//! belongs to the first publisher to claim it), and gets a certificate that names its current
//! key and every id it holds, signed by the marketplace's root key.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use serde::{Deserialize, Serialize};
use tessera_host::store::now_ms;
use tessera_package::{PublicKey, Publisher, PublisherCert, Timestamp};

use crate::accounts::PublisherCaller;
use crate::error::{Error, Result};
use crate::web::{ApiResult, AppState, Json};

/// The most plugin ids one publisher holds: what one certificate can list.
pub const MAX_PLUGINS_PER_PUBLISHER: usize = tessera_package::certificate::MAX_CERTIFIED_PLUGINS;

/// Plugin ids as manifests write them: 2 to 40 lower-case letters, digits and dashes, starting
/// with a letter and not ending with a dash.
pub fn is_plugin_id(s: &str) -> bool {
    (2..=40).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-')
}

/// The publisher's current key, if it registered one.
pub async fn current_key(state: &AppState, publisher: &str) -> Result<Option<PublicKey>> {
    let text: Option<Option<String>> = sqlx::query_scalar("SELECT public_key FROM publishers WHERE id = $1")
        .bind(publisher)
        .fetch_optional(state.store.pool())
        .await?;
    let Some(Some(text)) = text else { return Ok(None) };
    PublicKey::parse(&text).map(Some).map_err(|e| Error::Internal(format!("a stored key does not read: {e}")))
}

/// The plugin ids a publisher holds, in order.
pub async fn plugins_of(state: &AppState, publisher: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT id FROM plugins WHERE publisher_id = $1 ORDER BY id")
        .bind(publisher)
        .fetch_all(state.store.pool())
        .await?)
}

/// A certificate for the publisher's current key and every plugin id it holds.
pub async fn certificate(state: &AppState, publisher: &str) -> Result<PublisherCert> {
    let key = current_key(state, publisher).await?.ok_or_else(|| {
        Error::conflict("no_key", "register your public key first with PUT /api/v1/publishers/me/key")
    })?;
    let plugins = plugins_of(state, publisher).await?;
    if plugins.is_empty() {
        return Err(Error::conflict(
            "no_plugins",
            "a certificate lists the plugin ids you hold, and you hold none: claim one with POST \
             /api/v1/publishers/me/plugins",
        ));
    }
    let issued_at = Timestamp::from_millisecond(now_ms()).map_err(|e| Error::Internal(e.to_string()))?;
    let publisher = Publisher { id: publisher.to_owned(), key, plugins, issued_at };
    PublisherCert::issue(&publisher, &state.root_key).map_err(|e| Error::Internal(e.to_string()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyInput {
    /// `tessera-public-key-v1:…`
    pub public_key: String,
}

#[derive(Debug, Serialize)]
pub struct KeyRegistered {
    pub key_id: String,
    /// A certificate for the new key, when the publisher holds plugin ids.
    pub certificate: Option<String>,
}

/// Registers `text` as the publisher's current key. A key belongs to one publisher; a key the
/// marketplace revoked is refused.
pub async fn register_key(state: &AppState, publisher: &str, text: &str) -> Result<KeyRegistered> {
    let key = PublicKey::parse(text).map_err(|e| Error::invalid("invalid_key", e.to_string()))?;
    let key_id = key.key_id();
    let revocations = crate::revocations::current_entries(state).await?;
    if let Some(revoked) = revocations.is_key_revoked(&key_id) {
        return Err(Error::invalid(
            "revoked_key",
            format!(
                "key {key_id} was revoked by the marketplace ({}); generate a new key pair and register that",
                revoked.reason
            ),
        ));
    }
    let mut tx = state.store.begin_write().await?;
    let owner: Option<String> = sqlx::query_scalar("SELECT publisher_id FROM publisher_keys WHERE key_id = $1")
        .bind(key_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    match owner {
        Some(owner) if owner != publisher => {
            return Err(Error::conflict(
                "key_taken",
                format!("key {key_id} is registered to another publisher; generate a key pair of your own"),
            ));
        }
        Some(_) => {}
        None => {
            sqlx::query(
                "INSERT INTO publisher_keys (key_id, publisher_id, public_key, registered_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(key_id.as_str())
            .bind(publisher)
            .bind(key.to_text())
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(|e| Error::from_db(e, "key_taken", format!("key {key_id} is registered to another publisher")))?;
        }
    }
    sqlx::query("UPDATE publishers SET public_key = $1, key_id = $2 WHERE id = $3")
        .bind(key.to_text())
        .bind(key_id.as_str())
        .bind(publisher)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let certificate = if plugins_of(state, publisher).await?.is_empty() {
        None
    } else {
        Some(certificate(state, publisher).await?.to_text())
    };
    Ok(KeyRegistered { key_id: key_id.to_string(), certificate })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimInput {
    pub id: String,
}

#[derive(Debug, Serialize)]
pub struct Claimed {
    pub plugin: String,
    /// A certificate listing every plugin id the publisher now holds.
    pub certificate: String,
}

/// Claims a plugin id for the publisher; claiming one it already holds changes nothing.
/// Returns whether the id is new to the publisher, and a fresh certificate.
pub async fn claim(state: &AppState, publisher: &str, id: &str) -> Result<(bool, Claimed)> {
    if !is_plugin_id(id) {
        return Err(Error::invalid(
            "invalid_input",
            "id: use 2 to 40 lower-case letters, digits and dashes, starting with a letter, as plugin.toml's \
             plugin.id",
        ));
    }
    if current_key(state, publisher).await?.is_none() {
        return Err(Error::conflict("no_key", "register your public key first with PUT /api/v1/publishers/me/key"));
    }
    let holder: Option<String> = sqlx::query_scalar("SELECT publisher_id FROM plugins WHERE id = $1")
        .bind(id)
        .fetch_optional(state.store.pool())
        .await?;
    let taken =
        || Error::conflict("plugin_taken", format!("plugin id {id:?} belongs to another publisher; choose another id"));
    let new = match holder {
        Some(holder) if holder == publisher => false,
        Some(_) => return Err(taken()),
        None => {
            if plugins_of(state, publisher).await?.len() >= MAX_PLUGINS_PER_PUBLISHER {
                return Err(Error::conflict(
                    "too_many_plugins",
                    format!("a publisher holds at most {MAX_PLUGINS_PER_PUBLISHER} plugin ids"),
                ));
            }
            sqlx::query("INSERT INTO plugins (id, publisher_id, claimed_at) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(publisher)
                .bind(now_ms())
                .execute(state.store.pool())
                .await
                .map_err(|e| {
                    Error::from_db(e, "plugin_taken", format!("plugin id {id:?} was just claimed by another publisher"))
                })?;
            true
        }
    };
    let certificate = certificate(state, publisher).await?.to_text();
    Ok((new, Claimed { plugin: id.to_owned(), certificate }))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/publishers/me/key", put(put_key))
        .route("/api/v1/publishers/me/plugins", post(post_claim))
        .route("/api/v1/publishers/me/certificate", get(get_certificate))
}

async fn put_key(
    State(state): State<AppState>,
    PublisherCaller(publisher): PublisherCaller,
    Json(input): Json<KeyInput>,
) -> ApiResult<Json<KeyRegistered>> {
    Ok(Json(register_key(&state, &publisher, &input.public_key).await?))
}

async fn post_claim(
    State(state): State<AppState>,
    PublisherCaller(publisher): PublisherCaller,
    Json(input): Json<ClaimInput>,
) -> ApiResult<impl IntoResponse> {
    let (new, claimed) = claim(&state, &publisher, &input.id).await?;
    Ok((if new { StatusCode::CREATED } else { StatusCode::OK }, Json(claimed)))
}

#[derive(Debug, Serialize)]
struct CertificateBody {
    certificate: String,
    key_id: String,
    plugins: Vec<String>,
}

async fn get_certificate(
    State(state): State<AppState>,
    PublisherCaller(publisher): PublisherCaller,
) -> ApiResult<Json<CertificateBody>> {
    let cert = certificate(&state, &publisher).await?;
    let says = cert.unverified_publisher().map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Json(CertificateBody {
        certificate: cert.to_text(),
        key_id: says.key.key_id().to_string(),
        plugins: says.plugins,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_ids_are_what_manifests_accept() {
        for good in ["tiny", "public-pool", "a1", "crm-2"] {
            assert!(is_plugin_id(good), "{good}");
        }
        for bad in ["", "a", "Tiny", "1pool", "pool-", "pool_x", "pool x", &"a".repeat(41)] {
            assert!(!is_plugin_id(bad), "{bad}");
        }
    }
}
