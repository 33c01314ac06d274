//! Customer analysis: composition by a field, new customers per period, and follow-ups per
//! salesperson per period ("call volume"). Every figure counts only the records the user may
//! read, so a manager's chart shows their departments and a salesperson's their own customers.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};

use crate::access::{Access, Action};
use crate::error::{Error, Result};
use crate::store::{Id, SqlBuf, Store};

/// One slice of a composition.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Slice {
    /// The stored value; absent for customers without one.
    pub key: Option<String>,
    pub label_zh: String,
    pub label_en: String,
    pub count: i64,
}

/// What to break customers down by.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CompositionBy {
    Category,
    Level,
    Status,
    Industry,
    Region,
    Source,
    Owner,
    Department,
}

impl CompositionBy {
    fn column(self) -> &'static str {
        match self {
            CompositionBy::Category => "c.category",
            CompositionBy::Level => "c.level",
            CompositionBy::Status => "c.status",
            CompositionBy::Industry => "c.industry",
            CompositionBy::Region => "c.region",
            CompositionBy::Source => "c.source",
            CompositionBy::Owner => "CAST(c.owner_id AS TEXT)",
            CompositionBy::Department => "CAST(c.department_id AS TEXT)",
        }
    }

    fn list(self) -> Option<&'static str> {
        match self {
            CompositionBy::Category => Some("category"),
            CompositionBy::Level => Some("level"),
            CompositionBy::Status => Some("status"),
            CompositionBy::Industry => Some("industry"),
            CompositionBy::Region => Some("region"),
            CompositionBy::Source => Some("source"),
            CompositionBy::Owner | CompositionBy::Department => None,
        }
    }
}

/// Customers the user may read, counted by one field, largest first.
pub async fn composition(store: &Store, access: &Access, by: CompositionBy) -> Result<Vec<Slice>> {
    let org_id = access.principal().org_id;
    let column = by.column();
    let mut sql = SqlBuf::new(format!("SELECT {column}, COUNT(*) FROM customers c WHERE "));
    super::push_access(access, "customers", Action::Read, &mut sql);
    sql.push(&format!(" GROUP BY {column}"));
    let rows = sql.query().fetch_all(store.pool()).await?;
    let labels: BTreeMap<String, (String, String)> = match by.list() {
        Some(list) => super::options::list(store, org_id, Some(list))
            .await?
            .into_iter()
            .map(|o| (o.value, (o.label_zh, o.label_en)))
            .collect(),
        None => {
            let sql = match by {
                CompositionBy::Owner => {
                    "SELECT CAST(id AS TEXT), display_name, display_name FROM users WHERE org_id = $1"
                }
                _ => "SELECT CAST(id AS TEXT), name, name FROM departments WHERE org_id = $1",
            };
            sqlx::query(sql)
                .bind(org_id)
                .fetch_all(store.pool())
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?))))
                .collect::<Result<_>>()?
        }
    };
    let mut slices = Vec::with_capacity(rows.len());
    for r in &rows {
        let key: Option<String> = r.try_get(0)?;
        let (label_zh, label_en) = match &key {
            Some(k) => labels.get(k).cloned().unwrap_or_else(|| (k.clone(), k.clone())),
            None => ("未填写".to_owned(), "Not set".to_owned()),
        };
        slices.push(Slice { key, label_zh, label_en, count: r.try_get(1)? });
    }
    slices.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    Ok(slices)
}

/// How to group a time series.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    /// ISO weeks, starting on Monday.
    Week,
    #[default]
    Month,
}

/// A date range and grouping, in the organisation's time zone.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day (inclusive), `YYYY-MM-DD`; at most three years after `from`.
    pub to: String,
    #[param(value_type = Option<String>)]
    pub period: Option<Period>,
}

/// One point of a series.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct Point {
    /// First day of the period, `YYYY-MM-DD`.
    pub period: String,
    pub count: i64,
}

/// Follow-ups of one person per period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonSeries {
    pub user_id: Option<Id>,
    pub display_name: String,
    pub total: i64,
    /// Per kind of activity (call, visit, email, meeting, note).
    pub by_kind: BTreeMap<String, i64>,
    pub points: Vec<Point>,
}

struct Range {
    from: Date,
    to: Date,
    start_ms: i64,
    end_ms: i64,
    offset_ms: i64,
    period: Period,
}

async fn range(store: &Store, org_id: Id, q: &SeriesQuery) -> Result<Range> {
    let from: Date = q.from.parse().map_err(|_| Error::invalid("from", "write the first day as YYYY-MM-DD"))?;
    let to: Date = q.to.parse().map_err(|_| Error::invalid("to", "write the last day as YYYY-MM-DD"))?;
    if to < from {
        return Err(Error::invalid("to", "the last day is before the first"));
    }
    if from.until(to).map(|span| span.get_days()).unwrap_or(i32::MAX) > 3 * 366 {
        return Err(Error::invalid("to", "a series covers at most three years"));
    }
    let tz_name: String =
        sqlx::query_scalar("SELECT time_zone FROM orgs WHERE id = $1").bind(org_id).fetch_one(store.pool()).await?;
    let tz = jiff::tz::TimeZone::get(&tz_name).unwrap_or(jiff::tz::TimeZone::UTC);
    let bad = |e: jiff::Error| Error::Internal(e.to_string());
    let start = from.to_zoned(tz.clone()).map_err(bad)?;
    let end = to.tomorrow().map_err(bad)?.to_zoned(tz).map_err(bad)?;
    // Days are cut at the organisation's UTC offset on the first day; a daylight-saving change
    // inside the range moves items within an hour of midnight by a day at most.
    let offset_ms = i64::from(start.offset().seconds()) * 1000;
    Ok(Range {
        from,
        to,
        start_ms: start.timestamp().as_millisecond(),
        end_ms: end.timestamp().as_millisecond(),
        offset_ms,
        period: q.period.unwrap_or_default(),
    })
}

