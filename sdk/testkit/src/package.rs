//! Building a plugin crate into a package, as `cargo xtask build-plugins` does: the crate's
//! component for `wasm32-wasip2` with its `plugin.toml` appended as the custom section
//! `tessera-manifest`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail, ensure};

/// The target plugins are built for; rustc's output for it is already a component.
pub const TARGET: &str = "wasm32-wasip2";

/// Where [`package_crate`] builds, instead of `<workspace>/target/wasm`.
pub const TARGET_DIR_VAR: &str = "TESSERA_TESTKIT_TARGET_DIR";

/// Packages already built by this process, by crate directory: the tests of one test binary
/// share one build.
static BUILT: Mutex<Option<HashMap<PathBuf, Arc<Vec<u8>>>>> = Mutex::new(None);

/// Builds the plugin crate in `dir` (the folder of its `Cargo.toml` and `plugin.toml`) in
/// release mode for `wasm32-wasip2` and returns its package. Adds the target with rustup when
/// the toolchain lacks it. A build that fails is an error carrying cargo's output.
///
/// The build goes to `<workspace of the crate>/target/wasm`, or to `$TESSERA_TESTKIT_TARGET_DIR`
/// when set, never to the crate's usual target directory, so that it cannot queue behind the
/// lock cargo holds on a target directory while it builds there: the `cargo test` running the
/// tests (cargo 1.95 lets go of it before it runs the test binaries, but nothing promises
/// that), a second `cargo test`, an editor's `cargo check`. The wasm32 release build also stays
/// apart from the developer's own builds, and the directory stays between runs, so a later run
/// only rebuilds what changed.
///
/// This blocks while cargo runs (a first build takes a while, later ones only check); from
/// async code use [`TestHost::install_crate`](crate::TestHost::install_crate).
pub fn package_crate(dir: impl AsRef<Path>) -> Result<Vec<u8>> {
    let dir = dir.as_ref();
    let dir = dir.canonicalize().with_context(|| format!("no plugin crate in {}", dir.display()))?;
    // Held while building, so that tests running side by side build a crate once.
    let mut built = BUILT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(package) = built.get(&dir) {
        return Ok(package.as_ref().clone());
    }
    let package =
        build_and_pack(&dir).with_context(|| format!("cannot package the plugin crate in {}", dir.display()))?;
    built.insert(dir, Arc::new(package.clone()));
    Ok(package)
}

fn build_and_pack(dir: &Path) -> Result<Vec<u8>> {
    let cargo_toml = dir.join("Cargo.toml");
    let manifest_path = dir.join("plugin.toml");
    let manifest = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!("cannot read {} (a plugin crate has one beside its Cargo.toml)", manifest_path.display())
    })?;
    let lib_name = lib_name(&cargo_toml)?;
    ensure_target()?;
    let target_dir = match std::env::var_os(TARGET_DIR_VAR) {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root(&cargo_toml)?.join("target").join("wasm"),
    };
    let output = cargo()
        .args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(&cargo_toml)
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .context("cannot run cargo")?;
    if !output.status.success() {
        bail!(
            "`cargo build --release --target {TARGET}` failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    let component_path = target_dir.join(TARGET).join("release").join(format!("{lib_name}.wasm"));
    let component = std::fs::read(&component_path).with_context(|| {
        format!("cargo built the crate but left no {} (is its lib crate-type cdylib?)", component_path.display())
    })?;
    Ok(tessera_host::runtime::package::pack(&component, &manifest))
}

/// The cargo that runs the tests (`$CARGO`), so the build uses the same toolchain.
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// The file name rustc gives the crate's library: `[lib] name`, or the package name with `-`
/// as `_`.
fn lib_name(cargo_toml: &Path) -> Result<String> {
    let text = std::fs::read_to_string(cargo_toml).with_context(|| format!("cannot read {}", cargo_toml.display()))?;
    let table: toml::Table = text.parse().with_context(|| format!("{} is not valid TOML", cargo_toml.display()))?;
    let name = table
        .get("lib")
        .and_then(|lib| lib.get("name"))
        .or_else(|| table.get("package").and_then(|p| p.get("name")))
        .and_then(toml::Value::as_str)
        .with_context(|| format!("{} has no package.name", cargo_toml.display()))?;
    Ok(name.replace('-', "_"))
}

/// The root directory of the workspace the crate belongs to (the crate's own when it has none).
fn workspace_root(cargo_toml: &Path) -> Result<PathBuf> {
    let output = cargo()
        .args(["locate-project", "--workspace", "--message-format", "plain", "--manifest-path"])
        .arg(cargo_toml)
        .output()
        .context("cannot run cargo")?;
    ensure!(
        output.status.success(),
        "cannot find the workspace of {}: {}",
        cargo_toml.display(),
        String::from_utf8_lossy(&output.stderr).trim_end()
    );
    let root = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    root.parent().map(Path::to_path_buf).context("cargo named no workspace manifest")
}

/// Adds the `wasm32-wasip2` target with rustup when the toolchain lacks it.
fn ensure_target() -> Result<()> {
    let Ok(listed) = Command::new("rustup").args(["target", "list", "--installed"]).output() else {
        // Without rustup the toolchain was installed some other way; cargo says what is
        // missing if the target is.
        return Ok(());
    };
    if !listed.status.success() || String::from_utf8_lossy(&listed.stdout).lines().any(|line| line.trim() == TARGET) {
        return Ok(());
    }
    let added = Command::new("rustup").args(["target", "add", TARGET]).output().context("cannot run rustup")?;
    ensure!(
        added.status.success(),
        "the {TARGET} target is missing and `rustup target add {TARGET}` failed:\n{}",
        String::from_utf8_lossy(&added.stderr).trim_end()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_file_is_named_after_the_lib_or_the_package() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("Cargo.toml");
        std::fs::write(&path, "[package]\nname = \"hello-crm\"\nversion = \"0.1.0\"\n")?;
        assert_eq!(lib_name(&path)?, "hello_crm");
        std::fs::write(&path, "[package]\nname = \"hello-crm\"\n[lib]\nname = \"notes-plugin\"\n")?;
        assert_eq!(lib_name(&path)?, "notes_plugin");
        std::fs::write(&path, "[workspace]\n")?;
        let err = lib_name(&path).expect_err("no package").to_string();
        assert!(err.contains("no package.name"), "{err}");
        Ok(())
    }

    #[test]
    fn a_folder_without_plugin_toml_is_refused_before_building() -> Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"no-manifest\"\nversion = \"0.1.0\"\n")?;
        let err = format!("{:#}", package_crate(dir.path()).expect_err("no plugin.toml"));
        assert!(err.contains("plugin.toml"), "{err}");
        Ok(())
    }
}
