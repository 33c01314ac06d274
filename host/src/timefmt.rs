//! Timestamps as the API shows them: RFC 3339 in UTC, from the Unix milliseconds the database keeps.

/// Formats Unix milliseconds as RFC 3339 (`2026-11-22T08:00:00.123Z`).
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// Like [`rfc3339`] for an optional timestamp.
pub fn rfc3339_opt(ms: Option<i64>) -> Option<String> {
    ms.map(rfc3339)
}
