//! Ten thousand tampered packages, certificates, license tokens and revocation lists, made
//! deterministically from one seed: none may be accepted, and each must be refused for a reason
//! its kind of tampering can produce (a flipped byte in a manifest may break its UTF-8 or its
//! signature, never anything else). The untampered originals are accepted, so a check that
//! refused everything would fail here too.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_package::license::{self, LicenseClaims, LicenseKind, LicenseState};
use tessera_package::{
    Publisher, PublisherCert, Refusal, RevocationList, RevokedKey, RevokedVersion, SecretKey, SignedBy, Timestamp,
    Tpkg, TrustRoot, sign, verify,
};

const SEED: u64 = 0x7e55_e7a0_2026_0001;
const ORG: &str = "org-7f3a";
const PLUGIN: &str = "public-pool";
const DAY: i64 = 86_400;

/// SplitMix64: a small, fixed generator, so every run makes the same mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
    fn nonzero_byte(&mut self) -> u8 {
        1 + self.below(255) as u8
    }
    fn seed(&mut self) -> [u8; 32] {
        std::array::from_fn(|_| self.byte())
    }
    fn word(&mut self) -> String {
        let len = 2 + self.below(12);
        (0..len).map(|_| char::from(b'a' + self.below(26) as u8)).collect()
    }
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_770_000_000 + second).expect("a time")
}

/// The marketplace, a publisher, and one of everything, untampered.
struct Market {
    root_key: SecretKey,
    root: TrustRoot,
    publisher_key: SecretKey,
    certificate: PublisherCert,
    manifest: String,
    component: Vec<u8>,
    package: Vec<u8>,
    token: String,
    revocations: String,
}

impl Market {
    fn new(rng: &mut Rng) -> Market {
        let root_key = SecretKey::from_seed(rng.seed());
        let root = TrustRoot::new(root_key.public_key());
        let publisher_key = SecretKey::from_seed(rng.seed());
        let certificate = certify(&root_key, &publisher_key);
        let manifest = format!(
            "[plugin]\nid = \"{PLUGIN}\"\nname = {{ zh = \"公海\", en = \"Public pool\" }}\nversion = \"1.4.2\"\n\
             api = \"^0.1\"\ncapabilities = [\"customers:read\", \"customers:assign\"]\n"
        );
        let mut component = b"\0asm\x0d\0\x01\0".to_vec();
        component.extend((0..2048).map(|_| rng.byte()));
        let package =
            sign(manifest.as_str(), component.clone(), &publisher_key, certificate.clone()).expect("signs").encode();
        let token = license::issue(&subscription(), &root_key).expect("issues");
        let revocations = revocation_list(7, vec![]).sign(&root_key).expect("signs");
        Market { root_key, root, publisher_key, certificate, manifest, component, package, token, revocations }
    }

    fn load(&self, bytes: &[u8]) -> Result<SignedBy, Refusal> {
        verify(&Tpkg::decode(bytes)?, &self.root)
    }

    fn check(&self, token: &str, org: &str, plugin: &str, now: Timestamp) -> Result<LicenseState, Refusal> {
        license::check(token, &self.root, org, plugin, now)
    }
}

fn certify(root_key: &SecretKey, key: &SecretKey) -> PublisherCert {
    let publisher =
        Publisher { id: "acme".into(), key: key.public_key(), plugins: vec![PLUGIN.into()], issued_at: at(-DAY) };
    PublisherCert::issue(&publisher, root_key).expect("issues")
}

fn subscription() -> LicenseClaims {
    LicenseClaims {
        org: ORG.into(),
        plugin: PLUGIN.into(),
        kind: LicenseKind::Subscription,
        issued_at: at(0),
        expires_at: Some(at(30 * DAY)),
        grace_days: 7,
    }
}

fn revocation_list(seq: u64, entries: Vec<RevokedVersion>) -> RevocationList {
    RevocationList { seq, issued_at: at(0), entries, keys: vec![] }
}

/// Where the sections of an encoded package lie.
struct Layout {
    manifest: std::ops::Range<usize>,
    component: std::ops::Range<usize>,
    signature_section: usize,
    algorithm: usize,
    signature: std::ops::Range<usize>,
    certificate: std::ops::Range<usize>,
}

fn layout(manifest_len: usize, component_len: usize, total: usize) -> Layout {
    let manifest = 10..10 + manifest_len;
    let component = manifest.end + 5..manifest.end + 5 + component_len;
    let signature_section = component.end;
    let algorithm = signature_section + 5;
    let signature = algorithm + 1..algorithm + 65;
    let certificate = signature.end..total;
    Layout { manifest, component, signature_section, algorithm, signature, certificate }
}

