//! Sign-in throttling and lockout, kept in the database so that the limits hold however many
//! host nodes share it.
//!
//! Each key (an account, or a client address) counts failed passwords in a rolling window.
//! Past a number of free failures the key is locked for a time that doubles with every further
//! failure, up to a ceiling. A success clears the failures.
//!
//! Failures can only be counted once a password has been checked, so concurrent guesses would
//! otherwise all pass the check before any of them is counted. Account keys therefore also
//! count the checks in flight: a check is let through only while failures plus checks in flight
//! stay within the free attempts, and once the account has been locked, one check at a time.
//! Every read-and-update of a row happens in one write transaction that takes (or creates) the
//! row with a single upsert, so no two nodes can act on the same stale numbers.

use sqlx::Row;

use crate::error::{Error, Result};
use crate::store::{Store, now_ms};

/// How one kind of key is limited.
#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    /// Failures within the window before the first lock.
    pub free_attempts: i64,
    /// Length of the counting window.
    pub window_ms: i64,
    /// The first lock; each further failure doubles it.
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
    fn lock_after(&self, failures: i64) -> i64 {
        if failures < self.free_attempts {
            return 0;
        }
        let doublings = (failures - self.free_attempts).min(20) as u32;
        self.first_lock_ms.saturating_mul(1 << doublings).min(self.max_lock_ms)
    }

    /// How many checks may run at once, given the failures so far.
    fn checks_allowed(&self, failures: i64) -> i64 {
        (self.free_attempts - failures).max(1)
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

/// The counters of one key, read under a row lock inside `tx`.
struct Counters {
    failures: i64,
    in_flight: i64,
    window_started_at: i64,
    locked_until: i64,
}

async fn take_row(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    key: &str,
    now: i64,
    policy: &ThrottlePolicy,
) -> Result<Counters> {
    // The no-op update makes the upsert return the row and, on PostgreSQL, lock it until the
    // transaction ends; SQLite's write transaction is already exclusive.
    let row = sqlx::query(
        "INSERT INTO sign_in_throttle (key, failures, in_flight, window_started_at, locked_until) VALUES ($1, 0, 0, $2, 0) \
         ON CONFLICT (key) DO UPDATE SET key = excluded.key \
         RETURNING failures, in_flight, window_started_at, locked_until",
    )
    .bind(key)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let mut c = Counters {
        failures: row.try_get(0)?,
        in_flight: row.try_get(1)?,
        window_started_at: row.try_get(2)?,
        locked_until: row.try_get(3)?,
    };
    if c.window_started_at <= now - policy.window_ms && c.locked_until <= now {
        // A new window; checks left in flight by a crashed node are forgotten with the old one.
        c = Counters { failures: 0, in_flight: 0, window_started_at: now, locked_until: 0 };
    }
    Ok(c)
}

async fn put_row(tx: &mut sqlx::Transaction<'static, sqlx::Any>, key: &str, c: &Counters) -> Result<()> {
    sqlx::query(
        "UPDATE sign_in_throttle SET failures = $2, in_flight = $3, window_started_at = $4, locked_until = $5 WHERE key = $1",
    )
    .bind(key)
    .bind(c.failures)
    .bind(c.in_flight)
    .bind(c.window_started_at)
    .bind(c.locked_until)
    .execute(&mut **tx)
    .await?;
    Ok(())
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

/// Reserves one password check against `key`: refused while the key is locked or while as
/// many checks are already running as the key has attempts left. Every reservation must be
/// settled with [`settle`].
pub async fn reserve(store: &Store, key: &str, policy: &ThrottlePolicy, what: &str) -> Result<()> {
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    let mut c = take_row(&mut tx, key, now, policy).await?;
    if c.locked_until > now {
        tx.rollback().await?;
        return Err(throttled(c.locked_until - now, what));
    }
    if c.in_flight >= policy.checks_allowed(c.failures) {
        tx.rollback().await?;
        return Err(Error::Throttled {
            retry_after_secs: 1,
            message: format!("too many sign-in attempts at once {what}; try again in a moment"),
        });
    }
    c.in_flight += 1;
    put_row(&mut tx, key, &c).await?;
    tx.commit().await?;
    Ok(())
}

/// Records the outcome of a password check. `reserved` says whether it was reserved with
/// [`reserve`]. Returns whether this failure locked the key (worth an audit entry).
pub async fn settle(store: &Store, key: &str, policy: &ThrottlePolicy, reserved: bool, success: bool) -> Result<bool> {
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    let mut c = take_row(&mut tx, key, now, policy).await?;
    if reserved {
        c.in_flight = (c.in_flight - 1).max(0);
    }
    if success {
        c.failures = 0;
        c.locked_until = 0;
    } else {
        c.failures += 1;
        let lock_ms = policy.lock_after(c.failures);
        if lock_ms > 0 {
            c.locked_until = now + lock_ms;
        }
    }
    put_row(&mut tx, key, &c).await?;
    tx.commit().await?;
    Ok(!success && c.failures == policy.free_attempts)
}

/// Forgets every failure against `key` (an administrator's unlock).
pub async fn clear(store: &Store, key: &str) -> Result<()> {
    sqlx::query("UPDATE sign_in_throttle SET failures = 0, locked_until = 0 WHERE key = $1")
        .bind(key)
        .execute(store.pool())
        .await?;
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
    fn checks_in_flight_never_exceed_the_attempts_left() {
        let p = ACCOUNT_POLICY;
        assert_eq!(p.checks_allowed(0), 5);
        assert_eq!(p.checks_allowed(3), 2);
        assert_eq!(p.checks_allowed(5), 1, "once locked, one check at a time");
        assert_eq!(p.checks_allowed(50), 1);
    }

    #[test]
    fn keys_ignore_case_and_spaces() {
        assert_eq!(account_key(3, " Admin "), "account:3:admin");
    }
}
