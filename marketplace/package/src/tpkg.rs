//! `.tpkg`, the marketplace's package: a plugin's manifest and component, and the publisher's
//! signature over both with the marketplace's certificate for the publisher key. Decoding
//! checks every length against the bytes that are there before it takes or allocates
//! anything, and a package has exactly one encoding.

use std::fmt;

use semver::Version;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::certificate::{MAX_CERTIFICATE_BYTES, Publisher, PublisherCert, is_plugin_id};
use crate::keys::{SecretKey, TrustRoot, hex};
use crate::refusal::{Artifact, Refusal};

/// The first four bytes of every package.
pub const MAGIC: [u8; 4] = *b"TPKG";

/// The format version this crate writes and reads (the byte after the magic).
pub const FORMAT_VERSION: u8 = 1;

/// The largest package, all sections included.
pub const MAX_PACKAGE_BYTES: usize = 50 << 20;

/// The largest manifest (`plugin.toml`).
pub const MAX_MANIFEST_BYTES: usize = 1 << 20;

/// What the package digest starts with, so that a package signature can never be taken for a
/// signature of anything else.
pub const PACKAGE_DOMAIN: &[u8] = b"tessera-package-v1\0";

/// Section tags, in the order the sections must appear.
const SECTION_MANIFEST: u8 = 1;
const SECTION_COMPONENT: u8 = 2;
const SECTION_SIGNATURE: u8 = 3;

/// The signature algorithm byte of a signature block.
const ALGORITHM_ED25519: u8 = 1;

/// Bytes of the magic and version, and of each section's tag and length.
const HEADER_BYTES: usize = 5;
const SECTION_HEADER_BYTES: usize = 5;
/// Bytes of a signature block before its certificate: algorithm and signature.
const SIGNATURE_FIXED_BYTES: usize = 1 + 64;

/// A publisher's signature of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSignature {
    /// The marketplace's certificate of the publisher key that signed.
    pub certificate: PublisherCert,
    /// The Ed25519 signature of [`package_digest`].
    pub signature: [u8; 64],
}

/// A decoded package: a manifest, a component and, when signed, a signature. Constructors
/// keep it within the format's limits, so it always encodes.
#[derive(Clone, PartialEq, Eq)]
pub struct Tpkg {
    manifest: String,
    component: Vec<u8>,
    signature: Option<PackageSignature>,
}

/// Who signed a package that verified, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBy {
    /// The publisher, as the marketplace's certificate says.
    pub publisher: Publisher,
    /// The plugin id the manifest names.
    pub plugin: String,
    /// The plugin version the manifest names.
    pub version: Version,
    /// Lower-case hex SHA-256 of the component: what revocation lists name a build by.
    pub component_sha256: String,
}

/// What a package signature signs: `SHA-256("tessera-package-v1\0" || u64le(len(manifest)) ||
/// manifest || u64le(len(component)) || component)`.
pub fn package_digest(manifest: &str, component: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(PACKAGE_DOMAIN);
    hasher.update((manifest.len() as u64).to_le_bytes());
    hasher.update(manifest.as_bytes());
    hasher.update((component.len() as u64).to_le_bytes());
    hasher.update(component);
    hasher.finalize().into()
}

/// Signs a package with a publisher key and the marketplace's certificate for that key.
/// Refuses a key the certificate is not for ([`Refusal::WrongKey`]) and a plugin it does not
/// list ([`Refusal::NotPublisherOf`]), which no host would accept.
pub fn sign(
    manifest: impl Into<String>,
    component: Vec<u8>,
    key: &SecretKey,
    certificate: PublisherCert,
) -> Result<Tpkg, Refusal> {
    let manifest = manifest.into();
    let publisher = certificate.unverified_publisher()?;
    if publisher.key != key.public_key() {
        return Err(Refusal::WrongKey { expected: publisher.key.key_id(), found: key.key_id() });
    }
    let (plugin, _) = manifest_head(&manifest)?;
    if !publisher.may_publish(&plugin) {
        return Err(Refusal::NotPublisherOf { publisher: publisher.id, plugin });
    }
    check_sizes(&manifest, &component, Some(certificate.to_text().len()))?;
    let signature = key.sign(&package_digest(&manifest, &component));
    Ok(Tpkg { manifest, component, signature: Some(PackageSignature { certificate, signature }) })
}

