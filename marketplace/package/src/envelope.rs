//! The signed JSON envelope of the marketplace's documents (publisher certificates and
//! revocation lists): the payload travels as the exact bytes that were signed, so nothing has
//! to be put in a canonical form to be checked.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::keys::{KeyId, SecretKey, TrustRoot};
use crate::refusal::{Artifact, Refusal};

/// The envelope as it is written: `{"format","key_id","payload","signature"}`, in this order.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeText {
    format: String,
    key_id: String,
    payload: String,
    signature: String,
}

/// A payload signed by a marketplace key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    /// The format name, which is also the signature's domain separator.
    pub format: &'static str,
    /// The marketplace key that signed.
    pub key_id: KeyId,
    /// The signed JSON, as signed.
    pub payload: Vec<u8>,
    pub signature: [u8; 64],
}

/// What a signature of a document covers: its format name, a zero byte, and the payload.
pub(crate) fn signed_message(format: &str, payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(format.len() + 1 + payload.len());
    message.extend_from_slice(format.as_bytes());
    message.push(0);
    message.extend_from_slice(payload);
    message
}

impl Envelope {
    /// Signs a payload with a marketplace key.
    pub fn seal(format: &'static str, payload: Vec<u8>, key: &SecretKey) -> Envelope {
        let signature = key.sign(&signed_message(format, &payload));
        Envelope { format, key_id: key.key_id(), payload, signature }
    }

    /// The envelope's JSON text. Written the same way every time, which is what makes a
    /// package's bytes canonical.
    pub fn to_text(&self) -> String {
        let text = EnvelopeText {
            format: self.format.to_owned(),
            key_id: self.key_id.to_string(),
            payload: URL_SAFE_NO_PAD.encode(&self.payload),
            signature: URL_SAFE_NO_PAD.encode(self.signature),
        };
        // A struct of four strings always serialises.
        serde_json::to_string(&text).unwrap_or_default()
    }

    /// Reads an envelope of the format expected, without checking its signature.
    pub fn parse(text: &[u8], format: &'static str, what: Artifact, limit: usize) -> Result<Envelope, Refusal> {
        if text.len() > limit {
            return Err(Refusal::TooLarge { what, size: text.len() as u64, limit: limit as u64 });
        }
        let raw: EnvelopeText = serde_json::from_slice(text)
            .map_err(|e| Refusal::malformed(what, format!("it is not a signed {what} ({e})")))?;
        if raw.format != format {
            let found: String = raw.format.chars().take(60).collect();
            return Err(Refusal::malformed(what, format!("its format is {found:?}, not {format:?}")));
        }
        let key_id = KeyId::parse(&raw.key_id).map_err(|e| Refusal::malformed(what, e.to_string()))?;
        let payload = URL_SAFE_NO_PAD
            .decode(&raw.payload)
            .map_err(|e| Refusal::malformed(what, format!("its payload is not base64url ({e})")))?;
        let signature = URL_SAFE_NO_PAD
            .decode(&raw.signature)
            .ok()
            .and_then(|s| <[u8; 64]>::try_from(s.as_slice()).ok())
            .ok_or_else(|| Refusal::malformed(what, "its signature is not 64 bytes of base64url"))?;
        Ok(Envelope { format, key_id, payload, signature })
    }

    /// Checks that a trusted marketplace key signed the payload.
    pub fn verify(&self, root: &TrustRoot, what: Artifact) -> Result<(), Refusal> {
        root.verify(what, &self.key_id, &signed_message(self.format, &self.payload), &self.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT: &str = "tessera-test-v1";

    #[test]
    fn an_envelope_reads_back_and_verifies_under_its_root_only() {
        let root_key = SecretKey::from_seed([1; 32]);
        let envelope = Envelope::seal(FORMAT, br#"{"a":1}"#.to_vec(), &root_key);
        let text = envelope.to_text();
        let back = Envelope::parse(text.as_bytes(), FORMAT, Artifact::RevocationList, 1 << 10).expect("reads");
        assert_eq!(back, envelope);
        assert_eq!(back.verify(&TrustRoot::new(root_key.public_key()), Artifact::RevocationList), Ok(()));
        let other = TrustRoot::new(SecretKey::from_seed([2; 32]).public_key());
        assert!(matches!(back.verify(&other, Artifact::RevocationList), Err(Refusal::UnknownRoot { .. })));
    }

    #[test]
    fn the_format_name_separates_domains() {
        let root_key = SecretKey::from_seed([1; 32]);
        let envelope = Envelope::seal(FORMAT, b"{}".to_vec(), &root_key);
        let text = envelope.to_text().replace(FORMAT, "tessera-other-v1");
        let err = Envelope::parse(text.as_bytes(), FORMAT, Artifact::License, 1 << 10).expect_err("other format");
        assert!(err.to_string().contains("tessera-other-v1"), "{err}");
        // Relabelled as another format, the same signature no longer verifies.
        let relabelled = Envelope { format: "tessera-other-v1", ..envelope };
        assert_eq!(
            relabelled.verify(&TrustRoot::new(root_key.public_key()), Artifact::License),
            Err(Refusal::BadSignature { what: Artifact::License })
        );
    }

    #[test]
    fn damaged_envelopes_are_malformed_and_big_ones_unread() {
        let root_key = SecretKey::from_seed([1; 32]);
        let text = Envelope::seal(FORMAT, b"{}".to_vec(), &root_key).to_text();
        for damaged in [
            text.replace("\"format\"", "\"formats\""),
            text.replace("\"signature\":\"", "\"signature\":\"AA"),
            text.replace("\"payload\":\"", "\"payload\":\"*"),
            text[..text.len() - 1].to_owned(),
        ] {
            let err = Envelope::parse(damaged.as_bytes(), FORMAT, Artifact::License, 1 << 10).expect_err("damaged");
            assert!(matches!(err, Refusal::Malformed { what: Artifact::License, .. }), "{damaged}: {err}");
        }
        let err = Envelope::parse(text.as_bytes(), FORMAT, Artifact::License, 10).expect_err("too large");
        assert!(matches!(err, Refusal::TooLarge { limit: 10, .. }), "{err}");
    }
}
