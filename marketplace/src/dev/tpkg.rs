//! `tessera-plugin package` and `tessera-plugin sign`: the built package as a `.tpkg`, unsigned
//! (to inspect, or to sign elsewhere) or signed with the publisher's key under the
//! marketplace's certificate, as the marketplace takes it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use tessera_package::{PublisherCert, SecretKey, Tpkg};

use super::build::check;
use super::{PluginCrate, identity, write};

/// A built package, checked, with where to write what is made of it.
#[derive(Debug, Clone)]
pub struct Built {
    /// The component with its `plugin.toml` embedded (what `build` writes).
    pub bytes: Vec<u8>,
    /// The embedded `plugin.toml`.
    pub manifest: String,
    pub id: String,
    pub version: String,
    pub out_dir: PathBuf,
}

impl Built {
    /// The package `build` wrote for the crate of `manifest_path` (or of the current
    /// directory), or the package file `wasm` when given; `.tpkg` files go beside it.
    pub fn find(manifest_path: Option<&Path>, wasm: Option<&Path>) -> Result<Built> {
        let (path, plugin) = match wasm {
            Some(path) => (path.to_path_buf(), None),
            None => {
                let plugin = PluginCrate::open(manifest_path)?;
                (plugin.package_path(), Some(plugin))
            }
        };
        let bytes = std::fs::read(&path).with_context(|| {
            format!("cannot read the built package {}; run `tessera-plugin build` first", path.display())
        })?;
        let read = check(&bytes).with_context(|| {
            format!("{} is not a package a host takes; run `tessera-plugin build` again", path.display())
        })?;
        if let Some(plugin) = &plugin {
            ensure!(
                read.manifest_text == plugin.manifest,
                "plugin.toml changed since {} was built; run `tessera-plugin build` again",
                path.display()
            );
        }
        let (id, version) = identity(&read.manifest_text)?;
        let out_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Built { bytes, manifest: read.manifest_text, id, version, out_dir })
    }

    /// `<id>-<version>.unsigned.tpkg` beside the built package.
    pub fn unsigned_path(&self) -> PathBuf {
        self.out_dir.join(format!("{}-{}.unsigned.tpkg", self.id, self.version))
    }

    /// `<id>-<version>.tpkg` beside the built package.
    pub fn signed_path(&self) -> PathBuf {
        self.out_dir.join(format!("{}-{}.tpkg", self.id, self.version))
    }

    /// The unsigned `.tpkg`, written; returns its path.
    pub fn write_unsigned(&self) -> Result<PathBuf> {
        let tpkg = Tpkg::unsigned(self.manifest.clone(), self.bytes.clone())?;
        let path = self.unsigned_path();
        write(&path, &tpkg.encode())?;
        Ok(path)
    }

    /// The `.tpkg` signed with `key` under `certificate`.
    pub fn sign(&self, key: &SecretKey, certificate: PublisherCert) -> Result<Tpkg> {
        tessera_package::sign(self.manifest.clone(), self.bytes.clone(), key, certificate).with_context(|| {
            format!(
                "cannot sign {} {}; fetch a current certificate for your key (`tessera-plugin publish` does it) and \
                 check the key is the one you registered",
                self.id, self.version
            )
        })
    }

    /// The signed `.tpkg`, written; returns its path.
    pub fn write_signed(&self, key: &SecretKey, certificate: PublisherCert) -> Result<PathBuf> {
        let tpkg = self.sign(key, certificate)?;
        let path = self.signed_path();
        write(&path, &tpkg.encode())?;
        Ok(path)
    }
}

/// Reads a publisher certificate file (what `GET /api/v1/publishers/me/certificate` returns).
pub fn read_certificate(path: &Path) -> Result<PublisherCert> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the certificate {}; fetch it from the marketplace (GET /api/v1/publishers/me/certificate)",
            path.display()
        )
    })?;
    let text = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(body) => body["certificate"].as_str().map(str::to_owned).unwrap_or(text),
        Err(_) => text,
    };
    PublisherCert::parse(text.trim()).with_context(|| format!("{} is not a publisher certificate", path.display()))
}