/// Checks a package's signature: the certificate must be issued by a trusted marketplace key,
/// the signature made by the certified key over this manifest and component, and the plugin
/// one the publisher may publish.
pub fn verify(package: &Tpkg, root: &TrustRoot) -> Result<SignedBy, Refusal> {
    let signed = package.signature.as_ref().ok_or(Refusal::NotSigned)?;
    let publisher = signed.certificate.verify(root)?;
    let digest = package_digest(&package.manifest, &package.component);
    if !publisher.key.verifies(&digest, &signed.signature) {
        return Err(Refusal::BadSignature { what: Artifact::Package });
    }
    let (plugin, version) = manifest_head(&package.manifest)?;
    if !publisher.may_publish(&plugin) {
        return Err(Refusal::NotPublisherOf { publisher: publisher.id, plugin });
    }
    Ok(SignedBy { publisher, plugin, version, component_sha256: package.component_sha256() })
}

/// The plugin id and version of a manifest, read leniently: the host checks the rest.
fn manifest_head(manifest: &str) -> Result<(String, Version), Refusal> {
    #[derive(Deserialize)]
    struct Head {
        plugin: HeadPlugin,
    }
    #[derive(Deserialize)]
    struct HeadPlugin {
        id: String,
        version: Version,
    }
    let head: Head = toml::from_str(manifest).map_err(|e| {
        Refusal::malformed(Artifact::Package, format!("its plugin.toml does not name the plugin: {}", e.message()))
    })?;
    if !is_plugin_id(&head.plugin.id) {
        let id: String = head.plugin.id.chars().take(60).collect();
        return Err(Refusal::malformed(Artifact::Package, format!("{id:?} in its plugin.toml is not a plugin id")));
    }
    Ok((head.plugin.id, head.plugin.version))
}

fn check_sizes(manifest: &str, component: &[u8], certificate: Option<usize>) -> Result<(), Refusal> {
    if manifest.is_empty() || component.is_empty() {
        return Err(Refusal::malformed(Artifact::Package, "a package needs a manifest and a component"));
    }
    if manifest.len() > MAX_MANIFEST_BYTES {
        return Err(Refusal::malformed(
            Artifact::Package,
            format!("its manifest is {} bytes; the limit is {MAX_MANIFEST_BYTES}", manifest.len()),
        ));
    }
    let size = HEADER_BYTES
        + SECTION_HEADER_BYTES
        + manifest.len()
        + SECTION_HEADER_BYTES
        + component.len()
        + certificate.map_or(0, |c| SECTION_HEADER_BYTES + SIGNATURE_FIXED_BYTES + c);
    if size > MAX_PACKAGE_BYTES {
        return Err(Refusal::TooLarge { what: Artifact::Package, size: size as u64, limit: MAX_PACKAGE_BYTES as u64 });
    }
    Ok(())
}

impl Tpkg {
    /// A package without a signature: what a developer installs on a host of their own that
    /// allows unsigned packages, and what [`verify`] refuses.
    pub fn unsigned(manifest: impl Into<String>, component: Vec<u8>) -> Result<Tpkg, Refusal> {
        let manifest = manifest.into();
        check_sizes(&manifest, &component, None)?;
        Ok(Tpkg { manifest, component, signature: None })
    }

    /// The manifest, `plugin.toml`.
    pub fn manifest(&self) -> &str {
        &self.manifest
    }

    /// The WebAssembly component.
    pub fn component(&self) -> &[u8] {
        &self.component
    }

    /// The component, taken out of the package.
    pub fn into_component(self) -> Vec<u8> {
        self.component
    }

    /// The signature, if the package is signed.
    pub fn signature(&self) -> Option<&PackageSignature> {
        self.signature.as_ref()
    }

    /// Lower-case hex SHA-256 of the component.
    pub fn component_sha256(&self) -> String {
        hex(&Sha256::digest(&self.component))
    }

    /// Lower-case hex SHA-256 of the whole package as [`Tpkg::encode`] writes it (which is
    /// the only way it can be written, so it is also the hash of the file it was read from).
    pub fn sha256(&self) -> String {
        hex(&Sha256::digest(self.encode()))
    }

