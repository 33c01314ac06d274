//! The error every host call and every fallible export returns (`tessera:plugin/types.error`).

use std::fmt;

/// What went wrong with a host call, or what a plugin reports to the host. Every variant
/// carries a message meant for people.
///
/// This is the WIT variant `error` itself: the bindings use this type for it, so host calls
/// return it and exports return it without conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The plugin was not granted the capability, or the user it acts for may not do this.
    Denied(String),
    /// The record does not exist, or is not visible to the caller.
    NotFound(String),
    /// The input was rejected; the message names the field and the rule.
    Invalid(String),
    /// The write lost a race or breaks a uniqueness rule; read again and retry.
    Conflict(String),
    /// A limit was reached (host calls per invocation, response size, time).
    Limited(String),
    /// A service the call needs did not answer (an outbound host, the database).
    Unavailable(String),
    /// A fault in the host, or a bug in the plugin.
    Internal(String),
}

/// `Result` with the plugin API's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    /// [`Error::Denied`] with a message.
    pub fn denied(message: impl Into<String>) -> Error {
        Error::Denied(message.into())
    }

    /// [`Error::NotFound`] with a message.
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::NotFound(message.into())
    }

    /// [`Error::Invalid`] with a message naming the field and the rule.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::Invalid(message.into())
    }

    /// [`Error::Conflict`] with a message.
    pub fn conflict(message: impl Into<String>) -> Error {
        Error::Conflict(message.into())
    }

    /// [`Error::Limited`] with a message.
    pub fn limited(message: impl Into<String>) -> Error {
        Error::Limited(message.into())
    }

    /// [`Error::Unavailable`] with a message.
    pub fn unavailable(message: impl Into<String>) -> Error {
        Error::Unavailable(message.into())
    }

    /// [`Error::Internal`] with a message.
    pub fn internal(message: impl Into<String>) -> Error {
        Error::Internal(message.into())
    }

    /// The variant's WIT name: `denied`, `not-found`, `invalid`, `conflict`, `limited`,
    /// `unavailable` or `internal`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Denied(_) => "denied",
            Error::NotFound(_) => "not-found",
            Error::Invalid(_) => "invalid",
            Error::Conflict(_) => "conflict",
            Error::Limited(_) => "limited",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal",
        }
    }

    /// The message for people.
    pub fn message(&self) -> &str {
        match self {
            Error::Denied(m)
            | Error::NotFound(m)
            | Error::Invalid(m)
            | Error::Conflict(m)
            | Error::Limited(m)
            | Error::Unavailable(m)
            | Error::Internal(m) => m,
        }
    }

    /// The HTTP status that reports this error to a client: 403, 404, 422, 409, 429, 503 or
    /// 500.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Denied(_) => 403,
            Error::NotFound(_) => 404,
            Error::Invalid(_) => 422,
            Error::Conflict(_) => 409,
            Error::Limited(_) => 429,
            Error::Unavailable(_) => 503,
            Error::Internal(_) => 500,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.message())
    }
}

impl std::error::Error for Error {}

/// JSON that does not parse, or does not have the expected shape, is invalid input.
impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::Invalid(format!("JSON: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_the_variant_and_the_message() {
        assert_eq!(Error::denied("customers:read is not granted").to_string(), "denied: customers:read is not granted");
        assert_eq!(Error::not_found("claim 4").to_string(), "not-found: claim 4");
    }

    #[test]
    fn every_variant_has_its_name_and_status() {
        let cases = [
            (Error::denied("m"), "denied", 403),
            (Error::not_found("m"), "not-found", 404),
            (Error::invalid("m"), "invalid", 422),
            (Error::conflict("m"), "conflict", 409),
            (Error::limited("m"), "limited", 429),
            (Error::unavailable("m"), "unavailable", 503),
            (Error::internal("m"), "internal", 500),
        ];
        for (error, kind, status) in cases {
            assert_eq!((error.kind(), error.http_status(), error.message()), (kind, status, "m"));
        }
    }

    #[test]
    fn bad_json_is_invalid_input() {
        let e: Error = serde_json::from_str::<u32>("\"seven\"").unwrap_err().into();
        assert_eq!(e.kind(), "invalid");
        assert!(e.message().contains("invalid type"), "{e}");
    }
}
