//! Recycle rules, one per customer level: a customer of that level returns to the pool when its
//! owner has not followed it up for `idle_days`, or has held it for `unwon_days` without winning
//! it, and the owner is reminded `remind_days` before. Won and locked customers are exempt.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_sdk::customers::Selection;
use tessera_sdk::records::{self, Record};
use tessera_sdk::{Id, Result};

use crate::config::Settings;
use crate::reference;
use crate::text::{self, Text};
use tessera_sdk::time::days_ms;

/// The entity that stores rules.
pub const ENTITY: &str = "rule";
/// The longest period a rule may count, ten years.
pub const MAX_DAYS: u32 = 3650;

/// A recycle rule as defined on the rules page. 0 days switches a criterion off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// The record's id.
    pub id: Id,
    pub level: String,
    pub idle_days: u32,
    pub unwon_days: u32,
    pub remind_days: u32,
}

/// The fields of a `rule` record.
#[derive(Debug, Default, Serialize, Deserialize)]
struct RuleFields {
    level: String,
    #[serde(default)]
    idle_days: Option<i64>,
    #[serde(default)]
    unwon_days: Option<i64>,
    #[serde(default)]
    remind_days: Option<i64>,
}

fn days_of(value: Option<i64>) -> u32 {
    value.map_or(0, |d| u32::try_from(d.clamp(0, i64::from(MAX_DAYS))).unwrap_or(0))
}

impl Rule {
    fn from_record(record: &Record) -> Result<Rule> {
        let fields: RuleFields = reference::fields_of(record)?;
        Ok(Rule {
            id: record.id,
            level: fields.level,
            idle_days: days_of(fields.idle_days),
            unwon_days: days_of(fields.unwon_days),
            remind_days: days_of(fields.remind_days),
        })
    }

    /// The criteria the rule has switched on, with their days.
    pub fn criteria(&self) -> Vec<(Criterion, u32)> {
        [(Criterion::Idle, self.idle_days), (Criterion::Unwon, self.unwon_days)]
            .into_iter()
            .filter(|(_, days)| *days > 0)
            .collect()
    }

    /// The customers of this level that a criterion returns to the pool now.
    pub fn overdue(&self, criterion: Criterion, days: u32, now: i64, settings: &Settings) -> Selection {
        self.holding_since(criterion, now - days_ms(days), settings)
    }

    /// The customers of this level that a criterion will return to the pool within
    /// `remind_days`, or `None` when the rule reminds of nothing for it.
    pub fn due_soon(&self, criterion: Criterion, days: u32, now: i64, settings: &Settings) -> Option<Selection> {
        (self.remind_days > 0 && self.remind_days < days)
            .then(|| self.holding_since(criterion, now - days_ms(days - self.remind_days), settings))
    }

    /// Owned customers of the level, not exempt, idle (or held) since `since`.
    fn holding_since(&self, criterion: Criterion, since: i64, settings: &Settings) -> Selection {
        let selection = Selection::owned().levels(&[self.level.as_str()]);
        let selection = match criterion {
            Criterion::Idle => selection.idle_since(since),
            Criterion::Unwon => selection.owned_before(since),
        };
        settings.without_exempt(selection)
    }
}

/// Why a rule returns a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// Not followed up (the owner taking it counts as a follow-up).
    Idle,
    /// Held without being won.
    Unwon,
}

/// Every rule defined.
pub fn defined() -> Result<Vec<Rule>> {
    reference::records_of(ENTITY)?.iter().map(Rule::from_record).collect()
}

/// A rule as the form gives it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInput {
    pub level: String,
    pub idle_days: u32,
    pub unwon_days: u32,
    pub remind_days: u32,
    /// Replace the rule the level has already.
    pub replace: bool,
}

impl RuleInput {
    /// Reads and checks the form; what is wrong comes back by field name.
    pub fn parse(t: Text, input: &Value) -> Result<RuleInput, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let level = input.get("level").and_then(Value::as_str).unwrap_or_default().trim().to_owned();
        if level.is_empty() {
            errors.push(("level".to_owned(), t.level_required()));
        } else if level.chars().count() > 64 {
            errors.push(("level".to_owned(), t.level_too_long()));
        }
        let mut days = |field: &str| match read_days(input.get(field)) {
            Some(days) => days,
            None => {
                errors.push((field.to_owned(), t.days_range(MAX_DAYS)));
                0
            }
        };
        let idle_days = days("idle_days");
        let unwon_days = days("unwon_days");
        let remind_days = days("remind_days");
        if errors.is_empty() {
            if idle_days == 0 && unwon_days == 0 {
                errors.push(("idle_days".to_owned(), t.rule_needs_a_criterion()));
            }
            if remind_days > 0 && idle_days > 0 && remind_days >= idle_days {
                errors.push(("remind_days".to_owned(), t.remind_before(idle_days)));
            } else if remind_days > 0 && unwon_days > 0 && remind_days >= unwon_days {
                errors.push(("remind_days".to_owned(), t.remind_before(unwon_days)));
            }
        }
        let replace = input.get("replace").is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"));
        if errors.is_empty() {
            Ok(RuleInput { level, idle_days, unwon_days, remind_days, replace })
        } else {
            Err(errors)
        }
    }

    fn fields(&self) -> RuleFields {
        RuleFields {
            level: self.level.clone(),
            idle_days: Some(i64::from(self.idle_days)),
            unwon_days: Some(i64::from(self.unwon_days)),
            remind_days: Some(i64::from(self.remind_days)),
        }
    }
}

