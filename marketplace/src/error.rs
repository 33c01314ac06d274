//! The registry's error type. Every client error carries a stable, snake_case `code` (a
//! refused package or token carries its [`tessera_package::Refusal::code`]) and a message that
//! says what to do; the web layer turns each into a precise 4xx (see [`crate::web::ApiError`]).

use tessera_package::Refusal;

/// `Result` with the registry's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No bearer token, or one the registry does not know (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known and may not do this (403).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// Nothing of that name (404).
    #[error("{0}")]
    NotFound(String),
    /// Input that fails validation, or a package or token that is refused (422).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// The request clashes with what is there (409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// What was asked for was withdrawn (410).
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    /// Bad configuration given at start.
    #[error("{0}")]
    Config(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Error {
        Error::Invalid { code, message: message.into() }
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Error {
        Error::Forbidden { code, message: message.into() }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Error {
        Error::Conflict { code, message: message.into() }
    }

    /// A refusal of a package, certificate or token, under the refusal's own code, with the
    /// message the registry's caller needs (`hint` says what to do here, where the refusal's
    /// own words are written for a host's administrator).
    pub fn refused(refusal: &Refusal, hint: Option<&str>) -> Error {
        let message = match hint {
            Some(hint) => format!("{refusal}. {hint}"),
            None => refusal.to_string(),
        };
        Error::Invalid { code: refusal.code(), message }
    }

    /// Maps a unique violation to the conflict it stands for; other database errors stay
    /// server errors.
    pub fn from_db(err: sqlx::Error, code: &'static str, conflict: impl Into<String>) -> Error {
        if let sqlx::Error::Database(db) = &err
            && db.kind() == sqlx::error::ErrorKind::UniqueViolation
        {
            return Error::conflict(code, conflict);
        }
        Error::from(err)
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        // PostgreSQL refuses NUL characters in text (22021): whatever let one through, the
        // caller sent text that no backend may store.
        if let sqlx::Error::Database(db) = &err
            && db.code().as_deref() == Some("22021")
        {
            return Error::invalid("invalid_input", "text must not contain NUL (\\u0000) characters");
        }
        Error::Database(err)
    }
}

impl From<tessera_host::Error> for Error {
    fn from(err: tessera_host::Error) -> Self {
        match err {
            tessera_host::Error::Database(e) => Error::from(e),
            tessera_host::Error::Config(m) => Error::Config(m),
            other => Error::Internal(other.to_string()),
        }
    }
}
