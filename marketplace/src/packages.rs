//! Uploads and downloads of `.tpkg` packages. An upload is checked in the order a host would
//! refuse it, plus what only the registry knows (who holds the plugin id, which key is the
//! publisher's now, which versions exist), and stored whole: its bytes are what every host
//! downloads and verifies.
//!
//! The bytes live in the database (`package_blobs`), not in the data directory: a version's
//! row and its bytes commit together or not at all, a backup of the database is a backup of
//! the registry, and several registry nodes on one PostgreSQL serve every package without a
//! shared file system. A package is at most 50 MiB, which both backends store as a blob.

use axum::Router;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use semver::Version;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tessera_host::runtime::manifest::{HOST_API_VERSION, Manifest};
use tessera_host::runtime::package::{api_use, check_capabilities, read};
use tessera_host::store::now_ms;
use tessera_package::{LicenseClaims, Refusal, SignedBy, Timestamp, Tpkg};

use crate::accounts::{Caller, MaybeCaller, PublisherCaller};
use crate::error::{Error, Result};
use crate::publishers::{current_key, is_plugin_id};
use crate::web::{ApiError, ApiResult, AppState, Json, Path, UPLOAD_BODY_LIMIT};

/// The longest changelog of a version, in bytes.
pub const MAX_CHANGELOG_BYTES: usize = 64 << 10;

/// A package that passed every check, ready to be stored.
#[derive(Debug)]
pub struct CheckedPackage {
    pub signed: SignedBy,
    pub manifest: Manifest,
    pub manifest_text: String,
    /// Hex SHA-256 of the `.tpkg` file.
    pub sha256: String,
    pub bytes: Vec<u8>,
}

/// What the publisher is told to do about a refusal of its package.
fn hint(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::Malformed { .. } | Refusal::TooLarge { .. } => {
            "Upload the .tpkg file that tessera-package's `sign` wrote, whole"
        }
        Refusal::NotSigned => {
            "Sign the package with your key and the certificate from GET /api/v1/publishers/me/certificate"
        }
        Refusal::UnknownRoot { .. } | Refusal::BadCertificate { .. } => {
            "Sign with a certificate from this marketplace: GET /api/v1/publishers/me/certificate"
        }
        Refusal::NotPublisherOf { .. } => {
            "Claim the plugin id with POST /api/v1/publishers/me/plugins and sign with the certificate that returns"
        }
        _ => "Sign the package again with your current key and certificate",
    }
}

/// Sorts the host's refusal of a component into the refusal codes of the marketplace: a plugin
/// API this marketplace does not serve, or a package that is not a valid plugin.
fn host_refusal(err: tessera_host::Error) -> Error {
    match err {
        // `api`: the manifest's range does not admit the host's API version; the import check
        // words a component built against another API version this way.
        tessera_host::Error::Invalid { field, message }
            if field == Some("api") || message.contains("built against plugin API") =>
        {
            Error::refused(
                &Refusal::ApiOutOfRange(format!(
                    "{message}; this marketplace serves plugins for plugin API {HOST_API_VERSION}: build against it \
                     and set plugin.api to a range that includes it (e.g. \"^0.1\")"
                )),
                None,
            )
        }
        tessera_host::Error::Invalid { message, .. } => Error::invalid(
            "malformed",
            format!(
                "the component is not a valid plugin: {message}; fix plugin.toml or the component, then build, sign \
                 and upload it again"
            ),
        ),
        other => Error::from(other),
    }
}

