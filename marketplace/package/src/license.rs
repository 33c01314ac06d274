//! License tokens: what a purchase issues. A token binds one plugin to one organisation, is
//! signed by the marketplace key, and is checked offline: a host needs nothing but the
//! marketplace's public key and a clock.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::envelope::signed_message;
use crate::keys::{KeyId, SecretKey, TrustRoot};
use crate::refusal::{Artifact, Refusal};

/// The first part of a token: the token format's name and version.
pub const TOKEN_PREFIX: &str = "tl1";

/// The signature's domain separator (followed by a zero byte and the payload).
pub const LICENSE_FORMAT: &str = "tessera-license-v1";

/// The longest token read.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// The longest grace period a token may give.
pub const MAX_GRACE_DAYS: u16 = 365;

/// What was bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LicenseKind {
    /// A free plugin that still needs a license (to count installs); never expires.
    Free,
    /// Bought once; never expires.
    OneOff,
    /// Paid by period; expires, then runs on through its grace period.
    Subscription,
}

/// What a license says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseClaims {
    /// The organisation's account id at the marketplace.
    pub org: String,
    /// The plugin id.
    pub plugin: String,
    /// What was bought.
    pub kind: LicenseKind,
    /// When the marketplace issued the token.
    pub issued_at: Timestamp,
    /// When a subscription's paid period ends; none for free and one-off licenses.
    pub expires_at: Option<Timestamp>,
    /// Days the plugin keeps working after `expires_at`, while the renewal goes through.
    pub grace_days: u16,
}

/// Where a license that checked out stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenseState {
    /// Paid: until the time given, or for good (`None`).
    Valid {
        /// When the paid period ends.
        until: Option<Timestamp>,
    },
    /// Expired, and still working until `ends`: time to renew.
    Grace {
        /// When the paid period ended.
        expired_at: Timestamp,
        /// When the plugin stops working.
        ends: Timestamp,
    },
}

/// The signed payload, as it is written in a token.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    org: String,
    plugin: String,
    kind: LicenseKind,
    issued_at: Timestamp,
    expires_at: Option<Timestamp>,
    grace_days: u16,
    /// The marketplace key that signs the token.
    key_id: KeyId,
}

impl LicenseClaims {
    /// Refuses claims a token must never carry.
    fn check(&self) -> Result<(), String> {
        if self.org.is_empty() || self.plugin.is_empty() {
            return Err("a license names an organisation and a plugin".into());
        }
        match (self.kind, self.expires_at) {
            (LicenseKind::Subscription, None) => return Err("a subscription license needs expires_at".into()),
            (LicenseKind::Free | LicenseKind::OneOff, Some(_)) => {
                return Err("a free or one-off license does not expire".into());
            }
            _ => {}
        }
        if self.grace_days > MAX_GRACE_DAYS {
            return Err(format!("a grace period is at most {MAX_GRACE_DAYS} days"));
        }
        Ok(())
    }

    /// Where the license stands at `now`: valid, in its grace period, or expired
    /// ([`Refusal::Expired`]).
    pub fn state_at(&self, now: Timestamp) -> Result<LicenseState, Refusal> {
        let Some(expired_at) = self.expires_at else { return Ok(LicenseState::Valid { until: None }) };
        if now < expired_at {
            return Ok(LicenseState::Valid { until: Some(expired_at) });
        }
        let grace = SignedDuration::from_hours(i64::from(self.grace_days) * 24);
        let ends = expired_at
            .checked_add(grace)
            .map_err(|_| Refusal::malformed(Artifact::License, "its grace period ends beyond the range of time"))?;
        if now < ends {
            Ok(LicenseState::Grace { expired_at, ends })
        } else {
            Err(Refusal::Expired { plugin: self.plugin.clone(), expired_at, grace_ended: ends })
        }
    }
}

/// Issues a token for the claims, signed with the marketplace key.
pub fn issue(claims: &LicenseClaims, key: &SecretKey) -> Result<String, Refusal> {
    claims.check().map_err(|detail| Refusal::malformed(Artifact::License, detail))?;
    let payload = Payload {
        org: claims.org.clone(),
        plugin: claims.plugin.clone(),
        kind: claims.kind,
        issued_at: claims.issued_at,
        expires_at: claims.expires_at,
        grace_days: claims.grace_days,
        key_id: key.key_id(),
    };
    let payload = serde_json::to_vec(&payload).map_err(|e| Refusal::malformed(Artifact::License, e.to_string()))?;
    let signature = key.sign(&signed_message(LICENSE_FORMAT, &payload));
    let token = format!("{TOKEN_PREFIX}.{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(signature));
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Refusal::TooLarge {
            what: Artifact::License,
            size: token.len() as u64,
            limit: MAX_TOKEN_BYTES as u64,
        });
    }
    Ok(token)
}

