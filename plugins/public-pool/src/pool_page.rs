//! The pool page (`pool`, menu 客户公海): the user's stats, a filter (pool, level, quick search),
//! the customers waiting in the user's pools with a claim button on each, and, when a reminder
//! links here (`due=1`), the user's own customers about to return to the pool.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_sdk::customers::{self, Customer, Selection};
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, RenderRequest, Table};
use tessera_sdk::{Caller, Id, Result};

use crate::config::Settings;
use crate::pools::Reach;
use crate::rules::{self, Rule};
use crate::stats;
use crate::text::Text;

/// Customers per page of the table.
const PAGE_SIZE: u32 = 50;
/// Where the page lives in the CRM.
const PAGE_LINK: &str = "/p/public-pool/pool";

/// What the table shows: the filter and the host's cursor. The host's "next page" link carries
/// only `cursor`, so the filter travels inside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Filter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pool: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    q: Option<String>,
    /// The host's cursor for the page after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

impl Filter {
    /// The filter of a render: from the cursor when paging, else from the page's parameters.
    fn of(request: &RenderRequest) -> Filter {
        if let Some(filter) = request.cursor().and_then(|c| serde_json::from_str::<Filter>(c).ok()) {
            return filter;
        }
        let text = |name: &str| request.param(name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        Filter { pool: text("pool").and_then(|p| p.parse().ok()), level: text("level"), q: text("q"), after: None }
    }

    /// The filter a submitted filter form gives.
    fn from_input(input: &Value) -> Filter {
        let text = |name: &str| match input.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Filter { pool: text("pool").and_then(|p| p.parse().ok()), level: text("level"), q: text("q"), after: None }
    }

    /// The selection of one page of the pool.
    fn select(&self, pool: Selection) -> Selection {
        let mut selection = pool.limit(PAGE_SIZE);
        if let Some(level) = &self.level {
            selection = selection.levels(&[level.as_str()]);
        }
        if let Some(q) = &self.q {
            selection = selection.text(q.as_str());
        }
        if let Some(after) = &self.after {
            selection = selection.cursor(after.as_str());
        }
        selection
    }

    /// The cursor of the page after, carrying the filter.
    fn next(&self, after: Option<String>) -> Option<String> {
        let next = Filter { after: Some(after?), ..self.clone() };
        serde_json::to_string(&next).ok()
    }

    /// The page's link with this filter.
    fn link(&self) -> String {
        let mut params = Vec::new();
        if let Some(pool) = self.pool {
            params.push(format!("pool={pool}"));
        }
        for (name, value) in [("level", &self.level), ("q", &self.q)] {
            if let Some(value) = value {
                params.push(format!("{name}={}", encode_component(value)));
            }
        }
        if params.is_empty() { PAGE_LINK.to_owned() } else { format!("{PAGE_LINK}?{}", params.join("&")) }
    }
}

/// Percent-encodes a query value (UTF-8), leaving only unreserved characters as they are.
fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Draws the pool page.
pub fn render(caller: &Caller, request: &RenderRequest, now: i64) -> Result<Page> {
    let t = Text::of(caller);
    let settings = Settings::load()?;
    let reach = Reach::of(caller.user_id)?;
    let rules = rules::defined()?;
    let filter = Filter::of(request);
    let mut page = Page::new(t.pool_title()).stats(stats::stats(t, caller, &settings, &reach, &rules, now)?);

    if request.param("due") == Some("1")
        && let Some(me) = caller.user_id
    {
        page = due_section(page, t, me, &settings, &reach, &rules, now)?;
    }

    page = page.form(filter_form(t, &reach, &filter));
    let Some(pool) = reach.customers(filter.pool) else {
        return Ok(page.notice("info", t.no_pool_for_you()));
    };
    let found = customers::select(&filter.select(pool))?;
    if found.items.is_empty() && filter.after.is_none() {
        page = page.notice("info", t.pool_empty());
    }
    let table = customer_table(t, &settings, &reach, &found.items)
        .row_action(Action::primary("claim", t.claim()))
        .next(filter.next(found.next));
    Ok(page.table(table))
}

/// The filter form; submitting it comes back to the page with the filter in its link.
fn filter_form(t: Text, reach: &Reach, filter: &Filter) -> Form {
    let mut form = Form::new(Action::new("filter", t.filter()));
    if reach.pools.len() > 1 {
        let mut options = vec![(String::new(), t.all_my_pools())];
        options.extend(reach.pools.iter().map(|p| (p.id.to_string(), p.name.clone())));
        let chosen = filter.pool.map(|p| p.to_string()).unwrap_or_default();
        form = form.field(Field::select("pool", t.pool(), options).value(chosen));
    }
    form.field(Field::text("level", t.level()).value(filter.level.clone().unwrap_or_default()))
        .field(Field::text("q", t.search()).value(filter.q.clone().unwrap_or_default()).help(t.search_help()))
}

/// The filter form's submit: back to the page, filtered.
pub fn filter(input: &Value) -> Outcome {
    Outcome::redirect(Filter::from_input(input).link())
}

/// A table of customers: code, name, level, status, department, last follow-up.
pub fn customer_table(t: Text, settings: &Settings, reach: &Reach, items: &[Customer]) -> Table {
    let departments = reach.department_names();
    let table = Table::new()
        .column("code", t.code())
        .column("name", t.name())
        .column("level", t.level())
        .column("status", t.status())
        .column("department", t.department())
        .column("last_followed_up_at", t.last_follow_up());
    items.iter().fold(table, |table, c| {
        let department = c.department_id.and_then(|d| departments.get(&d).cloned()).unwrap_or_default();
        let followed = match c.last_followed_up_at {
            Some(at) => settings.format_time(at),
            None => t.never().to_owned(),
        };
        table.row(
            c.id.to_string(),
            [
                c.code.clone(),
                c.name.clone(),
                c.level.clone().unwrap_or_default(),
                c.status.clone().unwrap_or_default(),
                department,
                followed,
            ],
        )
    })
}

/// The user's customers that the rules will return to the pool within their reminder windows.
fn due_section(
    page: Page,
    t: Text,
    me: Id,
    settings: &Settings,
    reach: &Reach,
    rules: &[Rule],
    now: i64,
) -> Result<Page> {
    let mut page = page.heading(t.due_heading());
    let mut any = false;
    for rule in rules {
        for (criterion, days) in rule.criteria() {
            let Some(selection) = rule.due_soon(criterion, days, now, settings) else { continue };
            let found = customers::select(&selection.owners(&[me]).limit(PAGE_SIZE))?;
            if found.items.is_empty() {
                continue;
            }
            any = true;
            page = page.text(t.due_rule(&rule.level, criterion, days, rule.remind_days)).table(customer_table(
                t,
                settings,
                reach,
                &found.items,
            ));
        }
    }
    Ok(if any { page } else { page.notice("info", t.nothing_due()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_travels_in_the_cursor() {
        let filter = Filter { pool: Some(3), level: Some("a".into()), q: Some("华为".into()), after: None };
        let cursor = filter.next(Some("host-cursor".into())).expect("a next page");
        let mut request = RenderRequest::new("pool");
        request.params.push(("cursor".into(), cursor));
        assert_eq!(Filter::of(&request), Filter { after: Some("host-cursor".into()), ..filter.clone() });
        assert_eq!(filter.next(None), None);
    }

    #[test]
    fn the_filter_reads_the_page_parameters_and_the_form() {
        let mut request = RenderRequest::new("pool");
        request.params.extend([("pool".into(), "7".into()), ("level".into(), " ".into()), ("q".into(), "王".into())]);
        assert_eq!(Filter::of(&request), Filter { pool: Some(7), level: None, q: Some("王".into()), after: None });
        let input = serde_json::json!({ "pool": "", "level": "b", "q": "上海 科技&" });
        assert_eq!(
            filter(&input),
            Outcome::redirect("/p/public-pool/pool?level=b&q=%E4%B8%8A%E6%B5%B7%20%E7%A7%91%E6%8A%80%26")
        );
        assert_eq!(filter(&serde_json::json!({})), Outcome::redirect("/p/public-pool/pool"));
    }
}
