//! Plugin packages: a WebAssembly component with its `plugin.toml` in a custom section named
//! `tessera-manifest`. Reading one checks everything that can be checked without compiling:
//! the manifest, the API range, and that every import is one this host provides.

use sha2::{Digest, Sha256};
use wasmparser::Payload;

use super::manifest::{HOST_API_VERSION, Manifest};
use crate::error::{Error, Result};

/// The custom section that carries `plugin.toml`.
pub const MANIFEST_SECTION: &str = "tessera-manifest";

/// Largest package the host accepts.
pub const MAX_PACKAGE_BYTES: usize = 50 << 20;

/// A package that passed every check short of compilation.
#[derive(Debug, Clone)]
pub struct Package {
    pub manifest: Manifest,
    /// Hex SHA-256 of the whole package: the key of compiled code.
    pub sha256: String,
    pub bytes: Vec<u8>,
    /// The component's imports, as named in the binary.
    pub imports: Vec<String>,
}

fn refused(message: impl Into<String>) -> Error {
    Error::Invalid { field: Some("package"), message: message.into() }
}

/// WASI interfaces a Rust or C guest's standard library imports; the host links them with
/// nothing behind them (no files, no sockets, no environment, stdio to nowhere).
const WASI_PACKAGES: &[&str] =
    &["wasi:cli/", "wasi:io/", "wasi:clocks/", "wasi:random/", "wasi:filesystem/", "wasi:sockets/"];

/// Interfaces of the plugin API this host implements.
const API_INTERFACES: &[&str] = &[
    "types",
    "customers",
    "directory",
    "records",
    "events",
    "workflow",
    "notify",
    "http-client",
    "settings",
    "log",
    "context",
    "files",
    "ui",
];

