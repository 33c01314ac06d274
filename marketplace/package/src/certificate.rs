//! Publisher certificates: the marketplace vouches, with its root key, that a publisher key
//! belongs to a publisher and may sign packages of the plugins it lists. A host checks one
//! with nothing but the marketplace's public key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::keys::{KeyId, PublicKey, SecretKey, TrustRoot};
use crate::refusal::{Artifact, Refusal};

/// The envelope format of a certificate, also its signature's domain separator.
pub const CERTIFICATE_FORMAT: &str = "tessera-publisher-cert-v1";

/// The largest certificate read.
pub const MAX_CERTIFICATE_BYTES: usize = 16 << 10;

/// The most plugin ids one certificate lists.
pub const MAX_CERTIFIED_PLUGINS: usize = 200;

/// What the marketplace says of a publisher: its id, its key, and the plugins it may publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    /// The publisher's account id at the marketplace.
    pub id: String,
    /// The key its packages are signed with.
    pub key: PublicKey,
    /// The plugin ids it may publish; `*` for any (the marketplace's own account).
    pub plugins: Vec<String>,
    /// When the marketplace issued the certificate.
    pub issued_at: Timestamp,
}

impl Publisher {
    /// Whether the publisher may publish this plugin.
    pub fn may_publish(&self, plugin: &str) -> bool {
        self.plugins.iter().any(|p| p == "*" || p == plugin)
    }

    fn check(&self) -> Result<(), String> {
        if self.id.is_empty() || self.id.len() > 100 || self.id.chars().any(char::is_control) {
            return Err("the publisher id must be 1 to 100 characters without control characters".into());
        }
        if self.plugins.is_empty() || self.plugins.len() > MAX_CERTIFIED_PLUGINS {
            return Err(format!("a certificate lists 1 to {MAX_CERTIFIED_PLUGINS} plugin ids"));
        }
        if let Some(bad) = self.plugins.iter().find(|p| *p != "*" && !is_plugin_id(p)) {
            let bad: String = bad.chars().take(60).collect();
            return Err(format!("{bad:?} is not a plugin id"));
        }
        Ok(())
    }
}

/// Plugin ids as manifests write them: 2 to 40 lower-case letters, digits and dashes, starting
/// with a letter and not ending with a dash.
pub(crate) fn is_plugin_id(s: &str) -> bool {
    (2..=40).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-')
}

/// The signed payload of a certificate.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Claims {
    publisher: String,
    /// Standard base64 of the 32 key bytes.
    key: String,
    /// The key's id, for people reading the certificate; must match `key`.
    key_id: KeyId,
    plugins: Vec<String>,
    issued_at: Timestamp,
}

/// A publisher certificate as issued: a signed envelope. Reading one does not check it;
/// [`PublisherCert::verify`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherCert {
    envelope: Envelope,
}

impl PublisherCert {
    /// Issues a certificate for a publisher, signed with the marketplace's root key.
    pub fn issue(publisher: &Publisher, root: &SecretKey) -> Result<PublisherCert, Refusal> {
        publisher.check().map_err(|detail| Refusal::malformed(Artifact::Certificate, detail))?;
        let claims = Claims {
            publisher: publisher.id.clone(),
            key: STANDARD.encode(publisher.key.to_bytes()),
            key_id: publisher.key.key_id(),
            plugins: publisher.plugins.clone(),
            issued_at: publisher.issued_at,
        };
        let payload =
            serde_json::to_vec(&claims).map_err(|e| Refusal::malformed(Artifact::Certificate, e.to_string()))?;
        let cert = PublisherCert { envelope: Envelope::seal(CERTIFICATE_FORMAT, payload, root) };
        let size = cert.to_text().len();
        if size > MAX_CERTIFICATE_BYTES {
            return Err(Refusal::TooLarge {
                what: Artifact::Certificate,
                size: size as u64,
                limit: MAX_CERTIFICATE_BYTES as u64,
            });
        }
        Ok(cert)
    }

    /// Checks that a trusted marketplace key issued the certificate and that it is
    /// consistent, and returns what it says.
    pub fn verify(&self, root: &TrustRoot) -> Result<Publisher, Refusal> {
        self.envelope.verify(root, Artifact::Certificate)?;
        self.read_claims().map_err(|detail| Refusal::BadCertificate { detail })
    }

    /// The marketplace key that signed the certificate.
    pub fn root_key_id(&self) -> &KeyId {
        &self.envelope.key_id
    }

    /// What the certificate says, unchecked: for a publisher's tools, which must not pretend a
    /// signature was verified.
    pub fn unverified_publisher(&self) -> Result<Publisher, Refusal> {
        self.read_claims().map_err(|detail| Refusal::malformed(Artifact::Certificate, detail))
    }

