//! `cargo xtask build-plugins`: builds the plugin workspace (`plugins/`) for `wasm32-wasip2`
//! and packages every plugin as `target/plugins/<id>-<version>.wasm`.
//!
//! A package is the plugin's component exactly as rustc and `wasm-component-ld` wrote it, with
//! one custom section appended at the end: `tessera-manifest`, whose payload is the plugin's
//! `plugin.toml` as UTF-8. A custom section changes nothing about what the component does, so
//! the package is still a valid component that any tool can read, and the host finds the
//! manifest without a second file.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use wasmparser::{Parser, Payload, Validator, WasmFeatures};

use crate::{cargo, root, status};

/// The target plugins are built for; its rustc output is already a component.
pub const TARGET: &str = "wasm32-wasip2";

/// The custom section of a package that holds its `plugin.toml`.
pub const MANIFEST_SECTION: &str = "tessera-manifest";

/// `cargo xtask build-plugins`.
pub fn run(args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        bail!("build-plugins takes no arguments, got {arg:?}");
    }
    let dir = build_plugins()?;
    println!("Packages in {}", dir.display());
    Ok(())
}

/// Where plugins are built for wasm32: `CARGO_TARGET_DIR` if set, else `target/wasm`.
pub fn wasm_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target").join("wasm"))
}

/// Builds every plugin of `plugins/` in release mode and writes its package to
/// `target/plugins/`, replacing the packages of earlier builds. Returns that directory.
pub fn build_plugins() -> Result<PathBuf> {
    ensure_target()?;
    let target_dir = wasm_target_dir();
    let workspace = root().join("plugins");
    status(
        cargo()
            .args(["build", "--release", "--target", TARGET, "--manifest-path"])
            .arg(workspace.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target_dir),
    )?;
    let built = target_dir.join(TARGET).join("release");

    let out = root().join("target").join("plugins");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    remove_old_packages(&out)?;

    let crates = plugin_crates(&workspace)?;
    ensure!(!crates.is_empty(), "no plugin crates (a Cargo.toml beside a plugin.toml) under {}", workspace.display());
    for dir in crates {
        let package = package_crate(&dir, &built, &out)
            .with_context(|| format!("cannot package the plugin in {}", dir.display()))?;
        println!(
            "{:<24} {:<8} {:>6} KiB  {}",
            package.id,
            package.version,
            package.size.div_ceil(1024),
            package.path.display()
        );
    }
    Ok(out)
}

/// Adds the `wasm32-wasip2` target with rustup when the toolchain lacks it.
fn ensure_target() -> Result<()> {
    let listed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    match listed {
        Ok(output) if output.status.success() => {
            if String::from_utf8_lossy(&output.stdout).lines().any(|line| line.trim() == TARGET) {
                return Ok(());
            }
            eprintln!("Adding the {TARGET} target with rustup");
            status(Command::new("rustup").args(["target", "add", TARGET]))
        }
        // Without rustup the toolchain was installed some other way; cargo will say what is
        // missing if the target is.
        _ => {
            eprintln!("rustup is not available; assuming the toolchain has the {TARGET} target");
            Ok(())
        }
    }
}

/// Every directory under `plugins/` with a `plugin.toml` beside its `Cargo.toml`, sorted.
fn plugin_crates(workspace: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![workspace.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let path = entry.with_context(|| format!("cannot read {}", dir.display()))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            // Build output and WIT copies hold no crates; dot-directories are tools' own.
            if !path.is_dir() || ["target", "src", "wit"].contains(&name) || name.starts_with('.') {
                continue;
            }
            if path.join("plugin.toml").is_file() && path.join("Cargo.toml").is_file() {
                found.push(path.clone());
            }
            pending.push(path);
        }
    }
    found.sort();
    Ok(found)
}

