//! Why a package, certificate, license or revocation list is refused: one type for every
//! check of the marketplace, the host and the registry, so a refusal reads the same wherever it
//! is made and says what to do about it.

use std::fmt;

use jiff::Timestamp;

use crate::keys::KeyId;

/// The kind of signed item a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Artifact {
    /// A `.tpkg` package.
    Package,
    /// A publisher certificate.
    Certificate,
    /// A license token.
    License,
    /// A revocation list.
    RevocationList,
}

impl fmt::Display for Artifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Artifact::Package => "package",
            Artifact::Certificate => "publisher certificate",
            Artifact::License => "license token",
            Artifact::RevocationList => "revocation list",
        })
    }
}

/// Why something was refused. Every message names the problem and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The bytes or text are not a well-formed item of the kind expected.
    #[error("the {what} is damaged or is not one: {detail}; download it again from the marketplace")]
    Malformed {
        /// What was being read.
        what: Artifact,
        /// Where it went wrong.
        detail: String,
    },
    /// The item is larger than this format allows.
    #[error("the {what} is {size} bytes and the limit is {limit}; a larger one is refused unread")]
    TooLarge {
        /// What was being read or written.
        what: Artifact,
        /// Its size in bytes.
        size: u64,
        /// The most this format allows.
        limit: u64,
    },
    /// The package carries no signature.
    #[error(
        "the package is not signed; only packages signed by a publisher the marketplace vouches for are \
         installed, so install it from the marketplace or ask its publisher for a signed package"
    )]
    NotSigned,
    /// The item names a marketplace key this host does not trust.
    #[error(
        "the {what} was signed by marketplace key {key_id}, which this host does not trust; get it from the \
         marketplace this host is set up for, or add that marketplace's public key to the host's trust root"
    )]
    UnknownRoot {
        /// What was being checked.
        what: Artifact,
        /// The key it names.
        key_id: KeyId,
    },
    /// The publisher certificate does not verify, or what it says is inconsistent.
    #[error(
        "the publisher certificate is not valid ({detail}); ask the publisher for a package signed with a current certificate"
    )]
    BadCertificate {
        /// What is wrong with it.
        detail: String,
    },
    /// The signature does not match the signed content.
    #[error(
        "the {what}'s signature does not match its content: it was changed after it was signed, or signed \
         with another key; download it again from the marketplace"
    )]
    BadSignature {
        /// What was being checked.
        what: Artifact,
    },
    /// A secret key that is not the one a certificate or claim names was used to sign.
    #[error(
        "the signing key {found} is not key {expected} that the certificate names; sign with the secret key \
         the certificate was issued for"
    )]
    WrongKey {
        /// The key the certificate or claim names.
        expected: KeyId,
        /// The key used.
        found: KeyId,
    },
    /// The package is signed by a publisher the marketplace did not let publish that plugin.
    #[error(
        "publisher {publisher:?} may not publish plugin {plugin:?}: the marketplace's certificate does not list \
         it; install that plugin from its own publisher"
    )]
    NotPublisherOf {
        /// The publisher that signed.
        publisher: String,
        /// The plugin id the package's manifest names.
        plugin: String,
    },
    /// The license expired and its grace period is over.
    #[error(
        "the license for {plugin} expired at {expired_at} and its grace period ended at {grace_ended}; renew it \
         in the marketplace and install the new license token"
    )]
    Expired {
        /// The plugin the license is for.
        plugin: String,
        /// When the license expired.
        expired_at: Timestamp,
        /// When its grace period ended.
        grace_ended: Timestamp,
    },
    /// The license was issued to another organisation.
    #[error(
        "this license was issued to organisation {token_org:?}, not {org:?}; install the license the marketplace \
         issued to this organisation"
    )]
    OtherOrg {
        /// The organisation the token names.
        token_org: String,
        /// The organisation it was presented for.
        org: String,
    },
    /// The license is for another plugin.
    #[error("this license is for plugin {token_plugin:?}, not {plugin:?}; install the license of {plugin:?}")]
    OtherPlugin {
        /// The plugin the token names.
        token_plugin: String,
        /// The plugin it was presented for.
        plugin: String,
    },
    /// The marketplace revoked this plugin version or build.
    #[error(
        "{plugin} {version} was revoked by the marketplace ({reason}); upgrade to a version that is not revoked, or remove it"
    )]
    Revoked {
        /// The plugin.
        plugin: String,
        /// Its version.
        version: String,
        /// The reason the revocation list gives.
        reason: String,
    },
    /// The marketplace revoked the publisher key that signed the package.
    #[error(
        "publisher key {key_id} was revoked by the marketplace ({reason}); packages it signed are refused, so \
         install a version the publisher signed with its new key"
    )]
    RevokedKey {
        /// The revoked key.
        key_id: KeyId,
        /// The reason the revocation list gives.
        reason: String,
    },
    /// A revocation list older than one already accepted (a replay).
    #[error(
        "revocation list number {seq} is older than number {last}, which this host already accepted; it is \
         refused so that a withdrawn revocation cannot be replayed, so fetch the current list from the marketplace"
    )]
    Stale {
        /// The number of the list offered.
        seq: u64,
        /// The number of the last list accepted.
        last: u64,
    },
    /// The plugin needs a plugin API range this host does not serve (checked by the host).
    #[error("{0}")]
    ApiOutOfRange(String),
    /// The component's imports and the capabilities its manifest requests disagree (checked by
    /// the host).
    #[error("{0}")]
    CapabilityMismatch(String),
    /// The manifest of the package and the one inside its component disagree, or disagree with
    /// the catalog (checked by the host and the registry).
    #[error("{0}")]
    ManifestMismatch(String),
}

