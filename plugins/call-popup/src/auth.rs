//! Who may report calls. Anyone can reach `/hooks/call-popup/<org>/…`, so every hook request must
//! carry the organisation's `webhook_token` setting, as `Authorization: Bearer <token>` or as
//! `x-tessera-token: <token>` (for PBX modules that cannot set the authorization header). The
//! token is compared in constant time, so that timing does not give it away byte by byte.
//! Requests of kind `driver` come from the host itself, relaying a native driver the operator
//! installed, and carry no token.

use tessera_sdk::http::Request;

/// The verdict on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Carries the token, or comes from the host's driver relay.
    Allowed,
    /// The administrator has not set a token yet: every hook is refused (403), telling them so.
    NotConfigured,
    /// No token, or the wrong one (401).
    Refused,
}

/// Checks a request against the configured token (`None` or blank when unset).
pub fn check(request: &Request, configured: Option<&str>) -> Verdict {
    if request.is_driver() {
        return Verdict::Allowed;
    }
    let Some(expected) = configured.map(str::trim).filter(|t| !t.is_empty()) else {
        return Verdict::NotConfigured;
    };
    let presented =
        bearer(request.header("authorization")).or_else(|| request.header("x-tessera-token").map(str::trim));
    match presented {
        Some(token) if same_secret(token.as_bytes(), expected.as_bytes()) => Verdict::Allowed,
        _ => Verdict::Refused,
    }
}

/// The token of `Bearer <token>` (the scheme in any case).
fn bearer(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Whether two secrets are equal, taking the same time wherever they differ. Only the length
/// of the expected secret shows, which an attacker learns nothing useful from.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (i, e) in expected.iter().enumerate() {
        diff |= e ^ given.get(i).copied().unwrap_or(!e);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(headers: &[(&str, &str)]) -> Request {
        let mut request = Request::new("POST", "/calls");
        request.kind = "hook".into();
        request.headers = headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        request
    }

    #[test]
    fn the_token_is_taken_from_either_header() {
        let token = Some("s3cret-token");
        assert_eq!(check(&hook(&[("Authorization", "Bearer s3cret-token")]), token), Verdict::Allowed);
        assert_eq!(check(&hook(&[("authorization", "bearer  s3cret-token ")]), token), Verdict::Allowed);
        assert_eq!(check(&hook(&[("X-Tessera-Token", "s3cret-token")]), token), Verdict::Allowed);
        // An authorization header of another scheme (a proxy's) leaves the token header to speak.
        assert_eq!(
            check(&hook(&[("authorization", "Basic czNjcmV0"), ("x-tessera-token", "s3cret-token")]), token),
            Verdict::Allowed
        );
    }

    #[test]
    fn a_missing_or_wrong_token_is_refused() {
        let token = Some("s3cret-token");
        assert_eq!(check(&hook(&[]), token), Verdict::Refused);
        assert_eq!(check(&hook(&[("authorization", "Bearer s3cret-tokeN")]), token), Verdict::Refused);
        assert_eq!(check(&hook(&[("authorization", "Bearer s3cret")]), token), Verdict::Refused);
        assert_eq!(check(&hook(&[("authorization", "Bearer s3cret-token-and-more")]), token), Verdict::Refused);
        assert_eq!(check(&hook(&[("authorization", "s3cret-token")]), token), Verdict::Refused);
        assert_eq!(check(&hook(&[("x-tessera-token", "")]), token), Verdict::Refused);
    }

    #[test]
    fn without_a_configured_token_every_hook_is_refused() {
        assert_eq!(check(&hook(&[("x-tessera-token", "anything")]), None), Verdict::NotConfigured);
        assert_eq!(check(&hook(&[("x-tessera-token", "")]), Some("  ")), Verdict::NotConfigured);
    }

    #[test]
    fn the_hosts_driver_relay_needs_no_token() {
        let mut request = hook(&[]);
        request.kind = "driver".into();
        assert_eq!(check(&request, None), Verdict::Allowed);
        assert_eq!(check(&request, Some("s3cret-token")), Verdict::Allowed);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abd", b"abc"));
        assert!(!same_secret(b"ab", b"abc"));
        assert!(!same_secret(b"abcd", b"abc"));
        assert!(!same_secret(b"", b"abc"));
    }
}