fn remove_old_packages(out: &Path) -> Result<()> {
    for entry in std::fs::read_dir(out).with_context(|| format!("cannot read {}", out.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

struct Package {
    id: String,
    version: String,
    size: usize,
    path: PathBuf,
}

/// Packages the built component of the crate in `dir`.
fn package_crate(dir: &Path, built: &Path, out: &Path) -> Result<Package> {
    let cargo_toml = read_toml(&dir.join("Cargo.toml"))?;
    let crate_name = cargo_toml
        .get("lib")
        .and_then(|lib| lib.get("name"))
        .or_else(|| cargo_toml.get("package").and_then(|p| p.get("name")))
        .and_then(toml::Value::as_str)
        .context("Cargo.toml has no package.name")?;
    let component_path = built.join(format!("{}.wasm", crate_name.replace('-', "_")));
    let component = std::fs::read(&component_path).with_context(|| {
        format!("cannot read {} (is the crate a member of plugins/Cargo.toml?)", component_path.display())
    })?;

    let manifest_path = dir.join("plugin.toml");
    let manifest =
        std::fs::read_to_string(&manifest_path).with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let (id, version) = plugin_identity(&manifest).with_context(|| format!("in {}", manifest_path.display()))?;

    let package = package(&component, &manifest).with_context(|| format!("in {}", component_path.display()))?;
    let path = out.join(format!("{id}-{version}.wasm"));
    ensure!(!path.exists(), "two plugins are {id} {version}; the second is in {}", dir.display());
    std::fs::write(&path, &package).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Package { id, version, size: package.len(), path })
}

fn read_toml(path: &Path) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.parse().with_context(|| format!("{} is not valid TOML", path.display()))
}

/// The `[plugin]` table's `id` and `version`. The host checks the whole manifest when it
/// installs the package; these two name the package file, so they must be safe in a file name.
fn plugin_identity(manifest: &str) -> Result<(String, String)> {
    let table: toml::Table = manifest.parse().context("plugin.toml is not valid TOML")?;
    let plugin = table.get("plugin").and_then(toml::Value::as_table).context("plugin.toml has no [plugin] table")?;
    let field = |name: &str| {
        plugin
            .get(name)
            .and_then(toml::Value::as_str)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .with_context(|| format!("plugin.toml has no plugin.{name}"))
    };
    let (id, version) = (field("id")?, field("version")?);
    ensure!(
        id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        "plugin.id {id:?} may hold only lower-case letters, digits and dashes"
    );
    ensure!(
        version.chars().all(|c| c.is_ascii_alphanumeric() || ".+-".contains(c)),
        "plugin.version {version:?} is not a semantic version"
    );
    Ok((id, version))
}

/// The package of a component: the component with `manifest` appended as the custom section
/// [`MANIFEST_SECTION`]. Both the component and the package are validated, and the manifest is
/// read back from the package.
pub fn package(component: &[u8], manifest: &str) -> Result<Vec<u8>> {
    ensure!(Parser::is_component(component), "not a WebAssembly component (a core module, or not wasm at all)");
    validate(component).context("the component is not valid")?;
    ensure!(manifest_section(component)?.is_none(), "the component already has a {MANIFEST_SECTION} section");

    let mut package = component.to_vec();
    append_custom_section(&mut package, MANIFEST_SECTION, manifest.as_bytes());

    validate(&package).context("the package is not valid")?;
    ensure!(
        manifest_section(&package)?.as_deref() == Some(manifest.as_bytes()),
        "the {MANIFEST_SECTION} section does not read back as written"
    );
    Ok(package)
}

fn validate(bytes: &[u8]) -> Result<()> {
    Validator::new_with_features(WasmFeatures::all()).validate_all(bytes)?;
    Ok(())
}

/// Appends a custom section: id 0, the content's size, then the content (the name's length,
/// the name, the payload), sizes as unsigned LEB128.
pub fn append_custom_section(wasm: &mut Vec<u8>, name: &str, payload: &[u8]) {
    let mut content = Vec::with_capacity(5 + name.len() + payload.len());
    write_leb128(&mut content, name.len() as u64);
    content.extend_from_slice(name.as_bytes());
    content.extend_from_slice(payload);
    wasm.push(0x00);
    write_leb128(wasm, content.len() as u64);
    wasm.extend_from_slice(&content);
}

fn write_leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The payload of the top-level custom section [`MANIFEST_SECTION`], if the component has
/// one; sections of nested modules and components do not count. More than one is an error.
pub fn manifest_section(wasm: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut found = None;
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::CustomSection(section) if depth == 0 && section.name() == MANIFEST_SECTION => {
                ensure!(found.is_none(), "more than one {MANIFEST_SECTION} section");
                found = Some(section.data().to_vec());
            }
            _ => {}
        }
    }
    Ok(found)
}