/// Checks an upload by `publisher`, in order: the `.tpkg` decodes; its signature and
/// certificate chain verify against this marketplace's root; the certificate is this
/// publisher's and names its current key, which is not revoked; the plugin id is this
/// publisher's; the host reads the component (manifest, API range, imports); the package's
/// manifest is the component's; the component's imports match the capabilities requested;
/// the version is new.
pub async fn check_upload(state: &AppState, publisher: &str, bytes: Vec<u8>) -> Result<CheckedPackage> {
    let tpkg = Tpkg::decode(&bytes).map_err(|r| Error::refused(&r, Some(hint(&r))))?;
    let signed = tessera_package::verify(&tpkg, &state.trust).map_err(|r| Error::refused(&r, Some(hint(&r))))?;
    if signed.publisher.id != publisher {
        return Err(Error::forbidden(
            "other_publisher",
            format!(
                "this package is signed under publisher {:?}'s certificate, not yours; sign it with your own key and \
                 certificate (GET /api/v1/publishers/me/certificate)",
                signed.publisher.id
            ),
        ));
    }
    let current = current_key(state, publisher).await?.ok_or_else(|| {
        Error::conflict("no_key", "register your public key first with PUT /api/v1/publishers/me/key")
    })?;
    if signed.publisher.key != current {
        return Err(Error::invalid(
            "wrong_key",
            format!(
                "the package is signed with key {}, and your current key is {}; sign it again with your current key and \
                 a certificate fetched since you registered it (GET /api/v1/publishers/me/certificate)",
                signed.publisher.key.key_id(),
                current.key_id()
            ),
        ));
    }
    let revocations = crate::revocations::current_entries(state).await?;
    revocations.check_package(&signed).map_err(|r| {
        Error::refused(
            &r,
            Some("The marketplace does not take what hosts would refuse; ask its operator if this is wrong"),
        )
    })?;
    let holder: Option<String> = sqlx::query_scalar("SELECT publisher_id FROM plugins WHERE id = $1")
        .bind(&signed.plugin)
        .fetch_optional(state.store.pool())
        .await?;
    match holder {
        Some(holder) if holder == publisher => {}
        Some(_) => {
            return Err(Error::forbidden(
                "plugin_taken",
                format!("plugin id {:?} belongs to another publisher; publish under an id of your own", signed.plugin),
            ));
        }
        None => {
            return Err(Error::forbidden(
                "not_claimed",
                format!(
                    "you do not hold plugin id {:?}: claim it with POST /api/v1/publishers/me/plugins",
                    signed.plugin
                ),
            ));
        }
    }
    let manifest_text = tpkg.manifest().to_owned();
    let component = tpkg.into_component();
    // Reading and validating a component of up to 50 MiB is work for a blocking thread.
    let (package, api) = tokio::task::spawn_blocking(move || {
        let api = api_use(&component);
        read(component).map(|package| (package, api))
    })
    .await
    .map_err(|e| Error::Internal(format!("the package check failed: {e}")))?
    .map_err(host_refusal)?;
    if package.manifest_text != manifest_text {
        return Err(Error::refused(
            &Refusal::ManifestMismatch(
                "the package's plugin.toml is not the one inside its component (the `tessera-manifest` section); \
                 package the component with the plugin.toml it was built with"
                    .into(),
            ),
            None,
        ));
    }
    let api = api.map_err(host_refusal)?;
    check_capabilities(&package.manifest, &api).map_err(|e| match e {
        tessera_host::Error::Invalid { message, .. } => Error::refused(&Refusal::CapabilityMismatch(message), None),
        other => Error::from(other),
    })?;
    let texts = [
        &package.manifest.plugin.name.zh,
        &package.manifest.plugin.name.en,
        &package.manifest.plugin.description.zh,
        &package.manifest.plugin.description.en,
    ];
    if texts.iter().any(|t| t.contains('\0')) {
        return Err(Error::invalid(
            "malformed",
            "plugin.toml's names and descriptions must not contain NUL characters",
        ));
    }
    let exists: Option<String> =
        sqlx::query_scalar("SELECT version FROM plugin_versions WHERE plugin_id = $1 AND version = $2")
            .bind(&signed.plugin)
            .bind(signed.version.to_string())
            .fetch_optional(state.store.pool())
            .await?;
    if exists.is_some() {
        return Err(version_exists(&signed));
    }
    // A package has one encoding only, so the hash of the bytes is the package's.
    let sha256 = hex(&Sha256::digest(&bytes));
    Ok(CheckedPackage { signed, manifest: package.manifest, manifest_text, sha256, bytes })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn version_exists(signed: &SignedBy) -> Error {
    Error::conflict(
        "version_exists",
        format!(
            "{} {} is already published, and a published version never changes; raise plugin.version and upload again",
            signed.plugin, signed.version
        ),
    )
}

#[derive(Debug, Serialize)]
pub struct Published {
    pub plugin: String,
    pub version: String,
    /// Hex SHA-256 of the `.tpkg` file.
    pub sha256: String,
    /// Hex SHA-256 of its component, which revocations name a build by.
    pub component_sha256: String,
}

/// Stores a checked package as a new version.
pub async fn publish(state: &AppState, checked: CheckedPackage, changelog: Option<String>) -> Result<Published> {
    let CheckedPackage { signed, manifest, manifest_text, sha256, bytes } = checked;
    let version = signed.version.to_string();
    let info = &manifest.plugin;
    let capabilities = serde_json::to_string(&info.capabilities).map_err(|e| Error::Internal(e.to_string()))?;
    let mut tx = state.store.begin_write().await?;
    sqlx::query(
        "INSERT INTO plugin_versions (plugin_id, version, api, manifest, capabilities, name_zh, name_en, \
         description_zh, description_en, license_required, sha256, component_sha256, key_id, size, changelog, \
         published_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(&signed.plugin)
    .bind(&version)
    .bind(&info.api)
    .bind(&manifest_text)
    .bind(capabilities)
    .bind(&info.name.zh)
    .bind(&info.name.en)
    .bind(&info.description.zh)
    .bind(&info.description.en)
    .bind(i64::from(info.license_required))
    .bind(&sha256)
    .bind(&signed.component_sha256)
    .bind(signed.publisher.key.key_id().as_str())
    .bind(bytes.len() as i64)
    .bind(changelog)
    .bind(now_ms())
    .execute(&mut *tx)
    .await
    .map_err(|e| match Error::from_db(e, "version_exists", "") {
        Error::Conflict { .. } => version_exists(&signed),
        other => other,
    })?;
    sqlx::query("INSERT INTO package_blobs (plugin_id, version, bytes) VALUES ($1, $2, $3)")
        .bind(&signed.plugin)
        .bind(&version)
        .bind(bytes)
        .execute(&mut *tx)
        .await?;
    // Search reads the names of the highest version.
    let versions: Vec<String> = sqlx::query_scalar("SELECT version FROM plugin_versions WHERE plugin_id = $1")
        .bind(&signed.plugin)
        .fetch_all(&mut *tx)
        .await?;
    let highest = versions.iter().filter_map(|v| Version::parse(v).ok()).max();
    if highest.as_ref() == Some(&signed.version) {
        sqlx::query(
            "UPDATE plugins SET name_zh = $1, name_en = $2, description_zh = $3, description_en = $4 WHERE id = $5",
        )
        .bind(&info.name.zh)
        .bind(&info.name.en)
        .bind(&info.description.zh)
        .bind(&info.description.en)
        .bind(&signed.plugin)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Published { plugin: signed.plugin, version, sha256, component_sha256: signed.component_sha256 })
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/packages", post(upload).layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)))
        .route("/api/v1/plugins/{id}/versions/{version}/package", get(download))
}

fn multipart_error(err: MultipartError) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the upload is larger than {} MiB; a package is at most {} MiB",
                UPLOAD_BODY_LIMIT >> 20,
                tessera_package::tpkg::MAX_PACKAGE_BYTES >> 20
            ),
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_body",
            format!("the multipart body does not read: {}", err.body_text()),
        )
    }
}

