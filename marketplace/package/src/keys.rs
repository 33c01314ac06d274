//! Ed25519 keys of the marketplace and of publishers, their text files, their ids, and the
//! host's trust root (the marketplace public keys it believes).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::refusal::{Artifact, Refusal};

/// What a secret key file starts with; the base64 of the 32-byte seed follows.
pub const SECRET_KEY_PREFIX: &str = "tessera-secret-key-v1:";

/// What a public key file starts with; the base64 of the 32-byte key follows.
pub const PUBLIC_KEY_PREFIX: &str = "tessera-public-key-v1:";

/// Why a key file or key id could not be read, or a key not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text does not start with the prefix of the key kind expected.
    #[error("this is not a Tessera {expected} key: {hint}")]
    NotAKeyFile {
        /// `secret` or `public`.
        expected: &'static str,
        /// What the text looks like instead, and what to give.
        hint: String,
    },
    /// The part after the prefix is not base64.
    #[error("the {kind} key is not valid base64 ({detail}); copy the whole line of the key file")]
    NotBase64 {
        /// `secret` or `public`.
        kind: &'static str,
        /// The decoder's complaint.
        detail: String,
    },
    /// The key is not 32 bytes long.
    #[error(
        "the {kind} key holds {found} bytes where an Ed25519 key has 32; the file is cut short or from another tool"
    )]
    WrongLength {
        /// `secret` or `public`.
        kind: &'static str,
        /// How many bytes it holds.
        found: usize,
    },
    /// The 32 bytes are not a usable Ed25519 public key.
    #[error("the public key is not a usable Ed25519 key (an invalid or weak curve point); generate a new key pair")]
    NotAKey,
    /// A key id is not 16 lower-case hex digits.
    #[error("{0:?} is not a key id; a key id is 16 lower-case hex digits, as `key_id()` prints it")]
    BadKeyId(String),
    /// The operating system's random number generator failed.
    #[error(
        "the system's random number generator failed ({0}); try again, and check the machine's entropy source if it persists"
    )]
    Random(String),
}

