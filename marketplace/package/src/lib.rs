//! The marketplace's trust layer: the Ed25519 keys of the marketplace and its publishers,
//! publisher certificates, signed `.tpkg` packages, license tokens bound to an organisation,
//! and the signed revocation list. The host checks every package it loads with this crate and
//! the registry server signs with it; every check runs offline, with nothing but the
//! marketplace's public key (the host's [`TrustRoot`]) and a clock. It depends on neither the
//! host nor wasmtime: it knows bytes, keys and signatures, not what a component does.
//!
//! Every refusal is a [`Refusal`], whose variant names the reason and whose message says what
//! to do about it.
//!
//! # Formats
//!
//! All signatures are Ed25519 (RFC 8032), verified by the strict rules (no malleable
//! signatures, no small-order keys). Every signed message starts with the name of its format
//! and a zero byte, so a signature of one kind of item is never valid for another. A key's id
//! is the first 16 lower-case hex digits of the SHA-256 of its 32 public key bytes.
//!
//! **Key files** are one line each: `tessera-secret-key-v1:` followed by the standard base64
//! of the 32-byte seed, and `tessera-public-key-v1:` followed by the standard base64 of the 32
//! public key bytes.
//!
//! **Signed documents** (publisher certificates and revocation lists) are a JSON envelope,
//! written on one line with the fields in this order:
//!
//! ```text
//! {"format":"<format name>","key_id":"<signing marketplace key id>",
//!  "payload":"<base64url, unpadded, of the payload JSON>","signature":"<base64url of 64 bytes>"}
//! ```
//!
//! The signature covers `format || 0x00 || payload` (the payload's bytes as signed, so
//! nothing is canonicalised).
//!
//! - A **publisher certificate** has format `tessera-publisher-cert-v1` and the payload
//!   `{"publisher","key" (standard base64 of the publisher's 32-byte public key),"key_id",
//!   "plugins" (plugin ids it may publish, or "*"),"issued_at" (RFC 3339)}`, signed by the
//!   marketplace's root key. `key_id` must be the id of `key`.
//! - A **revocation list** has format `tessera-revocations-v1` and the payload `{"seq" (its
//!   number, rising),"issued_at","entries":[{"plugin","version" (a semver range; "*" for
//!   all),"sha256" (optional: the component's hex SHA-256, to revoke one build),"reason"}],
//!   "keys":[{"key_id","reason"}] (revoked publisher keys)}`. A host refuses a list numbered
//!   lower than the last it accepted.
//!
//! **A `.tpkg` package** is binary; integers are little-endian:
//!
//! ```text
//! "TPKG"  format version (1 byte, = 1)
//! section 1, manifest:  tag 0x01, u32 length, plugin.toml (UTF-8, 1 byte to 1 MiB)
//! section 2, component: tag 0x02, u32 length, the WebAssembly component (at least 1 byte)
//! section 3, signature: tag 0x03, u32 length, then
//!                       algorithm (1 byte, 1 = Ed25519), signature (64 bytes),
//!                       the publisher certificate's envelope, in its canonical form (the rest)
//! ```
//!
//! Sections come in this order; the signature section is absent from an unsigned package, and
//! nothing follows the last section. The whole package is at most 50 MiB. A package has one
//! encoding only, so its SHA-256 names it. The signature is the publisher key's signature of
//! the 32-byte digest
//! `SHA-256("tessera-package-v1\0" || u64le(len(manifest)) || manifest || u64le(len(component)) || component)`,
//! and the publisher certificate must come from a trusted marketplace key and list the plugin
//! id the manifest names.
//!
//! **A license token** is text: `tl1.<base64url payload>.<base64url signature>`, unpadded. The
//! payload is JSON: `{"org" (the organisation's marketplace account id),"plugin","kind"
//! ("free", "one-off" or "subscription"),"issued_at","expires_at" (RFC 3339; null unless a
//! subscription),"grace_days" (0 to 365),"key_id" (the signing marketplace key)}`. The
//! signature covers `"tessera-license-v1" || 0x00 || payload`. A subscription is valid before
//! `expires_at`, in grace until `grace_days` later, and expired from then on.

#![forbid(unsafe_code)]

pub mod certificate;
mod envelope;
pub mod keys;
pub mod license;
pub mod refusal;
pub mod revocation;
pub mod tpkg;

pub use certificate::{Publisher, PublisherCert};
pub use jiff::Timestamp;
pub use keys::{KeyError, KeyId, PublicKey, SecretKey, TrustRoot, keygen};
pub use license::{LicenseClaims, LicenseKind, LicenseState};
pub use refusal::{Artifact, Refusal};
pub use revocation::{RevocationList, RevokedKey, RevokedVersion};
pub use tpkg::{PackageSignature, SignedBy, Tpkg, package_digest, sign, verify};
