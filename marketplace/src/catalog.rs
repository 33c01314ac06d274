//! The catalog: listings (a publisher puts a plugin on sale in a category, free, one-off or by
//! subscription) and what anyone can find in it — search over ids, names and descriptions in
//! both languages, the versions a host of a given plugin API can run, what each version
//! requests, and its price. The JSON API and the web pages read it through the same functions.

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, put};
use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use tessera_host::runtime::manifest::Localized;
use tessera_host::store::{SqlBuf, escape_like, now_ms};
use tessera_package::{LicenseKind, RevocationList, Timestamp};

use crate::accounts::PublisherCaller;
use crate::error::{Error, Result};
use crate::publishers::is_plugin_id;
use crate::web::{ApiResult, AppState, Json, Path, Query};

/// The categories a plugin is listed under.
pub const CATEGORIES: &[&str] = &["crm", "sales", "service", "collaboration", "hr", "integration", "other"];

/// The largest price, in minor units (cents, fen).
pub const MAX_PRICE_CENTS: i64 = 100_000_000_000;

/// The longest subscription period.
pub const MAX_PERIOD_DAYS: i64 = 3660;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Crm,
    Sales,
    Service,
    Collaboration,
    Hr,
    Integration,
    Other,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Crm => "crm",
            Category::Sales => "sales",
            Category::Service => "service",
            Category::Collaboration => "collaboration",
            Category::Hr => "hr",
            Category::Integration => "integration",
            Category::Other => "other",
        }
    }
}

/// `PUT /api/v1/plugins/{id}/listing`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListingInput {
    pub category: Category,
    pub kind: LicenseKind,
    /// In minor units (cents, fen); 0 or absent for a free plugin.
    pub price_cents: Option<i64>,
    /// ISO 4217, e.g. `CNY`, `USD`; for paid plugins.
    pub currency: Option<String>,
    /// The length of a subscription's paid period.
    pub period_days: Option<i64>,
    /// Days a subscription keeps working after it expires (0 to 365).
    pub grace_days: Option<i64>,
}

/// What a plugin costs and how it is licensed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Price {
    pub kind: LicenseKind,
    pub price_cents: i64,
    pub currency: Option<String>,
    pub period_days: Option<i64>,
    pub grace_days: i64,
}

pub fn kind_name(kind: LicenseKind) -> &'static str {
    match kind {
        LicenseKind::Free => "free",
        LicenseKind::OneOff => "one-off",
        LicenseKind::Subscription => "subscription",
    }
}

fn check_listing(input: &ListingInput) -> Result<Price> {
    let bad = |m: &str| Error::invalid("invalid_input", m.to_owned());
    let grace_days = input.grace_days.unwrap_or(0);
    if !(0..=i64::from(tessera_package::license::MAX_GRACE_DAYS)).contains(&grace_days) {
        return Err(bad("grace_days: give 0 to 365 days"));
    }
    if input.kind == LicenseKind::Free {
        if input.price_cents.unwrap_or(0) != 0 || input.period_days.is_some() || grace_days != 0 {
            return Err(bad("a free listing has no price_cents, period_days or grace_days"));
        }
        return Ok(Price { kind: LicenseKind::Free, price_cents: 0, currency: None, period_days: None, grace_days: 0 });
    }
    let price_cents = input.price_cents.unwrap_or(0);
    if !(1..=MAX_PRICE_CENTS).contains(&price_cents) {
        return Err(bad(
            "price_cents: a paid listing costs 1 or more minor units (cents, fen); list it as free otherwise",
        ));
    }
    let currency = input.currency.as_deref().unwrap_or_default();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad("currency: give an ISO 4217 code in capitals, such as \"CNY\" or \"USD\""));
    }
    let period_days = match (input.kind, input.period_days) {
        (LicenseKind::Subscription, Some(days)) if (1..=MAX_PERIOD_DAYS).contains(&days) => Some(days),
        (LicenseKind::Subscription, _) => {
            return Err(bad("period_days: a subscription is paid for 1 to 3660 days at a time"));
        }
        (_, Some(_)) => return Err(bad("period_days is for subscriptions; a one-off purchase does not expire")),
        (_, None) => None,
    };
    if input.kind == LicenseKind::OneOff && grace_days != 0 {
        return Err(bad("grace_days is for subscriptions; a one-off purchase does not expire"));
    }
    Ok(Price { kind: input.kind, price_cents, currency: Some(currency.to_owned()), period_days, grace_days })
}