/// A key's short name: the first 16 hex digits of the SHA-256 of its 32 public key bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl KeyId {
    /// Reads a key id written as 16 lower-case hex digits.
    pub fn parse(text: &str) -> Result<KeyId, KeyError> {
        if text.len() == 16 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(KeyId(text.to_owned()))
        } else {
            // Untrusted text ends up in a message: keep it short.
            Err(KeyError::BadKeyId(text.chars().take(40).collect()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for KeyId {
    type Error = KeyError;
    fn try_from(text: String) -> Result<KeyId, KeyError> {
        KeyId::parse(&text)
    }
}

impl From<KeyId> for String {
    fn from(id: KeyId) -> String {
        id.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An Ed25519 secret key: the marketplace's root key or a publisher's key. Its `Debug` shows
/// only its key id, and its memory is wiped when it is dropped.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

/// Makes a new secret key from the operating system's random number generator.
pub fn keygen() -> Result<SecretKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(SecretKey::from_seed(seed))
}

impl SecretKey {
    /// The key whose 32-byte seed this is (RFC 8032's secret key). For keys kept elsewhere
    /// and for reproducible tests; new keys come from [`keygen`].
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(SigningKey::from_bytes(&seed))
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The id of the public half.
    pub fn key_id(&self) -> KeyId {
        self.public_key().key_id()
    }

    /// The key file's content: `tessera-secret-key-v1:` and the base64 of the seed, one line.
    pub fn to_text(&self) -> String {
        format!("{SECRET_KEY_PREFIX}{}", STANDARD.encode(self.0.to_bytes()))
    }

    /// Reads a secret key file's content (surrounding white space is ignored).
    pub fn parse(text: &str) -> Result<SecretKey, KeyError> {
        let text = text.trim();
        let Some(encoded) = text.strip_prefix(SECRET_KEY_PREFIX) else {
            let hint = if text.starts_with(PUBLIC_KEY_PREFIX) {
                "this is a public key; signing needs the secret key file (`tessera-secret-key-v1:…`)".to_owned()
            } else {
                format!("a secret key file holds one line starting with `{SECRET_KEY_PREFIX}`")
            };
            return Err(KeyError::NotAKeyFile { expected: "secret", hint });
        };
        Ok(SecretKey::from_seed(decode_32("secret", encoded)?))
    }

    /// Signs a message (the caller adds the domain separation of its format).
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.key_id())
    }
}

impl FromStr for SecretKey {
    type Err = KeyError;
    fn from_str(text: &str) -> Result<SecretKey, KeyError> {
        SecretKey::parse(text)
    }
}

/// An Ed25519 public key. Weak keys (small-order points) are refused when read, so a key that
/// any signature would verify against cannot be installed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// The key of these 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PublicKey, KeyError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::NotAKey)?;
        if key.is_weak() {
            return Err(KeyError::NotAKey);
        }
        Ok(PublicKey(key))
    }

    /// The 32 bytes of the key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The key's id: the first 16 hex digits of the SHA-256 of its bytes.
    pub fn key_id(&self) -> KeyId {
        let digest = Sha256::digest(self.0.as_bytes());
        KeyId(hex(&digest[..8]))
    }

    /// The key file's content: `tessera-public-key-v1:` and the base64 of the key, one line.
    pub fn to_text(&self) -> String {
        format!("{PUBLIC_KEY_PREFIX}{}", STANDARD.encode(self.0.as_bytes()))
    }

    /// Reads a public key file's content (surrounding white space is ignored).
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let text = text.trim();
        let Some(encoded) = text.strip_prefix(PUBLIC_KEY_PREFIX) else {
            let hint = if text.starts_with(SECRET_KEY_PREFIX) {
                "this is a secret key, which must not be handed out; give the public key file \
                 (`tessera-public-key-v1:…`)"
                    .to_owned()
            } else {
                format!("a public key file holds one line starting with `{PUBLIC_KEY_PREFIX}`")
            };
            return Err(KeyError::NotAKeyFile { expected: "public", hint });
        };
        PublicKey::from_bytes(&decode_32("public", encoded)?)
    }

    /// Whether `signature` is this key's signature of `message`, by the strict rules (no
    /// malleable signatures, no small-order points).
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.0.verify_strict(message, &Signature::from_bytes(signature)).is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(text: &str) -> Result<PublicKey, KeyError> {
        PublicKey::parse(text)
    }
}

fn decode_32(kind: &'static str, encoded: &str) -> Result<[u8; 32], KeyError> {
    let bytes = STANDARD.decode(encoded).map_err(|e| KeyError::NotBase64 { kind, detail: e.to_string() })?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| KeyError::WrongLength { kind, found: bytes.len() })
}

/// The marketplace public keys a host believes: certificates, license tokens and revocation
/// lists must be signed by one of them. More than one key lets the marketplace roll its key
/// over: the host trusts old and new until the old one's items are gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRoot {
    keys: Vec<PublicKey>,
}

impl TrustRoot {
    /// Trusts one marketplace key.
    pub fn new(key: PublicKey) -> TrustRoot {
        TrustRoot { keys: vec![key] }
    }

    /// Trusts several marketplace keys (a key roll-over).
    pub fn with_keys(keys: impl IntoIterator<Item = PublicKey>) -> TrustRoot {
        TrustRoot { keys: keys.into_iter().collect() }
    }

    /// The trusted key of this id.
    pub fn key(&self, id: &KeyId) -> Option<&PublicKey> {
        self.keys.iter().find(|k| &k.key_id() == id)
    }