impl Range {
    fn day_of(&self, day_number: i64) -> Option<Date> {
        let ts = jiff::Timestamp::from_second(day_number.checked_mul(86_400)?).ok()?;
        Some(ts.to_zoned(jiff::tz::TimeZone::UTC).date())
    }

    fn period_start(&self, day: Date) -> Date {
        match self.period {
            Period::Day => day,
            Period::Week => {
                day.checked_sub(jiff::Span::new().days(i64::from(day.weekday().to_monday_zero_offset()))).unwrap_or(day)
            }
            Period::Month => day.first_of_month(),
        }
    }

    /// Every period of the range, so that empty periods show as zero.
    fn periods(&self) -> Vec<Date> {
        let mut out = Vec::new();
        let mut day = self.from;
        while day <= self.to {
            let p = self.period_start(day);
            if out.last() != Some(&p) {
                out.push(p);
            }
            match day.tomorrow() {
                Ok(d) => day = d,
                Err(_) => break,
            }
        }
        out
    }

    fn fill(&self, counts: &BTreeMap<Date, i64>) -> Vec<Point> {
        self.periods()
            .into_iter()
            .map(|p| Point { period: p.to_string(), count: counts.get(&p).copied().unwrap_or(0) })
            .collect()
    }
}

/// One person's follow-ups, by kind and by period.
#[derive(Default)]
struct Tally {
    by_kind: BTreeMap<String, i64>,
    by_period: BTreeMap<Date, i64>,
}

fn day_bucket(column: &str, offset_ms: i64) -> String {
    // Integer division is floor for the non-negative timestamps stored here on both backends.
    format!("(({column} + {offset_ms}) / 86400000)")
}

/// New customers (that the user may read) per period.
pub async fn new_customers(store: &Store, access: &Access, q: &SeriesQuery) -> Result<Vec<Point>> {
    let r = range(store, access.principal().org_id, q).await?;
    let bucket = day_bucket("c.created_at", r.offset_ms);
    let mut sql = SqlBuf::new(format!("SELECT {bucket}, COUNT(*) FROM customers c WHERE "));
    super::push_access(access, "customers", Action::Read, &mut sql);
    sql.push(" AND c.created_at >= ").bind(r.start_ms).push(" AND c.created_at < ").bind(r.end_ms);
    sql.push(&format!(" GROUP BY {bucket}"));
    let mut counts: BTreeMap<Date, i64> = BTreeMap::new();
    for row in sql.query().fetch_all(store.pool()).await? {
        if let Some(day) = r.day_of(row.try_get(0)?) {
            *counts.entry(r.period_start(day)).or_default() += row.try_get::<i64, _>(1)?;
        }
    }
    Ok(r.fill(&counts))
}

/// Follow-ups per salesperson per period, over the activities the user may read.
pub async fn follow_ups(store: &Store, access: &Access, q: &SeriesQuery) -> Result<Vec<PersonSeries>> {
    let org_id = access.principal().org_id;
    let r = range(store, org_id, q).await?;
    let bucket = day_bucket("a.occurred_at", r.offset_ms);
    let mut sql = SqlBuf::new(format!(
        "SELECT a.owner_id, a.kind, {bucket}, COUNT(*) FROM activities a JOIN customers c ON c.org_id = a.org_id AND c.id = a.customer_id WHERE "
    ));
    super::push_access(access, "activities", Action::Read, &mut sql);
    sql.push(" AND a.occurred_at >= ").bind(r.start_ms).push(" AND a.occurred_at < ").bind(r.end_ms);
    sql.push(&format!(" GROUP BY a.owner_id, a.kind, {bucket}"));
    let mut people: BTreeMap<Option<Id>, Tally> = BTreeMap::new();
    for row in sql.query().fetch_all(store.pool()).await? {
        let owner: Option<Id> = row.try_get(0)?;
        let kind: String = row.try_get(1)?;
        let count: i64 = row.try_get(3)?;
        let entry = people.entry(owner).or_default();
        *entry.by_kind.entry(kind).or_default() += count;
        if let Some(day) = r.day_of(row.try_get(2)?) {
            *entry.by_period.entry(r.period_start(day)).or_default() += count;
        }
    }
    let names: BTreeMap<Id, String> = sqlx::query("SELECT id, display_name FROM users WHERE org_id = $1")
        .bind(org_id)
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_>>()?;
    let mut out: Vec<PersonSeries> = people
        .into_iter()
        .map(|(user_id, tally)| PersonSeries {
            user_id,
            display_name: user_id.and_then(|u| names.get(&u).cloned()).unwrap_or_default(),
            total: tally.by_kind.values().sum(),
            points: r.fill(&tally.by_period),
            by_kind: tally.by_kind,
        })
        .collect();
    out.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.user_id.cmp(&b.user_id)));
    Ok(out)
}
