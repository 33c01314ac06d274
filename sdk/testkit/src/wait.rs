//! Waiting for what happens asynchronously: events reach plugins through the host's outbox and
//! jobs run from a pump, a few milliseconds after the request that caused them has answered.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// How long [`wait_for`] waits before it gives up.
pub const WAIT_LIMIT: Duration = Duration::from_secs(30);

/// How often [`wait_for`] checks.
const POLL_EVERY: Duration = Duration::from_millis(25);

/// Calls `check` until it answers `Some(value)` and returns that value; an error from `check`
/// ends the wait at once. After [`WAIT_LIMIT`] it fails, saying what usually causes it.
pub async fn wait_for<T, F, Fut>(check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    wait_for_within(WAIT_LIMIT, check).await
}

/// [`wait_for`] with a limit of its own.
pub async fn wait_for_within<T, F, Fut>(limit: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let started = Instant::now();
    let mut checks = 0u32;
    loop {
        checks += 1;
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if started.elapsed() >= limit {
            bail!(
                "the condition still did not hold after {} s ({checks} checks). Events and jobs reach a plugin \
                 asynchronously, but within milliseconds here: is the plugin enabled, granted events:subscribe \
                 (or schedule), and does its plugin.toml list the event? Its log lines and failures are in \
                 this test's output.",
                limit.as_secs_f32()
            );
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn returns_the_first_value_that_holds() -> Result<()> {
        let calls = AtomicU32::new(0);
        let value = wait_for(|| async {
            let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
            Ok((n == 3).then_some(n * 10))
        })
        .await?;
        assert_eq!(value, 30);
        assert_eq!(calls.load(Ordering::Relaxed), 3);
        Ok(())
    }

    #[tokio::test]
    async fn gives_up_with_a_message_that_says_why() {
        let err =
            wait_for_within(Duration::from_millis(60), || async { Ok(None::<()>) }).await.expect_err("never holds");
        let text = err.to_string();
        assert!(text.contains("did not hold after 0.06 s") && text.contains("events:subscribe"), "{text}");
    }

    #[tokio::test]
    async fn an_error_ends_the_wait_at_once() {
        let started = Instant::now();
        let err =
            wait_for(|| async { Err::<Option<()>, _>(anyhow::anyhow!("the host is gone")) }).await.expect_err("fails");
        assert_eq!(err.to_string(), "the host is gone");
        assert!(started.elapsed() < WAIT_LIMIT);
    }
}