/// Reads and checks a package.
pub fn read(bytes: Vec<u8>) -> Result<Package> {
    if bytes.len() > MAX_PACKAGE_BYTES {
        return Err(refused(format!(
            "the package is {} MiB; the limit is {} MiB",
            bytes.len() >> 20,
            MAX_PACKAGE_BYTES >> 20
        )));
    }
    if !wasmparser::Parser::is_component(&bytes) {
        return Err(refused(if wasmparser::Parser::is_core_wasm(&bytes) {
            "this is a core WebAssembly module; plugins are components (build for wasm32-wasip2)"
        } else {
            "this is not a WebAssembly component"
        }));
    }
    let mut manifest_text = None;
    let mut imports = Vec::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        let payload = payload.map_err(|e| refused(format!("the component is malformed: {e}")))?;
        match payload {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::CustomSection(section) if depth == 0 && section.name() == MANIFEST_SECTION => {
                let text =
                    std::str::from_utf8(section.data()).map_err(|_| refused("the manifest section is not UTF-8"))?;
                manifest_text = Some(text.to_owned());
            }
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    let import = import.map_err(|e| refused(format!("the component is malformed: {e}")))?;
                    imports.push(import.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    let text = manifest_text.ok_or_else(|| {
        refused(format!("the package has no plugin.toml (custom section {MANIFEST_SECTION:?}); build it with `cargo xtask build-plugins`"))
    })?;
    let manifest = Manifest::parse(&text)?;
    let label = format!("{} {}", manifest.plugin.id, manifest.plugin.version);
    manifest.check_api()?;
    check_imports(&label, &imports)?;
    let sha256 = hex(&Sha256::digest(&bytes));
    Ok(Package { manifest, sha256, bytes, imports })
}

/// Every import must be a WASI 0.2 interface or an interface of a plugin API version this host
/// serves.
fn check_imports(label: &str, imports: &[String]) -> Result<()> {
    let host = semver::Version::parse(HOST_API_VERSION).map_err(|e| Error::Internal(e.to_string()))?;
    for name in imports {
        if WASI_PACKAGES.iter().any(|p| name.starts_with(p)) && name.contains("@0.2.") {
            continue;
        }
        if let Some(rest) = name.strip_prefix("tessera:plugin/") {
            let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
            let version = semver::Version::parse(version)
                .map_err(|_| refused(format!("{label} imports {name}, which names no API version")))?;
            // Within 0.x a minor version is a breaking one, and a patch level only adds: a
            // plugin built against the host's patch level or an older one links; one built
            // against a newer patch level may call what this host lacks.
            if version.major != host.major || version.minor != host.minor || version.patch > host.patch {
                return Err(refused(format!(
                    "{label} was built against plugin API {version}; this host serves {HOST_API_VERSION} (0.{}.x)",
                    host.minor
                )));
            }
            if !API_INTERFACES.contains(&interface) {
                return Err(refused(format!("{label} imports {name}, which API {HOST_API_VERSION} does not have")));
            }
            continue;
        }
        return Err(refused(format!("{label} imports {name}, which this host does not provide")));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends `plugin.toml` to a component as its manifest section (what `cargo xtask
/// build-plugins` does; the test kit and tests use it to package variants).
pub fn pack(component: &[u8], manifest: &str) -> Vec<u8> {
    let name = MANIFEST_SECTION.as_bytes();
    let mut content = Vec::with_capacity(name.len() + manifest.len() + 8);
    leb128(name.len(), &mut content);
    content.extend_from_slice(name);
    content.extend_from_slice(manifest.as_bytes());
    let mut out = Vec::with_capacity(component.len() + content.len() + 8);
    out.extend_from_slice(component);
    out.push(0);
    leb128(content.len(), &mut out);
    out.extend_from_slice(&content);
    out
}

fn leb128(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Replaces the manifest of a package (a new version of the same code, for tests and the
/// developer tools). The manifest section must be the last one, as `pack` writes it.
pub fn repack(package: &[u8], manifest: &str) -> Result<Vec<u8>> {
    let mut old = None;
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(package) {
        match payload.map_err(|e| refused(format!("the component is malformed: {e}")))? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::CustomSection(section) if depth == 0 && section.name() == MANIFEST_SECTION => {
                old = Some((section.data().len(), section.range().end));
            }
            _ => {}
        }
    }
    let Some((data_len, end)) = old else { return Ok(pack(package, manifest)) };
    if end != package.len() {
        return Err(refused("the manifest section is not the package's last section"));
    }
    let name = MANIFEST_SECTION.as_bytes();
    let mut content_len = Vec::new();
    leb128(name.len(), &mut content_len);
    let content = content_len.len() + name.len() + data_len;
    let mut size = Vec::new();
    leb128(content, &mut size);
    let start = package.len() - content - size.len() - 1;
    Ok(pack(&package[..start], manifest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every interface the WIT package defines for plugins to import is one the host accepts
    /// (a new interface forgotten here would refuse every plugin that uses it at install).
    #[test]
    fn accepts_every_interface_of_the_wit() {
        let wit = include_str!("../../../wit/tessera.wit");
        let defined: Vec<&str> = wit
            .lines()
            .filter_map(|l| l.strip_prefix("interface "))
            .filter_map(|rest| rest.split_whitespace().next())
            .filter(|name| *name != "guest")
            .collect();
        assert!(defined.len() >= 12, "{defined:?}");
        for name in &defined {
            assert!(API_INTERFACES.contains(name), "the host does not accept the WIT's interface {name:?}");
        }
        for name in API_INTERFACES {
            assert!(defined.contains(name), "{name:?} is not an interface of the WIT");
        }
    }

    #[test]
    fn refuses_what_is_not_a_component() {
        let err = read(b"\0asm\x01\0\0\0".to_vec()).expect_err("core module").to_string();
        assert!(err.contains("core WebAssembly module"), "{err}");
        let err = read(b"hello".to_vec()).expect_err("not wasm").to_string();
        assert!(err.contains("not a WebAssembly component"), "{err}");
    }

    #[test]
    fn checks_imports_by_package_and_version() {
        let ok = ["wasi:cli/environment@0.2.3".to_owned(), "tessera:plugin/customers@0.1.0".to_owned()];
        assert!(check_imports("p 1.0.0", &ok).is_ok());
        let old = ["tessera:plugin/log@0.9.0".to_owned()];
        let err = check_imports("p 1.0.0", &old).expect_err("0.9").to_string();
        assert!(err.contains("0.9.0") && err.contains("p 1.0.0"), "{err}");
        let newer = ["tessera:plugin/customers@0.1.9".to_owned()];
        let err = check_imports("p 1.0.0", &newer).expect_err("a newer patch level").to_string();
        assert!(err.contains("0.1.9") && err.contains(HOST_API_VERSION), "{err}");
        let foreign = ["acme:backdoor/shell@1.0.0".to_owned()];
        let err = check_imports("p 1.0.0", &foreign).expect_err("foreign").to_string();
        assert!(err.contains("acme:backdoor/shell@1.0.0") && err.contains("does not provide"), "{err}");
    }

    #[test]
    fn an_empty_component_packs_and_reads_back_its_manifest() {
        // The smallest component: the preamble alone.
        let component = b"\0asm\x0d\0\x01\0".to_vec();
        let manifest = "[plugin]\nid = \"tiny\"\nname = { zh = \"小\", en = \"Tiny\" }\ndescription = { zh = \"小\", en = \"Tiny\" }\nversion = \"1.0.0\"\napi = \"^0.1\"\n";
        let package = read(pack(&component, manifest)).expect("reads");
        assert_eq!(package.manifest.plugin.id, "tiny");
        let bumped = repack(&package.bytes, &manifest.replace("1.0.0", "1.0.1")).expect("repacks");
        let again = read(bumped).expect("reads again");
        assert_eq!(again.manifest.plugin.version.to_string(), "1.0.1");
        assert_ne!(again.sha256, package.sha256);
    }
}
