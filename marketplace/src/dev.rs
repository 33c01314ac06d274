//! `tessera-plugin`, the plugin developer's tool: it makes a plugin crate from the template,
//! builds and checks its package as a host would, runs its tests with the test kit, makes a
//! publisher key pair, writes unsigned and signed `.tpkg` packages and publishes them to a
//! marketplace. The binary (`src/bin/tessera-plugin.rs`) only parses arguments; each
//! subcommand is a function here. Errors are `anyhow` chains whose last line says what to do.

pub mod build;
pub mod keys;
pub mod new;
pub mod publish;
pub mod tpkg;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use tessera_host::runtime::manifest::Manifest;

pub use crate::publishers::is_plugin_id;

/// The target plugins are built for; rustc's output for it is already a component.
pub use tessera_testkit::TARGET;

/// A plugin crate: a `Cargo.toml` with a `plugin.toml` beside it.
#[derive(Debug, Clone)]
pub struct PluginCrate {
    pub dir: PathBuf,
    pub cargo_toml: PathBuf,
    /// The `plugin.toml` text.
    pub manifest: String,
    pub id: String,
    pub version: String,
    /// Cargo's target directory for the crate (its workspace's).
    pub target_dir: PathBuf,
    /// The root folder of the crate's workspace (the crate's own when it has none).
    pub workspace_root: PathBuf,
}

impl PluginCrate {
    /// The crate of `manifest_path` (a `Cargo.toml`), or of the current directory.
    pub fn open(manifest_path: Option<&Path>) -> Result<PluginCrate> {
        let cargo_toml = match manifest_path {
            Some(path) => path.to_path_buf(),
            None => std::env::current_dir().context("cannot read the current directory")?.join("Cargo.toml"),
        };
        ensure!(
            cargo_toml.is_file(),
            "no Cargo.toml at {}; run this in a plugin crate or pass --manifest-path PATH/Cargo.toml",
            cargo_toml.display()
        );
        let dir = cargo_toml.parent().context("a Cargo.toml is in a folder")?.to_path_buf();
        let manifest_path = dir.join("plugin.toml");
        let manifest = std::fs::read_to_string(&manifest_path).with_context(|| {
            format!(
                "cannot read {}: a plugin crate has its plugin.toml beside its Cargo.toml (`tessera-plugin new` makes one)",
                manifest_path.display()
            )
        })?;
        let (id, version) = identity(&manifest).with_context(|| format!("in {}", manifest_path.display()))?;
        let (target_dir, workspace_root) = locate(&cargo_toml)?;
        Ok(PluginCrate { dir, cargo_toml, manifest, id, version, target_dir, workspace_root })
    }

    /// Where this tool writes what it makes: `<target>/tessera`.
    pub fn out_dir(&self) -> PathBuf {
        self.target_dir.join("tessera")
    }

    /// The built package: `<target>/tessera/<id>-<version>.wasm`.
    pub fn package_path(&self) -> PathBuf {
        self.out_dir().join(format!("{}-{}.wasm", self.id, self.version))
    }

    /// Where the test kit builds for wasm32 unless told otherwise (`<workspace>/target/wasm`),
    /// apart from native builds: `build` builds there, and `test` tells the test kit so.
    pub fn wasm_target_dir(&self) -> PathBuf {
        self.workspace_root.join("target").join("wasm")
    }
}

/// The `[plugin]` table's `id` and `version`, which name the package files; `plugin.toml` is
/// read and checked by the host's own code, as a host reads it at install.
pub fn identity(manifest: &str) -> Result<(String, String)> {
    let manifest = Manifest::parse(manifest).context("plugin.toml is refused; fix what the message names")?;
    Ok((manifest.plugin.id, manifest.plugin.version.to_string()))
}

/// Cargo's target directory and workspace root for the crate, as `cargo metadata` says.
fn locate(cargo_toml: &Path) -> Result<(PathBuf, PathBuf)> {
    let output = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(cargo_toml)
        .output()
        .context("cannot run cargo; is the Rust toolchain installed?")?;
    ensure!(
        output.status.success(),
        "cargo cannot read {}:\n{}",
        cargo_toml.display(),
        String::from_utf8_lossy(&output.stderr).trim_end()
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).context("cargo metadata is not JSON")?;
    let dir =
        |key: &str| metadata[key].as_str().map(PathBuf::from).with_context(|| format!("cargo metadata has no {key}"));
    Ok((dir("target_directory")?, dir("workspace_root")?))
}

/// The cargo of the toolchain in use (`$CARGO` under cargo), else `cargo`.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs a command, failing with what it was and how it ended.
pub fn run(command: &mut Command, what: &str) -> Result<()> {
    let status = command.status().with_context(|| format!("cannot run {what}"))?;
    ensure!(status.success(), "{what} failed ({status}); its output above says why");
    Ok(())
}

/// Writes a file, making its folder, and says where.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_the_hosts_reading_of_plugin_toml() {
        let manifest = |id: &str, version: &str| {
            format!(
                "[plugin]\nid = \"{id}\"\nname = {{ zh = \"笔记\", en = \"Notes\" }}\n\
                 description = {{ zh = \"笔记\", en = \"Notes\" }}\nversion = \"{version}\"\napi = \"^0.1\"\n"
            )
        };
        assert_eq!(
            identity(&manifest("notes", "1.2.3")).expect("an identity"),
            ("notes".to_owned(), "1.2.3".to_owned())
        );
        for (text, says) in [
            (manifest("Notes", "1.0.0"), "id"),
            (manifest("notes", "one"), "version"),
            ("[plugin".to_owned(), "plugin.toml"),
        ] {
            let err = format!("{:#}", identity(&text).expect_err("refused"));
            assert!(err.contains("fix what the message names") && err.contains(says), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_folder_without_a_plugin_crate_is_named_with_what_to_do() {
        let dir = std::env::temp_dir().join(format!("tessera-plugin-open-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let err = format!("{:#}", PluginCrate::open(Some(&dir.join("Cargo.toml"))).expect_err("no crate"));
        assert!(err.contains("--manifest-path"), "{err}");
        std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"x\"\nversion = \"0.1.0\"\n").expect("write");
        let err = format!("{:#}", PluginCrate::open(Some(&dir.join("Cargo.toml"))).expect_err("no plugin.toml"));
        assert!(err.contains("plugin.toml") && err.contains("tessera-plugin new"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
