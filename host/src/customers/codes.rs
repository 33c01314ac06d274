//! Customer codes from a pattern per organisation, e.g. `KH-{yyyy}-{seq:5}` → `KH-2026-00001`.
//!
//! The sequence is kept per organisation and per rendered prefix (so a pattern with `{yyyy}`
//! starts again at 1 each year) in `code_counters`, and is taken with one upsert inside the
//! transaction that inserts the record: two creations at once queue on the counter row, and a
//! creation that rolls back gives its number back. Codes are therefore unique and gap-free.

use jiff::Zoned;

use crate::audit::AuditEntry;
use crate::error::{Error, Result};
use crate::store::{Id, Store};

/// The pattern a new organisation starts with.
pub const DEFAULT_PATTERN: &str = "KH-{yyyy}-{seq:5}";

/// A checked pattern: literal text around date fields and exactly one `{seq:N}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodePattern {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Year4,
    Year2,
    Month,
    Day,
    Seq(usize),
}

impl CodePattern {
    /// Parses a pattern, explaining what is wrong with a bad one.
    pub fn parse(pattern: &str) -> Result<CodePattern> {
        let bad = |why: &str| Error::invalid("pattern", format!("{why}; write e.g. KH-{{yyyy}}-{{seq:5}}"));
        if pattern.is_empty() || pattern.chars().count() > 64 {
            return Err(bad("a code pattern is 1–64 characters"));
        }
        let mut parts = Vec::new();
        let mut rest = pattern;
        let mut seqs = 0;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let end = rest.find('}').ok_or_else(|| bad("a `{` is not closed"))?;
                    let field = &rest[1..end];
                    let part = match field {
                        "yyyy" => Part::Year4,
                        "yy" => Part::Year2,
                        "mm" => Part::Month,
                        "dd" => Part::Day,
                        _ => match field.strip_prefix("seq:").map(str::parse::<usize>) {
                            Some(Ok(width)) if (1..=12).contains(&width) => {
                                seqs += 1;
                                Part::Seq(width)
                            }
                            _ => {
                                return Err(bad(&format!(
                                    "unknown field {{{field}}}; use yyyy, yy, mm, dd or seq:N (N 1–12)"
                                )));
                            }
                        },
                    };
                    parts.push(part);
                    rest = &rest[end + 1..];
                }
                next => {
                    let end = next.unwrap_or(rest.len());
                    let text = &rest[..end];
                    if text.contains('}') {
                        return Err(bad("a `}` has no `{`"));
                    }
                    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
                        return Err(bad("codes cannot contain spaces or control characters"));
                    }
                    parts.push(Part::Text(text.to_owned()));
                    rest = &rest[end..];
                }
            }
        }
        if seqs != 1 {
            return Err(bad("the pattern needs exactly one {seq:N}"));
        }
        Ok(CodePattern { parts })
    }

    /// The counter scope for a date: the pattern rendered without its sequence.
    pub fn scope(&self, today: &Zoned) -> String {
        self.render(today, None)
    }

    /// The code for sequence number `seq` on `today`.
    pub fn code(&self, today: &Zoned, seq: i64) -> String {
        self.render(today, Some(seq))
    }

    fn render(&self, today: &Zoned, seq: Option<i64>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Year4 => out.push_str(&format!("{:04}", today.year())),
                Part::Year2 => out.push_str(&format!("{:02}", today.year().rem_euclid(100))),
                Part::Month => out.push_str(&format!("{:02}", today.month())),
                Part::Day => out.push_str(&format!("{:02}", today.day())),
                Part::Seq(width) => match seq {
                    Some(n) => out.push_str(&format!("{n:0width$}")),
                    None => out.push_str("{seq}"),
                },
            }
        }
        out
    }
}

