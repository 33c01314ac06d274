//! `tessera-plugin keygen`: a publisher's Ed25519 key pair, as two text files. The secret key
//! signs packages and never leaves the publisher's machine; the public key is what the
//! marketplace registers and certifies.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use tessera_package::{PublicKey, SecretKey};

/// The secret key's file name.
pub const SECRET_FILE: &str = "publisher.key";
/// The public key's file name.
pub const PUBLIC_FILE: &str = "publisher.pub";

/// Writes `publisher.key` (readable by its owner only) and `publisher.pub` in `dir`; refuses to
/// overwrite a key, whose loss would orphan every certificate issued for it.
pub fn keygen(dir: &Path) -> Result<(PathBuf, PublicKey)> {
    let secret_path = dir.join(SECRET_FILE);
    let public_path = dir.join(PUBLIC_FILE);
    for path in [&secret_path, &public_path] {
        ensure!(
            !path.exists(),
            "{} exists and is kept; a new key pair needs registering again, so write it elsewhere with --out DIR \
             or move the old one away first",
            path.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let key = tessera_package::keygen()?;
    write_secret(&secret_path, &format!("{}\n", key.to_text()))?;
    let public = key.public_key();
    std::fs::write(&public_path, format!("{}\n", public.to_text()))
        .with_context(|| format!("cannot write {}", public_path.display()))?;
    Ok((secret_path, public))
}

/// Reads a secret key file.
pub fn read_secret(path: &Path) -> Result<SecretKey> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the secret key {}; make one with `tessera-plugin keygen` or pass --key FILE",
            path.display()
        )
    })?;
    SecretKey::parse(text.trim()).with_context(|| format!("{} is not a publisher secret key", path.display()))
}

#[cfg(unix)]
fn write_secret(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(not(unix))]
fn write_secret(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_pair_that_reads_back_and_never_overwrites_it() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("tessera-plugin-keys-{}", uuid::Uuid::new_v4().simple()));
        let (secret, public) = keygen(&dir)?;
        assert_eq!(read_secret(&secret)?.public_key(), public);
        assert_eq!(PublicKey::parse(std::fs::read_to_string(dir.join(PUBLIC_FILE))?.trim())?, public);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&secret)?.permissions().mode() & 0o777, 0o600);
        }
        let err = format!("{:#}", keygen(&dir).expect_err("the pair exists"));
        assert!(err.contains("--out DIR"), "{err}");
        assert_eq!(read_secret(&secret)?.public_key(), public, "the first key is kept");
        std::fs::write(dir.join("other"), "not a key")?;
        let err = format!("{:#}", read_secret(&dir.join("other")).expect_err("not a key"));
        assert!(err.contains("not a publisher secret key"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    }
}