    /// The package's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let certificate = self.signature.as_ref().map(|s| s.certificate.to_text());
        let mut out = Vec::with_capacity(
            HEADER_BYTES
                + 3 * SECTION_HEADER_BYTES
                + self.manifest.len()
                + self.component.len()
                + SIGNATURE_FIXED_BYTES
                + certificate.as_ref().map_or(0, String::len),
        );
        out.extend_from_slice(&MAGIC);
        out.push(FORMAT_VERSION);
        put_section(&mut out, SECTION_MANIFEST, &[self.manifest.as_bytes()]);
        put_section(&mut out, SECTION_COMPONENT, &[&self.component]);
        if let (Some(signed), Some(certificate)) = (&self.signature, &certificate) {
            put_section(
                &mut out,
                SECTION_SIGNATURE,
                &[&[ALGORITHM_ED25519], &signed.signature, certificate.as_bytes()],
            );
        }
        out
    }

    /// Reads a package. Refuses anything that is not exactly what [`Tpkg::encode`] writes.
    pub fn decode(bytes: &[u8]) -> Result<Tpkg, Refusal> {
        if bytes.len() > MAX_PACKAGE_BYTES {
            return Err(Refusal::TooLarge {
                what: Artifact::Package,
                size: bytes.len() as u64,
                limit: MAX_PACKAGE_BYTES as u64,
            });
        }
        let mut reader = Reader { bytes, at: 0 };
        if reader.take(4, "the magic").ok() != Some(&MAGIC[..]) {
            let detail = if bytes.starts_with(b"\0asm") {
                "this is a bare WebAssembly component, not a .tpkg package; package and sign it first"
            } else {
                "it does not start with TPKG, so it is not a .tpkg package"
            };
            return Err(Refusal::malformed(Artifact::Package, detail));
        }
        let version = reader.take(1, "the format version")?[0];
        if version != FORMAT_VERSION {
            return Err(Refusal::malformed(
                Artifact::Package,
                format!("it is format version {version} and this reader knows {FORMAT_VERSION}; upgrade to read it"),
            ));
        }
        let manifest = reader.section(SECTION_MANIFEST, "manifest")?;
        let manifest = std::str::from_utf8(manifest)
            .map_err(|e| Refusal::malformed(Artifact::Package, format!("its manifest is not UTF-8 ({e})")))?;
        let component = reader.section(SECTION_COMPONENT, "component")?;
        check_sizes(manifest, component, None)?;
        let signature = if reader.is_done() {
            None
        } else {
            Some(read_signature_block(reader.section(SECTION_SIGNATURE, "signature")?)?)
        };
        if !reader.is_done() {
            return Err(Refusal::malformed(
                Artifact::Package,
                format!("{} bytes follow its last section", bytes.len() - reader.at),
            ));
        }
        Ok(Tpkg { manifest: manifest.to_owned(), component: component.to_vec(), signature })
    }
}

impl fmt::Debug for Tpkg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tpkg")
            .field("manifest_bytes", &self.manifest.len())
            .field("component_sha256", &self.component_sha256())
            .field("signature", &self.signature)
            .finish()
    }
}

fn put_section(out: &mut Vec<u8>, tag: u8, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    out.push(tag);
    // Constructors keep every section far below 4 GiB.
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
    for part in parts {
        out.extend_from_slice(part);
    }
}

fn read_signature_block(block: &[u8]) -> Result<PackageSignature, Refusal> {
    let malformed = |detail: &str| Refusal::malformed(Artifact::Package, format!("its signature block {detail}"));
    let Some((&algorithm, rest)) = block.split_first() else { return Err(malformed("is empty")) };
    if algorithm != ALGORITHM_ED25519 {
        return Err(malformed(&format!("names signature algorithm {algorithm}, and only 1 (Ed25519) is known")));
    }
    let Some((signature, certificate)) = rest.split_first_chunk::<64>() else {
        return Err(malformed("is shorter than a signature"));
    };
    if certificate.len() > MAX_CERTIFICATE_BYTES {
        return Err(malformed(&format!("holds a certificate of {} bytes, above the limit", certificate.len())));
    }
    let parsed = PublisherCert::from_bytes(certificate).map_err(|e| match e {
        Refusal::Malformed { detail, .. } => malformed(&format!("holds no certificate: {detail}")),
        other => other,
    })?;
    // One encoding per package: its hash then names it whoever wrote it.
    if parsed.to_text().as_bytes() != certificate {
        return Err(malformed("holds a certificate that is not written in canonical form"));
    }
    Ok(PackageSignature { certificate: parsed, signature: *signature })
}

