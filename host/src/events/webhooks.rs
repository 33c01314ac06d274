//! Outbound webhooks: the endpoints an organisation's administrator configures, and how an
//! event is signed and sent to one, per the Standard Webhooks specification
//! (<https://www.standardwebhooks.com>).
//!
//! Every request carries `webhook-id` (the same for every attempt at one event, so a receiver
//! can drop repeats), `webhook-timestamp` (Unix seconds) and `webhook-signature`: `v1,` and the
//! base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`, keyed with the endpoint's secret
//! (`whsec_` and the base64 of 32 random bytes). The body is
//! `{"type": topic, "timestamp": RFC 3339, "data": payload}`. An event a plugin published once
//! per key (`events.publish-once`) also carries that key in `idempotency-key`.

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sqlx::Row;
use utoipa::ToSchema;

use crate::audit::AuditEntry;
use crate::error::{Error, Result};
use crate::store::{Id, Store, now_ms};
use crate::timefmt::rfc3339;

/// A configured endpoint, as the API shows it (the secret only on creation and rotation).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Endpoint {
    pub id: Id,
    pub url: String,
    pub description: String,
    /// The topics sent, e.g. `["customer.*", "contact.created"]`; `["*"]` for every event.
    pub topics: Vec<String>,
    pub enabled: bool,
    /// Why the host stopped sending, e.g. the endpoint answered 410 Gone.
    pub disabled_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// An endpoint with its signing secret (returned once, when made or rotated).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_…`: give it to the receiver to verify signatures.
    pub secret: String,
}

/// A new endpoint.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// `https://…` (or `http://` for a receiver on a private network).
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// Topics to send; default every event.
    #[serde(default)]
    pub topics: Option<Vec<String>>,
}

/// Changes to an endpoint; fields left out stay.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub description: Option<String>,
    pub topics: Option<Vec<String>>,
    /// `true` sends again (after a 410, say); `false` stops sending and keeps the queue.
    pub enabled: Option<bool>,
}

const COLUMNS: &str = "id, url, description, topics, enabled, disabled_reason, created_at, updated_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Endpoint> {
    let topics: String = r.try_get(3)?;
    let enabled: i64 = r.try_get(4)?;
    Ok(Endpoint {
        id: r.try_get(0)?,
        url: r.try_get(1)?,
        description: r.try_get(2)?,
        topics: topics.split(',').map(str::to_owned).collect(),
        enabled: enabled != 0,
        disabled_reason: r.try_get(5)?,
        created_at: rfc3339(r.try_get(6)?),
        updated_at: rfc3339(r.try_get(7)?),
    })
}

/// Checks a URL: absolute http(s) with a host, without credentials, at most 2,000 characters.
fn check_url(url: &str) -> Result<String> {
    let url = url.trim();
    let bad = |why: &str| Error::invalid("url", format!("{url:?} {why}"));
    if url.len() > 2000 {
        return Err(bad("is longer than 2,000 characters"));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("must start with https:// (or http:// for a private network)"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || authority.chars().any(char::is_whitespace) {
        return Err(bad("needs a host name, and no user name or password in it"));
    }
    if url.chars().any(char::is_control) {
        return Err(bad("contains control characters"));
    }
    Ok(url.to_owned())
}

/// Checks topics: `*`, a topic such as `customer.created`, or a family such as `customer.*`.
fn check_topics(topics: Option<Vec<String>>) -> Result<String> {
    let topics = topics.unwrap_or_else(|| vec!["*".into()]);
    if topics.is_empty() || topics.len() > 50 {
        return Err(Error::invalid("topics", "name 1 to 50 topics, or [\"*\"] for every event"));
    }
    let mut out: Vec<String> = Vec::new();
    for t in topics {
        let t = t.trim().to_owned();
        let ok = t == "*"
            || (!t.is_empty()
                && t.len() <= 100
                && t.split('.').all(|part| {
                    // Plugins' ids have dashes: `orders-to-erp.order.approved`.
                    part == "*"
                        || (!part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c)))
                }));
        if !ok {
            return Err(Error::invalid(
                "topics",
                format!(
                    "{t:?} is not a topic: write `*`, `customer.created`, `customer.*` or a plugin's `orders-to-erp.*`"
                ),
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out.join(","))
}

/// Whether a topic list (as stored) takes `topic`.
pub fn topics_match(topics: &str, topic: &str) -> bool {
    topics.split(',').any(|pattern| {
        pattern == "*"
            || pattern == topic
            || pattern.strip_suffix(".*").is_some_and(|family| topic.split('.').next() == Some(family))
    })
}

/// A fresh signing secret.
fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key))
}

/// The organisation's endpoints.
pub async fn list(store: &Store, org_id: Id) -> Result<Vec<Endpoint>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE org_id = $1 ORDER BY id"
    )))
    .bind(org_id)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// One endpoint of the organisation.
