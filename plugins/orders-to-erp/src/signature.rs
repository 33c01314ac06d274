//! Standard Webhooks signatures (<https://www.standardwebhooks.com>) of the ERP's callbacks.
//!
//! The ERP signs every callback with the secret the administrator stored as `erp_secret`
//! (`whsec_<base64 key>`): `webhook-signature` is one or more space-separated `v1,<base64 of
//! HMAC-SHA256 over "{webhook-id}.{webhook-timestamp}.{body}">`, and `webhook-timestamp` (Unix
//! seconds) must be within five minutes of now, so that a captured request cannot be replayed
//! later. The comparison takes the same time wherever the signatures differ.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a callback's timestamp may be from now, either way.
pub const TOLERANCE_S: i64 = 5 * 60;

/// Why a callback is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The stored secret is not `whsec_` followed by base64 (a setup mistake, not the caller's).
    BadSecret,
    /// A header is missing.
    Missing(&'static str),
    /// `webhook-timestamp` is not a number of seconds.
    BadTimestamp,
    /// The timestamp is more than five minutes away from now.
    Stale,
    /// No `v1` signature matches.
    Mismatch,
}

impl Refusal {
    /// What the sender is told.
    pub fn message(&self) -> String {
        match self {
            Refusal::BadSecret => {
                "the erp_secret setting is not a Standard Webhooks secret (whsec_ followed by base64); an administrator must fix it".into()
            }
            Refusal::Missing(header) => format!("the {header} header is missing: sign callbacks per Standard Webhooks"),
            Refusal::BadTimestamp => "webhook-timestamp must be Unix seconds".into(),
            Refusal::Stale => format!("webhook-timestamp is more than {} minutes from now", TOLERANCE_S / 60),
            Refusal::Mismatch => "the signature does not match: sign \"{webhook-id}.{webhook-timestamp}.{body}\" with HMAC-SHA256 keyed with the base64-decoded part of erp_secret after whsec_".into(),
        }
    }
}

/// The key of a `whsec_…` secret. A secret without the prefix is read as the base64 key itself,
/// as the reference libraries do.
pub fn key_of(secret: &str) -> Result<Vec<u8>, Refusal> {
    let encoded = secret.trim();
    let encoded = encoded.strip_prefix("whsec_").unwrap_or(encoded);
    match STANDARD.decode(encoded) {
        Ok(key) if !key.is_empty() => Ok(key),
        _ => Err(Refusal::BadSecret),
    }
}