/// A cursor over a package's bytes that never reads past their end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn is_done(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Refusal> {
        let rest = &self.bytes[self.at..];
        if n > rest.len() {
            return Err(Refusal::malformed(
                Artifact::Package,
                format!("it ends in {what}: {n} bytes are needed at offset {} and {} remain", self.at, rest.len()),
            ));
        }
        self.at += n;
        Ok(&rest[..n])
    }

    fn section(&mut self, tag: u8, name: &str) -> Result<&'a [u8], Refusal> {
        let start = self.at;
        let found = self.take(1, &format!("the {name} section's tag"))?[0];
        if found != tag {
            return Err(Refusal::malformed(
                Artifact::Package,
                format!("the {name} section (tag {tag}) was expected at offset {start}, and tag {found} is there"),
            ));
        }
        let len = self.take(4, &format!("the {name} section's length"))?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        self.take(len, &format!("the {name} section"))
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;

    const MANIFEST: &str = "[plugin]\nid = \"public-pool\"\nversion = \"1.2.0\"\napi = \"^0.1\"\n";
    const COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    struct World {
        root_key: SecretKey,
        publisher_key: SecretKey,
        certificate: PublisherCert,
    }

    fn world() -> World {
        let root_key = SecretKey::from_seed([1; 32]);
        let publisher_key = SecretKey::from_seed([2; 32]);
        let publisher = Publisher {
            id: "acme".into(),
            key: publisher_key.public_key(),
            plugins: vec!["public-pool".into()],
            issued_at: Timestamp::UNIX_EPOCH,
        };
        let certificate = PublisherCert::issue(&publisher, &root_key).expect("issues");
        World { root_key, publisher_key, certificate }
    }

    impl World {
        fn root(&self) -> TrustRoot {
            TrustRoot::new(self.root_key.public_key())
        }
        fn signed(&self) -> Tpkg {
            sign(MANIFEST, COMPONENT.to_vec(), &self.publisher_key, self.certificate.clone()).expect("signs")
        }
    }

    #[test]
    fn a_signed_package_reads_back_byte_for_byte_and_verifies() {
        let w = world();
        let package = w.signed();
        let bytes = package.encode();
        assert_eq!(&bytes[..5], b"TPKG\x01");
        let read = Tpkg::decode(&bytes).expect("decodes");
        assert_eq!(read, package);
        assert_eq!(read.encode(), bytes, "one encoding per package");
        assert_eq!(read.sha256(), hex(&Sha256::digest(&bytes)));
        let signed = verify(&read, &w.root()).expect("verifies");
        assert_eq!(signed.plugin, "public-pool");
        assert_eq!(signed.version, Version::new(1, 2, 0));
        assert_eq!(signed.publisher.id, "acme");
        assert_eq!(signed.component_sha256, hex(&Sha256::digest(COMPONENT)));
        assert_eq!(read.manifest(), MANIFEST);
        assert_eq!(read.component(), COMPONENT);
    }

    #[test]
    fn an_unsigned_package_decodes_and_is_refused_as_unsigned() {
        let w = world();
        let package = Tpkg::unsigned(MANIFEST, COMPONENT.to_vec()).expect("packs");
        let read = Tpkg::decode(&package.encode()).expect("decodes");
        assert!(read.signature().is_none());
        assert_eq!(verify(&read, &w.root()), Err(Refusal::NotSigned));
    }

    #[test]
    fn the_digest_separates_manifest_from_component() {
        // Moving a byte across the boundary changes the digest although the concatenation
        // stays the same.
        assert_ne!(package_digest("ab", b"c"), package_digest("a", b"bc"));
        assert_ne!(package_digest("a", b"b"), {
            let mut plain = Sha256::new();
            plain.update(b"ab");
            <[u8; 32]>::from(plain.finalize())
        });
    }

    #[test]
    fn a_changed_manifest_or_component_breaks_the_signature() {
        let w = world();
        let package = w.signed();
        let signature = package.signature.clone();
        let edits = [
            Tpkg { manifest: MANIFEST.replace("1.2.0", "1.2.1"), signature: signature.clone(), ..package.clone() },
            Tpkg { component: b"\0asm\x0d\0\x01\0\0".to_vec(), signature, ..package },
        ];
        for edited in edits {
            assert_eq!(verify(&edited, &w.root()), Err(Refusal::BadSignature { what: Artifact::Package }));
        }
    }

    #[test]
    fn signing_with_a_key_the_certificate_is_not_for_is_refused() {
        let w = world();
        let stranger = SecretKey::from_seed([5; 32]);
        let err = sign(MANIFEST, COMPONENT.to_vec(), &stranger, w.certificate.clone()).expect_err("wrong key");
        assert_eq!(err, Refusal::WrongKey { expected: w.publisher_key.key_id(), found: stranger.key_id() });
        // Signed anyway, by hand, with the certificate of another key: the signature is bad.
        let mut package = w.signed();
        let forged = stranger.sign(&package_digest(MANIFEST, COMPONENT));
        if let Some(s) = package.signature.as_mut() {
            s.signature = forged;
        }
        assert_eq!(verify(&package, &w.root()), Err(Refusal::BadSignature { what: Artifact::Package }));
    }

    #[test]
    fn a_publisher_cannot_sign_a_plugin_its_certificate_does_not_list() {
        let w = world();
        let other = MANIFEST.replace("public-pool", "attendance");
        let err = sign(other.as_str(), COMPONENT.to_vec(), &w.publisher_key, w.certificate.clone())
            .expect_err("not its plugin");
        assert_eq!(err, Refusal::NotPublisherOf { publisher: "acme".into(), plugin: "attendance".into() });
        // Built by hand, the package still fails at the host.
        let signature = w.publisher_key.sign(&package_digest(&other, COMPONENT));
        let package = Tpkg {
            manifest: other,
            component: COMPONENT.to_vec(),
            signature: Some(PackageSignature { certificate: w.certificate.clone(), signature }),
        };
        assert!(matches!(verify(&package, &w.root()), Err(Refusal::NotPublisherOf { .. })));
    }

    #[test]
    fn a_package_certified_by_another_marketplace_is_unknown() {
        let w = world();
        let other_root = TrustRoot::new(SecretKey::from_seed([7; 32]).public_key());
        assert_eq!(
            verify(&w.signed(), &other_root),
            Err(Refusal::UnknownRoot { what: Artifact::Certificate, key_id: w.root_key.key_id() })
        );
    }

    #[test]
    fn damaged_bytes_are_refused_with_where_they_went_wrong() {
        let w = world();
        let bytes = w.signed().encode();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"PK\x03\x04".to_vec(), "does not start with TPKG"),
            (COMPONENT.to_vec(), "bare WebAssembly component"),
            ([&b"TPKG\x02"[..], &bytes[5..]].concat(), "format version 2"),
            (bytes[..bytes.len() - 1].to_vec(), "remain"),
            ([&bytes[..], b"x"].concat(), "1 bytes follow its last section"),
            (
                {
                    let mut b = bytes.clone();
                    b[5] = SECTION_COMPONENT;
                    b
                },
                "tag 2 is there",
            ),
            (
                {
                    // The manifest's length claims 4 GiB.
                    let mut b = bytes.clone();
                    b[6..10].copy_from_slice(&u32::MAX.to_le_bytes());
                    b
                },
                "remain",
            ),
        ];
        for (damaged, says) in cases {
            let err = Tpkg::decode(&damaged).expect_err(says);
            assert!(matches!(err, Refusal::Malformed { what: Artifact::Package, .. }), "{err}");
            assert!(err.to_string().contains(says), "{says:?} not in {err}");
        }
    }

    #[test]
    fn a_certificate_written_another_way_is_not_canonical() {
        let w = world();
        let package = w.signed();
        let text = w.certificate.to_text().replacen(':', ": ", 1);
        let mut bytes = Tpkg::unsigned(MANIFEST, COMPONENT.to_vec()).expect("packs").encode();
        let signature = package.signature.as_ref().expect("signed").signature;
        put_section(&mut bytes, SECTION_SIGNATURE, &[&[ALGORITHM_ED25519], &signature, text.as_bytes()]);
        let err = Tpkg::decode(&bytes).expect_err("not canonical");
        assert!(err.to_string().contains("canonical"), "{err}");
    }

    #[test]
    fn oversized_packages_are_refused_before_they_are_read() {
        let big = vec![0u8; MAX_PACKAGE_BYTES + 1];
        assert!(matches!(Tpkg::decode(&big), Err(Refusal::TooLarge { what: Artifact::Package, .. })));
        let err = Tpkg::unsigned(MANIFEST, vec![0u8; MAX_PACKAGE_BYTES]).expect_err("too large");
        assert!(matches!(err, Refusal::TooLarge { .. }), "{err}");
        let err = Tpkg::unsigned("x".repeat(MAX_MANIFEST_BYTES + 1), COMPONENT.to_vec()).expect_err("manifest");
        assert!(err.to_string().contains("manifest"), "{err}");
    }

    #[test]
    fn a_manifest_without_a_plugin_id_cannot_be_signed() {
        let w = world();
        let err = sign("[plugin]\nversion = \"1.0.0\"\n", COMPONENT.to_vec(), &w.publisher_key, w.certificate.clone())
            .expect_err("no id");
        assert!(matches!(err, Refusal::Malformed { what: Artifact::Package, .. }), "{err}");
    }
}
