//! Sign-in throttling and lockout, kept in the database so that the limits hold however many
//! host nodes share it.
//!
//! Each key (an account, or a client address) counts attempts in a rolling window. Past a
//! number of free attempts the key is locked for a time that doubles with every further
//! attempt, up to a ceiling. The count and the lock are taken in one write transaction, so
//! concurrent attempts cannot slip past the limit between a read and a write.

use sqlx::Row;

use crate::error::{Error, Result};
use crate::store::{Store, now_ms};

/// How one kind of key is limited.
#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    /// Attempts within the window before the first lock.
    pub free_attempts: i64,
    /// Length of the counting window.
    pub window_ms: i64,
    /// The first lock; each further attempt doubles it.
    pub first_lock_ms: i64,
    /// The longest lock.
    pub max_lock_ms: i64,
}

/// Per account: five tries, then 30 s, 1 min, 2 min, … up to 15 min between tries. That lets
/// fewer than twenty guesses an hour through, while the owner can retry soon after a typo.
pub const ACCOUNT_POLICY: ThrottlePolicy =
    ThrottlePolicy { free_attempts: 5, window_ms: 3_600_000, first_lock_ms: 30_000, max_lock_ms: 900_000 };

/// Per client address, counting failed passwords only (so colleagues behind one NAT do not
/// lock each other out by signing in): a spray across many accounts is cut off.
pub const ADDRESS_POLICY: ThrottlePolicy =
    ThrottlePolicy { free_attempts: 50, window_ms: 3_600_000, first_lock_ms: 900_000, max_lock_ms: 3_600_000 };

impl ThrottlePolicy {
    fn lock_after(&self, attempts: i64) -> i64 {
        if attempts < self.free_attempts {
            return 0;
        }
        let doublings = (attempts - self.free_attempts).min(20) as u32;
        self.first_lock_ms.saturating_mul(1 << doublings).min(self.max_lock_ms)
    }
}

/// The throttle key of an account.
pub fn account_key(org_id: i64, username: &str) -> String {
    format!("account:{org_id}:{}", username.trim().to_lowercase())
}

/// The throttle key of a client address.
pub fn address_key(ip: &str) -> String {
    format!("address:{ip}")
}

fn throttled(retry_after_ms: i64, what: &str) -> Error {
    let secs = ((retry_after_ms + 999) / 1000).max(1) as u64;
    Error::Throttled {
        retry_after_secs: secs,
        message: format!(
            "too many failed sign-in attempts {what}; try again in {secs} seconds, or ask an administrator to unlock the account"
        ),
    }
}

/// Fails with `Throttled` while `key` is locked.
pub async fn ensure_unlocked(store: &Store, key: &str, what: &str) -> Result<()> {
    let locked_until: Option<i64> = sqlx::query_scalar("SELECT locked_until FROM sign_in_throttle WHERE key = $1")
        .bind(key)
        .fetch_optional(store.pool())
        .await?;
    let now = now_ms();
    match locked_until {
        Some(until) if until > now => Err(throttled(until - now, what)),
        _ => Ok(()),
    }
}

/// Counts one attempt against `key`, refusing it while the key is locked. Returns whether this
/// attempt started a lock (worth an audit entry).
pub async fn count_attempt(store: &Store, key: &str, policy: &ThrottlePolicy, what: &str) -> Result<bool> {
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    sqlx::query(
        "INSERT INTO sign_in_throttle (key, attempts, window_started_at, locked_until) \
         VALUES ($1, 0, $2, 0) ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let lock_clause = if store.backend() == crate::store::Backend::Postgres { " FOR UPDATE" } else { "" };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT attempts, window_started_at, locked_until FROM sign_in_throttle WHERE key = $1{lock_clause}"
    )))
    .bind(key)
    .fetch_one(&mut *tx)
    .await?;
    let (mut attempts, mut window_started_at, locked_until): (i64, i64, i64) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    if locked_until > now {
        tx.rollback().await?;
        return Err(throttled(locked_until - now, what));
    }
    if window_started_at <= now - policy.window_ms {
        attempts = 0;
        window_started_at = now;
    }
    attempts += 1;
    let lock_ms = policy.lock_after(attempts);
    let new_lock = if lock_ms > 0 { now + lock_ms } else { 0 };
    sqlx::query("UPDATE sign_in_throttle SET attempts = $2, window_started_at = $3, locked_until = $4 WHERE key = $1")
        .bind(key)
        .bind(attempts)
        .bind(window_started_at)
        .bind(new_lock)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(attempts == policy.free_attempts)
}

/// Forgets every attempt against `key` (after a successful sign-in, or an administrator's unlock).
pub async fn clear(store: &Store, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM sign_in_throttle WHERE key = $1").bind(key).execute(store.pool()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_double_up_to_the_ceiling() {
        let p = ACCOUNT_POLICY;
        assert_eq!(p.lock_after(4), 0);
        assert_eq!(p.lock_after(5), 30_000);
        assert_eq!(p.lock_after(6), 60_000);
        assert_eq!(p.lock_after(9), 480_000);
        assert_eq!(p.lock_after(10), 900_000);
        assert_eq!(p.lock_after(10_000), 900_000);
    }

    #[test]
    fn keys_ignore_case_and_spaces() {
        assert_eq!(account_key(3, " Admin "), "account:3:admin");
    }
}