/// The publisher of `plugin` puts it on sale, or changes its listing.
pub async fn set_listing(state: &AppState, publisher: &str, plugin: &str, input: &ListingInput) -> Result<Listing> {
    let price = check_listing(input)?;
    let holder: Option<String> = if is_plugin_id(plugin) {
        sqlx::query_scalar("SELECT publisher_id FROM plugins WHERE id = $1")
            .bind(plugin)
            .fetch_optional(state.store.pool())
            .await?
    } else {
        None
    };
    match holder {
        Some(holder) if holder == publisher => {}
        Some(_) => {
            return Err(Error::forbidden("plugin_taken", format!("plugin id {plugin:?} belongs to another publisher")));
        }
        None => {
            return Err(Error::forbidden(
                "not_claimed",
                format!("you do not hold plugin id {plugin:?}: claim it with POST /api/v1/publishers/me/plugins"),
            ));
        }
    }
    sqlx::query(
        "UPDATE plugins SET category = $1, kind = $2, price_cents = $3, currency = $4, period_days = $5, \
         grace_days = $6, listed_at = $7 WHERE id = $8",
    )
    .bind(input.category.as_str())
    .bind(kind_name(price.kind))
    .bind(price.price_cents)
    .bind(price.currency.as_deref())
    .bind(price.period_days)
    .bind(price.grace_days)
    .bind(now_ms())
    .bind(plugin)
    .execute(state.store.pool())
    .await?;
    Ok(Listing { plugin: plugin.to_owned(), category: input.category.as_str().to_owned(), price })
}

#[derive(Debug, Serialize)]
pub struct Listing {
    pub plugin: String,
    pub category: String,
    #[serde(flatten)]
    pub price: Price,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublisherRef {
    pub id: String,
    pub name: String,
}

/// A plugin as the catalog lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PluginSummary {
    pub id: String,
    pub name: Localized,
    pub description: Localized,
    pub publisher: PublisherRef,
    pub category: String,
    pub price: Price,
    /// The highest version that is not revoked (and, when a host API was given, runs on it).
    pub latest_version: Option<String>,
    /// Its plugin API range.
    pub api: Option<String>,
    /// The capabilities it requests.
    pub capabilities: Vec<String>,
    /// Whether a host needs a license token to run it.
    pub license_required: bool,
}

/// One published version.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub version: String,
    pub api: String,
    pub capabilities: Vec<String>,
    /// Hex SHA-256 of the `.tpkg` file.
    pub sha256: String,
    /// Hex SHA-256 of its component (what revocations name a build by).
    pub component_sha256: String,
    pub size: i64,
    pub license_required: bool,
    pub changelog: Option<String>,
    pub published_at: String,
    pub revoked: bool,
    pub revoked_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PluginDetail {
    #[serde(flatten)]
    pub summary: PluginSummary,
    /// Every version, newest first.
    pub versions: Vec<VersionInfo>,
}

/// What the catalog is searched by.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CatalogQuery {
    /// Words of the id, the names or the descriptions, in either language.
    pub q: Option<String>,
    pub category: Option<String>,
    /// A host's plugin API version, e.g. `0.1.4`: only versions that run on it.
    pub api: Option<String>,
}

/// A checked [`CatalogQuery`].
#[derive(Debug, Default)]
pub struct Search {
    pub q: Option<String>,
    pub category: Option<Category>,
    pub api: Option<Version>,
}

impl CatalogQuery {
    pub fn check(&self) -> Result<Search> {
        let q = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(str::to_owned);
        if let Some(q) = &q
            && (q.chars().count() > 100 || q.contains('\0'))
        {
            return Err(Error::invalid("invalid_query", "q: search for at most 100 characters"));
        }
        let category = match self.category.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(serde_json::from_value(serde_json::Value::String(c.to_owned())).map_err(|_| {
                Error::invalid("invalid_query", format!("category: use one of {}", CATEGORIES.join(", ")))
            })?),
        };
        let api = match self.api.as_deref().filter(|a| !a.is_empty()) {
            None => None,
            Some(a) => Some(Version::parse(a.trim()).map_err(|_| {
                Error::invalid("invalid_query", "api: give the host's plugin API version, such as 0.1.4")
            })?),
        };
        Ok(Search { q, category, api })
    }
}

/// A listed plugin's row.
#[derive(Debug, sqlx::FromRow)]
struct PluginRow {
    id: String,
    publisher_id: String,
    publisher_name: String,
    name_zh: Option<String>,
    name_en: Option<String>,
    description_zh: Option<String>,
    description_en: Option<String>,
    category: Option<String>,
    kind: Option<String>,
    price_cents: Option<i64>,
    currency: Option<String>,
    period_days: Option<i64>,
    grace_days: Option<i64>,
}

#[derive(Debug, sqlx::FromRow)]
struct VersionRow {
    plugin_id: String,
    version: String,
    api: String,
    capabilities: String,
    sha256: String,
    component_sha256: String,
    key_id: String,
    size: i64,
    license_required: i64,
    changelog: Option<String>,
    published_at: i64,
}