/// The reasons a kind of tampering may be refused for.
type Allowed = &'static [&'static str];

const MALFORMED: Allowed = &["malformed"];
const MANIFEST_FLIP: Allowed = &["malformed", "bad_signature"];
const SIGNATURE_FLIP: Allowed = &["bad_signature"];
const CERTIFICATE_FLIP: Allowed = &["malformed", "bad_certificate", "unknown_root"];
const ANY_FLIPS: Allowed = &["malformed", "bad_signature", "bad_certificate", "unknown_root"];
const TOKEN_FLIP: Allowed = &["malformed", "bad_signature", "unknown_root"];

struct Tally {
    counts: BTreeMap<(&'static str, &'static str), usize>,
    total: usize,
}

impl Tally {
    /// Records one outcome, failing on an acceptance or an unexpected reason.
    fn expect<T: std::fmt::Debug>(
        &mut self,
        class: &'static str,
        allowed: Allowed,
        outcome: Result<T, Refusal>,
        what: &str,
    ) {
        self.total += 1;
        match outcome {
            Ok(accepted) => panic!("{class}: {what} was accepted: {accepted:?}"),
            Err(refusal) => {
                assert!(
                    allowed.contains(&refusal.code()),
                    "{class}: {what} was refused as {} ({refusal}), expected one of {allowed:?}",
                    refusal.code()
                );
                *self.counts.entry((class, refusal.code())).or_default() += 1;
            }
        }
    }
}

