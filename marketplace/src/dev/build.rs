//! `tessera-plugin build` and `tessera-plugin test`: the crate built for `wasm32-wasip2` with
//! its `plugin.toml` embedded, exactly as the test kit builds it, then checked as a host reads
//! it at install (manifest, API range, imports, capabilities), so that a package the
//! marketplace or a host would refuse is refused here, before it is signed.

use std::path::PathBuf;

use anyhow::{Context, Result};
use tessera_host::runtime::package;

use super::{PluginCrate, TARGET, cargo, run, write};

/// Builds the crate and writes its checked package to `<target>/tessera/<id>-<version>.wasm`.
pub fn build(plugin: &PluginCrate) -> Result<PathBuf> {
    eprintln!(
        "Building {} {} for {TARGET} in release mode (cargo's output is shown if it fails; a first build takes a \
         few minutes)",
        plugin.id, plugin.version
    );
    // The test kit's build: the target added with rustup when missing, the release build in
    // the test kit's target directory, the manifest appended with the host's `pack`.
    let bytes = tessera_testkit::package_crate(&plugin.dir)?;
    check(&bytes).with_context(|| {
        format!("the package of {} would be refused; fix plugin.toml or the code, then build again", plugin.id)
    })?;
    let path = plugin.package_path();
    write(&path, &bytes)?;
    Ok(path)
}

/// What a host checks before installing: the manifest and API range, the imports, and that
/// the imports and the capabilities requested agree.
pub fn check(bytes: &[u8]) -> Result<package::Package> {
    let read = package::read(bytes.to_vec())?;
    let api = package::api_use(bytes)?;
    package::check_capabilities(&read.manifest, &api)?;
    Ok(read)
}

/// Runs the crate's tests with `cargo test`. The test kit builds the plugin for wasm32 in the
/// target directory `build` uses, so a test run after a build only checks it is current.
pub fn test(plugin: &PluginCrate, args: &[String]) -> Result<()> {
    let mut command = cargo();
    command.arg("test").arg("--manifest-path").arg(&plugin.cargo_toml).args(args);
    if std::env::var_os(tessera_testkit::TARGET_DIR_VAR).is_none() {
        command.env(tessera_testkit::TARGET_DIR_VAR, plugin.wasm_target_dir());
    }
    run(&mut command, "cargo test").context("fix the failing tests, then run `tessera-plugin test` again")
}