const PLUGIN_COLUMNS: &str = "SELECT p.id, p.publisher_id, pub.name AS publisher_name, p.name_zh, p.name_en, \
    p.description_zh, p.description_en, p.category, p.kind, p.price_cents, p.currency, p.period_days, p.grace_days \
    FROM plugins p JOIN publishers pub ON pub.id = p.publisher_id \
    WHERE p.listed_at IS NOT NULL AND p.name_zh IS NOT NULL";

fn version_info(row: VersionRow, revocations: &RevocationList) -> Result<(Version, VersionInfo)> {
    let parsed = Version::parse(&row.version).map_err(|e| Error::Internal(format!("a stored version: {e}")))?;
    let key_id = tessera_package::KeyId::parse(&row.key_id).map_err(|e| Error::Internal(e.to_string()))?;
    let revoked_reason =
        revocations.is_revoked(&row.plugin_id, &parsed, &row.component_sha256).map(|r| r.reason.clone()).or_else(
            || revocations.is_key_revoked(&key_id).map(|k| format!("the publisher key was revoked: {}", k.reason)),
        );
    let published_at = Timestamp::from_millisecond(row.published_at).map_err(|e| Error::Internal(e.to_string()))?;
    let info = VersionInfo {
        version: row.version,
        api: row.api,
        capabilities: serde_json::from_str(&row.capabilities).map_err(|e| Error::Internal(e.to_string()))?,
        sha256: row.sha256,
        component_sha256: row.component_sha256,
        size: row.size,
        license_required: row.license_required != 0,
        changelog: row.changelog,
        published_at: published_at.to_string(),
        revoked: revoked_reason.is_some(),
        revoked_reason,
    };
    Ok((parsed, info))
}

fn summary(row: PluginRow, versions: &[(Version, VersionInfo)], api: Option<&Version>) -> Result<PluginSummary> {
    let runs_on = |info: &VersionInfo| match api {
        None => true,
        Some(host) => VersionReq::parse(&info.api).is_ok_and(|range| range.matches(host)),
    };
    let latest = versions.iter().filter(|(_, info)| !info.revoked && runs_on(info)).max_by(|a, b| a.0.cmp(&b.0));
    let kind = crate::purchases::license_kind(row.kind.as_deref().unwrap_or("free"))?;
    Ok(PluginSummary {
        id: row.id,
        name: Localized { zh: row.name_zh.unwrap_or_default(), en: row.name_en.unwrap_or_default() },
        description: Localized {
            zh: row.description_zh.unwrap_or_default(),
            en: row.description_en.unwrap_or_default(),
        },
        publisher: PublisherRef { id: row.publisher_id, name: row.publisher_name },
        category: row.category.unwrap_or_else(|| "other".to_owned()),
        price: Price {
            kind,
            price_cents: row.price_cents.unwrap_or(0),
            currency: row.currency,
            period_days: row.period_days,
            grace_days: row.grace_days.unwrap_or(0),
        },
        latest_version: latest.map(|(_, info)| info.version.clone()),
        api: latest.map(|(_, info)| info.api.clone()),
        capabilities: latest.map(|(_, info)| info.capabilities.clone()).unwrap_or_default(),
        license_required: latest.is_some_and(|(_, info)| info.license_required),
    })
}

async fn versions_of(state: &AppState, plugins: &[String]) -> Result<HashMap<String, Vec<(Version, VersionInfo)>>> {
    let mut out: HashMap<String, Vec<(Version, VersionInfo)>> = HashMap::new();
    if plugins.is_empty() {
        return Ok(out);
    }
    let revocations = crate::revocations::current_entries(state).await?;
    let mut sql = SqlBuf::new(
        "SELECT plugin_id, version, api, capabilities, sha256, component_sha256, key_id, size, license_required, \
         changelog, published_at FROM plugin_versions WHERE plugin_id IN ",
    );
    sql.bind_list(plugins);
    let rows: Vec<VersionRow> = sql.query_as().fetch_all(state.store.pool()).await?;
    for row in rows {
        let plugin = row.plugin_id.clone();
        out.entry(plugin).or_default().push(version_info(row, &revocations)?);
    }
    for versions in out.values_mut() {
        versions.sort_by(|a, b| b.0.cmp(&a.0));
    }
    Ok(out)
}

/// The listed plugins a search finds, by id, each with a version that is not revoked (and
/// runs on the host API asked for).
pub async fn search(state: &AppState, search: &Search) -> Result<Vec<PluginSummary>> {
    let mut sql = SqlBuf::new(PLUGIN_COLUMNS);
    if let Some(category) = search.category {
        sql.push(" AND p.category = ").bind(category.as_str());
    }
    if let Some(q) = &search.q {
        let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
        sql.push(" AND (");
        for (i, column) in ["p.id", "p.name_zh", "p.name_en", "p.description_zh", "p.description_en"].iter().enumerate()
        {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push(&format!("LOWER({column}) LIKE ")).bind(pattern.as_str()).push(" ESCAPE '\\'");
        }
        sql.push(")");
    }
    sql.push(" ORDER BY p.id").limit(1000);
    let rows: Vec<PluginRow> = sql.query_as().fetch_all(state.store.pool()).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut versions = versions_of(state, &ids).await?;
    let mut out = Vec::new();
    for row in rows {
        let of_plugin = versions.remove(&row.id).unwrap_or_default();
        let found = summary(row, &of_plugin, search.api.as_ref())?;
        if found.latest_version.is_some() {
            out.push(found);
        }
    }
    Ok(out)
}

