//! Accounts and who is calling: publishers (who upload plugins) and organisations (who buy
//! them) sign up with a name, an email address and a password (argon2id), and sign in for a
//! bearer token; the operator has one token, made on first start. Tokens are random and kept
//! only as their SHA-256.

use axum::extract::{FromRequestParts, State};
use axum::http::{StatusCode, header, request::Parts};
use axum::routing::post;
use axum::{Router, response::IntoResponse};
use serde::{Deserialize, Serialize};
use tessera_host::auth::{check_policy, random_token, sha256_hex};
use tessera_host::store::{Store, now_ms};

use crate::error::{Error, Result};
use crate::web::{ApiError, ApiResult, AppState, Json};

/// What a bearer token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Publisher(String),
    Org(String),
    Operator,
}

impl Caller {
    fn kind(&self) -> &'static str {
        match self {
            Caller::Publisher(_) => "publisher",
            Caller::Org(_) => "org",
            Caller::Operator => "operator",
        }
    }
}

/// Which of the two kinds of account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    Publisher,
    Org,
}

impl AccountKind {
    fn table(self) -> &'static str {
        match self {
            AccountKind::Publisher => "publishers",
            AccountKind::Org => "orgs",
        }
    }

    fn token_kind(self) -> &'static str {
        match self {
            AccountKind::Publisher => "publisher",
            AccountKind::Org => "org",
        }
    }

    /// Account ids: `pub-` or `org-` and 16 random hex digits. An organisation's id is what its
    /// license tokens name, so it never changes and says nothing about the account.
    fn new_id(self) -> String {
        let prefix = match self {
            AccountKind::Publisher => "pub",
            AccountKind::Org => "org",
        };
        format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..16])
    }
}

/// A new bearer token of `kind` for `account_id`; the token itself is returned once and kept
/// only as its hash.
pub async fn issue_token(store: &Store, kind: &str, account_id: Option<&str>) -> Result<String> {
    let token = format!("tmk_{}", random_token(32));
    sqlx::query("INSERT INTO tokens (token_hash, kind, account_id, created_at) VALUES ($1, $2, $3, $4)")
        .bind(sha256_hex(&token))
        .bind(kind)
        .bind(account_id)
        .bind(now_ms())
        .execute(store.pool())
        .await?;
    Ok(token)
}

/// Makes the operator's token if there is none yet (the first start), and returns it.
pub async fn ensure_operator_token(store: &Store) -> Result<Option<String>> {
    let mut tx = store.begin_write().await?;
    let existing: Option<String> = sqlx::query_scalar("SELECT token_hash FROM tokens WHERE kind = 'operator' LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?;
    if existing.is_some() {
        return Ok(None);
    }
    let token = format!("tmk_{}", random_token(32));
    sqlx::query("INSERT INTO tokens (token_hash, kind, account_id, created_at) VALUES ($1, 'operator', NULL, $2)")
        .bind(sha256_hex(&token))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(token))
}

/// Who a bearer token belongs to, if anyone.
pub async fn caller_of(store: &Store, token: &str) -> Result<Option<Caller>> {
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT kind, account_id FROM tokens WHERE token_hash = $1")
            .bind(sha256_hex(token))
            .fetch_optional(store.pool())
            .await?;
    Ok(row.and_then(|(kind, account)| match (kind.as_str(), account) {
        ("publisher", Some(id)) => Some(Caller::Publisher(id)),
        ("org", Some(id)) => Some(Caller::Org(id)),
        ("operator", _) => Some(Caller::Operator),
        _ => None,
    }))
}

/// The bearer token of a request, if it sent one.
fn bearer(parts: &Parts) -> Result<Option<&str>> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| Error::Unauthenticated("the Authorization header is not text".into()))?;
    match value.strip_prefix("Bearer ").map(str::trim) {
        Some(token) if !token.is_empty() && token.len() <= 200 => Ok(Some(token)),
        _ => Err(Error::Unauthenticated(
            "send the token as `Authorization: Bearer <token>`; get one with POST /api/v1/sessions".into(),
        )),
    }
}

/// The caller, when the request carries a token; a token the registry does not know is
/// refused rather than taken for no token.
#[derive(Debug)]
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let Some(token) = bearer(parts)? else { return Ok(MaybeCaller(None)) };
        match caller_of(&state.store, token).await? {
            Some(caller) => Ok(MaybeCaller(Some(caller))),
            None => Err(Error::Unauthenticated(
                "this token is not known here (mistyped, or from another marketplace); sign in again with POST \
                 /api/v1/sessions"
                    .into(),
            )
            .into()),
        }
    }
}

fn required(caller: Option<Caller>, wanted: &str) -> Result<Caller> {
    caller.ok_or_else(|| {
        Error::Unauthenticated(format!(
            "this needs the bearer token of {wanted}: sign in with POST /api/v1/sessions and send \
             `Authorization: Bearer <token>`"
        ))
    })
}

fn wrong_kind(caller: &Caller, wanted: &str, sign_in_as: &str) -> Error {
    Error::forbidden(
        "wrong_account",
        format!(
            "this is for {wanted}, and the token is {}'s; sign in with POST /api/v1/sessions and kind {sign_in_as:?}",
            match caller.kind() {
                "publisher" => "a publisher",
                "org" => "an organisation",
                _ => "the operator",
            }
        ),
    )
}

/// A publisher account's request.
#[derive(Debug)]
pub struct PublisherCaller(pub String);

