//! Missed calls (page `missed`, menu 未接来电): calls that rang and were never answered, newest
//! first, until someone calls back and marks them handled. Who sees which is the host's decision
//! on the records (an agent their own, an administrator all); a filter shows handled ones too.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_sdk::records::{self, Query};
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, RenderRequest};
use tessera_sdk::{Caller, Result};

use crate::call::{self, Status};
use crate::config::Settings;
use crate::listing::{self, Column, PAGE_SIZE};
use crate::text::Text;

/// Where the page lives in the CRM.
const PAGE_LINK: &str = "/p/call-popup/missed";

/// What the list shows. The host's "next page" link carries only `cursor`, so the filter
/// travels inside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Filter {
    /// Handled calls too.
    #[serde(default)]
    all: bool,
    /// The host's cursor for the page after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

impl Filter {
    fn of(request: &RenderRequest) -> Filter {
        if let Some(filter) = request.cursor().and_then(|c| serde_json::from_str::<Filter>(c).ok()) {
            return filter;
        }
        Filter { all: request.param("show") == Some("all"), after: None }
    }

    fn next(&self, after: Option<String>) -> Option<String> {
        serde_json::to_string(&Filter { after: Some(after?), ..self.clone() }).ok()
    }

    fn query(&self) -> Query {
        let mut query = Query::new(call::ENTITY).eq("status", Status::Missed.as_str());
        if !self.all {
            query = query.eq("handled", false);
        }
        query = query.order_by("started_at").descending(true).limit(PAGE_SIZE);
        match &self.after {
            Some(after) => query.cursor(after.as_str()),
            None => query,
        }
    }
}

/// Draws the list.
pub fn render(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let settings = Settings::load()?;
    let filter = Filter::of(request);
    let (calls, next) = records::find_typed::<call::Call>(&filter.query())?;
    let show = if filter.all { "all" } else { "open" };
    let mut page = Page::new(t.missed_title_page()).form(
        Form::new(Action::new("filter", t.filter()))
            .field(Field::select("show", t.show(), [("open", t.show_open()), ("all", t.show_all())]).value(show)),
    );
    if calls.is_empty() && filter.after.is_none() {
        return Ok(page.notice("info", t.no_missed()));
    }
    let mut columns = vec![Column::Time, Column::Number, Column::Customer, Column::Agent];
    if filter.all {
        columns.push(Column::Handled);
    }
    let table = listing::table(t, &settings, &columns, &calls)?
        .row_action(listing::called_back_action(t).style("primary"))
        .row_action(listing::open_action(t))
        .next(filter.next(next));
    page = page.table(table);
    Ok(page)
}

/// The page's actions.
pub fn act(caller: &Caller, action: &str, argument: Option<&str>, input: &Value) -> Result<Outcome> {
    match action {
        "filter" => {
            let all = input.get("show").and_then(Value::as_str) == Some("all");
            Ok(Outcome::redirect(if all { format!("{PAGE_LINK}?show=all") } else { PAGE_LINK.to_owned() }))
        }
        "called-back" => listing::mark_handled(caller, argument),
        "open" => listing::open(argument),
        _ => Err(tessera_sdk::Error::not_found(format!("no action {action:?} on the missed calls"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_travels_in_the_cursor() {
        let mut request = RenderRequest::new("missed");
        request.params.push(("show".into(), "all".into()));
        let filter = Filter::of(&request);
        assert!(filter.all);
        let cursor = filter.next(Some("host-cursor".into())).expect("a next page");
        let paged = RenderRequest { params: vec![("cursor".into(), cursor)], ..RenderRequest::new("missed") };
        assert_eq!(Filter::of(&paged), Filter { all: true, after: Some("host-cursor".into()) });
        assert_eq!(filter.next(None), None);
        assert_eq!(Filter::of(&RenderRequest::new("missed")), Filter::default());
    }

    #[test]
    fn the_list_asks_for_missed_calls_not_yet_handled_newest_first() {
        let query = Filter::default().query();
        let conditions: Vec<(&str, &str)> = query.where_.iter().map(|c| (c.field.as_str(), c.value.as_str())).collect();
        assert_eq!(conditions, [("status", "\"missed\""), ("handled", "false")]);
        assert_eq!((query.order_by.as_deref(), query.descending), (Some("started_at"), true));
        assert_eq!(Filter { all: true, after: None }.query().where_.len(), 1);
    }
}