/// A listed plugin with every version; `None` when there is no such plugin in the catalog.
pub async fn detail(state: &AppState, plugin: &str) -> Result<Option<PluginDetail>> {
    if !is_plugin_id(plugin) {
        return Ok(None);
    }
    let mut sql = SqlBuf::new(PLUGIN_COLUMNS);
    sql.push(" AND p.id = ").bind(plugin);
    let Some(row) = sql.query_as::<PluginRow>().fetch_optional(state.store.pool()).await? else { return Ok(None) };
    let versions = versions_of(state, std::slice::from_ref(&row.id)).await?.remove(&row.id).unwrap_or_default();
    let summary = summary(row, &versions, None)?;
    Ok(Some(PluginDetail { summary, versions: versions.into_iter().map(|(_, info)| info).collect() }))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/plugins", get(list_plugins))
        .route("/api/v1/plugins/{id}", get(get_plugin))
        .route("/api/v1/plugins/{id}/listing", put(put_listing))
}

#[derive(Debug, Serialize)]
struct PluginList {
    plugins: Vec<PluginSummary>,
}

async fn list_plugins(State(state): State<AppState>, Query(query): Query<CatalogQuery>) -> ApiResult<Json<PluginList>> {
    let search = query.check().map_err(|e| match e {
        Error::Invalid { code, message } => {
            crate::web::ApiError::new(axum::http::StatusCode::BAD_REQUEST, code, message)
        }
        other => other.into(),
    })?;
    Ok(Json(PluginList { plugins: self::search(&state, &search).await? }))
}

async fn get_plugin(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<PluginDetail>> {
    let found = detail(&state, &id).await?;
    Ok(Json(found.ok_or_else(|| {
        Error::NotFound(format!("there is no plugin {id:?} in the catalog; search with GET /api/v1/plugins?q="))
    })?))
}

async fn put_listing(
    State(state): State<AppState>,
    PublisherCaller(publisher): PublisherCaller,
    Path(id): Path<String>,
    Json(input): Json<ListingInput>,
) -> ApiResult<Json<Listing>> {
    Ok(Json(set_listing(&state, &publisher, &id, &input).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(
        kind: LicenseKind,
        price: Option<i64>,
        currency: Option<&str>,
        period: Option<i64>,
        grace: Option<i64>,
    ) -> ListingInput {
        ListingInput {
            category: Category::Sales,
            kind,
            price_cents: price,
            currency: currency.map(str::to_owned),
            period_days: period,
            grace_days: grace,
        }
    }

    #[test]
    fn a_listing_is_priced_as_its_kind_needs() {
        use LicenseKind::*;
        assert!(check_listing(&listing(Free, None, None, None, None)).is_ok());
        assert!(check_listing(&listing(OneOff, Some(9900), Some("CNY"), None, None)).is_ok());
        let sub = check_listing(&listing(Subscription, Some(3000), Some("USD"), Some(30), Some(7))).expect("valid");
        assert_eq!((sub.period_days, sub.grace_days), (Some(30), 7));
        for bad in [
            listing(Free, Some(100), None, None, None),
            listing(OneOff, None, Some("CNY"), None, None),
            listing(OneOff, Some(100), Some("cny"), None, None),
            listing(OneOff, Some(100), Some("CNY"), Some(30), None),
            listing(Subscription, Some(100), Some("CNY"), None, None),
            listing(Subscription, Some(100), Some("CNY"), Some(30), Some(400)),
            listing(Subscription, Some(-1), Some("CNY"), Some(30), None),
        ] {
            assert!(check_listing(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_search_query_is_checked_before_it_runs() {
        let ok = CatalogQuery { q: Some(" 公海 ".into()), category: Some("sales".into()), api: Some("0.1.4".into()) };
        let search = ok.check().expect("valid");
        assert_eq!((search.q.as_deref(), search.category), (Some("公海"), Some(Category::Sales)));
        for bad in [
            CatalogQuery { category: Some("games".into()), ..Default::default() },
            CatalogQuery { api: Some("^0.1".into()), ..Default::default() },
            CatalogQuery { q: Some("a\0b".into()), ..Default::default() },
            CatalogQuery { q: Some("x".repeat(101)), ..Default::default() },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