impl FromRequestParts<AppState> for PublisherCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let MaybeCaller(caller) = MaybeCaller::from_request_parts(parts, state).await?;
        match required(caller, "a publisher account")? {
            Caller::Publisher(id) => Ok(PublisherCaller(id)),
            other => Err(wrong_kind(&other, "publisher accounts", "publisher").into()),
        }
    }
}

/// An organisation's request.
#[derive(Debug)]
pub struct OrgCaller(pub String);

impl FromRequestParts<AppState> for OrgCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let MaybeCaller(caller) = MaybeCaller::from_request_parts(parts, state).await?;
        match required(caller, "an organisation account")? {
            Caller::Org(id) => Ok(OrgCaller(id)),
            other => Err(wrong_kind(&other, "organisation accounts", "org").into()),
        }
    }
}

/// The operator's request.
#[derive(Debug)]
pub struct OperatorCaller;

impl FromRequestParts<AppState> for OperatorCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let MaybeCaller(caller) = MaybeCaller::from_request_parts(parts, state).await?;
        match required(caller, "the operator (printed when the marketplace first started)")? {
            Caller::Operator => Ok(OperatorCaller),
            _ => Err(Error::forbidden(
                "wrong_account",
                "only the marketplace's operator may do this, with the operator token printed on its first start",
            )
            .into()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    pub name: String,
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize)]
pub struct SignedUp {
    pub id: String,
    pub token: String,
}

fn check_sign_up(input: &SignUp) -> Result<(String, String)> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::invalid("invalid_input", "name: give 1 to 100 characters, without control characters"));
    }
    let email = input.email.trim().to_lowercase();
    let valid_email = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if !valid_email {
        return Err(Error::invalid("invalid_input", "email: give an address such as dev@example.com"));
    }
    check_policy(&input.password, name).map_err(|e| Error::invalid("weak_password", e.to_string()))?;
    Ok((name.to_owned(), email))
}

/// Makes an account of `kind` and a first token for it.
pub async fn sign_up(state: &AppState, kind: AccountKind, input: &SignUp) -> Result<SignedUp> {
    let (name, email) = check_sign_up(input)?;
    let hash = state.hasher.hash(&input.password).await?;
    let id = kind.new_id();
    let sql = match kind {
        AccountKind::Publisher => {
            "INSERT INTO publishers (id, name, email, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)"
        }
        AccountKind::Org => "INSERT INTO orgs (id, name, email, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
    };
    sqlx::query(sql)
        .bind(&id)
        .bind(&name)
        .bind(&email)
        .bind(&hash)
        .bind(now_ms())
        .execute(state.store.pool())
        .await
        .map_err(|e| {
            Error::from_db(
                e,
                "email_taken",
                format!(
                    "there is already a {} account for {email}; sign in with POST /api/v1/sessions",
                    kind.token_kind()
                ),
            )
        })?;
    let token = issue_token(&state.store, kind.token_kind(), Some(&id)).await?;
    Ok(SignedUp { id, token })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub email: String,
    pub password: String,
    pub kind: AccountKind,
}

#[derive(Debug, Serialize)]
pub struct Session {
    pub id: String,
    pub kind: AccountKind,
    pub token: String,
}

/// Checks an email address and password and issues a token.
pub async fn sign_in(state: &AppState, input: &SignIn) -> Result<Session> {
    let email = input.email.trim().to_lowercase();
    let sql = format!("SELECT id, password_hash FROM {} WHERE email = $1", input.kind.table());
    let row: Option<(String, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&email).fetch_optional(state.store.pool()).await?;
    let ok = state.hasher.verify(&input.password, row.as_ref().map(|(_, h)| h.as_str())).await?;
    match row {
        Some((id, _)) if ok => {
            let token = issue_token(&state.store, input.kind.token_kind(), Some(&id)).await?;
            Ok(Session { id, kind: input.kind, token })
        }
        _ => Err(Error::Unauthenticated(format!(
            "the email address or the password is wrong for a {} account; check both, or sign up first",
            input.kind.token_kind()
        ))),
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/publishers", post(sign_up_publisher))
        .route("/api/v1/orgs", post(sign_up_org))
        .route("/api/v1/sessions", post(create_session))
}

async fn sign_up_publisher(State(state): State<AppState>, Json(input): Json<SignUp>) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(sign_up(&state, AccountKind::Publisher, &input).await?)))
}

async fn sign_up_org(State(state): State<AppState>, Json(input): Json<SignUp>) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(sign_up(&state, AccountKind::Org, &input).await?)))
}

async fn create_session(State(state): State<AppState>, Json(input): Json<SignIn>) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(sign_in(&state, &input).await?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_up(name: &str, email: &str, password: &str) -> SignUp {
        SignUp { name: name.into(), email: email.into(), password: password.into() }
    }

    #[test]
    fn sign_up_checks_name_email_and_password() {
        let good = check_sign_up(&sign_up(" Acme 软件 ", "Dev@Example.COM ", "a long enough passphrase"));
        assert_eq!(good.expect("valid").1, "dev@example.com");
        let bad = [
            sign_up("", "dev@example.com", "a long enough passphrase"),
            sign_up("Acme", "not an address", "a long enough passphrase"),
            sign_up("Acme", "dev@localhost", "a long enough passphrase"),
            sign_up("Acme", "dev@example.com", "short"),
        ];
        for input in bad {
            assert!(check_sign_up(&input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn account_ids_say_their_kind_and_nothing_else() {
        let id = AccountKind::Org.new_id();
        assert!(id.starts_with("org-") && id.len() == 20, "{id}");
        assert_ne!(id, AccountKind::Org.new_id());
        assert!(AccountKind::Publisher.new_id().starts_with("pub-"));
    }
}
