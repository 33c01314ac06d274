//! Notifications: what the CRM tells a user — a follow-up due, a contact's birthday, a
//! customer handed to them, an approval waiting for them or decided. Each lands in the user's
//! in-app inbox (read and unread, pushed live over server-sent events) and, where the user's
//! preferences ask for it, goes out by email through the configured SMTP relay.
//!
//! Notifications come from host reactions to events (`reactions`, run by the event
//! dispatcher) and from scheduled jobs (`jobs`). Each carries a dedupe key, so an event
//! handled twice or a job run again notifies once.

pub mod jobs;
pub mod mail;
pub mod reactions;
mod routes;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};

pub(crate) use routes::routes;

use crate::error::{Error, Result};
use crate::store::{Id, SqlBuf, Store, now_ms};
use crate::timefmt::{rfc3339, rfc3339_opt};

/// A kind of notification: what preferences are set for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub name: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    /// Whether it goes out by email unless the user says otherwise.
    pub email_by_default: bool,
    /// Whether it may go out by email at all: a popup means nothing an hour later in a mailbox.
    pub emailable: bool,
}

/// A customer's follow-up is due.
pub const FOLLOW_UP_DUE: Kind =
    Kind { name: "follow_up_due", zh: "跟进提醒", en: "Follow-ups due", email_by_default: false, emailable: true };
/// A contact of one of the user's customers has a birthday today.
pub const CONTACT_BIRTHDAY: Kind = Kind {
    name: "contact_birthday",
    zh: "联系人生日",
    en: "Contact birthdays",
    email_by_default: false,
    emailable: true,
};
/// A customer was transferred to the user.
pub const CUSTOMER_ASSIGNED: Kind = Kind {
    name: "customer_assigned",
    zh: "客户转给我",
    en: "Customers assigned to me",
    email_by_default: false,
    emailable: true,
};
/// An approval waits for the user (submitted, transferred to them, urged).
pub const APPROVAL_WAITING: Kind = Kind {
    name: "approval_waiting",
    zh: "待我审批",
    en: "Approvals waiting for me",
    email_by_default: true,
    emailable: true,
};
/// An approval the user submitted was decided, returned or withdrawn.
pub const APPROVAL_UPDATE: Kind = Kind {
    name: "approval_update",
    zh: "我的审批进展",
    en: "Progress of my approvals",
    email_by_default: true,
    emailable: true,
};
/// An approval's deadline is near or passed (reminders and escalations).
pub const APPROVAL_DEADLINE: Kind = Kind {
    name: "approval_deadline",
    zh: "审批超时提醒",
    en: "Approval deadlines",
    email_by_default: true,
    emailable: true,
};
/// A message a plugin sends (the pool plugin's reminders, an order's status from the ERP, …).
pub const PLUGIN_MESSAGE: Kind = Kind {
    name: "plugin_message",
    zh: "插件消息",
    en: "Messages from plugins",
    email_by_default: false,
    emailable: true,
};
/// For admins: a plugin was stopped by the circuit breaker, or an upgrade waits for a grant.
pub const PLUGIN_ALERT: Kind =
    Kind { name: "plugin_alert", zh: "插件告警", en: "Plugin alerts", email_by_default: true, emailable: true };

/// A plugin's page opened at once in a dialog (an incoming call); in the app only.
pub const PLUGIN_POPUP: Kind = Kind {
    name: "plugin_popup",
    zh: "插件弹窗",
    en: "Pop-ups from plugins",
    email_by_default: false,
    emailable: false,
};

/// Every kind, in the order preferences list them.
pub const KINDS: [Kind; 9] = [
    FOLLOW_UP_DUE,
    CONTACT_BIRTHDAY,
    CUSTOMER_ASSIGNED,
    APPROVAL_WAITING,
    APPROVAL_UPDATE,
    APPROVAL_DEADLINE,
    PLUGIN_MESSAGE,
    PLUGIN_POPUP,
    PLUGIN_ALERT,
];

fn kind(name: &str) -> Result<Kind> {
    KINDS.iter().copied().find(|k| k.name == name).ok_or_else(|| {
        let known: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        Error::invalid("kind", format!("{name:?} is not a kind of notification; the kinds are {}", known.join(", ")))
    })
}

/// A text in both languages the CRM speaks; each user reads it in theirs.
#[derive(Debug, Clone, Default)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Text {
        Text { zh: zh.into(), en: en.into() }
    }

    fn pick(&self, locale: &str) -> &str {
        if locale.starts_with("zh") { &self.zh } else { &self.en }
    }
}

/// A notification to make for one user.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub org_id: Id,
    pub user_id: Id,
    pub kind: Kind,
    pub title: Text,
    pub body: Text,
    pub link: Option<String>,
    pub subject: Option<(&'static str, Id)>,
    /// The same key for the same user makes no second notification.
    pub dedupe_key: String,
}

