//! The mailer: sends the notification emails queued in `notification_emails` through the
//! SMTP relay an operator configures (`--smtp-url`), retrying what the relay turns away for
//! now and giving up on what it refuses outright.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use sqlx::Row as _;

use crate::error::{Error, Result};
use crate::store::{Id, Store, duration_ms, now_ms};

/// Where mail goes out.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `smtp://host:25`, `smtp://user:pass@host:587?tls=required`, `smtps://host:465`.
    pub smtp_url: String,
    /// The sender, e.g. `Tessera CRM <crm@example.com>`.
    pub from: String,
    /// The CRM's address as users reach it, for links in mail (e.g. `https://crm.example.com`).
    pub public_url: Option<String>,
    /// How often an idle mailer looks for mail.
    pub idle: Duration,
    /// Waits after each failed attempt; after the last the mail is given up.
    pub retry_delays: Vec<Duration>,
    /// Mail that could not go out for this long is given up: news that old helps no one.
    pub max_age: Duration,
}

impl MailConfig {
    /// A relay and sender with the default pace: retries after 1 min, 5 min, 30 min and 2 h.
    pub fn new(smtp_url: &str, from: &str) -> MailConfig {
        MailConfig {
            smtp_url: smtp_url.to_owned(),
            from: from.to_owned(),
            public_url: None,
            idle: Duration::from_secs(2),
            retry_delays: [60, 300, 1800, 7200].into_iter().map(Duration::from_secs).collect(),
            max_age: Duration::from_secs(24 * 3600),
        }
    }
}

struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    config: MailConfig,
}

/// One queued email with what it says.
struct Queued {
    id: Id,
    to: String,
    attempts: i64,
    created_at: i64,
    title: String,
    body: String,
    link: Option<String>,
}

impl Mailer {
    fn new(config: MailConfig) -> Result<Mailer> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.smtp_url)
            .map_err(|e| Error::Config(format!("the SMTP URL {:?} is not usable: {e}", config.smtp_url)))?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        let from = config
            .from
            .parse()
            .map_err(|e| Error::Config(format!("the sender {:?} is not an email address: {e}", config.from)))?;
        Ok(Mailer { transport, from, config })
    }

    /// Leases up to 50 due emails.
    async fn take(&self, store: &Store) -> Result<Vec<Queued>> {
        let now = now_ms();
        let lock = store.skip_locked(" FOR UPDATE OF e SKIP LOCKED");
        let mut tx = store.begin_write().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT e.id, e.to_address, e.attempts, n.created_at, n.title, n.body, n.link \
             FROM notification_emails e JOIN notifications n ON n.id = e.notification_id \
             WHERE e.status = 'pending' AND e.next_attempt_at <= $1 AND e.leased_until <= $1 ORDER BY e.next_attempt_at LIMIT 50{lock}"
        )))
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut due = Vec::with_capacity(rows.len());
        for r in rows {
            let q = Queued {
                id: r.try_get(0)?,
                to: r.try_get(1)?,
                attempts: r.try_get(2)?,
                created_at: r.try_get(3)?,
                title: r.try_get(4)?,
                body: r.try_get(5)?,
                link: r.try_get(6)?,
            };
            sqlx::query("UPDATE notification_emails SET leased_until = $2 WHERE id = $1")
                .bind(q.id)
                .bind(now + 120_000)
                .execute(&mut *tx)
                .await?;
            due.push(q);
        }
        tx.commit().await?;
        Ok(due)
    }

    fn message(&self, q: &Queued) -> std::result::Result<Message, String> {
        let to: Mailbox = q.to.parse().map_err(|e| format!("{:?} is not an email address: {e}", q.to))?;
        let mut text = q.body.clone();
        if let Some(link) = &q.link {
            let base = self.config.public_url.as_deref().unwrap_or("").trim_end_matches('/');
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&format!("{base}{link}"));
        }
        text.push_str("\n\n-- \nTessera CRM");
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&q.title)
            .header(ContentType::TEXT_PLAIN)
            .body(text)
            .map_err(|e| e.to_string())
    }

    /// Sends what is due; returns how many it tried.
    async fn send_due(&self, store: &Store) -> Result<usize> {
        let due = self.take(store).await?;
        let count = due.len();
        for q in due {
            let now = now_ms();
            let attempt = q.attempts + 1;
            let outcome = if now - q.created_at > duration_ms(self.config.max_age) {
                Err((format!("not sent within {} hours; given up", self.config.max_age.as_secs() / 3600), true))
            } else {
                match self.message(&q) {
                    Ok(m) => self.transport.send(m).await.map(|_| ()).map_err(|e| (e.to_string(), e.is_permanent())),
                    Err(e) => Err((e, true)),
                }
            };
            let update = match outcome {
                Ok(()) => sqlx::query(
                    "UPDATE notification_emails SET status = 'sent', attempts = $2, sent_at = $3, last_error = NULL, leased_until = 0 WHERE id = $1",
                )
                .bind(q.id)
                .bind(attempt)
                .bind(now),
                Err((error, permanent)) => {
                    tracing::warn!(email = q.id, %error, "a notification email was not sent");
                    let wait = self.config.retry_delays.get(usize::try_from(q.attempts).unwrap_or(usize::MAX));
                    match wait.filter(|_| !permanent) {
                        Some(wait) => sqlx::query(
                            "UPDATE notification_emails SET attempts = $2, next_attempt_at = $3, last_error = $4, leased_until = 0 WHERE id = $1",
                        )
                        .bind(q.id)
                        .bind(attempt)
                        .bind(now + duration_ms(*wait))
                        .bind(error),
                        None => sqlx::query(
                            "UPDATE notification_emails SET status = 'failed', attempts = $2, last_error = $3, leased_until = 0 WHERE id = $1",
                        )
                        .bind(q.id)
                        .bind(attempt)
                        .bind(error),
                    }
                }
            };
            update.execute(store.pool()).await?;
        }
        Ok(count)
    }
}

/// Starts the mailer. Fails at once on a relay URL or sender that cannot work.
pub fn spawn_mailer(store: Store, config: MailConfig) -> Result<tokio::task::JoinHandle<()>> {
    let mailer = Mailer::new(config)?;
    Ok(tokio::spawn(async move {
        loop {
            match mailer.send_due(&store).await {
                Ok(0) => tokio::time::sleep(mailer.config.idle).await,
                Ok(_) => {}
                Err(e) if e.is_busy() => tokio::time::sleep(mailer.config.idle).await,
                Err(e) => {
                    tracing::warn!(error = %e, "the mailer failed; trying again shortly");
                    tokio::time::sleep(mailer.config.idle * 5).await;
                }
            }
        }
    }))
}