    /// The trusted keys.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Checks that the trusted key `key_id` signed `message`.
    pub(crate) fn verify(
        &self,
        what: Artifact,
        key_id: &KeyId,
        message: &[u8],
        signature: &[u8; 64],
    ) -> Result<(), Refusal> {
        let key = self.key(key_id).ok_or_else(|| Refusal::UnknownRoot { what, key_id: key_id.clone() })?;
        if key.verifies(message, signature) {
            Ok(())
        } else if what == Artifact::Certificate {
            Err(Refusal::BadCertificate { detail: "the marketplace's signature does not match it".into() })
        } else {
            Err(Refusal::BadSignature { what })
        }
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SecretKey {
        SecretKey::from_seed([n; 32])
    }

    #[test]
    fn key_files_read_back_what_was_written() {
        let secret = keygen().expect("the OS has randomness");
        let again = SecretKey::parse(&format!("  {}\n", secret.to_text())).expect("reads its own text");
        assert_eq!(again.public_key(), secret.public_key());
        let public = PublicKey::parse(&secret.public_key().to_text()).expect("reads its own text");
        assert_eq!(public, secret.public_key());
        assert!(secret.to_text().starts_with("tessera-secret-key-v1:"));
        assert!(public.to_string().starts_with("tessera-public-key-v1:"));
        assert_ne!(keygen().expect("random").key_id(), secret.key_id(), "two new keys differ");
    }

    #[test]
    fn key_ids_are_sixteen_hex_digits_of_the_public_key_hash() {
        let public = key(7).public_key();
        let full = hex(&Sha256::digest(public.to_bytes()));
        assert_eq!(public.key_id().as_str(), &full[..16]);
        assert_ne!(key(8).key_id(), public.key_id());
        assert!(KeyId::parse("0123456789ABCDEF").is_err(), "upper case is not how ids are written");
        assert!(KeyId::parse("0123").is_err());
    }

    #[test]
    fn a_mixed_up_key_file_is_named_for_what_it_is() {
        let secret = key(1);
        let err = SecretKey::parse(&secret.public_key().to_text()).expect_err("a public key is no secret key");
        assert!(err.to_string().contains("this is a public key"), "{err}");
        let err = PublicKey::parse(&secret.to_text()).expect_err("a secret key is no public key");
        assert!(err.to_string().contains("this is a secret key"), "{err}");
        let err = PublicKey::parse("ssh-ed25519 AAAA").expect_err("another tool's key");
        assert!(matches!(err, KeyError::NotAKeyFile { expected: "public", .. }), "{err}");
    }

    #[test]
    fn damaged_key_files_are_refused_with_the_reason() {
        let err = PublicKey::parse("tessera-public-key-v1:not base64!").expect_err("not base64");
        assert!(matches!(err, KeyError::NotBase64 { kind: "public", .. }), "{err}");
        let short = format!("tessera-secret-key-v1:{}", STANDARD.encode([1u8; 31]));
        assert_eq!(
            SecretKey::parse(&short).expect_err("31 bytes"),
            KeyError::WrongLength { kind: "secret", found: 31 }
        );
        // The identity point: every signature of a weak key "verifies".
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = format!("tessera-public-key-v1:{}", STANDARD.encode(identity));
        assert_eq!(PublicKey::parse(&weak).expect_err("weak"), KeyError::NotAKey);
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let secret = key(3);
        let shown = format!("{secret:?}");
        assert!(shown.contains(secret.key_id().as_str()));
        let seed = STANDARD.encode([3u8; 32]);
        assert!(!shown.contains(&seed) && !shown.contains("[3, 3"), "{shown}");
    }

    #[test]
    fn a_trust_root_knows_its_keys_and_only_them() {
        let (old, new, other) = (key(1), key(2), key(3));
        let root = TrustRoot::with_keys([old.public_key(), new.public_key()]);
        let message = b"tessera-test\0hello";
        for signer in [&old, &new] {
            assert_eq!(root.verify(Artifact::License, &signer.key_id(), message, &signer.sign(message)), Ok(()));
        }
        let forged = other.sign(message);
        assert_eq!(
            root.verify(Artifact::License, &other.key_id(), message, &forged),
            Err(Refusal::UnknownRoot { what: Artifact::License, key_id: other.key_id() })
        );
        assert_eq!(
            root.verify(Artifact::License, &old.key_id(), message, &forged),
            Err(Refusal::BadSignature { what: Artifact::License })
        );
        assert!(matches!(
            root.verify(Artifact::Certificate, &old.key_id(), message, &forged),
            Err(Refusal::BadCertificate { .. })
        ));
    }
}
