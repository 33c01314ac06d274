//! Password hashing (argon2id) and the password policy.
//!
//! Hashing is deliberately slow, so it runs on the blocking thread pool, never on the async
//! executor, and at most one hash per core runs at once: a burst of sign-ins queues here
//! instead of starving every other request of CPU.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// Shortest password accepted, in characters. No composition rules (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted, in characters; long passphrases fit comfortably.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Checks a new password against the policy.
pub fn check_policy(password: &str, username: &str) -> Result<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(
            "password",
            format!(
                "the password must be at least {MIN_PASSWORD_CHARS} characters long; a passphrase of a few words works well"
            ),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(Error::invalid(
            "password",
            format!("the password must be at most {MAX_PASSWORD_CHARS} characters long"),
        ));
    }
    if password.trim().eq_ignore_ascii_case(username.trim()) {
        return Err(Error::invalid("password", "the password must not be the user name"));
    }
    Ok(())
}

/// Hashes and verifies passwords off the async executor, a bounded number at a time.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    params: Params,
    /// A hash of a random password, verified against when the user does not exist, so that
    /// an unknown user name takes as long to refuse as a wrong password.
    dummy: Arc<String>,
}

impl PasswordHasher {
    /// argon2id with the OWASP-recommended cost (19 MiB, 2 passes, 1 lane).
    pub fn new() -> Self {
        let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
        let parallel = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let dummy = hash_blocking(&params, &crate::auth::random_token(16)).unwrap_or_default();
        PasswordHasher { permits: Arc::new(Semaphore::new(parallel)), params, dummy: Arc::new(dummy) }
    }

    pub async fn hash(&self, password: &str) -> Result<String> {
        let _permit = self.permits.acquire().await.map_err(|e| Error::Internal(e.to_string()))?;
        let params = self.params.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_blocking(&params, &password))
            .await
            .map_err(|e| Error::Internal(format!("password hashing task failed: {e}")))?
    }

    /// Verifies `password` against `hash`; with no hash, burns the same time and says no.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool> {
        let _permit = self.permits.acquire().await.map_err(|e| Error::Internal(e.to_string()))?;
        let known = hash.is_some();
        let hash = hash.map(str::to_owned).unwrap_or_else(|| self.dummy.as_str().to_owned());
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
                .unwrap_or(false)
        })
        .await
        .map_err(|e| Error::Internal(format!("password check task failed: {e}")))?;
        Ok(known && ok)
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

fn hash_blocking(params: &Params, password: &str) -> Result<String> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt_bytes = [0u8; 16];
    rand::fill(&mut salt_bytes);
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| Error::Internal(format!("password salt failed: {e}")))?;
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_counts_characters_not_bytes() {
        assert!(check_policy("短密码短密码短密码短密", "u").is_err()); // 11 characters
        assert!(check_policy("短密码短密码短密码短密码", "u").is_ok()); // 12 characters
        assert!(check_policy("correct horse battery staple", "u").is_ok());
        assert!(check_policy(&"x".repeat(1025), "u").is_err());
        assert!(check_policy("administrator", "Administrator").is_err());
    }

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_fail() {
        let hasher = PasswordHasher::new();
        let hash = hasher.hash("a long enough passphrase").await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify("a long enough passphrase", Some(&hash)).await.expect("verify"));
        assert!(!hasher.verify("a wrong passphrase here", Some(&hash)).await.expect("verify"));
        assert!(!hasher.verify("a long enough passphrase", None).await.expect("verify"));
        assert!(!hasher.verify("x", Some("not a hash")).await.expect("verify"));
    }
}