/// `POST /api/v1/packages`: multipart, part `package` (the `.tpkg`) and optionally part
/// `changelog` (UTF-8 text).
async fn upload(
    State(state): State<AppState>,
    PublisherCaller(publisher): PublisherCaller,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<impl IntoResponse> {
    let mut multipart = multipart.map_err(|_| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send multipart/form-data with a part `package` holding the .tpkg file and optionally a part `changelog`",
        )
    })?;
    let mut package = None;
    let mut changelog = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "package" if package.is_none() => package = Some(field.bytes().await.map_err(multipart_error)?.to_vec()),
            "changelog" if changelog.is_none() => {
                let bytes = field.bytes().await.map_err(multipart_error)?;
                if bytes.len() > MAX_CHANGELOG_BYTES {
                    return Err(Error::invalid(
                        "invalid_input",
                        format!("changelog: at most {} KiB", MAX_CHANGELOG_BYTES >> 10),
                    )
                    .into());
                }
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| Error::invalid("invalid_input", "changelog: send UTF-8 text"))?;
                if text.contains('\0') {
                    return Err(
                        Error::invalid("invalid_input", "changelog: text must not contain NUL characters").into()
                    );
                }
                changelog = Some(text.trim().to_owned()).filter(|t| !t.is_empty());
            }
            "package" | "changelog" => {
                return Err(Error::invalid("invalid_input", format!("send the part {name:?} once")).into());
            }
            other => {
                let other: String = other.chars().take(40).collect();
                return Err(Error::invalid(
                    "invalid_input",
                    format!("unknown part {other:?}: an upload has a part `package` and optionally `changelog`"),
                )
                .into());
            }
        }
    }
    let package = package.ok_or_else(|| {
        Error::invalid("invalid_input", "the upload has no part `package`: send the .tpkg file in a part of that name")
    })?;
    let checked = check_upload(&state, &publisher, package).await?;
    Ok((StatusCode::CREATED, Json(publish(&state, checked, changelog).await?)))
}

/// What a download needs to know of a version.
#[derive(Debug, sqlx::FromRow)]
struct DownloadRow {
    publisher_id: String,
    kind: Option<String>,
    component_sha256: String,
    key_id: String,
    sha256: String,
}