/// The organisation's customer code pattern and time zone.
pub async fn org_pattern<'e, E>(exec: E, org_id: Id) -> Result<(CodePattern, String)>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let (pattern, time_zone): (String, String) =
        sqlx::query_as("SELECT customer_code_pattern, time_zone FROM orgs WHERE id = $1")
            .bind(org_id)
            .fetch_one(exec)
            .await?;
    Ok((CodePattern::parse(&pattern)?, time_zone))
}

/// Sets the organisation's customer code pattern, refusing a bad one, and records
/// `setting.customer_code_pattern` for `actor` in the same transaction. Existing codes stay.
pub async fn set_pattern(
    store: &Store,
    org_id: Id,
    actor: Option<Id>,
    ip: Option<std::net::IpAddr>,
    pattern: &str,
) -> Result<()> {
    CodePattern::parse(pattern)?;
    let mut tx = store.begin_write().await?;
    sqlx::query("UPDATE orgs SET customer_code_pattern = $2 WHERE id = $1")
        .bind(org_id)
        .bind(pattern)
        .execute(&mut *tx)
        .await?;
    AuditEntry::new(org_id, actor, "setting.customer_code_pattern")
        .ip(ip)
        .detail(serde_json::json!({ "pattern": pattern }))
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Takes the next number for `pattern` in `tx` and returns the code.
pub async fn next_code(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    pattern: &CodePattern,
    time_zone: &str,
) -> Result<String> {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let today = jiff::Timestamp::now().to_zoned(tz);
    let scope = pattern.scope(&today);
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO code_counters (org_id, scope, last_value) VALUES ($1, $2, 1) \
         ON CONFLICT (org_id, scope) DO UPDATE SET last_value = code_counters.last_value + 1 \
         RETURNING last_value",
    )
    .bind(org_id)
    .bind(&scope)
    .fetch_one(&mut **tx)
    .await?;
    Ok(pattern.code(&today, seq))
}

/// Takes `count` consecutive numbers at once (for imports) and returns their codes.
pub async fn take_codes(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: Id,
    pattern: &CodePattern,
    time_zone: &str,
    count: i64,
) -> Result<Vec<String>> {
    if count <= 0 {
        return Ok(Vec::new());
    }
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let today = jiff::Timestamp::now().to_zoned(tz);
    let scope = pattern.scope(&today);
    let last: i64 = sqlx::query_scalar(
        "INSERT INTO code_counters (org_id, scope, last_value) VALUES ($1, $2, $3)          ON CONFLICT (org_id, scope) DO UPDATE SET last_value = code_counters.last_value + $3          RETURNING last_value",
    )
    .bind(org_id)
    .bind(&scope)
    .bind(count)
    .fetch_one(&mut **tx)
    .await?;
    Ok((last - count + 1..=last).map(|n| pattern.code(&today, n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i16, m: i8, d: i8) -> Zoned {
        jiff::civil::date(y, m, d).at(9, 0, 0, 0).to_zoned(jiff::tz::TimeZone::UTC).expect("date")
    }

    #[test]
    fn renders_dates_and_padded_sequences() {
        let p = CodePattern::parse(DEFAULT_PATTERN).expect("pattern");
        assert_eq!(p.code(&day(2026, 3, 7), 1), "KH-2026-00001");
        assert_eq!(p.code(&day(2026, 3, 7), 123_456), "KH-2026-123456", "a full sequence grows past its width");
        assert_eq!(p.scope(&day(2026, 3, 7)), "KH-2026-{seq}");
        let p = CodePattern::parse("C{yy}{mm}{dd}{seq:3}").expect("pattern");
        assert_eq!(p.code(&day(2027, 11, 2), 42), "C271102042");
    }

    #[test]
    fn bad_patterns_say_why() {
        for bad in [
            "",
            "KH-{yyyy}",
            "KH-{seq:5}-{seq:2}",
            "KH-{seq:0}",
            "KH-{week}-{seq:3}",
            "KH {seq:3}",
            "KH-{seq:3",
            "KH}-{seq:3}",
        ] {
            assert!(CodePattern::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