impl Refusal {
    /// A stable, short name of the reason (`bad_signature`, `expired`, …) for logs, metrics and
    /// API bodies, which keep working when the wording of a message changes.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed { .. } => "malformed",
            Refusal::TooLarge { .. } => "too_large",
            Refusal::NotSigned => "not_signed",
            Refusal::UnknownRoot { .. } => "unknown_root",
            Refusal::BadCertificate { .. } => "bad_certificate",
            Refusal::BadSignature { .. } => "bad_signature",
            Refusal::WrongKey { .. } => "wrong_key",
            Refusal::NotPublisherOf { .. } => "not_publisher_of",
            Refusal::Expired { .. } => "expired",
            Refusal::OtherOrg { .. } => "other_org",
            Refusal::OtherPlugin { .. } => "other_plugin",
            Refusal::Revoked { .. } => "revoked",
            Refusal::RevokedKey { .. } => "revoked_key",
            Refusal::Stale { .. } => "stale",
            Refusal::ApiOutOfRange(_) => "api_out_of_range",
            Refusal::CapabilityMismatch(_) => "capability_mismatch",
            Refusal::ManifestMismatch(_) => "manifest_mismatch",
        }
    }

    pub(crate) fn malformed(what: Artifact, detail: impl Into<String>) -> Refusal {
        Refusal::Malformed { what, detail: detail.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_says_what_to_do() {
        let at = Timestamp::UNIX_EPOCH;
        let key_id = KeyId::parse("0123456789abcdef").expect("a key id");
        let refusals = [
            Refusal::malformed(Artifact::Package, "the magic is missing"),
            Refusal::TooLarge { what: Artifact::Package, size: 60 << 20, limit: 50 << 20 },
            Refusal::NotSigned,
            Refusal::UnknownRoot { what: Artifact::License, key_id: key_id.clone() },
            Refusal::BadCertificate { detail: "its signature does not verify".into() },
            Refusal::BadSignature { what: Artifact::Package },
            Refusal::WrongKey { expected: key_id.clone(), found: key_id.clone() },
            Refusal::NotPublisherOf { publisher: "acme".into(), plugin: "pool".into() },
            Refusal::Expired { plugin: "pool".into(), expired_at: at, grace_ended: at },
            Refusal::OtherOrg { token_org: "a".into(), org: "b".into() },
            Refusal::OtherPlugin { token_plugin: "a".into(), plugin: "b".into() },
            Refusal::Revoked { plugin: "pool".into(), version: "1.0.0".into(), reason: "leaks data".into() },
            Refusal::RevokedKey { key_id, reason: "stolen".into() },
            Refusal::Stale { seq: 3, last: 4 },
        ];
        let mut codes = std::collections::BTreeSet::new();
        for refusal in &refusals {
            let message = refusal.to_string();
            let acts =
                ["download", "install", "ask", "get it", "sign with", "renew", "upgrade", "fetch", "refused unread"];
            assert!(acts.iter().any(|a| message.contains(a)), "{message}");
            assert!(codes.insert(refusal.code()), "{} twice", refusal.code());
        }
    }
}
