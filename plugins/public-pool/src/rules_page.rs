//! The rules page (`rules`, menu 公海规则): the recycle rules per customer level and the pools per
//! department, with forms to add them, and a button that runs the recycle at once. Who may add
//! or delete rules and pools is the host's decision: the page is for administrators only
//! (`admin = true`), and pools and rules are reference records only administrators change.

use serde_json::Value;
use tessera_sdk::directory;
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, Table};
use tessera_sdk::{Caller, Error, Id, Result};

use crate::config::Settings;
use crate::pools::{self, Pool};
use crate::recycle::{self, Reminders};
use crate::rules::{self, Rule, RuleInput, Saved};
use crate::text::Text;

/// Draws the rules page.
pub fn render(caller: &Caller) -> Result<Page> {
    let t = Text::of(caller);
    let settings = Settings::load()?;
    let rules = rules::defined()?;
    let pools = pools::defined()?;
    let departments = directory::departments()?;

    let mut page = Page::new(t.rules_title()).heading(t.rules_heading()).text(t.rules_explained());
    page = if rules.is_empty() { page.notice("info", t.no_rules()) } else { page.table(rules_table(t, &rules)) };
    page = page.form(rule_form(t));

    page = page.heading(t.pools_heading()).text(t.pools_explained());
    page = if pools.is_empty() {
        page.notice("info", t.no_pools())
    } else {
        page.table(pools_table(t, &pools, &departments))
    };
    page = page.form(
        Form::new(Action::primary("add-pool", t.add_pool()))
            .field(Field::text("name", t.name()).required())
            .field(Field::select("department", t.department(), pools::department_options(&departments)).required()),
    );

    let exempt = settings.won_statuses.join(", ");
    page = page.heading(t.settings_heading()).key_values([
        (t.setting_daily_cap(), cap(t, settings.daily_claim_cap)),
        (t.setting_max_held(), cap(t, settings.max_held)),
        (t.setting_cooldown(), settings.cooldown_days.to_string()),
        (t.setting_won(), exempt),
        (t.setting_lock_tag(), settings.lock_tag.clone().unwrap_or_default()),
    ]);
    Ok(page.actions([Action::danger("recycle-now", t.recycle_now())]))
}

fn cap(t: Text, value: u32) -> String {
    if value == 0 { t.no_limit().to_owned() } else { value.to_string() }
}

fn rules_table(t: Text, rules: &[Rule]) -> Table {
    let table = Table::new()
        .column("level", t.level())
        .column("idle_days", t.idle_days())
        .column("unwon_days", t.unwon_days())
        .column("remind_days", t.remind_days());
    let days = |d: u32| if d == 0 { t.off().to_owned() } else { d.to_string() };
    rules
        .iter()
        .fold(table, |table, r| {
            table.row(r.id.to_string(), [r.level.clone(), days(r.idle_days), days(r.unwon_days), days(r.remind_days)])
        })
        .row_action(Action::danger("delete-rule", t.delete()))
}

fn rule_form(t: Text) -> Form {
    let days = |name: &str, label: String, help: String| Field::number(name, label).value(0).help(help);
    Form::new(Action::primary("add-rule", t.save_rule()))
        .field(Field::text("level", t.level()).required().help(t.level_help()))
        .field(days("idle_days", t.idle_days(), t.idle_days_help()))
        .field(days("unwon_days", t.unwon_days(), t.unwon_days_help()))
        .field(days("remind_days", t.remind_days(), t.remind_days_help()))
        .field(Field::checkbox("replace", t.replace_rule()))
}

fn pools_table(t: Text, pools: &[Pool], departments: &[directory::Department]) -> Table {
    let table = Table::new().column("name", t.name()).column("department", t.department());
    pools
        .iter()
        .fold(table, |table, p| {
            let department = match departments.iter().find(|d| d.id == p.department) {
                Some(d) => t.with_subdepartments(&d.name),
                None => t.missing_department(p.department),
            };
            table.row(p.id.to_string(), [p.name.clone(), department])
        })
        .row_action(Action::danger("delete-pool", t.delete()))
}

/// The page's actions.
pub fn act(caller: &Caller, action: &str, argument: Option<&str>, input: &Value, now: i64) -> Result<Outcome> {
    let t = Text::of(caller);
    let outcome = match action {
        "add-rule" => add_rule(t, input),
        "delete-rule" => with_id(t, argument, |id| rules::delete(id).map(|()| Outcome::success(t.rule_deleted()))),
        "add-pool" => add_pool(t, input),
        "delete-pool" => with_id(t, argument, |id| pools::delete(id).map(|()| Outcome::success(t.pool_deleted()))),
        "recycle-now" => {
            let settings = Settings::load()?;
            let rules = rules::defined()?;
            let released = recycle::run(t, &settings, &rules, now, Reminders::Skip)?;
            Ok(Outcome::success(t.recycled(released)))
        }
        _ => return Err(Error::not_found(format!("no action {action:?} on the rules page"))),
    };
    // What the host refused to this user (records they may not change) is a notice, not a fault.
    match outcome {
        Err(Error::Denied(_) | Error::NotFound(_)) => Ok(Outcome::error(t.not_allowed())),
        other => other,
    }
}

fn with_id(t: Text, argument: Option<&str>, then: impl FnOnce(Id) -> Result<Outcome>) -> Result<Outcome> {
    match argument.and_then(|a| a.trim().parse::<Id>().ok()) {
        Some(id) => then(id),
        None => Ok(Outcome::error(t.not_allowed())),
    }
}

fn add_rule(t: Text, input: &Value) -> Result<Outcome> {
    let rule = match RuleInput::parse(t, input) {
        Ok(rule) => rule,
        Err(errors) => return Ok(Outcome::Invalid(errors)),
    };
    Ok(match rules::save(&rule)? {
        Saved::Added(r) => Outcome::success(t.rule_added(&r.level)),
        Saved::Replaced(r) => Outcome::success(t.rule_replaced(&r.level)),
        Saved::LevelTaken => Outcome::invalid([("level", t.level_has_a_rule(&rule.level))]),
    })
}

fn add_pool(t: Text, input: &Value) -> Result<Outcome> {
    let name = input.get("name").and_then(Value::as_str).map(str::trim).unwrap_or_default();
    let department = match input.get("department") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(("name", t.pool_name_required()));
    }
    let departments = directory::departments()?;
    match department {
        Some(d) if departments.iter().any(|dept| dept.id == d) => {
            if pools::defined()?.iter().any(|p| p.department == d) {
                errors.push(("department", t.department_has_a_pool()));
            }
        }
        _ => errors.push(("department", t.choose_department())),
    }
    if !errors.is_empty() {
        return Ok(Outcome::invalid(errors));
    }
    let Some(department) = department else { return Ok(Outcome::invalid([("department", t.choose_department())])) };
    match pools::create(name, department) {
        Ok(pool) => Ok(Outcome::success(t.pool_added(&pool.name))),
        Err(Error::Conflict(_)) => Ok(Outcome::invalid([("department", t.department_has_a_pool())])),
        Err(e) => Err(e),
    }
}