fn mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key"));
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value for a message: `v1,<base64>` (the ERP's side; for the tests).
#[cfg(test)]
pub fn sign(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> String {
    format!("v1,{}", STANDARD.encode(mac(key, id, timestamp, body).finalize().into_bytes()))
}

/// The three headers of a signed request.
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Verifies a request signed with `secret` at `now_s` (Unix seconds).
pub fn verify(secret: &str, headers: Headers<'_>, body: &[u8], now_s: i64) -> Result<(), Refusal> {
    let key = key_of(secret)?;
    let id = headers.id.map(str::trim).filter(|v| !v.is_empty()).ok_or(Refusal::Missing("webhook-id"))?;
    let timestamp =
        headers.timestamp.map(str::trim).filter(|v| !v.is_empty()).ok_or(Refusal::Missing("webhook-timestamp"))?;
    let signatures =
        headers.signature.map(str::trim).filter(|v| !v.is_empty()).ok_or(Refusal::Missing("webhook-signature"))?;
    let seconds: i64 = timestamp.parse().map_err(|_| Refusal::BadTimestamp)?;
    if (now_s - seconds).abs() > TOLERANCE_S {
        return Err(Refusal::Stale);
    }
    let matched = signatures.split_whitespace().any(|entry| {
        let Some(("v1", encoded)) = entry.split_once(',') else { return false };
        let Ok(given) = STANDARD.decode(encoded) else { return false };
        // `verify_slice` compares in constant time.
        mac(&key, id, timestamp, body).verify_slice(&given).is_ok()
    });
    if matched { Ok(()) } else { Err(Refusal::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks specification and its reference libraries.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers<'a>(id: &'a str, timestamp: &'a str, signature: &'a str) -> Headers<'a> {
        Headers { id: Some(id), timestamp: Some(timestamp), signature: Some(signature) }
    }

    #[test]
    fn signs_the_specification_example() {
        let key = key_of(SECRET).expect("a key");
        assert_eq!(sign(&key, ID, &TIMESTAMP.to_string(), BODY), SIGNATURE);
    }

    #[test]
    fn verifies_the_specification_example() {
        let ts = TIMESTAMP.to_string();
        assert_eq!(verify(SECRET, headers(ID, &ts, SIGNATURE), BODY, TIMESTAMP), Ok(()));
        // Among several signatures (a rotated secret), and after another scheme's entry.
        let several = format!("v1a,c2lnbmVk v1,AAAA {SIGNATURE}");
        assert_eq!(verify(SECRET, headers(ID, &ts, &several), BODY, TIMESTAMP + 299), Ok(()));
        // The key itself, without the prefix, works as the reference libraries allow.
        assert_eq!(verify("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", headers(ID, &ts, SIGNATURE), BODY, TIMESTAMP), Ok(()));
    }

    #[test]
    fn anything_changed_is_a_mismatch() {
        let ts = TIMESTAMP.to_string();
        let mismatch = Err(Refusal::Mismatch);
        assert_eq!(verify(SECRET, headers(ID, &ts, SIGNATURE), br#"{"test": 2432232315}"#, TIMESTAMP), mismatch);
        assert_eq!(verify(SECRET, headers("msg_other", &ts, SIGNATURE), BODY, TIMESTAMP), mismatch);
        let later = (TIMESTAMP + 1).to_string();
        assert_eq!(verify(SECRET, headers(ID, &later, SIGNATURE), BODY, TIMESTAMP), mismatch);
        let other_secret = "whsec_QWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo=";
        assert_eq!(verify(other_secret, headers(ID, &ts, SIGNATURE), BODY, TIMESTAMP), mismatch);
        for bad in ["", "v1,", "v1,not base64!", "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "g0hM9SsE"] {
            let result = verify(SECRET, headers(ID, &ts, bad), BODY, TIMESTAMP);
            assert!(matches!(result, Err(Refusal::Mismatch | Refusal::Missing(_))), "{bad:?}: {result:?}");
        }
        // A truncated signature does not match.
        assert_eq!(verify(SECRET, headers(ID, &ts, &SIGNATURE[..20]), BODY, TIMESTAMP), mismatch);
    }

    #[test]
    fn old_and_future_timestamps_are_refused() {
        let ts = TIMESTAMP.to_string();
        assert_eq!(verify(SECRET, headers(ID, &ts, SIGNATURE), BODY, TIMESTAMP + 301), Err(Refusal::Stale));
        assert_eq!(verify(SECRET, headers(ID, &ts, SIGNATURE), BODY, TIMESTAMP - 301), Err(Refusal::Stale));
        assert_eq!(verify(SECRET, headers(ID, &ts, SIGNATURE), BODY, TIMESTAMP - 300), Ok(()));
        assert_eq!(verify(SECRET, headers(ID, "yesterday", SIGNATURE), BODY, TIMESTAMP), Err(Refusal::BadTimestamp));
    }

    #[test]
    fn missing_headers_and_bad_secrets_are_named() {
        let ts = TIMESTAMP.to_string();
        let none = Headers { id: None, timestamp: Some(&ts), signature: Some(SIGNATURE) };
        assert_eq!(verify(SECRET, none, BODY, TIMESTAMP), Err(Refusal::Missing("webhook-id")));
        let none = Headers { id: Some(ID), timestamp: None, signature: Some(SIGNATURE) };
        assert_eq!(verify(SECRET, none, BODY, TIMESTAMP), Err(Refusal::Missing("webhook-timestamp")));
        let none = Headers { id: Some(ID), timestamp: Some(&ts), signature: Some("  ") };
        assert_eq!(verify(SECRET, none, BODY, TIMESTAMP), Err(Refusal::Missing("webhook-signature")));
        assert_eq!(verify("whsec_***", headers(ID, &ts, SIGNATURE), BODY, TIMESTAMP), Err(Refusal::BadSecret));
        assert_eq!(verify("whsec_", headers(ID, &ts, SIGNATURE), BODY, TIMESTAMP), Err(Refusal::BadSecret));
        assert!(Refusal::Missing("webhook-id").message().contains("webhook-id"));
    }
}
