//! The call log (page `calls`, menu 来电记录): every call the user may see, newest first, paged,
//! filtered by status; and the "模拟来电 / Simulate call" form for demos (`simulate`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_sdk::records::{self, Query};
use tessera_sdk::ui::{Action, Field, Form, Outcome, Page, RenderRequest};
use tessera_sdk::{Caller, Error, Result};

use crate::call::{self, Status};
use crate::config::Settings;
use crate::listing::{self, Column, PAGE_SIZE};
use crate::simulate;
use crate::text::Text;

/// Where the page lives in the CRM.
const PAGE_LINK: &str = "/p/call-popup/calls";

/// What the log shows; it travels in the table's cursor like the missed calls' filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Filter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

impl Filter {
    fn of(request: &RenderRequest) -> Filter {
        if let Some(filter) = request.cursor().and_then(|c| serde_json::from_str::<Filter>(c).ok()) {
            return filter;
        }
        let status = request.param("status").and_then(Status::parse).map(|s| s.as_str().to_owned());
        Filter { status, after: None }
    }

    fn next(&self, after: Option<String>) -> Option<String> {
        serde_json::to_string(&Filter { after: Some(after?), ..self.clone() }).ok()
    }

    fn query(&self) -> Query {
        let mut query = Query::new(call::ENTITY);
        if let Some(status) = &self.status {
            query = query.eq("status", status.as_str());
        }
        query = query.order_by("started_at").descending(true).limit(PAGE_SIZE);
        match &self.after {
            Some(after) => query.cursor(after.as_str()),
            None => query,
        }
    }
}

/// Draws the log.
pub fn render(caller: &Caller, request: &RenderRequest) -> Result<Page> {
    let t = Text::of(caller);
    let settings = Settings::load()?;
    let filter = Filter::of(request);
    let (calls, next) = records::find_typed::<call::Call>(&filter.query())?;

    let mut options = vec![(String::new(), t.all_statuses())];
    options.extend(Status::ALL.iter().map(|s| (s.as_str().to_owned(), t.status(*s))));
    let mut page = Page::new(t.calls_title())
        .form(Form::new(Action::new("filter", t.filter())).field(
            Field::select("status", t.status_label(), options).value(filter.status.clone().unwrap_or_default()),
        ));
    page = if calls.is_empty() && filter.after.is_none() {
        page.notice("info", t.no_calls())
    } else {
        let columns = [
            Column::Time,
            Column::Number,
            Column::Customer,
            Column::Agent,
            Column::Extension,
            Column::Status,
            Column::Duration,
            Column::Source,
            Column::Logged,
        ];
        page.table(
            listing::table(t, &settings, &columns, &calls)?.row_action(listing::open_action(t)).next(filter.next(next)),
        )
    };
    Ok(simulate::section(page, t))
}

/// The page's actions.
pub fn act(caller: &Caller, action: &str, argument: Option<&str>, input: &Value, now: i64) -> Result<Outcome> {
    match action {
        "filter" => {
            let status = input.get("status").and_then(Value::as_str).and_then(Status::parse);
            Ok(Outcome::redirect(match status {
                Some(status) => format!("{PAGE_LINK}?status={}", status.as_str()),
                None => PAGE_LINK.to_owned(),
            }))
        }
        "simulate" => simulate::act(caller, input, now),
        "open" => listing::open(argument),
        _ => Err(Error::not_found(format!("no action {action:?} on the call log"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_statuses_filter() {
        let mut request = RenderRequest::new("calls");
        request.params.push(("status".into(), "missed".into()));
        assert_eq!(Filter::of(&request).status.as_deref(), Some("missed"));
        let query = Filter::of(&request).query();
        assert_eq!((query.where_.len(), query.where_[0].value.as_str()), (1, "\"missed\""));
        let mut request = RenderRequest::new("calls");
        request.params.push(("status".into(), "'; drop".into()));
        assert_eq!(Filter::of(&request), Filter::default());
        assert!(Filter::default().query().where_.is_empty());
    }
}
