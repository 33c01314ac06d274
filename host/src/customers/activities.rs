//! Activities: the follow-ups that make up a customer's timeline (calls, visits, emails,
//! meetings, notes), each with a result and the date of the next follow-up. Each customer
//! keeps when it was last followed up and when it is next due, set by its latest activity.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};

use super::parse_time;
use crate::access::{Access, Action};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::store::{Id, SqlBuf, Store, now_ms};
use crate::timefmt::{rfc3339, rfc3339_opt};

pub const KINDS: &[&str] = &["call", "visit", "email", "meeting", "note"];

/// An activity on a customer's timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Activity {
    pub id: Id,
    pub customer_id: Id,
    pub contact_id: Option<Id>,
    /// call, visit, email, meeting or note.
    pub kind: String,
    pub subject: String,
    pub content: String,
    pub result: String,
    pub occurred_at: String,
    pub next_follow_up_at: Option<String>,
    /// Who followed up.
    pub owner_id: Option<Id>,
    pub created_at: String,
}

/// A follow-up to log.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActivity {
    pub kind: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub result: String,
    pub contact_id: Option<Id>,
    /// When it happened (RFC 3339); default now.
    pub occurred_at: Option<String>,
    /// When to follow up next (RFC 3339).
    pub next_follow_up_at: Option<String>,
}

/// Paging of a timeline, newest first.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// Activities older than this id.
    pub before_id: Option<Id>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

fn text(field: &'static str, v: &str, max: usize) -> Result<String> {
    let v = v.trim();
    if v.chars().count() > max {
        return Err(Error::invalid(field, format!("{field} is at most {max} characters")));
    }
    Ok(v.to_owned())
}

/// Logs a follow-up and moves the customer's last and next follow-up dates.
pub async fn create(store: &Store, access: &Access, customer_id: Id, input: &NewActivity) -> Result<Activity> {
    let p = *access.principal();
    let customer = super::get(store, access, customer_id, Action::Read).await?;
    if !access.allows("activities", Action::Create, &customer.scope(p.org_id)) {
        return Err(Error::Forbidden("you may not log follow-ups on this customer".into()));
    }
    if !KINDS.contains(&input.kind.as_str()) {
        return Err(Error::invalid("kind", format!("the kind is one of {}", KINDS.join(", "))));
    }
    let subject = text("subject", &input.subject, 200)?;
    let content = text("content", &input.content, 20_000)?;
    let result = text("result", &input.result, 2_000)?;
    let now = now_ms();
    let occurred_at = input.occurred_at.as_deref().map(|s| parse_time("occurred_at", s)).transpose()?.unwrap_or(now);
    let next = input.next_follow_up_at.as_deref().map(|s| parse_time("next_follow_up_at", s)).transpose()?;
    if next.is_some_and(|n| n < occurred_at) {
        return Err(Error::invalid("next_follow_up_at", "the next follow-up cannot be before this one"));
    }
    let mut tx = store.begin_write().await?;
    if let Some(contact) = input.contact_id {
        let owner: Option<i64> = sqlx::query_scalar("SELECT customer_id FROM contacts WHERE id = $1 AND org_id = $2")
            .bind(contact)
            .bind(p.org_id)
            .fetch_optional(&mut *tx)
            .await?;
        if owner != Some(customer_id) {
            return Err(Error::invalid("contact_id", "the contact must be one of this customer's"));
        }
    }
    let id: Id = sqlx::query_scalar(
        "INSERT INTO activities (org_id, customer_id, contact_id, kind, subject, content, result, occurred_at, next_follow_up_at, owner_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(p.org_id)
    .bind(customer_id)
    .bind(input.contact_id)
    .bind(&input.kind)
    .bind(&subject)
    .bind(&content)
    .bind(&result)
    .bind(occurred_at)
    .bind(next)
    .bind(p.user_id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    // The latest follow-up decides the dates; logging an older one afterwards leaves them.
    sqlx::query(
        "UPDATE customers SET \
           next_follow_up_at = CASE WHEN last_followed_up_at IS NULL OR last_followed_up_at <= $3 THEN $4 ELSE next_follow_up_at END, \
           last_followed_up_at = CASE WHEN last_followed_up_at IS NULL OR last_followed_up_at < $3 THEN $3 ELSE last_followed_up_at END, \
           updated_at = $5, version = version + 1 \
         WHERE id = $1 AND org_id = $2",
    )
    .bind(customer_id)
    .bind(p.org_id)
    .bind(occurred_at)
    .bind(next)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let activity = Activity {
        id,
        customer_id,
        contact_id: input.contact_id,
        kind: input.kind.clone(),
        subject,
        content,
        result,
        occurred_at: rfc3339(occurred_at),
        next_follow_up_at: rfc3339_opt(next),
        owner_id: Some(p.user_id),
        created_at: rfc3339(now),
    };
    Event {
        org_id: p.org_id,
        topic: "activity.created",
        aggregate: ("customer", customer_id),
        actor_user_id: Some(p.user_id),
        payload: &activity,
    }
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(activity)
}

/// A customer's timeline, newest first.
pub async fn timeline(store: &Store, access: &Access, customer_id: Id, q: &TimelineQuery) -> Result<Vec<Activity>> {
    super::get(store, access, customer_id, Action::Read).await?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::invalid("limit", "limit is 1 to 200"));
    }
    let mut sql = SqlBuf::new(
        "SELECT a.id, a.customer_id, a.contact_id, a.kind, a.subject, a.content, a.result, a.occurred_at, a.next_follow_up_at, \
                a.owner_id, a.created_at \
         FROM activities a JOIN customers c ON c.org_id = a.org_id AND c.id = a.customer_id WHERE ",
    );
    super::push_access(access, "activities", Action::Read, &mut sql);
    sql.push(" AND a.customer_id = ").bind(customer_id);
    if let Some(before) = q.before_id {
        sql.push(" AND a.id < ").bind(before);
    }
    sql.push(" ORDER BY a.occurred_at DESC, a.id DESC").limit(limit);
    let rows = sql.query().fetch_all(store.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok(Activity {
                id: r.try_get(0)?,
                customer_id: r.try_get(1)?,
                contact_id: r.try_get(2)?,
                kind: r.try_get(3)?,
                subject: r.try_get(4)?,
                content: r.try_get(5)?,
                result: r.try_get(6)?,
                occurred_at: rfc3339(r.try_get(7)?),
                next_follow_up_at: rfc3339_opt(r.try_get(8)?),
                owner_id: r.try_get(9)?,
                created_at: rfc3339(r.try_get(10)?),
            })
        })
        .collect()
}