/// A notification made: whom to push it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Made {
    pub user_id: Id,
    pub id: Id,
}

/// Makes a notification inside `tx`, as the user's preferences say: in the inbox, by email
/// (to the user's address), both, or neither. Inactive users are not notified. Returns the
/// notification when it is in the inbox, for pushing once `tx` commits.
pub async fn create(tx: &mut sqlx::Transaction<'static, sqlx::Any>, n: &NewNotification) -> Result<Option<Made>> {
    let user = sqlx::query("SELECT locale, email, active FROM users WHERE org_id = $1 AND id = $2")
        .bind(n.org_id)
        .bind(n.user_id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(user) = user else { return Ok(None) };
    let (locale, email, active): (String, Option<String>, i64) = (user.try_get(0)?, user.try_get(1)?, user.try_get(2)?);
    if active == 0 {
        return Ok(None);
    }
    let chosen: Option<(i64, i64)> =
        sqlx::query_as("SELECT in_app, email FROM notification_preferences WHERE user_id = $1 AND kind = $2")
            .bind(n.user_id)
            .bind(n.kind.name)
            .fetch_optional(&mut **tx)
            .await?;
    let (in_app, by_email) = chosen.map_or((true, n.kind.email_by_default), |(a, e)| (a != 0, e != 0));
    let by_email = by_email && n.kind.emailable;
    let address = email.filter(|e| by_email && e.contains('@'));
    if !in_app && address.is_none() {
        return Ok(None);
    }
    let now = now_ms();
    let id: Option<Id> = sqlx::query_scalar(
        "INSERT INTO notifications (org_id, user_id, kind, title, body, link, subject_type, subject_id, dedupe_key, in_app, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (user_id, dedupe_key) DO NOTHING RETURNING id",
    )
    .bind(n.org_id)
    .bind(n.user_id)
    .bind(n.kind.name)
    .bind(n.title.pick(&locale))
    .bind(n.body.pick(&locale))
    .bind(&n.link)
    .bind(n.subject.map(|s| s.0))
    .bind(n.subject.map(|s| s.1))
    .bind(&n.dedupe_key)
    .bind(i64::from(in_app))
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(id) = id else { return Ok(None) };
    if let Some(address) = address {
        sqlx::query(
            "INSERT INTO notification_emails (notification_id, to_address, status, next_attempt_at) VALUES ($1, $2, 'pending', $3)",
        )
        .bind(id)
        .bind(address)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(in_app.then_some(Made { user_id: n.user_id, id }))
}

/// Tells the live streams of this node about notifications made in a committed transaction.
pub fn announce(store: &Store, made: &[Made]) {
    if !made.is_empty() {
        store.auth_cache().unread_changed();
    }
    for m in made {
        // Nobody listening is fine: the inbox keeps it.
        let _ = store.signals().notifications.send(m.user_id);
    }
}

/// A notification as its user sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Notification {
    pub id: Id,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub subject_type: Option<String>,
    pub subject_id: Option<Id>,
    pub created_at: String,
    pub read_at: Option<String>,
}

const COLUMNS: &str = "id, kind, title, body, link, subject_type, subject_id, created_at, read_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Notification> {
    Ok(Notification {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        title: r.try_get(2)?,
        body: r.try_get(3)?,
        link: r.try_get(4)?,
        subject_type: r.try_get(5)?,
        subject_id: r.try_get(6)?,
        created_at: rfc3339(r.try_get(7)?),
        read_at: rfc3339_opt(r.try_get(8)?),
    })
}

/// Filters of the inbox.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Only unread ones.
    #[serde(default)]
    pub unread: bool,
    /// Older than this id: the next page, newest first.
    pub before_id: Option<Id>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

/// A page of the inbox.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Inbox {
    pub items: Vec<Notification>,
    /// Unread notifications in all.
    pub unread: i64,
    /// Pass as `before_id` for the next page; absent on the last.
    pub next_before_id: Option<Id>,
}

/// A page of a user's inbox, newest first.
pub async fn inbox(store: &Store, user_id: Id, q: &InboxQuery) -> Result<Inbox> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::invalid("limit", "a page holds 1 to 200 notifications"));
    }
    let mut sql = SqlBuf::new(format!("SELECT {COLUMNS} FROM notifications WHERE user_id = "));
    sql.bind(user_id).push(" AND in_app = 1");
    if q.unread {
        sql.push(" AND read_at IS NULL");
    }
    if let Some(before) = q.before_id {
        sql.push(" AND id < ").bind(before);
    }
    sql.push(" ORDER BY id DESC").limit(limit + 1);
    let rows = sql.query().fetch_all(store.pool()).await?;
    let mut items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    let more = items.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(Inbox {
        next_before_id: if more { items.last().map(|n| n.id) } else { None },
        unread: unread(store, user_id).await?,
        items,
    })
}

