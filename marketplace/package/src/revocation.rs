//! The revocation list: plugin versions, single builds and publisher keys the marketplace
//! withdrew, signed by its key and numbered, so that a host never goes back to an older list.

use jiff::Timestamp;
use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::keys::{KeyId, SecretKey, TrustRoot};
use crate::refusal::{Artifact, Refusal};
use crate::tpkg::SignedBy;

/// The envelope format of a revocation list, also its signature's domain separator.
pub const REVOCATION_FORMAT: &str = "tessera-revocations-v1";

/// The largest revocation list read.
pub const MAX_REVOCATION_LIST_BYTES: usize = 4 << 20;

/// A revoked plugin version range, or one build of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedVersion {
    /// The plugin id.
    pub plugin: String,
    /// The versions revoked, as a semver range; `*` for every version. A pre-release is
    /// matched as the release it leads to (`1.2.0-beta` as `1.2.0`), so that a range never lets
    /// a pre-release of a revoked version through.
    pub version: VersionReq,
    /// When set, only the build whose component has this lower-case hex SHA-256 is revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Why, in words a customer's admin reads.
    pub reason: String,
}

/// A revoked publisher key: every package it signed is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedKey {
    /// The publisher key's id.
    pub key_id: KeyId,
    /// Why.
    pub reason: String,
}

/// A revocation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationList {
    /// The list's number; every list the marketplace issues has a higher one than the last.
    pub seq: u64,
    /// When the marketplace issued it.
    pub issued_at: Timestamp,
    /// Revoked versions and builds.
    pub entries: Vec<RevokedVersion>,
    /// Revoked publisher keys.
    #[serde(default)]
    pub keys: Vec<RevokedKey>,
}

impl RevokedVersion {
    fn matches(&self, plugin: &str, version: &Version, sha256: &str) -> bool {
        self.plugin == plugin
            && version_matches(&self.version, version)
            && self.sha256.as_deref().is_none_or(|s| s == sha256)
    }
}

