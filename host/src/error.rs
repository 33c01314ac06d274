//! The host's error type. Variants say what went wrong in terms a caller can act on; the web
//! layer turns each into a precise HTTP status (see `web::ApiError`).

/// `Result` with the host's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No credentials, or credentials that are wrong, expired or revoked.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The thing asked for does not exist in the caller's organisation.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Input that fails validation; `field` names the offending field where there is one.
    #[error("{message}")]
    Invalid { field: Option<&'static str>, message: String },
    /// The request clashes with the current state (a duplicate name, a department that still
    /// has members, removing the last administrator, …).
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts; try again after `retry_after_secs`.
    #[error("{message}")]
    Throttled { retry_after_secs: u64, message: String },
    /// Bad configuration given at start (database URL, listen address, …).
    #[error("{0}")]
    Config(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        // PostgreSQL refuses NUL characters in text (22021); whatever let one through, the
        // caller sent text that no backend may store.
        if let sqlx::Error::Database(db) = &err
            && db.code().as_deref() == Some("22021")
        {
            return Error::Invalid { field: None, message: "text must not contain NUL (\\u0000) characters".into() };
        }
        Error::Database(err)
    }
}

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid { field: Some(field), message: message.into() }
    }

    /// Whether the database was busy with another writer (SQLite's one write lock), which a
    /// background task simply tries again later.
    pub fn is_busy(&self) -> bool {
        matches!(self, Error::Database(sqlx::Error::Database(db)) if matches!(db.code().as_deref(), Some("5" | "6")))
    }

    /// Maps constraint violations to the client errors they stand for; other database errors
    /// stay server errors.
    pub fn from_db(err: sqlx::Error, conflict: &str) -> Self {
        if let sqlx::Error::Database(db) = &err {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => return Error::Conflict(conflict.to_owned()),
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return Error::Invalid {
                        field: None,
                        message: "a referenced record does not exist in this organisation".into(),
                    };
                }
                _ => {}
            }
        }
        Error::Database(err)
    }
}