#[test]
fn ten_thousand_tamperings_are_all_refused_for_their_reason() {
    let mut rng = Rng(SEED);
    let m = Market::new(&mut rng);
    // The originals pass, so a refusal below is the tampering's doing.
    let signed = m.load(&m.package).expect("the untampered package verifies");
    assert_eq!((signed.plugin.as_str(), signed.version.to_string()), (PLUGIN, "1.4.2".to_owned()));
    assert_eq!(m.check(&m.token, ORG, PLUGIN, at(DAY)), Ok(LicenseState::Valid { until: Some(at(30 * DAY)) }));
    let list = RevocationList::verify_update(m.revocations.as_bytes(), &m.root, Some(7)).expect("the list verifies");
    assert_eq!(list.check_package(&signed), Ok(()));

    let l = layout(m.manifest.len(), m.component.len(), m.package.len());
    let mut tally = Tally { counts: BTreeMap::new(), total: 0 };

    // One flipped byte anywhere in the package, refused for what that byte is part of.
    for _ in 0..3000 {
        let pos = rng.below(m.package.len());
        let mut bytes = m.package.clone();
        bytes[pos] ^= rng.nonzero_byte();
        let allowed = if l.manifest.contains(&pos) {
            MANIFEST_FLIP
        } else if l.component.contains(&pos) || l.signature.contains(&pos) {
            SIGNATURE_FLIP
        } else if l.certificate.contains(&pos) {
            CERTIFICATE_FLIP
        } else {
            // Magic, version, section tags and lengths, the algorithm byte.
            MALFORMED
        };
        tally.expect("flipped byte", allowed, m.load(&bytes), &format!("a flip at byte {pos}"));
    }
    // Flips aimed at the small parts a uniform choice seldom hits.
    let headers: Vec<usize> =
        (0..10).chain(l.manifest.end..l.component.start).chain(l.signature_section..=l.algorithm).collect();
    for _ in 0..500 {
        let pos = if rng.below(2) == 0 { headers[rng.below(headers.len())] } else { l.signature.start + rng.below(64) };
        let mut bytes = m.package.clone();
        bytes[pos] ^= rng.nonzero_byte();
        let allowed = if l.signature.contains(&pos) { SIGNATURE_FLIP } else { MALFORMED };
        tally.expect("flipped header or signature byte", allowed, m.load(&bytes), &format!("a flip at byte {pos}"));
    }
    // Several flipped bytes at once.
    for _ in 0..1000 {
        let mut bytes = m.package.clone();
        for _ in 0..2 + rng.below(7) {
            let pos = rng.below(bytes.len());
            bytes[pos] ^= rng.nonzero_byte();
        }
        tally.expect("several flipped bytes", ANY_FLIPS, m.load(&bytes), "several flips");
    }
    // Cut short anywhere: unsigned exactly where the signature section would start.
    for _ in 0..1000 {
        let len = rng.below(m.package.len());
        let allowed: Allowed = if len == l.signature_section { &["not_signed"] } else { MALFORMED };
        tally.expect("truncated", allowed, m.load(&m.package[..len]), &format!("{len} bytes"));
    }
    tally.expect("truncated", &["not_signed"], m.load(&m.package[..l.signature_section]), "the signature cut off");
    // Bytes appended or inserted.
    for _ in 0..300 {
        let mut bytes = m.package.clone();
        let pos = rng.below(bytes.len() + 1);
        bytes.insert(pos, rng.byte());
        // Every section keeps its length, so the last byte of the one hit spills over.
        tally.expect("inserted byte", MALFORMED, m.load(&bytes), &format!("a byte inserted at {pos}"));
    }

    // Another key than the certified one.
    for _ in 0..300 {
        let stranger = SecretKey::from_seed(rng.seed());
        let refused = sign(m.manifest.as_str(), m.component.clone(), &stranger, m.certificate.clone());
        tally.expect("wrong key", &["wrong_key"], refused, "signing under another key's certificate");
        // A second certified publisher's signature, spliced onto the first one's package.
        let theirs = sign(m.manifest.as_str(), m.component.clone(), &stranger, certify(&m.root_key, &stranger))
            .expect("signs")
            .encode();
        let their_layout = layout(m.manifest.len(), m.component.len(), theirs.len());
        let mut bytes = m.package.clone();
        bytes[l.signature.clone()].copy_from_slice(&theirs[their_layout.signature]);
        tally.expect("wrong key", SIGNATURE_FLIP, m.load(&bytes), "a signature by another publisher's key");
    }
    // Certificates from another marketplace, or forged in the name of this one.
    for _ in 0..300 {
        let other_root = SecretKey::from_seed(rng.seed());
        let foreign = certify(&other_root, &m.publisher_key);
        let package = sign(m.manifest.as_str(), m.component.clone(), &m.publisher_key, foreign.clone()).expect("signs");
        tally.expect("certificate from another root", &["unknown_root"], verify(&package, &m.root), "another root");
        let text = foreign.to_text().replace(other_root.key_id().as_str(), m.root_key.key_id().as_str());
        let forged = PublisherCert::parse(&text).expect("reads");
        let package = sign(m.manifest.as_str(), m.component.clone(), &m.publisher_key, forged).expect("signs");
        tally.expect(
            "certificate from another root",
            &["bad_certificate"],
            verify(&package, &m.root),
            "a forged root id",
        );
    }

    // License tokens for another organisation or plugin, signed by the marketplace itself.
    for _ in 0..800 {
        let org = if rng.below(2) == 0 { ORG.to_owned() } else { format!("org-{}", rng.word()) };
        let plugin = if org != ORG && rng.below(2) == 0 { PLUGIN.to_owned() } else { rng.word() };
        let claims = LicenseClaims { org: org.clone(), plugin: plugin.clone(), ..subscription() };
        let token = license::issue(&claims, &m.root_key).expect("issues");
        let expected: Allowed = if org != ORG { &["other_org"] } else { &["other_plugin"] };
        tally.expect(
            "token for another org or plugin",
            expected,
            m.check(&token, ORG, PLUGIN, at(DAY)),
            &format!("{org}/{plugin}"),
        );
    }
    // Subscriptions past their grace period.
    for _ in 0..500 {
        let expires = at(rng.below(400) as i64 * DAY);
        let grace_days = rng.below(60) as u16;
        let claims = LicenseClaims { expires_at: Some(expires), grace_days, ..subscription() };
        let token = license::issue(&claims, &m.root_key).expect("issues");
        let past = rng.below(1000 * DAY as usize) as i64;
        let now =
            expires.checked_add(jiff::SignedDuration::from_secs(i64::from(grace_days) * DAY + past)).expect("a time");
        let outcome = m.check(&token, ORG, PLUGIN, now);
        if let Err(Refusal::Expired { grace_ended, .. }) = &outcome {
            assert!(*grace_ended <= now);
        }
        tally.expect("expired past grace", &["expired"], outcome, &format!("{grace_days} days of grace"));
    }
    // Fields of a token's payload edited, the signature kept.
    let (payload, signature) = {
        let parts: Vec<&str> = m.token.split('.').collect();
        (URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url"), parts[2].to_owned())
    };
    let original: serde_json::Value = serde_json::from_slice(&payload).expect("json");
    for _ in 0..800 {
        let mut edited = original.clone();
        let field = ["org", "plugin", "kind", "issued_at", "expires_at", "grace_days", "key_id"][rng.below(7)];
        let allowed: Allowed = match field {
            "org" => {
                edited[field] = format!("org-{}", rng.word()).into();
                SIGNATURE_FLIP
            }
            "plugin" => {
                edited[field] = rng.word().into();
                SIGNATURE_FLIP
            }
            "kind" => {
                edited[field] = ["free", "one-off"][rng.below(2)].into();
                SIGNATURE_FLIP
            }
            "issued_at" | "expires_at" => {
                edited[field] = at(rng.below(10_000) as i64 * DAY + 1).to_string().into();
                SIGNATURE_FLIP
            }
            "grace_days" => {
                edited[field] = (8 + rng.below(300)).into();
                SIGNATURE_FLIP
            }
            _ => {
                // Another key id: one this host does not know, or not a key id at all.
                if rng.below(2) == 0 {
                    edited[field] = SecretKey::from_seed(rng.seed()).key_id().to_string().into();
                    &["unknown_root"]
                } else {
                    edited[field] = rng.word().into();
                    MALFORMED
                }
            }
        };
        let payload = serde_json::to_vec(&edited).expect("json");
        let token = format!("tl1.{}.{signature}", URL_SAFE_NO_PAD.encode(payload));
        tally.expect("token field edited", allowed, m.check(&token, ORG, PLUGIN, at(DAY)), &format!("{field} edited"));
    }
    // Flipped characters of a token.
    for _ in 0..700 {
        let mut bytes = m.token.clone().into_bytes();
        let pos = rng.below(bytes.len());
        bytes[pos] ^= 1 + rng.below(127) as u8;
        let token = String::from_utf8_lossy(&bytes).into_owned();
        tally.expect(
            "token character flipped",
            TOKEN_FLIP,
            m.check(&token, ORG, PLUGIN, at(DAY)),
            &format!("a flip at {pos}"),
        );
    }

    // Revoked versions and builds of the package, and its revoked publisher key.
    for i in 0..500u64 {
        let range = match rng.below(5) {
            0 => "*".to_owned(),
            1 => format!("<{}.{}.0", 1 + rng.below(3), 5 + rng.below(5)),
            2 => format!(">={}.0.0, <2.0.0", rng.below(2)),
            3 => "=1.4.2".to_owned(),
            _ => format!("~1.4.{}", rng.below(3)),
        };
        let sha256 = if rng.below(2) == 0 { Some(signed.component_sha256.clone()) } else { None };
        let reason = format!("reason {}", rng.word());
        let entries = vec![
            RevokedVersion {
                plugin: rng.word(),
                version: "*".parse().expect("range"),
                sha256: None,
                reason: "other".into(),
            },
            RevokedVersion { plugin: PLUGIN.into(), version: range.parse().expect("a range"), sha256, reason },
        ];
        let list = RevocationList { keys: vec![], ..revocation_list(8 + i, entries) };
        let text = list.sign(&m.root_key).expect("signs");
        let read = RevocationList::verify_update(text.as_bytes(), &m.root, Some(7 + i)).expect("a newer list");
        tally.expect("revoked version", &["revoked"], read.check_package(&signed), &range);
    }
    for i in 0..100u64 {
        let keys = vec![RevokedKey { key_id: m.publisher_key.key_id(), reason: format!("stolen {}", rng.word()) }];
        let text = RevocationList { keys, ..revocation_list(600 + i, vec![]) }.sign(&m.root_key).expect("signs");
        let read = RevocationList::verify(text.as_bytes(), &m.root).expect("verifies");
        tally.expect("revoked publisher key", &["revoked_key"], read.check_package(&signed), "the publisher key");
    }
    // Older lists replayed after a newer one was accepted.
    for _ in 0..300 {
        let last = 1 + rng.below(1_000_000) as u64;
        let seq = rng.below(last as usize) as u64;
        let text = revocation_list(seq, vec![]).sign(&m.root_key).expect("signs");
        let outcome = RevocationList::verify_update(text.as_bytes(), &m.root, Some(last));
        tally.expect("replayed revocation list", &["stale"], outcome, &format!("list {seq} after {last}"));
    }
    // Flipped characters of a revocation list.
    for _ in 0..200 {
        let mut bytes = m.revocations.clone().into_bytes();
        let pos = rng.below(bytes.len());
        bytes[pos] ^= rng.nonzero_byte();
        let outcome = RevocationList::verify_update(&bytes, &m.root, Some(7));
        tally.expect("revocation list flipped", TOKEN_FLIP, outcome, &format!("a flip at {pos}"));
    }

    let mut report = String::new();
    let classes: BTreeSet<&str> = tally.counts.keys().map(|(class, _)| *class).collect();
    for class in classes {
        let reasons: Vec<String> = tally
            .counts
            .iter()
            .filter(|((c, _), _)| *c == class)
            .map(|((_, reason), n)| format!("{reason} {n}"))
            .collect();
        report.push_str(&format!("  {class}: {}\n", reasons.join(", ")));
    }
    println!("{} tamperings, all refused:\n{report}", tally.total);
    assert!(tally.total >= 10_000, "only {} tamperings", tally.total);
}