/// Builds the plugins and copies the product plugins (every crate directly under `plugins/`,
/// not the test guests) into a host's plugin directory, where the host installs them and the
/// demo organisation enables them. Returns the `id version` of each.
pub fn bundle_into(plugin_dir: &Path) -> Result<Vec<String>> {
    let packages = build_plugins()?;
    std::fs::create_dir_all(plugin_dir).with_context(|| format!("cannot create {}", plugin_dir.display()))?;
    let mut bundled = Vec::new();
    let mut products: Vec<PathBuf> = std::fs::read_dir(root().join("plugins"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("plugin.toml").is_file() && p.join("Cargo.toml").is_file())
        .collect();
    products.sort();
    for dir in products {
        let text = std::fs::read_to_string(dir.join("plugin.toml"))?;
        let manifest: toml::Value = toml::from_str(&text).with_context(|| format!("{}/plugin.toml", dir.display()))?;
        let id = manifest["plugin"]["id"].as_str().context("plugin.id")?;
        let version = manifest["plugin"]["version"].as_str().context("plugin.version")?;
        let name = format!("{id}-{version}.wasm");
        std::fs::copy(packages.join(&name), plugin_dir.join(&name))
            .with_context(|| format!("cannot copy {name} into {}", plugin_dir.display()))?;
        bundled.push(format!("{id} {version}"));
    }
    Ok(bundled)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid component: the preamble of a component-model binary and nothing else.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";
    const EMPTY_MODULE: &[u8] = b"\0asm\x01\x00\x00\x00";

    #[test]
    fn leb128_matches_the_specification_examples() {
        let encode = |n| {
            let mut out = Vec::new();
            write_leb128(&mut out, n);
            out
        };
        assert_eq!(encode(0), [0x00]);
        assert_eq!(encode(127), [0x7f]);
        assert_eq!(encode(128), [0x80, 0x01]);
        assert_eq!(encode(624_485), [0xe5, 0x8e, 0x26]);
    }

    #[test]
    fn the_manifest_reads_back_from_the_package() {
        // Large enough that the section's size takes several LEB128 bytes.
        let manifest = format!(
            "[plugin]\nid = \"hello-crm\"\nname = {{ zh = \"你好\", en = \"Hello\" }}\n# {}\n",
            "x".repeat(70_000)
        );
        assert_eq!(manifest_section(EMPTY_COMPONENT).unwrap(), None);
        let package = package(EMPTY_COMPONENT, &manifest).unwrap();
        assert_eq!(&package[..EMPTY_COMPONENT.len()], EMPTY_COMPONENT, "the component's bytes stay as they were");
        assert_eq!(manifest_section(&package).unwrap().as_deref(), Some(manifest.as_bytes()));

        let mut names = Vec::new();
        for payload in Parser::new(0).parse_all(&package) {
            if let Payload::CustomSection(section) = payload.unwrap() {
                names.push(section.name().to_owned());
            }
        }
        assert_eq!(names, [MANIFEST_SECTION]);
    }

    #[test]
    fn a_core_module_or_a_packaged_component_is_refused() {
        let err = package(EMPTY_MODULE, "[plugin]").unwrap_err().to_string();
        assert!(err.contains("not a WebAssembly component"), "{err}");
        let once = package(EMPTY_COMPONENT, "[plugin]").unwrap();
        let err = package(&once, "[plugin]").unwrap_err().to_string();
        assert!(err.contains("already has"), "{err}");
    }

    #[test]
    fn the_package_is_named_by_the_manifest() {
        let manifest = "events = []\n[plugin]\nid = \"hello-crm\"\nversion = \"0.1.0\"\n";
        assert_eq!(plugin_identity(manifest).unwrap(), ("hello-crm".to_owned(), "0.1.0".to_owned()));
        for (broken, expected) in [
            ("[plugin]\nversion = \"1.0.0\"\n", "plugin.id"),
            ("[plugin]\nid = \"x\"\n", "plugin.version"),
            ("[plugin]\nid = \"../x\"\nversion = \"1.0.0\"\n", "lower-case"),
            ("[plugin]\nid = \"x\"\nversion = \"1/0\"\n", "semantic version"),
            ("id = \"x\"\n", "[plugin]"),
        ] {
            let err = plugin_identity(broken).unwrap_err().to_string();
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
    }
}