/// Whether `range` covers `version`, counting a pre-release as its release: semver's own rule
/// lets `1.2.0-beta` escape `*` and `<2.0.0`, which a revocation must not.
fn version_matches(range: &VersionReq, version: &Version) -> bool {
    if range.comparators.is_empty() || range.matches(version) {
        return true;
    }
    let release = Version::new(version.major, version.minor, version.patch);
    range.matches(&release)
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl RevocationList {
    /// Signs the list with the marketplace key: the JSON envelope a host fetches.
    pub fn sign(&self, key: &SecretKey) -> Result<String, Refusal> {
        self.check().map_err(|detail| Refusal::malformed(Artifact::RevocationList, detail))?;
        let payload =
            serde_json::to_vec(self).map_err(|e| Refusal::malformed(Artifact::RevocationList, e.to_string()))?;
        let text = Envelope::seal(REVOCATION_FORMAT, payload, key).to_text();
        if text.len() > MAX_REVOCATION_LIST_BYTES {
            return Err(Refusal::TooLarge {
                what: Artifact::RevocationList,
                size: text.len() as u64,
                limit: MAX_REVOCATION_LIST_BYTES as u64,
            });
        }
        Ok(text)
    }

    /// Reads a signed list and checks that a trusted marketplace key signed it.
    pub fn verify(bytes: &[u8], root: &TrustRoot) -> Result<RevocationList, Refusal> {
        let envelope =
            Envelope::parse(trim(bytes), REVOCATION_FORMAT, Artifact::RevocationList, MAX_REVOCATION_LIST_BYTES)?;
        envelope.verify(root, Artifact::RevocationList)?;
        let list: RevocationList = serde_json::from_slice(&envelope.payload)
            .map_err(|e| Refusal::malformed(Artifact::RevocationList, format!("its content is unreadable ({e})")))?;
        list.check().map_err(|detail| Refusal::malformed(Artifact::RevocationList, detail))?;
        Ok(list)
    }

    /// Reads a signed list that is to replace the last one accepted (numbered `last_seq`):
    /// one with a lower number is an old list replayed, and refused ([`Refusal::Stale`]). The
    /// same number again is the same list fetched twice.
    pub fn verify_update(bytes: &[u8], root: &TrustRoot, last_seq: Option<u64>) -> Result<RevocationList, Refusal> {
        let list = Self::verify(bytes, root)?;
        match last_seq {
            Some(last) if list.seq < last => Err(Refusal::Stale { seq: list.seq, last }),
            _ => Ok(list),
        }
    }

    /// The entry that revokes this build of this plugin version, if any.
    pub fn is_revoked(&self, plugin: &str, version: &Version, sha256: &str) -> Option<&RevokedVersion> {
        self.entries.iter().find(|e| e.matches(plugin, version, sha256))
    }

    /// The entry that revokes this publisher key, if any.
    pub fn is_key_revoked(&self, key_id: &KeyId) -> Option<&RevokedKey> {
        self.keys.iter().find(|k| &k.key_id == key_id)
    }

    /// Refuses a verified package the list revokes: its version or build
    /// ([`Refusal::Revoked`]) or the publisher key that signed it ([`Refusal::RevokedKey`]).
    pub fn check_package(&self, signed: &SignedBy) -> Result<(), Refusal> {
        if let Some(key) = self.is_key_revoked(&signed.publisher.key.key_id()) {
            return Err(Refusal::RevokedKey { key_id: key.key_id.clone(), reason: key.reason.clone() });
        }
        if let Some(entry) = self.is_revoked(&signed.plugin, &signed.version, &signed.component_sha256) {
            return Err(Refusal::Revoked {
                plugin: signed.plugin.clone(),
                version: signed.version.to_string(),
                reason: entry.reason.clone(),
            });
        }
        Ok(())
    }

    fn check(&self) -> Result<(), String> {
        for entry in &self.entries {
            if entry.plugin.is_empty() || entry.reason.trim().is_empty() {
                return Err("every entry names a plugin and a reason".into());
            }
            if let Some(sha) = &entry.sha256
                && !is_sha256_hex(sha)
            {
                return Err(format!("the sha256 of an entry for {} is not 64 lower-case hex digits", entry.plugin));
            }
        }
        if self.keys.iter().any(|k| k.reason.trim().is_empty()) {
            return Err("every revoked key has a reason".into());
        }
        Ok(())
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &bytes[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::Publisher;

    fn root_key() -> SecretKey {
        SecretKey::from_seed([1; 32])
    }

    fn root() -> TrustRoot {
        TrustRoot::new(root_key().public_key())
    }

    fn list(seq: u64) -> RevocationList {
        RevocationList {
            seq,
            issued_at: Timestamp::from_second(1_770_000_000).expect("a time"),
            entries: vec![
                RevokedVersion {
                    plugin: "public-pool".into(),
                    version: "<1.2.3".parse().expect("a range"),
                    sha256: None,
                    reason: "loses claims on upgrade".into(),
                },
                RevokedVersion {
                    plugin: "attendance".into(),
                    version: "*".parse().expect("a range"),
                    sha256: Some("ab".repeat(32)),
                    reason: "a build with a debug backdoor".into(),
                },
            ],
            keys: vec![RevokedKey { key_id: SecretKey::from_seed([6; 32]).key_id(), reason: "stolen".into() }],
        }
    }

    fn v(text: &str) -> Version {
        text.parse().expect("a version")
    }

    #[test]
    fn a_signed_list_verifies_and_names_what_it_revokes() {
        let text = list(4).sign(&root_key()).expect("signs");
        let read = RevocationList::verify(format!("{text}\n").as_bytes(), &root()).expect("verifies");
        assert_eq!(read, list(4));
        let other = "cd".repeat(32);
        let ab = "ab".repeat(32);
        assert_eq!(
            read.is_revoked("public-pool", &v("1.2.2"), &other).map(|e| e.reason.as_str()),
            Some("loses claims on upgrade")
        );
        assert!(read.is_revoked("public-pool", &v("1.2.3"), &other).is_none());
        assert!(read.is_revoked("call-popup", &v("1.0.0"), &other).is_none());
        // Only the one build of attendance.
        assert!(read.is_revoked("attendance", &v("9.0.0"), &ab).is_some());
        assert!(read.is_revoked("attendance", &v("9.0.0"), &other).is_none());
    }

    #[test]
    fn pre_releases_do_not_escape_a_revoked_range() {
        let read = list(1);
        let other = "cd".repeat(32);
        assert!(read.is_revoked("public-pool", &v("1.2.0-beta.1"), &other).is_some());
        assert!(read.is_revoked("attendance", &v("2.0.0-rc.1"), &"ab".repeat(32)).is_some());
        assert!(read.is_revoked("public-pool", &v("1.3.0-beta.1"), &other).is_none());
    }

    #[test]
    fn an_older_list_is_refused_as_a_replay() {
        let old = list(3).sign(&root_key()).expect("signs");
        assert_eq!(
            RevocationList::verify_update(old.as_bytes(), &root(), Some(4)),
            Err(Refusal::Stale { seq: 3, last: 4 })
        );
        assert!(RevocationList::verify_update(old.as_bytes(), &root(), Some(3)).is_ok(), "the same list again");
        assert!(RevocationList::verify_update(old.as_bytes(), &root(), None).is_ok(), "the first list");
    }

    #[test]
    fn a_list_not_from_the_marketplace_is_refused() {
        let stranger = SecretKey::from_seed([9; 32]);
        let forged = list(99).sign(&stranger).expect("signs");
        assert_eq!(
            RevocationList::verify(forged.as_bytes(), &root()),
            Err(Refusal::UnknownRoot { what: Artifact::RevocationList, key_id: stranger.key_id() })
        );
        // An emptied list under the real key id.
        let real = list(5).sign(&root_key()).expect("signs");
        let mut envelope =
            Envelope::parse(real.as_bytes(), REVOCATION_FORMAT, Artifact::RevocationList, 1 << 20).expect("reads");
        envelope.payload =
            serde_json::to_vec(&RevocationList { entries: vec![], keys: vec![], ..list(5) }).expect("json");
        assert_eq!(
            RevocationList::verify(envelope.to_text().as_bytes(), &root()),
            Err(Refusal::BadSignature { what: Artifact::RevocationList })
        );
    }

    #[test]
    fn a_package_is_refused_for_its_version_or_its_publisher_key() {
        let read = list(1);
        let signed = |key: &SecretKey, plugin: &str, version: &str| SignedBy {
            publisher: Publisher {
                id: "acme".into(),
                key: key.public_key(),
                plugins: vec!["*".into()],
                issued_at: Timestamp::UNIX_EPOCH,
            },
            plugin: plugin.into(),
            version: v(version),
            component_sha256: "cd".repeat(32),
        };
        let good = SecretKey::from_seed([2; 32]);
        assert_eq!(read.check_package(&signed(&good, "public-pool", "1.2.3")), Ok(()));
        assert_eq!(
            read.check_package(&signed(&good, "public-pool", "1.0.0")),
            Err(Refusal::Revoked {
                plugin: "public-pool".into(),
                version: "1.0.0".into(),
                reason: "loses claims on upgrade".into()
            })
        );
        let stolen = SecretKey::from_seed([6; 32]);
        assert_eq!(
            read.check_package(&signed(&stolen, "call-popup", "1.0.0")),
            Err(Refusal::RevokedKey { key_id: stolen.key_id(), reason: "stolen".into() })
        );
    }

    #[test]
    fn an_inconsistent_list_is_not_signed() {
        let mut bad = list(1);
        bad.entries[1].sha256 = Some("AB".repeat(32));
        assert!(matches!(bad.sign(&root_key()), Err(Refusal::Malformed { what: Artifact::RevocationList, .. })));
        let mut bad = list(1);
        bad.entries[0].reason = " ".into();
        assert!(matches!(bad.sign(&root_key()), Err(Refusal::Malformed { .. })));
    }
}