/// Whether `caller` may download a package of `plugin`: anyone when it is free; else an
/// organisation holding a license that has not run out, or the plugin's own publisher.
async fn may_download(state: &AppState, caller: Option<&Caller>, plugin: &str, row: &DownloadRow) -> Result<()> {
    if row.kind.as_deref() == Some("free") {
        return Ok(());
    }
    let buy = format!("{plugin} is paid: buy it first (POST /api/v1/purchases as an organisation)");
    match caller {
        None => Err(Error::Unauthenticated(format!("{buy}, then download with the organisation's bearer token"))),
        Some(Caller::Publisher(p)) if *p == row.publisher_id => Ok(()),
        Some(Caller::Org(org)) => {
            let license: Option<(String, Option<i64>, i64, i64)> = sqlx::query_as(
                "SELECT kind, expires_at, grace_days, issued_at FROM licenses WHERE org_id = $1 AND plugin_id = $2",
            )
            .bind(org)
            .bind(plugin)
            .fetch_optional(state.store.pool())
            .await?;
            let Some((kind, expires_at, grace_days, issued_at)) = license else {
                return Err(Error::forbidden(
                    "license_required",
                    format!("{buy}; this organisation holds no license for it"),
                ));
            };
            let claims = LicenseClaims {
                org: org.clone(),
                plugin: plugin.to_owned(),
                kind: crate::purchases::license_kind(&kind)?,
                issued_at: ms(issued_at)?,
                expires_at: expires_at.map(ms).transpose()?,
                grace_days: u16::try_from(grace_days).unwrap_or(0),
            };
            claims.state_at(Timestamp::now()).map(|_| ()).map_err(|r| {
                Error::forbidden(r.code(), format!("{r}; renew with POST /api/v1/purchases, then download again"))
            })
        }
        Some(_) => Err(Error::forbidden("license_required", buy)),
    }
}

fn ms(ms: i64) -> Result<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(|e| Error::Internal(e.to_string()))
}

/// `GET /api/v1/plugins/{id}/versions/{version}/package`: the `.tpkg` file.
async fn download(
    State(state): State<AppState>,
    Path((plugin, version)): Path<(String, String)>,
    MaybeCaller(caller): MaybeCaller,
) -> ApiResult<Response> {
    let not_found = || {
        Error::NotFound(format!("{plugin} has no version {version} in the catalog; see GET /api/v1/plugins/{plugin}"))
    };
    let Ok(parsed) = Version::parse(&version) else { return Err(not_found().into()) };
    if !is_plugin_id(&plugin) {
        return Err(not_found().into());
    }
    let row: Option<DownloadRow> = sqlx::query_as(
        "SELECT p.publisher_id, p.kind, v.component_sha256, v.key_id, v.sha256 FROM plugins p \
         JOIN plugin_versions v ON v.plugin_id = p.id WHERE p.id = $1 AND v.version = $2 AND p.listed_at IS NOT NULL",
    )
    .bind(&plugin)
    .bind(parsed.to_string())
    .fetch_optional(state.store.pool())
    .await
    .map_err(Error::from)?;
    let Some(row) = row else { return Err(not_found().into()) };
    let revocations = crate::revocations::current_entries(&state).await?;
    let key_id = tessera_package::KeyId::parse(&row.key_id).map_err(|e| Error::Internal(e.to_string()))?;
    let revoked = revocations
        .is_revoked(&plugin, &parsed, &row.component_sha256)
        .map(|r| r.reason.clone())
        .or_else(|| revocations.is_key_revoked(&key_id).map(|k| k.reason.clone()));
    if let Some(reason) = revoked {
        return Err(Error::Gone {
            code: "revoked",
            message: format!("{plugin} {parsed} was revoked ({reason}); download a version that is not revoked"),
        }
        .into());
    }
    may_download(&state, caller.as_ref(), &plugin, &row).await?;
    let bytes: Vec<u8> = sqlx::query_scalar("SELECT bytes FROM package_blobs WHERE plugin_id = $1 AND version = $2")
        .bind(&plugin)
        .bind(parsed.to_string())
        .fetch_one(state.store.pool())
        .await
        .map_err(Error::from)?;
    let mut resp = bytes.into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{plugin}-{parsed}.tpkg\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", row.sha256)) {
        headers.insert(header::ETAG, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_the_host_does_not_serve_is_named_so() {
        let err = host_refusal(tessera_host::Error::Invalid { field: Some("api"), message: "x needs ^0.2".into() });
        assert!(matches!(err, Error::Invalid { code: "api_out_of_range", .. }), "{err:?}");
        let err = host_refusal(tessera_host::Error::Invalid {
            field: Some("package"),
            message: "x 1.0.0 was built against plugin API 0.1.9; this host serves 0.1.4 (0.1.x)".into(),
        });
        assert!(matches!(err, Error::Invalid { code: "api_out_of_range", .. }), "{err:?}");
        let err =
            host_refusal(tessera_host::Error::Invalid { field: Some("manifest"), message: "plugin.toml: x".into() });
        assert!(matches!(err, Error::Invalid { code: "malformed", .. }), "{err:?}");
    }
}