/// Whole days from 0 to [`MAX_DAYS`]; empty is 0. `None` when it is anything else.
fn read_days(value: Option<&Value>) -> Option<u32> {
    let days = match value {
        None | Some(Value::Null) => return Some(0),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => i,
            None => n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e9).map(|f| f as i64)?,
        },
        Some(Value::String(s)) if s.trim().is_empty() => return Some(0),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok()?,
        Some(_) => return None,
    };
    u32::try_from(days).ok().filter(|d| *d <= MAX_DAYS)
}

/// What saving a rule did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    Added(Rule),
    Replaced(Rule),
    /// The level has a rule already and the form did not ask to replace it.
    LevelTaken,
}

/// Adds a rule, or replaces the level's rule when the input asks to.
pub fn save(input: &RuleInput) -> Result<Saved> {
    let rules = defined()?;
    let saved = match rules.iter().find(|r| r.level == input.level) {
        Some(_) if !input.replace => Saved::LevelTaken,
        Some(existing) => {
            let record = records::update_typed(ENTITY, existing.id, &input.fields(), None)?;
            Saved::Replaced(Rule::from_record(&record)?)
        }
        None => match records::insert_typed(ENTITY, &input.fields(), None) {
            Ok(record) => Saved::Added(Rule::from_record(&record)?),
            // The level is unique: someone added a rule for it since the rules were read.
            Err(tessera_sdk::Error::Conflict(_)) => Saved::LevelTaken,
            Err(e) => return Err(e),
        },
    };
    Ok(saved)
}

/// Deletes a rule; the host refuses anyone but an administrator.
pub fn delete(id: Id) -> Result<()> {
    records::delete(ENTITY, id)
}

/// The reason stored with each customer a criterion returns, in both languages: the owner
/// history shows it to everyone, whatever language they read.
pub fn release_reason(criterion: Criterion, days: u32) -> String {
    match criterion {
        Criterion::Idle => text::reason_idle(days),
        Criterion::Unwon => text::reason_unwon(days),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rule(idle_days: u32, unwon_days: u32, remind_days: u32) -> Rule {
        Rule { id: 1, level: "a".into(), idle_days, unwon_days, remind_days }
    }

    fn settings() -> Settings {
        Settings {
            daily_claim_cap: 10,
            max_held: 200,
            cooldown_days: 7,
            won_statuses: vec!["signed".into()],
            lock_tag: Some("锁定".into()),
            utc_offset_ms: 0,
        }
    }

    #[test]
    fn a_rule_selects_owned_customers_of_its_level_past_its_days_but_not_exempt_ones() {
        let now = 100 * days_ms(1);
        let s = rule(30, 90, 5).overdue(Criterion::Idle, 30, now, &settings());
        assert_eq!(
            (s.levels.as_slice(), s.idle_since, s.owned_before),
            (&["a".to_owned()][..], Some(70 * days_ms(1)), None)
        );
        assert_eq!(
            (s.exclude_statuses.as_slice(), s.exclude_tags.as_slice()),
            (&["signed".to_owned()][..], &["锁定".to_owned()][..])
        );
        let s = rule(30, 90, 5).overdue(Criterion::Unwon, 90, now, &settings());
        assert_eq!((s.idle_since, s.owned_before), (None, Some(10 * days_ms(1))));
    }

    #[test]
    fn a_reminder_selects_the_customers_due_within_its_days() {
        let now = 100 * days_ms(1);
        let s = rule(30, 0, 5).due_soon(Criterion::Idle, 30, now, &settings()).expect("a reminder");
        assert_eq!(s.idle_since, Some(75 * days_ms(1)));
        assert!(rule(30, 0, 0).due_soon(Criterion::Idle, 30, now, &settings()).is_none());
        assert!(rule(30, 0, 30).due_soon(Criterion::Idle, 30, now, &settings()).is_none());
        assert_eq!(rule(0, 90, 5).criteria(), [(Criterion::Unwon, 90)]);
    }

    #[test]
    fn the_form_is_checked_field_by_field() {
        let t = Text::new(false);
        let ok = RuleInput::parse(t, &json!({ "level": " a ", "idle_days": 30, "unwon_days": "", "remind_days": "3" }));
        assert_eq!(
            ok,
            Ok(RuleInput { level: "a".into(), idle_days: 30, unwon_days: 0, remind_days: 3, replace: false })
        );
        let fields = |input| match RuleInput::parse(t, &input) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|(f, _)| f).collect(),
        };
        assert_eq!(fields(json!({ "level": "", "idle_days": 30 })), ["level"]);
        assert_eq!(fields(json!({ "level": "a", "idle_days": 3651 })), ["idle_days"]);
        assert_eq!(fields(json!({ "level": "a", "idle_days": -1 })), ["idle_days"]);
        assert_eq!(fields(json!({ "level": "a", "idle_days": 2.5 })), ["idle_days"]);
        assert_eq!(fields(json!({ "level": "a", "idle_days": "三十" })), ["idle_days"]);
        assert_eq!(fields(json!({ "level": "a" })), ["idle_days"], "a rule needs a criterion");
        assert_eq!(fields(json!({ "level": "a", "idle_days": 30, "remind_days": 30 })), ["remind_days"]);
        assert_eq!(fields(json!({ "level": "a", "unwon_days": 10, "remind_days": 12 })), ["remind_days"]);
        assert_eq!(
            fields(json!({ "level": "a", "idle_days": 30, "remind_days": 29, "replace": true })),
            Vec::<String>::new()
        );
    }
}
