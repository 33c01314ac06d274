//! Purchases and the license tokens they issue. An organisation buys a listed plugin on the
//! listing's terms and gets a token signed by the root key, bound to the organisation and the
//! plugin, which a host checks offline: free and one-off tokens never expire; a subscription
//! runs `period_days` from now, or from the end of the current period when it is bought again
//! while still paid. Payment itself is not handled here: the purchase is recorded with its
//! price.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use tessera_host::store::{Backend, now_ms};
use tessera_package::license::issue;
use tessera_package::{LicenseClaims, LicenseKind, Timestamp};

use crate::accounts::OrgCaller;
use crate::catalog::kind_name;
use crate::error::{Error, Result};
use crate::publishers::is_plugin_id;
use crate::web::{ApiResult, AppState, Json};

/// A stored license kind, read back.
pub fn license_kind(text: &str) -> Result<LicenseKind> {
    match text {
        "free" => Ok(LicenseKind::Free),
        "one-off" => Ok(LicenseKind::OneOff),
        "subscription" => Ok(LicenseKind::Subscription),
        other => Err(Error::Internal(format!("a stored license kind {other:?} is not one"))),
    }
}

fn timestamp(ms: i64) -> Result<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(|e| Error::Internal(e.to_string()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchaseInput {
    pub plugin: String,
}

/// A license token and what it says.
#[derive(Debug, Clone, Serialize)]
pub struct License {
    pub plugin: String,
    /// The token (`tl1.…`) a host installs.
    pub license: String,
    pub kind: LicenseKind,
    pub issued_at: String,
    pub expires_at: Option<String>,
    pub grace_days: i64,
}

/// The listing's terms, as a purchase reads them.
#[derive(Debug, sqlx::FromRow)]
struct Terms {
    kind: Option<String>,
    price_cents: Option<i64>,
    currency: Option<String>,
    period_days: Option<i64>,
    grace_days: Option<i64>,
}

/// `org` buys `plugin` on its listing's terms.
pub async fn purchase(state: &AppState, org: &str, plugin: &str) -> Result<License> {
    let not_listed = || {
        Error::NotFound(format!(
            "there is no plugin {plugin:?} for sale in the catalog; search with GET /api/v1/plugins?q="
        ))
    };
    if !is_plugin_id(plugin) {
        return Err(not_listed());
    }
    let mut tx = state.store.begin_write().await?;
    let terms: Option<Terms> = sqlx::query_as(
        "SELECT kind, price_cents, currency, period_days, grace_days FROM plugins WHERE id = $1 AND listed_at IS NOT NULL",
    )
    .bind(plugin)
    .fetch_optional(&mut *tx)
    .await?;
    let terms = terms.ok_or_else(not_listed)?;
    let kind = license_kind(terms.kind.as_deref().unwrap_or("free"))?;
    let now = now_ms();
    // Two purchases of one subscription at once must not both extend from the same expiry:
    // the second waits for the first (SQLite's write transaction already serialises them).
    let lock = if state.store.backend() == Backend::Postgres { " FOR UPDATE" } else { "" };
    let held: Option<(String, Option<i64>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT kind, expires_at FROM licenses WHERE org_id = $1 AND plugin_id = $2{lock}"
    )))
    .bind(org)
    .bind(plugin)
    .fetch_optional(&mut *tx)
    .await?;
    let expires_at = match (kind, &held) {
        (_, Some((_, None))) => {
            return Err(Error::conflict(
                "already_licensed",
                format!(
                    "this organisation already holds a license for {plugin} that never expires; fetch it with GET \
                     /api/v1/licenses"
                ),
            ));
        }
        (LicenseKind::Subscription, held) => {
            let days = terms.period_days.unwrap_or(0);
            // Bought again while still paid: the new period follows the current one.
            let from = match held {
                Some((_, Some(until))) if *until > now => *until,
                _ => now,
            };
            let from = timestamp(from)?;
            let until = from
                .checked_add(SignedDuration::from_hours(days * 24))
                .map_err(|e| Error::Internal(format!("a subscription period: {e}")))?;
            Some(until)
        }
        _ => None,
    };
    let grace_days = if kind == LicenseKind::Subscription { terms.grace_days.unwrap_or(0) } else { 0 };
    let claims = LicenseClaims {
        org: org.to_owned(),
        plugin: plugin.to_owned(),
        kind,
        issued_at: timestamp(now)?,
        expires_at,
        grace_days: u16::try_from(grace_days).map_err(|e| Error::Internal(e.to_string()))?,
    };
    let token = issue(&claims, &state.root_key).map_err(|e| Error::Internal(e.to_string()))?;
    let expires_ms = expires_at.map(|t| t.as_millisecond());
    sqlx::query(
        "INSERT INTO purchases (org_id, plugin_id, kind, price_cents, currency, period_days, expires_at, purchased_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(org)
    .bind(plugin)
    .bind(kind_name(kind))
    .bind(terms.price_cents.unwrap_or(0))
    .bind(terms.currency)
    .bind(if kind == LicenseKind::Subscription { terms.period_days } else { None })
    .bind(expires_ms)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let sql = if held.is_some() {
        "UPDATE licenses SET kind = $3, token = $4, issued_at = $5, expires_at = $6, grace_days = $7 \
         WHERE org_id = $1 AND plugin_id = $2"
    } else {
        "INSERT INTO licenses (org_id, plugin_id, kind, token, issued_at, expires_at, grace_days) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    };
    sqlx::query(sql)
        .bind(org)
        .bind(plugin)
        .bind(kind_name(kind))
        .bind(&token)
        .bind(now)
        .bind(expires_ms)
        .bind(grace_days)
        .execute(&mut *tx)
        .await
        .map_err(|e| Error::from_db(e, "busy", "another purchase of this plugin was just made; try again"))?;
    tx.commit().await?;
    Ok(License {
        plugin: plugin.to_owned(),
        license: token,
        kind,
        issued_at: claims.issued_at.to_string(),
        expires_at: expires_at.map(|t| t.to_string()),
        grace_days,
    })
}

/// The organisation's current license tokens, one per plugin.
pub async fn licenses(state: &AppState, org: &str) -> Result<Vec<License>> {
    let rows: Vec<(String, String, String, i64, Option<i64>, i64)> = sqlx::query_as(
        "SELECT plugin_id, kind, token, issued_at, expires_at, grace_days FROM licenses WHERE org_id = $1 ORDER BY plugin_id",
    )
    .bind(org)
    .fetch_all(state.store.pool())
    .await?;
    rows.into_iter()
        .map(|(plugin, kind, license, issued_at, expires_at, grace_days)| {
            Ok(License {
                plugin,
                license,
                kind: license_kind(&kind)?,
                issued_at: timestamp(issued_at)?.to_string(),
                expires_at: expires_at.map(timestamp).transpose()?.map(|t| t.to_string()),
                grace_days,
            })
        })
        .collect()
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/purchases", post(post_purchase)).route("/api/v1/licenses", get(get_licenses))
}

async fn post_purchase(
    State(state): State<AppState>,
    OrgCaller(org): OrgCaller,
    Json(input): Json<PurchaseInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(purchase(&state, &org, &input.plugin).await?)))
}

#[derive(Debug, Serialize)]
struct Licenses {
    licenses: Vec<License>,
}

async fn get_licenses(State(state): State<AppState>, OrgCaller(org): OrgCaller) -> ApiResult<Json<Licenses>> {
    Ok(Json(Licenses { licenses: licenses(&state, &org).await? }))
}
