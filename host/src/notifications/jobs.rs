//! Scheduled reminders: follow-ups that came due, and birthdays of customers' contacts. Each
//! run covers the window since the job's previous run, so runs caught up after downtime miss
//! nothing, and dedupe keys make a repeated run notify no one twice.

use sqlx::Row as _;

use super::{CONTACT_BIRTHDAY, FOLLOW_UP_DUE, Made, NewNotification, Text, announce, create};
use crate::error::Result;
use crate::scheduler::Run;
use crate::store::{Id, Store};

/// The first run of a reminder job looks back this far.
const FIRST_WINDOW_MS: i64 = 24 * 3600 * 1000;
/// Reminders made per transaction.
const BATCH: usize = 500;

/// Birthday greetings go out from this local hour on.
const BIRTHDAY_HOUR: i8 = 8;

async fn orgs(store: &Store) -> Result<Vec<(Id, String)>> {
    Ok(sqlx::query_as("SELECT id, time_zone FROM orgs ORDER BY id").fetch_all(store.pool()).await?)
}

/// Makes `notes` in batches, pushing each batch once committed. Returns how many were new.
async fn make_all(store: &Store, notes: Vec<NewNotification>) -> Result<usize> {
    let mut count = 0;
    for chunk in notes.chunks(BATCH) {
        let mut tx = store.begin_write().await?;
        let mut made: Vec<Made> = Vec::new();
        for n in chunk {
            if let Some(m) = create(&mut tx, n).await? {
                made.push(m);
            }
        }
        tx.commit().await?;
        count += made.len();
        announce(store, &made);
    }
    Ok(count)
}

/// Tells each owner about customers whose next follow-up came due since the previous run.
pub async fn follow_ups_due(store: Store, run: Run) -> Result<String> {
    let to = run.scheduled_for;
    let from = run.previous.unwrap_or(to - FIRST_WINDOW_MS);
    let mut notes = Vec::new();
    for (org_id, _) in orgs(&store).await? {
        let rows = sqlx::query(
            "SELECT id, name, owner_id, next_follow_up_at FROM customers \
             WHERE org_id = $1 AND next_follow_up_at > $2 AND next_follow_up_at <= $3 AND owner_id IS NOT NULL \
             ORDER BY next_follow_up_at",
        )
        .bind(org_id)
        .bind(from)
        .bind(to)
        .fetch_all(store.pool())
        .await?;
        for r in rows {
            let (id, name, owner, due): (Id, String, Id, i64) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
            notes.push(NewNotification {
                org_id,
                user_id: owner,
                kind: FOLLOW_UP_DUE,
                title: Text::new(format!("该跟进了：{name}"), format!("Follow-up due: {name}")),
                body: Text::default(),
                link: Some(format!("/customers/{id}")),
                subject: Some(("customer", id)),
                dedupe_key: format!("follow_up:{id}:{due}"),
            });
        }
    }
    let found = notes.len();
    let made = make_all(&store, notes).await?;
    Ok(format!("{found} follow-ups due, {made} owners notified"))
}

/// On each contact's birthday (in the organisation's time zone, from 08:00), tells the owner
/// of the contact's customer. Those born on 29 February are remembered on 28 February in
/// other years.
pub async fn contact_birthdays(store: Store, run: Run) -> Result<String> {
    let at = jiff::Timestamp::from_millisecond(run.scheduled_for).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let mut notes = Vec::new();
    for (org_id, zone) in orgs(&store).await? {
        let tz = jiff::tz::TimeZone::get(&zone).unwrap_or(jiff::tz::TimeZone::UTC);
        let local = at.to_zoned(tz);
        if local.hour() < BIRTHDAY_HOUR {
            continue;
        }
        let date = local.date();
        let mut days = vec![format!("{:02}-{:02}", date.month(), date.day())];
        if date.month() == 2 && date.day() == 28 && !date.in_leap_year() {
            days.push("02-29".to_owned());
        }
        let mut sql = crate::store::SqlBuf::new(
            "SELECT k.id, k.name, c.id, c.name, c.owner_id FROM contacts k JOIN customers c ON c.org_id = k.org_id AND c.id = k.customer_id \
             WHERE k.org_id = ",
        );
        sql.bind(org_id)
            .push(" AND k.birthday IS NOT NULL AND substr(k.birthday, 6, 5) IN ")
            .bind_list(&days)
            .push(" AND c.owner_id IS NOT NULL");
        for r in sql.query().fetch_all(store.pool()).await? {
            let (contact, person, customer, company, owner): (Id, String, Id, String, Id) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?);
            notes.push(NewNotification {
                org_id,
                user_id: owner,
                kind: CONTACT_BIRTHDAY,
                title: Text::new(
                    format!("今天是{person}（{company}）的生日"),
                    format!("Today is the birthday of {person} ({company})"),
                ),
                body: Text::default(),
                link: Some(format!("/customers/{customer}")),
                subject: Some(("contact", contact)),
                dedupe_key: format!("birthday:{contact}:{}", date.year()),
            });
        }
    }
    let found = notes.len();
    let made = make_all(&store, notes).await?;
    Ok(format!("{found} birthdays today, {made} owners notified"))
}

/// Reminds approvers of approvals nearing their deadline and escalates overdue ones (the
/// workflow kernel decides which; each step is reminded and escalated once).
pub async fn approval_deadlines(store: Store, _run: Run) -> Result<String> {
    let done = crate::workflow::run_deadlines(&store, crate::store::now_ms()).await?;
    Ok(format!("{done} reminders and escalations"))
}

/// The host's built-in jobs.
pub fn builtin() -> Result<Vec<crate::scheduler::Job>> {
    use crate::scheduler::Job;
    Ok(vec![
        Job::new("follow-ups-due", "*/5 * * * *", follow_ups_due)?,
        Job::new("contact-birthdays", "0 * * * *", contact_birthdays)?,
        Job::new("approval-deadlines", "* * * * *", approval_deadlines)?,
    ])
}