/// How many notifications the user has not read.
/// Every page shows it in the bell, so it is remembered for a moment (see [`crate::cache`]);
/// notifications announced or read forget it.
pub async fn unread(store: &Store, user_id: Id) -> Result<i64> {
    let cache = store.auth_cache();
    if let Some(count) = cache.unread(user_id) {
        return Ok(count);
    }
    let epoch = cache.unread_epoch();
    let count =
        sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND in_app = 1 AND read_at IS NULL")
            .bind(user_id)
            .fetch_one(store.pool())
            .await?;
    cache.put_unread(user_id, count, epoch);
    Ok(count)
}

/// The user's notifications after `after_id`, oldest first: what a live stream sends next.
pub async fn after(store: &Store, user_id: Id, after_id: Id, limit: i64) -> Result<Vec<Notification>> {
    let mut sql = SqlBuf::new(format!("SELECT {COLUMNS} FROM notifications WHERE user_id = "));
    sql.bind(user_id).push(" AND in_app = 1 AND id > ").bind(after_id).push(" ORDER BY id").limit(limit);
    sql.query().fetch_all(store.pool()).await?.iter().map(from_row).collect()
}

/// The id of the user's newest notification (0 when none): where a new stream starts.
pub async fn newest(store: &Store, user_id: Id) -> Result<Id> {
    let id: Option<Id> = sqlx::query_scalar("SELECT MAX(id) FROM notifications WHERE user_id = $1 AND in_app = 1")
        .bind(user_id)
        .fetch_one(store.pool())
        .await?;
    Ok(id.unwrap_or(0))
}

/// Marks one notification read or unread.
pub async fn mark(store: &Store, user_id: Id, id: Id, read: bool) -> Result<Notification> {
    let at = read.then(now_ms);
    let done = sqlx::query("UPDATE notifications SET read_at = $3 WHERE user_id = $1 AND id = $2 AND in_app = 1")
        .bind(user_id)
        .bind(id)
        .bind(at)
        .execute(store.pool())
        .await?;
    store.auth_cache().unread_changed();
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("notification"));
    }
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM notifications WHERE id = $1")))
        .bind(id)
        .fetch_one(store.pool())
        .await?;
    from_row(&row)
}

/// Marks every notification read; returns how many were unread.
pub async fn mark_all_read(store: &Store, user_id: Id) -> Result<u64> {
    let done =
        sqlx::query("UPDATE notifications SET read_at = $2 WHERE user_id = $1 AND in_app = 1 AND read_at IS NULL")
            .bind(user_id)
            .bind(now_ms())
            .execute(store.pool())
            .await?;
    store.auth_cache().unread_changed();
    Ok(done.rows_affected())
}

/// Where one kind of notification reaches the user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Preference {
    pub kind: String,
    /// The kind's name in the user's language (ignored when saving).
    #[serde(default, skip_deserializing)]
    pub label: String,
    pub in_app: bool,
    pub email: bool,
}

/// The user's preferences for every kind, defaults filled in.
pub async fn preferences(store: &Store, user_id: Id, locale: &str) -> Result<Vec<Preference>> {
    let chosen: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT kind, in_app, email FROM notification_preferences WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(store.pool())
            .await?;
    Ok(KINDS
        .iter()
        .map(|k| {
            let (in_app, email) =
                chosen.iter().find(|c| c.0 == k.name).map_or((true, k.email_by_default), |c| (c.1 != 0, c.2 != 0));
            Preference {
                kind: k.name.to_owned(),
                label: if locale.starts_with("zh") { k.zh } else { k.en }.to_owned(),
                in_app,
                email,
            }
        })
        .collect())
}

/// Saves preferences for the kinds given; others keep theirs.
pub async fn set_preferences(
    store: &Store,
    user_id: Id,
    locale: &str,
    prefs: &[Preference],
) -> Result<Vec<Preference>> {
    for p in prefs {
        let k = kind(&p.kind)?;
        if p.email && !k.emailable {
            return Err(Error::invalid(
                "email",
                format!("{} notifications are shown in the app only, never sent by email", k.name),
            ));
        }
    }
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    for p in prefs {
        sqlx::query(
            "INSERT INTO notification_preferences (user_id, kind, in_app, email, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id, kind) DO UPDATE SET in_app = excluded.in_app, email = excluded.email, updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(&p.kind)
        .bind(i64::from(p.in_app))
        .bind(i64::from(p.email))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    preferences(store, user_id, locale).await
}