/// Checks a token's signature and returns what it says, whatever the organisation, plugin or
/// time (for pages that show a license; loading a plugin uses [`check`]).
pub fn verify_token(token: &str, root: &TrustRoot) -> Result<LicenseClaims, Refusal> {
    let malformed = |detail: &str| Refusal::malformed(Artifact::License, detail);
    let token = token.trim();
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Refusal::TooLarge {
            what: Artifact::License,
            size: token.len() as u64,
            limit: MAX_TOKEN_BYTES as u64,
        });
    }
    let mut parts = token.split('.');
    let (Some(prefix), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("a token is three parts, `tl1.<payload>.<signature>`, joined by dots"));
    };
    if prefix != TOKEN_PREFIX {
        return Err(malformed("it does not start with `tl1.`; copy the whole token the marketplace gave"));
    }
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| malformed("its payload is not base64url"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|s| <[u8; 64]>::try_from(s.as_slice()).ok())
        .ok_or_else(|| malformed("its signature is not 64 bytes of base64url"))?;
    let read: Payload = serde_json::from_slice(&payload)
        .map_err(|e| Refusal::malformed(Artifact::License, format!("its payload is unreadable ({e})")))?;
    root.verify(Artifact::License, &read.key_id, &signed_message(LICENSE_FORMAT, &payload), &signature)?;
    let claims = LicenseClaims {
        org: read.org,
        plugin: read.plugin,
        kind: read.kind,
        issued_at: read.issued_at,
        expires_at: read.expires_at,
        grace_days: read.grace_days,
    };
    claims.check().map_err(|detail| Refusal::malformed(Artifact::License, detail))?;
    Ok(claims)
}