    fn read_claims(&self) -> Result<Publisher, String> {
        let claims: Claims =
            serde_json::from_slice(&self.envelope.payload).map_err(|e| format!("its content is unreadable ({e})"))?;
        let bytes = STANDARD
            .decode(&claims.key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .ok_or("its publisher key is not 32 bytes of base64")?;
        let key = PublicKey::from_bytes(&bytes).map_err(|e| e.to_string())?;
        if key.key_id() != claims.key_id {
            return Err(format!("it names key id {} for a key whose id is {}", claims.key_id, key.key_id()));
        }
        let publisher = Publisher { id: claims.publisher, key, plugins: claims.plugins, issued_at: claims.issued_at };
        publisher.check()?;
        Ok(publisher)
    }

    /// The certificate file's content: one line of JSON.
    pub fn to_text(&self) -> String {
        self.envelope.to_text()
    }

    /// Reads a certificate file's content (surrounding white space is ignored).
    pub fn parse(text: &str) -> Result<PublisherCert, Refusal> {
        Self::from_bytes(text.trim().as_bytes())
    }

    /// Reads a certificate from its exact bytes.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<PublisherCert, Refusal> {
        let envelope = Envelope::parse(bytes, CERTIFICATE_FORMAT, Artifact::Certificate, MAX_CERTIFICATE_BYTES)?;
        Ok(PublisherCert { envelope })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publisher(key: &SecretKey, plugins: &[&str]) -> Publisher {
        Publisher {
            id: "acme".into(),
            key: key.public_key(),
            plugins: plugins.iter().map(|p| (*p).to_owned()).collect(),
            issued_at: Timestamp::from_second(1_770_000_000).expect("a time"),
        }
    }

    #[test]
    fn a_certificate_verifies_under_its_root_and_says_who_may_publish_what() {
        let (root_key, publisher_key) = (SecretKey::from_seed([1; 32]), SecretKey::from_seed([2; 32]));
        let cert = PublisherCert::issue(&publisher(&publisher_key, &["public-pool"]), &root_key).expect("issues");
        let read = PublisherCert::parse(&format!("{}\n", cert.to_text())).expect("reads its text");
        assert_eq!(read, cert);
        let who = read.verify(&TrustRoot::new(root_key.public_key())).expect("verifies");
        assert_eq!(who, publisher(&publisher_key, &["public-pool"]));
        assert!(who.may_publish("public-pool") && !who.may_publish("attendance"));
        assert!(publisher(&publisher_key, &["*"]).may_publish("attendance"));
        assert_eq!(read.root_key_id(), &root_key.key_id());
    }

    #[test]
    fn a_certificate_from_another_root_is_unknown() {
        let (root_key, other_root, publisher_key) =
            (SecretKey::from_seed([1; 32]), SecretKey::from_seed([9; 32]), SecretKey::from_seed([2; 32]));
        let cert = PublisherCert::issue(&publisher(&publisher_key, &["pool"]), &other_root).expect("issues");
        assert_eq!(
            cert.verify(&TrustRoot::new(root_key.public_key())),
            Err(Refusal::UnknownRoot { what: Artifact::Certificate, key_id: other_root.key_id() })
        );
    }

    #[test]
    fn an_edited_certificate_does_not_verify() {
        let (root_key, publisher_key) = (SecretKey::from_seed([1; 32]), SecretKey::from_seed([2; 32]));
        let cert = PublisherCert::issue(&publisher(&publisher_key, &["pool"]), &root_key).expect("issues");
        // The publisher widens its own certificate to every plugin.
        let mut envelope = cert.envelope.clone();
        envelope.payload = String::from_utf8(envelope.payload).expect("json").replace("[\"pool\"]", "[\"*\"]").into();
        let widened = PublisherCert { envelope };
        let err = widened.verify(&TrustRoot::new(root_key.public_key())).expect_err("edited");
        assert!(matches!(err, Refusal::BadCertificate { .. }), "{err}");
        assert!(widened.unverified_publisher().expect("still readable").may_publish("anything"));
    }

    #[test]
    fn a_certificate_whose_key_id_disagrees_with_its_key_is_refused() {
        let (root_key, publisher_key) = (SecretKey::from_seed([1; 32]), SecretKey::from_seed([2; 32]));
        let claims = Claims {
            publisher: "acme".into(),
            key: STANDARD.encode(publisher_key.public_key().to_bytes()),
            key_id: root_key.key_id(),
            plugins: vec!["pool".into()],
            issued_at: Timestamp::UNIX_EPOCH,
        };
        let payload = serde_json::to_vec(&claims).expect("json");
        let cert = PublisherCert { envelope: Envelope::seal(CERTIFICATE_FORMAT, payload, &root_key) };
        let err = cert.verify(&TrustRoot::new(root_key.public_key())).expect_err("inconsistent");
        assert!(matches!(&err, Refusal::BadCertificate { detail } if detail.contains("names key id")), "{err}");
    }

    #[test]
    fn issuing_refuses_what_a_host_would_refuse() {
        let (root_key, publisher_key) = (SecretKey::from_seed([1; 32]), SecretKey::from_seed([2; 32]));
        for plugins in [&[][..], &["Not An Id"][..]] {
            let err = PublisherCert::issue(&publisher(&publisher_key, plugins), &root_key).expect_err("bad scope");
            assert!(matches!(err, Refusal::Malformed { what: Artifact::Certificate, .. }), "{err}");
        }
        let err = PublisherCert::parse("{\"format\":1}").expect_err("not a certificate");
        assert!(matches!(err, Refusal::Malformed { what: Artifact::Certificate, .. }), "{err}");
    }
}