pub async fn get(store: &Store, org_id: Id, id: Id) -> Result<Endpoint> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE org_id = $1 AND id = $2"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(store.pool())
    .await?
    .ok_or(Error::NotFound("webhook endpoint"))?;
    from_row(&row)
}

/// Adds an endpoint and returns it with its secret.
pub async fn create(store: &Store, org_id: Id, actor: Id, new: &NewEndpoint) -> Result<EndpointWithSecret> {
    let url = check_url(&new.url)?;
    let topics = check_topics(new.topics.clone())?;
    if new.description.chars().count() > 500 {
        return Err(Error::invalid("description", "a description is at most 500 characters"));
    }
    let secret = new_secret();
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    let id: Id = sqlx::query_scalar(
        "INSERT INTO webhook_endpoints (org_id, url, description, topics, secret, enabled, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7) RETURNING id",
    )
    .bind(org_id)
    .bind(&url)
    .bind(new.description.trim())
    .bind(&topics)
    .bind(&secret)
    .bind(actor)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    AuditEntry::new(org_id, Some(actor), "webhook.created")
        .target("webhook_endpoint", id)
        .detail(serde_json::json!({ "url": url, "topics": topics }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(EndpointWithSecret { endpoint: get(store, org_id, id).await?, secret })
}

/// Changes an endpoint. Enabling it again clears why it was disabled.
pub async fn update(store: &Store, org_id: Id, actor: Id, id: Id, patch: &EndpointPatch) -> Result<Endpoint> {
    let before = get(store, org_id, id).await?;
    let url = patch.url.as_deref().map(check_url).transpose()?.unwrap_or(before.url);
    let topics = match &patch.topics {
        Some(t) => check_topics(Some(t.clone()))?,
        None => before.topics.join(","),
    };
    let description = patch.description.clone().unwrap_or(before.description);
    if description.chars().count() > 500 {
        return Err(Error::invalid("description", "a description is at most 500 characters"));
    }
    let enabled = patch.enabled.unwrap_or(before.enabled);
    let reason =
        if enabled { None } else { before.disabled_reason.or_else(|| Some("disabled by an administrator".into())) };
    let mut tx = store.begin_write().await?;
    sqlx::query(
        "UPDATE webhook_endpoints SET url = $3, description = $4, topics = $5, enabled = $6, disabled_reason = $7, \
         updated_at = $8 WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id)
    .bind(id)
    .bind(&url)
    .bind(description.trim())
    .bind(&topics)
    .bind(i64::from(enabled))
    .bind(reason)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    AuditEntry::new(org_id, Some(actor), "webhook.updated")
        .target("webhook_endpoint", id)
        .detail(serde_json::json!({ "url": url, "topics": topics, "enabled": enabled }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    get(store, org_id, id).await
}

/// Removes an endpoint with its deliveries and their log.
pub async fn delete(store: &Store, org_id: Id, actor: Id, id: Id) -> Result<()> {
    let before = get(store, org_id, id).await?;
    let mut tx = store.begin_write().await?;
    sqlx::query(
        "DELETE FROM delivery_attempts WHERE delivery_id IN \
         (SELECT id FROM deliveries WHERE org_id = $1 AND endpoint_id = $2)",
    )
    .bind(org_id)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM deliveries WHERE org_id = $1 AND endpoint_id = $2")
        .bind(org_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM webhook_endpoints WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    AuditEntry::new(org_id, Some(actor), "webhook.deleted")
        .target("webhook_endpoint", id)
        .detail(serde_json::json!({ "url": before.url }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces an endpoint's secret and returns the new one; requests signed from now on use it.
pub async fn rotate_secret(store: &Store, org_id: Id, actor: Id, id: Id) -> Result<EndpointWithSecret> {
    get(store, org_id, id).await?;
    let secret = new_secret();
    let mut tx = store.begin_write().await?;
    sqlx::query("UPDATE webhook_endpoints SET secret = $3, updated_at = $4 WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(id)
        .bind(&secret)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    AuditEntry::new(org_id, Some(actor), "webhook.secret_rotated")
        .target("webhook_endpoint", id)
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(EndpointWithSecret { endpoint: get(store, org_id, id).await?, secret })
}

/// The signature header value for a message: `v1,` and the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` keyed with the secret's bytes.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> Result<String> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|_| Error::Internal("a webhook secret is not base64".into()))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| Error::Internal(e.to_string()))?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    Ok(format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())))
}

/// The message id of an event: the same for every attempt and every redelivery.
pub fn message_id(event_id: Id) -> String {
    format!("evt_{event_id}")
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered { status: u16 },
    /// 410 Gone: the receiver asks not to be sent anything more.
    Gone,
    /// Any other answer, or none; `retry_after` when the receiver named a time.
    Failed { status: Option<u16>, error: String, retry_after: Option<Duration> },
}

/// Reads `Retry-After`: seconds, or an HTTP date.
pub fn retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let secs = when.as_second() - now.as_second();
    Some(Duration::from_secs(secs.max(0).unsigned_abs()))
}

/// What became of one attempt, and the beginning of the receiver's answer.
pub type Attempted = (Outcome, Option<String>);

/// How much of a receiver's answer the delivery log keeps.
pub const RESPONSE_KEPT: usize = 1024;
/// How much of an answer is read at most (so the connection can be used again); the rest is
/// not waited for.
const RESPONSE_READ: usize = 64 * 1024;

/// The beginning of an answer's body (up to [`RESPONSE_KEPT`] bytes, as text), read for at
/// most two seconds.
async fn response_excerpt(mut response: reqwest::Response) -> Option<String> {
    let mut kept = Vec::new();
    let read = async {
        let mut total = 0;
        while let Ok(Some(chunk)) = response.chunk().await {
            let room = RESPONSE_KEPT.saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            total += chunk.len();
            if total > RESPONSE_READ {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), read).await;
    if kept.is_empty() {
        return None;
    }
    // A character cut at the limit is dropped rather than shown broken.
    let text = match std::str::from_utf8(&kept) {
        Ok(text) => text.to_owned(),
        Err(e) if e.error_len().is_none() => String::from_utf8_lossy(&kept[..e.valid_up_to()]).into_owned(),
        Err(_) => String::from_utf8_lossy(&kept).into_owned(),
    };
    Some(text)
}

/// Sends one event to one endpoint: what became of it, and the beginning of the answer.
pub async fn send(
    client: &reqwest::Client,
    url: reqwest::Url,
    secret: &str,
    event_id: Id,
    idempotency_key: Option<&str>,
    body: &str,
) -> Result<Attempted> {
    let msg_id = message_id(event_id);
    let timestamp = jiff::Timestamp::now().as_second();
    let signature = sign(secret, &msg_id, timestamp, body)?;
    let mut request = client.post(url);
    if let Some(key) = idempotency_key {
        request = request.header("idempotency-key", key);
    }
    let sent = request
        .header("content-type", "application/json")
        .header("user-agent", concat!("Tessera-Webhooks/", env!("CARGO_PKG_VERSION")))
        .header("webhook-id", &msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            let error =
                if e.is_timeout() { "no answer in time".to_owned() } else { format!("cannot reach the endpoint: {e}") };
            return Ok((Outcome::Failed { status: None, error, retry_after: None }, None));
        }
    };
    let status = response.status().as_u16();
    let wait = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after(v, jiff::Timestamp::now()));
    let excerpt = response_excerpt(response).await;
    let outcome = match status {
        200..=299 => Outcome::Delivered { status },
        410 => Outcome::Gone,
        _ => Outcome::Failed {
            status: Some(status),
            error: format!("the endpoint answered {status}"),
            retry_after: wait,
        },
    };
    Ok((outcome, excerpt))
}

/// The request body of an event.
pub fn body(topic: &str, created_at_ms: i64, payload: &str) -> String {
    let data: serde_json::Value = serde_json::from_str(payload).unwrap_or(serde_json::Value::Null);
    serde_json::json!({ "type": topic, "timestamp": rfc3339(created_at_ms), "data": data }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        let sig = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).expect("signed");
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn topics_take_exact_names_families_and_everything() {
        assert!(topics_match("*", "customer.created"));
        assert!(topics_match("customer.*", "customer.merged"));
        assert!(!topics_match("customer.*", "contact.created"));
        assert!(topics_match("contact.created,activity.created", "activity.created"));
        assert!(!topics_match("contact.created", "contact.deleted"));
        assert!(topics_match("orders-to-erp.*", "orders-to-erp.order.approved"), "a plugin's family");
    }

    #[test]
    fn bad_urls_and_topics_are_refused_with_a_reason() {
        assert!(check_url("https://erp.example.com/hooks?x=1").is_ok());
        assert!(check_url("http://10.0.0.5:8080/in").is_ok());
        for bad in ["ftp://x", "https://", "https://user:pw@host/", "erp.example.com", "https://a b/"] {
            assert!(matches!(check_url(bad), Err(Error::Invalid { .. })), "{bad}");
        }
        assert_eq!(check_topics(None).ok().as_deref(), Some("*"));
        assert_eq!(
            check_topics(Some(vec!["customer.*".into(), "customer.*".into()])).ok().as_deref(),
            Some("customer.*")
        );
        assert_eq!(check_topics(Some(vec!["orders-to-erp.*".into()])).ok().as_deref(), Some("orders-to-erp.*"));
        for bad in [vec![], vec!["".to_owned()], vec!["customer created".to_owned()], vec!["a..b".to_owned()]] {
            assert!(matches!(check_topics(Some(bad.clone())), Err(Error::Invalid { .. })), "{bad:?}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now: jiff::Timestamp = "2026-11-30T12:00:00Z".parse().expect("time");
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("Mon, 30 Nov 2026 12:01:00 GMT", now), Some(Duration::from_secs(60)));
        assert_eq!(retry_after("soon", now), None);
    }
}