/// Checks that a token is signed by a trusted marketplace key, issued to `org` for `plugin`,
/// and not past its grace period at `now`.
pub fn check(token: &str, root: &TrustRoot, org: &str, plugin: &str, now: Timestamp) -> Result<LicenseState, Refusal> {
    let claims = verify_token(token, root)?;
    if claims.org != org {
        return Err(Refusal::OtherOrg { token_org: claims.org, org: org.to_owned() });
    }
    if claims.plugin != plugin {
        return Err(Refusal::OtherPlugin { token_plugin: claims.plugin, plugin: plugin.to_owned() });
    }
    claims.state_at(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_770_000_000 + second).expect("a time")
    }

    fn subscription() -> LicenseClaims {
        LicenseClaims {
            org: "org-7f3a".into(),
            plugin: "public-pool".into(),
            kind: LicenseKind::Subscription,
            issued_at: at(0),
            expires_at: Some(at(30 * DAY)),
            grace_days: 7,
        }
    }

    fn root_key() -> SecretKey {
        SecretKey::from_seed([1; 32])
    }

    fn root() -> TrustRoot {
        TrustRoot::new(root_key().public_key())
    }

    #[test]
    fn a_subscription_is_valid_then_in_grace_then_expired() {
        let token = issue(&subscription(), &root_key()).expect("issues");
        assert!(token.starts_with("tl1."), "{token}");
        let check = |now| check(&token, &root(), "org-7f3a", "public-pool", now);
        assert_eq!(check(at(DAY)), Ok(LicenseState::Valid { until: Some(at(30 * DAY)) }));
        assert_eq!(check(at(30 * DAY)), Ok(LicenseState::Grace { expired_at: at(30 * DAY), ends: at(37 * DAY) }));
        assert_eq!(check(at(37 * DAY - 1)), Ok(LicenseState::Grace { expired_at: at(30 * DAY), ends: at(37 * DAY) }));
        assert_eq!(
            check(at(37 * DAY)),
            Err(Refusal::Expired { plugin: "public-pool".into(), expired_at: at(30 * DAY), grace_ended: at(37 * DAY) })
        );
    }

    #[test]
    fn free_and_one_off_licenses_never_expire() {
        for kind in [LicenseKind::Free, LicenseKind::OneOff] {
            let claims = LicenseClaims { kind, expires_at: None, grace_days: 0, ..subscription() };
            let token = issue(&claims, &root_key()).expect("issues");
            assert_eq!(
                check(&token, &root(), "org-7f3a", "public-pool", at(100 * 365 * DAY)),
                Ok(LicenseState::Valid { until: None })
            );
            assert_eq!(verify_token(&token, &root()), Ok(claims));
        }
    }

    #[test]
    fn a_token_for_another_org_or_plugin_is_refused_as_such() {
        let token = issue(&subscription(), &root_key()).expect("issues");
        assert_eq!(
            check(&token, &root(), "org-other", "public-pool", at(0)),
            Err(Refusal::OtherOrg { token_org: "org-7f3a".into(), org: "org-other".into() })
        );
        assert_eq!(
            check(&token, &root(), "org-7f3a", "attendance", at(0)),
            Err(Refusal::OtherPlugin { token_plugin: "public-pool".into(), plugin: "attendance".into() })
        );
    }

    #[test]
    fn an_edited_token_does_not_verify() {
        let token = issue(&subscription(), &root_key()).expect("issues");
        let [prefix, payload, signature] = token.split('.').collect::<Vec<_>>()[..] else { panic!("three parts") };
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("utf-8");
        let later = json.replace(&at(30 * DAY).to_string(), &at(3000 * DAY).to_string());
        assert_ne!(later, json);
        let forged = format!("{prefix}.{}.{signature}", URL_SAFE_NO_PAD.encode(later));
        assert_eq!(
            check(&forged, &root(), "org-7f3a", "public-pool", at(0)),
            Err(Refusal::BadSignature { what: Artifact::License })
        );
    }

    #[test]
    fn a_token_signed_by_an_untrusted_key_is_unknown_or_bad() {
        let stranger = SecretKey::from_seed([9; 32]);
        let token = issue(&subscription(), &stranger).expect("issues");
        assert_eq!(
            check(&token, &root(), "org-7f3a", "public-pool", at(0)),
            Err(Refusal::UnknownRoot { what: Artifact::License, key_id: stranger.key_id() })
        );
        // The same, claiming the trusted key's id.
        let payload = Payload {
            org: "org-7f3a".into(),
            plugin: "public-pool".into(),
            kind: LicenseKind::OneOff,
            issued_at: at(0),
            expires_at: None,
            grace_days: 0,
            key_id: root_key().key_id(),
        };
        let payload = serde_json::to_vec(&payload).expect("json");
        let signature = stranger.sign(&signed_message(LICENSE_FORMAT, &payload));
        let forged = format!("tl1.{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(signature));
        assert_eq!(
            check(&forged, &root(), "org-7f3a", "public-pool", at(0)),
            Err(Refusal::BadSignature { what: Artifact::License })
        );
    }

    #[test]
    fn malformed_tokens_say_what_is_wrong() {
        let token = issue(&subscription(), &root_key()).expect("issues");
        let cases = [
            (String::new(), "three parts"),
            (token.replacen("tl1", "tl2", 1), "does not start with `tl1.`"),
            (format!("{token}.extra"), "three parts"),
            (token.replacen('.', ".*", 1), "payload is not base64url"),
            (token[..token.len() - 2].to_owned(), "signature is not 64 bytes"),
            (format!("tl1.{}.{}", URL_SAFE_NO_PAD.encode("{}"), URL_SAFE_NO_PAD.encode([0; 64])), "unreadable"),
        ];
        for (bad, says) in cases {
            let err = verify_token(&bad, &root()).expect_err(says);
            assert!(matches!(err, Refusal::Malformed { what: Artifact::License, .. }), "{err}");
            assert!(err.to_string().contains(says), "{says:?} not in {err}");
        }
        let long = "x".repeat(MAX_TOKEN_BYTES + 1);
        assert!(matches!(verify_token(&long, &root()), Err(Refusal::TooLarge { .. })));
    }

    #[test]
    fn inconsistent_claims_are_not_issued() {
        let cases = [
            LicenseClaims { expires_at: None, ..subscription() },
            LicenseClaims { kind: LicenseKind::OneOff, ..subscription() },
            LicenseClaims { grace_days: MAX_GRACE_DAYS + 1, ..subscription() },
            LicenseClaims { org: String::new(), ..subscription() },
        ];
        for claims in cases {
            let err = issue(&claims, &root_key()).expect_err("inconsistent");
            assert!(matches!(err, Refusal::Malformed { what: Artifact::License, .. }), "{claims:?}: {err}");
        }
    }

    #[test]
    fn a_pasted_token_with_white_space_around_it_reads() {
        let token = issue(&subscription(), &root_key()).expect("issues");
        assert!(check(&format!("  {token}\n"), &root(), "org-7f3a", "public-pool", at(0)).is_ok());
    }
}
